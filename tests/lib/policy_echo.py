#!/usr/bin/env python3
"""policy_echo.py: a Postfix policy server for harness checks, on 127.0.0.1 only.

Usage: policy_echo.py PORTFILE LOGFILE [--action ACTION] [--port PORT]

Binds 127.0.0.1 on a free port (or on PORT, e.g. to restart it with another
action where Postfix already points) and writes the port number to PORTFILE
(written to a temporary name and renamed, so a reader that sees the file sees
the whole number). Speaks the Postfix SMTPD policy delegation protocol: a
request is "name=value" lines ended by an empty line; each is answered with
"action=ACTION" and an empty line (ACTION defaults to DUNNO; e.g. --action
"REJECT locked" or --action HOLD). A connection stays open for any number of
requests, as Postfix expects (it reuses the connection for the next RCPT and
the next session), until the client closes it.

Each request is appended to LOGFILE as one JSON line, written and closed before
the answer goes out (so a client that got its answer finds the line):

  {"_conn": 1, "_n": 1, "request": "smtpd_access_policy",
   "protocol_state": "RCPT", "sasl_username": "alice@customer.example", ...}

holding every attribute as sent (a repeated name keeps its last value), plus
"_conn" (the connection's number, from 1) and "_n" (the request's number
overall, from 1). Postfix attribute names never begin with "_". Values are
decoded as UTF-8 (invalid bytes replaced). A line without "=" is logged under
"_bad" (a list) and otherwise ignored. Runs until killed (SIGTERM/SIGINT exit
0).
"""
import argparse
import json
import os
import signal
import socket
import socketserver
import sys
import threading


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("portfile")
    ap.add_argument("logfile")
    ap.add_argument("--action", default="DUNNO")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    if "\n" in args.action or "\r" in args.action:
        ap.error("--action must be one line")
    answer = ("action=%s\n\n" % args.action).encode()
    lock = threading.Lock()
    state = {"conn": 0, "n": 0}

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            with lock:
                state["conn"] += 1
                conn = state["conn"]
            attrs, bad = {}, []
            while True:
                line = self.rfile.readline()
                if not line:  # client closed (a partial request is dropped)
                    return
                line = line.rstrip(b"\r\n").decode("utf-8", "replace")
                if line:
                    name, sep, value = line.partition("=")
                    if sep:
                        attrs[name] = value
                    else:
                        bad.append(line)
                    continue
                with lock:
                    state["n"] += 1
                    rec = {"_conn": conn, "_n": state["n"]}
                    rec.update(attrs)
                    if bad:
                        rec["_bad"] = bad
                    with open(args.logfile, "a", encoding="utf-8") as f:
                        f.write(json.dumps(rec, sort_keys=True) + "\n")
                try:
                    self.wfile.write(answer)
                    self.wfile.flush()
                except OSError:
                    return
                attrs, bad = {}, []

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True
        address_family = socket.AF_INET

    srv = Server(("127.0.0.1", args.port), Handler)
    port = srv.server_address[1]
    tmp = args.portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, args.portfile)

    def stop(signum, frame):
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        srv.serve_forever()
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""webhook_receiver.py: a webhook receiver for tests, on 127.0.0.1 only.

Usage: webhook_receiver.py PORTFILE LOGFILE [--secret S] [--status CODE] [--fail-first N]

Binds 127.0.0.1 on a free port and writes the port number to PORTFILE (written
to a temporary name and renamed, so a reader that sees the file sees the whole
number). Each POST is appended to LOGFILE as one JSON line, written and closed
before the answer goes out (so a client that got its answer finds the line):

  {"n": 1, "path": "/hook", "headers": {"content-type": "...", ...},
   "body": "...", "signature_ok": true, "status": 200}

headers has lower-cased names (a repeated header keeps its last value); body is
the request body decoded as UTF-8 (invalid bytes replaced). signature_ok is
null without --secret, else whether X-Abusedesk-Signature equals
"sha256=" + hex HMAC-SHA256(S, X-Abusedesk-Timestamp + "." + body bytes).
The answer is CODE (default 200), except that with --fail-first N the first N
requests get 503. Other methods get 405 and are not logged. Runs until killed.
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("portfile")
    ap.add_argument("logfile")
    ap.add_argument("--secret", default=None)
    ap.add_argument("--status", type=int, default=200)
    ap.add_argument("--fail-first", type=int, default=0)
    args = ap.parse_args()
    state = {"n": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):  # keep test output quiet
            pass

        def answer(self, status, text):
            data = (text + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n > 0 else b""
            state["n"] += 1
            sig_ok = None
            if args.secret is not None:
                ts = self.headers.get("X-Abusedesk-Timestamp", "")
                mac = hmac.new(args.secret.encode(), ts.encode() + b"." + raw, hashlib.sha256)
                want = "sha256=" + mac.hexdigest()
                got = self.headers.get("X-Abusedesk-Signature", "")
                sig_ok = hmac.compare_digest(got, want)
            status = 503 if state["n"] <= args.fail_first else args.status
            rec = {
                "n": state["n"],
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": raw.decode("utf-8", errors="replace"),
                "signature_ok": sig_ok,
                "status": status,
            }
            with open(args.logfile, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            self.answer(status, "ok" if 200 <= status < 300 else "refused by test receiver")

        def do_GET(self):
            self.answer(405, "POST only")

        do_PUT = do_DELETE = do_GET

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    tmp = args.portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.portfile)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

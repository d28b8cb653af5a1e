#!/usr/bin/env python3
"""policy_fill.py: fill a Postfix policy server with many distinct senders.

Part of bench/policy.sh (the memory check). Sends exactly ONE minimal RCPT-stage
policy request (SMTPD_POLICY_README protocol) per distinct sasl_username
user0 .. user<U-1>, as fast as it can, over a few persistent connections (one
process each, so the GIL does not serialise them). The server's peak RSS can
then be read from /proc/PID/status (VmHWM) by the caller.

Why not policybench -u 1000000: policybench draws users from Zipf(1), so after
N requests only about N/H(U) users with H(1e6) ~ 14.4 have had a fair chance to
appear; covering most of 1,000,000 users takes 20-30 million requests (minutes
of load and ~100 MB of latency samples). This tool covers each user exactly
once: 1,000,000 requests.

Each request names a distinct sasl_username, sender (userK@fill.example) and
client_address (10.x.y.z from K, distinct below 16.7 million), which is the
worst case for a server that keeps state per login and per client address.

Usage: policy_fill.py -p PORT [-H 127.0.0.1] [-u USERS] [-c CONNS] [-t SECONDS]
                      [-d DEPTH] [--first K]
  -d DEPTH  requests written before reading their replies (1 = strictly one
            request at a time, as Postfix does; default 1)
Prints one line:
  FILL users=U sent=S replies=R errors=E wall_s=W rps=X complete=yes|no
  ACTIONS dunno=... defer_if_permit=...
Exit status: 0 every user got an answer, 2 stopped at -t before the end,
1 connection or protocol error.
"""
import argparse
import json
import os
import socket
import sys
import time

REQ = (
    "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
    "client_address=10.{a}.{b}.{c}\nhelo_name=fill{k}.example\n"
    "sender=user{k}@fill.example\nrecipient=rcpt@dest.example.org\n"
    "recipient_count=0\ninstance=f{k}\nsize=1000\nsasl_method=plain\n"
    "sasl_username=user{k}\n\n"
)


def request(k):
    return REQ.format(a=(k >> 16) & 255, b=(k >> 8) & 255, c=k & 255, k=k).encode()


def worker(args, idx, deadline, out_fd):
    """Send the users idx, idx+C, idx+2C, ... on one connection; report JSON."""
    stats = {"sent": 0, "replies": 0, "errors": 0, "complete": False, "actions": {}, "err": ""}
    acts = stats["actions"]
    try:
        s = socket.create_connection((args.host, args.port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ks = range(args.first + idx, args.first + args.users, args.conns)
        pos, n = 0, len(ks)
        tail = b""
        while pos < n:
            if time.monotonic() >= deadline:
                break
            batch = ks[pos:pos + args.depth]
            s.sendall(b"".join(request(k) for k in batch))
            stats["sent"] += len(batch)
            want = len(batch)
            while want > 0:
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                data = tail + chunk
                parts = data.split(b"\n\n")
                tail = parts.pop()          # incomplete reply (or b"")
                for p in parts:
                    want -= 1
                    stats["replies"] += 1
                    i = p.find(b"action=")
                    w = p[i + 7:].split(None, 1)[0].lower().decode("ascii", "replace") if i >= 0 else "other"
                    acts[w] = acts.get(w, 0) + 1
                if want < 0:
                    raise ValueError("more replies than requests")
            pos += len(batch)
        stats["complete"] = pos >= n
        s.close()
    except (OSError, ValueError) as e:
        stats["errors"] += 1
        stats["err"] = "conn %d: %s" % (idx, e)
    os.write(out_fd, json.dumps(stats).encode())
    os.close(out_fd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-H", "--host", default="127.0.0.1")
    ap.add_argument("-p", "--port", type=int, required=True)
    ap.add_argument("-u", "--users", type=int, default=1000000)
    ap.add_argument("-c", "--conns", type=int, default=4)
    ap.add_argument("-t", "--seconds", type=float, default=90.0)
    ap.add_argument("-d", "--depth", type=int, default=1)
    ap.add_argument("--first", type=int, default=0, help="first user number (default 0)")
    args = ap.parse_args()
    if args.users < 1 or args.conns < 1 or args.depth < 1 or args.seconds <= 0:
        ap.error("users, conns, depth and seconds must be positive")
    args.conns = min(args.conns, args.users)

    t0 = time.monotonic()
    deadline = t0 + args.seconds
    kids = []
    for idx in range(args.conns):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                worker(args, idx, deadline, w)
            finally:
                os._exit(0)
        os.close(w)
        kids.append((pid, r))
    tot = {"sent": 0, "replies": 0, "errors": 0}
    acts, complete, errs = {}, True, []
    for pid, r in kids:
        buf = b""
        while True:
            b = os.read(r, 65536)
            if not b:
                break
            buf += b
        os.close(r)
        os.waitpid(pid, 0)
        try:
            st = json.loads(buf.decode())
        except ValueError:
            st = {"sent": 0, "replies": 0, "errors": 1, "complete": False, "actions": {},
                  "err": "worker %d died" % pid}
        for k in tot:
            tot[k] += st[k]
        for a, c in st["actions"].items():
            acts[a] = acts.get(a, 0) + c
        complete = complete and st["complete"]
        if st["err"]:
            errs.append(st["err"])
    wall = time.monotonic() - t0
    print("FILL users=%d sent=%d replies=%d errors=%d wall_s=%.3f rps=%.1f complete=%s" % (
        args.users, tot["sent"], tot["replies"], tot["errors"], wall,
        tot["replies"] / wall if wall > 0 else 0.0, "yes" if complete else "no"))
    print("ACTIONS" + "".join(" %s=%d" % kv for kv in sorted(acts.items())))
    for e in errs[:5]:
        print("error: " + e, file=sys.stderr)
    if tot["errors"]:
        return 1
    return 0 if complete else 2


if __name__ == "__main__":
    sys.exit(main())

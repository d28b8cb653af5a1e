#!/usr/bin/env python3
"""policy_attack.py: clients that try to starve a Postfix policy server, and a
well-behaved client that measures what is left for it. Used by
tests/policy_attack.sh and bench/policy.sh. Loopback only; every mode is
bounded in connections and seconds.

Modes (HOST PORT first; PORT may be unix:PATH):
  hog N SECONDS [--from ADDR,ADDR...]
      opens N connections (round robin over the source addresses) and holds
      them without a byte; prints HOG opened=K refused=R closed_by_server=C
  slowloris N SECONDS [--every S] [--from ADDR]
      N connections that each start a request and then send one more byte
      every S seconds (default 1), reconnecting when closed; prints
      SLOWLORIS connections=K closed_by_server=C max_alive_s=X
  noread N SECONDS [--user NAME] [--from ADDR]
      N connections that send requests as fast as they can and never read an
      answer, reconnecting when closed; prints
      NOREAD sent=S closed_by_server=C max_alive_s=X
  probe COUNT [--per-conn K] [--timeout S] [--from ADDR] [--user NAME]
      the well-behaved client: COUNT requests, one at a time, K per connection
      (new connection after K; default all on one), each waited for at most S
      seconds (default 5); prints
      PROBE ok=N failed=F p50_ms=A p99_ms=B max_ms=C first_error=...
  burst USER COUNT [--depth D]
      COUNT requests for USER (distinct instance each), D written before
      their answers are read (default 500); prints the count of each answer:
      BURST dunno=.. hold=.. reject=.. other=.. last=ACTION
  flood COUNT [--prefix P]
      one request each for COUNT distinct sasl_usernames P0..P<COUNT-1>,
      pipelined; prints FLOOD sent=N answered=M
  ask USER [INSTANCE]
      one request; prints the action line
"""
import argparse
import socket
import sys
import threading
import time

REQ = ("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
       "client_address=198.51.100.{c}\nclient_name=client.example\n"
       "helo_name=client.example\nsasl_method=PLAIN\nsasl_username={user}\n"
       "sender={user}\nrecipient=friend{n}@example.org\ninstance={inst}\n"
       "recipient_count=0\nsize=1234\n\n")


def req(user, n, inst=None):
    return REQ.format(c=n % 250 + 1, user=user, n=n,
                      inst=inst if inst is not None else "i%d" % n).encode()


def connect(host, port, src=None, timeout=5.0):
    if str(port).startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(str(port)[5:])
        return s
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if src:
        s.bind((src, 0))
    s.connect((host, int(port)))
    return s


def read_answer(s, buf):
    """One answer (up to the empty line) from s; buf is a bytearray of leftovers."""
    while True:
        i = buf.find(b"\n\n")
        if i >= 0:
            a = bytes(buf[:i])
            del buf[:i + 2]
            return a.decode(errors="replace")
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed by the server")
        buf += d


def closed_by_peer(s):
    """True when the server closed s (EOF or reset), without blocking."""
    try:
        s.setblocking(False)
        d = s.recv(1)
        return d == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        s.setblocking(True)


def srcs(a):
    return a.split(",") if a else [None]


def mode_hog(a):
    socks, refused = [], 0
    addrs = srcs(a.source)
    for i in range(a.n):
        try:
            socks.append(connect(a.host, a.port, addrs[i % len(addrs)]))
        except OSError:
            refused += 1
    time.sleep(0.2)
    # A connection the server refused at once reads EOF now.
    early = [s for s in socks if closed_by_peer(s)]
    end = time.time() + a.seconds
    while time.time() < end:
        time.sleep(0.1)
    closed = sum(1 for s in socks if closed_by_peer(s))
    print("HOG opened=%d refused=%d closed_at_once=%d closed_by_server=%d"
          % (len(socks), refused, len(early), closed))
    for s in socks:
        s.close()


def mode_slowloris(a):
    stats = {"conns": 0, "closed": 0, "max_alive": 0.0}
    lock = threading.Lock()
    end = time.time() + a.seconds

    def one():
        while time.time() < end:
            try:
                s = connect(a.host, a.port, a.source)
            except OSError:
                time.sleep(0.2)
                continue
            with lock:
                stats["conns"] += 1
            t0 = time.time()
            data = req("slow@example.net", 1)
            k = 0
            try:
                while time.time() < end and k < len(data) - 1:
                    s.sendall(data[k:k + 1])
                    k += 1
                    # wait for the next byte, but notice a close at once
                    t_next = time.time() + a.every
                    while time.time() < min(t_next, end):
                        if closed_by_peer(s):
                            raise ConnectionError()
                        time.sleep(0.05)
            except OSError:
                with lock:
                    stats["closed"] += 1
                    stats["max_alive"] = max(stats["max_alive"], time.time() - t0)
            s.close()

    th = [threading.Thread(target=one, daemon=True) for _ in range(a.n)]
    for t in th:
        t.start()
    for t in th:
        t.join(a.seconds + 5)
    print("SLOWLORIS connections=%d closed_by_server=%d max_alive_s=%.1f"
          % (stats["conns"], stats["closed"], stats["max_alive"]))


def mode_noread(a):
    stats = {"sent": 0, "closed": 0, "max_alive": 0.0}
    lock = threading.Lock()
    end = time.time() + a.seconds

    def one(k):
        n = 0
        while time.time() < end:
            try:
                s = connect(a.host, a.port, a.source)
            except OSError:
                time.sleep(0.2)
                continue
            s.settimeout(0.5)
            t0 = time.time()
            batch = b"".join(req(a.user, n + i) for i in range(50))
            try:
                while time.time() < end:
                    try:
                        s.sendall(batch)
                    except socket.timeout:
                        if closed_by_peer(s):
                            raise ConnectionError()
                        continue
                    n += 50
                    with lock:
                        stats["sent"] += 50
            except OSError:
                with lock:
                    stats["closed"] += 1
                    stats["max_alive"] = max(stats["max_alive"], time.time() - t0)
            s.close()

    th = [threading.Thread(target=one, args=(k,), daemon=True) for k in range(a.n)]
    for t in th:
        t.start()
    for t in th:
        t.join(a.seconds + 5)
    print("NOREAD sent=%d closed_by_server=%d max_alive_s=%.1f"
          % (stats["sent"], stats["closed"], stats["max_alive"]))


def mode_probe(a):
    lat, failed, first_err = [], 0, ""
    s, buf, on_conn = None, bytearray(), 0
    deadline = time.time() + a.count * a.timeout + 10
    i = 0
    while i < a.count and time.time() < deadline:
        try:
            if s is None or on_conn >= a.per_conn:
                if s is not None:
                    s.close()
                s, buf, on_conn = None, bytearray(), 0
                t0 = time.perf_counter()
                s = connect(a.host, a.port, a.source, a.timeout)
            else:
                t0 = time.perf_counter()
            s.settimeout(a.timeout)
            s.sendall(req(a.user, i))
            ans = read_answer(s, buf)
            if not ans.startswith("action="):
                raise ValueError("odd answer %r" % ans[:80])
            lat.append((time.perf_counter() - t0) * 1000.0)
            on_conn += 1
        except (OSError, ValueError) as e:
            failed += 1
            first_err = first_err or ("%s: %s" % (type(e).__name__, e)).replace(" ", "_")
            if s is not None:
                s.close()
            s = None
            time.sleep(0.05)
        i += 1
    if s is not None:
        s.close()
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p))] if lat else -1

    print("PROBE ok=%d failed=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f first_error=%s"
          % (len(lat), failed, pct(0.50), pct(0.99), lat[-1] if lat else -1, first_err or "-"))


def count_answers(s, buf, n, counts):
    last = ""
    for _ in range(n):
        last = read_answer(s, buf)
        w = last[len("action="):].split(" ", 1)[0].lower() if last.startswith("action=") else "?"
        key = w if w in counts else "other"
        counts[key] += 1
    return last


def mode_burst(a):
    s = connect(a.host, a.port, timeout=30)
    buf = bytearray()
    counts = {"dunno": 0, "hold": 0, "reject": 0, "defer_if_permit": 0, "other": 0}
    last, sent = "", 0
    while sent < a.count:
        k = min(a.depth, a.count - sent)
        s.sendall(b"".join(req(a.user, sent + i, "b%d" % (sent + i)) for i in range(k)))
        last = count_answers(s, buf, k, counts)
        sent += k
    s.close()
    print("BURST " + " ".join("%s=%d" % kv for kv in counts.items()) + " last=" +
          last.replace(" ", "_")[:120])


def mode_flood(a):
    s = connect(a.host, a.port, timeout=30)
    buf = bytearray()
    counts = {"dunno": 0, "hold": 0, "reject": 0, "defer_if_permit": 0, "other": 0}
    sent = 0
    while sent < a.count:
        k = min(500, a.count - sent)
        s.sendall(b"".join(req("%s%d@flood.example" % (a.prefix, sent + i), sent + i)
                           for i in range(k)))
        count_answers(s, buf, k, counts)
        sent += k
    s.close()
    print("FLOOD sent=%d answered=%d" % (sent, sum(counts.values())))


def mode_ask(a):
    s = connect(a.host, a.port)
    s.sendall(req(a.user, 1, a.instance))
    print(read_answer(s, bytearray()))
    s.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("host")
    p.add_argument("port")
    sub = p.add_subparsers(dest="mode", required=True)
    h = sub.add_parser("hog")
    h.add_argument("n", type=int)
    h.add_argument("seconds", type=float)
    h.add_argument("--from", dest="source")
    sl = sub.add_parser("slowloris")
    sl.add_argument("n", type=int)
    sl.add_argument("seconds", type=float)
    sl.add_argument("--every", type=float, default=1.0)
    sl.add_argument("--from", dest="source")
    nr = sub.add_parser("noread")
    nr.add_argument("n", type=int)
    nr.add_argument("seconds", type=float)
    nr.add_argument("--user", default="noread@example.net")
    nr.add_argument("--from", dest="source")
    pr = sub.add_parser("probe")
    pr.add_argument("count", type=int)
    pr.add_argument("--per-conn", type=int, default=1 << 30)
    pr.add_argument("--timeout", type=float, default=5.0)
    pr.add_argument("--from", dest="source")
    pr.add_argument("--user", default="probe@example.net")
    b = sub.add_parser("burst")
    b.add_argument("user")
    b.add_argument("count", type=int)
    b.add_argument("--depth", type=int, default=500)
    f = sub.add_parser("flood")
    f.add_argument("count", type=int)
    f.add_argument("--prefix", default="flood")
    q = sub.add_parser("ask")
    q.add_argument("user")
    q.add_argument("instance", nargs="?")
    a = p.parse_args()
    {"hog": mode_hog, "slowloris": mode_slowloris, "noread": mode_noread, "probe": mode_probe,
     "burst": mode_burst, "flood": mode_flood, "ask": mode_ask}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())

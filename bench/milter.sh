#!/usr/bin/env bash
# bench/milter.sh: what `abusedesk milter` costs the mail flow. Messages per
# second accepted by a real Postfix (a private instance on 127.0.0.1,
# tests/lib/postfix.sh; mail relayed to smtp-sink) with `abusedesk milter` as
# smtpd_milters against the same Postfix with bench/noop_milter (the same
# callbacks and flags, accepting everything: the practical limit). Same work
# for both: BM_N messages (default 2000) from BM_CONNS (8) parallel SMTP
# sessions, each authenticated with XCLIENT LOGIN=alice@customer.example, from
# alice@customer.example (a [batv] domain: abusedesk tags the envelope sender
# and records the Message-ID in the outbound log), one recipient, a 2 KB body.
# Each milter runs BM_ROUNDS (2) times, alternating; the best round counts.
# Target: abusedesk >= 0.7 x noop. For the reading of the ratio two more
# figures: noop_milter --chgfrom (it changes every envelope sender, as BATV
# signing does, but computes nothing: the cost of Postfix's own sender change)
# and abusedesk without [batv] domains (no sender change). Then the outbound log alone
# (bench/outbound_bench.c): bytes per message and lookups per second.
# Needs root (Postfix). AD_BINARY and AD_BENCH_BIN (the build folder with
# noop_milter and outbound_bench; default: the binary's folder).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${AD_BINARY:-$top/build/abusedesk}
bdir=${AD_BENCH_BIN:-$(dirname "$bin")}
N=${BM_N:-2000}
CONNS=${BM_CONNS:-8}
ROUNDS=${BM_ROUNDS:-2}
. "$top/tests/lib/smtp_sink.sh"
. "$top/tests/lib/postfix.sh"
for f in "$bin" "$bdir/noop_milter" "$bdir/outbound_bench"; do
  [ -x "$f" ] || { echo "bench/milter.sh: $f missing (build abusedesk noop_milter outbound_bench)"; exit 1; }
done
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  postfix_stop >/dev/null 2>&1
  smtp_sink_stop
  rm -rf "$work"
}
trap cleanup EXIT
smtp_sink_start "$work/sink" || exit 1
port_noop=$(smtp_sink_free_port)
port_ad=$(smtp_sink_free_port)
port_chg=$(smtp_sink_free_port)
port_nob=$(smtp_sink_free_port)
cat > "$work/desk.conf" <<CONF
[store]
path = $work/desk.db
[log]
level = warning
[milter]
listen = inet:$port_ad@127.0.0.1
user =
[batv]
domains = customer.example
keys_file = $work/batv.keys
[outbound]
key_file = $work/outbound.key
CONF
"$bin" -c "$work/desk.conf" init >/dev/null 2>&1 || { echo "init failed"; exit 1; }
"$bin" -c "$work/desk.conf" batv keygen >/dev/null || exit 1
"$bdir/noop_milter" "inet:$port_noop@127.0.0.1" 2>"$work/noop.log" &
pids+=($!)
"$bin" -c "$work/desk.conf" milter 2>"$work/milter.log" &
pids+=($!)
"$bdir/noop_milter" "inet:$port_chg@127.0.0.1" --chgfrom 2>"$work/noop_chg.log" &
pids+=($!)
sed -e "s/^domains = .*/domains =/" -e "s/^listen = .*/listen = inet:$port_nob@127.0.0.1/" \
  "$work/desk.conf" > "$work/nobatv.conf"
"$bin" -c "$work/nobatv.conf" milter 2>"$work/milter_nobatv.log" &
pids+=($!)
for p in $port_noop $port_ad $port_chg $port_nob; do
  for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.05; done
done

send() { # -> messages per second accepted
  python3 - "$POSTFIX_PORT" "$N" "$CONNS" <<'PY'
import smtplib, sys, threading, time
port, n, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
body = ("x" * 76 + "\r\n") * 26
errors = []
def worker(k, count):
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        s.ehlo("bench.example")
        s.docmd("XCLIENT", "LOGIN=alice@customer.example")
        s.ehlo("bench.example")
        for i in range(count):
            msg = ("From: alice@customer.example\r\nTo: friend@example.org\r\n"
                   "Subject: bench %d-%d\r\nMessage-ID: <bench-%d-%d-%f@customer.example>\r\n\r\n%s"
                   % (k, i, k, i, time.time(), body))
            s.sendmail("alice@customer.example", ["friend@example.org"], msg)
        s.quit()
    except Exception as e:
        errors.append(repr(e))
per = n // conns
t = time.monotonic()
ts = [threading.Thread(target=worker, args=(k, per)) for k in range(conns)]
for x in ts: x.start()
for x in ts: x.join()
dt = time.monotonic() - t
if errors:
    print("ERROR", errors[0]); sys.exit(1)
print("%.1f" % (per * conns / dt))
PY
}
run() { # milter-port -> msgs/s
  rm -rf "$work/postfix"
  postfix_start "$work/postfix" "inet:127.0.0.1:1" "$SMTP_SINK_PORT" \
    "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination" \
    "smtpd_milters = inet:127.0.0.1:$1" "milter_default_action = tempfail" >/dev/null || { echo "ERROR postfix"; return 1; }
  send
  postfix_stop >/dev/null 2>&1
}
best_noop=0 best_ad=0 best_chg=0 best_nob=0
for r in $(seq 1 "$ROUNDS"); do
  a=$(run "$port_noop"); b=$(run "$port_ad"); c=$(run "$port_chg"); d=$(run "$port_nob")
  echo "round $r: noop milter $a msg/s, abusedesk milter $b msg/s, noop --chgfrom $c msg/s, abusedesk without BATV $d msg/s"
  case "$a$b$c$d" in *ERROR*) echo "bench/milter.sh: a run failed"; tail -5 "$work/milter.log"; exit 1 ;; esac
  best_noop=$(python3 -c "print(max($best_noop, $a))")
  best_ad=$(python3 -c "print(max($best_ad, $b))")
  best_chg=$(python3 -c "print(max($best_chg, $c))")
  best_nob=$(python3 -c "print(max($best_nob, $d))")
done
ratio=$(python3 -c "print('%.2f' % ($best_ad / $best_noop))")
met=$(python3 -c "print('met' if $best_ad / $best_noop >= 0.7 else 'MISSED')")
echo "milter: abusedesk $best_ad msg/s vs noop $best_noop msg/s: ratio $ratio (target >= 0.7: $met)"
echo "milter: abusedesk without BATV $best_nob msg/s: ratio $(python3 -c "print('%.2f' % ($best_nob / $best_noop))") to noop"
echo "milter: noop --chgfrom $best_chg msg/s: ratio $(python3 -c "print('%.2f' % ($best_chg / $best_noop))") to noop; abusedesk / noop --chgfrom: $(python3 -c "print('%.2f' % ($best_ad / $best_chg))")"
kill "${pids[1]}" 2>/dev/null; wait "${pids[1]}" 2>/dev/null
grep "stopping" "$work/milter.log" | sed 's/^/  /'
mkdir -p "$work/ob"
"$bdir/outbound_bench" "$work/ob" "${BM_OB_N:-200000}" "${BM_OB_LOOKUPS:-100000}"

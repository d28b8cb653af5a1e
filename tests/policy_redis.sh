#!/usr/bin/env bash
# tests/policy_redis.sh: two policy servers (`abusedesk serve`, two
# configurations on two ports, one database) with [policy] counters = redis and
# a real redis-server on 127.0.0.1 at a free port (tests/lib/redis.sh, started
# and stopped here), spoken to with the Postfix policy protocol directly (a
# small client below; no Postfix needed). A user whose requests alternate
# between the two servers, as mail from one account spread over two MTAs:
#   - the limit holds for both together: the soft limit is reached after about
#     `limit` requests in all, not 2 x limit, at a slow and a fast rate; the
#     overshoot stays within the bound of doc/shared-counters.md,
#     (N - 1) x r x (2T + RTT) (+ 1: requests come whole), computed from the
#     rate r each server saw and the measured round trip to Redis, and no
#     fewer than `limit` are let through (counts are late, never invented);
#   - a lock made with the CLI is enforced by both within 1 s; an unlock
#     starts the account from zero on both and in Redis;
#   - Redis hanging (SIGSTOP), then killed: both keep answering at once (no
#     request waits for Redis: every answer well below the Redis timeout) and
#     each enforces the limit alone (2 x limit pass when spread over two);
#   - Redis restarted empty on the same address: both reconnect by themselves,
#     the counts made during the outage reach Redis, combined counting resumes;
#   - a SIGHUP with another sync interval swaps the connection in; SIGTERM
#     stops both cleanly; nonsense settings are refused by `config check` and
#     by serve.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
. "$top/tests/lib/redis.sh"
. "$top/tests/lib/sql.sh"
work=$(mktemp -d)
chmod 755 "$work"
fails=0
declare -A spid
cleanup() {
  local p
  for p in "${spid[@]}"; do kill -9 "$p" 2>/dev/null; done
  redis_kill
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
. "$top/tests/lib/check.sh" # check, has, hasnt
yes_if() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($3)"; fails=$((fails + 1)); fi; }
kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
fcmp() { awk "BEGIN { exit !($1) }"; } # fcmp 'EXPR': floating-point test

redis_start "$work/redis" || { echo "FAIL redis-server (needed by this test) did not start"; exit 1; }

L=20          # msgs_per_hour and rcpts_per_hour of every user ...
LF=100        # ... but fast@example.net
T_MS=200      # sync_interval_ms
N=2           # servers
user=
[ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && user=nobody
mkdir -p "$work/db"
mkconf() { # name port [extra [policy] lines]: writes $work/NAME.conf
  cat > "$work/$1.conf" <<EOF
[store]
path = $work/db/desk.db
[intake]
spool_dir = $work/db/spool
quarantine_dir = $work/db/quarantine
[log]
level = info
[policy]
listen = inet:127.0.0.1:$2
user = $user
msgs_per_hour = $L
rcpts_per_hour = $L
rcpts_per_day = 100000
domains_per_hour = 0
networks_per_hour = 0
hard_factor = 100
state_file = $work/db/policy-$1.state
counters = redis
redis = 127.0.0.1:$REDIS_PORT
redis_prefix = adtest:
sync_interval_ms = $T_MS
redis_timeout_ms = 200
${3:-}
[limits:fast@example.net]
msgs_per_hour = $LF
rcpts_per_hour = $LF
EOF
}
declare -A port
port[a]=$(free_port)
port[b]=$(free_port)
mkconf a "${port[a]}"
mkconf b "${port[b]}"
ad() { "$bin" -c "$work/a.conf" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }
printf 'customer_id,customer_name,contact_email,language,account,domain\nC1,Shop,owner@shop.example,en,lock@example.net,\n' > "$work/dir.csv"
ad directory import "$work/dir.csv" >/dev/null || { echo "FAIL directory import"; exit 1; }
[ -n "$user" ] && chown -R "$user" "$work/db"

# ---- nonsense is refused ----------------------------------------------------------
badconf() { # label key value: the configuration with [policy] KEY = VALUE instead
  local p out rc
  p=$(free_port)
  if grep -q "^$2 = " "$work/a.conf"; then
    sed -e "s#^listen = .*#listen = inet:127.0.0.1:$p#" -e "s#^$2 = .*#$2 = $3#" "$work/a.conf" > "$work/bad.conf"
  else
    sed -e "s#^listen = .*#listen = inet:127.0.0.1:$p#" -e "s#^counters = .*#&\n$2 = $3#" "$work/a.conf" > "$work/bad.conf"
  fi
  out=$("$bin" -c "$work/bad.conf" config check 2>&1)
  has_re "config check refuses $1" "$out" "\[policy\] $2"
  out=$(timeout 20 "$bin" -c "$work/bad.conf" serve 2>&1); rc=$?
  check "serve refuses to start with $1 (exit 78)" "$rc" 78
}
badconf "counters = memcached" counters memcached
badconf "a port out of range" redis 127.0.0.1:70000
badconf "an unbracketed IPv6 address" redis ::1:6379
badconf "a relative UNIX socket path" redis unix:redis.sock
badconf "an empty redis address" redis ""
badconf "sync_interval_ms = 0" sync_interval_ms 0
badconf "redis_timeout_ms = 100000" redis_timeout_ms 100000
badconf "a key prefix with a space" redis_prefix "a b"
badconf "redis_user without redis_password" redis_user ops

# ---- the client ---------------------------------------------------------------------
cat > "$work/client.py" <<'EOF'
"""Postfix policy requests to several servers (127.0.0.1 ports).
alt USER COUNT RATE PORT...    COUNT RCPT requests for USER, round robin over the
    ports, paced at RATE per second in all (0: as fast as answered), a new
    message (instance) each; prints
    ALT sent= dunno= hold= reject= other= failed= first_hold= secs= r= p50_ms= p99_ms= max_ms= dunno_per=
    (r: the highest rate one server saw, requests per second)
until USER WANT TIMEOUT PORT...   END-OF-MESSAGE requests (never counted) to
    each port every 20 ms until each answered WANT (reject, or !reject);
    prints UNTIL ms=A,B,... (from the start; -1: not within TIMEOUT s)
    at=A,B,... (the same as Unix time in ms; 0: never)"""
import socket, sys, time

REQ = ("request=smtpd_access_policy\nprotocol_state={state}\nprotocol_name=ESMTP\n"
       "client_address=198.51.100.7\nclient_name=client.example\nhelo_name=client.example\n"
       "sasl_method=PLAIN\nsasl_username={user}\nsender={user}\n"
       "recipient=friend{n}@example.org\ninstance={inst}\nrecipient_count=0\nsize=1234\n\n")


class Conn:
    def __init__(self, port):
        self.port, self.s, self.buf = int(port), None, bytearray()

    def ask(self, data, timeout=5.0):
        try:
            if self.s is None:
                self.s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
                self.buf = bytearray()
            self.s.settimeout(timeout)
            self.s.sendall(data)
            while True:
                i = self.buf.find(b"\n\n")
                if i >= 0:
                    a = bytes(self.buf[:i])
                    del self.buf[:i + 2]
                    return a.decode(errors="replace")
                d = self.s.recv(65536)
                if not d:
                    raise ConnectionError("closed by the server")
                self.buf += d
        except OSError:
            if self.s is not None:
                self.s.close()
            self.s = None
            raise


def action(a):
    return a[7:].split(" ", 1)[0].lower() if a.startswith("action=") else "?"


def req(user, n, inst, state="RCPT"):
    return REQ.format(state=state, user=user, n=n, inst=inst).encode()


def alt(user, count, rate, ports):
    conns = [Conn(p) for p in ports]
    tag = "%x" % int(time.time() * 1e6)
    c = {"dunno": 0, "hold": 0, "reject": 0, "other": 0, "failed": 0}
    per = [0] * len(ports)
    dunno_per = [0] * len(ports)
    lat, first_hold = [], 0
    t0 = time.perf_counter()
    for i in range(count):
        if rate > 0:
            wait = t0 + i / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        k = i % len(ports)
        t1 = time.perf_counter()
        try:
            a = action(conns[k].ask(req(user, i, "%s.%d" % (tag, i))))
        except OSError:
            c["failed"] += 1
            continue
        lat.append((time.perf_counter() - t1) * 1000)
        per[k] += 1
        c[a if a in c else "other"] += 1
        if a == "dunno":
            dunno_per[k] += 1
        if a == "hold" and not first_hold:
            first_hold = i + 1
    secs = time.perf_counter() - t0
    lat.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))] if lat else -1
    print("ALT sent=%d %s first_hold=%d secs=%.3f r=%.2f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f "
          "dunno_per=%s" % (count, " ".join("%s=%d" % kv for kv in c.items()), first_hold, secs,
                            max(per) / secs, pct(0.5), pct(0.99), lat[-1] if lat else -1,
                            ",".join(map(str, dunno_per))))


def until(user, want, timeout, ports):
    conns = [Conn(p) for p in ports]
    got = [-1] * len(ports)
    at = [0] * len(ports)
    t0 = time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < timeout and -1 in got:
        for k, cn in enumerate(conns):
            if got[k] >= 0:
                continue
            n += 1
            try:
                a = action(cn.ask(req(user, n, "u%d" % n, "END-OF-MESSAGE")))
            except OSError:
                continue
            if (a == "reject") == (want == "reject"):
                got[k] = int((time.perf_counter() - t0) * 1000)
                at[k] = int(time.time() * 1000)
        time.sleep(0.02)
    print("UNTIL ms=%s at=%s" % (",".join(map(str, got)), ",".join(map(str, at))))


m = sys.argv[1]
if m == "alt":
    alt(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5:])
elif m == "until":
    until(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5:])
EOF
cl() { python3 "$work/client.py" "$@"; }

# ---- two servers ------------------------------------------------------------------------
start_serve() { # name: returns once it serves
  local n i
  n=$(grep -c "policy: serving" "$work/$1.log" 2>/dev/null)
  "$bin" -c "$work/$1.conf" serve 2>>"$work/$1.log" &
  spid[$1]=$!
  for i in $(seq 1 200); do
    [ "$(grep -c "policy: serving" "$work/$1.log" 2>/dev/null)" -gt "${n:-0}" ] && return 0
    kill -0 "${spid[$1]}" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
wait_log() { # name pattern seconds: 0 once the log has it
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    grep -q -- "$2" "$work/$1.log" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
for s in a b; do
  start_serve $s || { echo "FAIL serve $s did not start"; cat "$work/$s.log"; exit 1; }
done
has_re "server a: shares its counters through the test redis" "$(cat "$work/a.log")" "shared counters through redis 127.0.0.1:$REDIS_PORT"
has_re "server b: the same" "$(cat "$work/b.log")" "shared counters through redis 127.0.0.1:$REDIS_PORT"
both=("${port[a]}" "${port[b]}")

rtt=$(redis_rtt_ms)
echo "     redis round trip: $rtt ms"

# combined USER LIMIT COUNT RATE T_S LABEL: a user alternating between both
# servers; the limit holds for both together, within the documented bound.
combined() {
  local u=$1 lim=$2 out dunno r bound
  out=$(cl alt "$u" "$3" "$4" "${both[@]}")
  echo "     $6: $out"
  dunno=$(kv dunno "$out")
  r=$(kv r "$out")
  check "$6: every request answered" "$(kv failed "$out")" 0
  bound=$(awk -v n=$N -v r="$r" -v t="$5" -v rtt="$rtt" 'BEGIN { printf "%.2f", (n - 1) * r * (2 * t + rtt / 1000) + 1 }')
  yes_if "$6: at least the limit ($lim) let through (counts are never invented)" "[ $dunno -ge $lim ]" "dunno=$dunno"
  yes_if "$6: let through $dunno <= limit $lim + (N-1) x r x (2T + RTT) + 1 = $lim + $bound, not 2 x $lim" \
    "fcmp '$dunno <= $lim + $bound' && [ $dunno -lt $((2 * lim)) ]" "dunno=$dunno r=$r"
  LAST_OUT=$out
}

# ---- one limit for both --------------------------------------------------------------------
# 10 requests per second on each server: the bound is 1 x 10 x 0.4 + 1 = 5.
combined slow@example.net $L $((3 * L)) 20 0.$T_MS "slow (10/s per server)"
# 100 per second on each: bound about 41 over a limit of 100 (local: 200 pass).
combined fast@example.net $LF $((3 * LF)) 200 0.$T_MS "fast (100/s per server)"
yes_if "fast: HOLD answered by both servers" \
  "[ \$(kv hold \"\$LAST_OUT\") -gt $LF ]" "$LAST_OUT"

# ---- a CLI lock is enforced by both within 1 s; an unlock starts from zero --------
out=$(cl alt lock@example.net $((L + 10)) 20 "${both[@]}")
check "lock user: over its limit before the lock" "$([ "$(kv hold "$out")" -gt 0 ] && echo yes)" yes
# The clock starts before the CLI does (the lock is committed somewhere inside it).
cl until lock@example.net reject 5 "${both[@]}" > "$work/until.out" &
upid=$!
sleep 0.2 # the client is polling
t_lock=$(date +%s%3N)
ad account lock lock@example.net --reason "phished" --by tester >/dev/null 2>"$work/lock.log"
t_done=$(date +%s%3N)
wait $upid
out=$(cat "$work/until.out")
at=$(kv at "$out")
echo "     lock: the CLI ran $((t_done - t_lock)) ms; rejected by a $((${at%,*} - t_lock)) ms, by b $((${at#*,} - t_lock)) ms after it started"
for s in a b; do
  [ $s = a ] && x=${at%,*} || x=${at#*,}
  yes_if "CLI lock: server $s rejects within 1 s of the lock" "[ $x -gt 0 ] && [ $((x - t_lock)) -le $((t_done - t_lock + 1000)) ]" "$out"
done
inc=$(dbq "$work/db/desk.db" "SELECT incident_id FROM locks WHERE subject='lock@example.net' AND unlocked_at IS NULL")
ad incident unlock "$inc" --force --reason "cleaned" --by tester >/dev/null 2>&1
out=$(cl until lock@example.net '!reject' 3 "${both[@]}")
ms=$(kv ms "$out")
yes_if "unlock: both servers let the account send again" "[ ${ms%,*} -ge 0 ] && [ ${ms#*,} -ge 0 ]" "$out"
sleep 0.6 # both reset the account: here and, at their next exchange, in Redis
out=$(cl alt lock@example.net $L 20 "${both[@]}")
echo "     after the unlock: $out"
check "unlock: counters from zero on both servers and in Redis ($L of $L let through)" "$(kv dunno "$out")" $L

# ---- Redis hangs, then dies: both answer at once, each with its own limit ----------
redis_pause
out=$(cl alt hang@example.net 100 50 "${both[@]}")
echo "     redis hanging: $out"
check "redis hanging: every request answered" "$(kv failed "$out")" 0
yes_if "redis hanging: no answer waits for Redis (max $(kv max_ms "$out") ms < redis_timeout_ms 200)" \
  "fcmp '$(kv max_ms "$out") < 200'" "$out"
yes_if "redis hanging: p99 $(kv p99_ms "$out") ms <= 50 ms" "fcmp '$(kv p99_ms "$out") <= 50'" "$out"
wait_log a "counting locally" 3; wait_log b "counting locally" 3
has_re "redis hanging: server a says it counts locally" "$(cat "$work/a.log")" "counting locally, reconnecting in the background"
has_re "redis hanging: server b too" "$(cat "$work/b.log")" "counting locally, reconnecting in the background"
redis_kill
out=$(cl alt local@example.net $((3 * L)) 20 "${both[@]}")
echo "     redis killed: $out"
check "redis killed: every request answered" "$(kv failed "$out")" 0
check "redis killed: each server enforces the limit alone ($L each: $((2 * L)) let through)" "$(kv dunno "$out")" $((2 * L))
check "redis killed: ... $L on each" "$(kv dunno_per "$out")" "$L,$L"
yes_if "redis killed: no answer waits (max $(kv max_ms "$out") ms < 200)" "fcmp '$(kv max_ms "$out") < 200'" "$out"
# Counted on a alone during the outage: three quarters of the limit.
W=$((3 * L / 4))
out=$(cl alt outage@example.net $W 20 "${port[a]}")
check "outage: $W requests on a alone let through" "$(kv dunno "$out")" $W
for s in a b; do kill -0 "${spid[$s]}" 2>/dev/null; check "redis killed: server $s still runs" "$?" 0; done

# ---- Redis back (empty) on the same address: shared again ------------------------------------
redis_start "$work/redis" "$REDIS_PORT" || { echo "FAIL redis did not restart"; exit 1; }
t0=$(date +%s%N)
for s in a b; do
  wait_log $s "reachable again" 12
  has_re "redis back: server $s reconnected by itself" "$(cat "$work/$s.log")" "reachable again after"
done
echo "     both reconnected after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
sleep 0.5 # their first exchanges: the counts made meanwhile go to Redis
# b never saw outage@ before: its view comes from Redis.
out=$(cl alt outage@example.net $L 10 "${port[b]}")
echo "     outage user on b: $out"
bound=$(awk -v r="$(kv r "$out")" -v t=0.$T_MS -v rtt="$rtt" 'BEGIN { printf "%.2f", r * (2 * t + rtt / 1000) + 1 }')
d=$(kv dunno "$out")
yes_if "redis back: the $W counted on a during the outage reached b: $d <= $L - $W + $bound let through on b (not $L)" \
  "fcmp '$d <= $L - $W + $bound' && [ $d -ge $((L - W)) ]" "$out"
combined after@example.net $L $((3 * L)) 20 0.$T_MS "redis back (10/s per server)"
check "redis back: the marker key is there" "$(redis_cli exists adtest:epoch)" 1

# ---- a reload with another sync interval swaps the connection in ------------------------
# (with Redis up: the old connection sends what it holds before it goes)
sed -i "s/^sync_interval_ms = .*/sync_interval_ms = 100/" "$work/a.conf"
kill -HUP "${spid[a]}"
wait_log a "every 100 ms" 5
has_re "SIGHUP: server a made a new connection with the new interval" "$(cat "$work/a.log")" "exchange every 100 ms"
# D <= T_a + T_b + RTT <= 2 x 200 ms + RTT still
combined reload@example.net $L $((3 * L)) 20 0.$T_MS "after the reload (10/s per server)"

# ---- stop ------------------------------------------------------------------------------------
for s in a b; do
  kill -TERM "${spid[$s]}"
  wait "${spid[$s]}"
  check "SIGTERM: server $s stops cleanly" "$?" 0
  unset "spid[$s]"
  has_re "SIGTERM: server $s logs the shared counters' figures" "$(cat "$work/$s.log")" "policy: shared counters: redis up"
done
grep -h "shared counters" "$work/a.log" "$work/b.log" | sed 's/^/     log: /' | head -20

if [ "$fails" -gt 0 ]; then
  echo "policy_redis: $fails FAILED"
  exit 1
fi
echo "policy_redis: all passed"

#!/usr/bin/env bash
# tests/policy_attack.sh: the policy server under clients that try to starve it
# (a starved policy server makes Postfix apply DUNNO, so locked accounts could
# send), each attack on 127.0.0.1 only and bounded in connections and seconds,
# with tests/lib/policy_attack.py as the clients:
#   - slot hogs (idle connections from several addresses, filling
#     max_connections) and a slowloris (one byte a second) do not keep a
#     well-behaved client out: it gets every answer, each within 2 s;
#   - a client that never reads its answers is closed, and the daemon's RSS
#     stays bounded;
#   - out of file descriptors (prlimit on the running daemon), accept() does not
#     spin: little CPU, one log line per 10 s, service resumes afterwards; at
#     start a low RLIMIT_NOFILE lowers max_connections with a warning;
#   - the UNIX socket is 0660 (group postfix when it exists), refuses others,
#     and neither a regular file nor a live server's socket at the path is
#     removed;
#   - a flood of new senders at max_senders keeps an active sender's counters;
#     limits above 65535 are counted;
#   - the configuration file is 0600 (it holds secrets): the daemon reads it
#     before dropping privileges; a SIGHUP it cannot read keeps the running one
#     and says so loudly;
#   - a hard-limit lock decided while the database is locked (an exclusive
#     transaction held by the test), then kill -9, then a restart: the account
#     is locked in the database once it is free, without another request.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
. "$top/tests/lib/sql.sh"
atk="$top/tests/lib/policy_attack.py"
work=$(mktemp -d)
chmod 755 "$work"
fails=0
spid=
bg=()
cleanup() {
  for p in "${bg[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "$spid" ] && kill -9 "$spid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
. "$top/tests/lib/check.sh" # check, has, hasnt
yes_if() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($3)"; fails=$((fails + 1)); fi; }
kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# ASan keeps freed memory in quarantine (256 MB by default): keep it small so
# that the RSS check measures the daemon, not the sanitizer.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16

port=$(free_port)
mkdir -p "$work/db" "$work/run"
user=
[ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && user=nobody
conf="$work/desk.conf"
cat > "$conf" <<EOF
[store]
path = $work/db/desk.db
busy_timeout_ms = 300
[intake]
spool_dir = $work/db/spool
quarantine_dir = $work/db/quarantine
[notify]
password = secret-the-daemon-must-not-need
[log]
level = info
[policy]
listen = inet:127.0.0.1:$port;unix:$work/run/policy.sock
user = $user
max_connections = 40
max_connections_per_client = 10
request_timeout = 2s
idle_timeout = 60s
msgs_per_hour = 3
rcpts_per_hour = 3
rcpts_per_day = 1000
hard_factor = 2
max_senders = 1000
state_file = $work/db/policy.state
state_interval = 1s
[limits:big@example.net]
msgs_per_hour = 66000
rcpts_per_hour = 66000
rcpts_per_day = 1000000
[limits:probe@example.net]
msgs_per_hour = 1000000
rcpts_per_hour = 1000000
rcpts_per_day = 1000000
EOF
chmod 600 "$conf" # it holds secrets: only root reads it
ad() { "$bin" -c "$conf" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }
[ -n "$user" ] && chown -R "$user" "$work/db"

start_serve() { # logs to $work/serve.log; returns once it serves
  local n
  n=$(grep -c "policy: serving" "$work/serve.log" 2>/dev/null)
  "$bin" -c "$conf" serve 2>>"$work/serve.log" &
  spid=$!
  for i in $(seq 1 200); do
    [ "$(grep -c "policy: serving" "$work/serve.log")" -gt "${n:-0}" ] && return 0
    kill -0 "$spid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
start_serve || { echo "FAIL serve did not start"; cat "$work/serve.log"; exit 1; }
probe() { python3 "$atk" 127.0.0.1 "$port" probe "$@" --user probe@example.net; }

# ---- the UNIX socket ---------------------------------------------------------
sock="$work/run/policy.sock"
check "unix socket: mode 0660" "$(stat -c %a "$sock")" 660
if getent group postfix >/dev/null; then
  check "unix socket: group postfix" "$(stat -c %G "$sock")" postfix
fi
has_re "unix socket: answers" "$(python3 "$atk" x "unix:$sock" ask probe@example.net)" "action="
if [ "$(id -u)" = 0 ]; then
  out=$(setpriv --reuid=54321 --regid=54321 --clear-groups python3 "$atk" x "unix:$sock" ask probe@example.net 2>&1)
  has_re "unix socket: another user may not connect" "$out" "Permission denied"
fi
echo keep > "$work/run/file.sock"
p2=$(free_port)
sed -e "s#^listen = .*#listen = inet:127.0.0.1:$p2;unix:$work/run/file.sock#" "$conf" > "$work/file.conf"
chmod 600 "$work/file.conf"
out=$(timeout 20 "$bin" -c "$work/file.conf" serve 2>&1); rc=$?
check "a regular file at the socket path: serve refuses to start" "$rc" 78
has_re "... and says why" "$out" "exists and is not a socket"
check "... and leaves the file alone" "$(cat "$work/run/file.sock")" keep
sed -e "s#^listen = .*#listen = inet:127.0.0.1:$p2;unix:$sock#" "$conf" > "$work/live.conf"
chmod 600 "$work/live.conf"
out=$(timeout 20 "$bin" -c "$work/live.conf" serve 2>&1); rc=$?
has_re "a live server's socket at the path: not taken over" "$out" "another server answers"
has_re "... which still answers" "$(python3 "$atk" x "unix:$sock" ask probe@example.net)" "action="

# ---- slot hogs and a slowloris against a well-behaved client -----------------
# 4 addresses x 10 (max_connections_per_client) fill max_connections (40); 15
# more from 127.0.0.2 hit the per-client limit; a slowloris from 127.0.0.6.
python3 "$atk" 127.0.0.1 "$port" hog 40 12 --from 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5 > "$work/hog.out" 2>&1 &
bg+=($!)
sleep 0.3
python3 "$atk" 127.0.0.1 "$port" hog 15 11 --from 127.0.0.2 > "$work/hog2.out" 2>&1 &
bg+=($!)
python3 "$atk" 127.0.0.1 "$port" slowloris 10 11 --every 1 --from 127.0.0.6 > "$work/slow.out" 2>&1 &
bg+=($!)
sleep 1.5
pr=$(probe 30 --per-conn 3 --timeout 2)
echo "    $pr"
check "under hogs and slowloris: every probe answered" "$(kv failed "$pr")/$(kv ok "$pr")" 0/30
yes_if "under hogs and slowloris: each answer within 2 s" "awk 'BEGIN { exit !($(kv max_ms "$pr") < 2000) }'" "max $(kv max_ms "$pr") ms"
wait "${bg[@]}" 2>/dev/null; bg=()
hog=$(cat "$work/hog.out"); hog2=$(cat "$work/hog2.out"); slow=$(cat "$work/slow.out")
echo "    $hog"; echo "    $hog2"; echo "    $slow"
yes_if "per-client limit: one address got no more than 10" "[ $(kv closed_at_once "$hog2") -ge 5 ]" "$hog2"
yes_if "idle hogs gave way to newcomers" "[ $(kv closed_by_server "$hog") -ge 1 ]" "$hog"
yes_if "slowloris: closed by request_timeout (2 s)" "[ $(kv closed_by_server "$slow") -ge 10 ] && awk 'BEGIN { exit !($(kv max_alive_s "$slow") <= 4.5) }'" "$slow"

# ---- a client that never reads its answers ------------------------------------
ad account lock noread@example.net --reason "answers are long REJECT texts" --by tester >/dev/null
sleep 0.5
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$spid/status"; }
rss0=$(rss)
python3 "$atk" 127.0.0.1 "$port" noread 3 10 --user noread@example.net > "$work/noread.out" 2>&1 &
bg+=($!)
sleep 1
pr=$(probe 20 --timeout 2)
sleep 2
rss_mid=$(rss) # the allocator's (and ASan's) caches are warm by now
sleep 6
rss1=$(rss)
wait "${bg[@]}" 2>/dev/null; bg=()
nr=$(cat "$work/noread.out"); echo "    $nr (RSS ${rss0} kB, after 4 s ${rss_mid} kB, after 10 s ${rss1} kB)"
yes_if "never-reading client: closed by the server" "[ $(kv closed_by_server "$nr") -ge 3 ]" "$nr"
yes_if "never-reading client: closed within 5 s" "awk 'BEGIN { exit !($(kv max_alive_s "$nr") <= 5) }'" "$nr"
yes_if "never-reading client: RSS grew less than 48 MB in all" "[ $((rss1 - rss0)) -lt 49152 ]" "$rss0 -> $rss1 kB"
yes_if "never-reading client: RSS flat while the attack goes on (< 8 MB in 6 s)" "[ $((rss1 - rss_mid)) -lt 8192 ]" "$rss_mid -> $rss1 kB"
check "never-reading client: others answered meanwhile" "$(kv failed "$pr")" 0
has_re "never-reading client: logged" "$(cat "$work/serve.log")" "does not read its answers"

# ---- out of file descriptors ------------------------------------------------------
# prlimit on another process needs CAP_SYS_RESOURCE or its uid and gid: run it
# as the service user the daemon dropped to.
as_daemon=()
[ -n "$user" ] && as_daemon=(setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups)
nfd=$(ls "/proc/$spid/fd" | wc -l)
hard=$(awk '/^Max open files/ {print $5}' "/proc/$spid/limits")
"${as_daemon[@]}" prlimit --pid "$spid" --nofile=$((nfd + 2)):"$hard" || echo "FAIL prlimit"
python3 "$atk" 127.0.0.1 "$port" hog 8 4 > "$work/emfile.out" 2>&1 &
bg+=($!)
sleep 0.5
t0=$(awk '{print $14 + $15}' "/proc/$spid/stat")
sleep 3
t1=$(awk '{print $14 + $15}' "/proc/$spid/stat")
yes_if "EMFILE: accept does not spin (CPU ticks in 3 s: $((t1 - t0)))" "[ $((t1 - t0)) -lt 60 ]" "$((t1 - t0)) ticks"
n=$(grep -c "cannot accept connections" "$work/serve.log")
yes_if "EMFILE: logged once per 10 s ($n line(s))" "[ $n -ge 1 ] && [ $n -le 2 ]" "$n lines"
wait "${bg[@]}" 2>/dev/null; bg=()
"${as_daemon[@]}" prlimit --pid "$spid" --nofile="$hard":"$hard"
pr=$(probe 5 --timeout 3)
check "EMFILE: served again once descriptors are free" "$(kv ok "$pr")" 5

# ---- a lock decided while the database is locked, then kill -9 ------------------------------
hold_db() { # holds an exclusive write transaction until $work/release exists
  if db_is_pg; then
    psql=$(command -v psql 2>/dev/null || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -1)
    ( printf 'BEGIN; LOCK TABLE locks, policy_events IN EXCLUSIVE MODE;\n'
      while [ ! -e "$work/release" ]; do sleep 0.1; done; printf 'COMMIT;\n' ) |
      "$psql" "$ABUSEDESK_STORE_CONNINFO" -Xq >/dev/null &
  else
    python3 - "$work/db/desk.db" "$work/release" <<'EOF' &
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2] + ".held", "w").close()
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
c.execute("ROLLBACK")
EOF
  fi
  bg+=($!)
  for i in $(seq 1 50); do { db_is_pg || [ -e "$work/release.held" ]; } && break; sleep 0.1; done
  sleep 0.3
}
hold_db
for i in 1 2 3 4 5 6 7; do a=$(python3 "$atk" 127.0.0.1 "$port" ask mallory@example.net "m$i"); done
has_re "database locked: the hard limit is enforced from memory" "$a" "action=REJECT"
sleep 2.5 # a snapshot of the counters and the pending lock (state_interval 1s)
check "database locked: no lock row yet" "$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM locks WHERE subject='mallory@example.net'")" 0
kill -9 "$spid"; wait "$spid" 2>/dev/null; spid=
start_serve || { echo "FAIL restart"; tail -5 "$work/serve.log"; }
has_re "after kill -9: the pending lock is asked for again" "$(cat "$work/serve.log")" "decided before the restart"
has_re "after kill -9: still rejected" "$(python3 "$atk" 127.0.0.1 "$port" ask mallory@example.net m8)" "action=REJECT"
touch "$work/release"
wait "${bg[@]}" 2>/dev/null; bg=()
for i in $(seq 1 50); do
  [ "$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM locks WHERE subject='mallory@example.net' AND unlocked_at IS NULL")" = 1 ] && break
  sleep 0.2
done
check "once the database is free: the account is locked in it" "$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM locks WHERE subject='mallory@example.net' AND unlocked_at IS NULL")" 1
check "... with one finding for the desk worker" "$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM policy_events WHERE account='mallory@example.net' AND stage='lock'")" 1

# ---- counts above 65535, a flood of new senders ----------------------------------------
b=$(python3 "$atk" 127.0.0.1 "$port" burst big@example.net 66000)
check "66,000 messages under a limit of 66,000: all DUNNO" "$(kv dunno "$b")" 66000
b=$(python3 "$atk" 127.0.0.1 "$port" burst big@example.net 1)
check "the 66,001st: over the soft limit (HOLD)" "$(kv hold "$b")" 1
for i in 1 2 3; do python3 "$atk" 127.0.0.1 "$port" ask steady@example.net "s$i" >/dev/null; done
fl=$(python3 "$atk" 127.0.0.1 "$port" flood 3000)
check "flood: 3000 new senders answered" "$(kv answered "$fl")" 3000
has_re "flood: the active sender kept its counts (4th message over 3: HOLD)" "$(python3 "$atk" 127.0.0.1 "$port" ask steady@example.net s4)" "action=HOLD"

# ---- SIGHUP with a configuration the service user cannot read --------------------------------
if [ -n "$user" ]; then
  kill -HUP "$spid"; sleep 0.5
  has_re "SIGHUP, unreadable file: loud error" "$(cat "$work/serve.log")" "RELOAD FAILED, keeping the running configuration"
  has_re "... and the limits still apply" "$(python3 "$atk" 127.0.0.1 "$port" ask steady@example.net s5)" "action=HOLD"
fi

kill "$spid"; wait "$spid" 2>/dev/null; spid=
has_re "stop: counters of refused, evicted, timed-out and not-reading connections" "$(cat "$work/serve.log")" "connections: [0-9]* refused, [0-9]* evicted, [0-9]* timed out, [0-9]* not reading"
has_re "stop: senders not tracked at max_senders" "$(grep 'policy: stopping' "$work/serve.log" | tail -1)" "[1-9][0-9]* senders not tracked"
if grep -q "secret-the-daemon-must-not-need" "$work/serve.log"; then echo "FAIL the log shows a secret"; fails=$((fails + 1)); fi

# ---- limits the counters cannot hold ----------------------------------------------------------
sed -e "s#^hard_factor = .*#hard_factor = 100#" -e "s#^msgs_per_hour = 3#msgs_per_hour = 50000000#" "$conf" > "$work/big.conf"
out=$("$bin" -c "$work/big.conf" config check 2>&1); rc=$?
check "config check refuses a hard limit above 2^32-1" "$rc" 78
has_re "... naming it" "$out" "msgs_per_hour: 50000000 x hard_factor 100 is more than the policy server can count"

# ---- RLIMIT_NOFILE at start ------------------------------------------------------------------
p3=$(free_port)
sed -e "s#^listen = .*#listen = inet:127.0.0.1:$p3#" -e "s#^max_connections = .*#max_connections = 1000#" \
  -e "s#^state_file = .*#state_file =#" "$conf" > "$work/nofile.conf"
chmod 600 "$work/nofile.conf"
# As root without CAP_SYS_RESOURCE (or as anybody else) the hard limit cannot
# be raised; with it, the daemon would raise it: take it away.
wrap=()
if [ "$(id -u)" = 0 ] && grep -q '^CapBnd:' /proc/self/status &&
   (( 0x$(awk '/^CapBnd:/ {print $2}' /proc/self/status) & (1 << 24) )); then
  wrap=(setpriv --bounding-set=-sys_resource)
fi
"${wrap[@]}" bash -c 'ulimit -n 100 && exec "$@"' _ "$bin" -c "$work/nofile.conf" serve 2>"$work/nofile.log" &
npid=$!
for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$p3") 2>/dev/null && break; sleep 0.05; done
kill "$npid" 2>/dev/null; wait "$npid" 2>/dev/null
has_re "RLIMIT_NOFILE 100 at start: max_connections lowered with a warning" "$(cat "$work/nofile.log")" "max_connections 1000 lowered to 67"

if [ "$fails" -gt 0 ]; then
  echo "--- serve log"; tail -40 "$work/serve.log"
  echo "policy_attack: $fails check(s) failed"; exit 1
fi
echo "policy_attack: all checks passed"

#!/usr/bin/env bash
# policy.sh: part of `make bench`. The policy-server benchmark: how many Postfix
# policy requests per second abusedesk's own policy server (`abusedesk serve`,
# rate limits per SASL user) answers, against the do-nothing limit and against the
# rate limiters admins run today. In ONE run, one server after another, each on
# its own free 127.0.0.1 port with its own temporary configuration:
#   1. noop-policyd        shared/tools/noop-policyd.c, answers DUNNO at once: the
#                          practical limit of a policy server on this machine
#   2. abusedesk           `abusedesk -c CONF serve` after `abusedesk -c CONF init`,
#                          CONF from bench/policy/abusedesk.conf.in: [policy] listen,
#                          user = (empty: no privilege drop), msgs_per_hour = 100,
#                          rcpts_per_hour = 100, rcpts_per_day = 1000; its other
#                          [policy] settings keep their defaults (hard limits = 3 x
#                          soft lock the account, domains_per_hour 50, ...)
#   2b. abusedesk-redis    right after 2. (before its attack and memory checks), the
#                          same with [policy] counters = redis (shared counters,
#                          doc/shared-counters.md) against a redis-server this script
#                          starts on a free 127.0.0.1 port (no persistence; the
#                          Debian package redis-server, installed like the peers);
#                          default sync_interval_ms (200). Targets: >= 0.5 x noop,
#                          p99 <= 2 ms; also printed: its ratio to abusedesk with
#                          local counters and the Redis traffic it caused
#   3. policyd-rate-limit-file    policyd-rate-limit 1.0.1 (Debian package), default
#                          SQLite file backend, 100 per hour + 1000 per day per SASL user
#   4. policyd-rate-limit-memory  the same with SQLite ":memory:"
#   5. postfwd2            postfwd 1.35 (Debian package `postfwd`), two rate()
#                          rules per sasl_username: 100 per 3600 s, 1000 per 86400 s
# How: shared/tools/policybench (built here with gcc -O2 into a temp dir) opens
# PB_CONNS (64) persistent connections, each sending up to PB_N (20000) full
# RCPT-stage requests one at a time, users drawn from Zipf(1) over PB_USERS (1000)
# sasl_usernames, seed 1 (the same sequence for every server), stopping after PB_T
# (20) seconds. For each server it prints req/s, p50, p99 and the ACTIONS line
# (dunno vs. deferred: the top Zipf users pass 100/h within the first thousand
# requests, so a rate limiter that defers nothing has not loaded its limits).
# Then the ratios against the targets: abusedesk / noop >= 0.6 (want 0.8),
# / policyd-rate-limit-memory >= 2, / policyd-rate-limit-file >= 40,
# / postfwd2 >= 40, abusedesk p99 <= 2 ms; each "met" or "MISSED".
# Memory check: when AD_MEM_SENDERS (1000000) > 0 and abusedesk ran, bench/
# policy_fill.py sends one minimal request for each of AD_MEM_SENDERS distinct
# sasl_usernames (policybench's Zipf draw would need 20-30 million requests to
# show most of 1,000,000 users), then the server's peak RSS (VmHWM from
# /proc/PID/status, summed over its process group) is compared with 256 MB.
# Under attack (before the memory check, unless PB_ATTACK_T=0): abusedesk's p99
# for one well-behaved client (policybench -c 1, the same Zipf users, PB_ATTACK_T
# (10) seconds) alone, then while a slowloris (20 connections from 127.0.0.2,
# one byte a second) and never-reading clients (4 connections from 127.0.0.3
# pipelining requests without reading an answer) attack the same server
# (tests/lib/policy_attack.py); target p99 <= 5 ms under attack.
#
# Pitfalls met while setting the peers up (see shared/tools/README.md):
# - postfwd2 needs an absolute -f path (a relative one silently loads no rules);
#   its -L writes log lines into the policy connection (never use it here; we run
#   it with --perfmon, no logging). It always daemonizes into its own session
#   (master, cache daemon, policy server, prefork children): it is stopped by
#   killing its process group, read from the pidfile. Its cache daemon (which
#   keeps the rate() counters) listens on a unix socket given as --cache_proto
#   unix --cache_port PATH (--cache_socket unix:PATH puts the path in the wrong
#   field and the cache daemon silently never starts: every request then gets
#   EOF); the socket's directory must belong to the user it runs as (nobody).
# - policyd-rate-limit run as root tries to create the pid/socket/database
#   directories (with ":memory:" it calls mkdir("") and exits), so as root it is
#   started as its own user with setpriv. Its listen backlog is 5: connecting 64
#   clients at once takes a few seconds of SYN retries (policybench connects
#   before its clock starts; a run whose connect failed is retried once).
# - at the RCPT stage both peers count recipients (one per request), not messages.
# - the packages are installed with apt-get when missing and we are root (a
#   temporary /usr/sbin/policy-rc.d keeps the install from starting the packaged
#   daemons on their /etc configs); otherwise the exact command is printed and the
#   peer skipped. /etc is never touched: every daemon gets a config in the temp dir.
# - abusedesk's step is skipped ("abusedesk: SKIPPED (serve not available)") when
#   `abusedesk serve --help` fails or the port does not accept within 5 s. When
#   `abusedesk config check` rejects the [policy] keys, the limit keys are dropped
#   (the server's built-in limits), then `user` too (listen only), and a note is
#   printed (its problems with other groups, such as an empty [notify] abuse_team,
#   do not concern serve and are ignored). The global form `abusedesk -c CONF serve` is used: the CLI reads -c
#   only before the command.
# - the load generator shares the 2 cores with the server, and the figures move
#   with whatever else runs on the machine: the load average is printed first.
# Every server is stopped after its run, and everything started is stopped on
# exit (trap EXIT): no peer keeps running.
#
# usage: bash bench/policy.sh
# environment: ABUSEDESK (build/abusedesk), PB_CONNS (64), PB_N (20000 per
#   connection), PB_T (20 s per server), PB_USERS (1000), AD_MEM_SENDERS (1000000;
#   0 = no memory check), FILL_T (90 s), FILL_CONNS (4), FILL_DEPTH (1),
#   PB_ATTACK_T (10 s per client run under attack; 0 = no attack measurement),
#   KEEP_WORK=1 keeps the temp dir with every log, POLICY_ONLY="noop-policyd abusedesk"
#   runs only the servers named (noop-policyd abusedesk abusedesk-redis
#   policyd-rate-limit postfwd2).
# exit status: 0 every server that could run ran (MISSED targets are not
#   failures; skipped servers are not failures), 1 a tool or server failed.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/bench
ABUSEDESK=${ABUSEDESK:-${AD_BUILD:-$root/build}/abusedesk}
TOOLS=${POLICY_TOOLS:-$(bash "$root/tools/shared-dir.sh")/tools}
CONNS=${PB_CONNS:-64}
N=${PB_N:-20000}
T=${PB_T:-20}
USERS=${PB_USERS:-1000}
MEM_SENDERS=${AD_MEM_SENDERS:-1000000}
ATTACK_T=${PB_ATTACK_T:-10}
ATTACK=$root/tests/lib/policy_attack.py
FILL_T=${FILL_T:-90}
FILL_CONNS=${FILL_CONNS:-4}
FILL_DEPTH=${FILL_DEPTH:-1}
RSS_BOUND_MB=256
ONLY=${POLICY_ONLY:-noop-policyd abusedesk abusedesk-redis policyd-rate-limit postfwd2}

fail=0
started_groups=()  # process groups we started (each daemon in its own session)
rcd_created=""     # set while our temporary /usr/sbin/policy-rc.d exists
declare -A RPS P50 P99 ACT REQS
ATTACK_P99=""

work=$(mktemp -d /tmp/policy-bench.XXXXXX)
chmod 711 "$work"  # the peers run as their own users and must reach their dirs

alive() { # pid: true while the process exists and is not a zombie
  local s
  s=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$s" ] && [[ $s != Z* ]]
}

stop_group() { # pgid: TERM the whole group, KILL what is left after 5 s
  local g=$1 i
  pgrep -g "$g" >/dev/null 2>&1 || return 0
  kill -TERM -- "-$g" 2>/dev/null
  for ((i = 0; i < 50; i++)); do
    pgrep -g "$g" >/dev/null 2>&1 || return 0
    sleep 0.1
  done
  kill -KILL -- "-$g" 2>/dev/null
  sleep 0.2
}

cleanup() {
  local g
  for g in "${started_groups[@]}"; do stop_group "$g"; done
  [ -n "$rcd_created" ] && rm -f /usr/sbin/policy-rc.d
  if [ -n "${KEEP_WORK:-}" ]; then echo "policy.sh: logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # port seconds [pid]: 0 once 127.0.0.1:port accepts; 1 on timeout or if pid exits
  local port=$1 tries=$(($2 * 10)) pid=${3:-} i
  for ((i = 0; i < tries; i++)); do
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$port" 2>/dev/null && return 0
    if [ -n "$pid" ] && ! alive "$pid"; then return 1; fi
    sleep 0.1
  done
  return 1
}

wanted() { [[ " $ONLY " == *" $1 "* ]]; }

indent() { sed 's/^/    /' "$@"; }

find_cmd() { # name: its path, also in /usr/sbin when that is not on PATH
  command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; }
}

ensure_pkg() { # package command: 0 when command exists (installed with apt-get if root)
  local pkg=$1 cmd=$2 log=$work/apt-$1.log
  find_cmd "$cmd" >/dev/null && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "$pkg: SKIPPED (not installed; install it as root with: apt-get install -y $pkg)"
    return 1
  fi
  echo "$pkg: not installed, running: apt-get install -y $pkg"
  if [ ! -e /usr/sbin/policy-rc.d ]; then   # keep apt from starting the packaged daemon
    printf '#!/bin/sh\n# temporary, bench/policy.sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    rcd_created=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" > "$log" 2>&1 ||
    { apt-get update -qq >> "$log" 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >> "$log" 2>&1; }
  if [ -n "$rcd_created" ]; then rm -f /usr/sbin/policy-rc.d; rcd_created=""; fi
  if ! find_cmd "$cmd" >/dev/null; then
    tail -5 "$log" | indent
    echo "$pkg: SKIPPED (apt-get install -y $pkg failed)"
    return 1
  fi
}

kv() { # key line: the value of key=value in a RESULT line
  tr ' ' '\n' <<< "$2" | sed -n "s/^$1=//p"
}

run_bench() { # name port pid: policybench against 127.0.0.1:port; records the figures
  local name=$1 port=$2 pid=$3 out=$work/$1.pb rc=1 try line errs tmo
  for try in 1 2; do
    "$work/policybench" -h 127.0.0.1 -p "$port" -c "$CONNS" -n "$N" -u "$USERS" -t "$T" -s 1 > "$out" 2>&1
    rc=$?
    [ $rc -eq 0 ] && break
    grep -q '^connect:' "$out" || break   # retry only a connect that failed (small backlog)
    echo "$name: connect failed, retrying once"
    sleep 1
  done
  line=$(grep '^RESULT' "$out")
  if [ $rc -ne 0 ] || [ -z "$line" ]; then
    echo "$name: FAILED (policybench exit $rc)"
    indent "$out"
    fail=1
    return 1
  fi
  RPS[$name]=$(kv rps "$line")
  P50[$name]=$(kv p50_us "$line")
  P99[$name]=$(kv p99_us "$line")
  REQS[$name]=$(kv requests "$line")
  ACT[$name]=$(grep '^ACTIONS' "$out")
  errs=$(kv errors "$line")
  tmo=$(kv timeouts "$line")
  awk -v n="$name" -v r="${RPS[$name]}" -v a="${P50[$name]}" -v b="${P99[$name]}" \
      -v q="${REQS[$name]}" -v w="$(kv wall_s "$line")" -v e="$errs" -v t="$tmo" 'BEGIN {
    printf "%-27s %9.0f req/s  p50 %8.3f ms  p99 %8.3f ms  (%d requests in %.1f s, %d errors, %d timeouts)\n",
           n, r, a / 1000, b / 1000, q, w, e, t }'
  echo "    ${ACT[$name]}"
  grep -q '^first error' "$out" && indent <(grep '^first error' "$out")
  if [ "$errs" != 0 ] || [ "$tmo" != 0 ]; then
    echo "    warning: $name had $errs errors and $tmo timeouts"
  fi
  if [ "$name" != noop-policyd ] && [ "${REQS[$name]}" -gt 5000 ] &&
     ! grep -qvE '^(ACTIONS|dunno=[0-9]+|ok=[0-9]+)$' <(tr ' ' '\n' <<< "${ACT[$name]}"); then
    echo "    warning: $name refused nothing: are its rate limits loaded?"
  fi
  if ! alive "$pid"; then
    echo "$name: FAILED (the server is gone after the run)"
    fail=1
    return 1
  fi
}

# ---- tools ---------------------------------------------------------------------
echo "bench/policy: $CONNS connections x up to $N requests, $USERS users (Zipf), at most $T s per server"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start" \
     "(the load generator shares the cores with the server)"
command -v gcc >/dev/null || { echo "policy.sh: gcc missing" >&2; exit 1; }
for t in policybench noop-policyd; do
  if ! gcc -O2 -Wall -o "$work/$t" "$TOOLS/$t.c" 2> "$work/gcc-$t.log"; then
    echo "policy.sh: FAILED building $TOOLS/$t.c" >&2
    cat "$work/gcc-$t.log" >&2
    exit 1
  fi
done

# ---- 1. noop-policyd -------------------------------------------------------------
run_noop() {
  local port pid
  port=$(free_port)
  setsid "$work/noop-policyd" "$port" 300 > "$work/noop.log" 2>&1 &
  pid=$!
  started_groups+=("$pid")
  if wait_port "$port" 5 "$pid"; then
    run_bench noop-policyd "$port" "$pid"
  else
    echo "noop-policyd: FAILED (port $port never opened)"
    indent "$work/noop.log"
    fail=1
  fi
  stop_group "$pid"
}
wanted noop-policyd && run_noop

# ---- 2. abusedesk serve ----------------------------------------------------------
one_client() { # port label out: policybench with one connection; prints its line
  local line
  "$work/policybench" -h 127.0.0.1 -p "$1" -c 1 -n 1000000 -u "$USERS" -t "$ATTACK_T" -s 2 > "$3" 2>&1
  line=$(grep '^RESULT' "$3")
  if [ -z "$line" ]; then
    echo "    $2: FAILED (policybench)"; indent "$3"; return 1
  fi
  awk -v n="$2" -v r="$(kv rps "$line")" -v a="$(kv p50_us "$line")" -v b="$(kv p99_us "$line")" \
      -v m="$(kv max_us "$line")" -v e="$(kv errors "$line")" -v t="$(kv timeouts "$line")" 'BEGIN {
    printf "    %-34s %7.0f req/s  p50 %7.3f ms  p99 %7.3f ms  max %8.3f ms  (%d errors, %d timeouts)\n",
           n, r, a / 1000, b / 1000, m / 1000, e, t }'
}

run_attack() { # port pid dir: one well-behaved client alone, then under attack
  local port=$1 pid=$2 dir=$3 apids=() line p
  echo "abusedesk under attack: one well-behaved client (policybench -c 1, $ATTACK_T s)"
  one_client "$port" "alone" "$dir/alone.pb" || { fail=1; return 1; }
  python3 "$ATTACK" 127.0.0.1 "$port" slowloris 20 $((ATTACK_T + 3)) --every 1 --from 127.0.0.2 \
    > "$dir/slowloris.out" 2>&1 &
  apids+=($!)
  python3 "$ATTACK" 127.0.0.1 "$port" noread 4 $((ATTACK_T + 3)) --from 127.0.0.3 \
    > "$dir/noread.out" 2>&1 &
  apids+=($!)
  sleep 1
  one_client "$port" "with slowloris + never-reading" "$dir/attack.pb" || fail=1
  wait "${apids[@]}" 2>/dev/null
  echo "    attackers: $(cat "$dir/slowloris.out"); $(cat "$dir/noread.out")"
  line=$(grep '^RESULT' "$dir/attack.pb")
  [ -n "$line" ] && ATTACK_P99=$(kv p99_us "$line")
  if ! alive "$pid"; then
    echo "abusedesk: FAILED (the server is gone after the attack)"
    fail=1
    return 1
  fi
}

# ---- 2b. abusedesk serve with counters = redis ---------------------------------------
redis_cmds() { # port: total_commands_processed of that redis
  redis-cli -h 127.0.0.1 -p "$1" info stats 2>/dev/null | sed -n 's/^total_commands_processed:\([0-9]*\).*/\1/p'
}

run_abusedesk_redis() {
  local dir=$work/abusedesk-redis conf port pid rport rpid i c0 c1 rs keys
  if [ ! -x "$ABUSEDESK" ] || ! "$ABUSEDESK" serve --help > /dev/null 2>&1; then
    echo "abusedesk-redis: SKIPPED (serve not available)"
    return 0
  fi
  ensure_pkg redis-server redis-server || return 0
  mkdir -p "$dir/redis"
  rport=$(free_port)
  setsid "$(find_cmd redis-server)" --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --dir "$dir/redis" --logfile "$dir/redis/redis.log" > /dev/null 2>&1 &
  rpid=$!
  started_groups+=("$rpid")
  if ! wait_port "$rport" 5 "$rpid"; then
    echo "abusedesk-redis: FAILED (redis-server did not start)"
    tail -5 "$dir/redis/redis.log" | indent
    fail=1
    return 1
  fi
  conf=$dir/abusedesk.conf
  port=$(free_port)
  sed -e "s#@WORK@#$dir#g" -e "s#@PORT@#$port#g" "$here/policy/abusedesk.conf.in" > "$conf"
  printf 'counters = redis\nredis = 127.0.0.1:%s\nredis_prefix = bench:\n' "$rport" >> "$conf"
  if policy_problems "$conf" > "$dir/check.log"; then
    echo "abusedesk-redis: SKIPPED (this abusedesk has no [policy] counters = redis)"
    indent "$dir/check.log"
    stop_group "$rpid"
    return 0
  fi
  if ! "$ABUSEDESK" -c "$conf" init > "$dir/init.log" 2>&1; then
    echo "abusedesk-redis: FAILED (abusedesk -c CONF init)"
    indent "$dir/init.log"
    fail=1
    stop_group "$rpid"
    return 1
  fi
  setsid "$ABUSEDESK" -c "$conf" serve > "$dir/serve.log" 2>&1 &
  pid=$!
  started_groups+=("$pid")
  if ! wait_port "$port" 5 "$pid"; then
    echo "abusedesk-redis: FAILED (127.0.0.1:$port did not accept within 5 s)"
    tail -5 "$dir/serve.log" | indent
    fail=1
    stop_group "$pid"
    stop_group "$rpid"
    return 1
  fi
  c0=$(redis_cmds "$rport")
  run_bench abusedesk-redis "$port" "$pid"
  c1=$(redis_cmds "$rport")
  rs=$(kv wall_s "$(grep '^RESULT' "$work/abusedesk-redis.pb")")
  keys=$(redis-cli -h 127.0.0.1 -p "$rport" dbsize 2>/dev/null)
  awk -v c="$((c1 - c0))" -v s="${rs:-0}" -v k="$keys" -v r="$(grep -m1 '^used_memory_human' <(redis-cli -h 127.0.0.1 -p "$rport" info memory) | cut -d: -f2 | tr -d '\r')" 'BEGIN {
    printf "    redis: %d commands during the run (%.0f/s), %d keys, %s used\n", c, (s > 0 ? c / s : 0), k, r }'
  grep -i 'shared counters' "$dir/serve.log" | grep -v 'through redis' | head -3 | indent
  stop_group "$pid"
  stop_group "$rpid"
}
# config check's complaints about [policy] (the bench's configuration sets no
# [network] or [notify]: their problems do not concern serve).
policy_problems() { # conf: prints them; 0 when there are some
  "$ABUSEDESK" -c "$1" config check 2>&1 | grep '\[policy\]'
}

ad_ran=""
run_abusedesk() {
  local dir=$work/abusedesk conf port pid note=""
  if [ ! -x "$ABUSEDESK" ] || ! "$ABUSEDESK" serve --help > /dev/null 2>&1; then
    echo "abusedesk: SKIPPED (serve not available)"
    [ -x "$ABUSEDESK" ] || echo "    ($ABUSEDESK missing; run 'make build')"
    return 0
  fi
  mkdir -p "$dir"
  conf=$dir/abusedesk.conf
  port=$(free_port)
  sed -e "s#@WORK@#$dir#g" -e "s#@PORT@#$port#g" "$here/policy/abusedesk.conf.in" > "$conf"
  if policy_problems "$conf" > "$dir/check.log"; then
    # fall back: drop the limit keys (the server's built-in limits), then `user` too
    note=$(head -1 "$dir/check.log")
    sed -i '/^\(msgs_per_hour\|rcpts_per_hour\|rcpts_per_day\)[ =]/d' "$conf"
    if policy_problems "$conf" > "$dir/check.log"; then
      sed -i '/^user[ =]/d' "$conf"
      if policy_problems "$conf" > "$dir/check.log"; then
        echo "abusedesk: SKIPPED (serve not available: config check rejects [policy] listen)"
        indent "$dir/check.log"
        return 0
      fi
    fi
    echo "note: abusedesk config check rejected the [policy] keys ($note);" \
         "measuring with [policy] $(sed -n '/^\[policy\]/,$p' "$conf" | sed -n 's/^\([a-z_]*\) *=.*/\1/p' | paste -sd' ')" \
         "only (the server's built-in limits)"
  fi
  if ! "$ABUSEDESK" -c "$conf" init > "$dir/init.log" 2>&1; then
    echo "abusedesk: FAILED (abusedesk -c CONF init)"
    indent "$dir/init.log"
    fail=1
    return 1
  fi
  setsid "$ABUSEDESK" -c "$conf" serve > "$dir/serve.log" 2>&1 &
  pid=$!
  started_groups+=("$pid")
  if ! wait_port "$port" 5 "$pid"; then
    echo "abusedesk: SKIPPED (serve not available)"
    echo "    (127.0.0.1:$port did not accept within 5 s; serve's output:)"
    tail -5 "$dir/serve.log" | indent
    stop_group "$pid"
    return 0
  fi
  run_bench abusedesk "$port" "$pid" && ad_ran=1
  # With shared counters next, close in time to this run (the machine's load
  # moves); this server waits idle meanwhile.
  if wanted abusedesk-redis; then
    run_abusedesk_redis
    redis_done=1
  fi
  [ -n "$ad_ran" ] && [ "$ATTACK_T" -gt 0 ] && run_attack "$port" "$pid" "$dir"
  if [ -n "$ad_ran" ] && [ "$MEM_SENDERS" -gt 0 ]; then
    local frc kb p sent
    echo "abusedesk memory check: one request for each of $MEM_SENDERS distinct senders" \
         "(bench/policy_fill.py, $FILL_CONNS connections, at most $FILL_T s)"
    python3 "$here/policy_fill.py" -p "$port" -u "$MEM_SENDERS" -c "$FILL_CONNS" \
      -d "$FILL_DEPTH" -t "$FILL_T" > "$dir/fill.log" 2>&1
    frc=$?
    indent "$dir/fill.log"
    if ! alive "$pid"; then
      echo "abusedesk: FAILED (the server is gone after the memory check)"
      tail -5 "$dir/serve.log" | indent
      fail=1
    else
      kb=0
      for p in $(pgrep -g "$pid"); do
        kb=$((kb + $(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
      done
      sent=$(kv sent "$(grep '^FILL' "$dir/fill.log")")
      [ $frc -eq 2 ] && echo "    only ${sent:-?} of $MEM_SENDERS senders were sent within $FILL_T s: the figure is a lower bound"
      [ $frc -eq 1 ] && { echo "abusedesk: memory check FAILED (policy_fill.py reported errors)"; fail=1; }
      awk -v kb="$kb" -v n="$MEM_SENDERS" -v bound="$RSS_BOUND_MB" 'BEGIN {
        mb = kb / 1024
        printf "abusedesk peak RSS (VmHWM) with %d senders: %.1f MB, bound %d MB: %s\n",
               n, mb, bound, (mb <= bound ? "met" : "MISSED") }'
    fi
  fi
  stop_group "$pid"
}
redis_done=""
wanted abusedesk && run_abusedesk
wanted abusedesk-redis && [ -z "$redis_done" ] && run_abusedesk_redis


# ---- 3./4. policyd-rate-limit ----------------------------------------------------
run_prl() { # name file|memory
  local name=$1 dir=$work/$1 db port pid prl
  local runas=()
  prl=$(find_cmd policyd-rate-limit)
  mkdir -p "$dir"
  port=$(free_port)
  if [ "$2" = file ]; then db=$dir/db.sqlite3; else db=":memory:"; fi
  sed -e "s#@WORK@#$dir#g" -e "s#@PORT@#$port#g" -e "s#@DATABASE@#$db#g" \
    "$here/policy/policyd-rate-limit.yaml.in" > "$dir/policyd-rate-limit.yaml"
  if [ "$(id -u)" -eq 0 ]; then
    # as root it would mkdir/chown its directories and exit on ":memory:": run as its user
    if ! id policyd-rate-limit > /dev/null 2>&1; then
      echo "$name: FAILED (user policyd-rate-limit missing; reinstall the package)"
      fail=1
      return 1
    fi
    chown -R policyd-rate-limit:policyd-rate-limit "$dir"
    runas=(setpriv --reuid=policyd-rate-limit --regid=policyd-rate-limit --clear-groups)
  fi
  setsid "${runas[@]}" "$prl" -f "$dir/policyd-rate-limit.yaml" > "$dir/daemon.log" 2>&1 &
  pid=$!
  started_groups+=("$pid")
  if wait_port "$port" 15 "$pid"; then
    run_bench "$name" "$port" "$pid"
  else
    echo "$name: FAILED (127.0.0.1:$port never opened)"
    tail -5 "$dir/daemon.log" | indent
    fail=1
  fi
  stop_group "$pid"
}
if wanted policyd-rate-limit && ensure_pkg policyd-rate-limit policyd-rate-limit; then
  run_prl policyd-rate-limit-file file
  run_prl policyd-rate-limit-memory memory
fi

# ---- 5. postfwd2 -------------------------------------------------------------------
run_postfwd() {
  local dir=$work/postfwd2 port pid="" pf user group i
  pf=$(find_cmd postfwd2)
  mkdir -p "$dir"
  port=$(free_port)
  cp "$here/policy/postfwd.cf" "$dir/postfwd.cf"   # -f must be absolute: $dir is
  if [ "$(id -u)" -eq 0 ]; then
    user=nobody
    group=$(id -gn nobody)
    chown -R "$user:$group" "$dir"                 # its cache socket lives here
  else
    user=$(id -un)
    group=$(id -gn)
  fi
  # daemonizes: master + cache daemon + policy server in a new session
  if ! "$pf" -f "$dir/postfwd.cf" --server_socket "tcp:127.0.0.1:$port" \
       --cache_proto unix --cache_port "$dir/cache.sock" --pidfile "$dir/postfwd2.pid" \
       --perfmon -u "$user" -g "$group" > "$dir/daemon.log" 2>&1; then
    echo "postfwd2: FAILED (did not start)"
    indent "$dir/daemon.log"
    fail=1
    return 1
  fi
  for ((i = 0; i < 50; i++)); do
    pid=$(cat "$dir/postfwd2.pid" 2>/dev/null) && [ -n "$pid" ] && break
    sleep 0.1
  done
  if [ -z "$pid" ]; then
    echo "postfwd2: FAILED (no pidfile $dir/postfwd2.pid)"
    indent "$dir/daemon.log"
    fail=1
    return 1
  fi
  started_groups+=("$pid")        # the master leads its own session and process group
  if wait_port "$port" 15 "$pid" && wait_port_cache "$dir/cache.sock"; then
    run_bench postfwd2 "$port" "$pid"
  else
    echo "postfwd2: FAILED (127.0.0.1:$port or its cache daemon never came up)"
    indent "$dir/daemon.log"
    fail=1
  fi
  stop_group "$pid"
}
wait_port_cache() { # socket: the rate() counters need postfwd2's cache daemon
  local i
  for ((i = 0; i < 100; i++)); do [ -S "$1" ] && return 0; sleep 0.1; done
  return 1
}
if wanted postfwd2 && ensure_pkg postfwd postfwd2; then
  run_postfwd
fi

# ---- summary and ratios --------------------------------------------------------------
echo
echo "summary (req/s, p50 ms, p99 ms):"
for s in noop-policyd abusedesk abusedesk-redis policyd-rate-limit-file policyd-rate-limit-memory postfwd2; do
  if [ -n "${RPS[$s]:-}" ]; then
    awk -v n="$s" -v r="${RPS[$s]}" -v a="${P50[$s]}" -v b="${P99[$s]}" \
      'BEGIN { printf "  %-27s %9.0f  %8.3f  %8.3f\n", n, r, a / 1000, b / 1000 }'
  else
    printf '  %-27s %9s\n' "$s" "not measured"
  fi
done

ratio_of() { # server peer [target [want]]: server / peer in req/s against target (and want)
  local srv=$1 peer=$2 target=${3:-} want=${4:-}
  if [ -z "${RPS[$peer]:-}" ]; then
    printf '  %s / %-27s  n/a (%s not measured)\n' "$srv" "$peer" "$peer"
    return
  fi
  awk -v s="$srv" -v p="$peer" -v a="${RPS[$srv]}" -v b="${RPS[$peer]}" -v t="$target" -v w="$want" 'BEGIN {
    r = (b > 0) ? a / b : 0
    line = sprintf("  %s / %-27s %8.2f", s, p, r)
    if (t != "") line = line sprintf("  target >= %s: %s", t, (r >= t ? "met" : "MISSED"))
    if (w != "") line = line sprintf(", want >= %s: %s", w, (r >= w ? "met" : "MISSED"))
    print line }'
}
ratio() { ratio_of abusedesk "$@"; }
echo
if [ -n "${RPS[abusedesk]:-}" ]; then
  echo "ratios (req/s):"
  ratio noop-policyd 0.6 0.8
  ratio policyd-rate-limit-memory 2
  ratio policyd-rate-limit-file 40
  ratio postfwd2 40
  awk -v p="${P99[abusedesk]}" 'BEGIN {
    printf "  abusedesk p99 %.3f ms  target <= 2 ms: %s\n", p / 1000, (p <= 2000 ? "met" : "MISSED") }'
  if [ -n "$ATTACK_P99" ]; then
    awk -v p="$ATTACK_P99" 'BEGIN {
      printf "  abusedesk p99 of a well-behaved client under slowloris + never-reading attack %.3f ms  target <= 5 ms: %s\n",
             p / 1000, (p <= 5000 ? "met" : "MISSED") }'
  fi
else
  echo "ratios: abusedesk not measured"
fi
if [ -n "${RPS[abusedesk-redis]:-}" ]; then
  echo "ratios with [policy] counters = redis (req/s):"
  ratio_of abusedesk-redis noop-policyd 0.5
  ratio_of abusedesk-redis abusedesk      # the cost of sharing the counters
  awk -v p="${P99[abusedesk-redis]}" 'BEGIN {
    printf "  abusedesk-redis p99 %.3f ms  target <= 2 ms: %s\n", p / 1000, (p <= 2000 ? "met" : "MISSED") }'
fi
if [ $fail -ne 0 ]; then
  echo "policy.sh: FAILED: a tool or server failed (see above)" >&2
fi
exit $fail

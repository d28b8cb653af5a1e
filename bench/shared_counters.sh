#!/usr/bin/env bash
# shared_counters.sh: the cost of sharing the policy server's rate counters
# through Redis ([policy] counters = redis; doc/shared-counters.md). Starts a
# redis-server of its own on a free 127.0.0.1 port (no persistence, in a temp
# dir, killed at the end) and runs shared_bench (bench/shared_bench.c) against
# it: shared_add() + shared_get() pairs per second and their latency for one
# instance and for two instances driven at once (two MTAs), the sync traffic
# per second (rounds, EVALSHA calls, keys, bytes, round time), the baseline of
# ratelimit.c alone, how long one add on one instance takes to show on the
# other at the default sync interval (200 ms), and convergence.
#
# environment: SHARED_BENCH (the binary; default ${AD_BUILD:-build}/shared_bench),
# SB_SECONDS (5 per phase). Needs redis-server (apt-get install redis-server):
# without it, it fails with a clear message (exit 2).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SHARED_BENCH:-${AD_BUILD:-$root/build}/shared_bench}
secs=${SB_SECONDS:-5}

if ! command -v redis-server >/dev/null; then
  echo "shared_counters: redis-server is not installed: apt-get install redis-server (or make deps)" >&2
  exit 2
fi
if [ ! -x "$bin" ]; then
  echo "shared_counters: $bin not built (cmake --build build --target shared_bench)" >&2
  exit 2
fi

tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$tmp" && exec redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
  --daemonize no --logfile "$tmp/redis.log") &
pid=$!
for _ in $(seq 100); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.05
done
redis-cli -p "$port" ping >/dev/null || { echo "shared_counters: redis-server did not start" >&2; cat "$tmp/redis.log" >&2; exit 2; }

echo "shared counters: $(redis-server --version | cut -d' ' -f1-3), $(nproc) cores, $secs s per phase"
"$bin" "127.0.0.1:$port" "$secs"
echo "redis after the run: $(redis-cli -p "$port" info memory | grep -m1 '^used_memory_human' | tr -d '\r'), $(redis-cli -p "$port" dbsize | tr -d '\r') keys, $(redis-cli -p "$port" info stats | grep -m1 '^total_commands_processed' | tr -d '\r')"

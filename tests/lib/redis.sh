# tests/lib/redis.sh: sourceable. A private redis-server for a test, on
# 127.0.0.1 only, without persistence (save "", no AOF), in a directory of the
# test's, started and stopped by the test:
#
#   redis_start DIR [PORT]   starts one (a free port unless PORT is given: a
#                            restart on the same address); sets REDIS_PID and
#                            REDIS_PORT; waits until it answers PING (5 s).
#                            Returns 1, with a message, when redis-server is not
#                            installed or does not come up.
#   redis_stop               SIGTERM and wait (a clean stop)
#   redis_kill               SIGKILL (also when it is stopped with SIGSTOP)
#   redis_pause / redis_resume   SIGSTOP / SIGCONT: a Redis that hangs
#   redis_cli ARGS...        redis-cli on it
#   redis_rtt_ms             the mean PING round trip in ms (20 pings)
# Nothing is left running after redis_stop or redis_kill.
REDIS_PID=
REDIS_PORT=

redis_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

redis_ping() { # port: 0 when PONG
  python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5)
s.sendall(b"PING\r\n")
sys.exit(0 if s.recv(64).startswith(b"+PONG") else 1)
EOF
}

redis_start() { # DIR [PORT]
  local dir=$1 port=${2:-} i
  local bin
  bin=$(command -v redis-server 2>/dev/null || { [ -x /usr/bin/redis-server ] && echo /usr/bin/redis-server; })
  if [ -z "$bin" ]; then
    echo "redis.sh: redis-server is not installed: apt-get install redis-server (or make deps)" >&2
    return 1
  fi
  [ -n "$port" ] || port=$(redis_free_port)
  mkdir -p "$dir"
  (cd "$dir" && exec "$bin" --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --logfile "$dir/redis.log" --dir "$dir") &
  REDIS_PID=$!
  REDIS_PORT=$port
  for ((i = 0; i < 100; i++)); do
    redis_ping "$port" && return 0
    if ! kill -0 "$REDIS_PID" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "redis.sh: redis-server on 127.0.0.1:$port did not answer within 5 s" >&2
  tail -5 "$dir/redis.log" >&2 2>/dev/null
  redis_kill
  return 1
}

redis_stop() {
  [ -n "$REDIS_PID" ] || return 0
  kill -CONT "$REDIS_PID" 2>/dev/null
  kill -TERM "$REDIS_PID" 2>/dev/null
  wait "$REDIS_PID" 2>/dev/null
  REDIS_PID=
}

redis_kill() {
  [ -n "$REDIS_PID" ] || return 0
  kill -KILL "$REDIS_PID" 2>/dev/null
  wait "$REDIS_PID" 2>/dev/null
  REDIS_PID=
}

redis_pause() { [ -n "$REDIS_PID" ] && kill -STOP "$REDIS_PID"; }
redis_resume() { [ -n "$REDIS_PID" ] && kill -CONT "$REDIS_PID"; }

redis_cli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

redis_rtt_ms() {
  python3 - "$REDIS_PORT" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
t = []
for _ in range(20):
    t0 = time.perf_counter()
    s.sendall(b"PING\r\n")
    s.recv(64)
    t.append((time.perf_counter() - t0) * 1000)
print("%.3f" % (sum(t) / len(t)))
EOF
}

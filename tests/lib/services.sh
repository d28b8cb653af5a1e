# tests/lib/services.sh: sourceable. `abusedesk ingest` only stores a report;
# the desk worker (`abusedesk process`) files it and the delivery worker
# (`abusedesk outbox --flush`) sends what that queued, as `abusedesk run` does
# continuously. ad_services BIN CONF ARGS... runs one command and, after an
# ingest, one pass of each worker, so that a test sees the effect at once. The
# command's own exit status is returned; the workers' output goes to stderr.
ad_services() {
  local bin=$1 conf=$2
  shift 2
  "$bin" -c "$conf" "$@"
  local rc=$?
  if [ "${1:-}" = ingest ]; then
    "$bin" -c "$conf" process >/dev/null
    "$bin" -c "$conf" outbox --flush >/dev/null
  fi
  return $rc
}

#!/usr/bin/env bash
# tests/milter_run.sh: `abusedesk run` starts the milter when [milter] enabled
# = true, and only then. With the default (false) run starts its other
# services and nothing listens on [milter] listen. With true the milter is a
# child of run, and a private Postfix (tests/lib/postfix.sh) whose
# smtpd_milters, non_smtpd_milters and policy service point at run's milter
# and policy server passes mail through it: submission mail gets a
# BATV-tagged envelope sender and an outbound log row, sendmail(1) mail of a
# script an outbound log row as the script's. With --no-policy run starts the
# milter without the policy server. A milter killed with SIGKILL is
# started again by run and tags mail again. SIGTERM to run stops the milter
# (its stop line in the log, the process gone, the socket closed) and run
# exits 0.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
. "$top/tests/lib/smtp_sink.sh"
. "$top/tests/lib/postfix.sh"
. "$top/tests/lib/sql.sh"
work=$(mktemp -d)
chmod 755 "$work" # Postfix's own user walks into it
fails=0
rpid=
cleanup() {
  [ -n "$rpid" ] && kill -TERM "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
  postfix_stop >/dev/null 2>&1
  smtp_sink_stop
  if [ -n "${KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
. "$top/tests/lib/check.sh" # check, has, hasnt
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && echo yes || echo no; }
wait_log() { for i in $(seq 1 "${3:-150}"); do grep -q -- "$2" "$1" && break; sleep 0.1; done; cat "$1"; }
wait_listening() { for i in $(seq 1 100); do [ "$(listening "$1")" = yes ] && break; sleep 0.1; done; listening "$1"; }
stop_run() { # -> run's exit status; waits at most 20 s
  kill -TERM "$rpid" 2>/dev/null
  for i in $(seq 1 200); do kill -0 "$rpid" 2>/dev/null || break; sleep 0.1; done
  wait "$rpid"
  local rc=$?
  rpid=
  return $rc
}

for tool in swaks postfix jq; do
  command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || { echo "FAIL $tool missing (make deps)"; exit 1; }
done
smtp_sink_start "$work/sink" || { echo "FAIL smtp-sink"; exit 1; }
pport=$(smtp_sink_free_port)
mport=$(smtp_sink_free_port)
mkdir -p "$work/db"
conf() { # milter enabled value
  cat <<CONF
[store]
path = $work/db/desk.db
[intake]
spool_dir = $work/db/spool
quarantine_dir = $work/db/quarantine
verify_dkim = false
[network]
our_hosts = *.hoster.example;test.localdomain
our_ips = 198.51.100.0/24
[log]
level = ${AD_TEST_LOG_LEVEL:-info}
[policy]
listen = inet:127.0.0.1:$pport
user =
state_file = $work/db/policy.state
[batv]
domains = customer.example
keys_file = $work/db/batv.keys
[milter]
listen = inet:$mport@127.0.0.1
user =
$1
[outbound]
key_file = $work/db/outbound.key
[notify]
templates_dir = $top/etc/templates
smarthost = smtp://127.0.0.1:$SMTP_SINK_PORT
from = abuse@hoster.example
abuse_team = team@hoster.example
CONF
}
conf "" > "$work/off.conf"
conf "enabled = true" > "$work/on.conf"
ad() { "$bin" -c "$work/on.conf" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }
ad batv keygen >/dev/null || { echo "FAIL batv keygen"; exit 1; }
out=$(ad config check 2>&1); rc=$?
check "config check with [milter] enabled = true: exit 0" "$rc" 0
has_re "config check with [milter] enabled = true: OK" "$out" "on.conf: OK"
has_re "config describe: [milter] enabled" "$(ad config describe 2>/dev/null | sed -n '/^\[milter\]/,/^\[outbound\]/p')" "enabled  *boolean (default false)"

# ---- the default: run does not start the milter ------------------------------------------
"$bin" -c "$work/off.conf" run >"$work/run_off.out" 2>"$work/run_off.log" &
rpid=$!
has_re "enabled = false: run starts the policy server" "$(wait_log "$work/run_off.log" "policy server started")" "run: policy server started"
check "enabled = false: the policy server listens" "$(wait_listening "$pport")" yes
sleep 1
lacks_re "enabled = false: no milter started" "$(cat "$work/run_off.log")" "milter"
check "enabled = false: nothing on the milter socket" "$(listening "$mport")" no
stop_run
check "enabled = false: run stops with exit 0" "$?" 0

# ---- enabled with --no-policy: the milter without the policy server ----------------------------
"$bin" -c "$work/on.conf" run --no-policy >"$work/run_np.out" 2>"$work/run_np.log" &
rpid=$!
has_re "--no-policy: the milter started" "$(wait_log "$work/run_np.log" "milter: serving on")" "run: milter started"
check "--no-policy: the milter listens" "$(wait_listening "$mport")" yes
lacks_re "--no-policy: no policy server" "$(cat "$work/run_np.log")" "policy server started"
check "--no-policy: nothing on the policy socket" "$(listening "$pport")" no
stop_run
check "--no-policy: run stops with exit 0" "$?" 0
check "--no-policy: the milter socket closed" "$(listening "$mport")" no

# ---- enabled: the milter is one of run's services --------------------------------------------
"$bin" -c "$work/on.conf" run >"$work/run.out" 2>"$work/run.log" &
rpid=$!
has_re "enabled = true: run starts the milter" "$(wait_log "$work/run.log" "run: milter started")" "run: milter started (pid [0-9]*)"
mpid=$(sed -n 's/.*run: milter started (pid \([0-9]*\)).*/\1/p' "$work/run.log" | tail -1)
check "the milter listens" "$(wait_listening "$mport")" yes
check "the milter is run's child" "$(awk '/^PPid:/ {print $2}' "/proc/$mpid/status" 2>/dev/null)" "$rpid"
check "the milter's command line" "$(tr '\0' ' ' <"/proc/$mpid/cmdline" 2>/dev/null | sed 's/ $//')" "$(readlink -f "$bin") -c $work/on.conf milter"
has_re "the milter's own log: serving" "$(wait_log "$work/run.log" "milter: serving on")" "milter: serving on inet:$mport@127.0.0.1"
check "the policy server listens too" "$(wait_listening "$pport")" yes
postfix_start "$work/postfix" "inet:127.0.0.1:$pport" "$SMTP_SINK_PORT" \
  "smtpd_milters = inet:127.0.0.1:$mport" "non_smtpd_milters = inet:127.0.0.1:$mport" \
  "milter_default_action = accept" >/dev/null \
  || { echo "FAIL postfix"; postfix_log | tail -20; exit 1; }

delivered() { grep -l "^X-Rcpt-Args: <$1>" "$work"/sink/msg.* 2>/dev/null | wc -l; }
wait_delivered() { for i in $(seq 1 150); do [ "$(delivered "$1")" -ge 1 ] && break; sleep 0.1; done; delivered "$1"; }
env_from() { grep -h "^X-Mail-Args:" $(grep -l "^X-Rcpt-Args: <$1>" "$work"/sink/msg.*) | sed 's/^X-Mail-Args: <\([^>]*\)>.*/\1/'; }
wait_rows() { for i in $(seq 1 100); do [ "$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM outbound_log WHERE sender = '$1'")" -ge "$2" ] && break; sleep 0.1; done
  dbq "$work/db/desk.db" "SELECT COUNT(*) FROM outbound_log WHERE sender = '$1'"; }
submit() { # n
  swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --xclient "LOGIN=alice@customer.example" \
    --from alice@customer.example --to "friend$1@example.org" --header "Message-Id: <run-$1@customer.example>" \
    --h-Subject "hello $1" --body "hi" --timeout 20 >"$work/swaks.out" 2>&1
}
submit 1
check "submission through run's milter: accepted" "$?" 0
check "submission: delivered" "$(wait_delivered friend1@example.org)" 1
from=$(env_from friend1@example.org)
has_re "submission: the envelope sender is BATV-tagged" "$from" '^prvs=0[0-9]\{3\}[0-9a-f]\{6\}=alice@customer.example$'
check "submission: the tag checks" "$(ad batv check "$from" 2>&1)" alice@customer.example
check "submission: an outbound log row for the account" "$(wait_rows alice@customer.example 1)" 1
uid=$(id -u)
printf 'From: contact@shop.example\nTo: friend2@example.org\nSubject: contact form\nMessage-ID: <run-2@shop.example>\nX-PHP-Originating-Script: %s:contact.php\n\nhello\n' "$uid" \
  | /usr/sbin/sendmail -C "$POSTFIX_DIR/etc" -f contact@shop.example -t
check "sendmail(1) through run's milter: delivered" "$(wait_delivered friend2@example.org)" 1
check "sendmail(1): an outbound log row for the script" "$(wait_rows "$uid:contact.php" 1)" 1

# ---- supervision: a milter that dies is started again ----------------------------------------
kill -KILL "$mpid"
has_re "run: the milter died, started again" "$(wait_log "$work/run.log" "run: milter (pid $mpid) killed by signal 9")" \
  "run: milter (pid $mpid) killed by signal 9; again in [0-9]*s"
for i in $(seq 1 150); do [ "$(grep -c "run: milter started" "$work/run.log")" -ge 2 ] && break; sleep 0.1; done
mpid2=$(sed -n 's/.*run: milter started (pid \([0-9]*\)).*/\1/p' "$work/run.log" | tail -1)
check "a new milter process" "$( [ -n "$mpid2" ] && [ "$mpid2" != "$mpid" ] && echo yes)" yes
check "the new milter listens" "$(wait_listening "$mport")" yes
sleep 0.3 # Postfix reconnects per message; give libmilter's listener a moment
submit 3
check "after the restart: delivered" "$(wait_delivered friend3@example.org)" 1
has_re "after the restart: tagged again" "$(env_from friend3@example.org)" '^prvs=0'
check "after the restart: two outbound log rows for the account" "$(wait_rows alice@customer.example 2)" 2

# ---- stopping run stops the milter -------------------------------------------------------------
stop_run
check "run: exit 0 on SIGTERM" "$?" 0
has_re "run: stopping" "$(cat "$work/run.log")" "run: stopping"
has_re "the milter's stop line" "$(cat "$work/run.log")" "milter: stopping ([0-9]* messages"
check "the milter process is gone" "$(kill -0 "$mpid2" 2>/dev/null && echo alive || echo gone)" gone
check "nothing on the milter socket" "$(listening "$mport")" no
check "nothing on the policy socket" "$(listening "$pport")" no
postfix_stop >/dev/null 2>&1
if [ "$fails" -gt 0 ]; then
  echo "--- run log"; tail -40 "$work/run.log"
  echo "--- postfix log"; postfix_log | tail -30
fi
echo "milter_run: $fails failure(s)"
[ "$fails" = 0 ]

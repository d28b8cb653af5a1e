#!/usr/bin/env bash
# tests/milter_reject.sh: the milter with [milter] locked_action = reject, end
# to end with a private Postfix (tests/lib/postfix.sh) on 127.0.0.1 whose
# policy service answers DUNNO to everything (tests/lib/policy_echo.py), so
# that only the milter decides.
#   SMTP (smtpd_milters): an authenticated account (XCLIENT LOGIN) that is
#   locked gets "550 5.7.1 abusedesk: account ... is locked [abusedesk #N]"
#   at the end of DATA (swaks sees it after the final dot, not at RCPT);
#   Postfix logs milter-reject with the ticket, the milter logs the queue id
#   and the ticket; nothing reaches the sink or any queue. Another account
#   flows. Over SMTP X-PHP-Originating-Script and a "Received: ... (Postfix,
#   from userid N)" header are anybody's: a client that writes those of the
#   locked script is neither rejected as that script nor counted against it.
#   sendmail(1) (non_smtpd_milters): Postfix's pickup asks cleanup to bounce
#   what it cannot take, so a milter reject of sendmail mail would send a
#   bounce with the script's message to its envelope sender (backscatter to a
#   contact form's forged sender). The milter holds non-SMTP mail instead,
#   also with locked_action = reject, and says so in its log: past the
#   per-script limit and once the script is locked the message is in
#   Postfix's hold queue (postqueue -j, postcat shows it), never at the sink,
#   no bounce is made (no mail to the envelope sender, no bounce in the log,
#   no queue but hold); another script of the same uid flows.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
. "$top/tests/lib/smtp_sink.sh"
. "$top/tests/lib/postfix.sh"
. "$top/tests/lib/sql.sh"
work=$(mktemp -d)
chmod 755 "$work" # Postfix's own user walks into it
fails=0
ppid_echo=
mpid=
cleanup() {
  [ -n "$mpid" ] && kill "$mpid" 2>/dev/null && wait "$mpid" 2>/dev/null
  [ -n "$ppid_echo" ] && kill "$ppid_echo" 2>/dev/null && wait "$ppid_echo" 2>/dev/null
  postfix_stop >/dev/null 2>&1
  smtp_sink_stop
  if [ -n "${KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
. "$top/tests/lib/check.sh" # check, has, hasnt

for tool in swaks postfix postcat jq; do
  command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || { echo "FAIL $tool missing (make deps)"; exit 1; }
done
smtp_sink_start "$work/sink" || { echo "FAIL smtp-sink"; exit 1; }
mport=$(smtp_sink_free_port)
mkdir -p "$work/db"
cat > "$work/desk.conf" <<CONF
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
user =
[milter]
listen = inet:$mport@127.0.0.1
user =
locked_action = reject
script_msgs_per_hour = 2
fingerprint_rcpts = 3
[outbound]
key_file = $work/db/outbound.key
[notify]
templates_dir = $top/etc/templates
smarthost = smtp://127.0.0.1:$SMTP_SINK_PORT
from = abuse@hoster.example
CONF
ad() { "$bin" -c "$work/desk.conf" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }
printf 'customer_id,customer_name,contact_email,language,account,domain,uid,webroot\nC1001,Baeckerei,inhaber@mueller-privat.example,de,alice@customer.example,customer.example,,\nC3003,Shop,owner@shop-owner.example,en,,shop.example,%s,/var/www/shop\n' "$(id -u)" > "$work/dir.csv"
ad directory import "$work/dir.csv" >/dev/null 2>"$work/dir.err" || { echo "FAIL directory import: $(cat "$work/dir.err")"; fails=$((fails + 1)); }

python3 "$top/tests/lib/policy_echo.py" "$work/policy.port" "$work/policy.log" &
ppid_echo=$!
for i in $(seq 1 100); do [ -s "$work/policy.port" ] && break; sleep 0.05; done
[ -s "$work/policy.port" ] || { echo "FAIL policy_echo.py did not start"; exit 1; }
"$bin" -c "$work/desk.conf" milter 2>"$work/milter.log" &
mpid=$!
for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$mport") 2>/dev/null && break; sleep 0.05; done
check "milter: listening" "$( (exec 3<>"/dev/tcp/127.0.0.1/$mport") 2>/dev/null && echo yes)" yes
postfix_start "$work/postfix" "inet:127.0.0.1:$(cat "$work/policy.port")" "$SMTP_SINK_PORT" \
  "smtpd_milters = inet:127.0.0.1:$mport" "non_smtpd_milters = inet:127.0.0.1:$mport" \
  "milter_default_action = accept" >/dev/null \
  || { echo "FAIL postfix"; postfix_log | tail -20; exit 1; }
has_re "milter: says it rejects locked mail" "$(cat "$work/milter.log")" "locked mail: reject"

delivered() { grep -l "^X-Rcpt-Args: <$1>" "$work"/sink/msg.* 2>/dev/null | wc -l; }
wait_delivered() { for i in $(seq 1 150); do [ "$(delivered "$1")" -ge 1 ] && break; sleep 0.1; done; delivered "$1"; }
wait_held() { for i in $(seq 1 150); do [ "$(postfix_queue_ids | wc -l)" -ge "$1" ] && break; sleep 0.1; done; postfix_queue_ids | wc -l; }
wait_log() { for i in $(seq 1 150); do grep -q -- "$2" "$1" && break; sleep 0.1; done; cat "$1"; }
wait_plog() { for i in $(seq 1 150); do postfix_log | grep -q -- "$1" && break; sleep 0.1; done; postfix_log; }
wait_finding() { for i in $(seq 1 100); do [ "$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM policy_events WHERE account = '$1'")" -ge 1 ] && break; sleep 0.1; done; }
# Every queue but hold must be empty once Postfix is done: a bounce of a
# rejected non-SMTP message would sit in active/deferred or reach the sink.
other_queues() { for q in incoming active deferred maildrop; do postfix_queue_ids "$q"; done | wc -l; }

# ---- SMTP: a locked account is rejected at the end of DATA ------------------------------
sub() { # login to subject -> swaks exit status, transcript in $work/swaks.out
  swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --xclient "LOGIN=$1" --from "$1" --to "$2" \
    --h-Subject "$3" --body "hi" --timeout 20 >"$work/swaks.out" 2>&1
}
sub alice@customer.example r1@example.org,r2@example.org,r3@example.org,r4@example.org "newsletter"
check "account: mail before the lock accepted" "$?" 0
check "account: delivered" "$(wait_delivered r4@example.org)" 1
wait_finding alice@customer.example
ad process >/dev/null 2>&1
inc=$(dbq "$work/db/desk.db" "SELECT MIN(incident_id) FROM policy_events WHERE account = 'alice@customer.example'")
check "account: the finding is filed into an incident" "$( [ -n "$inc" ] && [ "$inc" -gt 0 ] && echo yes)" yes
ad incident lock "$inc" --no-notify --reason "stolen password" >"$work/lock.out" 2>&1
check "account: locked" "$(dbq "$work/db/desk.db" "SELECT subject FROM locks WHERE unlocked_at IS NULL AND incident_id = $inc")" alice@customer.example
sleep 0.6 # the milter reloads locks every 250 ms
n_sink=$(ls "$work"/sink/msg.* 2>/dev/null | wc -l)
sub alice@customer.example friend1@example.org "after the lock"; rc=$?
check "account locked: swaks fails (exit 26: refused after DATA)" "$rc" 26
out=$(cat "$work/swaks.out")
has_re "account locked: RCPT was accepted" "$out" "<-  250 2.1.5 Ok"
has_re "account locked: 550 5.7.1 after the final dot, with the ticket" \
  "$(grep -A1 '^ -> \.$' <<<"$out")" "<\*\* *550 5.7.1 abusedesk: account alice@customer.example is locked \[abusedesk #$inc\]"
has_re "milter log: rejected, with the ticket" "$(wait_log "$work/milter.log" "rejected: account")" \
  "milter: [0-9A-F]*: rejected: account alice@customer.example is locked \[abusedesk #$inc\] (from <alice@customer.example>, 1 recipient(s))"
qid=$(sed -n 's/.*milter: \([0-9A-F]*\): rejected: account.*/\1/p' "$work/milter.log" | head -1)
has_re "postfix log: milter-reject at END-OF-MESSAGE with the ticket" "$(wait_plog "$qid: milter-reject")" \
  "$qid: milter-reject: END-OF-MESSAGE from .*: 5.7.1 abusedesk: account alice@customer.example is locked \[abusedesk #$inc\]"
sleep 0.5
check "account locked: nothing new at the sink" "$(ls "$work"/sink/msg.* 2>/dev/null | wc -l)" "$n_sink"
check "account locked: in no queue" "$(( $(postfix_queue_ids | wc -l) + $(other_queues) ))" 0
sub erin@erin.example friend2@example.org "hello"
check "another account: accepted" "$?" 0
check "another account: delivered" "$(wait_delivered friend2@example.org)" 1

# ---- sendmail(1): a locked script's mail is held, never rejected (no bounce) ---------------
uid=$(id -u) # Postfix's sendmail takes -C from root only: the "web space user" is root
script_mail() { # script n -> sendmail's exit status
  printf 'From: contact@shop.example\nTo: friend%s@example.org\nSubject: contact form %s\nMessage-ID: <form-%s@shop.example>\nX-PHP-Originating-Script: %s:%s\n\nhello %s\n' \
    "$2" "$2" "$2" "$uid" "$1" "$2" \
    | /usr/sbin/sendmail -C "$POSTFIX_DIR/etc" -f contact@shop.example -t
}
for n in 11 12; do script_mail contact.php $n || echo "FAIL sendmail $n"; done
check "script mail 12 delivered" "$(wait_delivered friend12@example.org)" 1
script_mail contact.php 13
check "past the limit: held (not rejected)" "$(wait_held 1)" 1
has_re "milter log: held, non-SMTP" "$(wait_log "$work/milter.log" "held: script $uid:contact.php sent")" \
  "milter: [0-9A-F]*: held: script $uid:contact.php sent 3 messages in 1h (limit 2) (from <contact@shop.example>, 1 recipient(s); non-SMTP mail: held, a reject would bounce it to the sender)"
wait_finding "$uid:contact.php"
ad process >/dev/null 2>&1
sinc=$(dbq "$work/db/desk.db" "SELECT MIN(incident_id) FROM policy_events WHERE account = '$uid:contact.php'")
check "script: the finding is filed into an incident" "$( [ -n "$sinc" ] && [ "$sinc" -gt 0 ] && echo yes)" yes
ad incident lock "$sinc" --no-notify --reason "contact form abused" >"$work/lock.out" 2>&1
check "script: locked" "$(dbq "$work/db/desk.db" "SELECT subject FROM locks WHERE unlocked_at IS NULL AND incident_id = $sinc")" "$uid:contact.php"
sleep 0.6
script_mail contact.php 14; rc=$?
check "locked script: sendmail(1) itself succeeds (the decision comes later)" "$rc" 0
check "locked script: held" "$(wait_held 2)" 2
has_re "milter log: held with the ticket, not rejected" "$(wait_log "$work/milter.log" "is locked \[abusedesk #$sinc\]")" \
  "milter: [0-9A-F]*: held: script $uid:contact.php is locked \[abusedesk #$sinc\] (from <contact@shop.example>, 1 recipient(s); non-SMTP mail: held, a reject would bounce it to the sender)"
lacks_re "milter log: no non-SMTP mail rejected" "$(cat "$work/milter.log")" "rejected: script"
qid=$(sed -n "s/.*milter: \([0-9A-F]*\): held: script $uid:contact.php is locked.*/\1/p" "$work/milter.log" | head -1)
has_re "postfix log: milter-hold of that message" "$(wait_plog "$qid: milter-hold")" \
  "$qid: milter-hold: END-OF-MESSAGE from localhost\[127.0.0.1\]: milter triggers HOLD action"
check "postqueue: that message is in the hold queue" "$(postfix_queue_ids | grep -c "^$qid$")" 1
pc=$(postcat -c "$POSTFIX_DIR/etc" -q "$qid" 2>&1)
has_re "postcat: the held message is the script's" "$pc" "X-PHP-Originating-Script: $uid:contact.php"
has_re "postcat: and the form's text" "$pc" "hello 14"
script_mail other.php 15
check "the uid's other script flows" "$(wait_delivered friend15@example.org)" 1
sleep 1 # a bounce would be on its way by now
check "locked script: not delivered" "$(( $(delivered friend13@example.org) + $(delivered friend14@example.org) ))" 0
check "no bounce to the envelope sender" "$(delivered contact@shop.example)" 0
lacks_re "postfix log: no bounce made" "$(postfix_log)" "sender non-delivery notification"
lacks_re "postfix log: nothing rejected for non-SMTP mail" "$(postfix_log)" "milter-reject: END-OF-MESSAGE from localhost"
check "no queue but hold holds anything" "$(other_queues)" 0

# ---- SMTP: the script's headers from an SMTP client count for nothing -------------------
n_msgs=$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM outbound_log WHERE sender = '$uid:contact.php'")
swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --from contact@shop.example --to friend16@example.org \
  --header "Received: by web1 (Postfix, from userid $uid) id 1; $(date -R)" \
  --header "X-PHP-Originating-Script: $uid:contact.php" --header "Message-Id: <smtp-16@shop.example>" \
  --h-Subject "contact form 16" --body "hi" --timeout 20 >"$work/swaks.out" 2>&1
check "SMTP with the locked script's headers: accepted" "$?" 0
check "SMTP with the locked script's headers: delivered" "$(wait_delivered friend16@example.org)" 1
lacks_re "milter log: not taken for the script" "$(cat "$work/milter.log")" "contact form 16\|smtp-16"
for i in $(seq 1 30); do [ "$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM outbound_log")" -ge 6 ] && break; sleep 0.1; done
check "outbound log: not logged as the script's" \
  "$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM outbound_log WHERE sender = '$uid:contact.php'")" "$n_msgs"

postfix_stop >/dev/null 2>&1
kill "$mpid" 2>/dev/null; wait "$mpid" 2>/dev/null; mpid=
has_re "milter: stop statistics" "$(cat "$work/milter.log")" "milter: stopping ([0-9]* messages, 2 held, 1 rejected"
if [ "$fails" -gt 0 ]; then
  echo "--- milter log"; tail -30 "$work/milter.log"
  echo "--- postfix log"; postfix_log | tail -40
fi
echo "milter_reject: $fails failure(s)"
[ "$fails" = 0 ]

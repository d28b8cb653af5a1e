#!/usr/bin/env bash
# tests/milter.sh: BATV and the milter end to end with a private Postfix
# (tests/lib/postfix.sh) on 127.0.0.1, swaks and sendmail(1).
#   BATV: `abusedesk batv keygen|sign|check` (exit 0 and the original address
#   for a valid tag, 1 for untagged, altered, expired); the policy server
#   rejects a null-sender bounce (and one from MAILER-DAEMON/postmaster) to an
#   untagged address of a [batv] domain with a clear text, accepts a tagged one,
#   and lets ordinary mail and bounces to other domains pass.
#   The milter (smtpd_milters and non_smtpd_milters of the same Postfix):
#   `sendmail -t` by a web space user with X-PHP-Originating-Script is counted
#   per script: past [milter] script_msgs_per_hour its mail is held and a
#   finding raised (policy_events; the desk worker opens the incident), another
#   script of the same uid still flows; once the script is locked (`abusedesk
#   incident lock`) its mail is held with the ticket in the log; submission mail
#   (XCLIENT LOGIN) gets a BATV-tagged envelope sender that `batv check`
#   accepts; the same subject to many recipients raises a finding; every
#   outbound Message-ID lands in the outbound log (a keyed hash, not the id).
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
. "$top/tests/lib/smtp_sink.sh"
. "$top/tests/lib/postfix.sh"
. "$top/tests/lib/sql.sh"
. "$top/tests/lib/services.sh"
work=$(mktemp -d)
chmod 755 "$work" # Postfix's own user walks into it
fails=0
spid=
mpid=
cleanup() {
  [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
  [ -n "$mpid" ] && kill "$mpid" 2>/dev/null && wait "$mpid" 2>/dev/null
  postfix_stop >/dev/null 2>&1
  smtp_sink_stop
  if [ -n "${KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
. "$top/tests/lib/check.sh" # check, has, hasnt

for tool in swaks postfix jq; do
  command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || { echo "FAIL $tool missing (make deps)"; exit 1; }
done
smtp_sink_start "$work/sink" || { echo "FAIL smtp-sink"; exit 1; }
pport=$(smtp_sink_free_port)
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
listen = inet:127.0.0.1:$pport
user =
[batv]
domains = customer.example;shop.example
keys_file = $work/db/batv.keys
lifetime = 7d
[milter]
listen = inet:$mport@127.0.0.1
user =
script_msgs_per_hour = 3
fingerprint_rcpts = 6
[outbound]
key_file = $work/db/outbound.key
[notify]
templates_dir = $top/etc/templates
smarthost = smtp://127.0.0.1:$SMTP_SINK_PORT
from = abuse@hoster.example
CONF
ad() { ad_services "$bin" "$work/desk.conf" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }
printf 'customer_id,customer_name,contact_email,language,account,domain,uid,webroot\nC1001,Baeckerei,inhaber@mueller-privat.example,de,alice@customer.example,customer.example,,\nC3003,Shop,owner@shop-owner.example,en,,shop.example,%s,/var/www/shop\n' "$(id -u)" > "$work/dir.csv"
ad directory import "$work/dir.csv" >/dev/null 2>"$work/dir.err" || { echo "FAIL directory import: $(cat "$work/dir.err")"; fails=$((fails + 1)); }

# ---- BATV on the command line --------------------------------------------------
out=$(ad batv check prvs=0000aaaaaa=alice@customer.example 2>&1); rc=$?
check "batv check without keys: exit 78" "$rc" 78
out=$(ad batv keygen 2>&1); rc=$?
check "batv keygen: exit 0" "$rc" 0
has_re "batv keygen: key 0" "$out" "key 0 added"
check "batv keys file: not readable by others" "$(stat -c %a "$work/db/batv.keys" | cut -c3)" 0
tagged=$(ad batv sign alice@customer.example); rc=$?
check "batv sign: exit 0" "$rc" 0
has_re "batv sign: prvs=KDDDSSSSSS=address" "$tagged" '^prvs=0[0-9]\{3\}[0-9a-f]\{6\}=alice@customer.example$'
out=$(ad batv check "$tagged"); rc=$?
check "batv check tagged: exit 0" "$rc" 0
check "batv check tagged: the original address" "$out" alice@customer.example
out=$(ad batv check "<$(tr a-z A-Z <<<"$tagged")>"); rc=$?
check "batv check: case and <> do not matter" "$rc" 0
out=$(ad batv check alice@customer.example 2>&1); rc=$?
check "batv check untagged: exit 1" "$rc" 1
has_re "batv check untagged: says so" "$out" untagged
forged="${tagged:0:10}$(printf '%s' "${tagged:10:1}" | tr '0-9a-f' '1-9a-f0')${tagged:11}"
out=$(ad batv check "$forged" 2>&1); rc=$?
check "batv check altered signature: exit 1" "$rc" 1
has_re "batv check altered signature: bad signature" "$out" "bad signature"
out=$(ad batv check "${tagged/alice/alicia}" 2>&1); rc=$?
check "batv check other address under the tag: exit 1" "$rc" 1
out=$(ad batv sign 'SRS0=HHH=TT=example.org=x@forwarder.example' 2>&1); rc=$?
check "batv sign SRS address: refused" "$rc" 65
# A key rotation: the old tag still verifies, new tags use key 1.
ad batv keygen >/dev/null
tagged1=$(ad batv sign alice@customer.example)
has_re "batv after keygen: key 1 signs" "$tagged1" '^prvs=1'
out=$(ad batv check "$tagged"); rc=$?
check "batv after keygen: a tag of key 0 still valid" "$rc" 0
# An expired tag: signed with a lifetime of 1 day ten days ago is made by
# hand (the day field), its signature then no longer matches either: the
# check says bad signature or expired, never valid.
old=$(python3 - "$tagged" <<'PY'
import sys
t = sys.argv[1]
d = (int(t[6:9]) - 10) % 1000
print(t[:6] + "%03d" % d + t[9:])
PY
)
out=$(ad batv check "$old" 2>&1); rc=$?
check "batv check old day: exit 1" "$rc" 1

# ---- the policy server: bounces to BATV domains ------------------------------------
"$bin" -c "$work/desk.conf" serve 2>"$work/serve.log" &
spid=$!
for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$pport") 2>/dev/null && break; sleep 0.05; done
check "serve: listening" "$( (exec 3<>"/dev/tcp/127.0.0.1/$pport") 2>/dev/null && echo yes)" yes
"$bin" -c "$work/desk.conf" milter 2>"$work/milter.log" &
mpid=$!
for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$mport") 2>/dev/null && break; sleep 0.05; done
check "milter: listening" "$( (exec 3<>"/dev/tcp/127.0.0.1/$mport") 2>/dev/null && echo yes)" yes
postfix_start "$work/postfix" "inet:127.0.0.1:$pport" "$SMTP_SINK_PORT" \
  "smtpd_milters = inet:127.0.0.1:$mport" "non_smtpd_milters = inet:127.0.0.1:$mport" \
  "milter_default_action = accept" >/dev/null \
  || { echo "FAIL postfix"; postfix_log | tail -20; exit 1; }
has_re "serve: BATV keys read" "$(cat "$work/serve.log")" "BATV: 2 key(s)"
bounce() { # from to -> swaks exit status, output in $work/swaks.out
  swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --from "$1" --to "$2" \
    --h-Subject "Undelivered Mail Returned to Sender" --body "bounce" --timeout 20 >"$work/swaks.out" 2>&1
}
bounce '<>' bob@customer.example; rc=$?
check "null sender to an untagged BATV address: rejected" "$rc" 24
has_re "rejection text names BATV" "$(cat "$work/swaks.out")" "554 5.7.1 .*no valid BATV tag (untagged)"
bounce MAILER-DAEMON@mx.remote.example bob@customer.example; rc=$?
check "MAILER-DAEMON to an untagged BATV address: rejected" "$rc" 24
bounce postmaster@mx.remote.example bob@shop.example; rc=$?
check "postmaster to an untagged address of the second BATV domain: rejected" "$rc" 24
bounce '<>' "$forged"; rc=$?
check "null sender to a forged tag: rejected" "$rc" 24
has_re "rejection text: bad signature" "$(cat "$work/swaks.out")" "bad signature"
bounce '<>' "$tagged1"; rc=$?
check "null sender to a tagged address: accepted" "$rc" 0
has_re "tagged bounce: queued" "$(cat "$work/swaks.out")" "250 2.0.0 Ok: queued"
bounce '<>' "$tagged"; rc=$?
check "null sender to a tag of the older key: accepted" "$rc" 0
bounce '<>' bob@elsewhere.example; rc=$?
check "null sender to another domain: not our business" "$rc" 0
bounce friend@remote.example bob@customer.example; rc=$?
check "ordinary mail to a BATV domain: accepted" "$rc" 0
has_re "serve log: the rejections" "$(cat "$work/serve.log")" "BATV: bounce from <> to <bob@customer.example> rejected: untagged"


# ---- the milter: scripts injecting mail with sendmail(1) ------------------------------
# Postfix's sendmail takes -C (the private instance) from root only, so the
# "web space user" is the test's own uid (root: "from userid 0").
nobody_uid=$(id -u)
script_mail() { # script n -> sendmail's exit status
  printf 'From: contact@shop.example\nTo: friend%s@example.org\nSubject: contact form %s\nMessage-ID: <form-%s@shop.example>\nX-PHP-Originating-Script: %s:%s\n\nhello %s\n' \
    "$2" "$2" "$2" "$nobody_uid" "$1" "$2" \
    | /usr/sbin/sendmail -C "$POSTFIX_DIR/etc" -f contact@shop.example -t
}
delivered() { grep -l "^X-Rcpt-Args: <$1>" "$work"/sink/msg.* 2>/dev/null | wc -l; }
wait_delivered() { for i in $(seq 1 150); do [ "$(delivered "$1")" -ge 1 ] && break; sleep 0.1; done; delivered "$1"; }
wait_held() { for i in $(seq 1 150); do [ "$(postfix_queue_ids | wc -l)" -ge "$1" ] && break; sleep 0.1; done; postfix_queue_ids | wc -l; }
wait_log() { for i in $(seq 1 150); do grep -q -- "$2" "$1" && break; sleep 0.1; done; cat "$1"; }
for n in 1 2 3; do script_mail contact.php "$n" || echo "FAIL sendmail $n"; done
check "script mail 1 delivered" "$(wait_delivered friend1@example.org)" 1
check "script mail 3 delivered" "$(wait_delivered friend3@example.org)" 1
# The fourth in the hour crosses script_msgs_per_hour = 3: held, a finding.
script_mail contact.php 4
check "script mail 4: held" "$(wait_held 1)" 1
has_re "milter log: held, per script" "$(wait_log "$work/milter.log" "held: script")" "held: script $nobody_uid:contact.php sent 4 messages in 1h (limit 3)"
qid=$(sed -n 's/.*milter: \([0-9A-F]*\): held: script.*/\1/p' "$work/milter.log" | head -1)
has_re "postfix log: milter-hold of that message" "$(postfix_log)" "$qid: milter-hold: END-OF-MESSAGE from localhost\[127.0.0.1\]: milter triggers HOLD action"
check "script mail 4: not delivered" "$(delivered friend4@example.org)" 0
# Another script of the same web space is counted on its own.
script_mail other.php 5
check "another script of the uid: delivered" "$(wait_delivered friend5@example.org)" 1
for i in $(seq 1 50); do [ "$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM policy_events WHERE account = '$nobody_uid:contact.php'")" -ge 1 ] && break; sleep 0.1; done
check "finding for the script queued" "$(dbq "$work/db/desk.db" "SELECT stage, decided_by FROM policy_events WHERE account = '$nobody_uid:contact.php'")" "alert|abusedesk milter"
ad process >/dev/null 2>&1
inc=$(dbq "$work/db/desk.db" "SELECT incident_id FROM policy_events WHERE account = '$nobody_uid:contact.php'")
check "desk worker: the finding is filed into an incident" "$( [ -n "$inc" ] && [ "$inc" -gt 0 ] && echo yes)" yes
ad incident lock "$inc" --no-notify --reason "contact form abused" >"$work/lock.out" 2>&1
check "incident lock: a lock row for the script" "$(dbq "$work/db/desk.db" "SELECT subject, incident_id FROM locks WHERE unlocked_at IS NULL AND subject = '$nobody_uid:contact.php'")" "$nobody_uid:contact.php|$inc"
sleep 0.6 # the milter reloads locks every 250 ms
script_mail contact.php 6
check "locked script's mail: held" "$(wait_held 2)" 2
has_re "milter log: held with the ticket" "$(wait_log "$work/milter.log" "is locked")" "held: script $nobody_uid:contact.php is locked \[abusedesk #$inc\]"
qid=$(sed -n 's/.*milter: \([0-9A-F]*\): held: script.*is locked.*/\1/p' "$work/milter.log" | head -1)
has_re "postfix log: that message held" "$(postfix_log)" "$qid: milter-hold: END-OF-MESSAGE"
check "the held message is in the hold queue" "$(postfix_queue_ids | grep -c "^$qid$")" 1
check "locked script's mail: not delivered" "$(delivered friend6@example.org)" 0
script_mail other.php 7
check "the uid's other script still flows" "$(wait_delivered friend7@example.org)" 1

# ---- the milter: submission (smtpd_milters) ------------------------------------------
swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --xclient "LOGIN=alice@customer.example" \
  --from alice@customer.example --to friend8@example.org --h-Subject "hello" \
  --header "Message-Id: <sub-1@customer.example>" --body "hi" --timeout 20 >"$work/swaks.out" 2>&1
check "submission: accepted" "$?" 0
check "submission: delivered" "$(wait_delivered friend8@example.org)" 1
env_from=$(grep -h "^X-Mail-Args:" $(grep -l "^X-Rcpt-Args: <friend8@example.org>" "$work"/sink/msg.*) | sed 's/^X-Mail-Args: <\([^>]*\)>.*/\1/')
has_re "submission: the envelope sender is BATV-tagged" "$env_from" '^prvs=1[0-9]\{3\}[0-9a-f]\{6\}=alice@customer.example$'
out=$(ad batv check "$env_from"); rc=$?
check "submission: the tag checks" "$rc|$out" "0|alice@customer.example"
grep -h "^From:" $(grep -l "^X-Rcpt-Args: <friend8@example.org>" "$work"/sink/msg.*) > "$work/hdr_from"
has_re "submission: the header From is left alone" "$(cat "$work/hdr_from")" "alice@customer.example"
# Mail from a domain without BATV keeps its sender.
swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --xclient "LOGIN=erin@erin.example" \
  --from erin@erin.example --to friend9@example.org --body "hi" --timeout 20 >/dev/null 2>&1
wait_delivered friend9@example.org >/dev/null
check "other domain: sender untouched" "$(grep -h "^X-Mail-Args:" $(grep -l "^X-Rcpt-Args: <friend9@example.org>" "$work"/sink/msg.*) | cut -d' ' -f2)" "<erin@erin.example>"
# The same subject to 7 recipients (fingerprint_rcpts = 6): a finding for alice.
swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --xclient "LOGIN=alice@customer.example" \
  --from alice@customer.example --to "r1@example.org,r2@example.org,r3@example.org,r4@example.org,r5@example.org,r6@example.org,r7@example.org" \
  --h-Subject "cheap pills" --body "buy now" --timeout 20 >/dev/null 2>&1
for i in $(seq 1 50); do [ "$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM policy_events WHERE account = 'alice@customer.example'")" -ge 1 ] && break; sleep 0.1; done
has_re "fingerprint: a finding for the account" "$(dbq "$work/db/desk.db" "SELECT reason FROM policy_events WHERE account = 'alice@customer.example'")" 'the same subject "cheap pills" to 7 recipients in 1h'
# The outbound log: the Message-IDs of what left, hashed.
for i in $(seq 1 50); do [ "$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM outbound_log WHERE sender = 'alice@customer.example'")" -ge 2 ] && break; sleep 0.1; done
check "outbound log: the script's rows (held mail too: it may be released)" "$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM outbound_log WHERE sender = '$nobody_uid:contact.php'")" 5
check "outbound log: the account's rows" "$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM outbound_log WHERE sender = 'alice@customer.example'")" 2
check "outbound log: no Message-ID in clear" "$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM outbound_log WHERE sender LIKE '%sub-1%'")" 0


# ---- fail open: a milter whose database cannot be reached lets mail flow ------------------
kill "$mpid" 2>/dev/null; wait "$mpid" 2>/dev/null
sed "s#^path = .*#path = $work/no/such/dir/desk.db#" "$work/desk.conf" > "$work/down.conf"
ABUSEDESK_STORE_CONNINFO="host=127.0.0.1 port=1 dbname=none connect_timeout=1" \
  "$bin" -c "$work/down.conf" milter 2>"$work/milter_down.log" &
mpid=$!
for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$mport") 2>/dev/null && break; sleep 0.05; done
has_re "store down: the milter says so" "$(wait_log "$work/milter_down.log" "database unavailable")" "database unavailable, mail flows"
swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --xclient "LOGIN=alice@customer.example" \
  --from alice@customer.example --to friend10@example.org --body "hi" --timeout 20 >/dev/null 2>&1
check "store down: submission still delivered" "$(wait_delivered friend10@example.org)" 1
check "store down: still BATV-tagged" "$(grep -h "^X-Mail-Args:" $(grep -l "^X-Rcpt-Args: <friend10@example.org>" "$work"/sink/msg.*) | grep -c 'prvs=1')" 1
script_mail other.php 11
check "store down: script mail still delivered" "$(wait_delivered friend11@example.org)" 1
kill "$mpid" 2>/dev/null; wait "$mpid" 2>/dev/null
"$bin" -c "$work/desk.conf" milter 2>>"$work/milter.log" &
mpid=$!
for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$mport") 2>/dev/null && break; sleep 0.05; done

# ---- classify: the outbound log and the BATV tag as evidence -----------------------------
bounce() { # file bounced-to original-header-lines...
  local f=$1 to=$2
  shift 2
  {
    printf '%s\n' "From: MAILER-DAEMON@mx.far-away.test" "To: $to" \
      "Subject: Undelivered Mail Returned to Sender" "Date: $(date -R)" \
      "Message-ID: <b$RANDOM@mx.far-away.test>" "MIME-Version: 1.0" \
      'Content-Type: multipart/report; report-type=delivery-status; boundary="XX"' "" \
      "--XX" "Content-Type: text/plain" "" "Your message could not be delivered." "" \
      "--XX" "Content-Type: message/delivery-status" "" "Reporting-MTA: dns; mx.far-away.test" "" \
      "Final-Recipient: rfc822; nobody@far-away.test" "Action: failed" "Status: 5.1.1" "" \
      "--XX" "Content-Type: text/rfc822-headers" ""
    printf '%s\n' "$@"
    printf '\n--XX--\n'
  } > "$f"
}
bounce "$work/b_mailbox.eml" "$env_from" "Return-Path: <$env_from>" "From: alice@customer.example" \
  "To: friend8@example.org" "Subject: hello" "Message-ID: <sub-1@customer.example>"
out=$(ad classify --json "$work/b_mailbox.eml")
check "classify: our submission's mail: compromised_mailbox" "$(jq -r .verdict <<<"$out")" compromised_mailbox
check "classify: the account from the outbound log" "$(jq -r .subject <<<"$out")" alice@customer.example
has_re "classify: evidence: outbound log" "$(jq -r '.evidence[]' <<<"$out")" "outbound log: Message-ID <sub-1@customer.example> left through our hosts on .*, sent by alice@customer.example"
has_re "classify: evidence: valid BATV tag" "$(jq -r '.evidence[]' <<<"$out")" "BATV: the bounced-to address .* carries a valid tag of ours"
bounce "$work/b_script.eml" contact@shop.example "From: contact@shop.example" "To: friend1@example.org" \
  "Subject: contact form 1" "Message-ID: <form-1@shop.example>"
out=$(ad classify --json "$work/b_script.eml")
check "classify: the contact form's mail: script" "$(jq -r .verdict <<<"$out")" script
check "classify: the script from the outbound log" "$(jq -r .subject <<<"$out")" "$nobody_uid:contact.php"
bounce "$work/b_joejob.eml" alice@customer.example "Return-Path: <alice@customer.example>" \
  "Received: from botnet.example ([203.0.113.99]) by mx.far-away.test" \
  "From: alice@customer.example" "To: nobody@far-away.test" "Subject: cheap watches" "Message-ID: <spam-77@botnet.example>"
out=$(ad classify --json "$work/b_joejob.eml")
check "classify: backscatter without a tag: joejob" "$(jq -r .verdict <<<"$out")" joejob
has_re "classify: evidence: BATV untagged" "$(jq -r '.evidence[]' <<<"$out")" "BATV: the bounced-to address alice@customer.example is of a BATV domain but its tag is untagged"
has_re "classify: evidence: not in the outbound log" "$(jq -r '.evidence[]' <<<"$out")" "outbound log: Message-ID <spam-77@botnet.example> is not among the mails"

postfix_stop >/dev/null 2>&1
kill "$mpid" 2>/dev/null; wait "$mpid" 2>/dev/null; mpid=
has_re "milter: stop statistics" "$(cat "$work/milter.log")" "milter: stopping ([0-9]* messages, 2 held"
has_re "milter (restarted): stop statistics" "$(cat "$work/milter.log")" "milter: stopping (0 messages, 0 held"
if [ "$fails" -gt 0 ]; then
  echo "--- milter log"; tail -30 "$work/milter.log"
  echo "--- serve log"; tail -30 "$work/serve.log"
  echo "--- postfix log"; postfix_log | tail -30
fi
echo "milter: $fails failure(s)"
[ "$fails" = 0 ]

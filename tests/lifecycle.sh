#!/usr/bin/env bash
# tests/lifecycle.sh: the incident lifecycle end to end, with real servers on
# 127.0.0.1: Postfix's smtp-sink as the smarthost (every delivered mail is
# checked: recipient, language, remediation steps in order, ticket reference,
# auto-generated headers), a webhook receiver that verifies the HMAC signature,
# and a lock/unlock command that logs its arguments.
#   complaint burst -> auto-lock (hooks, customer + team mail) -> unlock refused
#   without a new password -> reuse of the leaked password refused -> new
#   password -> customer reply (by In-Reply-To) -> unlock (hooks, unlock notice)
#   -> new complaints reopen the incident; a script incident locked by a person
#   while the smarthost is down: the mail arrives exactly once after it comes up;
#   auto-unlock of a first incident; kill -9 in the middle of a hook call loses
#   nothing.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/lib/sql.sh"  # dbq: the store on SQLite or PostgreSQL
bin=${AD_BINARY:-$top/build/abusedesk}
corpus="$(bash "$top/tools/shared-dir.sh")/corpus/arf"
mk="python3 $top/tests/desk/mkcomplaint.py --mx-auth auto"
. "$top/tests/lib/smtp_sink.sh"
work=$(mktemp -d)
fails=0
whpid=
cleanup() {
  smtp_sink_stop
  [ -n "$whpid" ] && kill "$whpid" 2>/dev/null
  [ -n "${late_pid:-}" ] && kill "$late_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

check() { # name got want
  if [ "$2" != "$3" ]; then
    echo "FAIL $1: got '$2', want '$3'"
    fails=$((fails + 1))
  else
    echo "ok   $1"
  fi
}
has() { # name file-or-text pattern: the pattern occurs
  if grep -q -- "$3" <<<"$2"; then echo "ok   $1"; else echo "FAIL $1: no '$3'"; fails=$((fails + 1)); fi
}

smtp_sink_start "$work/mail" || { echo "FAIL smtp-sink"; exit 1; }
python3 "$top/tests/lib/webhook_receiver.py" "$work/wh.port" "$work/wh.log" --secret s3cret &
whpid=$!
for i in $(seq 1 100); do [ -s "$work/wh.port" ] && break; sleep 0.05; done
whport=$(cat "$work/wh.port")

cat > "$work/hook.sh" <<'EOF'
#!/bin/sh
# logs one line per call: the arguments separated by |
log=$(dirname "$0")/hook.log
printf '%s' "$1" >> "$log"; shift
for a in "$@"; do printf '|%s' "$a" >> "$log"; done
echo >> "$log"
# hooks run with a clean environment: a flag file makes this one hang
[ -f "$(dirname "$0")/hook.sleep" ] && sleep 3
exit 0
EOF
chmod +x "$work/hook.sh"

conf() { # FILE SMARTHOST_PORT [extra lines]
  cat > "$1" <<EOF
[store]
path = $work/desk.db
[intake]
authserv_id = mx.hoster.example
spool_dir = $work/spool
quarantine_dir = $work/quarantine
[log]
level = warning
[network]
our_hosts = *.hoster.example
our_ips = 198.51.100.0/24
[providers]
yahoo.com = 1.0 manual
hotmail.com = 1.0 manual signed_by=hotmail.com
senderscore.net = 0.8
[incidents]
lock_score = 30;60;120
[act]
lock_command = $work/hook.sh lock
unlock_command = $work/hook.sh unlock
webhook_url = http://127.0.0.1:$whport/hook
webhook_secret = s3cret
hook_timeout = 5s
retry_min = 1s
retry_max = 2s
${3:-}
[notify]
smarthost = smtp://127.0.0.1:$2
from = abuse@hoster.example
abuse_team = team@hoster.example
templates_dir = $top/etc/templates
desk_name = Abuse-Team Example Hosting
team_language = en
EOF
}
conf "$work/desk.conf" "$SMTP_SINK_PORT"
. "$top/tests/lib/services.sh"
ad() { ad_services "$bin" "$work/desk.conf" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }
cat > "$work/dir.csv" <<'EOF'
customer_id,customer_name,contact_email,language,account,domain,uid
C1001,Bäckerei Müller,inhaber@mueller-privat.example,de,alice@customer.example,customer.example,
C2002,Fjord Travel Ltd.,it@fjord-travel.example,en,bookings@fjord-travel.example,fjord-travel.example,10057
C3003,Carol Cats,carol@home.example,en,carol@cats.example,cats.example,
EOF
ad directory import "$work/dir.csv" >/dev/null || { echo "FAIL directory import"; exit 1; }

now() { date -R; }
auth() { printf '%s\n' --received \
  "from mx2.out.hoster.example (mx2.out.hoster.example [198.51.100.25]) by mx.recipient.test with ESMTPS id R$RANDOM; $(now)" \
  --received \
  "from [203.0.113.7] (dsl.example.test [203.0.113.7]) (Authenticated sender: $1) by smtp.hoster.example (Postfix) with ESMTPSA id S$RANDOM; $(now)"; }
complain() { # account subject template
  mapfile -t rcv < <(auth "$1")
  $mk "$corpus/$3.eml" --arrival now-20m --date now-25m --source-ip 198.51.100.25 --from "$1" \
    --subject "$2" "${rcv[@]}" | ad ingest -q --source test
}
mails_to() { grep -l "^X-Rcpt-Args: <$1>" "$work"/mail/msg.* 2>/dev/null; }
body_of() { awk 'f; /^\t/ && ++n == 2 { f = 1 }' "$1"; } # the message after smtp-sink's lines
decoded() { python3 -c '
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.default)
print("Subject:", m["Subject"]); print("From:", m["From"]); print("Reply-To:", m["Reply-To"])
print("Auto-Submitted:", m["Auto-Submitted"]); print("Message-ID:", m["Message-ID"])
print(); print(m.get_body(("plain",)).get_content())' <(body_of "$1"); }
inc_state() { ad incident show --json "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['state'])"; }

# The panel knew alice's current password before any trouble.
ad account password-changed alice@customer.example --at "$(date -u -d '-30 days' +%FT%TZ)" \
  --fingerprint "old-hash-0001" >/dev/null

# 1. A compromised mailbox: a burst that reaches the lock stage -> locked at once.
for s in "Cheap pills" "Cheap pills" "Ihr Paket" "Cheap pills"; do
  for t in arf-02 arf-22 arf-25; do complain alice@customer.example "$s" "$t"; done
done
id=$(ad incidents --json | python3 -c "
import json,sys
for l in sys.stdin:
    d=json.loads(l)
    if d['subject']=='alice@customer.example': print(d['id'])")
check "burst: incident" "$([ -n "$id" ] && echo yes)" yes
check "burst: auto-locked, customer notified" "$(inc_state "$id")" customer_notified
check "lock hook: called once with account, customer, incident, reason" \
  "$(grep -c "^lock|alice@customer.example|C1001|$id|lock stage reached" "$work/hook.log")" 1
check "lock webhook: signed, once" "$(python3 -c "
import json
n=[json.loads(l) for l in open('$work/wh.log')]
l=[x for x in n if x['headers'].get('x-abusedesk-event')=='lock']
print(len(l), all(x['signature_ok'] for x in l), l[0]['headers'].get('x-abusedesk-delivery'))")" \
  "1 True lock-1-webhook"
check "policy view: account locked" "$(dbq "$work/desk.db" "SELECT COUNT(*) FROM locks WHERE subject='alice@customer.example' AND unlocked_at IS NULL")" 1
f=$(mails_to inhaber@mueller-privat.example | head -1)
check "customer mail: to the contact address, not the locked mailbox" "$([ -n "$f" ] && echo yes)" yes
check "customer mail: nothing to the locked mailbox" "$(mails_to alice@customer.example | wc -l)" 0
m=$(decoded "$f")
has "customer mail: ticket in the subject" "$m" "^Subject: \[abusedesk #$id\]"
has "customer mail: German" "$m" "gesperrt"
has "customer mail: UTF-8 umlauts intact" "$m" "Geräte"
has "customer mail: charset utf-8, quoted-printable" "$(body_of "$f" | tr -d '\r')" 'charset=utf-8'
has "customer mail: names the customer" "$m" "Bäckerei Müller"
has "customer mail: Reply-To the desk" "$m" "^Reply-To: .*abuse@hoster.example"
has "customer mail: auto-generated" "$m" "^Auto-Submitted: auto-generated"
has "customer mail: names the mailbox" "$m" "alice@customer.example"
has "customer mail: example subject line" "$m" "Cheap pills"
order=$(python3 - "$f" <<'EOF'
import email, sys, re
from email import policy
raw = open(sys.argv[1], "rb").read().split(b"\n")
# skip smtp-sink's own lines: up to the second line starting with a TAB
n = 0
for i, l in enumerate(raw):
    if l.startswith(b"\t"):
        n += 1
        if n == 2:
            raw = raw[i + 1:]
            break
m = email.message_from_bytes(b"\n".join(raw), policy=policy.default)
t = m.get_body(("plain",)).get_content().lower()
# the numbered steps of the German compromised-mailbox notice
marks = [("scan", r"\n1\. [^\n]*(schadsoftware|viren)"), ("password", r"\n2\. [^\n]*passwort"),
         ("reuse", r"\n3\. [^\n]*nie wieder"), ("other", r"\n4\. [^\n]*andere passw"),
         ("reply", r"\n5\. [^\n]*antworten")]
pos = []
for name, rx in marks:
    mm = re.search(rx, t)
    pos.append((mm.start() if mm else -1, name))
print(" ".join(n for p, n in sorted(pos) if p >= 0), "| missing:", [n for p, n in pos if p < 0])
EOF
)
check "customer mail: steps in order (scan, password, no reuse, other passwords, reply)" \
  "$order" "scan password reuse other reply | missing: []"
tf=$(mails_to team@hoster.example | head -1)
check "team alert: delivered" "$([ -n "$tf" ] && echo yes)" yes
has "team alert: names the incident" "$(decoded "$tf")" "incident show $id"

# 2. Unlock before a new password: refused. Reusing the leaked password: refused.
ad incident unlock "$id" --by tester 2>"$work/err"; rc=$?
check "unlock without new password: refused" "$rc" 3
has "unlock refusal says why" "$(cat "$work/err")" "not changed since the lock"
ad account password-changed alice@customer.example --fingerprint "old-hash-0001" 2>"$work/err" >/dev/null; rc=$?
check "reused password: refused" "$rc" 65
has "reuse refusal says why" "$(cat "$work/err")" "reuse of the leaked password"
ad incident unlock "$id" --by tester 2>/dev/null; rc=$?
check "unlock after refused change: still refused" "$rc" 3
ad account password-changed alice@customer.example --fingerprint "new-hash-0002" >/dev/null
check "new password: recorded" "$?" 0

# 3a. A stranger "replies" with the (guessable) ticket number: attached, no state change.
printf 'From: someone@evil.example\nTo: abuse@hoster.example\nSubject: Re: [abusedesk #%s] all done, unlock please\nMessage-ID: <fake-1@evil.example>\nDate: %s\n\nDone.\n' \
  "$id" "$(now)" | ad ingest -q --source test
check "forged reply: state unchanged" "$(inc_state "$id")" customer_notified
has "forged reply: audited as unverified" "$(ad incident show "$id")" "NOT verified"

# 3. The customer replies (In-Reply-To our notification, no ticket in Subject).
msgid=$(grep -m1 -i '^Message-ID:' <(body_of "$f") | sed 's/^[^<]*<\(.*\)>.*/\1/')
printf 'From: Hans Mueller <inhaber@mueller-privat.example>\nTo: abuse@hoster.example\nSubject: Re: Postfach gesperrt\nIn-Reply-To: <%s>\nMessage-ID: <reply-1@mueller-privat.example>\nDate: %s\n\nGuten Tag,\nwir haben alle Rechner gescannt und das Passwort geaendert.\n\n> Ihr Postfach wurde gesperrt\n' \
  "$msgid" "$(now)" | ad ingest -q --source test
check "reply: customer_replied" "$(inc_state "$id")" customer_replied
check "reply: not scored as a complaint" "$(dbq "$work/desk.db" "SELECT COUNT(*) FROM scores s JOIN incident_replies r ON r.report_id = s.report_id")" 0
sleep 0.2
check "reply: the team is told" "$(for x in $(mails_to team@hoster.example); do body_of "$x" | grep -c 'replied'; done | awk '{s+=$1} END {print (s>0)}')" 1

# 4. Unlock: hooks, unlock notice in German.
ad incident unlock "$id" --by tester --reason "customer cleaned up" >/dev/null
check "unlock: resolved" "$(inc_state "$id")" resolved
check "unlock hook: called" "$(grep -c "^unlock|alice@customer.example|C1001|$id|customer cleaned up" "$work/hook.log")" 1
check "unlock: lock released" "$(dbq "$work/desk.db" "SELECT COUNT(*) FROM locks WHERE subject='alice@customer.example' AND unlocked_at IS NULL")" 0
check "unlock: two customer mails now" "$(mails_to inhaber@mueller-privat.example | wc -l)" 2
u=$(ls -t $(mails_to inhaber@mueller-privat.example) | head -1)
has "unlock notice: ticket" "$(decoded "$u")" "^Subject: \[abusedesk #$id\]"
audit=$(ad incident show "$id")
for a in locked notified password-refused password-changed replied unlocked hook-done mail-sent; do
  has "audit: $a" "$audit" " $a "
done

# 5. New complaints after the resolution reopen the incident.
for t in arf-02 arf-22; do complain alice@customer.example "Again" "$t"; done
check "reopen: same incident back (open: its earlier complaints were dealt with)" "$(inc_state "$id")" open
has "reopen: audited" "$(ad incident show "$id")" "reopened"

# 6. Smarthost down: a script incident locked by a person; the mail waits and
# arrives exactly once when the smarthost is up.
port2=$(smtp_sink_free_port)
conf "$work/down.conf" "$port2"
for i in 1 2 3; do
  $mk "$corpus/arf-02.eml" --arrival now-20m --date now-25m --source-ip 198.51.100.40 \
    --from wordpress@fjord-travel.example --subject "Booking $i" \
    --received "from web3.hoster.example (web3.hoster.example [198.51.100.40]) by mx.recipient.test with ESMTP id W$i; $(now)" \
    --received "by web3.hoster.example (Postfix, from userid 10057) id X$i; $(now)" \
    --header "X-PHP-Originating-Script: 10057:wp-content/plugins/old-form/send.php" \
    | ad_services "$bin" "$work/down.conf" ingest -q --source test
done
sid=$(ad incidents --json | python3 -c "
import json,sys
for l in sys.stdin:
    d=json.loads(l)
    if d['subject_kind']=='script': print(d['id'])")
"$bin" -c "$work/down.conf" incident lock "$sid" --by tester --reason "contact form abused" >/dev/null 2>&1
check "down: locked and notified (queued)" "$(inc_state "$sid")" customer_notified
pending=$("$bin" -c "$work/down.conf" outbox --json | grep '"type":"mail"' | grep -c 'it@fjord-travel.example')
check "down: customer mail pending in the outbox" "$pending" 1
has "down: the error is shown" "$("$bin" -c "$work/down.conf" outbox)" "error:"
mkdir -p "$work/mail2"
/usr/sbin/smtp-sink -u root -d "$work/mail2/msg." "127.0.0.1:$port2" 64 </dev/null >/dev/null 2>&1 &
late_pid=$!
for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port2") 2>/dev/null && break; sleep 0.05; done
sleep 2.2 # past the retry wait
"$bin" -c "$work/down.conf" outbox --flush >/dev/null
"$bin" -c "$work/down.conf" outbox --flush >/dev/null
check "up: the mail arrived exactly once" "$(grep -l '^X-Rcpt-Args: <it@fjord-travel.example>' "$work"/mail2/msg.* 2>/dev/null | wc -l)" 1
sm=$(grep -l '^X-Rcpt-Args: <it@fjord-travel.example>' "$work"/mail2/msg.* | head -1)
sdec=$(decoded "$sm")
has "script mail: English" "$sdec" "locked"
has "script mail: names the script" "$sdec" "wp-content/plugins/old-form/send.php"
has "script mail: CAPTCHA" "$sdec" "CAPTCHA"
check "up: nothing pending" "$("$bin" -c "$work/down.conf" outbox --json | grep -c 'it@fjord-travel.example')" 0

# 7. Auto-unlock of a first incident: reply + new password unlock by themselves.
conf "$work/auto.conf" "$SMTP_SINK_PORT" "auto_unlock = true"
for s in "Pills" "Pills" "Parcel" "Pills"; do
  for t in arf-02 arf-22 arf-25; do
    mapfile -t rcv < <(auth carol@cats.example)
    $mk "$corpus/$t.eml" --arrival now-20m --date now-25m --source-ip 198.51.100.25 --from carol@cats.example \
      --subject "$s" "${rcv[@]}" | ad_services "$bin" "$work/auto.conf" ingest -q --source test
  done
done
cid=$(ad incidents --json | python3 -c "
import json,sys
for l in sys.stdin:
    d=json.loads(l)
    if d['subject']=='carol@cats.example': print(d['id'])")
check "auto: locked" "$(inc_state "$cid")" customer_notified
"$bin" -c "$work/auto.conf" account password-changed carol@cats.example --fingerprint "carol-new" >/dev/null
cmid=$(dbq "$work/desk.db" "SELECT message_id FROM outbox WHERE incident_id = $cid AND kind = 'customer' ORDER BY id LIMIT 1")
printf 'From: carol@home.example\nTo: abuse@hoster.example\nSubject: Re: [abusedesk #%s] done\nIn-Reply-To: <%s>\nMessage-ID: <reply-2@home.example>\nDate: %s\n\nAll scanned, new password set.\n' \
  "$cid" "$cmid" "$(now)" | ad_services "$bin" "$work/auto.conf" ingest -q --source test
check "auto: unlocked by itself" "$(inc_state "$cid")" resolved
has "auto: audited as the program" "$(ad incident show "$cid")" "abusedesk  unlocked"

# 8. kill -9 in the middle of a lock hook: nothing lost.
for s in "Spam A" "Spam A" "Spam B" "Spam A"; do
  for t in arf-02 arf-22 arf-25; do complain bookings@fjord-travel.example "$s" "$t"; done
done 2>/dev/null
bid=$(ad incidents --json | python3 -c "
import json,sys
for l in sys.stdin:
    d=json.loads(l)
    if d['subject']=='bookings@fjord-travel.example': print(d['id'], d['state'])")
check "kill: incident locked at once" "$(echo "$bid" | cut -d' ' -f2)" customer_notified
bid=${bid%% *}
# Unlock by a person while the unlock hook hangs; kill -9 mid-way.
ad account password-changed bookings@fjord-travel.example >/dev/null
before=$(grep -c '^unlock|bookings' "$work/hook.log")
touch "$work/hook.sleep"
"$bin" -c "$work/desk.conf" incident unlock "$bid" --by tester --reason "cleaned" >/dev/null 2>&1 &
upid=$!
for i in $(seq 1 100); do [ "$(grep -c '^unlock|bookings' "$work/hook.log")" -gt "$before" ] && break; sleep 0.05; done
kill -9 "$upid" 2>/dev/null; wait "$upid" 2>/dev/null
rm -f "$work/hook.sleep"
check "kill: the decision stands" "$(inc_state "$bid")" resolved
check "kill: the unlock hook is still queued" "$(ad outbox --json | grep -c 'unlock-.*-exec')" 1
sleep 2.2
ad outbox --flush >/dev/null; ad outbox --flush >/dev/null
check "kill: after a flush nothing is pending" "$(ad outbox --json | wc -l)" 0
check "kill: the unlock hook ran again (at least once)" "$([ "$(grep -c '^unlock|bookings' "$work/hook.log")" -ge $((before + 2)) ] && echo yes)" yes
check "kill: unlock notice delivered once" "$(for x in $(mails_to it@fjord-travel.example); do body_of "$x"; done | grep -c '^Subject: .*#'"$bid"'\]')" 2

# 9. Invalid transitions say what is allowed.
ad incident lock "$id" --by tester 2>"$work/err" >/dev/null; rc=$?
check "lock the reopened incident: allowed" "$rc" 0
ad incident lock "$id" --by tester 2>"$work/err" >/dev/null; rc=$?
check "invalid: lock twice refused" "$rc" 3
has "invalid: says it is locked already" "$(cat "$work/err")" "is locked already"
ad incident resolve "$id" --by tester 2>"$work/err" >/dev/null; rc=$?
check "invalid: resolve a locked incident refused" "$rc" 3
has "invalid: says the allowed states" "$(cat "$work/err")" "allowed from: open,alerted"
ad incident dismiss "$id" --by tester 2>/dev/null >/dev/null; rc=$?
check "dismiss without a reason: refused" "$rc" 64
ad incident show 999999 >/dev/null 2>&1; rc=$?
check "an unknown incident: exit 66" "$rc" 66

# A ticket system can mirror the desk: every lifecycle step is a signed webhook event.
ad outbox --flush >/dev/null 2>&1
events=$(python3 -c "
import json
n=[json.loads(l) for l in open('$work/wh.log')]
print(' '.join(sorted(set(x['headers'].get('x-abusedesk-event','') for x in n))))")
for e in opened escalated locked notified replied replied_unverified unlocked; do
  has "webhook event $e" "$events" "\b$e\b"
done

if [ "$fails" -gt 0 ]; then
  echo "lifecycle: $fails check(s) failed"
  exit 1
fi
echo "lifecycle: all checks passed"

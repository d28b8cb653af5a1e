#!/usr/bin/env bash
# tests/trust.sh: what an attacker on the internet can steer, tried with real
# parts: reports signed with real DKIM keys whose public keys a local rbldnsd
# serves on 127.0.0.1, a smtp-sink smarthost that receives the notices, and the
# lock hook as a real program.
#   1. a forged campaign from four "providers" (no Authentication-Results of
#      our MX, or a forged one below our MX's Received header, Received chains
#      that claim our hosts): never a lock, never a customer mail, never a hook,
#      at most an alert; unknown names (root, shell characters) never locked
#   2. the same complaints with the spammer's one Message-ID: each counts
#   3. a genuine campaign, DKIM-signed by the providers' feedback systems and
#      verified by abusedesk itself: locks as before
#   4. replies: forged (From = contact address, ticket in the subject), an
#      auto-reply, one from the locked mailbox, our own team mail fed back, a
#      complaint whose subject carries the ticket; then the real one that names
#      our notice's Message-ID, and one verified by our MX's DMARC pass
#   5. a bounced notice: one team alert, re-sent to a new address
#   6. a dismissed false alarm: the customer is told, and it is no history
#   7. a joe job: an incident for the forged domain, the joe-job notice; the
#      joe-job case refused for a real compromise
#   8. German notices are German throughout, with local times, and quote the
#      complaint subjects as untrusted text
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/lib/sql.sh"  # dbq: the store on SQLite or PostgreSQL
bin=${AD_BINARY:-$top/build/abusedesk}
corpus="$(bash "$top/tools/shared-dir.sh")/corpus/arf"
mkraw="python3 $top/tests/desk/mkcomplaint.py"
. "$top/tests/lib/smtp_sink.sh"
. "$top/tests/lib/dns.sh"
work=$(mktemp -d)
fails=0
cleanup() {
  smtp_sink_stop
  dns_stop
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
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
has() { # name text pattern
  if grep -q -- "$3" <<<"$2"; then echo "ok   $1"; else echo "FAIL $1: no '$3'"; fails=$((fails + 1)); fi
}
hasnt() { # name text pattern
  if grep -q -- "$3" <<<"$2"; then echo "FAIL $1: '$3' present"; fails=$((fails + 1)); else echo "ok   $1"; fi
}
for t in opendkim-genkey opendkim-testmsg sqlite3; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || { echo "FAIL: $t is missing (make deps)"; exit 1; }
done
export PATH="$PATH:/usr/sbin"

# DKIM keys of two providers' feedback systems, published by a real DNS server.
mkdir -p "$work/keys"
dkim_key() { # domain selector
  (cd "$work/keys" && opendkim-genkey -b 1024 -d "$1" -s "$2" -D "$work/keys" \
    && mv "$work/keys/$2.private" "$work/keys/$1.$2.private" \
    && mv "$work/keys/$2.txt" "$work/keys/$1.$2.txt") || { echo "FAIL opendkim-genkey"; exit 1; }
  # the p= value of the generated TXT record, joined
  local p
  p=$(tr -d '\n\t"() ' < "$work/keys/$1.$2.txt" | sed -n 's/.*p=\([A-Za-z0-9+/=]*\).*/\1/p')
  dns_add_txt "$2._domainkey.$1" "v=DKIM1; k=rsa; p=$p"
}
dkim_key arf.mail.yahoo.com arf
dkim_key senderscore.net fbl
dkim_key evil.example s1
dns_start "$work/dns" arf.mail.yahoo.com senderscore.net evil.example || { echo "FAIL rbldnsd"; exit 1; }
sign() { # domain selector: signs stdin
  opendkim-testmsg -d "$1" -s "$2" -k "$work/keys/$1.$2.private"
}

smtp_sink_start "$work/mail" || { echo "FAIL smtp-sink"; exit 1; }
cat > "$work/hook.sh" <<'EOF'
#!/bin/sh
printf '%s\n' "$*" >> "$(dirname "$0")/hook.log"
EOF
chmod +x "$work/hook.sh"

cat > "$work/desk.conf" <<EOF
[store]
path = $work/desk.db
[intake]
spool_dir = $work/spool
quarantine_dir = $work/quarantine
authserv_id = mx.hoster.example
resolver = 127.0.0.1:$DNS_PORT
dns_timeout = 2s
[log]
level = warning
[network]
our_hosts = *.hoster.example
our_ips = 198.51.100.0/24
[providers]
yahoo.com = 1.0 manual signed_by=arf.mail.yahoo.com
aol.com = 1.2 manual signed_by=aol.net
hotmail.com = 1.0 manual signed_by=hotmail.com
senderscore.net = 0.8 signed_by=senderscore.net
[incidents]
lock_score = 30;60;120
[act]
lock_command = $work/hook.sh lock
unlock_command = $work/hook.sh unlock
retry_min = 1s
[notify]
smarthost = smtp://127.0.0.1:$SMTP_SINK_PORT
from = abuse@hoster.example
abuse_team = team@hoster.example
templates_dir = $top/etc/templates
desk_name = Abuse-Team Example Hosting
team_language = en
timezone = Europe/Berlin
team_interval = 1h
[directory]
default_language = de
EOF
. "$top/tests/lib/services.sh"
ad() { ad_services "$bin" "$work/desk.conf" "$@"; }
sql() { dbq "$work/desk.db" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }
cat > "$work/dir.csv" <<'EOF'
customer_id,customer_name,contact_email,language,account,domain,uid
C1001,Bäckerei Müller,inhaber@mueller-privat.example,de,alice@customer.example,customer.example,
C1001,Bäckerei Müller,inhaber@mueller-privat.example,de,bob@customer.example,,
C2002,Fjord Travel Ltd.,it@fjord-travel.example,en,bookings@fjord-travel.example,fjord-travel.example,
C3003,Kanzlei Weber,kanzlei@weber.example,,kanzlei@weber.example,weber.example,
C4004,Carol Cats,carol@cats.example,en,,cats.example,
C6006,Müller & Söhne,chef@soehne-privat.example,,info@soehne.example,soehne.example,
EOF
ad directory import "$work/dir.csv" >/dev/null 2>&1 || { echo "FAIL directory import"; exit 1; }

now() { date -R; }
ours() { # account: a Received chain through our submission host
  printf '%s\n' --received \
    "from mx2.out.hoster.example (mx2.out.hoster.example [198.51.100.25]) by mx.recipient.test with ESMTPS id R$RANDOM; $(now)" \
    --received \
    "from [203.0.113.7] (dsl.example.test [203.0.113.7]) (Authenticated sender: $1) by smtp.hoster.example (Postfix) with ESMTPSA id S$RANDOM; $(now)"
}
# Our MX's own Received header on top of a mail that came from outside.
our_mx() { { echo "Received: from relay.attacker.test (relay.attacker.test [192.0.2.66]) by mx.hoster.example (Postfix) with ESMTP id M$RANDOM; $(now)"; cat; }; }
report() { # template report-from account subject [msgid] [extra mkcomplaint args...]
  local t=$1 rf=$2 acct=$3 subj=$4 mid=${5:-}
  shift 4; [ $# -gt 0 ] && shift
  mapfile -t rcv < <(ours "$acct")
  $mkraw "$corpus/$t.eml" --report-from "$rf" --arrival now-20m --date now-25m \
    --source-ip 198.51.100.25 --from "$acct" --subject "$subj" ${mid:+--msgid "$mid"} "${rcv[@]}" "$@"
}
incident_of() { # subject -> newest incident id
  sql "SELECT id FROM incidents WHERE subject = '$1' ORDER BY id DESC LIMIT 1"
}
json_field() { # incident field
  ad incident show --json "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}
customer_mails() { sql "SELECT COUNT(*) FROM outbox WHERE kind = 'customer'"; }
team_mails() { sql "SELECT COUNT(*) FROM outbox WHERE kind = 'team'"; }
hook_calls() { [ -f "$work/hook.log" ] && wc -l < "$work/hook.log" || echo 0; }

# ---- 1. A forged campaign from four "providers" -------------------------------
providers=(feedback@arf.mail.yahoo.com scomp@aol.net staff@hotmail.com feedbackloop@comcastfbl.senderscore.net)
templates=(arf-02 arf-02 arf-22 arf-25)
i=0
for round in 1 2 3 4 5; do
  for p in 0 1 2 3; do
    i=$((i + 1))
    report "${templates[$p]}" "${providers[$p]}" bob@customer.example "Forged $i" \
      | ad ingest -q --source forged || echo "FAIL ingest forged $i"
  done
done
# ... and with a forged Authentication-Results of our id below our MX's Received.
for p in 0 1 2 3; do
  report "${templates[$p]}" "${providers[$p]}" bob@customer.example "Forged AR $p" \
    | sed "1i Authentication-Results: mx.hoster.example; dkim=pass header.d=arf.mail.yahoo.com; dmarc=pass header.from=yahoo.com" \
    | our_mx | ad ingest -q --source forged-ar || echo "FAIL ingest forged-ar $p"
done
# ... and names that are not in the directory.
for who in root 'x;rm -rf ~@customer.example' abuse@hoster.example; do
  for p in 0 1 2 3 0 1; do
    report "${templates[$p]}" "${providers[$p]}" "$who" "Forged name" | ad ingest -q --source forged
  done
done
bob=$(incident_of bob@customer.example)
check "forged campaign: an incident for bob" "$([ -n "$bob" ] && echo yes)" yes
check "forged campaign: at most the alert stage" "$(json_field "$bob" stage)" alert
check "forged campaign: no lock at all" "$(sql 'SELECT COUNT(*) FROM locks')" 0
check "forged campaign: no customer mail" "$(customer_mails)" 0
check "forged campaign: no hook call" "$(hook_calls)" 0
check "forged campaign: no report authenticated" "$(sql 'SELECT COUNT(*) FROM scores WHERE authenticated = 1')" 0
forged_ar=$(sql "SELECT r.id FROM reports r WHERE r.subject IS NOT NULL AND r.id IN (SELECT report_id FROM incident_reports) AND r.parsed LIKE '%Forged AR 0%' LIMIT 1")
x=$(ad explain "$forged_ar")
has "explain: a forged A-R below our MX's hop is ignored" "$x" "forged: ignored"
has "explain: the unauthenticated factor is shown" "$x" "unauthenticated_factor"
x=$(ad incident show "$bob")
has "incident show: providers marked unauthenticated" "$x" "(unauthenticated)"
check "forged campaign: bob's 24 complaints all count (distinct recipients per spam run)" \
  "$(json_field "$bob" complaints)" 24

# ---- 2. One spammer Message-ID, many recipients: each complaint counts ----------
for n in 1 2 3 4 5 6 7 8; do
  mapfile -t rcv < <(ours bookings@fjord-travel.example)
  $mkraw --mx-auth auto "$corpus/arf-02.eml" --arrival now-10m --date now-12m --source-ip 198.51.100.25 \
    --from bookings@fjord-travel.example --subject "Same id" --msgid "<spam-run@fjord-travel.example>" \
    --header "X-Test: $n" "${rcv[@]}" \
    | sed -e "s/^To: someone@recipient.test/To: victim$n@recipient.test/" \
          -e "s/^Original-Rcpt-To: .*/Original-Rcpt-To: victim$n@recipient.test/" \
    | ad ingest -q --source sameid
done
fj=$(incident_of bookings@fjord-travel.example)
check "same Message-ID, 8 recipients: 8 complaints counted" "$(json_field "$fj" complaints)" 8
# the same recipient reporting the same mail twice counts once
mapfile -t rcv < <(ours bookings@fjord-travel.example)
$mkraw --mx-auth auto "$corpus/arf-02.eml" --arrival now-10m --date now-12m --source-ip 198.51.100.25 \
  --from bookings@fjord-travel.example --subject "Same id" --msgid "<spam-run@fjord-travel.example>" \
  "${rcv[@]}" | sed -e "s/^To: someone@recipient.test/To: victim1@recipient.test/" \
    -e "s/^Original-Rcpt-To: .*/Original-Rcpt-To: victim1@recipient.test/" | ad ingest -q --source sameid
check "the same recipient's second report counts once" "$(json_field "$fj" complaints)" 8

# ---- 3. A genuine campaign, DKIM-signed, verified by abusedesk ------------------
gen() { # template report-from signer selector subject
  report "$1" "$2" alice@customer.example "$5" | sign "$3" "$4"
}
# a subject with an escape, a bidi override, a line break and a phishing link
gen arf-02 feedback@arf.mail.yahoo.com arf.mail.yahoo.com arf \
  "=?UTF-8?B?$(printf 'Konto gesperrt\xe2\x80\xae\r\nBitte einloggen: https://phish.example/reset' | base64 -w0)?=" \
  | ad ingest -q --source dkim
for s in "Cheap pills" "Ihr Paket wartet" "Cheap pills"; do
  gen arf-02 feedback@arf.mail.yahoo.com arf.mail.yahoo.com arf "$s" | ad ingest -q --source dkim || echo "FAIL ingest dkim"
  gen arf-25 feedbackloop@comcastfbl.senderscore.net senderscore.net fbl "$s" | ad ingest -q --source dkim
done
al=$(incident_of alice@customer.example)
check "DKIM campaign: authenticated reports" "$(sql "SELECT COUNT(*) FROM scores WHERE authenticated = 1 AND reporter_how LIKE 'DKIM signature of%verified by abusedesk%'")" 7
check "DKIM campaign: alice locked" "$(sql "SELECT COUNT(*) FROM locks WHERE subject = 'alice@customer.example' AND unlocked_at IS NULL")" 1
check "DKIM campaign: the lock hook ran" "$(grep -c '^lock alice@customer.example' "$work/hook.log" 2>/dev/null)" 1
check "DKIM campaign: customer_notified" "$(json_field "$al" state)" customer_notified
# a valid signature of a domain that is no provider's signer proves nothing
report arf-02 abuse@evil.example carol@cats.example "Evil" | sign evil.example s1 | ad ingest -q --source evil
x=$(ad explain "$(sql 'SELECT MAX(id) FROM reports')")
has "a valid signature of a non-provider domain is not authenticated (no DNS lookup)" "$x" "not a signing domain we trust"
# a signature broken in transit
report arf-02 feedback@arf.mail.yahoo.com carol@cats.example "Broken" | sign arf.mail.yahoo.com arf \
  | sed 's/^Subject: Broken/Subject: Br0ken/' | ad ingest -q --source broken
check "a broken signature is not authenticated" "$(sql 'SELECT authenticated FROM scores ORDER BY report_id DESC LIMIT 1')" 0

# an authenticated campaign about a name that is not in the directory: no lock
for s in "Ghost 1" "Ghost 2" "Ghost 3"; do
  gen2() { report "$1" "$2" ghost@customer.example "$5" | sign "$3" "$4"; }
  gen2 arf-02 feedback@arf.mail.yahoo.com arf.mail.yahoo.com arf "$s" | ad ingest -q --source ghost
  gen2 arf-25 feedbackloop@comcastfbl.senderscore.net senderscore.net fbl "$s" | ad ingest -q --source ghost
done
gh=$(incident_of ghost@customer.example)
check "an authenticated campaign about a name outside the directory reaches the lock stage" "$(json_field "$gh" stage)" lock
check "... but it is never locked automatically" "$(sql "SELECT COUNT(*) FROM locks WHERE subject = 'ghost@customer.example'")" 0
check "... the audit says why" "$(sql "SELECT COUNT(*) FROM audit WHERE incident_id = $gh AND action = 'lock-held' AND detail LIKE '%not an account or web space of the customer directory%'")" 1

# ---- 8. The German notice -------------------------------------------------------
ad outbox --flush >/dev/null 2>&1
notice=$(sql "SELECT message FROM outbox WHERE kind = 'customer' AND incident_id = $al AND template = 'compromised' LIMIT 1")
decoded=$(python3 -c '
import email, sys
from email import policy
m = email.message_from_string(sys.stdin.read(), policy=policy.default)
print("Subject:", m["Subject"]); print(m.get_body(("plain",)).get_content())' <<<"$notice")
has "notice: German subject" "$decoded" "Subject: \[abusedesk #$al\] Ihr Postfach alice@customer.example wurde"
has "notice: local time zone" "$decoded" " CE[S]\?T"
hasnt "notice: no UTC times" "$decoded" " UTC"
has "notice: subject lines quoted and indented" "$decoded" "    > Cheap pills"
has "notice: link not clickable" "$decoded" "hxxps://"
hasnt "notice: no clickable phishing link" "$decoded" "https://phish"
hasnt "notice: no bidi override" "$decoded" $'\xe2\x80\xae'
hasnt "notice: the injected line break is gone" "$decoded" "^Bitte einloggen"
mid=$(python3 -c '
import email, sys
m = email.message_from_string(sys.stdin.read())
print(m["Message-ID"].strip("<>"))' <<<"$notice")
has "notice Message-ID carries 128 random bits" "$mid" "[0-9a-f]\{32\}@"

# ---- 4. Replies -----------------------------------------------------------------
reply() { # from subject [extra header lines...]
  local f=$1 s=$2; shift 2
  { printf 'From: %s\nTo: abuse@hoster.example\nSubject: %s\nMessage-ID: <r%s@client.test>\nDate: %s\n' \
      "$f" "$s" "$RANDOM$RANDOM" "$(now)"
    for h in "$@"; do printf '%s\n' "$h"; done
    printf '\nIch habe alles gemacht, bitte entsperren.\n'; } | our_mx
}
before_team=$(team_mails)
reply inhaber@mueller-privat.example "Re: [abusedesk #$al] Ihr Postfach" | ad ingest -q --source reply
check "forged reply (contact address in From, ticket in Subject): state unchanged" "$(json_field "$al" state)" customer_notified
check "forged reply: one team mail" "$(team_mails)" $((before_team + 1))
for k in 1 2 3 4 5 6 7 8 9 10; do
  reply inhaber@mueller-privat.example "Re: [abusedesk #$al] noch einmal $k" | ad ingest -q --source reply
done
check "ten more forged replies: no more team mail within team_interval" "$(team_mails)" $((before_team + 1))
reply inhaber@mueller-privat.example "Abwesenheitsnotiz: Re: [abusedesk #$al]" "Auto-Submitted: auto-replied" "In-Reply-To: <$mid>" \
  | ad ingest -q --source reply
check "auto-reply naming our notice: state unchanged" "$(json_field "$al" state)" customer_notified
check "auto-reply: no team mail" "$(team_mails)" $((before_team + 1))
reply alice@customer.example "Re: [abusedesk #$al]" "In-Reply-To: <$mid>" | ad ingest -q --source reply
check "reply from the locked mailbox itself: state unchanged" "$(json_field "$al" state)" customer_notified
teammid=$(sql "SELECT message_id FROM outbox WHERE kind = 'team' ORDER BY id LIMIT 1")
tm=$(team_mails)
sql "SELECT message FROM outbox WHERE message_id = '$teammid'" | our_mx | ad ingest -q --source loop
check "our own team mail fed back: no new team mail" "$(team_mails)" "$tm"
report arf-02 feedback@arf.mail.yahoo.com bob@customer.example "Fwd: [abusedesk #$al] Ihr Postfach" \
  | ad ingest -q --source complaint
check "a complaint with the ticket in its subject is scored as a complaint" \
  "$(sql "SELECT COUNT(*) FROM scores WHERE report_id = (SELECT MAX(id) FROM reports)")" 1
reply inhaber@mueller-privat.example "Re: [abusedesk #$al] Ihr Postfach" "In-Reply-To: <$mid>" \
  | ad ingest -q --source reply
check "the reply naming our notice's Message-ID moves the incident" "$(json_field "$al" state)" customer_replied
# verified by our MX's DMARC pass for the contact address (above our MX's hop)
{ printf 'From: inhaber@mueller-privat.example\nTo: abuse@hoster.example\nSubject: Re: [abusedesk #%s] noch eine Frage\nMessage-ID: <d%s@mueller-privat.example>\nDate: %s\n\nWann ist das Postfach wieder frei?\n' "$al" "$RANDOM" "$(now)" \
    | our_mx | sed '1i Authentication-Results: mx.hoster.example; dmarc=pass header.from=mueller-privat.example; spf=pass smtp.mailfrom=mueller-privat.example'; } \
  | ad ingest -q --source dmarc-reply
check "a reply with our MX's DMARC pass for the contact address is verified" \
  "$(sql "SELECT verdict FROM incident_replies WHERE incident_id = $al ORDER BY report_id DESC LIMIT 1")" verified
# an SPF pass alone is not enough (shared hosting: customers' SPF includes our servers)
{ printf 'From: inhaber@mueller-privat.example\nTo: abuse@hoster.example\nSubject: Re: [abusedesk #%s] SPF\nMessage-ID: <s%s@mueller-privat.example>\nDate: %s\n\nText.\n' "$al" "$RANDOM" "$(now)" \
    | our_mx | sed '1i Authentication-Results: mx.hoster.example; spf=pass smtp.mailfrom=mueller-privat.example'; } \
  | ad ingest -q --source spf-reply
check "a reply with only an SPF pass is not verified" \
  "$(sql "SELECT verdict FROM incident_replies WHERE incident_id = $al ORDER BY report_id DESC LIMIT 1")" unverified
verdicts=$(ad incident show --json "$al" | python3 -c "import json,sys; print(' '.join(sorted(set(r['verdict'] for r in json.load(sys.stdin)['replies']))))")
check "incident show lists the replies with their verdicts" "$verdicts" "auto unverified verified"

# ---- 5. A bounced notice ----------------------------------------------------------
# fjord's incident: lock by hand, the notice bounces
ad incident lock "$fj" --reason "internal: checked by hand, ticket 4711" >/dev/null 2>&1 || echo "FAIL lock fjord"
fmid=$(sql "SELECT message_id FROM outbox WHERE incident_id = $fj AND kind = 'customer' ORDER BY id DESC LIMIT 1")
fnotice=$(sql "SELECT message FROM outbox WHERE incident_id = $fj AND kind = 'customer' ORDER BY id DESC LIMIT 1")
hasnt "the operator's internal reason is not in the customer notice" "$fnotice" "ticket 4711"
bounce() {
  cat <<EOF | our_mx
From: MAILER-DAEMON@mx.fjord-travel.example
To: abuse@hoster.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <b$RANDOM$RANDOM@mx.fjord-travel.example>
Date: $(now)
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

Your message could not be delivered.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.fjord-travel.example

Final-Recipient: rfc822; it@fjord-travel.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--B1
Content-Type: text/rfc822-headers

From: abuse@hoster.example
To: it@fjord-travel.example
Subject: [abusedesk #$fj] Your mailbox
Message-ID: <$fmid>

--B1--
EOF
}
tm=$(team_mails)
bounce | ad ingest -q --source dsn
check "bounced notice: audited" "$(sql "SELECT COUNT(*) FROM audit WHERE incident_id = $fj AND action = 'notice_bounced'")" 1
check "bounced notice: one team alert" "$(team_mails)" $((tm + 1))
bounce | ad ingest -q --source dsn
check "a second bounce of it: no second alert" "$(team_mails)" $((tm + 1))
has "the outbox queue shows the bounced notice" "$(ad outbox)" "bounced"
check "incident show: the notice is bounced" "$(ad incident show --json "$fj" | python3 -c "import json,sys; print([n['status'] for n in json.load(sys.stdin)['notices'] if n['to_kind']=='customer'][0])")" bounced
ad directory set-contact C2002 office@fjord-travel.example >/dev/null 2>&1
check "directory set-contact" "$(sql "SELECT contact_email FROM customers WHERE id = 'C2002'")" office@fjord-travel.example
ad incident notify "$fj" --to office@fjord-travel.example >/dev/null 2>&1 || echo "FAIL re-send"
check "re-sent to the new address" "$(sql "SELECT rcpt FROM outbox WHERE incident_id = $fj AND kind = 'customer' ORDER BY id DESC LIMIT 1")" office@fjord-travel.example

# ---- 6. Dismiss a locked false alarm --------------------------------------------
cm=$(customer_mails)
ad incident dismiss "$fj" --reason "false alarm: newsletter" >/dev/null 2>&1 || echo "FAIL dismiss"
check "dismiss: the customer gets the dismissed notice" "$(sql "SELECT template FROM outbox WHERE incident_id = $fj AND kind = 'customer' ORDER BY id DESC LIMIT 1")" dismissed
check "dismiss: the lock is released" "$(sql "SELECT COUNT(*) FROM locks WHERE subject = 'bookings@fjord-travel.example' AND unlocked_at IS NULL")" 0
hasnt "dismiss notice: the internal reason stays internal" "$(sql "SELECT message FROM outbox WHERE incident_id = $fj AND template = 'dismissed'")" newsletter
for n in 1 2 3; do
  mapfile -t rcv < <(ours bookings@fjord-travel.example)
  $mkraw --mx-auth auto "$corpus/arf-02.eml" --arrival now-5m --date now-6m --source-ip 198.51.100.25 \
    --from bookings@fjord-travel.example --subject "After dismiss $n" "${rcv[@]}" | ad ingest -q --source again
done
fj2=$(incident_of bookings@fjord-travel.example)
check "a dismissed false alarm is no history" "$(json_field "$fj2" repeat_offender)" False

# ---- 7. A joe job -------------------------------------------------------------------
for n in 1 2 3; do
  $mkraw --mx-auth auto "$corpus/arf-02.eml" --arrival now-5m --source-ip 192.0.2.99 \
    --from "random$n@cats.example" --subject "Joe $n" \
    --received "from bot.example.test (unknown [192.0.2.99]) by mx.recipient.test with SMTP id J$n; $(now)" \
    | ad ingest -q --source joe
done
jj=$(sql "SELECT id FROM incidents WHERE subject_kind = 'domain' AND subject = 'cats.example'")
check "joe job: an incident for the forged domain" "$([ -n "$jj" ] && echo yes)" yes
check "joe job: nothing counted for a mailbox" "$(sql "SELECT COUNT(*) FROM complaints WHERE subject_kind = 'account' AND subject LIKE 'random%@cats.example'")" 0
ad incident notify "$jj" --case joejob >/dev/null 2>&1
check "joe job: the joe-job notice" "$(sql "SELECT template FROM outbox WHERE incident_id = $jj AND kind = 'customer'")" joejob
out=$(ad incident notify "$al" --case joejob 2>&1)
has "the joe-job notice is refused for a real compromise" "$out" "not a joe job"
check "the locked account got no joe-job notice" "$(sql "SELECT COUNT(*) FROM outbox WHERE incident_id = $al AND template = 'joejob'")" 0

# ---- a customer without a language gets [directory] default_language (de) ------
ad account lock info@soehne.example --reason "internal: botnet logins seen in the panel" >/dev/null 2>&1
so=$(sql "SELECT message FROM outbox WHERE rcpt = 'chef@soehne-privat.example' AND kind = 'customer' LIMIT 1" \
  | python3 -c '
import email, sys
from email import policy
m = email.message_from_string(sys.stdin.read(), policy=policy.default)
print("Subject:", m["Subject"]); print(m.get_body(("plain",)).get_content())')
has "no language in the directory: the notice is German" "$so" "Subject: \[abusedesk #[0-9]*\] Ihr Postfach info@soehne.example wurde"
has "the reason is the German text of the templates" "$so" "Unser Abuse-Team hat bei einer Prüfung"
hasnt "the operator's internal reason is not in it" "$so" "botnet logins"
hasnt "no English system text" "$so" "outbound volume"

# ---- the policy server's REJECT text in the customer's language ----------------
check "lock rows carry the customer" "$(sql "SELECT customer_id FROM locks WHERE subject = 'alice@customer.example'")" C1001

echo "trust: $fails failed"
[ "$fails" -eq 0 ]

#!/usr/bin/env bash
# tests/classify.sh: "was I hacked?" from a bounce the customer forwards:
# abusedesk classify gives joejob for backscatter of mail that never passed our
# hosts, compromised_mailbox for a bounce of mail submitted through our
# submission with the customer's login, script for a bounce of a contact-form
# mail injected on our web host; each with evidence and German or English
# advice; and the joe-job bounces reaching the intake open a joejob incident for
# the customer's domain, never a lock.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/lib/sql.sh"  # dbq: the store on SQLite or PostgreSQL
bin=${AD_BINARY:-$top/build/abusedesk}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
. "$top/tests/lib/check.sh" # check, has, hasnt
printf '%s\n' "[store]" "path = $work/desk.db" "[intake]" "spool_dir = $work/spool" \
  "quarantine_dir = $work/quarantine" "verify_dkim = false" "[log]" "level = warning" \
  "[network]" "our_hosts = *.hoster.example" "our_ips = 198.51.100.0/24" "[notify]" \
  "templates_dir = $top/etc/templates" "abuse_team = team@hoster.example" > "$work/desk.conf"
. "$top/tests/lib/services.sh"
ad() { ad_services "$bin" "$work/desk.conf" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }
printf '%s\n' "customer_id,customer_name,contact_email,language,account,domain,uid" \
  "C1001,Bäckerei Müller,inhaber@mueller-privat.example,de,info@baeckerei.example,baeckerei.example," \
  "C2002,Fjord Travel,it@fjord.example,en,bookings@fjord.example,fjord.example,10057" > "$work/dir.csv"
ad directory import "$work/dir.csv" >/dev/null || { echo "FAIL import"; exit 1; }
check "directory show by account" "$(ad directory show info@baeckerei.example | head -1 | tr -s ' ')" "customer: C1001"
check "directory show by domain" "$(ad directory show fjord.example | head -1 | tr -s ' ')" "customer: C2002"
now=$(date -R)
bounce() { # file to-address original-header-lines...
  local f=$1 to=$2
  shift 2
  {
    printf '%s\n' "From: MAILER-DAEMON@mx.far-away.test" "To: $to" \
      "Subject: Undelivered Mail Returned to Sender" "Date: $now" \
      "Message-ID: <b$RANDOM$RANDOM@mx.far-away.test>" "MIME-Version: 1.0" \
      'Content-Type: multipart/report; report-type=delivery-status; boundary="XX"' "" \
      "--XX" "Content-Type: text/plain" "" \
      "This is the mail system at host mx.far-away.test. Your message could not be delivered." "" \
      "--XX" "Content-Type: message/delivery-status" "" "Reporting-MTA: dns; mx.far-away.test" "" \
      "Final-Recipient: rfc822; nobody@far-away.test" "Action: failed" "Status: 5.1.1" \
      "Diagnostic-Code: smtp; 550 5.1.1 <nobody@far-away.test>: Recipient address rejected: User unknown" "" \
      "--XX" "Content-Type: text/rfc822-headers" ""
    printf '%s\n' "$@"
    printf '\n--XX--\n'
  } > "$f"
}
# 1. A joe job: the original came from a botnet, with the bakery's address as sender.
bounce "$work/joe.eml" info@baeckerei.example \
  "Return-Path: <xkq7@baeckerei.example>" \
  "Received: from bot.example.test (unknown [192.0.2.99]) by mx.far-away.test with SMTP id J1; $now" \
  "Authentication-Results: mx.far-away.test; spf=fail smtp.mailfrom=baeckerei.example" \
  "From: xkq7@baeckerei.example" "To: nobody@far-away.test" "Subject: Cheap pills" \
  "Message-ID: <forged1@baeckerei.example>" "Date: $now"
# 2. Submitted through our submission with the customer's login.
bounce "$work/mailbox.eml" info@baeckerei.example \
  "Return-Path: <info@baeckerei.example>" \
  "Received: from out2.hoster.example (out2.hoster.example [198.51.100.25]) by mx.far-away.test with ESMTPS id R1; $now" \
  "Received: from [203.0.113.7] (dsl.example.test [203.0.113.7]) (Authenticated sender: info@baeckerei.example) by smtp.hoster.example (Postfix) with ESMTPSA id S1; $now" \
  "From: info@baeckerei.example" "To: nobody@far-away.test" "Subject: Rechnung" \
  "Message-ID: <real1@baeckerei.example>" "Date: $now"
# 3. A contact form on our web host.
bounce "$work/script.eml" wordpress@fjord.example \
  "Return-Path: <wordpress@fjord.example>" \
  "Received: from web3.hoster.example (web3.hoster.example [198.51.100.40]) by mx.far-away.test with ESMTP id W1; $now" \
  "Received: by web3.hoster.example (Postfix, from userid 10057) id X1; $now" \
  "X-PHP-Originating-Script: 10057:wp-content/plugins/old-form/send.php" \
  "From: wordpress@fjord.example" "To: nobody@far-away.test" "Subject: Booking" \
  "Message-ID: <form1@fjord.example>" "Date: $now"
field() { python3 -c "import json,sys; d=json.loads(sys.stdin.readline()); v=d['$1']; print(v if not isinstance(v, list) else len(v))"; }
j=$(ad classify --json "$work/joe.eml")
check "joe job: verdict" "$(field verdict <<<"$j")" joejob
check "joe job: customer" "$(field customer_id <<<"$j")" C1001
check "joe job: subject is the forged domain" "$(field subject <<<"$j")" baeckerei.example
has_re "joe job: evidence: no hop of ours" "$j" "not pass our servers"
has_re "joe job: evidence: the quoted SPF fail" "$j" "spf=fail for baeckerei.example"
has_re "joe job: German advice (catch-all)" "$j" "Catch-all"
m=$(ad classify --json "$work/mailbox.eml")
check "mailbox: verdict" "$(field verdict <<<"$m")" compromised_mailbox
check "mailbox: subject is the account" "$(field subject <<<"$m")" info@baeckerei.example
has_re "mailbox: evidence: the authenticated submission hop" "$m" "authenticated sender info@baeckerei.example"
has_re "mailbox: advice: scan first" "$m" "Schadsoftware"
s=$(ad classify --json "$work/script.eml")
check "script: verdict" "$(field verdict <<<"$s")" script
has_re "script: subject is uid:script" "$(field subject <<<"$s")" "10057:wp-content/plugins/old-form/send.php"
check "script: customer by web space uid" "$(field customer_id <<<"$s")" C2002
has_re "script: English advice (CAPTCHA)" "$s" "CAPTCHA"
all=$(ad classify --json "$work/joe.eml" "$work/mailbox.eml" "$work/script.eml" | wc -l)
check "one JSON line per file" "$all" 3
txt=$(ad classify - < "$work/joe.eml")
has_re "stdin and text output" "$txt" "^-: joejob (customer C1001, baeckerei.example)"
ad classify "$work/nonexistent.eml" >/dev/null 2>&1
check "an unreadable file: exit 1" "$?" 1
# Backscatter reaching the intake: a joejob incident, no lock.
for k in 1 2 3 4; do sed "s/forged1/forged1$k/; s/id J1/id J1$k/" "$work/joe.eml" | ad ingest -q --source bounce; done
ad ingest -q --source bounce < "$work/mailbox.eml"
jj=$(dbq "$work/desk.db" "SELECT id FROM incidents WHERE subject_kind = 'domain' AND subject = 'baeckerei.example'")
check "backscatter: a joejob incident for the domain" "$([ -n "$jj" ] && echo yes)" yes
check "backscatter: no lock" "$(dbq "$work/desk.db" 'SELECT COUNT(*) FROM locks')" 0
check "backscatter: nothing counted for a mailbox from the joe-job bounces" \
  "$(dbq "$work/desk.db" "SELECT COUNT(*) FROM complaints WHERE subject_kind = 'account' AND subject = 'xkq7@baeckerei.example'")" 0
echo "classify: $fails failed"
[ "$fails" -eq 0 ]

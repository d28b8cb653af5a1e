#!/usr/bin/env bash
# A customer script on one of OUR web hosts (an address inside [network] our_ips,
# which must list the hosting network so that attribution works) talks SMTP to
# our MX and writes its own "Authentication-Results: mx.hoster.example; ..." header.
# The MX's Received hop "from web3.hoster.example ([198.51.100.77])" counts as
# internal, so the trust zone runs on into the attacker's headers.
#   A. forged provider complaints about another customer's mailbox -> authenticated, lock, hook, customer mail
#   B. a forged reply "from" the victim's contact address with a forged dmarc=pass -> verified
#   C. the same via a loopback hop on the web host (PHP -> localhost:25)
. "$(dirname "$0")/lib.sh"
webhost_mx() { { echo "Received: from web3.hoster.example (web3.hoster.example [198.51.100.77]) by mx.hoster.example (Postfix) with ESMTP id W$RANDOM; $(now)"; cat; }; }
loop_web() { { echo "Received: from web3.hoster.example (web3.hoster.example [198.51.100.77]) by mx.hoster.example (Postfix) with ESMTP id W$RANDOM; $(now)";
               echo "Received: from localhost (localhost [127.0.0.1]) by web3.hoster.example (Postfix) with ESMTP id L$RANDOM; $(now)"; cat; }; }
signers=(arf.mail.yahoo.com senderscore.net)
froms=(feedback@arf.mail.yahoo.com feedbackloop@comcastfbl.senderscore.net)
tpls=(arf-02 arf-25)
for n in $(seq 1 12); do
  p=$((n % 2))
  report "${tpls[$p]}" "${froms[$p]}" alice@customer.example "Forged from web host $n" \
    | sed "1i Authentication-Results: mx.hoster.example; dkim=pass header.d=${signers[$p]} header.s=x" \
    | webhost_mx | ad ingest -q --source webhost
done
al=$(incident_of alice@customer.example)
auth=$(sql "SELECT COUNT(*) FROM scores WHERE authenticated = 1")
expect "A: forged A-R from a customer web host is not authenticated" "$auth" 0
expect "A: no lock from forged complaints" "$(sql "SELECT COUNT(*) FROM locks")" 0
expect "A: no lock hook fired" "$([ -f "$work/hook.log" ] && wc -l < "$work/hook.log" || echo 0)" 0
expect "A: no customer mail" "$(sql "SELECT COUNT(*) FROM outbox WHERE kind='customer'")" 0
sql "SELECT reporter_how FROM scores LIMIT 1" | sed 's/^/     how: /'
echo "     incident $al state: $(json_field "$al" state 2>/dev/null)"

# B. forged reply that moves the incident
mid_notice=$(sql "SELECT message_id FROM outbox WHERE kind='customer' LIMIT 1")
{ printf 'Authentication-Results: mx.hoster.example; dmarc=pass header.from=mueller-privat.example\n'
  printf 'From: inhaber@mueller-privat.example\nTo: abuse@hoster.example\nSubject: Re: [abusedesk #%s] done\nMessage-ID: <r%s@x.test>\nDate: %s\n\nAll fixed, unlock please.\n' "$al" "$RANDOM" "$(now)"; } \
  | webhost_mx | ad ingest -q --source reply
v=$(sql "SELECT verdict FROM incident_replies ORDER BY report_id DESC LIMIT 1")
expect "B: a reply with a forged dmarc=pass from a web host is not verified" "$v" unverified
echo "     incident $al state now: $(json_field "$al" state 2>/dev/null)"

# C. loopback hop on the web host
report arf-02 feedback@arf.mail.yahoo.com bob@customer.example "Forged via localhost" \
  | sed "1i Authentication-Results: mx.hoster.example; dkim=pass header.d=arf.mail.yahoo.com" \
  | loop_web | ad ingest -q --source webhost-lo
expect "C: forged A-R behind a localhost hop of our web host is not authenticated" \
  "$(sql "SELECT authenticated FROM scores ORDER BY report_id DESC LIMIT 1")" 0
echo "webhost_forged_ar: $fails failed"
[ "$fails" -eq 0 ]

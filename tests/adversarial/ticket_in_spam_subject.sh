#!/usr/bin/env bash
# The spammer (a customer who got a notice, so knows the ticket format) puts
# "[abusedesk #N]" of an existing incident into the spam's Subject. A person who
# complains by forwarding the spam inline ("Fwd: <subject>", the spam pasted as
# text, no message/rfc822 part) sends a mail that carries no parsed original
# Received chain, so the desk routes it as an (unverified) reply to incident N
# instead of scoring it as a complaint.
. "$(dirname "$0")/lib.sh"
for k in 1 2 3; do
  mapfile -t rcv < <(ours alice@customer.example)
  $mkraw --mx-auth auto "$corpus/arf-02.eml" --arrival now-10m --date now-12m --source-ip 198.51.100.25 \
    --from alice@customer.example --subject "spam $k" "${rcv[@]}" \
    | sed "s/^To: someone@recipient.test/To: v$k@recipient.test/" | ad ingest -q --source seed
done
al=$(incident_of alice@customer.example)
sc_before=$(sql "SELECT COUNT(*) FROM scores")
cat <<EOF | { echo "Received: from mail.victim.test (mail.victim.test [192.0.2.80]) by mx.hoster.example (Postfix) with ESMTP id V1; $(now)"; cat; } | ad ingest -q --source human
From: Jane Victim <jane@victim.test>
To: abuse@hoster.example
Subject: Fwd: [abusedesk #$al] Cheap pills
Message-ID: <fwd1@victim.test>
Date: $(now)

Please stop this spam from your customer!

-------- Forwarded Message --------
Return-Path: <alice@customer.example>
Received: from smtp.hoster.example (smtp.hoster.example [198.51.100.25]) by mx.victim.test with ESMTPS id Q1; $(now)
From: alice@customer.example
To: jane@victim.test
Subject: [abusedesk #$al] Cheap pills
Message-ID: <pills-1@customer.example>
Date: $(now)

Buy cheap pills at ...
EOF
rid=$(sql "SELECT MAX(id) FROM reports")
scored=$(sql "SELECT COUNT(*) FROM scores WHERE report_id = $rid")
asreply=$(sql "SELECT COUNT(*) FROM incident_replies WHERE report_id = $rid")
echo "     report $rid: scored=$scored, filed as reply=$asreply ($(sql "SELECT kind FROM reports WHERE id=$rid" 2>/dev/null))"
expect "an inline-forwarded complaint whose spam subject carries a ticket is still scored" "$scored" 1
echo "ticket_in_spam_subject: $fails failed"
[ "$fails" -eq 0 ]

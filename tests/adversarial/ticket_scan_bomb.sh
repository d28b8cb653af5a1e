#!/usr/bin/env bash
# An attacker on the internet sends plain mails "Re: [abusedesk #N]" for every N:
# each is an unverified reply and alerts the team once per incident per
# team_interval, so the team gets one mail per existing incident per hour,
# with attacker-chosen excerpt text in it. Also: the incident ids are sequential.
. "$(dirname "$0")/lib.sh"
# 30 incidents from genuine (MX-authenticated) complaints about distinct listed mailboxes
accts=()
for n in $(seq 1 30); do accts+=("u$n@customer.example"); done
{ echo "customer_id,customer_name,contact_email,language,account,domain,uid"
  for a in "${accts[@]}"; do echo "C1001,Baeckerei Mueller,inhaber@mueller-privat.example,en,$a,customer.example,"; done; } > "$work/dir2.csv"
ad directory import "$work/dir2.csv" >/dev/null 2>&1
for a in "${accts[@]}"; do
  for k in 1 2 3; do
    mapfile -t rcv < <(ours "$a")
    $mkraw --mx-auth auto "$corpus/arf-02.eml" --arrival now-10m --date now-12m --source-ip 198.51.100.25 \
      --from "$a" --subject "spam $k" "${rcv[@]}" | sed "s/^To: someone@recipient.test/To: v$k@recipient.test/" \
      | ad ingest -q --source seed
  done
done
n_inc=$(sql "SELECT COUNT(*) FROM incidents")
before=$(sql "SELECT COUNT(*) FROM outbox WHERE kind='team'")
max=$(sql "SELECT MAX(id) FROM incidents")
for id in $(seq 1 "$max"); do
  printf 'From: someone@attacker.test\nTo: abuse@hoster.example\nSubject: Re: [abusedesk #%s] hi\nMessage-ID: <s%s@attacker.test>\nDate: %s\n\nPlease call +1 555 0100 and wire the fee to unlock, see https://evil.test/x\n' \
    "$id" "$id$RANDOM" "$(now)" \
  | { echo "Received: from relay.attacker.test (relay.attacker.test [192.0.2.66]) by mx.hoster.example (Postfix) with ESMTP id M$RANDOM; $(now)"; cat; } \
  | ad ingest -q --source scan
done
after=$(sql "SELECT COUNT(*) FROM outbox WHERE kind='team'")
echo "     $n_inc incidents; team mails caused by $max forged unauthenticated 'replies': $((after - before))"
if [ $((after - before)) -le 1 ]; then ok "one anonymous sender cannot make one team mail per incident"; else bad "one anonymous sender made $((after - before)) team mails (one per incident per team_interval)"; fi
echo "ticket_scan_bomb: $fails failed"
[ "$fails" -eq 0 ]

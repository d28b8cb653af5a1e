#!/usr/bin/env bash
# A spam run BCC'd to many recipients has ONE Message-ID; the spammer writes
# "To: Undisclosed Recipients" (or the provider redacts the recipient:
# "redacted@aol.com", as in the corpus). Reports without Original-Rcpt-To are
# keyed provider|original To|Message-ID, so N real complaints count once.
. "$(dirname "$0")/lib.sh"
for n in $(seq 1 8); do
  mapfile -t rcv < <(ours bookings@fjord-travel.example)
  $mkraw --mx-auth auto "$corpus/arf-02.eml" --arrival now-10m --date now-12m --source-ip 198.51.100.25 \
    --from bookings@fjord-travel.example --subject "BCC run" --msgid "<bcc-run@fjord-travel.example>" \
    "${rcv[@]}" \
    | sed -e "s/^To: someone@recipient.test/To: Undisclosed Recipients <undisclosed-recipients:;>/" \
          -e "/^Original-Rcpt-To: /d" \
    | ad ingest -q --source bcc
done
fj=$(incident_of bookings@fjord-travel.example)
expect "8 authenticated complaints of one BCC spam run (To: undisclosed) count 8" \
  "$(json_field "$fj" complaints)" 8
sql "SELECT dedup_key FROM scores" 2>/dev/null | sort | uniq -c | sed 's/^/     /'
echo "dedup_collapse: $fails failed"
[ "$fails" -eq 0 ]

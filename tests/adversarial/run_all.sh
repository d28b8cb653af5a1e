#!/usr/bin/env bash
# Runs every adversarial check; exit non-zero when any shows a weakness.
# AD_BINARY defaults to build-h-adv/abusedesk (cmake -DAD_SANITIZE=ON build).
d=$(cd "$(dirname "$0")" && pwd); rc=0
for t in webhost_forged_ar dedup_collapse ticket_scan_bomb dkim_dns_stall terminal_text ticket_in_spam_subject huge_headers; do
  echo "== $t"; timeout 600 "$d/$t.sh" || rc=1
done
exit $rc

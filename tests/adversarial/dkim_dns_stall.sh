#!/usr/bin/env bash
# A forged complaint (no A-R of our MX) carrying many DKIM-Signature headers with
# distinct d=/s= whose key lookups never get an answer (the attacker's name server
# drops the queries; here: a UDP socket that reads and never replies). Each
# ingest then blocks for DKIMVERIFY_MAX_SIGS x dns_timeout. The check: one mail
# must not hold the intake longer than ~2 x dns_timeout.
python3 - <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
open("/tmp/adv_blackhole_port", "w").write(str(s.getsockname()[1]))
while True:
    s.recvfrom(4096)
EOF
bh=$!
for i in $(seq 50); do [ -s /tmp/adv_blackhole_port ] && break; sleep 0.1; done
export VERIFY_DKIM=true RESOLVER="127.0.0.1:$(cat /tmp/adv_blackhole_port)" DNS_TIMEOUT=3s
. "$(dirname "$0")/lib.sh"
trap 'kill $bh 2>/dev/null; rm -f /tmp/adv_blackhole_port; cleanup' EXIT
mail() {
  report arf-02 feedback@arf.mail.yahoo.com alice@customer.example "stall" > "$work/m.eml"
  { for s in $(seq 1 40); do
      printf 'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=d%s.attacker.test; s=s%s;\n\th=from:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hXc18=; b=AAAA\n' "$s" "$s"
    done; cat "$work/m.eml"; }
}
start=$(date +%s.%N)
mail | ad ingest -q --source stall
end=$(date +%s.%N)
secs=$(python3 -c "print(round($end - $start, 1))")
echo "     one mail with 40 unanswerable DKIM signatures held the intake for ${secs}s (dns_timeout 3s)"
if python3 -c "import sys; sys.exit(0 if $end - $start <= 7 else 1)"; then ok "bounded per message"; else bad "one mail costs ${secs}s of intake time; 100 such mails ~ $(python3 -c "print(round(($end - $start)*100/60))") min"; fi
echo "dkim_dns_stall: $fails failed"
[ "$fails" -eq 0 ]

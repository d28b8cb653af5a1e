#!/usr/bin/env bash
# Huge and pathological header blocks on the ASan build: thousands of A-R and
# Received headers of our id (trust zone walk), 1 MiB folded A-R, unclosed
# comments/quotes, 64 KiB+ From/References; must finish fast and without a
# sanitizer report.
. "$(dirname "$0")/lib.sh"
python3 - "$work" <<'EOF'
import sys
w = sys.argv[1]
hop = "Received: from web3.hoster.example (web3.hoster.example [198.51.100.77]) by mx.hoster.example (Postfix) with ESMTP id X; Mon, 1 Jan 2024 10:00:00 +0000\n"
ar = "Authentication-Results: mx.hoster.example; " + "; ".join("dkim=pass header.d=d%d.example (%s" % (i, "(" * 50) for i in range(64)) + "\n"
big = "Authentication-Results: mx.hoster.example;\n" + "".join("\tdkim=pass header.d=%s.example header.b=\"%s\n" % ("a" * 300, "\\" * 400) for i in range(100))
refs = "References: " + " ".join("<%d@x.example>" % i for i in range(5000)) + "\n"
frm = "From: " + "a" * 100000 + "@x.example\n"
head = (hop + ar) * 200 + big + refs + frm + "To: abuse@hoster.example\nSubject: Re: [abusedesk #1]\nMessage-ID: <h@x.example>\n"
open(w + "/huge.eml", "w").write(head + "\nbody\n")
EOF
ls -la "$work/huge.eml" | awk '{print "     size", $5}'
start=$(date +%s)
ASAN_OPTIONS=detect_leaks=1 ad ingest -q --source huge < "$work/huge.eml" 2> "$work/err"; rc=$?
end=$(date +%s)
echo "     rc=$rc, $((end - start))s"
if grep -q "ERROR: AddressSanitizer\|runtime error\|LeakSanitizer" "$work/err"; then bad "sanitizer report"; head -20 "$work/err"; else ok "no sanitizer report"; fi
[ $((end - start)) -le 20 ] && ok "finished in $((end - start))s" || bad "took $((end - start))s"
case $rc in 0|65) ok "exit $rc";; *) bad "exit $rc"; head -5 "$work/err";; esac
echo "     processed: $(sql "SELECT processed FROM reports ORDER BY id DESC LIMIT 1") authenticated: $(sql "SELECT authenticated FROM scores ORDER BY report_id DESC LIMIT 1")"
echo "huge_headers: $fails failed"
[ "$fails" -eq 0 ]

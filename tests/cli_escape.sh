#!/usr/bin/env bash
# tests/cli_escape.sh: what a complaint says cannot reach the operator's
# terminal raw. An ARF complaint (built by tests/desk/mkcomplaint.py from
# tests/golden/arf-compromised.eml) carries, in RFC 2047 encoded words, an
# original Subject whose decoded text holds ESC]0;pwned BEL (set the window
# title), ESC[2J (clear the screen), CR LF and U+202E (right-to-left override),
# and From display names with escapes; the customer directory names the customer
# with a U+202E. The text output of `reports`, `report show`, `explain`,
# `incidents --all` and `incident show` must hold no raw ESC, BEL or U+202E but
# their visible escapes ("\x1b", "\x07", "\u202e"); --json output no raw ESC or
# BEL (jansson writes \u001b). Also `incident notify --to`: bad addresses are
# refused with exit 64, a good one receives the notice. Each check prints
# "got X, want Y" on failure; the checker is first shown to catch a raw ESC.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
mk="python3 $top/tests/desk/mkcomplaint.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
export LC_ALL=C

. "$top/tests/lib/check.sh" # check, has, hasnt
# count NEEDLE TEXT: how many times the bytes NEEDLE occur in TEXT.
count() { printf '%s' "$2" | grep -oF -- "$1" | wc -l | tr -d ' '; }
ESC=$'\x1b' BEL=$'\x07' RLO=$'\xe2\x80\xae'
# clean NAME TEXT: no raw ESC, BEL or U+202E in TEXT.
clean() {
  check "$1: raw ESC" "$(count "$ESC" "$2")" 0
  check "$1: raw BEL" "$(count "$BEL" "$2")" 0
  check "$1: raw U+202E" "$(count "$RLO" "$2")" 0
}
# escaped NAME TEXT: the visible forms are there (so the payload was shown).
escaped() {
  check "$1: shows \\x1b" "$(( $(count '\x1b' "$2") > 0 ))" 1
  check "$1: shows \\x07" "$(( $(count '\x07' "$2") > 0 ))" 1
  check "$1: shows \\u202e" "$(( $(count '\u202e' "$2") > 0 ))" 1
}

# The checker itself: a raw payload is counted, an escaped one is not.
raw_sample="Rechnung ${ESC}]0;pwned${BEL} ${ESC}[2J zwei ${RLO}fdp.exe"
check "checker sees a raw ESC" "$(count "$ESC" "$raw_sample")" 2
check "checker sees a raw BEL" "$(count "$BEL" "$raw_sample")" 1
check "checker sees a raw U+202E" "$(count "$RLO" "$raw_sample")" 1
check "checker: no visible escape in raw text" "$(count '\x1b' "$raw_sample")" 0

cat > "$work/esc.conf" <<EOF
[store]
path = $work/esc.db
[intake]
spool_dir = $work/spool
quarantine_dir = $work/quarantine
[log]
level = warning
[network]
our_hosts = *.hoster.example
our_ips = 198.51.100.0/24
[incidents]
# One complaint opens an incident, so that incident show has something to show.
observe_score = 0.1
[notify]
# Nothing listens here: notices stay queued in the outbox, where we look at them.
smarthost = smtp://127.0.0.1:1
templates_dir = $top/etc/templates
EOF
. "$top/tests/lib/services.sh"
ad() { ad_services "$bin" "$work/esc.conf" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }

printf 'customer_id,customer_name,contact_email,language,account,domain,uid\n'"C1,Evil ${RLO}HbmG,owner@owner.example,en,alice@customer.example,customer.example,\n" \
  > "$work/dir.csv"
ad directory import "$work/dir.csv" >/dev/null || { echo "FAIL directory import"; exit 1; }

ew() { # an RFC 2047 encoded word (UTF-8, base64) of the Python string literal $1
  python3 -c "import base64,sys; print('=?UTF-8?B?' + base64.b64encode(($1).encode()).decode() + '?=')"
}
subject=$(ew "'Rechnung \x1b]0;pwned\x07 \x1b[2J eins\r\nzwei \u202efdp.exe'")
from_name=$(ew "'Alice \x1b[31mRed\u202e'")
report_name=$(ew "'FBL \x1b]0;owned\x07'")
now=$(date -R)
$mk "$top/tests/golden/arf-compromised.eml" --arrival now-30m --date now-40m \
  --source-ip 198.51.100.25 --report-from "\"$report_name\" <fbl@feedback.example.org>" \
  --from "\"$from_name\" <alice@customer.example>" --return-path alice@customer.example \
  --subject "$subject" \
  --received "from mx2.out.hoster.example (mx2.out.hoster.example [198.51.100.25]) by mx.recipient.test with ESMTPS id R1; $now" \
  --received "from [203.0.113.7] (dsl.example.test [203.0.113.7]) (Authenticated sender: alice@customer.example) by smtp.hoster.example (Postfix) with ESMTPSA id S1; $now" \
  > "$work/complaint.eml"
ad ingest -q --source test < "$work/complaint.eml"
check "ingest" "$?" 0

# The payload reached the store decoded (else this test would prove nothing).
rj=$(ad reports --json 2>&1)
check "stored subject holds the ESC (JSON-escaped)" \
  "$(( $(printf '%s' "$rj" | grep -ic '\\u001b]0;pwned\\u0007') > 0 ))" 1
check "stored subject holds CR LF (JSON-escaped)" "$(( $(count '\r\n' "$rj") > 0 ))" 1
id=$(printf '%s\n' "$rj" | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['id'])")
check "report id" "$id" 1

out=$(ad reports 2>&1)
clean "reports" "$out"
escaped "reports" "$out"
check "reports: one line per report" "$(printf '%s\n' "$out" | wc -l | tr -d ' ')" 2

out=$(ad report show "$id" 2>&1)
clean "report show" "$out"
escaped "report show" "$out"
check "report show: subject on one line" \
  "$(printf '%s\n' "$out" | grep -c '^subject: .*eins\\r\\nzwei \\u202efdp.exe$')" 1

out=$(ad explain "$id" 2>&1)
clean "explain" "$out"
escaped "explain" "$out"

out=$(ad incidents --all 2>&1)
clean "incidents" "$out"
escaped "incidents" "$out"
inc=$(ad incidents --all --json | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['id'])")
check "an incident was opened" "$([ -n "$inc" ] && echo yes)" yes

out=$(ad incident show "$inc" 2>&1)
clean "incident show" "$out"
escaped "incident show" "$out"
check "incident show: customer name from the directory escaped" \
  "$(count 'Evil \u202eHbmG' "$out")" 1

# --json output: jansson escapes ESC and BEL.
for cmd in "reports --json" "explain --json $id" "incidents --all --json" "incident show --json $inc"; do
  out=$(ad $cmd 2>&1)
  check "$cmd: raw ESC" "$(count "$ESC" "$out")" 0
  check "$cmd: raw BEL" "$(count "$BEL" "$out")" 0
done

# incident notify --to: one plain address, or exit 64 with a message.
for bad in 'two words@example.org' 'nodomain@localhost' '<a@example.org>' 'a@example.org,b@example.org' \
           $'a@example.org\r\nBcc: b@example.org' '@example.org' 'a@@example.org' 'a..b@example.org' \
           "$(printf 'x%.0s' $(seq 250))@example.org"; do
  err=$(ad incident notify "$inc" --to "$bad" 2>&1 >/dev/null)
  rc=$?
  shown=$(printf '%q' "$bad" | cut -c1-40)
  check "notify --to refuses '$shown': exit" "$rc" 64
  check "notify --to refuses '$shown': message" "$(count '--to needs one address' "$err")" 1
done
ad incident lock "$inc" --to other@elsewhere.example --reason x >/dev/null 2>&1
check "--to is for notify only" "$?" 64
ad incident lock "$inc" --no-notify --reason "escape test" --by tester >/dev/null 2>&1
check "lock without notice" "$?" 0
err=$(ad incident notify "$inc" --to other@elsewhere.example --by tester 2>&1)
check "notify --to accepted: no address complaint" "$(count 'needs one address' "$err")" 0
box=$(ad outbox --all --json 2>&1)
check "notice queued for the --to address" \
  "$(printf '%s\n' "$box" | grep '"type":"mail"' | grep -c '"to":"other@elsewhere.example"')" 1
check "nothing for the directory's contact" "$(count 'owner@owner.example' "$box")" 0
out=$(ad incident show "$inc" 2>&1)
clean "incident show after notify" "$out"

if [ "$fails" -gt 0 ]; then
  echo "cli_escape: $fails check(s) failed"
  exit 1
fi
echo "cli_escape: all checks passed"

#!/usr/bin/env bash
# Malformed input: every file in tests/malformed plus large ones generated here
# (10 MB header line, 200,000 header lines, multiparts nested 1000 deep, message/rfc822
# nested 300 deep, a 40 MB message) must give `parse` a JSON line and exit 0 or 1,
# and `ingest` exit 0 (stored) or 65 (not a mail, quarantined): no crash, no hang,
# nothing lost. With AD_CHECK_RSS_MB set, each run's peak RSS must stay below it.
set -uo pipefail
src=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$src/tests/lib/sql.sh"  # dbq: the store on SQLite or PostgreSQL
bin=${AD_BINARY:-$src/build/abusedesk}
rss_limit=${AD_CHECK_RSS_MB:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/ad.conf" <<CONF
[store]
path = $tmp/abusedesk.db
[intake]
spool_dir = $tmp/spool
quarantine_dir = $tmp/quarantine
CONF

mkdir -p "$tmp/in"
cp "$src"/tests/malformed/* "$tmp/in/"
python3 - "$tmp/in" <<'PY'
import sys, os
d = sys.argv[1]
def w(name, data):
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)
w('header-line-10mb.eml', b'From: a@example.org\nSubject: ' + b'A' * (10 * 1024 * 1024) + b'\n\nbody\n')
w('endless-headers.eml', b'From: a@example.org\n' + b''.join(b'X-H%d: v\n' % i for i in range(200000)) + b'\nbody\n')
parts = []
depth = 1000
head = b'From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b0"\n\n'
body = b''
for i in range(depth):
    body += b'--b%d\nContent-Type: multipart/mixed; boundary="b%d"\n\n' % (i, i + 1)
body += b'--b%d\nContent-Type: text/plain\n\nspam complaint\n' % depth
for i in range(depth, -1, -1):
    body += b'--b%d--\n' % i
w('nested-multipart-1000.eml', head + body)
msg = b'From: inner@example.org\nSubject: innermost\n\nx\n'
for i in range(300):
    msg = b'From: a%d@example.org\nMIME-Version: 1.0\nContent-Type: message/rfc822\n\n' % i + msg
w('nested-rfc822-300.eml', msg)
big = b'From: a@example.org\nSubject: big\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="Z"\n\n--Z\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; big@example.net\nAction: failed\nStatus: 5.2.2\n\n--Z\nContent-Type: message/rfc822\n\nFrom: x@example.org\nSubject: huge\n\n'
w('message-40mb.eml', big + (b'Q' * 76 + b'\n') * (40 * 1024 * 1024 // 77) + b'--Z--\n')
PY

have_time=0
[ -x /usr/bin/time ] && have_time=1
pass=0 fail=0
run() { # run NAME CMD...: runs CMD with a 60 s limit, records peak RSS in $rss
  shift
  local out="$tmp/time.out"
  if [ $have_time = 1 ]; then
    timeout 60 /usr/bin/time -o "$out" -f '%M' "$@"
  else
    timeout 60 "$@"
  fi
  local rc=$?
  rss=0
  [ $have_time = 1 ] && [ -s "$out" ] && rss=$(( $(tail -1 "$out" | tr -dc '0-9') / 1024 ))
  return $rc
}
check_rss() {
  if [ -n "$rss_limit" ] && [ "$rss" -gt "$rss_limit" ]; then
    echo "FAIL $1: peak RSS ${rss} MB over ${rss_limit} MB"; return 1
  fi
  return 0
}

n_in=0
rss=0
for f in "$tmp"/in/*; do
  name=$(basename "$f")
  n_in=$((n_in + 1))
  run "$name" "$bin" parse "$f" >"$tmp/out" 2>"$tmp/err"; rc=$?
  out=$(cat "$tmp/out")
  if [ $rc != 0 ] && [ $rc != 1 ]; then
    echo "FAIL parse $name: exit $rc"; head -5 "$tmp/err"; fail=$((fail + 1)); continue
  fi
  if ! printf '%s' "$out" | python3 -c 'import json,sys; o=json.loads(sys.stdin.read()); assert "kind" in o' 2>/dev/null; then
    echo "FAIL parse $name: not one JSON object: $(printf '%s' "$out" | head -c 200)"; fail=$((fail + 1)); continue
  fi
  [ $rc = 1 ] && ! grep -q . "$tmp/err" && { echo "FAIL parse $name: exit 1 without a message"; fail=$((fail + 1)); continue; }
  check_rss "parse $name" || { fail=$((fail + 1)); continue; }
  prss=$rss
  run "$name" "$bin" -c "$tmp/ad.conf" ingest -q < "$f" 2>"$tmp/err"; rc=$?
  if [ $rc != 0 ] && [ $rc != 65 ]; then
    echo "FAIL ingest $name: exit $rc"; head -5 "$tmp/err"; fail=$((fail + 1)); continue
  fi
  check_rss "ingest $name" || { fail=$((fail + 1)); continue; }
  printf '  %-28s parse %s, ingest exit %s, peak RSS parse %s MB ingest %s MB\n' "$name" \
    "$(printf '%s' "$out" | python3 -c 'import json,sys; o=json.loads(sys.stdin.read()); print(o["kind"])')" "$rc" "$prss" "$rss"
  pass=$((pass + 1))
done

# Nothing lost: every input is either a stored report or in the quarantine.
stored=$(dbq "$tmp/abusedesk.db" "SELECT COUNT(*) FROM reports")
quarantined=$(ls "$tmp/quarantine"/*.eml 2>/dev/null | wc -l)
distinct=$(for f in "$tmp"/in/*; do sha256sum < "$f"; done | sort -u | wc -l)
if [ $((stored + quarantined)) = "$distinct" ]; then
  pass=$((pass + 1))
else
  echo "FAIL nothing lost: $stored stored + $quarantined quarantined != $distinct distinct inputs"
  fail=$((fail + 1))
fi
echo "malformed: $n_in inputs, $stored stored, $quarantined quarantined"
echo "malformed: $pass passed, $fail failed"
[ "$fail" = 0 ]

#!/usr/bin/env bash
# Golden files: every tests/golden/NAME.eml parses to exactly tests/golden/NAME.json
# (the JSON contract, pretty-printed). UPDATE_GOLDEN=1 rewrites the .json files;
# review the diff before committing.
set -euo pipefail
src=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$src/build/abusedesk}
fail=0 n=0
cd "$src/tests/golden"
for eml in *.eml; do
  want="${eml%.eml}.json"
  got=$("$bin" parse --pretty "$eml")
  n=$((n + 1))
  if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
    printf '%s\n' "$got" > "$want"
    continue
  fi
  if ! diff -u "$want" <(printf '%s\n' "$got") > /tmp/golden.$$.diff; then
    echo "FAIL $eml: got differs from $want:"
    cat /tmp/golden.$$.diff
    fail=$((fail + 1))
  fi
done
rm -f /tmp/golden.$$.diff
echo "golden: $((n - fail)) passed, $fail failed"
[ "$fail" = 0 ]

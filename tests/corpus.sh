#!/usr/bin/env bash
# The real-mail corpus (shared/corpus beside the checkout): every sample parses
# with exit 0 under the build being tested (sanitizers included), and the accuracy
# floors of corpus_report --check hold against MANIFEST.tsv and MANIFEST-more.tsv:
# per field, and for bounces on all files and on the held-out half (recipient+status,
# reason, files with every recipient found, files fully right; see
# bench/corpus_report.c). Fails when a figure drops below its floor.
set -uo pipefail
src=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$src/build/abusedesk}
corpus="$(bash "$src/tools/shared-dir.sh")/corpus"
if [ ! -f "$corpus/MANIFEST.tsv" ] || [ ! -f "$corpus/MANIFEST-more.tsv" ]; then
  echo "corpus: $corpus/MANIFEST.tsv or MANIFEST-more.tsv not found (shared/ must sit beside the checkout)"
  echo "corpus: 0 passed, 1 failed"
  exit 1
fi
fail=0 n=0
while IFS= read -r f; do
  n=$((n + 1))
  if ! "$bin" parse "$f" > /dev/null 2> /tmp/corpus.$$.err; then
    echo "FAIL parse $f:"; head -20 /tmp/corpus.$$.err; fail=$((fail + 1))
  fi
done < <(find "$corpus" -name '*.eml' | sort)
rm -f /tmp/corpus.$$.err
echo "corpus: parsed $n files, $fail failures"
report="$(dirname "$bin")/corpus_report"
if ! "$report" --check "$corpus"; then fail=$((fail + 1)); fi
echo "corpus: $((n + 1 - fail)) passed, $fail failed"
[ "$fail" = 0 ]

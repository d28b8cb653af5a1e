#!/usr/bin/env bash
# fuzz/run.sh BUILD_DIR: runs each libFuzzer target for FUZZ_SECONDS (default 60),
# after replaying its seed corpus: shared/corpus mails plus tests/malformed for the
# parser, fuzz/seeds/config and etc/*.conf for the config reader, fuzz/seeds/csv and
# etc/*.csv for the customer directory import, fuzz/seeds/policy for the policy
# protocol parser, fuzz/seeds/authres for the Authentication-Results parser. New inputs go to
# a scratch corpus under BUILD_DIR; crashes are written there and fail the run.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build-fuzz}
secs=${FUZZ_SECONDS:-60}
work="$build/fuzz-work"
mkdir -p "$work/parse" "$work/config" "$work/csv" "$work/policy" "$work/authres" "$work/artifacts"

seeds_parse="$work/seeds-parse"
mkdir -p "$seeds_parse"
shared=$(bash "$here/tools/shared-dir.sh")
if [ -d "$shared/corpus" ]; then
  find "$shared/corpus" -name '*.eml' -size -64k -exec cp -t "$seeds_parse" {} + 2>/dev/null || true
fi
find "$here/tests/malformed" -type f -size -256k -exec cp -t "$seeds_parse" {} + 2>/dev/null || true
seeds_config="$work/seeds-config"
mkdir -p "$seeds_config"
cp "$here"/fuzz/seeds/config/* "$here"/etc/*.conf "$seeds_config"/ 2>/dev/null || true
seeds_csv="$work/seeds-csv"
mkdir -p "$seeds_csv"
cp "$here"/fuzz/seeds/csv/* "$here"/etc/*.csv "$seeds_csv"/ 2>/dev/null || true
seeds_policy="$work/seeds-policy"
mkdir -p "$seeds_policy"
cp "$here"/fuzz/seeds/policy/* "$seeds_policy"/ 2>/dev/null || true
seeds_authres="$work/seeds-authres"
mkdir -p "$seeds_authres"
cp "$here"/fuzz/seeds/authres/* "$seeds_authres"/ 2>/dev/null || true

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
run() {
  local target=$1 corpus=$2 seeds=$3
  echo "fuzz: $target for ${secs}s (seeds: $(ls "$seeds" | wc -l) files)"
  if ! "$build/$target" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=262144 \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$work/artifacts/$target-" \
      "$corpus" "$seeds" > "$work/$target.log" 2>&1; then
    echo "fuzz: $target FAILED; last lines of $work/$target.log:"
    tail -40 "$work/$target.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$work/$target.log" | tail -2
  fi
}
run fuzz_parse "$work/parse" "$seeds_parse"
run fuzz_config "$work/config" "$seeds_config"
run fuzz_csv "$work/csv" "$seeds_csv"
run fuzz_policy "$work/policy" "$seeds_policy"
run fuzz_authres "$work/authres" "$seeds_authres"
# fuzz/seeds/textsafe: untrusted text for util/textsafe.c (first byte = limits).
seeds_textsafe="$work/seeds-textsafe"
mkdir -p "$seeds_textsafe" "$work/textsafe"
cp "$here"/fuzz/seeds/textsafe/* "$seeds_textsafe"/ 2>/dev/null || true
run fuzz_textsafe "$work/textsafe" "$seeds_textsafe"
# fuzz/seeds/route plus the corpus: header blocks for the desk's routing step.
seeds_route="$work/seeds-route"
mkdir -p "$seeds_route" "$work/route"
cp "$here"/fuzz/seeds/route/* "$seeds_route"/ 2>/dev/null || true
run fuzz_route "$work/route" "$seeds_route"
# fuzz/seeds/rbl: DNS replies (A, TXT) and zone names for the DNSBL check.
seeds_rbl="$work/seeds-rbl"
mkdir -p "$seeds_rbl" "$work/rbl"
cp "$here"/fuzz/seeds/rbl/* "$seeds_rbl"/ 2>/dev/null || true
run fuzz_rbl "$work/rbl" "$seeds_rbl"
# fuzz/seeds/web: query string or form, Cookie header and JSON body of a web
# request, separated by NUL bytes (web/parse.c).
seeds_web="$work/seeds-web"
mkdir -p "$seeds_web" "$work/web"
cp "$here"/fuzz/seeds/web/* "$seeds_web"/ 2>/dev/null || true
run fuzz_web "$work/web" "$seeds_web"
# fuzz/seeds/arrival plus the corpus: header blocks for ingest --replay's arrival time.
seeds_arrival="$work/seeds-arrival"
mkdir -p "$seeds_arrival" "$work/arrival"
cp "$here"/fuzz/seeds/arrival/* "$seeds_arrival"/ 2>/dev/null || true
run fuzz_arrival "$work/arrival" "$seeds_arrival"
# fuzz/seeds/dmarc plus the DMARC reports of the corpus: XML, gzip, zip, mails.
seeds_dmarc="$work/seeds-dmarc"
mkdir -p "$seeds_dmarc" "$work/dmarc"
cp "$here"/fuzz/seeds/dmarc/* "$seeds_dmarc"/ 2>/dev/null || true
if [ -d "$shared/corpus/dmarc" ]; then
  find "$shared/corpus/dmarc" -type f -size -64k -exec cp -t "$seeds_dmarc" {} + 2>/dev/null || true
fi
run fuzz_dmarc "$work/dmarc" "$seeds_dmarc"
# fuzz/seeds/records: SPF and DMARC TXT records for the domain audit.
seeds_records="$work/seeds-records"
mkdir -p "$seeds_records" "$work/records"
cp "$here"/fuzz/seeds/records/* "$seeds_records"/ 2>/dev/null || true
run fuzz_records "$work/records" "$seeds_records"
# fuzz/seeds/postqueue: postqueue -j output for held mail, and text to redact
# (first byte: account filter).
seeds_postqueue="$work/seeds-postqueue"
mkdir -p "$seeds_postqueue" "$work/postqueue"
cp "$here"/fuzz/seeds/postqueue/* "$seeds_postqueue"/ 2>/dev/null || true
run fuzz_postqueue "$work/postqueue" "$seeds_postqueue"
# fuzz/seeds/batv: envelope addresses with and without BATV tags, key files.
seeds_batv="$work/seeds-batv"
mkdir -p "$seeds_batv" "$work/batv"
cp "$here"/fuzz/seeds/batv/* "$seeds_batv"/ 2>/dev/null || true
run fuzz_batv "$work/batv" "$seeds_batv"
# fuzz/seeds/milter: Received, X-PHP-Originating-Script and Message-ID values.
seeds_milter="$work/seeds-milter"
mkdir -p "$seeds_milter" "$work/milter"
cp "$here"/fuzz/seeds/milter/* "$seeds_milter"/ 2>/dev/null || true
run fuzz_milter "$work/milter" "$seeds_milter"
exit $status

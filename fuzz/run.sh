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
mkdir -p "$work/artifacts"
shared=$(bash "$here/tools/shared-dir.sh")

# seeds NAME [FILE...]: the seed corpus $work/seeds-NAME of target fuzz_NAME:
# fuzz/seeds/NAME plus the files given; echoes its path. New inputs go to
# $work/NAME.
seeds() {
  local name=$1 dir="$work/seeds-$1"
  shift
  mkdir -p "$dir" "$work/$name"
  cp "$here/fuzz/seeds/$name"/* "$@" "$dir"/ 2>/dev/null || true
  echo "$dir"
}

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
# run NAME [FILE...]: fuzz_NAME on its seeds (see seeds) for FUZZ_SECONDS.
run() {
  local target=fuzz_$1 corpus="$work/$1" seeds
  seeds=$(seeds "$@")
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
# small files of a folder (none when it is missing)
small() { [ -d "$1" ] && find "$1" -type f "${@:2}" -size -64k; return 0; }

# The parser: the corpus mails and tests/malformed.
mapfile -t parse_seeds < <(small "$shared/corpus" -name '*.eml'
                           find "$here/tests/malformed" -type f -size -256k)
run parse "${parse_seeds[@]}"
run config "$here"/etc/*.conf
run csv "$here"/etc/*.csv
run policy
run authres
# untrusted text for util/textsafe.c (first byte = limits)
run textsafe
# header blocks for the desk's routing step
run route
# DNS replies (A, TXT) and zone names for the DNSBL check
run rbl
# query string or form, Cookie header and JSON body of a web request,
# separated by NUL bytes (web/parse.c)
run web
# header blocks for ingest --replay's arrival time
run arrival
# DMARC reports (XML, gzip, zip, mails), with those of the corpus
mapfile -t dmarc_seeds < <(small "$shared/corpus/dmarc")
run dmarc "${dmarc_seeds[@]}"
# SPF and DMARC TXT records for the domain audit
run records
# postqueue -j output for held mail, and text to redact (first byte: account filter)
run postqueue
# envelope addresses with and without BATV tags, key files
run batv
# Received, X-PHP-Originating-Script and Message-ID values
run milter
exit $status

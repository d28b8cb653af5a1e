#!/usr/bin/env bash
# dmarc.sh: part of `make bench`. DMARC aggregate report parsing, whole process
# per file, against dmarc-cat (Go, Debian package dmarc-cat), the tool admins
# reach for: both run with addresses left unresolved (dmarc-cat -N; abusedesk
# never resolves). Files: every report of shared/corpus/dmarc both read (XML
# and .zip; the 0.9 MB report among them) plus the 0.9 MB report zip'd.
# dmarc-cat takes plain XML only on stdin (-t xml; a .xml name is refused), so
# plain XML goes to it on stdin and to abusedesk by name; compressed files go
# to both by name. Each side runs once per file per round, ROUNDS rounds
# (default 20); output goes to /dev/null. Prints the time per side and the
# ratio (target >= 3x).
# usage: bash bench/dmarc.sh   environment: ROUNDS (20), AD_BUILD (build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${AD_BUILD:-$root/build}/abusedesk
corpus=$(bash "$root/tools/shared-dir.sh")/corpus/dmarc
rounds=${ROUNDS:-20}
[ -x "$bin" ] || { echo "dmarc.sh: $bin missing; run 'make build' first" >&2; exit 1; }
[ -d "$corpus" ] || { echo "dmarc.sh: $corpus missing" >&2; exit 1; }
command -v dmarc-cat >/dev/null || { echo "dmarc.sh: dmarc-cat missing (apt-get install dmarc-cat)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '[log]\nlevel = error\n' >"$work/bench.conf"

# The files both sides read (dmarc-cat wants .gz/.zip names; copies keep them simple).
files=()
i=0
for f in "$corpus"/*.xml "$corpus"/*.xml.gz "$corpus"/*.zip; do
  [ -f "$f" ] || continue
  # Only what both tools read: the malformed samples are for the tests.
  "$bin" -c "$work/bench.conf" dmarc parse "$f" >/dev/null 2>&1 || continue
  i=$((i + 1))
  case $f in
    *.gz) c="$work/r$i.xml.gz" ;;
    *.zip) c="$work/r$i.zip" ;;
    *) c="$work/r$i.xml" ;;
  esac
  cp "$f" "$c"
  case $c in
    *.xml) dmarc-cat -N -t xml - <"$c" >/dev/null 2>&1 ;;
    *) dmarc-cat -N "$c" >/dev/null 2>&1 ;;
  esac || { echo "dmarc.sh: skipped (dmarc-cat cannot read it): ${f##*/}"; continue; }
  files+=("$c")
done
large=$(ls -S "$corpus"/*.xml | head -1)
[ "$(stat -c %s "$large")" -gt 800000 ] || { echo "dmarc.sh: the 0.9 MB report is missing" >&2; exit 1; }
# The large report zip'd too (dmarc-cat 0.15 of Debian reads no gzip at all:
# "bad filename" by name, an XML error on stdin; the .gz samples are skipped).
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED).write(sys.argv[2], "large.xml")' \
  "$work/large.zip" "$large"
files+=("$work/large.zip")
bytes=0
for f in "${files[@]}"; do bytes=$((bytes + $(stat -c %s "$f"))); done
for f in "${files[@]}"; do # both must read every file
  "$bin" -c "$work/bench.conf" dmarc parse "$f" >/dev/null || { echo "dmarc.sh: abusedesk fails on $f" >&2; exit 1; }
  case $f in
    *.xml) dmarc-cat -N -t xml - <"$f" >/dev/null 2>&1 ;;
    *) dmarc-cat -N "$f" >/dev/null 2>&1 ;;
  esac || { echo "dmarc.sh: dmarc-cat fails on $f" >&2; exit 1; }
done

run_ad() {
  local r f
  for ((r = 0; r < rounds; r++)); do
    for f in "${files[@]}"; do "$bin" -c "$work/bench.conf" dmarc parse "$f" >/dev/null; done
  done
}
run_dc() {
  local r f
  for ((r = 0; r < rounds; r++)); do
    for f in "${files[@]}"; do
      case $f in
        *.xml) dmarc-cat -N -t xml - <"$f" >/dev/null 2>&1 ;;
        *) dmarc-cat -N "$f" >/dev/null 2>&1 ;;
      esac
    done
  done
}
now() { date +%s%N; }
t0=$(now); run_ad; t1=$(now); run_dc; t2=$(now)
ad_ms=$(( (t1 - t0) / 1000000 )); dc_ms=$(( (t2 - t1) / 1000000 ))
# The 0.9 MB report alone, whole process, ROUNDS times each.
cp "$large" "$work/large.xml"
t0=$(now)
for ((r = 0; r < rounds; r++)); do "$bin" -c "$work/bench.conf" dmarc parse "$work/large.xml" >/dev/null; done
t1=$(now)
for ((r = 0; r < rounds; r++)); do dmarc-cat -N -t xml - <"$work/large.xml" >/dev/null 2>&1; done
t2=$(now)
lad=$(( (t1 - t0) / 1000000 )); ldc=$(( (t2 - t1) / 1000000 ))
n=$(( ${#files[@]} * rounds ))
echo "dmarc: ${#files[@]} reports ($bytes bytes), $rounds rounds, one process per file"
printf '  abusedesk dmarc parse   %6d ms  (%.2f ms per file)\n' "$ad_ms" "$(echo "$ad_ms / $n" | bc -l)"
printf '  dmarc-cat -N            %6d ms  (%.2f ms per file)\n' "$dc_ms" "$(echo "$dc_ms / $n" | bc -l)"
printf '  ratio                   %.1fx (target >= 3x)\n' "$(echo "$dc_ms / ($ad_ms + 0.001)" | bc -l)"
echo "dmarc: the 0.9 MB report alone ($(stat -c %s "$large") bytes), $rounds runs"
printf '  abusedesk %6d ms, dmarc-cat %6d ms: %.1fx\n' "$lad" "$ldc" "$(echo "$ldc / ($lad + 0.001)" | bc -l)"

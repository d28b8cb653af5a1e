#!/usr/bin/env bash
# dmarc.sh: part of `make bench`. DMARC aggregate report reading, whole
# process per file, against dmarc-cat (Go, Debian package dmarc-cat), the
# tool admins reach for; both leave addresses unresolved (dmarc-cat -N;
# abusedesk never resolves). Files: every report of shared/corpus/dmarc both
# read (XML and zip; the 0.9 MB report among them) plus the 0.9 MB report
# zip'd. dmarc-cat 0.15 takes plain XML only on stdin (-t xml; a .xml name is
# "bad filename") and reads no gzip at all, so plain XML goes to it on stdin
# and the .gz samples are left out; everything else goes to both by name.
# Sides: abusedesk-dmarc (the reader alone, static: what an admin runs on a
# report), `abusedesk dmarc parse` (the full binary: some sixty shared
# libraries are loaded before main(), which dominates small files), and
# dmarc-cat -N. Each runs once per file per round, ROUNDS rounds (default
# 10), output to /dev/null; wall time and CPU time (user + system) of all the
# processes. Prints the ratios (target >= 3x).
# usage: bash bench/dmarc.sh   environment: ROUNDS (10), AD_BUILD (build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${AD_BUILD:-$root/build}
bin=$build/abusedesk
lean=$build/abusedesk-dmarc
corpus=$(bash "$root/tools/shared-dir.sh")/corpus/dmarc
rounds=${ROUNDS:-10}
[ -x "$bin" ] && [ -x "$lean" ] || { echo "dmarc.sh: $bin or $lean missing; run 'make build' first" >&2; exit 1; }
[ -d "$corpus" ] || { echo "dmarc.sh: $corpus missing" >&2; exit 1; }
command -v dmarc-cat >/dev/null || { echo "dmarc.sh: dmarc-cat missing (apt-get install dmarc-cat)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "dmarc.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '[log]\nlevel = error\n' >"$work/bench.conf"

dc() { # dmarc-cat on one file, the way it reads it
  case $1 in
    *.xml) dmarc-cat -N -t xml - <"$1" ;;
    *) dmarc-cat -N "$1" ;;
  esac
}
files=()
i=0
for f in "$corpus"/*.xml "$corpus"/*.zip; do
  [ -f "$f" ] || continue
  "$lean" "$f" >/dev/null 2>&1 || continue # the malformed samples are for the tests
  i=$((i + 1))
  case $f in *.zip) c="$work/r$i.zip" ;; *) c="$work/r$i.xml" ;; esac
  cp "$f" "$c"
  dc "$c" >/dev/null 2>&1 || { echo "dmarc.sh: skipped (dmarc-cat cannot read it): ${f##*/}"; continue; }
  files+=("$c")
done
large=$(ls -S "$corpus"/*.xml | head -1)
[ "$(stat -c %s "$large")" -gt 800000 ] || { echo "dmarc.sh: the 0.9 MB report is missing" >&2; exit 1; }
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED).write(sys.argv[2], "large.xml")' \
  "$work/large.zip" "$large"
files+=("$work/large.zip")
bytes=0
for f in "${files[@]}"; do
  bytes=$((bytes + $(stat -c %s "$f")))
  "$bin" -c "$work/bench.conf" dmarc parse "$f" >/dev/null || { echo "dmarc.sh: abusedesk fails on $f" >&2; exit 1; }
done
export -f dc
export bin lean rounds
printf '%s\n' "${files[@]}" >"$work/files"
export FILES="$work/files" CONF="$work/bench.conf"

measure() { # NAME COMMAND-PER-FILE: prints "wall_ms cpu_ms"
  /usr/bin/time -f '%e %U %S' -o "$work/t" bash -c '
    for ((r = 0; r < rounds; r++)); do
      while read -r f; do '"$2"' >/dev/null 2>&1; done <"$FILES"
    done'
  awk '{ printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000 }' "$work/t"
}
read -r lw lc < <(measure lean '"$lean" "$f"')
read -r aw ac < <(measure full '"$bin" -c "$CONF" dmarc parse "$f"')
read -r dw dcpu < <(measure dmarc-cat 'dc "$f"')
n=$(( ${#files[@]} * rounds ))
ratio() { echo "scale=1; $1 / ($2 + 0.0001)" | bc; }
echo "dmarc: ${#files[@]} reports ($bytes bytes, the 0.9 MB one as XML and zip'd), $rounds rounds, one process per file ($n each)"
printf '  %-26s %7s %7s\n' "" "wall ms" "cpu ms"
printf '  %-26s %7d %7d\n' "abusedesk-dmarc" "$lw" "$lc"
printf '  %-26s %7d %7d\n' "abusedesk dmarc parse" "$aw" "$ac"
printf '  %-26s %7d %7d\n' "dmarc-cat -N" "$dw" "$dcpu"
echo "  ratio abusedesk-dmarc vs dmarc-cat:       wall $(ratio "$dw" "$lw")x, cpu $(ratio "$dcpu" "$lc")x (target >= 3x)"
echo "  ratio abusedesk dmarc parse vs dmarc-cat: wall $(ratio "$dw" "$aw")x, cpu $(ratio "$dcpu" "$ac")x"
# The 0.9 MB report alone (zip'd: dmarc-cat reads it by name), ROUNDS runs each.
printf '%s\n' "$work/large.zip" >"$work/files"
read -r lw lc < <(measure lean '"$lean" "$f"')
read -r aw ac < <(measure full '"$bin" -c "$CONF" dmarc parse "$f"')
read -r dw dcpu < <(measure dmarc-cat 'dc "$f"')
echo "dmarc: the 0.9 MB report alone ($(stat -c %s "$large") bytes of XML, zip'd), $rounds runs"
echo "  abusedesk-dmarc ${lw} ms (cpu ${lc}), abusedesk dmarc parse ${aw} ms (cpu ${ac}), dmarc-cat ${dw} ms (cpu ${dcpu})"
echo "  ratio abusedesk-dmarc vs dmarc-cat: wall $(ratio "$dw" "$lw")x, cpu $(ratio "$dcpu" "$lc")x"

#!/usr/bin/env bash
# parse.sh: `make bench`. Measures, in one run, the parser throughput of abusedesk
# (build/parse_bench: parse + full field extraction, and again with the JSON
# line of the parse contract) against Sisimai and
# Python's email package (compat32) over the same files, ../shared/corpus; prints
# the medians of the warm passes, the ratios and whether the >= 20x Sisimai target
# is met. Same work for both: parse_bench and Sisimai (bench/sisimai-mem.pl) read
# every file into memory first and parse from memory while timed. Then the whole
# process, start-up included: one `abusedesk parse FILE...` over every corpus file
# (JSON out) against one perl process running Sisimai->dump() (JSON out) over the
# same files, median of WP_RUNS runs, and their ratio. Both ratios are given by
# wall time and by CPU time (user + system), which load from other processes on a
# shared machine moves less. Then checks memory: one
# large synthetic message (BIG_MIB MiB, generated in a temporary folder, in three
# shapes: a DSN returning a huge attachment, a non-MIME text bounce with a huge
# body, a mail with a huge header block) goes through `abusedesk parse` and
# `abusedesk ingest` (with a temporary configuration and store), and their peak RSS
# (/usr/bin/time) is compared with the 64 MiB bound. Builds nothing: run
# `make build` first.
# Exit status: 0 when every tool ran (a missed target prints MISSED but is not a
# failure), 1 when a tool failed or is missing, 64 on usage errors. A missing peer
# (Sisimai, python3) is skipped with the command that installs it.
#
# usage: bash bench/parse.sh [CORPUS_DIR]
# environment: AD_PASSES (30), SISIMAI_PASSES (6), PY_PASSES (15), WP_RUNS (5), BIG_MIB
# (200, 0 skips the memory check), AD_BUILD (build directory, default build/)
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
shared=$(bash "$root/tools/shared-dir.sh")
tools=$shared/tools
corpus=${1:-$shared/corpus}
build=${AD_BUILD:-$root/build}
ad_passes=${AD_PASSES:-30}
sisimai_passes=${SISIMAI_PASSES:-6}
py_passes=${PY_PASSES:-15}
wp_runs=${WP_RUNS:-5}
big_mib=${BIG_MIB:-200}
target_x=20
want_x=50
rss_bound_kb=$((64 * 1024))

if [ $# -gt 1 ] || [ ! -d "$corpus" ]; then
    echo "usage: bash bench/parse.sh [CORPUS_DIR]   (no corpus at $corpus)" >&2
    exit 64
fi
for bin in parse_bench abusedesk; do
    if [ ! -x "$build/$bin" ]; then
        echo "parse.sh: $build/$bin missing; run 'make build' first" >&2
        exit 1
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/abusedesk-bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failed=0

# median_of FILE FIELD: median of FIELD=value over the warm passes (PASS k, k >= 1).
median_of() {
    awk -v f="$2" '$1 == "PASS" && $2 > 0 {
        for (i = 3; i <= NF; i++) if (index($i, f "=") == 1) print substr($i, length(f) + 2)
    }' "$1" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) exit 1
        if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2]
        else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
    }'
}

# run NAME LOG CMD...: runs one driver, keeps its output in LOG, echoes its PASS lines.
run() {
    local name=$1 log=$2 rc
    shift 2
    echo "== $name: $*"
    "$@" >"$log" 2>"$log.err"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "parse.sh: $name failed (exit $rc):" >&2
        tail -n 20 "$log.err" >&2
        failed=1
        return 1
    fi
    grep -v '^  folder' "$log" | sed 's/^/   /'
    if ! median_of "$log" msgs_per_s >/dev/null; then
        echo "parse.sh: $name printed no warm PASS line" >&2
        failed=1
        return 1
    fi
}

declare -A rate mbs label
order=()

# abusedesk twice: parse + full field extraction (what Sisimai->make() does: it
# builds its records and serialises nothing), then the same plus the JSON line of
# the parse contract. The target is judged on the first; both ratios are printed.
if run abusedesk "$tmp/ad.log" "$build/parse_bench" --no-json "$corpus" "$ad_passes"; then
    order+=(abusedesk)
    label[abusedesk]="abusedesk $(awk 'NR == 1 { print $2 }' "$tmp/ad.log") parse+extract"
fi
if run "abusedesk + JSON" "$tmp/adj.log" "$build/parse_bench" "$corpus" "$ad_passes"; then
    order+=(adjson)
    label[adjson]="abusedesk + JSON line"
fi

if ! command -v perl >/dev/null || ! perl -MSisimai -e 1 2>/dev/null; then
    echo "== Sisimai: not installed, skipped (install: apt-get install libsisimai-perl)"
elif run Sisimai "$tmp/sisimai.log" perl "$root/bench/sisimai-mem.pl" "$corpus" "$sisimai_passes"; then
    order+=(sisimai)
    label[sisimai]="Sisimai $(awk 'NR == 1 { print $2 }' "$tmp/sisimai.log") (in memory)"
fi

if ! command -v python3 >/dev/null; then
    echo "== Python email: python3 not installed, skipped (install: apt-get install python3)"
elif run "Python email" "$tmp/py.log" python3 "$tools/pyemail-bench.py" compat32 "$corpus" "$py_passes"; then
    order+=(python)
    label[python]="Python $(awk 'NR == 1 { print $2 }' "$tmp/py.log") email compat32"
fi

declare -A logs=([abusedesk]=ad.log [adjson]=adj.log [sisimai]=sisimai.log [python]=py.log)
for p in "${order[@]}"; do
    rate[$p]=$(median_of "$tmp/${logs[$p]}" msgs_per_s)
    mbs[$p]=$(median_of "$tmp/${logs[$p]}" MB_per_s)
done

echo
echo "Throughput over $(cd "$corpus" && pwd) (median of warm passes):"
printf '  %-32s %12s %9s %14s %14s\n' parser msgs/s MB/s "abusedesk x" "(by MB/s)"
for p in "${order[@]}"; do
    xr=- xm=-
    if [ "$p" != abusedesk ] && [ "$p" != adjson ] && [ -n "${rate[abusedesk]:-}" ]; then
        xr=$(awk -v a="${rate[abusedesk]}" -v b="${rate[$p]}" 'BEGIN { printf "%.2fx", a / b }')
        xm=$(awk -v a="${mbs[abusedesk]}" -v b="${mbs[$p]}" 'BEGIN { printf "%.2fx", a / b }')
    fi
    printf '  %-32s %12s %9s %14s %14s\n' "${label[$p]}" "${rate[$p]}" "${mbs[$p]}" "$xr" "$xm"
done
if [ -n "${rate[abusedesk]:-}" ] && [ -n "${rate[sisimai]:-}" ]; then
    awk -v a="${rate[abusedesk]}" -v b="${rate[sisimai]}" -v t="$target_x" -v w="$want_x" 'BEGIN {
        x = a / b
        if (x >= w) s = "MET (and the 50x goal)"
        else if (x >= t) s = "MET (50x goal not yet)"
        else s = "MISSED"
        printf "  target >= %dx Sisimai: %s: %.2fx (needs >= %.0f msgs/s; %dx = %.0f)\n", t, s, x, t * b, w, w * b
    }'
    if [ -n "${rate[adjson]:-}" ]; then
        awk -v a="${rate[adjson]}" -v b="${rate[sisimai]}" 'BEGIN {
            printf "  with the JSON line as well (work Sisimai does not do): %.2fx Sisimai\n", a / b }'
    fi
    # The same ratio by CPU time (user + system) of the passes: other processes on
    # a shared machine move it less than wall time.
    cpu_ad=$(median_of "$tmp/ad.log" cpu_msgs_per_s 2>/dev/null)
    cpu_si=$(median_of "$tmp/sisimai.log" cpu_msgs_per_s 2>/dev/null)
    if [ -n "$cpu_ad" ] && [ -n "$cpu_si" ]; then
        awk -v a="$cpu_ad" -v b="$cpu_si" 'BEGIN {
            printf "  by CPU time: abusedesk %.1f msgs/CPU-s, Sisimai %.1f msgs/CPU-s: %.2fx\n", a, b, a / b }'
    fi
else
    echo "  target >= ${target_x}x Sisimai: NOT MEASURED (a parser did not run)"
fi

# Whole process, start-up included: one process over every corpus file, each
# printing one JSON record set per file, WP_RUNS times; the median wall time.
echo
mapfile -t wp_files < <(find "$corpus" -type f -name '*.eml' | sort)
# wall CMD...: "WALL CPU" seconds of one run of CMD (output discarded; CPU is user
# + system from /usr/bin/time, or "-" without it); empty on failure.
wall() {
    local t0 t1 cpu=-
    t0=$(date +%s.%N)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%U %S' -o "$tmp/wall.cpu" "$@" >/dev/null 2>"$tmp/wall.err" ||
            { tail -n 5 "$tmp/wall.err" >&2; return 1; }
        cpu=$(awk 'END { printf "%.3f", $1 + $2 }' "$tmp/wall.cpu")
    else
        "$@" >/dev/null 2>"$tmp/wall.err" || { tail -n 5 "$tmp/wall.err" >&2; return 1; }
    fi
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" -v c="$cpu" 'BEGIN { printf "%.3f %s\n", b - a, c }'
}
# median_runs NAME CMD...: the medians of WP_RUNS wall and CPU times ("WALL CPU"),
# or empty.
median_runs() {
    local name=$1 k t
    shift
    : >"$tmp/wp.$name"
    for ((k = 0; k < wp_runs; k++)); do
        t=$(wall "$@") || { echo "parse.sh: whole-process $name failed" >&2; failed=1; return 1; }
        echo "$t" >>"$tmp/wp.$name"
    done
    local w c
    w=$(awk '{ print $1 }' "$tmp/wp.$name" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    c=$(awk '{ print $2 }' "$tmp/wp.$name" | sort -g | awk '$1 != "-" { v[++n] = $1 } END {
        if (n == 0) print "-"; else if (n % 2) printf "%.3f\n", v[(n + 1) / 2]; else printf "%.3f\n", (v[n / 2] + v[n / 2 + 1]) / 2 }')
    echo "$w $c"
}
nf=${#wp_files[@]}
echo "Whole process over $nf files (start-up, parse and JSON out; median of $wp_runs runs):"
printf '  %-40s %10s %10s %12s %12s\n' command seconds msgs/s "CPU seconds" "abusedesk x"
wp_ad=$(median_runs abusedesk "$build/abusedesk" parse "${wp_files[@]}")
if [ -n "$wp_ad" ]; then
    read -r wp_ad wp_ad_cpu <<<"$wp_ad"
    printf '  %-40s %10s %10s %12s %12s\n' "abusedesk parse FILE..." "$wp_ad" \
        "$(awk -v n="$nf" -v t="$wp_ad" 'BEGIN { printf "%.1f", n / t }')" "$wp_ad_cpu" -
fi
if command -v perl >/dev/null && perl -MSisimai -e 1 2>/dev/null; then
    wp_si=$(median_runs sisimai perl -MSisimai -e \
        'for my $f (@ARGV) { my $j = Sisimai->dump($f, delivered => 1); print $j, "\n" if defined $j }' \
        "${wp_files[@]}")
    if [ -n "$wp_si" ] && [ -n "$wp_ad" ]; then
        read -r wp_si wp_si_cpu <<<"$wp_si"
        printf '  %-40s %10s %10s %12s %12s\n' "perl Sisimai->dump(FILE) for FILE..." "$wp_si" \
            "$(awk -v n="$nf" -v t="$wp_si" 'BEGIN { printf "%.1f", n / t }')" "$wp_si_cpu" \
            "$(awk -v a="$wp_ad" -v b="$wp_si" 'BEGIN { printf "%.2fx", b / a }')"
        awk -v a="$wp_ad" -v b="$wp_si" -v ac="$wp_ad_cpu" -v bc="$wp_si_cpu" 'BEGIN {
            printf "  whole process: abusedesk is %.2fx Sisimai by wall time", b / a
            if (ac != "-" && bc != "-" && ac > 0) printf ", %.2fx by CPU time", bc / ac
            printf "\n" }'
    fi
else
    echo "  Sisimai: not installed, skipped (install: apt-get install libsisimai-perl)"
fi

# Memory check: peak RSS for one large message, whatever its size.
echo
if [ "$big_mib" -eq 0 ]; then
    echo "Memory check skipped (BIG_MIB=0)."
    exit $failed
fi
if [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "== installing package time for /usr/bin/time"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null 2>&1 &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1; }
    fi
    if [ ! -x /usr/bin/time ]; then
        echo "parse.sh: /usr/bin/time missing (install: apt-get install time); memory check skipped" >&2
        exit 1
    fi
fi
avail_kb=$(df -Pk "$tmp" | awk 'NR == 2 { print $4 }')
if [ "$avail_kb" -lt $((big_mib * 1024 * 4)) ]; then  # message, spool copy, store
    echo "parse.sh: $tmp has ${avail_kb} KiB free, the memory check needs $((big_mib * 4)) MiB; skipped" >&2
    exit 1
fi

echo "Peak RSS for one ${big_mib}-MiB message (bound: 64 MiB = $rss_bound_kb KiB, /usr/bin/time %M):"
printf '  %-11s %-24s %-24s %s\n' shape "abusedesk parse" "abusedesk ingest" "parse result"
over=0

# measure DIR CMD...: runs CMD under /usr/bin/time with its output in DIR; sets kb
# and verdict, and failed=1 when CMD fails.
measure() {
    local dir=$1 rc
    shift
    /usr/bin/time -f %M -o "$dir/rss" "$@" >"$dir/out" 2>"$dir/err"
    rc=$?
    kb=$(tail -n 1 "$dir/rss")
    verdict=$(awk -v k="$kb" -v rc="$rc" -v b="$rss_bound_kb" \
        'BEGIN { printf "%.1f MiB %s%s", k / 1024, (k > b ? "OVER" : "ok"), (rc ? " exit=" rc : "") }')
    [ "$kb" -gt "$rss_bound_kb" ] && over=1
    if [ "$rc" -ne 0 ]; then
        echo "parse.sh: $* failed (exit $rc):" >&2
        tail -n 5 "$dir/err" >&2
        failed=1
    fi
}

for shape in attachment plain headers; do
    dir=$tmp/big-$shape
    mkdir -p "$dir"
    if ! "$build/parse_bench" --gen-big "$big_mib" "$dir/big.eml" "$shape"; then
        echo "parse.sh: generating the $shape message failed" >&2
        exit 1
    fi
    measure "$dir" "$build/abusedesk" parse "$dir/big.eml"
    parse_col=$verdict
    result=$(grep -o '"kind":"[^"]*"' "$dir/out" | head -n 1)
    grep -q '"warning":"message longer than the parse limit' "$dir/out" &&
        result="$result, prefix parsed"
    cat >"$dir/abusedesk.conf" <<EOF
[store]
path = $dir/abusedesk.db
[intake]
spool_dir = $dir/spool
quarantine_dir = $dir/quarantine
EOF
    measure "$dir" "$build/abusedesk" -c "$dir/abusedesk.conf" ingest -q --source bench \
        <"$dir/big.eml"
    printf '  %-11s %-24s %-24s %s\n' "$shape" "$parse_col" "$verdict" "$result"
    rm -rf "$dir"
done
if [ "$over" = 1 ]; then
    echo "  memory: MISSED (peak RSS over 64 MiB, see OVER above)"
else
    echo "  memory: MET (every peak <= 64 MiB)"
fi
exit $failed

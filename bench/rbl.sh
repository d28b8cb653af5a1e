#!/usr/bin/env bash
# rbl.sh: the DNSBL monitor benchmark: `abusedesk rbl check` (the whole
# command: configuration, DNS, the store's transaction, the output) for
# RBL_N (1000) addresses x RBL_ZONES (10) zones against a local rbldnsd
# (tests/lib/dnsbl.sh) on 127.0.0.1, with [reputation] max_inflight at its
# default (64). Every zone publishes its test points and lists every
# RBL_LIST_EVERY-th (20th) address, shifted per zone, with a TXT reason, so a
# run also fetches 1 in 20 TXT records and records that many listings. Three
# runs, each timed by GNU time (wall clock and maximum RSS):
#   1. first check: every listing is new (opened in the store)
#   2. the same again: every listing is still there (refreshed)
#   3. RBL_MAX (4096, the most one check takes: a /20) addresses x the same
#      zones: the memory bound (the results are 56 bytes per address and zone;
#      the rest is fixed)
# Target: run 1 under 5 s; the output is checked (RBL_N x RBL_ZONES results,
# the expected number of listings, no error). Uses AD_BINARY (default
# build/abusedesk; a sanitizer build is slower and larger).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${AD_BINARY:-$top/build/abusedesk}
n=${RBL_N:-1000}
zones=${RBL_ZONES:-10}
every=${RBL_LIST_EVERY:-20}
max=${RBL_MAX:-4096}
. "$top/tests/lib/dns.sh"
. "$top/tests/lib/dnsbl.sh"
[ -x "$bin" ] || { echo "rbl bench: $bin not built (make build)"; exit 1; }
[ -x /usr/bin/time ] || { echo "rbl bench: GNU time is missing (apt-get install time)"; exit 1; }
work=$(mktemp -d)
trap 'dnsbl_stop; rm -rf "$work"' EXIT

addr() { # i -> 10.20.x.y
  echo "10.20.$(($1 / 256)).$(($1 % 256))"
}
zone_list=
for z in $(seq 0 $((zones - 1))); do
  zone="bench$z.rbl.test"
  zone_list="$zone_list${zone_list:+;}$zone"
  dnsbl_list "$zone" 127.0.0.2 127.0.0.2 "test point"
  for i in $(seq $(((every - z % every) % every)) "$every" $((max - 1))); do
    dnsbl_list "$zone" "$(addr "$i")" 127.0.0.2 "Listed by bench$z: spam trap hits from this address"
  done
done
dnsbl_start "$work/dns" >/dev/null || { echo "rbl bench: rbldnsd did not start"; exit 1; }

conf() { # N -> configuration checking the first N addresses
  local list="" i
  for i in $(seq 0 $(($1 - 1))); do
    list="$list${list:+;}$(addr "$i")"
  done
  cat >"$work/abusedesk.conf" <<EOF
[store]
path = $work/abusedesk.db
[log]
level = debug
[reputation]
dnsbl_zones = $zone_list
addresses = $list
resolver = 127.0.0.1:$DNSBL_PORT
dns_timeout = 2s
EOF
}

run() { # LABEL -> prints "secs rss_kb" and leaves the JSON in $work/out
  /usr/bin/time -f "%e %M" -o "$work/time" "$bin" -c "$work/abusedesk.conf" rbl check --json \
    >"$work/out" 2>"$work/err"
  local rc=$?
  read -r secs rss < <(tail -n 1 "$work/time")
  local stats
  stats=$(grep -o 'rbl check: .*' "$work/err" | tail -1)
  printf '%-44s %6.2f s  max RSS %6.1f MB  exit %d\n    %s\n' "$1" "$secs" "$(echo "$rss / 1024" | bc -l)" \
    "$rc" "$stats"
  RUN_SECS=$secs
  RUN_RSS=$rss
}

expect_listed() { # N -> listings expected among the first N addresses over all zones
  local total=0 z i
  for z in $(seq 0 $((zones - 1))); do
    for i in $(seq $(((every - z % every) % every)) "$every" $(($1 - 1))); do
      total=$((total + 1))
    done
  done
  echo "$total"
}

status=0
conf "$n"
echo "rbl bench: $n addresses x $zones zones, 1 in $every listed, max_inflight 64, rbldnsd on 127.0.0.1"
run "1. first check (all listings new)"
secs1=$RUN_SECS
results=$(grep -c . "$work/out")
listed=$(grep -c '"status":"listed"' "$work/out")
errors=$(grep -c '"status":"error"' "$work/out")
texts=$(grep -c '"text":"Listed by' "$work/out")
want=$(expect_listed "$n")
echo "    results $results (want $((n * zones))), listed $listed (want $want), with TXT $texts, errors $errors"
if [ "$results" -ne $((n * zones)) ] || [ "$listed" -ne "$want" ] || [ "$texts" -ne "$want" ] || [ "$errors" -ne 0 ]; then
  echo "    output: WRONG"
  status=1
fi
run "2. again (all listings refreshed)"
conf "$max"
run "3. $max addresses x $zones zones (memory bound)"
rss3=$RUN_RSS
results=$(grep -c . "$work/out")
[ "$results" -eq $((max * zones)) ] || { echo "    results $results, want $((max * zones)): WRONG"; status=1; }
if [ "$(echo "$secs1 < 5" | bc -l)" = 1 ]; then
  echo "target: $n x $zones under 5 s: met ($secs1 s)"
else
  echo "target: $n x $zones under 5 s: MISSED ($secs1 s)"
  status=1
fi
echo "memory: $(echo "$rss3 / 1024" | bc -l | cut -c1-5) MB max RSS for $max x $zones"
exit $status

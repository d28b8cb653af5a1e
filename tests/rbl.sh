#!/usr/bin/env bash
# tests/rbl.sh: `abusedesk rbl check` against real DNS: rbldnsd on 127.0.0.1
# serving DNSBL zones (tests/lib/dnsbl.sh), behind a forwarder that never
# answers for one of them.
#   zen.spamhaus.org (served here, so abusedesk's Spamhaus knowledge applies):
#     test points 127.0.0.2 listed and 127.0.0.1 not; 192.0.2.10 listed with
#     127.0.0.2 and a TXT reason; 192.0.2.11 answered 127.255.255.254 (a
#     refusal: error, never listed); 2001:db8::25 listed (IPv6 nibble query)
#   KEY.zen.dq.spamhaus.net: Spamhaus DQS; the key is never shown or stored
#   broken.rbl.test: lists 127.0.0.1 (broken: every result an error)
#   dead.rbl.test: never answers (every result an error, in bounded time)
#   bl.spamcop.net: IPv4 only (the IPv6 address is not asked)
# Then: the store's events across runs (listed, still listed with the same
# since, delisted, listed again), exit codes 0/1/2/78, the per-zone query
# budget, the /20 limit, lists that no longer exist (SORBS), the table.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
. "$top/tests/lib/dns.sh"
. "$top/tests/lib/dnsbl.sh"
. "$top/tests/lib/sql.sh"
work=$(mktemp -d)
fails=0
cleanup() {
  dnsbl_stop
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

check() { # name got want
  if [ "$2" != "$3" ]; then
    echo "FAIL $1: got '$2', want '$3'"
    fails=$((fails + 1))
  else
    echo "ok   $1"
  fi
}
has() { # name text pattern
  if grep -q -- "$3" <<<"$2"; then echo "ok   $1"; else echo "FAIL $1: no '$3'"; fails=$((fails + 1)); fi
}
hasnt() { # name text pattern
  if grep -q -- "$3" <<<"$2"; then echo "FAIL $1: '$3' present"; fails=$((fails + 1)); else echo "ok   $1"; fi
}
command -v jq >/dev/null || { echo "FAIL: jq is missing"; exit 1; }

key=s3cr3tdqskey
# Every list publishes its RFC 5782 test point 127.0.0.2 (and not 127.0.0.1).
dnsbl_list zen.spamhaus.org 127.0.0.2 127.0.0.2 "SBL test point"
dnsbl_list zen.spamhaus.org 127.0.0.2 127.0.0.4 "XBL test point"
dnsbl_list zen.spamhaus.org 192.0.2.10 127.0.0.2 "Listed in SBL: spam from this address, see https://check.spamhaus.org/"
dnsbl_list zen.spamhaus.org 192.0.2.11 127.255.255.254 "Error: open resolver"
dnsbl_list zen.spamhaus.org 2001:db8::25 127.0.0.4 "XBL: infected host"
dnsbl_list "$key.zen.dq.spamhaus.net" 127.0.0.2 127.0.0.2
dnsbl_list "$key.zen.dq.spamhaus.net" 192.0.2.12 127.0.0.3 "CSS: snowshoe"
dnsbl_list broken.rbl.test 127.0.0.0/8 127.0.0.2 "everything is listed"
dnsbl_list dead.rbl.test 127.0.0.2 127.0.0.2
dnsbl_list bl.spamcop.net 127.0.0.2 127.0.0.2
dnsbl_start "$work/dns" || { echo "FAIL rbldnsd"; exit 1; }
dnsbl_blackhole_start dead.rbl.test || { echo "FAIL forwarder"; exit 1; }

db="$work/var/abusedesk.db"
db_select "$db"
mkconf() { # ZONES [ADDRESSES] [EXTRA LINES]
  cat >"$work/abusedesk.conf" <<EOF
[store]
path = $db
[log]
level = warning
[network]
our_ips = 192.0.2.0/24
[reputation]
dnsbl_zones = $1
addresses = ${2-192.0.2.10;192.0.2.11;192.0.2.12;192.0.2.13;2001:db8::25}
resolver = 127.0.0.1:$DNSBL_PROXY_PORT
dns_timeout = 1s
${3:-}
EOF
}
ad() { "$bin" -c "$work/abusedesk.conf" "$@"; }
sel() { # JSON-LINES ADDRESS ZONE JQ-EXPR
  jq -r --arg a "$2" --arg z "$3" "select(.address == \$a and .zone == \$z) | $4" <<<"$1"
}

all_zones="zen.spamhaus.org;$key.zen.dq.spamhaus.net;broken.rbl.test;dead.rbl.test;bl.spamcop.net"
mkconf "$all_zones"

echo "== run 1: listings, a refusal, a broken and a silent list, IPv6"
t0=$(date +%s%N)
out=$(ad rbl check --json 2>"$work/err1")
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check "run 1 exit 1 (listed)" "$rc" 1
check "run 1 one object per address and zone (24: SpamCop has no IPv6 data)" "$(grep -c . <<<"$out")" 24
check "run 1 within 5 s ($ms ms; the silent list costs one timeout)" "$([ "$ms" -lt 5000 ] && echo yes)" yes
check "192.0.2.10 listed on zen" "$(sel "$out" 192.0.2.10 zen.spamhaus.org .status)" listed
check "192.0.2.10 code" "$(sel "$out" 192.0.2.10 zen.spamhaus.org '.codes | join(",")')" 127.0.0.2
check "192.0.2.10 meaning" "$(sel "$out" 192.0.2.10 zen.spamhaus.org '.meaning[0]')" \
  "SBL: a spam source or spam operation (Spamhaus Block List)"
check "192.0.2.10 TXT reason" "$(sel "$out" 192.0.2.10 zen.spamhaus.org .text)" \
  "Listed in SBL: spam from this address, see https://check.spamhaus.org/"
check "192.0.2.10 delist_url" "$(sel "$out" 192.0.2.10 zen.spamhaus.org .delist_url)" https://check.spamhaus.org/
has "192.0.2.10 procedure" "$(sel "$out" 192.0.2.10 zen.spamhaus.org .procedure)" "check.spamhaus.org"
since1=$(sel "$out" 192.0.2.10 zen.spamhaus.org .since)
has "192.0.2.10 since is a time" "$since1" '^20[0-9-]*T[0-9:]*Z$'
check "192.0.2.11 answered 127.255.255.254: error, never listed" "$(sel "$out" 192.0.2.11 zen.spamhaus.org .status)" error
check "192.0.2.11 code kept" "$(sel "$out" 192.0.2.11 zen.spamhaus.org '.codes | join(",")')" 127.255.255.254
has "192.0.2.11 why" "$(sel "$out" 192.0.2.11 zen.spamhaus.org .error)" "public or open resolver"
check "192.0.2.11 no since, no delist url" "$(sel "$out" 192.0.2.11 zen.spamhaus.org '"\(.since) \(.delist_url)"')" "null null"
check "192.0.2.13 clean on zen" "$(sel "$out" 192.0.2.13 zen.spamhaus.org .status)" clean
check "192.0.2.13 clean: no codes" "$(sel "$out" 192.0.2.13 zen.spamhaus.org '.codes | length')" 0
check "2001:db8::25 listed on zen (nibble query)" "$(sel "$out" 2001:db8::25 zen.spamhaus.org '"\(.status) \(.codes[0]) \(.text)"')" \
  "listed 127.0.0.4 XBL: infected host"
check "DQS zone shown without its key" "$(sel "$out" 192.0.2.12 zen.dq.spamhaus.net '"\(.status) \(.codes[0])"')" "listed 127.0.0.3"
hasnt "the DQS key is never printed" "$out$(cat "$work/err1")" "$key"
check "broken list: every result an error" "$(jq -r 'select(.zone == "broken.rbl.test") | .status' <<<"$out" | sort -u)" error
has "broken list: why" "$(sel "$out" 192.0.2.10 broken.rbl.test .error)" "lists its test point 127.0.0.1"
check "silent list: every result an error" "$(jq -r 'select(.zone == "dead.rbl.test") | .status' <<<"$out" | sort -u)" error
has "silent list: why" "$(sel "$out" 192.0.2.13 dead.rbl.test .error)" "test point 127.0.0.2: DNS: no answer within 1000 ms"
check "spamcop clean for IPv4" "$(jq -r 'select(.zone == "bl.spamcop.net") | .status' <<<"$out" | sort -u)" clean
check "spamcop: no IPv6 query" "$(sel "$out" 2001:db8::25 bl.spamcop.net .status)" ""
check "store: 3 open listings" "$(dbq "$db" "SELECT COUNT(*) FROM rbl_listings WHERE delisted_at IS NULL")" 3
check "store: 3 listed events" "$(dbq "$db" "SELECT COUNT(*) FROM rbl_events WHERE event = 'listed'")" 3
check "store: the listings" "$(dbq "$db" "SELECT address || ' ' || zone || ' ' || codes FROM rbl_listings ORDER BY address, zone")" \
  "192.0.2.10 zen.spamhaus.org 127.0.0.2
192.0.2.12 zen.dq.spamhaus.net 127.0.0.3
2001:db8::25 zen.spamhaus.org 127.0.0.4"
hasnt "store: the DQS key is never stored" "$(dbq "$db" "SELECT zone FROM rbl_listings UNION SELECT zone FROM rbl_events")" "$key"
check "store: nothing stored for the error results" "$(dbq "$db" "SELECT COUNT(*) FROM rbl_listings WHERE address = '192.0.2.11'")" 0

echo "== run 2: 192.0.2.10 delisted, the others still listed"
sleep 1 # a later second than run 1
dnsbl_unlist zen.spamhaus.org 192.0.2.10
dnsbl_reload || { echo "FAIL reload"; exit 1; }
out=$(ad rbl check --json)
check "run 2 exit 1 (still listed elsewhere)" "$?" 1
check "192.0.2.10 clean now" "$(sel "$out" 192.0.2.10 zen.spamhaus.org .status)" clean
check "2001:db8::25 since unchanged" "$(sel "$out" 2001:db8::25 zen.spamhaus.org .since)" "$since1"
check "store: delisted event" "$(dbq "$db" "SELECT event || ' ' || address || ' ' || zone FROM rbl_events WHERE event = 'delisted'")" \
  "delisted 192.0.2.10 zen.spamhaus.org"
check "store: delisting after listing" "$(dbq "$db" "SELECT CASE WHEN delisted_at > listed_at THEN 'later' ELSE 'not later' END FROM rbl_listings WHERE address = '192.0.2.10'")" later
check "store: no second listing of the still listed" "$(dbq "$db" "SELECT COUNT(*) FROM rbl_listings WHERE address = '2001:db8::25'")" 1

echo "== run 3: only working lists; 192.0.2.10 listed again, the others delisted"
sleep 1
dnsbl_list zen.spamhaus.org 192.0.2.10 127.0.0.3 "Listed again"
dnsbl_unlist zen.spamhaus.org 2001:db8::25
dnsbl_unlist zen.spamhaus.org 192.0.2.11
dnsbl_unlist "$key.zen.dq.spamhaus.net" 192.0.2.12
dnsbl_reload || { echo "FAIL reload"; exit 1; }
mkconf "zen.spamhaus.org;$key.zen.dq.spamhaus.net;bl.spamcop.net"
out=$(ad rbl check --json)
check "run 3 exit 1" "$?" 1
since3=$(sel "$out" 192.0.2.10 zen.spamhaus.org .since)
check "192.0.2.10 listed again, since the new listing" "$([ "$since3" \> "$since1" ] && echo later)" later
check "store: history kept (two listings of 192.0.2.10)" "$(dbq "$db" "SELECT COUNT(*) FROM rbl_listings WHERE address = '192.0.2.10' AND zone = 'zen.spamhaus.org'")" 2
check "store: every other listing closed" "$(dbq "$db" "SELECT COUNT(*) FROM rbl_listings WHERE delisted_at IS NULL")" 1
table=$(ad rbl check)
check "table run exit 1" "$?" 1
has "table: the listing with its delisting steps" "$table" "192.0.2.10 .*zen.spamhaus.org .*listed .*127.0.0.3 .*Listed again.*delist: https://check.spamhaus.org/"
has "table: summary" "$table" "5 addresses x 3 zones: 1 listed, 13 clean, 0 errors"
hist=$(ad rbl history --json 192.0.2.10)
check "history of 192.0.2.10, newest first" "$(jq -r '.event' <<<"$hist" | tr '\n' ' ')" "listed delisted listed "

echo "== run 4: all clean"
dnsbl_unlist zen.spamhaus.org 192.0.2.10
dnsbl_reload || { echo "FAIL reload"; exit 1; }
table=$(ad rbl check)
check "run 4 exit 0 (all clean)" "$?" 0
has "run 4 summary" "$table" "0 listed, 14 clean, 0 errors"

echo "== exit 2: nothing listed, some results errors"
mkconf "zen.spamhaus.org;dead.rbl.test;broken.rbl.test"
table=$(ad rbl check)
check "exit 2 (incomplete)" "$?" 2
has "table: one line for the silent list" "$table" "(5 addresses) .*dead.rbl.test .*error .*no answer"
has "table: one line for the broken list" "$table" "(5 addresses) .*broken.rbl.test .*error .*127.0.0.1"
has "table: incomplete" "$table" "10 errors (incomplete)"

echo "== per-zone query budget"
mkconf "zen.spamhaus.org" "192.0.2.10;192.0.2.11;192.0.2.12;192.0.2.13" "zone_budget = 4"
out=$(ad rbl check --json)
check "budget exit 2" "$?" 2
check "budget: two addresses asked (2 test points + 2)" "$(jq -r 'select(.status == "clean") | .address' <<<"$out" | tr '\n' ' ')" "192.0.2.10 192.0.2.11 "
has "budget: the rest are errors" "$(sel "$out" 192.0.2.13 zen.spamhaus.org .error)" "query budget of 4 queries"

echo "== configuration"
mkconf "zen.spamhaus.org;dnsbl.sorbs.net"
err=$(ad rbl check 2>&1)
check "SORBS refused: exit 78" "$?" 78
has "SORBS refused with the reason and the line" "$err" "abusedesk.conf:[0-9]*: \[reputation\] dnsbl_zones: dnsbl.sorbs.net: SORBS was shut down"
mkconf "zen.dq.spamhaus.net"
err=$(ad rbl check 2>&1)
check "DQS without key: exit 78" "$?" 78
has "DQS without key: says so" "$err" "needs your access key"
mkconf "zen.spamhaus.org" "" ""
sed -i 's#^addresses = .*#addresses =#; s#^our_ips = .*#our_ips = 10.0.0.0/19#' "$work/abusedesk.conf"
err=$(ad rbl check 2>&1)
check "a /19 refused: exit 78" "$?" 78
has "a /19 refused: says why" "$err" "our_ips: 10.0.0.0/19 is more than a /20"
sed -i 's#^our_ips = .*#our_ips = 192.0.2.0/30#' "$work/abusedesk.conf"
out=$(ad rbl check --json)
check "our_ips expanded when [reputation] addresses is empty" "$(jq -r .address <<<"$out" | tr '\n' ' ')" "192.0.2.0 192.0.2.1 192.0.2.2 192.0.2.3 "
mkconf ""
err=$(ad rbl check 2>&1)
check "no zones: exit 78" "$?" 78
zones=$(ad rbl zones)
has "zones: known lists" "$zones" "b.barracudacentral.org"
has "zones: refused lists" "$zones" "sorbs.net"

if [ "$fails" -gt 0 ]; then
  echo "rbl: $fails failed"
  exit 1
fi
echo "rbl: all passed"

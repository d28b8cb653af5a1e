#!/usr/bin/env bash
# tests/listing.sh: a DNSBL listing tied to the customers who caused it, with
# real DNS (rbldnsd on 127.0.0.1, tests/lib/dnsbl.sh) and real policy requests
# to `abusedesk serve` (tests/lib/policy_attack.py and a small client):
#   - the policy server counts mails per hour, outbound address and account in
#     memory and writes them in batches: through [network] host_addresses
#     (no server_address, or a loopback one) and through the request's
#     server_address when it is one of ours
#   - 192.0.2.10 listed on zen.spamhaus.org: reported listed with code, text
#     and delisting URL; opens one incident of kind listing naming alice (who
#     sent the most through it) before bob, with the complaint and the
#     reputation bounce attributed to the address; the team mail has the
#     ranking and the delisting steps; a second check opens nothing more
#   - 192.0.2.11 answered 127.255.255.254 (a refusal): error, no incident
#   - 192.0.2.13: clean, no incident
#   - listed on a second list (bl.spamcop.net): noted in the open incident
#   - delisting (the zone files rewritten, rbldnsd reloaded): still open while
#     one list has it, resolved and audited when every list is clean
#   - the monitor loop (rbl check --loop --rounds 1): the early warning for
#     192.0.2.12, whose reputation bounces rose, once a day
#   - abusedesk run starts the monitor and stops it with the others
#   - a /27 listed at once: 32 incidents, 20 team mails, the rest audited
#   - our domains on a domain list (dbl.spamhaus.org served by rbldnsd's
#     dnset): hoster.example listed, clean.example clean, addresses not asked
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
. "$top/tests/lib/dns.sh"
. "$top/tests/lib/dnsbl.sh"
. "$top/tests/lib/sql.sh"
work=$(mktemp -d)
fails=0
spid=
cleanup() {
  [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
  dnsbl_stop
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
. "$top/tests/lib/check.sh" # check, has, hasnt
for tool in jq python3 sqlite3; do
  command -v $tool >/dev/null || { echo "FAIL: $tool is missing"; exit 1; }
done

dnsbl_list zen.spamhaus.org 127.0.0.2 127.0.0.2 "SBL test point"
dnsbl_list zen.spamhaus.org 192.0.2.10 127.0.0.2 "Listed in SBL: spam from this address"
dnsbl_list zen.spamhaus.org 192.0.2.11 127.255.255.254 "Error: open resolver"
dnsbl_list bl.spamcop.net 127.0.0.2 127.0.0.2 "SpamCop test point"
dnsbl_start "$work/dns" || { echo "FAIL rbldnsd"; exit 1; }

db="$work/var/abusedesk.db"
db_select "$db"
pport=$((20000 + RANDOM % 10000))
cat >"$work/abusedesk.conf" <<EOF
[store]
path = $db
[log]
level = info
[network]
our_hosts = *.hoster.example
our_ips = 192.0.2.0/24
host_addresses = *=192.0.2.10
[policy]
listen = inet:127.0.0.1:$pport
user =
state_file =
msgs_per_hour = 100000
rcpts_per_hour = 100000
rcpts_per_day = 1000000
[notify]
templates_dir = $top/etc/templates
abuse_team = abuse-team@hoster.example
from = abuse@hoster.example
team_language = en
[reputation]
dnsbl_zones = zen.spamhaus.org;bl.spamcop.net
addresses = 192.0.2.10;192.0.2.11;192.0.2.13
resolver = 127.0.0.1:$DNSBL_PORT
dns_timeout = 2s
warn_min = 5
EOF
ad() { "$bin" -c "$work/abusedesk.conf" "$@"; }
mkdir -p "$work/var"
ad init >/dev/null || { echo "FAIL init"; exit 1; }

# ---- the policy server counts ------------------------------------------------
"$bin" -c "$work/abusedesk.conf" serve 2>"$work/serve.log" &
spid=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$pport") 2>/dev/null && break; sleep 0.05; done
pa() { python3 "$top/tests/lib/policy_attack.py" 127.0.0.1 "$pport" "$@"; }
has_re "alice: 40 mails answered" "$(pa burst alice@customer.example 40)" "dunno=40"
has_re "bob: 5 mails answered" "$(pa burst bob@customer.example 5)" "dunno=5"
# carol: 10 mails of 3 recipients each, the MTA naming the address it took
# them on (ours); one more mail where it names a loopback address.
python3 - "$pport" >"$work/carol.out" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def ask(inst, n, server):
    req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nsasl_username=carol@customer.example\n"
           "sender=carol@customer.example\nrecipient=r%d@example.org\nclient_address=203.0.113.9\n"
           "server_address=%s\ninstance=%s\n\n" % (n, server, inst))
    s.sendall(req.encode())
    buf = b""
    while not buf.endswith(b"\n\n"):
        buf += s.recv(4096)
    return buf.decode().strip()
out = [ask("c%d" % m, r, "192.0.2.13") for m in range(10) for r in range(3)]
out.append(ask("loop1", 0, "127.0.0.1"))
print(" ".join(sorted(set(out))), len(out))
PY
check "carol: every request answered DUNNO" "$(cat "$work/carol.out")" "action=DUNNO 31"
# The counts reach the store in batches: at the latest when the server stops.
kill "$spid"; wait "$spid" 2>/dev/null; spid=
q() { dbq "$db" "$@"; }
check "counts: alice through host_addresses" "$(q "SELECT address, sender_kind, msgs, rcpts FROM outbound_counts WHERE sender='alice@customer.example'")" "192.0.2.10|account|40|40"
check "counts: bob" "$(q "SELECT address, msgs FROM outbound_counts WHERE sender='bob@customer.example'")" "192.0.2.10|5"
check "counts: carol through server_address (a mail per instance)" "$(q "SELECT msgs, rcpts FROM outbound_counts WHERE sender='carol@customer.example' AND address='192.0.2.13'")" "10|30"
check "counts: a loopback server_address falls back to host_addresses" "$(q "SELECT msgs FROM outbound_counts WHERE sender='carol@customer.example' AND address='192.0.2.10'")" "1"
check "counts: one row per hour, address and sender" "$(q "SELECT COUNT(*) FROM outbound_counts")" 4
check "serve log: no error" "$(grep -c -i 'error' "$work/serve.log")" 0

# ---- a complaint and a reputation bounce attributed to 192.0.2.10 -----------
now_iso() { date -u -d "@$(( $(date +%s) - $1 ))" +%Y-%m-%dT%H:%M:%SZ; }
report() { # ID KIND SECONDS-AGO SOURCE-IP REASON
  local parsed='{"kind":"'$2'"}'
  [ "$2" = dsn ] && parsed='{"kind":"dsn","recipients":[{"final_recipient":"x@example.org","reason":"'$5'"}]}'
  q "INSERT INTO reports (id, sha256, received_at, size, kind, feedback_type, subject, parsed, status, processed) VALUES ($1, 'h$1', '$(now_iso "$3")', 10, '$2', 'abuse', 'Cheap pills $1', '$parsed', 'parsed', 1)"
  q "INSERT INTO attributions (report_id, status, subject_kind, subject, account, source_ip, evidence) VALUES ($1, 'attributed', 'account', 'alice@customer.example', 'alice@customer.example', '$4', '[]')"
}
report 1 arf 3600 192.0.2.10
report 2 dsn 1800 192.0.2.10 blocked
report 3 dsn 1700 192.0.2.10 userunknown   # not a reputation reason: left out
report 4 arf 400000 192.0.2.10             # before the 72h: left out
for i in 11 12 13 14 15 16; do report $i dsn 600 192.0.2.12 badreputation; done
report 17 dsn 300000 192.0.2.12 spamdetected # the usual rate: 1 in 7 days

# ---- check: listed, refused, clean ------------------------------------------
out=$(ad rbl check --json)
rc=$?
check "check: exit 1 (something is listed)" "$rc" 1
sel() { jq -r --arg a "$1" "select(.address == \$a and .zone == \"zen.spamhaus.org\") | $2" <<<"$out"; }
check "192.0.2.10 listed" "$(sel 192.0.2.10 .status)" listed
check "192.0.2.10 code" "$(sel 192.0.2.10 '.codes | join(",")')" 127.0.0.2
check "192.0.2.10 text" "$(sel 192.0.2.10 .text)" "Listed in SBL: spam from this address"
has_re "192.0.2.10 delisting URL" "$(sel 192.0.2.10 .delist_url)" "^https://"
check "192.0.2.11 (127.255.255.254): error, never listed" "$(sel 192.0.2.11 .status)" error
check "192.0.2.13 clean" "$(sel 192.0.2.13 .status)" clean
check "one listing incident" "$(q "SELECT subject_kind, subject, state FROM incidents")" "listing|192.0.2.10|alerted"
inc=$(q "SELECT id FROM incidents WHERE subject_kind='listing'")
has_re "audit: opened, alice named" "$(q "SELECT detail FROM audit WHERE incident_id=$inc AND action='opened'")" "most mail in the 72h before: account alice@customer.example (46 mails"
check "incident: the complaint and the reputation bounce linked" "$(q "SELECT report_id FROM incident_reports WHERE incident_id=$inc ORDER BY report_id" | tr '\n' ' ')" "1 2 "
check "incident: complaints counted" "$(q "SELECT complaints FROM incidents WHERE id=$inc")" 1
mail=$(q "SELECT message FROM outbox WHERE incident_id=$inc AND template='team_listing'" | python3 -c 'import quopri,sys; sys.stdout.write(quopri.decodestring(sys.stdin.buffer.read()).decode())')
has_re "team mail to the team" "$(q "SELECT rcpt FROM outbox WHERE incident_id=$inc")" "abuse-team@hoster.example"
has_re "team mail: subject" "$(q "SELECT subject FROM outbox WHERE incident_id=$inc")" "our outbound address 192.0.2.10 is listed"
has_re "team mail: ranking, alice first" "$mail" "1\. account alice@customer.example: 40 mails"
has_re "team mail: bob second" "$mail" "2\. account bob@customer.example: 5 mails"
has_re "team mail: the TXT reason" "$mail" "Listed in SBL: spam from this address"
has_re "team mail: delisting URL" "$mail" "https://check.spamhaus.org"
has_re "team mail: the bounce reason" "$mail" "blocked 1"
has_re "team mail: the complaint" "$mail" "report 1 "
# SpamCop lists it too: the open incident notes it, nothing new opens.
dnsbl_list bl.spamcop.net 192.0.2.10 127.0.0.2 "Blocked - see https://www.spamcop.net/bl.shtml?192.0.2.10"
dnsbl_reload || { echo "FAIL reload"; exit 1; }
ad rbl check >/dev/null 2>&1
has_re "second list: noted in the incident" "$(q "SELECT action, detail FROM audit WHERE incident_id=$inc AND action='listed'")" "also listed on bl.spamcop.net (127.0.0.2)"
check "second check: no second incident, no second mail" "$(q "SELECT COUNT(*) FROM incidents"):$(q "SELECT COUNT(*) FROM outbox WHERE template='team_listing'")" "1:1"
has_re "incident show works for a listing" "$(ad incident show "$inc" 2>&1)" "192.0.2.10"

# ---- delisting -----------------------------------------------------------------
dnsbl_unlist zen.spamhaus.org 192.0.2.10
dnsbl_reload || { echo "FAIL reload"; exit 1; }
ad rbl check >/dev/null 2>&1
check "delisted on one list of two: still open" "$(q "SELECT state FROM incidents WHERE id=$inc")" alerted
dnsbl_unlist bl.spamcop.net 192.0.2.10
dnsbl_reload || { echo "FAIL reload"; exit 1; }
ad rbl check --json >"$work/after.json"
check "after delisting: 192.0.2.10 clean everywhere" "$(jq -r 'select(.address=="192.0.2.10") | .status' "$work/after.json" | sort -u)" clean
check "after delisting: incident resolved" "$(q "SELECT state, CASE WHEN closed_at IS NOT NULL THEN 1 ELSE 0 END FROM incidents WHERE id=$inc")" "resolved|1"
has_re "after delisting: audited" "$(q "SELECT action, detail FROM audit WHERE incident_id=$inc AND action='resolved'")" "delisted"
has_re "history: delisted" "$(ad rbl history 192.0.2.10)" "delisted"

# ---- the monitor loop: early warning -------------------------------------------
ad rbl check --loop 1s --rounds 1 2>"$work/loop.log"
check "loop: one round, exit 0" "$?" 0
check "early warning for 192.0.2.12 (6 in 6h, usually 0.2)" "$(q "SELECT kind, subject FROM reputation_alerts WHERE kind='bounce_rise'")" "bounce_rise|192.0.2.12"
has_re "early warning: team mail" "$(q "SELECT subject FROM outbox WHERE template='team_early_warning'")" "Early warning: bounces for our outbound address 192.0.2.12"
has_re "early warning: logged" "$(cat "$work/loop.log")" "early warning: 6 reputation bounces (badreputation 6)"
ad rbl check --loop 1s --rounds 1 2>/dev/null
check "early warning: once a day" "$(q "SELECT COUNT(*) FROM outbox WHERE template='team_early_warning'")" 1
check "no early warning for 192.0.2.10 (one bounce)" "$(q "SELECT COUNT(*) FROM reputation_alerts WHERE subject='192.0.2.10'")" 0

# ---- abusedesk run starts the monitor as one of its services -----------------
"$bin" -c "$work/abusedesk.conf" run --no-policy 2>"$work/run.log" &
rpid=$!
for _ in $(seq 1 100); do grep -q "rbl check: 3 addresses" "$work/run.log" && break; sleep 0.1; done
has_re "run: the reputation monitor started" "$(cat "$work/run.log")" "run: reputation monitor started"
has_re "run: its first round checked" "$(cat "$work/run.log")" "rbl check: 3 addresses x 2 zones"
kill "$rpid"; t0=$(date +%s); wait "$rpid"; t1=$(date +%s)
check "run: SIGTERM stops every service within seconds" "$(( t1 - t0 < 10 ))" 1
check "run: no service left" "$(pgrep -f -- "-c $work/abusedesk.conf" | wc -l)" 0

# ---- our domains on a domain list (Spamhaus DBL), a second rbldnsd (dnset) ---
ddir="$work/dbl"
mkdir -p "$ddir" && chmod 0755 "$ddir"
printf 'dbltest.com :127.0.1.2:DBL test point\nhoster.example :127.0.1.2:Spam domain, see https://check.spamhaus.org/\n' >"$ddir/dbl.dnset"
chmod 0644 "$ddir/dbl.dnset"
dopts=()
[ "$(id -u)" = 0 ] && dopts=(-u nobody -r "$ddir")
dfile=$ddir/dbl.dnset
[ "$(id -u)" = 0 ] && dfile=dbl.dnset
dport=
for _ in 1 2 3 4 5; do
  p=$((20000 + RANDOM % 12000))
  "$DNSBL_RBLDNSD" -n -c 0 "${dopts[@]}" -b "127.0.0.1/$p" "dbl.spamhaus.org:dnset:$dfile" </dev/null >>"$ddir/rbldnsd.log" 2>&1 &
  dpid=$!
  for _ in $(seq 1 60); do
    if DNS_PORT=$p DNS_DIR=$ddir dns_query dbltest.com.dbl.spamhaus.org A >/dev/null 2>&1; then dport=$p; break 2; fi
    kill -0 "$dpid" 2>/dev/null || break
    sleep 0.05
  done
  kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null
done
[ -n "$dport" ] || { echo "FAIL: rbldnsd for dbl.spamhaus.org did not start"; cat "$ddir/rbldnsd.log"; exit 1; }
sed -e "s/^dnsbl_zones = .*/dnsbl_zones = dbl.spamhaus.org/" -e "s/^resolver = .*/resolver = 127.0.0.1:$dport/" \
  -e "s/^addresses = .*/addresses = 192.0.2.10\ndomains = hoster.example;clean.example/" "$work/abusedesk.conf" >"$work/dbl.conf"
dout=$("$bin" -c "$work/dbl.conf" rbl check --json)
kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null
dsel() { jq -r --arg a "$1" "select(.address == \$a) | $2" <<<"$dout"; }
check "DBL: hoster.example listed" "$(dsel hoster.example .status):$(dsel hoster.example '.codes | join(",")')" "listed:127.0.1.2"
has_re "DBL: meaning" "$(dsel hoster.example '.meaning[0]')" "DBL: a spam domain"
check "DBL: clean.example clean" "$(dsel clean.example .status)" clean
check "DBL: the address is not asked on a domain list" "$(dsel 192.0.2.10 .status)" ""
check "DBL: a listing incident for the domain" "$(q "SELECT state FROM incidents WHERE subject_kind='listing' AND subject='hoster.example'")" alerted

# ---- a whole range listed at once: at most 20 team mails -----------------------
dnsbl_list zen.spamhaus.org 192.0.2.64/27 127.0.0.2 "Listed range"
dnsbl_reload || { echo "FAIL reload"; exit 1; }
sed -e "s/^dnsbl_zones = .*/dnsbl_zones = zen.spamhaus.org/" -e "s|^addresses = .*|addresses = 192.0.2.64/27|" \
  "$work/abusedesk.conf" >"$work/range.conf"
before=$(q "SELECT COUNT(*) FROM outbox WHERE template='team_listing'")
"$bin" -c "$work/range.conf" rbl check >/dev/null 2>"$work/range.log"
check "range: 32 listing incidents" "$(q "SELECT COUNT(*) FROM incidents WHERE subject_kind='listing' AND subject LIKE '192.0.2.%' AND state='alerted'")" 32
check "range: 20 team mails" "$(( $(q "SELECT COUNT(*) FROM outbox WHERE template='team_listing'") - before ))" 20
check "range: the rest audited" "$(q "SELECT COUNT(*) FROM audit WHERE action='team-mail-skipped'")" 12
has_re "range: logged" "$(cat "$work/range.log")" "32 new listings in one check: the team was mailed about the first 20 only"

# ---- configuration -------------------------------------------------------------
printf '[network]\nhost_addresses = mta1=192.0.2.300\n' >"$work/bad.conf"
has_re "config check: a bad host_addresses entry" "$("$bin" -c "$work/bad.conf" config check 2>&1)" "host_addresses"

if [ "$fails" -gt 0 ]; then
  echo "--- serve log"; tail -20 "$work/serve.log"
  echo "listing: $fails failed"
  exit 1
fi
echo "listing: all passed"

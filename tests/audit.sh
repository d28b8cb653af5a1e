#!/usr/bin/env bash
# tests/audit.sh: `abusedesk domains audit` against real DNS: rbldnsd on
# 127.0.0.1 (tests/lib/dns.sh, generic zones) serving the SPF, DKIM, DMARC
# and MX records of test customer domains:
#   good.example     sound: our addresses in SPF, -all, a 1024-bit DKIM key,
#                    p=reject with rua to us, MX              -> no findings
#   plusall.example  "+all", p=none                           -> spf plus_all, dmarc p_none
#   nospf.example    no SPF, no DMARC, no MX, DKIM missing    -> spf/dmarc/mx/dkim missing
#   lookups.example  11 includes                              -> too_many_lookups
#   voids.example    3 a: of names that do not exist          -> void_lookups
#   foreign.example  only someone else's addresses, ?all      -> not_covered, neutral_all
#   weak.example     a 512-bit DKIM key, rua elsewhere        -> weak_key, rua_not_us
#   broken.example   ip4:999.1.1.1                            -> spf syntax
# Then advice in the customer's language (German for C1), the JSON shape, the
# stored run and what the next run reports as changed ("SPF removed since"),
# --changes, exit codes, and refusals of bad arguments.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
. "$top/tests/lib/dns.sh"
. "$top/tests/lib/sql.sh"
work=$(mktemp -d)
fails=0
cleanup() {
  dns_stop
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
check() { if [ "$2" != "$3" ]; then echo "FAIL $1: got '$2', want '$3'"; fails=$((fails + 1)); else echo "ok   $1"; fi; }
has() { if grep -q -- "$3" <<<"$2"; then echo "ok   $1"; else echo "FAIL $1: no '$3' in: $(head -c 600 <<<"$2")"; fails=$((fails + 1)); fi; }
hasnt() { if grep -q -- "$3" <<<"$2"; then echo "FAIL $1: '$3' present"; fails=$((fails + 1)); else echo "ok   $1"; fi; }
command -v jq >/dev/null || { echo "FAIL: jq is missing"; exit 1; }
command -v openssl >/dev/null || { echo "FAIL: openssl is missing"; exit 1; }

# DKIM keys: 1024 bits (fits one TXT string) and 512 bits (too weak).
key_b64() { openssl genrsa "$1" 2>/dev/null | openssl rsa -pubout -outform DER 2>/dev/null | base64 -w0; }
k1024=$(key_b64 1024)
k512=$(key_b64 512)
[ ${#k1024} -gt 200 ] && [ ${#k512} -gt 80 ] || { echo "FAIL: openssl made no keys"; exit 1; }

zones=(good.example plusall.example nospf.example lookups.example voids.example foreign.example weak.example broken.example)
# MX first: dns.sh waits for the last record added, which it can query as TXT.
dns_add_mx good.example 10 mx.good.example
dns_add_mx plusall.example 10 mx.good.example
dns_add_mx lookups.example 10 mx.good.example
dns_add_mx voids.example 10 mx.good.example
dns_add_mx foreign.example 10 mx.good.example
dns_add_mx weak.example 10 mx.good.example
dns_add_mx broken.example 10 mx.good.example
dns_add_a mx.good.example 192.0.2.25
dns_add_txt good.example "v=spf1 ip4:192.0.2.0/28 mx -all"
dns_add_txt mail._domainkey.good.example "v=DKIM1; k=rsa; p=$k1024"
dns_add_txt _dmarc.good.example "v=DMARC1; p=reject; rua=mailto:dmarc@desk.example"
dns_add_txt plusall.example "v=spf1 +all"
dns_add_txt mail._domainkey.plusall.example "v=DKIM1; k=rsa; p=$k1024"
dns_add_txt _dmarc.plusall.example "v=DMARC1; p=none; rua=mailto:dmarc@desk.example"
dns_add_txt info.nospf.example "not an spf record"
# 11 includes, 6 in the record and 5 more in the first of them.
inc=""
for i in 1 2 3 4 5 6 7 8 9 10 11; do
  dns_add_txt "i$i.lookups.example" "v=spf1 ip4:198.18.$i.0/24 -all"
done
for i in 1 2 3 4 5 6; do inc+=" include:i$i.lookups.example"; done
DNS_RECORDS=("${DNS_RECORDS[@]/#i1.lookups.example$'\t'TXT$'\t'*/i1.lookups.example$'\t'TXT$'\t'v=spf1 include:i7.lookups.example include:i8.lookups.example include:i9.lookups.example include:i10.lookups.example include:i11.lookups.example -all}")
dns_add_txt lookups.example "v=spf1 ip4:192.0.2.0/28$inc -all"
dns_add_txt mail._domainkey.lookups.example "v=DKIM1; k=rsa; p=$k1024"
dns_add_txt _dmarc.lookups.example "v=DMARC1; p=reject; rua=mailto:dmarc@desk.example"
dns_add_txt voids.example "v=spf1 ip4:192.0.2.0/28 a:nx1.voids.example a:nx2.voids.example a:nx3.voids.example -all"
dns_add_txt mail._domainkey.voids.example "v=DKIM1; k=rsa; p=$k1024"
dns_add_txt _dmarc.voids.example "v=DMARC1; p=reject; rua=mailto:dmarc@desk.example"
dns_add_txt foreign.example "v=spf1 ip4:203.0.113.0/24 ?all"
dns_add_txt mail._domainkey.foreign.example "v=DKIM1; k=rsa; p=$k1024"
dns_add_txt _dmarc.foreign.example "v=DMARC1; p=quarantine; rua=mailto:dmarc@desk.example"
dns_add_txt weak.example "v=spf1 ip4:192.0.2.0/28 -all"
dns_add_txt mail._domainkey.weak.example "v=DKIM1; k=rsa; p=$k512"
dns_add_txt _dmarc.weak.example "v=DMARC1; p=reject; rua=mailto:reports@elsewhere.example"
dns_add_txt broken.example "v=spf1 ip4:999.1.1.1 -all"
dns_add_txt mail._domainkey.broken.example "v=DKIM1; k=rsa; p=$k1024"
dns_add_txt _dmarc.broken.example "v=DMARC1; p=reject; rua=mailto:dmarc@desk.example"
mkdir -p "$work/dns"
dns_start "$work/dns" "${zones[@]}" || { echo "FAIL rbldnsd"; exit 1; }

db="$work/var/abusedesk.db"
db_select "$db"
cat >"$work/abusedesk.conf" <<EOF2
[store]
path = $db
[log]
level = warning
[network]
our_ips = 192.0.2.0/28
[notify]
templates_dir = $top/etc/templates
[directory]
default_language = en
[reputation]
resolver = 127.0.0.1:$DNS_PORT
dns_timeout = 2s
dkim_selectors = mail
dmarc_rua = dmarc@desk.example
EOF2
ad() { "$bin" -c "$work/abusedesk.conf" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }
{
  echo "customer_id,customer_name,contact_email,language,account,domain"
  echo "C1,Bäckerei,inhaber@privat.example,de,info@plusall.example,plusall.example"
  echo "C2,Fjord,it@fjord.example,en,info@nospf.example,nospf.example"
  for d in good lookups voids foreign weak broken; do
    echo "C3,Other,ops@other.example,en,info@$d.example,$d.example"
  done
} >"$work/dir.csv"
ad directory import "$work/dir.csv" >/dev/null || { echo "FAIL directory import"; exit 1; }

out=$(ad domains audit --json); rc=$?
check "exit 1: errors found" "$rc" 1
check "every directory domain audited" "$(jq -r .domain <<<"$out" | sort | tr '\n' ' ')" \
  "broken.example foreign.example good.example lookups.example nospf.example plusall.example voids.example weak.example "
keys() { jq -r --arg d "$1" 'select(.domain==$d) | [.findings[] | .check + ":" + .code] | sort | join(" ")' <<<"$out"; }
check "good.example: no findings" "$(keys good.example)" ""
check "plusall.example: +all, p=none" "$(keys plusall.example)" "dmarc:p_none spf:plus_all"
check "nospf.example: SPF, DMARC, DKIM, MX missing" "$(keys nospf.example)" "dkim:missing dmarc:missing mx:missing spf:missing"
check "lookups.example: more than 10 lookups" "$(keys lookups.example)" "spf:too_many_lookups"
check "voids.example: void lookups" "$(keys voids.example)" "spf:void_lookups"
check "foreign.example: ?all, our addresses not covered" "$(keys foreign.example)" "spf:neutral_all spf:not_covered"
check "weak.example: 512-bit key, rua elsewhere" "$(keys weak.example)" "dkim:weak_key dmarc:rua_not_us"
check "broken.example: syntax error" "$(keys broken.example)" "spf:syntax"
f() { jq -r --arg d "$1" --arg c "$2" --arg k "$3" 'select(.domain==$d) | .findings[] | select(.check==$c and .code==$k) | .'"$4" <<<"$out"; }
check "+all is an error" "$(f plusall.example spf plus_all severity)" error
check "p=none is a warning" "$(f plusall.example dmarc p_none severity)" warning
has "+all message" "$(f plusall.example spf plus_all message)" "every server"
has "+all advice in German (C1)" "$(f plusall.example spf plus_all advice)" "Ändern Sie ihn auf \"-all\""
has "p=none advice in German" "$(f plusall.example dmarc p_none advice)" "p=quarantine"
has "missing SPF advice in English (C2)" "$(f nospf.example spf missing advice)" "Publish an SPF record for nospf.example"
has "missing DMARC advice" "$(f nospf.example dmarc missing advice)" "_dmarc.nospf.example"
has "lookups message names the count" "$(f lookups.example spf too_many_lookups message)" "^1[1-9] DNS lookups"
has "not covered names our address" "$(f foreign.example spf not_covered message)" "192.0.2.0"
has "weak key names its size" "$(f weak.example dkim weak_key message)" "512-bit"
check "customer and language in JSON" "$(jq -r 'select(.domain=="plusall.example") | .customer_id + " " + .language' <<<"$out")" "C1 de"
check "first run: nothing changed" "$(jq -c '[.changed[]] | length' <<<"$out" | sort -u)" 0
check "runs stored" "$(dbq "$db" "SELECT COUNT(*) FROM domain_audits")" 8

# The text form.
txt=$(ad domains audit plusall.example nospf.example)
has "text: finding" "$txt" "spf   error   \"+all\""
has "text: advice" "$txt" "advice: "

# Changes: SPF removed, +all fixed; the next run says so.
dns_add_txt info.good.example "placeholder"
DNS_RECORDS=("${DNS_RECORDS[@]/#good.example$'\t'TXT$'\t'v=spf1 ip4:192.0.2.0\/28 mx -all/}")
DNS_RECORDS=("${DNS_RECORDS[@]/#plusall.example$'\t'TXT$'\t'v=spf1 +all/plusall.example$'\t'TXT$'\t'v=spf1 ip4:192.0.2.0/28 -all}")
dns_add_txt info2.good.example "placeholder2"
check "DNS: good.example has no SPF now" "$(dns_query good.example TXT | cut -d" " -f2)" 0
j=$(ad domains audit --json good.example)
has "JSON carries changed: SPF removed" "$(jq -r '.changed[]' <<<"$j")" "SPF removed since 20[0-9-]*"
has "JSON carries changed: new finding" "$(jq -r '.changed[]' <<<"$j")" "new finding since .*spf:missing"
check "JSON since" "$(jq -r '.since | test("^20[0-9-]+T")' <<<"$j")" true
ch=$(ad domains audit --changes plusall.example)
has "--changes: SPF changed" "$ch" "plusall.example: SPF changed since .*+all -> v=spf1 ip4:192.0.2.0/28 -all"
has "--changes: +all fixed" "$ch" "plusall.example: fixed since .*spf:plus_all"
hasnt "--changes: only changes" "$ch" "advice"
check "--changes again: nothing new" "$(ad domains audit --changes plusall.example)" ""

# Refusals.
ad domains audit 'bad;name' >/dev/null 2>&1; check "bad domain: usage" "$?" 64
ad domains >/dev/null 2>&1; check "no subcommand: usage" "$?" 64
ad domains audit good.example >/dev/null 2>&1; check "good.example alone now: exit 1 (SPF missing)" "$?" 1

# The reputation monitor's scheduled audit ([reputation] audit_interval): a
# monitor round (no DNSBL zones: the early warning, the feeds, the audit)
# audits every directory domain when the interval has passed since the newest
# stored run, and mails the team what changed.
sed -e 's/^\[reputation\]$/[reputation]\naudit_interval = 1s/' \
    -e 's/^\[notify\]$/[notify]\nabuse_team = abuse-team@hoster.example\nteam_language = en/' \
    "$work/abusedesk.conf" >"$work/sched.conf"
mon() { "$bin" -c "$work/sched.conf" rbl check --loop 1s --rounds 1 2>>"$work/mon.log"; }
hasnt "config check: audit_interval accepted" "$("$bin" -c "$work/sched.conf" config check 2>&1)" "audit_interval"
sed 's/^audit_interval = 1s$/audit_interval = 5 days/' "$work/sched.conf" >"$work/bad.conf"
has "config check: bad audit_interval refused" "$("$bin" -c "$work/bad.conf" config check 2>&1)" "audit_interval: expected a duration"
tam() { dbq "$db" "SELECT COUNT(*) FROM outbox WHERE template='team_audit'"; }
runs() { dbq "$db" "SELECT COUNT(*) FROM domain_audits"; }
sleep 1.1
r0=$(runs)
mon; check "monitor: exit 0" "$?" 0
check "monitor: every domain audited and stored" "$(( $(runs) - r0 ))" 8
check "monitor: nothing changed, no mail" "$(tam)" 0
r1=$(runs)
sed 's/^audit_interval = 1s$/audit_interval = 1h/' "$work/sched.conf" >"$work/hour.conf"
"$bin" -c "$work/hour.conf" rbl check --loop 1s --rounds 1 2>>"$work/mon.log"
check "monitor: not due within audit_interval (1h)" "$(runs)" "$r1"
# A zone change: foreign.example's DMARC weakened to p=none.
DNS_RECORDS=("${DNS_RECORDS[@]/#_dmarc.foreign.example$'\t'TXT$'\t'v=DMARC1; p=quarantine;/_dmarc.foreign.example$'\t'TXT$'\t'v=DMARC1; p=none;}")
dns_add_txt info3.good.example "placeholder3"
check "DNS: foreign.example still has DMARC" "$(dns_query _dmarc.foreign.example TXT | cut -d" " -f2)" 1
sleep 1.1
mon
check "monitor: one team mail after the change" "$(tam)" 1
check "team mail: to the team" "$(dbq "$db" "SELECT rcpt FROM outbox WHERE template='team_audit'")" "abuse-team@hoster.example"
has "team mail: subject" "$(dbq "$db" "SELECT subject FROM outbox WHERE template='team_audit'")" "Domain audit: 1 customer domains need a look"
mail=$(dbq "$db" "SELECT message FROM outbox WHERE template='team_audit'" | python3 -c 'import quopri,sys; sys.stdout.write(quopri.decodestring(sys.stdin.buffer.read()).decode())')
has "team mail: names the domain and customer" "$mail" "^foreign.example (customer C3, Other)"
has "team mail: what changed" "$mail" "DMARC changed since 20[0-9-]*: v=DMARC1; p=quarantine;.* -> v=DMARC1; p=none;"
has "team mail: new finding" "$mail" "new finding since .*dmarc:p_none"
has "team mail: finding" "$mail" "dmarc p_none (warning): p=none"
has "team mail: advice" "$mail" "-> Your DMARC policy is \"p=none\": mail forged with foreign.example"
hasnt "team mail: only the changed domain" "$mail" "nospf.example"
sleep 1.1
mon
check "monitor: nothing changed since, no new mail" "$(tam)" 1
# First run (an empty store): the domains with errors are told.
db2="$work/var/first.db"
sed "s|^path = .*|path = $db2|" "$work/sched.conf" >"$work/first.conf"
db_select "$db2"
{ "$bin" -c "$work/first.conf" init >/dev/null 2>&1 && "$bin" -c "$work/first.conf" directory import "$work/dir.csv" >/dev/null \
  && "$bin" -c "$work/first.conf" rbl check --loop 1s --rounds 1 2>>"$work/mon.log"; } || { echo "FAIL first store"; fails=$((fails + 1)); }
first=$(dbq "$db2" "SELECT message FROM outbox WHERE template='team_audit'" | python3 -c 'import quopri,sys; sys.stdout.write(quopri.decodestring(sys.stdin.buffer.read()).decode())')
db_select "$db"
has "first run: the domain with errors told" "$first" "^nospf.example (customer C2, Fjord)"
has "first run: its error" "$first" "spf missing (error)"
has "first run: with advice" "$first" "-> Publish an SPF record for nospf.example"
hasnt "first run: a domain with warnings only not told" "$first" "^plusall.example"
# A DNS failure: nothing stored, nothing mailed.
dns_stop
sleep 1.1
r2=$(runs)
mon
check "DNS down: no run stored" "$(runs)" "$r2"
check "DNS down: no mail" "$(tam)" 1
has "DNS down: logged" "$(cat "$work/mon.log")" "domain audit: 8 of 8 domains incomplete"

echo "audit: $fails failure(s)"
[ "$fails" -eq 0 ]

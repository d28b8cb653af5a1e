#!/usr/bin/env bash
# tests/dmarc.sh: DMARC aggregate reports through the intake. Reports this
# test writes (plain XML, gzip and zip attachments) and the real ones of
# shared/corpus/dmarc arrive by `abusedesk ingest`; the desk worker stores
# each report and its rows once, and the volume failing DMARC from addresses
# outside our ranges ([network] our_ips) lands on the customer's joe-job
# incident (`abusedesk incidents --customer C --json`), never a lock, and in
# the domain audit (rbldnsd serving the domain's records). Malformed input:
# an XML bomb (a DTD with nested entities), a count beyond any real one,
# broken gzip and zip, a zip bomb; none stored as a report, none crashing.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
shared=${AD_SHARED_DIR:-$(bash "$top/tools/shared-dir.sh")}
corpus=$shared/corpus/dmarc
. "$top/tests/lib/dns.sh"
. "$top/tests/lib/sql.sh"
. "$top/tests/lib/services.sh"
work=$(mktemp -d)
fails=0
cleanup() {
  dns_stop
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
. "$top/tests/lib/check.sh" # check, has, hasnt
command -v jq >/dev/null || { echo "FAIL: jq is missing"; exit 1; }
[ -d "$corpus" ] || { echo "FAIL: $corpus is missing"; exit 1; }
large=$(ls -S "$corpus"/*.xml | head -1)
[ "$(stat -c %s "$large")" -gt 800000 ] || { echo "FAIL: the 0.9 MB report is missing"; exit 1; }

dns_add_txt forged.example "v=spf1 ip4:192.0.2.0/24 -all"
dns_add_txt _dmarc.forged.example "v=DMARC1; p=none; rua=mailto:dmarc@desk.example"
mkdir -p "$work/dns"
dns_start "$work/dns" forged.example || { echo "FAIL rbldnsd"; exit 1; }

db="$work/var/abusedesk.db"
db_select "$db"
cat >"$work/desk.conf" <<EOF2
[store]
path = $db
[intake]
spool_dir = $work/spool
quarantine_dir = $work/quarantine
verify_dkim = false
[log]
level = warning
[network]
our_hosts = *.hoster.example
our_ips = 192.0.2.0/24
[notify]
templates_dir = $top/etc/templates
abuse_team = team@hoster.example
[reputation]
resolver = 127.0.0.1:$DNS_PORT
dns_timeout = 2s
dmarc_rua = dmarc@desk.example
EOF2
ad() { ad_services "$bin" "$work/desk.conf" "$@"; }
ad init >/dev/null 2>&1 || { echo "FAIL init"; exit 1; }
printf '%s\n' "customer_id,customer_name,contact_email,language,account,domain" \
  "C1,Bäckerei,inhaber@privat.example,de,info@forged.example,forged.example" \
  "C3,Example Inc,ops@example.net,en,info@example.com,example.com" >"$work/dir.csv"
ad directory import "$work/dir.csv" >/dev/null || { echo "FAIL directory import"; exit 1; }

report() { # DOMAIN REPORT-ID COUNT-OF-FORGED [extra record XML]
  cat <<EOF2
<?xml version="1.0" encoding="UTF-8"?>
<feedback>
  <report_metadata><org_name>receiver.test</org_name><email>noreply-dmarc@receiver.test</email>
    <report_id>$2</report_id><date_range><begin>$(( $(date +%s) - 86400 ))</begin><end>$(date +%s)</end></date_range></report_metadata>
  <policy_published><domain>$1</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><pct>100</pct></policy_published>
  <record><row><source_ip>192.0.2.10</source_ip><count>50</count>
    <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
    <identifiers><header_from>$1</header_from></identifiers>
    <auth_results><dkim><domain>$1</domain><result>pass</result></dkim><spf><domain>$1</domain><result>pass</result></spf></auth_results></record>
  <record><row><source_ip>203.0.113.5</source_ip><count>$3</count>
    <policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>
    <identifiers><header_from>$1</header_from></identifiers>
    <auth_results><spf><domain>$1</domain><result>fail</result></spf></auth_results></record>
  <record><row><source_ip>198.51.100.7</source_ip><count>30</count>
    <policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>pass</spf></policy_evaluated></row>
    <identifiers><header_from>$1</header_from></identifiers></record>
  ${4:-}
</feedback>
EOF2
}
mail_with() { # FILE CONTENT-TYPE NAME [SUBJECT]: a report mail carrying FILE
  local b=b$RANDOM$RANDOM
  printf '%s\n' "From: noreply-dmarc@receiver.test" "To: dmarc@desk.example" \
    "Subject: ${4:-Report Domain: x Submitter: receiver.test}" "Date: $(date -R)" \
    "Message-ID: <$b@receiver.test>" "MIME-Version: 1.0" \
    "Content-Type: multipart/mixed; boundary=\"$b\"" "" "--$b" "Content-Type: text/plain" "" \
    "This is an aggregate report." "" "--$b" "Content-Type: $2; name=\"$3\"" \
    "Content-Disposition: attachment; filename=\"$3\"" "Content-Transfer-Encoding: base64" ""
  base64 -w 76 "$1"
  printf '\n--%s--\n' "$b"
}

# 1. A gzip'd report of forged.example: 120 forged messages from 203.0.113.5.
report forged.example r-1 120 | gzip -c >"$work/r1.xml.gz"
mail_with "$work/r1.xml.gz" application/gzip "receiver.test!forged.example!1!2.xml.gz" >"$work/m1.eml"
ad ingest <"$work/m1.eml" >/dev/null; check "ingest gzip report" "$?" 0
show=$(ad dmarc show --json --domain forged.example)
check "one report stored" "$(jq -s length <<<"$show")" 1
check "total messages" "$(jq -r .total <<<"$show")" 200
check "forged: failing from outside our ranges only" "$(jq -r .forged <<<"$show")" 120
check "customer" "$(jq -r .customer_id <<<"$show")" C1
check "our own row marked ours" "$(jq -r '.rows[] | select(.source_ip=="192.0.2.10") | .ours' <<<"$show")" true
check "rows stored" "$(dbq "$db" "SELECT COUNT(*) FROM dmarc_rows")" 3
inc=$(ad incidents --customer C1 --json)
joe=$(jq -c 'select(.subject_kind=="domain" and .subject=="forged.example")' <<<"$inc")
check "joe-job incident on C1's incidents" "$(jq -r .customer_id <<<"$joe")" C1
check "incident id in dmarc show" "$(jq -r .incident_id <<<"$show")" "$(jq -r .id <<<"$joe")"
id=$(jq -r .id <<<"$joe")
detail=$(ad incident show "$id" --json)
has_re "audit log names the forgery" "$(jq -r '.audit[].detail' <<<"$detail")" "120 of 200 messages failed DMARC"
has_re "audit log names the source" "$(jq -r '.audit[].detail' <<<"$detail")" "203.0.113.5 (120)"
check "never a lock" "$(dbq "$db" "SELECT COUNT(*) FROM locks")" 0

# 2. The same report again (another mail): stored once, the incident not fed twice.
mail_with "$work/r1.xml.gz" application/gzip "again.xml.gz" >"$work/m1b.eml"
ad ingest <"$work/m1b.eml" >/dev/null
check "duplicate report stored once" "$(ad dmarc show --json --domain forged.example | jq -s length)" 1

# 3. Zip and plain XML: more forgery adds to the same open incident.
report forged.example r-2 7 >"$work/r2.xml"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED).write(sys.argv[2], "r2.xml")' "$work/r2.zip" "$work/r2.xml"
mail_with "$work/r2.zip" application/zip "r2.zip" >"$work/m2.eml"
ad ingest <"$work/m2.eml" >/dev/null
report forged.example r-3 5 >"$work/r3.xml"
mail_with "$work/r3.xml" text/xml "r3.xml" >"$work/m3.eml"
ad ingest <"$work/m3.eml" >/dev/null
check "zip and XML stored" "$(ad dmarc show --json --domain forged.example | jq -s length)" 3
check "still one joe-job incident" "$(ad incidents --customer C1 --json | jq -s '[.[] | select(.subject_kind=="domain")] | length')" 1
check "its reports" "$(dbq "$db" "SELECT COUNT(*) FROM incident_reports WHERE incident_id = $id")" 3

# 4. The audit shows it.
a=$(ad domains audit --json forged.example)
has_re "audit: forgery finding" "$(jq -r '.findings[] | .check + ":" + .code' <<<"$a")" "dmarc:forgery"
has_re "audit: forgery message" "$(jq -r '.findings[] | select(.code=="forgery") | .message' <<<"$a")" "132 of 372 messages in 3 DMARC reports"
has_re "audit: advice in German" "$(jq -r '.findings[] | select(.code=="forgery") | .advice' <<<"$a")" "Joe-Job"
has_re "audit: p=none flagged too" "$(jq -r '.findings[] | .code' <<<"$a")" "p_none"

# 5. The real reports of the corpus: the mails as they are, the files attached.
n_files=0
for f in "$corpus"/*.xml "$corpus"/*.gz "$corpus"/*.zip; do
  [ -f "$f" ] || continue
  case $f in
    *.gz) ct=application/gzip ;; *.zip) ct=application/zip ;; *) ct=text/xml ;;
  esac
  mail_with "$f" "$ct" "${f##*/}" >"$work/c$n_files.eml"
  ad ingest <"$work/c$n_files.eml" >/dev/null || { echo "FAIL ingest ${f##*/}"; fails=$((fails + 1)); }
  n_files=$((n_files + 1))
done
for f in "$corpus"/*.eml; do
  ad ingest <"$f" >/dev/null || { echo "FAIL ingest ${f##*/}"; fails=$((fails + 1)); }
done
readable=0
for f in "$corpus"/*.xml "$corpus"/*.gz "$corpus"/*.zip "$corpus"/*.eml; do
  "$bin" -c "$work/desk.conf" dmarc parse "$f" >/dev/null 2>&1 && readable=$((readable + 1))
done
check "corpus: most reports readable" "$([ "$readable" -ge 18 ] && echo yes)" yes
all=$(ad dmarc show --json --limit 1000)
# Reports with the same reporter, id and domain are one (the corpus has the
# same report as .xml, .gz and .zip): count distinct keys parsed from files.
check "corpus: the large report stored with its 2286 messages" \
  "$(jq -r 'select(.report_id=="example.com:1711897200") | .total' <<<"$all")" 2286
check "corpus: example.com (C3) forgery counted" \
  "$(jq -r 'select(.report_id=="example.com:1711897200") | .forged' <<<"$all")" 2286
check "corpus: the Mimecast mail's report (weird gzip) stored" \
  "$(jq -r 'select(.domain=="ab.id.au") | .total' <<<"$all")" 1
check "corpus: Google's mail (zip) stored" "$(jq -r 'select(.domain=="borschow.com") | .forged' <<<"$all")" 1
c3=$(ad incidents --customer C3 --json | jq -c 'select(.subject_kind=="domain" and .subject=="example.com")')
check "corpus: forgery of example.com on C3's incidents" "$(jq -r .customer_id <<<"$c3")" C3
check "corpus: nothing for domains outside the directory" \
  "$(dbq "$db" "SELECT COUNT(*) FROM incidents WHERE subject_kind = 'domain' AND subject NOT IN ('forged.example', 'example.com')")" 0
txt=$(ad dmarc show)
has_re "dmarc show table" "$txt" "forged.example"
has_re "dmarc show table incident" "$txt" "#$id"

# 6. Malformed input: nothing stored as a report, no crash, the desk goes on.
before=$(dbq "$db" "SELECT COUNT(*) FROM dmarc_reports")
cat >"$work/bomb.xml" <<'EOF2'
<?xml version="1.0"?>
<!DOCTYPE feedback [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
]>
<feedback><report_metadata><org_name>&f;</org_name></report_metadata>
<policy_published><domain>forged.example</domain><p>none</p></policy_published></feedback>
EOF2
out=$("$bin" -c "$work/desk.conf" dmarc parse "$work/bomb.xml" 2>&1); rc=$?
check "XML bomb: refused" "$rc" 1
has_re "XML bomb: says why" "$out" "DTD"
mail_with "$work/bomb.xml" text/xml bomb.xml >"$work/mb.eml"
ad ingest <"$work/mb.eml" >/dev/null; check "XML bomb mail: ingest ok" "$?" 0
check "XML bomb mail: refusal in the audit log" "$(dbq "$db" "SELECT COUNT(*) FROM audit WHERE action = 'dmarc-refused'")" 1
report forged.example r-huge 99999999999999999999999 >"$work/huge.xml"
hj=$("$bin" -c "$work/desk.conf" dmarc parse --json "$work/huge.xml")
check "huge count saturates at 2^40" "$(jq -r '.rows[] | select(.source_ip=="203.0.113.5") | .count' <<<"$hj")" 1099511627776
head -c 300 "$work/r1.xml.gz" >"$work/cut.xml.gz"
out=$("$bin" -c "$work/desk.conf" dmarc parse "$work/cut.xml.gz" 2>&1); rc=$?
check "cut gzip: refused" "$rc" 1
has_re "cut gzip: says why" "$out" "gzip"
head -c 200 "$work/r2.zip" >"$work/cut.zip"
"$bin" -c "$work/desk.conf" dmarc parse "$work/cut.zip" >/dev/null 2>&1; check "cut zip: refused" "$?" 1
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED).writestr("r.xml", b"<feedback>" + b" " * (80 << 20) + b"</feedback>")' "$work/zbomb.zip"
out=$("$bin" -c "$work/desk.conf" dmarc parse "$work/zbomb.zip" 2>&1); rc=$?
check "zip bomb: refused" "$rc" 1
has_re "zip bomb: says why" "$out" "more than"
for f in cut.xml.gz cut.zip zbomb.zip; do
  case $f in *.gz) ct=application/gzip ;; *) ct=application/zip ;; esac
  mail_with "$work/$f" $ct $f >"$work/mm.eml"
  ad ingest <"$work/mm.eml" >/dev/null || { echo "FAIL ingest $f"; fails=$((fails + 1)); }
done
check "malformed: no report stored" "$(dbq "$db" "SELECT COUNT(*) FROM dmarc_reports")" "$before"
check "malformed: every report processed" "$(dbq "$db" "SELECT COUNT(*) FROM reports WHERE processed = 0")" 0

echo "dmarc: $fails failure(s)"
[ "$fails" -eq 0 ]

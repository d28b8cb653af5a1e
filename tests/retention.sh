#!/usr/bin/env bash
# tests/retention.sh: [store] retention. A report older than the retention
# whose incidents were all closed as long ago (or that belongs to none) loses
# its raw message, spool copy and personal fields (the complainant's and the
# recipients' addresses, subjects), keeping its row, counts, scores and
# attribution; reports of open incidents and younger ones stay whole.
# `abusedesk purge --dry-run` lists and changes nothing; --now moves the clock;
# `abusedesk run` purges by itself; config check refuses bad values.
# Each check prints "got X, want Y" on failure.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
shared=$(bash "$top/tools/shared-dir.sh")
corpus="$shared/corpus"
mk="python3 $top/tests/desk/mkcomplaint.py --mx-auth auto"
work=$(mktemp -d)
rpid=
cleanup() {
  [ -n "$rpid" ] && kill "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
. "$top/tests/lib/sql.sh"
. "$top/tests/lib/check.sh"  # check, has, lacks, check_done
for f in "$corpus/arf/arf-02.eml" "$corpus/dsn/lhost-amavis-01.eml"; do
  [ -r "$f" ] || { echo "FAIL missing input $f"; exit 1; }
done
rcpt=this-local-part-does-not-exist-on-yahoo@yahoo.com   # Original-Rcpt-To of arf-02
grep -q "$rcpt" "$corpus/arf/arf-02.eml" || { echo "FAIL arf-02 lost its recipient"; exit 1; }

conf() { # retention
  cat > "$work/r.conf" <<CONF
[store]
path = $work/r.db
retention = $1
[intake]
authserv_id = mx.hoster.example
spool_dir = $work/spool
quarantine_dir = $work/quarantine
max_message_size = 4096
[log]
level = warning
[network]
our_hosts = *.hoster.example
our_ips = 198.51.100.0/24
[providers]
yahoo.com = 1.0 manual
[notify]
templates_dir = $top/etc/templates
from = abuse@hoster.example
abuse_team = team@hoster.example
smarthost = smtp://127.0.0.1:9
CONF
}
conf 30d
. "$top/tests/lib/services.sh"
ad() { ad_services "$bin" "$work/r.conf" "$@"; }
q() { dbq "$work/r.db" "$@"; }
ad init >/dev/null 2>&1 || { echo "FAIL init"; exit 1; }
printf '%s\n' 'customer_id,customer_name,contact_email,language,account,domain' \
  'C1,One,owner@one-private.example,en,alice@customer.example,customer.example' \
  'C2,Two,owner@two-private.example,en,bob@beta.example,beta.example' > "$work/dir.csv"
ad directory import "$work/dir.csv" >/dev/null || { echo "FAIL directory import"; exit 1; }

complain() { # account subject
  $mk "$corpus/arf/arf-02.eml" --arrival now-30m --date now-40m --source-ip 198.51.100.25 \
    --from "$1" --subject "$2" --received \
    "from mx2.out.hoster.example (mx2.out.hoster.example [198.51.100.25]) by mx.recipient.test with ESMTPS id R1; $(date -R)" \
    --received "from [203.0.113.7] (dsl.example.test [203.0.113.7]) (Authenticated sender: $1) by smtp.hoster.example (Postfix) with ESMTPSA id S1; $(date -R)" \
    > "$work/$1.eml"
  ad ingest -q --source test < "$work/$1.eml" || check "ingest $1" "$?" 0
}
complain alice@customer.example "Alice secret subject"
complain bob@beta.example "Bob secret subject"
ad ingest -q --source test < "$corpus/dsn/lhost-amavis-01.eml" || check "ingest dsn" "$?" 0
# A bounce larger than max_message_size: its whole text stays in the spool.
{ cat "$corpus/dsn/lhost-amavis-01.eml"; for i in $(seq 1 200); do echo "padding line $i of a long bounce to keep in the spool"; done; } > "$work/big.eml"
ad ingest -q --source test < "$work/big.eml" || check "ingest big" "$?" 0

ra=$(q "SELECT report_id FROM attributions WHERE account = 'alice@customer.example'")
rb=$(q "SELECT report_id FROM attributions WHERE account = 'bob@beta.example'")
rd=$(q "SELECT id FROM reports WHERE kind = 'dsn' AND spool_path IS NULL")
rl=$(q "SELECT id FROM reports WHERE spool_path IS NOT NULL")
spool=$(q "SELECT spool_path FROM reports WHERE id = $rl")
check "four reports, each found" "$(q "SELECT COUNT(*) FROM reports") $([ -n "$ra" ] && [ -n "$rb" ] && [ -n "$rd" ] && [ -n "$rl" ] && echo found)" "4 found"
check "the big bounce has its spool copy" "$([ -f "$spool" ] && echo yes)" yes
ia=$(q "SELECT incident_id FROM incident_reports WHERE report_id = $ra")
ib=$(q "SELECT incident_id FROM incident_reports WHERE report_id = $rb")
ad incident resolve "$ia" --reason "done" --by tester >/dev/null 2>&1 || check "resolve alice's incident" "$?" 0
score_a=$(q "SELECT total FROM scores WHERE report_id = $ra")
compl_a=$(q "SELECT complaints FROM incidents WHERE id = $ia")
check "alice's report holds the recipient before" "$(q "SELECT COUNT(*) FROM reports WHERE id = $ra AND parsed LIKE '%$rcpt%'")" 1
now=$(date +%s)
d=86400

# Not old enough yet (20 days later, retention 30 days): nothing.
out=$(ad purge --now $((now + 20 * d))); rc=$?
check "20 days later: exit 0" "$rc" 0
has "20 days later: nothing" "$out" "purge: 0 reports older than 30d"

# 40 days later, dry run: lists alice's (incident resolved), the bounces (no
# incident); not bob's (open incident). Nothing changes.
out=$(ad purge --dry-run --now $((now + 40 * d))); rc=$?
check "dry run: exit 0" "$rc" 0
check "dry run: lists the three" "$(grep -o '^report [0-9]*' <<<"$out" | awk '{print $2}' | sort -n | tr '\n' ' ')" "$(printf '%s\n' "$ra" "$rd" "$rl" | sort -n | tr '\n' ' ')"
has "dry run: summary" "$out" "purge (dry run, nothing changed): 3 reports older than 30d (incidents closed as long): 2 raw messages, 1 spool copy"
check "dry run: nothing purged" "$(q "SELECT COUNT(*) FROM reports WHERE purged_at IS NOT NULL OR raw IS NULL AND spool_path IS NULL")" 0
check "dry run: spool copy still there" "$([ -f "$spool" ] && echo yes)" yes

out=$(ad purge --now $((now + 40 * d))); rc=$?
check "purge: exit 0" "$rc" 0
has "purge: summary" "$out" "purge: 3 reports older than 30d (incidents closed as long): 2 raw messages, 1 spool copy"
check "purged: purged_at set on the three" "$(q "SELECT id FROM reports WHERE purged_at IS NOT NULL ORDER BY id" | tr '\n' ' ')" "$(printf '%s\n' "$ra" "$rd" "$rl" | sort -n | tr '\n' ' ')"
check "purged: raw, subject, sender, spool path gone" "$(q "SELECT COUNT(*) FROM reports WHERE purged_at IS NOT NULL AND (raw IS NOT NULL OR subject IS NOT NULL OR from_addr IS NOT NULL OR spool_path IS NOT NULL)")" 0
check "purged: the recipient's address is nowhere in the report" "$(q "SELECT COUNT(*) FROM reports WHERE id = $ra AND (parsed LIKE '%$rcpt%' OR COALESCE(subject, '') LIKE '%secret%')")" 0
check "purged: no duplicate key with the address" "$(q "SELECT COUNT(*) FROM scores WHERE dedup_key LIKE '%$rcpt%' AND report_id = $ra")" 0
check "purged: the spool copy removed" "$([ -e "$spool" ] && echo still || echo gone)" gone
pj=$(q "SELECT parsed FROM reports WHERE id = $ra")
check "purged JSON: what happened stays, addresses go" \
  "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); o=d["original"]; print(d["purged"], d["kind"], d["feedback_type"], d["source_ip"], d["original_rcpt_to"], d["original_mail_from"], d["subject"], o["from"], o["to"], o["subject"], o["authenticated_user"] is not None or o["received"] is not None)' "$pj")" \
  "True arf abuse 198.51.100.25 None None None None None None True"
dj=$(q "SELECT parsed FROM reports WHERE id = $rd")
check "purged DSN: reason kept, recipient address gone" \
  "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); r=d["recipients"][0]; print(r["reason"], r["status"], r["final_recipient"], r["diagnostic_code"])' "$dj")" \
  "userunknown 5.1.1 None None"
check "kept: score" "$(q "SELECT total FROM scores WHERE report_id = $ra")" "$score_a"
check "kept: incident count" "$(q "SELECT complaints FROM incidents WHERE id = $ia")" "$compl_a"
check "kept: attribution" "$(q "SELECT account FROM attributions WHERE report_id = $ra")" alice@customer.example
check "kept: bob's report (open incident $ib) whole" "$(q "SELECT COUNT(*) FROM reports WHERE id = $rb AND purged_at IS NULL AND raw IS NOT NULL AND parsed LIKE '%$rcpt%'")" 1
check "reports list still shows it, with its incident" "$(ad reports --json --incident "$ia" | python3 -c 'import json,sys; r=json.loads(sys.stdin.readline()); print(r["id"], r["account"])')" "$ra alice@customer.example"
err=$(ad report show --raw "$ra" 2>&1 >/dev/null)
has "report show --raw says purged" "$err" "raw message purged at"
out=$(ad purge --now $((now + 40 * d)))
has "purge again: nothing left" "$out" "purge: 0 reports"
# The same mail again is still a duplicate (the hash stays).
ad ingest -q --source test < "$work/alice@customer.example.eml"
check "re-ingest after purge: no second row" "$(q "SELECT COUNT(*) FROM reports")" 4

# Bob's incident resolved now: 40 days later is not yet 30 days after that.
ad incident resolve "$ib" --reason "done" --by tester >/dev/null 2>&1
out=$(ad purge --now $((now + 20 * d)))
has "closed today: kept for the retention after closing" "$out" "purge: 0 reports"
out=$(ad purge --now $((now + 31 * d)))
has "31 days after closing: purged" "$out" "purge: 1 report "

# abusedesk run purges by itself (at start, then daily): an old report
# without incident, moved back to 2020.
ad ingest -q --source test < "$corpus/dsn/lhost-amavis-02.eml" || check "ingest dsn 2" "$?" 0
rn=$(q "SELECT MAX(id) FROM reports")
q "UPDATE reports SET received_at = '2020-01-01T00:00:00Z' WHERE id = $rn"
"$bin" -c "$work/r.conf" run --no-policy >"$work/run.out" 2>&1 &
rpid=$!
for i in $(seq 1 100); do [ -n "$(q "SELECT purged_at FROM reports WHERE id = $rn")" ] && break; sleep 0.1; done
check "abusedesk run purged the old report" "$(q "SELECT CASE WHEN purged_at IS NULL THEN 'kept' ELSE 'purged' END FROM reports WHERE id = $rn")" purged
kill "$rpid"; wait "$rpid" 2>/dev/null; rpid=

# retention = 0 keeps everything; config check refuses a bare number and less than a day.
conf 0
has "retention 0: kept for ever" "$(ad purge)" "retention is 0: reports are kept for ever"
conf 180
out=$("$bin" -c "$work/r.conf" config check 2>&1); rc=$?
check "retention without a unit: config error" "$rc" 78
has "names the key" "$out" "[store] retention: '180' needs a unit"
conf 1h
out=$("$bin" -c "$work/r.conf" config check 2>&1); rc=$?
check "retention of an hour: refused by config check" "$([ "$rc" -ne 0 ] && echo refused)" refused
has "says why" "$out" "shorter than a day"
conf 180d
has "config describe lists retention" "$("$bin" -c "$work/r.conf" config describe 2>/dev/null)" "retention          duration (default 180d)"
out=$(ad purge --now yesterday 2>&1); check "purge --now garbage: usage" "$?" 64

check_done "retention"

#!/usr/bin/env bash
# tests/reports.sh: `abusedesk reports` shows for each report the account the
# desk attributed it to, the incident it was filed into and, for a bounce, the
# parser's reason; filters --account, --incident, --kind, --since, --until,
# --limit narrow the list like `abusedesk incidents`; bad values are usage
# errors (64). Also: --by defaults to SUDO_USER where an actor is recorded.
# Each check prints "got X, want Y" on failure.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
shared=$(bash "$top/tools/shared-dir.sh")
corpus="$shared/corpus"
mk="python3 $top/tests/desk/mkcomplaint.py --mx-auth auto"
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
. "$top/tests/lib/sql.sh"
. "$top/tests/lib/check.sh"  # check, has, lacks, check_done
for f in "$corpus/arf/arf-02.eml" "$corpus/arf/arf-22.eml" "$corpus/dsn/lhost-amavis-01.eml"; do
  [ -r "$f" ] || { echo "FAIL missing input $f"; exit 1; }
done

cat > "$work/r.conf" <<CONF
[store]
path = $work/r.db
[intake]
authserv_id = mx.hoster.example
spool_dir = $work/spool
quarantine_dir = $work/quarantine
[log]
level = warning
[network]
our_hosts = *.hoster.example
our_ips = 198.51.100.0/24
[providers]
yahoo.com = 1.0 manual
hotmail.com = 1.0 manual signed_by=hotmail.com
[notify]
templates_dir = $top/etc/templates
from = abuse@hoster.example
abuse_team = team@hoster.example
CONF
. "$top/tests/lib/services.sh"
ad() { ad_services "$bin" "$work/r.conf" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }
cat > "$work/dir.csv" <<'CSV'
customer_id,customer_name,contact_email,language,account,domain,uid
C1,Alpha,owner@alpha-private.example,en,alice@customer.example,customer.example,
C2,Beta,owner@beta-private.example,en,bob@beta.example,beta.example,
CSV
ad directory import "$work/dir.csv" >/dev/null || { echo "FAIL directory import"; exit 1; }

rcv() { # account
  printf '%s\n' "--received" \
    "from mx2.out.hoster.example (mx2.out.hoster.example [198.51.100.25]) by mx.recipient.test with ESMTPS id R1; $(date -R)" \
    "--received" \
    "from [203.0.113.7] (dsl.example.test [203.0.113.7]) (Authenticated sender: $1) by smtp.hoster.example (Postfix) with ESMTPSA id S1; $(date -R)"
}
complain() { # template account subject
  mapfile -t r < <(rcv "$2")
  $mk "$corpus/arf/$1.eml" --arrival now-30m --date now-40m --source-ip 198.51.100.25 \
    --from "$2" --subject "$3" "${r[@]}" | ad ingest -q --source test || check "ingest $1 $2" "$?" 0
}
complain arf-02 alice@customer.example "Alice one"
complain arf-22 alice@customer.example "Alice two"
complain arf-02 bob@beta.example "Bob one"
ad ingest -q --source test < "$corpus/dsn/lhost-amavis-01.eml" || check "ingest dsn" "$?" 0

py() { python3 -c "import json,sys; rows=[json.loads(l) for l in sys.stdin if l.strip()]; $1"; }
all=$(ad reports --json)
check "four reports" "$(echo "$all" | py 'print(len(rows))')" 4
check "json keys" "$(echo "$all" | py 'print(sorted(rows[0].keys()))')" \
  "['account', 'bounce_reason', 'feedback_type', 'id', 'incident_id', 'kind', 'received_at', 'report', 'status']"
check "dsn: bounce reason userunknown" "$(echo "$all" | py 'print([r["bounce_reason"] for r in rows if r["kind"]=="dsn"])')" "['userunknown']"
check "arf: no bounce reason" "$(echo "$all" | py 'print({r["bounce_reason"] for r in rows if r["kind"]=="arf"})')" "{None}"
check "accounts attributed" "$(echo "$all" | py 'print(sorted(str(r["account"]) for r in rows))')" \
  "['None', 'alice@customer.example', 'alice@customer.example', 'bob@beta.example']"
inc_a=$(ad incidents --json --account alice@customer.example | py 'print(rows[0]["id"])')
inc_b=$(ad incidents --json --account bob@beta.example | py 'print(rows[0]["id"])')
check "alice's reports carry her incident" "$(echo "$all" | py "print({r['incident_id'] for r in rows if r['account']=='alice@customer.example'})")" "{$inc_a}"
check "the bounce is in no incident" "$(echo "$all" | py 'print([r["incident_id"] for r in rows if r["kind"]=="dsn"])')" "[None]"

check "--account (any case)" "$(ad reports --json --account ALICE@Customer.example | py 'print(len(rows), {r["account"] for r in rows})')" \
  "2 {'alice@customer.example'}"
check "--incident" "$(ad reports --json --incident "$inc_b" | py 'print(len(rows), rows[0]["account"])')" "1 bob@beta.example"
check "--kind dsn" "$(ad reports --json --kind dsn | py 'print(len(rows), rows[0]["kind"])')" "1 dsn"
check "--kind arf --account bob" "$(ad reports --json --kind arf --account bob@beta.example | py 'print(len(rows))')" 1
check "--limit 2" "$(ad reports --json --limit 2 | py 'print(len(rows))')" 2
check "--limit 0: all" "$(ad reports --json --limit 0 | py 'print(len(rows))')" 4
# received_at of one report moved back to 2020: --since/--until split on it
old=$(echo "$all" | py 'print(min(r["id"] for r in rows))')
dbq "$work/r.db" "UPDATE reports SET received_at = '2020-01-02T03:04:05Z' WHERE id = $old"
check "--since excludes the old one" "$(ad reports --json --since 2021-01-01T00:00:00 | py "print(len(rows), $old in [r['id'] for r in rows])")" "3 False"
check "--until (Unix seconds)" "$(ad reports --json --until 1609459200 | py 'print([r["id"] for r in rows])')" "[$old]"
check "--since with nothing after" "$(ad reports --json --since 2099-01-01T00:00:00Z | wc -l)" 0

text=$(ad reports)
check "text header has the new columns" "$(echo "$text" | head -1 | grep -c 'ACCOUNT.*INCIDENT.*BOUNCE')" 1
check "text: dsn row shows its reason" "$(echo "$text" | grep ' dsn ' | grep -c userunknown)" 1
check "text: alice rows show the incident" "$(echo "$text" | grep alice@customer.example | awk -v i="$inc_a" '$7 == i' | wc -l)" 2

for bad in "--kind bogus" "--incident 0" "--incident x" "--since yesterday" "--limit -1" "--frobnicate" "--account"; do
  # shellcheck disable=SC2086
  ad reports $bad >/dev/null 2>&1; check "reports $bad: usage error" "$?" 64
done

# --by defaults to SUDO_USER where an actor is recorded
SUDO_USER=carol-admin ad incident note "$inc_a" --reason "checked" >/dev/null || check "note" "$?" 0
check "audit actor from SUDO_USER" "$(dbq "$work/r.db" "SELECT actor FROM audit WHERE action = 'note' AND incident_id = $inc_a")" carol-admin
SUDO_USER=carol-admin ad account lock bob@beta.example --reason "manual" >/dev/null || check "account lock" "$?" 0
check "lock by SUDO_USER" "$(dbq "$work/r.db" "SELECT locked_by FROM locks WHERE subject = 'bob@beta.example' AND unlocked_at IS NULL")" carol-admin
SUDO_USER=carol-admin ad incident note "$inc_a" --reason "again" --by dave >/dev/null
check "--by wins over SUDO_USER" "$(dbq "$work/r.db" "SELECT actor FROM audit WHERE action = 'note' AND detail LIKE '%again%'")" dave
out=$(SUDO_USER=carol-admin ad directory set-contact C2 new@beta-private.example)
check "set-contact names SUDO_USER" "$(echo "$out" | grep -c 'by:.*carol-admin')" 1

check_done "reports"

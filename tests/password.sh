#!/usr/bin/env bash
# tests/password.sh: the lifecycle promises of the seeds, kept in practice:
#   1. "never use the old password again": the panel hands abusedesk the
#      plaintext on stdin at each change; after a lock the old password is
#      refused by check-password (before the panel accepts it) and by
#      password-changed; a new one is accepted and unlocks; the same password
#      for another account is fine (per-account salt); no plaintext anywhere in
#      the database, its WAL, the spool or the logs; unknown accounts exit 67
#   2. incidents the team finds belong together are merged into one
#   3. a customer whose contact address is the locked mailbox gets no notice
#      there; the team alert says why
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/lib/sql.sh"  # dbq: the store on SQLite or PostgreSQL
bin=${AD_BINARY:-$top/build/abusedesk}
corpus="$(bash "$top/tools/shared-dir.sh")/corpus/arf"
mk="python3 $top/tests/desk/mkcomplaint.py --mx-auth auto"
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"' EXIT
fails=0
check() { if [ "$2" != "$3" ]; then echo "FAIL $1: got '$2', want '$3'"; fails=$((fails + 1)); else echo "ok   $1"; fi; }
has() { if grep -q -- "$3" <<<"$2"; then echo "ok   $1"; else echo "FAIL $1: no '$3'"; fails=$((fails + 1)); fi; }

cat > "$work/desk.conf" <<EOF
[store]
path = $work/desk.db
[intake]
spool_dir = $work/spool
quarantine_dir = $work/quarantine
authserv_id = mx.hoster.example
verify_dkim = false
[log]
level = info
[network]
our_hosts = *.hoster.example
our_ips = 198.51.100.0/24
[providers]
yahoo.com = 1.0 manual
hotmail.com = 1.0 manual signed_by=hotmail.com
senderscore.net = 0.8
[incidents]
lock_score = 30;60;120
[act]
password_key_file = $work/password.key
[notify]
smarthost = smtp://127.0.0.1:9
from = abuse@hoster.example
abuse_team = team@hoster.example
templates_dir = $top/etc/templates
EOF
. "$top/tests/lib/services.sh"
ad() { ad_services "$bin" "$work/desk.conf" "$@" 2>>"$work/log"; }
sql() { dbq "$work/desk.db" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }
cat > "$work/dir.csv" <<'EOF'
customer_id,customer_name,contact_email,language,account,domain,uid
C1001,Bäckerei Müller,inhaber@mueller-privat.example,de,alice@customer.example,customer.example,
C1001,Bäckerei Müller,inhaber@mueller-privat.example,de,bob@customer.example,,
C5005,Selbst GmbH,info@selbst.example,de,info@selbst.example,selbst.example,
EOF
imp=$(ad directory import "$work/dir.csv")
has "import warns: C5005's contact address is its own mailbox" "$imp" "C5005"
now() { date -R; }
complain() { # account subject template
  $mk "$corpus/$3.eml" --arrival now-20m --date now-25m --source-ip 198.51.100.25 --from "$1" \
    --subject "$2" \
    --received "from mx2.out.hoster.example (mx2.out.hoster.example [198.51.100.25]) by mx.recipient.test with ESMTPS id R$RANDOM; $(now)" \
    --received "from [203.0.113.7] (dsl.example.test [203.0.113.7]) (Authenticated sender: $1) by smtp.hoster.example (Postfix) with ESMTPSA id S$RANDOM; $(now)" \
    | ad ingest -q --source test
}

# ---- 1. Password reuse ------------------------------------------------------------
secret='Sommer2026!Bäckerei'
printf '%s\n' "$secret" | ad account password-changed alice@customer.example --password-stdin \
  --at "$(date -u -d '-30 days' +%FT%TZ)" >/dev/null
check "the panel reports alice's password" "$?" 0
printf '%s\n' "$secret" | ad account check-password alice@customer.example --password-stdin >/dev/null
check "before any lock the password is allowed" "$?" 0
for s in "Pills" "Pills" "Parcel"; do
  for t in arf-02 arf-22 arf-25; do complain alice@customer.example "$s" "$t"; done
done
al=$(sql "SELECT id FROM incidents WHERE subject = 'alice@customer.example'")
check "alice is locked" "$(sql "SELECT COUNT(*) FROM locks WHERE subject = 'alice@customer.example' AND unlocked_at IS NULL")" 1
# ---- the hotline's view: what is locked ------------------------------------------
lk=$(ad locks)
has "locks: lists alice while she is locked" "$lk" "alice@customer.example"
check "locks --account for an unlocked account: nothing" "$(ad locks --account bob@customer.example --json | wc -l)" 0
check "locks --customer C1001 --json" "$(ad locks --customer C1001 --json | python3 -c "import json,sys; print(sorted(set(json.loads(l)['customer_id'] for l in sys.stdin)))")" "['C1001']"

out=$(printf '%s\n' "$secret" | ad account check-password alice@customer.example --password-stdin); rc=$?
check "check-password: the leaked password is refused" "$rc" 65
has "check-password says why" "$out" "known to the attackers"
printf '%s\r\n' "$secret" | ad account check-password alice@customer.example --password-stdin >/dev/null
check "check-password: the same with CRLF is refused too" "$?" 65
printf '%s\n' "$secret" | ad account password-changed alice@customer.example --password-stdin >/dev/null
check "password-changed: the leaked password is refused" "$?" 65
ad incident unlock "$al" --by tester >/dev/null
check "unlock still refused" "$?" 3
printf '%s\n' "$secret" | ad account check-password bob@customer.example --password-stdin >/dev/null
check "the same password for another account is not refused" "$?" 0
printf '%s\n' 'Winter2027#neu' | ad account check-password alice@customer.example --password-stdin >/dev/null
check "check-password: a new password is allowed" "$?" 0
printf '%s\n' 'Winter2027#neu' | ad account password-changed alice@customer.example --password-stdin >/dev/null
check "password-changed: a new password is accepted" "$?" 0
ad incident unlock "$al" --by tester --reason "cleaned" >/dev/null
check "unlock after the new password" "$(sql "SELECT state FROM incidents WHERE id = $al")" resolved
printf '%s\n' "x" | ad account password-changed ghost@customer.example --password-stdin >/dev/null
check "an account not in the directory: exit 67" "$?" 67
printf '%s\n' "x" | ad account check-password ghost@customer.example --password-stdin >/dev/null
check "check-password for an unknown account: exit 67" "$?" 67
printf '' | ad account check-password alice@customer.example --password-stdin >/dev/null
check "an empty password: usage error" "$?" 64
ad account check-password alice@customer.example >/dev/null
check "check-password without --password-stdin: usage error" "$?" 64
printf '%s\n' "$secret" | ad account password-changed alice@customer.example "$secret" >/dev/null 2>&1
check "a password on the command line is refused" "$?" 64
db_is_pg || sql "PRAGMA wal_checkpoint(FULL)" >/dev/null
found=$(grep -rlaF -e "$secret" -e 'Winter2027#neu' "$work" 2>/dev/null | grep -v '/dir.csv$' | wc -l)
check "no plaintext in the database, WAL, spool or logs" "$found" 0
check "the key file is private" "$(stat -c %a "$work/password.key")" 600
check "fingerprints are 64 hex digits" "$(sql "SELECT COUNT(*) FROM password_events WHERE length(fingerprint) = 64")" 3

# ---- 2. Merge ---------------------------------------------------------------------
for t in arf-02 arf-22; do complain bob@customer.example "Bob spam" "$t"; done
b1=$(sql "SELECT id FROM incidents WHERE subject = 'bob@customer.example' ORDER BY id DESC LIMIT 1")
ad account lock bob@customer.example --reason "the panel saw logins from a botnet" --by tester >/dev/null
b_inc=$(sql "SELECT COUNT(*) FROM incidents WHERE subject = 'bob@customer.example' AND state NOT IN ('resolved','dismissed','merged')")
check "a person's lock joins bob's open incident" "$b_inc" 1
# an incident about the customer as a whole (no mailbox named) belongs to bob's too
$mk "$corpus/arf-02.eml" --arrival now-10m --date now-12m --source-ip 198.51.100.25 --from x@customer.example \
  --subject "Customer spam" \
  --received "from mx2.out.hoster.example (mx2.out.hoster.example [198.51.100.25]) by mx.recipient.test with ESMTPS id R9; $(now)" \
  | ad ingest -q --source test
c1=$(sql "SELECT id FROM incidents WHERE subject_kind = 'customer' AND subject = 'C1001' ORDER BY id DESC LIMIT 1")
check "a customer incident exists" "$([ -n "$c1" ] && echo yes)" yes
before=$(sql "SELECT complaints FROM incidents WHERE id = $b1")
ad incident merge "$b1" "$c1" --by tester >/dev/null
check "merge: exit 0" "$?" 0
check "merge: the other incident is merged" "$(sql "SELECT state || ' ' || merged_into FROM incidents WHERE id = $c1")" "merged $b1"
check "merge: its reports moved" "$(sql "SELECT COUNT(*) FROM incident_reports WHERE incident_id = $c1")" 0
check "merge: bob's incident has them" "$(sql "SELECT COUNT(*) FROM incident_reports WHERE incident_id = $b1")" $((before + 1))
check "merge: audited on both" "$(sql "SELECT COUNT(*) FROM audit WHERE action = 'merged' AND incident_id IN ($b1, $c1)")" 2
ad incident merge "$b1" "$al" >/dev/null 2>&1
check "merge: a closed (resolved) incident of the same customer can be merged" "$?" 0
ad incident merge "$b1" "$b1" >/dev/null 2>&1
check "merge into itself: refused" "$?" 64
list=$(ad incidents)
check "no marker inside the subject column" "$(grep -c '\[repeat\]' <<<"$list")" 0

# ---- 3. The contact address is the locked mailbox -----------------------------------
for s in "Pills" "Pills" "Parcel"; do
  for t in arf-02 arf-22 arf-25; do complain info@selbst.example "$s" "$t"; done
done
se=$(sql "SELECT id FROM incidents WHERE subject = 'info@selbst.example'")
check "selbst: locked" "$(sql "SELECT COUNT(*) FROM locks WHERE subject = 'info@selbst.example' AND unlocked_at IS NULL")" 1
check "selbst: no notice to the locked mailbox" "$(sql "SELECT COUNT(*) FROM outbox WHERE rcpt = 'info@selbst.example'")" 0
check "selbst: audited as unreachable" "$(sql "SELECT COUNT(*) FROM audit WHERE incident_id = $se AND action = 'notify-unreachable'")" 1
alert=$(sql "SELECT message FROM outbox WHERE incident_id = $se AND kind = 'team'")
has "selbst: the team alert says why" "$(python3 -c '
import quopri, sys
print(quopri.decodestring(sys.stdin.buffer.read()).decode("utf-8", "replace"))' <<<"$alert")" "no reachable contact"
ad incident notify "$se" --to chef@privat.example >/dev/null
check "selbst: notify --to reaches another address" "$(sql "SELECT rcpt FROM outbox WHERE incident_id = $se AND kind = 'customer'")" chef@privat.example

# The day's figures.
st=$(ad stats --days 3 --json | tail -1)
check "stats: today's locks" "$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['locks'] >= 2)" "$st")" True
check "stats: today's incidents" "$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['incidents'] >= 3)" "$st")" True
check "stats: three days" "$(ad stats --days 3 --json | wc -l)" 3
echo "password: $fails failed"
[ "$fails" -eq 0 ]

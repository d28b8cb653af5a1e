#!/usr/bin/env bash
# tests/desk.sh: scenario tests of the abuse desk core (attribution, scoring,
# incidents), built from real feedback-loop reports of shared/corpus rewritten by
# tests/desk/mkcomplaint.py so that the reported mail went through our hosts:
#   1. a compromised mailbox: a burst of complaints from three providers
#   2. a single two-month-old complaint (counts for almost nothing)
#   3. a script on a web host (X-PHP-Originating-Script, "from userid N")
#   4. a forged sender (no hop through our hosts): stays unattributed
#   5. two reports of the same message: counted once
#   6. an authenticated user that is not in the directory
#   7. a repeat offender: after the first incident is resolved, fewer
#      complaints raise an alert, and the incident shows the history
# Each check prints "got X, want Y" on failure.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
corpus="$(bash "$top/tools/shared-dir.sh")/corpus/arf"
mk="python3 $top/tests/desk/mkcomplaint.py --mx-auth auto"
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
. "$top/tests/lib/sql.sh"  # dbq: SQL on SQLite or PostgreSQL (tests/lib/with_pg.sh)
fails=0

. "$top/tests/lib/check.sh" # check, has, hasnt

cat > "$work/desk.conf" <<EOF
[store]
path = $work/desk.db
[intake]
authserv_id = mx.hoster.example
spool_dir = $work/spool
quarantine_dir = $work/quarantine
[log]
level = warning
[network]
our_hosts = *.hoster.example
our_ips = 198.51.100.0/24
[incidents]
# New complaints after a resolution open a new incident here (the repeat
# offender scenario); reopening is tested with the lifecycle.
reopen_window = 0
# The thresholds of the sums are tested here; the spam-run rule, which would
# lock the burst of scenario 1 at its third complaint, in tests/spamrun.sh.
run_lock_complaints = 0
[providers]
yahoo.com = 1.0 manual
hotmail.com = 1.0 manual signed_by=hotmail.com
senderscore.net = 0.8
abusix.com = 0.7 automatic
EOF
. "$top/tests/lib/services.sh"
ad() { ad_services "$bin" "$work/desk.conf" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }

cat > "$work/dir.csv" <<'EOF'
customer_id,customer_name,contact_email,language,account,domain,uid
C1001,Bäckerei Müller,inhaber@mueller-privat.example,de,alice@customer.example,customer.example,
C1001,Bäckerei Müller,inhaber@mueller-privat.example,de,bob@customer.example,,
C2002,Webshop Schmidt,it@schmidt.example,en,shop@shop.example,shop.example,10023
C3003,Carol's Cats,carol@cats.example,en,,cats.example,
EOF
ad directory import "$work/dir.csv" >/dev/null || { echo "FAIL directory import"; exit 1; }

now() { date -R; }
ours_auth() { # account: the Received lines of a submission through our hosts
  printf '%s\n' "--received" \
    "from mx2.out.hoster.example (mx2.out.hoster.example [198.51.100.25]) by mx.recipient.test with ESMTPS id R1; $(now)" \
    "--received" \
    "from [203.0.113.7] (dsl.example.test [203.0.113.7]) (Authenticated sender: $1) by smtp.hoster.example (Postfix) with ESMTPSA id S1; $(now)"
}
ingest() { ad ingest -q --source test; }

# 1. Compromised mailbox: 6 complaints within the hour from Yahoo, Hotmail (JMRP)
# and Rackspace/Return Path, three distinct subject lines.
subjects=("Cheap pills" "Cheap pills" "Cheap pills" "Your parcel is waiting" "Your parcel is waiting" "Winner!")
templates=(arf-02 arf-22 arf-25 arf-02 arf-22 arf-25)
for i in 0 1 2 3 4 5; do
  mapfile -t rcv < <(ours_auth alice@customer.example)
  $mk "$corpus/${templates[$i]}.eml" --arrival now-30m --date now-40m --source-ip 198.51.100.25 \
    --from alice@customer.example --subject "${subjects[$i]}" "${rcv[@]}" | ingest \
    || check "ingest complaint $i" "$?" 0
done
inc=$(ad incidents --json)
line=$(echo "$inc" | grep '"subject":"alice@customer.example"')
j() { echo "$line" | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); v=$1; print(v if not isinstance(v,(list,dict)) else json.dumps(v))"; }
check "burst: one incident for the mailbox" "$(echo "$inc" | grep -c '"subject":"alice@customer.example"')" 1
check "burst: subject kind" "$(j "d['subject_kind']")" account
check "burst: customer" "$(j "d['customer_id']")" C1001
check "burst: complaints" "$(j "d['complaints']")" 6
check "burst: stage alert (6 complaints >= 3 in 1h)" "$(j "d['stage']")" alert
check "burst: subjects most frequent first" "$(j "d['subjects']")" '["Cheap pills", "Your parcel is waiting", "Winner!"]'
check "burst: three providers" "$(j "len(d['providers'])")" 3
check "burst: first_seen is ISO 8601 UTC" "$(j "bool(__import__('re').fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ', d['first_seen']))")" True
check "burst: no history" "$(j "d['history']")" '[]'
id1=$(j "d['id']")
show=$(ad incident show "$id1")
check "burst: show names the customer" "$(echo "$show" | grep -c 'Bäckerei Müller <inhaber@mueller-privat.example>')" 1
check "burst: show has the evidence" "$(echo "$show" | grep -c 'authenticated sender alice@customer.example at our submission hop')" 1
check "burst: audit log has the opening" "$(echo "$show" | grep -c ' opened ')" 1
rep=$(ad reports --limit 1 --json | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['id'])")
ex=$(ad explain "$rep")
check "explain: base term with its key" "$(echo "$ex" | grep -c '\[scoring\] base_abuse')" 1
check "explain: provider term" "$(echo "$ex" | grep -Ec 'x provider .*\[providers\] senderscore.net')" 1
check "explain: authenticated by our MX" "$(echo "$ex" | grep -c 'our MX (mx.hoster.example) verified dkim=pass')" 1
check "explain: age term" "$(echo "$ex" | grep -c '\[scoring\] half_life')" 1
exj=$(ad explain --json "$rep")
check "explain: sums per account, customer and IP" "$(echo "$exj" | python3 -c "
import json,sys
d=json.load(sys.stdin)
print(sorted((s['subject_kind'], s['windows'][0]['complaints']) for s in d['senders']))")" \
  "[('account', 6), ('customer', 6), ('ip', 6)]"
check "explain: product of the terms is the score" "$(echo "$exj" | python3 -c "
import json,sys,math
d=json.load(sys.stdin)['score']; p=1.0
for t in d['terms']: p*=t['value']
print(math.isclose(p, d['total'], rel_tol=1e-6))")" True

# 2. A single two-month-old complaint about bob: no incident, age term near zero.
mapfile -t rcv < <(ours_auth bob@customer.example)
$mk "$corpus/arf-02.eml" --arrival now-60d --date now-60d --source-ip 198.51.100.25 \
  --from bob@customer.example --subject "Old news" "${rcv[@]}" | ingest
rep=$(ad reports --limit 1 --json | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['id'])")
exj=$(ad explain --json "$rep")
check "old complaint: attributed to bob" "$(echo "$exj" | python3 -c "import json,sys; print(json.load(sys.stdin)['attribution']['subject'])")" bob@customer.example
check "old complaint: score below 0.01" "$(echo "$exj" | python3 -c "import json,sys; print(json.load(sys.stdin)['score']['total'] < 0.01)")" True
check "old complaint: no incident" "$(ad incidents --json | grep -c bob@customer.example)" 0

# 3. A script on a web host: PHP mail() through our web server.
for i in 1 2 3; do
  $mk "$corpus/arf-02.eml" --arrival now-20m --date now-25m --source-ip 198.51.100.40 \
    --from "wordpress@shop.example" --subject "Re: your order $i" \
    --received "from web3.hoster.example (web3.hoster.example [198.51.100.40]) by mx.recipient.test with ESMTP id W$i; $(now)" \
    --received "by web3.hoster.example (Postfix, from userid 10023) id X$i; $(now)" \
    --header "X-PHP-Originating-Script: 10023:wp-content/plugins/contact-form/send.php" | ingest
done
line=$(ad incidents --json | grep '"subject_kind":"script"')
check "script: subject is uid:path" "$(j "d['subject']")" "10023:wp-content/plugins/contact-form/send.php"
check "script: customer by web space uid" "$(j "d['customer_id']")" C2002
check "script: complaints" "$(j "d['complaints']")" 3

# 4. Forged sender: the mail never passed our hosts.
$mk "$corpus/arf-02.eml" --arrival now-10m --source-ip 192.0.2.99 --from carol@cats.example \
  --subject "Joe job" --received "from botnet.example.test (unknown [192.0.2.99]) by mx.recipient.test with SMTP id J1; $(now)" | ingest
rep=$(ad reports --limit 1 --json | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['id'])")
exj=$(ad explain --json "$rep")
check "forged: unattributed" "$(echo "$exj" | python3 -c "import json,sys; print(json.load(sys.stdin)['attribution']['status'])")" unattributed
check "forged: reason" "$(echo "$exj" | python3 -c "import json,sys; print(json.load(sys.stdin)['attribution']['reason'])")" "no hop through our hosts: likely forged sender"
check "forged: evidence names the forged customer domain" "$(ad explain "$rep" | grep -c 'joe job')" 1
check "forged: no incident for a mailbox" "$(ad incidents --all --json | grep -c '"subject_kind":"account","subject":"carol@cats.example"')" 0
check "forged: a joe-job incident for the customer's domain" "$(ad incidents --all --json | grep -c '"subject_kind":"domain","subject":"cats.example"')" 1
check "forged: report kept" "$(ad report show "$rep" >/dev/null; echo $?)" 0

# 5. The same message reported twice by the same provider for the same
# recipient: counted once.
for t in arf-02 arf-02; do
  mapfile -t rcv < <(ours_auth shop@shop.example)
  $mk "$corpus/$t.eml" --arrival now-5m --date now-6m --source-ip 198.51.100.25 --from shop@shop.example \
    --msgid dup-1@shop.example --subject "Same mail" "${rcv[@]}" | ingest
done
line=$(ad incidents --json | grep '"subject":"shop@shop.example"')
check "duplicate: counted once" "$(j "d['complaints']")" 1
rep=$(ad reports --limit 1 --json | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['id'])")
check "duplicate: explain says so" "$(ad explain "$rep" | grep -c 'count_duplicates')" 1

# 6. An authenticated user we do not know.
mapfile -t rcv < <(ours_auth ghost@unknown.example)
$mk "$corpus/arf-02.eml" --arrival now-5m --source-ip 198.51.100.25 --from ghost@unknown.example \
  --subject "Who am I" "${rcv[@]}" | ingest
rep=$(ad reports --limit 1 --json | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['id'])")
check "unknown account: says it is not in the directory" "$(ad explain "$rep" | grep -c 'not in the customer directory')" 1
line=$(ad incidents --json | grep '"subject":"ghost@unknown.example"')
check "unknown account: incident without customer" "$(j "d['customer_id']")" None

# 7. Repeat offender: resolve the first incident, then two new complaints.
ad incident resolve "$id1" --by tester --reason "customer cleaned the PC" >/dev/null
check "resolve twice is refused" "$(ad incident resolve "$id1" --by tester 2>/dev/null; echo $?)" 3
for s in "Pills again" "Pills again"; do
  mapfile -t rcv < <(ours_auth alice@customer.example)
  $mk "$corpus/arf-22.eml" --date now-2m --source-ip 198.51.100.25 --from alice@customer.example \
    --subject "$s" "${rcv[@]}" | ingest
done
line=$(ad incidents --json | grep '"subject":"alice@customer.example"')
check "repeat: a new incident" "$([ "$(j "d['id']")" != "$id1" ] && echo new)" new
check "repeat: history names the first" "$(j "d['history']")" "[$id1]"
check "repeat: flagged" "$(j "d['repeat_offender']")" True
check "repeat: 2 complaints alert (thresholds x0.5)" "$(j "d['stage']")" alert
id2=$(j "d['id']")
check "repeat: show lists the earlier incident" "$(ad incident show "$id2" | grep -c "#$id1 account alice@customer.example, resolved")" 1
check "audit: resolve by a person" "$(ad incident show --json "$id1" | python3 -c "import json,sys; print([a['actor'] for a in json.load(sys.stdin)['audit'] if a['action']=='resolve'])")" "['tester']"

# The queue lists every open incident, and --all every incident.
check "queue: every open incident listed" "$(ad incidents --json | wc -l)" \
  "$(dbq "$work/desk.db" "SELECT COUNT(*) FROM incidents WHERE state NOT IN ('resolved','dismissed')")"
check "queue: --all lists every incident" "$(ad incidents --all --json | wc -l)" \
  "$(dbq "$work/desk.db" "SELECT COUNT(*) FROM incidents")"
check "queue: --state resolved" "$(ad incidents --state resolved --json | grep -c "\"id\":$id1,")" 1
check "queue: contract keys" "$(ad incidents --json | head -1 | python3 -c "
import json,sys
d=json.loads(sys.stdin.readline())
print(all(k in d for k in ['id','state','stage','subject_kind','subject','customer_id','score','complaints','subjects','providers','first_seen','last_seen','history']))")" True

# Unprocessed reports are picked up by `process`: forget what the desk made of
# the last report (as if processing had failed) and let `process` redo it.
check "process: nothing pending" "$(ad process)" "process: 0 reports processed, 0 policy findings filed"
rep=$(ad reports --limit 1 --json | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['id'])")
before=$(dbq "$work/desk.db" "SELECT subject || ' ' || status FROM attributions WHERE report_id = $rep")
dbq "$work/desk.db" "DELETE FROM incident_reports WHERE report_id = $rep; DELETE FROM complaints WHERE report_id = $rep;
  DELETE FROM scores WHERE report_id = $rep; DELETE FROM attributions WHERE report_id = $rep;
  UPDATE reports SET processed = 0 WHERE id = $rep;"
check "process: one pending report redone" "$(ad process)" "process: 1 reports processed, 0 policy findings filed"
check "process: same attribution again" "$(dbq "$work/desk.db" "SELECT subject || ' ' || status FROM attributions WHERE report_id = $rep")" "$before"

# The queue's filters: by customer, kind, stage, time; sorted; limited; bad values refused.
check "incidents --customer C2002: only that customer's" \
  "$(ad incidents --all --customer C2002 --json | python3 -c "import json,sys; print(sorted(set(json.loads(l)['customer_id'] for l in sys.stdin)))")" "['C2002']"
check "incidents --kind script" \
  "$(ad incidents --all --kind script --json | python3 -c "import json,sys; print(sorted(set(json.loads(l)['subject_kind'] for l in sys.stdin)))")" "['script']"
check "incidents --account" "$(ad incidents --all --account ALICE@customer.example --json | wc -l)" \
  "$(dbq "$work/desk.db" "SELECT COUNT(*) FROM incidents WHERE subject = 'alice@customer.example'")"
check "incidents --limit 1" "$(ad incidents --all --limit 1 --json | wc -l)" 1
check "incidents --sort score: highest first" \
  "$(ad incidents --all --sort score --json | python3 -c "import json,sys; s=[json.loads(l)['score'] for l in sys.stdin]; print(s == sorted(s, reverse=True) and len(s) > 1)")" True
check "incidents --since the future: none" "$(ad incidents --all --since 2999-01-01T00:00:00Z --json | wc -l)" 0
brief=$(ad incident show "$id1" --brief)
check "incident show --brief is short" "$([ "$(wc -l <<<"$brief")" -lt 60 ] && echo yes)" yes
open_ids=$(ad incidents --json | python3 -c "import json,sys; print(' '.join(str(json.loads(l)['id']) for l in sys.stdin))")
ad incident resolve $open_ids 999999 --by tester --reason "bulk" >/dev/null 2>&1
check "bulk resolve: an unknown id fails the command" "$?" 66
check "bulk resolve: the others are done" "$(ad incidents --json | wc -l)" \
  "$(dbq "$work/desk.db" "SELECT COUNT(*) FROM incidents WHERE state NOT IN ('resolved','dismissed','merged','alerted','open')")"
ad incidents --state bogus >/dev/null 2>&1
check "an unknown state is an error" "$?" 64
ad incidents --kind bogus >/dev/null 2>&1
check "an unknown kind is an error" "$?" 64

if [ "$fails" -gt 0 ]; then
  echo "desk: $fails check(s) failed"
  exit 1
fi
echo "desk: all checks passed"

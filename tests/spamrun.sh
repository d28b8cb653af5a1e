#!/usr/bin/env bash
# tests/spamrun.sh: the spam-run rule ([incidents] run_lock_complaints,
# run_window, run_min_clients, run_script_min_providers; [scoring]
# bulk_factor) on real feedback-loop reports of shared/corpus rewritten by
# tests/desk/mkcomplaint.py:
#   1. three authenticated complaints about mails sent from three networks
#      lock the mailbox at the third, not before
#   2. the owner's own mail (three subjects, three providers) from one place:
#      no lock
#   3. a newsletter (List-Unsubscribe) from the owner's place: no lock, an
#      alert, the bulk term in explain; past the lock thresholds of the sums
#      still no lock: the team decides
#   4. spam with list headers written into it, from three networks: locked;
#      the bulk factor halves each complaint's score
#   5. three addresses of one carrier's /16: no lock
#   6. three complaints of one provider, three networks: lock
#   7. webmail: the browsers' addresses our webmail wrote, three networks: lock
#   8. a web script: three complaints of one provider lock it
#   9. the same as 1, unauthenticated (forgeable): no lock
#  10. run_lock_complaints = 0 turns the rule off
#  11. reports hand-written from free mailboxes at gmx.net, web.de and
#      t-online.de, signed by those domains as all their users' mail is
#      (rows without signed_by=): unauthenticated, no lock
#  12. mail sent as quinn that carries a Received header its sender wrote
#      below ours, naming rita as the authenticated sender and one place:
#      quinn's, from the networks our server wrote; rita is not touched
# Each check prints "got X, want Y" on failure.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
corpus="$(bash "$top/tools/shared-dir.sh")/corpus/arf"
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
fails=0
for t in arf-02 arf-22 arf-25; do
  [ -f "$corpus/$t.eml" ] || { echo "FAIL input missing: $corpus/$t.eml"; exit 1; }
done

. "$top/tests/lib/check.sh" # check, has, hasnt

mkconf() { # file run_lock_complaints
  cat > "$1" <<EOF
[store]
path = $work/desk.db
[intake]
authserv_id = mx.hoster.example
spool_dir = $work/spool
quarantine_dir = $work/quarantine
[log]
level = warning
[notify]
templates_dir = $top/etc/templates
[network]
our_hosts = *.hoster.example
our_ips = 198.51.100.0/24
[incidents]
run_lock_complaints = $2
[providers]
yahoo.com = 1.0 manual
hotmail.com = 1.0 manual signed_by=hotmail.com
senderscore.net = 0.8
gmx.net = 1.0
web.de = 1.0
t-online.de = 1.0
EOF
}
mkconf "$work/desk.conf" 3
mkconf "$work/off.conf" 0
. "$top/tests/lib/services.sh"
ad() { ad_services "$bin" "$work/desk.conf" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }

{
  echo "customer_id,customer_name,contact_email,language,account,domain,uid"
  for u in dave erin frank grace heidi ivan judy kim olga paul quinn rita; do
    echo "C-$u,Customer $u,owner-$u@contact.example,en,$u@customer.example,,"
  done
  echo "C-web,Webshop,owner-web@contact.example,en,,,10077"
} > "$work/dir.csv"
ad directory import "$work/dir.csv" >/dev/null || { echo "FAIL directory import"; exit 1; }

ago() { date -R -d "@$(($(date +%s) - $1 * 60))"; }
n=0
# complain ACCOUNT TEMPLATE SUBJECT SENT_MINUTES_AGO [auth|noauth] [HEADER...]
# The client is $CLIENT when set, else one in another /16 each time; with
# WEBMAIL=1 the mail went through our webmail, which names the browser.
complain() {
  local acct=$1 tpl=$2 subj=$3 mins=$4 auth=${5:-auth}
  shift 5 2>/dev/null || shift $#
  local extra=()
  for h in "$@"; do extra+=(--header "$h"); done
  local mx=(--mx-auth auto)
  [ "$auth" = auth ] || mx=()
  n=$((n + 1))
  local t ip hops
  t=$(ago "$mins")
  ip=${CLIENT:-$((n % 200 + 1)).0.113.7}
  if [ "${WEBMAIL:-0}" = 1 ]; then
    hops=(--received "from webmail.hoster.example (webmail.hoster.example [198.51.100.5]) (Authenticated sender: $acct) by smtp.hoster.example (Postfix) with ESMTPSA id S$n; $t"
          --received "from [$ip] by webmail.hoster.example with HTTP (HTTP/1.1 POST); $t")
  else
    hops=(--received "from [$ip] (client.example.test [$ip]) (Authenticated sender: $acct) by smtp.hoster.example (Postfix) with ESMTPSA id S$n; $t")
  fi
  python3 "$top/tests/desk/mkcomplaint.py" "$corpus/$tpl.eml" "${mx[@]}" \
    --arrival "$t" --date "$t" --source-ip 198.51.100.25 --from "$acct" \
    --msgid "run$n.$RANDOM@customer.example" --subject "$subj" "${extra[@]}" \
    --received "from mx2.out.hoster.example (mx2.out.hoster.example [198.51.100.25]) by mx.recipient.test with ESMTPS id R$n; $t" \
    "${hops[@]}" \
    | ad ingest -q --source test || { echo "FAIL ingest $acct $n"; fails=$((fails + 1)); }
  ad process >/dev/null || { echo "FAIL process $acct $n"; fails=$((fails + 1)); }
}
locked() { ad locks --account "$1" --json | grep -c '"subject"'; } # JSON lines, one per lock
stage() {
  ad incidents --all --account "$1" --json | python3 -c "
import json,sys
rows=[json.loads(l) for l in sys.stdin if l.strip()]
print(rows[0]['stage'] if rows else 'none')"
}
lockwhy() {
  local id
  id=$(ad incidents --all --account "$1" --json | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['id'])")
  ad incident show --json "$id" | python3 -c "
import json,sys
d=json.load(sys.stdin)
print(' | '.join(a['detail'] for a in d['audit'] if a['action'] in ('opened','escalated','lock-stage')))"
}

# 1. Three networks: the third complaint locks.
complain dave@customer.example arf-02 "Cheap pills" 40 auth
complain dave@customer.example arf-22 "Your parcel is waiting" 30 auth
check "1 run: two complaints do not lock" "$(locked dave@customer.example)" 0
complain dave@customer.example arf-02 "Invoice overdue" 20 auth
check "1 run: the third locks" "$(locked dave@customer.example)" 1
check "1 run: stage" "$(stage dave@customer.example)" lock
check "1 run: the audit says why" "$(lockwhy dave@customer.example | grep -c 'spam run: 3 authenticated complaints in 3d about mails sent from 3 networks')" 1

# 2. The owner's own mail from one place: three subjects, three providers.
export CLIENT=192.0.2.10
complain erin@customer.example arf-02 "Mahnung 1" 50 auth
complain erin@customer.example arf-25 "Angebot 2" 25 auth
complain erin@customer.example arf-22 "Rechnung 3" 0 auth
check "2 one place: not locked" "$(locked erin@customer.example)" 0
unset CLIENT

# 3. A newsletter: List-Unsubscribe, from the owner's place.
lu='List-Unsubscribe: <https://news.customer.example/u?id=1>, <mailto:unsub@customer.example>'
export CLIENT=192.0.2.20
complain frank@customer.example arf-02 "Autumn offers" 50 auth "$lu"
complain frank@customer.example arf-25 "Autumn offers" 25 auth "$lu"
complain frank@customer.example arf-22 "Autumn offers" 0 auth "$lu"
check "3 newsletter: not locked" "$(locked frank@customer.example)" 0
check "3 newsletter: the team is alerted (3 complaints in 1h)" "$(stage frank@customer.example)" alert
rep=$(ad reports --account frank@customer.example --limit 1 --json | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['id'])")
check "3 newsletter: explain shows the bulk term" "$(ad explain "$rep" | grep -c 'bulk_factor')" 1
# ... and one that draws complaints past the lock thresholds (10 in 1h):
# the team decides, no lock.
for i in 4 5 6 7 8 9 10 11; do
  complain frank@customer.example arf-02 "Autumn offers" 0 auth "$lu"
done
check "3 newsletter past the lock thresholds: not locked" "$(locked frank@customer.example)" 0
check "3 newsletter past the lock thresholds: stays at alert, the team decides" "$(stage frank@customer.example)" alert
frank_audit() {
  local id
  id=$(ad incidents --all --account frank@customer.example --json | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['id'])")
  ad incident show --json "$id" | python3 -c "
import json,sys
print('\n'.join(a['detail'] for a in json.load(sys.stdin)['audit'] if a['action'] == 'lock-held'))"
}
check "3 newsletter: the audit says so once" "$(frank_audit | grep -c 'marked as sent to a list, from the customer.s own places: a newsletter, the team decides')" 1
unset CLIENT

# 4. Spam with list headers written into it, from three networks: locked.
li='List-Id: Grace news <news.customer.example>'
complain grace@customer.example arf-02 "News 1" 40 auth "$li"
complain grace@customer.example arf-22 "News 2" 30 auth "$li"
complain grace@customer.example arf-25 "News 3" 20 auth "$li"
check "4 list headers from three networks: locked" "$(locked grace@customer.example)" 1
ex=$(ad explain --json "$(ad reports --account grace@customer.example --limit 1 --json | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['id'])")")
check "4 list-id: the bulk factor is a term of the score" "$(echo "$ex" | python3 -c "
import json,sys
t=[x for x in json.load(sys.stdin)['score']['terms'] if x['name']=='bulk']
print(t[0]['value'] if t else 'none')")" 0.5

# 5. A phone on a carrier's pool: three addresses of one /16.
tpl=(arf-02 arf-22 arf-25)
for c in 1 2 3; do
  CLIENT=198.18.$c.9 complain heidi@customer.example "${tpl[$((c - 1))]}" "Hello $c" $((40 - c)) auth
done
check "5 one carrier's /16: not locked" "$(locked heidi@customer.example)" 0

# 6. One provider only, three networks.
complain ivan@customer.example arf-02 "A" 40 auth
complain ivan@customer.example arf-02 "A" 30 auth
check "6 one provider: two do not lock" "$(locked ivan@customer.example)" 0
complain ivan@customer.example arf-02 "A" 20 auth
check "6 one provider, three networks: locked" "$(locked ivan@customer.example)" 1

# 7. Webmail: the browsers' addresses behind our webmail host.
for c in 1 2 3; do
  WEBMAIL=1 CLIENT=203.$((c * 7)).0.$c complain olga@customer.example arf-02 "Verify your account" 20 auth
done
check "7 webmail from three networks: locked" "$(locked olga@customer.example)" 1
check "7 the audit names the networks" "$(lockwhy olga@customer.example | grep -c 'about mails sent from 3 networks')" 1

# 8. A web script: one provider, one subject (what its form writes), at once.
for i in 1 2 3; do
  t=$(ago 20)
  python3 "$top/tests/desk/mkcomplaint.py" "$corpus/arf-02.eml" --mx-auth auto --arrival "$t" \
    --date "$t" --source-ip 198.51.100.40 --from "www-data@web3.hoster.example" \
    --subject "Message from the contact form" --msgid "form$i.$RANDOM@web3.hoster.example" \
    --received "from web3.hoster.example (web3.hoster.example [198.51.100.40]) by mx.recipient.test with ESMTP id W$i; $t" \
    --received "by web3.hoster.example (Postfix, from userid 10077) id X$i; $t" \
    --header "X-PHP-Originating-Script: 10077:contact.php" | ad ingest -q --source test \
    || { echo "FAIL ingest script $i"; fails=$((fails + 1)); }
  ad process >/dev/null
  [ "$i" = 2 ] && check "8 script: two complaints do not lock" "$(ad locks --json | grep -c '10077:')" 0
done
check "8 script: the third locks it" "$(ad locks --json | grep -c '10077:')" 1

# 9. Unauthenticated complaints (anyone can write them).
complain judy@customer.example arf-02 "A" 40 noauth
complain judy@customer.example arf-22 "B" 30 noauth
complain judy@customer.example arf-25 "C" 20 noauth
check "9 unauthenticated: not locked" "$(locked judy@customer.example)" 0

# 10. The rule switched off.
ad() { ad_services "$bin" "$work/off.conf" "$@"; }
complain kim@customer.example arf-02 "A" 40 auth
complain kim@customer.example arf-22 "B" 30 auth
complain kim@customer.example arf-25 "C" 20 auth
check "10 run_lock_complaints = 0: not locked" "$(locked kim@customer.example)" 0

# 11. Free mailboxes "prove" nothing (the --mx-auth domain is the signer).
ad() { ad_services "$bin" "$work/desk.conf" "$@"; }
for d in gmx.net web.de t-online.de; do
  t=$(ago 20)
  n=$((n + 1))
  python3 "$top/tests/desk/mkcomplaint.py" "$corpus/arf-02.eml" --mx-auth "$d" \
    --report-from "angry.neighbour@$d" --arrival "$t" --date "$t" --source-ip 198.51.100.25 \
    --from paul@customer.example --subject "Forged $d" --msgid "free$n@customer.example" \
    --received "from mx2.out.hoster.example (mx2.out.hoster.example [198.51.100.25]) by mx.recipient.test with ESMTPS id R$n; $t" \
    --received "from [198.18.$n.1] (client.example.test [198.18.$n.1]) (Authenticated sender: paul@customer.example) by smtp.hoster.example (Postfix) with ESMTPSA id S$n; $t" \
    | ad ingest -q --source test || { echo "FAIL ingest free $d"; fails=$((fails + 1)); }
  ad process >/dev/null
done
check "11 free mailboxes: not locked" "$(locked paul@customer.example)" 0
rep=$(ad reports --account paul@customer.example --limit 1 --json | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['id'])")
has "11 free mailboxes: scored as unauthenticated" "$(ad explain "$rep")" "unauthenticated_factor"

# 12. A forged hop below ours frames nobody and hides no network.
for c in 1 2 3; do
  t=$(ago 20)
  n=$((n + 1))
  python3 "$top/tests/desk/mkcomplaint.py" "$corpus/${tpl[$((c - 1))]}.eml" --mx-auth auto \
    --arrival "$t" --date "$t" --source-ip 198.51.100.25 --from quinn@customer.example \
    --subject "Forged hop $c" --msgid "hop$n@customer.example" \
    --received "from mx2.out.hoster.example (mx2.out.hoster.example [198.51.100.25]) by mx.recipient.test with ESMTPS id R$n; $t" \
    --received "from [$((c * 50)).1.2.3] (x.example.test [$((c * 50)).1.2.3]) (Authenticated sender: quinn@customer.example) by smtp.hoster.example (Postfix) with ESMTPSA id S$n; $t" \
    --received "from [192.0.2.44] (office.example.test [192.0.2.44]) (Authenticated sender: rita@customer.example) by smtp.hoster.example (Postfix) with ESMTPSA id F$n; $t" \
    | ad ingest -q --source test || { echo "FAIL ingest hop $c"; fails=$((fails + 1)); }
  ad process >/dev/null
done
check "12 forged hop: rita has no incident" "$(ad incidents --all --account rita@customer.example --json | grep -c '"id"')" 0
check "12 forged hop: quinn, from three networks, is locked" "$(locked quinn@customer.example)" 1

echo "spamrun: $fails check(s) failed"
[ "$fails" = 0 ]

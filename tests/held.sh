#!/usr/bin/env bash
# tests/held.sh: mail a private Postfix holds for an account (the policy
# server answers HOLD above the soft limit) is released when the account's
# incident ends (unlock), deleted with --delete-held (dismiss), and, when
# postsuper cannot run, the request waits for `abusedesk held run`.
# `abusedesk held list|release|delete ACCOUNT` work on one account by hand,
# selecting queue ids by envelope sender in postqueue -j. Runs as root (a
# private Postfix and postsuper need it). Each check prints "got X, want Y".
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
. "$top/tests/lib/smtp_sink.sh"
. "$top/tests/lib/postfix.sh"
. "$top/tests/lib/sql.sh"
. "$top/tests/lib/check.sh"  # check, has, lacks, check_done
work=$(mktemp -d)
chmod 755 "$work" # Postfix's own user walks into it
spid=
cleanup() {
  [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
  postfix_stop >/dev/null 2>&1
  smtp_sink_stop
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "FAIL held.sh needs root (a private Postfix, postsuper)"; exit 1; }
for tool in swaks postfix postqueue postsuper; do
  command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || { echo "FAIL $tool missing (make deps)"; exit 1; }
done
id nobody >/dev/null 2>&1 || { echo "FAIL no user nobody for the policy server"; exit 1; }
smtp_sink_start "$work/sink" || { echo "FAIL smtp-sink"; exit 1; }
pport=$(smtp_sink_free_port)
mkdir -p "$work/db"
conf() { # postsuper
  cat > "$work/h.conf" <<CONF
[store]
path = $work/db/h.db
[intake]
spool_dir = $work/db/spool
quarantine_dir = $work/db/quarantine
[log]
level = info
[network]
our_hosts = *.hoster.example
our_ips = 198.51.100.0/24
[policy]
listen = inet:127.0.0.1:$pport
user = nobody
msgs_per_hour = 1
rcpts_per_hour = 1
hard_factor = 50
soft_action = HOLD
state_file = $work/db/policy.state
[notify]
templates_dir = $top/etc/templates
smarthost = smtp://127.0.0.1:$SMTP_SINK_PORT
from = abuse@hoster.example
abuse_team = team@hoster.example
[held]
enabled = true
postsuper = $1
config_directory = $work/postfix/etc
CONF
}
conf /usr/sbin/postsuper
ad() { "$bin" -c "$work/h.conf" "$@"; }
q() { dbq "$work/db/h.db" "$@"; }
ad init >/dev/null 2>&1 || { echo "FAIL init"; exit 1; }
printf '%s\n' 'customer_id,customer_name,contact_email,language,account,domain' \
  'C1,One,owner@one-private.example,en,alice@customer.example,customer.example' \
  'C2,Two,owner@two-private.example,en,bob@beta.example,beta.example' \
  'C3,Three,owner@three-private.example,en,carol@gamma.example,gamma.example' > "$work/dir.csv"
ad directory import "$work/dir.csv" >/dev/null || { echo "FAIL directory import"; exit 1; }
chown -R nobody "$work/db"

"$bin" -c "$work/h.conf" serve 2>"$work/serve.log" &
spid=$!
for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$pport") 2>/dev/null && break; sleep 0.05; done
postfix_start "$work/postfix" "inet:127.0.0.1:$pport" "$SMTP_SINK_PORT" \
  "mynetworks = 127.0.0.0/8 203.0.113.0/24" >/dev/null || { echo "FAIL postfix"; postfix_log | tail -20; exit 1; }

send() { # account n
  swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --xclient "LOGIN=$1 ADDR=203.0.113.9" --from "$1" \
    --to "friend$2@example.org" --h-Subject "msg $2" --body "hello $2" --timeout 20 >"$work/swaks.out" 2>&1
}
delivered() { grep -l "^X-Rcpt-Args: <friend$1@example.org>" "$work"/sink/msg.* 2>/dev/null | wc -l; }
held_of() { # account: held queue ids whose sender is it
  postqueue -c "$work/postfix/etc" -j | python3 -c "import json,sys; [print(m['queue_id']) for m in map(json.loads, sys.stdin) if m['queue_name']=='hold' and m['sender'].lower()=='$1']"
}
# Each account: mail 1 under the limit (delivered), mails 2 and 3 held.
for a in alice@customer.example bob@beta.example carol@gamma.example; do
  base=$(( $(printf '%s' "$a" | cksum | cut -d' ' -f1) % 1000 * 10 ))
  for n in 1 2 3; do send "$a" $((base + n)) || check "$a mail $n accepted" "$?" 0; done
done
check "alice: two messages held" "$(held_of alice@customer.example | wc -l)" 2
check "bob: two messages held" "$(held_of bob@beta.example | wc -l)" 2
check "carol: two messages held" "$(held_of carol@gamma.example | wc -l)" 2

out=$(ad held list ALICE@customer.example)
has "held list: alice's two, any case" "$out" "2 held messages of ALICE@customer.example"
check "held list: one line per message" "$(grep -c ' bytes ' <<<"$out")" 2

# 1. alice: locked by hand, unlocked (forced): the release runs at once.
ad account lock alice@customer.example --reason "test" >/dev/null 2>&1 || check "lock alice" "$?" 0
ia=$(q "SELECT id FROM incidents WHERE account = 'alice@customer.example' OR subject = 'alice@customer.example' ORDER BY id DESC LIMIT 1")
out=$(ad incident unlock "$ia" --force --reason "cleaned" --by tester 2>&1); rc=$?
check "unlock alice: exit 0" "$rc" 0
has "unlock alice: says the held mail went" "$out" "held mail: 2 messages released or deleted"
check "alice: nothing held any more" "$(held_of alice@customer.example | wc -l)" 0
check "alice: request done" "$(q "SELECT action || ' ' || n_messages FROM held_actions WHERE incident_id = $ia AND done_at IS NOT NULL")" "release 2"
has "alice: audit says so" "$(q "SELECT detail FROM audit WHERE incident_id = $ia AND action = 'held-mail'")" "held mail to be released"
postqueue -c "$work/postfix/etc" -f
base=$(( $(printf '%s' alice@customer.example | cksum | cut -d' ' -f1) % 1000 * 10 ))
for i in $(seq 1 200); do [ "$(delivered $((base + 2)))$(delivered $((base + 3)))" = 11 ] && break; sleep 0.1; done
check "alice: released mail delivered" "$(delivered $((base + 2)))$(delivered $((base + 3)))" 11

# 2. bob: dismissed with --delete-held: deleted, never delivered.
ad account lock bob@beta.example --reason "test" >/dev/null 2>&1 || check "lock bob" "$?" 0
ib=$(q "SELECT id FROM incidents WHERE account = 'bob@beta.example' OR subject = 'bob@beta.example' ORDER BY id DESC LIMIT 1")
out=$(ad incident dismiss "$ib" --reason "spam run" --delete-held --by tester 2>&1); rc=$?
check "dismiss bob --delete-held: exit 0" "$rc" 0
check "bob: nothing held any more" "$(held_of bob@beta.example | wc -l)" 0
check "bob: request done as a deletion" "$(q "SELECT action || ' ' || n_messages FROM held_actions WHERE incident_id = $ib AND done_at IS NOT NULL")" "delete 2"
postqueue -c "$work/postfix/etc" -f; sleep 1
base=$(( $(printf '%s' bob@beta.example | cksum | cut -d' ' -f1) % 1000 * 10 ))
check "bob: deleted mail never delivered" "$(delivered $((base + 2)))$(delivered $((base + 3)))" 00
check "bob: nothing of his in any queue" "$(postqueue -c "$work/postfix/etc" -j | grep -c 'bob@beta.example')" 0

# 3. carol: postsuper cannot run (as for a desk that is not root): the
# request waits; abusedesk held run carries it out later.
conf /bin/false
ad account lock carol@gamma.example --reason "test" >/dev/null 2>&1 || check "lock carol" "$?" 0
ic=$(q "SELECT id FROM incidents WHERE account = 'carol@gamma.example' OR subject = 'carol@gamma.example' ORDER BY id DESC LIMIT 1")
out=$(ad incident unlock "$ic" --force --reason "cleaned" --by tester 2>&1); rc=$?
check "unlock carol: the unlock itself succeeds" "$rc" 0
has "unlock carol: says the release waits" "$out" "left pending: abusedesk held run, as root"
check "carol: still held" "$(held_of carol@gamma.example | wc -l)" 2
check "carol: request pending" "$(q "SELECT COUNT(*) FROM held_actions WHERE incident_id = $ic AND done_at IS NULL")" 1
out=$(ad held run 2>&1); rc=$?
check "held run with a failing postsuper: 75" "$rc" 75
conf /usr/sbin/postsuper
out=$(ad held run 2>&1); rc=$?
check "held run: exit 0" "$rc" 0
has "held run: one request, two messages" "$out" "held run: 1 request done, 2 messages released or deleted"
check "carol: released" "$(held_of carol@gamma.example | wc -l)" 0

# 4. By hand: held release/delete ACCOUNT, for mail held after the unlock
# (the unlock reset carol's counters: the first mail goes through again).
sleep 1.2 # the policy server sees the unlock (and resets the counters) within 1 s, even when it never saw the lock
for n in 4 5 6; do send carol@gamma.example $((90000 + n)); done
check "carol: new mail held again" "$(held_of carol@gamma.example | wc -l)" 2
out=$(ad held delete carol@gamma.example); rc=$?
check "held delete: exit 0" "$rc" 0
has "held delete: count" "$out" "deleted 2 held messages of carol@gamma.example"
check "carol: none held" "$(held_of carol@gamma.example | wc -l)" 0
out=$(ad held release nobody@nowhere.example); rc=$?
check "held release of an account without held mail: exit 0" "$rc" 0
has "held release: zero" "$out" "released 0 held messages"
ad held frobnicate x >/dev/null 2>&1; check "held with an unknown subcommand: usage" "$?" 64
ad held list >/dev/null 2>&1; check "held list without ACCOUNT: usage" "$?" 64

check_done "held mail"

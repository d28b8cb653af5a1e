#!/usr/bin/env bash
# tests/policy.sh: the policy server end to end with real Postfix (a private
# instance on 127.0.0.1, tests/lib/postfix.sh) and swaks: mail submitted as an
# authenticated user (XCLIENT LOGIN=) under the limit is delivered (to
# smtp-sink); past the soft limit it is held; past the hard limit the account is
# locked at once (a lock row and a finding the policy server queues; the desk
# worker, `abusedesk process`, files it into the account's incident and the
# delivery worker sends the notice) and its next mail rejected with the ticket; an
# unlock lets mail flow again; a lock made with the CLI while the daemon runs
# takes effect on the next request. Then the protocol itself over a socket:
# malformed and oversized requests, many requests on one connection, the UNIX
# socket, a SIGHUP reload that keeps the connection, and the privilege drop.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
. "$top/tests/lib/smtp_sink.sh"
. "$top/tests/lib/postfix.sh"
. "$top/tests/lib/sql.sh"
work=$(mktemp -d)
chmod 755 "$work" # Postfix's own user walks into it
fails=0
spid=
cleanup() {
  [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
  postfix_stop >/dev/null 2>&1
  smtp_sink_stop
  rm -rf "$work"
}
trap cleanup EXIT
. "$top/tests/lib/check.sh" # check, has, hasnt

for tool in swaks postfix; do
  command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || { echo "FAIL $tool missing (make deps)"; exit 1; }
done
smtp_sink_start "$work/sink" || { echo "FAIL smtp-sink"; exit 1; }
pport=$(smtp_sink_free_port)
mkdir -p "$work/db"
# As root the daemon drops to nobody after binding (and that is checked).
user=
[ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && user=nobody
cat > "$work/desk.conf" <<EOF
[store]
path = $work/db/desk.db
[intake]
spool_dir = $work/db/spool
quarantine_dir = $work/db/quarantine
authserv_id = mx.hoster.example
verify_dkim = false
[network]
our_hosts = *.hoster.example
our_ips = 198.51.100.0/24
[providers]
yahoo.com = 1.0 manual
[log]
level = info
[policy]
listen = inet:127.0.0.1:$pport;unix:$work/db/policy.sock
user = $user
msgs_per_hour = 3
rcpts_per_hour = 3
rcpts_per_day = 100
hard_factor = 2
soft_action = HOLD
state_file = $work/db/policy.state
[notify]
templates_dir = $top/etc/templates
smarthost = smtp://127.0.0.1:$SMTP_SINK_PORT
from = abuse@hoster.example
[limits:carol@customer.example]
msgs_per_hour = 1000
rcpts_per_hour = 1000
[limits:C2002]
msgs_per_hour = 1000
rcpts_per_hour = 1000
EOF
. "$top/tests/lib/services.sh"
ad() { ad_services "$bin" "$work/desk.conf" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }
printf 'customer_id,customer_name,contact_email,language,account,domain\nC1001,Baeckerei,inhaber@mueller-privat.example,de,alice@customer.example,customer.example\nC1001,Baeckerei,inhaber@mueller-privat.example,de,bob@customer.example,\nC2002,Erin Shop,erin@erin.example,en,erin@erin.example,erin.example\n' > "$work/dir.csv"
ad directory import "$work/dir.csv" >/dev/null
[ -n "$user" ] && chown -R "$user" "$work/db"

"$bin" -c "$work/desk.conf" serve 2>"$work/serve.log" &
spid=$!
for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$pport") 2>/dev/null && break; sleep 0.05; done
check "serve: listening" "$( (exec 3<>"/dev/tcp/127.0.0.1/$pport") 2>/dev/null && echo yes)" yes
if [ -n "$user" ]; then
  check "serve: runs as $user after binding" "$(ps -o user= -p "$spid" | tr -d ' ')" "$user"
fi
# The test clients pose (XCLIENT ADDR) as customers' machines in 203.0.113.0/24.
postfix_start "$work/postfix" "inet:127.0.0.1:$pport" "$SMTP_SINK_PORT" \
  "mynetworks = 127.0.0.0/8 203.0.113.0/24" >/dev/null || { echo "FAIL postfix"; postfix_log | tail -20; exit 1; }

send() { # account n -> swaks exit status; output in $work/swaks.out
  # each user from its own client address (XCLIENT ADDR), as on a real submission port
  local addr
  addr="203.0.113.$(( $(printf '%s' "$1" | cksum | cut -d' ' -f1) % 200 + 1 ))"
  swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --xclient "LOGIN=$1 ADDR=$addr" --from "$1" \
    --to "friend$2@example.org" --h-Subject "msg $2" --body "hello $2" --timeout 20 >"$work/swaks.out" 2>&1
}
delivered() { grep -l "^X-Rcpt-Args: <friend$1@example.org>" "$work"/sink/msg.* 2>/dev/null | wc -l; }
wait_delivered() { for i in $(seq 1 100); do [ "$(delivered "$1")" -ge 1 ] && break; sleep 0.1; done; delivered "$1"; }

# One authenticated complaint about alice first: an open incident at observe.
corpus="$(bash "$top/tools/shared-dir.sh")/corpus/arf"
python3 "$top/tests/desk/mkcomplaint.py" --mx-auth auto "$corpus/arf-02.eml" --arrival now-5m \
  --date now-6m --source-ip 198.51.100.25 --from alice@customer.example --subject "Cheap pills" \
  --received "from out1.hoster.example (out1.hoster.example [198.51.100.25]) by mx.recipient.test with ESMTPS id R1; $(date -R)" \
  --received "from [203.0.113.7] (dsl.example.test [203.0.113.7]) (Authenticated sender: alice@customer.example) by smtp.hoster.example (Postfix) with ESMTPSA id S1; $(date -R)" \
  | ad ingest -q --source test
complaint_inc=$(dbq "$work/db/desk.db" "SELECT id FROM incidents WHERE subject='alice@customer.example'")
check "a complaint opened an incident for alice" "$([ -n "$complaint_inc" ] && echo yes)" yes

# Under the limit: delivered.
for n in 1 2 3; do send alice@customer.example $n; check "alice mail $n: accepted" "$?" 0; done
check "alice mail 3: delivered" "$(wait_delivered 3)" 1
# Past the soft limit: held by Postfix.
send alice@customer.example 4; check "alice mail 4: accepted (into hold)" "$?" 0
held=$(postfix_queue_ids | wc -l)
check "alice mail 4: in the hold queue" "$([ "$held" -ge 1 ] && echo yes)" yes
has_re "alice mail 4: the policy server said HOLD" "$(cat "$work/serve.log")" "soft limit for alice@customer.example"
send alice@customer.example 5; send alice@customer.example 6
# Past the hard limit (2 x 3): locked and rejected.
send alice@customer.example 7; rc=$?
check "alice mail 7: rejected" "$rc" 24
# alice's customer reads German: the REJECT text her mail program shows is German
has_re "alice mail 7: 5xx with the German lock text" "$(cat "$work/swaks.out")" "<\*\* 554.*ist wegen Spamversand gesperrt"
sleep 0.6 # the writer records the lock row and the finding
check "hard limit: the policy server wrote the lock row at once" "$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM locks WHERE subject='alice@customer.example' AND unlocked_at IS NULL")" 1
check "hard limit: a finding queued for the desk worker" "$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM policy_events WHERE account='alice@customer.example' AND stage='lock' AND processed_at IS NULL")" 1
has_re "hard limit: no ticket before the desk worker filed it" "$(cat "$work/swaks.out")" "siehe unsere Nachricht"
# The desk worker files it into alice's incident (which queues the notice);
# the delivery worker sends it. The policy server itself renders and sends nothing.
"$bin" -c "$work/desk.conf" process >/dev/null 2>&1
"$bin" -c "$work/desk.conf" outbox --flush >/dev/null 2>&1
sleep 0.5 # the lock reload sees its ticket
inc=$(dbq "$work/db/desk.db" "SELECT incident_id FROM locks WHERE subject='alice@customer.example' AND unlocked_at IS NULL")
check "hard limit: a lock row with an incident" "$([ -n "$inc" ] && echo yes)" yes
check "hard limit: incident about outbound volume" "$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM audit WHERE incident_id=$inc AND detail LIKE '%outbound volume%'")" 2
check "one incident per sender: the lock joined the complaint incident" "$inc" "$complaint_inc"
check "one incident per sender: alice has one incident" "$(dbq "$work/db/desk.db" "SELECT COUNT(*) FROM incidents WHERE subject='alice@customer.example'")" 1
check "one incident: both causes in its audit" "$(dbq "$work/db/desk.db" "SELECT COUNT(DISTINCT action) FROM audit WHERE incident_id=$inc AND action IN ('opened', 'complaint', 'policy')")" 2
send alice@customer.example 8
has_re "alice mail 8: rejected with the ticket" "$(cat "$work/swaks.out")" "\[abusedesk #$inc\]"
for i in $(seq 1 50); do [ -n "$(grep -l '^X-Rcpt-Args: <inhaber@mueller-privat.example>' "$work"/sink/msg.* 2>/dev/null)" ] && break; sleep 0.2; done
check "hard limit: the customer was notified (desk worker, delivery worker)" "$(grep -l '^X-Rcpt-Args: <inhaber@mueller-privat.example>' "$work"/sink/msg.* 2>/dev/null | wc -l)" 1

# Unlock: mail flows again (the counters of the spam run are reset).
ad account password-changed alice@customer.example >/dev/null
ad incident unlock "$inc" --by tester --reason "cleaned" >/dev/null 2>&1
check "unlock: resolved" "$(dbq "$work/db/desk.db" "SELECT state FROM incidents WHERE id=$inc")" resolved
sleep 0.5
send alice@customer.example 9; check "after unlock: accepted" "$?" 0
check "after unlock: delivered, not held" "$(wait_delivered 9)" 1

# A lock made with the CLI while the daemon runs applies to the next request.
send bob@customer.example 20; check "bob before the lock: accepted" "$?" 0
ad account lock bob@customer.example --reason "phished, says the customer" --by tester >/dev/null
t0=$(date +%s%N)
for i in $(seq 1 20); do
  send bob@customer.example 21 && { sleep 0.1; continue; }
  break
done
t1=$(date +%s%N)
has_re "CLI lock: next mail rejected" "$(cat "$work/swaks.out")" "<\*\* 554.*bob@customer.example ist wegen Spamversand gesperrt"
check "CLI lock: effective within 1 s" "$([ $(( (t1 - t0) / 1000000 )) -lt 1000 ] && echo yes)" yes
# An override in [limits:NAME]: carol may send more.
for n in 30 31 32 33 34; do send carol@customer.example $n; done
check "limits override: carol's 5th mail delivered" "$(wait_delivered 34)" 1
for n in 40 41 42 43 44; do send erin@erin.example $n; done
check "customer limits: erin (of C2002) 5th mail delivered" "$(wait_delivered 44)" 1
# erin's customer reads English: so does her REJECT text
ad account lock erin@erin.example --reason "test" --by tester >/dev/null
for i in $(seq 1 20); do
  send erin@erin.example $((45 + i)) && { sleep 0.1; continue; }
  break
done
has_re "English customer: English lock text" "$(cat "$work/swaks.out")" "<\*\* 554.*erin@erin.example is locked because spam was sent"

# The protocol itself.
proto=$(python3 - "$pport" "$work/db/policy.sock" "$spid" <<'EOF'
import os, signal, socket, sys, time
port, path, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def rd(f):
    out = []
    while True:
        l = f.readline()
        if l in (b"\n", b""): return b"".join(out).decode()
        out.append(l)
req = b"request=smtpd_access_policy\nprotocol_state=RCPT\nsasl_username=dave@customer.example\ninstance=%d\nrecipient=x@example.org\nclient_address=192.0.2.%d\n\n"
s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rwb")
f.write(b"this is not a policy request\n\n"); f.flush(); print("malformed:", rd(f).strip())
f.write(req % (1, 1)); f.flush(); print("same connection after it:", rd(f).strip())
f.write(b"request=smtpd_access_policy\r\nprotocol_state=DATA\r\nsasl_username=dave@customer.example\r\n\r\n"); f.flush(); print("crlf:", rd(f).strip())
os.kill(pid, signal.SIGHUP); time.sleep(0.3)
f.write(req % (2, 2)); f.flush(); print("after SIGHUP same connection:", rd(f).strip())
u = socket.socket(socket.AF_UNIX); u.connect(path); g = u.makefile("rwb")
g.write(req % (3, 3)); g.flush(); print("unix socket:", rd(g).strip())
b = socket.create_connection(("127.0.0.1", port)); h = b.makefile("rwb")
h.write(b"x=" + b"y" * 70000); h.flush()
print("oversized:", rd(h).strip())
f.write(req % (4, 4)); f.flush(); print("others unaffected:", rd(f).strip())
EOF
)
has_re "protocol: malformed gets a WARN" "$proto" "malformed: action=WARN malformed policy request"
has_re "protocol: connection usable after it" "$proto" "same connection after it: action=DUNNO"
has_re "protocol: CRLF requests" "$proto" "crlf: action=DUNNO"
has_re "protocol: SIGHUP keeps the connection" "$proto" "after SIGHUP same connection: action=DUNNO"
has_re "protocol: UNIX socket" "$proto" "unix socket: action=DUNNO"
has_re "protocol: oversized request refused" "$proto" "oversized: action=WARN malformed policy request (too long)"
has_re "protocol: others unaffected" "$proto" "others unaffected: action=HOLD"
has_re "serve log: reload" "$(cat "$work/serve.log")" "configuration reloaded"

# Counters survive a restart (state_file).
kill "$spid"; wait "$spid" 2>/dev/null; spid=
check "stop: counters written" "$([ -s "$work/db/policy.state" ] && echo yes)" yes
"$bin" -c "$work/desk.conf" serve 2>>"$work/serve.log" &
spid=$!
for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$pport") 2>/dev/null && break; sleep 0.05; done
has_re "restart: counters restored" "$(cat "$work/serve.log")" "counters restored"
send carol@customer.example 35; check "restart: mail flows" "$?" 0

if [ "$fails" -gt 0 ]; then
  echo "--- serve log"; tail -30 "$work/serve.log"
  echo "policy: $fails check(s) failed"; exit 1
fi
echo "policy: all checks passed"

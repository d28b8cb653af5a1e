#!/usr/bin/env bash
# tests/pg/restart.sh: PostgreSQL restarted under running services. `abusedesk
# run` (desk worker, delivery worker, policy server) works on a private cluster
# of its own (restarting the suite's shared cluster would hurt other tests);
# the cluster is restarted twice, once cleanly (`pg_ctl restart -m fast`, every
# session terminated) and once crashed (`-m immediate`) while the desk worker
# files a batch. Pipe deliveries made while the database is down exit 75 and
# are retried, as Postfix retries them. Asserted afterwards: every service
# reconnected by itself (same processes), every report stored and filed exactly
# once, one incident per account, every notice delivered once, and a lock made
# with the CLI after the restarts is enforced by the policy server within 1 s
# (its LISTEN was renewed on reconnect).
set -uo pipefail
src=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${AD_BINARY:-$src/build/abusedesk}
. "$src/tests/lib/pg.sh"
. "$src/tests/lib/smtp_sink.sh"
work=$(mktemp -d)
chmod 755 "$work"
pass=0
fail=0
run_pid=
cleanup() {
  [ -n "$run_pid" ] && kill -TERM "$run_pid" 2>/dev/null && wait "$run_pid" 2>/dev/null
  smtp_sink_stop 2>/dev/null
  pg_cluster_stop "$work/pgstate" >/dev/null 2>&1
  [ -n "${KEEP:-}" ] && { echo "kept $work"; return; }; rm -rf "$work"
}
trap cleanup EXIT
check() { # label got want
  if [ "$2" = "$3" ]; then pass=$((pass + 1)); echo "ok   $1"
  else fail=$((fail + 1)); echo "FAIL $1: got '$2', want '$3'"; fi
}
yes_if() { # label condition
  if eval "$2"; then pass=$((pass + 1)); echo "ok   $1"
  else fail=$((fail + 1)); echo "FAIL $1 ($2)"; fi
}
q() { "$AD_PG_BIN/psql" "$(pg_conninfo ad_restart)" -XAtq -c "$1"; }

pg_cluster_start "$work/pgstate" || { echo "FAIL PostgreSQL did not start"; exit 1; }
pg_db_create ad_restart >/dev/null || { echo "FAIL create database"; exit 1; }
pg_use ad_restart
smtp_sink_start "$work/sink" || { echo "FAIL smtp-sink did not start"; exit 1; }
pport=$(pg_free_port)
user=
[ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && user=nobody
cat > "$work/ad.conf" <<CONF
[store]
backend = postgresql
conninfo = $ABUSEDESK_STORE_CONNINFO
[intake]
spool_dir = $work/spool
quarantine_dir = $work/quarantine
authserv_id = mx.hoster.example
verify_dkim = false
[network]
our_hosts = *.hoster.example
our_ips = 198.51.100.0/24
[providers]
yahoo.com = 1.0 manual
hotmail.com = 1.0 manual signed_by=hotmail.com
[notify]
smarthost = smtp://127.0.0.1:$SMTP_SINK_PORT
from = abuse@hoster.example
abuse_team = team@hoster.example
templates_dir = $src/etc/templates
[policy]
listen = inet:127.0.0.1:$pport
state_file = $work/policy.state
${user:+user = $user}
[log]
level = info
CONF
ad() { "$bin" -c "$work/ad.conf" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }
{
  printf 'customer_id,customer_name,contact_email,language,account,domain\n'
  for a in 0 1 2 3 4 5; do printf 'C%d,Customer %d,owner%d@home.example,de,box%d@customer.example,\n' $a $a $a $a; done
} > "$work/dir.csv"
ad directory import "$work/dir.csv" >/dev/null || { echo "FAIL directory import"; exit 1; }
[ -n "$user" ] && chown -R "$user" "$work"

# Complaints: authenticated by our MX, 12 per account, in three batches.
corpus="$(bash "$src/tools/shared-dir.sh")/corpus/arf"
[ -f "$corpus/arf-02.eml" ] || { echo "FAIL missing input $corpus/arf-02.eml"; exit 1; }
mk() { # OUTDIR ACCOUNTS TEMPLATE
  mkdir -p "$1"
  python3 "$src/tests/desk/mkcomplaint.py" --mx-auth auto "$corpus/$3.eml" --count 12 \
    --arrival now-5m --date now-6m --source-ip 198.51.100.25 --outdir "$1" --accounts "$2" >/dev/null
}
mk "$work/b1" box0@customer.example,box1@customer.example arf-02
mk "$work/b2" box2@customer.example,box3@customer.example arf-22
mk "$work/b3" box4@customer.example,box5@customer.example arf-25
total=$(cat <(ls "$work/b1") <(ls "$work/b2") <(ls "$work/b3") | wc -l)

deliver() { # FILE: a pipe delivery, retried like Postfix (75 = try again later)
  local rc try
  for try in $(seq 1 60); do
    ad ingest -q < "$1" 2>>"$work/ingest.err"; rc=$?
    [ $rc = 0 ] && return 0
    [ $rc = 75 ] || { echo "ingest exit $rc for $1" >> "$work/ingest.err"; return 1; }
    echo 75 >> "$work/tempfail"
    sleep 0.5
  done
  return 1
}
policy() { # SENDER: the policy server's action for one request
  python3 - "$pport" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(("request=smtpd_access_policy\nprotocol_state=RCPT\nsasl_username=%s\n"
           "sender=%s\nrecipient=someone@example.org\nclient_address=203.0.113.9\n"
           "instance=x%s\n\n" % (sys.argv[2], sys.argv[2], id(s))).encode())
buf = b""
while not buf.endswith(b"\n\n"):
    d = s.recv(4096)
    if not d: break
    buf += d
print(buf.decode().split("\n")[0].split("=", 1)[-1].split(" ")[0].lower())
PY
}
wait_for() { # SECONDS CONDITION
  local end=$((SECONDS + $1))
  while [ $SECONDS -lt $end ]; do eval "$2" && return 0; sleep 0.2; done
  return 1
}

"$bin" -c "$work/ad.conf" run > "$work/run.log" 2>&1 &
run_pid=$!
wait_for 20 '[ "$(policy probe@customer.example 2>/dev/null)" = dunno ]' \
  || { echo "FAIL the policy server did not answer"; cat "$work/run.log"; exit 1; }
children() { pgrep -P "$run_pid" -f 'process --loop|outbox --flush|serve$|rbl check' | sort | tr '\n' ' '; }
kids=$(children)
yes_if "run: its four long-running services started" "[ $(echo $kids | wc -w) = 4 ]"

# ---- batch 1 before any restart
for f in "$work"/b1/*; do deliver "$f"; done
yes_if "batch 1: filed into incidents" \
  "wait_for 30 '[ \"\$(q \"SELECT COUNT(*) FROM reports WHERE processed = 1\")\" = 12 ]'"

# ---- restart 1: clean (every session terminated), batch 2 delivered meanwhile
"$AD_PG_BIN/pg_ctl" --version >/dev/null
pg_as_owner "$AD_PG_BIN/pg_ctl" -D "$AD_PG_DIR/data" -m fast -w stop >/dev/null
for f in $(ls "$work"/b2/* | head -4); do
  ad ingest -q < "$f" 2>>"$work/ingest.err"; rc=$?
  check "database down: pipe delivery exits 75 (Postfix retries)" "$rc" 75
done
down_action=$(policy box5@customer.example)
check "database down: the policy server still answers" "$down_action" dunno
sleep 2
pg_as_owner "$AD_PG_BIN/pg_ctl" -D "$AD_PG_DIR/data" -l "$AD_PG_DIR/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -c port=$AD_PG_PORT -c unix_socket_directories=$AD_PG_DIR -c fsync=off -c max_connections=200" \
  start >/dev/null || { echo "FAIL PostgreSQL did not come back"; exit 1; }
for f in "$work"/b2/*; do deliver "$f"; done
yes_if "after restart 1: batch 2 filed" \
  "wait_for 30 '[ \"\$(q \"SELECT COUNT(*) FROM reports WHERE processed = 1\")\" = 24 ]'"

# ---- restart 2: a crash while the desk worker files batch 3
for f in "$work"/b3/*; do deliver "$f"; done
sleep 0.3
pg_as_owner "$AD_PG_BIN/pg_ctl" -D "$AD_PG_DIR/data" -m immediate -w stop >/dev/null
sleep 1
pg_as_owner "$AD_PG_BIN/pg_ctl" -D "$AD_PG_DIR/data" -l "$AD_PG_DIR/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -c port=$AD_PG_PORT -c unix_socket_directories=$AD_PG_DIR -c fsync=off -c max_connections=200" \
  start >/dev/null || { echo "FAIL PostgreSQL did not come back"; exit 1; }
yes_if "after restart 2: every report filed" \
  "wait_for 40 '[ \"\$(q \"SELECT COUNT(*) FROM reports WHERE processed = 1\")\" = $total ]'"

# ---- a CLI lock after both restarts reaches the policy server within 1 s
check "before the lock: box5 may send" "$(policy box5@customer.example)" dunno
t0=$(date +%s%3N)
ad account lock box5@customer.example --reason "restart test" --by tester >/dev/null 2>>"$work/lock.err"
t1=$(date +%s%3N)
wait_for 5 '[ "$(policy box5@customer.example)" = reject ]'
t2=$(date +%s%3N)
echo "     lock: CLI $((t1 - t0)) ms, enforced $((t2 - t1)) ms after the CLI returned"
yes_if "after the restarts: a CLI lock is enforced within 1 s" "[ \$((t2 - t1)) -le 1000 ] && [ \"\$(policy box5@customer.example)\" = reject ]"

# ---- exactly once, nothing lost
yes_if "outbox drained" "wait_for 30 '[ \"\$(q \"SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed = 0\")\" = 0 ]'"
check "every delivered complaint stored once" "$(q "SELECT COUNT(*), COUNT(DISTINCT sha256) FROM reports")" "$total|$total"
check "no report left unfiled" "$(q "SELECT COUNT(*) FROM reports WHERE processed = 0")" 0
check "spool empty" "$(ls "$work/spool/new" 2>/dev/null | wc -l)" 0
check "one incident per complained-about account" \
  "$(q "SELECT COUNT(*), COUNT(DISTINCT subject) FROM incidents WHERE subject LIKE 'box%'")" "6|6"
check "each account's complaints counted once" \
  "$(q "SELECT MIN(complaints), MAX(complaints) FROM incidents WHERE subject LIKE 'box%'")" "6|6"
dups=$(q "SELECT COUNT(*) FROM (SELECT kind, template, rcpt, incident_id, subject FROM outbox GROUP BY 1, 2, 3, 4, 5 HAVING COUNT(*) > 1) d")
[ "$dups" = 0 ] || q "SELECT o.incident_id, o.template, o.subject, o.created_at FROM outbox o WHERE (o.incident_id, o.template) IN (SELECT incident_id, template FROM outbox GROUP BY 1, 2 HAVING COUNT(*) > 1)"
check "no notice queued twice" "$dups" 0
sent=$(q "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL")
sunk=$(grep -l '^X-Rcpt-Args' "$work"/sink/msg.* 2>/dev/null | wc -l)
check "every queued mail delivered once" "$sunk" "$sent"
check "the same service processes (each reconnected by itself)" "$(children)" "$kids"
yes_if "a service says it lost and regained the database" "grep -qi 'retrying\|reconnect' '$work/run.log'"
echo "pg_restart: $pass passed, $fail failed"
exit $((fail > 0))

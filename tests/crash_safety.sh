#!/usr/bin/env bash
# Crash safety of intake: a batch ingest of a few thousand messages is killed with
# SIGKILL at random points, again and again; then it is run to the end. Every
# message must be stored exactly once. Same for single-message pipe deliveries
# killed mid-way and retried, as an MTA retries a delivery that did not exit 0;
# a share of them is killed exactly inside the window between the durable spool
# file and the commit (a failpoint widens it), and that share is asserted.
# Then the desk worker: attributed, authenticated complaints (a [network] and a
# directory) are filed by `abusedesk process` killed again and again; the
# incidents, locks, outbox and audit log must come out exactly as in a run
# without kills.
set -uo pipefail
src=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$src/tests/lib/sql.sh"  # dbq: the store on SQLite or PostgreSQL
bin=${AD_BINARY:-$src/build/abusedesk}
N=${CRASH_MESSAGES:-3000}
KILLS=${CRASH_KILLS:-12}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/ad.conf" <<CONF
[store]
path = $tmp/abusedesk.db
[intake]
spool_dir = $tmp/spool
quarantine_dir = $tmp/quarantine
authserv_id = mx.hoster.example
verify_dkim = false
[network]
our_hosts = *.hoster.example
our_ips = 198.51.100.0/24
[providers]
yahoo.com = 1.0 manual
hotmail.com = 1.0 manual signed_by=hotmail.com
senderscore.net = 0.8
[notify]
smarthost = smtp://127.0.0.1:9
abuse_team = team@hoster.example
templates_dir = $src/etc/templates
CONF

# N distinct messages: sample mails, each made unique by one added header.
samples=()
shared=$(bash "$src/tools/shared-dir.sh")
if [ -d "$shared/corpus" ]; then
  while IFS= read -r f; do samples+=("$f"); done < <(find "$shared/corpus" -name '*.eml' | sort)
fi
samples+=("$src"/tests/golden/*.eml)
mkdir -p "$tmp/md/new" "$tmp/md/cur" "$tmp/md/tmp" "$tmp/stage"
for ((i = 0; i < N; i++)); do
  f=${samples[$((i % ${#samples[@]}))]}
  { printf 'X-Crash-Test-Seq: %d\n' "$i"; cat "$f"; } > "$tmp/stage/msg.$i"
done
sha256sum "$tmp"/stage/* | cut -c1-64 | sort > "$tmp/want.sha"
echo "crash_safety: $N messages delivered in $KILLS rounds, each batch run SIGKILLed at a random moment"

# Each round delivers the next share of messages into new/ and kills the batch
# ingest at a random moment between 5 ms and 400 ms into its run.
kills=0
per=$(( (N + KILLS - 1) / KILLS ))
for ((k = 0; k < KILLS; k++)); do
  ls "$tmp/stage" | head -n "$per" | while read -r m; do mv "$tmp/stage/$m" "$tmp/md/new/$m"; done
  "$bin" -c "$tmp/ad.conf" ingest -q --maildir "$tmp/md" 2>/dev/null &
  pid=$!
  sleep "0.$(printf '%03d' $((RANDOM % 395 + 5)))"
  if kill -KILL "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null
done
echo "crash_safety: $kills of $KILLS runs killed mid-batch; $(ls "$tmp/md/new" | wc -l) messages still in new/"
"$bin" -c "$tmp/ad.conf" ingest -q --maildir "$tmp/md"
rc=$?

# Pipe deliveries: 60 messages, each delivery killed at a random point, then
# retried until it exits 0, the way Postfix retries a deferred delivery.
mkdir -p "$tmp/pipe"
for ((i = 0; i < 60; i++)); do
  f=${samples[$(((i * 7) % ${#samples[@]}))]}
  { printf 'X-Crash-Pipe-Seq: %d\n' "$i"; cat "$f"; } > "$tmp/pipe/p.$i"
done
sha256sum "$tmp"/pipe/* | cut -c1-64 >> "$tmp/want.sha"
sort -o "$tmp/want.sha" "$tmp/want.sha"
pipe_kills=0
for f in "$tmp"/pipe/*; do
  ( timeout -s KILL "0.00$((RANDOM % 9 + 1))" "$bin" -c "$tmp/ad.conf" ingest -q < "$f" ) 2>/dev/null
  [ $? = 137 ] && pipe_kills=$((pipe_kills + 1))
  for try in 1 2 3 4 5; do
    "$bin" -c "$tmp/ad.conf" ingest -q < "$f" && break
  done
done
"$bin" -c "$tmp/ad.conf" ingest -q --recover
echo "crash_safety: $pipe_kills of 60 pipe deliveries killed and retried"

# Inside the window: the spool file is durable, the commit has not happened.
mkdir -p "$tmp/win"
for ((i = 0; i < 20; i++)); do
  f=${samples[$(((i * 11) % ${#samples[@]}))]}
  { printf 'X-Crash-Window-Seq: %d\n' "$i"; cat "$f"; } > "$tmp/win/w.$i"
done
sha256sum "$tmp"/win/* | cut -c1-64 >> "$tmp/want.sha"
sort -o "$tmp/want.sha" "$tmp/want.sha"
in_window=0
for f in "$tmp"/win/*; do
  before=$(ls "$tmp/spool/new" 2>/dev/null | wc -l)
  ABUSEDESK_FAILPOINT_SPOOLED_MS=400 "$bin" -c "$tmp/ad.conf" ingest -q < "$f" 2>/dev/null &
  pid=$!
  sleep 0.2
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  after=$(ls "$tmp/spool/new" 2>/dev/null | wc -l)
  sha=$(sha256sum < "$f" | cut -c1-64)
  stored=$(dbq "$tmp/abusedesk.db" "SELECT COUNT(*) FROM reports WHERE sha256 = '$sha'")
  # killed after the spool file was durable and before the commit
  [ "$after" -gt "$before" ] && [ "$stored" = 0 ] && in_window=$((in_window + 1))
  for try in 1 2 3 4 5; do
    "$bin" -c "$tmp/ad.conf" ingest -q < "$f" && break
  done
done
echo "crash_safety: $in_window of 20 deliveries killed between the spool and the commit"

fail=0
dbq "$tmp/abusedesk.db" "SELECT sha256 FROM reports ORDER BY sha256" > "$tmp/got.sha"
rows=$(wc -l < "$tmp/got.sha")
want=$(wc -l < "$tmp/want.sha")
distinct=$(sort -u "$tmp/got.sha" | wc -l)
[ "$rc" = 0 ] || { echo "FAIL final run exit $rc, want 0"; fail=1; }
[ "$rows" = "$want" ] || { echo "FAIL stored rows $rows, want $want"; fail=1; }
[ "$distinct" = "$rows" ] || { echo "FAIL duplicates: $rows rows, $distinct distinct"; fail=1; }
if ! diff -q "$tmp/want.sha" "$tmp/got.sha" >/dev/null; then
  echo "FAIL stored set differs from the delivered set:"; diff "$tmp/want.sha" "$tmp/got.sha" | head; fail=1
fi
[ "$(ls "$tmp/md/new" | wc -l)" = 0 ] || { echo "FAIL messages left in new/"; fail=1; }
[ "$(ls "$tmp/spool/new" 2>/dev/null | wc -l)" = 0 ] || { echo "FAIL messages left in spool"; fail=1; }
[ "$in_window" -ge 15 ] || { echo "FAIL only $in_window of 20 kills landed between spool and commit"; fail=1; }
echo "crash_safety: $rows stored of $want delivered, $distinct distinct"

# ---- The desk worker, killed again and again --------------------------------
corpus="$shared/corpus/arf"
mkdesk() { # DIR: a database with the directory and 240 authenticated complaints
  mkdir -p "$1"
  db_select "$1/abusedesk.db"   # PostgreSQL: a database of its own
  sed "s#$tmp/#$1/#g" "$tmp/ad.conf" > "$1/ad.conf"
  "$bin" -c "$1/ad.conf" init >/dev/null
  printf 'customer_id,customer_name,contact_email,language,account,domain\n' > "$1/dir.csv"
  for a in 0 1 2 3 4 5 6 7; do
    printf 'C%d,Customer %d,owner%d@home.example,de,box%d@customer.example,\n' "$a" "$a" "$a" "$a" >> "$1/dir.csv"
  done
  "$bin" -c "$1/ad.conf" directory import "$1/dir.csv" >/dev/null
  mkdir -p "$1/md/new" "$1/md/cur" "$1/md/tmp"
  cp "$tmp/desk-mails"/* "$1/md/new/"
  "$bin" -c "$1/ad.conf" ingest -q --maildir "$1/md"
}
mkdir -p "$tmp/desk-mails"
for t in arf-02 arf-22 arf-25; do
  python3 "$src/tests/desk/mkcomplaint.py" --mx-auth auto "$corpus/$t.eml" --count 80 \
    --arrival now-5m --date now-6m --source-ip 198.51.100.25 \
    --outdir "$tmp/desk-mails" \
    --accounts box0@customer.example,box1@customer.example,box2@customer.example,box3@customer.example,box4@customer.example,box5@customer.example,box6@customer.example,box7@customer.example
done
mkdesk "$tmp/ref"
mkdesk "$tmp/kill"
db_select "$tmp/ref/abusedesk.db"
"$bin" -c "$tmp/ref/ad.conf" process >/dev/null
db_select "$tmp/kill/abusedesk.db"
desk_kills=0
partial=0
total=$(dbq "$tmp/kill/abusedesk.db" "SELECT COUNT(*) FROM reports")
for round in $(seq 1 15); do
  "$bin" -c "$tmp/kill/ad.conf" process >/dev/null 2>&1 &
  pid=$!
  # early: each round files only part of the 240 reports, fast build or not
  sleep "0.0$((RANDOM % 6 + 2))"
  kill -KILL "$pid" 2>/dev/null && desk_kills=$((desk_kills + 1))
  wait "$pid" 2>/dev/null
  done_n=$(dbq "$tmp/kill/abusedesk.db" "SELECT COUNT(*) FROM reports WHERE processed = 1")
  [ "$done_n" -gt 0 ] && [ "$done_n" -lt "$total" ] && partial=$((partial + 1))
done
"$bin" -c "$tmp/kill/ad.conf" process >/dev/null
echo "crash_safety: desk worker killed $desk_kills times, $partial of them mid-way"
[ "$partial" -ge 3 ] || { echo "FAIL only $partial desk-worker kills landed mid-way"; fail=1; }
summary() { # DB: what the desk made, independent of ids and times
  dbq "$1" "SELECT 'reports', COUNT(*), SUM(processed) FROM reports;
    SELECT 'incidents', subject_kind, subject, state, stage, complaints FROM incidents ORDER BY subject_kind, subject;
    SELECT 'locks', subject, COUNT(*) FROM locks GROUP BY subject ORDER BY subject;
    SELECT 'outbox', kind, template, rcpt, COUNT(*) FROM outbox GROUP BY kind, template, rcpt ORDER BY 2, 3, 4;
    SELECT 'hooks', kind, event, COUNT(*) FROM hook_jobs GROUP BY kind, event ORDER BY 2, 3;
    SELECT 'audit', actor, action, COUNT(*) FROM audit GROUP BY actor, action ORDER BY 2, 3;
    SELECT 'scores', COUNT(*), SUM(counted) FROM scores;
    SELECT 'complaints', subject_kind, COUNT(*) FROM complaints GROUP BY subject_kind ORDER BY 2;"
}
summary "$tmp/ref/abusedesk.db" > "$tmp/ref.sum"
summary "$tmp/kill/abusedesk.db" > "$tmp/kill.sum"
if ! diff "$tmp/ref.sum" "$tmp/kill.sum" >/dev/null; then
  echo "FAIL the killed desk worker's result differs from an unkilled run:"
  diff "$tmp/ref.sum" "$tmp/kill.sum" | head -20
  fail=1
fi
[ "$(grep -c '^locks|' "$tmp/ref.sum")" -ge 1 ] || { echo "FAIL the reference run locked nothing (the test would prove little)"; fail=1; }
echo "crash_safety: desk worker result equals the unkilled run ($(grep -c '^audit|' "$tmp/ref.sum") audit kinds, $(grep -c '^incidents|' "$tmp/ref.sum") incidents)"
if [ "$fail" = 0 ]; then echo "crash_safety: 1 passed, 0 failed"; else echo "crash_safety: 0 passed, 1 failed"; fi
exit $fail

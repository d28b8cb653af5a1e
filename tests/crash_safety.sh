#!/usr/bin/env bash
# Crash safety of intake: a batch ingest of a few thousand messages is killed with
# SIGKILL at random points, again and again; then it is run to the end. Every
# message must be stored exactly once. Same for single-message pipe deliveries
# killed mid-way and retried, as an MTA retries a delivery that did not exit 0.
set -uo pipefail
src=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
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

fail=0
sqlite3 "$tmp/abusedesk.db" "SELECT sha256 FROM reports ORDER BY sha256" > "$tmp/got.sha"
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
echo "crash_safety: $rows stored of $want delivered, $distinct distinct"
if [ "$fail" = 0 ]; then echo "crash_safety: 1 passed, 0 failed"; else echo "crash_safety: 0 passed, 1 failed"; fi
exit $fail

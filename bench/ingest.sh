#!/usr/bin/env bash
# ingest.sh: part of `make bench`. Measures the whole intake pipeline of the abuse
# desk on N generated
# complaints: real feedback-loop reports of shared/corpus (Yahoo ARF, Hotmail
# JMRP, Return Path ARF) rewritten by tests/desk/mkcomplaint.py as if sent
# through our hosts by ACCOUNTS customer mailboxes, on each store backend in
# the same run: SQLite (the file, WAL) and PostgreSQL (a private cluster on
# 127.0.0.1 with its durable defaults: fsync and synchronous_commit on):
#   parse only   `abusedesk parse` over the same files (no store)
#   ingest       `abusedesk ingest --maildir` (spool, parse, store; batches of
#                200 per commit)
#   desk         `abusedesk process`: attribute, score, windows, incidents,
#                audit and outbox for everything ingest stored
#   duplicates   the same Maildir again (every message is a duplicate)
#   pipe         `abusedesk ingest` once per message, as Postfix pipe(8) runs it
#                (PIPE_N messages; process start, fsync and commit per message)
# Prints messages/s for each. Target (issue 9): ingest into PostgreSQL at
# 2,000 reports/s or more in batch.
# usage: bash bench/ingest.sh   environment: N (3000), ACCOUNTS (50), PIPE_N (300),
#        BACKENDS ("sqlite postgresql")
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${AD_BUILD:-$root/build}/abusedesk
corpus=$(bash "$root/tools/shared-dir.sh")/corpus/arf
n=${N:-3000}
accounts=${ACCOUNTS:-50}
pipe_n=${PIPE_N:-300}
[ -x "$bin" ] || { echo "ingest.sh: $bin missing; run 'make build' first" >&2; exit 1; }
[ -d "$corpus" ] || { echo "ingest.sh: $corpus missing" >&2; exit 1; }
work=$(mktemp -d)
. "$root/tests/lib/pg.sh"
trap 'pg_cluster_stop "$work/pgstate" >/dev/null 2>&1; rm -rf "$work"' EXIT

cat > "$work/bench.conf" <<EOF
[store]
path = $work/bench.db
[intake]
authserv_id = mx.hoster.example
spool_dir = $work/spool
quarantine_dir = $work/quarantine
[log]
level = error
[network]
our_hosts = *.hoster.example
our_ips = 198.51.100.0/24
[providers]
yahoo.com = 1.0 manual
hotmail.com = 1.0 manual
senderscore.net = 0.8
EOF
ad() { "$bin" -c "$work/bench.conf" "$@"; }
{
  echo "customer_id,customer_name,contact_email,language,account,domain"
  for i in $(seq 1 "$accounts"); do
    echo "C$i,Customer $i,owner$i@contact.example,de,user$i@customer$i.example,customer$i.example"
  done
} > "$work/dir.csv"

accts=$(seq 1 "$accounts" | sed 's/.*/user&@customer&.example/' | paste -sd,)
per=$(( (n + 2) / 3 ))
mkdir -p "$work/md/new" "$work/md/cur" "$work/md/tmp" "$work/pipe"
for t in arf-02 arf-22 arf-25; do
  python3 "$root/tests/desk/mkcomplaint.py" --mx-auth auto "$corpus/$t.eml" --count "$per" \
    --outdir "$work/md/new" --accounts "$accts" --arrival now-20m --date now-25m \
    --source-ip 198.51.100.10
done
total=$(ls "$work/md/new" | wc -l)
bytes=$(cat "$work/md/new"/* | wc -c)
python3 "$root/tests/desk/mkcomplaint.py" --mx-auth auto "$corpus/arf-02.eml" --count "$pipe_n" \
  --outdir "$work/pipe" --accounts "$accts" --arrival now-20m --date now-25m \
  --source-ip 198.51.100.10

secs() { # command...: wall seconds with 3 decimals
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  echo "$t0 $t1" | awk '{printf "%.3f", $2 - $1}'
}
rate() { echo "$1 $2" | awk '{printf "%.0f", $1 / ($2 > 0 ? $2 : 1e-9)}'; }
count() { # SQL: one number from the backend in use
  if [ "${ABUSEDESK_STORE_BACKEND:-sqlite}" = postgresql ]; then
    "$AD_PG_BIN/psql" "$ABUSEDESK_STORE_CONNINFO" -XAtq -c "$1"
  else
    sqlite3 "$work/bench.db" "$1"
  fi
}
pipe_one() {
  for f in "$work"/pipe/*; do
    "$bin" -c "$work/bench.conf" ingest -q --source bench < "$f" || return 1
  done
}

echo "bench/ingest: $total complaints ($((bytes / 1024)) KiB) about $accounts mailboxes"
t_parse=$(secs bash -c "find '$work/md/new' -type f -print0 | xargs -0 '$bin' parse")
r_parse=$(rate "$total" "$t_parse")
printf '%-12s %-34s %10s %9s\n' "backend" "mode" "msgs/s" "seconds"
printf '%-12s %-34s %10s %9s\n' "-" "parse only (abusedesk parse)" "$r_parse" "$t_parse"
bad=0
declare -A r_ingest
for backend in ${BACKENDS:-sqlite postgresql}; do
  rm -rf "$work/bench.db"* "$work/spool" "$work/quarantine"
  cp -a "$work/md" "$work/md-run"
  if [ "$backend" = postgresql ]; then
    pg_cluster_start "$work/pgstate" >/dev/null || { echo "ingest.sh: PostgreSQL did not start" >&2; exit 1; }
    # the durable defaults, as a production server runs (pg.sh turns them off for tests)
    pg_psql -c "ALTER SYSTEM SET fsync = on" -c "ALTER SYSTEM SET synchronous_commit = on" \
      -c "ALTER SYSTEM SET full_page_writes = on" -c "SELECT pg_reload_conf()" >/dev/null
    pg_db_create bench >/dev/null
    pg_use bench
  else
    unset ABUSEDESK_STORE_BACKEND ABUSEDESK_STORE_CONNINFO
  fi
  ad init >/dev/null
  ad directory import "$work/dir.csv" >/dev/null
  t_md=$(secs ad ingest --maildir "$work/md-run")
  stored=$(count "SELECT COUNT(*) FROM reports")
  t_desk=$(secs ad process)
  processed=$(count "SELECT COUNT(*) FROM reports WHERE processed = 1")
  incidents=$(count "SELECT COUNT(*) FROM incidents")
  mv "$work/md-run/cur"/* "$work/md-run/new/" 2>/dev/null || true
  t_dup=$(secs ad ingest --maildir "$work/md-run")
  t_pipe=$(secs pipe_one)
  pipe_stored=$(( $(count "SELECT COUNT(*) FROM reports") - stored ))
  r_ingest[$backend]=$(rate "$total" "$t_md")
  printf '%-12s %-34s %10s %9s\n' "$backend" "ingest --maildir (store)" "${r_ingest[$backend]}" "$t_md"
  printf '%-12s %-34s %10s %9s\n' "$backend" "process (desk worker)" "$(rate "$total" "$t_desk")" "$t_desk"
  printf '%-12s %-34s %10s %9s\n' "$backend" "ingest --maildir, all duplicates" "$(rate "$total" "$t_dup")" "$t_dup"
  printf '%-12s %-34s %10s %9s\n' "$backend" "ingest per message (pipe)" "$(rate "$pipe_n" "$t_pipe")" "$t_pipe"
  echo "$backend: stored $stored of $total, processed $processed, incidents $incidents; pipe stored $pipe_stored of $pipe_n"
  if [ "$stored" -ne "$total" ] || [ "$processed" -ne "$total" ] || [ "$pipe_stored" -ne "$pipe_n" ]; then
    echo "ingest.sh: FAILED on $backend: not every message was stored and processed" >&2
    bad=1
  fi
  rm -rf "$work/md-run"
  [ "$backend" = postgresql ] && pg_cluster_stop "$work/pgstate" >/dev/null
done
if [ -n "${r_ingest[postgresql]:-}" ]; then
  echo "ingest into PostgreSQL (batch): ${r_ingest[postgresql]} reports/s (target >= 2000)"
fi
exit $bad

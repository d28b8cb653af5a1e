#!/usr/bin/env bash
# ingest.sh: part of `make bench`. Measures the whole intake pipeline of the abuse
# desk (spool -> parse -> store -> attribute -> score -> sums over the windows ->
# incident -> audit, one transaction per batch or per message) on N generated
# complaints: real feedback-loop reports of shared/corpus (Yahoo ARF, Hotmail
# JMRP, Return Path ARF) rewritten by tests/desk/mkcomplaint.py as if sent
# through our hosts by ACCOUNTS customer mailboxes. In the same run, for scale:
#   parse only   `abusedesk parse` over the same files (no store)
#   maildir      `abusedesk ingest --maildir` (batches of 200 per commit)
#   duplicates   the same Maildir again (every message is a duplicate)
#   pipe         `abusedesk ingest` once per message, as Postfix pipe(8) runs it
#                (PIPE_N messages; process start, fsync and commit per message)
# Prints messages/s for each and the pipeline's cost against parsing alone.
# usage: bash bench/ingest.sh   environment: N (3000), ACCOUNTS (50), PIPE_N (300)
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
trap 'rm -rf "$work"' EXIT

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
ad init >/dev/null
{
  echo "customer_id,customer_name,contact_email,language,account,domain"
  for i in $(seq 1 "$accounts"); do
    echo "C$i,Customer $i,owner$i@contact.example,de,user$i@customer$i.example,customer$i.example"
  done
} > "$work/dir.csv"
ad directory import "$work/dir.csv" >/dev/null

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

echo "bench/ingest: $total complaints ($((bytes / 1024)) KiB) about $accounts mailboxes"
t_parse=$(secs bash -c "find '$work/md/new' -type f -print0 | xargs -0 '$bin' parse")
t_md=$(secs ad ingest --maildir "$work/md")
stored=$(sqlite3 "$work/bench.db" "SELECT COUNT(*) FROM reports")
processed=$(sqlite3 "$work/bench.db" "SELECT COUNT(*) FROM reports WHERE processed = 1")
incidents=$(sqlite3 "$work/bench.db" "SELECT COUNT(*) FROM incidents")
t_dup=$(secs ad ingest --maildir "$work/md")
pipe_one() {
  for f in "$work"/pipe/*; do
    "$bin" -c "$work/bench.conf" ingest -q --source bench < "$f" || return 1
  done
}
t_pipe=$(secs pipe_one)
pipe_stored=$(( $(sqlite3 "$work/bench.db" "SELECT COUNT(*) FROM reports") - stored ))

r_parse=$(rate "$total" "$t_parse")
r_md=$(rate "$total" "$t_md")
r_dup=$(rate "$total" "$t_dup")
r_pipe=$(rate "$pipe_n" "$t_pipe")
printf '%-34s %10s %9s\n' "mode" "msgs/s" "seconds"
printf '%-34s %10s %9s\n' "parse only (abusedesk parse)" "$r_parse" "$t_parse"
printf '%-34s %10s %9s\n' "ingest --maildir, full pipeline" "$r_md" "$t_md"
printf '%-34s %10s %9s\n' "ingest --maildir, all duplicates" "$r_dup" "$t_dup"
printf '%-34s %10s %9s\n' "ingest per message (pipe)" "$r_pipe" "$t_pipe"
echo "pipeline / parse-only throughput: $(echo "$r_md $r_parse" | awk '{printf "%.2f", $1 / $2}')"
echo "stored $stored of $total, processed $processed, incidents $incidents;" \
     "pipe stored $pipe_stored of $pipe_n"
if [ "$stored" -ne "$total" ] || [ "$processed" -ne "$total" ] || [ "$pipe_stored" -ne "$pipe_n" ]; then
  echo "ingest.sh: FAILED: not every message was stored and processed" >&2
  exit 1
fi

#!/usr/bin/env bash
# tests/spool_full.sh: an ingest whose spool is on a full filesystem exits 75
# (EX_TEMPFAIL: Postfix keeps the report and retries), never 74 (which Postfix
# turns into a permanent 5.3.0 bounce to the provider), and nothing is lost:
# once there is space again the retry stores the report. Also an unwritable
# spool path. Needs root to mount a small tmpfs (CI runs as root).
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/lib/sql.sh"  # dbq: the store on SQLite or PostgreSQL
bin=${AD_BINARY:-$top/build/abusedesk}
work=$(mktemp -d)
fails=0
cleanup() { mountpoint -q "$work/full" && umount "$work/full"; rm -rf "$work"; }
trap cleanup EXIT
. "$top/tests/lib/check.sh" # check, has, hasnt
[ "$(id -u)" = 0 ] || { echo "FAIL spool_full needs root to mount a tmpfs (CI runs as root)"; exit 1; }
mkdir -p "$work/full"
mount -t tmpfs -o size=256k tmpfs "$work/full" || { echo "FAIL cannot mount a tmpfs"; exit 1; }
cat > "$work/ad.conf" <<CONF
[store]
path = $work/db/desk.db
[intake]
spool_dir = $work/full/spool
quarantine_dir = $work/full/quarantine
CONF
ad() { "$bin" -c "$work/ad.conf" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }
mail="$top/tests/golden/arf-compromised.eml"
[ -f "$mail" ] || { echo "FAIL missing $mail"; exit 1; }
# Fill the filesystem to the last block.
dd if=/dev/zero of="$work/full/filler" bs=4k 2>/dev/null
{ printf 'X-Test: full\n'; cat "$mail"; } > "$work/msg.eml"
ad ingest -q < "$work/msg.eml" 2>"$work/err"; rc=$?
check "full spool: exit 75 (retry), not 74" "$rc" 75
check "full spool: nothing stored yet" "$(dbq "$work/db/desk.db" 'SELECT COUNT(*) FROM reports')" 0
check "full spool: no half-written spool file left" "$(find "$work/full/spool" -type f | wc -l)" 0
rm -f "$work/full/filler"
ad ingest -q < "$work/msg.eml"; rc=$?
check "space again: the retry stores it" "$rc" 0
check "space again: stored once" "$(dbq "$work/db/desk.db" 'SELECT COUNT(*) FROM reports')" 1
# An unwritable spool (a file where the folder should be).
sed -i "s#^spool_dir = .*#spool_dir = $work/notadir/spool#" "$work/ad.conf"
: > "$work/notadir"
{ printf 'X-Test: unwritable\n'; cat "$mail"; } | ad ingest -q 2>/dev/null; rc=$?
check "unwritable spool: exit 75" "$rc" 75
echo "spool_full: $fails failed"
[ "$fails" -eq 0 ]

#!/usr/bin/env bash
# Command-line behaviour: global options before every subcommand, --help texts,
# configuration errors that name file/group/key, sysexits exit codes of ingest
# (0 stored, 65 not a mail + quarantine, 75 store unavailable), idempotent ingest.
set -uo pipefail
src=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$src/build/abusedesk}
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
. "$src/tests/lib/sql.sh"  # dbq, db_is_pg: SQLite or PostgreSQL (tests/lib/with_pg.sh)
pass=0 fail=0
check() { # check NAME WANT GOT
  if [ "$2" = "$3" ]; then pass=$((pass + 1)); else echo "FAIL $1: got '$3', want '$2'"; fail=$((fail + 1)); fi
}
contains() { # contains NAME NEEDLE HAYSTACK
  case "$3" in *"$2"*) pass=$((pass + 1)) ;; *) echo "FAIL $1: '$2' not in: $3"; fail=$((fail + 1)) ;; esac
}

cat > "$tmp/ok.conf" <<CONF
[store]
path = $tmp/db/abusedesk.db
[intake]
spool_dir = $tmp/spool
quarantine_dir = $tmp/quarantine
CONF

# --help everywhere.
out=$("$bin" --help); check "help exit" 0 $?
for c in ingest parse reports report init config; do contains "help mentions $c" "$c" "$out"; done
for c in ingest parse reports report init config; do
  o=$("$bin" $c --help); check "$c --help exit" 0 $?
  contains "$c --help usage" "usage: abusedesk" "$o"
done
"$bin" nosuch >/dev/null 2>&1; check "unknown command exit" 64 $?
"$bin" --bogus parse x >/dev/null 2>&1; check "unknown global option" 64 $?

# Configuration errors name the file, group, key and expectation.
printf '[store]\npath = /x\ncolour = blue\n' > "$tmp/badkey.conf"
err=$("$bin" -c "$tmp/badkey.conf" config check 2>&1); check "unknown key exit" 78 $?
contains "unknown key message (with its line)" "$tmp/badkey.conf:3: [store] colour: unknown key" "$err"
printf '[intake]\nmax_message_size = lots\n' > "$tmp/badval.conf"
err=$("$bin" -c "$tmp/badval.conf" config check 2>&1); check "bad value exit" 78 $?
contains "bad value message" "[intake] max_message_size: expected an integer" "$err"
printf '[nosuch]\na = 1\n' > "$tmp/badgroup.conf"
err=$("$bin" -c "$tmp/badgroup.conf" parse "$src/tests/golden/not-a-report.eml" 2>&1); check "unknown group exit" 78 $?
contains "unknown group message" "unknown group [nosuch]" "$err"
printf '[log]\nsyslog = maybe\n' > "$tmp/badbool.conf"
err=$("$bin" -c "$tmp/badbool.conf" config check 2>&1); check "bad bool exit" 78 $?
contains "bad bool message" "[log] syslog: expected true or false, got 'maybe'" "$err"
err=$("$bin" -c "$tmp/missing.conf" config check 2>&1); check "missing -c file exit" 78 $?
contains "missing file message" "missing.conf" "$err"
# The example configuration, with its templates where this checkout has them and
# no service user (config check verifies both exist on the machine).
sed -e "s#^templates_dir = .*#templates_dir = $src/etc/templates#" -e "s#^user = abusedesk#user =#" \
  "$src/etc/abusedesk.conf" > "$tmp/example.conf"
"$bin" -c "$tmp/example.conf" config check >/dev/null; check "example config valid" 0 $?

# parse: JSON per file, exit 1 when a file is unreadable, keys always present.
out=$("$bin" parse "$src/tests/golden/arf-compromised.eml" "$src/tests/golden/not-a-report.eml")
check "parse exit" 0 $?
check "parse lines" 2 "$(printf '%s\n' "$out" | wc -l)"
contains "parse kind arf" '"kind":"arf"' "$out"
contains "parse null original for unknown" '"original":null' "$out"
"$bin" parse "$tmp/does-not-exist.eml" >/dev/null 2>&1; check "parse unreadable exit" 1 $?
printf '\x00\x01\x02binary' > "$tmp/bin.dat"
out=$("$bin" parse "$tmp/bin.dat" 2>/dev/null); check "parse non-mail exit" 1 $?
contains "parse non-mail error" '"kind":"error"' "$out"

# ingest: stored, then the same bytes again are a duplicate (exit 0, one row).
"$bin" -c "$tmp/ok.conf" ingest -q < "$src/tests/golden/arf-compromised.eml"; check "ingest exit" 0 $?
"$bin" -c "$tmp/ok.conf" ingest -q < "$src/tests/golden/arf-compromised.eml"; check "ingest again exit" 0 $?
n=$("$bin" -c "$tmp/ok.conf" reports --json | wc -l); check "one row after two ingests" 1 "$n"
check "spool empty after ingest" 0 "$(ls "$tmp/spool/new" | wc -l)"
# --db overrides the store path and works with every subcommand (a path is
# SQLite's: on PostgreSQL the conninfo names the database).
if ! db_is_pg; then
"$bin" -c "$tmp/ok.conf" --db "$tmp/other.db" ingest -q < "$src/tests/golden/not-a-report.eml"
check "ingest --db exit" 0 $?
out=$("$bin" -c "$tmp/ok.conf" --db "$tmp/other.db" reports --json); contains "--db used" '"kind":"unknown"' "$out"
check "--db left default db alone" 1 "$("$bin" -c "$tmp/ok.conf" reports --json | wc -l)"
fi
out=$("$bin" -c "$tmp/ok.conf" report show 1); contains "report show" "kind:        arf" "$out"
raw=$("$bin" -c "$tmp/ok.conf" report show --raw 1 | sha256sum | cut -c1-64)
check "raw round trip" "$(sha256sum < "$src/tests/golden/arf-compromised.eml" | cut -c1-64)" "$raw"

# Not a mail at all: exit 65, kept in quarantine with the reason.
printf '\x00\x00garbage without headers\n' | "$bin" -c "$tmp/ok.conf" ingest -q; check "not-mail exit" 65 $?
check "quarantined message" 1 "$(ls "$tmp/quarantine"/*.eml | wc -l)"
contains "quarantine reason" "not a mail" "$(cat "$tmp/quarantine"/*.reason)"

# Store unavailable: exit 75 (EX_TEMPFAIL) and the message stays in the spool.
# (a) the database cannot be created: its directory's parent is a plain file
# (PostgreSQL: no server where the conninfo points).
: > "$tmp/notadir"
if db_is_pg; then
  ABUSEDESK_STORE_CONNINFO="host=127.0.0.1 port=1 dbname=none connect_timeout=5" \
    "$bin" -c "$tmp/ok.conf" ingest -q < "$src/tests/golden/dsn-two-recipients.eml" 2>/dev/null
else
  "$bin" -c "$tmp/ok.conf" --db "$tmp/notadir/sub/x.db" ingest -q < "$src/tests/golden/dsn-two-recipients.eml" 2>/dev/null
fi
check "store unavailable exit" 75 $?
check "message kept in spool" 1 "$(ls "$tmp/spool/new" | wc -l)"
# (b) another process holds the database locked longer than busy_timeout_ms.
sed 's/^\[store\]$/[store]\nbusy_timeout_ms = 200/' "$tmp/ok.conf" > "$tmp/short.conf"
lock="BEGIN EXCLUSIVE;"
db_is_pg && lock="BEGIN; LOCK TABLE reports IN ACCESS EXCLUSIVE MODE;"
{ echo "$lock"; sleep 3; echo "COMMIT;"; } | dbq "$tmp/db/abusedesk.db" &
locker=$!
sleep 0.5
"$bin" -c "$tmp/short.conf" ingest -q < "$src/tests/golden/abuse-text-quoted.eml" 2>/dev/null
check "locked store exit" 75 $?
wait $locker
check "both messages kept in spool" 2 "$(ls "$tmp/spool/new" | wc -l)"
"$bin" -c "$tmp/ok.conf" ingest --recover -q; check "recover exit" 0 $?
check "spool drained" 0 "$(ls "$tmp/spool/new" | wc -l)"
out=$("$bin" -c "$tmp/ok.conf" reports --kind dsn --json); contains "recovered dsn stored" '"kind":"dsn"' "$out"
out=$("$bin" -c "$tmp/ok.conf" reports --kind abuse-text --json); contains "recovered complaint stored" '"kind":"abuse-text"' "$out"

echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]

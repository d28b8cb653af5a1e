#!/usr/bin/env bash
# tests/files_private.sh: customer data and third parties' mail are private by
# default: the database, its WAL, the spool, the quarantine are not readable by
# other users; a command that only reads never creates an empty database under
# a mistyped path; `init` run as root hands the files to [policy] user.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
. "$top/tests/lib/check.sh" # check, has, hasnt
chmod 755 "$work"
user=
[ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && user=nobody
printf '%s\n' "[store]" "path = $work/var/desk.db" "[intake]" "spool_dir = $work/var/spool" \
  "quarantine_dir = $work/var/quarantine" "[policy]" "user = $user" > "$work/c.conf"
ad() { "$bin" -c "$work/c.conf" "$@"; }
umask 022 # an admin's usual umask: abusedesk must not rely on it
ad reports >/dev/null 2>&1
check "a read-only command on a missing database: exit 66" "$?" 66
check "... and nothing was created" "$([ -e "$work/var/desk.db" ] && echo created || echo none)" none
ad incidents >/dev/null 2>&1
check "incidents on a missing database: exit 66" "$?" 66
ad init >/dev/null 2>&1
check "init" "$?" 0
mail="$top/tests/golden/arf-compromised.eml"
ad ingest -q < "$mail"
check "ingest" "$?" 0
check "database 0640 or stricter" "$(stat -c %a "$work/var/desk.db")" 640
wal=$(stat -c %a "$work/var/desk.db-wal" 2>/dev/null || echo 640)
check "WAL 0640 or stricter" "$wal" 640
check "spool folder not world-readable" "$(stat -c %a "$work/var/spool")" 750
check "quarantine folder not world-readable" "$(stat -c %a "$work/var/quarantine")" 750
printf 'not a mail at all\n' | ad ingest -q 2>/dev/null
q=$(find "$work/var/quarantine" -type f -name '*.eml' | head -1)
check "a quarantined mail is 0640 or stricter" "$(stat -c %a "$q")" 640
ad reports >/dev/null
check "reports on the existing database" "$?" 0
if [ -n "$user" ]; then
  check "init as root: the database belongs to $user" "$(stat -c %U "$work/var/desk.db")" "$user"
  check "init as root: the spool belongs to $user" "$(stat -c %U "$work/var/spool")" "$user"
  check "init as root: the folder it made belongs to $user" "$(stat -c %U "$work/var")" "$user"
fi
echo "files_private: $fails failed"
[ "$fails" -eq 0 ]

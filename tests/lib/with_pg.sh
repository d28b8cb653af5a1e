#!/usr/bin/env bash
# tests/lib/with_pg.sh SCRIPT [ARGS]: runs one test script (or a unit test
# program) against a fresh PostgreSQL database: in the cluster of the ctest
# fixture when AD_PG_STATE names its state directory (tests/lib/pg.sh start),
# else in a private cluster started and stopped around this one script. abusedesk then uses PostgreSQL
# whatever the script's configuration file says (ABUSEDESK_STORE_BACKEND and
# ABUSEDESK_STORE_CONNINFO); scripts query it through tests/lib/sql.sh.
# Exits with the script's status; the database is dropped afterwards.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/pg.sh"
script=${1:?usage: with_pg.sh SCRIPT [ARGS]}
shift
own=
if ! { [ -n "${AD_PG_STATE:-}" ] && pg_cluster_load "$AD_PG_STATE"; }; then
  own=$(mktemp -d)
  pg_cluster_start "$own" || exit 1
fi
name=$(basename "$script" .sh)
db="ad_${name//[^A-Za-z0-9_]/_}_$$"
if ! pg_db_create "$db"; then
  [ -n "$own" ] && { pg_cluster_stop "$own"; rm -rf "$own"; }
  exit 1
fi
pg_use "$db"
case "$script" in
  *.sh) bash "$script" "$@" ;;
  *) "$script" "$@" ;; # a unit test binary (store_pg_test)
esac
rc=$?
# The test's database, and those db_select (tests/lib/sql.sh) made beside it.
for d in $(pg_psql -c "SELECT datname FROM pg_database WHERE datname = '$db' OR starts_with(datname, '${db}_')"); do
  pg_db_drop "$d"
done
[ -n "$own" ] && { pg_cluster_stop "$own"; rm -rf "$own"; }
exit $rc

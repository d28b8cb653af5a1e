# tests/lib/sql.sh: sourceable. The store a test's abusedesk uses, on SQLite or
# on PostgreSQL (tests/lib/with_pg.sh sets ABUSEDESK_STORE_BACKEND=postgresql
# and ABUSEDESK_STORE_CONNINFO, which abusedesk applies over its configuration).
#
# dbq DBFILE [SQL...]: runs SQL (or standard input) on that store: the SQLite
# file DBFILE, or on PostgreSQL the database db_select chose for DBFILE (else
# the one ABUSEDESK_STORE_CONNINFO names). Output is sqlite3's default form on
# both: one line per row, columns separated by "|", NULL as an empty string.
# Write SQL both accept: CAST(x AS BIGINT), not x::bigint; no PRAGMA, no rowid
# (order by a real column); LIKE is case-sensitive on PostgreSQL; a DOUBLE
# PRECISION 10.0 prints as 10 there, 10.0 in sqlite3.
#
# db_select DBFILE: for a script that uses more than one database file: on
# PostgreSQL, makes (once) a database of its own for DBFILE and points
# ABUSEDESK_STORE_CONNINFO at it, so the abusedesk commands that follow use it;
# nothing on SQLite (the configuration's path decides). with_pg.sh drops these
# databases with the test's own.
#
# db_is_pg: true when the tests run on PostgreSQL.
declare -gA AD_PG_DBS 2>/dev/null || true

db_is_pg() {
  [ "${ABUSEDESK_STORE_BACKEND:-}" = postgresql ]
}

db_psql() {
  local p
  p=$(command -v psql 2>/dev/null || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -1)
  "$p" -XAtq -v ON_ERROR_STOP=1 "$@"
}

dbq() { # DBFILE [SQL...]
  local db=$1
  shift
  if db_is_pg; then
    local ci=${AD_PG_DBS[$db]:-$ABUSEDESK_STORE_CONNINFO}
    if [ $# -gt 0 ]; then
      db_psql "$ci" -c "$*"
    else
      db_psql "$ci" -f -
    fi
  else
    sqlite3 "$db" "$@"
  fi
}

db_select() { # DBFILE
  db_is_pg || return 0
  local path=$1
  : "${AD_PG_BASE_CONNINFO:=$ABUSEDESK_STORE_CONNINFO}"
  export AD_PG_BASE_CONNINFO
  if [ -z "${AD_PG_DBS[$path]:-}" ]; then
    local base name
    base=$(db_psql "$AD_PG_BASE_CONNINFO" -c "SELECT current_database()") || return 1
    name="${base}_$(printf '%s' "$path" | sha256sum | cut -c1-10)"
    db_psql "$AD_PG_BASE_CONNINFO" -c "CREATE DATABASE \"$name\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null || return 1
    AD_PG_DBS[$path]="$AD_PG_BASE_CONNINFO dbname=$name"
  fi
  ABUSEDESK_STORE_CONNINFO=${AD_PG_DBS[$path]}
  export ABUSEDESK_STORE_CONNINFO
}

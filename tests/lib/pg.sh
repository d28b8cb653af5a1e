# tests/lib/pg.sh: a private PostgreSQL for the tests. Sourceable, or run as
#   bash tests/lib/pg.sh start STATE_DIR   (ctest fixture: one cluster per run)
#   bash tests/lib/pg.sh stop STATE_DIR
# pg_cluster_start STATE_DIR makes a cluster with Debian's initdb/pg_ctl
# (/usr/lib/postgresql/*/bin) in a temporary directory, listening on 127.0.0.1
# at a free port only (no other socket but one in that directory), trust
# authentication, C collation and UTF-8 like the desk expects, fsync off (test
# data). As root it runs the server as the postgres user (else nobody), since
# PostgreSQL refuses to run as root. STATE_DIR/env records where it is, for
# pg_cluster_load. pg_db_create NAME / pg_db_drop NAME make and remove one
# database; pg_use NAME exports ABUSEDESK_STORE_BACKEND=postgresql and
# ABUSEDESK_STORE_CONNINFO for it, which abusedesk applies over its
# configuration file. pg_psql ARGS runs psql on the cluster's postgres database.

pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  done
  d=$(command -v initdb 2>/dev/null) && { dirname "$d"; return 0; }
  return 1
}

# Runs a command as the cluster's owner.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$AD_PG_OWNER" -- "$@"
  else
    "$@"
  fi
}

pg_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_cluster_start() { # STATE_DIR
  local state=$1
  mkdir -p "$state"
  AD_PG_BIN=$(pg_bindir) || { echo "pg.sh: no initdb (apt-get install postgresql)" >&2; return 1; }
  AD_PG_OWNER=$(id -un)
  if [ "$(id -u)" = 0 ]; then
    if id postgres >/dev/null 2>&1; then AD_PG_OWNER=postgres; else AD_PG_OWNER=nobody; fi
  fi
  AD_PG_DIR=$(mktemp -d /tmp/ad-pg.XXXXXX)
  chmod 755 "$AD_PG_DIR"
  [ "$(id -u)" = 0 ] && chown "$AD_PG_OWNER" "$AD_PG_DIR"
  if ! pg_as_owner "$AD_PG_BIN/initdb" -D "$AD_PG_DIR/data" -A trust -U postgres -E UTF8 \
      --locale=C -N >"$AD_PG_DIR/initdb.log" 2>&1; then
    cat "$AD_PG_DIR/initdb.log" >&2
    return 1
  fi
  local try
  for try in 1 2 3 4 5; do
    AD_PG_PORT=$(pg_free_port)
    if pg_as_owner "$AD_PG_BIN/pg_ctl" -D "$AD_PG_DIR/data" -l "$AD_PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$AD_PG_PORT -c unix_socket_directories=$AD_PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null 2>&1; then
      break
    fi
    AD_PG_PORT=
  done
  if [ -z "$AD_PG_PORT" ]; then
    echo "pg.sh: the server did not start:" >&2
    tail -20 "$AD_PG_DIR/server.log" >&2
    return 1
  fi
  export AD_PG_BIN AD_PG_OWNER AD_PG_DIR AD_PG_PORT
  cat >"$state/env" <<ENV
AD_PG_BIN='$AD_PG_BIN'
AD_PG_OWNER='$AD_PG_OWNER'
AD_PG_DIR='$AD_PG_DIR'
AD_PG_PORT='$AD_PG_PORT'
export AD_PG_BIN AD_PG_OWNER AD_PG_DIR AD_PG_PORT
ENV
}

# Loads the cluster a fixture started; fails when it is not running.
pg_cluster_load() { # STATE_DIR
  [ -f "$1/env" ] || return 1
  . "$1/env"
  pg_as_owner "$AD_PG_BIN/pg_ctl" -D "$AD_PG_DIR/data" status >/dev/null 2>&1
}

pg_cluster_stop() { # STATE_DIR (optional once started or loaded in this shell)
  local state=${1:-}
  if [ -n "$state" ] && [ -z "${AD_PG_DIR:-}" ]; then
    [ -f "$state/env" ] || return 0
    . "$state/env"
  fi
  [ -n "${AD_PG_DIR:-}" ] || return 0
  case "$AD_PG_DIR" in /tmp/ad-pg.*) ;; *) echo "pg.sh: refusing to remove $AD_PG_DIR" >&2; return 1 ;; esac
  pg_as_owner "$AD_PG_BIN/pg_ctl" -D "$AD_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
  rm -rf "$AD_PG_DIR"
  [ -n "$state" ] && rm -f "$state/env"
  unset AD_PG_DIR AD_PG_PORT
  return 0
}

pg_conninfo() { # DBNAME
  echo "host=127.0.0.1 port=$AD_PG_PORT user=postgres dbname=$1 sslmode=disable gssencmode=disable"
}

pg_psql() { # ARGS... (on the postgres database)
  "$AD_PG_BIN/psql" "$(pg_conninfo postgres)" -XAtq -v ON_ERROR_STOP=1 "$@"
}

pg_db_create() { # NAME
  pg_psql -c "CREATE DATABASE \"$1\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
}

pg_db_drop() { # NAME (closes what still connects to it: a daemon a test left)
  pg_psql -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null
}

pg_use() { # NAME
  export ABUSEDESK_STORE_BACKEND=postgresql
  ABUSEDESK_STORE_CONNINFO=$(pg_conninfo "$1")
  export ABUSEDESK_STORE_CONNINFO
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -u
  case "${1:-}" in
    start) pg_cluster_stop "${2:?STATE_DIR}"; pg_cluster_start "$2" && echo "pg.sh: PostgreSQL on 127.0.0.1:$AD_PG_PORT ($AD_PG_DIR)" ;;
    stop) pg_cluster_stop "${2:?STATE_DIR}" && echo "pg.sh: stopped" ;;
    *) echo "usage: bash tests/lib/pg.sh start|stop STATE_DIR" >&2; exit 64 ;;
  esac
fi

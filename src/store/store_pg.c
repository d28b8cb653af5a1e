/*
 * store_pg.c: the PostgreSQL backend of the store, through libpq. store.c and
 * store_q.c call it when [store] backend = postgresql; nothing above the store
 * sees it. One connection per store handle, like SQLite's. Statements are
 * prepared once per connection (PQprepare, named from a counter), run with text
 * parameters (bytea in binary) and their whole result is fetched on the first
 * step, then walked row by row: results are small, and no read snapshot
 * outlives the step.
 *
 * SQLite semantics kept: store_begin() serialises writers like BEGIN IMMEDIATE
 * (a transaction-level advisory lock), [store] busy_timeout_ms is the
 * lock_timeout, store_last_id() returns the id of the last row inserted (the
 * INSERTs into tables with an INTEGER PRIMARY KEY id, BIGSERIAL here, get
 * RETURNING id appended when prepared; lastval() for the rest), COMMIT without
 * BEGIN is an error, and a COMMIT of a transaction that an error aborted is one
 * too (PostgreSQL would turn it into a ROLLBACK silently).
 *
 * Errors: AD_ERR_BUSY for a lost or refused connection, serialization failures,
 * deadlocks, lock timeouts and lack of resources (the caller retries later);
 * AD_ERR_STORE otherwise, with the server's message. A lost connection is
 * re-established (PQreset) on the next use, statements are prepared again, the
 * LISTEN is renewed and the data version bumped so that caches are re-read.
 * When it was lost inside a transaction, every statement fails with
 * AD_ERR_BUSY until the caller rolls back (or commits, which then fails), so
 * that the rest of a half-lost transaction never runs in autocommit.
 */
#include <glib.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_priv.h"
#include "store_sql.h"

/* The key of the advisory lock every writing transaction takes first ("abus"). */
#define PG_WRITE_LOCK "1633842547"
/* Channel of the change notifications (see store_pg_extras). */
#define PG_CHANNEL "abusedesk_change"

const char store_pg_extras[] =
    "CREATE OR REPLACE FUNCTION abusedesk_notify_change() RETURNS trigger LANGUAGE plpgsql AS"
    " $f$ BEGIN PERFORM pg_notify('" PG_CHANNEL "', TG_TABLE_NAME); RETURN NULL; END $f$;"
    "DROP TRIGGER IF EXISTS abusedesk_notify ON locks;"
    "CREATE TRIGGER abusedesk_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON locks"
    " FOR EACH STATEMENT EXECUTE FUNCTION abusedesk_notify_change();"
    "DROP TRIGGER IF EXISTS abusedesk_notify ON customers;"
    "CREATE TRIGGER abusedesk_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON customers"
    " FOR EACH STATEMENT EXECUTE FUNCTION abusedesk_notify_change();";

/* Notices (e.g. "there is no transaction in progress") are not errors; libpq
 * would print them on stderr. */
static void notice_quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static bool state_busy(const char *state)
{
    if (!state)
        return false;
    return strncmp(state, "08", 2) == 0         /* connection exception */
           || strcmp(state, "40001") == 0       /* serialization_failure */
           || strcmp(state, "40P01") == 0       /* deadlock_detected */
           || strcmp(state, "55P03") == 0       /* lock_not_available: lock_timeout */
           || strcmp(state, "57014") == 0       /* query_canceled: statement_timeout */
           || strncmp(state, "53", 2) == 0      /* insufficient resources: disk, connections */
           || strncmp(state, "57P", 3) == 0;    /* shutdown, cannot connect now */
}

/* Copies a libpq message into err without its trailing newline. */
static int set_err(struct ad_err *err, int code, const char *what, const char *msg,
                   const char *sql)
{
    char *m = g_strstrip(g_strdup(msg && *msg ? msg : "unknown error"));
    for (char *p = m; *p; p++)
        if (*p == '\n')
            *p = ' ';
    if (sql)
        ad_err_set(err, code, "store: %s: %s (%.60s...)", what, m, sql);
    else
        ad_err_set(err, code, "store: %s: %s", what, m);
    g_free(m);
    return code;
}

/* Maps a failed result (or NULL: no result at all) to AD_ERR_BUSY or
 * AD_ERR_STORE, noting a connection lost inside a transaction. */
static int res_err(struct store *st, PGresult *res, struct ad_err *err, const char *what,
                   const char *sql, PGTransactionStatusType before)
{
    PGconn *c = st->pg->conn;
    bool lost = PQstatus(c) != CONNECTION_OK;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    int code = lost || state_busy(state) ? AD_ERR_BUSY : AD_ERR_STORE;
    if (lost && before != PQTRANS_IDLE)
        st->pg->lost_tx = true;
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    return set_err(err, code, what, msg && *msg ? msg : PQerrorMessage(c), sql);
}

/* Runs sql (one or more statements, no parameters) on the connection. */
static int run(struct store *st, const char *sql, struct ad_err *err, const char *what)
{
    PGconn *c = st->pg->conn;
    PGTransactionStatusType before = PQtransactionStatus(c);
    PGresult *res = PQexec(c, sql);
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        rc = res_err(st, res, err, what, NULL, before);
    PQclear(res);
    return rc;
}

/* What every new connection needs: the lock wait, the encoding we send, the
 * change channel. Statements prepared on an earlier connection are gone. */
static int session_setup(struct store *st, struct ad_err *err)
{
    struct store_pg *pg = st->pg;
    PQsetNoticeProcessor(pg->conn, notice_quiet, NULL);
    char sql[160];
    snprintf(sql, sizeof sql,
             "SET lock_timeout = %d; SET client_encoding = 'UTF8'; LISTEN " PG_CHANNEL,
             pg->lock_timeout_ms > 0 ? pg->lock_timeout_ms : 1);
    int rc = run(st, sql, err, "session setup");
    if (rc)
        return rc;
    pg->gen++;
    pg->inserted = false;
    pg->last_id = 0;
    pg->data_version++;
    return 0;
}

/* Reconnects a lost connection (not inside a lost transaction). */
static int ensure(struct store *st, struct ad_err *err)
{
    struct store_pg *pg = st->pg;
    if (PQstatus(pg->conn) == CONNECTION_OK && !pg->lost_tx)
        return 0;
    if (pg->lost_tx)
        return ad_err_set(err, AD_ERR_BUSY, "store: the connection to PostgreSQL was lost "
                          "inside a transaction; it was rolled back");
    PQreset(pg->conn);
    if (PQstatus(pg->conn) != CONNECTION_OK)
        return set_err(err, AD_ERR_BUSY, "cannot reconnect to PostgreSQL",
                       PQerrorMessage(pg->conn), NULL);
    return session_setup(st, err);
}

/* Tables whose id is INTEGER PRIMARY KEY in the migrations: INSERTs into them
 * return their id (store_last_id). */
static void find_serial_tables(struct store_pg *pg)
{
    pg->serial_tables = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (unsigned i = 0; i < store_sql_n_migrations; i++) {
        const char *s = store_sql_migrations[i];
        while ((s = strstr(s, "CREATE TABLE ")) != NULL) {
            s += strlen("CREATE TABLE ");
            const char *e = s + strcspn(s, " (");
            char *name = g_strndup(s, (size_t)(e - s));
            const char *p = strchr(e, '(');
            if (p) {
                p++;
                while (*p == ' ')
                    p++;
            }
            if (p && g_str_has_prefix(p, "id INTEGER PRIMARY KEY"))
                g_hash_table_add(pg->serial_tables, name);
            else
                g_free(name);
        }
    }
}

int store_pg_open(struct store *st, const char *conninfo, int busy_timeout_ms,
                  struct ad_err *err)
{
    struct store_pg *pg = g_new0(struct store_pg, 1);
    st->pg = pg;
    pg->lock_timeout_ms = busy_timeout_ms;
    find_serial_tables(pg);
    pg->conn = PQconnectdb(conninfo ? conninfo : "");
    if (!pg->conn)
        return ad_err_set(err, AD_ERR_NOMEM, "store: cannot connect to PostgreSQL: out of memory");
    if (PQstatus(pg->conn) != CONNECTION_OK)
        return set_err(err, AD_ERR_BUSY, "cannot connect to PostgreSQL",
                       PQerrorMessage(pg->conn), NULL);
    return session_setup(st, err);
}

void store_pg_close(struct store *st)
{
    if (!st->pg)
        return;
    if (st->pg->conn)
        PQfinish(st->pg->conn);
    if (st->pg->serial_tables)
        g_hash_table_destroy(st->pg->serial_tables);
    g_free(st->pg->implicit_sp);
    g_free(st->pg);
    st->pg = NULL;
}

/* The savepoint name of "SAVEPOINT x" / "RELEASE [SAVEPOINT] x"; g_free() it. */
static char *savepoint_name(const char *sql)
{
    const char *p = strrchr(sql, ' ');
    return g_strstrip(g_strdup(p ? p + 1 : sql));
}

int store_pg_exec(struct store *st, const char *sql, struct ad_err *err)
{
    struct store_pg *pg = st->pg;
    int rc = ensure(st, err);
    if (rc)
        return rc;
    /* SQLite starts a transaction for a SAVEPOINT outside one, and releasing
     * that outermost savepoint commits it; PostgreSQL refuses both. */
    bool sp = g_ascii_strncasecmp(sql, "SAVEPOINT ", 10) == 0;
    if (sp && PQtransactionStatus(pg->conn) == PQTRANS_IDLE) {
        if ((rc = store_pg_begin(st, err)))
            return rc;
        g_free(pg->implicit_sp);
        pg->implicit_sp = savepoint_name(sql);
    }
    rc = run(st, sql, err, "exec");
    if (rc && sp && pg->implicit_sp && PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
        store_pg_rollback(st); /* as if the SAVEPOINT never began it */
    if (rc == 0 && pg->implicit_sp && g_ascii_strncasecmp(sql, "RELEASE ", 8) == 0) {
        char *name = savepoint_name(sql);
        if (strcmp(name, pg->implicit_sp) == 0)
            rc = store_pg_commit(st, err);
        g_free(name);
    }
    if (rc == 0 && (g_ascii_strncasecmp(sql, "COMMIT", 6) == 0 ||
                    (g_ascii_strncasecmp(sql, "ROLLBACK", 8) == 0 && !strstr(sql, " TO "))))
        pg->lost_tx = false;
    if (PQtransactionStatus(pg->conn) == PQTRANS_IDLE) {
        g_free(pg->implicit_sp);
        pg->implicit_sp = NULL;
    }
    return rc;
}

/* The INSERT's table when it is one with a BIGSERIAL id and the statement
 * returns nothing yet: such statements get RETURNING id. */
static bool wants_id(struct store_pg *pg, const char *sql)
{
    if (g_ascii_strncasecmp(sql, "INSERT INTO ", 12) != 0 || strstr(sql, "RETURNING"))
        return false;
    const char *s = sql + 12;
    char *name = g_strndup(s, strcspn(s, " ("));
    bool yes = g_hash_table_contains(pg->serial_tables, name);
    g_free(name);
    return yes;
}

int store_pg_q_prepare(struct store_q *q, struct ad_err *err)
{
    struct store *st = q->st;
    struct store_pg *pg = st->pg;
    int rc = ensure(st, err);
    if (rc)
        return rc;
    if (q->gen == pg->gen)
        return 0;
    if (!q->name[0])
        snprintf(q->name, sizeof q->name, "ad%u", ++pg->next_name);
    q->returns_id = wants_id(pg, q->sql);
    char *text = q->returns_id ? g_strconcat(q->sql, " RETURNING id", NULL) : NULL;
    PGTransactionStatusType before = PQtransactionStatus(pg->conn);
    PGresult *res = PQprepare(pg->conn, q->name, text ? text : q->sql, 0, NULL);
    g_free(text);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = res_err(st, res, err, "prepare", q->sql, before);
        PQclear(res);
        return rc;
    }
    PQclear(res);
    res = PQdescribePrepared(pg->conn, q->name);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = res_err(st, res, err, "describe", q->sql, before);
        PQclear(res);
        return rc;
    }
    int n = PQnparams(res);
    PQclear(res);
    if (n != q->n_params) {
        store_pg_q_clear(q, true);
        g_free(q->values);
        g_free(q->lengths);
        g_free(q->formats);
        q->n_params = n;
        q->values = g_new0(char *, n > 0 ? n : 1);
        q->lengths = g_new0(int, n > 0 ? n : 1);
        q->formats = g_new0(int, n > 0 ? n : 1);
    }
    q->gen = pg->gen;
    return 0;
}

void store_pg_q_clear(struct store_q *q, bool bindings)
{
    PQclear(q->res);
    q->res = NULL;
    q->row = -1;
    q->n_rows = 0;
    q->done = false;
    if (q->blob)
        PQfreemem(q->blob);
    q->blob = NULL;
    if (bindings)
        for (int i = 0; i < q->n_params; i++) {
            g_free(q->values[i]);
            q->values[i] = NULL;
            q->lengths[i] = 0;
            q->formats[i] = 0;
        }
}

void store_pg_q_free(struct store_q *q)
{
    store_pg_q_clear(q, true);
    g_free(q->values);
    g_free(q->lengths);
    g_free(q->formats);
    q->values = NULL;
}

void store_pg_q_bind(struct store_q *q, int n, const char *v, size_t len, bool binary)
{
    if (n < 1 || n > q->n_params)
        return; /* like SQLite: a parameter the statement does not use */
    int i = n - 1;
    g_free(q->values[i]);
    q->values[i] = NULL;
    q->lengths[i] = 0;
    q->formats[i] = 0;
    if (!v)
        return;
    if (binary) {
        q->values[i] = g_malloc(len > 0 ? len : 1);
        if (len > 0)
            memcpy(q->values[i], v, len);
        q->lengths[i] = (int)len;
        q->formats[i] = 1;
    } else if (g_utf8_validate(v, -1, NULL)) {
        q->values[i] = g_strdup(v);
    } else {
        /* The database is UTF-8 and refuses other bytes; SQLite would keep them.
         * Invalid sequences become U+FFFD rather than failing the whole write. */
        q->values[i] = g_utf8_make_valid(v, -1);
    }
}

/* Notes what a finished command did: rows changed, the id it returned. */
static void note_command(struct store_q *q)
{
    struct store_pg *pg = q->st->pg;
    const char *status = PQcmdStatus(q->res);
    if (g_str_has_prefix(status, "INSERT") || g_str_has_prefix(status, "UPDATE") ||
        g_str_has_prefix(status, "DELETE") || g_str_has_prefix(status, "MERGE"))
        pg->changes = atoi(PQcmdTuples(q->res));
    if (g_str_has_prefix(status, "INSERT")) {
        pg->inserted = true;
        pg->last_id_known = false;
    }
    if (q->returns_id) {
        int n = PQntuples(q->res);
        if (n > 0) {
            pg->last_id = g_ascii_strtoll(PQgetvalue(q->res, n - 1, 0), NULL, 10);
            pg->last_id_known = true;
        }
        q->n_rows = 0; /* the caller asked for no rows */
    }
}

int store_pg_q_step(struct store_q *q, struct ad_err *err)
{
    if (q->done)
        store_pg_q_clear(q, false); /* stepping after the end runs it again, as in SQLite */
    if (!q->res) {
        int rc = store_pg_q_prepare(q, err); /* the connection may have been reset */
        if (rc)
            return rc;
        PGconn *c = q->st->pg->conn;
        PGTransactionStatusType before = PQtransactionStatus(c);
        PGresult *res = PQexecPrepared(c, q->name, q->n_params, (const char *const *)q->values,
                                       q->lengths, q->formats, 0);
        ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
            rc = res_err(q->st, res, err, "step", q->sql, before);
            PQclear(res);
            return rc;
        }
        q->res = res;
        q->row = -1;
        q->n_rows = PQntuples(res);
        note_command(q);
    }
    if (q->blob)
        PQfreemem(q->blob);
    q->blob = NULL;
    if (++q->row < q->n_rows)
        return 1;
    q->done = true;
    return 0;
}

bool store_pg_q_col_null(struct store_q *q, int col)
{
    return !q->res || q->row < 0 || q->row >= q->n_rows || col < 0 ||
           col >= PQnfields(q->res) || PQgetisnull(q->res, q->row, col);
}

const char *store_pg_q_col_text(struct store_q *q, int col)
{
    if (store_pg_q_col_null(q, col))
        return NULL;
    return PQgetvalue(q->res, q->row, col);
}

const unsigned char *store_pg_q_col_blob(struct store_q *q, int col, size_t *len)
{
    *len = 0;
    const char *v = store_pg_q_col_text(q, col);
    if (!v)
        return NULL;
    if (!q->blob || q->blob_col != col) {
        if (q->blob)
            PQfreemem(q->blob);
        q->blob = PQunescapeBytea((const unsigned char *)v, &q->blob_len);
        q->blob_col = col;
        if (!q->blob)
            return NULL;
    }
    *len = q->blob_len;
    return q->blob;
}

int64_t store_pg_last_id(struct store *st)
{
    struct store_pg *pg = st->pg;
    if (pg->last_id_known)
        return pg->last_id;
    if (!pg->inserted || PQstatus(pg->conn) != CONNECTION_OK)
        return 0;
    /* An INSERT we did not append RETURNING id to: the sequence it advanced. */
    PGresult *res = PQexec(pg->conn, "SELECT lastval()");
    int64_t id = 0;
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        id = g_ascii_strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return id;
}

bool store_pg_in_transaction(struct store *st)
{
    if (st->pg->lost_tx)
        return true;
    PGTransactionStatusType t = PQtransactionStatus(st->pg->conn);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

int store_pg_begin(struct store *st, struct ad_err *err)
{
    int rc = ensure(st, err);
    if (rc)
        return rc;
    if ((rc = run(st, "BEGIN", err, "begin")))
        return rc;
    /* Writers take turns, as with SQLite's BEGIN IMMEDIATE: read-then-write
     * sequences (find or open an incident, claim a mail) need no retry loops. */
    if ((rc = run(st, "SELECT pg_advisory_xact_lock(" PG_WRITE_LOCK ")", err, "begin"))) {
        if (PQstatus(st->pg->conn) == CONNECTION_OK)
            run(st, "ROLLBACK", NULL, "rollback");
        st->pg->lost_tx = false;
    }
    return rc;
}

int store_pg_commit(struct store *st, struct ad_err *err)
{
    struct store_pg *pg = st->pg;
    g_free(pg->implicit_sp);
    pg->implicit_sp = NULL;
    if (pg->lost_tx) {
        pg->lost_tx = false;
        return ad_err_set(err, AD_ERR_BUSY, "store: commit: the connection to PostgreSQL was "
                          "lost; the transaction was rolled back");
    }
    PGTransactionStatusType t = PQtransactionStatus(pg->conn);
    if (PQstatus(pg->conn) != CONNECTION_OK)
        return set_err(err, AD_ERR_BUSY, "commit", PQerrorMessage(pg->conn), NULL);
    if (t == PQTRANS_IDLE)
        return ad_err_set(err, AD_ERR_STORE,
                          "store: commit: cannot commit - no transaction is active");
    if (t == PQTRANS_INERROR) {
        run(st, "ROLLBACK", NULL, "rollback");
        return ad_err_set(err, AD_ERR_STORE, "store: commit: an earlier statement failed; "
                          "the transaction was rolled back");
    }
    return run(st, "COMMIT", err, "commit");
}

int store_pg_rollback(struct store *st)
{
    struct store_pg *pg = st->pg;
    g_free(pg->implicit_sp);
    pg->implicit_sp = NULL;
    pg->lost_tx = false;
    if (PQstatus(pg->conn) != CONNECTION_OK || PQtransactionStatus(pg->conn) == PQTRANS_IDLE)
        return 0;
    return run(st, "ROLLBACK", NULL, "rollback");
}

int store_pg_data_version(struct store *st, int64_t *version, struct ad_err *err)
{
    struct store_pg *pg = st->pg;
    int rc = ensure(st, err); /* a reconnect bumps the version */
    if (rc)
        return rc;
    if (!PQconsumeInput(pg->conn)) {
        if ((rc = ensure(st, err)))
            return rc;
        if (!PQconsumeInput(pg->conn))
            return set_err(err, AD_ERR_BUSY, "data version", PQerrorMessage(pg->conn), NULL);
    }
    bool any = false;
    PGnotify *n;
    while ((n = PQnotifies(pg->conn)) != NULL) {
        any = true;
        PQfreemem(n);
    }
    if (any)
        pg->data_version++;
    *version = pg->data_version;
    return 0;
}

char *store_pg_ddl(const char *sqlite_ddl)
{
    /* SQLite's rowid alias becomes an identity of its own; BLOB is BYTEA. The
     * rest of the migrations is written to suit both. */
    static const char *const map[][2] = {
        { "INTEGER PRIMARY KEY", "BIGSERIAL PRIMARY KEY" },
        { " BLOB", " BYTEA" },
    };
    char *s = g_strdup(sqlite_ddl);
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++) {
        char **parts = g_strsplit(s, map[i][0], -1);
        g_free(s);
        s = g_strjoinv(map[i][1], parts);
        g_strfreev(parts);
    }
    return s;
}

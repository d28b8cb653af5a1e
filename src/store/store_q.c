/*
 * store_q.c: store_q.h for both backends. Statements are made on first use and
 * kept in a hash table of the store keyed by the SQL text's address;
 * store_close() frees them. SQLite binds parameters by name ("$n"), so a
 * statement may use its placeholders in any order and more than once;
 * PostgreSQL does the same natively (store_pg.c). Errors come back as
 * AD_ERR_BUSY (locked, unreachable, lost connection: retry later) or
 * AD_ERR_STORE with the message in err.
 */
#include "store_q.h"

#include <glib.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "store_priv.h"

static void q_free(gpointer p)
{
    struct store_q *q = p;
    if (q->s)
        sqlite3_finalize(q->s);
    store_pg_q_free(q);
    g_free(q);
}

GHashTable *store_q_cache_new(void)
{
    return g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, q_free);
}

int store_q_get(struct store *st, const char *sql, struct store_q **out, struct ad_err *err)
{
    struct store_q *q = g_hash_table_lookup(st->cache, sql);
    bool fresh = q == NULL;
    if (fresh) {
        q = g_new0(struct store_q, 1);
        q->st = st;
        q->sql = sql;
        if (st->backend == STORE_SQLITE) {
            int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &q->s, NULL);
            if (rc != SQLITE_OK) {
                g_free(q);
                return store_sql_err(st, rc, err, "prepare");
            }
        }
        g_hash_table_insert(st->cache, (gpointer)sql, q);
    }
    if (st->backend == STORE_PG) {
        store_pg_q_clear(q, true);
        int rc = store_pg_q_prepare(q, err);
        if (rc)
            return rc;
    } else if (!fresh) {
        sqlite3_reset(q->s);
        sqlite3_clear_bindings(q->s);
    }
    q->bind_rc = 0;
    *out = q;
    return 0;
}

static int index_of(struct store_q *q, int n)
{
    char name[16];
    snprintf(name, sizeof name, "$%d", n);
    return sqlite3_bind_parameter_index(q->s, name);
}

/* Keeps the first failed bind (too big, out of memory): the next step reports it
 * instead of running the statement with that parameter missing. */
static void bound(struct store_q *q, int n, int rc)
{
    if (rc != SQLITE_OK && q->bind_rc == 0) {
        q->bind_rc = rc;
        q->bind_n = n;
    }
}

void store_q_text(struct store_q *q, int n, const char *s)
{
    if (q->st->backend == STORE_PG) {
        store_pg_q_bind(q, n, s, 0, false);
        return;
    }
    int i = index_of(q, n);
    if (i <= 0)
        return;
    if (s)
        bound(q, n, sqlite3_bind_text(q->s, i, s, -1, SQLITE_TRANSIENT));
    else
        bound(q, n, sqlite3_bind_null(q->s, i));
}

void store_q_blob(struct store_q *q, int n, const void *p, size_t len)
{
    if (q->st->backend == STORE_PG) {
        store_pg_q_bind(q, n, p, len, true);
        return;
    }
    int i = index_of(q, n);
    if (i <= 0)
        return;
    if (p)
        bound(q, n, sqlite3_bind_blob64(q->s, i, p, len, SQLITE_TRANSIENT));
    else
        bound(q, n, sqlite3_bind_null(q->s, i));
}

void store_q_int(struct store_q *q, int n, int64_t v)
{
    if (q->st->backend == STORE_PG) {
        char buf[24];
        snprintf(buf, sizeof buf, "%lld", (long long)v);
        store_pg_q_bind(q, n, buf, 0, false);
        return;
    }
    int i = index_of(q, n);
    if (i > 0)
        bound(q, n, sqlite3_bind_int64(q->s, i, v));
}

void store_q_double(struct store_q *q, int n, double v)
{
    if (q->st->backend == STORE_PG) {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        store_pg_q_bind(q, n, g_ascii_dtostr(buf, sizeof buf, v), 0, false);
        return;
    }
    int i = index_of(q, n);
    if (i > 0)
        bound(q, n, sqlite3_bind_double(q->s, i, v));
}

void store_q_null(struct store_q *q, int n)
{
    if (q->st->backend == STORE_PG) {
        store_pg_q_bind(q, n, NULL, 0, false);
        return;
    }
    int i = index_of(q, n);
    if (i > 0)
        bound(q, n, sqlite3_bind_null(q->s, i));
}

int store_q_step(struct store_q *q, struct ad_err *err)
{
    if (q->st->backend == STORE_PG)
        return store_pg_q_step(q, err);
    if (q->bind_rc) {
        int code = q->bind_rc == SQLITE_NOMEM ? AD_ERR_NOMEM : AD_ERR_STORE;
        ad_err_set(err, code, "store: parameter $%d: %s (%.60s...)", q->bind_n,
                   sqlite3_errstr(q->bind_rc), q->sql);
        return code;
    }
    int rc = sqlite3_step(q->s);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    int code = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_IOERR || rc == SQLITE_FULL)
                   ? AD_ERR_BUSY
                   : AD_ERR_STORE;
    ad_err_set(err, code, "store: %s (%.60s...)", sqlite3_errmsg(q->st->db), q->sql);
    sqlite3_reset(q->s);
    return code;
}

int store_q_run(struct store_q *q, struct ad_err *err)
{
    int rc;
    while ((rc = store_q_step(q, err)) == 1)
        ;
    return rc;
}

const char *store_q_col_text(struct store_q *q, int col)
{
    if (q->st->backend == STORE_PG)
        return store_pg_q_col_text(q, col);
    return (const char *)sqlite3_column_text(q->s, col);
}

const unsigned char *store_q_col_blob(struct store_q *q, int col, size_t *len)
{
    if (q->st->backend == STORE_PG)
        return store_pg_q_col_blob(q, col, len);
    const unsigned char *p = sqlite3_column_blob(q->s, col);
    *len = (size_t)sqlite3_column_bytes(q->s, col);
    return p;
}

int64_t store_q_col_int(struct store_q *q, int col)
{
    if (q->st->backend == STORE_PG) {
        const char *v = store_pg_q_col_text(q, col);
        return v ? (int64_t)g_ascii_strtoll(v, NULL, 10) : 0;
    }
    return sqlite3_column_int64(q->s, col);
}

double store_q_col_double(struct store_q *q, int col)
{
    if (q->st->backend == STORE_PG) {
        const char *v = store_pg_q_col_text(q, col);
        return v ? g_ascii_strtod(v, NULL) : 0;
    }
    return sqlite3_column_double(q->s, col);
}

bool store_q_col_null(struct store_q *q, int col)
{
    if (q->st->backend == STORE_PG)
        return store_pg_q_col_null(q, col);
    return sqlite3_column_type(q->s, col) == SQLITE_NULL;
}

int64_t store_last_id(struct store *st)
{
    if (st->backend == STORE_PG)
        return store_pg_last_id(st);
    return sqlite3_last_insert_rowid(st->db);
}

int store_changes(struct store *st)
{
    if (st->backend == STORE_PG)
        return st->pg->changes;
    return sqlite3_changes(st->db);
}

int store_exec(struct store *st, const char *sql, struct ad_err *err)
{
    if (st->backend == STORE_PG)
        return store_pg_exec(st, sql, err);
    char *msg = NULL;
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int code = store_sql_err(st, rc, err, msg ? msg : "exec");
        sqlite3_free(msg);
        return code;
    }
    return 0;
}

bool store_in_transaction(struct store *st)
{
    if (st->backend == STORE_PG)
        return store_pg_in_transaction(st);
    return !sqlite3_get_autocommit(st->db);
}

int store_data_version(struct store *st, int64_t *version, struct ad_err *err)
{
    static const char sql[] = "PRAGMA data_version";
    if (st->backend == STORE_PG)
        return store_pg_data_version(st, version, err);
    struct store_q *q;
    int rc = store_q_get(st, sql, &q, err);
    if (rc)
        return rc;
    rc = store_q_step(q, err);
    if (rc == 1)
        *version = store_q_col_int(q, 0);
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

void store_q_reset(struct store_q *q)
{
    if (q->st->backend == STORE_PG)
        store_pg_q_clear(q, false);
    else
        sqlite3_reset(q->s);
}

static void reset_one(gpointer key, gpointer value, gpointer user)
{
    store_q_reset(value);
}

void store_q_reset_all(struct store *st)
{
    g_hash_table_foreach(st->cache, reset_one, NULL);
}

void store_reset_statements(struct store *st)
{
    store_q_reset_all(st);
}

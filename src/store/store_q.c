/*
 * store_q.c: the SQLite implementation of store_q.h. Statements are prepared on
 * first use and kept in a hash table of the store keyed by the SQL text's
 * address; store_close() finalizes them. Parameters are bound by name ("$n"), so
 * a statement may use its placeholders in any order and more than once.
 */
#include "store_q.h"

#include <glib.h>
#include <sqlite3.h>
#include <stdio.h>

#include "store_priv.h"

int store_q_get(struct store *st, const char *sql, struct store_q **q, struct ad_err *err)
{
    sqlite3_stmt *s = g_hash_table_lookup(st->cache, sql);
    if (!s) {
        int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
        if (rc != SQLITE_OK)
            return store_sql_err(st, rc, err, "prepare");
        g_hash_table_insert(st->cache, (gpointer)sql, s);
    } else {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    *q = (struct store_q *)s;
    return 0;
}

static int index_of(struct store_q *q, int n)
{
    char name[16];
    snprintf(name, sizeof name, "$%d", n);
    return sqlite3_bind_parameter_index((sqlite3_stmt *)q, name);
}

void store_q_text(struct store_q *q, int n, const char *s)
{
    int i = index_of(q, n);
    if (i <= 0)
        return;
    if (s)
        sqlite3_bind_text((sqlite3_stmt *)q, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null((sqlite3_stmt *)q, i);
}

void store_q_int(struct store_q *q, int n, int64_t v)
{
    int i = index_of(q, n);
    if (i > 0)
        sqlite3_bind_int64((sqlite3_stmt *)q, i, v);
}

void store_q_double(struct store_q *q, int n, double v)
{
    int i = index_of(q, n);
    if (i > 0)
        sqlite3_bind_double((sqlite3_stmt *)q, i, v);
}

void store_q_null(struct store_q *q, int n)
{
    int i = index_of(q, n);
    if (i > 0)
        sqlite3_bind_null((sqlite3_stmt *)q, i);
}

int store_q_step(struct store_q *q, struct ad_err *err)
{
    sqlite3_stmt *s = (sqlite3_stmt *)q;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    sqlite3 *db = sqlite3_db_handle(s);
    int code = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_IOERR || rc == SQLITE_FULL)
                   ? AD_ERR_BUSY
                   : AD_ERR_STORE;
    ad_err_set(err, code, "store: %s (%.60s...)", sqlite3_errmsg(db), sqlite3_sql(s));
    sqlite3_reset(s);
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
    return (const char *)sqlite3_column_text((sqlite3_stmt *)q, col);
}

int64_t store_q_col_int(struct store_q *q, int col)
{
    return sqlite3_column_int64((sqlite3_stmt *)q, col);
}

double store_q_col_double(struct store_q *q, int col)
{
    return sqlite3_column_double((sqlite3_stmt *)q, col);
}

bool store_q_col_null(struct store_q *q, int col)
{
    return sqlite3_column_type((sqlite3_stmt *)q, col) == SQLITE_NULL;
}

int64_t store_last_id(struct store *st)
{
    return sqlite3_last_insert_rowid(st->db);
}

int store_changes(struct store *st)
{
    return sqlite3_changes(st->db);
}

int store_exec(struct store *st, const char *sql, struct ad_err *err)
{
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
    return !sqlite3_get_autocommit(st->db);
}

void store_q_reset(struct store_q *q)
{
    sqlite3_reset((sqlite3_stmt *)q);
}

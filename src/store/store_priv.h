/*
 * store_priv.h: the store's handle and its statements, shared by the files of
 * src/store only. One handle talks to one backend: SQLite (store.c, store_q.c)
 * or PostgreSQL through libpq (store_pg.c). Code above the store sees neither.
 */
#ifndef AD_STORE_PRIV_H
#define AD_STORE_PRIV_H

#include <glib.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

enum store_backend {
    STORE_SQLITE = 0,
    STORE_PG,
};

/* The PostgreSQL connection and its state (store_pg.c). */
struct store_pg {
    PGconn *conn;
    unsigned gen;               /* bumped on every (re)connect: statements re-prepare */
    unsigned next_name;         /* counter for prepared statement names */
    int lock_timeout_ms;        /* [store] busy_timeout_ms */
    int changes;                /* rows changed by the last INSERT/UPDATE/DELETE */
    bool inserted;              /* an INSERT ran on this connection: lastval() is defined */
    int64_t last_id;            /* id returned by the last INSERT ... RETURNING id we added */
    bool last_id_known;         /* last_id belongs to the last INSERT */
    GHashTable *serial_tables;  /* tables with a BIGSERIAL id (from the migrations) */
    bool lost_tx;               /* the connection died inside a transaction */
    char *implicit_sp;          /* savepoint that began the transaction (SQLite-like) */
    int64_t data_version;       /* bumped per notification and per reconnect */
};

struct store {
    enum store_backend backend;
    sqlite3 *db;                    /* STORE_SQLITE */
    struct store_pg *pg;            /* STORE_PG */
    GHashTable *cache;              /* SQL text address -> struct store_q * (store_q.c) */
};

/* A cached statement: one per SQL text and store. */
struct store_q {
    struct store *st;
    const char *sql;                /* the caller's static text: the cache key */
    sqlite3_stmt *s;                /* STORE_SQLITE */
    /* STORE_PG: parameters are sent as text (bytea in binary), results come back
     * whole as text on the first step and are walked row by row. */
    char name[24];                  /* prepared statement name on the connection */
    unsigned gen;                   /* store_pg.gen it was prepared on; 0 = not yet */
    int n_params;
    char **values;                  /* n_params, g_malloc'd, NULL = SQL NULL */
    int *lengths, *formats;
    PGresult *res;
    int row, n_rows;
    bool done;                      /* the last step returned 0: the next one re-runs */
    bool returns_id;                /* prepared with RETURNING id appended (store_last_id) */
    unsigned char *blob;            /* unescaped bytea of blob_col in the current row */
    int blob_col;
    size_t blob_len;
    int bind_rc;                    /* SQLite: first failed bind since store_q_get(), 0 */
    int bind_n;                     /* its parameter */
};

/* The statement cache of a new store (store_q.c). */
GHashTable *store_q_cache_new(void);

/* Fills err from an SQLite result code; returns AD_ERR_BUSY or AD_ERR_STORE. */
int store_sql_err(struct store *st, int rc, struct ad_err *err, const char *what);

/* store_pg.c: the PostgreSQL side of store_q.h and store.h. */
int store_pg_open(struct store *st, const char *conninfo, int busy_timeout_ms,
                  struct ad_err *err);
void store_pg_close(struct store *st);
int store_pg_exec(struct store *st, const char *sql, struct ad_err *err);
int store_pg_q_prepare(struct store_q *q, struct ad_err *err);
void store_pg_q_clear(struct store_q *q, bool bindings);
void store_pg_q_free(struct store_q *q);
void store_pg_q_bind(struct store_q *q, int n, const char *v, size_t len, bool binary);
int store_pg_q_step(struct store_q *q, struct ad_err *err);
const char *store_pg_q_col_text(struct store_q *q, int col);
const unsigned char *store_pg_q_col_blob(struct store_q *q, int col, size_t *len);
bool store_pg_q_col_null(struct store_q *q, int col);
int64_t store_pg_last_id(struct store *st);
bool store_pg_in_transaction(struct store *st);
int store_pg_commit(struct store *st, struct ad_err *err);
int store_pg_rollback(struct store *st);
int store_pg_begin(struct store *st, struct ad_err *err);
int store_pg_data_version(struct store *st, int64_t *version, struct ad_err *err);
/* The SQLite DDL of a migration rewritten for PostgreSQL; g_free() it. */
char *store_pg_ddl(const char *sqlite_ddl);
/* PostgreSQL-only schema objects (change notification triggers), idempotent. */
extern const char store_pg_extras[];

#endif

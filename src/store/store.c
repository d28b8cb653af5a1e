/*
 * store.c: the store (store.h): opening either backend, migrations, and the
 * reports table. Opened by every command that reads or writes reports. SQLite:
 * WAL mode lets the daemon and `ingest` processes work on one file at once; the
 * busy timeout makes a writer wait for another instead of failing;
 * synchronous=FULL: a report acknowledged to the MTA survives power loss.
 * PostgreSQL: see store_pg.c. SQL text comes from store_sql.c and runs only as
 * prepared statements with bound parameters (store_q.c), the same text on both.
 * Errors: AD_ERR_BUSY when the database is locked or cannot be reached for now
 * (callers map it to EX_TEMPFAIL), AD_ERR_STORE otherwise.
 */
#include "store.h"

#include <glib.h>
#include <sqlite3.h>
#include <string.h>
#include <zlib.h>

#include "config/config.h"
#include "store_priv.h"
#include "store_q.h"
#include "store_sql.h"

static int sql_err(struct store *st, int rc, struct ad_err *err, const char *what)
{
    int code = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_CANTOPEN ||
                rc == SQLITE_IOERR || rc == SQLITE_FULL)
                   ? AD_ERR_BUSY
                   : AD_ERR_STORE;
    return ad_err_set(err, code, "store: %s: %s", what,
                      st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
}

int store_sql_err(struct store *st, int rc, struct ad_err *err, const char *what)
{
    return sql_err(st, rc, err, what);
}

static int exec(struct store *st, const char *sql, struct ad_err *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int code = sql_err(st, rc, err, msg ? msg : "exec");
        sqlite3_free(msg);
        return code;
    }
    return 0;
}

static char *now_iso(void)
{
    GDateTime *now = g_date_time_new_now_utc();
    char *s = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
    g_date_time_unref(now);
    return s;
}

/* The schema version recorded in the database: 0 before the first migration. */
static int read_version(struct store *st, int *version, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, store_sql_version_get, &q, err);
    if (rc)
        return rc;
    rc = store_q_step(q, err);
    *version = rc == 1 ? (int)store_q_col_int(q, 0) : 0;
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

static int too_new(int version, struct ad_err *err)
{
    return ad_err_set(err, AD_ERR_STORE,
                      "store: database schema version %d is newer than this program (%u)",
                      version, store_sql_n_migrations);
}

/* Applies the pending migrations in one transaction, which store_begin() makes
 * exclusive among writers, so two processes opening a new database at once do
 * not both migrate it. PostgreSQL runs the SQLite DDL rewritten (store_pg_ddl)
 * and its own objects after it; both reach the same version numbers. */
static int migrate(struct store *st, struct ad_err *err)
{
    int version = 0;
    int rc;
    /* Up to date (the common case): no write lock taken. On PostgreSQL the
     * table may not exist yet, which the slow path handles. */
    if (st->backend == STORE_SQLITE && (rc = exec(st, store_sql_version_table, err)))
        return rc;
    if (read_version(st, &version, NULL) == 0) {
        if (version > (int)store_sql_n_migrations)
            return too_new(version, err);
        if (version == (int)store_sql_n_migrations)
            return 0;
    }
    if ((rc = store_begin(st, err)))
        return rc;
    if ((rc = store_exec(st, store_sql_version_table, err)) ||
        (rc = read_version(st, &version, err)))
        goto fail;
    if (version > (int)store_sql_n_migrations) {
        rc = too_new(version, err);
        goto fail;
    }
    for (unsigned v = (unsigned)version; v < store_sql_n_migrations; v++) {
        char *ddl = st->backend == STORE_PG ? store_pg_ddl(store_sql_migrations[v]) : NULL;
        rc = store_exec(st, ddl ? ddl : store_sql_migrations[v], err);
        g_free(ddl);
        if (rc)
            goto fail;
        struct store_q *q;
        if ((rc = store_q_get(st, store_sql_version_set, &q, err)))
            goto fail;
        char *now = now_iso();
        store_q_int(q, 1, (int64_t)v + 1);
        store_q_text(q, 2, now);
        rc = store_q_run(q, err);
        g_free(now);
        if (rc)
            goto fail;
    }
    if (st->backend == STORE_PG && (rc = store_exec(st, store_pg_extras, err)))
        goto fail;
    return store_commit(st, err);
fail:
    store_rollback(st);
    return rc;
}

static struct store *store_new(enum store_backend backend)
{
    struct store *st = g_new0(struct store, 1);
    st->backend = backend;
    st->cache = store_q_cache_new();
    return st;
}

int store_open(const char *path, int busy_timeout_ms, struct store **out, struct ad_err *err)
{
    struct store *st = store_new(STORE_SQLITE);
    *out = NULL;
    int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        rc = ad_err_set(err, AD_ERR_BUSY, "store: cannot open %s: %s", path,
                        st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        store_close(st);
        return rc;
    }
    sqlite3_busy_timeout(st->db, busy_timeout_ms);
    sqlite3_extended_result_codes(st->db, 0);
    if ((rc = exec(st, "PRAGMA journal_mode=WAL", err)) ||
        (rc = exec(st, "PRAGMA synchronous=FULL", err)) ||
        (rc = exec(st, "PRAGMA foreign_keys=ON", err)) || (rc = migrate(st, err))) {
        store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

int store_open_pg(const char *conninfo, int busy_timeout_ms, struct store **out,
                  struct ad_err *err)
{
    struct store *st = store_new(STORE_PG);
    *out = NULL;
    int rc = store_pg_open(st, conninfo, busy_timeout_ms, err);
    if (rc == 0)
        rc = migrate(st, err);
    if (rc) {
        store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

int store_open_with(const char *backend, const char *path, const char *conninfo,
                    int busy_timeout_ms, struct store **out, struct ad_err *err)
{
    if (!backend || strcmp(backend, "sqlite") == 0)
        return store_open(path, busy_timeout_ms, out, err);
    if (strcmp(backend, "postgresql") == 0)
        return store_open_pg(conninfo ? conninfo : "", busy_timeout_ms, out, err);
    *out = NULL;
    return ad_err_set(err, AD_ERR_CONFIG,
                      "store: unknown backend '%s' ([store] backend or ABUSEDESK_STORE_BACKEND: "
                      "sqlite or postgresql)", backend);
}

int store_open_cfg(const struct config *cfg, struct store **out, struct ad_err *err)
{
    return store_open_with(cfg->store_backend, cfg->db_path, cfg->store_conninfo,
                           cfg->busy_timeout_ms, out, err);
}

struct store *store_close(struct store *st)
{
    if (!st)
        return NULL;
    if (st->cache)
        g_hash_table_destroy(st->cache); /* statements first: they belong to the connection */
    store_pg_close(st);
    sqlite3_close(st->db);
    g_free(st);
    return NULL;
}

int store_schema_version(struct store *st)
{
    int v = -1;
    return read_version(st, &v, NULL) == 0 ? v : -1;
}

int store_begin(struct store *st, struct ad_err *err)
{
    if (st->backend == STORE_PG)
        return store_pg_begin(st, err);
    return exec(st, "BEGIN IMMEDIATE", err);
}

int store_commit(struct store *st, struct ad_err *err)
{
    if (st->backend == STORE_PG)
        return store_pg_commit(st, err);
    return exec(st, "COMMIT", err);
}

int store_rollback(struct store *st)
{
    if (st->backend == STORE_PG)
        return store_pg_rollback(st);
    return exec(st, "ROLLBACK", NULL);
}

int store_report_find(struct store *st, const char *sha256, int64_t *id, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, store_sql_report_find, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, sha256);
    rc = store_q_step(q, err);
    if (rc == 1 && id)
        *id = store_q_col_int(q, 0);
    store_q_reset(q);
    return rc;
}

int store_report_add(struct store *st, const struct store_report_in *in, int64_t *id,
                     bool *dup, struct ad_err *err)
{
    *dup = false;
    /* SQLite: a lookup in process is cheaper than compressing a duplicate.
     * PostgreSQL: one round trip less per report; the insert's ON CONFLICT
     * finds the duplicate and the lookup below runs only then. */
    if (st->backend != STORE_PG) {
        int found = store_report_find(st, in->sha256, id, err);
        if (found < 0)
            return found;
        if (found == 1) {
            *dup = true;
            return 0;
        }
    }

    unsigned char *zbuf = NULL;
    const unsigned char *blob = in->raw;
    size_t blob_len = in->raw_len;
    const char *encoding = "identity";
    if (in->raw && in->compress) {
        uLongf zlen = compressBound((uLong)in->raw_len);
        zbuf = g_malloc(zlen);
        if (compress2(zbuf, &zlen, in->raw, (uLong)in->raw_len, 6) == Z_OK) {
            blob = zbuf;
            blob_len = zlen;
            encoding = "zlib";
        }
    }
    char *now = now_iso();
    if (in->received_at > 0) {
        GDateTime *dt = g_date_time_new_from_unix_utc(in->received_at);
        if (dt) {
            g_free(now);
            now = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
            g_date_time_unref(dt);
        }
    }
    struct store_q *q;
    int out = store_q_get(st, store_sql_report_insert, &q, err);
    if (out == 0) {
        store_q_text(q, 1, in->sha256);
        store_q_text(q, 2, now);
        store_q_text(q, 3, in->source);
        store_q_text(q, 4, in->spool_path);
        store_q_int(q, 5, (int64_t)in->size);
        store_q_blob(q, 6, blob, blob_len);
        store_q_text(q, 7, encoding);
        store_q_text(q, 8, in->kind);
        store_q_text(q, 9, in->format);
        store_q_text(q, 10, in->feedback_type);
        store_q_text(q, 11, in->subject);
        store_q_text(q, 12, in->from_addr);
        store_q_text(q, 13, in->source_ip);
        store_q_text(q, 14, in->original_message_id);
        store_q_text(q, 15, in->parsed_json ? in->parsed_json : "{}");
        store_q_text(q, 16, in->status ? in->status : "parsed");
        /* RETURNING id: a row when inserted, none when a concurrent ingest
         * stored the same message first (ON CONFLICT DO NOTHING). */
        int rc = store_q_step(q, err);
        if (rc == 1) {
            if (id)
                *id = store_q_col_int(q, 0);
            rc = store_q_step(q, err);
        } else if (rc == 0) {
            *dup = true;
        }
        store_q_reset(q);
        out = rc < 0 ? rc : 0;
    }
    g_free(now);
    g_free(zbuf);
    if (out == 0 && *dup)
        return store_report_find(st, in->sha256, id, err) < 0 ? AD_ERR_STORE : 0;
    return out;
}

static char *col_dup(struct store_q *q, int i)
{
    const char *s = store_q_col_text(q, i);
    return s ? g_strdup(s) : NULL;
}

static void read_row(struct store_q *q, struct store_report_row *row, bool include_raw)
{
    memset(row, 0, sizeof(*row));
    row->id = store_q_col_int(q, 0);
    row->sha256 = col_dup(q, 1);
    row->received_at = col_dup(q, 2);
    row->source = col_dup(q, 3);
    row->kind = col_dup(q, 4);
    row->format = col_dup(q, 5);
    row->feedback_type = col_dup(q, 6);
    row->subject = col_dup(q, 7);
    row->from_addr = col_dup(q, 8);
    row->source_ip = col_dup(q, 9);
    row->status = col_dup(q, 10);
    row->parsed_json = col_dup(q, 11);
    row->spool_path = col_dup(q, 12);
    row->size = store_q_col_int(q, 13);
    if (!include_raw || store_q_col_null(q, 14))
        return;
    size_t blen = 0;
    const unsigned char *blob = store_q_col_blob(q, 14, &blen);
    const char *enc = store_q_col_text(q, 15);
    if (enc && strcmp(enc, "zlib") == 0) {
        uLongf n = (uLongf)row->size;
        row->raw = g_malloc(n + 1);
        if (!blob || uncompress(row->raw, &n, blob, (uLong)blen) != Z_OK) {
            g_free(row->raw);
            row->raw = NULL;
            return;
        }
        row->raw_len = n;
    } else {
        row->raw = g_malloc(blen + 1);
        if (blen > 0 && blob)
            memcpy(row->raw, blob, blen);
        row->raw_len = blob ? blen : 0;
    }
    row->raw[row->raw_len] = '\0';
}

void store_row_clear(struct store_report_row *row)
{
    g_free(row->sha256);
    g_free(row->received_at);
    g_free(row->source);
    g_free(row->kind);
    g_free(row->format);
    g_free(row->feedback_type);
    g_free(row->subject);
    g_free(row->from_addr);
    g_free(row->source_ip);
    g_free(row->status);
    g_free(row->parsed_json);
    g_free(row->spool_path);
    g_free(row->raw);
    memset(row, 0, sizeof(*row));
}

int store_report_get(struct store *st, int64_t id, bool include_raw,
                     struct store_report_row *row, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, store_sql_report_get, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, id);
    rc = store_q_step(q, err);
    int out = 0;
    if (rc == 1)
        read_row(q, row, include_raw);
    else if (rc == 0)
        out = ad_err_set(err, AD_ERR_NOTFOUND, "no report with id %lld", (long long)id);
    else
        out = rc;
    store_q_reset(q);
    return out;
}

int store_reports_each(struct store *st, const char *kind, int64_t limit,
                       int (*fn)(const struct store_report_row *row, void *ctx), void *ctx,
                       struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, kind ? store_sql_reports_kind : store_sql_reports_all, &q, err);
    if (rc)
        return rc;
    int i = 1;
    if (kind)
        store_q_text(q, i++, kind);
    store_q_int(q, i, limit > 0 ? limit : INT64_MAX); /* no LIMIT -1 on PostgreSQL */
    while ((rc = store_q_step(q, err)) == 1) {
        struct store_report_row row;
        read_row(q, &row, false);
        int stop = fn(&row, ctx);
        store_row_clear(&row);
        if (stop)
            break;
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_reports_count(struct store *st, void (*fn)(const char *kind, int64_t n, void *ctx),
                        void *ctx, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, store_sql_reports_count, &q, err);
    if (rc)
        return rc;
    while ((rc = store_q_step(q, err)) == 1)
        fn(store_q_col_text(q, 0), store_q_col_int(q, 1), ctx);
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

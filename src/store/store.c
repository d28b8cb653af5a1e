/*
 * store.c: the SQLite backend of the store (store.h). Opened by every command that
 * reads or writes reports. WAL mode lets the daemon and `ingest` processes work on
 * one file at once; the busy timeout makes a writer wait for another instead of
 * failing. synchronous=FULL: a report acknowledged to the MTA survives power loss.
 * SQL text comes from store_sql.c and runs only as prepared statements with bound
 * parameters. Errors: AD_ERR_BUSY when the database is locked or cannot be opened
 * for now (callers map it to EX_TEMPFAIL), AD_ERR_STORE otherwise.
 */
#include "store.h"

#include <glib.h>
#include <sqlite3.h>
#include <string.h>
#include <zlib.h>

#include "store_priv.h"
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

static int migrate(struct store *st, struct ad_err *err)
{
    int rc = exec(st, store_sql_version_table, err);
    if (rc)
        return rc;
    sqlite3_stmt *q = NULL;
    int src = sqlite3_prepare_v2(st->db, store_sql_version_get, -1, &q, NULL);
    if (src != SQLITE_OK)
        return sql_err(st, src, err, "read schema version");
    int version = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
    sqlite3_finalize(q);
    if (version > (int)store_sql_n_migrations)
        return ad_err_set(err, AD_ERR_STORE,
                          "store: database schema version %d is newer than this program (%u)",
                          version, store_sql_n_migrations);
    for (unsigned v = (unsigned)version; v < store_sql_n_migrations; v++) {
        if ((rc = exec(st, "BEGIN IMMEDIATE", err)))
            return rc;
        if ((rc = exec(st, store_sql_migrations[v], err))) {
            exec(st, "ROLLBACK", NULL);
            return rc;
        }
        char *now = now_iso();
        src = sqlite3_prepare_v2(st->db, store_sql_version_set, -1, &q, NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_int(q, 1, (int)v + 1);
            sqlite3_bind_text(q, 2, now, -1, SQLITE_TRANSIENT);
            src = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(st->db);
            sqlite3_finalize(q);
        }
        g_free(now);
        if (src != SQLITE_OK) {
            exec(st, "ROLLBACK", NULL);
            return sql_err(st, src, err, "record schema version");
        }
        if ((rc = exec(st, "COMMIT", err)))
            return rc;
    }
    return 0;
}

static void stmt_free(gpointer p)
{
    sqlite3_finalize(p);
}

int store_open(const char *path, int busy_timeout_ms, struct store **out, struct ad_err *err)
{
    struct store *st = g_new0(struct store, 1);
    st->cache = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, stmt_free);
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
    if (sqlite3_prepare_v2(st->db, store_sql_report_find, -1, &st->find, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, store_sql_report_insert, -1, &st->insert, NULL) != SQLITE_OK) {
        rc = sql_err(st, sqlite3_errcode(st->db), err, "prepare");
        store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

struct store *store_close(struct store *st)
{
    if (!st)
        return NULL;
    sqlite3_finalize(st->find);
    sqlite3_finalize(st->insert);
    if (st->cache)
        g_hash_table_destroy(st->cache);
    sqlite3_close(st->db);
    g_free(st);
    return NULL;
}

int store_schema_version(struct store *st)
{
    sqlite3_stmt *q = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(st->db, store_sql_version_get, -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return v;
}

int store_begin(struct store *st, struct ad_err *err)
{
    return exec(st, "BEGIN IMMEDIATE", err);
}

int store_commit(struct store *st, struct ad_err *err)
{
    return exec(st, "COMMIT", err);
}

int store_rollback(struct store *st)
{
    return exec(st, "ROLLBACK", NULL);
}

int store_report_find(struct store *st, const char *sha256, int64_t *id, struct ad_err *err)
{
    sqlite3_reset(st->find);
    sqlite3_bind_text(st->find, 1, sha256, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st->find);
    int out = 0;
    if (rc == SQLITE_ROW) {
        if (id)
            *id = sqlite3_column_int64(st->find, 0);
        out = 1;
    } else if (rc != SQLITE_DONE) {
        out = sql_err(st, rc, err, "find report");
    }
    sqlite3_reset(st->find);
    sqlite3_clear_bindings(st->find);
    return out;
}

static void bind_opt(sqlite3_stmt *q, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(q, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, i);
}

int store_report_add(struct store *st, const struct store_report_in *in, int64_t *id,
                     bool *dup, struct ad_err *err)
{
    *dup = false;
    int found = store_report_find(st, in->sha256, id, err);
    if (found < 0)
        return found;
    if (found == 1) {
        *dup = true;
        return 0;
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
    sqlite3_stmt *q = st->insert;
    sqlite3_reset(q);
    sqlite3_bind_text(q, 1, in->sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, now, -1, SQLITE_STATIC);
    bind_opt(q, 3, in->source);
    bind_opt(q, 4, in->spool_path);
    sqlite3_bind_int64(q, 5, (sqlite3_int64)in->size);
    if (blob)
        sqlite3_bind_blob64(q, 6, blob, blob_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, 6);
    sqlite3_bind_text(q, 7, encoding, -1, SQLITE_STATIC);
    bind_opt(q, 8, in->kind);
    bind_opt(q, 9, in->format);
    bind_opt(q, 10, in->feedback_type);
    bind_opt(q, 11, in->subject);
    bind_opt(q, 12, in->from_addr);
    bind_opt(q, 13, in->source_ip);
    bind_opt(q, 14, in->original_message_id);
    bind_opt(q, 15, in->parsed_json ? in->parsed_json : "{}");
    bind_opt(q, 16, in->status ? in->status : "parsed");
    int rc = sqlite3_step(q);
    int out = 0;
    if (rc != SQLITE_DONE)
        out = sql_err(st, rc, err, "insert report");
    else if (sqlite3_changes(st->db) == 0)
        *dup = true; /* a concurrent ingest stored it first */
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    g_free(now);
    g_free(zbuf);
    if (out == 0 && *dup)
        return store_report_find(st, in->sha256, id, err) < 0 ? AD_ERR_STORE : 0;
    if (out == 0 && id)
        *id = sqlite3_last_insert_rowid(st->db);
    return out;
}

static char *col_dup(sqlite3_stmt *q, int i)
{
    const unsigned char *s = sqlite3_column_text(q, i);
    return s ? g_strdup((const char *)s) : NULL;
}

static void read_row(sqlite3_stmt *q, struct store_report_row *row, bool include_raw)
{
    memset(row, 0, sizeof(*row));
    row->id = sqlite3_column_int64(q, 0);
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
    row->size = sqlite3_column_int64(q, 13);
    if (!include_raw || sqlite3_column_type(q, 14) == SQLITE_NULL)
        return;
    const unsigned char *blob = sqlite3_column_blob(q, 14);
    size_t blen = (size_t)sqlite3_column_bytes(q, 14);
    const unsigned char *enc = sqlite3_column_text(q, 15);
    if (enc && strcmp((const char *)enc, "zlib") == 0) {
        uLongf n = (uLongf)row->size;
        row->raw = g_malloc(n + 1);
        if (uncompress(row->raw, &n, blob, (uLong)blen) != Z_OK) {
            g_free(row->raw);
            row->raw = NULL;
            return;
        }
        row->raw_len = n;
    } else {
        row->raw = g_malloc(blen + 1);
        if (blen > 0)
            memcpy(row->raw, blob, blen);
        row->raw_len = blen;
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
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db, store_sql_report_get, -1, &q, NULL);
    if (rc != SQLITE_OK)
        return sql_err(st, rc, err, "prepare report get");
    sqlite3_bind_int64(q, 1, id);
    rc = sqlite3_step(q);
    int out = 0;
    if (rc == SQLITE_ROW)
        read_row(q, row, include_raw);
    else if (rc == SQLITE_DONE)
        out = ad_err_set(err, AD_ERR_NOTFOUND, "no report with id %lld", (long long)id);
    else
        out = sql_err(st, rc, err, "read report");
    sqlite3_finalize(q);
    return out;
}

int store_reports_each(struct store *st, const char *kind, int64_t limit,
                       int (*fn)(const struct store_report_row *row, void *ctx), void *ctx,
                       struct ad_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db, kind ? store_sql_reports_kind : store_sql_reports_all,
                                -1, &q, NULL);
    if (rc != SQLITE_OK)
        return sql_err(st, rc, err, "prepare report list");
    int i = 1;
    if (kind)
        sqlite3_bind_text(q, i++, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, i, limit > 0 ? limit : -1);
    int out = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct store_report_row row;
        read_row(q, &row, false);
        int stop = fn(&row, ctx);
        store_row_clear(&row);
        if (stop)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        out = sql_err(st, rc, err, "list reports");
    sqlite3_finalize(q);
    return out;
}

int store_reports_count(struct store *st, void (*fn)(const char *kind, int64_t n, void *ctx),
                        void *ctx, struct ad_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db, store_sql_reports_count, -1, &q, NULL);
    if (rc != SQLITE_OK)
        return sql_err(st, rc, err, "prepare count");
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        fn((const char *)sqlite3_column_text(q, 0), sqlite3_column_int64(q, 1), ctx);
    int out = rc == SQLITE_DONE ? 0 : sql_err(st, rc, err, "count reports");
    sqlite3_finalize(q);
    return out;
}

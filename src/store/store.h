/*
 * store.h: the persistent store of reports (and, through the typed
 * store_TOPIC.h modules, of the desk's own tables). One small interface over SQL with two backends, SQLite
 * (a file, WAL mode) and PostgreSQL (libpq), chosen by [store] backend; the SQL
 * text is the same for both (portable SQL with $N placeholders). Versioned
 * migrations are applied on open; both backends reach the same version numbers.
 */
#ifndef AD_STORE_H
#define AD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct store;
struct config;

/* A report as handed to store_report_add(); all pointers are borrowed. */
struct store_report_in {
    const char *sha256;         /* hex content hash of the raw message: the identity */
    const char *source;         /* "stdin", "maildir:/path/file", ... */
    const char *spool_path;     /* where the raw message is spooled, may be NULL */
    const unsigned char *raw;   /* raw message bytes (may be NULL when too large) */
    size_t raw_len;
    size_t size;                /* size of the whole raw message */
    bool compress;              /* store raw zlib-compressed */
    const char *kind, *format, *feedback_type, *subject, *from_addr, *source_ip;
    const char *original_message_id;
    const char *parsed_json;    /* the parse contract object */
    const char *status;         /* "parsed", "unknown", "truncated" */
    int64_t received_at;        /* Unix seconds it reached us (ingest --replay); 0: now */
};

/* A stored report as read back; strings are g_malloc'd, free with store_row_clear(). */
struct store_report_row {
    int64_t id;
    char *sha256, *received_at, *source, *kind, *format, *feedback_type, *subject;
    char *from_addr, *source_ip, *status, *parsed_json, *spool_path;
    int64_t size;
    unsigned char *raw;         /* decompressed, NULL when not kept */
    size_t raw_len;
};

/* Opens (creating if needed) the database at path, sets WAL mode and the busy
 * timeout, and applies pending migrations. On failure returns AD_ERR_BUSY when the
 * database is locked or unreachable for now (the caller should retry later) or
 * AD_ERR_STORE, with err filled. *out is the caller's: close with store_close(). */
int store_open(const char *path, int busy_timeout_ms, struct store **out, struct ad_err *err);

/* Opens the PostgreSQL database that conninfo (a libpq connection string,
 * "" = libpq's defaults and PG* environment variables) names, and applies
 * pending migrations; busy_timeout_ms becomes its lock_timeout. Errors as
 * store_open(): AD_ERR_BUSY when the server cannot be reached for now. */
int store_open_pg(const char *conninfo, int busy_timeout_ms, struct store **out,
                  struct ad_err *err);

/* Opens the store the configuration names: [store] backend (sqlite, the
 * default: [store] path; postgresql: [store] conninfo), after the
 * ABUSEDESK_STORE_BACKEND / ABUSEDESK_STORE_CONNINFO overrides config.c
 * applied. AD_ERR_CONFIG for an unknown backend. */
int store_open_cfg(const struct config *cfg, struct store **out, struct ad_err *err);

/* The same from copies of those settings (a thread that keeps no config):
 * backend "sqlite" (or NULL) opens path, "postgresql" conninfo. */
int store_open_with(const char *backend, const char *path, const char *conninfo,
                    int busy_timeout_ms, struct store **out, struct ad_err *err);

/* Closes st; accepts NULL; returns NULL. */
struct store *store_close(struct store *st);

/* Schema version after migrations. */
int store_schema_version(struct store *st);

/* Transactions, for batching many inserts into one commit. */
int store_begin(struct store *st, struct ad_err *err);
int store_commit(struct store *st, struct ad_err *err);
int store_rollback(struct store *st);

/* True inside an open transaction. */
bool store_in_transaction(struct store *st);

/* Ends the current use of every cached statement (see store_q_reset_all()):
 * a long-lived process (the web server) calls it after each request, so no
 * read snapshot stays open across requests. */
void store_reset_statements(struct store *st);

/* Looks up a report by content hash: returns 1 and *id when present, 0 when not,
 * negative on error. */
int store_report_find(struct store *st, const char *sha256, int64_t *id, struct ad_err *err);

/* Inserts a report unless one with the same sha256 exists (then *dup = true and
 * *id is the existing one). Idempotent. */
int store_report_add(struct store *st, const struct store_report_in *in, int64_t *id,
                     bool *dup, struct ad_err *err);

/* Reads report id into row (include_raw: also decompress the raw message). Returns
 * 0, AD_ERR_NOTFOUND or another error. */
int store_report_get(struct store *st, int64_t id, bool include_raw,
                     struct store_report_row *row, struct ad_err *err);
void store_row_clear(struct store_report_row *row);

/* Calls fn for each report, newest first, optionally only of one kind; at most
 * limit rows (0 = all). fn returns non-zero to stop. */
int store_reports_each(struct store *st, const char *kind, int64_t limit,
                       int (*fn)(const struct store_report_row *row, void *ctx), void *ctx,
                       struct ad_err *err);

/* Number of reports per kind: calls fn(kind, count, ctx) for each kind present. */
int store_reports_count(struct store *st, void (*fn)(const char *kind, int64_t n, void *ctx),
                        void *ctx, struct ad_err *err);

#endif

/*
 * store_purge.h: retention in the store: the reports whose raw message and
 * personal fields may go ([store] retention after they arrived, and every
 * incident they belong to closed at least as long ago), and the purge of one
 * report, which keeps its row, counts, scores and attribution.
 */
#ifndef AD_STORE_PURGE_H
#define AD_STORE_PURGE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

struct store_purge_row {
    int64_t id, size;
    bool has_raw;           /* the raw message is in the database */
    /* g_malloc'd, freed by store_purge_rows_free(); NULL when not stored */
    char *received_at, *kind, *spool_path, *parsed_json;
};

/* Up to max reports after id after_id (in id order) that the cutoff allows to
 * purge: not purged yet, processed by the desk worker, received before cutoff
 * (Unix seconds), and each incident they were filed into (or answered as a
 * reply) resolved, dismissed or merged before cutoff. *rows (a GArray of
 * struct store_purge_row) is the caller's: free with store_purge_rows_free(). */
int store_purge_candidates(struct store *st, int64_t cutoff, int64_t after_id, int64_t max,
                           GArray **rows, struct ad_err *err);
GArray *store_purge_rows_free(GArray *rows);

/* Purges report id: raw message, subject, sender and spool path to NULL, the
 * parsed JSON replaced by redacted_json (the caller's redaction), the score's
 * duplicate key (it holds the complainant's address) to NULL, purged_at = now.
 * Inside the caller's transaction. A report purged already is left alone. */
int store_purge_report(struct store *st, int64_t id, const char *redacted_json, int64_t now,
                       struct ad_err *err);

/* When report id was purged: *purged_at 0 when it was not (or does not exist). */
int store_purge_get(struct store *st, int64_t id, int64_t *purged_at, struct ad_err *err);

#endif

/*
 * store_purge.c: the retention statements (see store_purge.h), called by
 * src/intake/retention.c for `abusedesk purge` and the daily run. received_at
 * is ISO 8601 UTC text, so the cutoff is compared in that form; incident times
 * are Unix seconds. Rows are copied out and the statement reset before the
 * caller changes anything. Errors from store_q (AD_ERR_BUSY when locked).
 */
#include "store_purge.h"

#include "store/store_q.h"

/* An incident counts as open for retention until it was closed before the
 * cutoff: resolved, dismissed or merged, at closed_at (else its last update). */
#define OPEN_INCIDENT(tbl) \
    " AND NOT EXISTS (SELECT 1 FROM " tbl " x JOIN incidents i ON i.id = x.incident_id" \
    " WHERE x.report_id = r.id AND (i.state NOT IN ('resolved', 'dismissed', 'merged')" \
    " OR COALESCE(i.closed_at, i.updated_at) >= CAST($2 AS BIGINT)))"

static const char sql_candidates[] =
    "SELECT r.id, r.size, CASE WHEN r.raw IS NULL THEN 0 ELSE 1 END, r.received_at, r.kind,"
    " r.spool_path, r.parsed FROM reports r"
    " WHERE r.purged_at IS NULL AND r.processed = 1 AND r.id > $3 AND r.received_at < $1"
    OPEN_INCIDENT("incident_reports") OPEN_INCIDENT("incident_replies")
    " ORDER BY r.id LIMIT $4";

static const char sql_purge[] =
    "UPDATE reports SET raw = NULL, raw_encoding = 'purged', subject = NULL, from_addr = NULL,"
    " spool_path = NULL, parsed = $2, purged_at = $3 WHERE id = $1 AND purged_at IS NULL";
static const char sql_purge_score[] = "UPDATE scores SET dedup_key = NULL WHERE report_id = $1";
static const char sql_get[] = "SELECT purged_at FROM reports WHERE id = $1";

GArray *store_purge_rows_free(GArray *rows)
{
    if (!rows)
        return NULL;
    for (guint i = 0; i < rows->len; i++) {
        struct store_purge_row *r = &g_array_index(rows, struct store_purge_row, i);
        g_free(r->received_at);
        g_free(r->kind);
        g_free(r->spool_path);
        g_free(r->parsed_json);
    }
    g_array_free(rows, TRUE);
    return NULL;
}

int store_purge_candidates(struct store *st, int64_t cutoff, int64_t after_id, int64_t max,
                           GArray **rows, struct ad_err *err)
{
    *rows = g_array_new(FALSE, TRUE, sizeof(struct store_purge_row));
    GDateTime *dt = g_date_time_new_from_unix_utc(cutoff > 0 ? cutoff : 0);
    char *iso = dt ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("1970-01-01T00:00:00Z");
    if (dt)
        g_date_time_unref(dt);
    struct store_q *q;
    int rc = store_q_get(st, sql_candidates, &q, err);
    if (rc == 0) {
        store_q_text(q, 1, iso);
        store_q_int(q, 2, cutoff);
        store_q_int(q, 3, after_id);
        store_q_int(q, 4, max > 0 ? max : INT64_MAX);
        while ((rc = store_q_step(q, err)) == 1) {
            struct store_purge_row r = {
                store_q_col_int(q, 0), store_q_col_int(q, 1), store_q_col_int(q, 2) != 0,
                g_strdup(store_q_col_text(q, 3)), g_strdup(store_q_col_text(q, 4)),
                g_strdup(store_q_col_text(q, 5)), g_strdup(store_q_col_text(q, 6)),
            };
            g_array_append_val(*rows, r);
        }
        store_q_reset(q);
    }
    g_free(iso);
    if (rc < 0)
        *rows = store_purge_rows_free(*rows);
    return rc < 0 ? rc : 0;
}

int store_purge_report(struct store *st, int64_t id, const char *redacted_json, int64_t now,
                       struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_purge, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, id);
    store_q_text(q, 2, redacted_json);
    store_q_int(q, 3, now);
    if ((rc = store_q_run(q, err)))
        return rc;
    if ((rc = store_q_get(st, sql_purge_score, &q, err)))
        return rc;
    store_q_int(q, 1, id);
    return store_q_run(q, err);
}

int store_purge_get(struct store *st, int64_t id, int64_t *purged_at, struct ad_err *err)
{
    *purged_at = 0;
    struct store_q *q;
    int rc = store_q_get(st, sql_get, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, id);
    if ((rc = store_q_step(q, err)) == 1 && !store_q_col_null(q, 0))
        *purged_at = store_q_col_int(q, 0);
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

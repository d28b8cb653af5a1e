/*
 * store_reports.c: the report listing with attribution and incident (see
 * store_reports.h), for the CLI. One statement with optional filters (a NULL
 * or 0 parameter switches a filter off), the same text on SQLite and
 * PostgreSQL. received_at is stored as ISO 8601 UTC text ("...T...Z"), so the
 * time filters compare it with the bounds formatted the same way. Rows are
 * copied out before the callback runs (no read snapshot held while printing).
 */
#include "store_reports.h"

#include <glib.h>

#include "store/store_q.h"

static const char sql_list[] =
    "SELECT r.id, r.received_at, r.kind, r.status, r.feedback_type, r.subject, r.parsed,"
    " COALESCE(a.account, CASE WHEN a.subject_kind = 'account' THEN a.subject END),"
    " COALESCE((SELECT MIN(ir.incident_id) FROM incident_reports ir"
    "           WHERE ir.report_id = r.id), 0)"
    " FROM reports r LEFT JOIN attributions a ON a.report_id = r.id"
    " WHERE (CAST($1 AS TEXT) IS NULL OR r.kind = CAST($1 AS TEXT))"
    " AND (CAST($2 AS TEXT) IS NULL OR lower(a.account) = lower(CAST($2 AS TEXT))"
    "      OR (a.subject_kind = 'account' AND lower(a.subject) = lower(CAST($2 AS TEXT))))"
    " AND (CAST($3 AS BIGINT) = 0 OR EXISTS (SELECT 1 FROM incident_reports i2"
    "      WHERE i2.report_id = r.id AND i2.incident_id = CAST($3 AS BIGINT)))"
    " AND (CAST($4 AS TEXT) IS NULL OR r.received_at >= CAST($4 AS TEXT))"
    " AND (CAST($5 AS TEXT) IS NULL OR r.received_at < CAST($5 AS TEXT))"
    " ORDER BY r.id DESC LIMIT $6";

#define N_TEXT 7 /* received_at, kind, status, feedback_type, subject, parsed, account */

struct copy {
    int64_t id, incident_id;
    char *t[N_TEXT];
};

/* The bound as stored text, or NULL for 0 (no bound). Caller frees. */
static char *iso(int64_t t)
{
    if (t <= 0)
        return NULL;
    GDateTime *dt = g_date_time_new_from_unix_utc(t);
    if (!dt)
        return NULL;
    char *s = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
    g_date_time_unref(dt);
    return s;
}

int store_reports_list(struct store *st, const struct store_reports_filter *f,
                       int (*fn)(const struct store_reports_item *item, void *ctx), void *ctx,
                       struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_list, &q, err);
    if (rc)
        return rc;
    char *since = iso(f->since), *until = iso(f->until);
    store_q_text(q, 1, f->kind);
    store_q_text(q, 2, f->account);
    store_q_int(q, 3, f->incident_id > 0 ? f->incident_id : 0);
    store_q_text(q, 4, since);
    store_q_text(q, 5, until);
    store_q_int(q, 6, f->limit > 0 ? f->limit : INT64_MAX); /* no LIMIT -1 on PostgreSQL */
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(struct copy));
    while ((rc = store_q_step(q, err)) == 1) {
        struct copy c = { store_q_col_int(q, 0), store_q_col_int(q, 8), { NULL } };
        for (int i = 0; i < N_TEXT; i++)
            c.t[i] = g_strdup(store_q_col_text(q, 1 + i));
        g_array_append_val(rows, c);
    }
    store_q_reset(q);
    g_free(since);
    g_free(until);
    if (rc > 0)
        rc = 0;
    for (guint i = 0; i < rows->len; i++) {
        struct copy *c = &g_array_index(rows, struct copy, i);
        struct store_reports_item it = { c->id, c->incident_id, c->t[0], c->t[1], c->t[2],
                                         c->t[3], c->t[4], c->t[5], c->t[6] };
        if (rc == 0 && fn(&it, ctx))
            rc = 1;
        for (int k = 0; k < N_TEXT; k++)
            g_free(c->t[k]);
    }
    g_array_free(rows, TRUE);
    return rc < 0 ? rc : 0;
}

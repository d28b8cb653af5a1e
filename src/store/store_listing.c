/*
 * store_listing.c: listing incidents, the reports behind them, feed reports
 * and the reputation monitor's alerts (see store_listing.h). Called by the
 * monitor (act/listing.c, act/feeds.c) and `abusedesk feeds`. Errors are the
 * store's; every statement is reset as soon as its rows are read; nothing
 * returned is owned by the caller.
 */
#include "store/store_listing.h"

#include <glib.h>

#include "store/store_q.h"

static const char sql_find[] =
    "SELECT id FROM incidents WHERE subject_kind = 'listing' AND subject = $1"
    " AND state NOT IN ('resolved', 'dismissed', 'merged') ORDER BY id DESC LIMIT 1";
static const char sql_open_each[] =
    "SELECT id, subject FROM incidents WHERE subject_kind = 'listing'"
    " AND state NOT IN ('resolved', 'dismissed', 'merged') ORDER BY id";
static const char sql_insert[] =
    "INSERT INTO incidents (subject_kind, subject, customer_id, account, state, stage,"
    " initial_score, score, complaints, repeat_offender, first_seen, last_seen, opened_at,"
    " updated_at, trusted) VALUES ('listing', $1, NULL, NULL, 'alerted', 'alert', 0, 0, $2, 0,"
    " $3, $3, $3, $3, 1) RETURNING id";
static const char sql_resolve[] =
    "UPDATE incidents SET state = 'resolved', closed_at = $2, updated_at = $2"
    " WHERE id = $1 AND subject_kind = 'listing'";
static const char sql_link[] =
    "INSERT INTO incident_reports (incident_id, report_id) VALUES ($1, $2)"
    " ON CONFLICT (incident_id, report_id) DO NOTHING";
#define REPORT_COLS                                                                         \
    "SELECT r.id, r.received_at, r.kind, r.feedback_type, r.subject, r.from_addr,"           \
    " a.source_ip, CASE WHEN $5 = 1 THEN r.parsed ELSE NULL END, a.account, a.script,"       \
    " COALESCE(s.authenticated, -1) FROM reports r JOIN attributions a ON a.report_id = r.id" \
    " LEFT JOIN scores s ON s.report_id = r.id"
static const char sql_reports[] =
    REPORT_COLS " WHERE ($1 = '' OR a.source_ip = $1) AND a.source_ip IS NOT NULL"
                " AND r.received_at >= $2 AND ($3 = '' OR r.kind = $3)"
                " ORDER BY r.received_at DESC, r.id DESC LIMIT $4";
static const char sql_feed[] =
    "SELECT r.received_at, r.from_addr, r.kind, COALESCE(s.authenticated, -1) FROM reports r"
    " LEFT JOIN scores s ON s.report_id = r.id WHERE r.received_at >= $1"
    " ORDER BY r.received_at DESC, r.id DESC LIMIT $2";
static const char sql_alert_last[] =
    "SELECT id, opened_at, closed_at FROM reputation_alerts WHERE kind = $1 AND subject = $2"
    " ORDER BY opened_at DESC, id DESC LIMIT 1";
static const char sql_alert_open[] =
    "INSERT INTO reputation_alerts (kind, subject, opened_at, detail) VALUES ($1, $2, $3, $4)"
    " RETURNING id";
static const char sql_alert_close[] =
    "UPDATE reputation_alerts SET closed_at = $2 WHERE id = $1 AND closed_at IS NULL";

int store_listing_find(struct store *st, const char *address, int64_t *id, struct ad_err *err)
{
    *id = 0;
    struct store_q *q;
    int rc = store_q_get(st, sql_find, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, address);
    rc = store_q_step(q, err);
    if (rc == 1)
        *id = store_q_col_int(q, 0);
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_listing_open_each(struct store *st,
                            void (*fn)(int64_t id, const char *address, void *ctx), void *ctx,
                            struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_open_each, &q, err);
    if (rc)
        return rc;
    while ((rc = store_q_step(q, err)) == 1)
        fn(store_q_col_int(q, 0), store_q_col_text(q, 1), ctx);
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

/* Runs q (a statement with RETURNING id) and puts the id into *id. */
static int returning_id(struct store_q *q, int64_t *id, struct ad_err *err)
{
    int rc = store_q_step(q, err);
    if (rc == 1) {
        *id = store_q_col_int(q, 0);
        rc = store_q_step(q, err);
    } else if (rc == 0) {
        rc = ad_err_set(err, AD_ERR_STORE, "store: no id returned");
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_listing_insert(struct store *st, const char *address, int64_t complaints, int64_t now,
                         int64_t *id, struct ad_err *err)
{
    *id = 0;
    struct store_q *q;
    int rc = store_q_get(st, sql_insert, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, address);
    store_q_int(q, 2, complaints);
    store_q_int(q, 3, now);
    return returning_id(q, id, err);
}

int store_listing_resolve(struct store *st, int64_t id, int64_t now, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_resolve, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, id);
    store_q_int(q, 2, now);
    return store_q_run(q, err);
}

int store_listing_link(struct store *st, int64_t id, int64_t report_id, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_link, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, id);
    store_q_int(q, 2, report_id);
    return store_q_run(q, err);
}

int store_listing_reports(struct store *st, const char *address, const char *since,
                          const char *kind, int64_t limit, bool with_parsed,
                          void (*fn)(const struct store_listing_report *r, void *ctx), void *ctx,
                          struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_reports, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, address ? address : "");
    store_q_text(q, 2, since);
    store_q_text(q, 3, kind ? kind : "");
    store_q_int(q, 4, limit > 0 ? limit : INT64_MAX);
    store_q_int(q, 5, with_parsed ? 1 : 0);
    while ((rc = store_q_step(q, err)) == 1) {
        struct store_listing_report r = {
            .id = store_q_col_int(q, 0),
            .received_at = store_q_col_text(q, 1),
            .kind = store_q_col_text(q, 2),
            .feedback_type = store_q_col_text(q, 3),
            .subject = store_q_col_text(q, 4),
            .from_addr = store_q_col_text(q, 5),
            .source_ip = store_q_col_text(q, 6),
            .parsed = store_q_col_text(q, 7),
            .account = store_q_col_text(q, 8),
            .script = store_q_col_text(q, 9),
            .authenticated = (int)store_q_col_int(q, 10),
        };
        fn(&r, ctx);
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_listing_feed_reports(struct store *st, const char *since, int64_t limit,
                               void (*fn)(const char *received_at, const char *from_addr,
                                          const char *kind, int authenticated, void *ctx),
                               void *ctx, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_feed, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, since);
    store_q_int(q, 2, limit > 0 ? limit : INT64_MAX);
    while ((rc = store_q_step(q, err)) == 1)
        fn(store_q_col_text(q, 0), store_q_col_text(q, 1), store_q_col_text(q, 2),
           (int)store_q_col_int(q, 3), ctx);
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_repalert_last(struct store *st, const char *kind, const char *subject, int64_t *id,
                        int64_t *opened_at, int64_t *closed_at, struct ad_err *err)
{
    *id = *opened_at = *closed_at = 0;
    struct store_q *q;
    int rc = store_q_get(st, sql_alert_last, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, kind);
    store_q_text(q, 2, subject);
    rc = store_q_step(q, err);
    if (rc == 1) {
        *id = store_q_col_int(q, 0);
        *opened_at = store_q_col_int(q, 1);
        *closed_at = store_q_col_null(q, 2) ? 0 : store_q_col_int(q, 2);
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_repalert_open(struct store *st, const char *kind, const char *subject,
                        const char *detail, int64_t now, int64_t *id, struct ad_err *err)
{
    int64_t tmp = 0;
    struct store_q *q;
    int rc = store_q_get(st, sql_alert_open, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, kind);
    store_q_text(q, 2, subject);
    store_q_int(q, 3, now);
    store_q_text(q, 4, detail);
    return returning_id(q, id ? id : &tmp, err);
}

int store_repalert_close(struct store *st, int64_t id, int64_t now, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_alert_close, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, id);
    store_q_int(q, 2, now);
    return store_q_run(q, err);
}

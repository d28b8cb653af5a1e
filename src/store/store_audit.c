/*
 * store_audit.c: DMARC aggregate reports and domain audit runs (see
 * store_audit.h). Called by the desk worker (a DMARC report mail), by
 * `abusedesk dmarc` and by `abusedesk domains audit`. Errors are the store's
 * (AD_ERR_BUSY when locked: retry later); every statement is reset as soon as
 * its rows are read. Nothing returned is owned by the caller.
 */
#include "store/store_audit.h"

#include <glib.h>

#include "store/store_q.h"

static const char sql_dmarc_find[] = "SELECT id FROM dmarc_reports WHERE report_key = $1";
static const char sql_dmarc_insert[] =
    "INSERT INTO dmarc_reports (report_key, org_name, email, report_id, domain, begin_at, end_at,"
    " policy, received_at, source_report, customer_id, total, forged)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id";
static const char sql_row_insert[] =
    "INSERT INTO dmarc_rows (dmarc_id, source_ip, messages, disposition, dkim, spf, header_from,"
    " envelope_from, dkim_domain, dkim_result, spf_domain, spf_result, ours)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
static const char sql_set_incident[] = "UPDATE dmarc_reports SET incident_id = $2 WHERE id = $1";
#define DMARC_COLS                                                                          \
    "SELECT id, report_key, org_name, email, report_id, domain, policy, begin_at, end_at,"  \
    " received_at, source_report, customer_id, total, forged, incident_id FROM dmarc_reports"
static const char sql_each_all[] = DMARC_COLS " ORDER BY end_at DESC, id DESC LIMIT $1";
static const char sql_each_domain[] =
    DMARC_COLS " WHERE domain = $1 ORDER BY end_at DESC, id DESC LIMIT $2";
static const char sql_rows[] =
    "SELECT source_ip, messages, disposition, dkim, spf, header_from, envelope_from, dkim_domain,"
    " dkim_result, spf_domain, spf_result, ours FROM dmarc_rows WHERE dmarc_id = $1"
    " ORDER BY messages DESC, id LIMIT $2";
static const char sql_sums[] =
    "SELECT COALESCE(SUM(forged), 0), COALESCE(SUM(total), 0), COUNT(*) FROM dmarc_reports"
    " WHERE domain = $1 AND end_at > $2";
static const char sql_run_insert[] =
    "INSERT INTO domain_audits (domain, checked_at, spf, dmarc, mx, findings)"
    " VALUES ($1, $2, $3, $4, $5, $6)";
static const char sql_run_last[] =
    "SELECT id, checked_at, domain, spf, dmarc, mx, findings FROM domain_audits"
    " WHERE domain = $1 AND checked_at < $2 ORDER BY checked_at DESC, id DESC LIMIT 1";

static const char sql_run_latest[] = "SELECT COALESCE(MAX(checked_at), 0) FROM domain_audits";

static const char sql_domains[] = "SELECT domain, customer_id FROM domains ORDER BY domain";

int store_audit_domains_each(struct store *st,
                             void (*fn)(const char *domain, const char *customer_id, void *ctx),
                             void *ctx, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_domains, &q, err);
    if (rc)
        return rc;
    while ((rc = store_q_step(q, err)) == 1)
        fn(store_q_col_text(q, 0), store_q_col_text(q, 1), ctx);
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_audit_dmarc_add(struct store *st, const struct store_dmarc_report *r, int64_t *id,
                          struct ad_err *err)
{
    *id = 0;
    struct store_q *q;
    int rc = store_q_get(st, sql_dmarc_find, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, r->report_key);
    rc = store_q_step(q, err);
    if (rc == 1)
        *id = store_q_col_int(q, 0);
    store_q_reset(q);
    if (rc < 0)
        return rc;
    if (*id)
        return 0;
    if ((rc = store_q_get(st, sql_dmarc_insert, &q, err)))
        return rc;
    store_q_text(q, 1, r->report_key);
    store_q_text(q, 2, r->org_name);
    store_q_text(q, 3, r->email);
    store_q_text(q, 4, r->report_id);
    store_q_text(q, 5, r->domain);
    store_q_int(q, 6, r->begin_at);
    store_q_int(q, 7, r->end_at);
    store_q_text(q, 8, r->policy);
    store_q_int(q, 9, r->received_at);
    if (r->source_report)
        store_q_int(q, 10, r->source_report);
    else
        store_q_null(q, 10);
    store_q_text(q, 11, r->customer_id);
    store_q_int(q, 12, r->total);
    store_q_int(q, 13, r->forged);
    rc = store_q_step(q, err);
    if (rc == 1) {
        *id = store_q_col_int(q, 0);
        rc = store_q_step(q, err);
    } else if (rc == 0) {
        rc = ad_err_set(err, AD_ERR_STORE, "store: DMARC report: no id returned");
    }
    store_q_reset(q);
    return rc < 0 ? rc : 1;
}

int store_audit_dmarc_row_add(struct store *st, int64_t dmarc_id, const struct store_dmarc_row *w,
                              struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_row_insert, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, dmarc_id);
    store_q_text(q, 2, w->source_ip);
    store_q_int(q, 3, w->messages);
    store_q_text(q, 4, w->disposition);
    store_q_text(q, 5, w->dkim);
    store_q_text(q, 6, w->spf);
    store_q_text(q, 7, w->header_from);
    store_q_text(q, 8, w->envelope_from);
    store_q_text(q, 9, w->dkim_domain);
    store_q_text(q, 10, w->dkim_result);
    store_q_text(q, 11, w->spf_domain);
    store_q_text(q, 12, w->spf_result);
    store_q_int(q, 13, w->ours ? 1 : 0);
    return store_q_run(q, err);
}

int store_audit_dmarc_set_incident(struct store *st, int64_t dmarc_id, int64_t incident_id,
                                   struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_set_incident, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, dmarc_id);
    store_q_int(q, 2, incident_id);
    return store_q_run(q, err);
}

int store_audit_dmarc_each(struct store *st, const char *domain, int64_t limit,
                           int (*fn)(const struct store_dmarc_report *r, void *ctx), void *ctx,
                           struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, domain ? sql_each_domain : sql_each_all, &q, err);
    if (rc)
        return rc;
    int n = 1;
    if (domain)
        store_q_text(q, n++, domain);
    store_q_int(q, n, limit > 0 ? limit : INT64_MAX);
    /* The rows are read first: fn may run other statements (the rows). */
    GPtrArray *keep = g_ptr_array_new_with_free_func(g_free);
    GArray *reps = g_array_new(FALSE, TRUE, sizeof(struct store_dmarc_report));
#define DUP(i) (store_q_col_text(q, i) ? (g_ptr_array_add(keep, g_strdup(store_q_col_text(q, i))), \
                                          (const char *)keep->pdata[keep->len - 1]) : NULL)
    while ((rc = store_q_step(q, err)) == 1) {
        struct store_dmarc_report r = {
            .id = store_q_col_int(q, 0),
            .report_key = DUP(1),
            .org_name = DUP(2),
            .email = DUP(3),
            .report_id = DUP(4),
            .domain = DUP(5),
            .policy = DUP(6),
            .begin_at = store_q_col_int(q, 7),
            .end_at = store_q_col_int(q, 8),
            .received_at = store_q_col_int(q, 9),
            .source_report = store_q_col_int(q, 10),
            .customer_id = DUP(11),
            .total = store_q_col_int(q, 12),
            .forged = store_q_col_int(q, 13),
            .incident_id = store_q_col_int(q, 14),
        };
        g_array_append_val(reps, r);
    }
#undef DUP
    store_q_reset(q);
    for (guint i = 0; rc == 0 && i < reps->len; i++)
        if (fn(&g_array_index(reps, struct store_dmarc_report, i), ctx))
            break;
    g_array_free(reps, TRUE);
    g_ptr_array_free(keep, TRUE);
    return rc < 0 ? rc : 0;
}

int store_audit_dmarc_rows(struct store *st, int64_t dmarc_id, int64_t limit,
                           int (*fn)(const struct store_dmarc_row *w, void *ctx), void *ctx,
                           struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_rows, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, dmarc_id);
    store_q_int(q, 2, limit > 0 ? limit : INT64_MAX);
    while ((rc = store_q_step(q, err)) == 1) {
        struct store_dmarc_row w = {
            .source_ip = store_q_col_text(q, 0),
            .messages = store_q_col_int(q, 1),
            .disposition = store_q_col_text(q, 2),
            .dkim = store_q_col_text(q, 3),
            .spf = store_q_col_text(q, 4),
            .header_from = store_q_col_text(q, 5),
            .envelope_from = store_q_col_text(q, 6),
            .dkim_domain = store_q_col_text(q, 7),
            .dkim_result = store_q_col_text(q, 8),
            .spf_domain = store_q_col_text(q, 9),
            .spf_result = store_q_col_text(q, 10),
            .ours = store_q_col_int(q, 11) != 0,
        };
        if (fn(&w, ctx)) {
            rc = 0;
            break;
        }
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_audit_dmarc_sums(struct store *st, const char *domain, int64_t since, int64_t *forged,
                           int64_t *total, int64_t *n_reports, struct ad_err *err)
{
    *forged = *total = *n_reports = 0;
    struct store_q *q;
    int rc = store_q_get(st, sql_sums, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, domain);
    store_q_int(q, 2, since);
    rc = store_q_step(q, err);
    if (rc == 1) {
        *forged = store_q_col_int(q, 0);
        *total = store_q_col_int(q, 1);
        *n_reports = store_q_col_int(q, 2);
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_audit_run_add(struct store *st, const struct store_audit_run *a, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_run_insert, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, a->domain);
    store_q_int(q, 2, a->checked_at);
    store_q_text(q, 3, a->spf);
    store_q_text(q, 4, a->dmarc);
    store_q_text(q, 5, a->mx);
    store_q_text(q, 6, a->findings ? a->findings : "");
    return store_q_run(q, err);
}

int store_audit_run_last(struct store *st, const char *domain, int64_t before,
                         void (*fn)(const struct store_audit_run *a, void *ctx), void *ctx,
                         struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_run_last, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, domain);
    store_q_int(q, 2, before);
    rc = store_q_step(q, err);
    if (rc == 1) {
        struct store_audit_run a = {
            .id = store_q_col_int(q, 0),
            .checked_at = store_q_col_int(q, 1),
            .domain = store_q_col_text(q, 2),
            .spf = store_q_col_text(q, 3),
            .dmarc = store_q_col_text(q, 4),
            .mx = store_q_col_text(q, 5),
            .findings = store_q_col_text(q, 6),
        };
        fn(&a, ctx);
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_audit_run_latest(struct store *st, int64_t *at, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_run_latest, &q, err);
    if (rc)
        return rc;
    *at = 0;
    rc = store_q_step(q, err);
    if (rc == 1)
        *at = store_q_col_int(q, 0);
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

/*
 * store_explain.c: one report's attribution, score, senders and incidents
 * (see store_explain.h), read for `abusedesk explain` (src/cli/cmd_desk.c).
 * Errors are the store's (AD_ERR_BUSY when locked: retry later); every
 * statement is reset as soon as its rows are read. Structs filled are the
 * caller's to clear; strings handed to callbacks are borrowed for the call.
 */
#include "store/store_explain.h"

#include <glib.h>

#include "store/store_q.h"

static const char sql_attr[] =
    "SELECT status, subject_kind, subject, account, script, customer_id, source_ip, reason,"
    " evidence FROM attributions WHERE report_id = $1";

static const char sql_score[] =
    "SELECT total, counted, manual, provider, message_id, at, terms FROM scores"
    " WHERE report_id = $1";

static const char sql_senders[] =
    "SELECT subject_kind, subject FROM complaints WHERE report_id = $1"
    " ORDER BY CASE subject_kind WHEN 'account' THEN 1 WHEN 'script' THEN 2"
    " WHEN 'customer' THEN 3 ELSE 4 END";

static const char sql_incidents[] =
    "SELECT incident_id FROM incident_reports WHERE report_id = $1 ORDER BY incident_id";

/* The statement sql with $1 = report_id, stepped once: 1 with a row, 0, < 0. */
static int first_row(struct store *st, const char *sql, int64_t report_id, struct store_q **q,
                     struct ad_err *err)
{
    int rc = store_q_get(st, sql, q, err);
    if (rc)
        return rc;
    store_q_int(*q, 1, report_id);
    return store_q_step(*q, err);
}

int store_explain_attribution(struct store *st, int64_t report_id, struct store_explain_attr *out,
                              struct ad_err *err)
{
    *out = (struct store_explain_attr){ 0 };
    struct store_q *q;
    int rc = first_row(st, sql_attr, report_id, &q, err);
    if (rc == 1) {
        char **f[] = { &out->status,      &out->subject_kind, &out->subject,
                       &out->account,     &out->script,       &out->customer_id,
                       &out->source_ip,   &out->reason,       &out->evidence };
        for (int i = 0; i < (int)G_N_ELEMENTS(f); i++)
            *f[i] = g_strdup(store_q_col_text(q, i));
    }
    if (rc >= 0)
        store_q_reset(q);
    return rc;
}

int store_explain_score(struct store *st, int64_t report_id, struct store_explain_score *out,
                        struct ad_err *err)
{
    *out = (struct store_explain_score){ 0 };
    struct store_q *q;
    int rc = first_row(st, sql_score, report_id, &q, err);
    if (rc == 1) {
        out->total = store_q_col_double(q, 0);
        out->counted = store_q_col_int(q, 1) != 0;
        out->manual_null = store_q_col_null(q, 2);
        out->manual = store_q_col_int(q, 2) == 1;
        out->provider = g_strdup(store_q_col_text(q, 3));
        out->message_id = g_strdup(store_q_col_text(q, 4));
        out->at = store_q_col_int(q, 5);
        out->terms = g_strdup(store_q_col_text(q, 6));
    }
    if (rc >= 0)
        store_q_reset(q);
    return rc;
}

void store_explain_attr_clear(struct store_explain_attr *a)
{
    char *f[] = { a->status, a->subject_kind, a->subject, a->account, a->script,
                  a->customer_id, a->source_ip, a->reason, a->evidence };
    for (size_t i = 0; i < G_N_ELEMENTS(f); i++)
        g_free(f[i]);
    *a = (struct store_explain_attr){ 0 };
}

void store_explain_score_clear(struct store_explain_score *s)
{
    g_free(s->provider);
    g_free(s->message_id);
    g_free(s->terms);
    *s = (struct store_explain_score){ 0 };
}

int store_explain_senders(struct store *st, int64_t report_id,
                          int (*fn)(const char *subject_kind, const char *subject, void *ctx),
                          void *ctx, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_senders, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, report_id);
    GPtrArray *pairs = g_ptr_array_new_with_free_func(g_free);
    while ((rc = store_q_step(q, err)) == 1) {
        g_ptr_array_add(pairs, g_strdup(store_q_col_text(q, 0)));
        g_ptr_array_add(pairs, g_strdup(store_q_col_text(q, 1)));
    }
    store_q_reset(q);
    for (guint k = 0; rc == 0 && k + 1 < pairs->len; k += 2)
        rc = fn(pairs->pdata[k], pairs->pdata[k + 1], ctx);
    g_ptr_array_free(pairs, TRUE);
    return rc;
}

int store_explain_incidents(struct store *st, int64_t report_id,
                            void (*fn)(int64_t incident_id, void *ctx), void *ctx,
                            struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_incidents, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, report_id);
    while ((rc = store_q_step(q, err)) == 1)
        fn(store_q_col_int(q, 0), ctx);
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

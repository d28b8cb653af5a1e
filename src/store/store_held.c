/*
 * store_held.c: the held_actions statements (see store_held.h), for the
 * lifecycle (request) and `abusedesk held` (pending, done). Rows are copied
 * out before the statement is reset. Errors from store_q.
 */
#include "store_held.h"

#include <glib.h>

#include "store/store_q.h"

static const char sql_request[] =
    "INSERT INTO held_actions (account, action, incident_id, requested_at, requested_by)"
    " VALUES ($1, $2, $3, $4, $5)";
static const char sql_pending[] =
    "SELECT id, COALESCE(incident_id, 0), requested_at, account, action, requested_by"
    " FROM held_actions WHERE done_at IS NULL"
    " AND (CAST($1 AS TEXT) IS NULL OR lower(account) = lower(CAST($1 AS TEXT)))"
    " ORDER BY id LIMIT $2";
static const char sql_retarget[] =
    "UPDATE held_actions SET action = $2 WHERE incident_id = $1 AND done_at IS NULL";
static const char sql_done[] =
    "UPDATE held_actions SET done_at = $2, n_messages = $3, result = $4 WHERE id = $1";

int store_held_request(struct store *st, const char *account, const char *action,
                       int64_t incident_id, const char *by, int64_t now, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_request, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, account);
    store_q_text(q, 2, action);
    if (incident_id > 0)
        store_q_int(q, 3, incident_id);
    else
        store_q_null(q, 3);
    store_q_int(q, 4, now);
    store_q_text(q, 5, by);
    return store_q_run(q, err);
}

int store_held_pending(struct store *st, const char *account, size_t max,
                       struct store_held_request **out, size_t *n, struct ad_err *err)
{
    *out = NULL;
    *n = 0;
    struct store_q *q;
    int rc = store_q_get(st, sql_pending, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, account);
    store_q_int(q, 2, max > 0 ? (int64_t)max : INT64_MAX);
    GArray *a = g_array_new(FALSE, TRUE, sizeof(struct store_held_request));
    while ((rc = store_q_step(q, err)) == 1) {
        struct store_held_request r = { store_q_col_int(q, 0), store_q_col_int(q, 1),
                                        store_q_col_int(q, 2), g_strdup(store_q_col_text(q, 3)),
                                        g_strdup(store_q_col_text(q, 4)),
                                        g_strdup(store_q_col_text(q, 5)) };
        g_array_append_val(a, r);
    }
    store_q_reset(q);
    *n = a->len;
    *out = (struct store_held_request *)g_array_free(a, FALSE);
    if (rc < 0) {
        store_held_requests_free(*out, *n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    return 0;
}

void store_held_requests_free(struct store_held_request *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        g_free(r[i].account);
        g_free(r[i].action);
        g_free(r[i].requested_by);
    }
    g_free(r);
}

int store_held_done(struct store *st, int64_t id, int64_t now, int64_t n_messages,
                    const char *result, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_done, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, id);
    store_q_int(q, 2, now);
    store_q_int(q, 3, n_messages);
    store_q_text(q, 4, result);
    return store_q_run(q, err);
}

int store_held_retarget(struct store *st, int64_t incident_id, const char *action, int64_t *n,
                        struct ad_err *err)
{
    *n = 0;
    struct store_q *q;
    int rc = store_q_get(st, sql_retarget, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, incident_id);
    store_q_text(q, 2, action);
    if ((rc = store_q_run(q, err)) == 0)
        *n = store_changes(st);
    return rc;
}

/*
 * store_locks.c: the active locks (see store_locks.h), read for the CLI. The
 * rows are copied out before the callback runs so that no statement stays open
 * while the caller prints (no read snapshot is held).
 */
#include "store_locks.h"

#include <glib.h>

#include "store/store_q.h"

static const char sql_active[] =
    "SELECT id, COALESCE(incident_id, 0), locked_at, subject_kind, subject, customer_id,"
    " locked_by, reason FROM locks WHERE unlocked_at IS NULL"
    " AND (CAST($1 AS TEXT) IS NULL OR lower(subject) = lower(CAST($1 AS TEXT)))"
    " AND (CAST($2 AS TEXT) IS NULL OR customer_id = CAST($2 AS TEXT)) ORDER BY id DESC";

struct copy {
    int64_t id, incident_id, locked_at;
    char *kind, *subject, *customer_id, *by, *reason;
};

int store_locks_active(struct store *st, const char *subject, const char *customer_id,
                       int (*fn)(const struct store_lock_row *row, void *ctx), void *ctx,
                       struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_active, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, subject);
    store_q_text(q, 2, customer_id);
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(struct copy));
    while ((rc = store_q_step(q, err)) == 1) {
        struct copy c = { store_q_col_int(q, 0), store_q_col_int(q, 1), store_q_col_int(q, 2),
                          g_strdup(store_q_col_text(q, 3)), g_strdup(store_q_col_text(q, 4)),
                          g_strdup(store_q_col_text(q, 5)), g_strdup(store_q_col_text(q, 6)),
                          g_strdup(store_q_col_text(q, 7)) };
        g_array_append_val(rows, c);
    }
    store_q_reset(q);
    if (rc > 0)
        rc = 0;
    for (guint i = 0; i < rows->len; i++) {
        struct copy *c = &g_array_index(rows, struct copy, i);
        struct store_lock_row r = { c->id, c->incident_id, c->locked_at, c->kind, c->subject,
                                    c->customer_id, c->by, c->reason };
        if (rc == 0 && fn(&r, ctx))
            rc = 1;
        g_free(c->kind);
        g_free(c->subject);
        g_free(c->customer_id);
        g_free(c->by);
        g_free(c->reason);
    }
    g_array_free(rows, TRUE);
    return rc < 0 ? rc : 0;
}

/*
 * store_outbound.c: the outbound log's rows (see store_outbound.h). Written
 * by the milter's store thread in batches, read by classify, pruned by the
 * milter once an hour. Statements are reset as soon as their row is read.
 */
#include "store_outbound.h"

#include <glib.h>

#include "store/store_q.h"

static const char sql_add[] = "INSERT INTO outbound_log (h, at, sender) VALUES ($1, $2, $3)";
static const char sql_find[] =
    "SELECT at, sender FROM outbound_log WHERE h = $1 AND at >= $2 ORDER BY at DESC LIMIT 1";
static const char sql_prune[] = "DELETE FROM outbound_log WHERE at < $1";
static const char sql_count[] = "SELECT COUNT(*) FROM outbound_log";

int store_outbound_add(struct store *st, const struct store_outbound_row *rows, size_t n,
                       struct ad_err *err)
{
    int rc = store_begin(st, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct store_q *q;
        if ((rc = store_q_get(st, sql_add, &q, err)))
            break;
        store_q_int(q, 1, rows[i].h);
        store_q_int(q, 2, rows[i].at);
        store_q_text(q, 3, rows[i].sender);
        if ((rc = store_q_run(q, err)))
            break;
    }
    if (rc == 0)
        rc = store_commit(st, err);
    if (rc)
        store_rollback(st);
    return rc;
}

int store_outbound_find(struct store *st, int64_t h, int64_t since, int64_t *at, char **sender,
                        struct ad_err *err)
{
    *sender = NULL;
    *at = 0;
    struct store_q *q;
    int rc = store_q_get(st, sql_find, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, h);
    store_q_int(q, 2, since);
    rc = store_q_step(q, err);
    if (rc == 1) {
        *at = store_q_col_int(q, 0);
        *sender = g_strdup(store_q_col_text(q, 1));
    }
    store_q_reset(q);
    return rc;
}

int store_outbound_prune(struct store *st, int64_t before, int64_t *n, struct ad_err *err)
{
    int64_t before_n = 0, after_n = 0;
    int rc = n ? store_outbound_count(st, &before_n, err) : 0;
    struct store_q *q;
    if (rc == 0)
        rc = store_q_get(st, sql_prune, &q, err);
    if (rc == 0) {
        store_q_int(q, 1, before);
        rc = store_q_run(q, err);
    }
    if (rc == 0 && n && (rc = store_outbound_count(st, &after_n, err)) == 0)
        *n = before_n - after_n;
    return rc;
}

int store_outbound_count(struct store *st, int64_t *n, struct ad_err *err)
{
    *n = 0;
    struct store_q *q;
    int rc = store_q_get(st, sql_count, &q, err);
    if (rc)
        return rc;
    rc = store_q_step(q, err);
    if (rc == 1)
        *n = store_q_col_int(q, 0);
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

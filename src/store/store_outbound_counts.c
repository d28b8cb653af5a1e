/*
 * store_outbound_counts.c: the hourly outbound counts (see
 * store_outbound_counts.h). Written by the policy server's writer thread
 * (one transaction per batch, an upsert per row), read by the reputation
 * monitor. Errors are the store's; nothing returned is owned by the caller.
 */
#include "store/store_outbound_counts.h"

#include "store/store_q.h"

static const char sql_add[] =
    "INSERT INTO outbound_counts (hour, address, sender_kind, sender, msgs, rcpts)"
    " VALUES ($1, $2, $3, $4, $5, $6)"
    " ON CONFLICT (hour, address, sender_kind, sender) DO UPDATE SET"
    " msgs = outbound_counts.msgs + excluded.msgs,"
    " rcpts = outbound_counts.rcpts + excluded.rcpts";
static const char sql_top[] =
    "SELECT sender_kind, sender, SUM(msgs), SUM(rcpts), MIN(hour), MAX(hour)"
    " FROM outbound_counts WHERE address = $1 AND hour > $2 AND hour <= $3"
    " GROUP BY sender_kind, sender ORDER BY SUM(msgs) DESC, sender_kind, sender LIMIT $4";
static const char sql_total[] =
    "SELECT COALESCE(SUM(msgs), 0) FROM outbound_counts"
    " WHERE address = $1 AND hour > $2 AND hour <= $3";

int store_outbound_counts_add(struct store *st, const struct store_outbound_delta *d, size_t n,
                              struct ad_err *err)
{
    if (n == 0)
        return 0;
    int rc = store_begin(st, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct store_q *q;
        if ((rc = store_q_get(st, sql_add, &q, err)))
            break;
        store_q_int(q, 1, d[i].hour);
        store_q_text(q, 2, d[i].address);
        store_q_text(q, 3, d[i].sender_kind);
        store_q_text(q, 4, d[i].sender);
        store_q_int(q, 5, d[i].msgs);
        store_q_int(q, 6, d[i].rcpts);
        rc = store_q_run(q, err);
    }
    if (rc == 0)
        rc = store_commit(st, err);
    if (rc)
        store_rollback(st);
    return rc;
}

int store_outbound_counts_top(struct store *st, const char *address, int64_t since,
                              int64_t until, int64_t limit,
                              void (*fn)(const struct store_outbound_total *t, void *ctx),
                              void *ctx, int64_t *total, struct ad_err *err)
{
    /* An hour overlaps [since, until] when it starts after since - 3600. */
    int64_t lo = since - 3600, hi = until;
    struct store_q *q;
    int rc = store_q_get(st, sql_top, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, address);
    store_q_int(q, 2, lo);
    store_q_int(q, 3, hi);
    store_q_int(q, 4, limit > 0 ? limit : INT64_MAX);
    while ((rc = store_q_step(q, err)) == 1) {
        struct store_outbound_total t = {
            .sender_kind = store_q_col_text(q, 0),
            .sender = store_q_col_text(q, 1),
            .msgs = store_q_col_int(q, 2),
            .rcpts = store_q_col_int(q, 3),
            .first_hour = store_q_col_int(q, 4),
            .last_hour = store_q_col_int(q, 5),
        };
        fn(&t, ctx);
    }
    store_q_reset(q);
    if (rc < 0 || !total)
        return rc < 0 ? rc : 0;
    if ((rc = store_q_get(st, sql_total, &q, err)))
        return rc;
    store_q_text(q, 1, address);
    store_q_int(q, 2, lo);
    store_q_int(q, 3, hi);
    rc = store_q_step(q, err);
    *total = rc == 1 ? store_q_col_int(q, 0) : 0;
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

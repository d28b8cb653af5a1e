/*
 * store_dirsync.c: the directory's sync, open-incident and limit statements
 * (see store_dirsync.h). Called by directory.c (import) and the policy server
 * (limits). Every statement is reset once its rows are read; lists are copied
 * out before callbacks run. Errors come from store_q (AD_ERR_BUSY when the
 * database is locked, else AD_ERR_STORE).
 */
#include "store_dirsync.h"

#include <glib.h>

#include "store/store_q.h"

static const char *const sql_each[] = {
    [STORE_DIRSYNC_ACCOUNT] = "SELECT name, customer_id FROM accounts ORDER BY name",
    [STORE_DIRSYNC_DOMAIN] = "SELECT domain, customer_id FROM domains ORDER BY domain",
    [STORE_DIRSYNC_UID] = "SELECT uid, customer_id FROM scripts WHERE path = '' ORDER BY uid",
    [STORE_DIRSYNC_CUSTOMER] = "SELECT id, id FROM customers ORDER BY id",
};

static const char sql_del_account[] = "DELETE FROM accounts WHERE name = $1";
static const char sql_del_domain[] = "DELETE FROM domains WHERE domain = $1";
static const char sql_del_uid[] = "DELETE FROM scripts WHERE uid = $1 AND path = ''";
static const char sql_del_cust_accounts[] = "DELETE FROM accounts WHERE customer_id = $1";
static const char sql_del_cust_domains[] = "DELETE FROM domains WHERE customer_id = $1";
static const char sql_del_cust_scripts[] = "DELETE FROM scripts WHERE customer_id = $1";
static const char sql_del_customer[] = "DELETE FROM customers WHERE id = $1";

static const char sql_open[] =
    "SELECT id, state FROM incidents WHERE customer_id = $1"
    " AND state NOT IN ('resolved', 'dismissed', 'merged') ORDER BY id";

static const char sql_limits_set[] =
    "UPDATE customers SET"
    " limit_msgs_hour = CASE WHEN $2 = 1 THEN CAST($3 AS BIGINT) ELSE limit_msgs_hour END,"
    " limit_rcpts_hour = CASE WHEN $4 = 1 THEN CAST($5 AS BIGINT) ELSE limit_rcpts_hour END,"
    " limit_rcpts_day = CASE WHEN $6 = 1 THEN CAST($7 AS BIGINT) ELSE limit_rcpts_day END,"
    " limit_domains_hour = CASE WHEN $8 = 1 THEN CAST($9 AS BIGINT)"
    " ELSE limit_domains_hour END"
    " WHERE id = $1";

/* The WHERE repeats the partial index's condition so that both backends use it. */
static const char sql_limits_each[] =
    "SELECT a.name, c.limit_msgs_hour, c.limit_rcpts_hour, c.limit_rcpts_day,"
    " c.limit_domains_hour FROM customers c JOIN accounts a ON a.customer_id = c.id"
    " WHERE c.limit_msgs_hour IS NOT NULL OR c.limit_rcpts_hour IS NOT NULL"
    " OR c.limit_rcpts_day IS NOT NULL OR c.limit_domains_hour IS NOT NULL";

int store_dirsync_each(struct store *st, enum store_dirsync_kind kind,
                       int (*fn)(const char *value, const char *customer_id, void *ctx),
                       void *ctx, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_each[kind], &q, err);
    if (rc)
        return rc;
    GPtrArray *rows = g_ptr_array_new_with_free_func(g_free);
    while ((rc = store_q_step(q, err)) == 1) {
        g_ptr_array_add(rows, g_strdup(store_q_col_text(q, 0)));
        g_ptr_array_add(rows, g_strdup(store_q_col_text(q, 1)));
    }
    store_q_reset(q);
    for (guint i = 0; rc == 0 && i + 1 < rows->len; i += 2)
        if (fn(g_ptr_array_index(rows, i), g_ptr_array_index(rows, i + 1), ctx))
            break;
    g_ptr_array_free(rows, TRUE);
    return rc < 0 ? rc : 0;
}

static int run1(struct store *st, const char *sql, const char *v, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, v);
    return store_q_run(q, err);
}

int store_dirsync_remove(struct store *st, enum store_dirsync_kind kind, const char *value,
                         struct ad_err *err)
{
    switch (kind) {
    case STORE_DIRSYNC_ACCOUNT:
        return run1(st, sql_del_account, value, err);
    case STORE_DIRSYNC_DOMAIN:
        return run1(st, sql_del_domain, value, err);
    case STORE_DIRSYNC_UID:
        return run1(st, sql_del_uid, value, err);
    case STORE_DIRSYNC_CUSTOMER: {
        int rc = run1(st, sql_del_cust_accounts, value, err);
        if (rc == 0)
            rc = run1(st, sql_del_cust_domains, value, err);
        if (rc == 0)
            rc = run1(st, sql_del_cust_scripts, value, err);
        if (rc == 0)
            rc = run1(st, sql_del_customer, value, err);
        return rc;
    }
    }
    return ad_err_set(err, AD_ERR_STORE, "store: unknown directory row kind %d", (int)kind);
}

int store_dirsync_open_incidents(struct store *st, const char *customer_id, int64_t *n,
                                 int64_t *first_id, char **first_state, struct ad_err *err)
{
    *n = 0;
    *first_id = 0;
    *first_state = NULL;
    struct store_q *q;
    int rc = store_q_get(st, sql_open, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, customer_id);
    while ((rc = store_q_step(q, err)) == 1) {
        if ((*n)++ == 0) {
            *first_id = store_q_col_int(q, 0);
            *first_state = g_strdup(store_q_col_text(q, 1));
        }
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_dirsync_limits_set(struct store *st, const char *customer_id,
                             const struct store_dirsync_limits *l, const bool set[4],
                             struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_limits_set, &q, err);
    if (rc)
        return rc;
    const int64_t v[4] = { l->msgs_per_hour, l->rcpts_per_hour, l->rcpts_per_day,
                           l->domains_per_hour };
    store_q_text(q, 1, customer_id);
    for (int i = 0; i < 4; i++) {
        store_q_int(q, 2 + 2 * i, set[i] ? 1 : 0);
        if (set[i] && v[i] >= 0)
            store_q_int(q, 3 + 2 * i, v[i]);
        else
            store_q_null(q, 3 + 2 * i);
    }
    return store_q_run(q, err);
}

static int64_t col_limit(struct store_q *q, int col)
{
    return store_q_col_null(q, col) ? -1 : store_q_col_int(q, col);
}

int store_dirsync_limits_each(struct store *st,
                              void (*fn)(const char *account,
                                         const struct store_dirsync_limits *l, void *ctx),
                              void *ctx, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_limits_each, &q, err);
    if (rc)
        return rc;
    while ((rc = store_q_step(q, err)) == 1) {
        struct store_dirsync_limits l = { col_limit(q, 1), col_limit(q, 2), col_limit(q, 3),
                                          col_limit(q, 4) };
        fn(store_q_col_text(q, 0), &l, ctx);
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

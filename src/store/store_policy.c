/*
 * store_policy.c: the policy server's part of the store (see store_policy.h).
 * Called by the policy daemon's loop (locks, data version) and writer thread
 * (the event queue), and by the desk worker (pending events). Every statement
 * is reset as soon as its rows are read, so a long-lived connection never
 * holds a read snapshot (which would keep SQLite's WAL from checkpointing).
 */
#include "store_policy.h"

#include <glib.h>
#include <string.h>

#include "store/store_q.h"

static const char sql_locks[] =
    "SELECT l.subject, l.incident_id, c.language FROM locks l"
    " LEFT JOIN customers c ON c.id = l.customer_id WHERE l.unlocked_at IS NULL";
static const char sql_unlocks[] =
    "SELECT subject, unlocked_at FROM locks WHERE unlocked_at >= $1";
static const char sql_stats_put[] =
    "INSERT INTO policy_stats (server, updated_at, stats) VALUES ($1, $2, $3)"
    " ON CONFLICT (server) DO UPDATE SET updated_at = excluded.updated_at, stats = excluded.stats";
static const char sql_stats_each[] =
    "SELECT server, updated_at, stats FROM policy_stats WHERE updated_at >= $1 ORDER BY server";
static const char sql_locked[] =
    "SELECT id FROM locks WHERE subject = $1 AND unlocked_at IS NULL LIMIT 1";
static const char sql_customer_of[] = "SELECT customer_id FROM accounts WHERE name = $1";
static const char sql_lock_insert[] =
    "INSERT INTO locks (subject_kind, subject, customer_id, incident_id, reason, locked_at,"
    " locked_by) VALUES ('account', $1, $2, NULL, $3, $4, $5)";
static const char sql_event_insert[] =
    "INSERT INTO policy_events (at, account, stage, reason, decided_by, lock_id)"
    " VALUES ($1, $2, $3, $4, $5, $6)";
static const char sql_pending[] =
    "SELECT id, at, account, stage, reason, decided_by, lock_id FROM policy_events"
    " WHERE processed_at IS NULL ORDER BY id LIMIT $1";
static const char sql_done[] =
    "UPDATE policy_events SET processed_at = $2, incident_id = $3 WHERE id = $1";

int store_policy_locks(struct store *st,
                       void (*fn)(const char *subject, int64_t incident_id, const char *lang,
                                  void *ctx),
                       void *ctx, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_locks, &q, err);
    if (rc)
        return rc;
    while ((rc = store_q_step(q, err)) == 1) {
        const char *lang = store_q_col_text(q, 2);
        fn(store_q_col_text(q, 0), store_q_col_null(q, 1) ? 0 : store_q_col_int(q, 1),
           lang ? lang : "", ctx);
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_policy_unlocks_since(struct store *st, int64_t since,
                               void (*fn)(const char *subject, int64_t unlocked_at, void *ctx),
                               void *ctx, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_unlocks, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, since);
    while ((rc = store_q_step(q, err)) == 1)
        fn(store_q_col_text(q, 0), store_q_col_int(q, 1), ctx);
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_policy_stats_put(struct store *st, const char *server, int64_t at, const char *json,
                           struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_stats_put, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, server);
    store_q_int(q, 2, at);
    store_q_text(q, 3, json);
    rc = store_q_run(q, err);
    return rc;
}

int store_policy_stats_each(struct store *st, int64_t since,
                            void (*fn)(const char *server, int64_t at, const char *json,
                                       void *ctx),
                            void *ctx, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_stats_each, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, since);
    while ((rc = store_q_step(q, err)) == 1)
        fn(store_q_col_text(q, 0), store_q_col_int(q, 1), store_q_col_text(q, 2), ctx);
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_policy_data_version(struct store *st, int64_t *version, struct ad_err *err)
{
    return store_data_version(st, version, err);
}

int store_policy_event_add(struct store *st, const char *account, const char *stage,
                           const char *reason, bool lock, const char *decided_by, int64_t at,
                           int64_t *lock_id, struct ad_err *err)
{
    *lock_id = 0;
    char *acct = g_ascii_strdown(account, -1);
    char *cust = NULL;
    struct store_q *q;
    int rc = store_begin(st, err);
    if (rc)
        goto out;
    if (lock) {
        if ((rc = store_q_get(st, sql_locked, &q, err)))
            goto fail;
        store_q_text(q, 1, acct);
        rc = store_q_step(q, err);
        store_q_reset(q);
        if (rc < 0)
            goto fail;
        bool held = rc == 1;
        if (!held) {
            if ((rc = store_q_get(st, sql_customer_of, &q, err)))
                goto fail;
            store_q_text(q, 1, acct);
            if ((rc = store_q_step(q, err)) < 0)
                goto fail;
            if (rc == 1)
                cust = g_strdup(store_q_col_text(q, 0));
            store_q_reset(q);
            if ((rc = store_q_get(st, sql_lock_insert, &q, err)))
                goto fail;
            store_q_text(q, 1, acct);
            store_q_text(q, 2, cust);
            store_q_text(q, 3, reason);
            store_q_int(q, 4, at);
            store_q_text(q, 5, decided_by);
            if ((rc = store_q_run(q, err)))
                goto fail;
            *lock_id = store_last_id(st);
        }
    }
    if ((rc = store_q_get(st, sql_event_insert, &q, err)))
        goto fail;
    store_q_int(q, 1, at);
    store_q_text(q, 2, acct);
    store_q_text(q, 3, stage);
    store_q_text(q, 4, reason);
    store_q_text(q, 5, decided_by);
    if (*lock_id)
        store_q_int(q, 6, *lock_id);
    if ((rc = store_q_run(q, err)))
        goto fail;
    rc = store_commit(st, err);
    if (rc == 0)
        goto out;
fail:
    store_rollback(st);
    *lock_id = 0;
out:
    g_free(cust);
    g_free(acct);
    return rc;
}

void store_policy_event_clear(struct store_policy_event *e)
{
    g_free(e->account);
    g_free(e->stage);
    g_free(e->reason);
    g_free(e->decided_by);
    memset(e, 0, sizeof *e);
}

int store_policy_events_pending(struct store *st, struct store_policy_event *out, size_t max,
                                size_t *n, struct ad_err *err)
{
    *n = 0;
    struct store_q *q;
    int rc = store_q_get(st, sql_pending, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, (int64_t)max);
    while (*n < max && (rc = store_q_step(q, err)) == 1) {
        struct store_policy_event *e = &out[(*n)++];
        e->id = store_q_col_int(q, 0);
        e->at = store_q_col_int(q, 1);
        e->account = g_strdup(store_q_col_text(q, 2));
        e->stage = g_strdup(store_q_col_text(q, 3));
        e->reason = g_strdup(store_q_col_text(q, 4));
        e->decided_by = g_strdup(store_q_col_text(q, 5));
        e->lock_id = store_q_col_null(q, 6) ? 0 : store_q_col_int(q, 6);
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_policy_event_done(struct store *st, int64_t id, int64_t incident_id, int64_t now,
                            struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_done, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, id);
    store_q_int(q, 2, now);
    store_q_int(q, 3, incident_id);
    return store_q_run(q, err);
}

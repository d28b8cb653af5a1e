/*
 * store_replay.c: the replay's rows and reads (see store_replay.h). Called by
 * the intake (marks, newest time, holding mails back) and by `abusedesk
 * replay-report`. Errors are the store's (struct ad_err); decision rows are
 * copied out before the callback runs, so no statement stays open while the
 * caller prints.
 */
#include "store_replay.h"

#include <glib.h>
#include <string.h>

#include "store/store_priv.h"
#include "store/store_q.h"

#define HELD_WHY "held: replayed decision (ingest --replay without --notify)"

static const char sql_newest[] = "SELECT MAX(received_at) FROM reports";
static const char sql_mark[] = "UPDATE reports SET replay = $2 WHERE id = $1";
static const char sql_mode[] = "SELECT replay FROM reports WHERE id = $1";
static const char sql_outbox_max[] = "SELECT COALESCE(MAX(id), 0) FROM outbox";
static const char sql_hooks_max[] = "SELECT COALESCE(MAX(id), 0) FROM hook_jobs";
static const char sql_hold_outbox[] =
    "UPDATE outbox SET failed = 1, last_error = $2 WHERE id > $1 AND sent_at IS NULL"
    " AND failed = 0";
static const char sql_hold_hooks[] =
    "UPDATE hook_jobs SET failed = 1, last_error = $2 WHERE id > $1 AND done_at IS NULL"
    " AND failed = 0";
/* Alerts and notices are the mails queued (what the team and the customers
 * read); locks, unlocks, dismissals and resolutions are the audit log's. */
static const char sql_decisions[] =
    "SELECT d.at, d.incident_id, d.kind, i.subject_kind, i.subject, d.detail, d.status FROM ("
    " SELECT o.created_at AS at, COALESCE(o.incident_id, 0) AS incident_id,"
    "  CASE WHEN o.kind = 'team' THEN 'alert' ELSE 'notice' END AS kind,"
    "  o.template || ' to ' || o.rcpt AS detail,"
    "  CASE WHEN o.sent_at IS NOT NULL THEN 'sent'"
    "   WHEN o.failed <> 0 AND o.last_error LIKE 'held:%' THEN 'held'"
    "   WHEN o.failed <> 0 THEN 'failed' ELSE 'queued' END AS status, o.id AS seq"
    " FROM outbox o"
    " UNION ALL"
    " SELECT a.at, COALESCE(a.incident_id, 0),"
    "  CASE a.action WHEN 'locked' THEN 'lock' WHEN 'unlocked' THEN 'unlock'"
    "   WHEN 'unlocked-forced' THEN 'unlock' WHEN 'dismissed' THEN 'dismiss'"
    "   ELSE a.action END,"
    "  a.detail, a.actor, a.id"
    " FROM audit a WHERE a.action IN ('locked', 'unlocked', 'unlocked-forced', 'dismissed',"
    "  'resolve', 'lock-held')"
    ") d LEFT JOIN incidents i ON i.id = d.incident_id"
    " WHERE d.at >= $1 AND ($2 = 0 OR d.at < $2)"
    " ORDER BY d.at, d.incident_id, d.kind, d.seq";

static int one_int(struct store *st, const char *sql, int64_t *v, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql, &q, err);
    if (rc)
        return rc;
    *v = 0;
    if ((rc = store_q_step(q, err)) == 1)
        *v = store_q_col_int(q, 0);
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_replay_newest(struct store *st, int64_t *at, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_newest, &q, err);
    if (rc)
        return rc;
    *at = 0;
    if ((rc = store_q_step(q, err)) == 1 && !store_q_col_null(q, 0)) {
        GDateTime *dt = g_date_time_new_from_iso8601(store_q_col_text(q, 0), NULL);
        if (dt) {
            *at = g_date_time_to_unix(dt);
            g_date_time_unref(dt);
        }
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_replay_mark(struct store *st, int64_t report_id, enum store_replay_mode mode,
                      struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_mark, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, report_id);
    store_q_int(q, 2, (int64_t)mode);
    return store_q_run(q, err);
}

int store_replay_mode(struct store *st, int64_t report_id, enum store_replay_mode *mode,
                      struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_mode, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, report_id);
    *mode = STORE_REPLAY_LIVE;
    if ((rc = store_q_step(q, err)) == 1) {
        int64_t v = store_q_col_int(q, 0);
        *mode = v == 1 ? STORE_REPLAY_HELD : v == 2 ? STORE_REPLAY_NOTIFY : STORE_REPLAY_LIVE;
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_replay_marks(struct store *st, int64_t *outbox_id, int64_t *hook_id,
                       struct ad_err *err)
{
    int rc = one_int(st, sql_outbox_max, outbox_id, err);
    return rc ? rc : one_int(st, sql_hooks_max, hook_id, err);
}

int store_replay_hold(struct store *st, int64_t outbox_id, int64_t hook_id, int *n,
                      struct ad_err *err)
{
    *n = 0;
    const char *sql[2] = { sql_hold_outbox, sql_hold_hooks };
    int64_t mark[2] = { outbox_id, hook_id };
    for (int k = 0; k < 2; k++) {
        struct store_q *q;
        int rc = store_q_get(st, sql[k], &q, err);
        if (rc)
            return rc;
        store_q_int(q, 1, mark[k]);
        store_q_text(q, 2, HELD_WHY);
        if ((rc = store_q_run(q, err)))
            return rc;
        *n += store_changes(st);
    }
    return 0;
}

struct copy {
    int64_t at, incident_id;
    char *kind, *subject_kind, *subject, *detail, *status;
};

int store_replay_decisions(struct store *st, int64_t since, int64_t until,
                           int (*fn)(const struct store_replay_decision *d, void *ctx), void *ctx,
                           struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_decisions, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, since);
    store_q_int(q, 2, until);
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(struct copy));
    while ((rc = store_q_step(q, err)) == 1) {
        struct copy c = { store_q_col_int(q, 0), store_q_col_int(q, 1),
                          g_strdup(store_q_col_text(q, 2)), g_strdup(store_q_col_text(q, 3)),
                          g_strdup(store_q_col_text(q, 4)), g_strdup(store_q_col_text(q, 5)),
                          g_strdup(store_q_col_text(q, 6)) };
        g_array_append_val(rows, c);
    }
    store_q_reset(q);
    if (rc > 0)
        rc = 0;
    for (guint i = 0; i < rows->len; i++) {
        struct copy *c = &g_array_index(rows, struct copy, i);
        struct store_replay_decision d = { c->at, c->incident_id, c->kind, c->subject_kind,
                                           c->subject, c->detail, c->status };
        if (rc == 0 && fn(&d, ctx))
            rc = 1;
        g_free(c->kind);
        g_free(c->subject_kind);
        g_free(c->subject);
        g_free(c->detail);
        g_free(c->status);
    }
    g_array_free(rows, TRUE);
    return rc < 0 ? rc : 0;
}

int store_replay_bulk(struct store *st, bool on, struct ad_err *err)
{
    if (st->backend == STORE_PG)
        return store_exec(st, on ? "SET synchronous_commit = off" : "SET synchronous_commit = on",
                          err);
    int rc = store_exec(st, on ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL", err);
    if (rc == 0)
        rc = store_exec(st, on ? "PRAGMA cache_size=-65536" : "PRAGMA cache_size=-2000", err);
    if (rc == 0)
        rc = store_exec(st, on ? "PRAGMA wal_autocheckpoint=16384" : "PRAGMA wal_autocheckpoint=1000",
                        err);
    return rc;
}

/*
 * store_lifecycle.c: the incident state machine's statements (see
 * store_lifecycle.h), called by src/act/lifecycle.c inside its transaction.
 * Errors are the store's (AD_ERR_BUSY when locked: retry later); every
 * statement is reset as soon as its rows are read (store_args.h). Strings and
 * arrays handed out are g_malloc'd and the caller's.
 */
#include "store/store_lifecycle.h"

#include <glib.h>

#include "store/store_args.h"

static const char sql_get[] =
    "SELECT state, stage, subject_kind, subject, customer_id, account, locked_at,"
    " repeat_offender FROM incidents WHERE id = $1";

static const char sql_set_state[] = "UPDATE incidents SET state = $2, updated_at = $3 WHERE id = $1";

static const char sql_set_locked[] = "UPDATE incidents SET state = 'locked', locked_at = $2, updated_at = $2 WHERE id = $1";

static const char sql_close[] = "UPDATE incidents SET state = $2, closed_at = $3, updated_at = $3 WHERE id = $1";

static const char sql_lock_insert[] =
    "INSERT INTO locks (subject_kind, subject, customer_id, incident_id, reason, locked_at,"
    " locked_by) VALUES ($1, $2, $3, $4, $5, $6, $7)";

static const char sql_lock_active_incident[] = "SELECT id FROM locks WHERE incident_id = $1 AND unlocked_at IS NULL ORDER BY id";

static const char sql_lock_release[] = "UPDATE locks SET unlocked_at = $2, unlocked_by = $3, unlock_reason = $4 WHERE id = $1";

static const char sql_lock_active_subject[] =
    "SELECT incident_id FROM locks WHERE subject = $1 AND unlocked_at IS NULL"
    " ORDER BY id DESC LIMIT 1";

static const char sql_lock_latest_subject[] = "SELECT MAX(locked_at) FROM locks WHERE subject = $1";

static const char sql_pw_changed_after[] =
    "SELECT at FROM password_events WHERE account = $1 AND at >= $2 AND refused = 0"
    " ORDER BY at LIMIT 1";

static const char sql_pw_seen_before[] =
    "SELECT at FROM password_events WHERE account = $1 AND fingerprint = $2 AND at <= $3"
    " AND refused = 0 LIMIT 1";

static const char sql_pw_insert[] =
    "INSERT INTO password_events (account, at, fingerprint, refused, recorded_at)"
    " VALUES ($1, $2, $3, $4, $5)";

static const char sql_incidents_of_account[] =
    "SELECT id FROM incidents WHERE subject_kind = 'account' AND subject = $1"
    " AND state IN ('locked', 'customer_notified', 'customer_replied') ORDER BY id";

static const char sql_incident_exists[] = "SELECT 1 FROM incidents WHERE id = $1";

static const char sql_complaints_of[] = "SELECT complaints FROM incidents WHERE id = $1";

static const char sql_providers_of[] =
    "SELECT COUNT(DISTINCT s.provider) FROM incident_reports x JOIN scores s"
    " ON s.report_id = x.report_id WHERE x.incident_id = $1 AND s.counted = 1"
    " AND s.authenticated = 1";

static const char sql_lock_reason[] = "SELECT reason, locked_by FROM locks WHERE incident_id = $1 ORDER BY id DESC LIMIT 1";

static const char sql_account_locked[] =
    "SELECT 1 FROM locks WHERE subject_kind = 'account' AND lower(subject) = lower($1)"
    " AND unlocked_at IS NULL LIMIT 1";

static const char sql_lock_adopt[] = "UPDATE locks SET incident_id = $2, customer_id = COALESCE(customer_id, $3) WHERE id = $1";

static const char sql_outbox_by_own_msgid[] = "SELECT id, incident_id, kind FROM outbox WHERE message_id = $1";

static const char sql_reply_contact[] =
    "SELECT c.contact_email FROM incidents i JOIN customers c ON c.id = i.customer_id"
    " WHERE i.id = $1";

static const char sql_team_mail_due[] = "SELECT team_mail_at FROM incidents WHERE id = $1";

static const char sql_team_mail_set[] = "UPDATE incidents SET team_mail_at = $2 WHERE id = $1";

static const char sql_unverified_alerts[] = "SELECT COUNT(*) FROM audit WHERE action = 'unverified-alert' AND at > $1";

static const char sql_customer_domain[] =
    "SELECT 1 FROM domains d JOIN incidents i ON i.customer_id = d.customer_id"
    " WHERE i.id = $1 AND d.domain = $2";

static const char sql_reply_insert_v[] =
    "INSERT INTO incident_replies (incident_id, report_id, at, verdict) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (incident_id, report_id) DO NOTHING";

static const char sql_notice_bounce[] = "UPDATE outbox SET bounced_at = $2, bounce_report = $3 WHERE id = $1 AND bounced_at IS NULL";

static const char sql_account_listed[] = "SELECT 1 FROM accounts WHERE name = $1";

static const char sql_policy_open_find[] =
    "SELECT id, stage, state FROM incidents WHERE subject_kind IN ('account', 'script')"
    " AND subject = $1"
    " AND state NOT IN ('resolved', 'dismissed', 'merged') ORDER BY id DESC LIMIT 1";

static const char sql_policy_insert[] =
    "INSERT INTO incidents (subject_kind, subject, customer_id, account, state, stage,"
    " initial_score, score, complaints, repeat_offender, first_seen, last_seen, opened_at,"
    " updated_at, trusted) VALUES ("
    /* the milter's findings name scripts: "uid:path" */
    " CASE WHEN CAST($1 AS TEXT) LIKE '%:%' AND CAST($1 AS TEXT) NOT LIKE '%@%'"
    " THEN 'script' ELSE 'account' END, $1, $2,"
    " CASE WHEN CAST($1 AS TEXT) LIKE '%:%' AND CAST($1 AS TEXT) NOT LIKE '%@%'"
    " THEN NULL ELSE $1 END, $3, $4, 0, 0, 0, $6, $5, $5, $5, $5, 1)";

static const char sql_policy_stage[] =
    "UPDATE incidents SET stage = $2, state = CASE WHEN state = 'open' THEN 'alerted' ELSE state"
    " END, updated_at = $3 WHERE id = $1";

static const char sql_merge_reports[] =
    "INSERT INTO incident_reports (incident_id, report_id) SELECT $1, report_id"
    " FROM incident_reports WHERE incident_id = $2 ON CONFLICT (incident_id, report_id) DO NOTHING";

static const char sql_merge_reports_del[] = "DELETE FROM incident_reports WHERE incident_id = $1";

static const char sql_merge_replies[] =
    "INSERT INTO incident_replies (incident_id, report_id, at, verdict)"
    " SELECT $1, report_id, at, verdict FROM incident_replies WHERE incident_id = $2"
    " ON CONFLICT (incident_id, report_id) DO NOTHING";

static const char sql_merge_replies_del[] = "DELETE FROM incident_replies WHERE incident_id = $1";

static const char sql_merge_outbox[] = "UPDATE outbox SET incident_id = $1 WHERE incident_id = $2";

static const char sql_merge_hooks[] = "UPDATE hook_jobs SET incident_id = $1 WHERE incident_id = $2";

static const char sql_merge_locks[] = "UPDATE locks SET incident_id = $1 WHERE incident_id = $2";

static const char sql_merge_close[] =
    "UPDATE incidents SET state = 'merged', merged_into = $2, closed_at = $3, updated_at = $3"
    " WHERE id = $1";

static const char sql_merge_target[] =
    "UPDATE incidents SET stage = $2, trusted = CASE WHEN $3 = 1 THEN 1 ELSE trusted END,"
    " repeat_offender = CASE WHEN $4 = 1 THEN 1 ELSE repeat_offender END, updated_at = $5"
    " WHERE id = $1";

static const char sql_merge_src[] = "SELECT trusted, repeat_offender FROM incidents WHERE id = $1";


/* ---- incidents ---- */

int store_lifecycle_get(struct store *st, int64_t id, struct store_lifecycle_incident *out,
                        struct ad_err *err)
{
    *out = (struct store_lifecycle_incident){ 0 };
    struct store_q *q;
    int rc = store_args_get(st, sql_get, ARGS(A_INT(id)), &q, err);
    if (rc)
        return rc;
    if ((rc = store_q_step(q, err)) == 1) {
        out->state = g_strdup(store_q_col_text(q, 0));
        out->stage = g_strdup(store_q_col_text(q, 1));
        out->kind = g_strdup(store_q_col_text(q, 2));
        out->subject = g_strdup(store_q_col_text(q, 3));
        out->customer_id = g_strdup(store_q_col_text(q, 4));
        out->account = g_strdup(store_q_col_text(q, 5));
        out->locked_at = store_q_col_null(q, 6) ? 0 : store_q_col_int(q, 6);
        out->repeat = store_q_col_int(q, 7) != 0;
    }
    store_q_reset(q);
    return rc;
}

int store_lifecycle_exists(struct store *st, int64_t id, struct ad_err *err)
{
    int64_t one;
    return store_first_int(st, sql_incident_exists, ARGS(A_INT(id)), &one, err);
}

int store_lifecycle_set_state(struct store *st, int64_t id, const char *state, int64_t now,
                              struct ad_err *err)
{
    return store_run(st, sql_set_state, ARGS(A_INT(id), A_TEXT(state), A_INT(now)), err);
}

int store_lifecycle_set_locked(struct store *st, int64_t id, int64_t now, struct ad_err *err)
{
    return store_run(st, sql_set_locked, ARGS(A_INT(id), A_INT(now)), err);
}

int store_lifecycle_close(struct store *st, int64_t id, const char *state, int64_t now,
                          struct ad_err *err)
{
    return store_run(st, sql_close, ARGS(A_INT(id), A_TEXT(state), A_INT(now)), err);
}

int store_lifecycle_complaints(struct store *st, int64_t id, int64_t *n, struct ad_err *err)
{
    return store_first_int(st, sql_complaints_of, ARGS(A_INT(id)), n, err);
}

int store_lifecycle_providers(struct store *st, int64_t id, int64_t *n, struct ad_err *err)
{
    return store_first_int(st, sql_providers_of, ARGS(A_INT(id)), n, err);
}

int store_lifecycle_contact(struct store *st, int64_t id, char **contact, struct ad_err *err)
{
    return store_first_text(st, sql_reply_contact, ARGS(A_INT(id)), contact, err);
}

int store_lifecycle_customer_domain(struct store *st, int64_t id, const char *domain,
                                    struct ad_err *err)
{
    int64_t one;
    return store_first_int(st, sql_customer_domain, ARGS(A_INT(id), A_TEXT(domain)), &one, err);
}

int store_lifecycle_team_mail_at(struct store *st, int64_t id, int64_t *at, struct ad_err *err)
{
    return store_first_int(st, sql_team_mail_due, ARGS(A_INT(id)), at, err);
}

int store_lifecycle_team_mail_set(struct store *st, int64_t id, int64_t now, struct ad_err *err)
{
    return store_run(st, sql_team_mail_set, ARGS(A_INT(id), A_INT(now)), err);
}

int store_lifecycle_unverified_alerts(struct store *st, int64_t since, int64_t *n,
                                      struct ad_err *err)
{
    return store_first_int(st, sql_unverified_alerts, ARGS(A_INT(since)), n, err);
}

int store_lifecycle_reply_add(struct store *st, int64_t id, int64_t report_id, int64_t at,
                              const char *verdict, struct ad_err *err)
{
    return store_run(st, sql_reply_insert_v,
                     ARGS(A_INT(id), A_INT(report_id), A_INT(at), A_TEXT(verdict)), err);
}

int store_lifecycle_account_incidents(struct store *st, const char *account, int64_t **ids,
                                      size_t *n, struct ad_err *err)
{
    return store_all_ints(st, sql_incidents_of_account, ARGS(A_TEXT(account)), ids, n, err);
}

int store_lifecycle_account_listed(struct store *st, const char *name, struct ad_err *err)
{
    int64_t one;
    return store_first_int(st, sql_account_listed, ARGS(A_TEXT(name)), &one, err);
}

/* ---- locks ---- */

int store_lifecycle_lock_add(struct store *st, const char *kind, const char *subject,
                             const char *customer_id, int64_t incident_id, const char *reason,
                             int64_t now, const char *by, int64_t *lock_id, struct ad_err *err)
{
    int rc = store_run(st, sql_lock_insert,
                       ARGS(A_TEXT(kind), A_TEXT(subject), A_TEXT(customer_id), A_INT(incident_id),
                            A_TEXT(reason), A_INT(now), A_TEXT(by)),
                       err);
    *lock_id = rc == 0 ? store_last_id(st) : 0;
    return rc;
}

int store_lifecycle_lock_adopt(struct store *st, int64_t lock_id, int64_t incident_id,
                               const char *customer_id, struct ad_err *err)
{
    return store_run(st, sql_lock_adopt,
                     ARGS(A_INT(lock_id), A_INT(incident_id), A_TEXT(customer_id)), err);
}

int store_lifecycle_locks_active(struct store *st, int64_t incident_id, int64_t **ids,
                                 size_t *n, struct ad_err *err)
{
    return store_all_ints(st, sql_lock_active_incident, ARGS(A_INT(incident_id)), ids, n, err);
}

int store_lifecycle_lock_release(struct store *st, int64_t lock_id, int64_t now, const char *by,
                                 const char *reason, struct ad_err *err)
{
    return store_run(st, sql_lock_release,
                     ARGS(A_INT(lock_id), A_INT(now), A_TEXT(by), A_TEXT(reason)), err);
}

int store_lifecycle_lock_of(struct store *st, const char *subject, int64_t *incident_id,
                            struct ad_err *err)
{
    return store_first_int(st, sql_lock_active_subject, ARGS(A_TEXT(subject)), incident_id, err);
}

int store_lifecycle_lock_latest(struct store *st, const char *subject, int64_t *at,
                                struct ad_err *err)
{
    return store_first_int(st, sql_lock_latest_subject, ARGS(A_TEXT(subject)), at, err);
}

int store_lifecycle_lock_reason(struct store *st, int64_t id, char **reason, char **by,
                                struct ad_err *err)
{
    *reason = *by = NULL;
    struct store_q *q;
    int rc = store_args_get(st, sql_lock_reason, ARGS(A_INT(id)), &q, err);
    if (rc)
        return rc;
    if ((rc = store_q_step(q, err)) == 1) {
        *reason = g_strdup(store_q_col_text(q, 0));
        *by = g_strdup(store_q_col_text(q, 1));
    }
    store_q_reset(q);
    return rc;
}

int store_lifecycle_account_locked(struct store *st, const char *addr, struct ad_err *err)
{
    int64_t one;
    return store_first_int(st, sql_account_locked, ARGS(A_TEXT(addr)), &one, err);
}

/* ---- passwords ---- */

int store_lifecycle_password_after(struct store *st, const char *account, int64_t since,
                                   int64_t *at, struct ad_err *err)
{
    return store_first_int(st, sql_pw_changed_after, ARGS(A_TEXT(account), A_INT(since)), at,
                           err);
}

int store_lifecycle_password_seen(struct store *st, const char *account, const char *digest,
                                  int64_t until, struct ad_err *err)
{
    int64_t at;
    return store_first_int(st, sql_pw_seen_before,
                           ARGS(A_TEXT(account), A_TEXT(digest), A_INT(until)), &at, err);
}

int store_lifecycle_password_add(struct store *st, const char *account, int64_t at,
                                 const char *digest, bool refused, int64_t now,
                                 struct ad_err *err)
{
    return store_run(st, sql_pw_insert,
                     ARGS(A_TEXT(account), A_INT(at), A_TEXT(digest), A_INT(refused ? 1 : 0),
                          A_INT(now)),
                     err);
}

/* ---- our mails coming back ---- */

int store_lifecycle_outbox_by_msgid(struct store *st, const char *msgid, int64_t *outbox_id,
                                    int64_t *incident_id, char kind[16], struct ad_err *err)
{
    *outbox_id = *incident_id = 0;
    kind[0] = '\0';
    struct store_q *q;
    int rc = store_args_get(st, sql_outbox_by_own_msgid, ARGS(A_TEXT(msgid)), &q, err);
    if (rc)
        return rc;
    if ((rc = store_q_step(q, err)) == 1) {
        *outbox_id = store_q_col_int(q, 0);
        *incident_id = store_q_col_null(q, 1) ? 0 : store_q_col_int(q, 1);
        g_strlcpy(kind, store_q_col_text(q, 2) ? store_q_col_text(q, 2) : "", 16);
    }
    store_q_reset(q);
    return rc;
}

int store_lifecycle_notice_bounced(struct store *st, int64_t outbox_id, int64_t now,
                                   int64_t report_id, bool *first, struct ad_err *err)
{
    int changed = 0;
    int rc = store_run_changed(st, sql_notice_bounce,
                               ARGS(A_INT(outbox_id), A_INT(now), A_INT(report_id)), &changed,
                               err);
    *first = rc == 0 && changed > 0;
    return rc;
}

/* ---- policy-server incidents ---- */

int store_lifecycle_policy_open(struct store *st, const char *account, int64_t *id,
                                char **stage, struct ad_err *err)
{
    *id = 0;
    *stage = NULL;
    struct store_q *q;
    int rc = store_args_get(st, sql_policy_open_find, ARGS(A_TEXT(account)), &q, err);
    if (rc)
        return rc;
    if ((rc = store_q_step(q, err)) == 1) {
        *id = store_q_col_int(q, 0);
        *stage = g_strdup(store_q_col_text(q, 1));
    }
    store_q_reset(q);
    return rc;
}

int store_lifecycle_policy_new(struct store *st, const char *account, const char *customer_id,
                               const char *state, const char *stage, bool repeat, int64_t now,
                               int64_t *id, struct ad_err *err)
{
    int rc = store_run(st, sql_policy_insert,
                       ARGS(A_TEXT(account), A_TEXT(customer_id), A_TEXT(state), A_TEXT(stage),
                            A_INT(now), A_INT(repeat ? 1 : 0)),
                       err);
    *id = store_last_id(st);
    return rc;
}

int store_lifecycle_policy_stage(struct store *st, int64_t id, const char *stage, int64_t now,
                                 struct ad_err *err)
{
    return store_run(st, sql_policy_stage, ARGS(A_INT(id), A_TEXT(stage), A_INT(now)), err);
}

/* ---- merging ---- */

int store_lifecycle_merge_flags(struct store *st, int64_t from, int64_t *trusted,
                                int64_t *repeat, struct ad_err *err)
{
    *trusted = *repeat = 0;
    struct store_q *q;
    int rc = store_args_get(st, sql_merge_src, ARGS(A_INT(from)), &q, err);
    if (rc)
        return rc;
    if ((rc = store_q_step(q, err)) == 1) {
        *trusted = store_q_col_int(q, 0);
        *repeat = store_q_col_int(q, 1);
    }
    store_q_reset(q);
    return rc;
}

int store_lifecycle_merge_move(struct store *st, int64_t into, int64_t from, int64_t now,
                               struct ad_err *err)
{
    /* ($1, $2) = (into, from), or ($1) = from for the deletes */
    static const struct {
        const char *sql;
        bool pair;
    } steps[] = {
        { sql_merge_reports, true },  { sql_merge_reports_del, false },
        { sql_merge_replies, true },  { sql_merge_replies_del, false },
        { sql_merge_outbox, true },   { sql_merge_hooks, true },
        { sql_merge_locks, true },
    };
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < G_N_ELEMENTS(steps); k++)
        rc = steps[k].pair ? store_run(st, steps[k].sql, ARGS(A_INT(into), A_INT(from)), err)
                           : store_run(st, steps[k].sql, ARGS(A_INT(from)), err);
    if (rc == 0)
        rc = store_run(st, sql_merge_close, ARGS(A_INT(from), A_INT(into), A_INT(now)), err);
    return rc;
}

int store_lifecycle_merge_target(struct store *st, int64_t into, const char *stage,
                                 int64_t trusted, int64_t repeat, int64_t now,
                                 struct ad_err *err)
{
    return store_run(st, sql_merge_target,
                     ARGS(A_INT(into), A_TEXT(stage), A_INT(trusted), A_INT(repeat), A_INT(now)),
                     err);
}

/*
 * lifecycle.c: the incident state machine (see lifecycle.h). Called by the CLI
 * (`abusedesk incident lock|unlock|notify|dismiss|resolve|note`, `abusedesk
 * account password-changed`) and by the intake (after processing a complaint,
 * and for customer replies). Runs inside the caller's transaction; what a
 * transition sends is queued in the outbox in that same transaction. Refusals
 * (wrong state, unlock before a new password) come back as AD_ERR_USAGE with a
 * message for the person who asked.
 */
#include "lifecycle.h"

#include <glib.h>
#include <jansson.h>
#include <sodium.h>
#include <string.h>

#include "act/outbox.h"
#include "directory/directory.h"
#include "store/store_q.h"

static const char sql_get[] =
    "SELECT state, stage, subject_kind, subject, customer_id, account, locked_at,"
    " repeat_offender FROM incidents WHERE id = $1";
static const char sql_set_state[] =
    "UPDATE incidents SET state = $2, updated_at = $3 WHERE id = $1";
static const char sql_set_locked[] =
    "UPDATE incidents SET state = 'locked', locked_at = $2, updated_at = $2 WHERE id = $1";
static const char sql_close[] =
    "UPDATE incidents SET state = $2, closed_at = $3, updated_at = $3 WHERE id = $1";
static const char sql_lock_insert[] =
    "INSERT INTO locks (subject_kind, subject, customer_id, incident_id, reason, locked_at,"
    " locked_by) VALUES ($1, $2, $3, $4, $5, $6, $7)";
static const char sql_lock_active_incident[] =
    "SELECT id FROM locks WHERE incident_id = $1 AND unlocked_at IS NULL ORDER BY id";
static const char sql_lock_release[] =
    "UPDATE locks SET unlocked_at = $2, unlocked_by = $3, unlock_reason = $4 WHERE id = $1";
static const char sql_lock_active_subject[] =
    "SELECT incident_id FROM locks WHERE subject = $1 AND unlocked_at IS NULL"
    " ORDER BY id DESC LIMIT 1";
static const char sql_lock_latest_subject[] =
    "SELECT MAX(locked_at) FROM locks WHERE subject = $1";
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
static const char sql_outbox_by_msgid[] =
    "SELECT incident_id FROM outbox WHERE message_id = $1 AND incident_id IS NOT NULL";
static const char sql_incident_exists[] = "SELECT 1 FROM incidents WHERE id = $1";
static const char sql_reply_insert[] =
    "INSERT INTO incident_replies (incident_id, report_id, at) VALUES ($1, $2, $3)"
    " ON CONFLICT (incident_id, report_id) DO NOTHING";
static const char sql_mark_processed[] = "UPDATE reports SET processed = 1 WHERE id = $1";
static const char sql_complaints_of[] = "SELECT complaints FROM incidents WHERE id = $1";
static const char sql_providers_of[] =
    "SELECT COUNT(DISTINCT s.provider) FROM incident_reports x JOIN scores s"
    " ON s.report_id = x.report_id WHERE x.incident_id = $1 AND s.counted = 1";
static const char sql_lock_reason[] =
    "SELECT reason FROM locks WHERE incident_id = $1 ORDER BY id DESC LIMIT 1";

struct inc {
    char *state, *stage, *kind, *subject, *customer_id, *account;
    int64_t locked_at;
    bool repeat;
};

static void inc_clear(struct inc *i)
{
    g_free(i->state);
    g_free(i->stage);
    g_free(i->kind);
    g_free(i->subject);
    g_free(i->customer_id);
    g_free(i->account);
    memset(i, 0, sizeof *i);
}

static int inc_load(struct lifecycle *lc, int64_t id, struct inc *i, struct ad_err *err)
{
    memset(i, 0, sizeof *i);
    struct store_q *q;
    int rc = store_q_get(lc->st, sql_get, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, id);
    if ((rc = store_q_step(q, err)) < 0)
        return rc;
    if (rc == 0)
        return ad_err_set(err, AD_ERR_NOTFOUND, "incident %lld not found", (long long)id);
    i->state = g_strdup(store_q_col_text(q, 0));
    i->stage = g_strdup(store_q_col_text(q, 1));
    i->kind = g_strdup(store_q_col_text(q, 2));
    i->subject = g_strdup(store_q_col_text(q, 3));
    i->customer_id = g_strdup(store_q_col_text(q, 4));
    i->account = g_strdup(store_q_col_text(q, 5));
    i->locked_at = store_q_col_null(q, 6) ? 0 : store_q_col_int(q, 6);
    i->repeat = store_q_col_int(q, 7) != 0;
    return 0;
}

/* AD_ERR_USAGE unless state is one of allowed ("a|b|c"). */
static int allowed(const struct inc *i, int64_t id, const char *action, const char *states,
                   struct ad_err *err)
{
    char **s = g_strsplit(states, "|", -1);
    bool ok = g_strv_contains((const char *const *)s, i->state);
    g_strfreev(s);
    if (ok)
        return 0;
    char *list = g_strdup(states);
    g_strdelimit(list, "|", ',');
    int rc = ad_err_set(err, AD_ERR_USAGE, "incident %lld is %s: cannot %s it (allowed from: %s)",
                        (long long)id, i->state, action, list);
    g_free(list);
    return rc;
}

static int set_state(struct lifecycle *lc, int64_t id, const char *state, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(lc->st, sql_set_state, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, id);
    store_q_text(q, 2, state);
    store_q_int(q, 3, lc->now);
    return store_q_run(q, err);
}

static int audit(struct lifecycle *lc, int64_t id, const char *by, const char *action,
                 struct ad_err *err, const char *fmt, ...) G_GNUC_PRINTF(6, 7);

static int audit(struct lifecycle *lc, int64_t id, const char *by, const char *action,
                 struct ad_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *d = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    int rc = incident_audit(lc->st, id, 0, by, action, d, err);
    log_msg(lc->log, LOG_LEVEL_INFO, "incident %lld: %s by %s: %s", (long long)id, action, by, d);
    g_free(d);
    return rc;
}

static char *human_time(int64_t t)
{
    if (t <= 0)
        return g_strdup("-");
    GDateTime *dt = g_date_time_new_from_unix_utc(t);
    char *s = g_date_time_format(dt, "%Y-%m-%d %H:%M UTC");
    g_date_time_unref(dt);
    return s;
}

static char *iso_human(const char *iso)
{
    GDateTime *dt = iso ? g_date_time_new_from_iso8601(iso, NULL) : NULL;
    if (!dt)
        return g_strdup("-");
    char *s = g_date_time_format(dt, "%Y-%m-%d %H:%M UTC");
    g_date_time_unref(dt);
    return s;
}

static void put(GHashTable *v, const char *k, const char *val)
{
    g_hash_table_insert(v, g_strdup(k), g_strdup(val ? val : ""));
}

static void putf(GHashTable *v, const char *k, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void putf(GHashTable *v, const char *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_hash_table_insert(v, g_strdup(k), g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

/* Every placeholder any template may use, filled from the incident's view. */
static int vars_for(struct lifecycle *lc, int64_t id, GHashTable **out, json_t **view,
                    struct ad_err *err)
{
    json_t *o = NULL;
    int rc = incident_json(lc->cfg, lc->st, id, lc->now, &o, err);
    if (rc)
        return rc;
    GHashTable *v = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    const char *kind = json_string_value(json_object_get(o, "subject_kind"));
    const char *subject = json_string_value(json_object_get(o, "subject"));
    putf(v, "ticket", "[%s #%lld]", lc->cfg->ticket_prefix, (long long)id);
    putf(v, "incident_id", "%lld", (long long)id);
    put(v, "subject", subject);
    put(v, "subject_kind", kind);
    put(v, "account", subject);
    const char *script = json_string_value(json_object_get(o, "script"));
    put(v, "script", script ? script : (kind && !strcmp(kind, "script") ? subject : ""));
    const char *at = subject ? strrchr(subject, '@') : NULL;
    put(v, "domain", at ? at + 1 : "");
    json_t *c = json_object_get(o, "customer");
    put(v, "customer_id", json_string_value(json_object_get(o, "customer_id")));
    put(v, "customer_name", json_is_object(c) ? json_string_value(json_object_get(c, "name")) : "");
    put(v, "contact_email",
        json_is_object(c) ? json_string_value(json_object_get(c, "contact_email")) : "");
    putf(v, "complaints", "%lld", (long long)json_integer_value(json_object_get(o, "complaints")));
    GString *g = g_string_new(NULL);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(o, "subject_counts"), i, e)
    {
        if (i >= 8) {
            g_string_append_printf(g, "    ...\n");
            break;
        }
        g_string_append_printf(g, "    - %s (%lldx)\n", json_string_value(json_object_get(e, "value")),
                               (long long)json_integer_value(json_object_get(e, "count")));
    }
    if (g->len == 0)
        g_string_append(g, "    -\n");
    g_string_truncate(g, g->len - 1);
    put(v, "subjects", g->str);
    g_string_truncate(g, 0);
    json_array_foreach(json_object_get(o, "provider_counts"), i, e)
        g_string_append_printf(g, "%s%s (%lld)", i ? ", " : "",
                               json_string_value(json_object_get(e, "value")),
                               (long long)json_integer_value(json_object_get(e, "count")));
    put(v, "providers", g->len ? g->str : "-");
    g_string_truncate(g, 0);
    json_array_foreach(json_object_get(o, "evidence"), i, e)
        g_string_append_printf(g, "    - %s: %s\n", json_string_value(json_object_get(e, "source")),
                               json_string_value(json_object_get(e, "said")));
    if (g->len)
        g_string_truncate(g, g->len - 1);
    put(v, "evidence", g->len ? g->str : "    -");
    g_string_truncate(g, 0);
    json_array_foreach(json_object_get(o, "history_incidents"), i, e)
        g_string_append_printf(g, "    - #%lld %s %s (%s)\n",
                               (long long)json_integer_value(json_object_get(e, "id")),
                               json_string_value(json_object_get(e, "subject_kind")),
                               json_string_value(json_object_get(e, "subject")),
                               json_string_value(json_object_get(e, "state")));
    if (g->len)
        g_string_truncate(g, g->len - 1);
    put(v, "history", g->len ? g->str : "    -");
    g_string_free(g, TRUE);
    char *t = iso_human(json_string_value(json_object_get(o, "first_seen")));
    put(v, "first_seen", t);
    g_free(t);
    t = iso_human(json_string_value(json_object_get(o, "last_seen")));
    put(v, "last_seen", t);
    g_free(t);
    put(v, "stage", json_string_value(json_object_get(o, "stage")));
    put(v, "state", json_string_value(json_object_get(o, "state")));
    putf(v, "initial_score", "%.2f", json_real_value(json_object_get(o, "initial_score")));
    putf(v, "score", "%.2f", json_real_value(json_object_get(o, "score")));
    json_t *ms = json_object_get(o, "manual_share");
    if (json_is_real(ms))
        putf(v, "manual_share", "%.0f%%", 100.0 * json_real_value(ms));
    else
        put(v, "manual_share", "-");
    put(v, "desk_name", lc->cfg->desk_name);
    put(v, "desk_address", *lc->cfg->reply_to ? lc->cfg->reply_to : lc->cfg->notify_from);
    t = human_time(lc->now);
    put(v, "unlocked_at", t);
    g_free(t);
    for (const char *const *k = (const char *const[]){ "action", "reply_from", "reply_subject",
                                                       "reply_excerpt", "password_changed", NULL };
         *k; k++)
        put(v, *k, "");
    struct store_q *q;
    struct ad_err rerr = { 0 };
    if (store_q_get(lc->st, sql_lock_reason, &q, &rerr) == 0) {
        store_q_int(q, 1, id);
        put(v, "reason", store_q_step(q, &rerr) == 1 ? store_q_col_text(q, 0) : "-");
    }
    *out = v;
    if (view)
        *view = o;
    else
        json_decref(o);
    return 0;
}

/* Queues a customer mail (template name) to the incident's customer. Returns
 * AD_ERR_USAGE when the customer or its contact address is unknown. */
static int notify_customer(struct lifecycle *lc, int64_t id, const char *tpl, const char *by,
                           struct ad_err *err)
{
    GHashTable *v = NULL;
    json_t *o = NULL;
    int rc = vars_for(lc, id, &v, &o, err);
    if (rc)
        return rc;
    json_t *c = json_object_get(o, "customer");
    const char *to = json_is_object(c) ? json_string_value(json_object_get(c, "contact_email")) : NULL;
    if (!to || !*to) {
        rc = ad_err_set(err, AD_ERR_USAGE,
                        "incident %lld: the customer is not in the directory, no contact "
                        "address to notify",
                        (long long)id);
    } else {
        const char *lang = json_string_value(json_object_get(c, "language"));
        int64_t oid = 0;
        rc = outbox_mail(lc->cfg, lc->st, id, "customer", tpl, lang ? lang : "en", v, to,
                         json_string_value(json_object_get(c, "name")), lc->now, &oid, err);
        if (rc == 0)
            rc = audit(lc, id, by, "notify-queued", err,
                       "%s notice to the customer's contact address %s (%s), outbox %lld", tpl, to,
                       lang ? lang : "en", (long long)oid);
    }
    g_hash_table_destroy(v);
    json_decref(o);
    return rc;
}

/* Queues the team alert mail and webhook event. action: what the program did. */
static int alert_team(struct lifecycle *lc, int64_t id, const char *tpl, const char *action,
                      GHashTable *extra, struct ad_err *err)
{
    GHashTable *v = NULL;
    json_t *o = NULL;
    int rc = vars_for(lc, id, &v, &o, err);
    if (rc)
        return rc;
    put(v, "action", action);
    if (extra) {
        GHashTableIter it;
        gpointer k, val;
        g_hash_table_iter_init(&it, extra);
        while (g_hash_table_iter_next(&it, &k, &val))
            put(v, k, val);
    }
    if (*lc->cfg->abuse_team)
        rc = outbox_mail(lc->cfg, lc->st, id, "team", tpl, lc->cfg->team_language, v,
                         lc->cfg->abuse_team, lc->cfg->desk_name, lc->now, NULL, err);
    if (rc == 0) {
        json_t *ev = json_pack("{s:s, s:I, s:O, s:O, s:O, s:O, s:O, s:O, s:s}", "event",
                               !strcmp(tpl, "team_reply") ? "reply" : "alert", "incident_id",
                               (json_int_t)id, "state", json_object_get(o, "state"), "stage",
                               json_object_get(o, "stage"), "subject_kind",
                               json_object_get(o, "subject_kind"), "subject",
                               json_object_get(o, "subject"), "customer_id",
                               json_object_get(o, "customer_id"), "score",
                               json_object_get(o, "score"), "action", action);
        char key[96];
        g_snprintf(key, sizeof key, "%s-%lld-%lld-%08x", tpl, (long long)id, (long long)lc->now,
                   g_random_int());
        rc = outbox_webhook(lc->cfg, lc->st, id, !strcmp(tpl, "team_reply") ? "reply" : "alert",
                            key, ev, lc->now, err);
        json_decref(ev);
    }
    g_hash_table_destroy(v);
    json_decref(o);
    return rc;
}

/* A notice that cannot be made (no customer, a broken template) must not undo
 * the decision that wanted it: audited and logged, the decision stands. Store
 * errors still fail. */
static int skip_or_fail(struct lifecycle *lc, int64_t id, int nrc, const struct ad_err *nerr,
                        struct ad_err *err)
{
    if (nrc == 0)
        return 0;
    if (nrc == AD_ERR_USAGE || nrc == AD_ERR_IO || nrc == AD_ERR_PARSE || nrc == AD_ERR_CONFIG) {
        log_msg(lc->log, nrc == AD_ERR_USAGE ? LOG_LEVEL_WARNING : LOG_LEVEL_ERROR,
                "incident %lld: notice not sent: %s", (long long)id, nerr->msg);
        return audit(lc, id, "abusedesk", "notify-skipped", err, "%s", nerr->msg);
    }
    *err = *nerr;
    return nrc;
}

static json_t *lock_payload(struct lifecycle *lc, const char *event, int64_t id,
                            const struct inc *i, const char *by, const char *reason)
{
    char t[32];
    return json_pack("{s:s, s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:s}", "event", event,
                     "incident_id", (json_int_t)id, "subject_kind", i->kind, "subject", i->subject,
                     "customer_id", i->customer_id, "by", by, "reason", reason, "at",
                     incident_iso(lc->now, t));
}

/* A subject that may be handed to the provider's lock command: a login or
 * mailbox address, or uid:path; nothing that could pass for an option or carry
 * control characters. (The command gets it as one argument, never via a shell.) */
static bool lockable_name(const char *kind, const char *s)
{
    if (!s || !*s || *s == '-' || strlen(s) > 320)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x21 || *p == 0x7f)
            return false;
        if (!strcmp(kind, "account") && !(g_ascii_isalnum(*p) || strchr(".@_%+=-!#$&'*/?^`{|}~", *p)))
            return false;
    }
    return true;
}

int lifecycle_lock(struct lifecycle *lc, int64_t id, const char *by, const char *reason,
                   bool notify, struct ad_err *err)
{
    struct inc i;
    int rc = inc_load(lc, id, &i, err);
    if (rc)
        return rc;
    if ((rc = allowed(&i, id, "lock", "open|alerted", err)))
        goto out;
    if (strcmp(i.kind, "account") && strcmp(i.kind, "script")) {
        rc = ad_err_set(err, AD_ERR_USAGE,
                        "incident %lld is about %s %s: only an account or a script can be locked",
                        (long long)id, i.kind, i.subject);
        goto out;
    }
    if (!lockable_name(i.kind, i.subject)) {
        rc = ad_err_set(err, AD_ERR_USAGE,
                        "incident %lld: '%.60s' does not look like an account or script name: not "
                        "handed to the lock command; check it by hand",
                        (long long)id, i.subject);
        goto out;
    }
    struct store_q *q;
    if ((rc = store_q_get(lc->st, sql_lock_insert, &q, err)))
        goto out;
    store_q_text(q, 1, i.kind);
    store_q_text(q, 2, i.subject);
    store_q_text(q, 3, i.customer_id);
    store_q_int(q, 4, id);
    store_q_text(q, 5, reason);
    store_q_int(q, 6, lc->now);
    store_q_text(q, 7, by);
    if ((rc = store_q_run(q, err)))
        goto out;
    int64_t lock_id = store_last_id(lc->st);
    if ((rc = store_q_get(lc->st, sql_set_locked, &q, err)))
        goto out;
    store_q_int(q, 1, id);
    store_q_int(q, 2, lc->now);
    if ((rc = store_q_run(q, err)))
        goto out;
    json_t *p = lock_payload(lc, "lock", id, &i, by, reason);
    rc = outbox_hooks(lc->cfg, lc->st, id, "lock", lock_id, p, lc->now, err);
    json_decref(p);
    if (rc)
        goto out;
    if ((rc = audit(lc, id, by, "locked", err, "%s -> locked: %s %s locked (lock %lld)%s%s",
                    i.state, i.kind, i.subject, (long long)lock_id, reason ? ": " : "",
                    reason ? reason : "")))
        goto out;
    if (notify) {
        struct ad_err nerr = { 0 };
        int nrc = lifecycle_notify(lc, id, by, NULL, &nerr);
        rc = skip_or_fail(lc, id, nrc, &nerr, err);
    }
out:
    inc_clear(&i);
    return rc;
}

static bool no_complaints(struct lifecycle *lc, int64_t id)
{
    struct store_q *q;
    struct ad_err err = { 0 };
    if (store_q_get(lc->st, sql_complaints_of, &q, &err) != 0)
        return false;
    store_q_int(q, 1, id);
    return store_q_step(q, &err) == 1 && store_q_col_int(q, 0) == 0;
}

int lifecycle_notify(struct lifecycle *lc, int64_t id, const char *by, const char *case_name,
                     struct ad_err *err)
{
    struct inc i;
    int rc = inc_load(lc, id, &i, err);
    if (rc)
        return rc;
    bool joejob = case_name && !strcmp(case_name, "joejob");
    const char *tpl = joejob ? "joejob" : !strcmp(i.kind, "script") ? "script" : "compromised";
    if (!strcmp(tpl, "compromised") && !case_name && no_complaints(lc, id))
        tpl = "compromised_volume"; /* locked by the policy server or a person */
    if (case_name && strcmp(case_name, "joejob") && strcmp(case_name, "compromised")
        && strcmp(case_name, "script")) {
        rc = ad_err_set(err, AD_ERR_USAGE, "unknown case '%s' (compromised, script, joejob)",
                        case_name);
        goto out;
    }
    if (case_name && !joejob)
        tpl = case_name;
    if ((rc = allowed(&i, id, "notify", joejob ? "open|alerted" : "locked", err)))
        goto out;
    if ((rc = notify_customer(lc, id, tpl, by, err)))
        goto out;
    if ((rc = set_state(lc, id, "customer_notified", err)))
        goto out;
    rc = audit(lc, id, by, "notified", err, "%s -> customer_notified (%s notice)", i.state, tpl);
out:
    inc_clear(&i);
    return rc;
}

/* The first password change after the lock that was not refused, or 0. */
static int password_after(struct lifecycle *lc, const char *account, int64_t since, int64_t *at,
                          struct ad_err *err)
{
    *at = 0;
    struct store_q *q;
    int rc = store_q_get(lc->st, sql_pw_changed_after, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, account);
    store_q_int(q, 2, since);
    if ((rc = store_q_step(q, err)) < 0)
        return rc;
    if (rc == 1)
        *at = store_q_col_int(q, 0);
    return 0;
}

static int release_locks(struct lifecycle *lc, int64_t id, const struct inc *i, const char *by,
                         const char *reason, struct ad_err *err)
{
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
    struct store_q *q;
    int rc = store_q_get(lc->st, sql_lock_active_incident, &q, err);
    if (rc == 0) {
        store_q_int(q, 1, id);
        while ((rc = store_q_step(q, err)) == 1) {
            int64_t l = store_q_col_int(q, 0);
            g_array_append_val(ids, l);
        }
    }
    for (guint k = 0; rc == 0 && k < ids->len; k++) {
        int64_t l = g_array_index(ids, int64_t, k);
        if ((rc = store_q_get(lc->st, sql_lock_release, &q, err)))
            break;
        store_q_int(q, 1, l);
        store_q_int(q, 2, lc->now);
        store_q_text(q, 3, by);
        store_q_text(q, 4, reason);
        if ((rc = store_q_run(q, err)))
            break;
        json_t *p = lock_payload(lc, "unlock", id, i, by, reason);
        rc = outbox_hooks(lc->cfg, lc->st, id, "unlock", l, p, lc->now, err);
        json_decref(p);
    }
    g_array_free(ids, TRUE);
    return rc < 0 ? rc : 0;
}

static int close_incident(struct lifecycle *lc, int64_t id, const char *state, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(lc->st, sql_close, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, id);
    store_q_text(q, 2, state);
    store_q_int(q, 3, lc->now);
    return store_q_run(q, err);
}

int lifecycle_unlock(struct lifecycle *lc, int64_t id, const char *by, const char *reason,
                     bool force, struct ad_err *err)
{
    struct inc i;
    int rc = inc_load(lc, id, &i, err);
    if (rc)
        return rc;
    if ((rc = allowed(&i, id, "unlock", "locked|customer_notified|customer_replied", err)))
        goto out;
    char note[300] = "";
    if (!strcmp(i.kind, "account")) {
        int64_t at = 0;
        if ((rc = password_after(lc, i.subject, i.locked_at, &at, err)))
            goto out;
        if (!at && !force) {
            rc = ad_err_set(err, AD_ERR_USAGE,
                            "incident %lld: the password of %s was not changed since the lock: "
                            "unlock refused (abusedesk account password-changed %s; an admin can "
                            "override with --force --reason TEXT)",
                            (long long)id, i.subject, i.subject);
            goto out;
        }
        if (!at && force && (!reason || !*reason)) {
            rc = ad_err_set(err, AD_ERR_USAGE, "--force needs a reason (--reason TEXT)");
            goto out;
        }
        if (at) {
            char *t = human_time(at);
            g_snprintf(note, sizeof note, "; password changed %s", t);
            g_free(t);
        } else {
            g_snprintf(note, sizeof note, "; FORCED without a password change");
        }
    }
    if ((rc = release_locks(lc, id, &i, by, reason, err)))
        goto out;
    if ((rc = close_incident(lc, id, "resolved", err)))
        goto out;
    if ((rc = audit(lc, id, by, force ? "unlocked-forced" : "unlocked", err,
                    "%s -> resolved: %s %s unlocked%s%s%s", i.state, i.kind, i.subject, note,
                    reason ? ": " : "", reason ? reason : "")))
        goto out;
    struct ad_err nerr = { 0 };
    int nrc = notify_customer(lc, id, "unlocked", by, &nerr);
    rc = skip_or_fail(lc, id, nrc, &nerr, err);
out:
    inc_clear(&i);
    return rc;
}

int lifecycle_dismiss(struct lifecycle *lc, int64_t id, const char *by, const char *reason,
                      struct ad_err *err)
{
    if (!reason || !*reason)
        return ad_err_set(err, AD_ERR_USAGE, "dismissing an incident needs a reason (--reason TEXT)");
    struct inc i;
    int rc = inc_load(lc, id, &i, err);
    if (rc)
        return rc;
    if ((rc = allowed(&i, id, "dismiss", "open|alerted|locked|customer_notified|customer_replied",
                      err)) == 0
        && (rc = release_locks(lc, id, &i, by, reason, err)) == 0
        && (rc = close_incident(lc, id, "dismissed", err)) == 0)
        rc = audit(lc, id, by, "dismissed", err, "%s -> dismissed (false alarm): %s", i.state,
                   reason);
    inc_clear(&i);
    return rc;
}

int lifecycle_resolve(struct lifecycle *lc, int64_t id, const char *by, const char *reason,
                      struct ad_err *err)
{
    struct inc i;
    int rc = inc_load(lc, id, &i, err);
    if (rc)
        return rc;
    if ((rc = allowed(&i, id, "resolve", "open|alerted", err)) == 0
        && (rc = close_incident(lc, id, "resolved", err)) == 0)
        rc = audit(lc, id, by, "resolve", err, "%s -> resolved%s%s", i.state, reason ? ": " : "",
                   reason ? reason : "");
    inc_clear(&i);
    return rc;
}

int lifecycle_note(struct lifecycle *lc, int64_t id, const char *by, const char *text,
                   struct ad_err *err)
{
    if (!text || !*text)
        return ad_err_set(err, AD_ERR_USAGE, "a note needs its text (--reason TEXT)");
    struct inc i;
    int rc = inc_load(lc, id, &i, err);
    if (rc == 0)
        rc = audit(lc, id, by, "note", err, "%s", text);
    inc_clear(&i);
    return rc;
}

/* Unlocks by itself when the configuration allows it and the conditions hold. */
static int maybe_auto_unlock(struct lifecycle *lc, int64_t id, struct ad_err *err)
{
    if (!lc->cfg->auto_unlock)
        return 0;
    struct inc i;
    int rc = inc_load(lc, id, &i, err);
    if (rc)
        return rc;
    bool ok = !strcmp(i.state, "customer_replied") && !i.repeat;
    if (ok && !strcmp(i.kind, "account")) {
        int64_t at = 0;
        if ((rc = password_after(lc, i.subject, i.locked_at, &at, err)) == 0)
            ok = at > 0;
    }
    bool repeat = i.repeat;
    inc_clear(&i);
    if (rc)
        return rc;
    if (ok)
        return lifecycle_unlock(lc, id, "abusedesk",
                                "auto-unlock: first incident, the customer replied and the "
                                "password was changed after the lock",
                                false, err);
    if (repeat)
        return 0; /* a person decides; the team alert says so */
    return 0;
}

static char *fp_digest(const char *fingerprint)
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)fingerprint, strlen(fingerprint), NULL,
                       0);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    return g_strdup(hex);
}

int lifecycle_password_changed(struct lifecycle *lc, const char *account, int64_t at,
                               const char *fingerprint, struct ad_err *err)
{
    if (sodium_init() < 0)
        return ad_err_set(err, AD_ERR_STORE, "libsodium could not be initialised");
    char *acct = g_ascii_strdown(account, -1);
    char *digest = fingerprint && *fingerprint ? fp_digest(fingerprint) : NULL;
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
    struct store_q *q;
    int rc = 0;
    bool refused = false;
    if (digest) {
        /* The latest lock of the account: fingerprints seen up to it are leaked. */
        int64_t lock_at = 0;
        if ((rc = store_q_get(lc->st, sql_lock_latest_subject, &q, err)))
            goto out;
        store_q_text(q, 1, acct);
        if ((rc = store_q_step(q, err)) < 0)
            goto out;
        if (rc == 1 && !store_q_col_null(q, 0))
            lock_at = store_q_col_int(q, 0);
        rc = 0;
        if (lock_at) {
            if ((rc = store_q_get(lc->st, sql_pw_seen_before, &q, err)))
                goto out;
            store_q_text(q, 1, acct);
            store_q_text(q, 2, digest);
            store_q_int(q, 3, lock_at);
            if ((rc = store_q_step(q, err)) < 0)
                goto out;
            refused = rc == 1;
            rc = 0;
        }
    }
    if ((rc = store_q_get(lc->st, sql_pw_insert, &q, err)))
        goto out;
    store_q_text(q, 1, acct);
    store_q_int(q, 2, at);
    store_q_text(q, 3, digest);
    store_q_int(q, 4, refused ? 1 : 0);
    store_q_int(q, 5, lc->now);
    if ((rc = store_q_run(q, err)))
        goto out;
    if ((rc = store_q_get(lc->st, sql_incidents_of_account, &q, err)))
        goto out;
    store_q_text(q, 1, acct);
    while ((rc = store_q_step(q, err)) == 1) {
        int64_t id = store_q_col_int(q, 0);
        g_array_append_val(ids, id);
    }
    if (rc < 0)
        goto out;
    rc = 0;
    char *t = human_time(at);
    for (guint k = 0; rc == 0 && k < ids->len; k++) {
        int64_t id = g_array_index(ids, int64_t, k);
        if (refused)
            rc = audit(lc, id, "panel", "password-refused", err,
                       "password change of %s at %s refused: the new password is one used "
                       "before the lock (reuse of the leaked password)",
                       acct, t);
        else
            rc = audit(lc, id, "panel", "password-changed", err, "password of %s changed at %s%s",
                       acct, t, digest ? " (new fingerprint)" : "");
        if (rc == 0 && !refused)
            rc = maybe_auto_unlock(lc, id, err);
    }
    g_free(t);
    if (rc == 0 && refused)
        rc = ad_err_set(err, AD_ERR_USAGE,
                        "password change of %s refused: the new password was used before the "
                        "lock (reuse of the leaked password); the account stays locked",
                        acct);
out:
    g_array_free(ids, TRUE);
    g_free(digest);
    g_free(acct);
    return rc;
}

static const char sql_reply_sender_ok[] =
    "SELECT 1 FROM incidents i LEFT JOIN customers c ON c.id = i.customer_id"
    " WHERE i.id = $1 AND (lower(i.subject) = lower($2) OR lower(c.contact_email) = lower($2))";

int lifecycle_reply_match(struct lifecycle *lc, const char *subject, const char *from,
                          const char *head, size_t head_len, int64_t *incident_id,
                          bool *verified, struct ad_err *err)
{
    *incident_id = 0;
    *verified = false;
    struct store_q *q;
    int rc;
    if (subject) {
        char *mark = g_strdup_printf("[%s #", lc->cfg->ticket_prefix);
        const char *p = strstr(subject, mark);
        if (p) {
            p += strlen(mark);
            char *end = NULL;
            long long n = g_ascii_strtoll(p, &end, 10);
            if (end && *end == ']' && n > 0) {
                if ((rc = store_q_get(lc->st, sql_incident_exists, &q, err))) {
                    g_free(mark);
                    return rc;
                }
                store_q_int(q, 1, n);
                if ((rc = store_q_step(q, err)) < 0) {
                    g_free(mark);
                    return rc;
                }
                if (rc == 1)
                    *incident_id = n;
            }
        }
        g_free(mark);
        if (*incident_id && from) {
            if ((rc = store_q_get(lc->st, sql_reply_sender_ok, &q, err)))
                return rc;
            store_q_int(q, 1, *incident_id);
            store_q_text(q, 2, from);
            if ((rc = store_q_step(q, err)) < 0)
                return rc;
            *verified = rc == 1;
        }
    }
    /* In-Reply-To and References of the header block: one of our Message-IDs. */
    if (*verified || !head || head_len == 0)
        return 0;
    int64_t by_subject = *incident_id;
    *incident_id = 0;
    size_t n = head_len < 65536 ? head_len : 65536;
    char *h = g_strndup(head, n);
    char *low = g_ascii_strdown(h, -1);
    rc = 0;
    static const char *const names[] = { "\nin-reply-to:", "\nreferences:" };
    for (size_t k = 0; k < G_N_ELEMENTS(names) && !*incident_id && rc == 0; k++) {
        const char *f = strstr(low, names[k]);
        if (!f)
            continue;
        const char *p = h + (f - low) + strlen(names[k]);
        /* The field with its folded continuation lines. */
        const char *e = p;
        while (*e && !(e[0] == '\n' && e[1] != ' ' && e[1] != '\t'))
            e++;
        int looked = 0; /* a References list of thousands must not cost thousands of queries */
        for (const char *lt = memchr(p, '<', (size_t)(e - p)); lt && lt < e && !*incident_id
                                                                 && looked < 20;
             lt = memchr(lt + 1, '<', (size_t)(e - lt - 1)), looked++) {
            const char *gt = memchr(lt, '>', (size_t)(e - lt));
            if (!gt)
                break;
            char *id = g_strndup(lt + 1, (size_t)(gt - lt - 1));
            if ((rc = store_q_get(lc->st, sql_outbox_by_msgid, &q, err)) == 0) {
                store_q_text(q, 1, id);
                rc = store_q_step(q, err);
                if (rc == 1)
                    *incident_id = store_q_col_int(q, 0);
                if (rc > 0)
                    rc = 0;
            }
            g_free(id);
            if (rc < 0)
                break;
        }
    }
    g_free(low);
    g_free(h);
    if (*incident_id)
        *verified = true; /* our Message-IDs are random: only the customer has them */
    else
        *incident_id = by_subject;
    return rc < 0 ? rc : 0;
}

int lifecycle_reply(struct lifecycle *lc, int64_t id, int64_t report_id, const char *from,
                    const char *subject, const char *excerpt, bool verified, struct ad_err *err)
{
    struct inc i;
    int rc = inc_load(lc, id, &i, err);
    if (rc)
        return rc;
    struct store_q *q;
    if ((rc = store_q_get(lc->st, sql_reply_insert, &q, err)))
        goto out;
    store_q_int(q, 1, id);
    store_q_int(q, 2, report_id);
    store_q_int(q, 3, lc->now);
    if ((rc = store_q_run(q, err)))
        goto out;
    /* A reply is not a complaint: it is never attributed or scored. */
    if ((rc = store_q_get(lc->st, sql_mark_processed, &q, err)))
        goto out;
    store_q_int(q, 1, report_id);
    if ((rc = store_q_run(q, err)))
        goto out;
    bool moves = verified && (!strcmp(i.state, "customer_notified") || !strcmp(i.state, "locked"));
    if (moves && (rc = set_state(lc, id, "customer_replied", err)))
        goto out;
    char *what = verified ? g_strdup(moves ? "customer_notified -> customer_replied"
                                           : "reply attached")
                          : g_strdup_printf("reply attached, NOT from the customer's contact "
                                            "address or account (from %s): the state stays %s",
                                            from ? from : "?", i.state);
    rc = incident_audit(lc->st, id, report_id, verified ? "customer" : "unverified", "replied",
                        what, err);
    g_free(what);
    if (rc)
        goto out;
    int64_t pw = 0;
    if (!strcmp(i.kind, "account") && (rc = password_after(lc, i.subject, i.locked_at, &pw, err)))
        goto out;
    GHashTable *extra = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    char *rf = verified ? g_strdup(from ? from : "-")
                        : g_strdup_printf("%s (UNVERIFIED: not the customer's address)",
                                          from ? from : "-");
    put(extra, "reply_from", rf);
    g_free(rf);
    put(extra, "reply_subject", subject ? subject : "-");
    put(extra, "reply_excerpt", excerpt && *excerpt ? excerpt : "    -");
    if (strcmp(i.kind, "account"))
        put(extra, "password_changed", "- (not a mailbox)");
    else if (pw) {
        char *t = human_time(pw);
        put(extra, "password_changed", t);
        g_free(t);
    } else {
        put(extra, "password_changed", lc->cfg->team_language && !strcmp(lc->cfg->team_language, "de")
                                           ? "nein" : "no");
    }
    struct ad_err aerr = { 0 };
    rc = skip_or_fail(lc, id, alert_team(lc, id, "team_reply", "customer replied", extra, &aerr),
                      &aerr, err);
    g_hash_table_destroy(extra);
    if (rc == 0 && moves)
        rc = maybe_auto_unlock(lc, id, err);
out:
    inc_clear(&i);
    return rc;
}

int lifecycle_after_process(struct lifecycle *lc, int64_t report_id,
                            const struct incident_outcome *o, struct ad_err *err)
{
    (void)report_id;
    if (!o->incident_id || !(o->opened || o->escalated || o->reopened))
        return 0;
    if (o->stage < INCIDENT_STAGE_ALERT)
        return 0;
    int rc = 0;
    const char *action = o->reopened ? "incident reopened by new complaints" : "alert";
    char buf[200];
    int64_t n_providers = 0;
    if (o->stage == INCIDENT_STAGE_LOCK) {
        struct store_q *q;
        if ((rc = store_q_get(lc->st, sql_providers_of, &q, err)))
            return rc;
        store_q_int(q, 1, o->incident_id);
        if ((rc = store_q_step(q, err)) < 0)
            return rc;
        n_providers = rc == 1 ? store_q_col_int(q, 0) : 0;
        rc = 0;
    }
    if (o->stage == INCIDENT_STAGE_LOCK) {
        if (!lc->cfg->auto_lock) {
            action = "lock stage reached; [incidents] auto_lock is off: please decide";
        } else if (n_providers < lc->cfg->auto_lock_min_providers) {
            g_snprintf(buf, sizeof buf,
                       "lock stage reached with complaints from %lld reporting provider(s) only "
                       "([incidents] auto_lock_min_providers = %d): please decide",
                       (long long)n_providers, lc->cfg->auto_lock_min_providers);
            action = buf;
            rc = incident_audit(lc->st, o->incident_id, 0, "abusedesk", "lock-held", buf, err);
            if (rc)
                return rc;
        } else {
            struct ad_err lerr = { 0 };
            rc = lifecycle_lock(lc, o->incident_id, "abusedesk",
                                "lock stage reached ([incidents] auto_lock)", true, &lerr);
            if (rc == AD_ERR_USAGE) {
                /* Not lockable (an IP, a customer) or already past it. */
                g_snprintf(buf, sizeof buf, "lock stage reached, not locked: %.150s", lerr.msg);
                action = buf;
                rc = incident_audit(lc->st, o->incident_id, 0, "abusedesk", "lock-skipped",
                                    lerr.msg, err);
            } else if (rc) {
                *err = lerr;
                return rc;
            } else {
                action = "locked at once ([incidents] auto_lock) and the customer notified";
            }
        }
    }
    if (rc == 0) {
        struct ad_err aerr = { 0 };
        rc = skip_or_fail(lc, o->incident_id,
                          alert_team(lc, o->incident_id, "team_alert", action, NULL, &aerr), &aerr,
                          err);
    }
    return rc;
}

static const char sql_policy_open_find[] =
    "SELECT id, stage, state FROM incidents WHERE subject_kind = 'account' AND subject = $1"
    " AND state NOT IN ('resolved', 'dismissed') ORDER BY id DESC LIMIT 1";
static const char sql_policy_insert[] =
    "INSERT INTO incidents (subject_kind, subject, customer_id, account, state, stage,"
    " initial_score, score, complaints, repeat_offender, first_seen, last_seen, opened_at,"
    " updated_at) VALUES ('account', $1, $2, $1, $3, $4, 0, 0, 0, 0, $5, $5, $5, $5)";
static const char sql_policy_stage[] =
    "UPDATE incidents SET stage = $2, state = CASE WHEN state = 'open' THEN 'alerted' ELSE state"
    " END, updated_at = $3 WHERE id = $1";

int lifecycle_policy_event(struct lifecycle *lc, const char *account, enum incident_stage stage,
                           const char *reason, bool lock, const char *by, int64_t *incident_id,
                           struct ad_err *err)
{
    char *acct = g_ascii_strdown(account, -1);
    char *cust = NULL;
    struct store_q *q;
    int64_t id = 0;
    bool opened = false;
    const char *sname = incident_stage_name(stage);
    int rc = directory_account_customer(lc->st, acct, &cust, err);
    if (rc < 0)
        goto out;
    if ((rc = store_q_get(lc->st, sql_policy_open_find, &q, err)))
        goto out;
    store_q_text(q, 1, acct);
    if ((rc = store_q_step(q, err)) < 0)
        goto out;
    char *cur = rc == 1 ? g_strdup(store_q_col_text(q, 1)) : NULL;
    bool lockable = rc == 1 && (!strcmp(store_q_col_text(q, 2), "open")
                                || !strcmp(store_q_col_text(q, 2), "alerted"));
    if (rc == 1)
        id = store_q_col_int(q, 0);
    rc = 0;
    if (id && lock && !lockable) {
        /* The open incident is past locking (a joe-job notice, a reply) but the
         * account is not locked: this needs a lock of its own. */
        int64_t held = 0;
        if ((rc = lifecycle_is_locked(lc->st, acct, &held, err)) < 0) {
            g_free(cur);
            goto out;
        }
        if (rc == 0) {
            id = 0;
            g_free(cur);
            cur = NULL;
        }
        rc = 0;
    }
    if (!id) {
        if ((rc = store_q_get(lc->st, sql_policy_insert, &q, err)) == 0) {
            store_q_text(q, 1, acct);
            store_q_text(q, 2, cust);
            store_q_text(q, 3, stage >= INCIDENT_STAGE_ALERT ? "alerted" : "open");
            store_q_text(q, 4, sname);
            store_q_int(q, 5, lc->now);
            rc = store_q_run(q, err);
            id = store_last_id(lc->st);
            opened = true;
        }
    } else if (!cur || (strcmp(cur, "lock") && (stage == INCIDENT_STAGE_LOCK || !strcmp(cur, "observe")))) {
        if ((rc = store_q_get(lc->st, sql_policy_stage, &q, err)) == 0) {
            store_q_int(q, 1, id);
            store_q_text(q, 2, sname);
            store_q_int(q, 3, lc->now);
            rc = store_q_run(q, err);
        }
    }
    g_free(cur);
    if (rc)
        goto out;
    if ((rc = audit(lc, id, by, opened ? "opened" : "policy", err, "%s%s (stage %s)",
                    opened ? "opened: " : "", reason, sname)))
        goto out;
    const char *action = "alert from the policy server";
    if (lock) {
        struct ad_err lerr = { 0 };
        int lrc = lifecycle_lock(lc, id, by, reason, true, &lerr);
        if (lrc == AD_ERR_USAGE)
            rc = audit(lc, id, by, "lock-skipped", err, "%s", lerr.msg);
        else if (lrc) {
            *err = lerr;
            rc = lrc;
        } else {
            action = strcmp(by, "abusedesk policy") ? "locked by a person and the customer notified"
                                                    : "locked at once by the policy server and the "
                                                      "customer notified";
        }
        if (rc)
            goto out;
    }
    struct ad_err aerr = { 0 };
    rc = skip_or_fail(lc, id, alert_team(lc, id, "team_alert", action, NULL, &aerr), &aerr, err);
out:
    if (incident_id)
        *incident_id = id;
    g_free(cust);
    g_free(acct);
    return rc;
}

int lifecycle_is_locked(struct store *st, const char *subject, int64_t *incident_id,
                        struct ad_err *err)
{
    *incident_id = 0;
    struct store_q *q;
    char *s = g_ascii_strdown(subject, -1);
    int rc = store_q_get(st, sql_lock_active_subject, &q, err);
    if (rc == 0) {
        store_q_text(q, 1, s);
        rc = store_q_step(q, err);
        if (rc == 1) {
            *incident_id = store_q_col_null(q, 0) ? 0 : store_q_col_int(q, 0);
            rc = 1;
        }
    }
    g_free(s);
    return rc;
}

/*
 * lifecycle.c: the incident state machine (see lifecycle.h). Called by the CLI
 * (`abusedesk incident lock|unlock|notify|dismiss|resolve|note`, `abusedesk
 * account password-changed`) and by the intake (after processing a complaint,
 * and for customer replies). Runs inside the caller's transaction; what a
 * transition sends is queued in the outbox in that same transaction. Refusals
 * (wrong state, unlock before a new password) come back as AD_ERR_REFUSED with a
 * message for the person who asked.
 */
#include "lifecycle.h"

#include <glib.h>
#include <jansson.h>
#include <sodium.h>
#include <string.h>

#include "act/outbox.h"
#include "directory/directory.h"
#include "store/store_held.h"
#include "store/store_intake.h"
#include "store/store_lifecycle.h"
#include "util/textsafe.h"

/* Distinct proven providers: an unauthenticated report names only the provider
 * it claims, and never counts here. */

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
    struct store_lifecycle_incident r;
    int rc = store_lifecycle_get(lc->st, id, &r, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return ad_err_set(err, AD_ERR_NOTFOUND, "incident %lld not found", (long long)id);
    *i = (struct inc){ r.state, r.stage, r.kind, r.subject, r.customer_id, r.account,
                       r.locked_at, r.repeat };
    return 0;
}

/* AD_ERR_REFUSED unless state is one of allowed ("a|b|c"). */
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
    int rc = ad_err_set(err, AD_ERR_REFUSED, "incident %lld is %s: cannot %s it (allowed from: %s)",
                        (long long)id, i->state, action, list);
    g_free(list);
    return rc;
}

static int set_state(struct lifecycle *lc, int64_t id, const char *state, struct ad_err *err)
{
    return store_lifecycle_set_state(lc->st, id, state, lc->now, err);
}

/* A webhook event for a ticket system that mirrors the desk (when [act]
 * webhook_url is set): every step of the lifecycle, with who and why. */
static int event_hook(struct lifecycle *lc, int64_t id, const char *event, const char *by,
                      const char *detail, struct ad_err *err)
{
    if (!lc->cfg->webhook_url || !*lc->cfg->webhook_url || !id)
        return 0;
    if (sodium_init() < 0)
        return ad_err_set(err, AD_ERR_STORE, "libsodium could not be initialised");
    unsigned char rnd[16];
    char rhex[33], key[160], t[32];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(rhex, sizeof rhex, rnd, sizeof rnd);
    g_snprintf(key, sizeof key, "%s-%lld-%lld-%s", event, (long long)id, (long long)lc->now, rhex);
    char *d = textsafe_line(detail ? detail : "", 500);
    json_t *ev = json_pack("{s:s, s:I, s:s, s:s?, s:s}", "event", event, "incident_id",
                           (json_int_t)id, "at", incident_iso(lc->now, t), "by", by, "detail", d);
    g_free(d);
    int rc = outbox_webhook(lc->cfg, lc->st, id, event, key, ev, lc->now, err);
    json_decref(ev);
    return rc;
}

/* The lifecycle's audit actions that are webhook events, and their names. */
static const char *event_of(const char *action)
{
    static const char *const map[][2] = {
        { "locked", "locked" },       { "notified", "notified" },
        { "unlocked", "unlocked" },   { "unlocked-forced", "unlocked" },
        { "dismissed", "dismissed" }, { "resolve", "resolved" },
        { "merged", "merged" },       { "notify-unreachable", "notice_unreachable" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++)
        if (!strcmp(action, map[i][0]))
            return map[i][1];
    return NULL;
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
    int rc = incident_audit_at(lc->st, lc->now, id, 0, by, action, d, err);
    const char *ev = event_of(action);
    if (rc == 0 && ev)
        rc = event_hook(lc, id, ev, by, d, err);
    log_msg(lc->log, LOG_LEVEL_INFO, "incident %lld: %s by %s: %s", (long long)id, action, by, d);
    g_free(d);
    return rc;
}

/* A time for people: in [notify] timezone (or the system's), with its zone. */
static char *human_time_in(const struct config *cfg, int64_t t)
{
    if (t <= 0)
        return g_strdup("-");
    GDateTime *utc = g_date_time_new_from_unix_utc(t);
    if (!utc)
        return g_strdup("-");
    GTimeZone *tz = cfg && cfg->timezone && *cfg->timezone
                        ? g_time_zone_new_identifier(cfg->timezone)
                        : g_time_zone_new_local();
    GDateTime *dt = tz ? g_date_time_to_timezone(utc, tz) : NULL;
    char *s = g_date_time_format(dt ? dt : utc, dt ? "%Y-%m-%d %H:%M %Z" : "%Y-%m-%d %H:%M UTC");
    if (dt)
        g_date_time_unref(dt);
    if (tz)
        g_time_zone_unref(tz);
    g_date_time_unref(utc);
    return s;
}

#define human_time(t) human_time_in(lc->cfg, (t))

static char *iso_human(const struct config *cfg, const char *iso)
{
    GDateTime *dt = iso ? g_date_time_new_from_iso8601(iso, NULL) : NULL;
    if (!dt)
        return g_strdup("-");
    int64_t t = g_date_time_to_unix(dt);
    g_date_time_unref(dt);
    return human_time_in(cfg, t);
}

/* The language of a customer's notices: the directory's, else the default. */
static const char *customer_language(const struct config *cfg, const char *lang)
{
    if (lang && (!strcmp(lang, "de") || !strcmp(lang, "en")))
        return lang;
    return cfg->default_language && *cfg->default_language ? cfg->default_language : "de";
}

/* The customer-facing reason of a lock, from DIR/LANG/reasons.ini (the
 * operator's own --reason is an internal note and never reaches the
 * customer). code: complaints, volume, anomaly, networks, manual. */
static char *reason_text(const struct config *cfg, const char *lang, const char *code)
{
    char *text = NULL;
    for (int pass = 0; pass < 2 && !text; pass++) {
        char *path = g_build_filename(cfg->templates_dir, pass ? "en" : lang, "reasons.ini", NULL);
        GKeyFile *kf = g_key_file_new();
        if (g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL))
            text = g_key_file_get_string(kf, "reasons", code, NULL);
        g_key_file_free(kf);
        g_free(path);
    }
    return text ? text : g_strdup("-");
}

/* Which reason a lock had: the policy server's findings by their wording, a
 * person's lock, or the complaints. */
static const char *reason_code(const char *lock_reason, const char *locked_by, int64_t complaints)
{
    if (lock_reason && g_str_has_prefix(lock_reason, "outbound volume"))
        return "volume";
    if (lock_reason && g_str_has_prefix(lock_reason, "anomaly"))
        return "anomaly";
    if (lock_reason && g_str_has_prefix(lock_reason, "logins from"))
        return "networks";
    if (complaints > 0)
        return "complaints";
    if (locked_by && strcmp(locked_by, "abusedesk") && strcmp(locked_by, "abusedesk policy"))
        return "manual";
    return "volume";
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

/* Every placeholder any template may use, filled from the incident's view, for
 * a text in language lang. Text that came by mail (complaint subjects,
 * evidence, names) is quoted as untrusted: control and bidi characters
 * removed, one indented line each, links made unclickable. */
static int vars_for(struct lifecycle *lc, int64_t id, const char *lang, GHashTable **out,
                    json_t **view, struct ad_err *err)
{
    json_t *o = NULL;
    int rc = incident_json(lc->cfg, lc->st, id, lc->now, &o, err);
    if (rc)
        return rc;
    GHashTable *v = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if (!lang) {
        json_t *cc = json_object_get(o, "customer");
        lang = customer_language(lc->cfg, json_is_object(cc) ? json_string_value(json_object_get(
                                                                   cc, "language"))
                                                             : NULL);
    }
    put(v, "language", lang);
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
    char *cname = textsafe_line(
        json_is_object(c) ? json_string_value(json_object_get(c, "name")) : "", 120);
    put(v, "customer_name", cname);
    g_free(cname);
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
        char *q = textsafe_quote(json_string_value(json_object_get(e, "value")), "    > ", 100);
        g_string_append_printf(g, "%s (%lldx)\n", q,
                               (long long)json_integer_value(json_object_get(e, "count")));
        g_free(q);
    }
    if (g->len == 0)
        g_string_append(g, "    -\n");
    g_string_truncate(g, g->len - 1);
    put(v, "subjects", g->str);
    putf(v, "n_subjects", "%zu", json_array_size(json_object_get(o, "subject_counts")));
    g_string_truncate(g, 0);
    json_array_foreach(json_object_get(o, "provider_counts"), i, e)
        g_string_append_printf(g, "%s%s (%lld)", i ? ", " : "",
                               json_string_value(json_object_get(e, "value")),
                               (long long)json_integer_value(json_object_get(e, "count")));
    put(v, "providers", g->len ? g->str : "-");
    g_string_truncate(g, 0);
    json_array_foreach(json_object_get(o, "evidence"), i, e)
    {
        char *src = textsafe_line(json_string_value(json_object_get(e, "source")), 40);
        char *said = textsafe_line(json_string_value(json_object_get(e, "said")), 200);
        char *sd = textsafe_defang(said);
        g_string_append_printf(g, "    - %s: %s\n", src, sd);
        g_free(src);
        g_free(said);
        g_free(sd);
    }
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
    char *t = iso_human(lc->cfg, json_string_value(json_object_get(o, "first_seen")));
    put(v, "first_seen", t);
    g_free(t);
    t = iso_human(lc->cfg, json_string_value(json_object_get(o, "last_seen")));
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
    for (const char *const *k = (const char *const[]){ "action", "reply_kind", "reply_from",
                                                       "reply_subject",
                                                       "reply_excerpt", "password_changed", NULL };
         *k; k++)
        put(v, *k, "");
    /* The customer reads the reason in their language; the team also gets the
     * system's own words (internal_reason). */
    struct ad_err rerr = { 0 };
    char *lock_reason = NULL, *locked_by = NULL;
    store_lifecycle_lock_reason(lc->st, id, &lock_reason, &locked_by, &rerr);
    int64_t nc = json_integer_value(json_object_get(o, "complaints"));
    char *rt = reason_text(lc->cfg, lang, reason_code(lock_reason, locked_by, nc));
    put(v, "reason", rt);
    g_free(rt);
    char *ir = textsafe_line(lock_reason ? lock_reason : "-", 300);
    put(v, "internal_reason", ir);
    g_free(ir);
    g_free(lock_reason);
    g_free(locked_by);
    /* The complaint count with its plural form, per language. */
    bool one = nc == 1;
    if (!strcmp(lang, "de")) {
        if (one)
            put(v, "complaints_times", "einmal");
        else
            putf(v, "complaints_times", "%lld-mal", (long long)nc);
        putf(v, "complaints_count", "%lld %s", (long long)nc, one ? "Beschwerde" : "Beschwerden");
        putf(v, "complaints_reports", "%lld %s", (long long)nc, one ? "Meldung" : "Meldungen");
    } else {
        if (one)
            put(v, "complaints_times", "once");
        else
            putf(v, "complaints_times", "%lld times", (long long)nc);
        putf(v, "complaints_count", "%lld %s", (long long)nc, one ? "complaint" : "complaints");
        putf(v, "complaints_reports", "%lld %s", (long long)nc, one ? "report" : "reports");
    }
    *out = v;
    if (view)
        *view = o;
    else
        json_decref(o);
    return 0;
}

/* True when addr is a locked mailbox (or the incident's own account): a notice
 * sent there would never be read, or be read by the attacker. */
static int unreachable_contact(struct lifecycle *lc, const char *addr, const char *account,
                               bool *out, struct ad_err *err)
{
    *out = account && !g_ascii_strcasecmp(addr, account);
    if (*out)
        return 0;
    int rc = store_lifecycle_account_locked(lc->st, addr, err);
    if (rc < 0)
        return rc;
    *out = rc == 1;
    return 0;
}

static int alert_team(struct lifecycle *lc, int64_t id, const char *tpl, const char *action,
                      GHashTable *extra, struct ad_err *err);

/* Queues a customer mail (template name) to the incident's customer, at its
 * contact address or at `to` when given. Returns AD_ERR_USAGE when the
 * customer or its contact address is unknown, or when the contact address is
 * the locked mailbox itself (then the team is told: no reachable contact). */
static int notify_customer(struct lifecycle *lc, int64_t id, const char *tpl, const char *by,
                           const char *to_override, struct ad_err *err)
{
    GHashTable *v = NULL;
    json_t *o = NULL;
    int rc = vars_for(lc, id, NULL, &v, &o, err);
    if (rc)
        return rc;
    json_t *c = json_object_get(o, "customer");
    const char *to = to_override && *to_override ? to_override
                     : json_is_object(c) ? json_string_value(json_object_get(c, "contact_email"))
                                         : NULL;
    const char *lang = g_hash_table_lookup(v, "language");
    const char *kind = json_string_value(json_object_get(o, "subject_kind"));
    const char *subject = json_string_value(json_object_get(o, "subject"));
    bool unreachable = false;
    if (!to || !*to) {
        rc = ad_err_set(err, AD_ERR_USAGE,
                        "incident %lld: the customer is not in the directory, no contact "
                        "address to notify",
                        (long long)id);
    } else if ((rc = unreachable_contact(lc, to,
                                         kind && !strcmp(kind, "account") ? subject : NULL,
                                         &unreachable, err)) != 0) {
        /* store error */
    } else if (unreachable) {
        const char *cid = json_string_value(json_object_get(o, "customer_id"));
        char *why = g_strdup_printf(
            "no reachable contact: the contact address %s is the locked mailbox itself; the %s "
            "notice was not sent there (abusedesk directory set-contact %s ADDRESS, then "
            "abusedesk incident notify %lld --to ADDRESS)",
            to, tpl, cid ? cid : "CUSTOMER",
            (long long)id);
        struct ad_err aerr = { 0 };
        rc = audit(lc, id, by, "notify-unreachable", err, "%s", why);
        if (rc == 0 && alert_team(lc, id, "team_alert", why, NULL, &aerr) != 0)
            log_msg(lc->log, LOG_LEVEL_WARNING, "incident %lld: team alert not queued: %s",
                    (long long)id, aerr.msg);
        if (rc == 0)
            rc = ad_err_set(err, AD_ERR_USAGE, "incident %lld: %s", (long long)id, why);
        g_free(why);
    } else {
        int64_t oid = 0;
        rc = outbox_mail(lc->cfg, lc->st, id, "customer", tpl, lang, v, to,
                         json_is_object(c) ? json_string_value(json_object_get(c, "name")) : NULL,
                         lc->now, &oid, err);
        if (rc == 0)
            rc = audit(lc, id, by, "notify-queued", err, "%s notice to %s %s (%s), outbox %lld",
                       tpl, to_override && *to_override ? "the given address" : "the customer's "
                       "contact address", to, lang, (long long)oid);
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
    int rc = vars_for(lc, id, lc->cfg->team_language, &v, &o, err);
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
        unsigned char rnd[16];
        char rhex[33], key[128];
        if (sodium_init() < 0) {
            json_decref(ev);
            g_hash_table_destroy(v);
            json_decref(o);
            return ad_err_set(err, AD_ERR_STORE, "libsodium could not be initialised");
        }
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2hex(rhex, sizeof rhex, rnd, sizeof rnd);
        g_snprintf(key, sizeof key, "%s-%lld-%lld-%s", tpl, (long long)id, (long long)lc->now,
                   rhex);
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
    if (nrc == AD_ERR_USAGE || nrc == AD_ERR_REFUSED || nrc == AD_ERR_IO || nrc == AD_ERR_PARSE
        || nrc == AD_ERR_CONFIG) {
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

static int lock_impl(struct lifecycle *lc, int64_t id, const char *by, const char *reason,
                     bool notify, int64_t adopt, struct ad_err *err);

int lifecycle_lock(struct lifecycle *lc, int64_t id, const char *by, const char *reason,
                   bool notify, struct ad_err *err)
{
    return lock_impl(lc, id, by, reason, notify, 0, err);
}

/* Locks incident id's subject; adopt: a lock row the policy server already
 * wrote (enforced since), which is linked to the incident instead of a new
 * one. */
static int lock_impl(struct lifecycle *lc, int64_t id, const char *by, const char *reason,
                     bool notify, int64_t adopt, struct ad_err *err)
{
    struct inc i;
    int rc = inc_load(lc, id, &i, err);
    if (rc)
        return rc;
    /* From open or alerted; and again within the same incident when it was
     * notified or answered but its subject is no longer locked (one incident
     * per sender: a new lock joins it rather than opening another). */
    int64_t held = 0;
    if (adopt)
        rc = 0; /* the adopted lock is the one that holds it */
    else if (i.subject && (rc = lifecycle_is_locked(lc->st, i.subject, &held, err)) < 0)
        goto out;
    bool relock = rc == 0 && (!strcmp(i.state, "customer_notified")
                              || !strcmp(i.state, "customer_replied") || !strcmp(i.state, "locked"));
    if (rc == 1) {
        rc = ad_err_set(err, AD_ERR_REFUSED, "incident %lld: %s %s is locked already (incident %lld)",
                        (long long)id, i.kind, i.subject, (long long)held);
        goto out;
    }
    if (!relock && (rc = allowed(&i, id, "lock", "open|alerted", err)))
        goto out;
    rc = 0;
    if (strcmp(i.kind, "account") && strcmp(i.kind, "script")) {
        rc = ad_err_set(err, AD_ERR_REFUSED,
                        "incident %lld is about %s %s: only an account or a script can be locked",
                        (long long)id, i.kind, i.subject);
        goto out;
    }
    if (!lockable_name(i.kind, i.subject)) {
        rc = ad_err_set(err, AD_ERR_REFUSED,
                        "incident %lld: '%.60s' does not look like an account or script name: not "
                        "handed to the lock command; check it by hand",
                        (long long)id, i.subject);
        goto out;
    }
    int64_t lock_id = adopt;
    if (adopt) {
        if ((rc = store_lifecycle_lock_adopt(lc->st, adopt, id, i.customer_id, err)))
            goto out;
    } else {
        if ((rc = store_lifecycle_lock_add(lc->st, i.kind, i.subject, i.customer_id, id, reason,
                                           lc->now, by, &lock_id, err)))
            goto out;
    }
    if ((rc = store_lifecycle_set_locked(lc->st, id, lc->now, err)))
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
        int nrc = lifecycle_notify(lc, id, by, NULL, NULL, &nerr);
        rc = skip_or_fail(lc, id, nrc, &nerr, err);
    }
out:
    inc_clear(&i);
    return rc;
}

static bool no_complaints(struct lifecycle *lc, int64_t id)
{
    struct ad_err err = { 0 };
    int64_t n = 0;
    return store_lifecycle_complaints(lc->st, id, &n, &err) == 1 && n == 0;
}

int lifecycle_notify(struct lifecycle *lc, int64_t id, const char *by, const char *case_name,
                     const char *to, struct ad_err *err)
{
    struct inc i;
    int rc = inc_load(lc, id, &i, err);
    if (rc)
        return rc;
    if (case_name && strcmp(case_name, "joejob") && strcmp(case_name, "compromised")
        && strcmp(case_name, "script")) {
        rc = ad_err_set(err, AD_ERR_USAGE, "unknown case '%s' (compromised, script, joejob)",
                        case_name);
        goto out;
    }
    bool domain = !strcmp(i.kind, "domain");
    bool joejob = (case_name && !strcmp(case_name, "joejob")) || (!case_name && domain);
    if (joejob && !domain) {
        /* The evidence shows the mail passed our submission or web host: telling
         * the customer "nothing was hacked" would be wrong. */
        rc = ad_err_set(err, AD_ERR_REFUSED,
                        "incident %lld is about %s %s, whose mail passed our own hosts: not a "
                        "joe job (the joe-job notice is for a customer's domain forged by "
                        "others)",
                        (long long)id, i.kind, i.subject);
        goto out;
    }
    if (!joejob && domain) {
        rc = ad_err_set(err, AD_ERR_REFUSED,
                        "incident %lld is a joe job (domain %s forged by others): only the "
                        "joe-job notice applies",
                        (long long)id, i.subject);
        goto out;
    }
    const char *tpl = joejob ? "joejob" : !strcmp(i.kind, "script") ? "script" : "compromised";
    if (!strcmp(tpl, "compromised") && !case_name && no_complaints(lc, id))
        tpl = "compromised_volume"; /* locked by the policy server or a person */
    if (case_name && !joejob)
        tpl = case_name;
    if ((rc = allowed(&i, id, "notify",
                      joejob ? "open|alerted|customer_notified" : "locked|customer_notified", err)))
        goto out;
    if ((rc = notify_customer(lc, id, tpl, by, to, err)))
        goto out;
    if (strcmp(i.state, "customer_notified") && (rc = set_state(lc, id, "customer_notified", err)))
        goto out;
    rc = audit(lc, id, by, "notified", err, "%s -> customer_notified (%s notice%s%s)", i.state,
               tpl, to ? " to " : "", to ? to : "");
out:
    inc_clear(&i);
    return rc;
}

/* The first password change after the lock that was not refused, or 0. */
static int password_after(struct lifecycle *lc, const char *account, int64_t since, int64_t *at,
                          struct ad_err *err)
{
    int rc = store_lifecycle_password_after(lc->st, account, since, at, err);
    return rc < 0 ? rc : 0;
}

static int release_locks(struct lifecycle *lc, int64_t id, const struct inc *i, const char *by,
                         const char *reason, struct ad_err *err)
{
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = store_lifecycle_locks_active(lc->st, id, &ids, &n, err);
    for (size_t k = 0; rc == 0 && k < n; k++) {
        int64_t l = ids[k];
        if ((rc = store_lifecycle_lock_release(lc->st, l, lc->now, by, reason, err)))
            break;
        json_t *p = lock_payload(lc, "unlock", id, i, by, reason);
        rc = outbox_hooks(lc->cfg, lc->st, id, "unlock", l, p, lc->now, err);
        json_decref(p);
    }
    g_free(ids);
    return rc < 0 ? rc : 0;
}

/* An account's incident ended (unlocked, dismissed, resolved): with [held]
 * enabled, its mail held by Postfix is to be released, written with the
 * decision (`incident ... --delete-held` turns it into a deletion in the same
 * transaction); `abusedesk held run` does it. */
static int held_request(struct lifecycle *lc, int64_t id, const struct inc *i, const char *by,
                        struct ad_err *err)
{
    if (!lc->cfg->held_enabled || strcmp(i->kind, "account") != 0)
        return 0;
    return store_held_request(lc->st, i->subject, "release", id, by, lc->now, err);
}

static int close_incident(struct lifecycle *lc, int64_t id, const char *state, struct ad_err *err)
{
    return store_lifecycle_close(lc->st, id, state, lc->now, err);
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
            rc = ad_err_set(err, AD_ERR_REFUSED,
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
    if ((rc = close_incident(lc, id, "resolved", err)) || (rc = held_request(lc, id, &i, by, err)))
        goto out;
    if ((rc = audit(lc, id, by, force ? "unlocked-forced" : "unlocked", err,
                    "%s -> resolved: %s %s unlocked%s%s%s", i.state, i.kind, i.subject, note,
                    reason ? ": " : "", reason ? reason : "")))
        goto out;
    struct ad_err nerr = { 0 };
    int nrc = notify_customer(lc, id, "unlocked", by, NULL, &nerr);
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
    /* A false alarm that locked the customer: they were told to scan and change
     * passwords, so they are told it is over (the reason stays internal). */
    bool was_locked = !strcmp(i.state, "locked") || !strcmp(i.state, "customer_notified")
                      || !strcmp(i.state, "customer_replied");
    bool was_told = was_locked && strcmp(i.kind, "domain");
    if ((rc = allowed(&i, id, "dismiss", "open|alerted|locked|customer_notified|customer_replied",
                      err)) == 0
        && (rc = release_locks(lc, id, &i, by, reason, err)) == 0
        && (rc = close_incident(lc, id, "dismissed", err)) == 0
        && (rc = held_request(lc, id, &i, by, err)) == 0)
        rc = audit(lc, id, by, "dismissed", err, "%s -> dismissed (false alarm): %s", i.state,
                   reason);
    if (rc == 0 && was_told) {
        struct ad_err nerr = { 0 };
        int nrc = notify_customer(lc, id, "dismissed", by, NULL, &nerr);
        rc = skip_or_fail(lc, id, nrc, &nerr, err);
    }
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
        && (rc = close_incident(lc, id, "resolved", err)) == 0
        && (rc = held_request(lc, id, &i, by, err)) == 0)
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

/* AD_ERR_NOTFOUND unless account is one of the directory's accounts. */
static int account_known(struct lifecycle *lc, const char *acct, struct ad_err *err)
{
    char *cust = NULL;
    int rc = directory_account_customer(lc->st, acct, &cust, err);
    g_free(cust);
    if (rc < 0)
        return rc;
    if (!cust)
        return ad_err_set(err, AD_ERR_NOTFOUND,
                          "account %s is not in the customer directory (abusedesk directory "
                          "import)",
                          acct);
    return 0;
}

/* Whether digest was a password of the account up to its latest lock: such a
 * password is known to the attackers. */
static int digest_leaked(struct lifecycle *lc, const char *acct, const char *digest, bool *leaked,
                         struct ad_err *err)
{
    *leaked = false;
    int64_t lock_at = 0;
    int rc = store_lifecycle_lock_latest(lc->st, acct, &lock_at, err);
    if (rc < 0)
        return rc;
    if (!lock_at)
        return 0;
    if ((rc = store_lifecycle_password_seen(lc->st, acct, digest, lock_at, err)) < 0)
        return rc;
    *leaked = rc == 1;
    return 0;
}

int lifecycle_password_check(struct lifecycle *lc, const char *account, const char *digest,
                             bool *leaked, struct ad_err *err)
{
    char *acct = g_ascii_strdown(account, -1);
    int rc = account_known(lc, acct, err);
    if (rc == 0)
        rc = digest_leaked(lc, acct, digest, leaked, err);
    g_free(acct);
    return rc;
}

int lifecycle_password_changed(struct lifecycle *lc, const char *account, int64_t at,
                               const char *fingerprint, struct ad_err *err)
{
    if (sodium_init() < 0)
        return ad_err_set(err, AD_ERR_STORE, "libsodium could not be initialised");
    char *digest = fingerprint && *fingerprint ? fp_digest(fingerprint) : NULL;
    int rc = lifecycle_password_changed_digest(lc, account, at, digest, err);
    g_free(digest);
    return rc;
}

int lifecycle_password_changed_digest(struct lifecycle *lc, const char *account, int64_t at,
                                      const char *digest, struct ad_err *err)
{
    char *acct = g_ascii_strdown(account, -1);
    int64_t *ids = NULL;
    size_t n_ids = 0;
    bool refused = false;
    int rc = account_known(lc, acct, err);
    if (rc)
        goto out;
    if (digest && (rc = digest_leaked(lc, acct, digest, &refused, err)))
        goto out;
    if ((rc = store_lifecycle_password_add(lc->st, acct, at, digest, refused, lc->now, err)))
        goto out;
    if ((rc = store_lifecycle_account_incidents(lc->st, acct, &ids, &n_ids, err)))
        goto out;
    char *t = human_time(at);
    for (size_t k = 0; rc == 0 && k < n_ids; k++) {
        int64_t id = ids[k];
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
    g_free(ids);
    g_free(acct);
    return rc;
}

/* Team mails about unverified replies of every incident in the last interval. */

/* At most this many team mails about unverified replies per [notify]
 * team_interval, all incidents together (ticket numbers are sequential: a
 * stranger can name every incident). */
#define UNVERIFIED_ALERTS_MAX 20

/* One of our Message-IDs: (outbox id, incident, kind) or 0. */
static int our_msgid(struct lifecycle *lc, const char *msgid, int64_t *oid, int64_t *incident,
                     char kind[16], struct ad_err *err)
{
    *oid = *incident = 0;
    kind[0] = '\0';
    if (!msgid || !*msgid || strlen(msgid) > 250)
        return 0;
    return store_lifecycle_outbox_by_msgid(lc->st, msgid, oid, incident, kind, err);
}

int lifecycle_reply_match(struct lifecycle *lc, const char *subject, const char *msgid,
                          const char *const *ids, size_t n_ids, bool ticket_ok,
                          struct lifecycle_match *m, struct ad_err *err)
{
    memset(m, 0, sizeof *m);
    int64_t oid, inc;
    char kind[16];
    /* Our own mail fed back (a team alert sent to the abuse address). */
    int rc = our_msgid(lc, msgid, &oid, &inc, kind, err);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        m->own_mail = true;
        m->incident_id = inc;
        return 0;
    }
    for (size_t i = 0; i < n_ids && i < 20; i++) {
        if ((rc = our_msgid(lc, ids[i], &oid, &inc, kind, err)) < 0)
            return rc;
        if (rc == 1 && inc) {
            m->incident_id = inc;
            if (!strcmp(kind, "customer"))
                m->by_notice = true;
            else
                m->own_mail = true; /* an answer to a team alert: the team's own */
            return 0;
        }
    }
    if (!ticket_ok || !subject)
        return 0;
    char *mark = g_strdup_printf("[%s #", lc->cfg->ticket_prefix);
    const char *p = strstr(subject, mark);
    if (p) {
        p += strlen(mark);
        char *end = NULL;
        long long n = g_ascii_strtoll(p, &end, 10);
        if (end && *end == ']' && n > 0) {
            if ((rc = store_lifecycle_exists(lc->st, n, err)) == 1)
                m->incident_id = n;
        }
    }
    g_free(mark);
    return rc < 0 ? rc : 0;
}

int lifecycle_reply_judge(struct lifecycle *lc, const struct lifecycle_match *m,
                          const char *from, bool from_dmarc_ok, bool auto_reply,
                          const char *auto_why, enum lifecycle_verdict *verdict, char *why,
                          size_t why_size, struct ad_err *err)
{
    *verdict = LIFECYCLE_REPLY_UNVERIFIED;
    const struct config *cfg = lc->cfg;
    if (m->own_mail) {
        *verdict = LIFECYCLE_REPLY_AUTO;
        g_strlcpy(why, "our own mail (a team alert or notice) came back", why_size);
        return 0;
    }
    if (from && ((cfg->notify_from && !g_ascii_strcasecmp(from, cfg->notify_from))
                 || (cfg->reply_to && *cfg->reply_to && !g_ascii_strcasecmp(from, cfg->reply_to))
                 || (cfg->abuse_team && *cfg->abuse_team
                     && !g_ascii_strcasecmp(from, cfg->abuse_team)))) {
        *verdict = LIFECYCLE_REPLY_AUTO;
        g_snprintf(why, why_size, "From is our own address %s (a loop)", from);
        return 0;
    }
    if (auto_reply) {
        *verdict = LIFECYCLE_REPLY_AUTO;
        g_snprintf(why, why_size, "an auto-reply (%s)", auto_why ? auto_why : "headers");
        return 0;
    }
    struct inc i;
    int rc = inc_load(lc, m->incident_id, &i, err);
    if (rc)
        return rc;
    bool locked_self = false;
    if (from && (rc = unreachable_contact(lc, from, !strcmp(i.kind, "account") ? i.subject : NULL,
                                          &locked_self, err)) != 0)
        goto out;
    if (locked_self) {
        g_snprintf(why, why_size, "From %s is the locked mailbox itself, which the attacker may "
                   "control: not taken as the customer's word", from);
        goto out;
    }
    if (m->by_notice) {
        *verdict = LIFECYCLE_REPLY_VERIFIED;
        g_strlcpy(why, "it names the Message-ID of our notice to the customer", why_size);
        goto out;
    }
    char *contact = NULL;
    if ((rc = store_lifecycle_contact(lc->st, m->incident_id, &contact, err)) < 0)
        goto out;
    rc = 0;
    bool is_contact = from && contact && !g_ascii_strcasecmp(from, contact);
    if (is_contact && from_dmarc_ok) {
        *verdict = LIFECYCLE_REPLY_VERIFIED;
        g_snprintf(why, why_size, "From is the contact address %s and our MX verified its domain "
                   "(DMARC or aligned DKIM/SPF pass)", from);
    } else if (is_contact) {
        g_snprintf(why, why_size, "From claims the contact address %s, but nothing verified it "
                   "(no trusted DMARC pass, no Message-ID of our notice)", from);
    } else {
        g_snprintf(why, why_size, "From %s is not the customer's contact address and the mail "
                   "names no notice of ours", from ? from : "(none)");
    }
    g_free(contact);
out:
    inc_clear(&i);
    return rc;
}

static const char *verdict_name(enum lifecycle_verdict v)
{
    return v == LIFECYCLE_REPLY_VERIFIED ? "verified" : v == LIFECYCLE_REPLY_AUTO ? "auto"
                                                                                  : "unverified";
}

/* True when the team may get another mail about this incident now (and notes
 * that it does). */
static int team_mail_due(struct lifecycle *lc, int64_t id, bool *due, struct ad_err *err)
{
    int64_t last = 0;
    int rc = store_lifecycle_team_mail_at(lc->st, id, &last, err);
    if (rc < 0)
        return rc;
    *due = !last || lc->now - last >= lc->cfg->team_interval || lc->now < last;
    if (!*due)
        return 0;
    return store_lifecycle_team_mail_set(lc->st, id, lc->now, err);
}

/* Whether an unverified reply to incident id may alert the team now: only
 * when it comes from the customer's contact address or one of its domains (a
 * stranger's mail is attached and audited, nothing more), at most once per
 * incident and team_interval, and at most UNVERIFIED_ALERTS_MAX for all
 * incidents in that time. */
static int unverified_due(struct lifecycle *lc, int64_t id, const char *from, bool *due,
                          struct ad_err *err)
{
    *due = false;
    if (!from)
        return 0;
    char *contact = NULL;
    int rc = store_lifecycle_contact(lc->st, id, &contact, err);
    bool related = rc == 1 && contact && !g_ascii_strcasecmp(contact, from);
    g_free(contact);
    if (rc < 0)
        return rc;
    const char *at = strrchr(from, '@');
    if (!related && at && at[1]) {
        char *dom = g_ascii_strdown(at + 1, -1);
        rc = store_lifecycle_customer_domain(lc->st, id, dom, err);
        related = rc == 1;
        g_free(dom);
        if (rc < 0)
            return rc;
    }
    if (!related)
        return 0;
    int64_t n = 0;
    if ((rc = store_lifecycle_unverified_alerts(lc->st, lc->now - lc->cfg->team_interval, &n,
                                                err)) < 0)
        return rc;
    if (n >= UNVERIFIED_ALERTS_MAX)
        return 0;
    if ((rc = team_mail_due(lc, id, due, err)) || !*due)
        return rc;
    return incident_audit_at(lc->st, lc->now, id, 0, "abusedesk", "unverified-alert",
                          "the team is told of an unverified reply", err);
}

int lifecycle_reply(struct lifecycle *lc, int64_t id, int64_t report_id, const char *from,
                    const char *subject, const char *excerpt, enum lifecycle_verdict verdict,
                    const char *why, struct ad_err *err)
{
    struct inc i;
    int rc = inc_load(lc, id, &i, err);
    if (rc)
        return rc;
    bool verified = verdict == LIFECYCLE_REPLY_VERIFIED;
    if ((rc = store_lifecycle_reply_add(lc->st, id, report_id, lc->now, verdict_name(verdict),
                                        err)))
        goto out;
    /* A reply is not a complaint: it is never attributed or scored. */
    if ((rc = store_intake_done(lc->st, report_id, err)))
        goto out;
    bool moves = verified && (!strcmp(i.state, "customer_notified") || !strcmp(i.state, "locked"));
    if (moves && (rc = set_state(lc, id, "customer_replied", err)))
        goto out;
    char *sfrom = textsafe_line(from ? from : "?", 120);
    char *what = verified ? g_strdup_printf("%s (%s)", moves ? "customer_notified -> "
                                                               "customer_replied"
                                                             : "reply attached",
                                            why ? why : "verified")
                 : verdict == LIFECYCLE_REPLY_AUTO
                     ? g_strdup_printf("auto-reply attached (from %s): %s; the state stays %s",
                                       sfrom, why ? why : "", i.state)
                     : g_strdup_printf("reply attached, NOT verified (from %s): %s; the state "
                                       "stays %s",
                                       sfrom, why ? why : "", i.state);
    rc = incident_audit_at(lc->st, lc->now, id, report_id,
                        verified ? "customer" : verdict == LIFECYCLE_REPLY_AUTO ? "auto-reply"
                                                                                : "unverified",
                        verdict == LIFECYCLE_REPLY_AUTO ? "auto-reply" : "replied", what, err);
    if (rc == 0)
        rc = event_hook(lc, id, verified ? "replied" : verdict == LIFECYCLE_REPLY_AUTO
                                                           ? "auto_reply"
                                                           : "replied_unverified",
                        verified ? "customer" : "unverified", what, err);
    g_free(what);
    if (rc || verdict == LIFECYCLE_REPLY_AUTO) {
        g_free(sfrom);
        goto out;
    }
    bool due = true;
    if (!verified && (rc = unverified_due(lc, id, from, &due, err))) {
        g_free(sfrom);
        goto out;
    }
    if (due) {
        int64_t pw = 0;
        if (!strcmp(i.kind, "account")
            && (rc = password_after(lc, i.subject, i.locked_at, &pw, err))) {
            g_free(sfrom);
            goto out;
        }
        GHashTable *extra = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        bool de = lc->cfg->team_language && !strcmp(lc->cfg->team_language, "de");
        put(extra, "reply_kind", verified ? (de ? "Antwort des Kunden" : "Customer replied")
                                          : (de ? "UNBESTÄTIGTE Antwort" : "UNVERIFIED reply"));
        char *rf = verified ? g_strdup(sfrom)
                            : g_strdup_printf("%s (UNVERIFIED: %s)", sfrom, why ? why : "");
        put(extra, "reply_from", rf);
        g_free(rf);
        char *rs = textsafe_quote(subject ? subject : "-", "", 150);
        put(extra, "reply_subject", rs);
        g_free(rs);
        char *ex = textsafe_quote_block(excerpt && *excerpt ? excerpt : "-", "    > ", 8, 160);
        put(extra, "reply_excerpt", ex);
        g_free(ex);
        if (strcmp(i.kind, "account"))
            put(extra, "password_changed", "- (not a mailbox)");
        else if (pw) {
            char *t = human_time(pw);
            put(extra, "password_changed", t);
            g_free(t);
        } else {
            put(extra, "password_changed",
                lc->cfg->team_language && !strcmp(lc->cfg->team_language, "de") ? "nein" : "no");
        }
        struct ad_err aerr = { 0 };
        rc = skip_or_fail(lc, id,
                          alert_team(lc, id, "team_reply",
                                     verified ? "customer replied"
                                              : "an unverified reply arrived (the state did not "
                                                "change)",
                                     extra, &aerr),
                          &aerr, err);
        g_hash_table_destroy(extra);
    }
    g_free(sfrom);
    if (rc == 0 && moves)
        rc = maybe_auto_unlock(lc, id, err);
out:
    inc_clear(&i);
    return rc;
}

int lifecycle_notice_bounced(struct lifecycle *lc, const char *orig_msgid, int64_t report_id,
                             const char *rcpt, const char *status, bool permanent,
                             struct ad_err *err)
{
    int64_t oid = 0, inc = 0;
    char kind[16];
    int rc = our_msgid(lc, orig_msgid, &oid, &inc, kind, err);
    if (rc <= 0)
        return rc;
    if ((rc = store_intake_done(lc->st, report_id, err)))
        return rc;
    char *srcpt = textsafe_line(rcpt ? rcpt : "?", 120);
    char *sstatus = textsafe_line(status ? status : "?", 40);
    bool first = false;
    if (permanent) {
        if ((rc = store_lifecycle_notice_bounced(lc->st, oid, lc->now, report_id, &first, err)))
            goto out;
    }
    if (!inc) {
        rc = 1;
        goto out;
    }
    char detail[512];
    g_snprintf(detail, sizeof detail, "%s (outbox %lld) to %s %s: status %s (report %lld)",
               strcmp(kind, "team") ? "the notice to the customer" : "the team's mail", (long long)oid, srcpt,
               permanent ? "bounced" : "is delayed", sstatus, (long long)report_id);
    if ((rc = incident_audit_at(lc->st, lc->now, inc, report_id, "abusedesk",
                             permanent ? "notice_bounced" : "notice_delayed", detail, err)))
        goto out;
    if (permanent && first && (rc = event_hook(lc, inc, "notice_bounced", "abusedesk", detail, err)))
        goto out;
    log_msg(lc->log, LOG_LEVEL_WARNING, "incident %lld: %s", (long long)inc, detail);
    if (first && !strcmp(kind, "customer")) {
        char action[600];
        g_snprintf(action, sizeof action,
                   "the notice to %s bounced (%s): the customer has not been told; correct the "
                   "contact address (abusedesk directory set-contact) and re-send (abusedesk "
                   "incident notify %lld --to ADDRESS)",
                   srcpt, sstatus, (long long)inc);
        struct ad_err aerr = { 0 };
        rc = skip_or_fail(lc, inc, alert_team(lc, inc, "team_alert", action, NULL, &aerr), &aerr,
                          err);
    }
    if (rc == 0)
        rc = 1;
out:
    g_free(srcpt);
    g_free(sstatus);
    return rc;
}

/* Whether the incident's sender is one the directory knows: a listed account
 * (not only its domain), or a script of a listed web space uid. A name taken
 * from a complaint (root, a forged address) is never locked by itself. */
static int in_directory(struct lifecycle *lc, int64_t id, bool *known, struct ad_err *err)
{
    *known = false;
    struct inc i;
    int rc = inc_load(lc, id, &i, err);
    if (rc)
        return rc;
    if (!strcmp(i.kind, "account")) {
        char *low = g_ascii_strdown(i.subject, -1);
        rc = store_lifecycle_account_listed(lc->st, low, err);
        *known = rc == 1;
        rc = rc < 0 ? rc : 0;
        g_free(low);
    } else if (!strcmp(i.kind, "script")) {
        const char *colon = strchr(i.subject, ':');
        char *uid = g_strndup(i.subject, colon ? (gsize)(colon - i.subject) : strlen(i.subject));
        char *cust = NULL;
        if (*uid && (rc = directory_uid_customer(lc->st, uid, &cust, err)) >= 0) {
            *known = cust != NULL;
            rc = 0;
        }
        g_free(cust);
        g_free(uid);
    }
    inc_clear(&i);
    return rc;
}

int lifecycle_after_process(struct lifecycle *lc, int64_t report_id,
                            const struct incident_outcome *o, struct ad_err *err)
{
    (void)report_id;
    if (!o->incident_id)
        return 0;
    bool changed = o->opened || o->escalated || o->reopened;
    int rc = 0;
    if (!changed) {
        /* At the lock stage but held (too few providers so far): a complaint
         * from another provider may complete the conditions now. */
        if (o->stage != INCIDENT_STAGE_LOCK || !lc->cfg->auto_lock)
            return 0;
        struct inc i;
        if ((rc = inc_load(lc, o->incident_id, &i, err)))
            return rc;
        bool lockable = !strcmp(i.state, "open") || !strcmp(i.state, "alerted");
        inc_clear(&i);
        if (!lockable)
            return 0;
        int64_t np = 0;
        if ((rc = store_lifecycle_providers(lc->st, o->incident_id, &np, err)) < 0)
            return rc;
        bool known = false;
        if ((rc = in_directory(lc, o->incident_id, &known, err)))
            return rc;
        if (np < lc->cfg->auto_lock_min_providers || !known)
            return 0;
        struct ad_err lerr = { 0 };
        rc = lifecycle_lock(lc, o->incident_id, "abusedesk",
                            "lock stage reached ([incidents] auto_lock), now with complaints of "
                            "enough providers",
                            true, &lerr);
        if (rc == AD_ERR_USAGE || rc == AD_ERR_REFUSED)
            return incident_audit_at(lc->st, lc->now, o->incident_id, 0, "abusedesk", "lock-skipped",
                                  lerr.msg, err);
        if (rc) {
            *err = lerr;
            return rc;
        }
        struct ad_err aerr = { 0 };
        return skip_or_fail(lc, o->incident_id,
                            alert_team(lc, o->incident_id, "team_alert",
                                       "locked now: authenticated complaints of enough providers "
                                       "([incidents] auto_lock_min_providers) arrived",
                                       NULL, &aerr),
                            &aerr, err);
    }
    if ((rc = event_hook(lc, o->incident_id,
                         o->reopened ? "reopened" : o->opened ? "opened" : "escalated", "abusedesk",
                         incident_stage_name(o->stage), err)))
        return rc;
    if (o->stage < INCIDENT_STAGE_ALERT)
        return 0;
    const char *action = o->reopened ? "incident reopened by new complaints" : "alert";
    char buf[200];
    int64_t n_providers = 0;
    if (o->stage == INCIDENT_STAGE_LOCK) {
        if ((rc = store_lifecycle_providers(lc->st, o->incident_id, &n_providers, err)) < 0)
            return rc;
        rc = 0;
    }
    bool known = false;
    if (o->stage == INCIDENT_STAGE_LOCK && (rc = in_directory(lc, o->incident_id, &known, err)))
        return rc;
    if (o->stage == INCIDENT_STAGE_LOCK) {
        if (!lc->cfg->auto_lock) {
            action = "lock stage reached; [incidents] auto_lock is off: please decide";
        } else if (!known) {
            g_snprintf(buf, sizeof buf,
                       "lock stage reached, but the sender is not an account or web space of "
                       "the customer directory: never locked automatically; please check");
            action = buf;
            rc = incident_audit_at(lc->st, lc->now, o->incident_id, 0, "abusedesk", "lock-held", buf, err);
            if (rc)
                return rc;
        } else if (n_providers < lc->cfg->auto_lock_min_providers && !o->run_lock) {
            /* (The spam-run rule weighed the providers itself: a single
             * provider's run locks when its mails came from run_min_clients
             * addresses.) */
            g_snprintf(buf, sizeof buf,
                       "lock stage reached with authenticated complaints from %lld configured "
                       "provider(s) only ([incidents] auto_lock_min_providers = %d): please "
                       "decide",
                       (long long)n_providers, lc->cfg->auto_lock_min_providers);
            action = buf;
            rc = incident_audit_at(lc->st, lc->now, o->incident_id, 0, "abusedesk", "lock-held", buf, err);
            if (rc)
                return rc;
        } else {
            struct ad_err lerr = { 0 };
            rc = lifecycle_lock(lc, o->incident_id, "abusedesk",
                                "lock stage reached ([incidents] auto_lock)", true, &lerr);
            if (rc == AD_ERR_USAGE || rc == AD_ERR_REFUSED) {
                /* Not lockable (an IP, a customer) or already past it. */
                g_snprintf(buf, sizeof buf, "lock stage reached, not locked: %.150s", lerr.msg);
                action = buf;
                rc = incident_audit_at(lc->st, lc->now, o->incident_id, 0, "abusedesk", "lock-skipped",
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

int lifecycle_policy_event(struct lifecycle *lc, const char *account, enum incident_stage stage,
                           const char *reason, bool lock, const char *by, int64_t *incident_id,
                           struct ad_err *err)
{
    return lifecycle_policy_event_lock(lc, account, stage, reason, lock, by, 0, incident_id, err);
}

int lifecycle_policy_event_lock(struct lifecycle *lc, const char *account,
                                enum incident_stage stage, const char *reason, bool lock,
                                const char *by, int64_t lock_id, int64_t *incident_id,
                                struct ad_err *err)
{
    char *acct = g_ascii_strdown(account, -1);
    char *cust = NULL;
    int64_t id = 0;
    bool opened = false;
    GArray *hist = NULL;
    const char *sname = incident_stage_name(stage);
    int rc = directory_account_customer(lc->st, acct, &cust, err);
    if (rc < 0)
        goto out;
    /* One incident per sender: the account's open incident, whatever raised it
     * (complaints, a limit, an anomaly, a person), takes this finding too. */
    char *cur = NULL;
    if ((rc = store_lifecycle_policy_open(lc->st, acct, &id, &cur, err)) < 0)
        goto out;
    rc = 0;
    if (!id) {
        /* Repeat offender from the closed incidents, as for complaints. */
        if ((rc = incident_history(lc->cfg, lc->st, 0, cust, "account", acct, lc->now, &hist,
                                   err)))
            goto out;
        rc = store_lifecycle_policy_new(lc->st, acct, cust,
                                        stage >= INCIDENT_STAGE_ALERT ? "alerted" : "open", sname,
                                        hist->len > 0, lc->now, &id, err);
        opened = true;
    } else if (!cur || stage > (!strcmp(cur, "lock")    ? INCIDENT_STAGE_LOCK
                                : !strcmp(cur, "alert") ? INCIDENT_STAGE_ALERT
                                                        : INCIDENT_STAGE_OBSERVE)) {
        rc = store_lifecycle_policy_stage(lc->st, id, sname, lc->now, err);
    }
    g_free(cur);
    if (rc)
        goto out;
    if ((rc = audit(lc, id, by, opened ? "opened" : "policy", err, "%s%s (stage %s%s)",
                    opened ? "opened: " : "", reason, sname,
                    strcmp(by, "abusedesk policy") ? ", by a person" : ", by the policy server")))
        goto out;
    const char *action = "alert from the policy server";
    if (lock) {
        struct ad_err lerr = { 0 };
        int lrc = lock_impl(lc, id, by, reason, true, lock_id, &lerr);
        if (lrc == AD_ERR_USAGE || lrc == AD_ERR_REFUSED)
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
    if (hist)
        g_array_free(hist, TRUE);
    g_free(cust);
    g_free(acct);
    return rc;
}

static int stage_rank(const char *s)
{
    return !s ? 0 : !strcmp(s, "lock") ? 3 : !strcmp(s, "alert") ? 2 : !strcmp(s, "observe") ? 1 : 0;
}

int lifecycle_merge(struct lifecycle *lc, int64_t into, const int64_t *ids, size_t n,
                    const char *by, struct ad_err *err)
{
    struct inc t;
    int rc = inc_load(lc, into, &t, err);
    if (rc)
        return rc;
    if ((rc = allowed(&t, into, "merge into", "open|alerted|locked|customer_notified|customer_replied",
                      err)))
        goto out;
    int best = stage_rank(t.stage);
    const char *best_name = t.stage;
    char *best_copy = NULL;
    int64_t trusted = 0, repeat = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        int64_t from = ids[k];
        if (from == into) {
            rc = ad_err_set(err, AD_ERR_USAGE, "incident %lld cannot be merged into itself",
                            (long long)from);
            break;
        }
        struct inc f;
        if ((rc = inc_load(lc, from, &f, err)))
            break;
        if ((rc = allowed(&f, from, "merge",
                          "open|alerted|locked|customer_notified|customer_replied|resolved", err))) {
            inc_clear(&f);
            break;
        }
        if (f.customer_id && t.customer_id && strcmp(f.customer_id, t.customer_id)) {
            rc = ad_err_set(err, AD_ERR_REFUSED,
                            "incident %lld belongs to customer %s, incident %lld to %s: only "
                            "incidents of one customer are merged",
                            (long long)from, f.customer_id, (long long)into, t.customer_id);
            inc_clear(&f);
            break;
        }
        int64_t f_trusted = 0, f_repeat = 0;
        rc = store_lifecycle_merge_flags(lc->st, from, &f_trusted, &f_repeat, err);
        trusted |= f_trusted;
        repeat |= f_repeat;
        rc = rc < 0 ? rc : 0;
        if (stage_rank(f.stage) > best) {
            best = stage_rank(f.stage);
            g_free(best_copy);
            best_name = best_copy = g_strdup(f.stage);
        }
        if (rc == 0)
            rc = store_lifecycle_merge_move(lc->st, into, from, lc->now, err);
        if (rc == 0)
            rc = audit(lc, from, by, "merged", err, "%s -> merged into incident %lld", f.state,
                       (long long)into);
        if (rc == 0)
            rc = audit(lc, into, by, "merged", err,
                       "incident %lld (%s %s, %s) merged into this one: its reports, replies, "
                       "mails and locks are here now",
                       (long long)from, f.kind, f.subject, f.state);
        inc_clear(&f);
    }
    if (rc == 0) {
        rc = store_lifecycle_merge_target(lc->st, into, best_name, trusted, repeat, lc->now, err);
    }
    if (rc == 0)
        rc = incident_recount(lc->st, into, t.kind, lc->now, err);
    /* A lock that came with a merged incident locks this one. */
    if (rc == 0 && (!strcmp(t.state, "open") || !strcmp(t.state, "alerted"))) {
        int64_t *locks = NULL;
        size_t has = 0;
        if ((rc = store_lifecycle_locks_active(lc->st, into, &locks, &has, err)) == 0 && has)
            rc = store_lifecycle_set_locked(lc->st, into, lc->now, err);
        g_free(locks);
    }
    g_free(best_copy);
out:
    inc_clear(&t);
    return rc;
}

int lifecycle_is_locked(struct store *st, const char *subject, int64_t *incident_id,
                        struct ad_err *err)
{
    char *s = g_ascii_strdown(subject, -1);
    int rc = store_lifecycle_lock_of(st, s, incident_id, err);
    g_free(s);
    return rc;
}

/*
 * incident.c: attribution, scoring, per-sender sums, stages and incidents (see
 * incident.h). Called by the intake for each new report (inside its
 * transaction), by `abusedesk process` for reports left unprocessed, and by the
 * incident commands of the CLI. All SQL is below, portable, with $N placeholders.
 *
 * Failure: a store error is returned and the savepoint rolled back, so a report
 * is either fully processed (attribution, score, complaints, incident, audit,
 * processed flag) or not at all. Bad input cannot fail here: attribution and
 * scoring never fail.
 */
#include "store/sql_incident.h"
#include "incident.h"

#include <glib.h>
#include <math.h>
#include <string.h>

#include "attribute/attribute.h"
#include "directory/directory.h"
#include "parse/parse.h"
#include "score/score.h"
#include "store/store_q.h"
#include "store/store_tx.h"
#include "util/redact.h"

/* ---- SQL ---------------------------------------------------------------- */

/* History: earlier incidents that were dealt with (resolved: not open, not
 * dismissed false alarms, not merged into another), raised by evidence we trust
 * (authenticated complaints or our own systems), and about a sender of the
 * customer (a joe job is not the customer's doing). */
/* Incident totals from its own reports: driven by incident_reports (CROSS JOIN
 * keeps SQLite's join order), so the cost is the incident's size. */
/* The stage moves an incident from open to alerted; later lifecycle states
 * (locked, customer_notified, ...) stay. */
/* A reopened incident starts again from the stage its new complaints reach, so
 * that more complaints escalate it (and may lock) as for a new one. */

/* Providers: proven ones by name, claimed ones marked as such. */

/* ---- helpers ------------------------------------------------------------ */

const char *incident_stage_name(enum incident_stage s)
{
    switch (s) {
    case INCIDENT_STAGE_OBSERVE:
        return "observe";
    case INCIDENT_STAGE_ALERT:
        return "alert";
    case INCIDENT_STAGE_LOCK:
        return "lock";
    case INCIDENT_STAGE_NONE:
        break;
    }
    return "none";
}

static enum incident_stage stage_parse(const char *s)
{
    if (!s)
        return INCIDENT_STAGE_NONE;
    if (!strcmp(s, "observe"))
        return INCIDENT_STAGE_OBSERVE;
    if (!strcmp(s, "alert"))
        return INCIDENT_STAGE_ALERT;
    if (!strcmp(s, "lock"))
        return INCIDENT_STAGE_LOCK;
    return INCIDENT_STAGE_NONE;
}

/* The incident state a stage puts an open incident in. The lifecycle module
 * moves incidents further (locked, customer_notified, ...). */
static const char *stage_state(enum incident_stage s)
{
    return s >= INCIDENT_STAGE_ALERT ? "alerted" : "open";
}

const char *incident_iso(int64_t t, char buf[32])
{
    buf[0] = '\0';
    if (t <= 0)
        return buf;
    GDateTime *dt = g_date_time_new_from_unix_utc(t);
    if (!dt)
        return buf;
    char *s = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
    g_strlcpy(buf, s ? s : "", 32);
    g_free(s);
    g_date_time_unref(dt);
    return buf;
}

static char *human_window(long long secs)
{
    if (secs % (7 * 86400) == 0)
        return g_strdup_printf("%lldw", secs / (7 * 86400));
    if (secs % 86400 == 0)
        return g_strdup_printf("%lldd", secs / 86400);
    if (secs % 3600 == 0)
        return g_strdup_printf("%lldh", secs / 3600);
    if (secs % 60 == 0)
        return g_strdup_printf("%lldm", secs / 60);
    return g_strdup_printf("%llds", secs);
}

int incident_audit(struct store *st, int64_t incident_id, int64_t report_id, const char *actor,
                   const char *action, const char *detail, struct ad_err *err)
{
    return incident_audit_at(st, 0, incident_id, report_id, actor, action, detail, err);
}

int incident_audit_at(struct store *st, int64_t at, int64_t incident_id, int64_t report_id,
                      const char *actor, const char *action, const char *detail,
                      struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, incident_sql_audit_insert, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, at > 0 ? at : (int64_t)(g_get_real_time() / G_USEC_PER_SEC));
    if (incident_id)
        store_q_int(q, 2, incident_id);
    if (report_id)
        store_q_int(q, 3, report_id);
    store_q_text(q, 4, actor);
    store_q_text(q, 5, action);
    /* The audit log is kept for good: a URL in a detail (a hook's error, a
     * note) loses its credentials and secret query parameters. */
    char *clean = redact_text(detail, NULL);
    store_q_text(q, 6, clean);
    g_free(clean);
    return store_q_run(q, err);
}

/* Sum and count of counted complaints about a sender in (at - window, at]:
 * all of them, and those an authenticated reporter made. */
struct wsum {
    double sum, auth_sum;
    int64_t n, auth_n;
};

static int window_sum(struct store *st, const char *kind, const char *subject, int64_t at,
                      long long window, struct wsum *w, struct ad_err *err)
{
    memset(w, 0, sizeof *w);
    struct store_q *q;
    int rc = store_q_get(st, incident_sql_window, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, kind);
    store_q_text(q, 2, subject);
    store_q_int(q, 3, at - window);
    store_q_int(q, 4, at);
    rc = store_q_step(q, err);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        w->sum = store_q_col_double(q, 0);
        w->n = store_q_col_int(q, 1);
        w->auth_sum = store_q_col_double(q, 2);
        w->auth_n = store_q_col_int(q, 3);
    }
    store_q_reset(q);
    return 0;
}

/* Ids of earlier incidents of the same customer or sender within the repeat
 * period before at (g_array of int64_t; caller frees). */
int incident_history(const struct config *cfg, struct store *st, int64_t self,
                       const char *customer_id, const char *kind, const char *subject, int64_t at,
                       GArray **out, struct ad_err *err)
{
    *out = g_array_new(FALSE, FALSE, sizeof(int64_t));
    struct store_q *q;
    int rc = store_q_get(st, incident_sql_history, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, self);
    store_q_int(q, 2, at - cfg->repeat_period);
    store_q_text(q, 3, customer_id);
    store_q_text(q, 4, kind);
    store_q_text(q, 5, subject);
    store_q_int(q, 6, at);
    while ((rc = store_q_step(q, err)) == 1) {
        int64_t id = store_q_col_int(q, 0);
        g_array_append_val(*out, id);
    }
    return rc;
}

/* The stage a sender's sums reach; why says which window and threshold. Every
 * complaint counts toward observe and alert, only authenticated ones toward
 * lock (a forged campaign of any size can at most alert the team). A joe job
 * (kind "domain") stops at alert. */
static int stage_of(const struct config *cfg, struct store *st, const char *kind,
                    const char *subject, int64_t at, bool repeat, enum incident_stage *stage,
                    GString *why, struct ad_err *err)
{
    double f = repeat ? cfg->repeat_factor : 1.0;
    bool joejob = !strcmp(kind, "domain");
    *stage = INCIDENT_STAGE_NONE;
    for (size_t w = 0; w < cfg->n_windows; w++) {
        struct wsum ws;
        int rc = window_sum(st, kind, subject, at, cfg->windows[w], &ws, err);
        if (rc)
            return rc;
        char *wn = human_window(cfg->windows[w]);
        struct {
            enum incident_stage s;
            double score_t, count_t;
            const char *name;
        } lv[] = {
            { INCIDENT_STAGE_LOCK, cfg->lock_score[w] * f, cfg->lock_complaints[w] * f, "lock" },
            { INCIDENT_STAGE_ALERT, cfg->alert_score[w] * f, cfg->alert_complaints[w] * f,
              "alert" },
            { INCIDENT_STAGE_OBSERVE, cfg->observe_score[w] * f, 0, "observe" },
        };
        for (size_t k = 0; k < G_N_ELEMENTS(lv); k++) {
            /* A joe job stops at alert and locks nothing: backscatter bounces
             * come from anybody's servers and count as they are. */
            bool auth_only = lv[k].s == INCIDENT_STAGE_LOCK;
            if (joejob && lv[k].s == INCIDENT_STAGE_LOCK)
                continue;
            double sum = auth_only ? ws.auth_sum : ws.sum;
            int64_t n = auth_only ? ws.auth_n : ws.n;
            bool by_score = lv[k].score_t > 0 && sum >= lv[k].score_t;
            bool by_count = cfg->n_windows && lv[k].count_t > 0 && (double)n >= lv[k].count_t;
            if (!by_score && !by_count)
                continue;
            if (lv[k].s > *stage) {
                *stage = lv[k].s;
                g_string_printf(why, "%s: %s%s %.2f >= %.2f in %s ([incidents] %s_%s%s)",
                                lv[k].name, auth_only ? "authenticated " : "",
                                by_score ? "score" : "complaints", by_score ? sum : (double)n,
                                by_score ? lv[k].score_t : lv[k].count_t, wn, lv[k].name,
                                by_score ? "score" : "complaints",
                                repeat ? ", lowered by repeat_factor for a repeat offender" : "");
            }
            break;
        }
        g_free(wn);
        if (*stage == INCIDENT_STAGE_LOCK)
            break; /* the highest: a later window cannot raise it (nor the why) */
    }
    return 0;
}

static int add_complaint(struct store *st, int64_t report_id, const char *kind, const char *subject,
                         int64_t at, const struct score *sc, struct ad_err *err)
{
    if (!subject)
        return 0;
    struct store_q *q;
    int rc = store_q_get(st, incident_sql_complaint_insert, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, report_id);
    store_q_text(q, 2, kind);
    store_q_text(q, 3, subject);
    store_q_int(q, 4, at);
    store_q_double(q, 5, sc->total);
    store_q_int(q, 6, sc->counted ? 1 : 0);
    store_q_int(q, 7, sc->authenticated ? 1 : 0);
    return store_q_run(q, err);
}

int incident_recount(struct store *st, int64_t id, const char *kind, int64_t now,
                     struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, incident_sql_incident_sums, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, id);
    store_q_text(q, 2, kind);
    if ((rc = store_q_step(q, err)) < 0)
        return rc;
    double score = rc == 1 ? store_q_col_double(q, 0) : 0;
    int64_t n = rc == 1 ? store_q_col_int(q, 1) : 0;
    int64_t first = rc == 1 ? store_q_col_int(q, 2) : 0;
    int64_t last = rc == 1 ? store_q_col_int(q, 3) : 0;
    if ((rc = store_q_get(st, incident_sql_incident_totals, &q, err)))
        return rc;
    store_q_int(q, 1, id);
    store_q_double(q, 2, score);
    store_q_int(q, 3, n);
    store_q_int(q, 4, first);
    store_q_int(q, 5, last);
    store_q_int(q, 6, now);
    return store_q_run(q, err);
}

/* incident_recount() for one report just attached to incident id: its
 * complaint of kind added to the totals (the same sums, without reading every
 * earlier report of the incident again: for a spam run of a thousand
 * complaints that was most of the work of each). */
static int recount_add(struct store *st, int64_t id, const char *kind, int64_t report_id,
                       int64_t now, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, incident_sql_complaint_of, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, report_id);
    store_q_text(q, 2, kind);
    if ((rc = store_q_step(q, err)) < 0)
        return rc;
    bool found = rc == 1;
    double score = found ? store_q_col_double(q, 0) : 0;
    int64_t counted = found ? store_q_col_int(q, 1) : 0;
    int64_t at = found ? store_q_col_int(q, 2) : 0;
    store_q_reset(q);
    if ((rc = store_q_get(st, found ? incident_sql_incident_add_one : incident_sql_incident_touch,
                          &q, err)))
        return rc;
    store_q_int(q, 1, id);
    if (found) {
        store_q_double(q, 2, counted == 1 ? score : 0);
        store_q_int(q, 3, counted == 1 ? 1 : 0);
        store_q_int(q, 4, at);
        store_q_int(q, 5, now);
    } else {
        store_q_int(q, 2, now);
    }
    return store_q_run(q, err);
}

/* ---- processing --------------------------------------------------------- */

/* The domain of the forged sender of a report that never passed our hosts. */
static char *forged_domain(const struct report *r)
{
    const struct original *o = r->original;
    const char *from = r->original_mail_from ? r->original_mail_from
                       : o && o->return_path ? o->return_path
                       : o ? o->from : NULL;
    const char *at = from ? strrchr(from, '@') : NULL;
    if (!at || !at[1] || !strchr(at + 1, '.'))
        return NULL;
    return g_ascii_strdown(at + 1, -1);
}

static int process(const struct config *cfg, struct store *st, int64_t report_id,
                   const struct report *r, int64_t at, const struct score_reporter *rep,
                   const struct logger *log, struct incident_outcome *out, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, incident_sql_processed, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, report_id);
    if ((rc = store_q_step(q, err)) < 0)
        return rc;
    if (rc == 0)
        return ad_err_set(err, AD_ERR_NOTFOUND, "report %lld not found", (long long)report_id);
    if (store_q_col_int(q, 0) != 0)
        return 0; /* done before */

    struct attribution a;
    struct score sc = { 0 };
    char *ev = NULL, *terms = NULL, *dkey = NULL, *joejob_domain = NULL;
    GArray *hist = NULL;
    GString *why = g_string_new(NULL);
    if ((rc = attribute_report(cfg, st, r, &a, err)))
        goto out;
    out->attributed = a.attributed;
    out->subject_kind = a.subject_kind;

    /* The same complaint (reporter, recipient, original message) counts once. */
    const char *msgid = r->original ? r->original->message_id : NULL;
    dkey = score_dedup_key(r, rep);
    int64_t dup = 0;
    if (dkey) {
        if ((rc = store_q_get(st, incident_sql_dup_find, &q, err)))
            goto out;
        store_q_text(q, 1, dkey);
        store_q_int(q, 2, report_id);
        if ((rc = store_q_step(q, err)) < 0)
            goto out;
        if (rc == 1)
            dup = store_q_col_int(q, 0);
        rc = 0;
    }
    score_report_as(cfg, r, at, rep, dup, &sc);
    out->score = sc.total;

    ev = attribution_evidence_json(&a);
    if ((rc = store_q_get(st, incident_sql_attr_insert, &q, err)))
        goto out;
    store_q_int(q, 1, report_id);
    store_q_text(q, 2, a.attributed ? "attributed" : "unattributed");
    store_q_text(q, 3, a.subject_kind);
    store_q_text(q, 4, a.subject);
    store_q_text(q, 5, a.account);
    store_q_text(q, 6, a.script);
    store_q_text(q, 7, a.customer_id);
    store_q_text(q, 8, a.source_ip);
    store_q_text(q, 9, a.reason);
    store_q_text(q, 10, ev);
    if ((rc = store_q_run(q, err)))
        goto out;

    terms = score_terms_json(&sc);
    if ((rc = store_q_get(st, incident_sql_score_insert, &q, err)))
        goto out;
    store_q_int(q, 1, report_id);
    store_q_double(q, 2, sc.total);
    store_q_int(q, 3, sc.counted ? 1 : 0);
    if (sc.manual == SCORE_UNDETERMINED)
        store_q_null(q, 4);
    else
        store_q_int(q, 4, sc.manual == SCORE_MANUAL ? 1 : 0);
    store_q_text(q, 5, sc.provider);
    store_q_text(q, 6, msgid);
    store_q_int(q, 7, at);
    store_q_text(q, 8, terms);
    store_q_int(q, 9, sc.authenticated ? 1 : 0);
    store_q_text(q, 10, rep ? rep->how : NULL);
    store_q_text(q, 11, dkey);
    if ((rc = store_q_run(q, err)))
        goto out;

    if (!a.attributed) {
        if ((rc = incident_audit_at(st, at, 0, report_id, "abusedesk", "unattributed", a.reason, err)))
            goto out;
        /* A customer's domain forged by someone else: a joe job for that customer. */
        if (!a.customer_id || !(joejob_domain = forged_domain(r)))
            goto done;
    }
    const char *kind = joejob_domain ? "domain" : a.subject_kind;
    const char *subject = joejob_domain ? joejob_domain : a.subject;
    const char *account = joejob_domain ? NULL : a.account;
    const char *cust = a.customer_id;
    out->subject_kind = joejob_domain ? "domain" : a.subject_kind;
    /* One complaint row per sender the report names. */
    if (joejob_domain) {
        /* Mail forged with a customer's domain: a joe job, filed for the domain
         * only (never the mailbox's windows, never a lock). */
        if ((rc = add_complaint(st, report_id, "domain", joejob_domain, at, &sc, err)))
            goto out;
    } else if ((rc = add_complaint(st, report_id, "account", account, at, &sc, err))
               || (rc = add_complaint(st, report_id, "script", a.script, at, &sc, err))
               || (rc = add_complaint(st, report_id, "customer", cust, at, &sc, err))
               || (rc = add_complaint(st, report_id, "ip", a.source_ip, at, &sc, err)))
        goto out;

    /* The incident of the most specific sender. */
    if ((rc = store_q_get(st, incident_sql_open_find, &q, err)))
        goto out;
    store_q_text(q, 1, kind);
    store_q_text(q, 2, subject);
    if ((rc = store_q_step(q, err)) < 0)
        goto out;
    int64_t inc = 0;
    enum incident_stage cur = INCIDENT_STAGE_NONE;
    if (rc == 1) {
        inc = store_q_col_int(q, 0);
        cur = stage_parse(store_q_col_text(q, 1));
    }
    rc = 0;
    /* A sender whose incident was resolved recently gets that incident back. */
    int64_t reopen = 0;
    enum incident_stage reopen_stage = INCIDENT_STAGE_NONE;
    if (!inc && cfg->reopen_window > 0) {
        if ((rc = store_q_get(st, incident_sql_reopen_find, &q, err)))
            goto out;
        store_q_text(q, 1, kind);
        store_q_text(q, 2, subject);
        store_q_int(q, 3, at - cfg->reopen_window);
        if ((rc = store_q_step(q, err)) < 0)
            goto out;
        if (rc == 1) {
            reopen = store_q_col_int(q, 0);
            reopen_stage = stage_parse(store_q_col_text(q, 1));
        }
        rc = 0;
    }
    /* Earlier incidents of the customer or the sender (not the open or reopened
     * one) make a repeat offender. */
    if ((rc = incident_history(cfg, st, inc ? inc : reopen, cust, kind, subject,
                          at, &hist, err)))
        goto out;
    bool repeat = hist->len > 0;
    enum incident_stage stage = cur;
    /* An open incident at the lock stage cannot go higher: its sums would only
     * be read to be dropped (stage <= cur below), and a spam run's hundreds of
     * complaints made that the most expensive step of each report. */
    if (!(inc && cur == INCIDENT_STAGE_LOCK)
        && (rc = stage_of(cfg, st, kind, subject, at, repeat, &stage, why, err)))
        goto out;
    out->stage = stage;
    char detail[512];
    if (!inc && stage == INCIDENT_STAGE_NONE)
        goto done;
    if (!inc && reopen) {
        inc = reopen;
        (void)reopen_stage;
        cur = stage;
        if ((rc = store_q_get(st, incident_sql_reopen, &q, err)))
            goto out;
        store_q_int(q, 1, inc);
        store_q_text(q, 2, stage_state(stage));
        store_q_int(q, 3, at);
        store_q_text(q, 4, incident_stage_name(stage));
        if ((rc = store_q_run(q, err)))
            goto out;
        g_snprintf(detail, sizeof detail, "reopened: new complaints within [incidents] "
                   "reopen_window of the resolution; %s", why->str);
        if ((rc = incident_audit_at(st, at, inc, report_id, "abusedesk", "reopened", detail, err)))
            goto out;
        out->reopened = true;
    }
    if (!inc) {
        /* Open one incident for the sender, with the complaints of the largest
         * window that brought it there. */
        if ((rc = store_q_get(st, incident_sql_incident_insert, &q, err)))
            goto out;
        store_q_text(q, 1, kind);
        store_q_text(q, 2, subject);
        store_q_text(q, 3, cust);
        store_q_text(q, 4, account);
        store_q_text(q, 5, stage_state(stage));
        store_q_text(q, 6, incident_stage_name(stage));
        store_q_double(q, 7, 0);
        store_q_int(q, 8, repeat ? 1 : 0);
        store_q_int(q, 9, at);
        store_q_int(q, 10, sc.authenticated ? 1 : 0);
        if ((rc = store_q_run(q, err)))
            goto out;
        inc = store_last_id(st);
        long long maxw = 0;
        for (size_t w = 0; w < cfg->n_windows; w++)
            if (cfg->windows[w] > maxw)
                maxw = cfg->windows[w];
        if ((rc = store_q_get(st, incident_sql_attach_window, &q, err)))
            goto out;
        store_q_int(q, 1, inc);
        store_q_text(q, 2, kind);
        store_q_text(q, 3, subject);
        store_q_int(q, 4, at - maxw);
        store_q_int(q, 5, at);
        if ((rc = store_q_run(q, err)))
            goto out;
        if ((rc = store_q_get(st, incident_sql_attach_one, &q, err)))
            goto out;
        store_q_int(q, 1, inc);
        store_q_int(q, 2, report_id);
        if ((rc = store_q_run(q, err)) || (rc = incident_recount(st, inc, kind, at, err)))
            goto out;
        if ((rc = store_q_get(st, incident_sql_incident_first_score, &q, err)))
            goto out;
        store_q_int(q, 1, inc);
        if ((rc = store_q_run(q, err)))
            goto out;
        g_snprintf(detail, sizeof detail, "opened for %s %s at stage %s; %s%s", kind,
                   subject, incident_stage_name(stage), why->str,
                   repeat ? "; repeat offender (earlier incidents in [incidents] repeat_period)"
                          : "");
        if ((rc = incident_audit_at(st, at, inc, report_id, "abusedesk", "opened", detail, err)))
            goto out;
        out->opened = true;
        if (stage == INCIDENT_STAGE_LOCK) {
            g_snprintf(detail, sizeof detail,
                       cfg->auto_lock ? "lock stage reached; [incidents] auto_lock is on: lock "
                                        "requested for %s"
                                      : "lock stage reached; [incidents] auto_lock is off: the "
                                        "team decides whether to lock %s",
                       subject);
            if ((rc = incident_audit_at(st, at, inc, report_id, "abusedesk", "lock-stage", detail, err)))
                goto out;
        }
    } else {
        if ((rc = store_q_get(st, incident_sql_attach_one, &q, err)))
            goto out;
        store_q_int(q, 1, inc);
        store_q_int(q, 2, report_id);
        if ((rc = store_q_run(q, err)))
            goto out;
        /* attached only now (the report was not processed before): add it */
        if ((rc = store_changes(st) > 0 ? recount_add(st, inc, kind, report_id, at, err)
                                        : incident_recount(st, inc, kind, at, err)))
            goto out;
        if (sc.authenticated) {
            if ((rc = store_q_get(st, incident_sql_incident_trusted, &q, err)))
                goto out;
            store_q_int(q, 1, inc);
            if ((rc = store_q_run(q, err)))
                goto out;
        }
        g_snprintf(detail, sizeof detail, "report %lld added, score %.2f%s%s",
                   (long long)report_id, sc.total, sc.counted ? "" : " (not counted)",
                   sc.authenticated ? "" : " (unauthenticated)");
        if ((rc = incident_audit_at(st, at, inc, report_id, "abusedesk", "complaint", detail, err)))
            goto out;
        if (stage > cur) {
            if ((rc = store_q_get(st, incident_sql_incident_stage, &q, err)))
                goto out;
            store_q_int(q, 1, inc);
            store_q_text(q, 2, incident_stage_name(stage));
            store_q_text(q, 3, stage_state(stage));
            store_q_int(q, 4, at);
            if ((rc = store_q_run(q, err)))
                goto out;
            g_snprintf(detail, sizeof detail, "escalated from %s to %s; %s",
                       incident_stage_name(cur), incident_stage_name(stage), why->str);
            if ((rc = incident_audit_at(st, at, inc, report_id, "abusedesk", "escalated", detail, err)))
                goto out;
            out->escalated = true;
            if (stage == INCIDENT_STAGE_LOCK) {
                g_snprintf(detail, sizeof detail,
                           cfg->auto_lock ? "lock stage reached; [incidents] auto_lock is on: "
                                            "lock requested for %s"
                                          : "lock stage reached; [incidents] auto_lock is off: "
                                            "the team decides whether to lock %s",
                           subject);
                if ((rc = incident_audit_at(st, at, inc, report_id, "abusedesk", "lock-stage", detail,
                                         err)))
                    goto out;
            }
        } else {
            stage = cur;
        }
    }
    out->incident_id = inc;
    out->stage = stage;
    log_msg(log, LOG_LEVEL_INFO, "report %lld: %s %s score %.2f -> incident %lld (%s)%s",
            (long long)report_id, kind, subject, sc.total, (long long)inc,
            incident_stage_name(stage), out->opened ? " opened" : out->escalated ? " escalated" : "");

done:
    if ((rc = store_q_get(st, incident_sql_mark_processed, &q, err)))
        goto out;
    store_q_int(q, 1, report_id);
    rc = store_q_run(q, err);
out:
    attribution_clear(&a);
    score_clear(&sc);
    g_free(dkey);
    g_free(joejob_domain);
    free(ev);
    free(terms);
    if (hist)
        g_array_free(hist, TRUE);
    g_string_free(why, TRUE);
    return rc;
}

int incident_process(const struct config *cfg, struct store *st, int64_t report_id,
                     const struct report *r, int64_t at, const struct score_reporter *rep,
                     const struct logger *log, struct incident_outcome *out, struct ad_err *err)
{
    struct incident_outcome dummy;
    if (!out)
        out = &dummy;
    memset(out, 0, sizeof *out);
    int rc = store_savepoint(st, "incident_process", err);
    if (rc)
        return rc;
    rc = process(cfg, st, report_id, r, at, rep, log, out, err);
    if (rc) {
        store_savepoint_rollback(st, "incident_process");
        return rc;
    }
    return store_savepoint_release(st, "incident_process", err);
}

/* ---- reading ------------------------------------------------------------ */

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *jtime(int64_t t)
{
    char buf[32];
    return t > 0 ? json_string(incident_iso(t, buf)) : json_null();
}

static int list_strings(struct store *st, const char *sql, int64_t id, json_t *arr,
                        json_t *counts, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, id);
    while ((rc = store_q_step(q, err)) == 1) {
        json_array_append_new(arr, json_string(store_q_col_text(q, 0)));
        if (counts)
            json_array_append_new(counts, json_pack("{s:s, s:I}", "value", store_q_col_text(q, 0),
                                                    "count", (json_int_t)store_q_col_int(q, 1)));
    }
    return rc;
}

int incident_json(const struct config *cfg, struct store *st, int64_t id, int64_t now,
                  json_t **out, struct ad_err *err)
{
    *out = NULL;
    struct store_q *q;
    int rc = store_q_get(st, incident_sql_incident_get, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, id);
    if ((rc = store_q_step(q, err)) < 0)
        return rc;
    if (rc == 0)
        return ad_err_set(err, AD_ERR_NOTFOUND, "incident %lld not found", (long long)id);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(store_q_col_int(q, 0)));
    json_object_set_new(o, "state", jstr(store_q_col_text(q, 5)));
    json_object_set_new(o, "stage", jstr(store_q_col_text(q, 6)));
    json_object_set_new(o, "subject_kind", jstr(store_q_col_text(q, 1)));
    json_object_set_new(o, "subject", jstr(store_q_col_text(q, 2)));
    json_object_set_new(o, "customer_id", jstr(store_q_col_text(q, 3)));
    json_object_set_new(o, "account", jstr(store_q_col_text(q, 4)));
    json_object_set_new(o, "initial_score", json_real(store_q_col_double(q, 7)));
    json_object_set_new(o, "score", json_real(store_q_col_double(q, 8)));
    json_object_set_new(o, "complaints", json_integer(store_q_col_int(q, 9)));
    json_object_set_new(o, "repeat_offender", json_boolean(store_q_col_int(q, 10)));
    json_object_set_new(o, "first_seen", jtime(store_q_col_int(q, 11)));
    json_object_set_new(o, "last_seen", jtime(store_q_col_int(q, 12)));
    json_object_set_new(o, "opened_at", jtime(store_q_col_int(q, 13)));
    json_object_set_new(o, "updated_at", jtime(store_q_col_int(q, 14)));
    json_object_set_new(o, "closed_at", jtime(store_q_col_int(q, 15)));
    /* trusted: an authenticated complaint or our own systems raised it */
    json_object_set_new(o, "trusted", json_boolean(store_q_col_int(q, 16)));
    char *kind = g_strdup(store_q_col_text(q, 1));
    char *subject = g_strdup(store_q_col_text(q, 2));
    char *cust = g_strdup(store_q_col_text(q, 3));
    int64_t opened = store_q_col_int(q, 13);
    GArray *hist = NULL;

    /* The customer from the directory. */
    json_t *cj = json_null();
    if (cust) {
        struct directory_customer c = { 0 };
        int crc = directory_customer_get(st, cust, &c, err);
        if (crc == 0)
            cj = json_pack("{s:s, s:s, s:s, s:s}", "id", c.id, "name", c.name, "contact_email",
                           c.contact_email, "language", c.language);
        directory_customer_clear(&c);
        if (crc < 0 && crc != AD_ERR_NOTFOUND) {
            rc = crc;
            json_decref(cj);
            goto fail;
        }
    }
    json_object_set_new(o, "customer", cj ? cj : json_null());

    json_t *subjects = json_array(), *subject_counts = json_array();
    json_object_set_new(o, "subjects", subjects);
    json_object_set_new(o, "subject_counts", subject_counts);
    if ((rc = list_strings(st, incident_sql_incident_subjects, id, subjects, subject_counts, err)))
        goto fail;
    json_t *providers = json_array(), *provider_counts = json_array();
    json_object_set_new(o, "providers", providers);
    json_object_set_new(o, "provider_counts", provider_counts);
    if ((rc = list_strings(st, incident_sql_incident_providers, id, providers, provider_counts, err)))
        goto fail;

    if ((rc = store_q_get(st, incident_sql_incident_manual, &q, err)))
        goto fail;
    store_q_int(q, 1, id);
    if ((rc = store_q_step(q, err)) < 0)
        goto fail;
    {
        int64_t man = store_q_col_int(q, 0), aut = store_q_col_int(q, 1),
                all = store_q_col_int(q, 2);
        json_object_set_new(o, "manual_share", all ? json_real((double)man / (double)all)
                                                   : json_null());
        json_object_set_new(o, "manual_complaints", json_integer(man));
        json_object_set_new(o, "automatic_complaints", json_integer(aut));
    }
    rc = 0;

    /* Sums per window, now. */
    json_t *wins = NULL;
    if ((rc = incident_windows_json(cfg, st, kind, subject, now, &wins, err)))
        goto fail;
    json_object_set_new(o, "windows", wins);

    /* Attribution evidence of the first report. */
    if ((rc = store_q_get(st, incident_sql_incident_evidence, &q, err)))
        goto fail;
    store_q_int(q, 1, id);
    if ((rc = store_q_step(q, err)) < 0)
        goto fail;
    if (rc == 1) {
        json_t *ev = json_loads(store_q_col_text(q, 0) ? store_q_col_text(q, 0) : "[]", 0, NULL);
        json_object_set_new(o, "evidence", ev ? ev : json_array());
        json_object_set_new(o, "attribution_note", jstr(store_q_col_text(q, 1)));
        json_object_set_new(o, "script", jstr(store_q_col_text(q, 2)));
        json_object_set_new(o, "source_ip", jstr(store_q_col_text(q, 3)));
    } else {
        json_object_set_new(o, "evidence", json_array());
        json_object_set_new(o, "attribution_note", json_null());
        json_object_set_new(o, "script", json_null());
        json_object_set_new(o, "source_ip", json_null());
    }
    rc = 0;

    /* Earlier incidents of the same customer or sender. */
    if ((rc = incident_history(cfg, st, id, cust, kind, subject, opened, &hist, err)))
        goto fail;
    json_t *history = json_array(), *hrows = json_array();
    json_object_set_new(o, "history", history);
    json_object_set_new(o, "history_incidents", hrows);
    for (guint i = 0; i < hist->len; i++) {
        int64_t hid = g_array_index(hist, int64_t, i);
        json_array_append_new(history, json_integer(hid));
        if ((rc = store_q_get(st, incident_sql_history_row, &q, err)))
            goto fail;
        store_q_int(q, 1, hid);
        if ((rc = store_q_step(q, err)) < 0)
            goto fail;
        if (rc == 1)
            json_array_append_new(
                hrows, json_pack("{s:I, s:s?, s:s?, s:s?, s:s?, s:o, s:f}", "id", (json_int_t)hid,
                                 "subject_kind", store_q_col_text(q, 1), "subject",
                                 store_q_col_text(q, 2), "state", store_q_col_text(q, 3), "stage",
                                 store_q_col_text(q, 4), "opened_at",
                                 jtime(store_q_col_int(q, 5)), "score", store_q_col_double(q, 6)));
        rc = 0;
    }

    /* The reports. */
    json_t *reports = json_array();
    json_object_set_new(o, "reports", reports);
    if ((rc = store_q_get(st, incident_sql_incident_reports, &q, err)))
        goto fail;
    store_q_int(q, 1, id);
    while ((rc = store_q_step(q, err)) == 1)
        json_array_append_new(
            reports, json_pack("{s:I, s:o, s:f, s:b, s:s?, s:s?, s:s?, s:s?, s:s?, s:b, s:s?}",
                               "report_id", (json_int_t)store_q_col_int(q, 0), "at",
                               jtime(store_q_col_int(q, 1)), "score", store_q_col_double(q, 2),
                               "counted", (int)store_q_col_int(q, 3), "reporter",
                               store_q_col_text(q, 4), "provider", store_q_col_text(q, 4),
                               "subject", store_q_col_text(q, 5), "kind",
                               store_q_col_text(q, 6), "feedback_type", store_q_col_text(q, 7),
                               "authenticated", (int)store_q_col_int(q, 8), "reporter_how",
                               store_q_col_text(q, 9)));
    if (rc < 0)
        goto fail;

    /* Replies (with how far they were verified) and the mails we sent. */
    json_t *replies = json_array();
    json_object_set_new(o, "replies", replies);
    if ((rc = store_q_get(st, incident_sql_incident_replies, &q, err)))
        goto fail;
    store_q_int(q, 1, id);
    while ((rc = store_q_step(q, err)) == 1)
        json_array_append_new(
            replies, json_pack("{s:I, s:o, s:s?, s:s?, s:s?}", "report_id",
                               (json_int_t)store_q_col_int(q, 0), "at", jtime(store_q_col_int(q, 1)),
                               "verdict", store_q_col_text(q, 2), "from", store_q_col_text(q, 3),
                               "subject", store_q_col_text(q, 4)));
    if (rc < 0)
        goto fail;
    json_t *notices = json_array();
    json_object_set_new(o, "notices", notices);
    if ((rc = store_q_get(st, incident_sql_incident_notices, &q, err)))
        goto fail;
    store_q_int(q, 1, id);
    while ((rc = store_q_step(q, err)) == 1) {
        int64_t sent = store_q_col_null(q, 5) ? 0 : store_q_col_int(q, 5);
        int64_t bounced = store_q_col_null(q, 7) ? 0 : store_q_col_int(q, 7);
        const char *status = bounced ? "bounced" : store_q_col_int(q, 6) ? "failed"
                                                   : sent ? "sent" : "queued";
        json_array_append_new(
            notices,
            json_pack("{s:I, s:s?, s:s?, s:s?, s:o, s:o, s:o, s:s, s:o}", "outbox_id",
                      (json_int_t)store_q_col_int(q, 0), "to_kind", store_q_col_text(q, 1),
                      "template", store_q_col_text(q, 2), "rcpt", store_q_col_text(q, 3),
                      "created_at", jtime(store_q_col_int(q, 4)), "sent_at", jtime(sent),
                      "bounced_at", jtime(bounced), "status", status, "bounce_report",
                      bounced ? json_integer(store_q_col_int(q, 8)) : json_null()));
    }
    if (rc < 0)
        goto fail;

    /* The audit log. */
    json_t *audit = json_array();
    json_object_set_new(o, "audit", audit);
    if ((rc = store_q_get(st, incident_sql_incident_audit, &q, err)))
        goto fail;
    store_q_int(q, 1, id);
    while ((rc = store_q_step(q, err)) == 1)
        json_array_append_new(
            audit, json_pack("{s:o, s:s?, s:s?, s:s?, s:o}", "at", jtime(store_q_col_int(q, 0)),
                             "actor", store_q_col_text(q, 1), "action", store_q_col_text(q, 2),
                             "detail", store_q_col_text(q, 3), "report_id",
                             store_q_col_null(q, 4) ? json_null()
                                                    : json_integer(store_q_col_int(q, 4))));
    if (rc < 0)
        goto fail;
    rc = 0;
    *out = o;
    o = NULL;
fail:
    json_decref(o);
    if (hist)
        g_array_free(hist, TRUE);
    g_free(kind);
    g_free(subject);
    g_free(cust);
    return rc;
}

int incident_windows_json(const struct config *cfg, struct store *st, const char *kind,
                          const char *subject, int64_t now, json_t **out, struct ad_err *err)
{
    json_t *wins = json_array();
    for (size_t w = 0; w < cfg->n_windows; w++) {
        struct wsum ws;
        int rc = window_sum(st, kind, subject, now, cfg->windows[w], &ws, err);
        if (rc) {
            json_decref(wins);
            *out = NULL;
            return rc;
        }
        char *wn = human_window(cfg->windows[w]);
        json_array_append_new(wins, json_pack("{s:s, s:f, s:I, s:f, s:I}", "window", wn, "score",
                                              ws.sum, "complaints", (json_int_t)ws.n,
                                              "authenticated_score", ws.auth_sum,
                                              "authenticated_complaints", (json_int_t)ws.auth_n));
        g_free(wn);
    }
    *out = wins;
    return 0;
}

int incident_each(struct store *st, const char *state, int (*fn)(int64_t id, void *ctx),
                  void *ctx, struct ad_err *err)
{
    const char *sql = !state                  ? incident_sql_incidents_all
                      : !strcmp(state, "open") ? incident_sql_incidents_open
                                              : incident_sql_incidents_state;
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
    struct store_q *q;
    int rc = store_q_get(st, sql, &q, err);
    if (rc == 0 && sql == incident_sql_incidents_state)
        store_q_text(q, 1, state);
    while (rc >= 0 && (rc = store_q_step(q, err)) == 1) {
        int64_t id = store_q_col_int(q, 0);
        g_array_append_val(ids, id);
    }
    if (rc >= 0) {
        rc = 0;
        for (guint i = 0; i < ids->len; i++)
            if (fn(g_array_index(ids, int64_t, i), ctx))
                break;
    }
    g_array_free(ids, TRUE);
    return rc;
}

int incident_joejob_evidence(struct store *st, const char *customer_id, const char *domain,
                             int64_t report_id, int64_t at, const char *detail,
                             int64_t *incident_id, bool *opened, struct ad_err *err)
{
    *incident_id = 0;
    *opened = false;
    struct store_q *q;
    int rc = store_q_get(st, incident_sql_open_find, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, "domain");
    store_q_text(q, 2, domain);
    if ((rc = store_q_step(q, err)) < 0)
        return rc;
    int64_t inc = rc == 1 ? store_q_col_int(q, 0) : 0;
    const char *stage = rc == 1 ? store_q_col_text(q, 1) : NULL;
    char *stage_copy = g_strdup(stage ? stage : incident_stage_name(INCIDENT_STAGE_OBSERVE));
    store_q_reset(q);
    if (!inc) {
        /* A joe job stops at alert and locks nothing; DMARC data alone opens it
         * at observe: the team sees it in the queue, the customer gets advice. */
        if ((rc = store_q_get(st, incident_sql_incident_insert, &q, err)))
            goto out;
        store_q_text(q, 1, "domain");
        store_q_text(q, 2, domain);
        store_q_text(q, 3, customer_id);
        store_q_text(q, 4, NULL);
        store_q_text(q, 5, stage_state(INCIDENT_STAGE_OBSERVE));
        store_q_text(q, 6, incident_stage_name(INCIDENT_STAGE_OBSERVE));
        store_q_double(q, 7, 0);
        store_q_int(q, 8, 0);
        store_q_int(q, 9, at);
        store_q_int(q, 10, 0);
        if ((rc = store_q_run(q, err)))
            goto out;
        inc = store_last_id(st);
        *opened = true;
    } else {
        /* Touch it: updated_at moves, the stage stays. */
        if ((rc = store_q_get(st, incident_sql_incident_stage, &q, err)))
            goto out;
        store_q_int(q, 1, inc);
        store_q_text(q, 2, stage_copy);
        store_q_text(q, 3, "open");
        store_q_int(q, 4, at);
        if ((rc = store_q_run(q, err)))
            goto out;
    }
    if (report_id) {
        if ((rc = store_q_get(st, incident_sql_attach_one, &q, err)))
            goto out;
        store_q_int(q, 1, inc);
        store_q_int(q, 2, report_id);
        if ((rc = store_q_run(q, err)))
            goto out;
    }
    rc = incident_audit(st, inc, report_id, "abusedesk", *opened ? "opened" : "forgery", detail,
                        err);
    *incident_id = inc;
out:
    g_free(stage_copy);
    return rc;
}

/*
 * incident.c: attribution, scoring, per-sender sums, stages and incidents (see
 * incident.h). Called by the intake for each new report (inside its
 * transaction), by `abusedesk process` for reports left unprocessed, and by the
 * incident commands of the CLI. Its SQL is in src/store/store_incident.c.
 *
 * Failure: a store error is returned and the savepoint rolled back, so a report
 * is either fully processed (attribution, score, complaints, incident, audit,
 * processed flag) or not at all. Bad input cannot fail here: attribution and
 * scoring never fail.
 */
#include "incident.h"

#include <glib.h>
#include <math.h>
#include <string.h>

#include "attribute/attribute.h"
#include "directory/directory.h"
#include "parse/parse.h"
#include "score/score.h"
#include "store/store_incident.h"
#include "store/store_intake.h"
#include "store/store_tx.h"
#include "util/redact.h"

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
    /* The audit log is kept for good: a URL in a detail (a hook's error, a
     * note) loses its credentials and secret query parameters. */
    char *clean = redact_text(detail, NULL);
    int rc = store_incident_audit_add(st, at > 0 ? at : (int64_t)(g_get_real_time() / G_USEC_PER_SEC),
                                      incident_id, report_id, actor, action, clean, err);
    g_free(clean);
    return rc;
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
    struct store_incident_wsum ws;
    int rc = store_incident_window(st, kind, subject, at - window, at, &ws, err);
    *w = (struct wsum){ ws.sum, ws.auth_sum, ws.n, ws.auth_n };
    return rc;
}

/* Ids of earlier incidents of the same customer or sender within the repeat
 * period before at (g_array of int64_t; caller frees). */
int incident_history(const struct config *cfg, struct store *st, int64_t self,
                       const char *customer_id, const char *kind, const char *subject, int64_t at,
                       GArray **out, struct ad_err *err)
{
    *out = g_array_new(FALSE, FALSE, sizeof(int64_t));
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = store_incident_history(st, self, at - cfg->repeat_period, at, customer_id, kind,
                                    subject, &ids, &n, err);
    g_array_append_vals(*out, ids, (guint)n);
    g_free(ids);
    return rc;
}

/* The spam-run rule: a mailbox whose password leaked sends from wherever its
 * new users are (a botnet, proxies, phished webmail sessions), its owner
 * from one or two places (an office, a home line, a phone's carrier).
 * run_lock_complaints authenticated complaints within run_window about
 * mails that came from at least
 * run_min_clients networks (client_net: our own hops say where from, nobody
 * who only receives the mail can choose it), reach the lock stage at once,
 * long before the score sums do. Newsletters and mail merges of the owner
 * come from the owner's places, so they never meet it, whatever their
 * subjects. A web script needs the count from run_script_min_providers
 * providers: a contact form should draw no complaint at all, and its lock
 * stops only the script, as seed 002 has it (a script's complaints about
 * mail marked as sent to a list do not count: a shop's newsletter). A spam
 * run from a single place (one rented server) is left to the sums. List
 * headers written into spam change nothing for a mailbox. Only proven
 * providers' reports count, so a forger can start none of it. *by_run tells the caller that
 * this rule, not the sums, reached the lock stage: it weighed the evidence
 * in place of auto_lock_min_providers. */
static int run_rule(const struct config *cfg, struct store *st, const char *kind,
                    const char *subject, int64_t at, enum incident_stage *stage, bool *by_run,
                    GString *why, struct ad_err *err)
{
    bool mailbox = !strcmp(kind, "account");
    if (cfg->run_lock_complaints <= 0 || (!mailbox && strcmp(kind, "script")))
        return 0;
    struct store_incident_run run;
    int rc = store_incident_run_facts(st, kind, subject, at - cfg->run_window, at, &run, err);
    if (rc)
        return rc;
    if (run.n < cfg->run_lock_complaints)
        return 0;
    if (mailbox ? cfg->run_min_clients <= 0 || run.nets < cfg->run_min_clients
                : run.n - run.bulk < cfg->run_lock_complaints
                      || run.providers < cfg->run_script_min_providers)
        return 0;
    char *wn = human_window(cfg->run_window);
    *stage = INCIDENT_STAGE_LOCK;
    *by_run = true;
    if (mailbox)
        g_string_printf(why, "lock: spam run: %lld authenticated complaints in %s about mails "
                        "sent from %lld networks ([incidents] run_lock_complaints, "
                        "run_min_clients)",
                        (long long)run.n, wn, (long long)run.nets);
    else
        g_string_printf(why, "lock: spam run: %lld authenticated complaints in %s from %lld "
                        "provider(s) about mails of the web script, none to a list ([incidents] "
                        "run_lock_complaints, run_script_min_providers)",
                        (long long)run.n, wn, (long long)run.providers);
    g_free(wn);
    return 0;
}

/* A mailbox whose sums reach the lock stage with complaints about mail
 * marked as sent to a list only, from fewer than run_min_clients networks,
 * is a customer's newsletter that draws complaints, not a mailbox in other
 * hands: it stops at alert and the team decides (seed 004: the team checks
 * and decides on the lock). Spam from a leaked password comes from many
 * networks and still locks, list headers or not (the spam-run rule). */
static int bulk_hold(const struct config *cfg, struct store *st, const char *kind,
                     const char *subject, int64_t at, enum incident_stage *stage, bool *held,
                     GString *why, struct ad_err *err)
{
    if (*stage != INCIDENT_STAGE_LOCK || strcmp(kind, "account") || !cfg->n_windows)
        return 0;
    long long w = cfg->windows[cfg->n_windows - 1];
    struct store_incident_run run;
    int rc = store_incident_run_facts(st, kind, subject, at - w, at, &run, err);
    if (rc)
        return rc;
    if (run.n == 0 || run.bulk < run.n
        || (cfg->run_min_clients > 0 && run.nets >= cfg->run_min_clients))
        return 0;
    *stage = INCIDENT_STAGE_ALERT;
    *held = true;
    g_string_append(why, "; every authenticated complaint is about mail marked as sent to a "
                         "list, from the customer's own places: a newsletter, the team decides "
                         "on a lock");
    return 0;
}

/* The stage a sender's sums reach; why says which window and threshold. Every
 * complaint counts toward observe and alert, only authenticated ones toward
 * lock (a forged campaign of any size can at most alert the team). A joe job
 * (kind "domain") stops at alert. */
static int stage_of(const struct config *cfg, struct store *st, const char *kind,
                    const char *subject, int64_t at, bool repeat, enum incident_stage *stage,
                    bool *by_run, bool *held, GString *why, struct ad_err *err)
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
    if (*stage < INCIDENT_STAGE_LOCK)
        return run_rule(cfg, st, kind, subject, at, stage, by_run, why, err);
    return bulk_hold(cfg, st, kind, subject, at, stage, held, why, err);
}

/* The network an address belongs to, as the spam-run rule counts them: an
 * IPv4 /16 or an IPv6 /32, about one provider's or one carrier's range, so
 * that a phone on a carrier's pool or a dial-up line whose address changes
 * stays one place ("192.0.0.0/16"). NULL for none or not an address. */
static char *client_net(const char *ip)
{
    struct config_net n;
    if (!ip || strchr(ip, '/') || !config_parse_net(ip, &n))
        return NULL;
    const unsigned char *b = n.addr;
    if (!memcmp(b, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) /* IPv4, mapped */
        return g_strdup_printf("%u.%u.0.0/16", b[12], b[13]);
    return g_strdup_printf("%02x%02x:%02x%02x::/32", b[0], b[1], b[2], b[3]);
}

static int add_complaint(struct store *st, int64_t report_id, const char *kind, const char *subject,
                         int64_t at, const struct score *sc, const struct report *r,
                         const struct attribution *a, struct ad_err *err)
{
    if (!subject)
        return 0;
    char *net = client_net(a->client_ip);
    struct store_incident_complaint c = {
        .report_id = report_id,
        .kind = kind,
        .subject = subject,
        .at = at,
        .score = sc->total,
        .counted = sc->counted,
        .authenticated = sc->authenticated,
        .provider = sc->provider,
        .bulk = r->original && r->original->bulk,
        .client_net = net,
    };
    int rc = store_incident_complaint_add(st, &c, err);
    g_free(net);
    return rc;
}

int incident_recount(struct store *st, int64_t id, const char *kind, int64_t now,
                     struct ad_err *err)
{
    return store_incident_recount(st, id, kind, now, err);
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
    bool done_before = false;
    int rc = store_incident_report_processed(st, report_id, &done_before, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return ad_err_set(err, AD_ERR_NOTFOUND, "report %lld not found", (long long)report_id);
    if (done_before)
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
        if ((rc = store_incident_dup_find(st, dkey, report_id, &dup, err)) < 0)
            goto out;
        rc = 0;
    }
    score_report_as(cfg, r, at, rep, dup, &sc);
    out->score = sc.total;

    ev = attribution_evidence_json(&a);
    struct store_incident_attr_in ain = { report_id, a.attributed ? "attributed" : "unattributed",
                                          a.subject_kind, a.subject, a.account, a.script,
                                          a.customer_id, a.source_ip, a.reason, ev };
    if ((rc = store_incident_attribution_add(st, &ain, err)))
        goto out;

    terms = score_terms_json(&sc);
    struct store_incident_score_in scin = {
        .report_id = report_id,
        .total = sc.total,
        .counted = sc.counted,
        .authenticated = sc.authenticated,
        .manual = sc.manual == SCORE_UNDETERMINED ? -1 : sc.manual == SCORE_MANUAL ? 1 : 0,
        .provider = sc.provider,
        .message_id = msgid,
        .terms = terms,
        .reporter_how = rep ? rep->how : NULL,
        .dedup_key = dkey,
        .at = at,
    };
    if ((rc = store_incident_score_add(st, &scin, err)))
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
        if ((rc = add_complaint(st, report_id, "domain", joejob_domain, at, &sc, r, &a, err)))
            goto out;
    } else if ((rc = add_complaint(st, report_id, "account", account, at, &sc, r, &a, err))
               || (rc = add_complaint(st, report_id, "script", a.script, at, &sc, r, &a, err))
               || (rc = add_complaint(st, report_id, "customer", cust, at, &sc, r, &a, err))
               || (rc = add_complaint(st, report_id, "ip", a.source_ip, at, &sc, r, &a, err)))
        goto out;

    /* The incident of the most specific sender. */
    int64_t inc = 0;
    enum incident_stage cur = INCIDENT_STAGE_NONE;
    char *sname = NULL;
    if ((rc = store_incident_open_find(st, kind, subject, &inc, &sname, err)) < 0)
        goto out;
    if (rc == 1)
        cur = stage_parse(sname);
    g_free(sname);
    rc = 0;
    /* A sender whose incident was resolved recently gets that incident back. */
    int64_t reopen = 0;
    enum incident_stage reopen_stage = INCIDENT_STAGE_NONE;
    if (!inc && cfg->reopen_window > 0) {
        if ((rc = store_incident_resolved_find(st, kind, subject, at - cfg->reopen_window,
                                               &reopen, &sname, err)) < 0)
            goto out;
        if (rc == 1)
            reopen_stage = stage_parse(sname);
        g_free(sname);
        rc = 0;
    }
    /* Earlier incidents of the customer or the sender (not the open or reopened
     * one) make a repeat offender. */
    if ((rc = incident_history(cfg, st, inc ? inc : reopen, cust, kind, subject,
                          at, &hist, err)))
        goto out;
    bool repeat = hist->len > 0;
    enum incident_stage stage = cur;
    bool held = false;
    /* An open incident at the lock stage cannot go higher: its sums would only
     * be read to be dropped (stage <= cur below), and a spam run's hundreds of
     * complaints made that the most expensive step of each report. */
    if (!(inc && cur == INCIDENT_STAGE_LOCK)
        && (rc = stage_of(cfg, st, kind, subject, at, repeat, &stage, &out->run_lock, &held, why,
                          err)))
        goto out;
    out->stage = stage;
    char detail[512];
    if (!inc && stage == INCIDENT_STAGE_NONE)
        goto done;
    if (!inc && reopen) {
        inc = reopen;
        (void)reopen_stage;
        cur = stage;
        if ((rc = store_incident_reopen(st, inc, stage_state(stage), incident_stage_name(stage),
                                        at, err)))
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
        struct store_incident_new nin = { kind, subject, cust, account, stage_state(stage),
                                          incident_stage_name(stage), repeat, sc.authenticated,
                                          at };
        if ((rc = store_incident_add(st, &nin, &inc, err)))
            goto out;
        long long maxw = 0;
        for (size_t w = 0; w < cfg->n_windows; w++)
            if (cfg->windows[w] > maxw)
                maxw = cfg->windows[w];
        if ((rc = store_incident_attach_window(st, inc, kind, subject, at - maxw, at, err)))
            goto out;
        if ((rc = store_incident_attach(st, inc, report_id, err))
            || (rc = incident_recount(st, inc, kind, at, err)))
            goto out;
        if ((rc = store_incident_first_score(st, inc, err)))
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
        bool added = false;
        if ((rc = store_incident_attach_new(st, inc, report_id, &added, err)))
            goto out;
        /* attached only now (the report was not processed before): add it */
        if ((rc = added ? store_incident_add_report(st, inc, kind, report_id, at, err)
                        : incident_recount(st, inc, kind, at, err)))
            goto out;
        if (sc.authenticated && (rc = store_incident_set_trusted(st, inc, err)))
            goto out;
        g_snprintf(detail, sizeof detail, "report %lld added, score %.2f%s%s",
                   (long long)report_id, sc.total, sc.counted ? "" : " (not counted)",
                   sc.authenticated ? "" : " (unauthenticated)");
        if ((rc = incident_audit_at(st, at, inc, report_id, "abusedesk", "complaint", detail, err)))
            goto out;
        if (stage > cur) {
            if ((rc = store_incident_set_stage(st, inc, incident_stage_name(stage),
                                               stage_state(stage), at, err)))
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
        /* The sums reached the lock stage, but for list mail from the
         * customer's own places: said once in the audit log, for the team. */
        bool said = false;
        if (held && !out->escalated
            && (rc = store_incident_audit_has(st, inc, "lock-held", &said, err)) == 0 && !said)
            rc = incident_audit_at(st, at, inc, report_id, "abusedesk", "lock-held", why->str, err);
        if (rc)
            goto out;
    }
    out->incident_id = inc;
    out->stage = stage;
    log_msg(log, LOG_LEVEL_INFO, "report %lld: %s %s score %.2f -> incident %lld (%s)%s",
            (long long)report_id, kind, subject, sc.total, (long long)inc,
            incident_stage_name(stage), out->opened ? " opened" : out->escalated ? " escalated" : "");

done:
    rc = store_intake_done(st, report_id, err);
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

struct counts {
    json_t *values, *counts;
};

static void add_count(const char *value, int64_t count, void *ctx)
{
    struct counts *c = ctx;
    json_array_append_new(c->values, json_string(value));
    json_array_append_new(c->counts, json_pack("{s:s, s:I}", "value", value, "count",
                                               (json_int_t)count));
}

static void add_report(const struct store_incident_report *r, void *ctx)
{
    json_array_append_new(
        ctx, json_pack("{s:I, s:o, s:f, s:b, s:s?, s:s?, s:s?, s:s?, s:s?, s:b, s:s?}",
                       "report_id", (json_int_t)r->report_id, "at", jtime(r->at), "score",
                       r->score, "counted", (int)r->counted, "reporter", r->provider, "provider",
                       r->provider, "subject", r->subject, "kind", r->kind, "feedback_type",
                       r->feedback_type, "authenticated", (int)r->authenticated, "reporter_how",
                       r->reporter_how));
}

static void add_reply(const struct store_incident_reply *r, void *ctx)
{
    json_array_append_new(
        ctx, json_pack("{s:I, s:o, s:s?, s:s?, s:s?}", "report_id", (json_int_t)r->report_id,
                       "at", jtime(r->at), "verdict", r->verdict, "from", r->from_addr,
                       "subject", r->subject));
}

static void add_notice(const struct store_incident_notice *n, void *ctx)
{
    const char *status = n->bounced_at ? "bounced" : n->failed ? "failed"
                                                   : n->sent_at ? "sent" : "queued";
    json_array_append_new(
        ctx, json_pack("{s:I, s:s?, s:s?, s:s?, s:o, s:o, s:o, s:s, s:o}", "outbox_id",
                       (json_int_t)n->outbox_id, "to_kind", n->kind, "template", n->template_name,
                       "rcpt", n->rcpt, "created_at", jtime(n->created_at), "sent_at",
                       jtime(n->sent_at), "bounced_at", jtime(n->bounced_at), "status", status,
                       "bounce_report",
                       n->bounced_at ? json_integer(n->bounce_report) : json_null()));
}

static void add_audit(const struct store_incident_audit *a, void *ctx)
{
    json_array_append_new(
        ctx, json_pack("{s:o, s:s?, s:s?, s:s?, s:o}", "at", jtime(a->at), "actor", a->actor,
                       "action", a->action, "detail", a->detail, "report_id",
                       a->report_id ? json_integer(a->report_id) : json_null()));
}

int incident_json(const struct config *cfg, struct store *st, int64_t id, int64_t now,
                  json_t **out, struct ad_err *err)
{
    *out = NULL;
    struct store_incident_row row;
    int rc = store_incident_get(st, id, &row, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return ad_err_set(err, AD_ERR_NOTFOUND, "incident %lld not found", (long long)id);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(row.id));
    json_object_set_new(o, "state", jstr(row.state));
    json_object_set_new(o, "stage", jstr(row.stage));
    json_object_set_new(o, "subject_kind", jstr(row.subject_kind));
    json_object_set_new(o, "subject", jstr(row.subject));
    json_object_set_new(o, "customer_id", jstr(row.customer_id));
    json_object_set_new(o, "account", jstr(row.account));
    json_object_set_new(o, "initial_score", json_real(row.initial_score));
    json_object_set_new(o, "score", json_real(row.score));
    json_object_set_new(o, "complaints", json_integer(row.complaints));
    json_object_set_new(o, "repeat_offender", json_boolean(row.repeat_offender));
    json_object_set_new(o, "first_seen", jtime(row.first_seen));
    json_object_set_new(o, "last_seen", jtime(row.last_seen));
    json_object_set_new(o, "opened_at", jtime(row.opened_at));
    json_object_set_new(o, "updated_at", jtime(row.updated_at));
    json_object_set_new(o, "closed_at", jtime(row.closed_at));
    /* trusted: an authenticated complaint or our own systems raised it */
    json_object_set_new(o, "trusted", json_boolean(row.trusted));
    char *kind = g_steal_pointer(&row.subject_kind);
    char *subject = g_steal_pointer(&row.subject);
    char *cust = g_steal_pointer(&row.customer_id);
    int64_t opened = row.opened_at;
    store_incident_row_clear(&row);
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
    struct counts sc = { subjects, subject_counts };
    if ((rc = store_incident_counts_each(st, id, STORE_INCIDENT_SUBJECTS, add_count, &sc, err)))
        goto fail;
    json_t *providers = json_array(), *provider_counts = json_array();
    json_object_set_new(o, "providers", providers);
    json_object_set_new(o, "provider_counts", provider_counts);
    struct counts pc = { providers, provider_counts };
    if ((rc = store_incident_counts_each(st, id, STORE_INCIDENT_PROVIDERS, add_count, &pc, err)))
        goto fail;

    {
        int64_t man, aut, all;
        if ((rc = store_incident_manual(st, id, &man, &aut, &all, err)))
            goto fail;
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
    struct store_incident_evidence e;
    if ((rc = store_incident_evidence(st, id, &e, err)) < 0)
        goto fail;
    if (rc == 1) {
        json_t *ev = json_loads(e.evidence ? e.evidence : "[]", 0, NULL);
        json_object_set_new(o, "evidence", ev ? ev : json_array());
        json_object_set_new(o, "attribution_note", jstr(e.reason));
        json_object_set_new(o, "script", jstr(e.script));
        json_object_set_new(o, "source_ip", jstr(e.source_ip));
    } else {
        json_object_set_new(o, "evidence", json_array());
        json_object_set_new(o, "attribution_note", json_null());
        json_object_set_new(o, "script", json_null());
        json_object_set_new(o, "source_ip", json_null());
    }
    store_incident_evidence_clear(&e);
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
        struct store_incident_brief b;
        if ((rc = store_incident_brief(st, hid, &b, err)) < 0)
            goto fail;
        if (rc == 1)
            json_array_append_new(
                hrows, json_pack("{s:I, s:s?, s:s?, s:s?, s:s?, s:o, s:f}", "id", (json_int_t)hid,
                                 "subject_kind", b.subject_kind, "subject", b.subject, "state",
                                 b.state, "stage", b.stage, "opened_at", jtime(b.opened_at),
                                 "score", b.score));
        store_incident_brief_clear(&b);
        rc = 0;
    }

    /* The reports. */
    json_t *reports = json_array();
    json_object_set_new(o, "reports", reports);
    if ((rc = store_incident_reports_each(st, id, add_report, reports, err)))
        goto fail;

    /* Replies (with how far they were verified) and the mails we sent. */
    json_t *replies = json_array();
    json_object_set_new(o, "replies", replies);
    if ((rc = store_incident_replies_each(st, id, add_reply, replies, err)))
        goto fail;
    json_t *notices = json_array();
    json_object_set_new(o, "notices", notices);
    if ((rc = store_incident_notices_each(st, id, add_notice, notices, err)))
        goto fail;

    /* The audit log. */
    json_t *audit = json_array();
    json_object_set_new(o, "audit", audit);
    if ((rc = store_incident_audit_each(st, id, add_audit, audit, err)))
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
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = store_incident_ids(st, state, &ids, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (fn(ids[i], ctx))
            break;
    g_free(ids);
    return rc;
}

int incident_joejob_evidence(struct store *st, const char *customer_id, const char *domain,
                             int64_t report_id, int64_t at, const char *detail,
                             int64_t *incident_id, bool *opened, struct ad_err *err)
{
    *incident_id = 0;
    *opened = false;
    int64_t inc = 0;
    char *stage = NULL;
    int rc = store_incident_open_find(st, "domain", domain, &inc, &stage, err);
    if (rc < 0)
        return rc;
    char *stage_copy = g_strdup(stage ? stage : incident_stage_name(INCIDENT_STAGE_OBSERVE));
    g_free(stage);
    if (!inc) {
        /* A joe job stops at alert and locks nothing; DMARC data alone opens it
         * at observe: the team sees it in the queue, the customer gets advice. */
        struct store_incident_new in = { .kind = "domain",
                                         .subject = domain,
                                         .customer_id = customer_id,
                                         .account = NULL,
                                         .state = stage_state(INCIDENT_STAGE_OBSERVE),
                                         .stage = incident_stage_name(INCIDENT_STAGE_OBSERVE),
                                         .repeat = false,
                                         .trusted = false,
                                         .at = at };
        if ((rc = store_incident_add(st, &in, &inc, err)))
            goto out;
        *opened = true;
    } else {
        /* Touch it: updated_at moves, the stage stays. */
        if ((rc = store_incident_set_stage(st, inc, stage_copy, "open", at, err)))
            goto out;
    }
    if (report_id && (rc = store_incident_attach(st, inc, report_id, err)))
        goto out;
    rc = incident_audit(st, inc, report_id, "abusedesk", *opened ? "opened" : "forgery", detail,
                        err);
    *incident_id = inc;
out:
    g_free(stage_copy);
    return rc;
}

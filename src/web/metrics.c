/*
 * metrics.c: /metrics in the Prometheus text format (version 0.0.4): what the
 * store holds now (reports by kind and whether a trusted provider vouched for
 * them, incidents by state, active locks, the outbox's queue and failures,
 * hook calls, the policy server's findings, open DNSBL listings) and this
 * process's own counters. Every family is written with HELP and TYPE even
 * when it has no row yet, so a dashboard finds its names from the start.
 * Label values come from the store (zones, providers' findings) and are
 * escaped as the format requires.
 */
#include "web.h"

#include <string.h>

#include <jansson.h>

#include "policy/policy_server.h"
#include "store/store_policy.h"

static void esc(GString *o, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\')
            g_string_append(o, "\\\\");
        else if (*s == '"')
            g_string_append(o, "\\\"");
        else if (*s == '\n')
            g_string_append(o, "\\n");
        else
            g_string_append_c(o, *s);
    }
}

static void family(GString *o, const char *name, const char *type, const char *help)
{
    g_string_append_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

struct fam {
    GString *o;
    const char *name, *l1, *l2;
    const char *const *fixed;   /* label values always written (0 when absent) */
    GHashTable *seen;
    int64_t sum;
};

static void row(const char *a, const char *b, int64_t n, void *ctx)
{
    struct fam *f = ctx;
    g_string_append_printf(f->o, "%s{%s=\"", f->name, f->l1);
    esc(f->o, a);
    g_string_append_c(f->o, '"');
    if (f->l2) {
        g_string_append_printf(f->o, ",%s=\"", f->l2);
        if (!strcmp(f->l2, "authenticated"))
            g_string_append(f->o, b && !strcmp(b, "1") ? "true" : "false");
        else
            esc(f->o, b ? b : "");
        g_string_append_c(f->o, '"');
    }
    g_string_append_printf(f->o, "} %lld\n", (long long)n);
    if (f->seen)
        g_hash_table_add(f->seen, g_strdup(a));
    f->sum += n;
}

/* Writes one family from a store count; fixed label values not in the store
 * are written with 0. *sum gets the total (may be NULL). */
static int counted(struct web_req *r, enum store_web_count which, const char *name,
                   const char *help, const char *l1, const char *l2, const char *const *fixed,
                   int64_t *sum, struct ad_err *err)
{
    family(r->out, name, "gauge", help);
    struct fam f = { r->out, name, l1, l2, fixed,
                     g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL), 0 };
    int rc = store_web_counts(r->app->st, which, 0, row, &f, err);
    for (const char *const *v = fixed; rc == 0 && v && *v; v++)
        if (!g_hash_table_contains(f.seen, *v))
            g_string_append_printf(r->out, "%s{%s=\"%s\"} 0\n", name, l1, *v);
    g_hash_table_destroy(f.seen);
    if (sum)
        *sum = f.sum;
    return rc;
}

static void one(GString *o, const char *name, const char *type, const char *help, double v)
{
    family(o, name, type, help);
    g_string_append_printf(o, "%s %.17g\n", name, v);
}

/* ---- the policy servers' own figures (policy_stats, every ~5 s) ---------- */

#define PS_MAX_BUCKETS 32
struct pstats {
    GHashTable *answers;        /* action -> gint64 * */
    double le[PS_MAX_BUCKETS];  /* bounds, seconds */
    int64_t n[PS_MAX_BUCKETS + 1];
    size_t n_le;
    bool le_set;
    int64_t sum_us, servers;
};

static void pstats_row(const char *server, int64_t at, const char *text, void *ctx)
{
    (void)server;
    (void)at;
    struct pstats *p = ctx;
    json_t *o = json_loads(text ? text : "", 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(o, "answers"), k, v) {
        gint64 *c = g_hash_table_lookup(p->answers, k);
        if (!c) {
            c = g_new0(gint64, 1);
            g_hash_table_insert(p->answers, g_strdup(k), c);
        }
        *c += json_integer_value(v);
    }
    json_t *le = json_object_get(json_object_get(o, "latency_us"), "le");
    json_t *n = json_object_get(json_object_get(o, "latency_us"), "n");
    size_t nle = json_array_size(le);
    /* every server of one version has the same bounds; another set is left out */
    if (nle > 0 && nle <= PS_MAX_BUCKETS && json_array_size(n) == nle + 1
        && (!p->le_set || p->n_le == nle)) {
        for (size_t i = 0; i < nle; i++)
            p->le[i] = (double)json_integer_value(json_array_get(le, i)) / 1e6;
        for (size_t i = 0; i <= nle; i++)
            p->n[i] += json_integer_value(json_array_get(n, i));
        p->n_le = nle;
        p->le_set = true;
        p->sum_us += json_integer_value(json_object_get(o, "latency_sum_us"));
    }
    p->servers++;
    json_decref(o);
}

static int policy_figures(GString *o, struct store *st, struct ad_err *err)
{
    struct pstats p = { .answers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free) };
    /* servers that reported in the last five minutes (every ~5 s while they run) */
    int rc = store_policy_stats_each(st, (int64_t)(g_get_real_time() / G_USEC_PER_SEC) - 300,
                                     pstats_row, &p, err);
    if (rc == 0) {
        family(o, "abusedesk_policy_answers_total", "counter",
               "Answers of the policy servers by action, since each started.");
        for (int i = 0; i < POLICY_ANSWER_KINDS; i++) {
            gint64 *c = g_hash_table_lookup(p.answers, policy_answer_names[i]);
            g_string_append_printf(o, "abusedesk_policy_answers_total{action=\"%s\"} %lld\n",
                                   policy_answer_names[i], (long long)(c ? *c : 0));
        }
        family(o, "abusedesk_policy_decision_seconds", "histogram",
               "Time the policy servers took from a complete request to its answer.");
        if (!p.le_set) {
            p.n_le = POLICY_LATENCY_BUCKETS;
            for (size_t i = 0; i < p.n_le; i++)
                p.le[i] = (double)policy_latency_bounds_us[i] / 1e6;
        }
        int64_t cum = 0;
        for (size_t i = 0; i < p.n_le; i++) {
            cum += p.n[i];
            g_string_append_printf(o, "abusedesk_policy_decision_seconds_bucket{le=\"%g\"} %lld\n",
                                   p.le[i], (long long)cum);
        }
        cum += p.n[p.n_le];
        g_string_append_printf(o, "abusedesk_policy_decision_seconds_bucket{le=\"+Inf\"} %lld\n",
                               (long long)cum);
        g_string_append_printf(o, "abusedesk_policy_decision_seconds_sum %.6f\n",
                               (double)p.sum_us / 1e6);
        g_string_append_printf(o, "abusedesk_policy_decision_seconds_count %lld\n", (long long)cum);
        one(o, "abusedesk_policy_servers", "gauge",
            "Policy servers that reported their figures in the last five minutes.",
            (double)p.servers);
    }
    g_hash_table_destroy(p.answers);
    return rc;
}

void web_metrics(struct web_req *r)
{
    static const char *const states[] = { "open", "alerted", "locked", "customer_notified",
                                          "customer_replied", "resolved", "dismissed", "merged",
                                          NULL };
    static const char *const outbox[] = { "queued", "sent", "failed", NULL };
    static const char *const hooks[] = { "queued", "done", "failed", NULL };
    struct ad_err err = { 0 };
    int64_t listed = 0, locks = 0;
    g_string_truncate(r->out, 0);
    int rc = counted(r, STORE_WEB_REPORTS, "abusedesk_reports",
                     "Reports stored, by kind and whether a provider we trust vouched for them.",
                     "kind", "authenticated", NULL, NULL, &err);
    if (rc == 0)
        rc = counted(r, STORE_WEB_INCIDENTS, "abusedesk_incidents", "Incidents by state.",
                     "state", NULL, states, NULL, &err);
    if (rc == 0)
        rc = counted(r, STORE_WEB_LOCKS, "abusedesk_locks_active",
                     "Active locks by what is locked (account, script).", "kind", NULL, NULL,
                     &locks, &err);
    if (rc == 0)
        one(r->out, "abusedesk_locks", "gauge", "Active locks.", (double)locks);
    if (rc == 0)
        rc = counted(r, STORE_WEB_OUTBOX, "abusedesk_outbox_mails",
                     "Mails of the outbox by state (queued: waiting for the delivery worker).",
                     "state", NULL, outbox, NULL, &err);
    if (rc == 0)
        rc = counted(r, STORE_WEB_HOOKS, "abusedesk_hook_jobs",
                     "Lock and unlock hook calls by state.", "state", NULL, hooks, NULL, &err);
    if (rc == 0)
        rc = counted(r, STORE_WEB_POLICY, "abusedesk_policy_findings",
                     "Findings of the policy server (limits crossed, anomalies) by stage and "
                     "who decided.", "stage", "decided_by", NULL, NULL, &err);
    if (rc == 0)
        rc = counted(r, STORE_WEB_RBL, "abusedesk_rbl_listings",
                     "Open DNSBL listings of our addresses, by zone.", "zone", NULL, NULL,
                     &listed, &err);
    if (rc == 0)
        one(r->out, "abusedesk_rbl_listed", "gauge", "Open DNSBL listings in all.",
            (double)listed);
    if (rc == 0)
        rc = policy_figures(r->out, r->app->st, &err);
    if (rc) {
        web_json_error(r, web_status_for(err.code), "%s", err.msg);
        return;
    }
    /* The queue length and failures in one figure each, for simple alerts. */
    GString *o = r->out;
    const char *q = strstr(o->str, "abusedesk_outbox_mails{state=\"queued\"} ");
    const char *fl = strstr(o->str, "abusedesk_outbox_mails{state=\"failed\"} ");
    double queued = q ? g_ascii_strtod(strchr(q, '}') + 2, NULL) : 0;
    double failed = fl ? g_ascii_strtod(strchr(fl, '}') + 2, NULL) : 0;
    one(o, "abusedesk_outbox_queue_length", "gauge", "Mails waiting for delivery.", queued);
    one(o, "abusedesk_outbox_failures", "gauge", "Mails given up after retries.", failed);
    one(o, "abusedesk_web_requests_total", "counter", "Requests this web process served.",
        (double)r->app->n_requests);
    one(o, "abusedesk_web_login_failures_total", "counter", "Failed logins since start.",
        (double)r->app->n_login_failures);
    one(o, "abusedesk_web_denied_total", "counter",
        "Requests refused for a missing token or role since start.", (double)r->app->n_denied);
    one(o, "abusedesk_up", "gauge", "1 when the store answered.", 1);
    r->status = 200;
    r->ctype = "text/plain; version=0.0.4; charset=utf-8";
}

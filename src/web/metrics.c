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

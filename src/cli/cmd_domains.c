/*
 * cmd_domains.c: `abusedesk domains audit [--json] [--changes] [DOMAIN...]`,
 * the SPF, DKIM, DMARC and MX audit of customer domains (reputation/audit.h),
 * by default of every domain in the customer directory. Each finding gets
 * advice in the customer's language from TEMPLATES/LANG/audit.ini (English
 * when the customer's language has none); forgery seen in the stored DMARC
 * reports of the last 30 days is a finding too. Every run is stored per
 * domain (store/store_audit.h), so that the next run says what changed since
 * ("SPF removed since 2026-11-22"): --changes prints only that (a scheduled
 * run for the team), --json carries it in `changed`. The reputation monitor
 * (cmd_rbl.c) calls domains_audit_scheduled() every round: it audits every
 * domain when [reputation] audit_interval has passed since the newest stored
 * run and queues one team mail (team_audit) with the changes. Exit status: 0 no
 * finding of severity error, 1 some, 64 usage, 66 no database, 75 store
 * unavailable, 78 configuration.
 */
#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "directory/directory.h"
#include "act/outbox.h"
#include "incident/incident.h"
#include "reputation/audit.h"
#include "reputation/rbl.h"
#include "store/store.h"
#include "store/store_audit.h"
#include "util/textsafe.h"

#define DOMAINS_FORGERY_WINDOW (30 * 86400)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: abusedesk [GLOBAL OPTIONS] domains audit [--json] [--changes] [DOMAIN...]\n\n"
            "Audits the DNS records of customer domains (default: every domain of the\n"
            "customer directory): SPF (missing, syntax errors, +all or ?all, more than 10\n"
            "DNS lookups or 2 void lookups, our outbound addresses not permitted), DKIM\n"
            "(the selectors of [reputation] dkim_selectors not published, keys under 1024\n"
            "bits), DMARC (missing, p=none, rua not to [reputation] dmarc_rua), MX, and\n"
            "forgery of the domain in the DMARC reports of the last 30 days. Lookups go\n"
            "to [reputation] resolver, each within [reputation] dns_timeout. Each finding:\n"
            "check, severity, message and advice in the customer's language. Every run is\n"
            "stored; --changes prints only what changed since the domain's last run, and\n"
            "--json prints one object per domain: domain, customer_id, language,\n"
            "incomplete, findings [{check, code, severity, message, advice}], changed,\n"
            "since. Exit 0 when no finding is an error, 1 when some are.\n");
}

/* Advice of check_code from DIR/LANG/audit.ini, {domain} filled in. */
static char *advice_for(const struct config *cfg, GHashTable *files, const char *lang,
                        const char *check, const char *code, const char *domain)
{
    char *key = g_strdup_printf("%s_%s", check, code);
    char *text = NULL;
    for (int pass = 0; pass < 2 && !text; pass++) {
        const char *l = pass ? "en" : lang;
        GKeyFile *kf = g_hash_table_lookup(files, l);
        if (!kf) {
            kf = g_key_file_new();
            char *path = g_build_filename(cfg->templates_dir, l, "audit.ini", NULL);
            g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL);
            g_free(path);
            g_hash_table_insert(files, g_strdup(l), kf);
        }
        text = g_key_file_get_string(kf, "advice", key, NULL);
    }
    g_free(key);
    if (!text)
        return g_strdup("-");
    GString *s = g_string_new(NULL);
    for (const char *p = text; *p;) {
        if (g_str_has_prefix(p, "{domain}")) {
            g_string_append(s, domain);
            p += 8;
        } else {
            g_string_append_c(s, *p++);
        }
    }
    g_free(text);
    return g_string_free(s, FALSE);
}

struct domain_item {
    char *domain, *customer_id;
};

static void collect(const char *domain, const char *customer_id, void *ctx)
{
    GArray *a = ctx;
    struct domain_item it = { g_strdup(domain), g_strdup(customer_id) };
    g_array_append_val(a, it);
}

struct prev {
    bool have;
    int64_t at;
    char *spf, *dmarc, *mx, *findings;
};

static void got_prev(const struct store_audit_run *r, void *ctx)
{
    struct prev *p = ctx;
    p->have = true;
    p->at = r->checked_at;
    p->spf = g_strdup(r->spf);
    p->dmarc = g_strdup(r->dmarc);
    p->mx = g_strdup(r->mx);
    p->findings = g_strdup(r->findings);
}

static void prev_clear(struct prev *p)
{
    g_free(p->spf);
    g_free(p->dmarc);
    g_free(p->mx);
    g_free(p->findings);
    memset(p, 0, sizeof *p);
}

/* What changed between the last run and d, as sentences. */
static void changes(const struct prev *p, const struct audit_domain *d, const char *keys,
                    GPtrArray *out)
{
    if (!p->have)
        return;
    char since[32];
    incident_iso(p->at, since);
    since[10] = '\0';
    struct {
        const char *name, *old, *cur;
    } recs[] = { { "SPF", p->spf, d->spf }, { "DMARC", p->dmarc, d->dmarc }, { "MX", p->mx, d->mx } };
    for (size_t i = 0; i < G_N_ELEMENTS(recs); i++) {
        const char *o = recs[i].old, *c = recs[i].cur;
        if (o && !c)
            g_ptr_array_add(out, g_strdup_printf("%s removed since %s (was: %s)", recs[i].name,
                                                 since, o));
        else if (!o && c)
            g_ptr_array_add(out, g_strdup_printf("%s published since %s: %s", recs[i].name,
                                                 since, c));
        else if (o && c && strcmp(o, c))
            g_ptr_array_add(out, g_strdup_printf("%s changed since %s: %s -> %s", recs[i].name,
                                                 since, o, c));
    }
    gchar **old = g_strsplit(p->findings ? p->findings : "", " ", -1);
    gchar **cur = g_strsplit(keys, " ", -1);
    for (gchar **k = cur; *k; k++)
        if (**k && !g_strv_contains((const gchar *const *)old, *k))
            g_ptr_array_add(out, g_strdup_printf("new finding since %s: %s", since, *k));
    for (gchar **k = old; *k; k++)
        if (**k && !g_strv_contains((const gchar *const *)cur, *k))
            g_ptr_array_add(out, g_strdup_printf("fixed since %s: %s", since, *k));
    g_strfreev(old);
    g_strfreev(cur);
}

/* The outbound addresses (as the DNSBL check takes them, *ours: g_free())
 * and a new audit run. NULL with err when the configuration is unusable. */
static struct audit *audit_start(const struct config *cfg, struct rbl_addr **ours,
                                 struct ad_err *err)
{
    size_t n_ours = 0;
    bool own = cfg->rbl_addresses && cfg->rbl_addresses[0];
    int arc = own ? rbl_addresses_parse(cfg->rbl_addresses, "[reputation] addresses", ours,
                                        &n_ours, err)
                  : rbl_addresses_expand(cfg->our_ips, cfg->n_our_ips, "[network] our_ips", ours,
                                         &n_ours, err);
    if (arc && own)
        return NULL;
    if (arc) {
        /* [network] our_ips too wide to list (an IPv6 /48, a /16): the audit
         * goes on without the "our addresses are covered by SPF" check;
         * [reputation] addresses names the outbound addresses for it. */
        char *m = textsafe_terminal(err->msg);
        fprintf(stderr, "abusedesk: note: domain audit: SPF coverage of our addresses not "
                        "checked: %s\n", m);
        g_free(m);
        memset(err, 0, sizeof *err);
        g_free(*ours);
        *ours = NULL;
        n_ours = 0;
    }
    struct audit_opts o = {
        .resolver = cfg->rbl_resolver,
        .timeout_ms = (int)(cfg->rbl_dns_timeout * 1000),
        .dkim_selectors = cfg->audit_dkim_selectors,
        .dmarc_rua = cfg->audit_dmarc_rua,
        .ours = *ours,
        .n_ours = n_ours,
    };
    struct audit *a = audit_new(&o, err);
    if (!a) {
        g_free(*ours);
        *ours = NULL;
    }
    return a;
}

/* Audits one domain (forgery in the DMARC reports of the last 30 days
 * included) and compares it with its last stored run: *d (audit_domain_free())
 * and *keys (g_free()) always set, p and changed filled. With store, a
 * complete run is stored. 0, or a store error in err. */
static int audit_one(struct store *st, struct audit *a, const char *domain, int64_t now,
                     bool store, struct audit_domain **dp, char **keysp, struct prev *p,
                     GPtrArray *changed, struct ad_err *err)
{
    struct audit_domain *d = *dp = audit_domain_check(a, domain);
    int64_t forged = 0, total = 0, n_reports = 0;
    int rc = store_audit_dmarc_sums(st, domain, now - DOMAINS_FORGERY_WINDOW, &forged, &total,
                                    &n_reports, err);
    if (rc == 0 && forged > 0)
        audit_domain_add(d, "dmarc", "forgery", "warning",
                         "%lld of %lld messages in %lld DMARC reports of the last 30 days "
                         "failed DMARC from addresses outside our ranges: the domain is "
                         "being forged", (long long)forged, (long long)total,
                         (long long)n_reports);
    char *keys = *keysp = audit_domain_keys(d);
    if (rc == 0)
        rc = store_audit_run_last(st, domain, now + 1, got_prev, p, err);
    changes(p, d, keys, changed);
    struct store_audit_run run = { 0, now, domain, d->spf, d->dmarc, d->mx, keys };
    if (rc == 0 && store && !d->incomplete)
        rc = store_audit_run_add(st, &run, err);
    return rc;
}

static bool domain_arg_ok(const char *d)
{
    size_t n = strlen(d);
    if (n < 3 || n > 253 || !strchr(d, '.') || d[0] == '.' || d[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!g_ascii_isalnum(d[i]) && d[i] != '-' && d[i] != '_' && d[i] != '.')
            return false;
    return true;
}

static int audit_cmd(struct cli *cli, int argc, char **argv)
{
    bool json = false, only_changes = false;
    GArray *items = g_array_new(FALSE, TRUE, sizeof(struct domain_item));
    int rc = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--changes")) {
            only_changes = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            goto out;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "abusedesk domains: unknown option '%s'\n", argv[i]);
            rc = EXIT_USAGE;
            goto out;
        } else if (!domain_arg_ok(argv[i])) {
            char *t = textsafe_terminal(argv[i]);
            fprintf(stderr, "abusedesk domains: '%s' is not a domain name\n", t);
            g_free(t);
            rc = EXIT_USAGE;
            goto out;
        } else {
            struct domain_item it = { g_ascii_strdown(argv[i], -1), NULL };
            g_array_append_val(items, it);
        }
    }
    struct ad_err err = { 0 };
    struct rbl_addr *ours = NULL;
    struct audit *a = audit_start(&cli->cfg, &ours, &err);
    if (!a) {
        fprintf(stderr, "abusedesk domains: %s\n", err.msg);
        rc = EXIT_CONFIG;
        goto out;
    }
    struct store *st = NULL;
    if ((rc = cli_open_store(cli, &st)) != 0) {
        audit_free(a);
        g_free(ours);
        goto out;
    }
    bool all = items->len == 0;
    if (all && store_audit_domains_each(st, collect, items, &err) != 0) {
        fprintf(stderr, "abusedesk domains: %s\n", err.msg);
        rc = EXIT_TEMPFAIL;
    }
    GHashTable *files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify)g_key_file_free);
    bool any_error = false;
    int64_t now = (int64_t)time(NULL);
    for (guint i = 0; a && rc == 0 && i < items->len; i++) {
        struct domain_item *it = &g_array_index(items, struct domain_item, i);
        if (!it->customer_id && directory_domain_customer(st, it->domain, &it->customer_id,
                                                          &err) < 0) {
            fprintf(stderr, "abusedesk domains: %s\n", err.msg);
            rc = EXIT_TEMPFAIL;
            break;
        }
        const char *lang = cli->cfg.default_language && *cli->cfg.default_language
                               ? cli->cfg.default_language : "en";
        struct directory_customer cust = { 0 };
        if (it->customer_id && directory_customer_get(st, it->customer_id, &cust, NULL) == 0
            && cust.language && (!strcmp(cust.language, "de") || !strcmp(cust.language, "en")))
            lang = cust.language;
        struct audit_domain *d = NULL;
        char *keys = NULL;
        struct prev p = { 0 };
        GPtrArray *changed = g_ptr_array_new_with_free_func(g_free);
        if (audit_one(st, a, it->domain, now, true, &d, &keys, &p, changed, &err) != 0) {
            fprintf(stderr, "abusedesk domains: %s\n", err.msg);
            rc = EXIT_TEMPFAIL;
        }
        for (guint k = 0; k < d->findings->len; k++)
            if (!strcmp(((struct audit_finding *)d->findings->pdata[k])->severity, "error"))
                any_error = true;
        char since[32] = "";
        if (p.have)
            incident_iso(p.at, since);
        if (json) {
            json_t *j = json_object();
            json_object_set_new(j, "domain", json_string(d->domain));
            json_object_set_new(j, "customer_id", it->customer_id ? json_string(it->customer_id)
                                                                  : json_null());
            json_object_set_new(j, "language", json_string(lang));
            json_object_set_new(j, "incomplete", json_boolean(d->incomplete));
            json_t *fs = json_array();
            for (guint k = 0; k < d->findings->len; k++) {
                const struct audit_finding *f = d->findings->pdata[k];
                json_t *x = json_object();
                json_object_set_new(x, "check", json_string(f->check));
                json_object_set_new(x, "code", json_string(f->code));
                json_object_set_new(x, "severity", json_string(f->severity));
                json_object_set_new(x, "message", json_string(f->message));
                char *adv = advice_for(&cli->cfg, files, lang, f->check, f->code, d->domain);
                json_object_set_new(x, "advice", json_string(adv));
                g_free(adv);
                json_array_append_new(fs, x);
            }
            json_object_set_new(j, "findings", fs);
            json_t *ch = json_array();
            for (guint k = 0; k < changed->len; k++) {
                char *c = g_utf8_make_valid(changed->pdata[k], -1);
                json_array_append_new(ch, json_string(c));
                g_free(c);
            }
            json_object_set_new(j, "changed", ch);
            json_object_set_new(j, "since", p.have ? json_string(since) : json_null());
            char *line = json_dumps(j, JSON_COMPACT);
            if (line)
                puts(line);
            free(line);
            json_decref(j);
        } else if (only_changes) {
            for (guint k = 0; k < changed->len; k++) {
                char *c = textsafe_terminal(changed->pdata[k]);
                printf("%s: %s\n", d->domain, c);
                g_free(c);
            }
        } else {
            printf("%s%s%s%s\n", d->domain, it->customer_id ? " (customer " : "",
                   it->customer_id ? it->customer_id : "", it->customer_id ? ")" : "");
            if (d->incomplete)
                printf("  (incomplete: some lookups failed)\n");
            if (d->findings->len == 0)
                printf("  no findings\n");
            for (guint k = 0; k < d->findings->len; k++) {
                const struct audit_finding *f = d->findings->pdata[k];
                char *adv = advice_for(&cli->cfg, files, lang, f->check, f->code, d->domain);
                char *ta = textsafe_terminal(adv);
                printf("  %-5s %-7s %s\n        advice: %s\n", f->check, f->severity, f->message,
                       ta);
                g_free(ta);
                g_free(adv);
            }
            for (guint k = 0; k < changed->len; k++) {
                char *c = textsafe_terminal(changed->pdata[k]);
                printf("  changed: %s\n", c);
                g_free(c);
            }
        }
        fflush(stdout);
        prev_clear(&p);
        g_ptr_array_free(changed, TRUE);
        g_free(keys);
        directory_customer_clear(&cust);
        audit_domain_free(d);
    }
    g_hash_table_destroy(files);
    audit_free(a);
    store_close(st);
    g_free(ours);
    if (rc == 0 && any_error)
        rc = 1;
out:
    for (guint i = 0; i < items->len; i++) {
        g_free(g_array_index(items, struct domain_item, i).domain);
        g_free(g_array_index(items, struct domain_item, i).customer_id);
    }
    g_array_free(items, TRUE);
    return rc;
}

/* ---- the reputation monitor's scheduled audit ---------------------------------- */

#define DOMAINS_MAIL_MAX 200    /* domains listed in one team mail at most */

static void put(GHashTable *v, const char *k, char *owned)
{
    g_hash_table_replace(v, g_strdup(k), owned ? owned : g_strdup(""));
}

/* The team mail's section of one domain: its customer, what changed (or, on
 * its first run, its errors) and the advice for its findings. */
static void mail_section(const struct config *cfg, struct store *st, GHashTable *files,
                         const struct domain_item *it, const struct audit_domain *d,
                         const GPtrArray *changed, GString *out)
{
    struct directory_customer cust = { 0 };
    if (it->customer_id)
        directory_customer_get(st, it->customer_id, &cust, NULL);
    char *dom = textsafe_line(d->domain, 253);
    char *cid = textsafe_line(it->customer_id ? it->customer_id : "-", 80);
    char *cname = cust.name ? textsafe_line(cust.name, 80) : NULL;
    g_string_append_printf(out, "%s%s (customer %s%s%s)\n", out->len ? "\n" : "", dom, cid,
                           cname ? ", " : "", cname ? cname : "");
    for (guint k = 0; k < changed->len; k++) {
        char *c = textsafe_line(changed->pdata[k], 300);
        g_string_append_printf(out, "  - %s\n", c);
        g_free(c);
    }
    const char *lang = cfg->team_language && *cfg->team_language ? cfg->team_language : "en";
    for (guint k = 0; k < d->findings->len; k++) {
        const struct audit_finding *f = d->findings->pdata[k];
        if (!changed->len && strcmp(f->severity, "error"))
            continue;
        char *m = textsafe_line(f->message, 300);
        char *adv = advice_for(cfg, files, lang, f->check, f->code, d->domain);
        char *ta = textsafe_line(adv, 600);
        g_string_append_printf(out, "  %s %s (%s): %s\n    -> %s\n", f->check, f->code,
                               f->severity, m, ta);
        g_free(ta);
        g_free(adv);
        g_free(m);
    }
    g_free(cname);
    g_free(cid);
    g_free(dom);
    directory_customer_clear(&cust);
}

static void domain_free(gpointer d)
{
    audit_domain_free(d);
}

int domains_audit_scheduled(struct cli *cli, struct store *st, int64_t now, bool *mailed,
                            struct ad_err *err)
{
    const struct config *cfg = &cli->cfg;
    if (mailed)
        *mailed = false;
    if (cfg->rep_audit_interval <= 0)
        return 0;
    int64_t last = 0;
    int rc = store_audit_run_latest(st, &last, err);
    if (rc || (last > 0 && now - last < cfg->rep_audit_interval))
        return rc;
    struct rbl_addr *ours = NULL;
    struct audit *a = audit_start(cfg, &ours, err);
    if (!a)
        return AD_ERR_CONFIG;
    GArray *items = g_array_new(FALSE, TRUE, sizeof(struct domain_item));
    rc = store_audit_domains_each(st, collect, items, err);
    GHashTable *files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify)g_key_file_free);
    /* The runs are stored with the mail in one transaction at the end: a run
     * whose changes were not told is not stored either. */
    GPtrArray *done = g_ptr_array_new_with_free_func(domain_free);
    GPtrArray *done_keys = g_ptr_array_new_with_free_func(g_free);
    GString *body = g_string_new(NULL);
    size_t n_listed = 0, n_more = 0, n_incomplete = 0;
    for (guint i = 0; rc == 0 && i < items->len; i++) {
        const struct domain_item *it = &g_array_index(items, struct domain_item, i);
        struct audit_domain *d = NULL;
        char *keys = NULL;
        struct prev p = { 0 };
        GPtrArray *changed = g_ptr_array_new_with_free_func(g_free);
        rc = audit_one(st, a, it->domain, now, false, &d, &keys, &p, changed, err);
        bool has_error = false;
        for (guint k = 0; k < d->findings->len; k++)
            if (!strcmp(((struct audit_finding *)d->findings->pdata[k])->severity, "error"))
                has_error = true;
        if (rc == 0 && d->incomplete) {
            n_incomplete++;     /* DNS trouble: neither told nor stored */
            audit_domain_free(d);
            g_free(keys);
        } else {
            if (rc == 0 && (changed->len || (!p.have && has_error))) {
                if (n_listed < DOMAINS_MAIL_MAX) {
                    mail_section(cfg, st, files, it, d, changed, body);
                    n_listed++;
                } else {
                    n_more++;
                }
            }
            g_ptr_array_add(done, d);
            g_ptr_array_add(done_keys, keys);
        }
        prev_clear(&p);
        g_ptr_array_free(changed, TRUE);
    }
    if (n_more)
        g_string_append_printf(body, "\n... and %zu more domains (abusedesk domains audit "
                               "--changes shows them).\n", n_more);
    if (rc == 0 && done->len)
        rc = store_begin(st, err);
    if (rc == 0 && done->len) {
        /* Another monitor may have run the audit meanwhile: then it told. */
        int64_t again = 0;
        rc = store_audit_run_latest(st, &again, err);
        bool raced = rc == 0 && again != last;
        for (guint i = 0; rc == 0 && !raced && i < done->len; i++) {
            const struct audit_domain *d = done->pdata[i];
            struct store_audit_run run = { 0, now, d->domain, d->spf, d->dmarc, d->mx,
                                           done_keys->pdata[i] };
            rc = store_audit_run_add(st, &run, err);
        }
        if (rc == 0 && !raced && n_listed && cfg->abuse_team && *cfg->abuse_team) {
            GHashTable *v = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
            put(v, "ticket", g_strdup_printf("[%s]", cfg->ticket_prefix));
            put(v, "n_changed", g_strdup_printf("%zu", n_listed + n_more));
            put(v, "n_domains", g_strdup_printf("%u", done->len));
            put(v, "changes", g_strdup(body->str));
            put(v, "desk_name", g_strdup(cfg->desk_name));
            rc = outbox_mail(cfg, st, 0, "team", "team_audit", cfg->team_language, v,
                             cfg->abuse_team, cfg->desk_name, now, NULL, err);
            g_hash_table_destroy(v);
            if (rc == 0 && mailed)
                *mailed = true;
        }
        if (rc == 0 && !raced)
            rc = store_commit(st, err);
        else
            store_rollback(st);
        if (rc == 0)
            log_msg(&cli->log, LOG_LEVEL_INFO, "domain audit: %u domains, %zu changed%s, "
                    "%zu incomplete (not stored)", done->len, n_listed + n_more,
                    raced ? " (another monitor ran it)" : "", n_incomplete);
    }
    if (rc == 0 && n_incomplete)
        log_msg(&cli->log, LOG_LEVEL_WARNING, "domain audit: %zu of %u domains incomplete "
                "(lookups failed): neither stored nor told", n_incomplete, items->len);
    g_string_free(body, TRUE);
    g_ptr_array_free(done_keys, TRUE);
    g_ptr_array_free(done, TRUE);
    g_hash_table_destroy(files);
    for (guint i = 0; i < items->len; i++) {
        g_free(g_array_index(items, struct domain_item, i).domain);
        g_free(g_array_index(items, struct domain_item, i).customer_id);
    }
    g_array_free(items, TRUE);
    audit_free(a);
    g_free(ours);
    return rc;
}

int cmd_domains(struct cli *cli, int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "audit")) {
        usage(stderr);
        return EXIT_USAGE;
    }
    return audit_cmd(cli, argc, argv);
}

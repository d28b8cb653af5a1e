/*
 * config_check.c: the checks of `abusedesk config check` that need more than
 * one key or the system (see config_check.h). Called by the CLI after
 * config_load() succeeded, and by config.c for line numbers and suggestions
 * in its errors. Nothing here changes the configuration; findings are
 * reported through the caller's callback.
 */
#include "config_check.h"

#include <glib.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

static bool line_is_group(const char *l, size_t n, const char *group)
{
    while (n && (*l == ' ' || *l == '\t'))
        l++, n--;
    if (n < 2 || l[0] != '[')
        return false;
    const char *e = memchr(l, ']', n);
    if (!e)
        return false;
    size_t gl = (size_t)(e - l - 1);
    return group && strlen(group) == gl && !strncmp(l + 1, group, gl);
}

static bool line_is_key(const char *l, size_t n, const char *key)
{
    while (n && (*l == ' ' || *l == '\t'))
        l++, n--;
    size_t kl = strlen(key);
    if (n < kl || strncmp(l, key, kl))
        return false;
    l += kl;
    n -= kl;
    while (n && (*l == ' ' || *l == '\t'))
        l++, n--;
    return n && *l == '=';
}

size_t config_line_of(const char *text, size_t len, const char *group, const char *key)
{
    if (!text)
        return 0;
    size_t line = 0, i = 0;
    bool in_group = false;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        const char *l = text + i;
        line++;
        if (n && l[0] == '[') {
            in_group = line_is_group(l, n, group);
            if (in_group && !key)
                return line;
        } else if (in_group && key && line_is_key(l, n, key)) {
            return line;
        }
        i += n + 1;
    }
    return 0;
}

void config_err_add_line(char *msg, size_t size, const char *file, const char *text, size_t len)
{
    size_t fl = strlen(file);
    if (!text || strncmp(msg, file, fl) || strncmp(msg + fl, ": [", 3))
        return;
    const char *g = msg + fl + 3;
    const char *ge = strchr(g, ']');
    if (!ge)
        return;
    char *group = g_strndup(g, (gsize)(ge - g));
    const char *k = ge + 1;
    char *key = NULL;
    if (*k == ' ') {
        k++;
        const char *ke = strchr(k, ':');
        if (ke)
            key = g_strndup(k, (gsize)(ke - k));
    }
    size_t line = config_line_of(text, len, group, key);
    if (!line)
        line = config_line_of(text, len, group, NULL);
    if (line) {
        char *rest = g_strdup(msg + fl);
        g_snprintf(msg, size, "%s:%zu%s", file, line, rest);
        g_free(rest);
    }
    g_free(group);
    g_free(key);
}

/* Edit distance, bounded by 3 (more is "far"). */
static int distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 3;
    int d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int x = d[i - 1][j] + 1, y = d[i][j - 1] + 1;
            d[i][j] = c < x ? (c < y ? c : y) : (x < y ? x : y);
        }
    return d[la][lb] > 3 ? 3 : d[la][lb];
}

const char *config_nearest(const char *word, const char *const *names)
{
    const char *best = NULL;
    int bd = 3;
    for (const char *const *n = names; n && *n; n++) {
        int dd = distance(word, *n);
        if (dd < bd || (dd == bd && !best && dd <= 2)) {
            bd = dd;
            best = *n;
        }
    }
    return bd <= 2 ? best : NULL;
}

struct ctx {
    const char *name, *text;
    size_t len, n;
    void (*problem)(const char *msg, void *ctx);
    void *pctx;
};

static void report(struct ctx *c, const char *group, const char *key, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static void report(struct ctx *c, const char *group, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    size_t line = config_line_of(c->text, c->len, group, key);
    if (!line)
        line = config_line_of(c->text, c->len, group, NULL);
    char *msg = line ? g_strdup_printf("%s:%zu: [%s] %s: %s", c->name, line, group, key, what)
                     : g_strdup_printf("%s: [%s] %s: %s", c->name, group, key, what);
    c->problem(msg, c->pctx);
    c->n++;
    g_free(msg);
    g_free(what);
}

/* local@domain.tld, no display name, nothing a mail header would mangle. */
static bool is_address(const char *s)
{
    if (!s || strlen(s) > 254)
        return false;
    const char *at = strrchr(s, '@');
    if (!at || at == s || !at[1] || !strchr(at + 1, '.'))
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || strchr("<>(),;:\"[]\\", *p))
            return false;
    return true;
}

static const char *const notices[] = { "compromised", "compromised_volume", "script", "joejob",
                                       "unlocked", "dismissed", NULL };
static const char *const team_notices[] = { "team_alert", "team_reply",
                                             /* listing: the reputation monitor's */
                                             "team_listing", "team_early_warning", "team_feed",
                                             /* audit: the scheduled domain audit's */
                                             "team_audit", NULL };

static void check_templates(struct ctx *c, const struct config *cfg)
{
    const char *dir = cfg->templates_dir;
    if (!dir || !g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        report(c, "notify", "templates_dir",
               "folder %s does not exist: no notice or alert could be sent", dir ? dir : "");
        return;
    }
    /* Customers get their language (de or en; default_language when the
     * directory names none), the team team_language; English is the fallback. */
    const char *langs[] = { "de", "en" };
    for (size_t l = 0; l < G_N_ELEMENTS(langs); l++)
        for (const char *const *t = notices; *t; t++) {
            char *p = g_strdup_printf("%s/%s/%s.txt", dir, langs[l], *t);
            char *fb = g_strdup_printf("%s/en/%s.txt", dir, *t);
            if (!g_file_test(p, G_FILE_TEST_IS_REGULAR) && !g_file_test(fb, G_FILE_TEST_IS_REGULAR))
                report(c, "notify", "templates_dir", "missing template %s (nor %s)", p, fb);
            g_free(p);
            g_free(fb);
        }
    for (const char *const *t = team_notices; *t; t++) {
        char *p = g_strdup_printf("%s/%s/%s.txt", dir, cfg->team_language, *t);
        char *fb = g_strdup_printf("%s/en/%s.txt", dir, *t);
        if (!g_file_test(p, G_FILE_TEST_IS_REGULAR) && !g_file_test(fb, G_FILE_TEST_IS_REGULAR))
            report(c, "notify", "templates_dir", "missing team template %s", p);
        g_free(p);
        g_free(fb);
    }
}

static bool listen_ok(const char *v, char *why, size_t n)
{
    if (g_str_has_prefix(v, "unix:")) {
        if (v[5] != '/') {
            g_snprintf(why, n, "unix: needs an absolute path");
            return false;
        }
        return true;
    }
    if (!g_str_has_prefix(v, "inet:")) {
        g_snprintf(why, n, "expected inet:HOST:PORT or unix:PATH");
        return false;
    }
    const char *colon = strrchr(v + 5, ':');
    if (!colon || colon == v + 5) {
        g_snprintf(why, n, "inet: needs HOST:PORT");
        return false;
    }
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (!*(colon + 1) || *end || port < 1 || port > 65535) {
        g_snprintf(why, n, "port must be 1..65535");
        return false;
    }
    return true;
}

size_t config_check(const struct config *cfg, const char *name, const char *text, size_t len,
                    void (*problem)(const char *msg, void *ctx), void *pctx)
{
    struct ctx c = { name ? name : "built-in defaults", text, len, 0, problem, pctx };
    /* Attribution needs our hosts. */
    if ((!cfg->our_hosts || !cfg->our_hosts[0]) && cfg->n_our_ips == 0)
        report(&c, "network", "our_hosts",
               "our_hosts and our_ips are both empty: no complaint can ever be attributed");
    /* Thresholds in order, per window. */
    for (size_t w = 0; w < cfg->n_windows; w++) {
        if (cfg->alert_score[w] > 0 && cfg->lock_score[w] > 0
            && cfg->alert_score[w] >= cfg->lock_score[w])
            report(&c, "incidents", "alert_score",
                   "%g is not below lock_score %g (window %zu): the alert would never come first",
                   cfg->alert_score[w], cfg->lock_score[w], w + 1);
        if (cfg->observe_score[w] > 0 && cfg->alert_score[w] > 0
            && cfg->observe_score[w] > cfg->alert_score[w])
            report(&c, "incidents", "observe_score", "%g is above alert_score %g (window %zu)",
                   cfg->observe_score[w], cfg->alert_score[w], w + 1);
        if (cfg->alert_complaints[w] > 0 && cfg->lock_complaints[w] > 0
            && cfg->alert_complaints[w] >= cfg->lock_complaints[w])
            report(&c, "incidents", "alert_complaints", "%g is not below lock_complaints %g",
                   cfg->alert_complaints[w], cfg->lock_complaints[w]);
    }
    /* Factors multiply scores: a negative one turns complaints into credit. */
    struct {
        const char *key;
        double v;
    } factors[] = {
        { "manual_factor", cfg->manual_factor },
        { "automatic_factor", cfg->automatic_factor },
        { "undetermined_factor", cfg->undetermined_factor },
        { "default_provider_weight", cfg->default_provider_weight },
        { "base_abuse", cfg->base_abuse },
        { "base_fraud", cfg->base_fraud },
        { "base_virus", cfg->base_virus },
        { "base_other", cfg->base_other },
        { "base_auth_failure", cfg->base_auth_failure },
        { "base_dsn", cfg->base_dsn },
        { "base_abuse_text", cfg->base_abuse_text },
    };
    for (size_t k = 0; k < G_N_ELEMENTS(factors); k++)
        if (factors[k].v < 0)
            report(&c, "scoring", factors[k].key, "%g is negative: complaints would count "
                   "against each other", factors[k].v);
    /* Mail. */
    if (!is_address(cfg->notify_from))
        report(&c, "notify", "from", "'%s' is not a mail address (local@domain, no name)",
               cfg->notify_from ? cfg->notify_from : "");
    if (!cfg->abuse_team || !*cfg->abuse_team)
        report(&c, "notify", "abuse_team",
               "empty: nobody would be told of alerts, locks or replies");
    else if (!is_address(cfg->abuse_team))
        report(&c, "notify", "abuse_team", "'%s' is not a mail address", cfg->abuse_team);
    if (cfg->reply_to && *cfg->reply_to && !is_address(cfg->reply_to))
        report(&c, "notify", "reply_to", "'%s' is not a mail address", cfg->reply_to);
    check_templates(&c, cfg);
    /* The domain audit: [reputation] dmarc_rua and dkim_selectors. */
    if (cfg->audit_dmarc_rua && *cfg->audit_dmarc_rua) {
        const char *rua = cfg->audit_dmarc_rua;
        if (!g_ascii_strncasecmp(rua, "mailto:", 7))
            rua += 7;
        if (!is_address(rua))
            report(&c, "reputation", "dmarc_rua", "'%s' is not a mail address", rua);
    }
    for (char **sel = cfg->audit_dkim_selectors; sel && *sel; sel++) {
        bool ok = **sel && strlen(*sel) <= 63;
        for (const char *x = *sel; ok && *x; x++)
            ok = g_ascii_isalnum(*x) || *x == '-' || *x == '_' || *x == '.';
        if (!ok)
            report(&c, "reputation", "dkim_selectors", "'%s' is not a DKIM selector (letters, "
                   "digits, '-', '_', '.')", *sel);
    }
    if (cfg->timezone && *cfg->timezone) {
        GTimeZone *tz = g_time_zone_new_identifier(cfg->timezone);
        if (!tz)
            report(&c, "notify", "timezone", "'%s' is not a known time zone", cfg->timezone);
        else
            g_time_zone_unref(tz);
    }
    /* The policy server. */
    if (cfg->policy_user && *cfg->policy_user && !getpwnam(cfg->policy_user))
        report(&c, "policy", "user", "no such user '%s' on this machine", cfg->policy_user);
    for (char **l = cfg->policy_listen; l && *l; l++) {
        char why[80];
        if (!listen_ok(*l, why, sizeof why))
            report(&c, "policy", "listen", "'%s': %s", *l, why);
    }
    /* web: the dashboard. */
    {
        char *l = g_strconcat("inet:", cfg->web_listen ? cfg->web_listen : "", NULL);
        char why[80];
        if (!listen_ok(l, why, sizeof why))
            report(&c, "web", "listen", "'%s': %s", cfg->web_listen ? cfg->web_listen : "", why);
        g_free(l);
    }
    for (char **m = cfg->web_metrics_allow; m && *m; m++) {
        struct config_net n;
        if (!config_parse_net(*m, &n))
            report(&c, "web", "metrics_allow", "'%s' is not an address or CIDR range", *m);
    }
    bool cert = cfg->web_tls_cert && *cfg->web_tls_cert, key = cfg->web_tls_key && *cfg->web_tls_key;
    if (cert != key)
        report(&c, "web", cert ? "tls_key" : "tls_cert",
               "tls_cert and tls_key go together: set both or neither");
    if (cert && !g_file_test(cfg->web_tls_cert, G_FILE_TEST_IS_REGULAR))
        report(&c, "web", "tls_cert", "no such file '%s'", cfg->web_tls_cert);
    if (key && !g_file_test(cfg->web_tls_key, G_FILE_TEST_IS_REGULAR))
        report(&c, "web", "tls_key", "no such file '%s'", cfg->web_tls_key);
    if (cfg->web_user && *cfg->web_user && !getpwnam(cfg->web_user))
        report(&c, "web", "user", "no such user '%s' on this machine", cfg->web_user);
    /* Retention: a purge within the day would take the evidence of incidents
     * the team is still looking at; 0 keeps everything. */
    if (cfg->store_retention > 0 && cfg->store_retention < 86400)
        report(&c, "store", "retention",
               "%llds is shorter than a day: reports would lose their evidence while the team "
               "still reads them (0 keeps them for ever)", cfg->store_retention);
    /* Held mail: the programs must be there when the desk is to use them. */
    if (cfg->held_enabled) {
        if (!cfg->held_postqueue || !g_file_test(cfg->held_postqueue, G_FILE_TEST_IS_EXECUTABLE))
            report(&c, "held", "postqueue", "'%s' is not an executable program",
                   cfg->held_postqueue ? cfg->held_postqueue : "");
        if (!cfg->held_postsuper || !g_file_test(cfg->held_postsuper, G_FILE_TEST_IS_EXECUTABLE))
            report(&c, "held", "postsuper", "'%s' is not an executable program",
                   cfg->held_postsuper ? cfg->held_postsuper : "");
    }
    if (cfg->held_config_directory && *cfg->held_config_directory
        && !g_file_test(cfg->held_config_directory, G_FILE_TEST_IS_DIR))
        report(&c, "held", "config_directory", "'%s' is not a directory",
               cfg->held_config_directory);
    /* BATV: domains that are domains, and keys to sign and check with. */
    for (char **d = cfg->batv_domains; d && *d; d++)
        if (strchr(*d, '@') || !strchr(*d, '.') || strpbrk(*d, " \t<>"))
            report(&c, "batv", "domains", "'%s' is not a domain name", *d);
    if (cfg->batv_domains && cfg->batv_domains[0]
        && (!cfg->batv_keys_file || !g_file_test(cfg->batv_keys_file, G_FILE_TEST_EXISTS)))
        report(&c, "batv", "keys_file", "'%s' does not exist: BATV needs a key (abusedesk batv "
               "keygen); without one the milter does not sign and the policy server lets every "
               "bounce pass", cfg->batv_keys_file ? cfg->batv_keys_file : "");
    if (cfg->milter_listen && !g_str_has_prefix(cfg->milter_listen, "inet:")
        && !g_str_has_prefix(cfg->milter_listen, "inet6:")
        && !g_str_has_prefix(cfg->milter_listen, "unix:")
        && !g_str_has_prefix(cfg->milter_listen, "local:"))
        report(&c, "milter", "listen", "'%s': want inet:PORT@HOST or unix:PATH",
               cfg->milter_listen);
    /* abusedesk run starts the milter: it would drop to a user that is not. */
    if (cfg->milter_enabled && cfg->milter_user && *cfg->milter_user
        && !getpwnam(cfg->milter_user))
        report(&c, "milter", "user", "no such user '%s' on this machine ([milter] enabled: "
               "abusedesk run starts the milter)", cfg->milter_user);
    return c.n;
}

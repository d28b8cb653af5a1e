/*
 * attribute.c: attribution of one parsed report (see attribute.h). Called by the
 * incident module for every stored report and by `abusedesk explain`.
 *
 * The Received chain is walked from the recipient side (the newest header, on
 * top) down to the first hop that is ours: a hop whose "by" host is one of
 * [network] our_hosts, or whose "from" clause names one of our hosts or
 * addresses (our outbound server handing the mail to the recipient's MX). Below
 * it, the hops received by our hosts are our own relay chain; the lowest of them
 * is where the mail entered: the submission (authenticated user) or the local
 * pickup of a web script ("from userid N"). Headers further down are written by
 * the sender and can be forged, so the authenticated user is taken from our hops
 * first. A report without any hop of ours, and whose ARF Source-IP is not ours,
 * never went through us: a forged sender, left unattributed.
 *
 * A web script is named "uid:path". The uid must be a plain number; the path
 * is the script's own word (X-PHP-Originating-Script), so it is kept only when
 * it cannot point into another customer's web space: a relative path without
 * '.', '..' or empty segments, or an absolute path inside the web space root
 * the directory gives for that uid, compared segment by segment. Otherwise only
 * the uid is used, and the evidence says why. in_directory tells whether the
 * subject itself is listed in the directory.
 *
 * Nothing here fails on bad input; only a store error is returned. Strings in
 * struct attribution are g_malloc'd and freed by attribution_clear().
 */
#include "attribute.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "directory/directory.h"

static void evidence(struct attribution *a, const char *source, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static void evidence(struct attribution *a, const char *source, const char *fmt, ...)
{
    struct attribute_evidence *e = g_new0(struct attribute_evidence, 1);
    va_list ap;
    va_start(ap, fmt);
    e->source = g_strdup(source);
    e->said = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_ptr_array_add(a->evidence, e);
}

static void evidence_free(gpointer p)
{
    struct attribute_evidence *e = p;
    g_free(e->source);
    g_free(e->said);
    g_free(e);
}

void attribution_clear(struct attribution *a)
{
    g_free(a->subject);
    g_free(a->account);
    g_free(a->script);
    g_free(a->customer_id);
    g_free(a->source_ip);
    g_free(a->client_ip);
    g_free(a->reason);
    if (a->evidence)
        g_ptr_array_free(a->evidence, TRUE);
    memset(a, 0, sizeof *a);
    a->our_hop = -1;
}

/* The first word of a clause ("mx.example.net" of "mx.example.net (helo [192.0.2.1])"),
 * lower-cased, g_malloc'd; NULL when empty. */
static char *first_word(const char *clause)
{
    if (!clause)
        return NULL;
    while (*clause == ' ' || *clause == '\t')
        clause++;
    size_t n = strcspn(clause, " \t(;[");
    return n ? g_ascii_strdown(clause, (gssize)n) : NULL;
}

/* True when a host name or address literal inside clause text is ours: every
 * word (split at blanks, parentheses, brackets, '=' and ',') is checked. */
static bool clause_is_ours(const struct config *cfg, const char *clause, char **which)
{
    if (!clause)
        return false;
    char **w = g_strsplit_set(clause, " \t()[]=,;", -1);
    bool ours = false;
    for (char **p = w; *p && !ours; p++) {
        const char *word = *p;
        if (g_ascii_strncasecmp(word, "IPv6:", 5) == 0)
            word += 5;
        if (!*word)
            continue;
        if (config_host_is_ours(cfg, word) || config_ip_is_ours(cfg, word)) {
            ours = true;
            if (which)
                *which = g_strdup(word);
        }
    }
    g_strfreev(w);
    return ours;
}

/* An address literal of a clause, g_malloc'd, or NULL: the first one (of
 * ours only, with only_ours), or with last the last one, which is what the
 * receiving MTA wrote in its parenthesis ("helo (rdns [192.0.2.1])"); the
 * first may be the client's HELO, which it chooses. */
static char *clause_ip_pick(const struct config *cfg, const char *clause, bool only_ours,
                            bool last)
{
    if (!clause)
        return NULL;
    char **w = g_strsplit_set(clause, " \t()[]=,;", -1);
    char *ip = NULL;
    for (char **p = w; *p && (last || !ip); p++) {
        const char *word = *p;
        if (g_ascii_strncasecmp(word, "IPv6:", 5) == 0)
            word += 5;
        struct config_net n;
        if (*word && !strchr(word, '/') && config_parse_net(word, &n)
            && (!only_ours || config_ip_is_ours(cfg, word))) {
            g_free(ip);
            ip = g_strdup(word);
        }
    }
    g_strfreev(w);
    return ip;
}

static char *clause_ip(const struct config *cfg, const char *clause, bool only_ours)
{
    return clause_ip_pick(cfg, clause, only_ours, false);
}

/* True when the "from" clause of a hop names one of our servers. The address
 * literal the receiving MTA wrote there is what counts when we know our
 * addresses: the HELO name and the host name are the client's word and a
 * spammer can claim ours. */
static bool from_is_ours(const struct config *cfg, const char *from, char **which)
{
    if (!from)
        return false;
    if (cfg->n_our_ips) {
        char *ip = clause_ip(cfg, from, false);
        if (ip) {
            bool ours = config_ip_is_ours(cfg, ip);
            if (ours && which)
                *which = g_strdup(ip);
            g_free(ip);
            return ours;
        }
    }
    return clause_is_ours(cfg, from, which);
}

static bool hop_by_ours(const struct config *cfg, const struct received_hop *h)
{
    char *by = first_word(h->by);
    bool ours = by && (config_host_is_ours(cfg, by) || config_ip_is_ours(cfg, by));
    g_free(by);
    return ours;
}

/* "(Authenticated sender: x)" / "authenticated as x" in one Received value. */
static char *hop_auth_sender(const char *raw)
{
    static const char *const marks[] = { "authenticated sender:", "authenticated as " };
    if (!raw)
        return NULL;
    char *low = g_ascii_strdown(raw, -1);
    char *out = NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(marks) && !out; i++) {
        const char *q = strstr(low, marks[i]);
        if (!q)
            continue;
        const char *p = raw + (q - low) + strlen(marks[i]);
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(p, ") \t\r\n;");
        if (n > 0)
            out = g_ascii_strdown(p, (gssize)n);
    }
    g_free(low);
    return out;
}

/* A Unix uid: 1 to 10 digits, at most 4294967295 (as the directory takes them). */
static bool uid_plain(const char *u)
{
    size_t n = u ? strlen(u) : 0;
    if (n == 0 || n > 10 || strspn(u, "0123456789") != n)
        return false;
    return g_ascii_strtoull(u, NULL, 10) <= UINT32_MAX;
}

/* "(Postfix, from userid 1001)" / "from uid 1001": the local user that injected,
 * when it is a plain number. */
static char *hop_userid(const char *raw)
{
    if (!raw)
        return NULL;
    static const char *const marks[] = { "from userid ", "from uid " };
    for (size_t i = 0; i < G_N_ELEMENTS(marks); i++) {
        const char *q = strstr(raw, marks[i]);
        if (!q)
            continue;
        q += strlen(marks[i]);
        char *u = g_strndup(q, strspn(q, "0123456789"));
        if (uid_plain(u))
            return u;
        g_free(u);
    }
    return NULL;
}

/* True for "with ESMTPSA", "ESMTPA", "ESMTPSA", "LMTPSA", "UTF8SMTPSA": RFC 3848's
 * marks of an authenticated submission. */
static bool with_authenticated(const char *with)
{
    if (!with)
        return false;
    char *w = first_word(with);
    bool a = w && strlen(w) >= 2 && g_str_has_suffix(w, "a") && strstr(w, "smtp") != NULL;
    g_free(w);
    return a;
}

/* A copy of header text that is safe in evidence and JSON: valid UTF-8, control
 * characters as '?', at most about 200 bytes. g_malloc'd. */
static char *printable(const char *s)
{
    char *v = g_utf8_make_valid(s ? s : "", -1);
    for (char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    if (strlen(v) > 200) {
        const char *end = g_utf8_find_prev_char(v, v + 197);
        char *cut = g_strdup_printf("%.*s...", (int)(end - v), v);
        g_free(v);
        v = cut;
    }
    return v;
}

/* "1001:contact.php", "1001:/home/u/www/x.php for 1.2.3.4", "contact.php": the
 * parts of an X-PHP-Originating-Script value, each g_malloc'd or NULL. A ':'
 * before any '/' or blank ends the uid; the uid counts only as a plain number,
 * anything else there goes to *bad_uid. The path runs to the first blank. */
static void php_script_split(const char *v, char **uid, char **bad_uid, char **path)
{
    *uid = *bad_uid = *path = NULL;
    if (!v)
        return;
    const char *rest = v;
    size_t n = strcspn(v, ":/ \t");
    if (v[n] == ':') {
        if (n > 0) {
            char *u = g_strndup(v, n);
            if (uid_plain(u))
                *uid = u;
            else
                *bad_uid = u;
        }
        rest = v + n + 1;
    }
    size_t pl = strcspn(rest, " \t");
    if (pl > 0)
        *path = g_strndup(rest, pl);
}

/* Why the path of a script of web space uid (NULL when unknown), whose root is
 * webroot (NULL when the directory gives none), cannot be trusted; NULL when it
 * can. Trusted: a clean relative path (a bare name, or one without '.', '..'
 * or empty segments: it stays inside whatever web space it runs in), or a clean
 * absolute path inside webroot. The reason is a g_malloc'd sentence for the
 * evidence. */
static char *script_path_distrust(const char *uid, const char *path, const char *webroot)
{
    const char *problem = directory_path_problem(path);
    const char *then = uid ? "only the uid is used" : "not used";
    char *p = printable(path), *why = NULL;
    if (problem)
        why = g_strdup_printf("script path %s %s: %s", p, problem, then);
    else if (path[0] != '/')
        why = NULL;
    else if (!uid)
        why = g_strdup_printf("script path %s is absolute, but no uid names its web space: %s",
                              p, then);
    else if (!webroot)
        why = g_strdup_printf("script path %s cannot be checked: the directory gives no web "
                              "space root for uid %s: %s", p, uid, then);
    else if (!directory_path_under(path, webroot))
        why = g_strdup_printf("script path %s is outside web space %s of uid %s: %s", p,
                              webroot, uid, then);
    g_free(p);
    return why;
}

/* The web script, after the Received walk. *uid is the uid our host took the
 * mail from ("from userid N", or NULL); it is replaced by the uid used
 * (g_malloc'd, or NULL). X-PHP-Originating-Script adds a uid when the hops named
 * none, and the path when it can be trusted. Sets out->script ("uid:path",
 * "uid:", or ":path" for a trusted relative path without a uid) and, with a
 * directory, *uid_customer (g_malloc'd; NULL when the uid is not listed).
 * Negative only for a store failure. */
static int attribute_script(struct store *st, const struct original *o, char **uid,
                            char **uid_customer, struct attribution *out, struct ad_err *err)
{
    *uid_customer = NULL;
    char *php_uid, *bad_uid, *path, *webroot = NULL, *why = NULL;
    php_script_split(o ? o->php_script : NULL, &php_uid, &bad_uid, &path);
    const char *src = "X-PHP-Originating-Script";
    int rc = 0;
    if (php_uid || bad_uid || path) {
        char *v = printable(o->php_script);
        evidence(out, src, "sent by the PHP script %s", v);
        g_free(v);
    }
    if (bad_uid) {
        char *b = printable(bad_uid);
        evidence(out, src, "'%s' is not a uid (not a plain number): not used", b);
        g_free(b);
    }
    if (*uid && php_uid && strcmp(*uid, php_uid) != 0) {
        /* The script's word against our host's: the host wins, and a path the
         * script gave for another uid says nothing about this one. */
        why = g_strdup_printf("the header names uid %s, but our host took the mail from "
                              "userid %s: only the uid is used", php_uid, *uid);
    } else if (!*uid && php_uid) {
        *uid = php_uid;
        php_uid = NULL;
    }
    if (st && *uid &&
        (rc = directory_uid_webroot(st, *uid, &webroot, uid_customer, err)) < 0)
        goto out;
    if (path && !why)
        why = script_path_distrust(*uid, path, webroot);
    if (why) {
        evidence(out, src, "%s", why);
    } else if (path && path[0] == '/') {
        char *p = printable(path);
        evidence(out, "directory", "script path %s lies in web space %s of uid %s", p, webroot,
                 *uid);
        g_free(p);
    }
    if (*uid || (path && !why))
        out->script = g_strdup_printf("%s:%s", *uid ? *uid : "", path && !why ? path : "");
out:
    g_free(php_uid);
    g_free(bad_uid);
    g_free(path);
    g_free(webroot);
    g_free(why);
    return rc;
}

static char *addr_domain(const char *addr)
{
    const char *at = addr ? strrchr(addr, '@') : NULL;
    return at && at[1] ? g_ascii_strdown(at + 1, -1) : NULL;
}

/* Sets out->in_directory for the subject chosen: an account listed itself (not
 * only through its domain), a script of a listed uid, or a customer id (found
 * in the directory). Says so in the evidence when the subject is not listed. */
static void attribute_in_directory(struct store *st, struct attribution *out,
                                   bool account_listed, bool uid_listed)
{
    const char *k = out->subject_kind;
    out->in_directory = out->attributed && k &&
                        ((!strcmp(k, "account") && account_listed) ||
                         (!strcmp(k, "script") && uid_listed) || !strcmp(k, "customer"));
    if (!st || !out->attributed || out->in_directory || !k || !strcmp(k, "ip"))
        return;
    char *v = printable(out->subject);
    evidence(out, "directory", "the %s %s is not itself listed in the customer directory", k, v);
    g_free(v);
}

int attribute_report(const struct config *cfg, struct store *st, const struct report *r,
                     struct attribution *out, struct ad_err *err)
{
    memset(out, 0, sizeof *out);
    out->our_hop = -1;
    out->evidence = g_ptr_array_new_with_free_func(evidence_free);
    const struct original *o = r->original;
    int rc = 0;

    /* 1. The Received chain, from the recipient side down to our first hop. */
    int first = -1, entry = -1;
    GPtrArray *hops = o ? o->received : NULL;
    guint n_hops = hops ? hops->len : 0;
    for (guint i = 0; i < n_hops && first < 0; i++) {
        const struct received_hop *h = g_ptr_array_index(hops, i);
        char *which = NULL;
        if (hop_by_ours(cfg, h)) {
            first = (int)i;
            char *by = first_word(h->by);
            char src[32];
            g_snprintf(src, sizeof src, "Received[%u]", i + 1);
            evidence(out, src, "received by our host %s", by);
            g_free(by);
        } else if (from_is_ours(cfg, h->from, &which)) {
            first = (int)i;
            char src[32];
            g_snprintf(src, sizeof src, "Received[%u]", i + 1);
            evidence(out, src, "handed over by our host %s", which);
        }
        g_free(which);
    }
    if (first == 0 && hop_by_ours(cfg, g_ptr_array_index(hops, 0))) {
        /* The topmost header claims our host but no hop shows a recipient's server
         * receiving the mail from us: nothing vouches for it (anyone can write a
         * Received header into a complaint). Only the ARF Source-IP may still. */
        evidence(out, "Received[1]", "claims our host, but no hop shows the mail leaving our "
                 "servers (no recipient's server received it from one of our addresses)");
        first = -1;
    }
    if (first > 0 && hop_by_ours(cfg, g_ptr_array_index(hops, (guint)first))) {
        /* The first hop naming us says it was received by our host, but the hop
         * above it received the mail from somebody else: our host never handed
         * it on. Received headers below the recipient's own are the sender's
         * word; these are forged. */
        const struct received_hop *above = g_ptr_array_index(hops, (guint)first - 1);
        if (!from_is_ours(cfg, above->from, NULL)) {
            char src[32];
            g_snprintf(src, sizeof src, "Received[%d]", first);
            evidence(out, src, "the mail came from %s, not from one of our hosts: the Received "
                     "headers naming our hosts below it are forged",
                     above->from ? above->from : "an unnamed host");
            first = -1;
        }
    }
    if (first >= 0) {
        out->our_hop = first;
        /* Our own relay chain below the first hop: the lowest one received by us. */
        entry = first;
        guint start = hop_by_ours(cfg, g_ptr_array_index(hops, (guint)first)) ? (guint)first
                                                                               : (guint)first + 1;
        for (guint i = start; i < n_hops; i++) {
            const struct received_hop *h = g_ptr_array_index(hops, i);
            if (!hop_by_ours(cfg, h))
                break;
            entry = (int)i;
        }
        if (!out->source_ip) {
            /* Our outbound address: the "from" of the hop where we handed it on. */
            const struct received_hop *h = g_ptr_array_index(hops, first);
            out->source_ip = clause_ip(cfg, h->from, true);
        }
    }

    /* 2. The ARF Source-IP. */
    bool ip_ours = r->source_ip && config_ip_is_ours(cfg, r->source_ip);
    if (r->source_ip) {
        if (ip_ours) {
            evidence(out, "Source-IP", "%s is one of our addresses", r->source_ip);
            g_free(out->source_ip);
            out->source_ip = g_strdup(r->source_ip);
        } else {
            evidence(out, "Source-IP", "%s is not one of our addresses", r->source_ip);
        }
    }

    if (first < 0 && !ip_ours) {
        /* Never went through us. The sender address may still be one of our
         * customers' (a joe job): say so, but do not blame the customer. */
        out->attributed = false;
        const char *from = r->original_mail_from ? r->original_mail_from
                           : o && o->return_path ? o->return_path
                           : o ? o->from : NULL;
        char *dom = addr_domain(from);
        char *cust = NULL;
        if (dom && st && (rc = directory_domain_customer(st, dom, &cust, err)) < 0) {
            g_free(dom);
            return rc;
        }
        if (!o)
            out->reason = g_strdup("the report carries no original message and no Source-IP "
                                   "of ours");
        else if (n_hops == 0)
            out->reason = g_strdup("the original message has no Received headers and no "
                                   "Source-IP of ours");
        else
            out->reason = g_strdup("no hop through our hosts: likely forged sender");
        if (cust) {
            evidence(out, "From", "sender domain %s belongs to our customer %s, but the mail did "
                     "not pass our servers: the address was probably forged (joe job)", dom, cust);
            out->customer_id = cust;
        }
        g_free(dom);
        return 0;
    }

    /* 3. Who sent it through us: authenticated user at our hops, then headers.
     * From the top of our chain down: our submission server wrote its hop
     * above anything the client put into the mail, and a Received header the
     * client wrote below it ("by smtp.<ours> ... Authenticated sender: bob")
     * names us as easily as ours does. The topmost one is ours. */
    for (int i = first; i >= 0 && i <= entry && !out->account; i++) {
        const struct received_hop *h = g_ptr_array_index(hops, (guint)i);
        char *who = hop_auth_sender(h->raw);
        if (who) {
            char src[32];
            g_snprintf(src, sizeof src, "Received[%d]", i + 1);
            evidence(out, src, "authenticated sender %s at our submission hop", who);
            out->account = who;
            /* Where the account's owner (or whoever has the password) sent
             * it from: the client of this hop, or when that is one of ours
             * (our webmail), the client of the hop our webmail wrote below
             * it (the browser's address); never one of our own addresses. */
            for (int k = i; k <= i + 1 && k <= entry; k++) {
                const struct received_hop *c = g_ptr_array_index(hops, (guint)k);
                char *ip = clause_ip_pick(cfg, c->from, false, true);
                if (!ip)
                    break;
                if (!config_ip_is_ours(cfg, ip)) {
                    out->client_ip = ip;
                    break;
                }
                g_free(ip); /* our webmail: its client is in the hop below */
            }
        }
    }
    if (!out->account && o && o->authenticated_user) {
        out->account = g_ascii_strdown(o->authenticated_user, -1);
        evidence(out, "original headers", "authenticated user %s (X-Authenticated-Sender, "
                 "X-Authenticated-User or X-Get-Message-Sender-Via)", out->account);
    }
    bool esmtpa = false;
    char *uid = NULL;
    /* Top down as well: pickup's own "from userid N" hop is above any the
     * script wrote into its headers. */
    for (int i = first; i >= 0 && i <= entry; i++) {
        const struct received_hop *h = g_ptr_array_index(hops, (guint)i);
        if (with_authenticated(h->with))
            esmtpa = true;
        if (!uid && (uid = hop_userid(h->raw)) != NULL) {
            char src[32];
            g_snprintf(src, sizeof src, "Received[%d]", i + 1);
            evidence(out, src, "injected locally by userid %s (a script on a web host)", uid);
        }
    }
    const char *env = r->original_mail_from ? r->original_mail_from
                      : o && o->return_path ? o->return_path
                      : o ? o->from : NULL;
    char *env_low = env && strchr(env, '@') ? g_ascii_strdown(env, -1) : NULL;

    /* The web script. */
    char *uid_customer = NULL;
    if ((rc = attribute_script(st, o, &uid, &uid_customer, out, err)) < 0)
        goto out;
    bool uid_listed = uid_customer != NULL, account_listed = false;

    /* The envelope sender: the account when the hop says authenticated but names
     * nobody, or when it is an account of our directory. */
    if (!out->account && !out->script && env_low) {
        char *cust = NULL;
        if (st && (rc = directory_account_customer(st, env_low, &cust, err)) < 0)
            goto out;
        if (esmtpa) {
            evidence(out, "envelope sender", "%s, submitted with SMTP authentication (ESMTPA)",
                     env_low);
            out->account = g_strdup(env_low);
        } else if (cust) {
            evidence(out, "envelope sender", "%s is one of our accounts", env_low);
            out->account = g_strdup(env_low);
        }
        g_free(cust);
    }

    /* 4. Map to the directory. */
    if (st && out->account) {
        if ((rc = directory_account_customer(st, out->account, &out->customer_id, err)) < 0)
            goto out;
        if (out->customer_id) {
            account_listed = true;
            evidence(out, "directory", "account %s belongs to customer %s", out->account,
                     out->customer_id);
        } else {
            char *dom = addr_domain(out->account);
            if (dom && (rc = directory_domain_customer(st, dom, &out->customer_id, err)) < 0) {
                g_free(dom);
                goto out;
            }
            if (out->customer_id)
                evidence(out, "directory", "account %s is not listed, its domain %s belongs to "
                         "customer %s", out->account, dom, out->customer_id);
            else
                out->reason = g_strdup_printf("account %s is not in the customer directory",
                                              out->account);
            g_free(dom);
        }
    }
    if (st && !out->customer_id && uid) {
        out->customer_id = uid_customer;
        uid_customer = NULL;
        if (out->customer_id)
            evidence(out, "directory", "web space uid %s belongs to customer %s", uid,
                     out->customer_id);
        else if (!out->reason)
            out->reason = g_strdup_printf("web space uid %s is not in the customer directory",
                                          uid);
    }
    if (st && !out->customer_id && env_low) {
        char *dom = addr_domain(env_low);
        if (dom && (rc = directory_domain_customer(st, dom, &out->customer_id, err)) < 0) {
            g_free(dom);
            goto out;
        }
        if (out->customer_id)
            evidence(out, "directory", "sender domain %s belongs to customer %s", dom,
                     out->customer_id);
        g_free(dom);
    }

    /* 5. The subject: the most specific sender found. */
    out->attributed = true;
    if (out->account) {
        out->subject_kind = "account";
        out->subject = g_strdup(out->account);
    } else if (out->script) {
        out->subject_kind = "script";
        out->subject = g_strdup(out->script);
    } else if (out->customer_id) {
        out->subject_kind = "customer";
        out->subject = g_strdup(out->customer_id);
    } else if (out->source_ip) {
        out->subject_kind = "ip";
        out->subject = g_strdup(out->source_ip);
    } else {
        /* Through our hosts, but nothing names a sender or an address of ours. */
        out->attributed = false;
        g_free(out->reason);
        out->reason = g_strdup("passed our hosts, but no authenticated user, script, known "
                               "sender or address of ours is named");
    }
    attribute_in_directory(st, out, account_listed, uid_listed);
out:
    g_free(uid_customer);
    g_free(uid);
    g_free(env_low);
    return rc;
}

char *attribution_evidence_json(const struct attribution *a)
{
    json_t *arr = json_array();
    for (guint i = 0; a->evidence && i < a->evidence->len; i++) {
        const struct attribute_evidence *e = g_ptr_array_index(a->evidence, i);
        json_array_append_new(arr, json_pack("{s:s, s:s}", "source", e->source, "said", e->said));
    }
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return s;
}

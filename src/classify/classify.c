/*
 * classify.c: the verdict on a bounce or complaint (see classify.h). Called by
 * `abusedesk classify`. The decisive signal is the original message's Received
 * chain read by the attribution (attribute.h): a submission hop of ours with an
 * authenticated user means the customer's password sent it; a local pickup by
 * a web space uid (or X-PHP-Originating-Script) means a script; no hop of ours
 * at all, with the customer's domain as sender, means the address was forged.
 * Further signals are reported beside it and can turn a verdict to unknown
 * when they contradict it: a BATV tag on the bounced-to address (only our
 * outbound mail carries one) and the SPF/DKIM results the remote server
 * quoted in the original's headers. Advice comes from DIR/LANG/advice.ini of
 * the templates. Nothing here fails on bad input.
 */
#include "classify.h"

#include <string.h>

#include "attribute/attribute.h"
#include "batv/batv.h"
#include "directory/directory.h"
#include "outbound/outbound.h"
#include "store/store_outbound.h"

const char *classify_verdict_name(enum classify_verdict v)
{
    switch (v) {
    case CLASSIFY_JOEJOB:
        return "joejob";
    case CLASSIFY_MAILBOX:
        return "compromised_mailbox";
    case CLASSIFY_SCRIPT:
        return "script";
    case CLASSIFY_UNKNOWN:
        break;
    }
    return "unknown";
}

void classify_result_clear(struct classify_result *res)
{
    g_free(res->customer_id);
    g_free(res->subject);
    g_free(res->language);
    g_free(res->advice);
    if (res->evidence)
        g_ptr_array_free(res->evidence, TRUE);
    memset(res, 0, sizeof *res);
}

static void said(struct classify_result *res, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void said(struct classify_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(res->evidence, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

/* The bounced-to address: the report's own recipient, or the original's
 * envelope sender (where a bounce goes). */
static const char *bounced_to(const struct report *r)
{
    const struct original *o = r->original;
    if (o && o->return_path)
        return o->return_path;
    if (r->original_mail_from)
        return r->original_mail_from;
    return o ? o->from : NULL;
}

/* BATV (draft-levine-smtp-batv-01): prvs=KDDDSSSSSS=local@domain, as far as
 * the syntax goes (used when no keys can be read). */
static bool batv_tagged(const char *addr)
{
    if (!addr)
        return false;
    const char *p = strstr(addr, "prvs=");
    if (!p)
        p = strstr(addr, "PRVS=");
    if (!p || (p != addr && p[-1] != '<'))
        return false;
    const char *t = p + 5;
    size_t n = strspn(t, "0123456789abcdefABCDEF");
    return n == 10 && t[n] == '=';
}

/* The SPF/DKIM/DMARC results the remote server quoted in the original's
 * headers, as far as the report carries them: a text and whether they say the
 * customer's domain was forged (fail) or really signed (pass). */
static void quoted_auth(const char *raw, size_t len, const char *domain, bool *fail, bool *pass,
                        struct classify_result *res)
{
    *fail = *pass = false;
    if (!raw || !domain)
        return;
    /* Only the part after the report's own header block: the original. */
    const char *body = NULL;
    for (size_t i = 0; i + 1 < len; i++)
        if (raw[i] == '\n' && (raw[i + 1] == '\n' || (raw[i + 1] == '\r' && i + 2 < len
                                                      && raw[i + 2] == '\n'))) {
            body = raw + i;
            break;
        }
    if (!body)
        return;
    size_t blen = (size_t)(raw + len - body);
    char *low = g_ascii_strdown(body, (gssize)MIN(blen, 262144));
    char *dom = g_ascii_strdown(domain, -1);
    static const char *const fails[] = { "spf=fail", "spf=softfail", "dmarc=fail", "dkim=fail" };
    for (size_t k = 0; k < G_N_ELEMENTS(fails); k++) {
        const char *p = strstr(low, fails[k]);
        while (p) {
            const char *eol = strchr(p, ';');
            const char *e2 = strchr(p, '\n');
            if (!eol || (e2 && e2 < eol))
                eol = e2;
            size_t span = eol ? (size_t)(eol - p) : strlen(p);
            char *seg = g_strndup(p, MIN(span, 300));
            if (strstr(seg, dom)) {
                *fail = true;
                said(res, "quoted Authentication-Results: %.*s for %s (the receiving server "
                     "found the sender forged)", (int)strcspn(fails[k], " "), fails[k], dom);
                g_free(seg);
                break;
            }
            g_free(seg);
            p = strstr(p + 1, fails[k]);
        }
        if (*fail)
            break;
    }
    char *dk = g_strdup_printf("dkim=pass");
    for (const char *p = strstr(low, dk); p && !*pass; p = strstr(p + 1, dk)) {
        const char *e = strpbrk(p, ";\n");
        char *seg = g_strndup(p, e ? (size_t)(e - p) : strlen(p));
        char *want = g_strdup_printf("d=%s", dom);
        char *want2 = g_strdup_printf("@%s", dom);
        if (strstr(seg, want) || strstr(seg, want2)) {
            *pass = true;
            said(res, "quoted Authentication-Results: dkim=pass for %s (a valid signature of "
                 "the customer's domain: the mail was really sent with its key)", dom);
        }
        g_free(want);
        g_free(want2);
        g_free(seg);
    }
    g_free(dk);
    g_free(dom);
    g_free(low);
}

static char *advice_text(const struct config *cfg, const char *lang, const char *verdict)
{
    char *text = NULL;
    for (int pass = 0; pass < 2 && !text; pass++) {
        char *path = g_build_filename(cfg->templates_dir, pass ? "en" : lang, "advice.ini", NULL);
        GKeyFile *kf = g_key_file_new();
        if (g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL))
            text = g_key_file_get_string(kf, "advice", verdict, NULL);
        g_key_file_free(kf);
        g_free(path);
    }
    return text ? text : g_strdup("-");
}

/* The outbound log: did the original leave through our hosts? 1 and *who
 * (g_malloc'd) when its Message-ID is there, 0 when not, -1 when the log
 * cannot be consulted (no key, no database, no Message-ID): said why. */
static int outbound_lookup(const struct config *cfg, struct store *st, const struct report *r,
                           char **who, struct classify_result *res)
{
    *who = NULL;
    const char *mid = r->original ? r->original->message_id : NULL;
    if (!mid || !st)
        return -1;
    unsigned char key[OUTBOUND_KEY_BYTES];
    struct ad_err err = { 0 };
    if (outbound_key_load(cfg->outbound_key_file, false, key, &err) != 0) {
        said(res, "outbound log: not consulted: %s", err.msg);
        return -1;
    }
    int64_t h = 0;
    bool ok = outbound_hash(key, mid, strlen(mid), &h);
    memset(key, 0, sizeof key);
    if (!ok)
        return -1;
    int64_t now = g_get_real_time() / G_USEC_PER_SEC, at = 0;
    int rc = store_outbound_find(st, h, now - cfg->outbound_log_days, &at, who, &err);
    if (rc < 0) {
        said(res, "outbound log: not consulted: %s", err.msg);
        return -1;
    }
    if (rc == 1) {
        GDateTime *t = g_date_time_new_from_unix_utc(at);
        char *when = t ? g_date_time_format(t, "%Y-%m-%d %H:%M UTC") : g_strdup("?");
        said(res, "outbound log: Message-ID %s%s%s left through our hosts on %s, sent by %s (we "
             "sent it)", *mid == '<' ? "" : "<", mid, *mid == '<' ? "" : ">", when, *who);
        g_free(when);
        if (t)
            g_date_time_unref(t);
        return 1;
    }
    said(res, "outbound log: Message-ID %s%s%s is not among the mails that left through our "
         "hosts in the last %lld days", *mid == '<' ? "" : "<", mid, *mid == '<' ? "" : ">",
         cfg->outbound_log_days / 86400);
    return 0;
}

/* The BATV tag of the bounced-to address, checked with our keys: 1 valid
 * (we sent the mail), 0 missing or invalid on a BATV domain (a forged
 * sender), -1 not telling (no keys, not a BATV domain). */
static int batv_signal(const struct config *cfg, const char *to, struct classify_result *res)
{
    if (!to || !cfg->batv_domains || !cfg->batv_domains[0])
        return -1;
    struct batv_tag t;
    int tagged = batv_parse(to, strlen(to), &t);
    char orig[BATV_MAX_ADDR + 1];
    if (tagged == 1)
        g_snprintf(orig, sizeof orig, "%.*s", (int)t.orig_len, t.orig);
    else
        g_strlcpy(orig, to, sizeof orig);
    if (!batv_address_listed(cfg->batv_domains, orig))
        return -1;
    struct batv_keys keys;
    struct ad_err err = { 0 };
    if (batv_keys_load(cfg->batv_keys_file, &keys, &err) != 0) {
        said(res, "BATV: tag not checked: %s", err.msg);
        return -1;
    }
    int64_t now = g_get_real_time() / G_USEC_PER_SEC;
    enum batv_status st = batv_check(&keys, to, strlen(to), now, cfg->batv_lifetime, NULL, 0);
    memset(&keys, 0, sizeof keys);
    if (st == BATV_VALID) {
        said(res, "BATV: the bounced-to address %s carries a valid tag of ours: the mail left "
             "through our hosts", to);
        return 1;
    }
    said(res, "BATV: the bounced-to address %s is of a BATV domain but its tag is %s: we never "
         "sent that mail (a forged sender)", to, batv_status_name(st));
    return 0;
}

/* Whether a subject of the outbound log is a script ("uid:path"). */
static bool subject_is_script(const char *who)
{
    return who && strchr(who, ':') && !strchr(who, '@');
}

int classify_report(const struct config *cfg, struct store *st, const struct report *r,
                    struct classify_result *res, struct ad_err *err)
{
    memset(res, 0, sizeof *res);
    res->evidence = g_ptr_array_new_with_free_func(g_free);
    struct attribution a;
    int rc = attribute_report(cfg, st, r, &a, err);
    if (rc)
        return rc;
    for (guint i = 0; i < a.evidence->len; i++) {
        const struct attribute_evidence *e = g_ptr_array_index(a.evidence, i);
        said(res, "%s: %s", e->source, e->said);
    }
    const char *to = bounced_to(r);
    const char *at = to ? strrchr(to, '@') : NULL;
    char *domain = at && at[1] ? g_ascii_strdown(at + 1, -1) : NULL;
    if (domain) {
        size_t n = strlen(domain);
        if (n && domain[n - 1] == '>')
            domain[n - 1] = '\0';
    }
    int batv = batv_signal(cfg, to, res);
    bool tagged = batv == 1 || (batv < 0 && batv_tagged(to));
    if (tagged && batv < 0)
        said(res, "bounced-to address %s carries a BATV tag: only mail that left through our "
             "hosts is tagged", to);
    char *sent_by = NULL;
    int logged = outbound_lookup(cfg, st, r, &sent_by, res);

    if (!r->original) {
        res->verdict = CLASSIFY_UNKNOWN;
        said(res, "report: it carries no copy of the original message, so there is no Received "
             "chain to read");
    } else if (a.attributed && a.script) {
        res->verdict = CLASSIFY_SCRIPT;
        res->subject = g_strdup(a.script);
    } else if (a.attributed && a.account) {
        res->verdict = CLASSIFY_MAILBOX;
        res->subject = g_strdup(a.account);
    } else if (a.attributed) {
        res->verdict = CLASSIFY_UNKNOWN;
        res->subject = g_strdup(a.subject);
        said(res, "verdict: the mail passed our hosts, but no account or script is named");
    } else if (logged == 1) {
        /* No hop of ours in the copy, but our outbound log has its Message-ID. */
        res->verdict = subject_is_script(sent_by) ? CLASSIFY_SCRIPT : CLASSIFY_MAILBOX;
        res->subject = g_strdup(sent_by);
    } else if (a.customer_id) {
        res->verdict = tagged ? CLASSIFY_UNKNOWN : CLASSIFY_JOEJOB;
        res->subject = domain ? g_strdup(domain) : NULL;
        if (tagged)
            said(res, "verdict: no hop of ours in the copy, but a BATV tag: unclear");
    } else {
        res->verdict = CLASSIFY_UNKNOWN;
        said(res, "verdict: %s", a.reason ? a.reason : "nothing ties it to one of our customers");
    }
    if (logged == 1 && res->verdict == CLASSIFY_UNKNOWN && a.attributed && sent_by) {
        res->verdict = subject_is_script(sent_by) ? CLASSIFY_SCRIPT : CLASSIFY_MAILBOX;
        g_free(res->subject);
        res->subject = g_strdup(sent_by);
    }
    if (batv == 0 && logged != 1 && res->verdict == CLASSIFY_JOEJOB)
        said(res, "verdict: joe job: no hop of ours and no valid BATV tag");
    g_free(sent_by);
    res->customer_id = g_strdup(a.customer_id);
    attribution_clear(&a);
    if (!res->customer_id && domain && st) {
        if ((rc = directory_domain_customer(st, domain, &res->customer_id, err)) < 0) {
            g_free(domain);
            return rc;
        }
        rc = 0;
    }
    g_free(domain);

    /* The customer's language for the advice. */
    const char *lang = cfg->default_language && *cfg->default_language ? cfg->default_language
                                                                        : "de";
    if (res->customer_id && st) {
        struct directory_customer c = { 0 };
        if (directory_customer_get(st, res->customer_id, &c, NULL) == 0 && c.language
            && (!strcmp(c.language, "de") || !strcmp(c.language, "en")))
            lang = c.language;
        res->language = g_strdup(lang);
        directory_customer_clear(&c);
    } else {
        res->language = g_strdup(lang);
    }
    res->advice = advice_text(cfg, res->language, classify_verdict_name(res->verdict));
    return 0;
}

void classify_quoted(const char *raw, size_t len, struct classify_result *res)
{
    bool fail = false, pass = false;
    const char *dom = NULL;
    char *own = NULL;
    if (res->verdict == CLASSIFY_JOEJOB && res->subject)
        dom = res->subject;
    else if (res->subject && strchr(res->subject, '@'))
        dom = own = g_strdup(strrchr(res->subject, '@') + 1);
    if (dom)
        quoted_auth(raw, len, dom, &fail, &pass, res);
    if (res->verdict == CLASSIFY_JOEJOB && pass) {
        res->verdict = CLASSIFY_UNKNOWN;
        g_ptr_array_add(res->evidence,
                        g_strdup("verdict: no hop of ours, but a valid signature of the "
                                 "customer's domain: unclear (a leaked key, or another sender "
                                 "the customer uses)"));
    }
    g_free(own);
}

json_t *classify_result_json(const char *file, const struct classify_result *res)
{
    json_t *ev = json_array();
    for (guint i = 0; res->evidence && i < res->evidence->len; i++)
    {
        char *v = g_utf8_make_valid(g_ptr_array_index(res->evidence, i), -1);
        json_array_append_new(ev, json_string(v));
        g_free(v);
    }
    return json_pack("{s:s?, s:s, s:s?, s:s?, s:o, s:s?}", "file", file, "verdict",
                     classify_verdict_name(res->verdict), "customer_id", res->customer_id,
                     "subject", res->subject, "evidence", ev, "advice", res->advice);
}

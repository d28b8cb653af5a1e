/*
 * audit.c: the domain audit (see audit.h). Called by `abusedesk domains
 * audit` (src/cli/cmd_domains.c), one domain after the other on one c-ares
 * channel that the run owns; every answer is cached for the run, so that the
 * SPF evaluation of each of our addresses costs no further lookups. Lookups
 * run one at a time, each bounded by the timeout: a domain costs at most
 * about (1 + 2 x 10 + selectors + 2) x timeout, and DNS trouble never fails
 * the run but marks the domain incomplete. Everything returned is owned by
 * the caller (audit_domain_free()); nothing here writes to the store.
 */
#include "reputation/audit.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "reputation/records.h"
#include "util/dnswait.h"

#define AUDIT_SPF_MAX_LOOKUPS 10    /* RFC 7208 4.6.4 */
#define AUDIT_SPF_MAX_VOID 2        /* RFC 7208 4.6.4 */
#define AUDIT_SPF_MAX_MX 10         /* addresses looked up per mx mechanism */
#define AUDIT_WALK_MAX_LOOKUPS 40   /* the full walk stops counting here */
#define AUDIT_MAX_TXT 4096          /* bytes of TXT kept per name */
#define AUDIT_MIN_KEY_BITS 1024
#define AUDIT_MAX_CACHE 20000       /* answers kept between domains */

struct audit {
    ares_channel chan;
    bool lib;
    struct audit_opts o;
    GHashTable *cache;          /* "TYPE/name" -> struct answer */
};

/* One cached answer. */
struct answer {
    int status;                 /* ARES_SUCCESS, ARES_ENOTFOUND, ARES_ENODATA, or an error */
    GPtrArray *txt;             /* TXT: one string per record */
    GArray *addrs;              /* A/AAAA: 16-byte addresses (IPv4-mapped) */
    GPtrArray *mx;              /* MX: host names ("." for a null MX) */
};

static void answer_free(gpointer p)
{
    struct answer *a = p;
    if (a->txt)
        g_ptr_array_free(a->txt, TRUE);
    if (a->addrs)
        g_array_free(a->addrs, TRUE);
    if (a->mx)
        g_ptr_array_free(a->mx, TRUE);
    g_free(a);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct audit *audit_new(const struct audit_opts *o, struct ad_err *err)
{
    struct audit *a = g_new0(struct audit, 1);
    a->o = *o;
    if (a->o.timeout_ms < 1)
        a->o.timeout_ms = 1;
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
        ad_err_set(err, AD_ERR_NOMEM, "DNS: ares_library_init: %s", ares_strerror(rc));
        g_free(a);
        return NULL;
    }
    a->lib = true;
    if (rbl_channel_open(o->resolver, a->o.timeout_ms, &a->chan, err) != 0) {
        ares_library_cleanup();
        g_free(a);
        return NULL;
    }
    a->cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, answer_free);
    return a;
}

struct audit *audit_free(struct audit *a)
{
    if (!a)
        return NULL;
    ares_destroy(a->chan);
    if (a->lib)
        ares_library_cleanup();
    g_hash_table_destroy(a->cache);
    g_free(a);
    return NULL;
}

/* ---- lookups ------------------------------------------------------------------ */

struct query {
    bool done;
    int status;
    struct answer *ans;
    int type;
};

static void read_txt(struct answer *ans, const unsigned char *abuf, int alen)
{
    struct ares_txt_ext *txt = NULL;
    if (ares_parse_txt_reply_ext(abuf, alen, &txt) != ARES_SUCCESS) {
        if (txt)
            ares_free_data(txt);
        return;
    }
    GString *cur = NULL;
    for (const struct ares_txt_ext *t = txt; t; t = t->next) {
        if (t->record_start || !cur) {
            if (cur)
                g_ptr_array_add(ans->txt, g_string_free(cur, FALSE));
            cur = g_string_new(NULL);
        }
        size_t room = AUDIT_MAX_TXT > cur->len ? AUDIT_MAX_TXT - cur->len : 0;
        g_string_append_len(cur, (const char *)t->txt, (gssize)MIN(t->length, room));
    }
    if (cur)
        g_ptr_array_add(ans->txt, g_string_free(cur, FALSE));
    ares_free_data(txt);
    /* NUL bytes inside a string would cut it: such a record is read up to them. */
}

static void read_addrs(struct answer *ans, int type, const unsigned char *abuf, int alen)
{
    if (type == ns_t_a) {
        struct ares_addrttl t[32];
        int n = 32;
        if (ares_parse_a_reply(abuf, alen, NULL, t, &n) != ARES_SUCCESS)
            return;
        for (int i = 0; i < n; i++) {
            unsigned char a[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
            memcpy(a + 12, &t[i].ipaddr, 4);
            g_array_append_vals(ans->addrs, a, 1);
        }
    } else {
        struct ares_addr6ttl t[32];
        int n = 32;
        if (ares_parse_aaaa_reply(abuf, alen, NULL, t, &n) != ARES_SUCCESS)
            return;
        for (int i = 0; i < n; i++)
            g_array_append_vals(ans->addrs, &t[i].ip6addr, 1);
    }
}

static void read_mx(struct answer *ans, const unsigned char *abuf, int alen)
{
    struct ares_mx_reply *mx = NULL;
    if (ares_parse_mx_reply(abuf, alen, &mx) != ARES_SUCCESS) {
        if (mx)
            ares_free_data(mx);
        return;
    }
    unsigned n = 0;
    for (const struct ares_mx_reply *m = mx; m && n < 32; m = m->next, n++)
        g_ptr_array_add(ans->mx, g_strdup(m->host && m->host[0] ? m->host : "."));
    ares_free_data(mx);
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct query *q = arg;
    (void)timeouts;
    q->done = true;
    q->status = status;
    if (status != ARES_SUCCESS || !abuf)
        return;
    if (q->type == ns_t_txt)
        read_txt(q->ans, abuf, alen);
    else if (q->type == ns_t_mx)
        read_mx(q->ans, abuf, alen);
    else
        read_addrs(q->ans, q->type, abuf, alen);
}

/* The answer for name/type, from the cache or DNS (borrowed from the cache). */
static const struct answer *lookup(struct audit *a, const char *name, int type)
{
    char *key = g_strdup_printf("%d/%s", type, name);
    struct answer *ans = g_hash_table_lookup(a->cache, key);
    if (ans) {
        g_free(key);
        return ans;
    }
    ans = g_new0(struct answer, 1);
    ans->txt = g_ptr_array_new_with_free_func(g_free);
    ans->addrs = g_array_new(FALSE, FALSE, 16);
    ans->mx = g_ptr_array_new_with_free_func(g_free);
    struct query q = { false, ARES_ETIMEOUT, ans, type };
    ares_query(a->chan, name, ns_c_in, type, on_answer, &q);
    long long deadline = now_ms() + a->o.timeout_ms;
    while (!q.done) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            ares_cancel(a->chan); /* calls on_answer with ARES_ECANCELLED */
            q.status = ARES_ETIMEOUT;
            break;
        }
        if (dnswait_once(a->chan, left) < 0 && errno != EINTR) {
            ares_cancel(a->chan);
            break;
        }
    }
    ans->status = q.status == ARES_ECANCELLED ? ARES_ETIMEOUT : q.status;
    if (ans->status == ARES_SUCCESS && ans->txt->len == 0 && ans->addrs->len == 0
        && ans->mx->len == 0)
        ans->status = ARES_ENODATA;
    g_hash_table_insert(a->cache, key, ans);
    return ans;
}

static bool void_answer(const struct answer *ans)
{
    return ans->status == ARES_ENOTFOUND || ans->status == ARES_ENODATA;
}

static bool dns_failed(const struct answer *ans)
{
    return ans->status != ARES_SUCCESS && !void_answer(ans);
}

/* ---- findings ------------------------------------------------------------------- */

/* Printable ASCII only: messages quote DNS data, which anyone writes. */
static char *clean(char *s)
{
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    return s;
}

void audit_domain_add(struct audit_domain *d, const char *check, const char *code,
                      const char *severity, const char *fmt, ...)
{
    for (guint i = 0; i < d->findings->len; i++) {
        const struct audit_finding *f = d->findings->pdata[i];
        if (!strcmp(f->check, check) && !strcmp(f->code, code))
            return; /* one finding per kind */
    }
    struct audit_finding *f = g_new0(struct audit_finding, 1);
    f->check = check;
    f->code = code;
    f->severity = severity;
    va_list ap;
    va_start(ap, fmt);
    f->message = clean(g_strdup_vprintf(fmt, ap));
    va_end(ap);
    g_ptr_array_add(d->findings, f);
}

static void finding_free(gpointer p)
{
    struct audit_finding *f = p;
    g_free(f->message);
    g_free(f);
}

struct audit_domain *audit_domain_free(struct audit_domain *d)
{
    if (!d)
        return NULL;
    g_free(d->domain);
    g_free(d->spf);
    g_free(d->dmarc);
    g_free(d->mx);
    g_ptr_array_free(d->findings, TRUE);
    g_free(d);
    return NULL;
}

static gint key_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *audit_domain_keys(const struct audit_domain *d)
{
    GPtrArray *k = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < d->findings->len; i++) {
        const struct audit_finding *f = d->findings->pdata[i];
        g_ptr_array_add(k, g_strdup_printf("%s:%s", f->check, f->code));
    }
    g_ptr_array_sort(k, key_cmp);
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < k->len; i++)
        g_string_append_printf(s, "%s%s", i ? " " : "", (char *)k->pdata[i]);
    g_ptr_array_free(k, TRUE);
    return g_string_free(s, FALSE);
}

/* ---- SPF ------------------------------------------------------------------------ */

enum spf_result { R_NONE, R_NEUTRAL, R_PASS, R_FAIL, R_SOFTFAIL, R_TEMPERROR, R_PERMERROR };

static const char *result_name(enum spf_result r)
{
    static const char *const n[] = { "none", "neutral", "pass", "fail", "softfail", "temperror",
                                     "permerror" };
    return n[r];
}

struct spf_ctx {
    struct audit *a;
    const unsigned char *ip;    /* 16 bytes, or NULL: walk everything, match nothing */
    int lookups, voids, depth;
    bool ptr_seen, macro_seen, failed_dns;
    char why[200];              /* permerror/temperror: why */
};

static bool in_net(const unsigned char *ip, const unsigned char *net, int bits)
{
    for (int b = 0; b < bits; b++) {
        unsigned char m = (unsigned char)(0x80u >> (b % 8));
        if ((ip[b / 8] & m) != (net[b / 8] & m))
            return false;
    }
    return true;
}

static bool is_v4(const unsigned char *ip)
{
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    return memcmp(ip, mapped, 12) == 0;
}

/* Counts a lookup; false (with why) past the limit. */
static bool count_lookup(struct spf_ctx *c)
{
    c->lookups++;
    if (c->ip && c->lookups > AUDIT_SPF_MAX_LOOKUPS) {
        g_snprintf(c->why, sizeof c->why, "more than %d DNS lookups", AUDIT_SPF_MAX_LOOKUPS);
        return false;
    }
    return c->ip || c->lookups <= AUDIT_WALK_MAX_LOOKUPS;
}

static bool count_void(struct spf_ctx *c, const struct answer *ans)
{
    if (dns_failed(ans))
        c->failed_dns = true;
    if (!void_answer(ans))
        return true;
    c->voids++;
    if (c->ip && c->voids > AUDIT_SPF_MAX_VOID) {
        g_snprintf(c->why, sizeof c->why, "more than %d void lookups", AUDIT_SPF_MAX_VOID);
        return false;
    }
    return true;
}

/* Any address of name (A for IPv4, AAAA for IPv6) in ip/cidr. */
static bool addr_match(struct spf_ctx *c, const char *name, int cidr4, int cidr6, bool *ok)
{
    bool v6 = c->ip && !is_v4(c->ip);
    const struct answer *ans = lookup(c->a, name, v6 ? ns_t_aaaa : ns_t_a);
    *ok = count_void(c, ans);
    if (!c->ip || !*ok)
        return false;
    for (guint i = 0; i < ans->addrs->len; i++) {
        const unsigned char *x = (const unsigned char *)ans->addrs->data + 16 * i;
        if (in_net(c->ip, x, v6 ? cidr6 : 96 + cidr4))
            return true;
    }
    return false;
}

static enum spf_result check_host(struct spf_ctx *c, const char *domain);

static enum spf_result qual_result(char q)
{
    return q == '-' ? R_FAIL : q == '~' ? R_SOFTFAIL : q == '?' ? R_NEUTRAL : R_PASS;
}

/* The one SPF record of domain into rec: R_PASS when found (not a result). */
static enum spf_result spf_record_of(struct spf_ctx *c, const char *domain, struct spf_record *rec,
                                     const char **text)
{
    const struct answer *ans = lookup(c->a, domain, ns_t_txt);
    if (dns_failed(ans)) {
        c->failed_dns = true;
        g_snprintf(c->why, sizeof c->why, "TXT lookup of %.100s failed: %s", domain,
                   ares_strerror(ans->status));
        return R_TEMPERROR;
    }
    const char *found = NULL;
    for (guint i = 0; i < ans->txt->len; i++) {
        const char *t = ans->txt->pdata[i];
        if (!spf_is_record(t))
            continue;
        if (found) {
            g_snprintf(c->why, sizeof c->why, "%.100s publishes more than one SPF record",
                       domain);
            return R_PERMERROR;
        }
        found = t;
    }
    if (!found)
        return R_NONE;
    if (text)
        *text = found;
    char problem[160];
    if (!spf_parse(found, rec, problem, sizeof problem)) {
        g_snprintf(c->why, sizeof c->why, "SPF record of %.100s: %s", domain, problem);
        return R_PERMERROR;
    }
    return R_PASS;
}

static enum spf_result check_host(struct spf_ctx *c, const char *domain)
{
    if (c->depth >= 10) {
        g_snprintf(c->why, sizeof c->why, "includes nested more than 10 deep (a loop?)");
        return R_PERMERROR;
    }
    struct spf_record *rec = g_new(struct spf_record, 1);
    enum spf_result r = spf_record_of(c, domain, rec, NULL);
    if (r != R_PASS) {
        g_free(rec);
        return r;
    }
    c->depth++;
    bool has_all = false;
    enum spf_result out = R_NEUTRAL;
    bool decided = false;
    for (size_t i = 0; i < rec->n_terms && !decided; i++) {
        const struct spf_term *t = &rec->terms[i];
        const char *target = t->domain[0] ? t->domain : domain;
        bool match = false, ok = true;
        switch (t->mech) {
        case SPF_ALL:
            has_all = true;
            match = c->ip != NULL;
            break;
        case SPF_INCLUDE: {
            if (!(ok = count_lookup(c)))
                break;
            if (t->has_macro) {
                c->macro_seen = true;
                break;
            }
            enum spf_result ir = check_host(c, target);
            if (ir == R_PASS)
                match = c->ip != NULL;
            else if (ir == R_TEMPERROR || ir == R_PERMERROR) {
                out = ir;
                decided = true;
            } else if (ir == R_NONE) {
                g_snprintf(c->why, sizeof c->why, "include:%.100s has no SPF record", target);
                out = R_PERMERROR;
                decided = true;
            }
            break;
        }
        case SPF_A:
            if (!(ok = count_lookup(c)))
                break;
            if (t->has_macro) {
                c->macro_seen = true;
                break;
            }
            match = addr_match(c, target, t->cidr4, t->cidr6, &ok);
            break;
        case SPF_MX: {
            if (!(ok = count_lookup(c)))
                break;
            if (t->has_macro) {
                c->macro_seen = true;
                break;
            }
            const struct answer *mx = lookup(c->a, target, ns_t_mx);
            if (!(ok = count_void(c, mx)))
                break;
            for (guint k = 0; k < mx->mx->len && k < AUDIT_SPF_MAX_MX && !match && ok; k++) {
                const char *host = mx->mx->pdata[k];
                if (strcmp(host, "."))
                    match = addr_match(c, host, t->cidr4, t->cidr6, &ok);
            }
            break;
        }
        case SPF_PTR:
            /* Never followed: no reverse DNS. Counted, and reported. */
            ok = count_lookup(c);
            c->ptr_seen = true;
            break;
        case SPF_EXISTS: {
            if (!(ok = count_lookup(c)))
                break;
            if (t->has_macro) {
                c->macro_seen = true;
                break;
            }
            const struct answer *ans = lookup(c->a, target, ns_t_a);
            ok = count_void(c, ans);
            match = ok && c->ip && ans->addrs->len > 0;
            break;
        }
        case SPF_IP4:
            match = c->ip && is_v4(c->ip) && in_net(c->ip, t->addr, 96 + t->cidr4);
            break;
        case SPF_IP6:
            match = c->ip && !is_v4(c->ip) && in_net(c->ip, t->addr, t->cidr6);
            break;
        case SPF_REDIRECT: case SPF_EXP: case SPF_OTHER_MOD:
            break;
        }
        if (!ok) {
            out = R_PERMERROR;
            decided = true;
        } else if (match) {
            out = qual_result(t->qual);
            decided = true;
        }
    }
    if (!decided && rec->redirect >= 0 && !has_all) {
        const struct spf_term *t = &rec->terms[rec->redirect];
        if (!count_lookup(c)) {
            out = R_PERMERROR;
        } else if (t->has_macro) {
            c->macro_seen = true;
        } else {
            out = check_host(c, t->domain);
            if (out == R_NONE) {
                g_snprintf(c->why, sizeof c->why, "redirect=%.100s has no SPF record",
                           t->domain);
                out = R_PERMERROR;
            }
        }
    }
    c->depth--;
    g_free(rec);
    return out;
}

static void audit_spf(struct audit *a, struct audit_domain *d)
{
    struct spf_ctx walk = { .a = a };
    struct spf_record *rec = g_new(struct spf_record, 1);
    const char *text = NULL;
    enum spf_result r = spf_record_of(&walk, d->domain, rec, &text);
    if (text)
        d->spf = g_strdup(text);
    if (r == R_NONE) {
        audit_domain_add(d, "spf", "missing", "error",
                         "no SPF record: any server may send mail as %s", d->domain);
        goto out;
    }
    if (r == R_TEMPERROR) {
        d->incomplete = true;
        audit_domain_add(d, "spf", "lookup_failed", "warning", "%s", walk.why);
        goto out;
    }
    if (r == R_PERMERROR) {
        audit_domain_add(d, "spf", "syntax", "error", "%s", walk.why);
        goto out;
    }
    /* The record's own all (the last word for everyone else). */
    for (size_t i = 0; i < rec->n_terms; i++) {
        const struct spf_term *t = &rec->terms[i];
        if (t->mech != SPF_ALL)
            continue;
        if (t->qual == '+')
            audit_domain_add(d, "spf", "plus_all", "error",
                             "\"+all\" permits every server on the Internet to send as %s",
                             d->domain);
        else if (t->qual == '?')
            audit_domain_add(d, "spf", "neutral_all", "warning",
                             "\"?all\" says nothing about other servers: forged mail is not "
                             "refused");
    }
    /* The whole tree, without matching: lookups and void lookups as a
     * receiver that walks all of it counts them. */
    enum spf_result wr = check_host(&walk, d->domain);
    if (walk.failed_dns)
        d->incomplete = true;
    if (walk.lookups > AUDIT_SPF_MAX_LOOKUPS)
        audit_domain_add(d, "spf", "too_many_lookups", "error",
                         "%d%s DNS lookups (include, a, mx, ptr, exists, redirect): more than the "
                         "%d of RFC 7208 4.6.4, receivers give permerror",
                         walk.lookups, walk.lookups > AUDIT_WALK_MAX_LOOKUPS ? "+" : "",
                         AUDIT_SPF_MAX_LOOKUPS);
    if (walk.voids > AUDIT_SPF_MAX_VOID)
        audit_domain_add(d, "spf", "void_lookups", "error",
                         "%d lookups return no records (at most %d, RFC 7208 4.6.4): receivers "
                         "give permerror", walk.voids, AUDIT_SPF_MAX_VOID);
    if (wr == R_PERMERROR && walk.lookups <= AUDIT_SPF_MAX_LOOKUPS)
        audit_domain_add(d, "spf", "syntax", "error", "%s", walk.why);
    if (walk.ptr_seen)
        audit_domain_add(d, "spf", "ptr", "warning",
                         "the \"ptr\" mechanism is slow and deprecated (RFC 7208 5.5); many "
                         "receivers ignore it");
    if (walk.macro_seen)
        audit_domain_add(d, "spf", "macros", "info",
                         "the record uses macros; their parts were not evaluated");
    /* Each of our addresses, as a receiver would evaluate it. */
    size_t n_bad = 0;
    GString *bad = g_string_new(NULL);
    enum spf_result first_bad = R_PASS;
    for (size_t i = 0; i < a->o.n_ours; i++) {
        struct spf_ctx c = { .a = a, .ip = a->o.ours[i].ip };
        enum spf_result er = check_host(&c, d->domain);
        if (er == R_PASS)
            continue;
        if (er == R_TEMPERROR) {
            d->incomplete = true;
            continue;
        }
        if (n_bad++ < 5)
            g_string_append_printf(bad, "%s%s", bad->len ? ", " : "", a->o.ours[i].text);
        if (first_bad == R_PASS)
            first_bad = er;
    }
    if (n_bad)
        audit_domain_add(d, "spf", "not_covered", "error",
                         "%zu of our %zu outbound addresses are not permitted (%s, result %s): "
                         "mail of %s sent through our servers fails SPF", n_bad, a->o.n_ours,
                         bad->str, result_name(first_bad), d->domain);
    g_string_free(bad, TRUE);
out:
    g_free(rec);
}

/* ---- DKIM ----------------------------------------------------------------------- */

/* The value of tag name in a tag list ("v=DKIM1; k=rsa; p=..."), whitespace
 * removed; NULL when absent. g_malloc'd. */
static char *tag_value(const char *rec, const char *name)
{
    size_t nl = strlen(name);
    const char *p = rec;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        const char *e = strchr(p, ';');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq) {
            size_t kl = (size_t)(eq - p);
            while (kl && (p[kl - 1] == ' ' || p[kl - 1] == '\t'))
                kl--;
            if (kl == nl && !g_ascii_strncasecmp(p, name, nl)) {
                GString *v = g_string_new(NULL);
                for (const char *x = eq + 1; x < p + len; x++)
                    if (!g_ascii_isspace(*x))
                        g_string_append_c(v, *x);
                return g_string_free(v, FALSE);
            }
        }
        p = e;
    }
    return NULL;
}

/* Bits of an RSA (or other) public key in base64 SubjectPublicKeyInfo; 0
 * when it is not one. */
static int key_bits(const char *b64)
{
    size_t n = strlen(b64);
    if (n == 0 || n > 8192)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!g_ascii_isalnum(b64[i]) && b64[i] != '+' && b64[i] != '/' && b64[i] != '=')
            return 0;
    gsize len = 0;
    guchar *der = g_base64_decode(b64, &len);
    const unsigned char *p = der;
    EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)len);
    int bits = k ? EVP_PKEY_get_bits(k) : 0;
    EVP_PKEY_free(k);
    g_free(der);
    return bits;
}

static void audit_dkim(struct audit *a, struct audit_domain *d)
{
    for (char *const *s = a->o.dkim_selectors; s && *s; s++) {
        char *name = g_strdup_printf("%s._domainkey.%s", *s, d->domain);
        const struct answer *ans = lookup(a, name, ns_t_txt);
        g_free(name);
        if (dns_failed(ans)) {
            d->incomplete = true;
            continue;
        }
        const char *rec = NULL;
        for (guint i = 0; i < ans->txt->len && !rec; i++) {
            char *p = tag_value(ans->txt->pdata[i], "p");
            if (p)
                rec = ans->txt->pdata[i];
            g_free(p);
        }
        if (!rec) {
            audit_domain_add(d, "dkim", "missing", "warning",
                             "DKIM selector \"%s\" is not published (%s._domainkey.%s): our "
                             "signatures for %s cannot be verified", *s, *s, d->domain,
                             d->domain);
            continue;
        }
        char *p = tag_value(rec, "p"), *k = tag_value(rec, "k");
        if (!p[0]) {
            audit_domain_add(d, "dkim", "revoked", "warning",
                             "DKIM selector \"%s\" is revoked (empty p=)", *s);
        } else if (!k || !g_ascii_strcasecmp(k, "rsa")) {
            int bits = key_bits(p);
            if (bits == 0)
                audit_domain_add(d, "dkim", "bad_key", "error",
                                 "DKIM selector \"%s\": p= is not a public key", *s);
            else if (bits < AUDIT_MIN_KEY_BITS)
                audit_domain_add(d, "dkim", "weak_key", "error",
                                 "DKIM selector \"%s\" has a %d-bit key: under %d bits "
                                 "receivers ignore it (RFC 8301) and it can be broken", *s,
                                 bits, AUDIT_MIN_KEY_BITS);
        }
        g_free(p);
        g_free(k);
    }
}

/* ---- DMARC, MX ---------------------------------------------------------------------- */

static void audit_dmarc(struct audit *a, struct audit_domain *d)
{
    char *name = g_strdup_printf("_dmarc.%s", d->domain);
    const struct answer *ans = lookup(a, name, ns_t_txt);
    g_free(name);
    if (dns_failed(ans)) {
        d->incomplete = true;
        audit_domain_add(d, "dmarc", "lookup_failed", "warning", "TXT lookup of _dmarc.%s "
                         "failed: %s", d->domain, ares_strerror(ans->status));
        return;
    }
    const char *found = NULL;
    unsigned n = 0;
    for (guint i = 0; i < ans->txt->len; i++)
        if (dmarc_is_record(ans->txt->pdata[i]) && n++ == 0)
            found = ans->txt->pdata[i];
    if (!found) {
        audit_domain_add(d, "dmarc", "missing", "error",
                         "no DMARC record (_dmarc.%s): receivers have no policy for mail "
                         "forged with this domain, and nobody gets reports", d->domain);
        return;
    }
    d->dmarc = g_strdup(found);
    if (n > 1) {
        audit_domain_add(d, "dmarc", "multiple", "error",
                         "more than one DMARC record: receivers ignore them all");
        return;
    }
    struct dmarc_record r;
    char problem[160];
    if (!dmarc_record_parse(found, &r, problem, sizeof problem)) {
        audit_domain_add(d, "dmarc", "syntax", "error", "DMARC record: %s", problem);
        return;
    }
    if (!strcmp(r.p, "none"))
        audit_domain_add(d, "dmarc", "p_none", "warning",
                         "p=none: receivers deliver mail that fails DMARC (monitoring only)");
    else if (r.pct < 100)
        audit_domain_add(d, "dmarc", "pct", "info", "pct=%d: the policy applies to %d%% of "
                         "failing mail only", r.pct, r.pct);
    const char *rua = a->o.dmarc_rua;
    if (rua && *rua) {
        if (!g_ascii_strncasecmp(rua, "mailto:", 7))
            rua += 7;
        bool ours = false;
        for (size_t i = 0; i < r.n_rua && !ours; i++)
            ours = !g_ascii_strcasecmp(r.rua[i], rua);
        if (!ours)
            audit_domain_add(d, "dmarc", "rua_not_us", "warning",
                             "rua does not send aggregate reports to %s: we cannot see mail "
                             "forged with %s", rua, d->domain);
    }
}

static void audit_mx(struct audit *a, struct audit_domain *d)
{
    const struct answer *ans = lookup(a, d->domain, ns_t_mx);
    if (dns_failed(ans)) {
        d->incomplete = true;
        return;
    }
    if (ans->mx->len == 0) {
        audit_domain_add(d, "mx", "missing", "warning",
                         "no MX record: mail to %s goes to its address record, if any, and "
                         "bounces (DSNs, complaints) may not reach the customer", d->domain);
        return;
    }
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < ans->mx->len; i++)
        g_string_append_printf(s, "%s%s", i ? " " : "", (char *)ans->mx->pdata[i]);
    d->mx = g_string_free(s, FALSE);
    if (ans->mx->len == 1 && !strcmp(ans->mx->pdata[0], "."))
        audit_domain_add(d, "mx", "null", "info",
                         "null MX (RFC 7505): %s receives no mail", d->domain);
}

struct audit_domain *audit_domain_check(struct audit *a, const char *domain)
{
    /* The cache serves the includes many customers share (our own SPF
     * domain above all); past AUDIT_MAX_CACHE answers it starts over, so that
     * a directory of any size costs bounded memory. */
    if (g_hash_table_size(a->cache) > AUDIT_MAX_CACHE)
        g_hash_table_remove_all(a->cache);
    struct audit_domain *d = g_new0(struct audit_domain, 1);
    d->domain = g_ascii_strdown(domain, -1);
    d->findings = g_ptr_array_new_with_free_func(finding_free);
    audit_spf(a, d);
    audit_dkim(a, d);
    audit_dmarc(a, d);
    audit_mx(a, d);
    return d;
}

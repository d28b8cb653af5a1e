/*
 * dkimverify.c: verifies the DKIM signatures (RFC 6376) of a raw message with
 * libopendkim and fetches each public key as a TXT record with c-ares from
 * the configured resolvers. Called by the trust component for reports that
 * carry no Authentication-Results header of our MX. dkimverify_new() fails
 * with AD_ERR_CONFIG on a resolver list it cannot read (entries must be IP
 * literals: "192.0.2.1", "192.0.2.1:5353", "2001:db8::1", "[2001:db8::1]:53")
 * or a timeout outside 1..60000 ms, and with AD_ERR_NOMEM when c-ares or
 * libopendkim cannot start. dkimverify_message() never fails: a message,
 * signature or key record it cannot read and a lookup that fails or passes its
 * deadline give an entry that did not pass, with the reason in its result
 * ("no key", "DNS timeout", "body hash mismatch", ...). Some messages are
 * not handed to libopendkim at all, their signatures reported as "not
 * verified: ...": those without exactly one From header, and those that
 * would make libopendkim 2.11.0~beta2 read or write out of bounds (see
 * dkimverify_refuse()). The verifier belongs to the caller
 * (dkimverify_free()); dkimverify_message() returns nothing allocated.
 * Bounds: at most DKIMVERIFY_MAX_SIGS signatures per message are verified
 * (libopendkim is told to ignore the others), each key lookup ends at
 * timeout_ms whatever c-ares' retries would do (so a message costs at most
 * DKIMVERIFY_MAX_SIGS lookups), a failed lookup is not repeated within a
 * message, names are checked before any query, and a key record must fit
 * libopendkim's buffer. The message size is the caller's limit; it is copied
 * once, with bare LF turned into CRLF. A verifier owns one c-ares channel and
 * one libopendkim library handle, so it serves one thread at a time; create
 * verifiers at startup, since c-ares 1.18's ares_library_init() (called by
 * dkimverify_new()) is not thread-safe.
 */
#include "trust/dkimverify.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include <ares.h>
#include <dkim.h>

#include "util/dnswait.h"

#define DKIMVERIFY_MAX_RESOLVERS 8
#define DKIMVERIFY_RESOLVERS_MAX_LEN 1024
#define DKIMVERIFY_TIMEOUT_MAX_MS 60000
/* c-ares tries each server this many times before it gives up by itself. */
#define DKIMVERIFY_ARES_TRIES 3
/* The longest DNS name in presentation form without the final dot. */
#define DKIMVERIFY_QNAME_MAX 253
/* Room for the reason a lookup failed; it becomes a result[128]. */
#define DKIMVERIFY_RESULT_WHY_LEN 128

struct dkimverify {
    DKIM_LIB *lib;      /* libopendkim, with our key lookup and prescreen */
    ares_channel chan;  /* the resolvers, reused for every lookup */
    bool chan_ready;
    bool ares_ready;    /* ares_library_init() succeeded: cleanup owed */
    int timeout_ms;     /* per key lookup, hard */
    bool (*want)(const char *domain, void *ctx);    /* which d= are worth a lookup */
    void *want_ctx;
};

/* What one key lookup came to; the table below gives libopendkim's answer
 * and the result text of a signature that failed because of it. */
enum dkimverify_dns {
    DKIMVERIFY_DNS_KEY,      /* a TXT record, copied for libopendkim */
    DKIMVERIFY_DNS_NOKEY,    /* NXDOMAIN or no TXT record */
    DKIMVERIFY_DNS_TIMEOUT,  /* the deadline passed, or c-ares gave up */
    DKIMVERIFY_DNS_FAIL,     /* SERVFAIL, REFUSED, connection refused, ... */
    DKIMVERIFY_DNS_BADREC,   /* a TXT record we will not hand on */
    DKIMVERIFY_DNS_BADNAME,  /* d= or s= cannot form a DNS name: no query */
    DKIMVERIFY_DNS_SKIPPED,  /* not a domain the caller wants (no query), or the
                              * message's DNS budget is spent */
};

static const struct {
    DKIM_CBSTAT cb;
    const char *why;
} dkimverify_dns_outcome[] = {
    [DKIMVERIFY_DNS_KEY] = { DKIM_CBSTAT_CONTINUE, "key found" },
    [DKIMVERIFY_DNS_NOKEY] = { DKIM_CBSTAT_NOTFOUND, "no key" },
    [DKIMVERIFY_DNS_TIMEOUT] = { DKIM_CBSTAT_TRYAGAIN, "DNS timeout" },
    [DKIMVERIFY_DNS_FAIL] = { DKIM_CBSTAT_TRYAGAIN, "DNS error" },
    [DKIMVERIFY_DNS_BADREC] = { DKIM_CBSTAT_ERROR, "bad key record" },
    [DKIMVERIFY_DNS_BADNAME] = { DKIM_CBSTAT_ERROR, "invalid domain or selector" },
    [DKIMVERIFY_DNS_SKIPPED] = { DKIM_CBSTAT_NOTFOUND, "key not looked up" },
};

/* Result texts for libopendkim's per-signature errors; other errors use
 * dkim_sig_geterrorstr(). */
static const struct {
    int code;
    const char *text;
} dkimverify_sigerror_text[] = {
    { DKIM_SIGERROR_NOKEY, "no key" },
    { DKIM_SIGERROR_KEYREVOKED, "key revoked" },
    { DKIM_SIGERROR_BADSIG, "bad signature" },
    { DKIM_SIGERROR_KEYFAIL, "DNS error" },
    { DKIM_SIGERROR_DNSSYNTAX, "bad key record" },
    { DKIM_SIGERROR_MULTIREPLY, "bad key record: several records" },
    { DKIM_SIGERROR_KEYDECODE, "bad key record: key not decodable" },
    { DKIM_SIGERROR_KEYTOOSMALL, "key too small" },
    { DKIM_SIGERROR_EXPIRED, "signature expired" },
    { DKIM_SIGERROR_FUTURE, "signature in the future" },
};

/* One key lookup of the message being verified, by d= and s=. */
struct dkimverify_lookup {
    char domain[256];
    char selector[128];
    enum dkimverify_dns dns;
    char why[DKIMVERIFY_RESULT_WHY_LEN];
};

/* The per-message state the key lookup callback reaches through
 * dkim_get_user_context(); lives on dkimverify_message()'s stack. */
struct dkimverify_msg {
    struct dkimverify *v;
    long long deadline_ms;      /* all key lookups of the message end by then */
    size_t n_lookups;
    struct dkimverify_lookup lookups[DKIMVERIFY_MAX_SIGS];
    size_t n_bysig;
    struct {
        const DKIM_SIGINFO *sig; /* borrowed from libopendkim */
        size_t lookup;
    } bysig[DKIMVERIFY_MAX_SIGS];
};

/* One c-ares query in flight; buf is libopendkim's. */
struct dkimverify_query {
    bool done;
    bool timed_out;
    int status;                 /* ARES_* */
    enum dkimverify_dns picked; /* when status is ARES_SUCCESS */
    unsigned char *buf;
    size_t buflen;
};

static long long dkimverify_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- resolvers ---------------------------------------------------------- */

/* Splits resolvers at ',' and ';' into nodes (linked in order). Blank
 * entries are skipped; *n_out = 0 means the system's resolvers. */
static int dkimverify_parse_resolvers(const char *resolvers,
                                      struct ares_addr_port_node nodes[DKIMVERIFY_MAX_RESOLVERS],
                                      size_t *n_out, struct ad_err *err)
{
    *n_out = 0;
    if (!resolvers)
        return 0;
    size_t total = strlen(resolvers);
    if (total > DKIMVERIFY_RESOLVERS_MAX_LEN)
        return ad_err_set(err, AD_ERR_CONFIG, "dkim resolvers: list longer than %d bytes",
                          DKIMVERIFY_RESOLVERS_MAX_LEN);
    const char *p = resolvers, *end = resolvers + total;
    while (p <= end) {
        const char *sep = p;
        while (sep < end && *sep != ',' && *sep != ';')
            sep++;
        const char *a = p, *b = sep;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (b > a) {
            if (*n_out == DKIMVERIFY_MAX_RESOLVERS)
                return ad_err_set(err, AD_ERR_CONFIG, "dkim resolvers: more than %d in \"%s\"",
                                  DKIMVERIFY_MAX_RESOLVERS, resolvers);
            if (!dnswait_parse_server(a, (size_t)(b - a), &nodes[*n_out]))
                return ad_err_set(err, AD_ERR_CONFIG,
                                  "dkim resolvers: \"%.*s\" is not IP[:PORT] or [IPv6]:PORT",
                                  (int)(b - a), a);
            if (*n_out > 0)
                nodes[*n_out - 1].next = &nodes[*n_out];
            (*n_out)++;
        }
        p = sep + 1;
    }
    return 0;
}

static int dkimverify_ares_err(int rc, const char *what, struct ad_err *err)
{
    return ad_err_set(err, rc == ARES_ENOMEM ? AD_ERR_NOMEM : AD_ERR_CONFIG, "dkim resolvers: %s: %s",
                      what, ares_strerror(rc));
}

/* How many servers the system's configuration gives c-ares. */
static int dkimverify_count_system_servers(size_t *n, struct ad_err *err)
{
    ares_channel probe;
    int rc = ares_init(&probe);
    if (rc != ARES_SUCCESS)
        return dkimverify_ares_err(rc, "reading the system configuration", err);
    struct ares_addr_port_node *list = NULL;
    rc = ares_get_servers_ports(probe, &list);
    *n = 0;
    for (struct ares_addr_port_node *s = list; s; s = s->next)
        (*n)++;
    if (list)
        ares_free_data(list);
    ares_destroy(probe);
    if (rc != ARES_SUCCESS)
        return dkimverify_ares_err(rc, "listing the system's servers", err);
    return 0;
}

/* Opens v->chan for the servers (none: the system's). Each try waits
 * timeout / (servers + 1), so that every server is asked once within the
 * deadline that dkimverify_wait() enforces. */
static int dkimverify_open_channel(struct dkimverify *v, struct ares_addr_port_node *servers,
                                   size_t n_servers, struct ad_err *err)
{
    size_t n = n_servers;
    if (n == 0) {
        int rc = dkimverify_count_system_servers(&n, err);
        if (rc != 0)
            return rc;
    }
    struct ares_options opts;
    memset(&opts, 0, sizeof(opts));
    opts.timeout = v->timeout_ms / (int)(n + 1);
    if (opts.timeout < 1)
        opts.timeout = 1;
    opts.tries = DKIMVERIFY_ARES_TRIES;
    int rc = ares_init_options(&v->chan, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (rc != ARES_SUCCESS)
        return dkimverify_ares_err(rc, "starting c-ares", err);
    v->chan_ready = true;
    if (n_servers > 0) {
        rc = ares_set_servers_ports(v->chan, servers);
        if (rc != ARES_SUCCESS)
            return dkimverify_ares_err(rc, "setting the servers", err);
    }
    return 0;
}

/* ---- key lookup ----------------------------------------------------------- */

/* True when s[0..len) is a DNS label we query: 1..63 letters, digits, '-'
 * and '_' (selectors and _domainkey use '_'). */
static bool dkimverify_label_ok(const char *s, size_t len)
{
    if (len == 0 || len > 63)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '-' && c != '_')
            return false;
    }
    return true;
}

static bool dkimverify_name_ok(const char *name)
{
    const char *p = name;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (!dkimverify_label_ok(p, len))
            return false;
        if (!dot)
            return true;
        p = dot + 1;
    }
}

/* Writes "selector._domainkey.domain" into qname; false when either part is
 * not a plain DNS name or the result is too long. */
static bool dkimverify_qname(const char *selector, const char *domain, char *qname, size_t size)
{
    if (!selector || !domain || !dkimverify_name_ok(selector) || !dkimverify_name_ok(domain))
        return false;
    int n = snprintf(qname, size, "%s._domainkey.%s", selector, domain);
    return n > 0 && (size_t)n < size && n <= DKIMVERIFY_QNAME_MAX;
}

static bool dkimverify_is_dkim1(const struct ares_txt_ext *rec)
{
    static const char tag[] = "v=DKIM1";
    size_t i = 0;
    while (i < rec->length && (rec->txt[i] == ' ' || rec->txt[i] == '\t'))
        i++;
    return rec->length - i >= sizeof(tag) - 1 && memcmp(rec->txt + i, tag, sizeof(tag) - 1) == 0;
}

/* Copies into buf (NUL-terminated) the TXT record of the answer that is the
 * key: the first that starts with "v=DKIM1", else the first (v= is optional).
 * The character-strings of one record are concatenated (RFC 6376 3.6.2.2). */
static enum dkimverify_dns dkimverify_pick(const unsigned char *abuf, int alen, unsigned char *buf,
                                           size_t buflen)
{
    struct ares_txt_ext *txt = NULL;
    int rc = ares_parse_txt_reply_ext(abuf, alen, &txt);
    if (rc == ARES_ENODATA)
        return DKIMVERIFY_DNS_NOKEY;
    if (rc != ARES_SUCCESS || !txt) {
        if (txt)
            ares_free_data(txt);
        return DKIMVERIFY_DNS_BADREC;
    }
    const struct ares_txt_ext *chosen = NULL;
    for (const struct ares_txt_ext *r = txt; r; r = r->next) {
        if (r != txt && !r->record_start)
            continue;
        if (!chosen)
            chosen = r;
        if (dkimverify_is_dkim1(r)) {
            chosen = r;
            break;
        }
    }
    enum dkimverify_dns out = DKIMVERIFY_DNS_KEY;
    size_t n = 0;
    for (const struct ares_txt_ext *r = chosen; r; r = r->next) {
        if (r != chosen && r->record_start)
            break;
        /* libopendkim reads the record with strlen(): no NUL inside. */
        if (r->length > buflen - 1 - n || memchr(r->txt, '\0', r->length)) {
            out = DKIMVERIFY_DNS_BADREC;
            n = 0;
            break;
        }
        memcpy(buf + n, r->txt, r->length);
        n += r->length;
    }
    buf[n] = '\0';
    ares_free_data(txt);
    return out;
}

static void dkimverify_on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct dkimverify_query *q = arg;
    (void)timeouts;
    q->done = true;
    q->status = status;
    if (status == ARES_SUCCESS)
        q->picked = dkimverify_pick(abuf, alen, q->buf, q->buflen);
}

/* Runs v->chan until q is answered or deadline_ms passes; then the query is
 * cancelled, which calls dkimverify_on_answer() before ares_cancel() returns.
 * Each round is util/dnswait.h's. */
static void dkimverify_wait(struct dkimverify *v, struct dkimverify_query *q, long long deadline_ms)
{
    while (!q->done) {
        long long left = deadline_ms - dkimverify_now_ms();
        if (left <= 0) {
            q->timed_out = true;
            ares_cancel(v->chan);
            break;
        }
        if (dnswait_once(v->chan, left) < 0) {
            if (errno == EINTR)
                continue;
            ares_cancel(v->chan);
            break;
        }
    }
}

/* Looks up the key record of selector/domain into buf; why gets the reason
 * when it is not DKIMVERIFY_DNS_KEY. */
static enum dkimverify_dns dkimverify_fetch(struct dkimverify *v, long long msg_deadline,
                                            const char *domain, const char *selector,
                                            unsigned char *buf, size_t buflen, char *why,
                                            size_t whylen)
{
    char qname[DKIMVERIFY_QNAME_MAX + 2];
    enum dkimverify_dns dns;
    long long now = dkimverify_now_ms();
    if (v->want && (!domain || !v->want(domain, v->want_ctx))) {
        snprintf(why, whylen, "key not looked up: not a signing domain we trust");
        return DKIMVERIFY_DNS_SKIPPED;
    }
    if (now >= msg_deadline) {
        snprintf(why, whylen, "key not looked up: this message's DNS time is used up");
        return DKIMVERIFY_DNS_SKIPPED;
    }
    if (!dkimverify_qname(selector, domain, qname, sizeof(qname))) {
        dns = DKIMVERIFY_DNS_BADNAME;
    } else {
        struct dkimverify_query q = { .buf = buf, .buflen = buflen };
        long long deadline = now + v->timeout_ms;
        if (deadline > msg_deadline)
            deadline = msg_deadline;
        ares_query(v->chan, qname, ns_c_in, ns_t_txt, dkimverify_on_answer, &q);
        dkimverify_wait(v, &q, deadline);
        if (q.timed_out || q.status == ARES_ETIMEOUT)
            dns = DKIMVERIFY_DNS_TIMEOUT;
        else if (q.status == ARES_ENOTFOUND || q.status == ARES_ENODATA)
            dns = DKIMVERIFY_DNS_NOKEY;
        else if (q.status != ARES_SUCCESS)
            dns = DKIMVERIFY_DNS_FAIL;
        else
            dns = q.picked;
        if (dns == DKIMVERIFY_DNS_FAIL) {
            snprintf(why, whylen, "%s: %s", dkimverify_dns_outcome[dns].why, ares_strerror(q.status));
            return dns;
        }
    }
    snprintf(why, whylen, "%s", dkimverify_dns_outcome[dns].why);
    return dns;
}

/* libopendkim's key lookup callback (dkim_set_key_lookup()): buf is
 * libopendkim's, zeroed, buflen bytes. A lookup that failed for the same d=
 * and s= earlier in this message is not repeated. */
static DKIM_CBSTAT dkimverify_key_lookup(DKIM *dkim, DKIM_SIGINFO *sig, u_char *buf, size_t buflen)
{
    struct dkimverify_msg *m = dkim_get_user_context(dkim);
    if (!m || !sig || !buf || buflen < 2 || m->n_bysig == DKIMVERIFY_MAX_SIGS)
        return DKIM_CBSTAT_ERROR;
    const char *domain = (const char *)dkim_sig_getdomain(sig);
    const char *selector = (const char *)dkim_sig_getselector(sig);

    struct dkimverify_lookup *l = NULL;
    for (size_t i = 0; i < m->n_lookups && domain && selector; i++) {
        struct dkimverify_lookup *c = &m->lookups[i];
        if (c->dns != DKIMVERIFY_DNS_KEY && strcasecmp(c->domain, domain) == 0 &&
            strcmp(c->selector, selector) == 0) {
            l = c;
            break;
        }
    }
    if (!l) {
        if (m->n_lookups == DKIMVERIFY_MAX_SIGS)
            return DKIM_CBSTAT_ERROR;
        l = &m->lookups[m->n_lookups++];
        snprintf(l->domain, sizeof(l->domain), "%s", domain ? domain : "");
        snprintf(l->selector, sizeof(l->selector), "%s", selector ? selector : "");
        l->dns = dkimverify_fetch(m->v, m->deadline_ms, domain, selector, buf, buflen, l->why,
                                  sizeof(l->why));
    }
    m->bysig[m->n_bysig].sig = sig;
    m->bysig[m->n_bysig].lookup = (size_t)(l - m->lookups);
    m->n_bysig++;
    return dkimverify_dns_outcome[l->dns].cb;
}

/* libopendkim's prescreen callback: verify only the first
 * DKIMVERIFY_MAX_SIGS signatures (from the top). */
static DKIM_CBSTAT dkimverify_prescreen(DKIM *dkim, DKIM_SIGINFO **sigs, int nsigs)
{
    (void)dkim;
    for (int i = DKIMVERIFY_MAX_SIGS; i < nsigs; i++)
        dkim_sig_ignore(sigs[i]);
    return DKIM_CBSTAT_CONTINUE;
}

/* ---- results -------------------------------------------------------------- */

static void dkimverify_copy_lower(char *dst, size_t size, const char *src, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; src && i < len && src[i] && n + 1 < size; i++)
        dst[n++] = (char)tolower((unsigned char)src[i]);
    dst[n] = '\0';
}

static const struct dkimverify_lookup *dkimverify_lookup_of(const struct dkimverify_msg *m,
                                                            const DKIM_SIGINFO *sig)
{
    for (size_t i = 0; i < m->n_bysig; i++)
        if (m->bysig[i].sig == sig)
            return &m->lookups[m->bysig[i].lookup];
    return NULL;
}

/* Decides o->pass and o->result for sig; why_unverified explains a
 * signature libopendkim never got to. */
static void dkimverify_judge(const struct dkimverify_msg *m, DKIM_SIGINFO *sig,
                             const char *why_unverified, struct dkimverify_sig *o)
{
    unsigned int flags = dkim_sig_getflags(sig);
    int bh = dkim_sig_getbh(sig);
    int code = dkim_sig_geterror(sig);
    const struct dkimverify_lookup *l = dkimverify_lookup_of(m, sig);

    if ((flags & DKIM_SIGFLAG_PASSED) && bh == DKIM_SIGBH_MATCH && code == DKIM_SIGERROR_OK) {
        o->pass = true;
        snprintf(o->result, sizeof(o->result), "pass");
        return;
    }
    /* The signature over the header verified but the body changed. */
    if ((flags & DKIM_SIGFLAG_PASSED) && bh == DKIM_SIGBH_MISMATCH) {
        snprintf(o->result, sizeof(o->result), "body hash mismatch");
        return;
    }
    if (l && l->dns != DKIMVERIFY_DNS_KEY &&
        (code == DKIM_SIGERROR_UNKNOWN || code == DKIM_SIGERROR_NOKEY || code == DKIM_SIGERROR_KEYFAIL)) {
        snprintf(o->result, sizeof(o->result), "%s", l->why);
        return;
    }
    for (size_t i = 0; i < sizeof(dkimverify_sigerror_text) / sizeof(dkimverify_sigerror_text[0]); i++) {
        if (dkimverify_sigerror_text[i].code == code) {
            snprintf(o->result, sizeof(o->result), "%s", dkimverify_sigerror_text[i].text);
            return;
        }
    }
    if (code == DKIM_SIGERROR_UNKNOWN) {
        snprintf(o->result, sizeof(o->result), "not verified%s%s",
                 why_unverified && *why_unverified ? ": " : "", why_unverified ? why_unverified : "");
    } else if (code == DKIM_SIGERROR_OK) {
        snprintf(o->result, sizeof(o->result), "bad signature");
    } else {
        const char *s = dkim_sig_geterrorstr(code);
        if (s)
            snprintf(o->result, sizeof(o->result), "%s", s);
        else
            snprintf(o->result, sizeof(o->result), "signature error %d", code);
    }
}

/* Fills out from libopendkim's signature list; false when there is none
 * (libopendkim stopped before the end of the header). */
static bool dkimverify_collect(DKIM *dkim, const struct dkimverify_msg *m, const char *why_unverified,
                               struct dkimverify_result *out)
{
    DKIM_SIGINFO **sigs = NULL;
    int nsigs = 0;
    if (dkim_getsiglist(dkim, &sigs, &nsigs) != DKIM_STAT_OK || nsigs < 0 || (nsigs > 0 && !sigs))
        return false;
    for (int i = 0; i < nsigs && out->n_sigs < DKIMVERIFY_MAX_SIGS; i++) {
        DKIM_SIGINFO *sig = sigs[i];
        if (!sig || (dkim_sig_getflags(sig) & DKIM_SIGFLAG_IGNORE))
            continue;
        struct dkimverify_sig *o = &out->sigs[out->n_sigs++];
        const char *d = (const char *)dkim_sig_getdomain(sig);
        const char *s = (const char *)dkim_sig_getselector(sig);
        dkimverify_copy_lower(o->domain, sizeof(o->domain), d, d ? strlen(d) : 0);
        snprintf(o->selector, sizeof(o->selector), "%s", s ? s : "");
        dkimverify_judge(m, sig, why_unverified, o);
    }
    return true;
}

/* Copies the value of tag (d or s) from the tag-list v[0..len) into dst,
 * without its white space (folding included); "" when absent. */
static void dkimverify_tag(const char *v, size_t len, const char *tag, char *dst, size_t size,
                           bool lower)
{
    size_t taglen = strlen(tag), i = 0;
    dst[0] = '\0';
    while (i < len) {
        while (i < len && isspace((unsigned char)v[i]))
            i++;
        size_t name = i;
        while (i < len && (isalnum((unsigned char)v[i]) || v[i] == '_'))
            i++;
        size_t name_len = i - name;
        while (i < len && isspace((unsigned char)v[i]))
            i++;
        bool has_eq = i < len && v[i] == '=';
        bool match = has_eq && name_len == taglen && strncmp(v + name, tag, taglen) == 0;
        if (has_eq)
            i++;
        size_t n = 0;
        for (; i < len && v[i] != ';'; i++)
            if (match && !isspace((unsigned char)v[i]) && n + 1 < size)
                dst[n++] = lower ? (char)tolower((unsigned char)v[i]) : v[i];
        if (match) {
            dst[n] = '\0';
            return;
        }
        i++; /* past ';' */
    }
}

/* The next header field of the CRLF copy m[0..len) from *pos: sets *f and
 * *flen (the field without its final line end) and moves *pos past it.
 * False at the empty line that ends the header, or at the end of m. */
static bool dkimverify_next_field(const unsigned char *m, size_t len, size_t *pos, const char **f,
                                  size_t *flen)
{
    size_t i = *pos;
    if (i >= len || m[i] == '\n' || (m[i] == '\r' && i + 1 < len && m[i + 1] == '\n'))
        return false;
    size_t end = i;
    for (;;) { /* a field ends at a line end not followed by white space */
        while (end < len && m[end] != '\n')
            end++;
        if (end + 1 < len && (m[end + 1] == ' ' || m[end + 1] == '\t')) {
            end++;
            continue;
        }
        break;
    }
    *f = (const char *)m + i;
    *flen = end - i;
    *pos = end + 1;
    return true;
}

/* If field f[0..flen) is named name, returns its value (after the colon)
 * and sets *vlen; NULL otherwise. */
static const char *dkimverify_field_value(const char *f, size_t flen, const char *name, size_t *vlen)
{
    const char *colon = memchr(f, ':', flen);
    if (!colon)
        return NULL;
    size_t nlen = (size_t)(colon - f);
    while (nlen > 0 && isspace((unsigned char)f[nlen - 1])) /* as libopendkim trims */
        nlen--;
    if (nlen != strlen(name) || strncasecmp(f, name, nlen) != 0)
        return NULL;
    *vlen = flen - (size_t)(colon - f) - 1;
    return colon + 1;
}

/* True when the field value v[0..len) mentions DKIM-Signature, white
 * space ignored: its h= may name the signature header itself. */
static bool dkimverify_mentions_sigheader(const char *v, size_t len)
{
    static const char pat[] = "dkim-signature";
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        int c = tolower((unsigned char)v[i]);
        if (isspace(c))
            continue;
        /* 'd' occurs once in pat, so a mismatch restarts at 0 or 1. */
        k = c == pat[k] ? k + 1 : (c == pat[0] ? 1 : 0);
        if (k == sizeof(pat) - 1)
            return true;
    }
    return false;
}

/* True when every i= tag (any case) of the tag-list v[0..len) is
 * well-formed dkim-quoted-printable: each '=' followed by two of 0-9A-F,
 * white space ignored. */
static bool dkimverify_identity_ok(const char *v, size_t len)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && isspace((unsigned char)v[i]))
            i++;
        bool is_i = i < len && (v[i] == 'i' || v[i] == 'I');
        size_t name = i;
        while (i < len && v[i] != '=' && v[i] != ';')
            i++;
        for (size_t k = name + 1; is_i && k < i; k++) /* "i" and white space only */
            if (!isspace((unsigned char)v[k]))
                is_i = false;
        if (i < len && v[i] == '=')
            i++;
        int want_hex = 0; /* hex digits still due after an '=' */
        for (; i < len && v[i] != ';'; i++) {
            unsigned char c = (unsigned char)v[i];
            if (!is_i || isspace(c))
                continue;
            if (want_hex > 0) {
                if (!isdigit(c) && (c < 'A' || c > 'F'))
                    return false;
                want_hex--;
            } else if (c == '=') {
                want_hex = 2;
            }
        }
        if (want_hex > 0)
            return false;
        i++; /* past ';' */
    }
    return true;
}

/* Whether the message must not reach libopendkim; why says why. Checks:
 *  - exactly one From header (RFC 5322 3.6): a From added above a signed one
 *    must not borrow its signature (RFC 6376 8.15);
 *  - no DKIM-Signature mentions DKIM-Signature: libopendkim 2.11.0~beta2's
 *    dkim_canon_selecthdrs() writes a pointer past its array when h= names
 *    every header field of the message and more, which requires h= to name
 *    DKIM-Signature (allowed by RFC 6376 5.4, rare in real mail);
 *  - every i= is well-formed: its dkim_qp_decode() reads past the end of a
 *    value that ends in "=" or "=X".
 * The fields are split as dkim_chunk() splits them (CRLF, folding on SP and
 * HTAB, names trimmed as dkim_header() trims them). */
static bool dkimverify_refuse(const unsigned char *m, size_t len, char *why, size_t whylen)
{
    size_t pos = 0, flen, vlen, n_from = 0;
    const char *f;
    while (dkimverify_next_field(m, len, &pos, &f, &flen)) {
        if (dkimverify_field_value(f, flen, "From", &vlen)) {
            n_from++;
            continue;
        }
        const char *v = dkimverify_field_value(f, flen, "DKIM-Signature", &vlen);
        if (!v)
            continue;
        if (dkimverify_mentions_sigheader(v, vlen)) {
            snprintf(why, whylen, "a signature covers DKIM-Signature (unsupported)");
            return true;
        }
        if (!dkimverify_identity_ok(v, vlen)) {
            snprintf(why, whylen, "malformed i= tag");
            return true;
        }
    }
    if (n_from != 1) {
        snprintf(why, whylen, "%zu From headers", n_from);
        return true;
    }
    return false;
}

/* When libopendkim does not get to its signature list (see
 * dkimverify_message()), the result still names each DKIM-Signature header,
 * read here from the CRLF copy: d= and s=, result "not verified: why". */
static void dkimverify_scan(const unsigned char *m, size_t len, const char *why,
                            struct dkimverify_result *out)
{
    size_t pos = 0, flen, vlen;
    const char *f;
    while (out->n_sigs < DKIMVERIFY_MAX_SIGS && dkimverify_next_field(m, len, &pos, &f, &flen)) {
        const char *v = dkimverify_field_value(f, flen, "DKIM-Signature", &vlen);
        if (!v)
            continue;
        struct dkimverify_sig *o = &out->sigs[out->n_sigs++];
        dkimverify_tag(v, vlen, "d", o->domain, sizeof(o->domain), true);
        dkimverify_tag(v, vlen, "s", o->selector, sizeof(o->selector), false);
        snprintf(o->result, sizeof(o->result), "not verified: %s",
                 why && *why ? why : "message not readable");
    }
}

/* A copy of msg in which every bare LF is CRLF. dkim_chunk() without
 * DKIM_LIBFLAGS_FIXCRLF takes a bare LF as an ordinary byte (an LF-only
 * message would be one endless header), and with it guesses the line ending
 * from the first line; converting here also covers mixed input, and DKIM
 * canonicalises lines with CRLF anyway. malloc'd: the caller frees. */
static unsigned char *dkimverify_crlf(const char *msg, size_t len, size_t *out_len)
{
    size_t bare = 0;
    for (size_t i = 0; i < len; i++)
        if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
            bare++;
    if (len > SIZE_MAX - bare - 1)
        return NULL;
    unsigned char *c = malloc(len + bare + 1);
    if (!c)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
            c[n++] = '\r';
        c[n++] = (unsigned char)msg[i];
    }
    c[n] = '\0';
    *out_len = n;
    return c;
}

/* ---- public ----------------------------------------------------------- */

int dkimverify_new(const char *resolvers, int timeout_ms, struct dkimverify **out, struct ad_err *err)
{
    assert(out);
    *out = NULL;
    if (timeout_ms < 1 || timeout_ms > DKIMVERIFY_TIMEOUT_MAX_MS)
        return ad_err_set(err, AD_ERR_CONFIG, "dkim timeout %d ms is not within 1..%d", timeout_ms,
                          DKIMVERIFY_TIMEOUT_MAX_MS);
    struct ares_addr_port_node servers[DKIMVERIFY_MAX_RESOLVERS];
    size_t n_servers = 0;
    int rc = dkimverify_parse_resolvers(resolvers, servers, &n_servers, err);
    if (rc != 0)
        return rc;

    struct dkimverify *v = calloc(1, sizeof(*v));
    if (!v)
        return ad_err_set(err, AD_ERR_NOMEM, "dkimverify: out of memory");
    v->timeout_ms = timeout_ms;
    rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
        rc = dkimverify_ares_err(rc, "ares_library_init", err);
        goto out;
    }
    v->ares_ready = true;
    rc = dkimverify_open_channel(v, servers, n_servers, err);
    if (rc != 0)
        goto out;

    v->lib = dkim_init(NULL, NULL);
    if (!v->lib) {
        rc = ad_err_set(err, AD_ERR_NOMEM, "dkimverify: dkim_init failed");
        goto out;
    }
    /* BADSIGHANDLES: a header or DKIM-Signature libopendkim cannot parse is
     * kept as a failed signature instead of aborting the whole message.
     * DELAYSIGPROC: keys are fetched at the end of the message, where a
     * lookup that fails (DKIM_CBSTAT_TRYAGAIN, _ERROR) fails its signature
     * only; at the end of the header, where libopendkim fetches them by
     * default, the first such lookup ends the whole verification.
     * Not STRICTHDRS (one From, one Date): in 2.11.0~beta2 it leaks a copy of
     * the From header per message; dkimverify_message() checks From itself. */
    uint32_t flags = DKIM_LIBFLAGS_BADSIGHANDLES | DKIM_LIBFLAGS_DELAYSIGPROC;
    if (dkim_options(v->lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags)) != DKIM_STAT_OK ||
        dkim_set_key_lookup(v->lib, dkimverify_key_lookup) != DKIM_STAT_OK ||
        dkim_set_prescreen(v->lib, dkimverify_prescreen) != DKIM_STAT_OK) {
        rc = ad_err_set(err, AD_ERR_CONFIG, "dkimverify: libopendkim refused its options");
        goto out;
    }
    *out = v;
    v = NULL;
    rc = 0;
out:
    dkimverify_free(v);
    return rc;
}

struct dkimverify *dkimverify_free(struct dkimverify *v)
{
    if (!v)
        return NULL;
    if (v->lib)
        dkim_close(v->lib);
    if (v->chan_ready)
        ares_destroy(v->chan);
    if (v->ares_ready)
        ares_library_cleanup();
    free(v);
    return NULL;
}

void dkimverify_set_filter(struct dkimverify *v, bool (*want)(const char *domain, void *ctx),
                           void *ctx)
{
    if (!v)
        return;
    v->want = want;
    v->want_ctx = ctx;
}

int dkimverify_message(struct dkimverify *v, const char *msg, size_t len, struct dkimverify_result *out)
{
    if (!out)
        return 0;
    memset(out, 0, sizeof(*out));
    if (!v || !msg || len == 0)
        return 0;
    size_t clen = 0;
    unsigned char *canon = dkimverify_crlf(msg, len, &clen);
    if (!canon)
        return 0;

    DKIM *dkim = NULL;
    char refused[64];
    if (dkimverify_refuse(canon, clen, refused, sizeof(refused))) {
        dkimverify_scan(canon, clen, refused, out);
        goto out;
    }
    struct dkimverify_msg m;
    memset(&m, 0, sizeof(m));
    m.v = v;
    /* One message costs at most two lookups' time, however many signatures. */
    m.deadline_ms = dkimverify_now_ms() + 2LL * v->timeout_ms;
    DKIM_STAT st;
    dkim = dkim_verify(v->lib, (const unsigned char *)"dkimverify", NULL, &st);
    if (!dkim) {
        dkimverify_scan(canon, clen, "libopendkim could not start", out);
        goto out;
    }
    dkim_set_user_context(dkim, &m);
    st = dkim_chunk(dkim, canon, clen);
    if (st == DKIM_STAT_OK)
        st = dkim_chunk(dkim, NULL, 0); /* end of message (and of the header if no body) */
    if (st == DKIM_STAT_OK) {
        _Bool testkey = 0;
        (void)dkim_eom(dkim, &testkey); /* per-signature results are in the list */
    }
    if (st == DKIM_STAT_NOSIG)
        goto out;
    /* Short of its signature list (a header block it rejects, no memory),
     * libopendkim's list is empty: report the headers as not verified. */
    const char *why = st == DKIM_STAT_OK ? NULL : dkim_geterror(dkim);
    if (!dkimverify_collect(dkim, &m, why, out) || (out->n_sigs == 0 && st != DKIM_STAT_OK))
        dkimverify_scan(canon, clen, why, out);
out:
    if (dkim)
        dkim_free(dkim);
    free(canon);
    int passes = 0;
    for (size_t i = 0; i < out->n_sigs; i++)
        passes += out->sigs[i].pass;
    return passes;
}

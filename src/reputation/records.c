/*
 * records.c: SPF and DMARC record syntax (see records.h). Written here rather
 * than taken from libspf2 or libopendmarc: libspf2 is unmaintained upstream
 * and has had memory-safety bugs in its macro expansion (CVE-2021-20314,
 * CVE-2023-42118) with no maintained release to follow, and its resolver is
 * synchronous (one blocking lookup at a time); the audit only needs the
 * terms, which this small bounded reader gives, and does its own lookups over
 * c-ares (audit.c). No allocation: everything lands in the caller's structs.
 */
#include "reputation/records.h"

#include <arpa/inet.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>

static void why(char *problem, size_t size, const char *pre, const char *tok, size_t len,
                const char *post)
{
    if (!problem || !size)
        return;
    char t[80];
    size_t n = len < sizeof t - 1 ? len : sizeof t - 1;
    memcpy(t, tok, n);
    t[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] < 0x20 || (unsigned char)t[i] >= 0x7f)
            t[i] = '?';
    snprintf(problem, size, "%s%s%s", pre, t, post);
}

bool spf_is_record(const char *txt)
{
    return g_ascii_strncasecmp(txt, "v=spf1", 6) == 0 && (txt[6] == '\0' || txt[6] == ' ');
}

static bool parse_num(const char *s, size_t len, int max, int *out)
{
    if (len == 0 || len > 3)
        return false;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* domain-spec [ "/" ip4-cidr ] [ "//" ip6-cidr ] after ':' (or only the cidrs). */
static bool parse_target(const char *s, size_t len, bool want_domain, bool cidrs,
                         struct spf_term *t)
{
    const char *slash = cidrs ? memchr(s, '/', len) : NULL;
    size_t dlen = slash ? (size_t)(slash - s) : len;
    if (dlen > 0 && s[0] == ':') {
        s++;
        dlen--;
        len--;
        if (slash == NULL && dlen == 0)
            return false;
        if (dlen == 0)
            return false;
    } else if (dlen > 0) {
        return false; /* something between the name and ':' */
    } else if (want_domain) {
        return false; /* include/exists need a domain */
    }
    if (dlen > RECORDS_MAX_NAME)
        return false;
    for (size_t i = 0; i < dlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f)
            return false;
    }
    memcpy(t->domain, s, dlen);
    t->domain[dlen] = '\0';
    t->has_macro = memchr(s, '%', dlen) != NULL;
    if (dlen && t->domain[dlen - 1] == '.')
        t->domain[dlen - 1] = '\0';
    if (slash) {
        /* "/N" (IPv4), then "//N" (IPv6); either may be left out. */
        const char *c = slash, *end = s + len;
        if (c + 1 < end && c[1] != '/') {
            c++;
            const char *e = memchr(c, '/', (size_t)(end - c));
            size_t n = e ? (size_t)(e - c) : (size_t)(end - c);
            if (!parse_num(c, n, 32, &t->cidr4))
                return false;
            c += n;
        }
        if (c < end) {
            if (end - c < 3 || c[0] != '/' || c[1] != '/')
                return false;
            if (!parse_num(c + 2, (size_t)(end - c - 2), 128, &t->cidr6))
                return false;
        }
    }
    return true;
}

static bool parse_ip(const char *s, size_t len, bool v6, struct spf_term *t)
{
    if (len < 2 || s[0] != ':')
        return false;
    s++;
    len--;
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    char a[INET6_ADDRSTRLEN + 1];
    if (alen == 0 || alen >= sizeof a)
        return false;
    memcpy(a, s, alen);
    a[alen] = '\0';
    if (v6) {
        if (inet_pton(AF_INET6, a, t->addr) != 1)
            return false;
        t->cidr6 = 128;
        if (slash && !parse_num(slash + 1, len - alen - 1, 128, &t->cidr6))
            return false;
    } else {
        static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        memcpy(t->addr, mapped, 12);
        if (inet_pton(AF_INET, a, t->addr + 12) != 1)
            return false;
        t->cidr4 = 32;
        if (slash && !parse_num(slash + 1, len - alen - 1, 32, &t->cidr4))
            return false;
    }
    return true;
}

bool spf_parse(const char *txt, struct spf_record *out, char *problem, size_t size)
{
    memset(out, 0, sizeof *out);
    out->redirect = -1;
    if (problem && size)
        problem[0] = '\0';
    if (!spf_is_record(txt)) {
        why(problem, size, "not an SPF record (no v=spf1 at the start)", "", 0, "");
        return false;
    }
    const char *p = txt + 6;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        size_t len = (size_t)(e - p);
        if (out->n_terms == RECORDS_MAX_TERMS) {
            why(problem, size, "more than 64 terms", "", 0, "");
            return false;
        }
        struct spf_term *t = &out->terms[out->n_terms];
        memset(t, 0, sizeof *t);
        t->qual = '+';
        t->cidr4 = 32;
        t->cidr6 = 128;
        const char *s = p;
        size_t n = len;
        bool ok = true;
        const char *eq = memchr(s, '=', n);
        const char *colon = memchr(s, ':', n);
        const char *sl = memchr(s, '/', n);
        if (eq && (!colon || eq < colon) && (!sl || eq < sl)) {
            /* A modifier: name=value. */
            size_t nl = (size_t)(eq - s);
            if (nl == 8 && !g_ascii_strncasecmp(s, "redirect", 8)) {
                t->mech = SPF_REDIRECT;
                if (out->redirect >= 0) {
                    why(problem, size, "redirect= given twice", "", 0, "");
                    return false;
                }
                out->redirect = (int)out->n_terms;
            } else if (nl == 3 && !g_ascii_strncasecmp(s, "exp", 3)) {
                t->mech = SPF_EXP;
            } else {
                t->mech = SPF_OTHER_MOD;
                for (size_t i = 0; i < nl && ok; i++)
                    ok = g_ascii_isalnum(s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '.';
                ok = ok && nl > 0 && g_ascii_isalpha(s[0]);
            }
            if (ok && t->mech != SPF_OTHER_MOD) {
                /* ':' + value, so that parse_target reads it like a mechanism's */
                size_t vl = n - nl - 1;
                char tmp[RECORDS_MAX_NAME + 2];
                if (vl == 0 || vl > RECORDS_MAX_NAME) {
                    ok = false;
                } else {
                    tmp[0] = ':';
                    memcpy(tmp + 1, eq + 1, vl);
                    ok = parse_target(tmp, vl + 1, true, false, t);
                }
            }
        } else {
            if (*s == '+' || *s == '-' || *s == '~' || *s == '?') {
                t->qual = *s;
                s++;
                n--;
            }
            size_t nl = 0;
            while (nl < n && g_ascii_isalnum(s[nl]))
                nl++;
            const char *rest = s + nl;
            size_t rl = n - nl;
#define IS(w) (nl == sizeof(w) - 1 && !g_ascii_strncasecmp(s, w, nl))
            if (IS("all")) {
                t->mech = SPF_ALL;
                ok = rl == 0;
            } else if (IS("include")) {
                t->mech = SPF_INCLUDE;
                ok = parse_target(rest, rl, true, false, t);
            } else if (IS("a")) {
                t->mech = SPF_A;
                ok = parse_target(rest, rl, false, true, t);
            } else if (IS("mx")) {
                t->mech = SPF_MX;
                ok = parse_target(rest, rl, false, true, t);
            } else if (IS("ptr")) {
                t->mech = SPF_PTR;
                ok = parse_target(rest, rl, false, false, t);
            } else if (IS("exists")) {
                t->mech = SPF_EXISTS;
                ok = parse_target(rest, rl, true, false, t);
            } else if (IS("ip4")) {
                t->mech = SPF_IP4;
                ok = parse_ip(rest, rl, false, t);
            } else if (IS("ip6")) {
                t->mech = SPF_IP6;
                ok = parse_ip(rest, rl, true, t);
            } else {
                ok = false;
            }
#undef IS
        }
        if (!ok) {
            why(problem, size, "syntax error at '", p, len, "'");
            return false;
        }
        out->n_terms++;
        p = e;
    }
    return true;
}

void spf_term_text(const struct spf_term *t, char *buf, size_t size)
{
    static const char *const names[] = { "all", "include", "a", "mx", "ptr", "ip4", "ip6",
                                         "exists", "redirect", "exp", "modifier" };
    const char *name = names[t->mech];
    char q[2] = { t->qual == '+' ? '\0' : t->qual, '\0' };
    if (t->mech == SPF_ALL)
        snprintf(buf, size, "%call", t->qual);
    else if (t->mech == SPF_REDIRECT || t->mech == SPF_EXP)
        snprintf(buf, size, "%s=%s", name, t->domain);
    else if (t->domain[0])
        snprintf(buf, size, "%s%s:%s", q, name, t->domain);
    else
        snprintf(buf, size, "%s%s", q, name);
}

bool dmarc_is_record(const char *txt)
{
    while (*txt == ' ' || *txt == '\t')
        txt++;
    if (g_ascii_strncasecmp(txt, "v", 1))
        return false;
    txt++;
    while (*txt == ' ' || *txt == '\t')
        txt++;
    if (*txt != '=')
        return false;
    txt++;
    while (*txt == ' ' || *txt == '\t')
        txt++;
    return g_ascii_strncasecmp(txt, "DMARC1", 6) == 0
           && (txt[6] == '\0' || txt[6] == ';' || txt[6] == ' ' || txt[6] == '\t');
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

bool dmarc_record_parse(const char *txt, struct dmarc_record *out, char *problem, size_t size)
{
    memset(out, 0, sizeof *out);
    out->pct = 100;
    out->adkim = out->aspf = 'r';
    if (problem && size)
        problem[0] = '\0';
    if (!dmarc_is_record(txt)) {
        why(problem, size, "not a DMARC record (no v=DMARC1 first)", "", 0, "");
        return false;
    }
    const char *p = strchr(txt, ';');
    bool have_p = false;
    unsigned n_tags = 0;
    while (p && *p) {
        p++;
        const char *e = strchr(p, ';');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *s = p;
        size_t n = len;
        p = e;
        trim(&s, &n);
        if (n == 0)
            continue;
        if (++n_tags > 32) {
            why(problem, size, "more than 32 tags", "", 0, "");
            return false;
        }
        const char *eq = memchr(s, '=', n);
        if (!eq) {
            why(problem, size, "tag without a value: '", s, n, "'");
            return false;
        }
        const char *k = s, *v = eq + 1;
        size_t kl = (size_t)(eq - s), vl = n - kl - 1;
        trim(&k, &kl);
        trim(&v, &vl);
#define KEY(w) (kl == sizeof(w) - 1 && !g_ascii_strncasecmp(k, w, kl))
        if (KEY("p") || KEY("sp")) {
            char *dst = KEY("p") ? out->p : out->sp;
            if (!(vl == 4 && !g_ascii_strncasecmp(v, "none", 4))
                && !(vl == 10 && !g_ascii_strncasecmp(v, "quarantine", 10))
                && !(vl == 6 && !g_ascii_strncasecmp(v, "reject", 6))) {
                why(problem, size, "policy is not none, quarantine or reject: '", v, vl, "'");
                return false;
            }
            for (size_t i = 0; i < vl; i++)
                dst[i] = (char)g_ascii_tolower(v[i]);
            dst[vl] = '\0';
            if (KEY("p"))
                have_p = true;
        } else if (KEY("pct")) {
            if (!parse_num(v, vl, 100, &out->pct)) {
                why(problem, size, "pct is not 0..100: '", v, vl, "'");
                return false;
            }
        } else if (KEY("adkim") || KEY("aspf")) {
            if (vl != 1 || (g_ascii_tolower(v[0]) != 'r' && g_ascii_tolower(v[0]) != 's')) {
                why(problem, size, "alignment is not r or s: '", v, vl, "'");
                return false;
            }
            if (KEY("adkim"))
                out->adkim = (char)g_ascii_tolower(v[0]);
            else
                out->aspf = (char)g_ascii_tolower(v[0]);
        } else if (KEY("rua")) {
            /* Comma-separated URIs; mailto: ones kept, a "!size" suffix dropped. */
            const char *u = v, *end = v + vl;
            while (u < end) {
                const char *c = memchr(u, ',', (size_t)(end - u));
                size_t ul = c ? (size_t)(c - u) : (size_t)(end - u);
                const char *us = u;
                trim(&us, &ul);
                const char *bang = memchr(us, '!', ul);
                if (bang)
                    ul = (size_t)(bang - us);
                if (ul > 7 && !g_ascii_strncasecmp(us, "mailto:", 7)
                    && out->n_rua < RECORDS_MAX_RUA && ul - 7 <= RECORDS_MAX_NAME) {
                    char *d = out->rua[out->n_rua++];
                    for (size_t i = 0; i < ul - 7; i++)
                        d[i] = (char)g_ascii_tolower(us[7 + i]);
                    d[ul - 7] = '\0';
                }
                u = c ? c + 1 : end;
            }
        }
#undef KEY
    }
    if (!have_p) {
        why(problem, size, "no p= tag (the policy)", "", 0, "");
        return false;
    }
    return true;
}

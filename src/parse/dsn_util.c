/*
 * dsn_util.c: bounded text helpers and the scratch entry list shared by the
 * bounce recogniser (dsn.c, dsn_rfc3464.c, dsn_text.c). Every function takes an
 * explicit length or a NUL-terminated string and never reads past it; none can
 * fail except by GLib's abort on out-of-memory. Strings returned by *_dup and
 * stored in entries are GLib-allocated and freed by dsn_scan_clear().
 */
#define _GNU_SOURCE /* memmem */
#include "dsn_priv.h"
#include "mimetree.h"

#include "dsn_grams.h"

#include <string.h>

static void dsn_ent_free(gpointer p)
{
    struct dsn_ent *e = p;
    if (!e)
        return;
    g_free(e->rcpt);
    g_free(e->orig_rcpt);
    g_free(e->action);
    g_free(e->status);
    g_free(e->diag);
    g_free(e->rmta);
    g_free(e->cmd);
    g_free(e);
}

void dsn_scan_init(struct dsn_scan *s)
{
    memset(s, 0, sizeof(*s));
    s->ents = g_ptr_array_new_with_free_func(dsn_ent_free);
}

void dsn_scan_clear(struct dsn_scan *s)
{
    if (s->ents)
        g_ptr_array_free(s->ents, TRUE);
    s->ents = NULL;
    g_free(s->reporting_mta);
    s->reporting_mta = NULL;
    g_free(s->notice);
    s->notice = NULL;
}

struct dsn_ent *dsn_ent_new(struct dsn_scan *s)
{
    if (s->ents->len >= DSN_MAX_RCPTS)
        return NULL;
    struct dsn_ent *e = g_new0(struct dsn_ent, 1);
    g_ptr_array_add(s->ents, e);
    return e;
}

struct dsn_ent *dsn_ent_find(struct dsn_scan *s, const char *addr)
{
    if (!addr)
        return NULL;
    for (guint i = 0; i < s->ents->len; i++) {
        struct dsn_ent *e = g_ptr_array_index(s->ents, i);
        if (e->rcpt && g_ascii_strcasecmp(e->rcpt, addr) == 0)
            return e;
    }
    return NULL;
}

/* Copies s[0..n) collapsing every run of white space (and NUL bytes) into one
 * space and trimming both ends; NULL when nothing is left. */
static char *collapse(const char *s, size_t n)
{
    if (n > DSN_MAX_DIAG)
        n = DSN_MAX_DIAG;
    GString *g = g_string_sized_new(n + 1);
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\0' || g_ascii_isspace(c)) {
            space = true;
            continue;
        }
        if (space && g->len > 0)
            g_string_append_c(g, ' ');
        space = false;
        g_string_append_c(g, (char)c);
    }
    if (g->len == 0) {
        g_string_free(g, TRUE);
        return NULL;
    }
    if (!mime_utf8_valid(g->str, (long)g->len)) {
        /* Report strings are UTF-8: bytes of an undeclared charset become U+FFFD. */
        char *v = g_utf8_make_valid(g->str, (gssize)g->len);
        g_string_free(g, TRUE);
        return v;
    }
    return g_string_free(g, FALSE);
}

void dsn_set(char **field, const char *s, size_t n)
{
    char *v = s ? collapse(s, n) : NULL;
    g_free(*field);
    *field = v;
}

void dsn_append(char **field, const char *s, size_t n)
{
    char *v = s ? collapse(s, n) : NULL;
    if (!v)
        return;
    if (!*field) {
        *field = v;
        return;
    }
    if (strlen(*field) + strlen(v) < DSN_MAX_DIAG) {
        char *j = g_strconcat(*field, " ", v, NULL);
        g_free(*field);
        *field = j;
    }
    g_free(v);
}

size_t dsn_line(const char *p, const char *end, const char **next)
{
    if (p >= end) {
        *next = end;
        return 0;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) {
        *next = end;
        return (size_t)(end - p);
    }
    *next = nl + 1;
    return (size_t)(nl - p);
}

/* ASCII lower-case of every byte value; other bytes map to themselves. */
static const unsigned char dsn_lower_tab[256] = {
#define L4(b) (b), (b) + 1, (b) + 2, (b) + 3
#define L16(b) L4(b), L4((b) + 4), L4((b) + 8), L4((b) + 12)
    L16(0x00), L16(0x10), L16(0x20), L16(0x30),
    0x40, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
    L16(0x60), L16(0x70), L16(0x80), L16(0x90), L16(0xa0), L16(0xb0), L16(0xc0),
    L16(0xd0), L16(0xe0), L16(0xf0),
#undef L16
#undef L4
};

/* Compares m bytes of s (any case) with the lower-case needle nl. */
static bool dsn_caseeq(const char *s, const char *nl, size_t m)
{
    for (size_t k = 0; k < m; k++)
        if (dsn_lower_tab[(unsigned char)s[k]] != (unsigned char)nl[k])
            return false;
    return true;
}

const char *dsn_memcasestr(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (m == 0)
        return s;
    if (m > n)
        return NULL;
    char nl[128];
    if (m > sizeof nl)
        m = sizeof nl;  /* longer needles do not occur; compare their prefix */
    for (size_t k = 0; k < m; k++)
        nl[k] = (char)dsn_lower_tab[(unsigned char)needle[k]];
    /* Candidates for the first byte are found with memchr (vectorised in libc),
     * once for each case of a letter, so the search runs at memchr speed. */
    unsigned char lo = (unsigned char)nl[0];
    unsigned char up = g_ascii_isalpha(lo) ? (unsigned char)g_ascii_toupper(lo) : lo;
    const char *last = s + (n - m);
    const char *pl = memchr(s, lo, n - m + 1);
    const char *pu = up != lo ? memchr(s, up, n - m + 1) : NULL;
    while (pl || pu) {
        const char *p = !pu || (pl && pl < pu) ? pl : pu;
        if (dsn_caseeq(p + 1, nl + 1, m - 1))
            return p;
        if (p == pl)
            pl = p < last ? memchr(p + 1, lo, (size_t)(last - p)) : NULL;
        else
            pu = p < last ? memchr(p + 1, up, (size_t)(last - p)) : NULL;
    }
    return NULL;
}

char *dsn_lower_dup(const char *s, size_t n)
{
    char *d = g_malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        d[i] = (char)dsn_lower_tab[(unsigned char)s[i]];
    d[n] = '\0';
    return d;
}

const char *dsn_lfind(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    char nl[128];
    if (m == 0)
        return hay;
    if (m > sizeof nl || m > n)
        return m > n ? NULL : dsn_memcasestr(hay, n, needle);
    for (size_t k = 0; k < m; k++)
        nl[k] = (char)dsn_lower_tab[(unsigned char)needle[k]];
    return memmem(hay, n, nl, m);
}

bool dsn_hasprefix(const char *s, size_t n, const char *prefix)
{
    if (n == 0 || !*prefix)
        return !*prefix;
    if (g_ascii_tolower(*s) != g_ascii_tolower(*prefix))
        return false;
    size_t m = strlen(prefix);
    return m <= n && g_ascii_strncasecmp(s, prefix, m) == 0;
}

static bool local_char(unsigned char c)
{
    return g_ascii_isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

static bool domain_char(unsigned char c)
{
    return g_ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '[' || c == ']'
           || c == ':';
}

const char *dsn_addr_find(const char *s, size_t n, size_t *alen)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '@')
            continue;
        size_t a = i;
        bool quoted = false;
        if (i > 1 && s[i - 1] == '"') {
            /* A quoted local part: "neko..nyaan"@example.org */
            size_t q = i - 1;
            while (q > 0 && s[q - 1] != '"' && s[q - 1] != '<' && i - q < 128)
                q--;
            if (q > 0 && s[q - 1] == '"') {
                a = q - 1;
                quoted = true;
            }
        }
        while (!quoted && a > 0 && local_char((unsigned char)s[a - 1]))
            a--;
        size_t b = i + 1;
        while (b < n && domain_char((unsigned char)s[b]))
            b++;
        /* Trailing dots, colons and brackets belong to the sentence, not the domain. */
        while (b > i + 1 && strchr(".:]", s[b - 1]) && !(s[b - 1] == ']' && s[i + 1] == '['))
            b--;
        while (a < i && s[a] == '.')
            a++;
        if (a == i || b <= i + 1)
            continue;
        /* A domain needs a dot or an address literal (postmaster@localhost aside). */
        *alen = b - a;
        return s + a;
    }
    return NULL;
}

/* True when the quoted local part starting at q (after the opening quote, up to the
 * closing one) is no dot-atom ("neko..nyaan", "neko nyaan"), so the quotes are part
 * of the address (RFC 5321 4.1.2) and must stay. */
static bool quote_needed(const char *q)
{
    size_t n = 0;
    bool dot = true; /* a leading dot is as bad as two in a row */
    for (; q[n] && q[n] != '"'; n++) {
        unsigned char c = (unsigned char)q[n];
        if (c == '.') {
            if (dot)
                return true;
            dot = true;
            continue;
        }
        if (!local_char(c))
            return true;
        dot = false;
    }
    return n == 0 || dot;
}

char *dsn_addr_dup(const char *s, size_t n)
{
    size_t alen = 0;
    const char *a = dsn_addr_find(s, n, &alen);
    if (!a)
        return NULL;
    char *d = g_strndup(a, alen);
    if (d[0] == '"' && !quote_needed(d + 1)) {
        /* "neko"@example.org is neko@example.org: drop quotes that protect nothing. */
        char *o = d;
        for (char *p = d; *p; p++)
            if (*p != '"')
                *o++ = *p;
        *o = '\0';
    }
    return d;
}

bool dsn_addr_routable_n(const char *addr, size_t n)
{
    char *a = g_strndup(addr, n);
    bool ok = dsn_addr_routable(a);
    g_free(a);
    return ok;
}

bool dsn_addr_routable(const char *addr)
{
    if (!addr)
        return false;
    const char *at = strrchr(addr, '@');
    if (!at || at == addr || addr[0] == '@' || !at[1])
        return false;
    return at[1] == '[' || strchr(at + 1, '.') != NULL;
}

bool dsn_status_find(const char *s, bool strict, char out[16])
{
    if (!s)
        return false;
    for (const char *p = s; *p; p++) {
        if (!(*p == '2' || *p == '4' || *p == '5'))
            continue;
        if (p > s && (g_ascii_isdigit(p[-1]) || p[-1] == '.'))
            continue;
        if (p[1] != '.' || !g_ascii_isdigit((unsigned char)p[2]))
            continue;
        const char *q = p + 2;
        size_t d1 = 0;
        while (g_ascii_isdigit(*q) && d1 < 4) {
            q++;
            d1++;
        }
        if (d1 > 3 || *q != '.' || !g_ascii_isdigit((unsigned char)q[1]))
            continue;
        const char *r = q + 1;
        size_t d2 = 0;
        while (g_ascii_isdigit(*r) && d2 < 4) {
            r++;
            d2++;
        }
        if (d2 > 3 || g_ascii_isdigit(*r) || (*r == '.' && g_ascii_isdigit((unsigned char)r[1])))
            continue;
        if (*r == '@' || g_ascii_isalpha(*r))
            continue;
        size_t n = (size_t)(r - p);
        if (n >= 16)
            continue;
        if (strict) {
            /* "5.0.0" and "5.1.0" carry no detail; "5.0.1" neither. */
            bool zero_subj = (d1 == 1 && p[2] == '0');
            bool zero_det = (d2 == 1 && q[1] == '0');
            if (zero_subj || zero_det)
                continue;
        }
        memcpy(out, p, n);
        out[n] = '\0';
        return true;
    }
    return false;
}

int dsn_reply_find(const char *s)
{
    if (!s)
        return 0;
    for (const char *p = s; *p; p++) {
        if (!(*p >= '2' && *p <= '5'))
            continue;
        if (p > s && (g_ascii_isalnum(p[-1]) || p[-1] == '.' || p[-1] == '-' || p[-1] == '#'))
            continue;
        if (!g_ascii_isdigit(p[1]) || !g_ascii_isdigit(p[2]))
            continue;
        if (p[1] > '5')
            continue;
        char c = p[3];
        if (!(c == ' ' || c == '-' || c == '\0' || c == ']' || c == ')' || c == ';' || c == ','))
            continue;
        return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    }
    return 0;
}

const char *dsn_cmd_guess(const char *s)
{
    if (!s)
        return NULL;
    /* Order matters: "after RCPT TO" beats a later "DATA". The phrases are the
     * ones MTAs use to say which command was refused. */
    static const struct {
        const char *needle;
        const char *cmd;
    } table[] = {
        {"after end of data", "DATA"},
        {"final data", "DATA"},
        {"end of data", "DATA"},
        {"after data", "DATA"},
        {"in reply to data", "DATA"},
        {"in reply to end of data", "DATA"},
        {"our data", "DATA"},
        {"after rcpt to", "RCPT"},
        {"does not like recipient", "RCPT"},
        {"in reply to rcpt to", "RCPT"},
        {"our rcpt to", "RCPT"},
        {"rcpt to response", "RCPT"},
        {">>> rcpt to", "RCPT"},
        {"[rcpt_to]", "RCPT"},
        {"after mail from", "MAIL"},
        {"in reply to mail from", "MAIL"},
        {"our mail from", "MAIL"},
        {">>> mail from", "MAIL"},
        {"[mail_from]", "MAIL"},
        {"after ehlo", "EHLO"},
        {"in reply to ehlo", "EHLO"},
        {"after helo", "HELO"},
        {"in reply to helo", "HELO"},
        {">>> data", "DATA"},
        {"while sending end of data", "DATA"},
        {"while sending message body", "DATA"},
        {"while sending data", "DATA"},
        {"while sending rcpt to", "RCPT"},
        {"after rcpt command", "RCPT"},
        {"while sending mail from", "MAIL"},
        {"helo handshake", "HELO"},
        /* An SMTP dialogue quoted in the notice ("Sent: RCPT TO:<addr>",
         * "SMTP:RCPT host ...: 550 ...") when nothing above named the command. */
        {"smtp:rcpt", "RCPT"},
        {"rcpt to:", "RCPT"},
        {"rcpt to generated", "RCPT"},
        {"refused to talk to me", "HELO"},
        {"after initial connection", NULL},
    };
    const char *best = NULL;
    const char *bestpos = NULL;
    size_t n = strlen(s);
    if (n > DSN_MAX_DIAG)
        n = DSN_MAX_DIAG;
    char *lo = dsn_lower_dup(s, n);
    struct dsn_grams *g = g_new(struct dsn_grams, 1);
    dsn_grams_build(g, lo, n);
    for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
        if (!dsn_grams_maybe(g, table[i].needle))
            continue;
        /* Only a hit that starts before the best one so far matters. */
        size_t m = strlen(table[i].needle);
        size_t lim = bestpos ? (size_t)(bestpos - lo) + m - 1 : n;
        const char *p = dsn_lfind(lo, lim < n ? lim : n, table[i].needle);
        if (p) {
            bestpos = p;
            best = table[i].cmd;
        }
    }
    g_free(g);
    g_free(lo);
    return best;
}

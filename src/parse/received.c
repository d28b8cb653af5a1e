/*
 * received.c: splits Received: header values into clauses. Used by original.c for
 * the original message's relay chain, which attribution walks later. The syntax in
 * the wild is loose (comments everywhere, missing clauses, vendor text), so this
 * scanner is tolerant: it tokenises at top level (outside parentheses), recognises
 * the clause keywords from/by/via/with/id/for, and takes the date after the last
 * top-level ';'. It never fails; unparsable parts are left NULL. Strings are copied
 * into the report's arena.
 */
#include "received.h"

#include <gmime/gmime.h>
#include <stdbool.h>
#include <string.h>

enum clause { C_NONE, C_FROM, C_BY, C_VIA, C_WITH, C_ID, C_FOR, C_N };

static enum clause keyword(const char *w, size_t n)
{
    static const struct {
        const char *kw;
        enum clause c;
    } kws[] = {
        { "from", C_FROM }, { "by", C_BY }, { "via", C_VIA },
        { "with", C_WITH }, { "id", C_ID }, { "for", C_FOR },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(kws); i++)
        if (strlen(kws[i].kw) == n && g_ascii_strncasecmp(w, kws[i].kw, n) == 0)
            return kws[i].c;
    return C_NONE;
}

const char *received_iso_date(struct report *r, const char *s)
{
    if (!s)
        return NULL;
    GDateTime *dt = g_mime_utils_header_decode_date(s);
    if (!dt)
        return NULL;
    GDateTime *utc = g_date_time_to_utc(dt);
    char *iso = utc ? g_date_time_format(utc, "%Y-%m-%dT%H:%M:%SZ") : NULL;
    const char *out = report_str(r, iso, -1);
    g_free(iso);
    if (utc)
        g_date_time_unref(utc);
    g_date_time_unref(dt);
    return out;
}

const char *received_first_ip(struct report *r, const char *s)
{
    if (!s)
        return NULL;
    for (const char *p = s; *p; p++) {
        if (*p != '[' && *p != '(' && *p != ' ')
            continue;
        const char *q = p + 1;
        if (g_ascii_strncasecmp(q, "IPv6:", 5) == 0)
            q += 5;
        size_t n = strspn(q, "0123456789abcdefABCDEF.:");
        if (n < 3 || n > 45)
            continue;
        char buf[64];
        memcpy(buf, q, n);
        buf[n] = '\0';
        if (g_hostname_is_ip_address(buf))
            return report_str(r, buf, (gssize)n);
    }
    return NULL;
}

struct received_hop *received_parse(struct report *r, const char *value)
{
    struct received_hop *h = g_new0(struct received_hop, 1);
    if (!value)
        return h;

    /* Unfold and squeeze white space into one working copy. */
    size_t len = strlen(value);
    char *buf = g_malloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = value[i];
        if (c == '\r' || c == '\n' || c == '\t')
            c = ' ';
        if (c == ' ' && (n == 0 || buf[n - 1] == ' '))
            continue;
        buf[n++] = c;
    }
    while (n > 0 && buf[n - 1] == ' ')
        n--;
    buf[n] = '\0';
    h->raw = report_str(r, buf, (gssize)n);

    /* The date follows the last ';' that is outside any comment. */
    size_t end = n;
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '(')
            depth++;
        else if (buf[i] == ')' && depth > 0)
            depth--;
        else if (buf[i] == ';' && depth == 0)
            end = i;
    }
    if (end < n)
        h->date = received_iso_date(r, buf + end + 1);

    /* Clause starts: a keyword word at top level, preceded by start or a space. */
    size_t start[C_N] = { 0 }, stop[C_N] = { 0 };
    bool seen[C_N] = { false };
    enum clause cur = C_NONE;
    depth = 0;
    for (size_t i = 0; i < end; i++) {
        char c = buf[i];
        if (c == '(') {
            depth++;
            continue;
        }
        if (c == ')') {
            if (depth > 0)
                depth--;
            continue;
        }
        if (depth > 0 || c == ' ' || (i > 0 && buf[i - 1] != ' '))
            continue;
        size_t w = i;
        while (w < end && buf[w] != ' ' && buf[w] != '(')
            w++;
        enum clause k = keyword(buf + i, w - i);
        if (k != C_NONE && !seen[k] && w < end) {
            if (cur != C_NONE)
                stop[cur] = i;
            cur = k;
            seen[k] = true;
            start[k] = w;
        }
        i = w > i ? w - 1 : i;
    }
    if (cur != C_NONE)
        stop[cur] = end;

    const char **dst[C_N] = { NULL, &h->from, &h->by, NULL, &h->with, &h->id, NULL };
    for (int k = C_FROM; k < C_N; k++) {
        if (!seen[k] || !dst[k])
            continue;
        const char *s = buf + start[k];
        size_t sl = stop[k] - start[k];
        if (k != C_FROM) {
            /* by/with/id: the first word only, comments are vendor noise. */
            while (sl > 0 && *s == ' ') {
                s++;
                sl--;
            }
            size_t wl = 0;
            while (wl < sl && s[wl] != ' ' && s[wl] != '(' && s[wl] != ';')
                wl++;
            sl = wl;
        }
        *dst[k] = report_strtrim(r, s, (gssize)sl);
    }
    g_free(buf);
    return h;
}

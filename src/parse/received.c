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
#include <time.h>

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

/* The strict RFC 5322 form almost every MTA writes ("[Thu,] 29 Apr 2009 00:00:00
 * -0700 (PDT)", also with GMT/UT/UTC/Z), read by hand into Unix seconds: GMime's
 * general date parser builds a time zone object per call and was the largest cost
 * of reading a Received chain. Anything else returns false and goes to GMime. */
static bool fast_date(const char *s, int64_t *out)
{
    static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    if (g_ascii_isalpha(p[0])) { /* day of week */
        while (g_ascii_isalpha(*p))
            p++;
        if (*p == ',')
            p++;
        while (*p == ' ' || *p == '\t')
            p++;
    }
    int day = 0, n = 0;
    while (g_ascii_isdigit(*p) && n < 2)
        day = day * 10 + (*p++ - '0'), n++;
    if (n == 0 || *p != ' ')
        return false;
    while (*p == ' ')
        p++;
    char mon[4] = { (char)g_ascii_tolower(p[0]), p[0] ? (char)g_ascii_tolower(p[1]) : 0,
                    p[0] && p[1] ? (char)g_ascii_tolower(p[2]) : 0, 0 };
    const char *m = strstr(months, mon);
    if (!mon[2] || !m || (m - months) % 3 != 0 || g_ascii_isalpha(p[3]))
        return false;
    int month = (int)(m - months) / 3 + 1;
    p += 3;
    while (*p == ' ')
        p++;
    int year = 0;
    n = 0;
    while (g_ascii_isdigit(*p) && n < 4)
        year = year * 10 + (*p++ - '0'), n++;
    if (n != 4 || *p != ' ')
        return false;
    while (*p == ' ')
        p++;
    int hh, mm, ss = 0;
    if (!g_ascii_isdigit(p[0]) || !g_ascii_isdigit(p[1]) || p[2] != ':' || !g_ascii_isdigit(p[3])
        || !g_ascii_isdigit(p[4]))
        return false;
    hh = (p[0] - '0') * 10 + (p[1] - '0');
    mm = (p[3] - '0') * 10 + (p[4] - '0');
    p += 5;
    if (*p == ':') {
        if (!g_ascii_isdigit(p[1]) || !g_ascii_isdigit(p[2]))
            return false;
        ss = (p[1] - '0') * 10 + (p[2] - '0');
        p += 3;
    }
    if (*p != ' ')
        return false;
    while (*p == ' ')
        p++;
    int off = 0;
    if ((p[0] == '+' || p[0] == '-') && g_ascii_isdigit(p[1]) && g_ascii_isdigit(p[2])
        && g_ascii_isdigit(p[3]) && g_ascii_isdigit(p[4]) && !g_ascii_isdigit(p[5])) {
        off = ((p[1] - '0') * 10 + (p[2] - '0')) * 60 + (p[3] - '0') * 10 + (p[4] - '0');
        if (p[0] == '-')
            off = -off;
    } else if (!(g_ascii_strncasecmp(p, "GMT", 3) == 0 || g_ascii_strncasecmp(p, "UTC", 3) == 0
                 || (g_ascii_strncasecmp(p, "UT", 2) == 0 && !g_ascii_isalpha(p[2]))
                 || (p[0] == 'Z' && !g_ascii_isalpha(p[1])))) {
        return false;
    }
    if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year < 1000)
        return false;
    /* days from civil (Howard Hinnant's algorithm) */
    int y = year - (month <= 2);
    int era = y / 400;
    int yoe = y - era * 400;
    int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    *out = days * 86400 + hh * 3600 + mm * 60 + (ss == 60 ? 59 : ss) - (int64_t)off * 60;
    return true;
}

const char *received_iso_date(struct report *r, const char *s)
{
    if (!s)
        return NULL;
    int64_t t0 = 0;
    if (fast_date(s, &t0)) {
        time_t t = (time_t)t0;
        struct tm tm;
        if (gmtime_r(&t, &tm) && tm.tm_year + 1900 >= 1000 && tm.tm_year + 1900 <= 9999) {
            char buf[32];
            g_snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
            return report_str(r, buf, -1);
        }
    }
    GDateTime *dt = g_mime_utils_header_decode_date(s);
    if (!dt)
        return NULL;
    /* gmtime_r + snprintf: g_date_time_format() showed in the parse benchmark.
     * Years outside 1000..9999 take the general path (same output). */
    time_t t = (time_t)g_date_time_to_unix(dt);
    struct tm tm;
    if (gmtime_r(&t, &tm) && tm.tm_year + 1900 >= 1000 && tm.tm_year + 1900 <= 9999) {
        char buf[32];
        g_snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        g_date_time_unref(dt);
        return report_str(r, buf, -1);
    }
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

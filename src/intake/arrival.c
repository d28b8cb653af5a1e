/*
 * arrival.c: the time a report reached us, from its header block (see
 * arrival.h). Called by the intake for `ingest --replay`; pure (no store, no
 * clock), owns nothing it returns. Header lines are walked as authres.c walks
 * them: the block ends at the first empty line or at head_len; a value cut by
 * head_len is not used. A Received header counts when its "by" host is one of
 * ours: our MX wrote it when it took the report in, so its date is the arrival.
 * Hops below it were written by other hosts (or the sender) and say nothing
 * about when we got it. The Date header is the reporter's word only and is the
 * fallback.
 */
#include "arrival.h"

#include <glib.h>
#include <gmime/gmime.h>
#include <string.h>

#define ARRIVAL_MAX_VALUE 8192
#define ARRIVAL_MIN_TIME 631152000LL    /* 1990-01-01 */
#define ARRIVAL_MAX_TIME 7258118400LL   /* 2200-01-01 */

static size_t line_end(const char *h, size_t n, size_t i)
{
    while (i < n && h[i] != '\n')
        i++;
    return i < n ? i + 1 : n;
}

/* Copies an unfolded value (CR/LF/TAB to spaces) into a NUL-terminated buffer. */
static char *value_dup(const char *v, size_t len)
{
    char *s = g_malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        s[i] = (v[i] == '\r' || v[i] == '\n' || v[i] == '\t' || v[i] == '\0') ? ' ' : v[i];
    s[len] = '\0';
    return s;
}

/* Parses an RFC 5322 date; false when it does not parse or lies outside the
 * plausible range. */
static bool parse_date(const char *s, int64_t *at)
{
    while (*s == ' ')
        s++;
    if (!*s)
        return false;
    GDateTime *dt = g_mime_utils_header_decode_date(s);
    if (!dt)
        return false;
    int64_t t = g_date_time_to_unix(dt);
    g_date_time_unref(dt);
    if (t < ARRIVAL_MIN_TIME || t > ARRIVAL_MAX_TIME)
        return false;
    *at = t;
    return true;
}

/* The "by" host of a Received value, lower case, into out; false when none. */
static bool received_by(const char *v, char *out, size_t out_size)
{
    size_t n = strlen(v);
    for (size_t i = 0; i + 3 < n; i++) {
        if ((i == 0 || v[i - 1] == ' ' || v[i - 1] == ')')
            && g_ascii_strncasecmp(v + i, "by", 2) == 0 && v[i + 2] == ' ') {
            size_t j = i + 3;
            while (j < n && v[j] == ' ')
                j++;
            size_t k = 0;
            while (j < n && v[j] != ' ' && v[j] != ';' && v[j] != '(' && k + 1 < out_size)
                out[k++] = g_ascii_tolower(v[j++]);
            out[k] = '\0';
            while (k > 0 && out[k - 1] == '.')
                out[--k] = '\0';
            return k > 0;
        }
    }
    return false;
}

static bool host_is_ours(const struct config *cfg, const char *h)
{
    if (config_host_is_ours(cfg, h))
        return true;
    for (char **id = cfg->authserv_ids; id && *id; id++)
        if (!g_ascii_strcasecmp(*id, h))
            return true;
    return false;
}

enum arrival_source arrival_time(const struct config *cfg, const char *head, size_t head_len,
                                 int64_t *at)
{
    int64_t date_at = 0;
    bool have_date = false;
    *at = 0;
    if (!head)
        return ARRIVAL_NONE;
    size_t i = 0;
    while (i < head_len) {
        if (head[i] == '\n' || (head[i] == '\r' && i + 1 < head_len && head[i + 1] == '\n'))
            break;
        size_t first_end = line_end(head, head_len, i);
        size_t end = first_end;
        while (end < head_len && (head[end] == ' ' || head[end] == '\t'))
            end = line_end(head, head_len, end);
        if (end == head_len && head[head_len - 1] != '\n')
            break; /* cut by head_len */
        const char *colon = memchr(head + i, ':', first_end - i);
        if (colon && head[i] != ' ' && head[i] != '\t') {
            size_t name_len = (size_t)(colon - (head + i));
            const char *v = colon + 1;
            size_t vlen = end - (size_t)(v - head);
            bool is_rcvd = name_len == 8 && !g_ascii_strncasecmp(head + i, "received", 8);
            bool is_date = name_len == 4 && !g_ascii_strncasecmp(head + i, "date", 4);
            if ((is_rcvd || (is_date && !have_date)) && vlen <= ARRIVAL_MAX_VALUE) {
                char *s = value_dup(v, vlen);
                if (is_rcvd) {
                    char by[256];
                    const char *semi = strrchr(s, ';');
                    if (semi && received_by(s, by, sizeof by) && host_is_ours(cfg, by)
                        && parse_date(semi + 1, at)) {
                        g_free(s);
                        return ARRIVAL_RECEIVED;
                    }
                } else {
                    have_date = parse_date(s, &date_at);
                }
                g_free(s);
            }
        }
        i = end;
    }
    if (have_date) {
        *at = date_at;
        return ARRIVAL_DATE;
    }
    return ARRIVAL_NONE;
}

const char *arrival_source_name(enum arrival_source s)
{
    switch (s) {
    case ARRIVAL_RECEIVED:
        return "received";
    case ARRIVAL_DATE:
        return "date";
    default:
        return "none";
    }
}

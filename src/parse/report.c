/*
 * report.c: allocation of struct report and its arena. Called by the parsers while
 * they fill a report and by everyone who frees one. Allocation failure aborts (GLib
 * policy); nothing else can fail. The caller of report_new() owns the report and
 * frees it with report_free().
 */
#include "report.h"

#include <string.h>

struct report *report_new(void)
{
    struct report *r = g_new0(struct report, 1);
    r->strings = g_string_chunk_new(4096);
    r->original_rcpt_to = g_ptr_array_new();
    r->reported_domain = g_ptr_array_new();
    r->reported_uri = g_ptr_array_new();
    r->recipients = g_ptr_array_new_with_free_func(g_free);
    return r;
}

struct report *report_free(struct report *r)
{
    if (!r)
        return NULL;
    if (r->original) {
        if (r->original->received)
            g_ptr_array_free(r->original->received, TRUE);
        g_free(r->original);
    }
    g_ptr_array_free(r->original_rcpt_to, TRUE);
    g_ptr_array_free(r->reported_domain, TRUE);
    g_ptr_array_free(r->reported_uri, TRUE);
    g_ptr_array_free(r->recipients, TRUE);
    g_string_chunk_free(r->strings);
    g_free(r);
    return NULL;
}

const char *report_str(struct report *r, const char *s, gssize len)
{
    if (!s)
        return NULL;
    return g_string_chunk_insert_len(r->strings, s, len < 0 ? (gssize)strlen(s) : len);
}

const char *report_strtrim(struct report *r, const char *s, gssize len)
{
    if (!s)
        return NULL;
    size_t n = len < 0 ? strlen(s) : (size_t)len;
    while (n > 0 && g_ascii_isspace(*s)) {
        s++;
        n--;
    }
    while (n > 0 && g_ascii_isspace(s[n - 1]))
        n--;
    if (n == 0)
        return NULL;
    return g_string_chunk_insert_len(r->strings, s, (gssize)n);
}

struct original *report_original(struct report *r)
{
    if (!r->original) {
        r->original = g_new0(struct original, 1);
        r->original->received = g_ptr_array_new_with_free_func(g_free);
    }
    return r->original;
}

struct dsn_rcpt *report_add_rcpt(struct report *r)
{
    struct dsn_rcpt *d = g_new0(struct dsn_rcpt, 1);
    g_ptr_array_add(r->recipients, d);
    return d;
}

const char *report_kind_name(enum report_kind kind)
{
    switch (kind) {
    case REPORT_ARF:
        return "arf";
    case REPORT_AUTH_FAILURE:
        return "auth-failure";
    case REPORT_DSN:
        return "dsn";
    case REPORT_ABUSE_TEXT:
        return "abuse-text";
    case REPORT_UNKNOWN:
        break;
    }
    return "unknown";
}

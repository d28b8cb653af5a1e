/*
 * redact.c: secret removal for text that is logged or stored (see redact.h).
 * Called by log.c for every line, by the outbox before it stores last_error
 * and by incident_audit() for every audit detail. A URL is recognised by
 * "://" after a scheme of letters, digits, '+', '-', '.'; it ends at white
 * space, a quote, '<', '>' or the end. Hand-written because the job is a
 * small scan over already bounded text; GLib's GUri would refuse the partial
 * and quoted URLs that error messages hold.
 */
#include "redact.h"

#include <glib.h>
#include <stdbool.h>
#include <string.h>

static bool url_end(char c)
{
    return c == '\0' || g_ascii_isspace(c) || c == '"' || c == '\'' || c == '<' || c == '>';
}

static bool secret_param(const char *name, size_t n)
{
    static const char *const names[] = { "token",  "access_token", "api_key", "apikey", "key",
                                         "secret", "password",     "passwd",  "pass",   "pwd",
                                         "auth",   "sig",          "signature", NULL };
    for (const char *const *k = names; *k; k++)
        if (strlen(*k) == n && g_ascii_strncasecmp(name, *k, n) == 0)
            return true;
    return false;
}

/* Appends the URL that starts at p (just after "://") to out, redacted;
 * returns where it ended. */
static const char *put_url(GString *out, const char *p)
{
    const char *end = p;
    while (!url_end(*end))
        end++;
    /* Punctuation after a URL in prose ("URL: error", "(see URL).") is not
     * part of it. */
    while (end > p && strchr(".,;:)]", end[-1]))
        end--;
    /* The authority ends at the first '/', '?' or '#'; user information is
     * what comes before its last '@'. */
    const char *auth_end = p;
    while (auth_end < end && *auth_end != '/' && *auth_end != '?' && *auth_end != '#')
        auth_end++;
    const char *at = NULL;
    for (const char *s = p; s < auth_end; s++)
        if (*s == '@')
            at = s;
    if (at) {
        g_string_append(out, "***");
        p = at;
    }
    const char *q = memchr(p, '?', (size_t)(end - p));
    if (!q) {
        g_string_append_len(out, p, end - p);
        return end;
    }
    g_string_append_len(out, p, q + 1 - p);
    const char *s = q + 1;
    while (s < end) {
        const char *amp = s;
        while (amp < end && *amp != '&' && *amp != '#')
            amp++;
        const char *eq = memchr(s, '=', (size_t)(amp - s));
        if (eq && secret_param(s, (size_t)(eq - s))) {
            g_string_append_len(out, s, eq + 1 - s);
            g_string_append(out, "***");
        } else {
            g_string_append_len(out, s, amp - s);
        }
        if (amp < end && *amp == '#') {
            g_string_append_len(out, amp, end - amp);
            break;
        }
        if (amp < end)
            g_string_append_c(out, '&');
        s = amp + 1;
    }
    return end;
}

char *redact_text(const char *s, const char *const *secrets)
{
    if (!s)
        return NULL;
    GString *out = g_string_sized_new(strlen(s) + 8);
    const char *p = s;
    while (*p) {
        const char *m = strstr(p, "://");
        if (!m) {
            g_string_append(out, p);
            break;
        }
        /* The scheme: letters, digits, '+', '-', '.' before "://". */
        const char *scheme = m;
        while (scheme > p && (g_ascii_isalnum(scheme[-1]) || strchr("+-.", scheme[-1])))
            scheme--;
        g_string_append_len(out, p, m + 3 - p);
        p = scheme < m ? put_url(out, m + 3) : m + 3;
    }
    for (const char *const *k = secrets; k && *k; k++) {
        size_t n = strlen(*k);
        if (n < 4)
            continue;
        for (char *hit = strstr(out->str, *k); hit; hit = strstr(out->str, *k)) {
            gssize pos = hit - out->str;
            g_string_erase(out, pos, (gssize)n);
            g_string_insert(out, pos, "***");
        }
    }
    return g_string_free(out, FALSE);
}

void redact_buf(char *buf, size_t size, const char *const *secrets)
{
    if (!buf || size == 0)
        return;
    char *r = redact_text(buf, secrets);
    g_strlcpy(buf, r, size);
    g_free(r);
}

/*
 * textsafe.c: cleans text written by strangers before we show it. The customer
 * notices (src/act) quote complaint subjects, From names and reply excerpts with
 * textsafe_quote() and textsafe_quote_block(), so that a subject cannot inject
 * a fake paragraph, reorder text with bidi overrides or hide characters, and
 * its URLs are defanged; the command line (src/cli) prints mail- and
 * directory-derived fields through textsafe_terminal() so that they cannot send
 * escape sequences to the operator's terminal. Nothing here fails: every
 * function accepts any bytes (NULL as "") and returns valid UTF-8 in a
 * g_malloc'd string that the caller frees with g_free(). UTF-8 is decoded by a
 * strict decoder of our own (no overlong forms, surrogates or code points above
 * U+10FFFF), so that what we call valid is exactly what g_utf8_validate()
 * accepts.
 */
#include "textsafe.h"

#include <glib.h>
#include <stdint.h>
#include <string.h>

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */
#define ELLIPSIS "\xe2\x80\xa6"    /* U+2026 */

struct cp_range {
    uint32_t lo, hi;
};

/* Bidi controls: they reorder what follows (U+202E makes "gpj.exe" look like
 * "exe.jpg") and must never reach a reader. */
static const struct cp_range bidi_ranges[] = {
    { 0x061C, 0x061C }, { 0x200E, 0x200F }, { 0x202A, 0x202E }, { 0x2066, 0x2069 },
};

/* Characters that show nothing: zero-width space and joiners, word joiner and
 * invisible operators (and the unassigned U+2065 between them), the deprecated
 * format controls U+206A..U+206F, soft hyphen, Mongolian vowel separator, BOM,
 * interlinear annotation controls, tag characters and the Hangul fillers that
 * render as blanks. They hide a word from a filter or a reader. */
static const struct cp_range hidden_ranges[] = {
    { 0x00AD, 0x00AD }, { 0x115F, 0x1160 }, { 0x180E, 0x180E }, { 0x200B, 0x200D },
    { 0x2060, 0x2065 }, { 0x206A, 0x206F }, { 0x3164, 0x3164 }, { 0xFEFF, 0xFEFF },
    { 0xFFA0, 0xFFA0 }, { 0xFFF9, 0xFFFB }, { 0xE0000, 0xE007F },
};

static bool in_ranges(uint32_t c, const struct cp_range *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (c >= r[i].lo && c <= r[i].hi)
            return true;
    return false;
}

static bool is_control(uint32_t c)
{
    return c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0x9F);
}

static bool is_bidi(uint32_t c)
{
    return in_ranges(c, bidi_ranges, G_N_ELEMENTS(bidi_ranges));
}

static bool is_hidden(uint32_t c)
{
    return in_ranges(c, hidden_ranges, G_N_ELEMENTS(hidden_ranges));
}

/* White space for textsafe_line(): the ASCII and C1 line breaks and blanks, and
 * the Unicode space separators, line and paragraph separators. */
static bool is_space(uint32_t c)
{
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680
           || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F
           || c == 0x205F || c == 0x3000;
}

/* What textsafe_terminal() escapes besides invalid bytes. */
static bool needs_terminal_escape(uint32_t c)
{
    return is_control(c) || is_bidi(c) || is_hidden(c) || c == 0x2028 || c == 0x2029;
}

/* Decodes one UTF-8 sequence at p (n > 0 bytes left). Returns its length (1..4)
 * and the code point in *cp, or 0 when the sequence is invalid (the caller then
 * treats the single byte p[0] as invalid and goes on with p + 1). */
static size_t utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
    unsigned char b = p[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t len;
    uint32_t c;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (b >= 0xC2 && b <= 0xDF) {
        len = 2;
        c = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        c = b & 0x0F;
        if (b == 0xE0)
            lo = 0xA0; /* overlong */
        else if (b == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        c = b & 0x07;
        if (b == 0xF0)
            lo = 0x90; /* overlong */
        else if (b == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    c = (c << 6) | (p[1] & 0x3F);
    for (size_t i = 2; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3F);
    }
    *cp = c;
    return len;
}

/* Appends the cleaned form of s[0..len) to out (see textsafe_line()). */
static void line_append(GString *out, const char *s, size_t len, size_t max_chars)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n_chars = 0;
    bool pending_space = false, any = false;
    while (i < len) {
        uint32_t c;
        size_t l = utf8_next(p + i, len - i, &c);
        const char *bytes = s + i;
        size_t nb = l;
        if (l == 0) { /* one invalid byte: U+FFFD */
            c = 0xFFFD;
            bytes = REPLACEMENT;
            nb = 3;
            l = 1;
        }
        i += l;
        if (is_space(c)) {
            pending_space = any;
            continue;
        }
        if (is_control(c) || is_bidi(c) || is_hidden(c))
            continue;
        size_t need = pending_space ? 2 : 1;
        if (max_chars && n_chars + need > max_chars) {
            g_string_append(out, ELLIPSIS);
            return;
        }
        if (pending_space) {
            g_string_append_c(out, ' ');
            n_chars++;
            pending_space = false;
        }
        g_string_append_len(out, bytes, (gssize)nb);
        n_chars++;
        any = true;
    }
}

char *textsafe_line(const char *s, size_t max_chars)
{
    GString *out = g_string_new(NULL);
    if (s)
        line_append(out, s, strlen(s), max_chars);
    return g_string_free(out, FALSE);
}

/* ---- defang ----------------------------------------------------------------- */

static bool is_scheme_char(unsigned char b)
{
    return g_ascii_isalnum(b) || b == '+' || b == '-' || b == '.';
}

/* True when the run s[0..n) equals word, ignoring ASCII case. */
static bool run_is(const char *s, size_t n, const char *word)
{
    return n == strlen(word) && !g_ascii_strncasecmp(s, word, n);
}

/* Pass 1 of textsafe_defang() over valid UTF-8: schemes and "mailto:". The
 * scheme of a "://" is the run of scheme characters right before it (what we
 * copied to out last): http, https and ftp lose their 't's, the defanged
 * hxxp, hxxps and fxp are kept, and any other run (including none) gets
 * "[:]//" instead, so that no other "://" survives. A run of exactly "mailto"
 * before ':' gets "[:]". */
static void defang_schemes(GString *out, const char *t, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (t[i] != ':') {
            g_string_append_c(out, t[i]);
            i++;
            continue;
        }
        size_t b = out->len;
        while (b > 0 && is_scheme_char((unsigned char)out->str[b - 1]))
            b--;
        char *run = out->str + b;
        size_t rlen = out->len - b;
        if (n - i >= 3 && !memcmp(t + i, "://", 3)) {
            if (run_is(run, rlen, "http") || run_is(run, rlen, "https") || run_is(run, rlen, "ftp")) {
                /* "ftp" -> "fxp", "http" -> "hxxp", keeping the case. */
                for (size_t k = 1; k < rlen && k < 3 && (run[k] == 't' || run[k] == 'T'); k++)
                    run[k] = run[k] == 'T' ? 'X' : 'x';
                g_string_append(out, "://");
            } else if (run_is(run, rlen, "hxxp") || run_is(run, rlen, "hxxps")
                       || run_is(run, rlen, "fxp")) {
                g_string_append(out, "://"); /* defanged already */
            } else {
                g_string_append(out, "[:]//");
            }
            i += 3;
        } else if (run_is(run, rlen, "mailto")) {
            g_string_append(out, "[:]");
            i++;
        } else {
            g_string_append_c(out, ':');
            i++;
        }
    }
}

/* Decodes the (valid) code point at t[i]; returns its length. */
static size_t cp_at(const char *t, size_t n, size_t i, uint32_t *c)
{
    size_t l = utf8_next((const unsigned char *)t + i, n - i, c);
    if (l == 0) { /* not reached for valid input; stay total anyway */
        *c = 0xFFFD;
        l = 1;
    }
    return l;
}

/* A character of a domain label: ASCII letters, digits, '-', '_', and non-ASCII
 * letters, digits and combining marks (internationalised names). */
static bool is_label_cp(uint32_t c)
{
    if (c < 0x80)
        return g_ascii_isalnum((int)c) || c == '-' || c == '_';
    return g_unichar_isalnum(c) || g_unichar_ismark(c);
}

/* '.' and the dots that IDNA treats as '.': U+3002, U+FF0E, U+FF61. */
static bool is_dot_cp(uint32_t c)
{
    return c == '.' || c == 0x3002 || c == 0xFF0E || c == 0xFF61;
}

/* A last label that looks like a top-level domain: 2..24 letters, or xn--. */
static bool is_tld(const char *t, size_t len)
{
    if (len > 4 && !g_ascii_strncasecmp(t, "xn--", 4))
        return len <= 63;
    size_t n_chars = 0;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        i += cp_at(t, len, i, &c);
        bool letter = c < 0x80 ? g_ascii_isalpha((int)c) : g_unichar_isalpha(c);
        if (!letter && !(n_chars > 0 && c >= 0x80 && g_unichar_ismark(c)))
            return false;
        n_chars++;
    }
    return n_chars >= 2 && n_chars <= 24;
}

/* Pass 2 of textsafe_defang(): every maximal token of labels and dots starting
 * after a non-label character. A token followed by '@' is a local part and
 * kept; otherwise a first label "www" followed by a dot gets "www[.]", and when
 * the last label looks like a TLD the dot before it becomes "[.]". */
static void defang_domains(GString *out, const char *t, size_t n)
{
    size_t i = 0;
    bool prev_label = false;
    while (i < n) {
        uint32_t c;
        size_t l = cp_at(t, n, i, &c);
        if (!is_label_cp(c) || prev_label) {
            g_string_append_len(out, t + i, (gssize)l);
            prev_label = is_label_cp(c);
            i += l;
            continue;
        }
        /* Parse labels separated by single dots. */
        size_t p = i, first_label_end = 0, last_label = i;
        size_t first_dot = 0, first_dot_len = 0, last_dot = 0, last_dot_len = 0, n_dots = 0;
        for (;;) {
            while (p < n) {
                uint32_t d;
                size_t dl = cp_at(t, n, p, &d);
                if (!is_label_cp(d))
                    break;
                p += dl;
            }
            if (n_dots == 0)
                first_label_end = p;
            if (p >= n)
                break;
            uint32_t d;
            size_t dl = cp_at(t, n, p, &d);
            if (!is_dot_cp(d) || p + dl >= n)
                break;
            uint32_t e;
            cp_at(t, n, p + dl, &e);
            if (!is_label_cp(e))
                break;
            if (n_dots == 0) {
                first_dot = p;
                first_dot_len = dl;
            }
            last_dot = p;
            last_dot_len = dl;
            n_dots++;
            p += dl;
            last_label = p;
        }
        size_t end = p;
        prev_label = true;
        if (end < n && t[end] == '@') { /* local part of an address */
            g_string_append_len(out, t + i, (gssize)(end - i));
            i = end;
            continue;
        }
        bool www = first_label_end - i == 3 && !g_ascii_strncasecmp(t + i, "www", 3);
        bool tld = n_dots > 0 && is_tld(t + last_label, end - last_label);
        if (www && n_dots == 0 && end < n) {
            /* "www." at the end of a token: "www[.]" all the same. */
            uint32_t d;
            size_t dl = cp_at(t, n, end, &d);
            if (is_dot_cp(d)) {
                g_string_append_len(out, t + i, 3);
                g_string_append(out, "[.]");
                i = end + dl;
                prev_label = false;
                continue;
            }
        }
        size_t q = i;
        if (www && n_dots > 0) {
            g_string_append_len(out, t + q, (gssize)(first_dot - q));
            g_string_append(out, "[.]");
            q = first_dot + first_dot_len;
        }
        if (tld && last_dot >= q) {
            g_string_append_len(out, t + q, (gssize)(last_dot - q));
            g_string_append(out, "[.]");
            q = last_dot + last_dot_len;
        }
        g_string_append_len(out, t + q, (gssize)(end - q));
        i = end;
    }
}

/* Copies s[0..len) to out with every invalid byte replaced by U+FFFD. */
static void valid_append(GString *out, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint32_t c;
        size_t l = utf8_next((const unsigned char *)s + i, len - i, &c);
        if (l == 0) {
            g_string_append(out, REPLACEMENT);
            i++;
        } else {
            g_string_append_len(out, s + i, (gssize)l);
            i += l;
        }
    }
}

char *textsafe_defang(const char *s)
{
    GString *valid = g_string_new(NULL);
    if (s)
        valid_append(valid, s, strlen(s));
    GString *mid = g_string_sized_new(valid->len + 16);
    defang_schemes(mid, valid->str, valid->len);
    g_string_free(valid, TRUE);
    GString *out = g_string_sized_new(mid->len + 16);
    defang_domains(out, mid->str, mid->len);
    g_string_free(mid, TRUE);
    return g_string_free(out, FALSE);
}

/* ---- quoting for notices ---------------------------------------------------- */

char *textsafe_quote(const char *s, const char *indent, size_t max_chars)
{
    char *line = textsafe_line(s, max_chars);
    char *d = textsafe_defang(line);
    char *out = g_strconcat(indent ? indent : "", d, NULL);
    g_free(line);
    g_free(d);
    return out;
}

char *textsafe_quote_block(const char *s, const char *indent, size_t max_lines,
                           size_t max_line_chars)
{
    GString *out = g_string_new(NULL);
    if (!indent)
        indent = "";
    size_t n = s ? strlen(s) : 0, i = 0, n_lines = 0;
    bool pending_blank = false;
    GString *line = g_string_new(NULL);
    while (i < n) {
        size_t e = i;
        while (e < n && s[e] != '\n' && s[e] != '\r')
            e++;
        g_string_truncate(line, 0);
        line_append(line, s + i, e - i, max_line_chars);
        i = e;
        if (i < n && s[i] == '\r')
            i++;
        if (i < n && s[i] == '\n')
            i++; /* LF, or the LF of CR LF */
        if (line->len == 0) {
            pending_blank = n_lines > 0;
            continue;
        }
        size_t want = pending_blank ? 2 : 1;
        if (max_lines && n_lines + want > max_lines) {
            g_string_append_printf(out, "%s%s%s", n_lines ? "\n" : "", indent, ELLIPSIS);
            break;
        }
        if (pending_blank) {
            g_string_append_printf(out, "\n%s", indent);
            n_lines++;
            pending_blank = false;
        }
        char *d = textsafe_defang(line->str);
        g_string_append_printf(out, "%s%s%s", n_lines ? "\n" : "", indent, d);
        g_free(d);
        n_lines++;
    }
    g_string_free(line, TRUE);
    return g_string_free(out, FALSE);
}

/* ---- terminal --------------------------------------------------------------- */

char *textsafe_terminal(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    GString *out = g_string_sized_new(n + 1);
    size_t i = 0;
    while (i < n) {
        uint32_t c;
        size_t l = utf8_next((const unsigned char *)s + i, n - i, &c);
        if (l == 0) {
            g_string_append_printf(out, "\\x%02x", (unsigned char)s[i]);
            i++;
            continue;
        }
        if (!needs_terminal_escape(c))
            g_string_append_len(out, s + i, (gssize)l);
        else if (c == '\n')
            g_string_append(out, "\\n");
        else if (c == '\r')
            g_string_append(out, "\\r");
        else if (c == '\t')
            g_string_append(out, "\\t");
        else if (c < 0x80)
            g_string_append_printf(out, "\\x%02x", (unsigned)c);
        else if (c <= 0xFFFF)
            g_string_append_printf(out, "\\u%04x", (unsigned)c);
        else
            g_string_append_printf(out, "\\U%08x", (unsigned)c);
        i += l;
    }
    return g_string_free(out, FALSE);
}

bool textsafe_is_clean_terminal(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t l = utf8_next((const unsigned char *)s + i, n - i, &c);
        if (l == 0 || needs_terminal_escape(c))
            return false;
        i += l;
    }
    return true;
}

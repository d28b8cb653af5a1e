/*
 * fuzz_textsafe.c: libFuzzer target for util/textsafe.c. Any bytes go through
 * every function (the first byte picks the limits, the rest is the text), and
 * the results must keep their promises: valid UTF-8 everywhere; no line break
 * or control character in a line or a quote, and at most max + 1 characters
 * in a line; no C0, DEL or C1 control (nor anything else the terminal escaping
 * handles) in terminal output, which is also unchanged for clean input; quote
 * blocks of at most max_lines + 1 lines, each starting with the indent; and no
 * "://" after defanging but behind an hxxp, hxxps or fxp scheme.
 */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/textsafe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless s is valid UTF-8 without the code points that want_no() rejects. */
static void check_utf8(const char *s, bool (*want_no)(gunichar))
{
    if (!g_utf8_validate(s, -1, NULL))
        abort();
    for (const char *p = s; *p; p = g_utf8_next_char(p))
        if (want_no && want_no(g_utf8_get_char(p)))
            abort();
}

static bool is_line_bad(gunichar c)
{
    return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x202e || c == 0x200b
           || c == 0x2028 || c == 0xfeff;
}

static bool is_block_bad(gunichar c)
{
    return c != '\n' && is_line_bad(c);
}

static bool is_terminal_bad(gunichar c)
{
    return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f);
}

/* Every "://" must follow a scheme run that is hxxp, hxxps or fxp. */
static void check_defanged(const char *s)
{
    for (const char *p = strstr(s, "://"); p; p = strstr(p + 1, "://")) {
        const char *b = p;
        while (b > s && (g_ascii_isalnum(b[-1]) || b[-1] == '+' || b[-1] == '-' || b[-1] == '.'))
            b--;
        size_t n = (size_t)(p - b);
        if (!((n == 4 && !g_ascii_strncasecmp(b, "hxxp", 4))
              || (n == 5 && !g_ascii_strncasecmp(b, "hxxps", 5))
              || (n == 3 && !g_ascii_strncasecmp(b, "fxp", 3))))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t max_chars = size ? data[0] % 40 : 0;
    size_t max_lines = size ? (data[0] >> 4) % 8 : 0;
    char *s = g_strndup(size > 1 ? (const char *)data + 1 : "", size > 1 ? size - 1 : 0);

    char *line = textsafe_line(s, max_chars);
    check_utf8(line, is_line_bad);
    size_t n = (size_t)g_utf8_strlen(line, -1);
    if ((max_chars && n > max_chars + 1) || (n && (line[0] == ' ' || line[strlen(line) - 1] == ' ')))
        abort();

    char *d = textsafe_defang(s);
    check_utf8(d, NULL);
    check_defanged(d);

    char *q = textsafe_quote(s, "    > ", max_chars);
    check_utf8(q, is_line_bad);
    check_defanged(q);
    if (strncmp(q, "    > ", 6) != 0)
        abort();

    char *blk = textsafe_quote_block(s, "> ", max_lines, max_chars);
    check_utf8(blk, is_block_bad);
    check_defanged(blk);
    size_t n_lines = 0;
    char **lines = g_strsplit(blk, "\n", -1);
    for (char **it = lines; *it; it++, n_lines++)
        if (strncmp(*it, "> ", 2) != 0)
            abort();
    g_strfreev(lines);
    if (max_lines && n_lines > max_lines + 1)
        abort();

    char *t = textsafe_terminal(s);
    check_utf8(t, is_terminal_bad);
    if (!textsafe_is_clean_terminal(t))
        abort();
    if (textsafe_is_clean_terminal(s) != (strcmp(s, t) == 0))
        abort();

    g_free(line);
    g_free(d);
    g_free(q);
    g_free(blk);
    g_free(t);
    g_free(s);
    return 0;
}

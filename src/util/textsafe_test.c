/*
 * textsafe_test.c: table-driven unit tests for textsafe.c: one-line cleaning
 * (line breaks that would make a fake paragraph, bidi overrides, zero-width and
 * other invisible characters, control characters, invalid UTF-8, truncation by
 * characters), defanging of URLs and domains, quoting for notices, and escaping
 * for terminals (ESC]0;title BEL, ESC[2J). Every input was written for this
 * test. A failure names the row and prints "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "util/textsafe.h"

/* Compares got with want; prints "got X, want Y" (both passed through
 * textsafe_terminal() so that the report itself is readable) and returns 1 on a
 * mismatch, so that a table reports every bad row at once. */
static int check_str(const char *row, const char *got, const char *want)
{
    if (got && want && strcmp(got, want) == 0)
        return 0;
    char *g = textsafe_terminal(got), *w = textsafe_terminal(want);
    print_error("%s: got \"%s\"%s, want \"%s\"\n", row, g, got ? "" : " (NULL)", w);
    g_free(g);
    g_free(w);
    return 1;
}

struct line_case {
    const char *name;
    const char *in;
    size_t max;
    const char *want;
};

static const struct line_case line_cases[] = {
    { "NULL is empty", NULL, 0, "" },
    { "empty", "", 0, "" },
    { "plain ASCII unchanged", "Your parcel is waiting", 0, "Your parcel is waiting" },
    { "German subject unchanged", "Ihr Paket wartet (3x)", 0, "Ihr Paket wartet (3x)" },
    { "umlauts unchanged", "Grüße aus Köln, Bäckerei Müller – Straße 5",
      0, "Grüße aus Köln, Bäckerei Müller – Straße 5" },
    { "CR LF fake paragraph joined",
      "Invoice\r\n\r\nDear customer, log in at https://phish.example to reset\r\n", 0,
      "Invoice Dear customer, log in at https://phish.example to reset" },
    { "bare LF and CR", "a\nb\rc", 0, "a b c" },
    { "tabs and runs of blanks", "a\t\t b  \t c", 0, "a b c" },
    { "trimmed", "  \t a b \r\n ", 0, "a b" },
    { "only white space", " \r\n\t ", 0, "" },
    { "Unicode line and paragraph separators", "a\xe2\x80\xa8" "b\xe2\x80\xa9" "c", 0, "a b c" },
    { "NEL is a line break", "a\xc2\x85" "b", 0, "a b" },
    { "no-break and ideographic space", "a\xc2\xa0\xe3\x80\x80" "b", 0, "a b" },
    { "RLO removed", "invoice\xe2\x80\xae" "fdp.exe", 0, "invoicefdp.exe" },
    { "all bidi controls removed",
      "a\xd8\x9c" "b\xe2\x80\x8e" "c\xe2\x80\x8f" "d\xe2\x80\xaa" "e\xe2\x80\xab" "f"
      "\xe2\x80\xac" "g\xe2\x80\xad" "h\xe2\x81\xa6" "i\xe2\x81\xa7" "j\xe2\x81\xa8" "k"
      "\xe2\x81\xa9" "l", 0, "abcdefghijkl" },
    { "zero-width space and joiners removed",
      "pay\xe2\x80\x8bpal\xe2\x80\x8c.\xe2\x80\x8d" "com", 0, "paypal.com" },
    { "word joiner, invisible operators, BOM removed",
      "\xef\xbb\xbf" "a\xe2\x81\xa0" "b\xe2\x81\xa1" "c\xe2\x81\xa4" "d", 0, "abcd" },
    { "soft hyphen and Mongolian vowel separator removed", "a\xc2\xad" "b\xe1\xa0\x8e" "c", 0,
      "abc" },
    { "tag characters removed", "x\xf3\xa0\x80\x81\xf3\xa0\x81\xa1\xf3\xa0\x81\xbf" "y", 0,
      "xy" },
    { "ESC sequences lose ESC and BEL", "\x1b]0;pwned\x07title\x1b[2J", 0, "]0;pwnedtitle[2J" },
    { "other C0 and DEL removed", "a\x01" "b\x7f" "c\x08" "d", 0, "abcd" },
    { "C1 controls removed (CSI U+009B)", "a\xc2\x9b" "2Jb\xc2\x80" "c", 0, "a2Jbc" },
    { "invalid UTF-8 becomes U+FFFD", "a\xff" "b\xc3" "c", 0, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c" },
    { "overlong slash is invalid", "\xc0\xaf", 0, "\xef\xbf\xbd\xef\xbf\xbd" },
    { "surrogate is invalid", "\xed\xa0\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
    { "truncated sequence at the end", "ok\xe2\x82", 0, "ok\xef\xbf\xbd\xef\xbf\xbd" },
    { "cut at characters, not bytes", "äöüßé", 3, "äöü…" },
    { "not cut when it fits exactly", "äöü", 3, "äöü" },
    { "max 0 means no limit", "abcdefghij", 0, "abcdefghij" },
    { "cut drops the space before the cut", "abc def", 4, "abc…" },
    { "cut counts the space", "ab cd", 4, "ab c…" },
    { "removed characters do not count", "a\xe2\x80\x8b\xe2\x80\x8b\xe2\x80\x8b" "bc", 3, "abc" },
    { "emoji kept", "\xf0\x9f\x93\xa6 Paket", 0, "\xf0\x9f\x93\xa6 Paket" },
};

static void test_line_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(line_cases); i++) {
        const struct line_case *c = &line_cases[i];
        char *got = textsafe_line(c->in, c->max);
        bad += check_str(c->name, got, c->want);
        if (!g_utf8_validate(got, -1, NULL)) {
            print_error("%s: result is not valid UTF-8\n", c->name);
            bad++;
        }
        g_free(got);
    }
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

/* A subject that tries to add a paragraph of its own to the notice stays on the
 * quoted line, and its link is not clickable. */
static void test_quote_fake_paragraph(void **state)
{
    (void)state;
    const char *subject = "Invoice\r\n\r\nTo keep your account, log in at "
                          "https://phish.example/reset\r\nYour provider";
    char *q = textsafe_quote(subject, "    > ", 0);
    int bad = check_str("quote", q,
                        "    > Invoice To keep your account, log in at "
                        "hxxps://phish[.]example/reset Your provider");
    if (strchr(q, '\n') || strchr(q, '\r'))
        bad += check_str("quote has no line break", q, "(one line)");
    g_free(q);
    q = textsafe_quote(NULL, NULL, 0);
    bad += check_str("quote NULL", q, "");
    g_free(q);
    q = textsafe_quote("see www.bank.example now, or else", "> ", 12);
    bad += check_str("quote cut then defanged", q, "> see www[.]bank…");
    g_free(q);
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

struct defang_case {
    const char *name;
    const char *in, *want;
};

static const struct defang_case defang_cases[] = {
    { "NULL", NULL, "" },
    { "https URL", "https://phish.example/reset", "hxxps://phish[.]example/reset" },
    { "http URL", "go to http://a.example.com/x?y=1", "go to hxxp://a.example[.]com/x?y=1" },
    { "upper-case scheme keeps its case", "HTTPS://PHISH.EXAMPLE/", "HXXPS://PHISH[.]EXAMPLE/" },
    { "mixed-case scheme", "Http://x.example", "Hxxp://x[.]example" },
    { "ftp", "ftp://files.example/a", "fxp://files[.]example/a" },
    { "other scheme", "javascript://x and ssh://host", "javascript[:]//x and ssh[:]//host" },
    { "scheme after underscore", "a_http://x", "a_hxxp://x" },
    { "scheme with plus and dot", "git+ssh://h", "git+ssh[:]//h" },
    { "http glued to a digit", "9http://x", "9http[:]//x" },
    { "bare ://", "a ://x", "a [:]//x" },
    { "scheme after a colon", "see:https://x", "see:hxxps://x" },
    { "already defanged stays", "hxxps://phish[.]example/reset", "hxxps://phish[.]example/reset" },
    { "www", "www.bank.example", "www[.]bank[.]example" },
    { "www only", "www.example", "www[.]example" },
    { "www. at the end of a sentence", "see www.", "see www[.]" },
    { "bare domain with path", "Login: paypal-secure.com/x", "Login: paypal-secure[.]com/x" },
    { "last dot before the TLD", "phish.example.com/x", "phish.example[.]com/x" },
    { "domain at sentence end", "Visit paypal.com.", "Visit paypal[.]com." },
    { "domain after a dot", "x .paypal.com", "x .paypal[.]com" },
    { "mailto", "mailto:boss@bank.example", "mailto[:]boss@bank[.]example" },
    { "upper-case mailto", "MAILTO:a@b.example", "MAILTO[:]a@b[.]example" },
    { "address: local part kept", "write to first.last@bank.example",
      "write to first.last@bank[.]example" },
    { "punycode TLD", "shop.xn--p1ai", "shop[.]xn--p1ai" },
    { "IDN domain", "bücher.de", "bücher[.]de" },
    { "ideographic full stop", "paypal\xe3\x80\x82" "com", "paypal[.]com" },
    { "numbers are not domains", "version 1.2.3 costs 3.50", "version 1.2.3 costs 3.50" },
    { "one-letter last label", "z.B. heute", "z.B. heute" },
    { "German text unchanged", "Ihr Paket wartet (3x)", "Ihr Paket wartet (3x)" },
    { "umlauts unchanged", "Sehr geehrte Damen und Herren, Grüße aus München!",
      "Sehr geehrte Damen und Herren, Grüße aus München!" },
    { "TLD longer than 24 letters", "a.abcdefghijklmnopqrstuvwxyz", "a.abcdefghijklmnopqrstuvwxyz" },
    { "invalid UTF-8 becomes U+FFFD", "a\xff.example", "a\xef\xbf\xbd.example" },
    { "invalid byte before a domain", "\xff" "evil.example", "\xef\xbf\xbd" "evil[.]example" },
};

static void test_defang_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(defang_cases); i++) {
        const struct defang_case *c = &defang_cases[i];
        char *got = textsafe_defang(c->in);
        bad += check_str(c->name, got, c->want);
        g_free(got);
    }
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

struct block_case {
    const char *name;
    const char *in;
    size_t max_lines, max_chars;
    const char *want;
};

static const struct block_case block_cases[] = {
    { "NULL", NULL, 5, 0, "" },
    { "lines kept, each indented", "Hello,\r\nI changed it.\r\nBob", 0, 0,
      "> Hello,\n> I changed it.\n> Bob" },
    { "blank lines: leading and trailing dropped, runs collapsed",
      "\n\n  \na\n\n\n\nb\n\n", 0, 0, "> a\n> \n> b" },
    { "CR only line breaks", "a\rb", 0, 0, "> a\n> b" },
    { "controls and bidi removed per line", "x\x1b[2Jy\xe2\x80\xae\n\tz  w ", 0, 0,
      "> x[2Jy\n> z w" },
    { "defanged per line", "click https://evil.example/a\nor www.evil.example", 0, 0,
      "> click hxxps://evil[.]example/a\n> or www[.]evil[.]example" },
    { "max lines then an ellipsis line", "1\n2\n3\n4", 2, 0, "> 1\n> 2\n> …" },
    { "exactly max lines: no ellipsis", "1\n2\n\n", 2, 0, "> 1\n> 2" },
    { "line cut at characters", "äöüß\nab", 0, 2, "> äö…\n> ab" },
};

static void test_quote_block_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(block_cases); i++) {
        const struct block_case *c = &block_cases[i];
        char *got = textsafe_quote_block(c->in, "> ", c->max_lines, c->max_chars);
        bad += check_str(c->name, got, c->want);
        g_free(got);
    }
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

struct term_case {
    const char *name;
    const char *in, *want;
    bool clean;
};

static const struct term_case term_cases[] = {
    { "NULL", NULL, "", true },
    { "plain", "Your parcel is waiting", "Your parcel is waiting", true },
    { "German unchanged", "Ihr Paket wartet (3x) – Grüße", "Ihr Paket wartet (3x) – Grüße", true },
    { "backslash kept", "C:\\temp", "C:\\temp", true },
    { "OSC title with BEL", "\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07", false },
    { "clear screen", "\x1b[2J", "\\x1b[2J", false },
    { "newline, CR, tab", "a\nb\rc\td", "a\\nb\\rc\\td", false },
    { "DEL and NUL-free C0", "\x7f\x01", "\\x7f\\x01", false },
    { "C1 CSI", "\xc2\x9b" "2J", "\\u009b2J", false },
    { "RLO", "abc\xe2\x80\xae" "def", "abc\\u202edef", false },
    { "zero-width joiner", "a\xe2\x80\x8d" "b", "a\\u200db", false },
    { "line separator", "a\xe2\x80\xa8" "b", "a\\u2028b", false },
    { "tag character", "\xf3\xa0\x80\x81", "\\U000e0001", false },
    { "invalid bytes", "a\xff\xc3", "a\\xff\\xc3", false },
    { "surrogate bytes", "\xed\xa0\x80", "\\xed\\xa0\\x80", false },
    { "emoji kept", "\xf0\x9f\x93\xa6", "\xf0\x9f\x93\xa6", true },
};

static void test_terminal_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(term_cases); i++) {
        const struct term_case *c = &term_cases[i];
        char *got = textsafe_terminal(c->in);
        bad += check_str(c->name, got, c->want);
        if (textsafe_is_clean_terminal(c->in) != c->clean) {
            print_error("%s: is_clean_terminal: got %d, want %d\n", c->name,
                        !c->clean, c->clean);
            bad++;
        }
        if (!textsafe_is_clean_terminal(got)) {
            print_error("%s: output is not clean\n", c->name);
            bad++;
        }
        g_free(got);
    }
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

/* Every function on every byte value and a long mixed input: valid UTF-8 out,
 * no control characters where there must be none. */
static void test_all_bytes(void **state)
{
    (void)state;
    char buf[256 * 3 + 1];
    size_t n = 0;
    for (int b = 1; b < 256; b++) {
        buf[n++] = (char)b;
        if (b % 7 == 0)
            buf[n++] = '.';
    }
    buf[n] = '\0';
    char *outs[5] = { textsafe_line(buf, 50), textsafe_defang(buf), textsafe_quote(buf, "> ", 0),
                      textsafe_quote_block(buf, "> ", 3, 20), textsafe_terminal(buf) };
    for (size_t i = 0; i < G_N_ELEMENTS(outs); i++)
        assert_true(g_utf8_validate(outs[i], -1, NULL));
    for (const char *p = outs[0]; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
    assert_true(textsafe_is_clean_terminal(outs[4]));
    assert_int_equal(g_utf8_strlen(outs[0], -1), 51); /* 50 + "…" */
    for (size_t i = 0; i < G_N_ELEMENTS(outs); i++)
        g_free(outs[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_table),
        cmocka_unit_test(test_quote_fake_paragraph),
        cmocka_unit_test(test_defang_table),
        cmocka_unit_test(test_quote_block_table),
        cmocka_unit_test(test_terminal_table),
        cmocka_unit_test(test_all_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

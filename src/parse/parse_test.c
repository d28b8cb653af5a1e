/*
 * parse_test.c: unit tests for parse.c: parse_normalize() line endings and NUL
 * bytes, and parse_message() on empty input, binary garbage, CRLF/CR/LF variants
 * (same JSON), a plain-text abuse complaint that quotes the spam's headers, a plain
 * personal mail, the size limit and the header line limit. Every message was
 * written for this test; none is copied from a corpus. A failure names the case
 * and prints "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse/parse.h"
#include "parse/report_json.h"

static int check_str(const char *row, const char *field, const char *got, const char *want)
{
    if (got == NULL && want == NULL)
        return 0;
    if (got != NULL && want != NULL && strcmp(got, want) == 0)
        return 0;
    print_error("%s: %s: got %s%s%s, want %s%s%s\n", row, field, got ? "\"" : "",
                got ? got : "NULL", got ? "\"" : "", want ? "\"" : "", want ? want : "NULL",
                want ? "\"" : "");
    return 1;
}

#define FAIL_IF_BAD(bad) \
    do { \
        if (bad) \
            fail_msg("%d mismatch(es), see above", bad); \
    } while (0)

struct norm_case {
    const char *name;
    const char *in;
    size_t in_len;
    const char *want;
    size_t want_len;
};

#define S(s) s, sizeof(s) - 1

static const struct norm_case norm_cases[] = {
    {"empty", S(""), S("")},
    {"lf unchanged", S("a\nb\n"), S("a\nb\n")},
    {"crlf", S("a\r\nb\r\n"), S("a\nb\n")},
    {"lone cr", S("a\rb\r"), S("a\nb\n")},
    {"cr cr lf", S("a\r\r\nb"), S("a\n\nb")},
    {"lf cr", S("a\n\rb"), S("a\n\nb")},
    {"nul to space", S("a\0b\0"), S("a b ")},
    {"only cr", S("\r"), S("\n")},
    {"mixed", S("H: v\r\nI: w\rJ: x\n\r\nbody\0\r"), S("H: v\nI: w\nJ: x\n\nbody \n")},
};

static void test_parse_normalize_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++) {
        const struct norm_case *c = &norm_cases[i];
        size_t n = 12345;
        char *out = parse_normalize(c->in, c->in_len, &n);
        if (n != c->want_len || memcmp(out, c->want, n) != 0) {
            char *got = g_strescape(out, NULL), *want = g_strescape(c->want, NULL);
            print_error("%s: got \"%s\" (%zu bytes), want \"%s\" (%zu bytes)\n", c->name, got, n,
                        want, c->want_len);
            g_free(got);
            g_free(want);
            bad++;
        } else if (out[n] != '\0') {
            print_error("%s: got no NUL terminator, want one\n", c->name);
            bad++;
        }
        g_free(out);
    }
    FAIL_IF_BAD(bad);
}

struct notmail_case {
    const char *name;
    const char *in;
    size_t len;
};

static const char garbage[] = "\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\xff\xfe\x00\x01:\x02\x03"
                              "\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR";

static const struct notmail_case notmail_cases[] = {
    {"empty", "", 0},
    {"only newlines", S("\n\n\r\n")},
    {"binary garbage", garbage, sizeof(garbage) - 1},
    {"prose without header", S("Hello there, this is not a mail.\nBye\n")},
    {"colon after space", S("Hello world: not a header\n\nbody\n")},
    {"leading colon", S(": value\n\nbody\n")},
    {"nul bytes", S("\0\0\0\0\0\0")},
};

static void test_parse_not_mail_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(notmail_cases) / sizeof(notmail_cases[0]); i++) {
        const struct notmail_case *c = &notmail_cases[i];
        struct ad_err err = { 0 };
        struct report *r = parse_message(c->in, c->len, NULL, &err);
        if (r) {
            print_error("%s: report: got kind %s, want NULL\n", c->name, report_kind_name(r->kind));
            bad++;
            report_free(r);
            continue;
        }
        if (err.code != AD_ERR_PARSE) {
            print_error("%s: err.code: got %d, want %d\n", c->name, err.code, AD_ERR_PARSE);
            bad++;
        }
        if (err.msg[0] == '\0') {
            print_error("%s: err.msg: got empty, want a message\n", c->name);
            bad++;
        }
    }
    /* A NULL err is allowed. */
    assert_null(parse_message("", 0, NULL, NULL));
    FAIL_IF_BAD(bad);
}

/* An mbox "From " line and leading blank lines are still mail. */
static void test_parse_mbox_from_line(void **state)
{
    (void)state;
    static const char msg[] = "\nFrom sender@example.net Mon Jan  1 10:00:00 2024\n"
                              "From: sender@example.net\nSubject: hi\n\nbody\n";
    struct ad_err err = { 0 };
    struct report *r = parse_message(msg, sizeof(msg) - 1, NULL, &err);
    if (!r)
        fail_msg("mbox: got NULL (%s), want a report", err.msg);
    report_free(r);
}

static const char complaint_msg[] =
    "From: Angry User <angry@isp.example>\n"
    "To: abuse@example.net\n"
    "Subject: Spam from your network\n"
    "Date: Mon, 8 Jan 2024 12:00:00 +0100\n"
    "Message-ID: <angry-1@isp.example>\n"
    "\n"
    "Hello, I received this spam from your customer:\n"
    "\n"
    "Received: from out9.example.net (out9.example.net [192.0.2.99])\n"
    " by mx.isp.example with ESMTP id Z1; Mon, 8 Jan 2024 10:00:00 +0000\n"
    "From: Cheap Pills <pills@example.net>\n"
    "To: angry@isp.example\n"
    "Subject: Pills\n"
    "Message-ID: <pills-1@example.net>\n"
    "Date: Mon, 8 Jan 2024 09:59:00 +0000\n"
    "\n"
    "Please make it stop.\n";

static const char personal_msg[] =
    "From: Friend <friend@example.org>\n"
    "To: me@example.net\n"
    "Subject: Lunch tomorrow?\n"
    "Date: Tue, 9 Jan 2024 08:00:00 +0000\n"
    "Message-ID: <lunch@example.org>\n"
    "\n"
    "Shall we meet at noon at the usual place?\n";

static const char arf_msg[] =
    "From: fbl@isp.example\n"
    "Subject: FBL report\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=feedback-report;\n"
    " boundary=\"b\"\n"
    "\n"
    "--b\n"
    "Content-Type: text/plain\n"
    "\n"
    "Report.\n"
    "--b\n"
    "Content-Type: message/feedback-report\n"
    "\n"
    "Feedback-Type: abuse\n"
    "User-Agent: T/1\n"
    "Version: 1\n"
    "Original-Rcpt-To: <x@isp.example>\n"
    "Arrival-Date: Mon, 8 Jan 2024 10:00:00 +0000\n"
    "--b\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Received: from o.example.net ([192.0.2.5]) by mx.isp.example; Mon, 8 Jan 2024 10:00:00 "
    "+0000\n"
    "From: s@example.net\n"
    "Subject: Offer\n"
    "\n"
    "Body line\n"
    "--b--\n";

static void test_parse_abuse_text_quoted(void **state)
{
    (void)state;
    struct ad_err err = { 0 };
    struct report *r = parse_message(complaint_msg, sizeof(complaint_msg) - 1, NULL, &err);
    if (!r)
        fail_msg("complaint: got NULL (%s), want a report", err.msg);
    const char *row = "abuse text";
    int bad = 0;
    bad += check_str(row, "kind", report_kind_name(r->kind), "abuse-text");
    bad += check_str(row, "from", r->from, "angry@isp.example");
    bad += check_str(row, "subject", r->subject, "Spam from your network");
    bad += check_str(row, "message_id", r->message_id, "angry-1@isp.example");
    bad += check_str(row, "date", r->date, "2024-01-08T11:00:00Z");
    if (!r->original) {
        print_error("%s: original: got NULL, want the quoted headers\n", row);
        bad++;
    } else {
        bad += check_str(row, "original.message_id", r->original->message_id,
                         "pills-1@example.net");
        bad += check_str(row, "original.from", r->original->from, "pills@example.net");
        bad += check_str(row, "original.subject", r->original->subject, "Pills");
        bad += check_str(row, "original.date", r->original->date, "2024-01-08T09:59:00Z");
        if (r->original->received->len != 1) {
            print_error("%s: original.received: got %u hops, want 1\n", row,
                        r->original->received->len);
            bad++;
        }
    }
    bad += check_str(row, "warning", r->warning, NULL);
    report_free(r);
    FAIL_IF_BAD(bad);
}

static void test_parse_personal_unknown(void **state)
{
    (void)state;
    struct ad_err err = { 0 };
    struct report *r = parse_message(personal_msg, sizeof(personal_msg) - 1, NULL, &err);
    if (!r)
        fail_msg("personal: got NULL (%s), want a report", err.msg);
    int bad = 0;
    bad += check_str("personal", "kind", report_kind_name(r->kind), "unknown");
    bad += check_str("personal", "subject", r->subject, "Lunch tomorrow?");
    bad += check_str("personal", "from", r->from, "friend@example.org");
    if (r->original) {
        print_error("personal: original: got non-NULL, want NULL\n");
        bad++;
    }
    report_free(r);
    FAIL_IF_BAD(bad);
}

/* Replaces every "\n" of s with eol. */
static char *with_eol(const char *s, const char *eol)
{
    char **lines = g_strsplit(s, "\n", -1);
    char *out = g_strjoinv(eol, lines);
    g_strfreev(lines);
    return out;
}

static char *json_of(const char *msg, size_t len, const char *row)
{
    struct ad_err err = { 0 };
    struct report *r = parse_message(msg, len, NULL, &err);
    if (!r)
        fail_msg("%s: got NULL (%s), want a report", row, err.msg);
    char *js = report_json_line(r, NULL);
    report_free(r);
    return js;
}

static void test_parse_line_endings_same_json(void **state)
{
    (void)state;
    static const struct {
        const char *name, *msg;
    } msgs[] = {
        {"complaint", complaint_msg},
        {"personal", personal_msg},
        {"arf", arf_msg},
    };
    static const char *const eols[] = { "\r\n", "\r" };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(msgs); i++) {
        char *want = json_of(msgs[i].msg, strlen(msgs[i].msg), msgs[i].name);
        for (size_t e = 0; e < G_N_ELEMENTS(eols); e++) {
            char *m = with_eol(msgs[i].msg, eols[e]);
            char row[64];
            snprintf(row, sizeof(row), "%s with %s", msgs[i].name, e == 0 ? "CRLF" : "CR");
            char *got = json_of(m, strlen(m), row);
            if (strcmp(got, want) != 0) {
                print_error("%s: got %s, want %s\n", row, got, want);
                bad++;
            }
            free(got);
            g_free(m);
        }
        free(want);
    }
    FAIL_IF_BAD(bad);
}

/* Input longer than max_size is parsed up to it and flagged; shorter input is not. */
static void test_parse_truncated_warning(void **state)
{
    (void)state;
    struct parse_limits lim;
    parse_limits_default(&lim);
    GString *big = g_string_new(personal_msg);
    while (big->len < 20000)
        g_string_append(big, "more text in the body of a long mail\n");
    lim.max_size = 8192;
    struct ad_err err = { 0 };
    struct report *r = parse_message(big->str, big->len, &lim, &err);
    if (!r)
        fail_msg("truncated: got NULL (%s), want a report", err.msg);
    int bad = 0;
    if (!r->warning) {
        print_error("truncated: warning: got NULL, want a message\n");
        bad++;
    }
    bad += check_str("truncated", "subject", r->subject, "Lunch tomorrow?");
    report_free(r);

    lim.max_size = big->len;
    r = parse_message(big->str, big->len, &lim, &err);
    assert_non_null(r);
    bad += check_str("exactly max_size", "warning", r->warning, NULL);
    report_free(r);
    g_string_free(big, TRUE);
    FAIL_IF_BAD(bad);
}

/* A header line over max_line is cut; the body is untouched. */
static void test_parse_long_header_line(void **state)
{
    (void)state;
    struct parse_limits lim;
    parse_limits_default(&lim);
    lim.max_line = 100;
    GString *m = g_string_new("From: a@example.net\nSubject: ");
    for (int i = 0; i < 5000; i++)
        g_string_append_c(m, 'x');
    g_string_append(m, "\nTo: b@example.net\n\nbody\n");
    struct ad_err err = { 0 };
    struct report *r = parse_message(m->str, m->len, &lim, &err);
    if (!r)
        fail_msg("long header: got NULL (%s), want a report", err.msg);
    int bad = 0;
    size_t sl = r->subject ? strlen(r->subject) : 0;
    if (sl == 0 || sl > lim.max_line) {
        print_error("long header: subject length: got %zu, want 1..%zu\n", sl, lim.max_line);
        bad++;
    }
    bad += check_str("long header", "from", r->from, "a@example.net");
    report_free(r);
    g_string_free(m, TRUE);
    FAIL_IF_BAD(bad);
}

/* Hostile MIME nesting: 500 nested multiparts parse without crashing. */
static void test_parse_deep_nesting(void **state)
{
    (void)state;
    GString *m = g_string_new("From: a@example.net\nSubject: spam complaint\n"
                              "Content-Type: multipart/mixed; boundary=\"d0\"\n\n");
    for (int i = 1; i < 500; i++)
        g_string_append_printf(m, "--d%d\nContent-Type: multipart/mixed; boundary=\"d%d\"\n\n",
                               i - 1, i);
    g_string_append(m, "--d499\nContent-Type: text/plain\n\nspam\n");
    struct ad_err err = { 0 };
    struct report *r = parse_message(m->str, m->len, NULL, &err);
    if (!r)
        fail_msg("deep nesting: got NULL (%s), want a report", err.msg);
    report_free(r);
    g_string_free(m, TRUE);
}

int main(void)
{
    parse_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_normalize_table),
        cmocka_unit_test(test_parse_not_mail_table),
        cmocka_unit_test(test_parse_mbox_from_line),
        cmocka_unit_test(test_parse_abuse_text_quoted),
        cmocka_unit_test(test_parse_personal_unknown),
        cmocka_unit_test(test_parse_line_endings_same_json),
        cmocka_unit_test(test_parse_truncated_warning),
        cmocka_unit_test(test_parse_long_header_line),
        cmocka_unit_test(test_parse_deep_nesting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

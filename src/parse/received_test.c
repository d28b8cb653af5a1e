/*
 * received_test.c: table-driven unit tests for received.c: clause splitting of
 * Received: values, RFC 5322 date conversion to ISO 8601 UTC, and the first IP
 * literal of a clause. Every header value was written for this test; none is
 * copied from a corpus. A failure names the row and prints "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <gmime/gmime.h>

#include "parse/parse.h"
#include "parse/received.h"

/* Compares two possibly-NULL strings; prints "got X, want Y" with the row and field
 * named and returns 1 on a mismatch, so that a table reports every bad row at once. */
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

struct parse_case {
    const char *name;
    const char *value;
    const char *from, *by, *with, *id, *date;
};

static const struct parse_case parse_cases[] = {
    {"postfix full", "from mx.example.net (mx.example.net [192.0.2.1]) by mail.example.org "
     "(Postfix) with ESMTPS id 4ABC123 for <u@example.org>; Tue, 28 Apr 2009 20:00:00 -0400",
     "mx.example.net (mx.example.net [192.0.2.1])", "mail.example.org", "ESMTPS", "4ABC123",
     "2009-04-29T00:00:00Z"},
    {"nested comment hides keywords", "from a.example (helo by spoof.example (with nested "
     "(deep) parens) id X) by mx.example.org with ESMTP id Q1; Mon, 1 Jan 2024 10:00:00 +0000",
     "a.example (helo by spoof.example (with nested (deep) parens) id X)", "mx.example.org",
     "ESMTP", "Q1", "2024-01-01T10:00:00Z"},
    {"by without from", "by mx.example.org (Postfix, from userid 1000) id 77AA; "
     "Mon, 1 Jan 2024 10:00:00 +0000", NULL, "mx.example.org", NULL, "77AA",
     "2024-01-01T10:00:00Z"},
    {"only from, no date", "from a.example", "a.example", NULL, NULL, NULL, NULL},
    {"upper-case keywords", "FROM a.example BY b.example WITH SMTP ID z9; "
     "1 Jan 2024 00:00:00 GMT", "a.example", "b.example", "SMTP", "z9", "2024-01-01T00:00:00Z"},
    {"keyword prefix is not a keyword", "from byte.example by idle.example with "
     "withering; Mon, 1 Jan 2024 10:00:00 +0000", "byte.example", "idle.example", "withering",
     NULL, "2024-01-01T10:00:00Z"},
    {"semicolon in comment", "from a.example (x; y) by b.example; "
     "Mon, 1 Jan 2024 10:00:00 +0000", "a.example (x; y)", "b.example", NULL, NULL,
     "2024-01-01T10:00:00Z"},
    {"via ends from", "from a.example via c.example by b.example; "
     "Mon, 1 Jan 2024 10:00:00 +0000", "a.example", "b.example", NULL, NULL,
     "2024-01-01T10:00:00Z"},
    {"folded with CRLF and tabs", "from a.example\r\n\tby b.example\n with SMTP;\n "
     "Mon, 1 Jan 2024 10:00:00 +0000", "a.example", "b.example", "SMTP", NULL,
     "2024-01-01T10:00:00Z"},
    {"junk", "this is not a received header at all", NULL, NULL, NULL, NULL, NULL},
    {"qmail comment only", "(qmail 12345 invoked by uid 89); Mon, 1 Jan 2024 10:00:00 -0000",
     NULL, NULL, NULL, NULL, "2024-01-01T10:00:00Z"},
    {"junk with semicolon", "hello world; not a date", NULL, NULL, NULL, NULL, NULL},
    {"keyword at the end only", "from", NULL, NULL, NULL, NULL, NULL},
    {"empty", "", NULL, NULL, NULL, NULL, NULL},
    {"only date", "; Mon, 1 Jan 2024 10:00:00 +0000", NULL, NULL, NULL, NULL,
     "2024-01-01T10:00:00Z"},
    {"unbalanced close paren", "from a.example) by b.example; Mon, 1 Jan 2024 10:00:00 +0000",
     "a.example)", "b.example", NULL, NULL, "2024-01-01T10:00:00Z"},
    {"unclosed comment", "from a.example (oops by b.example; Mon, 1 Jan 2024 10:00:00 +0000",
     "a.example (oops by b.example; Mon, 1 Jan 2024 10:00:00 +0000", NULL, NULL, NULL, NULL},
};

static void test_received_parse_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *c = &parse_cases[i];
        struct report *r = report_new();
        struct received_hop *h = received_parse(r, c->value);
        assert_non_null(h);
        bad += check_str(c->name, "from", h->from, c->from);
        bad += check_str(c->name, "by", h->by, c->by);
        bad += check_str(c->name, "with", h->with, c->with);
        bad += check_str(c->name, "id", h->id, c->id);
        bad += check_str(c->name, "date", h->date, c->date);
        g_free(h);
        report_free(r);
    }
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

static void test_received_parse_raw_unfolded(void **state)
{
    (void)state;
    int bad = 0;
    struct report *r = report_new();
    struct received_hop *h = received_parse(r, "from a.example\r\n\t  by   b.example\n  ;  "
                                               "Mon, 1 Jan 2024 10:00:00 +0000  \n");
    bad += check_str("raw", "raw", h->raw, "from a.example by b.example ; Mon, 1 Jan 2024 10:00:00 +0000");
    g_free(h);
    report_free(r);
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

static void test_received_parse_null(void **state)
{
    (void)state;
    int bad = 0;
    struct report *r = report_new();
    struct received_hop *h = received_parse(r, NULL);
    assert_non_null(h);
    bad += check_str("null", "from", h->from, NULL);
    bad += check_str("null", "raw", h->raw, NULL);
    g_free(h);
    report_free(r);
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

/* A 200 KB from clause and a 200 KB comment must be kept whole and not crash. */
static void test_received_parse_very_long(void **state)
{
    (void)state;
    int bad = 0;
    const size_t n = 200000;
    GString *s = g_string_new("from ");
    for (size_t i = 0; i < n; i++)
        g_string_append_c(s, 'a' + (char)(i % 26));
    g_string_append(s, " (");
    for (size_t i = 0; i < n; i++)
        g_string_append_c(s, i % 7 ? 'x' : '(');
    for (size_t i = 0; i < n; i += 7)
        g_string_append_c(s, ')');
    g_string_append(s, ") by mx.example.org with ESMTP id L1; Mon, 1 Jan 2024 10:00:00 +0000");

    struct report *r = report_new();
    struct received_hop *h = received_parse(r, s->str);
    assert_non_null(h->from);
    if (strncmp(h->from, "abcdefghij", 10) != 0 || strlen(h->from) < n)
        fail_msg("long from: got %zu bytes starting \"%.10s\", want >= %zu starting "
                 "\"abcdefghij\"", strlen(h->from), h->from, n);
    bad += check_str("long", "by", h->by, "mx.example.org");
    bad += check_str("long", "with", h->with, "ESMTP");
    bad += check_str("long", "id", h->id, "L1");
    bad += check_str("long", "date", h->date, "2024-01-01T10:00:00Z");
    g_free(h);
    report_free(r);
    g_string_free(s, TRUE);
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

struct date_case {
    const char *in, *want;
};

static const struct date_case date_cases[] = {
    {"Tue, 28 Apr 2009 20:00:00 -0400", "2009-04-29T00:00:00Z"},
    {"Mon, 1 Jan 2024 10:00:00 +0000", "2024-01-01T10:00:00Z"},
    {"1 Jan 2024 10:00:00 GMT", "2024-01-01T10:00:00Z"},
    {"Sun, 31 Dec 2023 23:30:00 -0130", "2024-01-01T01:00:00Z"},
    {"Mon, 1 Jan 2024 10:00:00 +0200 (CEST)", "2024-01-01T08:00:00Z"},
    {"Wed, 15 May 2024 08:05:09 EST", "2024-05-15T13:05:09Z"},
    {"Mon, 1 Jan 2024 10:00 +0530", "2024-01-01T04:30:00Z"},
    {"Thu, 29 Feb 2024 23:59:59 -1200", "2024-03-01T11:59:59Z"},
    {"  Mon, 1 Jan 2024 10:00:00 +0000  ", "2024-01-01T10:00:00Z"},
    {NULL, NULL},
    {"", NULL},
    {"not a date", NULL},
    {"yesterday at noon", NULL},
    {"Mon, 45 Jan 2024 10:00:00 +0000", NULL},
};

static void test_received_iso_date_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(date_cases) / sizeof(date_cases[0]); i++) {
        const struct date_case *c = &date_cases[i];
        struct report *r = report_new();
        char row[128];
        snprintf(row, sizeof(row), "date \"%s\"", c->in ? c->in : "NULL");
        bad += check_str(row, "iso", received_iso_date(r, c->in), c->want);
        report_free(r);
    }
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

struct ip_case {
    const char *in, *want;
};

static const struct ip_case ip_cases[] = {
    {"mx.example.net ([192.0.2.1])", "192.0.2.1"},
    {"mx.example.net (mx.example.net [192.0.2.1])", "192.0.2.1"},
    {"mx.example.net (mx.example.net [IPv6:2001:db8::1])", "2001:db8::1"},
    {"mx.example.net [ipv6:2001:DB8::A]", "2001:DB8::A"},
    {"unknown (192.0.2.5)", "192.0.2.5"},
    {"helo.example 198.51.100.7 extra", "198.51.100.7"},
    {"first [192.0.2.1] second [192.0.2.2]", "192.0.2.1"},
    {"loopback [::1]", "::1"},
    {"a.example (b.example [999.1.1.1]) [192.0.2.3]", "192.0.2.3"},
    {"mx.example.net", NULL},
    {"short [1.2.3]", NULL},
    {"[deadbeef]", NULL},
    {"", NULL},
    {NULL, NULL},
};

/* The hand-written reader of the common date form must give what GMime gives. */
static char *gmime_iso(const char *s)
{
    GDateTime *dt = g_mime_utils_header_decode_date(s);
    if (!dt)
        return NULL;
    GDateTime *utc = g_date_time_to_utc(dt);
    char *iso = g_date_time_format(utc, "%Y-%m-%dT%H:%M:%SZ");
    g_date_time_unref(utc);
    g_date_time_unref(dt);
    return iso;
}

static void test_received_iso_date_same_as_gmime(void **state)
{
    (void)state;
    static const char *const dates[] = {
        "Thu, 29 Apr 2009 00:00:00 -0000",
        "Thu, 29 Apr 2009 23:34:45 -0700 (PDT)",
        "Sat, 31 Oct 2020 18:02:57 +0000",
        "29 Apr 2013 23:45:50 +0900",
        "Mon,  6 Jan 2025 12:22:52 +0900 (JST)",
        "Wed, 03 Dec 2014 02:33:09 +0100",
        "Thu, 29 Apr 2009 00:00:00 GMT",
        "Thu, 29 Apr 2009 00:00:00 UT",
        "Thu, 29 Apr 2009 00:00:00 UTC",
        "Fri, 1 Mar 2024 23:59 +1400",
        "Tue, 29 Feb 2000 12:00:00 -1200",
        "Thu, 31 Dec 2099 23:59:59 +0000",
        "Sun, 01 Jan 1995 00:00:00 +0130",
        "Thu, 29 Apr 2009 00:00:00 EST",
        "29 apr 2009 00:00:00 -0000",
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        struct report *r = report_new();
        const char *got = received_iso_date(r, dates[i]);
        char *want = gmime_iso(dates[i]);
        if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0)) {
            print_error("%s: got %s, want %s (GMime)\n", dates[i], got ? got : "NULL",
                        want ? want : "NULL");
            bad++;
        }
        g_free(want);
        report_free(r);
    }
    if (bad)
        fail_msg("%d date(s) differ from GMime, see above", bad);
}

static void test_received_first_ip_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(ip_cases) / sizeof(ip_cases[0]); i++) {
        const struct ip_case *c = &ip_cases[i];
        struct report *r = report_new();
        char row[128];
        snprintf(row, sizeof(row), "ip \"%s\"", c->in ? c->in : "NULL");
        bad += check_str(row, "ip", received_first_ip(r, c->in), c->want);
        report_free(r);
    }
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

int main(void)
{
    parse_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_received_parse_table),
        cmocka_unit_test(test_received_iso_date_same_as_gmime),
        cmocka_unit_test(test_received_parse_raw_unfolded),
        cmocka_unit_test(test_received_parse_null),
        cmocka_unit_test(test_received_parse_very_long),
        cmocka_unit_test(test_received_iso_date_table),
        cmocka_unit_test(test_received_first_ip_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * original_test.c: table-driven unit tests for original_from_text() (original.c):
 * folded header blocks, RFC 2047 subjects, the authenticated submitter in its
 * various vendor forms, the PHP script, Return-Path, Received order and the -1
 * return for text without headers. Every header block was written for this test;
 * none is copied from a corpus. A failure names the row and prints "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "parse/original.h"
#include "parse/parse.h"

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

static int check_int(const char *row, const char *field, long long got, long long want)
{
    if (got == want)
        return 0;
    print_error("%s: %s: got %lld, want %lld\n", row, field, got, want);
    return 1;
}

static int from_text(struct report *r, const char *text)
{
    return original_from_text(r, text, strlen(text));
}

static const char full_block[] =
    "Return-Path: <bounce@sender.example>\n"
    "Received: from mx.sender.example (mx.sender.example [192.0.2.10])\n"
    "\tby mx.example.org (Postfix) with ESMTP id AAA111;\n"
    "\tMon, 1 Jan 2024 10:00:02 +0000\n"
    "Received: from web1.sender.example (web1.sender.example [192.0.2.11])\n"
    "        by mx.sender.example with ESMTPA id BBB222;\n"
    "        Mon, 1 Jan 2024 10:00:01 +0000\n"
    "Received: by web1.sender.example (Postfix, from userid 33) id CCC333;\n"
    " Mon, 1 Jan 2024 10:00:00 +0000\n"
    "Message-ID: <abc.123@sender.example>\n"
    "From: \"Shop, The\" <news@sender.example>\n"
    "To: Alice <alice@example.org>, bob@example.org\n"
    "Subject: Hello\n"
    " world\n"
    "Date: Mon, 1 Jan 2024 11:00:00 +0100\n"
    "MIME-Version: 1.0\n"
    "\n"
    "Subject: not a header, this is the body\n"
    "Received: from body.example by body.example; Mon, 1 Jan 2024 10:00:00 +0000\n";

static void test_original_full_block(void **state)
{
    (void)state;
    int bad = 0;
    struct report *r = report_new();
    bad += check_int("full", "rc", from_text(r, full_block), 0);
    assert_non_null(r->original);
    const struct original *o = r->original;
    bad += check_str("full", "message_id", o->message_id, "abc.123@sender.example");
    bad += check_str("full", "subject", o->subject, "Hello world");
    bad += check_str("full", "from", o->from, "news@sender.example");
    bad += check_str("full", "to", o->to, "alice@example.org");
    bad += check_str("full", "date", o->date, "2024-01-01T10:00:00Z");
    bad += check_str("full", "return_path", o->return_path, "bounce@sender.example");
    bad += check_str("full", "authenticated_user", o->authenticated_user, NULL);
    bad += check_str("full", "php_script", o->php_script, NULL);
    bad += check_int("full", "received count", o->received->len, 3);
    static const char *const want_by[] = { "mx.example.org", "mx.sender.example",
                                           "web1.sender.example" };
    static const char *const want_id[] = { "AAA111", "BBB222", "CCC333" };
    static const char *const want_date[] = { "2024-01-01T10:00:02Z", "2024-01-01T10:00:01Z",
                                             "2024-01-01T10:00:00Z" };
    for (guint i = 0; i < o->received->len && i < 3; i++) {
        const struct received_hop *h = g_ptr_array_index(o->received, i);
        char row[32];
        snprintf(row, sizeof(row), "full received[%u]", i);
        bad += check_str(row, "by", h->by, want_by[i]);
        bad += check_str(row, "id", h->id, want_id[i]);
        bad += check_str(row, "date", h->date, want_date[i]);
    }
    const struct received_hop *top = g_ptr_array_index(o->received, 0);
    bad += check_str("full received[0]", "from", top->from,
                     "mx.sender.example (mx.sender.example [192.0.2.10])");
    report_free(r);
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

struct subject_case {
    const char *name, *header, *want;
};

static const struct subject_case subject_cases[] = {
    {"plain", "Subject: Your invoice\n", "Your invoice"},
    {"utf-8 base64", "Subject: =?UTF-8?B?SGVsbG8gd8O2cmxk?=\n", "Hello w\xc3\xb6rld"},
    {"latin-1 q", "Subject: =?ISO-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?=\n",
     "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln"},
    {"lower-case charset and encoding", "Subject: =?utf-8?b?R3LDvMOfZSBhdXMgS8O2bG4=?=\n",
     "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln"},
    {"mixed with plain text", "Subject: Re: =?UTF-8?Q?caf=C3=A9?= tonight\n",
     "Re: caf\xc3\xa9 tonight"},
    {"adjacent words join", "Subject: =?UTF-8?Q?Hel?= =?UTF-8?Q?lo?=\n", "Hello"},
    {"folded encoded words", "Subject: =?UTF-8?B?SGVsbG8g?=\n =?UTF-8?B?d8O2cmxk?=\n",
     "Hello w\xc3\xb6rld"},
    {"first subject wins", "Subject: one\nSubject: two\n", "one"},
};

static void test_original_subject_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(subject_cases) / sizeof(subject_cases[0]); i++) {
        const struct subject_case *c = &subject_cases[i];
        struct report *r = report_new();
        int rc = from_text(r, c->header);
        bad += check_int(c->name, "rc", rc, 0);
        bad += check_str(c->name, "subject", r->original ? r->original->subject : NULL, c->want);
        report_free(r);
    }
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

/* Raw 8-bit bytes in a Subject must come out as valid UTF-8. */
static void test_original_subject_8bit_valid(void **state)
{
    (void)state;
    struct report *r = report_new();
    assert_int_equal(from_text(r, "Subject: caf\xe9 \xff\xfe\n"), 0);
    assert_non_null(r->original->subject);
    if (!g_utf8_validate(r->original->subject, -1, NULL))
        fail_msg("8-bit subject: got invalid UTF-8, want valid UTF-8");
    report_free(r);
}

struct auth_case {
    const char *name, *block, *user, *script;
};

static const struct auth_case auth_cases[] = {
    {"received authenticated sender",
     "Received: from [192.0.2.50] (unknown [192.0.2.50])\n"
     "\t(Authenticated sender: user@example.com)\n"
     "\tby smtp.example.net (Postfix) with ESMTPSA id 4X1;\n"
     "\tMon, 1 Jan 2024 10:00:00 +0000\n",
     "user@example.com", NULL},
    {"received authenticated sender, lower case",
     "Received: from x (y [192.0.2.50]) (authenticated sender: low@example.com) by z; "
     "Mon, 1 Jan 2024 10:00:00 +0000\n",
     "low@example.com", NULL},
    {"received authenticated as",
     "Received: from x ([192.0.2.51]) (Authenticated as mailbox@example.com) by z "
     "with ESMTPA; Mon, 1 Jan 2024 10:00:00 +0000\n",
     "mailbox@example.com", NULL},
    {"x-authenticated-sender cpanel",
     "X-Authenticated-Sender: host.example.net: user@example.com\nFrom: a@example.com\n",
     "user@example.com", NULL},
    {"x-authenticated-sender bare", "X-Authenticated-Sender: user2@example.com\n"
     "From: a@example.com\n", "user2@example.com", NULL},
    {"x-authenticated-user not an address", "X-Authenticated-User: jdoe\n"
     "From: a@example.com\n", "jdoe", NULL},
    {"x-get-message-sender-via",
     "X-Get-Message-Sender-Via: host.example.net: authenticated_id: user@example.com\n"
     "From: a@example.com\n", "user@example.com", NULL},
    {"x-get-message-sender-via folded",
     "X-Get-Message-Sender-Via: host.example.net:\n authenticated_id: folded@example.com\n"
     "From: a@example.com\n", "folded@example.com", NULL},
    {"x-get-message-sender-via without id",
     "X-Get-Message-Sender-Via: host.example.net: mailgid no entry from get_recipient_gid\n"
     "From: a@example.com\n", NULL, NULL},
    {"php originating script", "X-PHP-Originating-Script: 1000:contact.php\n"
     "From: a@example.com\n", NULL, "1000:contact.php"},
    {"php script", "X-PHP-Script: www.example.com/wp/contact.php for 198.51.100.9\n"
     "From: a@example.com\n", NULL, "www.example.com/wp/contact.php for 198.51.100.9"},
    {"php both, first wins", "X-PHP-Originating-Script: 33:form.php\n"
     "X-PHP-Script: www.example.com/other.php for 198.51.100.9\nFrom: a@example.com\n",
     NULL, "33:form.php"},
    {"received auth beats later header",
     "Received: from x ([192.0.2.1]) (Authenticated sender: first@example.com) by z; "
     "Mon, 1 Jan 2024 10:00:00 +0000\n"
     "X-Authenticated-Sender: host.example.net: second@example.com\n",
     "first@example.com", NULL},
};

static void test_original_auth_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(auth_cases) / sizeof(auth_cases[0]); i++) {
        const struct auth_case *c = &auth_cases[i];
        struct report *r = report_new();
        int rc = from_text(r, c->block);
        bad += check_int(c->name, "rc", rc, 0);
        if (r->original) {
            bad += check_str(c->name, "authenticated_user", r->original->authenticated_user,
                             c->user);
            bad += check_str(c->name, "php_script", r->original->php_script, c->script);
        }
        report_free(r);
    }
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

struct field_case {
    const char *name, *block;
    const char *message_id, *from, *to, *return_path;
};

static const struct field_case field_cases[] = {
    {"lower-case names", "message-id: <x1@example.net>\nfrom: a@example.net\n"
     "to: b@example.org\nreturn-path: <c@example.net>\n",
     "x1@example.net", "a@example.net", "b@example.org", "c@example.net"},
    {"null return-path", "Return-Path: <>\nFrom: a@example.net\n", NULL, "a@example.net",
     NULL, NULL},
    {"message-id without brackets", "Message-ID: plain-id@example.net\n",
     "plain-id@example.net", NULL, NULL, NULL},
    {"garbage line inside block is skipped", "From: a@example.net\nthis line is garbage\n"
     "To: b@example.org\n", NULL, "a@example.net", "b@example.org", NULL},
    {"leading blank lines", "\n\n  \nFrom: a@example.net\n", NULL, "a@example.net", NULL,
     NULL},
    {"address without brackets, display name quoted", "From: \"Doe, Jane\" jane@example.net\n",
     NULL, "jane@example.net", NULL, NULL},
    {"first from wins", "From: one@example.net\nFrom: two@example.net\n", NULL,
     "one@example.net", NULL, NULL},
    {"no trailing newline", "From: a@example.net", NULL, "a@example.net", NULL, NULL},
};

static void test_original_fields_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(field_cases) / sizeof(field_cases[0]); i++) {
        const struct field_case *c = &field_cases[i];
        struct report *r = report_new();
        int rc = from_text(r, c->block);
        bad += check_int(c->name, "rc", rc, 0);
        if (r->original) {
            bad += check_str(c->name, "message_id", r->original->message_id, c->message_id);
            bad += check_str(c->name, "from", r->original->from, c->from);
            bad += check_str(c->name, "to", r->original->to, c->to);
            bad += check_str(c->name, "return_path", r->original->return_path, c->return_path);
        }
        report_free(r);
    }
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

struct bulk_case {
    const char *name, *block, *bulk;
};

static const struct bulk_case bulk_cases[] = {
    {"plain mail", "From: a@example.net\nSubject: hi\n", NULL},
    {"list-unsubscribe", "From: a@example.net\nList-Unsubscribe: <https://a.example/u?x=1>\n",
     "List-Unsubscribe"},
    {"list-unsubscribe wins over list-id", "From: a@example.net\nList-Id: <news.a.example>\n"
     "list-unsubscribe: <mailto:u@a.example>\n", "List-Unsubscribe"},
    {"list-id only", "From: a@example.net\nList-ID: News <news.a.example>\n", "List-Id"},
    {"precedence bulk, folded case", "From: a@example.net\nPrecedence:  BULK \n",
     "Precedence: bulk"},
    {"precedence list", "From: a@example.net\nPrecedence: list\n", "Precedence: bulk"},
    {"precedence first-class is not bulk", "From: a@example.net\nPrecedence: first-class\n",
     NULL},
    {"list-unsubscribe-post alone is not a mark", "From: a@example.net\n"
     "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n", NULL},
};

static void test_original_bulk_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(bulk_cases) / sizeof(bulk_cases[0]); i++) {
        const struct bulk_case *c = &bulk_cases[i];
        struct report *r = report_new();
        bad += check_int(c->name, "rc", from_text(r, c->block), 0);
        if (r->original)
            bad += check_str(c->name, "bulk", r->original->bulk, c->bulk);
        report_free(r);
    }
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

struct none_case {
    const char *name, *text;
};

static const struct none_case none_cases[] = {
    {"empty", ""},
    {"prose", "Hello,\nthis is just text without any header.\nRegards\n"},
    {"only unwanted headers", "X-Mailer: Foo 1.0\nMIME-Version: 1.0\n"},
    {"only null return-path", "Return-Path: <>\n"},
    {"header name with space", "Not A Header: value\n"},
};

static void test_original_no_headers_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(none_cases) / sizeof(none_cases[0]); i++) {
        const struct none_case *c = &none_cases[i];
        struct report *r = report_new();
        int rc = from_text(r, c->text);
        bad += check_int(c->name, "rc", rc, -1);
        if (r->original) {
            print_error("%s: original: got non-NULL, want NULL\n", c->name);
            bad++;
        }
        report_free(r);
    }
    struct report *r = report_new();
    bad += check_int("NULL text", "rc", original_from_text(r, NULL, 0), -1);
    report_free(r);
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

/* -1 leaves an existing r->original alone; 0 replaces it. */
static void test_original_unchanged_on_failure(void **state)
{
    (void)state;
    struct report *r = report_new();
    struct original *o = report_original(r);
    o->subject = report_str(r, "keep me", -1);
    assert_int_equal(from_text(r, "no headers here\n"), -1);
    assert_ptr_equal(r->original, o);
    assert_string_equal(r->original->subject, "keep me");
    assert_int_equal(from_text(r, "Subject: new\n"), 0);
    assert_string_equal(r->original->subject, "new");
    report_free(r);
}

/* len bounds the read: the From after the cut must not be seen. */
static void test_original_len_bounds(void **state)
{
    (void)state;
    const char text[] = "Subject: cut here\nFrom: late@example.net\n";
    struct report *r = report_new();
    size_t cut = strlen("Subject: cut here\n");
    assert_int_equal(original_from_text(r, text, cut), 0);
    int bad = check_str("len", "subject", r->original->subject, "cut here");
    bad += check_str("len", "from", r->original->from, NULL);
    /* A cut inside a value keeps the part before it. */
    struct report *r2 = report_new();
    assert_int_equal(original_from_text(r2, text, 12), 0);
    bad += check_str("len 12", "subject", r2->original->subject, "cut");
    report_free(r2);
    report_free(r);
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

/* 150 Received: headers are kept in order and capped; 2000 headers do not hang. */
static void test_original_many_received(void **state)
{
    (void)state;
    GString *s = g_string_new(NULL);
    for (int i = 0; i < 150; i++)
        g_string_append_printf(s, "Received: from h%d.example by h%d.example; "
                                  "Mon, 1 Jan 2024 10:00:00 +0000\n", i + 1, i);
    for (int i = 0; i < 2000; i++)
        g_string_append_printf(s, "X-Filler-%d: x\n", i);
    struct report *r = report_new();
    assert_int_equal(original_from_text(r, s->str, s->len), 0);
    guint n = r->original->received->len;
    if (n == 0 || n > 150)
        fail_msg("received count: got %u, want 1..150", n);
    const struct received_hop *h0 = g_ptr_array_index(r->original->received, 0);
    const struct received_hop *h1 = g_ptr_array_index(r->original->received, 1);
    int bad = check_str("many[0]", "by", h0->by, "h0.example");
    bad += check_str("many[1]", "by", h1->by, "h1.example");
    report_free(r);
    g_string_free(s, TRUE);
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

int main(void)
{
    parse_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_original_full_block),
        cmocka_unit_test(test_original_subject_table),
        cmocka_unit_test(test_original_subject_8bit_valid),
        cmocka_unit_test(test_original_auth_table),
        cmocka_unit_test(test_original_fields_table),
        cmocka_unit_test(test_original_bulk_table),
        cmocka_unit_test(test_original_no_headers_table),
        cmocka_unit_test(test_original_unchanged_on_failure),
        cmocka_unit_test(test_original_len_bounds),
        cmocka_unit_test(test_original_many_received),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

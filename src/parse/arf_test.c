/*
 * arf_test.c: unit tests for arf.c through parse_message() (parse.h): RFC 5965
 * feedback reports with message/rfc822 and text/rfc822-headers, RFC 6591
 * auth-failure reports, Microsoft JMRP, Amazon SES complaint JSON, list opt-out
 * mails, and arf_fields() on folded fields. Every message here was written for this
 * test; none is copied from a corpus. A failure names the case and prints
 * "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "parse/arf.h"
#include "parse/parse.h"

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

/* Compares a GPtrArray of strings with a NULL-terminated list. */
static int check_list(const char *row, const char *field, const GPtrArray *got,
                      const char *const *want)
{
    size_t n_want = 0;
    while (want[n_want])
        n_want++;
    int bad = 0;
    if (got->len != n_want) {
        print_error("%s: %s: got %u entries, want %zu\n", row, field, got->len, n_want);
        bad++;
    }
    for (guint i = 0; i < got->len && i < n_want; i++) {
        char f[64];
        snprintf(f, sizeof(f), "%s[%u]", field, i);
        bad += check_str(row, f, g_ptr_array_index(got, i), want[i]);
    }
    return bad;
}

static struct report *parse(const char *text)
{
    struct ad_err err = { 0 };
    struct report *r = parse_message(text, strlen(text), NULL, &err);
    if (!r)
        fail_msg("parse_message: got NULL (%s), want a report", err.msg);
    return r;
}

static const char *kind(const struct report *r)
{
    return report_kind_name(r->kind);
}

#define FAIL_IF_BAD(bad) \
    do { \
        if (bad) \
            fail_msg("%d mismatch(es), see above", bad); \
    } while (0)

static const char arf_rfc822[] =
    "From: Feedback Loop <fbl@isp.example>\n"
    "To: abuse@example.net\n"
    "Subject: FW: Buy cheap stuff\n"
    "Date: Tue, 2 Jan 2024 12:00:00 +0000\n"
    "Message-ID: <report-1@isp.example>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=feedback-report;\n"
    "\tboundary=\"b1\"\n"
    "\n"
    "--b1\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "This is an email abuse report for an email message received from IP\n"
    "192.0.2.25 on Tue, 2 Jan 2024 11:00:00 +0000.\n"
    "\n"
    "--b1\n"
    "Content-Type: message/feedback-report\n"
    "\n"
    "Feedback-Type: Abuse\n"
    "User-Agent: ExampleFBL/2.1\n"
    "Version: 1\n"
    "Original-Mail-From: <bounce-42@example.net>\n"
    "Original-Rcpt-To: <victim1@isp.example>\n"
    "Original-Rcpt-To: victim2@isp.example\n"
    "Original-Rcpt-To: <victim3@isp.example>\n"
    "Arrival-Date: Tue, 2 Jan 2024 06:00:00 -0500\n"
    "Reporting-MTA: dns; fbl.isp.example\n"
    "Source-IP: 192.0.2.25\n"
    "Incidents: 3\n"
    "Reported-Domain: example.net\n"
    "Reported-Domain: shop.example.net\n"
    "Reported-URI: http://shop.example.net/buy\n"
    "\n"
    "--b1\n"
    "Content-Type: message/rfc822\n"
    "Content-Disposition: inline\n"
    "\n"
    "Return-Path: <bounce-42@example.net>\n"
    "Received: from out1.example.net (out1.example.net [192.0.2.25])\n"
    "\tby mx.isp.example with ESMTP id Q7; Tue, 2 Jan 2024 11:00:00 +0000\n"
    "Received: from web3.example.net ([198.51.100.3]) (Authenticated sender: shop@example.net)\n"
    "\tby out1.example.net with ESMTPSA id R8; Tue, 2 Jan 2024 10:59:59 +0000\n"
    "From: Shop <shop@example.net>\n"
    "To: victim1@isp.example\n"
    "Subject: =?UTF-8?Q?Buy_cheap_stuff_=E2=82=AC?=\n"
    "Date: Tue, 2 Jan 2024 10:59:58 +0000\n"
    "Message-ID: <spam-1@example.net>\n"
    "X-PHP-Originating-Script: 1001:mailer.php\n"
    "\n"
    "Buy now!\n"
    "\n"
    "--b1--\n";

static void test_arf_standard_rfc822(void **state)
{
    (void)state;
    struct report *r = parse(arf_rfc822);
    const char *row = "arf rfc822";
    int bad = 0;
    bad += check_str(row, "kind", kind(r), "arf");
    bad += check_str(row, "format", r->dsn_format, "arf");
    bad += check_str(row, "feedback_type", r->feedback_type, "abuse");
    bad += check_str(row, "user_agent", r->user_agent, "ExampleFBL/2.1");
    bad += check_str(row, "version", r->version, "1");
    bad += check_str(row, "original_mail_from", r->original_mail_from, "bounce-42@example.net");
    static const char *const rcpts[] = { "victim1@isp.example", "victim2@isp.example",
                                         "victim3@isp.example", NULL };
    bad += check_list(row, "original_rcpt_to", r->original_rcpt_to, rcpts);
    bad += check_str(row, "arrival_date", r->arrival_date, "2024-01-02T11:00:00Z");
    bad += check_str(row, "reporting_mta", r->reporting_mta, "fbl.isp.example");
    bad += check_str(row, "source_ip", r->source_ip, "192.0.2.25");
    bad += check_str(row, "incidents", r->incidents, "3");
    static const char *const domains[] = { "example.net", "shop.example.net", NULL };
    bad += check_list(row, "reported_domain", r->reported_domain, domains);
    static const char *const uris[] = { "http://shop.example.net/buy", NULL };
    bad += check_list(row, "reported_uri", r->reported_uri, uris);
    bad += check_str(row, "subject", r->subject, "FW: Buy cheap stuff");
    bad += check_str(row, "from", r->from, "fbl@isp.example");
    bad += check_str(row, "date", r->date, "2024-01-02T12:00:00Z");
    assert_non_null(r->original);
    const struct original *o = r->original;
    bad += check_str(row, "original.message_id", o->message_id, "spam-1@example.net");
    bad += check_str(row, "original.subject", o->subject, "Buy cheap stuff \xe2\x82\xac");
    bad += check_str(row, "original.from", o->from, "shop@example.net");
    bad += check_str(row, "original.to", o->to, "victim1@isp.example");
    bad += check_str(row, "original.return_path", o->return_path, "bounce-42@example.net");
    bad += check_str(row, "original.date", o->date, "2024-01-02T10:59:58Z");
    bad += check_str(row, "original.authenticated_user", o->authenticated_user,
                     "shop@example.net");
    bad += check_str(row, "original.php_script", o->php_script, "1001:mailer.php");
    if (o->received->len != 2) {
        print_error("%s: original.received: got %u hops, want 2\n", row, o->received->len);
        bad++;
    } else {
        const struct received_hop *h = g_ptr_array_index(o->received, 0);
        bad += check_str(row, "original.received[0].by", h->by, "mx.isp.example");
    }
    report_free(r);
    FAIL_IF_BAD(bad);
}

/* text/rfc822-headers, no Source-IP (taken from the top Received:), folded fields. */
static const char arf_headers[] =
    "From: fbl@isp.example\n"
    "To: abuse@example.net\n"
    "Subject: complaint\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=feedback-report; boundary=\"zz\"\n"
    "\n"
    "--zz\n"
    "Content-Type: text/plain\n"
    "\n"
    "A complaint.\n"
    "--zz\n"
    "Content-Type: message/feedback-report\n"
    "\n"
    "Feedback-Type: fraud\n"
    "User-Agent: Folded\n"
    "  Agent/1.0\n"
    "Version: 1\n"
    "Arrival-Date: Wed, 3 Jan 2024 01:02:03 +0100\n"
    "Reported-Domain: a.example.net\n"
    "--zz\n"
    "Content-Type: text/rfc822-headers\n"
    "\n"
    "Received: from out2.example.net (out2.example.net [192.0.2.26])\n"
    "\tby mx.isp.example with ESMTP id H1; Wed, 3 Jan 2024 00:02:03 +0000\n"
    "From: news@example.net\n"
    "Subject: Headers only\n"
    "Message-ID: <hdr-1@example.net>\n"
    "--zz--\n";

static void test_arf_rfc822_headers(void **state)
{
    (void)state;
    struct report *r = parse(arf_headers);
    const char *row = "arf rfc822-headers";
    int bad = 0;
    bad += check_str(row, "kind", kind(r), "arf");
    bad += check_str(row, "feedback_type", r->feedback_type, "fraud");
    bad += check_str(row, "user_agent", r->user_agent, "Folded   Agent/1.0");
    bad += check_str(row, "arrival_date", r->arrival_date, "2024-01-03T00:02:03Z");
    bad += check_str(row, "source_ip", r->source_ip, "192.0.2.26");
    static const char *const domains[] = { "a.example.net", NULL };
    bad += check_list(row, "reported_domain", r->reported_domain, domains);
    static const char *const none[] = { NULL };
    bad += check_list(row, "original_rcpt_to", r->original_rcpt_to, none);
    if (!r->original) {
        print_error("%s: original: got NULL, want headers\n", row);
        bad++;
    } else {
        bad += check_str(row, "original.message_id", r->original->message_id, "hdr-1@example.net");
        bad += check_str(row, "original.subject", r->original->subject, "Headers only");
        bad += check_str(row, "original.from", r->original->from, "news@example.net");
    }
    report_free(r);
    FAIL_IF_BAD(bad);
}

static const char auth_failure[] =
    "From: dmarc-reports@isp.example\n"
    "To: postmaster@example.net\n"
    "Subject: Authentication failure report\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=feedback-report; boundary=\"af\"\n"
    "\n"
    "--af\n"
    "Content-Type: text/plain\n"
    "\n"
    "DKIM failed.\n"
    "--af\n"
    "Content-Type: message/feedback-report\n"
    "\n"
    "Feedback-Type: auth-failure\n"
    "User-Agent: AuthRep/1.0\n"
    "Version: 1\n"
    "Auth-Failure: dkim\n"
    "Original-Rcpt-To: <someone@isp.example>\n"
    "Source-IP: 2001:db8::25\n"
    "Reported-Domain: example.net\n"
    "Arrival-Date: Thu, 4 Jan 2024 08:00:00 +0000\n"
    "--af\n"
    "Content-Type: text/rfc822-headers\n"
    "\n"
    "From: forged@example.net\n"
    "Message-ID: <forged-1@example.net>\n"
    "--af--\n";

static void test_arf_auth_failure(void **state)
{
    (void)state;
    struct report *r = parse(auth_failure);
    const char *row = "auth-failure";
    int bad = 0;
    bad += check_str(row, "kind", kind(r), "auth-failure");
    bad += check_str(row, "feedback_type", r->feedback_type, "auth-failure");
    bad += check_str(row, "auth_failure", r->auth_failure, "dkim");
    bad += check_str(row, "source_ip", r->source_ip, "2001:db8::25");
    bad += check_str(row, "arrival_date", r->arrival_date, "2024-01-04T08:00:00Z");
    static const char *const rcpts[] = { "someone@isp.example", NULL };
    bad += check_list(row, "original_rcpt_to", r->original_rcpt_to, rcpts);
    bad += check_str(row, "original.message_id", r->original ? r->original->message_id : NULL,
                     "forged-1@example.net");
    report_free(r);
    FAIL_IF_BAD(bad);
}

/* A feedback report with no returned message: still ARF, original NULL. */
static void test_arf_without_original(void **state)
{
    (void)state;
    static const char msg[] =
        "From: fbl@isp.example\n"
        "Subject: report\n"
        "Content-Type: multipart/report; report-type=feedback-report; boundary=\"q\"\n"
        "\n"
        "--q\n"
        "Content-Type: message/feedback-report\n"
        "\n"
        "Feedback-Type: not-spam\n"
        "Arrival-Date: garbage date\n"
        "--q--\n";
    struct report *r = parse(msg);
    int bad = 0;
    bad += check_str("no original", "kind", kind(r), "arf");
    bad += check_str("no original", "feedback_type", r->feedback_type, "not-spam");
    bad += check_str("no original", "arrival_date", r->arrival_date, NULL);
    bad += check_str("no original", "source_ip", r->source_ip, NULL);
    if (r->original) {
        print_error("no original: original: got non-NULL, want NULL\n");
        bad++;
    }
    report_free(r);
    FAIL_IF_BAD(bad);
}

static const char jmrp[] =
    "From: staff@hotmail.example\n"
    "To: fbl@example.net\n"
    "Subject: complaint about message from 192.0.2.77\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"jm\"\n"
    "\n"
    "--jm\n"
    "Content-Type: text/plain\n"
    "\n"
    "This is a complaint.\n"
    "--jm\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "X-HmXmrOriginalRecipient: <reader@hotmail.example>\n"
    "X-SID-PRA: pra@example.net\n"
    "Authentication-Results: mx.hotmail.example; spf=pass\n"
    " smtp.mailfrom=envelope@example.net; dkim=none\n"
    "Received: from out3.example.net ([192.0.2.77]) by mx.hotmail.example with SMTP;\n"
    " Fri, 5 Jan 2024 09:00:00 +0000\n"
    "From: Letters <letters@example.net>\n"
    "To: reader@hotmail.example\n"
    "Subject: Weekly letter\n"
    "Message-ID: <jm-1@example.net>\n"
    "\n"
    "Body.\n"
    "--jm--\n";

static void test_arf_jmrp(void **state)
{
    (void)state;
    struct report *r = parse(jmrp);
    const char *row = "jmrp";
    int bad = 0;
    bad += check_str(row, "kind", kind(r), "arf");
    bad += check_str(row, "format", r->dsn_format, "jmrp");
    bad += check_str(row, "feedback_type", r->feedback_type, "abuse");
    static const char *const rcpts[] = { "reader@hotmail.example", NULL };
    bad += check_list(row, "original_rcpt_to", r->original_rcpt_to, rcpts);
    bad += check_str(row, "original_mail_from", r->original_mail_from, "envelope@example.net");
    bad += check_str(row, "source_ip", r->source_ip, "192.0.2.77");
    bad += check_str(row, "original.message_id", r->original ? r->original->message_id : NULL,
                     "jm-1@example.net");
    bad += check_str(row, "original.subject", r->original ? r->original->subject : NULL,
                     "Weekly letter");
    report_free(r);
    FAIL_IF_BAD(bad);
}

/* JMRP without Authentication-Results: the envelope sender falls back to X-SID-PRA. */
static void test_arf_jmrp_pra_fallback(void **state)
{
    (void)state;
    static const char msg[] =
        "From: staff@hotmail.example\n"
        "Subject: complaint\n"
        "Content-Type: multipart/mixed; boundary=\"jm\"\n"
        "\n"
        "--jm\n"
        "Content-Type: message/rfc822\n"
        "\n"
        "X-HmXmrOriginalRecipient: reader2@hotmail.example\n"
        "X-SID-PRA: <pra@example.net>\n"
        "From: other@example.net\n"
        "\n"
        "x\n"
        "--jm--\n";
    struct report *r = parse(msg);
    int bad = 0;
    bad += check_str("jmrp pra", "format", r->dsn_format, "jmrp");
    bad += check_str("jmrp pra", "original_mail_from", r->original_mail_from, "pra@example.net");
    bad += check_str("jmrp pra", "source_ip", r->source_ip, NULL);
    report_free(r);
    FAIL_IF_BAD(bad);
}

static const char ses[] =
    "From: no-reply@sns.example\n"
    "To: hooks@example.net\n"
    "Subject: AWS Notification Message\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "\n"
    "{\"notificationType\":\"Complaint\",\"complaint\":{\"userAgent\":\"Mail/1.0\",\n"
    " \"complainedRecipients\":[{\"emailAddress\":\"r1@isp.example\"},\n"
    " {\"emailAddress\":\"r2@isp.example\"}],\"complaintFeedbackType\":\"abuse\",\n"
    " \"arrivalDate\":\"2024-01-06T10:00:00.000Z\",\"timestamp\":\"2024-01-06T10:00:01.000Z\"},\n"
    " \"mail\":{\"source\":\"sender@example.net\",\"sourceIp\":\"198.51.100.20\",\n"
    " \"messageId\":\"0100-abc\",\"commonHeaders\":{\"subject\":\"Spring sale\"}}}\n"
    "\n"
    "--\n"
    "If you wish to stop receiving notifications, unsubscribe.\n";

static void test_arf_ses_complaint(void **state)
{
    (void)state;
    struct report *r = parse(ses);
    const char *row = "ses";
    int bad = 0;
    bad += check_str(row, "kind", kind(r), "arf");
    bad += check_str(row, "format", r->dsn_format, "ses-complaint");
    bad += check_str(row, "feedback_type", r->feedback_type, "abuse");
    bad += check_str(row, "user_agent", r->user_agent, "Mail/1.0");
    bad += check_str(row, "arrival_date", r->arrival_date, "2024-01-06T10:00:00.000Z");
    static const char *const rcpts[] = { "r1@isp.example", "r2@isp.example", NULL };
    bad += check_list(row, "original_rcpt_to", r->original_rcpt_to, rcpts);
    bad += check_str(row, "original_mail_from", r->original_mail_from, "sender@example.net");
    bad += check_str(row, "source_ip", r->source_ip, "198.51.100.20");
    bad += check_str(row, "original.message_id", r->original ? r->original->message_id : NULL,
                     "0100-abc");
    bad += check_str(row, "original.subject", r->original ? r->original->subject : NULL,
                     "Spring sale");
    report_free(r);
    FAIL_IF_BAD(bad);
}

/* An SES bounce (not a complaint) is not a feedback report. */
static void test_arf_ses_bounce_not_arf(void **state)
{
    (void)state;
    static const char msg[] =
        "From: no-reply@sns.example\n"
        "Subject: AWS Notification Message\n"
        "\n"
        "{\"notificationType\":\"Delivery\",\"mail\":{\"source\":\"a@example.net\"}}\n";
    struct report *r = parse(msg);
    int bad = check_str("ses delivery", "kind", kind(r), "unknown");
    report_free(r);
    FAIL_IF_BAD(bad);
}

struct optout_case {
    const char *name, *msg, *kind, *rcpt, *mail_from;
};

static const struct optout_case optout_cases[] = {
    {"unsubscribe", "From: Reader <reader@isp.example>\nTo: <unsub-77@lists.example.net>\n"
     "Subject: unsubscribe\n\n\n", "arf", "reader@isp.example", "unsub-77@lists.example.net"},
    {"unsubscribe, upper case and spaces", "From: reader@isp.example\n"
     "To: list-leave@example.net\nSubject:   UNSUBSCRIBE  \n\nplease\n", "arf",
     "reader@isp.example", "list-leave@example.net"},
    {"subject only mentions it", "From: reader@isp.example\nTo: list@example.net\n"
     "Subject: how do I unsubscribe?\n\nhelp\n", "unknown", NULL, NULL},
    {"no To", "From: reader@isp.example\nSubject: unsubscribe\n\n\n", "unknown", NULL, NULL},
};

static void test_arf_optout_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(optout_cases) / sizeof(optout_cases[0]); i++) {
        const struct optout_case *c = &optout_cases[i];
        struct report *r = parse(c->msg);
        bad += check_str(c->name, "kind", kind(r), c->kind);
        if (r->kind == REPORT_ARF) {
            bad += check_str(c->name, "feedback_type", r->feedback_type, "opt-out");
            bad += check_str(c->name, "format", r->dsn_format, "opt-out");
            bad += check_str(c->name, "original_rcpt_to[0]",
                             r->original_rcpt_to->len ? g_ptr_array_index(r->original_rcpt_to, 0)
                                                      : NULL,
                             c->rcpt);
            bad += check_str(c->name, "original_mail_from", r->original_mail_from, c->mail_from);
        }
        report_free(r);
    }
    FAIL_IF_BAD(bad);
}

/* arf_fields() directly: folded values, tabs, case-insensitive names, first value wins
 * for single fields, repeated list fields, junk lines ignored, no final newline. */
static void test_arf_fields_direct(void **state)
{
    (void)state;
    static const char text[] =
        "feedback-type: ABUSE\n"
        "Feedback-Type: fraud\n"
        "User-Agent: Some\n"
        "\tReporter/3\n"
        "junk line without colon\n"
        " orphan continuation: x\n"
        "Original-Mail-From: <a@example.net\n"
        "Original-Rcpt-To: <r1@isp.example>\n"
        "Removal-Recipient: r2@isp.example\n"
        "Original-Rcpt-To:\n"
        "Reported-Domain: \n"
        "  folded.example.net\n"
        "Received-Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
        "Arrival-Date: Tue, 2 Jan 2024 10:00:00 +0000\n"
        "Reporting-MTA: mta.isp.example\n"
        "Unknown-Field: ignored\n"
        "Incidents: 12";
    struct report *r = report_new();
    arf_fields(r, text, strlen(text));
    const char *row = "arf_fields";
    int bad = 0;
    bad += check_str(row, "feedback_type", r->feedback_type, "abuse");
    bad += check_str(row, "user_agent", r->user_agent, "Some \tReporter/3");
    bad += check_str(row, "original_mail_from", r->original_mail_from, "a@example.net");
    static const char *const rcpts[] = { "r1@isp.example", "r2@isp.example", NULL };
    bad += check_list(row, "original_rcpt_to", r->original_rcpt_to, rcpts);
    static const char *const domains[] = { "folded.example.net", NULL };
    bad += check_list(row, "reported_domain", r->reported_domain, domains);
    bad += check_str(row, "arrival_date", r->arrival_date, "2024-01-01T10:00:00Z");
    bad += check_str(row, "reporting_mta", r->reporting_mta, "mta.isp.example");
    bad += check_str(row, "incidents", r->incidents, "12");
    report_free(r);

    /* Empty and NUL-free odd inputs do not crash and set nothing. */
    r = report_new();
    arf_fields(r, "", 0);
    arf_fields(r, ":\n:::\n\n", 7);
    bad += check_str("arf_fields empty", "feedback_type", r->feedback_type, NULL);
    report_free(r);
    FAIL_IF_BAD(bad);
}

int main(void)
{
    parse_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arf_standard_rfc822),
        cmocka_unit_test(test_arf_rfc822_headers),
        cmocka_unit_test(test_arf_auth_failure),
        cmocka_unit_test(test_arf_without_original),
        cmocka_unit_test(test_arf_jmrp),
        cmocka_unit_test(test_arf_jmrp_pra_fallback),
        cmocka_unit_test(test_arf_ses_complaint),
        cmocka_unit_test(test_arf_ses_bounce_not_arf),
        cmocka_unit_test(test_arf_optout_table),
        cmocka_unit_test(test_arf_fields_direct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

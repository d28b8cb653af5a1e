/*
 * attribute_test.c: unit tests for attribute.c without a directory (st = NULL):
 * the Received walk (handover hop, our relay chain, submission hop), the
 * authenticated user, ESMTPA with the envelope sender, the web script from
 * "from userid N" and X-PHP-Originating-Script, the ARF Source-IP, forged
 * Received headers naming our host, and a mail that never passed us. Each row
 * is an original message's headers; failures print "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "attribute/attribute.h"
#include "config/config.h"
#include "parse/parse.h"
#include "parse/report.h"

static const char conf[] = "[network]\n"
                           "our_hosts = *.hoster.example;relay.example.org\n"
                           "our_ips = 198.51.100.0/24;2001:db8:100::/48\n";

struct row {
    const char *name;
    const char *source_ip;  /* ARF Source-IP, or NULL */
    const char *headers;    /* the original message's header block */
    bool attributed;
    const char *kind, *subject;
    const char *reason;     /* substring of the reason, or NULL */
};

#define MSG "From: x@customer.example\nSubject: s\nMessage-ID: <m@x>\n"

static const struct row rows[] = {
    { "authenticated sender at our submission hop", NULL,
      "Received: from out1.hoster.example (out1.hoster.example [198.51.100.7]) by mx.rcpt.test "
      "with ESMTPS id A; Thu, 26 Nov 2026 10:00:00 +0000\n"
      "Received: from [203.0.113.9] (Authenticated sender: Alice@Customer.example) by "
      "smtp.hoster.example (Postfix) with ESMTPSA id B; Thu, 26 Nov 2026 09:59:59 +0000\n" MSG,
      true, "account", "alice@customer.example", NULL },
    { "ESMTPA without a name: the envelope sender", NULL,
      "Return-Path: <bob@customer.example>\n"
      "Received: from out2.hoster.example ([198.51.100.8]) by mx.rcpt.test with ESMTP id A; Thu, "
      "26 Nov 2026 10:00:00 +0000\n"
      "Received: from pc ([203.0.113.9]) by smtp.hoster.example with ESMTPA id B; Thu, 26 Nov "
      "2026 09:59:59 +0000\n" MSG,
      true, "account", "bob@customer.example", NULL },
    { "web script: userid and PHP header", NULL,
      "Received: from web2.hoster.example ([198.51.100.40]) by mx.rcpt.test with ESMTP id A; Thu, "
      "26 Nov 2026 10:00:00 +0000\n"
      "Received: by web2.hoster.example (Postfix, from userid 10023) id B; Thu, 26 Nov 2026 "
      "09:59:59 +0000\n"
      "X-PHP-Originating-Script: 10023:contact.php\n" MSG,
      true, "script", "10023:contact.php", NULL },
    { "userid alone", NULL,
      "Received: from web2.hoster.example ([198.51.100.40]) by mx.rcpt.test with ESMTP id A; Thu, "
      "26 Nov 2026 10:00:00 +0000\n"
      "Received: by web2.hoster.example (Postfix, from userid 33) id B; Thu, 26 Nov 2026 "
      "09:59:59 +0000\n" MSG,
      true, "script", "33:", NULL },
    { "handover over IPv6", NULL,
      "Received: from mail.other.test (mail.other.test [IPv6:2001:db8:100::25]) by mx.rcpt.test "
      "with ESMTPS id A; Thu, 26 Nov 2026 10:00:00 +0000\n" MSG,
      true, "ip", "2001:db8:100::25", NULL },
    { "only the ARF Source-IP is ours", "198.51.100.99", MSG, true, "ip", "198.51.100.99", NULL },
    { "never passed us", "192.0.2.1",
      "Received: from bot.test ([192.0.2.1]) by mx.rcpt.test with SMTP id A; Thu, 26 Nov 2026 "
      "10:00:00 +0000\n" MSG,
      false, NULL, NULL, "likely forged sender" },
    { "HELO claims our name, the address is not ours", NULL,
      "Received: from smtp.hoster.example (bot.test [192.0.2.1]) by mx.rcpt.test with SMTP id A; "
      "Thu, 26 Nov 2026 10:00:00 +0000\n" MSG,
      false, NULL, NULL, "likely forged sender" },
    { "forged Received naming our host below a foreign hop", NULL,
      "Received: from bot.test ([192.0.2.1]) by mx.rcpt.test with SMTP id A; Thu, 26 Nov 2026 "
      "10:00:00 +0000\n"
      "Received: from [203.0.113.9] (Authenticated sender: victim@customer.example) by "
      "smtp.hoster.example with ESMTPSA id B; Thu, 26 Nov 2026 09:59:59 +0000\n" MSG,
      false, NULL, NULL, "likely forged sender" },
    { "no Received headers, no Source-IP", NULL, MSG, false, NULL, NULL, "no Received headers" },
    { "topmost header claims our host, nobody received it from us", NULL,
      "Received: from [203.0.113.9] (Authenticated sender: alice@customer.example) by "
      "smtp.hoster.example with ESMTPSA id B; Thu, 26 Nov 2026 09:59:59 +0000\n" MSG,
      false, NULL, NULL, "likely forged sender" },
    { "host name pattern of an exact host", NULL,
      "Received: from relay.example.org (relay.example.org) by mx.rcpt.test with ESMTP id A; "
      "Thu, 26 Nov 2026 10:00:00 +0000\n" MSG,
      false, NULL, NULL, "no authenticated user" },
};

static void test_rows(void **state)
{
    (void)state;
    struct config cfg;
    config_defaults(&cfg);
    struct ad_err err = { 0 };
    if (config_load_data(&cfg, "t.conf", conf, strlen(conf), &err) != 0)
        fail_msg("config: %s", err.msg);
    int bad = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *w = &rows[i];
        /* Wrap the original in a minimal ARF report and parse it for real. */
        GString *m = g_string_new(
            "From: fbl@provider.test\nTo: abuse@hoster.example\nSubject: report\n"
            "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report; "
            "boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\nreport\n--B\n"
            "Content-Type: message/feedback-report\n\nFeedback-Type: abuse\nVersion: 1\n");
        if (w->source_ip)
            g_string_append_printf(m, "Source-IP: %s\n", w->source_ip);
        g_string_append_printf(m, "\n--B\nContent-Type: message/rfc822\n\n%s\nbody\n--B--\n",
                               w->headers);
        struct parse_limits lim;
        parse_limits_default(&lim);
        struct ad_err perr = { 0 };
        struct report *r = parse_message(m->str, m->len, &lim, &perr);
        if (!r)
            fail_msg("%s: parse: %s", w->name, perr.msg);
        struct attribution a;
        if (attribute_report(&cfg, NULL, r, &a, &err) != 0)
            fail_msg("%s: %s", w->name, err.msg);
        if (a.attributed != w->attributed) {
            print_error("%s: attributed got %d, want %d (reason %s)\n", w->name, a.attributed,
                        w->attributed, a.reason ? a.reason : "-");
            bad++;
        }
        if (w->kind && (!a.subject_kind || strcmp(a.subject_kind, w->kind))) {
            print_error("%s: kind got %s, want %s\n", w->name,
                        a.subject_kind ? a.subject_kind : "NULL", w->kind);
            bad++;
        }
        if (w->subject && (!a.subject || strcmp(a.subject, w->subject))) {
            print_error("%s: subject got %s, want %s\n", w->name, a.subject ? a.subject : "NULL",
                        w->subject);
            bad++;
        }
        if (w->reason && (!a.reason || !strstr(a.reason, w->reason))) {
            print_error("%s: reason got %s, want ...%s...\n", w->name,
                        a.reason ? a.reason : "NULL", w->reason);
            bad++;
        }
        if (a.evidence->len == 0 && w->attributed) {
            print_error("%s: got no evidence, want some\n", w->name);
            bad++;
        }
        attribution_clear(&a);
        report_free(r);
        g_string_free(m, TRUE);
    }
    config_free(&cfg);
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

static void test_networks(void **state)
{
    (void)state;
    struct config cfg;
    config_defaults(&cfg);
    struct ad_err err = { 0 };
    if (config_load_data(&cfg, "t.conf", conf, strlen(conf), &err) != 0)
        fail_msg("config: %s", err.msg);
    struct {
        const char *ip;
        bool ours;
    } ips[] = { { "198.51.100.0", true },   { "198.51.100.255", true }, { "198.51.101.1", false },
                { "2001:db8:100:ffff::1", true }, { "2001:db8:101::1", false },
                { "::ffff:198.51.100.3", true },  { "not-an-ip", false },   { "", false } };
    for (size_t i = 0; i < sizeof ips / sizeof ips[0]; i++)
        if (config_ip_is_ours(&cfg, ips[i].ip) != ips[i].ours)
            fail_msg("ip %s: got %d, want %d", ips[i].ip, !ips[i].ours, ips[i].ours);
    struct {
        const char *h;
        bool ours;
    } hosts[] = { { "smtp.hoster.example", true }, { "SMTP.Hoster.Example.", true },
                  { "hoster.example", false },      { "evilhoster.example", false },
                  { "relay.example.org", true },    { "x.relay.example.org", false } };
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++)
        if (config_host_is_ours(&cfg, hosts[i].h) != hosts[i].ours)
            fail_msg("host %s: got %d, want %d", hosts[i].h, !hosts[i].ours, hosts[i].ours);
    config_free(&cfg);
}

int main(void)
{
    parse_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_networks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

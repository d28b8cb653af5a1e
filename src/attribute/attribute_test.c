/*
 * attribute_test.c: unit tests for attribute.c. Without a directory (st = NULL):
 * the Received walk (handover hop, our relay chain, submission hop), the
 * authenticated user, ESMTPA with the envelope sender, the web script from
 * "from userid N" and X-PHP-Originating-Script, the ARF Source-IP, forged
 * Received headers naming our host, and a mail that never passed us. With an
 * in-memory directory: which script paths are trusted (inside the uid's web
 * space root, bare names, relative paths) and which are cut to the uid
 * (outside, a prefix trick, '..', '.', '//', control characters, over 1024
 * bytes, no root known, a uid that disagrees with our host's, a uid that is not
 * a number), and in_directory for accounts listed, only their domain listed,
 * unknown, scripts of listed and unlisted uids, customers and addresses. Each
 * row is an original message's headers; failures print "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attribute/attribute.h"
#include "config/config.h"
#include "directory/directory.h"
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

/* Wraps an original message's headers in a minimal ARF report, parses it for
 * real and attributes it with st (may be NULL). a is the caller's to clear. */
static void attribute_headers(const struct config *cfg, struct store *st, const char *name,
                              const char *source_ip, const char *headers, struct attribution *a)
{
    GString *m = g_string_new(
        "From: fbl@provider.test\nTo: abuse@hoster.example\nSubject: report\n"
        "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report; "
        "boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\nreport\n--B\n"
        "Content-Type: message/feedback-report\n\nFeedback-Type: abuse\nVersion: 1\n");
    if (source_ip)
        g_string_append_printf(m, "Source-IP: %s\n", source_ip);
    g_string_append_printf(m, "\n--B\nContent-Type: message/rfc822\n\n%s\nbody\n--B--\n",
                           headers);
    struct parse_limits lim;
    parse_limits_default(&lim);
    struct ad_err perr = { 0 };
    struct report *r = parse_message(m->str, m->len, &lim, &perr);
    if (!r)
        fail_msg("%s: parse: %s", name, perr.msg);
    struct ad_err err = { 0 };
    if (attribute_report(cfg, st, r, a, &err) != 0)
        fail_msg("%s: %s", name, err.msg);
    report_free(r);
    g_string_free(m, TRUE);
}

static void load_conf(struct config *cfg)
{
    config_defaults(cfg);
    struct ad_err err = { 0 };
    if (config_load_data(cfg, "t.conf", conf, strlen(conf), &err) != 0)
        fail_msg("config: %s", err.msg);
}

static void test_rows(void **state)
{
    (void)state;
    struct config cfg;
    load_conf(&cfg);
    int bad = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *w = &rows[i];
        struct attribution a;
        attribute_headers(&cfg, NULL, w->name, w->source_ip, w->headers, &a);
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
        if (a.in_directory) {
            print_error("%s: in_directory got 1, want 0 (no directory)\n", w->name);
            bad++;
        }
        attribution_clear(&a);
    }
    config_free(&cfg);
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

/* ---- with a directory ---------------------------------------------------- */

static const char dir_csv[] =
    "customer_id,customer_name,contact_email,language,account,domain,uid,webroot\n"
    "C1002,Baeckerei,inhaber@privat.example,de,info@baeckerei.example,baeckerei.example,10023,"
    "/var/www/c1002/\n"
    "C2,Other,x@other.example,en,,other.example,10024,\n"
    "C3,Evil,e@evil.example,en,,,10025,/var/www/c1002-evil\n";

/* Our web host handing a script's mail to the recipient, with the local pickup. */
#define WEB_HOPS(userid) \
    "Received: from web2.hoster.example ([198.51.100.40]) by mx.rcpt.test with ESMTP id A; " \
    "Thu, 26 Nov 2026 10:00:00 +0000\n" \
    "Received: by web2.hoster.example (Postfix" userid ") id B; Thu, 26 Nov 2026 " \
    "09:59:59 +0000\n"
#define WEB(userid, script) WEB_HOPS(userid) "X-PHP-Originating-Script: " script "\n" MSG
#define SUBMIT(who) \
    "Received: from out1.hoster.example (out1.hoster.example [198.51.100.7]) by mx.rcpt.test " \
    "with ESMTPS id A; Thu, 26 Nov 2026 10:00:00 +0000\n" \
    "Received: from [203.0.113.9] (Authenticated sender: " who ") by smtp.hoster.example " \
    "(Postfix) with ESMTPSA id B; Thu, 26 Nov 2026 09:59:59 +0000\n" MSG

struct dir_row {
    const char *name;
    const char *headers;
    const char *kind, *subject;
    bool in_directory;
    const char *said;       /* substring of some evidence, or NULL */
};

static const struct dir_row dir_rows[] = {
    /* Scripts: which paths are kept. */
    { "bare name", WEB(", from userid 10023", "10023:contact.php"), "script",
      "10023:contact.php", true, "web space uid 10023 belongs to customer C1002" },
    { "inside the web space root",
      WEB(", from userid 10023", "10023:/var/www/c1002/htdocs/x.php"), "script",
      "10023:/var/www/c1002/htdocs/x.php", true,
      "script path /var/www/c1002/htdocs/x.php lies in web space /var/www/c1002 of uid 10023" },
    { "relative path", WEB(", from userid 10023", "10023:wp-content/plugins/f/send.php"),
      "script", "10023:wp-content/plugins/f/send.php", true, NULL },
    { "header uid only", WEB("", "10023:/var/www/c1002/x.php for 192.0.2.1"), "script",
      "10023:/var/www/c1002/x.php", true, NULL },
    { "outside the web space root",
      WEB(", from userid 10023", "10023:/var/www/other-customer/x.php"), "script", "10023:",
      true,
      "script path /var/www/other-customer/x.php is outside web space /var/www/c1002 of uid "
      "10023: only the uid is used" },
    { "prefix trick", WEB(", from userid 10023", "10023:/var/www/c1002-evil/x.php"), "script",
      "10023:", true, "is outside web space /var/www/c1002 of uid 10023" },
    { "the root itself", WEB(", from userid 10023", "10023:/var/www/c1002"), "script", "10023:",
      true, "is outside web space" },
    { "shorter root is no prefix", WEB(", from userid 10025", "10025:/var/www/c1002/x.php"),
      "script", "10025:", true, "is outside web space /var/www/c1002-evil of uid 10025" },
    { "dot-dot", WEB(", from userid 10023", "10023:/var/www/c1002/../c1003/x.php"), "script",
      "10023:", true, "has a '..' segment: only the uid is used" },
    { "relative dot-dot", WEB(", from userid 10023", "10023:../c1003/x.php"), "script", "10023:",
      true, "has a '..' segment" },
    { "dot", WEB(", from userid 10023", "10023:/var/www/c1002/./x.php"), "script", "10023:", true,
      "has a '.' segment" },
    { "double slash", WEB(", from userid 10023", "10023:/var/www/c1002//x.php"), "script",
      "10023:", true, "has an empty segment" },
    { "control character", WEB(", from userid 10023", "10023:/var/www/c1002/x\x01.php"),
      "script", "10023:", true, "has a control character" },
    { "no root in the directory", WEB(", from userid 10024", "10024:/var/www/c1024/x.php"),
      "script", "10024:", true, "the directory gives no web space root for uid 10024" },
    { "uid not in the directory", WEB(", from userid 99999", "99999:/var/www/c1002/x.php"),
      "script", "99999:", false, "the script 99999: is not itself listed" },
    { "unlisted uid, bare name", WEB(", from userid 99999", "99999:x.php"), "script",
      "99999:x.php", false, "not itself listed in the customer directory" },
    { "header disagrees with our host",
      WEB(", from userid 10023", "10024:/var/www/c1002/x.php"), "script", "10023:", true,
      "the header names uid 10024, but our host took the mail from userid 10023" },
    { "uid not a number", WEB("", "www-data:/var/www/c1002/x.php"), "ip", "198.51.100.40", false,
      "'www-data' is not a uid" },
    { "uid with letters", WEB("", "10023abc:x.php"), "script", ":x.php", false,
      "'10023abc' is not a uid" },
    { "absolute path without any uid", WEB("", "/var/www/c1002/x.php"), "ip", "198.51.100.40",
      false, "no uid names its web space: not used" },
    /* in_directory for the other kinds. */
    { "account listed", SUBMIT("Info@Baeckerei.example"), "account", "info@baeckerei.example",
      true, "account info@baeckerei.example belongs to customer C1002" },
    { "only the domain listed", SUBMIT("shop@baeckerei.example"), "account",
      "shop@baeckerei.example", false, "its domain baeckerei.example belongs to customer C1002" },
    { "unknown account", SUBMIT("nobody@unknown.example"), "account", "nobody@unknown.example",
      false, "the account nobody@unknown.example is not itself listed" },
    { "customer by sender domain",
      "Return-Path: <news@other.example>\n"
      "Received: from out2.hoster.example ([198.51.100.8]) by mx.rcpt.test with ESMTP id A; "
      "Thu, 26 Nov 2026 10:00:00 +0000\n" MSG,
      "customer", "C2", true, "sender domain other.example belongs to customer C2" },
    { "address", "Received: from out2.hoster.example ([198.51.100.8]) by mx.rcpt.test with "
      "ESMTP id A; Thu, 26 Nov 2026 10:00:00 +0000\n" MSG,
      "ip", "198.51.100.8", false, NULL },
};

static bool has_evidence(const struct attribution *a, const char *said)
{
    for (guint i = 0; i < a->evidence->len; i++) {
        const struct attribute_evidence *e = g_ptr_array_index(a->evidence, i);
        if (strstr(e->said, said))
            return true;
    }
    return false;
}

static int check_dir_row(const struct config *cfg, struct store *st, const struct dir_row *w)
{
    int bad = 0;
    struct attribution a;
    attribute_headers(cfg, st, w->name, NULL, w->headers, &a);
    if (!a.subject_kind || strcmp(a.subject_kind, w->kind)) {
        print_error("%s: kind got %s, want %s\n", w->name,
                    a.subject_kind ? a.subject_kind : "NULL", w->kind);
        bad++;
    }
    if (!a.subject || strcmp(a.subject, w->subject)) {
        print_error("%s: subject got %s, want %s\n", w->name, a.subject ? a.subject : "NULL",
                    w->subject);
        bad++;
    }
    if (a.in_directory != w->in_directory) {
        print_error("%s: in_directory got %d, want %d\n", w->name, a.in_directory,
                    w->in_directory);
        bad++;
    }
    if (w->said && !has_evidence(&a, w->said)) {
        print_error("%s: evidence got none with ...%s...; it has:\n", w->name, w->said);
        for (guint k = 0; k < a.evidence->len; k++)
            print_error("  %s\n",
                        ((struct attribute_evidence *)g_ptr_array_index(a.evidence, k))->said);
        bad++;
    }
    /* The evidence always makes valid JSON, control characters or not. */
    char *json = attribution_evidence_json(&a);
    if (!json || strncmp(json, "[{", 2) != 0) {
        print_error("%s: evidence JSON got %s\n", w->name, json ? json : "NULL");
        bad++;
    }
    free(json);
    attribution_clear(&a);
    return bad;
}

static void test_directory_rows(void **state)
{
    (void)state;
    struct config cfg;
    load_conf(&cfg);
    struct store *st = NULL;
    struct ad_err err = { 0 };
    if (store_open(":memory:", 0, &st, &err) != 0)
        fail_msg("store: %s", err.msg);
    struct directory_import_stats stats;
    if (directory_import(st, "dir.csv", dir_csv, strlen(dir_csv), &stats, NULL, NULL, &err) ||
        stats.n_bad || stats.n_webroots != 2)
        fail_msg("directory: %s (bad %zu, webroots %zu)", err.msg, stats.n_bad, stats.n_webroots);
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(dir_rows); i++)
        bad += check_dir_row(&cfg, st, &dir_rows[i]);

    /* An over-long path: cut to the uid. */
    GString *h = g_string_new(WEB_HOPS(", from userid 10023")
                              "X-PHP-Originating-Script: 10023:/var/www/c1002/");
    while (h->len < 1400)
        g_string_append(h, "abcdefghi/");
    g_string_append(h, "x.php\n" MSG);
    const struct dir_row long_path = { "over 1024 bytes", h->str, "script", "10023:", true,
                                       "is longer than 1024 bytes" };
    bad += check_dir_row(&cfg, st, &long_path);
    g_string_free(h, TRUE);

    store_close(st);
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
        cmocka_unit_test(test_directory_rows),
        cmocka_unit_test(test_networks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * outcount_test.c: the policy server's outbound counts (outcount.h), table
 * driven: [network] host_addresses entries (exact host, first label, "*",
 * malformed ones), which server_address may name the outbound address, one
 * mail per instance and one recipient per request, the take (deltas, the
 * table emptied, a mail straddling a take counted once, older hours dropped)
 * and the bound. Failures print "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "policy/outcount.h"

static int check_str(const char *name, const char *got, const char *want)
{
    if (g_strcmp0(got, want) == 0)
        return 0;
    fprintf(stderr, "%s: got '%s', want '%s'\n", name, got ? got : "(null)", want);
    return 1;
}

static void test_host_addresses(void **state)
{
    (void)state;
    struct config cfg;
    config_defaults(&cfg);
    char *entries[] = { "*=192.0.2.99", "mail1=192.0.2.10, 192.0.2.11", "bad", "x=", "y=notanip",
                        "MAIL2.hoster.example=2001:db8::25", NULL };
    char **saved = cfg.host_addresses;
    cfg.host_addresses = entries;
    static const struct {
        const char *host, *want;
    } rows[] = {
        { "mail1", "192.0.2.10 192.0.2.11" },
        { "mail1.hoster.example", "192.0.2.10 192.0.2.11" },
        { "mail2.hoster.example", "2001:db8::25" },
        { "other", "192.0.2.99" },
        { NULL, "" },
    };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        char **a = outcount_host_addresses(&cfg, rows[i].host);
        char *got = g_strjoinv(" ", a);
        bad += check_str(rows[i].host ? rows[i].host : "(no host)", got, rows[i].want);
        g_free(got);
        g_strfreev(a);
    }
    bad += check_str("problem bad", config_host_addresses_problem("bad"), "expected HOST=ADDR[,ADDR...]");
    bad += check_str("problem x=", config_host_addresses_problem("x="), "no address");
    bad += check_str("problem y=notanip", config_host_addresses_problem("y=notanip"), "not an IP address");
    bad += check_str("problem =1.2.3.4", config_host_addresses_problem("=192.0.2.1"), "the host name is empty");
    cfg.host_addresses = saved;
    config_free(&cfg);
    assert_int_equal(bad, 0);
}

static void test_server_address(void **state)
{
    (void)state;
    struct config cfg;
    config_defaults(&cfg);
    static const struct {
        const char *a;
        bool want_any, want_ours;
    } rows[] = {
        { "192.0.2.10", true, true },  { "198.51.100.1", true, false }, { "127.0.0.1", false, false },
        { "::1", false, false },       { "fe80::1", false, false },     { "0.0.0.0", false, false },
        { "2001:db8::25", true, false }, { "not-an-ip", false, false }, { NULL, false, false },
    };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++)
        bad += check_str(rows[i].a ? rows[i].a : "(null)",
                         outcount_server_address_ok(&cfg, rows[i].a) ? "yes" : "no",
                         rows[i].want_any ? "yes" : "no");
    config_free(&cfg);
    config_defaults(&cfg);
    struct ad_err err = { 0 };
    const char conf[] = "[network]\nour_ips = 192.0.2.0/24\n";
    assert_int_equal(config_load_data(&cfg, "t", conf, sizeof conf - 1, &err), 0);
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++)
        bad += check_str(rows[i].a ? rows[i].a : "(null)",
                         outcount_server_address_ok(&cfg, rows[i].a) ? "yes" : "no",
                         rows[i].want_ours ? "yes" : "no");
    config_free(&cfg);
    assert_int_equal(bad, 0);
}

static gint cmp_strp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The batch as "ADDR SENDER MSGS RCPTS" lines, sorted. */
static char *batch_text(const struct outcount_batch *b)
{
    GPtrArray *l = g_ptr_array_new_with_free_func(g_free);
    for (size_t i = 0; b && i < b->n; i++)
        g_ptr_array_add(l, g_strdup_printf("%s %s:%s %lld %lld", b->d[i].address,
                                           b->d[i].sender_kind, b->d[i].sender,
                                           (long long)b->d[i].msgs, (long long)b->d[i].rcpts));
    g_ptr_array_sort(l, cmp_strp);
    g_ptr_array_add(l, NULL);
    char *s = g_strjoinv("|", (char **)l->pdata);
    g_ptr_array_free(l, TRUE);
    return s;
}

static void test_count_and_take(void **state)
{
    (void)state;
    struct outcount *oc = outcount_new(3);
    char *one[] = { "192.0.2.10", NULL }, *two[] = { "192.0.2.10", "192.0.2.11", NULL };
    int64_t t = 1800000000; /* 10:40 into an hour */
    t -= t % 3600;
    t += 600;
    /* alice: 2 mails of 3 and 1 recipients; the last recipient after a take. */
    outcount_add(oc, t, one, "account", "Alice@Customer.example", "m1");
    outcount_add(oc, t, one, "account", "alice@customer.example", "m1");
    outcount_add(oc, t, one, "account", "alice@customer.example", "m2");
    struct outcount_batch *b = outcount_take(oc, t);
    char *s = batch_text(b);
    int bad = check_str("first take", s, "192.0.2.10 account:alice@customer.example 2 3");
    g_free(s);
    b = outcount_batch_free(b);
    outcount_add(oc, t + 1, one, "account", "alice@customer.example", "m2");
    outcount_add(oc, t + 1, two, "account", "bob@customer.example", NULL);
    b = outcount_take(oc, t + 1);
    s = batch_text(b);
    bad += check_str("second take: m2 straddled, bob on both addresses", s,
                     "192.0.2.10 account:alice@customer.example 0 1|"
                     "192.0.2.10 account:bob@customer.example 1 1|"
                     "192.0.2.11 account:bob@customer.example 1 1");
    g_free(s);
    b = outcount_batch_free(b);
    assert_null(outcount_take(oc, t + 2)); /* nothing new */
    /* The table holds 3 rows: a fourth sender is dropped and counted. */
    outcount_add(oc, t + 3, one, "account", "carol@customer.example", "c1");
    assert_int_equal(outcount_dropped(oc), 1);
    /* The next hour: the old rows go at the take, the new one fits. */
    assert_null(outcount_take(oc, t + 3600));
    outcount_add(oc, t + 3600, one, "account", "carol@customer.example", "c1");
    b = outcount_take(oc, t + 3600);
    s = batch_text(b);
    bad += check_str("next hour", s, "192.0.2.10 account:carol@customer.example 1 1");
    if (b && b->n == 1 && b->d[0].hour != t - 600 + 3600)
        bad += check_str("hour", "wrong", "the hour's first second");
    g_free(s);
    outcount_batch_free(b);
    /* No sender or no address: nothing. */
    outcount_add(oc, t + 3600, one, "account", "", "x");
    outcount_add(oc, t + 3600, NULL, "account", "dave@customer.example", "x");
    char *long_login = g_strnfill(400, 'a');
    outcount_add(oc, t + 3600, one, "account", long_login, "x");
    g_free(long_login);
    assert_null(outcount_take(oc, t + 3601));
    outcount_free(oc);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_addresses),
        cmocka_unit_test(test_server_address),
        cmocka_unit_test(test_count_and_take),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

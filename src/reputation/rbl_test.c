/*
 * rbl_test.c: table-driven unit tests for the DNSBL check's pure parts: query
 * names (reversed IPv4, IPv6 nibbles as in RFC 5782 section 2.4), expansion of
 * addresses and ranges (the /20 limit), the zone table (keys, lists that no
 * longer exist), the reading of answers (what is a listing and what is an
 * error, never a listing), and A and TXT replies built byte by byte,
 * malformed ones included. One run against a resolver that is not there
 * shows that every result becomes an error, quickly. Real DNS answers are
 * tested by tests/rbl.sh with rbldnsd. A failure prints "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "reputation/rbl.h"
#include "reputation/rbl_zones.h"

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

static int check_str(const char *row, const char *got, const char *want)
{
    if ((got == NULL && want == NULL) || (got && want && strcmp(got, want) == 0))
        return 0;
    print_error("%s: got \"%s\", want \"%s\"\n", row, got ? got : "(NULL)", want ? want : "(NULL)");
    return 1;
}

static int check_ll(const char *row, const char *what, long long got, long long want)
{
    if (got == want)
        return 0;
    print_error("%s: %s: got %lld, want %lld\n", row, what, got, want);
    return 1;
}

static struct rbl_addr addr_of(const char *text)
{
    struct config_net n;
    assert_true(config_parse_net(text, &n));
    struct rbl_addr *a = NULL;
    size_t count = 0;
    assert_int_equal(rbl_addresses_expand(&n, 1, "test", &a, &count, NULL), 0);
    assert_int_equal(count, 1);
    struct rbl_addr out = a[0];
    g_free(a);
    return out;
}

static void test_qname(void **state)
{
    (void)state;
    static const struct {
        const char *addr, *zone, *want;
    } rows[] = {
        { "192.0.2.1", "zen.spamhaus.org", "1.2.0.192.zen.spamhaus.org" },
        { "127.0.0.2", "bl.example", "2.0.0.127.bl.example" },
        /* RFC 5782 section 2.4's example. */
        { "2001:db8:1:2:3:4:567:89ab", "dnsbl.example",
          "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.dnsbl.example" },
        { "2001:db8::25", "zen.test",
          "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.test" },
    };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        struct rbl_addr a = addr_of(rows[i].addr);
        char buf[300];
        assert_true(rbl_qname(&a, rows[i].zone, buf, sizeof buf));
        bad += check_str(rows[i].addr, buf, rows[i].want);
    }
    /* Too long for a DNS name: refused, not cut. */
    struct rbl_addr a = addr_of("2001:db8::1");
    char longzone[220];
    memset(longzone, 'a', sizeof longzone - 1);
    longzone[sizeof longzone - 1] = '\0';
    char buf[300];
    bad += check_ll("long zone", "qname", rbl_qname(&a, longzone, buf, sizeof buf), 0);
    assert_int_equal(bad, 0);
}

/* listing: our domains for the domain lists: "*." and a trailing dot taken
 * off, lower case, duplicates once, non-names refused; the query name; which
 * zones know domains. */
static void test_domains(void **state)
{
    (void)state;
    char *items[] = { "*.Hoster.Example", "hoster.example.", "mail.hoster.example", NULL };
    struct rbl_addr *a = NULL;
    size_t n = 0;
    struct ad_err err = { 0 };
    int bad = 0;
    assert_int_equal(rbl_domains_add(items, "[reputation] domains", &a, &n, &err), 0);
    assert_int_equal(n, 2);
    bad += check_str("first", a[0].text, "hoster.example");
    bad += check_str("second", a[1].text, "mail.hoster.example");
    char q[300];
    assert_true(rbl_qname(&a[0], "dbl.spamhaus.org", q, sizeof q));
    bad += check_str("qname", q, "hoster.example.dbl.spamhaus.org");
    static const char *const refused[] = { "bad name.example", "a..b", "x/y", "", NULL };
    for (const char *const *r = refused; *r; r++) {
        char *one[] = { (char *)*r, NULL };
        if (rbl_domains_add(one, "[reputation] domains", &a, &n, &err) != AD_ERR_CONFIG)
            bad += check_str(*r, "accepted", "refused");
    }
    g_free(a);
    const struct rbl_zone_info *dbl = rbl_zones_find("dbl.spamhaus.org", NULL);
    const struct rbl_zone_info *zen = rbl_zones_find("zen.spamhaus.org", NULL);
    assert_non_null(dbl);
    assert_true(dbl->domains);
    bad += check_str("dbl test name", dbl->test_domain, "dbltest.com");
    bad += check_str("dbl 127.0.1.2", rbl_zones_meaning(dbl, 0x7f000102u), "DBL: a spam domain");
    assert_false(zen->domains);
    assert_int_equal(bad, 0);
}

static void test_expand(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *items[4];
        int rc;
        size_t n;
        const char *first, *last;
    } rows[] = {
        { "one", { "192.0.2.7" }, 0, 1, "192.0.2.7", "192.0.2.7" },
        { "/30", { "192.0.2.4/30" }, 0, 4, "192.0.2.4", "192.0.2.7" },
        { "host bits cleared", { "192.0.2.9/30" }, 0, 4, "192.0.2.8", "192.0.2.11" },
        { "overlap counted once", { "192.0.2.0/30", "192.0.2.2", "192.0.2.0/31" }, 0, 4,
          "192.0.2.0", "192.0.2.3" },
        { "/20", { "10.1.0.0/20" }, 0, 4096, "10.1.0.0", "10.1.15.255" },
        { "/19 refused", { "10.1.0.0/19" }, AD_ERR_LIMIT, 0, NULL, NULL },
        { "two /20 refused", { "10.1.0.0/20", "10.2.0.0/20" }, AD_ERR_LIMIT, 0, NULL, NULL },
        { "ipv6 /126", { "2001:db8::/126" }, 0, 4, "2001:db8::", "2001:db8::3" },
        { "ipv6 /64 refused", { "2001:db8::/64" }, AD_ERR_LIMIT, 0, NULL, NULL },
        { "mixed", { "192.0.2.1", "2001:db8::25" }, 0, 2, "192.0.2.1", "2001:db8::25" },
        { "not an address", { "mail.example.net" }, AD_ERR_CONFIG, 0, NULL, NULL },
    };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        struct rbl_addr *a = NULL;
        size_t n = 0;
        struct ad_err err = { 0 };
        int rc = rbl_addresses_parse((char *const *)rows[i].items, "[reputation] addresses", &a,
                                     &n, &err);
        bad += check_ll(rows[i].name, "rc", rc, rows[i].rc);
        bad += check_ll(rows[i].name, "count", (long long)n, (long long)rows[i].n);
        if (rc == 0 && n) {
            bad += check_str(rows[i].name, a[0].text, rows[i].first);
            bad += check_str(rows[i].name, a[n - 1].text, rows[i].last);
        }
        if (rc == AD_ERR_LIMIT && !strstr(err.msg, "/20")) {
            print_error("%s: message '%s' does not name the /20 limit\n", rows[i].name, err.msg);
            bad++;
        }
        g_free(a);
    }
    assert_int_equal(bad, 0);
}

static void test_zones(void **state)
{
    (void)state;
    static const struct {
        const char *zone;
        const char *list;       /* built-in name, or NULL */
        size_t key;
        const char *problem;    /* a word of the refusal, or NULL */
    } rows[] = {
        { "zen.spamhaus.org", "Spamhaus ZEN", 0, NULL },
        { "ZEN.Spamhaus.ORG", "Spamhaus ZEN", 0, NULL },
        { "abcdef123.zen.dq.spamhaus.net", "Spamhaus ZEN (DQS)", 9, NULL },
        { "zen.dq.spamhaus.net", "Spamhaus ZEN (DQS)", 0, "key" },
        { "k.combined.mail.abusix.zone", "Abusix Mail Intelligence", 1, NULL },
        { "a.b.combined.mail.abusix.zone", NULL, 0, NULL },
        { "x.zen.spamhaus.org", NULL, 0, NULL },
        { "dnsbl-2.uceprotect.net", "UCEPROTECT level 2", 0, NULL },
        { "dnsbl.sorbs.net", NULL, 0, "SORBS" },
        { "spam.dnsbl.sorbs.net", NULL, 0, "SORBS" },
        { "dnsbl.njabl.org", NULL, 0, "NJABL" },
        { "dnsbl.ahbl.org", NULL, 0, "every address" },
        { "list.dsbl.org", NULL, 0, "DSBL" },
        { "bl..example", NULL, 0, "empty label" },
        { "bl.example.", NULL, 0, "final dot" },
        { "bl example", NULL, 0, "not a DNS name" },
        { "localhost", NULL, 0, "single label" },
        { "my.own.bl.example", NULL, 0, NULL },
    };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        size_t key = 99;
        const struct rbl_zone_info *info = rbl_zones_find(rows[i].zone, &key);
        bad += check_str(rows[i].zone, info ? info->name : NULL, rows[i].list);
        if (info)
            bad += check_ll(rows[i].zone, "key length", (long long)key, (long long)rows[i].key);
        const char *p = rbl_zones_problem(rows[i].zone);
        if ((p == NULL) != (rows[i].problem == NULL) || (p && !strstr(p, rows[i].problem))) {
            print_error("%s: problem: got \"%s\", want one with \"%s\"\n", rows[i].zone,
                        p ? p : "(NULL)", rows[i].problem ? rows[i].problem : "(NULL)");
            bad++;
        }
    }
    /* The key never shows: the zone's name is the list's. */
    char *items[] = { "SECRETKEY.zen.dq.spamhaus.net", "bl.spamcop.net", NULL };
    struct rbl_zone *z = NULL;
    size_t n = 0;
    assert_int_equal(rbl_zones_parse(items, &z, &n, NULL), 0);
    bad += check_str("dqs query", z[0].query, "secretkey.zen.dq.spamhaus.net");
    bad += check_str("dqs name", z[0].name, "zen.dq.spamhaus.net");
    bad += check_str("spamcop name", z[1].name, "bl.spamcop.net");
    rbl_zones_free(z, n);
    char *dup[] = { "bl.spamcop.net", "BL.SPAMCOP.NET", NULL };
    struct ad_err err = { 0 };
    bad += check_ll("duplicate", "rc", rbl_zones_parse(dup, &z, &n, &err), AD_ERR_CONFIG);
    char *sorbs[] = { "dnsbl.sorbs.net", NULL };
    bad += check_ll("sorbs", "rc", rbl_zones_parse(sorbs, &z, &n, &err), AD_ERR_CONFIG);
    if (!strstr(err.msg, "SORBS")) {
        print_error("sorbs: message '%s'\n", err.msg);
        bad++;
    }
    assert_int_equal(bad, 0);
}

static void test_classify(void **state)
{
    (void)state;
    const struct rbl_zone_info *zen = rbl_zones_find("zen.spamhaus.org", NULL);
    const struct rbl_zone_info *spamcop = rbl_zones_find("bl.spamcop.net", NULL);
    static const struct {
        const char *name;
        int zone;               /* 0 unknown, 1 zen, 2 spamcop */
        uint32_t codes[3];
        size_t n;
        enum rbl_status want;
        const char *why;        /* a word of the reason, for errors */
    } rows[] = {
        { "nothing", 1, { 0 }, 0, RBL_CLEAN, NULL },
        { "sbl", 1, { IP4(127, 0, 0, 2) }, 1, RBL_LISTED, NULL },
        { "sbl+xbl+pbl", 1, { IP4(127, 0, 0, 2), IP4(127, 0, 0, 4), IP4(127, 0, 0, 10) }, 3,
          RBL_LISTED, NULL },
        { "public resolver", 1, { IP4(127, 255, 255, 254) }, 1, RBL_ERROR, "public" },
        { "too many queries", 1, { IP4(127, 255, 255, 255) }, 1, RBL_ERROR, "excessive" },
        { "typo", 1, { IP4(127, 255, 255, 252) }, 1, RBL_ERROR, "typing" },
        { "other spamhaus error", 1, { IP4(127, 255, 255, 1) }, 1, RBL_ERROR, "error code" },
        { "error beside a code", 1, { IP4(127, 0, 0, 2), IP4(127, 255, 255, 254) }, 2,
          RBL_ERROR, "public" },
        { "127.0.0.1", 2, { IP4(127, 0, 0, 1) }, 1, RBL_ERROR, "RFC 5782" },
        { "outside 127/8", 2, { IP4(192, 0, 2, 80) }, 1, RBL_ERROR, "outside" },
        { "parked domain", 0, { IP4(203, 0, 113, 5) }, 1, RBL_ERROR, "outside" },
        { "unknown list refusal", 0, { IP4(127, 255, 255, 254) }, 1, RBL_ERROR, "refused" },
        { "unknown list code", 0, { IP4(127, 0, 0, 9) }, 1, RBL_LISTED, NULL },
        { "spamcop 127.255.255.254 is not spamhaus", 2, { IP4(127, 255, 255, 254) }, 1,
          RBL_LISTED, NULL },
    };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        const struct rbl_zone_info *info = rows[i].zone == 1 ? zen : rows[i].zone == 2 ? spamcop
                                                                                       : NULL;
        char why[300];
        enum rbl_status st = rbl_classify(info, rows[i].codes, rows[i].n, why, sizeof why);
        bad += check_str(rows[i].name, rbl_status_name(st), rbl_status_name(rows[i].want));
        if (rows[i].why && !strstr(why, rows[i].why)) {
            print_error("%s: reason '%s' lacks '%s'\n", rows[i].name, why, rows[i].why);
            bad++;
        }
    }
    bad += check_str("meaning", rbl_zones_meaning(zen, IP4(127, 0, 0, 4)),
                     "XBL: an exploited or infected host (botnet, proxy; formerly CBL)");
    bad += check_str("no meaning", rbl_zones_meaning(zen, IP4(127, 0, 0, 99)), NULL);
    assert_int_equal(bad, 0);
}

/* ---- DNS replies built by hand ---------------------------------------------- */

static size_t put_name(unsigned char *p, const char *name)
{
    size_t n = 0;
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        p[n++] = (unsigned char)l;
        memcpy(p + n, name, l);
        n += l;
        name += l + (dot ? 1 : 0);
    }
    p[n++] = 0;
    return n;
}

/* A reply to name/type with n answers: A records (codes) or one TXT record
 * of the given character-strings (lengths in lens). */
static size_t reply(unsigned char *buf, const char *name, int type, const uint32_t *codes,
                    size_t n, const char *const *strs, const size_t *lens, size_t n_strs)
{
    size_t k = 0;
    unsigned char hdr[12] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, (unsigned char)n, 0, 0, 0, 0 };
    memcpy(buf, hdr, 12);
    k = 12;
    k += put_name(buf + k, name);
    buf[k++] = 0;
    buf[k++] = (unsigned char)type;
    buf[k++] = 0;
    buf[k++] = 1;
    for (size_t i = 0; i < n; i++) {
        buf[k++] = 0xc0;
        buf[k++] = 12;
        buf[k++] = 0;
        buf[k++] = (unsigned char)type;
        buf[k++] = 0;
        buf[k++] = 1;
        buf[k++] = 0;
        buf[k++] = 0;
        buf[k++] = 0x0e;
        buf[k++] = 0x10;
        if (type == 1) {
            buf[k++] = 0;
            buf[k++] = 4;
            uint32_t be = htonl(codes[i]);
            memcpy(buf + k, &be, 4);
            k += 4;
        } else {
            size_t rd = 0;
            for (size_t s = 0; s < n_strs; s++)
                rd += 1 + lens[s];
            buf[k++] = (unsigned char)(rd >> 8);
            buf[k++] = (unsigned char)rd;
            for (size_t s = 0; s < n_strs; s++) {
                buf[k++] = (unsigned char)lens[s];
                memcpy(buf + k, strs[s], lens[s]);
                k += lens[s];
            }
        }
    }
    return k;
}

static void test_answers(void **state)
{
    (void)state;
    unsigned char buf[1024];
    uint32_t codes[RBL_MAX_CODES];
    size_t n = 0;
    int bad = 0;
    uint32_t two[] = { IP4(127, 0, 0, 2), IP4(127, 0, 0, 4) };
    size_t len = reply(buf, "2.0.0.127.zen.test", 1, two, 2, NULL, NULL, 0);
    bad += check_ll("two codes", "rc", rbl_answer_codes(buf, (int)len, codes, RBL_MAX_CODES, &n), 0);
    bad += check_ll("two codes", "n", (long long)n, 2);
    bad += check_ll("two codes", "first", codes[0], IP4(127, 0, 0, 2));
    bad += check_ll("two codes", "second", codes[1], IP4(127, 0, 0, 4));
    /* At most max codes are kept. */
    bad += check_ll("max 1", "rc", rbl_answer_codes(buf, (int)len, codes, 1, &n), 0);
    bad += check_ll("max 1", "n", (long long)n, 1);
    /* Every truncation of the reply is refused or read within bounds (ASan). */
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *copy = g_memdup2(buf, cut ? cut : 1);
        int rc = rbl_answer_codes(copy, (int)cut, codes, RBL_MAX_CODES, &n);
        if (rc == 0 && n > 2) {
            print_error("cut %zu: %zu codes\n", cut, n);
            bad++;
        }
        g_free(copy);
    }
    bad += check_ll("empty", "rc", rbl_answer_codes(buf, 0, codes, RBL_MAX_CODES, &n),
                    AD_ERR_PARSE);
    /* TXT: one record of two strings, with a line break, an ESC sequence, a
     * NUL and a bidi override in it. */
    const char *strs[] = { "Listed\r\nby \x1b[2Jtest", " see http://bl.example/?1.2.3.4\xe2\x80\xae"
                                                      "!evil" };
    size_t lens[] = { strlen(strs[0]), strlen(strs[1]) };
    len = reply(buf, "4.3.2.1.zen.test", 16, NULL, 1, strs, lens, 2);
    char *t = rbl_answer_text(buf, (int)len);
    bad += check_str("txt", t, "Listed by [2Jtest see http://bl.example/?1.2.3.4!evil");
    g_free(t);
    const char *nul[] = { "a\0b" };
    size_t nul_len[] = { 3 };
    len = reply(buf, "4.3.2.1.zen.test", 16, NULL, 1, nul, nul_len, 1);
    t = rbl_answer_text(buf, (int)len);
    bad += check_str("txt nul", t, "a b");
    g_free(t);
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *copy = g_memdup2(buf, cut ? cut : 1);
        g_free(rbl_answer_text(copy, (int)cut));
        g_free(copy);
    }
    /* An A reply read as TXT has no text. */
    len = reply(buf, "2.0.0.127.zen.test", 1, two, 2, NULL, NULL, 0);
    t = rbl_answer_text(buf, (int)len);
    bad += check_str("txt of A", t, NULL);
    g_free(t);
    assert_int_equal(bad, 0);
}

/* Nothing answers on 127.0.0.1:9 (discard; closed here): every test point
 * fails, every result is an error with the zone's reason, and the run is
 * over within its timeout. */
static void test_no_resolver(void **state)
{
    (void)state;
    char *items[] = { "zen.spamhaus.org", "bl.spamcop.net", NULL };
    struct rbl_zone *zones = NULL;
    size_t n_zones = 0;
    assert_int_equal(rbl_zones_parse(items, &zones, &n_zones, NULL), 0);
    char *addr_items[] = { "192.0.2.0/30", "2001:db8::1", NULL };
    struct rbl_addr *addrs = NULL;
    size_t n_addrs = 0;
    assert_int_equal(rbl_addresses_parse(addr_items, "test", &addrs, &n_addrs, NULL), 0);
    struct rbl_run *run = rbl_run_new(addrs, n_addrs, zones, n_zones);
    struct rbl_opts o = { "127.0.0.1:9", 4, 100, 1000 };
    struct ad_err err = { 0 };
    assert_int_equal(rbl_run_check(run, &o, &err), 0);
    int bad = 0;
    const struct rbl_stats *s = rbl_run_stats(run);
    if (s->elapsed_ms > 3000) {
        print_error("no resolver: took %lld ms\n", s->elapsed_ms);
        bad++;
    }
    bad += check_ll("no resolver", "queries (test points only)", (long long)s->queries, 4);
    for (size_t z = 0; z < n_zones; z++) {
        if (!rbl_run_zone_error(run, z) || !strstr(rbl_run_zone_error(run, z), "127.0.0.2")) {
            print_error("zone %zu: error '%s'\n", z, rbl_run_zone_error(run, z));
            bad++;
        }
        for (size_t a = 0; a < n_addrs; a++) {
            const struct rbl_result *r = rbl_run_result(run, a, z);
            /* SpamCop has no IPv6 data: its IPv6 result is skipped. */
            enum rbl_status want = addrs[a].v6 && z == 1 ? RBL_SKIPPED : RBL_ERROR;
            bad += check_str(addrs[a].text, rbl_status_name(r->status), rbl_status_name(want));
        }
    }
    rbl_run_free(run);
    g_free(addrs);
    rbl_zones_free(zones, n_zones);
    /* A resolver list that cannot be read is the caller's error. */
    run = rbl_run_new(NULL, 0, NULL, 0);
    struct rbl_opts bad_o = { "dns.example.net", 4, 100, 1000 };
    bad += check_ll("bad resolver", "rc", rbl_run_check(run, &bad_o, &err), AD_ERR_CONFIG);
    rbl_run_free(run);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qname),    cmocka_unit_test(test_expand),
        cmocka_unit_test(test_domains),
        cmocka_unit_test(test_zones),    cmocka_unit_test(test_classify),
        cmocka_unit_test(test_answers),  cmocka_unit_test(test_no_resolver),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * milter_test.c: table-driven unit tests for what the milter reads from
 * untrusted headers (milter.c): the uid of Postfix's "from userid N"
 * Received header and the script subject "uid:path" from
 * X-PHP-Originating-Script, and the outbound log's Message-ID hash
 * (outbound.c). Every input was written for this test; a failure names the
 * row: "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <string.h>

#include "milter/milter.h"
#include "outbound/outbound.h"

static void test_received_uid(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want; /* want NULL: no uid */
    } rows[] = {
        { "by web1.hoster.example (Postfix, from userid 1001)\n\tid 4F1A; Sun, 29 Nov 2026", "1001" },
        { "by h (Postfix, from userid 0) id X", "0" },
        { "by h (Postfix, from userid 12345678901) id X", NULL },      /* 11 digits */
        { "by h (Postfix, from userid ) id X", NULL },
        { "by h (Postfix, from userid 10x) id X", NULL },
        { "from mx (mx [1.2.3.4]) by h (Postfix) with ESMTPS id X", NULL },
        { "", NULL },
    };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        char uid[16] = "";
        int got = milter_received_uid(rows[i].in, uid, sizeof uid);
        if (got != (rows[i].want != NULL) || (got && strcmp(uid, rows[i].want))) {
            print_error("row %zu: got %d '%s', want %s\n", i, got, uid,
                        rows[i].want ? rows[i].want : "none");
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_script_subject(void **state)
{
    (void)state;
    static const struct {
        const char *uid, *php, *want;
    } rows[] = {
        { "1001", "1001:contact.php", "1001:contact.php" },
        { "1001", "contact.php", "1001:contact.php" },
        { "1001", "1001:/var/www/shop/send.php for 203.0.113.9", "1001:/var/www/shop/send.php" },
        { "1001", "1002:contact.php", "1001:" },              /* another uid's word */
        { "1001", "1001:../../etc/x.php", "1001:" },          /* climbs out */
        { "1001", NULL, "1001:" },
        { "1001", "1001:\x01x.php", "1001:" },
        { NULL, "1001:contact.php", "" },                     /* no uid: no script */
    };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        char out[300];
        milter_script_subject(rows[i].uid, rows[i].php, out, sizeof out);
        if (strcmp(out, rows[i].want)) {
            print_error("row %zu: got '%s', want '%s'\n", i, out, rows[i].want);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_outbound_hash(void **state)
{
    (void)state;
    unsigned char k1[OUTBOUND_KEY_BYTES] = { 1 }, k2[OUTBOUND_KEY_BYTES] = { 2 };
    int64_t a, b, c;
    assert_true(outbound_hash(k1, "<a.1@x.example>", 15, &a));
    assert_true(outbound_hash(k1, " a.1@x.example ", 15, &b));
    assert_int_equal(a, b);
    assert_true(outbound_hash(k2, "a.1@x.example", 13, &c));
    assert_true(a != c); /* another key, another hash */
    assert_false(outbound_hash(k1, "<>", 2, &a));
    assert_false(outbound_hash(k1, "", 0, &a));
    char big[1200];
    memset(big, 'a', sizeof big);
    assert_false(outbound_hash(k1, big, sizeof big, &a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_received_uid),
        cmocka_unit_test(test_script_subject),
        cmocka_unit_test(test_outbound_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

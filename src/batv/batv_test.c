/*
 * batv_test.c: table-driven unit tests for batv.c: the tag parser on good and
 * malformed addresses, sign + check round trips (any case, with <>), expiry
 * at the lifetime, a key rotation (old tags still verify, new ones use the
 * newest key), refusals (SRS, already tagged, no '@'), the key file reader
 * and keygen, and the bounce-sender and domain helpers. Every input was
 * written for this test. A failure names the row: "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "batv/batv.h"

#define NOW 1780000000LL    /* a fixed day */
#define WEEK (7 * 86400LL)

static const char key0[] =
    "0 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff 100\n";
static const char key1[] =
    "1 ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100 200\n";

static void keys_of(const char *text, struct batv_keys *k)
{
    struct ad_err err = { 0 };
    int rc = batv_keys_parse(text, strlen(text), k, &err);
    if (rc != 0)
        fail_msg("keys: got rc %d (%s), want 0", rc, err.msg);
}

static void test_parse_table(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc, key, day;
        const char *orig;
    } rows[] = {
        { "prvs=1234abcdef=alice@example.com", 1, 1, 234, "alice@example.com" },
        { "<PRVS=9000ABCDEF=Bob@Example.COM>", 1, 9, 0, "Bob@Example.COM" },
        { " <prvs=0999000000=a@b> ", 1, 0, 999, "a@b" },
        { "alice@example.com", 0, 0, 0, NULL },
        { "", 0, 0, 0, NULL },
        { "<>", 0, 0, 0, NULL },
        { "prvs=", AD_ERR_PARSE, 0, 0, NULL },
        { "prvs=123abcdef=alice@example.com", AD_ERR_PARSE, 0, 0, NULL },      /* 9 chars */
        { "prvs=1234abcdeg=alice@example.com", AD_ERR_PARSE, 0, 0, NULL },     /* g */
        { "prvs=a234abcdef=alice@example.com", AD_ERR_PARSE, 0, 0, NULL },     /* K not a digit */
        { "prvs=1234abcdef-alice@example.com", AD_ERR_PARSE, 0, 0, NULL },     /* no = */
        { "prvs=1234abcdef=@example.com", AD_ERR_PARSE, 0, 0, NULL },          /* no local */
        { "prvs=1234abcdef=alice@", AD_ERR_PARSE, 0, 0, NULL },                /* no domain */
        { "prvs=1234abcdef=alice", AD_ERR_PARSE, 0, 0, NULL },                 /* no @ */
        { "prvs=1234abcdef=al ice@example.com", AD_ERR_PARSE, 0, 0, NULL },    /* blank */
        { "prvs=1234abcdef=al\nice@example.com", AD_ERR_PARSE, 0, 0, NULL },   /* LF */
        { "prvs=1234abcdef=<a@b>", AD_ERR_PARSE, 0, 0, NULL },
    };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        struct batv_tag t;
        int rc = batv_parse(rows[i].in, strlen(rows[i].in), &t);
        if (rc != rows[i].rc) {
            print_error("row %zu (%s): got rc %d, want %d\n", i, rows[i].in, rc, rows[i].rc);
            bad++;
            continue;
        }
        if (rc != 1)
            continue;
        if (t.key != rows[i].key || t.day != rows[i].day
            || t.orig_len != strlen(rows[i].orig) || memcmp(t.orig, rows[i].orig, t.orig_len)) {
            print_error("row %zu: got key %d day %d orig %.*s, want %d %d %s\n", i, t.key, t.day,
                        (int)t.orig_len, t.orig, rows[i].key, rows[i].day, rows[i].orig);
            bad++;
        }
    }
    char big[BATV_MAX_ADDR + 20];
    memset(big, 'a', sizeof big);
    memcpy(big, "prvs=1234abcdef=", 16);
    big[sizeof big - 3] = '@';
    struct batv_tag t;
    if (batv_parse(big, sizeof big, &t) != AD_ERR_LIMIT) {
        print_error("over-long address: want AD_ERR_LIMIT\n");
        bad++;
    }
    assert_int_equal(bad, 0);
}

static void test_sign_check(void **state)
{
    (void)state;
    struct batv_keys k;
    keys_of(key0, &k);
    char tagged[600], orig[600];
    struct ad_err err = { 0 };
    const char *a = "Alice@Customer.Example";
    assert_int_equal(batv_sign(&k, a, strlen(a), NOW, WEEK, tagged, sizeof tagged, &err), 0);
    assert_true(g_str_has_prefix(tagged, "prvs=0"));
    assert_true(g_str_has_suffix(tagged, "=Alice@Customer.Example"));
    assert_int_equal(strlen(tagged), strlen(a) + BATV_TAG_LEN);
    assert_int_equal(batv_check(&k, tagged, strlen(tagged), NOW, WEEK, orig, sizeof orig),
                     BATV_VALID);
    assert_string_equal(orig, "alice@customer.example");
    /* case changes on the way back do not matter; <> neither */
    char *up = g_ascii_strup(tagged, -1);
    char *br = g_strdup_printf("<%s>", up);
    assert_int_equal(batv_check(&k, br, strlen(br), NOW, WEEK, NULL, 0), BATV_VALID);
    /* valid through the lifetime, expired after it */
    assert_int_equal(batv_check(&k, tagged, strlen(tagged), NOW + WEEK, WEEK, NULL, 0),
                     BATV_VALID);
    assert_int_equal(batv_check(&k, tagged, strlen(tagged), NOW + WEEK + 86400, WEEK, NULL, 0),
                     BATV_EXPIRED);
    assert_int_equal(batv_check(&k, tagged, strlen(tagged), NOW + 500 * 86400LL, WEEK, NULL, 0),
                     BATV_EXPIRED);
    /* an altered address or signature */
    char *alt = g_strdup(tagged);
    alt[strlen(alt) - 1] = 'x';
    assert_int_equal(batv_check(&k, alt, strlen(alt), NOW, WEEK, NULL, 0), BATV_BAD_SIGNATURE);
    g_free(alt);
    alt = g_strdup(tagged);
    alt[9] = alt[9] == '0' ? '1' : '0';
    assert_int_equal(batv_check(&k, alt, strlen(alt), NOW, WEEK, NULL, 0), BATV_BAD_SIGNATURE);
    alt[5] = '7';
    assert_int_equal(batv_check(&k, alt, strlen(alt), NOW, WEEK, NULL, 0), BATV_UNKNOWN_KEY);
    g_free(alt);
    assert_int_equal(batv_check(&k, a, strlen(a), NOW, WEEK, NULL, 0), BATV_UNTAGGED);
    assert_int_equal(batv_check(&k, "prvs=zz", 7, NOW, WEEK, NULL, 0), BATV_MALFORMED);
    g_free(up);
    g_free(br);
}

static void test_rotation(void **state)
{
    (void)state;
    struct batv_keys old, both;
    keys_of(key0, &old);
    char *text = g_strconcat(key0, "# rotated\n", key1, NULL);
    keys_of(text, &both);
    g_free(text);
    assert_int_equal(both.n, 2);
    assert_int_equal(both.k[both.signer].num, 1);
    char t0[600], t1[600];
    struct ad_err err = { 0 };
    assert_int_equal(batv_sign(&old, "a@b.example", 11, NOW, WEEK, t0, sizeof t0, &err), 0);
    assert_int_equal(batv_sign(&both, "a@b.example", 11, NOW, WEEK, t1, sizeof t1, &err), 0);
    assert_true(g_str_has_prefix(t1, "prvs=1"));
    /* a bounce of mail signed before the rotation still passes */
    assert_int_equal(batv_check(&both, t0, strlen(t0), NOW + 86400, WEEK, NULL, 0), BATV_VALID);
    assert_int_equal(batv_check(&both, t1, strlen(t1), NOW + 86400, WEEK, NULL, 0), BATV_VALID);
    /* the old key alone does not know key 1 */
    assert_int_equal(batv_check(&old, t1, strlen(t1), NOW, WEEK, NULL, 0), BATV_UNKNOWN_KEY);
}

static void test_sign_refusals(void **state)
{
    (void)state;
    struct batv_keys k, none = { .signer = -1 };
    keys_of(key0, &k);
    static const char *const rows[] = {
        "", "alice", "@example.com", "alice@", "prvs=0123abcdef=alice@example.com",
        "SRS0=HHH=TT=example.org=alice@forwarder.example", "srs1=x=y@forwarder.example",
        "a b@example.com",
    };
    char out[600];
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        struct ad_err err = { 0 };
        int rc = batv_sign(&k, rows[i], strlen(rows[i]), NOW, WEEK, out, sizeof out, &err);
        if (rc != AD_ERR_PARSE) {
            print_error("refusal %zu (%s): got rc %d, want AD_ERR_PARSE\n", i, rows[i], rc);
            bad++;
        }
    }
    struct ad_err err = { 0 };
    assert_int_equal(batv_sign(&none, "a@b", 3, NOW, WEEK, out, sizeof out, &err),
                     AD_ERR_CONFIG);
    assert_int_equal(batv_sign(&k, "a@b", 3, NOW, WEEK, out, 10, &err), AD_ERR_LIMIT);
    assert_int_equal(bad, 0);
}

static void test_keys_file(void **state)
{
    (void)state;
    static const char *const badrows[] = {
        "0 0011 100\n",
        "x 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff 100\n",
        "0 00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg 100\n",
        "0 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
        "0 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff -5\n",
        "0 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff 1 2\n",
    };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(badrows); i++) {
        struct batv_keys k;
        struct ad_err err = { 0 };
        if (batv_keys_parse(badrows[i], strlen(badrows[i]), &k, &err) != AD_ERR_PARSE
            || !strstr(err.msg, "line 1")) {
            print_error("bad key line %zu: got '%s', want AD_ERR_PARSE naming line 1\n", i,
                        err.msg);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
    char *dir = g_dir_make_tmp("batv_test.XXXXXX", NULL);
    char *path = g_build_filename(dir, "keys", NULL);
    struct ad_err err = { 0 };
    struct batv_keys k;
    assert_int_equal(batv_keys_load(path, &k, &err), AD_ERR_IO);
    int num = -1;
    assert_int_equal(batv_keygen(path, NOW, &num, &err), 0);
    assert_int_equal(num, 0);
    assert_int_equal(batv_keygen(path, NOW, &num, &err), 0);
    assert_int_equal(num, 1);
    assert_int_equal(batv_keys_load(path, &k, &err), 0);
    assert_int_equal(k.n, 2);
    assert_int_equal(k.k[k.signer].num, 1);
    /* ten more: numbers wrap, at most ten keys kept */
    for (int i = 0; i < 10; i++)
        assert_int_equal(batv_keygen(path, NOW, &num, &err), 0);
    assert_int_equal(batv_keys_load(path, &k, &err), 0);
    assert_int_equal(k.n, 10);
    assert_int_equal(num, 1);
    assert_int_equal(k.k[k.signer].num, 1);
    GStatBuf sb;
    assert_int_equal(g_stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0007, 0);
    g_unlink(path);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
}

static void test_helpers(void **state)
{
    (void)state;
    assert_true(batv_bounce_sender(NULL));
    assert_true(batv_bounce_sender(""));
    assert_true(batv_bounce_sender("<>"));
    assert_true(batv_bounce_sender("MAILER-DAEMON@mx.example.org"));
    assert_true(batv_bounce_sender("postmaster@mx.example.org"));
    assert_true(batv_bounce_sender("Postmaster"));
    assert_false(batv_bounce_sender("postmasterx@mx.example.org"));
    assert_false(batv_bounce_sender("alice@example.org"));
    char *doms[] = { "customer.example", "Shop.Example", NULL };
    assert_true(batv_address_listed(doms, "alice@customer.example"));
    assert_true(batv_address_listed(doms, "<x@SHOP.example.>"));
    assert_false(batv_address_listed(doms, "x@sub.customer.example"));
    assert_false(batv_address_listed(doms, "customer.example"));
    assert_false(batv_address_listed(NULL, "a@customer.example"));
    assert_string_equal(batv_status_name(BATV_EXPIRED), "expired");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_sign_check),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_sign_refusals),
        cmocka_unit_test(test_keys_file),
        cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * policy_test.c: unit tests for the policy protocol parser (good requests, LF
 * and CRLF, every malformed kind) and the fixed-memory sender table (sliding
 * hour, day roll-over, instance counting, distinct domains, eviction when full,
 * idle sweep, save and load). Failures print "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy_proto.h"
#include "policy/ratelimit.h"

#define T0 1790000000LL /* a fixed "now" */

struct proto_case {
    const char *name, *text;
    int want_rc;
    const char *want_user, *want_state, *want_err;
};

static const struct proto_case proto_cases[] = {
    { "rcpt", "request=smtpd_access_policy\nprotocol_state=RCPT\nsasl_username=a@b.example\n"
              "sender=a@b.example\nrecipient=c@d.example\nclient_address=192.0.2.1\n"
              "instance=1.2.3\nunknown_future_attr=x\n\n",
      0, "a@b.example", "RCPT", NULL },
    { "crlf", "request=smtpd_access_policy\r\nprotocol_state=DATA\r\nsasl_username=u\r\n\r\n", 0, "u",
      "DATA", NULL },
    { "empty value is absent", "request=smtpd_access_policy\nsasl_username=\n\n", 0, NULL, NULL,
      NULL },
    { "value with =", "request=smtpd_access_policy\nsasl_username=a=b\n\n", 0, "a=b", NULL, NULL },
    { "no =", "request=smtpd_access_policy\nnonsense\n\n", AD_ERR_PARSE, NULL, NULL, "no '='" },
    { "empty name", "request=smtpd_access_policy\n=x\n\n", AD_ERR_PARSE, NULL, NULL, "empty name" },
    { "other request", "request=something_else\n\n", AD_ERR_PARSE, NULL, NULL, "unknown request" },
    { "no empty line", "request=smtpd_access_policy\nsasl_username=u\n", AD_ERR_PARSE, NULL, NULL,
      "incomplete" },
    { "last line without newline", "request=smtpd_access_policy\nsasl_username=u", AD_ERR_PARSE,
      NULL, NULL, "incomplete" },
};

static void test_proto(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof proto_cases / sizeof proto_cases[0]; i++) {
        const struct proto_case *c = &proto_cases[i];
        char *buf = g_strdup(c->text);
        struct policy_req r;
        struct ad_err err = { 0 };
        int rc = policy_parse(buf, strlen(buf), &r, &err);
        if (rc != c->want_rc) {
            print_error("%s: rc got %d, want %d (%s)\n", c->name, rc, c->want_rc, err.msg);
            bad++;
        }
        if (rc == 0 && g_strcmp0(r.sasl_username, c->want_user) != 0) {
            print_error("%s: sasl_username got %s, want %s\n", c->name,
                        r.sasl_username ? r.sasl_username : "NULL",
                        c->want_user ? c->want_user : "NULL");
            bad++;
        }
        if (rc == 0 && g_strcmp0(r.protocol_state, c->want_state) != 0) {
            print_error("%s: protocol_state got %s, want %s\n", c->name,
                        r.protocol_state ? r.protocol_state : "NULL",
                        c->want_state ? c->want_state : "NULL");
            bad++;
        }
        if (c->want_err && !strstr(err.msg, c->want_err)) {
            print_error("%s: err got \"%s\", want ...%s...\n", c->name, err.msg, c->want_err);
            bad++;
        }
        g_free(buf);
    }
    /* NUL bytes, too many lines, too long. */
    char nul[] = "request=smtpd_access_policy\nsasl_username=a\0b\n\n";
    struct policy_req r;
    struct ad_err err = { 0 };
    if (policy_parse(nul, sizeof nul - 1, &r, &err) != AD_ERR_PARSE)
        bad++, print_error("NUL: got accepted, want AD_ERR_PARSE\n");
    GString *g = g_string_new(NULL);
    for (int i = 0; i < POLICY_MAX_ATTRS + 1; i++)
        g_string_append_printf(g, "a%d=x\n", i);
    g_string_append(g, "\n");
    if (policy_parse(g->str, g->len, &r, &err) != AD_ERR_PARSE)
        bad++, print_error("too many lines: got accepted, want AD_ERR_PARSE\n");
    g_string_free(g, TRUE);
    char *big = g_malloc(POLICY_MAX_REQUEST + 10);
    memset(big, 'a', POLICY_MAX_REQUEST + 10);
    if (policy_parse(big, POLICY_MAX_REQUEST + 10, &r, &err) != AD_ERR_PARSE)
        bad++, print_error("too long: got accepted, want AD_ERR_PARSE\n");
    g_free(big);
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

static void test_windows(void **state)
{
    (void)state;
    struct rl_table t;
    struct ad_err err = { 0 };
    assert_int_equal(rl_init(&t, 100, T0, &err), 0);
    uint64_t k = rl_key(RL_SASL, "Alice@Example.net");
    if (k != rl_key(RL_SASL, "alice@example.net"))
        fail_msg("keys: got case-sensitive, want the same key for any case");
    if (k == rl_key(RL_SENDER, "alice@example.net"))
        fail_msg("keys: got the same key for SASL and sender, want different");
    int64_t now = T0 - T0 % 3600 + 600; /* 10 minutes into an hour */
    struct rl_entry *e = rl_get(&t, k, now);
    /* 10 messages of 2 recipients each, to 3 domains. */
    const char *doms[] = { "a.example", "b.example", "c.example" };
    for (int m = 0; m < 10; m++) {
        char inst[16];
        g_snprintf(inst, sizeof inst, "i%d", m);
        for (int r = 0; r < 2; r++) {
            e = rl_get(&t, k, now);
            rl_roll(&t, e, now, 0.2);
            rl_count(e, inst, doms[(m + r) % 3], "192.0.2");
        }
    }
    struct rl_view v;
    rl_view(&t, e, now, &v);
    if (v.msgs_hour != 10 || v.rcpts_hour != 20 || v.rcpts_day != 20)
        fail_msg("counts: got %.0f msgs %.0f rcpts %.0f day, want 10 20 20", v.msgs_hour,
                 v.rcpts_hour, v.rcpts_day);
    if (fabs(v.domains_hour - 3) > 0.5 || fabs(v.nets_hour - 1) > 0.5)
        fail_msg("distinct: got %.2f domains %.2f nets, want about 3 and 1", v.domains_hour,
                 v.nets_hour);
    /* Half an hour into the next hour: the previous hour counts half. */
    int64_t later = now - 600 + 3600 + 1800;
    e = rl_get(&t, k, later);
    rl_roll(&t, e, later, 0.2);
    rl_view(&t, e, later, &v);
    if (fabs(v.msgs_hour - 5) > 0.01)
        fail_msg("sliding hour: got %.2f, want 5 (half of the previous hour)", v.msgs_hour);
    if (!v.trained || fabs(v.baseline - 10) > 0.01)
        fail_msg("baseline: got %.2f trained %d, want 10 trained", v.baseline, v.trained);
    /* Two hours later: nothing left of the hour counts. */
    int64_t much = later + 2 * 3600;
    e = rl_get(&t, k, much);
    rl_roll(&t, e, much, 0.2);
    rl_view(&t, e, much, &v);
    if (v.msgs_hour != 0)
        fail_msg("after two idle hours: got %.2f messages, want 0", v.msgs_hour);
    /* No instance: every recipient is a message. */
    rl_count(e, NULL, NULL, NULL);
    rl_count(e, NULL, NULL, NULL);
    rl_view(&t, e, much, &v);
    if (v.msgs_hour != 2)
        fail_msg("without instance: got %.0f messages, want 2", v.msgs_hour);
    rl_free(&t);
}

static void test_capacity(void **state)
{
    (void)state;
    struct rl_table t;
    struct ad_err err = { 0 };
    assert_int_equal(rl_init(&t, 1000, T0, &err), 0);
    /* 5000 senders into room for 1000: the table never grows, the newest stay. */
    for (int i = 0; i < 5000; i++) {
        char name[32];
        g_snprintf(name, sizeof name, "user%d@example.net", i);
        struct rl_entry *e = rl_get(&t, rl_key(RL_SASL, name), T0 + i);
        rl_count(e, NULL, NULL, NULL);
    }
    if (t.n_used > 1000)
        fail_msg("capacity: got %zu tracked, want at most 1000", t.n_used);
    size_t found = 0;
    for (int i = 4900; i < 5000; i++) {
        char name[32];
        g_snprintf(name, sizeof name, "user%d@example.net", i);
        uint64_t k = rl_key(RL_SASL, name);
        for (size_t s = 0; s <= t.mask; s++)
            if (t.slots[s].key == k && t.slots[s].msgs == 1)
                found++;
    }
    if (found < 95)
        fail_msg("eviction: got %zu of the 100 newest kept, want at least 95", found);
    /* Every key still reachable from its home slot (backward shift kept chains). */
    for (size_t s = 0; s <= t.mask; s++) {
        if (!t.slots[s].key)
            continue;
        size_t i = t.slots[s].key & t.mask;
        while (t.slots[i].key && t.slots[i].key != t.slots[s].key)
            i = (i + 1) & t.mask;
        if (t.slots[i].key != t.slots[s].key)
            fail_msg("probe chains: got a key unreachable from its home slot");
    }
    /* The sweep drops senders idle for long. */
    rl_sweep(&t, T0 + 5000 + 3 * 86400, 86400, t.mask + 1);
    if (t.n_used != 0)
        fail_msg("sweep: got %zu left, want 0", t.n_used);
    rl_free(&t);
}

static void test_save_load(void **state)
{
    (void)state;
    char *dir = g_dir_make_tmp("rl-XXXXXX", NULL);
    char *path = g_build_filename(dir, "state", NULL);
    struct rl_table a, b;
    struct ad_err err = { 0 };
    assert_int_equal(rl_init(&a, 100, T0, &err), 0);
    uint64_t k = rl_key(RL_SASL, "bob@example.net");
    struct rl_entry *e = rl_get(&a, k, T0);
    rl_roll(&a, e, T0, 0.2);
    for (int i = 0; i < 7; i++)
        rl_count(e, NULL, "x.example", NULL);
    if (rl_save(&a, path, &err) != 0)
        fail_msg("save: %s", err.msg);
    /* A restart 10 s later, with another table. */
    assert_int_equal(rl_init(&b, 100, T0 + 10, &err), 0);
    if (rl_load(&b, path, T0 + 10, &err) != 0)
        fail_msg("load: %s", err.msg);
    e = rl_get(&b, k, T0 + 10);
    rl_roll(&b, e, T0 + 10, 0.2);
    struct rl_view v;
    rl_view(&b, e, T0 + 10, &v);
    if (v.msgs_hour != 7 || v.rcpts_day != 7)
        fail_msg("restored: got %.0f msgs %.0f day, want 7 7", v.msgs_hour, v.rcpts_day);
    /* A damaged file is refused, the table stays usable. */
    g_file_set_contents(path, "garbage", 7, NULL);
    struct rl_table c;
    assert_int_equal(rl_init(&c, 100, T0, &err), 0);
    if (rl_load(&c, path, T0, &err) != AD_ERR_PARSE)
        fail_msg("damaged file: got accepted, want AD_ERR_PARSE");
    rl_free(&a);
    rl_free(&b);
    rl_free(&c);
    g_unlink(path);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto),
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_save_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * policy_test.c: unit tests for the policy protocol parser (good requests, LF
 * and CRLF, every malformed kind), the fixed-memory sender table (sliding
 * hour, day roll-over, instance counting, distinct domains, counts past 65535,
 * a full table that keeps its active senders, idle sweep, save and load with
 * extra data, locks not yet committed are not saved) and the background
 * snapshot of policy_state.c; with [policy] counters = redis: the view the
 * limits use (the larger of this server's count and the shared total), when
 * a sender is watched, the shared counters' settings (defaults, nonsense
 * refused), and counting with Redis unreachable (fail open: this server's
 * counts decide). Failures print "got X, want Y".
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

#include <event2/event.h>

#include "config/config.h"
#include "policy/policy_proto.h"
#include "policy/policy_state.h"
#include "policy/policyd.h"
#include "policy/ratelimit.h"
#include "policy/shared.h"

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

/* How many of PREFIX<from>@example.net .. PREFIX<to-1>@example.net have want messages. */
static size_t count_msgs(const struct rl_table *t, const char *prefix, int from, int to,
                         uint32_t want)
{
    size_t found = 0;
    for (int i = from; i < to; i++) {
        char name[48];
        g_snprintf(name, sizeof name, "%s%d@example.net", prefix, i);
        const struct rl_entry *e = rl_find((struct rl_table *)t, rl_key(RL_SASL, name));
        if (e && e->msgs == want)
            found++;
    }
    return found;
}

static void test_capacity(void **state)
{
    (void)state;
    struct rl_table t;
    struct ad_err err = { 0 };
    assert_int_equal(rl_init(&t, 1000, T0, &err), 0);
    /* 1000 active senders fill the table; 4000 newcomers within the same
     * hour flood it: the table never grows, no active sender loses its
     * counts, the newcomers are not tracked and counted as overflow. */
    for (int i = 0; i < 1000; i++) {
        char name[32];
        g_snprintf(name, sizeof name, "user%d@example.net", i);
        struct rl_entry *e = rl_get(&t, rl_key(RL_SASL, name), T0);
        assert_non_null(e);
        rl_count(e, NULL, NULL, NULL);
        rl_count(e, NULL, NULL, NULL);
    }
    for (int i = 0; i < 4000; i++) {
        char name[32];
        g_snprintf(name, sizeof name, "flood%d@example.net", i);
        struct rl_entry *e = rl_get(&t, rl_key(RL_SASL, name), T0 + 60 + i % 600);
        if (e)
            rl_count(e, NULL, NULL, NULL);
    }
    if (t.n_used > 1000)
        fail_msg("capacity: got %zu tracked, want at most 1000", t.n_used);
    size_t kept = count_msgs(&t, "user", 0, 1000, 2);
    if (kept != 1000)
        fail_msg("flood: got %zu of 1000 active senders with their counts, want all", kept);
    if (t.n_overflow != 4000)
        fail_msg("overflow: got %llu, want 4000", (unsigned long long)t.n_overflow);
    /* Three hours later the first senders are idle: newcomers take their
     * slots (the idlest first), and are tracked. */
    int64_t later = T0 + 3 * 3600;
    for (int i = 0; i < 500; i++) {
        char name[32];
        g_snprintf(name, sizeof name, "late%d@example.net", i);
        struct rl_entry *e = rl_get(&t, rl_key(RL_SASL, name), later);
        if (!e)
            fail_msg("idle eviction: got %s untracked, want it in an idle sender's slot", name);
        rl_count(e, NULL, NULL, NULL);
    }
    if (t.n_used > 1000)
        fail_msg("capacity after eviction: got %zu tracked, want at most 1000", t.n_used);
    if (count_msgs(&t, "late", 0, 500, 1) != 500)
        fail_msg("idle eviction: the newcomers lost their counts");
    /* Every key still reachable from its home slot (backward shift kept chains). */
    for (size_t s = 0; s <= t.mask; s++) {
        if (!t.slots[s].key)
            continue;
        if (rl_find(&t, t.slots[s].key) != &t.slots[s])
            fail_msg("probe chains: got a key unreachable from its home slot");
    }
    /* The sweep drops senders idle for long. */
    rl_sweep(&t, later + 3 * 86400, 86400, t.mask + 1);
    if (t.n_used != 0)
        fail_msg("sweep: got %zu left, want 0", t.n_used);
    rl_free(&t);
}

static void test_wide_counts(void **state)
{
    (void)state;
    /* The packed previous buckets: exact below 2048, within 0.1% above. */
    const uint32_t vals[] = { 0, 1, 2047, 2048, 2049, 65535, 65536, 100000, 123456789,
                              UINT32_MAX };
    for (size_t i = 0; i < G_N_ELEMENTS(vals); i++) {
        uint32_t back = rl_unpack16(rl_pack16(vals[i]));
        if (back > vals[i] || (double)(vals[i] - back) > vals[i] / 1024.0)
            fail_msg("pack16(%u): got %u back, want within 0.1%% below", vals[i], back);
        if (vals[i] < 2048 && back != vals[i])
            fail_msg("pack16(%u): got %u back, want it exact", vals[i], back);
    }
    /* 100,000 recipients in an hour: no 16-bit wrap or saturation. */
    struct rl_table t;
    struct ad_err err = { 0 };
    assert_int_equal(rl_init(&t, 100, T0, &err), 0);
    int64_t now = T0 - T0 % 3600 + 60;
    struct rl_entry *e = rl_get(&t, rl_key(RL_SASL, "big@example.net"), now);
    rl_roll(&t, e, now, 0.2);
    for (int i = 0; i < 100000; i++)
        rl_count(e, NULL, NULL, NULL);
    struct rl_view v;
    rl_view(&t, e, now, &v);
    if (v.msgs_hour != 100000 || v.rcpts_hour != 100000 || v.rcpts_day != 100000)
        fail_msg("wide counts: got %.0f msgs %.0f rcpts %.0f day, want 100000 each", v.msgs_hour,
                 v.rcpts_hour, v.rcpts_day);
    /* Half an hour into the next hour: half of the previous hour, packed. */
    int64_t next = now - 60 + 3600 + 1800;
    rl_roll(&t, e, next, 0.2);
    rl_view(&t, e, next, &v);
    if (fabs(v.msgs_hour - 50000) > 50)
        fail_msg("wide sliding hour: got %.0f, want about 50000", v.msgs_hour);
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
    /* A lock asked for but not committed is not saved; a committed one is. */
    struct rl_entry *p = rl_get(&a, rl_key(RL_SASL, "pending@example.net"), T0);
    p->flags |= RL_F_HARD_PENDING;
    struct rl_entry *h = rl_get(&a, rl_key(RL_SASL, "hard@example.net"), T0);
    h->flags |= RL_F_HARD;
    const char extra[] = "lock\t1\tpending@example.net\twhy\n";
    if (rl_save(&a, path, extra, strlen(extra), &err) != 0)
        fail_msg("save: %s", err.msg);
    /* A restart 10 s later, with another table. */
    assert_int_equal(rl_init(&b, 100, T0 + 10, &err), 0);
    char *x = NULL;
    size_t xlen = 0;
    if (rl_load(&b, path, T0 + 10, &x, &xlen, &err) != 0)
        fail_msg("load: %s", err.msg);
    if (!x || xlen != strlen(extra) || strcmp(x, extra))
        fail_msg("extra: got \"%s\", want \"%s\"", x ? x : "(none)", extra);
    g_free(x);
    p = rl_find(&b, rl_key(RL_SASL, "pending@example.net"));
    h = rl_find(&b, rl_key(RL_SASL, "hard@example.net"));
    if (!p || (p->flags & (RL_F_HARD | RL_F_HARD_PENDING)))
        fail_msg("pending lock: got its flag saved, want it forgotten (asked for again)");
    if (!h || !(h->flags & RL_F_HARD))
        fail_msg("committed lock: got its flag lost, want it saved");
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
    if (rl_load(&c, path, T0, NULL, NULL, &err) != AD_ERR_PARSE)
        fail_msg("damaged file: got accepted, want AD_ERR_PARSE");
    rl_free(&a);
    rl_free(&b);
    rl_free(&c);
    g_unlink(path);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
}

/* The background snapshot: copied in steps on a loop, written by a thread;
 * the file has every sender and the extra bytes. */
static void test_snapshot(void **state)
{
    (void)state;
    char *dir = g_dir_make_tmp("rl-XXXXXX", NULL);
    char *path = g_build_filename(dir, "state", NULL);
    struct rl_table a, b;
    struct ad_err err = { 0 };
    assert_int_equal(rl_init(&a, 100000, T0, &err), 0);
    for (int i = 0; i < 100000; i++) {
        char name[32];
        g_snprintf(name, sizeof name, "s%d@example.net", i);
        struct rl_entry *e = rl_get(&a, rl_key(RL_SENDER, name), T0);
        if (!e)
            fail_msg("sender %d: got no slot (table full), want one", i);
        rl_count(e, NULL, NULL, NULL);
    }
    struct event_base *base = event_base_new();
    struct logger lg = { LOG_LEVEL_ERROR, false, "test" };
    gint level = LOG_LEVEL_ERROR;
    struct policy_state *s = policy_state_new(base, &a, &lg, &level);
    if (!policy_state_start(s, path, "x", 1))
        fail_msg("start: got busy, want a snapshot started");
    if (policy_state_start(s, path, "y", 1))
        fail_msg("second start: got started, want busy");
    int turns = 0;
    while (policy_state_busy(s) && turns < 100000) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        turns++;
    }
    policy_state_wait(s);
    if (turns < 2)
        fail_msg("steps: got %d loop turns, want the copy spread over several", turns);
    s = policy_state_free(s);
    event_base_free(base);
    assert_int_equal(rl_init(&b, 100000, T0, &err), 0);
    char *x = NULL;
    if (rl_load(&b, path, T0, &x, NULL, &err) != 0)
        fail_msg("load: %s", err.msg);
    if (b.n_used != 100000 || g_strcmp0(x, "x"))
        fail_msg("snapshot: got %zu senders and extra %s, want 100000 and x", b.n_used,
                 x ? x : "(none)");
    g_free(x);
    rl_free(&a);
    rl_free(&b);
    g_unlink(path);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
}

/* The limits see, per counted quantity, the larger of this server's count and
 * the servers' total; what is not shared stays this server's. */
static void test_limit_view(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        double local[3];        /* msgs_hour, rcpts_hour, rcpts_day */
        bool shared;
        double sv[3];
        double want[3];
    } cases[] = {
        { "local counters", { 5, 7, 30 }, false, { 0 }, { 5, 7, 30 } },
        { "the others sent more", { 5, 7, 30 }, true, { 12, 14, 60 }, { 12, 14, 60 } },
        { "restored counts Redis lacks", { 50, 70, 300 }, true, { 12, 14, 60 }, { 50, 70, 300 } },
        { "each its larger", { 50, 7, 300 }, true, { 12, 14, 60 }, { 50, 14, 300 } },
        { "Redis never reached", { 3, 3, 3 }, true, { 3, 3, 3 }, { 3, 3, 3 } },
    };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct rl_view local = { cases[i].local[0], cases[i].local[1], cases[i].local[2],
                                 17, 3, 4.5, true };
        struct shared_view sv = { cases[i].sv[0], cases[i].sv[1], cases[i].sv[2], true };
        struct rl_view out;
        policyd_limit_view(&local, cases[i].shared ? &sv : NULL, &out);
        double got[3] = { out.msgs_hour, out.rcpts_hour, out.rcpts_day };
        for (int k = 0; k < 3; k++)
            if (got[k] != cases[i].want[k]) {
                print_error("%s: [%d] got %g, want %g\n", cases[i].name, k, got[k],
                            cases[i].want[k]);
                bad++;
            }
        if (out.domains_hour != 17 || out.nets_hour != 3 || out.baseline != 4.5 || !out.trained) {
            print_error("%s: domains/nets/baseline got %g/%g/%g, want this server's 17/3/4.5\n",
                        cases[i].name, out.domains_hour, out.nets_hour, out.baseline);
            bad++;
        }
    }
    if (bad)
        fail_msg("%d limit view(s) wrong", bad);
}

/* A sender is watched from half of any of its limits on (0: no limit). */
static void test_near_limit(void **state)
{
    (void)state;
    static const struct {
        double m, r, d;
        long long lm, lr, ld;
        bool want;
    } cases[] = {
        { 0, 0, 0, 100, 100, 1000, false },  { 49, 49, 499, 100, 100, 1000, false },
        { 50, 0, 0, 100, 100, 1000, true },  { 0, 50, 0, 100, 100, 1000, true },
        { 0, 0, 500, 100, 100, 1000, true }, { 99, 99, 999, 0, 0, 0, false },
        { 1, 0, 0, 1, 0, 0, true },          { 0.4, 0, 0, 1, 0, 0, false },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct rl_view v = { .msgs_hour = cases[i].m, .rcpts_hour = cases[i].r,
                             .rcpts_day = cases[i].d };
        bool got = policyd_near_limit(&v, cases[i].lm, cases[i].lr, cases[i].ld);
        if (got != cases[i].want)
            fail_msg("case %zu (%g/%g/%g of %lld/%lld/%lld): got %d, want %d", i, cases[i].m,
                     cases[i].r, cases[i].d, cases[i].lm, cases[i].lr, cases[i].ld, got,
                     cases[i].want);
    }
}

/* [policy] counters and the Redis settings: defaults, good values, nonsense
 * refused with the key named. */
static void test_shared_config(void **state)
{
    (void)state;
    struct config cfg;
    struct ad_err err = { 0 };
    config_defaults(&cfg);
    if (config_load_data(&cfg, "d.conf", "", 0, &err) != 0)
        fail_msg("defaults: %s", err.msg);
    if (strcmp(cfg.policy_counters, "local") || strcmp(cfg.redis_addr, "127.0.0.1:6379")
        || strcmp(cfg.redis_prefix, "ad:c:") || *cfg.redis_user || *cfg.redis_password
        || cfg.redis_db != 0 || cfg.sync_interval_ms != 200 || cfg.redis_timeout_ms != 200
        || cfg.shared_max_keys != 131072)
        fail_msg("defaults: got %s %s %s %d %d %d %d, want local 127.0.0.1:6379 ad:c: 0 200 200 "
                 "131072", cfg.policy_counters, cfg.redis_addr, cfg.redis_prefix, cfg.redis_db,
                 cfg.sync_interval_ms, cfg.redis_timeout_ms, cfg.shared_max_keys);
    config_free(&cfg);
    static const struct {
        const char *text;
        const char *want_err;   /* NULL: accepted */
    } cases[] = {
        { "counters = redis\nredis = 10.0.0.5:6379\nredis_user = ad\nredis_password = pw\n"
          "redis_db = 3\nredis_prefix = mx:\nsync_interval_ms = 50\nredis_timeout_ms = 500\n"
          "shared_max_keys = 4096\n", NULL },
        { "counters = redis\nredis = [2001:db8::5]:6380\n", NULL },
        { "counters = redis\nredis = unix:/run/redis/redis.sock\n", NULL },
        { "counters = redis\nredis = redis.internal\n", NULL },
        { "counters = local\nredis = nonsense:port\n", NULL }, /* not used */
        { "counters = memcached\n", "[policy] counters" },
        { "counters = redis\nredis =\n", "[policy] redis" },
        { "counters = redis\nredis = 10.0.0.5:0\n", "[policy] redis" },
        { "counters = redis\nredis = 10.0.0.5:6379x\n", "[policy] redis" },
        { "counters = redis\nredis = 2001:db8::5:6379\n", "[policy] redis" },
        { "counters = redis\nredis = [2001:db8::5\n", "[policy] redis" },
        { "counters = redis\nredis = :6379\n", "[policy] redis" },
        { "counters = redis\nredis = unix:redis.sock\n", "[policy] redis" },
        { "counters = redis\nredis_prefix =\n", "[policy] redis_prefix" },
        { "counters = redis\nredis_prefix = a b\n", "[policy] redis_prefix" },
        { "counters = redis\nredis_prefix = "
          "x123456789012345678901234567890123456789012345678901234567890123456789\n",
          "[policy] redis_prefix" },
        { "counters = redis\nredis_user = ad\n", "[policy] redis_user" },
        { "sync_interval_ms = 5\n", "[policy] sync_interval_ms" },
        { "sync_interval_ms = 200ms\n", "[policy] sync_interval_ms" },
        { "redis_timeout_ms = 0\n", "[policy] redis_timeout_ms" },
        { "redis_db = -1\n", "[policy] redis_db" },
        { "shared_max_keys = 10\n", "[policy] shared_max_keys" },
    };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *text = g_strconcat("[policy]\n", cases[i].text, NULL);
        config_defaults(&cfg);
        memset(&err, 0, sizeof err);
        int rc = config_load_data(&cfg, "t.conf", text, strlen(text), &err);
        if (!cases[i].want_err && rc != 0) {
            print_error("case %zu: got %d (%s), want accepted\n", i, rc, err.msg);
            bad++;
        } else if (cases[i].want_err
                   && (rc != AD_ERR_CONFIG || !strstr(err.msg, cases[i].want_err))) {
            print_error("case %zu: got %d (%s), want AD_ERR_CONFIG naming %s\n", i, rc, err.msg,
                        cases[i].want_err);
            bad++;
        }
        config_free(&cfg);
        g_free(text);
    }
    if (bad)
        fail_msg("%d case(s) wrong", bad);
}

/* Redis unreachable: the shared counters start anyway, count here at once
 * (no wait) and the limits see this server's counts: fail open. */
static void test_shared_unreachable(void **state)
{
    (void)state;
    struct shared_opts o = { .redis = "127.0.0.1:1", .prefix = "policytest:", .sync_ms = 20,
                             .timeout_ms = 50, .max_keys = 1024 };
    struct shared *s = NULL;
    struct ad_err err = { 0 };
    if (shared_new(&o, NULL, &s, &err) != 0)
        fail_msg("shared_new with Redis down: got %s, want started", err.msg);
    uint64_t key = rl_key(RL_SASL, "user@example.net");
    struct shared_view sv = { 0 };
    int64_t t0 = g_get_monotonic_time();
    for (int i = 0; i < 1000; i++)
        shared_add(s, key, 1, 1, T0, &sv);
    int64_t us = g_get_monotonic_time() - t0;
    if (sv.msgs_hour != 1000 || sv.rcpts_hour != 1000 || sv.rcpts_day != 1000 || sv.synced)
        fail_msg("view: got %g/%g/%g synced %d, want 1000/1000/1000 not synced", sv.msgs_hour,
                 sv.rcpts_hour, sv.rcpts_day, sv.synced);
    if (us > 200000)
        fail_msg("1000 adds: got %lld us, want well below one Redis timeout each",
                 (long long)us);
    struct rl_view local = { .msgs_hour = 400, .rcpts_hour = 400, .rcpts_day = 400 }, out;
    policyd_limit_view(&local, &sv, &out);
    if (out.msgs_hour != 1000)
        fail_msg("merged: got %g, want 1000", out.msgs_hour);
    g_usleep(100000); /* a few failed rounds */
    struct shared_stats st;
    shared_stats(s, &st);
    if (st.up || st.n_connects)
        fail_msg("stats: got up %d, %llu connects, want down", st.up,
                 (unsigned long long)st.n_connects);
    if (shared_flush(s, 100) != AD_ERR_BUSY)
        fail_msg("flush with Redis down: want AD_ERR_BUSY");
    t0 = g_get_monotonic_time();
    s = shared_free(s);
    if (g_get_monotonic_time() - t0 > 1000000)
        fail_msg("shared_free with Redis down: took over a second");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto),
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_wide_counts),
        cmocka_unit_test(test_snapshot),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_limit_view),
        cmocka_unit_test(test_near_limit),
        cmocka_unit_test(test_shared_config),
        cmocka_unit_test(test_shared_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

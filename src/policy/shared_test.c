/*
 * shared_test.c: tests of the Redis-shared counters (shared.h) against a real
 * redis-server that each test starts on 127.0.0.1 at a free port (no
 * persistence) and kills at the end; a missing redis-server fails the test with
 * a clear message. Covered: addresses, the sliding windows against ratelimit.c's,
 * two instances (two MTAs) seeing each other's counts and how fast, the
 * overshoot of a check-then-add loop over both against the documented bound,
 * Redis killed / stopped (calls stay fast, one log line) and restarted empty
 * (reconnect, reseed, convergence), reset, key expiry in Redis and locally,
 * the memory bound and the bounded backlog. Failures print "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy/ratelimit.h"
#include "policy/shared.h"

/* ---- helpers ---------------------------------------------------------------- */

struct fixture {
    pid_t redis;        /* 0: not running */
    int port;
    char addr[64];
    int saved_stderr;   /* >= 0 while stderr goes to a file */
};

static int64_t mono_us(void)
{
    return g_get_monotonic_time();
}

static int64_t now_s(void)
{
    return g_get_real_time() / G_USEC_PER_SEC;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0
        || getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        fail_msg("cannot find a free port: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

/* A client of our own, to look at what the module stored. */
static redisContext *peek_connect(const struct fixture *f)
{
    struct timeval tv = { 1, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", f->port, tv);
    if (!c || c->err)
        fail_msg("cannot connect to the test redis on port %d: %s", f->port,
                 c ? c->errstr : "out of memory");
    redisSetTimeout(c, tv);
    return c;
}

static bool redis_ping(int port)
{
    struct timeval tv = { 0, 200000 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    bool ok = false;
    if (c && !c->err) {
        redisSetTimeout(c, tv);
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS;
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return ok;
}

static void redis_start(struct fixture *f)
{
    char *bin = g_find_program_in_path("redis-server");
    if (!bin)
        fail_msg("redis-server is not installed (not in PATH): this test needs it; install "
                 "it with `apt-get install redis-server` (or `make deps` as root)");
    char port[16];
    g_snprintf(port, sizeof port, "%d", f->port);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        dup2(null, 2);
        execl(bin, "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
              "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no",
              (char *)NULL);
        _exit(127);
    }
    g_free(bin);
    if (pid < 0)
        fail_msg("cannot fork redis-server: %s", strerror(errno));
    f->redis = pid;
    for (int i = 0; i < 500; i++) {
        if (redis_ping(f->port))
            return;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            f->redis = 0;
            fail_msg("redis-server exited at start (status %d)", st);
        }
        g_usleep(10000);
    }
    fail_msg("redis-server on port %d did not answer within 5 s", f->port);
}

static void redis_kill(struct fixture *f)
{
    if (f->redis > 0) {
        kill(f->redis, SIGCONT);
        kill(f->redis, SIGKILL);
        waitpid(f->redis, NULL, 0);
    }
    f->redis = 0;
}

static int setup_redis(void **state)
{
    struct fixture *f = g_new0(struct fixture, 1);
    f->saved_stderr = -1;
    f->port = free_port();
    g_snprintf(f->addr, sizeof f->addr, "127.0.0.1:%d", f->port);
    *state = f;
    redis_start(f);
    return 0;
}

/* A port nobody listens on: Redis "down" from the start. */
static int setup_noredis(void **state)
{
    struct fixture *f = g_new0(struct fixture, 1);
    f->saved_stderr = -1;
    f->port = free_port();
    g_snprintf(f->addr, sizeof f->addr, "127.0.0.1:%d", f->port);
    *state = f;
    return 0;
}

static void stderr_restore(struct fixture *f)
{
    if (f->saved_stderr >= 0) {
        fflush(stderr);
        dup2(f->saved_stderr, 2);
        close(f->saved_stderr);
        f->saved_stderr = -1;
    }
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    stderr_restore(f);
    redis_kill(f);
    g_free(f);
    return 0;
}

static struct shared *mk(const struct fixture *f, const char *prefix, unsigned sync_ms,
                         struct logger *log)
{
    struct shared_opts o = { .redis = f->addr, .prefix = prefix, .sync_ms = sync_ms,
                             .retry_max_ms = 400, .max_keys = 4096 };
    struct shared *s = NULL;
    struct ad_err err = { 0 };
    int rc = shared_new(&o, log, &s, &err);
    if (rc != 0)
        fail_msg("shared_new: got %d (%s), want 0", rc, err.msg);
    return s;
}

static bool wait_up(struct shared *s, int ms)
{
    for (int64_t end = mono_us() + ms * 1000LL; mono_us() < end; g_usleep(5000)) {
        struct shared_stats st;
        shared_stats(s, &st);
        if (st.up)
            return true;
    }
    return false;
}

/* A bucket of a key in Redis, read with our own client: 'h' = messages *
 * 2^32 + recipients of hour b, 'd' = recipients of day b. */
static long long redis_get(const struct fixture *f, const char *prefix, uint64_t key,
                           char what, uint32_t b)
{
    char name[128];
    g_snprintf(name, sizeof name, "%s%016llx:%c:%u", prefix, (unsigned long long)key, what, b);
    redisContext *c = peek_connect(f);
    redisReply *r = redisCommand(c, "GET %s", name);
    long long v = r && r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return v;
}

/* The messages of key in this hour and the previous one, as Redis has them. */
static long long redis_msgs(const struct fixture *f, const char *prefix, uint64_t key)
{
    uint32_t h = (uint32_t)(now_s() / 3600);
    return (redis_get(f, prefix, key, 'h', h) >> 32)
           + (redis_get(f, prefix, key, 'h', h - 1) >> 32);
}

static void redis_flushall(const struct fixture *f)
{
    redisContext *c = peek_connect(f);
    redisReply *r = redisCommand(c, "FLUSHALL");
    assert_non_null(r);
    freeReplyObject(r);
    redisFree(c);
}

/* Every key under prefix: its name and TTL, through fn. Returns how many. */
static size_t redis_each(const struct fixture *f, const char *prefix,
                         void (*fn)(const char *key, long long ttl, void *arg), void *arg)
{
    redisContext *c = peek_connect(f);
    redisReply *r = redisCommand(c, "KEYS %s*", prefix);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    size_t n = r->elements;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *t = redisCommand(c, "TTL %s", r->element[i]->str);
        if (fn)
            fn(r->element[i]->str, t ? t->integer : -3, arg);
        if (t)
            freeReplyObject(t);
    }
    freeReplyObject(r);
    redisFree(c);
    return n;
}

/* ---- addresses ------------------------------------------------------------ */

struct addr_case {
    const char *addr;
    int want;
};

static const struct addr_case addr_cases[] = {
    { "127.0.0.1:6379", 0 },  { "localhost", 0 },          { "[::1]:6380", 0 },
    { "unix:/run/r.sock", 0 }, { "/tmp/r.sock", 0 },       { "", AD_ERR_CONFIG },
    { ":6379", AD_ERR_CONFIG }, { "h:0", AD_ERR_CONFIG },   { "h:99999", AD_ERR_CONFIG },
    { "h:p", AD_ERR_CONFIG },   { "::1:6379", AD_ERR_CONFIG }, { "[::1", AD_ERR_CONFIG },
    { "unix:rel", AD_ERR_CONFIG }, { "h:", AD_ERR_CONFIG },
};

static void test_addr(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof addr_cases / sizeof addr_cases[0]; i++) {
        struct shared_opts o = { .redis = addr_cases[i].addr, .sync_ms = 60000, .max_keys = 64 };
        struct shared *s = NULL;
        struct ad_err err = { 0 };
        int rc = shared_new(&o, NULL, &s, &err);
        if (rc != addr_cases[i].want) {
            print_error("address \"%s\": got %d (%s), want %d\n", addr_cases[i].addr, rc, err.msg,
                        addr_cases[i].want);
            bad++;
        }
        if ((rc == 0) != (s != NULL)) {
            print_error("address \"%s\": instance %p with rc %d\n", addr_cases[i].addr,
                        (void *)s, rc);
            bad++;
        }
        s = shared_free(s);
    }
    assert_int_equal(bad, 0);
    assert_null(shared_free(NULL));
}

/* ---- windows: the same estimates as ratelimit.c --------------------------- */

static void test_windows_match_ratelimit(void **state)
{
    struct fixture *f = *state; /* no Redis: local counts only */
    const int64_t day0 = 1790000000LL / 86400 * 86400;
    /* adds: (seconds after day0, count) */
    static const struct {
        int64_t at;
        int n;
    } adds[] = { { 100, 10 }, { 1800, 5 }, { 3600 + 60, 7 }, { 3 * 3600 + 10, 3 },
                 { 86400 + 50, 4 }, { 86400 + 3600 + 100, 2 } };
    static const int64_t looks[] = { 100, 1800, 3599, 3600 + 60, 3600 + 900, 2 * 3600 + 1800,
                                     3 * 3600 + 10, 4 * 3600 + 1, 86400 + 50, 86400 + 3600,
                                     86400 + 3600 + 100, 86400 + 3 * 3600, 3 * 86400 };
    struct rl_table t;
    struct ad_err err = { 0 };
    assert_int_equal(rl_init(&t, 64, day0, &err), 0);
    struct shared *s = mk(f, "w:", 60000, NULL);
    uint64_t key = rl_key(RL_SASL, "user@example.com");
    size_t ai = 0;
    int bad = 0;
    for (size_t li = 0; li < sizeof looks / sizeof looks[0]; li++) {
        for (; ai < sizeof adds / sizeof adds[0] && adds[ai].at <= looks[li]; ai++) {
            int64_t at = day0 + adds[ai].at;
            struct rl_entry *e = rl_get(&t, key, at);
            rl_roll(&t, e, at, 0.2);
            for (int k = 0; k < adds[ai].n; k++) {
                rl_count(e, NULL, NULL, NULL);
                shared_add(s, key, 1, 1, at, NULL);
            }
        }
        int64_t at = day0 + looks[li];
        struct rl_entry *e = rl_get(&t, key, at);
        rl_roll(&t, e, at, 0.2);
        struct rl_view want;
        rl_view(&t, e, at, &want);
        struct shared_view got;
        assert_true(shared_get(s, key, at, &got));
        if (fabs(got.msgs_hour - want.msgs_hour) > 1e-9
            || fabs(got.rcpts_hour - want.rcpts_hour) > 1e-9
            || fabs(got.rcpts_day - want.rcpts_day) > 1e-9) {
            print_error("at +%llds: got %.3f/%.3f/%.3f, want %.3f/%.3f/%.3f (msgs/h rcpts/h "
                        "rcpts/24h)\n", (long long)looks[li], got.msgs_hour, got.rcpts_hour,
                        got.rcpts_day, want.msgs_hour, want.rcpts_hour, want.rcpts_day);
            bad++;
        }
        if (got.synced) {
            print_error("at +%llds: synced without redis\n", (long long)looks[li]);
            bad++;
        }
    }
    struct shared_view v;
    assert_false(shared_get(s, rl_key(RL_SASL, "nobody"), day0, &v));
    assert_true(v.msgs_hour == 0 && !v.synced);
    s = shared_free(s);
    rl_free(&t);
    assert_int_equal(bad, 0);
}

/* ---- two instances ------------------------------------------------------ */

static void check_ttl(const char *key, long long ttl, void *arg)
{
    int *bad = arg;
    bool day = strstr(key, ":d:") != NULL;
    long long max = day ? 2 * 86400 + 86400 / 4 : 2 * 3600 + 3600 / 4;
    if (strstr(key, "epoch"))
        return;
    if (ttl <= 0 || ttl > max) {
        print_error("%s: TTL got %lld, want 1..%lld\n", key, ttl, max);
        (*bad)++;
    }
}

static gint cmp_double(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void test_two_instances(void **state)
{
    struct fixture *f = *state;
    const unsigned T = 50;
    struct shared *a = mk(f, "two:", T, NULL), *b = mk(f, "two:", T, NULL);
    assert_true(wait_up(a, 3000));
    assert_true(wait_up(b, 3000));
    uint64_t key = rl_key(RL_SASL, "alice@example.com");
    /* Both watch it (policyd does for a sender near a limit): both pull it in
     * every round, also the one that counted nothing in the last. */
    shared_watch(a, key, now_s());
    shared_watch(b, key, now_s());
    /* Alternate 100 adds on each, as a sender spread over two MTAs. */
    for (int i = 0; i < 100; i++) {
        shared_add(a, key, 1, 2, now_s(), NULL);
        shared_add(b, key, 1, 2, now_s(), NULL);
        g_usleep(200);
    }
    int64_t t0 = mono_us(), seen_a = -1, seen_b = -1;
    while ((seen_a < 0 || seen_b < 0) && mono_us() - t0 < 5000000) {
        struct shared_view va, vb;
        shared_get(a, key, now_s(), &va);
        shared_get(b, key, now_s(), &vb);
        if (seen_a < 0 && va.msgs_hour >= 200 - 1e-9)
            seen_a = mono_us() - t0;
        if (seen_b < 0 && vb.msgs_hour >= 200 - 1e-9)
            seen_b = mono_us() - t0;
        g_usleep(500);
    }
    struct shared_stats sa, sb;
    shared_stats(a, &sa);
    shared_stats(b, &sb);
    /* D <= 2T + the two rounds' time; 50 ms more for a loaded test machine's
     * scheduler (a thread woken late). */
    int64_t bound = (2 * T) * 1000 + (int64_t)(sa.max_round_us + sb.max_round_us) + 50000;
    print_message("two instances: combined count seen by A after %.1f ms, by B after %.1f ms "
                  "(T = %u ms; bound 2T + rounds + 50 ms slack = %.1f ms)\n", seen_a / 1e3,
                  seen_b / 1e3, T, bound / 1e3);
    if (seen_a < 0 || seen_b < 0 || seen_a > bound || seen_b > bound)
        fail_msg("combined count: seen after %lld / %lld us, want <= %lld", (long long)seen_a,
                 (long long)seen_b, (long long)bound);
    struct shared_view v;
    shared_get(b, key, now_s(), &v);
    assert_true(v.synced);
    if (fabs(v.rcpts_hour - 400) > 1e-9 || fabs(v.rcpts_day - 400) > 1e-9)
        fail_msg("rcpts: got %.1f/%.1f, want 400/400", v.rcpts_hour, v.rcpts_day);

    /* How fast one add on A reaches B: many single probes. */
    GArray *d = g_array_new(FALSE, FALSE, sizeof(double));
    uint64_t probe = rl_key(RL_SENDER, "probe@example.com");
    shared_watch(b, probe, now_s());
    for (int i = 1; i <= 30; i++) {
        shared_add(a, probe, 1, 1, now_s(), NULL);
        int64_t s0 = mono_us();
        for (;;) {
            shared_get(b, probe, now_s(), &v);
            if (v.msgs_hour >= i - 1e-9 || mono_us() - s0 > 2000000)
                break;
            g_usleep(200);
        }
        double ms = (mono_us() - s0) / 1e3;
        g_array_append_val(d, ms);
        g_usleep((useconds_t)(g_random_int_range(0, (int)T) * 1000));
    }
    g_array_sort(d, cmp_double);
    double sum = 0, max = 0;
    for (guint i = 0; i < d->len; i++) {
        double x = g_array_index(d, double, i);
        sum += x;
        if (x > max)
            max = x;
    }
    print_message("one add on A seen by B: median %.1f ms, mean %.1f ms, max %.1f ms over %u "
                  "probes (T = %u ms)\n", g_array_index(d, double, d->len / 2), sum / d->len,
                  max, d->len, T);
    if (max > bound / 1e3)
        fail_msg("visibility: max got %.1f ms, want <= %.1f ms", max, bound / 1e3);
    g_array_free(d, TRUE);

    /* What Redis holds: the combined totals, every bucket with a TTL. */
    assert_int_equal(shared_flush(a, 2000), 0);
    assert_int_equal(shared_flush(b, 2000), 0);
    long long m = redis_msgs(f, "two:", key);
    if (m != 200)
        fail_msg("redis messages: got %lld, want 200", m);
    int bad = 0;
    size_t n = redis_each(f, "two:", check_ttl, &bad);
    assert_true(n >= 4);
    assert_int_equal(bad, 0);
    a = shared_free(a);
    b = shared_free(b);
}

/* ---- overshoot ------------------------------------------------------------ */

static void test_overshoot(void **state)
{
    struct fixture *f = *state;
    const unsigned T = 50;
    const double L = 300;
    struct shared *sv[2] = { mk(f, "over:", T, NULL), mk(f, "over:", T, NULL) };
    assert_true(wait_up(sv[0], 3000));
    assert_true(wait_up(sv[1], 3000));
    uint64_t key = rl_key(RL_SASL, "spammer@example.com");
    long admitted[2] = { 0, 0 }, tries[2] = { 0, 0 };
    int64_t t0 = mono_us(), blocked_since = 0;
    /* Each server: check, and count only when under the limit (as a policy
     * server that defers above it). ~1000 requests/s per server. */
    for (int i = 0;; i++) {
        int k = i & 1;
        struct shared_view v;
        shared_get(sv[k], key, now_s(), &v);
        tries[k]++;
        if (v.msgs_hour >= L / 2)
            shared_watch(sv[k], key, now_s()); /* near the limit: keep it fresh */
        if (v.msgs_hour < L) {
            shared_add(sv[k], key, 1, 1, now_s(), NULL);
            admitted[k]++;
            blocked_since = 0;
        } else if (!blocked_since) {
            blocked_since = mono_us();
        }
        if (blocked_since && mono_us() - blocked_since > 6 * T * 1000)
            break; /* both refused for 3 worst-case delays: it will not move */
        if (mono_us() - t0 > 20000000)
            fail_msg("the loop did not stop within 20 s");
        g_usleep(500);
    }
    double secs = (mono_us() - t0) / 1e6;
    assert_int_equal(shared_flush(sv[0], 2000), 0);
    assert_int_equal(shared_flush(sv[1], 2000), 0);
    long long total = redis_msgs(f, "over:", key);
    assert_int_equal(total, admitted[0] + admitted[1]);
    struct shared_stats s0, s1;
    shared_stats(sv[0], &s0);
    shared_stats(sv[1], &s1);
    double rtt = (s0.max_round_us > s1.max_round_us ? s0.max_round_us : s1.max_round_us) / 1e6;
    double r = (tries[0] > tries[1] ? tries[0] : tries[1]) / secs; /* per server */
    /* (N - 1) * r * D + N with D = 2T + RTT (the slowest round stands for the
     * round trip: it is one, with the work around it), plus one check-then-add
     * per server. */
    double bound = 1 * r * (2 * T / 1e3 + rtt) + 2;
    double over = (double)total - L;
    print_message("overshoot: %lld admitted for a limit of %.0f (A %ld, B %ld): overshoot %.0f; "
                  "bound (N-1) r (2T+RTT) + N = 1 x %.0f/s x (%u ms + %.1f ms) + 2 = %.0f; "
                  "without sharing: %.0f\n", total, L, admitted[0], admitted[1], over, r, 2 * T,
                  rtt * 1e3, bound, L);
    if (over > bound)
        fail_msg("overshoot: got %.0f, want <= %.0f", over, bound);
    sv[0] = shared_free(sv[0]);
    sv[1] = shared_free(sv[1]);
}

/* ---- Redis down, hung, back ------------------------------------------- */

/* Runs adds and gets on both for ms milliseconds; the slowest call in us. */
static int64_t hammer(struct shared *a, struct shared *b, uint64_t key, int ms, long *n_added)
{
    int64_t worst = 0;
    for (int64_t end = mono_us() + ms * 1000LL; mono_us() < end;) {
        for (int k = 0; k < 2; k++) {
            struct shared_view v;
            int64_t t = mono_us();
            shared_add(k ? b : a, key, 1, 1, now_s(), &v);
            shared_get(k ? b : a, key, now_s(), &v);
            t = mono_us() - t;
            if (t > worst)
                worst = t;
            (*n_added)++;
        }
        g_usleep(1000);
    }
    return worst;
}

/* Lines of text that start with start and contain needle. */
static size_t count_lines(const char *text, const char *start, const char *needle)
{
    size_t n = 0;
    gchar **lines = g_strsplit(text ? text : "", "\n", -1);
    for (gchar **l = lines; *l; l++)
        n += g_str_has_prefix(*l, start) && strstr(*l, needle);
    g_strfreev(lines);
    return n;
}

static void test_redis_down_and_back(void **state)
{
    struct fixture *f = *state;
    const unsigned T = 50;
    char *logpath = g_build_filename(g_get_tmp_dir(), "shared_test_log.XXXXXX", NULL);
    int lfd = g_mkstemp(logpath);
    assert_true(lfd >= 0);
    fflush(stderr);
    f->saved_stderr = dup(2);
    dup2(lfd, 2);
    close(lfd);
    struct logger la = { LOG_LEVEL_INFO, false, "A" }, lb = { LOG_LEVEL_INFO, false, "B" };
    struct shared *a = mk(f, "down:", T, &la), *b = mk(f, "down:", T, &lb);
    assert_true(wait_up(a, 3000));
    assert_true(wait_up(b, 3000));
    uint64_t key = rl_key(RL_SASL, "bob@example.com");
    shared_watch(a, key, now_s());
    shared_watch(b, key, now_s());
    long n = 0;
    hammer(a, b, key, 200, &n);
    assert_int_equal(shared_flush(a, 2000), 0);
    assert_int_equal(shared_flush(b, 2000), 0);
    assert_int_equal(shared_flush(a, 2000), 0);
    struct shared_view v;
    shared_get(a, key, now_s(), &v);
    if (fabs(v.msgs_hour - (double)n) > 1e-9)
        fail_msg("before the outage: got %.0f, want %ld", v.msgs_hour, n);

    /* Hung Redis (SIGSTOP): the thread waits at most the timeout per call; the
     * callers do not wait at all. */
    kill(f->redis, SIGSTOP);
    int64_t worst_hung = hammer(a, b, key, 1500, &n);
    struct shared_stats st;
    shared_stats(a, &st);
    bool a_down = !st.up;
    kill(f->redis, SIGCONT);
    if (!a_down)
        fail_msg("a stopped redis: got up, want down after its timeout");

    /* Dead Redis (killed: it comes back empty). */
    redis_kill(f);
    int64_t worst_dead = hammer(a, b, key, 1000, &n);
    shared_get(a, key, now_s(), &v);
    double a_local = v.msgs_hour;
    shared_stats(a, &st);
    assert_false(st.up);
    assert_true(st.n_failures >= 1);

    redis_start(f);
    int64_t t0 = mono_us();
    bool up = wait_up(a, 5000) && wait_up(b, 5000);
    double back_ms = (mono_us() - t0) / 1e3;
    assert_true(up);
    /* Both push what they counted (their own counts again: Redis is empty),
     * then each pulls the other's (the key is watched). */
    for (int k = 0; k < 2; k++) {
        assert_int_equal(shared_flush(a, 2000), 0);
        assert_int_equal(shared_flush(b, 2000), 0);
    }
    struct shared_view va, vb;
    shared_get(a, key, now_s(), &va);
    shared_get(b, key, now_s(), &vb);
    long long total = redis_msgs(f, "down:", key);
    struct shared_stats sa, sb;
    shared_stats(a, &sa);
    shared_stats(b, &sb);
    a = shared_free(a);
    b = shared_free(b);

    stderr_restore(f);
    gchar *log = NULL;
    g_file_get_contents(logpath, &log, NULL, NULL);
    unlink(logpath);
    g_free(logpath);
    fprintf(stderr, "%s", log ? log : "");
    print_message("redis down: slowest add+get %.2f ms while hung (SIGSTOP), %.2f ms while dead; "
                  "A's view while down %.0f; back after %.0f ms; after: A %.0f, B %.0f, redis "
                  "%lld, counted %ld; reseeds A %llu B %llu, failures A %llu B %llu\n",
                  worst_hung / 1e3, worst_dead / 1e3, a_local, back_ms, va.msgs_hour,
                  vb.msgs_hour, total, n, (unsigned long long)sa.n_reseeds,
                  (unsigned long long)sb.n_reseeds, (unsigned long long)sa.n_failures,
                  (unsigned long long)sb.n_failures);
    int bad = 0;
    if (worst_hung > 50000 || worst_dead > 50000) {
        print_error("calls while down: got %lld / %lld us, want <= 50 ms (no waiting on redis)\n",
                    (long long)worst_hung, (long long)worst_dead);
        bad++;
    }
    if (total != n || fabs(va.msgs_hour - (double)n) > 1e-9
        || fabs(vb.msgs_hour - (double)n) > 1e-9) {
        print_error("converged totals: got redis %lld, A %.0f, B %.0f, want %ld\n", total,
                    va.msgs_hour, vb.msgs_hour, n);
        bad++;
    }
    if (sa.n_reseeds != 1 || sb.n_reseeds != 1) {
        print_error("reseeds: got %llu/%llu, want 1/1\n", (unsigned long long)sa.n_reseeds,
                    (unsigned long long)sb.n_reseeds);
        bad++;
    }
    /* One line when it went away, one when it came back, per instance (the
     * hung period and the death are one outage when no round succeeded in
     * between; two otherwise), and one that it came back empty. */
    size_t down_a = count_lines(log, "A: warning", "counting locally"),
           down_b = count_lines(log, "B: warning", "counting locally"),
           back_a = count_lines(log, "A: info", "reachable again"),
           back_b = count_lines(log, "B: info", "reachable again"),
           lost_a = count_lines(log, "A: warning", "lost its data"),
           lost_b = count_lines(log, "B: warning", "lost its data");
    if (down_a < 1 || down_a > 2 || down_a != back_a || down_b < 1 || down_b > 2
        || down_b != back_b || lost_a != 1 || lost_b != 1) {
        print_error("log lines: got down %zu/%zu back %zu/%zu lost data %zu/%zu, want one of "
                    "each per outage and one lost data\n", down_a, down_b, back_a, back_b,
                    lost_a, lost_b);
        bad++;
    }
    g_free(log);
    assert_int_equal(bad, 0);
}

/* ---- reset ---------------------------------------------------------------- */

static void test_reset(void **state)
{
    struct fixture *f = *state;
    struct shared *a = mk(f, "reset:", 50, NULL), *b = mk(f, "reset:", 50, NULL);
    assert_true(wait_up(a, 3000));
    assert_true(wait_up(b, 3000));
    uint64_t key = rl_key(RL_SASL, "carol@example.com");
    for (int i = 0; i < 50; i++)
        shared_add(a, key, 1, 1, now_s(), NULL);
    assert_int_equal(shared_flush(a, 2000), 0);
    shared_add(b, key, 0, 0, now_s(), NULL);
    assert_int_equal(shared_flush(b, 2000), 0);
    struct shared_view v;
    shared_get(b, key, now_s(), &v);
    assert_true(fabs(v.msgs_hour - 50) < 1e-9);
    /* The account is unlocked: every server resets it. */
    shared_reset(a, key, now_s());
    shared_reset(b, key, now_s());
    shared_get(a, key, now_s(), &v);
    assert_true(v.msgs_hour == 0 && v.rcpts_day == 0);
    assert_int_equal(shared_flush(a, 2000), 0);
    assert_int_equal(shared_flush(b, 2000), 0);
    shared_add(b, key, 1, 1, now_s(), &v);
    assert_int_equal(shared_flush(b, 2000), 0);
    shared_get(b, key, now_s(), &v);
    if (fabs(v.msgs_hour - 1) > 1e-9)
        fail_msg("after reset: got %.0f, want 1", v.msgs_hour);
    assert_int_equal(redis_msgs(f, "reset:", key), 1);
    a = shared_free(a);
    b = shared_free(b);
}

/* ---- Redis emptied without a restart ------------------------------------ */

static void test_flushall(void **state)
{
    struct fixture *f = *state;
    struct shared *a = mk(f, "flush:", 50, NULL), *b = mk(f, "flush:", 50, NULL);
    assert_true(wait_up(a, 3000));
    assert_true(wait_up(b, 3000));
    uint64_t key = rl_key(RL_SASL, "dave@example.com");
    shared_watch(a, key, now_s());
    shared_watch(b, key, now_s());
    for (int i = 0; i < 30; i++) {
        shared_add(a, key, 1, 1, now_s(), NULL);
        shared_add(b, key, 1, 1, now_s(), NULL);
    }
    assert_int_equal(shared_flush(a, 2000), 0);
    assert_int_equal(shared_flush(b, 2000), 0);
    redis_flushall(f);
    shared_add(a, key, 1, 1, now_s(), NULL);
    /* Each notices the missing marker in its next round (the key is watched:
     * B has a round for it too), reconnects and pushes its counts again. */
    struct shared_view va, vb;
    struct shared_stats sa, sb;
    int64_t t0 = mono_us();
    do {
        g_usleep(20000);
        shared_stats(a, &sa);
        shared_stats(b, &sb);
    } while ((sa.n_reseeds < 1 || sb.n_reseeds < 1) && mono_us() - t0 < 3000000);
    for (int k = 0; k < 3; k++) {
        shared_flush(a, 2000);
        shared_flush(b, 2000);
    }
    shared_get(a, key, now_s(), &va);
    shared_get(b, key, now_s(), &vb);
    long long total = redis_msgs(f, "flush:", key);
    print_message("FLUSHALL: reseeds A %llu B %llu; after: A %.0f, B %.0f, redis %lld, counted 61 "
                  "(A's round that met the empty Redis may count twice)\n",
                  (unsigned long long)sa.n_reseeds, (unsigned long long)sb.n_reseeds,
                  va.msgs_hour, vb.msgs_hour, total);
    assert_true(sa.n_reseeds >= 1 && sb.n_reseeds >= 1);
    /* Never fewer than counted; at most A's one add of the round that met the
     * emptied Redis twice. */
    if (total < 61 || total > 62 || va.msgs_hour != total || vb.msgs_hour != total)
        fail_msg("after FLUSHALL: got redis %lld, A %.0f, B %.0f, want 61 (or 62) everywhere",
                 total, va.msgs_hour, vb.msgs_hour);
    a = shared_free(a);
    b = shared_free(b);
}

/* ---- expiry ------------------------------------------------------------- */

static void check_short_ttl(const char *key, long long ttl, void *arg)
{
    int *bad = arg;
    if (strstr(key, "epoch"))
        return;
    long long max = strstr(key, ":d:") ? 4 : 2; /* 2.25 buckets of 2 s and 1 s */
    if (ttl <= 0 || ttl > max) {
        print_error("%s: TTL got %lld, want 1..%lld\n", key, ttl, max);
        (*bad)++;
    }
}

static void test_expire(void **state)
{
    struct fixture *f = *state;
    /* Buckets of 1 s (hour) and 2 s (day): TTLs of 2 s and 4 s, and local keys
     * idle for 4 s are dropped. */
    struct shared_opts o = { .redis = f->addr, .prefix = "exp:", .sync_ms = 50, .hour_s = 1,
                             .day_s = 2, .max_keys = 256 };
    struct shared *s = NULL;
    struct ad_err err = { 0 };
    assert_int_equal(shared_new(&o, NULL, &s, &err), 0);
    assert_true(wait_up(s, 3000));
    for (int i = 0; i < 10; i++) {
        char name[32];
        g_snprintf(name, sizeof name, "x%d@example.com", i);
        shared_add(s, rl_key(RL_SENDER, name), 1, 1, now_s(), NULL);
    }
    assert_int_equal(shared_flush(s, 2000), 0);
    int bad = 0;
    size_t n = redis_each(f, "exp:", check_short_ttl, &bad);
    assert_int_equal(bad, 0);
    assert_true(n >= 1 + 10 * 2);
    struct shared_stats st;
    shared_stats(s, &st);
    size_t before = st.n_keys;
    g_usleep(5 * G_USEC_PER_SEC);
    n = redis_each(f, "exp:", NULL, NULL);
    if (n != 1) /* the epoch marker stays */
        fail_msg("keys in redis after their TTL: got %zu, want 1 (the marker)", n);
    /* Time moves on for the table when something is counted. */
    shared_add(s, rl_key(RL_SENDER, "later@example.com"), 1, 1, now_s(), NULL);
    assert_int_equal(shared_flush(s, 2000), 0);
    g_usleep(200000);
    shared_stats(s, &st);
    print_message("expiry: %zu keys tracked before, %zu after 5 s idle; redis keys expired\n",
                  before, st.n_keys);
    if (st.n_keys != 1) /* "later" */
        fail_msg("local keys after idling: got %zu, want 1", st.n_keys);
    s = shared_free(s);
}

/* ---- bounds --------------------------------------------------------------- */

static void test_memory_and_backlog_bounded(void **state)
{
    struct fixture *f = *state; /* no Redis at first */
    struct shared_opts o = { .redis = f->addr, .prefix = "mem:", .sync_ms = 20,
                             .retry_max_ms = 200, .max_keys = 20000, .max_keys_per_sync = 1000 };
    struct shared *s = NULL;
    struct ad_err err = { 0 };
    assert_int_equal(shared_new(&o, NULL, &s, &err), 0);
    int64_t now = now_s(), worst = 0;
    for (int i = 0; i < 200000; i++) {
        char name[32];
        g_snprintf(name, sizeof name, "u%d@example.com", i);
        int64_t t = mono_us();
        shared_add(s, rl_key(RL_SASL, name), 1, 1, now, NULL);
        t = mono_us() - t;
        if (t > worst)
            worst = t;
    }
    struct shared_stats st;
    shared_stats(s, &st);
    print_message("memory: %zu keys tracked of at most %zu (%zu KiB); %llu evicted, %llu with "
                  "unpushed deltas; slowest add %.2f ms\n", st.n_keys, st.max_keys,
                  st.mem_bytes / 1024, (unsigned long long)st.n_evicted,
                  (unsigned long long)st.n_lost, worst / 1e3);
    assert_true(st.n_keys <= st.max_keys);
    assert_true(st.max_keys >= 20000 && st.max_keys < 20000 + 64);
    assert_true(st.n_evicted >= 200000 - st.max_keys);
    assert_true(st.mem_bytes < 16u << 20);
    /* Redis arrives: the backlog goes out in rounds of at most 1000 keys. */
    redis_start(f);
    assert_true(wait_up(s, 5000));
    int64_t t0 = mono_us();
    assert_int_equal(shared_flush(s, 20000), 0);
    double ms = (mono_us() - t0) / 1e3;
    shared_stats(s, &st);
    print_message("backlog: %llu keys pushed in %llu rounds (%llu commands) in %.0f ms; max "
                  "round %.1f ms\n", (unsigned long long)st.n_key_syncs,
                  (unsigned long long)st.n_rounds, (unsigned long long)st.n_commands, ms,
                  st.max_round_us / 1e3);
    assert_true(st.n_key_syncs >= st.n_keys);
    assert_true(st.n_rounds * 1000 >= st.n_key_syncs);
    assert_true(st.n_commands >= st.n_key_syncs);
    s = shared_free(s);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr),
        cmocka_unit_test_setup_teardown(test_windows_match_ratelimit, setup_noredis, teardown),
        cmocka_unit_test_setup_teardown(test_two_instances, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_overshoot, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_redis_down_and_back, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_reset, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_flushall, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_expire, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_memory_and_backlog_bounded, setup_noredis,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * shared_bench.c: the cost of the Redis-shared counters (src/policy/shared.h)
 * for bench/shared_counters.sh. Against the Redis at ADDR it measures, for one
 * instance (one MTA) and for two instances driven by two threads at once (two
 * MTAs sharing the counters), how many shared_add() + shared_get() pairs per
 * second a thread gets, the latency of each pair (every 16th is timed:
 * p50/p99/p99.9/max), and the sync traffic the background threads cause per
 * second (rounds, commands, keys, protocol bytes, round time), unpaced and
 * paced at the policy server's rate (90,000 requests/s, two keys each, on each
 * of two instances), and how long the backlog takes to drain. Two key
 * sets: Zipf(1) over 1000 users (the draw of bench/policy.sh) and uniform over
 * 100,000 (a large provider's spread). The baseline is what the policy server
 * does per key today (rl_get + rl_roll + rl_count + rl_view of ratelimit.c).
 * Then, with the default sync interval, how long one add on instance A takes to
 * show on instance B, and whether both converge to the same totals.
 * Exit 0, or 1 when a check fails (no convergence), 64 on usage errors.
 *
 * usage: shared_bench HOST:PORT [SECONDS_PER_PHASE]
 */
#include <glib.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/ratelimit.h"
#include "policy/shared.h"

#define HIST_NS 10          /* histogram bucket width */
#define HIST_N 100000       /* up to 1 ms in 10 ns steps; above goes to the last */

struct keyset {
    const char *name;
    uint64_t *keys;
    size_t n;
    double *cdf;            /* NULL: uniform */
};

struct worker {
    struct shared *s;
    const struct keyset *ks;
    double secs;
    double rate;            /* add+get pairs per second; 0: as fast as it goes */
    uint64_t seed;
    /* results */
    uint64_t n_ops, max_ns;
    uint32_t *hist;
    uint64_t n_timed;
};

static uint64_t ns_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static size_t draw(const struct keyset *ks, uint64_t *seed)
{
    uint64_t r = xorshift(seed);
    if (!ks->cdf)
        return r % ks->n;
    double u = (double)(r >> 11) / 9007199254740992.0;
    size_t lo = 0, hi = ks->n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ks->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void keyset_init(struct keyset *ks, const char *name, size_t n, bool zipf)
{
    ks->name = name;
    ks->n = n;
    ks->keys = g_new(uint64_t, n);
    for (size_t i = 0; i < n; i++) {
        char u[64];
        g_snprintf(u, sizeof u, "user%zu@bench.example", i);
        ks->keys[i] = rl_key(RL_SASL, u);
    }
    ks->cdf = NULL;
    if (zipf) {
        ks->cdf = g_new(double, n);
        double sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += 1.0 / (double)(i + 1);
        double acc = 0;
        for (size_t i = 0; i < n; i++) {
            acc += 1.0 / (double)(i + 1) / sum;
            ks->cdf[i] = acc;
        }
        ks->cdf[n - 1] = 1.0;
    }
}

static gpointer work(gpointer arg)
{
    struct worker *w = arg;
    uint64_t start = ns_now(), end = start + (uint64_t)(w->secs * 1e9), seed = w->seed;
    int64_t now = (int64_t)time(NULL);
    /* Paced: 1 ms steps of rate / 1000 pairs each. */
    int per_step = w->rate > 0 ? (int)(w->rate / 1000 + 0.5) : 256;
    uint64_t step = 0;
    while (1) {
        if (w->rate > 0) {
            uint64_t due = start + step++ * 1000000ULL, t = ns_now();
            if (due > t) {
                struct timespec ts = { 0, (long)(due - t) };
                nanosleep(&ts, NULL);
            }
        }
        for (int k = 0; k < per_step; k++) {
            uint64_t key = w->ks->keys[draw(w->ks, &seed)];
            struct shared_view v;
            if ((w->n_ops & 15) == 0) {
                uint64_t t0 = ns_now();
                shared_add(w->s, key, 1, 1, now, &v);
                shared_get(w->s, key, now, &v);
                uint64_t d = ns_now() - t0;
                w->hist[d / HIST_NS < HIST_N ? d / HIST_NS : HIST_N - 1]++;
                w->n_timed++;
                if (d > w->max_ns)
                    w->max_ns = d;
            } else {
                shared_add(w->s, key, 1, 1, now, &v);
                shared_get(w->s, key, now, &v);
            }
            w->n_ops++;
        }
        uint64_t t = ns_now();
        if (t >= end)
            break;
        now = (int64_t)time(NULL);
    }
    return NULL;
}

static double pct(const struct worker *w, double p)
{
    uint64_t want = (uint64_t)ceil(p * (double)w->n_timed), acc = 0;
    for (size_t i = 0; i < HIST_N; i++) {
        acc += w->hist[i];
        if (acc >= want && want > 0)
            return (double)((i + 1) * HIST_NS);
    }
    return (double)w->max_ns;
}

/* log: borrowed, outlives the instance. */
static struct shared *mk(const char *addr, const char *prefix, unsigned sync_ms,
                         struct logger *log)
{
    struct shared_opts o = { .redis = addr, .prefix = prefix, .sync_ms = sync_ms };
    struct shared *s = NULL;
    struct ad_err err = { 0 };
    if (shared_new(&o, log, &s, &err) != 0) {
        fprintf(stderr, "shared_bench: %s\n", err.msg);
        exit(64);
    }
    /* Wait until the thread is connected (at most 3 s). */
    for (int i = 0; i < 300; i++) {
        struct shared_stats st;
        shared_stats(s, &st);
        if (st.up)
            break;
        g_usleep(10000);
    }
    return s;
}

static void print_traffic(const char *who, const struct shared_stats *a,
                          const struct shared_stats *b, double secs)
{
    double rounds = (double)(b->n_rounds - a->n_rounds);
    printf("    sync %-3s %6.1f rounds/s %8.0f commands/s %9.0f keys/s %8.1f KiB/s out "
           "%7.1f KiB/s in, round mean %.2f ms max %.2f ms\n", who, rounds / secs,
           (double)(b->n_commands - a->n_commands) / secs,
           (double)(b->n_key_syncs - a->n_key_syncs) / secs,
           (double)(b->bytes_out - a->bytes_out) / 1024.0 / secs,
           (double)(b->bytes_in - a->bytes_in) / 1024.0 / secs,
           rounds > 0 ? (double)(b->sum_round_us - a->sum_round_us) / rounds / 1e3 : 0.0,
           (double)b->max_round_us / 1e3);
}

/* n instances, one thread each, same key set; rate 0: unpaced. */
static void phase(const char *addr, const struct keyset *ks, int n, double secs, double rate,
                  int run, struct logger *log)
{
    struct shared *s[2];
    struct worker w[2];
    struct shared_stats st0[2], st1[2];
    char prefix[64];
    g_snprintf(prefix, sizeof prefix, "bench%d:", run);
    for (int i = 0; i < n; i++) {
        s[i] = mk(addr, prefix, 200, log);
        memset(&w[i], 0, sizeof w[i]);
        w[i].s = s[i];
        w[i].ks = ks;
        w[i].secs = secs;
        w[i].rate = rate;
        w[i].seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
        w[i].hist = g_new0(uint32_t, HIST_N);
        shared_stats(s[i], &st0[i]);
    }
    GThread *th[2];
    uint64_t t0 = ns_now();
    for (int i = 0; i < n; i++)
        th[i] = g_thread_new("bench", work, &w[i]);
    for (int i = 0; i < n; i++)
        g_thread_join(th[i]);
    double el = (double)(ns_now() - t0) / 1e9;
    uint64_t total = 0;
    char paced[64] = "as fast as it goes";
    if (rate > 0)
        g_snprintf(paced, sizeof paced, "paced at %.0f pairs/s each", rate);
    printf("  %s, %d instance%s (%d thread%s, %s), sync every 200 ms:\n", ks->name, n,
           n > 1 ? "s" : "", n, n > 1 ? "s" : "", paced);
    for (int i = 0; i < n; i++) {
        shared_stats(s[i], &st1[i]);
        total += w[i].n_ops;
        printf("    %c: %10.0f add+get/s  latency p50 %4.0f ns  p99 %5.0f ns  p99.9 %6.0f ns  "
               "max %.3f ms  (%zu keys tracked)\n", 'A' + i, (double)w[i].n_ops / el,
               pct(&w[i], 0.5), pct(&w[i], 0.99), pct(&w[i], 0.999), (double)w[i].max_ns / 1e6,
               st1[i].n_keys);
    }
    if (n > 1)
        printf("    total %10.0f add+get/s\n", (double)total / el);
    for (int i = 0; i < n; i++)
        print_traffic(i ? "B" : "A", &st0[i], &st1[i], el);
    /* What is left to push when the load stops, and how long it takes. */
    for (int i = 0; i < n; i++) {
        uint64_t t = ns_now();
        int rc = shared_flush(s[i], 30000);
        printf("    drain %c: everything pushed %.0f ms after the load stopped%s\n", 'A' + i,
               (double)(ns_now() - t) / 1e6, rc ? " (NOT ALL: redis unreachable?)" : "");
    }
    for (int i = 0; i < n; i++) {
        shared_free(s[i]);
        g_free(w[i].hist);
    }
}

static double baseline(const struct keyset *ks, double secs)
{
    struct rl_table t;
    struct ad_err err = { 0 };
    int64_t now = (int64_t)time(NULL);
    if (rl_init(&t, ks->n * 2, now, &err) != 0) {
        fprintf(stderr, "shared_bench: %s\n", err.msg);
        exit(1);
    }
    uint64_t seed = 12345, n = 0, end = ns_now() + (uint64_t)(secs * 1e9), t0 = ns_now();
    while (ns_now() < end) {
        for (int k = 0; k < 256; k++) {
            struct rl_entry *e = rl_get(&t, ks->keys[draw(ks, &seed)], now);
            n++;
            if (!e)
                continue; /* table full (cannot happen at 2 x the keys): untracked */
            rl_roll(&t, e, now, 0.2);
            rl_count(e, NULL, "example.com", "192.0.2.0");
            struct rl_view v;
            rl_view(&t, e, now, &v);
        }
    }
    double r = (double)n / ((double)(ns_now() - t0) / 1e9);
    rl_free(&t);
    return r;
}

static int visibility(const char *addr, struct logger *log)
{
    struct shared *a = mk(addr, "benchvis:", 200, log), *b = mk(addr, "benchvis:", 200, log);
    uint64_t key = rl_key(RL_SASL, "probe@bench.example");
    int64_t now = (int64_t)time(NULL);
    double d[20], sum = 0, max = 0;
    struct shared_view v;
    shared_watch(b, key, now); /* the sender is near a limit: B keeps its view fresh */
    for (int i = 0; i < 20; i++) {
        shared_add(a, key, 1, 1, (int64_t)time(NULL), NULL);
        uint64_t t0 = ns_now();
        do {
            g_usleep(500);
            shared_get(b, key, (int64_t)time(NULL), &v);
        } while (v.msgs_hour < i + 1 - 1e-9 && ns_now() - t0 < 3000000000ULL);
        d[i] = (double)(ns_now() - t0) / 1e6;
        sum += d[i];
        if (d[i] > max)
            max = d[i];
        g_usleep((gulong)g_random_int_range(0, 200000));
    }
    printf("  one add on A seen by B (sync every 200 ms): mean %.0f ms, max %.0f ms over 20 "
           "probes (bound 2T + RTT = 400 ms + RTT)\n", sum / 20, max);
    /* Convergence: both flush, both pull, both agree. */
    shared_flush(a, 2000);
    shared_flush(b, 2000);
    shared_add(a, key, 0, 0, (int64_t)time(NULL), NULL);
    shared_add(b, key, 0, 0, (int64_t)time(NULL), NULL);
    shared_flush(a, 2000);
    shared_flush(b, 2000);
    struct shared_view va, vb;
    shared_get(a, key, (int64_t)time(NULL), &va);
    shared_get(b, key, (int64_t)time(NULL), &vb);
    int rc = fabs(va.msgs_hour - 20) < 1e-9 && fabs(vb.msgs_hour - 20) < 1e-9 ? 0 : 1;
    printf("  converged: A %.0f, B %.0f, want 20: %s\n", va.msgs_hour, vb.msgs_hour,
           rc ? "FAILED" : "ok");
    shared_free(a);
    shared_free(b);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: shared_bench HOST:PORT [SECONDS_PER_PHASE]\n");
        return 64;
    }
    double secs = argc == 3 ? atof(argv[2]) : 5;
    if (secs <= 0)
        secs = 5;
    struct logger log = { LOG_LEVEL_WARNING, false, "shared_bench" };
    struct keyset sets[2];
    keyset_init(&sets[0], "Zipf(1) over 1000 users", 1000, true);
    keyset_init(&sets[1], "uniform over 100000 users", 100000, false);
    int run = 0;
    for (int k = 0; k < 2; k++) {
        printf("%s:\n", sets[k].name);
        printf("  baseline (ratelimit.c per key, no sharing): %.0f ops/s\n",
               baseline(&sets[k], secs / 2));
        phase(argv[1], &sets[k], 1, secs, 0, run++, &log);
        phase(argv[1], &sets[k], 2, secs, 0, run++, &log);
        /* The policy server's load: 90,000 requests/s, each counting its SASL
         * user and its sender address (two pairs), on each of two MTAs. */
        phase(argv[1], &sets[k], 2, secs, 180000, run++, &log);
    }
    int rc = visibility(argv[1], &log);
    for (int k = 0; k < 2; k++) {
        g_free(sets[k].keys);
        g_free(sets[k].cdf);
    }
    return rc;
}

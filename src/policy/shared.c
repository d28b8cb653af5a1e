/*
 * shared.c: rate counters shared through Redis (see shared.h). The policy
 * server's loop calls shared_add() and shared_get(), which touch only the local
 * table; one GThread per instance (sync_main) owns the Redis connection and,
 * every sync interval, moves the pending deltas of the keys counted since the
 * last round into flight, pushes them with pipelined INCRBY (and EXPIRE the
 * first time this server writes a bucket), reads the buckets back with one MGET
 * per key in the same pipeline, and stores the global totals. Failures of Redis
 * never reach the callers: the thread logs the first one, keeps the deltas,
 * backs off and reconnects. Memory is fixed at start (shared_new); the only
 * allocations later are hiredis' own, in the thread. The instance is owned by
 * the caller of shared_new() and freed by shared_free().
 *
 * The local table is split into SH_STRIPES open-addressing tables, each with its
 * own mutex, so that the thread's capture and apply steps hold a lock for a
 * short stretch and rarely meet the loop. Each entry keeps, per counter
 * (messages/hour, recipients/hour, recipients/day) and per bucket (current,
 * previous), four numbers: g, the global total of the last pull; f, the delta
 * in flight; p, the delta counted since; o, what this server has pushed in
 * total (pushed again when Redis comes back empty). The view is g + f + p.
 *
 * In Redis, per key (the hex of rl_key()) and bucket: PREFIX<hex>:h:<hour> holds
 * messages * 2^32 + recipients of that hour (one INCRBY counts both: fewer
 * commands, fewer keys), PREFIX<hex>:d:<day> the recipients of that day; both
 * expire 2.25 bucket lengths after this server first wrote them. PREFIXepoch is
 * a random marker that tells a Redis that lost its data. Plain commands, no Lua:
 * a script costs Redis about three times as much per key (measured: 16 us).
 */
#include "shared.h"

#include <glib.h>
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define SH_STRIPES 64
#define SH_CHUNK 512            /* keys per pipeline write (then its replies are read) */
#define SH_PROBE 32             /* slots looked at for an eviction victim */
#define SH_SWEEP 256            /* slots per stripe looked at per round by the idle sweep */
#define SH_RETRY_MIN_MS 100
#define SH_ARG_MAX 100          /* an argument text: prefix (<= 64) + 16 hex + ":h:" + 10 digits */

enum { SH_M, SH_R, SH_D, SH_N };   /* messages/hour, recipients/hour, recipients/day */

enum {
    SH_F_QUEUED = 1,    /* something to push: in the push list */
    SH_F_INFLIGHT = 2,  /* captured by the running round */
    SH_F_RESET = 4,     /* delete the key's buckets in Redis before pushing */
    SH_F_SYNCED = 8,    /* g holds a pulled total */
    SH_F_PULLQ = 16,    /* in the pull list (watched) */
};

/* [0] = the current bucket, [1] = the previous one. */
struct sh_ctr {
    uint32_t g[2], p[2], f[2], o[2];
};

/* One tracked key: 128 bytes. */
struct sh_entry {
    uint64_t key;               /* 0 = empty slot */
    int64_t last;               /* last shared_add(), caller's seconds */
    uint32_t hour, day;         /* bucket numbers (now / hour_s, now / day_s) of [0] */
    uint32_t pull_until;        /* watched: pulled in every round up to this round number */
    uint16_t gen;               /* bumped by shared_reset(): a reply for an older gen is stale */
    uint16_t flags;
    struct sh_ctr c[SH_N];
};

_Static_assert(sizeof(struct sh_entry) == 128, "an entry is two cache lines");

struct sh_stripe {
    GMutex mu;
    struct sh_entry *slots;
    size_t mask, n_used, max_used;
    /* The keys to push (SH_F_QUEUED) and the watched keys to pull (SH_F_PULLQ)
     * in the next round; a key may be listed twice or be gone (evicted). */
    uint64_t *dirty, *pull;
    size_t n_dirty, n_pull, cap_dirty;
    bool rescan;                /* the push list overflowed: scan the slots instead */
    size_t sweep_pos;
    uint64_t n_evicted, n_lost;
};

/* A key captured by a round. */
struct sh_item {
    uint64_t key;
    uint32_t hour, day;
    uint16_t gen;
    bool reset;
    uint8_t expire;             /* EXPIRE after the INCRBY of: 1 h0, 2 h1, 4 d0, 8 d1 */
    uint32_t d[6];              /* deltas m0 m1 r0 r1 d0 d1 */
};

/* A growing byte buffer (the sync thread's). */
struct sh_buf {
    char *p;
    size_t len, cap;
    bool oom;                   /* an append failed: the content is not to be sent */
};

struct shared {
    struct sh_stripe st[SH_STRIPES];
    struct logger log_copy;     /* the thread logs with its own copy (no race with a */
    struct logger *log;         /* reload changing the caller's); NULL: no logging */
    unsigned hour_s, day_s, sync_ms, timeout_ms, retry_max_ms, db;
    size_t per_sync, max_keys;
    uint32_t watch_rounds;
    _Atomic uint32_t round_no;  /* rounds started; read by shared_watch() */
    char *host, *unix_path, *prefix, *addr, *user, *password; /* addr: for the log */
    size_t prefix_len;
    int port;
    _Atomic int64_t now_max;    /* the latest caller time seen */

    /* Control: guarded by ctl. */
    GMutex ctl;
    GCond cond;
    GThread *thread;
    bool stop;
    uint64_t flush_req, flush_done;
    bool last_clean;            /* the last round pushed everything queued and reached Redis */
    struct shared_stats stats;  /* counters of the thread (n_keys etc. filled on demand) */

    /* The sync thread's own. */
    redisContext *rc;
    char epoch[64];
    bool have_epoch, logged_down;
    unsigned backoff_ms;
    int64_t next_try_us, down_since_us;
    struct sh_item *items;
    size_t n_items;
    bool leftover;              /* the last capture left queued keys for the next round */
    unsigned start_stripe;
    struct sh_buf buf;          /* the commands of one pipeline write */
    size_t want[2][SH_CHUNK];   /* replies per key of the two chunks in flight */
};

/* ---- local table ---------------------------------------------------------- */

static uint32_t sat_add(uint32_t a, uint64_t b)
{
    uint64_t s = (uint64_t)a + b;
    return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

static struct sh_stripe *stripe_of(struct shared *s, uint64_t key)
{
    return &s->st[key >> 58];
}

static uint32_t bucket(int64_t now, unsigned len)
{
    if (now < 0)
        now = 0;
    int64_t b = now / len;
    return b > UINT32_MAX ? UINT32_MAX : (uint32_t)b;
}

/* Moves a counter's buckets n steps forward. */
static void ctr_shift(struct sh_ctr *c, uint32_t n)
{
    uint32_t *v[] = { c->g, c->p, c->f, c->o };
    for (size_t i = 0; i < 4; i++) {
        v[i][1] = n == 1 ? v[i][0] : 0;
        v[i][0] = 0;
    }
}

/* Rolls e to now's buckets; a clock that went back keeps the newer buckets. */
static void roll(const struct shared *s, struct sh_entry *e, int64_t now)
{
    uint32_t h = bucket(now, s->hour_s), d = bucket(now, s->day_s);
    if (h > e->hour) {
        ctr_shift(&e->c[SH_M], h - e->hour);
        ctr_shift(&e->c[SH_R], h - e->hour);
        e->hour = h;
    }
    if (d > e->day) {
        ctr_shift(&e->c[SH_D], d - e->day);
        e->day = d;
    }
}

static bool has_pending(const struct sh_entry *e)
{
    for (size_t i = 0; i < SH_N; i++)
        if (e->c[i].p[0] || e->c[i].p[1] || e->c[i].f[0] || e->c[i].f[1])
            return true;
    return false;
}

static struct sh_entry *find(struct sh_stripe *t, uint64_t key)
{
    for (size_t i = key & t->mask;; i = (i + 1) & t->mask) {
        if (t->slots[i].key == key)
            return &t->slots[i];
        if (!t->slots[i].key)
            return NULL;
    }
}

/* Removes slot i and shifts the following cluster back (no tombstones), as
 * ratelimit.c does. */
static void remove_at(struct sh_stripe *t, size_t i)
{
    size_t j = i;
    for (;;) {
        t->slots[i].key = 0;
        for (;;) {
            j = (j + 1) & t->mask;
            if (!t->slots[j].key) {
                t->n_used--;
                return;
            }
            size_t home = t->slots[j].key & t->mask;
            bool in = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!in)
                break;
        }
        t->slots[i] = t->slots[j];
        i = j;
    }
}

static struct sh_entry *find_or_add(struct shared *s, struct sh_stripe *t, uint64_t key,
                                    int64_t now)
{
    struct sh_entry *e = find(t, key);
    if (e)
        return e;
    if (t->n_used >= t->max_used) {
        /* Full: evict the least recently counted key near the new one's home. */
        size_t home = key & t->mask, victim = SIZE_MAX;
        int64_t oldest = INT64_MAX;
        for (size_t k = 0; k < SH_PROBE; k++) {
            size_t i = (home + k) & t->mask;
            if (t->slots[i].key && t->slots[i].last < oldest) {
                oldest = t->slots[i].last;
                victim = i;
            }
        }
        if (victim == SIZE_MAX) /* cannot happen while max_used < slots - SH_PROBE */
            for (victim = 0; !t->slots[victim].key; victim++)
                ;
        t->n_evicted++;
        if (has_pending(&t->slots[victim]))
            t->n_lost++;
        remove_at(t, victim);
    }
    size_t i = key & t->mask;
    while (t->slots[i].key)
        i = (i + 1) & t->mask;
    e = &t->slots[i];
    memset(e, 0, sizeof *e);
    e->key = key;
    e->last = now;
    e->hour = bucket(now, s->hour_s);
    e->day = bucket(now, s->day_s);
    t->n_used++;
    return e;
}

static void mark_dirty(struct sh_stripe *t, struct sh_entry *e)
{
    if (e->flags & SH_F_QUEUED)
        return;
    e->flags |= SH_F_QUEUED;
    if (t->n_dirty < t->cap_dirty)
        t->dirty[t->n_dirty++] = e->key;
    else
        t->rescan = true;
}

static double cur(const struct sh_ctr *c, int i)
{
    return (double)c->g[i] + c->f[i] + c->p[i];
}

static void view(const struct shared *s, const struct sh_entry *e, int64_t now,
                 struct shared_view *v)
{
    double fh = 1.0 - (double)(now - (int64_t)e->hour * s->hour_s) / s->hour_s;
    double fd = 1.0 - (double)(now - (int64_t)e->day * s->day_s) / s->day_s;
    fh = fh < 0 ? 0 : fh > 1 ? 1 : fh;
    fd = fd < 0 ? 0 : fd > 1 ? 1 : fd;
    v->msgs_hour = cur(&e->c[SH_M], 0) + fh * cur(&e->c[SH_M], 1);
    v->rcpts_hour = cur(&e->c[SH_R], 0) + fh * cur(&e->c[SH_R], 1);
    v->rcpts_day = cur(&e->c[SH_D], 0) + fd * cur(&e->c[SH_D], 1);
    v->synced = (e->flags & SH_F_SYNCED) != 0;
}

static uint64_t fix_key(uint64_t key)
{
    return key ? key : 1;
}

static void see_time(struct shared *s, int64_t now)
{
    int64_t m = atomic_load_explicit(&s->now_max, memory_order_relaxed);
    while (now > m && !atomic_compare_exchange_weak_explicit(&s->now_max, &m, now,
                                                             memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

void shared_add(struct shared *s, uint64_t key, unsigned msgs, unsigned rcpts, int64_t now,
                struct shared_view *v)
{
    key = fix_key(key);
    see_time(s, now);
    struct sh_stripe *t = stripe_of(s, key);
    g_mutex_lock(&t->mu);
    struct sh_entry *e = find_or_add(s, t, key, now);
    roll(s, e, now);
    if (now > e->last)
        e->last = now;
    e->c[SH_M].p[0] = sat_add(e->c[SH_M].p[0], msgs);
    e->c[SH_R].p[0] = sat_add(e->c[SH_R].p[0], rcpts);
    e->c[SH_D].p[0] = sat_add(e->c[SH_D].p[0], rcpts);
    mark_dirty(t, e);
    if (v)
        view(s, e, now, v);
    g_mutex_unlock(&t->mu);
}

bool shared_get(struct shared *s, uint64_t key, int64_t now, struct shared_view *v)
{
    key = fix_key(key);
    struct sh_stripe *t = stripe_of(s, key);
    g_mutex_lock(&t->mu);
    struct sh_entry *e = find(t, key);
    if (e) {
        roll(s, e, now);
        view(s, e, now, v);
    } else {
        memset(v, 0, sizeof *v);
    }
    g_mutex_unlock(&t->mu);
    return e != NULL;
}

void shared_reset(struct shared *s, uint64_t key, int64_t now)
{
    key = fix_key(key);
    struct sh_stripe *t = stripe_of(s, key);
    g_mutex_lock(&t->mu);
    struct sh_entry *e = find_or_add(s, t, key, now);
    roll(s, e, now);
    memset(e->c, 0, sizeof e->c);
    e->gen++;
    e->flags = (uint16_t)((e->flags & ~SH_F_SYNCED) | SH_F_RESET);
    mark_dirty(t, e);
    g_mutex_unlock(&t->mu);
}

void shared_watch(struct shared *s, uint64_t key, int64_t now)
{
    key = fix_key(key);
    struct sh_stripe *t = stripe_of(s, key);
    g_mutex_lock(&t->mu);
    struct sh_entry *e = find_or_add(s, t, key, now);
    e->pull_until = atomic_load_explicit(&s->round_no, memory_order_relaxed) + s->watch_rounds;
    if (!(e->flags & SH_F_PULLQ) && t->n_pull < t->cap_dirty) {
        e->flags |= SH_F_PULLQ;
        t->pull[t->n_pull++] = key;
    }
    g_mutex_unlock(&t->mu);
}

/* ---- rounds (sync thread) ------------------------------------------------- */

static void capture(struct sh_entry *e, struct sh_item *it)
{
    it->key = e->key;
    it->hour = e->hour;
    it->day = e->day;
    it->gen = e->gen;
    it->reset = (e->flags & SH_F_RESET) != 0;
    for (size_t c = 0; c < SH_N; c++)
        for (size_t b = 0; b < 2; b++) {
            struct sh_ctr *x = &e->c[c];
            x->f[b] = sat_add(x->f[b], x->p[b]);
            x->p[b] = 0;
            it->d[c * 2 + b] = x->f[b];
        }
    /* A bucket this server writes for the first time gets its TTL from it. */
    it->expire = 0;
    for (size_t b = 0; b < 2; b++) {
        const struct sh_ctr *m = &e->c[SH_M], *r = &e->c[SH_R], *d = &e->c[SH_D];
        if ((m->f[b] || r->f[b]) && !m->o[b] && !r->o[b])
            it->expire |= (uint8_t)(1u << b);
        if (d->f[b] && !d->o[b])
            it->expire |= (uint8_t)(4u << b);
    }
    e->flags = (uint16_t)((e->flags & ~(SH_F_QUEUED | SH_F_RESET)) | SH_F_INFLIGHT);
}

/* Pushes first: moves up to per_sync keys with deltas into flight, stripe by
 * stripe from a rotating start so that a backlog is worked off fairly. */
static void capture_pushes(struct shared *s)
{
    for (unsigned k = 0; k < SH_STRIPES; k++) {
        struct sh_stripe *t = &s->st[(s->start_stripe + k) % SH_STRIPES];
        g_mutex_lock(&t->mu);
        if (t->rescan) {
            /* The list is rebuilt from the flags. */
            t->n_dirty = 0;
            bool done = true;
            for (size_t i = 0; i <= t->mask; i++) {
                struct sh_entry *e = &t->slots[i];
                if (!e->key || !(e->flags & SH_F_QUEUED))
                    continue;
                if (s->n_items == s->per_sync) {
                    done = false;
                    break;
                }
                capture(e, &s->items[s->n_items++]);
            }
            t->rescan = !done;
            s->leftover |= !done;
        } else {
            size_t i = 0;
            for (; i < t->n_dirty && s->n_items < s->per_sync; i++) {
                struct sh_entry *e = find(t, t->dirty[i]);
                if (e && (e->flags & SH_F_QUEUED) && !(e->flags & SH_F_INFLIGHT))
                    capture(e, &s->items[s->n_items++]);
            }
            memmove(t->dirty, t->dirty + i, (t->n_dirty - i) * sizeof *t->dirty);
            t->n_dirty -= i;
            s->leftover |= t->n_dirty > 0;
        }
        g_mutex_unlock(&t->mu);
    }
}

/* Then pulls, with what is left of the budget: the watched keys not pushed in
 * this round, so that a server that serves a sender near its limit now and
 * then has a fresh view when the next request comes. */
static void capture_pulls(struct shared *s)
{
    uint32_t round = atomic_load_explicit(&s->round_no, memory_order_relaxed);
    for (unsigned k = 0; k < SH_STRIPES; k++) {
        struct sh_stripe *t = &s->st[(s->start_stripe + k) % SH_STRIPES];
        g_mutex_lock(&t->mu);
        size_t w = 0;
        for (size_t i = 0; i < t->n_pull; i++) {
            struct sh_entry *e = find(t, t->pull[i]);
            if (!e || !(e->flags & SH_F_PULLQ))
                continue;
            if ((int32_t)(e->pull_until - round) <= 0) {
                e->flags &= (uint16_t)~SH_F_PULLQ;
                continue;
            }
            if (!(e->flags & SH_F_INFLIGHT) && s->n_items < s->per_sync)
                capture(e, &s->items[s->n_items++]);
            t->pull[w++] = e->key;
        }
        t->n_pull = w;
        g_mutex_unlock(&t->mu);
    }
}

static void capture_all(struct shared *s)
{
    s->n_items = 0;
    s->leftover = false;
    atomic_fetch_add_explicit(&s->round_no, 1, memory_order_relaxed);
    capture_pushes(s);
    capture_pulls(s);
    s->start_stripe = (s->start_stripe + 1) % SH_STRIPES;
}

/* Stores a reply's totals (vals: m0 m1 r0 r1 d0 d1, or NULL when the push
 * failed and the deltas go back to pending). */
static void apply(struct shared *s, const struct sh_item *it, const uint64_t *vals)
{
    struct sh_stripe *t = stripe_of(s, it->key);
    g_mutex_lock(&t->mu);
    struct sh_entry *e = find(t, it->key);
    if (!e) /* evicted meanwhile */
        goto out;
    e->flags &= (uint16_t)~SH_F_INFLIGHT;
    bool same = e->gen == it->gen;
    if (!vals) {
        for (size_t c = 0; c < SH_N; c++)
            for (size_t b = 0; b < 2; b++) {
                e->c[c].p[b] = sat_add(e->c[c].p[b], e->c[c].f[b]);
                e->c[c].f[b] = 0;
            }
        if (it->reset && same)
            e->flags |= SH_F_RESET;
        mark_dirty(t, e);
        goto out;
    }
    if (!same) /* reset since the capture: the totals are of the old life */
        goto out;
    /* The entry may have rolled since the capture: reply bucket b lands in
     * slot b + shift (dropped when that is beyond the previous bucket). */
    uint32_t sh[SH_N] = { e->hour - it->hour, e->hour - it->hour, e->day - it->day };
    for (size_t c = 0; c < SH_N; c++)
        for (size_t b = 0; b < 2; b++) {
            struct sh_ctr *x = &e->c[c];
            x->o[b] = sat_add(x->o[b], x->f[b]);
            x->f[b] = 0;
            if (b + sh[c] < 2)
                x->g[b + sh[c]] = vals[c * 2 + b] > UINT32_MAX ? UINT32_MAX
                                                                : (uint32_t)vals[c * 2 + b];
        }
    e->flags |= SH_F_SYNCED;
out:
    g_mutex_unlock(&t->mu);
}

/* Redis came back without our marker: push our own counts again. The global
 * totals known here keep the other servers' part (g - o), so views do not
 * change. */
static void reseed(struct shared *s)
{
    for (size_t k = 0; k < SH_STRIPES; k++) {
        struct sh_stripe *t = &s->st[k];
        g_mutex_lock(&t->mu);
        for (size_t i = 0; i <= t->mask; i++) {
            struct sh_entry *e = &t->slots[i];
            if (!e->key)
                continue;
            for (size_t c = 0; c < SH_N; c++)
                for (size_t b = 0; b < 2; b++) {
                    struct sh_ctr *x = &e->c[c];
                    x->g[b] = x->g[b] > x->o[b] ? x->g[b] - x->o[b] : 0;
                    x->p[b] = sat_add(x->p[b], x->o[b]);
                    x->o[b] = 0;
                }
            e->flags |= SH_F_QUEUED;
        }
        t->rescan = true;
        g_mutex_unlock(&t->mu);
    }
}

/* Drops keys idle for two day buckets that have nothing left to push. */
static void sweep(struct shared *s)
{
    int64_t now = atomic_load_explicit(&s->now_max, memory_order_relaxed);
    int64_t idle = 2 * (int64_t)s->day_s;
    for (size_t k = 0; k < SH_STRIPES; k++) {
        struct sh_stripe *t = &s->st[k];
        g_mutex_lock(&t->mu);
        for (size_t n = 0; n < SH_SWEEP && n <= t->mask && t->n_used;) {
            struct sh_entry *e = &t->slots[t->sweep_pos];
            if (e->key && now - e->last > idle
                && !(e->flags & (SH_F_QUEUED | SH_F_INFLIGHT | SH_F_RESET))) {
                remove_at(t, t->sweep_pos); /* a shifted entry is now here: look again */
                continue;
            }
            t->sweep_pos = (t->sweep_pos + 1) & t->mask;
            n++;
        }
        g_mutex_unlock(&t->mu);
    }
}

static void disconnect(struct shared *s)
{
    if (s->rc)
        redisFree(s->rc);
    s->rc = NULL;
}

/* A connect or a round failed: log the first failure only, back off. */
static void failed(struct shared *s, const char *what)
{
    int64_t now = g_get_monotonic_time();
    disconnect(s);
    if (!s->logged_down) {
        log_msg(s->log, LOG_LEVEL_WARNING,
                "shared counters: redis %s: %s; counting locally, reconnecting in the "
                "background", s->addr, what);
        s->logged_down = true;
        s->down_since_us = now;
    }
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : SH_RETRY_MIN_MS;
    if (s->backoff_ms > s->retry_max_ms)
        s->backoff_ms = s->retry_max_ms;
    s->next_try_us = now + (int64_t)s->backoff_ms * 1000;
    g_mutex_lock(&s->ctl);
    s->stats.n_failures++;
    s->stats.up = false;
    g_mutex_unlock(&s->ctl);
}

static struct timeval tv_ms(unsigned ms)
{
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
    return tv;
}

/* One command of the handshake; NULL (and *why set) on failure. The caller
 * frees the reply with freeReplyObject(). */
static redisReply *cmd(struct shared *s, const char **why, int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(s->rc, argc, argv, NULL);
    if (!r) {
        *why = s->rc->errstr[0] ? s->rc->errstr : "no reply";
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        g_strlcpy(s->rc->errstr, r->str, sizeof s->rc->errstr);
        *why = s->rc->errstr;
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* Connects (AUTH and the database number when configured) and reads the epoch marker, setting
 * it when absent; a marker other than the one seen before means Redis lost
 * its data: then our own counts are pushed again (reseed). */
static int connect_redis(struct shared *s, bool *reseeded)
{
    const char *why = "cannot connect";
    struct timeval tv = tv_ms(s->timeout_ms);
    *reseeded = false;
    s->rc = s->unix_path ? redisConnectUnixWithTimeout(s->unix_path, tv)
                         : redisConnectWithTimeout(s->host, s->port, tv);
    if (!s->rc || s->rc->err) {
        char buf[160];
        g_strlcpy(buf, s->rc ? s->rc->errstr : "out of memory", sizeof buf);
        failed(s, buf);
        return -1;
    }
    if (redisSetTimeout(s->rc, tv) != REDIS_OK) {
        failed(s, "cannot set the timeout");
        return -1;
    }
    if (!s->unix_path)
        redisEnableKeepAlive(s->rc);
    redisReply *r = NULL;
    if (s->password) {
        const char *auth[] = { "AUTH", s->user ? s->user : s->password, s->password };
        if (!(r = cmd(s, &why, s->user ? 3 : 2, auth)))
            goto fail;
        freeReplyObject(r);
    }
    if (s->db) {
        char db[16];
        g_snprintf(db, sizeof db, "%u", s->db);
        /* Redis's own SELECT command ([policy] redis_db, the logical database
         * number), sent over hiredis: not SQL; the store is not involved. */
        const char *sel[] = { "SELECT", db };
        if (!(r = cmd(s, &why, 2, sel)))
            goto fail;
        freeReplyObject(r);
    }
    char mark[SH_ARG_MAX], val[64];
    g_snprintf(mark, sizeof mark, "%sepoch", s->prefix);
    g_snprintf(val, sizeof val, "%llx-%lx-%x", (unsigned long long)g_get_real_time(),
               (long)getpid(), g_random_int());
    const char *set[] = { "SET", mark, val, "NX" };
    const char *get[] = { "GET", mark };
    if (!(r = cmd(s, &why, 4, set)))
        goto fail;
    freeReplyObject(r);
    if (!(r = cmd(s, &why, 2, get)))
        goto fail;
    if (r->type != REDIS_REPLY_STRING || (size_t)r->len >= sizeof s->epoch) {
        why = "unexpected reply to GET of the marker";
        goto fail;
    }
    if (s->have_epoch && strcmp(s->epoch, r->str) != 0) {
        log_msg(s->log, LOG_LEVEL_WARNING, "shared counters: redis %s lost its data: pushing "
                "this server's counts again", s->addr);
        reseed(s);
        *reseeded = true;
    }
    g_strlcpy(s->epoch, r->str, sizeof s->epoch);
    s->have_epoch = true;
    freeReplyObject(r);
    return 0;
fail:
    if (r)
        freeReplyObject(r);
    char buf[160];
    g_strlcpy(buf, why, sizeof buf);
    failed(s, buf);
    return -1;
}

/* ---- the protocol, written by hand: printf and one allocation per command
 * cost more than Redis itself (measured) ---- */

static size_t utoa(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static size_t digits(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Appends n bytes; when memory runs out, b->oom is set (nothing of it is sent). */
static void buf_add(struct sh_buf *b, const char *a, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, a, n);
    b->len += n;
}

/* "<c><number>\r\n" */
static void buf_head(struct sh_buf *b, char c, uint64_t v)
{
    char t[32];
    t[0] = c;
    size_t n = 1 + utoa(t + 1, v);
    t[n++] = '\r';
    t[n++] = '\n';
    buf_add(b, t, n);
}

static void resp_cmd(struct sh_buf *b, unsigned argc)
{
    buf_head(b, '*', argc);
}

static void resp_arg(struct sh_buf *b, const char *a, size_t n)
{
    buf_head(b, '$', n);
    buf_add(b, a, n);
    buf_add(b, "\r\n", 2);
}

static void resp_num(struct sh_buf *b, uint64_t v)
{
    char num[24];
    resp_arg(b, num, utoa(num, v));
}

/* PREFIX<16 hex digits>:<kind>:<bucket> into out (SH_ARG_MAX); its length. */
static size_t bucket_name(const struct shared *s, char *out, uint64_t key, char kind,
                          uint32_t b)
{
    size_t n = s->prefix_len;
    memcpy(out, s->prefix, n);
    for (int i = 15; i >= 0; i--)
        out[n++] = "0123456789abcdef"[(key >> (4 * i)) & 15];
    out[n++] = ':';
    out[n++] = kind;
    out[n++] = ':';
    return n + utoa(out + n, b);
}

/* Writes an item's commands: DEL (reset), INCRBY (+ EXPIRE) per bucket with a
 * delta, MGET of its four buckets. Returns how many replies to expect. */
static size_t append_item(struct shared *s, struct sh_buf *buf, const struct sh_item *it)
{
    char names[4][SH_ARG_MAX];
    size_t len[4] = {
        bucket_name(s, names[0], it->key, 'h', it->hour),
        bucket_name(s, names[1], it->key, 'h', it->hour - 1),
        bucket_name(s, names[2], it->key, 'd', it->day),
        bucket_name(s, names[3], it->key, 'd', it->day - 1),
    };
    size_t n = 0;
    if (it->reset) {
        resp_cmd(buf, 5);
        resp_arg(buf, "DEL", 3);
        for (size_t b = 0; b < 4; b++)
            resp_arg(buf, names[b], len[b]);
        n++;
    }
    for (size_t b = 0; b < 4; b++) {
        uint64_t v;
        if (b < 2) /* messages in the upper 32 bits (at most 2^31 - 1: no sign) */
            v = (uint64_t)(it->d[b] > INT32_MAX ? INT32_MAX : it->d[b]) << 32 | it->d[2 + b];
        else
            v = it->d[4 + b - 2];
        if (!v)
            continue;
        resp_cmd(buf, 3);
        resp_arg(buf, "INCRBY", 6);
        resp_arg(buf, names[b], len[b]);
        resp_num(buf, v);
        n++;
        if (it->expire & (1u << b)) {
            resp_cmd(buf, 3);
            resp_arg(buf, "EXPIRE", 6);
            resp_arg(buf, names[b], len[b]);
            resp_num(buf, b < 2 ? 2 * s->hour_s + s->hour_s / 4 : 2 * s->day_s + s->day_s / 4);
            n++;
        }
    }
    resp_cmd(buf, 5);
    resp_arg(buf, "MGET", 4);
    for (size_t b = 0; b < 4; b++)
        resp_arg(buf, names[b], len[b]);
    return n + 1;
}

static uint64_t reply_bytes(const redisReply *r)
{
    if (r->type == REDIS_REPLY_ARRAY) {
        uint64_t n = 3 + digits(r->elements);
        for (size_t i = 0; i < r->elements; i++)
            n += reply_bytes(r->element[i]);
        return n;
    }
    if (r->type == REDIS_REPLY_INTEGER)
        return 3 + digits(r->integer < 0 ? (uint64_t)-r->integer : (uint64_t)r->integer);
    if (r->type == REDIS_REPLY_NIL)
        return 5;
    return 5 + digits((uint64_t)r->len) + (uint64_t)r->len;
}

/* Reads one reply; false (with why set) on I/O errors and error replies. The
 * reply is returned in *out when out is not NULL, else freed. */
static bool read_reply(struct shared *s, redisReply **out, uint64_t *in, char *why, size_t n)
{
    redisReply *r = NULL;
    if (redisGetReply(s->rc, (void **)&r) != REDIS_OK || !r) {
        g_strlcpy(why, s->rc->errstr[0] ? s->rc->errstr : "no reply", n);
        return false;
    }
    *in += reply_bytes(r);
    if (r->type == REDIS_REPLY_ERROR) {
        g_snprintf(why, n, "error reply: %s", r->str);
        freeReplyObject(r);
        return false;
    }
    if (out)
        *out = r;
    else
        freeReplyObject(r);
    return true;
}

/* The totals of an MGET reply of h0 h1 d0 d1, as m0 m1 r0 r1 d0 d1. */
static bool decode(const redisReply *r, uint64_t vals[6])
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4)
        return false;
    uint64_t v[4];
    for (size_t i = 0; i < 4; i++) {
        const redisReply *e = r->element[i];
        long long x = e->type == REDIS_REPLY_STRING ? strtoll(e->str, NULL, 10) : 0;
        v[i] = x > 0 ? (uint64_t)x : 0;
    }
    vals[0] = v[0] >> 32;
    vals[1] = v[1] >> 32;
    vals[2] = v[0] & UINT32_MAX;
    vals[3] = v[1] & UINT32_MAX;
    vals[4] = v[2];
    vals[5] = v[3];
    return true;
}

/* Pushes the captured items and applies the totals, SH_CHUNK keys per
 * pipeline write; on a failure the items not applied go back to pending.
 * Returns false on a failure. *lost: the marker differs (Redis lost its data). */
/* Writes the commands of chunk c (items c * SH_CHUNK on) into the connection's
 * output; chunk 0 starts with the GET of the marker. False when out of memory
 * (nothing written). */
static bool write_chunk(struct shared *s, size_t c, uint64_t *out, uint64_t *n_cmds)
{
    size_t from = c * SH_CHUNK, to = from + SH_CHUNK < s->n_items ? from + SH_CHUNK : s->n_items;
    struct sh_buf *buf = &s->buf;
    buf->len = 0;
    buf->oom = false;
    if (c == 0) {
        char mark[SH_ARG_MAX];
        int n = g_snprintf(mark, sizeof mark, "%sepoch", s->prefix);
        resp_cmd(buf, 2);
        resp_arg(buf, "GET", 3);
        resp_arg(buf, mark, (size_t)n);
        (*n_cmds)++;
    }
    for (size_t i = from; i < to; i++) {
        size_t w = append_item(s, buf, &s->items[i]);
        s->want[c & 1][i - from] = w;
        *n_cmds += w;
    }
    if (buf->oom || redisAppendFormattedCommand(s->rc, buf->p, buf->len) != REDIS_OK)
        return false;
    *out += buf->len;
    return true;
}

/* Reads the replies of chunk c and applies the totals. False (why set) on a
 * failure; *applied: the items done so far. */
static bool read_chunk(struct shared *s, size_t c, size_t *applied, bool *lost, uint64_t *in,
                       char *why, size_t why_n)
{
    size_t from = c * SH_CHUNK, to = from + SH_CHUNK < s->n_items ? from + SH_CHUNK : s->n_items;
    if (c == 0) {
        redisReply *r = NULL;
        if (!read_reply(s, &r, in, why, why_n))
            return false;
        *lost = r->type != REDIS_REPLY_STRING || strcmp(r->str, s->epoch) != 0;
        freeReplyObject(r);
    }
    for (size_t i = from; i < to; i++) {
        for (size_t k = 0; k + 1 < s->want[c & 1][i - from]; k++)
            if (!read_reply(s, NULL, in, why, why_n))
                return false;
        redisReply *r = NULL;
        if (!read_reply(s, &r, in, why, why_n))
            return false;
        uint64_t vals[6];
        bool ok = decode(r, vals);
        freeReplyObject(r);
        if (!ok) {
            g_strlcpy(why, "unexpected reply to MGET", why_n);
            return false;
        }
        apply(s, &s->items[i], vals);
        *applied = i + 1;
    }
    return true;
}

/* Pushes the captured items and applies the totals, SH_CHUNK keys per write,
 * one chunk ahead (Redis works on chunk c + 1 while we read chunk c); on a
 * failure the items not applied go back to pending. Returns false on a
 * failure. *lost: the marker differs (Redis lost its data). */
static bool push(struct shared *s, bool *lost)
{
    size_t applied = 0, n_chunks = (s->n_items + SH_CHUNK - 1) / SH_CHUNK;
    uint64_t out = 0, in = 0, n_cmds = 0;
    char why[200] = "";
    *lost = false;
    bool ok = n_chunks == 0 || write_chunk(s, 0, &out, &n_cmds);
    for (size_t c = 0; ok && c < n_chunks; c++) {
        if (c + 1 < n_chunks && !write_chunk(s, c + 1, &out, &n_cmds))
            ok = false; /* chunk c was sent: read its replies, then stop */
        if (!read_chunk(s, c, &applied, lost, &in, why, sizeof why))
            break;
    }
    if (!ok && !*why)
        g_strlcpy(why, "out of memory", sizeof why);
    for (size_t i = applied; i < s->n_items; i++)
        apply(s, &s->items[i], NULL);
    g_mutex_lock(&s->ctl);
    s->stats.n_commands += n_cmds;
    s->stats.n_key_syncs += applied;
    s->stats.bytes_out += out;
    s->stats.bytes_in += in;
    g_mutex_unlock(&s->ctl);
    if (*why) {
        failed(s, why); /* replies still queued belong to a connection we drop */
        return false;
    }
    if (*lost) {
        /* Our pushes of this round landed in an emptied Redis; reconnecting
         * reads the new marker and pushes our counts again (this round's
         * deltas then count twice: rare, and on the safe side). */
        disconnect(s);
        s->next_try_us = 0;
        return false;
    }
    return true;
}

/* One round. True when it reached Redis and pushed everything queued. */
static bool round_run(struct shared *s)
{
    if (!s->rc) {
        if (g_get_monotonic_time() < s->next_try_us)
            return false;
        bool reseeded;
        if (connect_redis(s, &reseeded) != 0)
            return false;
        g_mutex_lock(&s->ctl);
        s->stats.n_connects++;
        s->stats.n_reseeds += reseeded;
        s->stats.up = true;
        g_mutex_unlock(&s->ctl);
        if (s->logged_down) {
            size_t n = 0;
            for (size_t k = 0; k < SH_STRIPES; k++) {
                g_mutex_lock(&s->st[k].mu);
                n += s->st[k].rescan ? s->st[k].n_used : s->st[k].n_dirty;
                g_mutex_unlock(&s->st[k].mu);
            }
            log_msg(s->log, LOG_LEVEL_INFO,
                    "shared counters: redis %s reachable again after %.1f s; keys with "
                    "deltas to push: %zu", s->addr,
                    (double)(g_get_monotonic_time() - s->down_since_us) / 1e6, n);
            s->logged_down = false;
        }
        s->backoff_ms = 0;
    }
    int64_t t0 = g_get_monotonic_time();
    capture_all(s);
    bool clean = true;
    if (s->n_items) {
        bool lost;
        clean = push(s, &lost);
        uint64_t us = (uint64_t)(g_get_monotonic_time() - t0);
        g_mutex_lock(&s->ctl);
        s->stats.n_rounds++;
        s->stats.last_round_us = us;
        s->stats.sum_round_us += us;
        if (us > s->stats.max_round_us)
            s->stats.max_round_us = us;
        g_mutex_unlock(&s->ctl);
    }
    clean = clean && !s->leftover;
    sweep(s);
    return clean && s->rc;
}

static gpointer sync_main(gpointer arg)
{
    struct shared *s = arg;
    int64_t next = g_get_monotonic_time();
    g_mutex_lock(&s->ctl);
    for (;;) {
        next += (int64_t)s->sync_ms * 1000;
        while (!s->stop && s->flush_req == s->flush_done && g_get_monotonic_time() < next)
            g_cond_wait_until(&s->cond, &s->ctl, next);
        if (s->stop)
            break;
        uint64_t req = s->flush_req;
        g_mutex_unlock(&s->ctl);
        bool clean = round_run(s);
        g_mutex_lock(&s->ctl);
        s->last_clean = clean;
        s->flush_done = req;
        g_cond_broadcast(&s->cond);
        int64_t now = g_get_monotonic_time();
        if (next < now - (int64_t)s->sync_ms * 1000)
            next = now; /* a long stall: no burst of rounds to catch up */
    }
    g_mutex_unlock(&s->ctl);
    disconnect(s);
    return NULL;
}

/* ---- life cycle ----------------------------------------------------------- */

static int parse_addr(struct shared *s, const char *a, struct ad_err *err)
{
    if (!a || !*a)
        return ad_err_set(err, AD_ERR_CONFIG, "shared counters: no redis address");
    s->addr = g_strdup(a);
    if (g_str_has_prefix(a, "unix:") || a[0] == '/') {
        const char *path = a[0] == '/' ? a : a + 5;
        if (path[0] != '/')
            return ad_err_set(err, AD_ERR_CONFIG, "redis %s: a UNIX socket needs an absolute "
                              "path", a);
        s->unix_path = g_strdup(path);
        return 0;
    }
    const char *colon;
    if (a[0] == '[') {
        const char *end = strchr(a, ']');
        if (!end || end == a + 1 || (end[1] && end[1] != ':'))
            return ad_err_set(err, AD_ERR_CONFIG, "redis %s: want [ADDRESS]:PORT", a);
        s->host = g_strndup(a + 1, (size_t)(end - a - 1));
        colon = end[1] ? end + 1 : NULL;
    } else {
        colon = strrchr(a, ':');
        if (colon && strchr(a, ':') != colon)
            return ad_err_set(err, AD_ERR_CONFIG, "redis %s: write an IPv6 address as "
                              "[ADDRESS]:PORT", a);
        s->host = colon ? g_strndup(a, (size_t)(colon - a)) : g_strdup(a);
    }
    if (!*s->host)
        return ad_err_set(err, AD_ERR_CONFIG, "redis %s: no host", a);
    s->port = 6379;
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || p < 1 || p > 65535)
            return ad_err_set(err, AD_ERR_CONFIG, "redis %s: bad port", a);
        s->port = (int)p;
    }
    return 0;
}

int shared_new(const struct shared_opts *o, const struct logger *log, struct shared **out,
               struct ad_err *err)
{
    *out = NULL;
    struct shared *s = calloc(1, sizeof *s);
    if (!s)
        return ad_err_set(err, AD_ERR_NOMEM, "shared counters: out of memory");
    int rc = 0;
    g_mutex_init(&s->ctl);
    g_cond_init(&s->cond);
    for (size_t k = 0; k < SH_STRIPES; k++)
        g_mutex_init(&s->st[k].mu);
    if (log) {
        s->log_copy = *log;
        s->log = &s->log_copy;
    }
    s->sync_ms = o->sync_ms ? o->sync_ms : 200;
    s->timeout_ms = o->timeout_ms ? o->timeout_ms : 200;
    s->retry_max_ms = o->retry_max_ms ? o->retry_max_ms : 5000;
    if (s->retry_max_ms < SH_RETRY_MIN_MS)
        s->retry_max_ms = SH_RETRY_MIN_MS;
    s->max_keys = o->max_keys ? o->max_keys : 131072;
    s->per_sync = o->max_keys_per_sync ? o->max_keys_per_sync : 8192;
    unsigned watch_ms = o->watch_ms ? o->watch_ms : 60000;
    s->hour_s = o->hour_s ? o->hour_s : 3600;
    s->day_s = o->day_s ? o->day_s : 86400;
    s->db = o->db;
    s->prefix = g_strdup(o->prefix ? o->prefix : "ad:c:");
    s->prefix_len = strlen(s->prefix);
    s->user = o->user && *o->user ? g_strdup(o->user) : NULL;
    s->password = o->password && *o->password ? g_strdup(o->password) : NULL;
    if ((rc = parse_addr(s, o->redis, err)))
        goto out;
    if (strlen(s->prefix) > 64 || strpbrk(s->prefix, " \t\r\n")) {
        rc = ad_err_set(err, AD_ERR_CONFIG, "shared counters: the key prefix must be at most "
                        "64 characters without spaces");
        goto out;
    }
    if (s->user && !s->password) {
        rc = ad_err_set(err, AD_ERR_CONFIG, "shared counters: a redis user needs a password");
        goto out;
    }
    if (s->max_keys > ((size_t)1 << 32) || s->per_sync > ((size_t)1 << 24)
        || s->sync_ms > 60000 || s->timeout_ms > 60000 || s->day_s < s->hour_s
        || watch_ms > 86400000) {
        rc = ad_err_set(err, AD_ERR_CONFIG, "shared counters: option out of range");
        goto out;
    }
    s->watch_rounds = (watch_ms + s->sync_ms - 1) / s->sync_ms;
    /* Per stripe: room for max_keys / SH_STRIPES keys at a load of at most 3/4,
     * and at least SH_PROBE free slots so that eviction always finds a victim. */
    size_t per = (s->max_keys + SH_STRIPES - 1) / SH_STRIPES, cap = 64;
    while ((double)cap * 0.75 < (double)per || cap < per + SH_PROBE)
        cap <<= 1;
    for (size_t k = 0; k < SH_STRIPES; k++) {
        struct sh_stripe *t = &s->st[k];
        t->slots = calloc(cap, sizeof *t->slots);
        t->dirty = calloc(cap, sizeof *t->dirty);
        t->pull = calloc(cap, sizeof *t->pull);
        if (!t->slots || !t->dirty || !t->pull) {
            rc = ad_err_set(err, AD_ERR_NOMEM, "shared counters: cannot allocate %zu keys",
                            s->max_keys);
            goto out;
        }
        t->mask = cap - 1;
        t->max_used = per;
        t->cap_dirty = cap;
    }
    s->items = calloc(s->per_sync, sizeof *s->items);
    if (!s->items) {
        rc = ad_err_set(err, AD_ERR_NOMEM, "shared counters: out of memory");
        goto out;
    }
    s->stats.max_keys = per * SH_STRIPES;
    s->stats.mem_bytes = SH_STRIPES * cap * (sizeof(struct sh_entry) + 2 * sizeof(uint64_t))
                         + s->per_sync * sizeof(struct sh_item);
    s->thread = g_thread_try_new("shared-sync", sync_main, s, NULL);
    if (!s->thread)
        rc = ad_err_set(err, AD_ERR_NOMEM, "shared counters: cannot start the sync thread");
out:
    if (rc) {
        shared_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int shared_flush(struct shared *s, unsigned timeout_ms)
{
    int64_t deadline = g_get_monotonic_time() + (int64_t)timeout_ms * 1000;
    g_mutex_lock(&s->ctl);
    bool clean = false;
    while (!clean && !s->stop && s->thread) {
        uint64_t my = ++s->flush_req;
        g_cond_broadcast(&s->cond);
        while (s->flush_done < my && !s->stop)
            if (!g_cond_wait_until(&s->cond, &s->ctl, deadline))
                break;
        if (s->flush_done < my)
            break;
        clean = s->last_clean;
        if (!s->stats.up || g_get_monotonic_time() >= deadline)
            break;
    }
    g_mutex_unlock(&s->ctl);
    return clean ? 0 : AD_ERR_BUSY;
}

void shared_stats(struct shared *s, struct shared_stats *st)
{
    g_mutex_lock(&s->ctl);
    *st = s->stats;
    g_mutex_unlock(&s->ctl);
    st->n_keys = 0;
    st->n_evicted = st->n_lost = 0;
    for (size_t k = 0; k < SH_STRIPES; k++) {
        g_mutex_lock(&s->st[k].mu);
        st->n_keys += s->st[k].n_used;
        st->n_evicted += s->st[k].n_evicted;
        st->n_lost += s->st[k].n_lost;
        g_mutex_unlock(&s->st[k].mu);
    }
}

struct shared *shared_free(struct shared *s)
{
    if (!s)
        return NULL;
    if (s->thread) {
        bool up;
        g_mutex_lock(&s->ctl);
        up = s->stats.up;
        g_mutex_unlock(&s->ctl);
        if (up && shared_flush(s, 5 * s->timeout_ms) != 0)
            log_msg(s->log, LOG_LEVEL_WARNING, "shared counters: stopping with deltas not "
                    "pushed to redis %s", s->addr);
        g_mutex_lock(&s->ctl);
        s->stop = true;
        g_cond_broadcast(&s->cond);
        g_mutex_unlock(&s->ctl);
        g_thread_join(s->thread);
    }
    disconnect(s);
    for (size_t k = 0; k < SH_STRIPES; k++) {
        free(s->st[k].slots);
        free(s->st[k].dirty);
        free(s->st[k].pull);
        g_mutex_clear(&s->st[k].mu);
    }
    free(s->items);
    free(s->buf.p);
    g_free(s->host);
    g_free(s->unix_path);
    g_free(s->prefix);
    g_free(s->addr);
    g_free(s->user);
    if (s->password) {
        memset(s->password, 0, strlen(s->password));
        g_free(s->password);
    }
    g_mutex_clear(&s->ctl);
    g_cond_clear(&s->cond);
    free(s);
    return NULL;
}

/*
 * shared.h: rate counters shared by several policy servers through one Redis,
 * so that N MTAs running `abusedesk serve` enforce ONE limit per account
 * together ([policy] counters = redis). It counts what ratelimit.h counts for
 * the limits (messages and recipients per sliding hour, recipients per sliding
 * day), in the same buckets (UTC hours and days, the previous bucket weighted by
 * how much of it still lies inside the window), so the same limits mean the
 * same thing with and without Redis.
 *
 * No request waits for Redis. shared_add() and shared_get() work on local memory
 * only (a short per-stripe mutex, no I/O, no allocation). A background thread
 * every sync interval T pushes the deltas counted here since the last round
 * (per key and bucket, pipelined INCRBY) and reads back, in the same pipeline,
 * the global totals of the keys it pushed and of the keys watched here
 * (shared_watch(): senders near a limit). The view used for a decision is
 *
 *     last global total pulled + deltas counted here and not yet in it.
 *
 * Consistency bound. Let D be the time from a request counted on server A to
 * the moment server B's view includes it: A pushes at its next round (at most T
 * later) and B pulls at its next round after that (at most T more) plus one
 * round trip: D <= 2T + RTT in the worst case, about T + RTT on average (the
 * servers' rounds have independent phases). A limit L then holds across N
 * servers to within
 *
 *     overshoot <= sum over the other servers j of r_j * D
 *               =  (N - 1) * r * (2T + RTT)      (each server seeing rate r)
 *
 * messages beyond what one server alone would allow (about (N-1) * r * (T+RTT)
 * typically), plus what the windows' own granularity allows (the previous
 * bucket is weighted linearly, as in ratelimit.c). A limit reached on one server
 * is seen by the others within D: by every server that counted the key in the
 * last sync interval or watches it; a server that had neither decides its
 * first request(s) on the older total it has (or none) and is corrected within
 * D, which adds at most its own rate * D (so N * r * D in all, for a server
 * that joins a run late without watching). Views only ever miss counts (never
 * invent them), except that a push whose reply was lost may be retried and
 * then counted twice.
 *
 * Failure: Redis unreachable or slow (connect and command timeouts, default
 * 200 ms) -> the thread logs once, every view keeps the last global totals plus
 * the local counts (fail open: nothing blocks), and it reconnects by itself with
 * exponential backoff (100 ms up to retry_max_ms). Deltas counted meanwhile are
 * kept (per key, for the current and previous bucket only: older ones cannot
 * matter) and pushed when Redis is back, at most max_keys_per_sync keys per
 * round. A Redis that came back empty (no persistence, FLUSHALL) is detected by
 * a marker key; every server then pushes again its own contributions to the
 * buckets still in the windows, so totals converge to what they were.
 *
 * Memory: at most max_keys keys are tracked (128 bytes each plus hash-table
 * slack; shared_stats() says how much); when full, the least recently seen key
 * near the new one is evicted (its unpushed deltas, if any, are lost and
 * counted in n_lost); keys idle for two days are dropped. In Redis, per key two
 * integers per bucket: PREFIX<hex key>:h:<hour number> = messages * 2^32 +
 * recipients, PREFIX<hex key>:d:<day number> = recipients, each with a TTL of
 * 2.25 bucket lengths; and PREFIXepoch, the marker.
 *
 * Thread safety: shared_add/get/watch/reset may be called from any thread; one
 * struct shared is meant for one event loop plus its sync thread.
 */
#ifndef AD_SHARED_H
#define AD_SHARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/log.h"

struct shared;

struct shared_opts {
    const char *redis;          /* "HOST:PORT", "[V6ADDR]:PORT", "HOST" (port 6379),
                                 * "unix:/PATH" or "/PATH"; copied */
    const char *prefix;         /* Redis key prefix; NULL: "ad:c:"; copied */
    unsigned sync_ms;           /* T, the sync interval; 0: 200 */
    unsigned timeout_ms;        /* connect and per-command timeout; 0: 200 */
    unsigned retry_max_ms;      /* reconnect backoff ceiling; 0: 5000 */
    size_t max_keys;            /* keys tracked at most; 0: 131072 */
    size_t max_keys_per_sync;   /* keys pushed and pulled per round at most; 0: 8192 */
    unsigned watch_ms;          /* shared_watch() pulls a key for this long; 0: 60000 */
    const char *user, *password;    /* AUTH [user] password when password is set; copied */
    unsigned db;                /* SELECT db when not 0 */
    unsigned hour_s, day_s;     /* bucket lengths; 0: 3600, 86400. Tests only:
                                 * every server must use the same. */
};

/* What the servers together counted for one key, as known here now. */
struct shared_view {
    double msgs_hour, rcpts_hour, rcpts_day;    /* same estimates as rl_view() */
    bool synced;        /* at least one global total was pulled for the key
                         * (false: only this server's counts) */
};

struct shared_stats {
    bool up;                    /* the last round reached Redis */
    size_t n_keys, max_keys;    /* tracked keys */
    size_t mem_bytes;           /* local memory of the tables */
    uint64_t n_rounds;          /* rounds with keys to push or pull */
    uint64_t n_commands;        /* Redis commands sent by rounds */
    uint64_t n_key_syncs;       /* keys pushed (or only pulled), summed over rounds */
    uint64_t bytes_out, bytes_in;   /* protocol bytes of the rounds */
    uint64_t n_failures;        /* failed connects and rounds */
    uint64_t n_connects;        /* successful connects (1 + reconnects) */
    uint64_t n_reseeds;         /* Redis found empty: own counts pushed again */
    uint64_t n_evicted, n_lost; /* keys evicted when full; of them with unpushed deltas */
    uint64_t last_round_us, max_round_us, sum_round_us; /* push + pull time of rounds */
};

/* Starts the sync thread; it connects in the background, so an unreachable
 * Redis is not an error here (it is logged once by the thread). *log is
 * copied (its ident is borrowed and must outlive s; NULL: no logging): a later
 * change of the caller's log level does not reach the thread. On success *out
 * is the instance (caller frees with shared_free()). Errors: AD_ERR_CONFIG for
 * a malformed address or option, AD_ERR_NOMEM. */
int shared_new(const struct shared_opts *o, const struct logger *log, struct shared **out,
               struct ad_err *err);

/* Counts msgs messages and rcpts recipients for key (rl_key() of the sender:
 * its kind is in the hash) at time now (Unix seconds, the caller's clock), and,
 * when v is not NULL, fills the view including them. Never fails and never
 * waits on I/O; a new key may evict another (see above). msgs = 0 and rcpts = 0
 * only mark the key for a pull in the next round. */
void shared_add(struct shared *s, uint64_t key, unsigned msgs, unsigned rcpts, int64_t now,
                struct shared_view *v);

/* The view of key at now, without counting. False (and a zero view) when the
 * key is not tracked here. */
bool shared_get(struct shared *s, uint64_t key, int64_t now, struct shared_view *v);

/* Keeps key's global totals fresh (pulled in every round, after the pushes,
 * within max_keys_per_sync) for watch_ms from now, even in rounds where this
 * server counted nothing for it: for keys near a limit, so that a server that
 * sees such a sender now and then decides on a view at most D old. Tracks the
 * key when it is not. */
void shared_watch(struct shared *s, uint64_t key, int64_t now);

/* Forgets key's counts here and, at the next round, in Redis (its buckets of
 * the windows are deleted): for an account that was unlocked, whose counters
 * start from zero. Every server should call it when it sees the unlock; deltas
 * another server counted in the same sync interval may survive it. */
void shared_reset(struct shared *s, uint64_t key, int64_t now);

/* Runs rounds now until a round has pushed everything queued or timeout_ms has
 * passed. 0 when everything counted before the call is in Redis (and the
 * totals of the queued keys are pulled); AD_ERR_BUSY when Redis is unreachable
 * (no connect is attempted inside the reconnect backoff) or the time ran out.
 * Blocks the caller: for shutdown and tests. */
int shared_flush(struct shared *s, unsigned timeout_ms);

void shared_stats(struct shared *s, struct shared_stats *st);

/* Pushes what is left (one flush of at most 5 x timeout_ms, only when Redis is
 * up), stops the thread and frees s. Accepts NULL; returns NULL. */
struct shared *shared_free(struct shared *s);

#endif

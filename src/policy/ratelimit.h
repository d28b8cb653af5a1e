/*
 * ratelimit.h: per-sender counters in fixed memory for the policy server. One
 * 64-byte slot (one cache line) per tracked sender (a SASL user, a sender
 * address or a client address, told apart by a kind byte in the hashed key), in
 * an open-addressing table sized once at start. At most max_senders are
 * tracked. When the table is full, a newcomer takes the slot of an idle sender
 * near its home slot (one not seen for RL_EVICT_IDLE, whose hourly counts have
 * left every window); a sender with recent counts is never evicted: when there
 * is no idle one, the newcomer is not tracked and rl_table.n_overflow counts it.
 * Senders idle for two days are dropped by a sweep.
 *
 * Windows are sliding, approximated the usual way: the count of the current
 * bucket plus the previous bucket's count weighted by how much of it still lies
 * inside the window. Current counts are exact 32-bit counters (saturating);
 * previous buckets are kept in 16 bits with 11 significant bits (relative error
 * below 0.1%, which only ever lowers the weighted estimate). Distinct recipient
 * domains and client networks per hour are estimated by linear counting over a
 * bitmap (exact enough up to ~150). An exponentially weighted mean of the hourly
 * message count is the sender's learned baseline (8 significant bits).
 */
#ifndef AD_RATELIMIT_H
#define AD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum rl_kind { RL_SASL = 1, RL_SENDER = 2, RL_CLIENT = 3 };

enum {
    RL_EVICT_IDLE = 2 * 3600,   /* seconds without a request before a full table evicts */
};

/* The largest count a counter holds: a limit times hard_factor above it could
 * never be crossed (config check refuses such limits). */
#define RL_COUNT_MAX UINT32_MAX

/* One tracked sender. 64 bytes. The day bucket is the UTC day holding the hour
 * bucket (both always roll together). */
struct rl_entry {
    uint64_t key;               /* hash of kind + name; 0 = empty slot */
    uint32_t last;              /* last request, seconds since the table's epoch */
    uint32_t hour;              /* start of the current hour bucket */
    uint32_t msgs, rcpts;       /* messages / recipients in the current hour */
    uint32_t rcpts_day;         /* recipients in the current day */
    uint16_t msgs_prev, rcpts_prev, rcpts_day_prev; /* previous hour / day, rl_pack16() */
    uint16_t inst;              /* hash of the last message's instance */
    uint8_t flags;              /* RL_F_* */
    uint8_t spare;
    uint16_t baseline;          /* EWMA of hourly messages, bfloat16 */
    uint32_t nets, nets_prev;   /* client network bitmaps */
    uint64_t doms, doms_prev;   /* recipient domain bitmaps */
};

enum {
    RL_F_SOFT = 1,          /* the soft limit was crossed this hour (logged once) */
    RL_F_HARD = 2,          /* the hard limit was crossed and its lock is in the store */
    RL_F_ANOMALY = 4,       /* an anomaly was reported this hour */
    RL_F_NETS = 8,          /* too many networks were reported this hour */
    RL_F_TRAINED = 16,      /* the baseline has seen at least one full hour */
    RL_F_HARD_PENDING = 32, /* a lock was asked for, not committed yet: never saved */
};

struct rl_table {
    struct rl_entry *slots;
    size_t mask;                /* capacity - 1 (a power of two) */
    size_t n_used, max_used;
    int64_t epoch;              /* Unix seconds of "0" */
    size_t sweep_pos;
    uint64_t n_overflow;        /* newcomers not tracked because the table was full */
};

/* The estimates of one sender at a moment. */
struct rl_view {
    double msgs_hour, rcpts_hour, rcpts_day, domains_hour, nets_hour;
    double baseline;
    bool trained;
};

/* Allocates room for max_senders (the table gets the next power of two above
 * max_senders / 0.75 slots of 64 bytes). AD_ERR_NOMEM when it cannot. */
int rl_init(struct rl_table *t, size_t max_senders, int64_t now, struct ad_err *err);
void rl_free(struct rl_table *t);

/* The 64-bit key of (kind, name); names are compared case-insensitively. */
uint64_t rl_key(enum rl_kind kind, const char *name);

/* The entry for key, created when absent. NULL when the table is full and no
 * idle sender near the key's home can make room: the sender is not tracked
 * (t->n_overflow counts it). The pointer is valid until the next rl_get() or
 * rl_sweep(). */
struct rl_entry *rl_get(struct rl_table *t, uint64_t key, int64_t now);

/* The entry for key, or NULL; creates nothing, touches nothing. */
struct rl_entry *rl_find(struct rl_table *t, uint64_t key);

/* Rolls the buckets of e forward to now (hour and day) and updates the baseline. */
void rl_roll(struct rl_table *t, struct rl_entry *e, int64_t now, double alpha);

/* Counts one recipient of message instance (NULL: every recipient is its own
 * message) to domain (NULL: none) from client network net (NULL: none). */
void rl_count(struct rl_entry *e, const char *instance, const char *domain, const char *net);

void rl_view(const struct rl_table *t, const struct rl_entry *e, int64_t now, struct rl_view *v);

/* Drops up to n slots' worth of senders idle longer than idle seconds. */
void rl_sweep(struct rl_table *t, int64_t now, int64_t idle, size_t n);

/* A count in 16 bits: exact below 2048, else 11 significant bits (rounded
 * down); and back. */
uint16_t rl_pack16(uint32_t v);
uint32_t rl_unpack16(uint16_t p);

/* Copies the used slots among the n_slots slots from *pos on into out (room
 * for max entries), as they are saved (without in-memory-only flags); returns
 * how many it copied and advances *pos (past the last slot it looked at; the
 * copy is complete when *pos > t->mask). Lets a caller snapshot the table in
 * short steps between requests. */
size_t rl_copy(const struct rl_table *t, size_t *pos, size_t n_slots, struct rl_entry *out,
               size_t max);

/* A counter file being written: a temporary file beside path, renamed over it
 * by rl_writer_commit() after fsync. Any thread may write one (it does not
 * touch a table). */
struct rl_writer;
int rl_writer_open(const char *path, int64_t epoch, struct rl_writer **out, struct ad_err *err);
int rl_writer_add(struct rl_writer *w, const struct rl_entry *e, size_t n, struct ad_err *err);
/* Appends extra (opaque to this module, may be NULL) after the entries, syncs,
 * renames; frees w in every case. */
int rl_writer_commit(struct rl_writer *w, const char *extra, size_t extra_len, struct ad_err *err);
/* Removes the temporary file and frees w; accepts NULL, returns NULL. */
struct rl_writer *rl_writer_abort(struct rl_writer *w);

/* Writes every used slot and extra to path at once (atomically: a temporary
 * file, fsync, rename) / reads them back (entries of a table with another
 * epoch are shifted; entries that do not fit are skipped). rl_load puts the
 * extra bytes in *extra (caller g_free()s; NULL when none) when extra is not
 * NULL. A missing file is not an error. */
int rl_save(const struct rl_table *t, const char *path, const char *extra, size_t extra_len,
            struct ad_err *err);
int rl_load(struct rl_table *t, const char *path, int64_t now, char **extra, size_t *extra_len,
            struct ad_err *err);

#endif

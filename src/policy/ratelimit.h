/*
 * ratelimit.h: per-sender counters in fixed memory for the policy server. One
 * 64-byte slot per tracked sender (a SASL user, a sender address or a client
 * address, told apart by a kind byte in the hashed key), in an open-addressing
 * table sized once at start: at most max_senders are tracked; when the table is
 * full the least recently seen sender near the new one's slot is evicted, and
 * senders idle for a day are dropped by a sweep.
 *
 * Windows are sliding, approximated the usual way: the count of the current
 * bucket plus the previous bucket's count weighted by how much of it still lies
 * inside the window. Distinct recipient domains and client networks per hour are
 * estimated by linear counting over a 64-bit bitmap (exact enough up to ~150).
 * An exponentially weighted mean of the hourly message count is the sender's
 * learned baseline.
 */
#ifndef AD_RATELIMIT_H
#define AD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum rl_kind { RL_SASL = 1, RL_SENDER = 2, RL_CLIENT = 3 };

/* One tracked sender. 64 bytes. */
struct rl_entry {
    uint64_t key;               /* hash of kind + name; 0 = empty slot */
    uint32_t last;              /* last request, seconds since the table's epoch */
    uint32_t hour;              /* start of the current hour bucket */
    uint32_t day;               /* start of the current day bucket */
    uint16_t msgs, msgs_prev;   /* messages in the current / previous hour */
    uint16_t rcpts, rcpts_prev; /* recipients in the current / previous hour */
    uint16_t inst;              /* hash of the last message's instance */
    uint16_t flags;             /* RL_F_* */
    uint16_t rcpts_day, rcpts_day_prev; /* saturating at 65535 */
    uint64_t doms, doms_prev;   /* recipient domain bitmaps */
    uint32_t nets, nets_prev;   /* client network bitmaps */
    float baseline;             /* EWMA of hourly messages */
};

enum {
    RL_F_SOFT = 1,          /* the soft limit was crossed this hour (logged once) */
    RL_F_HARD = 2,          /* the hard limit was crossed (lock asked for once) */
    RL_F_ANOMALY = 4,       /* an anomaly was reported this hour */
    RL_F_NETS = 8,          /* too many networks were reported this hour */
    RL_F_TRAINED = 16,      /* the baseline has seen at least one full hour */
};

struct rl_table {
    struct rl_entry *slots;
    size_t mask;                /* capacity - 1 (a power of two) */
    size_t n_used, max_used;
    int64_t epoch;              /* Unix seconds of "0" */
    size_t sweep_pos;
};

/* The estimates of one sender at a moment. */
struct rl_view {
    double msgs_hour, rcpts_hour, rcpts_day, domains_hour, nets_hour;
    double baseline;
    bool trained;
};

/* Allocates room for max_senders (the table gets the next power of two above
 * max_senders / 0.75 slots). AD_ERR_NOMEM when it cannot. */
int rl_init(struct rl_table *t, size_t max_senders, int64_t now, struct ad_err *err);
void rl_free(struct rl_table *t);

/* The 64-bit key of (kind, name); names are compared case-insensitively. */
uint64_t rl_key(enum rl_kind kind, const char *name);

/* The entry for key, created when absent (evicting when full). Never NULL. The
 * pointer is valid until the next rl_get() or rl_sweep(). */
struct rl_entry *rl_get(struct rl_table *t, uint64_t key, int64_t now);

/* Rolls the buckets of e forward to now (hour and day) and updates the baseline. */
void rl_roll(struct rl_table *t, struct rl_entry *e, int64_t now, double alpha);

/* Counts one recipient of message instance (NULL: every recipient is its own
 * message) to domain (NULL: none) from client network net (NULL: none). */
void rl_count(struct rl_entry *e, const char *instance, const char *domain, const char *net);

void rl_view(const struct rl_table *t, const struct rl_entry *e, int64_t now, struct rl_view *v);

/* Drops up to n slots' worth of senders idle longer than idle seconds. */
void rl_sweep(struct rl_table *t, int64_t now, int64_t idle, size_t n);

/* Writes every used slot to path (atomically: a temporary file, fsync, rename)
 * / reads them back (entries of a table with another epoch are shifted). */
int rl_save(const struct rl_table *t, const char *path, struct ad_err *err);
int rl_load(struct rl_table *t, const char *path, int64_t now, struct ad_err *err);

#endif

/*
 * store_outbound_counts.h: how many mails each sender sent through each of our
 * outbound addresses, per hour (table outbound_counts, migration 11 in
 * store_sql.c). The policy server counts in memory and hands its deltas over
 * in batches (never one write per request); the reputation monitor reads the
 * ranking of an address when the address gets listed: who sent the most
 * through it in the hours before. A sender is an account (the SASL login) or
 * a script ("uid:path", from the milter). Times are Unix seconds; an hour is
 * named by its first second (a multiple of 3600).
 */
#ifndef AD_STORE_OUTBOUND_COUNTS_H
#define AD_STORE_OUTBOUND_COUNTS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* One delta: msgs mails with rcpts recipients more in hour for the sender
 * through address. */
struct store_outbound_delta {
    int64_t hour;
    const char *address;
    const char *sender_kind;    /* "account" or "script" */
    const char *sender;
    int64_t msgs, rcpts;
};

/* Adds n deltas in one transaction of its own (call outside one). Returns 0
 * or the store's error (AD_ERR_BUSY: retry the whole batch later; nothing of
 * it was kept). */
int store_outbound_counts_add(struct store *st, const struct store_outbound_delta *d, size_t n,
                              struct ad_err *err);

/* One sender's total through an address, as store_outbound_counts_top()
 * hands it out (strings borrowed for the call). */
struct store_outbound_total {
    const char *sender_kind, *sender;
    int64_t msgs, rcpts;
    int64_t first_hour, last_hour;
};

/* Calls fn for the senders that sent the most mails through address in the
 * hours from `since` to `until` (both Unix seconds, the hours that overlap
 * them), most first, at most limit (0: all). *total gets the mails of every
 * sender (may be NULL). */
int store_outbound_counts_top(struct store *st, const char *address, int64_t since,
                              int64_t until, int64_t limit,
                              void (*fn)(const struct store_outbound_total *t, void *ctx),
                              void *ctx, int64_t *total, struct ad_err *err);

#endif

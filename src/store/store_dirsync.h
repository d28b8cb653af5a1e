/*
 * store_dirsync.h: the directory's typed store calls beyond the row upserts of
 * sql_directory.c: what `directory import --sync` compares with the file and
 * removes, the open incidents that keep a customer, and the per-customer
 * sending limits (directory columns) that the policy server reads.
 */
#ifndef AD_STORE_DIRSYNC_H
#define AD_STORE_DIRSYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

enum store_dirsync_kind {
    STORE_DIRSYNC_ACCOUNT,      /* accounts.name */
    STORE_DIRSYNC_DOMAIN,       /* domains.domain */
    STORE_DIRSYNC_UID,          /* scripts (uid, path '') */
    STORE_DIRSYNC_CUSTOMER,     /* customers.id (customer_id: the same) */
};

/* Calls fn(value, customer_id, ctx) for every stored row of kind. The rows are
 * copied out first: fn may run other statements (even delete the row). fn
 * returns non-zero to stop. 0 or a negative AD_ERR_* code. */
int store_dirsync_each(struct store *st, enum store_dirsync_kind kind,
                       int (*fn)(const char *value, const char *customer_id, void *ctx),
                       void *ctx, struct ad_err *err);

/* Removes one row of kind. A customer goes with every account, domain, uid and
 * script row still pointing at it; incidents, locks and the audit log keep its
 * id as text. Inside the caller's transaction. */
int store_dirsync_remove(struct store *st, enum store_dirsync_kind kind, const char *value,
                         struct ad_err *err);

/* The open incidents of customer id (every state but resolved, dismissed and
 * merged): *n of them, the lowest id and its state in *first_id and *first_state
 * (g_malloc'd, caller frees; NULL when none). */
int store_dirsync_open_incidents(struct store *st, const char *customer_id, int64_t *n,
                                 int64_t *first_id, char **first_state, struct ad_err *err);

/* Per-customer sending limits: -1 means "not set" (the configured limit
 * applies), 0 "no limit", otherwise the limit. */
struct store_dirsync_limits {
    int64_t msgs_per_hour, rcpts_per_hour, rcpts_per_day, domains_per_hour;
};

/* Sets the limits of customer id that the file gave (set[i] true for
 * msgs_per_hour, rcpts_per_hour, rcpts_per_day, domains_per_hour in that
 * order); the others keep their stored value. Inside the caller's transaction. */
int store_dirsync_limits_set(struct store *st, const char *customer_id,
                             const struct store_dirsync_limits *l, const bool set[4],
                             struct ad_err *err);

/* Calls fn(account, limits, ctx) for every account of a customer that has any
 * limit set. Cheap: a partial index holds only such customers. The read ends
 * before returning. For the policy server's loop. */
int store_dirsync_limits_each(struct store *st,
                              void (*fn)(const char *account,
                                         const struct store_dirsync_limits *l, void *ctx),
                              void *ctx, struct ad_err *err);

#endif

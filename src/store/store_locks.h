/*
 * store_locks.h: the locks in force, for the hotline ("is my mailbox locked,
 * and why?") and the team: `abusedesk locks`.
 */
#ifndef AD_STORE_LOCKS_H
#define AD_STORE_LOCKS_H

#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

struct store_lock_row {
    int64_t id, incident_id, locked_at;     /* incident 0: not filed yet */
    const char *subject_kind, *subject, *customer_id, *locked_by, *reason; /* borrowed */
};

/* Calls fn for every active lock, newest first; with subject or customer_id
 * (may be NULL) only those of that account/script (any case) or customer. The
 * strings are valid during the call only. fn returns non-zero to stop. */
int store_locks_active(struct store *st, const char *subject, const char *customer_id,
                       int (*fn)(const struct store_lock_row *row, void *ctx), void *ctx,
                       struct ad_err *err);

#endif

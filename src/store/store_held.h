/*
 * store_held.h: requests to release or delete an account's held mail (the
 * held_actions table): the lifecycle writes one when an account's incident
 * ends, `abusedesk held run` (as root: postsuper needs it) carries them out.
 */
#ifndef AD_STORE_HELD_H
#define AD_STORE_HELD_H

#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* Records "release" or "delete" for account's held mail, inside the caller's
 * transaction. */
int store_held_request(struct store *st, const char *account, const char *action,
                       int64_t incident_id, const char *by, int64_t now, struct ad_err *err);

struct store_held_request {
    int64_t id, incident_id, requested_at;
    char *account, *action, *requested_by;  /* g_malloc'd */
};

/* The pending requests (oldest first; only those of account when not NULL,
 * any case), at most max, into a g_malloc'd array of *n (caller frees with
 * store_held_requests_free()). */
int store_held_pending(struct store *st, const char *account, size_t max,
                       struct store_held_request **out, size_t *n, struct ad_err *err);
void store_held_requests_free(struct store_held_request *r, size_t n);

/* Turns the pending requests of incident_id into action ("delete" when the
 * team ends an incident with --delete-held); *n how many. In the caller's
 * transaction. */
int store_held_retarget(struct store *st, int64_t incident_id, const char *action, int64_t *n,
                        struct ad_err *err);

/* Marks request id done at now: n_messages acted on, result in words. */
int store_held_done(struct store *st, int64_t id, int64_t now, int64_t n_messages,
                    const char *result, struct ad_err *err);

#endif

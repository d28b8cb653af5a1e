/*
 * store_policy.h: what the policy server reads and writes in the store: the
 * active locks (with the customer's language for the REJECT text), the change
 * counter that says another process wrote, and the queue of its findings
 * (policy_events) that the desk worker files into incidents. The policy server
 * needs nothing else from the store: no templates, no outbox, no secrets.
 */
#ifndef AD_STORE_POLICY_H
#define AD_STORE_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* Calls fn for every active lock: its subject (any case), the incident that
 * holds it (0 while the desk worker has not filed it), and the language of the
 * customer ("" when unknown). Returns 0 or AD_ERR_*. The read ends before
 * returning (no snapshot is held). */
int store_policy_locks(struct store *st,
                       void (*fn)(const char *subject, int64_t incident_id, const char *lang,
                                  void *ctx),
                       void *ctx, struct ad_err *err);

/* Calls fn for every lock lifted at or after since (Unix seconds): the policy
 * server resets the counters of an account unlocked between two of its looks
 * even when it never saw the lock (locked and unlocked within one poll).
 * Returns 0 or AD_ERR_*; the read ends before returning. */
int store_policy_unlocks_since(struct store *st, int64_t since,
                               void (*fn)(const char *subject, int64_t unlocked_at, void *ctx),
                               void *ctx, struct ad_err *err);

/* A policy server's own figures (JSON of its choosing, see policyd.c) under
 * its name (host and listen address): one row per server, replaced. */
int store_policy_stats_put(struct store *st, const char *server, int64_t at, const char *json,
                           struct ad_err *err);

/* Calls fn for every server's figures updated at or after since. */
int store_policy_stats_each(struct store *st, int64_t since,
                            void (*fn)(const char *server, int64_t at, const char *json,
                                       void *ctx),
                            void *ctx, struct ad_err *err);

/* A number that changes whenever another connection committed a change to
 * the locks or customers (store_data_version(): SQLite's data_version, a
 * notification counter on PostgreSQL). */
int store_policy_data_version(struct store *st, int64_t *version, struct ad_err *err);

/* Queues a finding of the policy server about account (lower case): stage
 * "alert" or "lock", reason in words, decided_by ("abusedesk policy"). With
 * lock, the account's lock row is written in the same transaction (unless the
 * account is locked already) so that every policy server enforces it at once;
 * *lock_id gets it (0 when none was written). Runs its own transaction. */
int store_policy_event_add(struct store *st, const char *account, const char *stage,
                           const char *reason, bool lock, const char *decided_by, int64_t at,
                           int64_t *lock_id, struct ad_err *err);

/* One queued finding, as the desk worker reads it; strings g_malloc'd, free
 * with store_policy_event_clear(). */
struct store_policy_event {
    int64_t id, at, lock_id;
    char *account, *stage, *reason, *decided_by;
};
void store_policy_event_clear(struct store_policy_event *e);

/* The oldest unprocessed findings, at most max, into out[] (*n of them). */
int store_policy_events_pending(struct store *st, struct store_policy_event *out, size_t max,
                                size_t *n, struct ad_err *err);

/* Marks finding id filed into incident_id, inside the caller's transaction. */
int store_policy_event_done(struct store *st, int64_t id, int64_t incident_id, int64_t now,
                            struct ad_err *err);

#endif

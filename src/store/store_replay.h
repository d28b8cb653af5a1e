/*
 * store_replay.h: what `abusedesk ingest --replay` and `abusedesk replay-report`
 * keep and read: which reports were replayed (and whether their notices may
 * go out), the newest filing time in the desk (replay refuses to go back in
 * time), holding back the mails and hooks of replayed decisions, and the list
 * of decisions with their times.
 */
#ifndef AD_STORE_REPLAY_H
#define AD_STORE_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

enum store_replay_mode {
    STORE_REPLAY_LIVE = 0,      /* ingested as it arrived */
    STORE_REPLAY_HELD = 1,      /* replayed: its mails and hooks are held back */
    STORE_REPLAY_NOTIFY = 2,    /* replayed with --notify: they go out */
};

/* The newest received_at of any stored report as Unix seconds, 0 when the
 * desk holds none. */
int store_replay_newest(struct store *st, int64_t *at, struct ad_err *err);

/* Marks report id as replayed in mode. */
int store_replay_mark(struct store *st, int64_t report_id, enum store_replay_mode mode,
                      struct ad_err *err);

/* The mode report id was stored in (LIVE for reports of before the replay
 * column, or unknown ids). */
int store_replay_mode(struct store *st, int64_t report_id, enum store_replay_mode *mode,
                      struct ad_err *err);

/* The highest outbox and hook_jobs ids now (0 when empty): taken before a
 * replayed report is filed, handed to store_replay_hold() after. */
int store_replay_marks(struct store *st, int64_t *outbox_id, int64_t *hook_id,
                       struct ad_err *err);

/* Holds back every unsent mail and undone hook queued after the marks: failed
 * with last_error "held: replayed decision (ingest --replay without --notify)",
 * so no delivery worker takes them; `outbox --all` shows them. *n gets how
 * many rows were held. Inside the caller's transaction. */
int store_replay_hold(struct store *st, int64_t outbox_id, int64_t hook_id, int *n,
                      struct ad_err *err);

/* Bulk mode for replayed reports, outside a transaction: on (SQLite
 * synchronous=NORMAL and a larger page cache; PostgreSQL synchronous_commit
 * off) a commit no longer waits for the disk, and a power loss may take the
 * last commits back, never the consistency: the archive is replayed again and
 * the desk worker files again what was not processed. Off restores the
 * durable setting for live reports. */
int store_replay_bulk(struct store *st, bool on, struct ad_err *err);

/* One decision of the desk, as replay-report prints it; strings borrowed for
 * the call. kind: alert, notice (customer mails: status sent, held, queued,
 * failed), lock, unlock, dismiss, resolve, lock-held. */
struct store_replay_decision {
    int64_t at, incident_id;
    const char *kind, *subject_kind, *subject, *detail, *status;
};

/* Calls fn for every decision with since <= at < until (0: open), oldest first
 * (ties by incident, then kind). fn returns non-zero to stop. */
int store_replay_decisions(struct store *st, int64_t since, int64_t until,
                           int (*fn)(const struct store_replay_decision *d, void *ctx), void *ctx,
                           struct ad_err *err);

#endif

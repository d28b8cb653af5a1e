/*
 * intake.h: takes report mail in without ever losing it: spools the raw message with
 * fsync before anything else, parses it, stores it idempotently (keyed by the
 * SHA-256 of its bytes), and keeps input that is not mail in a quarantine folder.
 */
#ifndef AD_INTAKE_H
#define AD_INTAKE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"

enum intake_outcome {
    INTAKE_STORED,          /* new report stored */
    INTAKE_DUPLICATE,       /* the same bytes were stored before */
    INTAKE_QUARANTINED,     /* not a mail: kept in the quarantine folder */
    INTAKE_REFUSED,         /* --replay: no arrival time, or older than the desk's newest */
};

struct intake {
    const struct config *cfg;
    struct store *st;       /* opened on first use; owned by the intake */
    const struct logger *log;   /* one line per message; NULL for silence; borrowed */
    struct dkimverify *dkim;    /* DKIM verifier, made on first use; owned */
    /* Counters for a batch. */
    unsigned n_stored, n_duplicate, n_quarantined, n_failed;
    /* ingest --replay: each report is filed at the time it reached us
     * (arrival.h), never before the newest report the desk holds; notify lets
     * the mails and hooks of its decisions go out (else they are held). */
    bool replay, notify;
    bool newest_known;          /* newest is read once per run, then followed */
    int64_t newest;
    unsigned n_refused;
};

void intake_init(struct intake *in, const struct config *cfg, const struct logger *log);

/* Closes the store; the struct can be reused after intake_init(). */
void intake_close(struct intake *in);

/* Reads one message from fd (until EOF), spools it durably, parses and stores it.
 * Returns 0 with *outcome and *id (0 when quarantined), AD_ERR_BUSY when the store
 * is unavailable (the message stays in the spool; the MTA should retry), or another
 * negative code. */
int intake_fd(struct intake *in, int fd, const char *source, enum intake_outcome *outcome,
              int64_t *id, struct ad_err *err);

/* Processes every message in a Maildir's new/ and cur/ (the files are the spool
 * already). Stored messages in new/ are moved to cur/ with the Seen flag. Commits in
 * batches; a kill at any point loses and duplicates nothing. Returns 0 when every
 * message was stored, duplicate or quarantined, else the first error. */
int intake_maildir(struct intake *in, const char *dir, struct ad_err *err);

/* Processes every stored report not processed yet (a failure of the desk left
 * it so), as ingest would: customer replies go to their incident; complaints are
 * attributed, scored, filed, and may alert or lock. *n counts them. */
int intake_process_pending(struct intake *in, size_t *n, struct ad_err *err);

/* Delivers what the outbox has due (notifications, hooks) after the reports were
 * committed; failures stay queued and are only logged. */
/* Files the policy server's queued findings (locks, limit hits, anomalies)
 * into incidents; *n gets how many. The desk worker runs it beside
 * intake_process_pending(). */
int intake_process_events(struct intake *in, size_t *n, struct ad_err *err);

void intake_flush_outbox(struct intake *in);

/* Re-processes messages left in the spool by an interrupted run. */
int intake_spool_recover(struct intake *in, struct ad_err *err);

#endif

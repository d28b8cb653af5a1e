/*
 * lifecycle.h: the incident state machine and the actions that move it.
 *
 *   open -> alerted -> locked -> customer_notified -> customer_replied -> resolved
 *   any state before resolved -> dismissed (a false alarm, with a reason)
 *   resolved -> open/alerted again when new complaints arrive (incident.c)
 *
 * Every transition records who (the program or a person), when and why in the
 * audit log. Locks are rows the enforcement points read (policy server, milter)
 * and are handed to the provider's systems through the lock/unlock hooks; the
 * customer and the team are told by mail. Everything a transition causes is
 * queued in the same transaction as the transition itself (outbox.h), so a
 * crash loses nothing; delivery happens after the commit.
 */
#ifndef AD_LIFECYCLE_H
#define AD_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "incident/incident.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"

struct lifecycle {
    const struct config *cfg;
    struct store *st;
    const struct logger *log;   /* may be NULL */
    int64_t now;                /* Unix seconds of the action */
};

/* Each action runs inside the caller's transaction and returns 0, AD_ERR_USAGE
 * with a message naming the state and what is allowed (an invalid transition,
 * a refused unlock), AD_ERR_NOTFOUND, or a store error. by is the person or
 * "abusedesk". */

/* Locks the incident's account or script: a lock row, the lock hooks, state
 * locked; then notifies the customer (state customer_notified) unless
 * notify=false. From open or alerted. */
int lifecycle_lock(struct lifecycle *lc, int64_t id, const char *by, const char *reason,
                   bool notify, struct ad_err *err);

/* Sends the customer notification for the incident's case (compromised mailbox,
 * web script, or joe job when case_name is "joejob"): from locked (-> customer_notified)
 * or, for a joe job, from open or alerted (no lock). */
int lifecycle_notify(struct lifecycle *lc, int64_t id, const char *by, const char *case_name,
                     struct ad_err *err);

/* Unlocks and resolves: from locked, customer_notified or customer_replied. A
 * compromised mailbox is unlocked only after a password change after the lock
 * that did not reuse a leaked password, unless force (then reason is required
 * and the override is audited). Queues the unlock hooks and the "unlocked"
 * notice to the customer. */
int lifecycle_unlock(struct lifecycle *lc, int64_t id, const char *by, const char *reason,
                     bool force, struct ad_err *err);

/* A false alarm: releases a lock (unlock hooks, no customer mail) and closes. */
int lifecycle_dismiss(struct lifecycle *lc, int64_t id, const char *by, const char *reason,
                      struct ad_err *err);

/* Closes an incident that never locked anything (open or alerted). */
int lifecycle_resolve(struct lifecycle *lc, int64_t id, const char *by, const char *reason,
                      struct ad_err *err);

/* A note in the audit log, in any state. */
int lifecycle_note(struct lifecycle *lc, int64_t id, const char *by, const char *text,
                   struct ad_err *err);

/* The password-change event of the provider's panel. fingerprint (may be NULL)
 * identifies the new password (e.g. the hash the panel stores); it is kept only
 * as a BLAKE2b digest. When it equals one seen for the account before its lock,
 * the change is refused (AD_ERR_USAGE, "reuse of the leaked password") and
 * audited. Otherwise it is recorded; open incidents of the account note it and
 * may unlock by themselves ([act] auto_unlock). */
int lifecycle_password_changed(struct lifecycle *lc, const char *account, int64_t at,
                               const char *fingerprint, struct ad_err *err);

/* Customer replies: returns the incident a reply mail belongs to (its Subject
 * carries "[PREFIX #N]" or its In-Reply-To/References name one of our
 * notifications), or 0. head is the message's header block (bounded). *verified
 * tells whether the reply can be trusted to come from the customer: it names one
 * of our (random) notification Message-IDs, or its From is the customer's
 * contact address or the incident's account. A ticket number alone is guessable. */
int lifecycle_reply_match(struct lifecycle *lc, const char *subject, const char *from,
                          const char *head, size_t head_len, int64_t *incident_id,
                          bool *verified, struct ad_err *err);

/* Attaches reply report_id to the incident. A verified reply moves
 * customer_notified or locked -> customer_replied and may auto-unlock; an
 * unverified one is only attached and shown. The team is told either way. */
int lifecycle_reply(struct lifecycle *lc, int64_t id, int64_t report_id, const char *from,
                    const char *subject, const char *excerpt, bool verified, struct ad_err *err);

/* After incident_process(): alerts the team when an incident was opened at,
 * escalated to, or reopened at alert or lock, and locks at once when the lock
 * stage was reached with [incidents] auto_lock. */
int lifecycle_after_process(struct lifecycle *lc, int64_t report_id,
                            const struct incident_outcome *o, struct ad_err *err);

/* The policy server's findings about an authenticated account (outbound volume
 * over the hard limit, an anomaly, logins from many networks): opens an
 * incident for the account at stage (or raises the stage of its open one),
 * audits reason, alerts the team, and with lock locks at once and notifies the
 * customer. by: who decided ("abusedesk policy", or a person for `account
 * lock`). *incident_id gets the incident. */
int lifecycle_policy_event(struct lifecycle *lc, const char *account, enum incident_stage stage,
                           const char *reason, bool lock, const char *by, int64_t *incident_id,
                           struct ad_err *err);

/* True when the account or sender has an active lock; *ticket gets the incident
 * id of the lock (0 when none). For the enforcement points. */
int lifecycle_is_locked(struct store *st, const char *subject, int64_t *incident_id,
                        struct ad_err *err);

#endif

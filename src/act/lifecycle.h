/*
 * lifecycle.h: the incident state machine and the actions that move it.
 *
 *   open -> alerted -> locked -> customer_notified -> customer_replied -> resolved
 *   any state before resolved -> dismissed (a false alarm, with a reason)
 *   any state before dismissed -> merged (into another incident of the customer)
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

/* Each action runs inside the caller's transaction and returns 0,
 * AD_ERR_REFUSED with a message naming the state and what is allowed (an
 * invalid transition, a refused unlock), AD_ERR_USAGE for a missing argument
 * (a reason), AD_ERR_NOTFOUND, or a store error. by is the person or
 * "abusedesk". */

/* Locks the incident's account or script: a lock row, the lock hooks, state
 * locked; then notifies the customer (state customer_notified) unless
 * notify=false. From open or alerted. */
int lifecycle_lock(struct lifecycle *lc, int64_t id, const char *by, const char *reason,
                   bool notify, struct ad_err *err);

/* Sends the customer notification for the incident's case (compromised mailbox,
 * web script, or joe job when case_name is "joejob"): from locked or
 * customer_notified (a re-send, e.g. after the first notice bounced) ->
 * customer_notified, or, for a joe job, from open or alerted (no lock; refused
 * when the incident's evidence shows our submission hop or web host). to: send
 * to this address instead of the directory's contact address (NULL: the
 * directory's). */
int lifecycle_notify(struct lifecycle *lc, int64_t id, const char *by, const char *case_name,
                     const char *to, struct ad_err *err);

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
 * identifies the new password in a way the panel chooses; it is kept only as a
 * BLAKE2b digest (prefer lifecycle_password_changed_digest() with
 * password_fingerprint()). When it equals one seen for the account up to its
 * latest lock, the change is refused (AD_ERR_USAGE, "reuse of the leaked
 * password") and audited. Otherwise it is recorded; open incidents of the
 * account note it and may unlock by themselves ([act] auto_unlock). An account
 * that is not in the directory is AD_ERR_NOTFOUND. */
int lifecycle_password_changed(struct lifecycle *lc, const char *account, int64_t at,
                               const char *fingerprint, struct ad_err *err);

/* The same with the fingerprint already computed (password.h), or NULL. */
int lifecycle_password_changed_digest(struct lifecycle *lc, const char *account, int64_t at,
                                      const char *digest, struct ad_err *err);

/* Whether digest was a password of account up to its latest lock (*leaked),
 * for the panel to ask before it accepts a new password. Changes nothing.
 * AD_ERR_NOTFOUND for an account not in the directory. */
int lifecycle_password_check(struct lifecycle *lc, const char *account, const char *digest,
                             bool *leaked, struct ad_err *err);

/* What a mail that may answer one of our mails is, by what it names. */
struct lifecycle_match {
    int64_t incident_id;        /* 0: no incident named */
    bool by_notice;             /* In-Reply-To/References name a notice we sent a customer */
    bool own_mail;              /* our own mail came back (its Message-ID is ours, or it
                                 * answers a team alert) */
};

/* Looks up the incident a mail belongs to: its own Message-ID (msgid) being one
 * of ours means our mail came back; ids (In-Reply-To, then References; at most
 * n_ids) naming one of our Message-IDs give the incident (verifiably: ours are
 * random); else, only when ticket_ok (the mail carries no complaint), a
 * "[PREFIX #N]" in subject names it (guessable: never verified). */
int lifecycle_reply_match(struct lifecycle *lc, const char *subject, const char *msgid,
                          const char *const *ids, size_t n_ids, bool ticket_ok,
                          struct lifecycle_match *m, struct ad_err *err);

enum lifecycle_verdict {
    LIFECYCLE_REPLY_VERIFIED,   /* the customer: moves the incident */
    LIFECYCLE_REPLY_UNVERIFIED, /* anybody: attached, the team told (rate-limited) */
    LIFECYCLE_REPLY_AUTO,       /* an auto-reply or our own mail: attached only */
};

/* Judges a matched mail: auto (auto_reply, or our own mail or address), else
 * verified when it names our notice's Message-ID or when from_dmarc_ok (our
 * MX's trusted DMARC or aligned DKIM/SPF pass for the From domain) and From is
 * the stored contact address; never when From is the locked mailbox. why gets
 * the reason in words. */
int lifecycle_reply_judge(struct lifecycle *lc, const struct lifecycle_match *m,
                          const char *from, bool from_dmarc_ok, bool auto_reply,
                          const char *auto_why, enum lifecycle_verdict *verdict, char *why,
                          size_t why_size, struct ad_err *err);

/* Attaches reply report_id to the incident with its verdict. Verified: moves
 * customer_notified or locked -> customer_replied, tells the team, may
 * auto-unlock. Unverified: attached and audited, the team told at most once
 * per [notify] team_interval. Auto: attached and audited only. */
int lifecycle_reply(struct lifecycle *lc, int64_t id, int64_t report_id, const char *from,
                    const char *subject, const char *excerpt, enum lifecycle_verdict verdict,
                    const char *why, struct ad_err *err);

/* A bounce (DSN) whose original Message-ID is orig_msgid: when that is one of
 * our notices, marks it bounced, audits notice_bounced on its incident, tells
 * the team once per notice (permanent failures; a delay is only audited) and
 * returns 1; returns 0 when it is not ours. */
int lifecycle_notice_bounced(struct lifecycle *lc, const char *orig_msgid, int64_t report_id,
                             const char *rcpt, const char *status, bool permanent,
                             struct ad_err *err);

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

/* Merges incidents ids (n of them) into incident into, which takes over their
 * reports, replies, mails, hook calls and locks; they end in state "merged"
 * (merged_into set), the stage is the highest, and the audit logs of both say
 * so. Incidents of different customers are refused. */
int lifecycle_merge(struct lifecycle *lc, int64_t into, const int64_t *ids, size_t n,
                    const char *by, struct ad_err *err);

/* The same for a finding the policy server queued (store_policy.h): lock_id,
 * when not 0, is the lock row it already wrote, which the incident adopts. */
int lifecycle_policy_event_lock(struct lifecycle *lc, const char *account,
                                enum incident_stage stage, const char *reason, bool lock,
                                const char *by, int64_t lock_id, int64_t *incident_id,
                                struct ad_err *err);

/* True when the account or sender has an active lock; *ticket gets the incident
 * id of the lock (0 when none). For the enforcement points. */
int lifecycle_is_locked(struct store *st, const char *subject, int64_t *incident_id,
                        struct ad_err *err);

#endif

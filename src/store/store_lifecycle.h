/*
 * store_lifecycle.h: what the incident state machine (src/act/lifecycle.c)
 * reads and writes: an incident's state and stage, its locks, the password
 * events of an account, customer replies, bounced notices, policy-server
 * incidents and merges. Everything runs inside the caller's transaction.
 * Lookups return 1 when found, 0 when not, or a negative AD_ERR_* code;
 * everything else 0 or < 0.
 */
#ifndef AD_STORE_LIFECYCLE_H
#define AD_STORE_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* ---- incidents ---- */

/* An incident as the state machine needs it; strings g_malloc'd, the caller's
 * (free each with g_free()). locked_at 0: never locked. */
struct store_lifecycle_incident {
    char *state, *stage, *kind, *subject, *customer_id, *account;
    int64_t locked_at;
    bool repeat;
};

int store_lifecycle_get(struct store *st, int64_t id, struct store_lifecycle_incident *out,
                        struct ad_err *err);
int store_lifecycle_exists(struct store *st, int64_t id, struct ad_err *err);

int store_lifecycle_set_state(struct store *st, int64_t id, const char *state, int64_t now,
                              struct ad_err *err);
/* State 'locked', locked_at = now. */
int store_lifecycle_set_locked(struct store *st, int64_t id, int64_t now, struct ad_err *err);
/* A final state (resolved, dismissed), closed_at = now. */
int store_lifecycle_close(struct store *st, int64_t id, const char *state, int64_t now,
                          struct ad_err *err);

/* Its number of complaints; of distinct providers with counted,
 * authenticated complaints. */
int store_lifecycle_complaints(struct store *st, int64_t id, int64_t *n, struct ad_err *err);
int store_lifecycle_providers(struct store *st, int64_t id, int64_t *n, struct ad_err *err);

/* The contact address of its customer (g_malloc'd or NULL). */
int store_lifecycle_contact(struct store *st, int64_t id, char **contact, struct ad_err *err);
/* Whether domain is one of its customer's domains. */
int store_lifecycle_customer_domain(struct store *st, int64_t id, const char *domain,
                                    struct ad_err *err);

/* When the team was last mailed about it (0: never), and noting it. */
int store_lifecycle_team_mail_at(struct store *st, int64_t id, int64_t *at, struct ad_err *err);
int store_lifecycle_team_mail_set(struct store *st, int64_t id, int64_t now, struct ad_err *err);
/* Alerts about unverified replies (all incidents) since since. */
int store_lifecycle_unverified_alerts(struct store *st, int64_t since, int64_t *n,
                                      struct ad_err *err);

/* Attaches report_id to it as a reply with verdict (once). */
int store_lifecycle_reply_add(struct store *st, int64_t id, int64_t report_id, int64_t at,
                              const char *verdict, struct ad_err *err);

/* Incidents of account in a locked, notified or replied state: *ids
 * g_malloc'd (g_free()), *n of them. */
int store_lifecycle_account_incidents(struct store *st, const char *account, int64_t **ids,
                                      size_t *n, struct ad_err *err);
/* Whether name is an account of the directory. */
int store_lifecycle_account_listed(struct store *st, const char *name, struct ad_err *err);

/* ---- locks ---- */

/* A new lock of incident id's sender; *lock_id gets its id. */
int store_lifecycle_lock_add(struct store *st, const char *kind, const char *subject,
                             const char *customer_id, int64_t incident_id, const char *reason,
                             int64_t now, const char *by, int64_t *lock_id, struct ad_err *err);
/* Links lock_id (set by the policy server) to incident_id and its customer. */
int store_lifecycle_lock_adopt(struct store *st, int64_t lock_id, int64_t incident_id,
                               const char *customer_id, struct ad_err *err);
/* Active locks of incident_id, oldest first: *ids g_malloc'd, *n of them. */
int store_lifecycle_locks_active(struct store *st, int64_t incident_id, int64_t **ids,
                                 size_t *n, struct ad_err *err);
int store_lifecycle_lock_release(struct store *st, int64_t lock_id, int64_t now, const char *by,
                                 const char *reason, struct ad_err *err);
/* The incident (0: none) of the newest active lock of subject (lower-case). */
int store_lifecycle_lock_of(struct store *st, const char *subject, int64_t *incident_id,
                            struct ad_err *err);
/* When subject was last locked (0: never). */
int store_lifecycle_lock_latest(struct store *st, const char *subject, int64_t *at,
                                struct ad_err *err);
/* The reason and author of incident id's newest lock (g_malloc'd or NULL). */
int store_lifecycle_lock_reason(struct store *st, int64_t id, char **reason, char **by,
                                struct ad_err *err);
/* Whether the account addr (any case) is locked now. */
int store_lifecycle_account_locked(struct store *st, const char *addr, struct ad_err *err);

/* ---- passwords ---- */

/* The first password change of account at or after since not refused. */
int store_lifecycle_password_after(struct store *st, const char *account, int64_t since,
                                   int64_t *at, struct ad_err *err);
/* Whether digest was a (not refused) password of account up to until. */
int store_lifecycle_password_seen(struct store *st, const char *account, const char *digest,
                                  int64_t until, struct ad_err *err);
int store_lifecycle_password_add(struct store *st, const char *account, int64_t at,
                                 const char *digest, bool refused, int64_t now,
                                 struct ad_err *err);

/* ---- our mails coming back ---- */

/* The outbox row of one of our Message-IDs: its id, incident (0: none) and
 * kind ("customer", "team", ...; at most 15 bytes). */
int store_lifecycle_outbox_by_msgid(struct store *st, const char *msgid, int64_t *outbox_id,
                                    int64_t *incident_id, char kind[16], struct ad_err *err);
/* Marks outbox_id bounced (by report_id) unless it was already: *first says
 * whether this was the first bounce. */
int store_lifecycle_notice_bounced(struct store *st, int64_t outbox_id, int64_t now,
                                   int64_t report_id, bool *first, struct ad_err *err);

/* ---- policy-server incidents ---- */

/* account's open incident (the newest not resolved, dismissed or merged):
 * its id and stage (g_malloc'd or NULL). */
int store_lifecycle_policy_open(struct store *st, const char *account, int64_t *id,
                                char **stage, struct ad_err *err);
/* Opens a trusted incident about account at now; *id gets it. */
int store_lifecycle_policy_new(struct store *st, const char *account, const char *customer_id,
                               const char *state, const char *stage, bool repeat, int64_t now,
                               int64_t *id, struct ad_err *err);
/* Raises its stage (an open incident becomes alerted). */
int store_lifecycle_policy_stage(struct store *st, int64_t id, const char *stage, int64_t now,
                                 struct ad_err *err);

/* ---- merging ---- */

/* Whether from is trusted and a repeat offender (each 0 or 1). */
int store_lifecycle_merge_flags(struct store *st, int64_t from, int64_t *trusted,
                                int64_t *repeat, struct ad_err *err);
/* Moves the reports, replies, mails, hook jobs and locks of from to into and
 * closes from as merged into it at now. */
int store_lifecycle_merge_move(struct store *st, int64_t into, int64_t from, int64_t now,
                               struct ad_err *err);
/* Sets into's stage and raises its trusted and repeat flags. */
int store_lifecycle_merge_target(struct store *st, int64_t into, const char *stage,
                                 int64_t trusted, int64_t repeat, int64_t now,
                                 struct ad_err *err);

#endif

/*
 * store_incident.h: attributions, scores, complaints, incidents and the audit
 * log, for src/incident/incident.c: what processing one report writes, the
 * per-sender sums, and an incident as `abusedesk incident show` reads it.
 * Lookups return 1 when found, 0 when not, or a negative AD_ERR_* code;
 * everything else 0 or < 0. Strings filled in are g_malloc'd and the
 * caller's; those handed to callbacks are borrowed for the call, and such a
 * callback must not use the store.
 */
#ifndef AD_STORE_INCIDENT_H
#define AD_STORE_INCIDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* ---- processing one report ---- */

/* Whether report_id was processed already (*done). */
int store_incident_report_processed(struct store *st, int64_t report_id, bool *done,
                                    struct ad_err *err);

/* An earlier counted report (not report_id) with the same dedup key. */
int store_incident_dup_find(struct store *st, const char *dedup_key, int64_t report_id,
                            int64_t *dup, struct ad_err *err);

/* The attribution of a report (kept once); pointers borrowed. */
struct store_incident_attr_in {
    int64_t report_id;
    const char *status, *subject_kind, *subject, *account, *script, *customer_id, *source_ip;
    const char *reason, *evidence;  /* evidence: JSON text */
};
int store_incident_attribution_add(struct store *st, const struct store_incident_attr_in *in,
                                   struct ad_err *err);

/* The score of a report (kept once); pointers borrowed. manual: -1 not
 * determined, 0 automatic, 1 manual. */
struct store_incident_score_in {
    int64_t report_id;
    double total;
    bool counted, authenticated;
    int manual;
    const char *provider, *message_id, *terms, *reporter_how, *dedup_key;
    int64_t at;
};
int store_incident_score_add(struct store *st, const struct store_incident_score_in *in,
                             struct ad_err *err);

/* One complaint about a sender (kept once per report and kind), with what
 * the spam-run rule looks at: the reporting provider, whether the mail was
 * marked as sent to a list and the network it was sent from. */
struct store_incident_complaint {
    int64_t report_id;
    const char *kind, *subject;
    int64_t at;
    double score;
    bool counted, authenticated;
    const char *provider;       /* NULL: unknown */
    bool bulk;
    const char *client_net;     /* "192.0.0.0/16", or NULL */
};
int store_incident_complaint_add(struct store *st, const struct store_incident_complaint *c,
                                 struct ad_err *err);

/* What the counted, authenticated complaints about a sender in (from, to]
 * (without those a closed incident dealt with) say about a spam run: how
 * many, from how many providers, from how many networks the mails came, and
 * how many were about mail marked as sent to a list. */
struct store_incident_run {
    int64_t n, providers, nets, bulk;
};
/* *has: the incident's audit log has an entry of this action. */
int store_incident_audit_has(struct store *st, int64_t incident_id, const char *action, bool *has,
                             struct ad_err *err);

int store_incident_run_facts(struct store *st, const char *kind, const char *subject,
                             int64_t from, int64_t to, struct store_incident_run *out,
                             struct ad_err *err);

/* Sum and count of the counted complaints about a sender in (from, to], all
 * and authenticated ones, without those a closed incident dealt with. */
struct store_incident_wsum {
    double sum, auth_sum;
    int64_t n, auth_n;
};
int store_incident_window(struct store *st, const char *kind, const char *subject, int64_t from,
                          int64_t to, struct store_incident_wsum *w, struct ad_err *err);

/* The sender's open incident (id and stage), or the one resolved after
 * closed_after (for a reopen). */
int store_incident_open_find(struct store *st, const char *kind, const char *subject,
                             int64_t *id, char **stage, struct ad_err *err);
int store_incident_resolved_find(struct store *st, const char *kind, const char *subject,
                                 int64_t closed_after, int64_t *id, char **stage,
                                 struct ad_err *err);

/* Earlier resolved, trusted incidents (not self) opened in (from, to] of the
 * customer or the sender: *ids g_malloc'd (g_free()), *n of them. */
int store_incident_history(struct store *st, int64_t self, int64_t from, int64_t to,
                           const char *customer_id, const char *kind, const char *subject,
                           int64_t **ids, size_t *n, struct ad_err *err);

/* A new incident; pointers borrowed. */
struct store_incident_new {
    const char *kind, *subject, *customer_id, *account, *state, *stage;
    bool repeat, trusted;
    int64_t at;
};
int store_incident_add(struct store *st, const struct store_incident_new *in, int64_t *id,
                       struct ad_err *err);

/* Attaches the sender's complaints in (from, to] that belong to no incident;
 * one report. */
int store_incident_attach_window(struct store *st, int64_t id, const char *kind,
                                 const char *subject, int64_t from, int64_t to,
                                 struct ad_err *err);
int store_incident_attach(struct store *st, int64_t id, int64_t report_id, struct ad_err *err);

/* store_incident_attach(); *added tells whether the report was attached
 * only now. */
int store_incident_attach_new(struct store *st, int64_t id, int64_t report_id, bool *added,
                              struct ad_err *err);

/* One report just attached: its complaint about kind added to the totals
 * (score, complaints, first and last seen) without reading the incident's
 * other reports again; without such a complaint only updated_at moves. */
int store_incident_add_report(struct store *st, int64_t id, const char *kind, int64_t report_id,
                              int64_t now, struct ad_err *err);

/* Score, complaints, first and last seen again from its reports' complaints
 * about kind. */
int store_incident_recount(struct store *st, int64_t id, const char *kind, int64_t now,
                           struct ad_err *err);
/* The score now is its initial score. */
int store_incident_first_score(struct store *st, int64_t id, struct ad_err *err);
/* An authenticated complaint makes it trusted. */
int store_incident_set_trusted(struct store *st, int64_t id, struct ad_err *err);
/* A new stage; an open incident takes state. */
int store_incident_set_stage(struct store *st, int64_t id, const char *stage, const char *state,
                             int64_t at, struct ad_err *err);
/* A resolved incident open again with state and stage. */
int store_incident_reopen(struct store *st, int64_t id, const char *state, const char *stage,
                          int64_t at, struct ad_err *err);

/* One line of the audit log; incident_id, report_id 0: none. */
int store_incident_audit_add(struct store *st, int64_t at, int64_t incident_id,
                             int64_t report_id, const char *actor, const char *action,
                             const char *detail, struct ad_err *err);

/* ---- reading an incident ---- */

struct store_incident_row {
    int64_t id;
    char *subject_kind, *subject, *customer_id, *account, *state, *stage;
    double initial_score, score;
    int64_t complaints, first_seen, last_seen, opened_at, updated_at, closed_at;
    bool repeat_offender, trusted;
};
int store_incident_get(struct store *st, int64_t id, struct store_incident_row *out,
                       struct ad_err *err);
void store_incident_row_clear(struct store_incident_row *r);

/* An earlier incident as the history lists it (strings as above). */
struct store_incident_brief {
    char *subject_kind, *subject, *state, *stage;
    int64_t opened_at;
    double score;
};
int store_incident_brief(struct store *st, int64_t id, struct store_incident_brief *out,
                         struct ad_err *err);
void store_incident_brief_clear(struct store_incident_brief *b);

/* The subjects of its reports, or its providers (unauthenticated ones
 * marked), each with how often, most frequent first. */
enum store_incident_count { STORE_INCIDENT_SUBJECTS, STORE_INCIDENT_PROVIDERS };
int store_incident_counts_each(struct store *st, int64_t id, enum store_incident_count what,
                               void (*fn)(const char *value, int64_t count, void *ctx), void *ctx,
                               struct ad_err *err);

/* Its counted complaints: reported by hand, automatically, all. */
int store_incident_manual(struct store *st, int64_t id, int64_t *manual, int64_t *automatic,
                          int64_t *all, struct ad_err *err);

/* The attribution of its first report; strings g_malloc'd or NULL. */
struct store_incident_evidence {
    char *evidence, *reason, *script, *source_ip;
};
int store_incident_evidence(struct store *st, int64_t id, struct store_incident_evidence *out,
                            struct ad_err *err);
void store_incident_evidence_clear(struct store_incident_evidence *e);

/* Its reports, with their scores (a report not scored: zeros and NULLs). */
struct store_incident_report {
    int64_t report_id, at;
    double score;
    bool counted, authenticated;
    const char *provider, *subject, *kind, *feedback_type, *reporter_how;
};
int store_incident_reports_each(struct store *st, int64_t id,
                                void (*fn)(const struct store_incident_report *r, void *ctx),
                                void *ctx, struct ad_err *err);

/* The customer's replies. */
struct store_incident_reply {
    int64_t report_id, at;
    const char *verdict, *from_addr, *subject;
};
int store_incident_replies_each(struct store *st, int64_t id,
                                void (*fn)(const struct store_incident_reply *r, void *ctx),
                                void *ctx, struct ad_err *err);

/* The mails queued about it. sent_at, bounced_at 0: not (yet). */
struct store_incident_notice {
    int64_t outbox_id, created_at, sent_at, bounced_at, bounce_report;
    bool failed;
    const char *kind, *template_name, *rcpt;
};
int store_incident_notices_each(struct store *st, int64_t id,
                                void (*fn)(const struct store_incident_notice *n, void *ctx),
                                void *ctx, struct ad_err *err);

/* Its audit log, oldest first. report_id 0: none. */
struct store_incident_audit {
    int64_t at, report_id;
    const char *actor, *action, *detail;
};
int store_incident_audit_each(struct store *st, int64_t id,
                              void (*fn)(const struct store_incident_audit *a, void *ctx),
                              void *ctx, struct ad_err *err);

/* Incident ids, newest first: all (state NULL), the open ones ("open") or
 * those in state. *ids g_malloc'd (g_free()), *n of them. */
int store_incident_ids(struct store *st, const char *state, int64_t **ids, size_t *n,
                       struct ad_err *err);

#endif

/*
 * incident.h: turns stored reports into incidents the abuse team can act on.
 * For each new report: attribution (attribute.h), score (score.h), one complaint
 * row per sender it names (account, script, customer, our IP), sums over the
 * sliding windows of [incidents] windows, and the stage those sums reach against
 * the thresholds (observe -> alert -> lock; lowered for repeat offenders). One
 * incident per sender is opened or escalated, never one per complaint. Every
 * decision goes to the append-only audit log.
 */
#ifndef AD_INCIDENT_H
#define AD_INCIDENT_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "parse/report.h"
#include "score/score.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"

enum incident_stage {
    INCIDENT_STAGE_NONE = 0,
    INCIDENT_STAGE_OBSERVE,
    INCIDENT_STAGE_ALERT,
    INCIDENT_STAGE_LOCK,
};

/* "observe", "alert", "lock" ("none" for INCIDENT_STAGE_NONE). */
const char *incident_stage_name(enum incident_stage s);

/* What processing one report did, for logs and callers. */
struct incident_outcome {
    bool attributed;
    double score;
    int64_t incident_id;        /* 0 when no incident was opened or touched */
    bool opened, escalated, reopened;
    enum incident_stage stage;
    bool run_lock;              /* the spam-run rule reached the lock stage: it weighed
                                 * the providers itself ([incidents] run_min_clients) */
    const char *subject_kind;   /* static; NULL when not attributed */
};

/* Processes stored report report_id (parsed as r, received at `at`, Unix seconds,
 * reported by rep: who vouched for it, see score.h; NULL: nobody)
 * inside the caller's transaction, under a savepoint: on failure nothing of it
 * is kept and the report stays unprocessed (`abusedesk process` retries).
 * Idempotent: a report processed before is skipped. Returns 0 or AD_ERR_*. */
int incident_process(const struct config *cfg, struct store *st, int64_t report_id,
                     const struct report *r, int64_t at, const struct score_reporter *rep,
                     const struct logger *log, struct incident_outcome *out, struct ad_err *err);

/* Appends to the audit log. incident_id and report_id may be 0. */
int incident_audit(struct store *st, int64_t incident_id, int64_t report_id, const char *actor,
                   const char *action, const char *detail, struct ad_err *err);

/* The same at a given time (Unix seconds; 0: the wall clock): the desk's
 * decisions are audited at the time of the report that caused them, which is
 * the report's filing time under ingest --replay. */
int incident_audit_at(struct store *st, int64_t at, int64_t incident_id, int64_t report_id,
                      const char *actor, const char *action, const char *detail,
                      struct ad_err *err);

/* Builds the full view of one incident (the keys of `incident show --json`):
 * id, state, stage, subject_kind, subject, customer_id, customer, account,
 * initial_score, score, complaints, subjects, providers, manual_share,
 * first_seen, last_seen, windows, repeat_offender, history, evidence, reports,
 * audit. *out is a new reference (json_decref). AD_ERR_NOTFOUND when absent. */
int incident_json(const struct config *cfg, struct store *st, int64_t id, int64_t now,
                  json_t **out, struct ad_err *err);

/* Calls fn with the id of each incident, newest first; state NULL for all, or
 * "open" for every incident not resolved or dismissed, or an exact state. */
int incident_each(struct store *st, const char *state, int (*fn)(int64_t id, void *ctx),
                  void *ctx, struct ad_err *err);

/* The sums of one sender over every window at now, as a JSON array
 * [{"window":"1h","score":..,"complaints":..}] (new reference). */
int incident_windows_json(const struct config *cfg, struct store *st, const char *kind,
                          const char *subject, int64_t now, json_t **out, struct ad_err *err);

/* Ids of the earlier incidents that make the customer or sender a repeat
 * offender at `at`: resolved, trusted, within [incidents] repeat_period, not
 * self (g_array of int64_t; the caller frees it, also on error). */
int incident_history(const struct config *cfg, struct store *st, int64_t self,
                     const char *customer_id, const char *kind, const char *subject, int64_t at,
                     GArray **out, struct ad_err *err);

/* Recomputes an incident's score, complaint count and first/last complaint
 * from its reports about kind (after reports were added or moved to it). */
int incident_recount(struct store *st, int64_t id, const char *kind, int64_t now,
                     struct ad_err *err);

/* Evidence of forgery of a customer's domain from elsewhere than complaints
 * (a DMARC aggregate report: mail failing authentication from addresses
 * outside our ranges): opens the customer's joe-job incident (kind "domain",
 * subject domain, stage observe; never a lock) or adds to the open one, with
 * report_id (0: none) attached and detail in the audit log. *incident_id gets
 * the incident; *opened tells whether it is new. Inside the caller's
 * transaction. */
int incident_joejob_evidence(struct store *st, const char *customer_id, const char *domain,
                             int64_t report_id, int64_t at, const char *detail,
                             int64_t *incident_id, bool *opened, struct ad_err *err);

/* Unix seconds as ISO 8601 UTC into buf (at least 21 bytes); "" for 0. */
const char *incident_iso(int64_t t, char buf[32]);

#endif

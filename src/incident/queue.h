/*
 * queue.h: the abuse team's queue and a report's explanation as JSON, shared
 * by the CLI (`abusedesk incidents`, `abusedesk explain`) and the web process
 * (GET /api/v1/incidents, /reports/ID, the queue page), so that both filter,
 * sort and explain the same way. Filters are given as NAME=VALUE pairs (the
 * CLI's --NAME VALUE, the API's query parameters) and checked here.
 */
#ifndef AD_INCIDENT_QUEUE_H
#define AD_INCIDENT_QUEUE_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"
#include "util/err.h"

struct incident_filter {
    const char *state;          /* NULL: every state; "open": all not closed; else exact */
    const char *customer, *account, *kind, *stage; /* NULL: any */
    int64_t since, until;       /* opened within (0: open-ended) */
    const char *sort;           /* id, score, complaints, opened */
    int64_t limit;              /* 0: all */
};

/* The defaults: state "open", sort "id", no limit. */
void incident_filter_init(struct incident_filter *f);

/* Sets filter name (state, customer, account, kind, stage, since, until, sort,
 * limit) to value (borrowed: must outlive f; state "all" means every state).
 * Returns 0; AD_ERR_USAGE for an unknown name, with *expect NULL, or for a
 * bad value, with *expect saying what was expected (a static string). */
int incident_filter_set(struct incident_filter *f, const char *name, const char *value,
                        const char **expect);

/* The incidents f selects, sorted and limited, as the full objects of
 * incident_json() in *out (a new GPtrArray that frees its elements). */
int incident_list(const struct config *cfg, struct store *st, const struct incident_filter *f,
                  int64_t now, GPtrArray **out, struct ad_err *err);

/* The keys of the `incidents --json` contract, in order, taken from an
 * incident_json() object (new reference). */
json_t *incident_summary(json_t *full);

/* How report id was attributed and scored (the keys of `explain --json`):
 * report_id, kind, feedback_type, subject, from, received_at, attribution
 * (with evidence), score (with terms), senders (sums per window now),
 * incidents. *out is a new reference. AD_ERR_NOTFOUND for no such report. */
int incident_explain_json(const struct config *cfg, struct store *st, int64_t id, int64_t now,
                          json_t **out, struct ad_err *err);

/* Unix seconds or ISO 8601 (UTC when without a zone); false when neither. */
bool incident_parse_time(const char *s, int64_t *out);

#endif

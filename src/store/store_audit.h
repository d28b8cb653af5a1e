/*
 * store_audit.h: DMARC aggregate reports and domain audit results in the
 * store (tables dmarc_reports, dmarc_rows and domain_audits, migration 10 in
 * store_sql.c). A DMARC report is stored once (report_key: reporter, report
 * id and domain), with one row per source address; `forged` is the number of
 * messages that failed DMARC from addresses outside our ranges. An audit run
 * stores per domain the records it saw and its findings' keys, so that the
 * next run can say what changed. Times are Unix seconds; strings handed to
 * callbacks are borrowed for the call. Callers group writes in one
 * transaction (store_begin()/store_commit()).
 */
#ifndef AD_STORE_AUDIT_H
#define AD_STORE_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

struct store_dmarc_report {
    int64_t id;
    const char *report_key, *org_name, *email, *report_id, *domain, *policy;
    int64_t begin_at, end_at, received_at;
    int64_t source_report;      /* reports.id of the mail, 0: none (a file) */
    const char *customer_id;    /* NULL: the domain is not one of ours */
    int64_t total, forged;
    int64_t incident_id;        /* 0: none */
};

struct store_dmarc_row {
    const char *source_ip;
    int64_t messages;
    const char *disposition, *dkim, *spf, *header_from, *envelope_from;
    const char *dkim_domain, *dkim_result, *spf_domain, *spf_result;
    bool ours;
};

/* Stores report r (r->id is ignored). *id gets the new id; returns 1 when
 * stored, 0 when a report with the same key is stored already (*id: its id),
 * or a negative AD_ERR_*. */
int store_audit_dmarc_add(struct store *st, const struct store_dmarc_report *r, int64_t *id,
                          struct ad_err *err);

/* One row of report dmarc_id. */
int store_audit_dmarc_row_add(struct store *st, int64_t dmarc_id, const struct store_dmarc_row *w,
                              struct ad_err *err);

/* Notes the incident the forgery of report dmarc_id went to. */
int store_audit_dmarc_set_incident(struct store *st, int64_t dmarc_id, int64_t incident_id,
                                   struct ad_err *err);

/* Calls fn for the reports of domain (NULL: all), newest first, at most
 * limit (0: all). fn returns non-zero to stop. */
int store_audit_dmarc_each(struct store *st, const char *domain, int64_t limit,
                           int (*fn)(const struct store_dmarc_report *r, void *ctx), void *ctx,
                           struct ad_err *err);

/* Calls fn for the rows of report dmarc_id, largest count first, at most limit
 * (0: all). */
int store_audit_dmarc_rows(struct store *st, int64_t dmarc_id, int64_t limit,
                           int (*fn)(const struct store_dmarc_row *w, void *ctx), void *ctx,
                           struct ad_err *err);

/* Sums of the reports about domain whose period ended after since: messages
 * failing DMARC from outside our ranges (*forged), all messages (*total),
 * reports (*n_reports). */
int store_audit_dmarc_sums(struct store *st, const char *domain, int64_t since, int64_t *forged,
                           int64_t *total, int64_t *n_reports, struct ad_err *err);

/* One audit run of one domain: the records seen (NULL: none) and the
 * findings' keys ("spf:plus_all dmarc:p_none", sorted, space-separated). */
struct store_audit_run {
    int64_t id, checked_at;
    const char *domain, *spf, *dmarc, *mx, *findings;
};

int store_audit_run_add(struct store *st, const struct store_audit_run *a, struct ad_err *err);

/* Calls fn once with the latest run of domain before `before` (nothing when
 * there is none). */
int store_audit_run_last(struct store *st, const char *domain, int64_t before,
                         void (*fn)(const struct store_audit_run *a, void *ctx), void *ctx,
                         struct ad_err *err);

/* *at: the time of the newest stored audit run of any domain (0: none), for
 * the reputation monitor's schedule ([reputation] audit_interval). */
int store_audit_run_latest(struct store *st, int64_t *at, struct ad_err *err);

/* Calls fn for every domain of the customer directory (lower case) with its
 * customer, sorted; strings borrowed for the call. */
int store_audit_domains_each(struct store *st,
                             void (*fn)(const char *domain, const char *customer_id, void *ctx),
                             void *ctx, struct ad_err *err);

#endif

/*
 * store_reports.h: the report listing of `abusedesk reports`: each report with
 * the account the desk attributed it to and the incident it was filed into,
 * filtered like `abusedesk incidents`.
 */
#ifndef AD_STORE_REPORTS_H
#define AD_STORE_REPORTS_H

#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

struct store_reports_filter {
    const char *kind;       /* arf, dsn, ...; NULL: any */
    const char *account;    /* attributed account (any case); NULL: any */
    int64_t incident_id;    /* filed into this incident; 0: any */
    int64_t since, until;   /* received at or after / before (Unix seconds); 0: open */
    int64_t limit;          /* at most this many rows; 0: all */
};

struct store_reports_item {
    int64_t id;
    int64_t incident_id;    /* the first incident it was filed into; 0: none */
    /* borrowed, valid during the callback only; NULL when not known */
    const char *received_at, *kind, *status, *feedback_type, *subject, *parsed_json;
    const char *account;    /* the attributed account (or the sender account) */
};

/* Calls fn for each report that passes filter, newest first; fn returns
 * non-zero to stop. The rows are copied out before fn runs, so no statement
 * stays open while the caller prints. 0 or a negative AD_ERR_* code. */
int store_reports_list(struct store *st, const struct store_reports_filter *filter,
                       int (*fn)(const struct store_reports_item *item, void *ctx), void *ctx,
                       struct ad_err *err);

#endif

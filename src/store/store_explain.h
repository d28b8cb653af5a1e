/*
 * store_explain.h: what the desk made of one report, for `abusedesk explain`:
 * its attribution, its score, the senders it was filed under and its
 * incidents.
 */
#ifndef AD_STORE_EXPLAIN_H
#define AD_STORE_EXPLAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* The attribution of a report; strings g_malloc'd (NULL for SQL NULL), free
 * with store_explain_clear(). evidence is JSON text. */
struct store_explain_attr {
    char *status, *subject_kind, *subject, *account, *script, *customer_id, *source_ip;
    char *reason, *evidence;
};

/* The score of a report; strings as above. terms is JSON text. manual_null:
 * no manual verdict. */
struct store_explain_score {
    double total;
    bool counted, manual, manual_null;
    char *provider, *message_id, *terms;
    int64_t at;
};

/* Reads the attribution (score) of report_id: 1 when there is one, 0 when
 * not (not processed yet), or < 0. */
int store_explain_attribution(struct store *st, int64_t report_id, struct store_explain_attr *out,
                              struct ad_err *err);
int store_explain_score(struct store *st, int64_t report_id, struct store_explain_score *out,
                        struct ad_err *err);
void store_explain_attr_clear(struct store_explain_attr *a);
void store_explain_score_clear(struct store_explain_score *s);

/* Calls fn for each sender (subject_kind, subject) the report was filed
 * under, accounts first, then scripts, customers, others. The rows are read
 * before the first call, so fn may use the store; strings are borrowed for the
 * call. fn returns non-zero to stop (that value is returned). */
int store_explain_senders(struct store *st, int64_t report_id,
                          int (*fn)(const char *subject_kind, const char *subject, void *ctx),
                          void *ctx, struct ad_err *err);

/* Calls fn for each incident the report belongs to, by id; fn must not use
 * the store. */
int store_explain_incidents(struct store *st, int64_t report_id,
                            void (*fn)(int64_t incident_id, void *ctx), void *ctx,
                            struct ad_err *err);

#endif

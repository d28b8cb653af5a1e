/*
 * dmarc_desk.h: what the desk worker does with a DMARC aggregate report: it
 * stores the report and its rows (store_audit.h), marks each row whose source
 * is one of our addresses ([network] our_ips, [reputation] addresses), and
 * when the report's domain belongs to a customer and mail failing DMARC
 * (neither DKIM nor SPF aligned and passing) came from addresses outside our
 * ranges, files that volume as evidence of forgery (a joe job) into the
 * customer's incident (incident_joejob_evidence(); never a lock). Addresses
 * are never resolved to names.
 */
#ifndef AD_DMARC_DESK_H
#define AD_DMARC_DESK_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "reputation/dmarc.h"
#include "store/store.h"
#include "util/err.h"

struct dmarc_desk_outcome {
    int64_t dmarc_id;           /* the stored report */
    bool duplicate;             /* stored before: nothing done again */
    char *customer_id;          /* g_malloc'd or NULL; dmarc_desk_outcome_clear() */
    uint64_t forged;            /* messages failing DMARC from outside our ranges */
    int64_t incident_id;        /* the joe-job incident, 0: none */
    bool opened;
};

/* True when textual address ip is one of ours. */
bool dmarc_desk_ip_is_ours(const struct config *cfg, const char *ip);

/* Stores report r (from the mail stored as report_id, 0: from a file)
 * received at `at`, inside the caller's transaction; see above. */
int dmarc_desk_file(const struct config *cfg, struct store *st, const struct dmarc_report *r,
                    int64_t report_id, int64_t at, struct dmarc_desk_outcome *out,
                    struct ad_err *err);

void dmarc_desk_outcome_clear(struct dmarc_desk_outcome *o);

#endif

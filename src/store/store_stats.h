/*
 * store_stats.h: counts per day for `abusedesk stats`: what came in and what
 * the desk did with it.
 */
#ifndef AD_STORE_STATS_H
#define AD_STORE_STATS_H

#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

enum store_stats_col {
    STATS_REPORTS,      /* reports stored */
    STATS_COMPLAINTS,   /* complaints counted toward a sender */
    STATS_INCIDENTS,    /* incidents opened */
    STATS_LOCKS,        /* locks set */
    STATS_UNLOCKS,      /* locks released */
    STATS_MAILS,        /* mails sent (notices and alerts) */
    STATS_BOUNCED,      /* notices that bounced */
    STATS_N
};

/* Fills counts[day][col] for the n_days days (UTC) ending with the day of now:
 * day 0 is the oldest. counts must hold n_days rows. */
int store_stats_daily(struct store *st, int64_t now, int n_days, int64_t (*counts)[STATS_N],
                      struct ad_err *err);

#endif

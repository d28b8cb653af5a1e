/*
 * feeds.h: the health of the report feeds, one per configured provider
 * ([providers]): when its last report came, how many it sends (the volume
 * baseline over [reputation] feed_baseline) and at what usual interval (the
 * mean gap between its reports, at least feed_baseline / their number), and
 * whether it went silent (nothing for feed_silence_factor x the usual
 * interval) or its recent reports fail to parse or to authenticate. A report
 * belongs to the provider whose domain its From address has (the longest
 * match, as for scoring). feeds_alert() tells the team once per episode
 * (template team_feed) and closes the episode when the feed is healthy again.
 */
#ifndef AD_FEEDS_H
#define AD_FEEDS_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"

#define FEEDS_RECENT 5          /* the last reports judged for parse and auth failures */

enum feed_state {
    FEED_OK = 0,
    FEED_NEVER,                 /* no report in the baseline time */
    FEED_LEARNING,              /* too few reports for a usual interval (fewer than 3) */
    FEED_SILENT,
    FEED_PARSE_FAILING,         /* most of the last reports did not parse */
    FEED_AUTH_FAILING,          /* most of the last parsed reports were not authenticated */
};

/* "ok", "never", "learning", "silent", "parse-failing", "auth-failing". */
const char *feed_state_name(enum feed_state s);

struct feed {
    const char *provider;       /* borrowed from the configuration */
    int64_t last;               /* Unix seconds of the newest report; 0: none */
    size_t n;                   /* reports in the baseline time */
    double per_day;             /* their average per day */
    int64_t interval;           /* usual seconds between two reports; 0: not known */
    size_t recent, recent_unparsed, recent_unauth;
    enum feed_state state;
};

/* The state of every configured provider's feed at now: *out (g_free()) gets
 * cfg->n_providers entries. */
int feeds_assess(const struct config *cfg, struct store *st, int64_t now, struct feed **out,
                 size_t *n, struct ad_err *err);

/* Opens the alert episodes (and queues the team mail) of feeds in trouble,
 * closes those of feeds healthy again. Own transactions. *alerted (may be
 * NULL): how many episodes were opened. */
int feeds_alert(const struct config *cfg, struct store *st, const struct logger *log,
                int64_t now, const struct feed *f, size_t n, size_t *alerted, struct ad_err *err);

#endif

/*
 * store_stats.c: counts per UTC day (see store_stats.h). Reads the times of
 * the rows in the window and buckets them here, so the SQL stays the same on
 * both backends (no date functions).
 */
#include "store_stats.h"

#include <glib.h>
#include <string.h>

#include "store/store_q.h"

static const char sql_reports[] = "SELECT received_at FROM reports WHERE received_at >= $1";
static const char sql_complaints[] =
    "SELECT at FROM scores WHERE at >= $1 AND counted = 1";
static const char sql_incidents[] = "SELECT opened_at FROM incidents WHERE opened_at >= $1";
static const char sql_locks[] = "SELECT locked_at FROM locks WHERE locked_at >= $1";
static const char sql_unlocks[] = "SELECT unlocked_at FROM locks WHERE unlocked_at >= $1";
static const char sql_mails[] = "SELECT sent_at FROM outbox WHERE sent_at >= $1";
static const char sql_bounced[] = "SELECT bounced_at FROM outbox WHERE bounced_at >= $1";

static int bucket(struct store *st, const char *sql, bool iso, int64_t start, int n_days,
                  int64_t (*counts)[STATS_N], enum store_stats_col col, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql, &q, err);
    if (rc)
        return rc;
    char startiso[32] = "";
    if (iso) {
        GDateTime *dt = g_date_time_new_from_unix_utc(start);
        char *s = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
        g_strlcpy(startiso, s, sizeof startiso);
        g_free(s);
        g_date_time_unref(dt);
        store_q_text(q, 1, startiso);
    } else {
        store_q_int(q, 1, start);
    }
    while ((rc = store_q_step(q, err)) == 1) {
        int64_t t = 0;
        if (iso) {
            const char *v = store_q_col_text(q, 0);
            GDateTime *dt = v ? g_date_time_new_from_iso8601(v, NULL) : NULL;
            if (!dt)
                continue;
            t = g_date_time_to_unix(dt);
            g_date_time_unref(dt);
        } else {
            t = store_q_col_int(q, 0);
        }
        int64_t d = (t - start) / 86400;
        if (d >= 0 && d < n_days)
            counts[d][col]++;
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_stats_daily(struct store *st, int64_t now, int n_days, int64_t (*counts)[STATS_N],
                      struct ad_err *err)
{
    memset(counts, 0, sizeof(*counts) * (size_t)n_days);
    int64_t start = (now / 86400 - (n_days - 1)) * 86400;
    struct {
        const char *sql;
        bool iso;
        enum store_stats_col col;
    } parts[] = {
        { sql_reports, true, STATS_REPORTS },     { sql_complaints, false, STATS_COMPLAINTS },
        { sql_incidents, false, STATS_INCIDENTS }, { sql_locks, false, STATS_LOCKS },
        { sql_unlocks, false, STATS_UNLOCKS },     { sql_mails, false, STATS_MAILS },
        { sql_bounced, false, STATS_BOUNCED },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(parts); i++) {
        int rc = bucket(st, parts[i].sql, parts[i].iso, start, n_days, counts, parts[i].col, err);
        if (rc)
            return rc;
    }
    return 0;
}

/*
 * cmd_feeds.c: `abusedesk feeds [--json] [--alert]`: the health of each
 * configured provider's report feed (act/feeds.h): its last report, its
 * volume over [reputation] feed_baseline, its usual interval and its state.
 * --alert also does what the reputation monitor does each round: opens the
 * alert episodes of feeds in trouble (the team is told) and closes those of
 * feeds healthy again. Exit status 0 when every feed is ok (or still
 * learning, or never sent anything), 1 when one is silent or failing, 75 when
 * the store is unavailable.
 */
#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "act/feeds.h"
#include "cli.h"
#include "store/store.h"
#include "util/textsafe.h"

static char *iso_or_null(int64_t t)
{
    if (!t)
        return NULL;
    GDateTime *dt = g_date_time_new_from_unix_utc(t);
    char *s = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
    g_date_time_unref(dt);
    return s;
}

int cmd_feeds(struct cli *cli, int argc, char **argv)
{
    bool json = false, alert = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--alert")) {
            alert = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: abusedesk [GLOBAL OPTIONS] feeds [--json] [--alert]\n\n"
                   "The report feed of each provider of [providers]: the last report, the\n"
                   "reports in [reputation] feed_baseline and per day, the usual interval, and\n"
                   "the state: ok, never (no report in that time), learning (fewer than 3),\n"
                   "silent (nothing for feed_silence_factor x the usual interval),\n"
                   "parse-failing or auth-failing (most of the last %d reports). --json: one\n"
                   "object per feed. --alert: tell the team of feeds in trouble, once per\n"
                   "episode, as the reputation monitor does. Exit 1 when a feed is silent or\n"
                   "failing.\n", FEEDS_RECENT);
            return 0;
        } else {
            fprintf(stderr, "abusedesk feeds: unknown argument '%s'\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc)
        return rc;
    struct ad_err err = { 0 };
    struct feed *f = NULL;
    size_t n = 0;
    int64_t now = (int64_t)time(NULL);
    if (feeds_assess(&cli->cfg, st, now, &f, &n, &err) != 0) {
        fprintf(stderr, "abusedesk feeds: %s\n", err.msg);
        store_close(st);
        return err.code == AD_ERR_BUSY || err.code == AD_ERR_STORE ? EXIT_TEMPFAIL : EXIT_SOFTWARE;
    }
    if (alert && feeds_alert(&cli->cfg, st, &cli->log, now, f, n, NULL, &err) != 0) {
        fprintf(stderr, "abusedesk feeds: alerts: %s\n", err.msg);
        rc = EXIT_TEMPFAIL;
    }
    if (!json && n)
        printf("%-28s %-14s %-20s %8s %9s %12s\n", "PROVIDER", "STATE", "LAST REPORT", "REPORTS",
               "PER DAY", "INTERVAL");
    bool bad = false;
    for (size_t i = 0; i < n; i++) {
        char *last = iso_or_null(f[i].last);
        bad |= f[i].state >= FEED_SILENT;
        if (json) {
            json_t *o = json_pack("{s:s, s:s, s:o, s:I, s:f, s:o, s:I, s:I, s:I}", "provider",
                                  f[i].provider, "state", feed_state_name(f[i].state),
                                  "last_report", last ? json_string(last) : json_null(),
                                  "reports", (json_int_t)f[i].n, "per_day", f[i].per_day,
                                  "usual_interval",
                                  f[i].interval ? json_integer(f[i].interval) : json_null(),
                                  "recent", (json_int_t)f[i].recent, "recent_unparsed",
                                  (json_int_t)f[i].recent_unparsed, "recent_unauthenticated",
                                  (json_int_t)f[i].recent_unauth);
            char *line = json_dumps(o, JSON_COMPACT);
            printf("%s\n", line);
            free(line);
            json_decref(o);
        } else {
            char *p = textsafe_terminal(f[i].provider);
            char iv[32] = "-";
            if (f[i].interval)
                g_snprintf(iv, sizeof iv, "%llds", (long long)f[i].interval);
            printf("%-28s %-14s %-20s %8zu %9.1f %12s\n", p, feed_state_name(f[i].state),
                   last ? last : "-", f[i].n, f[i].per_day, iv);
            g_free(p);
        }
        g_free(last);
    }
    if (!json && !n)
        printf("no providers configured ([providers]): no feed to watch\n");
    g_free(f);
    store_close(st);
    return rc ? rc : bad ? 1 : 0;
}

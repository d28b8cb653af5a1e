/*
 * feeds.c: feed health (see feeds.h). Called by the reputation monitor each
 * round and by `abusedesk feeds`. Reads the reports of the baseline time once
 * (time, From, kind, authenticated: store_listing_feed_reports()), newest
 * first and at most FEEDS_ROWS_MAX of them (beyond, the oldest are left out:
 * the baseline is shorter, the recent state exact), and keeps per provider only counts and the last
 * few outcomes. Errors are the store's.
 */
#include "act/feeds.h"

#include <glib.h>
#include <string.h>

#include "act/outbox.h"
#include "store/store_listing.h"
#include "util/textsafe.h"

#define FEEDS_ROWS_MAX 1000000

static const char *const state_names[] = { "ok", "never", "learning", "silent", "parse-failing",
                                           "auth-failing" };

const char *feed_state_name(enum feed_state s)
{
    return (size_t)s < G_N_ELEMENTS(state_names) ? state_names[s] : "?";
}

struct acc {
    const struct config *cfg;
    struct feed *f;
    int64_t *first;
    unsigned char (*ring)[FEEDS_RECENT]; /* per feed: 1 unparsed, 2 unauthenticated, 3 ok */
};

/* The domain of a From address ("Name <a@b.example>", "a@b.example"). */
static char *from_domain(const char *from)
{
    const char *at = from ? strrchr(from, '@') : NULL;
    if (!at)
        return NULL;
    size_t n = strcspn(at + 1, "> \t\r\n");
    return n ? g_ascii_strdown(at + 1, (gssize)n) : NULL;
}

static void feed_row(const char *received_at, const char *from_addr, const char *kind,
                     int authenticated, void *ctx)
{
    struct acc *a = ctx;
    char *dom = from_domain(from_addr);
    const struct config_provider *p = dom ? config_provider_find(a->cfg, dom) : NULL;
    g_free(dom);
    if (!p)
        return;
    size_t i = (size_t)(p - a->cfg->providers);
    GDateTime *dt = received_at ? g_date_time_new_from_iso8601(received_at, NULL) : NULL;
    if (!dt)
        return;
    int64_t t = g_date_time_to_unix(dt);
    g_date_time_unref(dt);
    struct feed *f = &a->f[i];
    if (!f->n || t < a->first[i])
        a->first[i] = t;
    if (t > f->last)
        f->last = t;
    /* Rows come newest first: the first FEEDS_RECENT are the recent ones. */
    if (f->n < FEEDS_RECENT)
        a->ring[i][f->n] = kind && !strcmp(kind, "unknown") ? 1
                           : authenticated == 0             ? 2
                                                            : 3;
    f->n++;
}

int feeds_assess(const struct config *cfg, struct store *st, int64_t now, struct feed **out,
                 size_t *n, struct ad_err *err)
{
    size_t np = cfg->n_providers;
    struct feed *f = g_new0(struct feed, np ? np : 1);
    struct acc a = { cfg, f, g_new0(int64_t, np ? np : 1),
                     g_malloc0(sizeof *a.ring * (np ? np : 1)) };
    GDateTime *dt = g_date_time_new_from_unix_utc(now - cfg->rep_feed_baseline);
    char *since = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
    g_date_time_unref(dt);
    int rc = store_listing_feed_reports(st, since, FEEDS_ROWS_MAX, feed_row, &a, err);
    g_free(since);
    for (size_t i = 0; i < np; i++) {
        struct feed *x = &f[i];
        x->provider = cfg->providers[i].domain;
        x->per_day = (double)x->n * 86400.0 / (double)cfg->rep_feed_baseline;
        /* The usual interval: the mean gap between its reports, but never
         * shorter than the baseline time over their number, so that a burst
         * (a hundred reports in an hour, then quiet for days) is not a pace. */
        if (x->n >= 2)
            x->interval = MAX((x->last - a.first[i]) / (int64_t)(x->n - 1),
                              cfg->rep_feed_baseline / (int64_t)x->n);
        x->recent = MIN(x->n, (size_t)FEEDS_RECENT);
        for (size_t k = 0; k < x->recent; k++) {
            x->recent_unparsed += a.ring[i][k] == 1;
            x->recent_unauth += a.ring[i][k] == 2;
        }
        size_t parsed = x->recent - x->recent_unparsed;
        if (x->n == 0)
            x->state = FEED_NEVER;
        else if (x->recent >= 3 && x->recent_unparsed * 2 > x->recent)
            x->state = FEED_PARSE_FAILING;
        else if (parsed >= 3 && x->recent_unauth * 2 > parsed)
            x->state = FEED_AUTH_FAILING;
        else if (x->n < 3 || x->interval <= 0)
            x->state = FEED_LEARNING;
        else if ((double)(now - x->last) > cfg->rep_feed_silence_factor * (double)x->interval)
            x->state = FEED_SILENT;
        else
            x->state = FEED_OK;
    }
    g_free(a.first);
    g_free(a.ring);
    if (rc) {
        g_free(f);
        return rc;
    }
    *out = f;
    *n = np;
    return 0;
}

static char *duration_text(int64_t s)
{
    if (s <= 0)
        return g_strdup("-");
    if (s >= 86400)
        return g_strdup_printf("%.1f days", (double)s / 86400.0);
    if (s >= 3600)
        return g_strdup_printf("%.1f hours", (double)s / 3600.0);
    return g_strdup_printf("%lld minutes", (long long)((s + 59) / 60));
}

static const char *const kinds[] = { "feed_silent", "feed_parse", "feed_auth" };

static const char *kind_of(enum feed_state s)
{
    return s == FEED_SILENT ? kinds[0] : s == FEED_PARSE_FAILING ? kinds[1]
                                     : s == FEED_AUTH_FAILING    ? kinds[2]
                                                                 : NULL;
}

static char *problem_text(const struct config *cfg, const struct feed *f, int64_t now)
{
    char *gap = duration_text(now - f->last), *usual = duration_text(f->interval);
    char *s;
    if (f->state == FEED_SILENT)
        s = g_strdup_printf("no report for %s, %.1f times its usual interval of %s "
                            "([reputation] feed_silence_factor %.1f)", gap,
                            (double)(now - f->last) / (double)f->interval, usual,
                            cfg->rep_feed_silence_factor);
    else if (f->state == FEED_PARSE_FAILING)
        s = g_strdup_printf("%zu of its last %zu reports could not be parsed (kind unknown): did "
                            "the format change?", f->recent_unparsed, f->recent);
    else
        s = g_strdup_printf("%zu of its last %zu parsed reports were not authenticated (no "
                            "trusted Authentication-Results, no valid DKIM signature of the "
                            "provider): did its signing domain or our MX change?",
                            f->recent_unauth, f->recent - f->recent_unparsed);
    g_free(gap);
    g_free(usual);
    return s;
}

static void put(GHashTable *v, const char *k, char *owned)
{
    g_hash_table_replace(v, g_strdup(k), owned ? owned : g_strdup(""));
}

static int open_episode(const struct config *cfg, struct store *st, const struct logger *log,
                        int64_t now, const struct feed *f, const char *kind, struct ad_err *err)
{
    char *problem = problem_text(cfg, f, now);
    GHashTable *v = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    GDateTime *dt = f->last ? g_date_time_new_from_unix_utc(f->last) : NULL;
    put(v, "ticket", g_strdup_printf("[%s]", cfg->ticket_prefix));
    put(v, "provider", textsafe_line(f->provider, 120));
    put(v, "state", g_strdup(feed_state_name(f->state)));
    put(v, "problem", g_strdup(problem));
    put(v, "last_report", dt ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("-"));
    put(v, "usual_interval", duration_text(f->interval));
    put(v, "per_day", g_strdup_printf("%.1f", f->per_day));
    put(v, "reports", g_strdup_printf("%zu", f->n));
    put(v, "desk_name", g_strdup(cfg->desk_name));
    if (dt)
        g_date_time_unref(dt);
    int rc = store_begin(st, err);
    if (rc == 0)
        rc = store_repalert_open(st, kind, f->provider, problem, now, NULL, err);
    if (rc == 0 && *cfg->abuse_team)
        rc = outbox_mail(cfg, st, 0, "team", "team_feed", cfg->team_language, v, cfg->abuse_team,
                         cfg->desk_name, now, NULL, err);
    if (rc == 0) {
        json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "event", "alert", "kind", kind,
                               "provider", f->provider, "problem", problem);
        char key[200];
        g_snprintf(key, sizeof key, "%s-%s-%lld", kind, f->provider, (long long)now);
        rc = outbox_webhook(cfg, st, 0, "alert", key, ev, now, err);
        json_decref(ev);
    }
    if (rc == 0)
        rc = store_commit(st, err);
    if (rc)
        store_rollback(st);
    else
        log_msg(log, LOG_LEVEL_WARNING, "feed %s: %s", f->provider, problem);
    g_hash_table_destroy(v);
    g_free(problem);
    return rc;
}

int feeds_alert(const struct config *cfg, struct store *st, const struct logger *log,
                int64_t now, const struct feed *f, size_t n, size_t *alerted, struct ad_err *err)
{
    size_t na = 0;
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        const char *want = kind_of(f[i].state);
        for (size_t k = 0; k < G_N_ELEMENTS(kinds); k++) {
            struct ad_err e = { 0 };
            int64_t id = 0, opened = 0, closed = 0;
            int rc = store_repalert_last(st, kinds[k], f[i].provider, &id, &opened, &closed, &e);
            bool open = rc == 0 && id && !closed;
            if (rc == 0 && want == kinds[k] && !open) {
                rc = open_episode(cfg, st, log, now, &f[i], kinds[k], &e);
                na += rc == 0;
            } else if (rc == 0 && want != kinds[k] && open) {
                rc = store_repalert_close(st, id, now, &e);
                if (rc == 0)
                    log_msg(log, LOG_LEVEL_INFO, "feed %s: %s over (state %s)", f[i].provider,
                            kinds[k], feed_state_name(f[i].state));
            }
            if (rc && !first) {
                first = rc;
                *err = e;
            }
        }
    }
    if (alerted)
        *alerted = na;
    return first;
}

/*
 * cmd_replay.c: `abusedesk replay-report [--json] [--since T] [--until T]`:
 * every decision the desk took (alerts the team read, locks, customer notices,
 * unlocks, dismissals, resolutions, locks held for the team), oldest first,
 * with the time it was taken, which after `ingest --replay` is the archive's
 * clock. Text output passes every stored string through textsafe_terminal()
 * (subjects come from mail); --json prints one object per line for programs.
 * Exit 0, 64 for bad options, the store's codes otherwise.
 */
#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "store/store.h"
#include "store/store_replay.h"
#include "util/textsafe.h"

struct out {
    bool json;
    size_t n;
    GHashTable *per_kind;   /* kind -> count (GINT_TO_POINTER) */
};

static char *iso(int64_t t)
{
    GDateTime *dt = g_date_time_new_from_unix_utc(t);
    char *s = dt ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("-");
    if (dt)
        g_date_time_unref(dt);
    return s;
}

static int print_one(const struct store_replay_decision *d, void *ctx)
{
    struct out *o = ctx;
    char *when = iso(d->at);
    o->n++;
    gpointer c = g_hash_table_lookup(o->per_kind, d->kind);
    g_hash_table_replace(o->per_kind, g_strdup(d->kind), GINT_TO_POINTER(GPOINTER_TO_INT(c) + 1));
    if (o->json) {
        json_t *j = json_pack("{s:I,s:s,s:I,s:s,s:s?,s:s?,s:s?,s:s?}", "at", (json_int_t)d->at,
                              "time", when, "incident", (json_int_t)d->incident_id, "kind",
                              d->kind, "subject_kind", d->subject_kind, "subject", d->subject,
                              "status", d->status, "detail", d->detail);
        char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (line)
            printf("%s\n", line);
        free(line);
        json_decref(j);
    } else {
        char *subj = textsafe_terminal(d->subject ? d->subject : "-");
        char *det = textsafe_terminal(d->detail ? d->detail : "");
        char *st = textsafe_terminal(d->status ? d->status : "");
        printf("%s  %6lld  %-9s %-28s %-10s %s\n", when, (long long)d->incident_id, d->kind,
               subj, st, det);
        g_free(subj);
        g_free(det);
        g_free(st);
    }
    g_free(when);
    return 0;
}

static bool parse_time(const char *s, int64_t *t)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (*s && end && !*end && v >= 0) {
        *t = v;
        return true;
    }
    GTimeZone *utc = g_time_zone_new_utc();
    /* a day alone ("2026-10-05") means its midnight, UTC */
    char *full = strlen(s) == 10 ? g_strconcat(s, "T00:00:00", NULL) : g_strdup(s);
    GDateTime *dt = g_date_time_new_from_iso8601(full, utc);
    g_free(full);
    g_time_zone_unref(utc);
    if (!dt)
        return false;
    *t = g_date_time_to_unix(dt);
    g_date_time_unref(dt);
    return true;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: abusedesk [GLOBAL OPTIONS] replay-report [--json] [--since T] [--until T]\n"
            "\n"
            "Every decision of the desk with the time it was taken, oldest first: alert\n"
            "(a mail the team reads), lock, notice (a mail to the customer; status sent,\n"
            "queued, failed, or held when ingest --replay ran without --notify), unlock,\n"
            "dismiss, resolve, lock-held (the lock stage was reached but the team decides).\n"
            "After `abusedesk ingest --replay` and `abusedesk process` the times are the\n"
            "archive's. T is Unix seconds, a day (2026-10-05) or ISO 8601 (UTC when no\n"
            "zone is given).\n"
            "\n"
            "  --json   one JSON object per line: at, time, incident, kind,\n"
            "           subject_kind, subject, status, detail\n");
}

int cmd_replay_report(struct cli *cli, int argc, char **argv)
{
    struct out o = { 0 };
    int64_t since = 0, until = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            o.json = true;
        } else if ((!strcmp(argv[i], "--since") || !strcmp(argv[i], "--until")) && i + 1 < argc) {
            bool is_since = !strcmp(argv[i], "--since");
            if (!parse_time(argv[++i], is_since ? &since : &until)) {
                char *t = textsafe_terminal(argv[i]);
                fprintf(stderr, "abusedesk replay-report: not a time: '%s'\n", t);
                g_free(t);
                return EXIT_USAGE;
            }
        } else {
            char *t = textsafe_terminal(argv[i]);
            fprintf(stderr, "abusedesk replay-report: unknown or incomplete option '%s'\n", t);
            g_free(t);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    struct store *st = NULL;
    int ec = cli_open_store(cli, &st);
    if (ec)
        return ec;
    o.per_kind = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    struct ad_err err = { 0 };
    int rc = store_replay_decisions(st, since, until, print_one, &o, &err);
    if (rc == 0 && !o.json) {
        printf("%zu decision(s)", o.n);
        static const char *const kinds[] = { "alert", "lock", "notice", "unlock", "dismiss",
                                             "resolve", "lock-held" };
        for (size_t k = 0; k < G_N_ELEMENTS(kinds); k++)
            printf("%s %s %d", k ? "," : ":", kinds[k],
                   GPOINTER_TO_INT(g_hash_table_lookup(o.per_kind, kinds[k])));
        printf("\n");
    }
    g_hash_table_destroy(o.per_kind);
    store_close(st);
    if (rc) {
        fprintf(stderr, "abusedesk replay-report: %s\n", err.msg);
        return rc == AD_ERR_BUSY ? EXIT_TEMPFAIL : EXIT_SOFTWARE;
    }
    return 0;
}

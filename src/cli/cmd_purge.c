/*
 * cmd_purge.c: `abusedesk purge [--dry-run] [--now TIME]`: the retention purge
 * of [store] retention (src/intake/retention.c). --dry-run lists the reports
 * that would lose their raw message and personal fields and changes nothing;
 * --now moves the clock (for a test, or to preview a later day). One summary
 * line on standard output; one log line (key=value) per run. Exit status 0,
 * 75 when the database is busy, 70 on another store failure, 64 usage.
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "intake/retention.h"
#include "store/store.h"
#include "util/textsafe.h"

static void purge_usage(FILE *f)
{
    fprintf(f, "usage: abusedesk [GLOBAL OPTIONS] purge [--dry-run] [--now TIME]\n\n"
               "Applies [store] retention (default 180d): a report received longer ago whose\n"
               "incidents (if any) were all resolved, dismissed or merged longer ago loses its\n"
               "raw message, spool copy and personal fields: sender and recipient addresses,\n"
               "subjects, reported URIs, DSN recipients and diagnostic texts. Its row, kind,\n"
               "dates, counts, scores, attribution and the incidents stay. Runs daily in\n"
               "abusedesk run and in abusedesk-purge.timer.\n\n"
               "  --dry-run   list what would be purged, change nothing\n"
               "  --now TIME  act as if it were TIME (ISO 8601 or Unix seconds)\n");
}

static void list_one(const struct store_purge_row *r, void *ctx)
{
    if (!*(bool *)ctx)
        return;
    char *at = textsafe_terminal(r->received_at ? r->received_at : "-");
    char *kind = textsafe_terminal(r->kind ? r->kind : "-");
    printf("report %lld  %s  %-12s %lld bytes%s%s\n", (long long)r->id, at, kind,
           (long long)r->size, r->has_raw ? ", raw message" : "",
           r->spool_path ? ", spool copy" : "");
    g_free(at);
    g_free(kind);
}

int cmd_purge(struct cli *cli, int argc, char **argv)
{
    bool dry_run = false;
    int64_t now = (int64_t)(g_get_real_time() / G_USEC_PER_SEC);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            purge_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--dry-run")) {
            dry_run = true;
        } else if (!strcmp(argv[i], "--now") && i + 1 < argc) {
            if (!cli_parse_time(argv[++i], &now)) {
                char *t = textsafe_terminal(argv[i]);
                fprintf(stderr, "abusedesk purge: --now expects a time (ISO 8601 or Unix "
                                "seconds), got '%s'\n", t);
                g_free(t);
                return EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "abusedesk purge: unknown option or missing value '%s'\n", argv[i]);
            purge_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (cli->cfg.store_retention <= 0) {
        printf("purge: [store] retention is 0: reports are kept for ever\n");
        return 0;
    }
    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc)
        return rc;
    struct retention_stats s;
    struct ad_err err = { 0 };
    rc = retention_purge(st, &cli->cfg, now, dry_run, list_one, &dry_run, &s, &err);
    store_close(st);
    long long days = cli->cfg.store_retention / 86400;
    printf("purge%s: %zu report%s older than %lld%s (incidents closed as long): %zu raw "
           "message%s, %zu spool cop%s, %lld bytes\n",
           dry_run ? " (dry run, nothing changed)" : "", s.n_reports, s.n_reports == 1 ? "" : "s",
           days ? days : cli->cfg.store_retention, days ? "d" : "s", s.n_raw,
           s.n_raw == 1 ? "" : "s", s.n_spool, s.n_spool == 1 ? "y" : "ies", (long long)s.bytes);
    if (!dry_run)
        log_msg(&cli->log, rc ? LOG_LEVEL_ERROR : LOG_LEVEL_INFO,
                "purge reports=%zu raw=%zu spool=%zu bytes=%lld retention=%llds%s%s", s.n_reports,
                s.n_raw, s.n_spool, (long long)s.bytes, cli->cfg.store_retention,
                rc ? " error=" : "", rc ? err.msg : "");
    if (rc) {
        fprintf(stderr, "abusedesk purge: %s\n", err.msg);
        return err.code == AD_ERR_BUSY ? EXIT_TEMPFAIL : EXIT_SOFTWARE;
    }
    return 0;
}

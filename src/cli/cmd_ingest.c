/*
 * cmd_ingest.c: `abusedesk ingest` for MTA delivery (Postfix pipe(8), .forward,
 * procmail) and for Maildirs. Exit status per sysexits, which is what pipe(8)
 * understands: 0 stored (or already stored), 75 the store is unavailable so the MTA
 * should keep the message and retry, 65 the input is not a mail at all (kept in the
 * quarantine folder), 74 an I/O error (also retried by Postfix).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "intake/intake.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: abusedesk [GLOBAL OPTIONS] ingest [-q] [--source NAME]\n"
            "       abusedesk [GLOBAL OPTIONS] ingest [-q] --maildir DIR\n"
            "       abusedesk [GLOBAL OPTIONS] ingest [-q] --recover\n"
            "       abusedesk [GLOBAL OPTIONS] ingest [-q] --replay [--notify] [--maildir DIR]\n"
            "\n"
            "Stores report mail. Without options, reads ONE message on standard input,\n"
            "as Postfix pipe(8) or a .forward file deliver it. The raw message is written\n"
            "to the spool and fsync'ed before it is parsed; the same bytes delivered\n"
            "twice are stored once.\n"
            "\n"
            "  --maildir DIR  process every message in DIR/new and DIR/cur; messages from\n"
            "                 new/ are moved to cur/ (flag S) once stored\n"
            "  --recover      re-process messages an interrupted run left in the spool\n"
            "  --source NAME  label stored with the report (default: stdin)\n"
            "  --replay       file each report at the time it reached us (the topmost\n"
            "                 Received header of our MX, else its Date), for an archive:\n"
            "                 a Maildir is taken in arrival order; a report older than\n"
            "                 the newest one the desk holds is refused (exit 65); the\n"
            "                 mails and hooks of replayed decisions are held back\n"
            "  --notify       with --replay: let those mails and hooks go out\n"
            "  -q             print nothing on success\n"
            "\n"
            "Exit status: 0 stored or already stored; 65 not a mail (kept in the\n"
            "quarantine folder with the reason); 74 I/O error; 75 store unavailable,\n"
            "retry later (the MTA keeps the message).\n");
}

static int exit_for(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case AD_ERR_BUSY:
    case AD_ERR_STORE:
        return EXIT_TEMPFAIL;
    case AD_ERR_USAGE:
        return EXIT_USAGE;
    default:
        /* A full or unwritable spool or quarantine, or any other local trouble:
         * EX_TEMPFAIL, so that the MTA keeps the report and retries. Never 74
         * (EX_IOERR): Postfix turns it into a permanent 5.3.0 and bounces the
         * complaint back to the provider. */
        return EXIT_TEMPFAIL;
    }
}

int cmd_ingest(struct cli *cli, int argc, char **argv)
{
    const char *maildir = NULL, *source = "stdin";
    bool quiet = false, recover = false, replay = false, notify = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--maildir") && i + 1 < argc) {
            maildir = argv[++i];
        } else if (!strcmp(argv[i], "--source") && i + 1 < argc) {
            source = argv[++i];
        } else if (!strcmp(argv[i], "--replay")) {
            replay = true;
        } else if (!strcmp(argv[i], "--notify")) {
            notify = true;
        } else if (!strcmp(argv[i], "--recover")) {
            recover = true;
        } else if (!strcmp(argv[i], "-q")) {
            quiet = true;
        } else {
            fprintf(stderr, "abusedesk ingest: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }

    struct intake in;
    struct ad_err err = { 0 };
    if (quiet && cli->log.min < LOG_LEVEL_WARNING)
        cli->log.min = LOG_LEVEL_WARNING;
    if (notify && !replay) {
        fprintf(stderr, "abusedesk ingest: --notify belongs to --replay\n");
        return EXIT_USAGE;
    }
    if (replay && recover) {
        fprintf(stderr, "abusedesk ingest: --replay and --recover do not go together\n");
        return EXIT_USAGE;
    }
    intake_init(&in, &cli->cfg, &cli->log);
    in.replay = replay;
    in.notify = notify;
    int rc;
    if (maildir || recover) {
        rc = recover ? intake_spool_recover(&in, &err) : intake_maildir(&in, maildir, &err);
        log_msg(&cli->log, rc ? LOG_LEVEL_ERROR : LOG_LEVEL_INFO,
                "ingest: %u stored, %u duplicate, %u quarantined, %u unreadable%s", in.n_stored,
                in.n_duplicate, in.n_quarantined, in.n_failed,
                replay ? (in.n_refused ? ", some refused by --replay" : ", replayed") : "");
        if (rc)
            log_msg(&cli->log, LOG_LEVEL_ERROR, "ingest: %s", err.msg);
        intake_close(&in);
        if (rc == 0 && in.n_refused) {
            log_msg(&cli->log, LOG_LEVEL_ERROR, "ingest: %u report(s) refused by --replay",
                    in.n_refused);
            return EXIT_DATAERR;
        }
        return exit_for(rc);
    }
    if (isatty(STDIN_FILENO) && !quiet)
        fprintf(stderr, "abusedesk ingest: reading one message from standard input\n");
    enum intake_outcome oc = INTAKE_STORED;
    int64_t id = 0;
    rc = intake_fd(&in, STDIN_FILENO, source, &oc, &id, &err);
    intake_close(&in);
    if (rc) {
        log_msg(&cli->log, LOG_LEVEL_ERROR, "ingest: %s%s", err.msg,
                exit_for(rc) == EXIT_TEMPFAIL ? " (temporary: retry later)" : "");
        return exit_for(rc);
    }
    return oc == INTAKE_QUARANTINED || oc == INTAKE_REFUSED ? EXIT_DATAERR : 0;
}

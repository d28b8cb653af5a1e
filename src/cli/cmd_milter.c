/*
 * cmd_milter.c: `abusedesk milter`, the libmilter filter (src/milter) in the
 * foreground (systemd, `&`); logs per [log]; SIGTERM or SIGINT stops it. It
 * reads locks and writes findings and the outbound log through the store;
 * it sends nothing and holds no secret but the BATV and outbound log keys.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "milter/milter.h"

int cmd_milter(struct cli *cli, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: abusedesk [GLOBAL OPTIONS] milter\n\n"
                   "Runs the milter in the foreground on [milter] listen (inet:PORT@HOST or\n"
                   "unix:PATH); binds, reads the BATV and outbound log keys, then drops to\n"
                   "[milter] user. Per message, at its end: mail of a locked script\n"
                   "(uid:path), uid or account is held (or rejected: [milter] locked_action;\n"
                   "non-SMTP mail is always held, a reject would bounce it to its sender)\n"
                   "with the ticket in the log; scripts and uids past their hourly limits are\n"
                   "held and raise a finding; the same subject or body to many recipients\n"
                   "from one script or account raises a finding; the envelope sender of\n"
                   "[batv] domains is tagged; the Message-ID's keyed hash goes to the outbound\n"
                   "log. When the database is unreachable mail flows (fail open).\n\n"
                   "Postfix (main.cf):\n"
                   "  smtpd_milters = inet:127.0.0.1:10041\n"
                   "  non_smtpd_milters = inet:127.0.0.1:10041\n"
                   "  milter_default_action = accept   (fail open)\n");
            return 0;
        }
        fprintf(stderr, "abusedesk milter: unknown option '%s'\n", argv[i]);
        return EXIT_USAGE;
    }
    struct ad_err err = { 0 };
    int rc = milter_run(&cli->cfg, &cli->log, &err);
    if (rc) {
        fprintf(stderr, "abusedesk milter: %s\n", err.msg);
        return err.code == AD_ERR_CONFIG ? EXIT_CONFIG : EXIT_SOFTWARE;
    }
    return 0;
}

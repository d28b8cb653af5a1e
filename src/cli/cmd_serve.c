/*
 * cmd_serve.c: `abusedesk serve`, the Postfix policy delegation server
 * (src/policy). Runs in the foreground (systemd, runit, `abusedesk run`, or
 * `&`); logs to standard error or syslog per [log]; SIGHUP re-reads the
 * configuration, SIGTERM stops it. It delivers nothing: its findings are
 * queued in the store for the desk worker (`abusedesk process`).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "policy/policyd.h"

int cmd_serve(struct cli *cli, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: abusedesk [GLOBAL OPTIONS] serve\n\n"
                   "Runs the policy server in the foreground: a Postfix SMTP access policy\n"
                   "delegation server on every [policy] listen address (inet:HOST:PORT,\n"
                   "unix:PATH, created mode 0660 for [policy] socket_group). Reads the\n"
                   "configuration, binds, then drops to [policy] user, then opens the database.\n"
                   "It holds no secrets and sends nothing: what it finds is queued in the\n"
                   "database for the desk worker (abusedesk process), which files incidents\n"
                   "and notices.\n\n"
                   "Answers: REJECT for a locked account or sender (with the ticket), HOLD or\n"
                   "DEFER_IF_PERMIT ([policy] soft_action) past a soft limit, REJECT and a lock\n"
                   "past a hard limit (soft limit x hard_factor), DUNNO otherwise; a finding at\n"
                   "alert for an unusual hour or logins from many networks. A lock made\n"
                   "anywhere (CLI, desk worker, another server) applies within 200 ms.\n\n"
                   "Postfix (main.cf), on the submission service:\n"
                   "  smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:10040,\n"
                   "      permit_sasl_authenticated, reject_unauth_destination\n"
                   "  smtpd_policy_service_default_action = DUNNO   (fail open)\n\n"
                   "SIGHUP re-reads the configuration without dropping connections (listen\n"
                   "addresses and max_senders need a restart); SIGTERM stops.\n");
            return 0;
        }
        fprintf(stderr, "abusedesk serve: unknown option '%s'\n", argv[i]);
        return EXIT_USAGE;
    }
    struct ad_err err = { 0 };
    const char *db = cli->db_override;
    int rc = policyd_run(&cli->cfg, cli->config_path, db, &cli->log, &err);
    if (rc) {
        fprintf(stderr, "abusedesk serve: %s\n", err.msg);
        return err.code == AD_ERR_CONFIG ? EXIT_CONFIG : err.code == AD_ERR_BUSY ? EXIT_TEMPFAIL
                                                                                 : EXIT_SOFTWARE;
    }
    return 0;
}

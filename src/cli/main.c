/*
 * main.c: the abusedesk command line. Parses the global options (-c FILE, --db PATH)
 * that come before the subcommand, loads the configuration (a missing default file
 * is fine, a missing -c file or a bad value is fatal with exit 78), and runs the
 * subcommand. Usage errors exit 64.
 */
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "cli.h"

struct command {
    const char *name;
    int (*run)(struct cli *cli, int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    { "run", cmd_run, "run the services of one machine: desk worker, delivery worker, policy server" },
    { "serve", cmd_serve, "run the Postfix policy server (reads locks and limits, queues findings)" },
    { "ingest", cmd_ingest, "store one report from stdin (MTA pipe) or every mail of a Maildir (only stores)" },
    { "classify", cmd_classify, "was a customer hacked? joe job, mailbox or script, from a bounce" },
    { "rbl", cmd_rbl, "check our outbound addresses on DNS blocklists, with delisting steps" },
    { "domains", cmd_domains, "audit customer domains' SPF, DKIM, DMARC and MX records, with advice" },
    { "dmarc", cmd_dmarc, "DMARC aggregate reports: parse files, show the stored ones" },
    { "parse", cmd_parse, "parse mail files and print one JSON object per file" },
    { "reports", cmd_reports, "list stored reports" },
    { "report", cmd_report, "show one stored report (report show ID)" },
    { "directory", cmd_directory, "import the customer directory from CSV, show a customer" },
    { "explain", cmd_explain, "show how a report was attributed and scored, term by term" },
    { "incidents", cmd_incidents, "list incidents (the abuse team's queue)" },
    { "incident", cmd_incident,
      "show one incident; lock, notify, unlock, dismiss, resolve or note it" },
    { "stats", cmd_stats, "what came in and what the desk did, per day" },
    { "locks", cmd_locks, "what is locked right now (by account or customer), for the hotline" },
    { "account", cmd_account, "record a password change from the provider's panel" },
    { "outbox", cmd_outbox, "list or deliver queued notifications and hook calls" },
    { "process", cmd_process, "the desk worker: file stored reports and policy findings into incidents" },
    { "init", cmd_init, "create the database and directories, apply schema migrations" },
    { "config", cmd_config, "check the configuration or describe every setting" },
    { "feeds", cmd_feeds, "health of each provider's report feed: last report, volume, silence" },
    { "web", cmd_web, "serve the abuse team's dashboard, REST API and metrics (HTTP)" },
    { "user", cmd_user, "add, list, delete dashboard users or set their password" },
    { "token", cmd_token, "make an API token for a dashboard user" },
    { "replay-report", cmd_replay_report, "every decision with its time (after ingest --replay)" },
    { "purge", cmd_purge, "apply [store] retention: purge old reports' raw mail and addresses" },
    { "held", cmd_held, "list, release or delete an account's mail held by Postfix" },
    { "batv", cmd_batv, "BATV keys: keygen, sign ADDRESS, check ADDRESS (doc/batv.md)" },
    { "milter", cmd_milter, "the milter for Postfix: script limits and locks, BATV signing, outbound log" },
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: abusedesk [-c FILE] [--db PATH] COMMAND [ARGS...]\n"
            "       abusedesk COMMAND --help\n"
            "\n"
            "abusedesk, the automated abuse desk for mail hosting providers: takes in\n"
            "complaints (ARF feedback loops, bounces, abuse mails), ties each one to the\n"
            "customer's mailbox or script, scores it and raises incidents.\n"
            "\n"
            "Global options (before COMMAND, valid with every command):\n"
            "  -c FILE      configuration file (default " CONFIG_DEFAULT_PATH ";\n"
            "               built-in defaults are used when the default file is absent)\n"
            "  --db PATH    use this SQLite database instead of [store] path\n"
            "  -h, --help   this text\n"
            "  --version    print the version\n"
            "\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nExit status follows sysexits(3): 0 ok, 64 usage, 65 not a mail, 75 try\n"
               "again later, 78 configuration error.\n");
}

int main(int argc, char **argv)
{
    /* Customer data and third parties' mail: files we create are never
     * readable by other users (database and its WAL, spool, quarantine,
     * state and key files). */
    umask(027);
    struct cli cli = { 0 };
    const char *db = NULL;
    bool explicit_config = false;
    int i = 1;

    cli.config_path = CONFIG_DEFAULT_PATH;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
            if (++i >= argc) {
                fprintf(stderr, "abusedesk: -c needs a FILE\n");
                return EXIT_USAGE;
            }
            cli.config_path = argv[i];
            explicit_config = true;
        } else if (strcmp(argv[i], "--db") == 0) {
            if (++i >= argc) {
                fprintf(stderr, "abusedesk: --db needs a PATH\n");
                return EXIT_USAGE;
            }
            db = argv[i];
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("abusedesk %s\n", AD_VERSION);
            return 0;
        } else {
            fprintf(stderr, "abusedesk: unknown global option '%s'\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }

    config_defaults(&cli.cfg);
    struct ad_err err = { 0 };
    if (explicit_config || g_file_test(cli.config_path, G_FILE_TEST_EXISTS)) {
        if (config_load(&cli.cfg, cli.config_path, &err) != 0) {
            fprintf(stderr, "abusedesk: %s\n", err.msg);
            config_free(&cli.cfg);
            return EXIT_CONFIG;
        }
    }
    cli.db_override = db;
    if (db) {
        g_free(cli.cfg.db_path);
        cli.cfg.db_path = g_strdup(db);
    }

    cli.log.ident = "abusedesk";
    cli.log.min = (enum log_level)log_level_parse(cli.cfg.log_level);
    cli.log.syslog = cli.cfg.log_syslog;
    log_open(&cli.log);

    int rc = EXIT_USAGE;
    const struct command *cmd = NULL;
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
        if (strcmp(commands[c].name, argv[i]) == 0)
            cmd = &commands[c];
    if (cmd) {
        cli.may_create = !strcmp(cmd->name, "init") || !strcmp(cmd->name, "directory");
        rc = cmd->run(&cli, argc - i, argv + i);
    } else if (strcmp(argv[i], "help") == 0) {
        usage(stdout);
        rc = 0;
    } else {
        fprintf(stderr, "abusedesk: unknown command '%s' (see abusedesk --help)\n", argv[i]);
    }
    log_close(&cli.log);
    config_free(&cli.cfg);
    return rc;
}

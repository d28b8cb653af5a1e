/*
 * cli.h: shared state of the abusedesk command line: the loaded configuration and
 * global options, handed to each subcommand. Each subcommand lives in cmd_NAME.c
 * and returns a sysexits-style exit status.
 */
#ifndef AD_CLI_H
#define AD_CLI_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "util/err.h"
#include "util/log.h"

/* sysexits.h values, spelled out so the meaning is visible where they are used. */
#define EXIT_REFUSED 3      /* the incident's state does not allow it (an invalid
                             * transition, an unlock before a new password) */
#define EXIT_USAGE 64       /* EX_USAGE */
#define EXIT_DATAERR 65     /* EX_DATAERR: input is not a mail at all */
#define EXIT_NOTFOUND 66    /* EX_NOINPUT: no such incident, report or customer */
#define EXIT_NOUSER 67      /* EX_NOUSER: the account is not in the directory */
#define EXIT_SOFTWARE 70    /* EX_SOFTWARE */
#define EXIT_CANTCREAT 73   /* EX_CANTCREAT */
#define EXIT_TEMPFAIL 75    /* EX_TEMPFAIL: try again later (store unavailable) */
#define EXIT_CONFIG 78      /* EX_CONFIG */

struct cli {
    struct config cfg;
    const char *config_path;    /* -c, or the default */
    const char *db_override;    /* --db, or NULL */
    struct logger log;          /* from [log]; subcommands may raise the minimum */
    bool may_create;            /* the command may create a missing SQLite database
                                 * (init, directory import); the others refuse, so a
                                 * mistyped path never yields a fresh empty database */
};

int cmd_parse(struct cli *cli, int argc, char **argv);
int cmd_ingest(struct cli *cli, int argc, char **argv);
int cmd_reports(struct cli *cli, int argc, char **argv);
int cmd_report(struct cli *cli, int argc, char **argv);
int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_config(struct cli *cli, int argc, char **argv);
int cmd_directory(struct cli *cli, int argc, char **argv);
int cmd_explain(struct cli *cli, int argc, char **argv);
int cmd_incidents(struct cli *cli, int argc, char **argv);
int cmd_incident(struct cli *cli, int argc, char **argv);
int cmd_process(struct cli *cli, int argc, char **argv);
int cmd_outbox(struct cli *cli, int argc, char **argv);
int cmd_account(struct cli *cli, int argc, char **argv);
int cmd_serve(struct cli *cli, int argc, char **argv);
int cmd_run(struct cli *cli, int argc, char **argv);
int cmd_classify(struct cli *cli, int argc, char **argv);
int cmd_locks(struct cli *cli, int argc, char **argv);
int cmd_stats(struct cli *cli, int argc, char **argv);
int cmd_rbl(struct cli *cli, int argc, char **argv);
int cmd_feeds(struct cli *cli, int argc, char **argv);
int cmd_user(struct cli *cli, int argc, char **argv);
int cmd_token(struct cli *cli, int argc, char **argv);
int cmd_web(struct cli *cli, int argc, char **argv);
int cmd_replay_report(struct cli *cli, int argc, char **argv);
int cmd_dmarc(struct cli *cli, int argc, char **argv);
int cmd_domains(struct cli *cli, int argc, char **argv);
struct store;
/* The reputation monitor's domain audit (cmd_domains.c): when [reputation]
 * audit_interval has passed since the newest stored audit run, audits every
 * directory domain, stores the complete runs and queues one team mail
 * (team_audit) when something changed or, on a domain's first run, it has
 * errors. Domains whose lookups failed are neither stored nor told. *mailed
 * (may be NULL): a mail was queued. 0 or a negative AD_ERR_* with err. */
int domains_audit_scheduled(struct cli *cli, struct store *st, int64_t now, bool *mailed,
                            struct ad_err *err);
int cmd_purge(struct cli *cli, int argc, char **argv);
int cmd_held(struct cli *cli, int argc, char **argv);
int cmd_batv(struct cli *cli, int argc, char **argv);
int cmd_milter(struct cli *cli, int argc, char **argv);

struct store;

/* Opens the store of [store] path (creating its folder), printing the error and
 * returning the exit status (75 when busy) on failure, 0 on success. */
int cli_open_store(struct cli *cli, struct store **st);

/* Reads at most max bytes of path ("-" = stdin) into a g_malloc'd NUL-terminated
 * buffer; *truncated tells whether more followed. NULL and err on failure. */
char *cli_read_bounded(const char *path, size_t max, size_t *len, bool *truncated,
                       struct ad_err *err);

/* Reads TIME for --since/--until: Unix seconds or ISO 8601 (UTC when it
 * names no zone). False when it is neither. */
bool cli_parse_time(const char *s, int64_t *out);

/* Who acts, for the audit log and --by: the person behind sudo (SUDO_USER),
 * else the login name. Borrowed. */
const char *cli_default_by(void);

#endif

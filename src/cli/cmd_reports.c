/*
 * cmd_reports.c: `abusedesk reports` (list), `abusedesk report show ID` (one report
 * with its parsed JSON, optionally the raw message), `abusedesk init` (create the
 * store and directories) and `abusedesk config` (check or describe settings).
 * The text output of `reports` and `report show` passes every stored field
 * through textsafe_terminal(), since subjects, feedback types and even the
 * parsed JSON (jansson leaves C1 and bidi controls raw) come from mail: a
 * complaint must not be able to send escape sequences to the operator's
 * terminal. --json and --raw print what is stored, for programs and files.
 */
#include <errno.h>
#include <pwd.h>
#include <unistd.h>
#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config/config_check.h"
#include "reputation/rbl.h"
#include "store/store.h"
#include "store/store_purge.h"
#include "store/store_reports.h"
#include "util/fsutil.h"
#include "util/textsafe.h"

/* Returns textsafe_terminal(s) and keeps it in pool, which frees it (with
 * g_free) when the caller frees the pool. */
static const char *term(GPtrArray *pool, const char *s)
{
    char *t = textsafe_terminal(s);
    g_ptr_array_add(pool, t);
    return t;
}

int cli_open_store(struct cli *cli, struct store **st)
{
    struct ad_err err = { 0 };
    bool pg = cli->cfg.store_backend && !strcmp(cli->cfg.store_backend, "postgresql");
    if (!pg && !cli->may_create && !g_file_test(cli->cfg.db_path, G_FILE_TEST_EXISTS)) {
        char *p = textsafe_terminal(cli->cfg.db_path);
        fprintf(stderr, "abusedesk: no database at %s (abusedesk init creates it; check [store] "
                        "path or --db)\n", p);
        g_free(p);
        return EXIT_NOTFOUND;
    }
    if (!pg) {
        char *dir = g_path_get_dirname(cli->cfg.db_path);
        fs_mkdir_p(dir, NULL);
        g_free(dir);
    }
    if (store_open_cfg(&cli->cfg, st, &err) != 0) {
        fprintf(stderr, "abusedesk: %s\n", err.msg);
        return err.code == AD_ERR_BUSY   ? EXIT_TEMPFAIL
               : err.code == AD_ERR_CONFIG ? EXIT_CONFIG
                                           : EXIT_SOFTWARE;
    }
    return 0;
}

/* The reasons of a bounce (DSN) as the parser named them per recipient
 * (userunknown, blocked, ...), distinct, comma-separated; NULL for other
 * reports. Caller frees. */
static char *bounce_reasons(const char *parsed_json)
{
    json_t *o = parsed_json ? json_loads(parsed_json, 0, NULL) : NULL;
    json_t *rcpts = json_object_get(o, "recipients");
    GString *g = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(rcpts, i, r) {
        const char *reason = json_string_value(json_object_get(r, "reason"));
        if (!reason || !*reason)
            continue;
        if (!g)
            g = g_string_new(NULL);
        else {
            /* distinct: skip a reason already listed */
            char *have = g_strconcat(",", g->str, ",", NULL), *want = g_strconcat(",", reason, ",", NULL);
            bool dup = strstr(have, want) != NULL;
            g_free(have);
            g_free(want);
            if (dup)
                continue;
            g_string_append_c(g, ',');
        }
        g_string_append(g, reason);
    }
    json_decref(o);
    return g ? g_string_free(g, FALSE) : NULL;
}

static int print_row(const struct store_reports_item *row, void *ctx)
{
    bool json = *(bool *)ctx;
    char *reason = bounce_reasons(row->parsed_json);
    if (json) {
        /* account and bounce_reason are JSON-escaped by jansson; parsed is
         * stored JSON and printed as it is */
        json_t *o = json_pack("{s:I,s:s?,s:s?,s:s?,s:s?,s:s?,s:o,s:s?}", "id", (json_int_t)row->id,
                              "received_at", row->received_at, "kind", row->kind, "status",
                              row->status, "feedback_type", row->feedback_type, "account",
                              row->account, "incident_id",
                              row->incident_id ? json_integer(row->incident_id) : json_null(),
                              "bounce_reason", reason);
        char *head = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (head && strlen(head) > 1) {
            head[strlen(head) - 1] = '\0'; /* drop the closing brace, append the report */
            printf("%s,\"report\":%s}\n", head, row->parsed_json ? row->parsed_json : "null");
        }
        else /* jansson refused a value (not UTF-8): still one line per report */
            printf("{\"id\":%lld,\"report\":%s}\n", (long long)row->id,
                   row->parsed_json ? row->parsed_json : "null");
        free(head);
        json_decref(o);
        g_free(reason);
        return 0;
    }
    GPtrArray *pool = g_ptr_array_new_with_free_func(g_free);
    char inc[24] = "-";
    if (row->incident_id)
        snprintf(inc, sizeof inc, "%lld", (long long)row->incident_id);
    printf("%6lld  %s  %-12s %-10s %-14s %-28s %8s %-14s %s\n", (long long)row->id,
           term(pool, row->received_at ? row->received_at : "-"), term(pool, row->kind ? row->kind : "-"),
           term(pool, row->status ? row->status : "-"),
           term(pool, row->feedback_type ? row->feedback_type : "-"),
           term(pool, row->account ? row->account : "-"), inc, term(pool, reason ? reason : "-"),
           term(pool, row->subject ? row->subject : ""));
    g_ptr_array_free(pool, TRUE);
    g_free(reason);
    return 0;
}

static void reports_usage(FILE *f)
{
    fprintf(f, "usage: abusedesk [GLOBAL OPTIONS] reports [--kind KIND] [--account ACCOUNT]\n"
               "         [--incident ID] [--since TIME] [--until TIME] [--limit N] [--json]\n\n"
               "Lists stored reports, newest first (default 50; --limit 0 for all), with the\n"
               "account the desk attributed each to, the incident it was filed into and, for\n"
               "bounces, the reason per recipient (userunknown, blocked, ...). Filters: KIND\n"
               "(arf, auth-failure, dsn, abuse-text, unknown), the attributed account (any\n"
               "case), the incident id, received since/until TIME (ISO 8601 or Unix\n"
               "seconds). --json prints one object per line: id, received_at, kind, status,\n"
               "feedback_type, account, incident_id, bounce_reason (null when not known)\n"
               "and report (the parsed report).\n");
}

int cmd_reports(struct cli *cli, int argc, char **argv)
{
    static const char *const kinds[] = { "arf", "auth-failure", "dsn", "abuse-text", "unknown",
                                         NULL };
    struct store_reports_filter f = { .limit = 50 };
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            reports_usage(stdout);
            return 0;
        } else if (!strcmp(o, "--json")) {
            json = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "abusedesk reports: unknown option or missing value '%s'\n", o);
            reports_usage(stderr);
            return EXIT_USAGE;
        }
        i++;
        const char *bad = NULL;
        char *end = NULL;
        if (!strcmp(o, "--kind")) {
            bad = "a kind (arf, auth-failure, dsn, abuse-text, unknown)";
            for (const char *const *k = kinds; *k; k++)
                if (!strcmp(v, *k))
                    bad = NULL, f.kind = v;
        } else if (!strcmp(o, "--account"))
            f.account = v;
        else if (!strcmp(o, "--incident")) {
            f.incident_id = strtoll(v, &end, 10);
            if (!*v || *end || f.incident_id < 1)
                bad = "an incident id (a number >= 1)";
        } else if (!strcmp(o, "--since"))
            bad = cli_parse_time(v, &f.since) ? NULL : "a time (ISO 8601 or Unix seconds)";
        else if (!strcmp(o, "--until"))
            bad = cli_parse_time(v, &f.until) ? NULL : "a time (ISO 8601 or Unix seconds)";
        else if (!strcmp(o, "--limit")) {
            f.limit = strtoll(v, &end, 10);
            if (!*v || *end || f.limit < 0)
                bad = "a number >= 0";
        } else {
            fprintf(stderr, "abusedesk reports: unknown option '%s'\n", o);
            reports_usage(stderr);
            return EXIT_USAGE;
        }
        if (bad) {
            char *t = textsafe_terminal(v);
            fprintf(stderr, "abusedesk reports: %s expects %s, got '%s'\n", o, bad, t);
            g_free(t);
            return EXIT_USAGE;
        }
    }
    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc)
        return rc;
    struct ad_err err = { 0 };
    if (!json)
        printf("%6s  %-20s  %-12s %-10s %-14s %-28s %8s %-14s %s\n", "ID", "RECEIVED", "KIND",
               "STATUS", "FEEDBACK", "ACCOUNT", "INCIDENT", "BOUNCE", "SUBJECT");
    if (store_reports_list(st, &f, print_row, &json, &err) != 0) {
        fprintf(stderr, "abusedesk reports: %s\n", err.msg);
        rc = err.code == AD_ERR_BUSY ? EXIT_TEMPFAIL : EXIT_SOFTWARE;
    }
    store_close(st);
    return rc;
}

int cmd_report(struct cli *cli, int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: abusedesk [GLOBAL OPTIONS] report show [--raw] ID\n\n"
               "Shows one stored report: its metadata and parsed JSON, or with --raw the\n"
               "original message bytes as received.\n");
        return 0;
    }
    bool raw = false;
    const char *idarg = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--raw"))
            raw = true;
        else
            idarg = argv[i];
    }
    if (argc < 3 || strcmp(argv[1], "show") != 0 || !idarg) {
        fprintf(stderr, "usage: abusedesk report show [--raw] ID\n");
        return EXIT_USAGE;
    }
    char *end;
    long long id = strtoll(idarg, &end, 10);
    if (*end || id <= 0) {
        fprintf(stderr, "abusedesk report: ID must be a positive number, got '%s'\n", idarg);
        return EXIT_USAGE;
    }
    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc)
        return rc;
    struct store_report_row row;
    struct ad_err err = { 0 };
    if (store_report_get(st, id, raw, &row, &err) != 0) {
        fprintf(stderr, "abusedesk report: %s\n", err.msg);
        store_close(st);
        return err.code == AD_ERR_NOTFOUND ? 1 : EXIT_SOFTWARE;
    }
    if (raw) {
        int64_t purged = 0;
        if (row.raw)
            fwrite(row.raw, 1, row.raw_len, stdout);
        else if (store_purge_get(st, id, &purged, &err) == 0 && purged > 0)
            fprintf(stderr, "abusedesk report: raw message purged at %lld ([store] retention)\n",
                    (long long)purged);
        else
            fprintf(stderr, "abusedesk report: raw message not in the database; spooled at %s\n",
                    row.spool_path ? row.spool_path : "(unknown)");
    } else {
        GPtrArray *pool = g_ptr_array_new_with_free_func(g_free);
        printf("id:          %lld\nreceived:    %s\nsource:      %s\nsize:        %lld\n"
               "sha256:      %s\nkind:        %s\nformat:      %s\nstatus:      %s\n"
               "subject:     %s\nparsed:      %s\n",
               (long long)row.id, term(pool, row.received_at),
               term(pool, row.source ? row.source : "-"), (long long)row.size,
               term(pool, row.sha256), term(pool, row.kind), term(pool, row.format ? row.format : "-"),
               term(pool, row.status), term(pool, row.subject ? row.subject : "-"),
               term(pool, row.parsed_json));
        g_ptr_array_free(pool, TRUE);
    }
    store_row_clear(&row);
    store_close(st);
    return 0;
}

/* As root, init hands what it made to the service user ([policy] user): a
 * database owned by root would lock the services out ("attempt to write a
 * readonly database"). */
static int chown_to_service(struct cli *cli, bool made_dbdir)
{
    const char *user = cli->cfg.policy_user;
    if (geteuid() != 0 || !user || !*user)
        return 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        fprintf(stderr, "abusedesk init: warning: [policy] user %s does not exist: the files "
                        "stay root's (create the user, or set [policy] user)\n", user);
        return 0;
    }
    bool pg = cli->cfg.store_backend && !strcmp(cli->cfg.store_backend, "postgresql");
    char *dbdir = g_path_get_dirname(cli->cfg.db_path);
    char *wal = g_strdup_printf("%s-wal", cli->cfg.db_path);
    char *shm = g_strdup_printf("%s-shm", cli->cfg.db_path);
    const char *paths[] = { pg ? NULL : cli->cfg.db_path, pg ? NULL : wal, pg ? NULL : shm,
                            /* the database's folder only when init made it */
                            pg || !made_dbdir ? NULL : dbdir, cli->cfg.spool_dir,
                            cli->cfg.quarantine_dir };
    int rc = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(paths); i++) {
        if (!paths[i] || !g_file_test(paths[i], G_FILE_TEST_EXISTS))
            continue;
        if (chown(paths[i], pw->pw_uid, pw->pw_gid) != 0) {
            fprintf(stderr, "abusedesk init: chown %s to %s: %s\n", paths[i], user,
                    strerror(errno));
            rc = EXIT_CANTCREAT;
        }
    }
    /* The spool's own folders (tmp, new, large) when they exist already. */
    for (const char *const *sub = (const char *const[]){ "tmp", "new", "large", NULL }; *sub;
         sub++) {
        char *p = g_build_filename(cli->cfg.spool_dir, *sub, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR) && chown(p, pw->pw_uid, pw->pw_gid) != 0)
            rc = EXIT_CANTCREAT;
        g_free(p);
    }
    if (rc == 0)
        printf("owner %s (the service user, [policy] user)\n", user);
    g_free(dbdir);
    g_free(wal);
    g_free(shm);
    return rc;
}

int cmd_init(struct cli *cli, int argc, char **argv)
{
    if (argc >= 2) {
        printf("usage: abusedesk [GLOBAL OPTIONS] init\n\n"
               "Creates the database (applying schema migrations), the spool and the\n"
               "quarantine folders named in the configuration.\n");
        return strcmp(argv[1], "--help") && strcmp(argv[1], "-h") ? EXIT_USAGE : 0;
    }
    struct ad_err err = { 0 };
    char *dbdir = g_path_get_dirname(cli->cfg.db_path);
    bool made_dbdir = !g_file_test(dbdir, G_FILE_TEST_EXISTS);
    g_free(dbdir);
    if (fs_mkdir_p(cli->cfg.spool_dir, &err) || fs_mkdir_p(cli->cfg.quarantine_dir, &err)) {
        fprintf(stderr, "abusedesk init: %s\n", err.msg);
        return EXIT_CANTCREAT;
    }
    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc)
        return rc;
    printf("database %s at schema version %d\nspool %s\nquarantine %s\n", cli->cfg.db_path,
           store_schema_version(st), cli->cfg.spool_dir, cli->cfg.quarantine_dir);
    store_close(st);
    return chown_to_service(cli, made_dbdir);
}

static void print_problem(const char *msg, void *ctx)
{
    (void)ctx;
    char *m = textsafe_terminal(msg);
    fprintf(stderr, "%s\n", m);
    g_free(m);
}

int cmd_config(struct cli *cli, int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "describe")) {
        config_describe(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "check") != 0) {
        printf("usage: abusedesk [-c FILE] config check|describe\n\n"
               "check: load the configuration (the first syntax or value error, with its\n"
               "line), then check what needs more than one key or the system: thresholds in\n"
               "order, templates present, addresses, the service user, listen values; every\n"
               "problem is printed with its line; exit 78 when there is one, else OK.\n"
               "describe: list every group and key with its type, default and meaning.\n");
        return strcmp(argv[1], "--help") && strcmp(argv[1], "-h") ? EXIT_USAGE : 0;
    }
    /* main() already loaded the file (syntax, types, ranges); now what needs
     * more than one key or the system. */
    char *text = NULL;
    gsize len = 0;
    if (cli->cfg.path)
        g_file_get_contents(cli->cfg.path, &text, &len, NULL);
    size_t n = config_check(&cli->cfg, cli->cfg.path, text, len, print_problem, NULL);
    n += rbl_config_check(&cli->cfg, cli->cfg.path, text, len, print_problem, NULL);
    g_free(text);
    if (n) {
        fprintf(stderr, "abusedesk config check: %zu problem%s\n", n, n == 1 ? "" : "s");
        return EXIT_CONFIG;
    }
    printf("%s: OK\n", cli->cfg.path ? cli->cfg.path : "built-in defaults (no file)");
    printf("store %s\nspool %s\nquarantine %s\n", cli->cfg.db_path, cli->cfg.spool_dir,
           cli->cfg.quarantine_dir);
    return 0;
}

/*
 * cmd_directory.c: `abusedesk directory import [--dry-run] FILE` loads the
 * customer directory from CSV (FILE or - for standard input; format in
 * doc/directory.md) and `abusedesk directory show CUSTOMER_ID` prints one customer
 * with what it owns. Import reports every refused row on standard error as
 * "abusedesk: FILE: line N, column X: ...", keeps the good rows, and prints one
 * summary line on standard output. Exit status per sysexits: 0 every row was
 * good, 65 some rows were refused or the file is unusable (bad header, a limit
 * crossed: then nothing was stored), 66 FILE cannot be opened, 75 the store is
 * busy (retry), 70 another store failure, 64 usage; `show` exits 1 when the
 * customer is unknown.
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "directory/directory.h"
#include "store/store.h"
#include "util/fsutil.h"

#define DIRECTORY_MAX_FILE (256u << 20)     /* bytes read from FILE */
#define EXIT_NOINPUT 66                     /* EX_NOINPUT */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: abusedesk [GLOBAL OPTIONS] directory import [--dry-run] FILE\n"
            "       abusedesk [GLOBAL OPTIONS] directory show CUSTOMER_ID\n"
            "\n"
            "The customer directory tells attribution who owns an account, a domain or a\n"
            "web space uid, and where notices go.\n"
            "\n"
            "import   reads CSV from FILE (- for standard input) with the header\n"
            "         customer_id,customer_name,contact_email,language,account,domain\n"
            "         in any order, optionally also uid; one row per account, customer\n"
            "         columns repeated (see doc/directory.md). Re-importing updates\n"
            "         customers and moves accounts, domains and uids to the customer\n"
            "         named; nothing is duplicated or removed. Bad rows are refused and\n"
            "         reported with their line and column; the good rows are kept.\n"
            "  --dry-run  check the file and report, but store nothing\n"
            "show     prints a customer with its accounts, domains and uids\n"
            "\n"
            "Exit status: 0 ok; 65 rows refused, or the file unusable (bad header, over a\n"
            "limit: nothing stored); 66 FILE cannot be read; 75 database busy, retry;\n"
            "64 usage; show: 1 unknown customer.\n");
}

static int exit_for(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case AD_ERR_PARSE:
    case AD_ERR_LIMIT:
        return EXIT_DATAERR;
    case AD_ERR_BUSY:
        return EXIT_TEMPFAIL;
    default:
        return EXIT_SOFTWARE;
    }
}

static void report_bad(size_t line, const char *msg, void *ctx)
{
    (void)line; /* msg names it */
    fprintf(stderr, "abusedesk: %s: %s\n", (const char *)ctx, msg);
}

static const char *plural(size_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

static int import_cmd(struct cli *cli, int argc, char **argv)
{
    bool dry_run = false;
    const char *path = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--dry-run")) {
            dry_run = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "abusedesk directory import: unknown option '%s'\n", argv[i]);
            return EXIT_USAGE;
        } else if (path) {
            fprintf(stderr, "abusedesk directory import: one FILE only\n");
            return EXIT_USAGE;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "usage: abusedesk directory import [--dry-run] FILE (- for stdin)\n");
        return EXIT_USAGE;
    }
    const char *label = strcmp(path, "-") ? path : "stdin";

    struct ad_err err = { 0 };
    size_t len = 0;
    bool truncated = false;
    char *text = cli_read_bounded(path, DIRECTORY_MAX_FILE, &len, &truncated, &err);
    if (!text) {
        fprintf(stderr, "abusedesk: %s\n", err.msg);
        return EXIT_NOINPUT;
    }
    if (truncated) {
        fprintf(stderr, "abusedesk: %s: larger than %u MiB: split the directory into several "
                        "files\n", label, DIRECTORY_MAX_FILE >> 20);
        g_free(text);
        return EXIT_DATAERR;
    }

    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc) {
        g_free(text);
        return rc;
    }
    /* A dry run opens the transaction itself: the import joins it, and the
     * rollback below throws everything away. */
    if (dry_run && (rc = store_begin(st, &err)) != 0) {
        fprintf(stderr, "abusedesk: %s\n", err.msg);
        store_close(st);
        g_free(text);
        return exit_for(rc);
    }
    struct directory_import_stats stats = { 0 };
    rc = directory_import(st, label, text, len, &stats, report_bad, (void *)label, &err);
    if (dry_run)
        store_rollback(st);
    store_close(st);
    g_free(text);
    if (rc) {
        fprintf(stderr, "abusedesk: %s%s\n", err.msg,
                rc == AD_ERR_PARSE || rc == AD_ERR_LIMIT ? " (nothing imported)" : "");
        return exit_for(rc);
    }
    printf("directory%s: %zu %s, %zu %s, %zu %s, %zu %s, %zu %s, %zu bad %s refused\n",
           dry_run ? " (dry run, nothing stored)" : "", stats.n_rows,
           plural(stats.n_rows, "row", "rows"), stats.n_customers,
           plural(stats.n_customers, "customer", "customers"), stats.n_accounts,
           plural(stats.n_accounts, "account", "accounts"), stats.n_domains,
           plural(stats.n_domains, "domain", "domains"), stats.n_uids,
           plural(stats.n_uids, "uid", "uids"), stats.n_bad, plural(stats.n_bad, "row", "rows"));
    return stats.n_bad ? EXIT_DATAERR : 0;
}

/* Prints "label:   value", continuing multi-line values under the first. */
static void show_field(const char *label, const char *value)
{
    printf("%-10s", label);
    for (const char *s = value; *s; s++) {
        putchar(*s);
        if (*s == '\n')
            printf("%-10s", "");
    }
    putchar('\n');
}

struct show_ctx {
    const char *last;   /* the kind printed last, to label each group once */
};

static void show_item(const char *kind, const char *value, void *ctx)
{
    struct show_ctx *sc = ctx;
    char label[16] = "";
    if (!sc->last || strcmp(sc->last, kind) != 0)
        snprintf(label, sizeof label, "%ss:", kind);
    sc->last = kind;    /* kinds are static strings of directory.c */
    show_field(label, value);
}

static int show_cmd(struct cli *cli, int argc, char **argv)
{
    if (argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: abusedesk directory show CUSTOMER_ID\n");
        return EXIT_USAGE;
    }
    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc)
        return rc;
    struct ad_err err = { 0 };
    struct directory_customer c;
    if ((rc = directory_customer_get(st, argv[2], &c, &err)) != 0) {
        fprintf(stderr, "abusedesk directory: %s\n", err.msg);
        store_close(st);
        return rc == AD_ERR_NOTFOUND ? 1 : exit_for(rc);
    }
    show_field("customer:", c.id);
    show_field("name:", c.name);
    show_field("contact:", c.contact_email);
    show_field("language:", c.language);
    struct show_ctx sc = { 0 };
    rc = directory_customer_each(st, c.id, show_item, &sc, &err);
    if (rc)
        fprintf(stderr, "abusedesk directory: %s\n", err.msg);
    else if (!sc.last)
        show_field("owns:", "nothing (no accounts, domains or uids)");
    directory_customer_clear(&c);
    store_close(st);
    return exit_for(rc);
}

int cmd_directory(struct cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "import"))
        return import_cmd(cli, argc, argv);
    if (!strcmp(argv[1], "show"))
        return show_cmd(cli, argc, argv);
    fprintf(stderr, "abusedesk directory: unknown subcommand '%s' (import or show)\n", argv[1]);
    return EXIT_USAGE;
}

/*
 * cmd_directory.c: `abusedesk directory import [--dry-run] FILE` loads the
 * customer directory from CSV (FILE or - for standard input; format in
 * doc/directory.md), `abusedesk directory show CUSTOMER_ID` prints one customer
 * with what it owns (web space uids with their roots), and `abusedesk directory
 * set-contact CUSTOMER_ID ADDRESS [--by NAME]` corrects a customer's contact
 * address, printing the old and the new one. Import reports every refused row
 * on standard error as "abusedesk: FILE: line N, column X: ...", keeps the good
 * rows, and prints one summary line on standard output followed by a
 * "warning: ..." line for each customer whose contact address is one of its own
 * mailboxes. Exit status per sysexits: 0 every row was good (warnings or not),
 * 65 some rows were refused or the file is unusable (bad header, a limit
 * crossed: then nothing was stored), 66 FILE cannot be opened, 75 the store is
 * busy (retry), 70 another store failure, 64 usage; `show` exits 1 when the
 * customer is unknown; `set-contact` exits 64 for an address that is not one
 * or a customer not in the directory.
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
            "usage: abusedesk [GLOBAL OPTIONS] directory import [--dry-run] [--sync [--force]] FILE\n"
            "       abusedesk [GLOBAL OPTIONS] directory show CUSTOMER_ID|ACCOUNT|DOMAIN\n"
            "       abusedesk [GLOBAL OPTIONS] directory set-contact CUSTOMER_ID ADDRESS "
            "[--by NAME]\n"
            "\n"
            "The customer directory tells attribution who owns an account, a domain or a\n"
            "web space uid, and where notices go.\n"
            "\n"
            "import       reads CSV from FILE (- for standard input) with the header\n"
            "             customer_id,customer_name,contact_email,language,account,domain\n"
            "             in any order, optionally also uid and webroot (the absolute root\n"
            "             directory of that uid's web space) and the customer's sending\n"
            "             limits msgs_per_hour, rcpts_per_hour, rcpts_per_day,\n"
            "             domains_per_hour (limit_hour, limit_day for short; empty: the\n"
            "             configured ones); separated by ',' or ';' (the header decides);\n"
            "             other columns are ignored with a warning. One row per account,\n"
            "             customer columns repeated (see doc/directory.md). Re-importing\n"
            "             updates customers and moves accounts, domains and uids to the\n"
            "             customer named; nothing is duplicated or removed. Bad rows are\n"
            "             refused and reported with their line and column; the good rows\n"
            "             are kept. A customer whose contact address is one of its own\n"
            "             mailboxes gets a warning (a lock notice could not reach it).\n"
            "  --dry-run  check the file and report, but store nothing\n"
            "  --sync     also remove the customers, accounts, domains and uids the file\n"
            "             no longer lists (nothing when a row was refused); a customer\n"
            "             with open incidents stays (exit 3) unless --force\n"
            "show         prints a customer with its accounts, domains and uids; the\n"
            "             customer id, or one of its accounts or domains\n"
            "set-contact  replaces a customer's contact address (checked like the\n"
            "             contact_email column) and prints the old and the new one; the\n"
            "             next import sets it from the file again, so correct it at the\n"
            "             source too\n"
            "  --by NAME  who made the change (for the record)\n"
            "\n"
            "Exit status: 0 ok; 3 --sync kept customers with open incidents; 65 rows\n"
            "refused, or the file unusable (bad header, over a\n"
            "limit: nothing stored); 66 FILE cannot be read; 75 database busy, retry;\n"
            "64 usage, and set-contact: an address that is not one or an unknown\n"
            "customer; show: 1 unknown customer.\n");
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

struct import_ctx {
    const char *label;      /* the file, for messages */
    GPtrArray *warnings;    /* of g_malloc'd "warning: ..." lines */
};

static void report_bad(size_t line, const char *msg, void *ctx)
{
    (void)line; /* msg names it */
    fprintf(stderr, "abusedesk: %s: %s\n", ((struct import_ctx *)ctx)->label, msg);
}

/* Warnings are kept until the summary line is out, then printed below it. */
static void collect_warning(const char *msg, void *ctx)
{
    g_ptr_array_add(((struct import_ctx *)ctx)->warnings, g_strdup_printf("warning: %s", msg));
}

static const char *plural(size_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

static int import_cmd(struct cli *cli, int argc, char **argv)
{
    bool dry_run = false, sync = false, force = false;
    const char *path = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--dry-run")) {
            dry_run = true;
        } else if (!strcmp(argv[i], "--sync")) {
            sync = true;
        } else if (!strcmp(argv[i], "--force")) {
            force = true;
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
        fprintf(stderr, "usage: abusedesk directory import [--dry-run] [--sync [--force]] FILE "
                        "(- for stdin)\n");
        return EXIT_USAGE;
    }
    if (force && !sync) {
        fprintf(stderr, "abusedesk directory import: --force only goes with --sync\n");
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
    struct import_ctx ic = { label, g_ptr_array_new_with_free_func(g_free) };
    struct directory_import_opts opts = { .sync = sync, .force = force, .bad = report_bad,
                                          .warn = collect_warning, .ctx = &ic };
    rc = directory_import_opts(st, label, text, len, &opts, &stats, &err);
    if (dry_run)
        store_rollback(st);
    store_close(st);
    g_free(text);
    if (rc) {
        fprintf(stderr, "abusedesk: %s%s\n", err.msg,
                rc == AD_ERR_PARSE || rc == AD_ERR_LIMIT ? " (nothing imported)" : "");
        g_ptr_array_free(ic.warnings, TRUE);
        return exit_for(rc);
    }
    printf("directory%s: %zu %s, %zu %s, %zu %s, %zu %s, %zu %s, %zu bad %s refused\n",
           dry_run ? " (dry run, nothing stored)" : "", stats.n_rows,
           plural(stats.n_rows, "row", "rows"), stats.n_customers,
           plural(stats.n_customers, "customer", "customers"), stats.n_accounts,
           plural(stats.n_accounts, "account", "accounts"), stats.n_domains,
           plural(stats.n_domains, "domain", "domains"), stats.n_uids,
           plural(stats.n_uids, "uid", "uids"), stats.n_bad, plural(stats.n_bad, "row", "rows"));
    if (sync && !stats.sync_skipped)
        printf("sync%s: removed %zu %s, %zu %s, %zu %s, %zu %s; %zu %s kept for open "
               "incidents\n", dry_run ? " (dry run, nothing removed)" : "",
               stats.n_removed_customers,
               plural(stats.n_removed_customers, "customer", "customers"),
               stats.n_removed_accounts, plural(stats.n_removed_accounts, "account", "accounts"),
               stats.n_removed_domains, plural(stats.n_removed_domains, "domain", "domains"),
               stats.n_removed_uids, plural(stats.n_removed_uids, "uid", "uids"),
               stats.n_kept_open, plural(stats.n_kept_open, "customer", "customers"));
    for (guint i = 0; i < ic.warnings->len; i++)
        printf("%s\n", (const char *)g_ptr_array_index(ic.warnings, i));
    g_ptr_array_free(ic.warnings, TRUE);
    return stats.n_bad ? EXIT_DATAERR : stats.n_kept_open ? EXIT_REFUSED : 0;
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

/* What a customer owns, collected first: the uids' web space roots are looked
 * up afterwards, since the callback may not query the directory. */
struct show_item {
    const char *kind;   /* static string of directory.c */
    char *value;        /* owned */
};

static void show_collect(const char *kind, const char *value, void *ctx)
{
    struct show_item *it = g_new(struct show_item, 1);
    it->kind = kind;
    it->value = g_strdup(value);
    g_ptr_array_add(ctx, it);
}

static void show_item_free(gpointer p)
{
    struct show_item *it = p;
    g_free(it->value);
    g_free(it);
}

/* Prints the items, each kind's label once: "uids:     10023  web space /var/www/x". */
static int show_items(struct store *st, GPtrArray *items, struct ad_err *err)
{
    const char *last = NULL;
    for (guint i = 0; i < items->len; i++) {
        const struct show_item *it = g_ptr_array_index(items, i);
        char label[16] = "";
        if (!last || strcmp(last, it->kind) != 0)
            snprintf(label, sizeof label, "%ss:", it->kind);
        last = it->kind;
        char *webroot = NULL, *owner = NULL;
        int rc = 0;
        if (!strcmp(it->kind, "uid") &&
            (rc = directory_uid_webroot(st, it->value, &webroot, &owner, err)) != 0)
            return rc;
        if (webroot) {
            char *v = g_strdup_printf("%s  web space %s", it->value, webroot);
            show_field(label, v);
            g_free(v);
        } else {
            show_field(label, it->value);
        }
        g_free(webroot);
        g_free(owner);
    }
    return 0;
}

static int show_cmd(struct cli *cli, int argc, char **argv)
{
    if (argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: abusedesk directory show CUSTOMER_ID|ACCOUNT|DOMAIN\n");
        return EXIT_USAGE;
    }
    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc)
        return rc;
    struct ad_err err = { 0 };
    struct directory_customer c;
    /* The hotline knows a mailbox or a domain, not the customer number: an
     * argument that is no customer id is looked up as an account, then as a
     * domain (the customer of the directory that owns it). */
    const char *who = argv[2];
    char *owner = NULL;
    if (directory_customer_get(st, who, &c, NULL) != 0) {
        char *low = g_ascii_strdown(who, -1);
        if (directory_account_customer(st, low, &owner, &err) >= 0 && !owner && strchr(low, '@'))
            directory_domain_customer(st, strrchr(low, '@') + 1, &owner, &err);
        if (!owner)
            directory_domain_customer(st, low, &owner, &err);
        g_free(low);
        if (owner)
            who = owner;
    } else {
        directory_customer_clear(&c);
    }
    if ((rc = directory_customer_get(st, who, &c, &err)) != 0) {
        g_free(owner);
        fprintf(stderr, "abusedesk directory: %s\n", err.msg);
        store_close(st);
        return rc == AD_ERR_NOTFOUND ? 1 : exit_for(rc);
    }
    show_field("customer:", c.id);
    show_field("name:", c.name);
    show_field("contact:", c.contact_email);
    show_field("language:", c.language);
    GPtrArray *items = g_ptr_array_new_with_free_func(show_item_free);
    rc = directory_customer_each(st, c.id, show_collect, items, &err);
    if (rc == 0)
        rc = show_items(st, items, &err);
    if (rc)
        fprintf(stderr, "abusedesk directory: %s\n", err.msg);
    else if (items->len == 0)
        show_field("owns:", "nothing (no accounts, domains or uids)");
    g_ptr_array_free(items, TRUE);
    directory_customer_clear(&c);
    g_free(owner);
    store_close(st);
    return exit_for(rc);
}

/* directory set-contact CUSTOMER_ID ADDRESS [--by NAME] */
static int set_contact_cmd(struct cli *cli, int argc, char **argv)
{
    static const char use[] = "usage: abusedesk directory set-contact CUSTOMER_ID ADDRESS "
                              "[--by NAME]\n";
    const char *args[2] = { NULL, NULL }, *by = NULL;
    int n_args = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--by")) {
            if (i + 1 >= argc || !*argv[i + 1]) {
                fprintf(stderr, "abusedesk directory set-contact: --by needs a NAME\n%s", use);
                return EXIT_USAGE;
            }
            by = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "abusedesk directory set-contact: unknown option '%s'\n%s", argv[i],
                    use);
            return EXIT_USAGE;
        } else if (n_args == 2) {
            fprintf(stderr, "abusedesk directory set-contact: too many arguments\n%s", use);
            return EXIT_USAGE;
        } else {
            args[n_args++] = argv[i];
        }
    }
    if (n_args != 2) {
        fputs(use, stderr);
        return EXIT_USAGE;
    }
    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc)
        return rc;
    struct ad_err err = { 0 };
    char *old = NULL, *own = NULL;
    struct directory_customer c = { 0 };
    rc = directory_set_contact(st, args[0], args[1], &old, &err);
    if (rc == 0)
        rc = directory_customer_get(st, args[0], &c, &err);
    if (rc == 0)
        rc = directory_contact_own_account(st, args[0], &own, &err);
    store_close(st);
    if (rc) {
        fprintf(stderr, "abusedesk directory set-contact: %s\n", err.msg);
        g_free(old);
        directory_customer_clear(&c);
        return rc == AD_ERR_PARSE || rc == AD_ERR_NOTFOUND ? EXIT_USAGE : exit_for(rc);
    }
    printf("customer %s: contact address %s\n", c.id,
           strcmp(old, c.contact_email) ? "changed" : "unchanged");
    show_field("old:", old);
    show_field("new:", c.contact_email);
    show_field("by:", by ? by : cli_default_by());
    if (own)
        printf("warning: customer %s: the contact address %s is one of its own mailboxes; a "
               "lock notice cannot reach it there\n", c.id, own);
    g_free(own);
    g_free(old);
    directory_customer_clear(&c);
    return 0;
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
    if (!strcmp(argv[1], "set-contact"))
        return set_contact_cmd(cli, argc, argv);
    fprintf(stderr, "abusedesk directory: unknown subcommand '%s' (import, show or "
            "set-contact)\n", argv[1]);
    return EXIT_USAGE;
}

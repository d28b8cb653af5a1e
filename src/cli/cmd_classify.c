/*
 * cmd_classify.c: `abusedesk classify [--json] FILE...` for the support desk: a
 * customer forwards a bounce and asks "was I hacked?". One verdict per file
 * (joejob, compromised_mailbox, script, unknown) with the evidence and the
 * advice in the customer's language (classify.h). Reads the customer directory
 * when the database exists; never writes. Exit 0 when every file was read, 1
 * when some could not be (each named), 64 for usage errors.
 */
#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify.h"
#include "cli.h"
#include "parse/parse.h"
#include "store/store.h"
#include "util/textsafe.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: abusedesk [GLOBAL OPTIONS] classify [--json] FILE...   (- for stdin)\n\n"
               "For a bounce, a complaint or any mail that carries or quotes the original:\n"
               "joejob (our customer's address was forged; the mail never passed our\n"
               "hosts: nothing to lock), compromised_mailbox (it went out through our\n"
               "submission with the customer's password), script (a script on our web host\n"
               "sent it), or unknown; with the evidence (which header or hop said what) and\n"
               "advice for the support agent in the customer's language. --json prints one\n"
               "object per file: file, verdict, customer_id, subject, evidence, advice.\n");
}

int cmd_classify(struct cli *cli, int argc, char **argv)
{
    bool json = false;
    int first = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "abusedesk classify: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        } else if (!first) {
            first = i;
        }
    }
    if (!first) {
        usage(stderr);
        return EXIT_USAGE;
    }
    /* The directory, when there is a database (read only; never created here). */
    struct store *st = NULL;
    if ((cli->cfg.store_backend && !strcmp(cli->cfg.store_backend, "postgresql"))
        || g_file_test(cli->cfg.db_path, G_FILE_TEST_EXISTS)) {
        struct ad_err serr = { 0 };
        if (store_open_cfg(&cli->cfg, &st, &serr) != 0) {
            fprintf(stderr, "abusedesk classify: %s (classifying without the directory)\n",
                    serr.msg);
            st = NULL;
        }
    }
    int rc = 0;
    struct parse_limits lim;
    parse_limits_default(&lim);
    lim.max_size = cli->cfg.max_message_size;
    for (int i = first; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1])
            continue;
        struct ad_err err = { 0 };
        size_t len = 0;
        bool truncated = false;
        char *raw = cli_read_bounded(argv[i], cli->cfg.max_message_size, &len, &truncated, &err);
        struct report *r = raw ? parse_message(raw, len, &lim, &err) : NULL;
        char *shown = textsafe_terminal(argv[i]);
        if (!r) {
            fprintf(stderr, "abusedesk classify: %s: %s\n", shown, err.msg);
            rc = 1;
            g_free(shown);
            g_free(raw);
            continue;
        }
        struct classify_result res;
        if (classify_report(&cli->cfg, st, r, &res, &err) != 0) {
            fprintf(stderr, "abusedesk classify: %s: %s\n", shown, err.msg);
            rc = 1;
        } else {
            classify_quoted(raw, len, &res);
            if (json) {
                json_t *o = classify_result_json(argv[i], &res);
                char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
                printf("%s\n", s ? s : "{}");
                free(s);
                json_decref(o);
            } else {
                char *subj = textsafe_terminal(res.subject ? res.subject : "-");
                char *cust = textsafe_terminal(res.customer_id ? res.customer_id : "-");
                printf("%s: %s (customer %s, %s)\n", shown,
                       classify_verdict_name(res.verdict), cust, subj);
                for (guint k = 0; k < res.evidence->len; k++) {
                    char *e = textsafe_terminal(g_ptr_array_index(res.evidence, k));
                    printf("  - %s\n", e);
                    g_free(e);
                }
                char *adv = textsafe_terminal(res.advice);
                printf("  advice (%s): %s\n", res.language, adv);
                g_free(adv);
                g_free(subj);
                g_free(cust);
            }
        }
        classify_result_clear(&res);
        report_free(r);
        g_free(shown);
        g_free(raw);
    }
    store_close(st);
    return rc;
}

/*
 * cmd_held.c: `abusedesk held list|release|delete ACCOUNT` and `abusedesk held
 * run`: an account's mail in Postfix's hold queue (the policy server answers
 * HOLD above a soft limit), found by envelope sender with postqueue -j and
 * released with postsuper -H or deleted with postsuper -d (root only). `run`
 * carries out what unlock, dismiss and resolve asked for ([held] enabled);
 * release and delete by hand also settle the account's pending requests.
 * Exit status: 0; 75 when postqueue/postsuper failed (e.g. not root) or the
 * store is busy; 64 usage.
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "act/held.h"
#include "cli.h"
#include "store/store.h"
#include "store/store_held.h"
#include "util/textsafe.h"

static void held_usage(FILE *f)
{
    fprintf(f, "usage: abusedesk [GLOBAL OPTIONS] held list ACCOUNT\n"
               "       abusedesk [GLOBAL OPTIONS] held release ACCOUNT\n"
               "       abusedesk [GLOBAL OPTIONS] held delete ACCOUNT\n"
               "       abusedesk [GLOBAL OPTIONS] held run\n\n"
               "Mail that Postfix holds for an account (the policy server's HOLD above a\n"
               "soft limit), selected by envelope sender (any case) in postqueue -j:\n"
               "  list     the held messages and the pending requests of the account\n"
               "  release  postsuper -H: back to the deferred queue, delivered soon\n"
               "  delete   postsuper -d ... hold: gone for good (spam of a hacked mailbox)\n"
               "  run      carry out the pending requests: with [held] enabled, unlock,\n"
               "           dismiss and resolve of an account's incident ask for a release\n"
               "           (--delete-held: a deletion); run it as root, e.g. every minute\n"
               "postsuper needs root. [held] postqueue, postsuper and config_directory\n"
               "name the programs and the Postfix instance (-c DIR).\n");
}

static void print_msg(const struct held_msg *m, void *ctx)
{
    (void)ctx;
    char *s = textsafe_terminal(m->sender);
    GDateTime *dt = g_date_time_new_from_unix_utc(m->arrival_time);
    char *at = dt ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("-");
    if (dt)
        g_date_time_unref(dt);
    printf("%-16s %s  %8lld bytes  %zu recipient%s  %s\n", m->queue_id, at, (long long)m->size,
           m->n_recipients, m->n_recipients == 1 ? "" : "s", s);
    g_free(at);
    g_free(s);
}

static int held_list_cmd(struct cli *cli, const char *account)
{
    size_t n = 0;
    struct ad_err e = { 0 };
    if (held_scan(&cli->cfg, account, print_msg, NULL, &n, &e) != 0) {
        char *m = textsafe_terminal(e.msg);
        fprintf(stderr, "abusedesk held list: %s\n", m);
        g_free(m);
        return EXIT_TEMPFAIL;
    }
    char *a = textsafe_terminal(account);
    printf("%zu held message%s of %s\n", n, n == 1 ? "" : "s", a);
    g_free(a);
    struct store *st = NULL;
    if (cli_open_store(cli, &st) == 0) {
        struct store_held_request *req = NULL;
        size_t nr = 0;
        struct ad_err err = { 0 };
        if (store_held_pending(st, account, 100, &req, &nr, &err) == 0)
            for (size_t i = 0; i < nr; i++) {
                char *by = textsafe_terminal(req[i].requested_by);
                printf("pending: %s (incident %lld, asked by %s)\n", req[i].action,
                       (long long)req[i].incident_id, by);
                g_free(by);
            }
        store_held_requests_free(req, nr);
        store_close(st);
    }
    return 0;
}

static int held_now_cmd(struct cli *cli, const char *action, const char *account)
{
    struct ad_err err = { 0 };
    GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
    int rc = held_list(&cli->cfg, account, ids, &err);
    if (rc == 0 && ids->len)
        rc = held_act(&cli->cfg, action, ids, &err);
    char *a = textsafe_terminal(account);
    if (rc) {
        char *m = textsafe_terminal(err.msg);
        fprintf(stderr, "abusedesk held %s: %s\n", action, m);
        g_free(m);
        g_free(a);
        g_ptr_array_free(ids, TRUE);
        return EXIT_TEMPFAIL;
    }
    const char *done = !strcmp(action, "delete") ? "deleted" : "released";
    printf("%s %u held message%s of %s\n", done, ids->len, ids->len == 1 ? "" : "s", a);
    log_msg(&cli->log, LOG_LEVEL_INFO, "held: %s %u held messages of %s by %s", done, ids->len,
            account, cli_default_by());
    /* What was asked for this account is settled by hand. */
    struct store *st = NULL;
    if (cli_open_store(cli, &st) == 0) {
        struct store_held_request *req = NULL;
        size_t nr = 0;
        if (store_held_pending(st, account, 1000, &req, &nr, &err) == 0) {
            char result[160];
            g_snprintf(result, sizeof result, "%s %u held messages by hand (%s)", done, ids->len,
                       cli_default_by());
            int64_t now = (int64_t)(g_get_real_time() / G_USEC_PER_SEC);
            for (size_t i = 0; i < nr; i++)
                store_held_done(st, req[i].id, now, ids->len, result, &err);
        }
        store_held_requests_free(req, nr);
        store_close(st);
    }
    g_free(a);
    g_ptr_array_free(ids, TRUE);
    return 0;
}

int cmd_held(struct cli *cli, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        held_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "run") && argc == 2) {
        struct store *st = NULL;
        int rc = cli_open_store(cli, &st);
        if (rc)
            return rc;
        size_t done = 0, msgs = 0;
        struct ad_err err = { 0 };
        rc = held_process(&cli->cfg, st, NULL, (int64_t)(g_get_real_time() / G_USEC_PER_SEC),
                          &cli->log, &done, &msgs, &err);
        store_close(st);
        printf("held run: %zu request%s done, %zu message%s released or deleted\n", done,
               done == 1 ? "" : "s", msgs, msgs == 1 ? "" : "s");
        if (rc) {
            char *m = textsafe_terminal(err.msg);
            fprintf(stderr, "abusedesk held run: %s (the rest stays pending)\n", m);
            g_free(m);
            return EXIT_TEMPFAIL;
        }
        return 0;
    }
    if (argc != 3 || (strcmp(sub, "list") && strcmp(sub, "release") && strcmp(sub, "delete"))) {
        held_usage(stderr);
        return EXIT_USAGE;
    }
    if (!*argv[2] || strchr(argv[2], '\n')) {
        fprintf(stderr, "abusedesk held %s: ACCOUNT must not be empty\n", sub);
        return EXIT_USAGE;
    }
    if (!strcmp(sub, "list"))
        return held_list_cmd(cli, argv[2]);
    return held_now_cmd(cli, sub, argv[2]);
}

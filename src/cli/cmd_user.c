/*
 * cmd_user.c: the dashboard's people: `abusedesk user add|list|del|passwd`
 * and `abusedesk token add NAME`. Passwords are read from standard input
 * (never the command line) into wiped memory and stored only as an argon2id
 * hash; a token is printed once and stored only as its BLAKE2b digest.
 * `user add --generate-password` makes a random password and prints it (for
 * `make run`'s first admin). Exit status as the other commands: 64 usage, 66
 * no such user, 3 a name that is taken.
 */
#include <glib.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act/password.h"
#include "cli.h"
#include "incident/incident.h"
#include "store/store.h"
#include "store/store_web.h"
#include "util/textsafe.h"
#include "web/auth.h"
#include "web/web.h"

static int64_t now_s(void)
{
    return (int64_t)(g_get_real_time() / G_USEC_PER_SEC);
}

static void user_usage(FILE *f)
{
    fprintf(f, "usage: abusedesk [GLOBAL OPTIONS] user add NAME --role admin|agent|viewer\n"
               "                 [--generate-password]\n"
               "       abusedesk [GLOBAL OPTIONS] user list [--json]\n"
               "       abusedesk [GLOBAL OPTIONS] user del NAME\n"
               "       abusedesk [GLOBAL OPTIONS] user passwd NAME [--role ROLE]\n"
               "       abusedesk [GLOBAL OPTIONS] token add NAME\n\n"
               "The people of the dashboard (abusedesk web). The password is read from\n"
               "standard input (one line) and kept only as an argon2id hash;\n"
               "--generate-password makes a random one and prints it. Roles: viewer\n"
               "reads; agent also works incidents (lock, notify, note, unlock, dismiss,\n"
               "resolve); admin also manages users and sees the configuration. passwd sets a\n"
               "new password (and role) and ends the user's sessions. token add prints an API\n"
               "token (Authorization: Bearer TOKEN) that acts as the user; it is shown once\n"
               "and stored only as a digest. del removes the user, its tokens and sessions.\n");
}

/* The password from stdin, or a generated one (printed) when gen. */
static int read_password(bool gen, char **pw, size_t *len, struct ad_err *err)
{
    if (!gen)
        return password_read(0, pw, len, err);
    char secret[WEB_SECRET_HEX];
    web_auth_secret(secret);
    *len = 20;
    *pw = sodium_malloc(*len + 1);
    if (!*pw)
        return ad_err_set(err, AD_ERR_NOMEM, "out of memory");
    memcpy(*pw, secret, *len);
    (*pw)[*len] = '\0';
    sodium_memzero(secret, sizeof secret);
    return 0;
}

static int exit_for(int code)
{
    switch (code) {
    case 0:
        return 0;
    case AD_ERR_NOTFOUND:
        return EXIT_NOTFOUND;
    case AD_ERR_REFUSED:
        return EXIT_REFUSED;
    case AD_ERR_USAGE:
        return EXIT_USAGE;
    case AD_ERR_BUSY:
        return EXIT_TEMPFAIL;
    default:
        return EXIT_SOFTWARE;
    }
}

static int print_user(const struct store_web_user *u, void *ctx)
{
    char c[32], l[32];
    incident_iso(u->created_at, c);
    incident_iso(u->last_login, l);
    if (*(bool *)ctx) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:I}", "name", u->name, "role", u->role,
                              "created_at", c, "last_login", u->last_login ? l : NULL, "tokens",
                              (json_int_t)u->n_tokens);
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        printf("%-24s %-7s %-21s %-21s %lld\n", u->name, u->role, c, u->last_login ? l : "-",
               (long long)u->n_tokens);
    }
    return 0;
}

int cmd_user(struct cli *cli, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        user_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "abusedesk user: libsodium failed to initialise\n");
        return EXIT_SOFTWARE;
    }
    const char *action = argv[1], *name = NULL, *role = NULL;
    bool json = false, gen = false;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--role") && i + 1 < argc)
            role = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--generate-password"))
            gen = true;
        else if (!name && argv[i][0] != '-')
            name = argv[i];
        else {
            char *t = textsafe_terminal(argv[i]);
            fprintf(stderr, "abusedesk user: unexpected argument '%s'\n", t);
            g_free(t);
            user_usage(stderr);
            return EXIT_USAGE;
        }
    }
    bool list = !strcmp(action, "list");
    if (!list && strcmp(action, "add") && strcmp(action, "del") && strcmp(action, "passwd")) {
        char *t = textsafe_terminal(action);
        fprintf(stderr, "abusedesk user: unknown action '%s'\n", t);
        g_free(t);
        user_usage(stderr);
        return EXIT_USAGE;
    }
    if (!list && !web_user_name_ok(name)) {
        fprintf(stderr, "abusedesk user %s: needs a NAME of 1 to %d letters, digits and ._@- "
                        "(starting with a letter or digit)\n", action, STORE_WEB_NAME_MAX);
        return EXIT_USAGE;
    }
    if ((!strcmp(action, "add") && !role) || (role && web_role_parse(role) == WEB_ROLE_NONE)) {
        fprintf(stderr, "abusedesk user %s: --role must be admin, agent or viewer\n", action);
        return EXIT_USAGE;
    }
    if (gen && strcmp(action, "add") && strcmp(action, "passwd")) {
        fprintf(stderr, "abusedesk user %s: --generate-password is for add and passwd\n", action);
        return EXIT_USAGE;
    }
    struct ad_err err = { 0 };
    char hash[STORE_WEB_HASH_MAX] = "";
    char *pw = NULL;
    size_t len = 0;
    if (!strcmp(action, "add") || !strcmp(action, "passwd")) {
        int prc = read_password(gen, &pw, &len, &err);
        if (prc == 0)
            prc = web_auth_hash(pw, len, hash, &err);
        if (prc) {
            password_buf_free(pw);
            fprintf(stderr, "abusedesk user %s: %s\n", action, err.msg);
            return prc == AD_ERR_USAGE ? EXIT_USAGE : EXIT_SOFTWARE;
        }
    }
    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc) {
        password_buf_free(pw);
        return rc;
    }
    if (list) {
        if (!json)
            printf("%-24s %-7s %-21s %-21s %s\n", "NAME", "ROLE", "CREATED", "LAST LOGIN",
                   "TOKENS");
        rc = store_web_user_each(st, print_user, &json, &err);
    } else if (!strcmp(action, "add")) {
        rc = store_web_user_add(st, name, role, hash, now_s(), NULL, &err);
        if (rc == 0 && incident_audit(st, 0, 0, "abusedesk", "user_add", name, &err) == 0) {
            if (gen)
                printf("user %s (%s) added; password: %s\n", name, role, pw);
            else
                printf("user %s (%s) added\n", name, role);
        }
    } else if (!strcmp(action, "del")) {
        rc = store_web_user_del(st, name, &err);
        if (rc == 0 && (rc = incident_audit(st, 0, 0, "abusedesk", "user_del", name, &err)) == 0)
            printf("user %s deleted with its tokens and sessions\n", name);
    } else {
        rc = store_web_user_update(st, name, hash, role, now_s(), &err);
        if (rc == 0
            && (rc = incident_audit(st, 0, 0, "abusedesk", "user_passwd", name, &err)) == 0) {
            if (gen)
                printf("user %s: new password: %s (its sessions ended)\n", name, pw);
            else
                printf("user %s: password changed, its sessions ended\n", name);
        }
    }
    password_buf_free(pw);
    sodium_memzero(hash, sizeof hash);
    if (rc) {
        char *m = textsafe_terminal(err.msg);
        fprintf(stderr, "abusedesk user %s: %s\n", action, m);
        g_free(m);
    }
    store_close(st);
    return exit_for(rc);
}

int cmd_token(struct cli *cli, int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        user_usage(stdout);
        return 0;
    }
    if (argc != 3 || strcmp(argv[1], "add") || !web_user_name_ok(argv[2])) {
        fprintf(stderr, "usage: abusedesk [GLOBAL OPTIONS] token add NAME\n");
        return EXIT_USAGE;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "abusedesk token: libsodium failed to initialise\n");
        return EXIT_SOFTWARE;
    }
    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc)
        return rc;
    struct ad_err err = { 0 };
    struct store_web_user u;
    char token[WEB_SECRET_HEX + 4], digest[STORE_WEB_DIGEST_HEX];
    web_auth_token(token, digest);
    if ((rc = store_web_user_get(st, argv[2], &u, &err)) == 0
        && (rc = store_web_token_add(st, u.id, digest, now_s(), &err)) == 0
        && (rc = incident_audit(st, 0, 0, "abusedesk", "token_add", u.name, &err)) == 0)
        printf("%s\n", token);
    else
        fprintf(stderr, "abusedesk token add: %s\n", err.msg);
    sodium_memzero(token, sizeof token);
    store_close(st);
    return exit_for(rc);
}

int cmd_web(struct cli *cli, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: abusedesk [GLOBAL OPTIONS] web\n\n"
                   "Serves the abuse team's dashboard, the REST API under /api/v1 (Bearer\n"
                   "tokens: abusedesk token add NAME), /metrics (Prometheus; without a token\n"
                   "only from [web] metrics_allow) and /healthz on [web] listen (default\n"
                   "127.0.0.1:8025), HTTPS with [web] tls_cert and tls_key. Users: abusedesk\n"
                   "user add NAME --role admin|agent|viewer. Actions taken here queue their\n"
                   "mails and hook calls for the delivery worker (abusedesk run); this process\n"
                   "never reads the SMTP password or the webhook secret. Runs until SIGTERM.\n");
            return 0;
        }
        fprintf(stderr, "abusedesk web: unexpected argument '%s'\n", argv[i]);
        return EXIT_USAGE;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "abusedesk web: libsodium failed to initialise\n");
        return EXIT_SOFTWARE;
    }
    /* The secrets of the delivery worker are not this process's business:
     * forget them before serving anything. */
    struct config *cfg = &cli->cfg;
    if (cfg->smtp_password) {
        sodium_memzero(cfg->smtp_password, strlen(cfg->smtp_password));
        g_free(cfg->smtp_password);
        cfg->smtp_password = g_strdup("");
    }
    if (cfg->webhook_secret) {
        sodium_memzero(cfg->webhook_secret, strlen(cfg->webhook_secret));
        g_free(cfg->webhook_secret);
        cfg->webhook_secret = g_strdup("");
    }
    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc)
        return rc;
    struct ad_err err = { 0 };
    printf("abusedesk web: listening on %s://%s\n",
           cfg->web_tls_cert && *cfg->web_tls_cert ? "https" : "http", cfg->web_listen);
    fflush(stdout);
    if (web_serve(cfg, st, &cli->log, &err) != 0) {
        fprintf(stderr, "abusedesk web: %s\n", err.msg);
        rc = err.code == AD_ERR_CONFIG ? EXIT_CONFIG : EXIT_SOFTWARE;
    }
    store_close(st);
    return rc;
}

/*
 * cmd_batv.c: `abusedesk batv keygen|sign ADDRESS|check ADDRESS` (batv.h).
 * keygen adds a key to [batv] keys_file (the newest signs, every key
 * verifies: run it to rotate, then signal the milter and policy server with
 * SIGHUP or restart them); sign prints the tagged address; check exits 0 and
 * prints the original address when the tag is ours and in time, 1 (with the
 * reason on stderr) when it is not. Usage errors exit 64, a missing or bad key
 * file 78.
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "batv/batv.h"
#include "cli.h"
#include "util/textsafe.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: abusedesk [GLOBAL OPTIONS] batv keygen\n"
               "       abusedesk [GLOBAL OPTIONS] batv sign ADDRESS\n"
               "       abusedesk [GLOBAL OPTIONS] batv check ADDRESS\n\n"
               "BATV (prvs=KDDDSSSSSS=local@domain, doc/batv.md). keygen adds a new key\n"
               "to [batv] keys_file (the newest signs; older keys still verify bounces of\n"
               "mail signed with them). sign prints ADDRESS tagged with the newest key.\n"
               "check exits 0 and prints the original address when ADDRESS carries a\n"
               "valid tag of ours, 1 (reason on stderr) when it is untagged, forged or\n"
               "older than [batv] lifetime.\n");
}

int cmd_batv(struct cli *cli, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const struct config *cfg = &cli->cfg;
    int64_t now = g_get_real_time() / G_USEC_PER_SEC;
    struct ad_err err = { 0 };
    if (!strcmp(argv[1], "keygen") && argc == 2) {
        int num = -1;
        if (batv_keygen(cfg->batv_keys_file, now, &num, &err) != 0) {
            fprintf(stderr, "abusedesk batv keygen: %s\n", err.msg);
            return err.code == AD_ERR_PARSE ? EXIT_CONFIG : EXIT_CANTCREAT;
        }
        printf("key %d added to %s: it signs from now on (SIGHUP the milter and the policy "
               "server)\n", num, cfg->batv_keys_file);
        return 0;
    }
    if ((strcmp(argv[1], "sign") && strcmp(argv[1], "check")) || argc != 3) {
        usage(stderr);
        return EXIT_USAGE;
    }
    struct batv_keys keys;
    if (batv_keys_load(cfg->batv_keys_file, &keys, &err) != 0) {
        fprintf(stderr, "abusedesk batv: %s\n", err.msg);
        return EXIT_CONFIG;
    }
    const char *addr = argv[2];
    size_t len = strlen(addr);
    int rc = 0;
    if (!strcmp(argv[1], "sign")) {
        char out[BATV_MAX_ADDR + BATV_TAG_LEN + 1];
        if (batv_sign(&keys, addr, len, now, cfg->batv_lifetime, out, sizeof out, &err) != 0) {
            char *shown = textsafe_terminal(addr);
            fprintf(stderr, "abusedesk batv sign: %s: %s\n", shown, err.msg);
            g_free(shown);
            rc = EXIT_DATAERR;
        } else {
            if (!batv_address_listed(cfg->batv_domains, addr))
                fprintf(stderr, "abusedesk batv sign: note: the domain is not in [batv] "
                                "domains\n");
            printf("%s\n", out);
        }
    } else {
        char orig[BATV_MAX_ADDR + 1];
        enum batv_status s = batv_check(&keys, addr, len, now, cfg->batv_lifetime, orig,
                                        sizeof orig);
        if (s == BATV_VALID) {
            printf("%s\n", orig);
        } else {
            char *shown = textsafe_terminal(addr);
            fprintf(stderr, "abusedesk batv check: %s: %s\n", shown, batv_status_name(s));
            g_free(shown);
            rc = 1;
        }
    }
    memset(&keys, 0, sizeof keys);
    return rc;
}

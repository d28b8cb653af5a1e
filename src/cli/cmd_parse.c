/*
 * cmd_parse.c: `abusedesk parse FILE...`: prints one JSON object per file (the
 * contract of DESIGN.md). Reads each file with a bounded read, so a huge file costs
 * at most the parse limit in memory. Exit 0 when every file parsed, 1 when some
 * could not be read or were not mail (a JSON object with "error" is printed for
 * those), 64 on usage errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "parse/parse.h"
#include "parse/report_json.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: abusedesk [GLOBAL OPTIONS] parse [--pretty] FILE...\n"
            "\n"
            "Parses each FILE (one RFC 5322 message: ARF complaint, auth-failure report,\n"
            "bounce/DSN, plain-text abuse complaint) and prints one JSON object per line:\n"
            "file, kind (arf, auth-failure, dsn, abuse-text, unknown), the ARF fields, the\n"
            "DSN recipients with status and reason, and the original message's headers.\n"
            "'-' reads standard input. Exit status: 0 all parsed, 1 some failed.\n"
            "\n"
            "  --pretty   indent the JSON (one object per file, several lines)\n");
}

/* Reads at most max bytes of path into a g_malloc'd buffer; *truncated says whether
 * more followed. Returns NULL and fills err on failure. */
char *cli_read_bounded(const char *path, size_t max, size_t *len, bool *truncated,
                       struct ad_err *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        ad_err_set(err, AD_ERR_IO, "%s: %s", path, g_strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = g_malloc(cap + 1);
    *truncated = false;
    for (;;) {
        if (n == cap) {
            if (cap >= max) {
                int c = fgetc(f);
                *truncated = c != EOF;
                break;
            }
            cap = cap * 2 > max ? max : cap * 2;
            buf = g_realloc(buf, cap + 1);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool failed = ferror(f);
    if (f != stdin)
        fclose(f);
    if (failed) {
        g_free(buf);
        ad_err_set(err, AD_ERR_IO, "%s: read error", path);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int cmd_parse(struct cli *cli, int argc, char **argv)
{
    bool pretty = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--pretty") == 0) {
            pretty = true;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            fprintf(stderr, "abusedesk parse: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 64;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 64;
    }
    struct parse_limits lim;
    parse_limits_default(&lim);
    lim.max_size = cli->cfg.max_message_size;
    int rc = 0;
    for (; i < argc; i++) {
        struct ad_err err = { 0 };
        size_t len = 0;
        bool truncated = false;
        char *data = cli_read_bounded(argv[i], lim.max_size, &len, &truncated, &err);
        struct report *r = data ? parse_message(data, len, &lim, &err) : NULL;
        if (r && truncated && !r->warning)
            r->warning = "message longer than the parse limit: only its start was parsed";
        if (!r) {
            json_t *o = json_pack("{s:s,s:s,s:s}", "file", argv[i], "kind", "error", "error",
                                  err.msg);
            char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            puts(s);
            free(s);
            json_decref(o);
            fprintf(stderr, "abusedesk parse: %s: %s\n", argv[i], err.msg);
            rc = 1;
        } else {
            json_t *o = report_json(r, argv[i]);
            char *s = json_dumps(o, (pretty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_PRESERVE_ORDER);
            puts(s);
            free(s);
            json_decref(o);
        }
        report_free(r);
        g_free(data);
    }
    return rc;
}

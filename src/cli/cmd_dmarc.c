/*
 * cmd_dmarc.c: `abusedesk dmarc parse|show`. parse reads DMARC aggregate
 * report files (XML, gzip or zip; reputation/dmarc.h) and prints them, one
 * line per record (or one JSON object per file), resolving nothing; show
 * lists the reports the desk worker stored (store/store_audit.h) with the
 * volume failing DMARC from outside our ranges. Exit status: 0, 1 when a
 * file could not be read (parse), 64 usage, 75 store unavailable.
 */
#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "incident/incident.h"
#include "reputation/dmarc.h"
#include "reputation/dmarc_desk.h"
#include "reputation/dmarc_print.h"
#include "store/store.h"
#include "store/store_audit.h"
#include "util/textsafe.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: abusedesk [GLOBAL OPTIONS] dmarc parse [--json] FILE...\n"
            "       abusedesk [GLOBAL OPTIONS] dmarc show [--json] [--domain D] [--limit N]\n\n"
            "parse: reads DMARC aggregate reports (RFC 7489 rua: XML, gzip or zip) and\n"
            "prints one line per record (source address, messages, disposition, DKIM,\n"
            "SPF, header From, ours/foreign), or with --json one object per file: file,\n"
            "org_name, report_id, domain, begin, end, policy, total, failing, rows.\n"
            "Addresses are never resolved to names.\n"
            "show: the reports the desk stored (they arrive by mail through `abusedesk\n"
            "ingest`), newest first: domain, reporter, period, messages, forged (failing\n"
            "DMARC from addresses outside our ranges), customer and incident; --json: one\n"
            "object per report with its largest rows.\n");
}

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

static char *iso(int64_t t)
{
    char buf[32];
    return g_strdup(incident_iso(t, buf));
}

static int parse_one(struct cli *cli, const char *path, bool json)
{
    gchar *data = NULL;
    gsize len = 0;
    GError *ge = NULL;
    if (!g_file_get_contents(path, &data, &len, &ge)) {
        fprintf(stderr, "abusedesk dmarc: %s\n", ge->message);
        g_error_free(ge);
        return 1;
    }
    struct dmarc_report *r = NULL;
    struct ad_err err = { 0 };
    int rc = dmarc_parse(data, len, &r, &err);
    if (rc == AD_ERR_PARSE && g_str_has_suffix(path, ".eml")) {
        /* A whole mail: the report is its attachment. */
        struct ad_err merr = { 0 };
        int m = dmarc_mail_find(data, len, &r, &merr);
        rc = m == 0 ? 0 : rc;
        if (m < 0)
            err = merr;
    }
    g_free(data);
    if (rc) {
        char *p = textsafe_terminal(path);
        fprintf(stderr, "abusedesk dmarc: %s: %s\n", p, err.msg);
        g_free(p);
        return 1;
    }
    uint64_t failing = 0;
    bool *ours = g_new0(bool, r->n_rows + 1);
    for (size_t i = 0; i < r->n_rows; i++) {
        ours[i] = dmarc_desk_ip_is_ours(&cli->cfg, r->rows[i].source_ip);
        if (dmarc_row_fails(&r->rows[i]) && !ours[i])
            failing += r->rows[i].count;
    }
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "file", json_string(path));
        json_object_set_new(o, "format", json_string(r->format));
        json_object_set_new(o, "org_name", jstr(r->org_name));
        json_object_set_new(o, "report_id", jstr(r->report_id));
        json_object_set_new(o, "domain", jstr(r->domain));
        json_object_set_new(o, "begin", json_integer(r->begin));
        json_object_set_new(o, "end", json_integer(r->end));
        json_object_set_new(o, "policy", r->p[0] ? json_string(r->p) : json_null());
        json_object_set_new(o, "total", json_integer((json_int_t)MIN(r->total, INT64_MAX)));
        json_object_set_new(o, "failing", json_integer((json_int_t)MIN(failing, INT64_MAX)));
        json_object_set_new(o, "dropped", json_integer((json_int_t)r->n_dropped));
        json_t *rows = json_array();
        for (size_t i = 0; i < r->n_rows; i++) {
            const struct dmarc_row *w = &r->rows[i];
            json_t *x = json_object();
            json_object_set_new(x, "source_ip", json_string(w->source_ip));
            json_object_set_new(x, "count", json_integer((json_int_t)w->count));
            json_object_set_new(x, "disposition", json_string(w->disposition));
            json_object_set_new(x, "dkim", json_string(w->dkim));
            json_object_set_new(x, "spf", json_string(w->spf));
            json_object_set_new(x, "header_from", jstr(w->header_from));
            json_object_set_new(x, "ours", json_boolean(ours[i]));
            json_array_append_new(rows, x);
        }
        json_object_set_new(o, "rows", rows);
        char *line = json_dumps(o, JSON_COMPACT);
        if (line)
            puts(line);
        free(line);
        json_decref(o);
    } else {
        GString *out = g_string_sized_new(256 + r->n_rows * 80);
        dmarc_print_text(out, path, r, ours, failing);
        fwrite(out->str, 1, out->len, stdout);
        g_string_free(out, TRUE);
    }
    g_free(ours);
    dmarc_report_free(r);
    return 0;
}

struct show_ctx {
    struct store *st;
    bool json;
    int rc;
};

static int show_row(const struct store_dmarc_row *w, void *ctx)
{
    json_t *rows = ctx;
    json_t *x = json_object();
    json_object_set_new(x, "source_ip", jstr(w->source_ip));
    json_object_set_new(x, "count", json_integer(w->messages));
    json_object_set_new(x, "disposition", jstr(w->disposition));
    json_object_set_new(x, "dkim", jstr(w->dkim));
    json_object_set_new(x, "spf", jstr(w->spf));
    json_object_set_new(x, "header_from", jstr(w->header_from));
    json_object_set_new(x, "ours", json_boolean(w->ours));
    json_array_append_new(rows, x);
    return 0;
}

static int show_one(const struct store_dmarc_report *r, void *ctx)
{
    struct show_ctx *c = ctx;
    char *b = iso(r->begin_at), *e = iso(r->end_at);
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(r->id));
        json_object_set_new(o, "domain", jstr(r->domain));
        json_object_set_new(o, "org_name", jstr(r->org_name));
        json_object_set_new(o, "email", jstr(r->email));
        json_object_set_new(o, "report_id", jstr(r->report_id));
        json_object_set_new(o, "begin", json_string(b));
        json_object_set_new(o, "end", json_string(e));
        json_object_set_new(o, "policy", jstr(r->policy));
        json_object_set_new(o, "total", json_integer(r->total));
        json_object_set_new(o, "forged", json_integer(r->forged));
        json_object_set_new(o, "customer_id", jstr(r->customer_id));
        json_object_set_new(o, "incident_id", r->incident_id ? json_integer(r->incident_id)
                                                              : json_null());
        json_object_set_new(o, "report", r->source_report ? json_integer(r->source_report)
                                                          : json_null());
        json_t *rows = json_array();
        struct ad_err err = { 0 };
        if (store_audit_dmarc_rows(c->st, r->id, 20, show_row, rows, &err) != 0) {
            fprintf(stderr, "abusedesk dmarc: %s\n", err.msg);
            c->rc = EXIT_TEMPFAIL;
        }
        json_object_set_new(o, "rows", rows);
        char *line = json_dumps(o, JSON_COMPACT);
        if (line)
            puts(line);
        free(line);
        json_decref(o);
    } else {
        char *org = textsafe_terminal(r->org_name ? r->org_name : r->email ? r->email : "?");
        char *cust = textsafe_terminal(r->customer_id ? r->customer_id : "-");
        char inc[32] = "-";
        if (r->incident_id)
            g_snprintf(inc, sizeof inc, "#%lld", (long long)r->incident_id);
        printf("%-6lld %-30s %-24s %.10s..%.10s %10lld %10lld %-12s %s\n", (long long)r->id,
               r->domain, org, b, e, (long long)r->total, (long long)r->forged, cust, inc);
        g_free(org);
        g_free(cust);
    }
    g_free(b);
    g_free(e);
    return 0;
}

int cmd_dmarc(struct cli *cli, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    bool json = false;
    const char *domain = NULL;
    long long limit = 50;
    GPtrArray *files = g_ptr_array_new();
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--domain") && i + 1 < argc) {
            domain = argv[++i];
        } else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
            limit = g_ascii_strtoll(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            g_ptr_array_free(files, TRUE);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "abusedesk dmarc: unknown option '%s'\n", argv[i]);
            g_ptr_array_free(files, TRUE);
            return EXIT_USAGE;
        } else {
            g_ptr_array_add(files, argv[i]);
        }
    }
    int rc = 0;
    if (!strcmp(argv[1], "parse")) {
        if (files->len == 0) {
            usage(stderr);
            rc = EXIT_USAGE;
        }
        for (guint i = 0; i < files->len; i++)
            if (parse_one(cli, files->pdata[i], json))
                rc = 1;
    } else if (!strcmp(argv[1], "show") && files->len == 0) {
        struct store *st = NULL;
        if ((rc = cli_open_store(cli, &st)) == 0) {
            char *d = domain ? g_ascii_strdown(domain, -1) : NULL;
            struct show_ctx c = { st, json, 0 };
            if (!json)
                printf("%-6s %-30s %-24s %-22s %10s %10s %-12s %s\n", "ID", "DOMAIN",
                       "REPORTER", "PERIOD", "MESSAGES", "FORGED", "CUSTOMER", "INCIDENT");
            struct ad_err err = { 0 };
            if (store_audit_dmarc_each(st, d, limit, show_one, &c, &err) != 0) {
                fprintf(stderr, "abusedesk dmarc: %s\n", err.msg);
                rc = EXIT_TEMPFAIL;
            } else {
                rc = c.rc;
            }
            g_free(d);
            store_close(st);
        }
    } else {
        usage(stderr);
        rc = EXIT_USAGE;
    }
    g_ptr_array_free(files, TRUE);
    return rc;
}

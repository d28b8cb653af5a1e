/*
 * corpus_report.c: checks the parser against shared/corpus/MANIFEST.tsv and prints
 * per-kind and per-field accuracy (`make corpus-report`) against the targets of
 * the foundation issue: 100% of ARF samples recognised with the right feedback
 * type, >= 99% of ARF fields, >= 95% of DSN rows with the right recipient and
 * status, >= 90% reason agreement, identical results for CRLF and CR-only copies.
 * With --check it exits 1 when accuracy falls below a bar (used by `make test`).
 * The expected values are a reference parser's (Sisimai's) opinion; --mismatches
 * lists every disagreement so each one can be judged.
 *
 * The DSN recipient+status target is not met yet; --check enforces a regression
 * floor just below the accuracy reached so far for it (see bars[] below).
 *
 * usage: corpus_report [--check] [--mismatches] [CORPUS_DIR]
 */
#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse/parse.h"
#include "parse/report_json.h"

enum col { C_FILE, C_KIND, C_IDX, C_FTYPE, C_REASON, C_STATUS, C_REPLY, C_HARD, C_RCPT,
           C_ADDRESSER, C_RHOST, C_N_USED = 11 };

struct tally {
    const char *name;
    unsigned ok, n;
};

static bool verbose;

static void report_destroy(gpointer p)
{
    report_free(p);
}

static void count(struct tally *t, bool ok, const char *file, const char *want, const char *got)
{
    t->n++;
    if (ok)
        t->ok++;
    else if (verbose)
        printf("MISMATCH %-14s %-45s want=%s got=%s\n", t->name, file, want ? want : "(none)",
               got ? got : "(none)");
}

static bool eq(const char *a, const char *b)
{
    return a && b && g_ascii_strcasecmp(a, b) == 0;
}

static struct report *parse_file(const char *path)
{
    char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &data, &len, NULL))
        return NULL;
    struct report *r = parse_message(data, len, NULL, NULL);
    g_free(data);
    return r;
}

static const char *kind_for(const char *manifest_kind)
{
    if (!strcmp(manifest_kind, "other"))
        return "unknown";
    return manifest_kind;
}

static const struct dsn_rcpt *find_rcpt(const struct report *r, const char *addr, unsigned idx)
{
    for (guint i = 0; i < r->recipients->len; i++) {
        const struct dsn_rcpt *d = g_ptr_array_index(r->recipients, i);
        if (eq(d->final_recipient, addr))
            return d;
    }
    if (!*addr && idx >= 1 && idx <= r->recipients->len)
        return g_ptr_array_index(r->recipients, idx - 1);
    return NULL;
}

static bool is_ip(const char *s)
{
    return s && *s && g_hostname_is_ip_address(s);
}

int main(int argc, char **argv)
{
    bool check = false;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--check"))
            check = true;
        else if (!strcmp(argv[i], "--mismatches"))
            verbose = true;
        else
            dir = argv[i];
    }
    char *dflt = NULL;
    if (!dir) {
        const char *src = getenv("AD_SOURCE_DIR");
        dflt = g_build_filename(src ? src : ".", "..", "shared", "corpus", NULL);
        dir = dflt;
    }
    char *manifest = g_build_filename(dir, "MANIFEST.tsv", NULL);
    char *text = NULL;
    if (!g_file_get_contents(manifest, &text, NULL, NULL)) {
        fprintf(stderr, "corpus_report: cannot read %s\n", manifest);
        return 2;
    }
    parse_init();

    struct tally kind = { "kind", 0, 0 }, arf_kind = { "arf-kind+type", 0, 0 },
                 arf_fields = { "arf-fields", 0, 0 }, dsn_rs = { "dsn-rcpt+status", 0, 0 },
                 dsn_rcpt = { "dsn-rcpt", 0, 0 }, dsn_status = { "dsn-status", 0, 0 },
                 dsn_reason = { "dsn-reason", 0, 0 }, eol = { "line-endings", 0, 0 };
    GHashTable *cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                              report_destroy);
    GHashTable *kind_done = g_hash_table_new(g_str_hash, g_str_equal);
    char **lines = g_strsplit(text, "\n", -1);
    for (char **l = lines + 1; *l; l++) {
        if (!**l)
            continue;
        char **c = g_strsplit(*l, "\t", -1);
        if (g_strv_length(c) < C_N_USED) {
            g_strfreev(c);
            continue;
        }
        const char *file = c[C_FILE];
        struct report *r = g_hash_table_lookup(cache, file);
        if (!r) {
            char *path = g_build_filename(dir, file, NULL);
            r = parse_file(path);
            g_free(path);
            if (!r)
                r = report_new();
            g_hash_table_insert(cache, g_strdup(file), r);
        }
        const char *want_kind = kind_for(c[C_KIND]);
        const char *got_kind = report_kind_name(r->kind);
        if (!g_hash_table_contains(kind_done, file)) {
            gpointer key = NULL;
            g_hash_table_lookup_extended(cache, file, &key, NULL);
            g_hash_table_add(kind_done, key); /* the cache owns the key */
            count(&kind, !strcmp(want_kind, got_kind), file, want_kind, got_kind);
        }
        bool feedback = !strcmp(c[C_KIND], "arf") || !strcmp(c[C_KIND], "auth-failure");
        if (feedback) {
            count(&arf_kind, !strcmp(want_kind, got_kind) && eq(c[C_FTYPE], r->feedback_type),
                  file, c[C_FTYPE], r->feedback_type);
            unsigned idx = (unsigned)atoi(c[C_IDX]);
            if (*c[C_RCPT]) {
                const char *got = idx >= 1 && idx <= r->original_rcpt_to->len
                                      ? g_ptr_array_index(r->original_rcpt_to, idx - 1)
                                      : (r->original ? r->original->to : NULL);
                count(&arf_fields, eq(c[C_RCPT], got), file, c[C_RCPT], got);
            }
            if (*c[C_ADDRESSER]) {
                const char *got = r->original_mail_from;
                if (!got && r->original)
                    got = r->original->from ? r->original->from : r->original->return_path;
                count(&arf_fields, eq(c[C_ADDRESSER], got), file, c[C_ADDRESSER], got);
            }
            if (is_ip(c[C_RHOST]))
                count(&arf_fields, eq(c[C_RHOST], r->source_ip), file, c[C_RHOST], r->source_ip);
        } else if (!strcmp(c[C_KIND], "dsn")) {
            unsigned idx = (unsigned)atoi(c[C_IDX]);
            const struct dsn_rcpt *d = find_rcpt(r, c[C_RCPT], idx);
            bool rcpt_ok = *c[C_RCPT] ? d != NULL : true;
            bool status_ok = !*c[C_STATUS] || (d && eq(c[C_STATUS], d->status));
            count(&dsn_rcpt, rcpt_ok, file, c[C_RCPT],
                  r->recipients->len ? ((const struct dsn_rcpt *)g_ptr_array_index(r->recipients, 0))->final_recipient : NULL);
            if (*c[C_STATUS])
                count(&dsn_status, status_ok, file, c[C_STATUS], d ? d->status : NULL);
            count(&dsn_rs, rcpt_ok && status_ok, file, c[C_RCPT], d ? d->status : NULL);
            if (*c[C_REASON])
                count(&dsn_reason, d && eq(c[C_REASON], d->reason), file, c[C_REASON],
                      d ? d->reason : NULL);
        }
        g_strfreev(c);
    }

    /* CRLF and CR-only copies must give what their LF original gives. */
    static const char *const eol_dirs[] = { "line-endings/crlf", "line-endings/cr" };
    static const char *const lf_dirs[] = { "dsn", "arf", "auth-failure", "other/autoreply",
                                           "other/not-bounce" };
    for (size_t e = 0; e < G_N_ELEMENTS(eol_dirs); e++) {
        char *edir = g_build_filename(dir, eol_dirs[e], NULL);
        GDir *gd = g_dir_open(edir, 0, NULL);
        const char *name;
        while (gd && (name = g_dir_read_name(gd)) != NULL) {
            char *lf = NULL;
            for (size_t k = 0; k < G_N_ELEMENTS(lf_dirs) && !lf; k++) {
                char *p = g_build_filename(dir, lf_dirs[k], name, NULL);
                if (g_file_test(p, G_FILE_TEST_EXISTS))
                    lf = p;
                else
                    g_free(p);
            }
            if (!lf)
                continue;
            char *ep = g_build_filename(edir, name, NULL);
            struct report *a = parse_file(lf), *b = parse_file(ep);
            char *ja = a ? report_json_line(a, "x") : NULL;
            char *jb = b ? report_json_line(b, "x") : NULL;
            count(&eol, ja && jb && !strcmp(ja, jb), ep, "same as LF", "different");
            free(ja);
            free(jb);
            report_free(a);
            report_free(b);
            g_free(ep);
            g_free(lf);
        }
        if (gd)
            g_dir_close(gd);
        g_free(edir);
    }

    const struct tally *all[] = { &kind, &arf_kind, &arf_fields, &dsn_rs, &dsn_rcpt, &dsn_status,
                                  &dsn_reason, &eol };
    printf("%-18s %8s %8s %8s\n", "measure", "right", "of", "percent");
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++)
        printf("%-18s %8u %8u %7.1f%%\n", all[i]->name, all[i]->ok, all[i]->n,
               all[i]->n ? 100.0 * all[i]->ok / all[i]->n : 100.0);

    /* Two bars: the targets, reported; and regression floors at the
     * accuracy reached so far, enforced by --check (make test). A floor is raised
     * to its target once the target is met, never lowered. */
    int rc = 0;
    struct {
        const struct tally *t;
        double target, floor;
    } bars[] = { { &arf_kind, 100.0, 100.0 }, { &arf_fields, 99.0, 99.0 },
                 { &dsn_rs, 95.0, 94.0 }, { &dsn_reason, 90.0, 90.0 },
                 { &eol, 100.0, 100.0 } };
    for (size_t i = 0; i < G_N_ELEMENTS(bars); i++) {
        double pct = bars[i].t->n ? 100.0 * bars[i].t->ok / bars[i].t->n : 0.0;
        bool met = pct + 1e-9 >= bars[i].target;
        bool floor_ok = pct + 1e-9 >= bars[i].floor;
        printf("target %-16s >= %5.1f%%: %s (%.1f%%)", bars[i].t->name, bars[i].target,
               met ? "met" : "MISSED", pct);
        if (!met)
            printf("; regression floor %.1f%%: %s", bars[i].floor, floor_ok ? "held" : "BROKEN");
        printf("\n");
        if (check && !floor_ok)
            rc = 1;
    }
    g_strfreev(lines);
    g_hash_table_destroy(kind_done);
    g_hash_table_destroy(cache);
    g_free(text);
    g_free(manifest);
    g_free(dflt);
    return rc;
}

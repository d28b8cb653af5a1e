/*
 * report_json_test.c: report_json_line() writes its JSON directly for speed; this
 * test holds it to the same bytes jansson produces from report_json() (compact,
 * in order) for every mail of shared/corpus and for strings full of characters
 * that need escaping (quotes, backslashes, control characters, invalid UTF-8).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "parse/parse.h"
#include "parse/report.h"
#include "parse/report_json.h"

static int compare(const struct report *r, const char *name)
{
    json_t *o = report_json(r, name);
    char *want = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    char *got = report_json_line(r, name);
    int bad = strcmp(want, got) != 0;
    if (bad) {
        size_t k = 0;
        while (want[k] && want[k] == got[k])
            k++;
        print_error("%s: differs at byte %zu:\n  got  ...%.60s\n  want ...%.60s\n", name, k,
                    got + (k > 20 ? k - 20 : 0), want + (k > 20 ? k - 20 : 0));
    }
    free(want);
    free(got);
    return bad;
}

static void test_corpus(void **state)
{
    (void)state;
    /* CTest passes the shared/ folder tools/shared-dir.sh found. */
    const char *shared = getenv("AD_SHARED_DIR");
    const char *src = getenv("AD_SOURCE_DIR");
    char *dir = shared && *shared ? g_build_filename(shared, "corpus", NULL)
                                  : g_build_filename(src ? src : ".", "..", "shared", "corpus", NULL);
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        print_error("%s: the corpus is missing (AD_SHARED_DIR)\n", dir);
        g_free(dir);
        fail();
    }
    GPtrArray *stack = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(stack, dir);
    int bad = 0, n = 0;
    while (stack->len) {
        char *d = g_ptr_array_steal_index(stack, stack->len - 1);
        GDir *gd = g_dir_open(d, 0, NULL);
        const char *nm;
        while (gd && (nm = g_dir_read_name(gd))) {
            char *p = g_build_filename(d, nm, NULL);
            if (g_file_test(p, G_FILE_TEST_IS_DIR)) {
                g_ptr_array_add(stack, p);
                continue;
            }
            if (g_str_has_suffix(nm, ".eml")) {
                char *data = NULL;
                gsize len = 0;
                if (g_file_get_contents(p, &data, &len, NULL)) {
                    struct parse_limits lim;
                    parse_limits_default(&lim);
                    struct ad_err err = { 0 };
                    struct report *r = parse_message(data, len, &lim, &err);
                    if (r) {
                        bad += compare(r, p);
                        n++;
                    }
                    report_free(r);
                    g_free(data);
                }
            }
            g_free(p);
        }
        if (gd)
            g_dir_close(gd);
        g_free(d);
    }
    g_ptr_array_free(stack, TRUE);
    if (n < 100)
        fail_msg("corpus: got %d mails compared, want the whole corpus", n);
    if (bad)
        fail_msg("%d of %d mails differ, see above", bad, n);
}

static void test_escapes(void **state)
{
    (void)state;
    struct report *r = report_new();
    r->subject = report_str(r, "quote \" backslash \\ slash / tab\t nl\n cr\r bs\b ff\f "
                               "ctl\x01\x1f del\x7f umlaut \xc3\xa4 emoji \xf0\x9f\x98\x80", -1);
    r->from = report_str(r, "invalid \xff\xfe utf-8 \xc3", -1);
    r->kind = REPORT_DSN;
    struct dsn_rcpt *d = report_add_rcpt(r);
    d->final_recipient = report_str(r, "\"quoted\"@example.org", -1);
    struct original *o = report_original(r);
    o->subject = report_str(r, "", -1);
    g_ptr_array_add(r->reported_domain, (gpointer)report_str(r, "a.example", -1));
    int bad = compare(r, "escapes") + compare(r, NULL);
    report_free(r);
    if (bad)
        fail_msg("escapes differ, see above");
}

int main(void)
{
    parse_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

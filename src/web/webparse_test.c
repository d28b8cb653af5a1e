/*
 * webparse_test.c: table-driven unit tests for web/parse.c: query strings and
 * forms (escapes, '+', empty pairs, keys without '=', malformed escapes, NUL,
 * invalid UTF-8, too many or too long parameters), cookies (present, absent,
 * a name that is a prefix of another, quotes and controls refused, too long),
 * JSON bodies (empty, object, array, broken, duplicate keys) and path ids. A
 * failure names the row and prints "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <string.h>

#include "web/parse.h"

struct form_case {
    const char *name, *in;
    int want_rc;
    const char *want;   /* pairs as "k=v|k=v" */
};

static void test_form(void **state)
{
    static const struct form_case cases[] = {
        { "plain", "a=1&b=2", 0, "a=1|b=2" },
        { "leading ?", "?state=open", 0, "state=open" },
        { "plus and escapes", "q=a+b%21%C3%A4", 0, "q=a b!\xc3\xa4" },
        { "key without =", "flag&x=1", 0, "flag=|x=1" },
        { "empty pairs skipped", "&&a=1&&", 0, "a=1" },
        { "empty value", "a=", 0, "a=" },
        { "= inside the value", "a=b=c", 0, "a=b=c" },
        { "empty", "", 0, "" },
        { "bad escape", "a=%zz", AD_ERR_PARSE, NULL },
        { "cut escape", "a=%4", AD_ERR_PARSE, NULL },
        { "escape at the end", "a=%", AD_ERR_PARSE, NULL },
        { "NUL escaped", "a=%00", AD_ERR_PARSE, NULL },
        { "invalid UTF-8", "a=%C3%28", AD_ERR_PARSE, NULL },
        { "empty key", "=1", AD_ERR_PARSE, NULL },
    };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const struct form_case *c = &cases[i];
        GPtrArray *kv = NULL;
        struct ad_err err = { 0 };
        int rc = web_parse_form(c->in, strlen(c->in), &kv, &err);
        if (rc != c->want_rc) {
            print_error("%s: got rc %d (%s), want %d\n", c->name, rc, err.msg, c->want_rc);
            bad++;
        } else if (rc == 0) {
            GString *g = g_string_new(NULL);
            for (guint k = 0; k < kv->len; k++) {
                const struct web_kv *p = g_ptr_array_index(kv, k);
                g_string_append_printf(g, "%s%s=%s", k ? "|" : "", p->key, p->value);
            }
            if (strcmp(g->str, c->want)) {
                print_error("%s: got \"%s\", want \"%s\"\n", c->name, g->str, c->want);
                bad++;
            }
            g_string_free(g, TRUE);
        } else if (kv) {
            print_error("%s: got a result on error\n", c->name);
            bad++;
        }
        if (kv)
            g_ptr_array_free(kv, TRUE);
    }
    assert_int_equal(bad, 0);
}

static void test_form_limits(void **state)
{
    GString *s = g_string_new(NULL);
    for (int i = 0; i <= WEB_PARSE_MAX_PARAMS; i++)
        g_string_append_printf(s, "k%d=v&", i);
    GPtrArray *kv = NULL;
    assert_int_equal(web_parse_form(s->str, s->len, &kv, NULL), AD_ERR_LIMIT);
    assert_null(kv);
    g_string_assign(s, "a=");
    for (int i = 0; i <= WEB_PARSE_MAX_VALUE; i++)
        g_string_append_c(s, 'x');
    assert_int_equal(web_parse_form(s->str, s->len, &kv, NULL), AD_ERR_LIMIT);
    g_string_assign(s, "");
    for (int i = 0; i <= WEB_PARSE_MAX_KEY; i++)
        g_string_append_c(s, 'k');
    assert_int_equal(web_parse_form(s->str, s->len, &kv, NULL), AD_ERR_LIMIT);
    /* Not NUL-terminated: only len bytes are read. */
    assert_int_equal(web_parse_form("a=1&b=2", 3, &kv, NULL), 0);
    assert_int_equal(kv->len, 1);
    assert_string_equal(web_kv_get(kv, "a"), "1");
    assert_null(web_kv_get(kv, "b"));
    g_ptr_array_free(kv, TRUE);
    g_string_free(s, TRUE);
}

struct cookie_case {
    const char *name, *header, *cookie;
    size_t size;
    const char *want;   /* NULL: absent or refused */
};

static void test_cookie(void **state)
{
    static const struct cookie_case cases[] = {
        { "one", "ad_session=abc", "ad_session", 64, "abc" },
        { "among others", "a=1; ad_session=abc; b=2", "ad_session", 64, "abc" },
        { "prefix of another name", "ad_session_x=1; ad_session=ok", "ad_session", 64, "ok" },
        { "absent", "a=1; b=2", "ad_session", 64, NULL },
        { "empty value", "ad_session=", "ad_session", 64, "" },
        { "quoted refused", "ad_session=\"x\"", "ad_session", 64, NULL },
        { "space inside refused", "ad_session=a b", "ad_session", 64, NULL },
        { "control refused", "ad_session=a\x01", "ad_session", 64, NULL },
        { "too long for the buffer", "ad_session=0123456789", "ad_session", 8, NULL },
        { "trailing blanks dropped", "ad_session=abc  ; x=1", "ad_session", 64, "abc" },
        { "no header", NULL, "ad_session", 64, NULL },
    };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const struct cookie_case *c = &cases[i];
        char out[64];
        bool ok = web_parse_cookie(c->header, c->cookie, out, c->size);
        if (ok != (c->want != NULL) || (ok && strcmp(out, c->want))) {
            print_error("%s: got %s \"%s\", want %s\n", c->name, ok ? "present" : "absent",
                        ok ? out : "", c->want ? c->want : "absent");
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_json_and_id(void **state)
{
    static const struct {
        const char *in;
        int rc;
    } cases[] = {
        { "", 0 }, { "  \n", 0 }, { "{}", 0 }, { "{\"reason\":\"x\",\"notify\":false}", 0 },
        { "[1]", AD_ERR_PARSE }, { "\"x\"", AD_ERR_PARSE }, { "{\"a\":", AD_ERR_PARSE },
        { "{\"a\":1,\"a\":2}", AD_ERR_PARSE }, { "{} {}", AD_ERR_PARSE },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        json_t *o = NULL;
        int rc = web_parse_json(cases[i].in, strlen(cases[i].in), &o, NULL);
        if (rc != cases[i].rc)
            print_error("json \"%s\": got %d, want %d\n", cases[i].in, rc, cases[i].rc);
        assert_int_equal(rc, cases[i].rc);
        assert_true(rc ? o == NULL : json_is_object(o));
        json_decref(o);
    }
    int64_t id = 0;
    assert_true(web_parse_id("42", 2, &id));
    assert_int_equal(id, 42);
    assert_true(web_parse_id("999999999999999", 15, &id));
    assert_false(web_parse_id("1000000000000000", 16, &id));
    assert_false(web_parse_id("042", 3, &id));
    assert_false(web_parse_id("0", 1, &id));
    assert_false(web_parse_id("-1", 2, &id));
    assert_false(web_parse_id("1a", 2, &id));
    assert_false(web_parse_id("", 0, &id));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form),
        cmocka_unit_test(test_form_limits),
        cmocka_unit_test(test_cookie),
        cmocka_unit_test(test_json_and_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * records_test.c: table-driven unit tests for the SPF and DMARC record
 * readers of the domain audit (records.c) and the DMARC aggregate report
 * reader (dmarc.c) on small inputs written here: valid records term by term,
 * every kind of syntax error, the limits; reports with a namespace, upper case
 * results, a DTD (refused), a count beyond any real one (saturated), gzip that
 * is cut short. Real DNS and real reports: tests/audit.sh, tests/dmarc.sh. A
 * failure prints "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "reputation/dmarc.h"
#include "reputation/records.h"

static const struct {
    const char *rec;
    bool ok;
    const char *terms;          /* spf_term_text of each, space-separated; or the problem's start */
} spf_rows[] = {
    { "v=spf1 -all", true, "-all" },
    { "v=spf1 +all", true, "+all" },
    { "V=SPF1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx:mx.example.com/24 ~all", true,
      "ip4 ip6 a mx:mx.example.com ~all" },
    { "v=spf1 include:_spf.example.net redirect=_spf.example.org", true,
      "include:_spf.example.net redirect=_spf.example.org" },
    { "v=spf1 exists:%{i}.rbl.example ?all", true, "exists:%{i}.rbl.example ?all" },
    { "v=spf1 ptr -all", true, "ptr -all" },
    { "v=spf1   a:host.example//64   ", true, "a:host.example" },
    { "v=spf1 unknown-mod=x -all", true, "modifier -all" },
    { "v=spf10 -all", false, "not an SPF record" },
    { "spf1 -all", false, "not an SPF record" },
    { "v=spf1 ip4:999.1.1.1 -all", false, "syntax error at 'ip4:999.1.1.1'" },
    { "v=spf1 ip4:192.0.2.0/33", false, "syntax error at 'ip4:192.0.2.0/33'" },
    { "v=spf1 include -all", false, "syntax error at 'include'" },
    { "v=spf1 include: -all", false, "syntax error at 'include:'" },
    { "v=spf1 allx", false, "syntax error at 'allx'" },
    { "v=spf1 a/129", false, "syntax error at 'a/129'" },
    { "v=spf1 redirect=a.example redirect=b.example", false, "redirect= given twice" },
    { "v=spf1 foo:bar", false, "syntax error at 'foo:bar'" },
};

static void test_spf(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof spf_rows / sizeof spf_rows[0]; i++) {
        struct spf_record *r = g_new(struct spf_record, 1);
        char problem[160];
        bool ok = spf_parse(spf_rows[i].rec, r, problem, sizeof problem);
        GString *got = g_string_new(NULL);
        if (ok) {
            for (size_t k = 0; k < r->n_terms; k++) {
                char t[300];
                spf_term_text(&r->terms[k], t, sizeof t);
                /* ip4/ip6 print without their address: the name is enough here */
                if (r->terms[k].mech == SPF_IP4 || r->terms[k].mech == SPF_IP6)
                    g_strlcpy(t, r->terms[k].mech == SPF_IP4 ? "ip4" : "ip6", sizeof t);
                g_string_append_printf(got, "%s%s", k ? " " : "", t);
            }
        } else {
            g_string_assign(got, problem);
        }
        if (ok != spf_rows[i].ok || (ok ? strcmp(got->str, spf_rows[i].terms)
                                        : !g_str_has_prefix(got->str, spf_rows[i].terms))) {
            print_error("spf \"%s\": got %s \"%s\", want %s \"%s\"\n", spf_rows[i].rec,
                        ok ? "ok" : "error", got->str, spf_rows[i].ok ? "ok" : "error",
                        spf_rows[i].terms);
            bad++;
        }
        g_string_free(got, TRUE);
        g_free(r);
    }
    /* 65 terms: the limit. */
    GString *many = g_string_new("v=spf1");
    for (int i = 0; i < 65; i++)
        g_string_append(many, " a");
    struct spf_record *r = g_new(struct spf_record, 1);
    char problem[160];
    if (spf_parse(many->str, r, problem, sizeof problem) || !strstr(problem, "64 terms")) {
        print_error("65 terms: got \"%s\", want more than 64 terms\n", problem);
        bad++;
    }
    g_free(r);
    g_string_free(many, TRUE);
    assert_int_equal(bad, 0);
}

static void test_dmarc_record(void **state)
{
    (void)state;
    struct dmarc_record d;
    char problem[160];
    assert_true(dmarc_record_parse("v=DMARC1; p=none; rua=mailto:Dmarc@Desk.example!10m, "
                                   "https://x.example/r, mailto:b@c.example; pct=50; adkim=s",
                                   &d, problem, sizeof problem));
    assert_string_equal(d.p, "none");
    assert_int_equal(d.pct, 50);
    assert_int_equal(d.adkim, 's');
    assert_int_equal(d.n_rua, 2);
    assert_string_equal(d.rua[0], "dmarc@desk.example");
    assert_string_equal(d.rua[1], "b@c.example");
    assert_true(dmarc_record_parse(" v = DMARC1 ;p=REJECT", &d, problem, sizeof problem));
    assert_string_equal(d.p, "reject");
    static const struct {
        const char *rec, *problem;
    } bad[] = {
        { "v=DMARC1", "no p= tag" },
        { "v=DMARC1; p=maybe", "policy is not none" },
        { "v=DMARC1; p=none; pct=101", "pct is not 0..100" },
        { "v=DMARC1; p=none; adkim=x", "alignment is not r or s" },
        { "v=DMARC1; p", "tag without a value" },
        { "p=none; v=DMARC1", "not a DMARC record" },
        { "v=DMARC2; p=none", "not a DMARC record" },
    };
    int n_bad = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        problem[0] = '\0';
        if (dmarc_record_parse(bad[i].rec, &d, problem, sizeof problem)
            || !g_str_has_prefix(problem, bad[i].problem)) {
            print_error("dmarc \"%s\": got \"%s\", want \"%s\"\n", bad[i].rec, problem,
                        bad[i].problem);
            n_bad++;
        }
    }
    assert_int_equal(n_bad, 0);
}

#define REPORT(ns, rows)                                                                   \
    "<?xml version=\"1.0\"?><feedback" ns "><report_metadata><org_name>R</org_name>"     \
    "<report_id>7</report_id><date_range><begin>100</begin><end>200</end></date_range>"  \
    "</report_metadata><policy_published><domain>Example.COM</domain><p>none</p>"        \
    "</policy_published>" rows "</feedback>"
#define ROW(ip, n, dkim, spf)                                                              \
    "<record><row><source_ip>" ip "</source_ip><count>" n "</count><policy_evaluated>"   \
    "<disposition>none</disposition><dkim>" dkim "</dkim><spf>" spf "</spf>"              \
    "</policy_evaluated></row><identifiers><header_from>example.com</header_from>"       \
    "</identifiers></record>"

static void test_dmarc_report(void **state)
{
    (void)state;
    static const char xml[] = REPORT(" xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\"",
                                     ROW("192.0.2.1", "5", "PASS", "fail")
                                     ROW("2001:db8::1", "99999999999999999999", "fail", "fail")
                                     ROW("not-an-ip", "3", "fail", "fail"));
    struct dmarc_report *r = NULL;
    struct ad_err err = { 0 };
    assert_int_equal(dmarc_parse(xml, strlen(xml), &r, &err), 0);
    assert_string_equal(r->domain, "example.com");
    assert_int_equal(r->begin, 100);
    assert_int_equal(r->n_rows, 2);
    assert_int_equal(r->n_dropped, 1);
    assert_string_equal(r->rows[0].dkim, "pass");
    assert_false(dmarc_row_fails(&r->rows[0]));
    assert_true(dmarc_row_fails(&r->rows[1]));
    assert_true(r->rows[1].count == DMARC_MAX_COUNT);
    assert_true(r->total == 5 + DMARC_MAX_COUNT);
    /* gzip of it, and the same cut short. */
    uLongf zlen = compressBound(sizeof xml) + 32;
    unsigned char *z = g_malloc(zlen);
    z_stream s;
    memset(&s, 0, sizeof s);
    assert_int_equal(deflateInit2(&s, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    s.next_in = (unsigned char *)xml;
    s.avail_in = sizeof xml - 1;
    s.next_out = z;
    s.avail_out = (uInt)zlen;
    assert_int_equal(deflate(&s, Z_FINISH), Z_STREAM_END);
    size_t glen = s.total_out;
    deflateEnd(&s);
    struct dmarc_report *g = NULL;
    assert_int_equal(dmarc_parse(z, glen, &g, &err), 0);
    assert_string_equal(g->format, "gzip");
    assert_int_equal(g->n_rows, 2);
    g = dmarc_report_free(g);
    assert_int_equal(dmarc_parse(z, glen / 2, &g, &err), AD_ERR_PARSE);
    assert_non_null(strstr(err.msg, "gzip"));
    g_free(z);
    dmarc_report_free(r);
    /* Refused: a DTD, another root, no domain, nesting. */
    static const struct {
        const char *xml;
        int code;
        const char *msg;
    } bad[] = {
        { "<!DOCTYPE feedback [<!ENTITY a \"x\">]><feedback/>", AD_ERR_LIMIT, "DTD" },
        { "<html/>", AD_ERR_PARSE, "root element" },
        { "<feedback><policy_published><p>none</p></policy_published></feedback>", AD_ERR_PARSE,
          "no policy_published/domain" },
        { "<feedback><policy_published><domain>a b.example</domain></policy_published>"
          "</feedback>", AD_ERR_PARSE, "not a domain name" },
        { "<feedback><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a></a></a></a></a></a>"
          "</a></a></a></a></a></a></a></a></a></a></a></a></feedback>", AD_ERR_LIMIT, "nested" },
        { "<feedback>", AD_ERR_PARSE, "bad XML" },
    };
    int n_bad = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct dmarc_report *x = NULL;
        memset(&err, 0, sizeof err);
        int rc = dmarc_parse(bad[i].xml, strlen(bad[i].xml), &x, &err);
        if (rc != bad[i].code || !strstr(err.msg, bad[i].msg) || x) {
            print_error("bad[%zu]: got %d \"%s\", want %d \"%s\"\n", i, rc, err.msg, bad[i].code,
                        bad[i].msg);
            n_bad++;
        }
        dmarc_report_free(x);
    }
    assert_int_equal(n_bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spf),
        cmocka_unit_test(test_dmarc_record),
        cmocka_unit_test(test_dmarc_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

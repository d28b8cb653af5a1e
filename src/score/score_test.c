/*
 * score_test.c: unit tests for score.c, one table row per scoring term: the base
 * per feedback type and report kind, manual vs automatic (per provider and
 * detected), the provider weight (longest matching domain, default), the age
 * half-life, and the duplicate rule. Every row also checks that the total is the
 * product of the terms and that each term names its configuration key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "parse/report.h"
#include "score/score.h"

#define NOW 1790000000LL /* 2026-09-21T...Z: a fixed "report received" time */

static const char conf[] = "[providers]\n"
                           "yahoo.com = 1.0 manual\n"
                           "abusix.com = 0.7 automatic\n"
                           "mail.example.net = 2.0\n"
                           "example.net = 0.5\n"
                           "[scoring]\n"
                           "base_abuse = 10\nbase_fraud = 12\nbase_virus = 8\nbase_other = 4\n"
                           "base_not_spam = 0\nbase_auth_failure = 2\nbase_dsn = 0.5\n"
                           "base_abuse_text = 9\nbase_unknown = 0\n"
                           "manual_factor = 1.5\nautomatic_factor = 0.5\nundetermined_factor = 0.8\n"
                           "half_life = 2d\ndefault_provider_weight = 1.1\n";

struct row {
    const char *name;
    enum report_kind kind;
    const char *feedback_type, *from, *user_agent, *format, *incidents;
    int64_t mail_age;       /* seconds before NOW; -1: no date at all */
    int64_t duplicate_of;
    /* want */
    const char *term;       /* the term under test */
    double value;
    const char *key;
    double total;
    bool counted;
};

static const struct row rows[] = {
    /* base per feedback type and kind */
    { "base abuse", REPORT_ARF, "abuse", "fbl@aol.example", NULL, "arf", NULL, 0, 0, "base", 10,
      "[scoring] base_abuse", 10 * 1.5 * 1.1, true },
    { "base fraud", REPORT_ARF, "fraud", "x@unknown.example", NULL, "arf", NULL, 0, 0, "base", 12,
      "[scoring] base_fraud", 12 * 1.5 * 1.1, true },
    { "base virus (automatic)", REPORT_ARF, "virus", "x@unknown.example", NULL, "arf", NULL, 0, 0,
      "base", 8, "[scoring] base_virus", 8 * 0.5 * 1.1, true },
    { "base other (undetermined)", REPORT_ARF, "other", "x@unknown.example", NULL, "arf", NULL, 0,
      0, "base", 4, "[scoring] base_other", 4 * 0.8 * 1.1, true },
    { "unknown feedback type counts as other", REPORT_ARF, "opt-out", "x@unknown.example", NULL,
      "opt-out", NULL, 0, 0, "base", 4, "[scoring] base_other", 4 * 0.8 * 1.1, true },
    { "base not-spam is zero, not counted", REPORT_ARF, "not-spam", "x@unknown.example", NULL,
      "arf", NULL, 0, 0, "base", 0, "[scoring] base_not_spam", 0, false },
    { "base auth-failure", REPORT_AUTH_FAILURE, "auth-failure", "x@unknown.example", NULL, NULL,
      NULL, 0, 0, "base", 2, "[scoring] base_auth_failure", 2 * 0.5 * 1.1, true },
    { "base dsn", REPORT_DSN, NULL, "mailer-daemon@unknown.example", NULL, "rfc3464", NULL, 0, 0,
      "base", 0.5, "[scoring] base_dsn", 0.5 * 0.5 * 1.1, true },
    { "base abuse-text (a person wrote it)", REPORT_ABUSE_TEXT, NULL, "angry@unknown.example",
      NULL, NULL, NULL, 0, 0, "manual", 1.5, "[scoring] manual_factor", 9 * 1.5 * 1.1, true },
    { "base unknown", REPORT_UNKNOWN, NULL, NULL, NULL, NULL, NULL, 0, 0, "base", 0,
      "[scoring] base_unknown", 0, false },
    /* manual vs automatic */
    { "provider says manual", REPORT_ARF, "abuse", "feedback@arf.mail.yahoo.com",
      "Yahoo!-Mail-Feedback/1.0", "arf", NULL, 0, 0, "manual", 1.5, "[scoring] manual_factor",
      10 * 1.5 * 1.0, true },
    { "provider says automatic", REPORT_ARF, "abuse", "reports@abusix.com", NULL, "arf", NULL, 0,
      0, "automatic", 0.5, "[scoring] automatic_factor", 10 * 0.5 * 0.7, true },
    { "JMRP is a user's Junk click", REPORT_ARF, "abuse", "staff@hotmail.example", NULL, "jmrp",
      NULL, 0, 0, "manual", 1.5, "[scoring] manual_factor", 10 * 1.5 * 1.1, true },
    { "spam trap user agent is automatic", REPORT_ARF, "abuse", "x@unknown.example",
      "SpamTrap-FBL/2.0", "arf", NULL, 0, 0, "automatic", 0.5, "[scoring] automatic_factor",
      10 * 0.5 * 1.1, true },
    { "Incidents > 1 is aggregated, automatic", REPORT_ARF, "abuse", "x@unknown.example", NULL,
      "arf", "12", 0, 0, "automatic", 0.5, "[scoring] automatic_factor", 10 * 0.5 * 1.1, true },
    /* provider weight */
    { "longest provider domain wins", REPORT_ARF, "abuse", "fbl@mx.mail.example.net", NULL, "arf",
      NULL, 0, 0, "provider", 2.0, "[providers] mail.example.net", 10 * 1.5 * 2.0, true },
    { "parent provider domain", REPORT_ARF, "abuse", "fbl@example.net", NULL, "arf", NULL, 0, 0,
      "provider", 0.5, "[providers] example.net", 10 * 1.5 * 0.5, true },
    { "label boundary: badexample.net is not example.net", REPORT_ARF, "abuse",
      "fbl@badexample.net", NULL, "arf", NULL, 0, 0, "provider", 1.1,
      "[scoring] default_provider_weight", 10 * 1.5 * 1.1, true },
    /* age */
    { "age one half-life", REPORT_ARF, "abuse", "x@unknown.example", NULL, "arf", NULL, 2 * 86400,
      0, "age", 0.5, "[scoring] half_life", 10 * 1.5 * 1.1 * 0.5, true },
    { "age two months", REPORT_ARF, "abuse", "x@unknown.example", NULL, "arf", NULL, 60 * 86400,
      0, "age", 9.313225746154785e-10, "[scoring] half_life",
      10 * 1.5 * 1.1 * 9.313225746154785e-10, true },
    { "age unknown counts fully", REPORT_ARF, "abuse", "x@unknown.example", NULL, "arf", NULL, -1,
      0, "age", 1.0, "[scoring] half_life", 10 * 1.5 * 1.1, true },
    /* duplicates */
    { "duplicate counts once", REPORT_ARF, "abuse", "x@unknown.example", NULL, "arf", NULL, 0, 7,
      "duplicate", 0.0, "[scoring] count_duplicates", 0, false },
};

static void set_time(struct report *r, const struct row *w)
{
    if (w->mail_age < 0)
        return;
    GDateTime *dt = g_date_time_new_from_unix_utc(NOW - w->mail_age);
    char *iso = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
    r->arrival_date = report_str(r, iso, -1);
    g_free(iso);
    g_date_time_unref(dt);
}

static void test_terms(void **state)
{
    (void)state;
    struct config cfg;
    config_defaults(&cfg);
    struct ad_err err = { 0 };
    if (config_load_data(&cfg, "score_test.conf", conf, strlen(conf), &err) != 0)
        fail_msg("config: %s", err.msg);
    int bad = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *w = &rows[i];
        struct report *r = report_new();
        r->kind = w->kind;
        r->feedback_type = report_str(r, w->feedback_type, -1);
        r->from = report_str(r, w->from, -1);
        r->user_agent = report_str(r, w->user_agent, -1);
        r->dsn_format = report_str(r, w->format, -1);
        r->incidents = report_str(r, w->incidents, -1);
        set_time(r, w);
        struct score s;
        score_report(&cfg, r, NOW, w->duplicate_of, &s);
        const struct score_term *t = NULL;
        double product = 1.0;
        for (guint k = 0; k < s.terms->len; k++) {
            const struct score_term *x = g_ptr_array_index(s.terms, k);
            product *= x->value;
            if (!x->key || strncmp(x->key, "[", 1) != 0) {
                print_error("%s: term %s names no configuration key\n", w->name, x->name);
                bad++;
            }
            if (!strcmp(x->name, w->term))
                t = x;
        }
        if (!t) {
            print_error("%s: got no term %s, want one\n", w->name, w->term);
            bad++;
        } else {
            if (fabs(t->value - w->value) > 1e-9 * (1 + fabs(w->value))) {
                print_error("%s: %s value got %.12g, want %.12g\n", w->name, w->term, t->value,
                            w->value);
                bad++;
            }
            if (strcmp(t->key, w->key) != 0) {
                print_error("%s: %s key got %s, want %s\n", w->name, w->term, t->key, w->key);
                bad++;
            }
        }
        if (fabs(s.total - w->total) > 1e-9 * (1 + fabs(w->total))) {
            print_error("%s: total got %.12g, want %.12g\n", w->name, s.total, w->total);
            bad++;
        }
        if (fabs(s.total - product) > 1e-9 * (1 + fabs(product))) {
            print_error("%s: total %.12g is not the product of the terms %.12g\n", w->name,
                        s.total, product);
            bad++;
        }
        if (s.counted != w->counted) {
            print_error("%s: counted got %d, want %d\n", w->name, s.counted, w->counted);
            bad++;
        }
        score_clear(&s);
        report_free(r);
    }
    config_free(&cfg);
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

/* count_duplicates = true: the repeated message counts again. */
static void test_count_duplicates(void **state)
{
    (void)state;
    struct config cfg;
    config_defaults(&cfg);
    struct ad_err err = { 0 };
    const char *c = "[scoring]\ncount_duplicates = true\n";
    if (config_load_data(&cfg, "t.conf", c, strlen(c), &err) != 0)
        fail_msg("config: %s", err.msg);
    struct report *r = report_new();
    r->kind = REPORT_ARF;
    r->feedback_type = report_str(r, "abuse", -1);
    struct score s;
    score_report(&cfg, r, NOW, 3, &s);
    if (!s.counted || s.total <= 0)
        fail_msg("count_duplicates: got counted=%d total=%g, want counted and > 0", s.counted,
                 s.total);
    score_clear(&s);
    report_free(r);
    config_free(&cfg);
}

static void test_provider_domain(void **state)
{
    (void)state;
    struct {
        const char *from, *reporting_mta, *want;
    } t[] = {
        { "Yahoo! <feedback@arf.mail.yahoo.com>", NULL, "arf.mail.yahoo.com" },
        { NULL, "dns; mta1.example.org", "mta1.example.org" },
        { "no-domain", NULL, NULL },
        { NULL, NULL, NULL },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct report *r = report_new();
        r->from = report_str(r, t[i].from, -1);
        r->reporting_mta = report_str(r, t[i].reporting_mta, -1);
        char *got = score_provider_domain(r);
        if ((got == NULL) != (t[i].want == NULL) || (got && strcmp(got, t[i].want)))
            fail_msg("provider of %s/%s: got %s, want %s", t[i].from ? t[i].from : "-",
                     t[i].reporting_mta ? t[i].reporting_mta : "-", got ? got : "NULL",
                     t[i].want ? t[i].want : "NULL");
        g_free(got);
        report_free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terms),
        cmocka_unit_test(test_count_duplicates),
        cmocka_unit_test(test_provider_domain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

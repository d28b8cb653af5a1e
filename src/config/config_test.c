/*
 * config_test.c: unit tests for config.c: built-in defaults, a valid file, and every
 * kind of error (unknown group or key, bad or out-of-range integer, bad boolean, bad
 * enum, empty path, syntax error, missing file). Error messages must name the file,
 * the group and the key. A failure names the case and prints "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

#define FAIL_IF_BAD(bad) \
    do { \
        if (bad) \
            fail_msg("%d mismatch(es), see above", bad); \
    } while (0)

static int check_str(const char *row, const char *field, const char *got, const char *want)
{
    if (got == NULL && want == NULL)
        return 0;
    if (got != NULL && want != NULL && strcmp(got, want) == 0)
        return 0;
    print_error("%s: %s: got %s%s%s, want %s%s%s\n", row, field, got ? "\"" : "",
                got ? got : "NULL", got ? "\"" : "", want ? "\"" : "", want ? want : "NULL",
                want ? "\"" : "");
    return 1;
}

static int check_ll(const char *row, const char *field, long long got, long long want)
{
    if (got == want)
        return 0;
    print_error("%s: %s: got %lld, want %lld\n", row, field, got, want);
    return 1;
}

static void test_config_defaults(void **state)
{
    (void)state;
    struct config cfg;
    memset(&cfg, 0xa5, sizeof(cfg)); /* defaults must not read what was there */
    config_defaults(&cfg);
    int bad = 0;
    bad += check_str("defaults", "path", cfg.path, NULL);
    bad += check_str("defaults", "db_path", cfg.db_path, "/var/lib/abusedesk/abusedesk.db");
    bad += check_ll("defaults", "busy_timeout_ms", cfg.busy_timeout_ms, 5000);
    bad += check_str("defaults", "spool_dir", cfg.spool_dir, "/var/lib/abusedesk/spool");
    bad += check_str("defaults", "quarantine_dir", cfg.quarantine_dir,
                     "/var/lib/abusedesk/quarantine");
    bad += check_ll("defaults", "max_message_size", (long long)cfg.max_message_size, 4194304);
    bad += check_ll("defaults", "compress_raw", cfg.compress_raw, 1);
    bad += check_str("defaults", "log_level", cfg.log_level, "info");
    bad += check_ll("defaults", "log_syslog", cfg.log_syslog, 0);
    config_free(&cfg);
    bad += check_str("after free", "db_path", cfg.db_path, NULL);
    /* config_free twice is harmless. */
    config_free(&cfg);
    FAIL_IF_BAD(bad);
}

static const char valid_conf[] =
    "# abusedesk test configuration\n"
    "[store]\n"
    "path = /tmp/ad-test/db.sqlite\n"
    "busy_timeout_ms = 250\n"
    "\n"
    "[intake]\n"
    "spool_dir = /tmp/ad-test/spool\n"
    "quarantine_dir=/tmp/ad-test/q\n"
    "max_message_size = 4096\n"
    "compress_raw = no\n"
    "\n"
    "[log]\n"
    "level = debug\n"
    "syslog = YES\n";

static void test_config_valid_data(void **state)
{
    (void)state;
    struct config cfg;
    config_defaults(&cfg);
    struct ad_err err = { 0 };
    int rc = config_load_data(&cfg, "test.conf", valid_conf, strlen(valid_conf), &err);
    int bad = check_ll("valid", "rc", rc, 0);
    if (rc)
        print_error("valid: err: %s\n", err.msg);
    bad += check_str("valid", "db_path", cfg.db_path, "/tmp/ad-test/db.sqlite");
    bad += check_ll("valid", "busy_timeout_ms", cfg.busy_timeout_ms, 250);
    bad += check_str("valid", "spool_dir", cfg.spool_dir, "/tmp/ad-test/spool");
    bad += check_str("valid", "quarantine_dir", cfg.quarantine_dir, "/tmp/ad-test/q");
    bad += check_ll("valid", "max_message_size", (long long)cfg.max_message_size, 4096);
    bad += check_ll("valid", "compress_raw", cfg.compress_raw, 0);
    bad += check_str("valid", "log_level", cfg.log_level, "debug");
    bad += check_ll("valid", "log_syslog", cfg.log_syslog, 1);
    bad += check_str("valid", "path", cfg.path, NULL);
    config_free(&cfg);
    FAIL_IF_BAD(bad);
}

/* A partial file keeps the defaults of what it does not set; an empty file is valid. */
static void test_config_partial_and_empty(void **state)
{
    (void)state;
    struct config cfg;
    config_defaults(&cfg);
    struct ad_err err = { 0 };
    static const char partial[] = "[log]\nlevel = error\n";
    int bad = check_ll("partial", "rc", config_load_data(&cfg, "p.conf", partial,
                                                         strlen(partial), &err), 0);
    bad += check_str("partial", "log_level", cfg.log_level, "error");
    bad += check_str("partial", "db_path", cfg.db_path, "/var/lib/abusedesk/abusedesk.db");
    bad += check_ll("partial", "busy_timeout_ms", cfg.busy_timeout_ms, 5000);
    bad += check_ll("empty", "rc", config_load_data(&cfg, "e.conf", "", 0, &err), 0);
    config_free(&cfg);
    FAIL_IF_BAD(bad);
}

struct bad_case {
    const char *name;
    const char *text;
    const char *const want[4]; /* substrings the message must contain, NULL-terminated */
};

static const struct bad_case bad_cases[] = {
    {"unknown group", "[stor]\npath = /x\n", {"bad.conf", "stor", NULL}},
    {"unknown key", "[store]\npaht = /x\n", {"bad.conf", "store", "paht", NULL}},
    {"known key in wrong group", "[log]\npath = /x\n", {"bad.conf", "log", "path", NULL}},
    {"bad int", "[store]\nbusy_timeout_ms = soon\n",
     {"bad.conf", "store", "busy_timeout_ms", "soon"}},
    {"int with trailing junk", "[store]\nbusy_timeout_ms = 10ms\n",
     {"bad.conf", "store", "busy_timeout_ms", "10ms"}},
    {"negative int", "[store]\nbusy_timeout_ms = -1\n",
     {"bad.conf", "store", "busy_timeout_ms", NULL}},
    {"int over range", "[store]\nbusy_timeout_ms = 600001\n",
     {"bad.conf", "store", "busy_timeout_ms", "600001"}},
    {"int overflow", "[store]\nbusy_timeout_ms = 99999999999999999999999\n",
     {"bad.conf", "store", "busy_timeout_ms", NULL}},
    {"size under range", "[intake]\nmax_message_size = 100\n",
     {"bad.conf", "intake", "max_message_size", "100"}},
    {"size over range", "[intake]\nmax_message_size = 2147483648\n",
     {"bad.conf", "intake", "max_message_size", NULL}},
    {"empty int", "[store]\nbusy_timeout_ms =\n", {"bad.conf", "store", "busy_timeout_ms", NULL}},
    {"bad bool", "[intake]\ncompress_raw = maybe\n",
     {"bad.conf", "intake", "compress_raw", "maybe"}},
    {"bad bool syslog", "[log]\nsyslog = 2\n", {"bad.conf", "log", "syslog", NULL}},
    {"bad enum", "[log]\nlevel = verbose\n", {"bad.conf", "log", "level", "verbose"}},
    {"empty path", "[store]\npath =\n", {"bad.conf", "store", "path", NULL}},
    {"empty spool path", "[intake]\nspool_dir =   \n", {"bad.conf", "intake", "spool_dir", NULL}},
    {"syntax error", "[store\npath = /x\n", {"bad.conf", NULL}},
    {"key outside group", "path = /x\n", {"bad.conf", NULL}},
    {"line without equals", "[store]\njust some words\n", {"bad.conf", NULL}},
    {"bad CIDR", "[network]\nour_ips = 192.0.2.0/33\n", {"bad.conf", "network", "our_ips", "192.0.2.0/33"}},
    {"not an address", "[network]\nour_ips = 192.0.2.1;mx.example.net\n",
     {"bad.conf", "our_ips", "mx.example.net", NULL}},
    {"bad number", "[scoring]\nbase_abuse = ten\n", {"bad.conf", "scoring", "base_abuse", "ten"}},
    {"number out of range", "[incidents]\nrepeat_factor = 2\n",
     {"bad.conf", "incidents", "repeat_factor", NULL}},
    {"bad duration", "[scoring]\nhalf_life = 3 days\n", {"bad.conf", "scoring", "half_life", "3 days"}},
    {"bad duration unit", "[incidents]\nrepeat_period = 5y\n", {"bad.conf", "repeat_period", "5y", NULL}},
    {"bad window", "[incidents]\nwindows = 1h;soon\n", {"bad.conf", "incidents", "windows", "soon"}},
    {"thresholds do not match windows", "[incidents]\nwindows = 1h;24h\n",
     {"bad.conf", "incidents", "observe_score", "expected 2 values"}},
    {"bad provider weight", "[providers]\naol.com = heavy\n", {"bad.conf", "providers", "aol.com", "heavy"}},
    {"bad provider mode", "[providers]\naol.com = 1.0 sometimes\n",
     {"bad.conf", "providers", "aol.com", "sometimes"}},
    {"provider key not a domain", "[providers]\nfbl@aol.com = 1.0\n",
     {"bad.conf", "providers", "fbl@aol.com", NULL}},
};

/* The desk's settings: lists, durations, networks and providers. */
static void test_config_desk_values(void **state)
{
    (void)state;
    const char *text = "[network]\nour_hosts = *.out.example.net ; mx1.example.net\n"
                       "our_ips = 192.0.2.0/24;2001:db8::/32;198.51.100.7\n"
                       "[scoring]\nhalf_life = 2w\nbase_abuse = 7.5\n"
                       "[incidents]\nwindows = 30m;1d\nobserve_score = 1\nalert_score = 10;20\n"
                       "lock_score = 30;60\nalert_complaints = 0\nlock_complaints = 5;9\n"
                       "[providers]\nAOL.com = 1.5 manual\nabusix.org = 0.5 automatic\n"
                       "example.org = 2\ngmx.net = 1.0\nsenderscore.net = 0.8 "
                       "signed_by=senderscore.net\n";
    struct config cfg;
    config_defaults(&cfg);
    struct ad_err err = { 0 };
    int bad = 0;
    bad += check_ll("desk", "rc", config_load_data(&cfg, "d.conf", text, strlen(text), &err), 0);
    bad += check_str("desk", "err", err.msg[0] ? err.msg : NULL, NULL);
    bad += check_str("desk", "our_hosts[0]", cfg.our_hosts ? cfg.our_hosts[0] : NULL,
                     "*.out.example.net");
    bad += check_str("desk", "our_hosts[1]", cfg.our_hosts ? cfg.our_hosts[1] : NULL,
                     "mx1.example.net");
    bad += check_ll("desk", "n_our_ips", (long long)cfg.n_our_ips, 3);
    bad += check_ll("desk", "ip in range", config_ip_is_ours(&cfg, "192.0.2.200"), 1);
    bad += check_ll("desk", "single ip", config_ip_is_ours(&cfg, "198.51.100.7"), 1);
    bad += check_ll("desk", "next ip", config_ip_is_ours(&cfg, "198.51.100.8"), 0);
    bad += check_ll("desk", "v6", config_ip_is_ours(&cfg, "2001:db8:ffff::1"), 1);
    bad += check_ll("desk", "half_life", cfg.half_life, 14 * 86400);
    bad += check_ll("desk", "base_abuse x10", (long long)(cfg.base_abuse * 10), 75);
    bad += check_ll("desk", "n_windows", (long long)cfg.n_windows, 2);
    bad += check_ll("desk", "window 0", cfg.windows[0], 1800);
    bad += check_ll("desk", "window 1", cfg.windows[1], 86400);
    bad += check_ll("desk", "one observe value for all", (long long)cfg.observe_score[1], 1);
    bad += check_ll("desk", "alert_score[1]", (long long)cfg.alert_score[1], 20);
    bad += check_ll("desk", "lock_complaints[1]", (long long)cfg.lock_complaints[1], 9);
    const struct config_provider *p = config_provider_find(&cfg, "mail.aol.com");
    bad += check_str("desk", "provider of mail.aol.com", p ? p->domain : NULL, "aol.com");
    bad += check_ll("desk", "aol mode", p ? (long long)p->mode : -1, CONFIG_MODE_MANUAL);
    p = config_provider_find(&cfg, "notaol.com");
    bad += check_str("desk", "no provider for notaol.com", p ? p->domain : NULL, NULL);
    p = config_provider_find(&cfg, "example.org");
    bad += check_ll("desk", "example.org weight", p ? (long long)p->weight : -1, 2);
    bad += check_ll("desk", "example.org mode", p ? (long long)p->mode : -1, CONFIG_MODE_DETECT);
    /* Who proves a report: without signed_by= a subdomain, never the domain
     * itself (a free mailbox at gmx.net is signed by gmx.net). */
    p = config_provider_signed(&cfg, "gmx.net");
    bad += check_str("desk", "gmx.net itself proves nothing", p ? p->domain : NULL, NULL);
    p = config_provider_signed(&cfg, "fbl.gmx.net");
    bad += check_str("desk", "a subdomain proves gmx.net", p ? p->domain : NULL, "gmx.net");
    p = config_provider_signed(&cfg, "senderscore.net");
    bad += check_str("desk", "signed_by= names the domain itself", p ? p->domain : NULL,
                     "senderscore.net");
    p = config_provider_signed(&cfg, "evilgmx.net");
    bad += check_str("desk", "no provider for evilgmx.net", p ? p->domain : NULL, NULL);
    config_free(&cfg);
    FAIL_IF_BAD(bad);
}

static void test_config_errors_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct config cfg;
        config_defaults(&cfg);
        struct ad_err err = { 0 };
        int rc = config_load_data(&cfg, "bad.conf", c->text, strlen(c->text), &err);
        bad += check_ll(c->name, "rc", rc, AD_ERR_CONFIG);
        bad += check_ll(c->name, "err.code", err.code, AD_ERR_CONFIG);
        for (int k = 0; k < 4 && c->want[k]; k++) {
            if (!strstr(err.msg, c->want[k])) {
                print_error("%s: err.msg: got \"%s\", want it to contain \"%s\"\n", c->name,
                            err.msg, c->want[k]);
                bad++;
            }
        }
        config_free(&cfg);
    }
    FAIL_IF_BAD(bad);
}

/* A NULL err is allowed on failure. */
static void test_config_error_null_err(void **state)
{
    (void)state;
    struct config cfg;
    config_defaults(&cfg);
    static const char text[] = "[nope]\n";
    assert_int_equal(config_load_data(&cfg, "x", text, strlen(text), NULL), AD_ERR_CONFIG);
    config_free(&cfg);
}

static char *write_tmp(const char *text)
{
    char *path = NULL;
    GError *ge = NULL;
    int fd = g_file_open_tmp("ad-config-test-XXXXXX.conf", &path, &ge);
    if (fd < 0)
        fail_msg("g_file_open_tmp: %s", ge ? ge->message : "?");
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

static void test_config_load_file(void **state)
{
    (void)state;
    char *path = write_tmp(valid_conf);
    struct config cfg;
    config_defaults(&cfg);
    struct ad_err err = { 0 };
    int rc = config_load(&cfg, path, &err);
    int bad = check_ll("file", "rc", rc, 0);
    if (rc)
        print_error("file: err: %s\n", err.msg);
    bad += check_str("file", "path", cfg.path, path);
    bad += check_str("file", "db_path", cfg.db_path, "/tmp/ad-test/db.sqlite");
    bad += check_ll("file", "busy_timeout_ms", cfg.busy_timeout_ms, 250);
    config_free(&cfg);
    g_unlink(path);
    g_free(path);
    FAIL_IF_BAD(bad);
}

static void test_config_load_file_error_names_path(void **state)
{
    (void)state;
    char *path = write_tmp("[intake]\ncompress_raw = sometimes\n");
    struct config cfg;
    config_defaults(&cfg);
    struct ad_err err = { 0 };
    int rc = config_load(&cfg, path, &err);
    int bad = check_ll("file error", "rc", rc, AD_ERR_CONFIG);
    static const char *const want[] = { "intake", "compress_raw", "sometimes" };
    if (!strstr(err.msg, path)) {
        print_error("file error: err.msg: got \"%s\", want it to contain \"%s\"\n", err.msg, path);
        bad++;
    }
    for (size_t k = 0; k < G_N_ELEMENTS(want); k++)
        if (!strstr(err.msg, want[k])) {
            print_error("file error: err.msg: got \"%s\", want it to contain \"%s\"\n", err.msg,
                        want[k]);
            bad++;
        }
    /* A failed load does not claim the file as the configuration's source. */
    bad += check_str("file error", "path", cfg.path, NULL);
    config_free(&cfg);
    g_unlink(path);
    g_free(path);
    FAIL_IF_BAD(bad);
}

static void test_config_load_missing_file(void **state)
{
    (void)state;
    char *dir = g_dir_make_tmp("ad-config-test-XXXXXX", NULL);
    assert_non_null(dir);
    char *path = g_build_filename(dir, "missing.conf", NULL);
    struct config cfg;
    config_defaults(&cfg);
    struct ad_err err = { 0 };
    int rc = config_load(&cfg, path, &err);
    int bad = check_ll("missing", "rc", rc, AD_ERR_IO);
    bad += check_ll("missing", "err.code", err.code, AD_ERR_IO);
    if (!strstr(err.msg, path)) {
        print_error("missing: err.msg: got \"%s\", want it to contain \"%s\"\n", err.msg, path);
        bad++;
    }
    bad += check_str("missing", "db_path", cfg.db_path, "/var/lib/abusedesk/abusedesk.db");
    config_free(&cfg);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
    FAIL_IF_BAD(bad);
}

static void test_config_describe(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    config_describe(f);
    fclose(f);
    static const char *const want[] = { "[store]", "[intake]", "[log]", "busy_timeout_ms",
                                        "max_message_size", "debug|info|warning|error" };
    int bad = 0;
    for (size_t k = 0; k < G_N_ELEMENTS(want); k++)
        if (!strstr(buf, want[k])) {
            print_error("describe: got no \"%s\", want it listed\n", want[k]);
            bad++;
        }
    free(buf);
    FAIL_IF_BAD(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_valid_data),
        cmocka_unit_test(test_config_partial_and_empty),
        cmocka_unit_test(test_config_errors_table),
        cmocka_unit_test(test_config_desk_values),
        cmocka_unit_test(test_config_error_null_err),
        cmocka_unit_test(test_config_load_file),
        cmocka_unit_test(test_config_load_file_error_names_path),
        cmocka_unit_test(test_config_load_missing_file),
        cmocka_unit_test(test_config_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

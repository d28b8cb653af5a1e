/*
 * intake_test.c: unit tests for intake.c, each in its own temporary directory with
 * a config built from config_defaults(): intake_fd() from a pipe (stored, then
 * duplicate, spool emptied), quarantine of bytes that are not mail, a message over
 * max_message_size (kept in spool/large), an unavailable store (AD_ERR_BUSY, message
 * left in the spool), intake_maildir() over a five-message Maildir and its re-run,
 * and intake_spool_recover(). Messages were written for this test. A failure prints
 * "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "config/config.h"
#include "intake/intake.h"
#include "store/store.h"
#include "util/log.h"

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

static const char *outcome_name(enum intake_outcome oc)
{
    switch (oc) {
    case INTAKE_STORED:
        return "stored";
    case INTAKE_DUPLICATE:
        return "duplicate";
    case INTAKE_QUARANTINED:
        return "quarantined";
    case INTAKE_REFUSED:
        return "refused";
    }
    return "?";
}

struct fx {
    char *dir;
    struct config cfg;
    struct intake in;
};

static int fx_setup(void **state)
{
    struct fx *f = g_new0(struct fx, 1);
    f->dir = g_strdup("/tmp/ad-intake-test-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    config_defaults(&f->cfg);
    g_free(f->cfg.db_path);
    g_free(f->cfg.spool_dir);
    g_free(f->cfg.quarantine_dir);
    f->cfg.db_path = g_build_filename(f->dir, "db", "reports.db", NULL);
    f->cfg.spool_dir = g_build_filename(f->dir, "spool", NULL);
    f->cfg.quarantine_dir = g_build_filename(f->dir, "quarantine", NULL);
    f->cfg.busy_timeout_ms = 1000;
    intake_init(&f->in, &f->cfg, NULL);
    *state = f;
    return 0;
}

static void rm_rf(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (d) {
        const char *name;
        while ((name = g_dir_read_name(d)) != NULL) {
            char *p = g_build_filename(dir, name, NULL);
            if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
                rm_rf(p);
            else
                g_unlink(p);
            g_free(p);
        }
        g_dir_close(d);
    }
    g_rmdir(dir);
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    intake_close(&f->in);
    config_free(&f->cfg);
    rm_rf(f->dir);
    g_free(f->dir);
    g_free(f);
    return 0;
}

/* g_ptr_array_sort() passes pointers to the elements. */
static gint cmp_strp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, comma-joined names of the entries of dir ("" when empty or missing). */
static char *dir_list(const char *dir)
{
    GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
    GDir *d = g_dir_open(dir, 0, NULL);
    if (d) {
        const char *name;
        while ((name = g_dir_read_name(d)) != NULL)
            g_ptr_array_add(a, g_strdup(name));
        g_dir_close(d);
    }
    g_ptr_array_sort(a, cmp_strp);
    g_ptr_array_add(a, NULL);
    char *s = g_strjoinv(",", (char **)a->pdata);
    g_ptr_array_free(a, TRUE);
    return s;
}

static int check_dir(const char *row, const char *dir, const char *want)
{
    char *got = dir_list(dir);
    int bad = check_str(row, dir, got, want);
    g_free(got);
    return bad;
}

static char *sha256_hex(const char *data, size_t len)
{
    return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
}

/* Feeds data through a pipe into intake_fd(). data must fit the pipe buffer. */
static int feed(struct fx *f, const char *data, size_t len, enum intake_outcome *oc, int64_t *id,
                struct ad_err *err)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_true(len < 60000);
    assert_int_equal(write(p[1], data, len), (ssize_t)len);
    close(p[1]);
    int rc = intake_fd(&f->in, p[0], "test-pipe", oc, id, err);
    close(p[0]);
    return rc;
}

static const char mail1[] =
    "From: fbl@isp.example\n"
    "To: abuse@example.net\n"
    "Subject: Spam report\n"
    "Message-ID: <r1@isp.example>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\n"
    "\n"
    "--b\n"
    "Content-Type: message/feedback-report\n"
    "\n"
    "Feedback-Type: abuse\n"
    "Source-IP: 192.0.2.33\n"
    "--b\n"
    "Content-Type: text/rfc822-headers\n"
    "\n"
    "From: sender@example.net\n"
    "Subject: Offer\n"
    "Message-ID: <offer-1@example.net>\n"
    "--b--\n";

static void test_intake_fd_stored_then_duplicate(void **state)
{
    struct fx *f = *state;
    enum intake_outcome oc = INTAKE_QUARANTINED;
    int64_t id1 = 0, id2 = 0;
    struct ad_err err = { 0 };
    int rc = feed(f, mail1, sizeof(mail1) - 1, &oc, &id1, &err);
    int bad = check_ll("first", "rc", rc, 0);
    if (rc)
        print_error("first: err: %s\n", err.msg);
    bad += check_str("first", "outcome", outcome_name(oc), "stored");
    if (id1 <= 0) {
        print_error("first: id: got %lld, want > 0\n", (long long)id1);
        bad++;
    }
    rc = feed(f, mail1, sizeof(mail1) - 1, &oc, &id2, &err);
    bad += check_ll("second", "rc", rc, 0);
    bad += check_str("second", "outcome", outcome_name(oc), "duplicate");
    bad += check_ll("second", "id", id2, id1);
    bad += check_ll("counters", "n_stored", f->in.n_stored, 1);
    bad += check_ll("counters", "n_duplicate", f->in.n_duplicate, 1);
    bad += check_ll("counters", "n_quarantined", f->in.n_quarantined, 0);

    char *newd = g_build_filename(f->cfg.spool_dir, "new", NULL);
    char *tmpd = g_build_filename(f->cfg.spool_dir, "tmp", NULL);
    bad += check_dir("spool after", newd, "");
    bad += check_dir("spool after", tmpd, "");
    bad += check_dir("quarantine after", f->cfg.quarantine_dir, "");
    g_free(newd);
    g_free(tmpd);

    /* The stored row holds the exact bytes, their hash and the parsed fields. */
    struct store_report_row row;
    assert_non_null(f->in.st);
    rc = store_report_get(f->in.st, id1, true, &row, &err);
    bad += check_ll("row", "get rc", rc, 0);
    if (rc == 0) {
        char *sha = sha256_hex(mail1, sizeof(mail1) - 1);
        bad += check_str("row", "sha256", row.sha256, sha);
        g_free(sha);
        bad += check_str("row", "source", row.source, "test-pipe");
        bad += check_str("row", "kind", row.kind, "arf");
        bad += check_str("row", "feedback_type", row.feedback_type, "abuse");
        bad += check_str("row", "source_ip", row.source_ip, "192.0.2.33");
        bad += check_str("row", "subject", row.subject, "Offer");
        bad += check_str("row", "status", row.status, "parsed");
        bad += check_ll("row", "size", row.size, (long long)sizeof(mail1) - 1);
        if (!row.raw || row.raw_len != sizeof(mail1) - 1 || memcmp(row.raw, mail1, row.raw_len)) {
            print_error("row: raw: got %zu bytes, want the %zu input bytes\n", row.raw_len,
                        sizeof(mail1) - 1);
            bad++;
        }
        if (!row.parsed_json || !strstr(row.parsed_json, "\"kind\":\"arf\"")) {
            print_error("row: parsed_json: got %s, want the JSON contract with kind arf\n",
                        row.parsed_json ? row.parsed_json : "NULL");
            bad++;
        }
        store_row_clear(&row);
    }
    FAIL_IF_BAD(bad);
}

/* The same message with CRLF line ends is different bytes: a new report. */
static void test_intake_fd_crlf_is_new(void **state)
{
    struct fx *f = *state;
    char **lines = g_strsplit(mail1, "\n", -1);
    char *crlf = g_strjoinv("\r\n", lines);
    g_strfreev(lines);
    enum intake_outcome oc;
    int64_t id1 = 0, id2 = 0;
    struct ad_err err = { 0 };
    assert_int_equal(feed(f, mail1, sizeof(mail1) - 1, &oc, &id1, &err), 0);
    assert_int_equal(feed(f, crlf, strlen(crlf), &oc, &id2, &err), 0);
    int bad = check_str("crlf", "outcome", outcome_name(oc), "stored");
    if (id2 == id1) {
        print_error("crlf: id: got %lld, want a new id\n", (long long)id2);
        bad++;
    }
    g_free(crlf);
    FAIL_IF_BAD(bad);
}

struct quarantine_case {
    const char *name;
    const char *data;
    size_t len;
};

static const char binary_junk[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10";

static const struct quarantine_case quarantine_cases[] = {
    {"binary", binary_junk, sizeof(binary_junk) - 1},
    {"prose", "just some words, no header at all\n", 34},
    {"empty", "", 0},
};

static void test_intake_fd_quarantine_table(void **state)
{
    struct fx *f = *state;
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(quarantine_cases); i++) {
        const struct quarantine_case *c = &quarantine_cases[i];
        enum intake_outcome oc = INTAKE_STORED;
        int64_t id = 42;
        struct ad_err err = { 0 };
        int rc = feed(f, c->data, c->len, &oc, &id, &err);
        bad += check_ll(c->name, "rc", rc, 0);
        if (rc)
            print_error("%s: err: %s\n", c->name, err.msg);
        bad += check_str(c->name, "outcome", outcome_name(oc), "quarantined");
        bad += check_ll(c->name, "id", id, 0);

        char *sha = sha256_hex(c->data, c->len);
        char *eml = g_strdup_printf("%s/%s.eml", f->cfg.quarantine_dir, sha);
        char *reason = g_strdup_printf("%s/%s.reason", f->cfg.quarantine_dir, sha);
        char *got = NULL;
        gsize got_len = 0;
        if (!g_file_get_contents(eml, &got, &got_len, NULL)) {
            print_error("%s: %s: got missing, want the message\n", c->name, eml);
            bad++;
        } else if (got_len != c->len || memcmp(got, c->data, c->len) != 0) {
            print_error("%s: %s: got %zu bytes, want the %zu input bytes\n", c->name, eml,
                        (size_t)got_len, c->len);
            bad++;
        }
        g_free(got);
        if (!g_file_get_contents(reason, &got, NULL, NULL)) {
            print_error("%s: %s: got missing, want a reason file\n", c->name, reason);
            bad++;
        } else {
            static const char *const want[] = { "source: test-pipe", "reason: not a mail" };
            for (size_t k = 0; k < G_N_ELEMENTS(want); k++)
                if (!strstr(got, want[k])) {
                    print_error("%s: reason file: got \"%s\", want it to contain \"%s\"\n",
                                c->name, got, want[k]);
                    bad++;
                }
            char size_line[64];
            snprintf(size_line, sizeof(size_line), "size: %zu\n", c->len);
            if (!strstr(got, size_line)) {
                print_error("%s: reason file: got \"%s\", want \"%s\"\n", c->name, got, size_line);
                bad++;
            }
        }
        g_free(got);
        g_free(eml);
        g_free(reason);
        g_free(sha);
    }
    char *newd = g_build_filename(f->cfg.spool_dir, "new", NULL);
    bad += check_dir("spool after quarantine", newd, "");
    g_free(newd);
    bad += check_ll("counters", "n_quarantined", f->in.n_quarantined, G_N_ELEMENTS(quarantine_cases));
    bad += check_ll("counters", "n_stored", f->in.n_stored, 0);
    FAIL_IF_BAD(bad);
}

/* A message over max_message_size: parsed in part, raw kept in spool/large. */
static void test_intake_fd_large(void **state)
{
    struct fx *f = *state;
    f->cfg.max_message_size = 4096;
    GString *m = g_string_new("From: a@example.net\nTo: b@example.org\nSubject: big\n\n");
    while (m->len < 20000)
        g_string_append(m, "a long line of body text that goes on and on and on\n");
    enum intake_outcome oc;
    int64_t id = 0;
    struct ad_err err = { 0 };
    int rc = feed(f, m->str, m->len, &oc, &id, &err);
    int bad = check_ll("large", "rc", rc, 0);
    if (rc)
        print_error("large: err: %s\n", err.msg);
    bad += check_str("large", "outcome", outcome_name(oc), "stored");

    char *sha = sha256_hex(m->str, m->len);
    char *keep = g_strdup_printf("%s/large/%s.eml", f->cfg.spool_dir, sha);
    char *got = NULL;
    gsize got_len = 0;
    if (!g_file_get_contents(keep, &got, &got_len, NULL) || got_len != m->len ||
        memcmp(got, m->str, m->len) != 0) {
        print_error("large: %s: got %s, want the whole %zu bytes\n", keep,
                    got ? "other bytes" : "missing", m->len);
        bad++;
    }
    g_free(got);
    struct store_report_row row;
    if (rc == 0 && store_report_get(f->in.st, id, true, &row, &err) == 0) {
        bad += check_str("large", "status", row.status, "truncated");
        bad += check_str("large", "spool_path", row.spool_path, keep);
        bad += check_ll("large", "size", row.size, (long long)m->len);
        if (row.raw) {
            print_error("large: raw: got %zu bytes, want NULL (kept in the spool)\n", row.raw_len);
            bad++;
        }
        store_row_clear(&row);
    }
    char *newd = g_build_filename(f->cfg.spool_dir, "new", NULL);
    bad += check_dir("large", newd, "");
    g_free(newd);
    g_free(keep);
    g_free(sha);
    g_string_free(m, TRUE);
    FAIL_IF_BAD(bad);
}

/* The store cannot be opened: AD_ERR_BUSY, the message stays in spool/new, and a
 * later intake_spool_recover() stores it. */
static void test_intake_fd_store_unavailable(void **state)
{
    struct fx *f = *state;
    char *blocker = g_build_filename(f->dir, "blocker", NULL);
    assert_true(g_file_set_contents(blocker, "x", 1, NULL));
    char *good_db = f->cfg.db_path;
    f->cfg.db_path = g_build_filename(blocker, "sub", "reports.db", NULL);

    enum intake_outcome oc;
    int64_t id = 0;
    struct ad_err err = { 0 };
    int rc = feed(f, mail1, sizeof(mail1) - 1, &oc, &id, &err);
    int bad = check_ll("unavailable", "rc", rc, AD_ERR_BUSY);
    bad += check_ll("unavailable", "err.code", err.code, AD_ERR_BUSY);
    /* The message must name the directory that could not be created (a regression
     * test: it once came back empty). */
    if (!strstr(err.msg, "blocker")) {
        print_error("unavailable: err.msg: got \"%s\", want the path in it\n", err.msg);
        bad++;
    }
    char *sha = sha256_hex(mail1, sizeof(mail1) - 1);
    char *want = g_strdup_printf("%s.eml", sha);
    char *newd = g_build_filename(f->cfg.spool_dir, "new", NULL);
    bad += check_dir("unavailable", newd, want);

    g_free(f->cfg.db_path);
    f->cfg.db_path = good_db;
    intake_close(&f->in);
    intake_init(&f->in, &f->cfg, NULL);
    rc = intake_spool_recover(&f->in, &err);
    bad += check_ll("recover", "rc", rc, 0);
    bad += check_ll("recover", "n_stored", f->in.n_stored, 1);
    bad += check_dir("recover", newd, "");
    g_free(newd);
    g_free(want);
    g_free(sha);
    g_free(blocker);
    FAIL_IF_BAD(bad);
}

static void make_maildir(const char *md)
{
    static const char *const sub[] = { "new", "cur", "tmp" };
    for (size_t i = 0; i < G_N_ELEMENTS(sub); i++) {
        char *p = g_build_filename(md, sub[i], NULL);
        assert_int_equal(g_mkdir_with_parents(p, 0700), 0);
        g_free(p);
    }
}

static void put(const char *dir, const char *name, const char *data)
{
    char *p = g_build_filename(dir, name, NULL);
    assert_true(g_file_set_contents(p, data, -1, NULL));
    g_free(p);
}

static void test_intake_maildir(void **state)
{
    struct fx *f = *state;
    char *md = g_build_filename(f->dir, "Maildir", NULL);
    make_maildir(md);
    char *newd = g_build_filename(md, "new", NULL);
    char *curd = g_build_filename(md, "cur", NULL);
    GString *want_cur = g_string_new(NULL);
    for (int i = 1; i <= 5; i++) {
        char name[64], body[256];
        snprintf(name, sizeof(name), "170000000%d.M%dP1.host", i, i);
        snprintf(body, sizeof(body),
                 "From: user%d@isp.example\nTo: abuse@example.net\nSubject: spam number %d\n"
                 "Message-ID: <m%d@isp.example>\n\nI got spam.\n", i, i, i);
        put(newd, name, body);
        g_string_append_printf(want_cur, "%s%s:2,S", i > 1 ? "," : "", name);
    }
    struct ad_err err = { 0 };
    int rc = intake_maildir(&f->in, md, &err);
    int bad = check_ll("maildir", "rc", rc, 0);
    if (rc)
        print_error("maildir: err: %s\n", err.msg);
    bad += check_ll("maildir", "n_stored", f->in.n_stored, 5);
    bad += check_ll("maildir", "n_duplicate", f->in.n_duplicate, 0);
    bad += check_ll("maildir", "n_failed", f->in.n_failed, 0);
    bad += check_dir("maildir", newd, "");
    bad += check_dir("maildir", curd, want_cur->str);

    /* Re-run with fresh counters: every message is a duplicate, nothing moves. */
    intake_close(&f->in);
    intake_init(&f->in, &f->cfg, NULL);
    rc = intake_maildir(&f->in, md, &err);
    bad += check_ll("maildir rerun", "rc", rc, 0);
    bad += check_ll("maildir rerun", "n_stored", f->in.n_stored, 0);
    bad += check_ll("maildir rerun", "n_duplicate", f->in.n_duplicate, 5);
    bad += check_dir("maildir rerun", newd, "");
    bad += check_dir("maildir rerun", curd, want_cur->str);

    g_string_free(want_cur, TRUE);
    g_free(curd);
    g_free(newd);
    g_free(md);
    FAIL_IF_BAD(bad);
}

/* A Maildir file that is not mail is quarantined, the rest is stored. */
static void test_intake_maildir_with_junk(void **state)
{
    struct fx *f = *state;
    char *md = g_build_filename(f->dir, "Maildir", NULL);
    make_maildir(md);
    char *newd = g_build_filename(md, "new", NULL);
    char *curd = g_build_filename(md, "cur", NULL);
    put(newd, "1.junk", "\x01\x02\x03 no header here\n");
    put(newd, "2.mail", "From: a@isp.example\nSubject: hello\n\nhi\n");
    put(curd, "0.seen:2,S", "From: b@isp.example\nSubject: old\n\nold\n");
    struct ad_err err = { 0 };
    int rc = intake_maildir(&f->in, md, &err);
    int bad = check_ll("junk", "rc", rc, 0);
    bad += check_ll("junk", "n_stored", f->in.n_stored, 2);
    bad += check_ll("junk", "n_quarantined", f->in.n_quarantined, 1);
    bad += check_dir("junk", newd, "");
    bad += check_dir("junk", curd, "0.seen:2,S,2.mail:2,S");
    char *q = dir_list(f->cfg.quarantine_dir);
    if (!strstr(q, ".eml") || !strstr(q, ".reason")) {
        print_error("junk: quarantine: got \"%s\", want an .eml and a .reason\n", q);
        bad++;
    }
    g_free(q);
    g_free(curd);
    g_free(newd);
    g_free(md);
    FAIL_IF_BAD(bad);
}

static void test_intake_maildir_not_a_maildir(void **state)
{
    struct fx *f = *state;
    struct ad_err err = { 0 };
    int rc = intake_maildir(&f->in, f->dir, &err);
    int bad = check_ll("not a maildir", "rc", rc, AD_ERR_USAGE);
    if (!strstr(err.msg, f->dir)) {
        print_error("not a maildir: err.msg: got \"%s\", want the path in it\n", err.msg);
        bad++;
    }
    FAIL_IF_BAD(bad);
}

static void test_intake_spool_recover(void **state)
{
    struct fx *f = *state;
    char *newd = g_build_filename(f->cfg.spool_dir, "new", NULL);
    char *tmpd = g_build_filename(f->cfg.spool_dir, "tmp", NULL);
    assert_int_equal(g_mkdir_with_parents(newd, 0750), 0);
    assert_int_equal(g_mkdir_with_parents(tmpd, 0750), 0);
    char *sha = sha256_hex(mail1, sizeof(mail1) - 1);
    char *name = g_strdup_printf("%s.eml", sha);
    put(newd, name, mail1);
    put(newd, "leftover-junk.eml", "\x7f\x7f binary");
    /* Temp files: a stale one (2 h old) is removed, a fresh one is kept. */
    put(tmpd, "stale", "half");
    put(tmpd, "fresh", "half");
    char *stale = g_build_filename(tmpd, "stale", NULL);
    struct utimbuf ut = { time(NULL) - 7200, time(NULL) - 7200 };
    assert_int_equal(utime(stale, &ut), 0);

    struct ad_err err = { 0 };
    int rc = intake_spool_recover(&f->in, &err);
    int bad = check_ll("recover", "rc", rc, 0);
    if (rc)
        print_error("recover: err: %s\n", err.msg);
    bad += check_ll("recover", "n_stored", f->in.n_stored, 1);
    bad += check_ll("recover", "n_quarantined", f->in.n_quarantined, 1);
    bad += check_dir("recover", newd, "");
    bad += check_dir("recover", tmpd, "fresh");

    /* The recovered message is a duplicate when the MTA retries it. */
    enum intake_outcome oc;
    int64_t id = 0;
    rc = feed(f, mail1, sizeof(mail1) - 1, &oc, &id, &err);
    bad += check_ll("retry", "rc", rc, 0);
    bad += check_str("retry", "outcome", outcome_name(oc), "duplicate");

    /* A second recover finds nothing to do. */
    rc = intake_spool_recover(&f->in, &err);
    bad += check_ll("recover again", "rc", rc, 0);
    bad += check_ll("recover again", "n_stored", f->in.n_stored, 1);
    g_free(stale);
    g_free(name);
    g_free(sha);
    g_free(tmpd);
    g_free(newd);
    FAIL_IF_BAD(bad);
}

/* With a logger, one line per message names the outcome (captured from stderr). */
static void test_intake_log_lines(void **state)
{
    struct fx *f = *state;
    char *logpath = g_build_filename(f->dir, "stderr.log", NULL);
    int logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(logfd >= 0);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(logfd, 2), 2);
    close(logfd);

    struct logger lg = { .min = LOG_LEVEL_INFO, .syslog = false, .ident = "intake_test" };
    intake_init(&f->in, &f->cfg, &lg);
    enum intake_outcome oc;
    int64_t id = 0;
    struct ad_err err = { 0 };
    int rc1 = feed(f, mail1, sizeof(mail1) - 1, &oc, &id, &err);
    int rc2 = feed(f, mail1, sizeof(mail1) - 1, &oc, &id, &err);
    int rc3 = feed(f, "junk junk\n", 10, &oc, &id, &err);
    intake_close(&f->in);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);

    int bad = check_ll("log", "rc1", rc1, 0) + check_ll("log", "rc2", rc2, 0) +
              check_ll("log", "rc3", rc3, 0);
    char *buf = NULL;
    assert_true(g_file_get_contents(logpath, &buf, NULL, NULL));
    static const char *const want[] = { "intake_test: info: stored id=",
                                        "intake_test: info: duplicate id=",
                                        "intake_test: warning: quarantined " };
    for (size_t k = 0; k < G_N_ELEMENTS(want); k++)
        if (!strstr(buf, want[k])) {
            print_error("log: got \"%s\", want a line with \"%s\"\n", buf, want[k]);
            bad++;
        }
    g_free(buf);
    g_free(logpath);
    FAIL_IF_BAD(bad);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_intake_fd_stored_then_duplicate),
        T(test_intake_fd_crlf_is_new),
        T(test_intake_fd_quarantine_table),
        T(test_intake_fd_large),
        T(test_intake_fd_store_unavailable),
        T(test_intake_maildir),
        T(test_intake_maildir_with_junk),
        T(test_intake_maildir_not_a_maildir),
        T(test_intake_spool_recover),
        T(test_intake_log_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * store_test.c: unit tests for the SQLite store (store.c) in a fresh temporary
 * directory per test: migrations and schema version, WAL mode, idempotent insert by
 * sha256, raw message round-trip (zlib and identity), listing with kind filter and
 * limit, counts per kind, NOTFOUND, reopen, transactions, and the error codes for an
 * unreachable path and a too-new schema. A failure prints "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_priv.h"
#include "store/store_q.h"
#include "store/store_sql.h"

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

/* Per-test fixture: a temporary directory with the database path inside it. */
struct fx {
    char *dir;
    char *db;
    struct store *st;
};

static int fx_setup(void **state)
{
    struct fx *f = g_new0(struct fx, 1);
    f->dir = g_strdup("/tmp/ad-store-test-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->db = g_build_filename(f->dir, "reports.db", NULL);
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
    f->st = store_close(f->st);
    rm_rf(f->dir);
    g_free(f->db);
    g_free(f->dir);
    g_free(f);
    return 0;
}

static struct store *fx_open(struct fx *f)
{
    struct ad_err err = { 0 };
    int rc = store_open(f->db, 1000, &f->st, &err);
    if (rc != 0)
        fail_msg("store_open(%s): got %d (%s), want 0", f->db, rc, err.msg);
    assert_non_null(f->st);
    return f->st;
}

/* A 64-hex-digit fake content hash derived from n. */
static void fake_sha(char out[65], unsigned n)
{
    char *s = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)&n, sizeof(n));
    g_strlcpy(out, s, 65);
    g_free(s);
}

static int64_t add(struct store *st, unsigned n, const char *kind, const char *raw,
                   bool compress, bool *dup)
{
    char sha[65];
    fake_sha(sha, n);
    char subject[32];
    snprintf(subject, sizeof(subject), "report %u", n);
    struct store_report_in in = {
        .sha256 = sha,
        .source = "test",
        .raw = (const unsigned char *)raw,
        .raw_len = raw ? strlen(raw) : 0,
        .size = raw ? strlen(raw) : 0,
        .compress = compress,
        .kind = kind,
        .subject = subject,
    };
    int64_t id = -1;
    bool d = false;
    struct ad_err err = { 0 };
    int rc = store_report_add(st, &in, &id, &d, &err);
    if (rc != 0)
        fail_msg("store_report_add(%u): got %d (%s), want 0", n, rc, err.msg);
    if (dup)
        *dup = d;
    return id;
}

static void test_store_open_schema(void **state)
{
    struct fx *f = *state;
    struct store *st = fx_open(f);
    int bad = 0;
    if (store_sql_n_migrations < 1) {
        print_error("migrations: got %u, want >= 1\n", store_sql_n_migrations);
        bad++;
    }
    bad += check_ll("open", "schema version", store_schema_version(st),
                    (long long)store_sql_n_migrations);
    FAIL_IF_BAD(bad);
}

static void test_store_wal_mode(void **state)
{
    struct fx *f = *state;
    struct store *st = fx_open(f);
    add(st, 1, "arf", "x", false, NULL);

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int bad = check_str("wal", "journal_mode", (const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_close(db);

    char *wal = g_strconcat(f->db, "-wal", NULL);
    if (!g_file_test(wal, G_FILE_TEST_EXISTS)) {
        print_error("wal: %s: got missing, want present while open\n", wal);
        bad++;
    }
    g_free(wal);
    FAIL_IF_BAD(bad);
}

static void test_store_add_duplicate(void **state)
{
    struct fx *f = *state;
    struct store *st = fx_open(f);
    bool dup = true;
    int64_t id1 = add(st, 7, "arf", "raw one", true, &dup);
    int bad = check_ll("first add", "dup", dup, 0);
    if (id1 <= 0) {
        print_error("first add: id: got %lld, want > 0\n", (long long)id1);
        bad++;
    }
    int64_t id2 = add(st, 7, "dsn", "different bytes, same hash", false, &dup);
    bad += check_ll("second add", "dup", dup, 1);
    bad += check_ll("second add", "id", id2, id1);
    int64_t id3 = add(st, 8, "arf", "raw two", true, &dup);
    bad += check_ll("other hash", "dup", dup, 0);
    if (id3 == id1) {
        print_error("other hash: id: got %lld, want != %lld\n", (long long)id3, (long long)id1);
        bad++;
    }

    char sha[65];
    fake_sha(sha, 7);
    int64_t found = 0;
    bad += check_ll("find 7", "rc", store_report_find(st, sha, &found, NULL), 1);
    bad += check_ll("find 7", "id", found, id1);
    fake_sha(sha, 9);
    bad += check_ll("find 9", "rc", store_report_find(st, sha, &found, NULL), 0);

    /* The duplicate did not overwrite the stored row. */
    struct store_report_row row;
    assert_int_equal(store_report_get(st, id1, false, &row, NULL), 0);
    bad += check_str("after dup", "kind", row.kind, "arf");
    store_row_clear(&row);
    FAIL_IF_BAD(bad);
}

struct raw_case {
    const char *name;
    const char *raw;
    size_t len;
    bool compress;
};

static void test_store_get_raw_roundtrip(void **state)
{
    struct fx *f = *state;
    struct store *st = fx_open(f);
    GString *big = g_string_new(NULL);
    for (int i = 0; i < 5000; i++)
        g_string_append_printf(big, "Received: line %d of a long and repetitive mail\r\n", i);
    static const char bin[] = "From: a\n\n\0\x01\x02\xff\xfe binary\0tail";
    const struct raw_case cases[] = {
        {"zlib text", "From: a@example.net\nSubject: x\n\nbody\n", 37, true},
        {"identity text", "From: a@example.net\nSubject: x\n\nbody\n", 37, false},
        {"zlib binary", bin, sizeof(bin) - 1, true},
        {"identity binary", bin, sizeof(bin) - 1, false},
        {"zlib large", big->str, big->len, true},
        {"identity large", big->str, big->len, false},
    };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const struct raw_case *c = &cases[i];
        char sha[65];
        fake_sha(sha, 100 + (unsigned)i);
        struct store_report_in in = {
            .sha256 = sha,
            .source = "stdin",
            .spool_path = "/spool/x.eml",
            .raw = (const unsigned char *)c->raw,
            .raw_len = c->len,
            .size = c->len,
            .compress = c->compress,
            .kind = "abuse-text",
            .format = "abuse-text",
            .feedback_type = "abuse",
            .subject = "S\xc3\xbc" "bject",
            .from_addr = "a@example.net",
            .source_ip = "192.0.2.1",
            .original_message_id = "m@example.net",
            .parsed_json = "{\"kind\":\"abuse-text\"}",
            .status = "parsed",
        };
        int64_t id = 0;
        bool dup = false;
        struct ad_err err = { 0 };
        if (store_report_add(st, &in, &id, &dup, &err) != 0)
            fail_msg("%s: add: %s", c->name, err.msg);

        struct store_report_row row;
        int rc = store_report_get(st, id, true, &row, &err);
        bad += check_ll(c->name, "get rc", rc, 0);
        if (rc != 0)
            continue;
        bad += check_ll(c->name, "id", row.id, id);
        bad += check_str(c->name, "sha256", row.sha256, sha);
        bad += check_str(c->name, "source", row.source, "stdin");
        bad += check_str(c->name, "spool_path", row.spool_path, "/spool/x.eml");
        bad += check_str(c->name, "kind", row.kind, "abuse-text");
        bad += check_str(c->name, "format", row.format, "abuse-text");
        bad += check_str(c->name, "feedback_type", row.feedback_type, "abuse");
        bad += check_str(c->name, "subject", row.subject, "S\xc3\xbc" "bject");
        bad += check_str(c->name, "from_addr", row.from_addr, "a@example.net");
        bad += check_str(c->name, "source_ip", row.source_ip, "192.0.2.1");
        bad += check_str(c->name, "status", row.status, "parsed");
        bad += check_str(c->name, "parsed_json", row.parsed_json, "{\"kind\":\"abuse-text\"}");
        bad += check_ll(c->name, "size", row.size, (long long)c->len);
        if (!row.received_at || strlen(row.received_at) != 20 || row.received_at[19] != 'Z') {
            print_error("%s: received_at: got %s, want ISO 8601 UTC\n", c->name,
                        row.received_at ? row.received_at : "NULL");
            bad++;
        }
        bad += check_ll(c->name, "raw_len", (long long)row.raw_len, (long long)c->len);
        if (!row.raw || row.raw_len != c->len || memcmp(row.raw, c->raw, c->len) != 0) {
            print_error("%s: raw: got %s, want the stored bytes\n", c->name,
                        row.raw ? "different bytes" : "NULL");
            bad++;
        }
        store_row_clear(&row);

        /* Without include_raw the message stays in the database. */
        assert_int_equal(store_report_get(st, id, false, &row, NULL), 0);
        if (row.raw) {
            print_error("%s: raw without include_raw: got bytes, want NULL\n", c->name);
            bad++;
        }
        store_row_clear(&row);
    }
    g_string_free(big, TRUE);
    FAIL_IF_BAD(bad);
}

/* NULL optional fields: parsed defaults to "{}", status to "parsed", raw stays NULL. */
static void test_store_defaults_and_null_raw(void **state)
{
    struct fx *f = *state;
    struct store *st = fx_open(f);
    char sha[65];
    fake_sha(sha, 55);
    struct store_report_in in = { .sha256 = sha, .size = 123456789, .kind = "unknown",
                                  .compress = true };
    int64_t id = 0;
    bool dup = false;
    struct ad_err err = { 0 };
    if (store_report_add(st, &in, &id, &dup, &err) != 0)
        fail_msg("add: %s", err.msg);
    struct store_report_row row;
    assert_int_equal(store_report_get(st, id, true, &row, &err), 0);
    int bad = 0;
    bad += check_str("null fields", "parsed_json", row.parsed_json, "{}");
    bad += check_str("null fields", "status", row.status, "parsed");
    bad += check_str("null fields", "source", row.source, NULL);
    bad += check_str("null fields", "subject", row.subject, NULL);
    bad += check_ll("null fields", "size", row.size, 123456789);
    if (row.raw) {
        print_error("null fields: raw: got bytes, want NULL\n");
        bad++;
    }
    store_row_clear(&row);
    FAIL_IF_BAD(bad);
}

/* Adds and reads back a zero-length, non-NULL raw message; returns mismatches. */
static int empty_raw_case(const char *db_path, unsigned n, bool compress)
{
    struct store *st = NULL;
    struct ad_err err = { 0 };
    if (store_open(db_path, 1000, &st, &err) != 0) {
        print_error("open: %s\n", err.msg);
        return 1;
    }
    char sha[65];
    fake_sha(sha, n);
    struct store_report_in in = { .sha256 = sha, .raw = (const unsigned char *)"",
                                  .raw_len = 0, .size = 0, .kind = "unknown",
                                  .compress = compress };
    int64_t id = 0;
    bool dup = false;
    int bad = 0;
    if (store_report_add(st, &in, &id, &dup, &err) != 0) {
        print_error("add: %s\n", err.msg);
        bad++;
    } else {
        struct store_report_row row;
        int rc = store_report_get(st, id, true, &row, &err);
        const char *name = compress ? "empty zlib" : "empty identity";
        bad += check_ll(name, "get rc", rc, 0);
        if (rc == 0) {
            bad += check_ll(name, "raw_len", (long long)row.raw_len, 0);
            store_row_clear(&row);
        }
    }
    store_close(st);
    return bad;
}

/* An empty (zero-length, non-NULL) raw message round-trips as zero bytes.
 * Regression test: read_row() used to call memcpy(row->raw, NULL, 0) for an empty
 * identity blob (sqlite3_column_blob() returns NULL for zero bytes), which UBSan
 * aborts on. Each mode runs in a child process so that a sanitizer abort is reported
 * as this test's failure instead of taking the other tests down. */
static void test_store_empty_raw(void **state)
{
    struct fx *f = *state;
    fx_open(f);
    f->st = store_close(f->st); /* children open their own connection */
    static const bool modes[] = { true, false };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            _exit(empty_raw_case(f->db, 60 + (unsigned)i, modes[i]) ? 1 : 0);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        const char *name = modes[i] ? "empty zlib" : "empty identity";
        if (WIFSIGNALED(status)) {
            print_error("%s: child: got signal %d, want exit 0\n", name, WTERMSIG(status));
            bad++;
        } else if (WEXITSTATUS(status) != 0) {
            print_error("%s: child: got exit %d, want exit 0\n", name, WEXITSTATUS(status));
            bad++;
        }
    }
    FAIL_IF_BAD(bad);
}

struct collect {
    GPtrArray *ids;
    int stop_after;     /* 0: never stop */
};

static int collect_fn(const struct store_report_row *row, void *ctx)
{
    struct collect *c = ctx;
    g_ptr_array_add(c->ids, g_strdup_printf("%lld:%s", (long long)row->id, row->kind));
    if (row->raw)
        g_ptr_array_add(c->ids, g_strdup("raw-in-listing"));
    return c->stop_after > 0 && (int)c->ids->len >= c->stop_after;
}

static char *listing(struct store *st, const char *kind, int64_t limit, int stop_after)
{
    struct collect c = { g_ptr_array_new_with_free_func(g_free), stop_after };
    struct ad_err err = { 0 };
    int rc = store_reports_each(st, kind, limit, collect_fn, &c, &err);
    if (rc != 0)
        fail_msg("store_reports_each: got %d (%s), want 0", rc, err.msg);
    g_ptr_array_add(c.ids, NULL);
    char *s = g_strjoinv(",", (char **)c.ids->pdata);
    g_ptr_array_free(c.ids, TRUE);
    return s;
}

static void count_fn(const char *kind, int64_t n, void *ctx)
{
    GString *s = ctx;
    g_string_append_printf(s, "%s%s=%lld", s->len ? "," : "", kind, (long long)n);
}

static void test_store_list_and_count(void **state)
{
    struct fx *f = *state;
    struct store *st = fx_open(f);
    static const char *const kinds[] = { "arf", "dsn", "arf", "unknown", "arf", "dsn" };
    for (unsigned i = 0; i < G_N_ELEMENTS(kinds); i++)
        add(st, 200 + i, kinds[i], "raw", true, NULL);

    static const struct {
        const char *name, *kind;
        int64_t limit;
        int stop_after;
        const char *want;
    } cases[] = {
        {"all", NULL, 0, 0, "6:dsn,5:arf,4:unknown,3:arf,2:dsn,1:arf"},
        {"all limit 2", NULL, 2, 0, "6:dsn,5:arf"},
        {"arf", "arf", 0, 0, "5:arf,3:arf,1:arf"},
        {"arf limit 1", "arf", 1, 0, "5:arf"},
        {"dsn limit 10", "dsn", 10, 0, "6:dsn,2:dsn"},
        {"no such kind", "auth-failure", 0, 0, ""},
        {"callback stops", NULL, 0, 3, "6:dsn,5:arf,4:unknown"},
    };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *got = listing(st, cases[i].kind, cases[i].limit, cases[i].stop_after);
        bad += check_str(cases[i].name, "listing", got, cases[i].want);
        g_free(got);
    }

    GString *counts = g_string_new(NULL);
    struct ad_err err = { 0 };
    bad += check_ll("count", "rc", store_reports_count(st, count_fn, counts, &err), 0);
    bad += check_str("count", "per kind", counts->str, "arf=3,dsn=2,unknown=1");
    g_string_free(counts, TRUE);
    FAIL_IF_BAD(bad);
}

static void test_store_count_empty(void **state)
{
    struct fx *f = *state;
    struct store *st = fx_open(f);
    GString *counts = g_string_new(NULL);
    int bad = check_ll("count empty", "rc", store_reports_count(st, count_fn, counts, NULL), 0);
    bad += check_str("count empty", "per kind", counts->str, "");
    g_string_free(counts, TRUE);
    char *got = listing(st, NULL, 0, 0);
    bad += check_str("list empty", "listing", got, "");
    g_free(got);
    FAIL_IF_BAD(bad);
}

static void test_store_notfound(void **state)
{
    struct fx *f = *state;
    struct store *st = fx_open(f);
    add(st, 1, "arf", "x", false, NULL);
    static const int64_t ids[] = { 0, -1, 2, 999999, INT64_MAX };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(ids); i++) {
        struct store_report_row row;
        struct ad_err err = { 0 };
        char name[48];
        snprintf(name, sizeof(name), "get %lld", (long long)ids[i]);
        int rc = store_report_get(st, ids[i], true, &row, &err);
        bad += check_ll(name, "rc", rc, AD_ERR_NOTFOUND);
        bad += check_ll(name, "err.code", err.code, AD_ERR_NOTFOUND);
        if (rc == 0)
            store_row_clear(&row);
    }
    FAIL_IF_BAD(bad);
}

static int count_rows(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

static void test_store_reopen_keeps_data(void **state)
{
    struct fx *f = *state;
    struct store *st = fx_open(f);
    int64_t id = add(st, 42, "arf", "keep me", true, NULL);
    f->st = store_close(f->st);
    int bad = 0;
    for (int round = 0; round < 2; round++) {
        st = fx_open(f);
        char name[32];
        snprintf(name, sizeof(name), "reopen %d", round + 1);
        bad += check_ll(name, "schema version", store_schema_version(st),
                        (long long)store_sql_n_migrations);
        struct store_report_row row;
        struct ad_err err = { 0 };
        int rc = store_report_get(st, id, true, &row, &err);
        bad += check_ll(name, "get rc", rc, 0);
        if (rc == 0) {
            bad += check_str(name, "raw", (const char *)row.raw, "keep me");
            store_row_clear(&row);
        }
        bool dup = false;
        bad += check_ll(name, "re-add id", add(st, 42, "arf", "keep me", true, &dup), id);
        bad += check_ll(name, "re-add dup", dup, 1);
        f->st = store_close(f->st);
    }
    /* Migrations ran once: one version row per migration, one report. */
    bad += check_ll("reopen", "schema_version rows",
                    count_rows(f->db, "SELECT COUNT(*) FROM schema_version"),
                    (long long)store_sql_n_migrations);
    bad += check_ll("reopen", "reports rows", count_rows(f->db, "SELECT COUNT(*) FROM reports"), 1);
    FAIL_IF_BAD(bad);
}

static void test_store_transaction(void **state)
{
    struct fx *f = *state;
    struct store *st = fx_open(f);
    struct ad_err err = { 0 };
    assert_int_equal(store_begin(st, &err), 0);
    add(st, 300, "arf", "rolled back", true, NULL);
    assert_int_equal(store_rollback(st), 0);
    assert_int_equal(store_begin(st, &err), 0);
    int64_t id = add(st, 301, "dsn", "committed", true, NULL);
    assert_int_equal(store_commit(st, &err), 0);

    char sha[65];
    int bad = 0;
    fake_sha(sha, 300);
    bad += check_ll("rollback", "find", store_report_find(st, sha, NULL, NULL), 0);
    fake_sha(sha, 301);
    int64_t got = 0;
    bad += check_ll("commit", "find", store_report_find(st, sha, &got, NULL), 1);
    bad += check_ll("commit", "id", got, id);
    /* COMMIT without BEGIN is an error, not a crash. */
    int rc = store_commit(st, &err);
    if (rc == 0) {
        print_error("commit without begin: rc: got 0, want an error\n");
        bad++;
    }
    FAIL_IF_BAD(bad);
}

static void test_store_open_unreachable(void **state)
{
    struct fx *f = *state;
    /* A regular file where a directory should be: fails even for root. */
    char *file = g_build_filename(f->dir, "plain-file", NULL);
    assert_true(g_file_set_contents(file, "x", 1, NULL));
    char *paths[2] = {
        g_build_filename(file, "sub", "reports.db", NULL),
        g_build_filename(f->dir, "no", "such", "dir", "reports.db", NULL),
    };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(paths); i++) {
        struct store *st = (struct store *)&bad; /* must be reset to NULL */
        struct ad_err err = { 0 };
        int rc = store_open(paths[i], 100, &st, &err);
        bad += check_ll(paths[i], "rc", rc, AD_ERR_BUSY);
        bad += check_ll(paths[i], "err.code", err.code, AD_ERR_BUSY);
        if (st != NULL) {
            print_error("%s: out: got non-NULL, want NULL\n", paths[i]);
            bad++;
            if (rc == 0)
                store_close(st);
        }
        if (!strstr(err.msg, paths[i])) {
            print_error("%s: err.msg: got \"%s\", want the path in it\n", paths[i], err.msg);
            bad++;
        }
        g_free(paths[i]);
    }
    g_free(file);
    FAIL_IF_BAD(bad);
}

/* A database written by a newer program is refused with AD_ERR_STORE, not touched. */
static void test_store_newer_schema(void **state)
{
    struct fx *f = *state;
    fx_open(f);
    f->st = store_close(f->st);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_version VALUES (999, 'future')", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    struct store *st = NULL;
    struct ad_err err = { 0 };
    int rc = store_open(f->db, 100, &st, &err);
    int bad = check_ll("newer schema", "rc", rc, AD_ERR_STORE);
    if (!strstr(err.msg, "999")) {
        print_error("newer schema: err.msg: got \"%s\", want the version 999 in it\n", err.msg);
        bad++;
    }
    if (st) {
        print_error("newer schema: out: got non-NULL, want NULL\n");
        bad++;
        store_close(st);
    }
    FAIL_IF_BAD(bad);
}

/* A file that is not a database: an error (not a crash), and out stays NULL. */
static void test_store_open_not_a_database(void **state)
{
    struct fx *f = *state;
    GString *junk = g_string_new(NULL);
    for (int i = 0; i < 1024; i++)
        g_string_append(junk, "this is not an SQLite database. ");
    assert_true(g_file_set_contents(f->db, junk->str, (gssize)junk->len, NULL));
    g_string_free(junk, TRUE);
    struct store *st = NULL;
    struct ad_err err = { 0 };
    int rc = store_open(f->db, 100, &st, &err);
    int bad = 0;
    if (rc == 0 || st) {
        print_error("not a database: rc: got %d, want an error\n", rc);
        bad++;
        store_close(st);
    }
    bad += check_ll("not a database", "err.code", err.code, rc);
    FAIL_IF_BAD(bad);
}

static void test_store_close_null(void **state)
{
    (void)state;
    assert_null(store_close(NULL));
}

/* A bind that fails (here: over the length limit) fails the step, naming the
 * parameter, instead of running the statement without it; the next use of
 * the statement is clean again. */
static void test_store_bind_error(void **state)
{
    static const char sql[] = "SELECT length($1), $2";
    struct fx *f = *state;
    struct store *st = fx_open(f);
    sqlite3_limit(st->db, SQLITE_LIMIT_LENGTH, 1000);
    char big[2001];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    struct ad_err err = { 0 };
    struct store_q *q;
    int bad = 0;
    assert_int_equal(store_q_get(st, sql, &q, &err), 0);
    store_q_text(q, 1, big);
    store_q_int(q, 2, 7);
    bad += check_ll("too big", "step", store_q_step(q, &err), AD_ERR_STORE);
    if (!strstr(err.msg, "$1")) {
        print_error("too big: message '%s' does not name $1\n", err.msg);
        bad++;
    }
    store_q_reset(q);
    assert_int_equal(store_q_get(st, sql, &q, &err), 0);
    store_q_text(q, 1, "abc");
    store_q_int(q, 2, 7);
    bad += check_ll("after", "step", store_q_step(q, &err), 1);
    bad += check_ll("after", "length", store_q_col_int(q, 0), 3);
    bad += check_ll("after", "$2", store_q_col_int(q, 1), 7);
    store_q_reset(q);
    FAIL_IF_BAD(bad);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_store_open_schema),
        T(test_store_wal_mode),
        T(test_store_add_duplicate),
        T(test_store_get_raw_roundtrip),
        T(test_store_defaults_and_null_raw),
        T(test_store_empty_raw),
        T(test_store_list_and_count),
        T(test_store_count_empty),
        T(test_store_notfound),
        T(test_store_reopen_keeps_data),
        T(test_store_transaction),
        T(test_store_open_unreachable),
        T(test_store_newer_schema),
        T(test_store_open_not_a_database),
        T(test_store_bind_error),
        cmocka_unit_test(test_store_close_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * store_pg_test.c: unit tests of the PostgreSQL backend (store_pg.c) against
 * the database ABUSEDESK_STORE_CONNINFO names (tests/lib/with_pg.sh gives a
 * fresh one; ctest runs it as store_pg_test_pg); without it every test
 * fails. Migrations reach the SQLite version, raw messages (binary, zlib)
 * round-trip through BYTEA, ids of inserts, rows changed, transactions (COMMIT
 * without BEGIN and COMMIT after a failed statement are errors), a lock held
 * by another session is AD_ERR_BUSY after busy_timeout_ms, a killed connection
 * is AD_ERR_BUSY once and then re-established with statements prepared again,
 * and the data version moves when another session changes the locks. A
 * failure prints "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_q.h"
#include "store/store_sql.h"

static const char *conninfo(void)
{
    const char *c = getenv("ABUSEDESK_STORE_CONNINFO");
    const char *b = getenv("ABUSEDESK_STORE_BACKEND");
    return c && b && strcmp(b, "postgresql") == 0 ? c : NULL;
}

static struct store *open_pg(int busy_ms)
{
    struct store *st = NULL;
    struct ad_err err = { 0 };
    int rc = store_open_pg(conninfo(), busy_ms, &st, &err);
    if (rc != 0)
        fail_msg("store_open_pg: got %d (%s), want 0", rc, err.msg);
    return st;
}

/* A second session, as another process would have. */
static PGconn *other(void)
{
    PGconn *c = PQconnectdb(conninfo());
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("other session: %s", PQerrorMessage(c));
    return c;
}

static void other_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        fail_msg("other session: %s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

/* Fails the calling test when there is no database to run it on: it runs
 * through tests/lib/with_pg.sh (ctest's store_pg_test_pg). */
#define NEED_PG() \
    do { \
        if (!conninfo()) \
            fail_msg("no PostgreSQL database: run it through tests/lib/with_pg.sh"); \
    } while (0)

static void test_pg_schema(void **state)
{
    (void)state;
    NEED_PG();
    struct store *st = open_pg(1000);
    assert_int_equal(store_schema_version(st), (int)store_sql_n_migrations);
    st = store_close(st);
    st = open_pg(1000); /* again: nothing to migrate */
    assert_int_equal(store_schema_version(st), (int)store_sql_n_migrations);
    store_close(st);
}

static void test_pg_raw_roundtrip(void **state)
{
    (void)state;
    NEED_PG();
    struct store *st = open_pg(1000);
    static const char bin[] = "From: a\n\n\0\x01\x02\xff\xfe binary\0tail\\x00'";
    for (int compress = 0; compress < 2; compress++) {
        char sha[65];
        snprintf(sha, sizeof sha, "%064d", 100 + compress);
        struct store_report_in in = { .sha256 = sha, .raw = (const unsigned char *)bin,
                                      .raw_len = sizeof bin - 1, .size = sizeof bin - 1,
                                      .compress = compress, .kind = "arf",
                                      .subject = "S\xc3\xbc" "bject \xff invalid" };
        int64_t id = 0;
        bool dup = true;
        struct ad_err err = { 0 };
        assert_int_equal(store_report_add(st, &in, &id, &dup, &err), 0);
        assert_false(dup);
        assert_true(id > 0);
        int64_t id2 = 0;
        assert_int_equal(store_report_add(st, &in, &id2, &dup, &err), 0);
        assert_true(dup);
        assert_int_equal(id2, id);
        struct store_report_row row;
        assert_int_equal(store_report_get(st, id, true, &row, &err), 0);
        if (row.raw_len != sizeof bin - 1 || memcmp(row.raw, bin, sizeof bin - 1) != 0)
            fail_msg("compress %d: raw: got %zu different bytes, want the %zu stored", compress,
                     row.raw_len, sizeof bin - 1);
        /* Invalid UTF-8 in text is made valid, not refused. */
        assert_true(g_utf8_validate(row.subject, -1, NULL));
        store_row_clear(&row);
    }
    store_close(st);
}

static void test_pg_ids_changes_tx(void **state)
{
    (void)state;
    NEED_PG();
    struct store *st = open_pg(1000);
    static const char ins[] = "INSERT INTO audit (at, incident_id, report_id, actor, action, detail)"
                              " VALUES ($1, NULL, NULL, $2, 'test', NULL)";
    static const char upd[] = "UPDATE audit SET detail = $1 WHERE actor = $2";
    static const char bad[] = "INSERT INTO audit (at) VALUES ($1)"; /* NOT NULL actor */
    struct ad_err err = { 0 };
    struct store_q *q;
    int64_t last = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(store_q_get(st, ins, &q, &err), 0);
        store_q_int(q, 1, 1000 + i);
        store_q_text(q, 2, "tester");
        assert_int_equal(store_q_run(q, &err), 0);
        int64_t id = store_last_id(st);
        if (id <= last)
            fail_msg("insert %d: id: got %lld, want > %lld", i, (long long)id, (long long)last);
        last = id;
    }
    assert_int_equal(store_q_get(st, upd, &q, &err), 0);
    store_q_text(q, 1, "x");
    store_q_text(q, 2, "tester");
    store_q_text(q, 3, "ignored: no $3"); /* like SQLite: an unused parameter is no error */
    assert_int_equal(store_q_run(q, &err), 0);
    assert_int_equal(store_changes(st), 3);

    assert_int_not_equal(store_commit(st, &err), 0); /* no transaction */
    assert_false(store_in_transaction(st));
    assert_int_equal(store_begin(st, &err), 0);
    assert_true(store_in_transaction(st));
    assert_int_equal(store_q_get(st, bad, &q, &err), 0);
    store_q_int(q, 1, 1);
    assert_int_equal(store_q_run(q, &err), AD_ERR_STORE);
    int rc = store_commit(st, &err);
    if (rc == 0)
        fail_msg("commit after a failed statement: got 0, want an error");
    assert_false(store_in_transaction(st));

    /* Savepoints as incident.c uses them. */
    assert_int_equal(store_begin(st, &err), 0);
    assert_int_equal(store_exec(st, "SAVEPOINT t", &err), 0);
    assert_int_equal(store_q_get(st, bad, &q, &err), 0);
    store_q_int(q, 1, 1);
    assert_int_equal(store_q_run(q, &err), AD_ERR_STORE);
    assert_int_equal(store_exec(st, "ROLLBACK TO t", &err), 0);
    assert_int_equal(store_exec(st, "RELEASE t", &err), 0);
    assert_int_equal(store_commit(st, &err), 0);

    /* A savepoint outside a transaction begins one, and releasing it commits,
     * as in SQLite (intake.c and incident.c rely on it). */
    assert_int_equal(store_exec(st, "SAVEPOINT whole", &err), 0);
    assert_true(store_in_transaction(st));
    assert_int_equal(store_q_get(st, ins, &q, &err), 0);
    store_q_int(q, 1, 2000);
    store_q_text(q, 2, "savepoint");
    assert_int_equal(store_q_run(q, &err), 0);
    assert_int_equal(store_exec(st, "RELEASE whole", &err), 0);
    assert_false(store_in_transaction(st));
    PGconn *o = other();
    PGresult *r = PQexec(o, "SELECT COUNT(*) FROM audit WHERE actor = 'savepoint'");
    assert_string_equal(PQgetvalue(r, 0, 0), "1");
    PQclear(r);
    PQfinish(o);
    store_close(st);
}

static void test_pg_lock_timeout_busy(void **state)
{
    (void)state;
    NEED_PG();
    struct store *st = open_pg(200);
    PGconn *o = other();
    other_exec(o, "BEGIN");
    other_exec(o, "LOCK TABLE reports IN ACCESS EXCLUSIVE MODE");
    struct ad_err err = { 0 };
    char sha[65];
    snprintf(sha, sizeof sha, "%064d", 7);
    int rc = store_report_find(st, sha, NULL, &err);
    if (rc != AD_ERR_BUSY)
        fail_msg("find while locked: got %d (%s), want AD_ERR_BUSY", rc, err.msg);
    /* A writer waits for another's transaction like SQLite's BEGIN IMMEDIATE. */
    other_exec(o, "ROLLBACK");
    other_exec(o, "BEGIN");
    other_exec(o, "SELECT pg_advisory_xact_lock(1633842547)");
    rc = store_begin(st, &err);
    if (rc != AD_ERR_BUSY)
        fail_msg("begin while another writes: got %d (%s), want AD_ERR_BUSY", rc, err.msg);
    assert_false(store_in_transaction(st));
    other_exec(o, "ROLLBACK");
    assert_int_equal(store_begin(st, &err), 0);
    assert_int_equal(store_commit(st, &err), 0);
    PQfinish(o);
    store_close(st);
}

static int64_t version_of(struct store *st)
{
    int64_t v = -1;
    struct ad_err err = { 0 };
    int rc = store_data_version(st, &v, &err);
    if (rc != 0)
        fail_msg("data version: got %d (%s), want 0", rc, err.msg);
    return v;
}

static void test_pg_data_version(void **state)
{
    (void)state;
    NEED_PG();
    struct store *st = open_pg(1000);
    int64_t v0 = version_of(st);
    assert_int_equal(version_of(st), v0); /* nothing happened */
    PGconn *o = other();
    other_exec(o, "INSERT INTO locks (subject_kind, subject, locked_at, locked_by)"
                  " VALUES ('account', 'a@example.net', 1, 'test')");
    int64_t v1 = v0;
    for (int i = 0; i < 50 && v1 == v0; i++) {
        usleep(20000);
        v1 = version_of(st);
    }
    if (v1 == v0)
        fail_msg("after another session locked: version got %lld, want a change",
                 (long long)v1);
    other_exec(o, "INSERT INTO audit (at, actor, action) VALUES (1, 'x', 'y')");
    usleep(100000);
    assert_int_equal(version_of(st), v1); /* other tables do not count */
    PQfinish(o);
    store_close(st);
}

static void test_pg_reconnect(void **state)
{
    (void)state;
    NEED_PG();
    struct store *st = open_pg(1000);
    static const char sel[] = "SELECT COUNT(*) FROM reports WHERE kind = $1";
    struct ad_err err = { 0 };
    struct store_q *q;
    assert_int_equal(store_q_get(st, sel, &q, &err), 0);
    store_q_text(q, 1, "arf");
    assert_int_equal(store_q_step(q, &err), 1);
    store_q_reset(q);
    int64_t v0 = version_of(st);

    PGconn *o = other();
    other_exec(o, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                  " WHERE datname = current_database() AND pid <> pg_backend_pid()");
    PQfinish(o);
    usleep(100000);
    /* The first use finds the connection gone: retry later. */
    int rc = store_q_get(st, sel, &q, &err);
    if (rc == 0) {
        store_q_text(q, 1, "arf");
        rc = store_q_step(q, &err);
    }
    if (rc != AD_ERR_BUSY)
        fail_msg("after the server closed the connection: got %d (%s), want AD_ERR_BUSY", rc,
                 err.msg);
    /* The next reconnects and prepares the statement again. */
    assert_int_equal(store_q_get(st, sel, &q, &err), 0);
    store_q_text(q, 1, "arf");
    rc = store_q_step(q, &err);
    if (rc != 1)
        fail_msg("after reconnecting: got %d (%s), want a row", rc, err.msg);
    store_q_reset(q);
    if (version_of(st) == v0)
        fail_msg("after reconnecting: data version unchanged, want a change (caches re-read)");

    /* Lost inside a transaction: the rest of it fails until the rollback. */
    assert_int_equal(store_begin(st, &err), 0);
    o = other();
    other_exec(o, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                  " WHERE datname = current_database() AND pid <> pg_backend_pid()");
    PQfinish(o);
    usleep(100000);
    assert_int_equal(store_exec(st, "SELECT 1", &err), AD_ERR_BUSY);
    assert_int_equal(store_exec(st, "SELECT 1", &err), AD_ERR_BUSY);
    assert_true(store_in_transaction(st));
    store_rollback(st);
    assert_int_equal(store_exec(st, "SELECT 1", &err), 0);
    store_close(st);
}

static void test_pg_cfg_dispatch(void **state)
{
    (void)state;
    struct store *st = NULL;
    struct ad_err err = { 0 };
    int rc = store_open_with("postgresql", "/nonexistent/x.db",
                             "host=127.0.0.1 port=1 dbname=x connect_timeout=5", 100, &st, &err);
    if (rc != AD_ERR_BUSY || st)
        fail_msg("no server: got %d (%s), want AD_ERR_BUSY", rc, err.msg);
    rc = store_open_with("mysql", "x", "", 100, &st, &err);
    assert_int_equal(rc, AD_ERR_CONFIG);
}

#define T(fn) cmocka_unit_test(fn)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_pg_schema),       T(test_pg_raw_roundtrip), T(test_pg_ids_changes_tx),
        T(test_pg_lock_timeout_busy), T(test_pg_data_version), T(test_pg_reconnect),
        T(test_pg_cfg_dispatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

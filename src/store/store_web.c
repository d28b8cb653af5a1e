/*
 * store_web.c: users, API tokens and sessions of the dashboard, and the counts
 * its metrics and charts show (see store_web.h). Called by `abusedesk user`,
 * `abusedesk token` and the web process. Rows are copied out of the statement
 * before a callback runs, so no read snapshot stays open while the caller
 * renders a page.
 */
#include "store_web.h"

#include <glib.h>
#include <string.h>

#include "store/store_q.h"

#define USER_COLS "u.id, u.name, u.role, u.pwhash, u.created_at, COALESCE(u.last_login, 0)"

static const char sql_user_add[] =
    "INSERT INTO web_users (name, role, pwhash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)"
    " ON CONFLICT (name) DO NOTHING RETURNING id";
static const char sql_user_get[] = "SELECT " USER_COLS " FROM web_users u WHERE u.name = $1";
static const char sql_user_each[] =
    "SELECT " USER_COLS ", (SELECT COUNT(*) FROM web_tokens t WHERE t.user_id = u.id)"
    " FROM web_users u ORDER BY u.name";
static const char sql_user_count[] = "SELECT COUNT(*) FROM web_users";
static const char sql_user_del_tokens[] =
    "DELETE FROM web_tokens WHERE user_id IN (SELECT id FROM web_users WHERE name = $1)";
static const char sql_user_del_sessions[] =
    "DELETE FROM web_sessions WHERE user_id IN (SELECT id FROM web_users WHERE name = $1)";
static const char sql_user_del[] = "DELETE FROM web_users WHERE name = $1";
static const char sql_user_update[] =
    "UPDATE web_users SET pwhash = $2, role = COALESCE(CAST($3 AS TEXT), role), updated_at = $4"
    " WHERE name = $1";
static const char sql_user_login[] = "UPDATE web_users SET last_login = $2 WHERE id = $1";
static const char sql_token_add[] =
    "INSERT INTO web_tokens (user_id, digest, created_at) VALUES ($1, $2, $3)";
static const char sql_token_user[] =
    "SELECT " USER_COLS " FROM web_tokens t JOIN web_users u ON u.id = t.user_id"
    " WHERE t.digest = $1";
static const char sql_session_add[] =
    "INSERT INTO web_sessions (user_id, digest, csrf, created_at, expires_at)"
    " VALUES ($1, $2, $3, $4, $5)";
static const char sql_session_get[] =
    "SELECT " USER_COLS ", s.csrf FROM web_sessions s JOIN web_users u ON u.id = s.user_id"
    " WHERE s.digest = $1 AND s.expires_at > $2";
static const char sql_session_del[] = "DELETE FROM web_sessions WHERE digest = $1";
static const char sql_session_purge[] = "DELETE FROM web_sessions WHERE expires_at <= $1";

/* One statement per count; columns: label a, label b (or NULL), count. */
static const char *const sql_counts[] = {
    [STORE_WEB_REPORTS] =
        "SELECT k, CAST(a AS TEXT), COUNT(*) FROM (SELECT r.kind AS k,"
        " COALESCE(s.authenticated, 0) AS a FROM reports r LEFT JOIN scores s"
        " ON s.report_id = r.id) t GROUP BY k, a ORDER BY k, a",
    [STORE_WEB_INCIDENTS] =
        "SELECT state, NULL, COUNT(*) FROM incidents GROUP BY state ORDER BY state",
    [STORE_WEB_LOCKS] =
        "SELECT subject_kind, NULL, COUNT(*) FROM locks WHERE unlocked_at IS NULL"
        " GROUP BY subject_kind ORDER BY subject_kind",
    [STORE_WEB_OUTBOX] =
        "SELECT st, NULL, COUNT(*) FROM (SELECT CASE WHEN sent_at IS NOT NULL THEN 'sent'"
        " WHEN failed <> 0 THEN 'failed' ELSE 'queued' END AS st FROM outbox) t"
        " GROUP BY st ORDER BY st",
    [STORE_WEB_HOOKS] =
        "SELECT st, NULL, COUNT(*) FROM (SELECT CASE WHEN done_at IS NOT NULL THEN 'done'"
        " WHEN failed <> 0 THEN 'failed' ELSE 'queued' END AS st FROM hook_jobs) t"
        " GROUP BY st ORDER BY st",
    [STORE_WEB_POLICY] =
        "SELECT stage, decided_by, COUNT(*) FROM policy_events GROUP BY stage, decided_by"
        " ORDER BY stage, decided_by",
    [STORE_WEB_RBL] =
        "SELECT zone, NULL, COUNT(*) FROM rbl_listings WHERE delisted_at IS NULL"
        " GROUP BY zone ORDER BY zone",
    [STORE_WEB_COMPLAINTS_HOURLY] =
        "SELECT p, CAST(h AS TEXT), COUNT(*) FROM (SELECT COALESCE(provider, 'unknown') AS p,"
        " at / 3600 AS h FROM scores WHERE at >= $1) t GROUP BY p, h ORDER BY h, p",
    [STORE_WEB_INCIDENTS_DAILY] =
        "SELECT CAST(d AS TEXT), NULL, COUNT(*) FROM (SELECT opened_at / 86400 AS d"
        " FROM incidents WHERE opened_at >= $1) t GROUP BY d ORDER BY d",
};

static void copy_str(char *dst, size_t size, const char *src)
{
    g_strlcpy(dst, src ? src : "", size);
}

static void read_user(struct store_q *q, struct store_web_user *u)
{
    memset(u, 0, sizeof *u);
    u->id = store_q_col_int(q, 0);
    copy_str(u->name, sizeof u->name, store_q_col_text(q, 1));
    copy_str(u->role, sizeof u->role, store_q_col_text(q, 2));
    copy_str(u->pwhash, sizeof u->pwhash, store_q_col_text(q, 3));
    u->created_at = store_q_col_int(q, 4);
    u->last_login = store_q_col_int(q, 5);
}

/* Runs q (bound) expecting at most one user row: 0 with *u, AD_ERR_NOTFOUND. */
static int one_user(struct store_q *q, struct store_web_user *u, char *csrf, const char *what,
                    struct ad_err *err)
{
    int rc = store_q_step(q, err);
    if (rc == 1) {
        read_user(q, u);
        if (csrf)
            copy_str(csrf, STORE_WEB_DIGEST_HEX, store_q_col_text(q, 6));
    }
    store_q_reset(q);
    if (rc < 0)
        return rc;
    return rc == 1 ? 0 : ad_err_set(err, AD_ERR_NOTFOUND, "%s", what);
}

int store_web_user_add(struct store *st, const char *name, const char *role, const char *pwhash,
                       int64_t now, int64_t *id, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_user_add, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, name);
    store_q_text(q, 2, role);
    store_q_text(q, 3, pwhash);
    store_q_int(q, 4, now);
    rc = store_q_step(q, err);
    if (rc == 1 && id)
        *id = store_q_col_int(q, 0);
    store_q_reset(q);
    if (rc < 0)
        return rc;
    return rc == 1 ? 0 : ad_err_set(err, AD_ERR_REFUSED, "user %s exists", name);
}

int store_web_user_get(struct store *st, const char *name, struct store_web_user *u,
                       struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_user_get, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, name);
    return one_user(q, u, NULL, "no such user", err);
}

int store_web_user_each(struct store *st, int (*fn)(const struct store_web_user *u, void *ctx),
                        void *ctx, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_user_each, &q, err);
    if (rc)
        return rc;
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(struct store_web_user));
    while ((rc = store_q_step(q, err)) == 1) {
        struct store_web_user u;
        read_user(q, &u);
        u.n_tokens = store_q_col_int(q, 6);
        g_array_append_val(rows, u);
    }
    store_q_reset(q);
    for (guint i = 0; rc == 0 && i < rows->len; i++)
        if (fn(&g_array_index(rows, struct store_web_user, i), ctx))
            break;
    g_array_free(rows, TRUE);
    return rc < 0 ? rc : 0;
}

int store_web_user_count(struct store *st, int64_t *n, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_user_count, &q, err);
    if (rc)
        return rc;
    rc = store_q_step(q, err);
    *n = rc == 1 ? store_q_col_int(q, 0) : 0;
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

/* Runs one statement bound to name alone. */
static int run_name(struct store *st, const char *sql, const char *name, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, name);
    return store_q_run(q, err);
}

int store_web_user_del(struct store *st, const char *name, struct ad_err *err)
{
    int rc = store_begin(st, err);
    if (rc)
        return rc;
    if ((rc = run_name(st, sql_user_del_tokens, name, err)) == 0
        && (rc = run_name(st, sql_user_del_sessions, name, err)) == 0
        && (rc = run_name(st, sql_user_del, name, err)) == 0 && store_changes(st) == 0)
        rc = ad_err_set(err, AD_ERR_NOTFOUND, "no such user");
    if (rc) {
        store_rollback(st);
        return rc;
    }
    return store_commit(st, err);
}

int store_web_user_update(struct store *st, const char *name, const char *pwhash,
                          const char *role, int64_t now, struct ad_err *err)
{
    int rc = store_begin(st, err);
    if (rc)
        return rc;
    struct store_q *q;
    if ((rc = store_q_get(st, sql_user_update, &q, err)) == 0) {
        store_q_text(q, 1, name);
        store_q_text(q, 2, pwhash);
        store_q_text(q, 3, role);
        store_q_int(q, 4, now);
        rc = store_q_run(q, err);
        if (rc == 0 && store_changes(st) == 0)
            rc = ad_err_set(err, AD_ERR_NOTFOUND, "no such user");
    }
    /* A new password ends every session opened with the old one. */
    if (rc == 0)
        rc = run_name(st, sql_user_del_sessions, name, err);
    if (rc) {
        store_rollback(st);
        return rc;
    }
    return store_commit(st, err);
}

int store_web_user_logged_in(struct store *st, int64_t user_id, int64_t now, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_user_login, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, user_id);
    store_q_int(q, 2, now);
    return store_q_run(q, err);
}

int store_web_token_add(struct store *st, int64_t user_id, const char *digest, int64_t now,
                        struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_token_add, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, user_id);
    store_q_text(q, 2, digest);
    store_q_int(q, 3, now);
    return store_q_run(q, err);
}

int store_web_token_user(struct store *st, const char *digest, struct store_web_user *u,
                         struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_token_user, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, digest);
    return one_user(q, u, NULL, "unknown token", err);
}

int store_web_session_add(struct store *st, int64_t user_id, const char *digest,
                          const char *csrf, int64_t now, int64_t expires_at, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_session_add, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, user_id);
    store_q_text(q, 2, digest);
    store_q_text(q, 3, csrf);
    store_q_int(q, 4, now);
    store_q_int(q, 5, expires_at);
    return store_q_run(q, err);
}

int store_web_session_get(struct store *st, const char *digest, int64_t now,
                          struct store_web_user *u, char *csrf, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_session_get, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, digest);
    store_q_int(q, 2, now);
    return one_user(q, u, csrf, "no such session", err);
}

int store_web_session_del(struct store *st, const char *digest, struct ad_err *err)
{
    return run_name(st, sql_session_del, digest, err);
}

int store_web_session_purge(struct store *st, int64_t now, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_session_purge, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, now);
    return store_q_run(q, err);
}

struct count_row {
    char *a, *b;
    int64_t n;
};

int store_web_counts(struct store *st, enum store_web_count which, int64_t since,
                     void (*fn)(const char *a, const char *b, int64_t n, void *ctx), void *ctx,
                     struct ad_err *err)
{
    if ((size_t)which >= G_N_ELEMENTS(sql_counts))
        return ad_err_set(err, AD_ERR_USAGE, "no such count");
    const char *sql = sql_counts[which];
    struct store_q *q;
    int rc = store_q_get(st, sql, &q, err);
    if (rc)
        return rc;
    if (strstr(sql, "$1"))
        store_q_int(q, 1, since);
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(struct count_row));
    while ((rc = store_q_step(q, err)) == 1) {
        struct count_row r = { g_strdup(store_q_col_text(q, 0)), g_strdup(store_q_col_text(q, 1)),
                               store_q_col_int(q, 2) };
        g_array_append_val(rows, r);
    }
    store_q_reset(q);
    for (guint i = 0; i < rows->len; i++) {
        struct count_row *r = &g_array_index(rows, struct count_row, i);
        if (rc == 0)
            fn(r->a ? r->a : "", r->b, r->n, ctx);
        g_free(r->a);
        g_free(r->b);
    }
    g_array_free(rows, TRUE);
    return rc < 0 ? rc : 0;
}

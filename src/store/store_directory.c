/*
 * store_directory.c: the customer directory's tables (see store_directory.h).
 * Called by src/directory/directory.c, inside the import's transaction for
 * the upserts. Portable SQL (SQLite >= 3.24 and PostgreSQL). Errors are the
 * store's (AD_ERR_BUSY when locked: retry later); every statement is reset as
 * soon as its rows are read. Strings handed out are g_malloc'd and the
 * caller's; those handed to callbacks are borrowed for the call.
 */
#include "store/store_directory.h"

#include <glib.h>

#include "store/store_args.h"

static const char sql_customer_upsert[] =
    "INSERT INTO customers (id, name, contact_email, language, updated_at)"
    " VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (id) DO UPDATE SET name = $2, contact_email = $3, language = $4,"
    " updated_at = $5"
    " WHERE customers.name <> $2 OR customers.contact_email <> $3"
    " OR customers.language <> $4";

static const char sql_account_upsert[] =
    "INSERT INTO accounts (name, customer_id) VALUES ($1, $2)"
    " ON CONFLICT (name) DO UPDATE SET customer_id = $2";

static const char sql_domain_upsert[] =
    "INSERT INTO domains (domain, customer_id) VALUES ($1, $2)"
    " ON CONFLICT (domain) DO UPDATE SET customer_id = $2";

static const char sql_uid_upsert[] =
    "INSERT INTO scripts (uid, path, customer_id, webroot) VALUES ($1, '', $2, $3)"
    " ON CONFLICT (uid, path) DO UPDATE SET customer_id = $2,"
    " webroot = CASE WHEN $3 IS NOT NULL THEN $3"
    " WHEN scripts.customer_id = $2 THEN scripts.webroot END";

static const char sql_account_get[] = "SELECT customer_id FROM accounts WHERE name = $1";

static const char sql_domain_get[] = "SELECT customer_id FROM domains WHERE domain = $1";

static const char sql_uid_get[] = "SELECT customer_id FROM scripts WHERE uid = $1 AND path = ''";

static const char sql_uid_webroot_get[] =
    "SELECT customer_id, webroot FROM scripts WHERE uid = $1 AND path = ''";

static const char sql_contact_own_account[] =
    "SELECT c.contact_email FROM customers c JOIN accounts a"
    " ON a.name = c.contact_email AND a.customer_id = c.id WHERE c.id = $1";

static const char sql_contact_set[] =
    "UPDATE customers SET contact_email = $2, updated_at = $3 WHERE id = $1";

static const char sql_customer_get[] =
    "SELECT id, name, contact_email, language FROM customers WHERE id = $1";

static const char sql_customer_accounts[] =
    "SELECT name FROM accounts WHERE customer_id = $1 ORDER BY name";

static const char sql_customer_domains[] =
    "SELECT domain FROM domains WHERE customer_id = $1 ORDER BY domain";

static const char sql_customer_scripts[] =
    "SELECT uid, path FROM scripts WHERE customer_id = $1"
    " ORDER BY length(uid), uid, path";

int store_directory_customer_put(struct store *st, const char *id, const char *name,
                                 const char *contact_email, const char *language, int64_t now,
                                 struct ad_err *err)
{
    return store_run(st, sql_customer_upsert,
                     ARGS(A_TEXT(id), A_TEXT(name), A_TEXT(contact_email), A_TEXT(language),
                          A_INT(now)),
                     err);
}

int store_directory_account_put(struct store *st, const char *account, const char *customer_id,
                                struct ad_err *err)
{
    return store_run(st, sql_account_upsert, ARGS(A_TEXT(account), A_TEXT(customer_id)), err);
}

int store_directory_domain_put(struct store *st, const char *domain, const char *customer_id,
                               struct ad_err *err)
{
    return store_run(st, sql_domain_upsert, ARGS(A_TEXT(domain), A_TEXT(customer_id)), err);
}

int store_directory_uid_put(struct store *st, const char *uid, const char *customer_id,
                            const char *webroot, struct ad_err *err)
{
    return store_run(st, sql_uid_upsert, ARGS(A_TEXT(uid), A_TEXT(customer_id), A_TEXT(webroot)),
                     err);
}

int store_directory_lookup(struct store *st, enum store_directory_lookup what, const char *key,
                           char **out, struct ad_err *err)
{
    static const char *const sql[] = {
        [STORE_DIRECTORY_ACCOUNT] = sql_account_get,
        [STORE_DIRECTORY_DOMAIN] = sql_domain_get,
        [STORE_DIRECTORY_UID] = sql_uid_get,
        [STORE_DIRECTORY_OWN_CONTACT] = sql_contact_own_account,
    };
    int rc = store_first_text(st, sql[what], ARGS(A_TEXT(key)), out, err);
    return rc < 0 ? rc : 0;
}

int store_directory_uid_webroot(struct store *st, const char *uid, char **customer_id,
                                char **webroot, struct ad_err *err)
{
    *customer_id = *webroot = NULL;
    struct store_q *q;
    int rc = store_q_get(st, sql_uid_webroot_get, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, uid);
    if ((rc = store_q_step(q, err)) == 1) {
        *customer_id = g_strdup(store_q_col_text(q, 0));
        const char *w = store_q_col_null(q, 1) ? NULL : store_q_col_text(q, 1);
        *webroot = w && *w ? g_strdup(w) : NULL;
        rc = 0;
    }
    store_q_reset(q);
    return rc;
}

int store_directory_contact_set(struct store *st, const char *id, const char *contact_email,
                                int64_t now, struct ad_err *err)
{
    return store_run(st, sql_contact_set, ARGS(A_TEXT(id), A_TEXT(contact_email), A_INT(now)),
                     err);
}

int store_directory_customer_get(struct store *st, const char *id,
                                 struct store_directory_customer *out, struct ad_err *err)
{
    *out = (struct store_directory_customer){ 0 };
    struct store_q *q;
    int rc = store_q_get(st, sql_customer_get, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, id);
    rc = store_q_step(q, err);
    if (rc == 1) {
        out->id = g_strdup(store_q_col_text(q, 0));
        out->name = g_strdup(store_q_col_text(q, 1));
        out->contact_email = g_strdup(store_q_col_text(q, 2));
        out->language = g_strdup(store_q_col_text(q, 3));
        rc = 0;
    } else if (rc == 0) {
        rc = ad_err_set(err, AD_ERR_NOTFOUND, "customer '%s' is not in the directory", id);
    }
    store_q_reset(q);
    return rc;
}

int store_directory_owned_each(struct store *st, const char *id,
                               void (*fn)(const char *kind, const char *value, void *ctx),
                               void *ctx, struct ad_err *err)
{
    static const struct {
        const char *sql, *kind;
    } lists[] = {
        { sql_customer_accounts, "account" },
        { sql_customer_domains, "domain" },
        { sql_customer_scripts, "uid" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(lists); i++) {
        struct store_q *q;
        int rc = store_q_get(st, lists[i].sql, &q, err);
        if (rc)
            return rc;
        store_q_text(q, 1, id);
        while ((rc = store_q_step(q, err)) == 1) {
            const char *v = store_q_col_text(q, 0);
            if (lists[i].sql == sql_customer_scripts) {
                const char *path = store_q_col_text(q, 1);
                if (path && *path) {
                    char *script = g_strdup_printf("%s:%s", v ? v : "", path);
                    fn("script", script, ctx);
                    g_free(script);
                    continue;
                }
            }
            fn(lists[i].kind, v ? v : "", ctx);
        }
        store_q_reset(q);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * sql_directory.c: the statements of src/directory/directory.c (see sql_directory.h).
 */
#include "store/sql_directory.h"

const char directory_sql_customer_upsert[] =
    "INSERT INTO customers (id, name, contact_email, language, updated_at)"
    " VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (id) DO UPDATE SET name = $2, contact_email = $3, language = $4,"
    " updated_at = $5"
    " WHERE customers.name <> $2 OR customers.contact_email <> $3"
    " OR customers.language <> $4";

const char directory_sql_account_upsert[] =
    "INSERT INTO accounts (name, customer_id) VALUES ($1, $2)"
    " ON CONFLICT (name) DO UPDATE SET customer_id = $2";

const char directory_sql_domain_upsert[] =
    "INSERT INTO domains (domain, customer_id) VALUES ($1, $2)"
    " ON CONFLICT (domain) DO UPDATE SET customer_id = $2";

const char directory_sql_uid_upsert[] =
    "INSERT INTO scripts (uid, path, customer_id, webroot) VALUES ($1, '', $2, $3)"
    " ON CONFLICT (uid, path) DO UPDATE SET customer_id = $2,"
    " webroot = CASE WHEN $3 IS NOT NULL THEN $3"
    " WHEN scripts.customer_id = $2 THEN scripts.webroot END";

const char directory_sql_account_get[] = "SELECT customer_id FROM accounts WHERE name = $1";

const char directory_sql_domain_get[] = "SELECT customer_id FROM domains WHERE domain = $1";

const char directory_sql_uid_get[] = "SELECT customer_id FROM scripts WHERE uid = $1 AND path = ''";

const char directory_sql_uid_webroot_get[] = "SELECT customer_id, webroot FROM scripts WHERE uid = $1 AND path = ''";

const char directory_sql_contact_own_account[] =
    "SELECT c.contact_email FROM customers c JOIN accounts a"
    " ON a.name = c.contact_email AND a.customer_id = c.id WHERE c.id = $1";

const char directory_sql_contact_set[] = "UPDATE customers SET contact_email = $2, updated_at = $3 WHERE id = $1";

const char directory_sql_customer_get[] = "SELECT id, name, contact_email, language FROM customers WHERE id = $1";

const char directory_sql_customer_accounts[] = "SELECT name FROM accounts WHERE customer_id = $1 ORDER BY name";

const char directory_sql_customer_domains[] = "SELECT domain FROM domains WHERE customer_id = $1 ORDER BY domain";

const char directory_sql_customer_scripts[] =
    "SELECT uid, path FROM scripts WHERE customer_id = $1"
    " ORDER BY length(uid), uid, path";


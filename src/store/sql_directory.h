/*
 * sql_directory.h: the SQL text of src/directory/directory.c, which runs it through store_q.h
 * (prepared once per connection, cached by the text's address). Portable
 * SQL with $N placeholders for both backends; it lives here with the store.
 */
#ifndef AD_STORE_SQL_DIRECTORY_H
#define AD_STORE_SQL_DIRECTORY_H

extern const char directory_sql_customer_upsert[];
extern const char directory_sql_account_upsert[];
extern const char directory_sql_domain_upsert[];
extern const char directory_sql_uid_upsert[];
extern const char directory_sql_account_get[];
extern const char directory_sql_domain_get[];
extern const char directory_sql_uid_get[];
extern const char directory_sql_uid_webroot_get[];
extern const char directory_sql_contact_own_account[];
extern const char directory_sql_contact_set[];
extern const char directory_sql_customer_get[];
extern const char directory_sql_customer_accounts[];
extern const char directory_sql_customer_domains[];
extern const char directory_sql_customer_scripts[];

#endif

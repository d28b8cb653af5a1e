/*
 * store_sql.h: every SQL statement of the store, in one place, in portable SQL
 * (SQLite and PostgreSQL both accept it): $N placeholders numbered in order of
 * appearance, ON CONFLICT ... DO NOTHING, ISO 8601 text timestamps.
 */
#ifndef AD_STORE_SQL_H
#define AD_STORE_SQL_H

/* Versioned schema migrations, applied in order; index + 1 is the version. */
extern const char *const store_sql_migrations[];
extern const unsigned store_sql_n_migrations;

extern const char store_sql_version_table[];
extern const char store_sql_version_get[];
extern const char store_sql_version_set[];

extern const char store_sql_report_find[];
extern const char store_sql_report_insert[];
extern const char store_sql_report_get[];
extern const char store_sql_reports_all[];
extern const char store_sql_reports_kind[];
extern const char store_sql_reports_count[];

#endif

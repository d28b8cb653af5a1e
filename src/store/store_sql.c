/*
 * store_sql.c: the text of every SQL statement the store runs (see store_sql.h).
 * Kept apart from the SQLite glue so that another backend reuses the same text.
 */
#include "store_sql.h"

const char *const store_sql_migrations[] = {
    /* 1: reports with their raw message, parsed fields and status. */
    "CREATE TABLE reports ("
    "  id INTEGER PRIMARY KEY,"
    "  sha256 TEXT NOT NULL UNIQUE,"
    "  received_at TEXT NOT NULL,"
    "  source TEXT,"
    "  spool_path TEXT,"
    "  size BIGINT NOT NULL,"
    "  raw BLOB,"
    "  raw_encoding TEXT NOT NULL DEFAULT 'identity',"
    "  kind TEXT NOT NULL,"
    "  format TEXT,"
    "  feedback_type TEXT,"
    "  subject TEXT,"
    "  from_addr TEXT,"
    "  source_ip TEXT,"
    "  original_message_id TEXT,"
    "  parsed TEXT NOT NULL,"
    "  status TEXT NOT NULL"
    ");"
    "CREATE INDEX reports_kind ON reports (kind, id);"
    "CREATE INDEX reports_orig_msgid ON reports (original_message_id);",
};
const unsigned store_sql_n_migrations = sizeof(store_sql_migrations) / sizeof(store_sql_migrations[0]);

const char store_sql_version_table[] =
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)";
const char store_sql_version_get[] = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
const char store_sql_version_set[] = "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)";

const char store_sql_report_find[] = "SELECT id FROM reports WHERE sha256 = $1";
const char store_sql_report_insert[] =
    "INSERT INTO reports (sha256, received_at, source, spool_path, size, raw, raw_encoding,"
    " kind, format, feedback_type, subject, from_addr, source_ip, original_message_id,"
    " parsed, status)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    " ON CONFLICT (sha256) DO NOTHING";

#define REPORT_COLS_BASE \
    "id, sha256, received_at, source, kind, format, feedback_type, subject, from_addr," \
    " source_ip, status, parsed, spool_path, size, "
#define REPORT_COLS REPORT_COLS_BASE "raw, raw_encoding"
/* Listings skip the raw message: it is only read for one report at a time. */
#define REPORT_COLS_LIST REPORT_COLS_BASE "NULL, raw_encoding"

const char store_sql_report_get[] = "SELECT " REPORT_COLS " FROM reports WHERE id = $1";
const char store_sql_reports_all[] =
    "SELECT " REPORT_COLS_LIST " FROM reports ORDER BY id DESC LIMIT $1";
const char store_sql_reports_kind[] =
    "SELECT " REPORT_COLS_LIST " FROM reports WHERE kind = $1 ORDER BY id DESC LIMIT $2";
const char store_sql_reports_count[] =
    "SELECT kind, COUNT(*) FROM reports GROUP BY kind ORDER BY kind";

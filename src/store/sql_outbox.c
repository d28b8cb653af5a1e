/*
 * sql_outbox.c: the statements of src/act/outbox.c (see sql_outbox.h).
 */
#include "store/sql_outbox.h"

const char outbox_sql_mail_insert[] =
    "INSERT INTO outbox (incident_id, kind, template, rcpt, subject, message_id, message,"
    " created_at, next_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)";

const char outbox_sql_hook_insert[] =
    "INSERT INTO hook_jobs (incident_id, kind, event, payload, idem_key, created_at, next_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (idem_key) DO NOTHING";

const char outbox_sql_mail_due[] =
    "SELECT id FROM outbox WHERE sent_at IS NULL AND failed = 0 AND next_at <= $1"
    " ORDER BY next_at, id LIMIT 100";

const char outbox_sql_mail_get[] =
    "SELECT id, incident_id, rcpt, message, attempts, created_at, sent_at, failed, kind, template"
    " FROM outbox WHERE id = $1";

const char outbox_sql_mail_claim[] =
    "UPDATE outbox SET attempts = attempts + 1, next_at = $2 WHERE id = $1 AND sent_at IS NULL"
    " AND failed = 0 AND next_at <= $3";

const char outbox_sql_mail_done[] = "UPDATE outbox SET sent_at = $2, last_error = NULL WHERE id = $1";

const char outbox_sql_mail_error[] = "UPDATE outbox SET last_error = $2, failed = $3 WHERE id = $1";

const char outbox_sql_hook_due[] =
    "SELECT id FROM hook_jobs WHERE done_at IS NULL AND failed = 0 AND next_at <= $1"
    " ORDER BY next_at, id LIMIT 100";

const char outbox_sql_hook_get[] =
    "SELECT id, incident_id, kind, event, payload, idem_key, attempts, created_at, done_at, failed"
    " FROM hook_jobs WHERE id = $1";

const char outbox_sql_hook_claim[] =
    "UPDATE hook_jobs SET attempts = attempts + 1, next_at = $2 WHERE id = $1 AND done_at IS NULL"
    " AND failed = 0 AND next_at <= $3";

const char outbox_sql_hook_done[] = "UPDATE hook_jobs SET done_at = $2, last_error = NULL WHERE id = $1";

const char outbox_sql_hook_error[] = "UPDATE hook_jobs SET last_error = $2, failed = $3 WHERE id = $1";

const char outbox_sql_list_mails[] =
    "SELECT id, incident_id, template, rcpt, subject, attempts, next_at, last_error, created_at,"
    " sent_at, failed, bounced_at FROM outbox WHERE $1 = 1 OR (sent_at IS NULL AND failed = 0)"
    " OR bounced_at IS NOT NULL ORDER BY id DESC";

const char outbox_sql_list_hooks[] =
    "SELECT id, incident_id, kind, event, idem_key, attempts, next_at, last_error, created_at,"
    " done_at, failed FROM hook_jobs WHERE $1 = 1 OR (done_at IS NULL AND failed = 0)"
    " ORDER BY id DESC";


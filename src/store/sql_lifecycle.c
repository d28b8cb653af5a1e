/*
 * sql_lifecycle.c: the statements of src/act/lifecycle.c (see sql_lifecycle.h).
 */
#include "store/sql_lifecycle.h"

const char lifecycle_sql_get[] =
    "SELECT state, stage, subject_kind, subject, customer_id, account, locked_at,"
    " repeat_offender FROM incidents WHERE id = $1";

const char lifecycle_sql_set_state[] = "UPDATE incidents SET state = $2, updated_at = $3 WHERE id = $1";

const char lifecycle_sql_set_locked[] = "UPDATE incidents SET state = 'locked', locked_at = $2, updated_at = $2 WHERE id = $1";

const char lifecycle_sql_close[] = "UPDATE incidents SET state = $2, closed_at = $3, updated_at = $3 WHERE id = $1";

const char lifecycle_sql_lock_insert[] =
    "INSERT INTO locks (subject_kind, subject, customer_id, incident_id, reason, locked_at,"
    " locked_by) VALUES ($1, $2, $3, $4, $5, $6, $7)";

const char lifecycle_sql_lock_active_incident[] = "SELECT id FROM locks WHERE incident_id = $1 AND unlocked_at IS NULL ORDER BY id";

const char lifecycle_sql_lock_release[] = "UPDATE locks SET unlocked_at = $2, unlocked_by = $3, unlock_reason = $4 WHERE id = $1";

const char lifecycle_sql_lock_active_subject[] =
    "SELECT incident_id FROM locks WHERE subject = $1 AND unlocked_at IS NULL"
    " ORDER BY id DESC LIMIT 1";

const char lifecycle_sql_lock_latest_subject[] = "SELECT MAX(locked_at) FROM locks WHERE subject = $1";

const char lifecycle_sql_pw_changed_after[] =
    "SELECT at FROM password_events WHERE account = $1 AND at >= $2 AND refused = 0"
    " ORDER BY at LIMIT 1";

const char lifecycle_sql_pw_seen_before[] =
    "SELECT at FROM password_events WHERE account = $1 AND fingerprint = $2 AND at <= $3"
    " AND refused = 0 LIMIT 1";

const char lifecycle_sql_pw_insert[] =
    "INSERT INTO password_events (account, at, fingerprint, refused, recorded_at)"
    " VALUES ($1, $2, $3, $4, $5)";

const char lifecycle_sql_incidents_of_account[] =
    "SELECT id FROM incidents WHERE subject_kind = 'account' AND subject = $1"
    " AND state IN ('locked', 'customer_notified', 'customer_replied') ORDER BY id";

const char lifecycle_sql_incident_exists[] = "SELECT 1 FROM incidents WHERE id = $1";

const char lifecycle_sql_mark_processed[] = "UPDATE reports SET processed = 1 WHERE id = $1";

const char lifecycle_sql_complaints_of[] = "SELECT complaints FROM incidents WHERE id = $1";

const char lifecycle_sql_providers_of[] =
    "SELECT COUNT(DISTINCT s.provider) FROM incident_reports x JOIN scores s"
    " ON s.report_id = x.report_id WHERE x.incident_id = $1 AND s.counted = 1"
    " AND s.authenticated = 1";

const char lifecycle_sql_lock_reason[] = "SELECT reason, locked_by FROM locks WHERE incident_id = $1 ORDER BY id DESC LIMIT 1";

const char lifecycle_sql_account_locked[] =
    "SELECT 1 FROM locks WHERE subject_kind = 'account' AND lower(subject) = lower($1)"
    " AND unlocked_at IS NULL LIMIT 1";

const char lifecycle_sql_lock_adopt[] = "UPDATE locks SET incident_id = $2, customer_id = COALESCE(customer_id, $3) WHERE id = $1";

const char lifecycle_sql_outbox_by_own_msgid[] = "SELECT id, incident_id, kind FROM outbox WHERE message_id = $1";

const char lifecycle_sql_reply_contact[] =
    "SELECT c.contact_email FROM incidents i JOIN customers c ON c.id = i.customer_id"
    " WHERE i.id = $1";

const char lifecycle_sql_team_mail_due[] = "SELECT team_mail_at FROM incidents WHERE id = $1";

const char lifecycle_sql_team_mail_set[] = "UPDATE incidents SET team_mail_at = $2 WHERE id = $1";

const char lifecycle_sql_unverified_alerts[] = "SELECT COUNT(*) FROM audit WHERE action = 'unverified-alert' AND at > $1";

const char lifecycle_sql_customer_domain[] =
    "SELECT 1 FROM domains d JOIN incidents i ON i.customer_id = d.customer_id"
    " WHERE i.id = $1 AND d.domain = $2";

const char lifecycle_sql_reply_insert_v[] =
    "INSERT INTO incident_replies (incident_id, report_id, at, verdict) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (incident_id, report_id) DO NOTHING";

const char lifecycle_sql_notice_bounce[] = "UPDATE outbox SET bounced_at = $2, bounce_report = $3 WHERE id = $1 AND bounced_at IS NULL";

const char lifecycle_sql_account_listed[] = "SELECT 1 FROM accounts WHERE name = $1";

const char lifecycle_sql_policy_open_find[] =
    "SELECT id, stage, state FROM incidents WHERE subject_kind IN ('account', 'script')"
    " AND subject = $1"
    " AND state NOT IN ('resolved', 'dismissed', 'merged') ORDER BY id DESC LIMIT 1";

const char lifecycle_sql_policy_insert[] =
    "INSERT INTO incidents (subject_kind, subject, customer_id, account, state, stage,"
    " initial_score, score, complaints, repeat_offender, first_seen, last_seen, opened_at,"
    " updated_at, trusted) VALUES ("
    /* the milter's findings name scripts: "uid:path" */
    " CASE WHEN CAST($1 AS TEXT) LIKE '%:%' AND CAST($1 AS TEXT) NOT LIKE '%@%'"
    " THEN 'script' ELSE 'account' END, $1, $2,"
    " CASE WHEN CAST($1 AS TEXT) LIKE '%:%' AND CAST($1 AS TEXT) NOT LIKE '%@%'"
    " THEN NULL ELSE $1 END, $3, $4, 0, 0, 0, $6, $5, $5, $5, $5, 1)";

const char lifecycle_sql_policy_stage[] =
    "UPDATE incidents SET stage = $2, state = CASE WHEN state = 'open' THEN 'alerted' ELSE state"
    " END, updated_at = $3 WHERE id = $1";

const char lifecycle_sql_merge_reports[] =
    "INSERT INTO incident_reports (incident_id, report_id) SELECT $1, report_id"
    " FROM incident_reports WHERE incident_id = $2 ON CONFLICT (incident_id, report_id) DO NOTHING";

const char lifecycle_sql_merge_reports_del[] = "DELETE FROM incident_reports WHERE incident_id = $1";

const char lifecycle_sql_merge_replies[] =
    "INSERT INTO incident_replies (incident_id, report_id, at, verdict)"
    " SELECT $1, report_id, at, verdict FROM incident_replies WHERE incident_id = $2"
    " ON CONFLICT (incident_id, report_id) DO NOTHING";

const char lifecycle_sql_merge_replies_del[] = "DELETE FROM incident_replies WHERE incident_id = $1";

const char lifecycle_sql_merge_outbox[] = "UPDATE outbox SET incident_id = $1 WHERE incident_id = $2";

const char lifecycle_sql_merge_hooks[] = "UPDATE hook_jobs SET incident_id = $1 WHERE incident_id = $2";

const char lifecycle_sql_merge_locks[] = "UPDATE locks SET incident_id = $1 WHERE incident_id = $2";

const char lifecycle_sql_merge_close[] =
    "UPDATE incidents SET state = 'merged', merged_into = $2, closed_at = $3, updated_at = $3"
    " WHERE id = $1";

const char lifecycle_sql_merge_target[] =
    "UPDATE incidents SET stage = $2, trusted = CASE WHEN $3 = 1 THEN 1 ELSE trusted END,"
    " repeat_offender = CASE WHEN $4 = 1 THEN 1 ELSE repeat_offender END, updated_at = $5"
    " WHERE id = $1";

const char lifecycle_sql_merge_src[] = "SELECT trusted, repeat_offender FROM incidents WHERE id = $1";


/*
 * sql_incident.c: the statements of src/incident/incident.c (see sql_incident.h).
 */
#include "store/sql_incident.h"

const char incident_sql_processed[] = "SELECT processed FROM reports WHERE id = $1";

const char incident_sql_mark_processed[] = "UPDATE reports SET processed = 1 WHERE id = $1";

const char incident_sql_attr_insert[] =
    "INSERT INTO attributions (report_id, status, subject_kind, subject, account, script,"
    " customer_id, source_ip, reason, evidence) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    " ON CONFLICT (report_id) DO NOTHING";

const char incident_sql_dup_find[] =
    "SELECT report_id FROM scores WHERE dedup_key = $1 AND counted = 1 AND report_id <> $2"
    " ORDER BY report_id LIMIT 1";

const char incident_sql_score_insert[] =
    "INSERT INTO scores (report_id, total, counted, manual, provider, message_id, at, terms,"
    " authenticated, reporter_how, dedup_key)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (report_id) DO NOTHING";

const char incident_sql_complaint_insert[] =
    "INSERT INTO complaints (report_id, subject_kind, subject, at, score, counted, authenticated)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (report_id, subject_kind) DO NOTHING";

const char incident_sql_window[] =
    "SELECT COALESCE(SUM(score), 0), COUNT(*),"
    " COALESCE(SUM(CASE WHEN authenticated = 1 THEN score ELSE 0 END), 0),"
    " COALESCE(SUM(authenticated), 0) FROM complaints"
    " WHERE subject_kind = $1 AND subject = $2 AND at > $3 AND at <= $4 AND counted = 1"
    /* complaints a closed incident dealt with do not count again */
    " AND NOT EXISTS (SELECT 1 FROM incident_reports x JOIN incidents i ON i.id = x.incident_id"
    "   WHERE x.report_id = complaints.report_id AND (i.state IN ('resolved', 'dismissed')"
    "   OR complaints.at <= COALESCE(i.resolved_before, 0)))";

const char incident_sql_open_find[] =
    "SELECT id, stage FROM incidents WHERE subject_kind = $1 AND subject = $2"
    " AND state NOT IN ('resolved', 'dismissed', 'merged') ORDER BY id DESC LIMIT 1";

const char incident_sql_history[] =
    "SELECT id FROM incidents WHERE id <> $1 AND opened_at > $2 AND opened_at <= $6"
    " AND state = 'resolved' AND trusted = 1 AND subject_kind <> 'domain'"
    " AND ((customer_id IS NOT NULL AND customer_id = $3) OR (subject_kind = $4 AND subject = $5))"
    " ORDER BY id";

const char incident_sql_incident_insert[] =
    "INSERT INTO incidents (subject_kind, subject, customer_id, account, state, stage,"
    " initial_score, score, complaints, repeat_offender, first_seen, last_seen, opened_at,"
    " updated_at, trusted) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, $8, $9, $9, $9, $9, $10)";

const char incident_sql_incident_trusted[] = "UPDATE incidents SET trusted = 1 WHERE id = $1";

const char incident_sql_attach_window[] =
    "INSERT INTO incident_reports (incident_id, report_id)"
    " SELECT $1, c.report_id FROM complaints c"
    " WHERE c.subject_kind = $2 AND c.subject = $3 AND c.at > $4 AND c.at <= $5"
    " AND NOT EXISTS (SELECT 1 FROM incident_reports x WHERE x.report_id = c.report_id)"
    " ON CONFLICT (incident_id, report_id) DO NOTHING";

const char incident_sql_attach_one[] =
    "INSERT INTO incident_reports (incident_id, report_id) VALUES ($1, $2)"
    " ON CONFLICT (incident_id, report_id) DO NOTHING";

const char incident_sql_incident_sums[] =
    "SELECT COALESCE(SUM(CASE WHEN c.counted = 1 THEN c.score ELSE 0 END), 0),"
    " COALESCE(SUM(c.counted), 0), MIN(c.at), MAX(c.at)"
    " FROM incident_reports x CROSS JOIN complaints c"
    " WHERE x.incident_id = $1 AND c.report_id = x.report_id AND c.subject_kind = $2";

const char incident_sql_complaint_of[] =
    "SELECT score, counted, at FROM complaints WHERE report_id = $1 AND subject_kind = $2";

const char incident_sql_incident_add_one[] =
    "UPDATE incidents SET score = score + $2, complaints = complaints + $3,"
    " first_seen = CASE WHEN first_seen IS NULL OR first_seen > $4 THEN $4 ELSE first_seen END,"
    " last_seen = CASE WHEN last_seen IS NULL OR last_seen < $4 THEN $4 ELSE last_seen END,"
    " updated_at = $5 WHERE id = $1";

const char incident_sql_incident_touch[] = "UPDATE incidents SET updated_at = $2 WHERE id = $1";

const char incident_sql_incident_totals[] =
    "UPDATE incidents SET score = $2, complaints = $3, first_seen = $4, last_seen = $5,"
    " updated_at = $6 WHERE id = $1";

const char incident_sql_incident_stage[] =
    "UPDATE incidents SET stage = $2, state = CASE WHEN state = 'open' THEN $3 ELSE state END,"
    " updated_at = $4 WHERE id = $1";

const char incident_sql_reopen_find[] =
    "SELECT id, stage FROM incidents WHERE subject_kind = $1 AND subject = $2"
    " AND state = 'resolved' AND closed_at > $3 ORDER BY id DESC LIMIT 1";

const char incident_sql_reopen[] =
    "UPDATE incidents SET state = $2, stage = $4, resolved_before = closed_at, closed_at = NULL,"
    " updated_at = $3 WHERE id = $1";

const char incident_sql_incident_first_score[] = "UPDATE incidents SET initial_score = score WHERE id = $1";

const char incident_sql_audit_insert[] =
    "INSERT INTO audit (at, incident_id, report_id, actor, action, detail)"
    " VALUES ($1, $2, $3, $4, $5, $6)";

const char incident_sql_incident_get[] =
    "SELECT id, subject_kind, subject, customer_id, account, state, stage, initial_score,"
    " score, complaints, repeat_offender, first_seen, last_seen, opened_at, updated_at,"
    " closed_at, trusted FROM incidents WHERE id = $1";

const char incident_sql_incident_subjects[] =
    "SELECT r.subject, COUNT(*) AS n FROM incident_reports x JOIN reports r ON r.id = x.report_id"
    " WHERE x.incident_id = $1 AND r.subject IS NOT NULL GROUP BY r.subject"
    " ORDER BY n DESC, MIN(r.id)";

const char incident_sql_incident_providers[] =
    "SELECT CASE WHEN s.authenticated = 1 THEN s.provider"
    " ELSE s.provider || ' (unauthenticated)' END AS p, COUNT(*) AS n"
    " FROM incident_reports x JOIN scores s"
    " ON s.report_id = x.report_id WHERE x.incident_id = $1 AND s.provider IS NOT NULL"
    " GROUP BY p ORDER BY n DESC, p";

const char incident_sql_incident_manual[] =
    "SELECT COALESCE(SUM(CASE WHEN s.manual = 1 THEN 1 ELSE 0 END), 0),"
    " COALESCE(SUM(CASE WHEN s.manual = 0 THEN 1 ELSE 0 END), 0), COUNT(*)"
    " FROM incident_reports x JOIN scores s ON s.report_id = x.report_id"
    " WHERE x.incident_id = $1 AND s.counted = 1";

const char incident_sql_incident_reports[] =
    "SELECT r.id, s.at, s.total, s.counted, s.provider, r.subject, r.kind, r.feedback_type,"
    " s.authenticated, s.reporter_how"
    " FROM incident_reports x JOIN reports r ON r.id = x.report_id"
    " LEFT JOIN scores s ON s.report_id = r.id WHERE x.incident_id = $1 ORDER BY r.id";

const char incident_sql_incident_evidence[] =
    "SELECT a.evidence, a.reason, a.script, a.source_ip FROM incident_reports x"
    " JOIN attributions a ON a.report_id = x.report_id WHERE x.incident_id = $1"
    " ORDER BY x.report_id LIMIT 1";

const char incident_sql_incident_audit[] = "SELECT at, actor, action, detail, report_id FROM audit WHERE incident_id = $1 ORDER BY id";

const char incident_sql_incident_replies[] =
    "SELECT p.report_id, p.at, p.verdict, r.from_addr, r.subject FROM incident_replies p"
    " JOIN reports r ON r.id = p.report_id WHERE p.incident_id = $1 ORDER BY p.report_id";

const char incident_sql_incident_notices[] =
    "SELECT id, kind, template, rcpt, created_at, sent_at, failed, bounced_at, bounce_report"
    " FROM outbox WHERE incident_id = $1 ORDER BY id";

const char incident_sql_history_row[] = "SELECT id, subject_kind, subject, state, stage, opened_at, score FROM incidents WHERE id = $1";

const char incident_sql_incidents_all[] = "SELECT id FROM incidents ORDER BY id DESC";

const char incident_sql_incidents_open[] =
    "SELECT id FROM incidents WHERE state NOT IN ('resolved', 'dismissed', 'merged')"
    " ORDER BY id DESC";

const char incident_sql_incidents_state[] = "SELECT id FROM incidents WHERE state = $1 ORDER BY id DESC";


/*
 * sql_incident.h: the SQL text of src/incident/incident.c, which runs it through store_q.h
 * (prepared once per connection, cached by the text's address). Portable
 * SQL with $N placeholders for both backends; it lives here with the store.
 */
#ifndef AD_STORE_SQL_INCIDENT_H
#define AD_STORE_SQL_INCIDENT_H

extern const char incident_sql_processed[];
extern const char incident_sql_mark_processed[];
extern const char incident_sql_attr_insert[];
extern const char incident_sql_dup_find[];
extern const char incident_sql_score_insert[];
extern const char incident_sql_complaint_insert[];
extern const char incident_sql_window[];
extern const char incident_sql_open_find[];
extern const char incident_sql_history[];
extern const char incident_sql_incident_insert[];
extern const char incident_sql_incident_trusted[];
extern const char incident_sql_attach_window[];
extern const char incident_sql_attach_one[];
extern const char incident_sql_incident_sums[];
extern const char incident_sql_complaint_of[];
extern const char incident_sql_incident_add_one[];
extern const char incident_sql_incident_touch[];
extern const char incident_sql_incident_totals[];
extern const char incident_sql_incident_stage[];
extern const char incident_sql_reopen_find[];
extern const char incident_sql_reopen[];
extern const char incident_sql_incident_first_score[];
extern const char incident_sql_audit_insert[];
extern const char incident_sql_incident_get[];
extern const char incident_sql_incident_subjects[];
extern const char incident_sql_incident_providers[];
extern const char incident_sql_incident_manual[];
extern const char incident_sql_incident_reports[];
extern const char incident_sql_incident_evidence[];
extern const char incident_sql_incident_audit[];
extern const char incident_sql_incident_replies[];
extern const char incident_sql_incident_notices[];
extern const char incident_sql_history_row[];
extern const char incident_sql_incidents_all[];
extern const char incident_sql_incidents_open[];
extern const char incident_sql_incidents_state[];

#endif

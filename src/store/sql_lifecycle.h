/*
 * sql_lifecycle.h: the SQL text of src/act/lifecycle.c, which runs it through store_q.h
 * (prepared once per connection, cached by the text's address). Portable
 * SQL with $N placeholders for both backends; it lives here with the store.
 */
#ifndef AD_STORE_SQL_LIFECYCLE_H
#define AD_STORE_SQL_LIFECYCLE_H

extern const char lifecycle_sql_get[];
extern const char lifecycle_sql_set_state[];
extern const char lifecycle_sql_set_locked[];
extern const char lifecycle_sql_close[];
extern const char lifecycle_sql_lock_insert[];
extern const char lifecycle_sql_lock_active_incident[];
extern const char lifecycle_sql_lock_release[];
extern const char lifecycle_sql_lock_active_subject[];
extern const char lifecycle_sql_lock_latest_subject[];
extern const char lifecycle_sql_pw_changed_after[];
extern const char lifecycle_sql_pw_seen_before[];
extern const char lifecycle_sql_pw_insert[];
extern const char lifecycle_sql_incidents_of_account[];
extern const char lifecycle_sql_incident_exists[];
extern const char lifecycle_sql_mark_processed[];
extern const char lifecycle_sql_complaints_of[];
extern const char lifecycle_sql_providers_of[];
extern const char lifecycle_sql_lock_reason[];
extern const char lifecycle_sql_account_locked[];
extern const char lifecycle_sql_lock_adopt[];
extern const char lifecycle_sql_outbox_by_own_msgid[];
extern const char lifecycle_sql_reply_contact[];
extern const char lifecycle_sql_team_mail_due[];
extern const char lifecycle_sql_team_mail_set[];
extern const char lifecycle_sql_unverified_alerts[];
extern const char lifecycle_sql_customer_domain[];
extern const char lifecycle_sql_reply_insert_v[];
extern const char lifecycle_sql_notice_bounce[];
extern const char lifecycle_sql_account_listed[];
extern const char lifecycle_sql_policy_open_find[];
extern const char lifecycle_sql_policy_insert[];
extern const char lifecycle_sql_policy_stage[];
extern const char lifecycle_sql_merge_reports[];
extern const char lifecycle_sql_merge_reports_del[];
extern const char lifecycle_sql_merge_replies[];
extern const char lifecycle_sql_merge_replies_del[];
extern const char lifecycle_sql_merge_outbox[];
extern const char lifecycle_sql_merge_hooks[];
extern const char lifecycle_sql_merge_locks[];
extern const char lifecycle_sql_merge_close[];
extern const char lifecycle_sql_merge_target[];
extern const char lifecycle_sql_merge_src[];

#endif

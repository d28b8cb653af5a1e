/*
 * sql_outbox.h: the SQL text of src/act/outbox.c, which runs it through store_q.h
 * (prepared once per connection, cached by the text's address). Portable
 * SQL with $N placeholders for both backends; it lives here with the store.
 */
#ifndef AD_STORE_SQL_OUTBOX_H
#define AD_STORE_SQL_OUTBOX_H

extern const char outbox_sql_mail_insert[];
extern const char outbox_sql_hook_insert[];
extern const char outbox_sql_mail_due[];
extern const char outbox_sql_mail_get[];
extern const char outbox_sql_mail_claim[];
extern const char outbox_sql_mail_done[];
extern const char outbox_sql_mail_error[];
extern const char outbox_sql_hook_due[];
extern const char outbox_sql_hook_get[];
extern const char outbox_sql_hook_claim[];
extern const char outbox_sql_hook_done[];
extern const char outbox_sql_hook_error[];
extern const char outbox_sql_list_mails[];
extern const char outbox_sql_list_hooks[];

#endif

/*
 * sql_cli_desk.h: the SQL text of src/cli/cmd_desk.c, which runs it through store_q.h
 * (prepared once per connection, cached by the text's address). Portable
 * SQL with $N placeholders for both backends; it lives here with the store.
 */
#ifndef AD_STORE_SQL_CLI_DESK_H
#define AD_STORE_SQL_CLI_DESK_H

extern const char cli_desk_sql_explain_attr[];
extern const char cli_desk_sql_explain_score[];
extern const char cli_desk_sql_explain_senders[];
extern const char cli_desk_sql_explain_incident[];

#endif

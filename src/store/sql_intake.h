/*
 * sql_intake.h: the SQL text of src/intake/intake.c, which runs it through store_q.h
 * (prepared once per connection, cached by the text's address). Portable
 * SQL with $N placeholders for both backends; it lives here with the store.
 */
#ifndef AD_STORE_SQL_INTAKE_H
#define AD_STORE_SQL_INTAKE_H

extern const char intake_sql_mark_done[];
extern const char intake_sql_pending[];

#endif

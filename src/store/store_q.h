/*
 * store_q.h: prepared statements for the desk's own tables (directory,
 * attributions, scores, complaints, incidents, audit). Modules above the store
 * keep their SQL text in one *_sql.c file per module, in portable SQL with $N
 * placeholders, and run it only through these calls, so that a PostgreSQL backend
 * can implement the same interface. Statements are prepared once per store and
 * cached by the address of their text: pass the same static string every time.
 */
#ifndef AD_STORE_Q_H
#define AD_STORE_Q_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

struct store_q;

/* The cached statement for sql (a static string), reset, with its bindings
 * cleared. Borrowed: owned by st, valid until store_close(). Not reentrant: do not
 * hold two uses of the same text at once. */
int store_q_get(struct store *st, const char *sql, struct store_q **q, struct ad_err *err);

/* Bind parameter $n (1-based). A NULL string binds SQL NULL. */
void store_q_text(struct store_q *q, int n, const char *s);
void store_q_int(struct store_q *q, int n, int64_t v);
void store_q_double(struct store_q *q, int n, double v);
void store_q_null(struct store_q *q, int n);

/* Runs one step: 1 when a row is ready, 0 when done, a negative AD_ERR_* code on
 * failure (AD_ERR_BUSY when the database is locked: retry later). */
int store_q_step(struct store_q *q, struct ad_err *err);

/* Ends the statement's current use (releases its read snapshot): call after
 * reading the rows you need and before a long wait or another transaction. */
void store_q_reset(struct store_q *q);

/* Runs a statement that returns no rows to its end. */
int store_q_run(struct store_q *q, struct ad_err *err);

/* Column values of the current row (0-based). Text is borrowed until the next
 * step or reset; NULL for SQL NULL. */
const char *store_q_col_text(struct store_q *q, int col);
int64_t store_q_col_int(struct store_q *q, int col);
double store_q_col_double(struct store_q *q, int col);
bool store_q_col_null(struct store_q *q, int col);

/* Rowid of the last insert on this connection. */
int64_t store_last_id(struct store *st);

/* Runs fixed SQL text without parameters (SAVEPOINT, RELEASE, ...). */
int store_exec(struct store *st, const char *sql, struct ad_err *err);

/* True inside an open transaction. */
bool store_in_transaction(struct store *st);

/* Rows changed by the last statement. */
int store_changes(struct store *st);

#endif

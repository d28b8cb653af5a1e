/*
 * store_q.h: prepared statements for the desk's own tables (directory,
 * attributions, scores, complaints, incidents, audit). Only the typed store
 * modules (src/store/store_TOPIC.c, one per topic: store_incident.c,
 * store_lifecycle.c, store_outbox.c, ...) include it: they keep their SQL text
 * static, in portable SQL with $N placeholders, and run it only through these
 * calls, which both backends (SQLite, PostgreSQL) implement; modules above the
 * store call their typed functions and never see a statement. Statements are prepared once per store (per
 * connection on PostgreSQL) and cached by the address of their text: pass the
 * same static string every time.
 *
 * Portable SQL here means what both accept: $N placeholders whose type the
 * statement makes clear (PostgreSQL infers it from the context; a bare `SELECT
 * $1` in an INSERT ... SELECT needs CAST($1 AS BIGINT)), every $N from 1 to the
 * highest used, CAST rather than ::, GROUP BY naming every plain column,
 * ON CONFLICT ... DO NOTHING/UPDATE, no PRAGMA, no LIMIT -1.
 */
#ifndef AD_STORE_Q_H
#define AD_STORE_Q_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

struct store_q;

/* The cached statement for sql (a static string), reset, with its bindings
 * cleared. Borrowed: owned by st, valid until store_close(). Not reentrant: do not
 * hold two uses of the same text at once. */
int store_q_get(struct store *st, const char *sql, struct store_q **q, struct ad_err *err);

/* Bind parameter $n (1-based). A NULL string binds SQL NULL. A bind that
 * fails (a value over the database's length limit, out of memory) makes the
 * next store_q_step() fail with AD_ERR_STORE (AD_ERR_NOMEM) naming the
 * parameter, instead of running the statement without it. */
void store_q_text(struct store_q *q, int n, const char *s);
void store_q_int(struct store_q *q, int n, int64_t v);
void store_q_double(struct store_q *q, int n, double v);
void store_q_null(struct store_q *q, int n);
/* Binds bytes (a BLOB/BYTEA column); p NULL binds SQL NULL. Copied. */
void store_q_blob(struct store_q *q, int n, const void *p, size_t len);

/* Runs one step: 1 when a row is ready, 0 when done, a negative AD_ERR_* code on
 * failure (AD_ERR_BUSY when the database is locked: retry later). */
int store_q_step(struct store_q *q, struct ad_err *err);

/* Ends the statement's current use (releases its read snapshot): call after
 * reading the rows you need and before a long wait or another transaction. */
void store_q_reset(struct store_q *q);

/* Ends the current use of every cached statement of st (store_q_reset() on
 * each): a long-lived process (the web server) calls it after each request,
 * so that a statement some caller stepped once and left keeps no read
 * snapshot open across requests. */
void store_q_reset_all(struct store *st);

/* Runs a statement that returns no rows to its end. */
int store_q_run(struct store_q *q, struct ad_err *err);

/* Column values of the current row (0-based). Text is borrowed until the next
 * step or reset; NULL for SQL NULL. */
const char *store_q_col_text(struct store_q *q, int col);
int64_t store_q_col_int(struct store_q *q, int col);
double store_q_col_double(struct store_q *q, int col);
bool store_q_col_null(struct store_q *q, int col);
/* Bytes of a BLOB/BYTEA column, *len of them; borrowed like text. NULL for SQL
 * NULL (and possibly for zero bytes: check store_q_col_null()). */
const unsigned char *store_q_col_blob(struct store_q *q, int col, size_t *len);

/* Id of the last row inserted on this connection: SQLite's rowid; on
 * PostgreSQL lastval(), the last value a sequence gave out in this session, so
 * call it right after an INSERT into a table whose id is INTEGER PRIMARY KEY
 * (BIGSERIAL there), never after one into a table without such an id, and not
 * after INSERT ... ON CONFLICT DO NOTHING that may have inserted nothing (check
 * store_changes() first). 0 when no insert ran yet. Statements that can, use
 * RETURNING id instead (both backends accept it). */
int64_t store_last_id(struct store *st);

/* A number that changes when another connection committed a change: SQLite's
 * data_version (any table). On PostgreSQL a counter bumped when a change
 * notification arrived (triggers on locks and customers, what the policy
 * server caches) and on every reconnect, so callers re-read after a gap. */
int store_data_version(struct store *st, int64_t *version, struct ad_err *err);

/* Runs fixed SQL text without parameters (SAVEPOINT, RELEASE, ...). */
int store_exec(struct store *st, const char *sql, struct ad_err *err);

/* Rows changed by the last INSERT, UPDATE or DELETE. */
int store_changes(struct store *st);

#endif

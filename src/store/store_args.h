/*
 * store_args.h: short forms of store_q.h for the typed store modules
 * (store_lifecycle.c, store_incident.c, ...), never for code outside
 * src/store/. A statement's parameters are given as a list of values,
 *     store_run(st, sql, ARGS(A_INT(id), A_TEXT(state)), err);
 * and the statement is reset before the call returns, so no read snapshot
 * stays open. A NULL text binds SQL NULL.
 */
#ifndef AD_STORE_ARGS_H
#define AD_STORE_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "store/store_q.h"
#include "util/err.h"

struct store_arg {
    char type;          /* 'i' int, 'd' double, 't' text, 'n' NULL */
    int64_t i;
    const char *s;
    double d;
};

#define A_INT(v) { 'i', (int64_t)(v), NULL, 0 }
#define A_DOUBLE(v) { 'd', 0, NULL, (v) }
#define A_TEXT(v) { 't', 0, (v), 0 }
#define A_NULL { 'n', 0, NULL, 0 }
#define ARGS(...)                                                                              \
    (const struct store_arg[]){ __VA_ARGS__ },                                                 \
        sizeof((const struct store_arg[]){ __VA_ARGS__ }) / sizeof(struct store_arg)

/* The cached statement for sql with the arguments bound (store_q_get()). */
int store_args_get(struct store *st, const char *sql, const struct store_arg *a, size_t n,
                   struct store_q **q, struct ad_err *err);

/* Runs a statement to its end; *changed (may be NULL) gets the rows changed. */
int store_run(struct store *st, const char *sql, const struct store_arg *a, size_t n,
              struct ad_err *err);
int store_run_changed(struct store *st, const char *sql, const struct store_arg *a, size_t n,
                      int *changed, struct ad_err *err);

/* Reads the first row's first column: 1 with *out set (0 for SQL NULL), 0
 * when there is no row (*out 0), or < 0. */
int store_first_int(struct store *st, const char *sql, const struct store_arg *a, size_t n,
                    int64_t *out, struct ad_err *err);

/* The same for text: *out is a g_malloc'd copy (the caller's) or NULL. */
int store_first_text(struct store *st, const char *sql, const struct store_arg *a, size_t n,
                     char **out, struct ad_err *err);

/* Fills *ids (g_malloc'd, the caller's; free with g_free()) with the first
 * column of every row, *n_ids of them. */
int store_all_ints(struct store *st, const char *sql, const struct store_arg *a, size_t n,
                   int64_t **ids, size_t *n_ids, struct ad_err *err);

#endif

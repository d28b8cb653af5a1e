/*
 * store_outbound.h: the outbound log: "did we really send this?" in one
 * lookup. The milter records a keyed hash of each outbound Message-ID
 * (outbound/outbound.h) with the account or script that sent it; classify
 * looks a bounced message's Message-ID up; old rows are pruned.
 */
#ifndef AD_STORE_OUTBOUND_H
#define AD_STORE_OUTBOUND_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

struct store_outbound_row {
    int64_t h;              /* the keyed hash of the Message-ID */
    int64_t at;             /* Unix seconds */
    const char *sender;     /* the account or "uid:script" (borrowed) */
};

/* Adds n rows in one transaction. */
int store_outbound_add(struct store *st, const struct store_outbound_row *rows, size_t n,
                       struct ad_err *err);

/* The newest row with hash h at or after since: 1 and *at and *sender
 * (g_malloc'd, caller frees) when found, 0 when not, negative on error. */
int store_outbound_find(struct store *st, int64_t h, int64_t since, int64_t *at, char **sender,
                        struct ad_err *err);

/* Deletes the rows older than before; *n gets how many (may be NULL). */
int store_outbound_prune(struct store *st, int64_t before, int64_t *n, struct ad_err *err);

/* Rows kept (for the benchmark and the tests). */
int store_outbound_count(struct store *st, int64_t *n, struct ad_err *err);

#endif

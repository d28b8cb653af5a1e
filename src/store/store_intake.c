/*
 * store_intake.c: the desk's queue of stored reports (see store_intake.h),
 * called by src/intake/intake.c inside its transaction. Errors are the
 * store's (AD_ERR_BUSY when locked: retry later); every statement is reset as
 * soon as its rows are read. Nothing returned is owned by the caller.
 */
#include "store/store_intake.h"

#include "store/store_args.h"

static const char sql_done[] = "UPDATE reports SET processed = 1 WHERE id = $1";

static const char sql_pending[] =
    "SELECT id, received_at, spool_path FROM reports WHERE processed = 0 ORDER BY id LIMIT 200";

int store_intake_pending(struct store *st, int64_t *ids, size_t *n, struct ad_err *err)
{
    *n = 0;
    struct store_q *q;
    int rc = store_q_get(st, sql_pending, &q, err);
    if (rc)
        return rc;
    while (*n < STORE_INTAKE_BATCH && (rc = store_q_step(q, err)) == 1)
        ids[(*n)++] = store_q_col_int(q, 0);
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_intake_done(struct store *st, int64_t id, struct ad_err *err)
{
    return store_run(st, sql_done, ARGS(A_INT(id)), err);
}

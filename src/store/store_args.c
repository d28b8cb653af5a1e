/*
 * store_args.c: short forms of store_q.h for the typed store modules (see
 * store_args.h). Every call resets its statement before it returns; errors
 * are the store's (AD_ERR_BUSY when locked: retry later). Strings and arrays
 * handed out are g_malloc'd and the caller's.
 */
#include "store/store_args.h"

#include <glib.h>

int store_args_get(struct store *st, const char *sql, const struct store_arg *a, size_t n,
                   struct store_q **q, struct ad_err *err)
{
    int rc = store_q_get(st, sql, q, err);
    if (rc)
        return rc;
    for (size_t k = 0; k < n; k++) {
        int pos = (int)k + 1;
        if (a[k].type == 'i')
            store_q_int(*q, pos, a[k].i);
        else if (a[k].type == 'd')
            store_q_double(*q, pos, a[k].d);
        else if (a[k].type == 't')
            store_q_text(*q, pos, a[k].s);
        else
            store_q_null(*q, pos);
    }
    return 0;
}

int store_run_changed(struct store *st, const char *sql, const struct store_arg *a, size_t n,
                      int *changed, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_args_get(st, sql, a, n, &q, err);
    if (rc)
        return rc;
    rc = store_q_run(q, err);
    store_q_reset(q);
    if (rc == 0 && changed)
        *changed = store_changes(st);
    return rc;
}

int store_run(struct store *st, const char *sql, const struct store_arg *a, size_t n,
              struct ad_err *err)
{
    return store_run_changed(st, sql, a, n, NULL, err);
}

int store_first_int(struct store *st, const char *sql, const struct store_arg *a, size_t n,
                    int64_t *out, struct ad_err *err)
{
    *out = 0;
    struct store_q *q;
    int rc = store_args_get(st, sql, a, n, &q, err);
    if (rc)
        return rc;
    if ((rc = store_q_step(q, err)) == 1 && !store_q_col_null(q, 0))
        *out = store_q_col_int(q, 0);
    store_q_reset(q);
    return rc;
}

int store_first_text(struct store *st, const char *sql, const struct store_arg *a, size_t n,
                     char **out, struct ad_err *err)
{
    *out = NULL;
    struct store_q *q;
    int rc = store_args_get(st, sql, a, n, &q, err);
    if (rc)
        return rc;
    if ((rc = store_q_step(q, err)) == 1)
        *out = g_strdup(store_q_col_text(q, 0));
    store_q_reset(q);
    return rc;
}

int store_all_ints(struct store *st, const char *sql, const struct store_arg *a, size_t n,
                   int64_t **ids, size_t *n_ids, struct ad_err *err)
{
    *ids = NULL;
    *n_ids = 0;
    struct store_q *q;
    int rc = store_args_get(st, sql, a, n, &q, err);
    if (rc)
        return rc;
    GArray *v = g_array_new(FALSE, FALSE, sizeof(int64_t));
    while ((rc = store_q_step(q, err)) == 1) {
        int64_t x = store_q_col_int(q, 0);
        g_array_append_val(v, x);
    }
    store_q_reset(q);
    if (rc < 0) {
        g_array_free(v, TRUE);
        return rc;
    }
    *n_ids = v->len;
    *ids = (int64_t *)(void *)g_array_free(v, FALSE);
    return 0;
}

/*
 * store_tx.c: savepoints (see store_tx.h) over store_exec(), the same SQL on
 * both backends. A name that is not a plain identifier is a programming error
 * and is refused.
 */
#include "store_tx.h"

#include <glib.h>

#include "store/store_q.h"

static int run(struct store *st, const char *verb, const char *name, struct ad_err *err)
{
    for (const char *p = name; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '_')
            return ad_err_set(err, AD_ERR_USAGE, "savepoint name '%s' is not an identifier", name);
    char *sql = g_strdup_printf("%s %s", verb, name);
    int rc = store_exec(st, sql, err);
    g_free(sql);
    return rc;
}

int store_savepoint(struct store *st, const char *name, struct ad_err *err)
{
    return run(st, "SAVEPOINT", name, err);
}

int store_savepoint_release(struct store *st, const char *name, struct ad_err *err)
{
    return run(st, "RELEASE", name, err);
}

void store_savepoint_rollback(struct store *st, const char *name)
{
    run(st, "ROLLBACK TO", name, NULL);
    run(st, "RELEASE", name, NULL);
}

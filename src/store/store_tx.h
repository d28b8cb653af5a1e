/*
 * store_tx.h: savepoints inside the caller's transaction, so that a step
 * (one report through the desk, one incident update) is kept whole or not at
 * all. name is a plain identifier chosen by the caller.
 */
#ifndef AD_STORE_TX_H
#define AD_STORE_TX_H

#include "store/store.h"
#include "util/err.h"

int store_savepoint(struct store *st, const char *name, struct ad_err *err);

/* Commits the savepoint's work into the enclosing transaction. */
int store_savepoint_release(struct store *st, const char *name, struct ad_err *err);

/* Undoes everything since the savepoint and ends it (errors are ignored: the
 * caller is already failing). */
void store_savepoint_rollback(struct store *st, const char *name);

#endif

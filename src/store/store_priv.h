/*
 * store_priv.h: the SQLite store's handle, shared by store.c and store_q.c only.
 */
#ifndef AD_STORE_PRIV_H
#define AD_STORE_PRIV_H

#include <glib.h>
#include <sqlite3.h>

#include "util/err.h"

struct store {
    sqlite3 *db;
    sqlite3_stmt *find, *insert;    /* hot statements, prepared once */
    GHashTable *cache;              /* SQL text address -> sqlite3_stmt * (store_q.c) */
};

/* Fills err from an SQLite result code; returns AD_ERR_BUSY or AD_ERR_STORE. */
int store_sql_err(struct store *st, int rc, struct ad_err *err, const char *what);

#endif

/*
 * store_rbl.c: the DNSBL listings and their events (see store_rbl.h). Called
 * by `abusedesk rbl check` inside its own transaction and by `abusedesk rbl
 * history`. Errors are the store's (AD_ERR_BUSY when locked: retry later);
 * every statement is reset as soon as its rows are read. Nothing returned is
 * owned by the caller: strings handed to callbacks are borrowed for the call.
 */
#include "store/store_rbl.h"

#include <glib.h>
#include <stdint.h>

#include "store/store_q.h"

static const char sql_open[] =
    "SELECT id, address, zone, listed_at FROM rbl_listings WHERE delisted_at IS NULL"
    " ORDER BY id";
static const char sql_listing_insert[] =
    "INSERT INTO rbl_listings (address, zone, codes, text, listed_at, last_seen)"
    " VALUES ($1, $2, $3, $4, $5, $5) RETURNING id";
static const char sql_event_listed[] =
    "INSERT INTO rbl_events (listing_id, at, event, address, zone, codes, text)"
    " VALUES ($1, $2, 'listed', $3, $4, $5, $6)";
static const char sql_seen[] =
    "UPDATE rbl_listings SET last_seen = $2, codes = $3, text = COALESCE($4, text)"
    " WHERE id = $1";
static const char sql_delist[] =
    "UPDATE rbl_listings SET delisted_at = $2 WHERE id = $1 AND delisted_at IS NULL";
static const char sql_event_delisted[] =
    "INSERT INTO rbl_events (listing_id, at, event, address, zone, codes, text)"
    " SELECT id, CAST($2 AS BIGINT), 'delisted', address, zone, codes, NULL FROM rbl_listings"
    " WHERE id = $1";
#define HISTORY_COLS                                                                     \
    "SELECT e.id, e.listing_id, e.at, e.event, e.address, e.zone, e.codes, e.text,"     \
    " l.listed_at FROM rbl_events e JOIN rbl_listings l ON l.id = e.listing_id"
static const char sql_history_all[] = HISTORY_COLS " ORDER BY e.at DESC, e.id DESC LIMIT $1";
static const char sql_history_addr[] =
    HISTORY_COLS " WHERE e.address = $1 ORDER BY e.at DESC, e.id DESC LIMIT $2";

int store_rbl_open_each(struct store *st,
                        void (*fn)(int64_t id, const char *address, const char *zone,
                                   int64_t listed_at, void *ctx),
                        void *ctx, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_open, &q, err);
    if (rc)
        return rc;
    while ((rc = store_q_step(q, err)) == 1)
        fn(store_q_col_int(q, 0), store_q_col_text(q, 1), store_q_col_text(q, 2),
           store_q_col_int(q, 3), ctx);
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_rbl_listed(struct store *st, const char *address, const char *zone, const char *codes,
                     const char *text, int64_t at, int64_t *listing_id, struct ad_err *err)
{
    *listing_id = 0;
    struct store_q *q;
    int rc = store_q_get(st, sql_listing_insert, &q, err);
    if (rc)
        return rc;
    store_q_text(q, 1, address);
    store_q_text(q, 2, zone);
    store_q_text(q, 3, codes);
    store_q_text(q, 4, text);
    store_q_int(q, 5, at);
    rc = store_q_step(q, err);
    if (rc == 1) {
        *listing_id = store_q_col_int(q, 0);
        rc = store_q_step(q, err);
    } else if (rc == 0) {
        rc = ad_err_set(err, AD_ERR_STORE, "store: rbl listing of %s on %s: no id returned",
                        address, zone);
    }
    store_q_reset(q);
    if (rc < 0)
        return rc;
    if ((rc = store_q_get(st, sql_event_listed, &q, err)))
        return rc;
    store_q_int(q, 1, *listing_id);
    store_q_int(q, 2, at);
    store_q_text(q, 3, address);
    store_q_text(q, 4, zone);
    store_q_text(q, 5, codes);
    store_q_text(q, 6, text);
    return store_q_run(q, err);
}

int store_rbl_seen(struct store *st, int64_t listing_id, const char *codes, const char *text,
                   int64_t at, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_seen, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, listing_id);
    store_q_int(q, 2, at);
    store_q_text(q, 3, codes);
    store_q_text(q, 4, text);
    return store_q_run(q, err);
}

int store_rbl_delisted(struct store *st, int64_t listing_id, int64_t at, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, sql_delist, &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, listing_id);
    store_q_int(q, 2, at);
    if ((rc = store_q_run(q, err)))
        return rc;
    if (store_changes(st) == 0)
        return 0; /* closed already (another check): no second event */
    if ((rc = store_q_get(st, sql_event_delisted, &q, err)))
        return rc;
    store_q_int(q, 1, listing_id);
    store_q_int(q, 2, at);
    return store_q_run(q, err);
}

int store_rbl_history(struct store *st, const char *address, int64_t limit,
                      int (*fn)(const struct store_rbl_event *e, void *ctx), void *ctx,
                      struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, address ? sql_history_addr : sql_history_all, &q, err);
    if (rc)
        return rc;
    int n = 1;
    if (address)
        store_q_text(q, n++, address);
    store_q_int(q, n, limit > 0 ? limit : INT64_MAX);
    while ((rc = store_q_step(q, err)) == 1) {
        struct store_rbl_event e = {
            .id = store_q_col_int(q, 0),
            .listing_id = store_q_col_int(q, 1),
            .at = store_q_col_int(q, 2),
            .event = store_q_col_text(q, 3),
            .address = store_q_col_text(q, 4),
            .zone = store_q_col_text(q, 5),
            .codes = store_q_col_text(q, 6),
            .text = store_q_col_text(q, 7),
            .listed_at = store_q_col_int(q, 8),
        };
        if (fn(&e, ctx)) {
            rc = 0;
            break;
        }
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

/*
 * store_rbl.h: the DNSBL listings of our outbound addresses in the store
 * (tables rbl_listings and rbl_events, migration "rbl" in store_sql.c). A
 * listing is one period during which an address was listed on one zone:
 * opened when a check first saw it listed (listed_at: the `since` shown),
 * refreshed by every check that still sees it (last_seen, the latest codes
 * and text), and closed by the first check that sees the address clean
 * (delisted_at). Rows are never deleted: the listings are the history, and
 * every opening and closing is also an event row with its time, for the
 * readers that come later (incidents of kind listing, the team's alert).
 * A check whose answer was an error changes nothing.
 *
 * Zones are stored by their shown name (an access key never reaches the
 * store). Times are Unix seconds. Callers group a check's writes in one
 * transaction (store_begin()/store_commit()).
 */
#ifndef AD_STORE_RBL_H
#define AD_STORE_RBL_H

#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* Calls fn for every open listing (not delisted): its id, address, zone and
 * when it was first seen. Strings are borrowed for the call. */
int store_rbl_open_each(struct store *st,
                        void (*fn)(int64_t id, const char *address, const char *zone,
                                   int64_t listed_at, void *ctx),
                        void *ctx, struct ad_err *err);

/* Opens a listing of address on zone seen at `at` with codes ("127.0.0.2,
 * 127.0.0.4") and text (NULL: none), and records the event "listed".
 * *listing_id gets the new listing's id. */
int store_rbl_listed(struct store *st, const char *address, const char *zone, const char *codes,
                     const char *text, int64_t at, int64_t *listing_id, struct ad_err *err);

/* A later check still sees listing_id: last_seen, codes and text (NULL keeps
 * the stored text) are updated. */
int store_rbl_seen(struct store *st, int64_t listing_id, const char *codes, const char *text,
                   int64_t at, struct ad_err *err);

/* Closes listing_id at `at` and records the event "delisted". */
int store_rbl_delisted(struct store *st, int64_t listing_id, int64_t at, struct ad_err *err);

/* One event, as store_rbl_history() hands it out (strings borrowed for the
 * call; codes and text may be NULL). */
struct store_rbl_event {
    int64_t id, listing_id, at;
    const char *event;          /* "listed" or "delisted" */
    const char *address, *zone, *codes, *text;
    int64_t listed_at;          /* of its listing */
};

/* Calls fn for the events of address (NULL: of every address), newest first,
 * at most limit (0: all). fn returns non-zero to stop. */
int store_rbl_history(struct store *st, const char *address, int64_t limit,
                      int (*fn)(const struct store_rbl_event *e, void *ctx), void *ctx,
                      struct ad_err *err);

#endif

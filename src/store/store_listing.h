/*
 * store_listing.h: what the reputation monitor reads and writes besides the
 * DNSBL listings themselves (store_rbl.h): the incidents of kind listing (rows
 * of incidents with subject_kind 'listing' and the address as subject, no
 * customer, never locked), the reports attributed to one of our outbound
 * addresses (the complaints and bounces shown with a listing, the bounces
 * whose rise warns before one), the reports per provider (feed health), and
 * the monitor's alerts that are not incidents (table reputation_alerts, one
 * row per episode: opened when the alert is raised, closed when it ends).
 *
 * Report times are the reports' received_at text (ISO 8601 UTC,
 * "2026-11-29T18:00:00Z"), which sorts as it reads; every other time is Unix
 * seconds. Strings handed to callbacks are borrowed for the call. Writers run
 * inside the caller's transaction. Errors are the store's.
 */
#ifndef AD_STORE_LISTING_H
#define AD_STORE_LISTING_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* The open (not resolved or dismissed) listing incident of address: *id, or 0. */
int store_listing_find(struct store *st, const char *address, int64_t *id, struct ad_err *err);

/* Calls fn for every open listing incident: its id and address. */
int store_listing_open_each(struct store *st,
                            void (*fn)(int64_t id, const char *address, void *ctx), void *ctx,
                            struct ad_err *err);

/* Opens a listing incident of address at now (state alerted, stage alert)
 * with complaints counted; *id gets its id. */
int store_listing_insert(struct store *st, const char *address, int64_t complaints, int64_t now,
                         int64_t *id, struct ad_err *err);

/* Closes listing incident id at now (state resolved). */
int store_listing_resolve(struct store *st, int64_t id, int64_t now, struct ad_err *err);

/* Links report_id to incident id (idempotent). */
int store_listing_link(struct store *st, int64_t id, int64_t report_id, struct ad_err *err);

/* One report attributed to an outbound address. parsed is the report's JSON
 * (the parse --json object); authenticated is -1 when it has no score. */
struct store_listing_report {
    int64_t id;
    const char *received_at, *kind, *feedback_type, *subject, *from_addr, *source_ip, *parsed;
    const char *account, *script;
    int authenticated;
};

/* Calls fn for the reports whose attribution names address (NULL: any of our
 * addresses) as the outbound address, received at or after since (ISO text),
 * of kind (NULL: every kind), newest first, at most limit. parsed is read
 * only when with_parsed (else NULL). */
int store_listing_reports(struct store *st, const char *address, const char *since,
                          const char *kind, int64_t limit, bool with_parsed,
                          void (*fn)(const struct store_listing_report *r, void *ctx), void *ctx,
                          struct ad_err *err);

/* Calls fn for every report received at or after since (ISO text), newest
 * first, at most limit: its time, From address, kind and whether its
 * reporter was authenticated (-1: not scored, e.g. not parsed). For feed
 * health. */
int store_listing_feed_reports(struct store *st, const char *since, int64_t limit,
                               void (*fn)(const char *received_at, const char *from_addr,
                                          const char *kind, int authenticated, void *ctx),
                               void *ctx, struct ad_err *err);

/* The newest alert of kind on subject: *id (0: none), when it opened and
 * closed (*closed_at 0: still open). */
int store_repalert_last(struct store *st, const char *kind, const char *subject, int64_t *id,
                        int64_t *opened_at, int64_t *closed_at, struct ad_err *err);

/* Opens an alert of kind on subject at now with detail; *id may be NULL. */
int store_repalert_open(struct store *st, const char *kind, const char *subject,
                        const char *detail, int64_t now, int64_t *id, struct ad_err *err);

/* Closes alert id at now. */
int store_repalert_close(struct store *st, int64_t id, int64_t now, struct ad_err *err);

#endif

/*
 * listing.h: what the reputation monitor does with a DNSBL check's results
 * and the bounces: a new listing of one of our outbound addresses opens an
 * incident of kind listing (no lock: nobody to lock yet) naming the accounts
 * and scripts that sent the most mail through the address in [reputation]
 * blame_window before it (store_outbound_counts.h), with the complaints and
 * the reputation bounces (blocked, badreputation, spamdetected,
 * policyviolation, requireptr) attributed to the address, and queues the team
 * alert (template team_listing: the ranking and the delisting steps of each
 * list); a further list that lists it while the incident is open is noted in
 * its audit log. The first check that sees the address clean on every zone
 * closes the incident (resolved, audited). At most 20 team mails per check:
 * beyond, the incidents open without one (audited, logged), so that a list
 * that lists a whole range does not flood the team. Before any listing, a rise of those
 * bounces on an address (the last [reputation] warn_window against the
 * warn_baseline before it) alerts the team (team_early_warning), once per
 * address and day.
 *
 * Each function opens and commits its own transactions (call outside one),
 * one per address, so one address failing does not hold back the others;
 * the first store error is returned after the rest were tried.
 */
#ifndef AD_LISTING_H
#define AD_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"

/* One zone an address is listed on, as the check saw it (strings borrowed). */
struct listing_hit {
    const char *zone;           /* shown name (no access key) */
    const char *list_name;      /* "Spamhaus ZEN", or NULL for a list we do not know */
    const char *codes;          /* "127.0.0.2,127.0.0.4" */
    const char *meaning;        /* what the codes mean, or NULL */
    const char *text;           /* the list's TXT reason, or NULL */
    const char *delist_url, *procedure;     /* NULL for a list we do not know */
    int64_t since;
};

/* One checked address. */
struct listing_addr {
    const char *address;
    const struct listing_hit *hits;
    size_t n_hits;
    bool all_clean;             /* every zone asked answered clean (no listing, no error) */
};

/* Opens and closes listing incidents for the n checked addresses at now.
 * *opened and *closed (may be NULL) get how many. */
int listing_sync(const struct config *cfg, struct store *st, const struct logger *log,
                 int64_t now, const struct listing_addr *addrs, size_t n, size_t *opened,
                 size_t *closed, struct ad_err *err);

/* The early warning at now; *warned (may be NULL) gets how many addresses. */
int listing_early_warning(const struct config *cfg, struct store *st, const struct logger *log,
                          int64_t now, size_t *warned, struct ad_err *err);

/* True when a bounce reason (parse --json recipients[].reason) is one that
 * says our outbound address is refused for its reputation. */
bool listing_reason_counts(const char *reason);

#endif

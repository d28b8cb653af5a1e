/*
 * outcount.h: the policy server's count of mails per hour, outbound address
 * and sender, kept in memory and handed to the store in batches of deltas
 * (store_outbound_counts.h) by the policy server's writer thread: never a
 * database write per request. A request is one recipient; the mails are
 * counted by the request's instance (one per message), the recipients by
 * request. The table is bounded (max entries): a sender that does not fit
 * is not counted, and the drop is counted for the log.
 *
 * Which outbound address: the request's server_address when Postfix sends it
 * and it is one of ours ([network] our_ips, when set; never loopback), else
 * the addresses [network] host_addresses gives for this host (every one of
 * them: which one Postfix binds to is not known here).
 */
#ifndef AD_OUTCOUNT_H
#define AD_OUTCOUNT_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store_outbound_counts.h"

struct outcount;

/* A table of at most max_entries (hour, address, sender) rows. */
struct outcount *outcount_new(size_t max_entries);
/* Accepts NULL; returns NULL. */
struct outcount *outcount_free(struct outcount *oc);

/* The outbound addresses [network] host_addresses gives host (its full name
 * or its first label, any case; "*" matches every host), NULL-terminated,
 * g_strfreev(); never NULL (empty when none). Malformed entries are skipped
 * (config_host_addresses_problem() names them). */
char **outcount_host_addresses(const struct config *cfg, const char *host);

/* True when server_address (the policy request's) may name the outbound
 * address: an IP address, not loopback, unspecified or link-local, and one of
 * [network] our_ips when those are set. */
bool outcount_server_address_ok(const struct config *cfg, const char *server_address);

/* Counts one recipient of a mail (instance: the message; NULL counts every
 * request as a mail) from sender (kind "account" or "script") through each of
 * addrs (NULL-terminated) at now. A sender longer than 320 bytes (no mail
 * address is) is not counted. */
void outcount_add(struct outcount *oc, int64_t now, char *const *addrs, const char *kind,
                  const char *sender, const char *instance);

/* The counts since the last take, as deltas (strings owned by the batch), and
 * the table emptied of them. NULL when there is nothing to write. */
struct outcount_batch {
    struct store_outbound_delta *d;
    size_t n;
    GStringChunk *strings;
};
struct outcount_batch *outcount_take(struct outcount *oc, int64_t now);
/* Accepts NULL; returns NULL. */
struct outcount_batch *outcount_batch_free(struct outcount_batch *b);

/* Rows not counted because the table was full, since the start. */
uint64_t outcount_dropped(const struct outcount *oc);

#endif

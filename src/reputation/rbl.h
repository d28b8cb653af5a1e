/*
 * rbl.h: checks our outbound addresses against DNS blocklists (DNSBLs) with
 * asynchronous DNS (c-ares): every address against every configured zone,
 * with bounded concurrency, a per-zone query budget and a time limit per
 * query, after the zone proved with its RFC 5782 test points (127.0.0.2
 * listed, 127.0.0.1 not) that it works and answers us. Each (address, zone)
 * comes out listed (with the return codes, their meaning and the TXT reason),
 * clean, or error (the answer was an error code of the list, or the zone or
 * our resolver failed): an error is never a listing.
 *
 * The parts that read untrusted data (DNS answers, TXT records) are exported
 * for the unit tests and the fuzz target: rbl_answer_codes(),
 * rbl_answer_text(), rbl_classify().
 */
#ifndef AD_RBL_H
#define AD_RBL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ares.h>

#include "config/config.h"
#include "reputation/rbl_zones.h"
#include "util/err.h"

#define RBL_MAX_ADDRESSES 4096  /* a /20: more is refused */
#define RBL_MAX_ZONES 64
#define RBL_MAX_CODES 8         /* return codes kept per answer */
#define RBL_TEXT_MAX_CHARS 300  /* characters of a TXT reason kept */

enum rbl_status {
    RBL_CLEAN = 0,
    RBL_LISTED,
    RBL_ERROR,
    RBL_SKIPPED,    /* not asked: an IPv6 address and a list without IPv6 data */
};

/* "clean", "listed", "error", "skipped". */
const char *rbl_status_name(enum rbl_status s);

/* One address to check. */
struct rbl_addr {
    unsigned char ip[16];   /* IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d) */
    bool v6;                /* false: an IPv4 address */
    bool domain;            /* listing: a domain name (text), for domain lists; ip unused */
    char text[254];         /* "192.0.2.1", "2001:db8::1", "hoster.example" */
};

/* Expands addresses and CIDR ranges (struct config_net, as config.c parsed
 * [network] our_ips) into single addresses, without duplicates, in order.
 * More than RBL_MAX_ADDRESSES in all, or one range larger than a /20 (IPv6:
 * than 4096 addresses), is refused with AD_ERR_LIMIT and a message naming
 * the range and `what` (e.g. "[network] our_ips"). *out is g_malloc'd
 * (g_free()), *n addresses. */
int rbl_addresses_expand(const struct config_net *nets, size_t n_nets, const char *what,
                         struct rbl_addr **out, size_t *n, struct ad_err *err);

/* The same from text ("192.0.2.1", "192.0.2.0/28", "2001:db8::1"): [reputation]
 * addresses. A value that is no address is AD_ERR_CONFIG. */
int rbl_addresses_parse(char *const *items, const char *what, struct rbl_addr **out, size_t *n,
                        struct ad_err *err);

/* listing: our HELO and sending domains ([reputation] domains, else the names
 * of [network] our_hosts without a leading "*."), lower case, without a
 * trailing dot, without duplicates, appended to *out (g_realloc'd; *n grows).
 * A name that is not a DNS name is AD_ERR_CONFIG naming `what`; more than
 * RBL_MAX_ADDRESSES entries in all is AD_ERR_LIMIT. Domains are asked only on
 * domain lists (rbl_zone_info.domains), addresses only on the others. */
int rbl_domains_add(char *const *items, const char *what, struct rbl_addr **out, size_t *n,
                    struct ad_err *err);

/* A configured zone. */
struct rbl_zone {
    char *query;            /* the name queried under, with a key (g_malloc'd) */
    char *name;             /* shown and stored: the query name without its key */
    const struct rbl_zone_info *info;   /* built-in knowledge, or NULL */
};

/* Parses [reputation] dnsbl_zones into zones (lower case, duplicates
 * refused); a zone rbl_zones_problem() refuses, or more than RBL_MAX_ZONES, is
 * AD_ERR_CONFIG with the message. Free with rbl_zones_free(). */
int rbl_zones_parse(char *const *items, struct rbl_zone **out, size_t *n, struct ad_err *err);
struct rbl_zone *rbl_zones_free(struct rbl_zone *zones, size_t n);

/* Writes the query name of addr under zone into buf: reversed octets for
 * IPv4 ("2.0.0.127.zone"), reversed nibbles for IPv6 (RFC 5782 section 2.4).
 * False when it does not fit. */
bool rbl_qname(const struct rbl_addr *addr, const char *zone, char *buf, size_t size);

/* The return codes (IPv4 addresses, host byte order) of the A records in a
 * DNS reply abuf[0..alen), at most max of them, into codes; *n of them.
 * Returns 0, or AD_ERR_PARSE when the reply is malformed or holds no A
 * record. Reads nothing outside abuf. */
int rbl_answer_codes(const unsigned char *abuf, int alen, uint32_t *codes, size_t max, size_t *n);

/* The TXT records of a reply as one line: each record's strings joined, the
 * records separated by " / ", control and bidi characters removed, at most
 * RBL_TEXT_MAX_CHARS characters. g_malloc'd; NULL when there is none. */
char *rbl_answer_text(const unsigned char *abuf, int alen);

/* What n codes answered by a zone (info: built-in knowledge or NULL) mean:
 * RBL_CLEAN for none, RBL_ERROR when any of them is an error (outside
 * 127.0.0.0/8, 127.0.0.1, the list's error range, and 127.255.255.0/24 for
 * lists we do not know), else RBL_LISTED. For RBL_ERROR, why gets the reason
 * (NUL-terminated, cut to whylen). Pure. */
enum rbl_status rbl_classify(const struct rbl_zone_info *info, const uint32_t *codes, size_t n,
                             char *why, size_t whylen);

/* The result of one address against one zone. */
struct rbl_result {
    uint8_t status;             /* enum rbl_status */
    uint8_t n_codes;
    uint32_t codes[RBL_MAX_CODES];
    const char *text;           /* TXT reason (listed only), or NULL */
    const char *why;            /* error: the reason; NULL otherwise */
};

/* How to query. */
struct rbl_opts {
    const char *resolver;       /* "HOST[:PORT],..." or "" for the system's resolvers */
    int max_inflight;           /* queries in flight at once (1..4096) */
    long long zone_budget;      /* queries per zone and run, test points and TXT included */
    int timeout_ms;             /* per query, c-ares retries included */
};

/* Counters of a run, for the caller's log and the benchmark. */
struct rbl_stats {
    size_t queries, answers, timeouts;
    size_t max_inflight_seen;
    long long elapsed_ms;
};

struct rbl_run;

/* A run over addrs x zones (both borrowed: keep them until rbl_run_free()).
 * Returns NULL only when the counts exceed RBL_MAX_ADDRESSES or RBL_MAX_ZONES. */
struct rbl_run *rbl_run_new(const struct rbl_addr *addrs, size_t n_addrs,
                            const struct rbl_zone *zones, size_t n_zones);

/* Queries everything (test points first, then the addresses of every zone
 * that passed them, then TXT for each listing), round-robin over the zones.
 * Returns 0 when the run happened (whatever the answers), or AD_ERR_CONFIG when
 * the resolver list is unusable, AD_ERR_NOMEM when c-ares cannot start. Takes
 * at most about timeout x (queries / max_inflight + 3): a zone whose test points
 * fail, or that stops answering (8 timeouts in a row), costs no more queries. */
int rbl_run_check(struct rbl_run *run, const struct rbl_opts *o, struct ad_err *err);

/* The result of address a and zone z (borrowed from run). */
const struct rbl_result *rbl_run_result(const struct rbl_run *run, size_t a, size_t z);

/* Why zone z failed as a whole (its test points, no answers), or NULL. */
const char *rbl_run_zone_error(const struct rbl_run *run, size_t z);

const struct rbl_stats *rbl_run_stats(const struct rbl_run *run);

/* Accepts NULL; returns NULL. */
struct rbl_run *rbl_run_free(struct rbl_run *run);

/* Checks [reputation] of cfg (loaded from name with text[0..len), text may be
 * NULL) like config_check(): calls problem(msg) for each finding, in the form
 * "FILE:LINE: [reputation] dnsbl_zones: ZONE: why" (lists that no longer
 * exist, keyed lists without their key, names that are not DNS names,
 * addresses that are not addresses or more than a /20). Returns how many. */
size_t rbl_config_check(const struct config *cfg, const char *name, const char *text,
                        size_t len, void (*problem)(const char *msg, void *ctx), void *ctx);

/* Opens a c-ares channel on resolver ("HOST[:PORT],...", "" or NULL: the
 * system's) the way the DNSBL check does, each query bounded by timeout_ms
 * with c-ares' retries, for the other lookups of the reputation component
 * (the domain audit). The caller owns *chan (ares_destroy()) and must have
 * called ares_library_init(). AD_ERR_CONFIG for an unusable list. */
int rbl_channel_open(const char *resolver, int timeout_ms, ares_channel *chan,
                     struct ad_err *err);

#endif

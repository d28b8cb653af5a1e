/*
 * rbl_zones.h: what abusedesk knows about the well-known DNS blocklists
 * (DNSBLs) of outbound mail addresses, and how a configured zone name is
 * matched to that knowledge: which return codes mean what, which answers are
 * errors of the list and never listings (Spamhaus 127.255.255.0/24), whether
 * the list takes IPv6 queries, whether it needs an access key in the zone name
 * (Spamhaus DQS, Abusix), where and how to ask for delisting, and which lists
 * no longer exist (SORBS and others) and must not be queried. The table is
 * static data; nothing here allocates, fails or logs.
 */
#ifndef AD_RBL_ZONES_H
#define AD_RBL_ZONES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One return code (an IPv4 address in 127.0.0.0/8, host byte order) of a
 * list and what it means. */
struct rbl_code {
    uint32_t code;
    const char *meaning;
};

/* Built-in knowledge of one list. */
struct rbl_zone_info {
    const char *suffix;         /* "zen.spamhaus.org"; a keyed list is KEY.suffix */
    const char *name;           /* "Spamhaus ZEN" */
    bool keyed;                 /* the zone is KEY.suffix (DQS key, Abusix key) */
    bool ipv6;                  /* publishes IPv6 data (nibble queries) */
    const struct rbl_code *codes;   /* listings, terminated by { 0, NULL } */
    uint32_t error_net, error_mask; /* answers in this range are errors (mask 0: none) */
    const struct rbl_code *errors;  /* meanings of some of them, terminated */
    const char *delist_url;
    const char *procedure;      /* one line: how to get delisted */
    /* listing: domain lists (Spamhaus DBL and the like) */
    bool domains;               /* lists domain names (our HELO and sending domains), not
                                 * addresses */
    const char *test_domain;    /* domains: the name it must list (its RFC 5782 "TEST");
                                 * "invalid" must not be listed */
};

/* The built-in list for a configured zone name (any case, no trailing dot),
 * or NULL when it is not a known one. For a keyed list, *key_len gets the
 * length of the key label in front of the suffix (0 when there is none: the
 * zone was written without its key, a configuration error rbl_zones_problem()
 * reports). key_len may be NULL. */
const struct rbl_zone_info *rbl_zones_find(const char *zone, size_t *key_len);

/* Why a configured zone must not be used, or NULL when it can be: a list that
 * was shut down (its name, when and what its zone answers today), a keyed list
 * without its key, a name that is not a DNS name. The text is static. */
const char *rbl_zones_problem(const char *zone);

/* What code means in info's list (NULL when info is NULL or the code is not in
 * its table). Static text. */
const char *rbl_zones_meaning(const struct rbl_zone_info *info, uint32_t code);

/* The whole table, for `abusedesk rbl zones`: *n entries. */
const struct rbl_zone_info *rbl_zones_all(size_t *n);

/* Dead lists, for `abusedesk rbl zones`: calls fn for each (suffix, why). */
void rbl_zones_each_dead(void (*fn)(const char *suffix, const char *why, void *ctx), void *ctx);

#endif

/*
 * authres.h: Authentication-Results (RFC 8601) headers that our own inbound MTA
 * wrote, and what they vouch for. A report's header block is read from the top:
 * only A-R headers that lie above every header the sender wrote count, that is
 * above the first Received header (from the top) that one of our hosts did not
 * add, up to and including the Received header with which our MX took the
 * message from a foreign host (a hop counts as internal only when every
 * address in its from clause is ours: the HELO name proves nothing). An A-R header with one of our authserv-ids
 * further down was written by the sender and is ignored (RFC 8601 section 5),
 * and so is any A-R header whose authserv-id is not ours.
 *
 * Hand-written: no Debian library exposes an RFC 8601 parser (OpenDKIM and
 * OpenDMARC keep theirs internal). The parser is bounded (header length, number
 * of results) and never fails on bad input: what it cannot read is skipped.
 */
#ifndef AD_AUTHRES_H
#define AD_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#define AUTHRES_MAX_PASSES 16

/* One identity a trusted result vouches for. */
struct authres_pass {
    char method[16];    /* "dkim", "spf" or "dmarc" (lower case) */
    char domain[256];   /* lower case: dkim header.d (or the domain of header.i),
                         * spf smtp.mailfrom's domain (or smtp.helo when mailfrom
                         * is empty), dmarc header.from */
};

struct authres_set {
    size_t n_passes;                            /* results with result "pass" */
    struct authres_pass passes[AUTHRES_MAX_PASSES];
    size_t n_trusted_headers;                   /* A-R headers of ours in the trusted zone */
    size_t n_ignored;                           /* A-R headers with our id below it (forged) */
    size_t n_fails;                             /* dkim/spf/dmarc results other than pass
                                                 * in trusted headers */
    char authserv_id[256];                      /* the id of the first trusted header, "" */
};

/* Whether host name h (lower case, may be "") is one of our hosts; also asked
 * for an address literal "[192.0.2.1]" / "[ipv6:2001:db8::1]" of a Received
 * from clause (ours, or loopback for a local hop). */
typedef bool (*authres_host_fn)(const char *h, void *ctx);

/* Reads the header block head (the message's header lines up to the blank
 * line, raw, folded, LF or CRLF; at most head_len bytes are looked at) and fills
 * out with what trusted A-R headers say. ids: NULL-terminated list of our
 * authserv-ids (compared case-insensitively); an empty list trusts nothing.
 * is_ours decides whether a Received header's "by" host is ours (the ids are
 * ours too). Never fails; out is zeroed first. */
void authres_trusted(const char *head, size_t head_len, const char *const *ids,
                     authres_host_fn is_ours, void *ctx, struct authres_set *out);

/* Parses one A-R header value (after "Authentication-Results:", unfolded or
 * not). authserv_id gets the id (lower case, "" when missing); for each resinfo
 * fn(method, result, ptype_property, value, ctx) is called once per property
 * (with property NULL and value NULL once when a resinfo has none). Returns
 * false when the value has no readable authserv-id. Bounded and total. */
typedef void (*authres_result_fn)(const char *method, const char *result, const char *property,
                                  const char *value, void *ctx);
bool authres_parse(const char *value, size_t len, char *authserv_id, size_t id_size,
                   authres_result_fn fn, void *ctx);

/* True when set vouches for domain d with method m (NULL: any method): a pass
 * whose domain equals d or is a subdomain of it when subdomains is true. */
bool authres_has_pass(const struct authres_set *set, const char *m, const char *d,
                      bool subdomains);

#endif

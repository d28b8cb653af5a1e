/*
 * dkimverify.h: verifies the DKIM signatures (RFC 6376) of a raw message with
 * libopendkim, for reports that reach the desk without a trusted
 * Authentication-Results header of our MX. Keys are looked up as TXT records
 * (selector._domainkey.domain) with c-ares against the configured resolvers
 * ("HOST:PORT" or "HOST", comma or semicolon separated; empty: the system's
 * /etc/resolv.conf), each lookup bounded by a timeout. Never fails on bad input:
 * an unreadable message or signature is simply not a pass.
 */
#ifndef AD_DKIMVERIFY_H
#define AD_DKIMVERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define DKIMVERIFY_MAX_SIGS 8

struct dkimverify_sig {
    char domain[256];   /* d=, lower case */
    char selector[128]; /* s= */
    bool pass;          /* signature and body hash verified with a key from DNS */
    char result[128];   /* "pass", or why not: "bad signature", "no key", "body hash
                         * mismatch", "DNS timeout", ... */
};

struct dkimverify_result {
    size_t n_sigs;
    struct dkimverify_sig sigs[DKIMVERIFY_MAX_SIGS];
};

struct dkimverify;

/* A verifier for resolvers (see above) with timeout_ms per DNS lookup. Returns
 * 0 or AD_ERR_CONFIG (an unreadable resolver list) / AD_ERR_NOMEM. *out is the
 * caller's: free with dkimverify_free(). */
int dkimverify_new(const char *resolvers, int timeout_ms, struct dkimverify **out,
                   struct ad_err *err);

/* Accepts NULL; returns NULL. */
struct dkimverify *dkimverify_free(struct dkimverify *v);

/* Only signatures whose d= want(d, ctx) accepts get a key lookup (the others
 * fail with "key not looked up"); NULL: all. For callers that can use only
 * some signers: an attacker's mail with many signatures of other domains costs
 * no DNS time. */
void dkimverify_set_filter(struct dkimverify *v, bool (*want)(const char *domain, void *ctx),
                           void *ctx);

/* Verifies msg (raw bytes, LF or CRLF) and fills out (zeroed first) with one
 * entry per DKIM-Signature header (at most DKIMVERIFY_MAX_SIGS). Returns the
 * number of signatures that passed. Never fails. */
int dkimverify_message(struct dkimverify *v, const char *msg, size_t len,
                       struct dkimverify_result *out);

#endif

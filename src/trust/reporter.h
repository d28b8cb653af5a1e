/*
 * reporter.h: who sent a report, as far as someone we trust vouches for it.
 * A report's reporter is the configured [providers] row that our own inbound
 * MX's Authentication-Results (authres.h) or a DKIM signature verified here
 * (dkimverify.h) proves, never the report's From header. A report nobody
 * vouches for is "unauthenticated": shown and scored low, never counted toward
 * a lock. The trusted results are kept for the reply check (a customer's DMARC
 * pass).
 */
#ifndef AD_REPORTER_H
#define AD_REPORTER_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "trust/authres.h"

struct dkimverify;

struct reporter {
    bool authenticated;
    const struct config_provider *provider; /* the proven provider; borrowed from cfg */
    char how[512];          /* in words: who vouched, or why nobody did */
    char claimed[256];      /* the From domain the report claims, lower case, or "" */
    struct authres_set ar;  /* what our MX's trusted headers say */
};

/* Decides the reporter of the raw message msg (len bytes; the header block is
 * read from its start). claimed_domain: the domain its From names (may be
 * NULL). *dv is created on first use when cfg->verify_dkim (owned by the
 * caller, dkimverify_free()); with dv NULL no signature is verified here.
 * Never fails. */
void reporter_identify(const struct config *cfg, struct dkimverify **dv, const char *msg,
                       size_t len, const char *claimed_domain, struct reporter *out);

/* The DKIM step of reporter_identify() for out as reporter_from_headers()
 * filled it: nothing when it is authenticated already. */
void reporter_verify_dkim(const struct config *cfg, struct dkimverify **dv, const char *msg,
                          size_t len, struct reporter *out);

/* A reporter decided from our MX's results only (no DKIM verification), for
 * callers that have only the header block. */
void reporter_from_headers(const struct config *cfg, const char *head, size_t len,
                           const char *claimed_domain, struct reporter *out);

#endif

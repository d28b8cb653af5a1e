/*
 * audit.h: the SPF, DKIM, DMARC and MX audit of customer domains. Each
 * domain's records are looked up over c-ares against [reputation] resolver
 * (one channel per run, a cache of every answer, every lookup bounded by the
 * timeout) and judged: SPF missing, broken, "+all" or "?all", more than 10
 * DNS lookups or more than 2 void lookups (RFC 7208 4.6.4), our outbound
 * addresses not permitted; DKIM selectors of [reputation] dkim_selectors not
 * published or with keys under 1024 bits; DMARC missing, p=none, rua not to
 * us; no MX. SPF is evaluated here (records.h says why not libspf2), for each
 * of our addresses, with the limits of RFC 7208; "ptr" is never followed (no
 * reverse DNS) and macros are not expanded (both are reported instead).
 */
#ifndef AD_AUDIT_H
#define AD_AUDIT_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#include "reputation/rbl.h"
#include "util/err.h"

#define AUDIT_MAX_DOMAINS 100000

struct audit_finding {
    const char *check;          /* "spf", "dkim", "dmarc", "mx" (static) */
    const char *code;           /* "missing", "plus_all", ... (static) */
    const char *severity;       /* "error", "warning", "info" (static) */
    char *message;              /* English, technical; g_malloc'd, printable ASCII */
};

struct audit_domain {
    char *domain;
    char *spf, *dmarc, *mx;     /* the records seen (NULL: none); for the change report */
    GPtrArray *findings;        /* struct audit_finding *, owned */
    bool incomplete;            /* a lookup failed (timeout, SERVFAIL): findings may be missing */
};

struct audit_opts {
    const char *resolver;       /* [reputation] resolver */
    int timeout_ms;             /* per lookup */
    char *const *dkim_selectors;    /* NULL-terminated or NULL */
    const char *dmarc_rua;      /* our rua address or NULL/"" */
    const struct rbl_addr *ours;    /* our outbound addresses (borrowed) */
    size_t n_ours;
};

struct audit;

/* Starts a run (the c-ares channel). NULL with err when the resolver list is
 * unusable or c-ares cannot start. Free with audit_free(). */
struct audit *audit_new(const struct audit_opts *o, struct ad_err *err);
struct audit *audit_free(struct audit *a);

/* Audits one domain (lower case, a DNS name); never fails: DNS trouble makes
 * the result incomplete. Caller frees with audit_domain_free(). */
struct audit_domain *audit_domain_check(struct audit *a, const char *domain);
struct audit_domain *audit_domain_free(struct audit_domain *d);

/* Adds a finding (check, code, severity static). */
void audit_domain_add(struct audit_domain *d, const char *check, const char *code,
                      const char *severity, const char *fmt, ...) G_GNUC_PRINTF(5, 6);

/* The findings' keys "check:code", sorted, space-separated (g_malloc'd). */
char *audit_domain_keys(const struct audit_domain *d);

#endif

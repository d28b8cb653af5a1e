/*
 * score.h: the score of one complaint, as a product of explainable terms: a base
 * per feedback type and report kind, whether a person made the complaint, the
 * weight of the reporting provider, the age of the reported mail (half-life) and
 * whether the same original message was counted before. Every term names the
 * configuration key that set it, so `abusedesk explain` accounts for each point.
 */
#ifndef AD_SCORE_H
#define AD_SCORE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "parse/report.h"

struct score_term {
    char *name;         /* "base", "manual", "provider", "age", "duplicate" */
    double value;       /* the base, or a factor */
    char *key;          /* the configuration key that set it, "[scoring] base_abuse" */
    char *why;          /* in words: "Feedback-Type abuse", "mail 61.0 days old" */
};

enum score_manual {
    SCORE_UNDETERMINED = -1,
    SCORE_AUTOMATIC = 0,
    SCORE_MANUAL = 1,
};

/* Who vouched for the report (trust/reporter.h), as far as the score needs it. */
struct score_reporter {
    bool authenticated;                     /* a configured provider is proven */
    const struct config_provider *provider; /* that provider (authenticated only) */
    const char *how;                        /* in words, for the explanation */
};

struct score {
    double total;               /* product of the terms */
    bool authenticated;         /* the reporter is proven (only such complaints lock) */
    bool counted;               /* false for a duplicate (counts once) or a zero score */
    enum score_manual manual;
    char *provider;             /* reporting domain, or NULL */
    char *type;                 /* "abuse", "fraud", "dsn", ... (the base's key) */
    double age_days;            /* -1 when unknown */
    GPtrArray *terms;           /* of struct score_term *, owned */
};

/* Scores r, received at now (Unix seconds), reported by rep: an authenticated
 * report is weighed as its proven provider's; an unauthenticated one as the
 * provider its From claims, times [scoring] unauthenticated_factor. rep NULL:
 * the From domain is taken as it is (tools and tests only). duplicate_of: the
 * id of an earlier report of the same complaint (score_dedup_key), 0 when
 * none. out is initialised here; free with score_clear(). Never fails. */
void score_report_as(const struct config *cfg, const struct report *r, int64_t now,
                     const struct score_reporter *rep, int64_t duplicate_of, struct score *out);
void score_report(const struct config *cfg, const struct report *r, int64_t now,
                  int64_t duplicate_of, struct score *out);

/* The key under which the same complaint counts once: reporter (the proven
 * provider, or the claimed From domain marked unauthenticated), the original
 * recipient as the provider states it (ARF Original-Rcpt-To, unless hidden
 * like "redacted@..."), else the report's own Message-ID, Arrival-Date and
 * Source-IP, and the original Message-ID. NULL when the report names no
 * original message (g_malloc'd). The original's To: and Message-ID are the
 * spammer's choice and never make two complaints one. */
char *score_dedup_key(const struct report *r, const struct score_reporter *rep);

void score_clear(struct score *s);

/* The reporting provider's domain: the domain of the report's From address, else
 * of the ARF Reporting-MTA (g_malloc'd, lower case), or NULL. */
char *score_provider_domain(const struct report *r);

/* Parses an ISO 8601 UTC time "2024-01-02T03:04:05Z" to Unix seconds; false when
 * malformed. */
bool score_iso_time(const char *iso, int64_t *out);

/* The terms as a JSON array text [{"name","value","key","why"}] (free()). */
char *score_terms_json(const struct score *s);

#endif

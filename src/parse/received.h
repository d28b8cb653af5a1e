/*
 * received.h: splits one Received: header value (RFC 5321 section 4.4) into its
 * from/by/with/id/for clauses and its date.
 */
#ifndef AD_RECEIVED_H
#define AD_RECEIVED_H

#include "report.h"

/* Parses value (unfolded or folded, any length) and returns a g_malloc'd hop whose
 * strings live in r's arena; the caller owns the struct (g_free). Never NULL. */
struct received_hop *received_parse(struct report *r, const char *value);

/* Converts an RFC 5322 date to ISO 8601 UTC ("2009-04-29T00:00:00Z") in r's arena;
 * NULL when it does not parse. */
const char *received_iso_date(struct report *r, const char *rfc5322_date);

/* The first IPv4 or IPv6 address literal in s ("[192.0.2.1]" or "(192.0.2.1)"),
 * copied into r's arena, or NULL. */
const char *received_first_ip(struct report *r, const char *s);

#endif

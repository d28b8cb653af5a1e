/*
 * route.h: what the desk reads from a new mail's own header block before it
 * decides what the mail is: a complaint, a customer's reply, an auto-reply, a
 * bounce of one of our notices, or our own mail coming back. Only the header
 * fields that decide this are read: In-Reply-To and References (the
 * Message-IDs they name), the auto-reply markers of RFC 3834 and the common
 * vendor ones, and From. Everything here is written by the sender and may be
 * forged: the desk trusts a named Message-ID only because ours are random.
 */
#ifndef AD_ROUTE_H
#define AD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#define ROUTE_MAX_IDS 20

struct route_headers {
    size_t n_ids;                   /* Message-IDs named by In-Reply-To, then References */
    char *ids[ROUTE_MAX_IDS];       /* without <>, g_malloc'd */
    bool auto_reply;                /* an auto-reply or bulk mail by its headers */
    char auto_why[160];             /* which header said so */
    char *from_addr;                /* bare From address, lower case, or NULL */
};

/* Reads the header block of head (up to the first empty line, at most len
 * bytes, LF or CRLF, folded lines joined). out is zeroed first; free with
 * route_headers_clear(). Never fails; bounded (64 KiB of headers, 20 ids). */
void route_headers_parse(const char *head, size_t len, struct route_headers *out);

void route_headers_clear(struct route_headers *h);

#endif

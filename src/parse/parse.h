/*
 * parse.h: the parser's entry point. Turns one raw mail into a struct report:
 * normalises line endings, parses MIME with GMime, and hands the message to the
 * recognisers (ARF / auth-failure, DSN and bounces, plain-text abuse complaints).
 */
#ifndef AD_PARSE_H
#define AD_PARSE_H

#include <stddef.h>

#include "report.h"
#include "util/err.h"

struct parse_limits {
    size_t max_size;        /* whole message, bytes */
    size_t max_line;        /* one header line, bytes (longer lines are cut) */
    unsigned max_depth;     /* MIME nesting */
    unsigned max_parts;     /* MIME parts visited */
    size_t max_headers;     /* header lines of the top-level header block */
};

/* Default limits: 4 MiB message, 64 KiB header line, 10,000 header lines,
 * depth 32, 1000 parts. */
void parse_limits_default(struct parse_limits *lim);

/* Initialises GMime once per process; safe to call repeatedly. */
void parse_init(void);

/* Parses len bytes of one message. Returns a report the caller frees with
 * report_free(); a message that matches no known format gives kind REPORT_UNKNOWN.
 * Returns NULL and fills err (AD_ERR_PARSE) only when the input is not a mail at
 * all (no header block). Input longer than lim->max_size is parsed up to that size
 * and r->warning says so.
 * lim may be NULL for the defaults. */
struct report *parse_message(const char *data, size_t len, const struct parse_limits *lim,
                             struct ad_err *err);

/* Copies data with every CRLF and lone CR turned into LF and NUL bytes into spaces.
 * Returns a g_malloc'd, NUL-terminated buffer (caller g_free()s); *out_len gets its length. */
char *parse_normalize(const char *data, size_t len, size_t *out_len);

#endif

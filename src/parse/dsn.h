/*
 * dsn.h: recognises delivery status notifications (RFC 3464) and the common
 * non-standard bounce formats (qmail, Exim, Sendmail, Postfix, Exchange, Gmail,
 * Yahoo, ...), and fills the recipient blocks of a struct report.
 */
#ifndef AD_DSN_H
#define AD_DSN_H

#include <stddef.h>

#include "mimetree.h"
#include "report.h"

/* Tries to read root (the scanned report mail, scratch memory from a; text is the
 * whole message with LF
 * line ends, len bytes, for formats easier read as text) as a bounce.
 * On success sets r->kind = REPORT_DSN, appends to r->recipients (with status,
 * reason, ...), sets r->reporting_mta and r->dsn_format and, when the bounce
 * carries the original message (as a MIME part or quoted inline), r->original
 * through original.h. Returns 1 when recognised, 0 when msg is not a bounce
 * (r is left untouched then). Never fails on bad input. */
int dsn_parse(struct report *r, const struct mime_part *root, struct arena *a, const char *text,
              size_t len);

#endif

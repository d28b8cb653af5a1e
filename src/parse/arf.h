/*
 * arf.h: recognises feedback reports: ARF (RFC 5965), auth-failure reports
 * (RFC 6591), the Microsoft JMRP / Hotmail variant, Amazon SES complaint
 * notifications and list opt-out (unsubscribe) mails.
 */
#ifndef AD_ARF_H
#define AD_ARF_H

#include <stddef.h>

#include "mimetree.h"
#include "report.h"

/* Reads the scanned message root (r->subject already set from its header).
 * Returns 1 and fills r (kind REPORT_ARF or REPORT_AUTH_FAILURE, the feedback
 * fields and r->original) when msg is a feedback report, else 0 with r untouched. */
int arf_parse(struct report *r, const struct mime_part *root, struct arena *a);

/* Reads the "Name: value" fields of a message/feedback-report body into r.
 * Exposed for tests. */
void arf_fields(struct report *r, const char *text, size_t len);

#endif

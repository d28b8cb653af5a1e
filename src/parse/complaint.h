/*
 * complaint.h: recognises plain-text abuse complaints (a person or a provider's
 * ticket system writing "we received spam from your network") that attach or quote
 * the offending message.
 */
#ifndef AD_COMPLAINT_H
#define AD_COMPLAINT_H

#include <stddef.h>

#include "mimetree.h"
#include "report.h"

/* Returns 1 and sets r->kind = REPORT_ABUSE_TEXT and r->original when msg reads as
 * an abuse complaint about an attached or quoted message, else 0. */
int complaint_parse(struct report *r, const struct mime_part *root, struct arena *a);

/* Finds a quoted header block (Received:/From:/Message-ID: ... lines) in text and
 * reads it into r->original. Returns 0 when one was found. Used for bounces too. */
int complaint_quoted_original(struct report *r, const char *text, size_t len);

#endif

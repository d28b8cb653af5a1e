/*
 * original.h: extracts the headers of the original (reported or bounced) message
 * into struct original: Message-ID, decoded Subject, From, To, Date, Return-Path,
 * the authenticated submitter and PHP script, and the split Received chain.
 */
#ifndef AD_ORIGINAL_H
#define AD_ORIGINAL_H

#include <gmime/gmime.h>
#include <stddef.h>

#include "report.h"

/* Fills r->original from a GMime header list (of a message/rfc822 part, or of a
 * text/rfc822-headers part parsed as a message). Returns 0, or -1 when the list
 * holds no header at all (nothing is set then). */
int original_from_gmime(struct report *r, GMimeHeaderList *headers);

/* Fills r->original from a raw header block (text, "Name: value" lines, folded
 * lines allowed, LF line ends, stops at the first empty line or at len).
 * Used for bounces that quote the original headers in their text body.
 * Returns 0 when at least one of Message-ID/From/To/Subject/Received/Date/Return-Path
 * was found, else -1 and r->original is left unchanged. */
int original_from_text(struct report *r, const char *text, size_t len);

/* The bare address of an address header value ("Name <a@b>" -> "a@b"; falls back
 * to the first word holding an '@' for non-RFC 5322 text), copied into r's arena;
 * NULL when there is none or for the null sender "<>". */
const char *original_address(struct report *r, const char *value);

#endif

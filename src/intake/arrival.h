/*
 * arrival.h: when a report reached us, read from its own header block, for
 * `abusedesk ingest --replay`: the date of the topmost Received header one of
 * our own hosts added ([network] our_hosts or an [intake] authserv_id as the
 * "by" host), else the report's Date header.
 */
#ifndef AD_ARRIVAL_H
#define AD_ARRIVAL_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

enum arrival_source {
    ARRIVAL_NONE = 0,       /* neither a Received header of ours nor a readable Date */
    ARRIVAL_RECEIVED,       /* the date of our MX's topmost Received header */
    ARRIVAL_DATE,           /* the report's Date header */
};

/* Reads the header block head (raw, folded, LF or CRLF; at most head_len bytes,
 * no NUL needed) and sets *at (Unix seconds, UTC) from the first source that
 * gives a date. Bounded (header values beyond 8 KiB and dates before 1990 or
 * after 2200 are ignored), never fails on bad input. cfg is borrowed. */
enum arrival_source arrival_time(const struct config *cfg, const char *head, size_t head_len,
                                 int64_t *at);

/* "received", "date" or "none". */
const char *arrival_source_name(enum arrival_source s);

#endif

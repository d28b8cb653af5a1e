/*
 * dmarc_print.h: a DMARC aggregate report as text for people, one header line
 * and one line per record, every value from the report cleaned for a terminal
 * (util/textsafe.h). Shared by `abusedesk dmarc parse` and the stand-alone
 * reader abusedesk-dmarc.
 */
#ifndef AD_DMARC_PRINT_H
#define AD_DMARC_PRINT_H

#include <glib.h>
#include <stdbool.h>

#include "reputation/dmarc.h"

/* Appends report r (read from path) to out. ours[i] (NULL: our ranges are
 * not known) marks row i as from our own addresses; failing is the volume
 * failing DMARC (from outside our ranges when they are known). */
void dmarc_print_text(GString *out, const char *path, const struct dmarc_report *r,
                      const bool *ours, uint64_t failing);

/* Unix seconds as "2024-06-13T00:00:00Z" into buf (at least 21 bytes). */
const char *dmarc_print_time(int64_t t, char buf[32]);

#endif

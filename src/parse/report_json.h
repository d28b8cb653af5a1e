/*
 * report_json.h: the `parse --json` contract of DESIGN.md: one JSON object per
 * report, every contract key present, absent values as null.
 */
#ifndef AD_REPORT_JSON_H
#define AD_REPORT_JSON_H

#include <jansson.h>

#include "report.h"

/* Builds the JSON object for r; file names the input (may be NULL). The caller owns
 * the result (json_decref). */
json_t *report_json(const struct report *r, const char *file);

/* Same, serialised compactly on one line; caller free()s. */
char *report_json_line(const struct report *r, const char *file);

#endif

/*
 * store_intake.h: the desk's queue of stored reports (reports.processed), for
 * src/intake/intake.c: which reports wait for the desk, and marking one done.
 */
#ifndef AD_STORE_INTAKE_H
#define AD_STORE_INTAKE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* At most STORE_INTAKE_BATCH reports at once. */
#define STORE_INTAKE_BATCH 200

/* Fills ids (room for STORE_INTAKE_BATCH) with the oldest reports the desk has
 * not processed yet, oldest first, and *n with their number. */
int store_intake_pending(struct store *st, int64_t *ids, size_t *n, struct ad_err *err);

/* Marks report id processed. */
int store_intake_done(struct store *st, int64_t id, struct ad_err *err);

#endif

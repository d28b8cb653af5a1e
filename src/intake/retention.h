/*
 * retention.h: [store] retention: raw complaints hold third parties' addresses
 * (the complainant, the spam's recipients), so once a report is older than the
 * retention and every incident it belongs to was closed that long ago, its raw
 * message, spool copy and personal fields go; its row, kind, counts, scores
 * and attribution stay. `abusedesk purge` and the daily run call it.
 */
#ifndef AD_RETENTION_H
#define AD_RETENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"
#include "store/store_purge.h"
#include "util/err.h"

struct retention_stats {
    size_t n_reports;       /* reports purged (or, dry run, that would be) */
    size_t n_raw;           /* of them with the raw message in the database */
    size_t n_spool;         /* spool files removed (dry run: that would be) */
    int64_t bytes;          /* their message sizes */
};

/* The parsed report JSON (the `parse` contract) with every field that may
 * name a third party set to null: the sender and recipient addresses, the
 * subjects, reported URIs, the DSN recipients' addresses and diagnostic
 * texts, the original's From, To, Subject and Return-Path; what says what
 * happened stays (kind, feedback type, dates, source IP, reporting MTA, our
 * hops, the authenticated account and script, DSN action, status and reason),
 * and "purged": true is added. Returns a g_malloc'd string (caller frees);
 * for text that is not a JSON object, {"purged":true}. */
char *retention_redact_json(const char *parsed_json);

/* Purges (dry_run: only lists) what cfg->store_retention allows at time now:
 * each(row, ctx) (may be NULL) is called for every report, before it is
 * purged. Works in batches of one transaction each; a spool copy is removed
 * after its batch committed, and only when it lies in [intake] spool_dir.
 * Retention 0 purges nothing. 0 or a negative AD_ERR_* (what was committed
 * before a failure stays purged; *stats counts it). */
int retention_purge(struct store *st, const struct config *cfg, int64_t now, bool dry_run,
                    void (*each)(const struct store_purge_row *row, void *ctx), void *ctx,
                    struct retention_stats *stats, struct ad_err *err);

#endif

/*
 * held.h: an account's mail that Postfix holds (the policy server's HOLD
 * action above a soft limit) is released or deleted when its incident ends:
 * found with `postqueue -j` (hold queue, envelope sender = the account, any
 * case) and handed to `postsuper -H` (release) or `postsuper -d` (delete),
 * which need root. The lifecycle records the wish (store_held.h); `abusedesk
 * held run` carries out what is pending, `abusedesk held list|release|delete
 * ACCOUNT` works on one account at once.
 */
#ifndef AD_HELD_H
#define AD_HELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"

#define HELD_MAX_LINE (1u << 20)        /* bytes of one postqueue -j line */
#define HELD_MAX_OUTPUT (256u << 20)    /* bytes read from postqueue -j */
#define HELD_MAX_ID 32                  /* bytes of a queue id */

struct held_msg {
    /* borrowed, valid during the callback */
    const char *queue_id, *sender;
    int64_t arrival_time, size;
    size_t n_recipients;
};

/* Parses postqueue -j output (one JSON object per line) and calls fn for each
 * message in the hold queue whose sender is account (ASCII case-insensitive;
 * NULL: every held message). Lines that are not such objects, longer than
 * HELD_MAX_LINE, or with a queue id that is not 1 to HELD_MAX_ID letters and
 * digits are skipped and counted in *n_bad (may be NULL). Pure: input from
 * postqueue names senders that anybody may choose. Returns the number of
 * messages passed to fn. */
size_t held_parse(const char *text, size_t len, const char *account,
                  void (*fn)(const struct held_msg *m, void *ctx), void *ctx, size_t *n_bad);

/* Runs postqueue -j ([held] postqueue and config_directory) and calls fn for
 * each of account's held messages (every held message when account is NULL);
 * *n how many. AD_ERR_BUSY when postqueue could not run or failed. */
int held_scan(const struct config *cfg, const char *account,
              void (*fn)(const struct held_msg *m, void *ctx), void *ctx, size_t *n,
              struct ad_err *err);

/* The queue ids (g_malloc'd strings in a GPtrArray with g_free, caller frees)
 * of account's held mail, from postqueue -j ([held] postqueue and
 * config_directory). AD_ERR_BUSY when postqueue could not run or failed. */
int held_list(const struct config *cfg, const char *account, void *ids_gptrarray,
              struct ad_err *err);

/* Runs postsuper -H (release) or -d ... hold (delete) on ids, in batches.
 * AD_ERR_BUSY when postsuper failed (not root, no such program, ...), with
 * its output in err. */
int held_act(const struct config *cfg, const char *action, void *ids_gptrarray,
             struct ad_err *err);

/* Carries out the pending requests (only account's when not NULL): per
 * request, the account's held mail is listed and released or deleted, and
 * the request marked done with the count. Stops at the first failure (the
 * request stays pending). *n_done requests done, *n_msgs messages moved. */
int held_process(const struct config *cfg, struct store *st, const char *account, int64_t now,
                 const struct logger *log, size_t *n_done, size_t *n_msgs, struct ad_err *err);

#endif

/*
 * store_outbox.h: the outbox (queued mails) and the hook jobs (webhooks, exec
 * hooks), for src/act/outbox.c: queueing, the delivery's claim / done / error
 * steps, and the listing of `abusedesk outbox`.
 */
#ifndef AD_STORE_OUTBOX_H
#define AD_STORE_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* The two queues. */
enum store_outbox_queue { STORE_OUTBOX_MAIL, STORE_OUTBOX_HOOK };

/* At most STORE_OUTBOX_BATCH due items at once. */
#define STORE_OUTBOX_BATCH 100

/* A mail to queue; all pointers borrowed. incident_id 0: about no incident. */
struct store_outbox_mail_in {
    int64_t incident_id;
    const char *kind, *template_name, *rcpt, *subject, *message_id, *message;
    int64_t now;
};

/* Queues a mail, due at once; *id (may be NULL) gets its outbox id. */
int store_outbox_mail_add(struct store *st, const struct store_outbox_mail_in *in, int64_t *id,
                          struct ad_err *err);

/* Queues a hook job unless one with the same idem_key exists (then nothing
 * happens). incident_id 0: about no incident. */
int store_outbox_hook_add(struct store *st, int64_t incident_id, const char *kind,
                          const char *event, const char *payload, const char *idem_key,
                          int64_t now, struct ad_err *err);

/* Fills ids (room for STORE_OUTBOX_BATCH) with the items of queue due at now,
 * neither done nor failed, in the order they fall due; *n their number. */
int store_outbox_due(struct store *st, enum store_outbox_queue queue, int64_t now, int64_t *ids,
                     size_t *n, struct ad_err *err);

/* One queued item as read for delivery; strings g_malloc'd, free with
 * store_outbox_item_clear(). For a mail: kind, template_name, rcpt, message;
 * for a hook: kind, event, payload, idem_key (others NULL). */
struct store_outbox_item {
    int64_t id, incident_id, attempts, created_at;
    char *kind, *template_name, *rcpt, *message, *event, *payload, *idem_key;
};

/* Reads item id of queue: 1 when found, 0 when not, or < 0. */
int store_outbox_get(struct store *st, enum store_outbox_queue queue, int64_t id,
                     struct store_outbox_item *out, struct ad_err *err);
void store_outbox_item_clear(struct store_outbox_item *it);

/* The delivery's steps, each in a transaction of its own. claim counts one
 * attempt and pushes the item back to next_at, if it is still due at now:
 * returns 1 when claimed, 0 when another flusher has it or it is no longer
 * due, or < 0. done marks it delivered at now; error records msg and, with
 * failed, gives it up. */
int store_outbox_claim(struct store *st, enum store_outbox_queue queue, int64_t id,
                       int64_t next_at, int64_t now, struct ad_err *err);
int store_outbox_done(struct store *st, enum store_outbox_queue queue, int64_t id, int64_t now,
                      struct ad_err *err);
int store_outbox_error(struct store *st, enum store_outbox_queue queue, int64_t id,
                       const char *msg, bool failed, struct ad_err *err);

/* One row of the listing; strings borrowed for the callback's duration.
 * Mails: template_name, rcpt, subject, bounced; hooks: kind, event, idem_key.
 * done: sent (mail) or done (hook), done_at then valid. */
struct store_outbox_row {
    int64_t id, incident_id;   /* incident 0: none */
    const char *kind, *event, *idem_key, *template_name, *rcpt, *subject, *last_error;
    int64_t attempts, next_at, created_at, done_at;
    bool done, failed, bounced;
};

/* Calls fn for the items of queue, newest first: all of them, or (all false)
 * only those pending and the bounced mails. fn must not use the store; it
 * returns non-zero to stop. */
int store_outbox_each(struct store *st, enum store_outbox_queue queue, bool all,
                      int (*fn)(const struct store_outbox_row *row, void *ctx), void *ctx,
                      struct ad_err *err);

#endif

/*
 * outbox.h: what the desk sends to the world, queued in the store in the same
 * transaction as the decision that caused it and delivered afterwards, with
 * retries: mails (customer notifications, team alerts) to the smarthost, and
 * hook jobs (the lock and unlock commands, webhooks) to the provider's systems.
 * Delivery is at least once: a crash after a server accepted something but
 * before it was marked done sends it again; mails carry a stable Message-ID and
 * webhooks an idempotency key so that receivers can drop the repeat.
 */
#ifndef AD_OUTBOX_H
#define AD_OUTBOX_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"

/* Renders template NAME in language lang with vars (template.h), builds the
 * mail (From [notify] desk_name <from>, To to_name <to>, Reply-To, Subject,
 * Date, Message-ID, Auto-Submitted: auto-generated, X-Abusedesk-Incident,
 * UTF-8 text in quoted-printable) and queues it, due now. kind is "customer" or
 * "team". *outbox_id may be NULL. Inside the caller's transaction. */
int outbox_mail(const struct config *cfg, struct store *st, int64_t incident_id, const char *kind,
                const char *template_name, const char *lang, GHashTable *vars, const char *to,
                const char *to_name, int64_t now, int64_t *outbox_id, struct ad_err *err);

/* Queues the lock or unlock hooks that are configured ([act] lock_command /
 * unlock_command, webhook_url) for one lock: event "lock" or "unlock", payload
 * the event's JSON object (borrowed). The idempotency key is
 * "<event>-<lock_id>-<kind>". Inside the caller's transaction. */
int outbox_hooks(const struct config *cfg, struct store *st, int64_t incident_id,
                 const char *event, int64_t lock_id, json_t *payload, int64_t now,
                 struct ad_err *err);

/* Queues one webhook event (for alerts) when a webhook is configured. */
int outbox_webhook(const struct config *cfg, struct store *st, int64_t incident_id,
                   const char *event, const char *key, json_t *payload, int64_t now,
                   struct ad_err *err);

struct outbox_stats {
    size_t mails_sent, mails_failed, mails_retry;
    size_t hooks_done, hooks_failed, hooks_retry;
};

/* Delivers what is due at now: each item is claimed first (attempts + 1, next
 * try pushed back, committed), then sent, then marked done, so that a kill at
 * any point leaves it queued. Failures are retried with doubling waits from
 * [act] retry_min to retry_max; after [act] give_up_after an item is marked
 * failed and audited. Opens and commits its own transactions: call outside one.
 * Returns 0 unless the store failed. */
int outbox_flush(const struct config *cfg, struct store *st, const struct logger *log, int64_t now,
                 struct outbox_stats *stats, struct ad_err *err);

/* Calls fn for each queued item, newest first, as a JSON object {type ("mail" or
 * "hook"), id, incident_id, what, to, state ("pending", "sent", "done",
 * "failed"), attempts, next_at, last_error, created_at, done_at}; all=false
 * lists only what is not delivered yet. */
int outbox_each(struct store *st, bool all, int (*fn)(json_t *item, void *ctx), void *ctx,
                struct ad_err *err);

#endif

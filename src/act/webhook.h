/*
 * webhook.h: posts a JSON event to the provider's provisioning system, signed
 * with HMAC-SHA256 (libsodium) over "timestamp.body" with a shared secret, with
 * an idempotency key the receiver uses to drop repeats (delivery is at least once).
 */
#ifndef AD_WEBHOOK_H
#define AD_WEBHOOK_H

#include <stdint.h>

#include "util/err.h"

struct webhook_cfg {
    const char *url;            /* http:// or https:// */
    const char *secret;         /* shared secret; NULL or "": unsigned */
    long timeout_ms;
};

/* POSTs body with the headers
 *   Content-Type: application/json
 *   X-Abusedesk-Event: <event>            ("lock", "unlock", "alert", ...)
 *   X-Abusedesk-Delivery: <key>           the idempotency key, same on every retry
 *   X-Abusedesk-Timestamp: <unix seconds>
 *   X-Abusedesk-Signature: sha256=<hex HMAC-SHA256(secret, timestamp "." body)>
 * Returns 0 on a 2xx answer; AD_ERR_BUSY when it is worth retrying (no
 * connection, timeout, 408, 429, 5xx); AD_ERR_PARSE for other answers (the
 * receiver refuses it: retrying will not help). err says which. */
int webhook_post(const struct webhook_cfg *c, const char *event, const char *key,
                 const char *body, struct ad_err *err);

/* The signature value for timestamp ts and body ("sha256=" + 64 hex digits),
 * g_malloc'd; what a receiver recomputes. */
char *webhook_signature(const char *secret, int64_t ts, const char *body);

#endif

/*
 * mailer.h: hands one finished RFC 5322 message to the configured smarthost over
 * SMTP with libcurl (STARTTLS when offered or required, optional AUTH), for the
 * outbox. One connection per message: notifications are few.
 */
#ifndef AD_MAILER_H
#define AD_MAILER_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

struct mailer_cfg {
    const char *smarthost;      /* "smtp://127.0.0.1:25", "smtps://mail.example.net:465" */
    const char *username;       /* NULL or "": no AUTH */
    const char *password;
    bool require_tls;           /* true: STARTTLS must succeed; false: use it when offered */
    bool verify_tls;            /* verify the server certificate (default true) */
    long timeout_ms;            /* whole transaction */
};

/* Sends msg[0..len) (LF or CRLF line ends; converted as SMTP needs, with dot
 * stuffing by libcurl) from envelope sender `from` to one recipient. Returns 0
 * when the server accepted the message; AD_ERR_BUSY for a temporary failure
 * (connection refused or timed out, 4xx reply, TLS not available yet): retry
 * later; AD_ERR_PARSE for a permanent one (5xx reply: bad recipient, rejected
 * content): do not retry. err holds the server's reply or libcurl's message. */
int mailer_send(const struct mailer_cfg *c, const char *from, const char *rcpt, const char *msg,
                size_t len, struct ad_err *err);

#endif

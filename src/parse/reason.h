/*
 * reason.h: names why a bounce happened, in the reason taxonomy used by the corpus
 * (userunknown, mailboxfull, blocked, spamdetected, badreputation, policyviolation,
 * authfailure, expired, filtered, rejected, hostunknown, ...).
 *
 * All returned strings are static constants.
 */
#ifndef AD_REASON_H
#define AD_REASON_H

#include <stdbool.h>

/* Classifies one failed recipient from what the bounce said: diag is the diagnostic
 * text (may be NULL), status the enhanced status code "5.1.1" (may be NULL),
 * command the SMTP command that failed ("RCPT", "DATA", ...; may be NULL), action
 * the DSN action ("failed", "delayed", "delivered"; may be NULL).
 * Never returns NULL: "undefined" when nothing matches. */
const char *reason_classify(const char *diag, const char *status, const char *command,
                            const char *action);

/* The status code to report when the bounce gave none: "5.0.911" style internal
 * codes keyed by reason (temporary gives the 4.0.9xx form). NULL for unknown reason. */
const char *reason_internal_status(const char *reason, bool temporary);

/* True for the reasons that mean our own outbound hosts are being refused:
 * blocked, spamdetected, badreputation, policyviolation, authfailure, requireptr. */
bool reason_is_reputation(const char *reason);

#endif

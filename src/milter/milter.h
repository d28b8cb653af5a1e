/*
 * milter.h: `abusedesk milter`, a libmilter filter for Postfix smtpd_milters
 * (submission) and non_smtpd_milters (mail that web scripts inject with
 * sendmail(1), which never passes the policy server). Per message it reads
 * {auth_authen}, X-PHP-Originating-Script and "Received: ... (Postfix, from
 * userid N)" (Postfix 3.7 does not show a milter the Received header it
 * writes itself, so for non-SMTP mail, which Postfix presents as a connection
 * from localhost port 0, the uid PHP wrote into X-PHP-Originating-Script is
 * used; over SMTP that header is anybody's and is not used); counts per
 * script (uid:path) and
 * per uid; holds (or, SMTP mail only, rejects at the end of the message)
 * mail of a locked script, uid or account with the ticket in the log; raises a finding when one
 * script or account sends the same subject or body to many recipients; tags
 * the envelope sender of [batv] domains (smfi_chgfrom); records a keyed hash
 * of the Message-ID in the outbound log. The store is read and written by one
 * thread of its own: no callback waits on it, and when it is unreachable mail
 * flows (fail open) with the locks last read.
 */
#ifndef AD_MILTER_H
#define AD_MILTER_H

#include <stdint.h>

#include "config/config.h"
#include "util/err.h"
#include "util/log.h"

/* Runs the milter until SIGTERM or SIGINT. cfg and log are borrowed for the
 * whole run. Binds [milter] listen, reads the BATV keys and the outbound log
 * key (made when missing), then drops to [milter] user. Returns 0 after a
 * clean stop, or an AD_ERR_* with err filled when it could not start. */
int milter_run(const struct config *cfg, struct logger *log, struct ad_err *err);

/* Parses the uid out of Postfix's own Received header of locally submitted
 * mail ("... (Postfix, from userid 1001) id ..."): true and the digits in uid
 * (size n) when found. Bounded; used on untrusted input. */
int milter_received_uid(const char *v, char *uid, size_t n);

/* The script subject "uid:path" for a message that Postfix took from uid (may
 * be NULL: then none) and whose X-PHP-Originating-Script said php (may be
 * NULL): the path when the header names the same uid (or none) and the path
 * is printable, without blanks, "..", or more than 255 bytes; else "uid:".
 * Written to out (size n). */
void milter_script_subject(const char *uid, const char *php, char *out, size_t n);

#endif

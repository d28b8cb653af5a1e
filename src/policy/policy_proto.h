/*
 * policy_proto.h: the Postfix SMTP access policy delegation protocol
 * (SMTPD_POLICY_README): a request is "name=value" lines ended by an empty
 * line; the answer is "action=..." and an empty line. Parsing is done on a
 * complete request in place (no copies): the server finds the empty line, hands
 * the bytes here, and gets the attributes it needs.
 */
#ifndef AD_POLICY_PROTO_H
#define AD_POLICY_PROTO_H

#include <stddef.h>

#include "util/err.h"

enum {
    POLICY_MAX_REQUEST = 32768,     /* bytes of one request, empty line included */
    POLICY_MAX_ATTRS = 128,         /* name=value lines in one request */
};

/* The attributes the rules use; each points into the request buffer (borrowed,
 * NUL-terminated there) or is NULL when absent or empty. */
struct policy_req {
    const char *request;            /* "smtpd_access_policy" */
    const char *protocol_state;     /* RCPT, DATA, END-OF-MESSAGE, VRFY, ETRN, ... */
    const char *sasl_username;
    const char *sender;
    const char *recipient;
    const char *client_address;
    const char *server_address;     /* where the MTA took the mail (Postfix 3.2+) */
    const char *instance;           /* unique per message (transaction) */
    const char *recipient_count;
    size_t n_attrs;                 /* lines seen, known or not */
};

/* Parses one complete request in buf[0..len) (which must end with the empty
 * line; LF or CRLF). buf is modified in place (NULs after names and values).
 * Returns 0, or AD_ERR_PARSE with the reason in err (a line without "=", an
 * empty name, a NUL byte, too many lines). Unknown attributes are accepted:
 * Postfix adds new ones over time. */
int policy_parse(char *buf, size_t len, struct policy_req *out, struct ad_err *err);

#endif

/*
 * report.h: the parsed form of one incoming report mail (ARF, auth-failure, DSN,
 * plain-text abuse complaint, or unknown), as produced by parse_message().
 *
 * Every string in a struct report lives in the report's own string arena
 * (r->strings) and every array is owned by the report, so one report_free()
 * releases all of it. Absent values are NULL. Strings are UTF-8, NUL-terminated.
 */
#ifndef AD_REPORT_H
#define AD_REPORT_H

#include <glib.h>

enum report_kind {
    REPORT_UNKNOWN = 0,
    REPORT_ARF,
    REPORT_AUTH_FAILURE,
    REPORT_DSN,
    REPORT_ABUSE_TEXT,
};

/* One Received: header of the original message, split into its clauses. */
struct received_hop {
    const char *from;   /* text of the from clause, e.g. "mx.example.net ([192.0.2.1])" */
    const char *by;
    const char *with;
    const char *id;
    const char *date;   /* ISO 8601 UTC when the date parsed, else NULL */
    const char *raw;    /* the whole unfolded header value */
};

/* Headers of the message the report is about (the returned/original message). */
struct original {
    const char *message_id;
    const char *subject;        /* RFC 2047 decoded */
    const char *from;           /* bare address */
    const char *to;             /* bare address of the first To: */
    const char *date;           /* ISO 8601 UTC */
    const char *return_path;    /* bare address */
    const char *authenticated_user;
    const char *php_script;
    /* What marks it as bulk mail to a list (RFC 2369/2919/8058, RFC 3834's
     * Precedence): "List-Unsubscribe", "List-Id" or "Precedence: bulk"
     * (static), or NULL. Newsletters carry these; the score weighs it. */
    const char *bulk;
    GPtrArray *received;        /* of struct received_hop *, top (newest) first */
};

/* One recipient block of a delivery status notification. */
struct dsn_rcpt {
    const char *final_recipient;    /* bare address */
    const char *original_recipient; /* bare address */
    const char *action;             /* failed, delayed, delivered, relayed, expanded */
    const char *status;             /* enhanced status code "5.1.1" */
    const char *diagnostic_code;    /* text, without the "smtp;" type prefix */
    const char *remote_mta;
    const char *reason;             /* reason name, see reason.h */
    const char *smtp_command;       /* RCPT, DATA, MAIL, ... when known */
};

struct report {
    enum report_kind kind;
    GStringChunk *strings;          /* owns every string below */

    /* ARF (RFC 5965) and auth-failure (RFC 6591) fields. */
    const char *feedback_type;
    const char *user_agent;
    const char *version;
    const char *arrival_date;       /* ISO 8601 UTC */
    const char *source_ip;
    const char *original_mail_from;
    GPtrArray *original_rcpt_to;    /* of const char * */
    GPtrArray *reported_domain;     /* of const char * */
    GPtrArray *reported_uri;        /* of const char * */
    const char *incidents;
    const char *reporting_mta;      /* ARF and DSN */
    const char *auth_failure;       /* RFC 6591 Auth-Failure */

    /* DSN (RFC 3464) and non-standard bounces. */
    GPtrArray *recipients;          /* of struct dsn_rcpt * */
    const char *dsn_format;         /* which bounce format was recognised, e.g. "rfc3464", "qmail" */

    /* Top-level headers of the report mail itself. */
    const char *subject;
    const char *from;
    const char *message_id;
    const char *date;

    /* The original message, NULL when the report carries none. */
    struct original *original;

    /* Why parsing stopped early (limit crossed, malformed MIME), NULL if it did not. */
    const char *warning;
};

/* Allocates an empty report of kind REPORT_UNKNOWN. Never returns NULL. */
struct report *report_new(void);

/* Frees r and everything it owns; accepts NULL; returns NULL. */
struct report *report_free(struct report *r);

/* Copies s (len bytes, or strlen when len < 0) into the report's arena.
 * Returns NULL when s is NULL. The copy lives as long as the report. */
const char *report_str(struct report *r, const char *s, gssize len);

/* Like report_str() but trims surrounding white space; an empty result gives NULL. */
const char *report_strtrim(struct report *r, const char *s, gssize len);

/* Allocates the report's struct original (idempotent) and returns it. */
struct original *report_original(struct report *r);

/* Appends a new zeroed recipient block and returns it (owned by r). */
struct dsn_rcpt *report_add_rcpt(struct report *r);

/* Name of a kind as used in the JSON contract: "arf", "dsn", ... */
const char *report_kind_name(enum report_kind kind);

#endif

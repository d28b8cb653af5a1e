/*
 * dsn_priv.h: what the bounce recogniser's files share (dsn.c, dsn_rfc3464.c,
 * dsn_text.c): the scratch list of recipient entries built while a bounce is read,
 * and small bounded text helpers. Not used outside src/parse/dsn*.c.
 *
 * Every string in a struct dsn_ent is GLib-allocated and owned by the entry;
 * dsn_scan_clear() frees them all. Nothing here touches the report arena: dsn.c
 * copies the final values into it once the whole bounce has been read.
 */
#ifndef AD_DSN_PRIV_H
#define AD_DSN_PRIV_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

/* Limits for hostile input. */
enum {
    DSN_MAX_DEPTH = 32,         /* MIME nesting */
    DSN_MAX_PARTS = 256,        /* MIME parts looked at */
    DSN_MAX_RCPTS = 512,        /* recipient entries kept */
    DSN_MAX_LINES = 20000,      /* lines scanned per text */
    DSN_MAX_DIAG = 4096,        /* bytes of diagnostic text kept */
    DSN_MAX_BODY = 1 << 20,     /* bytes of a text part scanned */
};

/* One failed (or delayed, delivered...) recipient as read from the bounce. */
struct dsn_ent {
    char *rcpt;         /* bare address */
    char *orig_rcpt;
    char *action;
    char *status;       /* "5.1.1" */
    char *diag;         /* whitespace-collapsed text */
    char *rmta;
    char *cmd;          /* RCPT, DATA, ... */
    const char *reason; /* static: a reason the family always means, or NULL */
    bool routed;        /* Final-Recipient was source-routed ("@relay:user@host") */
};

/* Working state for one bounce. */
struct dsn_scan {
    GPtrArray *ents;            /* of struct dsn_ent *, owned */
    char *reporting_mta;        /* owned */
    const char *format;         /* static family name */
    const char *inline_orig;    /* borrowed: points into the text body; quoted original */
    size_t inline_orig_len;
    char *notice;               /* owned: the text notice before the quoted original
                                 * (at most DSN_MAX_DIAG bytes), when it named recipients */
    bool warning;               /* the notice says delivery is still being tried */
};

void dsn_scan_init(struct dsn_scan *s);
void dsn_scan_clear(struct dsn_scan *s);

/* Appends an empty entry (owned by s), or returns NULL when DSN_MAX_RCPTS is reached. */
struct dsn_ent *dsn_ent_new(struct dsn_scan *s);

/* Finds the entry whose recipient equals addr (ASCII case-insensitive), or NULL. */
struct dsn_ent *dsn_ent_find(struct dsn_scan *s, const char *addr);

/* Replaces *field with a trimmed copy of s[0..n) (NULL or empty gives NULL). */
void dsn_set(char **field, const char *s, size_t n);

/* Appends s[0..n) to *field (separated by one space), keeping at most DSN_MAX_DIAG bytes. */
void dsn_append(char **field, const char *s, size_t n);

/* Next line: returns the length of the line at p (without its LF), and sets *next to
 * the start of the following line (end when there is none). */
size_t dsn_line(const char *p, const char *end, const char **next);

/* Case-insensitive substring search in s[0..n); returns a pointer or NULL. */
const char *dsn_memcasestr(const char *s, size_t n, const char *needle);

/* A lower-cased (ASCII only) copy of s[0..n), NUL-terminated, same offsets as s
 * (g_free). Lets a caller search one text for many phrases with dsn_lfind(). */
char *dsn_lower_dup(const char *s, size_t n);

/* Finds needle (any case; lower-cased here) in hay[0..n), which must be lower-case
 * already (dsn_lower_dup). memmem speed; returns a pointer into hay or NULL. */
const char *dsn_lfind(const char *hay, size_t n, const char *needle);

/* True when s[0..n) begins with prefix, ignoring ASCII case. */
bool dsn_hasprefix(const char *s, size_t n, const char *prefix);

/* Finds the first e-mail address in s[0..n). Returns its start and sets *alen, or NULL. */
const char *dsn_addr_find(const char *s, size_t n, size_t *alen);

/* True when addr is a mailbox another site can deliver to: a local part, an '@',
 * and a domain with a dot or an address literal. "@relay", "user@server" (an
 * unqualified internal host) and a bare local part are not. */
bool dsn_addr_routable(const char *addr);

/* dsn_addr_routable() for addr[0..n), which need not be NUL-terminated. */
bool dsn_addr_routable_n(const char *addr, size_t n);

/* The envelope recipient of a returned original whose headers are orig[0..len),
 * for a bounce whose notice names no recipient (dsn_text.c): appends one entry
 * with diag[0..diag_len) as its diagnostic. hdr_from and hdr_to are the bounce's
 * own headers (never taken as the recipient). */
void dsn_text_from_original(struct dsn_scan *s, const char *orig, size_t len, const char *hdr_from,
                            const char *hdr_to, const char *diag, size_t diag_len);

/* A bare copy of the first address in s[0..n) (g_free), or NULL when there is none. */
char *dsn_addr_dup(const char *s, size_t n);

/* Finds an enhanced status code ("5.1.1") in s; copies it to out (16 bytes).
 * strict accepts only codes whose subject and detail are non-zero ("5.1.1", not "5.0.0").
 * Returns true when found. */
bool dsn_status_find(const char *s, bool strict, char out[16]);

/* Finds an SMTP reply code (2xx-5xx followed by a space, '-' or end) in s; 0 if none. */
int dsn_reply_find(const char *s);

/* Guesses the SMTP command a diagnostic text talks about: "RCPT", "MAIL", "DATA",
 * "EHLO", "HELO" or NULL (static strings). */
const char *dsn_cmd_guess(const char *s);

/* Reads a text body in one of the non-standard bounce formats (qmail, Exim,
 * Postfix and Sendmail text, DragonFly, Gmail, Yahoo, Exchange 2003, ...).
 * body is NUL-terminated with LF line ends, len bytes; hdr_* are top-level
 * headers of the bounce (may be NULL). Appends entries to s, sets s->format and
 * s->inline_orig. Returns the number of entries added. */
int dsn_text_parse(struct dsn_scan *s, const char *body, size_t len, const char *hdr_from,
                   const char *hdr_subject, const char *hdr_to, const char *failed_rcpts);

/* Finds the start of a quoted original message (the header block after a marker
 * like "----- Original message -----") in body; sets s->inline_orig. */
void dsn_text_find_original(struct dsn_scan *s, const char *body, size_t len);

/* Reads an Amazon SES JSON notification (Bounce or Delivery) from a text body.
 * Returns the number of entries added, 0 when body is no SES notification, and
 * -1 for a notification that is not a bounce (a complaint). */
int dsn_amazonses_parse(struct dsn_scan *s, const char *body, size_t len);

/* Reads RFC 3464 fields (Reporting-MTA, Final-Recipient, Action, Status, ...) from
 * text (LF line ends, len bytes) and appends one entry per recipient block.
 * Returns the number of entries added. */
int dsn_rfc3464_fields(struct dsn_scan *s, const char *text, size_t len);

/* The reason a large provider means by its reply, keyed by the remote MTA's host
 * name (rmta, a Remote-MTA value; may be NULL), else the recipient's domain, else
 * the reporting MTA (lmta, may be NULL; the provider's own bounce):
 * Yahoo, Outlook.com, au (KDDI), NTT docomo, Orange/La Poste, MessageLabs. diag is the
 * diagnostic text, status the delivery-status field and cmd the SMTP command
 * (both may be NULL). Returns a static reason name, or NULL when the provider is
 * unknown or its text is not in its table. */
const char *dsn_rhost_reason(const char *rmta, const char *rcpt, const char *lmta, const char *diag,
                             const char *status, const char *cmd);

#endif

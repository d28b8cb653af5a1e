/*
 * mimetree.h: a zero-copy MIME structure scanner over one normalised message (LF
 * line ends). It finds each part's header block and body, its content type,
 * parameters and transfer encoding, splits multiparts at their boundaries and
 * descends into message/rfc822 parts. Decoding (base64, quoted-printable, RFC 2047,
 * charsets, dates, addresses) is left to GMime's codec functions.
 *
 * Written by hand, not with GMime's parser, for speed: GMime builds a GObject for
 * every part and header, which alone costs about 44 µs for an average report here
 * (measured over shared/corpus, 22,700 messages/s), more than the whole budget of
 * the parse benchmark. This scanner only records offsets into the caller's buffer.
 */
#ifndef AD_MIMETREE_H
#define AD_MIMETREE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/arena.h"

enum mime_cte { MIME_CTE_IDENTITY, MIME_CTE_BASE64, MIME_CTE_QP, MIME_CTE_UUENCODE };

struct mime_part {
    const char *hdr;            /* header block, LF line ends, without the blank line */
    size_t hdr_len;
    const char *body;           /* body as transported (still encoded) */
    size_t body_len;
    char type[32], subtype[64]; /* lowercase; text/plain when absent */
    const char *boundary;       /* multipart boundary (arena), or NULL */
    const char *charset;        /* lowercase (arena), or NULL */
    const char *report_type;    /* multipart/report's report-type (arena), or NULL */
    enum mime_cte cte;
    unsigned depth;
    struct mime_part *child;    /* first subpart of a multipart */
    struct mime_part *next;     /* next sibling */
    struct mime_part *message;  /* root of an embedded message/rfc822 (or global) */
};

struct mime_limits {
    unsigned max_depth;
    unsigned max_parts;
};

/* Scans text[0..len) (LF line ends) into a part tree allocated in a. text must
 * outlive the tree (bodies point into it, except decoded embedded messages, which
 * live in a). Never fails: malformed structure gives fewer or shorter parts.
 * *n_parts (may be NULL) receives the number of parts; *truncated is set when a
 * limit stopped the scan. */
struct mime_part *mime_scan(struct arena *a, const char *text, size_t len,
                            const struct mime_limits *lim, unsigned *n_parts, bool *truncated);

/* True when part p is type/subtype ("*" matches any subtype). */
bool mime_is(const struct mime_part *p, const char *type, const char *subtype);

/* First part below root (root included, depth first) of type/subtype; descends into
 * embedded messages only when into_messages. Borrowed pointer or NULL. */
const struct mime_part *mime_find(const struct mime_part *root, const char *type,
                                  const char *subtype, bool into_messages);

/* Unfolded value of the first header name in a header block (leading and trailing
 * white space removed), copied into a; NULL when absent. Raw: not RFC 2047 decoded. */
char *mime_header(struct arena *a, const char *hdr, size_t hdr_len, const char *name);

/* Looks up several fields in one pass: out[i] gets the unfolded value of the first
 * field names[i] (in a), or NULL. */
void mime_headers(struct arena *a, const char *hdr, size_t hdr_len, const char *const *names,
                  size_t n_names, char **out);

/* Calls fn(name, name_len, value, ctx) for each header field of a block, in order,
 * with the value unfolded into a scratch buffer (valid during the call only). At most
 * max fields. fn returns non-zero to stop. */
void mime_header_each(const char *hdr, size_t hdr_len, unsigned max,
                      int (*fn)(const char *name, size_t name_len, const char *value, void *ctx),
                      void *ctx);

/* Body with the transfer encoding undone, NUL-terminated, at most max bytes, in a
 * (or the body itself when it needs no decoding and ends the buffer... always a
 * copy-free pointer is not guaranteed: treat it as read-only). NUL bytes become
 * spaces. */
const char *mime_body(struct arena *a, const struct mime_part *p, size_t max, size_t *out_len);

/* Decoded body converted to valid UTF-8 from the part's charset. In a. */
const char *mime_body_utf8(struct arena *a, const struct mime_part *p, size_t max,
                           size_t *out_len);

/* RFC 2047-decoded, valid UTF-8 copy of a raw header value, in a. */
char *mime_decode_header(struct arena *a, const char *raw);

/* g_utf8_validate() with a word-at-a-time pass over the ASCII prefix first:
 * most of a mail is ASCII, and GLib validates byte by byte. n < 0: up to NUL. */
bool mime_utf8_valid(const char *s, long n);

#endif

/*
 * mime.h: small helpers over GMime used by the recognisers: bounded search of the
 * MIME tree, decoded part content, header values.
 */
#ifndef AD_MIME_H
#define AD_MIME_H

#include <gmime/gmime.h>
#include <stdbool.h>
#include <stddef.h>

/* Maximum MIME depth and parts a search visits (hostile nesting stops there). */
#define MIME_MAX_DEPTH 32
#define MIME_MAX_PARTS 1000

/* Finds the first part below root (depth first, root included) whose content type
 * is type/subtype (case-insensitive; subtype "*" matches any). Does not descend into
 * message/rfc822 parts unless into_messages. Returns a borrowed pointer or NULL. */
GMimeObject *mime_find(GMimeObject *root, const char *type, const char *subtype,
                       bool into_messages);

/* Decoded content of a leaf part (transfer encoding undone, charset left as is),
 * NUL-terminated, g_malloc'd: caller g_free()s. At most max bytes are kept.
 * For a message/rfc822 part, the whole embedded message as text. NULL on failure. */
char *mime_part_text(GMimeObject *part, size_t max, size_t *out_len);

/* Content of a leaf part converted to UTF-8 from its declared charset (falls back
 * to the raw bytes made valid UTF-8). Caller g_free()s. */
char *mime_part_utf8(GMimeObject *part, size_t max, size_t *out_len);

/* First value of header name in list, unfolded, or NULL. Borrowed from GMime. */
const char *mime_header(GMimeHeaderList *list, const char *name);

#endif

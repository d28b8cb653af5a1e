/*
 * parse.h: the parts of an HTTP request the web process reads itself, from
 * bytes any client controls: query strings and form bodies
 * (application/x-www-form-urlencoded), the Cookie header, JSON bodies and ids
 * in paths. libmicrohttpd splits the request line and headers and bounds
 * their size; these parsers bound everything else (number and length of
 * parameters, valid percent escapes, valid UTF-8, no NUL) and never crash on
 * any input (fuzz/fuzz_web.c).
 */
#ifndef AD_WEB_PARSE_H
#define AD_WEB_PARSE_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define WEB_PARSE_MAX_PARAMS 64     /* pairs in a query string or form */
#define WEB_PARSE_MAX_KEY 64        /* bytes of a key, decoded */
#define WEB_PARSE_MAX_VALUE 8192    /* bytes of a value, decoded */
#define WEB_PARSE_MAX_COOKIE 256    /* bytes of one cookie's value */

struct web_kv {
    char *key, *value;          /* decoded, NUL-terminated, valid UTF-8 */
};

/* Parses s (len bytes; "a=1&b=x+y%21", a leading '?' allowed) into *out, a new
 * GPtrArray of struct web_kv (freed with g_ptr_array_free(.., TRUE)). A key
 * without '=' has the value "". Empty pairs ("a=1&&b=2") are skipped.
 * AD_ERR_PARSE for a bad escape, NUL, invalid UTF-8 or an empty key;
 * AD_ERR_LIMIT for too many or too long parameters. *out is NULL on error. */
int web_parse_form(const char *s, size_t len, GPtrArray **out, struct ad_err *err);

/* The value of the first pair named key, or NULL (borrowed from kv). */
const char *web_kv_get(const GPtrArray *kv, const char *key);

/* The value of cookie name in a Cookie header ("a=1; b=2") copied into out
 * (size bytes, NUL-terminated): true when present, of printable ASCII
 * without quotes, and shorter than size. */
bool web_parse_cookie(const char *header, const char *name, char *out, size_t size);

/* A JSON request body (len bytes): an object, or an empty body taken as {}.
 * *out is a new reference. AD_ERR_PARSE with the parser's message. */
int web_parse_json(const char *s, size_t len, json_t **out, struct ad_err *err);

/* A positive decimal id without sign or leading zeros, at most 15 digits. */
bool web_parse_id(const char *s, size_t len, int64_t *id);

#endif

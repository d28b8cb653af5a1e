/*
 * fuzz_web.c: libFuzzer target for what the web process parses by hand
 * (web/parse.c): the input is split at its first two NUL bytes into a query
 * string or form body, a Cookie header and a JSON body (a missing part is
 * empty). Every parser must return bounded, well-formed results (at most
 * WEB_PARSE_MAX_PARAMS pairs of valid UTF-8 without NUL, non-empty keys; a
 * cookie value of printable ASCII shorter than its buffer; a JSON object or
 * an error) and never crash. The bytes are handed over as exact-size buffers
 * without a terminating NUL where the API takes a length.
 */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    const char *nul1 = memchr(p, '\0', size);
    size_t qlen = nul1 ? (size_t)(nul1 - p) : size;
    const char *rest = nul1 ? nul1 + 1 : p + size;
    size_t rlen = size - (size_t)(rest - p);
    const char *nul2 = memchr(rest, '\0', rlen);
    size_t clen = nul2 ? (size_t)(nul2 - rest) : rlen;
    const char *json = nul2 ? nul2 + 1 : rest + rlen;
    size_t jlen = size - (size_t)(json - p);

    char *q = malloc(qlen ? qlen : 1);
    if (!q)
        return 0;
    memcpy(q, p, qlen);
    GPtrArray *kv = NULL;
    if (web_parse_form(q, qlen, &kv, NULL) == 0) {
        if (!kv || kv->len > WEB_PARSE_MAX_PARAMS)
            abort();
        for (guint i = 0; i < kv->len; i++) {
            const struct web_kv *e = g_ptr_array_index(kv, i);
            if (!*e->key || strlen(e->key) > WEB_PARSE_MAX_KEY
                || strlen(e->value) > WEB_PARSE_MAX_VALUE || !g_utf8_validate(e->key, -1, NULL)
                || !g_utf8_validate(e->value, -1, NULL))
                abort();
        }
        if (kv->len && web_kv_get(kv, ((const struct web_kv *)g_ptr_array_index(kv, 0))->key)
                           == NULL)
            abort();
        g_ptr_array_free(kv, TRUE);
    } else if (kv) {
        abort();
    }
    free(q);

    char *cookie = g_strndup(rest, clen);     /* a header is a C string */
    char out[WEB_PARSE_MAX_COOKIE];
    static const char *const names[] = { "ad_session", "ad_login", "ad_lang", "ad_seen", "a" };
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (web_parse_cookie(cookie, names[i], out, sizeof out)) {
            size_t n = strlen(out);
            if (n >= sizeof out)
                abort();
            for (size_t k = 0; k < n; k++)
                if (out[k] <= ' ' || out[k] > '~' || out[k] == '"' || out[k] == ';')
                    abort();
        }
    }
    g_free(cookie);

    char *j = malloc(jlen ? jlen : 1);
    if (!j)
        return 0;
    memcpy(j, json, jlen);
    json_t *o = NULL;
    if (web_parse_json(j, jlen, &o, NULL) == 0) {
        if (!json_is_object(o))
            abort();
        json_decref(o);
    } else if (o) {
        abort();
    }
    int64_t id;
    if (web_parse_id(j, jlen < 32 ? jlen : 32, &id) && id <= 0)
        abort();
    free(j);
    return 0;
}

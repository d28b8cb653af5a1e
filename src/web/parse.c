/*
 * parse.c: query strings, forms, cookies, JSON bodies and path ids of web
 * requests (see parse.h). Written by hand because libmicrohttpd's own argument
 * parsing neither bounds the number of parameters nor rejects malformed
 * escapes, and its post processor is more than a login form needs. Everything
 * returned is owned by the caller; on error nothing is returned.
 */
#include "parse.h"

#include <string.h>

static void kv_free(gpointer p)
{
    struct web_kv *kv = p;
    g_free(kv->key);
    g_free(kv->value);
    g_free(kv);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..len) ('+' is a space) into a new string of at most max
 * bytes; NULL with err on a bad escape, NUL, invalid UTF-8 or overlength. */
static char *decode(const char *s, size_t len, size_t max, struct ad_err *err)
{
    GString *o = g_string_sized_new(len < 64 ? len + 1 : 64);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int a = i + 1 < len ? hexval(s[i + 1]) : -1;
            int b = i + 2 < len ? hexval(s[i + 2]) : -1;
            int h = a < 0 || b < 0 ? -1 : a * 16 + b;
            if (h < 0) {
                g_string_free(o, TRUE);
                ad_err_set(err, AD_ERR_PARSE, "malformed %%-escape");
                return NULL;
            }
            c = (char)h;
            i += 2;
        }
        if (c == '\0') {
            g_string_free(o, TRUE);
            ad_err_set(err, AD_ERR_PARSE, "NUL in a parameter");
            return NULL;
        }
        if (o->len >= max) {
            g_string_free(o, TRUE);
            ad_err_set(err, AD_ERR_LIMIT, "a parameter is longer than %zu bytes", max);
            return NULL;
        }
        g_string_append_c(o, c);
    }
    if (!g_utf8_validate(o->str, (gssize)o->len, NULL)) {
        g_string_free(o, TRUE);
        ad_err_set(err, AD_ERR_PARSE, "a parameter is not valid UTF-8");
        return NULL;
    }
    return g_string_free(o, FALSE);
}

int web_parse_form(const char *s, size_t len, GPtrArray **out, struct ad_err *errp)
{
    struct ad_err local = { 0 }, *err = &local;
    *out = NULL;
    GPtrArray *a = g_ptr_array_new_with_free_func(kv_free);
    size_t i = 0;
    if (len && s[0] == '?')
        i = 1;
    while (i < len) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - s) : len;
        if (end > i) {
            const char *eq = memchr(s + i, '=', end - i);
            size_t klen = eq ? (size_t)(eq - (s + i)) : end - i;
            if (a->len >= WEB_PARSE_MAX_PARAMS) {
                ad_err_set(err, AD_ERR_LIMIT, "more than %d parameters", WEB_PARSE_MAX_PARAMS);
                goto fail;
            }
            char *k = decode(s + i, klen, WEB_PARSE_MAX_KEY, err);
            if (!k)
                goto fail;
            if (!*k) {
                g_free(k);
                ad_err_set(err, AD_ERR_PARSE, "a parameter without a name");
                goto fail;
            }
            char *v = eq ? decode(eq + 1, end - (size_t)(eq + 1 - s), WEB_PARSE_MAX_VALUE, err)
                         : g_strdup("");
            if (!v) {
                g_free(k);
                goto fail;
            }
            struct web_kv *kv = g_new(struct web_kv, 1);
            kv->key = k;
            kv->value = v;
            g_ptr_array_add(a, kv);
        }
        i = end + 1;
    }
    *out = a;
    return 0;
fail:
    g_ptr_array_free(a, TRUE);
    if (errp)
        *errp = local;
    return local.code ? local.code : AD_ERR_PARSE;
}

const char *web_kv_get(const GPtrArray *kv, const char *key)
{
    for (guint i = 0; kv && i < kv->len; i++) {
        const struct web_kv *p = g_ptr_array_index((GPtrArray *)kv, i);
        if (!strcmp(p->key, key))
            return p->value;
    }
    return NULL;
}

bool web_parse_cookie(const char *h, const char *name, char *out, size_t size)
{
    size_t nlen = strlen(name);
    if (!h || !nlen || size == 0)
        return false;
    const char *p = h;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        const char *start = p;
        while (*p && *p != ';')
            p++;
        size_t l = (size_t)(p - start);
        if (l > nlen && !strncmp(start, name, nlen) && start[nlen] == '=') {
            const char *v = start + nlen + 1;
            size_t vl = l - nlen - 1;
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            if (vl >= size)
                return false;
            for (size_t k = 0; k < vl; k++)
                if (v[k] <= ' ' || v[k] > '~' || v[k] == '"' || v[k] == '\\' || v[k] == ',')
                    return false;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return true;
        }
    }
    return false;
}

int web_parse_json(const char *s, size_t len, json_t **out, struct ad_err *err)
{
    *out = NULL;
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
        i++;
    if (i == len) {
        *out = json_object();
        return 0;
    }
    json_error_t je;
    json_t *o = json_loadb(s, len, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return ad_err_set(err, AD_ERR_PARSE, "JSON body: %s (line %d)", je.text, je.line);
    if (!json_is_object(o)) {
        json_decref(o);
        return ad_err_set(err, AD_ERR_PARSE, "JSON body: expected an object");
    }
    *out = o;
    return 0;
}

bool web_parse_id(const char *s, size_t len, int64_t *id)
{
    if (len == 0 || len > 15 || s[0] == '0')
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *id = v;
    return true;
}

/*
 * mime.c: bounded walks and content extraction over GMime objects, shared by the
 * ARF, DSN and complaint recognisers. Searches stop at MIME_MAX_DEPTH and
 * MIME_MAX_PARTS so hostile nesting costs bounded time. Returned strings are
 * g_malloc'd and owned by the caller; returned GMime objects are borrowed.
 */
#include "mime.h"

#include <stdbool.h>
#include <string.h>

struct walk {
    const char *type, *subtype;
    bool into_messages;
    unsigned n_parts;
};

static bool type_matches(GMimeObject *obj, const char *type, const char *subtype)
{
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    if (!ct)
        return false;
    const char *t = g_mime_content_type_get_media_type(ct);
    const char *s = g_mime_content_type_get_media_subtype(ct);
    if (!t || !s || g_ascii_strcasecmp(t, type) != 0)
        return false;
    return strcmp(subtype, "*") == 0 || g_ascii_strcasecmp(s, subtype) == 0;
}

static GMimeObject *walk_find(struct walk *w, GMimeObject *obj, unsigned depth)
{
    if (!obj || depth > MIME_MAX_DEPTH || ++w->n_parts > MIME_MAX_PARTS)
        return NULL;
    if (type_matches(obj, w->type, w->subtype))
        return obj;
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; i++) {
            GMimeObject *hit = walk_find(w, g_mime_multipart_get_part(mp, i), depth + 1);
            if (hit)
                return hit;
        }
    } else if (GMIME_IS_MESSAGE_PART(obj) && w->into_messages) {
        GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        if (m)
            return walk_find(w, g_mime_message_get_mime_part(m), depth + 1);
    }
    return NULL;
}

GMimeObject *mime_find(GMimeObject *root, const char *type, const char *subtype,
                       bool into_messages)
{
    struct walk w = { type, subtype, into_messages, 0 };
    return walk_find(&w, root, 0);
}

char *mime_part_text(GMimeObject *part, size_t max, size_t *out_len)
{
    GMimeStream *mem = g_mime_stream_mem_new();
    char *out = NULL;

    if (GMIME_IS_PART(part)) {
        GMimeDataWrapper *dw = g_mime_part_get_content(GMIME_PART(part));
        if (dw && g_mime_data_wrapper_write_to_stream(dw, mem) < 0)
            goto out;
    } else if (GMIME_IS_MESSAGE_PART(part)) {
        GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));
        if (m && g_mime_object_write_to_stream(GMIME_OBJECT(m), NULL, mem) < 0)
            goto out;
    } else {
        goto out;
    }
    GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    size_t n = ba->len < max ? ba->len : max;
    out = g_malloc(n + 1);
    if (n > 0)
        memcpy(out, ba->data, n);
    out[n] = '\0';
    /* Embedded NULs would cut C-string scans short; the text is informational. */
    for (size_t i = 0; i < n; i++)
        if (out[i] == '\0')
            out[i] = ' ';
    if (out_len)
        *out_len = n;
out:
    g_object_unref(mem);
    return out;
}

char *mime_part_utf8(GMimeObject *part, size_t max, size_t *out_len)
{
    size_t n = 0;
    char *raw = mime_part_text(part, max, &n);
    if (!raw)
        return NULL;
    const char *charset = NULL;
    GMimeContentType *ct = g_mime_object_get_content_type(part);
    if (ct)
        charset = g_mime_content_type_get_parameter(ct, "charset");
    char *conv = NULL;
    if (charset && g_ascii_strcasecmp(charset, "utf-8") != 0 &&
        g_ascii_strcasecmp(charset, "us-ascii") != 0) {
        const char *iconv_name = g_mime_charset_iconv_name(charset);
        gsize written = 0;
        conv = g_convert_with_fallback(raw, (gssize)n, "UTF-8", iconv_name, "?", NULL,
                                       &written, NULL);
        if (conv)
            n = written;
    }
    if (!conv)
        conv = g_utf8_make_valid(raw, (gssize)n);
    else if (!g_utf8_validate(conv, (gssize)n, NULL)) {
        char *v = g_utf8_make_valid(conv, (gssize)n);
        g_free(conv);
        conv = v;
    }
    g_free(raw);
    if (out_len)
        *out_len = strlen(conv);
    return conv;
}

const char *mime_header(GMimeHeaderList *list, const char *name)
{
    if (!list)
        return NULL;
    GMimeHeader *h = g_mime_header_list_get_header(list, name);
    return h ? g_mime_header_get_value(h) : NULL;
}

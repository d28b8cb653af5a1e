/*
 * dmarc_mail.c: finds a DMARC aggregate report in a mail (see dmarc.h,
 * dmarc_mail_find()). Called by the desk worker's routing step and by
 * `abusedesk dmarc parse` for .eml files. GMime walks the MIME parts; each
 * part that is XML, gzip or zip by type or file name (at most 16) is decoded
 * and handed to dmarc_parse(). The report returned is the caller's.
 */
#include "reputation/dmarc.h"

#include <glib.h>
#include <gmime/gmime.h>
#include <string.h>

#include "parse/parse.h"

/* True when a part looks like a report by type or name. */
static bool part_candidate(GMimeObject *part)
{
    GMimeContentType *ct = g_mime_object_get_content_type(part);
    const char *type = ct ? g_mime_content_type_get_media_type(ct) : NULL;
    const char *sub = ct ? g_mime_content_type_get_media_subtype(ct) : NULL;
    if (type && sub) {
        if (!g_ascii_strcasecmp(sub, "xml") || !g_ascii_strcasecmp(sub, "gzip")
            || !g_ascii_strcasecmp(sub, "x-gzip") || !g_ascii_strcasecmp(sub, "zip")
            || !g_ascii_strcasecmp(sub, "x-zip-compressed") || !g_ascii_strcasecmp(sub, "x-zip")
            || !g_ascii_strcasecmp(sub, "gzip-compressed"))
            return true;
    }
    if (!GMIME_IS_PART(part))
        return false;
    const char *fn = g_mime_part_get_filename(GMIME_PART(part));
    if (!fn)
        return false;
    size_t n = strlen(fn);
    return (n > 4 && !g_ascii_strcasecmp(fn + n - 4, ".xml"))
           || (n > 3 && !g_ascii_strcasecmp(fn + n - 3, ".gz"))
           || (n > 4 && !g_ascii_strcasecmp(fn + n - 4, ".zip"));
}

struct find_ctx {
    struct dmarc_report *found;
    int rc;                     /* 1: none yet; < 0: the last error of a candidate */
    struct ad_err *err;
    unsigned tried;
};

static void try_part(GMimeObject *parent, GMimeObject *part, gpointer data)
{
    struct find_ctx *c = data;
    (void)parent;
    if (c->found || !GMIME_IS_PART(part) || c->tried >= 16 || !part_candidate(part))
        return;
    c->tried++;
    GMimeDataWrapper *dw = g_mime_part_get_content(GMIME_PART(part));
    if (!dw)
        return;
    GByteArray *bytes = g_byte_array_new();
    GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(bytes);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
    g_mime_data_wrapper_write_to_stream(dw, mem);
    g_object_unref(mem);
    struct ad_err e = { 0 };
    int rc = dmarc_parse(bytes->data, bytes->len, &c->found, &e);
    if (rc) {
        c->rc = rc;
        *c->err = e;
    }
    g_byte_array_free(bytes, TRUE);
}

int dmarc_mail_find(const char *msg, size_t len, struct dmarc_report **out, struct ad_err *err)
{
    *out = NULL;
    parse_init();
    GMimeStream *s = g_mime_stream_mem_new_with_buffer(msg, len);
    GMimeParser *p = g_mime_parser_new_with_stream(s);
    GMimeMessage *m = g_mime_parser_construct_message(p, NULL);
    g_object_unref(p);
    g_object_unref(s);
    if (!m)
        return 1;
    struct find_ctx c = { NULL, 1, err, 0 };
    GMimeObject *top = g_mime_message_get_mime_part(m);
    if (top && GMIME_IS_PART(top))
        try_part(NULL, top, &c);
    else
        g_mime_message_foreach(m, try_part, &c);
    g_object_unref(m);
    if (c.found) {
        *out = c.found;
        return 0;
    }
    return c.rc;
}

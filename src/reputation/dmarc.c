/*
 * dmarc.c: reads DMARC aggregate reports (see dmarc.h). Called by the desk
 * worker for every mail that carries one (src/intake/intake.c), by `abusedesk
 * dmarc parse` and by the fuzz target. A push parser (expat) over the whole
 * XML, with the element path kept as a small stack of known names; values are
 * cut to DMARC_MAX_TEXT bytes. expat rather than libxml2: it never loads
 * anything external, and refusing the DTD outright (DMARC reports have none)
 * removes entity expansion as a whole. gzip through zlib, zip through
 * minizip (zlib's contrib; libarchive would load a dozen libraries, ICU
 * among them, into every abusedesk process for this one format); both stop at DMARC_MAX_XML bytes of output, so a "zip bomb"
 * costs at most that much memory. Failures are AD_ERR_PARSE or AD_ERR_LIMIT
 * with the reason; a report returned is owned by the caller
 * (dmarc_report_free()).
 */
#include "reputation/dmarc.h"

#include <arpa/inet.h>
#include <expat.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <minizip/unzip.h>
#include <zlib.h>


enum tok {
    T_OTHER = 0, T_FEEDBACK, T_REPORT_METADATA, T_ORG_NAME, T_EMAIL, T_REPORT_ID, T_DATE_RANGE,
    T_BEGIN, T_END, T_POLICY_PUBLISHED, T_DOMAIN, T_P, T_SP, T_PCT, T_RECORD, T_ROW,
    T_SOURCE_IP, T_COUNT, T_POLICY_EVALUATED, T_DISPOSITION, T_DKIM, T_SPF, T_IDENTIFIERS,
    T_HEADER_FROM, T_ENVELOPE_FROM, T_AUTH_RESULTS, T_RESULT,
};

/* Sorted by name: tok_of() searches it. */
static const struct tok_name {
    const char *name;
    enum tok t;
} tok_names[] = {
    { "auth_results", T_AUTH_RESULTS }, { "begin", T_BEGIN }, { "count", T_COUNT },
    { "date_range", T_DATE_RANGE }, { "disposition", T_DISPOSITION }, { "dkim", T_DKIM },
    { "domain", T_DOMAIN }, { "email", T_EMAIL }, { "end", T_END },
    { "envelope_from", T_ENVELOPE_FROM }, { "feedback", T_FEEDBACK },
    { "header_from", T_HEADER_FROM }, { "identifiers", T_IDENTIFIERS },
    { "org_name", T_ORG_NAME }, { "p", T_P }, { "pct", T_PCT },
    { "policy_evaluated", T_POLICY_EVALUATED }, { "policy_published", T_POLICY_PUBLISHED },
    { "record", T_RECORD }, { "report_id", T_REPORT_ID }, { "report_metadata", T_REPORT_METADATA },
    { "result", T_RESULT }, { "row", T_ROW }, { "source_ip", T_SOURCE_IP }, { "sp", T_SP },
    { "spf", T_SPF },
};

struct xstate {
    XML_Parser p;
    struct dmarc_report *r;
    GArray *rows;
    struct dmarc_row cur;
    bool in_record, row_dkim_seen, row_spf_seen;
    enum tok stack[DMARC_MAX_DEPTH];
    int depth;                  /* elements open (may exceed the stack: then error) */
    int base;                   /* depth of <feedback>: 0, or 1 inside a stray <xs:schema> */
    char text[DMARC_MAX_TEXT + 1];
    size_t text_len;
    int err_code;
    char err_msg[200];
};

static int tok_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct tok_name *)elem)->name);
}

static enum tok tok_of(const char *name)
{
    /* A namespace prefix ("dmarc:record") is dropped: only local names count. */
    const char *colon = strrchr(name, ':');
    if (colon)
        name = colon + 1;
    const struct tok_name *t = bsearch(name, tok_names, G_N_ELEMENTS(tok_names),
                                       sizeof tok_names[0], tok_cmp);
    return t ? t->t : T_OTHER;
}

static void stop(struct xstate *x, int code, const char *msg)
{
    if (!x->err_code) {
        x->err_code = code;
        g_strlcpy(x->err_msg, msg, sizeof x->err_msg);
    }
    XML_StopParser(x->p, XML_FALSE);
}

static void row_clear(struct dmarc_row *w)
{
    g_free(w->header_from);
    g_free(w->envelope_from);
    g_free(w->dkim_domain);
    g_free(w->spf_domain);
    memset(w, 0, sizeof *w);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct xstate *x = ud;
    (void)atts;
    enum tok t = tok_of(name);
    if (x->depth == 0 && t != T_FEEDBACK) {
        /* Some reporters wrap the report in their schema's root element. */
        const char *colon = strrchr(name, ':');
        if (strcmp(colon ? colon + 1 : name, "schema")) {
            stop(x, AD_ERR_PARSE,
                 "not a DMARC aggregate report (the root element is not <feedback>)");
            return;
        }
        x->base = 1;
    } else if (x->depth == 1 && x->base == 1 && t != T_FEEDBACK) {
        t = T_OTHER;
        x->base = 2; /* nothing below counts */
    }
    if (x->depth >= DMARC_MAX_DEPTH) {
        stop(x, AD_ERR_LIMIT, "elements nested deeper than a DMARC report's");
        return;
    }
    x->stack[x->depth++] = t;
    x->text_len = 0;
    if (t == T_RECORD && x->depth - x->base == 2) {
        row_clear(&x->cur);
        x->in_record = true;
        x->row_dkim_seen = x->row_spf_seen = false;
    }
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct xstate *x = ud;
    size_t room = DMARC_MAX_TEXT - x->text_len;
    size_t n = (size_t)len < room ? (size_t)len : room;
    memcpy(x->text + x->text_len, s, n);
    x->text_len += n;
}

/* The collected text, trimmed, NUL-terminated (borrowed). */
static const char *text_of(struct xstate *x)
{
    x->text[x->text_len] = '\0';
    char *s = x->text;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* A short keyword ("pass", "none"), lower case, cut to size. */
static void keyword(char *dst, size_t size, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++)
        dst[i] = (char)g_ascii_tolower((unsigned char)s[i]);
    dst[i] = '\0';
}

static char *str_or_null(const char *s, bool lower)
{
    if (!*s)
        return NULL;
    return lower ? g_ascii_strdown(s, -1) : g_strdup(s);
}

static void set_str(char **dst, const char *s, bool lower)
{
    if (*dst)
        return; /* the first value counts */
    *dst = str_or_null(s, lower);
}

static int64_t parse_i64(const char *s)
{
    int64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (INT64_MAX - 9) / 10)
            return INT64_MAX;
        v = v * 10 + (*s - '0');
    }
    return v;
}

static uint64_t parse_count(const char *s)
{
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > DMARC_MAX_COUNT)
            return DMARC_MAX_COUNT;
    }
    return v;
}

static bool ip_ok(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static void end_record(struct xstate *x)
{
    x->in_record = false;
    if (!x->cur.source_ip[0] || x->rows->len >= DMARC_MAX_ROWS) {
        x->r->n_dropped++;
        row_clear(&x->cur);
        return;
    }
    uint64_t t = x->r->total + x->cur.count;
    x->r->total = t < x->r->total ? UINT64_MAX : t;
    g_array_append_val(x->rows, x->cur);
    memset(&x->cur, 0, sizeof x->cur); /* moved into rows */
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct xstate *x = ud;
    (void)name;
    if (x->depth <= 0)
        return;
    int d = x->depth - x->base;
    enum tok t = x->stack[x->depth - 1];
    enum tok up = x->depth >= 2 ? x->stack[x->depth - 2] : T_OTHER;
    enum tok up2 = x->depth >= 3 ? x->stack[x->depth - 3] : T_OTHER;
    struct dmarc_report *r = x->r;
    struct dmarc_row *w = &x->cur;
    const char *v = (t == T_RECORD) ? "" : text_of(x);
    if (up == T_REPORT_METADATA && d == 3) {
        if (t == T_ORG_NAME)
            set_str(&r->org_name, v, false);
        else if (t == T_EMAIL)
            set_str(&r->email, v, false);
        else if (t == T_REPORT_ID)
            set_str(&r->report_id, v, false);
    } else if (up == T_DATE_RANGE && up2 == T_REPORT_METADATA) {
        if (t == T_BEGIN)
            r->begin = parse_i64(v);
        else if (t == T_END)
            r->end = parse_i64(v);
    } else if (up == T_POLICY_PUBLISHED && d == 3) {
        if (t == T_DOMAIN)
            set_str(&r->domain, v, true);
        else if (t == T_P)
            keyword(r->p, sizeof r->p, v);
        else if (t == T_SP)
            keyword(r->sp, sizeof r->sp, v);
        else if (t == T_PCT)
            r->pct = (int)MIN(parse_i64(v), 100);
    } else if (x->in_record) {
        if (t == T_RECORD && d == 2) {
            end_record(x);
        } else if (up == T_ROW) {
            if (t == T_SOURCE_IP) {
                if (ip_ok(v))
                    g_strlcpy(w->source_ip, v, sizeof w->source_ip);
            } else if (t == T_COUNT) {
                w->count = parse_count(v);
            }
        } else if (up == T_POLICY_EVALUATED && up2 == T_ROW) {
            if (t == T_DISPOSITION)
                keyword(w->disposition, sizeof w->disposition, v);
            else if (t == T_DKIM)
                keyword(w->dkim, sizeof w->dkim, v);
            else if (t == T_SPF)
                keyword(w->spf, sizeof w->spf, v);
        } else if (up == T_IDENTIFIERS) {
            if (t == T_HEADER_FROM)
                set_str(&w->header_from, v, true);
            else if (t == T_ENVELOPE_FROM)
                set_str(&w->envelope_from, v, true);
        } else if (up == T_DKIM && up2 == T_AUTH_RESULTS && !x->row_dkim_seen) {
            if (t == T_DOMAIN)
                set_str(&w->dkim_domain, v, true);
            else if (t == T_RESULT)
                keyword(w->dkim_result, sizeof w->dkim_result, v);
        } else if (up == T_SPF && up2 == T_AUTH_RESULTS && !x->row_spf_seen) {
            if (t == T_DOMAIN)
                set_str(&w->spf_domain, v, true);
            else if (t == T_RESULT)
                keyword(w->spf_result, sizeof w->spf_result, v);
        } else if (up == T_AUTH_RESULTS) {
            if (t == T_DKIM)
                x->row_dkim_seen = true;
            else if (t == T_SPF)
                x->row_spf_seen = true;
        }
    }
    x->depth--;
    x->text_len = 0;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    stop(ud, AD_ERR_LIMIT, "a DTD (DMARC reports have none; entities are refused)");
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value,
                              int value_length, const XML_Char *base, const XML_Char *sysid,
                              const XML_Char *pubid, const XML_Char *notation)
{
    (void)name, (void)is_param, (void)value, (void)value_length, (void)base, (void)sysid;
    (void)pubid, (void)notation;
    stop(ud, AD_ERR_LIMIT, "an entity declaration (refused)");
}

bool dmarc_row_fails(const struct dmarc_row *r)
{
    return strcmp(r->dkim, "pass") != 0 && strcmp(r->spf, "pass") != 0;
}

struct dmarc_report *dmarc_report_free(struct dmarc_report *r)
{
    if (!r)
        return NULL;
    for (size_t i = 0; i < r->n_rows; i++)
        row_clear(&r->rows[i]);
    g_free(r->rows);
    g_free(r->org_name);
    g_free(r->email);
    g_free(r->report_id);
    g_free(r->domain);
    g_free(r);
    return NULL;
}

/* A DNS name we file reports under: letters, digits, '-', '_', '.', at most
 * 253 bytes, with a dot. */
static bool domain_ok(const char *d)
{
    size_t n = strlen(d);
    if (n < 3 || n > 253 || !strchr(d, '.') || d[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!g_ascii_isalnum(d[i]) && d[i] != '-' && d[i] != '_' && d[i] != '.')
            return false;
    return true;
}

int dmarc_parse_xml(const char *xml, size_t len, struct dmarc_report **out, struct ad_err *err)
{
    *out = NULL;
    if (len > DMARC_MAX_XML)
        return ad_err_set(err, AD_ERR_LIMIT, "DMARC report: more than %u bytes of XML",
                          DMARC_MAX_XML);
    struct xstate *x = g_new0(struct xstate, 1);
    x->r = g_new0(struct dmarc_report, 1);
    x->r->pct = -1;
    x->r->format = "xml";
    x->rows = g_array_new(FALSE, TRUE, sizeof(struct dmarc_row));
    x->p = XML_ParserCreate(NULL);
    int rc = 0;
    if (!x->p) {
        rc = ad_err_set(err, AD_ERR_NOMEM, "DMARC report: out of memory");
        goto out;
    }
    XML_SetUserData(x->p, x);
    XML_SetElementHandler(x->p, on_start, on_end);
    XML_SetCharacterDataHandler(x->p, on_text);
    XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
    XML_SetEntityDeclHandler(x->p, on_entity);
    /* Whole buffer at once, in slices an int can count. */
    const size_t slice = 1u << 30;
    size_t off = 0;
    enum XML_Status st = XML_STATUS_OK;
    if (len == 0 || !xml) {
        st = XML_Parse(x->p, "", 0, 1); /* "no element found" */
    } else {
        do {
            size_t n = len - off > slice ? slice : len - off;
            st = XML_Parse(x->p, xml + off, (int)n, off + n == len);
            off += n;
        } while (st == XML_STATUS_OK && off < len);
    }
    if (x->err_code) {
        rc = ad_err_set(err, x->err_code, "DMARC report: %s", x->err_msg);
    } else if (st != XML_STATUS_OK) {
        rc = ad_err_set(err, AD_ERR_PARSE, "DMARC report: bad XML at line %lu: %s",
                        (unsigned long)XML_GetCurrentLineNumber(x->p),
                        XML_ErrorString(XML_GetErrorCode(x->p)));
    } else if (!x->r->domain) {
        rc = ad_err_set(err, AD_ERR_PARSE, "DMARC report: no policy_published/domain");
    } else if (!domain_ok(x->r->domain)) {
        rc = ad_err_set(err, AD_ERR_PARSE, "DMARC report: policy_published/domain is not a "
                        "domain name");
    }
out:
    if (x->p)
        XML_ParserFree(x->p);
    row_clear(&x->cur);
    x->r->n_rows = x->rows->len;
    x->r->rows = (struct dmarc_row *)(void *)g_array_free(x->rows, FALSE);
    if (rc == 0)
        *out = x->r;
    else
        dmarc_report_free(x->r);
    g_free(x);
    return rc;
}

/* ---- decompression ------------------------------------------------------ */

static int gunzip(const unsigned char *buf, size_t len, size_t max, GByteArray *o,
                  struct ad_err *err)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK)
        return ad_err_set(err, AD_ERR_NOMEM, "DMARC report: zlib cannot start");
    int rc = 0;
    unsigned char chunk[65536];
    z.next_in = (unsigned char *)buf;
    z.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
    for (;;) {
        z.next_out = chunk;
        z.avail_out = sizeof chunk;
        int zr = inflate(&z, Z_NO_FLUSH);
        size_t got = sizeof chunk - z.avail_out;
        if (o->len + got > max) {
            rc = ad_err_set(err, AD_ERR_LIMIT, "DMARC report: gzip data unpacks to more than "
                            "%zu bytes (refused)", max);
            break;
        }
        g_byte_array_append(o, chunk, (guint)got);
        if (zr == Z_STREAM_END) {
            /* Several gzip members in a row are one stream (RFC 1952). */
            if (z.avail_in > 0 && z.next_in[0] == 0x1f) {
                inflateReset(&z);
                continue;
            }
            break;
        }
        if (zr == Z_BUF_ERROR && z.avail_in == 0) {
            rc = ad_err_set(err, AD_ERR_PARSE, "DMARC report: gzip data cut short");
            break;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = ad_err_set(err, AD_ERR_PARSE, "DMARC report: broken gzip data: %s",
                            z.msg ? z.msg : "inflate failed");
            break;
        }
    }
    inflateEnd(&z);
    return rc;
}

/* Zip archives through minizip (zlib's own contrib, nothing but zlib below it)
 * over the bytes in memory: its I/O callbacks read from struct membuf. */
struct membuf {
    const unsigned char *p;
    size_t len, pos;
};

static voidpf ZCALLBACK mem_open(voidpf opaque, const void *name, int mode)
{
    (void)name, (void)mode;
    return opaque;
}

static uLong ZCALLBACK mem_read(voidpf opaque, voidpf stream, void *buf, uLong size)
{
    (void)opaque;
    struct membuf *m = stream;
    size_t n = m->len - m->pos < size ? m->len - m->pos : size;
    memcpy(buf, m->p + m->pos, n);
    m->pos += n;
    return (uLong)n;
}

static uLong ZCALLBACK mem_write(voidpf opaque, voidpf stream, const void *buf, uLong size)
{
    (void)opaque, (void)stream, (void)buf, (void)size;
    return 0;
}

static ZPOS64_T ZCALLBACK mem_tell(voidpf opaque, voidpf stream)
{
    (void)opaque;
    return ((struct membuf *)stream)->pos;
}

static long ZCALLBACK mem_seek(voidpf opaque, voidpf stream, ZPOS64_T off, int origin)
{
    (void)opaque;
    struct membuf *m = stream;
    ZPOS64_T base = origin == ZLIB_FILEFUNC_SEEK_SET ? 0
                    : origin == ZLIB_FILEFUNC_SEEK_CUR ? m->pos : m->len;
    if (off > m->len || base + off > m->len)
        return -1;
    m->pos = (size_t)(base + off);
    return 0;
}

static int ZCALLBACK mem_close(voidpf opaque, voidpf stream)
{
    (void)opaque, (void)stream;
    return 0;
}

static int ZCALLBACK mem_error(voidpf opaque, voidpf stream)
{
    (void)opaque, (void)stream;
    return 0;
}

/* The first regular file of a zip archive (reports hold one .xml). */
static int unzip(const unsigned char *buf, size_t len, size_t max, GByteArray *o,
                 struct ad_err *err)
{
    struct membuf m = { buf, len, 0 };
    zlib_filefunc64_def ff = { mem_open, mem_read, mem_write, mem_tell, mem_seek, mem_close,
                               mem_error, &m };
    unzFile z = unzOpen2_64("report.zip", &ff);
    if (!z)
        return ad_err_set(err, AD_ERR_PARSE, "DMARC report: not a readable zip archive");
    int rc = 0;
    unsigned entries = 0;
    int zr = unzGoToFirstFile(z);
    for (; zr == UNZ_OK; zr = unzGoToNextFile(z)) {
        if (++entries > 64) {
            rc = ad_err_set(err, AD_ERR_LIMIT, "DMARC report: zip archive with more than 64 "
                            "entries");
            goto out;
        }
        unz_file_info64 fi;
        char name[256];
        if (unzGetCurrentFileInfo64(z, &fi, name, sizeof name, NULL, 0, NULL, 0) != UNZ_OK)
            break;
        size_t nl = strnlen(name, sizeof name);
        if (nl == 0 || name[nl - 1] == '/')
            continue; /* a folder */
        if (fi.uncompressed_size > max) {
            rc = ad_err_set(err, AD_ERR_LIMIT, "DMARC report: zip entry of %llu bytes, more "
                            "than %zu (refused)", (unsigned long long)fi.uncompressed_size, max);
            goto out;
        }
        if (unzOpenCurrentFile(z) != UNZ_OK) {
            rc = ad_err_set(err, AD_ERR_PARSE, "DMARC report: zip entry cannot be opened "
                            "(encrypted or an unknown method)");
            goto out;
        }
        unsigned char chunk[65536];
        int n;
        while ((n = unzReadCurrentFile(z, chunk, sizeof chunk)) > 0) {
            /* The header may lie about the size: the limit holds for what comes out. */
            if (o->len + (size_t)n > max) {
                rc = ad_err_set(err, AD_ERR_LIMIT, "DMARC report: zip entry unpacks to more "
                                "than %zu bytes (refused)", max);
                break;
            }
            g_byte_array_append(o, chunk, (guint)n);
        }
        if (rc == 0 && n < 0)
            rc = ad_err_set(err, AD_ERR_PARSE, "DMARC report: broken zip entry (%d)", n);
        /* A CRC mismatch shows at the close. */
        if (unzCloseCurrentFile(z) == UNZ_CRCERROR && rc == 0)
            rc = ad_err_set(err, AD_ERR_PARSE, "DMARC report: zip entry fails its CRC");
        goto out;
    }
    rc = ad_err_set(err, AD_ERR_PARSE, "DMARC report: zip archive without a file");
out:
    unzClose(z);
    return rc;
}

int dmarc_unpack(const void *buf, size_t len, size_t max, char **out, size_t *out_len,
                 const char **format, struct ad_err *err)
{
    const unsigned char *b = buf;
    *out = NULL;
    *out_len = 0;
    GByteArray *o = g_byte_array_new();
    int rc = 0;
    if (len >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
        *format = "gzip";
        rc = gunzip(b, len, max, o, err);
    } else if (len >= 4 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4) {
        *format = "zip";
        rc = unzip(b, len, max, o, err);
    } else {
        *format = "xml";
        if (len > max)
            rc = ad_err_set(err, AD_ERR_LIMIT, "DMARC report: more than %zu bytes", max);
        else
            g_byte_array_append(o, b, (guint)len);
    }
    if (rc) {
        g_byte_array_free(o, TRUE);
        return rc;
    }
    *out_len = o->len;
    g_byte_array_append(o, (const guint8 *)"", 1);
    *out = (char *)g_byte_array_free(o, FALSE);
    return 0;
}

int dmarc_parse(const void *buf, size_t len, struct dmarc_report **out, struct ad_err *err)
{
    *out = NULL;
    const char *format = "xml";
    const unsigned char *b = buf;
    if (!(len >= 2 && b[0] == 0x1f && b[1] == 0x8b)
        && !(len >= 4 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4))
        return dmarc_parse_xml(buf, len, out, err); /* no copy for plain XML */
    char *xml;
    size_t xlen;
    int rc = dmarc_unpack(buf, len, DMARC_MAX_XML, &xml, &xlen, &format, err);
    if (rc)
        return rc;
    rc = dmarc_parse_xml(xml, xlen, out, err);
    if (rc == 0)
        (*out)->format = format;
    g_free(xml);
    return rc;
}

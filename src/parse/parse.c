/*
 * parse.c: the parser's entry point, called by `abusedesk parse`, by intake for
 * every stored message, by the benchmarks and the fuzz target. It bounds the input,
 * normalises line endings (CRLF and CR-only mail must give the same result as LF),
 * scans the MIME structure (mimetree.c; GMime's codecs decode) and runs the
 * recognisers in order: feedback reports, bounces, free-form complaints. A mail that none of them claims is a
 * valid report of kind "unknown". Only input without any header block is refused.
 * The caller owns the returned report.
 */
#include "parse.h"

#include <gmime/gmime.h>
#include <stdbool.h>
#include <string.h>

#include "arf.h"
#include "complaint.h"
#include "dsn.h"
#include "mimetree.h"
#include "original.h"
#include "received.h"

void parse_limits_default(struct parse_limits *lim)
{
    lim->max_size = 4u * 1024 * 1024;
    lim->max_line = 64u * 1024;
    lim->max_depth = 32;
    lim->max_parts = 1000;
    lim->max_headers = 10000;
}

void parse_init(void)
{
    static gsize once = 0;
    if (g_once_init_enter(&once)) {
        g_mime_init();
        g_once_init_leave(&once, 1);
    }
}

char *parse_normalize(const char *data, size_t len, size_t *out_len)
{
    char *out = g_malloc(len + 1);
    if (len == 0) {
        out[0] = '\0';
        *out_len = 0;
        return out;
    }
    if (!memchr(data, '\r', len) && !memchr(data, '\0', len)) {
        /* The common case (LF mail, no NULs): one memcpy instead of a byte loop. */
        memcpy(out, data, len);
        out[len] = '\0';
        *out_len = len;
        return out;
    }
    /* Copy the runs between CRs at once, then fix up the rare NULs in the copy. */
    const char *p = data, *end = data + len;
    char *o = out;
    while (p < end) {
        const char *cr = memchr(p, '\r', (size_t)(end - p));
        const char *stop = cr ? cr : end;
        size_t run = (size_t)(stop - p);
        memcpy(o, p, run);
        for (char *z = memchr(o, '\0', run); z; z = memchr(z + 1, '\0', (size_t)(o + run - z - 1)))
            *z = ' ';
        o += run;
        p = stop;
        if (cr) {
            *o++ = '\n';
            p = cr + 1;
            if (p < end && *p == '\n')
                p++;
        }
    }
    *o = '\0';
    *out_len = (size_t)(o - out);
    return out;
}

/* True when text opens with a header field ("Name: value") or an mbox "From " line. */
static bool looks_like_mail(const char *text, size_t len)
{
    const char *p = text;
    while ((size_t)(p - text) < len && *p == '\n')
        p++;
    size_t rest = len - (size_t)(p - text);
    if (rest >= 5 && strncmp(p, "From ", 5) == 0)
        return true;
    size_t i = 0;
    while (i < rest && i < 128 && p[i] > ' ' && p[i] < 127 && p[i] != ':')
        i++;
    return i > 0 && i < rest && p[i] == ':';
}

/* Cuts header lines longer than max_line (a 10 MB header line would otherwise be
 * copied several times by the recognisers) and drops header lines past max_headers.
 * Only the top-level header block is touched. */
static void cut_long_header_lines(char *text, size_t *len, size_t max_line, size_t max_headers)
{
    /* First a cheap look with memchr: most mail has nothing to cut. */
    size_t n_check = 0;
    bool needed = false;
    for (const char *p = text, *end = text + *len; p < end; n_check++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t ll = (size_t)((eol ? eol : end) - p);
        if (ll == 0)
            break; /* end of the header block */
        if (ll > max_line || n_check >= max_headers) {
            needed = true;
            break;
        }
        if (!eol)
            break;
        p = eol + 1;
    }
    if (!needed)
        return;
    size_t r = 0, w = 0, line = 0, n_lines = 0;
    bool in_header = true;
    while (r < *len) {
        char c = text[r++];
        if (in_header && c == '\n') {
            if (line == 0) {
                in_header = false;
            } else if (++n_lines >= max_headers) {
                /* Endless headers: drop the rest of the block, keep the body. */
                text[w++] = c;
                while (r < *len && !(text[r] == '\n' && text[r - 1] == '\n'))
                    r++;
                line = 0;
                continue;
            }
            line = 0;
            text[w++] = c;
            continue;
        }
        if (!in_header) {
            /* The body is kept as it is: move it down in one go. */
            memmove(text + w, text + r - 1, *len - (r - 1));
            w += *len - (r - 1);
            break;
        }
        if (++line > max_line)
            continue;
        text[w++] = c;
    }
    text[w] = '\0';
    *len = w;
}

struct report *parse_message(const char *data, size_t len, const struct parse_limits *lim,
                             struct ad_err *err)
{
    struct parse_limits def;
    if (!lim) {
        parse_limits_default(&def);
        lim = &def;
    }
    /* Only a bounded prefix is parsed: the headers and the report parts come first,
     * and whatever follows max_size is an attachment we need not read. */
    bool truncated = len > lim->max_size;
    if (truncated)
        len = lim->max_size;
    parse_init();

    size_t n = 0;
    char *text = parse_normalize(data, len, &n);
    if (!looks_like_mail(text, n)) {
        g_free(text);
        ad_err_set(err, AD_ERR_PARSE, "not a mail: no RFC 5322 header block at the start");
        return NULL;
    }
    cut_long_header_lines(text, &n, lim->max_line, lim->max_headers);

    struct arena a;
    arena_init(&a, 0);
    struct mime_limits ml = { lim->max_depth, lim->max_parts };
    bool mime_truncated = false;
    /* An mbox "From " separator line (Maildir copies of mbox mail) is no header. */
    size_t skip = 0;
    if (n >= 5 && memcmp(text, "From ", 5) == 0) {
        const char *eol = memchr(text, '\n', n);
        skip = eol ? (size_t)(eol - text) + 1 : n;
    }
    const struct mime_part *root = mime_scan(&a, text + skip, n - skip, &ml, NULL, &mime_truncated);

    struct report *r = report_new();
    if (truncated)
        r->warning = "message longer than the parse limit: only its start was parsed";
    else if (mime_truncated)
        r->warning = "MIME structure deeper or larger than the parse limits: only part was read";
    static const char *const top[] = { "Subject", "Message-ID", "Date", "From" };
    char *v[4];
    mime_headers(&a, root->hdr, root->hdr_len, top, 4, v);
    r->subject = v[0] ? report_strtrim(r, mime_decode_header(&a, v[0]), -1) : NULL;
    r->message_id = v[1] ? original_address(r, v[1]) : NULL;
    r->date = v[2] ? received_iso_date(r, v[2]) : NULL;
    r->from = v[3] ? original_address(r, v[3]) : NULL;

    if (!arf_parse(r, root, &a) && !dsn_parse(r, root, &a, text, n))
        complaint_parse(r, root, &a);

    arena_free(&a);
    g_free(text);
    return r;
}

/*
 * parse.c: the parser's entry point, called by `abusedesk parse`, by intake for
 * every stored message, by the benchmarks and the fuzz target. It bounds the input,
 * normalises line endings (CRLF and CR-only mail must give the same result as LF),
 * builds the MIME tree with GMime and runs the recognisers in order: feedback
 * reports, bounces, free-form complaints. A mail that none of them claims is a
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
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == '\r') {
            if (i + 1 < len && data[i + 1] == '\n')
                i++;
            c = '\n';
        } else if (c == '\0') {
            c = ' ';
        }
        out[n++] = c;
    }
    out[n] = '\0';
    *out_len = n;
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
        if (in_header && ++line > max_line)
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

    /* The stream takes the buffer over instead of copying it: one copy of the
     * message in memory, however large it is. text stays valid while stream lives. */
    GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(
        g_byte_array_new_take((guint8 *)text, n + 1));
    g_mime_stream_set_bounds(stream, 0, (gint64)n);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    if (!msg) {
        g_object_unref(stream);
        ad_err_set(err, AD_ERR_PARSE, "not a mail: GMime found no message");
        return NULL;
    }

    struct report *r = report_new();
    if (truncated)
        r->warning = "message longer than the parse limit: only its start was parsed";
    GMimeHeaderList *h = g_mime_object_get_header_list(GMIME_OBJECT(msg));
    const char *subj = g_mime_message_get_subject(msg);
    if (subj) {
        char *valid = g_utf8_make_valid(subj, -1);
        r->subject = report_strtrim(r, valid, -1);
        g_free(valid);
    }
    r->message_id = report_strtrim(r, g_mime_message_get_message_id(msg), -1);
    GMimeHeader *hd = g_mime_header_list_get_header(h, "Date");
    if (hd)
        r->date = received_iso_date(r, g_mime_header_get_value(hd));
    InternetAddressList *from = g_mime_message_get_from(msg);
    if (from && internet_address_list_length(from) > 0) {
        InternetAddress *ia = internet_address_list_get_address(from, 0);
        if (INTERNET_ADDRESS_IS_MAILBOX(ia))
            r->from = report_str(r, internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)), -1);
    }

    if (!arf_parse(r, msg) && !dsn_parse(r, msg, text, n))
        complaint_parse(r, msg);

    g_object_unref(msg);
    g_object_unref(stream);
    return r;
}

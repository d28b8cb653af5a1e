/*
 * dmarc.h: DMARC aggregate reports (RFC 7489 appendix C, "rua"; also the
 * RFC 9990 namespace): the XML as it arrives, gzip'd or in a zip archive,
 * read into one struct dmarc_report with its rows. Everything here comes from
 * whoever sent the mail: every size is bounded (DMARC_MAX_XML bytes after
 * decompression, DMARC_MAX_ROWS rows, DMARC_MAX_TEXT bytes per value, nesting
 * depth), a DTD (and so every entity, the "billion laughs") is refused,
 * counts saturate instead of overflowing, and nothing is ever resolved (no
 * reverse DNS: addresses stay addresses).
 *
 * dmarc_mail_find() digs the report out of a mail (the attachment or the
 * body) for the desk worker; dmarc_parse() is the parser for files.
 */
#ifndef AD_DMARC_H
#define AD_DMARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define DMARC_MAX_XML (64u << 20)   /* bytes of XML after decompression */
#define DMARC_MAX_ROWS 200000       /* records kept per report */
#define DMARC_MAX_TEXT 512          /* bytes kept of one value */
#define DMARC_MAX_DEPTH 16          /* element nesting */
#define DMARC_MAX_COUNT (UINT64_C(1) << 40) /* one row's count is cut to this */

/* One <record>: a source address and what the receiver saw of its mail. */
struct dmarc_row {
    char source_ip[48];         /* as the report gave it, checked to be an address */
    uint64_t count;
    char disposition[16];       /* none, quarantine, reject ("" when absent) */
    char dkim[16], spf[16];     /* policy_evaluated: pass, fail ("" when absent) */
    char *header_from;          /* lower case; g_malloc'd or NULL */
    char *envelope_from;        /* g_malloc'd or NULL */
    char *dkim_domain;          /* first auth_results/dkim: domain, result */
    char dkim_result[16];
    char *spf_domain;           /* first auth_results/spf: domain, result */
    char spf_result[16];
};

struct dmarc_report {
    char *org_name, *email, *report_id;     /* g_malloc'd or NULL */
    int64_t begin, end;                     /* date_range, Unix seconds (0: absent) */
    char *domain;                           /* policy_published/domain, lower case */
    char p[16], sp[16];                     /* published policy */
    int pct;                                /* -1 when absent */
    struct dmarc_row *rows;
    size_t n_rows;
    size_t n_dropped;                       /* records beyond DMARC_MAX_ROWS or unreadable */
    uint64_t total;                         /* sum of the counts (saturating) */
    const char *format;                     /* "xml", "gzip", "zip" (static) */
};

/* DMARC alignment outcome of a row: true when neither DKIM nor SPF passed
 * in policy_evaluated (DMARC fail). */
bool dmarc_row_fails(const struct dmarc_row *r);

/* Parses one report from buf[0..len): gzip (1f 8b), zip ("PK\3\4") or plain
 * XML, by its first bytes. Returns 0 and *out (free with dmarc_report_free()),
 * or AD_ERR_PARSE (not a report, bad XML, bad compression) or AD_ERR_LIMIT
 * (larger than DMARC_MAX_XML, a DTD, nested too deep) with the reason in err. */
int dmarc_parse(const void *buf, size_t len, struct dmarc_report **out, struct ad_err *err);

/* The same for XML text only (no decompression). */
int dmarc_parse_xml(const char *xml, size_t len, struct dmarc_report **out, struct ad_err *err);

/* Decompresses gzip or zip data in buf[0..len) into a g_malloc'd buffer
 * (*out, *out_len; NUL-terminated), at most max bytes. Data that is neither is
 * copied. AD_ERR_LIMIT when it would be larger than max, AD_ERR_PARSE when
 * the compression is broken. *format gets "xml", "gzip" or "zip". */
int dmarc_unpack(const void *buf, size_t len, size_t max, char **out, size_t *out_len,
                 const char **format, struct ad_err *err);

/* Finds a DMARC aggregate report in the mail msg[0..len): each MIME part
 * that is XML, gzip or zip (by content type or file name), or the whole body,
 * is tried in turn; the first that parses is returned (0, *out). 1 when the
 * mail holds no report; < 0 (AD_ERR_*) when it holds one that cannot be read
 * (err says why). */
int dmarc_mail_find(const char *msg, size_t len, struct dmarc_report **out, struct ad_err *err);

/* Accepts NULL; returns NULL. */
struct dmarc_report *dmarc_report_free(struct dmarc_report *r);

#endif

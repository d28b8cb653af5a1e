/*
 * fuzz_dmarc.c: libFuzzer target for the DMARC aggregate report reader
 * (reputation/dmarc.c): any bytes, as a report file (XML, gzip or zip by
 * their first bytes) and as a mail carrying one, must be read without a crash,
 * a leak or a read outside the buffer (an exact-size copy), and a report that
 * comes out must be sane: at most DMARC_MAX_ROWS rows, counts at most
 * DMARC_MAX_COUNT, a domain, every source address non-empty.
 */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reputation/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct dmarc_report *r)
{
    if (!r->domain || r->n_rows > DMARC_MAX_ROWS)
        abort();
    for (size_t i = 0; i < r->n_rows; i++)
        if (r->rows[i].count > DMARC_MAX_COUNT || !r->rows[i].source_ip[0])
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = g_malloc(size ? size : 1);
    memcpy(copy, data, size);
    struct dmarc_report *r = NULL;
    struct ad_err err = { 0 };
    if (dmarc_parse(copy, size, &r, &err) == 0)
        check(r);
    r = dmarc_report_free(r);
    if (dmarc_mail_find(copy, size, &r, &err) == 0)
        check(r);
    dmarc_report_free(r);
    g_free(copy);
    return 0;
}

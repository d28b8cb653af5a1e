/*
 * fuzz_records.c: libFuzzer target for the SPF and DMARC record readers of
 * the domain audit (reputation/records.c): any bytes (cut at the first NUL,
 * as a TXT string arrives in C) as an SPF record and as a DMARC record must be
 * read without a crash or a read outside the string; the problem is always a
 * NUL-terminated string; every term's domain fits and prefix lengths are in
 * range; rua addresses fit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reputation/records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    static struct spf_record rec;
    char problem[120];
    memset(problem, 'x', sizeof problem);
    spf_parse(s, &rec, problem, sizeof problem);
    if (!memchr(problem, '\0', sizeof problem) || rec.n_terms > RECORDS_MAX_TERMS)
        abort();
    for (size_t i = 0; i < rec.n_terms; i++) {
        const struct spf_term *t = &rec.terms[i];
        if (!memchr(t->domain, '\0', sizeof t->domain) || t->cidr4 < 0 || t->cidr4 > 32
            || t->cidr6 < 0 || t->cidr6 > 128)
            abort();
        char buf[300];
        spf_term_text(t, buf, sizeof buf);
    }
    struct dmarc_record d;
    memset(problem, 'x', sizeof problem);
    bool ok = dmarc_record_parse(s, &d, problem, sizeof problem);
    if (!memchr(problem, '\0', sizeof problem) || d.n_rua > RECORDS_MAX_RUA)
        abort();
    if (ok && (d.pct < 0 || d.pct > 100 || !d.p[0]))
        abort();
    for (size_t i = 0; i < d.n_rua; i++)
        if (!memchr(d.rua[i], '\0', sizeof d.rua[i]))
            abort();
    free(s);
    return 0;
}

/*
 * fuzz_rbl.c: libFuzzer target for the DNSBL check's reading of untrusted DNS
 * replies (reputation/rbl.c): any bytes, read as the reply to an A query and
 * to a TXT query, must be handled without a crash or a read outside the
 * buffer (an exact-size copy), and give a sane result: at most the codes
 * asked for; a status that is clean, listed or error; an error reason that is
 * a NUL-terminated string; for every built-in list (and an unknown one) an
 * answer outside 127.0.0.0/8 or 127.0.0.1 is never a listing; a TXT text that
 * is valid UTF-8 without control characters. The bytes are also tried as a
 * zone name (the configuration check).
 */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reputation/rbl.h"
#include "reputation/rbl_zones.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_classify(const struct rbl_zone_info *info, const uint32_t *codes, size_t n)
{
    char why[200];
    memset(why, 'x', sizeof why);
    enum rbl_status st = rbl_classify(info, codes, n, why, sizeof why);
    if (st != RBL_CLEAN && st != RBL_LISTED && st != RBL_ERROR)
        abort();
    if (!memchr(why, '\0', sizeof why))
        abort();
    if ((st == RBL_CLEAN) != (n == 0))
        abort();
    for (size_t i = 0; i < n; i++)
        if (((codes[i] >> 24) != 127 || codes[i] == 0x7f000001u) && st != RBL_ERROR)
            abort(); /* never a listing */
    if (st == RBL_ERROR && why[0] == '\0')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65535)
        return 0;
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);

    uint32_t codes[RBL_MAX_CODES];
    size_t n = 99;
    size_t max = size ? 1 + data[0] % RBL_MAX_CODES : RBL_MAX_CODES;
    int rc = rbl_answer_codes(buf, (int)size, codes, max, &n);
    if (rc == 0 && (n == 0 || n > max))
        abort();
    if (rc != 0 && n != 0)
        abort();
    if (rc == 0) {
        size_t n_zones = 0;
        const struct rbl_zone_info *all = rbl_zones_all(&n_zones);
        check_classify(NULL, codes, n);
        for (size_t i = 0; i < n_zones; i++) {
            check_classify(&all[i], codes, n);
            for (size_t k = 0; k < n; k++)
                (void)rbl_zones_meaning(&all[i], codes[k]);
        }
    }

    char *text = rbl_answer_text(buf, (int)size);
    if (text) {
        if (!g_utf8_validate(text, -1, NULL) || !*text)
            abort();
        if (g_utf8_strlen(text, -1) > RBL_TEXT_MAX_CHARS + 1)
            abort();
        for (const unsigned char *p = (const unsigned char *)text; *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                abort();
        g_free(text);
    }

    /* The same bytes as a zone name. */
    char *zone = g_strndup((const char *)data, size > 300 ? 300 : size);
    size_t key = 0;
    const struct rbl_zone_info *info = rbl_zones_find(zone, &key);
    if (info && key >= strlen(zone))
        abort();
    const char *why = rbl_zones_problem(zone);
    if (!why) {
        struct rbl_addr a = { 0 };
        a.v6 = true;
        char q[300];
        if (!rbl_qname(&a, zone, q, sizeof q))
            abort(); /* an accepted zone always has room for an IPv6 query */
    }
    g_free(zone);
    free(buf);
    return 0;
}

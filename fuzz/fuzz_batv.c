/*
 * fuzz_batv.c: libFuzzer target for the BATV tag parser and checker
 * (batv/batv.c): any bytes, as an address, must be parsed without a crash or a
 * read outside the buffer (an exact-size copy); a tag found points inside the
 * input, with a key 0-9, a day 0-999 and six lower-case hex digits; the check
 * returns a known status and a NUL-terminated original. The bytes are also
 * read as a key file, and an address that parses is signed and checked back.
 */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batv/batv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char keytext[] =
    "3 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff 100\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size ? size : 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    struct batv_tag t;
    int rc = batv_parse(in, size, &t);
    if (rc == 1) {
        if (t.key < 0 || t.key > 9 || t.day < 0 || t.day > 999 || strlen(t.sig) != 6)
            abort();
        if (t.orig < in || t.orig + t.orig_len > in + size || !t.orig_len)
            abort();
        for (int i = 0; i < 6; i++)
            if (!g_ascii_isxdigit(t.sig[i]) || g_ascii_isupper(t.sig[i]))
                abort();
    } else if (rc != 0 && rc != AD_ERR_PARSE && rc != AD_ERR_LIMIT) {
        abort();
    }
    struct batv_keys keys;
    struct ad_err err = { 0 };
    if (batv_keys_parse(keytext, strlen(keytext), &keys, &err) != 0)
        abort();
    char orig[64];
    memset(orig, 'x', sizeof orig);
    enum batv_status s = batv_check(&keys, in, size, 1780000000LL, 7 * 86400, orig, sizeof orig);
    if (s > BATV_EXPIRED)
        abort();
    if (s == BATV_VALID && !memchr(orig, '\0', sizeof orig))
        abort();
    char tagged[BATV_MAX_ADDR + 32];
    if (batv_sign(&keys, in, size, 1780000000LL, 7 * 86400, tagged, sizeof tagged, &err) == 0
        && batv_check(&keys, tagged, strlen(tagged), 1780000000LL, 7 * 86400, NULL, 0)
               != BATV_VALID)
        abort();
    struct batv_keys fk;
    (void)batv_keys_parse(in, size, &fk, &err);
    if (fk.n > BATV_MAX_KEYS)
        abort();
    char *doms[] = { "customer.example", NULL };
    char *z = g_strndup(in, size);
    (void)batv_address_listed(doms, z);
    (void)batv_bounce_sender(z);
    g_free(z);
    free(in);
    return 0;
}

/*
 * outbound.c: the outbound log's key file and Message-ID hash (see
 * outbound.h). Called by the milter at start (before it drops privileges) and
 * per message, and by classify. Errors come back in err; nothing is logged.
 */
#include "outbound.h"

#include <glib.h>
#include <sodium.h>
#include <string.h>

#include "util/fsutil.h"

int outbound_key_load(const char *path, bool create, unsigned char key[OUTBOUND_KEY_BYTES],
                      struct ad_err *err)
{
    if (sodium_init() < 0)
        return ad_err_set(err, AD_ERR_IO, "libsodium could not be initialised");
    if (!path || !*path)
        return ad_err_set(err, AD_ERR_CONFIG, "[outbound] key_file is not set");
    if (create && !g_file_test(path, G_FILE_TEST_EXISTS)) {
        unsigned char k[OUTBOUND_KEY_BYTES];
        char hex[2 * OUTBOUND_KEY_BYTES + 2];
        randombytes_buf(k, sizeof k);
        sodium_bin2hex(hex, sizeof hex, k, sizeof k);
        strcat(hex, "\n");
        int rc = fs_write_durable(path, hex, strlen(hex), err);
        sodium_memzero(k, sizeof k);
        sodium_memzero(hex, sizeof hex);
        if (rc)
            return rc;
    }
    char *text = NULL;
    gsize len = 0;
    GError *ge = NULL;
    if (!g_file_get_contents(path, &text, &len, &ge)) {
        int rc = ad_err_set(err, AD_ERR_IO, "outbound log key: %s", ge->message);
        g_error_free(ge);
        return rc;
    }
    size_t got = 0;
    int rc = 0;
    if (sodium_hex2bin(key, OUTBOUND_KEY_BYTES, text, len, " \t\r\n", &got, NULL) != 0
        || got != OUTBOUND_KEY_BYTES)
        rc = ad_err_set(err, AD_ERR_PARSE, "outbound log key %s: want 64 hex digits", path);
    sodium_memzero(text, len);
    g_free(text);
    return rc;
}

bool outbound_hash(const unsigned char key[OUTBOUND_KEY_BYTES], const char *msgid, size_t len,
                   int64_t *h)
{
    *h = 0;
    if (!msgid)
        return false;
    while (len && g_ascii_isspace(*msgid)) {
        msgid++;
        len--;
    }
    while (len && g_ascii_isspace(msgid[len - 1]))
        len--;
    if (len >= 2 && msgid[0] == '<' && msgid[len - 1] == '>') {
        msgid++;
        len -= 2;
    }
    if (!len || len > OUTBOUND_MAX_MSGID)
        return false;
    unsigned char out[8];
    crypto_generichash(out, sizeof out, (const unsigned char *)msgid, len, key,
                       OUTBOUND_KEY_BYTES);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | out[i];
    *h = (int64_t)v;
    return true;
}

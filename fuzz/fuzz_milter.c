/*
 * fuzz_milter.c: libFuzzer target for what the milter reads from mail
 * (milter/milter.c) and the outbound log hash (outbound/outbound.c): any
 * bytes, as a Received header value, must give no uid or a uid of 1-10
 * digits; as an X-PHP-Originating-Script value (with and without a uid of our
 * own) a script subject that starts with that uid and a ':' and holds no
 * blank or control character after it; as a Message-ID a hash, or none for an
 * empty or over-long one, and the same hash with <> around it.
 */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "milter/milter.h"
#include "outbound/outbound.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = g_strndup((const char *)data, size); /* a header value ends at NUL */
    char uid[16];
    memset(uid, 'x', sizeof uid);
    if (milter_received_uid(v, uid, sizeof uid)) {
        size_t n = strnlen(uid, sizeof uid);
        if (n == 0 || n > 10)
            abort();
        for (size_t i = 0; i < n; i++)
            if (!g_ascii_isdigit(uid[i]))
                abort();
    }
    char out[300];
    milter_script_subject("1001", v, out, sizeof out);
    if (strncmp(out, "1001:", 5) != 0)
        abort();
    for (const char *p = out + 5; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p == 0x7f)
            abort();
    milter_script_subject(NULL, v, out, sizeof out);
    if (out[0])
        abort();
    unsigned char key[OUTBOUND_KEY_BYTES] = { 1, 2, 3 };
    int64_t h1 = 0, h2 = 0;
    size_t len = strlen(v);
    bool ok = outbound_hash(key, v, len, &h1);
    if (ok && len < 900) {
        char *b = g_strdup_printf("<%s>", v);
        bool ok2 = outbound_hash(key, b, strlen(b), &h2);
        /* "<x>" hashes as "x" unless x itself was bracketed or blank-padded */
        if (ok2 && v[0] != '<' && !g_ascii_isspace(v[0]) && len && !g_ascii_isspace(v[len - 1])
            && h1 != h2)
            abort();
        g_free(b);
    }
    g_free(v);
    return 0;
}

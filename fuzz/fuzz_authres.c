/*
 * fuzz_authres.c: libFuzzer target for the Authentication-Results parser and
 * the trust-zone walk: any bytes, read as a header block and as one header
 * value, must be handled without a crash, a read outside the buffer (it is an
 * exact-size copy without a NUL) or a broken result: pass counts within bounds,
 * methods dkim/spf/dmarc, domains lower case, callback strings NUL-terminated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trust/authres.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_ours(const char *h, void *ctx)
{
    (void)ctx;
    size_t n = strlen(h);
    for (size_t i = 0; i < n; i++)
        if (h[i] >= 'A' && h[i] <= 'Z')
            abort(); /* host names are handed over in lower case */
    return n >= 15 && strcmp(h + n - 15, ".hoster.example") == 0;
}

static void on_result(const char *method, const char *result, const char *property,
                      const char *value, void *ctx)
{
    size_t *n = ctx;
    if (!method || !result || (property == NULL) != (value == NULL))
        abort();
    *n += strlen(method) + strlen(result) + (property ? strlen(property) + strlen(value) : 0);
}

static void check_set(const struct authres_set *s)
{
    if (s->n_passes > AUTHRES_MAX_PASSES)
        abort();
    if (memchr(s->authserv_id, '\0', sizeof(s->authserv_id)) == NULL)
        abort();
    for (size_t i = 0; i < s->n_passes; i++) {
        const struct authres_pass *p = &s->passes[i];
        if (strcmp(p->method, "dkim") != 0 && strcmp(p->method, "spf") != 0 &&
            strcmp(p->method, "dmarc") != 0)
            abort();
        if (memchr(p->domain, '\0', sizeof(p->domain)) == NULL || p->domain[0] == '\0')
            abort();
        for (const char *c = p->domain; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                abort();
        if (!authres_has_pass(s, p->method, p->domain, false))
            abort();
    }
    if (s->n_trusted_headers == 0 && (s->n_passes != 0 || s->n_fails != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);

    static const char *const ids[] = { "mx.hoster.example", "auth.hoster.internal", NULL };
    struct authres_set set;
    authres_trusted(buf, size, ids, is_ours, NULL, &set);
    check_set(&set);
    (void)authres_has_pass(&set, NULL, "example.com", true);

    char id[256];
    size_t n = 0;
    if (authres_parse(buf, size, id, sizeof(id), on_result, &n) && id[0] == '\0')
        abort();
    if (!authres_parse(buf, size, id, sizeof(id), NULL, NULL) && id[0] != '\0')
        abort();
    free(buf);
    return 0;
}

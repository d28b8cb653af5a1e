/*
 * fuzz_route.c: libFuzzer target for the header reader that routes a new mail
 * (intake/route.c: In-Reply-To/References ids, auto-reply markers, From) and
 * for reporter_from_headers() on the same bytes: any input, read as an
 * exact-size buffer without a NUL, must give bounded, well-formed results (at
 * most ROUTE_MAX_IDS ids, each NUL-terminated, printable, with '@'; a lower-case
 * From address) and never crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "intake/route.h"
#include "trust/reporter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config cfg;
static int ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        config_defaults(&cfg);
        static const char conf[] = "[intake]\nauthserv_id = mx.hoster.example\n"
                                   "[network]\nour_hosts = *.hoster.example\nour_ips = 10.0.0.0/8\n"
                                   "[providers]\nyahoo.com = 1 manual signed_by=arf.mail.yahoo.com\n";
        if (config_load_data(&cfg, "fuzz", conf, sizeof conf - 1, NULL) != 0)
            abort();
        ready = 1;
    }
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct route_headers h;
    route_headers_parse(buf, size, &h);
    if (h.n_ids > ROUTE_MAX_IDS)
        abort();
    for (size_t i = 0; i < h.n_ids; i++) {
        const char *id = h.ids[i];
        if (!strchr(id, '@') || strlen(id) >= 250)
            abort();
        for (const char *p = id; *p; p++)
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
                abort();
    }
    if (h.from_addr)
        for (const char *p = h.from_addr; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                abort();
    if (h.auto_reply != (h.auto_why[0] != '\0'))
        abort();
    route_headers_clear(&h);
    struct reporter rp;
    reporter_from_headers(&cfg, buf, size, "yahoo.com", &rp);
    if (rp.authenticated && !rp.provider)
        abort();
    free(buf);
    return 0;
}

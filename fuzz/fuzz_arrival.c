/*
 * fuzz_arrival.c: libFuzzer target for intake/arrival.c, the reader of when a
 * report reached us (ingest --replay): any header block, read as an
 * exact-size buffer without a NUL, gives a source and a time within the
 * plausible range (or none with time 0), and never crashes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "intake/arrival.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config cfg;
static int ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        config_defaults(&cfg);
        static const char conf[] = "[intake]\nauthserv_id = mx.hoster.example\n"
                                   "[network]\nour_hosts = *.hoster.example\n";
        if (config_load_data(&cfg, "fuzz", conf, sizeof conf - 1, NULL) != 0)
            abort();
        ready = 1;
    }
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    int64_t at = -1;
    enum arrival_source s = arrival_time(&cfg, buf, size, &at);
    if (s == ARRIVAL_NONE && at != 0)
        abort();
    if (s != ARRIVAL_NONE && (at < 631152000LL || at > 7258118400LL))
        abort();
    free(buf);
    return 0;
}

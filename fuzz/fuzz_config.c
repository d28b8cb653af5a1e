/*
 * fuzz_config.c: libFuzzer target for the configuration reader: any file text must
 * load or fail with a message naming the problem, never crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config cfg;
    struct ad_err err = { 0 };
    config_defaults(&cfg);
    if (config_load_data(&cfg, "fuzz.conf", (const char *)data, size, &err) != 0 &&
        err.msg[0] == '\0')
        abort();
    config_free(&cfg);
    return 0;
}

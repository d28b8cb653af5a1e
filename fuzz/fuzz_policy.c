/*
 * fuzz_policy.c: libFuzzer target for the policy protocol parser: any bytes
 * must parse or fail with a message, never crash or read outside the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    struct policy_req r;
    struct ad_err err = { 0 };
    if (policy_parse(buf, size, &r, &err) != 0 && err.msg[0] == '\0')
        abort();
    free(buf);
    return 0;
}

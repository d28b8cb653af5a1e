/*
 * fuzz_parse.c: libFuzzer target for the mail parser: every byte string must give a
 * report or a clean "not a mail" error, and serialise to JSON, without a crash, a
 * leak or undefined behaviour. Seeded from shared/corpus by fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>

#include "parse/parse.h"
#include "parse/report_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct parse_limits lim;
    parse_limits_default(&lim);
    lim.max_size = 1024 * 1024;
    struct ad_err err = { 0 };
    struct report *r = parse_message((const char *)data, size, &lim, &err);
    if (r) {
        char *s = report_json_line(r, "fuzz");
        if (!s)
            abort(); /* every report must serialise */
        free(s);
    } else if (err.code == 0 || err.msg[0] == '\0') {
        abort(); /* a refusal must say why */
    }
    report_free(r);
    return 0;
}

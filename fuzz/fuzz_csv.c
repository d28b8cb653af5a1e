/*
 * fuzz_csv.c: libFuzzer target for the customer directory's CSV import
 * (directory_import): any byte string must import or fail with a message, never
 * crash, leak or hit undefined behaviour. One in-memory store is opened on the
 * first input and kept (a fuzz target may hold static state); every input runs
 * inside a transaction that is rolled back, so the store is empty for each input
 * and a crash reproduces from its input alone. The import joins that transaction,
 * as it does for `directory import --dry-run`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "directory/directory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every refused row must be reported with a message naming its line. */
static void check_bad(size_t line, const char *msg, void *ctx)
{
    size_t *n = ctx;
    if (line == 0 || !msg || strncmp(msg, "line ", 5) != 0)
        abort();
    (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct store *st;
    struct ad_err err = { 0 };
    if (!st && store_open(":memory:", 0, &st, &err) != 0)
        abort();
    if (store_begin(st, &err) != 0)
        abort();
    struct directory_import_stats stats;
    size_t n_reported = 0;
    memset(&err, 0, sizeof err);
    int rc = directory_import(st, "fuzz.csv", (const char *)data, size, &stats, check_bad,
                              &n_reported, &err);
    if (rc != 0 && (rc != err.code || err.msg[0] == '\0'))
        abort(); /* a failure must say why */
    if (rc == 0 && (stats.n_bad != n_reported || stats.n_bad > stats.n_rows ||
                    stats.n_customers > stats.n_rows || stats.n_accounts > stats.n_rows ||
                    stats.n_domains > stats.n_rows || stats.n_uids > stats.n_rows))
        abort();
    store_rollback(st);
    return 0;
}

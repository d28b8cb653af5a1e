/*
 * outbound_bench.c: the outbound log's cost, for bench/milter.sh. Into a fresh
 * SQLite store (DIR/outbound.db) it records N messages (default 200000) the way
 * the milter does (keyed hash of a Message-ID, the account or script, the
 * time; batches of 500), then prints the database bytes per message and the
 * lookups per second of the classify lookup (half of them hits, half misses).
 * Usage: outbound_bench DIR [N] [LOOKUPS]
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "outbound/outbound.h"
#include "store/store.h"
#include "store/store_outbound.h"

static double now_s(void)
{
    return (double)g_get_monotonic_time() / G_USEC_PER_SEC;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: outbound_bench DIR [N] [LOOKUPS]\n");
        return 64;
    }
    long n = argc > 2 ? atol(argv[2]) : 200000;
    long lookups = argc > 3 ? atol(argv[3]) : 100000;
    char *db = g_build_filename(argv[1], "outbound.db", NULL);
    char *keyf = g_build_filename(argv[1], "outbound.key", NULL);
    struct ad_err err = { 0 };
    unsigned char key[OUTBOUND_KEY_BYTES];
    struct store *st = NULL;
    if (outbound_key_load(keyf, true, key, &err) != 0 || store_open(db, 5000, &st, &err) != 0) {
        fprintf(stderr, "outbound_bench: %s\n", err.msg);
        return 1;
    }
    /* the empty schema's size: closing the last connection checkpoints the WAL */
    store_close(st);
    struct stat sb;
    stat(db, &sb);
    off_t size0 = sb.st_size;
    if (store_open(db, 5000, &st, &err) != 0) {
        fprintf(stderr, "outbound_bench: %s\n", err.msg);
        return 1;
    }
    static const char *const senders[] = { "alice@customer.example", "1001:contact.php",
                                           "newsletter@shop.example", "1002:wp-content/x.php" };
    int64_t t0 = 1780000000;
    struct store_outbound_row batch[500];
    char *names[500] = { 0 };
    double t = now_s();
    for (long i = 0; i < n;) {
        size_t k = 0;
        for (; k < 500 && i < n; k++, i++) {
            char mid[96];
            g_snprintf(mid, sizeof mid, "<%ld.%08lx@mail.customer.example>", i, i * 2654435761UL);
            int64_t h;
            outbound_hash(key, mid, strlen(mid), &h);
            batch[k].h = h;
            batch[k].at = t0 + i / 10;
            batch[k].sender = senders[i % 4];
        }
        if (store_outbound_add(st, batch, k, &err) != 0) {
            fprintf(stderr, "outbound_bench: %s\n", err.msg);
            return 1;
        }
    }
    double t_add = now_s() - t;
    (void)names;
    store_close(st);
    stat(db, &sb);
    if (store_open(db, 5000, &st, &err) != 0) {
        fprintf(stderr, "outbound_bench: %s\n", err.msg);
        return 1;
    }
    double bpm = (double)(sb.st_size - size0) / (double)n;
    t = now_s();
    long hits = 0;
    for (long i = 0; i < lookups; i++) {
        char mid[96];
        long m = (i % 2) ? (long)((i * 7919L) % n) : n + i; /* odd: a hit, even: a miss */
        g_snprintf(mid, sizeof mid, "<%ld.%08lx@mail.customer.example>", m, m * 2654435761UL);
        int64_t h, at;
        char *who = NULL;
        outbound_hash(key, mid, strlen(mid), &h);
        if (store_outbound_find(st, h, 0, &at, &who, &err) == 1)
            hits++;
        g_free(who);
    }
    double t_look = now_s() - t;
    printf("outbound log: %ld messages recorded in %.2f s (%.0f/s), %.1f bytes per message "
           "(SQLite, hash + time + sender + 2 indexes)\n", n, t_add, n / t_add, bpm);
    printf("outbound log: %ld lookups in %.2f s: %.0f lookups/s (%ld hits, want %ld)\n", lookups,
           t_look, lookups / t_look, hits, lookups / 2);
    store_close(st);
    g_free(db);
    g_free(keyf);
    return hits == lookups / 2 ? 0 : 1;
}

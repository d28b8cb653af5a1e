/*
 * dsn_grams.c: the 4-gram presence filter of dsn_grams.h. Pure functions over the
 * caller's bitmap; nothing is allocated and nothing can fail.
 */
#include "dsn_grams.h"

#include <string.h>

static inline uint32_t gram_hash(const char *p, unsigned shift)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return (w * 0x9E3779B1u) >> shift;
}

void dsn_grams_build(struct dsn_grams *g, const char *text, size_t n)
{
    /* 2^(32 - shift) bits, the power of two >= 16 n, between 2^10 and 2^16. */
    unsigned shift = 22;
    while (shift > 16 && ((size_t)1 << (32 - shift)) < 16 * n)
        shift--;
    g->shift = shift;
    memset(g->bits, 0, ((size_t)1 << (32 - shift)) / 8);
    if (n < 4)
        return;
    for (size_t i = 0; i + 4 <= n; i++) {
        uint32_t h = gram_hash(text + i, shift);
        g->bits[h >> 6] |= UINT64_C(1) << (h & 63);
    }
}

static inline bool gram_set(const struct dsn_grams *g, const char *p)
{
    uint32_t h = gram_hash(p, g->shift);
    return (g->bits[h >> 6] >> (h & 63)) & 1;
}

bool dsn_grams_maybe_len(const struct dsn_grams *g, const char *phrase, size_t n)
{
    if (n < 4)
        return true;
    return gram_set(g, phrase) && gram_set(g, phrase + n - 4)
           && (n < 8 || gram_set(g, phrase + n / 2 - 2));
}

bool dsn_grams_maybe(const struct dsn_grams *g, const char *phrase)
{
    size_t n = strlen(phrase);
    if (n < 4)
        return true;
    /* Lower-case the three windows looked at: first, middle, last 4 bytes. */
    char buf[12];
    const char *src[3] = {phrase, phrase + n / 2 - 2, phrase + n - 4};
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 4; j++) {
            char c = src[k][j];
            buf[k * 4 + j] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
    if (!gram_set(g, buf) || !gram_set(g, buf + 8))
        return false;
    return n < 8 || gram_set(g, buf + 4);
}

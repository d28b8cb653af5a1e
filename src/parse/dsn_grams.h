/*
 * dsn_grams.h: a presence filter for many-phrase searches over one text. The
 * bounce recogniser (dsn_text.c) and the reason classifier (reason.c) look for
 * dozens to hundreds of phrases in every bounce; instead of one substring search
 * per phrase, the text's 4-byte windows are hashed once into a bitmap, and a
 * phrase is searched for only when its first and last 4 bytes both occur.
 * The filter never misses a phrase that occurs; it only lets through a few that
 * do not.
 */
#ifndef AD_DSN_GRAMS_H
#define AD_DSN_GRAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Up to 2^16 bits; a text uses about 16 per byte of it (at least 1024), so about
 * 6% of them are set and a short text clears only a small part. */
struct dsn_grams {
    unsigned shift;             /* hash >> shift indexes bits */
    uint64_t bits[1024];
};

/* Fills g from text[0..n), which the caller has lower-cased (ASCII) already. */
void dsn_grams_build(struct dsn_grams *g, const char *text, size_t n);

/* False when phrase (any case, lower-cased here) cannot occur in the text g was
 * built from; true when it may. Phrases shorter than 4 bytes always may. */
bool dsn_grams_maybe(const struct dsn_grams *g, const char *phrase);

/* The same for phrase[0..n) that is lower-case already. */
bool dsn_grams_maybe_len(const struct dsn_grams *g, const char *phrase, size_t n);

#endif

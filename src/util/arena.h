/*
 * arena.h: a bump allocator for per-message work (STYLE: one arena per report or
 * request, freed in one go). Allocation never fails (aborts on OOM like GLib).
 */
#ifndef AD_ARENA_H
#define AD_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
    struct arena_block *head;
    size_t block_size;
};

/* Initialises a; block_size 0 picks 16 KiB. No allocation happens until used. */
void arena_init(struct arena *a, size_t block_size);

/* Zeroed memory of n bytes, aligned for any type; lives until arena_free(). */
void *arena_alloc(struct arena *a, size_t n);

/* Like arena_alloc() without zeroing, for buffers that are filled at once. */
void *arena_alloc_raw(struct arena *a, size_t n);

/* Copy of s[0..n) with a NUL added. */
char *arena_strndup(struct arena *a, const char *s, size_t n);

/* Releases everything; a can be reused after. */
void arena_free(struct arena *a);

#endif

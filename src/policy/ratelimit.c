/*
 * ratelimit.c: the fixed-memory sender table of the policy server (see
 * ratelimit.h). Used only from the server's event loop thread; nothing here
 * locks. Linear probing with backward-shift deletion keeps lookups short
 * without tombstones. Keys are 64-bit hashes (FNV-1a
 * over the lower-cased name, then a final mix); two senders sharing a hash share
 * a slot, a risk of 1 in 2^64 per pair that we accept.
 */
#include "ratelimit.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RL_MAGIC 0x41445252u /* "ADRR" */
#define RL_VERSION 1u

struct rl_file_header {
    uint32_t magic, version;
    int64_t epoch;
    uint64_t n;
    uint32_t entry_size, pad;
};

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint64_t rl_key(enum rl_kind kind, const char *name)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= (uint64_t)g_ascii_tolower(*p);
        h *= 1099511628211ULL;
    }
    h = mix(h);
    return h ? h : 1;
}

static uint16_t hash16(const char *s)
{
    return (uint16_t)(rl_key(RL_SENDER, s) >> 48);
}

int rl_init(struct rl_table *t, size_t max_senders, int64_t now, struct ad_err *err)
{
    memset(t, 0, sizeof *t);
    if (max_senders < 16)
        max_senders = 16;
    size_t cap = 16;
    while ((double)cap * 0.75 < (double)max_senders)
        cap <<= 1;
    t->slots = calloc(cap, sizeof *t->slots);
    if (!t->slots)
        return ad_err_set(err, AD_ERR_NOMEM, "cannot allocate %zu sender slots", cap);
    t->mask = cap - 1;
    t->max_used = max_senders;
    /* Day-aligned, so that hour and day buckets stay aligned to UTC hours and
     * days across restarts (rl_load). */
    t->epoch = (now / 86400 - 1) * 86400;
    return 0;
}

void rl_free(struct rl_table *t)
{
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static uint32_t rel(const struct rl_table *t, int64_t now)
{
    int64_t r = now - t->epoch;
    return r < 1 ? 1 : r > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)r;
}

/* Removes slot i and shifts the following cluster back (no tombstones). */
static void remove_at(struct rl_table *t, size_t i)
{
    size_t j = i;
    for (;;) {
        t->slots[i].key = 0;
        for (;;) {
            j = (j + 1) & t->mask;
            if (!t->slots[j].key) {
                t->n_used--;
                return;
            }
            size_t home = t->slots[j].key & t->mask;
            /* Move j to i when its home is not cyclically in (i, j]. */
            bool in = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!in)
                break;
        }
        t->slots[i] = t->slots[j];
        i = j;
    }
}

struct rl_entry *rl_get(struct rl_table *t, uint64_t key, int64_t now)
{
    uint32_t r = rel(t, now);
    size_t i = key & t->mask;
    for (;;) {
        struct rl_entry *e = &t->slots[i];
        if (e->key == key) {
            e->last = r;
            return e;
        }
        if (!e->key)
            break;
        i = (i + 1) & t->mask;
    }
    if (t->n_used >= t->max_used) {
        /* Full: evict the least recently seen of the slots from the new key's
         * home on (at most 32), then look again for the free slot. */
        size_t h = key & t->mask, victim = h;
        uint32_t oldest = UINT32_MAX;
        for (size_t k = 0; k < 32; k++) {
            size_t s = (h + k) & t->mask;
            if (!t->slots[s].key)
                continue;
            if (t->slots[s].last < oldest) {
                oldest = t->slots[s].last;
                victim = s;
            }
        }
        if (oldest != UINT32_MAX)
            remove_at(t, victim);
        i = key & t->mask;
        while (t->slots[i].key)
            i = (i + 1) & t->mask;
    }
    struct rl_entry *e = &t->slots[i];
    memset(e, 0, sizeof *e);
    e->key = key;
    e->last = r;
    e->hour = r - r % 3600;
    e->day = r - r % 86400;
    t->n_used++;
    return e;
}

void rl_roll(struct rl_table *t, struct rl_entry *e, int64_t now, double alpha)
{
    uint32_t r = rel(t, now);
    uint32_t hour = r - r % 3600, day = r - r % 86400;
    if (hour != e->hour) {
        bool adjacent = hour - e->hour == 3600;
        /* The hour that ended feeds the baseline; hours without mail count 0. */
        double ended = e->msgs;
        uint32_t gap = (hour - e->hour) / 3600;
        float b = e->baseline;
        if (e->flags & RL_F_TRAINED)
            b = (float)(alpha * ended + (1 - alpha) * b);
        else
            b = (float)ended;
        for (uint32_t k = 1; k < gap && k < 48; k++)
            b = (float)((1 - alpha) * b);
        e->baseline = b;
        e->flags |= RL_F_TRAINED;
        e->msgs_prev = adjacent ? e->msgs : 0;
        e->rcpts_prev = adjacent ? e->rcpts : 0;
        e->doms_prev = adjacent ? e->doms : 0;
        e->nets_prev = adjacent ? e->nets : 0;
        e->msgs = e->rcpts = 0;
        e->doms = 0;
        e->nets = 0;
        e->hour = hour;
        e->flags &= (uint16_t) ~(RL_F_SOFT | RL_F_ANOMALY | RL_F_NETS);
    }
    if (day != e->day) {
        e->rcpts_day_prev = day - e->day == 86400 ? e->rcpts_day : 0;
        e->rcpts_day = 0;
        e->day = day;
        e->flags &= (uint16_t)~RL_F_HARD;
    }
    (void)t;
}

static void inc16(uint16_t *v)
{
    if (*v < UINT16_MAX)
        (*v)++;
}

void rl_count(struct rl_entry *e, const char *instance, const char *domain, const char *net)
{
    uint16_t inst = instance ? (uint16_t)(hash16(instance) | 1) : 0;
    if (!inst || inst != e->inst)
        inc16(&e->msgs);
    e->inst = inst;
    inc16(&e->rcpts);
    inc16(&e->rcpts_day);
    if (domain)
        e->doms |= 1ULL << (hash16(domain) & 63);
    if (net)
        e->nets |= 1u << (hash16(net) & 31);
}

/* Linear counting: distinct values from the number of zero bits. */
static double distinct(unsigned bits, int nbits)
{
    int zeros = nbits - bits;
    if (bits == 0)
        return 0;
    if (zeros == 0)
        return (double)nbits * log((double)nbits); /* saturated */
    return -(double)nbits * log((double)zeros / nbits);
}

void rl_view(const struct rl_table *t, const struct rl_entry *e, int64_t now, struct rl_view *v)
{
    uint32_t r = rel(t, now);
    double fh = 1.0 - (double)(r - e->hour) / 3600.0;   /* share of the previous hour */
    double fd = 1.0 - (double)(r - e->day) / 86400.0;
    if (fh < 0)
        fh = 0;
    if (fd < 0)
        fd = 0;
    v->msgs_hour = e->msgs + fh * e->msgs_prev;
    v->rcpts_hour = e->rcpts + fh * e->rcpts_prev;
    v->rcpts_day = e->rcpts_day + fd * e->rcpts_day_prev;
    v->domains_hour = distinct((unsigned)__builtin_popcountll(e->doms | e->doms_prev), 64);
    v->nets_hour = distinct((unsigned)__builtin_popcount(e->nets | e->nets_prev), 32);
    v->baseline = e->baseline;
    v->trained = (e->flags & RL_F_TRAINED) != 0;
}

void rl_sweep(struct rl_table *t, int64_t now, int64_t idle, size_t n)
{
    uint32_t r = rel(t, now);
    size_t cap = t->mask + 1;
    size_t k = 0;
    while (k < n && k < cap && t->n_used > 0) {
        size_t i = t->sweep_pos;
        struct rl_entry *e = &t->slots[i];
        if (e->key && (int64_t)(r - e->last) > idle) {
            remove_at(t, i); /* slot i now holds a shifted entry: look at it again */
            continue;
        }
        t->sweep_pos = (i + 1) & t->mask;
        k++;
    }
}

int rl_save(const struct rl_table *t, const char *path, struct ad_err *err)
{
    char *tmp = g_strdup_printf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        int rc = ad_err_set(err, AD_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        g_free(tmp);
        return rc;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int rc = ad_err_set(err, AD_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        g_free(tmp);
        return rc;
    }
    struct rl_file_header h = { RL_MAGIC, RL_VERSION, t->epoch, t->n_used,
                                (uint32_t)sizeof(struct rl_entry), 0 };
    bool ok = fwrite(&h, sizeof h, 1, f) == 1;
    for (size_t i = 0; ok && i <= t->mask; i++)
        if (t->slots[i].key)
            ok = fwrite(&t->slots[i], sizeof t->slots[i], 1, f) == 1;
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    int rc = 0;
    if (!ok || rename(tmp, path) != 0) {
        rc = ad_err_set(err, AD_ERR_IO, "cannot save counters to %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    g_free(tmp);
    return rc;
}

int rl_load(struct rl_table *t, const char *path, int64_t now, struct ad_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? 0 : ad_err_set(err, AD_ERR_IO, "cannot read %s: %s", path,
                                                strerror(errno));
    struct rl_file_header h;
    int rc = 0;
    if (fread(&h, sizeof h, 1, f) != 1 || h.magic != RL_MAGIC || h.version != RL_VERSION
        || h.entry_size != sizeof(struct rl_entry)) {
        rc = ad_err_set(err, AD_ERR_PARSE, "%s is not a counter file of this version", path);
        goto out;
    }
    /* Entries were relative to the old epoch: shift them onto ours. */
    int64_t shift = h.epoch - t->epoch;
    struct rl_entry e;
    for (uint64_t k = 0; k < h.n && fread(&e, sizeof e, 1, f) == 1; k++) {
        int64_t last = (int64_t)e.last + shift, hour = (int64_t)e.hour + shift,
                day = (int64_t)e.day + shift;
        if (last <= 0 || now - t->epoch - last > 2 * 86400)
            continue; /* too old to matter */
        struct rl_entry *d = rl_get(t, e.key, now);
        uint64_t key = d->key;
        *d = e;
        d->key = key;
        d->last = (uint32_t)last;
        d->hour = hour > 0 ? (uint32_t)hour : 1;
        d->day = day > 0 ? (uint32_t)day : 1;
    }
out:
    fclose(f);
    return rc;
}

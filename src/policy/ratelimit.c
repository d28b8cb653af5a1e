/*
 * ratelimit.c: the fixed-memory sender table of the policy server (see
 * ratelimit.h). The table is used only from the server's event loop thread;
 * nothing here locks. A counter file is written through struct rl_writer,
 * which any thread may use (the server writes snapshots from a thread of
 * their own, fed by rl_copy() in short steps). Linear probing with
 * backward-shift deletion keeps lookups short without tombstones. Keys are
 * 64-bit hashes (FNV-1a over the lower-cased name, then a final mix); two
 * senders sharing a hash share a slot, a risk of 1 in 2^64 per pair that we
 * accept. Errors (files only) come back as AD_ERR_IO or AD_ERR_PARSE in err.
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
#define RL_VERSION 2u        /* 2: 32-bit counters, packed previous buckets, extra bytes */
#define RL_MAX_EXTRA (16u << 20)

_Static_assert(sizeof(struct rl_entry) == 64, "one sender is one 64-byte slot");

struct rl_file_header {
    uint32_t magic, version;
    int64_t epoch;
    uint64_t n;
    uint32_t entry_size, extra_len;
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

uint16_t rl_pack16(uint32_t v)
{
    if (v < 2048)
        return (uint16_t)v;
    unsigned s = (unsigned)(31 - __builtin_clz(v)) - 10; /* v >> s is in [1024, 2047] */
    return (uint16_t)((s << 11) | (v >> s));
}

uint32_t rl_unpack16(uint16_t p)
{
    unsigned s = p >> 11;
    uint32_t m = p & 0x7ffu;
    return s ? m << s : m;
}

/* The baseline in bfloat16 (the top half of a float, rounded to nearest even):
 * 8 significant bits are plenty for "ten times the usual hour". */
static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float from_bf16(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
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

struct rl_entry *rl_find(struct rl_table *t, uint64_t key)
{
    for (size_t i = key & t->mask;; i = (i + 1) & t->mask) {
        struct rl_entry *e = &t->slots[i];
        if (e->key == key)
            return e;
        if (!e->key)
            return NULL;
    }
}

struct rl_entry *rl_get(struct rl_table *t, uint64_t key, int64_t now)
{
    uint32_t r = rel(t, now);
    struct rl_entry *e = rl_find(t, key);
    if (e) {
        e->last = r;
        return e;
    }
    if (t->n_used >= t->max_used) {
        /* Full: the least recently seen of the idle senders among the 32 slots
         * from the new key's home makes room. A sender seen within
         * RL_EVICT_IDLE still has counts in its windows: evicting it would
         * let a flood of new names reset an active sender's limits. */
        size_t h = key & t->mask, victim = 0;
        uint32_t oldest = UINT32_MAX;
        for (size_t k = 0; k < 32; k++) {
            size_t s = (h + k) & t->mask;
            const struct rl_entry *c = &t->slots[s];
            if (c->key && c->last <= r && r - c->last >= RL_EVICT_IDLE && c->last < oldest) {
                oldest = c->last;
                victim = s;
            }
        }
        if (oldest == UINT32_MAX) {
            t->n_overflow++;
            return NULL;
        }
        remove_at(t, victim);
    }
    size_t i = key & t->mask;
    while (t->slots[i].key)
        i = (i + 1) & t->mask;
    e = &t->slots[i];
    memset(e, 0, sizeof *e);
    e->key = key;
    e->last = r;
    e->hour = r - r % 3600;
    t->n_used++;
    return e;
}

void rl_roll(struct rl_table *t, struct rl_entry *e, int64_t now, double alpha)
{
    uint32_t r = rel(t, now);
    uint32_t hour = r - r % 3600, day = r - r % 86400;
    uint32_t old_day = e->hour - e->hour % 86400;
    if (hour != e->hour) {
        bool adjacent = hour - e->hour == 3600;
        /* The hour that ended feeds the baseline; hours without mail count 0. */
        double ended = e->msgs;
        uint32_t gap = (hour - e->hour) / 3600;
        float b = from_bf16(e->baseline);
        if (e->flags & RL_F_TRAINED)
            b = (float)(alpha * ended + (1 - alpha) * b);
        else
            b = (float)ended;
        for (uint32_t k = 1; k < gap && k < 48; k++)
            b = (float)((1 - alpha) * b);
        e->baseline = to_bf16(b);
        e->flags |= RL_F_TRAINED;
        e->msgs_prev = adjacent ? rl_pack16(e->msgs) : 0;
        e->rcpts_prev = adjacent ? rl_pack16(e->rcpts) : 0;
        e->doms_prev = adjacent ? e->doms : 0;
        e->nets_prev = adjacent ? e->nets : 0;
        e->msgs = e->rcpts = 0;
        e->doms = 0;
        e->nets = 0;
        e->hour = hour;
        e->flags &= (uint8_t) ~(RL_F_SOFT | RL_F_ANOMALY | RL_F_NETS);
    }
    if (day != old_day) {
        e->rcpts_day_prev = day - old_day == 86400 ? rl_pack16(e->rcpts_day) : 0;
        e->rcpts_day = 0;
        e->flags &= (uint8_t) ~(RL_F_HARD | RL_F_HARD_PENDING);
    }
    (void)t;
}

static void inc32(uint32_t *v)
{
    if (*v < RL_COUNT_MAX)
        (*v)++;
}

void rl_count(struct rl_entry *e, const char *instance, const char *domain, const char *net)
{
    uint16_t inst = instance ? (uint16_t)(hash16(instance) | 1) : 0;
    if (!inst || inst != e->inst)
        inc32(&e->msgs);
    e->inst = inst;
    inc32(&e->rcpts);
    inc32(&e->rcpts_day);
    if (domain)
        e->doms |= 1ULL << (hash16(domain) & 63);
    if (net)
        e->nets |= 1u << (hash16(net) & 31);
}

/* Linear counting: distinct values from the number of zero bits. */
static double distinct(unsigned bits, int nbits)
{
    int zeros = nbits - (int)bits;
    if (bits == 0)
        return 0;
    if (zeros == 0)
        return (double)nbits * log((double)nbits); /* saturated */
    return -(double)nbits * log((double)zeros / nbits);
}

void rl_view(const struct rl_table *t, const struct rl_entry *e, int64_t now, struct rl_view *v)
{
    uint32_t r = rel(t, now);
    uint32_t day = e->hour - e->hour % 86400;
    double fh = 1.0 - (double)(r - e->hour) / 3600.0;   /* share of the previous hour */
    double fd = 1.0 - (double)(r - day) / 86400.0;
    if (fh < 0)
        fh = 0;
    if (fd < 0)
        fd = 0;
    v->msgs_hour = e->msgs + fh * rl_unpack16(e->msgs_prev);
    v->rcpts_hour = e->rcpts + fh * rl_unpack16(e->rcpts_prev);
    v->rcpts_day = e->rcpts_day + fd * rl_unpack16(e->rcpts_day_prev);
    v->domains_hour = distinct((unsigned)__builtin_popcountll(e->doms | e->doms_prev), 64);
    v->nets_hour = distinct((unsigned)__builtin_popcount(e->nets | e->nets_prev), 32);
    v->baseline = from_bf16(e->baseline);
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

size_t rl_copy(const struct rl_table *t, size_t *pos, size_t n_slots, struct rl_entry *out,
               size_t max)
{
    size_t n = 0, i = *pos, end = i + n_slots;
    if (end > t->mask + 1 || end < i)
        end = t->mask + 1;
    for (; i < end && n < max; i++) {
        if (!t->slots[i].key)
            continue;
        out[n] = t->slots[i];
        /* A lock not committed yet is not remembered: after a crash the
         * sender crosses the limit again and the lock is asked for again. */
        out[n].flags &= (uint8_t)~RL_F_HARD_PENDING;
        n++;
    }
    *pos = i;
    return n;
}

struct rl_writer {
    FILE *f;
    char *path, *tmp;
    int64_t epoch;
    uint64_t n;
};

struct rl_writer *rl_writer_abort(struct rl_writer *w)
{
    if (!w)
        return NULL;
    if (w->f)
        fclose(w->f);
    unlink(w->tmp);
    g_free(w->tmp);
    g_free(w->path);
    g_free(w);
    return NULL;
}

int rl_writer_open(const char *path, int64_t epoch, struct rl_writer **out, struct ad_err *err)
{
    *out = NULL;
    struct rl_writer *w = g_new0(struct rl_writer, 1);
    w->path = g_strdup(path);
    w->tmp = g_strdup_printf("%s.tmp", path);
    w->epoch = epoch;
    int fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || !(w->f = fdopen(fd, "wb"))) {
        int rc = ad_err_set(err, AD_ERR_IO, "cannot write %s: %s", w->tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        rl_writer_abort(w);
        return rc;
    }
    /* A placeholder header: the counts are known at the end. */
    struct rl_file_header h = { 0 };
    if (fwrite(&h, sizeof h, 1, w->f) != 1) {
        int rc = ad_err_set(err, AD_ERR_IO, "cannot write %s: %s", w->tmp, strerror(errno));
        rl_writer_abort(w);
        return rc;
    }
    *out = w;
    return 0;
}

int rl_writer_add(struct rl_writer *w, const struct rl_entry *e, size_t n, struct ad_err *err)
{
    if (n && fwrite(e, sizeof *e, n, w->f) != n)
        return ad_err_set(err, AD_ERR_IO, "cannot write %s: %s", w->tmp, strerror(errno));
    w->n += n;
    return 0;
}

/* Makes the rename durable too: fsync of the folder that holds the file. */
static void sync_dir(const char *path)
{
    char *dir = g_path_get_dirname(path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    g_free(dir);
}

int rl_writer_commit(struct rl_writer *w, const char *extra, size_t extra_len, struct ad_err *err)
{
    if (extra_len > RL_MAX_EXTRA) {
        int rc = ad_err_set(err, AD_ERR_IO, "cannot save counters to %s: %zu extra bytes",
                            w->path, extra_len);
        rl_writer_abort(w);
        return rc;
    }
    struct rl_file_header h = { RL_MAGIC, RL_VERSION, w->epoch, w->n,
                                (uint32_t)sizeof(struct rl_entry), (uint32_t)extra_len };
    bool ok = extra_len == 0 || fwrite(extra, 1, extra_len, w->f) == extra_len;
    ok = ok && fseek(w->f, 0, SEEK_SET) == 0 && fwrite(&h, sizeof h, 1, w->f) == 1;
    ok = ok && fflush(w->f) == 0 && fsync(fileno(w->f)) == 0;
    ok = (fclose(w->f) == 0) && ok;
    w->f = NULL;
    int rc = 0;
    if (!ok || rename(w->tmp, w->path) != 0) {
        rc = ad_err_set(err, AD_ERR_IO, "cannot save counters to %s: %s", w->path,
                        strerror(errno));
        rl_writer_abort(w);
        return rc;
    }
    sync_dir(w->path);
    g_free(w->tmp);
    g_free(w->path);
    g_free(w);
    return 0;
}

int rl_save(const struct rl_table *t, const char *path, const char *extra, size_t extra_len,
            struct ad_err *err)
{
    struct rl_writer *w;
    int rc = rl_writer_open(path, t->epoch, &w, err);
    if (rc)
        return rc;
    struct rl_entry buf[256];
    size_t pos = 0;
    while (pos <= t->mask) {
        size_t n = rl_copy(t, &pos, t->mask + 1, buf, G_N_ELEMENTS(buf));
        if ((rc = rl_writer_add(w, buf, n, err))) {
            rl_writer_abort(w);
            return rc;
        }
    }
    return rl_writer_commit(w, extra, extra_len, err);
}

/* Moves an entry saved against another epoch onto ours; false when it is too
 * old to matter. Buckets that began before our epoch are over: their counts go. */
static bool rebase(struct rl_entry *e, int64_t shift, int64_t rnow)
{
    int64_t last = (int64_t)e->last + shift, hour = (int64_t)e->hour + shift;
    int64_t day = hour - ((int64_t)e->hour % 86400);
    if (last <= 0 || rnow - last > 2 * 86400)
        return false;
    e->last = (uint32_t)last;
    if (hour < 0) {
        e->msgs = e->rcpts = 0;
        e->msgs_prev = e->rcpts_prev = 0;
        e->doms = e->doms_prev = 0;
        e->nets = e->nets_prev = 0;
        hour = 0;
    }
    if (day < 0) {
        e->rcpts_day = 0;
        e->rcpts_day_prev = 0;
    }
    e->hour = (uint32_t)hour;
    return true;
}

int rl_load(struct rl_table *t, const char *path, int64_t now, char **extra, size_t *extra_len,
            struct ad_err *err)
{
    if (extra)
        *extra = NULL;
    if (extra_len)
        *extra_len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? 0 : ad_err_set(err, AD_ERR_IO, "cannot read %s: %s", path,
                                                strerror(errno));
    struct rl_file_header h;
    int rc = 0;
    if (fread(&h, sizeof h, 1, f) != 1 || h.magic != RL_MAGIC || h.version != RL_VERSION
        || h.entry_size != sizeof(struct rl_entry) || h.extra_len > RL_MAX_EXTRA) {
        rc = ad_err_set(err, AD_ERR_PARSE, "%s is not a counter file of this version", path);
        goto out;
    }
    /* Entries were relative to the old epoch: shift them onto ours (both are
     * day-aligned, so hours and days stay aligned). */
    int64_t shift = h.epoch - t->epoch, rnow = now - t->epoch;
    struct rl_entry e;
    uint64_t k = 0;
    for (; k < h.n && fread(&e, sizeof e, 1, f) == 1; k++) {
        if (!e.key || !rebase(&e, shift, rnow))
            continue;
        struct rl_entry *d = rl_get(t, e.key, now);
        if (d)
            *d = e;
    }
    if (k < h.n) {
        rc = ad_err_set(err, AD_ERR_PARSE, "%s: truncated after %llu of %llu entries", path,
                        (unsigned long long)k, (unsigned long long)h.n);
        goto out;
    }
    if (extra && h.extra_len) {
        char *x = g_malloc(h.extra_len + 1);
        if (fread(x, 1, h.extra_len, f) != h.extra_len) {
            g_free(x);
            rc = ad_err_set(err, AD_ERR_PARSE, "%s: truncated extra data", path);
            goto out;
        }
        x[h.extra_len] = '\0';
        *extra = x;
        if (extra_len)
            *extra_len = h.extra_len;
    }
out:
    fclose(f);
    return rc;
}

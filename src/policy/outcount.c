/*
 * outcount.c: the policy server's outbound counts (see outcount.h). Used by
 * the event loop only (outcount_add, outcount_take); the batches it hands out
 * are owned by whoever takes them (the writer thread frees them). Never fails:
 * what does not fit is dropped and counted.
 */
#include "policy/outcount.h"

#include <arpa/inet.h>
#include <glib.h>
#include <string.h>

#define OUTCOUNT_SENDER_MAX 320

struct oc_entry {
    int64_t hour;
    int64_t msgs, rcpts;        /* since the last take */
    char inst[48];              /* the last instance counted (cut; "": none) */
};

struct outcount {
    GHashTable *t;              /* "HOUR\tADDR\tKIND\tSENDER" -> struct oc_entry */
    size_t max;
    uint64_t dropped;
};

struct outcount *outcount_new(size_t max_entries)
{
    struct outcount *oc = g_new0(struct outcount, 1);
    oc->t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    oc->max = max_entries ? max_entries : 1;
    return oc;
}

struct outcount *outcount_free(struct outcount *oc)
{
    if (oc) {
        g_hash_table_destroy(oc->t);
        g_free(oc);
    }
    return NULL;
}

static bool host_matches(const char *want, const char *host)
{
    if (!strcmp(want, "*"))
        return true;
    if (!g_ascii_strcasecmp(want, host))
        return true;
    const char *dot = strchr(host, '.');
    return dot && strlen(want) == (size_t)(dot - host) &&
           !g_ascii_strncasecmp(want, host, (size_t)(dot - host));
}

char **outcount_host_addresses(const struct config *cfg, const char *host)
{
    GPtrArray *out = g_ptr_array_new();
    for (char **e = cfg->host_addresses; e && *e; e++) {
        if (config_host_addresses_problem(*e))
            continue;
        const char *eq = strchr(*e, '=');
        char *name = g_strstrip(g_strndup(*e, (size_t)(eq - *e)));
        /* An exact entry wins over "*": stop at the first exact one. */
        bool match = host && host_matches(name, host);
        bool star = !strcmp(name, "*");
        g_free(name);
        if (!match)
            continue;
        if (!star)
            for (guint i = 0; i < out->len; i++)
                g_free(g_ptr_array_index(out, i));
        if (!star)
            g_ptr_array_set_size(out, 0);
        else if (out->len)
            continue;
        char **addrs = g_strsplit(eq + 1, ",", 0);
        for (char **a = addrs; *a; a++) {
            char *t = g_strstrip(*a);
            if (*t)
                g_ptr_array_add(out, g_strdup(t));
        }
        g_strfreev(addrs);
        if (!star)
            break;
    }
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

bool outcount_server_address_ok(const struct config *cfg, const char *a)
{
    unsigned char b[16];
    if (!a)
        return false;
    if (inet_pton(AF_INET, a, b) == 1) {
        if (b[0] == 127 || b[0] == 0 || (b[0] == 169 && b[1] == 254))
            return false;
    } else if (inet_pton(AF_INET6, a, b) == 1) {
        static const unsigned char zero[16];
        if (!memcmp(b, zero, 15) || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80))
            return false; /* ::, ::1, fe80::/10 */
    } else {
        return false;
    }
    return cfg->n_our_ips == 0 || config_ip_is_ours(cfg, a);
}

void outcount_add(struct outcount *oc, int64_t now, char *const *addrs, const char *kind,
                  const char *sender, const char *instance)
{
    /* A login longer than any mail address is not counted: every row's key
     * stays small, so the bounded table is bounded in bytes too. */
    if (!sender || !*sender || !addrs || strlen(sender) > OUTCOUNT_SENDER_MAX)
        return;
    int64_t hour = now - now % 3600;
    char *who = g_ascii_strdown(sender, -1);
    for (char *const *a = addrs; *a; a++) {
        char *key = g_strdup_printf("%lld\t%s\t%s\t%s", (long long)hour, *a, kind, who);
        struct oc_entry *e = g_hash_table_lookup(oc->t, key);
        if (!e) {
            if (g_hash_table_size(oc->t) >= oc->max) {
                oc->dropped++;
                g_free(key);
                continue;
            }
            e = g_new0(struct oc_entry, 1);
            e->hour = hour;
            g_hash_table_insert(oc->t, key, e);
        } else {
            g_free(key);
        }
        if (!instance || strncmp(e->inst, instance, sizeof e->inst - 1) != 0)
            e->msgs++;
        g_strlcpy(e->inst, instance ? instance : "", sizeof e->inst);
        e->rcpts++;
    }
    g_free(who);
}

struct outcount_batch *outcount_take(struct outcount *oc, int64_t now)
{
    int64_t hour = now - now % 3600;
    GArray *d = g_array_new(FALSE, FALSE, sizeof(struct store_outbound_delta));
    GStringChunk *strings = g_string_chunk_new(4096);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, oc->t);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct oc_entry *e = v;
        if (e->msgs || e->rcpts) {
            char **f = g_strsplit(k, "\t", 4);
            struct store_outbound_delta x = {
                .hour = e->hour,
                .address = g_string_chunk_insert(strings, f[1]),
                .sender_kind = g_string_chunk_insert_const(strings, f[2]),
                .sender = g_string_chunk_insert(strings, f[3]),
                .msgs = e->msgs,
                .rcpts = e->rcpts,
            };
            g_strfreev(f);
            g_array_append_val(d, x);
            e->msgs = e->rcpts = 0;
        }
        /* The current hour's rows stay for their instance (a mail whose
         * recipients straddle a take is one mail); older ones go. */
        if (e->hour < hour)
            g_hash_table_iter_remove(&it);
    }
    if (d->len == 0) {
        g_array_free(d, TRUE);
        g_string_chunk_free(strings);
        return NULL;
    }
    struct outcount_batch *b = g_new0(struct outcount_batch, 1);
    b->n = d->len;
    b->d = (struct store_outbound_delta *)g_array_free(d, FALSE);
    b->strings = strings;
    return b;
}

struct outcount_batch *outcount_batch_free(struct outcount_batch *b)
{
    if (b) {
        g_free(b->d);
        g_string_chunk_free(b->strings);
        g_free(b);
    }
    return NULL;
}

uint64_t outcount_dropped(const struct outcount *oc)
{
    return oc ? oc->dropped : 0;
}

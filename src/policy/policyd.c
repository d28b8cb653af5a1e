/*
 * policyd.c: the policy daemon (see policyd.h). One libevent loop serves every
 * connection (policy_server.c) and answers each request from memory: the lock
 * set (reloaded from the store whenever another process commits, seen through
 * the store's data version, polled every 200 ms) and the fixed-memory sender
 * table (ratelimit.h). The daemon holds no secrets and renders nothing: what it
 * finds (a hard limit crossed, an anomaly) is queued to a writer thread that
 * records it with store_policy_event_add() (a lock row at once, and a finding
 * the desk worker files into an incident and notices). Counter snapshots are
 * written by a thread of their own (policy_state.c). With [policy] counters =
 * redis the limits count what every server sharing the Redis counted
 * (shared.h): each request is also counted there (local memory, no I/O; a
 * thread of shared.c exchanges the counts), and the limits use the larger of
 * this server's count and the shared total. Redis unreachable is not an
 * error: the shared totals stop growing and the local counts decide.
 *
 * Never stop the mail: a request that cannot be decided gets DUNNO (or the
 * configured store_failure_action); a malformed one gets "action=WARN ..." and
 * is logged; every input and queue is bounded (see policy_server.h). A lock
 * decided here is enforced from memory at once and retried until the store
 * took it; until then it is kept in the state file, so that a crash does not
 * forget it. Startup errors come back as AD_ERR_* with err filled; after that,
 * errors are logged and the daemon goes on.
 */
#include "policyd.h"

#include <errno.h>
#include <event2/event.h>
#include <glib.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "batv/batv.h"
#include "directory/directory.h"
#include "policy/outcount.h"
#include "policy/policy_proto.h"
#include "policy/policy_server.h"
#include "policy/policy_state.h"
#include "policy/ratelimit.h"
#include "policy/shared.h"
#include "store/store.h"
#include "store/store_outbound_counts.h"
#include "store/store_dirsync.h"
#include "store/store_policy.h"

#define DECIDED_BY "abusedesk policy"
#define NOFILE_RESERVE 32       /* descriptors besides connections: store, state file, log */
#define OVERFLOW_LOG_US (60 * G_USEC_PER_SEC)

/* A lock decided here that the store has not taken yet. */
struct pend {
    char *reason;
    int64_t at;
    uint64_t key;               /* the table entry that crossed the limit (0: unknown) */
};

/* What the policy saw and the store must record (a finding, maybe a lock). */
struct job {
    char *account, *reason;
    bool lock;
    int64_t at;
    unsigned tries;
    struct outcount_batch *counts;  /* not a finding: outbound counts to add */
    char *stats;                    /* not a finding: this server's figures (JSON) */
};

struct policyd {
    struct event_base *base;
    const struct config *cfg;   /* the caller's until a reload, then cfg_own */
    struct config *cfg_own;     /* owned; NULL before the first reload */
    const char *config_path, *db_override;
    struct logger *log;         /* the loop thread's (the caller's) */
    gint log_level;             /* atomic: the level, for the threads' own loggers */
    struct store *st;           /* the loop's connection */
    struct rl_table rl;
    GHashTable *locks;          /* lower-cased subject -> { incident id, German? } (gint64[2]) */
    int64_t unlocks_since;      /* Unix seconds of the previous look at the locks */
    GHashTable *unlocks_done;   /* lower-cased subject -> unlocked_at (gint64) already reset */
    int64_t data_version;
    bool store_ok;
    struct policy_server *srv;
    int max_conns_cap;          /* what RLIMIT_NOFILE allows */
    struct policy_state *state; /* made on the first snapshot */
    struct event *ev_poll, *ev_state, *ev_sweep, *ev_hup, *ev_term, *ev_int;
    /* the writer thread: it reads only these, set before it starts */
    GThread *writer;
    char *writer_db;
    char *writer_backend, *writer_conninfo;     /* [store] backend and conninfo */
    int writer_busy_ms;
    struct logger writer_log;
    GAsyncQueue *jobs;          /* of struct job *: store writes off the loop */
    GAsyncQueue *done;          /* of char * (account): locks the writer committed */
    gint stopping;
    GHashTable *pending;        /* account -> struct pend * (loop only) */
    GHashTable *acct_limits;    /* account -> [limits:CUSTOMER] row (borrowed from cfg) */
    GHashTable *dir_limits;     /* account -> its customer's limits from the directory
                                 * (struct config_limits, owned; name NULL) */
    uint64_t n_reject, n_soft, n_findings;
    uint64_t overflow_logged;   /* rl.n_overflow at the last warning */
    int64_t overflow_log_at;
    /* [policy] counters = redis (NULL: local counters only) */
    struct shared *shared;      /* owned; the loop counts, its thread syncs */
    char *shared_sig;           /* the settings it was made with (SIGHUP compares) */
    GThread *shared_retiring;   /* frees an instance a reload replaced */
    /* outbound counts per hour, address and sender (outcount.h) */
    struct outcount *oc;
    char **out_addrs;           /* [network] host_addresses of this host */
    struct event *ev_counts;
    /* BATV ([batv] domains): keys read once at start (before the privilege
     * drop) and on SIGHUP; without them every bounce passes (fail open). */
    struct batv_keys batv;
    bool batv_ok;
    uint64_t n_batv_reject;
};

static int64_t now_s(void)
{
    return (int64_t)(g_get_real_time() / G_USEC_PER_SEC);
}

static bool german_default(const struct config *cfg)
{
    return cfg->default_language && !strcmp(cfg->default_language, "de");
}

/* ---- locks -------------------------------------------------------------- */

struct lock_load {
    GHashTable *n;
    const struct config *cfg;
};

static void lock_row(const char *subject, int64_t incident_id, const char *lang, void *arg)
{
    struct lock_load *ll = arg;
    gint64 *v = g_new(gint64, 2);
    v[0] = incident_id;
    /* the customer's language for the REJECT text their mail client shows */
    v[1] = !strcmp(lang, "de") || (strcmp(lang, "en") && german_default(ll->cfg));
    g_hash_table_insert(ll->n, g_ascii_strdown(subject, -1), v);
}

/* An account unlocked since the last look starts afresh: its counters belong
 * to the spam run that was dealt with. */
static void counters_reset(struct policyd *d, const char *account)
{
    int64_t now = now_s();
    const enum rl_kind kinds[] = { RL_SASL, RL_SENDER };
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
        uint64_t k = rl_key(kinds[i], account);
        /* Every server sees the unlock and resets its share; the buckets in
         * Redis go at the next exchange. */
        if (d->shared)
            shared_reset(d->shared, k, now);
        struct rl_entry *e = rl_find(&d->rl, k);
        if (!e)
            continue;
        uint64_t key = e->key;
        uint32_t last = e->last;
        memset(e, 0, sizeof *e);
        e->key = key;
        e->last = last;
        rl_roll(&d->rl, e, now, 0.2);
    }
}

struct unlock_scan {
    struct policyd *d;
    GHashTable *locked; /* the locks now */
    int64_t now;
};

static void unlock_row(const char *subject, int64_t unlocked_at, void *ctx)
{
    struct unlock_scan *us = ctx;
    char *k = g_ascii_strdown(subject, -1);
    gint64 *seen = g_hash_table_lookup(us->d->unlocks_done, k);
    if (g_hash_table_contains(us->locked, k) || (seen && *seen == unlocked_at)) {
        g_free(k);
        return;
    }
    counters_reset(us->d, k);
    log_msg(us->d->log, LOG_LEVEL_INFO, "policy: %s unlocked: counters reset", k);
    gint64 *v = g_new(gint64, 1);
    *v = unlocked_at;
    g_hash_table_replace(us->d->unlocks_done, k, v);
}

static gboolean unlock_old(gpointer k, gpointer v, gpointer cutoff)
{
    (void)k;
    return *(gint64 *)v < *(gint64 *)cutoff;
}

static void locks_reload(struct policyd *d)
{
    struct ad_err err = { 0 };
    struct lock_load ll = { g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
                            d->cfg };
    if (store_policy_locks(d->st, lock_row, &ll, &err) != 0) {
        g_hash_table_destroy(ll.n);
        if (d->store_ok)
            log_msg(d->log, LOG_LEVEL_ERROR, "policy: cannot read locks: %s (keeping %u known)",
                    err.msg, g_hash_table_size(d->locks));
        d->store_ok = false;
        return;
    }
    if (!d->store_ok)
        log_msg(d->log, LOG_LEVEL_INFO, "policy: database readable again");
    d->store_ok = true;
    /* Unlocks since the previous look (a second earlier, as times are whole
     * seconds): a lock taken and lifted within one poll never showed in
     * d->locks, yet its counters must start afresh too. unlocks_done keeps
     * each unlock reset once. */
    struct unlock_scan us = { d, ll.n, now_s() };
    if (store_policy_unlocks_since(d->st, d->unlocks_since - 1, unlock_row, &us, &err) == 0)
        d->unlocks_since = us.now;
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, d->locks);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        if (g_hash_table_contains(ll.n, k))
            continue;
        if (g_hash_table_contains(d->unlocks_done, k))
            continue; /* reset by the scan above */
        counters_reset(d, k);
        log_msg(d->log, LOG_LEVEL_INFO, "policy: %s unlocked: counters reset", (const char *)k);
    }
    gint64 cutoff = now_s() - 300;
    g_hash_table_foreach_remove(d->unlocks_done, unlock_old, &cutoff);
    g_hash_table_destroy(d->locks);
    d->locks = ll.n;
}

/* The store took the lock of account: its flag may now be saved. */
static void lock_committed(struct policyd *d, const char *account)
{
    struct pend *p = g_hash_table_lookup(d->pending, account);
    if (p && p->key) {
        struct rl_entry *e = rl_find(&d->rl, p->key);
        if (e && (e->flags & RL_F_HARD_PENDING)) {
            e->flags &= (uint8_t)~RL_F_HARD_PENDING;
            e->flags |= RL_F_HARD;
        }
    }
    g_hash_table_remove(d->pending, account);
}

static void dir_limits_load(struct policyd *d);

/* Every 200 ms: another process committed? Then reload the locks (and the
 * directory's limits). */
static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct policyd *d = arg;
    struct ad_err err = { 0 };
    int64_t v = 0;
    if (store_policy_data_version(d->st, &v, &err) != 0) {
        if (d->store_ok)
            log_msg(d->log, LOG_LEVEL_ERROR, "policy: database unreadable: %s", err.msg);
        d->store_ok = false;
        return;
    }
    if (v != d->data_version || !d->store_ok) {
        d->data_version = v;
        locks_reload(d);
        dir_limits_load(d);
    }
    /* Locks the writer committed leave the pending set once the lock set has
     * them (with or without their ticket), so that they are never in neither. */
    char *acct;
    while ((acct = g_async_queue_try_pop(d->done)) != NULL) {
        if (!g_hash_table_contains(d->locks, acct)) {
            g_async_queue_push_front(d->done, acct); /* not visible yet: next tick */
            break;
        }
        lock_committed(d, acct);
        g_free(acct);
    }
}

/* ---- findings: queued here, recorded by the writer thread ------------------ */

static void job_free(struct job *j)
{
    g_free(j->account);
    g_free(j->reason);
    outcount_batch_free(j->counts);
    g_free(j->stats);
    g_free(j);
}

static void pend_free(gpointer p)
{
    struct pend *x = p;
    g_free(x->reason);
    g_free(x);
}

/* Queues a finding for the writer thread: the answer never waits on the disk.
 * A lock takes effect in memory at once (d->pending) and is asked for once
 * per account until the store took it. key: the table entry that crossed. */
static void policy_event(struct policyd *d, const char *account, const char *reason, bool lock,
                         int64_t at, uint64_t key)
{
    char *acct = g_ascii_strdown(account, -1);
    if (lock && g_hash_table_contains(d->pending, acct)) {
        g_free(acct);
        return;
    }
    log_msg(d->log, LOG_LEVEL_WARNING, "policy: %s: %s%s", account, reason,
            lock ? " -> locked" : " -> incident at alert");
    if (lock) {
        struct pend *p = g_new0(struct pend, 1);
        p->reason = g_strdup(reason);
        p->at = at;
        p->key = key;
        g_hash_table_insert(d->pending, g_strdup(acct), p);
    }
    struct job *j = g_new0(struct job, 1);
    j->account = acct;
    j->reason = g_strdup(reason);
    j->lock = lock;
    j->at = at;
    d->n_findings++;
    g_async_queue_push(d->jobs, j);
}

/* The writer thread: records the findings with its own store connection. A
 * busy or unavailable store is retried every half second; when the daemon
 * stops, what cannot be recorded at once is given up here (pending locks are
 * kept in the state file and asked for again at the next start). */
static gpointer writer_main(gpointer arg)
{
    struct policyd *d = arg;
    struct logger *lg = &d->writer_log;
    struct store *st = NULL;
    bool give_up = false;
    for (;;) {
        bool stop = g_atomic_int_get(&d->stopping);
        struct job *j = g_async_queue_timeout_pop(d->jobs, stop ? 1000 : 200000);
        if (!j) {
            if (stop)
                break;
            continue;
        }
        lg->min = (enum log_level)g_atomic_int_get(&d->log_level);
        if (give_up) {
            log_msg(lg, LOG_LEVEL_ERROR, "policy: stopping: %s: %s: not recorded%s", j->account,
                    j->reason, j->lock ? " (kept in the state file, if any)" : "");
            job_free(j);
            continue;
        }
        struct ad_err err = { 0 };
        int rc = 0;
        if (!st)
            rc = store_open_with(d->writer_backend, d->writer_db, d->writer_conninfo,
                                 d->writer_busy_ms, &st, &err);
        int64_t lock_id = 0;
        if (rc == 0 && j->stats)
            rc = store_policy_stats_put(st, j->account, j->at, j->stats, &err);
        else if (rc == 0 && j->counts)
            rc = store_outbound_counts_add(st, j->counts->d, j->counts->n, &err);
        else if (rc == 0)
            rc = store_policy_event_add(st, j->account, j->lock ? "lock" : "alert", j->reason,
                                        j->lock, DECIDED_BY, j->at, &lock_id, &err);
        if (rc == 0) {
            log_msg(lg, j->counts || j->stats ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
                    "policy: %s: %s recorded%s", j->account,
                    j->counts || j->stats ? j->reason : "finding", lock_id ? ", lock written" : "");
            if (j->lock)
                g_async_queue_push(d->done, g_strdup(j->account));
            job_free(j);
            continue;
        }
        if (rc != AD_ERR_BUSY && rc != AD_ERR_STORE && rc != AD_ERR_IO) {
            /* Not recordable (should not happen): a lock stays in force in
             * memory until the daemon restarts. */
            log_msg(lg, LOG_LEVEL_ERROR, "policy: %s: %s: could not record: %s", j->account,
                    j->reason, err.msg);
            job_free(j);
            continue;
        }
        if (j->tries++ % 20 == 0)
            log_msg(lg, LOG_LEVEL_WARNING, "policy: %s: %s: will retry: %s", j->account,
                    j->reason, err.msg);
        if (rc != AD_ERR_BUSY)
            st = store_close(st); /* reopen next time */
        g_async_queue_push_front(d->jobs, j);
        if (stop)
            give_up = true;
        else
            g_usleep(500000);
    }
    store_close(st);
    return NULL;
}

/* The pending locks as the state file keeps them: "lock\tAT\tACCOUNT\tREASON\n". */
static char *pending_text(struct policyd *d, size_t *len)
{
    GString *g = g_string_new(NULL);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, d->pending);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct pend *p = v;
        size_t at = g->len;
        g_string_append_printf(g, "lock\t%lld\t%s\t%s", (long long)p->at, (const char *)k,
                               p->reason);
        for (size_t i = at; i < g->len; i++)
            if (g->str[i] == '\n' || g->str[i] == '\r')
                g->str[i] = ' ';
        g_string_append_c(g, '\n');
    }
    *len = g->len;
    return g_string_free(g, FALSE);
}

/* Locks decided before a crash or stop that the store had not taken. */
static void pending_restore(struct policyd *d, const char *text)
{
    char **lines = g_strsplit(text, "\n", -1);
    size_t n = 0;
    for (char **l = lines; *l; l++) {
        char **f = g_strsplit(*l, "\t", 4);
        if (g_strv_length(f) == 4 && !strcmp(f[0], "lock") && *f[2]) {
            char *acct = g_ascii_strdown(f[2], -1);
            if (!g_hash_table_contains(d->locks, acct)) {
                policy_event(d, acct, f[3], true, g_ascii_strtoll(f[1], NULL, 10), 0);
                n++;
            }
            g_free(acct);
        }
        g_strfreev(f);
    }
    g_strfreev(lines);
    if (n)
        log_msg(d->log, LOG_LEVEL_WARNING, "policy: %zu lock(s) decided before the restart and "
                "not yet in the database: asked for again", n);
}

/* ---- decisions ---------------------------------------------------------- */

/* text with {account}, {ticket}, {limit} replaced; no CR/LF (they would end the
 * answer). Caller frees. */
static char *fill(const char *tmpl, const char *account, const char *ticket, const char *limit)
{
    GString *g = g_string_new(NULL);
    for (const char *p = tmpl; *p; p++) {
        if (*p == '{') {
            const char *e = strchr(p, '}');
            if (e) {
                size_t n = (size_t)(e - p - 1);
                const char *v = NULL;
                if (n == 7 && !strncmp(p + 1, "account", 7))
                    v = account;
                else if (n == 6 && !strncmp(p + 1, "ticket", 6))
                    v = ticket;
                else if (n == 5 && !strncmp(p + 1, "limit", 5))
                    v = limit;
                if (v) {
                    for (; *v; v++)
                        g_string_append_c(g, *v == '\r' || *v == '\n' ? ' ' : *v);
                    p = e;
                    continue;
                }
            }
        }
        g_string_append_c(g, *p == '\r' || *p == '\n' ? ' ' : *p);
    }
    return g_string_free(g, FALSE);
}

static bool locked(struct policyd *d, const char *who, int64_t *incident, bool *german)
{
    if (!who || !*who)
        return false;
    if (g_hash_table_size(d->locks) == 0 && g_hash_table_size(d->pending) == 0)
        return false;
    char small[256];
    size_t wl = strlen(who);
    char *k = wl < sizeof small ? small : g_malloc(wl + 1);
    for (size_t i = 0; i <= wl; i++)
        k[i] = g_ascii_tolower(who[i]);
    gint64 *v = g_hash_table_lookup(d->locks, k);
    bool pend = !v && g_hash_table_contains(d->pending, k);
    if (k != small)
        g_free(k);
    if (v) {
        *incident = v[0];
        *german = v[1] != 0;
    } else if (pend) {
        *incident = 0; /* not filed yet: no ticket number */
        *german = german_default(d->cfg);
    }
    return v != NULL || pend;
}

/* The client network of an address: /24 for IPv4, /48 for IPv6. */
static void net_of(const char *ip, char out[64])
{
    out[0] = '\0';
    if (!ip)
        return;
    unsigned char a[16];
    if (inet_pton(AF_INET, ip, a) == 1)
        g_snprintf(out, 64, "%u.%u.%u", a[0], a[1], a[2]);
    else if (inet_pton(AF_INET6, ip, a) == 1)
        g_snprintf(out, 64, "%02x%02x:%02x%02x:%02x%02x", a[0], a[1], a[2], a[3], a[4], a[5]);
}

struct limits {
    long long msgs, rcpts, rcpts_day, domains;
};

/* [limits:CUSTOMER_ID] applies to every account of the customer: the accounts
 * are looked up in the directory at start and on each reload. */
struct acct_ctx {
    GHashTable *map;
    const struct config_limits *lim;
};

static void acct_add(const char *kind, const char *value, void *arg)
{
    struct acct_ctx *c = arg;
    if (!strcmp(kind, "account") && !g_hash_table_contains(c->map, value))
        g_hash_table_insert(c->map, g_ascii_strdown(value, -1), (gpointer)c->lim);
}

static void customer_limits_load(struct policyd *d)
{
    if (d->acct_limits)
        g_hash_table_destroy(d->acct_limits);
    d->acct_limits = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (size_t i = 0; i < d->cfg->n_limits; i++) {
        struct acct_ctx c = { d->acct_limits, &d->cfg->limits[i] };
        struct ad_err err = { 0 };
        if (directory_customer_each(d->st, d->cfg->limits[i].name, acct_add, &c, &err) != 0)
            log_msg(d->log, LOG_LEVEL_WARNING, "policy: [limits:%s]: %s", d->cfg->limits[i].name,
                    err.msg);
    }
}

/* The directory's per-customer limits (columns msgs_per_hour, ... of the
 * import), for each account of such a customer. Read at start and whenever
 * another process committed (with the locks): a partial index holds only the
 * customers with limits, so this costs what they own. On a store error the
 * limits read last stay. */
static void dir_limit_add(const char *account, const struct store_dirsync_limits *l, void *arg)
{
    struct config_limits *c = g_new0(struct config_limits, 1);
    *c = (struct config_limits){ NULL, l->msgs_per_hour, l->rcpts_per_hour, l->rcpts_per_day,
                                 l->domains_per_hour };
    g_hash_table_replace(arg, g_ascii_strdown(account, -1), c);
}

static void dir_limits_load(struct policyd *d)
{
    GHashTable *m = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    struct ad_err err = { 0 };
    if (store_dirsync_limits_each(d->st, dir_limit_add, m, &err) != 0) {
        log_msg(d->log, LOG_LEVEL_WARNING, "policy: cannot read the directory's limits: %s "
                "(keeping %u known)", err.msg, d->dir_limits ? g_hash_table_size(d->dir_limits) : 0);
        g_hash_table_destroy(m);
        return;
    }
    if (d->dir_limits)
        g_hash_table_destroy(d->dir_limits);
    d->dir_limits = m;
}

/* Limits of a sender: [limits:NAME] of the account or sender, else
 * [limits:CUSTOMER] of its customer, else its customer's limits from the
 * directory, else [policy]; each key of a row that sets it (-1: not set). */
static void limits_for(const struct policyd *d, const char *name, struct limits *l)
{
    const struct config *cfg = d->cfg;
    l->msgs = cfg->msgs_per_hour;
    l->rcpts = cfg->rcpts_per_hour;
    l->rcpts_day = cfg->rcpts_per_day;
    l->domains = cfg->domains_per_hour;
    const struct config_limits *o = config_limits_find(cfg, name);
    if (!o && d->acct_limits && g_hash_table_size(d->acct_limits)) {
        char *k = g_ascii_strdown(name, -1);
        o = g_hash_table_lookup(d->acct_limits, k);
        g_free(k);
    }
    if (!o && d->dir_limits && g_hash_table_size(d->dir_limits)) {
        char *k = g_ascii_strdown(name, -1);
        o = g_hash_table_lookup(d->dir_limits, k);
        g_free(k);
    }
    if (o) {
        if (o->msgs_per_hour >= 0)
            l->msgs = o->msgs_per_hour;
        if (o->rcpts_per_hour >= 0)
            l->rcpts = o->rcpts_per_hour;
        if (o->rcpts_per_day >= 0)
            l->rcpts_day = o->rcpts_per_day;
        if (o->domains_per_hour >= 0)
            l->domains = o->domains_per_hour;
    }
}

/* Which limit v crosses at factor f (1 = soft), described in buf; false when none. */
static bool over(const struct limits *l, const struct rl_view *v, double f, char *buf, size_t n)
{
    if (l->msgs > 0 && v->msgs_hour > l->msgs * f)
        g_snprintf(buf, n, "%.0f messages in 1h > %.0f", v->msgs_hour, l->msgs * f);
    else if (l->rcpts > 0 && v->rcpts_hour > l->rcpts * f)
        g_snprintf(buf, n, "%.0f recipients in 1h > %.0f", v->rcpts_hour, l->rcpts * f);
    else if (l->rcpts_day > 0 && v->rcpts_day > l->rcpts_day * f)
        g_snprintf(buf, n, "%.0f recipients in 24h > %.0f", v->rcpts_day, l->rcpts_day * f);
    else if (l->domains > 0 && v->domains_hour > l->domains * f)
        g_snprintf(buf, n, "about %.0f recipient domains in 1h > %.0f", v->domains_hour,
                   l->domains * f);
    else
        return false;
    return true;
}

/* REJECT with [policy] lock_text; no ticket yet while the desk worker has not
 * filed a lock decided here (inc 0). */
static void reject_locked(struct policyd *d, struct policy_conn *c, const char *who, int64_t inc,
                          bool german)
{
    char ticket[64];
    if (inc)
        g_snprintf(ticket, sizeof ticket, "[%s #%lld]", d->cfg->ticket_prefix, (long long)inc);
    else
        g_strlcpy(ticket, german ? "unsere Nachricht" : "the notice we send", sizeof ticket);
    char *t = fill(german ? d->cfg->lock_text_de : d->cfg->lock_text, who, ticket, "");
    char *a = g_strdup_printf("REJECT %s", t);
    policy_server_answer(c, a);
    g_free(a);
    g_free(t);
    d->n_reject++;
}

/* Anomalies of an authenticated user: an incident at alert, once per hour. */
static void anomalies(struct policyd *d, const char *user, struct rl_entry *e,
                      const struct rl_view *v, int64_t now)
{
    const struct config *cfg = d->cfg;
    char reason[256];
    if (v->trained && !(e->flags & RL_F_ANOMALY) && v->msgs_hour >= cfg->anomaly_min
        && v->msgs_hour > cfg->anomaly_factor * (v->baseline > 1 ? v->baseline : 1)) {
        e->flags |= RL_F_ANOMALY;
        g_snprintf(reason, sizeof reason,
                   "anomaly: %.0f messages in 1h, %.0f times the learned hourly mean %.1f",
                   v->msgs_hour, v->msgs_hour / (v->baseline > 1 ? v->baseline : 1), v->baseline);
        policy_event(d, user, reason, false, now, 0);
    }
    if (cfg->networks_per_hour > 0 && !(e->flags & RL_F_NETS)
        && v->nets_hour >= (double)cfg->networks_per_hour - 0.5) {
        e->flags |= RL_F_NETS;
        g_snprintf(reason, sizeof reason,
                   "logins from about %.0f client networks in 1h (limit %lld): a leaked "
                   "password used by a botnet?",
                   v->nets_hour, (long long)cfg->networks_per_hour);
        policy_event(d, user, reason, false, now, 0);
    }
}

void policyd_limit_view(const struct rl_view *local, const struct shared_view *sv,
                       struct rl_view *out)
{
    *out = *local;
    if (!sv)
        return;
    out->msgs_hour = MAX(local->msgs_hour, sv->msgs_hour);
    out->rcpts_hour = MAX(local->rcpts_hour, sv->rcpts_hour);
    out->rcpts_day = MAX(local->rcpts_day, sv->rcpts_day);
}

bool policyd_near_limit(const struct rl_view *v, long long msgs, long long rcpts,
                        long long rcpts_day)
{
    return (msgs > 0 && 2 * v->msgs_hour >= (double)msgs)
           || (rcpts > 0 && 2 * v->rcpts_hour >= (double)rcpts)
           || (rcpts_day > 0 && 2 * v->rcpts_day >= (double)rcpts_day);
}

/* With shared counters: counts this request (msgs new messages, one
 * recipient) for key there too and makes *lv the view for the limits (see
 * policyd_limit_view()); a sender at half a limit or more is watched, so that
 * its total stays fresh here while it sends through the other servers.
 * Without: *lv = *v. Never waits on Redis. */
static void count_shared(struct policyd *d, uint64_t key, uint32_t msgs, int64_t now,
                         const struct limits *l, const struct rl_view *v, struct rl_view *lv)
{
    if (!d->shared) {
        *lv = *v;
        return;
    }
    struct shared_view sv;
    shared_add(d->shared, key, msgs, 1, now, &sv);
    policyd_limit_view(v, &sv, lv);
    if (policyd_near_limit(lv, l->msgs, l->rcpts, l->rcpts_day))
        shared_watch(d->shared, key, now);
}

/* ---- outbound counts: in memory, written in batches by the writer thread -- */

/* One recipient of an authenticated sender's mail, through the outbound
 * address the MTA names (server_address) or this host's (host_addresses). */
static void count_out(struct policyd *d, const struct policy_req *r, int64_t now)
{
    if (!r->sasl_username)
        return;
    char *one[2] = { (char *)r->server_address, NULL };
    char *const *addrs = outcount_server_address_ok(d->cfg, r->server_address) ? one
                                                                                : d->out_addrs;
    outcount_add(d->oc, now, addrs, "account", r->sasl_username, r->instance);
}

/* This server's answers by action and decision times, since it started, for
 * the dashboard's /metrics (store_policy_stats_put, by the writer thread):
 * {"answers":{"dunno":N,...},"latency_us":{"le":[bounds],"n":[per bucket,
 * the last above every bound]},"latency_sum_us":N,"requests":N}. */
static void stats_push(struct policyd *d)
{
    if (!d->srv)
        return;
    const struct policy_server_stats *ps = policy_server_stats(d->srv);
    GString *g = g_string_new("{\"answers\":{");
    for (int i = 0; i < POLICY_ANSWER_KINDS; i++)
        g_string_append_printf(g, "%s\"%s\":%llu", i ? "," : "", policy_answer_names[i],
                               (unsigned long long)ps->answers[i]);
    g_string_append(g, "},\"latency_us\":{\"le\":[");
    for (int i = 0; i < POLICY_LATENCY_BUCKETS; i++)
        g_string_append_printf(g, "%s%lld", i ? "," : "", (long long)policy_latency_bounds_us[i]);
    g_string_append(g, "],\"n\":[");
    for (int i = 0; i <= POLICY_LATENCY_BUCKETS; i++)
        g_string_append_printf(g, "%s%llu", i ? "," : "", (unsigned long long)ps->latency[i]);
    g_string_append_printf(g, "]},\"latency_sum_us\":%llu,\"requests\":%llu}",
                           (unsigned long long)ps->latency_sum_us,
                           (unsigned long long)ps->requests);
    const char *listen = d->cfg->policy_listen && d->cfg->policy_listen[0]
                             ? d->cfg->policy_listen[0] : "";
    struct job *j = g_new0(struct job, 1);
    j->account = g_strdup_printf("%s %s", g_get_host_name(), listen);
    j->reason = g_strdup("figures");
    j->at = now_s();
    j->stats = g_string_free(g, FALSE);
    g_async_queue_push(d->jobs, j);
}

/* Hands the counts so far to the writer thread (a timer, and at the stop). */
static void counts_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    struct policyd *d = arg;
    /* The store is away and batches pile up: keep counting in the (bounded)
     * table instead, and hand it over when the writer caught up. */
    if ((what & EV_TIMEOUT) && g_async_queue_length(d->jobs) > 64)
        return;
    stats_push(d);
    struct outcount_batch *b = outcount_take(d->oc, now_s());
    if (!b)
        return;
    struct job *j = g_new0(struct job, 1);
    j->account = g_strdup("outbound counts");
    j->reason = g_strdup_printf("%zu rows", b->n);
    j->at = now_s();
    j->counts = b;
    g_async_queue_push(d->jobs, j);
}

/* Inbound BATV: a bounce (null sender, MAILER-DAEMON, postmaster) to an
 * address of a [batv] domain must carry a valid tag of ours; every other
 * bounce is backscatter of mail we never sent. True when answered (REJECT);
 * false lets the request go on (no bounce, not our domain, a valid tag, or
 * no keys: fail open). One HMAC, no allocation. */
static bool batv_check_bounce(struct policyd *d, const struct policy_req *r,
                              struct policy_conn *c)
{
    if (!d->batv_ok || !r->recipient || !batv_bounce_sender(r->sender)
        || !batv_address_listed(d->cfg->batv_domains, r->recipient))
        return false;
    enum batv_status st = batv_check(&d->batv, r->recipient, strlen(r->recipient), now_s(),
                                     d->cfg->batv_lifetime, NULL, 0);
    if (st == BATV_VALID)
        return false;
    char a[400];
    g_snprintf(a, sizeof a, "REJECT Bounce not accepted: <%.200s> carries no valid BATV tag "
               "(%s); we never sent the mail it answers (its sender was forged)",
               r->recipient, batv_status_name(st));
    for (char *p = a; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    policy_server_answer(c, a);
    d->n_batv_reject++;
    log_msg(d->log, LOG_LEVEL_INFO, "policy: BATV: bounce from <%.200s> to <%.200s> rejected: %s",
            r->sender ? r->sender : "", r->recipient, batv_status_name(st));
    return true;
}

static void decide(void *arg, const struct policy_req *r, struct policy_conn *c)
{
    struct policyd *d = arg;
    const struct config *cfg = d->cfg;
    int64_t inc = 0;
    bool german = false;
    const char *who = r->sasl_username ? r->sasl_username : r->sender;
    if (locked(d, r->sasl_username, &inc, &german) || locked(d, r->sender, &inc, &german)) {
        reject_locked(d, c, who, inc, german);
        return;
    }
    if (!d->store_ok && strcmp(cfg->store_failure_action, "DUNNO") != 0) {
        policy_server_answer(c, "DEFER_IF_PERMIT Policy service cannot read its database, "
                                "try again later");
        return;
    }
    bool rcpt = r->protocol_state && !strcmp(r->protocol_state, "RCPT");
    if (rcpt && cfg->batv_domains && cfg->batv_domains[0] && batv_check_bounce(d, r, c))
        return;
    if (!rcpt || (!r->sasl_username && !cfg->limit_unauthenticated)) {
        policy_server_answer(c, "DUNNO");
        return;
    }
    int64_t now = now_s();
    const char *at = r->recipient ? strrchr(r->recipient, '@') : NULL;
    char net[64];
    net_of(r->client_address, net);
    /* An authenticated user answers for its mail: limits by login and sender.
     * The client address is limited only when nobody logged in (a shared office
     * NAT must not throttle every customer behind it). */
    struct {
        enum rl_kind kind;
        const char *name;
    } keys[] = { { RL_SASL, r->sasl_username }, { RL_SENDER, r->sender },
                 { RL_CLIENT, r->sasl_username ? NULL : r->client_address } };
    const char *soft = NULL;
    char why[160] = "";
    for (size_t k = 0; k < G_N_ELEMENTS(keys); k++) {
        if (!keys[k].name || !*keys[k].name)
            continue;
        uint64_t key = rl_key(keys[k].kind, keys[k].name);
        struct rl_entry *e = rl_get(&d->rl, key, now);
        if (!e)
            continue; /* the table is full of active senders: see sweep_cb */
        rl_roll(&d->rl, e, now, 0.2);
        uint32_t msgs0 = e->msgs;
        rl_count(e, r->instance, at ? at + 1 : NULL, net[0] ? net : NULL);
        struct rl_view v, lv; /* this server's own; what the limits see */
        rl_view(&d->rl, e, now, &v);
        struct limits l;
        limits_for(d, keys[k].name, &l);
        count_shared(d, key, e->msgs - msgs0, now, &l, &v, &lv);
        char buf[160];
        bool account = keys[k].kind != RL_CLIENT;
        if (over(&l, &lv, cfg->hard_factor, buf, sizeof buf)) {
            if (account && !(e->flags & (RL_F_HARD | RL_F_HARD_PENDING)) && r->sasl_username) {
                /* Saved as locked (RL_F_HARD) only once the store has the lock. */
                e->flags |= RL_F_HARD_PENDING;
                char reason[256];
                g_snprintf(reason, sizeof reason, "outbound volume: %s (hard limit of %s)", buf,
                           keys[k].name);
                policy_event(d, r->sasl_username, reason, true, now, e->key);
            }
            if (locked(d, r->sasl_username, &inc, &german)) {
                reject_locked(d, c, who, inc, german);
                return;
            }
            if (!soft) {
                soft = keys[k].name;
                g_strlcpy(why, buf, sizeof why);
            }
            continue;
        }
        if (over(&l, &lv, 1.0, buf, sizeof buf) && !soft) {
            soft = keys[k].name;
            g_strlcpy(why, buf, sizeof why);
            if (!(e->flags & RL_F_SOFT)) {
                e->flags |= RL_F_SOFT;
                log_msg(d->log, LOG_LEVEL_WARNING, "policy: soft limit for %s: %s", soft, buf);
            }
        }
        if (keys[k].kind == RL_SASL)
            anomalies(d, r->sasl_username, e, &v, now); /* the baseline is this server's */
    }
    if (soft) {
        char *t = fill(cfg->soft_text, soft, "", why);
        char *a = g_strdup_printf("%s %s", cfg->soft_action, t);
        policy_server_answer(c, a);
        g_free(a);
        g_free(t);
        d->n_soft++;
        return;
    }
    count_out(d, r, now);
    policy_server_answer(c, "DUNNO");
}

/* ---- resources and privileges ---------------------------------------------- */

static size_t n_listen(const struct config *cfg)
{
    size_t n = 0;
    for (char **l = cfg->policy_listen; l && *l; l++)
        n++;
    return n;
}

/* Room for want connections under RLIMIT_NOFILE: raises the soft limit when
 * that is needed and allowed; else d->max_conns_cap says how many fit (a
 * warning), or AD_ERR_CONFIG when too few do to serve at all. */
static int fit_nofile(struct policyd *d, int want, struct ad_err *err)
{
    rlim_t reserve = NOFILE_RESERVE + n_listen(d->cfg);
    rlim_t need = (rlim_t)want + reserve;
    struct rlimit rl;
    d->max_conns_cap = want;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return 0;
    struct rlimit n = rl;
    n.rlim_cur = need;
    if (n.rlim_max != RLIM_INFINITY && n.rlim_max < need)
        n.rlim_max = need; /* allowed to root only */
    if (setrlimit(RLIMIT_NOFILE, &n) != 0 && rl.rlim_max != RLIM_INFINITY) {
        n.rlim_max = rl.rlim_max;
        n.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
        if (n.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &n) != 0)
            n = rl;
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur != n.rlim_cur)
        rl = n;
    if (rl.rlim_cur >= need) {
        log_msg(d->log, LOG_LEVEL_INFO, "policy: file descriptor limit (RLIMIT_NOFILE) raised to "
                "%llu for %d connections", (unsigned long long)rl.rlim_cur, want);
        return 0;
    }
    if (rl.rlim_cur < reserve + 16)
        return ad_err_set(err, AD_ERR_CONFIG,
                          "only %llu file descriptors (RLIMIT_NOFILE), too few to serve: raise "
                          "the limit (ulimit -n, systemd LimitNOFILE=) to %llu",
                          (unsigned long long)rl.rlim_cur, (unsigned long long)need);
    d->max_conns_cap = (int)(rl.rlim_cur - reserve);
    log_msg(d->log, LOG_LEVEL_WARNING, "policy: [policy] max_connections %d lowered to %d: the "
            "file descriptor limit (RLIMIT_NOFILE) is %llu and cannot be raised; raise it "
            "(ulimit -n, systemd LimitNOFILE=) to %llu", want, d->max_conns_cap,
            (unsigned long long)rl.rlim_cur, (unsigned long long)need);
    return 0;
}

static void server_opts(const struct policyd *d, struct policy_server_opts *o)
{
    const struct config *cfg = d->cfg;
    o->max_connections = cfg->policy_max_connections < d->max_conns_cap
                             ? cfg->policy_max_connections : d->max_conns_cap;
    o->max_per_client = cfg->policy_max_per_client;
    o->idle_timeout = cfg->policy_idle_timeout;
    o->request_timeout = cfg->policy_request_timeout;
}

/* True when this process may give a file to group g (root, or a member). */
static bool may_use_group(gid_t g)
{
    if (geteuid() == 0 || getegid() == g)
        return true;
    gid_t groups[256];
    int n = getgroups(G_N_ELEMENTS(groups), groups);
    for (int i = 0; i < n; i++)
        if (groups[i] == g)
            return true;
    return false;
}

/* The UNIX sockets' group: [policy] socket_group, or "postfix" when that
 * group exists, none is set and we may use it ((gid_t)-1: leave the daemon's
 * own, with a warning when a UNIX socket is asked for). */
static int socket_group(const struct policyd *d, gid_t *gid, struct ad_err *err)
{
    const char *name = d->cfg->policy_socket_group;
    bool any_unix = false;
    for (char **l = d->cfg->policy_listen; l && *l; l++)
        any_unix |= g_str_has_prefix(*l, "unix:");
    *gid = (gid_t)-1;
    if (name && *name) {
        struct group *gr = getgrnam(name);
        if (!gr)
            return ad_err_set(err, AD_ERR_CONFIG, "[policy] socket_group: no group '%s'", name);
        *gid = gr->gr_gid;
        return 0;
    }
    struct group *gr = getgrnam("postfix");
    if (gr && may_use_group(gr->gr_gid))
        *gid = gr->gr_gid;
    else if (any_unix)
        log_msg(d->log, LOG_LEVEL_WARNING, "policy: the UNIX socket is for the daemon's own group "
                "(mode 0660): %s; set [policy] socket_group to a group Postfix's smtpd is in and "
                "that this user may use (e.g. add it to group postfix)",
                gr ? "group postfix exists but this user is not in it" : "there is no group postfix");
    return 0;
}

static int drop_privileges(struct policyd *d, const struct passwd *pw, struct ad_err *err)
{
    if (geteuid() != 0)
        return 0;
    if (!pw) {
        log_msg(d->log, LOG_LEVEL_WARNING,
                "policy: running as root ([policy] user is empty); better set a service user");
        return 0;
    }
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
        return ad_err_set(err, AD_ERR_IO, "cannot drop privileges to %s: %s", pw->pw_name,
                          strerror(errno));
    if (setuid(0) == 0)
        return ad_err_set(err, AD_ERR_IO, "privileges could be regained after dropping to %s",
                          pw->pw_name);
    log_msg(d->log, LOG_LEVEL_INFO, "policy: running as %s (uid %d)", pw->pw_name,
            (int)pw->pw_uid);
    return 0;
}

/* ---- shared counters ([policy] counters = redis) ------------------------------ */

static bool shared_wanted(const struct config *cfg)
{
    return cfg->policy_counters && !strcmp(cfg->policy_counters, "redis");
}

/* The settings an instance is made with, as one string: a reload makes a new
 * instance only when it differs. Caller frees; NULL for local counters. */
static char *shared_signature(const struct config *cfg)
{
    if (!shared_wanted(cfg))
        return NULL;
    return g_strdup_printf("%s\n%s\n%s\n%s\n%d\n%d\n%d\n%d", cfg->redis_addr,
                           cfg->redis_prefix, cfg->redis_user, cfg->redis_password, cfg->redis_db,
                           cfg->sync_interval_ms, cfg->redis_timeout_ms, cfg->shared_max_keys);
}

/* A new instance for cfg in *out (caller frees with shared_free()); it
 * connects in the background. Errors: AD_ERR_CONFIG (a setting shared.c
 * refuses), AD_ERR_NOMEM. */
static int shared_make(struct policyd *d, const struct config *cfg, struct shared **out,
                       struct ad_err *err)
{
    struct shared_opts o = {
        .redis = cfg->redis_addr,
        .prefix = cfg->redis_prefix,
        .sync_ms = (unsigned)cfg->sync_interval_ms,
        .timeout_ms = (unsigned)cfg->redis_timeout_ms,
        .max_keys = (size_t)cfg->shared_max_keys,
        .user = cfg->redis_user,
        .password = cfg->redis_password,
        .db = (unsigned)cfg->redis_db,
    };
    int rc = shared_new(&o, d->log, out, err);
    if (rc == 0)
        log_msg(d->log, LOG_LEVEL_INFO, "policy: shared counters through redis %s (prefix %s, "
                "exchange every %d ms, %d senders at most)", cfg->redis_addr, cfg->redis_prefix,
                cfg->sync_interval_ms, cfg->shared_max_keys);
    return rc;
}

static gpointer shared_retire_main(gpointer s)
{
    shared_free(s);
    return NULL;
}

/* Frees an instance a reload replaced in a thread of its own: it pushes what
 * it still holds (up to 5 x its timeout), which the loop must not wait for. */
static void shared_retire(struct policyd *d, struct shared *old)
{
    if (!old)
        return;
    if (d->shared_retiring)
        g_thread_join(d->shared_retiring); /* the one before: long done, normally */
    d->shared_retiring = g_thread_new("shared-retire", shared_retire_main, old);
}

/* At start, after the privilege drop and the counters' restore. Only a
 * setting shared.c refuses stops the start: Redis may well be down (the
 * server then counts alone until it is back). */
static int shared_start(struct policyd *d, struct ad_err *err)
{
    if (!shared_wanted(d->cfg))
        return 0;
    struct ad_err serr = { 0 };
    int rc = shared_make(d, d->cfg, &d->shared, &serr);
    if (rc == AD_ERR_CONFIG)
        return ad_err_set(err, rc, "[policy] counters = redis: %s", serr.msg);
    if (rc) {
        log_msg(d->log, LOG_LEVEL_ERROR, "policy: shared counters not started, counting "
                "locally: %s", serr.msg);
        return 0;
    }
    d->shared_sig = shared_signature(d->cfg);
    return 0;
}

/* SIGHUP: changed settings get a new instance, swapped in only when it could
 * be made; the old one sends what it holds in the background (only when its
 * Redis is up: otherwise the other servers never see those counts). This
 * server's limits lose nothing: its local counters keep every count, and the
 * limits use the larger of both views. */
static void shared_reload(struct policyd *d)
{
    char *sig = shared_signature(d->cfg);
    if (!g_strcmp0(sig, d->shared_sig)) {
        g_free(sig);
        return;
    }
    struct shared *n = NULL;
    if (sig) {
        struct ad_err err = { 0 };
        if (shared_make(d, d->cfg, &n, &err) != 0) {
            log_msg(d->log, LOG_LEVEL_ERROR, "policy: RELOAD: shared counters: %s; keeping %s",
                    err.msg, d->shared ? "the running ones" : "local counters");
            g_free(sig);
            return;
        }
    } else {
        log_msg(d->log, LOG_LEVEL_INFO, "policy: counters = local: no longer shared");
    }
    shared_retire(d, d->shared);
    d->shared = n;
    g_free(d->shared_sig);
    d->shared_sig = sig;
}

/* ---- timers and signals ------------------------------------------------------ */

static void state_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct policyd *d = arg;
    if (!*d->cfg->state_file)
        return;
    if (!d->state)
        d->state = policy_state_new(d->base, &d->rl, d->log, &d->log_level);
    size_t len = 0;
    char *extra = pending_text(d, &len);
    if (!policy_state_start(d->state, d->cfg->state_file, extra, len))
        log_msg(d->log, LOG_LEVEL_DEBUG, "policy: the previous snapshot is still being written");
    g_free(extra);
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct policyd *d = arg;
    rl_sweep(&d->rl, now_s(), 2 * 86400, 65536);
    /* Newcomers not tracked because every slot holds an active sender: the
     * limits do not apply to them. Say so, once a minute at most. */
    int64_t mono = g_get_monotonic_time();
    uint64_t n = d->rl.n_overflow - d->overflow_logged;
    if (n && (!d->overflow_log_at || mono - d->overflow_log_at >= OVERFLOW_LOG_US)) {
        log_msg(d->log, LOG_LEVEL_WARNING, "policy: the sender table is full (%zu senders, none "
                "idle for %ds): %llu new sender(s) not tracked since the last warning, %llu in "
                "all; raise [policy] max_senders (now %d)", d->rl.n_used, RL_EVICT_IDLE,
                (unsigned long long)n, (unsigned long long)d->rl.n_overflow, d->cfg->max_senders);
        d->overflow_logged = d->rl.n_overflow;
        d->overflow_log_at = mono;
    }
}

/* Reads the BATV keys when [batv] domains is set. A reload that cannot read
 * them keeps the keys it has (after the privilege drop the file may be
 * root's only). */
static void batv_load(struct policyd *d, bool reload)
{
    if (!d->cfg->batv_domains || !d->cfg->batv_domains[0]) {
        d->batv_ok = false;
        return;
    }
    struct batv_keys k;
    struct ad_err err = { 0 };
    if (batv_keys_load(d->cfg->batv_keys_file, &k, &err) != 0) {
        log_msg(d->log, LOG_LEVEL_ERROR, "policy: BATV: %s: %s", err.msg,
                reload && d->batv_ok ? "keeping the keys read before"
                                     : "bounces are not checked (fail open)");
        return;
    }
    d->batv = k;
    d->batv_ok = true;
    memset(&k, 0, sizeof k);
    log_msg(d->log, LOG_LEVEL_INFO, "policy: BATV: %zu key(s), bounces to %s%s checked", d->batv.n,
            d->cfg->batv_domains[0], d->cfg->batv_domains[1] ? " and more" : "");
}

static void hup_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct policyd *d = arg;
    if (!d->config_path) {
        log_msg(d->log, LOG_LEVEL_INFO, "policy: SIGHUP: no configuration file to re-read");
        return;
    }
    struct config *n = g_new0(struct config, 1);
    config_defaults(n);
    struct ad_err err = { 0 };
    if (config_load(n, d->config_path, &err) != 0) {
        /* Loud: after the privilege drop a file only root may read cannot be
         * re-read, and falling back to defaults would drop every limit. */
        log_msg(d->log, LOG_LEVEL_ERROR, "policy: RELOAD FAILED, keeping the running "
                "configuration: %s%s", err.msg, err.code == AD_ERR_IO ? " (the service user "
                "must be able to read it: e.g. mode 0640 with its group)" : "");
        config_free(n);
        g_free(n);
        return;
    }
    if (d->db_override) {
        g_free(n->db_path);
        n->db_path = g_strdup(d->db_override);
    }
    struct config *old = d->cfg_own;
    d->cfg = d->cfg_own = n;
    customer_limits_load(d); /* points into the new configuration */
    g_strfreev(d->out_addrs);
    d->out_addrs = outcount_host_addresses(n, g_get_host_name());
    if (old) {
        config_free(old);
        g_free(old);
    }
    int level = log_level_parse(n->log_level);
    if (level >= 0) {
        d->log->min = (enum log_level)level;
        g_atomic_int_set(&d->log_level, level);
    }
    shared_reload(d);
    batv_load(d, true);
    struct ad_err ferr = { 0 };
    if (fit_nofile(d, n->policy_max_connections, &ferr) != 0)
        log_msg(d->log, LOG_LEVEL_ERROR, "policy: %s", ferr.msg);
    struct policy_server_opts o;
    server_opts(d, &o);
    policy_server_set_opts(d->srv, &o);
    struct timeval tv = { (time_t)n->state_interval, 0 };
    event_del(d->ev_state);
    event_add(d->ev_state, &tv);
    log_msg(d->log, LOG_LEVEL_INFO, "policy: configuration reloaded (listen addresses, "
            "socket_group, user, [store] path and max_senders need a restart)");
}

static void term_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct policyd *d = arg;
    const struct policy_server_stats *s = policy_server_stats(d->srv);
    log_msg(d->log, LOG_LEVEL_INFO, "policy: stopping (%llu requests, %llu rejected, %llu over a "
            "soft limit, %llu malformed, %llu findings; connections: %llu refused, %llu evicted, "
            "%llu timed out, %llu not reading; %llu senders not tracked; %llu bounces without "
            "a valid BATV tag rejected)",
            (unsigned long long)s->requests, (unsigned long long)d->n_reject,
            (unsigned long long)d->n_soft, (unsigned long long)s->malformed,
            (unsigned long long)d->n_findings, (unsigned long long)s->refused,
            (unsigned long long)s->evicted, (unsigned long long)s->timeouts,
            (unsigned long long)s->slow_readers, (unsigned long long)d->rl.n_overflow,
            (unsigned long long)d->n_batv_reject);
    if (d->shared) {
        struct shared_stats ss;
        shared_stats(d->shared, &ss);
        log_msg(d->log, LOG_LEVEL_INFO, "policy: shared counters: redis %s, %zu senders, %llu "
                "exchanges (%llu senders), %llu failures, %llu connects, %llu re-pushes after "
                "an empty redis, %llu senders forgotten (%llu with counts not yet sent)",
                ss.up ? "up" : "down", ss.n_keys, (unsigned long long)ss.n_rounds,
                (unsigned long long)ss.n_key_syncs, (unsigned long long)ss.n_failures,
                (unsigned long long)ss.n_connects, (unsigned long long)ss.n_reseeds,
                (unsigned long long)ss.n_evicted, (unsigned long long)ss.n_lost);
    }
    event_base_loopbreak(d->base);
}

/* ---- start and stop ----------------------------------------------------------- */

/* Binds every listen address, then drops privileges. */
static int start_listening(struct policyd *d, struct ad_err *err)
{
    const struct config *cfg = d->cfg;
    const char *user = cfg->policy_user;
    struct passwd *pw = NULL;
    if (geteuid() == 0 && user && *user && !(pw = getpwnam(user)))
        return ad_err_set(err, AD_ERR_CONFIG,
                          "[policy] user: no user '%s' (create it, e.g. adduser --system %s, or "
                          "set another)",
                          user, user);
    struct passwd pwc = { 0 };
    if (pw) {
        pwc = *pw; /* getpwnam's buffer is static: keep what drop_privileges needs */
        pwc.pw_name = g_strdup(pw->pw_name);
    }
    gid_t gid;
    int rc = fit_nofile(d, cfg->policy_max_connections, err);
    if (rc == 0)
        rc = socket_group(d, &gid, err);
    if (rc == 0) {
        struct policy_server_opts o;
        server_opts(d, &o);
        d->srv = policy_server_new(d->base, d->log, &o, decide, d);
        for (char **l = cfg->policy_listen; l && *l && rc == 0; l++)
            rc = policy_server_listen(d->srv, *l, pw ? pwc.pw_uid : (uid_t)-1, gid, err);
    }
    if (rc == 0 && (!d->srv || policy_server_n_listeners(d->srv) == 0))
        rc = ad_err_set(err, AD_ERR_CONFIG, "[policy] listen: no address to listen on");
    if (rc == 0)
        rc = drop_privileges(d, pw ? &pwc : NULL, err);
    g_free(pwc.pw_name);
    return rc;
}

static void restore_counters(struct policyd *d, int64_t now)
{
    const char *path = d->cfg->state_file;
    if (!*path)
        return;
    struct ad_err err = { 0 };
    char *extra = NULL;
    if (rl_load(&d->rl, path, now, &extra, NULL, &err) != 0) {
        log_msg(d->log, LOG_LEVEL_WARNING, "policy: counters not restored: %s", err.msg);
    } else {
        log_msg(d->log, LOG_LEVEL_INFO, "policy: %zu senders' counters restored from %s",
                d->rl.n_used, path);
    }
    if (extra)
        pending_restore(d, extra);
    g_free(extra);
}

int policyd_run(const struct config *cfg0, const char *config_path, const char *db_override,
                struct logger *log, struct ad_err *err)
{
    struct policyd d = { 0 };
    int rc = 0;
    d.log = log;
    d.cfg = cfg0; /* read once by the caller, before any privilege drop */
    d.config_path = config_path;
    d.db_override = db_override;
    g_atomic_int_set(&d.log_level, (gint)log->min);
    d.locks = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    d.unlocks_done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    d.unlocks_since = now_s();
    d.pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, pend_free);
    d.jobs = g_async_queue_new();
    d.oc = outcount_new(262144);
    d.out_addrs = outcount_host_addresses(cfg0, g_get_host_name());
    d.done = g_async_queue_new_full(g_free);
    signal(SIGPIPE, SIG_IGN);
    d.base = event_base_new();
    if (!d.base) {
        rc = ad_err_set(err, AD_ERR_NOMEM, "cannot create the event loop");
        goto out;
    }
    batv_load(&d, false); /* before the privilege drop: the key file may be root's */
    if ((rc = start_listening(&d, err)))
        goto out;
    if ((rc = store_open_cfg(d.cfg, &d.st, err)))
        goto out;
    int64_t now = now_s();
    if ((rc = rl_init(&d.rl, (size_t)d.cfg->max_senders, now, err)))
        goto out;
    d.store_ok = true;
    d.data_version = -1;
    poll_cb(-1, 0, &d);         /* the locks first: restored pending locks may be in */
    restore_counters(&d, now);
    customer_limits_load(&d);
    if ((rc = shared_start(&d, err)))
        goto out;
    d.ev_poll = event_new(d.base, -1, EV_PERSIST, poll_cb, &d);
    d.ev_state = event_new(d.base, -1, EV_PERSIST, state_cb, &d);
    d.ev_sweep = event_new(d.base, -1, EV_PERSIST, sweep_cb, &d);
    d.ev_hup = evsignal_new(d.base, SIGHUP, hup_cb, &d);
    d.ev_term = evsignal_new(d.base, SIGTERM, term_cb, &d);
    d.ev_int = evsignal_new(d.base, SIGINT, term_cb, &d);
    d.ev_counts = event_new(d.base, -1, EV_PERSIST, counts_flush, &d);
    struct timeval counts_tv = { 5, 0 };
    event_add(d.ev_counts, &counts_tv);
    struct timeval poll_tv = { 0, 200000 }, state_tv = { (time_t)d.cfg->state_interval, 0 },
                   sweep_tv = { 10, 0 };
    event_add(d.ev_poll, &poll_tv);
    event_add(d.ev_state, &state_tv);
    event_add(d.ev_sweep, &sweep_tv);
    event_add(d.ev_hup, NULL);
    event_add(d.ev_term, NULL);
    event_add(d.ev_int, NULL);
    /* The writer thread gets copies of the little it needs: it never reads
     * the configuration (nor its file) itself. */
    d.writer_db = g_strdup(d.cfg->db_path);
    d.writer_backend = g_strdup(d.cfg->store_backend);
    d.writer_conninfo = g_strdup(d.cfg->store_conninfo);
    d.writer_busy_ms = d.cfg->busy_timeout_ms;
    d.writer_log = *log;
    d.writer = g_thread_new("policy-writer", writer_main, &d);
    log_msg(log, LOG_LEVEL_INFO, "policy: serving (%u locks known, %zu sender slots)",
            g_hash_table_size(d.locks), d.rl.mask + 1);
    event_base_dispatch(d.base);

    /* Stop taking connections, let the writer record what it can, then keep
     * the counters and the locks it could not record. */
    policy_server_close_listeners(d.srv);
    counts_flush(-1, 0, &d);
    g_atomic_int_set(&d.stopping, 1);
    g_thread_join(d.writer);
    d.writer = NULL;
    /* The last counts to Redis (about a second at most, only when it is up),
     * then the counters to the state file. */
    d.shared = shared_free(d.shared);
    char *acct;
    while ((acct = g_async_queue_try_pop(d.done)) != NULL) {
        lock_committed(&d, acct);
        g_free(acct);
    }
    if (d.state)
        policy_state_wait(d.state);
    if (*d.cfg->state_file) {
        size_t len = 0;
        char *extra = pending_text(&d, &len);
        struct ad_err serr = { 0 };
        if (rl_save(&d.rl, d.cfg->state_file, extra, len, &serr) != 0)
            log_msg(log, LOG_LEVEL_ERROR, "policy: %s", serr.msg);
        g_free(extra);
    }
out:
    d.shared = shared_free(d.shared);
    if (d.shared_retiring)
        g_thread_join(d.shared_retiring);
    g_free(d.shared_sig);
    d.srv = policy_server_free(d.srv);
    d.state = policy_state_free(d.state);
    struct job *j;
    while ((j = g_async_queue_try_pop(d.jobs)) != NULL)
        job_free(j);
    g_async_queue_unref(d.jobs);
    g_async_queue_unref(d.done);
    g_hash_table_destroy(d.pending);
    if (d.acct_limits)
        g_hash_table_destroy(d.acct_limits);
    if (d.dir_limits)
        g_hash_table_destroy(d.dir_limits);
    struct event *evs[] = { d.ev_poll, d.ev_state, d.ev_sweep, d.ev_hup, d.ev_term, d.ev_int,
                            d.ev_counts };
    for (size_t i = 0; i < G_N_ELEMENTS(evs); i++)
        if (evs[i])
            event_free(evs[i]);
    if (d.base)
        event_base_free(d.base);
    rl_free(&d.rl);
    memset(&d.batv, 0, sizeof d.batv);
    store_close(d.st);
    g_hash_table_destroy(d.locks);
    g_hash_table_destroy(d.unlocks_done);
    d.oc = outcount_free(d.oc);
    g_strfreev(d.out_addrs);
    g_free(d.writer_db);
    g_free(d.writer_backend);
    g_free(d.writer_conninfo);
    if (d.cfg_own) {
        config_free(d.cfg_own);
        g_free(d.cfg_own);
    }
    return rc;
}

/*
 * policyd.c: the policy daemon (see policyd.h). One libevent loop serves every
 * connection; a request is answered from memory: the lock set (reloaded from the
 * store whenever another process commits, seen through SQLite's data_version,
 * polled every 200 ms) and the fixed-memory sender table (ratelimit.h). Only
 * rare events write to the store from the loop: a hard limit crossed (lock and
 * incident) and anomalies (incident at alert), each once per sender and hour.
 * The outbox is delivered by a second thread with its own store connection.
 *
 * Never stop the mail: a request that cannot be decided gets DUNNO (or the
 * configured store_failure_action); a malformed one gets "action=WARN ..." and
 * is logged; requests are size-bounded; idle or stalled connections are closed;
 * at most max_connections are served at once.
 */
#include "policyd.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <glib.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "act/lifecycle.h"
#include "act/outbox.h"
#include "directory/directory.h"
#include "policy/policy_proto.h"
#include "policy/ratelimit.h"
#include "store/store.h"
#include "store/store_q.h"

#define MAX_LISTENERS 16

struct policyd {
    struct event_base *base;
    struct config *cfg;         /* owned by the loop; replaced on SIGHUP */
    gint reload_gen;            /* bumped on each reload (the writer re-reads its copy) */
    const char *config_path, *db_override;
    struct logger *log;
    struct store *st;           /* the loop's connection */
    struct rl_table rl;
    GHashTable *locks;          /* lower-cased subject -> { incident id, German? } (gint64[2]) */
    int64_t data_version;
    bool store_ok;
    struct evconnlistener *listeners[MAX_LISTENERS];
    char *unix_paths[MAX_LISTENERS];
    size_t n_listeners;
    size_t n_conns;
    struct event *ev_poll, *ev_state, *ev_sweep, *ev_hup, *ev_term, *ev_int;
    GThread *outbox_thread;
    GAsyncQueue *jobs;          /* of struct job *: store writes off the loop */
    GAsyncQueue *done;          /* of char * (account): jobs the writer committed */
    GHashTable *pending;        /* accounts locked here, not yet committed (loop only) */
    GHashTable *conns;          /* struct conn * set, to close them at the end */
    GHashTable *acct_limits;    /* account -> [limits:CUSTOMER] row (borrowed from cfg) */
    gint stopping;
    /* counters for the log */
    uint64_t n_requests, n_reject, n_soft, n_malformed;
};

struct conn {
    struct policyd *d;
    struct bufferevent *bev;
};

static const char sql_data_version[] = "PRAGMA data_version";
static const char sql_locks[] =
    "SELECT l.subject, l.incident_id, c.language FROM locks l"
    " LEFT JOIN customers c ON c.id = l.customer_id WHERE l.unlocked_at IS NULL";

static int64_t now_s(void)
{
    return (int64_t)(g_get_real_time() / G_USEC_PER_SEC);
}

/* ---- locks -------------------------------------------------------------- */

static void locks_reload(struct policyd *d)
{
    struct ad_err err = { 0 };
    struct store_q *q;
    GHashTable *n = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    int rc = store_q_get(d->st, sql_locks, &q, &err);
    while (rc >= 0 && (rc = store_q_step(q, &err)) == 1) {
        gint64 *v = g_new(gint64, 2);
        v[0] = store_q_col_null(q, 1) ? 0 : store_q_col_int(q, 1);
        /* the customer's language for the REJECT text their mail client shows */
        const char *lang = store_q_col_text(q, 2);
        if (!lang || (strcmp(lang, "de") && strcmp(lang, "en")))
            lang = d->cfg->default_language;
        v[1] = lang && !strcmp(lang, "de");
        g_hash_table_insert(n, g_ascii_strdown(store_q_col_text(q, 0), -1), v);
    }
    if (rc < 0) {
        g_hash_table_destroy(n);
        if (d->store_ok)
            log_msg(d->log, LOG_LEVEL_ERROR, "policy: cannot read locks: %s (keeping %u known)",
                    err.msg, g_hash_table_size(d->locks));
        d->store_ok = false;
        return;
    }
    if (!d->store_ok)
        log_msg(d->log, LOG_LEVEL_INFO, "policy: database readable again");
    d->store_ok = true;
    /* An account unlocked since the last look starts afresh: its counters
     * belong to the spam run that was dealt with. */
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, d->locks);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        if (g_hash_table_contains(n, k))
            continue;
        int64_t now = now_s();
        const enum rl_kind kinds[] = { RL_SASL, RL_SENDER };
        for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
            struct rl_entry *e = rl_get(&d->rl, rl_key(kinds[i], k), now);
            uint64_t key = e->key;
            memset(e, 0, sizeof *e);
            e->key = key;
            rl_roll(&d->rl, e, now, 0.2);
        }
        log_msg(d->log, LOG_LEVEL_INFO, "policy: %s unlocked: counters reset", (const char *)k);
    }
    g_hash_table_destroy(d->locks);
    d->locks = n;
}

/* Every 200 ms: another process committed? Then reload the locks. */
static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct policyd *d = arg;
    struct ad_err err = { 0 };
    struct store_q *q;
    int rc = store_q_get(d->st, sql_data_version, &q, &err);
    if (rc == 0 && (rc = store_q_step(q, &err)) == 1) {
        int64_t v = store_q_col_int(q, 0);
        store_q_step(q, &err);
        if (v != d->data_version || !d->store_ok) {
            d->data_version = v;
            locks_reload(d);
        }
        /* Locks the writer committed are in d->locks now (with their ticket). */
        char *acct;
        while ((acct = g_async_queue_try_pop(d->done)) != NULL) {
            if (g_hash_table_contains(d->locks, acct))
                g_hash_table_remove(d->pending, acct);
            else
                g_async_queue_push(d->done, acct), acct = NULL;
            g_free(acct);
            if (!acct)
                break; /* not visible yet: next tick */
        }
        return;
    }
    if (d->store_ok)
        log_msg(d->log, LOG_LEVEL_ERROR, "policy: database unreadable: %s", err.msg);
    d->store_ok = false;
}

/* ---- decisions ---------------------------------------------------------- */

/* text with {account}, {ticket}, {limit} replaced; no CR/LF (they would end the
 * answer). */
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
                    g_string_append(g, v);
                    p = e;
                    continue;
                }
            }
        }
        g_string_append_c(g, *p == '\r' || *p == '\n' ? ' ' : *p);
    }
    return g_string_free(g, FALSE);
}

/* Answers go straight to the socket when nothing is queued before them: a
 * policy answer is a few hundred bytes and the socket buffer almost always has
 * room, and going through the bufferevent's output costs two epoll_ctl calls
 * per request (enable, then disable the write event). What send() does not take
 * is queued in the bufferevent as usual. */
static void answer(struct bufferevent *bev, const char *action)
{
    struct evbuffer *out = bufferevent_get_output(bev);
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "action=%s\n\n", action);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf) {
        evbuffer_add_printf(out, "action=%s\n\n", action);
        return;
    }
    ssize_t w = 0;
    if (evbuffer_get_length(out) == 0) {
        w = send(bufferevent_getfd(bev), buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0)
            w = 0; /* EAGAIN and the like: the bufferevent writes it (or reports the error) */
    }
    if (w < n)
        evbuffer_add(out, buf + w, (size_t)(n - w));
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
        *incident = 0; /* the writer has not committed it yet: no ticket number */
        *german = d->cfg->default_language && !strcmp(d->cfg->default_language, "de");
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

/* What the policy saw and the store must record (an incident, maybe a lock). */
struct job {
    char *account, *reason;
    enum incident_stage stage;
    bool lock;
    int64_t at;
};

/* Queues the incident (and lock) for the writer thread: the answer never waits
 * on the disk. A lock takes effect in memory at once; the writer's commit makes
 * it durable and gives it its ticket. Rare: once per sender and hour or day. */
static void policy_event(struct policyd *d, const char *account, enum incident_stage stage,
                         const char *reason, bool lock)
{
    struct job *j = g_new0(struct job, 1);
    j->account = g_ascii_strdown(account, -1);
    j->reason = g_strdup(reason);
    j->stage = stage;
    j->lock = lock;
    j->at = now_s();
    log_msg(d->log, LOG_LEVEL_WARNING, "policy: %s: %s%s", account, reason,
            lock ? " -> locked" : " -> incident at alert");
    if (lock)
        g_hash_table_add(d->pending, g_strdup(j->account));
    g_async_queue_push(d->jobs, j);
}

/* Records one job; false when it should be tried again later (store busy or
 * unavailable). A committed lock is reported to the loop through d->done. */
static bool job_run(struct policyd *d, struct store *st, const struct config *cfg, struct job *j)
{
    struct ad_err err = { 0 };
    struct lifecycle lc = { cfg, st, d->log, j->at };
    int64_t id = 0;
    int rc = store_begin(st, &err);
    if (rc == 0) {
        rc = lifecycle_policy_event(&lc, j->account, j->stage, j->reason, j->lock,
                                    "abusedesk policy", &id, &err);
        if (rc == 0)
            rc = store_commit(st, &err);
        else
            store_rollback(st);
    }
    if (rc == AD_ERR_BUSY || rc == AD_ERR_STORE) {
        log_msg(d->log, LOG_LEVEL_WARNING, "policy: %s: %s: will retry: %s", j->account,
                j->reason, err.msg);
        return false;
    }
    if (rc)
        /* Not recordable (should not happen): the lock stays in force in memory
         * until the daemon restarts. */
        log_msg(d->log, LOG_LEVEL_ERROR, "policy: %s: %s: could not record: %s", j->account,
                j->reason, err.msg);
    else
        log_msg(d->log, LOG_LEVEL_INFO, "policy: %s: incident %lld recorded", j->account,
                (long long)id);
    if (rc == 0 && j->lock)
        g_async_queue_push(d->done, g_strdup(j->account));
    g_free(j->account);
    g_free(j->reason);
    g_free(j);
    return true;
}

/* REJECT with [policy] lock_text; the ticket is not known yet while the writer
 * has not committed a lock decided here (inc 0). */
static void reject_locked(struct policyd *d, struct bufferevent *bev, const char *who,
                          int64_t inc, bool german)
{
    char ticket[64];
    if (inc)
        g_snprintf(ticket, sizeof ticket, "[%s #%lld]", d->cfg->ticket_prefix, (long long)inc);
    else
        g_strlcpy(ticket, german ? "unsere Nachricht" : "the notice we send", sizeof ticket);
    char *t = fill(german ? d->cfg->lock_text_de : d->cfg->lock_text, who, ticket, "");
    char *a = g_strdup_printf("REJECT %s", t);
    answer(bev, a);
    g_free(a);
    g_free(t);
    d->n_reject++;
}

static void decide(struct policyd *d, const struct policy_req *r, struct bufferevent *bev)
{
    const struct config *cfg = d->cfg;
    int64_t inc = 0;
    bool german = false;
    const char *who = r->sasl_username ? r->sasl_username : r->sender;
    if (locked(d, r->sasl_username, &inc, &german) || locked(d, r->sender, &inc, &german)) {
        reject_locked(d, bev, who, inc, german);
        return;
    }
    if (!d->store_ok && strcmp(cfg->store_failure_action, "DUNNO") != 0) {
        answer(bev, "DEFER_IF_PERMIT Policy service cannot read its database, try again later");
        return;
    }
    bool rcpt = r->protocol_state && !strcmp(r->protocol_state, "RCPT");
    if (!rcpt || (!r->sasl_username && !cfg->limit_unauthenticated)) {
        answer(bev, "DUNNO");
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
        struct rl_entry *e = rl_get(&d->rl, rl_key(keys[k].kind, keys[k].name), now);
        rl_roll(&d->rl, e, now, 0.2);
        rl_count(e, r->instance, at ? at + 1 : NULL, net[0] ? net : NULL);
        struct rl_view v;
        rl_view(&d->rl, e, now, &v);
        struct limits l;
        limits_for(d, keys[k].name, &l);
        char buf[160];
        bool account = keys[k].kind != RL_CLIENT;
        if (over(&l, &v, cfg->hard_factor, buf, sizeof buf)) {
            if (account && !(e->flags & RL_F_HARD) && r->sasl_username) {
                e->flags |= RL_F_HARD;
                char reason[256];
                g_snprintf(reason, sizeof reason, "outbound volume: %s (hard limit of %s)", buf,
                           keys[k].name);
                policy_event(d, r->sasl_username, INCIDENT_STAGE_LOCK, reason, true);
            }
            if (locked(d, r->sasl_username, &inc, &german)) {
                reject_locked(d, bev, who, inc, german);
                return;
            }
            if (!soft) {
                soft = keys[k].name;
                g_strlcpy(why, buf, sizeof why);
            }
            continue;
        }
        if (over(&l, &v, 1.0, buf, sizeof buf) && !soft) {
            soft = keys[k].name;
            g_strlcpy(why, buf, sizeof why);
            if (!(e->flags & RL_F_SOFT)) {
                e->flags |= RL_F_SOFT;
                log_msg(d->log, LOG_LEVEL_WARNING, "policy: soft limit for %s: %s", soft, buf);
            }
        }
        if (keys[k].kind != RL_SASL)
            continue;
        /* Anomalies of an authenticated user. */
        if (v.trained && !(e->flags & RL_F_ANOMALY) && v.msgs_hour >= cfg->anomaly_min
            && v.msgs_hour > cfg->anomaly_factor * (v.baseline > 1 ? v.baseline : 1)) {
            e->flags |= RL_F_ANOMALY;
            char reason[256];
            g_snprintf(reason, sizeof reason,
                       "anomaly: %.0f messages in 1h, %.0f times the learned hourly mean %.1f",
                       v.msgs_hour, v.msgs_hour / (v.baseline > 1 ? v.baseline : 1), v.baseline);
            policy_event(d, r->sasl_username, INCIDENT_STAGE_ALERT, reason, false);
        }
        if (cfg->networks_per_hour > 0 && !(e->flags & RL_F_NETS)
            && v.nets_hour >= (double)cfg->networks_per_hour - 0.5) {
            e->flags |= RL_F_NETS;
            char reason[256];
            g_snprintf(reason, sizeof reason,
                       "logins from about %.0f client networks in 1h (limit %lld): a leaked "
                       "password used by a botnet?",
                       v.nets_hour, (long long)cfg->networks_per_hour);
            policy_event(d, r->sasl_username, INCIDENT_STAGE_ALERT, reason, false);
        }
    }
    if (soft) {
        char *t = fill(cfg->soft_text, soft, "", why);
        char *a = g_strdup_printf("%s %s", cfg->soft_action, t);
        answer(bev, a);
        g_free(a);
        g_free(t);
        d->n_soft++;
        return;
    }
    answer(bev, "DUNNO");
}

/* ---- connections -------------------------------------------------------- */

static void conn_free(struct conn *c)
{
    c->d->n_conns--;
    g_hash_table_remove(c->d->conns, c);
    bufferevent_free(c->bev);
    g_free(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg);

static void discard_cb(struct bufferevent *bev, void *arg)
{
    (void)arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    evbuffer_drain(in, evbuffer_get_length(in));
}

static void close_when_sent_cb(struct bufferevent *bev, void *arg)
{
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(arg);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct policyd *d = c->d;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t have = evbuffer_get_length(in);
        if (have == 0)
            return;
        /* Postfix ends requests with "\n\n"; "\r\n\r\n" only when a client
         * sends CRLF, so that search runs only when a CR is there at all. */
        struct evbuffer_ptr p1 = evbuffer_search(in, "\n\n", 2, NULL);
        ssize_t end = p1.pos >= 0 ? p1.pos + 2 : -1;
        struct evbuffer_ptr cr = evbuffer_search(in, "\r", 1, NULL);
        if (cr.pos >= 0 && (end < 0 || cr.pos < end)) {
            struct evbuffer_ptr p2 = evbuffer_search(in, "\n\r\n", 3, NULL);
            if (p2.pos >= 0 && (end < 0 || p2.pos + 3 < end))
                end = p2.pos + 3;
        }
        if (end < 0) {
            if (have > POLICY_MAX_REQUEST) {
                d->n_malformed++;
                log_msg(d->log, LOG_LEVEL_WARNING,
                        "policy: request over %d bytes without an end: closing the connection",
                        POLICY_MAX_REQUEST);
                answer(bev, "WARN malformed policy request (too long)");
                /* Say so, then close once the answer is out. */
                bufferevent_disable(bev, EV_READ);
                evbuffer_drain(in, have);
                if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
                    /* The answer went out directly. Closing now with unread
                     * input would reset the connection and could lose it: end
                     * our side, discard what still comes, close on EOF. */
                    shutdown(bufferevent_getfd(bev), SHUT_WR);
                    struct timeval t = { 5, 0 };
                    bufferevent_set_timeouts(bev, &t, &t);
                    bufferevent_setcb(bev, discard_cb, NULL, event_cb, c);
                    bufferevent_enable(bev, EV_READ);
                    return;
                }
                bufferevent_setcb(bev, NULL, close_when_sent_cb, event_cb, c);
                return;
            }
            return; /* wait for the rest */
        }
        d->n_requests++;
        if ((size_t)end > POLICY_MAX_REQUEST) {
            d->n_malformed++;
            answer(bev, "WARN malformed policy request (too long)");
            evbuffer_drain(in, (size_t)end);
            continue;
        }
        char *buf = (char *)evbuffer_pullup(in, end);
        struct policy_req r;
        struct ad_err err = { 0 };
        if (policy_parse(buf, (size_t)end, &r, &err) != 0) {
            d->n_malformed++;
            log_msg(d->log, LOG_LEVEL_WARNING, "policy: malformed request: %s", err.msg);
            answer(bev, "WARN malformed policy request");
        } else {
            decide(d, &r, bev);
        }
        evbuffer_drain(in, (size_t)end);
    }
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct conn *c = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        conn_free(c);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    (void)l;
    (void)sa;
    (void)len;
    struct policyd *d = arg;
    if (d->n_conns >= (size_t)d->cfg->policy_max_connections) {
        /* Over the limit: closing is Postfix's cue to use its default action. */
        log_msg(d->log, LOG_LEVEL_WARNING, "policy: %zu connections, refusing one", d->n_conns);
        evutil_closesocket(fd);
        return;
    }
    struct conn *c = g_new0(struct conn, 1);
    c->d = d;
    c->bev = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        evutil_closesocket(fd);
        g_free(c);
        return;
    }
    d->n_conns++;
    g_hash_table_add(d->conns, c);
    struct timeval idle = { (time_t)d->cfg->policy_idle_timeout, 0 }, wr = { 30, 0 };
    bufferevent_set_timeouts(c->bev, &idle, &wr);
    bufferevent_setwatermark(c->bev, EV_READ, 0, POLICY_MAX_REQUEST * 2);
    bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* ---- listening and privileges -------------------------------------------- */

static int listen_on(struct policyd *d, const char *spec, struct ad_err *err)
{
    if (d->n_listeners >= MAX_LISTENERS)
        return ad_err_set(err, AD_ERR_CONFIG, "[policy] listen: more than %d addresses",
                          MAX_LISTENERS);
    struct evconnlistener *l = NULL;
    if (g_str_has_prefix(spec, "inet:")) {
        const char *hp = spec + 5;
        const char *colon = strrchr(hp, ':');
        if (!colon)
            return ad_err_set(err, AD_ERR_CONFIG,
                              "[policy] listen: expected inet:HOST:PORT, got '%s'", spec);
        char *host = g_strndup(hp, (size_t)(colon - hp));
        if (host[0] == '[') {
            memmove(host, host + 1, strlen(host));
            host[strcspn(host, "]")] = '\0';
        }
        struct sockaddr_storage ss;
        int sl = sizeof ss;
        char *addr = g_strdup_printf(strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, colon + 1);
        int prc = evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sl);
        g_free(addr);
        g_free(host);
        if (prc != 0)
            return ad_err_set(err, AD_ERR_CONFIG, "[policy] listen: cannot parse '%s'", spec);
        l = evconnlistener_new_bind(d->base, accept_cb, d,
                                    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                                    1024, (struct sockaddr *)&ss, sl);
    } else if (g_str_has_prefix(spec, "unix:")) {
        const char *path = spec + 5;
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        if (!*path || strlen(path) >= sizeof un.sun_path)
            return ad_err_set(err, AD_ERR_CONFIG, "[policy] listen: bad socket path '%s'", spec);
        strcpy(un.sun_path, path);
        char *dir = g_path_get_dirname(path);
        g_mkdir_with_parents(dir, 0755);
        g_free(dir);
        unlink(path); /* a stale socket of an earlier run */
        l = evconnlistener_new_bind(d->base, accept_cb, d,
                                    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 1024,
                                    (struct sockaddr *)&un, sizeof un);
        if (l) {
            chmod(path, 0666); /* Postfix's smtpd connects as its own user */
            d->unix_paths[d->n_listeners] = g_strdup(path);
        }
    } else {
        return ad_err_set(err, AD_ERR_CONFIG,
                          "[policy] listen: expected inet:HOST:PORT or unix:PATH, got '%s'", spec);
    }
    if (!l)
        return ad_err_set(err, AD_ERR_IO, "cannot listen on %s: %s", spec, strerror(errno));
    d->listeners[d->n_listeners++] = l;
    log_msg(d->log, LOG_LEVEL_INFO, "policy: listening on %s", spec);
    return 0;
}

static int drop_privileges(struct policyd *d, struct ad_err *err)
{
    const char *user = d->cfg->policy_user;
    if (geteuid() != 0)
        return 0;
    if (!user || !*user) {
        log_msg(d->log, LOG_LEVEL_WARNING,
                "policy: running as root ([policy] user is empty); better set a service user");
        return 0;
    }
    struct passwd *pw = getpwnam(user);
    if (!pw)
        return ad_err_set(err, AD_ERR_CONFIG,
                          "[policy] user: no user '%s' (create it, e.g. adduser --system %s, or "
                          "set another)",
                          user, user);
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
        return ad_err_set(err, AD_ERR_IO, "cannot drop privileges to %s: %s", user,
                          strerror(errno));
    if (setuid(0) == 0)
        return ad_err_set(err, AD_ERR_IO, "privileges could be regained after dropping to %s",
                          user);
    log_msg(d->log, LOG_LEVEL_INFO, "policy: running as %s (uid %d)", user, (int)pw->pw_uid);
    return 0;
}

/* ---- outbox thread, state, signals --------------------------------------- */

static struct config *config_copy(const char *path, const char *db_override,
                                  const struct config *fallback, struct ad_err *err);

/* The writer thread: records the policy's incidents and locks, and delivers the
 * outbox (right after a job, else every outbox_interval). Own store connection. */
static gpointer outbox_main(gpointer arg)
{
    struct policyd *d = arg;
    struct store *st = NULL;
    int64_t last_flush = 0;
    /* A configuration of its own, re-read when the loop reloads: nothing is
     * shared with the loop but the job queue. */
    struct ad_err cerr = { 0 };
    int gen = g_atomic_int_get(&d->reload_gen);
    struct config *cfg = config_copy(d->config_path, d->db_override, NULL, &cerr);
    if (!cfg)
        cfg = config_copy(NULL, d->db_override, NULL, &cerr);
    for (;;) {
        bool stop = g_atomic_int_get(&d->stopping);
        struct job *j = g_async_queue_timeout_pop(d->jobs, stop ? 1 : 100000);
        if (!j && stop)
            break;
        struct ad_err err = { 0 };
        if (g_atomic_int_get(&d->reload_gen) != gen) {
            gen = g_atomic_int_get(&d->reload_gen);
            struct config *n = config_copy(d->config_path, d->db_override, NULL, &err);
            if (n) {
                config_free(cfg);
                g_free(cfg);
                cfg = n;
                st = store_close(st);
            }
        }
        if (!st && store_open(d->db_override ? d->db_override : cfg->db_path,
                              cfg->busy_timeout_ms, &st, &err) != 0)
            log_msg(d->log, LOG_LEVEL_ERROR, "outbox: %s", err.msg);
        bool flush = j != NULL || now_s() - last_flush >= cfg->outbox_interval;
        if (j && !st && stop) {
            log_msg(d->log, LOG_LEVEL_ERROR, "policy: stopping without a database: %s: %s "
                    "not recorded", j->account, j->reason);
            g_free(j->account);
            g_free(j->reason);
            g_free(j);
            j = NULL;
            continue;
        }
        /* Every job waiting now, before the (possibly slow) deliveries. */
        while (j) {
            if (!st || !job_run(d, st, cfg, j)) {
                g_async_queue_push_front(d->jobs, j); /* keep it until the store is back */
                if (!stop)
                    g_usleep(500000);
                break;
            }
            j = g_async_queue_try_pop(d->jobs);
        }
        if (st && flush) {
            last_flush = now_s();
            if (outbox_flush(cfg, st, d->log, last_flush, NULL, &err) != 0) {
                log_msg(d->log, LOG_LEVEL_WARNING, "outbox: %s", err.msg);
                st = store_close(st); /* reopen next time */
            }
        }
        if (!st && !stop)
            g_usleep(500000);
    }
    store_close(st);
    config_free(cfg);
    g_free(cfg);
    return NULL;
}

static void state_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct policyd *d = arg;
    if (!*d->cfg->state_file)
        return;
    struct ad_err err = { 0 };
    if (rl_save(&d->rl, d->cfg->state_file, &err) != 0)
        log_msg(d->log, LOG_LEVEL_ERROR, "policy: %s", err.msg);
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct policyd *d = arg;
    rl_sweep(&d->rl, now_s(), 2 * 86400, 65536);
}

static void hup_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct policyd *d = arg;
    struct config *n = g_new0(struct config, 1);
    config_defaults(n);
    struct ad_err err = { 0 };
    if (d->config_path && config_load(n, d->config_path, &err) != 0) {
        log_msg(d->log, LOG_LEVEL_ERROR, "policy: reload refused, keeping the running "
                "configuration: %s", err.msg);
        config_free(n);
        g_free(n);
        return;
    }
    if (d->db_override) {
        g_free(n->db_path);
        n->db_path = g_strdup(d->db_override);
    }
    struct config *old = d->cfg;
    d->cfg = n;
    customer_limits_load(d); /* points into the new configuration */
    config_free(old);
    g_free(old);
    g_atomic_int_inc(&d->reload_gen);
    d->log->min = (enum log_level)log_level_parse(n->log_level);
    struct timeval tv = { (time_t)n->state_interval, 0 };
    event_del(d->ev_state);
    event_add(d->ev_state, &tv);
    log_msg(d->log, LOG_LEVEL_INFO, "policy: configuration reloaded (listen addresses and "
            "max_senders need a restart)");
}

static void term_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct policyd *d = arg;
    log_msg(d->log, LOG_LEVEL_INFO, "policy: stopping (%llu requests, %llu rejected, %llu over a "
            "soft limit, %llu malformed)", (unsigned long long)d->n_requests,
            (unsigned long long)d->n_reject, (unsigned long long)d->n_soft,
            (unsigned long long)d->n_malformed);
    event_base_loopbreak(d->base);
}

static struct config *config_copy(const char *path, const char *db_override,
                                  const struct config *fallback, struct ad_err *err)
{
    struct config *c = g_new0(struct config, 1);
    config_defaults(c);
    if (path && g_file_test(path, G_FILE_TEST_EXISTS) && config_load(c, path, err) != 0) {
        config_free(c);
        g_free(c);
        return NULL;
    }
    (void)fallback;
    if (db_override) {
        g_free(c->db_path);
        c->db_path = g_strdup(db_override);
    }
    return c;
}

int policyd_run(const struct config *cfg0, const char *config_path, const char *db_override,
                struct logger *log, struct ad_err *err)
{
    struct policyd d = { 0 };
    int rc = 0;
    d.log = log;
    d.config_path = config_path;
    d.db_override = db_override;
    d.locks = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    d.conns = g_hash_table_new(g_direct_hash, g_direct_equal);
    d.jobs = g_async_queue_new();
    d.done = g_async_queue_new_full(g_free);
    d.pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    d.cfg = config_copy(config_path, db_override, cfg0, err);
    if (!d.cfg)
        return err->code ? err->code : AD_ERR_CONFIG;
    signal(SIGPIPE, SIG_IGN);
    d.base = event_base_new();
    if (!d.base) {
        rc = ad_err_set(err, AD_ERR_NOMEM, "cannot create the event loop");
        goto out;
    }
    for (char **l = d.cfg->policy_listen; l && *l && rc == 0; l++)
        rc = listen_on(&d, *l, err);
    if (rc == 0 && d.n_listeners == 0)
        rc = ad_err_set(err, AD_ERR_CONFIG, "[policy] listen: no address to listen on");
    if (rc || (rc = drop_privileges(&d, err)))
        goto out;
    if ((rc = store_open(d.cfg->db_path, d.cfg->busy_timeout_ms, &d.st, err)))
        goto out;
    int64_t now = now_s();
    if ((rc = rl_init(&d.rl, (size_t)d.cfg->max_senders, now, err)))
        goto out;
    if (*d.cfg->state_file) {
        struct ad_err lerr = { 0 };
        if (rl_load(&d.rl, d.cfg->state_file, now, &lerr) != 0)
            log_msg(log, LOG_LEVEL_WARNING, "policy: counters not restored: %s", lerr.msg);
        else
            log_msg(log, LOG_LEVEL_INFO, "policy: %zu senders' counters restored from %s",
                    d.rl.n_used, d.cfg->state_file);
    }
    customer_limits_load(&d);
    d.store_ok = true;
    d.data_version = -1;
    poll_cb(-1, 0, &d);
    d.ev_poll = event_new(d.base, -1, EV_PERSIST, poll_cb, &d);
    d.ev_state = event_new(d.base, -1, EV_PERSIST, state_cb, &d);
    d.ev_sweep = event_new(d.base, -1, EV_PERSIST, sweep_cb, &d);
    d.ev_hup = evsignal_new(d.base, SIGHUP, hup_cb, &d);
    d.ev_term = evsignal_new(d.base, SIGTERM, term_cb, &d);
    d.ev_int = evsignal_new(d.base, SIGINT, term_cb, &d);
    struct timeval poll_tv = { 0, 200000 }, state_tv = { (time_t)d.cfg->state_interval, 0 },
                   sweep_tv = { 10, 0 };
    event_add(d.ev_poll, &poll_tv);
    event_add(d.ev_state, &state_tv);
    event_add(d.ev_sweep, &sweep_tv);
    event_add(d.ev_hup, NULL);
    event_add(d.ev_term, NULL);
    event_add(d.ev_int, NULL);
    d.outbox_thread = g_thread_new("outbox", outbox_main, &d);
    log_msg(log, LOG_LEVEL_INFO, "policy: serving (%zu locks known, %zu sender slots)",
            (size_t)g_hash_table_size(d.locks), d.rl.mask + 1);
    event_base_dispatch(d.base);

    g_atomic_int_set(&d.stopping, 1);
    g_thread_join(d.outbox_thread); /* it records the jobs still queued first */
    state_cb(-1, 0, &d);
out:
    if (d.conns) {
        GList *cs = g_hash_table_get_keys(d.conns);
        for (GList *l = cs; l; l = l->next)
            conn_free(l->data);
        g_list_free(cs);
        g_hash_table_destroy(d.conns);
    }
    if (d.jobs)
        g_async_queue_unref(d.jobs);
    if (d.done)
        g_async_queue_unref(d.done);
    if (d.pending)
        g_hash_table_destroy(d.pending);
    if (d.acct_limits)
        g_hash_table_destroy(d.acct_limits);
    for (size_t i = 0; i < d.n_listeners; i++) {
        evconnlistener_free(d.listeners[i]);
        if (d.unix_paths[i]) {
            unlink(d.unix_paths[i]);
            g_free(d.unix_paths[i]);
        }
    }
    struct event *evs[] = { d.ev_poll, d.ev_state, d.ev_sweep, d.ev_hup, d.ev_term, d.ev_int };
    for (size_t i = 0; i < G_N_ELEMENTS(evs); i++)
        if (evs[i])
            event_free(evs[i]);
    if (d.base)
        event_base_free(d.base);
    rl_free(&d.rl);
    store_close(d.st);
    g_hash_table_destroy(d.locks);
    config_free(d.cfg);
    g_free(d.cfg);
    return rc;
}

/*
 * policy_server.c: the connection side of the policy server (see
 * policy_server.h): listeners, per-connection framing, answers, and the limits
 * that keep one client from starving the others. Called by policyd.c on its
 * event loop thread; nothing here blocks or allocates per request beyond
 * libevent's buffers (bounded: 2 x POLICY_MAX_REQUEST in,
 * POLICY_MAX_PENDING_OUTPUT out). Failures to listen come back as AD_ERR_*;
 * everything after that is logged here (rate-limited: a flood of bad clients
 * must not flood the log) and answered or closed, never fatal. The server owns
 * its connections and listeners; policy_server_free() releases them.
 */
#define _GNU_SOURCE /* struct ucred (SO_PEERCRED) */
#include "policy_server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#define MAX_LISTENERS 16
#define EVICT_AFTER_US (1 * G_USEC_PER_SEC) /* no progress this long: may give way */
#define LOG_EVERY_US (10 * G_USEC_PER_SEC)

/* A log line at most once per LOG_EVERY_US; the others are counted. */
struct ratelog {
    int64_t last;
    uint64_t suppressed;
};

/* The connections of one client address. */
struct client {
    char *key;                  /* owned; also the hash key */
    size_t n;
    GQueue lru;                 /* of struct policy_conn (cl_link), least progress first */
};

struct policy_conn {
    struct policy_server *s;
    struct bufferevent *bev;
    struct client *cl;
    GList all_link, cl_link;    /* in s->lru and cl->lru */
    int64_t progress;           /* monotonic µs: accepted, or last request answered */
    struct event *deadline;     /* request_timeout, armed while a request is incomplete */
    bool closing;               /* close once the current callback returns */
};

struct listener {
    struct evconnlistener *l;
    char *unix_path;            /* owned; NULL for inet */
    dev_t dev;                  /* of the socket file we made */
    ino_t ino;
};

struct policy_server {
    struct event_base *base;
    const struct logger *log;
    struct policy_server_opts o;
    policy_server_fn fn;
    void *ctx;
    struct listener listeners[MAX_LISTENERS];
    size_t n_listeners;
    bool paused;                /* listeners disabled after an accept() error */
    struct event *ev_resume;
    GHashTable *clients;        /* key -> struct client * */
    GQueue lru;                 /* every connection, least progress first */
    struct policy_server_stats st;
    struct ratelog rl_refused, rl_timeout, rl_slow, rl_accept, rl_malformed;
};

static int64_t mono_us(void)
{
    return g_get_monotonic_time();
}

static void ratelog(struct policy_server *s, struct ratelog *r, enum log_level level,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void ratelog(struct policy_server *s, struct ratelog *r, enum log_level level,
                    const char *fmt, ...)
{
    int64_t now = mono_us();
    if (r->last && now - r->last < LOG_EVERY_US) {
        r->suppressed++;
        return;
    }
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (r->suppressed)
        log_msg(s->log, level, "%s (and %llu more like it in the last %llds)", buf,
                (unsigned long long)r->suppressed, (long long)((now - r->last) / G_USEC_PER_SEC));
    else
        log_msg(s->log, level, "%s", buf);
    r->last = now;
    r->suppressed = 0;
}

/* ---- connections ---------------------------------------------------------- */

static void listeners_enable(struct policy_server *s, bool on)
{
    for (size_t i = 0; i < s->n_listeners; i++)
        if (s->listeners[i].l)
            (on ? evconnlistener_enable : evconnlistener_disable)(s->listeners[i].l);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct policy_server *s = arg;
    if (s->paused) {
        s->paused = false;
        listeners_enable(s, true);
    }
}

static void conn_free(struct policy_conn *c)
{
    struct policy_server *s = c->s;
    g_queue_unlink(&s->lru, &c->all_link);
    struct client *cl = c->cl;
    g_queue_unlink(&cl->lru, &c->cl_link);
    if (--cl->n == 0)
        g_hash_table_remove(s->clients, cl->key); /* frees cl */
    if (c->deadline)
        event_free(c->deadline);
    bufferevent_free(c->bev);
    g_free(c);
    /* A descriptor is free again: accept() may work now. */
    if (s->paused)
        resume_cb(-1, 0, s);
}

static void client_free(gpointer p)
{
    struct client *cl = p;
    g_free(cl->key);
    g_free(cl);
}

/* The connection made progress: it goes to the back of both queues. */
static void progressed(struct policy_conn *c)
{
    c->progress = mono_us();
    g_queue_unlink(&c->s->lru, &c->all_link);
    g_queue_push_tail_link(&c->s->lru, &c->all_link);
    g_queue_unlink(&c->cl->lru, &c->cl_link);
    g_queue_push_tail_link(&c->cl->lru, &c->cl_link);
}

const char *const policy_answer_names[POLICY_ANSWER_KINDS] = {
    "dunno", "ok", "reject", "defer", "hold", "warn", "other"
};
const int64_t policy_latency_bounds_us[POLICY_LATENCY_BUCKETS] = {
    50, 100, 250, 500, 1000, 2000, 5000, 10000, 50000, 250000
};

static enum policy_answer_kind answer_kind(const char *action)
{
    static const struct {
        const char *word;
        size_t len;
        enum policy_answer_kind kind;
    } words[] = {
        { "DUNNO", 5, POLICY_ANSWER_DUNNO }, { "OK", 2, POLICY_ANSWER_OK },
        { "REJECT", 6, POLICY_ANSWER_REJECT }, { "DEFER", 5, POLICY_ANSWER_DEFER },
        { "HOLD", 4, POLICY_ANSWER_HOLD }, { "WARN", 4, POLICY_ANSWER_WARN },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(words); i++)
        if (!g_ascii_strncasecmp(action, words[i].word, words[i].len)) /* DEFER_IF_PERMIT too */
            return words[i].kind;
    if (action[0] >= '4' && action[0] <= '5')
        return POLICY_ANSWER_REJECT; /* a 4xx/5xx code of its own */
    return POLICY_ANSWER_OTHER;
}

void policy_server_answer(struct policy_conn *c, const char *action)
{
    c->s->st.answers[answer_kind(action)]++;
    /* Answers go straight to the socket when nothing is queued before them: a
     * policy answer is a few hundred bytes and the socket buffer almost always
     * has room, and going through the bufferevent's output costs two
     * epoll_ctl calls per request (enable, then disable the write event). What
     * send() does not take is queued in the bufferevent as usual. */
    struct bufferevent *bev = c->bev;
    struct evbuffer *out = bufferevent_get_output(bev);
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "action=%s\n\n", action);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf) {
        evbuffer_add_printf(out, "action=%s\n\n", action);
    } else {
        ssize_t w = 0;
        if (evbuffer_get_length(out) == 0) {
            w = send(bufferevent_getfd(bev), buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0)
                w = 0; /* EAGAIN and the like: the bufferevent writes it (or reports the error) */
        }
        if (w < n)
            evbuffer_add(out, buf + w, (size_t)(n - w));
    }
    /* A client that sends requests but never reads the answers would grow
     * this buffer without bound: close it. */
    size_t pending = evbuffer_get_length(out);
    if (pending > POLICY_MAX_PENDING_OUTPUT && !c->closing) {
        c->closing = true;
        c->s->st.slow_readers++;
        ratelog(c->s, &c->s->rl_slow, LOG_LEVEL_WARNING,
                "policy: client %s does not read its answers (%zu bytes waiting): closing",
                c->cl->key, pending);
    }
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

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct policy_conn *c = arg;
    c->s->st.timeouts++;
    ratelog(c->s, &c->s->rl_timeout, LOG_LEVEL_WARNING,
            "policy: client %s: request not complete %llds after its first byte: closing",
            c->cl->key, c->s->o.request_timeout);
    conn_free(c);
}

/* An oversized request: say so, then close once the answer is out. */
static void too_long(struct policy_conn *c, struct evbuffer *in, size_t have)
{
    struct bufferevent *bev = c->bev;
    c->s->st.malformed++;
    ratelog(c->s, &c->s->rl_malformed, LOG_LEVEL_WARNING,
            "policy: client %s: request over %d bytes without an end: closing the connection",
            c->cl->key, POLICY_MAX_REQUEST);
    policy_server_answer(c, "WARN malformed policy request (too long)");
    bufferevent_disable(bev, EV_READ);
    evbuffer_drain(in, have);
    if (c->deadline)
        event_del(c->deadline);
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        /* The answer went out directly. Closing now with unread input would
         * reset the connection and could lose it: end our side, discard what
         * still comes, close on EOF. */
        shutdown(bufferevent_getfd(bev), SHUT_WR);
        struct timeval t = { 5, 0 };
        bufferevent_set_timeouts(bev, &t, &t);
        bufferevent_setcb(bev, discard_cb, NULL, event_cb, c);
        bufferevent_enable(bev, EV_READ);
        return;
    }
    bufferevent_setcb(bev, NULL, close_when_sent_cb, event_cb, c);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct policy_conn *c = arg;
    struct policy_server *s = c->s;
    struct evbuffer *in = bufferevent_get_input(bev);
    bool answered = false;
    for (;;) {
        size_t have = evbuffer_get_length(in);
        if (have == 0)
            break;
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
                too_long(c, in, have);
                return;
            }
            break; /* wait for the rest */
        }
        s->st.requests++;
        answered = true;
        if ((size_t)end > POLICY_MAX_REQUEST) {
            s->st.malformed++;
            policy_server_answer(c, "WARN malformed policy request (too long)");
        } else {
            char *buf = (char *)evbuffer_pullup(in, end);
            struct policy_req r;
            struct ad_err err = { 0 };
            if (policy_parse(buf, (size_t)end, &r, &err) != 0) {
                s->st.malformed++;
                ratelog(s, &s->rl_malformed, LOG_LEVEL_WARNING,
                        "policy: client %s: malformed request: %s", c->cl->key, err.msg);
                policy_server_answer(c, "WARN malformed policy request");
            } else {
                int64_t t0 = mono_us();
                s->fn(s->ctx, &r, c);
                int64_t dt = mono_us() - t0;
                size_t b = 0;
                while (b < POLICY_LATENCY_BUCKETS && dt > policy_latency_bounds_us[b])
                    b++;
                s->st.latency[b]++;
                s->st.latency_sum_us += (uint64_t)(dt > 0 ? dt : 0);
            }
        }
        evbuffer_drain(in, (size_t)end);
        if (c->closing) {
            conn_free(c);
            return;
        }
    }
    if (answered)
        progressed(c);
    /* The deadline of an incomplete request runs from its first byte: armed
     * when one starts (or follows an answered one), kept while bytes trickle. */
    if (evbuffer_get_length(in) > 0) {
        if (!c->deadline)
            c->deadline = evtimer_new(s->base, deadline_cb, c);
        if (c->deadline && (answered || !evtimer_pending(c->deadline, NULL))) {
            struct timeval tv = { (time_t)s->o.request_timeout, 0 };
            evtimer_add(c->deadline, &tv);
        }
    } else if (c->deadline && evtimer_pending(c->deadline, NULL)) {
        evtimer_del(c->deadline);
    }
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct policy_conn *c = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        conn_free(c);
}

/* Who is calling: an IPv4 address, an IPv6 /64 (one customer's line has a
 * whole /64), or the uid of a UNIX socket's peer. */
static void client_key(evutil_socket_t fd, const struct sockaddr *sa, char out[64])
{
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, 64);
        return;
    }
    if (sa->sa_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (!memcmp(a, v4mapped, 12))
            g_snprintf(out, 64, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
        else
            g_snprintf(out, 64, "%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64", a[0], a[1], a[2], a[3],
                       a[4], a[5], a[6], a[7]);
        return;
    }
    struct ucred cr;
    socklen_t cl = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0)
        g_snprintf(out, 64, "unix uid %ld", (long)cr.uid);
    else
        g_strlcpy(out, "unix", 64);
}

/* Closes the connection at the head of q (the one without progress for the
 * longest time) when that is over EVICT_AFTER_US; false when nobody gives way. */
static bool evict_from(struct policy_server *s, GQueue *q, bool per_client, int64_t now)
{
    GList *head = q->head;
    if (!head)
        return false;
    struct policy_conn *v = head->data;
    if (now - v->progress < EVICT_AFTER_US)
        return false;
    s->st.evicted++;
    log_msg(s->log, LOG_LEVEL_DEBUG, "policy: closing a connection of %s without a request "
            "for %llds to make room (%s)", v->cl->key, (long long)((now - v->progress) / G_USEC_PER_SEC),
            per_client ? "max_connections_per_client" : "max_connections");
    conn_free(v);
    return true;
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    (void)l;
    (void)len;
    struct policy_server *s = arg;
    char key[64];
    client_key(fd, sa, key);
    int64_t now = mono_us();
    struct client *cl = g_hash_table_lookup(s->clients, key);
    const char *why = NULL;
    if (cl && cl->n >= (size_t)s->o.max_per_client && !evict_from(s, &cl->lru, true, now))
        why = "max_connections_per_client";
    else if (g_queue_get_length(&s->lru) >= (size_t)s->o.max_connections
             && !evict_from(s, &s->lru, false, now))
        why = "max_connections";
    if (why) {
        /* Closing is Postfix's cue to use its default action. */
        s->st.refused++;
        cl = g_hash_table_lookup(s->clients, key);
        ratelog(s, &s->rl_refused, LOG_LEVEL_WARNING,
                "policy: refusing a connection from %s: %s reached (%u open, %zu from it), "
                "none idle to close",
                key, why, g_queue_get_length(&s->lru), cl ? cl->n : 0);
        evutil_closesocket(fd);
        return;
    }
    struct policy_conn *c = g_new0(struct policy_conn, 1);
    c->s = s;
    c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        evutil_closesocket(fd);
        g_free(c);
        return;
    }
    cl = g_hash_table_lookup(s->clients, key); /* an eviction may have freed it */
    if (!cl) {
        cl = g_new0(struct client, 1);
        cl->key = g_strdup(key);
        g_queue_init(&cl->lru);
        g_hash_table_insert(s->clients, cl->key, cl);
    }
    cl->n++;
    c->cl = cl;
    c->progress = now;
    c->all_link.data = c;
    c->cl_link.data = c;
    g_queue_push_tail_link(&s->lru, &c->all_link);
    g_queue_push_tail_link(&cl->lru, &c->cl_link);
    struct timeval idle = { (time_t)s->o.idle_timeout, 0 }, wr = { 30, 0 };
    bufferevent_set_timeouts(c->bev, &idle, &wr);
    bufferevent_setwatermark(c->bev, EV_READ, 0, POLICY_MAX_REQUEST * 2);
    bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* accept() failed with something other than "try again": usually EMFILE or
 * ENFILE. The pending connection stays in the backlog, so the listener would
 * be readable again at once and the loop would spin: pause it instead. */
static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    (void)l;
    struct policy_server *s = arg;
    int e = EVUTIL_SOCKET_ERROR();
    s->st.accept_errors++;
    ratelog(s, &s->rl_accept, LOG_LEVEL_ERROR,
            "policy: cannot accept connections: %s (%u open): pausing the listeners",
            strerror(e), g_queue_get_length(&s->lru));
    if (!s->paused) {
        s->paused = true;
        listeners_enable(s, false);
    }
    struct timeval tv = { 0, 250000 };
    evtimer_add(s->ev_resume, &tv);
}

/* ---- listening ------------------------------------------------------------ */

static int listen_unix(struct policy_server *s, const char *spec, uid_t owner, gid_t group,
                       struct evconnlistener **out, struct ad_err *err)
{
    const char *path = spec + 5;
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    if (!*path || strlen(path) >= sizeof un.sun_path)
        return ad_err_set(err, AD_ERR_CONFIG, "[policy] listen: bad socket path '%s'", spec);
    strcpy(un.sun_path, path);
    char *dir = g_path_get_dirname(path);
    g_mkdir_with_parents(dir, 0755);
    g_free(dir);
    struct stat sb;
    if (lstat(path, &sb) == 0) {
        /* Only a socket of an earlier run is ours to replace: never a file
         * someone put there (we may be root), never a live server's socket. */
        if (!S_ISSOCK(sb.st_mode))
            return ad_err_set(err, AD_ERR_CONFIG,
                              "[policy] listen: %s exists and is not a socket: not replacing it",
                              path);
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool live = probe >= 0 && connect(probe, (struct sockaddr *)&un, sizeof un) == 0;
        if (probe >= 0)
            close(probe);
        if (live)
            return ad_err_set(err, AD_ERR_IO,
                              "[policy] listen: another server answers on %s", path);
        if (unlink(path) != 0)
            return ad_err_set(err, AD_ERR_IO, "cannot remove the stale socket %s: %s", path,
                              strerror(errno));
    }
    /* Created 0660 from the start (no moment of 0777 before a chmod). */
    mode_t old = umask(0117);
    struct evconnlistener *l =
        evconnlistener_new_bind(s->base, accept_cb, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                1024, (struct sockaddr *)&un, sizeof un);
    int e = errno;
    umask(old);
    if (!l)
        return ad_err_set(err, AD_ERR_IO, "cannot listen on %s: %s", spec, strerror(e));
    if (chmod(path, 0660) != 0 ||
        ((owner != (uid_t)-1 || group != (gid_t)-1) && chown(path, owner, group) != 0)) {
        e = errno;
        evconnlistener_free(l);
        unlink(path);
        return ad_err_set(err, AD_ERR_IO, "cannot set the owner and mode of %s: %s", path,
                          strerror(e));
    }
    struct listener *li = &s->listeners[s->n_listeners];
    li->unix_path = g_strdup(path);
    if (lstat(path, &sb) == 0) {
        li->dev = sb.st_dev;
        li->ino = sb.st_ino;
    }
    *out = l;
    return 0;
}

int policy_server_listen(struct policy_server *s, const char *spec, uid_t owner, gid_t group,
                         struct ad_err *err)
{
    if (s->n_listeners >= MAX_LISTENERS)
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
        l = evconnlistener_new_bind(s->base, accept_cb, s,
                                    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                                    1024, (struct sockaddr *)&ss, sl);
        if (!l)
            return ad_err_set(err, AD_ERR_IO, "cannot listen on %s: %s", spec, strerror(errno));
    } else if (g_str_has_prefix(spec, "unix:")) {
        int rc = listen_unix(s, spec, owner, group, &l, err);
        if (rc)
            return rc;
    } else {
        return ad_err_set(err, AD_ERR_CONFIG,
                          "[policy] listen: expected inet:HOST:PORT or unix:PATH, got '%s'", spec);
    }
    evconnlistener_set_error_cb(l, accept_error_cb);
    s->listeners[s->n_listeners++].l = l;
    if (s->paused)
        evconnlistener_disable(l);
    log_msg(s->log, LOG_LEVEL_INFO, "policy: listening on %s", spec);
    return 0;
}

size_t policy_server_n_listeners(const struct policy_server *s)
{
    return s->n_listeners;
}

/* ---- life ----------------------------------------------------------------- */

struct policy_server *policy_server_new(struct event_base *base, const struct logger *log,
                                        const struct policy_server_opts *opts,
                                        policy_server_fn fn, void *ctx)
{
    struct policy_server *s = g_new0(struct policy_server, 1);
    s->base = base;
    s->log = log;
    s->o = *opts;
    s->fn = fn;
    s->ctx = ctx;
    s->clients = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, client_free);
    g_queue_init(&s->lru);
    s->ev_resume = evtimer_new(base, resume_cb, s);
    return s;
}

void policy_server_set_opts(struct policy_server *s, const struct policy_server_opts *opts)
{
    s->o = *opts;
    /* The idle timeout of open connections follows the new value. */
    struct timeval idle = { (time_t)opts->idle_timeout, 0 }, wr = { 30, 0 };
    for (GList *l = s->lru.head; l; l = l->next) {
        struct policy_conn *c = l->data;
        if (!c->closing)
            bufferevent_set_timeouts(c->bev, &idle, &wr);
    }
}

const struct policy_server_stats *policy_server_stats(const struct policy_server *s)
{
    return &s->st;
}

void policy_server_close_listeners(struct policy_server *s)
{
    for (size_t i = 0; i < s->n_listeners; i++) {
        struct listener *li = &s->listeners[i];
        if (li->l)
            evconnlistener_free(li->l);
        li->l = NULL;
        if (li->unix_path) {
            /* Only the socket we made: a newer server may have replaced it. */
            struct stat sb;
            if (lstat(li->unix_path, &sb) == 0 && S_ISSOCK(sb.st_mode) && sb.st_dev == li->dev
                && sb.st_ino == li->ino)
                unlink(li->unix_path);
            g_free(li->unix_path);
            li->unix_path = NULL;
        }
    }
}

struct policy_server *policy_server_free(struct policy_server *s)
{
    if (!s)
        return NULL;
    policy_server_close_listeners(s);
    while (s->lru.head)
        conn_free(s->lru.head->data);
    g_hash_table_destroy(s->clients);
    event_free(s->ev_resume);
    g_free(s);
    return NULL;
}

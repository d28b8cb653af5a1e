/*
 * policy_server.h: the connection side of the policy server. Listens on inet
 * and UNIX sockets, frames requests of the Postfix policy delegation protocol
 * (policy_proto.h), hands each well-formed one to a callback and sends its
 * answer; answers malformed ones itself. It keeps any one client from starving
 * the others (Postfix falls back to its default action, normally DUNNO, when it
 * gets no answer: a starved policy server lets locked accounts send):
 *
 *   - at most max_connections at once and max_per_client per client (an IPv4
 *     address, an IPv6 /64, or the peer's uid on a UNIX socket); when either is
 *     reached, the connection that made no progress (no request answered) for
 *     the longest time gives way, if that is over a second; else the newcomer
 *     is closed;
 *   - a request must be complete request_timeout after its first byte (a client
 *     trickling bytes is closed), an idle connection idle_timeout after its last
 *     request;
 *   - a client that does not read its answers is closed once
 *     POLICY_MAX_PENDING_OUTPUT bytes wait for it;
 *   - when accept() fails (out of file descriptors), the listeners pause and
 *     resume after 250 ms or when a connection closes, logged once per 10 s.
 *
 * Everything runs on the caller's libevent loop thread. Logging goes through
 * the logger given (borrowed; used from the loop thread only).
 */
#ifndef AD_POLICY_SERVER_H
#define AD_POLICY_SERVER_H

#include <stdint.h>
#include <sys/types.h>

#include "policy/policy_proto.h"
#include "util/err.h"
#include "util/log.h"

struct event_base;
struct policy_server;
struct policy_conn;

enum {
    POLICY_MAX_PENDING_OUTPUT = 65536,  /* answers waiting for a client that does not read */
};

struct policy_server_opts {
    int max_connections;        /* served at once */
    int max_per_client;         /* from one client address (or UNIX peer uid) */
    long long idle_timeout;     /* seconds without a request before a connection is closed */
    long long request_timeout;  /* seconds from a request's first byte to its end */
};

/* Counters since the start, for the log. */
/* Answers by their action's first word, and the time the server took to
 * decide (from a complete request to its answer), in Prometheus-style
 * cumulative-free buckets: latency[i] counts answers of at most
 * policy_latency_bounds_us[i] (and above the one before); the last bucket
 * counts the rest. */
enum policy_answer_kind {
    POLICY_ANSWER_DUNNO, POLICY_ANSWER_OK, POLICY_ANSWER_REJECT, POLICY_ANSWER_DEFER,
    POLICY_ANSWER_HOLD, POLICY_ANSWER_WARN, POLICY_ANSWER_OTHER, POLICY_ANSWER_KINDS
};
#define POLICY_LATENCY_BUCKETS 10
extern const char *const policy_answer_names[POLICY_ANSWER_KINDS];
extern const int64_t policy_latency_bounds_us[POLICY_LATENCY_BUCKETS];

struct policy_server_stats {
    uint64_t answers[POLICY_ANSWER_KINDS];
    uint64_t latency[POLICY_LATENCY_BUCKETS + 1];
    uint64_t latency_sum_us;
    uint64_t requests, malformed;
    uint64_t refused;           /* connections closed at once: limits reached */
    uint64_t evicted;           /* connections closed to make room */
    uint64_t timeouts;          /* requests not complete within request_timeout */
    uint64_t slow_readers;      /* closed with POLICY_MAX_PENDING_OUTPUT waiting */
    uint64_t accept_errors;
};

/* Called with each complete, well-formed request (r and its strings are valid
 * during the call only). It must answer with policy_server_answer() once. */
typedef void (*policy_server_fn)(void *ctx, const struct policy_req *r, struct policy_conn *c);

/* A server on base; fn(ctx, ...) decides. Listens nowhere yet. log is borrowed. */
struct policy_server *policy_server_new(struct event_base *base, const struct logger *log,
                                        const struct policy_server_opts *opts,
                                        policy_server_fn fn, void *ctx);

/* Listens on spec: inet:HOST:PORT or unix:PATH. A UNIX socket is created mode
 * 0660 and given to owner:group ((uid_t)-1 / (gid_t)-1: left as created); an
 * existing path is replaced only when it is a socket nobody listens on.
 * Returns 0, AD_ERR_CONFIG (bad spec, a file in the way) or AD_ERR_IO. Call it
 * before dropping privileges. */
int policy_server_listen(struct policy_server *s, const char *spec, uid_t owner, gid_t group,
                         struct ad_err *err);
size_t policy_server_n_listeners(const struct policy_server *s);

/* New limits (SIGHUP); existing connections are not closed for them. */
void policy_server_set_opts(struct policy_server *s, const struct policy_server_opts *opts);

/* Sends "action=ACTION" and the empty line on c. */
void policy_server_answer(struct policy_conn *c, const char *action);

const struct policy_server_stats *policy_server_stats(const struct policy_server *s);

/* Stops accepting: closes the listeners and removes the UNIX socket files this
 * server made. Open connections stay until policy_server_free(). */
void policy_server_close_listeners(struct policy_server *s);

/* Closes everything; accepts NULL, returns NULL. */
struct policy_server *policy_server_free(struct policy_server *s);

#endif

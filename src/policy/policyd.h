/*
 * policyd.h: `abusedesk serve`, the long-running policy daemon: a Postfix SMTP
 * access policy delegation server (libevent) on TCP and UNIX sockets: REJECT
 * for locked accounts and senders, HOLD or DEFER_IF_PERMIT past the soft rate
 * limits, a lock past the hard ones, DUNNO for everything else. What it finds
 * (locks, anomalies) it queues in the store for the desk worker, which files
 * incidents and notices: the daemon holds no secrets and renders nothing.
 * With [policy] counters = redis several daemons on several MTAs count
 * together (shared.h, doc/shared-counters.md).
 */
#ifndef AD_POLICYD_H
#define AD_POLICYD_H

#include <stdbool.h>

#include "config/config.h"
#include "policy/ratelimit.h"
#include "policy/shared.h"
#include "util/err.h"
#include "util/log.h"

/* Runs the daemon until SIGTERM or SIGINT. cfg is the configuration the caller
 * read before anything else (borrowed: it must outlive the call; the daemon
 * never reads the file again before a SIGHUP, so a file only root may read
 * works). config_path is re-read on SIGHUP (a bad or unreadable file keeps the
 * running configuration and logs why); log is used from the loop thread only
 * (the threads log through copies of it). Binds every [policy] listen address,
 * then drops to [policy] user, then opens the store. Returns 0 after a clean
 * stop, or an AD_ERR_* with err filled when it could not start. */
int policyd_run(const struct config *cfg, const char *config_path, const char *db_override,
                struct logger *log, struct ad_err *err);

/* The view a decision's limits use with [policy] counters = redis: local (this
 * server's own view, kept for the anomaly baseline) with messages and
 * recipients per hour and recipients per day each the larger of this server's
 * count and sv, the total of every server sharing the Redis. The local count
 * can be the larger one: counts restored from the state file, or made before
 * Redis was reachable or before a reload swapped the connection. sv NULL:
 * local alone. Distinct domains and networks stay this server's. */
void policyd_limit_view(const struct rl_view *local, const struct shared_view *sv,
                        struct rl_view *out);

/* True when v is at half or more of one of the limits (0 = none): the shared
 * total of such a sender is then pulled in every exchange (shared_watch()). */
bool policyd_near_limit(const struct rl_view *v, long long msgs, long long rcpts,
                        long long rcpts_day);

#endif

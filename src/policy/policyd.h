/*
 * policyd.h: `abusedesk serve`, the long-running daemon. Its service is a
 * Postfix SMTP access policy delegation server (libevent) on TCP and UNIX
 * sockets: REJECT for locked accounts and senders, HOLD or DEFER_IF_PERMIT past
 * the soft rate limits, a lock and an incident past the hard ones, incidents at
 * alert for anomalies, DUNNO for everything else. It also delivers the outbox
 * (notifications, hooks) in a thread of its own.
 */
#ifndef AD_POLICYD_H
#define AD_POLICYD_H

#include "config/config.h"
#include "util/err.h"
#include "util/log.h"

/* Runs the daemon until SIGTERM or SIGINT. config_path is re-read on SIGHUP
 * (a bad file keeps the running configuration and logs why); cfg is the
 * configuration already loaded (borrowed; the daemon keeps its own copies after
 * a reload). Binds every [policy] listen address, then drops to [policy] user,
 * then opens the store. Returns 0 after a clean stop, or an AD_ERR_* with err
 * filled when it could not start. */
int policyd_run(const struct config *cfg, const char *config_path, const char *db_override,
                struct logger *log, struct ad_err *err);

#endif

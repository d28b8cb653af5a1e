/*
 * hookexec.h: runs the provider's lock and unlock commands without a shell:
 * fork + execv of the configured program with its arguments, standard input from
 * /dev/null, a small fixed environment, output captured for the audit log, and
 * a time limit after which the command is killed.
 */
#ifndef AD_HOOKEXEC_H
#define AD_HOOKEXEC_H

#include "util/err.h"

/* Runs argv[0] (an absolute path, or looked up in PATH) with argv (NULL-terminated).
 * Returns 0 when it exited with status 0; AD_ERR_BUSY when it failed (non-zero
 * exit, killed by a signal, timed out after timeout_ms, could not be started):
 * the caller retries later. err->msg holds the exit status and the first bytes of
 * what the command printed (stdout and stderr). */
int hookexec_run(char *const argv[], long timeout_ms, struct ad_err *err);

#endif

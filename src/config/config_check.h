/*
 * config_check.h: what `abusedesk config check` finds beyond the syntax that
 * config_load() already refuses: cross-checks between keys and with the
 * system (thresholds in order, templates present for every notice and
 * language, addresses that are addresses, the service user exists, listen
 * values serve accepts), each named with the file's line. And the helpers
 * that put line numbers and "did you mean" into config_load()'s errors.
 */
#ifndef AD_CONFIG_CHECK_H
#define AD_CONFIG_CHECK_H

#include <stddef.h>

#include "config/config.h"

/* Checks cfg (loaded from file `name` whose text is text/len; text may be NULL
 * for built-in defaults) and calls problem(msg) for each finding, messages in
 * the form "FILE:LINE: [group] key: what is wrong". Returns how many. */
size_t config_check(const struct config *cfg, const char *name, const char *text, size_t len,
                    void (*problem)(const char *msg, void *ctx), void *ctx);

/* The 1-based line of `key` in `[group]` of text (0 when not there; key NULL:
 * the group's header line). */
size_t config_line_of(const char *text, size_t len, const char *group, const char *key);

/* Rewrites an error message "FILE: [group] key: ..." of config_load() into
 * "FILE:LINE: [group] key: ..." using text; leaves other messages alone. */
void config_err_add_line(char *msg, size_t size, const char *file, const char *text, size_t len);

/* The known name nearest to `word` among the NULL-terminated names (at most
 * two edits apart), or NULL. */
const char *config_nearest(const char *word, const char *const *names);

#endif

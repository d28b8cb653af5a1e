/*
 * log.h: one logging sink for the whole program: standard error (default) or
 * syslog (facility mail, as MTAs log), with a minimum severity. Lines for
 * machines (syslog, or standard error under systemd, which hands it to the
 * journal and names that stream in JOURNAL_STREAM) are key=value:
 *   level=warning component=outbox msg="mail 3 to x@example.net will be retried: ..."
 * and lines for people on a terminal stay "abusedesk: warning: outbox: ...".
 * Every line is redacted first (redact.h): no URL credentials, no secret
 * query parameters (callers that hold configured secrets, the outbox,
 * remove those from the messages they log).
 */
#ifndef AD_LOG_H
#define AD_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARNING, LOG_LEVEL_ERROR };

struct logger {
    enum log_level min;
    bool syslog;
    const char *ident;      /* program name in each line; borrowed */
};

/* Parses "debug", "info", "warning", "error"; returns -1 for anything else. */
int log_level_parse(const char *name);

/* Opens syslog when lg->syslog; call once before logging. Standard error is
 * written key=value when it is the journal's stream (JOURNAL_STREAM names its
 * device and inode), checked per line (a daemon's stream does not change). */
void log_open(struct logger *lg);
void log_close(struct logger *lg);

/* Logs one line (no trailing newline needed) when level >= lg->min. lg may be NULL:
 * then nothing is logged. */
void log_msg(const struct logger *lg, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The key=value form of one message (what log_msg() writes for machines),
 * into out (size bytes, always NUL-terminated): level, component (the
 * message's leading "word: ", else "main") and msg, quoted, with '"' and '\\'
 * escaped and control characters as \n, \t or \xNN, so that a value that
 * came by mail cannot start a line of its own. */
void log_format_kv(char *out, size_t size, enum log_level level, const char *msg);

#endif

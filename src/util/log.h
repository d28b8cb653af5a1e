/*
 * log.h: one logging sink for the whole program: standard error (default) or
 * syslog (facility mail, as MTAs log), with a minimum severity.
 */
#ifndef AD_LOG_H
#define AD_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARNING, LOG_LEVEL_ERROR };

struct logger {
    enum log_level min;
    bool syslog;
    const char *ident;      /* program name in each line; borrowed */
};

/* Parses "debug", "info", "warning", "error"; returns -1 for anything else. */
int log_level_parse(const char *name);

/* Opens syslog when lg->syslog; call once before logging. */
void log_open(struct logger *lg);
void log_close(struct logger *lg);

/* Logs one line (no trailing newline needed) when level >= lg->min. lg may be NULL:
 * then nothing is logged. */
void log_msg(const struct logger *lg, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

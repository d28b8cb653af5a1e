/*
 * log.c: writes log lines to standard error or syslog. Used by every command and,
 * later, the daemon. Never fails: a line that cannot be written is dropped.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

static const char *const level_names[] = { "debug", "info", "warning", "error" };

int log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void log_open(struct logger *lg)
{
    if (lg->syslog)
        openlog(lg->ident ? lg->ident : "abusedesk", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_close(struct logger *lg)
{
    if (lg->syslog)
        closelog();
}

void log_msg(const struct logger *lg, enum log_level level, const char *fmt, ...)
{
    if (!lg || level < lg->min)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (lg->syslog) {
        static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };
        syslog(prio[level], "%s", line);
    } else {
        fprintf(stderr, "%s: %s: %s\n", lg->ident ? lg->ident : "abusedesk", level_names[level],
                line);
    }
}

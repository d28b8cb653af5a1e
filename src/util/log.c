/*
 * log.c: writes log lines to standard error or syslog (see log.h). Used by
 * every command and the daemons. Never fails: a line that cannot be written is
 * dropped, one that is too long is cut.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "util/redact.h"

static const char *const level_names[] = { "debug", "info", "warning", "error" };

int log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

/* True when standard error is the journal's stream: systemd names the stream
 * it connected as "DEVICE:INODE" in JOURNAL_STREAM; a standard error
 * redirected elsewhere (a file, a pipe to a person) is not it. */
static bool journal_stderr(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev = 0, ino = 0;
    struct stat sb;
    return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &sb) == 0 &&
           (unsigned long long)sb.st_dev == dev && (unsigned long long)sb.st_ino == ino;
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
    redact_buf(line, sizeof line, NULL);
    if (lg->syslog || journal_stderr()) {
        char kv[4096];
        log_format_kv(kv, sizeof kv, level, line);
        if (lg->syslog) {
            static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };
            syslog(prio[level], "%s", kv);
        } else {
            fprintf(stderr, "%s\n", kv);
        }
    } else {
        fprintf(stderr, "%s: %s: %s\n", lg->ident ? lg->ident : "abusedesk", level_names[level],
                line);
    }
}

/* The component of a message: its leading "word: " (letters, digits, '_',
 * '-', at most 24 bytes), as the program writes "policy: ...", "outbox: ...";
 * *rest points after it. */
static size_t component(const char *msg, const char **rest)
{
    size_t n = 0;
    while (n < 24 && ((msg[n] >= 'a' && msg[n] <= 'z') || (msg[n] >= '0' && msg[n] <= '9') ||
                      msg[n] == '_' || msg[n] == '-'))
        n++;
    if (n == 0 || msg[n] != ':' || msg[n + 1] != ' ') {
        *rest = msg;
        return 0;
    }
    *rest = msg + n + 2;
    return n;
}

void log_format_kv(char *out, size_t size, enum log_level level, const char *msg)
{
    if (size == 0)
        return;
    const char *rest;
    size_t n = component(msg, &rest);
    int w = snprintf(out, size, "level=%s component=%.*s msg=\"", level_names[level],
                     (int)(n ? n : 4), n ? msg : "main");
    size_t o = w > 0 ? (size_t)w : 0;
    if (size < 8 || o > size - 8) {
        out[0] = '\0';
        return;
    }
    /* Leave room for the closing quote and the NUL. */
    for (const unsigned char *s = (const unsigned char *)rest; *s && o + 6 < size; s++) {
        if (*s == '"' || *s == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*s;
        } else if (*s == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (*s == '\t') {
            out[o++] = '\\';
            out[o++] = 't';
        } else if (*s < 0x20 || *s == 0x7f) {
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", *s);
        } else {
            out[o++] = (char)*s;
        }
    }
    if (o + 2 > size)
        o = size - 2;
    out[o++] = '"';
    out[o] = '\0';
}

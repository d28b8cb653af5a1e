/*
 * err.c: fills struct ad_err. Called from every module at the point where an error
 * is detected; never allocates, never fails.
 */
#include "err.h"

#include <stdio.h>

int ad_err_set(struct ad_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

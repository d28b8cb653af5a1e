/*
 * err.h: the error record every module fills on failure.
 *
 * Functions return 0 on success and a negative AD_ERR_* code on failure and, when
 * the caller passed a non-NULL struct ad_err, a human-readable message in it.
 * The message is owned by the caller's struct; nothing is allocated.
 */
#ifndef AD_ERR_H
#define AD_ERR_H

#include <stdarg.h>

enum {
    AD_OK = 0,
    AD_ERR_IO = -1,        /* read/write/fsync failed */
    AD_ERR_NOMEM = -2,
    AD_ERR_PARSE = -3,     /* input is malformed */
    AD_ERR_LIMIT = -4,     /* input crossed a size/depth limit */
    AD_ERR_CONFIG = -5,    /* configuration is invalid */
    AD_ERR_STORE = -6,     /* the store failed (may be temporary) */
    AD_ERR_BUSY = -7,      /* the store is locked/unavailable: retry later */
    AD_ERR_NOTFOUND = -8,
    AD_ERR_USAGE = -9,
    AD_ERR_REFUSED = -10,  /* the state does not allow it: an invalid transition, a
                            * refused unlock (not the caller's mistake in syntax) */
};

struct ad_err {
    int code;
    char msg[256];
};

/* Sets err->code and a printf-style message (truncated to fit); NULL err is fine.
 * Returns code so callers can write `return ad_err_set(err, AD_ERR_IO, ...)`. */
int ad_err_set(struct ad_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

/*
 * fsutil.h: durable file operations for the spool and quarantine: fsync'ed writes,
 * renames made durable by syncing the directory, recursive mkdir.
 */
#ifndef AD_FSUTIL_H
#define AD_FSUTIL_H

#include <stddef.h>

#include "err.h"

/* mkdir -p with mode 0750. */
int fs_mkdir_p(const char *path, struct ad_err *err);

/* fsync()s a directory so that a rename or create inside it survives a crash. */
int fs_sync_dir(const char *dir, struct ad_err *err);

/* Writes len bytes to path atomically (temp file in the same directory, fsync,
 * rename, fsync of the directory). */
int fs_write_durable(const char *path, const void *data, size_t len, struct ad_err *err);

/* Moves src to dst durably; falls back to copy + fsync + unlink across file systems. */
int fs_move_durable(const char *src, const char *dst, struct ad_err *err);

#endif

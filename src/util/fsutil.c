/*
 * fsutil.c: the few file system operations that must survive a crash (spool,
 * quarantine, Maildir moves). Every function reports failure through struct ad_err
 * with the path and errno text; none prints or exits.
 */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_mkdir_p(const char *path, struct ad_err *err)
{
    if (g_mkdir_with_parents(path, 0750) != 0)
        return ad_err_set(err, AD_ERR_IO, "cannot create directory %s: %s", path, strerror(errno));
    return 0;
}

int fs_sync_dir(const char *dir, struct ad_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return ad_err_set(err, AD_ERR_IO, "cannot open directory %s: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return ad_err_set(err, AD_ERR_IO, "fsync %s: %s", dir, strerror(e));
    return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fs_write_durable(const char *path, const void *data, size_t len, struct ad_err *err)
{
    char *tmp = g_strdup_printf("%s.tmp.%ld", path, (long)getpid());
    char *dir = g_path_get_dirname(path);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        rc = ad_err_set(err, AD_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        rc = ad_err_set(err, AD_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        rc = ad_err_set(err, AD_ERR_IO, "cannot rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = fs_sync_dir(dir, err);
out:
    g_free(tmp);
    g_free(dir);
    return rc;
}

int fs_move_durable(const char *src, const char *dst, struct ad_err *err)
{
    char *dir = g_path_get_dirname(dst);
    int rc = 0;
    if (rename(src, dst) == 0) {
        rc = fs_sync_dir(dir, err);
        goto out;
    }
    if (errno != EXDEV) {
        rc = ad_err_set(err, AD_ERR_IO, "cannot move %s to %s: %s", src, dst, strerror(errno));
        goto out;
    }
    char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(src, &data, &len, NULL)) {
        rc = ad_err_set(err, AD_ERR_IO, "cannot read %s", src);
        goto out;
    }
    rc = fs_write_durable(dst, data, len, err);
    g_free(data);
    if (rc == 0 && unlink(src) != 0)
        rc = ad_err_set(err, AD_ERR_IO, "cannot remove %s: %s", src, strerror(errno));
out:
    g_free(dir);
    return rc;
}

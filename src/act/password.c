/*
 * password.c: password fingerprints (see password.h). Called by `abusedesk
 * account password-changed|check-password --password-stdin`.
 *
 * Why argon2id with a derived salt, not a plain keyed hash: the fingerprint of
 * one password must always be the same for the same account (so a reuse is
 * found by comparison) and different for another account (so a common
 * password of two customers is not refused for the second one). A keyed
 * BLAKE2b would do that too, but whoever reads the database and the key could
 * then test billions of guesses per second; argon2id (libsodium's interactive
 * limits) makes each guess cost memory and time, and the key, kept outside the
 * database, makes a stolen database alone useless. The salt is
 * BLAKE2b-128(key, "abusedesk password salt\0" + account).
 *
 * The plaintext lives only in sodium_malloc'd memory that is wiped on free; it
 * is never logged, stored or passed on a command line.
 */
#include "password.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsutil.h"

/* The 32-byte secret: from [act] password_key, else the key file (made with
 * random bytes, 0600, on first use). */
static int load_key(const struct config *cfg, unsigned char key[32], struct ad_err *err)
{
    if (cfg->password_key && *cfg->password_key) {
        crypto_generichash(key, 32, (const unsigned char *)cfg->password_key,
                           strlen(cfg->password_key), NULL, 0);
        return 0;
    }
    const char *path = cfg->password_key_file;
    if (!path || !*path)
        return ad_err_set(err, AD_ERR_CONFIG,
                          "[act] password_key and password_key_file are both empty");
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            unsigned char buf[33];
            ssize_t n = read(fd, buf, sizeof buf);
            close(fd);
            if (n != 32)
                return ad_err_set(err, AD_ERR_CONFIG,
                                  "password key file %s: expected 32 bytes, found %zd", path, n);
            memcpy(key, buf, 32);
            sodium_memzero(buf, sizeof buf);
            return 0;
        }
        if (errno != ENOENT)
            return ad_err_set(err, AD_ERR_IO, "password key file %s: %s", path, strerror(errno));
        /* Make it: a unique temporary name, then link() so that two processes
         * creating it at once agree on one key. */
        char *dir = g_path_get_dirname(path);
        int rc = fs_mkdir_p(dir, err);
        g_free(dir);
        if (rc)
            return rc;
        char *tmp = g_strdup_printf("%s.%d.tmp", path, (int)getpid());
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            rc = ad_err_set(err, AD_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
            g_free(tmp);
            return rc;
        }
        unsigned char fresh[32];
        randombytes_buf(fresh, sizeof fresh);
        bool ok = write(fd, fresh, sizeof fresh) == (ssize_t)sizeof fresh && fsync(fd) == 0;
        close(fd);
        sodium_memzero(fresh, sizeof fresh);
        if (ok && link(tmp, path) != 0 && errno != EEXIST)
            ok = false;
        unlink(tmp);
        g_free(tmp);
        if (!ok)
            return ad_err_set(err, AD_ERR_IO, "cannot write the password key file %s", path);
    }
    return ad_err_set(err, AD_ERR_IO, "password key file %s: cannot be read", path);
}

int password_fingerprint(const struct config *cfg, const char *account, const char *pw,
                         size_t len, char out[PASSWORD_FP_HEX], struct ad_err *err)
{
    out[0] = '\0';
    if (sodium_init() < 0)
        return ad_err_set(err, AD_ERR_NOMEM, "libsodium could not be initialised");
    if (!pw || len == 0)
        return ad_err_set(err, AD_ERR_USAGE, "the password is empty");
    if (len > PASSWORD_MAX)
        return ad_err_set(err, AD_ERR_USAGE, "the password is longer than %d bytes", PASSWORD_MAX);
    unsigned char key[32];
    int rc = load_key(cfg, key, err);
    if (rc)
        return rc;
    char *acct = g_ascii_strdown(account, -1);
    static const char label[] = "abusedesk password salt";
    crypto_generichash_state h;
    unsigned char salt[crypto_pwhash_SALTBYTES];
    crypto_generichash_init(&h, key, sizeof key, sizeof salt);
    crypto_generichash_update(&h, (const unsigned char *)label, sizeof label);
    crypto_generichash_update(&h, (const unsigned char *)acct, strlen(acct));
    crypto_generichash_final(&h, salt, sizeof salt);
    sodium_memzero(key, sizeof key);
    g_free(acct);
    unsigned char fp[32];
    if (crypto_pwhash(fp, sizeof fp, pw, len, salt, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                      crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return ad_err_set(err, AD_ERR_NOMEM, "password fingerprint: out of memory");
    sodium_bin2hex(out, PASSWORD_FP_HEX, fp, sizeof fp);
    sodium_memzero(fp, sizeof fp);
    return 0;
}

int password_read(int fd, char **out, size_t *len, struct ad_err *err)
{
    *out = NULL;
    *len = 0;
    if (sodium_init() < 0)
        return ad_err_set(err, AD_ERR_NOMEM, "libsodium could not be initialised");
    char *buf = sodium_malloc(PASSWORD_MAX + 2);
    if (!buf)
        return ad_err_set(err, AD_ERR_NOMEM, "out of memory");
    size_t n = 0;
    bool nl = false;
    while (n < PASSWORD_MAX + 1 && !nl) {
        ssize_t r = read(fd, buf + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            password_buf_free(buf);
            return ad_err_set(err, AD_ERR_IO, "reading the password: %s", strerror(errno));
        }
        if (r == 0)
            break;
        if (buf[n] == '\n')
            nl = true;
        else
            n++;
    }
    if (n > PASSWORD_MAX) {
        password_buf_free(buf);
        return ad_err_set(err, AD_ERR_USAGE, "the password is longer than %d bytes", PASSWORD_MAX);
    }
    if (n && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (n == 0) {
        password_buf_free(buf);
        return ad_err_set(err, AD_ERR_USAGE, "no password on standard input");
    }
    *out = buf;
    *len = n;
    return 0;
}

void password_buf_free(char *buf)
{
    if (buf)
        sodium_free(buf); /* sodium_free wipes the memory first */
}

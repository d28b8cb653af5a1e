/*
 * password.h: fingerprints of the passwords an account had, so that a leaked
 * password is recognised when the customer tries to set it again. The provider's
 * panel hands abusedesk the plaintext at the moment of a change (on standard
 * input, never on the command line); only a keyed, slow fingerprint is kept.
 */
#ifndef AD_PASSWORD_H
#define AD_PASSWORD_H

#include <stddef.h>

#include "config/config.h"
#include "util/err.h"

#define PASSWORD_FP_HEX 65  /* 32 bytes as hex, with the NUL */
#define PASSWORD_MAX 4096   /* longest password accepted */

/* The fingerprint of password pw (len bytes) for account (compared lower
 * case): argon2id over the password with a salt derived from the account and
 * the secret key ([act] password_key, else the key file). out gets 64 hex
 * digits. Returns 0, AD_ERR_USAGE (empty or too long password), AD_ERR_IO /
 * AD_ERR_CONFIG (no key), or AD_ERR_NOMEM. */
int password_fingerprint(const struct config *cfg, const char *account, const char *pw,
                         size_t len, char out[PASSWORD_FP_HEX], struct ad_err *err);

/* Reads a password from fd (standard input): up to the first newline (a
 * trailing CR is dropped too) or end of input, at most PASSWORD_MAX bytes.
 * *out is the caller's, sodium_malloc'd: wipe and free with
 * password_buf_free(). Returns 0, AD_ERR_USAGE (empty or too long) or AD_ERR_IO. */
int password_read(int fd, char **out, size_t *len, struct ad_err *err);
void password_buf_free(char *buf);

#endif

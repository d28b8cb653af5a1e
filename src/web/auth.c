/*
 * auth.c: roles, password hashes and secrets of the dashboard (see auth.h).
 * libsodium must be initialised (sodium_init()) by the program first; every
 * function here is pure apart from the random bytes, and nothing is logged.
 */
#include "auth.h"

#include <glib.h>
#include <sodium.h>
#include <string.h>

#include "act/password.h"

enum web_role web_role_parse(const char *s)
{
    if (!s)
        return WEB_ROLE_NONE;
    if (!strcmp(s, "admin"))
        return WEB_ROLE_ADMIN;
    if (!strcmp(s, "agent"))
        return WEB_ROLE_AGENT;
    if (!strcmp(s, "viewer"))
        return WEB_ROLE_VIEWER;
    return WEB_ROLE_NONE;
}

bool web_user_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > STORE_WEB_NAME_MAX || !g_ascii_isalnum(name[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!g_ascii_isalnum(name[i]) && !strchr("._@-", name[i]))
            return false;
    return true;
}

int web_auth_hash(const char *pw, size_t len, char out[STORE_WEB_HASH_MAX], struct ad_err *err)
{
    if (len == 0 || len > PASSWORD_MAX)
        return ad_err_set(err, AD_ERR_USAGE, "the password must be 1 to %d bytes", PASSWORD_MAX);
    G_STATIC_ASSERT(crypto_pwhash_STRBYTES <= STORE_WEB_HASH_MAX);
    if (crypto_pwhash_str_alg(out, pw, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13)
        != 0)
        return ad_err_set(err, AD_ERR_NOMEM, "argon2id: out of memory");
    return 0;
}

bool web_auth_verify(const char *hash, const char *pw, size_t len)
{
    if (!hash || !*hash || len == 0 || len > PASSWORD_MAX)
        return false;
    return crypto_pwhash_str_verify(hash, pw, len) == 0;
}

void web_auth_secret(char out[WEB_SECRET_HEX])
{
    unsigned char b[32];
    randombytes_buf(b, sizeof b);
    sodium_bin2hex(out, WEB_SECRET_HEX, b, sizeof b);
    sodium_memzero(b, sizeof b);
}

void web_auth_digest(const char *s, char out[STORE_WEB_DIGEST_HEX])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)s, strlen(s), NULL, 0);
    sodium_bin2hex(out, STORE_WEB_DIGEST_HEX, h, sizeof h);
}

void web_auth_token(char token[WEB_SECRET_HEX + 4], char digest[STORE_WEB_DIGEST_HEX])
{
    char secret[WEB_SECRET_HEX];
    web_auth_secret(secret);
    g_snprintf(token, WEB_SECRET_HEX + 4, "%s%s", WEB_TOKEN_PREFIX, secret);
    sodium_memzero(secret, sizeof secret);
    web_auth_digest(token, digest);
}

bool web_auth_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return false;
    return sodium_memcmp(a, b, la) == 0;
}

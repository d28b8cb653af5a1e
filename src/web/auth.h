/*
 * auth.h: who is acting in the dashboard. Roles, password hashes (libsodium's
 * argon2id, crypto_pwhash_str with the interactive limits) and the random
 * secrets behind API tokens, session cookies and CSRF tokens, of which the
 * store keeps only a BLAKE2b digest (web_auth_digest). Used by `abusedesk
 * user`, `abusedesk token` and the web process.
 */
#ifndef AD_WEB_AUTH_H
#define AD_WEB_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store_web.h"
#include "util/err.h"

#define WEB_SECRET_HEX 65       /* 32 random bytes as hex, with the NUL */
#define WEB_TOKEN_PREFIX "adt_" /* API tokens: "adt_" + 64 hex digits */

enum web_role { WEB_ROLE_NONE = 0, WEB_ROLE_VIEWER, WEB_ROLE_AGENT, WEB_ROLE_ADMIN };

/* "admin", "agent", "viewer" -> the role; WEB_ROLE_NONE for anything else. */
enum web_role web_role_parse(const char *s);

/* True when a user name is 1..64 bytes of [A-Za-z0-9._@-], starting with a
 * letter or digit (it goes into the audit log and into HTML). */
bool web_user_name_ok(const char *name);

/* argon2id hash of password pw (len bytes) into out. 0, AD_ERR_USAGE (empty
 * or over PASSWORD_MAX), AD_ERR_NOMEM. */
int web_auth_hash(const char *pw, size_t len, char out[STORE_WEB_HASH_MAX], struct ad_err *err);

/* True when pw matches hash (constant time in libsodium). */
bool web_auth_verify(const char *hash, const char *pw, size_t len);

/* 32 random bytes as 64 hex digits. */
void web_auth_secret(char out[WEB_SECRET_HEX]);

/* BLAKE2b-256 of s, as hex: what the store keeps of a token or session. */
void web_auth_digest(const char *s, char out[STORE_WEB_DIGEST_HEX]);

/* A new API token for the holder ("adt_" + secret) and its digest. */
void web_auth_token(char token[WEB_SECRET_HEX + 4], char digest[STORE_WEB_DIGEST_HEX]);

/* Compares two NUL-terminated strings in time independent of where they differ. */
bool web_auth_equal(const char *a, const char *b);

#endif

/*
 * store_web.h: the dashboard's people in the store (tables web_users,
 * web_tokens and web_sessions, migration 12 in store_sql.c), and the counts
 * the dashboard's metrics and charts read. A user has a name, a role
 * (admin, agent, viewer) and an argon2id hash of the password (libsodium's
 * crypto_pwhash_str format); an API token and a login session are stored
 * only as the hex BLAKE2b digest of the secret the client holds, so a
 * stolen database opens no session. Times are Unix seconds. Every function
 * returns 0 or a negative AD_ERR_* code with err filled.
 */
#ifndef AD_STORE_WEB_H
#define AD_STORE_WEB_H

#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

#define STORE_WEB_NAME_MAX 64   /* bytes of a user name */
#define STORE_WEB_HASH_MAX 128  /* crypto_pwhash_STRBYTES */
#define STORE_WEB_DIGEST_HEX 65 /* a 32-byte digest as hex, with the NUL */

struct store_web_user {
    int64_t id;
    char name[STORE_WEB_NAME_MAX + 1];
    char role[16];
    char pwhash[STORE_WEB_HASH_MAX];
    int64_t created_at, last_login;     /* last_login 0: never */
    int64_t n_tokens;                   /* filled by store_web_user_each() only */
};

/* Adds a user; AD_ERR_REFUSED when the name is taken. *id may be NULL. */
int store_web_user_add(struct store *st, const char *name, const char *role, const char *pwhash,
                       int64_t now, int64_t *id, struct ad_err *err);

/* Reads user name into *u; AD_ERR_NOTFOUND when absent. */
int store_web_user_get(struct store *st, const char *name, struct store_web_user *u,
                       struct ad_err *err);

/* Calls fn for every user, by name (n_tokens filled). */
int store_web_user_each(struct store *st, int (*fn)(const struct store_web_user *u, void *ctx),
                        void *ctx, struct ad_err *err);

/* Number of users (the first one made by `make run` or a fresh install). */
int store_web_user_count(struct store *st, int64_t *n, struct ad_err *err);

/* Deletes user name with its tokens and sessions; AD_ERR_NOTFOUND when absent. */
int store_web_user_del(struct store *st, const char *name, struct ad_err *err);

/* Replaces the password hash (and, with role non-NULL, the role) of user
 * name and ends its sessions; AD_ERR_NOTFOUND when absent. */
int store_web_user_update(struct store *st, const char *name, const char *pwhash,
                          const char *role, int64_t now, struct ad_err *err);

/* Records a successful login at now. */
int store_web_user_logged_in(struct store *st, int64_t user_id, int64_t now, struct ad_err *err);

/* Stores an API token's digest for user_id. */
int store_web_token_add(struct store *st, int64_t user_id, const char *digest, int64_t now,
                        struct ad_err *err);

/* The user a token digest belongs to; AD_ERR_NOTFOUND for an unknown token. */
int store_web_token_user(struct store *st, const char *digest, struct store_web_user *u,
                         struct ad_err *err);

/* Stores a session (digest of the cookie's secret) with its CSRF token. */
int store_web_session_add(struct store *st, int64_t user_id, const char *digest,
                          const char *csrf, int64_t now, int64_t expires_at, struct ad_err *err);

/* The user and CSRF token (csrf: STORE_WEB_DIGEST_HEX bytes) of a session
 * that has not expired at now; AD_ERR_NOTFOUND otherwise. */
int store_web_session_get(struct store *st, const char *digest, int64_t now,
                          struct store_web_user *u, char *csrf, struct ad_err *err);

/* Ends a session (logout); ends nothing when absent. */
int store_web_session_del(struct store *st, const char *digest, struct ad_err *err);

/* Deletes the sessions expired at now. */
int store_web_session_purge(struct store *st, int64_t now, struct ad_err *err);

/* The counts behind /metrics and the charts. Each row has up to two labels
 * (b NULL for one) and a count. */
enum store_web_count {
    STORE_WEB_REPORTS,          /* a: kind, b: "1" authenticated / "0" not */
    STORE_WEB_INCIDENTS,        /* a: state */
    STORE_WEB_LOCKS,            /* a: subject kind (active locks) */
    STORE_WEB_OUTBOX,           /* a: queued, sent, failed (mails) */
    STORE_WEB_HOOKS,            /* a: queued, done, failed (hook calls) */
    STORE_WEB_POLICY,           /* a: stage, b: decided_by (the policy server's findings) */
    STORE_WEB_RBL,              /* a: zone (open DNSBL listings) */
    STORE_WEB_COMPLAINTS_HOURLY,/* a: provider, b: hour (Unix seconds / 3600), since */
    STORE_WEB_INCIDENTS_DAILY,  /* a: day (Unix seconds / 86400), since */
};

/* Calls fn for each row of count `which` (since: the series' start, Unix
 * seconds; ignored by the others). Strings are borrowed for the call. */
int store_web_counts(struct store *st, enum store_web_count which, int64_t since,
                     void (*fn)(const char *a, const char *b, int64_t n, void *ctx), void *ctx,
                     struct ad_err *err);

#endif

/*
 * store_directory.h: the customer directory's tables (customers, accounts,
 * domains, scripts) for src/directory/directory.c: the import's upserts, the
 * lookups attribution makes, a customer and what it owns.
 */
#ifndef AD_STORE_DIRECTORY_H
#define AD_STORE_DIRECTORY_H

#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* Upserts. A customer is written again only when name, contact or language
 * change (then updated_at = now); an account, domain or uid moves to the
 * customer named last. A uid's web space root: webroot when not NULL; with
 * NULL the stored root stays while the uid stays with its customer and is
 * dropped when it moves. */
int store_directory_customer_put(struct store *st, const char *id, const char *name,
                                 const char *contact_email, const char *language, int64_t now,
                                 struct ad_err *err);
int store_directory_account_put(struct store *st, const char *account, const char *customer_id,
                                struct ad_err *err);
int store_directory_domain_put(struct store *st, const char *domain, const char *customer_id,
                               struct ad_err *err);
int store_directory_uid_put(struct store *st, const char *uid, const char *customer_id,
                            const char *webroot, struct ad_err *err);

/* What a lookup by one exact key finds. */
enum store_directory_lookup {
    STORE_DIRECTORY_ACCOUNT,     /* an account (login) -> its customer id */
    STORE_DIRECTORY_DOMAIN,      /* a domain -> its customer id */
    STORE_DIRECTORY_UID,         /* a uid (web space) -> its customer id */
    STORE_DIRECTORY_OWN_CONTACT, /* a customer id -> its contact, if one of its accounts */
};

/* *out: a g_malloc'd copy of what key maps to (the caller's), or NULL. */
int store_directory_lookup(struct store *st, enum store_directory_lookup what, const char *key,
                           char **out, struct ad_err *err);

/* The customer and web space root of uid; both g_malloc'd or NULL (an empty
 * root is NULL). */
int store_directory_uid_webroot(struct store *st, const char *uid, char **customer_id,
                                char **webroot, struct ad_err *err);

/* Sets customer id's contact address (updated_at = now). */
int store_directory_contact_set(struct store *st, const char *id, const char *contact_email,
                                int64_t now, struct ad_err *err);

/* A customer as stored; strings g_malloc'd, the caller's. */
struct store_directory_customer {
    char *id, *name, *contact_email, *language;
};

/* Reads customer id: 0, AD_ERR_NOTFOUND or another error. */
int store_directory_customer_get(struct store *st, const char *id,
                                 struct store_directory_customer *out, struct ad_err *err);

/* Calls fn for each account ("account"), domain ("domain") and web space
 * ("uid", or "script" with "uid:path") of customer id, in that order, sorted.
 * The strings are borrowed for the call; fn must not use the store. */
int store_directory_owned_each(struct store *st, const char *id,
                               void (*fn)(const char *kind, const char *value, void *ctx),
                               void *ctx, struct ad_err *err);

#endif

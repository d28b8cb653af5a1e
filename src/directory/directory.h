/*
 * directory.h: the customer directory: customers (id, name, contact address,
 * language), their accounts (mailbox addresses or SASL login names), domains and
 * web space uids (scripts). Filled from CSV by `abusedesk directory import`, read
 * by attribution. Lookups are case-insensitive for addresses and domains.
 */
#ifndef AD_DIRECTORY_H
#define AD_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "store/store.h"
#include "util/err.h"

struct directory_customer {
    char *id, *name, *contact_email, *language;     /* g_malloc'd */
};

/* Frees the strings of c (not c itself); accepts NULL. */
void directory_customer_clear(struct directory_customer *c);

/* Outcome of an import. */
struct directory_import_stats {
    size_t n_rows;              /* data rows read */
    size_t n_customers;         /* customers inserted or updated */
    size_t n_accounts, n_domains, n_uids;
    size_t n_bad;               /* rows refused (each reported through the callback) */
};

/* Imports CSV text (RFC 4180: quoted fields, "" escapes, CRLF or LF) with the
 * header row customer_id,customer_name,contact_email,language,account,domain
 * (column order free; optional further column: uid, the Unix uid of the
 * customer's web space). One row per account; customer columns repeat. Re-import
 * updates and never duplicates. A bad row is refused with a message naming the
 * line and the column, reported through bad(line, msg, ctx) (may be NULL), and
 * the import goes on; returns 0 when the file was read (even with bad rows), a
 * negative AD_ERR_* when the header is wrong or the store fails (then nothing of
 * the file is kept: one transaction). name labels messages. Also AD_ERR_LIMIT
 * (a line or field over 4096 bytes, over 1,000,000 rows) and AD_ERR_PARSE (a
 * quote never closed) fail the whole file. When the caller already has a
 * transaction open on st, the import joins it and the caller commits or rolls
 * back (`directory import --dry-run` rolls back). */
int directory_import(struct store *st, const char *name, const char *csv, size_t len,
                     struct directory_import_stats *stats,
                     void (*bad)(size_t line, const char *msg, void *ctx), void *ctx,
                     struct ad_err *err);

/* Customer id owning an account (login or mailbox address), or NULL. Returned
 * string is g_malloc'd (caller frees). Negative AD_ERR_* only on store failure:
 * int-returning form. */
int directory_account_customer(struct store *st, const char *account, char **customer_id,
                               struct ad_err *err);

/* Customer id owning a domain (the longest suffix that is listed: mail.example.com
 * matches example.com), or NULL. */
int directory_domain_customer(struct store *st, const char *domain, char **customer_id,
                              struct ad_err *err);

/* Customer id owning a web space uid, or NULL. */
int directory_uid_customer(struct store *st, const char *uid, char **customer_id,
                           struct ad_err *err);

/* Reads one customer; AD_ERR_NOTFOUND when absent. */
int directory_customer_get(struct store *st, const char *id, struct directory_customer *out,
                           struct ad_err *err);

/* Calls fn(kind, value, ctx) for everything customer id owns, for `directory show`:
 * kind "account" (value: the account), "domain", "uid" (a whole web space) and
 * "script" (value "uid:path", a single script other modules may record), each
 * group sorted. value is borrowed for the call. fn must not query the directory
 * itself. Returns 0 (also when the customer owns nothing) or a negative AD_ERR_*
 * on store failure. */
int directory_customer_each(struct store *st, const char *id,
                            void (*fn)(const char *kind, const char *value, void *ctx),
                            void *ctx, struct ad_err *err);

#endif

/*
 * directory.h: the customer directory: customers (id, name, contact address,
 * language), their accounts (mailbox addresses or SASL login names), domains and
 * web space uids (scripts) with the root directory of each web space. Filled
 * from CSV by `abusedesk directory import`, read by attribution. Lookups are
 * case-insensitive for addresses and domains.
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
    size_t n_webroots;          /* uids given a web space root */
    size_t n_warnings;          /* warnings (each reported through the warn callback) */
    /* --sync: what was removed because the file no longer lists it */
    size_t n_removed_customers, n_removed_accounts, n_removed_domains, n_removed_uids;
    size_t n_kept_open;         /* customers not removed: they have open incidents */
    bool sync_skipped;          /* nothing removed because rows were refused */
};

/* How directory_import_opts() runs. */
struct directory_import_opts {
    bool sync;      /* remove customers, accounts, domains and uids the file no longer
                     * lists; nothing when a row was refused (it would look removed) */
    bool force;     /* with sync: remove customers with open incidents too */
    void (*bad)(size_t line, const char *msg, void *ctx);   /* may be NULL */
    void (*warn)(const char *msg, void *ctx);               /* may be NULL */
    void *ctx;
};

/* Imports CSV text (RFC 4180: quoted fields, "" escapes, CRLF or LF) with the
 * header row customer_id,customer_name,contact_email,language,account,domain
 * (column order free; optional further columns: uid, the Unix uid of the
 * customer's web space, and webroot, the absolute root directory of that web
 * space, only on a row with a uid). One row per account; customer columns
 * repeat. Re-import updates and never duplicates. A bad row is refused with a
 * message naming the line and the column, reported through bad(line, msg, ctx)
 * (may be NULL), and the import goes on; returns 0 when the file was read (even
 * with bad rows), a negative AD_ERR_* when the header is wrong or the store
 * fails (then nothing of the file is kept: one transaction). name labels
 * messages. Also AD_ERR_LIMIT (a line or field over 4096 bytes, over 1,000,000
 * rows) and AD_ERR_PARSE (a quote never closed) fail the whole file. When the
 * caller already has a transaction open on st, the import joins it and the
 * caller commits or rolls back (`directory import --dry-run` rolls back). */
int directory_import(struct store *st, const char *name, const char *csv, size_t len,
                     struct directory_import_stats *stats,
                     void (*bad)(size_t line, const char *msg, void *ctx), void *ctx,
                     struct ad_err *err);

/* directory_import() that also reports warnings: things that import fine but
 * will hurt later, such as a customer whose contact address is one of its own
 * accounts (the mailbox a lock would close). warn(msg, ctx) (may be NULL) gets
 * each as "customer ID: ..." once the rows are stored, customers in id order;
 * msg is borrowed for the call. A warning never refuses a row or fails the
 * import. */
int directory_import_warn(struct store *st, const char *name, const char *csv, size_t len,
                          struct directory_import_stats *stats,
                          void (*bad)(size_t line, const char *msg, void *ctx),
                          void (*warn)(const char *msg, void *ctx), void *ctx,
                          struct ad_err *err);

/* directory_import_warn() with options: a file separated by ';' is read as
 * well as one by ',' (the header decides), unknown columns are ignored with one
 * warning naming them, the limit columns (msgs_per_hour, rcpts_per_hour,
 * rcpts_per_day, domains_per_hour; limit_hour and limit_day are short names for
 * the first and third) set the customer's sending limits for the policy
 * server, and with o->sync whatever the file no longer lists is removed in the
 * same transaction: a customer with open incidents only with o->force (else it
 * stays with its accounts, counted in n_kept_open, and a warning says why). */
int directory_import_opts(struct store *st, const char *name, const char *csv, size_t len,
                          const struct directory_import_opts *o,
                          struct directory_import_stats *stats, struct ad_err *err);

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

/* Customer id owning a web space uid and the root directory of that web space
 * (an absolute path without '.', '..' or empty segments and without a final
 * '/'), each g_malloc'd (caller frees) or NULL: *customer_id NULL when the uid is
 * not listed, *webroot NULL when the directory gives no root for it. Negative
 * AD_ERR_* only on store failure. */
int directory_uid_webroot(struct store *st, const char *uid, char **webroot, char **customer_id,
                          struct ad_err *err);

/* Why a file system path cannot be taken as it is written, or NULL when it can:
 * a static phrase such as "has a '..' segment" for a path that is empty, longer
 * than DIRECTORY_MAX_PATH bytes, not valid UTF-8, has a control character, a
 * '.' or '..' segment, or an empty one ("//" or a final '/'). Absolute and
 * relative paths alike; the root "/" alone is refused as an empty segment. Pure:
 * the directory's webroot column and attribution's script paths share it. */
#define DIRECTORY_MAX_PATH 1024
const char *directory_path_problem(const char *path);

/* True when path lies inside the web space whose root is webroot, compared
 * segment by segment ("/var/www/a-evil/x" is not inside "/var/www/a"; the root
 * itself is not inside). Both must be clean (directory_path_problem() NULL) and
 * absolute; otherwise false. */
bool directory_path_under(const char *path, const char *webroot);

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

/* The contact address of customer id when it is one of that customer's own
 * accounts (the mailbox a lock would close, so a lock notice could not reach
 * anybody there): *contact is a g_malloc'd copy (caller frees), else NULL. 0, or
 * a negative AD_ERR_* on store failure; an unknown customer gives NULL. */
int directory_contact_own_account(struct store *st, const char *id, char **contact,
                                  struct ad_err *err);

/* Replaces the contact address of customer id (`abusedesk directory set-contact`).
 * address is checked and normalised exactly like the import's contact_email
 * (local@domain.tld, stored lower-cased, an IDN as xn--). *old receives the
 * address it replaces (g_malloc'd, caller frees; NULL on failure). Errors:
 * AD_ERR_PARSE for an address that is not one (message says why),
 * AD_ERR_NOTFOUND "customer X is not in the directory", AD_ERR_STORE/BUSY. The
 * next import sets the address from the file again. */
int directory_set_contact(struct store *st, const char *id, const char *address, char **old,
                          struct ad_err *err);

#endif

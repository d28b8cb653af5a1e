/*
 * attribute.h: decides which of our accounts, web scripts, customers or outbound
 * addresses a report is about, and why. Reads the original message's Received
 * chain against [network] our_hosts/our_ips, the authenticated user at our
 * submission hop, the PHP script headers, the envelope sender, the ARF Source-IP,
 * and maps what it found through the customer directory. A report that cannot be
 * attributed says why ("no hop through our hosts: likely forged sender"). A
 * script's path is kept only when it can be trusted: a clean relative path, or
 * an absolute one inside the web space root the directory gives for its uid.
 */
#ifndef AD_ATTRIBUTE_H
#define AD_ATTRIBUTE_H

#include <glib.h>
#include <stdbool.h>

#include "config/config.h"
#include "parse/report.h"
#include "store/store.h"
#include "util/err.h"

/* One fact the decision rests on: which header said what. */
struct attribute_evidence {
    char *source;       /* "Received[2]", "Source-IP", "X-PHP-Originating-Script", ... */
    char *said;         /* what it told us, in words */
};

struct attribution {
    bool attributed;
    const char *subject_kind;   /* static: "account", "script", "customer", "ip"; NULL when not */
    char *subject;              /* the account address, "uid:path", customer id or IP */
    char *account;              /* login or mailbox address, or NULL */
    char *script;               /* "uid:path"; "uid:" when only the uid is known or the path
                                 * cannot be trusted (outside the uid's web space root,
                                 * '..' segments, ...); ":name" for a bare name without uid */
    char *customer_id;          /* from the directory, or NULL */
    bool in_directory;          /* the subject itself is listed in the directory: an account
                                 * of its accounts (not only through its domain), a script
                                 * whose uid is listed, or a customer id; never an ip */
    char *source_ip;            /* our address the mail left from, or NULL */
    char *client_ip;            /* the address the account's mail came from (the client
                                 * of the lowest hop of our chain, never ours), or NULL */
    char *reason;               /* why not attributed, or a caveat; NULL when none */
    int our_hop;                /* index into original->received of our first hop, -1 */
    GPtrArray *evidence;        /* of struct attribute_evidence *, owned */
};

/* Attributes r. Directory lookups go through st (may be NULL: no directory).
 * out is initialised here and owned by the caller (attribution_clear). Returns 0,
 * or a negative AD_ERR_* when the store failed. */
int attribute_report(const struct config *cfg, struct store *st, const struct report *r,
                     struct attribution *out, struct ad_err *err);

/* Frees what a owns; a can be reused after attribute_report(). Accepts zeroed a. */
void attribution_clear(struct attribution *a);

/* The evidence as a JSON array text [{"source":..,"said":..}] (free()). */
char *attribution_evidence_json(const struct attribution *a);

#endif

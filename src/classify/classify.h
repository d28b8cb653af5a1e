/*
 * classify.h: what a bounce (or a complaint, or any mail that carries or
 * quotes the original) says about the mail it is about: a joe job (a spammer
 * forged our customer's address; the mail never passed our hosts), a
 * compromised mailbox (it went out through our submission with the customer's
 * password), an abused web script (a script on our web host injected it), or
 * unknown. Every verdict comes with the signals it rests on and advice for the
 * support agent in the customer's language.
 */
#ifndef AD_CLASSIFY_H
#define AD_CLASSIFY_H

#include <glib.h>
#include <jansson.h>

#include "config/config.h"
#include "parse/report.h"
#include "store/store.h"
#include "util/err.h"

enum classify_verdict {
    CLASSIFY_UNKNOWN = 0,
    CLASSIFY_JOEJOB,
    CLASSIFY_MAILBOX,
    CLASSIFY_SCRIPT,
};

/* "joejob", "compromised_mailbox", "script", "unknown". */
const char *classify_verdict_name(enum classify_verdict v);

struct classify_result {
    enum classify_verdict verdict;
    char *customer_id;      /* or NULL */
    char *subject;          /* the account, "uid:script", the forged domain, or NULL */
    char *language;         /* of the customer's notices ("de", "en") */
    GPtrArray *evidence;    /* of char * "SOURCE: what it said", owned */
    char *advice;           /* for the support agent, in the customer's language */
};

/* Classifies r. st (may be NULL) gives the customer directory. Returns 0 or a
 * store error; res is the caller's (classify_result_clear). */
int classify_report(const struct config *cfg, struct store *st, const struct report *r,
                    struct classify_result *res, struct ad_err *err);

/* Adds what the remote server quoted about SPF/DKIM/DMARC in the original
 * (raw: the whole report message): a failing SPF/DMARC for the forged domain
 * supports a joe job; a valid DKIM signature of the customer's domain
 * contradicts it (the verdict becomes unknown). */
void classify_quoted(const char *raw, size_t len, struct classify_result *res);

void classify_result_clear(struct classify_result *res);

/* The JSON object of the contract: file, verdict, customer_id, subject,
 * evidence (array of strings), advice. New reference. */
json_t *classify_result_json(const char *file, const struct classify_result *res);

#endif

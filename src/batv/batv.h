/*
 * batv.h: Bounce Address Tag Validation (draft-levine-smtp-batv-01, the "prvs"
 * scheme): the envelope sender of our outbound mail becomes
 * prvs=KDDDSSSSSS=local@domain, where K is the number of the key that signed
 * (0-9), DDD the day the tag expires (days since 1970, modulo 1000) and SSSSSS
 * the first three bytes of an HMAC over "KDDD" and the lower-cased original
 * address, in hex. Only we verify our tags, so the HMAC is HMAC-SHA256
 * (libsodium), truncated as the draft says. A bounce (null sender, or from
 * MAILER-DAEMON/postmaster) to a BATV domain must carry a valid tag: mail we
 * never sent (backscatter of a joe job) carries none.
 *
 * Keys live in a file of lines "NUM HEX64 CREATED" (NUM 0-9, a 32-byte key in
 * hex, the Unix time it was made); the newest key signs, every key listed
 * verifies (a key can be rotated without breaking bounces in flight).
 * Used by the policy server (check), the milter (sign) and `abusedesk batv`.
 * Nothing here allocates except batv_keygen(); no function crashes on any
 * input.
 */
#ifndef AD_BATV_H
#define AD_BATV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define BATV_MAX_KEYS 10
#define BATV_KEY_BYTES 32
#define BATV_MAX_ADDR 512       /* longer addresses are never tagged nor accepted as tagged */
#define BATV_TAG_LEN 16         /* "prvs=" + 10 + "=" */

enum batv_status {
    BATV_VALID = 0,         /* a tag of ours, in time */
    BATV_UNTAGGED,          /* no prvs= tag at all */
    BATV_MALFORMED,         /* prvs= but not KDDDSSSSSS=local@domain */
    BATV_UNKNOWN_KEY,       /* the key number is not in the key file */
    BATV_BAD_SIGNATURE,     /* the HMAC does not match: forged or altered */
    BATV_EXPIRED,           /* a tag of ours, but older than [batv] lifetime */
};

/* "valid", "untagged", "malformed", "unknown key", "bad signature", "expired". */
const char *batv_status_name(enum batv_status s);

struct batv_key {
    int num;                            /* 0-9: the K of the tag */
    int64_t created;                    /* Unix seconds */
    unsigned char key[BATV_KEY_BYTES];
};

struct batv_keys {
    size_t n;
    struct batv_key k[BATV_MAX_KEYS];
    int signer;                         /* index of the newest key; -1 when n == 0 */
};

/* A parsed tag: pointers into the caller's address (borrowed). */
struct batv_tag {
    int key;                    /* K */
    int day;                    /* DDD */
    char sig[7];                /* SSSSSS, lower case, NUL-terminated */
    const char *orig;           /* local@domain, without a closing '>' */
    size_t orig_len;
};

/* Parses the tag of addr (len bytes; an enclosing <> is allowed; "prvs=" in
 * any case). Returns 1 with *t filled when addr carries a well-formed tag, 0
 * when it carries none, AD_ERR_PARSE when it starts with prvs= but is not
 * prvs=KDDDSSSSSS=local@domain, AD_ERR_LIMIT for an address over
 * BATV_MAX_ADDR. This is the parser the fuzz target drives. */
int batv_parse(const char *addr, size_t len, struct batv_tag *t);

/* Reads the key file text (len bytes) into *keys. Blank lines and lines
 * starting with '#' are skipped; a later line with the same number replaces
 * an earlier one. AD_ERR_PARSE (with the line number in err) for a bad line. */
int batv_keys_parse(const char *text, size_t len, struct batv_keys *keys, struct ad_err *err);

/* batv_keys_parse() of the file at path. AD_ERR_IO when it cannot be read,
 * AD_ERR_CONFIG when it holds no key. */
int batv_keys_load(const char *path, struct batv_keys *keys, struct ad_err *err);

/* Adds a fresh random key to the file at path (created mode 0640 when
 * missing) with the number after the newest one's, replacing an older key of
 * that number; written atomically. *num gets the new key's number. */
int batv_keygen(const char *path, int64_t now, int *num, struct ad_err *err);

/* Tags addr (local@domain, len bytes, no <>) with the newest key: writes
 * "prvs=KDDDSSSSSS=local@domain" to out (size outsz). lifetime: seconds the
 * tag stays valid (1 to 999 days). AD_ERR_CONFIG without keys; AD_ERR_PARSE
 * for an address that must not be tagged: empty, without '@', already tagged,
 * an SRS address (SRS0=, SRS1=: rewritten by a forwarder, never signed by us);
 * AD_ERR_LIMIT when out is too small. */
int batv_sign(const struct batv_keys *keys, const char *addr, size_t len, int64_t now,
              long long lifetime, char *out, size_t outsz, struct ad_err *err);

/* Verifies the tag of addr at time now. BATV_VALID and, when orig is not
 * NULL, the original address (lower case as tagged) in orig (size origsz,
 * truncated to fit). Never fails otherwise: every other outcome is a status. */
enum batv_status batv_check(const struct batv_keys *keys, const char *addr, size_t len,
                            int64_t now, long long lifetime, char *orig, size_t origsz);

/* True when domain (any case, len bytes) is one of domains (NULL-terminated
 * list, e.g. [batv] domains). */
bool batv_domain_listed(char *const *domains, const char *domain, size_t len);

/* True when the domain of addr (local@domain, any case, an enclosing <>
 * allowed) is one of domains. */
bool batv_address_listed(char *const *domains, const char *addr);

/* True when sender is how a bounce comes: the null sender ("" or NULL), or
 * the local part MAILER-DAEMON or postmaster (any case). */
bool batv_bounce_sender(const char *sender);

#endif

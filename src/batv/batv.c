/*
 * batv.c: BATV tags (see batv.h): parse, sign, check, and the key file. Called
 * by the policy server's RCPT check (on its hot path: batv_check() does one
 * HMAC and no allocation), the milter's envelope signing and `abusedesk batv`.
 * The tag parser is written by hand because no Debian library parses the
 * draft's prvs= syntax; it is bounded (BATV_MAX_ADDR) and fuzzed
 * (fuzz/fuzz_batv.c). Errors come back as AD_ERR_* with err filled; checks
 * return a status, never an error.
 */
#include "batv.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsutil.h"

#define DAY 86400

const char *batv_status_name(enum batv_status s)
{
    switch (s) {
    case BATV_VALID:
        return "valid";
    case BATV_UNTAGGED:
        return "untagged";
    case BATV_MALFORMED:
        return "malformed";
    case BATV_UNKNOWN_KEY:
        return "unknown key";
    case BATV_BAD_SIGNATURE:
        return "bad signature";
    case BATV_EXPIRED:
        return "expired";
    }
    return "malformed";
}

/* addr without an enclosing <> (and surrounding blanks). */
static void unbracket(const char **s, size_t *len)
{
    const char *p = *s;
    size_t n = *len;
    while (n && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n >= 2 && p[0] == '<' && p[n - 1] == '>') {
        p++;
        n -= 2;
    }
    *s = p;
    *len = n;
}

/* local@domain: a non-empty local part, one domain after the last '@', no
 * blank, control character or bracket anywhere. */
static bool plain_address(const char *s, size_t len)
{
    if (len < 3)
        return false;
    const char *at = NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f || c == '<' || c == '>')
            return false;
        if (c == '@')
            at = s + i;
    }
    return at && at > s && at < s + len - 1;
}

int batv_parse(const char *addr, size_t len, struct batv_tag *t)
{
    memset(t, 0, sizeof *t);
    if (!addr)
        return 0;
    if (len > BATV_MAX_ADDR)
        return AD_ERR_LIMIT;
    unbracket(&addr, &len);
    if (len < 5 || g_ascii_strncasecmp(addr, "prvs=", 5) != 0)
        return 0;
    if (len < BATV_TAG_LEN)
        return AD_ERR_PARSE;
    const char *v = addr + 5;
    for (int i = 0; i < 4; i++)
        if (!g_ascii_isdigit(v[i]))
            return AD_ERR_PARSE;
    for (int i = 4; i < 10; i++)
        if (!g_ascii_isxdigit(v[i]))
            return AD_ERR_PARSE;
    if (v[10] != '=')
        return AD_ERR_PARSE;
    const char *orig = v + 11;
    size_t olen = len - BATV_TAG_LEN;
    if (!plain_address(orig, olen))
        return AD_ERR_PARSE;
    t->key = v[0] - '0';
    t->day = (v[1] - '0') * 100 + (v[2] - '0') * 10 + (v[3] - '0');
    for (int i = 0; i < 6; i++)
        t->sig[i] = g_ascii_tolower(v[4 + i]);
    t->sig[6] = '\0';
    t->orig = orig;
    t->orig_len = olen;
    return 1;
}

/* ---- keys ------------------------------------------------------------------ */

static void keys_pick_signer(struct batv_keys *keys)
{
    keys->signer = -1;
    for (size_t i = 0; i < keys->n; i++)
        if (keys->signer < 0 || keys->k[i].created >= keys->k[keys->signer].created)
            keys->signer = (int)i;
}

static void keys_put(struct batv_keys *keys, const struct batv_key *k)
{
    for (size_t i = 0; i < keys->n; i++)
        if (keys->k[i].num == k->num) {
            keys->k[i] = *k;
            return;
        }
    keys->k[keys->n++] = *k; /* at most 10 numbers: never overflows */
}

int batv_keys_parse(const char *text, size_t len, struct batv_keys *keys, struct ad_err *err)
{
    memset(keys, 0, sizeof *keys);
    keys->signer = -1;
    size_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *l = text + pos;
        const char *nl = memchr(l, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - l) : len - pos;
        pos += n + 1;
        lineno++;
        while (n && (l[n - 1] == '\r' || l[n - 1] == ' ' || l[n - 1] == '\t'))
            n--;
        while (n && (*l == ' ' || *l == '\t')) {
            l++;
            n--;
        }
        if (!n || *l == '#')
            continue;
        /* NUM HEX64 CREATED */
        char buf[128];
        if (n >= sizeof buf)
            return ad_err_set(err, AD_ERR_PARSE, "BATV key file line %zu: too long", lineno);
        memcpy(buf, l, n);
        buf[n] = '\0';
        char **f = g_strsplit_set(buf, " \t", -1);
        char *w[3] = { 0 };
        size_t nw = 0;
        for (char **p = f; *p; p++)
            if (**p) {
                if (nw == 3) {
                    nw = 4;
                    break;
                }
                w[nw++] = *p;
            }
        struct batv_key k = { 0 };
        bool ok = nw == 3 && strlen(w[0]) == 1 && g_ascii_isdigit(w[0][0])
                  && strlen(w[1]) == 2 * BATV_KEY_BYTES;
        size_t got = 0;
        if (ok) {
            k.num = w[0][0] - '0';
            ok = sodium_hex2bin(k.key, sizeof k.key, w[1], strlen(w[1]), NULL, &got, NULL) == 0
                 && got == BATV_KEY_BYTES;
        }
        if (ok) {
            char *end = NULL;
            errno = 0;
            long long c = strtoll(w[2], &end, 10);
            ok = !errno && end != w[2] && !*end && c >= 0;
            k.created = c;
        }
        g_strfreev(f);
        if (!ok) {
            sodium_memzero(&k, sizeof k);
            sodium_memzero(buf, sizeof buf);
            return ad_err_set(err, AD_ERR_PARSE, "BATV key file line %zu: want \"NUM HEXKEY "
                              "CREATED\" (a digit, 64 hex digits, Unix seconds)", lineno);
        }
        keys_put(keys, &k);
        sodium_memzero(&k, sizeof k);
        sodium_memzero(buf, sizeof buf);
    }
    keys_pick_signer(keys);
    return 0;
}

int batv_keys_load(const char *path, struct batv_keys *keys, struct ad_err *err)
{
    memset(keys, 0, sizeof *keys);
    keys->signer = -1;
    if (!path || !*path)
        return ad_err_set(err, AD_ERR_CONFIG, "[batv] keys_file is not set");
    char *text = NULL;
    gsize len = 0;
    GError *ge = NULL;
    if (!g_file_get_contents(path, &text, &len, &ge)) {
        int rc = ad_err_set(err, AD_ERR_IO, "BATV keys: %s", ge->message);
        g_error_free(ge);
        return rc;
    }
    int rc = batv_keys_parse(text, len, keys, err);
    sodium_memzero(text, len);
    g_free(text);
    if (rc == 0 && keys->n == 0)
        rc = ad_err_set(err, AD_ERR_CONFIG, "BATV keys: %s holds no key (abusedesk batv keygen)",
                        path);
    return rc;
}

int batv_keygen(const char *path, int64_t now, int *num, struct ad_err *err)
{
    if (sodium_init() < 0)
        return ad_err_set(err, AD_ERR_IO, "libsodium could not be initialised");
    struct batv_keys keys;
    struct ad_err lerr = { 0 };
    int rc = batv_keys_load(path, &keys, &lerr);
    if (rc == AD_ERR_PARSE)
        return ad_err_set(err, rc, "%s: %s (not overwritten)", path, lerr.msg);
    if (rc == AD_ERR_IO && g_file_test(path, G_FILE_TEST_EXISTS))
        return ad_err_set(err, rc, "%s", lerr.msg);
    struct batv_key k = { 0 };
    k.num = keys.signer >= 0 ? (keys.k[keys.signer].num + 1) % 10 : 0;
    /* Created after every key there, so that it is the newest even when the
     * clock went back. */
    k.created = now;
    for (size_t i = 0; i < keys.n; i++)
        if (keys.k[i].created >= k.created)
            k.created = keys.k[i].created + 1;
    randombytes_buf(k.key, sizeof k.key);
    keys_put(&keys, &k);
    GString *g = g_string_new("# abusedesk BATV keys: NUM KEY CREATED; the newest signs, every "
                              "key verifies.\n# Secret: keep it readable by the policy server "
                              "and the milter only.\n");
    for (size_t i = 0; i < keys.n; i++) {
        char hex[2 * BATV_KEY_BYTES + 1];
        sodium_bin2hex(hex, sizeof hex, keys.k[i].key, BATV_KEY_BYTES);
        g_string_append_printf(g, "%d %s %lld\n", keys.k[i].num, hex,
                               (long long)keys.k[i].created);
        sodium_memzero(hex, sizeof hex);
    }
    rc = fs_write_durable(path, g->str, g->len, err);
    sodium_memzero(g->str, g->len);
    g_string_free(g, TRUE);
    sodium_memzero(&keys, sizeof keys);
    sodium_memzero(&k.key, sizeof k.key);
    if (rc == 0)
        *num = k.num;
    return rc;
}

/* ---- sign and check ---------------------------------------------------------- */

static int lifetime_days(long long lifetime)
{
    long long d = (lifetime + DAY - 1) / DAY;
    return d < 1 ? 1 : d > 999 ? 999 : (int)d;
}

/* The 3-byte signature of "KDDD" + lower-cased orig, as 6 hex digits. */
static void signature(const struct batv_key *k, int day, const char *orig, size_t len,
                      char out[7])
{
    crypto_auth_hmacsha256_state st;
    char kd[5];
    g_snprintf(kd, sizeof kd, "%d%03d", k->num, day);
    crypto_auth_hmacsha256_init(&st, k->key, sizeof k->key);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)kd, 4);
    unsigned char low[64];
    for (size_t i = 0; i < len;) {
        size_t n = MIN(len - i, sizeof low);
        for (size_t j = 0; j < n; j++)
            low[j] = (unsigned char)g_ascii_tolower(orig[i + j]);
        crypto_auth_hmacsha256_update(&st, low, n);
        i += n;
    }
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, 7, mac, 3);
}

static bool is_srs(const char *addr, size_t len)
{
    return len >= 5 && (!g_ascii_strncasecmp(addr, "SRS0=", 5)
                        || !g_ascii_strncasecmp(addr, "SRS1=", 5)
                        || !g_ascii_strncasecmp(addr, "SRS0+", 5)
                        || !g_ascii_strncasecmp(addr, "SRS0-", 5));
}

int batv_sign(const struct batv_keys *keys, const char *addr, size_t len, int64_t now,
              long long lifetime, char *out, size_t outsz, struct ad_err *err)
{
    if (!keys || keys->signer < 0 || keys->n == 0)
        return ad_err_set(err, AD_ERR_CONFIG, "no BATV key (abusedesk batv keygen)");
    if (!addr || len > BATV_MAX_ADDR - BATV_TAG_LEN)
        return ad_err_set(err, AD_ERR_PARSE, "address missing or too long to tag");
    unbracket(&addr, &len);
    if (!plain_address(addr, len))
        return ad_err_set(err, AD_ERR_PARSE, "not an address of the form local@domain");
    if (len >= 5 && !g_ascii_strncasecmp(addr, "prvs=", 5))
        return ad_err_set(err, AD_ERR_PARSE, "already BATV-tagged");
    if (is_srs(addr, len))
        return ad_err_set(err, AD_ERR_PARSE, "an SRS address: never tagged (BATV comes before "
                          "SRS)");
    if (outsz < len + BATV_TAG_LEN + 1)
        return ad_err_set(err, AD_ERR_LIMIT, "output buffer too small");
    const struct batv_key *k = &keys->k[keys->signer];
    int day = (int)(((now / DAY) + lifetime_days(lifetime)) % 1000);
    char sig[7];
    signature(k, day, addr, len, sig);
    g_snprintf(out, outsz, "prvs=%d%03d%s=%.*s", k->num, day, sig, (int)len, addr);
    return 0;
}

enum batv_status batv_check(const struct batv_keys *keys, const char *addr, size_t len,
                            int64_t now, long long lifetime, char *orig, size_t origsz)
{
    struct batv_tag t;
    int rc = batv_parse(addr, len, &t);
    if (rc == 0)
        return BATV_UNTAGGED;
    if (rc < 0)
        return BATV_MALFORMED;
    const struct batv_key *k = NULL;
    for (size_t i = 0; keys && i < keys->n; i++)
        if (keys->k[i].num == t.key)
            k = &keys->k[i];
    if (!k)
        return BATV_UNKNOWN_KEY;
    char want[7];
    signature(k, t.day, t.orig, t.orig_len, want);
    if (sodium_memcmp(want, t.sig, 6) != 0)
        return BATV_BAD_SIGNATURE;
    /* Days left until the expiry day, modulo 1000: at most the lifetime. */
    int today = (int)((now / DAY) % 1000);
    int left = ((t.day - today) % 1000 + 1000) % 1000;
    if (left > lifetime_days(lifetime))
        return BATV_EXPIRED;
    if (orig && origsz) {
        size_t n = MIN(t.orig_len, origsz - 1);
        for (size_t i = 0; i < n; i++)
            orig[i] = g_ascii_tolower(t.orig[i]);
        orig[n] = '\0';
    }
    return BATV_VALID;
}

/* ---- who and where ------------------------------------------------------------- */

bool batv_domain_listed(char *const *domains, const char *domain, size_t len)
{
    if (!domains || !domain)
        return false;
    while (len && domain[len - 1] == '.')
        len--;
    for (char *const *d = domains; *d; d++)
        if (strlen(*d) == len && !g_ascii_strncasecmp(*d, domain, len))
            return true;
    return false;
}

bool batv_address_listed(char *const *domains, const char *addr)
{
    if (!domains || !domains[0] || !addr)
        return false;
    size_t len = strnlen(addr, BATV_MAX_ADDR + 1);
    if (len > BATV_MAX_ADDR)
        return false;
    unbracket(&addr, &len);
    const char *at = NULL;
    for (size_t i = 0; i < len; i++)
        if (addr[i] == '@')
            at = addr + i;
    if (!at)
        return false;
    return batv_domain_listed(domains, at + 1, (size_t)(addr + len - at - 1));
}

bool batv_bounce_sender(const char *sender)
{
    if (!sender)
        return true;
    size_t len = strnlen(sender, BATV_MAX_ADDR + 1);
    if (len > BATV_MAX_ADDR)
        return false;
    unbracket(&sender, &len);
    if (len == 0)
        return true;
    const char *at = memchr(sender, '@', len);
    size_t local = at ? (size_t)(at - sender) : len;
    return (local == 13 && !g_ascii_strncasecmp(sender, "mailer-daemon", 13))
           || (local == 10 && !g_ascii_strncasecmp(sender, "postmaster", 10));
}

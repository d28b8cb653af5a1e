/*
 * webhook.c: POSTs one JSON event to the provider's provisioning system with
 * libcurl, signed with HMAC-SHA256 (libsodium) over "<unix seconds>.<body>" and
 * carrying the caller's idempotency key; called by the outbox, which retries on
 * AD_ERR_BUSY with the same key. A 2xx answer is success; no connection, a
 * timeout, 408, 429 and 5xx are AD_ERR_BUSY; any other answer (3xx: redirects
 * are not followed, other 4xx) is AD_ERR_PARSE, and so is an event name or key
 * that cannot go into a header line. err->msg names the URL, the status and the
 * first bytes of the answer or libcurl's error text. A timeout_ms <= 0 means
 * 30 s. Nothing returned by webhook_post() is allocated; webhook_signature()
 * returns a g_malloc'd string (a NULL secret counts as ""; NULL only when
 * libsodium cannot start).
 * curl_global_init() runs once, on the first call, from a static flag: that
 * first call must not race with another thread starting libcurl (abusedesk
 * posts from one thread). sodium_init() is itself thread-safe and idempotent.
 */
#include "act/webhook.h"

#include <curl/curl.h>
#include <glib.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/redact.h"

/* How much of the receiver's answer is kept for err->msg. */
#define WEBHOOK_ANSWER_MAX 120

struct webhook_answer {
    char text[WEBHOOK_ANSWER_MAX];
    size_t len;
};

static bool webhook_curl_ready;

/* Starts libcurl once per process; see the file comment for the threading rule. */
static int webhook_global_init(struct ad_err *err)
{
    if (sodium_init() < 0)
        return ad_err_set(err, AD_ERR_BUSY, "webhook: sodium_init failed");
    if (webhook_curl_ready)
        return 0;
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
        return ad_err_set(err, AD_ERR_BUSY, "curl_global_init: %s", curl_easy_strerror(rc));
    webhook_curl_ready = true;
    return 0;
}

/* Keeps the first bytes of the answer, printable, and drops the rest. */
static size_t webhook_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct webhook_answer *a = userdata;
    size_t n = size * nmemb;
    for (size_t i = 0; i < n && a->len + 1 < sizeof(a->text); i++) {
        unsigned char ch = (unsigned char)data[i];
        a->text[a->len++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    a->text[a->len] = '\0';
    return n;
}

/* A value that goes into a header line: printable ASCII, no line break. */
static bool webhook_token_ok(const char *s)
{
    if (!s || !*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p >= 0x7f)
            return false;
    }
    return true;
}

char *webhook_signature(const char *secret, int64_t ts, const char *body)
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char prefix[32];
    const char *key = secret ? secret : "";

    if (sodium_init() < 0)
        return NULL;
    int n = snprintf(prefix, sizeof(prefix), "%" PRId64 ".", ts);
    /* The _init/_update/_final API takes a key of any length (HMAC hashes a
     * long key first), unlike crypto_auth_hmacsha256() with its fixed 32 bytes. */
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)prefix, (unsigned long long)n);
    if (body)
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, strlen(body));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof(st));

    char *out = g_malloc(sizeof("sha256=") - 1 + 2 * sizeof(mac) + 1);
    memcpy(out, "sha256=", sizeof("sha256=") - 1);
    sodium_bin2hex(out + sizeof("sha256=") - 1, 2 * sizeof(mac) + 1, mac, sizeof(mac));
    return out; /* caller frees with g_free() */
}

/* Appends one header line; false when out of memory (the list is freed then). */
static bool webhook_header(struct curl_slist **list, const char *name, const char *value)
{
    char *line = g_strdup_printf("%s: %s", name, value);
    struct curl_slist *l = curl_slist_append(*list, line);
    g_free(line);
    if (!l) {
        curl_slist_free_all(*list);
        *list = NULL;
        return false;
    }
    *list = l;
    return true;
}

int webhook_post(const struct webhook_cfg *c, const char *event, const char *key,
                 const char *body, struct ad_err *err)
{
    int rc = 0;
    CURL *h = NULL;
    struct curl_slist *hdrs = NULL;
    char *sig = NULL, *url_shown = NULL;
    struct webhook_answer answer = { { 0 }, 0 };
    char ebuf[CURL_ERROR_SIZE];
    char ts_text[32];

    ebuf[0] = '\0';
    if (!c || !c->url || !*c->url)
        return ad_err_set(err, AD_ERR_BUSY, "webhook: no URL configured");
    if (!webhook_token_ok(event) || !webhook_token_ok(key))
        return ad_err_set(err, AD_ERR_PARSE, "webhook: event or delivery key is empty or not "
                                             "printable ASCII");
    if ((rc = webhook_global_init(err)) < 0)
        return rc;
    if (!body)
        body = "";

    int64_t ts = (int64_t)time(NULL);
    snprintf(ts_text, sizeof(ts_text), "%" PRId64, ts);
    bool ok = webhook_header(&hdrs, "Content-Type", "application/json") &&
              webhook_header(&hdrs, "X-Abusedesk-Event", event) &&
              webhook_header(&hdrs, "X-Abusedesk-Delivery", key) &&
              webhook_header(&hdrs, "X-Abusedesk-Timestamp", ts_text) &&
              webhook_header(&hdrs, "User-Agent", "abusedesk/" AD_VERSION) &&
              /* No "Expect: 100-continue" round trip for larger bodies. */
              webhook_header(&hdrs, "Expect", "");
    if (ok && c->secret && *c->secret) {
        sig = webhook_signature(c->secret, ts, body);
        ok = sig && webhook_header(&hdrs, "X-Abusedesk-Signature", sig);
    }
    if (ok)
        h = curl_easy_init();
    if (!ok || !h) {
        rc = ad_err_set(err, AD_ERR_NOMEM, "webhook: cannot set up the request");
        goto out;
    }

    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, webhook_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms > 0 ? c->timeout_ms : 30000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);

    CURLcode cc = curl_easy_perform(h);
    /* Messages name the URL without its credentials (they end up in logs,
     * last_error and the audit log). */
    url_shown = redact_text(c->url, NULL);
    if (cc != CURLE_OK) {
        rc = ad_err_set(err, AD_ERR_BUSY, "%s: %s", url_shown,
                        ebuf[0] ? ebuf : curl_easy_strerror(cc));
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status <= 299)
        goto out;
    bool retry = status == 408 || status == 429 || (status >= 500 && status <= 599);
    rc = ad_err_set(err, retry ? AD_ERR_BUSY : AD_ERR_PARSE, "%s: HTTP %ld%s%s", url_shown,
                    status, answer.len ? ": " : "", answer.text);

out:
    g_free(url_shown);
    if (h)
        curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    g_free(sig);
    return rc;
}

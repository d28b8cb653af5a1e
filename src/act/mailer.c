/*
 * mailer.c: hands one finished RFC 5322 message to the smarthost with libcurl's
 * SMTP client, one connection per message; called by the outbox for every
 * notification. Line ends are normalised to CRLF here (bare LF and bare CR become
 * CRLF, an existing CRLF is kept as it is) because libcurl's own CURLOPT_CRLF
 * turns every LF into CRLF and would double the CR of a message that already has
 * CRLF line ends; libcurl then does the dot stuffing (it only sees a dot after a
 * CRLF, another reason to convert first) and sends the final "." line.
 * A failure is classified by the last SMTP reply code: 5xx is permanent
 * (AD_ERR_PARSE), 4xx and every failure without a reply (connection refused,
 * timeout, STARTTLS not offered while required, TLS handshake) are temporary
 * (AD_ERR_BUSY), and so is a refused AUTH even with 535: the credentials are our
 * configuration and will be fixed, the message is fine. An envelope address with
 * control characters or angle brackets is AD_ERR_PARSE without a connection.
 * err->msg then holds the server's last reply line, the reply code and libcurl's
 * error text. A timeout_ms <= 0 means 60 s. Nothing returned is allocated.
 * curl_global_init() runs once, on the first call, from a static flag: that first
 * call must not race with another thread starting libcurl (abusedesk sends from
 * one thread), which is also why this file may keep a process-wide flag despite
 * the no-globals rule: libcurl's state is global.
 */
#include "act/mailer.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "util/redact.h"

/* The longest server reply line kept for err->msg. */
#define MAILER_REPLY_MAX 160

/* The message as it goes on the wire (CRLF line ends) and how far it was read. */
struct mailer_src {
    char *buf; /* owned, freed by mailer_send() */
    size_t len;
    size_t off;
};

/* The last reply line the server sent, seen through CURLOPT_DEBUGFUNCTION. */
struct mailer_reply {
    char line[MAILER_REPLY_MAX];
};

static bool mailer_curl_ready;

/* Starts libcurl once per process; see the file comment for the threading rule. */
static int mailer_global_init(struct ad_err *err)
{
    if (mailer_curl_ready)
        return 0;
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
        return ad_err_set(err, AD_ERR_BUSY, "curl_global_init: %s", curl_easy_strerror(rc));
    mailer_curl_ready = true;
    return 0;
}

/* Copies msg[0..len) with every line end (CRLF, LF or a lone CR) as CRLF into a
 * malloc'd buffer; the caller frees src->buf. Returns NULL only when out of memory. */
static char *mailer_crlf(const char *msg, size_t len, size_t *out_len)
{
    size_t n_extra = 0;
    for (size_t i = 0; i < len; i++) {
        if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
            n_extra++;
        else if (msg[i] == '\r' && (i + 1 == len || msg[i + 1] != '\n'))
            n_extra++;
    }
    char *out = malloc(len + n_extra + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = msg[i];
        if (ch == '\n' && (i == 0 || msg[i - 1] != '\r')) {
            out[o++] = '\r';
            out[o++] = '\n';
        } else if (ch == '\r' && (i + 1 == len || msg[i + 1] != '\n')) {
            out[o++] = '\r';
            out[o++] = '\n';
        } else {
            out[o++] = ch;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

static size_t mailer_read(char *dst, size_t size, size_t nitems, void *userdata)
{
    struct mailer_src *src = userdata;
    size_t room = size * nitems;
    size_t left = src->len - src->off;
    size_t n = left < room ? left : room;
    memcpy(dst, src->buf + src->off, n);
    src->off += n;
    return n;
}

/* Keeps the last failure reply line (4xx or 5xx) the server sent, without
 * its line end, for the error message; libcurl reports SMTP replies as
 * CURLINFO_HEADER_IN. A later "221 Bye" to libcurl's QUIT does not replace it. */
static int mailer_debug(CURL *h, curl_infotype type, char *data, size_t size, void *userdata)
{
    struct mailer_reply *r = userdata;
    if (type != CURLINFO_HEADER_IN)
        return 0;
    /* A chunk may hold several lines of a multi-line reply: keep the last one. */
    while (size > 0 && (data[size - 1] == '\n' || data[size - 1] == '\r'))
        size--;
    if (size == 0)
        return 0;
    size_t start = size;
    while (start > 0 && data[start - 1] != '\n')
        start--;
    size_t n = size - start;
    if (data[start] != '4' && data[start] != '5')
        return 0;
    if (n >= sizeof(r->line))
        n = sizeof(r->line) - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)data[start + i];
        r->line[i] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    r->line[n] = '\0';
    return 0;
}

/* An envelope address goes inside "<>" on a command line: refuse what would
 * break out of it. */
static bool mailer_addr_ok(const char *a)
{
    for (const unsigned char *p = (const unsigned char *)a; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>')
            return false;
    }
    return true;
}

int mailer_send(const struct mailer_cfg *c, const char *from, const char *rcpt, const char *msg,
                size_t len, struct ad_err *err)
{
    int rc = 0;
    CURL *h = NULL;
    struct curl_slist *rcpts = NULL;
    char *env_from = NULL, *env_rcpt = NULL;
    struct mailer_src src = { 0 };
    struct mailer_reply reply = { { 0 } };
    char ebuf[CURL_ERROR_SIZE];

    ebuf[0] = '\0';
    if (!c || !c->smarthost || !*c->smarthost)
        return ad_err_set(err, AD_ERR_BUSY, "mailer: no smarthost configured");
    if (!from || !rcpt || !*rcpt || !mailer_addr_ok(from) || !mailer_addr_ok(rcpt))
        return ad_err_set(err, AD_ERR_PARSE, "mailer: invalid envelope address");
    if ((rc = mailer_global_init(err)) < 0)
        return rc;

    src.buf = mailer_crlf(msg ? msg : "", msg ? len : 0, &src.len);
    size_t n_from = strlen(from) + 3, n_rcpt = strlen(rcpt) + 3;
    env_from = malloc(n_from);
    env_rcpt = malloc(n_rcpt);
    if (!src.buf || !env_from || !env_rcpt) {
        rc = ad_err_set(err, AD_ERR_NOMEM, "mailer: out of memory");
        goto out;
    }
    snprintf(env_from, n_from, "<%s>", from);
    snprintf(env_rcpt, n_rcpt, "<%s>", rcpt);
    rcpts = curl_slist_append(NULL, env_rcpt);
    h = curl_easy_init();
    if (!rcpts || !h) {
        rc = ad_err_set(err, AD_ERR_NOMEM, "mailer: cannot set up libcurl");
        goto out;
    }

    bool auth = c->username && *c->username;
    curl_easy_setopt(h, CURLOPT_URL, c->smarthost);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, env_from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, mailer_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &src);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)src.len);
    curl_easy_setopt(h, CURLOPT_USE_SSL,
                     c->require_tls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->verify_tls ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->verify_tls ? 2L : 0L);
    if (auth) {
        curl_easy_setopt(h, CURLOPT_USERNAME, c->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->password ? c->password : "");
    }
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms > 0 ? c->timeout_ms : 60000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    /* Verbose only so that the debug callback sees the replies; it prints nothing. */
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, mailer_debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &reply);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);

    CURLcode cc = curl_easy_perform(h);
    if (cc == CURLE_OK)
        goto out;

    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    const char *why = ebuf[0] ? ebuf : curl_easy_strerror(cc);
    /* Only a 5xx reply says the message itself will never go through. A failure
     * without one (refused, timed out, TLS) is worth another try, and so is a
     * rejected login: that is our configuration, not the message. */
    bool permanent = code >= 500 && code <= 599 && cc != CURLE_LOGIN_DENIED;
    rc = permanent ? AD_ERR_PARSE : AD_ERR_BUSY;
    char code_text[8];
    snprintf(code_text, sizeof(code_text), "%ld", code);
    /* The smarthost as a URL may hold the login: messages name it without. */
    char *host = redact_text(c->smarthost, NULL);
    if (code >= 400 && code <= 599 && strncmp(reply.line, code_text, 3) == 0)
        ad_err_set(err, rc, "%s: %s (reply %ld; %s)", host, reply.line, code, why);
    else if (code > 0)
        ad_err_set(err, rc, "%s: %s (last reply %ld)", host, why, code);
    else
        ad_err_set(err, rc, "%s: %s", host, why);
    g_free(host);

out:
    if (h)
        curl_easy_cleanup(h);
    curl_slist_free_all(rcpts);
    free(env_from);
    free(env_rcpt);
    free(src.buf);
    return rc;
}

/*
 * server.c: the HTTP side of `abusedesk web` (see web.h). libmicrohttpd
 * parses the request line and headers within a fixed memory limit per
 * connection and enforces the connection limit and idle timeout; this file
 * bounds the body ([web] max_body, 413 beyond), authenticates (API token or
 * session cookie), sets the security headers on every response and hands the
 * request to the API, the metrics or the pages. Requests are answered by
 * libmicrohttpd's one internal thread, which alone uses the store connection.
 * Errors in a request become an HTTP status; only startup failures end the
 * process.
 */
#include "web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "act/lifecycle.h"
#include "incident/incident.h"
#include "store/store.h"
#include "util/textsafe.h"
#include "web/parse.h"

#define URI_MAX 4096            /* longer request targets get 414 */
#define LOGIN_WINDOW 900        /* seconds of the failed-login count */
#define LOGIN_TABLE_MAX 10000   /* client addresses remembered at most */

/* Per connection request state, made by the URI log callback. */
struct conn {
    char *uri;                  /* raw request target, NULL when too long */
    GString *body;
    bool seen, too_large;
};

struct web_fails {
    int64_t since;
    int n;
};

void web_header(struct web_req *r, const char *name, const char *value)
{
    g_ptr_array_add(r->headers, g_strdup(name));
    g_ptr_array_add(r->headers, g_strdup(value));
}

void web_json(struct web_req *r, int status, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6) | JSON_PRESERVE_ORDER);
    r->status = status;
    r->ctype = "application/json";
    g_string_assign(r->out, s ? s : "null");
    g_string_append_c(r->out, '\n');
    free(s);
    json_decref(o);
}

void web_json_error(struct web_req *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (!g_utf8_validate(m, -1, NULL)) {
        g_free(m);
        m = g_strdup("invalid request");
    }
    web_json(r, status, json_pack("{s:s, s:i}", "error", m, "status", status));
    g_free(m);
}

int web_status_for(int code)
{
    switch (code) {
    case AD_ERR_NOTFOUND:
        return 404;
    case AD_ERR_REFUSED:
        return 409;
    case AD_ERR_USAGE:
    case AD_ERR_PARSE:
    case AD_ERR_LIMIT:
        return 422;
    case AD_ERR_BUSY:
        return 503;
    default:
        return 500;
    }
}

bool web_may(const struct web_req *r, const char *what)
{
    if (!strcmp(what, "read"))
        return r->role >= WEB_ROLE_VIEWER;
    if (!strcmp(what, "act"))
        return r->role >= WEB_ROLE_AGENT;
    if (!strcmp(what, "admin"))
        return r->role >= WEB_ROLE_ADMIN;
    return false;
}

int web_act(struct web_req *r, int64_t id, const char *action, const char *reason, bool notify,
            bool force, const char *case_name, struct ad_err *err)
{
    struct lifecycle lc = { r->app->cfg, r->app->st, r->app->log, r->now };
    const char *by = r->user.name;
    int rc = store_begin(r->app->st, err);
    if (rc)
        return rc;
    if (!strcmp(action, "lock"))
        rc = lifecycle_lock(&lc, id, by, reason, notify, err);
    else if (!strcmp(action, "unlock"))
        rc = lifecycle_unlock(&lc, id, by, reason, force, err);
    else if (!strcmp(action, "notify"))
        rc = lifecycle_notify(&lc, id, by, case_name, NULL, err);
    else if (!strcmp(action, "dismiss"))
        rc = lifecycle_dismiss(&lc, id, by, reason, err);
    else if (!strcmp(action, "resolve"))
        rc = lifecycle_resolve(&lc, id, by, reason, err);
    else if (!strcmp(action, "note"))
        rc = lifecycle_note(&lc, id, by, reason, err);
    else
        rc = ad_err_set(err, AD_ERR_NOTFOUND, "no such action");
    if (rc == 0)
        rc = store_commit(r->app->st, err);
    else
        store_rollback(r->app->st);
    return rc;
}

int web_user_add(struct web_req *r, const char *name, const char *role, const char *pw,
                 struct ad_err *err)
{
    if (!web_user_name_ok(name))
        return ad_err_set(err, AD_ERR_USAGE, "a user name is 1 to %d letters, digits and ._@-",
                          STORE_WEB_NAME_MAX);
    if (web_role_parse(role) == WEB_ROLE_NONE)
        return ad_err_set(err, AD_ERR_USAGE, "the role is admin, agent or viewer");
    if (!pw || strlen(pw) < 10)
        return ad_err_set(err, AD_ERR_USAGE, "the password needs at least 10 characters");
    char hash[STORE_WEB_HASH_MAX];
    int rc = web_auth_hash(pw, strlen(pw), hash, err);
    if (rc == 0)
        rc = store_web_user_add(r->app->st, name, role, hash, r->now, NULL, err);
    if (rc == 0) {
        char *d = g_strdup_printf("%s (%s)", name, role);
        rc = incident_audit(r->app->st, 0, 0, r->user.name, "user_add", d, err);
        g_free(d);
    }
    sodium_memzero(hash, sizeof hash);
    return rc;
}

int web_user_del(struct web_req *r, const char *name, struct ad_err *err)
{
    if (!strcmp(name, r->user.name))
        return ad_err_set(err, AD_ERR_REFUSED, "you cannot delete yourself");
    int rc = store_web_user_del(r->app->st, name, err);
    if (rc == 0)
        rc = incident_audit(r->app->st, 0, 0, r->user.name, "user_del", name, err);
    return rc;
}

/* ---- authentication ------------------------------------------------------ */

static void authenticate(struct web_req *r)
{
    struct ad_err err = { 0 };
    char digest[STORE_WEB_DIGEST_HEX];
    const char *a = r->authorization;
    if (a && !g_ascii_strncasecmp(a, "Bearer ", 7)) {
        const char *t = a + 7;
        while (*t == ' ')
            t++;
        if (strlen(t) == strlen(WEB_TOKEN_PREFIX) + 64 && g_str_has_prefix(t, WEB_TOKEN_PREFIX)) {
            web_auth_digest(t, digest);
            if (store_web_token_user(r->app->st, digest, &r->user, &err) == 0)
                r->role = web_role_parse(r->user.role);
        }
        return;
    }
    char secret[WEB_PARSE_MAX_COOKIE];
    if (r->cookie && web_parse_cookie(r->cookie, "ad_session", secret, sizeof secret)
        && strlen(secret) == 64) {
        web_auth_digest(secret, digest);
        if (store_web_session_get(r->app->st, digest, r->now, &r->user, r->csrf, &err) == 0) {
            r->role = web_role_parse(r->user.role);
            g_strlcpy(r->session, secret, sizeof r->session);
        }
        sodium_memzero(secret, sizeof secret);
    }
}

bool web_login_allowed(struct web_req *r)
{
    struct web_fails *f = g_hash_table_lookup(r->app->login_fails, r->client);
    if (!f || r->now - f->since >= LOGIN_WINDOW)
        return true;
    return f->n < r->app->cfg->web_login_attempts;
}

void web_login_failed(struct web_req *r)
{
    GHashTable *t = r->app->login_fails;
    r->app->n_login_failures++;
    if (g_hash_table_size(t) >= LOGIN_TABLE_MAX)
        g_hash_table_remove_all(t);
    struct web_fails *f = g_hash_table_lookup(t, r->client);
    if (!f) {
        f = g_new0(struct web_fails, 1);
        g_hash_table_insert(t, g_strdup(r->client), f);
    }
    if (r->now - f->since >= LOGIN_WINDOW) {
        f->since = r->now;
        f->n = 0;
    }
    f->n++;
}

/* ---- metrics access ------------------------------------------------------ */

static bool client_in(const char *client, char **nets)
{
    struct config_net a;
    if (!config_parse_net(client, &a))
        return false;
    for (char **n = nets; n && *n; n++) {
        struct config_net net;
        if (!config_parse_net(*n, &net))
            continue;
        int bits = net.prefix, i = 0;
        bool ok = true;
        for (; bits >= 8 && ok; bits -= 8, i++)
            ok = a.addr[i] == net.addr[i];
        if (ok && bits > 0) {
            unsigned char mask = (unsigned char)(0xff << (8 - bits));
            ok = (a.addr[i] & mask) == (net.addr[i] & mask);
        }
        if (ok)
            return true;
    }
    return false;
}

/* ---- dispatch ------------------------------------------------------------ */

static void dispatch(struct web_req *r)
{
    if (!strcmp(r->path, "/healthz")) {
        bool ok = store_schema_version(r->app->st) > 0;
        web_json(r, ok ? 200 : 503, json_pack("{s:s, s:i}", "status", ok ? "ok" : "store",
                                              "schema", store_schema_version(r->app->st)));
        return;
    }
    authenticate(r);
    if (!strcmp(r->path, "/metrics")) {
        if (r->role == WEB_ROLE_NONE && !client_in(r->client, r->app->cfg->web_metrics_allow)) {
            r->app->n_denied++;
            web_header(r, "WWW-Authenticate", "Bearer realm=\"abusedesk\"");
            web_json_error(r, 401, "an API token is needed for /metrics from %s", r->client);
            return;
        }
        web_metrics(r);
        return;
    }
    if (g_str_has_prefix(r->path, "/api/")) {
        if (!web_api_route(r))
            web_json_error(r, 404, "no such resource");
        return;
    }
    if (!web_ui_route(r)) {
        r->status = 404;
        r->ctype = "text/plain; charset=utf-8";
        g_string_assign(r->out, "not found\n");
    }
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct conn *cn = g_new0(struct conn, 1);
    cn->body = g_string_new(NULL);
    if (uri && strlen(uri) <= URI_MAX)
        cn->uri = g_strdup(uri);
    return cn;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    struct conn *cn = *con_cls;
    if (cn) {
        g_string_free(cn->body, TRUE);
        g_free(cn->uri);
        g_free(cn);
        *con_cls = NULL;
    }
}

static enum MHD_Result send_plain(struct MHD_Connection *c, unsigned status, const char *text)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static const char csp[] = "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                          "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

static void client_address(struct MHD_Connection *c, struct web_app *app, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    g_strlcpy(out, "unknown", n);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                      (socklen_t)n);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                      (socklen_t)n);
    }
    /* Behind our own proxy on this host: the last address it added. */
    if (app->cfg->web_trust_proxy && (!strcmp(out, "127.0.0.1") || !strcmp(out, "::1"))) {
        const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
        if (xff) {
            const char *last = strrchr(xff, ',');
            last = last ? last + 1 : xff;
            while (*last == ' ')
                last++;
            struct config_net probe;
            if (strlen(last) < n && config_parse_net(last, &probe) && !strchr(last, '/'))
                g_strlcpy(out, last, n);
        }
    }
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    struct web_app *app = cls;
    struct conn *cn = *con_cls;
    if (!cn)
        return MHD_NO;
    if (!cn->seen) {
        cn->seen = true;
        if (!cn->uri)
            return send_plain(c, 414, "request target too long\n");
        if (strcmp(method, "GET") && strcmp(method, "POST") && strcmp(method, "HEAD"))
            return send_plain(c, 405, "method not allowed\n");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && g_ascii_strtoull(cl, NULL, 10) > app->cfg->web_max_body)
            return send_plain(c, 413, "request body too large\n");
        return MHD_YES;
    }
    if (*upload_size) {
        if (cn->body->len + *upload_size > app->cfg->web_max_body)
            cn->too_large = true;
        else
            g_string_append_len(cn->body, upload, (gssize)*upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (cn->too_large)
        return send_plain(c, 413, "request body too large\n");

    app->n_requests++;
    struct web_req r = { 0 };
    r.app = app;
    r.method = method;
    r.now = (int64_t)(g_get_real_time() / G_USEC_PER_SEC);
    r.out = g_string_new(NULL);
    r.headers = g_ptr_array_new_with_free_func(g_free);
    r.status = 200;
    r.ctype = "text/html; charset=utf-8";
    r.body = cn->body;
    const char *q = strchr(cn->uri, '?');
    r.query = g_strdup(q ? q + 1 : "");
    r.path = g_strdup(url && g_utf8_validate(url, -1, NULL) ? url : "/");
    client_address(c, app, r.client, sizeof r.client);
    r.cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Cookie");
    r.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    r.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    r.accept_language = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Language");
    struct ad_err err = { 0 };
    if (web_parse_form(r.query, strlen(r.query), &r.params, &err) != 0) {
        if (g_str_has_prefix(r.path, "/api/"))
            web_json_error(&r, 400, "query string: %s", err.msg);
        else {
            r.status = 400;
            r.ctype = "text/plain; charset=utf-8";
            g_string_printf(r.out, "bad query string: %s\n", err.msg);
        }
    } else {
        dispatch(&r);
    }
    /* Whatever a module left stepped, the next request sees the store anew. */
    store_reset_statements(app->st);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r.out->len, r.out->str, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", r.ctype);
    MHD_add_response_header(resp, "Content-Security-Policy", csp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (app->tls)
        MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
    for (guint i = 0; i + 1 < r.headers->len; i += 2)
        MHD_add_response_header(resp, g_ptr_array_index(r.headers, i),
                                g_ptr_array_index(r.headers, i + 1));
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r.status, resp);
    MHD_destroy_response(resp);
    if (app->log && app->log->min <= LOG_LEVEL_DEBUG) {
        char *p = textsafe_terminal(r.path); /* the client's bytes */
        log_msg(app->log, LOG_LEVEL_DEBUG, "web: %s %s %d %s %s", method, p, r.status, r.client,
                r.role ? r.user.name : "-");
        g_free(p);
    }
    g_string_free(r.out, TRUE);
    g_ptr_array_free(r.headers, TRUE);
    if (r.params)
        g_ptr_array_free(r.params, TRUE);
    g_free(r.query);
    g_free(r.path);
    sodium_memzero(r.session, sizeof r.session);
    return ret;
}

/* ---- startup ------------------------------------------------------------- */

static int listen_addr(const char *listen, struct sockaddr_storage *ss, struct ad_err *err)
{
    char *host = NULL;
    const char *port = NULL;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close && close[1] == ':') {
            host = g_strndup(listen + 1, (gsize)(close - listen - 1));
            port = close + 2;
        }
    } else {
        const char *colon = strrchr(listen, ':');
        if (colon) {
            host = g_strndup(listen, (gsize)(colon - listen));
            port = colon + 1;
        }
    }
    if (!host)
        return ad_err_set(err, AD_ERR_CONFIG, "[web] listen: expected HOST:PORT, got '%s'",
                          listen);
    struct addrinfo hints = { 0 }, *res = NULL;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(*host ? host : NULL, port, &hints, &res);
    g_free(host);
    if (g != 0 || !res)
        return ad_err_set(err, AD_ERR_CONFIG, "[web] listen '%s': %s", listen, gai_strerror(g));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static int drop_privileges(const char *user, struct ad_err *err)
{
    if (!user || !*user || geteuid() != 0)
        return 0;
    struct passwd *pw = getpwnam(user);
    if (!pw)
        return ad_err_set(err, AD_ERR_CONFIG, "[web] user: no such user '%s'", user);
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
        return ad_err_set(err, AD_ERR_IO, "dropping to user %s: %s", user, strerror(errno));
    return 0;
}

static void fails_free(gpointer p)
{
    g_free(p);
}

int web_serve(const struct config *cfg, struct store *st, const struct logger *log,
              struct ad_err *err)
{
    struct web_app app = { cfg, st, log, false, NULL, 0, 0, 0, "" };
    char dummy[WEB_SECRET_HEX];
    web_auth_secret(dummy);
    int rc = web_auth_hash(dummy, strlen(dummy), app.dummy_hash, err);
    if (rc)
        return rc;
    struct sockaddr_storage ss;
    rc = listen_addr(cfg->web_listen ? cfg->web_listen : "127.0.0.1:8025", &ss, err);
    if (rc)
        return rc;
    char *cert = NULL, *key = NULL;
    if (cfg->web_tls_cert && *cfg->web_tls_cert) {
        GError *ge = NULL;
        if (!g_file_get_contents(cfg->web_tls_cert, &cert, NULL, &ge)
            || !g_file_get_contents(cfg->web_tls_key, &key, NULL, &ge)) {
            rc = ad_err_set(err, AD_ERR_CONFIG, "[web] TLS: %s", ge->message);
            g_error_free(ge);
            g_free(cert);
            return rc;
        }
        app.tls = true;
    }
    app.login_fails = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, fails_free);
    /* The signals end the wait below; libmicrohttpd's thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (MHD_is_feature_supported(MHD_FEATURE_POLL))
        flags |= MHD_USE_POLL;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (app.tls)
        flags |= MHD_USE_TLS;
    struct MHD_Daemon *d;
    if (app.tls)
        d = MHD_start_daemon(
            flags, 0, NULL, NULL, handle, &app, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->web_max_connections,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(cfg->web_max_connections / 2 + 1),
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->web_timeout,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
            MHD_OPTION_URI_LOG_CALLBACK, on_uri, &app, MHD_OPTION_NOTIFY_COMPLETED, on_done,
            &app, MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
            MHD_OPTION_END);
    else
        d = MHD_start_daemon(
            flags, 0, NULL, NULL, handle, &app, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->web_max_connections,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(cfg->web_max_connections / 2 + 1),
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->web_timeout,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
            MHD_OPTION_URI_LOG_CALLBACK, on_uri, &app, MHD_OPTION_NOTIFY_COMPLETED, on_done,
            &app, MHD_OPTION_END);
    if (key) {
        sodium_memzero(key, strlen(key));
        g_free(key);
    }
    g_free(cert);
    if (!d) {
        g_hash_table_destroy(app.login_fails);
        return ad_err_set(err, AD_ERR_IO, "cannot listen on %s (in use, or TLS files invalid)",
                          cfg->web_listen);
    }
    if ((rc = drop_privileges(cfg->web_user, err)) != 0) {
        MHD_stop_daemon(d);
        g_hash_table_destroy(app.login_fails);
        return rc;
    }
    if (log)
        log_msg(log, LOG_LEVEL_INFO, "web: listening on %s://%s", app.tls ? "https" : "http",
                cfg->web_listen);
    int sig = 0;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    g_hash_table_destroy(app.login_fails);
    return 0;
}

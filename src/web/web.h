/*
 * web.h: `abusedesk web`, the abuse team's dashboard, REST API (/api/v1) and
 * Prometheus metrics over HTTP (libmicrohttpd), in its own process. It reads
 * and writes only the store: the lifecycle actions it takes queue their mails
 * and hook calls in the outbox, which the delivery worker (abusedesk run)
 * delivers; it never reads the SMTP password or the webhook secret.
 *
 * The modules: server.c (the HTTP server, authentication, responses and
 * routing), api.c (/api/v1 in JSON), ui.c (the HTML pages and SVG charts),
 * metrics.c (/metrics), parse.c (what is parsed by hand), auth.c (roles,
 * hashes, secrets). Requests are served one at a time by one thread with one
 * store connection.
 */
#ifndef AD_WEB_H
#define AD_WEB_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"
#include "store/store_web.h"
#include "util/log.h"
#include "web/auth.h"

/* Runs the server until SIGINT/SIGTERM: binds [web] listen, reads the TLS
 * files, drops to [web] user, serves. 0 on a clean stop; otherwise err. */
int web_serve(const struct config *cfg, struct store *st, const struct logger *log,
              struct ad_err *err);

struct web_app {
    const struct config *cfg;
    struct store *st;
    const struct logger *log;
    bool tls;                   /* cookies get Secure */
    GHashTable *login_fails;    /* client address -> struct web_fails */
    uint64_t n_requests, n_login_failures, n_denied;
    char dummy_hash[STORE_WEB_HASH_MAX];    /* verified for unknown users, so that a
                                             * login's time does not tell who exists */
};

/* One request being served (see server.c). */
struct web_req {
    struct web_app *app;
    const char *method;         /* "GET", "POST", ... */
    char *path;                 /* decoded path without the query */
    char *query;                /* raw query string (after '?'), "" when none */
    GPtrArray *params;          /* parsed query (struct web_kv) */
    GString *body;              /* request body (bounded) */
    char client[64];            /* client address */
    const char *cookie, *authorization, *content_type, *accept_language;
    /* who: filled by authentication */
    struct store_web_user user;
    enum web_role role;         /* WEB_ROLE_NONE: nobody */
    char session[WEB_SECRET_HEX];   /* the session cookie's secret, "" when none */
    char csrf[STORE_WEB_DIGEST_HEX];
    const char *lang;           /* "de" or "en" */
    int64_t now;
    /* the response */
    int status;
    const char *ctype;
    GString *out;
    GPtrArray *headers;         /* "Name: value" strings, g_malloc'd */
};

/* Adds a response header. */
void web_header(struct web_req *r, const char *name, const char *value);

/* A JSON response: takes o (steals the reference). */
void web_json(struct web_req *r, int status, json_t *o);

/* A JSON error {"error": msg, "status": status}. */
void web_json_error(struct web_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The HTTP status for a module's error code (404, 409, 422, 503, 500). */
int web_status_for(int code);

/* Routes: each returns true when it handled the path. */
bool web_api_route(struct web_req *r);
bool web_ui_route(struct web_req *r);
void web_metrics(struct web_req *r);

/* The OpenAPI description of /api/v1 (new reference). */
json_t *web_api_openapi(void);

/* Runs lifecycle action (lock, notify, note, unlock, dismiss, resolve) on
 * incident id as r's user, in one transaction; opts may carry reason,
 * notify, force, case. 0 or AD_ERR_* with err. */
int web_act(struct web_req *r, int64_t id, const char *action, const char *reason, bool notify,
            bool force, const char *case_name, struct ad_err *err);

/* Admin: adds user name with role and password (audited under r's user);
 * AD_ERR_USAGE for a bad name, role or password, AD_ERR_REFUSED when taken. */
int web_user_add(struct web_req *r, const char *name, const char *role, const char *pw,
                 struct ad_err *err);

/* Admin: deletes user name (not oneself: AD_ERR_REFUSED), audited. */
int web_user_del(struct web_req *r, const char *name, struct ad_err *err);

/* The customer id with what it owns and all its incidents (summaries), for
 * GET /api/v1/customers/ID and the customer page. *out: new reference. */
int web_customer_json(struct web_req *r, const char *id, json_t **out, struct ad_err *err);

/* The login limit per client address ([web] login_attempts in 15 minutes):
 * whether r's client may try now, and counting a failed try. */
bool web_login_allowed(struct web_req *r);
void web_login_failed(struct web_req *r);

/* True when r's role may do action ("read", "act", "admin"). */
bool web_may(const struct web_req *r, const char *what);

#endif

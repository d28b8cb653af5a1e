/*
 * api.c: the REST API under /api/v1 (see web.h), JSON in and out, for a
 * Bearer token only (no cookie: a browser cannot be tricked into sending
 * one, so the API needs no CSRF token). 401 without a valid token, 403 when
 * the role does not allow the call, 404/409/422 with {"error": ...}. The
 * incident list and views, the explanation of a report and the actions are
 * the same functions the CLI calls (incident/queue.h, incident.h,
 * act/lifecycle.h), with `by` the token's user.
 */
#include "web.h"

#include <string.h>

#include "directory/directory.h"
#include "incident/incident.h"
#include "incident/queue.h"
#include "store/store_locks.h"
#include "store/store_audit.h"
#include "store/store_rbl.h"
#include "web/parse.h"

static const char *const actions[] = { "lock", "notify", "note", "unlock", "dismiss", "resolve",
                                       NULL };

static bool is_action(const char *a)
{
    for (const char *const *p = actions; *p; p++)
        if (!strcmp(*p, a))
            return true;
    return false;
}

static void store_error(struct web_req *r, const struct ad_err *err)
{
    web_json_error(r, web_status_for(err->code), "%s", err->msg);
}

static void get_incidents(struct web_req *r)
{
    struct incident_filter f;
    incident_filter_init(&f);
    for (guint i = 0; i < r->params->len; i++) {
        const struct web_kv *kv = g_ptr_array_index(r->params, i);
        const char *expect = NULL;
        if (incident_filter_set(&f, kv->key, kv->value, &expect) != 0) {
            if (expect)
                web_json_error(r, 422, "%s: expected %s", kv->key, expect);
            else
                web_json_error(r, 422, "unknown parameter %s (state, customer, account, kind, "
                                       "stage, since, until, sort, limit)", kv->key);
            return;
        }
    }
    GPtrArray *rows = NULL;
    struct ad_err err = { 0 };
    if (incident_list(r->app->cfg, r->app->st, &f, r->now, &rows, &err) != 0) {
        store_error(r, &err);
        return;
    }
    json_t *a = json_array();
    for (guint i = 0; i < rows->len; i++)
        json_array_append_new(a, incident_summary(g_ptr_array_index(rows, i)));
    g_ptr_array_free(rows, TRUE);
    web_json(r, 200, a);
}

static void get_incident(struct web_req *r, int64_t id)
{
    json_t *o = NULL;
    struct ad_err err = { 0 };
    if (incident_json(r->app->cfg, r->app->st, id, r->now, &o, &err) != 0)
        store_error(r, &err);
    else
        web_json(r, 200, o);
}

static void post_action(struct web_req *r, int64_t id, const char *action)
{
    if (!web_may(r, "act")) {
        r->app->n_denied++;
        web_json_error(r, 403, "the role %s may not %s incidents", r->user.role, action);
        return;
    }
    json_t *body = NULL;
    struct ad_err err = { 0 };
    if (web_parse_json(r->body->str, r->body->len, &body, &err) != 0) {
        web_json_error(r, 422, "%s", err.msg);
        return;
    }
    json_t *reason = json_object_get(body, "reason"), *notify = json_object_get(body, "notify");
    json_t *force = json_object_get(body, "force"), *cas = json_object_get(body, "case");
    const char *bad = NULL;
    if (reason && !json_is_string(reason))
        bad = "reason must be a string";
    else if (notify && !json_is_boolean(notify))
        bad = "notify must be true or false";
    else if (force && !json_is_boolean(force))
        bad = "force must be true or false";
    else if (cas && !json_is_string(cas))
        bad = "case must be a string";
    else if (reason && json_string_length(reason) > 4000)
        bad = "reason is longer than 4000 bytes";
    else if (reason && memchr(json_string_value(reason), '\0', json_string_length(reason)))
        bad = "reason contains NUL";
    if (bad) {
        json_decref(body);
        web_json_error(r, 422, "%s", bad);
        return;
    }
    const char *why = reason ? json_string_value(reason) : NULL;
    if (!strcmp(action, "note") && (!why || !*why)) {
        json_decref(body);
        web_json_error(r, 422, "a note needs a reason (the text)");
        return;
    }
    int rc = web_act(r, id, action, why, notify ? json_is_true(notify) : true,
                     force ? json_is_true(force) : false, cas ? json_string_value(cas) : NULL,
                     &err);
    json_decref(body);
    if (rc) {
        store_error(r, &err);
        return;
    }
    json_t *o = NULL;
    if (incident_json(r->app->cfg, r->app->st, id, r->now, &o, &err) != 0) {
        store_error(r, &err);
        return;
    }
    json_t *sm = incident_summary(o);
    json_decref(o);
    web_json(r, 200, json_pack("{s:s, s:s, s:o}", "action", action, "by", r->user.name,
                               "incident", sm));
}

static void get_report(struct web_req *r, int64_t id)
{
    json_t *o = NULL;
    struct ad_err err = { 0 };
    if (incident_explain_json(r->app->cfg, r->app->st, id, r->now, &o, &err) != 0) {
        if (err.code == AD_ERR_NOTFOUND)
            web_json_error(r, 404, "no such report");
        else
            store_error(r, &err);
    } else {
        web_json(r, 200, o);
    }
}

static int lock_row(const struct store_lock_row *l, void *ctx)
{
    char at[32];
    json_array_append_new(
        ctx, json_pack("{s:I, s:o, s:s, s:s?, s:s?, s:s?, s:s?, s:s?}", "id", (json_int_t)l->id,
                       "incident_id", l->incident_id ? json_integer(l->incident_id) : json_null(),
                       "locked_at", incident_iso(l->locked_at, at), "subject_kind",
                       l->subject_kind, "subject", l->subject, "customer_id", l->customer_id,
                       "locked_by", l->locked_by, "reason", l->reason));
    return 0;
}

static void get_locks(struct web_req *r)
{
    json_t *a = json_array();
    struct ad_err err = { 0 };
    if (store_locks_active(r->app->st, web_kv_get(r->params, "account"),
                           web_kv_get(r->params, "customer"), lock_row, a, &err) != 0) {
        json_decref(a);
        store_error(r, &err);
        return;
    }
    web_json(r, 200, a);
}

static void owned(const char *kind, const char *value, void *ctx)
{
    json_t *o = ctx;
    char *k = g_strconcat(kind, "s", NULL);
    json_t *a = json_object_get(o, k);
    if (!a) {
        a = json_array();
        json_object_set_new(o, k, a);
    }
    json_array_append_new(a, json_string(value));
    g_free(k);
}

int web_customer_json(struct web_req *r, const char *id, json_t **out, struct ad_err *err)
{
    struct directory_customer c;
    int rc = directory_customer_get(r->app->st, id, &c, err);
    if (rc)
        return rc;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", c.id, "name", c.name, "contact_email",
                          c.contact_email, "language", c.language);
    json_t *owns = json_object();
    json_object_set_new(o, "owns", owns);
    rc = directory_customer_each(r->app->st, c.id, owned, owns, err);
    struct incident_filter f;
    incident_filter_init(&f);
    f.state = NULL;
    f.customer = c.id;
    GPtrArray *rows = NULL;
    if (rc == 0)
        rc = incident_list(r->app->cfg, r->app->st, &f, r->now, &rows, err);
    if (rc == 0) {
        json_t *a = json_array();
        for (guint i = 0; i < rows->len; i++)
            json_array_append_new(a, incident_summary(g_ptr_array_index(rows, i)));
        json_object_set_new(o, "incidents", a);
        g_ptr_array_free(rows, TRUE);
    }
    directory_customer_clear(&c);
    if (rc) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

static void get_customer(struct web_req *r, const char *id)
{
    json_t *o = NULL;
    struct ad_err err = { 0 };
    if (web_customer_json(r, id, &o, &err) != 0)
        store_error(r, &err);
    else
        web_json(r, 200, o);
}

static void rbl_row(int64_t id, const char *address, const char *zone, int64_t listed_at,
                    void *ctx)
{
    char at[32];
    json_array_append_new(ctx, json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "address",
                                         address, "zone", zone, "since",
                                         incident_iso(listed_at, at)));
}

static void get_rbl(struct web_req *r)
{
    json_t *a = json_array();
    struct ad_err err = { 0 };
    if (store_rbl_open_each(r->app->st, rbl_row, a, &err) != 0) {
        json_decref(a);
        store_error(r, &err);
        return;
    }
    web_json(r, 200, json_pack("{s:o}", "listed", a));
}

/* GET /domains: every domain of the directory with its customer, the latest
 * stored audit (abusedesk domains audit) and the DMARC reports' forgery of the
 * last 30 days. */
static void domain_row(const char *domain, const char *customer_id, void *ctx)
{
    json_array_append_new(ctx, json_pack("{s:s, s:s?}", "domain", domain, "customer_id",
                                         customer_id));
}

static void audit_row(const struct store_audit_run *a, void *ctx)
{
    char at[32];
    json_t *f = json_array();
    char **keys = g_strsplit(a->findings ? a->findings : "", " ", -1);
    for (char **k = keys; *k; k++)
        if (**k)
            json_array_append_new(f, json_string(*k));
    g_strfreev(keys);
    json_object_set_new(ctx, "audit",
                        json_pack("{s:s, s:o, s:s?, s:s?, s:s?}", "checked_at",
                                  incident_iso(a->checked_at, at), "findings", f, "spf", a->spf,
                                  "dmarc", a->dmarc, "mx", a->mx));
}

static void get_domains(struct web_req *r)
{
    json_t *a = json_array();
    struct ad_err err = { 0 };
    int rc = store_audit_domains_each(r->app->st, domain_row, a, &err);
    int64_t since = (int64_t)(g_get_real_time() / G_USEC_PER_SEC) - 30 * 86400;
    size_t i;
    json_t *d;
    json_array_foreach(a, i, d) {
        if (rc)
            break;
        const char *name = json_string_value(json_object_get(d, "domain"));
        json_object_set_new(d, "audit", json_null());
        rc = store_audit_run_last(r->app->st, name, INT64_MAX, audit_row, d, &err);
        int64_t forged = 0, total = 0, n = 0;
        if (rc == 0)
            rc = store_audit_dmarc_sums(r->app->st, name, since, &forged, &total, &n, &err);
        json_object_set_new(d, "dmarc_30d",
                            json_pack("{s:I, s:I, s:I}", "reports", (json_int_t)n, "messages",
                                      (json_int_t)total, "forged", (json_int_t)forged));
    }
    if (rc) {
        json_decref(a);
        store_error(r, &err);
        return;
    }
    web_json(r, 200, json_pack("{s:o}", "domains", a));
}

static int user_row(const struct store_web_user *u, void *ctx)
{
    char c[32], l[32];
    json_array_append_new(ctx, json_pack("{s:s, s:s, s:s, s:s?, s:I}", "name", u->name, "role",
                                         u->role, "created_at", incident_iso(u->created_at, c),
                                         "last_login",
                                         u->last_login ? incident_iso(u->last_login, l) : NULL,
                                         "tokens", (json_int_t)u->n_tokens));
    return 0;
}

static void get_users(struct web_req *r)
{
    if (!web_may(r, "admin")) {
        r->app->n_denied++;
        web_json_error(r, 403, "only an admin sees the users");
        return;
    }
    json_t *a = json_array();
    struct ad_err err = { 0 };
    if (store_web_user_each(r->app->st, user_row, a, &err) != 0) {
        json_decref(a);
        store_error(r, &err);
        return;
    }
    web_json(r, 200, a);
}

static void post_user(struct web_req *r)
{
    if (!web_may(r, "admin")) {
        r->app->n_denied++;
        web_json_error(r, 403, "only an admin manages users");
        return;
    }
    json_t *body = NULL;
    struct ad_err err = { 0 };
    if (web_parse_json(r->body->str, r->body->len, &body, &err) != 0) {
        web_json_error(r, 422, "%s", err.msg);
        return;
    }
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *role = json_string_value(json_object_get(body, "role"));
    const char *pw = json_string_value(json_object_get(body, "password"));
    int rc = web_user_add(r, name ? name : "", role ? role : "", pw, &err);
    if (rc)
        web_json_error(r, web_status_for(rc), "%s", err.msg);
    else
        web_json(r, 201, json_pack("{s:s, s:s}", "name", name, "role", role));
    json_decref(body); /* name and role were borrowed from it */
}

static void post_user_del(struct web_req *r, const char *name)
{
    if (!web_may(r, "admin")) {
        r->app->n_denied++;
        web_json_error(r, 403, "only an admin manages users");
        return;
    }
    struct ad_err err = { 0 };
    if (web_user_del(r, name, &err) != 0)
        web_json_error(r, web_status_for(err.code), "%s", err.msg);
    else
        web_json(r, 200, json_pack("{s:s}", "deleted", name));
}

static void config_row(const char *group, const char *key, const char *value, void *ctx)
{
    json_array_append_new(ctx, json_pack("{s:s, s:s, s:s}", "group", group, "key", key, "value",
                                         g_utf8_validate(value, -1, NULL) ? value : "?"));
}

static void get_config(struct web_req *r)
{
    if (!web_may(r, "admin")) {
        r->app->n_denied++;
        web_json_error(r, 403, "only an admin sees the configuration");
        return;
    }
    json_t *a = json_array();
    config_each_value(r->app->cfg, config_row, a);
    web_json(r, 200, json_pack("{s:s?, s:o}", "file", r->app->cfg->path, "values", a));
}

static void get_me(struct web_req *r)
{
    web_json(r, 200, json_pack("{s:s, s:s}", "name", r->user.name, "role", r->user.role));
}

bool web_api_route(struct web_req *r)
{
    const char *p = r->path;
    if (!g_str_has_prefix(p, "/api/v1/") && strcmp(p, "/api/v1"))
        return false;
    p += strlen("/api/v1");
    if (!strcmp(p, "/openapi.json")) {
        web_json(r, 200, web_api_openapi());
        return true;
    }
    if (r->role == WEB_ROLE_NONE) {
        r->app->n_denied++;
        web_header(r, "WWW-Authenticate", "Bearer realm=\"abusedesk\"");
        web_json_error(r, 401, "authentication needed: Authorization: Bearer TOKEN");
        return true;
    }
    bool get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
    bool post = !strcmp(r->method, "POST");
    gchar **seg = g_strsplit(p + (*p == '/'), "/", 5);
    guint n = g_strv_length(seg);
    int64_t id = 0;
    bool done = true;
    if (n == 1 && !strcmp(seg[0], "incidents") && get)
        get_incidents(r);
    else if (n == 2 && !strcmp(seg[0], "incidents") && get
             && web_parse_id(seg[1], strlen(seg[1]), &id))
        get_incident(r, id);
    else if (n == 3 && !strcmp(seg[0], "incidents") && web_parse_id(seg[1], strlen(seg[1]), &id)
             && is_action(seg[2])) {
        if (post)
            post_action(r, id, seg[2]);
        else
            web_json_error(r, 405, "use POST");
    } else if (n == 2 && !strcmp(seg[0], "reports") && get
               && web_parse_id(seg[1], strlen(seg[1]), &id))
        get_report(r, id);
    else if (n == 1 && !strcmp(seg[0], "locks") && get)
        get_locks(r);
    else if (n == 2 && !strcmp(seg[0], "customers") && get && *seg[1])
        get_customer(r, seg[1]);
    else if (n == 1 && !strcmp(seg[0], "rbl") && get)
        get_rbl(r);
    else if (n == 1 && !strcmp(seg[0], "domains") && get)
        get_domains(r);
    else if (n == 1 && !strcmp(seg[0], "users") && get)
        get_users(r);
    else if (n == 1 && !strcmp(seg[0], "users") && post)
        post_user(r);
    else if (n == 3 && !strcmp(seg[0], "users") && !strcmp(seg[2], "delete") && post)
        post_user_del(r, seg[1]);
    else if (n == 1 && !strcmp(seg[0], "config") && get)
        get_config(r);
    else if (n == 1 && !strcmp(seg[0], "me") && get)
        get_me(r);
    else
        done = false;
    g_strfreev(seg);
    if (!done)
        web_json_error(r, 404, "no such resource or method");
    return true;
}

/* ---- OpenAPI ------------------------------------------------------------- */

static json_t *op(const char *summary, const char *tag, bool body)
{
    json_t *o = json_pack(
        "{s:s, s:[s], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}", "summary", summary, "tags", tag,
        "responses", "200", "description", "OK", "401", "description", "no or invalid token",
        "403", "description", "the role does not allow it", "404", "description", "not found");
    if (body) {
        json_object_set_new(json_object_get(o, "responses"), "409",
                            json_pack("{s:s}", "description", "the state does not allow it"));
        json_object_set_new(json_object_get(o, "responses"), "422",
                            json_pack("{s:s}", "description", "invalid body"));
        json_object_set_new(
            o, "requestBody",
            json_pack("{s:{s:{s:{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}}}}", "content",
                      "application/json", "schema", "type", "object", "properties", "reason",
                      "type", "string", "notify", "type", "boolean", "force", "type", "boolean",
                      "case", "type", "string"));
    }
    return o;
}

static json_t *id_param(const char *name)
{
    return json_pack("[{s:s, s:s, s:b, s:{s:s}}]", "name", name, "in", "path", "required", 1,
                     "schema", "type", name[0] == 'i' ? "integer" : "string");
}

json_t *web_api_openapi(void)
{
    json_t *paths = json_object();
    json_t *list = op("The queue: incidents with the CLI's filters (incidents --json keys)",
                      "incidents", false);
    json_t *params = json_array();
    static const char *const q[] = { "state", "customer", "account", "kind", "stage",
                                     "since", "until", "sort", "limit" };
    for (size_t i = 0; i < G_N_ELEMENTS(q); i++)
        json_array_append_new(params, json_pack("{s:s, s:s, s:{s:s}}", "name", q[i], "in",
                                                "query", "schema", "type", "string"));
    json_object_set_new(list, "parameters", params);
    json_object_set_new(paths, "/incidents", json_pack("{s:o}", "get", list));
    json_t *one = op("One incident (incident show --json keys)", "incidents", false);
    json_object_set_new(one, "parameters", id_param("id"));
    json_object_set_new(paths, "/incidents/{id}", json_pack("{s:o}", "get", one));
    for (const char *const *a = actions; *a; a++) {
        char *path = g_strdup_printf("/incidents/{id}/%s", *a);
        char *sum = g_strdup_printf("%s the incident (role agent or admin; audited under the "
                                    "token's user)", *a);
        json_t *o = op(sum, "actions", true);
        json_object_set_new(o, "parameters", id_param("id"));
        json_object_set_new(paths, path, json_pack("{s:o}", "post", o));
        g_free(path);
        g_free(sum);
    }
    json_t *rep = op("How a report was attributed and scored, term by term", "reports", false);
    json_object_set_new(rep, "parameters", id_param("id"));
    json_object_set_new(paths, "/reports/{id}", json_pack("{s:o}", "get", rep));
    json_object_set_new(paths, "/locks", json_pack("{s:o}", "get", op("Active locks", "locks",
                                                                         false)));
    json_t *cu = op("A customer, what it owns and its incidents", "customers", false);
    json_object_set_new(cu, "parameters", id_param("customer"));
    json_object_set_new(paths, "/customers/{customer}", json_pack("{s:o}", "get", cu));
    json_object_set_new(paths, "/rbl", json_pack("{s:o}", "get", op("Open DNSBL listings of our "
                                                                       "addresses", "reputation",
                                                                       false)));
    json_object_set_new(paths, "/domains",
                        json_pack("{s:o}", "get", op("Customer domains: the latest SPF, DKIM, "
                                                     "DMARC and MX audit and the forgery DMARC "
                                                     "reports show", "reputation", false)));
    json_t *uadd = op("Add a user (admin)", "users", true);
    json_object_set_new(uadd, "requestBody",
                        json_pack("{s:{s:{s:{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}}}}}}", "content",
                                  "application/json", "schema", "type", "object", "properties",
                                  "name", "type", "string", "role", "type", "string", "password",
                                  "type", "string"));
    json_object_set_new(paths, "/users", json_pack("{s:o, s:o}", "get",
                                                   op("Users (admin)", "users", false), "post",
                                                   uadd));
    json_t *udel = op("Delete a user with its tokens and sessions (admin)", "users", false);
    json_object_set_new(udel, "parameters", id_param("name"));
    json_object_set_new(paths, "/users/{name}/delete", json_pack("{s:o}", "post", udel));
    json_object_set_new(paths, "/config", json_pack("{s:o}", "get",
                                                    op("The running configuration, secrets "
                                                       "hidden (admin)", "config", false)));
    json_object_set_new(paths, "/me", json_pack("{s:o}", "get", op("The token's user", "users",
                                                                     false)));
    return json_pack("{s:s, s:{s:s, s:s, s:s}, s:[{s:s}], s:o, s:{s:{s:{s:s, s:s}}}, "
                     "s:[{s:[]}]}",
                     "openapi", "3.0.3", "info", "title", "abusedesk API", "version",
                     AD_VERSION, "description",
                     "The abuse desk's queue, incidents and actions. Authorization: Bearer "
                     "TOKEN (abusedesk token add NAME).",
                     "servers", "url", "/api/v1", "paths", paths, "components",
                     "securitySchemes", "bearer", "type", "http", "scheme", "bearer",
                     "security", "bearer");
}

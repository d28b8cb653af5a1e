/*
 * ui.c: the dashboard's pages, rendered on the server as HTML with inline SVG
 * charts: no script, no CDN, one style sheet served from here, so the pages
 * work offline under a Content-Security-Policy that allows nothing else.
 * Every value from the store (subjects, addresses, evidence, notes) goes
 * through html() before it is written. Pages need a session (a login form
 * sets an HttpOnly, SameSite=Strict cookie, Secure under TLS); every form
 * that changes something carries the session's CSRF token, and a login form
 * a double-submit token. German or English: ?lang=, then the cookie, then
 * Accept-Language.
 */
#include "web.h"

#include <math.h>
#include <sodium.h>
#include <string.h>

#include "incident/incident.h"
#include "incident/queue.h"
#include "policy/policy_server.h"
#include "store/store_locks.h"
#include "store/store_policy.h"
#include "store/store_rbl.h"
#include "web/parse.h"

/* ---- words --------------------------------------------------------------- */

static const char *const words[][3] = {
    { "queue", "Queue", "Warteschlange" },
    { "locks", "Locks", "Sperren" },
    { "charts", "Charts", "Diagramme" },
    { "logout", "Log out", "Abmelden" },
    { "login", "Log in", "Anmelden" },
    { "user", "User", "Benutzer" },
    { "password", "Password", "Passwort" },
    { "bad_login", "Unknown user or wrong password.", "Unbekannter Benutzer oder falsches Passwort." },
    { "too_many", "Too many failed logins from your address; try again later.",
      "Zu viele fehlgeschlagene Anmeldungen von Ihrer Adresse; bitte später erneut versuchen." },
    { "state", "State", "Status" },
    { "stage", "Stage", "Stufe" },
    { "kind", "Kind", "Art" },
    { "sender", "Sender", "Absender" },
    { "customer", "Customer", "Kunde" },
    { "account", "Account", "Konto" },
    { "score", "Score", "Punkte" },
    { "initial_score", "Initial score", "Anfangswert" },
    { "complaints", "Complaints", "Beschwerden" },
    { "subject", "Subject (most frequent)", "Betreff (häufigster)" },
    { "subjects", "Subject lines", "Betreffzeilen" },
    { "providers", "Providers", "Provider" },
    { "opened", "Opened", "Eröffnet" },
    { "filter", "Filter", "Filtern" },
    { "sort", "Sort", "Sortierung" },
    { "all", "all", "alle" },
    { "any", "any", "alle" },
    { "none", "No incidents.", "Keine Vorfälle." },
    { "new", "new", "neu" },
    { "incident", "Incident", "Vorfall" },
    { "facts", "Alert", "Alarm" },
    { "first_last", "First / last complaint", "Erste / letzte Beschwerde" },
    { "manual", "Made by people", "Von Menschen gemeldet" },
    { "repeat", "Repeat offender", "Wiederholungstäter" },
    { "windows", "Sender now", "Absender jetzt" },
    { "evidence", "Evidence", "Belege" },
    { "history", "Earlier incidents of this customer or sender",
      "Frühere Vorfälle dieses Kunden oder Absenders" },
    { "reports", "Reports", "Meldungen" },
    { "explain", "Score of the newest report, term by term",
      "Wertung der neuesten Meldung, Term für Term" },
    { "audit", "Audit log", "Protokoll" },
    { "mails", "Mails", "Mails" },
    { "replies", "Replies", "Antworten" },
    { "actions", "Actions", "Aktionen" },
    { "reason", "Reason", "Begründung" },
    { "notify_customer", "notify the customer", "Kunden benachrichtigen" },
    { "force", "force (no new password yet)", "erzwingen (noch kein neues Passwort)" },
    { "lock", "Lock", "Sperren" },
    { "notify", "Notify", "Benachrichtigen" },
    { "unlock", "Unlock", "Entsperren" },
    { "dismiss", "Dismiss", "Verwerfen" },
    { "resolve", "Resolve", "Erledigt" },
    { "note", "Note", "Notiz" },
    { "read_only", "Your role may only read.", "Ihre Rolle darf nur lesen." },
    { "csrf", "The form was too old or not ours (CSRF token). Reload the page and try again.",
      "Das Formular war veraltet oder fremd (CSRF-Token). Seite neu laden und erneut versuchen." },
    { "done", "Done:", "Erledigt:" },
    { "refused", "Refused:", "Abgelehnt:" },
    { "none_yet", "none", "keine" },
    { "contact", "Contact", "Kontakt" },
    { "language", "Language", "Sprache" },
    { "owns", "Owns", "Besitzt" },
    { "locked_at", "Locked at", "Gesperrt am" },
    { "locked_by", "Locked by", "Gesperrt von" },
    { "per_hour", "Complaints per hour and provider (48 hours)",
      "Beschwerden pro Stunde und Provider (48 Stunden)" },
    { "per_day", "Incidents opened per day (30 days)", "Eröffnete Vorfälle pro Tag (30 Tage)" },
    { "findings", "Policy server findings", "Befunde des Policy-Servers" },
    { "listings", "DNSBL listings of our addresses", "DNSBL-Einträge unserer Adressen" },
    { "policy_live", "Policy servers (since each started; updated every 5 s)",
      "Policy-Server (seit ihrem Start; alle 5 s aktualisiert)" },
    { "server", "Server", "Server" },
    { "requests", "Requests", "Anfragen" },
    { "updated", "Updated", "Aktualisiert" },
    { "report", "Report", "Meldung" },
    { "attribution", "Attribution", "Zuordnung" },
    { "term", "Term", "Term" },
    { "value", "Value", "Wert" },
    { "key", "Configuration key", "Konfigurationsschlüssel" },
    { "why", "Why", "Warum" },
    { "total", "Total", "Gesamt" },
    { "not_found", "Not found.", "Nicht gefunden." },
    { "users", "Users", "Benutzer" },
    { "config", "Configuration", "Konfiguration" },
    { "role", "Role", "Rolle" },
    { "last_login", "Last login", "Letzte Anmeldung" },
    { "tokens", "API tokens", "API-Tokens" },
    { "add_user", "Add user", "Benutzer anlegen" },
    { "delete", "Delete", "Löschen" },
    { "admin_only", "Only an admin may do this.", "Nur ein Admin darf das." },
    { "group", "Group", "Gruppe" },
};

static const char *T(const struct web_req *r, const char *key)
{
    int col = r->lang && !strcmp(r->lang, "de") ? 2 : 1;
    for (size_t i = 0; i < G_N_ELEMENTS(words); i++)
        if (!strcmp(words[i][0], key))
            return words[i][col];
    return key;
}

/* ---- output helpers ------------------------------------------------------ */

/* Appends s escaped for HTML text and attribute values. */
static void html(GString *o, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': g_string_append(o, "&amp;"); break;
        case '<': g_string_append(o, "&lt;"); break;
        case '>': g_string_append(o, "&gt;"); break;
        case '"': g_string_append(o, "&quot;"); break;
        case '\'': g_string_append(o, "&#39;"); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
                g_string_append(o, "\xef\xbf\xbd");
            else
                g_string_append_c(o, *s);
        }
    }
}

static void hs(struct web_req *r, const char *s)
{
    html(r->out, s);
}

static void put(struct web_req *r, const char *s)
{
    g_string_append(r->out, s);
}

static void putf(struct web_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct web_req *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_string_append_vprintf(r->out, fmt, ap);
    va_end(ap);
}

static const char *js(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void cookie(struct web_req *r, const char *name, const char *value, int64_t max_age,
                   bool http_only)
{
    char *c = g_strdup_printf("%s=%s; Path=/; SameSite=Strict; Max-Age=%lld%s%s", name, value,
                              (long long)max_age, http_only ? "; HttpOnly" : "",
                              r->app->tls || r->app->cfg->web_trust_proxy ? "; Secure" : "");
    web_header(r, "Set-Cookie", c);
    g_free(c);
}

static void redirect(struct web_req *r, const char *to)
{
    r->status = 303;
    web_header(r, "Location", to);
    g_string_assign(r->out, "");
}

static void pick_lang(struct web_req *r)
{
    const char *q = web_kv_get(r->params, "lang");
    char c[8];
    if (q && (!strcmp(q, "de") || !strcmp(q, "en"))) {
        r->lang = !strcmp(q, "de") ? "de" : "en";
        cookie(r, "ad_lang", r->lang, 365 * 86400LL, false);
    } else if (r->cookie && web_parse_cookie(r->cookie, "ad_lang", c, sizeof c)
               && (!strcmp(c, "de") || !strcmp(c, "en"))) {
        r->lang = !strcmp(c, "de") ? "de" : "en";
    } else {
        r->lang = r->accept_language && !g_ascii_strncasecmp(r->accept_language, "de", 2) ? "de"
                                                                                          : "en";
    }
}

static void head(struct web_req *r, const char *title)
{
    putf(r, "<!doctype html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>", r->lang);
    hs(r, title);
    put(r, " · abusedesk</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head><body>"
           "<header><a class=\"brand\" href=\"/\">abusedesk</a><nav>");
    if (r->role) {
        putf(r, "<a href=\"/\">%s</a><a href=\"/locks\">%s</a><a href=\"/charts\">%s</a>",
             T(r, "queue"), T(r, "locks"), T(r, "charts"));
        if (web_may(r, "admin"))
            putf(r, "<a href=\"/users\">%s</a><a href=\"/config\">%s</a>", T(r, "users"),
                 T(r, "config"));
    }
    put(r, "<a href=\"?lang=de\" hreflang=\"de\">DE</a><a href=\"?lang=en\" hreflang=\"en\">EN</a>");
    if (r->role) {
        put(r, "<span class=\"who\">");
        hs(r, r->user.name);
        putf(r, " (%s)</span><form method=\"post\" action=\"/logout\" class=\"inline\">"
                "<input type=\"hidden\" name=\"csrf\" value=\"%s\"><button>%s</button></form>",
             r->user.role, r->csrf, T(r, "logout"));
    }
    put(r, "</nav></header><main>");
}

static void foot(struct web_req *r)
{
    put(r, "</main></body></html>\n");
}

static void badge(struct web_req *r, const char *cls, const char *v)
{
    putf(r, "<span class=\"badge %s-", cls);
    for (const char *p = v; *p; p++)
        g_string_append_c(r->out, g_ascii_isalnum(*p) || *p == '_' ? *p : '_');
    put(r, "\">");
    hs(r, v);
    put(r, "</span>");
}

static void message_page(struct web_req *r, int status, const char *msg)
{
    g_string_truncate(r->out, 0);
    r->status = status;
    head(r, "abusedesk");
    put(r, "<p class=\"error\">");
    hs(r, msg);
    put(r, "</p>");
    foot(r);
}

/* ---- login --------------------------------------------------------------- */

static void login_form(struct web_req *r, const char *error)
{
    /* The double-submit token of the login form: the one the browser holds
     * when it has one (another tab, a favicon request that came by here must
     * not make the open form stale), else a new one. */
    char tok[WEB_PARSE_MAX_COOKIE];
    if (!r->cookie || !web_parse_cookie(r->cookie, "ad_login", tok, sizeof tok)
        || strlen(tok) != 64 || strspn(tok, "0123456789abcdef") != 64)
        web_auth_secret(tok);
    cookie(r, "ad_login", tok, 3600, true);
    head(r, T(r, "login"));
    putf(r, "<form method=\"post\" action=\"/login\" class=\"login\"><h1>%s</h1>", T(r, "login"));
    if (error) {
        put(r, "<p class=\"error\">");
        hs(r, error);
        put(r, "</p>");
    }
    putf(r, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
            "<label>%s <input name=\"user\" autocomplete=\"username\" required maxlength=\"64\"></label>"
            "<label>%s <input type=\"password\" name=\"password\" autocomplete=\"current-password\" "
            "required maxlength=\"4096\"></label><button>%s</button></form>",
         tok, T(r, "user"), T(r, "password"), T(r, "login"));
    foot(r);
}

static GPtrArray *form(struct web_req *r)
{
    GPtrArray *kv = NULL;
    if (!r->content_type
        || g_ascii_strncasecmp(r->content_type, "application/x-www-form-urlencoded", 33))
        return NULL;
    if (web_parse_form(r->body->str, r->body->len, &kv, NULL) != 0)
        return NULL;
    return kv;
}

static void do_login(struct web_req *r)
{
    GPtrArray *kv = form(r);
    char expect[WEB_PARSE_MAX_COOKIE] = "";
    const char *tok = kv ? web_kv_get(kv, "csrf") : NULL;
    if (!kv || !tok || !r->cookie || !web_parse_cookie(r->cookie, "ad_login", expect, sizeof expect)
        || !web_auth_equal(tok, expect)) {
        if (kv)
            g_ptr_array_free(kv, TRUE);
        r->status = 403;
        login_form(r, T(r, "csrf"));
        return;
    }
    if (!web_login_allowed(r)) {
        g_ptr_array_free(kv, TRUE);
        r->status = 429;
        web_header(r, "Retry-After", "900");
        login_form(r, T(r, "too_many"));
        return;
    }
    const char *name = web_kv_get(kv, "user"), *pw = web_kv_get(kv, "password");
    struct store_web_user u;
    struct ad_err err = { 0 };
    bool known = name && pw && web_user_name_ok(name)
                 && store_web_user_get(r->app->st, name, &u, &err) == 0;
    bool ok = web_auth_verify(known ? u.pwhash : r->app->dummy_hash, pw ? pw : "x",
                              pw ? strlen(pw) : 1)
              && known;
    if (pw)
        sodium_memzero((char *)pw, strlen(pw));
    g_ptr_array_free(kv, TRUE);
    if (!ok) {
        web_login_failed(r);
        r->status = 401;
        login_form(r, T(r, "bad_login"));
        return;
    }
    char secret[WEB_SECRET_HEX], digest[STORE_WEB_DIGEST_HEX], csrf[WEB_SECRET_HEX];
    web_auth_secret(secret);
    web_auth_secret(csrf);
    web_auth_digest(secret, digest);
    store_web_session_purge(r->app->st, r->now, NULL);
    if (store_web_session_add(r->app->st, u.id, digest, csrf, r->now,
                              r->now + r->app->cfg->web_session_lifetime, &err) != 0
        || store_web_user_logged_in(r->app->st, u.id, r->now, &err) != 0) {
        message_page(r, web_status_for(err.code), err.msg);
        return;
    }
    char *detail = g_strdup_printf("login from %s", r->client);
    incident_audit(r->app->st, 0, 0, u.name, "web_login", detail, NULL);
    g_free(detail);
    cookie(r, "ad_session", secret, r->app->cfg->web_session_lifetime, true);
    cookie(r, "ad_login", "", 0, true);
    sodium_memzero(secret, sizeof secret);
    redirect(r, "/");
}

/* The CSRF token of a form r posts, checked against the session's. */
static bool csrf_ok(struct web_req *r, GPtrArray *kv)
{
    const char *t = kv ? web_kv_get(kv, "csrf") : NULL;
    return t && *r->csrf && web_auth_equal(t, r->csrf);
}

/* ---- the queue ----------------------------------------------------------- */

static void select_opt(struct web_req *r, const char *name, const char *cur,
                       const char *const *opts)
{
    putf(r, "<select name=\"%s\">", name);
    for (const char *const *o = opts; *o; o++) {
        putf(r, "<option value=\"%s\"%s>%s</option>", **o ? *o : "",
             cur && !strcmp(cur, *o) ? " selected" : "", **o ? *o : T(r, "any"));
    }
    put(r, "</select>");
}

static void incident_row(struct web_req *r, json_t *o, int64_t seen)
{
    int64_t id = json_integer_value(json_object_get(o, "id"));
    putf(r, "<tr><td><a href=\"/incidents/%lld\">#%lld</a>", (long long)id, (long long)id);
    if (seen && id > seen)
        putf(r, " <span class=\"badge new\">%s</span>", T(r, "new"));
    put(r, "</td><td>");
    badge(r, "state", js(o, "state"));
    put(r, "</td><td>");
    badge(r, "stage", js(o, "stage"));
    put(r, "</td><td>");
    hs(r, js(o, "subject_kind"));
    put(r, "</td><td class=\"sender\">");
    hs(r, js(o, "subject"));
    put(r, "</td><td>");
    const char *cu = js(o, "customer_id");
    if (*cu) {
        char *e = g_uri_escape_string(cu, NULL, FALSE);
        putf(r, "<a href=\"/customers/%s\">", e);
        hs(r, cu);
        put(r, "</a>");
        g_free(e);
    }
    putf(r, "</td><td class=\"num\">%.2f</td><td class=\"num\">%lld</td><td class=\"subj\">",
         json_real_value(json_object_get(o, "score")),
         (long long)json_integer_value(json_object_get(o, "complaints")));
    hs(r, json_string_value(json_array_get(json_object_get(o, "subjects"), 0)));
    put(r, "</td><td>");
    hs(r, js(o, "opened_at"));
    put(r, "</td></tr>");
}

static void incident_table(struct web_req *r, GPtrArray *rows, int64_t seen)
{
    if (!rows->len) {
        putf(r, "<p>%s</p>", T(r, "none"));
        return;
    }
    putf(r, "<div class=\"scroll\"><table class=\"queue\"><thead><tr><th>#</th><th>%s</th>"
            "<th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th>"
            "<th>%s</th></tr></thead><tbody>",
         T(r, "state"), T(r, "stage"), T(r, "kind"), T(r, "sender"), T(r, "customer"),
         T(r, "score"), T(r, "complaints"), T(r, "subject"), T(r, "opened"));
    for (guint i = 0; i < rows->len; i++)
        incident_row(r, g_ptr_array_index(rows, i), seen);
    put(r, "</tbody></table></div>");
}

static void queue_page(struct web_req *r)
{
    static const char *const states[] = { "open", "all", "alerted", "locked",
                                          "customer_notified", "customer_replied", "resolved",
                                          "dismissed", "merged", NULL };
    static const char *const kinds[] = { "", "account", "script", "customer", "ip", "domain",
                                         NULL };
    static const char *const stages[] = { "", "observe", "alert", "lock", NULL };
    static const char *const sorts[] = { "id", "score", "complaints", "opened", NULL };
    struct incident_filter f;
    incident_filter_init(&f);
    const char *err_text = NULL;
    for (guint i = 0; i < r->params->len; i++) {
        const struct web_kv *kv = g_ptr_array_index(r->params, i);
        const char *expect = NULL;
        if (!strcmp(kv->key, "lang") || !*kv->value)
            continue;
        if (incident_filter_set(&f, kv->key, kv->value, &expect) != 0 && expect)
            err_text = expect;
    }
    GPtrArray *rows = NULL;
    struct ad_err err = { 0 };
    if (incident_list(r->app->cfg, r->app->st, &f, r->now, &rows, &err) != 0) {
        message_page(r, web_status_for(err.code), err.msg);
        return;
    }
    char seen_c[24];
    int64_t seen = 0, top = 0;
    if (r->cookie && web_parse_cookie(r->cookie, "ad_seen", seen_c, sizeof seen_c))
        web_parse_id(seen_c, strlen(seen_c), &seen);
    for (guint i = 0; i < rows->len; i++) {
        int64_t id = json_integer_value(json_object_get(g_ptr_array_index(rows, i), "id"));
        top = id > top ? id : top;
    }
    if (top > seen) {
        char v[24];
        g_snprintf(v, sizeof v, "%lld", (long long)top);
        cookie(r, "ad_seen", v, 365 * 86400LL, true);
    }
    head(r, T(r, "queue"));
    putf(r, "<h1>%s</h1>", T(r, "queue"));
    if (err_text) {
        put(r, "<p class=\"error\">");
        hs(r, err_text);
        put(r, "</p>");
    }
    putf(r, "<form method=\"get\" action=\"/\" class=\"filters\"><label>%s ", T(r, "state"));
    select_opt(r, "state", f.state ? f.state : "all", states);
    putf(r, "</label><label>%s ", T(r, "kind"));
    select_opt(r, "kind", f.kind ? f.kind : "", kinds);
    putf(r, "</label><label>%s ", T(r, "stage"));
    select_opt(r, "stage", f.stage ? f.stage : "", stages);
    putf(r, "</label><label>%s <input name=\"customer\" maxlength=\"128\" value=\"",
         T(r, "customer"));
    hs(r, f.customer);
    putf(r, "\"></label><label>%s <input name=\"account\" maxlength=\"256\" value=\"",
         T(r, "account"));
    hs(r, f.account);
    putf(r, "\"></label><label>%s ", T(r, "sort"));
    select_opt(r, "sort", f.sort, sorts);
    putf(r, "</label><button>%s</button></form>", T(r, "filter"));
    incident_table(r, rows, seen);
    g_ptr_array_free(rows, TRUE);
    foot(r);
}

/* ---- one incident -------------------------------------------------------- */

static void kv_row(struct web_req *r, const char *label, const char *value)
{
    putf(r, "<tr><th>%s</th><td>", label);
    hs(r, value);
    put(r, "</td></tr>");
}

static void terms_table(struct web_req *r, json_t *terms)
{
    putf(r, "<div class=\"scroll\"><table class=\"terms\"><thead><tr><th>%s</th><th>%s</th><th>=</th><th>%s</th>"
            "<th>%s</th></tr></thead><tbody>",
         T(r, "term"), T(r, "value"), T(r, "key"), T(r, "why"));
    size_t i;
    json_t *e;
    double run = 0;
    json_array_foreach(terms, i, e)
    {
        double v = json_number_value(json_object_get(e, "value"));
        run = i == 0 ? v : run * v;
        putf(r, "<tr><td>%s", i ? "× " : "");
        hs(r, js(e, "name"));
        putf(r, "</td><td class=\"num\">%.4g</td><td class=\"num\">%.4g</td><td><code>", v, run);
        hs(r, js(e, "key"));
        put(r, "</code></td><td>");
        hs(r, js(e, "why"));
        put(r, "</td></tr>");
    }
    put(r, "</tbody></table></div>");
}

static bool state_in(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(s, *set))
            return true;
    return false;
}

static void action_form(struct web_req *r, int64_t id, const char *action, bool reason_needed,
                        const char *extra)
{
    putf(r, "<form method=\"post\" action=\"/incidents/%lld/%s\" class=\"action\">"
            "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
            "<input name=\"reason\" maxlength=\"4000\" placeholder=\"%s\"%s>%s"
            "<button class=\"act-%s\">%s</button></form>",
         (long long)id, action, r->csrf, T(r, "reason"), reason_needed ? " required" : "",
         extra ? extra : "", action, T(r, action));
}

static void actions_box(struct web_req *r, int64_t id, const char *state)
{
    static const char *const lockable[] = { "open", "alerted", NULL };
    static const char *const locked[] = { "locked", "customer_notified", "customer_replied",
                                          NULL };
    static const char *const renotify[] = { "locked", "customer_notified", NULL };
    static const char *const closed[] = { "resolved", "dismissed", "merged", NULL };
    putf(r, "<section class=\"actions\"><h2>%s</h2>", T(r, "actions"));
    if (!web_may(r, "act")) {
        putf(r, "<p>%s</p></section>", T(r, "read_only"));
        return;
    }
    if (state_in(state, lockable)) {
        char *x = g_strdup_printf("<label><input type=\"checkbox\" name=\"notify\" value=\"1\" "
                                  "checked> %s</label>", T(r, "notify_customer"));
        action_form(r, id, "lock", false, x);
        g_free(x);
        action_form(r, id, "resolve", false, NULL);
    }
    if (state_in(state, renotify))
        action_form(r, id, "notify", false, NULL);
    if (state_in(state, locked)) {
        char *x = g_strdup_printf("<label><input type=\"checkbox\" name=\"force\" value=\"1\"> "
                                  "%s</label>", T(r, "force"));
        action_form(r, id, "unlock", false, x);
        g_free(x);
    }
    if (!state_in(state, closed))
        action_form(r, id, "dismiss", true, NULL);
    action_form(r, id, "note", true, NULL);
    put(r, "</section>");
}

static void incident_page(struct web_req *r, int64_t id, const char *flash, bool flash_bad)
{
    json_t *o = NULL;
    struct ad_err err = { 0 };
    if (incident_json(r->app->cfg, r->app->st, id, r->now, &o, &err) != 0) {
        message_page(r, web_status_for(err.code),
                     err.code == AD_ERR_NOTFOUND ? T(r, "not_found") : err.msg);
        return;
    }
    char title[64];
    g_snprintf(title, sizeof title, "%s #%lld", T(r, "incident"), (long long)id);
    head(r, title);
    put(r, "<h1>");
    hs(r, title);
    put(r, " ");
    badge(r, "state", js(o, "state"));
    badge(r, "stage", js(o, "stage"));
    put(r, "</h1>");
    if (flash) {
        putf(r, "<p class=\"%s\">%s ", flash_bad ? "error" : "ok",
             T(r, flash_bad ? "refused" : "done"));
        hs(r, flash);
        put(r, "</p>");
    }
    put(r, "<div class=\"grid\"><section><h2>");
    put(r, T(r, "facts"));
    put(r, "</h2><table class=\"facts\">");
    char buf[160];
    g_snprintf(buf, sizeof buf, "%s %s", js(o, "subject_kind"), js(o, "subject"));
    kv_row(r, T(r, "sender"), buf);
    json_t *c = json_object_get(o, "customer");
    putf(r, "<tr><th>%s</th><td>", T(r, "customer"));
    if (*js(o, "customer_id")) {
        char *e = g_uri_escape_string(js(o, "customer_id"), NULL, FALSE);
        putf(r, "<a href=\"/customers/%s\">", e);
        hs(r, js(o, "customer_id"));
        put(r, "</a> ");
        g_free(e);
        if (json_is_object(c)) {
            hs(r, js(c, "name"));
            put(r, " &lt;");
            hs(r, js(c, "contact_email"));
            put(r, "&gt;");
        }
    }
    put(r, "</td></tr>");
    if (*js(o, "account"))
        kv_row(r, T(r, "account"), js(o, "account"));
    g_snprintf(buf, sizeof buf, "%.2f", json_real_value(json_object_get(o, "initial_score")));
    kv_row(r, T(r, "initial_score"), buf);
    g_snprintf(buf, sizeof buf, "%.2f", json_real_value(json_object_get(o, "score")));
    kv_row(r, T(r, "score"), buf);
    g_snprintf(buf, sizeof buf, "%lld",
               (long long)json_integer_value(json_object_get(o, "complaints")));
    kv_row(r, T(r, "complaints"), buf);
    json_t *ms = json_object_get(o, "manual_share");
    if (json_is_real(ms)) {
        g_snprintf(buf, sizeof buf, "%.0f%%", 100.0 * json_real_value(ms));
        kv_row(r, T(r, "manual"), buf);
    }
    g_snprintf(buf, sizeof buf, "%s / %s", js(o, "first_seen"), js(o, "last_seen"));
    kv_row(r, T(r, "first_last"), buf);
    kv_row(r, T(r, "repeat"), json_is_true(json_object_get(o, "repeat_offender")) ? "✔" : "–");
    GString *w = g_string_new(NULL);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(o, "windows"), i, e)
        g_string_append_printf(w, "%s: %.2f (%lld)  ", js(e, "window"),
                               json_real_value(json_object_get(e, "score")),
                               (long long)json_integer_value(json_object_get(e, "complaints")));
    kv_row(r, T(r, "windows"), w->str);
    g_string_free(w, TRUE);
    put(r, "</table></section>");
    actions_box(r, id, js(o, "state"));
    put(r, "</div>");

    putf(r, "<div class=\"grid\"><section><h2>%s</h2><ul>", T(r, "subjects"));
    json_array_foreach(json_object_get(o, "subject_counts"), i, e)
    {
        putf(r, "<li><span class=\"count\">%lld×</span> ",
             (long long)json_integer_value(json_object_get(e, "count")));
        hs(r, js(e, "value"));
        put(r, "</li>");
        if (i >= 49)
            break;
    }
    putf(r, "</ul></section><section><h2>%s</h2><ul>", T(r, "providers"));
    json_array_foreach(json_object_get(o, "provider_counts"), i, e)
    {
        put(r, "<li>");
        hs(r, js(e, "value"));
        putf(r, " <span class=\"count\">(%lld)</span></li>",
             (long long)json_integer_value(json_object_get(e, "count")));
    }
    put(r, "</ul></section></div>");

    putf(r, "<section><h2>%s</h2><ul class=\"evidence\">", T(r, "evidence"));
    json_array_foreach(json_object_get(o, "evidence"), i, e)
    {
        put(r, "<li><code>");
        hs(r, js(e, "source"));
        put(r, "</code> ");
        hs(r, js(e, "said"));
        put(r, "</li>");
    }
    put(r, "</ul></section>");

    putf(r, "<section><h2>%s</h2><ul>", T(r, "history"));
    if (!json_array_size(json_object_get(o, "history_incidents")))
        putf(r, "<li>%s</li>", T(r, "none_yet"));
    json_array_foreach(json_object_get(o, "history_incidents"), i, e)
    {
        long long hid = (long long)json_integer_value(json_object_get(e, "id"));
        putf(r, "<li><a href=\"/incidents/%lld\">#%lld</a> ", hid, hid);
        hs(r, js(e, "subject_kind"));
        put(r, " ");
        hs(r, js(e, "subject"));
        put(r, ", ");
        hs(r, js(e, "state"));
        put(r, ", ");
        hs(r, js(e, "opened_at"));
        put(r, "</li>");
    }
    put(r, "</ul></section>");

    /* The newest report's score, term by term; every report links to its own. */
    json_t *reps = json_object_get(o, "reports");
    size_t nrep = json_array_size(reps);
    if (nrep) {
        int64_t rid = json_integer_value(json_object_get(json_array_get(reps, nrep - 1),
                                                         "report_id"));
        json_t *x = NULL;
        if (incident_explain_json(r->app->cfg, r->app->st, rid, r->now, &x, &err) == 0
            && json_is_object(json_object_get(x, "score"))) {
            putf(r, "<section><h2>%s (<a href=\"/reports/%lld\">#%lld</a>)</h2>",
                 T(r, "explain"), (long long)rid, (long long)rid);
            terms_table(r, json_object_get(json_object_get(x, "score"), "terms"));
            put(r, "</section>");
        }
        json_decref(x);
    }
    putf(r, "<section><h2>%s</h2><div class=\"scroll\"><table><tbody>", T(r, "reports"));
    json_array_foreach(reps, i, e)
    {
        long long rid = (long long)json_integer_value(json_object_get(e, "report_id"));
        putf(r, "<tr><td><a href=\"/reports/%lld\">#%lld</a></td><td>", rid, rid);
        hs(r, js(e, "at"));
        putf(r, "</td><td class=\"num\">%.2f</td><td>",
             json_real_value(json_object_get(e, "score")));
        hs(r, js(e, "provider"));
        put(r, "</td><td class=\"subj\">");
        hs(r, js(e, "subject"));
        put(r, "</td></tr>");
    }
    put(r, "</tbody></table></div></section>");

    if (json_array_size(json_object_get(o, "replies"))) {
        putf(r, "<section><h2>%s</h2><ul>", T(r, "replies"));
        json_array_foreach(json_object_get(o, "replies"), i, e)
        {
            put(r, "<li>");
            hs(r, js(e, "at"));
            put(r, " ");
            badge(r, "verdict", js(e, "verdict"));
            put(r, " ");
            hs(r, js(e, "from"));
            put(r, ": ");
            hs(r, js(e, "subject"));
            put(r, "</li>");
        }
        put(r, "</ul></section>");
    }
    putf(r, "<section><h2>%s</h2><ul>", T(r, "mails"));
    if (!json_array_size(json_object_get(o, "notices")))
        putf(r, "<li>%s</li>", T(r, "none_yet"));
    json_array_foreach(json_object_get(o, "notices"), i, e)
    {
        put(r, "<li>");
        hs(r, js(e, "to_kind"));
        put(r, " ");
        hs(r, js(e, "template"));
        put(r, " ");
        badge(r, "mail", js(e, "status"));
        put(r, " ");
        hs(r, js(e, "rcpt"));
        put(r, "</li>");
    }
    put(r, "</ul></section>");

    putf(r, "<section><h2>%s</h2><div class=\"scroll\"><table class=\"audit\"><tbody>",
         T(r, "audit"));
    json_array_foreach(json_object_get(o, "audit"), i, e)
    {
        put(r, "<tr><td>");
        hs(r, js(e, "at"));
        put(r, "</td><td>");
        hs(r, js(e, "actor"));
        put(r, "</td><td>");
        hs(r, js(e, "action"));
        put(r, "</td><td>");
        hs(r, js(e, "detail"));
        put(r, "</td></tr>");
    }
    put(r, "</tbody></table></div></section>");
    json_decref(o);
    foot(r);
}

static void incident_post(struct web_req *r, int64_t id, const char *action)
{
    GPtrArray *kv = form(r);
    if (!csrf_ok(r, kv)) {
        if (kv)
            g_ptr_array_free(kv, TRUE);
        r->app->n_denied++;
        message_page(r, 403, T(r, "csrf"));
        return;
    }
    if (!web_may(r, "act")) {
        g_ptr_array_free(kv, TRUE);
        r->app->n_denied++;
        message_page(r, 403, T(r, "read_only"));
        return;
    }
    const char *reason = web_kv_get(kv, "reason");
    if (reason && !*reason)
        reason = NULL;
    bool notify = web_kv_get(kv, "notify") != NULL || strcmp(action, "lock") != 0;
    bool force = web_kv_get(kv, "force") != NULL;
    struct ad_err err = { 0 };
    int rc = (!strcmp(action, "note") && !reason)
                 ? ad_err_set(&err, AD_ERR_USAGE, "a note needs a text")
                 : web_act(r, id, action, reason, notify, force, NULL, &err);
    g_ptr_array_free(kv, TRUE);
    if (rc) {
        r->status = web_status_for(rc);
        incident_page(r, id, err.msg, true);
        return;
    }
    char to[64];
    g_snprintf(to, sizeof to, "/incidents/%lld", (long long)id);
    redirect(r, to);
}

/* ---- a report, a customer, the locks ------------------------------------- */

static void report_page(struct web_req *r, int64_t id)
{
    json_t *o = NULL;
    struct ad_err err = { 0 };
    if (incident_explain_json(r->app->cfg, r->app->st, id, r->now, &o, &err) != 0) {
        message_page(r, web_status_for(err.code),
                     err.code == AD_ERR_NOTFOUND ? T(r, "not_found") : err.msg);
        return;
    }
    char title[64];
    g_snprintf(title, sizeof title, "%s #%lld", T(r, "report"), (long long)id);
    head(r, title);
    put(r, "<h1>");
    hs(r, title);
    put(r, "</h1><table class=\"facts\">");
    kv_row(r, T(r, "kind"), js(o, "kind"));
    kv_row(r, "Feedback-Type", js(o, "feedback_type"));
    kv_row(r, "Subject", js(o, "subject"));
    kv_row(r, "From", js(o, "from"));
    kv_row(r, "Received", js(o, "received_at"));
    put(r, "</table>");
    json_t *a = json_object_get(o, "attribution");
    if (json_is_object(a)) {
        putf(r, "<section><h2>%s: ", T(r, "attribution"));
        hs(r, js(a, "status"));
        put(r, " ");
        hs(r, js(a, "subject_kind"));
        put(r, " ");
        hs(r, js(a, "subject"));
        put(r, "</h2><ul class=\"evidence\">");
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(a, "evidence"), i, e)
        {
            put(r, "<li><code>");
            hs(r, js(e, "source"));
            put(r, "</code> ");
            hs(r, js(e, "said"));
            put(r, "</li>");
        }
        put(r, "</ul></section>");
    }
    json_t *s = json_object_get(o, "score");
    if (json_is_object(s)) {
        putf(r, "<section><h2>%s: %.4g</h2>", T(r, "score"),
             json_real_value(json_object_get(s, "total")));
        terms_table(r, json_object_get(s, "terms"));
        put(r, "</section>");
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(o, "incidents"), i, e)
        putf(r, "<p><a href=\"/incidents/%lld\">%s #%lld</a></p>",
             (long long)json_integer_value(e), T(r, "incident"),
             (long long)json_integer_value(e));
    json_decref(o);
    foot(r);
}

static void customer_page(struct web_req *r, const char *id)
{
    json_t *o = NULL;
    struct ad_err err = { 0 };
    if (web_customer_json(r, id, &o, &err) != 0) {
        message_page(r, web_status_for(err.code),
                     err.code == AD_ERR_NOTFOUND ? T(r, "not_found") : err.msg);
        return;
    }
    head(r, js(o, "id"));
    putf(r, "<h1>%s ", T(r, "customer"));
    hs(r, js(o, "id"));
    put(r, "</h1><table class=\"facts\">");
    kv_row(r, "Name", js(o, "name"));
    kv_row(r, T(r, "contact"), js(o, "contact_email"));
    kv_row(r, T(r, "language"), js(o, "language"));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(o, "owns"), k, v)
    {
        GString *l = g_string_new(NULL);
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
            g_string_append_printf(l, "%s%s", i ? ", " : "", json_string_value(e));
        kv_row(r, k, l->str);
        g_string_free(l, TRUE);
    }
    put(r, "</table>");
    GPtrArray *rows = g_ptr_array_new_with_free_func((GDestroyNotify)json_decref);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(o, "incidents"), i, e)
        g_ptr_array_add(rows, json_incref(e));
    putf(r, "<h2>%s</h2>", T(r, "queue"));
    incident_table(r, rows, 0);
    g_ptr_array_free(rows, TRUE);
    json_decref(o);
    foot(r);
}

static int lock_row(const struct store_lock_row *l, void *ctx)
{
    struct web_req *r = ctx;
    char at[32];
    put(r, "<tr><td>");
    if (l->incident_id)
        putf(r, "<a href=\"/incidents/%lld\">#%lld</a>", (long long)l->incident_id,
             (long long)l->incident_id);
    put(r, "</td><td>");
    hs(r, l->subject_kind);
    put(r, "</td><td>");
    hs(r, l->subject);
    put(r, "</td><td>");
    hs(r, l->customer_id);
    put(r, "</td><td>");
    hs(r, incident_iso(l->locked_at, at));
    put(r, "</td><td>");
    hs(r, l->locked_by);
    put(r, "</td><td>");
    hs(r, l->reason);
    put(r, "</td></tr>");
    return 0;
}

static void locks_page(struct web_req *r)
{
    head(r, T(r, "locks"));
    putf(r, "<h1>%s</h1><div class=\"scroll\"><table><thead><tr><th>#</th><th>%s</th>"
            "<th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th></tr></thead><tbody>",
         T(r, "locks"), T(r, "kind"), T(r, "sender"), T(r, "customer"), T(r, "locked_at"),
         T(r, "locked_by"), T(r, "reason"));
    struct ad_err err = { 0 };
    if (store_locks_active(r->app->st, NULL, NULL, lock_row, r, &err) != 0) {
        message_page(r, web_status_for(err.code), err.msg);
        return;
    }
    put(r, "</tbody></table></div>");
    foot(r);
}

/* ---- charts -------------------------------------------------------------- */

struct series {
    GPtrArray *names;           /* provider names, in first-seen order */
    GHashTable *idx;            /* name -> index + 1 */
    int64_t start, step;        /* bucket start (units of step seconds) */
    size_t n_buckets;
    int64_t *v;                 /* n_names x n_buckets, grown as names come */
};

static void series_add(const char *a, const char *b, int64_t n, void *ctx)
{
    struct series *s = ctx;
    const char *name = b ? a : "";
    int64_t bucket = g_ascii_strtoll(b ? b : a, NULL, 10) - s->start;
    if (bucket < 0 || (size_t)bucket >= s->n_buckets)
        return;
    gsize k = GPOINTER_TO_SIZE(g_hash_table_lookup(s->idx, name));
    if (!k) {
        if (s->names->len >= 8)     /* the eight first providers; the rest as "other" */
            name = "other";
        k = GPOINTER_TO_SIZE(g_hash_table_lookup(s->idx, name));
        if (!k) {
            g_ptr_array_add(s->names, g_strdup(name));
            k = s->names->len;
            g_hash_table_insert(s->idx, g_strdup(name), GSIZE_TO_POINTER(k));
            s->v = g_renew(int64_t, s->v, s->names->len * s->n_buckets);
            memset(s->v + (k - 1) * s->n_buckets, 0, s->n_buckets * sizeof(int64_t));
        }
    }
    s->v[(k - 1) * s->n_buckets + (size_t)bucket] += n;
}

/* Stacked bars: one bar per bucket, one colour per series, a legend. */
static void svg_bars(struct web_req *r, const struct series *s, const char *label,
                     const char *unit_fmt)
{
    const int W = 720, H = 220, L = 40, B = 30, T0 = 10;
    int64_t max = 1;
    for (size_t b = 0; b < s->n_buckets; b++) {
        int64_t sum = 0;
        for (guint k = 0; k < s->names->len; k++)
            sum += s->v[k * s->n_buckets + b];
        max = sum > max ? sum : max;
    }
    double bw = (double)(W - L - 10) / (double)s->n_buckets;
    double scale = (double)(H - B - T0) / (double)max;
    putf(r, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", W, H);
    hs(r, label);
    putf(r, "\"><line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", L, H - B, W - 10,
         H - B);
    putf(r, "<text class=\"tick\" x=\"%d\" y=\"%d\">%lld</text>", 4, T0 + 10, (long long)max);
    putf(r, "<text class=\"tick\" x=\"%d\" y=\"%d\">0</text>", 4, H - B);
    for (size_t b = 0; b < s->n_buckets; b++) {
        double y = H - B;
        for (guint k = 0; k < s->names->len; k++) {
            int64_t v = s->v[k * s->n_buckets + b];
            if (!v)
                continue;
            double h = (double)v * scale;
            y -= h;
            putf(r, "<rect class=\"c%u\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
                    "<title>",
                 k % 8, L + (double)b * bw + 1, y, bw > 2 ? bw - 1 : bw, h);
            hs(r, g_ptr_array_index(s->names, k));
            putf(r, ": %lld</title></rect>", (long long)v);
        }
        if (b % (s->n_buckets / 6 ? s->n_buckets / 6 : 1) == 0) {
            GDateTime *dt = g_date_time_new_from_unix_utc((s->start + (int64_t)b) * s->step);
            char *t = dt ? g_date_time_format(dt, unit_fmt) : g_strdup("");
            putf(r, "<text class=\"tick\" x=\"%.1f\" y=\"%d\">%s</text>", L + (double)b * bw,
                 H - 10, t);
            g_free(t);
            if (dt)
                g_date_time_unref(dt);
        }
    }
    put(r, "</svg><ul class=\"legend\">");
    for (guint k = 0; k < s->names->len; k++) {
        putf(r, "<li><span class=\"swatch c%u\"></span>", k % 8);
        hs(r, *(char *)g_ptr_array_index(s->names, k) ? g_ptr_array_index(s->names, k)
                                                        : T(r, "total"));
        put(r, "</li>");
    }
    put(r, "</ul>");
}

static int chart(struct web_req *r, enum store_web_count which, int64_t step, size_t n,
                 const char *title, const char *fmt, struct ad_err *err)
{
    struct series s = { g_ptr_array_new_with_free_func(g_free),
                        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
                        r->now / step - (int64_t)n + 1, step, n, NULL };
    int rc = store_web_counts(r->app->st, which, s.start * step, series_add, &s, err);
    if (rc == 0) {
        put(r, "<section><h2>");
        hs(r, title);
        put(r, "</h2>");
        svg_bars(r, &s, title, fmt);
        put(r, "</section>");
    }
    g_ptr_array_free(s.names, TRUE);
    g_hash_table_destroy(s.idx);
    g_free(s.v);
    return rc;
}

static void count_li(const char *a, const char *b, int64_t n, void *ctx)
{
    struct web_req *r = ctx;
    put(r, "<li>");
    hs(r, a);
    if (b) {
        put(r, " / ");
        hs(r, b);
    }
    putf(r, ": <strong>%lld</strong></li>", (long long)n);
}

static void rbl_li(int64_t id, const char *address, const char *zone, int64_t listed_at,
                   void *ctx)
{
    struct web_req *r = ctx;
    char at[32];
    put(r, "<li>");
    hs(r, address);
    put(r, " @ ");
    hs(r, zone);
    put(r, " — ");
    hs(r, incident_iso(listed_at, at));
    put(r, "</li>");
}

/* The policy servers' own figures (policy_stats): one row per server that
 * reported in the last five minutes, with its answers and the decision time
 * below which half and 99% of its answers fell (the histogram's bound). */
static const char *bucket_bound(const uint64_t *n, size_t nb, json_t *le, double q, char *buf,
                                size_t len)
{
    uint64_t total = 0, cum = 0;
    for (size_t i = 0; i <= nb; i++)
        total += n[i];
    if (!total)
        return "–";
    for (size_t i = 0; i < nb; i++) {
        cum += n[i];
        if ((double)cum >= q * (double)total) {
            g_snprintf(buf, len, "≤ %.2f ms", (double)json_integer_value(json_array_get(le, i)) / 1000);
            return buf;
        }
    }
    g_snprintf(buf, len, "> %.0f ms", (double)json_integer_value(json_array_get(le, nb - 1)) / 1000);
    return buf;
}

static void policy_tr(const char *server, int64_t at, const char *text, void *ctx)
{
    struct web_req *r = ctx;
    json_t *o = json_loads(text ? text : "", 0, NULL);
    json_t *ans = json_object_get(o, "answers");
    json_t *le = json_object_get(json_object_get(o, "latency_us"), "le");
    json_t *n = json_object_get(json_object_get(o, "latency_us"), "n");
    put(r, "<tr><td>");
    hs(r, server);
    putf(r, "</td><td class=\"num\">%llds</td><td class=\"num\">%lld</td>",
         (long long)(r->now - at), (long long)json_integer_value(json_object_get(o, "requests")));
    static const char *const acts[] = { "dunno", "reject", "defer", "hold" };
    for (size_t i = 0; i < G_N_ELEMENTS(acts); i++)
        putf(r, "<td class=\"num\">%lld</td>",
             (long long)json_integer_value(json_object_get(ans, acts[i])));
    size_t nb = json_array_size(le);
    uint64_t cnt[33] = { 0 };
    if (nb > 0 && nb < 32 && json_array_size(n) == nb + 1) {
        for (size_t i = 0; i <= nb; i++)
            cnt[i] = (uint64_t)json_integer_value(json_array_get(n, i));
        char a[32], b[32];
        putf(r, "<td>%s</td><td>%s</td>", bucket_bound(cnt, nb, le, 0.5, a, sizeof a),
             bucket_bound(cnt, nb, le, 0.99, b, sizeof b));
    } else {
        put(r, "<td>–</td><td>–</td>");
    }
    put(r, "</tr>");
    json_decref(o);
}

static int policy_section(struct web_req *r, struct ad_err *err)
{
    putf(r, "<section><h2>%s</h2><table><tr><th>%s</th><th>%s</th><th>%s</th><th>DUNNO</th>"
            "<th>REJECT</th><th>DEFER</th><th>HOLD</th><th>p50</th><th>p99</th></tr>",
         T(r, "policy_live"), T(r, "server"), T(r, "updated"), T(r, "requests"));
    gsize before = r->out->len;
    int rc = store_policy_stats_each(r->app->st, r->now - 300, policy_tr, r, err);
    if (rc == 0 && r->out->len == before)
        putf(r, "<tr><td colspan=\"9\">%s</td></tr>", T(r, "none_yet"));
    put(r, "</table></section>");
    return rc;
}

static void charts_page(struct web_req *r)
{
    head(r, T(r, "charts"));
    putf(r, "<h1>%s</h1>", T(r, "charts"));
    struct ad_err err = { 0 };
    int rc = chart(r, STORE_WEB_COMPLAINTS_HOURLY, 3600, 48, T(r, "per_hour"), "%d.%m. %H:00",
                   &err);
    if (rc == 0)
        rc = chart(r, STORE_WEB_INCIDENTS_DAILY, 86400, 30, T(r, "per_day"), "%d.%m.", &err);
    if (rc == 0) {
        putf(r, "<div class=\"grid\"><section><h2>%s</h2><ul>", T(r, "findings"));
        gsize before = r->out->len;
        rc = store_web_counts(r->app->st, STORE_WEB_POLICY, 0, count_li, r, &err);
        if (r->out->len == before)
            putf(r, "<li>%s</li>", T(r, "none_yet"));
        putf(r, "</ul></section><section><h2>%s</h2><ul>", T(r, "listings"));
        before = r->out->len;
        if (rc == 0)
            rc = store_rbl_open_each(r->app->st, rbl_li, r, &err);
        if (r->out->len == before)
            putf(r, "<li>%s</li>", T(r, "none_yet"));
        put(r, "</ul></section></div>");
    }
    if (rc == 0)
        rc = policy_section(r, &err);
    if (rc) {
        message_page(r, web_status_for(err.code), err.msg);
        return;
    }
    foot(r);
}

/* ---- admin: users and configuration -------------------------------------- */

static int user_tr(const struct store_web_user *u, void *ctx)
{
    struct web_req *r = ctx;
    char c[32];
    put(r, "<tr><td>");
    hs(r, u->name);
    put(r, "</td><td>");
    badge(r, "role", u->role);
    put(r, "</td><td>");
    hs(r, u->last_login ? incident_iso(u->last_login, c) : "–");
    putf(r, "</td><td class=\"num\">%lld</td><td>", (long long)u->n_tokens);
    if (strcmp(u->name, r->user.name)) {
        char *e = g_uri_escape_string(u->name, NULL, FALSE);
        putf(r, "<form method=\"post\" action=\"/users/%s/delete\" class=\"inline\">"
                "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
                "<button class=\"act-dismiss\">%s</button></form>",
             e, r->csrf, T(r, "delete"));
        g_free(e);
    }
    put(r, "</td></tr>");
    return 0;
}

static void users_page(struct web_req *r, const char *flash, bool bad)
{
    head(r, T(r, "users"));
    putf(r, "<h1>%s</h1>", T(r, "users"));
    if (flash) {
        putf(r, "<p class=\"%s\">", bad ? "error" : "ok");
        hs(r, flash);
        put(r, "</p>");
    }
    putf(r, "<div class=\"scroll\"><table><thead><tr><th>%s</th><th>%s</th><th>%s</th>"
            "<th>%s</th><th></th></tr></thead><tbody>",
         T(r, "user"), T(r, "role"), T(r, "last_login"), T(r, "tokens"));
    struct ad_err err = { 0 };
    if (store_web_user_each(r->app->st, user_tr, r, &err) != 0) {
        message_page(r, web_status_for(err.code), err.msg);
        return;
    }
    putf(r, "</tbody></table></div><section><h2>%s</h2>"
            "<form method=\"post\" action=\"/users\" class=\"action\">"
            "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
            "<input name=\"name\" required maxlength=\"64\" placeholder=\"%s\" "
            "autocomplete=\"off\">"
            "<select name=\"role\"><option>viewer</option><option>agent</option>"
            "<option>admin</option></select>"
            "<input type=\"password\" name=\"password\" required minlength=\"10\" "
            "maxlength=\"4096\" placeholder=\"%s\" autocomplete=\"new-password\">"
            "<button>%s</button></form></section>",
         T(r, "add_user"), r->csrf, T(r, "user"), T(r, "password"), T(r, "add_user"));
    foot(r);
}

static void config_tr(const char *group, const char *key, const char *value, void *ctx)
{
    struct web_req *r = ctx;
    put(r, "<tr><td>");
    hs(r, group);
    put(r, "</td><td><code>");
    hs(r, key);
    put(r, "</code></td><td><code>");
    hs(r, value);
    put(r, "</code></td></tr>");
}

static void config_page(struct web_req *r)
{
    head(r, T(r, "config"));
    putf(r, "<h1>%s</h1><p><code>", T(r, "config"));
    hs(r, r->app->cfg->path ? r->app->cfg->path : "(built-in defaults)");
    putf(r, "</code></p><div class=\"scroll\"><table><thead><tr><th>%s</th><th>%s</th>"
            "<th>%s</th></tr></thead><tbody>",
         T(r, "group"), T(r, "key"), T(r, "value"));
    config_each_value(r->app->cfg, config_tr, r);
    put(r, "</tbody></table></div>");
    foot(r);
}

static void users_post(struct web_req *r, const char *del)
{
    GPtrArray *kv = form(r);
    if (!csrf_ok(r, kv)) {
        if (kv)
            g_ptr_array_free(kv, TRUE);
        r->app->n_denied++;
        message_page(r, 403, T(r, "csrf"));
        return;
    }
    struct ad_err err = { 0 };
    int rc;
    if (del) {
        rc = web_user_del(r, del, &err);
    } else {
        const char *pw = web_kv_get(kv, "password");
        rc = web_user_add(r, web_kv_get(kv, "name") ? web_kv_get(kv, "name") : "",
                          web_kv_get(kv, "role") ? web_kv_get(kv, "role") : "", pw, &err);
        if (pw)
            sodium_memzero((char *)pw, strlen(pw));
    }
    g_ptr_array_free(kv, TRUE);
    if (rc) {
        r->status = web_status_for(rc);
        users_page(r, err.msg, true);
        return;
    }
    redirect(r, "/users");
}

/* ---- style --------------------------------------------------------------- */

static const char css[] =
    ":root{--fg:#1b1f24;--bg:#f6f7f9;--card:#fff;--line:#d8dde3;--accent:#1f5fbf}"
    "*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,sans-serif;color:var(--fg);"
    "background:var(--bg)}header{display:flex;flex-wrap:wrap;gap:.5em 1em;align-items:center;"
    "padding:.6em 1em;background:#16325c;color:#fff}header a{color:#fff;text-decoration:none;"
    "margin-right:.8em}.brand{font-weight:700}nav{display:flex;flex-wrap:wrap;align-items:center;"
    "gap:.3em}.who{margin:0 .6em;opacity:.85}main{padding:1em;max-width:1400px;margin:auto}"
    "h1{font-size:1.4em}h2{font-size:1.1em;margin:.2em 0 .5em}section{background:var(--card);"
    "border:1px solid var(--line);border-radius:6px;padding:.8em 1em;margin:0 0 1em}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:1em}"
    "table{border-collapse:collapse;width:100%;background:var(--card)}th,td{text-align:left;"
    "padding:.35em .5em;border-bottom:1px solid var(--line);vertical-align:top;"
    "overflow-wrap:anywhere}"
    ".num{text-align:right;font-variant-numeric:tabular-nums}.scroll{overflow-x:auto}"
    ".subj,.sender{max-width:28em;overflow-wrap:anywhere}.badge{display:inline-block;"
    "padding:.05em .45em;border-radius:1em;font-size:.8em;background:#e4e8ee;margin-right:.3em}"
    ".state-open,.state-alerted{background:#ffe1a8}.state-locked{background:#f6b3b3}"
    ".state-customer_notified,.state-customer_replied{background:#cfe0ff}"
    ".state-resolved{background:#c8efcf}.state-dismissed,.state-merged{background:#e0e0e0}"
    ".stage-lock{background:#f08a8a}.stage-alert{background:#ffd27a}.stage-observe{"
    "background:#dde6f0}.new{background:#1f5fbf;color:#fff}.error{background:#fde2e2;"
    "border:1px solid #e99;padding:.5em 1em;border-radius:4px}.ok{background:#e0f5e4;"
    "border:1px solid #9c9;padding:.5em 1em;border-radius:4px}form.filters{display:flex;"
    "flex-wrap:wrap;gap:.5em 1em;align-items:end;margin-bottom:1em}form.filters label{"
    "display:flex;flex-direction:column;font-size:.85em}form.action{display:flex;flex-wrap:wrap;"
    "gap:.4em;align-items:center;margin:.4em 0}form.action input[name=reason]{flex:1;"
    "min-width:10em}form.inline{display:inline}input,select,button{font:inherit;padding:.3em .5em}"
    "button{background:var(--accent);color:#fff;border:0;border-radius:4px;cursor:pointer}"
    ".act-lock,.act-dismiss{background:#b3261e}.act-unlock,.act-resolve{background:#2e7d32}"
    "form.login{max-width:22em;margin:3em auto;display:flex;flex-direction:column;gap:.8em;"
    "background:var(--card);padding:1.5em;border:1px solid var(--line);border-radius:6px}"
    "form.login label{display:flex;flex-direction:column}code{font-size:.9em;overflow-wrap:anywhere}"
    "svg.chart{width:100%;height:auto;max-height:260px}.axis{stroke:#888}.tick{font-size:10px;"
    "fill:#555}.legend{display:flex;flex-wrap:wrap;gap:.3em 1em;list-style:none;padding:0}"
    ".swatch{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:middle}"
    ".c0{fill:#1f77b4;background:#1f77b4}.c1{fill:#ff7f0e;background:#ff7f0e}.c2{fill:#2ca02c;"
    "background:#2ca02c}.c3{fill:#d62728;background:#d62728}.c4{fill:#9467bd;background:#9467bd}"
    ".c5{fill:#8c564b;background:#8c564b}.c6{fill:#e377c2;background:#e377c2}.c7{fill:#7f7f7f;"
    "background:#7f7f7f}.count{color:#666}"
    "table.audit td:nth-child(-n+3),table.queue td:nth-child(-n+3),table.queue td:last-child{"
    "white-space:nowrap;overflow-wrap:normal}"
    "@media (max-width:640px){main{padding:.5em}th,td{padding:.3em}.subj{max-width:12em}"
    "table.queue td:nth-child(4),table.queue th:nth-child(4),table.queue td:nth-child(10),"
    "table.queue th:nth-child(10){display:none}}\n";

/* ---- routing ------------------------------------------------------------- */

bool web_ui_route(struct web_req *r)
{
    const char *p = r->path;
    bool get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
    bool post = !strcmp(r->method, "POST");
    if (!strcmp(p, "/static/app.css") && get) {
        r->ctype = "text/css; charset=utf-8";
        g_string_assign(r->out, css);
        return true;
    }
    if (!strcmp(p, "/favicon.ico")) {
        r->status = 404;
        r->ctype = "text/plain; charset=utf-8";
        return true;
    }
    pick_lang(r);
    if (!strcmp(p, "/login")) {
        if (post)
            do_login(r);
        else if (r->role && *r->csrf)
            redirect(r, "/");
        else
            login_form(r, NULL);
        return true;
    }
    if (!strcmp(p, "/logout") && post) {
        GPtrArray *kv = form(r);
        if (*r->session && csrf_ok(r, kv)) {
            char digest[STORE_WEB_DIGEST_HEX];
            web_auth_digest(r->session, digest);
            store_web_session_del(r->app->st, digest, NULL);
        }
        if (kv)
            g_ptr_array_free(kv, TRUE);
        cookie(r, "ad_session", "", 0, true);
        redirect(r, "/login");
        return true;
    }
    /* Every other page needs a login session (not an API token: forms need
     * the session's CSRF token). */
    if (r->role == WEB_ROLE_NONE || !*r->csrf) {
        if (get) {
            redirect(r, "/login");
        } else {
            r->role = WEB_ROLE_NONE;
            message_page(r, 401, T(r, "login"));
        }
        return true;
    }
    gchar **seg = g_strsplit(p + 1, "/", 4);
    guint n = g_strv_length(seg);
    int64_t id = 0;
    bool done = true;
    if (!strcmp(p, "/") && get)
        queue_page(r);
    else if (!strcmp(p, "/locks") && get)
        locks_page(r);
    else if (!strcmp(p, "/charts") && get)
        charts_page(r);
    else if (n == 2 && !strcmp(seg[0], "incidents") && get
             && web_parse_id(seg[1], strlen(seg[1]), &id))
        incident_page(r, id, NULL, false);
    else if (n == 3 && !strcmp(seg[0], "incidents") && post
             && web_parse_id(seg[1], strlen(seg[1]), &id)
             && (!strcmp(seg[2], "lock") || !strcmp(seg[2], "notify") || !strcmp(seg[2], "note")
                 || !strcmp(seg[2], "unlock") || !strcmp(seg[2], "dismiss")
                 || !strcmp(seg[2], "resolve")))
        incident_post(r, id, seg[2]);
    else if (n == 2 && !strcmp(seg[0], "reports") && get
             && web_parse_id(seg[1], strlen(seg[1]), &id))
        report_page(r, id);
    else if (n == 2 && !strcmp(seg[0], "customers") && get && *seg[1])
        customer_page(r, seg[1]);
    else if (n >= 1 && (!strcmp(seg[0], "users") || !strcmp(seg[0], "config"))
             && !web_may(r, "admin")) {
        r->app->n_denied++;
        message_page(r, 403, T(r, "admin_only"));
    } else if (!strcmp(p, "/users") && get)
        users_page(r, NULL, false);
    else if (!strcmp(p, "/users") && post)
        users_post(r, NULL);
    else if (n == 3 && !strcmp(seg[0], "users") && !strcmp(seg[2], "delete") && post)
        users_post(r, seg[1]);
    else if (!strcmp(p, "/config") && get)
        config_page(r);
    else
        done = false;
    g_strfreev(seg);
    return done;
}

/*
 * report_json.c: serialises a struct report per the JSON contract in DESIGN.md.
 * Used by `abusedesk parse`, by the store (parsed fields are kept as this JSON) and
 * by the corpus tools. Strings are UTF-8 already (the parsers make them valid);
 * anything jansson refuses becomes null rather than failing the whole object.
 */
#include "report_json.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static json_t *str_or_null(const char *s)
{
    if (!s)
        return json_null();
    json_t *v = json_string(s);
    if (!v) {
        char *valid = g_utf8_make_valid(s, -1);
        v = json_string(valid);
        g_free(valid);
    }
    return v ? v : json_null();
}

static json_t *str_array(const GPtrArray *a)
{
    json_t *arr = json_array();
    for (guint i = 0; a && i < a->len; i++)
        json_array_append_new(arr, str_or_null(g_ptr_array_index(a, i)));
    return arr;
}

/* json_object_set_new() per key: json_pack() would parse a format string for
 * every object, which shows in the parse benchmark. */
static void put(json_t *o, const char *key, const char *v)
{
    json_object_set_new_nocheck(o, key, str_or_null(v));
}

static json_t *original_json(const struct original *o)
{
    if (!o)
        return json_null();
    json_t *hops = json_array();
    for (guint i = 0; i < o->received->len; i++) {
        const struct received_hop *h = g_ptr_array_index(o->received, i);
        json_t *hop = json_object();
        put(hop, "from", h->from);
        put(hop, "by", h->by);
        put(hop, "with", h->with);
        put(hop, "id", h->id);
        put(hop, "date", h->date);
        json_array_append_new(hops, hop);
    }
    json_t *j = json_object();
    put(j, "message_id", o->message_id);
    put(j, "subject", o->subject);
    put(j, "from", o->from);
    put(j, "to", o->to);
    put(j, "date", o->date);
    put(j, "return_path", o->return_path);
    put(j, "authenticated_user", o->authenticated_user);
    put(j, "php_script", o->php_script);
    put(j, "bulk", o->bulk);
    json_object_set_new_nocheck(j, "received", hops);
    return j;
}

json_t *report_json(const struct report *r, const char *file)
{
    json_t *o = json_object();
    json_object_set_new_nocheck(o, "file", str_or_null(file));
    json_object_set_new_nocheck(o, "kind", json_string(report_kind_name(r->kind)));
    json_object_set_new_nocheck(o, "format", str_or_null(r->dsn_format));

    bool feedback = r->kind == REPORT_ARF || r->kind == REPORT_AUTH_FAILURE;
    json_object_set_new_nocheck(o, "feedback_type", str_or_null(feedback ? r->feedback_type : NULL));
    json_object_set_new_nocheck(o, "user_agent", str_or_null(r->user_agent));
    json_object_set_new_nocheck(o, "version", str_or_null(r->version));
    json_object_set_new_nocheck(o, "arrival_date", str_or_null(r->arrival_date));
    json_object_set_new_nocheck(o, "source_ip", str_or_null(r->source_ip));
    json_object_set_new_nocheck(o, "original_mail_from", str_or_null(r->original_mail_from));
    json_object_set_new_nocheck(o, "original_rcpt_to", str_array(r->original_rcpt_to));
    json_object_set_new_nocheck(o, "reported_domain", str_array(r->reported_domain));
    json_object_set_new_nocheck(o, "reported_uri", str_array(r->reported_uri));
    json_object_set_new_nocheck(o, "incidents", str_or_null(r->incidents));
    json_object_set_new_nocheck(o, "auth_failure", str_or_null(r->auth_failure));
    json_object_set_new_nocheck(o, "reporting_mta", str_or_null(r->reporting_mta));

    json_t *rcpts = json_array();
    for (guint i = 0; i < r->recipients->len; i++) {
        const struct dsn_rcpt *d = g_ptr_array_index(r->recipients, i);
        json_t *rc = json_object();
        put(rc, "final_recipient", d->final_recipient);
        put(rc, "original_recipient", d->original_recipient);
        put(rc, "action", d->action);
        put(rc, "status", d->status);
        put(rc, "diagnostic_code", d->diagnostic_code);
        put(rc, "remote_mta", d->remote_mta);
        put(rc, "reason", d->reason);
        put(rc, "smtp_command", d->smtp_command);
        json_array_append_new(rcpts, rc);
    }
    json_object_set_new_nocheck(o, "recipients", rcpts);
    json_object_set_new_nocheck(o, "subject", str_or_null(r->subject));
    json_object_set_new_nocheck(o, "message_id", str_or_null(r->message_id));
    json_object_set_new_nocheck(o, "original", original_json(r->original));
    json_object_set_new_nocheck(o, "warning", str_or_null(r->warning));
    return o;
}

/* ---- the one-line form, written directly ----------------------------------
 * The same bytes as json_dumps(report_json(r), JSON_COMPACT | JSON_PRESERVE_ORDER)
 * (report_json_test.c compares them over the whole corpus), without building
 * the object tree first: building and dumping it was a third of the parse
 * benchmark. Escaping follows jansson's: \" \\ \b \f \n \r \t, other control
 * characters as \u00XX, UTF-8 as is; invalid UTF-8 is repaired first, as
 * str_or_null() does. */

static void put_str(GString *g, const char *s)
{
    if (!s) {
        g_string_append_len(g, "null", 4);
        return;
    }
    char *valid = NULL;
    const unsigned char *q = (const unsigned char *)s;
    while (*q && *q < 0x80)
        q++;
    if (*q && !g_utf8_validate((const char *)q, -1, NULL)) /* only non-ASCII needs a look */
        s = valid = g_utf8_make_valid(s, -1);
    g_string_append_c(g, '"');
    const char *run = s;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        g_string_append_len(g, run, p - run);
        switch (c) {
        case '"': g_string_append_len(g, "\\\"", 2); break;
        case '\\': g_string_append_len(g, "\\\\", 2); break;
        case '\b': g_string_append_len(g, "\\b", 2); break;
        case '\f': g_string_append_len(g, "\\f", 2); break;
        case '\n': g_string_append_len(g, "\\n", 2); break;
        case '\r': g_string_append_len(g, "\\r", 2); break;
        case '\t': g_string_append_len(g, "\\t", 2); break;
        default: g_string_append_printf(g, "\\u%04X", c); break;
        }
        run = p + 1;
    }
    g_string_append(g, run);
    g_string_append_c(g, '"');
    g_free(valid);
}

static void put_kv(GString *g, const char *key, const char *v, bool first)
{
    if (!first)
        g_string_append_c(g, ',');
    g_string_append_c(g, '"');
    g_string_append(g, key);
    g_string_append_len(g, "\":", 2);
    put_str(g, v);
}

static void put_array(GString *g, const char *key, const GPtrArray *a)
{
    g_string_append_printf(g, ",\"%s\":[", key);
    for (guint i = 0; a && i < a->len; i++) {
        if (i)
            g_string_append_c(g, ',');
        put_str(g, g_ptr_array_index(a, i));
    }
    g_string_append_c(g, ']');
}

char *report_json_line(const struct report *r, const char *file)
{
    GString *g = g_string_sized_new(4096);
    bool feedback = r->kind == REPORT_ARF || r->kind == REPORT_AUTH_FAILURE;
    g_string_append_c(g, '{');
    put_kv(g, "file", file, true);
    put_kv(g, "kind", report_kind_name(r->kind), false);
    put_kv(g, "format", r->dsn_format, false);
    put_kv(g, "feedback_type", feedback ? r->feedback_type : NULL, false);
    put_kv(g, "user_agent", r->user_agent, false);
    put_kv(g, "version", r->version, false);
    put_kv(g, "arrival_date", r->arrival_date, false);
    put_kv(g, "source_ip", r->source_ip, false);
    put_kv(g, "original_mail_from", r->original_mail_from, false);
    put_array(g, "original_rcpt_to", r->original_rcpt_to);
    put_array(g, "reported_domain", r->reported_domain);
    put_array(g, "reported_uri", r->reported_uri);
    put_kv(g, "incidents", r->incidents, false);
    put_kv(g, "auth_failure", r->auth_failure, false);
    put_kv(g, "reporting_mta", r->reporting_mta, false);
    g_string_append(g, ",\"recipients\":[");
    for (guint i = 0; i < r->recipients->len; i++) {
        const struct dsn_rcpt *d = g_ptr_array_index(r->recipients, i);
        g_string_append(g, i ? ",{" : "{");
        put_kv(g, "final_recipient", d->final_recipient, true);
        put_kv(g, "original_recipient", d->original_recipient, false);
        put_kv(g, "action", d->action, false);
        put_kv(g, "status", d->status, false);
        put_kv(g, "diagnostic_code", d->diagnostic_code, false);
        put_kv(g, "remote_mta", d->remote_mta, false);
        put_kv(g, "reason", d->reason, false);
        put_kv(g, "smtp_command", d->smtp_command, false);
        g_string_append_c(g, '}');
    }
    g_string_append_c(g, ']');
    put_kv(g, "subject", r->subject, false);
    put_kv(g, "message_id", r->message_id, false);
    const struct original *o = r->original;
    if (!o) {
        g_string_append(g, ",\"original\":null");
    } else {
        g_string_append(g, ",\"original\":{");
        put_kv(g, "message_id", o->message_id, true);
        put_kv(g, "subject", o->subject, false);
        put_kv(g, "from", o->from, false);
        put_kv(g, "to", o->to, false);
        put_kv(g, "date", o->date, false);
        put_kv(g, "return_path", o->return_path, false);
        put_kv(g, "authenticated_user", o->authenticated_user, false);
        put_kv(g, "php_script", o->php_script, false);
        put_kv(g, "bulk", o->bulk, false);
        g_string_append(g, ",\"received\":[");
        for (guint i = 0; i < o->received->len; i++) {
            const struct received_hop *h = g_ptr_array_index(o->received, i);
            g_string_append(g, i ? ",{" : "{");
            put_kv(g, "from", h->from, true);
            put_kv(g, "by", h->by, false);
            put_kv(g, "with", h->with, false);
            put_kv(g, "id", h->id, false);
            put_kv(g, "date", h->date, false);
            g_string_append_c(g, '}');
        }
        g_string_append(g, "]}");
    }
    put_kv(g, "warning", r->warning, false);
    g_string_append_c(g, '}');
    /* malloc'd like json_dumps()'s result: callers free() it. */
    char *out = malloc(g->len + 1);
    if (out)
        memcpy(out, g->str, g->len + 1);
    g_string_free(g, TRUE);
    return out;
}

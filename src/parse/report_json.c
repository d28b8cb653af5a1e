/*
 * report_json.c: serialises a struct report per the JSON contract in DESIGN.md.
 * Used by `abusedesk parse`, by the store (parsed fields are kept as this JSON) and
 * by the corpus tools. Strings are UTF-8 already (the parsers make them valid);
 * anything jansson refuses becomes null rather than failing the whole object.
 */
#include "report_json.h"

#include <stdbool.h>
#include <stdlib.h>

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

char *report_json_line(const struct report *r, const char *file)
{
    json_t *o = report_json(r, file);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

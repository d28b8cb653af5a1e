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

static json_t *original_json(const struct original *o)
{
    if (!o)
        return json_null();
    json_t *hops = json_array();
    for (guint i = 0; i < o->received->len; i++) {
        const struct received_hop *h = g_ptr_array_index(o->received, i);
        json_array_append_new(hops, json_pack("{s:o,s:o,s:o,s:o,s:o}",
            "from", str_or_null(h->from), "by", str_or_null(h->by),
            "with", str_or_null(h->with), "id", str_or_null(h->id),
            "date", str_or_null(h->date)));
    }
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
        "message_id", str_or_null(o->message_id), "subject", str_or_null(o->subject),
        "from", str_or_null(o->from), "to", str_or_null(o->to), "date", str_or_null(o->date),
        "return_path", str_or_null(o->return_path),
        "authenticated_user", str_or_null(o->authenticated_user),
        "php_script", str_or_null(o->php_script), "received", hops);
}

json_t *report_json(const struct report *r, const char *file)
{
    json_t *o = json_object();
    json_object_set_new(o, "file", str_or_null(file));
    json_object_set_new(o, "kind", json_string(report_kind_name(r->kind)));
    json_object_set_new(o, "format", str_or_null(r->dsn_format));

    bool feedback = r->kind == REPORT_ARF || r->kind == REPORT_AUTH_FAILURE;
    json_object_set_new(o, "feedback_type", str_or_null(feedback ? r->feedback_type : NULL));
    json_object_set_new(o, "user_agent", str_or_null(r->user_agent));
    json_object_set_new(o, "version", str_or_null(r->version));
    json_object_set_new(o, "arrival_date", str_or_null(r->arrival_date));
    json_object_set_new(o, "source_ip", str_or_null(r->source_ip));
    json_object_set_new(o, "original_mail_from", str_or_null(r->original_mail_from));
    json_object_set_new(o, "original_rcpt_to", str_array(r->original_rcpt_to));
    json_object_set_new(o, "reported_domain", str_array(r->reported_domain));
    json_object_set_new(o, "reported_uri", str_array(r->reported_uri));
    json_object_set_new(o, "incidents", str_or_null(r->incidents));
    json_object_set_new(o, "auth_failure", str_or_null(r->auth_failure));
    json_object_set_new(o, "reporting_mta", str_or_null(r->reporting_mta));

    json_t *rcpts = json_array();
    for (guint i = 0; i < r->recipients->len; i++) {
        const struct dsn_rcpt *d = g_ptr_array_index(r->recipients, i);
        json_array_append_new(rcpts, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
            "final_recipient", str_or_null(d->final_recipient),
            "original_recipient", str_or_null(d->original_recipient),
            "action", str_or_null(d->action), "status", str_or_null(d->status),
            "diagnostic_code", str_or_null(d->diagnostic_code),
            "remote_mta", str_or_null(d->remote_mta), "reason", str_or_null(d->reason),
            "smtp_command", str_or_null(d->smtp_command)));
    }
    json_object_set_new(o, "recipients", rcpts);
    json_object_set_new(o, "subject", str_or_null(r->subject));
    json_object_set_new(o, "message_id", str_or_null(r->message_id));
    json_object_set_new(o, "original", original_json(r->original));
    json_object_set_new(o, "warning", str_or_null(r->warning));
    return o;
}

char *report_json_line(const struct report *r, const char *file)
{
    json_t *o = report_json(r, file);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

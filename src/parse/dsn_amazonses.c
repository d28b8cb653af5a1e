/*
 * dsn_amazonses.c: reads Amazon SES bounce and delivery notifications sent as
 * JSON in a mail body (directly, or wrapped in an SNS envelope whose "Message"
 * holds the JSON as a string). Called by dsn.c before the text formats. Mail
 * clients fold long lines, so line breaks are removed before parsing; the JSON
 * value ends where jansson stops. Unparsable JSON gives no entries. Entries
 * belong to the scan.
 */
#include "dsn_priv.h"

#include <jansson.h>
#include <string.h>

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void set_str(char **field, const char *v)
{
    if (v)
        dsn_set(field, v, strlen(v));
}

/* "dsn; a27-23.smtp-out..." -> "a27-23.smtp-out..." */
static void set_mta(char **field, const char *v)
{
    if (!v)
        return;
    const char *semi = strchr(v, ';');
    if (semi && semi - v < 8)
        v = semi + 1;
    dsn_set(field, v, strlen(v));
}

static int from_json(struct dsn_scan *s, json_t *root, int depth)
{
    if (!json_is_object(root) || depth > 2)
        return 0;
    const char *wrapped = jstr(root, "Message");
    if (wrapped && !json_object_get(root, "notificationType")) {
        json_t *inner = json_loads(wrapped, JSON_DISABLE_EOF_CHECK, NULL);
        int n = inner ? from_json(s, inner, depth + 1) : 0;
        json_decref(inner);
        return n;
    }
    const char *type = jstr(root, "notificationType");
    if (!type)
        type = jstr(root, "eventType");
    if (!type)
        return 0;
    int added = 0;
    if (g_ascii_strcasecmp(type, "Bounce") == 0) {
        json_t *b = json_object_get(root, "bounce");
        json_t *list = json_object_get(b, "bouncedRecipients");
        size_t i;
        json_t *r;
        json_array_foreach(list, i, r) {
            if (i >= DSN_MAX_RCPTS)
                break;
            const char *addr = jstr(r, "emailAddress");
            if (!addr)
                continue;
            struct dsn_ent *e = dsn_ent_new(s);
            if (!e)
                break;
            e->rcpt = dsn_addr_dup(addr, strlen(addr));
            if (!e->rcpt)
                e->rcpt = g_strdup(addr);
            set_str(&e->action, jstr(r, "action"));
            set_str(&e->status, jstr(r, "status"));
            const char *diag = jstr(r, "diagnosticCode");
            if (diag) {
                const char *semi = strchr(diag, ';');
                if (semi && semi - diag < 8)
                    diag = semi + 1;
                set_str(&e->diag, diag);
            }
            set_mta(&e->rmta, jstr(b, "remoteMtaIp"));
            added++;
        }
        if (!s->reporting_mta)
            set_mta(&s->reporting_mta, jstr(b, "reportingMTA"));
    } else if (g_ascii_strcasecmp(type, "Delivery") == 0) {
        json_t *d = json_object_get(root, "delivery");
        json_t *list = json_object_get(d, "recipients");
        size_t i;
        json_t *r;
        json_array_foreach(list, i, r) {
            if (i >= DSN_MAX_RCPTS || !json_is_string(r))
                break;
            struct dsn_ent *e = dsn_ent_new(s);
            if (!e)
                break;
            e->rcpt = g_strdup(json_string_value(r));
            e->action = g_strdup("delivered");
            set_str(&e->diag, jstr(d, "smtpResponse"));
            char code[16];
            if (e->diag && dsn_status_find(e->diag, false, code))
                e->status = g_strdup(code);
            e->reason = "delivered";
            set_mta(&e->rmta, jstr(d, "remoteMtaIp"));
            added++;
        }
        if (!s->reporting_mta)
            set_mta(&s->reporting_mta, jstr(d, "reportingMTA"));
    } else {
        /* Complaints are feedback reports, not bounces. */
        return -1;
    }
    return added;
}

int dsn_amazonses_parse(struct dsn_scan *s, const char *body, size_t len)
{
    const char *open = memchr(body, '{', len < 4096 ? len : 4096);
    if (!open)
        return 0;
    size_t n = len - (size_t)(open - body);
    if (!dsn_memcasestr(open, n < 65536 ? n : 65536, "notificationType")
        && !dsn_memcasestr(open, n < 4096 ? n : 4096, "\"Type\""))
        return 0;
    /* Undo line folding: drop every line break and the blank that follows it. */
    GString *g = g_string_sized_new(n);
    for (size_t i = 0; i < n; i++) {
        if (open[i] == '\n') {
            if (i + 1 < n && open[i + 1] == ' ')
                i++;
            continue;
        }
        g_string_append_c(g, open[i]);
    }
    json_t *root = json_loadb(g->str, g->len, JSON_DISABLE_EOF_CHECK, NULL);
    g_string_free(g, TRUE);
    if (!root)
        return 0;
    int added = from_json(s, root, 0);
    json_decref(root);
    if (added > 0)
        s->format = "amazonses";
    return added;
}

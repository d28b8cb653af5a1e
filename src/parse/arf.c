/*
 * arf.c: recognises feedback reports and fills the ARF fields of a struct report.
 * Called by parse_message() before the bounce recognisers. Handles:
 *  - RFC 5965 ARF and RFC 6591 auth-failure reports: a message/feedback-report part
 *    anywhere in the top-level MIME tree, the returned message as message/rfc822 or
 *    text/rfc822-headers (also the common misspelling text/rfc822-header);
 *  - Microsoft JMRP (Hotmail/Outlook.com): multipart/mixed with the complained-about
 *    message attached, marked by X-HmXmrOriginalRecipient, no feedback part;
 *  - Amazon SES complaint notifications (SNS JSON in a text body);
 *  - list opt-out mails (Subject "unsubscribe" sent to a List-Unsubscribe address).
 * Never fails on bad input: unknown fields are ignored, unparsable values left NULL.
 */
#include "arf.h"

#include <jansson.h>
#include <string.h>

#include "mimetree.h"
#include "original.h"
#include "received.h"

#define ARF_MAX_FIELDS 1000
#define ARF_MAX_TEXT (1024 * 1024)

static const char *strip_type(const char *v)
{
    /* "dns; mx.example.net" -> "mx.example.net" */
    const char *semi = strchr(v, ';');
    return semi ? semi + 1 : v;
}

static const char *addr_value(struct report *r, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    /* "Display Name <addr>" (X-SID-PRA, Comcast's Removal-Recipient): the address. */
    const char *lt = strchr(v, '<');
    if (lt && strchr(lt, '>') && strchr(lt, '@'))
        v = lt;
    if (*v == '<') {
        const char *gt = strchr(v, '>');
        return gt ? report_strtrim(r, v + 1, gt - v - 1) : report_strtrim(r, v + 1, -1);
    }
    return report_strtrim(r, v, -1);
}

static void arf_field(struct report *r, const char *name, const char *v)
{
    if (g_ascii_strcasecmp(name, "Feedback-Type") == 0) {
        if (!r->feedback_type) {
            char *low = g_ascii_strdown(v, -1);
            r->feedback_type = report_strtrim(r, low, -1);
            g_free(low);
        }
    } else if (g_ascii_strcasecmp(name, "User-Agent") == 0) {
        r->user_agent = r->user_agent ? r->user_agent : report_strtrim(r, v, -1);
    } else if (g_ascii_strcasecmp(name, "Version") == 0) {
        r->version = r->version ? r->version : report_strtrim(r, v, -1);
    } else if (g_ascii_strcasecmp(name, "Arrival-Date") == 0 ||
               g_ascii_strcasecmp(name, "Received-Date") == 0) {
        r->arrival_date = r->arrival_date ? r->arrival_date : received_iso_date(r, v);
    } else if (g_ascii_strcasecmp(name, "Source-IP") == 0) {
        r->source_ip = r->source_ip ? r->source_ip : report_strtrim(r, v, -1);
    } else if (g_ascii_strcasecmp(name, "Original-Mail-From") == 0) {
        r->original_mail_from = r->original_mail_from ? r->original_mail_from
                                                      : addr_value(r, v);
    } else if (g_ascii_strcasecmp(name, "Original-Rcpt-To") == 0 ||
               g_ascii_strcasecmp(name, "Removal-Recipient") == 0) {
        const char *a = addr_value(r, v);
        if (a)
            g_ptr_array_add(r->original_rcpt_to, (gpointer)a);
    } else if (g_ascii_strcasecmp(name, "Reported-Domain") == 0) {
        const char *a = report_strtrim(r, v, -1);
        if (a)
            g_ptr_array_add(r->reported_domain, (gpointer)a);
    } else if (g_ascii_strcasecmp(name, "Reported-URI") == 0) {
        const char *a = report_strtrim(r, v, -1);
        if (a)
            g_ptr_array_add(r->reported_uri, (gpointer)a);
    } else if (g_ascii_strcasecmp(name, "Incidents") == 0) {
        r->incidents = r->incidents ? r->incidents : report_strtrim(r, v, -1);
    } else if (g_ascii_strcasecmp(name, "Reporting-MTA") == 0) {
        r->reporting_mta = r->reporting_mta ? r->reporting_mta
                                            : report_strtrim(r, strip_type(v), -1);
    } else if (g_ascii_strcasecmp(name, "Auth-Failure") == 0) {
        r->auth_failure = r->auth_failure ? r->auth_failure : report_strtrim(r, v, -1);
    }
}

void arf_fields(struct report *r, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    GString *value = g_string_new(NULL);
    unsigned n = 0;

    while (p < end && n < ARF_MAX_FIELDS) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || colon == p || colon - p > 64 || *p == ' ' || *p == '\t') {
            p = eol + 1;
            continue;
        }
        char *name = g_strndup(p, colon - p);
        g_string_assign(value, "");
        g_string_append_len(value, colon + 1, eol - colon - 1);
        p = eol + 1;
        while (p < end && (*p == ' ' || *p == '\t')) {
            const char *e2 = memchr(p, '\n', (size_t)(end - p));
            if (!e2)
                e2 = end;
            g_string_append_c(value, ' ');
            g_string_append_len(value, p, e2 - p);
            p = e2 + 1;
        }
        g_strstrip(name);
        arf_field(r, name, value->str);
        g_free(name);
        n++;
    }
    g_string_free(value, TRUE);
}

/* Reads the returned message below root: message/rfc822 or text/rfc822-headers. */
static void arf_original(struct report *r, const struct mime_part *root, struct arena *a)
{
    const struct mime_part *part = mime_find(root, "message", "rfc822", false);
    if (part && part->message &&
        original_from_text(r, part->message->hdr, part->message->hdr_len) == 0)
        return;
    static const char *const subtypes[] = { "rfc822-headers", "rfc822-header" };
    for (size_t i = 0; i < G_N_ELEMENTS(subtypes); i++) {
        part = mime_find(root, "text", subtypes[i], false);
        if (!part)
            part = mime_find(root, "message", subtypes[i], false);
        if (!part)
            continue;
        size_t n = 0;
        const char *text = mime_body(a, part, ARF_MAX_TEXT, &n);
        if (original_from_text(r, text, n) == 0)
            return;
    }
}

static int arf_standard(struct report *r, const struct mime_part *root, struct arena *a)
{
    const struct mime_part *fb = mime_find(root, "message", "feedback-report", false);
    if (!fb)
        return 0;
    size_t n = 0;
    const char *text = mime_body(a, fb, ARF_MAX_TEXT, &n);
    arf_fields(r, text, n);
    arf_original(r, root, a);
    /* Without Source-IP, the client in the topmost Received: of the returned message
     * (written by the reporter's own MX) is the host that sent the mail. */
    if (!r->source_ip && r->original && r->original->received->len > 0) {
        const struct received_hop *top = g_ptr_array_index(r->original->received, 0);
        r->source_ip = received_first_ip(r, top->from);
    }
    r->kind = r->feedback_type && strcmp(r->feedback_type, "auth-failure") == 0
                  ? REPORT_AUTH_FAILURE
                  : REPORT_ARF;
    r->dsn_format = "arf";
    return 1;
}

struct mailfrom_find {
    struct report *r;
    const char *found;
};

/* smtp.mailfrom= in Authentication-Results, the envelope sender JMRP does not state. */
static int take_mailfrom(const char *name, size_t nl, const char *v, void *ctx)
{
    struct mailfrom_find *f = ctx;
    if (nl != 22 || g_ascii_strncasecmp(name, "Authentication-Results", 22) != 0)
        return 0;
    const char *p = strstr(v, "smtp.mailfrom=");
    if (!p)
        return 0;
    p += strlen("smtp.mailfrom=");
    size_t len = strcspn(p, " ;\t\r\n");
    if (len > 0 && memchr(p, '@', len)) {
        f->found = report_str(f->r, p, (gssize)len);
        return 1;
    }
    return 0;
}

static int arf_jmrp(struct report *r, const struct mime_part *root, struct arena *a)
{
    if (!root || !root->child)
        return 0;
    const struct mime_part *part = mime_find(root, "message", "rfc822", false);
    if (!part || !part->message)
        return 0;
    const struct mime_part *m = part->message;
    const char *rcpt = mime_header(a, m->hdr, m->hdr_len, "X-HmXmrOriginalRecipient");
    if (!rcpt)
        return 0;
    r->kind = REPORT_ARF;
    r->dsn_format = "jmrp";
    r->feedback_type = "abuse";
    const char *addr = addr_value(r, rcpt);
    if (addr)
        g_ptr_array_add(r->original_rcpt_to, (gpointer)addr);
    original_from_text(r, m->hdr, m->hdr_len);
    struct mailfrom_find f = { r, NULL };
    mime_header_each(m->hdr, m->hdr_len, 200, take_mailfrom, &f);
    r->original_mail_from = f.found;
    if (!r->original_mail_from) {
        const char *pra = mime_header(a, m->hdr, m->hdr_len, "X-SID-PRA");
        r->original_mail_from = pra ? addr_value(r, pra) : NULL;
    }
    /* JMRP names the sending IP in its Subject: "complaint about message from IP". */
    const char *from = r->subject ? strstr(r->subject, " from ") : NULL;
    if (from)
        r->source_ip = received_first_ip(r, from);
    if (r->original_mail_from == NULL && r->original)
        r->original_mail_from = r->original->from;
    return 1;
}

/* Joins the lines of a folded JSON body ("\n " continuation) into one string. */
static char *unfold_json(const char *text, size_t len)
{
    const char *start = memchr(text, '{', len);
    if (!start)
        return NULL;
    GString *s = g_string_sized_new(len);
    for (const char *p = start; p < text + len; p++) {
        if (*p == '\n') {
            if (p + 1 < text + len && p[1] == ' ') {
                p++;
                continue;
            }
            break; /* the JSON object ends at the first unfolded line break */
        }
        g_string_append_c(s, *p);
    }
    return g_string_free(s, FALSE);
}

static int arf_ses(struct report *r, const struct mime_part *root, struct arena *a)
{
    const struct mime_part *part = mime_find(root, "text", "plain", false);
    if (!part)
        return 0;
    size_t n = 0;
    const char *text = mime_body(a, part, ARF_MAX_TEXT, &n);
    int found = 0;
    char *js = strstr(text, "\"notificationType\"") ? unfold_json(text, n) : NULL;
    json_t *root_j = js ? json_loads(js, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    json_t *ty = root_j ? json_object_get(root_j, "notificationType") : NULL;
    if (json_is_string(ty) && strcmp(json_string_value(ty), "Complaint") == 0) {
        found = 1;
        r->kind = REPORT_ARF;
        r->dsn_format = "ses-complaint";
        json_t *c = json_object_get(root_j, "complaint");
        json_t *ft = json_object_get(c, "complaintFeedbackType");
        r->feedback_type = json_is_string(ft) ? report_str(r, json_string_value(ft), -1) : "abuse";
        json_t *ua = json_object_get(c, "userAgent");
        if (json_is_string(ua))
            r->user_agent = report_str(r, json_string_value(ua), -1);
        json_t *ad = json_object_get(c, "arrivalDate");
        if (!json_is_string(ad))
            ad = json_object_get(c, "timestamp");
        if (json_is_string(ad))
            r->arrival_date = report_str(r, json_string_value(ad), -1);
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(c, "complainedRecipients"), i, v) {
            json_t *e = json_object_get(v, "emailAddress");
            if (json_is_string(e) && i < 1000)
                g_ptr_array_add(r->original_rcpt_to, (gpointer)report_str(r, json_string_value(e), -1));
        }
        json_t *m = json_object_get(root_j, "mail");
        json_t *src = json_object_get(m, "source");
        if (json_is_string(src))
            r->original_mail_from = report_str(r, json_string_value(src), -1);
        json_t *ip = json_object_get(m, "sourceIp");
        if (json_is_string(ip))
            r->source_ip = report_str(r, json_string_value(ip), -1);
        json_t *mid = json_object_get(m, "messageId");
        json_t *ch = json_object_get(m, "commonHeaders");
        json_t *subj = json_object_get(ch, "subject");
        if (json_is_string(mid) || json_is_string(subj)) {
            struct original *o = report_original(r);
            o->message_id = json_is_string(mid) ? report_str(r, json_string_value(mid), -1) : NULL;
            o->subject = json_is_string(subj) ? report_str(r, json_string_value(subj), -1) : NULL;
            o->from = r->original_mail_from;
        }
    }
    if (root_j)
        json_decref(root_j);
    g_free(js);
    return found;
}

/* A reply to a List-Unsubscribe mailto: address: the sender opts out of the list. */
static int arf_optout(struct report *r, const struct mime_part *root, struct arena *a)
{
    if (!r->subject)
        return 0;
    char *sub = g_strstrip(g_strdup(r->subject));
    int is_unsub = g_ascii_strcasecmp(sub, "unsubscribe") == 0;
    g_free(sub);
    if (!is_unsub)
        return 0;
    const char *from = mime_header(a, root->hdr, root->hdr_len, "From");
    const char *to = mime_header(a, root->hdr, root->hdr_len, "To");
    const char *fa = from ? original_address(r, from) : NULL;
    const char *ta = to ? original_address(r, to) : NULL;
    if (!fa || !ta)
        return 0;
    r->kind = REPORT_ARF;
    r->dsn_format = "opt-out";
    r->feedback_type = "opt-out";
    g_ptr_array_add(r->original_rcpt_to, (gpointer)fa);
    r->original_mail_from = ta;
    return 1;
}

int arf_parse(struct report *r, const struct mime_part *root, struct arena *a)
{
    if (!root)
        return 0;
    if (arf_standard(r, root, a) || arf_jmrp(r, root, a) || arf_ses(r, root, a) ||
        arf_optout(r, root, a))
        return 1;
    return 0;
}

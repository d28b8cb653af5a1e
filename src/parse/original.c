/*
 * original.c: reads the headers of the original message a report is about. Called
 * by the ARF, DSN and complaint recognisers with either a GMime header list or a raw
 * header block quoted in a bounce's text. Keeps the first value of each single
 * header, every Received: in order, and derives the authenticated submitter and the
 * sending PHP script. Bounded: at most ORIGINAL_MAX_HEADERS headers are read and
 * each value is cut at ORIGINAL_MAX_VALUE bytes. Strings go into the report's arena.
 */
#include "original.h"

#include <stdbool.h>
#include <string.h>

#include "received.h"

#define ORIGINAL_MAX_HEADERS 1000
#define ORIGINAL_MAX_VALUE 65536
#define ORIGINAL_MAX_RECEIVED 100

/* True for a plain addr-spec "local@domain" with nothing around it. */
static bool simple_addr_spec(const char *v)
{
    const char *at = NULL;
    for (const char *p = v; *p; p++) {
        if (*p == '@') {
            if (at)
                return false;
            at = p;
        } else if (*p <= ' ' || *p == '"' || *p == '(' || *p == ',' || *p == ';' ||
                   *p == ':' || *p == '<' || *p == '>' || *p == '\\') {
            return false;
        }
    }
    return at && at != v && at[1] != '\0';
}

const char *original_address(struct report *r, const char *value)
{
    if (!value)
        return NULL;
    while (*value == ' ' || *value == '\t')
        value++;
    if (simple_addr_spec(value))
        return report_strtrim(r, value, -1); /* the common case, without GMime */
    const char *lt = strchr(value, '<');
    if (lt) {
        const char *gt = strchr(lt + 1, '>');
        if (gt && gt > lt + 1)
            return report_strtrim(r, lt + 1, gt - lt - 1);
        if (gt)
            return NULL; /* "<>": the null sender */
    }
    InternetAddressList *list = internet_address_list_parse(NULL, value);
    const char *out = NULL;
    if (list && internet_address_list_length(list) > 0) {
        InternetAddress *ia = internet_address_list_get_address(list, 0);
        if (INTERNET_ADDRESS_IS_MAILBOX(ia))
            out = report_strtrim(r, internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)), -1);
    }
    if (list)
        g_object_unref(list);
    if (!out) {
        /* Not RFC 5322 at all: take the first word that holds an '@'. */
        char **words = g_strsplit_set(value, " \t,;\"'", -1);
        for (char **w = words; *w && !out; w++)
            if (strchr(*w, '@'))
                out = report_strtrim(r, *w, -1);
        g_strfreev(words);
    }
    return out;
}

/* "(Authenticated sender: user@example.com)" in a Received: value. */
static const char *received_auth_sender(struct report *r, const char *value)
{
    static const char *const marks[] = { "authenticated sender:", "authenticated as " };
    /* Almost no Received: line has the word: check cheaply before case folding. */
    if (!strstr(value, "uthenticated") && !strstr(value, "UTHENTICATED"))
        return NULL;
    char *low = g_ascii_strdown(value, -1);
    const char *out = NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(marks) && !out; i++) {
        const char *q = strstr(low, marks[i]);
        if (!q)
            continue;
        const char *p = value + (q - low) + strlen(marks[i]);
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(p, ") \t\r\n;");
        if (n > 0)
            out = report_str(r, p, (gssize)n);
    }
    g_free(low);
    return out;
}

static void take(struct report *r, struct original *o, const char *name, const char *value)
{
    if (!value)
        return;
    if (g_ascii_strcasecmp(name, "Received") == 0) {
        if (o->received->len < ORIGINAL_MAX_RECEIVED) {
            g_ptr_array_add(o->received, received_parse(r, value));
            if (!o->authenticated_user)
                o->authenticated_user = received_auth_sender(r, value);
        }
    } else if (g_ascii_strcasecmp(name, "Message-ID") == 0) {
        if (!o->message_id) {
            const char *v = original_address(r, value);
            o->message_id = v ? v : report_strtrim(r, value, -1);
        }
    } else if (g_ascii_strcasecmp(name, "Subject") == 0) {
        if (!o->subject) {
            if (!strstr(value, "=?") && g_utf8_validate(value, -1, NULL)) {
                o->subject = report_strtrim(r, value, -1);
            } else {
                char *dec = g_mime_utils_header_decode_text(NULL, value);
                char *valid = g_utf8_make_valid(dec, -1);
                o->subject = report_strtrim(r, valid, -1);
                g_free(valid);
                g_free(dec);
            }
        }
    } else if (g_ascii_strcasecmp(name, "From") == 0) {
        if (!o->from)
            o->from = original_address(r, value);
    } else if (g_ascii_strcasecmp(name, "To") == 0) {
        if (!o->to)
            o->to = original_address(r, value);
    } else if (g_ascii_strcasecmp(name, "Date") == 0) {
        if (!o->date)
            o->date = received_iso_date(r, value);
    } else if (g_ascii_strcasecmp(name, "Return-Path") == 0) {
        if (!o->return_path)
            o->return_path = original_address(r, value);
    } else if (g_ascii_strcasecmp(name, "X-Authenticated-Sender") == 0 ||
               g_ascii_strcasecmp(name, "X-Authenticated-User") == 0) {
        /* cPanel writes "host.example.net: user@example.com". */
        if (!o->authenticated_user) {
            const char *v = value;
            const char *colon = strrchr(v, ':');
            if (colon && strchr(colon, '@'))
                v = colon + 1;
            o->authenticated_user = original_address(r, v);
            if (!o->authenticated_user)
                o->authenticated_user = report_strtrim(r, v, -1);
        }
    } else if (g_ascii_strcasecmp(name, "X-Get-Message-Sender-Via") == 0) {
        const char *p = strstr(value, "authenticated_id:");
        if (p && !o->authenticated_user) {
            p += strlen("authenticated_id:");
            while (*p == ' ')
                p++;
            size_t n = strcspn(p, " \t\r\n;");
            o->authenticated_user = report_strtrim(r, p, (gssize)n);
        }
    } else if (g_ascii_strcasecmp(name, "List-Unsubscribe") == 0) {
        o->bulk = "List-Unsubscribe"; /* the strongest mark: it wins over the others */
    } else if (g_ascii_strcasecmp(name, "List-Id") == 0) {
        if (!o->bulk || strcmp(o->bulk, "List-Unsubscribe"))
            o->bulk = "List-Id";
    } else if (g_ascii_strcasecmp(name, "Precedence") == 0) {
        /* RFC 3834 2: "bulk" and "list" (and the old "junk") mark mail to many. */
        char *v = g_strstrip(g_ascii_strdown(value, -1));
        if (!o->bulk && (!strcmp(v, "bulk") || !strcmp(v, "list") || !strcmp(v, "junk")))
            o->bulk = "Precedence: bulk";
        g_free(v);
    } else if (g_ascii_strcasecmp(name, "X-PHP-Originating-Script") == 0 ||
               g_ascii_strcasecmp(name, "X-PHP-Script") == 0) {
        if (!o->php_script)
            o->php_script = report_strtrim(r, value, -1);
    }
}

/* Header values worth keeping; everything else is skipped without copying. */
static bool wanted(const char *name, size_t n)
{
    static const struct {
        const char *name;
        size_t len;
    } names[] = {
#define N(s) { s, sizeof(s) - 1 }
        N("Received"), N("Message-ID"), N("Subject"), N("From"), N("To"), N("Date"),
        N("Return-Path"), N("X-Authenticated-Sender"), N("X-Authenticated-User"),
        N("X-Get-Message-Sender-Via"), N("X-PHP-Originating-Script"), N("X-PHP-Script"),
        N("List-Unsubscribe"), N("List-Id"), N("Precedence"),
#undef N
    };
    if (n == 0 || !strchr("RrMmSsFfTtDdXxLlPp", name[0]))
        return false; /* most fields start with other letters: skip them fast */
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        if (names[i].len == n && g_ascii_strncasecmp(name, names[i].name, n) == 0)
            return true;
    return false;
}

static bool original_empty(const struct original *o)
{
    return !o->message_id && !o->subject && !o->from && !o->to && !o->date &&
           !o->return_path && o->received->len == 0;
}

int original_from_gmime(struct report *r, GMimeHeaderList *headers)
{
    if (!headers)
        return -1;
    int n = g_mime_header_list_get_count(headers);
    if (n <= 0)
        return -1;
    struct original *o = report_original(r);
    for (int i = 0; i < n && i < ORIGINAL_MAX_HEADERS; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(headers, i);
        const char *name = g_mime_header_get_name(h);
        if (!name || !wanted(name, strlen(name)))
            continue;
        const char *raw = g_mime_header_get_raw_value(h);
        if (!raw)
            continue;
        char *v = g_strndup(raw, ORIGINAL_MAX_VALUE);
        char *unfolded = g_mime_utils_header_unfold(v);
        take(r, o, name, unfolded);
        g_free(unfolded);
        g_free(v);
    }
    return 0;
}

int original_from_text(struct report *r, const char *text, size_t len)
{
    if (!text || len == 0)
        return -1;
    struct original tmp = { 0 };
    tmp.received = g_ptr_array_new_with_free_func(g_free);
    GString *value = g_string_new(NULL);
    const char *p = text, *end = text + len;
    unsigned n_headers = 0;

    /* Skip leading blank lines some bounces leave before the quoted headers. */
    while (p < end && (*p == '\n' || *p == ' ' || *p == '\t')) {
        if (*p == '\n' || p + 1 >= end || p[1] == '\n')
            p++;
        else
            break;
    }
    while (p < end && n_headers < ORIGINAL_MAX_HEADERS) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if (eol == p)
            break; /* empty line: end of the header block */
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        size_t nl = colon ? (size_t)(colon - p) : 0;
        bool is_field = colon && nl > 0 && nl < 80;
        for (size_t i = 0; is_field && i < nl; i++)
            if (p[i] <= ' ' || p[i] > '~')
                is_field = false;
        if (!is_field) {
            p = eol + 1;
            continue; /* garbage line inside a quoted block: skip it */
        }
        const char *name = p;
        g_string_truncate(value, 0);
        g_string_append_len(value, colon + 1, eol - colon - 1);
        p = eol + 1;
        /* Continuation lines start with white space. */
        while (p < end && (*p == ' ' || *p == '\t')) {
            const char *e2 = memchr(p, '\n', (size_t)(end - p));
            if (!e2)
                e2 = end;
            if (value->len < ORIGINAL_MAX_VALUE)
                g_string_append_len(value, p, e2 - p);
            p = e2 + 1;
        }
        n_headers++;
        if (wanted(name, nl)) {
            char *nm = g_strndup(name, nl);
            take(r, &tmp, nm, value->str);
            g_free(nm);
        }
    }
    g_string_free(value, TRUE);

    if (original_empty(&tmp)) {
        g_ptr_array_free(tmp.received, TRUE);
        return -1;
    }
    struct original *o = report_original(r);
    GPtrArray *keep = o->received;
    *o = tmp;
    g_ptr_array_free(keep, TRUE);
    return 0;
}

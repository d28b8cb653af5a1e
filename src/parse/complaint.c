/*
 * complaint.c: recognises free-form abuse complaints. Called by parse_message()
 * after the ARF and bounce recognisers found nothing. A complaint is a mail whose
 * subject or first text part speaks of spam/abuse/phishing and that carries the
 * offending message, either attached (message/rfc822) or quoted as a header block in
 * the text. Keyword lists are English and German, the languages our reporters use.
 * Never fails; returns 0 when the mail does not read as a complaint.
 */
#include "complaint.h"

#include <stdbool.h>
#include <string.h>

#include "mimetree.h"
#include "original.h"

#define COMPLAINT_MAX_TEXT (1024 * 1024)

static const char *const complaint_words[] = {
    "spam", "abuse", "complaint", "phishing", "unsolicited", "junk mail",
    "beschwerde", "missbrauch", "unerwünscht", "unverlangt", "scam", "fraud",
};

static bool has_complaint_word(const char *s)
{
    if (!s)
        return false;
    char *low = g_utf8_strdown(s, -1);
    bool hit = false;
    for (size_t i = 0; i < G_N_ELEMENTS(complaint_words) && !hit; i++)
        hit = strstr(low, complaint_words[i]) != NULL;
    g_free(low);
    return hit;
}

/* Header names that start a quoted original; a block needs two of them. */
static bool is_start_field(const char *p, size_t n)
{
    static const char *const names[] = { "Received:", "Return-Path:", "Message-ID:",
                                         "From:", "Date:", "Subject:", "To:" };
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        size_t l = strlen(names[i]);
        if (n >= l && g_ascii_strncasecmp(p, names[i], l) == 0)
            return true;
    }
    return false;
}

/* "Name: value" with a printable, space-free name, or a folded continuation. */
static bool looks_like_field(const char *p, size_t n)
{
    if (n > 0 && (*p == ' ' || *p == '\t'))
        return true;
    size_t i = 0;
    while (i < n && i < 80 && p[i] > ' ' && p[i] < 127 && p[i] != ':')
        i++;
    return i > 0 && i < n && p[i] == ':';
}

int complaint_quoted_original(struct report *r, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if (is_start_field(p, (size_t)(eol - p))) {
            /* Confirm: another start field within the next few lines. */
            const char *q = eol + 1;
            int fields = 1;
            for (int i = 0; i < 8 && q < end && fields < 2; i++) {
                const char *e2 = memchr(q, '\n', (size_t)(end - q));
                if (!e2)
                    e2 = end;
                if (is_start_field(q, (size_t)(e2 - q)))
                    fields++;
                q = e2 + 1;
            }
            if (fields >= 2) {
                /* The block may open with other fields (X-Authenticated-Sender, ...):
                 * back up over header-looking lines right above the start field. */
                const char *start = p;
                for (int i = 0; i < 32 && start > text; i++) {
                    const char *prev_end = start - 1; /* the '\n' ending the previous line */
                    const char *prev = prev_end;
                    while (prev > text && prev[-1] != '\n')
                        prev--;
                    if (!looks_like_field(prev, (size_t)(prev_end - prev)))
                        break;
                    start = prev;
                }
                if (original_from_text(r, start, (size_t)(end - start)) == 0)
                    return 0;
            }
        }
        p = eol + 1;
    }
    return -1;
}

int complaint_parse(struct report *r, const struct mime_part *root, struct arena *a)
{
    if (!root)
        return 0;
    const struct mime_part *textpart = mime_find(root, "text", "plain", false);
    const char *text = NULL;
    size_t n = 0;
    if (textpart)
        text = mime_body_utf8(a, textpart, COMPLAINT_MAX_TEXT, &n);
    bool words = has_complaint_word(r->subject);
    if (!words && text) {
        /* Only the first few KB: a quoted spam may itself say "spam". */
        size_t head = n < 2048 ? n : 2048;
        while (head < n && (text[head] & 0xC0) == 0x80)
            head++; /* do not cut a UTF-8 sequence */
        char *h = g_strndup(text, head);
        words = has_complaint_word(h);
        g_free(h);
    }
    int found = 0;
    if (words) {
        const struct mime_part *att = mime_find(root, "message", "rfc822", false);
        if (att && att->message &&
            original_from_text(r, att->message->hdr, att->message->hdr_len) == 0)
            found = 1;
        if (!found) {
            const struct mime_part *hp = mime_find(root, "text", "rfc822-headers", false);
            size_t hn = 0;
            const char *ht = hp ? mime_body(a, hp, COMPLAINT_MAX_TEXT, &hn) : NULL;
            if (ht && original_from_text(r, ht, hn) == 0)
                found = 1;
        }
        if (!found && text && complaint_quoted_original(r, text, n) == 0)
            found = 1;
    }
    if (found) {
        r->kind = REPORT_ABUSE_TEXT;
        r->dsn_format = "abuse-text";
    }
    return found;
}

/*
 * dsn_rfc3464.c: reads the fields of an RFC 3464 delivery-status body (or of the
 * same "Name: value" block quoted in a text part): the per-message fields
 * (Reporting-MTA) and one entry per recipient block (Final-Recipient,
 * Original-Recipient, Action, Status, Diagnostic-Code, Remote-MTA, and the
 * X-Actual-Recipient extension). Called by dsn.c. Bad input only gives fewer
 * entries; at most DSN_MAX_LINES lines are read. Entries belong to the scan.
 */
#include "dsn_priv.h"

#include <string.h>

/* Value without its "type;" prefix ("rfc822; a@b" -> "a@b", "smtp; 550 ..." -> "550 ..."),
 * but only when the prefix looks like an address or diagnostic type. */
static void strip_type(const char **v, size_t *n)
{
    const char *semi = memchr(*v, ';', *n);
    if (!semi)
        return;
    size_t tl = (size_t)(semi - *v);
    if (tl == 0 || tl > 16)
        return;
    for (size_t i = 0; i < tl; i++) {
        char c = (*v)[i];
        /* "rfc/822" (Mimecast) is a misspelt "rfc822" */
        if (!(g_ascii_isalnum(c) || c == '-' || c == ' ' || c == '/'))
            return;
    }
    *n -= tl + 1;
    *v = semi + 1;
}

static void set_addr(char **field, const char *v, size_t n)
{
    strip_type(&v, &n);
    char *a = dsn_addr_dup(v, n);
    if (!a) {
        /* An address without domain ("rfc822; kijitora") is kept as written. */
        dsn_set(field, v, n);
        if (*field) {
            char *t = g_strdup(g_strstrip(g_strdelimit(*field, "<>\"", ' ')));
            g_free(*field);
            *field = *t ? t : (g_free(t), NULL);
        }
        return;
    }
    g_free(*field);
    *field = a;
}

/* Copies from to *to when *to is unset. */
static void fill(char **to, const char *from)
{
    if (!*to && from)
        *to = g_strdup(from);
}

/* At the end of a paragraph: the recipients it named (entries first..) get the
 * per-recipient fields that came before their Final-Recipient. */
static void pend_apply(struct dsn_scan *s, guint first, const struct dsn_ent *pend)
{
    for (guint i = first; i < s->ents->len; i++) {
        struct dsn_ent *e = g_ptr_array_index(s->ents, i);
        fill(&e->action, pend->action);
        fill(&e->status, pend->status);
        fill(&e->diag, pend->diag);
        fill(&e->rmta, pend->rmta);
    }
}

/* Frees the fields of a pending block. */
static void pend_clear(struct dsn_ent *pend)
{
    g_free(pend->action);
    g_free(pend->status);
    g_free(pend->diag);
    g_free(pend->rmta);
    memset(pend, 0, sizeof *pend);
}

/* Handles one unfolded field; cur is the open recipient block or NULL. Per-recipient
 * fields that come before the block's Final-Recipient (Facebook writes
 * Diagnostic-Code and Status first) wait in pend until the recipient is named. */
static struct dsn_ent *field(struct dsn_scan *s, struct dsn_ent *cur, struct dsn_ent *pend,
                             const char *name, size_t nl, const char *v, size_t vn)
{
#define IS(lit) (nl == sizeof(lit) - 1 && g_ascii_strncasecmp(name, lit, nl) == 0)
    if (IS("Reporting-MTA")) {
        strip_type(&v, &vn);
        if (!s->reporting_mta)
            dsn_set(&s->reporting_mta, v, vn);
        return cur;
    }
    if (IS("Final-Recipient") || IS("Original-Recipient")) {
        bool final = IS("Final-Recipient");
        /* Original-Recipient may come before or after Final-Recipient. */
        if (!cur || (final && cur->rcpt)
            || (!final && (cur->orig_rcpt || (cur->rcpt && (cur->action || cur->status)))))
            cur = dsn_ent_new(s);
        if (!cur)
            return NULL;
        set_addr(final ? &cur->rcpt : &cur->orig_rcpt, v, vn);
        if (final) {
            const char *q = v, *qe = v + vn;
            strip_type(&q, &vn);
            qe = q + vn;
            while (q < qe && (*q == ' ' || *q == '\t' || *q == '<'))
                q++;
            cur->routed = q < qe && *q == '@' && memchr(q, ':', (size_t)(qe - q)) != NULL;
        }
        return cur;
    }
    struct dsn_ent *ret = cur;
    if (!cur) {
        if (!IS("Action") && !IS("Status") && !IS("Diagnostic-Code") && !IS("Remote-MTA"))
            return NULL;
        cur = pend;
    }
    if (IS("X-Actual-Recipient")) {
        /* Sendmail puts the address after alias expansion here. Only used when
         * Final-Recipient has no domain. */
        if (!cur->rcpt || !strchr(cur->rcpt, '@')) {
            char *a = NULL;
            set_addr(&a, v, vn);
            if (a && strchr(a, '@')) {
                g_free(cur->rcpt);
                cur->rcpt = a;
            } else {
                g_free(a);
            }
        }
    } else if (IS("Action")) {
        dsn_set(&cur->action, v, vn);
        if (cur->action) {
            char *sp = strpbrk(cur->action, " (");
            if (sp)
                *sp = '\0';
            char *low = g_ascii_strdown(cur->action, -1);
            g_free(cur->action);
            cur->action = low;
            /* RFC 3464 2.3.3 names five actions; MTAs also write "failure" and
             * "error" for a failed delivery. */
            if (strcmp(low, "failure") == 0 || strcmp(low, "error") == 0
                || strcmp(low, "fail") == 0) {
                g_free(cur->action);
                cur->action = g_strdup("failed");
            }
        }
    } else if (IS("Status")) {
        char code[16];
        char *tmp = g_strndup(v, vn);
        if (dsn_status_find(tmp, false, code))
            dsn_set(&cur->status, code, strlen(code));
        g_free(tmp);
    } else if (IS("Diagnostic-Code")) {
        strip_type(&v, &vn);
        dsn_set(&cur->diag, v, vn);
    } else if (IS("Remote-MTA")) {
        strip_type(&v, &vn);
        dsn_set(&cur->rmta, v, vn);
        if (cur->rmta) {
            /* "mx.example.jp [192.0.2.1]" style values: keep the name. */
            char *br = strpbrk(cur->rmta, " [");
            if (br && br != cur->rmta)
                *br = '\0';
            if (cur->rmta[0] == '[') {
                char *t = g_strdup(g_strstrip(g_strdelimit(cur->rmta, "[]", ' ')));
                g_free(cur->rmta);
                cur->rmta = t;
            }
        }
    }
    return ret;
#undef IS
}

int dsn_rfc3464_fields(struct dsn_scan *s, const char *text, size_t len)
{
    guint before = s->ents->len;
    const char *end = text + len;
    const char *p = text;
    struct dsn_ent *cur = NULL;
    struct dsn_ent pend = {0};
    guint para_first = s->ents->len;
    GString *val = g_string_new(NULL);
    const char *name = NULL;
    size_t nl = 0;
    int lines = 0;

    while (p < end && lines++ < DSN_MAX_LINES) {
        const char *next;
        size_t ll = dsn_line(p, end, &next);
        bool cont = ll > 0 && (p[0] == ' ' || p[0] == '\t');
        if (cont && name) {
            if (val->len < DSN_MAX_DIAG)
                g_string_append_len(val, p, (gssize)ll);
            p = next;
            continue;
        }
        if (name) {
            cur = field(s, cur, &pend, name, nl, val->str, val->len);
            name = NULL;
        }
        if (ll == 0 || (ll == 1 && p[0] == '\r')) {
            /* A blank line ends a recipient block. */
            if (cur && (cur->rcpt || cur->orig_rcpt))
                cur = NULL;
            pend_apply(s, para_first, &pend);
            pend_clear(&pend);
            para_first = s->ents->len;
            p = next;
            continue;
        }
        const char *colon = memchr(p, ':', ll);
        if (colon && colon > p && colon - p < 64) {
            /* Blanks between name and colon are RFC 822's obsolete syntax (RFC 5322
             * 4.5), still written by some gateways ("Status : 5.0.0"). */
            const char *ne = colon;
            while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
                ne--;
            bool ok = ne > p;
            for (const char *q = p; q < ne; q++)
                if (!(g_ascii_isalnum(*q) || *q == '-' || *q == '_'))
                    ok = false;
            if (ok) {
                name = p;
                nl = (size_t)(ne - p);
                g_string_assign(val, "");
                g_string_append_len(val, colon + 1, (gssize)(ll - (size_t)(colon + 1 - p)));
            }
        }
        p = next;
    }
    if (name)
        field(s, cur, &pend, name, nl, val->str, val->len);
    pend_apply(s, para_first, &pend);
    pend_clear(&pend);
    g_string_free(val, TRUE);

    /* Drop blocks that named no recipient at all. */
    for (guint i = s->ents->len; i > before; i--) {
        struct dsn_ent *e = g_ptr_array_index(s->ents, i - 1);
        if (e->rcpt && e->orig_rcpt && e->routed && !dsn_addr_routable(e->rcpt)
            && dsn_addr_routable(e->orig_rcpt)) {
            /* "Final-Recipient: rfc822;@relay:user@server": a source route to an
             * internal name of the reporting site. The address the sender used is
             * the one that means something to us. */
            g_free(e->rcpt);
            e->rcpt = g_strdup(e->orig_rcpt);
        }
        if (!e->rcpt && e->orig_rcpt) {
            e->rcpt = e->orig_rcpt;
            e->orig_rcpt = g_strdup(e->rcpt);
        }
        if (!e->rcpt)
            g_ptr_array_remove_index(s->ents, i - 1);
    }
    return (int)(s->ents->len - before);
}

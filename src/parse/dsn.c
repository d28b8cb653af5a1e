/*
 * dsn.c: the bounce recogniser. dsn_parse() is called by parse.c for every mail
 * that is not an ARF report. It walks the MIME tree (depth <= DSN_MAX_DEPTH,
 * at most DSN_MAX_PARTS parts), reads RFC 3464 message/delivery-status and
 * message/global-delivery-status parts (dsn_rfc3464.c), then the human-readable
 * text of the bounce for the non-standard formats (dsn_text.c), fills in what the
 * delivery-status part left out from that text, and decides status and reason for
 * each recipient (reason.h). The original message comes from a message/rfc822 or
 * text/rfc822-headers part, or from the text quoted after a marker line.
 *
 * Hostile input never makes it fail: it returns 0 (not a bounce) or 1 with
 * whatever it could read. Everything it stores goes into the report's arena;
 * temporary buffers are released before it returns.
 */
#include "dsn.h"

#include <string.h>

#include "dsn_priv.h"
#include "original.h"
#include "reason.h"

/* What the MIME walk found. Parts are borrowed from the scanned tree. */
struct dsn_walk {
    size_t n_parts;
    bool feedback;                          /* an ARF report: not ours */
    GPtrArray *ds_parts;                    /* message/(global-)delivery-status parts */
    const struct mime_part *text_part;      /* first text/plain outside an attached message */
    const struct mime_part *html_part;      /* first text/html, when there is no text/plain */
    const struct mime_part *orig_msg;       /* root of the first attached message */
    const struct mime_part *orig_headers;   /* first text/rfc822-headers */
};

static void walk(const struct mime_part *p, int depth, struct dsn_walk *w)
{
    if (!p || depth > DSN_MAX_DEPTH || w->n_parts++ >= DSN_MAX_PARTS)
        return;
    if (strcmp(p->type, "multipart") == 0) {
        if (strcmp(p->subtype, "report") == 0 && p->report_type &&
            strcmp(p->report_type, "feedback-report") == 0)
            w->feedback = true;
        size_t n = 0;
        for (const struct mime_part *c = p->child; c && n < DSN_MAX_PARTS; c = c->next, n++)
            walk(c, depth + 1, w);
        return;
    }
    if (p->message) {
        if (!w->orig_msg)
            w->orig_msg = p->message;
        return;
    }
    if (mime_is(p, "message", "delivery-status") || mime_is(p, "message", "global-delivery-status")) {
        g_ptr_array_add(w->ds_parts, (gpointer)p);
    } else if (mime_is(p, "message", "feedback-report")) {
        w->feedback = true;
    } else if (mime_is(p, "text", "rfc822-headers") || mime_is(p, "message", "rfc822-headers")
               || mime_is(p, "message", "global-headers")) {
        if (!w->orig_headers)
            w->orig_headers = p;
    } else if (mime_is(p, "text", "plain")) {
        if (!w->text_part)
            w->text_part = p;
    } else if (mime_is(p, "text", "html")) {
        if (!w->html_part)
            w->html_part = p;
    }
}

/* The decoded content of a leaf part as a NUL-terminated string (g_free), in UTF-8
 * for text parts; line ends are LF already (parse.c normalised the message). */
static char *part_text(struct arena *a, const struct mime_part *p, size_t *len)
{
    size_t n = 0;
    const char *s = strcmp(p->type, "text") == 0 ? mime_body_utf8(a, p, DSN_MAX_BODY, &n)
                                                 : mime_body(a, p, DSN_MAX_BODY, &n);
    *len = n;
    return g_strndup(s, n);
}

/* Reduces HTML to text: tags dropped, <br>, </p>, </div>, </tr> become line ends,
 * a few entities decoded. In place; returns the new length. */
static size_t html_to_text(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '<') {
            const char *gt = memchr(s + i, '>', n - i);
            if (!gt)
                break;
            size_t tl = (size_t)(gt - (s + i));
            if (dsn_hasprefix(s + i, tl, "<br") || dsn_hasprefix(s + i, tl, "</p")
                || dsn_hasprefix(s + i, tl, "</div") || dsn_hasprefix(s + i, tl, "</tr")
                || dsn_hasprefix(s + i, tl, "<p") || dsn_hasprefix(s + i, tl, "</h"))
                s[o++] = '\n';
            i += tl;
            continue;
        }
        if (s[i] == '&') {
            static const struct {
                const char *ent;
                char c;
            } ents[] = {{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&nbsp;", ' '},
                        {"&quot;", '"'}, {"&#39;", '\''}};
            bool done = false;
            for (size_t k = 0; k < G_N_ELEMENTS(ents); k++) {
                size_t el = strlen(ents[k].ent);
                if (dsn_hasprefix(s + i, n - i, ents[k].ent)) {
                    s[o++] = ents[k].c;
                    i += el - 1;
                    done = true;
                    break;
                }
            }
            if (done)
                continue;
        }
        s[o++] = s[i];
    }
    s[o] = '\0';
    return o;
}

/* Copies a top-level header (decoded) into a GLib string, or NULL. */
static char *header_dup(struct arena *a, const struct mime_part *root, const char *name)
{
    const char *v = mime_header(a, root->hdr, root->hdr_len, name);
    return v ? g_strdup(mime_decode_header(a, v)) : NULL;
}

/* Fills recipients' missing diagnostic text and command from the text body. */
static void merge_text(struct dsn_scan *s, struct dsn_scan *t)
{
    for (guint i = 0; i < s->ents->len; i++) {
        struct dsn_ent *e = g_ptr_array_index(s->ents, i);
        struct dsn_ent *x = dsn_ent_find(t, e->rcpt);
        if (!x && t->ents->len == 1 && s->ents->len == 1)
            x = g_ptr_array_index(t->ents, 0);
        if (!x)
            continue;
        if (!dsn_addr_routable(e->rcpt) && x->rcpt && dsn_addr_routable(x->rcpt)
            && s->ents->len == 1 && t->ents->len == 1) {
            /* "Final-Recipient: rfc822; @mx.example.org" (a Sendmail that lost the
             * local part): the text names the one recipient properly. */
            g_free(e->rcpt);
            e->rcpt = g_strdup(x->rcpt);
        }
        if (x->diag && (!e->diag || strstr(x->diag, e->diag))
            && !strstr(x->diag, "Final-Recipient:") && !strstr(x->diag, "Diagnostic-Code:")) {
            /* The text often says more ("host ... said: ... (in reply to RCPT TO
             * command)") than the Diagnostic-Code field. */
            g_free(e->diag);
            e->diag = g_strdup(x->diag);
        }
        if (!e->cmd && x->cmd)
            e->cmd = g_strdup(x->cmd);
        if (!e->reason)
            e->reason = x->reason;
        if (!e->cmd && !dsn_cmd_guess(e->diag) && dsn_cmd_guess(x->diag))
            e->cmd = g_strdup(dsn_cmd_guess(x->diag));
        if (!e->rmta && x->rmta)
            e->rmta = g_strdup(x->rmta);
    }
}

/* Counts how often the word w occurs in s (bounded by s's length). */
static int count_word(const char *s, const char *w)
{
    int n = 0;
    size_t wl = strlen(w);
    if (wl == 0)
        return 0;
    for (const char *p = strstr(s, w); p; p = strstr(p + wl, w)) {
        bool left = p == s || !g_ascii_isalnum(p[-1]);
        bool right = !g_ascii_isalnum(p[wl]);
        if (left && right)
            n++;
    }
    return n;
}

/* Multi-line SMTP replies repeat "550-5.7.1" at the start of every line; once
 * they are joined into one line the repeats are noise for the reason classifier.
 * Removes every " NNN-X.Y.Z" / " NNN X.Y.Z" / " NNN " after the first character
 * when the codes occur more than twice. Returns a new string (g_free). */
static char *diag_sweep(const char *diag)
{
    char vs[16];
    int reply = dsn_reply_find(diag);
    bool have_vs = dsn_status_find(diag, false, vs);
    char vr[8];
    g_snprintf(vr, sizeof vr, "%d", reply);
    int n = (have_vs ? count_word(diag, vs) : 0) + (reply ? count_word(diag, vr) : 0);
    if (n <= 2)
        return g_strdup(diag);
    GString *g = g_string_sized_new(strlen(diag));
    for (const char *p = diag; *p;) {
        const char *q = p;
        if (*q == ';')
            q++;
        if (q != diag && *q == ' ' && (q[1] == '4' || q[1] == '5') && g_ascii_isdigit(q[2])
            && g_ascii_isdigit(q[3]) && (q[4] == ' ' || q[4] == '-')) {
            q += 5;
            char code[16];
            if (dsn_status_find(q, false, code) && strncmp(q, code, strlen(code)) == 0)
                q += strlen(code);
            g_string_append_c(g, ' ');
            p = q;
            continue;
        }
        g_string_append_c(g, *p++);
    }
    char *out = NULL;
    dsn_set(&out, g->str, g->len);
    g_string_free(g, TRUE);
    return out ? out : g_strdup(diag);
}

/* True when a diagnostic without any code says the failure was a time-out of
 * retries (the MTA gave up on a temporary error). */
static bool temporary_text(const char *diag)
{
    static const char *const marks[] = {"retry timeout exceeded", "have been failing for a long time",
                                        "Delay reason", "retry time not reached",
                                        "Technical details of temporary failure",
                                        "not yet been delivered", "Delivery attempts will continue",
                                        "will continue to try", "still trying to deliver"};
    for (size_t i = 0; i < G_N_ELEMENTS(marks); i++)
        if (dsn_memcasestr(diag, strlen(diag), marks[i]))
            return true;
    return false;
}

/* True when the bounce's Subject says it is a delay warning (the text's own
 * wording is read by dsn_text_parse: struct dsn_scan's warning). */
static bool subject_warning(const char *subject)
{
    static const char *const subj[] = {"delayed", "(delay)", "delay notification",
                                       "warning: could not send", "still being retried",
                                       "not yet been delivered"};
    for (size_t i = 0; subject && i < G_N_ELEMENTS(subj); i++)
        if (dsn_memcasestr(subject, strlen(subject), subj[i]))
            return true;
    return false;
}

/* True for an X.1.x status, which names the recipient's address as the problem. */
static bool user_status(const char *status)
{
    return status && (status[0] == '4' || status[0] == '5') && strncmp(status + 1, ".1.", 3) == 0;
}

/* True when the status code by itself means that the recipient's address is
 * unknown (X.1.x; Exchange's permanent 5.4.1 "Recipient address rejected: Access
 * denied" and 5.1.3xx), whatever the text around it says. */
static bool status_means_unknown_user(const char *status)
{
    return user_status(status)
           || (status && strcmp(reason_classify("", status, NULL, NULL), "userunknown") == 0);
}

/* Formats whose notice names a missing mailbox only when the recipient is unknown
 * (the gateway looked the address up itself), so their "unknown user" is never a
 * filter speaking. */
static bool format_explicit_user(const char *format, const char *diag)
{
    static const char *const fmts[] = {"exchange2003", "imailserver", "notes", "trendmicro"};
    /* Directory gateways (Domino, InterScan) that say so in their own words. */
    static const char *const phrases[] = {"not listed in Domino Directory",
                                          "not listed in public Name & Address Book",
                                          "Unable to deliver message to <"};
    for (size_t i = 0; format && i < G_N_ELEMENTS(fmts); i++)
        if (strcmp(format, fmts[i]) == 0)
            return true;
    for (size_t i = 0; diag && i < G_N_ELEMENTS(phrases); i++)
        if (dsn_memcasestr(diag, strlen(diag), phrases[i]))
            return true;
    return false;
}

/* X.4.7 ("delivery time expired") only says the MTA gave up; when the diagnostic
 * quotes the remote host's last reply ("... expired <421 4.4.2 Connection timed
 * out>"), that reply's code names the cause. Copies the last specific code in
 * diag other than an X.4.7 to out; false when there is none. */
static bool last_inner_code(const char *diag, char out[16])
{
    bool found = false;
    char code[16];
    const char *p = diag;
    for (int k = 0; k < 64 && *p && dsn_status_find(p, true, code); k++) {
        const char *at = strstr(p, code);
        if (!at)
            break;
        if (strcmp(code + 1, ".4.7") != 0 && (code[0] == '4' || code[0] == '5')) {
            memcpy(out, code, sizeof code);
            found = true;
        }
        p = at + strlen(code);
    }
    return found;
}

/* Decides status, command and reason of one entry and stores it in r. format is
 * the bounce family (static, may be NULL), reporting_mta the bounce's own host
 * (may be NULL). */
/* The reason the text diag (swept) gives, with the status, command and action; a
 * mailbox's words that nothing places at RCPT time are a filter's (see below). */
static const char *diag_reason(const struct dsn_ent *e, const char *swept, const char *status,
                               const char *cmd, const char *action, bool explicit_user)
{
    char code[16];
    const char *reason = reason_classify(swept, status, cmd, action);
    if (strcmp(reason, "userunknown") == 0 && !cmd && !explicit_user && !user_status(e->status)
        && !status_means_unknown_user(status)
        && !(e->diag && dsn_status_find(e->diag, false, code) && user_status(code)))
        /* "No such user" that no SMTP command and no X.1.x code place at RCPT
         * time: a filter (often after DATA) answering in a mailbox's words. */
        reason = "filtered";
    return reason;
}

static bool reason_vague(const char *reason)
{
    return strcmp(reason, "onhold") == 0 || strcmp(reason, "undefined") == 0;
}

static void finish_ent(struct report *r, const struct dsn_ent *e, const char *format,
                       const char *reporting_mta, bool warning, const char *notice)
{
    bool explicit_user = format_explicit_user(format, e->diag);
    struct dsn_rcpt *d = report_add_rcpt(r);
    d->final_recipient = report_strtrim(r, e->rcpt, -1);
    d->original_recipient = report_strtrim(r, e->orig_rcpt, -1);
    d->remote_mta = report_strtrim(r, e->rmta, -1);

    const char *cmd = e->cmd ? e->cmd : dsn_cmd_guess(e->diag);
    d->smtp_command = report_str(r, cmd, -1);

    /* The status field wins unless the diagnostic names a more precise code;
     * a diagnostic code is the fallback when the bounce has no status field. */
    char code[16];
    const char *status = e->status;
    bool vague = !status || (strlen(status) == 5 && strcmp(status + 1, ".0.0") == 0);
    if (e->diag && dsn_status_find(e->diag, true, code) && !(status && status[0] == '2'))
        status = code;
    else if (vague && e->diag && dsn_status_find(e->diag, false, code)
             && strcmp(code + 1, ".0.0") != 0)
        status = code;
    else if (!status && e->diag && dsn_status_find(e->diag, false, code))
        status = code;
    else if (status && status[0] == '4' && e->action && g_ascii_strcasecmp(e->action, "failed") == 0
             && e->diag && dsn_status_find(e->diag, false, code) && code[0] == '5')
        /* "Action: failed" with a transient Status contradicts itself (RFC 3464
         * 2.3.3); the remote server's own permanent code settles it. */
        status = code;

    char inner[16];
    char ncode[16]; /* a code taken from the notice, below */
    if (status && strlen(status) == 5 && strcmp(status + 1, ".4.7") == 0 && e->diag
        && last_inner_code(e->diag, inner))
        status = inner;

    const char *action = e->action;
    char *swept = e->diag ? diag_sweep(e->diag) : NULL;
    const char *reason = e->reason;
    if (!reason)
        reason = dsn_rhost_reason(e->rmta, e->rcpt, reporting_mta, swept, e->status, cmd);
    if (!reason) {
        reason = diag_reason(e, swept, status, cmd, action, explicit_user);
        const char *nstatus = NULL;
        if (reason_vague(reason) && notice) {
            /* The recipient's own text names no cause: the notice may, for all
             * of its recipients; it then follows the diagnostic. */
            char *both = g_strconcat(swept ? swept : "", swept ? " " : "", notice, NULL);
            char *bs = diag_sweep(both);
            g_free(both);
            /* A code the notice gives (RFC 3463) then stands for this recipient
             * too, when its own text had none. */
            if (!status && dsn_status_find(notice, true, ncode))
                nstatus = ncode;
            const char *r2 = diag_reason(e, bs, status ? status : nstatus, cmd, action,
                                         explicit_user);
            if (!reason_vague(r2)) {
                if (nstatus)
                    status = nstatus;
                reason = r2;
                g_free(swept);
                swept = bs;
                bs = NULL;
            }
            g_free(bs);
        }
    }
    d->diagnostic_code = report_strtrim(r, swept, -1);
    g_free(swept);
    bool temporary = false;
    if (status)
        temporary = status[0] == '4';
    else if (action && g_ascii_strcasecmp(action, "delayed") == 0)
        temporary = true;
    else if (e->diag)
        temporary = dsn_reply_find(e->diag) / 100 == 4 || temporary_text(e->diag);
    if (!status)
        status = reason_internal_status(reason, temporary);
    d->status = report_str(r, status, -1);
    d->reason = report_str(r, reason, -1);
    /* Without an Action field: "delayed" only when the notice says delivery goes
     * on; an MTA that reports a time-out or a transient code without saying so
     * has given up (RFC 3464 2.3.3: "failed"). */
    if (!action)
        action = reason && strcmp(reason, "delivered") == 0 ? "delivered"
                 : warning                                   ? "delayed"
                                                             : "failed";
    d->action = report_str(r, action, -1);
}

int dsn_parse(struct report *r, const struct mime_part *root, struct arena *a, const char *text,
              size_t len)
{
    if (!r || !root)
        return 0;
    int ret = 0;
    struct dsn_scan s, t;
    dsn_scan_init(&s);
    dsn_scan_init(&t);
    struct dsn_walk w = {0};
    w.ds_parts = g_ptr_array_new();
    char *body = NULL;
    size_t body_len = 0;
    char *from = header_dup(a, root, "From");
    char *subject = header_dup(a, root, "Subject");
    char *failed = header_dup(a, root, "X-Failed-Recipients");
    char *to = header_dup(a, root, "To");

    walk(root, 0, &w);
    if (w.feedback)
        goto out;

    for (guint i = 0; i < w.ds_parts->len; i++) {
        size_t n = 0;
        char *ds = part_text(a, g_ptr_array_index(w.ds_parts, i), &n);
        if (ds)
            dsn_rfc3464_fields(&s, ds, n);
        g_free(ds);
    }
    if (s.ents->len > 0)
        s.format = "rfc3464";

    if (w.text_part) {
        body = part_text(a, w.text_part, &body_len);
    } else if (w.html_part) {
        body = part_text(a, w.html_part, &body_len);
        if (body)
            body_len = html_to_text(body, body_len);
    } else if (w.ds_parts->len == 0 && !w.orig_msg && root->body && root->body_len > 0) {
        /* No readable part at all (a multipart whose boundary parameter was lost
         * to a broken header fold): read the raw body as text. */
        body_len = root->body_len < DSN_MAX_BODY ? root->body_len : DSN_MAX_BODY;
        body = g_strndup(root->body, body_len);
        body_len = strlen(body);
    }
    if (s.ents->len == 0 && text && len > 0) {
        /* Delivery-status fields quoted in a text part or in a broken MIME body. */
        const char *fr = dsn_memcasestr(text, len, "\nFinal-Recipient:");
        if (fr && (dsn_memcasestr(text, len, "\nStatus:") || dsn_memcasestr(text, len, "\nAction:"))) {
            const char *start = fr + 1;
            const char *rm = dsn_memcasestr(text, (size_t)(fr - text) + 1, "\nReporting-MTA:");
            if (rm)
                start = rm + 1;
            dsn_rfc3464_fields(&s, start, len - (size_t)(start - text));
            if (s.ents->len > 0)
                s.format = "rfc3464";
        }
    }
    if (body && s.ents->len == 0) {
        if (dsn_amazonses_parse(&s, body, body_len) < 0)
            goto out;
    }
    if (body) {
        dsn_text_parse(&t, body, body_len, from, subject, to, failed);
        if (s.ents->len == 0) {
            /* No delivery-status part: the text is all there is. */
            GPtrArray *tmp = s.ents;
            s.ents = t.ents;
            t.ents = tmp;
            s.format = t.format;
        } else {
            merge_text(&s, &t);
            if (t.format && strcmp(t.format, "opensmtpd") == 0)
                /* OpenSMTPD fills its delivery-status part with class codes only
                 * ("5.0.0", "4.4.7" for any delay): the text's reason is what
                 * counts, with the reason's own code. */
                for (guint i = 0; i < s.ents->len; i++) {
                    struct dsn_ent *e = g_ptr_array_index(s.ents, i);
                    g_clear_pointer(&e->status, g_free);
                    g_clear_pointer(&e->action, g_free);
                }
        }
        if (t.inline_orig) {
            s.inline_orig = t.inline_orig;
            s.inline_orig_len = t.inline_orig_len;
        }
    }
    if (s.ents->len == 0 && (t.format || w.ds_parts->len > 0) && (w.orig_msg || w.orig_headers)) {
        /* A bounce whose notice and report name no recipient ("Delivery report
         * unavailable"): the attached original's envelope recipient or To. */
        size_t hn = 0;
        const char *h = w.orig_msg ? w.orig_msg->hdr : mime_body(a, w.orig_headers, DSN_MAX_BODY, &hn);
        if (w.orig_msg)
            hn = w.orig_msg->hdr_len;
        size_t dl = body ? (body_len < DSN_MAX_DIAG ? body_len : DSN_MAX_DIAG) : 0;
        dsn_text_from_original(&s, h, hn, from, to, body, dl);
        if (s.ents->len > 0 && !s.format)
            s.format = t.format ? t.format : "rfc3464";
    }
    if (s.ents->len == 0)
        goto out;

    r->kind = REPORT_DSN;
    r->dsn_format = report_str(r, s.format ? s.format : "unknown", -1);
    if (s.reporting_mta)
        r->reporting_mta = report_strtrim(r, s.reporting_mta, -1);
    else if (t.reporting_mta)
        r->reporting_mta = report_strtrim(r, t.reporting_mta, -1);
    bool warning = t.warning || subject_warning(subject);
    const char *notice = s.notice ? s.notice : t.notice;
    for (guint i = 0; i < s.ents->len; i++)
        finish_ent(r, g_ptr_array_index(s.ents, i), s.format,
                   s.reporting_mta ? s.reporting_mta : t.reporting_mta, warning, notice);

    if (w.orig_msg) {
        original_from_text(r, w.orig_msg->hdr, w.orig_msg->hdr_len);
    } else if (w.orig_headers) {
        size_t hn = 0;
        const char *h = mime_body(a, w.orig_headers, DSN_MAX_BODY, &hn);
        original_from_text(r, h, hn);
    }
    else if (s.inline_orig)
        original_from_text(r, s.inline_orig, s.inline_orig_len);
    ret = 1;

out:
    g_ptr_array_free(w.ds_parts, TRUE);
    dsn_scan_clear(&s);
    dsn_scan_clear(&t);
    g_free(body);
    g_free(from);
    g_free(subject);
    g_free(failed);
    g_free(to);
    return ret;
}

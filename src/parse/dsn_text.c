/*
 * dsn_text.c: reads the human-readable text of a bounce, for the many MTAs that
 * send no RFC 3464 delivery-status part (qmail, Exim, DragonFly, Gmail, Yahoo,
 * Exchange 2003, OpenSMTPD, Lotus Notes, ...) and to complete the ones that do.
 * Called by dsn.c with the first text/plain part of the bounce.
 *
 * One line engine serves all families, driven by marker tables: a family is
 * recognised by a phrase of its text; the recipient list starts after a "start"
 * phrase; a recipient is a line that begins with an address (optionally after a
 * known lead-in like "Could not be delivered to:"); its diagnostic is the rest
 * of that line and the lines that follow it up to a blank line; the bounce text
 * ends at an "original message follows" marker, after which the quoted original
 * headers begin. Bad input gives fewer or no entries, never an error; at most
 * DSN_MAX_LINES lines are read. Entries belong to the scan.
 */
#include "dsn_priv.h"

#include <string.h>

#include "dsn_grams.h"
#include "reason.h"

/* Family flags. */
enum {
    FAM_DIAG_REST = 1 << 0,     /* diagnostic runs over blank lines up to the end marker */
    FAM_DIAG_BEFORE = 1 << 1,   /* diagnostic is the line(s) before the address */
    FAM_WHOLE_BODY = 1 << 2,    /* recipients from X-Failed-Recipients, diag = whole text */
    FAM_LAX = 1 << 3,           /* "Some reason: addr" lines name a recipient too */
    FAM_DETAILS = 1 << 4,       /* "Error..." lines, then a list of the original's
                                 * fields ("RCPT TO: addr" or "To: addr") */
};

struct family {
    const char *name;
    const char *needles[4];     /* any of them in the bounce text identifies the family */
    int flags;
    const char *reason;         /* what the family's notice always means, or NULL */
};

/* Checked in order; the first family with a matching phrase names the bounce. */
static const struct family families[] = {
    /* Handset gateways (Verizon's MMSC, Apache James based SMS gateways): an error
     * paragraph, then "Message details:" or "Original Message:" with the fields. */
    {"apachejames", {"Error message below:\n", "\nMessage details:\n"}, FAM_DETAILS, NULL},
    {"verizon", {"Message could not be delivered to mobile"}, FAM_DETAILS, NULL},
    {"x3", {"This is an automatically generated Delivery Status Notification."}, FAM_DIAG_REST,
     NULL},
    {"x6", {"We had trouble delivering your message. Full details follow:"}, 0, NULL},
    {"dragonfly", {"This is the DragonFly Mail Agent", "There was an error delivering your mail to"},
     FAM_DIAG_REST, NULL},
    {"googlegroups", {"Google Groups", "group you tried to contact", "groups.google.com"},
     FAM_WHOLE_BODY, "rejected"},
    {"gmail", {"Delivery to the following recipient", "Technical details of permanent failure",
               "Technical details of temporary failure"},
     FAM_DIAG_REST, NULL},
    {"qmail", {"This is the qmail-send program", "qmail-send program at",
               "I'm afraid I wasn't able to deliver your message"}, 0, NULL},
    {"yahoo", {"Sorry, we were unable to deliver your message to the following address"}, 0, NULL},
    {"postfix", {"This is the mail system at host", "This is the Postfix program at host",
                 "This is the mail system at"}, 0, NULL},
    {"opensmtpd", {"This is the MAILER-DAEMON, please DO NOT REPLY",
                   "following list of recipients"}, 0, NULL},
    {"mailru", {"Mail.Ru", "\xd0\xad\xd1\x82\xd0\xbe \xd0\xbf\xd0\xb8\xd1\x81\xd1\x8c\xd0\xbc\xd0\xbe"}, 0, NULL},
    {"exim", {"This message was created automatically by mail delivery software",
              "The following address(es) failed", "could not be delivered to one or more"}, 0, NULL},
    {"exchange2003", {"did not reach the following recipient"}, 0, NULL},
    {"sendmail", {"----- The following addresses had permanent fatal errors -----",
                  "----- Transcript of session follows -----",
                  "The following addresses had permanent fatal errors"}, 0, NULL},
    {"notes", {"------- Failure Reasons", "Failure Reasons"}, FAM_DIAG_BEFORE, NULL},
    {"kddi", {"Could not be delivered to:"}, 0, NULL},
    {"office365", {"Delivery has failed to these recipients",
                   "Diagnostic information for administrators"}, 0, NULL},
    {"imailserver", {"Original message follows."}, FAM_LAX, NULL},
    {"x1", {"The following addresses had delivery errors"}, 0, NULL},
    /* Mimecast's gateway: "-- addr", then "The problem appears to be :" and
     * "Additional information follows :" paragraphs, each item after "-- ". */
    {"mimecast", {"The problem appears to be :", "Additional information follows :"},
     FAM_DIAG_REST, NULL},
};

/* Phrases after which the failed recipients are listed. */
static const char *const start_markers[] = {
    "The following address(es) failed",
    "address(es) failed",
    "following address failed",
    "following addresses failed",
    "This is a permanent error",
    "could not be delivered to one or more",
    "has not yet been delivered to one or more",
    "I'm afraid I wasn't able to deliver your message",
    "unable to deliver your message to the following",
    "Delivery to the following recipient",
    "did not reach the following recipient",
    "following list of recipients",
    "had permanent fatal errors",
    "had delivery errors",
    "Failure Reasons",
    "There was an error delivering your mail to",
    "following recipient",
    "following address",
    "This is the mail system at",
    "This is the qmail-send program",
    "Your mail sent on:",
    "could not be delivered to the following",
    "delivery to the following",
    "Delivery has failed to these recipients",
    "Your message wasn't delivered to",
    "Your message could not be delivered",
    "message could not be delivered",
};

/* Lines that start the quoted original message (searched case-insensitively). */
static const char *const end_markers[] = {
    "This is a copy of the message, including all the headers",
    "Below this line is a copy of the message",
    "----- Original message -----",
    "Message headers follow",
    "Below is a copy of the original message",
    "----- Unsent message follows -----",
    "----- Original message follows -----",
    "Original message follows",
    "------- Returned Message --------",
    "Included is a copy of the message header",
    "The header of the original message is following",
    "----- Original Message -----",
    "--- Original message follows",
    "The headers of the original message",
    "Original message header",
    "Message header follows",
    "----- Message header follows -----",
    "------ Original message ------",
    "Content-Type: message/rfc822",
    "The original message was:",
    "The original message headers",
    "Original message headers",
    "------ This is a copy of your message",
    "--- Original Message ---",
    "Header of the original message",
    /* Other wordings of "the original follows" (LISTSERV, Demon, MDaemon, USA.NET,
     * phquery, HotPOP, Exchange 5.5 gateways, ...). */
    "START OF RETURNED MESSAGE",
    "RETURNED MAIL FOLLOWS",
    "-------- Returned Mail --------",
    "Unsent Message below",
    "Your message reads (in part)",
    "copy of the original message below",
    "Original message attached",
    "Original message as received",
    "lines of the message follows",
    "summary of the undelivered message you sent follows",
};

/* Phrases of a notice that says delivery is still being tried (a delay warning,
 * RFC 3464 "delayed"), not that the MTA gave up. Lower case. */
static const char *const warning_marks[] = {
    "not yet been delivered", "delivery attempts will continue", "will continue to try",
    "will continue to attempt", "still being retried", "still trying to deliver",
    "will be retried", "will retry", "warning message only", "this is a warning",
    "this is just a warning", "is a warning only", "no action is required on your part",
    "has been postponed", "has been delayed", "delivery is delayed", "message delayed",
    "delay in the delivery", "delay notification", "delayed delivery notification",
    "still awaiting delivery",
};

/* Lead-ins after which a recipient address starts a line. */
static const char *const lead_ins[] = {
    "There was an error delivering your mail to",
    "Could not be delivered to:",
    "Unknown user:",
    "Invalid recipient:",
    "Recipient address:",
    "Failed recipient:",
    "Delivery failed:",
    "-- ",
    "Recipient:",
    "Original-Recipient:",
    "Final-Recipient: rfc822;",
    "The following recipients returned permanent errors:",
    "The following recipients returned temporary errors:",
    ">>>",
    "* ",
    "To:",
};

struct tline {
    const char *p;
    size_t n;
};

static bool blank(const struct tline *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (!g_ascii_isspace(l->p[i]))
            return false;
    return true;
}

/* Offset of the earliest phrase of tab in the lower-cased text lb[from..len), or
 * len when none occurs. One memmem per phrase over the whole text, instead of
 * one case-insensitive search per phrase and line. */
static size_t first_of(const struct dsn_grams *g, const char *lb, size_t from, size_t len,
                       const char *const *tab, size_t ntab)
{
    size_t best = len;
    for (size_t i = 0; i < ntab && from < best; i++) {
        if (!dsn_grams_maybe(g, tab[i]))
            continue;
        const char *hit = dsn_lfind(lb + from, best - from, tab[i]);
        if (hit)
            best = (size_t)(hit - lb);
    }
    return best;
}

/* Index of the line holding byte offset off of the text (lines sorted by start). */
static guint line_at(GArray *lines, const char *body, size_t off)
{
    guint lo = 0, hi = lines->len;
    while (hi - lo > 1) {
        guint mid = lo + (hi - lo) / 2;
        if ((size_t)(g_array_index(lines, struct tline, mid).p - body) <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* When l is a recipient line, returns the address (and its length in *alen) and
 * sets *rest to the text after it. allow_to permits the "To:" lead-in. */
static const char *rcpt_line(const struct tline *l, bool allow_to, size_t *alen, const char **rest)
{
    const char *p = l->p;
    const char *end = l->p + l->n;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p == end)
        return NULL;
    /* An SMTP reply continued over lines ("550-user@example.org is not ...",
     * "550 5.1.1 ...") is part of the diagnostic above it. */
    if (end - p >= 4 && (p[0] == '2' || p[0] == '4' || p[0] == '5') && g_ascii_isdigit(p[1])
        && g_ascii_isdigit(p[2]) && (p[3] == '-' || p[3] == ' '))
        return NULL;
    /* A header line of a quoted message or a DSN field is not a recipient line,
     * except for the lead-ins below. */
    for (size_t i = 0; i < G_N_ELEMENTS(lead_ins); i++) {
        if (!allow_to && strcmp(lead_ins[i], "To:") == 0)
            continue;
        if (dsn_hasprefix(p, (size_t)(end - p), lead_ins[i])) {
            p += strlen(lead_ins[i]);
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            break;
        }
    }
    /* An X.400 O/R address whose domain-defined attribute carries the Internet
     * address ("c=US;a= ;p=ORG;o=Site;dda:SMTP=user@example.com;"). */
    if (end - p > 2 && g_ascii_strncasecmp(p, "c=", 2) == 0) {
        const char *dda = dsn_memcasestr(p, (size_t)(end - p), "SMTP=");
        if (dda)
            p = dda + 5;
    }
    const char *q = p;
    while (q < end && (*q == '<' || *q == '"' || *q == '\'' || *q == '(' || *q == '['))
        q++;
    /* An address-type prefix ("[SMTP:user@example.com]", "rfc822;user@...") */
    static const char *const types[] = {"SMTP:", "rfc822;", "rfc822:"};
    for (size_t i = 0; i < G_N_ELEMENTS(types); i++)
        if (dsn_hasprefix(q, (size_t)(end - q), types[i])) {
            q += strlen(types[i]);
            while (q < end && *q == ' ')
                q++;
            break;
        }
    size_t n = 0;
    const char *a = dsn_addr_find(q, (size_t)(end - q), &n);
    if (!a || a != q)
        return NULL;
    const char *r = a + n;
    while (r < end && strchr(">\"')]", *r))
        r++;
    /* "addr:" / "addr..." / "addr " / end of line: all fine. "addr@x.y=foo" is not. */
    if (r < end && !(g_ascii_isspace(*r) || *r == ':' || *r == '.' || *r == ',' || *r == ';'
                     || *r == '<'))
        return NULL;
    *alen = n;
    *rest = r;
    return a;
}

/* Text after an address on its line, without the separators MTAs put there. */
static void rest_trim(const char **r, const char *end)
{
    const char *p = *r;
    while (p < end && (g_ascii_isspace(*p) || *p == ':' || *p == '.' || *p == ',' || *p == ';'))
        p++;
    *r = p;
}

/* True when s[0..n) says nothing beyond addresses and punctuation ("<addr>",
 * "addr, addr2"): such text is no diagnostic. */
static bool addr_only(const char *s, size_t n)
{
    const char *p = s;
    const char *end = s + n;
    while (p < end) {
        size_t alen = 0;
        const char *a = dsn_addr_find(p, (size_t)(end - p), &alen);
        const char *stop = a ? a : end;
        for (const char *q = p; q < stop; q++)
            if (g_ascii_isalnum(*q))
                return false;
        if (!a)
            break;
        p = a + alen;
    }
    return true;
}

/* Splits [body, body+len) into lines (at most DSN_MAX_LINES). */
static GArray *split_lines(const char *body, size_t len)
{
    GArray *a = g_array_new(FALSE, FALSE, sizeof(struct tline));
    const char *p = body;
    const char *end = body + len;
    while (p < end && a->len < DSN_MAX_LINES) {
        const char *next;
        struct tline l = {p, dsn_line(p, end, &next)};
        g_array_append_val(a, l);
        p = next;
    }
    return a;
}

/* The first family (in table order) with a phrase in the lower-cased text lb. */
static const struct family *detect(const struct dsn_grams *g, const char *lb, size_t len)
{
    size_t scan = len < 16384 ? len : 16384;
    for (size_t i = 0; i < G_N_ELEMENTS(families); i++)
        for (size_t k = 0; k < G_N_ELEMENTS(families[i].needles) && families[i].needles[k]; k++)
            if (dsn_grams_maybe(g, families[i].needles[k])
                && dsn_lfind(lb, scan, families[i].needles[k]))
                return &families[i];
    return NULL;
}

/* True when the bounce's own headers say it is a bounce. */
static bool bouncy_headers(const char *from, const char *subject)
{
    static const char *const froms[] = {"mailer-daemon", "postmaster", "mail delivery",
                                        "mail-daemon", "mailer_daemon", "maildaemon",
                                        "delivery subsystem", "mdaemon"};
    static const char *const subjects[] = {
        "undeliver", "delivery status", "failure notice", "returned mail", "delivery fail",
        "mail delivery", "could not be delivered", "non remis", "nondeliverable",
        "non-deliver", "delivery notification", "not delivered", "delivery problem",
        "undelivered", "mail failure", "failed delivery", "delivery error", "bounce",
        "rejected", "error sending", "warning: could not send", "delayed mail",
        "unzustellbar", "delivery report", "message not delivered", "mail error",
        "returned to sender", "fehlgeschlagen"};
    if (from)
        for (size_t i = 0; i < G_N_ELEMENTS(froms); i++)
            if (dsn_memcasestr(from, strlen(from), froms[i]))
                return true;
    if (subject)
        for (size_t i = 0; i < G_N_ELEMENTS(subjects); i++)
            if (dsn_memcasestr(subject, strlen(subject), subjects[i]))
                return true;
    return false;
}

/* Sets s->inline_orig to the first header-like line within 20 lines after line i
 * (the end marker line). */
static void original_after(struct dsn_scan *s, GArray *lines, guint i, const char *body, size_t len)
{
    for (guint k = i + 1; k < lines->len && k < i + 20; k++) {
        struct tline *h = &g_array_index(lines, struct tline, k);
        if (blank(h))
            continue;
        const char *colon = memchr(h->p, ':', h->n);
        if (!colon || colon == h->p || memchr(h->p, ' ', (size_t)(colon - h->p)))
            continue;
        s->inline_orig = h->p;
        s->inline_orig_len = len - (size_t)(h->p - body);
        break;
    }
}

void dsn_text_find_original(struct dsn_scan *s, const char *body, size_t len)
{
    char *lb = dsn_lower_dup(body, len);
    struct dsn_grams g;
    dsn_grams_build(&g, lb, len);
    size_t off = first_of(&g, lb, 0, len, end_markers, G_N_ELEMENTS(end_markers));
    g_free(lb);
    if (off >= len)
        return;
    GArray *lines = split_lines(body, len);
    if (lines->len > 0)
        original_after(s, lines, line_at(lines, body, off), body, len);
    g_array_free(lines, TRUE);
}

/* Adds (or extends) the entry for one address; returns it. */
static struct dsn_ent *add_rcpt(struct dsn_scan *s, const char *a, size_t n)
{
    char *addr = g_strndup(a, n);
    struct dsn_ent *e = dsn_ent_find(s, addr);
    if (!e) {
        e = dsn_ent_new(s);
        if (e)
            e->rcpt = addr;
        else
            g_free(addr);
    } else {
        g_free(addr);
    }
    return e;
}

/* X-Failed-Recipients: every address of the header, diag from the text. */
static int from_failed_header(struct dsn_scan *s, const char *failed, const char *diag,
                              size_t diag_len)
{
    int added = 0;
    const char *p = failed;
    size_t left = strlen(failed);
    for (int k = 0; k < DSN_MAX_RCPTS && left > 0; k++) {
        size_t n = 0;
        const char *a = dsn_addr_find(p, left, &n);
        if (!a)
            break;
        struct dsn_ent *e = add_rcpt(s, a, n);
        if (e && !e->diag && diag)
            dsn_set(&e->diag, diag, diag_len);
        added++;
        left -= (size_t)(a + n - p);
        p = a + n;
    }
    return added;
}

/* Sendmail's "----- Transcript of session follows -----": the SMTP dialogue,
 * ">>> RCPT To:<addr>" then "<<< 550 ..." lines. Gives recipients their diagnostic
 * (or creates them, for old Sendmail that lists no recipients). */
static void transcript(struct dsn_scan *s, GArray *lines, guint mark, guint end, guint before)
{
    if (mark >= end)
        return;
    guint t = mark + 1;
    if (t >= end)
        return;
    /* The paragraph, without the blank lines that open it. */
    while (t < end && blank(&g_array_index(lines, struct tline, t)))
        t++;
    guint te = t;
    while (te < end && !blank(&g_array_index(lines, struct tline, te)))
        te++;
    if (t == te)
        return;
    struct dsn_ent *cur = NULL;
    for (guint i = t; i < te; i++) {
        struct tline *l = &g_array_index(lines, struct tline, i);
        const char *p = l->p;
        size_t n = l->n;
        if (dsn_hasprefix(p, n, ">>> RCPT TO:")) {
            size_t alen = 0;
            const char *a = dsn_addr_find(p, n, &alen);
            cur = a ? add_rcpt(s, a, alen) : NULL;
            if (cur && !cur->cmd)
                cur->cmd = g_strdup("RCPT");
            if (cur)
                dsn_set(&cur->diag, NULL, 0);
            continue;
        }
        if (dsn_hasprefix(p, n, ">>> ")) {
            cur = NULL;
            continue;
        }
        if (cur && dsn_hasprefix(p, n, "<<< ")) {
            dsn_append(&cur->diag, p + 4, n - 4);
            continue;
        }
        /* "550 <addr>... User unknown", "550 5.1.1 <addr>...": only the address
         * the reply begins with names a recipient ("554 Too many hops: from
         * <sender> ..." names our sender). */
        if (n > 4 && g_ascii_isdigit(p[0]) && p[3] == ' ') {
            size_t alen = 0;
            const char *q = p + 4;
            const char *le = p + n;
            if (q < le && (*q == '4' || *q == '5') && q + 1 < le && q[1] == '.') {
                /* an enhanced status code: class.subject.detail */
                const char *c = q + 2;
                while (c < le && (g_ascii_isdigit(*c) || *c == '.'))
                    c++;
                q = c;
            }
            while (q < le && (*q == ' ' || *q == '<'))
                q++;
            const char *a = dsn_addr_find(p, n, &alen);
            if (a && a != q)
                a = NULL;
            if (a && (s->ents->len > before || a[-1] == '<')) {
                struct dsn_ent *e = add_rcpt(s, a, alen);
                if (e && !e->diag)
                    dsn_set(&e->diag, p, n);
            }
        }
    }
    /* A single recipient gets the whole dialogue when it has no diagnostic yet. */
    if (s->ents->len == before + 1) {
        struct dsn_ent *e = g_ptr_array_index(s->ents, before);
        if (!e->diag) {
            struct tline *a = &g_array_index(lines, struct tline, t);
            struct tline *b = &g_array_index(lines, struct tline, te - 1);
            dsn_set(&e->diag, a->p, (size_t)(b->p + b->n - a->p));
        }
    }
}

/* X-Failed-Recipients (Exim, Google) names the failed recipients exactly: keep
 * the text's entries for those addresses, add missing ones, and when the text
 * found just one unnamed entry for one header address, take its diagnostic. */
static void prefer_failed_header(struct dsn_scan *s, const char *failed, guint before,
                                 const char *region, size_t region_len)
{
    GPtrArray *addrs = g_ptr_array_new_with_free_func(g_free);
    const char *p = failed;
    size_t left = strlen(failed);
    while (left > 0 && addrs->len < DSN_MAX_RCPTS) {
        size_t n = 0;
        const char *a = dsn_addr_find(p, left, &n);
        if (!a)
            break;
        g_ptr_array_add(addrs, g_strndup(a, n));
        left -= (size_t)(a + n - p);
        p = a + n;
    }
    if (addrs->len == 0) {
        g_ptr_array_free(addrs, TRUE);
        return;
    }
    guint found = s->ents->len - before;
    bool all_known = true;
    for (guint i = 0; i < addrs->len; i++)
        if (!dsn_ent_find(s, g_ptr_array_index(addrs, i)))
            all_known = false;
    if (!all_known) {
        if (addrs->len == 1 && found == 1) {
            struct dsn_ent *e = g_ptr_array_index(s->ents, before);
            g_free(e->rcpt);
            e->rcpt = g_strdup(g_ptr_array_index(addrs, 0));
        } else {
            for (guint i = 0; i < addrs->len; i++) {
                const char *a = g_ptr_array_index(addrs, i);
                if (!dsn_ent_find(s, a)) {
                    struct dsn_ent *e = dsn_ent_new(s);
                    if (e)
                        e->rcpt = g_strdup(a);
                    /* One failed address and a notice that named it only by its
                     * local part: the whole notice is its diagnostic. */
                    if (e && addrs->len == 1 && region)
                        dsn_set(&e->diag, region, region_len);
                }
            }
        }
    }
    g_ptr_array_free(addrs, TRUE);
}

static bool header_like(const struct tline *l)
{
    const char *colon = memchr(l->p, ':', l->n);
    if (!colon || colon == l->p || colon - l->p > 40)
        return false;
    for (const char *q = l->p; q < colon; q++)
        if (!(g_ascii_isalnum(*q) || *q == '-'))
            return false;
    return true;
}

/* Appends the non-blank lines [from, to) that say more than an address to *diag,
 * at most max lines. */
static void append_prose(char **diag, GArray *lines, guint from, guint to, guint max)
{
    guint taken = 0;
    for (guint i = from; i < to && taken < max; i++) {
        struct tline *l = &g_array_index(lines, struct tline, i);
        if (blank(l) || addr_only(l->p, l->n))
            continue;
        dsn_append(diag, l->p, l->n);
        taken++;
    }
}

/* A bounce for one recipient whose address stood alone on its line ("The following
 * address failed:\n  addr\n\nFor the following reason:\n  ..."): the reason is
 * the prose after the address, or, when there is none, the prose before it. */
static void notice_diag(struct dsn_ent *e, GArray *lines, guint start, guint end)
{
    if (e->diag || !e->rcpt)
        return;
    guint at = end;
    for (guint i = start; i < end; i++) {
        struct tline *l = &g_array_index(lines, struct tline, i);
        if (dsn_memcasestr(l->p, l->n, e->rcpt) && addr_only(l->p, l->n)) {
            at = i;
            break;
        }
    }
    if (at == end)
        return;
    /* An SMTP reply quoted anywhere in the notice (even above the list of
     * recipients) says it best. */
    for (guint i = 0; i < end; i++) {
        struct tline *l = &g_array_index(lines, struct tline, i);
        const char *p = l->p;
        const char *le = l->p + l->n;
        while (p < le && (*p == ' ' || *p == '\t'))
            p++;
        if (le - p > 4 && (p[0] == '4' || p[0] == '5') && g_ascii_isdigit(p[1])
            && g_ascii_isdigit(p[2]) && (p[3] == ' ' || p[3] == '-')) {
            guint k = i;
            while (k < end && k < i + 4 && !blank(&g_array_index(lines, struct tline, k)))
                k++;
            /* with the lines of its paragraph above it, which say which command
             * got the reply ("SMTP error from remote server after RCPT command:") */
            guint b = i;
            while (b > 0 && b > i - (i < 3 ? i : 3) && b - 1 != at
                   && !blank(&g_array_index(lines, struct tline, b - 1)))
                b--;
            append_prose(&e->diag, lines, b, k, 7);
            return;
        }
    }
    append_prose(&e->diag, lines, at + 1, end, 12);
    /* The prose after the address may be only a footer ("Please reply to
     * postmaster..."); when it names no reason, the paragraph before it may. */
    const char *after = e->diag ? reason_classify(e->diag, NULL, NULL, NULL) : "undefined";
    if (strcmp(after, "onhold") == 0 || strcmp(after, "undefined") == 0) {
        char *before = NULL;
        append_prose(&before, lines, at > start + 12 ? at - 12 : start, at, 12);
        const char *rb = before ? reason_classify(before, NULL, NULL, NULL) : "undefined";
        if (strcmp(rb, "onhold") != 0 && strcmp(rb, "undefined") != 0) {
            if (e->diag)
                dsn_append(&before, e->diag, strlen(e->diag));
            g_free(e->diag);
            e->diag = before;
            before = NULL;
        } else if (!e->diag) {
            e->diag = before;
            before = NULL;
        }
        g_free(before);
    }
}

/* FAM_DETAILS: the recipient is the "RCPT TO:" field of the message details, or
 * the "To:" field of the quoted original; the diagnostic is the paragraph that
 * begins with "Error". */
static void details(struct dsn_scan *s, GArray *lines)
{
    const char *rcpt = NULL;
    size_t rlen = 0;
    bool in_orig = false;
    struct dsn_ent tmp = {0};
    bool in_err = false;
    for (guint i = 0; i < lines->len && i < 200; i++) {
        struct tline *l = &g_array_index(lines, struct tline, i);
        const char *p = l->p;
        const char *end = l->p + l->n;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        size_t n = (size_t)(end - p);
        if (dsn_hasprefix(p, n, "Message details:") || dsn_hasprefix(p, n, "Original Message:")) {
            in_orig = true;
            in_err = false;
            continue;
        }
        if (!in_orig) {
            if (dsn_hasprefix(p, n, "Error"))
                in_err = true;
            if (in_err && n > 0)
                dsn_append(&tmp.diag, p, n);
            else if (n == 0)
                in_err = false;
            continue;
        }
        if (!rcpt && (dsn_hasprefix(p, n, "RCPT TO:") || dsn_hasprefix(p, n, "To:")))
            rcpt = dsn_addr_find(p, n, &rlen);
        if (dsn_hasprefix(p, n, "RCPT TO:") && rcpt)
            break;
    }
    if (rcpt) {
        struct dsn_ent *e = add_rcpt(s, rcpt, rlen);
        if (e && !e->diag) {
            e->diag = tmp.diag;
            tmp.diag = NULL;
        }
    }
    g_free(tmp.diag);
}

/* Phrases that say a delivery failed; an address on a line with one of them is a
 * failed recipient (the free-text fallback below). Lower case. */
static const char *const fail_phrases[] = {
    "could not be delivered", "couldn't be delivered", "cannot be delivered",
    "can't be delivered", "undeliverable", "not delivered", "delivery failed",
    "failed", "failure", "unknown", "not found", "no such", "does not exist",
    "doesn't exist", "not exist", "rejected", "refused", "invalid", "full", "quota",
    "exceed", "disabled", "inactive", "unable to deliver", "permanent", "error",
    "bounced", "denied", "unavailable", "not accepted", "no longer", "not allowed",
    "blocked", "unreachable", "unroutable", "expired", "problem", "wasn't delivered",
    "was not delivered", "be found", "bounce", "not valid", "isn't valid", "not a valid",
    /* German, French, Spanish, Italian, Dutch, Portuguese notices */
    "nicht zugestellt", "unzustellbar", "konnte nicht", "n'a pas pu", "non remis",
    "pas pu \xc3\xaatre remis", "impossible de", "no se pudo", "no pudo ser entregado",
    "non \xc3\xa8 stato", "impossibile", "niet bezorgd", "kon niet", "n\xc3\xa3o foi",
    /* Phrases that name the recipient the notice is about. */
    "addressed to", "intended recipient", "was addressed", "delivery problem",
};

/* True when the label of a "Label: addr" line says the address is a failed
 * recipient ("Failed Recipient:", "Error-for:", "Unknown user:", "Intended
 * recipient:"), not a header of a quoted message ("Reply-To:", "Errors-To:"). */
static bool rcpt_label(const struct tline *l)
{
    const char *colon = memchr(l->p, ':', l->n);
    if (!colon || colon - l->p > 40)
        return false;
    size_t n = (size_t)(colon - l->p);
    static const char *const no[] = {"errors-to", "reply-to", "return-path", "sender",
                                     "from", "to", "cc", "bcc"};
    for (size_t i = 0; i < G_N_ELEMENTS(no); i++)
        if (n == strlen(no[i]) && g_ascii_strncasecmp(l->p, no[i], n) == 0)
            return false;
    static const char *const words[] = {"recipient", "failed", "error", "undeliverable",
                                        "unknown", "invalid", "addressee"};
    for (size_t i = 0; i < G_N_ELEMENTS(words); i++)
        if (dsn_memcasestr(l->p, n, words[i]))
            return true;
    return false;
}

/* True when line l quotes an SMTP reply of class 4 or 5 ("Out: 451 4.3.0 ...",
 * "<<< 550 ...", "550-5.1.1 ..."), after an optional "Out:" / "<<<" prefix. */
static bool reply_line(const struct tline *l)
{
    const char *p = l->p;
    const char *end = l->p + l->n;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (dsn_hasprefix(p, (size_t)(end - p), "Out:"))
        p += 4;
    else if (dsn_hasprefix(p, (size_t)(end - p), "<<<"))
        p += 3;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return end - p >= 4 && (p[0] == '4' || p[0] == '5') && g_ascii_isdigit(p[1])
           && g_ascii_isdigit(p[2]) && (p[3] == ' ' || p[3] == '-');
}

/* True when header value h names the address a (n bytes) as a whole address, not
 * as the tail of a longer one ("mon@x.example" is not in "daemon@x.example"). */
static bool names_addr(const char *h, const char *a, size_t n)
{
    if (!h)
        return false;
    size_t hl = strlen(h);
    for (const char *p = dsn_memcasestr(h, hl, a); p;
         p = dsn_memcasestr(p + 1, hl - (size_t)(p + 1 - h), a)) {
        bool left = p == h || !(g_ascii_isalnum(p[-1]) || strchr("._%+-=", p[-1]));
        bool right = !(g_ascii_isalnum(p[n]) || p[n] == '.' || p[n] == '-');
        if (left && right)
            return true;
    }
    return false;
}

/* True when the address addr (n bytes) is one of ours or the bounce's own: the
 * bounce's From or To, a postmaster or mailer-daemon mailbox, or a sender of the
 * quoted original (own, a lower-cased list of addresses separated by spaces). */
static bool own_addr(const char *addr, size_t n, const char *hdr_from, const char *hdr_to,
                     const char *own)
{
    static const char *const role[] = {"postmaster@", "mailer-daemon@", "mailer_daemon@",
                                       "maildaemon@", "mail-daemon@", "noreply@",
                                       "no-reply@", "root@", "abuse@", "hostmaster@"};
    for (size_t i = 0; i < G_N_ELEMENTS(role); i++)
        if (dsn_hasprefix(addr, n, role[i]))
            return true;
    char *a = g_ascii_strdown(addr, (gssize)n);
    bool hit = names_addr(hdr_from, a, n) || names_addr(hdr_to, a, n);
    if (!hit && own) {
        for (const char *p = strstr(own, a); p && !hit; p = strstr(p + 1, a))
            hit = (p == own || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0');
    }
    g_free(a);
    return hit;
}

/* The senders of the quoted original (From, Return-Path, Sender, Reply-To,
 * Errors-To), lower-cased and separated by spaces (g_free), or NULL. */
static char *original_senders(const char *orig, size_t len)
{
    static const char *const names[] = {"From:", "Return-Path:", "Sender:", "Reply-To:",
                                        "Errors-To:", "List-Post:"};
    if (!orig)
        return NULL;
    GString *g = g_string_new(NULL);
    const char *p = orig;
    const char *end = orig + (len < 65536 ? len : 65536);
    for (int k = 0; p < end && k < 400; k++) {
        const char *next;
        size_t n = dsn_line(p, end, &next);
        if (n == 0)
            break; /* end of the header block */
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
            if (!dsn_hasprefix(p, n, names[i]))
                continue;
            size_t alen = 0;
            const char *a = dsn_addr_find(p, n, &alen);
            if (a) {
                char *low = g_ascii_strdown(a, (gssize)alen);
                g_string_append_printf(g, " %s", low);
                g_free(low);
            }
        }
        p = next;
    }
    g_string_append_c(g, ' ');
    return g_string_free(g, FALSE);
}

/* Last resort for a bounce in an unknown format: every address of the notice
 * (lines [start, end), before the quoted original) that stands next to a failure
 * phrase, in angle brackets, or before a colon ("addr: reason", qmail's "<addr>:"),
 * and is neither ours nor the bounce's own. Each gets its line and the lines that
 * follow it, up to a blank line, as its diagnostic. */
static void loose(struct dsn_scan *s, GArray *lines, guint start, guint end, const char *hdr_from,
                  const char *hdr_to, const char *own)
{
    for (guint i = start; i < end && i < start + 400; i++) {
        struct tline *l = &g_array_index(lines, struct tline, i);
        if (header_like(l) && !rcpt_label(l))
            continue;
        if (dsn_memcasestr(l->p, l->n, "://") || dsn_memcasestr(l->p, l->n, "mailto:"))
            continue;
        /* An SMTP session transcript ("In: MAIL FROM:<addr>", "In: RCPT TO:<addr>",
         * Postfix's "errors from" notice, Sendmail's ">>>"): the sender is ours;
         * a recipient's diagnostic is the first 4xx/5xx reply after its RCPT. */
        const char *lend0 = l->p + l->n;
        const char *lp = l->p;
        while (lp < lend0 && (*lp == ' ' || *lp == '\t'))
            lp++;
        if (dsn_memcasestr(l->p, l->n, "MAIL FROM:")
            || dsn_hasprefix(lp, (size_t)(lend0 - lp), "FROM:<"))
            continue;
        const char *rt = dsn_memcasestr(l->p, l->n, "RCPT TO:");
        if (rt) {
            size_t alen = 0;
            const char *a = dsn_addr_find(rt, (size_t)(lend0 - rt), &alen);
            if (!a || !dsn_addr_routable_n(a, alen) || own_addr(a, alen, hdr_from, hdr_to, own))
                continue;
            struct dsn_ent *e = add_rcpt(s, a, alen);
            if (!e)
                return;
            if (!e->cmd)
                e->cmd = g_strdup("RCPT");
            for (guint m = i + 1; m < end && m < i + 60 && !e->diag; m++) {
                struct tline *d = &g_array_index(lines, struct tline, m);
                if (reply_line(d))
                    dsn_set(&e->diag, d->p, d->n);
            }
            continue;
        }
        char *low = dsn_lower_dup(l->p, l->n);
        bool phrase = false;
        for (size_t k = 0; k < G_N_ELEMENTS(fail_phrases) && !phrase; k++)
            phrase = dsn_lfind(low, l->n, fail_phrases[k]) != NULL;
        /* A short line of its own right after a failure phrase (a list of
         * recipients under "... could not be delivered to:"). */
        if (!phrase && i > start) {
            struct tline *pl = &g_array_index(lines, struct tline, i - 1);
            char *pll = dsn_lower_dup(pl->p, pl->n);
            for (size_t k = 0; k < G_N_ELEMENTS(fail_phrases) && !phrase; k++)
                phrase = dsn_lfind(pll, pl->n, fail_phrases[k]) != NULL && pl->n > 0
                         && pl->p[pl->n - 1] == ':';
            g_free(pll);
        }
        g_free(low);
        const char *p = l->p;
        size_t left = l->n;
        for (int k = 0; k < 16 && left > 0; k++) {
            size_t alen = 0;
            const char *a = dsn_addr_find(p, left, &alen);
            if (!a)
                break;
            const char *after = a + alen;
            const char *lend = l->p + l->n;
            /* 'addr' in single quotes: the quotes are not part of it. */
            if (alen > 2 && a[0] == '\'' && after < lend && *after == '\'') {
                a++;
                alen--;
            }
            bool bracket = a > l->p && a[-1] == '<';
            const char *q = after;
            while (q < lend && (*q == '>' || *q == '"' || *q == '\''))
                q++;
            bool colon = q < lend && (*q == ':' || (lend - q >= 3 && !strncmp(q, "...", 3)));
            left -= (size_t)(after - p);
            p = after;
            if (!(phrase || bracket || colon) || !dsn_addr_routable_n(a, alen)
                || own_addr(a, alen, hdr_from, hdr_to, own))
                continue;
            struct dsn_ent *e = add_rcpt(s, a, alen);
            if (!e)
                return;
            if (e->diag)
                continue;
            for (guint m = i; m < end && m < i + 8; m++) {
                struct tline *d = &g_array_index(lines, struct tline, m);
                if (blank(d))
                    break;
                /* The next recipient's line ends this one's diagnostic. */
                size_t blen = 0;
                const char *b = m > i ? dsn_addr_find(d->p, d->n, &blen) : NULL;
                if (b && (addr_only(d->p, d->n)
                          || ((blen != strlen(e->rcpt) || g_ascii_strncasecmp(b, e->rcpt, blen) != 0)
                              && !own_addr(b, blen, hdr_from, hdr_to, own))))
                    break;
                dsn_append(&e->diag, d->p, d->n);
            }
        }
    }
}

/* A provider's notice that lists its own users by local part only ("Your mail to
 * the following recipients could not be delivered ...:\n\tuser"): each bare
 * local part on its own line right after the start line, in the domain of the
 * notice's sender (the provider). */
static void local_parts(struct dsn_scan *s, GArray *lines, guint start, guint end,
                        const char *hdr_from)
{
    size_t flen = 0;
    const char *fa = dsn_addr_find(hdr_from, strlen(hdr_from), &flen);
    const char *at = fa ? memchr(fa, '@', flen) : NULL;
    if (!at || !dsn_addr_routable_n(fa, flen))
        return;
    size_t dlen = flen - (size_t)(at - fa);
    for (guint i = start + 1; i < end && i < start + 8; i++) {
        struct tline *l = &g_array_index(lines, struct tline, i);
        const char *p = l->p;
        const char *e = l->p + l->n;
        while (p < e && g_ascii_isspace(*p))
            p++;
        while (e > p && g_ascii_isspace(e[-1]))
            e--;
        size_t n = (size_t)(e - p);
        if (n == 0)
            continue;
        bool token = n <= 64;
        for (const char *q = p; q < e && token; q++)
            token = g_ascii_isalnum(*q) || strchr("._-+", *q);
        if (!token || !g_ascii_isalpha(*p)) {
            if (s->ents->len)
                break; /* the list ended */
            continue;
        }
        char *addr = g_strdup_printf("%.*s%.*s", (int)n, p, (int)dlen, at);
        struct dsn_ent *ent = add_rcpt(s, addr, strlen(addr));
        g_free(addr);
        if (ent && !ent->diag)
            append_prose(&ent->diag, lines, start, i, 6);
    }
}

/* When the notice names no recipient at all: the envelope recipient of the
 * returned original, from its newest Received header's "for <addr>" clause, or
 * its X-Original-To, Envelope-To or Delivered-To header, else its To header when
 * that names one address that is not ours. diag is the notice's text. */
static void from_original(struct dsn_scan *s, const char *orig, size_t len, const char *hdr_from,
                          const char *hdr_to, const char *diag, size_t diag_len)
{
    if (!orig)
        return;
    const char *end = orig + (len < 65536 ? len : 65536);
    char *found = NULL;
    char *to = NULL;
    int to_count = 0;
    bool received_seen = false;
    bool list_msg = false; /* a mailing list's message: its To is the list */
    const char *p = orig;
    for (int k = 0; p < end && k < 400 && !found; k++) {
        const char *next;
        size_t n = dsn_line(p, end, &next);
        if (n == 0)
            break;
        /* The header with its folded continuation lines. */
        const char *hend = next;
        while (hend < end && (*hend == ' ' || *hend == '\t')) {
            const char *nn;
            dsn_line(hend, end, &nn);
            hend = nn;
        }
        size_t hn = (size_t)(hend - p);
        if (dsn_hasprefix(p, hn, "Received:") && !received_seen) {
            received_seen = true;
            /* "for <addr>" after a space, tab or line fold. */
            const char *f = NULL;
            for (const char *q = dsn_memcasestr(p, hn, "for "); q && !f;
                 q = dsn_memcasestr(q + 4, hn - (size_t)(q + 4 - p), "for "))
                if (q > p && g_ascii_isspace(q[-1]))
                    f = q - 1;
            if (f) {
                size_t alen = 0;
                const char *a = dsn_addr_find(f + 5, hn - (size_t)(f + 5 - p), &alen);
                if (a && a < f + 8 + 2 && dsn_addr_routable_n(a, alen)
                    && !own_addr(a, alen, hdr_from, hdr_to, NULL))
                    found = g_strndup(a, alen);
            }
        } else if (dsn_hasprefix(p, hn, "X-Original-To:") || dsn_hasprefix(p, hn, "Envelope-To:")
                   || dsn_hasprefix(p, hn, "Delivered-To:")) {
            size_t alen = 0;
            const char *a = dsn_addr_find(p, hn, &alen);
            if (a && dsn_addr_routable_n(a, alen) && !own_addr(a, alen, hdr_from, hdr_to, NULL))
                found = g_strndup(a, alen);
        } else if (dsn_hasprefix(p, hn, "List-Id:") || dsn_hasprefix(p, hn, "List-Post:")) {
            list_msg = true;
        } else if (dsn_hasprefix(p, hn, "To:") && !to) {
            const char *q = p + 3;
            size_t left = hn - 3;
            for (int m = 0; m < 64 && left > 0; m++) {
                size_t alen = 0;
                const char *a = dsn_addr_find(q, left, &alen);
                if (!a)
                    break;
                to_count++;
                if (!to)
                    to = g_strndup(a, alen);
                left -= (size_t)(a + alen - q);
                q = a + alen;
            }
        }
        p = hend;
    }
    /* The To of the original names the recipient only when it is one address
     * that is not a list's: not of a message with List-Id, nor in the domain the
     * bounce went back to (the list server's). */
    const char *to_dom = to ? strrchr(to, '@') : NULL;
    const char *back_dom = hdr_to ? strrchr(hdr_to, '@') : NULL;
    bool same_dom = false;
    if (to_dom && back_dom) {
        size_t dl = strlen(to_dom);
        same_dom = g_ascii_strncasecmp(to_dom, back_dom, dl) == 0
                   && !g_ascii_isalnum(back_dom[dl]) && back_dom[dl] != '.' && back_dom[dl] != '-';
    }
    if (!found && to && to_count == 1 && !list_msg && !same_dom && dsn_addr_routable(to)
        && !own_addr(to, strlen(to), hdr_from, hdr_to, NULL)) {
        found = to;
        to = NULL;
    }
    g_free(to);
    if (!found)
        return;
    struct dsn_ent *e = add_rcpt(s, found, strlen(found));
    g_free(found);
    if (e && !e->diag && diag)
        dsn_set(&e->diag, diag, diag_len);
}

/* The notice: the text from line start up to line end (the quoted original), at
 * most DSN_MAX_DIAG bytes; its length goes to *nlen. */
static const char *notice_span(GArray *lines, guint start, guint end, const char *body,
                               size_t len, size_t *nlen)
{
    guint n = lines->len;
    const char *b0 = start < n ? g_array_index(lines, struct tline, start).p : body;
    const char *b1 = end < n ? g_array_index(lines, struct tline, end).p : body + len;
    *nlen = (size_t)(b1 - b0) < DSN_MAX_DIAG ? (size_t)(b1 - b0) : DSN_MAX_DIAG;
    return b0;
}

/* Adds the recipient a[0..alen) with the notice as its diagnostic. */
static void add_with_notice(struct dsn_scan *s, const char *a, size_t alen, GArray *lines,
                            guint start, guint end, const char *body, size_t len)
{
    struct dsn_ent *e = add_rcpt(s, a, alen);
    size_t bl = 0;
    const char *b0 = notice_span(lines, start, end, body, len, &bl);
    if (e && !e->diag)
        dsn_set(&e->diag, b0, bl);
}

int dsn_text_parse(struct dsn_scan *s, const char *body, size_t len, const char *hdr_from,
                   const char *hdr_subject, const char *hdr_to, const char *failed_rcpts)
{
    if (!body || len == 0)
        return 0;
    /* Every phrase search below runs over one lower-cased copy of the text. */
    char *lb = dsn_lower_dup(body, len);
    struct dsn_grams g;
    dsn_grams_build(&g, lb, len);
    const struct family *fam = detect(&g, lb, len);
    if (!fam && !bouncy_headers(hdr_from, hdr_subject) && !failed_rcpts) {
        g_free(lb);
        return 0;
    }
    s->format = fam ? fam->name : "text";
    int flags = fam ? fam->flags : 0;
    guint before = s->ents->len;

    GArray *lines = split_lines(body, len);
    guint n = lines->len;
    /* Bytes covered by the lines kept (DSN_MAX_LINES may cut the text). */
    size_t covered = n ? (size_t)(g_array_index(lines, struct tline, n - 1).p - body)
                             + g_array_index(lines, struct tline, n - 1).n
                       : 0;
    guint start = 0, end = n;
    bool have_start = false;
    size_t off = first_of(&g, lb, 0, covered, start_markers, G_N_ELEMENTS(start_markers));
    if (off < covered) {
        start = line_at(lines, body, off);
        have_start = true;
    }
    if (start + (have_start ? 1 : 0) < n) {
        size_t from = (size_t)(g_array_index(lines, struct tline, start + (have_start ? 1 : 0)).p
                               - body);
        off = first_of(&g, lb, from, covered, end_markers, G_N_ELEMENTS(end_markers));
        if (off < covered)
            end = line_at(lines, body, off);
    }
    off = first_of(&g, lb, 0, covered, end_markers, G_N_ELEMENTS(end_markers));
    if (off < covered)
        original_after(s, lines, line_at(lines, body, off), body, len);
    /* A delay warning says so before the quoted original. */
    {
        size_t nend = end < n ? (size_t)(g_array_index(lines, struct tline, end).p - body) : covered;
        s->warning = first_of(&g, lb, 0, nend, warning_marks, G_N_ELEMENTS(warning_marks)) < nend;
    }
    /* Sendmail's transcript: the first line at or after the start line saying so. */
    static const char *const transcript_mark[] = {"Transcript of session follows"};
    guint tr_line = n;
    if (start < n) {
        off = first_of(&g, lb, (size_t)(g_array_index(lines, struct tline, start).p - body), covered,
                       transcript_mark, 1);
        if (off < covered)
            tr_line = line_at(lines, body, off);
    }

    if (flags & FAM_DETAILS) {
        details(s, lines);
        goto out;
    }

    if (flags & FAM_WHOLE_BODY) {
        /* The whole notice is the diagnostic (Google Groups). */
        const char *b0 = n ? g_array_index(lines, struct tline, 0).p : body;
        const char *b1 = end < n ? g_array_index(lines, struct tline, end).p : body + len;
        if (failed_rcpts)
            from_failed_header(s, failed_rcpts, b0, (size_t)(b1 - b0));
        goto out;
    }

    struct dsn_ent *cur = NULL;
    bool cont = false;
    guint cur_line = G_MAXUINT; /* the line that named cur */
    for (guint i = start; i < end; i++) {
        struct tline *l = &g_array_index(lines, struct tline, i);
        if (i >= tr_line)
            break;
        const char *lend = l->p + l->n;
        size_t alen = 0;
        const char *rest = NULL;
        /* The start marker line itself may carry the address (DragonFly). */
        const char *a = rcpt_line(l, false, &alen, &rest);
        if (!a && i == start && have_start) {
            const char *lead = dsn_memcasestr(l->p, l->n, "delivering your mail to");
            if (lead) {
                struct tline sub = {lead + strlen("delivering your mail to"),
                                    (size_t)(lend - (lead + strlen("delivering your mail to")))};
                a = rcpt_line(&sub, false, &alen, &rest);
            }
        }
        if (!a && (flags & FAM_LAX)) {
            /* "User mailbox exceeds allowed size: addr": the address ends the line. */
            const char *colon = memchr(l->p, ':', l->n);
            if (colon) {
                struct tline sub = {colon + 1, (size_t)(lend - colon - 1)};
                const char *b = rcpt_line(&sub, false, &alen, &rest);
                const char *r2 = rest;
                if (b)
                    rest_trim(&r2, lend);
                if (b && r2 == lend) {
                    a = b;
                    cur = add_rcpt(s, a, alen);
                    if (cur)
                        dsn_append(&cur->diag, l->p, (size_t)(colon - l->p));
                    cont = true;
                    continue;
                }
                a = NULL;
            }
        }
        if (a && i > 0) {
            /* Postfix: "<alias> (expanded from\n    <addr>): ..." names one recipient. */
            struct tline *pl = &g_array_index(lines, struct tline, i - 1);
            size_t pn = pl->n;
            while (pn > 0 && g_ascii_isspace(pl->p[pn - 1]))
                pn--;
            if (pn >= 13 && g_ascii_strncasecmp(pl->p + pn - 13, "expanded from", 13) == 0)
                a = NULL;
        }
        if (a && (have_start || i > start || fam)) {
            cur = add_rcpt(s, a, alen);
            cur_line = i;
            rest_trim(&rest, lend);
            if (cur && rest < lend && !addr_only(rest, (size_t)(lend - rest)))
                dsn_append(&cur->diag, rest, (size_t)(lend - rest));
            if (cur && (flags & FAM_DIAG_BEFORE) && !cur->diag) {
                /* The reason is the paragraph just above the address. */
                for (guint k = i; k > start + 1 && k + 4 > i; k--) {
                    struct tline *pl = &g_array_index(lines, struct tline, k - 1);
                    if (blank(pl))
                        break;
                    dsn_append(&cur->diag, pl->p, pl->n);
                }
            }
            cont = true;
            continue;
        }
        if (!a) {
            /* "(generated from addr)" (Exim), "(expanded from: addr)" (Sendmail):
             * the address the failed one came from. Under an item that named no
             * address ("an undisclosed address") it is the recipient's only one. */
            const char *lp = l->p;
            while (lp < lend && (*lp == ' ' || *lp == '\t'))
                lp++;
            size_t glen = 0;
            const char *ga = NULL;
            if (dsn_hasprefix(lp, (size_t)(lend - lp), "(generated from")
                || dsn_hasprefix(lp, (size_t)(lend - lp), "(expanded from"))
                ga = dsn_addr_find(lp, (size_t)(lend - lp), &glen);
            if (ga && cur && cur_line + 1 == i) {
                if (!cur->orig_rcpt)
                    cur->orig_rcpt = g_strndup(ga, glen);
                continue;
            }
            if (ga && dsn_addr_routable_n(ga, glen) && (have_start || fam)) {
                cur = add_rcpt(s, ga, glen);
                cur_line = i;
                cont = true;
                continue;
            }
        }
        if (!cur)
            continue;
        if (blank(l)) {
            if (!(flags & FAM_DIAG_REST))
                cont = false;
            continue;
        }
        if (cont)
            dsn_append(&cur->diag, l->p, l->n);
    }

    transcript(s, lines, tr_line, end, before);

    /* Postfix: "<final> (expanded from <alias>): reason" names the address the
     * message was sent to. */
    for (guint k = before; k < s->ents->len; k++) {
        struct dsn_ent *e = g_ptr_array_index(s->ents, k);
        const char *x = e->diag && !e->orig_rcpt
                            ? dsn_memcasestr(e->diag, strlen(e->diag), "expanded from")
                            : NULL;
        if (!x)
            continue;
        x += strlen("expanded from");
        while (*x == ' ' || *x == ':' || *x == '<')
            x++;
        size_t xl = 0;
        const char *xa = dsn_addr_find(x, strlen(x), &xl);
        if (xa == x)
            e->orig_rcpt = g_strndup(xa, xl);
    }

    if (failed_rcpts) {
        const char *b0 = start + 1 < end ? g_array_index(lines, struct tline, start + 1).p : NULL;
        const char *b1 = end < n ? g_array_index(lines, struct tline, end).p : body + len;
        prefer_failed_header(s, failed_rcpts, before, b0, b0 ? (size_t)(b1 - b0) : 0);
    }

    if (s->ents->len == before + 1)
        notice_diag(g_ptr_array_index(s->ents, before), lines, start, end);

    /* A recipient line that carried no text after the address ("Unknown user:
     * addr") is its own diagnostic. */
    for (guint k = before; k < s->ents->len; k++) {
        struct dsn_ent *e = g_ptr_array_index(s->ents, k);
        if (e->diag || !e->rcpt)
            continue;
        for (guint i = start; i < end; i++) {
            struct tline *l = &g_array_index(lines, struct tline, i);
            if (dsn_memcasestr(l->p, l->n, e->rcpt)) {
                dsn_set(&e->diag, l->p, l->n);
                break;
            }
        }
    }

    /* The notice, for recipients whose own lines say nothing of the cause (a list
     * of addresses under "for the following reason: ..."): dsn.c reads it when
     * their own diagnostic names no reason. */
    if (s->ents->len > before && start < end && !s->notice) {
        size_t bl = 0;
        const char *b0 = notice_span(lines, start, end, body, len, &bl);
        s->notice = g_strndup(b0, bl);
    }

    if (s->ents->len == before && !failed_rcpts) {
        char *own = original_senders(s->inline_orig, s->inline_orig_len);
        /* The recipient list may start before the start marker ("Your message to
         * addr could not be delivered"): the whole notice is searched. */
        loose(s, lines, 0, end, hdr_from, hdr_to, own);
        g_free(own);
    }
    if (s->ents->len == before && !failed_rcpts && have_start && hdr_from)
        local_parts(s, lines, start, end, hdr_from);
    if (s->ents->len == before && !failed_rcpts && hdr_subject) {
        /* "failure notice for addr", "Undeliverable: addr": the Subject names it. */
        size_t alen = 0;
        const char *a = dsn_addr_find(hdr_subject, strlen(hdr_subject), &alen);
        if (a && dsn_addr_routable_n(a, alen) && !own_addr(a, alen, hdr_from, hdr_to, NULL))
            add_with_notice(s, a, alen, lines, start, end, body, len);
    }
    if (s->ents->len == before && !failed_rcpts) {
        /* A notice that sums up the returned message in its own text ("Subject:
         * ...\nTo: addr"): its one To address. */
        for (guint i = 0; i < end && i < 400; i++) {
            struct tline *l = &g_array_index(lines, struct tline, i);
            const char *lp = l->p;
            const char *le = l->p + l->n;
            while (lp < le && (*lp == ' ' || *lp == '\t'))
                lp++;
            if (!dsn_hasprefix(lp, (size_t)(le - lp), "To:"))
                continue;
            size_t alen = 0, blen = 0;
            const char *a = dsn_addr_find(lp + 3, (size_t)(le - lp - 3), &alen);
            const char *b = a ? dsn_addr_find(a + alen, (size_t)(le - a - alen), &blen) : NULL;
            if (!a || b || !dsn_addr_routable_n(a, alen)
                || own_addr(a, alen, hdr_from, hdr_to, NULL))
                continue;
            add_with_notice(s, a, alen, lines, start, end, body, len);
            break;
        }
    }
    if (s->ents->len == before && !failed_rcpts && s->inline_orig) {
        const char *b0 = start < n ? g_array_index(lines, struct tline, start).p : body;
        const char *b1 = end < n ? g_array_index(lines, struct tline, end).p : body + len;
        from_original(s, s->inline_orig, s->inline_orig_len, hdr_from, hdr_to, b0,
                      (size_t)(b1 - b0) < DSN_MAX_DIAG ? (size_t)(b1 - b0) : DSN_MAX_DIAG);
    }

    if (s->ents->len == before && failed_rcpts) {
        const char *b0 = start < n ? g_array_index(lines, struct tline, start).p : body;
        const char *b1 = end < n ? g_array_index(lines, struct tline, end).p : body + len;
        from_failed_header(s, failed_rcpts, b0, (size_t)(b1 - b0));
    }

out:
    if (fam && fam->reason)
        for (guint i = before; i < s->ents->len; i++)
            ((struct dsn_ent *)g_ptr_array_index(s->ents, i))->reason = fam->reason;
    g_array_free(lines, TRUE);
    g_free(lb);
    return (int)(s->ents->len - before);
}

void dsn_text_from_original(struct dsn_scan *s, const char *orig, size_t len, const char *hdr_from,
                            const char *hdr_to, const char *diag, size_t diag_len)
{
    from_original(s, orig, len, hdr_from, hdr_to, diag, diag_len);
}

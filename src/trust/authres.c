/*
 * authres.c: reads Authentication-Results headers (RFC 8601) and decides which
 * of them our own MTA wrote. authres_parse() tokenizes one header value:
 * authserv-id, then "; method[/version]=result [reason=...] ptype.property=value"
 * results, with comments (nested, escaped), quoted-strings and folding skipped
 * or unfolded on the way. authres_trusted() walks a report's header block from
 * the top, ends the trust zone at the first Received header that none of our
 * hosts wrote (or just after the one with which our MX took the message from a
 * foreign host), and collects the dkim/spf/dmarc passes of our A-R headers in
 * that zone. Callers are the trust step of the incident pipeline and the fuzz
 * target. Nothing here fails or allocates: input that cannot be read is
 * skipped, every header value is cut at AR_MAX_LEN bytes and at AR_MAX_RESINFO
 * results, tokens are truncated to fixed buffers, comments are skipped with a
 * depth counter (no recursion), and no byte at or past the given length is
 * read. Results go into caller-owned buffers; strings handed to callbacks are
 * borrowed for the duration of the call.
 */
#include "trust/authres.h"

#include <stdint.h>
#include <string.h>

#define AR_MAX_LEN 16384     /* bytes of one header value that are looked at */
#define AR_MAX_RESINFO 64    /* results of one header that are looked at */
#define AR_KEY_SIZE 64       /* method, result, ptype.property */
#define AR_VALUE_SIZE 1024   /* property values (header.b can be long) */
#define AR_HOST_SIZE 256     /* host names and domains, as in struct authres_pass */

/* ---- characters and strings (ASCII only: no locale) ---- */

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static void lower_in_place(char *s)
{
    for (; *s; s++)
        *s = ascii_lower(*s);
}

static bool ascii_eq_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (ascii_lower(*a) != ascii_lower(*b))
            return false;
    return *a == *b;
}

/* Whether the n bytes at p equal the NUL-terminated lower-case word w, ignoring case. */
static bool mem_eq_word(const char *p, size_t n, const char *w)
{
    size_t wl = strlen(w);
    if (n != wl)
        return false;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(p[i]) != w[i])
            return false;
    return true;
}

/* Controls (CR and LF of folded lines, NUL, DEL) separate tokens like blanks do. */
static bool is_blank(unsigned char c)
{
    return c <= 0x20 || c == 0x7f;
}

/* ---- a bounded cursor over one header value ---- */

struct cur {
    const char *p;
    size_t len;
    size_t i;
};

static bool cur_end(const struct cur *c)
{
    return c->i >= c->len;
}

static char cur_peek(const struct cur *c)
{
    return c->i < c->len ? c->p[c->i] : '\0';
}

/* At '(': skips the comment with its nested comments and quoted-pairs, iteratively.
 * An unclosed comment runs to the end of the input. */
static void skip_comment(struct cur *c)
{
    size_t depth = 0;
    while (c->i < c->len) {
        char ch = c->p[c->i++];
        if (ch == '\\') {
            if (c->i < c->len)
                c->i++;
        } else if (ch == '(') {
            depth++;
        } else if (ch == ')') {
            if (--depth == 0)
                return;
        }
    }
}

/* Skips CFWS (blanks, folding, comments). Returns whether anything was skipped. */
static bool skip_cfws(struct cur *c)
{
    size_t start = c->i;
    while (c->i < c->len) {
        unsigned char ch = (unsigned char)c->p[c->i];
        if (is_blank(ch))
            c->i++;
        else if (ch == '(')
            skip_comment(c);
        else
            break;
    }
    return c->i != start;
}

/* Appends ch to buf (size bytes) at *n, or sets *trunc when it is full. */
static void put_char(char *buf, size_t size, size_t *n, char ch, bool *trunc)
{
    if (*n + 1 < size)
        buf[(*n)++] = ch;
    else
        *trunc = true;
}

/* At '"': reads a quoted-string into buf without the quotes, with quoted-pairs
 * resolved, CR/LF of folding and NUL bytes dropped. Unterminated: to the end of
 * the input. Returns the length of the content, also of what did not fit. */
static size_t read_quoted(struct cur *c, char *buf, size_t size, bool *trunc)
{
    size_t n = 0, total = 0;
    c->i++;
    while (c->i < c->len) {
        char ch = c->p[c->i++];
        if (ch == '"')
            break;
        if (ch == '\\' && c->i < c->len)
            ch = c->p[c->i++];
        else if (ch == '\r' || ch == '\n')
            continue;
        if (ch == '\0')
            continue; /* would end the C string early */
        put_char(buf, size, &n, ch, trunc);
        total++;
    }
    if (size)
        buf[n] = '\0';
    return total;
}

/* Reads a run of bytes up to a blank, a comment or one of the bytes in stop into
 * buf (size > 0 bytes); the rest of a longer run is consumed and *trunc set. */
static void read_word(struct cur *c, const char *stop, char *buf, size_t size, bool *trunc)
{
    size_t n = 0;
    while (c->i < c->len) {
        char ch = c->p[c->i];
        if (is_blank((unsigned char)ch) || ch == '(' || strchr(stop, ch) != NULL)
            break;
        put_char(buf, size, &n, ch, trunc);
        c->i++;
    }
    buf[n] = '\0';
}

/* Skips to the next ';' that is not inside a comment or quoted-string (or to the end). */
static void skip_to_semicolon(struct cur *c)
{
    while (c->i < c->len) {
        char ch = c->p[c->i];
        if (ch == ';')
            return;
        if (ch == '(') {
            skip_comment(c);
        } else if (ch == '"') {
            char junk[1];
            bool t = false;
            read_quoted(c, junk, sizeof(junk), &t);
        } else {
            c->i++;
        }
    }
}

static bool is_key_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
}

/* Whether the input at the cursor starts with "word.word=", the next propspec.
 * Used after "ptype.property=" and blanks: the value was left empty (as in
 * "smtp.mailfrom= smtp.helo=a.example"), and the next property must not be
 * swallowed as it. Base64 and addresses do not look like this. */
static bool looks_like_propspec(const struct cur *c)
{
    size_t i = c->i, n1 = 0, n2 = 0;
    while (i < c->len && is_key_char(c->p[i]))
        i++, n1++;
    if (n1 == 0 || i >= c->len || c->p[i] != '.')
        return false;
    i++;
    while (i < c->len && is_key_char(c->p[i]))
        i++, n2++;
    return n2 > 0 && i < c->len && c->p[i] == '=';
}

/* ---- the parser, with hooks for the public callback and for the trust walker ---- */

struct ar_hooks {
    /* The authserv-id (lower case; trunc when it did not fit). Return false to stop. */
    bool (*id)(const char *id, bool trunc, void *ctx);
    /* One ptype.property of a result; trunc when the value did not fit. */
    void (*prop)(const char *method, const char *result, const char *property,
                 const char *value, bool trunc, void *ctx);
    /* The end of a result that had n_props properties. */
    void (*end)(const char *method, const char *result, size_t n_props, void *ctx);
    void *ctx;
};

static const char KEY_STOP[] = "=;\"/";

/* Reads one resinfo after its ';' up to the next ';' or the end. */
static void parse_resinfo(struct cur *c, const struct ar_hooks *h)
{
    char method[AR_KEY_SIZE], result[AR_KEY_SIZE];
    bool trunc = false;

    skip_cfws(c);
    if (cur_end(c) || cur_peek(c) == ';')
        return;
    read_word(c, KEY_STOP, method, sizeof(method), &trunc);
    skip_cfws(c);
    if (method[0] != '\0' && cur_peek(c) == '/') { /* method-version */
        char version[AR_KEY_SIZE];
        c->i++;
        skip_cfws(c);
        read_word(c, KEY_STOP, version, sizeof(version), &trunc);
        skip_cfws(c);
    }
    if (method[0] == '\0' || cur_peek(c) != '=') { /* "none", junk */
        skip_to_semicolon(c);
        return;
    }
    c->i++;
    skip_cfws(c);
    read_word(c, KEY_STOP, result, sizeof(result), &trunc);
    if (result[0] == '\0') {
        skip_to_semicolon(c);
        return;
    }
    lower_in_place(method);
    lower_in_place(result);

    size_t n_props = 0;
    for (;;) {
        skip_cfws(c);
        if (cur_end(c) || cur_peek(c) == ';')
            break;
        char ch = cur_peek(c);
        if (ch == '"') { /* stray quoted-string */
            char junk[1];
            bool t = false;
            read_quoted(c, junk, sizeof(junk), &t);
            continue;
        }
        if (ch == '=' || ch == '/') { /* stray separator */
            c->i++;
            continue;
        }
        char key[AR_KEY_SIZE];
        bool key_trunc = false;
        read_word(c, KEY_STOP, key, sizeof(key), &key_trunc);
        skip_cfws(c);
        if (cur_peek(c) != '=')
            continue; /* a word without a value: junk */
        c->i++;
        bool blank = skip_cfws(c);
        char value[AR_VALUE_SIZE];
        bool value_trunc = false;
        value[0] = '\0';
        if (cur_end(c) || cur_peek(c) == ';')
            ; /* empty value at the end */
        else if (cur_peek(c) == '"')
            read_quoted(c, value, sizeof(value), &value_trunc);
        else if (!(blank && looks_like_propspec(c)))
            read_word(c, ";", value, sizeof(value), &value_trunc);
        lower_in_place(key);
        /* reasonspec and unknown "key=value" pairs (e.g. "action=none") are no
         * ptype.property; a truncated key is none we know. */
        const char *dot = strchr(key, '.');
        if (key_trunc || dot == NULL || dot == key || dot[1] == '\0')
            continue;
        if (h->prop)
            h->prop(method, result, key, value, value_trunc, h->ctx);
        n_props++;
    }
    if (h->end)
        h->end(method, result, n_props, h->ctx);
}

/* Parses value into id (id_size > 0 bytes, lower case) and the hooks. Returns false
 * when there is no readable authserv-id; *id_trunc tells whether it was cut. */
static bool ar_parse(const char *value, size_t len, char *id, size_t id_size, bool *id_trunc,
                     const struct ar_hooks *h)
{
    struct cur c = { value, value ? (len > AR_MAX_LEN ? AR_MAX_LEN : len) : 0, 0 };
    *id_trunc = false;
    id[0] = '\0';

    skip_cfws(&c);
    if (cur_end(&c) || cur_peek(&c) == ';')
        return false;
    size_t start = c.i;
    bool readable;
    if (cur_peek(&c) == '"') {
        readable = read_quoted(&c, id, id_size, id_trunc) > 0;
    } else {
        read_word(&c, ";", id, id_size, id_trunc);
        /* "dmarc=fail ...": a result where the authserv-id belongs. The whole
         * token is looked at, not only what fit into id. */
        readable = c.i > start && memchr(c.p + start, '=', c.i - start) == NULL;
    }
    skip_cfws(&c);
    /* "dkim = pass", "dkim/1=pass": the same with blanks or a method version. */
    if (!readable || cur_peek(&c) == '=' || cur_peek(&c) == '/') {
        id[0] = '\0';
        *id_trunc = false;
        return false;
    }
    lower_in_place(id);
    if (h->id && !h->id(id, *id_trunc, h->ctx))
        return true;

    /* Version, "none", or legacy junk ("host from=a.example; ...") up to the first ';'. */
    skip_to_semicolon(&c);
    for (size_t n = 0; !cur_end(&c) && n < AR_MAX_RESINFO; n++) {
        c.i++; /* the ';' */
        parse_resinfo(&c, h);
    }
    return true;
}

/* ---- authres_parse(): the public callback form ---- */

struct public_ctx {
    authres_result_fn fn;
    void *ctx;
};

static void public_prop(const char *method, const char *result, const char *property,
                        const char *value, bool trunc, void *ctx)
{
    struct public_ctx *pc = ctx;
    if (pc->fn)
        pc->fn(method, result, property, value, pc->ctx);
}

static void public_end(const char *method, const char *result, size_t n_props, void *ctx)
{
    struct public_ctx *pc = ctx;
    if (pc->fn && n_props == 0)
        pc->fn(method, result, NULL, NULL, pc->ctx);
}

/* Contract in authres.h. id_size 0 (or authserv_id NULL) only reports whether
 * there is an id; a longer id is truncated to id_size - 1 bytes. */
bool authres_parse(const char *value, size_t len, char *authserv_id, size_t id_size,
                   authres_result_fn fn, void *ctx)
{
    struct public_ctx pc = { fn, ctx };
    struct ar_hooks h = { NULL, public_prop, public_end, &pc };
    char scratch[1];
    bool trunc;
    if (authserv_id == NULL || id_size == 0)
        return ar_parse(value, len, scratch, sizeof(scratch), &trunc, &h);
    return ar_parse(value, len, authserv_id, id_size, &trunc, &h);
}

/* ---- authres_trusted(): the trust-zone walk ---- */

/* One property of the resinfo being read that a pass domain is taken from. */
struct slot {
    bool seen;                  /* the property was there (the first one counts) */
    bool unusable;              /* its value was cut: no domain from it */
    char v[AR_VALUE_SIZE];
};

struct walk {
    const char *const *ids;
    authres_host_fn is_ours;
    void *is_ours_ctx;
    bool trusted;               /* still above every header the sender wrote */
    struct authres_set *out;
    struct slot d, i, mailfrom, helo, from; /* header.d, header.i, smtp.*, header.from */
};

static bool is_our_id(const struct walk *w, const char *s)
{
    if (s[0] == '\0')
        return false;
    for (const char *const *id = w->ids; *id; id++)
        if ((*id)[0] != '\0' && ascii_eq_nocase(*id, s))
            return true;
    return false;
}

static bool is_our_host(const struct walk *w, const char *h)
{
    return (w->is_ours && w->is_ours(h, w->is_ours_ctx)) || is_our_id(w, h);
}

/* A domain we store: bytes of host names (and UTF-8), no empty labels. */
static bool domain_ok(const char *s)
{
    if (s[0] == '\0' || s[0] == '.')
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (!(is_key_char(*p) || ch >= 0x80 || (ch == '.' && p[1] != '.')))
            return false;
    }
    return true;
}

/* The domain of a property value: "<user@Example.COM.>" -> "example.com",
 * "@a.example" -> "a.example", "b.example" -> "b.example". Returns false (out "")
 * when nothing usable is left. */
static bool domain_of(const char *v, char out[AR_HOST_SIZE])
{
    out[0] = '\0';
    size_t len = strlen(v);
    if (len > 0 && v[0] == '<')
        v++, len--;
    if (len > 0 && v[len - 1] == '>')
        len--;
    const char *at = NULL;
    for (size_t k = 0; k < len; k++)
        if (v[k] == '@')
            at = v + k;
    if (at) {
        len -= (size_t)(at + 1 - v);
        v = at + 1;
    }
    while (len > 0 && v[len - 1] == '.')
        len--;
    if (len == 0 || len >= AR_HOST_SIZE)
        return false;
    memcpy(out, v, len);
    out[len] = '\0';
    lower_in_place(out);
    if (!domain_ok(out)) {
        out[0] = '\0';
        return false;
    }
    return true;
}

static bool slot_domain(const struct slot *s, char out[AR_HOST_SIZE])
{
    return s->seen && !s->unusable && domain_of(s->v, out);
}

static void slot_keep(struct slot *s, const char *value, bool trunc)
{
    if (s->seen)
        return;
    s->seen = true;
    size_t n = strlen(value);
    s->unusable = trunc || n >= sizeof(s->v);
    if (s->unusable)
        n = 0;
    memcpy(s->v, value, n);
    s->v[n] = '\0';
}

static void walk_reset_slots(struct walk *w)
{
    w->d.seen = w->i.seen = w->mailfrom.seen = w->helo.seen = w->from.seen = false;
}

static bool walk_id(const char *id, bool trunc, void *ctx)
{
    struct walk *w = ctx;
    if (trunc || !is_our_id(w, id))
        return false; /* a foreign (or cut) id: ignored silently */
    if (!w->trusted) {
        w->out->n_ignored++; /* our id below the zone: written by the sender */
        return false;
    }
    if (w->out->n_trusted_headers++ == 0) {
        /* id fits: it was read into a buffer of this size without truncation */
        memcpy(w->out->authserv_id, id, strlen(id) + 1);
    }
    return true;
}

static bool is_counted_method(const char *m)
{
    return strcmp(m, "dkim") == 0 || strcmp(m, "spf") == 0 || strcmp(m, "dmarc") == 0;
}

static void walk_prop(const char *method, const char *result, const char *property,
                      const char *value, bool trunc, void *ctx)
{
    struct walk *w = ctx;
    if (!is_counted_method(method) || strcmp(result, "pass") != 0)
        return;
    if (strcmp(property, "header.d") == 0)
        slot_keep(&w->d, value, trunc);
    else if (strcmp(property, "header.i") == 0)
        slot_keep(&w->i, value, trunc);
    else if (strcmp(property, "smtp.mailfrom") == 0)
        slot_keep(&w->mailfrom, value, trunc);
    else if (strcmp(property, "smtp.helo") == 0)
        slot_keep(&w->helo, value, trunc);
    else if (strcmp(property, "header.from") == 0)
        slot_keep(&w->from, value, trunc);
}

static void add_pass(struct authres_set *out, const char *method, const char *domain)
{
    for (size_t k = 0; k < out->n_passes; k++)
        if (strcmp(out->passes[k].method, method) == 0 &&
            strcmp(out->passes[k].domain, domain) == 0)
            return;
    if (out->n_passes >= AUTHRES_MAX_PASSES)
        return;
    struct authres_pass *p = &out->passes[out->n_passes++];
    /* method is "dkim", "spf" or "dmarc"; domain is shorter than AR_HOST_SIZE */
    memcpy(p->method, method, strlen(method) + 1);
    memcpy(p->domain, domain, strlen(domain) + 1);
}

/* Whether an smtp.mailfrom value is the null reverse-path: "", "<>". */
static bool is_null_path(const struct slot *s)
{
    return !s->unusable && (s->v[0] == '\0' || strcmp(s->v, "<>") == 0);
}

/* The end of one resinfo of a trusted header: a pass of dkim, spf or dmarc
 * becomes a (method, domain) pair, any other result of them is a fail. */
static void walk_end(const char *method, const char *result, size_t n_props, void *ctx)
{
    struct walk *w = ctx;
    char domain[AR_HOST_SIZE];
    bool ok = false;

    if (!is_counted_method(method))
        goto out;
    if (strcmp(result, "pass") != 0) {
        w->out->n_fails++;
        goto out;
    }
    if (strcmp(method, "dkim") == 0)
        ok = w->d.seen ? slot_domain(&w->d, domain) : slot_domain(&w->i, domain);
    else if (strcmp(method, "spf") == 0)
        ok = (w->mailfrom.seen && !is_null_path(&w->mailfrom)) ? slot_domain(&w->mailfrom, domain)
                                                               : slot_domain(&w->helo, domain);
    else
        ok = slot_domain(&w->from, domain);
    if (ok)
        add_pass(w->out, method, domain);
out:
    walk_reset_slots(w);
}

/* Finds the "by" host and the "from" host of a Received value (lower case,
 * trailing dots removed; from is "" when there is no from clause). Comments and
 * quoted-strings are skipped, so "(helo by spoof.example)" does not count; the
 * scan stops at the ';' before the date. Returns false without a readable by-host. */
static bool received_hosts(const char *v, size_t len, char by[AR_HOST_SIZE],
                           char from[AR_HOST_SIZE], size_t *by_off)
{
    struct cur c = { v, len > AR_MAX_LEN ? AR_MAX_LEN : len, 0 };
    *by_off = 0;
    bool seen_from = false;
    by[0] = from[0] = '\0';
    for (;;) {
        skip_cfws(&c);
        if (cur_end(&c) || cur_peek(&c) == ';')
            return false;
        if (cur_peek(&c) == '"') {
            char junk[1];
            bool t = false;
            read_quoted(&c, junk, sizeof(junk), &t);
            continue;
        }
        char word[16];
        bool trunc = false;
        read_word(&c, ";\"", word, sizeof(word), &trunc);
        if (word[0] == '\0') { /* cannot happen: a blank, '(' or stop byte was handled */
            c.i++;
            continue;
        }
        bool is_by = !trunc && ascii_eq_nocase(word, "by");
        bool is_from = !trunc && !seen_from && ascii_eq_nocase(word, "from");
        if (!is_by && !is_from)
            continue;
        if (is_by)
            *by_off = c.i;
        char *host = is_by ? by : from;
        skip_cfws(&c);
        trunc = false;
        read_word(&c, ";\"", host, AR_HOST_SIZE, &trunc);
        size_t n = strlen(host);
        while (n > 0 && host[n - 1] == '.')
            host[--n] = '\0';
        lower_in_place(host);
        if (trunc)
            host[0] = '\0';
        if (is_by)
            return host[0] != '\0';
        seen_from = true;
    }
}

/* Whether the from clause (v up to by_off) names only addresses of ours: every
 * "[address]" in it, comments included, must be ours (asked as "[address]"),
 * and there must be one. The host names there are the client's HELO, which the
 * sender chooses, and prove nothing; the address our MTA adds cannot be
 * removed, so a foreign client never passes for one of our hosts. */
static bool from_addresses_ours(const struct walk *w, const char *v, size_t by_off)
{
    size_t n = 0;
    for (size_t i = 0; i < by_off; i++) {
        if (v[i] != '[')
            continue;
        size_t j = i + 1;
        while (j < by_off && v[j] != ']' && v[j] != '[' && j - i < 64)
            j++;
        if (j >= by_off || v[j] != ']')
            return false;
        char lit[AR_HOST_SIZE];
        size_t k = j - i + 1;
        memcpy(lit, v + i, k);
        lit[k] = '\0';
        lower_in_place(lit);
        if (!w->is_ours || !w->is_ours(lit, w->is_ours_ctx))
            return false;
        n++;
        i = j;
    }
    return n > 0;
}

static void walk_received(struct walk *w, const char *v, size_t len)
{
    char by[AR_HOST_SIZE], from[AR_HOST_SIZE];
    size_t by_off = 0;
    if (!w->trusted)
        return;
    if (!received_hosts(v, len, by, from, &by_off) || !is_our_host(w, by)) {
        w->trusted = false; /* a foreign hop: it and everything below are the sender's */
        return;
    }
    if (!from_addresses_ours(w, v, by_off))
        w->trusted = false; /* our MX took the message from a foreign host here */
}

static void walk_authres(struct walk *w, const char *v, size_t len)
{
    struct ar_hooks h = { walk_id, walk_prop, walk_end, w };
    char id[sizeof(w->out->authserv_id)];
    bool trunc;
    walk_reset_slots(w);
    (void)ar_parse(v, len, id, sizeof(id), &trunc, &h);
}

/* The index just past the end of the line that starts at i (after its LF). */
static size_t line_end(const char *head, size_t head_len, size_t i)
{
    const char *nl = memchr(head + i, '\n', head_len - i);
    return nl ? (size_t)(nl - head) + 1 : head_len;
}

/* Contract in authres.h. The header block is read line by line; a header is its
 * first line and the continuation lines (starting with SP or HT) after it. CR and
 * LF inside a folded value are blanks to both parsers, which unfolds it. A last
 * header that head_len cuts before its LF is not looked at: a cut
 * "header.d=example.com.evil.net" must not vouch for example.com. */
void authres_trusted(const char *head, size_t head_len, const char *const *ids,
                     authres_host_fn is_ours, void *ctx, struct authres_set *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof(*out));
    if (head == NULL || ids == NULL || ids[0] == NULL)
        return;

    /* About 5 KiB of property slots: on the stack, like the parser's buffers. */
    struct walk w = { .ids = ids, .is_ours = is_ours, .is_ours_ctx = ctx, .trusted = true,
                      .out = out };

    size_t i = 0;
    while (i < head_len) {
        if (head[i] == '\n' || (head[i] == '\r' && i + 1 < head_len && head[i + 1] == '\n'))
            break; /* the empty line: end of the header block */
        size_t first_end = line_end(head, head_len, i);
        size_t end = first_end;
        while (end < head_len && (head[end] == ' ' || head[end] == '\t'))
            end = line_end(head, head_len, end);

        if (end == head_len && head[head_len - 1] != '\n')
            break; /* cut by head_len: a cut value could name the wrong domain */
        const char *colon = memchr(head + i, ':', first_end - i);
        if (colon != NULL && head[i] != ' ' && head[i] != '\t') {
            size_t name_len = (size_t)(colon - (head + i));
            while (name_len > 0 && (head[i + name_len - 1] == ' ' || head[i + name_len - 1] == '\t'))
                name_len--;
            const char *v = colon + 1;
            size_t vlen = end - (size_t)(v - head);
            if (mem_eq_word(head + i, name_len, "received"))
                walk_received(&w, v, vlen);
            else if (mem_eq_word(head + i, name_len, "authentication-results"))
                walk_authres(&w, v, vlen);
        }
        i = end;
    }
}

/* Contract in authres.h. A trailing dot of d is ignored; d "" never matches. */
bool authres_has_pass(const struct authres_set *set, const char *m, const char *d,
                      bool subdomains)
{
    if (set == NULL || d == NULL)
        return false;
    size_t dl = strlen(d);
    while (dl > 0 && d[dl - 1] == '.')
        dl--;
    if (dl == 0)
        return false;
    size_t n = set->n_passes < AUTHRES_MAX_PASSES ? set->n_passes : AUTHRES_MAX_PASSES;
    for (size_t k = 0; k < n; k++) {
        const struct authres_pass *p = &set->passes[k];
        if (m != NULL && !ascii_eq_nocase(p->method, m))
            continue;
        size_t pl = strnlen(p->domain, sizeof(p->domain));
        if (pl < dl)
            continue;
        bool tail_eq = true;
        for (size_t j = 0; j < dl; j++)
            if (ascii_lower(p->domain[pl - dl + j]) != ascii_lower(d[j])) {
                tail_eq = false;
                break;
            }
        if (!tail_eq)
            continue;
        if (pl == dl || (subdomains && p->domain[pl - dl - 1] == '.'))
            return true;
    }
    return false;
}

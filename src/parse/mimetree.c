/*
 * mimetree.c: the MIME structure scanner (see mimetree.h for why it is not GMime's
 * parser). Called by parse_message() once per message; the recognisers then walk
 * the tree. It reads the buffer in place: a part is two ranges (header block and
 * body) plus the few header values the walk needs. Bounded: depth and part count
 * are capped, every search is limited to its parent's range, and recursion only
 * follows depth. Malformed input yields a smaller tree, never an error. Memory:
 * part records and decoded bodies live in the caller's arena.
 */
#define _GNU_SOURCE /* memmem */
#include "mimetree.h"

#include <gmime/gmime.h>
#include <stdint.h>
#include <string.h>

struct scan {
    struct arena *a;
    const struct mime_limits *lim;
    unsigned n_parts;
    bool truncated;
};

static struct mime_part *scan_entity(struct scan *s, const char *p, size_t len, unsigned depth,
                                     bool digest_child);

/* Finds the first field called name (nl bytes, case-insensitive) in a header block
 * without copying anything: only line starts are compared. On success sets
 * [*vs, *ve) to the raw, still folded value (after the colon, up to the end of its
 * last continuation line) and returns true. */
static bool find_field(const char *hdr, size_t hdr_len, const char *name, size_t nl,
                       const char **vs, const char **ve)
{
    const char *p = hdr, *end = hdr + hdr_len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        /* The first letter rejects almost every line without a call. */
        if ((size_t)(eol - p) > nl && g_ascii_tolower(*p) == g_ascii_tolower(*name)
            && g_ascii_strncasecmp(p, name, nl) == 0) {
            const char *c = p + nl;
            while (c < eol && (*c == ' ' || *c == '\t'))
                c++;
            if (c < eol && *c == ':') {
                const char *e = eol;
                while (e < end && e + 1 < end && (e[1] == ' ' || e[1] == '\t')) {
                    const char *e2 = memchr(e + 1, '\n', (size_t)(end - e - 1));
                    e = e2 ? e2 : end;
                }
                *vs = c + 1;
                *ve = e;
                return true;
            }
        }
        p = eol + 1;
    }
    return false;
}

/* Unfolds [vs, ve) into dst (capacity >= ve - vs + 1): newlines dropped, outer
 * white space trimmed. Returns the length. */
static size_t unfold_into(char *dst, const char *vs, const char *ve)
{
    while (vs < ve && (*vs == ' ' || *vs == '\t' || *vs == '\n'))
        vs++;
    size_t w = 0;
    for (const char *c = vs; c < ve; c++)
        if (*c != '\n')
            dst[w++] = *c;
    while (w > 0 && (dst[w - 1] == ' ' || dst[w - 1] == '\t'))
        w--;
    dst[w] = '\0';
    return w;
}

/* The unfolded value of field name as a scratch string in buf (small) or a
 * g_malloc'd one (*heap set; caller frees); NULL when absent. */
static char *field_value(const char *hdr, size_t hdr_len, const char *name, char *buf,
                         size_t cap, char **heap)
{
    const char *vs, *ve;
    *heap = NULL;
    if (!find_field(hdr, hdr_len, name, strlen(name), &vs, &ve))
        return NULL;
    size_t n = (size_t)(ve - vs);
    char *dst = buf;
    if (n + 1 > cap)
        dst = *heap = g_malloc(n + 1);
    unfold_into(dst, vs, ve);
    return dst;
}

/* The first "\n\n" in p[0..len): memchr per line (vectorised) beats memmem's
 * general search for this two-byte needle. */
static const char *blank_line(const char *p, size_t len)
{
    const char *end = p + len, *q = p;
    while (q < end && (q = memchr(q, '\n', (size_t)(end - q))) != NULL && q + 1 < end) {
        if (q[1] == '\n')
            return q;
        q++;
    }
    return NULL;
}

/* The first "\n" followed by delim[0..dl) in p[0..len); returns the "\n". */
static const char *line_starting(const char *p, size_t len, const char *delim, size_t dl)
{
    const char *end = p + len, *q = p;
    while (q < end && (q = memchr(q, '\n', (size_t)(end - q))) != NULL) {
        if ((size_t)(end - q - 1) >= dl && q[1] == delim[0] && memcmp(q + 1, delim, dl) == 0)
            return q;
        q++;
    }
    return NULL;
}

/* Length of the header block at p: up to and including the newline before the
 * first empty line (or all of len when there is none). *body_off gets where the
 * body starts. A first line that is not a header field means "no headers". */
static size_t header_block(const char *p, size_t len, size_t *body_off)
{
    if (len == 0) {
        *body_off = 0;
        return 0;
    }
    if (p[0] == '\n') {
        *body_off = 1;
        return 0;
    }
    size_t i = 0;
    while (i < len && i < 200 && p[i] > ' ' && p[i] < 127 && p[i] != ':')
        i++;
    if (i == 0 || i >= len || p[i] != ':') {
        *body_off = 0; /* not a header: the whole entity is body */
        return 0;
    }
    const char *end = blank_line(p, len);
    if (!end) {
        *body_off = len;
        return len;
    }
    *body_off = (size_t)(end - p) + 2;
    return (size_t)(end - p) + 1;
}

static void lower_copy(char *dst, size_t cap, const char *s, size_t n)
{
    size_t k = n < cap - 1 ? n : cap - 1;
    for (size_t i = 0; i < k; i++)
        dst[i] = g_ascii_tolower(s[i]);
    dst[k] = '\0';
}

/* Parses "type/subtype; name=value; name="quoted value"" into p. */
static void parse_content_type(struct scan *s, struct mime_part *p, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t tl = strcspn(v, "/; \t");
    if (v[tl] == '/' && tl > 0) {
        lower_copy(p->type, sizeof(p->type), v, tl);
        const char *st = v + tl + 1;
        size_t sl = strcspn(st, "; \t(");
        if (sl > 0)
            lower_copy(p->subtype, sizeof(p->subtype), st, sl);
        v = st + sl;
    } else {
        v += tl;
    }
    /* Parameters. */
    while (*v) {
        const char *semi = strchr(v, ';');
        if (!semi)
            break;
        v = semi + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t nl = strcspn(v, "=; \t");
        const char *name = v;
        v += nl;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v != '=')
            continue;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        const char *val;
        size_t vl;
        char *unq = NULL;
        if (*v == '"') {
            /* Quoted string: backslash escapes one character. */
            GString *q = g_string_new(NULL);
            v++;
            while (*v && *v != '"') {
                if (*v == '\\' && v[1])
                    v++;
                g_string_append_c(q, *v++);
            }
            if (*v == '"')
                v++;
            unq = g_string_free(q, FALSE);
            val = unq;
            vl = strlen(unq);
        } else {
            val = v;
            vl = strcspn(v, "; \t");
            v += vl;
        }
        const char **dst = NULL;
        bool lower = false;
        if (nl == 8 && g_ascii_strncasecmp(name, "boundary", 8) == 0)
            dst = &p->boundary;
        else if (nl == 7 && g_ascii_strncasecmp(name, "charset", 7) == 0)
            dst = &p->charset, lower = true;
        else if (nl == 11 && g_ascii_strncasecmp(name, "report-type", 11) == 0)
            dst = &p->report_type, lower = true;
        if (dst && !*dst && vl > 0 && vl < 256) {
            char *c = arena_strndup(s->a, val, vl);
            if (lower)
                for (char *x = c; *x; x++)
                    *x = g_ascii_tolower(*x);
            *dst = c;
        }
        g_free(unq);
    }
}

static void parse_cte(struct mime_part *p, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    if (g_ascii_strncasecmp(v, "base64", 6) == 0)
        p->cte = MIME_CTE_BASE64;
    else if (g_ascii_strncasecmp(v, "quoted-printable", 16) == 0)
        p->cte = MIME_CTE_QP;
    else if (g_ascii_strncasecmp(v, "x-uuencode", 10) == 0 ||
             g_ascii_strncasecmp(v, "uuencode", 8) == 0)
        p->cte = MIME_CTE_UUENCODE;
}

/* Finds the next delimiter line "--boundary" at or after *pos in body[0..len).
 * Returns its start or NULL; *line_end gets the offset after its newline and
 * *closing whether it is the close delimiter "--boundary--". */
static const char *next_delimiter(const char *body, size_t len, size_t from, const char *delim,
                                  size_t dl, size_t *line_end, bool *closing)
{
    size_t pos = from;
    while (pos + dl <= len) {
        const char *hit;
        if (pos == 0 && memcmp(body, delim, dl) == 0) {
            hit = body;
        } else {
            /* Search "\n--boundary". */
            const char *nl = line_starting(body + pos - (pos > 0 ? 1 : 0),
                                           len - pos + (pos > 0 ? 1 : 0), delim, dl);
            if (!nl)
                return NULL;
            hit = nl + 1;
        }
        size_t off = (size_t)(hit - body) + dl;
        bool close = off + 2 <= len && hit[dl] == '-' && hit[dl + 1] == '-';
        size_t e = off + (close ? 2 : 0);
        /* The rest of the line may only hold white space (transport padding). */
        while (e < len && (body[e] == ' ' || body[e] == '\t'))
            e++;
        if (e >= len || body[e] == '\n') {
            *line_end = e < len ? e + 1 : len;
            *closing = close;
            return hit;
        }
        pos = (size_t)(hit - body) + 1; /* a longer boundary sharing our prefix */
    }
    return NULL;
}

static void scan_multipart(struct scan *s, struct mime_part *p)
{
    size_t bl = strlen(p->boundary);
    /* "\n--" + boundary, so the search can ask for a line start in one memmem. */
    char *buf = g_malloc(bl + 4);
    buf[0] = '\n';
    buf[1] = buf[2] = '-';
    memcpy(buf + 3, p->boundary, bl);
    const char *delim = buf + 1;
    size_t dl = bl + 2;

    size_t line_end = 0;
    bool closing = false;
    const char *first = next_delimiter(p->body, p->body_len, 0, delim, dl, &line_end, &closing);
    struct mime_part **tail = &p->child;
    bool digest = strcmp(p->subtype, "digest") == 0;
    while (first && !closing) {
        if (s->n_parts >= s->lim->max_parts) {
            s->truncated = true;
            break;
        }
        size_t start = line_end;
        size_t next_end = 0;
        bool next_closing = false;
        const char *next = next_delimiter(p->body, p->body_len, start, delim, dl, &next_end,
                                          &next_closing);
        /* The newline before a delimiter belongs to the delimiter. */
        size_t stop = next ? (size_t)(next - p->body) : p->body_len;
        if (next && stop > start)
            stop--;
        if (stop < start)
            stop = start;
        struct mime_part *c = scan_entity(s, p->body + start, stop - start, p->depth + 1, digest);
        if (c) {
            *tail = c;
            tail = &c->next;
        }
        first = next;
        line_end = next_end;
        closing = next_closing;
    }
    g_free(buf);
}

static struct mime_part *scan_entity(struct scan *s, const char *p, size_t len, unsigned depth,
                                     bool digest_child)
{
    if (depth > s->lim->max_depth || s->n_parts >= s->lim->max_parts) {
        s->truncated = true;
        return NULL;
    }
    s->n_parts++;
    struct mime_part *m = arena_alloc(s->a, sizeof(*m));
    size_t body_off = 0;
    m->hdr = p;
    m->hdr_len = header_block(p, len, &body_off);
    m->body = p + body_off;
    m->body_len = len - body_off;
    m->depth = depth;
    char buf[512], *heap = NULL;
    const char *v = field_value(m->hdr, m->hdr_len, "Content-Type", buf, sizeof(buf), &heap);
    if (v)
        parse_content_type(s, m, v);
    g_free(heap);
    v = field_value(m->hdr, m->hdr_len, "Content-Transfer-Encoding", buf, sizeof(buf), &heap);
    if (v)
        parse_cte(m, v);
    g_free(heap);
    if (!m->type[0] || !m->subtype[0]) {
        strcpy(m->type, digest_child ? "message" : "text");
        strcpy(m->subtype, digest_child ? "rfc822" : "plain");
    }
    if (strcmp(m->type, "multipart") == 0 && m->boundary) {
        scan_multipart(s, m);
    } else if (strcmp(m->type, "message") == 0 &&
               (strcmp(m->subtype, "rfc822") == 0 || strcmp(m->subtype, "global") == 0)) {
        size_t n = 0;
        const char *inner = mime_body(s->a, m, m->body_len, &n);
        m->message = scan_entity(s, inner, n, depth + 1, false);
    }
    return m;
}

struct mime_part *mime_scan(struct arena *a, const char *text, size_t len,
                            const struct mime_limits *lim, unsigned *n_parts, bool *truncated)
{
    struct scan s = { a, lim, 0, false };
    struct mime_part *root = scan_entity(&s, text, len, 0, false);
    if (n_parts)
        *n_parts = s.n_parts;
    if (truncated)
        *truncated = s.truncated;
    return root;
}

bool mime_is(const struct mime_part *p, const char *type, const char *subtype)
{
    return p && strcmp(p->type, type) == 0 &&
           (strcmp(subtype, "*") == 0 || strcmp(p->subtype, subtype) == 0);
}

static const struct mime_part *find_rec(const struct mime_part *p, const char *type,
                                        const char *subtype, bool into_messages)
{
    for (; p; p = p->next) {
        if (mime_is(p, type, subtype))
            return p;
        const struct mime_part *hit = find_rec(p->child, type, subtype, into_messages);
        if (hit)
            return hit;
        if (into_messages && p->message) {
            hit = find_rec(p->message, type, subtype, into_messages);
            if (hit)
                return hit;
        }
    }
    return NULL;
}

const struct mime_part *mime_find(const struct mime_part *root, const char *type,
                                  const char *subtype, bool into_messages)
{
    if (!root)
        return NULL;
    if (mime_is(root, type, subtype))
        return root;
    const struct mime_part *hit = find_rec(root->child, type, subtype, into_messages);
    if (!hit && into_messages && root->message)
        hit = find_rec(root->message, type, subtype, into_messages);
    return hit;
}

void mime_header_each(const char *hdr, size_t hdr_len, unsigned max,
                      int (*fn)(const char *name, size_t name_len, const char *value, void *ctx),
                      void *ctx)
{
    const char *p = hdr, *end = hdr + hdr_len;
    char small[1024];
    char *buf = small;
    size_t cap = sizeof(small);
    unsigned n = 0;
    while (p < end && n < max) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if (*p == ' ' || *p == '\t') {
            p = eol + 1; /* a continuation without a field: skip */
            continue;
        }
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || colon == p) {
            p = eol + 1;
            continue;
        }
        const char *name = p;
        size_t nl = (size_t)(colon - p);
        while (nl > 0 && (name[nl - 1] == ' ' || name[nl - 1] == '\t'))
            nl--;
        /* Value: this line's rest plus continuation lines, newlines removed. */
        const char *vs = colon + 1;
        const char *ve = eol;
        while (ve < end && ve + 1 < end && (ve[1] == ' ' || ve[1] == '\t')) {
            const char *e2 = memchr(ve + 1, '\n', (size_t)(end - ve - 1));
            ve = e2 ? e2 : end;
        }
        size_t vl = (size_t)(ve - vs);
        if (vl + 1 > cap) {
            cap = vl + 1;
            buf = buf == small ? g_malloc(cap) : g_realloc(buf, cap);
        }
        size_t w = 0;
        for (const char *c = vs; c < ve; c++)
            if (*c != '\n')
                buf[w++] = *c;
        while (w > 0 && (buf[w - 1] == ' ' || buf[w - 1] == '\t'))
            w--;
        buf[w] = '\0';
        char *v = buf;
        while (*v == ' ' || *v == '\t')
            v++;
        n++;
        int stop = fn(name, nl, v, ctx);
        p = ve < end ? ve + 1 : end;
        if (stop)
            break;
    }
    if (buf != small)
        g_free(buf);
}

char *mime_header(struct arena *a, const char *hdr, size_t hdr_len, const char *name)
{
    const char *vs, *ve;
    if (!find_field(hdr, hdr_len, name, strlen(name), &vs, &ve))
        return NULL;
    char *dst = arena_alloc_raw(a, (size_t)(ve - vs) + 1);
    unfold_into(dst, vs, ve);
    return dst;
}

void mime_headers(struct arena *a, const char *hdr, size_t hdr_len, const char *const *names,
                  size_t n_names, char **out)
{
    for (size_t i = 0; i < n_names; i++)
        out[i] = NULL;
    size_t found = 0;
    const char *p = hdr, *end = hdr + hdr_len;
    while (p < end && found < n_names) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        const char *colon = *p == ' ' || *p == '\t' ? NULL : memchr(p, ':', (size_t)(eol - p));
        if (colon) {
            size_t nl = (size_t)(colon - p);
            while (nl > 0 && (p[nl - 1] == ' ' || p[nl - 1] == '\t'))
                nl--;
            for (size_t i = 0; i < n_names; i++) {
                if (out[i] || strlen(names[i]) != nl || g_ascii_strncasecmp(p, names[i], nl) != 0)
                    continue;
                const char *e = eol;
                while (e < end && e + 1 < end && (e[1] == ' ' || e[1] == '\t')) {
                    const char *e2 = memchr(e + 1, '\n', (size_t)(end - e - 1));
                    e = e2 ? e2 : end;
                }
                out[i] = arena_alloc_raw(a, (size_t)(e - colon));
                unfold_into(out[i], colon + 1, e);
                found++;
                break;
            }
        }
        p = eol + 1;
    }
}

const char *mime_body(struct arena *a, const struct mime_part *p, size_t max, size_t *out_len)
{
    size_t n = p->body_len < max ? p->body_len : max;
    char *out;
    size_t w;
    if (p->cte == MIME_CTE_BASE64 || p->cte == MIME_CTE_QP) {
        GMimeEncoding enc;
        g_mime_encoding_init_decode(&enc, p->cte == MIME_CTE_BASE64 ? GMIME_CONTENT_ENCODING_BASE64
                                                                    : GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
        out = arena_alloc_raw(a, g_mime_encoding_outlen(&enc, n) + 1);
        w = g_mime_encoding_step(&enc, p->body, n, out);
        for (size_t i = 0; i < w; i++)
            if (out[i] == '\0')
                out[i] = ' ';
    } else {
        out = arena_alloc_raw(a, n + 1);
        memcpy(out, p->body, n);
        w = n;
    }
    out[w] = '\0';
    if (out_len)
        *out_len = w;
    return out;
}

/* Pure 7-bit text without ESC reads the same in every ASCII-compatible charset:
 * converting it would only copy it. UTF-16/32 and UTF-7 are not ASCII-compatible,
 * and ISO-2022 switches sets with ESC. */
static bool needs_conversion(const char *cs, const char *s, size_t n)
{
    if (g_str_has_prefix(cs, "utf-16") || g_str_has_prefix(cs, "utf-32") ||
        g_str_has_prefix(cs, "utf-7") || g_str_has_prefix(cs, "ucs"))
        return true;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80 || s[i] == 0x1b)
            return true;
    return false;
}

bool mime_utf8_valid(const char *s, long n)
{
    size_t len = n < 0 ? strlen(s) : (size_t)n;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & UINT64_C(0x8080808080808080))
            break;
    }
    while (i < len && (unsigned char)s[i] < 0x80)
        i++;
    if (i == len)
        return true;
    return g_utf8_validate(s + i, (gssize)(len - i), NULL);
}

const char *mime_body_utf8(struct arena *a, const struct mime_part *p, size_t max,
                           size_t *out_len)
{
    size_t n = 0;
    const char *raw = mime_body(a, p, max, &n);
    const char *cs = p->charset;
    if (cs && strcmp(cs, "utf-8") != 0 && strcmp(cs, "us-ascii") != 0 &&
        strcmp(cs, "utf8") != 0 && needs_conversion(cs, raw, n)) {
        /* GMime's iconv cache keeps converters open: g_convert() would load the
         * gconv module afresh for every message. */
        char *conv = NULL;
        gsize written = 0;
        iconv_t cd = g_mime_iconv_open("UTF-8", g_mime_charset_iconv_name(cs));
        if (cd != (iconv_t)-1) {
            conv = g_mime_iconv_strndup(cd, raw, n);
            g_mime_iconv_close(cd);
            written = conv ? strlen(conv) : 0;
        }
        if (conv) {
            char *v = g_utf8_validate(conv, (gssize)written, NULL) ? NULL
                                                                   : g_utf8_make_valid(conv, (gssize)written);
            const char *src = v ? v : conv;
            size_t sl = v ? strlen(v) : written;
            char *out = arena_strndup(a, src, sl);
            g_free(v);
            g_free(conv);
            if (out_len)
                *out_len = sl;
            return out;
        }
    }
    if (mime_utf8_valid(raw, (long)n)) {
        if (out_len)
            *out_len = n;
        return raw;
    }
    char *v = g_utf8_make_valid(raw, (gssize)n);
    size_t vl = strlen(v);
    char *out = arena_strndup(a, v, vl);
    g_free(v);
    if (out_len)
        *out_len = vl;
    return out;
}

char *mime_decode_header(struct arena *a, const char *raw)
{
    if (!raw)
        return NULL;
    if (!strstr(raw, "=?") && mime_utf8_valid(raw, -1))
        return arena_strndup(a, raw, strlen(raw));
    char *dec = g_mime_utils_header_decode_text(NULL, raw);
    char *valid = g_utf8_make_valid(dec ? dec : raw, -1);
    char *out = arena_strndup(a, valid, strlen(valid));
    g_free(valid);
    g_free(dec);
    return out;
}

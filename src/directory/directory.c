/*
 * directory.c: the customer directory (directory.h). `abusedesk directory import`
 * feeds it CSV text, which a hand-written RFC 4180 reader splits into records
 * (quoted fields, "" escapes, line breaks inside quotes, CRLF or LF, an optional
 * UTF-8 BOM, blank lines skipped) under fixed limits: 4096 bytes per line and per
 * field, 64 fields per record, 1,000,000 data rows. Each row is checked and
 * upserted into customers, accounts, domains and scripts (a uid's web space root
 * on its scripts row); attribution reads them back through the lookups, and
 * directory_path_problem()/directory_path_under() give it the rules for paths in
 * a web space. After the rows, a customer whose contact address is one of its
 * own accounts is reported through the warn() callback. Diagnostics: a wrong
 * header, a crossed limit or a quote never closed fail the whole import
 * (AD_ERR_PARSE, AD_ERR_LIMIT) with "NAME: line N: ..." in err; a bad row is only
 * refused, reported through the caller's bad() callback as "line N, column X:
 * ...". A store failure returns AD_ERR_STORE or AD_ERR_BUSY; the import runs in
 * one transaction, so then nothing of the file is kept. directory_set_contact()
 * checks an address with the import's own rules (AD_ERR_PARSE) and fails with
 * AD_ERR_NOTFOUND for an unknown customer. Strings handed out are g_malloc'd and
 * the caller's; nothing is kept between calls except the store's statement cache.
 */
#include "directory.h"

#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "store/store_directory.h"
#include "store/store_dirsync.h"

/* The SQL of the directory is in store_directory.c: upserts move an account,
 * domain or uid to the customer named last; a customer's updated_at changes only
 * when one of its fields does. A uid's web space root: the one the file gives;
 * without one, the stored root stays while the uid stays with its customer and is
 * dropped when it moves. */

enum {
    DIRECTORY_MAX_LINE = 4096,      /* bytes per physical line, terminator excluded */
    DIRECTORY_MAX_FIELD = 4096,     /* bytes per field, after unquoting */
    DIRECTORY_MAX_FIELDS = 64,      /* fields kept per record; more make the row bad */
    DIRECTORY_MAX_ROWS = 1000000,   /* data rows per file */
};

/* The columns of the file, in the order rows are checked. */
enum dcol {
    DCOL_ID, DCOL_NAME, DCOL_CONTACT, DCOL_LANG, DCOL_ACCOUNT, DCOL_DOMAIN, DCOL_UID,
    DCOL_WEBROOT,
    /* the customer's sending limits for the policy server, in the order of
     * struct store_dirsync_limits */
    DCOL_MSGS_HOUR, DCOL_RCPTS_HOUR, DCOL_RCPTS_DAY, DCOL_DOMAINS_HOUR, DCOL_N
};
#define DCOL_LIMIT0 DCOL_MSGS_HOUR

static const char *const directory_col_names[DCOL_N] = {
    "customer_id", "customer_name", "contact_email", "language", "account", "domain", "uid",
    "webroot", "msgs_per_hour", "rcpts_per_hour", "rcpts_per_day", "domains_per_hour",
};

/* Other names a header may use for a column: the short names of the limits. */
static const struct {
    const char *name;
    int col;
} directory_col_aliases[] = {
    { "limit_hour", DCOL_MSGS_HOUR },
    { "limit_day", DCOL_RCPTS_DAY },
};

/* The largest limit a column takes: what [policy] accepts. */
#define DIRECTORY_MAX_LIMIT 100000000
#define DIRECTORY_EXPECTED \
    "customer_id, customer_name, contact_email, language, account, domain, uid, webroot"

/* Columns a header may leave out. */
static bool col_optional(int k)
{
    return k >= DCOL_UID;
}

/* ---- the CSV reader ---------------------------------------------------------- */

/* A cursor over CSV text. One record at a time is unquoted into buf, its fields
 * separated by NUL bytes and located by off[]. */
struct csv {
    const char *name;               /* labels messages */
    const char *p, *end;
    size_t line;                    /* line number of the byte at p */
    size_t line_len;                /* bytes of that line read so far */
    GString *buf;
    size_t off[DIRECTORY_MAX_FIELDS];
    size_t n;                       /* fields in the record, also those not kept */
    size_t rec_line;                /* line the record starts on */
    bool quoted0;                   /* its first field was quoted */
    size_t field_line;              /* line the current field starts on */
    size_t field_len;
    bool field_quoted;
    const char *prob;               /* first syntax problem of the record (static text) */
    size_t prob_col;                /* its field, 1-based */
    const char *const *names;       /* field index -> column name once the header is read */
    size_t n_names;
    char sep;                       /* ',' or ';' (csv_detect_sep) */
};

/* The field separator of the file: ';' when the first line that is not blank
 * (the header) has more semicolons than commas outside quotes, as spreadsheets
 * in many European locales export; ',' otherwise. */
static char csv_detect_sep(const char *p, const char *end)
{
    size_t commas = 0, semis = 0;
    bool quoted = false, any = false;
    for (; p < end; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (quoted)
            continue;
        else if (*p == '\n') {
            if (any)
                break;
        } else if (*p == ',')
            commas++;
        else if (*p == ';')
            semis++;
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            any = true;
    }
    return semis > commas ? ';' : ',';
}

/* "customer_name" once the header named the field, else its number. */
static const char *csv_col(const struct csv *c, size_t col, char *tmp, size_t size)
{
    if (c->names && col >= 1 && col <= c->n_names && c->names[col - 1])
        return c->names[col - 1];
    snprintf(tmp, size, "%zu", col);
    return tmp;
}

static void csv_problem(struct csv *c, const char *what)
{
    /* A column the import ignores may hold anything that still splits. */
    if (c->names && c->n <= c->n_names && !c->names[c->n - 1])
        return;
    if (!c->prob) {
        c->prob = what;
        c->prob_col = c->n;
    }
}

/* Appends one byte of the current field, enforcing the line and field limits. */
static int csv_put(struct csv *c, char ch, struct ad_err *err)
{
    if (ch == '\n') {
        c->line++;
        c->line_len = 0;
    } else if (++c->line_len > DIRECTORY_MAX_LINE) {
        return ad_err_set(err, AD_ERR_LIMIT, "%s: line %zu: longer than %d bytes", c->name,
                          c->line, DIRECTORY_MAX_LINE);
    }
    if (++c->field_len > DIRECTORY_MAX_FIELD) {
        char tmp[24];
        return ad_err_set(err, AD_ERR_LIMIT,
                          "%s: line %zu, column %s: %sfield longer than %d bytes%s", c->name,
                          c->field_line, csv_col(c, c->n, tmp, sizeof tmp),
                          c->field_quoted ? "quoted " : "", DIRECTORY_MAX_FIELD,
                          c->field_quoted ? " (a quote that is never closed?)" : "");
    }
    if (ch == '\0') {
        csv_problem(c, "NUL byte in the field (is this a text file?)");
        ch = '?';
    }
    if (c->n <= DIRECTORY_MAX_FIELDS)
        g_string_append_c(c->buf, ch);
    return 0;
}

/* Reads the next record into c. Returns 1 when there is one, 0 at the end of the
 * input, or a negative AD_ERR_* when a limit is crossed or a quote is never
 * closed (the rest of the file cannot be split into records then). Syntax
 * problems that leave the record boundaries clear (text after a closing quote, a
 * quote inside an unquoted field, a NUL byte) are noted in c->prob instead. */
static int csv_record(struct csv *c, struct ad_err *err)
{
    g_string_truncate(c->buf, 0);
    c->n = 0;
    c->prob = NULL;
    c->prob_col = 0;
    c->quoted0 = false;
    c->rec_line = c->line;
    if (c->p >= c->end)
        return 0;
    for (;;) {
        int rc;
        c->n++;
        if (c->n <= DIRECTORY_MAX_FIELDS)
            c->off[c->n - 1] = c->buf->len;
        c->field_line = c->line;
        c->field_len = 0;
        c->field_quoted = c->p < c->end && *c->p == '"';
        if (c->n == 1)
            c->quoted0 = c->field_quoted;
        if (c->field_quoted) {
            c->p++;
            c->line_len++;
            for (;;) {
                if (c->p >= c->end) {
                    char tmp[24];
                    return ad_err_set(err, AD_ERR_PARSE,
                                      "%s: line %zu, column %s: quoted field is not closed "
                                      "before the end of the file",
                                      c->name, c->field_line, csv_col(c, c->n, tmp, sizeof tmp));
                }
                char ch = *c->p++;
                if (ch == '"') {
                    c->line_len++;
                    if (c->p < c->end && *c->p == '"') {
                        c->p++;
                        if ((rc = csv_put(c, '"', err)))
                            return rc;
                        continue;
                    }
                    break;
                }
                /* CRLF inside quotes is kept as a single LF, like the line ends. */
                if (ch == '\r' && c->p < c->end && *c->p == '\n')
                    continue;
                if ((rc = csv_put(c, ch, err)))
                    return rc;
            }
        }
        /* An unquoted field, or whatever follows a closing quote up to the delimiter. */
        while (c->p < c->end && *c->p != c->sep && *c->p != '\n') {
            char ch = *c->p;
            if (ch == '\r' && (c->p + 1 == c->end || c->p[1] == '\n'))
                break;
            c->p++;
            if (c->field_quoted)
                csv_problem(c, "text after the closing quote (quote the whole field)");
            else if (ch == '"')
                csv_problem(c, "quote inside an unquoted field (quote the whole field and "
                               "double the quote: \"\")");
            if ((rc = csv_put(c, ch, err)))
                return rc;
        }
        if (c->n <= DIRECTORY_MAX_FIELDS)
            g_string_append_c(c->buf, '\0');
        if (c->p >= c->end)
            return 1;
        if (*c->p == c->sep) {
            c->p++;
            if (++c->line_len > DIRECTORY_MAX_LINE)
                return ad_err_set(err, AD_ERR_LIMIT, "%s: line %zu: longer than %d bytes",
                                  c->name, c->line, DIRECTORY_MAX_LINE);
            continue;
        }
        if (*c->p == '\r')
            c->p++;
        if (c->p < c->end && *c->p == '\n')
            c->p++;
        c->line++;
        c->line_len = 0;
        return 1;
    }
}

/* Field i (0-based) of the current record; i must be below min(n, MAX_FIELDS).
 * Borrowed until the next record; writable, so that it can be trimmed in place. */
static char *csv_field(struct csv *c, size_t i)
{
    return c->buf->str + c->off[i];
}

static bool is_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t')
            return false;
    return true;
}

/* Reads the next record that is not a blank line: 1, 0 at the end, or an error. */
static int csv_next(struct csv *c, struct ad_err *err)
{
    for (;;) {
        int rc = csv_record(c, err);
        if (rc <= 0)
            return rc;
        if (c->n == 1 && !c->quoted0 && !c->prob && is_blank(csv_field(c, 0)))
            continue;
        return 1;
    }
}

/* ---- values ------------------------------------------------------------------ */

/* Strips spaces and tabs at both ends, in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = g_ascii_tolower(*s);
}

/* A control character other than those allowed (a set of bytes, may be ""). */
static bool has_ctl(const char *s, const char *allowed)
{
    for (const unsigned char *u = (const unsigned char *)s; *u; u++)
        if ((*u < 0x20 || *u == 0x7f) && !strchr(allowed, *u))
            return true;
    return false;
}

/* A printable excerpt of s for messages: at most 60 bytes, never cut inside a
 * UTF-8 sequence, control characters shown as '?'. */
static const char *excerpt(const char *s, char *buf, size_t size)
{
    size_t max = size - 4 < 60 ? size - 4 : 60;
    size_t n = strlen(s);
    bool cut = n > max;
    if (cut) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++)
        buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    strcpy(buf + n, cut ? "..." : "");
    return buf;
}

/* Host name syntax, lower-case ASCII: at least two labels of letters, digits, '-'
 * and '_' (1 to 63 bytes, no '-' at either end), at most 253 bytes, and a last
 * label that is not all digits, so that an IP address is not taken for a name. */
static bool domain_ok(const char *d)
{
    size_t len = strlen(d);
    if (len == 0 || len > 253 || !strchr(d, '.'))
        return false;
    const char *label = d;
    bool digits = true;
    for (const char *s = d;; s++) {
        if (*s == '.' || *s == '\0') {
            size_t n = (size_t)(s - label);
            if (n == 0 || n > 63 || label[0] == '-' || s[-1] == '-')
                return false;
            if (*s == '\0')
                break;
            label = s + 1;
            digits = true;
            continue;
        }
        if (!g_ascii_isalnum(*s) && *s != '-' && *s != '_')
            return false;
        if (!g_ascii_isdigit(*s))
            digits = false;
    }
    return !digits;
}

/* Lower-cases a domain, drops one final dot and converts an internationalized
 * name to its ASCII (xn--) form. Returns a g_malloc'd string or NULL when the
 * name cannot be converted. */
static char *domain_norm(const char *d)
{
    char *out = NULL;
    bool ascii = true;
    for (const char *s = d; *s; s++)
        if ((unsigned char)*s >= 0x80)
            ascii = false;
    out = ascii ? g_strdup(d) : g_hostname_to_ascii(d);
    if (!out)
        return NULL;
    lower(out);
    size_t n = strlen(out);
    if (n > 1 && out[n - 1] == '.')
        out[n - 1] = '\0';
    return out;
}

/* Lower-cases an address or login and converts an internationalized domain
 * after the last '@' to its ASCII form, so that the file and the lookups agree.
 * Returns a g_malloc'd string (the plain lower-cased copy when the domain cannot
 * be converted: validation refuses it then). */
static char *addr_norm(const char *a)
{
    const char *at = strrchr(a, '@');
    char *out = NULL;
    if (at) {
        char *dom = domain_norm(at + 1);
        if (dom)
            out = g_strdup_printf("%.*s@%s", (int)(at - a), a, dom);
        g_free(dom);
    }
    if (!out)
        out = g_strdup(a);
    lower(out);
    return out;
}

/* local@domain.tld: a local part of 1 to 64 bytes without spaces, control
 * characters, quotes, brackets or commas, and a domain_ok() domain. Expects
 * lower case. */
static bool address_ok(const char *a)
{
    const char *at = strrchr(a, '@');
    if (!at || at == a || at - a > 64 || strlen(a) > 254)
        return false;
    for (const char *s = a; s < at; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f || strchr("\"<>(),;:[]\\@", *s))
            return false;
    return domain_ok(at + 1);
}

/* A login name: no spaces, control characters, quotes or angle brackets; one
 * that contains '@' must be a whole address. */
static bool account_ok(const char *a)
{
    for (const char *s = a; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f || strchr("\"<>,;", *s))
            return false;
    return !strchr(a, '@') || address_ok(a);
}

/* A Unix uid: 1 to 10 digits, at most 4294967295. */
static bool uid_ok(const char *u)
{
    size_t n = strlen(u);
    if (n == 0 || n > 10)
        return false;
    for (const char *s = u; *s; s++)
        if (!g_ascii_isdigit(*s))
            return false;
    return g_ascii_strtoull(u, NULL, 10) <= UINT32_MAX;
}

/* The import's rules for a contact address, on a trimmed value: a g_malloc'd
 * normalised copy (lower case, IDN as xn--), or NULL with the reason in why.
 * The import and `directory set-contact` share it. */
static char *contact_norm(const char *v, char *why, size_t size)
{
    char ex[72];
    if (!*v) {
        snprintf(why, size, "missing (the address notices go to)");
        return NULL;
    }
    if (!g_utf8_validate(v, -1, NULL)) {
        snprintf(why, size, "not valid UTF-8");
        return NULL;
    }
    if (has_ctl(v, "")) {
        snprintf(why, size, "control character in '%s'", excerpt(v, ex, sizeof ex));
        return NULL;
    }
    char *n = addr_norm(v);
    if (address_ok(n))
        return n;
    snprintf(why, size, "'%s' is not a mail address (want local@domain.tld)",
             excerpt(n, ex, sizeof ex));
    g_free(n);
    return NULL;
}

const char *directory_path_problem(const char *path)
{
    if (!path || !*path)
        return "is empty";
    size_t n = strlen(path);
    if (n > DIRECTORY_MAX_PATH)
        return "is longer than " G_STRINGIFY(DIRECTORY_MAX_PATH) " bytes";
    if (has_ctl(path, ""))
        return "has a control character";
    if (!g_utf8_validate(path, (gssize)n, NULL))
        return "is not valid UTF-8";
    /* Segment by segment: a leading '/' opens the first one. */
    const char *seg = path[0] == '/' ? path + 1 : path;
    for (;;) {
        size_t len = strcspn(seg, "/");
        if (len == 0)
            return "has an empty segment ('//' or a final '/')";
        if (len == 1 && seg[0] == '.')
            return "has a '.' segment";
        if (len == 2 && seg[0] == '.' && seg[1] == '.')
            return "has a '..' segment";
        if (seg[len] == '\0')
            return NULL;
        seg += len + 1;
    }
}

bool directory_path_under(const char *path, const char *webroot)
{
    if (!path || !webroot || path[0] != '/' || webroot[0] != '/' ||
        directory_path_problem(path) || directory_path_problem(webroot))
        return false;
    /* Clean paths have one spelling, so a segment-wise comparison is a prefix
     * that ends at a '/' of path, with something after it. */
    size_t n = strlen(webroot);
    return strncmp(path, webroot, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}

/* Checks a webroot value, after its final '/' were dropped: NULL when fine, else
 * why not (static text). */
static const char *webroot_problem(const char *v)
{
    if (v[0] != '/')
        return "not an absolute path";
    if (!strcmp(v, "/"))
        return "the root directory / is not a web space";
    return directory_path_problem(v);
}

/* ---- import ------------------------------------------------------------------ */

/* Where an account, domain or uid was first listed in this file. */
struct seen {
    const char *customer_id;        /* borrowed: a key of imp.customers */
    size_t line;
    char *webroot;                  /* a uid's web space root once given, owned; or NULL */
    size_t webroot_line;
};

static void seen_free(gpointer p)
{
    struct seen *s = p;
    g_free(s->webroot);
    g_free(s);
}

struct imp {
    struct store *st;
    struct csv csv;
    int pos[DCOL_N];                /* column -> field index, -1 when absent */
    size_t n_cols;                  /* fields of the header */
    const char *names[DIRECTORY_MAX_FIELDS];
    GHashTable *customers;          /* id -> "name\ncontact\nlanguage" as last written */
    GHashTable *seen[DCOL_N];       /* value -> struct seen, for account, domain, uid */
    size_t n_rows, n_bad, n_webroots, n_warnings, n_kept_open;
    bool force;                     /* --sync --force */
    int64_t now;
    void (*bad)(size_t line, const char *msg, void *ctx);
    void (*warn)(const char *msg, void *ctx);
    void *ctx;
};

static void imp_bad(struct imp *im, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Refuses the current row with a message. */
static void imp_bad(struct imp *im, size_t line, const char *fmt, ...)
{
    im->n_bad++;
    if (!im->bad)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    im->bad(line, msg, im->ctx);
    g_free(msg);
}

/* Reads the header record and maps its columns. Errors are AD_ERR_PARSE. */
static int imp_header(struct imp *im, struct ad_err *err)
{
    struct csv *c = &im->csv;
    int rc = csv_next(c, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return ad_err_set(err, AD_ERR_PARSE, "%s: no header line (expected " DIRECTORY_EXPECTED
                                             ")", c->name);
    size_t line = c->rec_line;
    if (c->prob) {
        char tmp[24];
        return ad_err_set(err, AD_ERR_PARSE, "%s: line %zu, column %s: %s", c->name, line,
                          csv_col(c, c->prob_col, tmp, sizeof tmp), c->prob);
    }
    if (c->n > DIRECTORY_MAX_FIELDS)
        return ad_err_set(err, AD_ERR_PARSE, "%s: line %zu: %zu columns in the header (expected "
                          DIRECTORY_EXPECTED ")", c->name, line, c->n);
    for (int k = 0; k < DCOL_N; k++)
        im->pos[k] = -1;
    GString *unknown = g_string_new(NULL);
    size_t n_unknown = 0;
    const char *dup = NULL;
    for (size_t i = 0; i < c->n; i++) {
        char *f = trim(csv_field(c, i));
        /* The BOM was skipped before the first record; a BOM that a concatenation
         * left in front of a header name is dropped here too. */
        if (i == 0 && strncmp(f, "\xef\xbb\xbf", 3) == 0)
            f += 3;
        int k = 0;
        while (k < DCOL_N && g_ascii_strcasecmp(f, directory_col_names[k]) != 0)
            k++;
        for (size_t a = 0; k == DCOL_N && a < G_N_ELEMENTS(directory_col_aliases); a++)
            if (g_ascii_strcasecmp(f, directory_col_aliases[a].name) == 0)
                k = directory_col_aliases[a].col;
        /* Columns the import does not know (an export with more fields than
         * the directory needs) are ignored, and named once in a warning. */
        if (*f == '\0') {
            g_string_append_printf(unknown, "%scolumn %zu (no name)", n_unknown ? ", " : "",
                                   i + 1);
            n_unknown++;
        } else if (k == DCOL_N) {
            char ex[72];
            g_string_append_printf(unknown, "%s'%s'", n_unknown ? ", " : "",
                                   excerpt(f, ex, sizeof ex));
            n_unknown++;
        } else if (im->pos[k] >= 0) {
            dup = directory_col_names[k];
        } else {
            im->pos[k] = (int)i;
            im->names[i] = directory_col_names[k];
        }
    }
    rc = 0;
    if (dup) {
        rc = ad_err_set(err, AD_ERR_PARSE, "%s: line %zu: column '%s' appears twice", c->name,
                        line, dup);
    } else {
        GString *missing = g_string_new(NULL);
        size_t n_missing = 0;
        for (int k = 0; k < DCOL_N; k++)
            if (im->pos[k] < 0 && !col_optional(k)) {
                g_string_append_printf(missing, "%s'%s'", n_missing ? ", " : "",
                                       directory_col_names[k]);
                n_missing++;
            }
        /* A misspelt required column is both missing and unknown: say both. */
        if (n_missing)
            rc = ad_err_set(err, AD_ERR_PARSE, "%s: line %zu: missing column%s %s (expected "
                            DIRECTORY_EXPECTED ")%s%s", c->name, line,
                            n_missing > 1 ? "s" : "", missing->str,
                            n_unknown ? "; not known: " : "", n_unknown ? unknown->str : "");
        g_string_free(missing, TRUE);
    }
    if (rc == 0 && n_unknown) {
        im->n_warnings++;
        if (im->warn) {
            char *msg = g_strdup_printf("%s: line %zu: ignoring unknown column%s %s (known: "
                                        DIRECTORY_EXPECTED ", msgs_per_hour, rcpts_per_hour, "
                                        "rcpts_per_day, domains_per_hour)",
                                        c->name, line, n_unknown > 1 ? "s" : "", unknown->str);
            im->warn(msg, im->ctx);
            g_free(msg);
        }
    }
    g_string_free(unknown, TRUE);
    im->n_cols = c->n;
    c->names = im->names;
    c->n_names = c->n;
    return rc;
}

/* Checks one value of the current row. Returns true when it is fine; otherwise
 * refuses the row (once) and returns false. */
static bool imp_check(struct imp *im, int k, char *v)
{
    size_t line = im->csv.rec_line;
    const char *col = directory_col_names[k];
    char ex[72];
    if (!g_utf8_validate(v, -1, NULL)) {
        imp_bad(im, line, "line %zu, column %s: not valid UTF-8 (save the file as UTF-8)", line,
                col);
        return false;
    }
    /* A name may span lines inside quotes; every other value is one token. */
    if (has_ctl(v, k == DCOL_NAME ? "\n\t" : "")) {
        imp_bad(im, line, "line %zu, column %s: control character in '%s'", line, col,
                excerpt(v, ex, sizeof ex));
        return false;
    }
    switch (k) {
    case DCOL_ID:
    case DCOL_NAME:
        if (*v)
            return true;
        imp_bad(im, line, "line %zu, column %s: missing", line, col);
        return false;
    case DCOL_CONTACT: {
        char why[160];
        char *n = contact_norm(v, why, sizeof why);
        bool ok = n != NULL;
        g_free(n);
        if (!ok)
            imp_bad(im, line, "line %zu, column %s: %s", line, col, why);
        return ok;
    }
    case DCOL_LANG:
        if (!*v || !strcmp(v, "de") || !strcmp(v, "en"))
            return true;
        imp_bad(im, line, "line %zu, column %s: '%s' is not a notice language (want de or en)",
                line, col, excerpt(v, ex, sizeof ex));
        return false;
    case DCOL_ACCOUNT:
        if (!*v || account_ok(v))
            return true;
        imp_bad(im, line, "line %zu, column %s: '%s' is not a login name or mail address (no "
                "spaces, control characters, quotes or <>; local@domain.tld with '@')", line, col,
                excerpt(v, ex, sizeof ex));
        return false;
    case DCOL_DOMAIN:
        if (!*v || domain_ok(v))
            return true;
        imp_bad(im, line, "line %zu, column %s: '%s' is not a domain name", line, col,
                excerpt(v, ex, sizeof ex));
        return false;
    case DCOL_UID:
        if (!*v || uid_ok(v))
            return true;
        imp_bad(im, line, "line %zu, column %s: '%s' is not a Unix uid (want a number)", line,
                col, excerpt(v, ex, sizeof ex));
        return false;
    case DCOL_MSGS_HOUR:
    case DCOL_RCPTS_HOUR:
    case DCOL_RCPTS_DAY:
    case DCOL_DOMAINS_HOUR: {
        /* empty: the configured limit; 0: no limit */
        bool ok = !*v || (strlen(v) <= 9 && strspn(v, "0123456789") == strlen(v) &&
                          g_ascii_strtoll(v, NULL, 10) <= DIRECTORY_MAX_LIMIT);
        if (!ok)
            imp_bad(im, line, "line %zu, column %s: '%s' is not a limit (want a number from 0 "
                    "to %d, or empty for the configured one)", line, col,
                    excerpt(v, ex, sizeof ex), DIRECTORY_MAX_LIMIT);
        return ok;
    }
    case DCOL_WEBROOT: {
        const char *why = *v ? webroot_problem(v) : NULL;
        if (!why)
            return true;
        imp_bad(im, line, "line %zu, column %s: '%s' is not a web space root (want an absolute "
                "path such as /var/www/example: %s)", line, col, excerpt(v, ex, sizeof ex), why);
        return false;
    }
    default:
        return true;
    }
}

/* Stores an account or domain (column k) for customer b. */
static int imp_put2(struct imp *im, int k, const char *a, const char *b, struct ad_err *err)
{
    if (k == DCOL_ACCOUNT)
        return store_directory_account_put(im->st, a, b, err);
    return store_directory_domain_put(im->st, a, b, err);
}

static struct seen *seen_new(const char *customer_id, size_t line)
{
    struct seen *s = g_new0(struct seen, 1);
    s->customer_id = customer_id;
    s->line = line;
    return s;
}

/* Stores a uid for customer_id (borrowed key of imp.customers) with its web
 * space root (may be ""), unless it was stored from an earlier row of this file
 * already (s, or NULL): then only a root that row did not give is added. */
static int imp_uid(struct imp *im, struct seen *s, const char *uid, const char *customer_id,
                   const char *webroot, size_t line, struct ad_err *err)
{
    if (s && (s->webroot || !*webroot))
        return 0;
    int rc = store_directory_uid_put(im->st, uid, customer_id, *webroot ? webroot : NULL, err);
    if (rc)
        return rc;
    if (!s) {
        s = seen_new(customer_id, line);
        g_hash_table_insert(im->seen[DCOL_UID], g_strdup(uid), s);
    }
    if (*webroot) {
        s->webroot = g_strdup(webroot);
        s->webroot_line = line;
        im->n_webroots++;
    }
    return 0;
}

/* Stores the limits of the row's customer for the limit columns the file
 * has (an empty value clears one: the configured limit applies again). */
static int imp_limits(struct imp *im, char *const *v, struct ad_err *err)
{
    bool set[4], any = false;
    int64_t x[4];
    for (int i = 0; i < 4; i++) {
        set[i] = im->pos[DCOL_LIMIT0 + i] >= 0;
        any |= set[i];
        x[i] = *v[DCOL_LIMIT0 + i] ? g_ascii_strtoll(v[DCOL_LIMIT0 + i], NULL, 10) : -1;
    }
    if (!any)
        return 0;
    struct store_dirsync_limits l = { x[0], x[1], x[2], x[3] };
    return store_dirsync_limits_set(im->st, v[DCOL_ID], &l, set, err);
}

/* Checks and stores one data row. A bad row is refused and 0 returned; negative
 * only for a store failure. */
static int imp_row(struct imp *im, struct ad_err *err)
{
    struct csv *c = &im->csv;
    size_t line = c->rec_line;
    char tmp[24];
    if (c->n != im->n_cols) {
        imp_bad(im, line, "line %zu: %zu field%s, want %zu as in the header", line, c->n,
                c->n == 1 ? "" : "s", im->n_cols);
        return 0;
    }
    if (c->prob) {
        imp_bad(im, line, "line %zu, column %s: %s", line, csv_col(c, c->prob_col, tmp, sizeof tmp),
                c->prob);
        return 0;
    }
    char empty[1] = "";
    char *v[DCOL_N];
    for (int k = 0; k < DCOL_N; k++)
        v[k] = im->pos[k] >= 0 ? trim(csv_field(c, (size_t)im->pos[k])) : empty;
    /* An empty language stays empty: notices then use [directory]
     * default_language, decided when they are sent. */
    lower(v[DCOL_LANG]);
    /* "/home/c1002/" is "/home/c1002": a root is named without its final '/'. */
    for (size_t n = strlen(v[DCOL_WEBROOT]); n > 1 && v[DCOL_WEBROOT][n - 1] == '/';)
        v[DCOL_WEBROOT][--n] = '\0';
    char *norm[DCOL_N] = { 0 };
    int rc = 0;
    for (int k = 0; k < DCOL_N; k++) {
        /* Addresses, logins and domains are stored lower-cased, IDNs as xn--. */
        bool addr = k == DCOL_CONTACT || k == DCOL_ACCOUNT;
        if ((addr || k == DCOL_DOMAIN) && *v[k] && g_utf8_validate(v[k], -1, NULL) &&
            !has_ctl(v[k], "")) {
            if (!(norm[k] = addr ? addr_norm(v[k]) : domain_norm(v[k]))) {
                char ex[72];
                imp_bad(im, line, "line %zu, column domain: '%s' is not a domain name", line,
                        excerpt(v[k], ex, sizeof ex));
                goto out;
            }
            v[k] = norm[k];
        }
        if (!imp_check(im, k, v[k]))
            goto out;
    }
    if (*v[DCOL_WEBROOT] && !*v[DCOL_UID]) {
        imp_bad(im, line, "line %zu, column webroot: a web space root needs the uid of that web "
                "space in the same row", line);
        goto out;
    }

    /* The same account, domain or uid under two customers: the first one stands. */
    static const int owned[] = { DCOL_ACCOUNT, DCOL_DOMAIN, DCOL_UID };
    for (size_t i = 0; i < G_N_ELEMENTS(owned); i++) {
        int k = owned[i];
        struct seen *s = *v[k] ? g_hash_table_lookup(im->seen[k], v[k]) : NULL;
        if (s && strcmp(s->customer_id, v[DCOL_ID]) != 0) {
            char ex[72];
            imp_bad(im, line, "line %zu, column %s: '%s' is already listed for customer %s on "
                    "line %zu", line, directory_col_names[k], excerpt(v[k], ex, sizeof ex),
                    s->customer_id, s->line);
            goto out;
        }
    }
    /* A uid has one web space root; listing it again with the same root is fine. */
    struct seen *su = *v[DCOL_UID] ? g_hash_table_lookup(im->seen[DCOL_UID], v[DCOL_UID]) : NULL;
    if (su && su->webroot && *v[DCOL_WEBROOT] && strcmp(su->webroot, v[DCOL_WEBROOT]) != 0) {
        char ex[72];
        imp_bad(im, line, "line %zu, column webroot: uid %s already has the web space root '%s' "
                "from line %zu", line, v[DCOL_UID], excerpt(su->webroot, ex, sizeof ex),
                su->webroot_line);
        goto out;
    }

    /* The customer: written again only when this row changes its fields. */
    char *sig = g_strjoin("\n", v[DCOL_NAME], v[DCOL_CONTACT], v[DCOL_LANG], v[DCOL_MSGS_HOUR],
                          v[DCOL_RCPTS_HOUR], v[DCOL_RCPTS_DAY], v[DCOL_DOMAINS_HOUR], NULL);
    gpointer key = NULL, old = NULL;
    if (!g_hash_table_lookup_extended(im->customers, v[DCOL_ID], &key, &old) ||
        strcmp(old, sig) != 0) {
        if ((rc = store_directory_customer_put(im->st, v[DCOL_ID], v[DCOL_NAME], v[DCOL_CONTACT],
                                               v[DCOL_LANG], im->now, err)) ||
            (rc = imp_limits(im, v, err))) {
            g_free(sig);
            goto out;
        }
        /* insert() keeps a key already present (and frees the copy passed), so
         * the struct seen records that borrow it stay valid. */
        if (key) {
            g_hash_table_insert(im->customers, g_strdup(v[DCOL_ID]), sig);
        } else {
            key = g_strdup(v[DCOL_ID]);
            g_hash_table_insert(im->customers, key, sig);
        }
    } else {
        g_free(sig);
    }

    for (size_t i = 0; i < G_N_ELEMENTS(owned); i++) {
        int k = owned[i];
        if (!*v[k] || (g_hash_table_contains(im->seen[k], v[k]) && k != DCOL_UID))
            continue;
        if (k == DCOL_UID)
            rc = imp_uid(im, su, v[DCOL_UID], key, v[DCOL_WEBROOT], line, err);
        else if (!(rc = imp_put2(im, k, v[k], v[DCOL_ID], err)))
            g_hash_table_insert(im->seen[k], g_strdup(v[k]), seen_new(key, line));
        if (rc)
            goto out;
    }
out:
    for (int k = 0; k < DCOL_N; k++)
        g_free(norm[k]);
    return rc;
}

/* Opens the import's transaction unless the caller already has one open (as
 * `directory import --dry-run` does, to roll it back): then the import joins it.
 * Sets *own when the transaction is ours to commit or roll back.
 * directory_set_contact() uses it the same way. */
static int imp_begin(struct store *st, bool *own, struct ad_err *err)
{
    *own = false;
    if (store_in_transaction(st))
        return 0;
    int rc = store_begin(st, err);
    *own = rc == 0;
    return rc;
}

static gint str_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Warns about each customer of the file whose contact address is one of its own
 * accounts: a lock of that mailbox would also cut off the notice about it. */
static int imp_warn_contacts(struct imp *im, struct ad_err *err)
{
    guint n = 0;
    gpointer *ids = g_hash_table_get_keys_as_array(im->customers, &n);
    qsort(ids, n, sizeof *ids, str_cmp);
    int rc = 0;
    for (guint i = 0; i < n && rc == 0; i++) {
        char *contact = NULL;
        if ((rc = directory_contact_own_account(im->st, ids[i], &contact, err)) || !contact)
            continue;
        im->n_warnings++;
        if (im->warn) {
            char *msg = g_strdup_printf("customer %s: the contact address %s is one of its own "
                                        "mailboxes; a lock notice cannot reach it there (set "
                                        "another with abusedesk directory set-contact)",
                                        (const char *)ids[i], contact);
            im->warn(msg, im->ctx);
            g_free(msg);
        }
        g_free(contact);
    }
    g_free(ids);
    return rc;
}

int directory_import(struct store *st, const char *name, const char *csv, size_t len,
                     struct directory_import_stats *stats,
                     void (*bad)(size_t line, const char *msg, void *ctx), void *ctx,
                     struct ad_err *err)
{
    return directory_import_warn(st, name, csv, len, stats, bad, NULL, ctx, err);
}

int directory_import_warn(struct store *st, const char *name, const char *csv, size_t len,
                          struct directory_import_stats *stats,
                          void (*bad)(size_t line, const char *msg, void *ctx),
                          void (*warn)(const char *msg, void *ctx), void *ctx,
                          struct ad_err *err)
{
    struct directory_import_opts o = { .bad = bad, .warn = warn, .ctx = ctx };
    return directory_import_opts(st, name, csv, len, &o, stats, err);
}

static void imp_warn(struct imp *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void imp_warn(struct imp *im, const char *fmt, ...)
{
    im->n_warnings++;
    if (!im->warn)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    im->warn(msg, im->ctx);
    g_free(msg);
}

/* --sync: what the store has and the file does not, collected before removing. */
struct sync_scan {
    struct imp *im;
    GHashTable *in_file;            /* values of this kind the file listed (borrowed) */
    GHashTable *kept;               /* customers that stay (open incidents) */
    GPtrArray *gone;                /* g_malloc'd values to remove */
    int rc;
    struct ad_err *err;
};

static int sync_customer(const char *id, const char *unused, void *ctx)
{
    (void)unused;
    struct sync_scan *s = ctx;
    if (g_hash_table_contains(s->im->customers, id))
        return 0;
    int64_t n = 0, first = 0;
    char *state = NULL;
    if ((s->rc = store_dirsync_open_incidents(s->im->st, id, &n, &first, &state, s->err)))
        return 1;
    if (n > 0 && !s->im->force) {
        s->im->n_kept_open++;
        g_hash_table_add(s->kept, g_strdup(id));
        imp_warn(s->im, "customer %s not removed: it has %lld open incident%s (incident %lld, "
                 "%s); a removed customer could not be told about it or be unlocked by its "
                 "contact: resolve or dismiss %s first, or import with --force", id,
                 (long long)n, n == 1 ? "" : "s", (long long)first, state ? state : "?",
                 n == 1 ? "it" : "them");
    } else {
        if (n > 0)
            imp_warn(s->im, "customer %s removed with %lld open incident%s (--force; incident "
                     "%lld, %s): the incidents keep the customer id only", id, (long long)n,
                     n == 1 ? "" : "s", (long long)first, state ? state : "?");
        g_ptr_array_add(s->gone, g_strdup(id));
    }
    g_free(state);
    return 0;
}

static int sync_owned(const char *value, const char *customer_id, void *ctx)
{
    struct sync_scan *s = ctx;
    if (!g_hash_table_contains(s->in_file, value) &&
        !(customer_id && g_hash_table_contains(s->kept, customer_id)))
        g_ptr_array_add(s->gone, g_strdup(value));
    return 0;
}

/* Removes what the file no longer lists: first the accounts, domains and uids
 * (except those of customers kept for their open incidents), then the
 * customers. */
static int imp_sync(struct imp *im, struct directory_import_stats *stats, struct ad_err *err)
{
    GHashTable *kept = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    struct sync_scan cs = { im, NULL, kept, g_ptr_array_new_with_free_func(g_free), 0, err };
    int rc = store_dirsync_each(im->st, STORE_DIRSYNC_CUSTOMER, sync_customer, &cs, err);
    if (rc == 0)
        rc = cs.rc;
    static const struct {
        int col;
        enum store_dirsync_kind kind;
    } owned[] = { { DCOL_ACCOUNT, STORE_DIRSYNC_ACCOUNT },
                  { DCOL_DOMAIN, STORE_DIRSYNC_DOMAIN },
                  { DCOL_UID, STORE_DIRSYNC_UID } };
    size_t *removed[] = { &stats->n_removed_accounts, &stats->n_removed_domains,
                          &stats->n_removed_uids };
    for (size_t i = 0; rc == 0 && i < G_N_ELEMENTS(owned); i++) {
        struct sync_scan os = { im, im->seen[owned[i].col], kept,
                                g_ptr_array_new_with_free_func(g_free), 0, err };
        rc = store_dirsync_each(im->st, owned[i].kind, sync_owned, &os, err);
        for (guint k = 0; rc == 0 && k < os.gone->len; k++)
            rc = store_dirsync_remove(im->st, owned[i].kind, g_ptr_array_index(os.gone, k), err);
        if (rc == 0)
            *removed[i] = os.gone->len;
        g_ptr_array_free(os.gone, TRUE);
    }
    for (guint k = 0; rc == 0 && k < cs.gone->len; k++)
        rc = store_dirsync_remove(im->st, STORE_DIRSYNC_CUSTOMER, g_ptr_array_index(cs.gone, k),
                                  err);
    if (rc == 0)
        stats->n_removed_customers = cs.gone->len;
    g_ptr_array_free(cs.gone, TRUE);
    g_hash_table_destroy(kept);
    return rc;
}

int directory_import_opts(struct store *st, const char *name, const char *csv, size_t len,
                          const struct directory_import_opts *o,
                          struct directory_import_stats *stats, struct ad_err *err)
{
    struct imp im = { .st = st, .bad = o->bad, .warn = o->warn, .ctx = o->ctx,
                      .force = o->force };
    struct directory_import_stats sync = { 0 };
    struct csv *c = &im.csv;
    c->name = name ? name : "directory";
    c->p = csv ? csv : "";
    c->end = c->p + (csv ? len : 0);
    c->line = 1;
    c->buf = g_string_sized_new(256);
    if (c->end - c->p >= 3 && memcmp(c->p, "\xef\xbb\xbf", 3) == 0)
        c->p += 3;
    c->sep = csv_detect_sep(c->p, c->end);
    im.customers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (int k = DCOL_ACCOUNT; k <= DCOL_UID; k++)
        im.seen[k] = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, seen_free);
    im.now = g_get_real_time() / G_USEC_PER_SEC;
    bool own = false, open = false;

    int rc = imp_header(&im, err);
    if (rc)
        goto out;
    if ((rc = imp_begin(st, &own, err)))
        goto out;
    open = true;
    while ((rc = csv_next(c, err)) == 1) {
        if (im.n_rows == DIRECTORY_MAX_ROWS) {
            rc = ad_err_set(err, AD_ERR_LIMIT, "%s: line %zu: more than %d rows: split the file",
                            c->name, c->rec_line, DIRECTORY_MAX_ROWS);
            break;
        }
        im.n_rows++;
        if ((rc = imp_row(&im, err))) {
            /* Name the row in the store's message: it is the only clue. */
            if (err) {
                char msg[sizeof err->msg];
                memcpy(msg, err->msg, sizeof msg);
                ad_err_set(err, rc, "%s: line %zu: %s", c->name, c->rec_line, msg);
            }
            break;
        }
    }
    if (rc == 0 && o->sync && im.n_bad) {
        sync.sync_skipped = true;
        imp_warn(&im, "--sync removed nothing: %zu row%s refused, and a refused row would "
                 "look like a customer or account that left (fix %s and import again)",
                 im.n_bad, im.n_bad == 1 ? " was" : "s were", im.n_bad == 1 ? "it" : "them");
    } else if (rc == 0 && o->sync) {
        rc = imp_sync(&im, &sync, err);
    }
    if (rc == 0)
        rc = imp_warn_contacts(&im, err);
    if (rc == 0 && own) {
        rc = store_commit(st, err);
        if (rc == 0)
            open = false;
    }
out:
    if (open && own)
        store_rollback(st);
    if (stats) {
        *stats = (struct directory_import_stats){
            .n_rows = im.n_rows,
            .n_customers = g_hash_table_size(im.customers),
            .n_accounts = g_hash_table_size(im.seen[DCOL_ACCOUNT]),
            .n_domains = g_hash_table_size(im.seen[DCOL_DOMAIN]),
            .n_uids = g_hash_table_size(im.seen[DCOL_UID]),
            .n_bad = im.n_bad,
            .n_webroots = im.n_webroots,
            .n_warnings = im.n_warnings,
            .n_removed_customers = sync.n_removed_customers,
            .n_removed_accounts = sync.n_removed_accounts,
            .n_removed_domains = sync.n_removed_domains,
            .n_removed_uids = sync.n_removed_uids,
            .n_kept_open = im.n_kept_open,
            .sync_skipped = sync.sync_skipped,
        };
    }
    for (int k = DCOL_ACCOUNT; k <= DCOL_UID; k++)
        g_hash_table_destroy(im.seen[k]);
    g_hash_table_destroy(im.customers);
    g_string_free(c->buf, TRUE);
    return rc;
}

/* ---- lookups ----------------------------------------------------------------- */

/* A lookup by one key: *out is a g_malloc'd copy of what it maps to or NULL. */
static int lookup(struct store *st, enum store_directory_lookup what, const char *key,
                  char **out, struct ad_err *err)
{
    return store_directory_lookup(st, what, key, out, err);
}

int directory_account_customer(struct store *st, const char *account, char **customer_id,
                               struct ad_err *err)
{
    *customer_id = NULL;
    if (!account || !*account)
        return 0;
    char *key = addr_norm(account);
    int rc = lookup(st, STORE_DIRECTORY_ACCOUNT, key, customer_id, err);
    g_free(key);
    return rc;
}

int directory_domain_customer(struct store *st, const char *domain, char **customer_id,
                              struct ad_err *err)
{
    *customer_id = NULL;
    char *d = domain && *domain ? domain_norm(domain) : NULL;
    if (!d)
        return 0;
    int rc = 0;
    /* Longest suffix first, whole labels only; a single label (a TLD) is never
     * listed, so the loop stops before it. */
    for (const char *s = d; s && strchr(s, '.'); s = strchr(s, '.') + 1) {
        if ((rc = lookup(st, STORE_DIRECTORY_DOMAIN, s, customer_id, err)) || *customer_id)
            break;
    }
    g_free(d);
    return rc;
}

int directory_uid_customer(struct store *st, const char *uid, char **customer_id,
                           struct ad_err *err)
{
    *customer_id = NULL;
    if (!uid || !*uid)
        return 0;
    return lookup(st, STORE_DIRECTORY_UID, uid, customer_id, err);
}

int directory_uid_webroot(struct store *st, const char *uid, char **webroot, char **customer_id,
                          struct ad_err *err)
{
    *webroot = NULL;
    *customer_id = NULL;
    if (!uid || !*uid)
        return 0;
    return store_directory_uid_webroot(st, uid, customer_id, webroot, err);
}

int directory_contact_own_account(struct store *st, const char *id, char **contact,
                                  struct ad_err *err)
{
    *contact = NULL;
    if (!id)
        return 0;
    return lookup(st, STORE_DIRECTORY_OWN_CONTACT, id, contact, err);
}

int directory_set_contact(struct store *st, const char *id, const char *address, char **old,
                          struct ad_err *err)
{
    *old = NULL;
    char why[160];
    char *v = g_strstrip(g_strdup(address ? address : ""));
    char *addr = contact_norm(v, why, sizeof why);
    g_free(v);
    if (!addr)
        return ad_err_set(err, AD_ERR_PARSE, "contact address: %s", why);
    struct directory_customer c;
    bool own = false;
    int rc = imp_begin(st, &own, err);
    if (rc)
        goto out;
    if ((rc = directory_customer_get(st, id, &c, err))) {
        if (rc == AD_ERR_NOTFOUND)
            ad_err_set(err, rc, "customer %s is not in the directory", id);
        goto out;
    }
    *old = c.contact_email;
    c.contact_email = NULL;
    directory_customer_clear(&c);
    if ((rc = store_directory_contact_set(st, id, addr, g_get_real_time() / G_USEC_PER_SEC,
                                          err)))
        goto out;
    if (own) {
        rc = store_commit(st, err);
        own = rc != 0;
    }
out:
    if (own)
        store_rollback(st);
    if (rc) {
        g_free(*old);
        *old = NULL;
    }
    g_free(addr);
    return rc;
}

void directory_customer_clear(struct directory_customer *c)
{
    if (!c)
        return;
    g_free(c->id);
    g_free(c->name);
    g_free(c->contact_email);
    g_free(c->language);
    *c = (struct directory_customer){ 0 };
}

int directory_customer_get(struct store *st, const char *id, struct directory_customer *out,
                           struct ad_err *err)
{
    *out = (struct directory_customer){ 0 };
    struct store_directory_customer c;
    int rc = store_directory_customer_get(st, id, &c, err);
    if (rc)
        return rc;
    *out = (struct directory_customer){ c.id, c.name, c.contact_email, c.language };
    return 0;
}

int directory_customer_each(struct store *st, const char *id,
                            void (*fn)(const char *kind, const char *value, void *ctx),
                            void *ctx, struct ad_err *err)
{
    return store_directory_owned_each(st, id, fn, ctx, err);
}

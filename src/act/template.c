/*
 * template.c: renders the notification texts (template.h). The notifier calls
 * template_render() once per mail with the placeholder values of the incident;
 * the unit test calls it for every shipped template. A template is the file
 * DIR/LANG/NAME.txt, at most 64 KiB of UTF-8 (an optional BOM is skipped) with
 * LF or CRLF line ends: optional "#" comment lines, the line "Subject: ...", one
 * blank line, then the body. "{{ name }}" (name = [a-z0-9_]+, spaces or tabs
 * allowed inside the braces) is replaced by the value of name; there is no escape
 * for a literal "{{". When LANG/NAME.txt does not exist (or LANG is not a plain
 * language tag) en/NAME.txt is used; a file that exists but cannot be read is an
 * error, so that a broken installation is noticed instead of silently sending
 * English. Diagnostics, always "PATH: line N: ..." where a line applies: AD_ERR_IO
 * (missing or unreadable file, not a regular file), AD_ERR_LIMIT (over 64 KiB),
 * AD_ERR_PARSE (invalid UTF-8 or a control character, no Subject line, no blank
 * line after it, an unclosed "{{", a malformed or unknown placeholder),
 * AD_ERR_USAGE (bad arguments). Values are inserted as given, except that CRLF and
 * CR become LF in the body, and that in the subject a value is trimmed and its
 * runs of blanks, line breaks and control characters become one space, so a
 * value can never add a header; invalid UTF-8 in a value is replaced by U+FFFD.
 * The subject and body handed out are g_malloc'd and the caller's; nothing is
 * kept between calls.
 */
#include "template.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEMPLATE_MAX_BYTES (64 * 1024)
#define TEMPLATE_MAX_NAME 64    /* longest placeholder name */
#define TEMPLATE_SHOW_MAX 40    /* bytes of a bad placeholder quoted in a message */
#define TEMPLATE_MISSING 1      /* template_read(): no such file, the caller may fall back */

/* One template file in memory; data is NUL-terminated and owned by the struct. */
struct tpl_file {
    char *path;
    char *data;
    size_t len;
};

/* A language tag is safe as a path component when it is short and made of
 * letters, digits, '-' and '_' only ("de", "en", "pt_BR"). */
static bool template_lang_ok(const char *lang)
{
    size_t n = strlen(lang);
    if (n == 0 || n > 16)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!g_ascii_isalnum(lang[i]) && lang[i] != '-' && lang[i] != '_')
            return false;
    return true;
}

static bool template_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Reads path into f. Returns 0, TEMPLATE_MISSING (no such file; err untouched)
 * or a negative AD_ERR_* code with err set. */
static int template_read(const char *path, struct tpl_file *f, struct ad_err *err)
{
    /* O_NONBLOCK: a FIFO put in the templates folder must not hang the notifier;
     * it is refused below as not a regular file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return TEMPLATE_MISSING;
        return ad_err_set(err, AD_ERR_IO, "%s: %s", path, g_strerror(errno));
    }
    int rc = 0;
    char *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = ad_err_set(err, AD_ERR_IO, "%s: %s", path, g_strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = ad_err_set(err, AD_ERR_IO, "%s: not a regular file", path);
        goto out;
    }
    /* Read one byte more than allowed, whatever fstat said, so that a file that
     * grows while we read is still caught by the limit. */
    buf = g_malloc(TEMPLATE_MAX_BYTES + 2);
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, TEMPLATE_MAX_BYTES + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = ad_err_set(err, AD_ERR_IO, "%s: %s", path, g_strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > TEMPLATE_MAX_BYTES) {
            rc = ad_err_set(err, AD_ERR_LIMIT, "%s: larger than %d KiB", path,
                            TEMPLATE_MAX_BYTES / 1024);
            goto out;
        }
    }
    buf[len] = '\0';
    f->path = g_strdup(path);
    f->data = buf;
    f->len = len;
    buf = NULL;
out:
    g_free(buf);
    close(fd);
    return rc;
}

/* 1-based number of the line that holds byte offset off. */
static unsigned template_line_of(const char *data, size_t off)
{
    unsigned line = 1;
    for (size_t i = 0; i < off; i++)
        if (data[i] == '\n')
            line++;
    return line;
}

/* The whole file must be UTF-8 without NUL and without control characters other
 * than tab and the CR of a CRLF: those would end up in a mail unseen. */
static int template_check_text(const struct tpl_file *f, struct ad_err *err)
{
    const char *end = NULL;
    if (!g_utf8_validate_len(f->data, f->len, &end))
        return ad_err_set(err, AD_ERR_PARSE, "%s: line %u: not valid UTF-8", f->path,
                          template_line_of(f->data, (size_t)(end - f->data)));
    for (size_t i = 0; i < f->len; i++) {
        unsigned char c = (unsigned char)f->data[i];
        if (c == '\t' || c == '\n')
            continue;
        if (c == '\r' && i + 1 < f->len && f->data[i + 1] == '\n')
            continue;
        if (c < 0x20 || c == 0x7f)
            return ad_err_set(err, AD_ERR_PARSE, "%s: line %u: control character 0x%02x",
                              f->path, template_line_of(f->data, i), c);
    }
    return 0;
}

/* Appends a value to a subject with surrounding blanks dropped and every run of
 * blanks and control characters inside it (the line breaks of a multi-line value)
 * turned into one space, so that a value cannot break the header. */
static void template_put_subject_value(GString *out, const char *v)
{
    bool gap = false, any = false;
    for (const char *p = v; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c == 0x7f) {
            gap = any;
            continue;
        }
        if (gap)
            g_string_append_c(out, ' ');
        g_string_append_c(out, (char)c);
        gap = false;
        any = true;
    }
}

/* Appends a value to the body with CRLF and lone CR turned into LF. */
static void template_put_body_value(GString *out, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\r') {
            g_string_append_c(out, '\n');
            if (p[1] == '\n')
                p++;
            continue;
        }
        g_string_append_c(out, *p);
    }
}

/* Quotes at most TEMPLATE_SHOW_MAX bytes of s[0..len) (cut at a character
 * boundary) for an error message. Caller frees. */
static char *template_show(const char *s, size_t len)
{
    if (len <= TEMPLATE_SHOW_MAX)
        return g_strndup(s, len);
    const char *cut = g_utf8_find_prev_char(s, s + TEMPLATE_SHOW_MAX + 1);
    return g_strdup_printf("%.*s...", (int)(cut - s), s);
}

/* Renders one line s[0..len) (line number lineno, without its line end) into out.
 * in_subject selects how values are inserted. */
static int template_line(const struct tpl_file *f, unsigned lineno, const char *s, size_t len,
                         GHashTable *vars, bool in_subject, GString *out, struct ad_err *err)
{
    size_t i = 0;
    while (i < len) {
        const char *open = g_strstr_len(s + i, (gssize)(len - i), "{{");
        if (!open) {
            g_string_append_len(out, s + i, (gssize)(len - i));
            break;
        }
        g_string_append_len(out, s + i, open - (s + i));
        size_t a = (size_t)(open - s) + 2;
        const char *close = g_strstr_len(s + a, (gssize)(len - a), "}}");
        if (!close)
            return ad_err_set(err, AD_ERR_PARSE,
                              "%s: line %u: unclosed \"{{\" (no \"}}\" on the same line)",
                              f->path, lineno);
        size_t b = (size_t)(close - s);
        size_t na = a, nb = b;
        while (na < nb && (s[na] == ' ' || s[na] == '\t'))
            na++;
        while (nb > na && (s[nb - 1] == ' ' || s[nb - 1] == '\t'))
            nb--;
        bool good = nb > na && nb - na <= TEMPLATE_MAX_NAME;
        for (size_t k = na; good && k < nb; k++)
            good = template_name_char(s[k]);
        if (!good) {
            char *shown = template_show(s + a, b - a);
            int rc = ad_err_set(err, AD_ERR_PARSE,
                                "%s: line %u: bad placeholder {{%s}} (names are made of a-z, "
                                "0-9 and _)", f->path, lineno, shown);
            g_free(shown);
            return rc;
        }
        char name[TEMPLATE_MAX_NAME + 1];
        memcpy(name, s + na, nb - na);
        name[nb - na] = '\0';
        gpointer value = NULL;
        if (!vars || !g_hash_table_lookup_extended(vars, name, NULL, &value))
            return ad_err_set(err, AD_ERR_PARSE, "%s: line %u: unknown placeholder {{%s}}",
                              f->path, lineno, name);
        const char *v = value ? value : "";
        char *fixed = NULL;
        if (!g_utf8_validate(v, -1, NULL))
            v = fixed = g_utf8_make_valid(v, -1);
        if (in_subject)
            template_put_subject_value(out, v);
        else
            template_put_body_value(out, v);
        g_free(fixed);
        i = b + 2;
    }
    return 0;
}

/* Splits f into lines and renders them; see the file comment for the format. */
static int template_build(const struct tpl_file *f, GHashTable *vars, char **subject,
                          char **body, struct ad_err *err)
{
    enum { WANT_SUBJECT, WANT_BLANK, IN_BODY } state = WANT_SUBJECT;
    GString *subj = g_string_new(NULL);
    GString *out = g_string_new(NULL);
    int rc = 0;
    const char *p = f->data, *end = f->data + f->len;
    if (f->len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    unsigned lineno = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        if (le > p && le[-1] == '\r')
            le--;
        size_t len = (size_t)(le - p);
        lineno++;
        if (state == WANT_SUBJECT) {
            if (len > 0 && p[0] == '#') {
                p = next;
                continue;
            }
            if (len < 8 || g_ascii_strncasecmp(p, "Subject:", 8) != 0) {
                char *shown = template_show(p, len);
                rc = ad_err_set(err, AD_ERR_PARSE,
                                "%s: line %u: want \"Subject: ...\" (after any # comments), "
                                "got \"%s\"", f->path, lineno, shown);
                g_free(shown);
                goto out;
            }
            rc = template_line(f, lineno, p + 8, len - 8, vars, true, subj, err);
            if (rc != 0)
                goto out;
            g_strstrip(subj->str);
            g_string_set_size(subj, strlen(subj->str));
            if (subj->len == 0) {
                rc = ad_err_set(err, AD_ERR_PARSE, "%s: line %u: the subject is empty",
                                f->path, lineno);
                goto out;
            }
            state = WANT_BLANK;
        } else if (state == WANT_BLANK) {
            if (len != 0) {
                rc = ad_err_set(err, AD_ERR_PARSE,
                                "%s: line %u: want a blank line after the Subject line",
                                f->path, lineno);
                goto out;
            }
            state = IN_BODY;
        } else {
            rc = template_line(f, lineno, p, len, vars, false, out, err);
            if (rc != 0)
                goto out;
            g_string_append_c(out, '\n');
        }
        p = next;
    }
    if (state == WANT_SUBJECT) {
        rc = ad_err_set(err, AD_ERR_PARSE, "%s: no Subject line", f->path);
        goto out;
    }
    if (state == WANT_BLANK) {
        rc = ad_err_set(err, AD_ERR_PARSE,
                        "%s: line %u: want a blank line and a body after the Subject line",
                        f->path, lineno);
        goto out;
    }
    *subject = g_string_free(subj, FALSE);
    *body = g_string_free(out, FALSE);
    return 0;
out:
    g_string_free(subj, TRUE);
    g_string_free(out, TRUE);
    return rc;
}

/* Contract in template.h. Also: NAME must be [a-z0-9_]+ (AD_ERR_USAGE otherwise);
 * a LANG that is not a plain tag is treated like a missing language; vars may be
 * NULL (then any placeholder is unknown); on failure *subject and *body are NULL. */
int template_render(const char *dir, const char *lang, const char *name, GHashTable *vars,
                    char **subject, char **body, struct ad_err *err)
{
    if (subject)
        *subject = NULL;
    if (body)
        *body = NULL;
    if (!dir || !name || !subject || !body)
        return ad_err_set(err, AD_ERR_USAGE, "template_render: missing argument");
    bool name_ok = name[0] != '\0' && strlen(name) <= TEMPLATE_MAX_NAME;
    for (const char *c = name; name_ok && *c; c++)
        name_ok = template_name_char(*c);
    if (!name_ok)
        return ad_err_set(err, AD_ERR_USAGE, "template_render: bad template name \"%s\"", name);

    struct tpl_file f = { 0 };
    char *file = g_strconcat(name, ".txt", NULL);
    char *path = NULL;
    int rc = TEMPLATE_MISSING;
    if (lang && template_lang_ok(lang) && strcmp(lang, "en") != 0) {
        path = g_build_filename(dir, lang, file, NULL);
        rc = template_read(path, &f, err);
    }
    if (rc == TEMPLATE_MISSING) {
        char *en = g_build_filename(dir, "en", file, NULL);
        rc = template_read(en, &f, err);
        if (rc == TEMPLATE_MISSING && path)
            rc = ad_err_set(err, AD_ERR_IO, "no template %s: neither %s nor %s exists", name,
                            path, en);
        else if (rc == TEMPLATE_MISSING)
            rc = ad_err_set(err, AD_ERR_IO, "no template %s: %s does not exist", name, en);
        g_free(en);
    }
    if (rc != 0)
        goto out;
    rc = template_check_text(&f, err);
    if (rc != 0)
        goto out;
    rc = template_build(&f, vars, subject, body, err);
out:
    g_free(f.path);
    g_free(f.data);
    g_free(path);
    g_free(file);
    return rc;
}

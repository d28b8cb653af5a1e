/*
 * template_test.c: unit tests for template.c, each in its own temporary folder:
 * rendering (comments, spaces inside braces, CRLF, BOM, multi-line values in the
 * body and in the subject, empty and NULL values, a missing final newline),
 * every kind of error with the file, line and placeholder its message must name,
 * the 64 KiB limit at its boundary, the fallback to en, and then every shipped
 * template in etc/templates/{de,en} (found through AD_SOURCE_DIR, which CTest
 * sets, else the current directory): rendered with the variables the notifier
 * gives it, with the same placeholders in both languages, and, for the lock
 * notices, the remediation steps in the required order.
 * A failure names the case and prints "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "act/template.h"

#define FAIL_IF_BAD(bad) \
    do { \
        if (bad) \
            fail_msg("%d mismatch(es), see above", bad); \
    } while (0)

static int check_str(const char *tc, const char *field, const char *got, const char *want)
{
    if (got == NULL && want == NULL)
        return 0;
    if (got != NULL && want != NULL && strcmp(got, want) == 0)
        return 0;
    print_error("%s: %s: got %s%s%s, want %s%s%s\n", tc, field, got ? "\"" : "",
                got ? got : "NULL", got ? "\"" : "", want ? "\"" : "", want ? want : "NULL",
                want ? "\"" : "");
    return 1;
}

static int check_int(const char *tc, const char *field, int got, int want)
{
    if (got == want)
        return 0;
    print_error("%s: %s: got %d, want %d\n", tc, field, got, want);
    return 1;
}

static int check_contains(const char *tc, const char *field, const char *got, const char *want)
{
    if (got && strstr(got, want))
        return 0;
    print_error("%s: %s: got \"%s\", want it to contain \"%s\"\n", tc, field,
                got ? got : "NULL", want);
    return 1;
}

/* Per-test fixture: a temporary folder that plays the templates_dir. */
struct fx {
    char *dir;
};

static int fx_setup(void **state)
{
    struct fx *f = g_new0(struct fx, 1);
    f->dir = g_dir_make_tmp("ad-template-test-XXXXXX", NULL);
    if (!f->dir)
        return -1;
    *state = f;
    return 0;
}

static void rm_rf(const char *path)
{
    if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
        GDir *d = g_dir_open(path, 0, NULL);
        const char *n;
        while (d && (n = g_dir_read_name(d)) != NULL) {
            char *sub = g_build_filename(path, n, NULL);
            rm_rf(sub);
            g_free(sub);
        }
        if (d)
            g_dir_close(d);
        g_rmdir(path);
    } else {
        g_unlink(path);
    }
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    rm_rf(f->dir);
    g_free(f->dir);
    g_free(f);
    return 0;
}

/* Writes len bytes (strlen(text) when len is 0) to DIR/REL, creating folders. */
static void put_file(const char *dir, const char *rel, const char *text, size_t len)
{
    char *path = g_build_filename(dir, rel, NULL);
    char *parent = g_path_get_dirname(path);
    g_mkdir_with_parents(parent, 0750);
    GError *gerr = NULL;
    if (!g_file_set_contents(path, text, len ? (gssize)len : (gssize)strlen(text), &gerr))
        fail_msg("writing %s: %s", path, gerr->message);
    g_free(parent);
    g_free(path);
}

/* A table name -> value from pairs; a NULL value is stored as NULL. */
static GHashTable *vars_new(const char *const *pairs, size_t n_pairs)
{
    GHashTable *v = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (size_t i = 0; i + 1 < n_pairs; i += 2)
        g_hash_table_insert(v, g_strdup(pairs[i]), g_strdup(pairs[i + 1]));
    return v;
}

static const char *const test_vars[] = {
    "ticket", "[abusedesk #123]",
    "account", "info@baeckerei-mueller.example",
    "customer_name", "Bäckerei Müller GmbH",
    "subjects", "    Ihre Rechnung Nr. 4711\n    Gewinnbenachrichtigung",
    "multi", "a\r\nb\rc",
    "empty", "",
    "nullval", NULL,
    "latin1", "caf\xe9",
};

/* ---- rendering ---- */

struct render_case {
    const char *name;
    const char *text;
    const char *want_subject;
    const char *want_body;
};

static const struct render_case render_cases[] = {
    { "plain",
      "Subject: {{ticket}} Ihr Postfach {{account}}\n\nGuten Tag {{customer_name}},\n"
      "{{account}} ist gesperrt.\n",
      "[abusedesk #123] Ihr Postfach info@baeckerei-mueller.example",
      "Guten Tag Bäckerei Müller GmbH,\ninfo@baeckerei-mueller.example ist gesperrt.\n" },
    { "spaces and tabs inside the braces",
      "Subject: {{ ticket }}\n\n{{\taccount  }}|{{account }}\n",
      "[abusedesk #123]",
      "info@baeckerei-mueller.example|info@baeckerei-mueller.example\n" },
    { "comments at the top are skipped, # in the body is text",
      "# sent when ...\n# uses {{no_such_thing}}\n#\nSubject: s\n\n# kein Kommentar\n",
      "s", "# kein Kommentar\n" },
    { "CRLF input gives LF output",
      "Subject: {{ticket}} A\r\n\r\nZeile 1\r\n\r\nZeile {{account}}\r\n",
      "[abusedesk #123] A", "Zeile 1\n\nZeile info@baeckerei-mueller.example\n" },
    { "no newline at the end",
      "Subject: s\n\nletzte Zeile", "s", "letzte Zeile\n" },
    { "UTF-8 BOM",
      "\xEF\xBB\xBFSubject: Grüße\n\nä\n", "Grüße", "ä\n" },
    { "multi-line value in the body",
      "Subject: s\n\nBetreffzeilen:\n{{subjects}}\nEnde\n", "s",
      "Betreffzeilen:\n    Ihre Rechnung Nr. 4711\n    Gewinnbenachrichtigung\nEnde\n" },
    { "CRLF and CR in a value become LF",
      "Subject: s\n\n[{{multi}}]\n", "s", "[a\nb\nc]\n" },
    { "multi-line value in the subject becomes one line",
      "Subject: {{ticket}} {{subjects}} / {{multi}}\n\nx\n",
      "[abusedesk #123] Ihre Rechnung Nr. 4711 Gewinnbenachrichtigung / a b c", "x\n" },
    { "empty and NULL values",
      "Subject: s {{empty}}{{nullval}}\n\n[{{empty}}][{{nullval}}]\n", "s", "[][]\n" },
    { "invalid UTF-8 in a value is replaced",
      "Subject: s\n\n{{latin1}}\n", "s", "caf\xEF\xBF\xBD\n" },
    { "single braces and a lone }} are text",
      "Subject: {x} }}\n\n{ a } {b} }} {\n", "{x} }}", "{ a } {b} }} {\n" },
    { "subject keyword in any case, blanks trimmed",
      "subject:    s  \n\nb\n", "s", "b\n" },
    { "empty body",
      "Subject: s\n\n", "s", "" },
    { "blank lines in the body are kept",
      "Subject: s\n\na\n\n\nb\n\n", "s", "a\n\n\nb\n\n" },
};

static void test_render(void **state)
{
    struct fx *f = *state;
    GHashTable *vars = vars_new(test_vars, G_N_ELEMENTS(test_vars));
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(render_cases); i++) {
        const struct render_case *c = &render_cases[i];
        put_file(f->dir, "de/t.txt", c->text, 0);
        char *subject = NULL, *body = NULL;
        struct ad_err err = { 0 };
        int rc = template_render(f->dir, "de", "t", vars, &subject, &body, &err);
        if (rc != 0) {
            print_error("%s: got error %d (%s), want success\n", c->name, rc, err.msg);
            bad++;
            continue;
        }
        bad += check_str(c->name, "subject", subject, c->want_subject);
        bad += check_str(c->name, "body", body, c->want_body);
        g_free(subject);
        g_free(body);
    }
    g_hash_table_unref(vars);
    FAIL_IF_BAD(bad);
}

/* ---- errors ---- */

struct error_case {
    const char *name;
    const char *text;
    size_t len; /* 0: strlen(text) */
    int want_code;
    const char *want[3]; /* substrings of the message besides the path */
};

static const struct error_case error_cases[] = {
    { "unknown placeholder in the body", "Subject: s\n\nHallo\n{{acount}} ist gesperrt\n", 0,
      AD_ERR_PARSE, { "line 4:", "unknown placeholder {{acount}}" } },
    { "unknown placeholder in the subject", "Subject: {{tiket}} x\n\nb\n", 0, AD_ERR_PARSE,
      { "line 1:", "unknown placeholder {{tiket}}" } },
    { "unknown placeholder after comments, spaces in braces", "# a\n# b\nSubject: s\n\n{{ nope }}\n",
      0, AD_ERR_PARSE, { "line 5:", "{{nope}}" } },
    { "unknown placeholder after a CRLF line", "Subject: s\r\n\r\nx\r\ny {{ticket}} {{tickt}}\r\n",
      0, AD_ERR_PARSE, { "line 4:", "{{tickt}}" } },
    { "{{ closed on the next line", "Subject: s\n\nA {{account\n}}\n", 0, AD_ERR_PARSE,
      { "line 3:", "unclosed \"{{\"" } },
    { "{{ closed by one brace", "Subject: s\n\nA {{account}\n", 0, AD_ERR_PARSE,
      { "line 3:", "unclosed" } },
    { "unclosed {{ in the subject", "Subject: {{ticket\n\nb\n", 0, AD_ERR_PARSE,
      { "line 1:", "unclosed" } },
    { "upper-case placeholder name", "Subject: s\n\nx\n{{Account}}\n", 0, AD_ERR_PARSE,
      { "line 4:", "bad placeholder {{Account}}" } },
    { "empty placeholder", "Subject: s\n\n{{ }}\n", 0, AD_ERR_PARSE,
      { "line 3:", "bad placeholder {{ }}" } },
    { "dash in a placeholder", "Subject: s\n\n{{first-seen}}\n", 0, AD_ERR_PARSE,
      { "line 3:", "bad placeholder {{first-seen}}" } },
    { "no Subject line", "Hallo\n\nb\n", 0, AD_ERR_PARSE,
      { "line 1:", "want \"Subject: ...\"", "got \"Hallo\"" } },
    { "blank line between comments and Subject", "# c\n\nSubject: s\n\nb\n", 0, AD_ERR_PARSE,
      { "line 2:", "Subject" } },
    { "comment after the Subject line", "Subject: s\n# c\n\nb\n", 0, AD_ERR_PARSE,
      { "line 2:", "blank line after the Subject line" } },
    { "empty file", "", 0, AD_ERR_PARSE, { "no Subject line" } },
    { "only comments", "# a\n# b\n", 0, AD_ERR_PARSE, { "no Subject line" } },
    { "empty subject", "Subject:   \n\nb\n", 0, AD_ERR_PARSE, { "line 1:", "subject is empty" } },
    { "no blank line after Subject", "Subject: s\nbody\n", 0, AD_ERR_PARSE,
      { "line 2:", "blank line" } },
    { "nothing after Subject", "# c\nSubject: s\n", 0, AD_ERR_PARSE, { "line 2:", "blank line" } },
    { "invalid UTF-8", "Subject: s\n\nok\nkaputt \xC3\x28\n", 0, AD_ERR_PARSE,
      { "line 4:", "not valid UTF-8" } },
    { "Latin-1 file", "Subject: Gr\xFC\xDF" "e\n\nb\n", 0, AD_ERR_PARSE,
      { "line 1:", "not valid UTF-8" } },
    { "NUL byte", "Subject: s\n\na\0b\n", 15, AD_ERR_PARSE, { "line 3:", "not valid UTF-8" } },
    { "escape character", "Subject: s\n\nok\n\x1b[1mfett\n", 0, AD_ERR_PARSE,
      { "line 4:", "control character 0x1b" } },
    { "lone CR", "Subject: s\r\rb\n", 0, AD_ERR_PARSE, { "line 1:", "control character 0x0d" } },
};

static void test_errors(void **state)
{
    struct fx *f = *state;
    GHashTable *vars = vars_new(test_vars, G_N_ELEMENTS(test_vars));
    char *path = g_build_filename(f->dir, "de", "t.txt", NULL);
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(error_cases); i++) {
        const struct error_case *c = &error_cases[i];
        put_file(f->dir, "de/t.txt", c->text, c->len);
        char *subject = (char *)"junk", *body = (char *)"junk";
        struct ad_err err = { 0 };
        int rc = template_render(f->dir, "de", "t", vars, &subject, &body, &err);
        bad += check_int(c->name, "rc", rc, c->want_code);
        bad += check_int(c->name, "err.code", err.code, c->want_code);
        bad += check_str(c->name, "subject", subject, NULL);
        bad += check_str(c->name, "body", body, NULL);
        bad += check_contains(c->name, "message", err.msg, path);
        for (size_t k = 0; k < G_N_ELEMENTS(c->want) && c->want[k]; k++)
            bad += check_contains(c->name, "message", err.msg, c->want[k]);
    }
    g_free(path);
    g_hash_table_unref(vars);
    FAIL_IF_BAD(bad);
}

/* The limit is 64 KiB: a file of exactly that size renders, one byte more does not. */
static void test_size_limit(void **state)
{
    struct fx *f = *state;
    const size_t max = 64 * 1024;
    GString *s = g_string_new("Subject: s\n\n");
    while (s->len < max - 1)
        g_string_append_c(s, (s->len % 64 == 63) ? '\n' : 'x');
    g_string_append_c(s, '\n');
    int bad = 0;
    struct ad_err err = { 0 };
    char *subject = NULL, *body = NULL;
    put_file(f->dir, "en/big.txt", s->str, s->len);
    int rc = template_render(f->dir, "en", "big", NULL, &subject, &body, &err);
    bad += check_int("exactly 64 KiB", "rc", rc, 0);
    bad += check_int("exactly 64 KiB", "body length", body ? (int)strlen(body) : -1,
                     (int)(max - strlen("Subject: s\n\n")));
    g_free(subject);
    g_free(body);

    g_string_append_c(s, 'x');
    put_file(f->dir, "en/big.txt", s->str, s->len);
    rc = template_render(f->dir, "en", "big", NULL, &subject, &body, &err);
    bad += check_int("64 KiB + 1", "rc", rc, AD_ERR_LIMIT);
    bad += check_contains("64 KiB + 1", "message", err.msg, "big.txt");
    bad += check_contains("64 KiB + 1", "message", err.msg, "64 KiB");
    bad += check_str("64 KiB + 1", "body", body, NULL);
    g_string_free(s, TRUE);
    FAIL_IF_BAD(bad);
}

/* ---- languages and files ---- */

struct lang_case {
    const char *name;
    const char *lang;
    const char *tpl;
    int want_code;
    const char *want_subject; /* on success */
    const char *want_msg[2];  /* on failure */
};

static const struct lang_case lang_cases[] = {
    { "German file exists", "de", "t", 0, "deutsch", { NULL } },
    { "English asked for", "en", "t", 0, "english", { NULL } },
    { "no French file: English", "fr", "t", 0, "english", { NULL } },
    { "no German file: English", "de", "only_en", 0, "only english", { NULL } },
    { "no language: English", NULL, "t", 0, "english", { NULL } },
    { "empty language: English", "", "t", 0, "english", { NULL } },
    { "language with a path in it: English", "../de", "t", 0, "english", { NULL } },
    { "neither file exists", "de", "nothing", AD_ERR_IO, NULL,
      { "de/nothing.txt", "en/nothing.txt" } },
    { "no English file", "en", "only_de", AD_ERR_IO, NULL, { "en/only_de.txt" } },
    { "language file is a folder: no fallback", "de", "folder", AD_ERR_IO, NULL,
      { "de/folder.txt: not a regular file" } },
    { "language file is a FIFO: refused, not waited on", "de", "fifo", AD_ERR_IO, NULL,
      { "de/fifo.txt: not a regular file" } },
    { "template name with a path in it", "de", "../t", AD_ERR_USAGE, NULL,
      { "bad template name" } },
    { "template name with capitals", "de", "T", AD_ERR_USAGE, NULL, { "bad template name" } },
    { "empty template name", "de", "", AD_ERR_USAGE, NULL, { "bad template name" } },
};

static void test_languages(void **state)
{
    struct fx *f = *state;
    put_file(f->dir, "de/t.txt", "Subject: deutsch\n\nText\n", 0);
    put_file(f->dir, "en/t.txt", "Subject: english\n\nText\n", 0);
    put_file(f->dir, "en/only_en.txt", "Subject: only english\n\nText\n", 0);
    put_file(f->dir, "de/only_de.txt", "Subject: nur deutsch\n\nText\n", 0);
    put_file(f->dir, "en/folder.txt", "Subject: english\n\nText\n", 0);
    char *folder = g_build_filename(f->dir, "de", "folder.txt", NULL);
    g_mkdir_with_parents(folder, 0750);
    g_free(folder);
    char *fifo = g_build_filename(f->dir, "de", "fifo.txt", NULL);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    g_free(fifo);
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(lang_cases); i++) {
        const struct lang_case *c = &lang_cases[i];
        char *subject = NULL, *body = NULL;
        struct ad_err err = { 0 };
        int rc = template_render(f->dir, c->lang, c->tpl, NULL, &subject, &body, &err);
        bad += check_int(c->name, "rc", rc, c->want_code);
        if (rc != 0 && c->want_code == 0)
            print_error("%s: message: %s\n", c->name, err.msg);
        bad += check_str(c->name, "subject", subject, c->want_subject);
        for (size_t k = 0; k < G_N_ELEMENTS(c->want_msg) && c->want_msg[k]; k++)
            bad += check_contains(c->name, "message", err.msg, c->want_msg[k]);
        g_free(subject);
        g_free(body);
    }
    FAIL_IF_BAD(bad);
}

/* ---- the shipped templates ---- */

/* What the notifier passes to every template. */
static const char *const common_vars[] = {
    "ticket", "[abusedesk #123]",
    "incident_id", "123",
    "customer_name", "Bäckerei Müller GmbH",
    "customer_id", "C1002",
    "contact_email", "hans.mueller@mueller-privat.example",
    "account", "info@baeckerei-mueller.example",
    "script", "/var/www/c1002/htdocs/kontakt/mailer.php",
    "domain", "baeckerei-mueller.example",
    "subject", "info@baeckerei-mueller.example",
    "subject_kind", "account",
    "complaints", "17",
    "complaints_times", "17-mal",
    "complaints_count", "17 Beschwerden",
    "complaints_reports", "17 Meldungen",
    "subjects", "    Ihre Rechnung Nr. 4711 ist fällig\n    Gewinnbenachrichtigung",
    "first_seen", "2024-05-02 08:14 UTC",
    "last_seen", "2024-05-02 11:52 UTC",
    "desk_name", "Abuse-Team Example Hosting",
    "desk_address", "abuse@hosting.example",
};

/* Each shipped template, the placeholders only it gets, and those it must use. */
struct shipped {
    const char *name;
    const char *specific[32];   /* name, value pairs */
    const char *must_use[20];
};

static const struct shipped shipped[] = {
    { "compromised", { NULL },
      { "ticket", "account", "complaints_times", "first_seen", "last_seen", "subjects",
        "desk_name" } },
    { "compromised_volume",
      { "reason", "outbound volume: 310 messages in 1h > 300 (hard limit)" },
      { "ticket", "account", "reason", "desk_name" } },
    { "script", { NULL },
      { "ticket", "script", "customer_name", "complaints_times", "subjects", "desk_name" } },
    { "joejob", { NULL }, { "ticket", "domain", "desk_name" } },
    { "dismissed", { NULL }, { "ticket", "subject", "desk_name" } },
    { "unlocked", { "unlocked_at", "2024-05-03 10:05 UTC" },
      { "ticket", "account", "unlocked_at", "desk_name" } },
    { "team_alert",
      { "stage", "lock", "state", "locked", "initial_score", "42.0", "score", "87.5",
        "manual_share", "65 %", "providers", "gmx.net (9), web.de (5), aol.com (3)",
        "evidence", "    Received: from [192.0.2.10] by mx1.hosting.example (SASL login "
                    "info@baeckerei-mueller.example)\n    Message-ID host matches our relay",
        "history", "    #97 2023-11-02 info@baeckerei-mueller.example resolved",
        "action", "    locked the mailbox, notified hans.mueller@mueller-privat.example" },
      { "ticket", "incident_id", "stage", "state", "subject_kind", "subject", "customer_id",
        "customer_name", "contact_email", "initial_score", "score", "complaints",
        "manual_share", "providers", "first_seen", "last_seen", "subjects", "evidence",
        "history", "action" } },
    { "team_reply",
      { "reply_kind", "Antwort des Kunden", "reply_from", "hans.mueller@mueller-privat.example",
        "reply_subject", "Re: [abusedesk #123] Ihr Postfach wurde gesperrt",
        "reply_excerpt", "    Guten Tag, wir haben alle Rechner geprüft\n    und danach das "
                         "Passwort geändert.",
        "password_changed", "yes (2024-05-03 09:12 UTC)" },
      { "ticket", "incident_id", "subject", "reply_from", "reply_subject", "reply_excerpt",
        "password_changed" } },
    /* listing: the reputation monitor's team mails (act/listing.c, act/feeds.c) */
    { "team_listing",
      { "address", "192.0.2.10", "zones", "  zen.spamhaus.org (Spamhaus ZEN): 127.0.0.2",
        "window", "72h", "ranking", "   1. account info@baeckerei-mueller.example: 4100 mails",
        "total_mails", "4711", "n_complaints", "3", "complaints", "  report 17 ...",
        "n_bounces", "5", "bounce_reasons", "blocked 4, badreputation 1", "bounces",
        "  report 18 ...", "delisting", "  Spamhaus ZEN: https://check.spamhaus.org/" },
      { "ticket", "incident_id", "address", "zones", "ranking", "delisting", "complaints",
        "bounces" } },
    { "team_early_warning",
      { "address", "192.0.2.10", "recent", "12", "window", "6h", "usual", "0.5", "baseline",
        "7d", "reasons", "blocked 12", "ranking", "   1. account x@example.org: 900 mails" },
      { "ticket", "address", "recent", "usual", "ranking" } },
    { "team_feed",
      { "provider", "aol.com", "state", "silent", "problem", "no report for 2.0 days",
        "last_report", "2024-05-01T10:00:00Z", "usual_interval", "1.0 hours", "per_day",
        "24.0", "reports", "336" },
      { "ticket", "provider", "problem", "last_report" } },
    /* audit: the reputation monitor's scheduled domain audit (cli/cmd_domains.c) */
    { "team_audit",
      { "n_changed", "1", "n_domains", "42", "changes",
        "baeckerei-mueller.example (customer C1002, Bäckerei Müller GmbH)\n"
        "  - SPF removed since 2024-05-01 (was: v=spf1 mx -all)\n"
        "  spf missing (error): no SPF record\n    -> Publish an SPF record." },
      { "ticket", "n_changed", "changes" } },
};

static GHashTable *shipped_vars(const struct shipped *s)
{
    GHashTable *v = vars_new(common_vars, G_N_ELEMENTS(common_vars));
    for (size_t i = 0; i + 1 < G_N_ELEMENTS(s->specific) && s->specific[i]; i += 2)
        g_hash_table_insert(v, g_strdup(s->specific[i]), g_strdup(s->specific[i + 1]));
    return v;
}

static char *templates_dir(void)
{
    const char *src = getenv("AD_SOURCE_DIR");
    return g_build_filename(src && *src ? src : ".", "etc", "templates", NULL);
}

/* qsort/g_ptr_array_sort comparison of two char * elements. */
static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, space-separated names of the *.txt files in DIR/LANG. */
static char *list_templates(const char *dir, const char *lang)
{
    char *path = g_build_filename(dir, lang, NULL);
    GDir *d = g_dir_open(path, 0, NULL);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *n;
    while (d && (n = g_dir_read_name(d)) != NULL)
        if (g_str_has_suffix(n, ".txt"))
            g_ptr_array_add(names, g_strndup(n, strlen(n) - 4));
    if (d)
        g_dir_close(d);
    g_ptr_array_sort(names, cmp_strp);
    g_ptr_array_add(names, NULL);
    char *joined = g_strjoinv(" ", (char **)names->pdata);
    g_ptr_array_unref(names);
    g_free(path);
    return joined;
}

static int cmp_str_data(const void *a, const void *b, void *data)
{
    (void)data;
    return strcmp(a, b);
}

/* Sorted, space-separated, unique placeholder names used by the file (its
 * leading comment lines skipped). NULL when the file cannot be read. */
static char *placeholders_of(const char *path)
{
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    const char *p = text;
    while (*p == '#') {
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : p + strlen(p);
    }
    GRegex *re = g_regex_new("\\{\\{[ \\t]*([a-z0-9_]+)[ \\t]*\\}\\}", 0, 0, NULL);
    GTree *seen = g_tree_new_full(cmp_str_data, NULL, g_free, NULL);
    GMatchInfo *mi = NULL;
    g_regex_match(re, p, 0, &mi);
    while (g_match_info_matches(mi)) {
        g_tree_insert(seen, g_match_info_fetch(mi, 1), NULL);
        g_match_info_next(mi, NULL);
    }
    g_match_info_free(mi);
    GString *out = g_string_new(NULL);
    GTreeNode *node = g_tree_node_first(seen);
    for (; node; node = g_tree_node_next(node))
        g_string_append_printf(out, "%s%s", out->len ? " " : "",
                               (const char *)g_tree_node_key(node));
    g_tree_destroy(seen);
    g_regex_unref(re);
    g_free(text);
    return g_string_free(out, FALSE);
}

static const struct shipped *shipped_find(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(shipped); i++)
        if (strcmp(shipped[i].name, name) == 0)
            return &shipped[i];
    return NULL;
}

static void test_shipped_templates(void **state)
{
    (void)state;
    static const char *const langs[] = { "de", "en" };
    char *dir = templates_dir();
    int bad = 0;

    /* Both languages ship the same files, and every file is in the table above. */
    GString *want_list = g_string_new(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(shipped); i++)
        g_string_append_printf(want_list, "%s%s", i ? " " : "", shipped[i].name);
    char **sorted = g_strsplit(want_list->str, " ", -1);
    qsort(sorted, g_strv_length(sorted), sizeof(char *), cmp_strp);
    char *want_sorted = g_strjoinv(" ", sorted);
    g_strfreev(sorted);
    g_string_free(want_list, TRUE);
    for (size_t l = 0; l < G_N_ELEMENTS(langs); l++) {
        char *got = list_templates(dir, langs[l]);
        char *tc = g_strdup_printf("%s/%s", dir, langs[l]);
        bad += check_str(tc, "template files", got, want_sorted);
        g_free(tc);
        g_free(got);
    }
    g_free(want_sorted);

    for (size_t i = 0; i < G_N_ELEMENTS(shipped); i++) {
        const struct shipped *s = &shipped[i];
        GHashTable *vars = shipped_vars(s);
        char *used[2] = { NULL, NULL };
        for (size_t l = 0; l < G_N_ELEMENTS(langs); l++) {
            char *file = g_strconcat(s->name, ".txt", NULL);
            char *path = g_build_filename(dir, langs[l], file, NULL);
            char *tc = g_strdup_printf("%s/%s", langs[l], file);
            char *text = NULL;
            if (!g_file_get_contents(path, &text, NULL, NULL) || !g_str_has_prefix(text, "# ")) {
                print_error("%s: first line: got %s, want a \"# ...\" comment\n", tc,
                            text ? "no comment" : "no file");
                bad++;
            }
            g_free(text);

            char *subject = NULL, *body = NULL;
            struct ad_err err = { 0 };
            int rc = template_render(dir, langs[l], s->name, vars, &subject, &body, &err);
            if (rc != 0) {
                print_error("%s: got error %d (%s), want success\n", tc, rc, err.msg);
                bad++;
            } else {
                if (!g_str_has_prefix(subject, "[abusedesk #123] ")) {
                    print_error("%s: subject: got \"%s\", want it to start with the ticket\n",
                                tc, subject);
                    bad++;
                }
                bad += check_contains(tc, "body", body, "Abuse-Team Example Hosting");
                if (strstr(body, "{{") || strstr(body, "}}")) {
                    print_error("%s: body: got leftover braces, want none:\n%s\n", tc, body);
                    bad++;
                }
            }
            used[l] = placeholders_of(path);
            for (size_t k = 0; k < G_N_ELEMENTS(s->must_use) && s->must_use[k]; k++) {
                char *pat = g_strdup_printf(" %s ", s->must_use[k]);
                char *padded = g_strdup_printf(" %s ", used[l] ? used[l] : "");
                if (!strstr(padded, pat)) {
                    print_error("%s: placeholders: got \"%s\", want it to use {{%s}}\n", tc,
                                used[l] ? used[l] : "", s->must_use[k]);
                    bad++;
                }
                g_free(padded);
                g_free(pat);
            }
            g_free(subject);
            g_free(body);
            g_free(tc);
            g_free(path);
            g_free(file);
        }
        char *tc = g_strdup_printf("%s.txt de vs en", s->name);
        bad += check_str(tc, "placeholders", used[0], used[1]);
        g_free(tc);
        g_free(used[0]);
        g_free(used[1]);
        g_hash_table_unref(vars);
    }
    g_free(dir);
    FAIL_IF_BAD(bad);
}

/* ---- the order of the remediation steps ---- */

/* Marker phrases, searched in the rendered body with all runs of blanks and line
 * breaks turned into single spaces; each must occur, the first occurrence of each
 * after the first occurrence of the one before. */
struct order_case {
    const char *tpl;
    const char *lang;
    const char *markers[8];
};

static const struct order_case order_cases[] = {
    { "compromised", "de",
      { "Zuerst alle Geräte auf Schadsoftware prüfen",
        "mit einem aktuellen Virenscanner",
        "zweiten Virenscanner",
        "Erst danach das Passwort des Postfachs ändern",
        "alte Passwort nie wieder verwenden",
        "Auch andere Passwörter ändern",
        "Auf diese E-Mail antworten" } },
    { "compromised", "en",
      { "First, check every device for malware",
        "up-to-date virus scanner",
        "second virus scanner",
        "Only then change the mailbox password",
        "Never use the old password again",
        "Change your other passwords",
        "Reply to this e-mail" } },
    { "compromised_volume", "de",
      { "Zuerst alle Geräte auf Schadsoftware prüfen",
        "mit einem aktuellen Virenscanner",
        "zweiten Virenscanner",
        "Erst danach das Passwort des Postfachs ändern",
        "alte Passwort nie wieder verwenden",
        "Auch andere Passwörter ändern",
        "Auf diese E-Mail antworten" } },
    { "compromised_volume", "en",
      { "First, check every device for malware",
        "up-to-date virus scanner",
        "second virus scanner",
        "Only then change the mailbox password",
        "Never use the old password again",
        "Change your other passwords",
        "Reply to this e-mail" } },
    { "script", "de",
      { "auf den aktuellen Stand",
        "nicht mehr brauchen",
        "CAPTCHA",
        "Dateien, die Angreifer eingeschleust haben",
        "Antworten Sie anschließend auf diese E-Mail" } },
    { "script", "en",
      { "to their current versions",
        "no longer need",
        "CAPTCHA",
        "files that attackers have planted",
        "Then reply to this e-mail" } },
};

static char *squeeze_blanks(const char *s)
{
    GString *out = g_string_new(NULL);
    for (const char *p = s; *p; p++) {
        if (g_ascii_isspace(*p)) {
            if (out->len && out->str[out->len - 1] != ' ')
                g_string_append_c(out, ' ');
        } else {
            g_string_append_c(out, *p);
        }
    }
    return g_string_free(out, FALSE);
}

static void test_remediation_order(void **state)
{
    (void)state;
    char *dir = templates_dir();
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(order_cases); i++) {
        const struct order_case *c = &order_cases[i];
        const struct shipped *s = shipped_find(c->tpl);
        assert_non_null(s);
        GHashTable *vars = shipped_vars(s);
        char *subject = NULL, *body = NULL;
        struct ad_err err = { 0 };
        char *tc = g_strdup_printf("%s/%s.txt", c->lang, c->tpl);
        if (template_render(dir, c->lang, c->tpl, vars, &subject, &body, &err) != 0) {
            print_error("%s: got error (%s), want success\n", tc, err.msg);
            bad++;
        } else {
            char *flat = squeeze_blanks(body);
            ptrdiff_t prev = -1;
            for (size_t k = 0; k < G_N_ELEMENTS(c->markers) && c->markers[k]; k++) {
                const char *hit = strstr(flat, c->markers[k]);
                if (!hit) {
                    print_error("%s: step %zu \"%s\": got not found, want present\n", tc, k + 1,
                                c->markers[k]);
                    bad++;
                    continue;
                }
                ptrdiff_t at = hit - flat;
                if (at <= prev) {
                    print_error("%s: step %zu \"%s\": got offset %td, want after \"%s\" at %td\n",
                                tc, k + 1, c->markers[k], at, c->markers[k - 1], prev);
                    bad++;
                }
                prev = at;
            }
            g_free(flat);
        }
        g_free(tc);
        g_free(subject);
        g_free(body);
        g_hash_table_unref(vars);
    }
    g_free(dir);
    FAIL_IF_BAD(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_render, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_size_limit, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_languages, fx_setup, fx_teardown),
        cmocka_unit_test(test_shipped_templates),
        cmocka_unit_test(test_remediation_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

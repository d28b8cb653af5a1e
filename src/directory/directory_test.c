/*
 * directory_test.c: unit tests for directory.c, each in a fresh SQLite store in
 * its own temporary directory: a good import and its lookups, re-import with
 * changes (no duplicates, updated fields, an account moved), RFC 4180 quoting
 * (commas, "" and line breaks inside quotes), CRLF and a BOM, every kind of bad
 * row with its exact line and column, header errors, limits (over-long line and
 * field, too many rows, a quote never closed) that keep nothing, the caller's
 * own transaction (dry run), and domain-suffix and case-insensitive lookups;
 * web space roots (the webroot column: normalised, refused, kept, moved) and
 * the path rules attribution relies on (clean paths, inside a root segment by
 * segment); set-contact (normalised, bad address, unknown customer, joining the
 * caller's transaction) and the warning for a contact that is the customer's
 * own mailbox. A failure names the case and prints "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "directory/directory.h"

#define FAIL_IF_BAD(bad) \
    do { \
        if (bad) \
            fail_msg("%d mismatch(es), see above", bad); \
    } while (0)

static int check_str(const char *row, const char *field, const char *got, const char *want)
{
    if (got == NULL && want == NULL)
        return 0;
    if (got != NULL && want != NULL && strcmp(got, want) == 0)
        return 0;
    print_error("%s: %s: got %s%s%s, want %s%s%s\n", row, field, got ? "\"" : "",
                got ? got : "NULL", got ? "\"" : "", want ? "\"" : "", want ? want : "NULL",
                want ? "\"" : "");
    return 1;
}

static int check_ll(const char *row, const char *field, long long got, long long want)
{
    if (got == want)
        return 0;
    print_error("%s: %s: got %lld, want %lld\n", row, field, got, want);
    return 1;
}

/* Per-test fixture: a temporary directory holding the database. */
struct fx {
    char *dir, *db;
    struct store *st;
};

static int fx_setup(void **state)
{
    struct fx *f = g_new0(struct fx, 1);
    f->dir = g_dir_make_tmp("ad-directory-test-XXXXXX", NULL);
    if (!f->dir)
        return -1;
    f->db = g_build_filename(f->dir, "abusedesk.db", NULL);
    struct ad_err err = { 0 };
    if (store_open(f->db, 1000, &f->st, &err) != 0) {
        print_error("store_open: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
    for (size_t i = 0; i < G_N_ELEMENTS(suffix); i++) {
        char *p = g_strconcat(f->db, suffix[i], NULL);
        g_unlink(p);
        g_free(p);
    }
    g_rmdir(f->dir);
    g_free(f->db);
    g_free(f->dir);
    g_free(f);
    return 0;
}

/* Collects the bad-row reports as "LINE|MESSAGE". */
static void collect(size_t line, const char *msg, void *ctx)
{
    g_ptr_array_add(ctx, g_strdup_printf("%zu|%s", line, msg));
}

struct run {
    int rc;
    struct ad_err err;
    struct directory_import_stats stats;
    GPtrArray *bad;     /* "LINE|MESSAGE" */
};

static void run_import(struct store *st, const char *csv, size_t len, struct run *r)
{
    memset(r, 0, sizeof *r);
    r->bad = g_ptr_array_new_with_free_func(g_free);
    r->rc = directory_import(st, "test.csv", csv, len, &r->stats, collect, r->bad, &r->err);
}

static void run_free(struct run *r)
{
    g_ptr_array_free(r->bad, TRUE);
}

/* Compares the stats with "rows customers accounts domains uids bad". */
static int check_stats(const char *row, const struct run *r, size_t rows, size_t customers,
                       size_t accounts, size_t domains, size_t uids, size_t bad_rows)
{
    int bad = check_ll(row, "rc", r->rc, 0);
    if (r->rc)
        print_error("%s: err: %s\n", row, r->err.msg);
    bad += check_ll(row, "n_rows", (long long)r->stats.n_rows, (long long)rows);
    bad += check_ll(row, "n_customers", (long long)r->stats.n_customers, (long long)customers);
    bad += check_ll(row, "n_accounts", (long long)r->stats.n_accounts, (long long)accounts);
    bad += check_ll(row, "n_domains", (long long)r->stats.n_domains, (long long)domains);
    bad += check_ll(row, "n_uids", (long long)r->stats.n_uids, (long long)uids);
    bad += check_ll(row, "n_bad", (long long)r->stats.n_bad, (long long)bad_rows);
    if (r->stats.n_bad != bad_rows || r->bad->len != bad_rows) {
        for (guint i = 0; i < r->bad->len; i++)
            print_error("%s: reported: %s\n", row, (const char *)r->bad->pdata[i]);
        bad += check_ll(row, "reports", r->bad->len, (long long)bad_rows);
    }
    return bad;
}

/* Which customer a lookup kind ("account", "domain", "uid") names for key. */
static int check_owner(struct store *st, const char *row, const char *kind, const char *key,
                       const char *want)
{
    char *got = NULL;
    struct ad_err err = { 0 };
    int rc = !strcmp(kind, "account") ? directory_account_customer(st, key, &got, &err)
             : !strcmp(kind, "domain") ? directory_domain_customer(st, key, &got, &err)
                                       : directory_uid_customer(st, key, &got, &err);
    char field[128];
    snprintf(field, sizeof field, "%s %s", kind, key ? key : "NULL");
    int bad = check_ll(row, field, rc, 0);
    bad += check_str(row, field, got, want);
    g_free(got);
    return bad;
}

static int check_customer(struct store *st, const char *row, const char *id, const char *name,
                          const char *contact, const char *language)
{
    struct directory_customer c;
    struct ad_err err = { 0 };
    int rc = directory_customer_get(st, id, &c, &err);
    int bad = check_ll(row, "customer_get rc", rc, 0);
    if (rc) {
        print_error("%s: customer %s: %s\n", row, id, err.msg);
        return bad;
    }
    bad += check_str(row, "id", c.id, id);
    bad += check_str(row, "name", c.name, name);
    bad += check_str(row, "contact_email", c.contact_email, contact);
    bad += check_str(row, "language", c.language, language);
    directory_customer_clear(&c);
    return bad;
}

static void add_item(const char *kind, const char *value, void *ctx)
{
    GString *s = ctx;
    g_string_append_printf(s, "%s%s=%s", s->len ? " " : "", kind, value);
}

/* Everything a customer owns as "kind=value kind=value ...". */
static int check_owns(struct store *st, const char *row, const char *id, const char *want)
{
    GString *s = g_string_new(NULL);
    struct ad_err err = { 0 };
    int bad = check_ll(row, "customer_each rc", directory_customer_each(st, id, add_item, s, &err),
                       0);
    char field[96];
    snprintf(field, sizeof field, "owned by %s", id);
    bad += check_str(row, field, s->str, want);
    g_string_free(s, TRUE);
    return bad;
}

static int check_absent(struct store *st, const char *row, const char *id)
{
    struct directory_customer c;
    struct ad_err err = { 0 };
    int rc = directory_customer_get(st, id, &c, &err);
    directory_customer_clear(&c);
    return check_ll(row, "customer_get (want absent)", rc, AD_ERR_NOTFOUND);
}

static const char good_csv[] =
    "customer_id,customer_name,contact_email,language,account,domain,uid\n"
    "C1001,Example Customer,Abuse@Customer.Example,en,alice@customer.example,customer.example,\n"
    "C1001,Example Customer,Abuse@Customer.Example,en,Bob@Customer.Example,,\n"
    "C2002,Bäckerei Müller,Info@Baeckerei-Mueller.example,DE,info@baeckerei-mueller.example,"
    "Baeckerei-Mueller.example,10023\n"
    "C2002,Bäckerei Müller,Info@Baeckerei-Mueller.example,DE,,shop.baeckerei-mueller.example,\n"
    "C3003,  Web Login GmbH  ,ops@login.example,,web4711,login.example,\n";

static void test_directory_import_good(void **state)
{
    struct fx *f = *state;
    struct run r;
    run_import(f->st, good_csv, strlen(good_csv), &r);
    int bad = check_stats("good", &r, 5, 3, 4, 4, 1, 0);
    bad += check_customer(f->st, "good", "C1001", "Example Customer", "abuse@customer.example",
                          "en");
    bad += check_customer(f->st, "good", "C2002", "Bäckerei Müller",
                          "info@baeckerei-mueller.example", "de");
    /* Spaces around values are trimmed; an empty language stays empty (notices
     * use [directory] default_language). */
    bad += check_customer(f->st, "good", "C3003", "Web Login GmbH", "ops@login.example", "");
    bad += check_owns(f->st, "good", "C1001",
                      "account=alice@customer.example account=bob@customer.example "
                      "domain=customer.example");
    bad += check_owns(f->st, "good", "C2002",
                      "account=info@baeckerei-mueller.example domain=baeckerei-mueller.example "
                      "domain=shop.baeckerei-mueller.example uid=10023");
    bad += check_owner(f->st, "good", "account", "web4711", "C3003");
    bad += check_owner(f->st, "good", "uid", "10023", "C2002");
    bad += check_absent(f->st, "good", "C9999");
    run_free(&r);
    FAIL_IF_BAD(bad);
}

static void test_directory_reimport(void **state)
{
    struct fx *f = *state;
    struct run r;
    run_import(f->st, good_csv, strlen(good_csv), &r);
    int bad = check_stats("first", &r, 5, 3, 4, 4, 1, 0);
    run_free(&r);

    /* Same import again: nothing new, nothing doubled. */
    run_import(f->st, good_csv, strlen(good_csv), &r);
    bad += check_stats("again", &r, 5, 3, 4, 4, 1, 0);
    run_free(&r);
    bad += check_owns(f->st, "again", "C1001",
                      "account=alice@customer.example account=bob@customer.example "
                      "domain=customer.example");

    /* C1001 renamed with a new contact; bob and the uid move to C3003. */
    static const char changed[] =
        "account,domain,customer_id,customer_name,contact_email,language,uid\n"
        "alice@customer.example,customer.example,C1001,Example Customer AG,"
        "security@customer.example,de,\n"
        "bob@customer.example,,C3003,Web Login GmbH,ops@login.example,en,10023\n";
    run_import(f->st, changed, strlen(changed), &r);
    bad += check_stats("changed", &r, 2, 2, 2, 1, 1, 0);
    run_free(&r);
    bad += check_customer(f->st, "changed", "C1001", "Example Customer AG",
                          "security@customer.example", "de");
    bad += check_owns(f->st, "changed", "C1001",
                      "account=alice@customer.example domain=customer.example");
    bad += check_owns(f->st, "changed", "C3003",
                      "account=bob@customer.example account=web4711 domain=login.example "
                      "uid=10023");
    bad += check_owner(f->st, "changed", "account", "bob@customer.example", "C3003");
    bad += check_owner(f->st, "changed", "uid", "10023", "C3003");
    /* What the new file does not mention stays. */
    bad += check_owns(f->st, "changed", "C2002",
                      "account=info@baeckerei-mueller.example domain=baeckerei-mueller.example "
                      "domain=shop.baeckerei-mueller.example");
    FAIL_IF_BAD(bad);
}

static void test_directory_quoted(void **state)
{
    struct fx *f = *state;
    static const char csv[] =
        "\"customer_id\",customer_name,contact_email,language,account,domain\n"
        "C1,\"Müller, Schmidt & Co. \"\"Die Bäcker\"\"\",a@c1.example,de,\"x@c1.example\","
        "c1.example\n"
        "C2,\"Zwei Zeilen\nGmbH\",b@c2.example,en,\"\",\"\"\n"
        "C3,Three,c@c3.example,en,,\"bad domain\"\n";
    struct run r;
    run_import(f->st, csv, strlen(csv), &r);
    int bad = check_stats("quoted", &r, 3, 2, 1, 1, 0, 1);
    bad += check_customer(f->st, "quoted", "C1", "Müller, Schmidt & Co. \"Die Bäcker\"",
                          "a@c1.example", "de");
    bad += check_customer(f->st, "quoted", "C2", "Zwei Zeilen\nGmbH", "b@c2.example", "en");
    /* The record with the line break spans lines 3 and 4, so the next is line 5. */
    if (r.bad->len == 1)
        bad += check_str("quoted", "report", r.bad->pdata[0],
                         "5|line 5, column domain: 'bad domain' is not a domain name");
    run_free(&r);
    FAIL_IF_BAD(bad);
}

static void test_directory_crlf_bom(void **state)
{
    struct fx *f = *state;
    static const char csv[] =
        "\xef\xbb\xbf" "customer_id,customer_name,contact_email,language,account,domain\r\n"
        "C1,One,a@one.example,en,a@one.example,one.example\r\n"
        "\r\n"
        "C2,\"Two\r\nLines\",b@two.example,en,b@two.example,two.example\r\n"
        "C3,Three,c@three.example,xx,c@three.example,three.example\r\n"
        "C4,Four,d@four.example,en,d@four.example,four.example";    /* no final CRLF */
    struct run r;
    run_import(f->st, csv, strlen(csv), &r);
    int bad = check_stats("crlf", &r, 4, 3, 3, 3, 0, 1);
    bad += check_customer(f->st, "crlf", "C1", "One", "a@one.example", "en");
    bad += check_customer(f->st, "crlf", "C2", "Two\nLines", "b@two.example", "en");
    bad += check_customer(f->st, "crlf", "C4", "Four", "d@four.example", "en");
    if (r.bad->len == 1)
        bad += check_str("crlf", "report", r.bad->pdata[0],
                         "6|line 6, column language: 'xx' is not a notice language (want de or "
                         "en)");
    run_free(&r);
    FAIL_IF_BAD(bad);
}

/* Each case: the header, a good row on line 2, then the row under test on line 3. */
struct bad_row_case {
    const char *name;
    const char *row;
    const char *want;       /* the exact report */
};

static const struct bad_row_case bad_rows[] = {
    { "missing customer_id", ",Two,b@two.example,en,b@two.example,two.example,",
      "line 3, column customer_id: missing" },
    { "blank customer_id", "  ,Two,b@two.example,en,b@two.example,two.example,",
      "line 3, column customer_id: missing" },
    { "missing customer_name", "C2,,b@two.example,en,b@two.example,two.example,",
      "line 3, column customer_name: missing" },
    { "missing contact", "C2,Two,,en,b@two.example,two.example,",
      "line 3, column contact_email: missing (the address notices go to)" },
    { "contact no at", "C2,Two,postmaster,en,b@two.example,two.example,",
      "line 3, column contact_email: 'postmaster' is not a mail address (want local@domain.tld)" },
    { "contact no dot", "C2,Two,root@localhost,en,b@two.example,two.example,",
      "line 3, column contact_email: 'root@localhost' is not a mail address (want "
      "local@domain.tld)" },
    { "contact with name", "C2,Two,Bob <b@two.example>,en,b@two.example,two.example,",
      "line 3, column contact_email: 'bob <b@two.example>' is not a mail address (want "
      "local@domain.tld)" },
    { "language", "C2,Two,b@two.example,fr,b@two.example,two.example,",
      "line 3, column language: 'fr' is not a notice language (want de or en)" },
    { "account with space", "C2,Two,b@two.example,en,b two,two.example,",
      "line 3, column account: 'b two' is not a login name or mail address (no spaces, control "
      "characters, quotes or <>; local@domain.tld with '@')" },
    { "account half address", "C2,Two,b@two.example,en,b@two,two.example,",
      "line 3, column account: 'b@two' is not a login name or mail address (no spaces, control "
      "characters, quotes or <>; local@domain.tld with '@')" },
    { "domain single label", "C2,Two,b@two.example,en,b@two.example,localhost,",
      "line 3, column domain: 'localhost' is not a domain name" },
    { "domain ip", "C2,Two,b@two.example,en,b@two.example,192.0.2.1,",
      "line 3, column domain: '192.0.2.1' is not a domain name" },
    { "domain hyphen", "C2,Two,b@two.example,en,b@two.example,-two.example,",
      "line 3, column domain: '-two.example' is not a domain name" },
    { "domain url", "C2,Two,b@two.example,en,b@two.example,http://two.example/,",
      "line 3, column domain: 'http://two.example/' is not a domain name" },
    { "uid not a number", "C2,Two,b@two.example,en,b@two.example,two.example,10o23",
      "line 3, column uid: '10o23' is not a Unix uid (want a number)" },
    { "uid too big", "C2,Two,b@two.example,en,b@two.example,two.example,4294967296",
      "line 3, column uid: '4294967296' is not a Unix uid (want a number)" },
    { "too few fields", "C2,Two,b@two.example,en,b@two.example,two.example",
      "line 3: 6 fields, want 7 as in the header" },
    { "too many fields", "C2,Two,b@two.example,en,b@two.example,two.example,,",
      "line 3: 8 fields, want 7 as in the header" },
    { "text after quote", "C2,\"Two\" GmbH,b@two.example,en,b@two.example,two.example,",
      "line 3, column customer_name: text after the closing quote (quote the whole field)" },
    { "quote in unquoted", "C2,Two \"GmbH\",b@two.example,en,b@two.example,two.example,",
      "line 3, column customer_name: quote inside an unquoted field (quote the whole field and "
      "double the quote: \"\")" },
    { "not utf-8", "C2,B\xe4" "ckerei,b@two.example,en,b@two.example,two.example,",
      "line 3, column customer_name: not valid UTF-8 (save the file as UTF-8)" },
    { "control character", "C2,Two,b@two.example,en,b\x01@two.example,two.example,",
      "line 3, column account: control character in 'b?@two.example'" },
    { "account of another customer", "C2,Two,b@two.example,en,A@One.Example,two.example,",
      "line 3, column account: 'a@one.example' is already listed for customer C1 on line 2" },
    { "domain of another customer", "C2,Two,b@two.example,en,b@two.example,ONE.example,",
      "line 3, column domain: 'one.example' is already listed for customer C1 on line 2" },
    { "uid of another customer", "C2,Two,b@two.example,en,b@two.example,two.example,500",
      "line 3, column uid: '500' is already listed for customer C1 on line 2" },
};

static void test_directory_bad_rows(void **state)
{
    struct fx *f = *state;
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(bad_rows); i++) {
        const struct bad_row_case *t = &bad_rows[i];
        char *csv = g_strdup_printf(
            "customer_id,customer_name,contact_email,language,account,domain,uid\n"
            "C1,One,a@one.example,en,a@one.example,one.example,500\n"
            "%s\n"
            "\n",
            t->row);
        struct run r;
        run_import(f->st, csv, strlen(csv), &r);
        bad += check_stats(t->name, &r, 2, 1, 1, 1, 1, 1);
        if (r.bad->len == 1) {
            char *want = g_strdup_printf("3|%s", t->want);
            bad += check_str(t->name, "report", r.bad->pdata[0], want);
            g_free(want);
        }
        /* The refused row left nothing behind. */
        bad += check_absent(f->st, t->name, "C2");
        bad += check_owner(f->st, t->name, "domain", "two.example", NULL);
        run_free(&r);
        g_free(csv);
    }
    FAIL_IF_BAD(bad);
}

/* Good rows are kept around bad ones, and an empty account is fine. */
static void test_directory_partial(void **state)
{
    struct fx *f = *state;
    static const char csv[] =
        "customer_id,customer_name,contact_email,language,account,domain\n"
        "C1,One,a@one.example,en,a@one.example,\n"
        "C2,Two,nobody,en,b@two.example,two.example\n"
        "C3,Three,c@three.example,En,,three.example\n"
        "C3,Three,c@three.example,en,a@one.example,\n";
    struct run r;
    directory_import(f->st, "test.csv", csv, strlen(csv), NULL, NULL, NULL, NULL);
    run_import(f->st, csv, strlen(csv), &r);
    int bad = check_stats("partial", &r, 4, 2, 1, 1, 0, 2);
    bad += check_owner(f->st, "partial", "domain", "three.example", "C3");
    bad += check_owner(f->st, "partial", "account", "a@one.example", "C1");
    bad += check_absent(f->st, "partial", "C2");
    run_free(&r);
    FAIL_IF_BAD(bad);
}

struct header_case {
    const char *name;
    const char *csv;
    const char *want;
};

static const struct header_case header_cases[] = {
    { "missing column", "customer_id,customer_name,contact_email,language,account\n"
                        "C1,One,a@one.example,en,a@one.example\n",
      "test.csv: line 1: missing column 'domain' (expected customer_id, customer_name, "
      "contact_email, language, account, domain, uid, webroot)" },
    { "missing columns", "customer_id,customer_name,contact_email,account\n",
      "test.csv: line 1: missing columns 'language', 'domain' (expected customer_id, "
      "customer_name, contact_email, language, account, domain, uid, webroot)" },
    { "misspelt column", "customer_id,name,contact_email,language,account,domain,Phone\n",
      "test.csv: line 1: missing column 'customer_name' (expected customer_id, customer_name, "
      "contact_email, language, account, domain, uid, webroot); not known: 'name', 'Phone'" },
    { "duplicate column", "customer_id,customer_name,contact_email,language,account,domain,"
                          "Account\n",
      "test.csv: line 1: column 'account' appears twice" },
    { "blank lines then bad", "\n\n  \ncustomer_id;customer_name\n",
      "test.csv: line 4: missing columns 'contact_email', 'language', 'account', 'domain' "
      "(expected customer_id, customer_name, contact_email, language, account, domain, uid, "
      "webroot)" },
    { "empty file", "",
      "test.csv: no header line (expected customer_id, customer_name, contact_email, "
      "language, account, domain, uid, webroot)" },
    { "only a BOM", "\xef\xbb\xbf\r\n",
      "test.csv: no header line (expected customer_id, customer_name, contact_email, "
      "language, account, domain, uid, webroot)" },
    { "quote in header", "customer_id,\"customer_name\"x\n",
      "test.csv: line 1, column 2: text after the closing quote (quote the whole field)" },
};

static void test_directory_header_errors(void **state)
{
    struct fx *f = *state;
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(header_cases); i++) {
        const struct header_case *t = &header_cases[i];
        struct run r;
        run_import(f->st, t->csv, strlen(t->csv), &r);
        bad += check_ll(t->name, "rc", r.rc, AD_ERR_PARSE);
        bad += check_ll(t->name, "err.code", r.err.code, AD_ERR_PARSE);
        bad += check_str(t->name, "err.msg", r.err.msg, t->want);
        bad += check_ll(t->name, "reports", r.bad->len, 0);
        bad += check_absent(f->st, t->name, "C1");
        run_free(&r);
    }
    /* A header alone is a valid, empty directory; column names ignore case. */
    static const char only[] = " Customer_ID ,CUSTOMER_NAME,contact_email,language,account,"
                               "domain,uid\n";
    struct run r;
    run_import(f->st, only, strlen(only), &r);
    bad += check_stats("header only", &r, 0, 0, 0, 0, 0, 0);
    run_free(&r);
    FAIL_IF_BAD(bad);
}

/* Limits and an unclosed quote fail the whole file: the good first row is gone too. */
struct limit_case {
    const char *name;
    char *csv;              /* built by the test */
    int want_rc;
    const char *want;
};

static char *long_row(const char *prefix, size_t n, char fill, size_t every, const char *suffix)
{
    GString *s = g_string_new("customer_id,customer_name,contact_email,language,account,domain\n"
                              "C1,One,a@one.example,en,a@one.example,one.example\n");
    g_string_append(s, prefix);
    for (size_t i = 0; i < n; i++)
        g_string_append_c(s, every && i % every == every - 1 ? '\n' : fill);
    g_string_append(s, suffix);
    return g_string_free(s, FALSE);
}

static void test_directory_limits(void **state)
{
    struct fx *f = *state;
    struct limit_case cases[] = {
        { "long line", long_row("C2,", 5000, 'x', 0, ",b@two.example,en,,\n"), AD_ERR_LIMIT,
          "test.csv: line 3: longer than 4096 bytes" },
        { "long field", long_row("C2,\"", 5000, 'x', 100, "\",b@two.example,en,,\n"),
          AD_ERR_LIMIT,
          "test.csv: line 3, column customer_name: quoted field longer than 4096 bytes (a "
          "quote that is never closed?)" },
        { "unclosed quote", long_row("C2,\"Two,b@two.example,en,,\n", 0, 'x', 0, ""),
          AD_ERR_PARSE,
          "test.csv: line 3, column customer_name: quoted field is not closed before the end "
          "of the file" },
    };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct limit_case *t = &cases[i];
        struct run r;
        run_import(f->st, t->csv, strlen(t->csv), &r);
        bad += check_ll(t->name, "rc", r.rc, t->want_rc);
        bad += check_str(t->name, "err.msg", r.err.msg, t->want);
        if (t->want_rc)
            bad += check_absent(f->st, t->name, "C1");
        run_free(&r);
        g_free(t->csv);
    }

    /* One row too many: 1,000,001 rows (refused ones count as rows). */
    GString *s = g_string_new("customer_id,customer_name,contact_email,language,account,domain\n"
                              "C1,One,a@one.example,en,a@one.example,one.example\n");
    for (size_t i = 1; i <= 1000000; i++)
        g_string_append(s, "x\n");
    struct directory_import_stats stats;
    struct ad_err err = { 0 };
    int rc = directory_import(f->st, "test.csv", s->str, s->len, &stats, NULL, NULL, &err);
    bad += check_ll("rows", "rc", rc, AD_ERR_LIMIT);
    bad += check_str("rows", "err.msg", err.msg,
                     "test.csv: line 1000002: more than 1000000 rows: split the file");
    bad += check_absent(f->st, "rows", "C1");
    g_string_free(s, TRUE);

    /* Exactly 1,000,000 rows are read. */
    s = g_string_new("customer_id,customer_name,contact_email,language,account,domain\n"
                     "C1,One,a@one.example,en,a@one.example,one.example\n");
    for (size_t i = 2; i <= 1000000; i++)
        g_string_append(s, "x\n");
    err = (struct ad_err){ 0 };
    rc = directory_import(f->st, "test.csv", s->str, s->len, &stats, NULL, NULL, &err);
    bad += check_ll("max rows", "rc", rc, 0);
    bad += check_ll("max rows", "n_rows", (long long)stats.n_rows, 1000000);
    bad += check_ll("max rows", "n_bad", (long long)stats.n_bad, 999999);
    bad += check_owner(f->st, "max rows", "account", "a@one.example", "C1");
    g_string_free(s, TRUE);

    /* A field of exactly 4096 bytes is fine (lines kept short by line breaks). */
    char *csv = long_row("C2,\"", 4096, 'x', 100, "\",b@two.example,en,,two.example\n");
    struct run r;
    run_import(f->st, csv, strlen(csv), &r);
    bad += check_stats("4096-byte field", &r, 2, 2, 1, 2, 0, 0);
    bad += check_owner(f->st, "4096-byte field", "domain", "two.example", "C2");
    run_free(&r);
    g_free(csv);
    FAIL_IF_BAD(bad);
}

/* With the caller's transaction open, the import joins it: a rollback (dry run)
 * keeps nothing, a commit keeps everything. */
static void test_directory_caller_transaction(void **state)
{
    struct fx *f = *state;
    struct ad_err err = { 0 };
    int bad = check_ll("dry run", "begin", store_begin(f->st, &err), 0);
    struct run r;
    run_import(f->st, good_csv, strlen(good_csv), &r);
    bad += check_stats("dry run", &r, 5, 3, 4, 4, 1, 0);
    run_free(&r);
    bad += check_owner(f->st, "dry run (inside)", "account", "alice@customer.example", "C1001");
    store_rollback(f->st);
    bad += check_absent(f->st, "dry run", "C1001");
    bad += check_owner(f->st, "dry run", "account", "alice@customer.example", NULL);

    bad += check_ll("commit", "begin", store_begin(f->st, &err), 0);
    run_import(f->st, good_csv, strlen(good_csv), &r);
    bad += check_stats("commit", &r, 5, 3, 4, 4, 1, 0);
    run_free(&r);
    bad += check_ll("commit", "commit", store_commit(f->st, &err), 0);
    bad += check_owner(f->st, "commit", "account", "alice@customer.example", "C1001");
    FAIL_IF_BAD(bad);
}

struct lookup_case {
    const char *kind, *key, *want;
};

static const struct lookup_case lookups[] = {
    { "domain", "example.com", "C1" },
    { "domain", "a.b.example.com", "C1" },
    { "domain", "MAIL.Example.COM.", "C1" },
    { "domain", "shop.example.com", "C2" },             /* the longer listed suffix wins */
    { "domain", "www.x.shop.example.com", "C2" },
    { "domain", "notexample.com", NULL },               /* label boundaries only */
    { "domain", "com", NULL },
    { "domain", "example.org", NULL },
    { "domain", "", NULL },
    { "domain", "bäckerei.example", "C3" },             /* stored as xn-- */
    { "domain", "www.BÄCKEREI.example", "C3" },
    { "domain", "xn--bckerei-5wa.example", "C3" },
    { "account", "Info@Example.COM", "C1" },
    { "account", "info@example.com", "C1" },
    { "account", "info@shop.example.com", NULL },       /* accounts match exactly */
    { "account", "WEB4711", "C2" },
    { "account", "", NULL },
    { "account", "post@xn--bckerei-5wa.example", "C3" },  /* IDN stored as xn-- */
    { "account", "POST@BÄCKEREI.EXAMPLE", "C3" },
    { "uid", "10023", "C2" },
    { "uid", "1002", NULL },
};

static void test_directory_lookups(void **state)
{
    struct fx *f = *state;
    static const char csv[] =
        "customer_id,customer_name,contact_email,language,account,domain,uid\n"
        "C1,One,a@one.example,en,INFO@EXAMPLE.COM,Example.com,\n"
        "C2,Two,b@two.example,en,Web4711,shop.example.com,10023\n"
        "C3,Drei,c@drei.example,de,Post@Bäckerei.example,Bäckerei.example,\n";
    struct run r;
    run_import(f->st, csv, strlen(csv), &r);
    int bad = check_stats("lookups", &r, 3, 3, 3, 3, 1, 0);
    run_free(&r);
    for (size_t i = 0; i < G_N_ELEMENTS(lookups); i++)
        bad += check_owner(f->st, "lookups", lookups[i].kind, lookups[i].key, lookups[i].want);
    bad += check_owner(f->st, "lookups", "account", NULL, NULL);
    bad += check_owner(f->st, "lookups", "domain", NULL, NULL);

    struct directory_customer c;
    struct ad_err err = { 0 };
    int rc = directory_customer_get(f->st, "C9", &c, &err);
    bad += check_ll("notfound", "rc", rc, AD_ERR_NOTFOUND);
    bad += check_str("notfound", "err.msg", err.msg, "customer 'C9' is not in the directory");
    bad += check_str("notfound", "id", c.id, NULL);
    directory_customer_clear(&c);
    directory_customer_clear(NULL);
    FAIL_IF_BAD(bad);
}

static int check_webroot(struct store *st, const char *row, const char *uid,
                         const char *want_root, const char *want_customer);

/* The example directory shipped for the demo imports cleanly and holds what
 * other tests rely on. */
static void test_directory_example_file(void **state)
{
    struct fx *f = *state;
    const char *src = g_getenv("AD_SOURCE_DIR");
    char *path = g_build_filename(src ? src : ".", "etc", "directory.example.csv", NULL);
    char *text = NULL;
    size_t len = 0;
    if (!g_file_get_contents(path, &text, &len, NULL)) {
        print_error("%s: missing (AD_SOURCE_DIR not set?)\n", path);
        g_free(path);
        fail();
    }
    struct run r;
    run_import(f->st, text, len, &r);
    int bad = check_ll("example", "rc", r.rc, 0);
    bad += check_ll("example", "n_bad", (long long)r.stats.n_bad, 0);
    for (guint i = 0; i < r.bad->len; i++)
        print_error("example: reported: %s\n", (const char *)r.bad->pdata[i]);
    bad += check_owner(f->st, "example", "account", "alice@customer.example", "C1001");
    bad += check_owner(f->st, "example", "domain", "customer.example", "C1001");
    bad += check_webroot(f->st, "example", "10023", "/var/www/vhosts/baeckerei-mueller.example",
                         "C1002");
    bad += check_webroot(f->st, "example", "10057", "/home/c1005", "C1005");
    run_free(&r);
    g_free(text);
    g_free(path);
    FAIL_IF_BAD(bad);
}

/* ---- web space roots --------------------------------------------------------- */

static int check_webroot(struct store *st, const char *row, const char *uid,
                         const char *want_root, const char *want_customer)
{
    char *root = NULL, *cust = NULL;
    struct ad_err err = { 0 };
    char field[96];
    snprintf(field, sizeof field, "webroot of uid %s", uid);
    int bad = check_ll(row, field, directory_uid_webroot(st, uid, &root, &cust, &err), 0);
    bad += check_str(row, field, root, want_root);
    snprintf(field, sizeof field, "customer of uid %s", uid);
    bad += check_str(row, field, cust, want_customer);
    g_free(root);
    g_free(cust);
    return bad;
}

static void test_directory_webroot(void **state)
{
    struct fx *f = *state;
    /* A final '/' is dropped; a uid listed again may add the root it lacked. */
    static const char csv[] =
        "customer_id,customer_name,contact_email,language,account,domain,uid,webroot\n"
        "C1,One,a@one.example,en,a@one.example,one.example,1001,/var/www/vhosts/one.example/\n"
        "C1,One,a@one.example,en,b@one.example,,1001,/var/www/vhosts/one.example\n"
        "C2,Two,b@two.example,en,,two.example,1002,\n"
        "C2,Two,b@two.example,en,,,1002,/home/c1002//\n"
        "C3,Three,c@three.example,en,,three.example,1003,\n"
        "C4,Vier,d@vier.example,de,,vier.example,1004,\"/srv/www/Bäckerei Müller\"\n";
    struct run r;
    run_import(f->st, csv, strlen(csv), &r);
    int bad = check_stats("webroot", &r, 6, 4, 2, 4, 4, 0);
    bad += check_ll("webroot", "n_webroots", (long long)r.stats.n_webroots, 3);
    run_free(&r);
    bad += check_webroot(f->st, "webroot", "1001", "/var/www/vhosts/one.example", "C1");
    bad += check_webroot(f->st, "webroot", "1002", "/home/c1002", "C2");
    bad += check_webroot(f->st, "webroot", "1003", NULL, "C3");
    bad += check_webroot(f->st, "webroot", "1004", "/srv/www/Bäckerei Müller", "C4");
    bad += check_webroot(f->st, "webroot", "9999", NULL, NULL);
    bad += check_webroot(f->st, "webroot", "", NULL, NULL);
    /* The uid is still an ordinary uid for the lookups and the listing. */
    bad += check_owner(f->st, "webroot", "uid", "1001", "C1");
    bad += check_owns(f->st, "webroot", "C2", "domain=two.example uid=1002");

    /* Re-import: a row without a root keeps the stored one while the uid stays
     * with its customer; a uid that moves loses it; a new root replaces it. */
    static const char again[] =
        "customer_id,customer_name,contact_email,language,account,domain,uid,webroot\n"
        "C1,One,a@one.example,en,a@one.example,one.example,1001,\n"
        "C3,Three,c@three.example,en,,,1002,\n"
        "C4,Vier,d@vier.example,de,,,1004,/srv/www/c1004\n";
    run_import(f->st, again, strlen(again), &r);
    bad += check_stats("again", &r, 3, 3, 1, 1, 3, 0);
    run_free(&r);
    bad += check_webroot(f->st, "again", "1001", "/var/www/vhosts/one.example", "C1");
    bad += check_webroot(f->st, "again", "1002", NULL, "C3");
    bad += check_webroot(f->st, "again", "1004", "/srv/www/c1004", "C4");

    /* A file without the column at all (older exports) changes no root. */
    static const char old[] =
        "customer_id,customer_name,contact_email,language,account,domain,uid\n"
        "C1,One,a@one.example,en,a@one.example,one.example,1001\n";
    run_import(f->st, old, strlen(old), &r);
    bad += check_stats("no column", &r, 1, 1, 1, 1, 1, 0);
    run_free(&r);
    bad += check_webroot(f->st, "no column", "1001", "/var/www/vhosts/one.example", "C1");
    FAIL_IF_BAD(bad);
}

/* Each case: the header, a good row on line 2 (uid 500 with a root), then the
 * row under test on line 3. */
static const struct bad_row_case webroot_bad_rows[] = {
    { "relative", "C2,Two,b@two.example,en,,two.example,501,var/www/two",
      "line 3, column webroot: 'var/www/two' is not a web space root (want an absolute path "
      "such as /var/www/example: not an absolute path)" },
    { "tilde", "C2,Two,b@two.example,en,,two.example,501,~two/www",
      "line 3, column webroot: '~two/www' is not a web space root (want an absolute path such "
      "as /var/www/example: not an absolute path)" },
    { "dot-dot", "C2,Two,b@two.example,en,,two.example,501,/var/www/../etc",
      "line 3, column webroot: '/var/www/../etc' is not a web space root (want an absolute path "
      "such as /var/www/example: has a '..' segment)" },
    { "dot", "C2,Two,b@two.example,en,,two.example,501,/var/www/./two",
      "line 3, column webroot: '/var/www/./two' is not a web space root (want an absolute path "
      "such as /var/www/example: has a '.' segment)" },
    { "double slash", "C2,Two,b@two.example,en,,two.example,501,/var//www/two",
      "line 3, column webroot: '/var//www/two' is not a web space root (want an absolute path "
      "such as /var/www/example: has an empty segment ('//' or a final '/'))" },
    { "root", "C2,Two,b@two.example,en,,two.example,501,/",
      "line 3, column webroot: '/' is not a web space root (want an absolute path such as "
      "/var/www/example: the root directory / is not a web space)" },
    { "only slashes", "C2,Two,b@two.example,en,,two.example,501,///",
      "line 3, column webroot: '/' is not a web space root (want an absolute path such as "
      "/var/www/example: the root directory / is not a web space)" },
    { "control character", "C2,Two,b@two.example,en,,two.example,501,/var/www/t\x01wo",
      "line 3, column webroot: control character in '/var/www/t?wo'" },
    { "no uid", "C2,Two,b@two.example,en,b@two.example,two.example,,/var/www/two",
      "line 3, column webroot: a web space root needs the uid of that web space in the same "
      "row" },
    { "another root for the uid", "C1,One,a@one.example,en,,,500,/var/www/other",
      "line 3, column webroot: uid 500 already has the web space root '/var/www/one' from "
      "line 2" },
};

static void test_directory_webroot_bad_rows(void **state)
{
    struct fx *f = *state;
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(webroot_bad_rows); i++) {
        const struct bad_row_case *t = &webroot_bad_rows[i];
        char *csv = g_strdup_printf(
            "customer_id,customer_name,contact_email,language,account,domain,uid,webroot\n"
            "C1,One,a@one.example,en,a@one.example,one.example,500,/var/www/one/\n"
            "%s\n",
            t->row);
        struct run r;
        run_import(f->st, csv, strlen(csv), &r);
        bad += check_stats(t->name, &r, 2, 1, 1, 1, 1, 1);
        if (r.bad->len == 1) {
            char *want = g_strdup_printf("3|%s", t->want);
            bad += check_str(t->name, "report", r.bad->pdata[0], want);
            g_free(want);
        }
        bad += check_absent(f->st, t->name, "C2");
        bad += check_webroot(f->st, t->name, "501", NULL, NULL);
        bad += check_webroot(f->st, t->name, "500", "/var/www/one", "C1");
        run_free(&r);
        g_free(csv);
    }
    /* A path of 1025 bytes is refused, 1024 are fine (in this order: the
     * refused row must leave nothing). */
    for (size_t len = 1025; len >= 1024; len--) {
        GString *p = g_string_new("/");
        while (p->len < len)
            g_string_append_c(p, p->len % 50 ? 'x' : '/');
        char *csv = g_strdup_printf(
            "customer_id,customer_name,contact_email,language,account,domain,uid,webroot\n"
            "C2,Two,b@two.example,en,,two.example,501,%s\n", p->str);
        struct run r;
        run_import(f->st, csv, strlen(csv), &r);
        bad += check_ll("long root", "n_bad", (long long)r.stats.n_bad, len > 1024);
        bad += check_webroot(f->st, "long root", "501", len > 1024 ? NULL : p->str,
                             len > 1024 ? NULL : "C2");
        run_free(&r);
        g_free(csv);
        g_string_free(p, TRUE);
    }
    FAIL_IF_BAD(bad);
}

struct path_case {
    const char *path;
    const char *problem;    /* substring, or NULL when clean */
};

static const struct path_case path_cases[] = {
    { "/var/www/a", NULL },
    { "contact.php", NULL },
    { "wp-content/plugins/x.php", NULL },
    { "/var/www/a/.htaccess", NULL },           /* a dot file is no '.' segment */
    { "/var/www/a/x..php", NULL },
    { "", "is empty" },
    { NULL, "is empty" },
    { "/", "empty segment" },
    { "/var/www/a/", "empty segment" },
    { "/var//www", "empty segment" },
    { "/var/www/./a", "'.' segment" },
    { "./x.php", "'.' segment" },
    { "/var/www/a/..", "'..' segment" },
    { "../x.php", "'..' segment" },
    { "/var/www/a\n/x.php", "control character" },
    { "/var/www/a\x7f", "control character" },
    { "/var/www/\xe4", "not valid UTF-8" },
};

struct under_case {
    const char *path, *root;
    bool under;
};

static const struct under_case under_cases[] = {
    { "/var/www/a/x.php", "/var/www/a", true },
    { "/var/www/a/b/c/x.php", "/var/www/a", true },
    { "/var/www/a-evil/x.php", "/var/www/a", false },   /* a prefix, not a segment */
    { "/var/www/ab", "/var/www/a", false },
    { "/var/www/a", "/var/www/a", false },              /* the root is no script in it */
    { "/var/www/x.php", "/var/www/a", false },
    { "/var/www/a/../b/x.php", "/var/www/a", false },
    { "/var/www/a/./x.php", "/var/www/a", false },
    { "/var/www/a//x.php", "/var/www/a", false },
    { "/var/www/a/x.php", "/var/www/a/", false },       /* roots are stored without '/' */
    { "x.php", "/var/www/a", false },                   /* relative: not comparable */
    { "/var/www/a/x.php", "var/www/a", false },
    { "/VAR/www/a/x.php", "/var/www/a", false },        /* exact bytes */
    { NULL, "/var/www/a", false },
    { "/var/www/a/x.php", NULL, false },
};

static void test_directory_paths(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(path_cases); i++) {
        const struct path_case *t = &path_cases[i];
        const char *got = directory_path_problem(t->path);
        char row[96];
        snprintf(row, sizeof row, "path_problem(%s)", t->path ? t->path : "NULL");
        if (!t->problem)
            bad += check_str(row, "problem", got, NULL);
        else if (!got || !strstr(got, t->problem))
            bad += check_str(row, "problem", got, t->problem);
    }
    GString *p = g_string_new("/x");
    while (p->len < 1025)
        g_string_append(p, "/y");
    g_string_truncate(p, 1025);
    bad += check_str("1025 bytes", "problem", directory_path_problem(p->str),
                     "is longer than 1024 bytes");
    g_string_truncate(p, 1024);
    bad += check_str("1024 bytes", "problem", directory_path_problem(p->str), NULL);
    g_string_free(p, TRUE);
    for (size_t i = 0; i < G_N_ELEMENTS(under_cases); i++) {
        const struct under_case *t = &under_cases[i];
        char row[128];
        snprintf(row, sizeof row, "path_under(%s, %s)", t->path ? t->path : "NULL",
                 t->root ? t->root : "NULL");
        bad += check_ll(row, "under", directory_path_under(t->path, t->root), t->under);
    }
    FAIL_IF_BAD(bad);
}

/* ---- contact addresses --------------------------------------------------------- */

static void test_directory_set_contact(void **state)
{
    struct fx *f = *state;
    struct run r;
    run_import(f->st, good_csv, strlen(good_csv), &r);
    int bad = check_stats("set-contact", &r, 5, 3, 4, 4, 1, 0);
    run_free(&r);

    struct ad_err err = { 0 };
    char *old = NULL;
    /* Checked and stored like the import's column: trimmed, lower-cased, xn--. */
    int rc = directory_set_contact(f->st, "C1001", "  Security@Bäckerei.Example ", &old, &err);
    bad += check_ll("ok", "rc", rc, 0);
    bad += check_str("ok", "old", old, "abuse@customer.example");
    g_free(old);
    bad += check_customer(f->st, "ok", "C1001", "Example Customer",
                          "security@xn--bckerei-5wa.example", "en");

    static const struct {
        const char *name, *id, *address;
        int rc;
        const char *msg;
    } fails[] = {
        { "no at", "C1001", "postmaster", AD_ERR_PARSE,
          "contact address: 'postmaster' is not a mail address (want local@domain.tld)" },
        { "display name", "C1001", "Bob <b@two.example>", AD_ERR_PARSE,
          "contact address: 'bob <b@two.example>' is not a mail address (want local@domain.tld)" },
        { "no dot", "C1001", "root@localhost", AD_ERR_PARSE,
          "contact address: 'root@localhost' is not a mail address (want local@domain.tld)" },
        { "empty", "C1001", "  ", AD_ERR_PARSE,
          "contact address: missing (the address notices go to)" },
        { "control character", "C1001", "a\x01@b.example", AD_ERR_PARSE,
          "contact address: control character in 'a?@b.example'" },
        { "unknown customer", "C9999", "ok@fine.example", AD_ERR_NOTFOUND,
          "customer C9999 is not in the directory" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(fails); i++) {
        err = (struct ad_err){ 0 };
        old = (char *)"sentinel";
        rc = directory_set_contact(f->st, fails[i].id, fails[i].address, &old, &err);
        bad += check_ll(fails[i].name, "rc", rc, fails[i].rc);
        bad += check_str(fails[i].name, "err.msg", err.msg, fails[i].msg);
        bad += check_str(fails[i].name, "old", old, NULL);
    }
    /* Nothing of the failures was stored. */
    bad += check_customer(f->st, "after failures", "C1001", "Example Customer",
                          "security@xn--bckerei-5wa.example", "en");
    bad += check_absent(f->st, "after failures", "C9999");

    /* Inside the caller's transaction (an audit entry goes with it): joined. */
    bad += check_ll("in tx", "begin", store_begin(f->st, &err), 0);
    rc = directory_set_contact(f->st, "C2002", "office@baeckerei-mueller.example", &old, &err);
    bad += check_ll("in tx", "rc", rc, 0);
    bad += check_str("in tx", "old", old, "info@baeckerei-mueller.example");
    g_free(old);
    store_rollback(f->st);
    bad += check_customer(f->st, "rolled back", "C2002", "Bäckerei Müller",
                          "info@baeckerei-mueller.example", "de");
    FAIL_IF_BAD(bad);
}

/* Collects the warnings. */
static void collect_warn(const char *msg, void *ctx)
{
    g_ptr_array_add(((struct run *)ctx)->bad, g_strdup_printf("warning|%s", msg));
}

static void collect_bad(size_t line, const char *msg, void *ctx)
{
    collect(line, msg, ((struct run *)ctx)->bad);
}

static void test_directory_contact_warning(void **state)
{
    struct fx *f = *state;
    /* C1005's contact is one of its own mailboxes (the account comes after the
     * contact was set); C1's contact is another customer's mailbox, C2's is in
     * its own domain but no account, C3's is its own only by case. */
    static const char csv[] =
        "customer_id,customer_name,contact_email,language,account,domain\n"
        "C1005,Fjord,Info@Fjord.example,en,bookings@fjord.example,fjord.example\n"
        "C1,One,b@two.example,en,a@one.example,one.example\n"
        "C2,Two,admin@two.example,en,b@two.example,two.example\n"
        "C1005,Fjord,info@fjord.example,en,INFO@fjord.example,\n"
        "C3,Three,c@three.example,en,C@Three.Example,\n";
    struct run r;
    memset(&r, 0, sizeof r);
    r.bad = g_ptr_array_new_with_free_func(g_free);
    r.rc = directory_import_warn(f->st, "test.csv", csv, strlen(csv), &r.stats, collect_bad,
                                 collect_warn, &r, &r.err);
    int bad = check_ll("warning", "rc", r.rc, 0);
    bad += check_ll("warning", "n_bad", (long long)r.stats.n_bad, 0);
    bad += check_ll("warning", "n_warnings", (long long)r.stats.n_warnings, 2);
    const char *want[] = {
        "warning|customer C1005: the contact address info@fjord.example is one of its own "
        "mailboxes; a lock notice cannot reach it there (set another with abusedesk directory "
        "set-contact)",
        "warning|customer C3: the contact address c@three.example is one of its own mailboxes; "
        "a lock notice cannot reach it there (set another with abusedesk directory set-contact)",
    };
    bad += check_ll("warning", "reports", r.bad->len, G_N_ELEMENTS(want));
    for (guint i = 0; i < r.bad->len && i < G_N_ELEMENTS(want); i++)
        bad += check_str("warning", "report", r.bad->pdata[i], want[i]);
    run_free(&r);
    /* The import went through. */
    bad += check_customer(f->st, "warning", "C1005", "Fjord", "info@fjord.example", "en");
    bad += check_owner(f->st, "warning", "account", "info@fjord.example", "C1005");

    char *own = NULL;
    struct ad_err err = { 0 };
    bad += check_ll("own", "rc", directory_contact_own_account(f->st, "C1005", &own, &err), 0);
    bad += check_str("own", "C1005", own, "info@fjord.example");
    g_free(own);
    bad += check_ll("own", "rc", directory_contact_own_account(f->st, "C1", &own, &err), 0);
    bad += check_str("own", "C1", own, NULL);
    bad += check_ll("own", "rc", directory_contact_own_account(f->st, "C9", &own, &err), 0);
    bad += check_str("own", "C9", own, NULL);

    /* Fixed with set-contact: no warning on the next import of other rows. */
    char *old = NULL;
    bad += check_ll("fix", "rc", directory_set_contact(f->st, "C1005", "it@fjord-it.example", &old,
                                                       &err), 0);
    g_free(old);
    bad += check_ll("fix", "rc", directory_contact_own_account(f->st, "C1005", &own, &err), 0);
    bad += check_str("fix", "C1005", own, NULL);

    /* The plain import counts the warning too, and a dry run reports it the same. */
    bad += check_ll("dry run", "begin", store_begin(f->st, &err), 0);
    run_import(f->st, csv, strlen(csv), &r);
    bad += check_ll("dry run", "n_warnings", (long long)r.stats.n_warnings, 2);
    bad += check_ll("dry run", "reports", r.bad->len, 0);
    run_free(&r);
    store_rollback(f->st);
    FAIL_IF_BAD(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_directory_import_good, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_directory_reimport, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_directory_quoted, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_directory_crlf_bom, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_directory_bad_rows, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_directory_partial, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_directory_header_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_directory_limits, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_directory_caller_transaction, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_directory_lookups, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_directory_example_file, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_directory_webroot, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_directory_webroot_bad_rows, fx_setup, fx_teardown),
        cmocka_unit_test(test_directory_paths),
        cmocka_unit_test_setup_teardown(test_directory_set_contact, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_directory_contact_warning, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

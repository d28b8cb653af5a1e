/*
 * authres_test.c: table-driven unit tests for authres.c: the RFC 8601 value
 * parser (real-world shapes from Gmail, OpenDKIM, Microsoft and legacy
 * DomainKeys writers, quoted values, nested comments, versions, "none", missing
 * ids, bounds), the trust-zone walk over a header block (our A-R above our MX's
 * Received, forged ones below it, foreign ids, internal hops, CRLF, truncated
 * blocks, 1 MB of junk) and authres_has_pass(). Every header was written for
 * this test. A failure names the row and prints "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trust/authres.h"

static int check_str(const char *row, const char *field, const char *got, const char *want)
{
    if (strcmp(got, want) == 0)
        return 0;
    print_error("%s: %s:\n  got  \"%s\"\n  want \"%s\"\n", row, field, got, want);
    return 1;
}

static int check_size(const char *row, const char *field, size_t got, size_t want)
{
    if (got == want)
        return 0;
    print_error("%s: %s: got %zu, want %zu\n", row, field, got, want);
    return 1;
}

/* ---- authres_parse() ---- */

/* Collects callbacks as "method|result|property|value" lines ("-" for NULL). */
struct calls {
    char buf[8192];
    size_t n;
    size_t n_calls;
};

static void collect(const char *method, const char *result, const char *property,
                    const char *value, void *ctx)
{
    struct calls *c = ctx;
    assert_non_null(method);
    assert_non_null(result);
    assert_true((property == NULL) == (value == NULL));
    int w = snprintf(c->buf + c->n, sizeof(c->buf) - c->n, "%s|%s|%s|%s\n", method, result,
                     property ? property : "-", value ? value : "-");
    if (w > 0 && (size_t)w < sizeof(c->buf) - c->n)
        c->n += (size_t)w;
    c->n_calls++;
}

struct parse_case {
    const char *name;
    const char *value;
    bool ok;
    const char *id;
    const char *calls; /* expected lines, "" for none */
};

static const struct parse_case parse_cases[] = {
    {"gmail",
     "mx.google.com;\r\n       dkim=pass header.i=@arf.mail.yahoo.com header.s=arf "
     "header.b=abc;\r\n       spf=pass (google.com: domain of feedback@arf.mail.yahoo.com "
     "designates 98.137.64.1 as permitted sender) smtp.mailfrom=feedback@arf.mail.yahoo.com;"
     "\r\n       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=yahoo.com",
     true, "mx.google.com",
     "dkim|pass|header.i|@arf.mail.yahoo.com\n"
     "dkim|pass|header.s|arf\n"
     "dkim|pass|header.b|abc\n"
     "spf|pass|smtp.mailfrom|feedback@arf.mail.yahoo.com\n"
     "dmarc|pass|header.from|yahoo.com\n"},
    {"opendkim, ';' inside a comment",
     "mx.hoster.example; dkim=pass (2048-bit key; unprotected) header.d=senderscore.net "
     "header.i=@senderscore.net header.b=\"Ab+/cD\"",
     true, "mx.hoster.example",
     "dkim|pass|header.d|senderscore.net\n"
     "dkim|pass|header.i|@senderscore.net\n"
     "dkim|pass|header.b|Ab+/cD\n"},
    {"quoted values with escapes, reason skipped",
     "mx.example; dkim=pass reason=\"signature ok; really\" header.d=\"ex\\\"am ple.com\" "
     "header.b=\"a=b\"",
     true, "mx.example",
     "dkim|pass|header.d|ex\"am ple.com\n"
     "dkim|pass|header.b|a=b\n"},
    {"nested comments with escapes everywhere",
     "mx.example (a (b (c) \\) d) e) ; spf=pass (x (y) z) smtp.mailfrom=(c)a@b.example(c "
     "(d))",
     true, "mx.example", "spf|pass|smtp.mailfrom|a@b.example\n"},
    {"version and none", "mx.example 1 none", true, "mx.example", ""},
    {"none after ';'", "mx.example; none", true, "mx.example", ""},
    {"version then result", "host.example 1; spf=pass smtp.mailfrom=a.example", true,
     "host.example", "spf|pass|smtp.mailfrom|a.example\n"},
    {"method version", "mx.example; dkim/1=pass header.d=a.example", true, "mx.example",
     "dkim|pass|header.d|a.example\n"},
    {"method version with blanks", "mx.example; dkim / 1 = pass header.d = a.example", true,
     "mx.example", "dkim|pass|header.d|a.example\n"},
    {"legacy domainkeys form",
     "host.example.com  from=example.com; domainkeys=neutral (no sig)", true,
     "host.example.com", "domainkeys|neutral|-|-\n"},
    {"missing id", "dmarc=fail (p=reject dis=none) header.from=example.com", false, "", ""},
    {"missing id, blanks around '='", "dkim = pass header.d=a.example", false, "", ""},
    {"missing id, method version", "dkim/1=pass header.d=a.example", false, "", ""},
    {"missing id, microsoft style",
     "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=a.example; dkim=none (message not "
     "signed) header.d=none;dmarc=none action=none header.from=a.example;compauth=pass "
     "reason=100",
     false, "", ""},
    {"microsoft style with id",
     "mx.example; dkim=none (message not signed) header.d=none;dmarc=none action=none "
     "header.from=a.example;compauth=pass reason=100",
     true, "mx.example",
     "dkim|none|header.d|none\n"
     "dmarc|none|header.from|a.example\n"
     "compauth|pass|-|-\n"},
    {"empty quoted id", "\"\" ; spf=pass smtp.helo=a.example", false, "", ""},
    {"only ';'", "; spf=pass smtp.helo=a.example", false, "", ""},
    {"empty", "", false, "", ""},
    {"only a comment", " (mx.example) ", false, "", ""},
    {"case folded, value as written", "MX.Example.ORG; DKIM=Pass Header.D=Example.COM", true,
     "mx.example.org", "dkim|pass|header.d|Example.COM\n"},
    {"results without properties", "mx.example; spf=none; dkim=none (no signatures)", true,
     "mx.example", "spf|none|-|-\ndkim|none|-|-\n"},
    {"empty mailfrom before helo",
     "mx.example; spf=pass smtp.mailfrom= smtp.helo=mail.a.example", true, "mx.example",
     "spf|pass|smtp.mailfrom|\nspf|pass|smtp.helo|mail.a.example\n"},
    {"empty value at the end", "mx.example; spf=pass smtp.mailfrom=;dkim=none", true,
     "mx.example", "spf|pass|smtp.mailfrom|\ndkim|none|-|-\n"},
    {"folded with LF and tabs", "mx.example;\n\tdkim=pass\n header.d=a.example", true,
     "mx.example", "dkim|pass|header.d|a.example\n"},
    {"empty resinfos", "mx.example; ; spf=pass smtp.helo=h.example;", true, "mx.example",
     "spf|pass|smtp.helo|h.example\n"},
    {"unterminated comment", "mx.example; spf=pass (oops smtp.mailfrom=a.example", true,
     "mx.example", "spf|pass|-|-\n"},
    {"unterminated quoted value", "mx.example; dkim=pass header.b=\"abc; def", true,
     "mx.example", "dkim|pass|header.b|abc; def\n"},
    {"quoted id", "\"mx.example\"; spf=fail smtp.mailfrom=a@b.example", true, "mx.example",
     "spf|fail|smtp.mailfrom|a@b.example\n"},
    {"junk words between properties",
     "mx.example; dkim=pass junk \"stray\" = header.d=a.example", true, "mx.example",
     "dkim|pass|header.d|a.example\n"},
    {"method without result", "mx.example; dkim; spf= ; dmarc=pass header.from=a.example",
     true, "mx.example", "dmarc|pass|header.from|a.example\n"},
    {"policy ptype", "mx.example; iprev=pass policy.iprev=192.0.2.1 (mail.a.example)", true,
     "mx.example", "iprev|pass|policy.iprev|192.0.2.1\n"},
};

static void test_parse_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *c = &parse_cases[i];
        struct calls got = { .n = 0 };
        char id[256];
        memset(id, 'x', sizeof(id));
        id[sizeof(id) - 1] = '\0';
        bool ok = authres_parse(c->value, strlen(c->value), id, sizeof(id), collect, &got);
        if (ok != c->ok) {
            print_error("%s: ok: got %d, want %d\n", c->name, ok, c->ok);
            bad++;
        }
        bad += check_str(c->name, "id", id, c->id);
        bad += check_str(c->name, "calls", got.buf, c->calls);
    }
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

/* len is obeyed: the buffer is not NUL-terminated (ASan catches a read past it). */
static void test_parse_obeys_len(void **state)
{
    (void)state;
    int bad = 0;
    const char *text = "mx.example; spf=pass smtp.mailfrom=a.example; dkim=pass header.d=b";
    size_t cut = strlen("mx.example; spf=pass smtp.mailfrom=a.exa");
    char *buf = malloc(cut);
    assert_non_null(buf);
    memcpy(buf, text, cut);
    struct calls got = { .n = 0 };
    char id[64];
    assert_true(authres_parse(buf, cut, id, sizeof(id), collect, &got));
    bad += check_str("cut", "calls", got.buf, "spf|pass|smtp.mailfrom|a.exa\n");

    struct calls none = { .n = 0 };
    assert_false(authres_parse(buf, 0, id, sizeof(id), collect, &none));
    bad += check_str("len 0", "id", id, "");
    bad += check_size("len 0", "calls", none.n_calls, 0);
    assert_false(authres_parse(NULL, 10, id, sizeof(id), collect, &none));
    free(buf);
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

static void test_parse_bounds(void **state)
{
    (void)state;
    int bad = 0;
    char id[256];

    /* At most 64 results. */
    char *many = malloc(100 * 16 + 32);
    assert_non_null(many);
    size_t n = (size_t)sprintf(many, "mx.example");
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(many + n, "; spf=none");
    struct calls got = { .n = 0 };
    assert_true(authres_parse(many, n, id, sizeof(id), collect, &got));
    bad += check_size("100 results", "calls", got.n_calls, 64);
    free(many);

    /* Input beyond 16 KiB is not looked at. */
    size_t pad = 20000;
    char *far = malloc(pad + 128);
    assert_non_null(far);
    n = (size_t)sprintf(far, "mx.example; spf=pass smtp.helo=a.example;");
    memset(far + n, ' ', pad);
    n += pad;
    n += (size_t)sprintf(far + n, "dkim=pass header.d=b.example");
    struct calls got2 = { .n = 0 };
    assert_true(authres_parse(far, n, id, sizeof(id), collect, &got2));
    bad += check_str("beyond 16 KiB", "calls", got2.buf, "spf|pass|smtp.helo|a.example\n");
    free(far);

    /* A long value is cut, the rest of it consumed: the next property still comes. */
    size_t vlen = 5000;
    char *lv = malloc(vlen + 128);
    assert_non_null(lv);
    n = (size_t)sprintf(lv, "mx.example; dkim=pass header.b=");
    memset(lv + n, 'A', vlen);
    n += vlen;
    n += (size_t)sprintf(lv + n, " header.d=c.example");
    struct calls got3 = { .n = 0 };
    assert_true(authres_parse(lv, n, id, sizeof(id), collect, &got3));
    bad += check_size("long value", "calls", got3.n_calls, 2);
    const char *b = strstr(got3.buf, "header.b|");
    assert_non_null(b);
    size_t alen = strspn(b + strlen("header.b|"), "A");
    if (alen == 0 || alen >= vlen) {
        print_error("long value: got %zu A's, want a truncated run\n", alen);
        bad++;
    }
    if (strstr(got3.buf, "dkim|pass|header.d|c.example\n") == NULL) {
        print_error("long value: got %s, want header.d after it\n", got3.buf);
        bad++;
    }
    free(lv);

    /* A small id buffer truncates, the result still reports an id. */
    char small[8];
    struct calls got4 = { .n = 0 };
    const char *v = "mx.very-long.example; spf=fail";
    assert_true(authres_parse(v, strlen(v), small, sizeof(small), collect, &got4));
    bad += check_str("small id buffer", "id", small, "mx.very");
    bad += check_str("small id buffer", "calls", got4.buf, "spf|fail|-|-\n");
    assert_true(authres_parse(v, strlen(v), NULL, 0, NULL, NULL));
    const char *no_id = "a-long-method-name-that-does-not-fit=pass";
    assert_false(authres_parse(no_id, strlen(no_id), small, sizeof(small), NULL, NULL));
    bad += check_str("small id buffer, no id", "id", small, "");

    /* A million opening parentheses: bounded, no recursion. */
    size_t deep = 1000000;
    char *d = malloc(deep + 16);
    assert_non_null(d);
    n = (size_t)sprintf(d, "mx.example; ");
    memset(d + n, '(', deep);
    n += deep;
    struct calls got5 = { .n = 0 };
    assert_true(authres_parse(d, n, id, sizeof(id), collect, &got5));
    bad += check_size("deep comment", "calls", got5.n_calls, 0);
    free(d);

    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

/* ---- authres_trusted() ---- */

struct ours {
    const char *suffix;  /* our hosts end with it */
    bool saw_upper;      /* a host name was handed over with upper case */
};

static bool is_ours(const char *h, void *ctx)
{
    struct ours *o = ctx;
    for (const char *p = h; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            o->saw_upper = true;
    if (h[0] == '[') /* an address literal: 10.0.0.0/8 and loopback are ours here */
        return strncmp(h, "[10.", 4) == 0 || strncmp(h, "[127.", 5) == 0;
    size_t hl = strlen(h), sl = strlen(o->suffix);
    return hl > sl && strcmp(h + hl - sl, o->suffix) == 0;
}

/* "method:domain,..." of a set, in order. */
static void passes_str(const struct authres_set *s, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->n_passes && n < size; i++) {
        int w = snprintf(buf + n, size - n, "%s%s:%s", i ? "," : "", s->passes[i].method,
                         s->passes[i].domain);
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

#define OUR_RCVD(from_host) \
    "Received: from " from_host " (" from_host " [192.0.2.1])\n" \
    "\tby mx1.hoster.example (Postfix) with ESMTPS id 4AbC; Mon, 1 Jan 2024 10:00:00 +0000\n"

struct trust_case {
    const char *name;
    const char *head;
    size_t trusted, ignored, fails;
    const char *id;
    const char *passes;
};

static const struct trust_case trust_cases[] = {
    {"our A-R above our MX's Received is trusted, everything below is not",
     "Authentication-Results: mx.hoster.example; dkim=pass header.d=sender.example;\n"
     "\tspf=pass smtp.mailfrom=bounce@Mail.Sender.Example; dmarc=pass header.from=sender.example\n"
     OUR_RCVD("mail.sender.example")
     "Authentication-Results: mx.hoster.example; dkim=pass header.d=forged.example\n"
     "Received: from pc.sender.example by mail.sender.example; Mon, 1 Jan 2024 09:59:00 +0000\n"
     "Subject: report\n"
     "\n"
     "Authentication-Results: mx.hoster.example; dkim=pass header.d=body.example\n",
     1, 1, 0, "mx.hoster.example",
     "dkim:sender.example,spf:mail.sender.example,dmarc:sender.example"},
    {"our A-R below our Received from a foreign host is forged",
     OUR_RCVD("mail.sender.example")
     "Authentication-Results: mx.hoster.example; dkim=pass header.d=forged.example\n",
     0, 1, 0, "", ""},
    {"foreign id at the top is ignored silently",
     "Authentication-Results: mx.google.com; dkim=pass header.d=a.example\n"
     OUR_RCVD("mail.sender.example"),
     0, 0, 0, "", ""},
    {"our id below a foreign Received at the top is forged",
     "Received: from a.example by relay.other.example; Mon, 1 Jan 2024 10:00:00 +0000\n"
     "Authentication-Results: mx.hoster.example; spf=pass smtp.mailfrom=a.example\n",
     0, 1, 0, "", ""},
    {"internal hop MX -> desk, A-R between them is trusted",
     "Received: from mx1.hoster.example (mx1.hoster.example [10.0.0.1])\n"
     "\tby desk.hoster.example (Postfix) with LMTP id X1; Mon, 1 Jan 2024 10:00:01 +0000\n"
     "Authentication-Results: mx.hoster.example; spf=pass smtp.mailfrom=a@b.example\n"
     OUR_RCVD("mail.b.example")
     "Authentication-Results: mx.hoster.example; dkim=pass header.d=forged.example\n",
     1, 1, 0, "mx.hoster.example", "spf:b.example"},
    {"no Received at all: the A-R at the top is trusted",
     "Authentication-Results: mx.hoster.example; dmarc=pass header.from=a.example\n"
     "Subject: x\n",
     1, 0, 0, "mx.hoster.example", "dmarc:a.example"},
    {"CRLF and folding, upper case, trailing dot",
     "Authentication-Results: mx.hoster.example;\r\n\tdkim=pass\r\n header.d=Sender.Example.\r\n"
     "Received: from mail.sender.example (mail.sender.example [192.0.2.1])\r\n"
     "\tby MX1.Hoster.Example. (Postfix) with ESMTPS id 4AbC; Mon, 1 Jan 2024 10:00:00 +0000\r\n"
     "Authentication-Results: mx.hoster.example; dkim=pass header.d=forged.example\r\n"
     "\r\n",
     1, 1, 0, "mx.hoster.example", "dkim:sender.example"},
    {"header names are case-insensitive, blanks before ':'",
     "authentication-RESULTS : MX.HOSTER.EXAMPLE; dkim=pass header.d=a.example\n"
     "RECEIVED: from x.example by mx1.hoster.example; Mon, 1 Jan 2024 10:00:00 +0000\n"
     "AUTHENTICATION-RESULTS: mx.hoster.example; dkim=pass header.d=b.example\n",
     1, 1, 0, "mx.hoster.example", "dkim:a.example"},
    {"line without colon skipped, ARC and X- copies ignored",
     "this line has no colon\n"
     "ARC-Authentication-Results: i=1; mx.hoster.example; dkim=pass header.d=arc.example\n"
     "X-Original-Authentication-Results: mx.hoster.example; dkim=pass header.d=x.example\n"
     "Authentication-Results: mx.hoster.example; dkim=pass header.d=a.example\n",
     1, 0, 0, "mx.hoster.example", "dkim:a.example"},
    {"dkim domain from header.i, spf helo when mailfrom is null, dedupe",
     "Authentication-Results: mx.hoster.example; dkim=pass header.i=user@Sub.A.example;\n"
     " dkim=pass header.d=a.example header.i=@other.example; dkim=pass header.d=A.example;\n"
     " spf=pass smtp.mailfrom=<> smtp.helo=mail.c.example\n"
     "Authentication-Results: mx.hoster.example; dkim=pass header.d=a.example;\n"
     " spf=pass smtp.mailfrom=\"\" smtp.helo=mail.c.example\n",
     2, 0, 0, "mx.hoster.example", "dkim:sub.a.example,dkim:a.example,spf:mail.c.example"},
    {"unusable domains give no pass",
     "Authentication-Results: mx.hoster.example; dkim=pass header.d=a/b.example;\n"
     " dkim=pass header.s=sel; spf=pass smtp.mailfrom=user@; dmarc=pass header.from=..x;\n"
     " dmarc=pass\n",
     1, 0, 0, "mx.hoster.example", ""},
    {"fail counting",
     "Authentication-Results: mx.hoster.example; dkim=fail header.d=a.example;\n"
     " dkim=pass header.d=b.example; spf=softfail smtp.mailfrom=c.example;\n"
     " dmarc=none header.from=a.example; arc=fail; iprev=fail policy.iprev=192.0.2.1;\n"
     " spf=TempError; dkim=neutral; dmarc=permerror; spf=policy\n"
     "Authentication-Results: mx.google.com; dkim=fail header.d=g.example\n"
     OUR_RCVD("mail.a.example")
     "Authentication-Results: mx.hoster.example; dkim=fail header.d=forged.example\n",
     1, 1, 7, "mx.hoster.example", "dkim:b.example"},
    {"Received without a by-host ends the zone before it",
     "Received: (qmail 123 invoked from network); Mon, 1 Jan 2024 10:00:00 +0000\n"
     "Authentication-Results: mx.hoster.example; dkim=pass header.d=a.example\n",
     0, 1, 0, "", ""},
    {"'by' inside a comment does not count",
     "Received: from a.example (helo by mx1.hoster.example)\n"
     "\tby relay.evil.example; Mon, 1 Jan 2024 10:00:00 +0000\n"
     "Authentication-Results: mx.hoster.example; dkim=pass header.d=a.example\n",
     0, 1, 0, "", ""},
    {"an id is one of our hosts too (by-host and from-host)",
     "Received: from auth.hoster.internal ([10.0.0.9]) by AUTH.hoster.internal; Mon, 1 Jan 2024 10:00:00 +0000\n"
     "Authentication-Results: auth.hoster.internal; spf=pass smtp.mailfrom=a.example\n"
     "Received: from mail.a.example by auth.hoster.internal; Mon, 1 Jan 2024 10:00:00 +0000\n"
     "Authentication-Results: auth.hoster.internal; spf=pass smtp.mailfrom=forged.example\n",
     1, 1, 0, "auth.hoster.internal", "spf:a.example"},
    {"a from-host named 'by'",
     "Received: from by (by [192.0.2.7]) by mx1.hoster.example; Mon, 1 Jan 2024 10:00:00 +0000\n"
     "Authentication-Results: mx.hoster.example; spf=pass smtp.mailfrom=a.example\n",
     0, 1, 0, "", ""},
    {"a locally made hop without from: is_ours(\"\") decides (here: foreign)",
     "Authentication-Results: mx.hoster.example; spf=pass smtp.mailfrom=a.example\n"
     "Received: by mx1.hoster.example (Postfix, from userid 1000) id 77AA; Mon, 1 Jan 2024\n"
     "Authentication-Results: mx.hoster.example; spf=pass smtp.mailfrom=b.example\n",
     1, 1, 0, "mx.hoster.example", "spf:a.example"},
    {"a foreign client's HELO naming our host does not make an internal hop",
     "Received: from mx1.hoster.example (unknown [192.0.2.66])\n"
     "\tby mx.hoster.example (Postfix) with ESMTP id F1; Mon, 1 Jan 2024 10:00:00 +0000\n"
     "Authentication-Results: mx.hoster.example; dkim=pass header.d=forged.example\n",
     0, 1, 0, "", ""},
    {"a HELO address literal of ours next to the real foreign address",
     "Received: from [10.0.0.1] (unknown [192.0.2.66])\n"
     "\tby mx.hoster.example (Postfix) with ESMTP id F2; Mon, 1 Jan 2024 10:00:00 +0000\n"
     "Authentication-Results: mx.hoster.example; dkim=pass header.d=forged.example\n",
     0, 1, 0, "", ""},
    {"a local hop from loopback (MX -> desk over LMTP) is internal",
     "Received: from mx.hoster.example (localhost [127.0.0.1])\n"
     "\tby desk.hoster.example (Postfix) with LMTP id L1; Mon, 1 Jan 2024 10:00:01 +0000\n"
     "Authentication-Results: mx.hoster.example; dkim=pass header.d=good.example\n"
     OUR_RCVD("mail.good.example")
     "Authentication-Results: mx.hoster.example; dkim=pass header.d=forged.example\n",
     1, 1, 0, "mx.hoster.example", "dkim:good.example"},
    {"A-R without an id is skipped",
     "Authentication-Results: dkim=pass header.d=a.example\n"
     "Authentication-Results: mx.hoster.example; dkim=pass header.d=b.example\n",
     1, 0, 0, "mx.hoster.example", "dkim:b.example"},
    {"empty block", "", 0, 0, 0, "", ""},
    {"starts with the empty line",
     "\r\nAuthentication-Results: mx.hoster.example; dkim=pass header.d=b.example\n", 0, 0, 0,
     "", ""},
};

static const char *const our_ids[] = { "mx.hoster.example", "Auth.Hoster.Internal", NULL };

static int check_set(const char *row, const struct authres_set *s, size_t trusted,
                     size_t ignored, size_t fails, const char *id, const char *passes)
{
    int bad = 0;
    char got[4096];
    bad += check_size(row, "n_trusted_headers", s->n_trusted_headers, trusted);
    bad += check_size(row, "n_ignored", s->n_ignored, ignored);
    bad += check_size(row, "n_fails", s->n_fails, fails);
    bad += check_str(row, "authserv_id", s->authserv_id, id);
    passes_str(s, got, sizeof(got));
    bad += check_str(row, "passes", got, passes);
    return bad;
}

static void test_trusted_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(trust_cases) / sizeof(trust_cases[0]); i++) {
        const struct trust_case *c = &trust_cases[i];
        struct ours o = { ".hoster.example", false };
        /* An exact-size copy, not NUL-terminated: ASan sees any read past head_len. */
        size_t len = strlen(c->head);
        char *head = malloc(len ? len : 1);
        assert_non_null(head);
        memcpy(head, c->head, len);
        struct authres_set s;
        memset(&s, 0xa5, sizeof(s)); /* out is zeroed by the callee */
        authres_trusted(head, len, our_ids, is_ours, &o, &s);
        bad += check_set(c->name, &s, c->trusted, c->ignored, c->fails, c->id, c->passes);
        if (o.saw_upper) {
            print_error("%s: is_ours got a host with upper case\n", c->name);
            bad++;
        }
        free(head);
    }
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

static void test_trusted_no_ids(void **state)
{
    (void)state;
    int bad = 0;
    const char *head = "Authentication-Results: mx.hoster.example; dkim=pass header.d=a.example\n"
                       "Authentication-Results: mx.hoster.example; dkim=fail header.d=b.example\n";
    struct ours o = { ".hoster.example", false };
    const char *const empty[] = { NULL };
    const char *const blank[] = { "", NULL };
    struct authres_set s;
    authres_trusted(head, strlen(head), NULL, is_ours, &o, &s);
    bad += check_set("ids NULL", &s, 0, 0, 0, "", "");
    authres_trusted(head, strlen(head), empty, is_ours, &o, &s);
    bad += check_set("ids empty", &s, 0, 0, 0, "", "");
    authres_trusted(head, strlen(head), blank, NULL, NULL, &s);
    bad += check_set("ids \"\", no is_ours", &s, 0, 0, 0, "", "");
    authres_trusted(NULL, 100, our_ids, is_ours, &o, &s);
    bad += check_set("head NULL", &s, 0, 0, 0, "", "");
    authres_trusted(head, strlen(head), our_ids, is_ours, &o, NULL); /* must not crash */
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

/* head_len cuts the block: nothing at or past it is read, and the header it cuts
 * in the middle gives nothing (a cut "header.d=example.com.evil.net" must not
 * vouch for example.com). */
static void test_trusted_truncated(void **state)
{
    (void)state;
    int bad = 0;
    const char *text = "Authentication-Results: mx.hoster.example; dkim=pass header.d=a.example\n"
                       "Authentication-Results: mx.hoster.example; dkim=pass "
                       "header.d=example.com.evil.net\n";
    size_t cut = strlen(text) - strlen(".evil.net\n");
    char *head = malloc(cut);
    assert_non_null(head);
    memcpy(head, text, cut);
    struct ours o = { ".hoster.example", false };
    struct authres_set s;
    authres_trusted(head, cut, our_ids, is_ours, &o, &s);
    bad += check_set("cut in a value", &s, 1, 0, 0, "mx.hoster.example", "dkim:a.example");
    assert_false(authres_has_pass(&s, "dkim", "example.com", false));

    /* Cut exactly after the first header's line end: it counts. */
    size_t first = strchr(text, '\n') - text + 1;
    authres_trusted(head, first, our_ids, is_ours, &o, &s);
    bad += check_set("cut at a line end", &s, 1, 0, 0, "mx.hoster.example", "dkim:a.example");

    /* Cut in the middle of the header name. */
    authres_trusted(head, first + 10, our_ids, is_ours, &o, &s);
    bad += check_set("cut in a name", &s, 1, 0, 0, "mx.hoster.example", "dkim:a.example");
    free(head);
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

/* At most AUTHRES_MAX_PASSES passes are kept; the rest are dropped, not overflowed. */
static void test_trusted_max_passes(void **state)
{
    (void)state;
    char head[4096];
    size_t n = (size_t)snprintf(head, sizeof(head), "Authentication-Results: mx.hoster.example");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(head + n, sizeof(head) - n, ";\n dkim=pass header.d=d%d.example", i);
    n += (size_t)snprintf(head + n, sizeof(head) - n, "\n");
    assert_true(n < sizeof(head));
    struct ours o = { ".hoster.example", false };
    struct authres_set s;
    authres_trusted(head, n, our_ids, is_ours, &o, &s);
    assert_int_equal(s.n_passes, AUTHRES_MAX_PASSES);
    assert_string_equal(s.passes[0].domain, "d0.example");
    assert_string_equal(s.passes[AUTHRES_MAX_PASSES - 1].domain, "d15.example");
    assert_true(authres_has_pass(&s, "dkim", "d15.example", false));
    assert_false(authres_has_pass(&s, "dkim", "d16.example", false));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1 MB of junk of several shapes completes fast and finds what is there. */
static void test_trusted_megabyte_of_junk(void **state)
{
    (void)state;
    const size_t size = 1 << 20;
    char *head = malloc(size);
    assert_non_null(head);
    static const char *const lines[] = {
        "Authentication-Results: mx.hoster.example; dkim=pass header.d=a.example (((x\n",
        "X-Junk: ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((\n",
        "no colon at all in this line but a lot of words by from by from\n",
        " continuation ; dkim=pass header.d=cont.example\n",
        "Authentication-Results: mx.hoster.example; spf=fail; spf=fail; spf=fail\n",
    };
    size_t n = 0, k = 0;
    while (n < size) {
        const char *l = lines[k++ % (sizeof(lines) / sizeof(lines[0]))];
        size_t ll = strlen(l);
        if (ll > size - n)
            ll = size - n;
        memcpy(head + n, l, ll);
        n += ll;
    }
    struct ours o = { ".hoster.example", false };
    struct authres_set s;
    double t0 = now_s();
    authres_trusted(head, size, our_ids, is_ours, &o, &s);
    double dt = now_s() - t0;
    assert_true(dt < 2.0);
    assert_true(s.n_trusted_headers > 1000);
    assert_true(s.n_fails > 1000);
    assert_true(authres_has_pass(&s, "dkim", "a.example", false));
    assert_false(authres_has_pass(&s, "dkim", "cont.example", true));

    /* One header of 1 MB: an unclosed comment, then a single line without LF. */
    const char *ar = "Authentication-Results: mx.hoster.example; spf=pass (";
    memcpy(head, ar, strlen(ar));
    memset(head + strlen(ar), '(', size - strlen(ar));
    t0 = now_s();
    authres_trusted(head, size, our_ids, is_ours, &o, &s);
    dt = now_s() - t0;
    assert_true(dt < 2.0);
    assert_int_equal(s.n_passes, 0);

    /* 1 MB of continuation lines under a Received. */
    memcpy(head, "Received: x", 11);
    for (size_t i = 11; i < size; i++)
        head[i] = (i % 64 == 63) ? '\n' : (i % 64 == 0 ? '\t' : 'b');
    t0 = now_s();
    authres_trusted(head, size, our_ids, is_ours, &o, &s);
    dt = now_s() - t0;
    assert_true(dt < 2.0);
    assert_int_equal(s.n_trusted_headers, 0);
    free(head);
}

/* ---- authres_has_pass() ---- */

struct has_case {
    const char *m, *d;
    bool subdomains, want;
};

static void test_has_pass_table(void **state)
{
    (void)state;
    struct authres_set s;
    memset(&s, 0, sizeof(s));
    strcpy(s.passes[0].method, "dkim");
    strcpy(s.passes[0].domain, "mail.example.com");
    strcpy(s.passes[1].method, "spf");
    strcpy(s.passes[1].domain, "example.org");
    s.n_passes = 2;
    static const struct has_case cases[] = {
        {"dkim", "mail.example.com", false, true},
        {"DKIM", "Mail.Example.COM", false, true},
        {NULL, "mail.example.com", false, true},
        {"spf", "mail.example.com", false, false},
        {"dkim", "example.com", false, false},
        {"dkim", "example.com", true, true},
        {"dkim", "example.com.", true, true},
        {"dkim", "ample.com", true, false},       /* not at a label boundary */
        {"dkim", "xmail.example.com", true, false},
        {NULL, "example.org", true, true},
        {"dmarc", "example.org", true, false},
        {"dkim", "com", true, true},
        {"dkim", "", true, false},
        {"dkim", NULL, true, false},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct has_case *c = &cases[i];
        bool got = authres_has_pass(&s, c->m, c->d, c->subdomains);
        if (got != c->want) {
            print_error("has_pass(%s, %s, %d): got %d, want %d\n", c->m ? c->m : "NULL",
                        c->d ? c->d : "NULL", c->subdomains, got, c->want);
            bad++;
        }
    }
    assert_false(authres_has_pass(NULL, "dkim", "example.com", true));
    if (bad)
        fail_msg("%d mismatch(es), see above", bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_obeys_len),
        cmocka_unit_test(test_parse_bounds),
        cmocka_unit_test(test_trusted_table),
        cmocka_unit_test(test_trusted_no_ids),
        cmocka_unit_test(test_trusted_truncated),
        cmocka_unit_test(test_trusted_max_passes),
        cmocka_unit_test(test_trusted_megabyte_of_junk),
        cmocka_unit_test(test_has_pass_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

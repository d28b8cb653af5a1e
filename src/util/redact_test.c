/*
 * redact_test.c: table-driven unit tests for redact.c (URL credentials, secret
 * query parameters, configured secret values, text around URLs left alone)
 * and for log_format_kv() (the key=value log form: component, quoting,
 * escapes, bounded output). Every input was written for this test. A failure
 * names the row and prints "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <string.h>

#include "util/log.h"
#include "util/redact.h"

static int check_str(const char *row, const char *got, const char *want)
{
    if (got && want && strcmp(got, want) == 0)
        return 0;
    print_error("%s: got \"%s\", want \"%s\"\n", row, got ? got : "(NULL)", want);
    return 1;
}

struct redact_case {
    const char *name, *in, *want;
};

static const struct redact_case redact_cases[] = {
    { "plain text", "nothing to hide here", "nothing to hide here" },
    { "url without credentials", "POST http://127.0.0.1:8080/hook: HTTP 500",
      "POST http://127.0.0.1:8080/hook: HTTP 500" },
    { "user and password", "https://user:pa55@hooks.example/x: HTTP 500",
      "https://***@hooks.example/x: HTTP 500" },
    { "token as user", "https://ghp_abcdef@api.example/", "https://***@api.example/" },
    { "smtp login", "smtp://bob:s3cr3t@relay.example:587: refused",
      "smtp://***@relay.example:587: refused" },
    { "@ in path is no userinfo", "https://h.example/u/a@b.example ok",
      "https://h.example/u/a@b.example ok" },
    { "@ in the password", "https://u:p@ss@h.example/", "https://***@h.example/" },
    { "secret query", "http://h.example/hook?event=x&token=abc123&b=2",
      "http://h.example/hook?event=x&token=***&b=2" },
    { "query names any case", "http://h.example/?API_KEY=k1&Password=p2#frag",
      "http://h.example/?API_KEY=***&Password=***#frag" },
    { "both, then punctuation", "(see https://a:b@h.example/x?sig=zz).",
      "(see https://***@h.example/x?sig=***)." },
    { "two urls", "a https://x:y@one.example b smtp://z:w@two.example c",
      "a https://***@one.example b smtp://***@two.example c" },
    { "quoted url", "url 'https://k:v@h.example/p' bad", "url 'https://***@h.example/p' bad" },
    { "bare :// is text", "://user:pw@host", "://user:pw@host" },
    { "configured secret", "server said: wrong password Hunter2Hunter2",
      "server said: wrong password ***" },
    { "secret twice", "Hunter2Hunter2 and Hunter2Hunter2", "*** and ***" },
    { "short secret ignored", "abc", "abc" },
};

static void test_redact_text(void **state)
{
    (void)state;
    const char *secrets[] = { "Hunter2Hunter2", "abc", NULL };
    int bad = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(redact_cases); i++) {
        char *got = redact_text(redact_cases[i].in, secrets);
        bad += check_str(redact_cases[i].name, got, redact_cases[i].want);
        g_free(got);
    }
    assert_null(redact_text(NULL, secrets));
    char buf[24] = "https://u:p@h.example/x";
    redact_buf(buf, sizeof buf, NULL);
    bad += check_str("redact_buf", buf, "https://***@h.example/x");
    assert_int_equal(bad, 0);
}

struct kv_case {
    const char *name;
    enum log_level level;
    const char *in, *want;
};

static const struct kv_case kv_cases[] = {
    { "component", LOG_LEVEL_WARNING, "outbox: mail 3 will be retried",
      "level=warning component=outbox msg=\"mail 3 will be retried\"" },
    { "no component", LOG_LEVEL_INFO, "stored id=1 kind=arf",
      "level=info component=main msg=\"stored id=1 kind=arf\"" },
    { "capitalised word is no component", LOG_LEVEL_ERROR, "Policy: x",
      "level=error component=main msg=\"Policy: x\"" },
    { "quotes, backslash, line break, control", LOG_LEVEL_DEBUG, "run: a\"b\\c\nd\x1b[2J",
      "level=debug component=run msg=\"a\\\"b\\\\c\\nd\\x1b[2J\"" },
};

static void test_log_format_kv(void **state)
{
    (void)state;
    int bad = 0;
    char out[256];
    for (size_t i = 0; i < G_N_ELEMENTS(kv_cases); i++) {
        log_format_kv(out, sizeof out, kv_cases[i].level, kv_cases[i].in);
        bad += check_str(kv_cases[i].name, out, kv_cases[i].want);
    }
    /* A long message is cut, still closed by its quote. */
    char small[48];
    log_format_kv(small, sizeof small, LOG_LEVEL_INFO, "policy: 0123456789012345678901234567890");
    size_t n = strlen(small);
    if (n >= sizeof small || small[n - 1] != '"' || strncmp(small, "level=info component=policy msg=\"", 33)) {
        print_error("cut: got \"%s\"\n", small);
        bad++;
    }
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact_text),
        cmocka_unit_test(test_log_format_kv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

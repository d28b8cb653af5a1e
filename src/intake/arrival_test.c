/*
 * arrival_test.c: the arrival time of ingest --replay (arrival.c), table
 * driven: our MX's topmost Received wins over lower hops and the Date, a hop
 * of another host is skipped, the Date is the fallback, and malformed input
 * (no colon, cut values, nonsense dates, NUL bytes, a header block cut by
 * head_len) gives no time or the Date, never a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "intake/arrival.h"

static struct config cfg;

static const struct {
    const char *name, *head;
    enum arrival_source want;
    int64_t at;
} cases[] = {
    { "our MX's Received", "Received: from fbl.yahoo.com (x [192.0.2.1]) by mx.hoster.example "
      "(Postfix) with ESMTPS id A; Thu, 01 Oct 2026 10:00:00 +0000\nDate: Thu, 01 Oct 2026 "
      "09:00:00 +0000\n\nbody\n", ARRIVAL_RECEIVED, 1790848800 },
    { "topmost of ours wins", "Received: from a by in2.hoster.example; Thu, 01 Oct 2026 "
      "10:00:00 +0000\nReceived: from b by mx.hoster.example; Thu, 01 Oct 2026 09:00:00 "
      "+0000\n\n", ARRIVAL_RECEIVED, 1790848800 },
    { "another host's hop skipped, folded", "Received: from a by relay.other.example; Thu, 01 "
      "Oct 2026 08:00:00 +0000\nReceived: from b\n\tby mx.hoster.example with ESMTP;\n Thu, 01 "
      "Oct 2026 12:00:00 +0200\n\n", ARRIVAL_RECEIVED, 1790848800 },
    { "Date as fallback", "Received: from a by relay.other.example; Thu, 01 Oct 2026 08:00:00 "
      "+0000\nDate: Thu, 01 Oct 2026 10:00:00 +0000\n\n", ARRIVAL_DATE, 1790848800 },
    { "a Received below the body is not a header", "Date: Thu, 01 Oct 2026 10:00:00 +0000\n\n"
      "Received: by mx.hoster.example; Fri, 02 Oct 2026 10:00:00 +0000\n", ARRIVAL_DATE,
      1790848800 },
    { "no date at all", "Subject: x\nReceived: by mx.hoster.example\n\n", ARRIVAL_NONE, 0 },
    { "nonsense date", "Received: by mx.hoster.example; Mon, 99 Foo 99999 99:99:99\nDate: "
      "yesterday\n\n", ARRIVAL_NONE, 0 },
    { "implausible year", "Date: Thu, 01 Oct 1970 10:00:00 +0000\n\n", ARRIVAL_NONE, 0 },
    { "no colon, empty names", ":\n: x\nReceived\n\n", ARRIVAL_NONE, 0 },
    { "value cut by head_len", "Date: Thu, 01 Oct 2026 10:00:00 +0000", ARRIVAL_NONE, 0 },
    { "by without a host", "Received: from a by ; Thu, 01 Oct 2026 10:00:00 +0000\n\n",
      ARRIVAL_NONE, 0 },
    { "", "", ARRIVAL_NONE, 0 },
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t at = -1;
        enum arrival_source got = arrival_time(&cfg, cases[i].head, strlen(cases[i].head), &at);
        if (got != cases[i].want || at != cases[i].at)
            fail_msg("%s: got %s %lld, want %s %lld", cases[i].name, arrival_source_name(got),
                     (long long)at, arrival_source_name(cases[i].want), (long long)cases[i].at);
    }
}

static void test_nul_and_huge(void **state)
{
    (void)state;
    char buf[20000];
    memset(buf, 'R', sizeof buf);
    memcpy(buf, "Received: ", 10);
    buf[500] = '\0';
    buf[sizeof buf - 2] = '\n';
    buf[sizeof buf - 1] = '\n';
    int64_t at = -1;
    assert_int_equal(arrival_time(&cfg, buf, sizeof buf, &at), ARRIVAL_NONE);
    assert_int_equal(at, 0);
    assert_int_equal(arrival_time(&cfg, NULL, 10, &at), ARRIVAL_NONE);
}

int main(void)
{
    config_defaults(&cfg);
    static const char conf[] = "[intake]\nauthserv_id = mx.hoster.example\n"
                               "[network]\nour_hosts = in2.hoster.example\n";
    if (config_load_data(&cfg, "test", conf, sizeof conf - 1, NULL) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_nul_and_huge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

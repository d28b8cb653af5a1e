/*
 * fuzz_postqueue.c: libFuzzer target for held_parse(), the reader of
 * `postqueue -j` output (one JSON object per line; senders and recipients are
 * whatever a client wrote in MAIL FROM and RCPT TO), and for redact_text(),
 * which cleans every log line and stored error. The first byte picks the
 * account filter (none, or a fixed address); any input must parse or be
 * skipped, never crash, leak or hand out a queue id that is not letters and
 * digits.
 */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "act/held.h"
#include "util/redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_msg(const struct held_msg *m, void *ctx)
{
    (void)ctx;
    size_t n = strlen(m->queue_id);
    if (n == 0 || n > HELD_MAX_ID || !m->sender)
        abort();
    for (const char *s = m->queue_id; *s; s++)
        if (!g_ascii_isalnum(*s))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *account = data[0] & 1 ? "alice@customer.example" : NULL;
    size_t bad = 0;
    held_parse((const char *)data + 1, size - 1, account, check_msg, NULL, &bad);
    char *text = g_strndup((const char *)data + 1, size - 1);
    const char *secrets[] = { "Hunter2Hunter2", NULL };
    char *r = redact_text(text, secrets);
    if (!r || strstr(r, "Hunter2Hunter2"))
        abort();
    g_free(r);
    g_free(text);
    return 0;
}

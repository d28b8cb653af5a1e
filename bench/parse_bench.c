/*
 * parse_bench.c: parser throughput for `make bench` (bench/parse.sh). Loads every
 * *.eml file below DIR into memory, as the peers' drivers in shared/tools do, then
 * runs PASSES + 1 passes of parse_message() + report_json_line() + report_free()
 * over them (pass 0 is the warm-up), so each message costs full field extraction
 * and serialisation, not only MIME parsing. With --no-json the serialisation is
 * left out: parse + full field extraction into struct report, the work
 * Sisimai->make() does (it builds its Sisimai::Data records, no JSON). Prints one `PASS k ...` line per pass
 * in the format of sisimai-bench.pl and pyemail-bench.py, then the median of the
 * warm passes and the peak RSS; each PASS line also gives the pass's CPU time
 * (cpu_seconds, cpu_msgs_per_s). With --gen-big it instead writes one large
 * synthetic message to a file, streaming, for the memory check of parse.sh: a DSN
 * returning a message with a huge base64 attachment (the default), a non-MIME text
 * bounce with a huge body, or a mail with a huge header block.
 * Fails with exit 2 when a file cannot be read or written and 64 on usage errors;
 * a message the parser rejects only lowers with_result.
 *
 * usage: parse_bench [--no-json] DIR [PASSES]
 *        parse_bench --gen-big MIB OUTFILE [attachment|plain|headers]
 */
#include <errno.h>
#include <stdbool.h>
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "parse/parse.h"
#include "parse/report_json.h"

/* The corpus held in memory; every buffer is g_malloc'd and owned here. */
struct corpus {
    GPtrArray *paths;   /* of char *, sorted */
    GPtrArray *data;    /* of char *, same order */
    GArray *lens;       /* of size_t */
    size_t n_bytes;
};

static int compare_paths(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects the *.eml regular files below dir into paths (recursive, symbolic links
 * not followed, like os.walk and File::Find). Returns 0, or -1 when dir cannot be
 * opened. */
static int collect_files(const char *dir, GPtrArray *paths)
{
    GError *gerr = NULL;
    GDir *d = g_dir_open(dir, 0, &gerr);
    if (!d) {
        fprintf(stderr, "parse_bench: %s\n", gerr->message);
        g_error_free(gerr);
        return -1;
    }
    int rc = 0;
    const char *name;
    while ((name = g_dir_read_name(d)) != NULL) {
        char *path = g_build_filename(dir, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
            g_free(path);
        } else if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
            rc = collect_files(path, paths);
            g_free(path);
            if (rc < 0)
                break;
        } else if (g_str_has_suffix(name, ".eml") &&
                   g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
            g_ptr_array_add(paths, path);
        } else {
            g_free(path);
        }
    }
    g_dir_close(d);
    return rc;
}

/* Reads every *.eml below dir into c. Returns 0, or -1 after printing why. */
static int corpus_load(struct corpus *c, const char *dir)
{
    c->paths = g_ptr_array_new_with_free_func(g_free);
    c->data = g_ptr_array_new_with_free_func(g_free);
    c->lens = g_array_new(FALSE, FALSE, sizeof(size_t));
    c->n_bytes = 0;
    if (collect_files(dir, c->paths) < 0)
        return -1;
    g_ptr_array_sort(c->paths, compare_paths);
    for (guint i = 0; i < c->paths->len; i++) {
        const char *path = g_ptr_array_index(c->paths, i);
        char *buf = NULL;
        gsize len = 0;
        GError *gerr = NULL;
        if (!g_file_get_contents(path, &buf, &len, &gerr)) {
            fprintf(stderr, "parse_bench: %s\n", gerr->message);
            g_error_free(gerr);
            return -1;
        }
        size_t n = len;
        g_ptr_array_add(c->data, buf);
        g_array_append_val(c->lens, n);
        c->n_bytes += n;
    }
    return 0;
}

static void corpus_free(struct corpus *c)
{
    if (c->paths)
        g_ptr_array_free(c->paths, TRUE);
    if (c->data)
        g_ptr_array_free(c->data, TRUE);
    if (c->lens)
        g_array_free(c->lens, TRUE);
    memset(c, 0, sizeof *c);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process (user + system), for a ratio that load from other
 * processes on a shared machine does not move as much as wall time. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n values; sorts v in place. */
static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One pass over the corpus. *n_parsed counts messages parse_message() accepted,
 * *n_result those it recognised (kind other than unknown), comparable to the
 * Sisimai driver's with_result. Returns the JSON bytes produced, which also keeps
 * the compiler from dropping the serialisation. */
static bool with_json = true;

static size_t run_pass(const struct corpus *c, size_t *n_parsed, size_t *n_result)
{
    size_t json_bytes = 0;
    *n_parsed = *n_result = 0;
    for (guint i = 0; i < c->data->len; i++) {
        struct ad_err err = { 0 };
        struct report *r = parse_message(g_ptr_array_index(c->data, i),
                                         g_array_index(c->lens, size_t, i), NULL, &err);
        if (!r)
            continue;
        (*n_parsed)++;
        if (r->kind != REPORT_UNKNOWN)
            (*n_result)++;
        if (with_json) {
            char *line = report_json_line(r, g_ptr_array_index(c->paths, i));
            if (line) {
                json_bytes += strlen(line);
                free(line);
            }
        } else {
            json_bytes += r->recipients->len; /* keeps the report observable */
        }
        report_free(r);
    }
    return json_bytes;
}

static int bench(const char *dir, unsigned passes)
{
    struct corpus c = { 0 };
    int rc = 2;
    double *rates = NULL, *mbs = NULL;
    if (corpus_load(&c, dir) < 0)
        goto out;
    if (c.data->len == 0) {
        fprintf(stderr, "parse_bench: no *.eml files below %s\n", dir);
        goto out;
    }
    parse_init();
    printf("abusedesk %s files=%u bytes=%zu%s\n", AD_VERSION, c.data->len, c.n_bytes,
           with_json ? "" : " (no JSON)");
    rates = g_new0(double, passes + 1);
    mbs = g_new0(double, passes + 1);
    for (unsigned p = 0; p <= passes; p++) {
        size_t n_parsed, n_result;
        double t0 = now_seconds(), c0 = cpu_seconds();
        size_t json_bytes = run_pass(&c, &n_parsed, &n_result);
        double dt = now_seconds() - t0, dc = cpu_seconds() - c0;
        if (dt <= 0)
            dt = 1e-9;
        if (dc <= 0)
            dc = 1e-9;
        rates[p] = c.data->len / dt;
        mbs[p] = (double)c.n_bytes / 1e6 / dt;
        printf("PASS %u %s files=%u parsed=%zu with_result=%zu json_bytes=%zu seconds=%.3f "
               "msgs_per_s=%.1f MB_per_s=%.3f cpu_seconds=%.3f cpu_msgs_per_s=%.1f\n",
               p, p ? "warm" : "warm-up", c.data->len, n_parsed, n_result, json_bytes, dt,
               rates[p], mbs[p], dc, c.data->len / dc);
        fflush(stdout);
    }
    if (passes > 0)
        printf("MEDIAN warm_passes=%u msgs_per_s=%.1f MB_per_s=%.3f\n", passes,
               median(rates + 1, passes), median(mbs + 1, passes));
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        printf("PEAK_RSS_KB %ld\n", ru.ru_maxrss);
    rc = 0;
out:
    g_free(rates);
    g_free(mbs);
    corpus_free(&c);
    return rc;
}

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* xorshift64: cheap varied filler, so the attachment is not one repeated line. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Shapes of the synthetic message of --gen-big. */
enum big_shape {
    BIG_ATTACHMENT, /* RFC 3464 DSN returning a message with a huge base64 attachment */
    BIG_PLAIN,      /* non-MIME text bounce (qmail/Postfix style) with a huge body */
    BIG_HEADERS,    /* a mail whose header block alone is huge */
};

static const char big_dsn_head[] =
    "Return-Path: <>\n"
    "Received: by mx1.example.net (Postfix) id 4Xb2kQ1z9Hz1\n"
    "\tfor <sender@example.org>; Mon,  3 Jun 2024 10:00:05 +0000 (UTC)\n"
    "Date: Mon,  3 Jun 2024 10:00:05 +0000 (UTC)\n"
    "From: MAILER-DAEMON@mx1.example.net (Mail Delivery System)\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "To: sender@example.org\n"
    "Auto-Submitted: auto-replied\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=delivery-status;\n"
    "\tboundary=\"B1.bench/mx1.example.net\"\n"
    "Message-Id: <20240603100005.4Xb2kQ1z9Hz1@mx1.example.net>\n"
    "\n"
    "This is a MIME-encapsulated message.\n"
    "\n"
    "--B1.bench/mx1.example.net\n"
    "Content-Description: Notification\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "This is the mail system at host mx1.example.net.\n"
    "\n"
    "I'm sorry to have to inform you that your message could not\n"
    "be delivered to one or more recipients.\n"
    "\n"
    "<nobody@example.com>: host mx.example.com[192.0.2.25] said: 550 5.1.1\n"
    "    <nobody@example.com>: Recipient address rejected: User unknown (in reply\n"
    "    to RCPT TO command)\n"
    "\n"
    "--B1.bench/mx1.example.net\n"
    "Content-Description: Delivery report\n"
    "Content-Type: message/delivery-status\n"
    "\n"
    "Reporting-MTA: dns; mx1.example.net\n"
    "X-Postfix-Queue-ID: 4Xb2kQ1z9Hz1\n"
    "Arrival-Date: Mon,  3 Jun 2024 10:00:01 +0000 (UTC)\n"
    "\n"
    "Final-Recipient: rfc822; nobody@example.com\n"
    "Original-Recipient: rfc822;nobody@example.com\n"
    "Action: failed\n"
    "Status: 5.1.1\n"
    "Remote-MTA: dns; mx.example.com\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.com>: Recipient address\n"
    "    rejected: User unknown\n"
    "\n"
    "--B1.bench/mx1.example.net\n"
    "Content-Description: Undelivered Message\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Return-Path: <sender@example.org>\n"
    "Received: from client.example.org (client.example.org [198.51.100.7])\n"
    "\tby mx1.example.net (Postfix) with ESMTPSA id 4Xb2kQ1z9Hz1\n"
    "\tfor <nobody@example.com>; Mon,  3 Jun 2024 10:00:01 +0000 (UTC)\n"
    "From: Sender <sender@example.org>\n"
    "To: nobody@example.com\n"
    "Subject: big attachment\n"
    "Date: Mon, 3 Jun 2024 10:00:00 +0000\n"
    "Message-ID: <big-attachment@example.org>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"inner-bench\"\n"
    "\n"
    "--inner-bench\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "See the attached file.\n"
    "\n"
    "--inner-bench\n"
    "Content-Type: application/octet-stream; name=\"big.bin\"\n"
    "Content-Transfer-Encoding: base64\n"
    "Content-Disposition: attachment; filename=\"big.bin\"\n"
    "\n";

static const char big_plain_head[] =
    "Return-Path: <>\n"
    "Date: Mon,  3 Jun 2024 10:00:05 +0000\n"
    "From: MAILER-DAEMON@mx1.example.net (Mail Delivery System)\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "To: sender@example.org\n"
    "Message-Id: <20240603100005.plain@mx1.example.net>\n"
    "\n"
    "This is the mail system at host mx1.example.net.\n"
    "\n"
    "<nobody@example.com>: host mx.example.com[192.0.2.25] said: 550 5.1.1\n"
    "    <nobody@example.com>: Recipient address rejected: User unknown (in reply\n"
    "    to RCPT TO command)\n"
    "\n"
    "--- Below this line is a copy of the message.\n"
    "\n"
    "From: Sender <sender@example.org>\n"
    "To: nobody@example.com\n"
    "Subject: big body\n"
    "\n";

static const char big_headers_head[] =
    "From: Sender <sender@example.org>\n"
    "To: abuse@example.net\n"
    "Subject: huge header block\n"
    "Date: Mon, 3 Jun 2024 10:00:00 +0000\n";

/* Writes one synthetic message of about mib MiB in the given shape to out.
 * Streams: memory use is one line. Returns 0, or 2 after printing why. */
static int gen_big(unsigned long mib, enum big_shape shape, const char *out)
{
    FILE *f = fopen(out, "wb");
    if (!f) {
        fprintf(stderr, "parse_bench: %s: %s\n", out, g_strerror(errno));
        return 2;
    }
    const char *head = shape == BIG_ATTACHMENT ? big_dsn_head
                       : shape == BIG_PLAIN    ? big_plain_head
                                               : big_headers_head;
    const char *tail = shape == BIG_ATTACHMENT
                           ? "\n--inner-bench--\n\n--B1.bench/mx1.example.net--\n"
                       : shape == BIG_PLAIN ? "\n"
                                            : "\nbody\n";
    /* Body lines are 76 varied characters; header lines get a field name first. */
    const char *prefix = shape == BIG_HEADERS ? "X-Filler: " : "";
    size_t n_prefix = strlen(prefix);
    fputs(head, f);
    uint64_t seed = 0x9e3779b97f4a7c15u;
    unsigned long long target = (unsigned long long)mib << 20, written = 0;
    char line[96];
    memcpy(line, prefix, n_prefix);
    size_t n_line = n_prefix + 77;
    while (written < target) {
        for (int i = 0; i < 76; i += 8) {
            uint64_t x = next_rand(&seed);
            for (int k = 0; k < 8 && i + k < 76; k++, x >>= 6)
                line[n_prefix + (size_t)(i + k)] = base64_alphabet[x & 63];
        }
        line[n_line - 1] = '\n';
        if (fwrite(line, 1, n_line, f) != n_line)
            break;
        written += n_line;
    }
    fputs(tail, f);
    int failed = ferror(f);
    if (fclose(f) != 0 || failed) {
        fprintf(stderr, "parse_bench: %s: write error\n", out);
        return 2;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: parse_bench DIR [PASSES]\n"
                    "       parse_bench --gen-big MIB OUTFILE [attachment|plain|headers]\n");
}

int main(int argc, char **argv)
{
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "--gen-big") == 0) {
        char *end;
        unsigned long mib = strtoul(argv[2], &end, 10);
        const char *shape = argc == 5 ? argv[4] : "attachment";
        enum big_shape sh = BIG_ATTACHMENT;
        if (!strcmp(shape, "plain"))
            sh = BIG_PLAIN;
        else if (!strcmp(shape, "headers"))
            sh = BIG_HEADERS;
        else if (strcmp(shape, "attachment") != 0)
            mib = 0;
        if (*end || mib == 0) {
            usage();
            return 64;
        }
        return gen_big(mib, sh, argv[3]);
    }
    if (argc >= 2 && strcmp(argv[1], "--no-json") == 0) {
        with_json = false;
        argv++;
        argc--;
    }
    if (argc < 2 || argc > 3 || argv[1][0] == '-') {
        usage();
        return 64;
    }
    unsigned passes = 10;
    if (argc == 3) {
        char *end;
        unsigned long v = strtoul(argv[2], &end, 10);
        if (*end || v > 100000) {
            usage();
            return 64;
        }
        passes = (unsigned)v;
    }
    return bench(argv[1], passes);
}

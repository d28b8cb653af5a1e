/*
 * dkimverify_test.c: tests of dkimverify.c against real signatures and a real
 * DNS server. The group setup makes fresh 1024-bit keys and signed messages
 * with tests/dkim/make_fixtures.sh (openssl, and dkimsign from python3-dkim,
 * an implementation independent of libopendkim) in a temporary directory, and
 * serves the key records from rbldnsd on 127.0.0.1 at a random port through
 * tests/lib/dns.sh; the teardown stops and reaps rbldnsd (we are a child
 * subreaper while the helper's shell runs, so the server it leaves behind is
 * our child) and removes the directory; should we die first, the helper's
 * watchdog (DNS_WATCH_PID) stops rbldnsd. A missing tool fails the group setup
 * with a message that names it; nothing is skipped.
 *   Verified: good signatures (LF, CRLF, either converted to the other, mixed,
 *   relaxed and simple canonicalisation), a body or a header changed after
 *   signing, a key not in DNS, a revoked key, a TXT record that is not a key,
 *   a wrong key, one good and one bad signature, an unsigned message, more
 *   signatures than DKIMVERIFY_MAX_SIGS, messages not handed to libopendkim
 *   (From count, inputs that make libopendkim 2.11.0~beta2 read or write out
 *   of bounds). DNS: a resolver that never answers (a bound UDP socket
 *   nobody reads: the lookup ends at the timeout), a closed port, a dead
 *   resolver before a live one, names that must not be queried at all, a
 *   failed lookup not repeated. dkimverify_new(): resolver lists and timeouts.
 *   Robustness: NULL and empty input, random bytes, every prefix of a signed
 *   message, random mutations of one, pathological headers.
 * Failures print "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "trust/dkimverify.h"

#define FAIL_IF_BAD(bad) \
    do { \
        if (bad) \
            fail_msg("%d mismatch(es), see above", bad); \
    } while (0)

/* ---- small helpers ---------------------------------------------------- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int check_int(const char *row, const char *field, long long got, long long want)
{
    if (got == want)
        return 0;
    print_error("%s: %s: got %lld, want %lld\n", row, field, got, want);
    return 1;
}

static int check_str(const char *row, const char *field, const char *got, const char *want)
{
    if (strcmp(got, want) == 0)
        return 0;
    print_error("%s: %s: got \"%s\", want \"%s\"\n", row, field, got, want);
    return 1;
}

static int check_has(const char *row, const char *field, const char *got, const char *want_sub)
{
    if (strstr(got, want_sub))
        return 0;
    print_error("%s: %s: got \"%s\", want it to contain \"%s\"\n", row, field, got, want_sub);
    return 1;
}

/* The source tree: $AD_SOURCE_DIR (set by ctest) or derived from this file's
 * absolute path (CMake compiles with absolute paths). g_free it. */
static char *source_dir(void)
{
    const char *env = getenv("AD_SOURCE_DIR");
    if (env && *env)
        return g_strdup(env);
    const char *f = __FILE__;
    const char *tail = strstr(f, "/src/trust/dkimverify_test.c");
    return tail ? g_strndup(f, (gsize)(tail - f)) : g_strdup(".");
}

/* A UDP socket bound to 127.0.0.1 at a kernel-chosen port, never read: a DNS
 * server that never answers. Returns the descriptor and sets *port. */
static int silent_udp(int *port)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return s;
}

/* A UDP port on 127.0.0.1 that nothing listens on right now (queries to it
 * get ICMP port unreachable). */
static int closed_udp_port(void)
{
    int port = 0;
    int s = silent_udp(&port);
    if (s < 0)
        return -1;
    close(s);
    return port;
}

/* SIGTERM, then SIGKILL after 2 s, and reap. */
static void stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    long long end = now_ms() + 2000;
    while (now_ms() < end) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            return;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Every bare LF of s as CRLF (crlf) or every CRLF as LF (!crlf). g_free. */
static char *convert_eol(const char *s, bool crlf)
{
    GString *o = g_string_sized_new(strlen(s) + 64);
    for (const char *p = s; *p; p++) {
        if (crlf && *p == '\n' && (p == s || p[-1] != '\r'))
            g_string_append_c(o, '\r');
        if (!crlf && *p == '\r' && p[1] == '\n')
            continue;
        g_string_append_c(o, *p);
    }
    return g_string_free(o, FALSE);
}

/* s with the first occurrence of from replaced by to; g_free. */
static char *replace1(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    if (!at)
        fail_msg("fixture: \"%s\" not found", from);
    return g_strdup_printf("%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
}

/* The first DKIM-Signature field of msg, with its line ends; g_free. */
static char *first_signature(const char *msg)
{
    const char *start = strstr(msg, "DKIM-Signature:");
    if (!start)
        fail_msg("fixture: no DKIM-Signature");
    const char *end = start;
    for (;;) {
        end = strchr(end, '\n');
        if (!end)
            fail_msg("fixture: unterminated DKIM-Signature");
        end++;
        if (*end != ' ' && *end != '\t')
            break;
    }
    return g_strndup(start, (gsize)(end - start));
}

/* Checks that out is well formed whatever the input was. */
static int check_sane(const char *row, int got, const struct dkimverify_result *r)
{
    int bad = 0;
    if (r->n_sigs > DKIMVERIFY_MAX_SIGS) {
        print_error("%s: n_sigs: got %zu, want <= %d\n", row, r->n_sigs, DKIMVERIFY_MAX_SIGS);
        return 1;
    }
    int passes = 0;
    for (size_t i = 0; i < r->n_sigs; i++) {
        const struct dkimverify_sig *s = &r->sigs[i];
        passes += s->pass;
        if (!memchr(s->domain, '\0', sizeof(s->domain)) || !memchr(s->selector, '\0', sizeof(s->selector)) ||
            !memchr(s->result, '\0', sizeof(s->result))) {
            print_error("%s: sig %zu: unterminated string\n", row, i);
            bad++;
            continue;
        }
        if (s->result[0] == '\0') {
            print_error("%s: sig %zu: got an empty result, want a reason\n", row, i);
            bad++;
        }
        if (s->pass != (strcmp(s->result, "pass") == 0)) {
            print_error("%s: sig %zu: pass %d with result \"%s\"\n", row, i, s->pass, s->result);
            bad++;
        }
        for (const char *c = s->domain; *c; c++)
            if (*c >= 'A' && *c <= 'Z') {
                print_error("%s: sig %zu: domain \"%s\" not lower case\n", row, i, s->domain);
                bad++;
                break;
            }
    }
    bad += check_int(row, "return (number of passes)", got, passes);
    return bad;
}

/* ---- fixture: keys, messages, rbldnsd ------------------------------------ */

struct fx {
    char *src;        /* the source tree */
    char *dir;        /* our temporary directory */
    char *fixtures;   /* dir/fixtures: what make_fixtures.sh wrote */
    int dns_port;     /* rbldnsd on 127.0.0.1 */
    pid_t dns_pid;
    char resolver[64];/* "127.0.0.1:<dns_port>" */
};

/* Runs argv; true on exit status 0. On failure prints what and the output. */
static bool run(char **argv, const char *what, char **out)
{
    char *sout = NULL, *serr = NULL;
    int status = -1;
    GError *gerr = NULL;
    bool ok = g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &sout, &serr, &status,
                           &gerr);
    if (!ok) {
        print_error("%s: cannot run %s: %s\n", what, argv[0], gerr->message);
        g_error_free(gerr);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        print_error("%s: failed (status %d):\n%s%s", what, status, serr ? serr : "", sout ? sout : "");
        ok = false;
    }
    if (out)
        *out = sout;
    else
        g_free(sout);
    g_free(serr);
    return ok;
}

/* Serves fixtures/records for example.org and example.net. The helper's
 * shell exits at once; rbldnsd then becomes our child (we are a subreaper
 * meanwhile), so stop() can reap it. */
static bool dns_start(struct fx *f)
{
    static const char script[] =
        ". \"$1\" || exit 1\n"
        "DNS_NO_TRAP=1 DNS_WATCH_PID=$4\n"
        "while IFS=$'\\t' read -r name text; do\n"
        "  dns_add_txt \"$name\" \"$text\" || exit 1\n"
        "done < \"$2\"\n"
        "dns_start \"$3\" example.org example.net || exit 1\n"
        "echo \"$DNS_PORT $DNS_PID\"\n";
    char *helper = g_build_filename(f->src, "tests", "lib", "dns.sh", NULL);
    char *records = g_build_filename(f->fixtures, "records", NULL);
    char *dnsdir = g_build_filename(f->dir, "dns", NULL);
    char owner[32];
    snprintf(owner, sizeof(owner), "%ld", (long)getpid());
    char *argv[] = { "bash", "-c", (char *)script, "dns.sh", helper, records, dnsdir, owner, NULL };
    char *out = NULL;
    prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L);
    bool ok = run(argv, "tests/lib/dns.sh dns_start", &out);
    prctl(PR_SET_CHILD_SUBREAPER, 0L, 0L, 0L, 0L);
    int port = 0, pid = 0;
    if (ok && (!out || sscanf(out, "%d %d", &port, &pid) != 2 || port <= 0 || pid <= 0)) {
        print_error("dns_start: got \"%s\", want \"PORT PID\"\n", out ? out : "");
        ok = false;
    }
    f->dns_port = port;
    f->dns_pid = pid;
    snprintf(f->resolver, sizeof(f->resolver), "127.0.0.1:%d", port);
    g_free(out);
    g_free(helper);
    g_free(records);
    g_free(dnsdir);
    return ok;
}

static int group_teardown(void **state);

/* A missing tool or a server that will not start fails the whole group
 * (cmocka reports the setup as failed); nothing is skipped. */
static int group_setup(void **state)
{
    struct fx *f = g_new0(struct fx, 1);
    *state = f;
    f->src = source_dir();
    GError *gerr = NULL;
    f->dir = g_dir_make_tmp("dkimverify_test.XXXXXX", &gerr);
    if (!f->dir) {
        print_error("cannot make a temporary directory: %s\n", gerr->message);
        g_error_free(gerr);
        group_teardown(state);
        *state = NULL;
        return -1;
    }
    f->fixtures = g_build_filename(f->dir, "fixtures", NULL);
    char *script = g_build_filename(f->src, "tests", "dkim", "make_fixtures.sh", NULL);
    char *argv[] = { "bash", script, f->fixtures, NULL };
    bool ok = run(argv, "tests/dkim/make_fixtures.sh (keys and signed messages)", NULL);
    g_free(script);
    if (!ok || !dns_start(f)) {
        group_teardown(state);
        *state = NULL;
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    if (!f)
        return 0;
    stop(f->dns_pid);
    /* The watchdog of tests/lib/dns.sh became our child too; it ends within
     * half a second of rbldnsd. */
    long long end = now_ms() + 2000;
    while (waitpid(-1, NULL, WNOHANG) >= 0 && now_ms() < end)
        usleep(20000);
    if (f->dir) {
        char *argv[] = { "rm", "-rf", f->dir, NULL };
        run(argv, "rm -rf", NULL);
    }
    g_free(f->fixtures);
    g_free(f->dir);
    g_free(f->src);
    g_free(f);
    return 0;
}

static char *fixture(const struct fx *f, const char *name)
{
    char *path = g_build_filename(f->fixtures, name, NULL);
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        fail_msg("cannot read fixture %s", path);
    g_free(path);
    return text;
}

static struct dkimverify *verifier(const char *resolvers, int timeout_ms)
{
    struct dkimverify *v = NULL;
    struct ad_err err = { 0 };
    int rc = dkimverify_new(resolvers, timeout_ms, &v, &err);
    if (rc != 0 || !v)
        fail_msg("dkimverify_new(\"%s\", %d): got %d (%s), want 0", resolvers, timeout_ms, rc, err.msg);
    return v;
}

/* ---- dkimverify_new ------------------------------------------------------ */

static void test_new(void **state)
{
    (void)state;
    char long_list[1100];
    memset(long_list, ' ', sizeof(long_list) - 1);
    long_list[sizeof(long_list) - 1] = '\0';
    memcpy(long_list, "127.0.0.1", 9);
    static const struct {
        const char *resolvers;
        int timeout_ms;
        int want;
    } rows[] = {
        { "", 1000, 0 },
        { NULL, 1000, 0 },
        { "  ", 1000, 0 },
        { "127.0.0.1", 1000, 0 },
        { "127.0.0.1:5353", 1000, 0 },
        { "127.0.0.1:5353, 127.0.0.2 ;[::1]:53", 1000, 0 },
        { "::1", 1000, 0 },
        { "[2001:db8::1]", 1000, 0 },
        { "127.0.0.1;", 1000, 0 },
        { "127.0.0.1", 1, 0 },
        { "127.0.0.1", 60000, 0 },
        { "localhost", 1000, AD_ERR_CONFIG },
        { "resolver.example.net:53", 1000, AD_ERR_CONFIG },
        { "127.0.0.1:0", 1000, AD_ERR_CONFIG },
        { "127.0.0.1:65536", 1000, AD_ERR_CONFIG },
        { "127.0.0.1:53x", 1000, AD_ERR_CONFIG },
        { "127.0.0.1:", 1000, AD_ERR_CONFIG },
        { "[::1", 1000, AD_ERR_CONFIG },
        { "[::1]x", 1000, AD_ERR_CONFIG },
        { "[::1]:", 1000, AD_ERR_CONFIG },
        { "[127.0.0.1]:53", 1000, AD_ERR_CONFIG },
        { "1.2.3.4.5", 1000, AD_ERR_CONFIG },
        { "1.2.3.4 5.6.7.8", 1000, AD_ERR_CONFIG },
        { "1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5,6.6.6.6,7.7.7.7,8.8.8.8,9.9.9.9", 1000, AD_ERR_CONFIG },
        { "127.0.0.1", 0, AD_ERR_CONFIG },
        { "127.0.0.1", -5, AD_ERR_CONFIG },
        { "127.0.0.1", 60001, AD_ERR_CONFIG },
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char row[160];
        snprintf(row, sizeof(row), "new(\"%s\", %d)", rows[i].resolvers ? rows[i].resolvers : "(null)",
                 rows[i].timeout_ms);
        struct dkimverify *v = (struct dkimverify *)&bad; /* must be reset to NULL on failure */
        struct ad_err err = { 0 };
        int rc = dkimverify_new(rows[i].resolvers, rows[i].timeout_ms, &v, &err);
        bad += check_int(row, "rc", rc, rows[i].want);
        if (rc != 0) {
            bad += check_int(row, "out is NULL", v == NULL, 1);
            bad += check_int(row, "err.code", err.code, rows[i].want);
            bad += check_int(row, "err.msg is set", err.msg[0] != '\0', 1);
        } else {
            bad += check_int(row, "out is set", v != NULL, 1);
            v = dkimverify_free(v);
        }
    }
    struct dkimverify *v = NULL;
    struct ad_err err = { 0 };
    bad += check_int("new(1099 bytes)", "rc", dkimverify_new(long_list, 1000, &v, &err), AD_ERR_CONFIG);
    bad += check_int("free(NULL)", "returns NULL", dkimverify_free(NULL) == NULL, 1);
    FAIL_IF_BAD(bad);
}

/* ---- verification against real signatures ------------------------------- */

struct want_sig {
    const char *domain;
    const char *selector;
    bool pass;
    const char *result; /* substring */
};

static int check_result(const char *row, int got, const struct dkimverify_result *r, int want_passes,
                        size_t want_n, const struct want_sig *want)
{
    int bad = check_sane(row, got, r);
    bad += check_int(row, "passes", got, want_passes);
    bad += check_int(row, "n_sigs", (long long)r->n_sigs, (long long)want_n);
    for (size_t i = 0; i < want_n && i < r->n_sigs; i++) {
        char field[64];
        snprintf(field, sizeof(field), "sigs[%zu].domain", i);
        bad += check_str(row, field, r->sigs[i].domain, want[i].domain);
        snprintf(field, sizeof(field), "sigs[%zu].selector", i);
        bad += check_str(row, field, r->sigs[i].selector, want[i].selector);
        snprintf(field, sizeof(field), "sigs[%zu].pass", i);
        bad += check_int(row, field, r->sigs[i].pass, want[i].pass);
        snprintf(field, sizeof(field), "sigs[%zu].result", i);
        bad += check_has(row, field, r->sigs[i].result, want[i].result);
    }
    return bad;
}

static void test_fixtures(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *file;
        int passes;
        size_t n;
        struct want_sig sigs[2];
    } rows[] = {
        { "good-lf.eml", 1, 1, { { "example.org", "sel1", true, "pass" } } },
        { "good-crlf.eml", 1, 1, { { "example.org", "sel1", true, "pass" } } },
        { "good-relaxed.eml", 1, 1, { { "example.org", "sel1", true, "pass" } } },
        { "good-simple.eml", 1, 1, { { "example.org", "sel1", true, "pass" } } },
        { "body-modified.eml", 0, 1, { { "example.org", "sel1", false, "body hash" } } },
        { "header-modified.eml", 0, 1, { { "example.org", "sel1", false, "bad signature" } } },
        { "nokey.eml", 0, 1, { { "example.org", "nokey", false, "no key" } } },
        { "revoked.eml", 0, 1, { { "example.org", "revoked", false, "key revoked" } } },
        { "notakey.eml", 0, 1, { { "example.org", "notakey", false, "bad key record" } } },
        { "wrongkey.eml", 0, 1, { { "example.net", "sel2", false, "bad signature" } } },
        { "two-sigs.eml", 1, 2,
          { { "example.net", "sel2", false, "bad signature" }, { "example.org", "sel1", true, "pass" } } },
        { "unsigned.eml", 0, 0, { { 0 } } },
    };
    struct dkimverify *v = verifier(f->resolver, 2000);
    int bad = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *msg = fixture(f, rows[i].file);
        struct dkimverify_result r;
        int got = dkimverify_message(v, msg, strlen(msg), &r);
        bad += check_result(rows[i].file, got, &r, rows[i].passes, rows[i].n, rows[i].sigs);
        g_free(msg);
    }
    v = dkimverify_free(v);
    FAIL_IF_BAD(bad);
}

/* The same signature verifies whatever the line ends: DKIM canonicalises
 * with CRLF, and dkimverify turns bare LF into CRLF first. */
static void test_line_endings(void **state)
{
    struct fx *f = *state;
    char *lf = fixture(f, "good-lf.eml");
    char *crlf = fixture(f, "good-crlf.eml");
    char *lf_as_crlf = convert_eol(lf, true);
    char *crlf_as_lf = convert_eol(crlf, false);
    /* Header block in CRLF, body in LF. */
    char *sep = strstr(lf_as_crlf, "\r\n\r\n");
    if (!sep)
        fail_msg("fixture: no header/body separator");
    char *body_lf = convert_eol(sep + 4, false);
    char *mixed = g_strdup_printf("%.*s%s", (int)(sep + 4 - lf_as_crlf), lf_as_crlf, body_lf);
    struct {
        const char *row;
        const char *msg;
    } rows[] = {
        { "LF signed, as CRLF", lf_as_crlf },
        { "CRLF signed, as LF", crlf_as_lf },
        { "CRLF header, LF body", mixed },
    };
    static const struct want_sig good = { "example.org", "sel1", true, "pass" };
    struct dkimverify *v = verifier(f->resolver, 2000);
    int bad = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct dkimverify_result r;
        int got = dkimverify_message(v, rows[i].msg, strlen(rows[i].msg), &r);
        bad += check_result(rows[i].row, got, &r, 1, 1, &good);
    }
    v = dkimverify_free(v);
    g_free(lf);
    g_free(crlf);
    g_free(lf_as_crlf);
    g_free(crlf_as_lf);
    g_free(body_lf);
    g_free(mixed);
    FAIL_IF_BAD(bad);
}

/* More DKIM-Signature headers than DKIMVERIFY_MAX_SIGS: only the first ones
 * (from the top) are verified and reported. */
static void test_max_sigs(void **state)
{
    struct fx *f = *state;
    char *msg = fixture(f, "good-lf.eml");
    char *sig = first_signature(msg);
    GString *many = g_string_new(NULL);
    for (int i = 0; i < DKIMVERIFY_MAX_SIGS + 3; i++)
        g_string_append(many, sig);
    g_string_append(many, msg);
    struct dkimverify *v = verifier(f->resolver, 2000);
    struct dkimverify_result r;
    int got = dkimverify_message(v, many->str, many->len, &r);
    int bad = check_sane("12 signatures", got, &r);
    bad += check_int("12 signatures", "n_sigs", (long long)r.n_sigs, DKIMVERIFY_MAX_SIGS);
    bad += check_int("12 signatures", "passes", got, DKIMVERIFY_MAX_SIGS);
    v = dkimverify_free(v);
    g_string_free(many, TRUE);
    g_free(sig);
    g_free(msg);
    FAIL_IF_BAD(bad);
}

/* Messages dkimverify does not hand to libopendkim, whose signatures are
 * still reported as not verified: not exactly one From header (a From added
 * above a signed one must not borrow its signature), and a signature whose
 * h= names DKIM-Signature (with h= naming every header field and one more,
 * libopendkim 2.11.0~beta2 writes past an array) or whose i= ends in "=" or
 * "=X" (its quoted-printable decoder reads past the value); both found by
 * fuzzing under valgrind. */
static void test_unverifiable(void **state)
{
    struct fx *f = *state;
    char *msg = fixture(f, "good-lf.eml");
    char *two = replace1(msg, "To: Bob", "From: Mallory <mallory@example.net>\nTo: Bob");
    char *none = replace1(msg, "From: Alice Example <alice@example.org>\n", "");
    char *folded = replace1(msg, "To: Bob", "from :\n\tmallory@example.net\nTo: Bob");
    char *covers = replace1(msg, "h=from : to", "h=dkim-signature : from : to");
    char *covers_folded = replace1(msg, "h=from : to", "h=DKIM-\n Signature:from : to");
    char *qp_end = replace1(msg, "i=@example.org;", "i=@example.org=;");
    char *qp_half = replace1(msg, "i=@example.org;", "i=@example.org=4;");
    char *qp_lower = replace1(msg, "i=@example.org;", "i=a=3d@example.org;");
    char *qp_second = replace1(msg, "q=dns/txt;", "q=dns/txt; I = x=\n\t;");
    struct {
        const char *row;
        const char *msg;
        const char *result;
    } rows[] = {
        { "two From headers", two, "not verified: 2 From headers" },
        { "no From header", none, "not verified: 0 From headers" },
        { "a second, folded from", folded, "not verified: 2 From headers" },
        { "h= names DKIM-Signature", covers, "not verified: a signature covers DKIM-Signature" },
        { "h= names DKIM-Signature, folded", covers_folded,
          "not verified: a signature covers DKIM-Signature" },
        { "i= ending in '='", qp_end, "not verified: malformed i= tag" },
        { "i= ending in '=4'", qp_half, "not verified: malformed i= tag" },
        { "i= with lower-case hex", qp_lower, "not verified: malformed i= tag" },
        { "a second I= ending in '='", qp_second, "not verified: malformed i= tag" },
    };
    struct dkimverify *v = verifier(f->resolver, 2000);
    int bad = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct dkimverify_result r;
        int got = dkimverify_message(v, rows[i].msg, strlen(rows[i].msg), &r);
        struct want_sig want = { "example.org", "sel1", false, rows[i].result };
        bad += check_result(rows[i].row, got, &r, 0, 1, &want);
    }
    v = dkimverify_free(v);
    g_free(two);
    g_free(none);
    g_free(folded);
    g_free(covers);
    g_free(covers_folded);
    g_free(qp_end);
    g_free(qp_half);
    g_free(qp_lower);
    g_free(qp_second);
    g_free(msg);
    FAIL_IF_BAD(bad);
}

/* ---- DNS failures ----------------------------------------------------------- */

static void test_dns_failures(void **state)
{
    struct fx *f = *state;
    int silent_port = 0;
    int silent = silent_udp(&silent_port);
    int closed = closed_udp_port();
    if (silent < 0 || closed < 0)
        fail_msg("cannot bind UDP sockets on 127.0.0.1");
    char *good = fixture(f, "good-lf.eml");
    char *two = fixture(f, "two-sigs.eml");
    /* The same signature eight times: one lookup, not eight. */
    char *sig = first_signature(good);
    GString *same = g_string_new(NULL);
    for (int i = 0; i < DKIMVERIFY_MAX_SIGS - 1; i++)
        g_string_append(same, sig);
    g_string_append(same, good);

    char silent_r[64], closed_r[64], silent_then_live[128], closed_then_live[128];
    snprintf(silent_r, sizeof(silent_r), "127.0.0.1:%d", silent_port);
    snprintf(closed_r, sizeof(closed_r), "127.0.0.1:%d", closed);
    snprintf(silent_then_live, sizeof(silent_then_live), "127.0.0.1:%d,%s", silent_port, f->resolver);
    snprintf(closed_then_live, sizeof(closed_then_live), "127.0.0.1:%d; %s", closed, f->resolver);
    struct {
        const char *row;
        const char *resolvers;
        int timeout_ms;
        const char *msg;
        int passes;
        size_t n;
        const char *result;  /* of every signature */
        long long max_ms;    /* elapsed at most */
        long long min_ms;    /* elapsed at least */
    } rows[] = {
        { "silent resolver", silent_r, 500, good, 0, 1, "DNS timeout", 1500, 450 },
        { "silent resolver, two domains", silent_r, 500, two, 0, 2, "DNS timeout", 2500, 900 },
        { "silent resolver, one key for 8 signatures", silent_r, 500, same->str, 0, DKIMVERIFY_MAX_SIGS,
          "DNS timeout", 1500, 450 },
        { "closed port", closed_r, 500, good, 0, 1, "DNS error", 1500, 0 },
        { "silent, then live resolver", silent_then_live, 2000, good, 1, 1, "pass", 2500, 0 },
        { "closed, then live resolver", closed_then_live, 2000, good, 1, 1, "pass", 2500, 0 },
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct dkimverify *v = verifier(rows[i].resolvers, rows[i].timeout_ms);
        struct dkimverify_result r;
        long long t0 = now_ms();
        int got = dkimverify_message(v, rows[i].msg, strlen(rows[i].msg), &r);
        long long ms = now_ms() - t0;
        bad += check_sane(rows[i].row, got, &r);
        bad += check_int(rows[i].row, "passes", got, rows[i].passes);
        bad += check_int(rows[i].row, "n_sigs", (long long)r.n_sigs, (long long)rows[i].n);
        for (size_t k = 0; k < r.n_sigs; k++)
            bad += check_has(rows[i].row, "result", r.sigs[k].result, rows[i].result);
        if (ms > rows[i].max_ms || ms < rows[i].min_ms) {
            print_error("%s: elapsed: got %lld ms, want %lld..%lld ms\n", rows[i].row, ms,
                        rows[i].min_ms, rows[i].max_ms);
            bad++;
        }
        v = dkimverify_free(v);
    }
    close(silent);
    g_string_free(same, TRUE);
    g_free(sig);
    g_free(good);
    g_free(two);
    FAIL_IF_BAD(bad);
}

/* Domains and selectors that cannot form a DNS name are never queried: with
 * a resolver that never answers, the verdict comes at once. */
static void test_bad_names(void **state)
{
    struct fx *f = *state;
    int silent_port = 0;
    int silent = silent_udp(&silent_port);
    if (silent < 0)
        fail_msg("cannot bind a UDP socket on 127.0.0.1");
    char resolvers[64];
    snprintf(resolvers, sizeof(resolvers), "127.0.0.1:%d", silent_port);
    char *msg = fixture(f, "good-lf.eml");
    char label64[65], long_sel[256];
    memset(label64, 'a', 64);
    label64[64] = '\0';
    /* Four 63-byte labels: each fine, but the name is over 253 bytes. */
    snprintf(long_sel, sizeof(long_sel), "%.63s.%.63s.%.63s.%.63s", label64, label64, label64, label64);
    char *sel_label64 = g_strdup_printf("s=%s;", label64);
    char *sel_long = g_strdup_printf("s=%s;", long_sel);
    struct {
        const char *row;
        const char *from;
        const char *to;
        const char *from2; /* a second replacement (i= must stay within d=) */
        const char *to2;
    } rows[] = {
        { "selector with '!'", "s=sel1;", "s=bad!sel;", NULL, NULL },
        { "selector with an empty label", "s=sel1;", "s=a..b;", NULL, NULL },
        { "selector ending in a dot", "s=sel1;", "s=sel1.;", NULL, NULL },
        { "selector with a 64-byte label", "s=sel1;", sel_label64, NULL, NULL },
        { "name over 253 bytes", "s=sel1;", sel_long, NULL, NULL },
        { "domain with an empty label", "d=example.org;", "d=example..org;", "i=@example.org;",
          "i=@example..org;" },
        { "domain with '/'", "d=example.org;", "d=exa/mple.org;", "i=@example.org;", "i=@exa/mple.org;" },
    };
    struct dkimverify *v = verifier(resolvers, 2000);
    int bad = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *m1 = replace1(msg, rows[i].from, rows[i].to);
        char *m2 = rows[i].from2 ? replace1(m1, rows[i].from2, rows[i].to2) : g_strdup(m1);
        struct dkimverify_result r;
        long long t0 = now_ms();
        int got = dkimverify_message(v, m2, strlen(m2), &r);
        long long ms = now_ms() - t0;
        bad += check_sane(rows[i].row, got, &r);
        bad += check_int(rows[i].row, "n_sigs", (long long)r.n_sigs, 1);
        if (r.n_sigs == 1)
            bad += check_has(rows[i].row, "result", r.sigs[0].result, "invalid domain or selector");
        if (ms > 1000) {
            print_error("%s: elapsed: got %lld ms, want no DNS query (< 1000 ms)\n", rows[i].row, ms);
            bad++;
        }
        g_free(m1);
        g_free(m2);
    }
    v = dkimverify_free(v);
    close(silent);
    g_free(sel_label64);
    g_free(sel_long);
    g_free(msg);
    FAIL_IF_BAD(bad);
}

/* ---- robustness ------------------------------------------------------------- */

static void test_garbage(void **state)
{
    struct fx *f = *state;
    struct dkimverify *v = verifier(f->resolver, 1000);
    int bad = 0;
    struct dkimverify_result r;

    /* NULL and empty input. */
    bad += check_int("NULL message", "return", dkimverify_message(v, NULL, 10, &r), 0);
    bad += check_int("NULL message", "n_sigs", (long long)r.n_sigs, 0);
    bad += check_int("empty message", "return", dkimverify_message(v, "", 0, &r), 0);
    bad += check_int("NULL verifier", "return", dkimverify_message(NULL, "x", 1, &r), 0);
    bad += check_int("NULL result", "return", dkimverify_message(v, "x", 1, NULL), 0);

    char *good = fixture(f, "good-lf.eml");
    char *two = fixture(f, "two-sigs.eml");
    char *crlf = fixture(f, "good-crlf.eml");
    char *sig = first_signature(good);

    /* Hand-made oddities. */
    GString *huge = g_string_new("DKIM-Signature: v=1; d=");
    for (int i = 0; i < 100000; i++)
        g_string_append_c(huge, 'a' + i % 26);
    g_string_append(huge, "; s=x\nFrom: a@example.org\n\nbody\n");
    GString *many = g_string_new(NULL);
    for (int i = 0; i < 5000; i++)
        g_string_append_printf(many, "X-H%d: v\n", i);
    g_string_append(many, sig);
    g_string_append(many, "From: a@example.org\n\nbody\n");
    char *nul_in_sig = g_strdup(two);
    char *at = strstr(nul_in_sig, "s=sel2");
    if (at)
        at[2] = '\0';
    size_t nul_len = strlen(two);
    const struct {
        const char *row;
        const char *msg;
        size_t len; /* 0: strlen() */
        int passes;
    } odd[] = {
        { "only a newline", "\n", 0, 0 },
        { "only CRLF", "\r\n", 0, 0 },
        { "CR only", "\r\r\r\r", 0, 0 },
        { "no colon", "DKIM-Signature\n\n", 0, 0 },
        { "empty DKIM-Signature", "DKIM-Signature:\nFrom: a@b.c\n\nx\n", 0, 0 },
        { "semicolons", "DKIM-Signature: ;;;;=;=\nFrom: a@b.c\n\nx\n", 0, 0 },
        { "tags without values", "DKIM-Signature: v=; a=; d=; s=; h=; bh=; b=\nFrom: a@b.c\n\n", 0, 0 },
        { "bad base64", "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=sel1; h=from; bh=!!!; b=***\n"
                        "From: a@example.org\n\nx\n", 0, 0 },
        { "unknown algorithm", "DKIM-Signature: v=1; a=rot13; d=example.org; s=sel1; h=from; bh=AA==; b=AA==\n"
                               "From: a@example.org\n\nx\n", 0, 0 },
        { "h= without from", "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=sel1; h=to; bh=AA==; b=AA==\n"
                             "From: a@example.org\n\nx\n", 0, 0 },
        { "l= past the body", "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=sel1; h=from; l=99999; "
                              "bh=AA==; b=AA==\nFrom: a@example.org\n\nx\n", 0, 0 },
        { "8-bit header name", "\xff\xfe: x\nFrom: a@example.org\n\nx\n", 0, 0 },
        { "header without end", "From: a@example.org", 0, 0 },
        { "100 KB d=", huge->str, 0, 0 },
        { "5000 headers", many->str, 0, 0 },
        /* In the failing signature: the other one still passes. */
        { "NUL inside a signature", nul_in_sig, nul_len, 1 },
    };
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        size_t len = odd[i].len ? odd[i].len : strlen(odd[i].msg);
        int got = dkimverify_message(v, odd[i].msg, len, &r);
        bad += check_sane(odd[i].row, got, &r);
        bad += check_int(odd[i].row, "passes", got, odd[i].passes);
    }

    /* Every prefix of a signed message with two signatures, LF and CRLF. */
    const char *whole[] = { two, crlf };
    for (size_t w = 0; w < 2; w++) {
        size_t len = strlen(whole[w]);
        for (size_t n = 1; n < len; n++) {
            char row[64];
            snprintf(row, sizeof(row), "prefix %zu/%zu of message %zu", n, len, w);
            int got = dkimverify_message(v, whole[w], n, &r);
            bad += check_sane(row, got, &r);
            if (bad > 20)
                fail_msg("too many mismatches");
        }
    }

    /* Random bytes, and random mutations of a signed message. */
    GRand *rnd = g_rand_new_with_seed(20261129);
    char buf[4096];
    for (int i = 0; i < 300; i++) {
        size_t len = (size_t)g_rand_int_range(rnd, 1, (gint32)sizeof(buf));
        for (size_t k = 0; k < len; k++) {
            guint32 x = g_rand_int(rnd);
            /* Mostly header-like bytes, so that libopendkim gets some way. */
            static const char alphabet[] = "DKIM-Signature:=; \r\n\tvadshbl1.@xyz";
            buf[k] = (x & 3) == 0 ? (char)(x >> 8) : alphabet[(x >> 8) % (sizeof(alphabet) - 1)];
        }
        char row[64];
        snprintf(row, sizeof(row), "random bytes #%d", i);
        int got = dkimverify_message(v, buf, len, &r);
        bad += check_sane(row, got, &r);
    }
    size_t tlen = strlen(two);
    for (int i = 0; i < 600; i++) {
        GString *m = g_string_new_len(two, (gssize)tlen);
        int edits = g_rand_int_range(rnd, 1, 6);
        for (int e = 0; e < edits && m->len > 0; e++) {
            gsize pos = (gsize)g_rand_int_range(rnd, 0, (gint32)m->len);
            switch (g_rand_int_range(rnd, 0, 4)) {
            case 0:
                m->str[pos] = (char)g_rand_int_range(rnd, 0, 256);
                break;
            case 1:
                g_string_erase(m, (gssize)pos, 1);
                break;
            case 2:
                g_string_insert_c(m, (gssize)pos, "\n\r;=:\t "[g_rand_int_range(rnd, 0, 7)]);
                break;
            default: {
                gsize n = (gsize)g_rand_int_range(rnd, 1, 40);
                g_string_erase(m, (gssize)pos, (gssize)MIN(m->len - pos, n));
                break;
            }
            }
        }
        char row[64];
        snprintf(row, sizeof(row), "mutation #%d", i);
        int got = dkimverify_message(v, m->str, m->len, &r);
        bad += check_sane(row, got, &r);
        g_string_free(m, TRUE);
        if (bad > 20)
            fail_msg("too many mismatches");
    }
    g_rand_free(rnd);

    v = dkimverify_free(v);
    g_string_free(huge, TRUE);
    g_string_free(many, TRUE);
    g_free(nul_in_sig);
    g_free(sig);
    g_free(good);
    g_free(two);
    g_free(crlf);
    FAIL_IF_BAD(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new),
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_line_endings),
        cmocka_unit_test(test_max_sigs),
        cmocka_unit_test(test_unverifiable),
        cmocka_unit_test(test_dns_failures),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

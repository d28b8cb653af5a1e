/*
 * transport_test.c: tests of mailer.c, webhook.c and hookexec.c against real
 * servers and programs on 127.0.0.1, each test in its own temporary directory
 * with its own server process, stopped and reaped in the teardown.
 *   mailer: Postfix's smtp-sink started through tests/lib/smtp_sink.sh (LF,
 *   CRLF, UTF-8 and dot-line messages: dumped header, body and envelope), a
 *   raw SMTP listener (a short Python script below) that records the DATA bytes
 *   to check CRLF conversion and dot stuffing on the wire, a closed port, 4xx
 *   and 5xx answers to different commands, a server slower than the timeout,
 *   and STARTTLS required but not offered.
 *   webhook: tests/lib/webhook_receiver.py (headers, body, the signature as the
 *   receiver recomputes it, an unsigned post, status codes, a 503 then a retry
 *   with the same key), no server, a header-breaking event name, and
 *   webhook_signature() against values computed with Python's hmac module.
 *   hookexec: output capture, PATH lookup, exit codes, signals, timeouts with
 *   SIGTERM and with SIGKILL, programs that cannot start, an argument with
 *   spaces and ';' passed as one, the fixed environment, stdin from /dev/null,
 *   closed descriptors, large output, a background grandchild, and no child
 *   left unreaped.
 * While the shell helper runs, the process is a child subreaper, so that the
 * smtp-sink it leaves behind is our child and can be reaped. Failures print
 * "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "act/hookexec.h"
#include "act/mailer.h"
#include "act/webhook.h"

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

/* A printable form of s for messages; g_free it. */
static char *esc(const char *s)
{
    if (!s)
        return g_strdup("NULL");
    char *e = g_strescape(s, NULL);
    char *out = g_strdup_printf("\"%s\"", e);
    g_free(e);
    return out;
}

static int check_str(const char *row, const char *field, const char *got, const char *want)
{
    if ((!got && !want) || (got && want && strcmp(got, want) == 0))
        return 0;
    char *g = esc(got), *w = esc(want);
    print_error("%s: %s: got %s, want %s\n", row, field, g, w);
    g_free(g);
    g_free(w);
    return 1;
}

static int check_has(const char *row, const char *field, const char *got, const char *want_sub)
{
    if (!want_sub || (got && strstr(got, want_sub)))
        return 0;
    char *g = esc(got), *w = esc(want_sub);
    print_error("%s: %s: got %s, want it to contain %s\n", row, field, g, w);
    g_free(g);
    g_free(w);
    return 1;
}

static int check_int(const char *row, const char *field, long long got, long long want)
{
    if (got == want)
        return 0;
    print_error("%s: %s: got %lld, want %lld\n", row, field, got, want);
    return 1;
}

static const char *rc_name(int rc)
{
    switch (rc) {
    case 0:
        return "0";
    case AD_ERR_BUSY:
        return "AD_ERR_BUSY";
    case AD_ERR_PARSE:
        return "AD_ERR_PARSE";
    case AD_ERR_USAGE:
        return "AD_ERR_USAGE";
    case AD_ERR_NOMEM:
        return "AD_ERR_NOMEM";
    }
    return "other";
}

static int check_rc(const char *row, int got, int want, const struct ad_err *err)
{
    if (got == want)
        return 0;
    print_error("%s: rc: got %s (%d, \"%s\"), want %s\n", row, rc_name(got), got, err->msg,
                rc_name(want));
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
    const char *tail = strstr(f, "/src/act/transport_test.c");
    return tail ? g_strndup(f, (gsize)(tail - f)) : g_strdup(".");
}

/* A port on 127.0.0.1 that nothing listens on right now. */
static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    close(s);
    return ntohs(a.sin_port);
}

/* Starts argv with stdin from /dev/null and stdout/stderr appended to log. */
static pid_t spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int in = open("/dev/null", O_RDONLY);
    int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0)
        _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    execvp(argv[0], argv);
    _exit(127);
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

/* Waits up to ms for path to exist; returns its contents (g_free) or NULL. */
static char *wait_file(const char *path, int ms)
{
    long long end = now_ms() + ms;
    do {
        char *text = NULL;
        if (g_file_get_contents(path, &text, NULL, NULL))
            return text;
        usleep(20000);
    } while (now_ms() < end);
    return NULL;
}

static void rm_rf(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (d) {
        const char *name;
        while ((name = g_dir_read_name(d)) != NULL) {
            char *p = g_build_filename(dir, name, NULL);
            if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
                rm_rf(p);
            else
                g_unlink(p);
            g_free(p);
        }
        g_dir_close(d);
    }
    g_rmdir(dir);
}

/* ---- fixture: a temporary directory and at most one server ------------ */

struct fx {
    char *dir;
    char *src;
    pid_t srv;   /* the server process, or 0 */
    int port;
};

static int fx_setup(void **state)
{
    struct fx *f = g_new0(struct fx, 1);
    f->dir = g_strdup("/tmp/ad-transport-test-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->src = source_dir();
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    stop(f->srv);
    rm_rf(f->dir);
    g_free(f->dir);
    g_free(f->src);
    g_free(f);
    return 0;
}

/* ---- mailer ------------------------------------------------------------ */

/* Starts smtp-sink with extra options through tests/lib/smtp_sink.sh, dumping
 * into f->dir/sink. The helper's shell exits at once; the sink then becomes
 * our child (we are a subreaper meanwhile), so stop() can reap it. */
static void sink_start(struct fx *f, const char *opts)
{
    char *helper = g_build_filename(f->src, "tests", "lib", "smtp_sink.sh", NULL);
    char *dir = g_build_filename(f->dir, "sink", NULL);
    char *q_helper = g_shell_quote(helper), *q_dir = g_shell_quote(dir),
         *q_opts = g_shell_quote(opts);
    char *cmd = g_strdup_printf("bash -c '. \"$1\" && smtp_sink_start \"$2\" $3 && echo "
                                "\"$SMTP_SINK_PORT $SMTP_SINK_PID\"' _ %s %s %s",
                                q_helper, q_dir, q_opts);
    /* Subreaper only while the helper's shell runs: the sink it leaves behind
     * becomes our child, but the grandchildren of hooks later do not. */
    prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L);
    FILE *p = popen(cmd, "r");
    int port = 0, pid = 0;
    bool ok = p && fscanf(p, "%d %d", &port, &pid) == 2;
    if (p)
        pclose(p);
    prctl(PR_SET_CHILD_SUBREAPER, 0L, 0L, 0L, 0L);
    g_free(helper);
    g_free(dir);
    g_free(q_helper);
    g_free(q_dir);
    g_free(q_opts);
    g_free(cmd);
    if (!ok || port <= 0 || pid <= 0)
        fail_msg("smtp_sink_start %s: got no port and pid, want both", opts);
    f->port = port;
    f->srv = pid;
}

/* Reads the one dump smtp-sink wrote since the last call and removes it. */
static char *sink_take_dump(struct fx *f, int *n_files)
{
    char *dir = g_build_filename(f->dir, "sink", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    GString *text = NULL;
    *n_files = 0;
    if (d) {
        const char *name;
        while ((name = g_dir_read_name(d)) != NULL) {
            if (strncmp(name, "msg.", 4) != 0)
                continue;
            char *p = g_build_filename(dir, name, NULL);
            char *contents = NULL;
            gsize len = 0;
            if (++*n_files == 1 && g_file_get_contents(p, &contents, &len, NULL))
                text = g_string_new_len(contents, (gssize)len);
            g_free(contents);
            g_unlink(p);
            g_free(p);
        }
        g_dir_close(d);
    }
    g_free(dir);
    return text ? g_string_free(text, FALSE) : NULL;
}

/* The value of the smtp-sink header `name` ("X-Mail-Args") in a dump; g_free. */
static char *dump_field(const char *dump, const char *name)
{
    char *key = g_strdup_printf("%s: ", name);
    const char *p = dump ? strstr(dump, key) : NULL;
    char *v = NULL;
    if (p) {
        p += strlen(key);
        v = g_strndup(p, strcspn(p, "\n"));
    }
    g_free(key);
    return v;
}

/* The message in a dump: what follows the Received header's two TAB lines;
 * g_free it. */
static char *dump_message(const char *dump)
{
    const char *by = dump ? strstr(dump, "\n\tby ") : NULL;
    const char *date = by ? strstr(by + 1, "\n\t") : NULL;
    const char *end = date ? strchr(date + 1, '\n') : NULL;
    return end ? g_strdup(end + 1) : NULL;
}

static struct mailer_cfg sink_cfg(char *url, size_t size, int port)
{
    snprintf(url, size, "smtp://127.0.0.1:%d", port);
    struct mailer_cfg c = { .smarthost = url, .verify_tls = true, .timeout_ms = 5000 };
    return c;
}

struct mail_row {
    const char *name;
    const char *msg;
    const char *want; /* the message in the dump: LF line ends, then smtp-sink's empty line */
};

static const struct mail_row mail_rows[] = {
    { "LF line ends", "From: desk@hoster.example\nTo: alice@customer.example\nSubject: LF\n\n"
                      "line one\n.a line with a leading dot\n\nlast line\n",
      "From: desk@hoster.example\nTo: alice@customer.example\nSubject: LF\n\n"
      "line one\n.a line with a leading dot\n\nlast line\n\n" },
    { "CRLF line ends, UTF-8 body",
      "From: desk@hoster.example\r\nTo: alice@customer.example\r\nSubject: CRLF\r\n"
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln — ☃\r\n.\r\nende\r\n",
      "From: desk@hoster.example\nTo: alice@customer.example\nSubject: CRLF\n"
      "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
      "Content-Transfer-Encoding: 8bit\n\nGrüße aus Köln — ☃\n.\nende\n\n" },
    { "no final line end", "Subject: short\n\nno newline at the end",
      "Subject: short\n\nno newline at the end\n\n" },
};

static void test_mailer_sink(void **state)
{
    struct fx *f = *state;
    int bad = 0;
    char url[64];
    sink_start(f, "");
    struct mailer_cfg c = sink_cfg(url, sizeof(url), f->port);
    for (size_t i = 0; i < sizeof(mail_rows) / sizeof(mail_rows[0]); i++) {
        const struct mail_row *r = &mail_rows[i];
        struct ad_err err = { 0 };
        int rc = mailer_send(&c, "bounces@hoster.example", "alice@customer.example", r->msg,
                             strlen(r->msg), &err);
        bad += check_rc(r->name, rc, 0, &err);
        int n_files = 0;
        char *dump = sink_take_dump(f, &n_files);
        bad += check_int(r->name, "dump files", n_files, 1);
        char *mail = dump_field(dump, "X-Mail-Args");
        char *rcpt = dump_field(dump, "X-Rcpt-Args");
        bad += check_str(r->name, "envelope sender", mail, "<bounces@hoster.example>");
        bad += check_str(r->name, "envelope recipient", rcpt, "<alice@customer.example>");
        char *message = dump_message(dump);
        bad += check_str(r->name, "message", message, r->want);
        g_free(message);
        bad += check_has(r->name, "dump", dump, "X-Client-Addr: 127.0.0.1\n");
        g_free(mail);
        g_free(rcpt);
        g_free(dump);
    }
    FAIL_IF_BAD(bad);
}

/* A minimal SMTP server that records the raw DATA bytes (up to and including
 * the final ".\r\n") of message N in OUTDIR/raw.N before answering 250; it
 * writes its port to PORTFILE. smtp-sink drops every CR, so it cannot show
 * whether a CR was doubled. */
static const char raw_smtp_py[] =
    "import os, socket, sys\n"
    "portfile, outdir = sys.argv[1], sys.argv[2]\n"
    "s = socket.socket()\n"
    "s.bind(('127.0.0.1', 0))\n"
    "s.listen(8)\n"
    "open(portfile + '.tmp', 'w').write(str(s.getsockname()[1]))\n"
    "os.rename(portfile + '.tmp', portfile)\n"
    "n = 0\n"
    "while True:\n"
    "    c, _ = s.accept()\n"
    "    f = c.makefile('rb')\n"
    "    say = lambda t: c.sendall(t.encode() + b'\\r\\n')\n"
    "    say('220 raw ESMTP')\n"
    "    while True:\n"
    "        line = f.readline()\n"
    "        if not line:\n"
    "            break\n"
    "        cmd = line[:4].upper()\n"
    "        if cmd == b'DATA':\n"
    "            say('354 go ahead')\n"
    "            data = b''\n"
    "            while True:\n"
    "                l = f.readline()\n"
    "                data += l\n"
    "                if not l or l == b'.\\r\\n':\n"
    "                    break\n"
    "            n += 1\n"
    "            open(os.path.join(outdir, 'raw.%d' % n), 'wb').write(data)\n"
    "            say('250 2.0.0 queued')\n"
    "        elif cmd == b'QUIT':\n"
    "            say('221 bye')\n"
    "            break\n"
    "        else:\n"
    "            say('250 ok')\n"
    "    c.close()\n";

struct wire_row {
    const char *name;
    const char *msg;
    const char *want; /* the DATA bytes on the wire */
};

static const struct wire_row wire_rows[] = {
    { "LF becomes CRLF, dot stuffed", "Subject: t\n\nline\n.dot\n",
      "Subject: t\r\n\r\nline\r\n..dot\r\n.\r\n" },
    { "CRLF kept, not doubled", "Subject: t\r\n\r\nline\r\n.dot\r\n",
      "Subject: t\r\n\r\nline\r\n..dot\r\n.\r\n" },
    { "mixed line ends", "Subject: t\r\n\nline\nend\r\n",
      "Subject: t\r\n\r\nline\r\nend\r\n.\r\n" },
    { "lone CR", "Subject: t\r\rx\n", "Subject: t\r\n\r\nx\r\n.\r\n" },
    { "no final line end", "Subject: t\n\nend", "Subject: t\r\n\r\nend\r\n.\r\n" },
    { "LF.LF cannot end the data", "Subject: t\n\na\n.\nb\n",
      "Subject: t\r\n\r\na\r\n..\r\nb\r\n.\r\n" },
    { "UTF-8 bytes unchanged", "Subject: t\n\nGrüße ☃\n",
      "Subject: t\r\n\r\nGrüße ☃\r\n.\r\n" },
};

static void test_mailer_wire(void **state)
{
    struct fx *f = *state;
    int bad = 0;
    char *portfile = g_build_filename(f->dir, "port", NULL);
    char *log = g_build_filename(f->dir, "raw.log", NULL);
    char *argv[] = { "python3", "-c", (char *)raw_smtp_py, portfile, f->dir, NULL };
    f->srv = spawn(argv, log);
    char *port = wait_file(portfile, 5000);
    if (!port)
        fail_msg("raw SMTP server: got no port file, want one");
    char url[64];
    struct mailer_cfg c = sink_cfg(url, sizeof(url), atoi(port));
    for (size_t i = 0; i < sizeof(wire_rows) / sizeof(wire_rows[0]); i++) {
        const struct wire_row *r = &wire_rows[i];
        struct ad_err err = { 0 };
        int rc = mailer_send(&c, "b@hoster.example", "r@customer.example", r->msg, strlen(r->msg),
                             &err);
        bad += check_rc(r->name, rc, 0, &err);
        char *name = g_strdup_printf("raw.%zu", i + 1);
        char *path = g_build_filename(f->dir, name, NULL);
        char *got = NULL;
        g_file_get_contents(path, &got, NULL, NULL);
        bad += check_str(r->name, "DATA bytes", got, r->want);
        g_free(got);
        g_free(path);
        g_free(name);
    }
    g_free(port);
    g_free(portfile);
    g_free(log);
    FAIL_IF_BAD(bad);
}

struct fail_row {
    const char *name;
    const char *opts;   /* smtp-sink options */
    bool require_tls;
    long timeout_ms;
    int want_rc;
    const char *want_sub; /* in err.msg */
    long long max_ms;
};

static const struct fail_row fail_rows[] = {
    { "5xx to RCPT", "-f RCPT", false, 5000, AD_ERR_PARSE, "500", 3000 },
    { "5xx to MAIL", "-f MAIL", false, 5000, AD_ERR_PARSE, "500", 3000 },
    { "5xx to the final dot", "-f .", false, 5000, AD_ERR_PARSE, "500 5.3.0", 3000 },
    { "4xx to RCPT", "-r RCPT", false, 5000, AD_ERR_BUSY, "450 4.3.0", 3000 },
    { "4xx to DATA", "-r DATA", false, 5000, AD_ERR_BUSY, "450", 3000 },
    { "4xx to the final dot", "-r .", false, 5000, AD_ERR_BUSY, "450", 3000 },
    { "421 and disconnect at MAIL", "-Q MAIL", false, 5000, AD_ERR_BUSY, "421", 3000 },
    { "4xx greeting", "-r CONNECT", false, 5000, AD_ERR_BUSY, "450", 3000 },
    { "disconnect without a reply", "-q RCPT", false, 5000, AD_ERR_BUSY, NULL, 3000 },
    { "STARTTLS required, not offered", "", true, 5000, AD_ERR_BUSY, "127.0.0.1", 3000 },
    { "slower than the timeout", "-w 5", false, 500, AD_ERR_BUSY, "timed out", 1500 },
};

static void test_mailer_failures(void **state)
{
    struct fx *f = *state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(fail_rows) / sizeof(fail_rows[0]); i++) {
        const struct fail_row *r = &fail_rows[i];
        sink_start(f, r->opts);
        char url[64];
        struct mailer_cfg c = sink_cfg(url, sizeof(url), f->port);
        c.require_tls = r->require_tls;
        c.timeout_ms = r->timeout_ms;
        struct ad_err err = { 0 };
        const char *msg = "Subject: x\n\nbody\n";
        long long t0 = now_ms();
        int rc = mailer_send(&c, "b@hoster.example", "r@customer.example", msg, strlen(msg), &err);
        long long took = now_ms() - t0;
        bad += check_rc(r->name, rc, r->want_rc, &err);
        bad += check_int(r->name, "err.code", err.code, r->want_rc);
        bad += check_has(r->name, "err.msg", err.msg, r->want_sub);
        if (took > r->max_ms) {
            print_error("%s: took %lld ms, want at most %lld\n", r->name, took, r->max_ms);
            bad++;
        }
        stop(f->srv);
        f->srv = 0;
    }
    FAIL_IF_BAD(bad);
}

static void test_mailer_refused(void **state)
{
    int bad = 0;
    char url[64];
    struct mailer_cfg c = sink_cfg(url, sizeof(url), free_port());
    struct ad_err err = { 0 };
    const char *msg = "Subject: x\n\nbody\n";
    int rc = mailer_send(&c, "b@hoster.example", "r@customer.example", msg, strlen(msg), &err);
    bad += check_rc("closed port", rc, AD_ERR_BUSY, &err);
    bad += check_has("closed port", "err.msg", err.msg, url);

    struct mailer_cfg none = { .smarthost = "", .timeout_ms = 1000 };
    rc = mailer_send(&none, "b@hoster.example", "r@customer.example", msg, strlen(msg), &err);
    bad += check_rc("no smarthost", rc, AD_ERR_BUSY, &err);

    rc = mailer_send(&c, "b@hoster.example", "r@customer.example>\r\nRCPT TO:<x@y", msg,
                     strlen(msg), &err);
    bad += check_rc("CRLF in the recipient", rc, AD_ERR_PARSE, &err);
    (void)state;
    FAIL_IF_BAD(bad);
}

/* ---- webhook ----------------------------------------------------------- */

/* Starts tests/lib/webhook_receiver.py with extra arguments (NULL-terminated). */
static void receiver_start(struct fx *f, const char *const extra[])
{
    char *script = g_build_filename(f->src, "tests", "lib", "webhook_receiver.py", NULL);
    char *portfile = g_build_filename(f->dir, "hook.port", NULL);
    char *logfile = g_build_filename(f->dir, "hook.jsonl", NULL);
    char *log = g_build_filename(f->dir, "hook.out", NULL);
    char *argv[16] = { "python3", script, portfile, logfile };
    size_t n = 4;
    for (size_t i = 0; extra && extra[i] && n + 1 < 16; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    g_unlink(portfile);
    g_unlink(logfile);
    f->srv = spawn(argv, log);
    char *port = wait_file(portfile, 5000);
    f->port = port ? atoi(port) : 0;
    g_free(port);
    g_free(script);
    g_free(portfile);
    g_free(logfile);
    g_free(log);
    if (f->port <= 0)
        fail_msg("webhook_receiver.py: got no port, want one");
}

/* The receiver's log lines as a JSON array (json_decref it). */
static json_t *receiver_log(struct fx *f)
{
    char *logfile = g_build_filename(f->dir, "hook.jsonl", NULL);
    char *text = NULL;
    json_t *all = json_array();
    if (g_file_get_contents(logfile, &text, NULL, NULL)) {
        char **lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++) {
            if (**l)
                json_array_append_new(all, json_loads(*l, 0, NULL));
        }
        g_strfreev(lines);
    }
    g_free(text);
    g_free(logfile);
    return all;
}

static const char *jstr(json_t *rec, const char *hdr)
{
    return json_string_value(json_object_get(json_object_get(rec, "headers"), hdr));
}

static void test_webhook_signed(void **state)
{
    struct fx *f = *state;
    int bad = 0;
    const char *extra[] = { "--secret", "t0p-s3cret", NULL };
    receiver_start(f, extra);
    char url[80];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/abusedesk/events", f->port);
    struct webhook_cfg c = { .url = url, .secret = "t0p-s3cret", .timeout_ms = 5000 };
    const char *body = "{\"event\":\"lock\",\"account\":\"alice@customer.example\","
                       "\"reason\":\"Beschwerden über Spam\"}";
    struct ad_err err = { 0 };
    time_t t0 = time(NULL);
    int rc = webhook_post(&c, "lock", "inc-42-lock-1", body, &err);
    bad += check_rc("signed post", rc, 0, &err);

    json_t *log = receiver_log(f);
    bad += check_int("signed post", "requests logged", (long long)json_array_size(log), 1);
    json_t *rec = json_array_get(log, 0);
    bad += check_str("signed post", "path", json_string_value(json_object_get(rec, "path")),
                     "/abusedesk/events");
    bad += check_str("signed post", "body", json_string_value(json_object_get(rec, "body")), body);
    bad += check_str("signed post", "content-type", jstr(rec, "content-type"),
                     "application/json");
    bad += check_str("signed post", "event", jstr(rec, "x-abusedesk-event"), "lock");
    bad += check_str("signed post", "delivery", jstr(rec, "x-abusedesk-delivery"),
                     "inc-42-lock-1");
    const char *ts = jstr(rec, "x-abusedesk-timestamp");
    long long tsv = ts ? atoll(ts) : 0;
    if (tsv < (long long)t0 - 5 || tsv > (long long)t0 + 5) {
        print_error("signed post: timestamp: got %s, want about %lld\n", ts ? ts : "NULL",
                    (long long)t0);
        bad++;
    }
    char *want_sig = webhook_signature("t0p-s3cret", tsv, body);
    bad += check_str("signed post", "signature", jstr(rec, "x-abusedesk-signature"), want_sig);
    g_free(want_sig);
    json_t *ok = json_object_get(rec, "signature_ok");
    bad += check_str("signed post", "signature_ok (the receiver's hmac)",
                     json_is_true(ok) ? "true" : "false", "true");
    json_decref(log);
    FAIL_IF_BAD(bad);
}

static void test_webhook_unsigned(void **state)
{
    struct fx *f = *state;
    int bad = 0;
    receiver_start(f, NULL);
    char url[80];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", f->port);
    struct webhook_cfg c = { .url = url, .secret = "", .timeout_ms = 5000 };
    struct ad_err err = { 0 };
    int rc = webhook_post(&c, "alert", "k1", "{}", &err);
    bad += check_rc("unsigned post", rc, 0, &err);
    json_t *log = receiver_log(f);
    json_t *rec = json_array_get(log, 0);
    bad += check_str("unsigned post", "signature header", jstr(rec, "x-abusedesk-signature"),
                     NULL);
    bad += check_str("unsigned post", "event", jstr(rec, "x-abusedesk-event"), "alert");
    bad += check_int("unsigned post", "signature_ok is null",
                     json_is_null(json_object_get(rec, "signature_ok")), 1);
    json_decref(log);
    FAIL_IF_BAD(bad);
}

struct status_row {
    const char *status;
    int want_rc;
};

static const struct status_row status_rows[] = {
    { "200", 0 },           { "204", 0 },           { "503", AD_ERR_BUSY },
    { "500", AD_ERR_BUSY }, { "429", AD_ERR_BUSY }, { "408", AD_ERR_BUSY },
    { "400", AD_ERR_PARSE }, { "404", AD_ERR_PARSE }, { "301", AD_ERR_PARSE },
};

static void test_webhook_status(void **state)
{
    struct fx *f = *state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(status_rows) / sizeof(status_rows[0]); i++) {
        const struct status_row *r = &status_rows[i];
        const char *extra[] = { "--status", r->status, NULL };
        receiver_start(f, extra);
        char url[80], name[32];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", f->port);
        snprintf(name, sizeof(name), "HTTP %s", r->status);
        struct webhook_cfg c = { .url = url, .secret = "s", .timeout_ms = 5000 };
        struct ad_err err = { 0 };
        int rc = webhook_post(&c, "lock", "k", "{}", &err);
        bad += check_rc(name, rc, r->want_rc, &err);
        if (r->want_rc != 0)
            bad += check_has(name, "err.msg", err.msg, r->status);
        stop(f->srv);
        f->srv = 0;
    }
    FAIL_IF_BAD(bad);
}

static void test_webhook_retry(void **state)
{
    struct fx *f = *state;
    int bad = 0;
    const char *extra[] = { "--fail-first", "1", "--secret", "s", NULL };
    receiver_start(f, extra);
    char url[80];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", f->port);
    struct webhook_cfg c = { .url = url, .secret = "s", .timeout_ms = 5000 };
    struct ad_err err = { 0 };
    int rc1 = webhook_post(&c, "unlock", "inc-7-unlock", "{\"n\":1}", &err);
    bad += check_rc("first try", rc1, AD_ERR_BUSY, &err);
    int rc2 = webhook_post(&c, "unlock", "inc-7-unlock", "{\"n\":1}", &err);
    bad += check_rc("retry", rc2, 0, &err);
    json_t *log = receiver_log(f);
    bad += check_int("retry", "requests logged", (long long)json_array_size(log), 2);
    for (size_t i = 0; i < json_array_size(log); i++) {
        json_t *rec = json_array_get(log, i);
        bad += check_str("retry", "same delivery key", jstr(rec, "x-abusedesk-delivery"),
                         "inc-7-unlock");
        bad += check_int("retry", "signature_ok", json_is_true(json_object_get(rec,
                                                                              "signature_ok")),
                         1);
    }
    json_decref(log);
    FAIL_IF_BAD(bad);
}

static void test_webhook_no_server(void **state)
{
    int bad = 0;
    char url[80];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", free_port());
    struct webhook_cfg c = { .url = url, .secret = "s", .timeout_ms = 2000 };
    struct ad_err err = { 0 };
    int rc = webhook_post(&c, "lock", "k", "{}", &err);
    bad += check_rc("no server", rc, AD_ERR_BUSY, &err);
    bad += check_has("no server", "err.msg", err.msg, url);
    rc = webhook_post(&c, "lock\r\nX-Evil: 1", "k", "{}", &err);
    bad += check_rc("CRLF in the event", rc, AD_ERR_PARSE, &err);
    rc = webhook_post(&c, "lock", "", "{}", &err);
    bad += check_rc("empty key", rc, AD_ERR_PARSE, &err);
    (void)state;
    FAIL_IF_BAD(bad);
}

struct sig_row {
    const char *secret;
    int64_t ts;
    const char *body;
    const char *want; /* python3: "sha256=" + hmac.new(k, f"{ts}.{body}", sha256).hexdigest() */
};

static void test_webhook_signature_vectors(void **state)
{
    char long_key[101] = { 0 };
    memset(long_key, 'k', 100);
    const struct sig_row rows[] = {
        { "s3cret", 1700000000, "{\"a\":1}",
          "sha256=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940" },
        { "", 0, "", "sha256=b849d5a581847b281957065739df36df2463d1977ea8d6e1e4e6cf33fadc68c3" },
        { long_key, 1234567890, "{\"note\":\"Grüße\"}",
          "sha256=65976fc8449c075461f4ccec771e53448dfcea4e35bad1e83f693d222f300bbd" },
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char name[32];
        snprintf(name, sizeof(name), "vector %zu", i + 1);
        char *got = webhook_signature(rows[i].secret, rows[i].ts, rows[i].body);
        bad += check_str(name, "signature", got, rows[i].want);
        g_free(got);
    }
    (void)state;
    FAIL_IF_BAD(bad);
}

/* ---- hookexec ---------------------------------------------------------- */

/* True when this process has no child left, reaped or not. */
static bool no_children(void)
{
    return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

struct hook_row {
    const char *name;
    const char *argv[8];
    long timeout_ms;
    int want_rc;
    const char *want_msg; /* exact err.msg, or NULL */
    const char *want_sub; /* part of err.msg, or NULL */
    long long max_ms;
};

#define HOOK_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const struct hook_row hook_rows[] = {
    { "echo", { "/bin/echo", "hello", "world" }, 2000, 0, "exit 0: hello world", NULL, 1000 },
    { "found in PATH", { "echo", "via", "PATH" }, 2000, 0, "exit 0: via PATH", NULL, 1000 },
    { "one argument, no shell", { "/usr/bin/printf", "%s|", "a b; rm -rf /" }, 2000, 0,
      "exit 0: a b; rm -rf /|", NULL, 1000 },
    { "UTF-8 output", { "/usr/bin/printf", "Grüße\\n" }, 2000, 0, "exit 0: Grüße", NULL, 1000 },
    { "false", { "/bin/false" }, 2000, AD_ERR_BUSY, NULL, "exit 1", 1000 },
    { "stdout and stderr, exit 3", { "/bin/sh", "-c", "echo out; echo err >&2; exit 3" }, 2000,
      AD_ERR_BUSY, "/bin/sh: exit 3: out\\nerr", NULL, 1000 },
    { "fixed environment", { "/usr/bin/env" }, 2000, 0,
      "exit 0: PATH=" HOOK_PATH "\\nLANG=C.UTF-8", NULL, 1000 },
    { "stdin is /dev/null", { "/bin/cat" }, 2000, 0, "exit 0", NULL, 1000 },
    { "killed by a signal", { "/bin/sh", "-c", "kill -TERM $$" }, 2000, AD_ERR_BUSY, NULL,
      "killed by signal 15", 1000 },
    { "timeout, SIGTERM", { "sleep", "5" }, 200, AD_ERR_BUSY, NULL,
      "timed out after 200 ms, killed with SIGTERM", 1000 },
    { "timeout, SIGTERM ignored", { "/bin/sh", "-c", "trap '' TERM; echo started; exec sleep 5" },
      200, AD_ERR_BUSY, NULL, "killed with SIGKILL: started", 1500 },
    { "missing program", { "/nonexistent/prog" }, 2000, AD_ERR_BUSY,
      "cannot run /nonexistent/prog: No such file or directory", NULL, 1000 },
    { "not in PATH", { "no-such-program-abusedesk" }, 2000, AD_ERR_BUSY, NULL, "not found in",
      1000 },
    { "not executable", { "/etc/passwd" }, 2000, AD_ERR_BUSY,
      "cannot run /etc/passwd: Permission denied", NULL, 1000 },
    { "large output does not block", { "/bin/sh", "-c", "head -c 300000 /dev/zero; echo done" },
      5000, 0, NULL, "exit 0: ???", 3000 },
    { "empty argv", { NULL }, 2000, AD_ERR_USAGE, NULL, NULL, 1000 },
};

static void test_hookexec_table(void **state)
{
    int bad = 0;
    for (size_t i = 0; i < sizeof(hook_rows) / sizeof(hook_rows[0]); i++) {
        const struct hook_row *r = &hook_rows[i];
        struct ad_err err = { 0 };
        long long t0 = now_ms();
        int rc = hookexec_run((char *const *)r->argv, r->timeout_ms, &err);
        long long took = now_ms() - t0;
        bad += check_rc(r->name, rc, r->want_rc, &err);
        if (r->want_msg)
            bad += check_str(r->name, "err.msg", err.msg, r->want_msg);
        bad += check_has(r->name, "err.msg", err.msg, r->want_sub);
        if (took > r->max_ms) {
            print_error("%s: took %lld ms, want at most %lld\n", r->name, took, r->max_ms);
            bad++;
        }
        if (!no_children()) {
            print_error("%s: children left: got some, want none\n", r->name);
            bad++;
        }
    }
    (void)state;
    FAIL_IF_BAD(bad);
}

static void test_hookexec_limits(void **state)
{
    int bad = 0;
    /* Output beyond what err->msg holds is cut at a character, not a byte. */
    char *const many[] = { "/bin/sh", "-c", "i=0; while [ $i -lt 300 ]; do printf 'ä'; "
                                           "i=$((i+1)); done", NULL };
    struct ad_err err = { 0 };
    int rc = hookexec_run(many, 5000, &err);
    bad += check_rc("long output", rc, 0, &err);
    bad += check_int("long output", "valid UTF-8", g_utf8_validate(err.msg, -1, NULL), 1);
    bad += check_has("long output", "err.msg", err.msg, "exit 0: ääää");
    if (strlen(err.msg) < 200) {
        print_error("long output: got %zu bytes in err.msg, want it nearly full\n",
                    strlen(err.msg));
        bad++;
    }

    /* A descriptor we leave open without O_CLOEXEC does not reach the child,
     * nor do hookexec's own pipes: only 0, 1 and 2 are open in the command.
     * test(1) and echo are shell builtins, so /proc/$$ is the command itself. */
    int leak = open("/dev/null", O_RDONLY);
    GString *script = g_string_new("for n in");
    for (int fd = 3; fd <= leak + 8; fd++)
        g_string_append_printf(script, " %d", fd);
    g_string_append(script, "; do [ -e /proc/$$/fd/$n ] && echo \"open $n\"; done; echo end");
    char *const fds[] = { "/bin/sh", "-c", script->str, NULL };
    rc = hookexec_run(fds, 2000, &err);
    bad += check_rc("descriptors", rc, 0, &err);
    bad += check_str("descriptors", "err.msg", err.msg, "exit 0: end");
    close(leak);
    g_string_free(script, TRUE);

    /* Signals we ignore or block do not stay ignored or blocked in the command:
     * a hook must die of SIGTERM at its timeout. */
    struct sigaction ign = { .sa_handler = SIG_IGN }, old_term, old_pipe;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGTERM, &ign, &old_term);
    sigaction(SIGPIPE, &ign, &old_pipe);
    sigset_t usr1, old_mask;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &old_mask);
    char *const sigs[] = { "/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status", NULL };
    rc = hookexec_run(sigs, 2000, &err);
    {
        /* Only the signals we changed are checked: glibc's own real-time signals
         * (32, 33) cannot be reset and may be ignored by whoever started us. */
        const char *blk = strstr(err.msg, "SigBlk: "), *ign_s = strstr(err.msg, "SigIgn: ");
        unsigned long long b = blk ? strtoull(blk + 8, NULL, 16) : ~0ULL;
        unsigned long long g = ign_s ? strtoull(ign_s + 8, NULL, 16) : ~0ULL;
        unsigned long long want_clear_b = 1ULL << (SIGUSR1 - 1);
        unsigned long long want_clear_i = (1ULL << (SIGTERM - 1)) | (1ULL << (SIGPIPE - 1));
        if ((b & want_clear_b) || (g & want_clear_i)) {
            print_error("signal state: got %s, want SIGUSR1 unblocked, SIGTERM and SIGPIPE "
                        "not ignored\n", err.msg);
            bad++;
        }
    }
    char *const slow[] = { "sleep", "5", NULL };
    rc = hookexec_run(slow, 200, &err);
    bad += check_has("SIGTERM ignored here", "err.msg", err.msg, "killed with SIGTERM");
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);

    /* A background grandchild that keeps the output pipe open does not hold us
     * up once the command itself has exited. We are its subreaper meanwhile,
     * so that it can be reaped here and not left to init. */
    char *const bg[] = { "/bin/sh", "-c", "sleep 0.5 & echo started", NULL };
    prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L);
    long long t0 = now_ms();
    rc = hookexec_run(bg, 5000, &err);
    long long took = now_ms() - t0;
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    prctl(PR_SET_CHILD_SUBREAPER, 0L, 0L, 0L, 0L);
    bad += check_rc("background grandchild", rc, 0, &err);
    bad += check_str("background grandchild", "err.msg", err.msg, "exit 0: started");
    if (took > 400) {
        print_error("background grandchild: took %lld ms, want under 400\n", took);
        bad++;
    }
    bad += check_int("background grandchild", "no child left", no_children(), 1);
    (void)state;
    FAIL_IF_BAD(bad);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_mailer_sink),
        T(test_mailer_wire),
        T(test_mailer_failures),
        T(test_mailer_refused),
        T(test_webhook_signed),
        T(test_webhook_unsigned),
        T(test_webhook_status),
        T(test_webhook_retry),
        T(test_webhook_no_server),
        T(test_webhook_signature_vectors),
        T(test_hookexec_table),
        T(test_hookexec_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * hookexec.c: runs the provider's lock and unlock commands for the incident
 * actions without a shell. argv[0] is looked up by hand in the fixed PATH below
 * (the caller's environment is not used), then fork + execve with exactly PATH and
 * LANG=C.UTF-8 as the environment, standard input from /dev/null, standard output
 * and error into one pipe, every other descriptor closed, all signals at their
 * default action and unblocked (they are blocked across the fork so that none of
 * our handlers runs in the child), and the child in its own process group so that
 * a timeout can kill what it started too. The parent polls the pipe until the
 * child exits or timeout_ms passes (<= 0 means HOOKEXEC_DEFAULT_MS); then the
 * group gets SIGTERM and, HOOKEXEC_GRACE_MS later, SIGKILL. The child is always
 * reaped (no zombie), but a grandchild that detached and keeps running after a
 * normal exit is left alone. The first HOOKEXEC_OUT_MAX bytes of output are kept;
 * what fits of them goes into err->msg (escaped, valid UTF-8) after the exit
 * status, also on success (err->code 0) so that the caller can log it. Failures:
 * AD_ERR_BUSY (non-zero exit, signal, timeout, cannot start), AD_ERR_USAGE for an
 * empty argv. Nothing returned is allocated. The process must not set SIGCHLD to
 * SIG_IGN, or the exit status is lost (reported as AD_ERR_BUSY).
 */
#include "act/hookexec.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOOKEXEC_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define HOOKEXEC_OUT_MAX 2048       /* output bytes kept; the rest is read and dropped */
#define HOOKEXEC_GRACE_MS 500       /* between SIGTERM and SIGKILL */
#define HOOKEXEC_DEFAULT_MS 30000   /* when timeout_ms <= 0 */
#define HOOKEXEC_FD_LIMIT 65536     /* closing by hand stops here if close_range fails */

struct hookexec_out {
    char buf[HOOKEXEC_OUT_MAX];
    size_t len;
};

static long long hookexec_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Finds the program: argv0 itself when it has a '/', else the first
 * executable regular file of that name in HOOKEXEC_PATH. Returns false when
 * there is none; path has room for PATH_MAX bytes. */
static bool hookexec_resolve(const char *argv0, char *path, size_t size)
{
    if (strchr(argv0, '/')) {
        if (strlen(argv0) >= size)
            return false;
        strcpy(path, argv0);
        return true;
    }
    const char *dir = HOOKEXEC_PATH;
    while (*dir) {
        size_t n = strcspn(dir, ":");
        int w = snprintf(path, size, "%.*s/%s", (int)n, dir, argv0);
        struct stat st;
        if (w > 0 && (size_t)w < size && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            access(path, X_OK) == 0)
            return true;
        dir += n;
        if (*dir == ':')
            dir++;
    }
    return false;
}

/* Moves fd to a number >= 3 (close-on-exec) so that the child's dup2() onto
 * 0, 1 and 2 cannot overwrite it; returns the new fd or -1. */
static int hookexec_fd_high(int fd)
{
    if (fd < 0 || fd > 2)
        return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return nfd;
}

static void hookexec_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0)
        fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

/* The child after fork(): only async-signal-safe calls. Never returns. It
 * starts with every signal blocked (see hookexec_run), so that none of the
 * parent's handlers can run here before they are reset. */
static void hookexec_child(const char *path, char *const argv[], int devnull, int out_w,
                           int errp_w, long max_fd)
{
    char *envp[] = { "PATH=" HOOKEXEC_PATH, "LANG=C.UTF-8", NULL };
    sigset_t none;

    setpgid(0, 0);
    /* execve resets handlers but keeps ignored signals and the mask: give the
     * command default dispositions and no blocked signal. */
    for (int s = 1; s < NSIG; s++) {
        struct sigaction sa;
        if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL) {
            sa.sa_handler = SIG_DFL;
            sa.sa_flags = 0;
            sigaction(s, &sa, NULL);
        }
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(devnull, 0) < 0 || dup2(out_w, 1) < 0 || dup2(out_w, 2) < 0)
        goto fail;
    if (errp_w != 3 && dup2(errp_w, 3) < 0)
        goto fail;
    errp_w = 3;
    hookexec_cloexec(errp_w);
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 4U, ~0U, 0U) != 0)
#endif
        for (long fd = 4; fd < max_fd; fd++)
            close((int)fd);
    execve(path, argv, envp);
fail:;
    int e = errno;
    ssize_t w = write(errp_w, &e, sizeof(e));
    (void)w;
    _exit(127);
}

/* Reads what is there without blocking; keeps the first HOOKEXEC_OUT_MAX
 * bytes. Returns true at end of file or on a read error. */
static bool hookexec_drain(int fd, struct hookexec_out *o)
{
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n > 0) {
            size_t keep = sizeof(o->buf) - o->len;
            if ((size_t)n < keep)
                keep = (size_t)n;
            memcpy(o->buf + o->len, chunk, keep);
            o->len += keep;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return false;
        return true;
    }
}

/* Polls out_r for up to ms milliseconds (just sleeps when it is at EOF). */
static void hookexec_wait_output(int out_r, bool *eof, struct hookexec_out *o, long long ms)
{
    if (ms < 0)
        ms = 0;
    if (*eof) {
        poll(NULL, 0, (int)ms);
        return;
    }
    struct pollfd p = { .fd = out_r, .events = POLLIN };
    if (poll(&p, 1, (int)ms) > 0)
        *eof = hookexec_drain(out_r, o);
}

/* Non-blocking waitpid; true once the child is gone (then *status is set, or
 * -1 when the status was lost). */
static bool hookexec_reaped(pid_t pid, int *status)
{
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return true;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *status = -1;
            return true;
        }
        return false;
    }
}

static void hookexec_kill(pid_t pid, int sig)
{
    if (kill(-pid, sig) != 0)
        kill(pid, sig);
}

/* Writes the output, trailing blanks removed, as valid UTF-8 with "\n" for a
 * line break and '?' for other control bytes and invalid UTF-8, into
 * dst[0..size); stops before a character that does not fit. */
static void hookexec_escape(const struct hookexec_out *o, char *dst, size_t size)
{
    size_t len = o->len, d = 0;
    while (len > 0 && (o->buf[len - 1] == '\n' || o->buf[len - 1] == '\r' ||
                       o->buf[len - 1] == ' ' || o->buf[len - 1] == '\t'))
        len--;
    for (size_t i = 0; i < len;) {
        unsigned char ch = (unsigned char)o->buf[i];
        const char *piece = "?";
        size_t n_piece = 1, n_in = 1;
        if (ch == '\n') {
            piece = "\\n";
            n_piece = 2;
        } else if (ch == '\t') {
            piece = " ";
        } else if (ch >= 0x20 && ch < 0x7f) {
            piece = o->buf + i;
        } else if (ch >= 0x80) {
            const char *s = o->buf + i;
            gunichar u = g_utf8_get_char_validated(s, (gssize)(len - i));
            if (u != (gunichar)-1 && u != (gunichar)-2) {
                piece = s;
                n_piece = n_in = (size_t)(g_utf8_next_char(s) - s);
            }
        }
        if (d + n_piece + 1 > size)
            break;
        memcpy(dst + d, piece, n_piece);
        d += n_piece;
        i += n_in;
    }
    if (size > 0)
        dst[d] = '\0';
}

int hookexec_run(char *const argv[], long timeout_ms, struct ad_err *err)
{
    char path[PATH_MAX];
    int devnull = -1, out[2] = { -1, -1 }, errp[2] = { -1, -1 };
    struct hookexec_out o = { .len = 0 };
    char text[sizeof(err->msg)] = "";
    int rc = 0, status = 0;

    if (!argv || !argv[0] || !*argv[0])
        return ad_err_set(err, AD_ERR_USAGE, "hookexec: no command");
    if (!hookexec_resolve(argv[0], path, sizeof(path)))
        return ad_err_set(err, AD_ERR_BUSY, "cannot run %s: not found in %s", argv[0],
                          HOOKEXEC_PATH);
    if (timeout_ms <= 0)
        timeout_ms = HOOKEXEC_DEFAULT_MS;

    devnull = hookexec_fd_high(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (devnull < 0 || pipe(out) != 0 || pipe(errp) != 0) {
        rc = ad_err_set(err, AD_ERR_BUSY, "cannot run %s: %s", path, strerror(errno));
        goto out;
    }
    for (int i = 0; i < 2; i++) {
        out[i] = hookexec_fd_high(out[i]);
        errp[i] = hookexec_fd_high(errp[i]);
        hookexec_cloexec(out[i]);
        hookexec_cloexec(errp[i]);
    }
    if (out[0] < 0 || out[1] < 0 || errp[0] < 0 || errp[1] < 0 ||
        fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK) != 0) {
        rc = ad_err_set(err, AD_ERR_BUSY, "cannot run %s: %s", path, strerror(errno));
        goto out;
    }
    long max_fd = sysconf(_SC_OPEN_MAX);
    if (max_fd < 0 || max_fd > HOOKEXEC_FD_LIMIT)
        max_fd = HOOKEXEC_FD_LIMIT;

    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0)
        hookexec_child(path, argv, devnull, out[1], errp[1], max_fd);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        rc = ad_err_set(err, AD_ERR_BUSY, "cannot run %s: fork: %s", path, strerror(fork_errno));
        goto out;
    }
    setpgid(pid, pid); /* also here, so that a kill cannot come before the child's */
    close(out[1]);
    close(errp[1]);
    out[1] = errp[1] = -1;

    /* The error pipe closes at execve (success) or brings the child's errno. */
    int child_errno = 0;
    ssize_t n;
    do
        n = read(errp[0], &child_errno, sizeof(child_errno));
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(child_errno)) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        rc = ad_err_set(err, AD_ERR_BUSY, "cannot run %s: %s", path, strerror(child_errno));
        goto out;
    }

    long long deadline = hookexec_now_ms() + timeout_ms;
    bool eof = false, reaped = false;
    int killed_with = 0;
    while (!reaped) {
        long long left = deadline - hookexec_now_ms();
        hookexec_wait_output(out[0], &eof, &o, left < 50 ? left : 50);
        reaped = hookexec_reaped(pid, &status);
        if (reaped || hookexec_now_ms() < deadline)
            continue;
        killed_with = SIGTERM;
        hookexec_kill(pid, SIGTERM);
        long long grace_end = hookexec_now_ms() + HOOKEXEC_GRACE_MS;
        while (!(reaped = hookexec_reaped(pid, &status)) && hookexec_now_ms() < grace_end)
            hookexec_wait_output(out[0], &eof, &o, 20);
        if (!reaped) {
            killed_with = SIGKILL;
            hookexec_kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            reaped = true;
        }
    }
    if (!eof)
        hookexec_drain(out[0], &o);

    char head[192];
    rc = AD_ERR_BUSY;
    if (killed_with)
        snprintf(head, sizeof(head), "%.100s timed out after %ld ms, killed with %s", path,
                 timeout_ms, killed_with == SIGKILL ? "SIGKILL" : "SIGTERM");
    else if (status == -1)
        snprintf(head, sizeof(head), "%.100s: exit status lost (SIGCHLD ignored?)", path);
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        rc = 0;
        snprintf(head, sizeof(head), "exit 0");
    }
    else if (WIFEXITED(status))
        snprintf(head, sizeof(head), "%.100s: exit %d", path, WEXITSTATUS(status));
    else
        snprintf(head, sizeof(head), "%.100s: killed by signal %d (%s)", path, WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    /* The output gets the room the status line leaves, cut at a character. */
    size_t used = strlen(head) + 2;
    hookexec_escape(&o, text, used < sizeof(text) ? sizeof(text) - used : 0);
    ad_err_set(err, rc, "%s%s%s", head, text[0] ? ": " : "", text);

out:
    if (devnull >= 0)
        close(devnull);
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    return rc;
}

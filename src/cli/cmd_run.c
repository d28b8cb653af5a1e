/*
 * cmd_run.c: `abusedesk run`, the services of one machine together: the desk
 * worker (`process --loop`), the delivery worker (`outbox --flush --loop`) and
 * the policy server (`serve`), each its own process of this same program with
 * the same global options (and the reputation monitor, `rbl check --loop`, and
 * with [milter] enabled the milter, `milter`), so that each keeps its own privileges and secrets
 * (the policy server never sees the outbox). Supervises them: a service that
 * dies is started again after a pause that grows up to a minute; SIGTERM or
 * SIGINT is passed on to all and waited for. Once a day it also runs the
 * retention purge (`purge`, [store] retention): at start, then a day after
 * each run began. On several hosts run the services one by one instead
 * (against PostgreSQL), and the purge from one of them (abusedesk-purge.timer).
 */
#include <errno.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

struct service {
    const char *name;
    const char *args[6];
    pid_t pid;
    int64_t started;    /* Unix seconds */
    int backoff;        /* seconds before the next restart */
    int64_t due;        /* restart not before this */
    int64_t period;     /* 0: runs for good; else a task started again this many
                         * seconds after its last start, whatever its exit */
};

static volatile sig_atomic_t run_stop;

static void run_on_signal(int sig)
{
    (void)sig;
    run_stop = 1;
}

static pid_t start(struct cli *cli, const char *self, struct service *s)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid; /* the child's pid, or -1 */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    const char *argv[16];
    int n = 0;
    argv[n++] = self;
    if (cli->config_path) {
        argv[n++] = "-c";
        argv[n++] = cli->config_path;
    }
    if (cli->db_override) {
        argv[n++] = "--db";
        argv[n++] = cli->db_override;
    }
    for (int k = 0; s->args[k] && n < 15; k++)
        argv[n++] = s->args[k];
    argv[n] = NULL;
    execv(self, (char *const *)argv);
    fprintf(stderr, "abusedesk run: cannot start %s: %s\n", s->name, strerror(errno));
    _exit(EXIT_SOFTWARE);
}

int cmd_run(struct cli *cli, int argc, char **argv)
{
    bool no_policy = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: abusedesk [GLOBAL OPTIONS] run [--no-policy]\n\n"
                   "Runs the services of one machine in the foreground, each as its own\n"
                   "process: the desk worker (abusedesk process --loop 1: new reports and the\n"
                   "policy server's findings into incidents, notices into the outbox), the\n"
                   "delivery worker (abusedesk outbox --flush --loop 5: mails and hooks, the\n"
                   "only one that uses the SMTP password and the webhook secret) and the\n"
                   "policy server (abusedesk serve), unless --no-policy, and the reputation\n"
                   "monitor (abusedesk rbl check --loop: DNSBLs, early warning, feeds every\n"
                   "[reputation] interval), and the milter (abusedesk milter) when [milter]\n"
                   "enabled = true. A service that dies is restarted; SIGTERM stops\n"
                   "all. Once a day (first at start) it runs the retention purge (abusedesk\n"
                   "purge, [store] retention). `abusedesk ingest` (the MTA's pipe) only\n"
                   "stores reports for them.\n");
            return 0;
        } else if (!strcmp(argv[i], "--no-policy")) {
            no_policy = true;
        } else {
            fprintf(stderr, "abusedesk run: unknown option '%s'\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    char *self = g_file_read_link("/proc/self/exe", NULL);
    if (!self) {
        fprintf(stderr, "abusedesk run: cannot find its own program (/proc/self/exe)\n");
        return EXIT_SOFTWARE;
    }
    struct service svc[] = {
        { "desk worker", { "process", "--loop", "1", NULL }, 0, 0, 1, 0, 0 },
        { "delivery worker", { "outbox", "--flush", "--loop", "5", NULL }, 0, 0, 1, 0, 0 },
        { "retention purge", { "purge", NULL }, 0, 0, 1, 0, 86400 },
        /* listing: DNSBLs, early warning, feeds every [reputation] interval */
        { "reputation monitor", { "rbl", "check", "--loop", NULL }, 0, 0, 1, 0, 0 },
        { "policy server", { "serve", NULL }, 0, 0, 1, 0, 0 },
        { "milter", { "milter", NULL }, 0, 0, 1, 0, 0 },
    };
    /* The policy server and the milter last: left out with --no-policy, and
     * unless [milter] enabled (abusedesk-milter.service runs it otherwise). */
    size_t n_svc = 4;
    if (!no_policy)
        n_svc++;
    if (cli->cfg.milter_enabled) {
        if (no_policy)
            svc[n_svc] = svc[n_svc + 1];
        n_svc++;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = run_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int rc = 0;
    while (!run_stop) {
        int64_t now = (int64_t)(g_get_real_time() / G_USEC_PER_SEC);
        for (size_t k = 0; k < n_svc; k++) {
            if (svc[k].pid > 0 || now < svc[k].due)
                continue;
            svc[k].pid = start(cli, self, &svc[k]);
            svc[k].started = now;
            if (svc[k].pid < 0) {
                log_msg(&cli->log, LOG_LEVEL_ERROR, "run: cannot fork the %s: %s", svc[k].name,
                        strerror(errno));
                svc[k].pid = 0;
                svc[k].due = now + svc[k].backoff;
            } else {
                log_msg(&cli->log, LOG_LEVEL_INFO, "run: %s started (pid %ld)", svc[k].name,
                        (long)svc[k].pid);
            }
        }
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) {
            g_usleep(200000);
            continue;
        }
        for (size_t k = 0; k < n_svc; k++) {
            if (svc[k].pid != pid)
                continue;
            svc[k].pid = 0;
            int64_t t = (int64_t)(g_get_real_time() / G_USEC_PER_SEC);
            if (svc[k].period) {
                svc[k].due = svc[k].started + svc[k].period;
                bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
                log_msg(&cli->log, ok ? LOG_LEVEL_INFO : LOG_LEVEL_WARNING,
                        "run: %s (pid %ld) %s %d; next in %llds", svc[k].name, (long)pid,
                        WIFSIGNALED(status) ? "killed by signal" : "exited",
                        WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                        (long long)(svc[k].due - t));
                continue;
            }
            /* A service that ran a while starts again quickly; one that keeps
             * dying waits longer each time (up to a minute). */
            svc[k].backoff = t - svc[k].started > 60 ? 1 : MIN(svc[k].backoff * 2, 60);
            svc[k].due = t + svc[k].backoff;
            log_msg(&cli->log, LOG_LEVEL_WARNING, "run: %s (pid %ld) %s %d; again in %ds",
                    svc[k].name, (long)pid, WIFSIGNALED(status) ? "killed by signal" : "exited",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                    svc[k].backoff);
        }
    }
    log_msg(&cli->log, LOG_LEVEL_INFO, "run: stopping");
    for (size_t k = 0; k < n_svc; k++)
        if (svc[k].pid > 0)
            kill(svc[k].pid, SIGTERM);
    for (int waited = 0; waited < 150; waited++) {
        bool any = false;
        for (size_t k = 0; k < n_svc; k++) {
            if (svc[k].pid <= 0)
                continue;
            if (waitpid(svc[k].pid, NULL, WNOHANG) == svc[k].pid)
                svc[k].pid = 0;
            else
                any = true;
        }
        if (!any)
            break;
        g_usleep(100000);
    }
    for (size_t k = 0; k < n_svc; k++)
        if (svc[k].pid > 0) {
            kill(svc[k].pid, SIGKILL);
            waitpid(svc[k].pid, NULL, 0);
        }
    g_free(self);
    return rc;
}

/*
 * held.c: release or delete an account's held mail (see held.h). postqueue and
 * postsuper run without a shell (fork + execv), standard input from
 * /dev/null, output captured up to a bound and within a time limit, after
 * which the program is killed. The JSON lines of postqueue -j are parsed with
 * jansson one line at a time; queue ids are checked before they reach a
 * command line. Called by `abusedesk held` and after `incident
 * unlock|dismiss|resolve`; errors are AD_ERR_BUSY (retry later, as root) with
 * the program's words.
 */
#include "held.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store_held.h"

#define HELD_TIMEOUT_MS 60000
#define HELD_BATCH 100

static bool id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > HELD_MAX_ID)
        return false;
    for (const char *s = id; *s; s++)
        if (!g_ascii_isalnum(*s))
            return false;
    return true;
}

static void parse_line(const char *p, size_t n, const char *account,
                       void (*fn)(const struct held_msg *m, void *ctx), void *ctx, size_t *found,
                       size_t *bad)
{
    json_t *o = json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL);
    const char *queue = json_string_value(json_object_get(o, "queue_name"));
    const char *id = json_string_value(json_object_get(o, "queue_id"));
    const char *sender = json_string_value(json_object_get(o, "sender"));
    if (!json_is_object(o) || !queue || !id_ok(id) || !sender) {
        (*bad)++;
    } else if (!strcmp(queue, "hold") && (!account || !g_ascii_strcasecmp(sender, account))) {
        json_t *r = json_object_get(o, "recipients");
        struct held_msg m = { id, sender,
                              json_integer_value(json_object_get(o, "arrival_time")),
                              json_integer_value(json_object_get(o, "message_size")),
                              json_is_array(r) ? json_array_size(r) : 0 };
        fn(&m, ctx);
        (*found)++;
    }
    json_decref(o);
}

size_t held_parse(const char *text, size_t len, const char *account,
                  void (*fn)(const struct held_msg *m, void *ctx), void *ctx, size_t *n_bad)
{
    size_t found = 0, bad = 0;
    const char *p = text, *end = text ? text + len : text;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        if (n > HELD_MAX_LINE)
            bad++;
        else if (n > 0 && !(n == 1 && *p == '\r'))
            parse_line(p, n, account, fn, ctx, &found, &bad);
        p = nl ? nl + 1 : end;
    }
    if (n_bad)
        *n_bad = bad;
    return found;
}

/* Runs argv, capturing standard output and error together (at most max
 * bytes kept), killed after HELD_TIMEOUT_MS. *out g_malloc'd, NUL-terminated.
 * 0 when it exited 0; AD_ERR_BUSY otherwise, with the first of its output. */
static int run_capture(char *const argv[], size_t max, char **out, size_t *len,
                       struct ad_err *err)
{
    *out = NULL;
    *len = 0;
    int fd[2];
    if (pipe(fd) != 0)
        return ad_err_set(err, AD_ERR_BUSY, "%s: pipe: %s", argv[0], strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return ad_err_set(err, AD_ERR_BUSY, "%s: fork: %s", argv[0], strerror(errno));
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(fd[1], 1);
        dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        execv(argv[0], argv);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    GString *buf = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + (gint64)HELD_TIMEOUT_MS * 1000;
    bool timed_out = false;
    for (;;) {
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd p = { fd[0], POLLIN, 0 };
        int r = poll(&p, 1, (int)MIN(left, 1000));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        char chunk[65536];
        ssize_t n = read(fd[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (buf->len < max)
            g_string_append_len(buf, chunk, (gssize)MIN((size_t)n, max - buf->len));
    }
    close(fd[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    *len = buf->len;
    *out = g_string_free(buf, FALSE);
    if (!timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char first[200];
    g_strlcpy(first, *out, sizeof first);
    g_strdelimit(first, "\r\n\t", ' ');
    return ad_err_set(err, AD_ERR_BUSY, "%s %s: %s", argv[0],
                      timed_out ? "timed out" : WIFEXITED(status) ? "failed" : "was killed",
                      *first ? first : "(no output)");
}

static void add_id(const struct held_msg *m, void *ctx)
{
    g_ptr_array_add(ctx, g_strdup(m->queue_id));
}

int held_scan(const struct config *cfg, const char *account,
              void (*fn)(const struct held_msg *m, void *ctx), void *ctx, size_t *n_found,
              struct ad_err *err)
{
    *n_found = 0;
    const char *dir = cfg->held_config_directory;
    char *argv[5];
    int n = 0;
    argv[n++] = cfg->held_postqueue;
    if (dir && *dir) {
        argv[n++] = (char *)"-c";
        argv[n++] = (char *)dir;
    }
    argv[n++] = (char *)"-j";
    argv[n] = NULL;
    char *out = NULL;
    size_t len = 0;
    int rc = run_capture(argv, HELD_MAX_OUTPUT, &out, &len, err);
    if (rc == 0)
        *n_found = held_parse(out, len, account, fn, ctx, NULL);
    g_free(out);
    return rc;
}

int held_list(const struct config *cfg, const char *account, void *ids_gptrarray,
              struct ad_err *err)
{
    size_t n = 0;
    return held_scan(cfg, account, add_id, ids_gptrarray, &n, err);
}

int held_act(const struct config *cfg, const char *action, void *ids_gptrarray,
             struct ad_err *err)
{
    GPtrArray *ids = ids_gptrarray;
    bool del = !strcmp(action, "delete");
    const char *dir = cfg->held_config_directory;
    for (guint start = 0; start < ids->len; start += HELD_BATCH) {
        GPtrArray *argv = g_ptr_array_new();
        g_ptr_array_add(argv, cfg->held_postsuper);
        if (dir && *dir) {
            g_ptr_array_add(argv, (char *)"-c");
            g_ptr_array_add(argv, (char *)dir);
        }
        for (guint i = start; i < ids->len && i < start + HELD_BATCH; i++) {
            if (!id_ok(g_ptr_array_index(ids, i)))
                continue;
            g_ptr_array_add(argv, (char *)(del ? "-d" : "-H"));
            g_ptr_array_add(argv, g_ptr_array_index(ids, i));
        }
        /* -d would look in every queue: only the hold queue is ours to empty. */
        if (del)
            g_ptr_array_add(argv, (char *)"hold");
        g_ptr_array_add(argv, NULL);
        char *out = NULL;
        size_t len = 0;
        int rc = run_capture((char *const *)argv->pdata, 64 * 1024, &out, &len, err);
        g_free(out);
        g_ptr_array_free(argv, TRUE);
        if (rc)
            return rc;
    }
    return 0;
}

int held_process(const struct config *cfg, struct store *st, const char *account, int64_t now,
                 const struct logger *log, size_t *n_done, size_t *n_msgs, struct ad_err *err)
{
    *n_done = 0;
    *n_msgs = 0;
    struct store_held_request *req = NULL;
    size_t n = 0;
    int rc = store_held_pending(st, account, 1000, &req, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
        rc = held_list(cfg, req[i].account, ids, err);
        if (rc == 0 && ids->len)
            rc = held_act(cfg, req[i].action, ids, err);
        if (rc == 0) {
            char result[160];
            g_snprintf(result, sizeof result, "%s %u held message%s", 
                       !strcmp(req[i].action, "delete") ? "deleted" : "released", ids->len,
                       ids->len == 1 ? "" : "s");
            rc = store_held_done(st, req[i].id, now, ids->len, result, err);
            if (rc == 0) {
                (*n_done)++;
                *n_msgs += ids->len;
                log_msg(log, LOG_LEVEL_INFO, "held: %s of %s (incident %lld, asked by %s)",
                        result, req[i].account, (long long)req[i].incident_id,
                        req[i].requested_by);
            }
        }
        g_ptr_array_free(ids, TRUE);
    }
    store_held_requests_free(req, n);
    return rc;
}

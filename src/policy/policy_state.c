/*
 * policy_state.c: background snapshots of the sender table (see
 * policy_state.h). The loop side (policy_state_start, the step callback,
 * policy_state_wait) runs on the event loop thread and is the only one that
 * reads the table; the writer thread sees only chunks handed to it through
 * full_q and returns them through free_q. A snapshot that cannot be written
 * is logged by the thread (once while the failure lasts) and the old file
 * stays; nothing is fatal.
 */
#include "policy_state.h"

#include <event2/event.h>
#include <string.h>

#define CHUNK_ENTRIES 4096
#define N_CHUNKS 4
#define STEP_SLOTS 16384

struct chunk {
    size_t n;
    bool last;                  /* the snapshot's final chunk */
    bool quit;                  /* the thread stops */
    struct rl_entry e[CHUNK_ENTRIES];
};

struct policy_state {
    struct event_base *base;
    struct rl_table *t;
    struct event *ev_step;
    GAsyncQueue *free_q, *full_q;   /* of struct chunk * */
    GThread *thread;
    struct logger log;              /* the thread's copy */
    const gint *log_level;
    /* The snapshot under way: written by the loop before its first chunk is
     * pushed, read by the thread after it popped it. */
    char *path, *extra;
    size_t extra_len;
    int64_t epoch, started;
    size_t pos;                     /* next slot to copy (loop) */
    bool copying;                   /* loop */
    GMutex m;
    GCond cv;
    bool writing;                   /* under m: the thread has not finished the file */
    struct chunk quit;
};

static gpointer writer_main(gpointer arg)
{
    struct policy_state *s = arg;
    struct rl_writer *w = NULL;
    bool failed = false, failing = false;
    struct ad_err err = { 0 };
    for (;;) {
        struct chunk *c = g_async_queue_pop(s->full_q);
        if (c->quit)
            break;
        s->log.min = (enum log_level)g_atomic_int_get(s->log_level);
        if (!w && !failed && rl_writer_open(s->path, s->epoch, &w, &err) != 0)
            failed = true;
        if (w && rl_writer_add(w, c->e, c->n, &err) != 0) {
            w = rl_writer_abort(w);
            failed = true;
        }
        bool last = c->last;
        g_async_queue_push(s->free_q, c);
        if (!last)
            continue;
        if (w && rl_writer_commit(w, s->extra, s->extra_len, &err) != 0)
            failed = true;
        w = NULL;
        if (failed && !failing)
            log_msg(&s->log, LOG_LEVEL_ERROR, "policy: counters not saved: %s", err.msg);
        else if (!failed && failing)
            log_msg(&s->log, LOG_LEVEL_INFO, "policy: counters saved to %s again", s->path);
        else if (!failed)
            log_msg(&s->log, LOG_LEVEL_DEBUG, "policy: counters saved to %s in %lld ms", s->path,
                    (long long)((g_get_monotonic_time() - s->started) / 1000));
        failing = failed;
        failed = false;
        g_mutex_lock(&s->m);
        s->writing = false;
        g_cond_broadcast(&s->cv);
        g_mutex_unlock(&s->m);
    }
    rl_writer_abort(w);
    return NULL;
}

/* One step of the copy; false when the snapshot has been handed over whole. */
static bool copy_step(struct policy_state *s, struct chunk *c)
{
    c->n = rl_copy(s->t, &s->pos, STEP_SLOTS, c->e, CHUNK_ENTRIES);
    c->last = s->pos > s->t->mask;
    g_async_queue_push(s->full_q, c);
    if (c->last)
        s->copying = false;
    return s->copying;
}

/* On the loop: one step per turn, so that requests are served in between. */
static void step_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct policy_state *s = arg;
    if (!s->copying)
        return;
    struct chunk *c = g_async_queue_try_pop(s->free_q);
    struct timeval tv = { 0, c ? 0 : 1000 }; /* every chunk in the writer's hands: 1 ms */
    if (c && !copy_step(s, c))
        return;
    evtimer_add(s->ev_step, &tv);
}

struct policy_state *policy_state_new(struct event_base *base, struct rl_table *t,
                                      const struct logger *log, const gint *log_level)
{
    struct policy_state *s = g_new0(struct policy_state, 1);
    s->base = base;
    s->t = t;
    s->log = *log;
    s->log_level = log_level;
    s->ev_step = evtimer_new(base, step_cb, s);
    s->free_q = g_async_queue_new();
    s->full_q = g_async_queue_new();
    for (int i = 0; i < N_CHUNKS; i++)
        g_async_queue_push(s->free_q, g_new0(struct chunk, 1));
    g_mutex_init(&s->m);
    g_cond_init(&s->cv);
    s->quit.quit = true;
    s->thread = g_thread_new("policy-state", writer_main, s);
    return s;
}

bool policy_state_busy(struct policy_state *s)
{
    g_mutex_lock(&s->m);
    bool busy = s->copying || s->writing;
    g_mutex_unlock(&s->m);
    return busy;
}

bool policy_state_start(struct policy_state *s, const char *path, const char *extra,
                        size_t extra_len)
{
    if (policy_state_busy(s))
        return false;
    g_free(s->path);
    g_free(s->extra);
    s->path = g_strdup(path);
    s->extra = extra_len ? g_memdup2(extra, extra_len) : NULL;
    s->extra_len = extra_len;
    s->epoch = s->t->epoch;
    s->started = g_get_monotonic_time();
    s->pos = 0;
    s->copying = true;
    g_mutex_lock(&s->m);
    s->writing = true;
    g_mutex_unlock(&s->m);
    struct timeval tv = { 0, 0 };
    evtimer_add(s->ev_step, &tv);
    return true;
}

void policy_state_wait(struct policy_state *s)
{
    if (s->copying) {
        evtimer_del(s->ev_step);
        while (copy_step(s, g_async_queue_pop(s->free_q)))
            ;
    }
    g_mutex_lock(&s->m);
    while (s->writing)
        g_cond_wait(&s->cv, &s->m);
    g_mutex_unlock(&s->m);
}

struct policy_state *policy_state_free(struct policy_state *s)
{
    if (!s)
        return NULL;
    policy_state_wait(s);
    g_async_queue_push(s->full_q, &s->quit);
    g_thread_join(s->thread);
    struct chunk *c;
    while ((c = g_async_queue_try_pop(s->free_q)) != NULL)
        g_free(c);
    g_async_queue_unref(s->free_q);
    g_async_queue_unref(s->full_q);
    event_free(s->ev_step);
    g_mutex_clear(&s->m);
    g_cond_clear(&s->cv);
    g_free(s->path);
    g_free(s->extra);
    g_free(s);
    return NULL;
}

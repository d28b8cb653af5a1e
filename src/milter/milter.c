/*
 * milter.c: `abusedesk milter` (see milter.h). libmilter runs the callbacks in
 * a thread per connection; they share one struct milterd under one mutex:
 * the lock set, the per-hour counters and the keys, all in memory. A store
 * thread (store_main) polls the store's data version every 250 ms and
 * reloads the locks when another process committed, and records what the
 * callbacks queued: findings (policy_events, filed into incidents by the desk
 * worker) and outbound log rows (batched), and prunes the log once an hour.
 * libmilter's callbacks carry no pointer of ours besides the per-connection
 * one, so the daemon's state is reached through one file-scope pointer set
 * once before smfi_main() (the only global; libmilter allows one filter per
 * process anyway).
 *
 * Everything is bounded: header values kept at most 998 bytes, the body
 * fingerprint over its first 64 KiB, the counters at [milter] max_tracked,
 * the queue of outbound rows at 100000 (beyond, rows are dropped and
 * counted). Decisions are taken at the end of the message only, as Postfix
 * needs for non-SMTP mail (no reject at RCPT there), and non-SMTP mail is
 * held, never rejected (see stop_message). When the store cannot be
 * read the locks last read stay in force and mail flows (fail open).
 */
#include "milter.h"

#include <errno.h>
#include <glib.h>
#include <grp.h>
#include <libmilter/mfapi.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "batv/batv.h"
#include "outbound/outbound.h"
#include "store/store.h"
#include "store/store_outbound.h"
#include "store/store_policy.h"

#define DECIDED_BY "abusedesk milter"
#define MAX_VALUE 998               /* header bytes kept per value */
#define BODY_FP_BYTES (64 * 1024)   /* body bytes fingerprinted */
#define MAX_QUEUED_ROWS 100000
#define WINDOW 3600
#define CNT_FINDING 1u              /* a finding was raised in this window */

/* One counter: a fixed one-hour window. */
struct cnt {
    int64_t start;
    uint32_t n;
    uint32_t flags;
};

enum job_kind { JOB_FINDING, JOB_OUTBOUND };

struct job {
    enum job_kind kind;
    char *who, *reason;
    int64_t h, at;
};

struct milterd {
    const struct config *cfg;
    struct logger *log;
    GMutex mu;                  /* guards everything below that is not atomic */
    GHashTable *locks;          /* lower-cased subject -> gint64 incident id (0: not filed) */
    GHashTable *counts;         /* key -> struct cnt */
    bool store_ok;
    struct batv_keys batv;      /* read once at start */
    bool batv_ok;
    unsigned char okey[OUTBOUND_KEY_BYTES];
    bool okey_ok;
    GAsyncQueue *jobs;
    gint n_queued_rows;         /* atomic */
    gint stopping;              /* atomic */
    GThread *store_thread;
    uint64_t n_msgs, n_held, n_rejected, n_signed, n_findings, n_logged, n_dropped, n_untracked;
};

static struct milterd *md;

/* Per connection (and the message in it). */
struct mconn {
    char *auth, *sender, *uid, *php, *subject, *msgid;
    char *queue_id;
    unsigned n_rcpt, n_received;
    bool non_smtp;              /* injected locally (sendmail(1)), not over SMTP */
    crypto_generichash_state body;
    size_t body_bytes;
};

static int64_t now_s(void)
{
    return (int64_t)(g_get_real_time() / G_USEC_PER_SEC);
}

/* ---- parsing helpers (untrusted input) -------------------------------------- */

int milter_received_uid(const char *v, char *uid, size_t n)
{
    if (!v || n < 2)
        return 0;
    static const char mark[] = "(Postfix, from userid ";
    const char *p = strstr(v, mark);
    if (!p)
        return 0;
    p += sizeof mark - 1;
    size_t k = 0;
    while (g_ascii_isdigit(p[k]) && k < 10)
        k++;
    if (!k || k >= n || p[k] != ')')
        return 0;
    memcpy(uid, p, k);
    uid[k] = '\0';
    return 1;
}

static bool path_clean(const char *p, size_t len)
{
    if (!len || len > 255)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f)
            return false;
    return !g_strstr_len(p, (gssize)len, "..");
}

void milter_script_subject(const char *uid, const char *php, char *out, size_t n)
{
    out[0] = '\0';
    if (!uid || !*uid)
        return;
    const char *path = NULL;
    size_t plen = 0;
    if (php) {
        while (*php == ' ' || *php == '\t')
            php++;
        size_t u = strcspn(php, ":/ \t");
        const char *rest = php;
        bool same = true;
        if (php[u] == ':') {
            same = u == 0 || (strlen(uid) == u && !strncmp(php, uid, u));
            rest = php + u + 1;
        }
        plen = strcspn(rest, " \t");
        if (same && path_clean(rest, plen))
            path = rest;
    }
    g_snprintf(out, n, "%s:%.*s", uid, path ? (int)plen : 0, path ? path : "");
}

/* A header value kept bounded, without CR/LF (folding). */
static char *keep(const char *v)
{
    size_t n = strnlen(v, MAX_VALUE);
    char *s = g_strndup(v, n);
    for (char *p = s; *p; p++)
        if (*p == '\r' || *p == '\n' || *p == '\t')
            *p = ' ';
    return s;
}

/* ---- state shared by the callbacks ------------------------------------------ */

static bool locked_one(const char *who, int64_t *inc)
{
    if (!who || !*who)
        return false;
    char *k = g_ascii_strdown(who, -1);
    gpointer v = NULL;
    bool hit = g_hash_table_lookup_extended(md->locks, k, NULL, &v);
    g_free(k);
    if (hit)
        *inc = v ? *(gint64 *)v : 0;
    return hit;
}

/* Counts add for key in the current hour: the new total, or 0 when the table
 * is full of active keys (not tracked). *first_over is set when the finding
 * flag was not set yet (and sets it) once the total passes limit. */
static uint32_t count(const char *key, uint32_t add, int64_t now, uint32_t limit, bool *first_over)
{
    *first_over = false;
    struct cnt *c = g_hash_table_lookup(md->counts, key);
    if (!c) {
        if (g_hash_table_size(md->counts) >= (guint)md->cfg->milter_max_tracked) {
            GHashTableIter it;
            gpointer v;
            g_hash_table_iter_init(&it, md->counts);
            while (g_hash_table_iter_next(&it, NULL, &v))
                if (now - ((struct cnt *)v)->start >= WINDOW)
                    g_hash_table_iter_remove(&it);
            if (g_hash_table_size(md->counts) >= (guint)md->cfg->milter_max_tracked) {
                md->n_untracked++;
                return 0;
            }
        }
        c = g_new0(struct cnt, 1);
        c->start = now;
        g_hash_table_insert(md->counts, g_strdup(key), c);
    }
    if (now - c->start >= WINDOW) {
        c->start = now;
        c->n = 0;
        c->flags = 0;
    }
    c->n = c->n + add < c->n ? UINT32_MAX : c->n + add;
    if (limit && c->n > limit && !(c->flags & CNT_FINDING)) {
        c->flags |= CNT_FINDING;
        *first_over = true;
    }
    return c->n;
}

static void queue_finding(const char *who, const char *reason, int64_t at)
{
    struct job *j = g_new0(struct job, 1);
    j->kind = JOB_FINDING;
    j->who = g_ascii_strdown(who, -1);
    j->reason = g_strdup(reason);
    j->at = at;
    md->n_findings++;
    log_msg(md->log, LOG_LEVEL_WARNING, "milter: %s: %s -> incident at alert", who, reason);
    g_async_queue_push(md->jobs, j);
}

static void queue_outbound(int64_t h, const char *who, int64_t at)
{
    if (g_atomic_int_get(&md->n_queued_rows) >= MAX_QUEUED_ROWS) {
        g_mutex_lock(&md->mu);
        md->n_dropped++;
        g_mutex_unlock(&md->mu);
        return;
    }
    struct job *j = g_new0(struct job, 1);
    j->kind = JOB_OUTBOUND;
    j->who = g_strdup(who);
    j->h = h;
    j->at = at;
    g_atomic_int_inc(&md->n_queued_rows);
    g_async_queue_push(md->jobs, j);
}

static void job_free(gpointer p)
{
    struct job *j = p;
    g_free(j->who);
    g_free(j->reason);
    g_free(j);
}

/* ---- callbacks ----------------------------------------------------------------- */

static void msg_reset(struct mconn *c)
{
    g_clear_pointer(&c->auth, g_free);
    g_clear_pointer(&c->sender, g_free);
    g_clear_pointer(&c->uid, g_free);
    g_clear_pointer(&c->php, g_free);
    g_clear_pointer(&c->subject, g_free);
    g_clear_pointer(&c->msgid, g_free);
    g_clear_pointer(&c->queue_id, g_free);
    c->n_rcpt = c->n_received = 0;
    c->body_bytes = 0;
    crypto_generichash_init(&c->body, NULL, 0, 16);
}

static sfsistat cb_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
    struct mconn *c = g_new0(struct mconn, 1);
    /* Postfix hands non-SMTP mail (sendmail(1), pickup) over as a connection
     * from "localhost", 127.0.0.1 port 0: no TCP connection has port 0. */
    c->non_smtp = !addr || (addr->sa_family == AF_INET
                            && ((const struct sockaddr_in *)(const void *)addr)->sin_port == 0
                            && host && !strcmp(host, "localhost"));
    log_msg(md->log, LOG_LEVEL_DEBUG, "milter: connect from %s%s", host ? host : "?",
            c->non_smtp ? " (non-SMTP mail)" : "");
    msg_reset(c);
    smfi_setpriv(ctx, c);
    return SMFIS_CONTINUE;
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
    struct mconn *c = smfi_getpriv(ctx);
    if (!c)
        return SMFIS_ACCEPT;
    msg_reset(c);
    const char *f = argv && argv[0] ? argv[0] : "";
    size_t n = strnlen(f, BATV_MAX_ADDR + 2);
    if (n >= 2 && f[0] == '<' && f[n - 1] == '>') {
        f++;
        n -= 2;
    }
    c->sender = n <= BATV_MAX_ADDR ? g_strndup(f, n) : g_strdup("");
    const char *a = smfi_getsymval(ctx, "{auth_authen}");
    if (a && *a)
        c->auth = keep(a);
    return SMFIS_CONTINUE;
}

static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
    (void)argv;
    struct mconn *c = smfi_getpriv(ctx);
    if (c && c->n_rcpt < UINT32_MAX)
        c->n_rcpt++;
    return SMFIS_CONTINUE;
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
    struct mconn *c = smfi_getpriv(ctx);
    if (!c || !name || !value)
        return SMFIS_CONTINUE;
    if (!g_ascii_strcasecmp(name, "Received")) {
        /* Only the topmost Received: the one Postfix itself wrote when it
         * took the mail from the local user; lower ones are the script's.
         * Over SMTP the client wrote every Received a milter sees: one
         * saying "from userid N" would count and lock against that web
         * space (any sender on the internet, through the MX), so it is read
         * for non-SMTP mail only. */
        if (c->n_received++ == 0 && c->non_smtp) {
            char uid[16];
            if (milter_received_uid(value, uid, sizeof uid))
                c->uid = g_strdup(uid);
        }
    } else if (!c->php && !g_ascii_strcasecmp(name, "X-PHP-Originating-Script")) {
        c->php = keep(value);
    } else if (!c->subject && !g_ascii_strcasecmp(name, "Subject")) {
        c->subject = keep(value);
    } else if (!c->msgid && !g_ascii_strcasecmp(name, "Message-ID")) {
        c->msgid = keep(value);
    }
    return SMFIS_CONTINUE;
}

static sfsistat cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    struct mconn *c = smfi_getpriv(ctx);
    if (!c || c->body_bytes >= BODY_FP_BYTES)
        return SMFIS_CONTINUE;
    /* Blanks and line ends do not count: a re-wrapped copy is the same text. */
    unsigned char buf[4096];
    size_t k = 0;
    for (size_t i = 0; i < len && c->body_bytes < BODY_FP_BYTES; i++, c->body_bytes++) {
        if (chunk[i] == ' ' || chunk[i] == '\t' || chunk[i] == '\r' || chunk[i] == '\n')
            continue;
        buf[k++] = chunk[i];
        if (k == sizeof buf) {
            crypto_generichash_update(&c->body, buf, k);
            k = 0;
        }
    }
    crypto_generichash_update(&c->body, buf, k);
    return SMFIS_CONTINUE;
}

/* Hold or reject (at the end of the message) with why; logged with the
 * queue id. Non-SMTP mail is always held: Postfix's pickup asks cleanup to
 * bounce what it cannot take, so a reject there would send a bounce with the
 * script's message to its envelope sender (often a contact form's forged
 * one) instead of refusing anything to anybody; held, the team sees it. */
static sfsistat stop_message(SMFICTX *ctx, struct mconn *c, const char *why)
{
    const char *qid = smfi_getsymval(ctx, "i");
    bool want_reject = !strcmp(md->cfg->milter_locked_action, "reject");
    bool reject = want_reject && !c->non_smtp;
    char *reason = g_strdup_printf("abusedesk: %s", why);
    log_msg(md->log, LOG_LEVEL_WARNING, "milter: %s: %s: %s (from <%s>, %u recipient(s)%s)",
            qid ? qid : "NOQUEUE", reject ? "rejected" : "held", why, c->sender ? c->sender : "",
            c->n_rcpt, want_reject && !reject ? "; non-SMTP mail: held, a reject would bounce it "
            "to the sender" : "");
    sfsistat r;
    if (reject) {
        /* libmilter takes the text like a printf format: a lone '%' would
         * make it drop the text, so every '%' is doubled. */
        GString *text = g_string_new(NULL);
        for (const char *p = reason; *p; p++) {
            if (*p == '%')
                g_string_append_c(text, '%');
            g_string_append_c(text, *p);
        }
        smfi_setreply(ctx, "550", "5.7.1", text->str);
        g_string_free(text, TRUE);
        r = SMFIS_REJECT;
    } else {
        smfi_quarantine(ctx, reason);
        r = SMFIS_CONTINUE;
    }
    g_mutex_lock(&md->mu);
    if (reject)
        md->n_rejected++;
    else
        md->n_held++;
    g_mutex_unlock(&md->mu);
    g_free(reason);
    return r;
}

/* The fingerprints: subject and body, per sender. */
static void fingerprints(struct mconn *c, const char *who, int64_t now)
{
    unsigned char bh[16];
    crypto_generichash_final(&c->body, bh, sizeof bh);
    crypto_generichash_init(&c->body, NULL, 0, 16); /* final may not be called twice */
    uint32_t lim = (uint32_t)md->cfg->milter_fp_rcpts;
    char key[600];
    bool first = false;
    if (c->subject && *c->subject) {
        unsigned char sh[8];
        char *low = g_utf8_casefold(c->subject, -1);
        crypto_generichash(sh, sizeof sh, (const unsigned char *)low, strlen(low), NULL, 0);
        g_free(low);
        g_snprintf(key, sizeof key, "fs:%s:%02x%02x%02x%02x%02x%02x%02x%02x", who, sh[0], sh[1],
                   sh[2], sh[3], sh[4], sh[5], sh[6], sh[7]);
        uint32_t n = count(key, c->n_rcpt, now, lim, &first);
        if (first) {
            char reason[400];
            g_snprintf(reason, sizeof reason, "the same subject \"%.120s\" to %u recipients in "
                       "1h from %s (limit %u): a spam run?", c->subject, n, who, lim);
            queue_finding(who, reason, now);
        }
    }
    if (c->body_bytes > 0) {
        g_snprintf(key, sizeof key, "fb:%s:%02x%02x%02x%02x%02x%02x%02x%02x", who, bh[0], bh[1],
                   bh[2], bh[3], bh[4], bh[5], bh[6], bh[7]);
        uint32_t n = count(key, c->n_rcpt, now, lim, &first);
        if (first) {
            char reason[300];
            g_snprintf(reason, sizeof reason, "the same body to %u recipients in 1h from %s "
                       "(limit %u): a spam run?", n, who, lim);
            queue_finding(who, reason, now);
        }
    }
}

static void sign_sender(SMFICTX *ctx, struct mconn *c, int64_t now)
{
    if (!md->batv_ok || !c->sender || !*c->sender || batv_bounce_sender(c->sender)
        || !batv_address_listed(md->cfg->batv_domains, c->sender))
        return;
    char out[BATV_MAX_ADDR + BATV_TAG_LEN + 3];
    struct ad_err err = { 0 };
    out[0] = '<';
    if (batv_sign(&md->batv, c->sender, strlen(c->sender), now, md->cfg->batv_lifetime, out + 1,
                  sizeof out - 2, &err) != 0)
        return; /* already tagged, SRS, not an address: left alone */
    strcat(out, ">");
    if (smfi_chgfrom(ctx, out, NULL) == MI_SUCCESS) {
        g_mutex_lock(&md->mu);
        md->n_signed++;
        g_mutex_unlock(&md->mu);
    } else {
        log_msg(md->log, LOG_LEVEL_WARNING, "milter: cannot change the envelope sender (is "
                "the milter allowed to? milter_protocol 6)");
    }
}

static sfsistat cb_eom(SMFICTX *ctx)
{
    struct mconn *c = smfi_getpriv(ctx);
    if (!c)
        return SMFIS_CONTINUE;
    int64_t now = now_s();
    const struct config *cfg = md->cfg;
    /* Postfix does not show a milter its own Received header ("from userid
     * N"), so for non-SMTP mail the uid PHP wrote into the header counts;
     * over SMTP anybody can write that header: it is not used. */
    if (!c->uid && c->non_smtp && c->php) {
        char u[16];
        size_t k = 0;
        while (k < 10 && g_ascii_isdigit(c->php[k]))
            k++;
        if (k && c->php[k] == ':') {
            memcpy(u, c->php, k);
            u[k] = '\0';
            c->uid = g_strdup(u);
        }
    }
    char script[300];
    milter_script_subject(c->uid, c->php, script, sizeof script);
    char uidkey[32] = "";
    if (c->uid)
        g_snprintf(uidkey, sizeof uidkey, "%s:", c->uid);
    const char *who = *script ? script : c->auth;
    sfsistat r = SMFIS_CONTINUE;
    char why[400] = "";

    g_mutex_lock(&md->mu);
    md->n_msgs++;
    int64_t inc = 0;
    const char *lk = locked_one(script, &inc) ? script
                     : locked_one(uidkey, &inc) ? uidkey
                     : locked_one(c->auth, &inc) ? c->auth : NULL;
    if (lk) {
        char ticket[64];
        if (inc)
            g_snprintf(ticket, sizeof ticket, "[%s #%lld]", cfg->ticket_prefix, (long long)inc);
        else
            g_strlcpy(ticket, "(no ticket yet)", sizeof ticket);
        g_snprintf(why, sizeof why, "%s %s is locked %s", *script && lk == script ? "script"
                   : lk == c->auth ? "account" : "uid", lk, ticket);
    } else if (*script) {
        bool first = false;
        char key[320];
        g_snprintf(key, sizeof key, "s:%s", script);
        uint32_t lim = (uint32_t)cfg->milter_script_msgs;
        uint32_t n = count(key, 1, now, lim, &first);
        if (lim && n > lim)
            g_snprintf(why, sizeof why, "script %s sent %u messages in 1h (limit %u)", script, n,
                       lim);
        if (first)
            queue_finding(script, why, now);
        g_snprintf(key, sizeof key, "u:%s", c->uid);
        lim = (uint32_t)cfg->milter_uid_msgs;
        n = count(key, 1, now, lim, &first);
        if (lim && n > lim && !*why)
            g_snprintf(why, sizeof why, "uid %s sent %u messages in 1h (limit %u)", c->uid, n,
                       lim);
        if (first) {
            char reason[200];
            g_snprintf(reason, sizeof reason, "uid %s sent %u messages in 1h (limit %u)", c->uid,
                       n, lim);
            queue_finding(uidkey, reason, now);
        }
    }
    if (who && cfg->milter_fp_rcpts > 0)
        fingerprints(c, who, now);
    g_mutex_unlock(&md->mu);

    if (*why)
        r = stop_message(ctx, c, why);
    if (r == SMFIS_CONTINUE)
        sign_sender(ctx, c, now);
    /* The outbound log: what left (held mail too: it may be released). */
    int64_t h;
    if (r == SMFIS_CONTINUE && md->okey_ok && c->msgid
        && outbound_hash(md->okey, c->msgid, strlen(c->msgid), &h))
        queue_outbound(h, who ? who : (c->sender ? c->sender : ""), now);
    msg_reset(c);
    return r;
}

static sfsistat cb_abort(SMFICTX *ctx)
{
    struct mconn *c = smfi_getpriv(ctx);
    if (c)
        msg_reset(c);
    return SMFIS_CONTINUE;
}

static sfsistat cb_close(SMFICTX *ctx)
{
    struct mconn *c = smfi_getpriv(ctx);
    if (c) {
        msg_reset(c);
        g_free(c);
        smfi_setpriv(ctx, NULL);
    }
    return SMFIS_CONTINUE;
}

static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3)
{
    (void)f2;
    (void)f3;
    /* Actions: quarantine (hold), change the sender (BATV). */
    *pf0 = f0 & (SMFIF_QUARANTINE | SMFIF_CHGFROM);
    /* Steps: nothing we do not read is sent (HELO, unknown commands, DATA). */
    *pf1 = f1 & (SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NODATA);
    *pf2 = *pf3 = 0;
    smfi_setsymlist(ctx, SMFIM_ENVFROM, "{auth_authen}");
    smfi_setsymlist(ctx, SMFIM_EOM, "i");
    return SMFIS_CONTINUE;
}

/* ---- the store thread ------------------------------------------------------------ */

static void lock_row(const char *subject, int64_t incident_id, const char *lang, void *arg)
{
    (void)lang;
    gint64 *v = g_new(gint64, 1);
    *v = incident_id;
    g_hash_table_insert(arg, g_ascii_strdown(subject, -1), v);
}

static bool reload_locks(struct store *st)
{
    GHashTable *n = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    struct ad_err err = { 0 };
    if (store_policy_locks(st, lock_row, n, &err) != 0) {
        g_hash_table_destroy(n);
        log_msg(md->log, LOG_LEVEL_ERROR, "milter: cannot read locks: %s (keeping those known)",
                err.msg);
        return false;
    }
    g_mutex_lock(&md->mu);
    GHashTable *old = md->locks;
    md->locks = n;
    g_mutex_unlock(&md->mu);
    g_hash_table_destroy(old);
    return true;
}

/* Records queued jobs: findings one by one, outbound rows in batches. A store
 * failure puts the rest back (rows beyond the bound are dropped). */
static int drain(struct store *st, struct ad_err *err)
{
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(struct store_outbound_row));
    GPtrArray *held = g_ptr_array_new_with_free_func(job_free);
    struct job *j;
    int rc = 0;
    while (rc == 0 && rows->len < 500 && (j = g_async_queue_try_pop(md->jobs)) != NULL) {
        if (j->kind == JOB_OUTBOUND) {
            struct store_outbound_row r = { j->h, j->at, j->who };
            g_array_append_val(rows, r);
            g_ptr_array_add(held, j);
            continue;
        }
        int64_t lock_id = 0;
        rc = store_policy_event_add(st, j->who, "alert", j->reason, false, DECIDED_BY, j->at,
                                    &lock_id, err);
        if (rc)
            g_async_queue_push_front(md->jobs, j);
        else
            job_free(j);
    }
    if (rows->len && rc == 0) {
        rc = store_outbound_add(st, (struct store_outbound_row *)(void *)rows->data, rows->len,
                                err);
        if (rc == 0) {
            g_atomic_int_add(&md->n_queued_rows, -(gint)rows->len);
            g_mutex_lock(&md->mu);
            md->n_logged += rows->len;
            g_mutex_unlock(&md->mu);
        }
    }
    if (rc && rows->len) {
        /* back in the queue, oldest first */
        for (guint i = held->len; i > 0; i--)
            g_async_queue_push_front(md->jobs, g_ptr_array_steal_index(held, i - 1));
    }
    g_ptr_array_free(held, TRUE);
    g_array_free(rows, TRUE);
    return rc;
}

static gpointer store_main(gpointer arg)
{
    (void)arg;
    const struct config *cfg = md->cfg;
    struct store *st = NULL;
    int64_t version = -1, pruned_at = 0;
    unsigned fails = 0;
    for (;;) {
        bool stop = g_atomic_int_get(&md->stopping);
        struct ad_err err = { 0 };
        int rc = 0;
        if (!st)
            rc = store_open_cfg(cfg, &st, &err);
        int64_t v = 0;
        if (rc == 0)
            rc = store_policy_data_version(st, &v, &err);
        if (rc == 0 && (v != version || !md->store_ok)) {
            if (reload_locks(st))
                version = v;
            else
                rc = AD_ERR_STORE;
        }
        if (rc == 0)
            while (g_async_queue_length(md->jobs) > 0 && (rc = drain(st, &err)) == 0)
                ;
        int64_t now = now_s();
        if (rc == 0 && now - pruned_at >= 3600) {
            int64_t n = 0;
            if ((rc = store_outbound_prune(st, now - cfg->outbound_log_days, &n, &err)) == 0) {
                pruned_at = now;
                if (n)
                    log_msg(md->log, LOG_LEVEL_INFO, "milter: outbound log: %lld row(s) older "
                            "than %lld days pruned", (long long)n,
                            cfg->outbound_log_days / 86400);
            }
        }
        g_mutex_lock(&md->mu);
        bool was_ok = md->store_ok;
        md->store_ok = rc == 0;
        g_mutex_unlock(&md->mu);
        if (rc) {
            if (was_ok || fails++ % 40 == 0)
                log_msg(md->log, LOG_LEVEL_ERROR, "milter: database unavailable, mail flows "
                        "with the locks last read: %s", err.msg);
            if (rc != AD_ERR_BUSY)
                st = store_close(st);
        } else if (!was_ok) {
            log_msg(md->log, LOG_LEVEL_INFO, "milter: database readable (%u locks)",
                    g_hash_table_size(md->locks));
            fails = 0;
        }
        if (stop)
            break;
        g_usleep(rc ? 1000000 : 250000);
    }
    store_close(st);
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------- */

static int drop_privileges(const struct config *cfg, struct logger *log, struct ad_err *err)
{
    const char *user = cfg->milter_user;
    if (geteuid() != 0 || !user || !*user)
        return 0;
    struct passwd *pw = getpwnam(user);
    if (!pw)
        return ad_err_set(err, AD_ERR_CONFIG, "[milter] user: no user '%s'", user);
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
        return ad_err_set(err, AD_ERR_IO, "cannot drop privileges to %s: %s", user,
                          strerror(errno));
    if (setuid(0) == 0)
        return ad_err_set(err, AD_ERR_IO, "privileges could be regained after dropping to %s",
                          user);
    log_msg(log, LOG_LEVEL_INFO, "milter: running as %s (uid %d)", user, (int)uid);
    return 0;
}

/* TCP_NODELAY on libmilter's listening socket, which Linux hands on to every
 * connection it accepts. libmilter answers a message with several small
 * writes (a change of sender, then "continue"); with Nagle's algorithm the
 * second waits for the ACK of the first, which Postfix delays by up to 40 ms:
 * measured, that halved the messages per second when BATV changes the sender
 * (bench/milter.sh). libmilter does not give out its socket, so it is found
 * among our descriptors: the one listening socket of this fresh process. */
static void listener_nodelay(struct logger *log)
{
    int n = 0;
    for (int fd = 3; fd < 1024; fd++) {
        int on = 0;
        socklen_t len = sizeof on;
        struct sockaddr_storage sa;
        socklen_t salen = sizeof sa;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0 || !on)
            continue;
        if (getsockname(fd, (struct sockaddr *)&sa, &salen) != 0
            || (sa.ss_family != AF_INET && sa.ss_family != AF_INET6))
            continue;
        int one = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0)
            n++;
    }
    log_msg(log, LOG_LEVEL_DEBUG, "milter: TCP_NODELAY set on %d listening socket(s)", n);
}

static void read_keys(struct milterd *d)
{
    const struct config *cfg = d->cfg;
    struct ad_err err = { 0 };
    if (cfg->batv_domains && cfg->batv_domains[0]) {
        if (batv_keys_load(cfg->batv_keys_file, &d->batv, &err) == 0) {
            d->batv_ok = true;
            log_msg(d->log, LOG_LEVEL_INFO, "milter: BATV: %zu key(s), senders of %s%s tagged "
                    "with key %d", d->batv.n, cfg->batv_domains[0],
                    cfg->batv_domains[1] ? " and more" : "", d->batv.k[d->batv.signer].num);
        } else {
            log_msg(d->log, LOG_LEVEL_ERROR, "milter: BATV: %s: envelope senders are not "
                    "tagged", err.msg);
        }
    }
    struct ad_err oerr = { 0 };
    if (outbound_key_load(cfg->outbound_key_file, true, d->okey, &oerr) == 0)
        d->okey_ok = true;
    else
        log_msg(d->log, LOG_LEVEL_ERROR, "milter: %s: the outbound log is not written",
                oerr.msg);
}

int milter_run(const struct config *cfg, struct logger *log, struct ad_err *err)
{
    struct milterd d = { 0 };
    d.cfg = cfg;
    d.log = log;
    g_mutex_init(&d.mu);
    d.locks = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    d.counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    d.jobs = g_async_queue_new_full(job_free);
    d.store_ok = false;
    md = &d;
    int rc = 0;
    if (sodium_init() < 0) {
        rc = ad_err_set(err, AD_ERR_IO, "libsodium could not be initialised");
        goto out;
    }
    read_keys(&d); /* before the privilege drop: the key files may be root's */
    struct smfiDesc desc = {
        .xxfi_name = "abusedesk",
        .xxfi_version = SMFI_VERSION,
        .xxfi_flags = SMFIF_QUARANTINE | SMFIF_CHGFROM,
        .xxfi_connect = cb_connect,
        .xxfi_envfrom = cb_envfrom,
        .xxfi_envrcpt = cb_envrcpt,
        .xxfi_header = cb_header,
        .xxfi_body = cb_body,
        .xxfi_eom = cb_eom,
        .xxfi_abort = cb_abort,
        .xxfi_close = cb_close,
        .xxfi_negotiate = cb_negotiate,
    };
    if (smfi_setconn((char *)cfg->milter_listen) != MI_SUCCESS
        || smfi_register(desc) != MI_SUCCESS) {
        rc = ad_err_set(err, AD_ERR_CONFIG, "[milter] listen '%s': not a milter socket",
                        cfg->milter_listen);
        goto out;
    }
    smfi_settimeout(30);
    if (smfi_opensocket(true) != MI_SUCCESS) {
        rc = ad_err_set(err, AD_ERR_IO, "[milter] listen '%s': cannot listen there",
                        cfg->milter_listen);
        goto out;
    }
    listener_nodelay(log);
    if ((rc = drop_privileges(cfg, log, err)))
        goto out;
    /* libmilter's own thread takes SIGTERM, SIGINT and SIGHUP with sigwait():
     * every other thread must have them blocked, ours included. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    d.store_thread = g_thread_new("milter-store", store_main, NULL);
    log_msg(log, LOG_LEVEL_INFO, "milter: serving on %s (locked mail: %s)", cfg->milter_listen,
            cfg->milter_locked_action);
    if (smfi_main() != MI_SUCCESS)
        log_msg(log, LOG_LEVEL_ERROR, "milter: libmilter stopped with an error");
    g_atomic_int_set(&d.stopping, 1);
    g_thread_join(d.store_thread);
    log_msg(log, LOG_LEVEL_INFO, "milter: stopping (%llu messages, %llu held, %llu rejected, "
            "%llu senders tagged, %llu findings, %llu outbound log rows, %llu dropped, %llu "
            "not counted (table full))", (unsigned long long)d.n_msgs,
            (unsigned long long)d.n_held, (unsigned long long)d.n_rejected,
            (unsigned long long)d.n_signed, (unsigned long long)d.n_findings,
            (unsigned long long)d.n_logged, (unsigned long long)d.n_dropped,
            (unsigned long long)d.n_untracked);
out:
    md = NULL;
    g_hash_table_destroy(d.locks);
    g_hash_table_destroy(d.counts);
    g_async_queue_unref(d.jobs);
    sodium_memzero(&d.batv, sizeof d.batv);
    sodium_memzero(d.okey, sizeof d.okey);
    g_mutex_clear(&d.mu);
    return rc;
}

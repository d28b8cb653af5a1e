/*
 * intake.c: the path of every report into abusedesk (see intake.h). Called by
 * `abusedesk ingest` for MTA pipes and Maildirs, and later by the daemon.
 *
 * The order of steps is what makes it safe:
 *  1. the raw bytes go to spool/tmp, are fsync'ed and renamed to spool/new/<sha256>;
 *  2. only then is the message parsed (a bounded prefix: memory stays bounded);
 *  3. it is inserted with its hash as unique key (a retry finds it and stops);
 *  4. only after the commit is the spool file removed.
 * A crash between any two steps leaves either the spool file (re-processed by a
 * retry or by intake_spool_recover()) or the stored row, never neither, and the hash
 * key means never both twice. Input that is not mail at all is moved to the
 * quarantine folder with a .reason file. Errors come back in struct ad_err;
 * AD_ERR_BUSY means "the store is unavailable, try again later".
 */
#include "intake.h"

#include "act/lifecycle.h"
#include "act/outbox.h"
#include "incident/incident.h"
#include "intake/route.h"
#include "intake/arrival.h"
#include "reputation/dmarc_desk.h"
#include "store/store_policy.h"
#include "store/store_intake.h"
#include "store/store_replay.h"
#include "store/store_tx.h"
#include "trust/dkimverify.h"
#include "trust/reporter.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parse/parse.h"
#include "parse/report_json.h"
#include "util/fsutil.h"

#define INTAKE_CHUNK 65536
#define INTAKE_BATCH 100
#define INTAKE_REPLAY_BATCH 5000

struct msgbuf {
    char sha[65];
    char *head;         /* the first max_message_size bytes, NUL-terminated */
    size_t head_len;
    size_t total;       /* size of the whole message */
};

static void msgbuf_clear(struct msgbuf *m)
{
    g_free(m->head);
    memset(m, 0, sizeof(*m));
}

void intake_init(struct intake *in, const struct config *cfg, const struct logger *log)
{
    memset(in, 0, sizeof(*in));
    in->cfg = cfg;
    in->log = log;
}

void intake_close(struct intake *in)
{
    in->st = store_close(in->st);
    in->dkim = dkimverify_free(in->dkim);
}

static int open_store(struct intake *in, struct ad_err *err)
{
    if (in->st)
        return 0;
    if (in->cfg->store_backend && !strcmp(in->cfg->store_backend, "postgresql"))
        return store_open_cfg(in->cfg, &in->st, err);
    char *dir = g_path_get_dirname(in->cfg->db_path);
    int rc = fs_mkdir_p(dir, err);
    g_free(dir);
    if (rc) {
        /* The directory error already says what failed; retrying later may succeed. */
        if (err)
            err->code = AD_ERR_BUSY;
        return AD_ERR_BUSY;
    }
    return store_open_cfg(in->cfg, &in->st, err);
}

/* Streams fd through the hash, keeps the head, and copies to out_fd when >= 0. */
static int slurp(int fd, int out_fd, size_t max, struct msgbuf *m, struct ad_err *err)
{
    GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
    char *buf = g_malloc(INTAKE_CHUNK);
    size_t cap = 0;
    int rc = 0;
    m->head = NULL;
    m->head_len = m->total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, INTAKE_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = ad_err_set(err, AD_ERR_IO, "read: %s", strerror(errno));
            break;
        }
        if (n == 0)
            break;
        g_checksum_update(ck, (const guchar *)buf, (gssize)n);
        m->total += (size_t)n;
        if (m->head_len < max) {
            size_t take = MIN((size_t)n, max - m->head_len);
            if (m->head_len + take + 1 > cap) {
                cap = MAX(cap * 2, m->head_len + take + 1);
                cap = MIN(cap, max + 1);
                m->head = g_realloc(m->head, cap);
            }
            memcpy(m->head + m->head_len, buf, take);
            m->head_len += take;
        }
        for (ssize_t off = 0; out_fd >= 0 && off < n;) {
            ssize_t w = write(out_fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = ad_err_set(err, AD_ERR_IO, "spool write: %s", strerror(errno));
                goto out;
            }
            off += w;
        }
    }
out:
    if (!m->head)
        m->head = g_malloc(1);
    m->head[m->head_len] = '\0';
    g_strlcpy(m->sha, g_checksum_get_string(ck), sizeof(m->sha));
    g_checksum_free(ck);
    g_free(buf);
    return rc;
}

static int read_file(const char *path, size_t max, struct msgbuf *m, struct ad_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ad_err_set(err, AD_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    int rc = slurp(fd, -1, max, m, err);
    close(fd);
    return rc;
}

static int quarantine(struct intake *in, const char *path, const struct msgbuf *m,
                      const char *reason, const char *source, struct ad_err *err)
{
    int rc = fs_mkdir_p(in->cfg->quarantine_dir, err);
    if (rc)
        return rc;
    char *dst = g_strdup_printf("%s/%s.eml", in->cfg->quarantine_dir, m->sha);
    char *rpath = g_strdup_printf("%s/%s.reason", in->cfg->quarantine_dir, m->sha);
    char *text = g_strdup_printf("source: %s\nsize: %zu\nreason: %s\n", source, m->total, reason);
    rc = fs_write_durable(rpath, text, strlen(text), err);
    if (rc == 0)
        rc = fs_move_durable(path, dst, err);
    if (rc == 0)
        log_msg(in->log, LOG_LEVEL_WARNING, "quarantined %s source=%s reason=\"%s\"", dst,
                source, reason);
    g_free(text);
    g_free(rpath);
    g_free(dst);
    return rc;
}

static const char *report_status(const struct report *r, bool truncated)
{
    if (truncated || r->warning)
        return "truncated";
    return r->kind == REPORT_UNKNOWN ? "unknown" : "parsed";
}

/* The first lines a customer wrote in a reply (quoted lines and the header
 * block skipped), indented, for the team's mail. */
static char *reply_excerpt(const char *text, size_t len)
{
    const char *b = NULL;
    for (size_t i = 0; i + 1 < len; i++)
        if (text[i] == '\n' && (text[i + 1] == '\n' || (text[i + 1] == '\r' && i + 2 < len
                                                        && text[i + 2] == '\n'))) {
            b = text + i + 1;
            break;
        }
    if (!b)
        return g_strdup("");
    size_t n = (size_t)(text + len - b);
    char *body = g_strndup(b, n < 4096 ? n : 4096);
    char **lines = g_strsplit(body, "\n", -1);
    GString *g = g_string_new(NULL);
    int taken = 0;
    for (char **l = lines; *l && taken < 8; l++) {
        char *t = g_strstrip(*l);
        if (!*t || *t == '>' || g_str_has_prefix(t, "--") || g_str_has_prefix(t, "Content-"))
            continue;
        char *valid = g_utf8_make_valid(t, -1);
        g_string_append_printf(g, "%s    > %s", taken ? "\n" : "", valid);
        g_free(valid);
        taken++;
    }
    g_strfreev(lines);
    g_free(body);
    return g_string_free(g, FALSE);
}

/* The domain of an address, lower case, or NULL (g_malloc'd). */
static char *addr_domain(const char *addr)
{
    const char *at = addr ? strrchr(addr, '@') : NULL;
    if (!at || !at[1])
        return NULL;
    char *d = g_ascii_strdown(at + 1, -1);
    g_strchomp(d);
    size_t n = strlen(d);
    if (n && d[n - 1] == '>')
        d[n - 1] = '\0';
    return d;
}

/* Our MX vouches for the From domain of a reply: DMARC pass for it, or a DKIM
 * signature of exactly that domain. Not SPF: on shared hosting the customers'
 * SPF records include our own outbound servers, so another customer passes it. */
static bool from_verified(const struct reporter *rp, const char *from)
{
    char *d = addr_domain(from);
    bool ok = d && (authres_has_pass(&rp->ar, "dmarc", d, false)
                    || authres_has_pass(&rp->ar, "dkim", d, false));
    g_free(d);
    return ok;
}

/* A bounce of one of our own notices: its original names our Message-ID. */
static int notice_bounce(struct lifecycle *lc, int64_t id, const struct report *r, bool *handled,
                         struct ad_err *err)
{
    *handled = false;
    if (r->kind != REPORT_DSN || !r->original || !r->original->message_id)
        return 0;
    const char *rcpt = NULL, *status = NULL;
    bool permanent = false;
    for (guint i = 0; r->recipients && i < r->recipients->len; i++) {
        const struct dsn_rcpt *d = g_ptr_array_index(r->recipients, i);
        bool perm = (d->status && d->status[0] == '5')
                    || (d->action && !g_ascii_strcasecmp(d->action, "failed"));
        if (!rcpt || (perm && !permanent)) {
            rcpt = d->final_recipient ? d->final_recipient : d->original_recipient;
            status = d->status;
        }
        permanent = permanent || perm;
    }
    if (!r->recipients || r->recipients->len == 0)
        permanent = true; /* a bounce that names nobody: the notice did not arrive */
    int rc = lifecycle_notice_bounced(lc, r->original->message_id, id, rcpt, status, permanent,
                                      err);
    if (rc < 0)
        return rc;
    *handled = rc == 1;
    return 0;
}

/* True when the raw mail may carry a DMARC aggregate report: it names XML,
 * gzip or zip somewhere (a content type or a file name). Spares the MIME
 * walk for every complaint. */
static bool may_be_dmarc(const char *raw, size_t len)
{
    static const char *const words[] = { "xml", "zip" };
    for (size_t w = 0; w < G_N_ELEMENTS(words); w++)
        for (size_t i = 0; i + 3 <= len; i++)
            if ((raw[i] | 0x20) == words[w][0] && (raw[i + 1] | 0x20) == words[w][1]
                && (raw[i + 2] | 0x20) == words[w][2])
                return true;
    return false;
}

/* Routing: a DMARC aggregate report is stored with its rows, and forgery of a
 * customer's domain it shows goes to that customer's joe-job incident
 * (dmarc_desk.h). *handled tells whether the mail was one. A report that
 * cannot be read (bad XML, a bomb) is kept as it is, with the reason in the
 * audit log, and handled. */
static int dmarc_step(struct intake *in, int64_t id, const struct msgbuf *m, int64_t now,
                      bool *handled, struct ad_err *err)
{
    *handled = false;
    if (!may_be_dmarc(m->head, m->head_len))
        return 0;
    struct dmarc_report *dr = NULL;
    struct ad_err perr = { 0 };
    int found = dmarc_mail_find(m->head, m->head_len, &dr, &perr);
    if (found == 1)
        return 0;
    int rc = 0;
    if (found < 0) {
        /* An attachment that looked like a report but is not readable: only
         * when the mail is no complaint of another kind does it end here. */
        if (perr.code == AD_ERR_LIMIT) {
            rc = incident_audit(in->st, 0, id, "abusedesk", "dmarc-refused", perr.msg, err);
            *handled = rc == 0;
        }
    } else {
        struct dmarc_desk_outcome o;
        rc = dmarc_desk_file(in->cfg, in->st, dr, id, now, &o, err);
        if (rc == 0) {
            log_msg(in->log, LOG_LEVEL_INFO,
                    "report %lld: DMARC aggregate report for %s: %llu messages, %llu failing "
                    "from outside our ranges%s%s", (long long)id, dr->domain,
                    (unsigned long long)dr->total, (unsigned long long)o.forged,
                    o.incident_id ? " -> joe-job incident" : "",
                    o.duplicate ? " (stored before)" : "");
            *handled = true;
        }
        dmarc_desk_outcome_clear(&o);
    }
    dmarc_report_free(dr);
    if (rc == 0 && *handled)
        rc = store_intake_done(in->st, id, err);
    return rc;
}

/* What the desk makes of a new report, under a savepoint. One explicit routing
 * step first: a bounce of one of our notices, a mail that answers us (a
 * customer's reply, an auto-reply, our own mail coming back), else a
 * complaint, which is attributed, scored with its reporter (who vouched for
 * it), filed into an incident, and may alert the team or lock at once. */
static int desk(struct intake *in, int64_t id, const struct report *r, const struct msgbuf *m,
                int64_t now, struct ad_err *err)
{
    int rc = store_savepoint(in->st, "desk", err);
    if (rc)
        return rc;
    struct lifecycle lc = { in->cfg, in->st, in->log, now };
    struct route_headers rh;
    route_headers_parse(m->head, m->head_len, &rh);
    char *claimed = addr_domain(r->from);
    struct reporter rp;
    reporter_from_headers(in->cfg, m->head, m->head_len, claimed, &rp);
    bool handled = false;
    rc = notice_bounce(&lc, id, r, &handled, err);
    /* A DMARC aggregate report (never a feedback report or a bounce): stored,
     * and forgery filed for the customer. */
    if (rc == 0 && !handled && r->kind != REPORT_ARF && r->kind != REPORT_AUTH_FAILURE
        && r->kind != REPORT_DSN)
        rc = dmarc_step(in, id, m, now, &handled, err);

    /* A mail that answers one of ours or names a ticket. A ticket number alone
     * counts only for a mail that carries no complaint (no original message). */
    struct lifecycle_match match = { 0 };
    if (rc == 0 && !handled) {
        bool complaint = r->kind == REPORT_ARF || r->kind == REPORT_AUTH_FAILURE
                         || r->kind == REPORT_DSN || (r->original && r->original->received
                                                      && r->original->received->len);
        rc = lifecycle_reply_match(&lc, r->subject, r->message_id, (const char *const *)rh.ids,
                                   rh.n_ids, !complaint, &match, err);
        /* Our own mail named in a complaint's original is still a complaint
         * about it only when it is not ours: a notice quoted back is a reply. */
        if (rc == 0 && match.incident_id && complaint && !match.by_notice && !match.own_mail)
            match.incident_id = 0;
    }
    if (rc == 0 && !handled && match.incident_id) {
        enum lifecycle_verdict v;
        char why[400];
        const char *from = rh.from_addr ? rh.from_addr : r->from;
        rc = lifecycle_reply_judge(&lc, &match, from, from_verified(&rp, from), rh.auto_reply,
                                   rh.auto_why, &v, why, sizeof why, err);
        if (rc == 0) {
            char *ex = reply_excerpt(m->head, m->head_len);
            rc = lifecycle_reply(&lc, match.incident_id, id, from, r->subject, ex, v, why, err);
            g_free(ex);
        }
        if (rc == 0)
            log_msg(in->log, LOG_LEVEL_INFO, "report %lld: %s reply to incident %lld",
                    (long long)id,
                    v == LIFECYCLE_REPLY_VERIFIED ? "verified"
                    : v == LIFECYCLE_REPLY_AUTO   ? "auto"
                                                  : "unverified",
                    (long long)match.incident_id);
        handled = true;
    } else if (rc == 0 && !handled && match.own_mail) {
        /* Our own mail, about no incident: keep it, do nothing with it. */
        rc = incident_audit_at(in->st, now, 0, id, "abusedesk", "own-mail",
                            "our own mail came back to the desk: not a complaint", err);
        if (rc == 0)
            rc = store_intake_done(in->st, id, err);
        handled = true;
    }
    if (rc == 0 && !handled) {
        /* A complaint: who vouches for its reporter decides how much it counts. */
        reporter_verify_dkim(in->cfg, &in->dkim, m->head, m->head_len, &rp);
        struct score_reporter srep = { rp.authenticated, rp.provider, rp.how };
        struct incident_outcome io;
        rc = incident_process(in->cfg, in->st, id, r, now, &srep, in->log, &io, err);
        if (rc == 0)
            rc = lifecycle_after_process(&lc, id, &io, err);
    }
    g_free(claimed);
    route_headers_clear(&rh);
    if (rc) {
        store_savepoint_rollback(in->st, "desk");
        return rc;
    }
    return store_savepoint_release(in->st, "desk", err);
}

/* desk() for one report; a report replayed without --notify has the mails
 * and hooks its decisions queued held back in the same transaction, so a
 * replay never writes to customers, the team or the provisioning. */
static int desk_replayable(struct intake *in, int64_t id, enum store_replay_mode mode,
                           const struct report *r, const struct msgbuf *m, int64_t now,
                           struct ad_err *err)
{
    int64_t mark_outbox = 0, mark_hooks = 0;
    int rc = 0;
    if (mode == STORE_REPLAY_HELD)
        rc = store_replay_marks(in->st, &mark_outbox, &mark_hooks, err);
    if (rc == 0)
        rc = desk(in, id, r, m, now, err);
    int64_t now_outbox = 0, now_hooks = 0;
    if (rc == 0 && mode == STORE_REPLAY_HELD)
        rc = store_replay_marks(in->st, &now_outbox, &now_hooks, err);
    if (rc == 0 && mode == STORE_REPLAY_HELD && (now_outbox > mark_outbox || now_hooks > mark_hooks)) {
        int n_held = 0;
        rc = store_replay_hold(in->st, mark_outbox, mark_hooks, &n_held, err);
        if (rc == 0 && n_held)
            log_msg(in->log, LOG_LEVEL_INFO, "report %lld (replayed): %d mail(s)/hook(s) held "
                    "back", (long long)id, n_held);
    }
    return rc;
}

int intake_process_pending(struct intake *in, size_t *n, struct ad_err *err)
{
    *n = 0;
    int rc = open_store(in, err);
    if (rc)
        return rc;
    for (;;) {
        GArray *ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
        int64_t batch[STORE_INTAKE_BATCH];
        size_t n_pending = 0;
        rc = store_intake_pending(in->st, batch, &n_pending, err);
        g_array_append_vals(ids, batch, (guint)n_pending);
        if (rc < 0 || ids->len == 0) {
            g_array_free(ids, TRUE);
            return rc < 0 ? rc : 0;
        }
        size_t before = *n;
        bool in_tx = false, bulk = false;
        int n_batch = 0;
        for (guint i = 0; i < ids->len && rc == 0; i++) {
            int64_t id = g_array_index(ids, int64_t, i);
            struct store_report_row row = { 0 };
            struct msgbuf m = { 0 };
            if ((rc = store_report_get(in->st, id, true, &row, err)))
                break;
            if (row.raw) {
                m.head = g_strndup((const char *)row.raw, row.raw_len);
                m.head_len = m.total = row.raw_len;
            } else if (row.spool_path) {
                /* too large to keep in the database: its start is in the spool */
                struct ad_err ferr = { 0 };
                if (read_file(row.spool_path, in->cfg->max_message_size, &m, &ferr) != 0)
                    log_msg(in->log, LOG_LEVEL_ERROR, "report %lld: %s", (long long)id, ferr.msg);
            }
            struct parse_limits lim;
            parse_limits_default(&lim);
            lim.max_size = in->cfg->max_message_size;
            struct ad_err perr = { 0 };
            struct report *r = m.head ? parse_message(m.head, m.head_len, &lim, &perr) : NULL;
            if (!r) {
                log_msg(in->log, LOG_LEVEL_ERROR, "report %lld: its message is not readable "
                        "any more; left unprocessed", (long long)id);
                store_row_clear(&row);
                msgbuf_clear(&m);
                if (in_tx && i + 1 == ids->len) {
                    in_tx = false;
                    rc = store_commit(in->st, err);
                }
                continue;
            }
            int64_t at = (int64_t)(g_get_real_time() / G_USEC_PER_SEC);
            GDateTime *dt = row.received_at ? g_date_time_new_from_iso8601(row.received_at, NULL)
                                            : NULL;
            if (dt) {
                at = g_date_time_to_unix(dt);
                g_date_time_unref(dt);
            }
            /* A live report is committed alone: its decision (a lock) must
             * reach the policy servers at once. Replayed ones are committed
             * INTAKE_REPLAY_BATCH at a time (one fsync each, not one per
             * report); a crash loses a whole batch, which the next run files
             * again exactly as before, since nothing leaves the store here. */
            enum store_replay_mode mode = STORE_REPLAY_LIVE;
            rc = store_replay_mode(in->st, id, &mode, err);
            if (rc == 0 && !in_tx && bulk != (mode != STORE_REPLAY_LIVE)
                && (rc = store_replay_bulk(in->st, mode != STORE_REPLAY_LIVE, err)) == 0)
                bulk = mode != STORE_REPLAY_LIVE;
            if (rc == 0 && !in_tx && (rc = store_begin(in->st, err)) == 0)
                in_tx = true;
            if (rc == 0)
                rc = desk_replayable(in, id, mode, r, &m, at, err);
            if (rc == 0 && (mode == STORE_REPLAY_LIVE || ++n_batch >= INTAKE_REPLAY_BATCH
                            || i + 1 == ids->len)) {
                in_tx = false;
                n_batch = 0;
                rc = store_commit(in->st, err);
            }
            if (rc && in_tx) {
                store_rollback(in->st);
                in_tx = false;
            }
            if (rc == 0)
                (*n)++;
            report_free(r);
            store_row_clear(&row);
            msgbuf_clear(&m);
        }
        if (in_tx) {
            /* the loop left early on an error: nothing of the batch stays */
            store_rollback(in->st);
        }
        if (bulk) {
            struct ad_err berr = { 0 };
            if (store_replay_bulk(in->st, false, &berr) && rc == 0) {
                *err = berr;
                rc = berr.code ? berr.code : AD_ERR_STORE;
            }
        }
        g_array_free(ids, TRUE);
        if (rc)
            return rc;
        if (*n == before)
            return 0; /* only unreadable ones are left */
    }
}

/* Files the policy server's queued findings (store_policy.h) into incidents:
 * the lock it wrote is linked to the account's incident, hooks and notices
 * follow as for any lock. */
static int policy_events(struct intake *in, size_t *n, struct ad_err *err)
{
    struct store_policy_event ev[50];
    size_t got = 0;
    int rc = store_policy_events_pending(in->st, ev, G_N_ELEMENTS(ev), &got, err);
    for (size_t i = 0; i < got && rc == 0; i++) {
        struct lifecycle lc = { in->cfg, in->st, in->log, ev[i].at };
        enum incident_stage stage = !strcmp(ev[i].stage, "lock")    ? INCIDENT_STAGE_LOCK
                                    : !strcmp(ev[i].stage, "alert") ? INCIDENT_STAGE_ALERT
                                                                    : INCIDENT_STAGE_OBSERVE;
        int64_t inc = 0;
        if ((rc = store_begin(in->st, err)))
            break;
        rc = lifecycle_policy_event_lock(&lc, ev[i].account, stage, ev[i].reason,
                                         !strcmp(ev[i].stage, "lock"), ev[i].decided_by,
                                         ev[i].lock_id, &inc, err);
        if (rc == 0)
            rc = store_policy_event_done(in->st, ev[i].id, inc, lc.now, err);
        if (rc == 0)
            rc = store_commit(in->st, err);
        else
            store_rollback(in->st);
        if (rc == 0)
            (*n)++;
    }
    for (size_t i = 0; i < got; i++)
        store_policy_event_clear(&ev[i]);
    return rc;
}

int intake_process_events(struct intake *in, size_t *n, struct ad_err *err)
{
    *n = 0;
    int rc = open_store(in, err);
    if (rc)
        return rc;
    for (;;) {
        size_t before = *n;
        if ((rc = policy_events(in, n, err)) || *n == before)
            return rc;
    }
}

void intake_flush_outbox(struct intake *in)
{
    if (!in->st || store_in_transaction(in->st))
        return;
    struct ad_err err = { 0 };
    struct outbox_stats stats;
    if (outbox_flush(in->cfg, in->st, in->log, (int64_t)(g_get_real_time() / G_USEC_PER_SEC),
                     &stats, &err) != 0)
        log_msg(in->log, LOG_LEVEL_WARNING, "outbox: %s (left for abusedesk outbox --flush)",
                err.msg);
}

/* The crash test (tests/crash_safety.sh) must kill a delivery inside the
 * window between the durable spool file and the commit, and show that the
 * retry stores it exactly once. ABUSEDESK_FAILPOINT_SPOOLED_MS widens that
 * window by sleeping there; unset (always, outside that test) it costs one
 * getenv(). */
static void failpoint_spooled(void)
{
    const char *v = getenv("ABUSEDESK_FAILPOINT_SPOOLED_MS");
    long ms = v ? strtol(v, NULL, 10) : 0;
    if (ms > 0 && ms <= 10000)
        g_usleep((gulong)ms * 1000);
}

/* ingest --replay: the time message m reached us, and whether it may be filed
 * now. A message the desk holds already (same bytes) passes: it will be a
 * duplicate, which changes nothing. A new one must have an arrival time and
 * must not be older than the newest report in the desk: windows and stages
 * are computed forward in time, and a report filed behind later decisions
 * would not change them. *refused with the reason logged; rc for store errors. */
static int replay_check(struct intake *in, const struct msgbuf *m, const char *source,
                        int64_t *arrived, bool *refused, struct ad_err *err)
{
    *refused = false;
    int64_t have = 0;
    int rc = store_report_find(in->st, m->sha, &have, err);
    if (rc < 0)
        return rc;
    enum arrival_source how = arrival_time(in->cfg, m->head, m->head_len, arrived);
    if (rc == 1)
        return 0; /* a duplicate: stored as before */
    if (how == ARRIVAL_NONE) {
        log_msg(in->log, LOG_LEVEL_ERROR, "replay: %s refused: neither a Received header of "
                "our MX ([intake] authserv_id, [network] our_hosts) nor a readable Date "
                "says when it reached us", source);
        *refused = true;
        return 0;
    }
    if (!in->newest_known) {
        if ((rc = store_replay_newest(in->st, &in->newest, err)))
            return rc;
        in->newest_known = true;
    }
    if (*arrived < in->newest) {
        GDateTime *a = g_date_time_new_from_unix_utc(*arrived);
        GDateTime *b = g_date_time_new_from_unix_utc(in->newest);
        char *as = a ? g_date_time_format(a, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("?");
        char *bs = b ? g_date_time_format(b, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("?");
        log_msg(in->log, LOG_LEVEL_ERROR, "replay: %s refused: it reached us at %s (from its "
                "%s), earlier than the newest report the desk holds (%s); replay in arrival "
                "order, into a desk that holds nothing newer (a fresh database)", source, as,
                arrival_source_name(how), bs);
        g_free(as);
        g_free(bs);
        if (a)
            g_date_time_unref(a);
        if (b)
            g_date_time_unref(b);
        *refused = true;
    }
    return 0;
}

/* Parses and stores one message whose bytes are durable at path. */
static int process(struct intake *in, const char *path, const struct msgbuf *m,
                   const char *source, const char *keep_path, enum intake_outcome *outcome,
                   int64_t *id, struct ad_err *err)
{
    struct parse_limits lim;
    parse_limits_default(&lim);
    lim.max_size = in->cfg->max_message_size;
    bool truncated = m->total > m->head_len;
    struct ad_err perr = { 0 };
    *id = 0;

    struct report *r = parse_message(m->head, m->head_len, &lim, &perr);
    if (!r) {
        *outcome = INTAKE_QUARANTINED;
        in->n_quarantined++;
        return quarantine(in, path, m, perr.msg, source, err);
    }
    int rc = open_store(in, err);
    if (rc) {
        report_free(r);
        return rc;
    }
    int64_t arrived = 0;
    if (in->replay) {
        bool refused = false;
        rc = replay_check(in, m, source, &arrived, &refused, err);
        if (rc || refused) {
            report_free(r);
            if (rc == 0) {
                *outcome = INTAKE_REFUSED;
                in->n_refused++;
            }
            return rc;
        }
    }
    char *json = report_json_line(r, NULL);
    struct store_report_in sr = {
        .received_at = arrived,
        .sha256 = m->sha,
        .source = source,
        .spool_path = truncated ? keep_path : NULL,
        .raw = truncated ? NULL : (const unsigned char *)m->head,
        .raw_len = m->head_len,
        .size = m->total,
        .compress = in->cfg->compress_raw,
        .kind = report_kind_name(r->kind),
        .format = r->dsn_format,
        .feedback_type = r->feedback_type,
        .subject = r->original && r->original->subject ? r->original->subject : r->subject,
        .from_addr = r->from,
        .source_ip = r->source_ip,
        .original_message_id = r->original ? r->original->message_id : NULL,
        .parsed_json = json,
        .status = report_status(r, truncated),
    };
    bool dup = false;
    /* Stored unprocessed: the desk worker (`abusedesk process`, `abusedesk run`)
     * routes, attributes and files it. The intake does nothing slow or remote:
     * it runs inside the MTA's pipe(8). The caller's batch transaction, or one
     * of our own. */
    bool own_tx = !store_in_transaction(in->st);
    if (own_tx && (rc = store_begin(in->st, err))) {
        free(json);
        report_free(r);
        return rc;
    }
    rc = store_report_add(in->st, &sr, id, &dup, err);
    if (rc == 0 && in->replay && !dup)
        rc = store_replay_mark(in->st, *id, in->notify ? STORE_REPLAY_NOTIFY : STORE_REPLAY_HELD,
                               err);
    if (rc == 0 && in->replay && !dup && arrived > in->newest)
        in->newest = arrived;
    if (own_tx) {
        if (rc == 0)
            rc = store_commit(in->st, err);
        if (rc)
            store_rollback(in->st);
    }
    if (rc == 0) {
        *outcome = dup ? INTAKE_DUPLICATE : INTAKE_STORED;
        if (dup)
            in->n_duplicate++;
        else
            in->n_stored++;
        log_msg(in->log, LOG_LEVEL_INFO, "%s id=%lld kind=%s sha256=%.16s source=%s",
                    dup ? "duplicate" : "stored", (long long)*id, sr.kind, m->sha, source);
    }
    free(json);
    report_free(r);
    return rc;
}

static int spool_dirs(struct intake *in, char **tmpd, char **newd, char **larged,
                      struct ad_err *err)
{
    *tmpd = g_build_filename(in->cfg->spool_dir, "tmp", NULL);
    *newd = g_build_filename(in->cfg->spool_dir, "new", NULL);
    *larged = g_build_filename(in->cfg->spool_dir, "large", NULL);
    int rc = fs_mkdir_p(*tmpd, err);
    if (!rc)
        rc = fs_mkdir_p(*newd, err);
    if (!rc)
        rc = fs_mkdir_p(*larged, err);
    return rc;
}

/* After a commit: drop the spooled copy, or keep it as the raw archive when the
 * message was too large to go into the database whole. */
static int spool_done(const char *path, const char *keep_path, bool truncated,
                      struct ad_err *err)
{
    if (truncated)
        return fs_move_durable(path, keep_path, err);
    if (unlink(path) != 0 && errno != ENOENT)
        return ad_err_set(err, AD_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    return 0;
}

int intake_fd(struct intake *in, int fd, const char *source, enum intake_outcome *outcome,
              int64_t *id, struct ad_err *err)
{
    char *tmpd = NULL, *newd = NULL, *larged = NULL, *tmp = NULL, *final = NULL, *keep = NULL;
    struct msgbuf m = { 0 };
    int rc = spool_dirs(in, &tmpd, &newd, &larged, err);
    if (rc)
        goto out;

    tmp = g_strdup_printf("%s/%lld.%ld.%08x", tmpd, (long long)g_get_real_time(), (long)getpid(),
                          g_random_int());
    int out_fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (out_fd < 0) {
        rc = ad_err_set(err, AD_ERR_IO, "cannot create spool file %s: %s", tmp, strerror(errno));
        goto out;
    }
    rc = slurp(fd, out_fd, in->cfg->max_message_size, &m, err);
    if (rc == 0 && fsync(out_fd) != 0)
        rc = ad_err_set(err, AD_ERR_IO, "fsync %s: %s", tmp, strerror(errno));
    close(out_fd);
    if (rc) {
        unlink(tmp);
        goto out;
    }
    final = g_strdup_printf("%s/%s.eml", newd, m.sha);
    keep = g_strdup_printf("%s/%s.eml", larged, m.sha);
    if (rename(tmp, final) != 0) {
        rc = ad_err_set(err, AD_ERR_IO, "cannot rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if ((rc = fs_sync_dir(newd, err)))
        goto out;
    failpoint_spooled();

    rc = process(in, final, &m, source, keep, outcome, id, err);
    if (rc == 0 && *outcome == INTAKE_REFUSED)
        unlink(final); /* not taken: the caller says so and keeps its copy */
    else if (rc == 0 && *outcome != INTAKE_QUARANTINED)
        rc = spool_done(final, keep, m.total > m.head_len, err);
out:
    msgbuf_clear(&m);
    g_free(tmpd);
    g_free(newd);
    g_free(larged);
    g_free(tmp);
    g_free(final);
    g_free(keep);
    return rc;
}

/* Sorted list of regular files in dir (names only); NULL-terminated, g_strfreev. */
static char **list_files(const char *dir)
{
    GPtrArray *a = g_ptr_array_new();
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                g_ptr_array_add(a, g_strdup(e->d_name));
        closedir(d);
    }
    g_ptr_array_add(a, NULL);
    return (char **)g_ptr_array_free(a, FALSE);
}

static gint cmp_strp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **list_sorted(const char *dir)
{
    char **v = list_files(dir);
    qsort(v, g_strv_length(v), sizeof(char *), (int (*)(const void *, const void *))cmp_strp);
    return v;
}

struct pending_move {
    char *from, *to;
};

static int flush_batch(struct intake *in, GArray *moves, bool *in_tx, struct ad_err *err)
{
    int rc = 0;
    if (*in_tx) {
        rc = store_commit(in->st, err);
        *in_tx = false;
        if (rc)
            store_rollback(in->st);
    }
    for (guint i = 0; i < moves->len; i++) {
        struct pending_move *pm = &g_array_index(moves, struct pending_move, i);
        if (rc == 0 && rename(pm->from, pm->to) != 0 && errno != ENOENT)
            rc = ad_err_set(err, AD_ERR_IO, "cannot move %s: %s", pm->from, strerror(errno));
        g_free(pm->from);
        g_free(pm->to);
    }
    g_array_set_size(moves, 0);
    return rc;
}

struct maildir_entry {
    size_t sub;             /* index into the subfolders */
    const char *name;       /* borrowed from the listing */
    int64_t at;             /* arrival time under --replay, else 0 */
    guint seq;              /* listing order: ties keep it */
};

static gint cmp_entry(gconstpointer a, gconstpointer b)
{
    const struct maildir_entry *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The order in which the Maildir's messages are taken: new/ then cur/, each
 * by name; under --replay by the time each reached us (arrival.h; a message
 * without one sorts first and is refused there), so an archive whose file
 * names do not follow its arrival order is filed forward in time. The
 * entries borrow the listed names. */
static GArray *maildir_order(struct intake *in, const char *dir, const char *const *subdirs,
                             char **const *listed, size_t n_subdirs)
{
    GArray *order = g_array_new(FALSE, TRUE, sizeof(struct maildir_entry));
    for (size_t s = 0; s < n_subdirs; s++)
        for (char **nm = listed[s]; nm && *nm; nm++) {
            struct maildir_entry e = { s, *nm, 0, order->len };
            if (in->replay) {
                char *path = g_build_filename(dir, subdirs[s], *nm, NULL);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                    /* the header block is at the start: 64 KiB is plenty */
                    char *buf = g_malloc(INTAKE_CHUNK);
                    ssize_t n = read(fd, buf, INTAKE_CHUNK);
                    if (n > 0)
                        arrival_time(in->cfg, buf, (size_t)n, &e.at);
                    g_free(buf);
                    close(fd);
                }
                g_free(path);
            }
            g_array_append_val(order, e);
        }
    if (in->replay)
        g_array_sort(order, cmp_entry);
    return order;
}

int intake_maildir(struct intake *in, const char *dir, struct ad_err *err)
{
    static const char *const subdirs[] = { "new", "cur" };
    char *curd = g_build_filename(dir, "cur", NULL);
    char *newd0 = g_build_filename(dir, "new", NULL);
    if (!g_file_test(curd, G_FILE_TEST_IS_DIR) && !g_file_test(newd0, G_FILE_TEST_IS_DIR)) {
        int rc = ad_err_set(err, AD_ERR_USAGE, "%s is not a Maildir (no new/ or cur/)", dir);
        g_free(curd);
        g_free(newd0);
        return rc;
    }
    g_free(newd0);
    GArray *moves = g_array_new(FALSE, FALSE, sizeof(struct pending_move));
    bool in_tx = false;
    int rc = 0, n_in_batch = 0;

    /* List both folders before touching either: files moved from new/ to cur/
     * during the run must not be read a second time. */
    char **listed[G_N_ELEMENTS(subdirs)];
    for (size_t s = 0; s < G_N_ELEMENTS(subdirs); s++) {
        char *sub = g_build_filename(dir, subdirs[s], NULL);
        listed[s] = list_sorted(sub);
        g_free(sub);
    }
    GArray *order = maildir_order(in, dir, subdirs, listed, G_N_ELEMENTS(subdirs));
    for (guint k = 0; k < order->len && rc == 0; k++) {
        const struct maildir_entry *me = &g_array_index(order, struct maildir_entry, k);
        size_t s = me->sub;
        const char *name = me->name;
        char *path = g_build_filename(dir, subdirs[s], name, NULL);
        struct msgbuf m = { 0 };
        struct ad_err ferr = { 0 };
        if (read_file(path, in->cfg->max_message_size, &m, &ferr) != 0) {
            log_msg(in->log, LOG_LEVEL_ERROR, "skipped %s: %s", path, ferr.msg);
            in->n_failed++;
            g_free(path);
            msgbuf_clear(&m);
            continue;
        }
        if (!in_tx) {
            if ((rc = open_store(in, err))
                || (in->replay && (rc = store_replay_bulk(in->st, true, err)))
                || (rc = store_begin(in->st, err))) {
                g_free(path);
                msgbuf_clear(&m);
                break;
            }
            in_tx = true;
        }
        char *source = g_strdup_printf("maildir:%s", path);
        char *keep = NULL; /* large Maildir messages stay where they are */
        enum intake_outcome oc;
        int64_t id = 0;
        bool truncated = m.total > m.head_len;
        keep = truncated ? g_strdup(path) : NULL;
        rc = process(in, path, &m, source, keep, &oc, &id, err);
        if (rc == 0 && s == 0 && oc != INTAKE_QUARANTINED && oc != INTAKE_REFUSED) {
            /* new/ -> cur/ with the Seen flag, after the commit. */
            struct pending_move pm = { g_strdup(path),
                                       g_strdup_printf("%s/%s:2,S", curd, name) };
            g_array_append_val(moves, pm);
        }
        g_free(keep);
        g_free(source);
        g_free(path);
        msgbuf_clear(&m);
        /* A replay is a batch import: fewer, larger commits (each rewrites
         * the index pages it touched), the Maildir stays the durable copy. */
        if (rc == 0 && ++n_in_batch >= (in->replay ? INTAKE_REPLAY_BATCH : INTAKE_BATCH)) {
            rc = flush_batch(in, moves, &in_tx, err);
            n_in_batch = 0;
        }
    }
    g_array_free(order, TRUE);
    for (size_t s = 0; s < G_N_ELEMENTS(subdirs); s++)
        g_strfreev(listed[s]);
    if (rc == 0)
        rc = flush_batch(in, moves, &in_tx, err);
    else {
        if (in_tx && in->st)
            store_rollback(in->st);
        for (guint i = 0; i < moves->len; i++) {
            g_free(g_array_index(moves, struct pending_move, i).from);
            g_free(g_array_index(moves, struct pending_move, i).to);
        }
    }
    g_array_free(moves, TRUE);
    g_free(curd);
    return rc;
}

int intake_spool_recover(struct intake *in, struct ad_err *err)
{
    char *tmpd = NULL, *newd = NULL, *larged = NULL;
    int rc = spool_dirs(in, &tmpd, &newd, &larged, err);
    if (rc == 0) {
        char **names = list_sorted(newd);
        for (char **nm = names; *nm && rc == 0; nm++) {
            char *path = g_build_filename(newd, *nm, NULL);
            char *keep = g_build_filename(larged, *nm, NULL);
            struct msgbuf m = { 0 };
            enum intake_outcome oc = INTAKE_STORED;
            int64_t id;
            rc = read_file(path, in->cfg->max_message_size, &m, err);
            if (rc != 0 && !g_file_test(path, G_FILE_TEST_EXISTS))
                rc = 0; /* a concurrent ingest finished it first */
            else if (rc == 0)
                rc = process(in, path, &m, "spool", keep, &oc, &id, err);
            if (rc == 0 && m.head && oc != INTAKE_QUARANTINED)
                rc = spool_done(path, keep, m.total > m.head_len, err);
            msgbuf_clear(&m);
            g_free(keep);
            g_free(path);
        }
        g_strfreev(names);
        /* Half-written temp files hold no acknowledged message: the MTA still has it. */
        char **tmps = list_files(tmpd);
        for (char **nm = tmps; *nm; nm++) {
            char *p = g_build_filename(tmpd, *nm, NULL);
            struct stat sb;
            if (stat(p, &sb) == 0 && sb.st_mtime < time(NULL) - 3600)
                unlink(p);
            g_free(p);
        }
        g_strfreev(tmps);
    }
    g_free(tmpd);
    g_free(newd);
    g_free(larged);
    return rc;
}

/*
 * outbox.c: queued mails and hook jobs and their delivery (see outbox.h). Called
 * by the lifecycle (queueing, inside its transaction) and by `abusedesk outbox
 * --flush`, the CLI after an action, and the intake (delivery, outside any
 * transaction). Mails are built with GMime. A transport failure is never an
 * error of the flush: it is recorded on the item and retried.
 */
#include "outbox.h"

#include <gmime/gmime.h>
#include <sodium.h>
#include <string.h>

#include "act/hookexec.h"
#include "act/mailer.h"
#include "act/template.h"
#include "act/webhook.h"
#include "incident/incident.h"
#include "parse/parse.h"
#include "store/store_outbox.h"
#include "util/redact.h"

/* Claims only what is still due: a concurrent flusher (the daemon, an ingest)
 * that claimed or sent it first makes this change no row. */

/* ---- queueing ------------------------------------------------------------ */

static char *domain_of(const char *addr)
{
    const char *at = addr ? strrchr(addr, '@') : NULL;
    return g_strdup(at && at[1] ? at + 1 : "localhost");
}

int outbox_mail(const struct config *cfg, struct store *st, int64_t incident_id, const char *kind,
                const char *template_name, const char *lang, GHashTable *vars, const char *to,
                const char *to_name, int64_t now, int64_t *outbox_id, struct ad_err *err)
{
    if (sodium_init() < 0)
        return ad_err_set(err, AD_ERR_STORE, "libsodium could not be initialised");
    char *subject = NULL, *body = NULL;
    int rc = template_render(cfg->templates_dir, lang, template_name, vars, &subject, &body, err);
    if (rc)
        return rc;
    parse_init();
    GMimeMessage *m = g_mime_message_new(TRUE);
    g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_FROM, cfg->desk_name, cfg->notify_from);
    g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_TO, to_name, to);
    g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_REPLY_TO, cfg->desk_name,
                               *cfg->reply_to ? cfg->reply_to : cfg->notify_from);
    g_mime_message_set_subject(m, subject, "utf-8");
    GDateTime *dt = g_date_time_new_from_unix_utc(now);
    g_mime_message_set_date(m, dt);
    g_date_time_unref(dt);
    char *dom = domain_of(cfg->notify_from);
    /* 128 random bits from the kernel (libsodium): a reply that names this id
     * can only come from someone who received the notice. */
    unsigned char rnd[16];
    char rhex[33];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(rhex, sizeof rhex, rnd, sizeof rnd);
    char *mid = g_strdup_printf("abusedesk.%lld.%s.%s@%s", (long long)incident_id, template_name,
                                rhex, dom);
    g_mime_message_set_message_id(m, mid);
    GMimeObject *mo = GMIME_OBJECT(m);
    g_mime_object_set_header(mo, "Auto-Submitted", "auto-generated", NULL);
    g_mime_object_set_header(mo, "X-Auto-Response-Suppress", "OOF, AutoReply", NULL);
    g_mime_object_set_header(mo, "Precedence", "bulk", NULL);
    char idbuf[32];
    g_snprintf(idbuf, sizeof idbuf, "%lld", (long long)incident_id);
    g_mime_object_set_header(mo, "X-Abusedesk-Incident", idbuf, NULL);
    /* UTF-8 as the template wrote it (g_mime_text_part_set_text() would pick a
     * "best" legacy charset), quoted-printable on the wire. */
    GMimeTextPart *tp = g_mime_text_part_new_with_subtype("plain");
    g_mime_text_part_set_charset(tp, "utf-8");
    GMimeStream *ms = g_mime_stream_mem_new_with_buffer(body, strlen(body));
    GMimeDataWrapper *dw = g_mime_data_wrapper_new_with_stream(ms, GMIME_CONTENT_ENCODING_DEFAULT);
    g_mime_part_set_content(GMIME_PART(tp), dw);
    g_object_unref(dw);
    g_object_unref(ms);
    g_mime_part_set_content_encoding(GMIME_PART(tp), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
    g_mime_message_set_mime_part(m, GMIME_OBJECT(tp));
    g_object_unref(tp);
    char *text = g_mime_object_to_string(mo, NULL);
    g_object_unref(m);

    struct store_outbox_mail_in in = { incident_id, kind, template_name, to, subject, mid, text,
                                       now };
    rc = store_outbox_mail_add(st, &in, outbox_id, err);
    g_free(text);
    g_free(mid);
    g_free(dom);
    g_free(subject);
    g_free(body);
    return rc;
}

static int hook_insert(struct store *st, int64_t incident_id, const char *kind, const char *event,
                       const char *payload, const char *key, int64_t now, struct ad_err *err)
{
    return store_outbox_hook_add(st, incident_id, kind, event, payload, key, now, err);
}

int outbox_webhook(const struct config *cfg, struct store *st, int64_t incident_id,
                   const char *event, const char *key, json_t *payload, int64_t now,
                   struct ad_err *err)
{
    if (!*cfg->webhook_url)
        return 0;
    char *body = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = hook_insert(st, incident_id, "webhook", event, body, key, now, err);
    free(body);
    return rc;
}

int outbox_hooks(const struct config *cfg, struct store *st, int64_t incident_id,
                 const char *event, int64_t lock_id, json_t *payload, int64_t now,
                 struct ad_err *err)
{
    const char *cmd = !strcmp(event, "lock") ? cfg->lock_command : cfg->unlock_command;
    int rc = 0;
    char key[96];
    if (*cmd) {
        /* argv: the configured words, then account, customer, incident, reason.
         * Split like a shell would, never run by one. */
        char **words = NULL;
        GError *ge = NULL;
        if (!g_shell_parse_argv(cmd, NULL, &words, &ge)) {
            rc = ad_err_set(err, AD_ERR_CONFIG, "[act] %s_command: %s", event, ge->message);
            g_clear_error(&ge);
            return rc;
        }
        json_t *argv = json_array();
        for (char **w = words; *w; w++)
            json_array_append_new(argv, json_string(*w));
        g_strfreev(words);
        const char *fields[] = { "subject", "customer_id", "incident_id", "reason" };
        for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
            json_t *v = json_object_get(payload, fields[i]);
            if (json_is_integer(v)) {
                char b[32];
                g_snprintf(b, sizeof b, "%lld", (long long)json_integer_value(v));
                json_array_append_new(argv, json_string(b));
            } else {
                json_array_append_new(argv, json_string(json_is_string(v) ? json_string_value(v)
                                                                           : ""));
            }
        }
        char *p = json_dumps(argv, JSON_COMPACT);
        json_decref(argv);
        g_snprintf(key, sizeof key, "%s-%lld-exec", event, (long long)lock_id);
        rc = hook_insert(st, incident_id, "exec", event, p, key, now, err);
        free(p);
        if (rc)
            return rc;
    }
    g_snprintf(key, sizeof key, "%s-%lld-webhook", event, (long long)lock_id);
    return outbox_webhook(cfg, st, incident_id, event, key, payload, now, err);
}

/* ---- delivery ------------------------------------------------------------ */

static int64_t backoff(const struct config *cfg, int64_t attempts)
{
    int64_t wait = cfg->retry_min;
    for (int64_t i = 1; i < attempts && wait < cfg->retry_max; i++)
        wait *= 2;
    return wait < cfg->retry_max ? wait : cfg->retry_max;
}

/* Claims item id for one attempt: counted and pushed back (retry backoff)
 * before the attempt, so a kill during it retries later. Returns 1 when
 * claimed, 0 when another flusher has it or it is no longer due, or < 0. */
static int claim(const struct config *cfg, struct store *st, enum store_outbox_queue queue,
                 int64_t id, int64_t attempts, int64_t now, struct ad_err *err)
{
    return store_outbox_claim(st, queue, id, now + backoff(cfg, attempts), now, err);
}

/* An error of a mail or hook goes to the log, last_error and the audit log:
 * no URL credentials, no secret query parameters, none of the configured
 * secrets (a peer may echo one). Cleans e->msg in place. */
static void clean_error(const struct config *cfg, struct ad_err *e)
{
    const char *secrets[] = { cfg->smtp_password, cfg->webhook_secret, cfg->smtp_username,
                              cfg->redis_password, cfg->password_key, NULL };
    redact_buf(e->msg, sizeof e->msg, secrets);
}

/* last_error is shown to the team and kept: the message is cleaned again
 * here, whoever made it. */
static int mark_error(struct store *st, const struct config *cfg, enum store_outbox_queue queue,
                      int64_t id, const char *msg, bool failed, struct ad_err *err)
{
    const char *secrets[] = { cfg->smtp_password, cfg->webhook_secret, cfg->smtp_username,
                              NULL };
    char *clean = redact_text(msg, secrets);
    int rc = store_outbox_error(st, queue, id, clean, failed, err);
    g_free(clean);
    return rc;
}

/* Only a store or memory failure is worth trying again later, besides BUSY. */
static bool retryable(int rc)
{
    return rc == AD_ERR_BUSY || rc == AD_ERR_NOMEM || rc == AD_ERR_STORE;
}

static int audit_tx(struct store *st, int64_t incident_id, const char *action, const char *detail,
                    struct ad_err *err)
{
    int rc = store_begin(st, err);
    if (rc)
        return rc;
    rc = incident_audit(st, incident_id, 0, "abusedesk", action, detail, err);
    if (rc == 0)
        rc = store_commit(st, err);
    if (rc)
        store_rollback(st);
    return rc;
}

static GArray *due_ids(struct store *st, enum store_outbox_queue queue, int64_t now, int *rc,
                       struct ad_err *err)
{
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
    int64_t batch[STORE_OUTBOX_BATCH];
    size_t n = 0;
    *rc = store_outbox_due(st, queue, now, batch, &n, err);
    g_array_append_vals(ids, batch, (guint)n);
    return ids;
}

static int flush_mail(const struct config *cfg, struct store *st, const struct logger *log,
                      int64_t id, int64_t now, struct outbox_stats *stats, struct ad_err *err)
{
    struct store_outbox_item it;
    int rc = store_outbox_get(st, STORE_OUTBOX_MAIL, id, &it, err);
    if (rc <= 0)
        return rc;
    int64_t incident = it.incident_id;
    char *rcpt = g_steal_pointer(&it.rcpt);
    char *msg = g_steal_pointer(&it.message);
    int64_t attempts = it.attempts + 1;
    int64_t created = it.created_at;
    char *what = g_strdup_printf("%s mail (%s)", it.kind, it.template_name);
    store_outbox_item_clear(&it);
    if ((rc = claim(cfg, st, STORE_OUTBOX_MAIL, id, attempts, now, err)) <= 0)
        goto out;
    rc = 0;
    struct mailer_cfg mc = { cfg->smarthost, cfg->smtp_username, cfg->smtp_password,
                             cfg->require_tls, cfg->verify_tls, (long)cfg->hook_timeout * 1000 };
    struct ad_err serr = { 0 };
    int src = mailer_send(&mc, cfg->notify_from, rcpt, msg, strlen(msg), &serr);
    clean_error(cfg, &serr);
    if (src == 0) {
        if ((rc = store_outbox_done(st, STORE_OUTBOX_MAIL, id, now, err)))
            goto out;
        stats->mails_sent++;
        log_msg(log, LOG_LEVEL_INFO, "outbox: mail %lld (%s) sent to %s", (long long)id, what,
                rcpt);
        char d[512];
        g_snprintf(d, sizeof d, "%s to %s sent (outbox %lld)", what, rcpt, (long long)id);
        if (incident)
            rc = audit_tx(st, incident, "mail-sent", d, err);
        goto out;
    }
    bool give_up = !retryable(src) || now - created >= cfg->give_up_after;
    if ((rc = mark_error(st, cfg, STORE_OUTBOX_MAIL, id, serr.msg, give_up, err)))
        goto out;
    log_msg(log, give_up ? LOG_LEVEL_ERROR : LOG_LEVEL_WARNING,
            "outbox: mail %lld to %s %s: %s", (long long)id, rcpt,
            give_up ? "failed for good" : "will be retried", serr.msg);
    if (give_up) {
        stats->mails_failed++;
        char d[600];
        g_snprintf(d, sizeof d, "%s to %s failed, not retried: %s", what, rcpt, serr.msg);
        if (incident)
            rc = audit_tx(st, incident, "mail-failed", d, err);
    } else {
        stats->mails_retry++;
    }
out:
    g_free(what);
    g_free(rcpt);
    g_free(msg);
    return rc;
}

static int run_hook(const struct config *cfg, const char *kind, const char *event,
                    const char *payload, const char *key, struct ad_err *e)
{
    if (!strcmp(kind, "exec")) {
        json_t *argv = json_loads(payload, 0, NULL);
        if (!json_is_array(argv) || json_array_size(argv) == 0) {
            json_decref(argv);
            return ad_err_set(e, AD_ERR_PARSE, "bad exec hook payload");
        }
        size_t n = json_array_size(argv);
        char **v = g_new0(char *, n + 1);
        for (size_t i = 0; i < n; i++)
            v[i] = g_strdup(json_string_value(json_array_get(argv, i)));
        int rc = hookexec_run(v, (long)cfg->hook_timeout * 1000, e);
        g_strfreev(v);
        json_decref(argv);
        return rc;
    }
    struct webhook_cfg wc = { cfg->webhook_url, cfg->webhook_secret, (long)cfg->hook_timeout * 1000 };
    if (!*wc.url)
        return ad_err_set(e, AD_ERR_PARSE, "[act] webhook_url is empty now");
    return webhook_post(&wc, event, key, payload, e);
}

static int flush_hook(const struct config *cfg, struct store *st, const struct logger *log,
                      int64_t id, int64_t now, struct outbox_stats *stats, struct ad_err *err)
{
    struct store_outbox_item it;
    int rc = store_outbox_get(st, STORE_OUTBOX_HOOK, id, &it, err);
    if (rc <= 0)
        return rc;
    int64_t incident = it.incident_id;
    char *kind = g_steal_pointer(&it.kind);
    char *event = g_steal_pointer(&it.event);
    char *payload = g_steal_pointer(&it.payload);
    char *key = g_steal_pointer(&it.idem_key);
    int64_t attempts = it.attempts + 1;
    int64_t created = it.created_at;
    store_outbox_item_clear(&it);
    if ((rc = claim(cfg, st, STORE_OUTBOX_HOOK, id, attempts, now, err)) <= 0)
        goto out;
    rc = 0;
    struct ad_err herr = { 0 };
    int hrc = run_hook(cfg, kind, event, payload, key, &herr);
    clean_error(cfg, &herr);
    char d[700];
    if (hrc == 0) {
        if ((rc = store_outbox_done(st, STORE_OUTBOX_HOOK, id, now, err)))
            goto out;
        stats->hooks_done++;
        log_msg(log, LOG_LEVEL_INFO, "outbox: %s hook %s (%s) done", kind, event, key);
        g_snprintf(d, sizeof d, "%s %s hook done (%s)%s%s", event, kind, key,
                   herr.msg[0] ? ": " : "", herr.msg);
        if (incident)
            rc = audit_tx(st, incident, "hook-done", d, err);
        goto out;
    }
    bool give_up = !retryable(hrc) || now - created >= cfg->give_up_after;
    if ((rc = mark_error(st, cfg, STORE_OUTBOX_HOOK, id, herr.msg, give_up, err)))
        goto out;
    log_msg(log, give_up ? LOG_LEVEL_ERROR : LOG_LEVEL_WARNING, "outbox: %s hook %s (%s) %s: %s",
            kind, event, key, give_up ? "failed for good" : "will be retried", herr.msg);
    g_snprintf(d, sizeof d, "%s %s hook (%s) %s: %s", event, kind, key,
               give_up ? "failed, not retried" : "failed, retry pending", herr.msg);
    if (give_up)
        stats->hooks_failed++;
    else
        stats->hooks_retry++;
    if (incident && (give_up || attempts == 1))
        rc = audit_tx(st, incident, give_up ? "hook-failed" : "hook-pending", d, err);
out:
    g_free(kind);
    g_free(event);
    g_free(payload);
    g_free(key);
    return rc;
}

int outbox_flush(const struct config *cfg, struct store *st, const struct logger *log, int64_t now,
                 struct outbox_stats *stats, struct ad_err *err)
{
    struct outbox_stats dummy;
    if (!stats)
        stats = &dummy;
    memset(stats, 0, sizeof *stats);
    int rc = 0;
    /* Hooks first: the lock takes effect at the provider before the customer
     * reads about it. */
    GArray *ids = due_ids(st, STORE_OUTBOX_HOOK, now, &rc, err);
    for (guint i = 0; rc == 0 && i < ids->len; i++)
        rc = flush_hook(cfg, st, log, g_array_index(ids, int64_t, i), now, stats, err);
    g_array_free(ids, TRUE);
    if (rc < 0)
        return rc;
    ids = due_ids(st, STORE_OUTBOX_MAIL, now, &rc, err);
    for (guint i = 0; rc == 0 && i < ids->len; i++)
        rc = flush_mail(cfg, st, log, g_array_index(ids, int64_t, i), now, stats, err);
    g_array_free(ids, TRUE);
    return rc < 0 ? rc : 0;
}

/* ---- listing ------------------------------------------------------------- */

static json_t *jt(int64_t t)
{
    char b[32];
    return t > 0 ? json_string(incident_iso(t, b)) : json_null();
}

static json_t *jid(int64_t id)
{
    return id ? json_integer(id) : json_null();
}

static int list_hook(const struct store_outbox_row *r, void *ctx)
{
    GPtrArray *items = ctx;
    char what[200];
    g_snprintf(what, sizeof what, "%s %s (%s)", r->event, r->kind, r->idem_key);
    g_ptr_array_add(items, json_pack("{s:s, s:I, s:o, s:s, s:n, s:s, s:I, s:o, s:o, s:o, s:o}",
                                     "type", "hook", "id", (json_int_t)r->id,
                                     "incident_id", jid(r->incident_id),
                                     "what", what, "to", "state",
                                     r->done ? "done" : r->failed ? "failed" : "pending",
                                     "attempts", (json_int_t)r->attempts,
                                     "next_at", r->done || r->failed ? json_null() : jt(r->next_at),
                                     "last_error", r->last_error ? json_string(r->last_error) : json_null(),
                                     "created_at", jt(r->created_at),
                                     "done_at", r->done ? jt(r->done_at) : json_null()));
    return 0;
}

static int list_mail(const struct store_outbox_row *r, void *ctx)
{
    GPtrArray *items = ctx;
    /* a notice that came back undelivered stays in the queue's view */
    char what[400];
    g_snprintf(what, sizeof what, "%s: %s", r->template_name, r->subject);
    g_ptr_array_add(items, json_pack("{s:s, s:I, s:o, s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:o}",
                                     "type", "mail", "id", (json_int_t)r->id,
                                     "incident_id", jid(r->incident_id),
                                     "what", what, "to", r->rcpt, "state",
                                     r->bounced ? "bounced" : r->done ? "sent" : r->failed ? "failed" : "pending",
                                     "attempts", (json_int_t)r->attempts,
                                     "next_at", r->done || r->failed ? json_null() : jt(r->next_at),
                                     "last_error", r->last_error ? json_string(r->last_error) : json_null(),
                                     "created_at", jt(r->created_at),
                                     "done_at", r->done ? jt(r->done_at) : json_null()));
    return 0;
}

int outbox_each(struct store *st, bool all, int (*fn)(json_t *item, void *ctx), void *ctx,
                struct ad_err *err)
{
    GPtrArray *items = g_ptr_array_new_with_free_func((GDestroyNotify)json_decref);
    int rc = store_outbox_each(st, STORE_OUTBOX_HOOK, all, list_hook, items, err);
    if (rc == 0)
        rc = store_outbox_each(st, STORE_OUTBOX_MAIL, all, list_mail, items, err);
    for (guint i = 0; rc == 0 && i < items->len; i++)
        if (fn(g_ptr_array_index(items, i), ctx))
            break;
    g_ptr_array_free(items, TRUE);
    return rc < 0 ? rc : 0;
}

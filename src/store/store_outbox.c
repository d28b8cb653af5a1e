/*
 * store_outbox.c: the outbox and hook-job queues (see store_outbox.h). Called
 * by src/act/outbox.c: queueing inside the caller's transaction, delivery
 * steps each in a transaction of their own (no read snapshot is held across
 * an SMTP transaction or a hook). Errors are the store's (AD_ERR_BUSY when
 * locked: retry later); every statement is reset as soon as its rows are
 * read. Strings of store_outbox_get() are the caller's; those handed to
 * callbacks are borrowed for the call.
 */
#include "store/store_outbox.h"

#include <glib.h>

#include "store/store_args.h"

static const char sql_mail_insert[] =
    "INSERT INTO outbox (incident_id, kind, template, rcpt, subject, message_id, message,"
    " created_at, next_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)";

static const char sql_hook_insert[] =
    "INSERT INTO hook_jobs (incident_id, kind, event, payload, idem_key, created_at, next_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (idem_key) DO NOTHING";

static const char sql_mail_due[] =
    "SELECT id FROM outbox WHERE sent_at IS NULL AND failed = 0 AND next_at <= $1"
    " ORDER BY next_at, id LIMIT 100";

static const char sql_mail_get[] =
    "SELECT id, incident_id, rcpt, message, attempts, created_at, sent_at, failed, kind, template"
    " FROM outbox WHERE id = $1";

static const char sql_mail_claim[] =
    "UPDATE outbox SET attempts = attempts + 1, next_at = $2 WHERE id = $1 AND sent_at IS NULL"
    " AND failed = 0 AND next_at <= $3";

static const char sql_mail_done[] = "UPDATE outbox SET sent_at = $2, last_error = NULL WHERE id = $1";

static const char sql_mail_error[] = "UPDATE outbox SET last_error = $2, failed = $3 WHERE id = $1";

static const char sql_hook_due[] =
    "SELECT id FROM hook_jobs WHERE done_at IS NULL AND failed = 0 AND next_at <= $1"
    " ORDER BY next_at, id LIMIT 100";

static const char sql_hook_get[] =
    "SELECT id, incident_id, kind, event, payload, idem_key, attempts, created_at, done_at, failed"
    " FROM hook_jobs WHERE id = $1";

static const char sql_hook_claim[] =
    "UPDATE hook_jobs SET attempts = attempts + 1, next_at = $2 WHERE id = $1 AND done_at IS NULL"
    " AND failed = 0 AND next_at <= $3";

static const char sql_hook_done[] = "UPDATE hook_jobs SET done_at = $2, last_error = NULL WHERE id = $1";

static const char sql_hook_error[] = "UPDATE hook_jobs SET last_error = $2, failed = $3 WHERE id = $1";

static const char sql_list_mails[] =
    "SELECT id, incident_id, template, rcpt, subject, attempts, next_at, last_error, created_at,"
    " sent_at, failed, bounced_at FROM outbox WHERE $1 = 1 OR (sent_at IS NULL AND failed = 0)"
    " OR bounced_at IS NOT NULL ORDER BY id DESC";

static const char sql_list_hooks[] =
    "SELECT id, incident_id, kind, event, idem_key, attempts, next_at, last_error, created_at,"
    " done_at, failed FROM hook_jobs WHERE $1 = 1 OR (done_at IS NULL AND failed = 0)"
    " ORDER BY id DESC";

#define PICK(queue, mail, hook) ((queue) == STORE_OUTBOX_MAIL ? (mail) : (hook))

int store_outbox_mail_add(struct store *st, const struct store_outbox_mail_in *in, int64_t *id,
                          struct ad_err *err)
{
    struct store_arg inc = A_NULL;
    if (in->incident_id)
        inc = (struct store_arg)A_INT(in->incident_id);
    int rc = store_run(st, sql_mail_insert,
                       ARGS(inc, A_TEXT(in->kind), A_TEXT(in->template_name), A_TEXT(in->rcpt),
                            A_TEXT(in->subject), A_TEXT(in->message_id), A_TEXT(in->message),
                            A_INT(in->now)),
                       err);
    if (rc == 0 && id)
        *id = store_last_id(st);
    return rc;
}

int store_outbox_hook_add(struct store *st, int64_t incident_id, const char *kind,
                          const char *event, const char *payload, const char *idem_key,
                          int64_t now, struct ad_err *err)
{
    struct store_arg inc = A_NULL;
    if (incident_id)
        inc = (struct store_arg)A_INT(incident_id);
    return store_run(st, sql_hook_insert,
                     ARGS(inc, A_TEXT(kind), A_TEXT(event), A_TEXT(payload), A_TEXT(idem_key),
                          A_INT(now)),
                     err);
}

int store_outbox_due(struct store *st, enum store_outbox_queue queue, int64_t now, int64_t *ids,
                     size_t *n, struct ad_err *err)
{
    *n = 0;
    struct store_q *q;
    int rc = store_q_get(st, PICK(queue, sql_mail_due, sql_hook_due), &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, now);
    while (*n < STORE_OUTBOX_BATCH && (rc = store_q_step(q, err)) == 1)
        ids[(*n)++] = store_q_col_int(q, 0);
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_outbox_get(struct store *st, enum store_outbox_queue queue, int64_t id,
                     struct store_outbox_item *out, struct ad_err *err)
{
    *out = (struct store_outbox_item){ 0 };
    struct store_q *q;
    int rc = store_q_get(st, PICK(queue, sql_mail_get, sql_hook_get), &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, id);
    if ((rc = store_q_step(q, err)) == 1) {
        out->id = store_q_col_int(q, 0);
        out->incident_id = store_q_col_int(q, 1);
        if (queue == STORE_OUTBOX_MAIL) {
            out->rcpt = g_strdup(store_q_col_text(q, 2));
            out->message = g_strdup(store_q_col_text(q, 3));
            out->attempts = store_q_col_int(q, 4);
            out->created_at = store_q_col_int(q, 5);
            out->kind = g_strdup(store_q_col_text(q, 8));
            out->template_name = g_strdup(store_q_col_text(q, 9));
        } else {
            out->kind = g_strdup(store_q_col_text(q, 2));
            out->event = g_strdup(store_q_col_text(q, 3));
            out->payload = g_strdup(store_q_col_text(q, 4));
            out->idem_key = g_strdup(store_q_col_text(q, 5));
            out->attempts = store_q_col_int(q, 6);
            out->created_at = store_q_col_int(q, 7);
        }
    }
    store_q_reset(q);
    return rc;
}

void store_outbox_item_clear(struct store_outbox_item *it)
{
    g_free(it->kind);
    g_free(it->template_name);
    g_free(it->rcpt);
    g_free(it->message);
    g_free(it->event);
    g_free(it->payload);
    g_free(it->idem_key);
    *it = (struct store_outbox_item){ 0 };
}

/* Runs sql in a transaction of its own; *changed (may be NULL) gets the rows
 * it changed. */
static int tx_run(struct store *st, const char *sql, const struct store_arg *a, size_t n,
                  int *changed, struct ad_err *err)
{
    int rc = store_begin(st, err);
    if (rc)
        return rc;
    rc = store_run_changed(st, sql, a, n, changed, err);
    if (rc == 0)
        rc = store_commit(st, err);
    if (rc)
        store_rollback(st);
    return rc;
}

int store_outbox_claim(struct store *st, enum store_outbox_queue queue, int64_t id,
                       int64_t next_at, int64_t now, struct ad_err *err)
{
    int changed = 0;
    int rc = tx_run(st, PICK(queue, sql_mail_claim, sql_hook_claim),
                    ARGS(A_INT(id), A_INT(next_at), A_INT(now)), &changed, err);
    return rc ? rc : changed == 1;
}

int store_outbox_done(struct store *st, enum store_outbox_queue queue, int64_t id, int64_t now,
                      struct ad_err *err)
{
    return tx_run(st, PICK(queue, sql_mail_done, sql_hook_done), ARGS(A_INT(id), A_INT(now)),
                  NULL, err);
}

int store_outbox_error(struct store *st, enum store_outbox_queue queue, int64_t id,
                       const char *msg, bool failed, struct ad_err *err)
{
    return tx_run(st, PICK(queue, sql_mail_error, sql_hook_error),
                  ARGS(A_INT(id), A_TEXT(msg), A_INT(failed ? 1 : 0)), NULL, err);
}

static void read_hook(struct store_q *q, struct store_outbox_row *r)
{
    r->kind = store_q_col_text(q, 2);
    r->event = store_q_col_text(q, 3);
    r->idem_key = store_q_col_text(q, 4);
    r->done = !store_q_col_null(q, 9);
    r->done_at = store_q_col_int(q, 9);
    r->failed = store_q_col_int(q, 10) != 0;
}

static void read_mail(struct store_q *q, struct store_outbox_row *r)
{
    r->template_name = store_q_col_text(q, 2);
    r->rcpt = store_q_col_text(q, 3);
    r->subject = store_q_col_text(q, 4);
    r->done = !store_q_col_null(q, 9);
    r->done_at = store_q_col_int(q, 9);
    r->failed = store_q_col_int(q, 10) != 0;
    r->bounced = !store_q_col_null(q, 11);
}

int store_outbox_each(struct store *st, enum store_outbox_queue queue, bool all,
                      int (*fn)(const struct store_outbox_row *row, void *ctx), void *ctx,
                      struct ad_err *err)
{
    struct store_q *q;
    int rc = store_q_get(st, PICK(queue, sql_list_mails, sql_list_hooks), &q, err);
    if (rc)
        return rc;
    store_q_int(q, 1, all ? 1 : 0);
    while ((rc = store_q_step(q, err)) == 1) {
        struct store_outbox_row r = { 0 };
        r.id = store_q_col_int(q, 0);
        r.incident_id = store_q_col_null(q, 1) ? 0 : store_q_col_int(q, 1);
        r.attempts = store_q_col_int(q, 5);
        r.next_at = store_q_col_int(q, 6);
        r.last_error = store_q_col_text(q, 7);
        r.created_at = store_q_col_int(q, 8);
        if (queue == STORE_OUTBOX_MAIL)
            read_mail(q, &r);
        else
            read_hook(q, &r);
        if (fn(&r, ctx))
            break;
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

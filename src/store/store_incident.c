/*
 * store_incident.c: attributions, scores, complaints, incidents and the audit
 * log (see store_incident.h). Called by src/incident/incident.c, inside the
 * intake's transaction (savepoint incident_process) when a report is
 * processed, and by the CLI through incident_json(). Errors are the store's
 * (AD_ERR_BUSY when locked: retry later); every statement is reset as soon as
 * its rows are read (store_args.h). Strings handed out are g_malloc'd and the
 * caller's; those handed to callbacks are borrowed for the call.
 */
#include "store/store_incident.h"

#include <glib.h>
#include <string.h>

#include "store/store_args.h"

/* History: earlier incidents that were dealt with (resolved: not open, not
 * dismissed false alarms, not merged into another), raised by evidence we trust
 * (authenticated complaints or our own systems), and about a sender of the
 * customer (a joe job is not the customer's doing). Incident totals from its own
 * reports: driven by incident_reports (CROSS JOIN keeps SQLite's join order), so
 * the cost is the incident's size. The stage moves an incident from open to
 * alerted; later lifecycle states (locked, customer_notified, ...) stay. A
 * reopened incident starts again from the stage its new complaints reach.
 * Providers: proven ones by name, claimed ones marked as such. */

static const char sql_processed[] = "SELECT processed FROM reports WHERE id = $1";

static const char sql_attr_insert[] =
    "INSERT INTO attributions (report_id, status, subject_kind, subject, account, script,"
    " customer_id, source_ip, reason, evidence) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    " ON CONFLICT (report_id) DO NOTHING";

static const char sql_dup_find[] =
    "SELECT report_id FROM scores WHERE dedup_key = $1 AND counted = 1 AND report_id <> $2"
    " ORDER BY report_id LIMIT 1";

static const char sql_score_insert[] =
    "INSERT INTO scores (report_id, total, counted, manual, provider, message_id, at, terms,"
    " authenticated, reporter_how, dedup_key)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (report_id) DO NOTHING";

static const char sql_complaint_insert[] =
    "INSERT INTO complaints (report_id, subject_kind, subject, at, score, counted, authenticated,"
    " provider, bulk, client_net)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    " ON CONFLICT (report_id, subject_kind) DO NOTHING";

static const char sql_run_facts[] =
    "SELECT COUNT(*), COUNT(DISTINCT provider), COUNT(DISTINCT client_net),"
    " COALESCE(SUM(bulk), 0) FROM complaints"
    " WHERE subject_kind = $1 AND subject = $2 AND at > $3 AND at <= $4 AND counted = 1"
    " AND authenticated = 1"
    " AND NOT EXISTS (SELECT 1 FROM incident_reports x JOIN incidents i ON i.id = x.incident_id"
    "   WHERE x.report_id = complaints.report_id AND (i.state IN ('resolved', 'dismissed')"
    "   OR complaints.at <= COALESCE(i.resolved_before, 0)))";

static const char sql_window[] =
    "SELECT COALESCE(SUM(score), 0), COUNT(*),"
    " COALESCE(SUM(CASE WHEN authenticated = 1 THEN score ELSE 0 END), 0),"
    " COALESCE(SUM(authenticated), 0) FROM complaints"
    " WHERE subject_kind = $1 AND subject = $2 AND at > $3 AND at <= $4 AND counted = 1"
    /* complaints a closed incident dealt with do not count again */
    " AND NOT EXISTS (SELECT 1 FROM incident_reports x JOIN incidents i ON i.id = x.incident_id"
    "   WHERE x.report_id = complaints.report_id AND (i.state IN ('resolved', 'dismissed')"
    "   OR complaints.at <= COALESCE(i.resolved_before, 0)))";

static const char sql_open_find[] =
    "SELECT id, stage FROM incidents WHERE subject_kind = $1 AND subject = $2"
    " AND state NOT IN ('resolved', 'dismissed', 'merged') ORDER BY id DESC LIMIT 1";

static const char sql_history[] =
    "SELECT id FROM incidents WHERE id <> $1 AND opened_at > $2 AND opened_at <= $6"
    " AND state = 'resolved' AND trusted = 1 AND subject_kind <> 'domain'"
    " AND ((customer_id IS NOT NULL AND customer_id = $3) OR (subject_kind = $4 AND subject = $5))"
    " ORDER BY id";

static const char sql_incident_insert[] =
    "INSERT INTO incidents (subject_kind, subject, customer_id, account, state, stage,"
    " initial_score, score, complaints, repeat_offender, first_seen, last_seen, opened_at,"
    " updated_at, trusted) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, $8, $9, $9, $9, $9, $10)";

static const char sql_incident_trusted[] = "UPDATE incidents SET trusted = 1 WHERE id = $1";

static const char sql_attach_window[] =
    "INSERT INTO incident_reports (incident_id, report_id)"
    " SELECT $1, c.report_id FROM complaints c"
    " WHERE c.subject_kind = $2 AND c.subject = $3 AND c.at > $4 AND c.at <= $5"
    " AND NOT EXISTS (SELECT 1 FROM incident_reports x WHERE x.report_id = c.report_id)"
    " ON CONFLICT (incident_id, report_id) DO NOTHING";

static const char sql_attach_one[] =
    "INSERT INTO incident_reports (incident_id, report_id) VALUES ($1, $2)"
    " ON CONFLICT (incident_id, report_id) DO NOTHING";

static const char sql_incident_sums[] =
    "SELECT COALESCE(SUM(CASE WHEN c.counted = 1 THEN c.score ELSE 0 END), 0),"
    " COALESCE(SUM(c.counted), 0), MIN(c.at), MAX(c.at)"
    " FROM incident_reports x CROSS JOIN complaints c"
    " WHERE x.incident_id = $1 AND c.report_id = x.report_id AND c.subject_kind = $2";

static const char sql_complaint_of[] =
    "SELECT score, counted, at FROM complaints WHERE report_id = $1 AND subject_kind = $2";

static const char sql_incident_add_one[] =
    "UPDATE incidents SET score = score + $2, complaints = complaints + $3,"
    " first_seen = CASE WHEN first_seen IS NULL OR first_seen > $4 THEN $4 ELSE first_seen END,"
    " last_seen = CASE WHEN last_seen IS NULL OR last_seen < $4 THEN $4 ELSE last_seen END,"
    " updated_at = $5 WHERE id = $1";

static const char sql_incident_touch[] = "UPDATE incidents SET updated_at = $2 WHERE id = $1";

static const char sql_incident_totals[] =
    "UPDATE incidents SET score = $2, complaints = $3, first_seen = $4, last_seen = $5,"
    " updated_at = $6 WHERE id = $1";

static const char sql_incident_stage[] =
    "UPDATE incidents SET stage = $2, state = CASE WHEN state = 'open' THEN $3 ELSE state END,"
    " updated_at = $4 WHERE id = $1";

static const char sql_reopen_find[] =
    "SELECT id, stage FROM incidents WHERE subject_kind = $1 AND subject = $2"
    " AND state = 'resolved' AND closed_at > $3 ORDER BY id DESC LIMIT 1";

static const char sql_reopen[] =
    "UPDATE incidents SET state = $2, stage = $4, resolved_before = closed_at, closed_at = NULL,"
    " updated_at = $3 WHERE id = $1";

static const char sql_incident_first_score[] = "UPDATE incidents SET initial_score = score WHERE id = $1";

static const char sql_audit_insert[] =
    "INSERT INTO audit (at, incident_id, report_id, actor, action, detail)"
    " VALUES ($1, $2, $3, $4, $5, $6)";

static const char sql_incident_get[] =
    "SELECT id, subject_kind, subject, customer_id, account, state, stage, initial_score,"
    " score, complaints, repeat_offender, first_seen, last_seen, opened_at, updated_at,"
    " closed_at, trusted FROM incidents WHERE id = $1";

static const char sql_incident_subjects[] =
    "SELECT r.subject, COUNT(*) AS n FROM incident_reports x JOIN reports r ON r.id = x.report_id"
    " WHERE x.incident_id = $1 AND r.subject IS NOT NULL GROUP BY r.subject"
    " ORDER BY n DESC, MIN(r.id)";

static const char sql_incident_providers[] =
    "SELECT CASE WHEN s.authenticated = 1 THEN s.provider"
    " ELSE s.provider || ' (unauthenticated)' END AS p, COUNT(*) AS n"
    " FROM incident_reports x JOIN scores s"
    " ON s.report_id = x.report_id WHERE x.incident_id = $1 AND s.provider IS NOT NULL"
    " GROUP BY p ORDER BY n DESC, p";

static const char sql_incident_manual[] =
    "SELECT COALESCE(SUM(CASE WHEN s.manual = 1 THEN 1 ELSE 0 END), 0),"
    " COALESCE(SUM(CASE WHEN s.manual = 0 THEN 1 ELSE 0 END), 0), COUNT(*)"
    " FROM incident_reports x JOIN scores s ON s.report_id = x.report_id"
    " WHERE x.incident_id = $1 AND s.counted = 1";

static const char sql_incident_reports[] =
    "SELECT r.id, s.at, s.total, s.counted, s.provider, r.subject, r.kind, r.feedback_type,"
    " s.authenticated, s.reporter_how"
    " FROM incident_reports x JOIN reports r ON r.id = x.report_id"
    " LEFT JOIN scores s ON s.report_id = r.id WHERE x.incident_id = $1 ORDER BY r.id";

static const char sql_incident_evidence[] =
    "SELECT a.evidence, a.reason, a.script, a.source_ip FROM incident_reports x"
    " JOIN attributions a ON a.report_id = x.report_id WHERE x.incident_id = $1"
    " ORDER BY x.report_id LIMIT 1";

static const char sql_incident_audit[] = "SELECT at, actor, action, detail, report_id FROM audit WHERE incident_id = $1 ORDER BY id";

static const char sql_incident_replies[] =
    "SELECT p.report_id, p.at, p.verdict, r.from_addr, r.subject FROM incident_replies p"
    " JOIN reports r ON r.id = p.report_id WHERE p.incident_id = $1 ORDER BY p.report_id";

static const char sql_incident_notices[] =
    "SELECT id, kind, template, rcpt, created_at, sent_at, failed, bounced_at, bounce_report"
    " FROM outbox WHERE incident_id = $1 ORDER BY id";

static const char sql_history_row[] = "SELECT id, subject_kind, subject, state, stage, opened_at, score FROM incidents WHERE id = $1";

static const char sql_incidents_all[] = "SELECT id FROM incidents ORDER BY id DESC";

static const char sql_incidents_open[] =
    "SELECT id FROM incidents WHERE state NOT IN ('resolved', 'dismissed', 'merged')"
    " ORDER BY id DESC";

static const char sql_incidents_state[] = "SELECT id FROM incidents WHERE state = $1 ORDER BY id DESC";


/* ---- processing one report ---- */

int store_incident_report_processed(struct store *st, int64_t report_id, bool *done,
                                    struct ad_err *err)
{
    int64_t v = 0;
    int rc = store_first_int(st, sql_processed, ARGS(A_INT(report_id)), &v, err);
    *done = rc == 1 && v != 0;
    return rc;
}

int store_incident_dup_find(struct store *st, const char *dedup_key, int64_t report_id,
                            int64_t *dup, struct ad_err *err)
{
    return store_first_int(st, sql_dup_find, ARGS(A_TEXT(dedup_key), A_INT(report_id)), dup,
                           err);
}

int store_incident_attribution_add(struct store *st, const struct store_incident_attr_in *in,
                                   struct ad_err *err)
{
    return store_run(st, sql_attr_insert,
                     ARGS(A_INT(in->report_id), A_TEXT(in->status), A_TEXT(in->subject_kind),
                          A_TEXT(in->subject), A_TEXT(in->account), A_TEXT(in->script),
                          A_TEXT(in->customer_id), A_TEXT(in->source_ip), A_TEXT(in->reason),
                          A_TEXT(in->evidence)),
                     err);
}

int store_incident_score_add(struct store *st, const struct store_incident_score_in *in,
                             struct ad_err *err)
{
    struct store_arg manual = A_INT(in->manual);
    if (in->manual < 0)
        manual = (struct store_arg)A_NULL;
    return store_run(st, sql_score_insert,
                     ARGS(A_INT(in->report_id), A_DOUBLE(in->total), A_INT(in->counted ? 1 : 0),
                          manual, A_TEXT(in->provider), A_TEXT(in->message_id), A_INT(in->at),
                          A_TEXT(in->terms), A_INT(in->authenticated ? 1 : 0),
                          A_TEXT(in->reporter_how), A_TEXT(in->dedup_key)),
                     err);
}

int store_incident_complaint_add(struct store *st, const struct store_incident_complaint *c,
                                 struct ad_err *err)
{
    return store_run(st, sql_complaint_insert,
                     ARGS(A_INT(c->report_id), A_TEXT(c->kind), A_TEXT(c->subject), A_INT(c->at),
                          A_DOUBLE(c->score), A_INT(c->counted ? 1 : 0),
                          A_INT(c->authenticated ? 1 : 0), A_TEXT(c->provider),
                          A_INT(c->bulk ? 1 : 0), A_TEXT(c->client_net)),
                     err);
}

int store_incident_audit_has(struct store *st, int64_t incident_id, const char *action, bool *has,
                             struct ad_err *err)
{
    static const char sql[] = "SELECT 1 FROM audit WHERE incident_id = $1 AND action = $2 LIMIT 1";
    int64_t one = 0;
    int rc = store_first_int(st, sql, ARGS(A_INT(incident_id), A_TEXT(action)), &one, err);
    *has = rc == 1;
    return rc < 0 ? rc : 0;
}

int store_incident_run_facts(struct store *st, const char *kind, const char *subject,
                             int64_t from, int64_t to, struct store_incident_run *out,
                             struct ad_err *err)
{
    memset(out, 0, sizeof *out);
    struct store_q *q;
    int rc = store_args_get(st, sql_run_facts,
                            ARGS(A_TEXT(kind), A_TEXT(subject), A_INT(from), A_INT(to)), &q, err);
    if (rc)
        return rc;
    if ((rc = store_q_step(q, err)) == 1) {
        out->n = store_q_col_int(q, 0);
        out->providers = store_q_col_int(q, 1);
        out->nets = store_q_col_int(q, 2);
        out->bulk = store_q_col_int(q, 3);
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_incident_window(struct store *st, const char *kind, const char *subject, int64_t from,
                          int64_t to, struct store_incident_wsum *w, struct ad_err *err)
{
    memset(w, 0, sizeof *w);
    struct store_q *q;
    int rc = store_args_get(st, sql_window, ARGS(A_TEXT(kind), A_TEXT(subject), A_INT(from),
                                                 A_INT(to)),
                            &q, err);
    if (rc)
        return rc;
    if ((rc = store_q_step(q, err)) == 1) {
        w->sum = store_q_col_double(q, 0);
        w->n = store_q_col_int(q, 1);
        w->auth_sum = store_q_col_double(q, 2);
        w->auth_n = store_q_col_int(q, 3);
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

/* The first row's (id, stage) of sql. */
static int id_stage(struct store *st, const char *sql, const struct store_arg *a, size_t n,
                    int64_t *id, char **stage, struct ad_err *err)
{
    *id = 0;
    *stage = NULL;
    struct store_q *q;
    int rc = store_args_get(st, sql, a, n, &q, err);
    if (rc)
        return rc;
    if ((rc = store_q_step(q, err)) == 1) {
        *id = store_q_col_int(q, 0);
        *stage = g_strdup(store_q_col_text(q, 1));
    }
    store_q_reset(q);
    return rc;
}

int store_incident_open_find(struct store *st, const char *kind, const char *subject,
                             int64_t *id, char **stage, struct ad_err *err)
{
    return id_stage(st, sql_open_find, ARGS(A_TEXT(kind), A_TEXT(subject)), id, stage, err);
}

int store_incident_resolved_find(struct store *st, const char *kind, const char *subject,
                                 int64_t closed_after, int64_t *id, char **stage,
                                 struct ad_err *err)
{
    return id_stage(st, sql_reopen_find,
                    ARGS(A_TEXT(kind), A_TEXT(subject), A_INT(closed_after)), id, stage, err);
}

int store_incident_history(struct store *st, int64_t self, int64_t from, int64_t to,
                           const char *customer_id, const char *kind, const char *subject,
                           int64_t **ids, size_t *n, struct ad_err *err)
{
    return store_all_ints(st, sql_history,
                          ARGS(A_INT(self), A_INT(from), A_TEXT(customer_id), A_TEXT(kind),
                               A_TEXT(subject), A_INT(to)),
                          ids, n, err);
}

int store_incident_add(struct store *st, const struct store_incident_new *in, int64_t *id,
                       struct ad_err *err)
{
    int rc = store_run(st, sql_incident_insert,
                       ARGS(A_TEXT(in->kind), A_TEXT(in->subject), A_TEXT(in->customer_id),
                            A_TEXT(in->account), A_TEXT(in->state), A_TEXT(in->stage),
                            A_DOUBLE(0), A_INT(in->repeat ? 1 : 0), A_INT(in->at),
                            A_INT(in->trusted ? 1 : 0)),
                       err);
    *id = rc == 0 ? store_last_id(st) : 0;
    return rc;
}

int store_incident_attach_window(struct store *st, int64_t id, const char *kind,
                                 const char *subject, int64_t from, int64_t to,
                                 struct ad_err *err)
{
    return store_run(st, sql_attach_window,
                     ARGS(A_INT(id), A_TEXT(kind), A_TEXT(subject), A_INT(from), A_INT(to)), err);
}

int store_incident_attach(struct store *st, int64_t id, int64_t report_id, struct ad_err *err)
{
    return store_run(st, sql_attach_one, ARGS(A_INT(id), A_INT(report_id)), err);
}

int store_incident_attach_new(struct store *st, int64_t id, int64_t report_id, bool *added,
                              struct ad_err *err)
{
    int changed = 0;
    int rc = store_run_changed(st, sql_attach_one, ARGS(A_INT(id), A_INT(report_id)), &changed,
                               err);
    *added = rc == 0 && changed > 0;
    return rc;
}

int store_incident_add_report(struct store *st, int64_t id, const char *kind, int64_t report_id,
                              int64_t now, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_args_get(st, sql_complaint_of, ARGS(A_INT(report_id), A_TEXT(kind)), &q, err);
    if (rc)
        return rc;
    if ((rc = store_q_step(q, err)) < 0) {
        store_q_reset(q);
        return rc;
    }
    bool found = rc == 1;
    double score = found ? store_q_col_double(q, 0) : 0;
    int64_t counted = found ? store_q_col_int(q, 1) : 0;
    int64_t at = found ? store_q_col_int(q, 2) : 0;
    store_q_reset(q);
    if (!found)
        return store_run(st, sql_incident_touch, ARGS(A_INT(id), A_INT(now)), err);
    return store_run(st, sql_incident_add_one,
                     ARGS(A_INT(id), A_DOUBLE(counted == 1 ? score : 0),
                          A_INT(counted == 1 ? 1 : 0), A_INT(at), A_INT(now)),
                     err);
}

int store_incident_recount(struct store *st, int64_t id, const char *kind, int64_t now,
                           struct ad_err *err)
{
    struct store_q *q;
    int rc = store_args_get(st, sql_incident_sums, ARGS(A_INT(id), A_TEXT(kind)), &q, err);
    if (rc)
        return rc;
    if ((rc = store_q_step(q, err)) < 0)
        return rc;
    double score = rc == 1 ? store_q_col_double(q, 0) : 0;
    int64_t n = rc == 1 ? store_q_col_int(q, 1) : 0;
    int64_t first = rc == 1 ? store_q_col_int(q, 2) : 0;
    int64_t last = rc == 1 ? store_q_col_int(q, 3) : 0;
    store_q_reset(q);
    return store_run(st, sql_incident_totals,
                     ARGS(A_INT(id), A_DOUBLE(score), A_INT(n), A_INT(first), A_INT(last),
                          A_INT(now)),
                     err);
}

int store_incident_first_score(struct store *st, int64_t id, struct ad_err *err)
{
    return store_run(st, sql_incident_first_score, ARGS(A_INT(id)), err);
}

int store_incident_set_trusted(struct store *st, int64_t id, struct ad_err *err)
{
    return store_run(st, sql_incident_trusted, ARGS(A_INT(id)), err);
}

int store_incident_set_stage(struct store *st, int64_t id, const char *stage, const char *state,
                             int64_t at, struct ad_err *err)
{
    return store_run(st, sql_incident_stage,
                     ARGS(A_INT(id), A_TEXT(stage), A_TEXT(state), A_INT(at)), err);
}

int store_incident_reopen(struct store *st, int64_t id, const char *state, const char *stage,
                          int64_t at, struct ad_err *err)
{
    return store_run(st, sql_reopen, ARGS(A_INT(id), A_TEXT(state), A_INT(at), A_TEXT(stage)),
                     err);
}

int store_incident_audit_add(struct store *st, int64_t at, int64_t incident_id,
                             int64_t report_id, const char *actor, const char *action,
                             const char *detail, struct ad_err *err)
{
    struct store_arg inc = A_NULL, rep = A_NULL;
    if (incident_id)
        inc = (struct store_arg)A_INT(incident_id);
    if (report_id)
        rep = (struct store_arg)A_INT(report_id);
    return store_run(st, sql_audit_insert,
                     ARGS(A_INT(at), inc, rep, A_TEXT(actor), A_TEXT(action), A_TEXT(detail)),
                     err);
}

/* ---- reading an incident ---- */

int store_incident_get(struct store *st, int64_t id, struct store_incident_row *out,
                       struct ad_err *err)
{
    memset(out, 0, sizeof *out);
    struct store_q *q;
    int rc = store_args_get(st, sql_incident_get, ARGS(A_INT(id)), &q, err);
    if (rc)
        return rc;
    if ((rc = store_q_step(q, err)) == 1) {
        out->id = store_q_col_int(q, 0);
        out->subject_kind = g_strdup(store_q_col_text(q, 1));
        out->subject = g_strdup(store_q_col_text(q, 2));
        out->customer_id = g_strdup(store_q_col_text(q, 3));
        out->account = g_strdup(store_q_col_text(q, 4));
        out->state = g_strdup(store_q_col_text(q, 5));
        out->stage = g_strdup(store_q_col_text(q, 6));
        out->initial_score = store_q_col_double(q, 7);
        out->score = store_q_col_double(q, 8);
        out->complaints = store_q_col_int(q, 9);
        out->repeat_offender = store_q_col_int(q, 10) != 0;
        out->first_seen = store_q_col_int(q, 11);
        out->last_seen = store_q_col_int(q, 12);
        out->opened_at = store_q_col_int(q, 13);
        out->updated_at = store_q_col_int(q, 14);
        out->closed_at = store_q_col_int(q, 15);
        out->trusted = store_q_col_int(q, 16) != 0;
    }
    store_q_reset(q);
    return rc;
}

void store_incident_row_clear(struct store_incident_row *r)
{
    g_free(r->subject_kind);
    g_free(r->subject);
    g_free(r->customer_id);
    g_free(r->account);
    g_free(r->state);
    g_free(r->stage);
    memset(r, 0, sizeof *r);
}

int store_incident_brief(struct store *st, int64_t id, struct store_incident_brief *out,
                         struct ad_err *err)
{
    memset(out, 0, sizeof *out);
    struct store_q *q;
    int rc = store_args_get(st, sql_history_row, ARGS(A_INT(id)), &q, err);
    if (rc)
        return rc;
    if ((rc = store_q_step(q, err)) == 1) {
        out->subject_kind = g_strdup(store_q_col_text(q, 1));
        out->subject = g_strdup(store_q_col_text(q, 2));
        out->state = g_strdup(store_q_col_text(q, 3));
        out->stage = g_strdup(store_q_col_text(q, 4));
        out->opened_at = store_q_col_int(q, 5);
        out->score = store_q_col_double(q, 6);
    }
    store_q_reset(q);
    return rc;
}

void store_incident_brief_clear(struct store_incident_brief *b)
{
    g_free(b->subject_kind);
    g_free(b->subject);
    g_free(b->state);
    g_free(b->stage);
    memset(b, 0, sizeof *b);
}

int store_incident_counts_each(struct store *st, int64_t id, enum store_incident_count what,
                               void (*fn)(const char *value, int64_t count, void *ctx), void *ctx,
                               struct ad_err *err)
{
    const char *sql = what == STORE_INCIDENT_SUBJECTS ? sql_incident_subjects
                                                      : sql_incident_providers;
    struct store_q *q;
    int rc = store_args_get(st, sql, ARGS(A_INT(id)), &q, err);
    if (rc)
        return rc;
    while ((rc = store_q_step(q, err)) == 1)
        fn(store_q_col_text(q, 0), store_q_col_int(q, 1), ctx);
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_incident_manual(struct store *st, int64_t id, int64_t *manual, int64_t *automatic,
                          int64_t *all, struct ad_err *err)
{
    *manual = *automatic = *all = 0;
    struct store_q *q;
    int rc = store_args_get(st, sql_incident_manual, ARGS(A_INT(id)), &q, err);
    if (rc)
        return rc;
    if ((rc = store_q_step(q, err)) == 1) {
        *manual = store_q_col_int(q, 0);
        *automatic = store_q_col_int(q, 1);
        *all = store_q_col_int(q, 2);
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_incident_evidence(struct store *st, int64_t id, struct store_incident_evidence *out,
                            struct ad_err *err)
{
    memset(out, 0, sizeof *out);
    struct store_q *q;
    int rc = store_args_get(st, sql_incident_evidence, ARGS(A_INT(id)), &q, err);
    if (rc)
        return rc;
    if ((rc = store_q_step(q, err)) == 1) {
        out->evidence = g_strdup(store_q_col_text(q, 0));
        out->reason = g_strdup(store_q_col_text(q, 1));
        out->script = g_strdup(store_q_col_text(q, 2));
        out->source_ip = g_strdup(store_q_col_text(q, 3));
    }
    store_q_reset(q);
    return rc;
}

void store_incident_evidence_clear(struct store_incident_evidence *e)
{
    g_free(e->evidence);
    g_free(e->reason);
    g_free(e->script);
    g_free(e->source_ip);
    memset(e, 0, sizeof *e);
}

int store_incident_reports_each(struct store *st, int64_t id,
                                void (*fn)(const struct store_incident_report *r, void *ctx),
                                void *ctx, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_args_get(st, sql_incident_reports, ARGS(A_INT(id)), &q, err);
    if (rc)
        return rc;
    while ((rc = store_q_step(q, err)) == 1) {
        struct store_incident_report r = {
            .report_id = store_q_col_int(q, 0),
            .at = store_q_col_int(q, 1),
            .score = store_q_col_double(q, 2),
            .counted = store_q_col_int(q, 3) != 0,
            .provider = store_q_col_text(q, 4),
            .subject = store_q_col_text(q, 5),
            .kind = store_q_col_text(q, 6),
            .feedback_type = store_q_col_text(q, 7),
            .authenticated = store_q_col_int(q, 8) != 0,
            .reporter_how = store_q_col_text(q, 9),
        };
        fn(&r, ctx);
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_incident_replies_each(struct store *st, int64_t id,
                                void (*fn)(const struct store_incident_reply *r, void *ctx),
                                void *ctx, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_args_get(st, sql_incident_replies, ARGS(A_INT(id)), &q, err);
    if (rc)
        return rc;
    while ((rc = store_q_step(q, err)) == 1) {
        struct store_incident_reply r = { store_q_col_int(q, 0), store_q_col_int(q, 1),
                                          store_q_col_text(q, 2), store_q_col_text(q, 3),
                                          store_q_col_text(q, 4) };
        fn(&r, ctx);
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_incident_notices_each(struct store *st, int64_t id,
                                void (*fn)(const struct store_incident_notice *n, void *ctx),
                                void *ctx, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_args_get(st, sql_incident_notices, ARGS(A_INT(id)), &q, err);
    if (rc)
        return rc;
    while ((rc = store_q_step(q, err)) == 1) {
        struct store_incident_notice n = {
            .outbox_id = store_q_col_int(q, 0),
            .kind = store_q_col_text(q, 1),
            .template_name = store_q_col_text(q, 2),
            .rcpt = store_q_col_text(q, 3),
            .created_at = store_q_col_int(q, 4),
            .sent_at = store_q_col_null(q, 5) ? 0 : store_q_col_int(q, 5),
            .failed = store_q_col_int(q, 6) != 0,
            .bounced_at = store_q_col_null(q, 7) ? 0 : store_q_col_int(q, 7),
            .bounce_report = store_q_col_int(q, 8),
        };
        fn(&n, ctx);
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_incident_audit_each(struct store *st, int64_t id,
                              void (*fn)(const struct store_incident_audit *a, void *ctx),
                              void *ctx, struct ad_err *err)
{
    struct store_q *q;
    int rc = store_args_get(st, sql_incident_audit, ARGS(A_INT(id)), &q, err);
    if (rc)
        return rc;
    while ((rc = store_q_step(q, err)) == 1) {
        struct store_incident_audit a = {
            .at = store_q_col_int(q, 0),
            .actor = store_q_col_text(q, 1),
            .action = store_q_col_text(q, 2),
            .detail = store_q_col_text(q, 3),
            .report_id = store_q_col_null(q, 4) ? 0 : store_q_col_int(q, 4),
        };
        fn(&a, ctx);
    }
    store_q_reset(q);
    return rc < 0 ? rc : 0;
}

int store_incident_ids(struct store *st, const char *state, int64_t **ids, size_t *n,
                       struct ad_err *err)
{
    if (!state)
        return store_all_ints(st, sql_incidents_all, NULL, 0, ids, n, err);
    if (!strcmp(state, "open"))
        return store_all_ints(st, sql_incidents_open, NULL, 0, ids, n, err);
    return store_all_ints(st, sql_incidents_state, ARGS(A_TEXT(state)), ids, n, err);
}

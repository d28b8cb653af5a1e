/*
 * queue.c: the queue's filters and sort, and a report's explanation (see
 * queue.h). Moved here from the CLI so that the web process shows the same
 * thing. Every object handed out is a new jansson reference the caller owns;
 * store errors are returned in err, nothing is printed.
 */
#include "queue.h"

#include <stdlib.h>
#include <string.h>

#include "incident/incident.h"
#include "store/store_explain.h"

void incident_filter_init(struct incident_filter *f)
{
    memset(f, 0, sizeof *f);
    f->state = "open";
    f->sort = "id";
}

static bool one_of(const char *v, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(v, *set))
            return true;
    return false;
}

bool incident_parse_time(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v = g_ascii_strtoll(s, &end, 10);
    if (end && end != s && !*end && v > 0) {
        *out = v;
        return true;
    }
    GDateTime *dt = g_date_time_new_from_iso8601(s, NULL);
    if (!dt) {
        /* "2026-11-26T10:00:00" without a zone is UTC */
        char *z = g_strconcat(s, "Z", NULL);
        dt = g_date_time_new_from_iso8601(z, NULL);
        g_free(z);
    }
    if (!dt)
        return false;
    *out = g_date_time_to_unix(dt);
    g_date_time_unref(dt);
    return true;
}

int incident_filter_set(struct incident_filter *f, const char *name, const char *v,
                        const char **expect)
{
    static const char *const states[] = { "open",   "alerted",   "locked",
                                          "customer_notified", "customer_replied", "resolved",
                                          "dismissed", "merged", "all", NULL };
    static const char *const kinds[] = { "account", "script", "customer", "ip", "domain", NULL };
    static const char *const stages[] = { "observe", "alert", "lock", NULL };
    static const char *const sorts[] = { "id", "score", "complaints", "opened", NULL };
    const char *bad = NULL;
    *expect = NULL;
    if (!strcmp(name, "state"))
        bad = one_of(v, states) ? (f->state = strcmp(v, "all") ? v : NULL, NULL)
                                : "a state (open, alerted, locked, customer_notified, "
                                  "customer_replied, resolved, dismissed, merged, all)";
    else if (!strcmp(name, "customer"))
        f->customer = v;
    else if (!strcmp(name, "account"))
        f->account = v;
    else if (!strcmp(name, "kind"))
        bad = one_of(v, kinds) ? (f->kind = v, NULL)
                               : "a kind (account, script, customer, ip, domain)";
    else if (!strcmp(name, "stage"))
        bad = one_of(v, stages) ? (f->stage = v, NULL) : "a stage (observe, alert, lock)";
    else if (!strcmp(name, "sort"))
        bad = one_of(v, sorts) ? (f->sort = v, NULL) : "id, score, complaints or opened";
    else if (!strcmp(name, "since"))
        bad = incident_parse_time(v, &f->since) ? NULL : "a time (ISO 8601 or Unix seconds)";
    else if (!strcmp(name, "until"))
        bad = incident_parse_time(v, &f->until) ? NULL : "a time (ISO 8601 or Unix seconds)";
    else if (!strcmp(name, "limit")) {
        char *end = NULL;
        long long n = strtoll(v, &end, 10);
        if (!*v || *end || n < 1)
            bad = "a number >= 1";
        else
            f->limit = n;
    } else
        return AD_ERR_USAGE;
    if (bad) {
        *expect = bad;
        return AD_ERR_USAGE;
    }
    return 0;
}

static bool list_match(const struct incident_filter *c, json_t *o)
{
    const char *v;
    if (c->customer && (!(v = json_string_value(json_object_get(o, "customer_id")))
                        || strcmp(v, c->customer)))
        return false;
    if (c->account && (!(v = json_string_value(json_object_get(o, "subject")))
                       || g_ascii_strcasecmp(v, c->account))
        && (!(v = json_string_value(json_object_get(o, "account")))
            || g_ascii_strcasecmp(v, c->account)))
        return false;
    if (c->kind && (!(v = json_string_value(json_object_get(o, "subject_kind")))
                    || strcmp(v, c->kind)))
        return false;
    if (c->stage && (!(v = json_string_value(json_object_get(o, "stage"))) || strcmp(v, c->stage)))
        return false;
    if (c->since || c->until) {
        const char *opened = json_string_value(json_object_get(o, "opened_at"));
        GDateTime *dt = opened ? g_date_time_new_from_iso8601(opened, NULL) : NULL;
        int64_t t = dt ? g_date_time_to_unix(dt) : 0;
        if (dt)
            g_date_time_unref(dt);
        if ((c->since && t < c->since) || (c->until && t > c->until))
            return false;
    }
    return true;
}

json_t *incident_summary(json_t *full)
{
    static const char *const keys[] = { "id", "state", "stage", "subject_kind", "subject",
                                        "customer_id", "score", "complaints", "subjects",
                                        "providers", "first_seen", "last_seen", "history",
                                        "initial_score", "manual_share", "repeat_offender" };
    json_t *o = json_object();
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
        json_t *v = json_object_get(full, keys[i]);
        json_object_set(o, keys[i], v ? v : json_null());
    }
    return o;
}

static int by_score(gconstpointer a, gconstpointer b)
{
    double x = json_real_value(json_object_get(*(json_t *const *)a, "score"));
    double y = json_real_value(json_object_get(*(json_t *const *)b, "score"));
    return x < y ? 1 : x > y ? -1 : 0;
}

static int by_complaints(gconstpointer a, gconstpointer b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "complaints"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "complaints"));
    return x < y ? 1 : x > y ? -1 : 0;
}

static int by_opened(gconstpointer a, gconstpointer b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "opened_at"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "opened_at"));
    return -strcmp(x ? x : "", y ? y : "");
}

struct list_ctx {
    const struct config *cfg;
    struct store *st;
    const struct incident_filter *f;
    int64_t now;
    GPtrArray *rows;
    struct ad_err *err;
    int rc;
};

static int list_one(int64_t id, void *vctx)
{
    struct list_ctx *c = vctx;
    json_t *o = NULL;
    if ((c->rc = incident_json(c->cfg, c->st, id, c->now, &o, c->err)) != 0)
        return 1;
    if (!list_match(c->f, o))
        json_decref(o);
    else
        g_ptr_array_add(c->rows, o);
    return 0;
}

int incident_list(const struct config *cfg, struct store *st, const struct incident_filter *f,
                  int64_t now, GPtrArray **out, struct ad_err *err)
{
    struct list_ctx c = { cfg, st, f, now,
                          g_ptr_array_new_with_free_func((GDestroyNotify)json_decref), err, 0 };
    int rc = incident_each(st, f->state, list_one, &c, err);
    if (rc == 0)
        rc = c.rc;
    if (rc) {
        g_ptr_array_free(c.rows, TRUE);
        *out = NULL;
        return rc;
    }
    const char *sort = f->sort ? f->sort : "id";
    if (!strcmp(sort, "score"))
        g_ptr_array_sort(c.rows, by_score);
    else if (!strcmp(sort, "complaints"))
        g_ptr_array_sort(c.rows, by_complaints);
    else if (!strcmp(sort, "opened"))
        g_ptr_array_sort(c.rows, by_opened);
    if (f->limit > 0 && c.rows->len > (guint)f->limit)
        g_ptr_array_remove_range(c.rows, (guint)f->limit, c.rows->len - (guint)f->limit);
    *out = c.rows;
    return 0;
}

struct explain_senders {
    const struct config *cfg;
    struct store *st;
    int64_t now;
    json_t *senders;
    struct ad_err *err;
};

/* Adds a sender the report was filed under, with its sums now. */
static int explain_sender(const char *kind, const char *subject, void *ctx)
{
    struct explain_senders *es = ctx;
    json_t *w = NULL;
    int rc = incident_windows_json(es->cfg, es->st, kind, subject, es->now, &w, es->err);
    if (rc == 0)
        json_array_append_new(es->senders, json_pack("{s:s, s:s, s:o}", "subject_kind", kind,
                                                     "subject", subject, "windows", w));
    return rc;
}

static void explain_incident(int64_t incident_id, void *ctx)
{
    json_array_append_new(ctx, json_integer(incident_id));
}

int incident_explain_json(const struct config *cfg, struct store *st, int64_t id, int64_t now,
                          json_t **out, struct ad_err *err)
{
    struct store_report_row row = { 0 };
    json_t *o = NULL;
    *out = NULL;
    int rc = store_report_get(st, id, false, &row, err);
    if (rc)
        return rc;
    o = json_pack("{s:I, s:s, s:s?, s:s?, s:s?, s:s?}", "report_id", (json_int_t)id, "kind",
                  row.kind, "feedback_type", row.feedback_type, "subject", row.subject, "from",
                  row.from_addr, "received_at", row.received_at);
    store_row_clear(&row);
    struct store_explain_attr at;
    rc = store_explain_attribution(st, id, &at, err);
    if (rc < 0)
        goto fail;
    if (rc == 0) {
        json_object_set_new(o, "attribution", json_null());
    } else {
        json_t *ev = json_loads(at.evidence ? at.evidence : "[]", 0, NULL);
        json_object_set_new(
            o, "attribution",
            json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:o}", "status",
                      at.status, "subject_kind", at.subject_kind, "subject", at.subject,
                      "account", at.account, "script", at.script, "customer_id",
                      at.customer_id, "source_ip", at.source_ip, "reason", at.reason,
                      "evidence", ev ? ev : json_array()));
        store_explain_attr_clear(&at);
    }
    struct store_explain_score sc;
    rc = store_explain_score(st, id, &sc, err);
    if (rc < 0)
        goto fail;
    if (rc == 0) {
        json_object_set_new(o, "score", json_null());
    } else {
        json_t *terms = json_loads(sc.terms ? sc.terms : "[]", 0, NULL);
        json_object_set_new(
            o, "score",
            json_pack("{s:f, s:b, s:o, s:s?, s:s?, s:o}", "total", sc.total, "counted",
                      (int)sc.counted, "manual",
                      sc.manual_null ? json_null() : json_boolean(sc.manual), "provider",
                      sc.provider, "message_id", sc.message_id, "terms",
                      terms ? terms : json_array()));
        store_explain_score_clear(&sc);
    }
    /* The sums of every sender the report was filed under, now. */
    json_t *senders = json_array();
    json_object_set_new(o, "senders", senders);
    struct explain_senders es = { cfg, st, now, senders, err };
    if ((rc = store_explain_senders(st, id, explain_sender, &es, err)) < 0)
        goto fail;
    json_t *incs = json_array();
    json_object_set_new(o, "incidents", incs);
    if ((rc = store_explain_incidents(st, id, explain_incident, incs, err)) < 0)
        goto fail;
    *out = o;
    return 0;
fail:
    json_decref(o);
    return rc;
}

/*
 * cmd_desk.c: the abuse team's commands: `abusedesk explain REPORT_ID` (the
 * attribution evidence and every score term with its configuration key),
 * `abusedesk incidents` (the queue), `abusedesk incident show|note|resolve|dismiss
 * ID` and `abusedesk process` (reports stored but not processed yet). Output is
 * text for people or, with --json, one object per line.
 */
#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "incident/incident.h"
#include "store/store.h"
#include "store/store_q.h"
#include "util/fsutil.h"

static int desk_open(struct cli *cli, struct store **st)
{
    struct ad_err err = { 0 };
    char *dir = g_path_get_dirname(cli->cfg.db_path);
    fs_mkdir_p(dir, NULL);
    g_free(dir);
    if (store_open(cli->cfg.db_path, cli->cfg.busy_timeout_ms, st, &err) != 0) {
        fprintf(stderr, "abusedesk: %s\n", err.msg);
        return err.code == AD_ERR_BUSY ? EXIT_TEMPFAIL : EXIT_SOFTWARE;
    }
    return 0;
}

static int exit_for(const struct ad_err *err)
{
    switch (err->code) {
    case AD_ERR_BUSY:
        return EXIT_TEMPFAIL;
    case AD_ERR_NOTFOUND:
    case AD_ERR_USAGE:
        return EXIT_USAGE;
    default:
        return EXIT_SOFTWARE;
    }
}

static int64_t now_s(void)
{
    return (int64_t)(g_get_real_time() / G_USEC_PER_SEC);
}

static bool parse_id(const char *s, int64_t *id)
{
    char *end = NULL;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || v <= 0)
        return false;
    *id = v;
    return true;
}

static const char *js(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

/* ---- explain ------------------------------------------------------------ */

static const char sql_explain_attr[] =
    "SELECT status, subject_kind, subject, account, script, customer_id, source_ip, reason,"
    " evidence FROM attributions WHERE report_id = $1";
static const char sql_explain_score[] =
    "SELECT total, counted, manual, provider, message_id, at, terms FROM scores WHERE report_id = $1";
static const char sql_explain_senders[] =
    "SELECT subject_kind, subject FROM complaints WHERE report_id = $1"
    " ORDER BY CASE subject_kind WHEN 'account' THEN 1 WHEN 'script' THEN 2"
    " WHEN 'customer' THEN 3 ELSE 4 END";
static const char sql_explain_incident[] =
    "SELECT incident_id FROM incident_reports WHERE report_id = $1 ORDER BY incident_id";

static void explain_usage(FILE *f)
{
    fprintf(f, "usage: abusedesk [GLOBAL OPTIONS] explain [--json] REPORT_ID\n\n"
               "Shows how a stored report was attributed (which header said what, or why\n"
               "it could not be attributed) and how its score was computed: every term,\n"
               "its value and the configuration key that set it. The score is the product\n"
               "of the terms.\n");
}

int cmd_explain(struct cli *cli, int argc, char **argv)
{
    bool json = false;
    int64_t id = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            explain_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!id && parse_id(argv[i], &id)) {
            continue;
        } else {
            fprintf(stderr, "abusedesk explain: unexpected argument '%s'\n", argv[i]);
            explain_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!id) {
        explain_usage(stderr);
        return EXIT_USAGE;
    }
    struct store *st = NULL;
    int rc = desk_open(cli, &st);
    if (rc)
        return rc;
    struct ad_err err = { 0 };
    struct store_report_row row = { 0 };
    json_t *o = NULL;
    if (store_report_get(st, id, false, &row, &err) != 0) {
        fprintf(stderr, "abusedesk explain: %s\n",
                err.code == AD_ERR_NOTFOUND ? "no such report" : err.msg);
        rc = exit_for(&err);
        goto out;
    }
    o = json_pack("{s:I, s:s, s:s?, s:s?, s:s?, s:s?}", "report_id", (json_int_t)id, "kind",
                  row.kind, "feedback_type", row.feedback_type, "subject", row.subject, "from",
                  row.from_addr, "received_at", row.received_at);
    struct store_q *q;
    if ((rc = store_q_get(st, sql_explain_attr, &q, &err)) == 0) {
        store_q_int(q, 1, id);
        rc = store_q_step(q, &err);
    }
    if (rc < 0)
        goto fail;
    if (rc == 0) {
        json_object_set_new(o, "attribution", json_null());
    } else {
        json_t *ev = json_loads(store_q_col_text(q, 8) ? store_q_col_text(q, 8) : "[]", 0, NULL);
        json_object_set_new(
            o, "attribution",
            json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:o}", "status",
                      store_q_col_text(q, 0), "subject_kind", store_q_col_text(q, 1), "subject",
                      store_q_col_text(q, 2), "account", store_q_col_text(q, 3), "script",
                      store_q_col_text(q, 4), "customer_id", store_q_col_text(q, 5), "source_ip",
                      store_q_col_text(q, 6), "reason", store_q_col_text(q, 7), "evidence",
                      ev ? ev : json_array()));
    }
    if ((rc = store_q_get(st, sql_explain_score, &q, &err)) == 0) {
        store_q_int(q, 1, id);
        rc = store_q_step(q, &err);
    }
    if (rc < 0)
        goto fail;
    if (rc == 0) {
        json_object_set_new(o, "score", json_null());
    } else {
        json_t *terms = json_loads(store_q_col_text(q, 6) ? store_q_col_text(q, 6) : "[]", 0, NULL);
        json_object_set_new(
            o, "score",
            json_pack("{s:f, s:b, s:o, s:s?, s:s?, s:o}", "total", store_q_col_double(q, 0),
                      "counted", (int)store_q_col_int(q, 1), "manual",
                      store_q_col_null(q, 2) ? json_null()
                                             : json_boolean(store_q_col_int(q, 2) == 1),
                      "provider", store_q_col_text(q, 3), "message_id", store_q_col_text(q, 4),
                      "terms", terms ? terms : json_array()));
    }
    /* The sums of every sender the report was filed under, now. */
    json_t *senders = json_array();
    json_object_set_new(o, "senders", senders);
    if ((rc = store_q_get(st, sql_explain_senders, &q, &err)) == 0) {
        store_q_int(q, 1, id);
        GPtrArray *pairs = g_ptr_array_new_with_free_func(g_free);
        while ((rc = store_q_step(q, &err)) == 1) {
            g_ptr_array_add(pairs, g_strdup(store_q_col_text(q, 0)));
            g_ptr_array_add(pairs, g_strdup(store_q_col_text(q, 1)));
        }
        for (guint k = 0; rc == 0 && k + 1 < pairs->len; k += 2) {
            json_t *w = NULL;
            rc = incident_windows_json(&cli->cfg, st, pairs->pdata[k], pairs->pdata[k + 1],
                                       now_s(), &w, &err);
            if (rc == 0)
                json_array_append_new(senders, json_pack("{s:s, s:s, s:o}", "subject_kind",
                                                         (char *)pairs->pdata[k], "subject",
                                                         (char *)pairs->pdata[k + 1], "windows",
                                                         w));
        }
        g_ptr_array_free(pairs, TRUE);
    }
    if (rc < 0)
        goto fail;
    json_t *incs = json_array();
    json_object_set_new(o, "incidents", incs);
    if ((rc = store_q_get(st, sql_explain_incident, &q, &err)) == 0) {
        store_q_int(q, 1, id);
        while ((rc = store_q_step(q, &err)) == 1)
            json_array_append_new(incs, json_integer(store_q_col_int(q, 0)));
    }
    if (rc < 0)
        goto fail;
    rc = 0;

    if (json) {
        char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
        printf("%s\n", s);
        free(s);
        goto out;
    }
    printf("Report %lld: %s%s%s, received %s\n", (long long)id, row.kind,
           row.feedback_type ? " / " : "", row.feedback_type ? row.feedback_type : "",
           row.received_at);
    if (row.subject)
        printf("  Subject: %s\n", row.subject);
    json_t *a = json_object_get(o, "attribution");
    if (json_is_null(a)) {
        printf("\nNot processed yet (run `abusedesk process`).\n");
        goto out;
    }
    printf("\nAttribution: %s", js(a, "status"));
    if (!json_is_null(json_object_get(a, "subject_kind")) && json_object_get(a, "subject_kind"))
        printf(" to %s %s", js(a, "subject_kind"), js(a, "subject"));
    printf("\n");
    if (json_string_value(json_object_get(a, "customer_id")))
        printf("  customer: %s\n", js(a, "customer_id"));
    if (json_string_value(json_object_get(a, "reason")))
        printf("  note: %s\n", js(a, "reason"));
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(a, "evidence"), i, e)
        printf("  - %-26s %s\n", js(e, "source"), js(e, "said"));
    json_t *s = json_object_get(o, "score");
    if (json_is_object(s)) {
        printf("\nScore: %.4g%s\n", json_real_value(json_object_get(s, "total")),
               json_is_true(json_object_get(s, "counted")) ? "" : " (not counted)");
        double run = 0;
        json_array_foreach(json_object_get(s, "terms"), i, e)
        {
            double v = json_real_value(json_object_get(e, "value"));
            run = i == 0 ? v : run * v;
            printf("  %s %-12s %8.4g  = %-8.4g %-32s %s\n", i == 0 ? " " : "x", js(e, "name"), v,
                   run, js(e, "key"), js(e, "why"));
        }
    }
    if (json_array_size(senders))
        printf("\nSums now per sender (score, complaints):\n");
    json_array_foreach(senders, i, e)
    {
        printf("  %-8s %-40s", js(e, "subject_kind"), js(e, "subject"));
        size_t k;
        json_t *w;
        json_array_foreach(json_object_get(e, "windows"), k, w)
            printf("  %s: %.2f (%lld)", js(w, "window"), json_real_value(json_object_get(w, "score")),
                   (long long)json_integer_value(json_object_get(w, "complaints")));
        printf("\n");
    }
    if (json_array_size(incs)) {
        printf("\nIncident:");
        json_array_foreach(incs, i, e)
            printf(" %lld", (long long)json_integer_value(e));
        printf(" (abusedesk incident show ID)\n");
    }
    goto out;
fail:
    fprintf(stderr, "abusedesk explain: %s\n", err.msg);
    rc = exit_for(&err);
out:
    json_decref(o);
    store_row_clear(&row);
    store_close(st);
    return rc;
}

/* ---- incidents ---------------------------------------------------------- */

struct list_ctx {
    struct cli *cli;
    struct store *st;
    bool json;
    int rc;
    size_t n;
};

/* The keys of the `incidents --json` contract, in order. */
static json_t *summary(json_t *full)
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

static int list_one(int64_t id, void *vctx)
{
    struct list_ctx *c = vctx;
    json_t *o = NULL;
    struct ad_err err = { 0 };
    if (incident_json(&c->cli->cfg, c->st, id, now_s(), &o, &err) != 0) {
        fprintf(stderr, "abusedesk incidents: %s\n", err.msg);
        c->rc = exit_for(&err);
        return 1;
    }
    c->n++;
    if (c->json) {
        json_t *sm = summary(o);
        char *s = json_dumps(sm, JSON_COMPACT | JSON_REAL_PRECISION(6) | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(sm);
    } else {
        json_t *subj = json_object_get(o, "subjects");
        const char *first = json_string_value(json_array_get(subj, 0));
        printf("%5lld  %-16s %-8s %-8s %-34.34s %-10s %8.2f %5lld  %s%s\n", (long long)id,
               js(o, "state"), js(o, "stage"), js(o, "subject_kind"), js(o, "subject"),
               js(o, "customer_id"), json_real_value(json_object_get(o, "score")),
               (long long)json_integer_value(json_object_get(o, "complaints")),
               json_is_true(json_object_get(o, "repeat_offender")) ? "[repeat] " : "",
               first ? first : "");
    }
    json_decref(o);
    return 0;
}

static void incidents_usage(FILE *f)
{
    fprintf(f, "usage: abusedesk [GLOBAL OPTIONS] incidents [--state STATE] [--all] [--json]\n\n"
               "Lists incidents, newest first. Without options: the open ones (every state\n"
               "but resolved and dismissed). --state STATE shows one state (open, alerted,\n"
               "resolved, dismissed), --all every incident. --json prints one object per\n"
               "line with id, state, stage, subject_kind, subject, customer_id, score,\n"
               "complaints, subjects, providers, first_seen, last_seen, history.\n");
}

int cmd_incidents(struct cli *cli, int argc, char **argv)
{
    const char *state = "open";
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            incidents_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--all")) {
            state = NULL;
        } else if (!strcmp(argv[i], "--state") && i + 1 < argc) {
            state = argv[++i];
        } else {
            fprintf(stderr, "abusedesk incidents: unknown option '%s'\n", argv[i]);
            incidents_usage(stderr);
            return EXIT_USAGE;
        }
    }
    struct store *st = NULL;
    int rc = desk_open(cli, &st);
    if (rc)
        return rc;
    struct list_ctx c = { cli, st, json, 0, 0 };
    struct ad_err err = { 0 };
    if (!json)
        printf("%5s  %-16s %-8s %-8s %-34s %-10s %8s %5s  %s\n", "ID", "STATE", "STAGE", "KIND",
               "SENDER", "CUSTOMER", "SCORE", "COMPL", "SUBJECT (most frequent)");
    if (incident_each(st, state, list_one, &c, &err) != 0) {
        fprintf(stderr, "abusedesk incidents: %s\n", err.msg);
        c.rc = exit_for(&err);
    }
    if (!json && c.rc == 0 && c.n == 0)
        printf("(no %s incidents)\n", state ? state : "");
    store_close(st);
    return c.rc;
}

static void print_incident(json_t *o)
{
    size_t i;
    json_t *e;
    printf("Incident %lld: %s %s  [state %s, stage %s]%s\n",
           (long long)json_integer_value(json_object_get(o, "id")), js(o, "subject_kind"),
           js(o, "subject"), js(o, "state"), js(o, "stage"),
           json_is_true(json_object_get(o, "repeat_offender")) ? "  REPEAT OFFENDER" : "");
    json_t *c = json_object_get(o, "customer");
    if (json_is_object(c))
        printf("  Customer:        %s, %s <%s> (%s)\n", js(c, "id"), js(c, "name"),
               js(c, "contact_email"), js(c, "language"));
    else if (json_string_value(json_object_get(o, "customer_id")))
        printf("  Customer:        %s (not in the directory)\n", js(o, "customer_id"));
    else
        printf("  Customer:        unknown (not in the customer directory)\n");
    if (json_string_value(json_object_get(o, "script")))
        printf("  Script:          %s\n", js(o, "script"));
    printf("  Initial score:   %.2f\n", json_real_value(json_object_get(o, "initial_score")));
    printf("  Score:           %.2f from %lld complaints\n",
           json_real_value(json_object_get(o, "score")),
           (long long)json_integer_value(json_object_get(o, "complaints")));
    json_t *ms = json_object_get(o, "manual_share");
    if (json_is_real(ms))
        printf("  Made by people:  %.0f%% (%lld manual, %lld automatic)\n",
               100.0 * json_real_value(ms),
               (long long)json_integer_value(json_object_get(o, "manual_complaints")),
               (long long)json_integer_value(json_object_get(o, "automatic_complaints")));
    printf("  First / last:    %s / %s\n", js(o, "first_seen"), js(o, "last_seen"));
    printf("  Sender now:     ");
    json_array_foreach(json_object_get(o, "windows"), i, e)
        printf(" %s: %.2f (%lld)", js(e, "window"), json_real_value(json_object_get(e, "score")),
               (long long)json_integer_value(json_object_get(e, "complaints")));
    printf("\n  Providers:      ");
    json_array_foreach(json_object_get(o, "provider_counts"), i, e)
        printf(" %s (%lld)", js(e, "value"), (long long)json_integer_value(json_object_get(e, "count")));
    printf("\n  Subject lines:\n");
    json_array_foreach(json_object_get(o, "subject_counts"), i, e)
        printf("    %4lldx  %s\n", (long long)json_integer_value(json_object_get(e, "count")),
               js(e, "value"));
    printf("  Evidence:\n");
    json_array_foreach(json_object_get(o, "evidence"), i, e)
        printf("    - %-26s %s\n", js(e, "source"), js(e, "said"));
    if (json_string_value(json_object_get(o, "attribution_note")))
        printf("    note: %s\n", js(o, "attribution_note"));
    printf("  Earlier incidents of this customer or sender:");
    if (json_array_size(json_object_get(o, "history_incidents")) == 0)
        printf(" none\n");
    else
        printf("\n");
    json_array_foreach(json_object_get(o, "history_incidents"), i, e)
        printf("    #%lld %s %s, %s, opened %s, score %.2f\n",
               (long long)json_integer_value(json_object_get(e, "id")), js(e, "subject_kind"),
               js(e, "subject"), js(e, "state"), js(e, "opened_at"),
               json_real_value(json_object_get(e, "score")));
    printf("  Reports:\n");
    json_array_foreach(json_object_get(o, "reports"), i, e)
        printf("    #%-6lld %s  %6.2f%s  %-22s %s\n",
               (long long)json_integer_value(json_object_get(e, "report_id")), js(e, "at"),
               json_real_value(json_object_get(e, "score")),
               json_is_true(json_object_get(e, "counted")) ? " " : "*", js(e, "provider"),
               js(e, "subject"));
    printf("  Audit log:\n");
    json_array_foreach(json_object_get(o, "audit"), i, e)
        printf("    %s  %-10s %-11s %s\n", js(e, "at"), js(e, "actor"), js(e, "action"),
               js(e, "detail"));
}

static void incident_usage(FILE *f)
{
    fprintf(f, "usage: abusedesk [GLOBAL OPTIONS] incident show ID [--json]\n"
               "       abusedesk [GLOBAL OPTIONS] incident note ID --reason TEXT [--by NAME]\n"
               "       abusedesk [GLOBAL OPTIONS] incident resolve ID [--reason TEXT] [--by NAME]\n"
               "       abusedesk [GLOBAL OPTIONS] incident dismiss ID --reason TEXT [--by NAME]\n\n"
               "show: the alert for the abuse team: customer, initial score, complaints,\n"
               "subject lines (most frequent first), providers, manual share, first and\n"
               "last complaint, sums per window, attribution evidence, earlier incidents of\n"
               "the same customer and sender, the reports and the audit log.\n"
               "note, resolve, dismiss: a person's action, kept in the audit log (--by\n"
               "defaults to the login name). dismiss marks a false alarm and needs a reason.\n");
}

int cmd_incident(struct cli *cli, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        incident_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *action = argv[1];
    bool json = false;
    const char *reason = NULL, *by = NULL;
    int64_t id = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            incident_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--reason") && i + 1 < argc) {
            reason = argv[++i];
        } else if (!strcmp(argv[i], "--by") && i + 1 < argc) {
            by = argv[++i];
        } else if (!id && parse_id(argv[i], &id)) {
            continue;
        } else {
            fprintf(stderr, "abusedesk incident: unexpected argument '%s'\n", argv[i]);
            incident_usage(stderr);
            return EXIT_USAGE;
        }
    }
    bool show = !strcmp(action, "show");
    if (!show && strcmp(action, "note") && strcmp(action, "resolve") && strcmp(action, "dismiss")) {
        fprintf(stderr, "abusedesk incident: unknown action '%s'\n", action);
        incident_usage(stderr);
        return EXIT_USAGE;
    }
    if (!id) {
        fprintf(stderr, "abusedesk incident %s: needs an incident ID\n", action);
        return EXIT_USAGE;
    }
    struct store *st = NULL;
    int rc = desk_open(cli, &st);
    if (rc)
        return rc;
    struct ad_err err = { 0 };
    if (show) {
        json_t *o = NULL;
        if (incident_json(&cli->cfg, st, id, now_s(), &o, &err) != 0) {
            fprintf(stderr, "abusedesk incident show: %s\n", err.msg);
            rc = exit_for(&err);
        } else if (json) {
            char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
            printf("%s\n", s);
            free(s);
        } else {
            print_incident(o);
        }
        json_decref(o);
    } else {
        if (!by)
            by = g_get_user_name();
        if ((rc = store_begin(st, &err)) == 0) {
            rc = incident_act(st, id, action, by, reason, now_s(), &err);
            if (rc == 0)
                rc = store_commit(st, &err);
            else
                store_rollback(st);
        }
        if (rc) {
            fprintf(stderr, "abusedesk incident %s: %s\n", action, err.msg);
            rc = exit_for(&err);
        } else {
            printf("incident %lld: %s recorded\n", (long long)id, action);
        }
    }
    store_close(st);
    return rc;
}

int cmd_process(struct cli *cli, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: abusedesk [GLOBAL OPTIONS] process\n\n"
                   "Attributes, scores and files into incidents every stored report that was\n"
                   "not processed yet (normally `ingest` does this at once; a report whose\n"
                   "processing failed is kept and retried here).\n");
            return 0;
        }
        fprintf(stderr, "abusedesk process: unknown option '%s'\n", argv[i]);
        return EXIT_USAGE;
    }
    struct store *st = NULL;
    int rc = desk_open(cli, &st);
    if (rc)
        return rc;
    struct ad_err err = { 0 };
    size_t n = 0;
    if (incident_process_pending(&cli->cfg, st, &cli->log, &n, &err) != 0) {
        fprintf(stderr, "abusedesk process: %s\n", err.msg);
        rc = exit_for(&err);
    }
    printf("process: %zu reports processed\n", n);
    store_close(st);
    return rc;
}

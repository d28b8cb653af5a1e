/*
 * cmd_desk.c: the abuse team's commands: `abusedesk explain REPORT_ID` (the
 * attribution evidence and every score term with its configuration key),
 * `abusedesk incidents` (the queue), `abusedesk incident show|note|resolve|dismiss
 * ID` and `abusedesk process` (reports stored but not processed yet). Output is
 * text for people or, with --json, one object per line. Everything in the text
 * output that came from a mail or from the customer directory (subjects,
 * addresses, evidence, notes, audit details, error messages that quote them) is
 * passed through textsafe_terminal() first, so that a complaint cannot send
 * escape sequences to the operator's terminal; --json output is left to
 * jansson's escaping, for programs.
 */
#include <glib.h>
#include <sodium.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "act/held.h"
#include "act/lifecycle.h"
#include "act/password.h"
#include "act/outbox.h"
#include "incident/incident.h"
#include "incident/queue.h"
#include "intake/intake.h"
#include "store/store.h"
#include "store/store_locks.h"
#include "store/store_stats.h"
#include "store/store_held.h"
#include "util/fsutil.h"
#include "util/textsafe.h"

static int exit_for(const struct ad_err *err)
{
    switch (err->code) {
    case AD_ERR_BUSY:
        return EXIT_TEMPFAIL;
    case AD_ERR_NOTFOUND:
        return EXIT_NOTFOUND;
    case AD_ERR_REFUSED:
        return EXIT_REFUSED;
    case AD_ERR_USAGE:
        return EXIT_USAGE;
    default:
        return EXIT_SOFTWARE;
    }
}

/* Who acts, for the audit log: the person behind sudo, else the login. */
static const char *default_by(void)
{
    const char *u = g_getenv("SUDO_USER");
    return u && *u ? u : g_get_user_name();
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

/* Escapes for the terminal, in place, every string in v (objects and arrays
 * recursively), before the text output prints it. v must be ours to change. */
static void json_for_terminal(json_t *v)
{
    const char *key;
    size_t i;
    json_t *e;
    if (json_is_string(v)) {
        if (!textsafe_is_clean_terminal(json_string_value(v))) {
            char *t = textsafe_terminal(json_string_value(v));
            json_string_set(v, t);
            g_free(t);
        }
    } else if (json_is_object(v)) {
        json_object_foreach(v, key, e)
            json_for_terminal(e);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, e)
            json_for_terminal(e);
    }
}

/* Prints "abusedesk WHAT: MSG" to stderr with MSG escaped: store and lifecycle
 * messages can quote a subject or a directory address. */
static void print_err(const char *what, const char *msg)
{
    char *m = textsafe_terminal(msg);
    fprintf(stderr, "abusedesk %s: %s\n", what, m);
    g_free(m);
}

/* ---- explain ------------------------------------------------------------ */

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
    int rc = cli_open_store(cli, &st);
    if (rc)
        return rc;
    struct ad_err err = { 0 };
    json_t *o = NULL;
    if (incident_explain_json(&cli->cfg, st, id, now_s(), &o, &err) != 0) {
        if (err.code == AD_ERR_NOTFOUND)
            fprintf(stderr, "abusedesk explain: no such report\n");
        else
            print_err("explain", err.msg);
        rc = exit_for(&err);
        goto out;
    }
    json_t *senders = json_object_get(o, "senders");
    json_t *incs = json_object_get(o, "incidents");
    rc = 0;

    if (json) {
        char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
        printf("%s\n", s);
        free(s);
        goto out;
    }
    json_for_terminal(o);
    const char *ftype = json_string_value(json_object_get(o, "feedback_type"));
    printf("Report %lld: %s%s%s, received %s\n", (long long)id, js(o, "kind"),
           ftype ? " / " : "", ftype ? ftype : "", js(o, "received_at"));
    if (json_string_value(json_object_get(o, "subject")))
        printf("  Subject: %s\n", js(o, "subject"));
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
out:
    json_decref(o);
    store_close(st);
    return rc;
}

/* ---- incidents ---------------------------------------------------------- */

static void list_print(bool json, json_t *o)
{
    int64_t id = json_integer_value(json_object_get(o, "id"));
    if (json) {
        json_t *sm = incident_summary(o);
        char *s = json_dumps(sm, JSON_COMPACT | JSON_REAL_PRECISION(6) | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(sm);
    } else {
        json_for_terminal(o);
        json_t *subj = json_object_get(o, "subjects");
        const char *first = json_string_value(json_array_get(subj, 0));
        printf("%5lld  %-16s %-8s %-8s %-34.34s %-10s %8.2f %5lld %-6s %s\n", (long long)id,
               js(o, "state"), js(o, "stage"), js(o, "subject_kind"), js(o, "subject"),
               js(o, "customer_id"), json_real_value(json_object_get(o, "score")),
               (long long)json_integer_value(json_object_get(o, "complaints")),
               json_is_true(json_object_get(o, "repeat_offender")) ? "yes" : "-",
               first ? first : "");
    }
}

static bool parse_time(const char *s, int64_t *out);

static void incidents_usage(FILE *f)
{
    fprintf(f, "usage: abusedesk [GLOBAL OPTIONS] incidents [--state STATE | --all] [--json]\n"
               "         [--customer ID] [--account ACCOUNT] [--kind KIND] [--stage STAGE]\n"
               "         [--since TIME] [--until TIME] [--sort id|score|complaints|opened]\n"
               "         [--limit N]\n\n"
               "Lists incidents, newest first. Without options: the open ones (every state\n"
               "but resolved, dismissed and merged). --state STATE shows one state (open,\n"
               "alerted, locked, customer_notified, customer_replied, resolved, dismissed,\n"
               "merged), --all every incident. Filters: the customer id, the account (the\n"
               "sender or the incident's account), the kind (account, script, customer, ip,\n"
               "domain: a joe job), the stage (observe, alert, lock), opened since/until\n"
               "TIME (ISO 8601 or Unix seconds). --sort orders by id (newest first, the\n"
               "default), score or complaints (highest first) or opening time; --limit\n"
               "prints the first N. --json prints one object per line with id, state,\n"
               "stage, subject_kind, subject, customer_id, score, complaints, subjects,\n"
               "providers, first_seen, last_seen, history. The web API's GET\n"
               "/api/v1/incidents takes the same filters as query parameters.\n");
}

int cmd_incidents(struct cli *cli, int argc, char **argv)
{
    bool json = false;
    struct incident_filter f;
    incident_filter_init(&f);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            incidents_usage(stdout);
            return 0;
        } else if (!strcmp(o, "--json")) {
            json = true;
            continue;
        } else if (!strcmp(o, "--all")) {
            f.state = NULL;
            continue;
        }
        if (!v) {
            fprintf(stderr, "abusedesk incidents: unknown option or missing value '%s'\n", o);
            incidents_usage(stderr);
            return EXIT_USAGE;
        }
        i++;
        const char *bad = NULL;
        if (strncmp(o, "--", 2) != 0 || incident_filter_set(&f, o + 2, v, &bad) != 0) {
            if (!bad) {
                fprintf(stderr, "abusedesk incidents: unknown option '%s'\n", o);
                incidents_usage(stderr);
                return EXIT_USAGE;
            }
            char *t = textsafe_terminal(v);
            fprintf(stderr, "abusedesk incidents: %s expects %s, got '%s'\n", o, bad, t);
            g_free(t);
            return EXIT_USAGE;
        }
    }
    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc)
        return rc;
    struct ad_err err = { 0 };
    GPtrArray *rows = NULL;
    if (incident_list(&cli->cfg, st, &f, now_s(), &rows, &err) != 0) {
        print_err("incidents", err.msg);
        rc = exit_for(&err);
        store_close(st);
        return rc;
    }
    if (!json)
        printf("%5s  %-16s %-8s %-8s %-34s %-10s %8s %5s %-6s %s\n", "ID", "STATE", "STAGE", "KIND",
               "SENDER", "CUSTOMER", "SCORE", "COMPL", "REPEAT", "SUBJECT (most frequent)");
    for (guint k = 0; k < rows->len; k++)
        list_print(json, g_ptr_array_index(rows, k));
    if (!json && rows->len == 0)
        printf("(no %s incidents)\n", f.state ? f.state : "");
    g_ptr_array_free(rows, TRUE);
    store_close(st);
    return 0;
}

static void flush_now(struct cli *cli, struct store *st);

/* After an account's incident ended, inside its transaction: the held-mail
 * request the lifecycle wrote ([held] enabled) becomes a deletion with
 * --delete-held, and the audit log says which. */
static int held_decide(struct store *st, int64_t id, bool delete_held, const char *by,
                       struct ad_err *err)
{
    int64_t n = 0;
    int rc = store_held_retarget(st, id, delete_held ? "delete" : "release", &n, err);
    if (rc == 0 && n > 0)
        rc = incident_audit(st, id, 0, by, "held-mail", delete_held
                                                            ? "held mail to be deleted"
                                                            : "held mail to be released", err);
    return rc;
}

/* Carries out pending held-mail requests at once when it can (as root, with
 * postsuper); otherwise they wait for `abusedesk held run`. */
static void held_now(struct cli *cli, struct store *st)
{
    if (!cli->cfg.held_enabled)
        return;
    size_t done = 0, msgs = 0;
    struct ad_err err = { 0 };
    if (held_process(&cli->cfg, st, NULL, now_s(), &cli->log, &done, &msgs, &err) != 0) {
        char *m = textsafe_terminal(err.msg);
        fprintf(stderr, "abusedesk: held mail: %s (left pending: abusedesk held run, as root)\n",
                m);
        g_free(m);
    } else if (done) {
        printf("held mail: %zu message%s released or deleted\n", msgs, msgs == 1 ? "" : "s");
    }
}

/* Prints the incident for people; escapes o's strings for the terminal first. */
static void print_incident(json_t *o)
{
    size_t i;
    json_t *e;
    json_for_terminal(o);
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
    if (json_array_size(json_object_get(o, "replies"))) {
        printf("  Replies:\n");
        json_array_foreach(json_object_get(o, "replies"), i, e)
            printf("    #%-6lld %s  %-10s %-30.30s %s\n",
                   (long long)json_integer_value(json_object_get(e, "report_id")), js(e, "at"),
                   js(e, "verdict"), js(e, "from"), js(e, "subject"));
    }
    if (json_array_size(json_object_get(o, "notices"))) {
        printf("  Mails:\n");
        json_array_foreach(json_object_get(o, "notices"), i, e)
            printf("    %-8s %-20s %-8s %s\n", js(e, "to_kind"), js(e, "template"),
                   js(e, "status"), js(e, "rcpt"));
    }
    printf("  Audit log:\n");
    json_array_foreach(json_object_get(o, "audit"), i, e)
        printf("    %s  %-10s %-11s %s\n", js(e, "at"), js(e, "actor"), js(e, "action"),
               js(e, "detail"));
}

/* --brief: a 300-complaint burst must not print 600 lines: the first subjects,
 * the newest reports and audit entries; says what was left out. */
static bool trim_array(json_t *o, const char *key, size_t keep, bool newest)
{
    json_t *a = json_object_get(o, key);
    size_t n = json_array_size(a);
    if (n <= keep)
        return false;
    if (newest)
        for (size_t k = 0; k < n - keep; k++)
            json_array_remove(a, 0);
    else
        while (json_array_size(a) > keep)
            json_array_remove(a, keep);
    return true;
}

static void incident_usage(FILE *f)
{
    fprintf(f, "usage: abusedesk [GLOBAL OPTIONS] incident show ID [--json | --brief]\n"
               "       abusedesk [GLOBAL OPTIONS] incident lock ID [--no-notify] [--reason TEXT] [--by NAME]\n"
               "       abusedesk [GLOBAL OPTIONS] incident notify ID [--case compromised|script|joejob]\n"
               "                 [--to ADDRESS] [--by NAME]\n"
               "       abusedesk [GLOBAL OPTIONS] incident unlock ID [--force] [--reason TEXT] [--by NAME]\n"
               "                 [--delete-held]\n"
               "       abusedesk [GLOBAL OPTIONS] incident dismiss ID... --reason TEXT [--by NAME]\n"
               "                 [--delete-held]\n"
               "       abusedesk [GLOBAL OPTIONS] incident resolve ID... [--reason TEXT] [--by NAME]\n"
               "                 [--delete-held]\n"
               "       abusedesk [GLOBAL OPTIONS] incident note ID --reason TEXT [--by NAME]\n"
               "       abusedesk [GLOBAL OPTIONS] incident merge ID OTHER_ID... [--by NAME]\n\n"
               "show: the alert for the abuse team: customer, initial score, complaints,\n"
               "subject lines (most frequent first), providers, manual share, first and\n"
               "last complaint, sums per window, attribution evidence, earlier incidents of\n"
               "the same customer and sender, the reports and the audit log.\n\n"
               "The lifecycle: open -> alerted -> locked -> customer_notified ->\n"
               "customer_replied -> resolved, or dismissed (a false alarm). Refused\n"
               "transitions say which states allow them.\n"
               "  lock     lock the account or script (the policy server refuses its mail,\n"
               "           [act] lock_command and webhook_url are called) and notify the\n"
               "           customer at the contact address (not the locked mailbox)\n"
               "  notify   send the customer notice again, or the joe-job notice (no lock);\n"
               "           --case picks the notice, --to ADDRESS (one local@domain address)\n"
               "           sends it there instead of the directory's contact address, e.g.\n"
               "           when that is the locked mailbox itself\n"
               "  unlock   unlock and resolve; a compromised mailbox needs a password change\n"
               "           after the lock that does not reuse the leaked password (see\n"
               "           abusedesk account password-changed), or --force with a reason\n"
               "  dismiss  a false alarm: releases any lock, closes; needs a reason\n"
               "  resolve  close an incident that locked nothing\n"
               "  note     add a note to the audit log\n"
               "  merge    one incident per sender: ID takes over the reports, replies,\n"
               "           mails and locks of the others (of the same customer), which end\n"
               "           in state merged\n"
               "Every action is audited with --by (default: SUDO_USER, else the login). Mails and hooks\n"
               "are queued with the action and delivered right after it (abusedesk outbox).\n"
               "With [held] enabled, unlock, dismiss and resolve of an account's incident\n"
               "release its mail held by Postfix (--delete-held: delete it instead), at once\n"
               "when run as root, else by abusedesk held run (see abusedesk held --help).\n");
}

/* The --to of `incident notify`: one addr-spec local@domain.tld, checked
 * minimally: at most 254 bytes, valid UTF-8 (internationalised addresses are
 * fine), exactly one '@' after a local part of 1..64 bytes that neither starts
 * nor ends with a dot nor has two in a row, a domain of at least two non-empty
 * labels that do not start or end with '-', a last label of two or more
 * characters, and none of: white space, control, bidi or invisible characters,
 * or the characters of a display form or a list (< > , ; : " ( ) [ ] \). */
static bool valid_to_address(const char *s)
{
    size_t n = strlen(s);
    if (n < 6 || n > 254 || !g_utf8_validate(s, -1, NULL) || !textsafe_is_clean_terminal(s))
        return false;
    for (const char *p = s; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (c <= ' ' || g_unichar_isspace(c) || (c < 0x80 && strchr("<>,;:\"()[]\\", (int)c)))
            return false;
    }
    const char *at = strchr(s, '@');
    if (!at || strchr(at + 1, '@') || at == s || at - s > 64 || s[0] == '.' || at[-1] == '.')
        return false;
    for (const char *p = s; p + 1 < at; p++)
        if (p[0] == '.' && p[1] == '.')
            return false;
    char **labels = g_strsplit(at + 1, ".", -1);
    guint n_labels = g_strv_length(labels);
    bool ok = n_labels >= 2 && g_utf8_strlen(labels[n_labels - 1], -1) >= 2;
    for (guint k = 0; ok && k < n_labels; k++) {
        size_t l = strlen(labels[k]);
        ok = l > 0 && l <= 63 && labels[k][0] != '-' && labels[k][l - 1] != '-';
    }
    g_strfreev(labels);
    return ok;
}

int cmd_incident(struct cli *cli, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        incident_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *action = argv[1];
    bool json = false, force = false, no_notify = false, brief = false, delete_held = false;
    const char *reason = NULL, *by = NULL, *case_name = NULL, *to = NULL;
    int64_t id = 0;
    GArray *others = g_array_new(FALSE, FALSE, sizeof(int64_t));
    int64_t other = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            incident_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--brief")) {
            brief = true;
        } else if (!strcmp(argv[i], "--force")) {
            force = true;
        } else if (!strcmp(argv[i], "--no-notify")) {
            no_notify = true;
        } else if (!strcmp(argv[i], "--delete-held")) {
            delete_held = true;
        } else if (!strcmp(argv[i], "--case") && i + 1 < argc) {
            case_name = argv[++i];
        } else if (!strcmp(argv[i], "--to") && i + 1 < argc) {
            to = argv[++i];
        } else if (!strcmp(argv[i], "--reason") && i + 1 < argc) {
            reason = argv[++i];
        } else if (!strcmp(argv[i], "--by") && i + 1 < argc) {
            by = argv[++i];
        } else if (!id && parse_id(argv[i], &id)) {
            continue;
        } else if (id && (!strcmp(action, "merge") || !strcmp(action, "dismiss")
                          || !strcmp(action, "resolve"))
                   && parse_id(argv[i], &other)) {
            g_array_append_val(others, other);
        } else {
            fprintf(stderr, "abusedesk incident: unexpected argument '%s'\n", argv[i]);
            incident_usage(stderr);
            g_array_free(others, TRUE);
            return EXIT_USAGE;
        }
    }
    if (!strcmp(action, "merge") && others->len == 0) {
        fprintf(stderr, "abusedesk incident merge: needs ID and at least one OTHER_ID\n");
        g_array_free(others, TRUE);
        return EXIT_USAGE;
    }
    bool show = !strcmp(action, "show");
    static const char *const acts[] = { "note",   "resolve", "dismiss", "lock",
                                        "unlock", "notify",  "merge" };
    bool known = show;
    for (size_t k = 0; k < G_N_ELEMENTS(acts); k++)
        known = known || !strcmp(action, acts[k]);
    if (!known) {
        char *a = textsafe_terminal(action);
        fprintf(stderr, "abusedesk incident: unknown action '%s'\n", a);
        g_free(a);
        incident_usage(stderr);
        g_array_free(others, TRUE);
        return EXIT_USAGE;
    }
    if (to && strcmp(action, "notify") != 0) {
        fprintf(stderr, "abusedesk incident %s: --to applies to notify only\n", action);
        incident_usage(stderr);
        return EXIT_USAGE;
    }
    if (to && !valid_to_address(to)) {
        char *t = textsafe_terminal(to);
        fprintf(stderr, "abusedesk incident notify: --to needs one address local@domain.tld "
                        "(no spaces, control characters or <>, at most 254 bytes), got '%s'\n",
                t);
        g_free(t);
        return EXIT_USAGE;
    }
    if (!id) {
        fprintf(stderr, "abusedesk incident %s: needs an incident ID\n", action);
        return EXIT_USAGE;
    }
    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc)
        return rc;
    struct ad_err err = { 0 };
    if (show) {
        json_t *o = NULL;
        if (incident_json(&cli->cfg, st, id, now_s(), &o, &err) != 0) {
            print_err("incident show", err.msg);
            rc = exit_for(&err);
        } else if (json) {
            char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
            printf("%s\n", s);
            free(s);
        } else {
            bool cut = false;
            if (brief) {
                cut |= trim_array(o, "subject_counts", 5, false);
                cut |= trim_array(o, "reports", 8, true);
                cut |= trim_array(o, "audit", 10, true);
            }
            print_incident(o);
            if (cut)
                printf("  (--brief: the first subject lines, the newest reports and audit "
                       "entries; without --brief: all)\n");
        }
        json_decref(o);
    } else {
        if (!by)
            by = default_by();
        struct lifecycle lc = { &cli->cfg, st, &cli->log, now_s() };
        bool bulk = !strcmp(action, "dismiss") || !strcmp(action, "resolve");
        if (bulk && others->len) {
            /* incident dismiss|resolve ID...: each on its own; the first failure
             * decides the exit status, the others are still done. */
            g_array_prepend_val(others, id);
            int first_rc = 0;
            for (guint k = 0; k < others->len; k++) {
                int64_t one = g_array_index(others, int64_t, k);
                struct ad_err e1 = { 0 };
                int r1 = store_begin(st, &e1);
                if (r1 == 0) {
                    r1 = !strcmp(action, "dismiss") ? lifecycle_dismiss(&lc, one, by, reason, &e1)
                                                    : lifecycle_resolve(&lc, one, by, reason, &e1);
                    if (r1 == 0)
                        r1 = held_decide(st, one, delete_held, by, &e1);
                    if (r1 == 0)
                        r1 = store_commit(st, &e1);
                    else
                        store_rollback(st);
                }
                if (r1) {
                    char *what = g_strdup_printf("incident %s %lld", action, (long long)one);
                    print_err(what, e1.msg);
                    g_free(what);
                    if (!first_rc)
                        first_rc = exit_for(&e1);
                } else {
                    printf("incident %lld: %s recorded\n", (long long)one, action);
                }
            }
            flush_now(cli, st);
            held_now(cli, st);
            store_close(st);
            g_array_free(others, TRUE);
            return first_rc;
        }
        if ((rc = store_begin(st, &err)) == 0) {
            if (!strcmp(action, "lock"))
                rc = lifecycle_lock(&lc, id, by, reason, !no_notify, &err);
            else if (!strcmp(action, "unlock"))
                rc = lifecycle_unlock(&lc, id, by, reason, force, &err);
            else if (!strcmp(action, "notify"))
                rc = lifecycle_notify(&lc, id, by, case_name, to, &err);
            else if (!strcmp(action, "dismiss"))
                rc = lifecycle_dismiss(&lc, id, by, reason, &err);
            else if (!strcmp(action, "resolve"))
                rc = lifecycle_resolve(&lc, id, by, reason, &err);
            else if (!strcmp(action, "merge"))
                rc = lifecycle_merge(&lc, id, (const int64_t *)(void *)others->data, others->len,
                                     by, &err);
            else
                rc = lifecycle_note(&lc, id, by, reason, &err);
            if (rc == 0 && (!strcmp(action, "unlock") || !strcmp(action, "dismiss")
                            || !strcmp(action, "resolve")))
                rc = held_decide(st, id, delete_held, by, &err);
            if (rc == 0)
                rc = store_commit(st, &err);
            else
                store_rollback(st);
        }
        if (rc) {
            char *what = g_strdup_printf("incident %s", action);
            print_err(what, err.msg);
            g_free(what);
            rc = exit_for(&err);
        } else {
            json_t *o = NULL;
            const char *state = "?";
            if (incident_json(&cli->cfg, st, id, now_s(), &o, &err) == 0)
                state = js(o, "state");
            printf("incident %lld: %s recorded, state %s\n", (long long)id, action, state);
            json_decref(o);
            flush_now(cli, st);
            held_now(cli, st);
        }
    }
    store_close(st);
    g_array_free(others, TRUE);
    return rc;
}

/* ---- outbox and accounts ------------------------------------------------ */

static void flush_now(struct cli *cli, struct store *st)
{
    struct ad_err err = { 0 };
    struct outbox_stats s;
    if (outbox_flush(&cli->cfg, st, &cli->log, now_s(), &s, &err) != 0) {
        char *m = textsafe_terminal(err.msg); /* can quote an SMTP server's reply */
        fprintf(stderr, "abusedesk: outbox: %s (left queued)\n", m);
        g_free(m);
    } else if (s.mails_sent + s.mails_retry + s.mails_failed + s.hooks_done + s.hooks_retry
               + s.hooks_failed) {
        printf("outbox: %zu mails sent, %zu hooks done; %zu waiting for a retry, %zu failed\n",
               s.mails_sent, s.hooks_done, s.mails_retry + s.hooks_retry,
               s.mails_failed + s.hooks_failed);
    }
}

static int print_item(json_t *o, void *ctx)
{
    bool json = *(bool *)ctx;
    if (json) {
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        return 0;
    }
    json_for_terminal(o);
    json_t *inc = json_object_get(o, "incident_id");
    char ib[32] = "-";
    if (json_is_integer(inc))
        g_snprintf(ib, sizeof ib, "#%lld", (long long)json_integer_value(inc));
    printf("%-4s %5lld  %-7s %3lld  %-8s %-20s %-32.32s %s%s%s\n", js(o, "type"),
           (long long)json_integer_value(json_object_get(o, "id")), js(o, "state"),
           (long long)json_integer_value(json_object_get(o, "attempts")), ib,
           js(o, "next_at"), js(o, "to"), js(o, "what"),
           json_string_value(json_object_get(o, "last_error")) ? "  error: " : "",
           json_string_value(json_object_get(o, "last_error")) ? js(o, "last_error") : "");
    return 0;
}

int cmd_outbox(struct cli *cli, int argc, char **argv)
{
    bool json = false, all = false, flush = false;
    long loop = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: abusedesk [GLOBAL OPTIONS] outbox [--all] [--json]\n"
                   "       abusedesk [GLOBAL OPTIONS] outbox --flush [--loop SECONDS]\n\n"
                   "Lists the mails (customer notifications, team alerts) and hook calls\n"
                   "(lock and unlock commands, webhooks) that wait to be delivered, with their\n"
                   "attempts, next try and last error; --all also what was delivered or failed.\n"
                   "--flush delivers what is due now (for cron); with --loop it keeps doing so\n"
                   "every SECONDS until stopped. Failed deliveries are retried with doubling\n"
                   "waits ([act] retry_min .. retry_max) and given up after [act] give_up_after.\n");
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--all")) {
            all = true;
        } else if (!strcmp(argv[i], "--flush")) {
            flush = true;
        } else if (!strcmp(argv[i], "--loop") && i + 1 < argc) {
            char *end = NULL;
            loop = strtol(argv[++i], &end, 10);
            if (*end || loop < 1) {
                fprintf(stderr, "abusedesk outbox: --loop needs a number of seconds >= 1\n");
                return EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "abusedesk outbox: unknown option '%s'\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc)
        return rc;
    struct ad_err err = { 0 };
    if (flush) {
        do {
            struct outbox_stats s;
            if (outbox_flush(&cli->cfg, st, &cli->log, now_s(), &s, &err) != 0) {
                print_err("outbox", err.msg);
                rc = exit_for(&err);
                if (!loop)
                    break;
            } else if (!loop || s.mails_sent + s.hooks_done + s.mails_failed + s.hooks_failed) {
                printf("outbox: %zu mails sent, %zu hooks done; %zu waiting for a retry, %zu "
                       "failed\n",
                       s.mails_sent, s.hooks_done, s.mails_retry + s.hooks_retry,
                       s.mails_failed + s.hooks_failed);
                fflush(stdout);
            }
            if (loop)
                g_usleep((gulong)loop * G_USEC_PER_SEC);
        } while (loop);
    } else {
        if (!json)
            printf("%-4s %5s  %-7s %3s  %-8s %-20s %-32s %s\n", "TYPE", "ID", "STATE", "TRY",
                   "INCIDENT", "NEXT TRY", "TO", "WHAT");
        if (outbox_each(st, all, print_item, &json, &err) != 0) {
            print_err("outbox", err.msg);
            rc = exit_for(&err);
        }
    }
    store_close(st);
    return rc;
}

static bool parse_time(const char *s, int64_t *out)
{
    return incident_parse_time(s, out);
}

bool cli_parse_time(const char *s, int64_t *out)
{
    return parse_time(s, out);
}

const char *cli_default_by(void)
{
    return default_by();
}

static int account_lock(struct cli *cli, int argc, char **argv)
{
    const char *account = NULL, *reason = NULL, *by = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--reason") && i + 1 < argc)
            reason = argv[++i];
        else if (!strcmp(argv[i], "--by") && i + 1 < argc)
            by = argv[++i];
        else if (!account && argv[i][0] != '-')
            account = argv[i];
        else {
            fprintf(stderr, "abusedesk account lock: unexpected argument '%s'\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!account || !reason) {
        fprintf(stderr, "abusedesk account lock: needs an ACCOUNT and --reason TEXT\n");
        return EXIT_USAGE;
    }
    if (!by)
        by = default_by();
    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc)
        return rc;
    struct ad_err err = { 0 };
    struct lifecycle lc = { &cli->cfg, st, &cli->log, now_s() };
    int64_t id = 0;
    if ((rc = store_begin(st, &err)) == 0) {
        rc = lifecycle_policy_event(&lc, account, INCIDENT_STAGE_LOCK, reason, true, by, &id, &err);
        if (rc == 0)
            rc = store_commit(st, &err);
        else
            store_rollback(st);
    }
    if (rc) {
        fprintf(stderr, "abusedesk account lock: %s\n", err.msg);
        rc = exit_for(&err);
    } else {
        printf("account %s: locked, incident %lld\n", account, (long long)id);
        flush_now(cli, st);
    }
    store_close(st);
    return rc;
}

static void account_usage(FILE *f)
{
    fprintf(f,
            "usage: abusedesk [GLOBAL OPTIONS] account lock ACCOUNT --reason TEXT [--by NAME]\n"
            "       abusedesk [GLOBAL OPTIONS] account password-changed ACCOUNT [--at TIME]\n"
            "                 --password-stdin | --fingerprint F\n"
            "       abusedesk [GLOBAL OPTIONS] account check-password ACCOUNT --password-stdin\n\n"
            "lock: locks an account now (the open incident of the account is used, or one at\n"
            "the lock stage opened; the policy server refuses its mail within a second; hooks\n"
            "and the customer notice as for any lock).\n\n"
            "password-changed: the provider's panel changed the password of ACCOUNT (at TIME:\n"
            "ISO 8601 or Unix seconds; default now). With --password-stdin the new password\n"
            "is read from standard input (one line) and only a keyed argon2id fingerprint\n"
            "of it is kept ([act] password_key); it is never stored, logged or shown. A\n"
            "password the account had before its lock is refused as reuse of the leaked\n"
            "password (exit 65). Locked incidents of the account note the change and may\n"
            "unlock by themselves ([act] auto_unlock). --fingerprint F instead takes an\n"
            "identifier the panel derives itself (it must be the same for the same\n"
            "password: a salted hash such as {SHA512-CRYPT} never is).\n\n"
            "check-password: asks before the panel accepts a new password: exit 0 when it\n"
            "may be used, 65 when it is a leaked password of the account (\"known to the\n"
            "attackers, choose another\"). Changes nothing.\n\n"
            "Exit status: 0 done or allowed; 65 refused (leaked password); 67 the account is\n"
            "not in the customer directory; 64 usage; 75 database busy. See doc/passwords.md.\n");
}

int cmd_account(struct cli *cli, int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "lock"))
        return account_lock(cli, argc, argv);
    bool check = argc >= 2 && !strcmp(argv[1], "check-password");
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")
        || (strcmp(argv[1], "password-changed") && !check)) {
        FILE *f = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? stdout
                                                                                      : stderr;
        account_usage(f);
        return f == stdout ? 0 : EXIT_USAGE;
    }
    const char *account = NULL, *fp = NULL;
    bool from_stdin = false;
    int64_t at = now_s();
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            account_usage(stdout);
            return 0;
        } else if (!check && !strcmp(argv[i], "--at") && i + 1 < argc) {
            if (!parse_time(argv[++i], &at)) {
                fprintf(stderr, "abusedesk account: --at: expected ISO 8601 or Unix seconds, "
                                "got '%s'\n", argv[i]);
                return EXIT_USAGE;
            }
        } else if (!check && !strcmp(argv[i], "--fingerprint") && i + 1 < argc) {
            fp = argv[++i];
        } else if (!strcmp(argv[i], "--password-stdin")) {
            from_stdin = true;
        } else if (!account && argv[i][0] != '-') {
            account = argv[i];
        } else {
            /* Not echoed: it may be a password typed where it does not belong. */
            fprintf(stderr, "abusedesk account: unexpected argument %d (not shown: give a "
                            "password on standard input with --password-stdin)\n", i);
            return EXIT_USAGE;
        }
    }
    if (!account) {
        fprintf(stderr, "abusedesk account %s: needs an ACCOUNT\n", argv[1]);
        return EXIT_USAGE;
    }
    if (check && !from_stdin) {
        fprintf(stderr, "abusedesk account check-password: needs --password-stdin\n");
        return EXIT_USAGE;
    }
    if (from_stdin && fp) {
        fprintf(stderr, "abusedesk account: --password-stdin and --fingerprint exclude each "
                        "other\n");
        return EXIT_USAGE;
    }
    struct ad_err err = { 0 };
    char digest[PASSWORD_FP_HEX] = "";
    if (from_stdin) {
        char *pw = NULL;
        size_t len = 0;
        int prc = password_read(0, &pw, &len, &err);
        if (prc == 0)
            prc = password_fingerprint(&cli->cfg, account, pw, len, digest, &err);
        password_buf_free(pw);
        if (prc) {
            fprintf(stderr, "abusedesk account: %s\n", err.msg);
            return prc == AD_ERR_USAGE ? EXIT_USAGE : exit_for(&err);
        }
    }
    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc)
        return rc;
    struct lifecycle lc = { &cli->cfg, st, &cli->log, now_s() };
    bool leaked = false;
    if (check) {
        rc = lifecycle_password_check(&lc, account, digest, &leaked, &err);
    } else if ((rc = store_begin(st, &err)) == 0) {
        rc = from_stdin ? lifecycle_password_changed_digest(&lc, account, at, digest, &err)
                        : lifecycle_password_changed(&lc, account, at, fp, &err);
        /* A refused change is recorded too (and audited): commit it. */
        int crc = rc == 0 || rc == AD_ERR_USAGE ? store_commit(st, &err) : (store_rollback(st), 0);
        if (rc == 0)
            rc = crc;
    }
    sodium_memzero(digest, sizeof digest);
    if (rc == AD_ERR_NOTFOUND) {
        fprintf(stderr, "abusedesk account: %s\n", err.msg);
        rc = EXIT_NOUSER;
    } else if (rc == AD_ERR_USAGE) {
        fprintf(stderr, "abusedesk account: %s\n", err.msg);
        rc = EXIT_DATAERR;
    } else if (rc) {
        fprintf(stderr, "abusedesk account: %s\n", err.msg);
        rc = exit_for(&err);
    } else if (check) {
        char *a = textsafe_terminal(account);
        if (leaked) {
            printf("account %s: refused: this password was used before the lock and is known "
                   "to the attackers; choose another\n", a);
            rc = EXIT_DATAERR;
        } else {
            printf("account %s: password allowed\n", a);
        }
        g_free(a);
    } else {
        char *a = textsafe_terminal(account);
        printf("account %s: password change recorded\n", a);
        g_free(a);
        flush_now(cli, st);
    }
    store_close(st);
    return rc;
}

static volatile sig_atomic_t process_stop;

static void process_on_signal(int sig)
{
    (void)sig;
    process_stop = 1;
}

/* One pass of the desk worker: the policy server's findings, then new reports. */
static int process_once(struct intake *in, size_t *n_reports, size_t *n_events,
                        struct ad_err *err)
{
    *n_reports = *n_events = 0;
    int rc = intake_process_events(in, n_events, err);
    if (rc == 0)
        rc = intake_process_pending(in, n_reports, err);
    return rc;
}

/* ---- locks -------------------------------------------------------------- */

struct locks_ctx {
    bool json;
    size_t n;
};

static int print_lock(const struct store_lock_row *r, void *vctx)
{
    struct locks_ctx *c = vctx;
    char t[32];
    incident_iso(r->locked_at, t);
    c->n++;
    if (c->json) {
        json_t *o = json_pack("{s:I, s:s?, s:s?, s:s?, s:o, s:s, s:s?, s:s?}", "lock_id",
                              (json_int_t)r->id, "subject_kind", r->subject_kind, "subject",
                              r->subject, "customer_id", r->customer_id, "incident_id",
                              r->incident_id ? json_integer(r->incident_id) : json_null(),
                              "locked_at", t, "locked_by", r->locked_by, "reason", r->reason);
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(o);
        return 0;
    }
    char *subj = textsafe_terminal(r->subject), *cust = textsafe_terminal(r->customer_id),
         *by = textsafe_terminal(r->locked_by), *why = textsafe_terminal(r->reason);
    char inc[24];
    if (r->incident_id)
        g_snprintf(inc, sizeof inc, "#%lld", (long long)r->incident_id);
    else
        g_strlcpy(inc, "(filing)", sizeof inc);
    printf("%-7s %-34.34s %-10s %-9s %-20s %-16.16s %s\n", r->subject_kind ? r->subject_kind : "",
           subj, cust, inc, t, by, why);
    g_free(subj);
    g_free(cust);
    g_free(by);
    g_free(why);
    return 0;
}

int cmd_locks(struct cli *cli, int argc, char **argv)
{
    struct locks_ctx c = { false, 0 };
    const char *account = NULL, *customer = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: abusedesk [GLOBAL OPTIONS] locks [--account ACCOUNT] [--customer ID]"
                   " [--json]\n\n"
                   "What is locked right now, newest first: the account or script, the\n"
                   "customer, the incident, when, by whom and why (the internal reason). For\n"
                   "the hotline: --account or --customer narrows it down. Exit 0 also when\n"
                   "nothing is locked (then `abusedesk locks --account X` prints nothing).\n");
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            c.json = true;
        } else if (!strcmp(argv[i], "--account") && i + 1 < argc) {
            account = argv[++i];
        } else if (!strcmp(argv[i], "--customer") && i + 1 < argc) {
            customer = argv[++i];
        } else {
            fprintf(stderr, "abusedesk locks: unknown option '%s'\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc)
        return rc;
    struct ad_err err = { 0 };
    if (!c.json)
        printf("%-7s %-34s %-10s %-9s %-20s %-16s %s\n", "KIND", "LOCKED", "CUSTOMER",
               "INCIDENT", "SINCE", "BY", "REASON");
    if (store_locks_active(st, account, customer, print_lock, &c, &err) != 0) {
        print_err("locks", err.msg);
        rc = exit_for(&err);
    } else if (!c.json && c.n == 0) {
        printf("(nothing locked)\n");
    }
    store_close(st);
    return rc;
}

/* ---- stats -------------------------------------------------------------- */

int cmd_stats(struct cli *cli, int argc, char **argv)
{
    long days = 14;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: abusedesk [GLOBAL OPTIONS] stats [--days N] [--json]\n\n"
                   "What came in and what the desk did, per day (UTC) for the last N days\n"
                   "(default 14): reports stored, complaints counted, incidents opened, locks\n"
                   "set and released, mails sent, notices bounced. The policy server's own\n"
                   "answers are in its log (one line when it stops) and doc/policy.md.\n");
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--days") && i + 1 < argc) {
            char *end = NULL;
            days = strtol(argv[++i], &end, 10);
            if (!end || *end || days < 1 || days > 3660) {
                fprintf(stderr, "abusedesk stats: --days takes 1 to 3660\n");
                return EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "abusedesk stats: unknown option '%s'\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    struct store *st = NULL;
    int rc = cli_open_store(cli, &st);
    if (rc)
        return rc;
    int64_t(*counts)[STATS_N] = g_malloc0(sizeof(int64_t[STATS_N]) * (gsize)days);
    struct ad_err err = { 0 };
    int64_t now = now_s();
    if (store_stats_daily(st, now, (int)days, counts, &err) != 0) {
        print_err("stats", err.msg);
        rc = exit_for(&err);
    } else {
        static const char *const names[STATS_N] = { "reports", "complaints", "incidents", "locks",
                                                    "unlocks", "mails", "bounced" };
        if (!json)
            printf("%-10s %8s %10s %9s %6s %7s %6s %7s\n", "DAY", "REPORTS", "COMPLAINTS",
                   "INCIDENTS", "LOCKS", "UNLOCKS", "MAILS", "BOUNCED");
        int64_t start = (now / 86400 - (days - 1)) * 86400;
        for (long d = 0; d < days; d++) {
            char t[32];
            incident_iso(start + d * 86400, t);
            t[10] = '\0';
            if (json) {
                json_t *o = json_pack("{s:s}", "day", t);
                for (int c = 0; c < STATS_N; c++)
                    json_object_set_new(o, names[c], json_integer(counts[d][c]));
                char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
                printf("%s\n", s);
                free(s);
                json_decref(o);
            } else {
                printf("%-10s %8lld %10lld %9lld %6lld %7lld %6lld %7lld\n", t,
                       (long long)counts[d][0], (long long)counts[d][1], (long long)counts[d][2],
                       (long long)counts[d][3], (long long)counts[d][4], (long long)counts[d][5],
                       (long long)counts[d][6]);
            }
        }
    }
    g_free(counts);
    store_close(st);
    return rc;
}

int cmd_process(struct cli *cli, int argc, char **argv)
{
    long long loop = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: abusedesk [GLOBAL OPTIONS] process [--loop SECONDS]\n\n"
                   "The desk worker: routes every stored report that was not processed yet\n"
                   "(a customer's reply, an auto-reply, a bounce of our notice, a complaint),\n"
                   "attributes, scores and files it into incidents, and files the policy\n"
                   "server's findings (limit hits, anomalies, the locks it decided); the\n"
                   "lifecycle steps that follow (locks, notices, team alerts) are queued in\n"
                   "the outbox, which the delivery worker (abusedesk outbox --flush) sends.\n"
                   "`ingest` only stores. Once and exit, or with --loop every SECONDS until\n"
                   "SIGTERM (abusedesk run starts it so).\n");
            return 0;
        } else if (!strcmp(argv[i], "--loop") && i + 1 < argc) {
            char *end = NULL;
            loop = strtoll(argv[++i], &end, 10);
            if (!end || *end || loop < 1 || loop > 3600) {
                fprintf(stderr, "abusedesk process: --loop takes seconds from 1 to 3600\n");
                return EXIT_USAGE;
            }
            continue;
        }
        fprintf(stderr, "abusedesk process: unknown option '%s'\n", argv[i]);
        return EXIT_USAGE;
    }
    struct intake in;
    intake_init(&in, &cli->cfg, &cli->log);
    struct ad_err err = { 0 };
    size_t n = 0, ne = 0;
    int rc = 0;
    if (!loop) {
        if (process_once(&in, &n, &ne, &err) != 0) {
            fprintf(stderr, "abusedesk process: %s\n", err.msg);
            rc = exit_for(&err);
        }
        printf("process: %zu reports processed, %zu policy findings filed\n", n, ne);
        intake_close(&in);
        return rc;
    }
    signal(SIGTERM, process_on_signal);
    signal(SIGINT, process_on_signal);
    log_msg(&cli->log, LOG_LEVEL_INFO, "desk worker: every %llds", loop);
    while (!process_stop) {
        memset(&err, 0, sizeof err);
        if (process_once(&in, &n, &ne, &err) != 0) {
            log_msg(&cli->log, LOG_LEVEL_WARNING, "desk worker: %s (retrying)", err.msg);
            intake_close(&in); /* reopen on the next pass */
        } else if (n || ne) {
            log_msg(&cli->log, LOG_LEVEL_INFO, "desk worker: %zu reports, %zu policy findings",
                    n, ne);
        }
        for (long long t = 0; t < loop * 10 && !process_stop; t++)
            g_usleep(100000);
    }
    intake_close(&in);
    return 0;
}

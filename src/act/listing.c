/*
 * listing.c: listing incidents and the early warning (see listing.h). Called
 * by the reputation monitor (`abusedesk rbl check`, once or --loop) after the
 * check's results were recorded. Reads the outbound counts, the reports
 * attributed to an address and the reputation alerts through typed store
 * functions (store_outbound_counts.h, store_listing.h); queues team mails
 * through the outbox in the same transaction as the incident change. Text
 * that came from outside (DNS TXT reasons, complaint subjects, SASL logins) is
 * cleaned with textsafe before it reaches a mail. Errors: the store's; a
 * template that cannot be rendered fails the address's transaction (the next
 * round tries again) and is logged.
 */
#include "act/listing.h"

#include <glib.h>
#include <jansson.h>
#include <sodium.h>
#include <string.h>

#include "act/outbox.h"
#include "incident/incident.h"
#include "store/store_listing.h"
#include "store/store_outbound_counts.h"
#include "util/textsafe.h"

#define ACTOR "abusedesk"
#define RANKING_MAX 10
#define EVIDENCE_MAX 500        /* reports read per address */
#define SHOWN_MAX 10            /* complaints and bounces listed in the mail */
#define BOUNCE_ROWS_MAX 200000  /* bounces read for the early warning */
/* Team mails of new listings per check: a list that lists a whole range
 * (UCEPROTECT level 2) must not send the team hundreds of mails at once. */
#define LISTING_MAILS_MAX 20

static const char *const reputation_reasons[] = {
    "blocked", "badreputation", "spamdetected", "policyviolation", "requireptr", NULL,
};

bool listing_reason_counts(const char *reason)
{
    for (const char *const *r = reputation_reasons; reason && *r; r++)
        if (!strcmp(reason, *r))
            return true;
    return false;
}

static char *iso(int64_t t)
{
    GDateTime *dt = g_date_time_new_from_unix_utc(t);
    char *s = dt ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("1970-01-01T00:00:00Z");
    if (dt)
        g_date_time_unref(dt);
    return s;
}

static int64_t iso_unix(const char *s)
{
    GDateTime *dt = s ? g_date_time_new_from_iso8601(s, NULL) : NULL;
    int64_t t = dt ? g_date_time_to_unix(dt) : 0;
    if (dt)
        g_date_time_unref(dt);
    return t;
}

static char *human_duration(long long s)
{
    if (s % 86400 == 0 && s >= 7 * 86400)
        return g_strdup_printf("%lldd", s / 86400);
    if (s % 3600 == 0)
        return g_strdup_printf("%lldh", s / 3600);
    if (s % 60 == 0)
        return g_strdup_printf("%lldm", s / 60);
    return g_strdup_printf("%llds", s);
}

static void put(GHashTable *v, const char *k, char *owned)
{
    g_hash_table_replace(v, g_strdup(k), owned ? owned : g_strdup(""));
}

/* The reputation reasons of a DSN's recipients (parse --json), counted into
 * reasons (name -> count) when given; returns how many recipients have one. */
static size_t bounce_reasons(const char *parsed, GHashTable *reasons)
{
    if (!parsed)
        return 0;
    json_t *o = json_loads(parsed, JSON_DISABLE_EOF_CHECK, NULL);
    size_t n = 0, i;
    json_t *r;
    json_array_foreach(json_object_get(o, "recipients"), i, r)
    {
        const char *reason = json_string_value(json_object_get(r, "reason"));
        if (!listing_reason_counts(reason))
            continue;
        n++;
        if (reasons) {
            gpointer c = g_hash_table_lookup(reasons, reason);
            g_hash_table_replace(reasons, g_strdup(reason), GSIZE_TO_POINTER(GPOINTER_TO_SIZE(c) + 1));
        }
    }
    json_decref(o);
    return n;
}

/* Adds the counts of src (reason -> count) to dst; once: one per reason. */
static void reasons_merge(GHashTable *dst, GHashTable *src, bool once)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, src);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        gpointer c = g_hash_table_lookup(dst, k);
        size_t add = once ? 1 : GPOINTER_TO_SIZE(v);
        g_hash_table_replace(dst, g_strdup(k), GSIZE_TO_POINTER(GPOINTER_TO_SIZE(c) + add));
    }
}

static char *reasons_text(GHashTable *reasons)
{
    GString *g = g_string_new(NULL);
    for (const char *const *r = reputation_reasons; *r; r++) {
        size_t c = GPOINTER_TO_SIZE(g_hash_table_lookup(reasons, *r));
        if (c)
            g_string_append_printf(g, "%s%s %zu", g->len ? ", " : "", *r, c);
    }
    if (!g->len)
        g_string_append(g, "-");
    return g_string_free(g, FALSE);
}

/* ---- the ranking of senders ------------------------------------------------- */

struct ranking {
    GString *text;
    size_t n;
    char *top;                  /* "account alice@..." of the first, or NULL */
};

static void rank_row(const struct store_outbound_total *t, void *ctx)
{
    struct ranking *rk = ctx;
    char *who = textsafe_line(t->sender, 120);
    char *first = iso(t->first_hour), *last = iso(t->last_hour + 3599);
    g_string_append_printf(rk->text, "  %2zu. %-7s %s: %lld mails, %lld recipients (%s .. %s)\n",
                           ++rk->n, t->sender_kind, who, (long long)t->msgs, (long long)t->rcpts,
                           first, last);
    if (!rk->top)
        rk->top = g_strdup_printf("%s %s", t->sender_kind, who);
    g_free(who);
    g_free(first);
    g_free(last);
}

/* ---- the evidence: complaints and reputation bounces ------------------------ */

struct evidence {
    GArray *ids;                /* report ids to link */
    GString *complaints, *bounces;
    size_t n_complaints, n_bounces, shown_c, shown_b;
    GHashTable *reasons;
};

static void evidence_row(const struct store_listing_report *r, void *ctx)
{
    struct evidence *ev = ctx;
    bool dsn = r->kind && !strcmp(r->kind, "dsn");
    GHashTable *reasons = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    size_t nb = dsn ? bounce_reasons(r->parsed, reasons) : 0;
    bool complaint = r->kind && (!strcmp(r->kind, "arf") || !strcmp(r->kind, "abuse-text"));
    if (!complaint && !nb) {
        g_hash_table_destroy(reasons);
        return;
    }
    g_array_append_val(ev->ids, r->id);
    char *subj = textsafe_quote(r->subject ? r->subject : "", NULL, 80);
    char *who = textsafe_line(r->account ? r->account : r->script ? r->script : "-", 80);
    if (complaint) {
        ev->n_complaints++;
        if (ev->shown_c++ < SHOWN_MAX)
            g_string_append_printf(ev->complaints, "  report %lld  %s  %s  sender %s  \"%s\"\n",
                                   (long long)r->id, r->received_at, r->feedback_type ? r->feedback_type : r->kind,
                                   who, subj);
    } else {
        ev->n_bounces++;
        char *rs = reasons_text(reasons);
        reasons_merge(ev->reasons, reasons, false);
        if (ev->shown_b++ < SHOWN_MAX)
            g_string_append_printf(ev->bounces, "  report %lld  %s  %s  sender %s  \"%s\"\n",
                                   (long long)r->id, r->received_at, rs, who, subj);
        g_free(rs);
    }
    g_free(subj);
    g_free(who);
    g_hash_table_destroy(reasons);
}

static char *more_line(GString *g, size_t n, size_t shown)
{
    if (n > shown)
        g_string_append_printf(g, "  ... and %zu more (abusedesk incident show)\n", n - shown);
    if (!g->len)
        g_string_append(g, "  -\n");
    g_string_truncate(g, g->len - 1);
    return g_strdup(g->str);
}

/* ---- opening and closing ---------------------------------------------------- */

static char *zones_text(const struct listing_addr *a)
{
    GString *g = g_string_new(NULL);
    for (size_t i = 0; i < a->n_hits; i++) {
        const struct listing_hit *h = &a->hits[i];
        char *since = iso(h->since);
        char *text = h->text ? textsafe_quote(h->text, NULL, 300) : g_strdup("-");
        g_string_append_printf(g, "  %s%s%s%s: %s%s%s%s since %s\n    \"%s\"\n", h->zone,
                               h->list_name ? " (" : "", h->list_name ? h->list_name : "",
                               h->list_name ? ")" : "", h->codes, h->meaning ? " (" : "",
                               h->meaning ? h->meaning : "", h->meaning ? ")" : "", since, text);
        g_free(since);
        g_free(text);
    }
    g_string_truncate(g, g->len ? g->len - 1 : 0);
    return g_string_free(g, FALSE);
}

static char *delisting_text(const struct listing_addr *a)
{
    GString *g = g_string_new(NULL);
    for (size_t i = 0; i < a->n_hits; i++) {
        const struct listing_hit *h = &a->hits[i];
        if (h->delist_url)
            g_string_append_printf(g, "  %s: %s\n    %s\n", h->list_name ? h->list_name : h->zone,
                                   h->delist_url, h->procedure ? h->procedure : "");
        else
            g_string_append_printf(g, "  %s: a list abusedesk does not know: see the list's own "
                                      "web site for its delisting procedure\n", h->zone);
    }
    g_string_truncate(g, g->len ? g->len - 1 : 0);
    return g_string_free(g, FALSE);
}

static int team_webhook(const struct config *cfg, struct store *st, int64_t id,
                        const char *what, const char *address, int64_t now, struct ad_err *err)
{
    unsigned char rnd[8];
    char rhex[17], key[160];
    if (sodium_init() < 0)
        return ad_err_set(err, AD_ERR_STORE, "libsodium could not be initialised");
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(rhex, sizeof rhex, rnd, sizeof rnd);
    g_snprintf(key, sizeof key, "%s-%lld-%lld-%s", what, (long long)id, (long long)now, rhex);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:I}", "event", "alert", "kind", what, "address",
                           address, "incident_id", (json_int_t)id);
    int rc = outbox_webhook(cfg, st, id, "alert", key, ev, now, err);
    json_decref(ev);
    return rc;
}

static int open_incident(const struct config *cfg, struct store *st, const struct logger *log,
                         int64_t now, const struct listing_addr *a, bool mail,
                         struct ad_err *err)
{
    struct ranking rk = { g_string_new(NULL), 0, NULL };
    struct evidence ev = { g_array_new(FALSE, FALSE, sizeof(int64_t)), g_string_new(NULL),
                           g_string_new(NULL), 0, 0, 0, 0,
                           g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL) };
    GHashTable *v = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    int64_t total = 0, id = 0;
    char *since = iso(now - cfg->rep_blame_window);
    char *window = human_duration(cfg->rep_blame_window);
    int rc = store_begin(st, err);
    if (rc)
        goto out;
    if ((rc = store_listing_find(st, a->address, &id, err)) || id)
        goto done; /* opened meanwhile by another monitor */
    if ((rc = store_outbound_counts_top(st, a->address, now - cfg->rep_blame_window, now,
                                        RANKING_MAX, rank_row, &rk, &total, err)))
        goto fail;
    if ((rc = store_listing_reports(st, a->address, since, NULL, EVIDENCE_MAX, true, evidence_row,
                                    &ev, err)))
        goto fail;
    if ((rc = store_listing_insert(st, a->address, (int64_t)ev.n_complaints, now, &id, err)))
        goto fail;
    for (guint i = 0; i < ev.ids->len && rc == 0; i++)
        rc = store_listing_link(st, id, g_array_index(ev.ids, int64_t, i), err);
    if (rc)
        goto fail;
    GString *zl = g_string_new(NULL);
    for (size_t i = 0; i < a->n_hits; i++)
        g_string_append_printf(zl, "%s%s (%s)", i ? ", " : "", a->hits[i].zone, a->hits[i].codes);
    char *detail = g_strdup_printf(
        "%s listed on %s; most mail in the %s before: %s (%lld mails through the address in "
        "all); %zu complaints, %zu reputation bounces", a->address, zl->str, window,
        rk.top ? rk.top : "nobody counted", (long long)total, ev.n_complaints, ev.n_bounces);
    g_string_free(zl, TRUE);
    rc = incident_audit(st, id, 0, ACTOR, "opened", detail, err);
    log_msg(log, LOG_LEVEL_WARNING, "incident %lld: %s", (long long)id, detail);
    g_free(detail);
    if (rc)
        goto fail;
    if (!mail) {
        rc = incident_audit(st, id, 0, ACTOR, "team-mail-skipped",
                            "more than " G_STRINGIFY(LISTING_MAILS_MAX) " new listings in one "
                            "check: no team mail for this one (abusedesk incidents)", err);
        goto done;
    }
    put(v, "ticket", g_strdup_printf("[%s #%lld]", cfg->ticket_prefix, (long long)id));
    put(v, "incident_id", g_strdup_printf("%lld", (long long)id));
    put(v, "address", g_strdup(a->address));
    put(v, "zones", zones_text(a));
    put(v, "window", g_strdup(window));
    if (!rk.text->len && !g_hostname_is_ip_address(a->address))
        g_string_append(rk.text, "  (a domain: the policy server counts mail per outbound "
                                 "address; see the listings of our addresses)\n");
    else if (!rk.text->len)
        g_string_append(rk.text, "  (the policy server counted no mail through this address: "
                                 "[network] host_addresses, or Postfix's server_address, tells "
                                 "it which address a mail leaves from)\n");
    g_string_truncate(rk.text, rk.text->len - 1);
    put(v, "ranking", g_strdup(rk.text->str));
    put(v, "top_sender", g_strdup(rk.top ? rk.top : "-"));
    put(v, "total_mails", g_strdup_printf("%lld", (long long)total));
    put(v, "n_complaints", g_strdup_printf("%zu", ev.n_complaints));
    put(v, "complaints", more_line(ev.complaints, ev.n_complaints, SHOWN_MAX));
    put(v, "n_bounces", g_strdup_printf("%zu", ev.n_bounces));
    put(v, "bounce_reasons", reasons_text(ev.reasons));
    put(v, "bounces", more_line(ev.bounces, ev.n_bounces, SHOWN_MAX));
    put(v, "delisting", delisting_text(a));
    put(v, "desk_name", g_strdup(cfg->desk_name));
    if (*cfg->abuse_team &&
        (rc = outbox_mail(cfg, st, id, "team", "team_listing", cfg->team_language, v,
                          cfg->abuse_team, cfg->desk_name, now, NULL, err)))
        goto fail;
    if ((rc = team_webhook(cfg, st, id, "listing", a->address, now, err)))
        goto fail;
done:
    if (rc == 0 && (rc = store_commit(st, err)) == 0)
        goto out;
fail:
    store_rollback(st);
    log_msg(log, LOG_LEVEL_ERROR, "listing of %s: no incident opened: %s", a->address, err->msg);
out:
    g_free(since);
    g_free(window);
    g_hash_table_destroy(v);
    g_string_free(rk.text, TRUE);
    g_free(rk.top);
    g_array_free(ev.ids, TRUE);
    g_string_free(ev.complaints, TRUE);
    g_string_free(ev.bounces, TRUE);
    g_hash_table_destroy(ev.reasons);
    return rc;
}

static int close_incident(const struct config *cfg, struct store *st, const struct logger *log,
                          int64_t now, const char *address, int64_t id, struct ad_err *err)
{
    (void)cfg;
    int rc = store_begin(st, err);
    if (rc)
        return rc;
    if ((rc = store_listing_resolve(st, id, now, err)) == 0)
        rc = incident_audit(st, id, 0, ACTOR, "resolved",
                            "delisted: every list answers clean for the address", err);
    if (rc == 0)
        rc = store_commit(st, err);
    if (rc) {
        store_rollback(st);
        log_msg(log, LOG_LEVEL_ERROR, "listing of %s: incident %lld not closed: %s", address,
                (long long)id, err->msg);
        return rc;
    }
    log_msg(log, LOG_LEVEL_INFO, "incident %lld: %s delisted everywhere: resolved", (long long)id,
            address);
    return 0;
}

/* An open listing incident's address is now listed on more zones: noted in
 * its audit log (the history says when each list joined). */
static int note_new_zones(struct store *st, const struct logger *log, int64_t now,
                          const struct listing_addr *a, int64_t id, struct ad_err *err)
{
    for (size_t i = 0; i < a->n_hits; i++) {
        const struct listing_hit *h = &a->hits[i];
        if (h->since != now)
            continue;
        char *d = g_strdup_printf("also listed on %s (%s)", h->zone, h->codes);
        int rc = incident_audit(st, id, 0, ACTOR, "listed", d, err);
        log_msg(log, LOG_LEVEL_WARNING, "incident %lld: %s %s", (long long)id, a->address, d);
        g_free(d);
        if (rc)
            return rc;
    }
    return 0;
}

int listing_sync(const struct config *cfg, struct store *st, const struct logger *log,
                 int64_t now, const struct listing_addr *addrs, size_t n, size_t *opened,
                 size_t *closed, struct ad_err *err)
{
    size_t no = 0, nc = 0, quiet = 0;
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        const struct listing_addr *a = &addrs[i];
        int64_t id = 0;
        struct ad_err e = { 0 };
        int rc = store_listing_find(st, a->address, &id, &e);
        if (rc == 0 && a->n_hits && !id) {
            bool mail = no < LISTING_MAILS_MAX;
            rc = open_incident(cfg, st, log, now, a, mail, &e);
            no += rc == 0;
            quiet += rc == 0 && !mail;
        } else if (rc == 0 && a->n_hits && id) {
            rc = note_new_zones(st, log, now, a, id, &e);
        } else if (rc == 0 && a->all_clean && id) {
            rc = close_incident(cfg, st, log, now, a->address, id, &e);
            nc += rc == 0;
        }
        if (rc && !first) {
            first = rc;
            *err = e;
        }
    }
    if (quiet)
        log_msg(log, LOG_LEVEL_WARNING, "%zu new listings in one check: the team was mailed "
                "about the first %d only (abusedesk incidents lists them all)", no,
                LISTING_MAILS_MAX);
    if (opened)
        *opened = no;
    if (closed)
        *closed = nc;
    return first;
}

/* ---- the early warning ------------------------------------------------------- */

struct rise {
    int64_t recent_from;
    GHashTable *by_addr;        /* address -> struct rise_addr */
};

struct rise_addr {
    size_t recent, before;
    GHashTable *reasons;
};

static void rise_addr_free(gpointer p)
{
    struct rise_addr *r = p;
    g_hash_table_destroy(r->reasons);
    g_free(r);
}

static void rise_row(const struct store_listing_report *r, void *ctx)
{
    struct rise *x = ctx;
    GHashTable *reasons = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    size_t n = bounce_reasons(r->parsed, reasons);
    if (n && r->source_ip) {
        struct rise_addr *a = g_hash_table_lookup(x->by_addr, r->source_ip);
        if (!a) {
            a = g_new0(struct rise_addr, 1);
            a->reasons = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
            g_hash_table_insert(x->by_addr, g_strdup(r->source_ip), a);
        }
        /* A bounce counts once however many of its recipients were refused. */
        if (iso_unix(r->received_at) >= x->recent_from) {
            a->recent++;
            reasons_merge(a->reasons, reasons, true);
        } else {
            a->before++;
        }
    }
    g_hash_table_destroy(reasons);
}

static int warn_one(const struct config *cfg, struct store *st, const struct logger *log,
                    int64_t now, const char *address, const struct rise_addr *a, double usual,
                    bool *warned, struct ad_err *err)
{
    *warned = false;
    int64_t aid = 0, opened = 0, closed = 0, inc = 0;
    int rc = store_begin(st, err);
    if (rc)
        return rc;
    if ((rc = store_repalert_last(st, "bounce_rise", address, &aid, &opened, &closed, err)))
        goto fail;
    if ((rc = store_listing_find(st, address, &inc, err)))
        goto fail;
    if (inc || (aid && opened > now - 86400)) {
        store_rollback(st); /* listed already, or warned today */
        return 0;
    }
    char *window = human_duration(cfg->rep_warn_window);
    char *baseline = human_duration(cfg->rep_warn_baseline);
    char *reasons = reasons_text(a->reasons);
    char *detail = g_strdup_printf("%zu reputation bounces (%s) for %s in the last %s; usually "
                                   "%.1f in that time (the %s before)", a->recent, reasons,
                                   address, window, usual, baseline);
    rc = store_repalert_open(st, "bounce_rise", address, detail, now, &aid, err);
    if (rc == 0)
        rc = store_repalert_close(st, aid, now, err); /* a one-off: once per day */
    GHashTable *v = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    struct ranking rk = { g_string_new(NULL), 0, NULL };
    if (rc == 0)
        rc = store_outbound_counts_top(st, address, now - cfg->rep_warn_window, now, RANKING_MAX,
                                       rank_row, &rk, NULL, err);
    if (!rk.text->len)
        g_string_append(rk.text, "  (no mail counted through this address)\n");
    g_string_truncate(rk.text, rk.text->len - 1);
    put(v, "ticket", g_strdup_printf("[%s]", cfg->ticket_prefix));
    put(v, "address", g_strdup(address));
    put(v, "recent", g_strdup_printf("%zu", a->recent));
    put(v, "window", g_strdup(window));
    put(v, "usual", g_strdup_printf("%.1f", usual));
    put(v, "baseline", g_strdup(baseline));
    put(v, "reasons", g_strdup(reasons));
    put(v, "ranking", g_strdup(rk.text->str));
    put(v, "desk_name", g_strdup(cfg->desk_name));
    if (rc == 0 && *cfg->abuse_team)
        rc = outbox_mail(cfg, st, 0, "team", "team_early_warning", cfg->team_language, v,
                         cfg->abuse_team, cfg->desk_name, now, NULL, err);
    if (rc == 0)
        rc = team_webhook(cfg, st, 0, "bounce_rise", address, now, err);
    if (rc == 0)
        rc = store_commit(st, err);
    if (rc == 0) {
        *warned = true;
        log_msg(log, LOG_LEVEL_WARNING, "early warning: %s", detail);
    }
    g_hash_table_destroy(v);
    g_string_free(rk.text, TRUE);
    g_free(rk.top);
    g_free(window);
    g_free(baseline);
    g_free(reasons);
    g_free(detail);
    if (rc == 0)
        return 0;
fail:
    store_rollback(st);
    log_msg(log, LOG_LEVEL_ERROR, "early warning for %s: %s", address, err->msg);
    return rc;
}

int listing_early_warning(const struct config *cfg, struct store *st, const struct logger *log,
                          int64_t now, size_t *warned, struct ad_err *err)
{
    size_t nw = 0;
    struct rise x = { now - cfg->rep_warn_window,
                      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, rise_addr_free) };
    char *since = iso(now - cfg->rep_warn_window - cfg->rep_warn_baseline);
    int rc = store_listing_reports(st, NULL, since, "dsn", BOUNCE_ROWS_MAX, true, rise_row, &x,
                                   err);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, x.by_addr);
    while (rc == 0 && g_hash_table_iter_next(&it, &k, &v)) {
        const struct rise_addr *a = v;
        double usual = (double)a->before * (double)cfg->rep_warn_window /
                       (double)cfg->rep_warn_baseline;
        if (a->recent < (size_t)cfg->rep_warn_min ||
            (double)a->recent <= cfg->rep_warn_factor * usual)
            continue;
        bool w = false;
        rc = warn_one(cfg, st, log, now, k, a, usual, &w, err);
        nw += w;
    }
    g_hash_table_destroy(x.by_addr);
    g_free(since);
    if (warned)
        *warned = nw;
    return rc;
}

/*
 * cmd_rbl.c: `abusedesk rbl check|zones|history`, the DNSBL monitor of our
 * outbound addresses. check queries every address of [reputation] addresses
 * (else [network] our_ips) on every zone of [reputation] dnsbl_zones (see
 * reputation/rbl.h), records listings and delistings in the store
 * (store/store_rbl.h) and prints one result per address and zone; zones
 * lists what abusedesk knows of the well-known lists; history prints the
 * stored events. Exit status of check: 0 all clean, 1 something is listed,
 * 2 nothing listed but some results are errors (incomplete), 75 when the
 * store is unavailable (the results are printed all the same), 78 for a
 * configuration that cannot be checked, 64 for usage errors.
 */
#include <glib.h>
#include <signal.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "act/feeds.h"
#include "act/listing.h"
#include "cli.h"
#include "reputation/rbl.h"
#include "reputation/rbl_zones.h"
#include "store/store.h"
#include "store/store_rbl.h"
#include "util/fsutil.h"
#include "util/textsafe.h"

#define RBL_EXIT_LISTED 1
#define RBL_EXIT_INCOMPLETE 2

static void usage(FILE *f)
{
    fprintf(f,
            "usage: abusedesk [GLOBAL OPTIONS] rbl check [--json] [--all] [--loop [INTERVAL]]\n"
            "                                 [--rounds N]\n"
            "       abusedesk [GLOBAL OPTIONS] rbl zones [--json]\n"
            "       abusedesk [GLOBAL OPTIONS] rbl history [--json] [--limit N] [ADDRESS]\n\n"
            "check: queries every address of [reputation] addresses (else every address of\n"
            "[network] our_ips, at most a /20) on every zone of [reputation] dnsbl_zones,\n"
            "after each zone passed its test points (127.0.0.2 listed, 127.0.0.1 not);\n"
            "records listings and delistings in the store. Prints the listings and errors\n"
            "(--all: every result) as a table, or with --json one object per address and\n"
            "zone: address, zone, status (listed, clean, error), codes, meaning, text,\n"
            "since, delist_url, procedure, error. IPv6 addresses are asked only on lists\n"
            "that publish IPv6 data. Exit 0 when all is clean, 1 when an address is listed,\n"
            "2 when nothing is listed but some results are errors (a zone broken, refusing\n"
            "us or not answering: the check is incomplete), 75 when the store is\n"
            "unavailable, 78 when the configuration cannot be checked.\n"
            "A new listing opens an incident of kind listing naming the senders that sent\n"
            "the most mail through the address in [reputation] blame_window before it, and\n"
            "alerts the team with the delisting steps; all lists clean closes it.\n"
            "--loop: the reputation monitor (abusedesk run starts it): a check every\n"
            "INTERVAL (default [reputation] interval), then the early warning (reputation\n"
            "bounces rising on an address) and the feed health (abusedesk feeds), and\n"
            "every [reputation] audit_interval the domain audit (what changed is mailed\n"
            "to the team); results go to the log. --rounds N stops after N rounds.\n"
            "zones: what abusedesk knows of the well-known lists (* = configured).\n"
            "history: listing and delisting events, newest first.\n");
}

static char *iso_time(int64_t t)
{
    GDateTime *dt = g_date_time_new_from_unix_utc(t);
    char *s = dt ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("?");
    if (dt)
        g_date_time_unref(dt);
    return s;
}

static void code_text(uint32_t c, char *buf, size_t size)
{
    snprintf(buf, size, "%u.%u.%u.%u", c >> 24, (c >> 16) & 0xff, (c >> 8) & 0xff, c & 0xff);
}

static char *codes_text(const struct rbl_result *res)
{
    GString *s = g_string_new(NULL);
    for (size_t i = 0; i < res->n_codes; i++) {
        char t[16];
        code_text(res->codes[i], t, sizeof t);
        g_string_append_printf(s, "%s%s", i ? "," : "", t);
    }
    return g_string_free(s, FALSE);
}

static void print_problem(const char *msg, void *ctx)
{
    (void)ctx;
    char *m = textsafe_terminal(msg);
    fprintf(stderr, "%s\n", m);
    g_free(m);
}

/* The configuration's [reputation] problems, printed; 0 when there is none. */
static int check_config(struct cli *cli)
{
    char *text = NULL;
    gsize len = 0;
    if (cli->cfg.path)
        g_file_get_contents(cli->cfg.path, &text, &len, NULL);
    size_t n = rbl_config_check(&cli->cfg, cli->cfg.path, text, len, print_problem, NULL);
    g_free(text);
    return n ? EXIT_CONFIG : 0;
}

static int open_store(struct cli *cli, struct store **st)
{
    struct ad_err err = { 0 };
    if (!cli->cfg.store_backend || !strcmp(cli->cfg.store_backend, "sqlite")) {
        char *dir = g_path_get_dirname(cli->cfg.db_path);
        fs_mkdir_p(dir, NULL);
        g_free(dir);
    }
    if (store_open_cfg(&cli->cfg, st, &err) != 0) {
        fprintf(stderr, "abusedesk rbl: %s\n", err.msg);
        return err.code == AD_ERR_BUSY ? EXIT_TEMPFAIL : EXIT_SOFTWARE;
    }
    return 0;
}

/* ---- rbl check ---------------------------------------------------------------- */

struct open_listing {
    int64_t id, listed_at;
};

static char *pair_key(const char *address, const char *zone)
{
    return g_strconcat(address, "\t", zone, NULL);
}

static void collect_open(int64_t id, const char *address, const char *zone, int64_t listed_at,
                         void *ctx)
{
    struct open_listing *o = g_new(struct open_listing, 1);
    o->id = id;
    o->listed_at = listed_at;
    g_hash_table_replace(ctx, pair_key(address, zone), o);
}

/* Writes the run's listings and delistings in one transaction and fills
 * since[] (one per result; 0 when not listed). */
static int record(struct store *st, const struct rbl_run *run, const struct rbl_addr *addrs,
                  size_t n_addrs, const struct rbl_zone *zones, size_t n_zones, int64_t now,
                  int64_t *since, struct ad_err *err)
{
    GHashTable *open = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    int rc = store_begin(st, err);
    if (rc)
        goto out;
    if ((rc = store_rbl_open_each(st, collect_open, open, err)))
        goto fail;
    for (size_t a = 0; a < n_addrs; a++)
        for (size_t z = 0; z < n_zones; z++) {
            const struct rbl_result *res = rbl_run_result(run, a, z);
            char *key = pair_key(addrs[a].text, zones[z].name);
            const struct open_listing *o = g_hash_table_lookup(open, key);
            g_free(key);
            if (res->status == RBL_LISTED) {
                char *codes = codes_text(res);
                if (o) {
                    since[a * n_zones + z] = o->listed_at;
                    rc = store_rbl_seen(st, o->id, codes, res->text, now, err);
                } else {
                    int64_t id = 0;
                    since[a * n_zones + z] = now;
                    rc = store_rbl_listed(st, addrs[a].text, zones[z].name, codes, res->text,
                                          now, &id, err);
                }
                g_free(codes);
            } else if (res->status == RBL_CLEAN && o) {
                rc = store_rbl_delisted(st, o->id, now, err);
            }
            if (rc)
                goto fail;
        }
    rc = store_commit(st, err);
    if (rc == 0)
        goto out;
fail:
    store_rollback(st);
out:
    g_hash_table_destroy(open);
    return rc;
}

static json_t *result_json(const struct rbl_addr *addr, const struct rbl_zone *zone,
                           const struct rbl_result *res, int64_t since)
{
    json_t *o = json_object();
    json_object_set_new(o, "address", json_string(addr->text));
    json_object_set_new(o, "zone", json_string(zone->name));
    json_object_set_new(o, "status", json_string(rbl_status_name(res->status)));
    json_t *codes = json_array(), *meaning = json_array();
    for (size_t i = 0; i < res->n_codes; i++) {
        char t[16];
        code_text(res->codes[i], t, sizeof t);
        json_array_append_new(codes, json_string(t));
        const char *m = rbl_zones_meaning(zone->info, res->codes[i]);
        json_array_append_new(meaning, m ? json_string(m) : json_null());
    }
    json_object_set_new(o, "codes", codes);
    json_object_set_new(o, "meaning", meaning);
    json_object_set_new(o, "text", res->text ? json_string(res->text) : json_null());
    char *s = since ? iso_time(since) : NULL;
    json_object_set_new(o, "since", s ? json_string(s) : json_null());
    g_free(s);
    bool listed = res->status == RBL_LISTED;
    json_object_set_new(o, "list", zone->info ? json_string(zone->info->name) : json_null());
    json_object_set_new(o, "delist_url", listed && zone->info ? json_string(zone->info->delist_url)
                                                             : json_null());
    json_object_set_new(o, "procedure", listed && zone->info ? json_string(zone->info->procedure)
                                                            : json_null());
    json_object_set_new(o, "error", res->why ? json_string(res->why) : json_null());
    return o;
}

static void print_cell(const char *s, int width)
{
    char *t = textsafe_terminal(s ? s : "-");
    printf("%-*s ", width, t);
    g_free(t);
}

static void print_table(const struct rbl_run *run, const struct rbl_addr *addrs, size_t n_addrs,
                        const struct rbl_zone *zones, size_t n_zones, const int64_t *since,
                        bool all)
{
    int aw = 15, zw = 4;
    for (size_t a = 0; a < n_addrs; a++)
        if ((int)strlen(addrs[a].text) > aw)
            aw = (int)strlen(addrs[a].text);
    for (size_t z = 0; z < n_zones; z++)
        if ((int)strlen(zones[z].name) > zw)
            zw = (int)strlen(zones[z].name);
    printf("%-*s %-*s %-7s %-20s %-20s %s\n", aw, "ADDRESS", zw, "ZONE", "STATUS", "CODES",
           "SINCE", "DETAILS");
    /* A zone that failed as a whole is one line, not one per address. */
    for (size_t z = 0; z < n_zones; z++) {
        const char *why = rbl_run_zone_error(run, z);
        if (!why)
            continue;
        size_t n = 0;
        for (size_t a = 0; a < n_addrs; a++)
            if (rbl_run_result(run, a, z)->why == why)
                n++;
        if (!n)
            continue;
        char what[64];
        snprintf(what, sizeof what, "(%zu address%s)", n, n == 1 ? "" : "es");
        print_cell(what, aw);
        print_cell(zones[z].name, zw);
        print_cell("error", 7);
        print_cell("-", 20);
        print_cell("-", 20);
        char *t = textsafe_terminal(why);
        printf("%s\n", t);
        g_free(t);
    }
    for (size_t a = 0; a < n_addrs; a++)
        for (size_t z = 0; z < n_zones; z++) {
            const struct rbl_result *res = rbl_run_result(run, a, z);
            if (res->status == RBL_SKIPPED)
                continue;
            if (res->status == RBL_ERROR && res->why == rbl_run_zone_error(run, z))
                continue;
            if (res->status == RBL_CLEAN && !all)
                continue;
            char *codes = codes_text(res);
            char *s = since[a * n_zones + z] ? iso_time(since[a * n_zones + z]) : NULL;
            print_cell(addrs[a].text, aw);
            print_cell(zones[z].name, zw);
            print_cell(rbl_status_name(res->status), 7);
            print_cell(*codes ? codes : "-", 20);
            print_cell(s, 20);
            GString *d = g_string_new(NULL);
            if (res->status == RBL_LISTED) {
                for (size_t i = 0; i < res->n_codes; i++) {
                    const char *m = rbl_zones_meaning(zones[z].info, res->codes[i]);
                    if (m)
                        g_string_append_printf(d, "%s%s", d->len ? "; " : "", m);
                }
                if (res->text)
                    g_string_append_printf(d, "%s\"%s\"", d->len ? "; " : "", res->text);
                if (zones[z].info)
                    g_string_append_printf(d, "; delist: %s; %s", zones[z].info->delist_url,
                                           zones[z].info->procedure);
            } else if (res->why) {
                g_string_append(d, res->why);
            }
            char *t = textsafe_terminal(d->str);
            printf("%s\n", t);
            g_free(t);
            g_string_free(d, TRUE);
            g_free(codes);
            g_free(s);
        }
}

/* The listing incidents of this check (act/listing.h): one entry per address,
 * its listed zones. Strings borrow from run, zones and hold. */
static int sync_incidents(struct cli *cli, struct store *st, const struct rbl_run *run,
                          const struct rbl_addr *addrs, size_t n_addrs,
                          const struct rbl_zone *zones, size_t n_zones, const int64_t *since,
                          int64_t now, struct ad_err *err)
{
    struct listing_addr *la = g_new0(struct listing_addr, n_addrs);
    struct listing_hit *hits = g_new0(struct listing_hit, n_addrs * n_zones);
    GPtrArray *hold = g_ptr_array_new_with_free_func(g_free);
    for (size_t a = 0; a < n_addrs; a++) {
        la[a].address = addrs[a].text;
        la[a].hits = &hits[a * n_zones];
        la[a].all_clean = true;
        for (size_t z = 0; z < n_zones; z++) {
            const struct rbl_result *res = rbl_run_result(run, a, z);
            if (res->status != RBL_CLEAN && res->status != RBL_SKIPPED)
                la[a].all_clean = false;
            if (res->status != RBL_LISTED)
                continue;
            struct listing_hit *h = &hits[a * n_zones + la[a].n_hits++];
            const struct rbl_zone_info *info = zones[z].info;
            char *codes = codes_text(res);
            GString *m = g_string_new(NULL);
            for (size_t i = 0; i < res->n_codes; i++) {
                const char *t = rbl_zones_meaning(info, res->codes[i]);
                if (t)
                    g_string_append_printf(m, "%s%s", m->len ? "; " : "", t);
            }
            char *meaning = g_string_free(m, FALSE);
            g_ptr_array_add(hold, codes);
            g_ptr_array_add(hold, meaning);
            h->zone = zones[z].name;
            h->list_name = info ? info->name : NULL;
            h->codes = codes;
            h->meaning = *meaning ? meaning : NULL;
            h->text = res->text;
            h->delist_url = info ? info->delist_url : NULL;
            h->procedure = info ? info->procedure : NULL;
            h->since = since[a * n_zones + z] ? since[a * n_zones + z] : now;
        }
    }
    size_t opened = 0, closed = 0;
    int rc = listing_sync(&cli->cfg, st, &cli->log, now, la, n_addrs, &opened, &closed, err);
    if (opened || closed)
        log_msg(&cli->log, LOG_LEVEL_INFO, "rbl check: %zu listing incident%s opened, %zu closed",
                opened, opened == 1 ? "" : "s", closed);
    g_ptr_array_free(hold, TRUE);
    g_free(hits);
    g_free(la);
    return rc;
}

/* One check: every address on every zone, recorded, the listing incidents
 * synced, printed (unless quiet). Returns the exit status of a single check. */
static int check_once(struct cli *cli, struct store *st, bool json, bool all, bool quiet)
{
    const struct config *cfg = &cli->cfg;
    struct ad_err err = { 0 };
    struct rbl_zone *zones = NULL;
    size_t n_zones = 0;
    struct rbl_addr *addrs = NULL;
    size_t n_addrs = 0;
    struct rbl_run *run = NULL;
    int64_t *since = NULL;
    int rc = 0;
    if (rbl_zones_parse(cfg->rbl_zones, &zones, &n_zones, &err) != 0) {
        fprintf(stderr, "abusedesk rbl check: %s\n", err.msg);
        rc = EXIT_CONFIG;
        goto out;
    }
    if (n_zones == 0) {
        fprintf(stderr, "abusedesk rbl check: [reputation] dnsbl_zones is empty: nothing to "
                        "check (abusedesk rbl zones lists the well-known lists)\n");
        rc = EXIT_CONFIG;
        goto out;
    }
    bool own = cfg->rbl_addresses && cfg->rbl_addresses[0];
    rc = own ? rbl_addresses_parse(cfg->rbl_addresses, "[reputation] addresses", &addrs,
                                   &n_addrs, &err)
             : rbl_addresses_expand(cfg->our_ips, cfg->n_our_ips, "[network] our_ips", &addrs,
                                    &n_addrs, &err);
    /* listing: our domains, when a domain list is configured. */
    bool domain_lists = false;
    for (size_t z = 0; z < n_zones; z++)
        domain_lists |= zones[z].info && zones[z].info->domains;
    bool own_domains = cfg->rep_domains && cfg->rep_domains[0];
    if (rc == 0 && domain_lists)
        rc = rbl_domains_add(own_domains ? cfg->rep_domains : cfg->our_hosts,
                             own_domains ? "[reputation] domains" : "[network] our_hosts", &addrs,
                             &n_addrs, &err);
    if (rc) {
        fprintf(stderr, "abusedesk rbl check: %s\n", err.msg);
        rc = EXIT_CONFIG;
        goto out;
    }
    if (n_addrs == 0) {
        fprintf(stderr, "abusedesk rbl check: no addresses to check: set [network] our_ips or "
                        "[reputation] addresses\n");
        rc = EXIT_CONFIG;
        goto out;
    }
    run = rbl_run_new(addrs, n_addrs, zones, n_zones);
    struct rbl_opts o = {
        .resolver = cfg->rbl_resolver,
        .max_inflight = cfg->rbl_max_inflight,
        .zone_budget = cfg->rbl_zone_budget,
        .timeout_ms = (int)(cfg->rbl_dns_timeout * 1000),
    };
    if (rbl_run_check(run, &o, &err) != 0) {
        fprintf(stderr, "abusedesk rbl check: %s\n", err.msg);
        rc = err.code == AD_ERR_CONFIG ? EXIT_CONFIG : EXIT_SOFTWARE;
        goto out;
    }
    const struct rbl_stats *stats = rbl_run_stats(run);
    log_msg(&cli->log, LOG_LEVEL_DEBUG,
            "rbl check: %zu addresses x %zu zones: %zu queries, %zu answers, %zu timeouts, "
            "%zu in flight at most, %lld ms", n_addrs, n_zones, stats->queries, stats->answers,
            stats->timeouts, stats->max_inflight_seen, stats->elapsed_ms);
    since = g_new0(int64_t, n_addrs * n_zones);
    int64_t now = (int64_t)time(NULL);
    int store_rc = record(st, run, addrs, n_addrs, zones, n_zones, now, since, &err);
    if (store_rc)
        fprintf(stderr, "abusedesk rbl check: the results could not be recorded: %s\n",
                err.msg);
    else if ((store_rc = sync_incidents(cli, st, run, addrs, n_addrs, zones, n_zones, since, now,
                                        &err)))
        fprintf(stderr, "abusedesk rbl check: listing incidents: %s\n", err.msg);
    size_t listed = 0, errors = 0, clean = 0;
    for (size_t a = 0; a < n_addrs; a++)
        for (size_t z = 0; z < n_zones; z++) {
            const struct rbl_result *res = rbl_run_result(run, a, z);
            listed += res->status == RBL_LISTED;
            errors += res->status == RBL_ERROR;
            clean += res->status == RBL_CLEAN;
            if (json && !quiet && res->status != RBL_SKIPPED) {
                json_t *j = result_json(&addrs[a], &zones[z], res, since[a * n_zones + z]);
                char *line = json_dumps(j, JSON_COMPACT);
                printf("%s\n", line);
                free(line);
                json_decref(j);
            }
        }
    if (!json && !quiet) {
        print_table(run, addrs, n_addrs, zones, n_zones, since, all);
        printf("%zu address%s x %zu zone%s: %zu listed, %zu clean, %zu error%s%s\n", n_addrs,
               n_addrs == 1 ? "" : "es", n_zones, n_zones == 1 ? "" : "s", listed, clean, errors,
               errors == 1 ? "" : "s", errors ? " (incomplete)" : "");
    }
    if (quiet)
        log_msg(&cli->log, listed ? LOG_LEVEL_WARNING : LOG_LEVEL_INFO,
                "rbl check: %zu addresses x %zu zones: %zu listed, %zu clean, %zu errors",
                n_addrs, n_zones, listed, clean, errors);
    fflush(stdout);
    if (store_rc)
        rc = store_rc == AD_ERR_BUSY || store_rc == AD_ERR_STORE ? EXIT_TEMPFAIL : EXIT_SOFTWARE;
    else
        rc = listed ? RBL_EXIT_LISTED : errors ? RBL_EXIT_INCOMPLETE : 0;
out:
    g_free(since);
    rbl_run_free(run);
    g_free(addrs);
    rbl_zones_free(zones, n_zones);
    return rc;
}

static volatile sig_atomic_t rbl_stop;

static void rbl_on_signal(int sig)
{
    (void)sig;
    rbl_stop = 1;
}

/* The rest of a monitor round: the bounces' early warning, the feeds and,
 * every [reputation] audit_interval, the domain audit. */
static void monitor_rest(struct cli *cli, struct store *st)
{
    struct ad_err err = { 0 };
    int64_t now = (int64_t)time(NULL);
    size_t warned = 0, alerted = 0, n = 0;
    if (listing_early_warning(&cli->cfg, st, &cli->log, now, &warned, &err) != 0)
        log_msg(&cli->log, LOG_LEVEL_ERROR, "reputation monitor: early warning: %s", err.msg);
    struct feed *f = NULL;
    if (feeds_assess(&cli->cfg, st, now, &f, &n, &err) != 0 ||
        feeds_alert(&cli->cfg, st, &cli->log, now, f, n, &alerted, &err) != 0)
        log_msg(&cli->log, LOG_LEVEL_ERROR, "reputation monitor: feeds: %s", err.msg);
    g_free(f);
    if (domains_audit_scheduled(cli, st, now, NULL, &err) != 0)
        log_msg(&cli->log, LOG_LEVEL_ERROR, "reputation monitor: domain audit: %s", err.msg);
}

static int rbl_check(struct cli *cli, int argc, char **argv)
{
    bool json = false, all = false, loop = false;
    long long interval = 0, rounds = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--all")) {
            all = true;
        } else if (!strcmp(argv[i], "--loop")) {
            loop = true;
            if (i + 1 < argc && argv[i + 1][0] != '-' &&
                (!config_parse_duration(argv[++i], &interval) || interval < 1)) {
                fprintf(stderr, "abusedesk rbl check: --loop takes a duration (15m, 1h, 90s)\n");
                return EXIT_USAGE;
            }
        } else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            char *end = NULL;
            rounds = strtoll(argv[++i], &end, 10);
            if (!*argv[i] || *end || rounds < 1) {
                fprintf(stderr, "abusedesk rbl check: --rounds needs a number >= 1\n");
                return EXIT_USAGE;
            }
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "abusedesk rbl check: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    int rc = check_config(cli);
    if (rc)
        return rc;
    struct store *st = NULL;
    /* The store first: a check that cannot be recorded is found out before
     * thousands of queries. */
    if ((rc = open_store(cli, &st)))
        return rc;
    if (!loop) {
        rc = check_once(cli, st, json, all, false);
        store_close(st);
        return rc;
    }
    /* The reputation monitor: a check every interval ([reputation] interval
     * unless given), then the early warning and the feeds. A round that fails
     * is logged and the next one tried; SIGTERM ends the wait. */
    if (!interval)
        interval = cli->cfg.rep_interval;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = rbl_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    bool zones = cli->cfg.rbl_zones && cli->cfg.rbl_zones[0];
    if (!zones)
        log_msg(&cli->log, LOG_LEVEL_INFO, "reputation monitor: [reputation] dnsbl_zones is "
                "empty: no DNSBL check, only the early warning and the feeds");
    log_msg(&cli->log, LOG_LEVEL_INFO, "reputation monitor: every %llds", interval);
    for (long long n = 0; !rbl_stop && (!rounds || n < rounds); n++) {
        int64_t started = g_get_monotonic_time();
        if (zones) {
            int r = check_once(cli, st, json, all, !json);
            if (r == EXIT_TEMPFAIL || r == EXIT_SOFTWARE) {
                store_close(st); /* reopened below: the database may have come back */
                st = NULL;
                if (open_store(cli, &st))
                    st = NULL;
            }
        }
        if (st)
            monitor_rest(cli, st);
        else if (open_store(cli, &st))
            st = NULL;
        if (rounds && n + 1 >= rounds)
            break;
        int64_t due = started + interval * G_USEC_PER_SEC;
        while (!rbl_stop && g_get_monotonic_time() < due)
            g_usleep(100000);
    }
    store_close(st);
    return 0;
}

/* ---- rbl zones ---------------------------------------------------------------- */

static bool configured(const struct config *cfg, const struct rbl_zone_info *info)
{
    for (char **z = cfg->rbl_zones; z && *z; z++)
        if (rbl_zones_find(*z, NULL) == info)
            return true;
    return false;
}

static void print_dead(const char *suffix, const char *why, void *ctx)
{
    json_t *arr = ctx;
    if (arr) {
        json_t *o = json_object();
        json_object_set_new(o, "zone", json_string(suffix));
        json_object_set_new(o, "refused", json_string(why));
        json_array_append_new(arr, o);
    } else {
        printf("  *.%-26s %s\n", suffix, why);
    }
}

static int rbl_zones_cmd(struct cli *cli, int argc, char **argv)
{
    bool json = argc > 1 && !strcmp(argv[1], "--json");
    if (argc > 2 || (argc == 2 && !json)) {
        usage(stderr);
        return EXIT_USAGE;
    }
    size_t n = 0;
    const struct rbl_zone_info *all = rbl_zones_all(&n);
    if (json) {
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "zone", json_string(all[i].suffix));
            json_object_set_new(o, "list", json_string(all[i].name));
            json_object_set_new(o, "key", json_boolean(all[i].keyed));
            json_object_set_new(o, "ipv6", json_boolean(all[i].ipv6));
            json_object_set_new(o, "configured", json_boolean(configured(&cli->cfg, &all[i])));
            json_t *codes = json_object();
            for (const struct rbl_code *c = all[i].codes; c->meaning; c++) {
                char t[16];
                code_text(c->code, t, sizeof t);
                json_object_set_new(codes, t, json_string(c->meaning));
            }
            json_object_set_new(o, "codes", codes);
            json_t *errors = json_object();
            for (const struct rbl_code *c = all[i].errors; c && c->meaning; c++) {
                char t[16];
                code_text(c->code, t, sizeof t);
                json_object_set_new(errors, t, json_string(c->meaning));
            }
            json_object_set_new(o, "errors", errors);
            json_object_set_new(o, "delist_url", json_string(all[i].delist_url));
            json_object_set_new(o, "procedure", json_string(all[i].procedure));
            char *line = json_dumps(o, JSON_COMPACT);
            printf("%s\n", line);
            free(line);
            json_decref(o);
        }
        json_t *dead = json_array();
        rbl_zones_each_dead(print_dead, dead);
        for (size_t i = 0; i < json_array_size(dead); i++) {
            char *line = json_dumps(json_array_get(dead, i), JSON_COMPACT);
            printf("%s\n", line);
            free(line);
        }
        json_decref(dead);
        return 0;
    }
    printf("Known lists (* = in [reputation] dnsbl_zones; KEY. = needs your access key in "
           "front):\n");
    for (size_t i = 0; i < n; i++) {
        printf("%c %s%-28s %-26s %s  %s\n", configured(&cli->cfg, &all[i]) ? '*' : ' ',
               all[i].keyed ? "KEY." : "", all[i].suffix, all[i].name,
               all[i].ipv6 ? "IPv4+IPv6" : "IPv4     ", all[i].delist_url);
        for (const struct rbl_code *c = all[i].codes; c->meaning; c++) {
            char t[16];
            code_text(c->code, t, sizeof t);
            printf("      %-15s %s\n", t, c->meaning);
        }
        for (const struct rbl_code *c = all[i].errors; c && c->meaning; c++) {
            char t[16];
            code_text(c->code, t, sizeof t);
            printf("      %-15s %s\n", t, c->meaning);
        }
        printf("      delisting: %s\n", all[i].procedure);
    }
    printf("Refused (the list no longer exists):\n");
    rbl_zones_each_dead(print_dead, NULL);
    printf("Every list: an answer outside 127.0.0.0/8 or 127.0.0.1 is an error, never a "
           "listing;\nunknown lists: 127.255.255.0/24 too.\n");
    return 0;
}

/* ---- rbl history -------------------------------------------------------------- */

static int print_event(const struct store_rbl_event *e, void *ctx)
{
    bool json = *(bool *)ctx;
    char *at = iso_time(e->at), *since = iso_time(e->listed_at);
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "at", json_string(at));
        json_object_set_new(o, "event", json_string(e->event));
        json_object_set_new(o, "address", json_string(e->address));
        json_object_set_new(o, "zone", json_string(e->zone));
        json_object_set_new(o, "codes", e->codes ? json_string(e->codes) : json_null());
        json_object_set_new(o, "text", e->text ? json_string(e->text) : json_null());
        json_object_set_new(o, "listed_since", json_string(since));
        char *line = json_dumps(o, JSON_COMPACT);
        printf("%s\n", line);
        free(line);
        json_decref(o);
    } else {
        print_cell(at, 20);
        print_cell(e->event, 8);
        print_cell(e->address, 39);
        print_cell(e->zone, 28);
        print_cell(e->codes, 20);
        char *t = textsafe_terminal(e->text ? e->text : "");
        printf("%s\n", t);
        g_free(t);
    }
    g_free(at);
    g_free(since);
    return 0;
}

static int rbl_history(struct cli *cli, int argc, char **argv)
{
    bool json = false;
    const char *address = NULL;
    long long limit = 100;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
            char *end = NULL;
            limit = strtoll(argv[++i], &end, 10);
            if (!*argv[i] || *end || limit < 0) {
                fprintf(stderr, "abusedesk rbl history: --limit needs a number (0: all)\n");
                return EXIT_USAGE;
            }
        } else if (argv[i][0] == '-' || address) {
            usage(stderr);
            return EXIT_USAGE;
        } else {
            address = argv[i];
        }
    }
    struct store *st = NULL;
    int rc = open_store(cli, &st);
    if (rc)
        return rc;
    if (!json)
        printf("%-20s %-8s %-39s %-28s %-20s %s\n", "AT", "EVENT", "ADDRESS", "ZONE", "CODES",
               "TEXT");
    struct ad_err err = { 0 };
    if (store_rbl_history(st, address, limit, print_event, &json, &err) != 0) {
        fprintf(stderr, "abusedesk rbl history: %s\n", err.msg);
        rc = err.code == AD_ERR_BUSY ? EXIT_TEMPFAIL : EXIT_SOFTWARE;
    }
    store_close(st);
    return rc;
}

int cmd_rbl(struct cli *cli, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "check"))
        return rbl_check(cli, argc - 1, argv + 1);
    if (!strcmp(argv[1], "zones"))
        return rbl_zones_cmd(cli, argc - 1, argv + 1);
    if (!strcmp(argv[1], "history"))
        return rbl_history(cli, argc - 1, argv + 1);
    fprintf(stderr, "abusedesk rbl: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}

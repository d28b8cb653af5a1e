/*
 * rbl.c: the DNSBL check of our outbound addresses (see rbl.h). Called by
 * `abusedesk rbl check` (src/cli/cmd_rbl.c), which stores the outcome
 * (store_rbl.h) and prints it. One run owns one c-ares channel and drives it
 * with poll() in the caller's thread until every (address, zone) has a
 * result; a run never fails because of an answer: bad, missing or refused
 * answers become results of status error with the reason. rbl_run_check()
 * fails only when it cannot start (a resolver list it cannot read, c-ares out
 * of memory). Everything a run returns (results, their texts and reasons) is
 * owned by the run and freed by rbl_run_free().
 *
 * Order of work: both RFC 5782 test points of every zone first (127.0.0.2 must
 * be listed, 127.0.0.1 must not); a zone that fails them is broken or refuses
 * us, and every result of it is an error without a single further query.
 * Then the addresses, one query per zone in turn (round-robin), so that no
 * list gets our whole burst at once; TXT queries for listings go first
 * whenever there is room. At most max_inflight queries are in flight; each
 * zone gets at most zone_budget queries per run (the free tiers of most
 * lists have quotas), and a zone that stops answering (RBL_ZONE_MAX_TIMEOUTS
 * timeouts in a row) is given up. Memory: one struct rbl_result per (address,
 * zone), one slot per query in flight, and the texts of listings.
 */
#include "reputation/rbl.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <glib.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <ares.h>

#include "config/config_check.h"
#include "util/dnswait.h"
#include "util/textsafe.h"

#define RBL_PENDING 0xff
#define RBL_MAX_RESOLVERS 8
#define RBL_RESOLVERS_MAX_LEN 1024
/* c-ares asks each server this often; with its doubling back-off the tries
 * take 3 x the first one's time per server. */
#define RBL_ARES_TRIES 2
/* A zone is given up after this many timeouts in a row. */
#define RBL_ZONE_MAX_TIMEOUTS 8
/* Bytes of TXT data read before cleaning. */
#define RBL_TEXT_RAW_MAX 2048
/* Largest range expanded: a /20, 4096 addresses. */
#define RBL_MAX_HOST_BITS 12

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

const char *rbl_status_name(enum rbl_status s)
{
    switch (s) {
    case RBL_CLEAN: return "clean";
    case RBL_LISTED: return "listed";
    case RBL_ERROR: return "error";
    case RBL_SKIPPED: return "skipped";
    }
    return "error";
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- addresses -------------------------------------------------------------- */

static bool is_v4_mapped(const unsigned char a[16])
{
    static const unsigned char prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    return memcmp(a, prefix, 12) == 0;
}

static void addr_fill_text(struct rbl_addr *a)
{
    if (a->v6)
        inet_ntop(AF_INET6, a->ip, a->text, sizeof a->text);
    else
        inet_ntop(AF_INET, a->ip + 12, a->text, sizeof a->text);
}

/* Adds i to the 16-byte big-endian number a. */
static void addr_add(unsigned char a[16], uint32_t i)
{
    for (int k = 15; k >= 0 && i; k--) {
        uint32_t s = a[k] + (i & 0xff);
        a[k] = (unsigned char)s;
        i = (i >> 8) + (s >> 8);
    }
}

static void net_text(const struct config_net *n, char *buf, size_t size)
{
    char a[INET6_ADDRSTRLEN];
    bool v4 = is_v4_mapped(n->addr) && n->prefix >= 96;
    if (v4)
        inet_ntop(AF_INET, n->addr + 12, a, sizeof a);
    else
        inet_ntop(AF_INET6, n->addr, a, sizeof a);
    int bits = v4 ? n->prefix - 96 : n->prefix;
    if ((v4 && bits == 32) || (!v4 && bits == 128))
        snprintf(buf, size, "%s", a);
    else
        snprintf(buf, size, "%s/%d", a, bits);
}

int rbl_addresses_expand(const struct config_net *nets, size_t n_nets, const char *what,
                         struct rbl_addr **out, size_t *n, struct ad_err *err)
{
    *out = NULL;
    *n = 0;
    GArray *addrs = g_array_new(FALSE, TRUE, sizeof(struct rbl_addr));
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    int rc = 0;
    for (size_t i = 0; i < n_nets && rc == 0; i++) {
        const struct config_net *net = &nets[i];
        int host_bits = 128 - net->prefix;
        if (host_bits > RBL_MAX_HOST_BITS) {
            char t[80];
            net_text(net, t, sizeof t);
            rc = ad_err_set(err, AD_ERR_LIMIT,
                            "%s: %s is more than a /20 (4096 addresses): the DNSBL check "
                            "queries every address; list the outbound addresses (or their "
                            "/24s) in [reputation] addresses", what, t);
            break;
        }
        unsigned char base[16];
        memcpy(base, net->addr, 16);
        for (int b = net->prefix; b < 128; b++)
            base[b / 8] &= (unsigned char)~(0x80u >> (b % 8));
        uint32_t count = 1u << host_bits;
        for (uint32_t k = 0; k < count; k++) {
            struct rbl_addr a = { 0 };
            memcpy(a.ip, base, 16);
            addr_add(a.ip, k);
            a.v6 = !is_v4_mapped(a.ip);
            addr_fill_text(&a);
            if (g_hash_table_contains(seen, a.text))
                continue;
            if (addrs->len == RBL_MAX_ADDRESSES) {
                rc = ad_err_set(err, AD_ERR_LIMIT,
                                "%s: more than %d addresses in all (a /20): the DNSBL check "
                                "queries every address; list the outbound addresses in "
                                "[reputation] addresses", what, RBL_MAX_ADDRESSES);
                break;
            }
            g_array_append_val(addrs, a);
            g_hash_table_add(seen, g_strdup(a.text));
        }
    }
    g_hash_table_destroy(seen);
    if (rc) {
        g_array_free(addrs, TRUE);
        return rc;
    }
    *n = addrs->len;
    *out = (struct rbl_addr *)g_array_free(addrs, FALSE);
    return 0;
}

int rbl_addresses_parse(char *const *items, const char *what, struct rbl_addr **out, size_t *n,
                        struct ad_err *err)
{
    size_t count = 0;
    while (items && items[count])
        count++;
    struct config_net *nets = g_new0(struct config_net, count ? count : 1);
    for (size_t i = 0; i < count; i++)
        if (!config_parse_net(items[i], &nets[i])) {
            int rc = ad_err_set(err, AD_ERR_CONFIG,
                                "%s: '%s' is not an IP address or CIDR range", what, items[i]);
            g_free(nets);
            *out = NULL;
            *n = 0;
            return rc;
        }
    int rc = rbl_addresses_expand(nets, count, what, out, n, err);
    g_free(nets);
    return rc;
}

/* ---- zones ------------------------------------------------------------------ */

struct rbl_zone *rbl_zones_free(struct rbl_zone *zones, size_t n)
{
    for (size_t i = 0; zones && i < n; i++) {
        g_free(zones[i].query);
        g_free(zones[i].name);
    }
    g_free(zones);
    return NULL;
}

int rbl_zones_parse(char *const *items, struct rbl_zone **out, size_t *n, struct ad_err *err)
{
    *out = NULL;
    *n = 0;
    size_t count = 0;
    while (items && items[count])
        count++;
    if (count > RBL_MAX_ZONES)
        return ad_err_set(err, AD_ERR_CONFIG,
                          "[reputation] dnsbl_zones: %zu zones, at most %d", count,
                          RBL_MAX_ZONES);
    struct rbl_zone *zones = g_new0(struct rbl_zone, count ? count : 1);
    for (size_t i = 0; i < count; i++) {
        const char *why = rbl_zones_problem(items[i]);
        if (why) {
            int rc = ad_err_set(err, AD_ERR_CONFIG, "[reputation] dnsbl_zones: %s: %s",
                                items[i], why);
            rbl_zones_free(zones, i);
            return rc;
        }
        size_t key = 0;
        zones[i].query = g_ascii_strdown(items[i], -1);
        zones[i].info = rbl_zones_find(zones[i].query, &key);
        /* The key stays out of everything shown or stored. */
        zones[i].name = g_strdup(key ? zones[i].query + key + 1 : zones[i].query);
        for (size_t k = 0; k < i; k++)
            if (!strcmp(zones[k].query, zones[i].query)
                || !strcmp(zones[k].name, zones[i].name)) {
                int rc = ad_err_set(err, AD_ERR_CONFIG,
                                    "[reputation] dnsbl_zones: %s is listed twice",
                                    zones[i].name);
                rbl_zones_free(zones, i + 1);
                return rc;
            }
    }
    *out = zones;
    *n = count;
    return 0;
}

/* True when s is a host name: labels of letters, digits, '-' and '_', 1..63
 * bytes each, at most 253 bytes in all. */
static bool dns_name_ok(const char *s)
{
    size_t n = strlen(s), label = 0;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (g_ascii_isalnum(c) || c == '-' || c == '_') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label > 0;
}

int rbl_domains_add(char *const *items, const char *what, struct rbl_addr **out, size_t *n,
                    struct ad_err *err)
{
    for (char *const *it = items; it && *it; it++) {
        const char *d = *it;
        if (g_str_has_prefix(d, "*."))
            d += 2;
        char *name = g_ascii_strdown(d, -1);
        size_t len = strlen(name);
        if (len && name[len - 1] == '.')
            name[--len] = '\0';
        if (!dns_name_ok(name)) {
            int rc = ad_err_set(err, AD_ERR_CONFIG, "%s: '%s' is not a domain name", what, *it);
            g_free(name);
            return rc;
        }
        bool dup = false;
        for (size_t i = 0; i < *n && !dup; i++)
            dup = (*out)[i].domain && !strcmp((*out)[i].text, name);
        if (!dup) {
            if (*n >= RBL_MAX_ADDRESSES) {
                g_free(name);
                return ad_err_set(err, AD_ERR_LIMIT, "%s: more than %d addresses and domains",
                                  what, RBL_MAX_ADDRESSES);
            }
            *out = g_renew(struct rbl_addr, *out, *n + 1);
            struct rbl_addr *a = &(*out)[(*n)++];
            memset(a, 0, sizeof *a);
            a->domain = true;
            g_strlcpy(a->text, name, sizeof a->text);
        }
        g_free(name);
    }
    return 0;
}

bool rbl_qname(const struct rbl_addr *addr, const char *zone, char *buf, size_t size)
{
    int len;
    if (addr->domain) {
        len = snprintf(buf, size, "%s.%s", addr->text, zone);
    } else if (!addr->v6) {
        const unsigned char *b = addr->ip + 12;
        len = snprintf(buf, size, "%u.%u.%u.%u.%s", b[3], b[2], b[1], b[0], zone);
    } else {
        static const char hex[] = "0123456789abcdef";
        char nib[65];
        size_t k = 0;
        for (int i = 15; i >= 0; i--) {
            nib[k++] = hex[addr->ip[i] & 0x0f];
            nib[k++] = '.';
            nib[k++] = hex[addr->ip[i] >> 4];
            nib[k++] = '.';
        }
        nib[k] = '\0';
        len = snprintf(buf, size, "%s%s", nib, zone);
    }
    return len > 0 && (size_t)len < size && len <= 253;
}

/* ---- answers ---------------------------------------------------------------- */

int rbl_answer_codes(const unsigned char *abuf, int alen, uint32_t *codes, size_t max, size_t *n)
{
    *n = 0;
    if (!abuf || alen <= 0)
        return AD_ERR_PARSE;
    struct ares_addrttl ttls[RBL_MAX_CODES];
    int nt = (int)(max < RBL_MAX_CODES ? max : RBL_MAX_CODES);
    struct hostent *host = NULL;
    int rc = ares_parse_a_reply(abuf, alen, &host, ttls, &nt);
    if (host)
        ares_free_hostent(host);
    if (rc != ARES_SUCCESS || nt <= 0)
        return AD_ERR_PARSE;
    for (int i = 0; i < nt && *n < max; i++)
        codes[(*n)++] = ntohl(ttls[i].ipaddr.s_addr);
    return 0;
}

char *rbl_answer_text(const unsigned char *abuf, int alen)
{
    if (!abuf || alen <= 0)
        return NULL;
    struct ares_txt_ext *txt = NULL;
    if (ares_parse_txt_reply_ext(abuf, alen, &txt) != ARES_SUCCESS) {
        if (txt)
            ares_free_data(txt);
        return NULL;
    }
    GString *raw = g_string_new(NULL);
    for (const struct ares_txt_ext *t = txt; t && raw->len < RBL_TEXT_RAW_MAX; t = t->next) {
        if (t->record_start && raw->len)
            g_string_append(raw, " / ");
        size_t take = t->length;
        if (take > RBL_TEXT_RAW_MAX - raw->len)
            take = RBL_TEXT_RAW_MAX - raw->len;
        /* A character-string may hold NUL bytes: they would end the text. */
        for (size_t i = 0; i < take; i++)
            g_string_append_c(raw, t->txt[i] ? (char)t->txt[i] : ' ');
    }
    ares_free_data(txt);
    char *clean = textsafe_line(raw->str, RBL_TEXT_MAX_CHARS);
    g_string_free(raw, TRUE);
    if (!*clean) {
        g_free(clean);
        return NULL;
    }
    return clean;
}

static void code_text(uint32_t c, char *buf, size_t size)
{
    snprintf(buf, size, "%u.%u.%u.%u", c >> 24, (c >> 16) & 0xff, (c >> 8) & 0xff, c & 0xff);
}

enum rbl_status rbl_classify(const struct rbl_zone_info *info, const uint32_t *codes, size_t n,
                             char *why, size_t whylen)
{
    if (whylen)
        why[0] = '\0';
    if (n == 0)
        return RBL_CLEAN;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = codes[i];
        char t[16];
        code_text(c, t, sizeof t);
        if ((c >> 24) != 127) {
            snprintf(why, whylen, "answer %s is outside 127.0.0.0/8: not a DNSBL answer (the "
                     "list's domain may have expired or be parked)", t);
            return RBL_ERROR;
        }
        if (c == IP4(127, 0, 0, 1)) {
            snprintf(why, whylen, "answer 127.0.0.1 is never a listing (RFC 5782): the list "
                     "refuses or cannot answer the query");
            return RBL_ERROR;
        }
        if (info && info->error_mask && (c & info->error_mask) == info->error_net) {
            const char *m = rbl_zones_meaning(info, c);
            snprintf(why, whylen, "answer %s: %s", t, m ? m : "an error code of this list, "
                     "never a listing");
            return RBL_ERROR;
        }
        if (!info && (c & 0xffffff00u) == IP4(127, 255, 255, 0)) {
            snprintf(why, whylen, "answer %s is in 127.255.255.0/24, which lists use for "
                     "refused queries (Spamhaus: public resolver, too many queries): never "
                     "a listing", t);
            return RBL_ERROR;
        }
    }
    return RBL_LISTED;
}

/* ---- resolvers ---------------------------------------------------------------- */

/* Splits at ',', ';' and blanks into nodes (linked); *n = 0: the system's. */
static int parse_resolvers(const char *list, struct ares_addr_port_node nodes[RBL_MAX_RESOLVERS],
                           size_t *n, struct ad_err *err)
{
    *n = 0;
    if (!list)
        return 0;
    size_t total = strlen(list);
    if (total > RBL_RESOLVERS_MAX_LEN)
        return ad_err_set(err, AD_ERR_CONFIG, "[reputation] resolver: longer than %d bytes",
                          RBL_RESOLVERS_MAX_LEN);
    const char *p = list, *end = list + total;
    while (p < end) {
        while (p < end && (*p == ',' || *p == ';' || isspace((unsigned char)*p)))
            p++;
        const char *e = p;
        while (e < end && *e != ',' && *e != ';' && !isspace((unsigned char)*e))
            e++;
        if (e == p)
            break;
        if (*n == RBL_MAX_RESOLVERS)
            return ad_err_set(err, AD_ERR_CONFIG, "[reputation] resolver: more than %d servers",
                              RBL_MAX_RESOLVERS);
        if (!dnswait_parse_server(p, (size_t)(e - p), &nodes[*n]))
            return ad_err_set(err, AD_ERR_CONFIG,
                              "[reputation] resolver: '%.*s' is not IP[:PORT] or [IPv6]:PORT "
                              "(addresses, not names)", (int)(e - p), p);
        if (*n > 0)
            nodes[*n - 1].next = &nodes[*n];
        (*n)++;
        p = e;
    }
    return 0;
}

/* ---- the run ------------------------------------------------------------------ */

enum zone_state { ZS_TESTING, ZS_OK, ZS_FAILED };

/* The RFC 5782 test points, by index: [0] must be listed, [1] must not. */
static const uint32_t test_points[2] = { IP4(127, 0, 0, 2), IP4(127, 0, 0, 1) };

struct zone_run {
    enum zone_state st;
    unsigned tp_sent, tp_done;
    uint8_t tp_status[2];
    const char *tp_why[2];      /* interned */
    size_t next_addr;
    long long sent;             /* queries sent: the budget */
    unsigned timeouts_in_row;
    const char *why;            /* ZS_FAILED: interned */
};

struct slot {
    struct rbl_run *run;
    uint32_t zone;
    int32_t addr;               /* >= 0: an address; -1, -2: test point 0, 1 */
    bool txt;
    int32_t next_free;
};

struct rbl_run {
    const struct rbl_addr *addrs;
    size_t n_addrs;
    const struct rbl_zone *zones;
    size_t n_zones;
    struct rbl_result *results;     /* [a * n_zones + z] */
    struct zone_run *zr;
    GStringChunk *strings;          /* reasons and texts of the results */
    GArray *txt_queue;              /* result indices (uint32) of listings */
    size_t txt_next;
    size_t rr;                      /* next zone to serve first */
    /* While rbl_run_check() runs. */
    ares_channel chan;
    struct slot *slots;
    int32_t free_slot;
    size_t inflight, max_inflight;
    long long budget;
    int timeout_ms;
    bool stopping;
    struct rbl_stats stats;
};

struct rbl_run *rbl_run_new(const struct rbl_addr *addrs, size_t n_addrs,
                            const struct rbl_zone *zones, size_t n_zones)
{
    if (n_addrs > RBL_MAX_ADDRESSES || n_zones > RBL_MAX_ZONES)
        return NULL;
    struct rbl_run *r = g_new0(struct rbl_run, 1);
    r->addrs = addrs;
    r->n_addrs = n_addrs;
    r->zones = zones;
    r->n_zones = n_zones;
    size_t n = n_addrs * n_zones;
    r->results = g_new0(struct rbl_result, n ? n : 1);
    for (size_t i = 0; i < n; i++)
        r->results[i].status = RBL_PENDING;
    r->zr = g_new0(struct zone_run, n_zones ? n_zones : 1);
    r->strings = g_string_chunk_new(4096);
    r->txt_queue = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    return r;
}

struct rbl_run *rbl_run_free(struct rbl_run *r)
{
    if (!r)
        return NULL;
    g_free(r->results);
    g_free(r->zr);
    g_string_chunk_free(r->strings);
    g_array_free(r->txt_queue, TRUE);
    g_free(r);
    return NULL;
}

const struct rbl_result *rbl_run_result(const struct rbl_run *r, size_t a, size_t z)
{
    return &r->results[a * r->n_zones + z];
}

const char *rbl_run_zone_error(const struct rbl_run *r, size_t z)
{
    return r->zr[z].st == ZS_FAILED ? r->zr[z].why : NULL;
}

const struct rbl_stats *rbl_run_stats(const struct rbl_run *r)
{
    return &r->stats;
}

static const char *intern(struct rbl_run *r, const char *s)
{
    return g_string_chunk_insert_const(r->strings, s);
}

static void set_error(struct rbl_run *r, size_t a, size_t z, const char *why)
{
    struct rbl_result *res = &r->results[a * r->n_zones + z];
    res->status = RBL_ERROR;
    res->n_codes = 0;
    res->text = NULL;
    res->why = why;
}

static bool zone_applies(const struct rbl_zone *zone, const struct rbl_addr *a)
{
    bool domain_list = zone->info && zone->info->domains;
    if (a->domain || domain_list)
        return a->domain && domain_list;
    return !a->v6 || !zone->info || zone->info->ipv6;
}

/* The name of test point k (0: must be listed, 1: must not) of zone z. */
static const char *tp_name(const struct rbl_run *r, size_t z, int k);

/* Results of zone z not asked yet: skipped (IPv6 on an IPv4 list) or an error
 * with the zone's reason. */
static void zone_finish(struct rbl_run *r, size_t z)
{
    struct zone_run *zr = &r->zr[z];
    for (; zr->next_addr < r->n_addrs; zr->next_addr++) {
        size_t a = zr->next_addr;
        if (!zone_applies(&r->zones[z], &r->addrs[a]))
            r->results[a * r->n_zones + z].status = RBL_SKIPPED;
        else
            set_error(r, a, z, zr->why);
    }
}

static void zone_fail(struct rbl_run *r, size_t z, const char *why)
{
    struct zone_run *zr = &r->zr[z];
    if (zr->st == ZS_FAILED)
        return;
    zr->st = ZS_FAILED;
    zr->why = intern(r, why);
}

/* What a DNS outcome means for one query; codes and why are filled. */
static enum rbl_status outcome(struct rbl_run *r, size_t z, int status, const unsigned char *abuf,
                               int alen, uint32_t *codes, size_t *n, char *why, size_t whylen)
{
    *n = 0;
    why[0] = '\0';
    switch (status) {
    case ARES_SUCCESS:
        if (rbl_answer_codes(abuf, alen, codes, RBL_MAX_CODES, n) != 0) {
            snprintf(why, whylen, "DNS: an answer without A records or malformed");
            return RBL_ERROR;
        }
        return rbl_classify(r->zones[z].info, codes, *n, why, whylen);
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
        return RBL_CLEAN;
    case ARES_ETIMEOUT:
        snprintf(why, whylen, "DNS: no answer within %d ms", r->timeout_ms);
        return RBL_ERROR;
    case ARES_ECONNREFUSED:
        snprintf(why, whylen, "DNS: the resolver refused the connection (is it running?)");
        return RBL_ERROR;
    case ARES_ESERVFAIL:
        snprintf(why, whylen, "DNS: SERVFAIL (the list's servers failed, or refuse our "
                 "resolver)");
        return RBL_ERROR;
    case ARES_EREFUSED:
        snprintf(why, whylen, "DNS: REFUSED (the resolver or the list refuses our queries)");
        return RBL_ERROR;
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
        snprintf(why, whylen, "not checked: the run's time limit passed");
        return RBL_ERROR;
    default:
        snprintf(why, whylen, "DNS: %s", ares_strerror(status));
        return RBL_ERROR;
    }
}

static const char *tp_name(const struct rbl_run *r, size_t z, int k)
{
    const struct rbl_zone_info *info = r->zones[z].info;
    if (info && info->domains)
        return k == 0 ? info->test_domain : "invalid";
    return k == 0 ? "127.0.0.2" : "127.0.0.1";
}

/* Both test points of zone z are answered: does the zone work for us? */
static void zone_judge(struct rbl_run *r, size_t z)
{
    struct zone_run *zr = &r->zr[z];
    char why[320];
    const char *t0 = tp_name(r, z, 0), *t1 = tp_name(r, z, 1);
    if (zr->tp_status[0] == RBL_ERROR)
        snprintf(why, sizeof why, "the list fails its test point %s: %s", t0, zr->tp_why[0]);
    else if (zr->tp_status[0] != RBL_LISTED)
        snprintf(why, sizeof why, "the list does not list its test point %s: it is "
                 "gone, broken, or does not answer our resolver (some lists answer only "
                 "registered resolvers or keys)", t0);
    else if (zr->tp_status[1] == RBL_LISTED)
        snprintf(why, sizeof why, "the list lists its test point %s: it answers "
                 "'listed' for everything (gone or broken)", t1);
    else if (zr->tp_status[1] == RBL_ERROR)
        snprintf(why, sizeof why, "the list fails its test point %s: %s", t1, zr->tp_why[1]);
    else {
        zr->st = ZS_OK;
        return;
    }
    zone_fail(r, z, why);
}

static void release(struct rbl_run *r, struct slot *s)
{
    int32_t i = (int32_t)(s - r->slots);
    s->next_free = r->free_slot;
    r->free_slot = i;
    r->inflight--;
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    struct slot *s = arg;
    struct rbl_run *r = s->run;
    size_t z = s->zone;
    int32_t a = s->addr;
    bool txt = s->txt;
    release(r, s);
    struct zone_run *zr = &r->zr[z];
    if (status == ARES_SUCCESS || status == ARES_ENOTFOUND || status == ARES_ENODATA)
        r->stats.answers++;
    if (status == ARES_ETIMEOUT) {
        r->stats.timeouts++;
        zr->timeouts_in_row++;
    } else if (status != ARES_ECANCELLED && status != ARES_EDESTRUCTION) {
        zr->timeouts_in_row = 0;
    }
    if (txt) {
        if (status == ARES_SUCCESS) {
            char *t = rbl_answer_text(abuf, alen);
            if (t) {
                r->results[(size_t)a * r->n_zones + z].text = g_string_chunk_insert(r->strings, t);
                g_free(t);
            }
        }
        return;
    }
    uint32_t codes[RBL_MAX_CODES];
    size_t n = 0;
    char why[300];
    enum rbl_status st = outcome(r, z, status, abuf, alen, codes, &n, why, sizeof why);
    if (a < 0) {
        int tp = -a - 1;
        zr->tp_status[tp] = (uint8_t)st;
        zr->tp_why[tp] = intern(r, why);
        if (++zr->tp_done == 2 && zr->st == ZS_TESTING)
            zone_judge(r, z);
        return;
    }
    size_t idx = (size_t)a * r->n_zones + z;
    struct rbl_result *res = &r->results[idx];
    res->status = (uint8_t)st;
    res->n_codes = (uint8_t)n;
    memcpy(res->codes, codes, n * sizeof codes[0]);
    res->why = st == RBL_ERROR ? intern(r, why) : NULL;
    if (st == RBL_LISTED) {
        uint32_t i = (uint32_t)idx;
        g_array_append_val(r->txt_queue, i);
    }
    if (zr->timeouts_in_row >= RBL_ZONE_MAX_TIMEOUTS && zr->st == ZS_OK) {
        snprintf(why, sizeof why, "the list stopped answering (%d queries in a row timed "
                 "out); the remaining addresses were not asked", RBL_ZONE_MAX_TIMEOUTS);
        zone_fail(r, z, why);
    }
}

/* Sends one query: address a (or test point -1 - a) of zone z, A or TXT. */
static void send_query(struct rbl_run *r, size_t z, int32_t a, bool txt)
{
    struct rbl_addr tp;
    const struct rbl_addr *addr = &tp;
    if (a >= 0) {
        addr = &r->addrs[a];
    } else if (r->zones[z].info && r->zones[z].info->domains) {
        memset(&tp, 0, sizeof tp);
        tp.domain = true;
        g_strlcpy(tp.text, tp_name(r, z, -a - 1), sizeof tp.text);
    } else {
        memset(&tp, 0, sizeof tp);
        tp.ip[10] = tp.ip[11] = 0xff;
        uint32_t c = htonl(test_points[-a - 1]);
        memcpy(tp.ip + 12, &c, 4);
    }
    char qname[300];
    if (!rbl_qname(addr, r->zones[z].query, qname, sizeof qname)) {
        /* rbl_zones_problem() keeps zones short enough: not reached. */
        if (a >= 0 && !txt)
            set_error(r, (size_t)a, z, intern(r, "the query name would be too long"));
        return;
    }
    int32_t i = r->free_slot;
    struct slot *s = &r->slots[i];
    r->free_slot = s->next_free;
    s->run = r;
    s->zone = (uint32_t)z;
    s->addr = a;
    s->txt = txt;
    r->inflight++;
    if (r->inflight > r->stats.max_inflight_seen)
        r->stats.max_inflight_seen = r->inflight;
    r->zr[z].sent++;
    r->stats.queries++;
    /* May call on_answer() at once (out of memory): the slot is ready for it. */
    ares_query(r->chan, qname, ns_c_in, txt ? ns_t_txt : ns_t_a, on_answer, s);
}

/* Sends the next query of zone z if it has one; false when it has none now. */
static bool zone_next(struct rbl_run *r, size_t z)
{
    struct zone_run *zr = &r->zr[z];
    switch (zr->st) {
    case ZS_TESTING:
        if (zr->tp_sent < 2) {
            send_query(r, z, -(int32_t)(++zr->tp_sent), false);
            return true;
        }
        return false;
    case ZS_FAILED:
        zone_finish(r, z);
        return false;
    case ZS_OK:
        break;
    }
    while (zr->next_addr < r->n_addrs && !zone_applies(&r->zones[z], &r->addrs[zr->next_addr]))
        r->results[zr->next_addr++ * r->n_zones + z].status = RBL_SKIPPED;
    if (zr->next_addr == r->n_addrs)
        return false;
    if (zr->sent >= r->budget) {
        char why[160];
        snprintf(why, sizeof why, "not asked: this list's query budget of %lld queries per run "
                 "is used up ([reputation] zone_budget)", r->budget);
        zone_fail(r, z, why);
        zone_finish(r, z);
        return false;
    }
    send_query(r, z, (int32_t)zr->next_addr++, false);
    return true;
}

/* Fills the free slots: TXT of listings first, then one query per zone in turn. */
static void fill(struct rbl_run *r)
{
    while (r->inflight < r->max_inflight) {
        bool sent = false;
        while (r->txt_next < r->txt_queue->len && r->inflight < r->max_inflight) {
            uint32_t idx = g_array_index(r->txt_queue, uint32_t, r->txt_next++);
            size_t z = idx % r->n_zones;
            if (r->zr[z].sent >= r->budget)
                continue; /* no budget left: the listing stays without its text */
            send_query(r, z, (int32_t)(idx / r->n_zones), true);
            sent = true;
        }
        for (size_t k = 0; k < r->n_zones && r->inflight < r->max_inflight; k++)
            if (zone_next(r, (r->rr + k) % r->n_zones))
                sent = true;
        if (r->n_zones)
            r->rr = (r->rr + 1) % r->n_zones;
        if (!sent)
            break;
    }
}

/* One round of waiting on the channel (util/dnswait.h), up to its next
 * timeout or the deadline. */
static void wait_once(struct rbl_run *r, long long deadline)
{
    long long left = deadline - now_ms();
    if (left <= 0)
        return;
    if (dnswait_once(r->chan, left) < 0 && errno == EINTR)
        ares_process_fd(r->chan, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

static int open_channel(struct rbl_run *r, const struct rbl_opts *o, struct ad_err *err)
{
    struct ares_addr_port_node nodes[RBL_MAX_RESOLVERS];
    size_t n_nodes = 0;
    int rc = parse_resolvers(o->resolver, nodes, &n_nodes, err);
    if (rc)
        return rc;
    size_t n_servers = n_nodes;
    if (n_servers == 0) {
        ares_channel probe;
        if ((rc = ares_init(&probe)) != ARES_SUCCESS)
            return ad_err_set(err, rc == ARES_ENOMEM ? AD_ERR_NOMEM : AD_ERR_CONFIG,
                              "DNS: reading the system's resolver configuration: %s",
                              ares_strerror(rc));
        struct ares_addr_port_node *list = NULL;
        if (ares_get_servers_ports(probe, &list) == ARES_SUCCESS)
            for (struct ares_addr_port_node *s = list; s; s = s->next)
                n_servers++;
        if (list)
            ares_free_data(list);
        ares_destroy(probe);
        if (n_servers == 0)
            n_servers = 1;
    }
    struct ares_options opts;
    memset(&opts, 0, sizeof opts);
    /* Every server gets RBL_ARES_TRIES tries, each twice as long as the one
     * before: 3 x the first per server fits in timeout_ms. */
    opts.timeout = (int)(o->timeout_ms / (int)(3 * n_servers));
    if (opts.timeout < 50)
        opts.timeout = 50;
    opts.tries = RBL_ARES_TRIES;
    rc = ares_init_options(&r->chan, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (rc != ARES_SUCCESS)
        return ad_err_set(err, rc == ARES_ENOMEM ? AD_ERR_NOMEM : AD_ERR_CONFIG,
                          "DNS: cannot start c-ares: %s", ares_strerror(rc));
    if (n_nodes && (rc = ares_set_servers_ports(r->chan, nodes)) != ARES_SUCCESS) {
        ares_destroy(r->chan);
        return ad_err_set(err, AD_ERR_CONFIG, "[reputation] resolver: %s", ares_strerror(rc));
    }
    return 0;
}

int rbl_run_check(struct rbl_run *r, const struct rbl_opts *o, struct ad_err *err)
{
    long long start = now_ms();
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS)
        return ad_err_set(err, AD_ERR_NOMEM, "DNS: ares_library_init: %s", ares_strerror(rc));
    if ((rc = open_channel(r, o, err)) != 0) {
        ares_library_cleanup();
        return rc;
    }
    r->max_inflight = o->max_inflight < 1 ? 1 : (size_t)o->max_inflight;
    if (r->max_inflight > 4096)
        r->max_inflight = 4096;
    r->budget = o->zone_budget < 1 ? 1 : o->zone_budget;
    r->timeout_ms = o->timeout_ms < 1 ? 1 : o->timeout_ms;
    r->slots = g_new0(struct slot, r->max_inflight);
    for (size_t i = 0; i < r->max_inflight; i++)
        r->slots[i].next_free = i + 1 < r->max_inflight ? (int32_t)(i + 1) : -1;
    r->free_slot = 0;
    /* A safety net over c-ares' own timeouts: every query could time out in
     * turn, max_inflight at a time, in three rounds (test points, addresses,
     * TXT). */
    long long total = (long long)r->n_zones * (2 + 2 * (long long)r->n_addrs);
    long long waves = total / (long long)r->max_inflight + 3;
    long long deadline = start + (long long)r->timeout_ms * waves + 1000;
    for (;;) {
        if (!r->stopping)
            fill(r);
        if (r->inflight == 0)
            break;
        wait_once(r, deadline);
        if (!r->stopping && now_ms() >= deadline) {
            r->stopping = true;
            ares_cancel(r->chan); /* every query left is answered ARES_ECANCELLED */
        }
    }
    ares_destroy(r->chan);
    ares_library_cleanup();
    g_free(r->slots);
    r->slots = NULL;
    /* Whatever was never asked (the time limit) is an error. */
    const char *never = intern(r, "not checked: the run's time limit passed");
    for (size_t i = 0; i < r->n_addrs * r->n_zones; i++)
        if (r->results[i].status == RBL_PENDING)
            set_error(r, i / r->n_zones, i % r->n_zones, never);
    r->stats.elapsed_ms = now_ms() - start;
    return 0;
}

/* ---- configuration check ------------------------------------------------------ */

struct check_ctx {
    const char *name, *text;
    size_t len, n;
    void (*problem)(const char *msg, void *ctx);
    void *pctx;
};

static void report(struct check_ctx *c, const char *group, const char *key, const char *what)
{
    size_t line = config_line_of(c->text, c->len, group, key);
    if (!line)
        line = config_line_of(c->text, c->len, group, NULL);
    char *msg = line ? g_strdup_printf("%s:%zu: [%s] %s: %s", c->name, line, group, key, what)
                     : g_strdup_printf("%s: [%s] %s: %s", c->name, group, key, what);
    c->problem(msg, c->pctx);
    c->n++;
    g_free(msg);
}

size_t rbl_config_check(const struct config *cfg, const char *name, const char *text,
                        size_t len, void (*problem)(const char *msg, void *ctx), void *ctx)
{
    struct check_ctx c = { name ? name : "built-in defaults", text, len, 0, problem, ctx };
    char **zones = cfg->rbl_zones;
    size_t n_zones = 0;
    for (char **z = zones; z && *z; z++, n_zones++) {
        const char *why = rbl_zones_problem(*z);
        if (why) {
            char *m = g_strdup_printf("%s: %s", *z, why);
            report(&c, "reputation", "dnsbl_zones", m);
            g_free(m);
        }
        for (char **y = zones; y < z; y++)
            if (!g_ascii_strcasecmp(*y, *z)) {
                char *m = g_strdup_printf("%s is listed twice", *z);
                report(&c, "reputation", "dnsbl_zones", m);
                g_free(m);
                break;
            }
    }
    if (n_zones > RBL_MAX_ZONES) {
        char *m = g_strdup_printf("%zu zones, at most %d", n_zones, RBL_MAX_ZONES);
        report(&c, "reputation", "dnsbl_zones", m);
        g_free(m);
    }
    struct ares_addr_port_node nodes[RBL_MAX_RESOLVERS];
    size_t n_nodes = 0;
    struct ad_err e = { 0 };
    if (parse_resolvers(cfg->rbl_resolver, nodes, &n_nodes, &e) != 0)
        report(&c, "reputation", "resolver", e.msg + strlen("[reputation] resolver: "));
    /* The addresses matter only when there is something to check them on. */
    bool own = cfg->rbl_addresses && cfg->rbl_addresses[0];
    struct rbl_addr *addrs = NULL;
    size_t n = 0;
    int rc = own ? rbl_addresses_parse(cfg->rbl_addresses, "[reputation] addresses", &addrs, &n,
                                       &e)
                 : rbl_addresses_expand(cfg->our_ips, cfg->n_our_ips, "[network] our_ips",
                                        &addrs, &n, &e);
    g_free(addrs);
    if (rc && (own || n_zones)) {
        const char *msg = strchr(e.msg, ':');
        report(&c, own ? "reputation" : "network", own ? "addresses" : "our_ips",
               msg ? msg + 2 : e.msg);
    }
    /* listing: [reputation] domains must be domain names. */
    struct rbl_addr *doms = NULL;
    size_t n_doms = 0;
    if (rbl_domains_add(cfg->rep_domains, "[reputation] domains", &doms, &n_doms, &e) != 0) {
        const char *msg = strchr(e.msg, ':');
        report(&c, "reputation", "domains", msg ? msg + 2 : e.msg);
    }
    g_free(doms);
    /* listing: [network] host_addresses, HOST=ADDR[,ADDR...] (the policy
     * server's outbound counts, policy/outcount.h, skip what is refused here). */
    for (char **h = cfg->host_addresses; h && *h; h++) {
        const char *why = config_host_addresses_problem(*h);
        if (why) {
            char *m = g_strdup_printf("%s: %s", *h, why);
            report(&c, "network", "host_addresses", m);
            g_free(m);
        }
    }
    return c.n;
}

int rbl_channel_open(const char *resolver, int timeout_ms, ares_channel *chan,
                     struct ad_err *err)
{
    struct rbl_run r;
    memset(&r, 0, sizeof r);
    struct rbl_opts o = { .resolver = resolver, .timeout_ms = timeout_ms };
    int rc = open_channel(&r, &o, err);
    if (rc == 0)
        *chan = r.chan;
    return rc;
}

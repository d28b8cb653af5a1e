/*
 * dmarc_desk.c: files DMARC aggregate reports (see dmarc_desk.h). Called by
 * the desk worker's routing step (src/intake/intake.c) and by `abusedesk
 * dmarc import`. Fails only with the store's errors; the caller's
 * transaction decides what is kept. The outcome's strings are owned by the
 * outcome (dmarc_desk_outcome_clear()).
 */
#include "reputation/dmarc_desk.h"

#include <arpa/inet.h>
#include <glib.h>
#include <string.h>

#include "directory/directory.h"
#include "incident/incident.h"
#include "store/store_audit.h"
#include "util/textsafe.h"

void dmarc_desk_outcome_clear(struct dmarc_desk_outcome *o)
{
    g_free(o->customer_id);
    memset(o, 0, sizeof *o);
}

bool dmarc_desk_ip_is_ours(const struct config *cfg, const char *ip)
{
    if (config_ip_is_ours(cfg, ip))
        return true;
    unsigned char a[16];
    if (inet_pton(AF_INET6, ip, a) != 1) {
        unsigned char v4[4];
        if (inet_pton(AF_INET, ip, v4) != 1)
            return false;
        static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        memcpy(a, mapped, 12);
        memcpy(a + 12, v4, 4);
    }
    for (char **s = cfg->rbl_addresses; s && *s; s++) {
        struct config_net n;
        if (!config_parse_net(*s, &n))
            continue;
        bool in = true;
        for (int b = 0; b < n.prefix && in; b++) {
            unsigned char m = (unsigned char)(0x80u >> (b % 8));
            in = (a[b / 8] & m) == (n.addr[b / 8] & m);
        }
        if (in)
            return true;
    }
    return false;
}

struct src {
    const char *ip;
    uint64_t n;
};

static gint src_cmp(gconstpointer a, gconstpointer b)
{
    const struct src *x = a, *y = b;
    return x->n < y->n ? 1 : x->n > y->n ? -1 : strcmp(x->ip, y->ip);
}

int dmarc_desk_file(const struct config *cfg, struct store *st, const struct dmarc_report *r,
                    int64_t report_id, int64_t at, struct dmarc_desk_outcome *out,
                    struct ad_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = directory_domain_customer(st, r->domain, &out->customer_id, err);
    if (rc < 0)
        return rc;
    rc = 0;
    bool *ours = g_new0(bool, r->n_rows ? r->n_rows : 1);
    GArray *srcs = g_array_new(FALSE, FALSE, sizeof(struct src));
    uint64_t forged = 0;
    for (size_t i = 0; i < r->n_rows; i++) {
        const struct dmarc_row *w = &r->rows[i];
        ours[i] = dmarc_desk_ip_is_ours(cfg, w->source_ip);
        if (!ours[i] && dmarc_row_fails(w) && w->count > 0) {
            uint64_t f = forged + w->count;
            forged = f < forged ? UINT64_MAX : f;
            struct src s = { w->source_ip, w->count };
            g_array_append_val(srcs, s);
        }
    }
    out->forged = forged;
    char *key = g_strdup_printf("%s\n%s\n%s\n%lld", r->email ? r->email : r->org_name ? r->org_name : "",
                                r->report_id ? r->report_id : "", r->domain, (long long)r->begin);
    struct store_dmarc_report sr = {
        .report_key = key, .org_name = r->org_name, .email = r->email,
        .report_id = r->report_id, .domain = r->domain, .policy = r->p[0] ? r->p : NULL,
        .begin_at = r->begin, .end_at = r->end ? r->end : at, .received_at = at,
        .source_report = report_id, .customer_id = out->customer_id,
        .total = r->total > INT64_MAX ? INT64_MAX : (int64_t)r->total,
        .forged = forged > INT64_MAX ? INT64_MAX : (int64_t)forged,
    };
    rc = store_audit_dmarc_add(st, &sr, &out->dmarc_id, err);
    if (rc < 0)
        goto out;
    if (rc == 0) {
        out->duplicate = true;
        goto out;
    }
    rc = 0;
    for (size_t i = 0; i < r->n_rows && rc == 0; i++) {
        const struct dmarc_row *w = &r->rows[i];
        struct store_dmarc_row sw = {
            .source_ip = w->source_ip,
            .messages = (int64_t)w->count,
            .disposition = w->disposition[0] ? w->disposition : NULL,
            .dkim = w->dkim[0] ? w->dkim : NULL,
            .spf = w->spf[0] ? w->spf : NULL,
            .header_from = w->header_from, .envelope_from = w->envelope_from,
            .dkim_domain = w->dkim_domain, .dkim_result = w->dkim_result[0] ? w->dkim_result : NULL,
            .spf_domain = w->spf_domain, .spf_result = w->spf_result[0] ? w->spf_result : NULL,
            .ours = ours[i],
        };
        rc = store_audit_dmarc_row_add(st, out->dmarc_id, &sw, err);
    }
    if (rc || !out->customer_id || forged == 0)
        goto out;
    g_array_sort(srcs, src_cmp);
    GString *top = g_string_new(NULL);
    for (guint i = 0; i < srcs->len && i < 5; i++) {
        const struct src *s = &g_array_index(srcs, struct src, i);
        g_string_append_printf(top, "%s%s (%llu)", i ? ", " : "", s->ip, (unsigned long long)s->n);
    }
    char *org = textsafe_line(r->org_name ? r->org_name : r->email ? r->email : "?", 80);
    char *rid = textsafe_line(r->report_id ? r->report_id : "?", 80);
    char *detail = g_strdup_printf(
        "DMARC report of %s (report %s) for %s: %llu of %llu messages failed DMARC (neither "
        "DKIM nor SPF aligned) from %u addresses outside our ranges: forgery of the customer's "
        "domain (joe job), nothing to lock; largest sources: %s",
        org, rid, r->domain, (unsigned long long)forged, (unsigned long long)r->total,
        srcs->len, top->str);
    rc = incident_joejob_evidence(st, out->customer_id, r->domain, report_id, at, detail,
                                  &out->incident_id, &out->opened, err);
    if (rc == 0)
        rc = store_audit_dmarc_set_incident(st, out->dmarc_id, out->incident_id, err);
    g_free(detail);
    g_free(org);
    g_free(rid);
    g_string_free(top, TRUE);
out:
    g_free(key);
    g_free(ours);
    g_array_free(srcs, TRUE);
    return rc < 0 ? rc : 0;
}

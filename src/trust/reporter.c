/*
 * reporter.c: the reporter of a report (see reporter.h). Called by the desk for
 * every new report before it is scored. Reads our MX's trusted
 * Authentication-Results first; only when they prove no configured provider
 * (and [intake] verify_dkim is on) are the message's DKIM signatures verified
 * here, with keys from DNS. Nothing here fails: a report nobody vouches for is
 * simply unauthenticated, with the reason in `how`.
 */
#include "reporter.h"

#include <glib.h>
#include <string.h>

#include "trust/dkimverify.h"
#include "util/log.h"

/* For the trust zone of authres.c: a Received "by" host is ours when it is one
 * of our hosts; an address of a from clause only when it is one of [intake]
 * trusted_relays (our MX handing the report on). our_ips is not enough: it
 * lists web servers too, where customers run code that can talk SMTP to our MX
 * and write any header, and so is loopback on such a host. */
static bool host_is_ours(const char *h, void *ctx)
{
    size_t n = strlen(h);
    if (n > 2 && h[0] == '[' && h[n - 1] == ']') {
        char ip[64];
        const char *a = h + 1;
        if (g_ascii_strncasecmp(a, "ipv6:", 5) == 0)
            a += 5;
        size_t len = (size_t)(h + n - 1 - a);
        if (len == 0 || len >= sizeof ip)
            return false;
        memcpy(ip, a, len);
        ip[len] = '\0';
        return config_ip_is_trusted_relay(ctx, ip);
    }
    return config_host_is_ours(ctx, h);
}

/* Only a signer of a configured provider can make a report authenticated:
 * other signatures are not worth a DNS lookup. */
static bool provider_signer(const char *domain, void *ctx)
{
    return config_provider_signed(ctx, domain) != NULL;
}

static size_t header_len(const char *msg, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (msg[i] != '\n')
            continue;
        if (msg[i + 1] == '\n')
            return i + 1;
        if (msg[i + 1] == '\r' && i + 2 < len && msg[i + 2] == '\n')
            return i + 1;
    }
    return len;
}

void reporter_from_headers(const struct config *cfg, const char *head, size_t len,
                           const char *claimed_domain, struct reporter *out)
{
    memset(out, 0, sizeof *out);
    g_strlcpy(out->claimed, claimed_domain ? claimed_domain : "", sizeof out->claimed);
    authres_trusted(head, header_len(head, len), (const char *const *)cfg->authserv_ids,
                    host_is_ours, (void *)cfg, &out->ar);
    /* DKIM first (the signer), then DMARC (the aligned From), then SPF. */
    static const char *const order[] = { "dkim", "dmarc", "spf" };
    for (size_t m = 0; m < G_N_ELEMENTS(order) && !out->authenticated; m++)
        for (size_t i = 0; i < out->ar.n_passes; i++) {
            const struct authres_pass *p = &out->ar.passes[i];
            if (strcmp(p->method, order[m]))
                continue;
            const struct config_provider *pv = config_provider_signed(cfg, p->domain);
            if (!pv)
                continue;
            out->authenticated = true;
            out->provider = pv;
            g_snprintf(out->how, sizeof out->how,
                       "our MX (%s) verified %s=pass for %s: provider %s", out->ar.authserv_id,
                       p->method, p->domain, pv->domain);
            break;
        }
    if (out->authenticated)
        return;
    if (out->ar.n_trusted_headers) {
        GString *g = g_string_new(NULL);
        for (size_t i = 0; i < out->ar.n_passes && i < 4; i++)
            g_string_append_printf(g, "%s%s=pass %s", i ? ", " : "", out->ar.passes[i].method,
                                   out->ar.passes[i].domain);
        g_snprintf(out->how, sizeof out->how,
                   "not authenticated: our MX (%s) vouches for %s, none of them a signer of a "
                   "provider in [providers]",
                   out->ar.authserv_id, g->len ? g->str : "nothing (no pass)");
        g_string_free(g, TRUE);
    } else if (!cfg->authserv_ids || !cfg->authserv_ids[0]) {
        g_strlcpy(out->how, "not authenticated: no trusted Authentication-Results ([intake] "
                            "authserv_id is not set)",
                  sizeof out->how);
    } else {
        g_snprintf(out->how, sizeof out->how,
                   "not authenticated: no Authentication-Results header of our MX above the "
                   "sender's headers%s",
                   out->ar.n_ignored ? " (one with our id further down is forged: ignored)" : "");
    }
}

void reporter_identify(const struct config *cfg, struct dkimverify **dv, const char *msg,
                       size_t len, const char *claimed_domain, struct reporter *out)
{
    reporter_from_headers(cfg, msg, len, claimed_domain, out);
    reporter_verify_dkim(cfg, dv, msg, len, out);
}

void reporter_verify_dkim(const struct config *cfg, struct dkimverify **dv, const char *msg,
                          size_t len, struct reporter *out)
{
    if (out->authenticated || !cfg->verify_dkim || !dv)
        return;
    if (!*dv) {
        struct ad_err err = { 0 };
        int ms = cfg->dns_timeout > 0 && cfg->dns_timeout < 60 ? (int)cfg->dns_timeout * 1000 : 3000;
        if (dkimverify_new(cfg->resolver, ms, dv, &err) == 0)
            dkimverify_set_filter(*dv, provider_signer, (void *)cfg);
        else {
            size_t n = strlen(out->how);
            g_snprintf(out->how + n, sizeof out->how - n, "; DKIM not verified: %s", err.msg);
            return;
        }
    }
    struct dkimverify_result res;
    int n = dkimverify_message(*dv, msg, len, &res);
    if (res.n_sigs == 0) {
        size_t k = strlen(out->how);
        g_snprintf(out->how + k, sizeof out->how - k, "; no DKIM signature");
        return;
    }
    GString *g = g_string_new(NULL);
    for (size_t i = 0; i < res.n_sigs; i++) {
        const struct dkimverify_sig *s = &res.sigs[i];
        if (n > 0 && s->pass && !out->authenticated) {
            const struct config_provider *pv = config_provider_signed(cfg, s->domain);
            if (pv) {
                out->authenticated = true;
                out->provider = pv;
                g_snprintf(out->how, sizeof out->how,
                           "DKIM signature of %s (selector %s) verified by abusedesk: provider %s",
                           s->domain, s->selector, pv->domain);
                break;
            }
        }
        g_string_append_printf(g, "%s%s: %s", g->len ? ", " : "", s->domain,
                               s->pass ? "valid, not a signer of a provider in [providers]"
                                       : s->result);
    }
    if (!out->authenticated) {
        size_t k = strlen(out->how);
        g_snprintf(out->how + k, sizeof out->how - k, "; DKIM: %s", g->str);
    }
    g_string_free(g, TRUE);
}

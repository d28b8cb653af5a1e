/*
 * policy_proto.c: parses one policy delegation request (see policy_proto.h).
 * Called by the policy server for each complete request and by the fuzz target.
 * Never allocates; every pointer it returns points into the caller's buffer.
 */
#include "policy_proto.h"

#include <string.h>

static int want(const char *name, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(name, lit, n) == 0;
}

int policy_parse(char *buf, size_t len, struct policy_req *out, struct ad_err *err)
{
    memset(out, 0, sizeof *out);
    if (len > POLICY_MAX_REQUEST)
        return ad_err_set(err, AD_ERR_PARSE, "request of %zu bytes (limit %d)", len,
                          POLICY_MAX_REQUEST);
    if (memchr(buf, '\0', len))
        return ad_err_set(err, AD_ERR_PARSE, "NUL byte in request");
    char *p = buf, *end = buf + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return ad_err_set(err, AD_ERR_PARSE, "incomplete request: no empty line at its end");
        char *le = nl;
        char *next = nl + 1;
        if (le > p && le[-1] == '\r')
            le--;
        if (le == p)
            break; /* the empty line: end of the request */
        if (++out->n_attrs > POLICY_MAX_ATTRS)
            return ad_err_set(err, AD_ERR_PARSE, "more than %d attributes", POLICY_MAX_ATTRS);
        char *eq = memchr(p, '=', (size_t)(le - p));
        if (!eq) {
            int shown = le - p > 40 ? 40 : (int)(le - p);
            return ad_err_set(err, AD_ERR_PARSE, "line %zu has no '=': \"%.*s\"", out->n_attrs,
                              shown, p);
        }
        if (eq == p)
            return ad_err_set(err, AD_ERR_PARSE, "line %zu has an empty name", out->n_attrs);
        size_t nl_len = (size_t)(eq - p);
        char *val = eq + 1;
        *eq = '\0';
        *le = '\0';
        const char *v = *val ? val : NULL;
        if (want(p, nl_len, "request"))
            out->request = v;
        else if (want(p, nl_len, "protocol_state"))
            out->protocol_state = v;
        else if (want(p, nl_len, "sasl_username"))
            out->sasl_username = v;
        else if (want(p, nl_len, "sender"))
            out->sender = v;
        else if (want(p, nl_len, "recipient"))
            out->recipient = v;
        else if (want(p, nl_len, "client_address"))
            out->client_address = v;
        else if (want(p, nl_len, "server_address"))
            out->server_address = v;
        else if (want(p, nl_len, "instance"))
            out->instance = v;
        else if (want(p, nl_len, "recipient_count"))
            out->recipient_count = v;
        p = next;
    }
    if (p >= end)
        return ad_err_set(err, AD_ERR_PARSE, "incomplete request: no empty line at its end");
    if (out->request && strcmp(out->request, "smtpd_access_policy") != 0)
        return ad_err_set(err, AD_ERR_PARSE, "unknown request type \"%.40s\"", out->request);
    return 0;
}

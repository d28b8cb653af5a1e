/*
 * dsn_rhost.c: reasons that some large mailbox providers mean by their own reply
 * texts and codes, keyed by the provider's host names. dsn.c calls
 * dsn_rhost_reason() for each failed recipient before the generic classifier
 * (reason.c): a provider's documented wording ("dd This user doesn't have a ...
 * account", Orange's "LPN007_416" labels) is more precise than generic phrases.
 * The provider is found from the remote MTA's host name or, failing that, from
 * the recipient's domain. Nothing here allocates or fails: an unknown provider
 * or an unknown text gives NULL. Returned strings are static.
 */
#include "dsn_priv.h"

#include <stdlib.h>
#include <string.h>

/* A reason and the phrases (matched case-insensitively) a provider uses for it. */
struct rhost_phrase {
    const char *reason;
    const char *phrase;
};

enum rhost_kind {
    RHOST_NONE,
    RHOST_KDDI,
    RHOST_YAHOO,
    RHOST_DOCOMO,
    RHOST_ORANGE,
    RHOST_MESSAGELABS,
    RHOST_OUTLOOK,
    RHOST_VERIZON,
};

/* Host name suffixes of each provider's inbound MTAs. A leading dot means "a
 * subdomain of"; without one the name must match whole or as a suffix label. */
static const struct {
    const char *suffix;
    enum rhost_kind kind;
} rhost_hosts[] = {
    {".ezweb.ne.jp", RHOST_KDDI},         {"msmx.au.com", RHOST_KDDI},
    {".yahoodns.net", RHOST_YAHOO},       {"mfsmax.docomo.ne.jp", RHOST_DOCOMO},
    {".laposte.net", RHOST_ORANGE},       {".orange.fr", RHOST_ORANGE},
    {".wanadoo.fr", RHOST_ORANGE},        {".messagelabs.com", RHOST_MESSAGELABS},
    {".hotmail.com", RHOST_OUTLOOK},
    {".vtext.com", RHOST_VERIZON},        {".vzwpix.com", RHOST_VERIZON},
};

/* Verizon Wireless's SMS/MMS gateways: their notices always name a missing
 * handset number, whatever the SMTP stage. */
static const struct rhost_phrase verizon_phrases[] = {
    {"userunknown", "no such user here"},
    {"userunknown", "no valid recipients for this mm"},
};

/* au (KDDI): "550 : User unknown" is the answer of the recipient's reception
 * filter, "550 <addr>: User unknown" a missing mailbox. */
static const struct rhost_phrase kddi_phrases[] = {
    {"filtered", "550 : user unknown"},
    {"userunknown", ">: user unknown"},
};

/* Yahoo Inc. (senders.yahooinc.com error codes). */
static const struct rhost_phrase yahoo_phrases[] = {
    {"authfailure", "requires all senders to authenticate"},
    {"blocked", "ip is in spamhaus"},
    {"blocked", "on spamhaus xbl"},
    {"norelaying", "relaying denied for"},
    {"notcompliantrfc", "headers are not rfc compliant"},
    {"policyviolation", "not accepted for policy reasons"},
    {"rejected", "deferred due to unexpected volume or user complaints"},
    {"rejected", "unresolvable rfc.5321"},
    {"rejected", "will be permanently deferred"},
    {"speeding", "receiving mail too quickly"},
    {"suspend", " is no longer valid."},
    {"suspend", "this mailbox is disabled"},
    {"toomanyconn", "max message per connection"},
    {"userunknown", "this user doesn't have a "},
    {"userunknown", "mailbox not found"},
};

/* Outlook.com (Hotmail) consumer mailboxes. */
static const struct rhost_phrase outlook_phrases[] = {
    {"userunknown", "requested action not taken: mailbox unavailable"},
    {"userunknown", "mailbox unavailable"},
    {"mailboxfull", "mailbox is full"},
    {"blocked", "part of their network is on our block list"},
    {"suspend", "mailbox is inactive"},
};

/* Symantec Email Security.cloud (MessageLabs) documented replies. */
static const struct rhost_phrase messagelabs_phrases[] = {
    {"authfailure", "domain authentication fail"},
    {"badreputation", "connection rejected by policy"},
    {"blocked", "your ip is in the pbl"},
    {"blocked", "your ip address has been"},
    {"contenterror", "stray linefeeds in message"},
    {"failedstarttls", "tls/sslv3 connection required"},
    {"norelaying", " as a relay, "},
    {"notcompliantrfc", "this message is not rfc 5322"},
    {"rejected", "sender envelope domain not allowed"},
    {"rejected", "your domain has been blocked"},
    {"rejected", "your email address has been blocked"},
    {"rejected", "badmailfrom list"},
    {"rejected", "has been blacklisted"},
    {"securityerror", "turn on smtp authentication"},
    {"spamdetected", "message filtered"},
    {"spamdetected", "filtered by outbound scanning"},
    {"toomanyconn", "too many recipients received this hour"},
    {"toomanyconn", "too many messages"},
    {"userunknown", "no such user"},
    {"userunknown", "invalid recipient"},
    {"userunknown", "mailbox is not allowed"},
};

/* Orange and La Poste: the number at the end of a "LPN007_416" / "OFR_416" label. */
static const struct {
    int code;
    const char *reason;
} orange_codes[] = {
    {101, "blocked"},      {102, "blocked"},       {103, "blocked"},
    {104, "toomanyconn"},  {305, "securityerror"}, {401, "authfailure"},
    {402, "securityerror"}, {403, "rejected"},     {405, "rejected"},
    {415, "rejected"},     {416, "userunknown"},   {417, "mailboxfull"},
    {420, "suspend"},      {421, "rejected"},      {426, "suspend"},
    {505, "systemerror"},  {506, "spamdetected"},  {510, "blocked"},
    {514, "mesgtoobig"},   {517, "authfailure"},   {630, "policyviolation"},
    {999, "blocked"},
};

static bool host_matches(const char *host, const char *suffix)
{
    size_t hl = strlen(host);
    size_t sl = strlen(suffix);
    if (suffix[0] == '.') {
        /* "ezweb.ne.jp" itself is the provider too. */
        if (hl == sl - 1 && g_ascii_strcasecmp(host, suffix + 1) == 0)
            return true;
        return hl > sl && g_ascii_strcasecmp(host + hl - sl, suffix) == 0;
    }
    if (hl == sl)
        return g_ascii_strcasecmp(host, suffix) == 0;
    return hl > sl && host[hl - sl - 1] == '.' && g_ascii_strcasecmp(host + hl - sl, suffix) == 0;
}

/* The host name of a Remote-MTA value ("dns; mx.example.org [192.0.2.1]"), copied
 * into out (NUL-terminated, at most outsz - 1 bytes). */
static void host_of(const char *s, char *out, size_t outsz)
{
    out[0] = '\0';
    if (!s)
        return;
    const char *semi = strchr(s, ';');
    if (semi)
        s = semi + 1;
    while (*s == ' ' || *s == '\t' || *s == '[')
        s++;
    size_t n = 0;
    while (s[n] && (g_ascii_isalnum(s[n]) || s[n] == '.' || s[n] == '-') && n + 1 < outsz)
        n++;
    while (n > 0 && s[n - 1] == '.')
        n--;
    memcpy(out, s, n);
    out[n] = '\0';
}

static enum rhost_kind kind_of(const char *host)
{
    if (!host || !*host)
        return RHOST_NONE;
    for (size_t i = 0; i < G_N_ELEMENTS(rhost_hosts); i++)
        if (host_matches(host, rhost_hosts[i].suffix))
            return rhost_hosts[i].kind;
    return RHOST_NONE;
}

static const char *phrase_lookup(const struct rhost_phrase *tab, size_t n, const char *diag)
{
    size_t dl = strlen(diag);
    for (size_t i = 0; i < n; i++)
        if (dsn_memcasestr(diag, dl, tab[i].phrase))
            return tab[i].reason;
    return NULL;
}

/* Orange's label: "LPN", "OFR" or "OUK", optional digits and '_', then the code. */
static const char *orange_reason(const char *diag)
{
    static const char *const labels[] = {"LPN", "OFR", "OUK"};
    size_t dl = strlen(diag);
    for (size_t k = 0; k < G_N_ELEMENTS(labels); k++) {
        const char *hit = NULL;
        for (const char *p = dsn_memcasestr(diag, dl, labels[k]); p;
             p = dsn_memcasestr(p + 3, dl - (size_t)(p + 3 - diag), labels[k]))
            hit = p;
        if (!hit)
            continue;
        const char *p = hit + 3;
        const char *end = p;
        while (*end && (g_ascii_isalnum(*end) || *end == '_'))
            end++;
        if (end - p < 3 || !g_ascii_isdigit(end[-1]) || !g_ascii_isdigit(end[-2])
            || !g_ascii_isdigit(end[-3]))
            continue;
        int code = (end[-3] - '0') * 100 + (end[-2] - '0') * 10 + (end[-1] - '0');
        for (size_t i = 0; i < G_N_ELEMENTS(orange_codes); i++)
            if (orange_codes[i].code == code)
                return orange_codes[i].reason;
        return NULL;
    }
    if (dsn_memcasestr(diag, dl, "spf/dns de votre nom de domaine"))
        return "authfailure";
    return NULL;
}

const char *dsn_rhost_reason(const char *rmta, const char *rcpt, const char *lmta,
                             const char *diag, const char *status, const char *cmd)
{
    if (!diag || !*diag)
        return NULL;
    char host[256];
    host_of(rmta, host, sizeof host);
    enum rhost_kind kind = kind_of(host);
    if (kind == RHOST_NONE && rcpt) {
        const char *at = strrchr(rcpt, '@');
        if (at)
            kind = kind_of(at + 1);
    }
    if (kind == RHOST_NONE && lmta) {
        host_of(lmta, host, sizeof host);
        kind = kind_of(host);
    }
    switch (kind) {
    case RHOST_KDDI:
        return phrase_lookup(kddi_phrases, G_N_ELEMENTS(kddi_phrases), diag);
    case RHOST_YAHOO:
        return phrase_lookup(yahoo_phrases, G_N_ELEMENTS(yahoo_phrases), diag);
    case RHOST_MESSAGELABS:
        return phrase_lookup(messagelabs_phrases, G_N_ELEMENTS(messagelabs_phrases), diag);
    case RHOST_OUTLOOK:
        return phrase_lookup(outlook_phrases, G_N_ELEMENTS(outlook_phrases), diag);
    case RHOST_ORANGE:
        return orange_reason(diag);
    case RHOST_VERIZON:
        return phrase_lookup(verizon_phrases, G_N_ELEMENTS(verizon_phrases), diag);
    case RHOST_DOCOMO:
        /* docomo answers its reception filter's refusal after DATA with the same
         * "550 Unknown user" it uses for a missing mailbox. */
        if (status && strcmp(status, "5.2.0") == 0)
            return "filtered";
        if (cmd && g_ascii_strcasecmp(cmd, "DATA") == 0
            && dsn_memcasestr(diag, strlen(diag), "550 unknown user"))
            return "rejected";
        if (dsn_memcasestr(diag, strlen(diag), "550 unknown user"))
            return "userunknown";
        if (dsn_memcasestr(diag, strlen(diag), "552 too much mail data"))
            return "mailboxfull";
        if (dsn_memcasestr(diag, strlen(diag), "552 too many recipients"))
            return "toomanyconn";
        return NULL;
    case RHOST_NONE:
        break;
    }
    return NULL;
}

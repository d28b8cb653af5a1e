/*
 * rbl_zones.c: the built-in knowledge of well-known DNSBLs (see rbl_zones.h).
 * Called by rbl.c to read answers and by `abusedesk rbl` for the delisting
 * steps and the configuration check. Pure table lookups: nothing is
 * allocated, nothing fails; every returned pointer is static.
 *
 * Sources: each list's own usage and return code pages (Spamhaus DNSBL Usage
 * FAQ and its 2019 note on the 127.255.255.0/24 error range, Abusix "Production
 * Zones", Mailspike "IP Verify", UCEPROTECT and backscatterer.org policies,
 * SpamCop and PSBL FAQs). Every list here publishes the RFC 5782 test point
 * 127.0.0.2; rbl.c checks it before it believes a list.
 */
#include "reputation/rbl_zones.h"

#include <string.h>
#include <strings.h>

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* A zone we query is at most this long, so that the longest query name (an
 * IPv6 address in nibble form: 64 characters) still fits in 253. */
#define RBL_ZONE_NAME_MAX 189

static const struct rbl_code spamhaus_codes[] = {
    { IP4(127, 0, 0, 2), "SBL: a spam source or spam operation (Spamhaus Block List)" },
    { IP4(127, 0, 0, 3), "SBL CSS: low-reputation or snowshoe sending seen by Spamhaus" },
    { IP4(127, 0, 0, 4), "XBL: an exploited or infected host (botnet, proxy; formerly CBL)" },
    { IP4(127, 0, 0, 5), "XBL: an exploited or infected host" },
    { IP4(127, 0, 0, 6), "XBL: an exploited or infected host" },
    { IP4(127, 0, 0, 7), "XBL: an exploited or infected host" },
    { IP4(127, 0, 0, 9), "SBL DROP: a hijacked or criminal netblock" },
    { IP4(127, 0, 0, 10), "PBL (ISP maintained): the range's owner says it should not send "
                          "mail directly" },
    { IP4(127, 0, 0, 11), "PBL (Spamhaus maintained): an end-user range that should not send "
                          "mail directly" },
    { 0, NULL },
};

static const struct rbl_code spamhaus_errors[] = {
    { IP4(127, 255, 255, 252), "error: typing error in the DNSBL name" },
    { IP4(127, 255, 255, 254), "error: queried through a public or open resolver (or one with "
                               "generic reverse DNS): use your own resolver or Spamhaus DQS" },
    { IP4(127, 255, 255, 255), "error: excessive number of queries from this resolver: use "
                               "Spamhaus DQS" },
    { 0, NULL },
};

#define SPAMHAUS_PROCEDURE                                                                  \
    "Look the address up at check.spamhaus.org, which names the list (SBL, CSS, XBL, PBL) " \
    "and the cause; stop the cause first (lock the account or script that sent the spam, "  \
    "clean the infected host), then request removal there. A PBL listing of a real mail "   \
    "server is lifted by the range's owner or on the same page."

static const struct rbl_code barracuda_codes[] = {
    { IP4(127, 0, 0, 2), "Barracuda Reputation Block List: poor sending reputation" },
    { 0, NULL },
};

static const struct rbl_code spamcop_codes[] = {
    { IP4(127, 0, 0, 2), "SpamCop: reported as a spam source by SpamCop users or traps in the "
                         "last 24 hours" },
    { 0, NULL },
};

static const struct rbl_code uce1_codes[] = {
    { IP4(127, 0, 0, 2), "UCEPROTECT level 1: this address hit UCEPROTECT's spam traps" },
    { 0, NULL },
};

static const struct rbl_code uce2_codes[] = {
    { IP4(127, 0, 0, 2), "UCEPROTECT level 2: the allocation around this address has too many "
                         "level 1 listings" },
    { 0, NULL },
};

static const struct rbl_code uce3_codes[] = {
    { IP4(127, 0, 0, 2), "UCEPROTECT level 3: the whole network (ASN) has too many level 1 "
                         "listings" },
    { 0, NULL },
};

static const struct rbl_code psbl_codes[] = {
    { IP4(127, 0, 0, 2), "PSBL: this address hit PSBL's spam traps" },
    { 0, NULL },
};

static const struct rbl_code mailspike_codes[] = {
    { IP4(127, 0, 0, 2), "Mailspike zero-hour: part of a distributed spam wave" },
    { IP4(127, 0, 0, 10), "Mailspike reputation L5: worst possible" },
    { IP4(127, 0, 0, 11), "Mailspike reputation L4: very bad" },
    { IP4(127, 0, 0, 12), "Mailspike reputation L3: bad" },
    { IP4(127, 0, 0, 13), "Mailspike reputation L2: suspicious behaviour" },
    { IP4(127, 0, 0, 14), "Mailspike reputation L1: neutral, probably spam" },
    { 0, NULL },
};

static const struct rbl_code abusix_codes[] = {
    { IP4(127, 0, 0, 2), "Abusix black: hit Abusix's pristine spam traps" },
    { IP4(127, 0, 0, 3), "Abusix black: very low reputation (traps and partner feeds)" },
    { IP4(127, 0, 0, 4), "Abusix exploit: a compromised or infected host, proxy, VPN or TOR "
                         "exit" },
    { IP4(127, 0, 0, 11), "Abusix policy: generic reverse DNS (looks like an end-user "
                          "address)" },
    { IP4(127, 0, 0, 12), "Abusix policy: no reverse DNS" },
    { IP4(127, 0, 0, 200), "Abusix black: a network entry Abusix maintains by hand" },
    { 0, NULL },
};

static const struct rbl_code backscatterer_codes[] = {
    { IP4(127, 0, 0, 2), "backscatterer.org: sends bounces or auto-replies to forged senders, "
                         "or sender callouts" },
    { 0, NULL },
};

/* listing: domain lists. Spamhaus DBL codes from its usage FAQ (127.0.1.0/24;
 * 127.0.1.1xx: a legitimate domain abused); SURBL answers a bit mask in
 * 127.0.0.x; URIBL 127.0.0.2/4/8 (127.0.0.1: our queries are refused, an
 * error for every list). */
static const struct rbl_code dbl_codes[] = {
    { IP4(127, 0, 1, 2), "DBL: a spam domain" },
    { IP4(127, 0, 1, 4), "DBL: a phishing domain" },
    { IP4(127, 0, 1, 5), "DBL: a malware domain" },
    { IP4(127, 0, 1, 6), "DBL: a botnet command and control domain" },
    { IP4(127, 0, 1, 102), "DBL: an abused legitimate domain (spam)" },
    { IP4(127, 0, 1, 103), "DBL: an abused legitimate domain (redirector or URL shortener)" },
    { IP4(127, 0, 1, 104), "DBL: an abused legitimate domain (phishing)" },
    { IP4(127, 0, 1, 105), "DBL: an abused legitimate domain (malware)" },
    { IP4(127, 0, 1, 106), "DBL: an abused legitimate domain (botnet C&C)" },
    { 0, NULL },
};

static const struct rbl_code surbl_codes[] = {
    { IP4(127, 0, 0, 8), "SURBL PH: phishing" },
    { IP4(127, 0, 0, 16), "SURBL MW: malware" },
    { IP4(127, 0, 0, 64), "SURBL ABUSE: spam and abuse" },
    { IP4(127, 0, 0, 128), "SURBL CR: cracked (compromised) site" },
    { 0, NULL },
};

static const struct rbl_code uribl_codes[] = {
    { IP4(127, 0, 0, 2), "URIBL black: seen in spam, high confidence" },
    { IP4(127, 0, 0, 4), "URIBL grey: bulk mail, seen in unsolicited mail" },
    { IP4(127, 0, 0, 8), "URIBL red: in the mail of newly seen spam runs" },
    { 0, NULL },
};

static const struct rbl_code abusix_dblack_codes[] = {
    { IP4(127, 0, 0, 2), "Abusix dblack: a domain seen in spam" },
    { 0, NULL },
};

#define DBL_PROCEDURE                                                                            "Look the domain up at check.spamhaus.org; find and stop what put it there (a hacked "      "site under the domain, spam sent with it in links or as HELO or sender), then request "     "removal on that page."

static const struct rbl_zone_info zones[] = {
    { "zen.spamhaus.org", "Spamhaus ZEN", false, true, spamhaus_codes, IP4(127, 255, 255, 0),
      0xffffff00u, spamhaus_errors, "https://check.spamhaus.org/", SPAMHAUS_PROCEDURE,
      false, NULL },
    { "zen.dq.spamhaus.net", "Spamhaus ZEN (DQS)", true, true, spamhaus_codes,
      IP4(127, 255, 255, 0), 0xffffff00u, spamhaus_errors, "https://check.spamhaus.org/",
      SPAMHAUS_PROCEDURE, false, NULL },
    { "b.barracudacentral.org", "Barracuda BRBL", false, false, barracuda_codes, 0, 0, NULL,
      "https://www.barracudacentral.org/rbl/removal-request",
      "Stop the cause, then send the removal request at barracudacentral.org (address, "
      "contact, what was fixed); it is handled in about 12 hours. Barracuda answers only "
      "resolvers registered with it.", false, NULL },
    { "bl.spamcop.net", "SpamCop", false, false, spamcop_codes, 0, 0, NULL,
      "https://www.spamcop.net/bl.shtml",
      "There is no removal request: the listing expires by itself 24 hours after the last "
      "spam report; find and stop the source (the lookup page tells when reports came).",
      false, NULL },
    { "dnsbl-1.uceprotect.net", "UCEPROTECT level 1", false, false, uce1_codes, 0, 0, NULL,
      "https://www.uceprotect.net/en/rblcheck.php",
      "Stop the source; the listing expires by itself 7 days after the last spam trap hit "
      "(the paid express delisting is not needed).", false, NULL },
    { "dnsbl-2.uceprotect.net", "UCEPROTECT level 2", false, false, uce2_codes, 0, 0, NULL,
      "https://www.uceprotect.net/en/rblcheck.php",
      "Lists the allocation because of level 1 listings in it: clean those addresses; it "
      "expires once they have expired.", false, NULL },
    { "dnsbl-3.uceprotect.net", "UCEPROTECT level 3", false, false, uce3_codes, 0, 0, NULL,
      "https://www.uceprotect.net/en/rblcheck.php",
      "Lists the whole network (ASN) for its level 1 listings; it clears when the network "
      "as a whole is clean; few receivers reject on level 3.", false, NULL },
    { "psbl.surriel.com", "PSBL", false, false, psbl_codes, 0, 0, NULL, "https://psbl.org/",
      "Stop the source, then remove the address yourself on psbl.org (self-service, "
      "immediate).", false, NULL },
    { "bl.mailspike.net", "Mailspike", false, false, mailspike_codes, 0, 0, NULL,
      "https://mailspike.io/ip_verify",
      "Stop the source, then ask for delisting on mailspike.io/ip_verify (handled "
      "automatically within hours); the reputation recovers as clean mail flows.", false, NULL },
    { "combined.mail.abusix.zone", "Abusix Mail Intelligence", true, true, abusix_codes, 0, 0,
      NULL, "https://lookup.abusix.com/",
      "Look the address up at lookup.abusix.com: black expires about 5 days after the last "
      "trap hit, exploit needs the host cleaned, policy is lifted by a delist request there "
      "once the address has a specific reverse DNS name.", false, NULL },
    { "ips.backscatterer.org", "backscatterer.org", false, false, backscatterer_codes, 0, 0,
      NULL, "https://www.backscatterer.org/?target=test",
      "Reject unknown recipients and spam during the SMTP dialogue instead of bouncing "
      "later, and stop sender callouts; the listing expires 4 weeks after the last "
      "backscatter (the paid express delisting is not needed).", false, NULL },
    { "dbl.spamhaus.org", "Spamhaus DBL", false, false, dbl_codes, IP4(127, 255, 255, 0),
      0xffffff00u, spamhaus_errors, "https://check.spamhaus.org/", DBL_PROCEDURE, true,
      "dbltest.com" },
    { "dbl.dq.spamhaus.net", "Spamhaus DBL (DQS)", true, false, dbl_codes,
      IP4(127, 255, 255, 0), 0xffffff00u, spamhaus_errors, "https://check.spamhaus.org/",
      DBL_PROCEDURE, true, "dbltest.com" },
    { "multi.surbl.org", "SURBL", false, false, surbl_codes, 0, 0, NULL,
      "https://www.surbl.org/surbl-analysis",
      "Look the domain up at surbl.org; clean the site or stop the mail that put it there, "
      "then ask for removal on the same page.", true, "test.surbl.org" },
    { "multi.uribl.com", "URIBL", false, false, uribl_codes, 0, 0, NULL,
      "https://admin.uribl.com/",
      "Look the domain up at admin.uribl.com; stop the spam that names it, then request "
      "removal there (an account is needed). URIBL answers only resolvers that do not query "
      "too much.", true, "test.uribl.com" },
    { "dblack.mail.abusix.zone", "Abusix domain blocklist", true, false, abusix_dblack_codes,
      0, 0, NULL, "https://lookup.abusix.com/",
      "Look the domain up at lookup.abusix.com; stop the spam that names it, then request "
      "delisting there.", true, "test" },
};

static const struct {
    const char *suffix, *why;
} dead[] = {
    { "sorbs.net", "SORBS was shut down in June 2024; its zones no longer give reliable "
                   "answers: remove it from [reputation] dnsbl_zones" },
    { "njabl.org", "NJABL was shut down in 2013: remove it from [reputation] dnsbl_zones" },
    { "ahbl.org", "AHBL was shut down in 2015 and answers 'listed' for every address: remove "
                  "it from [reputation] dnsbl_zones" },
    { "dsbl.org", "DSBL was shut down in 2009: remove it from [reputation] dnsbl_zones" },
};

/* True when zone (len bytes) is suffix or ends in "." suffix; *before gets
 * the length in front of ".suffix" (0 when equal). */
static bool zone_ends_with(const char *zone, size_t len, const char *suffix, size_t *before)
{
    size_t sl = strlen(suffix);
    if (len < sl || strncasecmp(zone + len - sl, suffix, sl) != 0)
        return false;
    if (len == sl) {
        *before = 0;
        return true;
    }
    if (len > sl + 1 && zone[len - sl - 1] == '.') {
        *before = len - sl - 1;
        return true;
    }
    return false;
}

const struct rbl_zone_info *rbl_zones_find(const char *zone, size_t *key_len)
{
    if (!zone)
        return NULL;
    size_t len = strlen(zone), before = 0;
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
        if (!zone_ends_with(zone, len, zones[i].suffix, &before))
            continue;
        if (zones[i].keyed) {
            /* KEY.suffix: exactly one label in front. */
            if (before && memchr(zone, '.', before))
                continue;
        } else if (before) {
            continue;
        }
        if (key_len)
            *key_len = before;
        return &zones[i];
    }
    return NULL;
}

static bool label_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
           || c == '_';
}

const char *rbl_zones_problem(const char *zone)
{
    if (!zone || !*zone)
        return "an empty zone name";
    size_t len = strlen(zone), before = 0;
    if (len > RBL_ZONE_NAME_MAX)
        return "longer than 189 characters: no query name would fit";
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        if (zone[i] == '.') {
            if (label == 0)
                return "not a DNS name (an empty label)";
            label = 0;
        } else if (!label_char((unsigned char)zone[i])) {
            return "not a DNS name (letters, digits, '-' and '_' between dots)";
        } else if (++label > 63) {
            return "not a DNS name (a label longer than 63 characters)";
        }
    }
    if (label == 0)
        return "not a DNS name (an empty label; write it without the final dot)";
    if (!strchr(zone, '.'))
        return "not a DNS zone (a single label)";
    for (size_t i = 0; i < sizeof dead / sizeof dead[0]; i++)
        if (zone_ends_with(zone, len, dead[i].suffix, &before))
            return dead[i].why;
    size_t key = 0;
    const struct rbl_zone_info *info = rbl_zones_find(zone, &key);
    if (info && info->keyed && key == 0)
        return "this list needs your access key in front: KEY.zone (Spamhaus DQS key, "
               "Abusix key)";
    return NULL;
}

const char *rbl_zones_meaning(const struct rbl_zone_info *info, uint32_t code)
{
    if (!info)
        return NULL;
    for (const struct rbl_code *c = info->codes; c && c->meaning; c++)
        if (c->code == code)
            return c->meaning;
    for (const struct rbl_code *c = info->errors; c && c->meaning; c++)
        if (c->code == code)
            return c->meaning;
    return NULL;
}

const struct rbl_zone_info *rbl_zones_all(size_t *n)
{
    *n = sizeof zones / sizeof zones[0];
    return zones;
}

void rbl_zones_each_dead(void (*fn)(const char *suffix, const char *why, void *ctx), void *ctx)
{
    for (size_t i = 0; i < sizeof dead / sizeof dead[0]; i++)
        fn(dead[i].suffix, dead[i].why, ctx);
}

/*
 * reason.c: names why one recipient of a bounce failed, in the reason taxonomy of the
 * corpus (userunknown, mailboxfull, blocked, ...). The DSN and non-standard bounce
 * parsers call reason_classify() once per failed recipient; the scorer and the policy
 * code call reason_is_reputation() to decide whether a bounce says that our own
 * outbound hosts are being refused. Nothing here can fail: unknown or missing input
 * gives "undefined" (or NULL from reason_internal_status() for an unknown reason).
 * Every string returned is a static constant that the caller must not free. The
 * module keeps no state; its tables are read-only, so it is safe from any thread.
 *
 * How a reason is chosen, meaning first, in order:
 *   1. A success status ("2.x.x") or action "delivered" gives "delivered".
 *   2. An internal status code of the "5.0.9xx" form, which an earlier stage (or
 *      another bounce library) already derived from a reason, is mapped back to it.
 *   3. An enhanced status code (RFC 3463 class.subject.detail) whose meaning is
 *      firm (X.2.2 mailbox full, X.3.4 message too big, X.7.25 no PTR, X.7.26
 *      authentication, ...) decides: the server said exactly what went wrong.
 *   4. The diagnostic text, lower-cased with whitespace folded, is matched against
 *      phrase sets, one per reason, in a fixed precedence order: the reasons whose
 *      phrases are most specific ("mailbox full", "dmarc policy") come before those
 *      whose phrases are generic ("access denied", "timed out"); then the word
 *      "spam" (not a block-list name) says the content was judged spam.
 *   5. Any other specific enhanced status code (X.1.1, X.4.7, ...) decides; codes
 *      that mailbox filters reuse (X.1.1 for "refused due to preferences") are
 *      here, after the text, because the text is more precise for them.
 *   6. The SMTP reply code where RFC 5321 gives it one meaning (552 storage
 *      exceeded, 551 user not local, 553 mailbox name not allowed).
 *   7. A few weak phrases, then the class of the status code, the SMTP command and
 *      the action decide; text with no match at all is "onhold".
 * Some text reasons are adjusted by the command and status: "user unknown" after
 * MAIL FROM is about our sender address (rejected), and after DATA, or with a mailbox
 * or policy status, it is the recipient's filter speaking (filtered).
 */
#include "reason.h"

#include "dsn_grams.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

/* Diagnostic text longer than this is cut before matching. Real replies are a few
 * hundred bytes; the limit only bounds the work done on a hostile bounce. */
#define REASON_MAX_DIAG 8192

/* One parsed enhanced status code "class.subject.detail"; valid is false when the
 * text did not hold one. */
struct reason_status {
    bool valid;
    int cls;
    int subject;
    int detail;
};

/* A reason and the lower-case phrases that point to it. A phrase may contain '*',
 * meaning "the next part follows somewhere later", so "domain*does not exist"
 * matches "domain example.org does not exist". */
struct reason_rule {
    const char *reason;
    const char *const *phrases;
};

/*
 * Phrase tables. Each is written for this project from common MTA and mailbox
 * provider replies; keep phrases lower-case and free of runs of whitespace.
 */

static const char *const reason_mailboxfull[] = {
    "exceeding their quota", "exceeding its quota", "exceeding the quota", "quota violation", "over disk quota",
    "user's mailbox is full", "mail quota exceeded", "exceeded his quota", "exceeded her quota", "insufficient storage", "mailbox size limit exceeded", "has reached its quota", "reached the quota",
    "\xd1\x8f\xd1\x89\xd0\xb8\xd0\xba \xd0\xbf\xd0\xb5\xd1\x80\xd0\xb5\xd0\xbf\xd0\xbe\xd0\xbb\xd0\xbd\xd0\xb5\xd0\xbd", "\xd0\xbf\xd0\xb5\xd1\x80\xd0\xb5\xd0\xbf\xd0\xbe\xd0\xbb\xd0\xbd\xd0\xb5\xd0\xbd",
    "too much mail", "postfach voll", "postfach ist voll", "speicherplatz", "bo\xc3\xaete pleine", "boite pleine", "casella piena", "buz\xc3\xb3n lleno",
    "not enough space", "does not have enough space", "too many messages on the server", "too many messages in", "mailbox over", "exceeded its storage", "storage quota", "quota full", "would exceed the quota", "size of mailbox",
    "mailbox full", "mailbox is full", "mailbox is over", "mailbox size limit",
    "mailbox exceeds", "mailbox has exceeded", "mailbox quota", "mailbox would exceed",
    "mailfolder is full", "mail folder is full", "inbox is full", "full mailbox",
    "over quota", "overquota", "quota exceeded", "exceeded quota", "exceeds quota",
    "quota exceed", "over its quota", "exceeded its quota", "exceeded the quota",
    "would exceed quota", "exceeded storage allocation", "exceeds allowed size",
    "out of storage space", "insufficient storage for mailbox", "not enough disk space",
    "disk quota", "mailbox exceeded the local limit", "recipient's mailbox exceeded",
    "user has exceeded", "storage limit", "no space left on device",
    "too many messages in this mailbox", "is over quota", "user over quota",
    NULL,
};

static const char *const reason_mesgtoobig[] = {
    "max message size", "message size", "class=size", "size limit", "too big for",
    "message too big", "message too large", "message is too big", "message is too large",
    "message size exceeds", "message size limit", "size limit exceeded",
    "exceeds size limit", "exceeds the size limit", "exceeds the maximum size",
    "exceeds maximum size", "exceeds the maximum message size", "maximum message size",
    "mail size limit", "message exceeds the maximum", "line limit exceeded",
    "email is too large", "size of the message exceeds",
    NULL,
};

static const char *const reason_exceedlimit[] = {
    "message length exceeds administrative limit", "exceeds administrative limit",
    "recipsizelimit",
    NULL,
};

static const char *const reason_suspend[] = {
    "account is not active", "mailbox is not active", "closed account", "account closed", "recipient suspended", "account has been terminated", "mailbox has been deactivated", "account is blocked",
    "deactivated mailbox", "is deactivated", "has been deactivated", "mailbox is suspended", "account is not active", "account has been closed", "mailbox has been closed", "mailbox is locked",
    "account is disabled", "account has been disabled", "account disabled",
    "account is inactive", "account has been suspended", "account is suspended",
    "account suspended", "account is locked", "account has been locked",
    "temporary locked", "temporarily locked", "account is frozen", "mailbox is frozen",
    "mailbox is disabled", "mailbox disabled", "mailbox is inactive",
    "disabled recipient", "recipient account is blocked", "you tried to reach is disabled",
    "you tried to reach is inactive", "inactive email address", "inactive mailbox",
    "inactive user", "user suspended", "disabled or discontinued", "account expired",
    "account has expired", "user account disabled", "account deactivated",
    "account has been deactivated", "le compte du destinataire est bloque",
    NULL,
};

static const char *const reason_hasmoved[] = {
    "no longer on server", "mailbox has moved", "has moved on", "user has moved",
    "address has moved", "no forwarding address", "not our customer",
    "recipient has moved", "not our user",
    NULL,
};

static const char *const reason_norelaying[] = {
    "as a relay", "relay denied", "relaying prohibited", "relay access",
    "relay access denied", "relaying denied", "relaying not allowed", "relay not permitted",
    "relaying is not allowed", "not configured to relay", "unable to relay",
    "not permitted to relay", "we do not relay", "relay prohibited", "no relaying",
    "relay not allowed", "relaying mail to * is not allowed", "does not relay",
    "email address is not verified", "not allowed to relay",
    NULL,
};

/* Sender authentication (SPF, DKIM, DMARC, ARC) failures. These come before the
 * block-list and spam tables because the replies often add "to protect our users
 * from spam" or "has been blocked". */
static const char *const reason_authfailure[] = {
    "dmarc policy", "dmarc verification", "pass dmarc", "dmarc check", "failed dmarc",
    "dmarc reject", "spf record with", "its spf record", "it's spf record", "spf check",
    "pass spf", "spf validation", "spf fail", "spf softfail", "bad spf", "spf authentication", "sender policy framework",
    "dkim signature", "dkim check", "dkim validation", "dkim authentication",
    "fails to pass authentication", "not pass authentication", "authentication checks",
    "sender is unauthenticated", "unauthenticated email", "must authenticate with",
    "arc validation", "arc signature", "authentication information",
    NULL,
};

static const char *const reason_requireptr[] = {
    "reverse dns", "reverse lookup", "reverse-dns", "rdns", "ptr record",
    "ptr resource record", "no ptr", "ip name lookup failed", "mismatches client ip",
    "unverifyable sending ip", "unverifiable sending ip", "cannot find your hostname",
    "can't find your hostname", "cannot resolve your hostname",
    "hostname does not resolve", "does not have a ptr", "without a valid sender domain",
    "no valid ptr",
    NULL,
};

static const char *const reason_notcompliantrfc[] = {
    "rfc 5322", "rfc5322", "rfc 2822", "rfc2822", "rfc 822 compliant",
    "multiple addresses in from", "duplicate header", "multiple subject headers",
    "multiple from headers", "multiple message-id", "missing date header",
    "missing from header", "bare lf", "bare linefeed", "not rfc compliant",
    NULL,
};

static const char *const reason_badreputation[] = {
    "low reputation", "poor reputation", "bad reputation", "sender reputation",
    "ip reputation", "domain reputation", "reputation of the sending",
    "deferred due to unexpected volume or user complaints",
    NULL,
};

static const char *const reason_speeding[] = {
    "too many recipients this hour", "rate limit exceeded", "rate limited",
    "ratelimited", "sending rate", "exceeded the rate", "too many messages from",
    "too many emails", "please slow down", "receiving mail at a rate",
    "throttled", "throttling",
    NULL,
};

static const char *const reason_toomanyconn[] = {
    "too many connections", "too many concurrent", "too many simultaneous",
    "connection limit", "connection frequency limited", "ip frequency limited",
    "frequency limited", "too many recipients", "too many sessions",
    "aup#in-",
    NULL,
};

static const char *const reason_virusdetected[] = {
    "virus found", "virus detected", "contains a virus", "containing a virus", "virus infected",
    "infected with", "a virus", "virus:", "malware", "trojan", "worm detected",
    "infected attachment", "message is infected", "file is infected",
    NULL,
};

static const char *const reason_spamdetected[] = {
    "unsolicited", "bulk email", "mass mailer", "probable spam", "spam points", "profile the internet community may consider spam", "spam rejection", "is spam", "be spam",
    "spam detected", "detected as spam", "classified as spam", "spam classification",
    "scored as spam", "flagged as spam", "identified as spam", "considered spam",
    "looks like spam", "likely spam", "suspected spam", "spam message", "spam score",
    "spamassassin", "message content rejected", "content rejected, ube",
    "unsolicited bulk", "bulk mail", "junk mail", "rejected as spam", "spam content",
    "mail appears to be unsolicited", "message is spam", "is considered spam",
    NULL,
};

/* Refusals aimed at the sending host: block lists, dynamic address space, banned IPs
 * and operator block codes. */
static const char *const reason_blocked[] = {
    "whitelist", "requires confirmation", "reverse dns is not a valid",
    "blocked using", "blocked by", "block list", "blocklist", "blocked list",
    "blacklisted by", "blacklisted at", "blacklisted in", "ip blacklisted",
    "address blacklisted by", "on our blacklist", "in our blacklist", "black list", "denylist", "deny list", "dnsbl", "spamhaus", "sorbs",
    "spamcop", "abuseat", "barracudacentral", "cloudmark", "client host rejected",
    "client host blocked", "banned sending ip", "ip blocked", "ip address blocked",
    "adresse ip source bloquee", "blocked for abuse", "blocked for spam",
    "please use the smtp server of your isp", "use your isp", "dynamic ip",
    "dynamic address", "dial-up", "dialup", "residential", "open relay",
    "too many unwanted messages", "invalid ip for sending", "not allowed to send mail",
    "aup#cdrbl", "rejected due to ip", "access denied, banned", "refused to talk to me",
    NULL,
};

static const char *const reason_policyviolation[] = {
    "policy violation", "policy reasons", "denied by policy", "violates our policy",
    "violation of our policy", "local policy", "content presents a potential",
    "host network not allowed", "against our policy", "policy rejection",
    "prohibited by policy", "not allowed by policy", "rejected by policy",
    NULL,
};

static const char *const reason_failedstarttls[] = {
    "starttls", "does not support tls", "tls required", "requiretls",
    "tls negotiation failed", "tls handshake", "must use tls", "encryption required",
    NULL,
};

static const char *const reason_securityerror[] = {
    "authentication required", "smtp authentication", "unauthenticated senders",
    "required authentication level", "authentication is required", "auth required",
    "authrequired", "must authenticate", "not authorized", "delivery not authorized",
    "authentication failed", "invalid credentials", "security policies",
    NULL,
};

static const char *const reason_mailererror[] = {
    "pipe to |", "procmail:", "mailer error", "command died", "command failed",
    "exit status", "operating system error", "local delivery failed",
    "unknown mailer error",
    NULL,
};

/* Sender-address refusals come before "user unknown" so that "sender address
 * rejected" inside a generic "address not found" notice is not read as ours. */
static const char *const reason_rejected_sender[] = {
    "sender unknown", "from address rejected", "sender denied", "sender blocked", "sender address is blacklisted",
    "sender address rejected", "domain of sender address", "sender domain",
    "unroutable sender", "sender rejected", "invalid sender", "sender verify failed",
    "sender verification failed", "bad sender", "from: domain is invalid",
    "purported responsible address", "sender is not allowed", "not a registered gateway",
    "sending to/from an address that has been blacklisted", "send mail as",
    "not a member of this mailing list", "mail rejected by destination domain",
    "all recipient addresses rejected", "you may not have permission to post",
    "group you tried to contact",
    NULL,
};

static const char *const reason_userunknown[] = {
    "user not known", "address is wrong", "address is no longer valid", "does not have a final email delivery point",
    "no such local user", "unknown local user", "user unknown in", "not a valid recipient", "no account by that name", "bad destination mailbox address", "no such person", "not found in directory", "account unavailable", "mailbox is unavailable", "recipient address is invalid", "address is not valid", "unknown mailbox", "mailbox unknown", "non-existent", "nonexistent", "no such email address", "user is unknown", "recipient is unknown", "not a known recipient", "invalid email address",
    "\xd0\xbf\xd0\xbe\xd0\xbb\xd1\x8c\xd0\xb7\xd0\xbe\xd0\xb2\xd0\xb0\xd1\x82\xd0\xb5\xd0\xbb\xd1\x8c \xd0\xbd\xd0\xb5 \xd0\xbd\xd0\xb0\xd0\xb9\xd0\xb4\xd0\xb5\xd0\xbd", "\xd0\xbd\xd0\xb5\xd1\x82 \xd1\x82\xd0\xb0\xd0\xba\xd0\xbe\xd0\xb3\xd0\xbe \xd0\xbf\xd0\xbe\xd0\xbb\xd1\x8c\xd0\xb7\xd0\xbe\xd0\xb2\xd0\xb0\xd1\x82\xd0\xb5\xd0\xbb\xd1\x8f", "\xd0\xb0\xd0\xb4\xd1\x80\xd0\xb5\xd1\x81\xd0\xb0\xd1\x82 \xd0\xbd\xd0\xb5 \xd0\xbd\xd0\xb0\xd0\xb9\xd0\xb4\xd0\xb5\xd0\xbd", "is not valid", "isn't valid",
    "adresse inconnue", "destinataire inconnu", "benutzer unbekannt", "empf\xc3\xa4nger unbekannt", "unbekannter empf\xc3\xa4nger", "usuario desconocido", "utente sconosciuto", "gebruiker onbekend",
    "address was not found", "addresses were unknown", "recipient was not found",
    "user was not found", "not found in the recipient",
    "no mail box", "no mailbox available", "not an active address", "mail-box not found", "mailbox not available", "unknown address", "user unknown", "no such account", "invalid address", "address unknown", "unknown local part", "unknown account", "is not a valid user", "account does not exist", "does not exist here", "not a known user", "user doesn't exist", "unknown or invalid", "recipient is not known", "no user by that name", "name is not recognized", "not recognized as a valid",
    "user unknown", "unknown user", "no such user", "user not found", "unknown recipient",
    "recipient unknown", "recipient not found", "recipnotfound", "recipientnotfound",
    "user does not exist", "user doesn't exist", "user doesn't have", "does not have an account",
    "account that you tried to reach does not exist", "mailbox does not exist",
    "mailbox not found", "no mailbox", "mailbox unavailable", "address does not exist",
    "recipient does not exist", "invalid recipient", "invalid mailbox", "no such recipient",
    "no such mailbox", "no such address", "unknown or illegal",
    "illegal alias", "not listed in domino directory", "not listed in public name",
    "invalid final delivery userid", "no valid recipients for this",
    "destinataire invalide", "recipient address rejected: access denied",
    "address couldn't be found", "address not found", "not a valid mailbox",
    "user not exist", "addressee unknown", "unable to deliver message to <",
    NULL,
};

static const char *const reason_filtered[] = {
    "message filtered", "due to recipient preferences", "rejected by recipient's filter",
    "filtered by", "content filter", "header error",
    NULL,
};

static const char *const reason_notaccept[] = {
    "null mx", "does not accept mail", "doesn't receive email", "does not receive email",
    "no smtp service", "couldn't find a mail exchanger", "no mx", "not accepting network",
    "not accepting mail", "accepts no mail",
    NULL,
};

static const char *const reason_networkerror[] = {
    "message looping", "mail is looping",
    "malformed name server reply", "name server reply",
    "hop count exceeded", "too many hops", "maximum hop count", "routing loop",
    "mail loop", "loops back to myself", "no route to host", "network is unreachable",
    "lost connection", "connection reset", "dns error", "dns query failed",
    "host not found, try again", "host name lookup failure", "temporary lookup failure",
    "malformed or unexpected name server reply", "network error",
    NULL,
};

static const char *const reason_hostunknown[] = {
    "unknown domain", "could not be resolved", "no mx record", "no mx or a record", "domain name does not exist", "no such host or domain",
    "domain is invalid", "no such host", "host lookup failed",
    "host unknown", "unknown host", "host not found", "host or domain name not found",
    "domain does not exist", "no such domain", "unrouteable address",
    "unroutable address", "invalid domain", "illegal host/domain",
    "domain is not reachable", "couldn't find any host", "name or service not known",
    "domain not found", "domain name not found", "domain*does not exist", "nxdomain",
    "domain may not exist", "dns lookup failure",
    NULL,
};

static const char *const reason_systemfull[] = {
    "insufficient system storage", "insufficient disk space", "mail system full",
    "system is full", "disk full", "out of disk space",
    NULL,
};

static const char *const reason_systemerror[] = {
    "system error", "internal error", "server error", "queue file write error",
    "could not load drd", "insufficient permission", "service currently unavailable",
    "service unavailable", "unable to contact ldap", "ldap", "upstream error",
    "local error", "transaction failed", "duplicated message-id", "service refuse",
    "configuration error", "misconfigured",
    NULL,
};

static const char *const reason_contenterror[] = {
    "media error", "headers too large", "header too large", "header size",
    "invalid mime", "mime error", "illegal characters", "content error",
    "improper encoding",
    NULL,
};

static const char *const reason_syntaxerror[] = {
    "syntax error", "command parameter not implemented", "command not recognized",
    "unrecognized command", "command not implemented", "malformed address",
    "bad command sequence", "invalid command",
    NULL,
};

static const char *const reason_expired[] = {
    "retry time exceeded", "could not be delivered within", "too many retries", "maximum delivery time", "delivery period", "retry period",
    "delivery attempts will continue", "not yet been delivered", "will continue to try", "still trying to deliver",
    "retry timeout exceeded", "message expired", "envelope expired", "queue too long",
    "could not be delivered for", "could not deliver for", "not delivered within",
    "unable to deliver this message after", "delivery time expired", "has been delayed",
    "will be retried", "giving up", "delivery failed * attempts", "timed out",
    "timeout", "did not accept our requests to connect", "unable to connect",
    "failed to connect", "all hosts have been failing", "host not reachable",
    "could not find a gateway", "establish an smtp connection", "connection refused",
    "too old", "undeliverable for",
    NULL,
};

static const char *const reason_onhold[] = {
    "on hold",
    NULL,
};

/* Phrases too generic to overrule a status code: they decide only when neither the
 * main tables nor a specific status did. "Recipient address rejected" is Postfix's
 * prefix for every recipient restriction, and "access denied" is said for anything
 * from a closed relay to a revoked account. */
static const char *const reason_weak_userunknown[] = {
    "recipient address rejected", "address rejected", "recipient rejected",
    "invalid user", "bad recipient", "badrcptto", "is unknown", "are unknown",
    NULL,
};

static const char *const reason_weak_securityerror[] = {
    "access denied", "not permitted", "permission denied",
    NULL,
};

static const char *const reason_vacation[] = {
    "out of office", "out of the office", "auto-reply", "autoreply", "automatic reply",
    "on vacation", "i am away", "i'm away",
    NULL,
};

/* The main precedence order of step 3 above. */
static const struct reason_rule reason_rules[] = {
    {"mailboxfull", reason_mailboxfull},
    {"exceedlimit", reason_exceedlimit},
    {"mesgtoobig", reason_mesgtoobig},
    {"suspend", reason_suspend},
    {"hasmoved", reason_hasmoved},
    {"norelaying", reason_norelaying},
    {"authfailure", reason_authfailure},
    {"requireptr", reason_requireptr},
    {"notcompliantrfc", reason_notcompliantrfc},
    {"badreputation", reason_badreputation},
    {"speeding", reason_speeding},
    {"toomanyconn", reason_toomanyconn},
    {"virusdetected", reason_virusdetected},
    {"spamdetected", reason_spamdetected},
    {"securityerror", reason_securityerror},
    {"blocked", reason_blocked},
    {"policyviolation", reason_policyviolation},
    {"failedstarttls", reason_failedstarttls},
    {"mailererror", reason_mailererror},
    {"rejected", reason_rejected_sender},
    {"userunknown", reason_userunknown},
    {"filtered", reason_filtered},
    {"notaccept", reason_notaccept},
    {"networkerror", reason_networkerror},
    {"hostunknown", reason_hostunknown},
    {"systemfull", reason_systemfull},
    {"contenterror", reason_contenterror},
    {"syntaxerror", reason_syntaxerror},
    {"systemerror", reason_systemerror},
    {"expired", reason_expired},
    {"onhold", reason_onhold},
};

/* Internal status codes, permanent and temporary, keyed by reason. The permanent
 * numbers are the ones other bounce tools report, so ours compare equal to theirs. */
struct reason_code {
    const char *reason;
    const char *permanent;
    const char *temporary;
};

static const struct reason_code reason_codes[] = {
    {"undefined", "5.0.900", "4.0.900"},
    {"onhold", "5.0.901", "4.0.901"},
    {"syntaxerror", "5.0.902", "4.0.902"},
    {"norelaying", "5.0.909", "4.0.909"},
    {"filtered", "5.0.910", "4.0.910"},
    {"userunknown", "5.0.911", "4.0.911"},
    {"hostunknown", "5.0.912", "4.0.912"},
    {"hasmoved", "5.0.916", "4.0.916"},
    {"rejected", "5.0.918", "4.0.918"},
    {"suspend", "5.0.921", "4.0.921"},
    {"mailboxfull", "5.0.922", "4.0.922"},
    {"exceedlimit", "5.0.923", "4.0.923"},
    {"authfailure", "5.0.926", "4.0.926"},
    {"systemerror", "5.0.930", "4.0.930"},
    {"systemfull", "5.0.931", "4.0.931"},
    {"notaccept", "5.0.932", "4.0.932"},
    {"mesgtoobig", "5.0.934", "4.0.934"},
    {"mailererror", "5.0.939", "4.0.939"},
    {"networkerror", "5.0.944", "4.0.944"},
    {"toomanyconn", "5.0.945", "4.0.945"},
    {"speeding", "5.0.946", "4.0.946"},
    {"expired", "5.0.947", "4.0.947"},
    {"contenterror", "5.0.960", "4.0.960"},
    {"securityerror", "5.0.970", "4.0.970"},
    {"blocked", "5.0.971", "4.0.971"},
    {"policyviolation", "5.0.972", "4.0.972"},
    {"requireptr", "5.0.973", "4.0.973"},
    {"notcompliantrfc", "5.0.974", "4.0.974"},
    {"badreputation", "5.0.975", "4.0.975"},
    {"failedstarttls", "5.0.976", "4.0.976"},
    {"spamdetected", "5.0.980", "4.0.980"},
    {"virusdetected", "5.0.981", "4.0.981"},
    {"delivered", "2.0.0", "2.0.0"},
};

/* Reads "class.subject.detail" at s. Returns the number of bytes used, 0 if s does
 * not start with a code. */
static size_t reason_parse_status(const char *s, struct reason_status *st)
{
    const char *p = s;
    int part[3];
    for (int i = 0; i < 3; i++) {
        if (!g_ascii_isdigit(*p))
            return 0;
        int v = 0;
        int n = 0;
        while (g_ascii_isdigit(*p) && n < 4) {
            v = v * 10 + (*p - '0');
            p++;
            n++;
        }
        if (g_ascii_isdigit(*p))
            return 0;
        part[i] = v;
        if (i < 2) {
            if (*p != '.')
                return 0;
            p++;
        }
    }
    if (part[0] != 2 && part[0] != 4 && part[0] != 5)
        return 0;
    st->valid = true;
    st->cls = part[0];
    st->subject = part[1];
    st->detail = part[2];
    return (size_t)(p - s);
}

/* Finds the first enhanced status code in free text, for callers that had none in
 * the DSN fields. The code must stand alone: "5.1.1" but not "10.5.1.12". */
static void reason_status_from_text(const char *s, struct reason_status *st)
{
    for (const char *p = s; *p; p++) {
        if (*p != '2' && *p != '4' && *p != '5')
            continue;
        if (p > s && (g_ascii_isdigit(p[-1]) || p[-1] == '.'))
            continue;
        struct reason_status t = {0};
        size_t n = reason_parse_status(p, &t);
        if (n > 0 && p[n] != '.' && t.cls != 2) {
            *st = t;
            return;
        }
    }
}

/* Copies text lower-cased with every run of whitespace folded to one space, so
 * that phrases match across the line breaks of folded headers. Caller frees. */
static char *reason_normalize(const char *s)
{
    size_t len = strnlen(s, REASON_MAX_DIAG);
    char *out = g_malloc(len + 1);
    size_t o = 0;
    bool space = true;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (g_ascii_isspace(c)) {
            if (!space)
                out[o++] = ' ';
            space = true;
            continue;
        }
        out[o++] = g_ascii_tolower(c);
        space = false;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    return out;
}

/* The normalised diagnostic and its 4-gram filter, so that each of the several
 * hundred phrases costs a few bit tests unless its 4-byte windows all occur. */
struct reason_text {
    const char *s;
    struct dsn_grams g;
};

/* True when phrase occurs in text; '*' in phrase separates parts that must occur in
 * this order, each after the end of the previous one. */
static bool reason_phrase_match(const struct reason_text *text, const char *phrase)
{
    const char *star = strchr(phrase, '*');
    if (!star)
        return dsn_grams_maybe_len(&text->g, phrase, strlen(phrase))
               && strstr(text->s, phrase) != NULL;

    const char *t = text->s;
    const char *part = phrase;
    while (part) {
        const char *end = strchr(part, '*');
        size_t n = end ? (size_t)(end - part) : strlen(part);
        if (n > 0) {
            if (!dsn_grams_maybe_len(&text->g, part, n))
                return false;
            const char *hit = NULL;
            for (const char *q = t; *q; q++) {
                if (strncmp(q, part, n) == 0) {
                    hit = q;
                    break;
                }
            }
            if (!hit)
                return false;
            t = hit + n;
        }
        part = end ? end + 1 : NULL;
    }
    return true;
}

static bool reason_table_match(const struct reason_text *text, const char *const *phrases)
{
    for (size_t i = 0; phrases[i]; i++)
        if (reason_phrase_match(text, phrases[i]))
            return true;
    return false;
}

/* The first reason in precedence order whose phrases occur in text, or NULL. */
static const char *reason_from_text(const struct reason_text *text)
{
    if (!*text->s)
        return NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(reason_rules); i++)
        if (reason_table_match(text, reason_rules[i].phrases))
            return reason_rules[i].reason;
    return NULL;
}

/* Maps an internal "X.0.9xx" code back to its reason. "X.0.900" (undefined) and
 * "X.0.901" (onhold) are left out: tools emit them when they found nothing, so the
 * text may still say more. */
static const char *reason_from_internal(const struct reason_status *st)
{
    if (!st->valid || st->subject != 0 || st->detail < 902 || st->detail > 999)
        return NULL;
    if (st->detail == 924)
        return "filtered";
    for (size_t i = 0; i < G_N_ELEMENTS(reason_codes); i++) {
        const char *code = reason_codes[i].permanent;
        if (code[0] == '5' && atoi(code + 4) == st->detail)
            return reason_codes[i].reason;
    }
    return NULL;
}

/* Reasons implied by specific enhanced status codes (RFC 3463 and its successors,
 * plus a few codes that large providers use with one fixed meaning). Generic codes
 * such as X.0.0, X.5.0 and X.7.1 are not here; they only decide at the very end. */
static const char *reason_from_status(const struct reason_status *st)
{
    if (!st->valid || st->cls == 2)
        return NULL;
    bool temp = st->cls == 4;
    switch (st->subject) {
    case 1:
        switch (st->detail) {
        case 0:
        case 1:
        case 3:
            return temp ? NULL : "userunknown";
        case 2:
            return "hostunknown";
        case 4:
            return "filtered";
        case 6:
            return "hasmoved";
        case 7:
        case 8:
            return "rejected";
        case 9:
            return "systemerror";
        case 10:
            return "notaccept";
        default:
            /* Exchange uses 5.1.3xx for recipient lookups. */
            return st->detail >= 300 && st->detail < 400 ? "userunknown" : NULL;
        }
    case 2:
        switch (st->detail) {
        case 1:
            /* "Mailbox disabled, not accepting messages" */
            return "suspend";
        case 0:
        case 4:
            return "filtered";
        case 2:
            return "mailboxfull";
        case 3:
            return "exceedlimit";
        default:
            return NULL;
        }
    case 3:
        switch (st->detail) {
        case 0:
        case 3:
        case 5:
            return "systemerror";
        case 1:
            return "systemfull";
        case 2:
            return "notaccept";
        case 4:
            return "mesgtoobig";
        default:
            return NULL;
        }
    case 4:
        switch (st->detail) {
        case 0:
            return temp ? NULL : "networkerror";
        case 1:
            /* Permanent 5.4.1 is what Exchange Online says when the recipient is
             * not in its directory ("Recipient address rejected: Access denied"). */
            return temp ? "expired" : "userunknown";
        case 2:
            return "networkerror";
        case 3:
            return "systemerror";
        case 4:
            return temp ? "networkerror" : "hostunknown";
        case 5:
            return "systemfull";
        case 6:
        case 8:
        case 14:
            return "networkerror";
        case 7:
            return "expired";
        default:
            /* Exchange: 5.4.310-5.4.318 are DNS and routing failures, 5.4.316 and
             * 5.4.300 an expired message. */
            if (st->detail == 300 || st->detail == 316)
                return "expired";
            return st->detail >= 300 && st->detail < 400 ? "networkerror" : NULL;
        }
    case 5:
        switch (st->detail) {
        case 1:
        case 2:
        case 4:
            return "syntaxerror";
        case 3:
            return "toomanyconn";
        case 5:
            return "systemerror";
        case 6:
            return "syntaxerror";
        default:
            return NULL;
        }
    case 6:
        return "contenterror";
    case 7:
        switch (st->detail) {
        case 13:
            return "suspend";
        case 16:
            return "mesgtoobig";
        case 17:
        case 18:
            return "hasmoved";
        case 20:
        case 21:
        case 22:
        case 23:
        case 24:
        case 26:
        case 29:
        case 509:
            return "authfailure";
        case 25:
            return "requireptr";
        case 27:
            return "notaccept";
        case 28:
            return "spamdetected";
        case 30:
            return "failedstarttls";
        case 54:
            return "norelaying";
        case 510:
        case 511:
        case 606:
        case 607:
        case 608:
        case 750:
            return "blocked";
        default:
            return NULL;
        }
    default:
        return NULL;
    }
}

/* True when a reason read from a status code is firm: the code names one cause
 * that no mailbox filter reuses for something else, so it decides before the
 * text (step 3). userunknown (X.1.1), filtered (X.2.0), systemerror, expired and
 * the other codes servers use loosely are refined by the text instead (X.1.10 is
 * a null MX by RFC 7505, but Exchange Online says it for an unknown recipient). */
static bool reason_status_firm(const char *reason)
{
    static const char *const firm[] = {
        "mailboxfull", "exceedlimit", "mesgtoobig", "hasmoved", "authfailure", "requireptr",
        "failedstarttls", "spamdetected", "systemfull", "norelaying",
    };
    for (size_t i = 0; reason && i < G_N_ELEMENTS(firm); i++)
        if (strcmp(reason, firm[i]) == 0)
            return true;
    return false;
}

/* The word "spam" (or one starting with it) that is not the name of a block list:
 * a content filter judged the message to be spam. */
static bool reason_spam_word(const char *norm)
{
    static const char *const lists[] = {"spamhaus", "spamcop", "spamrats", "spamcannibal",
                                        "spam-rbl", "spamlist", "spamtrap", "spam trap"};
    for (const char *p = strstr(norm, "spam"); p; p = strstr(p + 4, "spam")) {
        if (p > norm && g_ascii_isalnum(p[-1]))
            continue;
        bool list = false;
        for (size_t i = 0; i < G_N_ELEMENTS(lists) && !list; i++)
            list = strncmp(p, lists[i], strlen(lists[i])) == 0;
        /* "send reports to spam@..." names a mailbox, not a verdict. */
        if (!list && p[4] != '@')
            return true;
    }
    return false;
}

/* The reason an SMTP reply code (RFC 5321 4.2.3) means by itself, for the few
 * codes that have one meaning; NULL for the generic ones (550, 554, 451, ...). */
static const char *reason_from_reply(int reply, const char *command)
{
    switch (reply) {
    case 552:
        /* "Requested mail action aborted: exceeded storage allocation"; after
         * DATA it is the message that was too large. */
        return command && g_ascii_strncasecmp(command, "DATA", 4) == 0 ? "mesgtoobig"
                                                                         : "mailboxfull";
    case 551:
        return "hasmoved";
    case 452:
        return "systemfull";
    case 500:
    case 501:
    case 502:
    case 503:
    case 504:
        /* Command syntax, parameters, not implemented, bad sequence: the
         * dialogue itself was refused. */
        return "syntaxerror";
    default:
        return NULL;
    }
}

/* The first SMTP reply code (4xx or 5xx standing alone) in normalised text, 0 when
 * there is none. */
static int reason_reply_from_text(const char *s)
{
    for (const char *p = s; *p; p++) {
        if ((*p != '4' && *p != '5') || (p > s && (g_ascii_isalnum(p[-1]) || p[-1] == '.'
                                                   || p[-1] == '#' || p[-1] == '-')))
            continue;
        if (!g_ascii_isdigit(p[1]) || !g_ascii_isdigit(p[2]) || p[1] > '5')
            continue;
        if (p[3] && p[3] != ' ' && p[3] != '-')
            continue;
        return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    }
    return 0;
}

/* "X does not exist": a domain when X has a dot and no '@' ("example.org does not
 * exist"), else a mailbox ("User [a@example.org] does not exist"). NULL when the
 * text does not say it. */
static const char *reason_not_exist(const char *norm)
{
    const char *hit = strstr(norm, " does not exist");
    if (!hit)
        hit = strstr(norm, " doesn't exist");
    if (!hit)
        return NULL;
    const char *w = hit;
    while (w > norm && w[-1] != ' ')
        w--;
    bool dot = false, at = false;
    for (const char *q = w; q < hit; q++) {
        dot |= *q == '.' && q + 1 < hit && g_ascii_isalpha(q[1]);
        at |= *q == '@';
    }
    return dot && !at ? "hostunknown" : "userunknown";
}

static bool reason_command_is(const char *command, const char *want)
{
    return command && g_ascii_strncasecmp(command, want, strlen(want)) == 0;
}

/* When the caller had no SMTP command, the wrappers that MTAs put around a remote
 * reply often name it ("after RCPT TO:", "in reply to end of DATA command"). */
struct reason_command_hint {
    const char *phrase;
    const char *command;
};

static const struct reason_command_hint reason_command_hints[] = {
    {"after initial connection", "CONN"},
    {"refused to talk to me", "CONN"},
    {"after ehlo", "EHLO"},
    {"after helo", "HELO"},
    {"performing the helo", "HELO"},
    {"performing the ehlo", "EHLO"},
    {"after mail from", "MAIL"},
    {"in reply to mail from", "MAIL"},
    {"after rcpt to", "RCPT"},
    {"in reply to rcpt to", "RCPT"},
    {"did not like our rcpt to", "RCPT"},
    {"does not like recipient", "RCPT"},
    {"after end of data", "DATA"},
    {"in reply to end of data", "DATA"},
    {"did not like our final data", "DATA"},
    {"failed after i sent the message", "DATA"},
};

static const char *reason_command_from_text(const struct reason_text *text)
{
    for (size_t i = 0; i < G_N_ELEMENTS(reason_command_hints); i++)
        if (reason_phrase_match(text, reason_command_hints[i].phrase))
            return reason_command_hints[i].command;
    return NULL;
}

/* A phrase that names a missing mailbox means different things depending on when it
 * came: after MAIL FROM it is about our sender, after DATA it is a recipient's
 * filter pretending the user does not exist. */
static const char *reason_adjust_userunknown(const struct reason_status *st,
                                             const char *command)
{
    if (reason_command_is(command, "MAIL"))
        return "rejected";
    if (reason_command_is(command, "RCPT"))
        return "userunknown";
    if (st->valid && st->subject == 1)
        return "userunknown";
    if (reason_command_is(command, "DATA"))
        return "filtered";
    /* X.2 (the mailbox) and X.7 (policy) say a filter answered; X.3 (the mail
     * system) does not. */
    if (st->valid && (st->subject == 2 || st->subject == 7))
        return "filtered";
    return "userunknown";
}

const char *reason_classify(const char *diag, const char *status, const char *command,
                            const char *action)
{
    struct reason_status st = {0};
    if (status && *status) {
        while (g_ascii_isspace(*status))
            status++;
        reason_parse_status(status, &st);
    }
    if ((action && g_ascii_strcasecmp(action, "delivered") == 0) ||
        (st.valid && st.cls == 2))
        return "delivered";

    const char *internal = reason_from_internal(&st);
    if (internal)
        return internal;

    char *norm = reason_normalize(diag ? diag : "");
    /* On the heap: the filter is 8 KB, and callers may run on small stacks. */
    struct reason_text *text = g_new(struct reason_text, 1);
    text->s = norm;
    dsn_grams_build(&text->g, norm, strlen(norm));
    if (!st.valid)
        reason_status_from_text(norm, &st);
    if (!command || !*command)
        command = reason_command_from_text(text);
    bool at_connect = reason_command_is(command, "HELO") ||
                      reason_command_is(command, "EHLO") || reason_command_is(command, "CONN");

    const char *by_status = reason_from_status(&st);
    const char *r = reason_status_firm(by_status) ? by_status : NULL;
    if (!r) {
        r = reason_from_text(text);
        if (!r && reason_spam_word(norm))
            r = "spamdetected";
        if (!r)
            r = reason_not_exist(norm);
    }

    if (r && r == by_status) {
        /* Decided by a firm status code. */
    } else if (r && strcmp(r, "userunknown") == 0) {
        r = reason_adjust_userunknown(&st, command);
    } else if (r && strcmp(r, "hostunknown") == 0 && reason_command_is(command, "MAIL")) {
        /* The domain that does not exist is our sender's. */
        r = "rejected";
    } else if (r && strcmp(r, "mesgtoobig") == 0 && by_status &&
               strcmp(by_status, "exceedlimit") == 0) {
        /* X.2.3 says the limit is the recipient's own, not the system's. */
        r = by_status;
    }

    if (!r)
        r = by_status;
    if (!r && !reason_command_is(command, "MAIL") && !at_connect)
        r = reason_from_reply(reason_reply_from_text(norm), command);
    if (!r && reason_table_match(text, reason_weak_userunknown))
        r = reason_adjust_userunknown(&st, command);
    if (!r && reason_table_match(text, reason_weak_securityerror))
        r = at_connect                         ? "blocked"
            : reason_command_is(command, "MAIL") ? "rejected"
                                                 : "securityerror";
    /* A refusal of MAIL FROM that says nothing more is about our sender address. */
    if (!r && reason_command_is(command, "MAIL"))
        r = "rejected";

    /* Refused before any envelope was sent: the refusal is about our host. */
    if (!r && at_connect)
        r = "blocked";
    if (!r && st.valid && st.subject == 7)
        r = "securityerror";
    if (!r && action && (g_ascii_strcasecmp(action, "delayed") == 0 ||
                         g_ascii_strcasecmp(action, "expired") == 0))
        r = "expired";
    if (!r && *norm && !st.valid && reason_table_match(text, reason_vacation))
        r = "vacation";
    if (!r && *norm)
        r = "onhold";
    if (!r && st.valid && st.cls == 4 && st.subject == 4)
        r = "expired";
    if (!r)
        r = "undefined";

    g_free(norm);
    g_free(text);
    return r;
}

const char *reason_internal_status(const char *reason, bool temporary)
{
    if (!reason)
        return NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(reason_codes); i++)
        if (strcmp(reason_codes[i].reason, reason) == 0)
            return temporary ? reason_codes[i].temporary : reason_codes[i].permanent;
    return NULL;
}

bool reason_is_reputation(const char *reason)
{
    static const char *const reputation[] = {
        "blocked", "spamdetected", "badreputation", "policyviolation", "authfailure",
        "requireptr",
    };
    if (!reason)
        return false;
    for (size_t i = 0; i < G_N_ELEMENTS(reputation); i++)
        if (strcmp(reputation[i], reason) == 0)
            return true;
    return false;
}

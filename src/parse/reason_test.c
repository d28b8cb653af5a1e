/*
 * reason_test.c: table-driven unit tests for reason.c. Every diagnostic string below
 * was written for this test in the style of real MTA replies; none is copied from a
 * corpus. A failure names the row and prints "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "parse/reason.h"

struct classify_case {
    const char *name;
    const char *diag;
    const char *status;
    const char *command;
    const char *action;
    const char *want;
};

static const struct classify_case classify_cases[] = {
    /* userunknown */
    {"postfix local table", "550 5.1.1 <nobody@example.org>: Recipient address rejected: "
     "User unknown in local recipient table", "5.1.1", "RCPT", "failed", "userunknown"},
    {"exchange directory", "Remote Server returned '550 5.1.10 RESOLVER.ADR."
     "RecipientNotFound; Recipient not found by SMTP address lookup'", "5.1.10", NULL,
     "failed", "userunknown"},
    {"no such user, no status", "550 sorry, no such user here", NULL, "RCPT", "failed",
     "userunknown"},
    /* the SMTP reply code where RFC 5321 gives it one meaning */
    {"503 bad sequence", "503 Improper sequence of commands", "5.5.0", NULL, "failed",
     "syntaxerror"},
    {"501 without status", "501 Syntax error in parameters or arguments", NULL, NULL, "failed",
     "syntaxerror"},
    /* mailboxfull */
    {"quota", "552 5.2.2 <a@example.net>: user is over quota", "5.2.2", "RCPT", "failed",
     "mailboxfull"},
    {"full text beats 5.1.1", "552 sorry, mailbox a@example.net is over quota "
     "temporarily (#5.1.1)", "5.1.1", NULL, "failed", "mailboxfull"},
    {"dovecot lmtp", "452 4.2.2 Quota exceeded (mailbox for user is full)", "4.2.2",
     "DATA", "delayed", "mailboxfull"},
    /* expired */
    {"retry timeout", "all hosts for example.net have been failing for a long time "
     "(retry timeout exceeded)", "4.4.7", NULL, "failed", "expired"},
    {"connection timed out", "connect to mx.example.net[192.0.2.7]:25: Connection "
     "timed out", "4.4.1", NULL, "failed", "expired"},
    /* filtered */
    {"user unknown after DATA", "550 Unknown user a@example.net", "5.0.0", "DATA",
     "failed", "filtered"},
    {"recipient preferences", "550 5.1.1 Refused due to recipient preferences", "5.1.1",
     NULL, "failed", "filtered"},
    /* rejected */
    {"sender address", "501 5.1.8 <bounce@example.com>: Sender address rejected: "
     "Domain not found", "5.1.8", "MAIL", "failed", "rejected"},
    {"sender domain gone", "553 Domain of sender address bounce@example.com does not "
     "exist", NULL, "MAIL", "failed", "rejected"},
    /* blocked */
    {"dnsbl", "554 5.7.1 Service unavailable; Client host [192.0.2.9] blocked using "
     "zen.spamhaus.org", "5.7.1", "RCPT", "failed", "blocked"},
    {"banned ip", "550 5.7.606 Access denied, banned sending IP [192.0.2.9].", "5.7.606",
     "RCPT", "failed", "blocked"},
    {"refused at greeting", "554 Sorry, not now", "5.0.0", "CONN", "failed", "blocked"},
    /* hostunknown */
    {"no such domain", "Host or domain name not found. Name service error for "
     "name=nowhere.example type=A: Host not found", "5.4.4", NULL, "failed",
     "hostunknown"},
    {"5.1.2", "550 5.1.2 Bad destination system address", "5.1.2", "RCPT", "failed",
     "hostunknown"},
    /* networkerror */
    {"hop count", "554 5.4.6 Too many hops: possible mail loop", "5.4.6", "DATA",
     "failed", "networkerror"},
    {"no route", "connect to mx.example.net[192.0.2.8]:25: No route to host", "4.4.1",
     NULL, "delayed", "networkerror"},
    /* suspend */
    {"disabled", "550 5.2.1 The email account that you tried to reach is disabled.",
     "5.2.1", "RCPT", "failed", "suspend"},
    {"5.7.13", "525 5.7.13 User account disabled", "5.7.13", "RCPT", "failed", "suspend"},
    /* authfailure */
    {"dmarc", "550 5.7.1 Message rejected per DMARC policy for example.com", "5.7.1",
     "DATA", "failed", "authfailure"},
    {"spf hard fail", "The sending domain has an SPF record with a hard fail policy and "
     "this message failed it", "5.7.26", "DATA", "failed", "authfailure"},
    /* policyviolation */
    {"policy reasons", "554 5.7.9 Message not accepted for policy reasons.", "5.7.9",
     "DATA", "failed", "policyviolation"},
    {"local policy", "550 Rejected by local policy", NULL, "RCPT", "failed",
     "policyviolation"},
    /* requireptr */
    {"no ptr", "550 5.7.1 Client host has no PTR record; reverse DNS required", "5.7.1",
     "MAIL", "failed", "requireptr"},
    {"5.7.25", "550 5.7.25 Reverse DNS validation failed", "5.7.25", NULL, "failed",
     "requireptr"},
    /* systemerror */
    {"internal error", "451 4.3.0 Internal error, please retry", "4.3.0", "DATA",
     "delayed", "systemerror"},
    {"ldap", "Cannot reach the LDAP directory to look up the recipient", "4.4.3", NULL,
     "delayed", "systemerror"},
    /* notaccept */
    {"null mx", "Domain example.com publishes a null MX and accepts no mail", "5.1.10",
     NULL, "failed", "notaccept"},
    {"5.3.2", "521 5.3.2 System not accepting network messages", "5.3.2", "RCPT",
     "failed", "notaccept"},
    /* securityerror */
    {"smtp auth", "530 5.7.0 Authentication required", "5.7.0", "MAIL", "failed",
     "securityerror"},
    {"bare 5.7.1", "550 5.7.1 Delivery refused", "5.7.1", "RCPT", "failed",
     "securityerror"},
    /* spamdetected */
    {"scored as spam", "554 5.7.1 Message scored as spam by our filters", "5.7.1", "DATA",
     "failed", "spamdetected"},
    {"content rejected", "550 Message content rejected as unsolicited", NULL, "DATA",
     "failed", "spamdetected"},
    /* mailererror */
    {"pipe", "Command died with status 1: \"/usr/local/bin/deliver\"", "5.3.0", NULL,
     "failed", "mailererror"},
    {"procmail", "procmail: Error while writing to \"/var/mail/a\"", NULL, NULL, "failed",
     "mailererror"},
    /* notcompliantrfc */
    {"two from", "550 5.7.1 Messages with multiple addresses in From: header are not "
     "accepted.", "5.7.1", "DATA", "failed", "notcompliantrfc"},
    {"duplicate header", "554 Duplicate header 'Subject' not allowed", NULL, "DATA",
     "failed", "notcompliantrfc"},
    /* norelaying */
    {"relay denied", "554 5.7.1 <a@example.org>: Relay access denied", "5.7.1", "RCPT",
     "failed", "norelaying"},
    {"5.7.54", "550 5.7.54 SMTP; cannot deliver to a non-accepted domain", "5.7.54",
     "RCPT", "failed", "norelaying"},
    /* onhold */
    {"nothing known", "The remote system gave an answer we could not understand", "5.0.0",
     NULL, "failed", "onhold"},
    /* hasmoved */
    {"moved", "550 5.1.6 Recipient no longer on server: a@example.org", "5.1.6", "RCPT",
     "failed", "hasmoved"},
    /* delivered */
    {"2.x status", "250 2.0.0 Ok: queued as 4XYZ", "2.0.0", NULL, "delivered",
     "delivered"},
    {"action delivered", NULL, NULL, NULL, "delivered", "delivered"},
    /* exceedlimit */
    {"5.2.3 over size words", "552 5.2.3 Message size exceeds the limit set by the "
     "recipient", "5.2.3", "DATA", "failed", "exceedlimit"},
    /* toomanyconn */
    {"too many connections", "421 Too many connections from your host", NULL, "CONN",
     "failed", "toomanyconn"},
    {"too many recipients", "452 Too many recipients in this message", NULL, "RCPT",
     "failed", "toomanyconn"},
    /* contenterror */
    {"media", "554 5.6.0 Message headers too large", "5.6.0", "DATA", "failed",
     "contenterror"},
    /* mesgtoobig */
    {"too big", "552 5.3.4 Message too big for system", "5.3.4", "DATA", "failed",
     "mesgtoobig"},
    {"size limit", "552 Message size exceeds fixed maximum message size", NULL, "DATA",
     "failed", "mesgtoobig"},
    /* virusdetected */
    {"virus", "550 5.7.1 Virus found in attachment: Eicar-Test-Signature", "5.7.1",
     "DATA", "failed", "virusdetected"},
    /* syntaxerror */
    {"syntax", "501 5.5.2 Syntax error in parameters", "5.5.2", "MAIL", "failed",
     "syntaxerror"},
    /* systemfull */
    {"disk", "452 4.3.1 Insufficient system storage", "4.3.1", "MAIL", "delayed",
     "systemfull"},
    /* badreputation */
    {"reputation", "550 5.7.1 Rejected because of the poor reputation of your sending IP",
     "5.7.1", "DATA", "failed", "badreputation"},
    /* failedstarttls */
    {"starttls", "530 5.7.0 Must issue a STARTTLS command first", "5.7.0", "MAIL",
     "failed", "failedstarttls"},
    /* speeding */
    {"rate", "450 4.7.1 Sending rate limit exceeded, slow down", "4.7.1", "DATA",
     "delayed", "speeding"},

    /* Status-code fallbacks when the text says nothing useful. */
    {"fallback 5.1.1", "550 Rejected", "5.1.1", "RCPT", "failed", "userunknown"},
    {"fallback 5.2.2", "552 Try later", "5.2.2", "RCPT", "failed", "mailboxfull"},
    {"fallback 4.4.7", NULL, "4.4.7", NULL, "failed", "expired"},
    {"fallback 5.7.1", "550 Go away", "5.7.1", "DATA", "failed", "securityerror"},
    {"fallback 5.6.x", "554 Nope", "5.6.3", "DATA", "failed", "contenterror"},
    {"internal code", "whatever it said", "5.0.922", NULL, "failed", "mailboxfull"},
    {"internal temp code", NULL, "4.0.947", NULL, "failed", "expired"},
    {"status found in text", "550 5.1.1 <a@example.org>... Rejected", NULL, NULL,
     "failed", "userunknown"},
    {"command found in text", "host mx.example.org said: 550 Go away (in reply to MAIL "
     "FROM command)", NULL, NULL, "failed", "rejected"},
    {"delayed action", NULL, NULL, NULL, "delayed", "expired"},
    {"folded whitespace", "552 5.2.2 Mailbox\r\n\t  FULL", NULL, NULL, "failed",
     "mailboxfull"},

    /* NULL and empty input. */
    {"all NULL", NULL, NULL, NULL, NULL, "undefined"},
    {"all empty", "", "", "", "", "undefined"},
    {"garbage status", NULL, "x.y.z", NULL, "failed", "undefined"},
    {"text only", "something odd happened", NULL, NULL, NULL, "onhold"},
    /* meaning first: a firm status code decides before the text */
    {"firm X.2.2 over a vague text", "552 5.2.2 Requested action not taken", "5.2.2", "RCPT",
     "failed", "mailboxfull"},
    {"firm X.7.25 over 'access denied'", "550 5.7.25 Access denied", "5.7.25", "RCPT",
     "failed", "requireptr"},
    {"X.1.1 refined by the text", "550 5.1.1 mailbox full", "5.1.1", "RCPT", "failed",
     "mailboxfull"},
    /* the word spam, but not a block list's name */
    {"spam verdict", "550 Probable Spam (in reply to end of DATA command)", NULL, "DATA",
     "failed", "spamdetected"},
    {"spamhaus is a block list", "554 Service unavailable; Client host [192.0.2.9] blocked "
     "using zen.spamhaus.org", NULL, "RCPT", "failed", "blocked"},
    /* "X does not exist": a domain or a mailbox */
    {"domain does not exist", "553 mx.example.org does not exist", NULL, "RCPT", "failed",
     "hostunknown"},
    {"user does not exist", "550 User [bob@example.org] does not exist", NULL, "RCPT", "failed",
     "userunknown"},
    /* an RFC 5321 reply code with one meaning */
    {"552 at RCPT is storage", "552 Requested mail action aborted", NULL, "RCPT", "failed",
     "mailboxfull"},
    {"552 after DATA is size", "552 Requested mail action aborted", NULL, "DATA", "failed",
     "mesgtoobig"},
    /* an antivirus footer is no verdict */
    {"antivirus footer", "Delivery attempts will continue for some time. Scanned by an "
     "antivirus system.", NULL, NULL, "delayed", "expired"},
    {"virus verdict", "554 5.7.1 Message contains a virus (Eicar-Test-Signature)", "5.7.1",
     "DATA", "failed", "virusdetected"},
    {"Mailbox disabled (X.2.1)", "550 5.2.1 Requested action not taken", "5.2.1", "RCPT",
     "failed", "suspend"},
};

static void test_reason_classify(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(classify_cases) / sizeof(classify_cases[0]); i++) {
        const struct classify_case *c = &classify_cases[i];
        const char *got = reason_classify(c->diag, c->status, c->command, c->action);
        if (!got || strcmp(got, c->want) != 0) {
            print_error("reason_classify %s: got %s, want %s\n", c->name,
                        got ? got : "(null)", c->want);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

struct status_case {
    const char *reason;
    bool temporary;
    const char *want;
};

static const struct status_case status_cases[] = {
    {"userunknown", false, "5.0.911"},
    {"userunknown", true, "4.0.911"},
    {"mailboxfull", false, "5.0.922"},
    {"mailboxfull", true, "4.0.922"},
    {"expired", false, "5.0.947"},
    {"filtered", false, "5.0.910"},
    {"hostunknown", false, "5.0.912"},
    {"blocked", false, "5.0.971"},
    {"requireptr", false, "5.0.973"},
    {"failedstarttls", false, "5.0.976"},
    {"authfailure", false, "5.0.926"},
    {"undefined", true, "4.0.900"},
    {"no-such-reason", false, NULL},
    {NULL, false, NULL},
};

static void test_reason_internal_status(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
        const struct status_case *c = &status_cases[i];
        const char *got = reason_internal_status(c->reason, c->temporary);
        bool same = (!got && !c->want) || (got && c->want && strcmp(got, c->want) == 0);
        if (!same) {
            print_error("reason_internal_status(%s, %d): got %s, want %s\n",
                        c->reason ? c->reason : "(null)", c->temporary,
                        got ? got : "(null)", c->want ? c->want : "(null)");
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/* Every reason that reason_internal_status() knows must round-trip: classifying its
 * internal code with no text gives the reason back. */
static void test_reason_internal_roundtrip(void **state)
{
    (void)state;
    static const char *const reasons[] = {
        "syntaxerror", "norelaying", "filtered", "userunknown", "hostunknown",
        "hasmoved", "rejected", "suspend", "mailboxfull", "exceedlimit", "authfailure",
        "systemerror", "systemfull", "notaccept", "mesgtoobig", "mailererror",
        "networkerror", "toomanyconn", "speeding", "expired", "contenterror",
        "securityerror", "blocked", "policyviolation", "requireptr", "notcompliantrfc",
        "badreputation", "failedstarttls", "spamdetected", "virusdetected",
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        const char *code = reason_internal_status(reasons[i], false);
        const char *got = code ? reason_classify(NULL, code, NULL, "failed") : "(no code)";
        if (strcmp(got, reasons[i]) != 0) {
            print_error("roundtrip %s via %s: got %s, want %s\n", reasons[i],
                        code ? code : "(null)", got, reasons[i]);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

struct reputation_case {
    const char *reason;
    bool want;
};

static const struct reputation_case reputation_cases[] = {
    {"blocked", true},       {"spamdetected", true}, {"badreputation", true},
    {"policyviolation", true}, {"authfailure", true}, {"requireptr", true},
    {"userunknown", false},  {"mailboxfull", false}, {"expired", false},
    {"securityerror", false}, {"undefined", false},  {"", false},
    {NULL, false},
};

static void test_reason_is_reputation(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(reputation_cases) / sizeof(reputation_cases[0]); i++) {
        const struct reputation_case *c = &reputation_cases[i];
        bool got = reason_is_reputation(c->reason);
        if (got != c->want) {
            print_error("reason_is_reputation(%s): got %d, want %d\n",
                        c->reason ? c->reason : "(null)", got, c->want);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/* Long input is cut, not rejected, and must not crash. */
static void test_reason_long_input(void **state)
{
    (void)state;
    size_t n = 100000;
    char *big = test_malloc(n + 1);
    memset(big, 'a', n);
    memcpy(big, "552 5.2.2 mailbox full ", 23);
    big[n] = '\0';
    const char *got = reason_classify(big, NULL, NULL, "failed");
    if (strcmp(got, "mailboxfull") != 0)
        print_error("long input: got %s, want mailboxfull\n", got);
    assert_string_equal(got, "mailboxfull");
    test_free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason_classify),
        cmocka_unit_test(test_reason_internal_status),
        cmocka_unit_test(test_reason_internal_roundtrip),
        cmocka_unit_test(test_reason_is_reputation),
        cmocka_unit_test(test_reason_long_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

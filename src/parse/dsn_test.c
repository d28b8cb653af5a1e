/*
 * dsn_test.c: unit tests for dsn_parse(): small hand-written bounces in the main
 * formats (RFC 3464 with two recipients, qmail, Postfix text, Exim) and an
 * auto-reply that must not be taken for a bounce. Table-driven; failures read
 * "got X, want Y".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "parse/dsn.h"
#include "parse/parse.h"
#include "parse/report.h"

struct want_rcpt {
    const char *rcpt;
    const char *status;
    const char *reason;     /* NULL: not checked */
};

struct dsn_case {
    const char *name;
    const char *mail;
    int want_ret;
    const char *want_format; /* NULL: not checked */
    size_t n_rcpts;
    struct want_rcpt rcpts[3];
};

static const struct dsn_case cases[] = {
    {"rfc3464 two recipients",
     "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n"
     "To: sender@example.org\n"
     "Subject: Undelivered Mail Returned to Sender\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\n"
     "\n"
     "--B1\n"
     "Content-Type: text/plain\n"
     "\n"
     "Your message could not be delivered.\n"
     "\n"
     "--B1\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Reporting-MTA: dns; mx.example.net\n"
     "\n"
     "Final-Recipient: rfc822; <alice@example.com>\n"
     "Original-Recipient: rfc822; alice@example.com\n"
     "Action: failed\n"
     "Status: 5.1.1\n"
     "Remote-MTA: dns; mx.example.com\n"
     "Diagnostic-Code: smtp; 550 5.1.1 <alice@example.com>: Recipient address\n"
     "    rejected: User unknown in local recipient table\n"
     "\n"
     "Final-Recipient: rfc822; bob@example.com\n"
     "Action: failed\n"
     "Status: 5.2.2\n"
     "Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\n"
     "\n"
     "--B1\n"
     "Content-Type: message/rfc822\n"
     "\n"
     "From: sender@example.org\n"
     "To: alice@example.com\n"
     "Subject: hello\n"
     "Message-ID: <m1@example.org>\n"
     "\n"
     "hi\n"
     "--B1--\n",
     1, "rfc3464", 2,
     {{"alice@example.com", "5.1.1", "userunknown"}, {"bob@example.com", "5.2.2", "mailboxfull"}}},
    {"qmail",
     "From: MAILER-DAEMON@mx4.example.jp\n"
     "To: sender@example.org\n"
     "Subject: failure notice\n"
     "\n"
     "Hi. This is the qmail-send program at mx4.example.jp.\n"
     "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
     "This is a permanent error; I've given up. Sorry it didn't work out.\n"
     "\n"
     "<carol@example.ne.jp>:\n"
     "192.0.2.3 does not like recipient.\n"
     "Remote host said: 550 5.1.1 <carol@example.ne.jp>... User Unknown\n"
     "Giving up on 192.0.2.3.\n"
     "\n"
     "--- Below this line is a copy of the message.\n"
     "\n"
     "From: sender@example.org\n"
     "To: carol@example.ne.jp\n"
     "Subject: test\n"
     "\n"
     "body\n",
     1, "qmail", 1, {{"carol@example.ne.jp", "5.1.1", "userunknown"}}},
    {"postfix text",
     "From: MAILER-DAEMON@mail.example.jp (Mail Delivery System)\n"
     "To: sender@example.org\n"
     "Subject: Undelivered Mail Returned to Sender\n"
     "\n"
     "This is the mail system at host mail.example.jp.\n"
     "\n"
     "I'm sorry to have to inform you that your message could not\n"
     "be delivered to one or more recipients.\n"
     "\n"
     "<dave@example.com>: host mx.example.com[192.0.2.1] said: 550 5.7.1\n"
     "    Message rejected as spam (in reply to end of DATA command)\n",
     1, "postfix", 1, {{"dave@example.com", "5.7.1", NULL}}},
    {"exim text",
     "From: Mail Delivery System <Mailer-Daemon@mx.example.org>\n"
     "To: sender@example.org\n"
     "Subject: Mail delivery failed: returning message to sender\n"
     "X-Failed-Recipients: erin@example.jp\n"
     "\n"
     "This message was created automatically by mail delivery software.\n"
     "\n"
     "A message that you sent could not be delivered to one or more of its\n"
     "recipients. This is a permanent error. The following address(es) failed:\n"
     "\n"
     "  erin@example.jp\n"
     "    SMTP error from remote mail server after RCPT TO:<erin@example.jp>:\n"
     "    host mx.example.jp [192.0.2.153]: 550 5.1.1 <erin@example.jp>... User Unknown\n"
     "\n"
     "------ This is a copy of the message, including all the headers. ------\n"
     "\n"
     "From: sender@example.org\n"
     "Subject: x\n"
     "\n"
     "x\n",
     1, "exim", 1, {{"erin@example.jp", "5.1.1", "userunknown"}}},
    {"auto-reply is not a bounce",
     "From: Frank <frank@example.com>\n"
     "To: sender@example.org\n"
     "Subject: Out of office: your mail\n"
     "Auto-Submitted: auto-replied\n"
     "\n"
     "I am away until Monday and will reply to your mail about <x@example.net> then.\n",
     0, NULL, 0, {{0}}},
    {"arf is not a bounce",
     "From: fbl@example.net\n"
     "Subject: complaint\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=feedback-report; boundary=\"A\"\n"
     "\n"
     "--A\n"
     "Content-Type: text/plain\n"
     "\n"
     "This is an abuse report. Undelivered? No.\n"
     "--A\n"
     "Content-Type: message/feedback-report\n"
     "\n"
     "Feedback-Type: abuse\n"
     "--A--\n",
     0, NULL, 0, {{0}}},
    {"fields before Final-Recipient in one paragraph",
     "From: MAILER-DAEMON@mx.example.net\n"
     "Subject: Sorry, your message could not be delivered\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"F\"\n"
     "\n"
     "--F\n"
     "Content-Type: text/plain\n"
     "\n"
     "This message could not be delivered.\n"
     "--F\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Reporting-MTA: dns; 192.0.2.7\n"
     "Diagnostic-Code: smtp; 550 5.1.1 Recipient address does not exist\n"
     "Status: 5.1.1\n"
     "Final-Recipient: rfc822; nobody@example.com\n"
     "Action: failed\n"
     "--F--\n",
     1, "rfc3464", 1, {{"nobody@example.com", "5.1.1", "userunknown"}}},
    {"address alone, reason in its own paragraph",
     "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n"
     "Subject: Mail delivery failed\n"
     "\n"
     "A message that you sent could not be delivered to one or more of\n"
     "its recipients. This is a permanent error. The following address\n"
     "failed:\n"
     "\n"
     "  <carol@example.com>\n"
     "\n"
     "For the following reason:\n"
     "  Mail size limit exceeded.\n",
     1, NULL, 1, {{"carol@example.com", "5.0.934", "mesgtoobig"}}},
    {"provider table: KDDI filter reply",
     "From: MAILER-DAEMON@mx.example.net\n"
     "Subject: Undelivered Mail Returned to Sender\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"K\"\n"
     "\n"
     "--K\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Final-Recipient: rfc822; dave@ezweb.ne.jp\n"
     "Action: failed\n"
     "Status: 5.0.0\n"
     "Remote-MTA: dns; lsean.ezweb.ne.jp\n"
     "Diagnostic-Code: smtp; 550 : User unknown\n"
     "--K--\n",
     1, "rfc3464", 1, {{"dave@ezweb.ne.jp", "5.0.0", "filtered"}}},
    {"provider table: Orange label",
     "From: MAILER-DAEMON@mx.example.net\n"
     "Subject: Undelivered Mail Returned to Sender\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"O\"\n"
     "\n"
     "--O\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Final-Recipient: rfc822; erin@example.fr\n"
     "Action: failed\n"
     "Status: 5.7.1\n"
     "Remote-MTA: dns; smtp-in.orange.fr\n"
     "Diagnostic-Code: smtp; 554 5.7.1 <h[192.0.2.1]>: Client host rejected: LPN000_630\n"
     "--O--\n",
     1, "rfc3464", 1, {{"erin@example.fr", "5.7.1", "policyviolation"}}},
    {"handset gateway: message details",
     "From: postmaster@sms.example.net\n"
     "Subject: Re: hello\n"
     "\n"
     "Error: Invalid user address\n"
     "Error message below:\n"
     "550 - Requested action not taken: no such user here\n"
     "\n"
     "Message details:\n"
     "  Subject: hello\n"
     "  MAIL FROM: alice@example.org\n"
     "  RCPT TO: 5550100@sms.example.net\n"
     "  From: alice@example.org\n",
     1, "apachejames", 1, {{"5550100@sms.example.net", "5.0.910", "filtered"}}},
    {"starred recipient list, reason after a rule",
     "From: Mail Delivery System <mds@mx.example.net>\n"
     "Subject: Delivery status notification\n"
     "\n"
     "=====================================================\n"
     "  This is an automatically generated Delivery Status Notification.\n"
     "\n"
     "Delivery to the following recipients was aborted after 5.0 hour(s):\n"
     "  * frank@example.co.jp\n"
     "=====================================================\n"
     "                 Technical details:\n"
     "Routing: Could not find a gateway for frank@example.co.jp\n"
     "=====================================================\n",
     1, "x3", 1, {{"frank@example.co.jp", "5.0.947", "expired"}}},
    {"expired with the remote reply quoted",
     "From: MAILER-DAEMON@mx.example.net\n"
     "Subject: Undelivered Mail Returned to Sender\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"E\"\n"
     "\n"
     "--E\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Final-Recipient: rfc822; gina@example.com\n"
     "Action: failed\n"
     "Status: 4.4.7\n"
     "Diagnostic-Code: smtp; 554 4.4.7 Message expired: unable to deliver in 840 minutes.<421 4.4.2 Connection timed out>\n"
     "--E--\n",
     1, "rfc3464", 1, {{"gina@example.com", "4.4.2", "expired"}}},
    {"obsolete blanks before the colon, misspelt address type",
     "From: Postmaster <postmaster@gw.example.net>\n"
     "Subject: [Postmaster] Email Delivery Failure\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"M\"\n"
     "\n"
     "--M\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Reporting-MTA : dns;gw.example.net\n"
     "Action : failed\n"
     "Status : 5.0.0\n"
     "Diagnostic-Code : smtp;550 5.7.54 Unable to relay recipient in non-accepted domain\n"
     "Final-Recipient : rfc/822;hank@example.com\n"
     "--M--\n",
     1, "rfc3464", 1, {{"hank@example.com", "5.7.54", "norelaying"}}},
    {"source-routed final recipient gives way to the original one",
     "From: MAILER-DAEMON@mx.example.net\n"
     "Subject: Delivery Notification: Delivery has failed\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\n"
     "\n"
     "--R\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Reporting-MTA: dns;mx.example.net\n"
     "\n"
     "Original-recipient: rfc822;ida@example.net\n"
     "Final-recipient: rfc822;@lmtp.example.net:ida@store1\n"
     "Action: failed\n"
     "Status: 5.2.0\n"
     "Diagnostic-code: smtp;522 5.2.0 Delivery failed: Over quota\n"
     "--R--\n",
     1, "rfc3464", 1, {{"ida@example.net", "5.2.0", "mailboxfull"}}},
    {"final recipient without local part, the text names it",
     "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n"
     "Subject: Returned mail: see transcript for details\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"S\"\n"
     "\n"
     "--S\n"
     "Content-Type: text/plain\n"
     "\n"
     "   ----- The following addresses had permanent fatal errors -----\n"
     "<jack@example.org>\n"
     "    (reason: 550 Host unknown)\n"
     "\n"
     "--S\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Reporting-MTA: dns; mx.example.net\n"
     "\n"
     "Final-Recipient: RFC822; @mx.example.org\n"
     "Action: failed\n"
     "Status: 5.1.2\n"
     "--S--\n",
     1, "rfc3464", 1, {{"jack@example.org", "5.1.2", "hostunknown"}}},
    {"failed action with a transient status: the remote's permanent code wins",
     "From: MAILER-DAEMON@mx.example.net\n"
     "Subject: Undelivered Mail Returned to Sender\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"F\"\n"
     "\n"
     "--F\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Final-Recipient: rfc822; kate@example.fr\n"
     "Action: failed\n"
     "Status: 4.5.0\n"
     "Diagnostic-Code: smtp; 550 5.5.0 Service refused, please try later\n"
     "--F--\n",
     1, "rfc3464", 1, {{"kate@example.fr", "5.5.0", NULL}}},
    {"gateway notice with dashed items",
     "From: \"postmaster\" <postmaster@gw.example.org>\n"
     "Subject: [Postmaster] Email Delivery Failure\n"
     "\n"
     "An email that you attempted to send to the following address could not be delivered:\n"
     "-- lena@example.org\n"
     "\n"
     "The problem appears to be :\n"
     "-- Recipient email address is possibly incorrect\n"
     "\n"
     "Additional information follows :\n"
     "-- 5.4.1 Recipient address rejected: Access denied.\n",
     1, "mimecast", 1, {{"lena@example.org", "5.4.1", NULL}}},
    {"recipient after a \"Delivery failed:\" lead-in",
     "From: postmaster@mx.example.co.jp\n"
     "Subject: Delivery failure\n"
     "\n"
     "Your delivery to the following address has been failed.\n"
     "------------------------------------------------------\n"
     "\n"
     "Delivery failed: mia@example.co.jp\n"
     "Remote host said: 554 5.4.14 Hop count exceeded - possible mail loop\n",
     1, "text", 1, {{"mia@example.co.jp", "5.4.14", "networkerror"}}},
    /* A notice whose recipient lines say no cause: the code and words of the
     * notice (RFC 3463 X.1.10, "recipient not found") stand for the recipient. */
    {"text: the notice's status code stands for its one recipient",
     "From: postmaster@mx.example.net\n"
     "To: sender@example.org\n"
     "Subject: Undeliverable: hello\n"
     "\n"
     "Your message to ann@example.net couldn't be delivered.\n"
     "ann wasn't found at example.net.\n"
     "\n"
     "More Info for Email Admins\n"
     "Status code: 550 5.1.10\n"
     "\n"
     "This error occurs because the sender sent a message to an address that is incorrect.\n"
     "\n"
     "Original Message Details\n"
     "Recipient Address:      ann@example.net\n"
     "\n"
     "Error Details\n"
     "Error:  550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient ann@example.net not found by SMTP address lookup\n",
     1, "text", 1, {{"ann@example.net", "5.1.10", "userunknown"}}},
    /* A code that by itself names the recipient (Exchange's permanent 5.4.1,
     * "Recipient address rejected: Access denied") is not a filter, even with
     * no SMTP command named. */
    {"rfc3464: 5.4.1 access denied is an unknown recipient",
     "From: MAILER-DAEMON@mx.example.net\n"
     "To: sender@example.org\n"
     "Subject: Undeliverable mail\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B2\"\n"
     "\n"
     "--B2\n"
     "Content-Type: text/plain\n"
     "\n"
     "Failed to deliver to bob@example.com\n"
     "\n"
     "--B2\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Reporting-MTA: dns; mx.example.net\n"
     "\n"
     "Final-Recipient: rfc822; bob@example.com\n"
     "Action: failed\n"
     "Status: 5.4.1\n"
     "Diagnostic-Code: smtp; 550 5.4.1 Recipient address rejected: Access denied\n"
     "\n"
     "--B2--\n",
     1, NULL, 1, {{"bob@example.com", "5.4.1", "userunknown"}}},
    /* Free-text bounces in no known format (list-server bounces). */
    {"free text: the address next to a failure phrase",
     "From: Mail Delivery System <mailer@mx.example.net>\n"
     "To: list-bounces@lists.example.org\n"
     "Subject: Delivery failure\n"
     "\n"
     "Hi. This is the mail delivery agent at example.net.\n"
     "Your message to frank@example.net could not be delivered because the\n"
     "user does not exist on this system. Write to postmaster@example.net for help.\n",
     /* "does not exist" with no SMTP command and no X.1.x code: the reference
      * taxonomy calls that a filter answering in a mailbox's words (dsn.c). */
     1, "text", 1, {{"frank@example.net", "5.0.910", "filtered"}}},
    {"free text: addr: reason lines, several recipients",
     "From: postmaster@mx.example.net\n"
     "To: list-bounces@lists.example.org\n"
     "Subject: Returned mail\n"
     "\n"
     "The following recipients of your message could not be reached:\n"
     "\n"
     "yann@example.net: mailbox is full\n"
     "zoe@example.net: no such user here (in reply to RCPT TO command)\n",
     1, "text", 2,
     {{"yann@example.net", "5.0.922", "mailboxfull"}, {"zoe@example.net", "5.0.911", "userunknown"}}},
    {"free text: the reason stands above the address",
     "From: postmaster@nms.example.net\n"
     "To: list-bounces@lists.example.org\n"
     "Subject: Mail System Error - Returned Mail\n"
     "\n"
     "This Message was undeliverable due to the following reason:\n"
     "\n"
     "The user(s) account is temporarily over quota.\n"
     "\n"
     "<paul@nms.example.net>\n"
     "\n"
     "Please reply to <Postmaster@nms.example.net>\n"
     "if you feel this message to be in error.\n",
     1, "text", 1, {{"paul@nms.example.net", "5.0.922", "mailboxfull"}}},
    {"free text: German notice",
     "From: MAILER-DAEMON@mx.example.de\n"
     "To: list-bounces@lists.example.org\n"
     "Subject: Unzustellbar: hallo\n"
     "\n"
     "Die folgende Nachricht konnte nicht zugestellt werden an: walter@example.de\n"
     "Grund: Postfach voll\n",
     1, "text", 1, {{"walter@example.de", "5.0.922", "mailboxfull"}}},
    {"free text: only the returned original names the recipient",
     "From: MAILER-DAEMON@mx.example.com\n"
     "To: list-bounces@lists.example.org\n"
     "Subject: Undelivered mail\n"
     "\n"
     "Sorry, your message could not be delivered.\n"
     "The mailbox of the recipient was not found.\n"
     "\n"
     "------ Original message ------\n"
     "Return-Path: <list-bounces@lists.example.org>\n"
     "Received: from lists.example.org by mx.example.com\n"
     "\tfor <vic@example.com>; Mon, 2 Feb 2004 10:00:00 +0000\n"
     "From: someone@example.org\n"
     "To: list@lists.example.org\n"
     "Subject: hello\n"
     "\n"
     "body\n",
     1, "text", 1, {{"vic@example.com", "5.0.910", NULL}}},
    {"free text: an SMTP transcript (In:/Out:), the sender is ours",
     "From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\n"
     "To: postmaster@mx.example.com (Postmaster)\n"
     "Subject: Postfix SMTP server: errors from localhost[127.0.0.1]\n"
     "\n"
     "Transcript of session follows.\n"
     " Out: 220 mx.example.com ESMTP\n"
     " In:  MAIL\n"
     "     FROM:<bounce-123=x@lists.example.org>\n"
     " Out: 250 2.1.0 Ok\n"
     " In:  RCPT TO:<kim@example.net>\n"
     " Out: 250 2.1.5 Ok\n"
     " In:  DATA\n"
     " Out: 451 4.3.0 Error: queue file write error\n",
     1, "text", 1, {{"kim@example.net", "4.3.0", "systemerror"}}},
    {"free text: display names, one recipient a line",
     "From: Postmaster <postmaster@mx.example.net>\n"
     "To: list-bounces@lists.example.org\n"
     "Subject: Undeliverable: hello\n"
     "\n"
     "Your message was not delivered to the following recipients:\n"
     "\n"
     "   Jane Doe <jane@example.net>: Mailbox quota exceeded\n"
     "   \"John Roe\" <john@example.net>: User unknown (in reply to RCPT TO command)\n",
     1, "text", 2,
     {{"jane@example.net", "5.0.922", "mailboxfull"}, {"john@example.net", "5.0.911", "userunknown"}}},
    {"free text: a provider lists its users by local part",
     "From: Mail Delivery Subsystem <MAILER-DAEMON@provider.example>\n"
     "To: <list-bounces@lists.example.org>\n"
     "Subject: Mail Delivery Problem\n"
     "\n"
     "Sorry. Your mail to the following recipients could not be delivered because\n"
     "they are not accepting mail from list-bounces@lists.example.org:\n"
     "\tsomeuser\n",
     1, "text", 1, {{"someuser@provider.example", "5.0.932", NULL}}},
    {"report without recipients: the attached original's To",
     "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\n"
     "To: sender@example.org\n"
     "Subject: Undelivered Mail Returned to Sender\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B9\"\n"
     "\n"
     "--B9\n"
     "Content-Type: text/plain\n"
     "\n"
     "This is the mail system at host mx.example.net.\n"
     "\n"
     "\t--- Delivery report unavailable ---\n"
     "\n"
     "--B9\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Reporting-MTA: dns; mx.example.net\n"
     "\n"
     "--B9\n"
     "Content-Type: message/rfc822\n"
     "\n"
     "From: <sender@example.org>\n"
     "To: rose@example.com\n"
     "Subject: hello\n"
     "\n"
     "hi\n"
     "--B9--\n",
     1, "postfix", 1, {{"rose@example.com", "5.0.901", NULL}}},
};

static struct report *run(const char *mail, int *ret)
{
    size_t len = strlen(mail);
    struct arena a;
    arena_init(&a, 0);
    struct mime_limits lim = { 32, 1000 };
    const struct mime_part *root = mime_scan(&a, mail, len, &lim, NULL, NULL);
    struct report *r = report_new();
    *ret = root ? dsn_parse(r, root, &a, mail, len) : -1;
    arena_free(&a);
    return r;
}

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct dsn_case *c = &cases[i];
        int ret = 0;
        struct report *r = run(c->mail, &ret);
        if (ret != c->want_ret)
            fail_msg("%s: dsn_parse got %d, want %d", c->name, ret, c->want_ret);
        if (c->want_ret == 0) {
            if (r->recipients->len != 0 || r->kind != REPORT_UNKNOWN)
                fail_msg("%s: got %u recipients, want an untouched report", c->name,
                         r->recipients->len);
            report_free(r);
            continue;
        }
        if (r->kind != REPORT_DSN)
            fail_msg("%s: kind got %d, want REPORT_DSN", c->name, (int)r->kind);
        if (c->want_format && (!r->dsn_format || strcmp(r->dsn_format, c->want_format) != 0))
            fail_msg("%s: dsn_format got %s, want %s", c->name,
                     r->dsn_format ? r->dsn_format : "(null)", c->want_format);
        if (r->recipients->len != c->n_rcpts)
            fail_msg("%s: got %u recipients, want %zu", c->name, r->recipients->len, c->n_rcpts);
        for (size_t k = 0; k < c->n_rcpts; k++) {
            const struct dsn_rcpt *d = g_ptr_array_index(r->recipients, k);
            const struct want_rcpt *w = &c->rcpts[k];
            if (!d->final_recipient || strcmp(d->final_recipient, w->rcpt) != 0)
                fail_msg("%s: recipient %zu got %s, want %s", c->name, k,
                         d->final_recipient ? d->final_recipient : "(null)", w->rcpt);
            if (!d->status || strcmp(d->status, w->status) != 0)
                fail_msg("%s: status %zu got %s, want %s", c->name, k,
                         d->status ? d->status : "(null)", w->status);
            if (w->reason && (!d->reason || strcmp(d->reason, w->reason) != 0))
                fail_msg("%s: reason %zu got %s, want %s", c->name, k,
                         d->reason ? d->reason : "(null)", w->reason);
            if (!d->reason)
                fail_msg("%s: reason %zu got NULL, want a reason name", c->name, k);
        }
        report_free(r);
    }
}

/* Free-text bounces of list-server era MTAs: the recipient next to a failure
 * phrase or a recipient label, "(expanded from ...)" / "(generated from ...)",
 * address-type prefixes, and the action (a time-out without "will retry" wording
 * is a failure; a notice that says delivery goes on is a delay). */
struct text_case {
    const char *name;
    const char *mail;
    const char *rcpt;
    const char *orig;   /* NULL: must be NULL */
    const char *action;
    unsigned n;         /* recipients reported */
};

static const struct text_case text_cases[] = {
    {"sendmail: expanded from, and a hop count naming the sender",
     "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n"
     "To: list-admin@lists.example.org\n"
     "Subject: Returned mail: Too many hops\n"
     "\n"
     "   ----- The following addresses had permanent fatal errors -----\n"
     "bob@mail.example.net\n"
     "    (expanded from: bob@example.net)\n"
     "\n"
     "   ----- Transcript of session follows -----\n"
     "554 Too many hops 26 (25 max): from list-admin@lists.example.org via localhost, to "
     "bob@example.net\n",
     "bob@mail.example.net", "bob@example.net", "failed", 1},
    {"exim: an undisclosed address generated from the recipient",
     "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
     "To: list-bounces@lists.example.org\n"
     "Subject: Mail delivery failed: returning message to sender\n"
     "\n"
     "This message was created automatically by mail delivery software.\n"
     "\n"
     "A message that you sent could not be delivered to one or more of its\n"
     "recipients. This is a permanent error. The following address(es) failed:\n"
     "\n"
     "  an undisclosed address\n"
     "    (generated from carol@example.com)\n",
     "carol@example.com", NULL, "failed", 1},
    {"free text: a recipient label",
     "From: MAILER-DAEMON@mx.example.net\n"
     "To: list-admin@lists.example.org\n"
     "Subject: Processing Error\n"
     "\n"
     "Intended recipient: dave@example.net\n"
     "\n"
     "The following mail has been returned because it encountered an error.\n",
     "dave@example.net", NULL, "failed", 1},
    {"free text: an address-type prefix",
     "From: \"Delivery Subsystem\" <POSTMASTER@mx.example.net>\n"
     "To: <list-bounces@lists.example.org>\n"
     "Subject: Message Delivery Failure\n"
     "\n"
     "The following recipient(s) could not be reached:\n"
     "\n"
     "\tRecipient: [SMTP:erin@example.com]\n"
     "\tReason: Remote SMTP Server Returned: 550 mailbox unavailable\n",
     "erin@example.com", NULL, "failed", 1},
    {"free text: retries given up on is a failure",
     "From: \"Postmaster\" <postmaster@mx.example.net>\n"
     "To: <list-admin@lists.example.org>\n"
     "Subject: Undeliverable Mail\n"
     "\n"
     "Delivery failed 20 attempts: frank@example.net\n"
     "\n"
     "\n"
     "Original message follows.\n",
     "frank@example.net", NULL, "failed", 1},
    {"free text: a warning is a delay",
     "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\n"
     "To: list-bounces@lists.example.org\n"
     "Subject: Warning: message has not yet been delivered\n"
     "\n"
     "This is an automated message created by mail delivery software.\n"
     "\n"
     "Your message to:\n"
     "\tgrace@example.com\n"
     "\n"
     "has not yet been delivered because the recipient server did not respond.\n",
     "grace@example.com", NULL, "delayed", 1},
    {"postfix text: a reply continued over lines names no second recipient",
     "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\n"
     "To: sender@example.org\n"
     "Subject: Undelivered Mail Returned to Sender\n"
     "\n"
     "This is the mail system at host mx.example.net.\n"
     "\n"
     "<ivan@example.net>: host mx.example.net[192.0.2.9] said:\n"
     "    550-ivan@example.net is not an active address at this host (invalid\n"
     "    550 username) (in reply to RCPT TO command)\n",
     "ivan@example.net", NULL, "failed", 1},
    {"free text: quoted address next to a failure phrase, original after a marker",
     "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
     "To: list-admin@lists.example.org\n"
     "Subject: Mail delivery failure\n"
     "\n"
     "The following message, addressed to 'heidi@example.net',\n"
     "failed because it has not been collected after 30 days\n"
     "\n"
     "---- START OF RETURNED MESSAGE ----\n"
     "From: list-request@lists.example.org\n"
     "To: list@lists.example.org\n"
     "Subject: digest\n",
     "heidi@example.net", NULL, "failed", 1},
};

static void test_text_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++) {
        const struct text_case *c = &text_cases[i];
        int ret = 0;
        struct report *r = run(c->mail, &ret);
        if (ret != 1 || r->kind != REPORT_DSN)
            fail_msg("%s: dsn_parse got %d, want 1", c->name, ret);
        if (r->recipients->len != c->n)
            fail_msg("%s: got %u recipients, want %u", c->name, r->recipients->len, c->n);
        const struct dsn_rcpt *d = g_ptr_array_index(r->recipients, 0);
        if (!d->final_recipient || strcmp(d->final_recipient, c->rcpt) != 0)
            fail_msg("%s: recipient got %s, want %s", c->name,
                     d->final_recipient ? d->final_recipient : "(null)", c->rcpt);
        if ((c->orig == NULL) != (d->original_recipient == NULL)
            || (c->orig && strcmp(d->original_recipient, c->orig) != 0))
            fail_msg("%s: original recipient got %s, want %s", c->name,
                     d->original_recipient ? d->original_recipient : "(null)",
                     c->orig ? c->orig : "(null)");
        if (!d->action || strcmp(d->action, c->action) != 0)
            fail_msg("%s: action got %s, want %s", c->name, d->action ? d->action : "(null)",
                     c->action);
        report_free(r);
    }
}

/* Hostile input: NUL bytes, a huge line, broken base64 and deep nesting must
 * neither crash nor read out of bounds (run under ASan in CI). */
static void test_hostile(void **state)
{
    (void)state;
    GString *g = g_string_new("From: MAILER-DAEMON@x.example\nSubject: Undelivered\n"
                              "MIME-Version: 1.0\n");
    for (int i = 0; i < 40; i++)
        g_string_append_printf(g, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n", i, i);
    g_string_append(g, "Content-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n"
                       "RmluYWwtUmVjaXBpZW50OiByZmM4MjI7IGFAYi5leGFtcGxl!!!\n");
    g_string_append(g, "<a@b.example>: ");
    for (int i = 0; i < 100000; i++)
        g_string_append_c(g, 'x');
    g_string_append_len(g, "\0\0\n", 3);
    int ret = 0;
    struct report *r = run(g->str, &ret);
    if (ret < 0)
        fail_msg("hostile: got %d, want 0 or 1", ret);
    report_free(r);
    g_string_free(g, TRUE);
}

/* Hostile free text: a notice of 50,000 lines, each naming addresses next to a
 * failure phrase, and a returned original whose Received header is folded over
 * 50,000 lines. The fallbacks must stay bounded (DSN_MAX_RCPTS recipients at most,
 * a few seconds under ASan) and never read out of bounds. */
static void test_hostile_freetext(void **state)
{
    (void)state;
    GString *g = g_string_new("From: MAILER-DAEMON@x.example\nTo: list-bounces@lists.example\n"
                              "Subject: Undelivered mail\n\n");
    for (int i = 0; i < 50000; i++)
        g_string_append_printf(g, "Delivery failed for <user%d@host%d.example>, <u%d@h.example>\n",
                               i, i % 97, i);
    g_string_append(g, "------ Original message ------\nReceived: from a by b\n");
    for (int i = 0; i < 50000; i++)
        g_string_append(g, "\tfor\n");
    g_string_append(g, "To: list@lists.example\n\nbody\n");
    int ret = 0;
    struct report *r = run(g->str, &ret);
    if (ret != 1)
        fail_msg("hostile free text: got %d, want 1", ret);
    if (r->recipients->len == 0 || r->recipients->len > 512)
        fail_msg("hostile free text: got %u recipients, want 1..512", r->recipients->len);
    report_free(r);
    g_string_free(g, TRUE);
}

int main(void)
{
    parse_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_text_rules),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_hostile_freetext),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

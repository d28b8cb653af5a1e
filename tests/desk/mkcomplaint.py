#!/usr/bin/env python3
"""mkcomplaint.py: rewrites a real feedback-loop report from shared/corpus so that
the mail it complains about looks as if it had been sent through our hosts.

The template keeps its provider-specific structure (ARF parts, JMRP layout, text
before the report); only these are replaced: the report's own From and
Message-ID, the Arrival-Date / Received-Date / Source-IP fields of the
feedback-report part (when it has one), and the header block of the returned
message (message/rfc822 or text/rfc822-headers part), which is rebuilt from the
options. Prints the new mail on stdout, with the template's line endings.

  mkcomplaint.py TEMPLATE [--report-from ADDR] [--arrival DATE] [--source-ip IP]
      [--subject S] [--from ADDR] [--return-path ADDR] [--msgid ID] [--date DATE]
      [--received VALUE ...] [--header "Name: value" ...] [--report-id TOKEN]
      [--mx-auth auto|DOMAIN] [--mx-id AUTHSERV_ID]
--mx-auth makes the report look as our own inbound MX received it: a Received
header of --mx-id (default mx.hoster.example) taking it from the provider, and
above it that MX's Authentication-Results with dkim=pass for DOMAIN ("auto":
the domain of the report's From). Without it the report is unauthenticated.
Dates are RFC 5322 ("Thu, 26 Nov 2026 10:00:00 +0000") or "now-2h", "now-60d".
"""
import argparse
import email.utils
import re
import sys
import time


def when(s):
    m = re.fullmatch(r"now(?:-(\d+)([smhd]))?", s or "")
    if not m:
        return s
    secs = 0
    if m.group(1):
        secs = int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return email.utils.formatdate(time.time() - secs, usegmt=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("template")
    ap.add_argument("--report-from")
    ap.add_argument("--arrival")
    ap.add_argument("--source-ip")
    ap.add_argument("--subject", default="Hello")
    ap.add_argument("--from", dest="from_", default="sender@customer.example")
    ap.add_argument("--return-path")
    ap.add_argument("--msgid")
    ap.add_argument("--date", default="now")
    ap.add_argument("--received", action="append", default=[])
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--report-id", default=None)
    ap.add_argument("--mx-auth", default=None)
    ap.add_argument("--mx-id", default="mx.hoster.example")
    ap.add_argument("--count", type=int, default=0,
                    help="batch mode: write COUNT mails into --outdir (a Maildir's new/), "
                         "cycling through --accounts and subject lines, with our Received hops")
    ap.add_argument("--outdir")
    ap.add_argument("--accounts", default="alice@customer.example")
    a = ap.parse_args()
    if a.count:
        batch(a)
        return
    sys.stdout.buffer.write(build(a))


def batch(a):
    """Many distinct complaints: account i % n, a few subject lines, unique ids."""
    import copy
    import os
    accounts = a.accounts.split(",")
    subjects = ["Cheap pills", "Your parcel is waiting", "Invoice overdue", "Winner!",
                "Re: meeting", "Password expires today"]
    os.makedirs(a.outdir, exist_ok=True)
    stamp = email.utils.formatdate(time.time(), usegmt=True)
    for i in range(a.count):
        b = copy.copy(a)
        acct = accounts[i % len(accounts)]
        b.from_ = acct
        b.subject = subjects[(i // len(accounts)) % len(subjects)]
        b.report_id = "bench-%d-%d" % (os.getpid(), i)
        b.msgid = "<bench-%d-%d@customer.example>" % (os.getpid(), i)
        b.received = [
            "from out%d.hoster.example (out%d.hoster.example [198.51.100.%d]) by mx.recipient.test "
            "with ESMTPS id R%d; %s" % (i % 4, i % 4, 10 + i % 4, i, stamp),
            "from [203.0.113.%d] (dsl.example.test [203.0.113.%d]) (Authenticated sender: %s) by "
            "smtp.hoster.example (Postfix) with ESMTPSA id S%d; %s" % (i % 250, i % 250, acct, i, stamp),
        ]
        with open(os.path.join(a.outdir, "%d.%d.bench" % (os.getpid(), i)), "wb") as f:
            f.write(build(b))


def build(a):
    raw = open(a.template, "rb").read().decode("latin-1")
    nl = "\r\n" if "\r\n" in raw else "\n"
    lines = raw.replace("\r\n", "\n").split("\n")

    # 1. The report's own headers (up to the first blank line).
    end = lines.index("")
    head = lines[:end]
    rid = a.report_id or ("%d.%d" % (time.time_ns(), id(a)))
    out_head = []
    skip = False
    for h in head:
        if skip and h[:1] in (" ", "\t"):
            continue
        skip = False
        name = h.split(":", 1)[0].lower()
        if name == "from" and a.report_from:
            out_head.append("From: " + a.report_from)
            skip = True
        elif name == "message-id":
            out_head.append("Message-ID: <report-%s@fbl.test>" % rid)
            skip = True
        else:
            out_head.append(h)
    if not any(h.lower().startswith("message-id:") for h in out_head):
        out_head.append("Message-ID: <report-%s@fbl.test>" % rid)
    if a.mx_auth:
        dom = a.mx_auth
        if dom == "auto":
            frm = [h for h in out_head if h.lower().startswith("from:")]
            m = re.search(r"@([A-Za-z0-9.-]+)", frm[0] if frm else "")
            dom = m.group(1).lower() if m else "unknown.invalid"
        out_head = ["Authentication-Results: %s; dkim=pass header.d=%s header.s=fbl;"
                    " spf=pass smtp.mailfrom=%s" % (a.mx_id, dom, dom),
                    "Received: from out.%s (out.%s [192.0.2.44]) by %s (Postfix) with ESMTPS"
                    " id MX%s; %s" % (dom, dom, a.mx_id, rid.replace(".", ""),
                                      email.utils.formatdate(time.time(), usegmt=True))] + out_head
    body = lines[end:]

    # 2. Feedback-report fields.
    arrival = when(a.arrival) if a.arrival else None
    out_body = []
    in_fr = False
    seen_arr = seen_ip = False
    for i, l in enumerate(body):
        low = l.lower()
        if low.startswith("content-type:") and "feedback-report" in low and "multipart" not in low:
            in_fr = True
        elif in_fr and l.startswith("--"):
            if arrival and not seen_arr:
                out_body.insert(len(out_body) - 1 if out_body and out_body[-1] == "" else len(out_body),
                                "Arrival-Date: " + arrival)
            if a.source_ip and not seen_ip:
                out_body.insert(len(out_body) - 1 if out_body and out_body[-1] == "" else len(out_body),
                                "Source-IP: " + a.source_ip)
            in_fr = False
        if in_fr and (low.startswith("arrival-date:") or low.startswith("received-date:")):
            seen_arr = True
            if arrival:
                out_body.append(l.split(":", 1)[0] + ": " + arrival)
                continue
        if in_fr and low.startswith("original-mail-from:"):
            out_body.append("Original-Mail-From: <%s>" % (a.return_path or a.from_))
            continue
        if in_fr and low.startswith("source-ip:"):
            seen_ip = True
            if a.source_ip:
                out_body.append(l.split(":", 1)[0] + ": " + a.source_ip)
                continue
        out_body.append(l)
    body = out_body

    # 3. The returned message's header block.
    start = None
    for i, l in enumerate(body):
        low = l.lower()
        if low.startswith("content-type:") and ("message/rfc822" in low or "rfc822-headers" in low):
            j = i + 1
            while j < len(body) and body[j] != "":
                j += 1
            start = j + 1
            break
    if start is None:
        sys.exit("mkcomplaint: %s has no returned message part" % a.template)
    stop = start
    while stop < len(body) and body[stop] != "":
        stop += 1
    msgid = a.msgid or "<msg-%s@customer.example>" % rid
    if not msgid.startswith("<"):
        msgid = "<" + msgid + ">"
    new = []
    if a.return_path:
        new.append("Return-Path: <%s>" % a.return_path)
    for r in a.received:
        new.append("Received: " + r)
    new += ["From: " + a.from_, "To: someone@recipient.test", "Subject: " + a.subject,
            "Date: " + when(a.date), "Message-ID: " + msgid, "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=UTF-8"]
    new += a.header
    body = body[:start] + new + body[stop:]

    return nl.join(out_head + body).encode("latin-1")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""bench/decisions_alt.py: a second, independent month of complaints for a
mail hosting provider, replayed through abusedesk, and the desk's decisions
measured against the generator's ground truth.

Written without looking at bench/decisions.py: its own populations, rates,
delays and header conventions (bench/decisions_alt.md lists them). Python 3
standard library only.

  decisions_alt.py [--bin build/abusedesk] [--seed 1] [--accounts 10000]
                   [--days 30] [--work DIR] [--keep] [--cases FILE] [--json]

It writes a customer directory (CSV), a configuration (the shipped
etc/abusedesk.conf with only the store paths, [intake] authserv_id =
mx.hoster.example, verify_dkim = false, [network] and the templates path
changed) and a Maildir of report mails; runs `init`, `directory import`,
`ingest -q --replay --maildir`, `process`; then reads `locks`, `outbox` and
`audit` from the SQLite database and prints the figures. --cases writes, for
every false lock, late lock and missed compromise, the lock's rule and the
incident's audit log.
"""
import argparse
import calendar
import email.utils
import hashlib
import json
import math
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

T0 = calendar.timegm((2026, 10, 1, 0, 0, 0))
HOUR = 3600
DAY = 86400
OUR_DOMAIN = "hoster.example"
MX = "mx.hoster.example"
OUT_HOSTS = [("out%d.hoster.example" % i, "198.51.100.%d" % (10 + i)) for i in range(1, 7)]
WEB_HOSTS = [("web%d.hoster.example" % i, "198.51.100.%d" % (30 + i)) for i in range(1, 9)]
SMTP_HOST = ("smtp.hoster.example", "198.51.100.2")
WEBMAIL = ("webmail.hoster.example", "198.51.100.5")

# Reporting providers. share: of complaints about mail through us; signer: the
# domain our MX sees a dkim=pass for (it must be a signed_by of the shipped
# [providers] row, or that row's own domain); delay: minutes from the click to
# the report reaching our MX (log-normal median, sigma); manual: share of
# people's clicks (the rest are filter/trap reports); redact: Original-Rcpt-To
# left out; headers_only: text/rfc822-headers instead of the whole message.
PROVIDERS = {
    "hotmail": dict(share=0.27, from_="staff@hotmail.com", signer="hotmail.com",
                    ua="Microsoft JMRP/ARF 1.0", relay=("bay-fbl.hotmail.com", "65.55.111.20"),
                    delay=(3, 0.8), manual=1.0, redact=False, headers_only=False),
    "yahoo": dict(share=0.10, from_="feedback@arf.mail.yahoo.com", signer="arf.mail.yahoo.com",
                  ua="Yahoo!-Mail-Feedback/2.0", relay=("mta-fbl.arf.mail.yahoo.com", "98.136.100.7"),
                  delay=(12, 1.0), manual=1.0, redact=True, headers_only=False),
    "aol": dict(share=0.05, from_="scomp@aol.net", signer="aol.net", ua="AOL SComp",
                relay=("omr-fbl.mx.aol.net", "64.12.90.3"), delay=(10, 1.0), manual=1.0,
                redact=True, headers_only=False),
    "gmx": dict(share=0.17, from_="fbl@fbl.gmx.net", signer="gmx.net", ua="UI-FBL/1.2",
                relay=("mout-fbl.gmx.net", "212.227.17.20"), delay=("hourly", 0), manual=0.8,
                redact=False, headers_only=False),
    "webde": dict(share=0.17, from_="fbl@fbl.web.de", signer="web.de", ua="UI-FBL/1.2",
                  relay=("mout-fbl.web.de", "212.227.15.3"), delay=("hourly", 0), manual=0.8,
                  redact=False, headers_only=False),
    "comcast": dict(share=0.03, from_="feedbackloop@comcast.net", signer="comcast.net",
                    ua="Validity-FBL/3.1", relay=("fbl.comcast.net", "96.114.154.10"),
                    delay=(30, 1.0), manual=1.0, redact=True, headers_only=True),
    "senderscore": dict(share=0.06, from_="fbl@fbl.senderscore.net", signer="senderscore.net",
                        ua="Validity Universal FBL", relay=("fbl.senderscore.net", "74.112.234.9"),
                        delay=(60, 1.0), manual=1.0, redact=True, headers_only=True),
    "spamcop": dict(share=0.03, from_="spamcop@reports.spamcop.net", signer="spamcop.net",
                    ua="SpamCop-Reporter/5.3", relay=("reports.spamcop.net", "184.94.240.100"),
                    delay=(150, 1.2), manual=1.0, redact=True, headers_only=False),
    "abusix": dict(share=0.0, from_="trap-report@abusix.org", signer="abusix.org",
                   ua="Abusix spamtrap network", relay=("mail.abusix.org", "185.162.7.22"),
                   delay=(3, 0.7), manual=0.0, redact=True, headers_only=True),
}
# Private people writing to abuse@ by hand (the spam attached): their own
# mailbox's provider signs (gmx.net, web.de, outlook.com have DKIM; t-online.de
# does not sign users' mail; gmail.com is not a [providers] row).
PEOPLE = [("gmx.net", True, 0.3), ("web.de", True, 0.25), ("t-online.de", False, 0.2),
          ("gmail.com", True, 0.15), ("outlook.com", True, 0.1)]
RCPT_DOMAINS = {"hotmail": "hotmail.com", "yahoo": "yahoo.com", "aol": "aol.com", "gmx": "gmx.de",
                "webde": "web.de", "comcast": "comcast.net", "senderscore": "rr.com",
                "spamcop": "example-isp.net", "abusix": "trap.example.org"}
# Domains the shipped [providers] accept as proof when our MX saw a DKIM or
# SPF pass for them: a row's signed_by, or a subdomain of a row without
# signed_by; never the bare domain of such a row (hotmail.com, gmx.net,
# web.de sign every free mailbox's mail, so their signature proves nothing).
# The MX still sees a pass for the others; the desk scores those reports as
# unauthenticated, and the figures count them so.
TRUSTED_SIGNERS = {"arf.mail.yahoo.com", "aol.net", "senderscore.net"}

SPAM_SUBJECTS = [
    "Ihre Rechnung Nr. %d ist fällig", "Your parcel could not be delivered", "Re: Angebot",
    "Dringend: Kontobestätigung erforderlich", "Shared document: Q%d report.pdf",
    "Verify your mailbox quota", "Cheap meds online", "You have won a voucher",
    "Investment opportunity %d%% return", "Hello dear", "Payment confirmation #%d",
    "Your account will be suspended", "Re: Re: order", "DHL Zustellung fehlgeschlagen",
    "Bitcoin profit today", "Lebenslauf Bewerbung", "Meeting notes", "New voicemail (%d sec)",
    "Ihre Sendung %d", "Urgent wire transfer", "Rolex replica sale", "Datingprofil ansehen",
    "Steuererstattung %d EUR", "Microsoft 365 password expires", "Fax received %d pages",
]
LEGIT_SUBJECTS = [
    "Rechnung %d", "Angebot für Ihr Projekt", "Re: Termin nächste Woche", "Mahnung zu Rechnung %d",
    "Unterlagen", "Fwd: Fotos", "Auftragsbestätigung %d", "Einladung Sommerfest",
    "Re: Ihre Anfrage", "Kündigung", "Lieferung verzögert", "Hallo!", "Mitgliedsbeitrag %d",
]
WORDS = ["sonne", "baeckerei", "schreinerei", "praxis", "kanzlei", "verein", "shop", "studio",
         "autohaus", "hotel", "reisen", "technik", "design", "garten", "musik", "sport",
         "media", "bau", "immobilien", "fotografie", "yoga", "weine", "blumen", "elektro"]
FIRST = ["anna", "bernd", "claudia", "daniel", "eva", "frank", "gabi", "hans", "ines", "jan",
         "karin", "lars", "maria", "nils", "olga", "peter", "ruth", "stefan", "tina", "uwe"]
LAST = ["mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker",
        "schulz", "hoffmann", "koch", "richter", "klein", "wolf", "neumann", "braun"]
ROLES = ["info", "kontakt", "office", "buchhaltung", "verkauf", "service", "post", "mail"]


def lognorm(r, median, sigma):
    return median * math.exp(r.gauss(0, sigma))


def poisson(r, lam):
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, int(round(r.gauss(lam, math.sqrt(lam)))))
    l, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= r.random()
        if p <= l:
            return k
        k += 1


def fmt(t):
    return email.utils.formatdate(t, usegmt=True)


def weighted(r, items):
    tot = sum(w for _, w in items)
    x = r.random() * tot
    for v, w in items:
        x -= w
        if x <= 0:
            return v
    return items[-1][0]


class Month:
    def __init__(self, seed, accounts, days):
        self.r = random.Random(seed)
        self.seed = seed
        self.days = days
        self.end = T0 + days * DAY
        self.n_accounts = accounts
        self.freemail = 0
        self.customers = []
        self.accounts = {}       # address -> customer
        self.truth = {}          # entity key -> dict
        self.reports = []        # dicts, serialised later
        self.seq = 0
        self.backlog = {}
        self.make_directory()
        self.make_backlogs()

    # ----- the directory
    def make_directory(self):
        r = self.r
        n, ci = 0, 0
        while n < self.n_accounts:
            ci += 1
            size = weighted(r, [(1, 0.55), (2, 0.15), (3, 0.1), (r.randint(4, 15), 0.15),
                                (r.randint(16, 60), 0.05)])
            size = min(size, self.n_accounts - n)
            dom = "%s-%s%d.example" % (r.choice(WORDS), r.choice(LAST), ci)
            c = dict(id="K%06d" % ci, name="Kunde %d %s" % (ci, dom), domain=dom,
                     contact="inhaber%d@privat-%d.example" % (ci, ci % 97),
                     lang="de" if r.random() < 0.85 else "en", accounts=[], uid=None,
                     business=size > 1 or r.random() < 0.4)
            if r.random() < 0.45:
                c["uid"] = 10000 + ci
                c["webroot"] = "/var/www/vhosts/" + dom
            used = set()
            for j in range(size):
                if j == 0 and c["business"]:
                    local = r.choice(ROLES)
                else:
                    local = "%s.%s" % (r.choice(FIRST), r.choice(LAST))
                while local in used:
                    local += str(j)
                used.add(local)
                a = "%s@%s" % (local, dom)
                c["accounts"].append(a)
                self.accounts[a] = c
                n += 1
            self.customers.append(c)
        self.web_customers = [c for c in self.customers if c["uid"]]

    def directory_csv(self, path):
        with open(path, "w", encoding="utf-8") as f:
            f.write("customer_id,customer_name,contact_email,language,account,domain,uid,webroot\n")
            for c in self.customers:
                for i, a in enumerate(c["accounts"]):
                    uid = str(c["uid"]) if (c["uid"] and i == 0) else ""
                    root = c.get("webroot", "") if uid else ""
                    f.write("%s,%s,%s,%s,%s,%s,%s,%s\n" % (c["id"], c["name"], c["contact"], c["lang"],
                                                           a, c["domain"] if i == 0 else "", uid, root))

    # ----- providers' outages: reports held and delivered in one burst
    def make_backlogs(self):
        r = self.r
        for p in PROVIDERS:
            if r.random() < 0.35:
                s = T0 + r.random() * (self.days - 2) * DAY
                self.backlog[p] = (s, s + r.uniform(4, 48) * HOUR)

    # ----- ground truth
    def entity(self, key, pop, compromised=False, start=None, **kw):
        e = self.truth.setdefault(key, dict(key=key, pops=[], compromised=False, start=None,
                                            complaints=[]))
        if pop not in e["pops"]:
            e["pops"].append(pop)
        if compromised:
            e["compromised"] = True
            e["start"] = start if e["start"] is None else min(e["start"], start)
        e.update(kw)
        return e

    # ----- timing
    def click_delay(self, median_h=1.5, sigma=1.3):
        """From delivery to the recipient pressing 'spam': people read mail
        during the day (local time UTC+1/+2); a click at night waits for the morning."""
        return lognorm(self.r, median_h * HOUR, sigma)

    def waking(self, t):
        lh = ((t + 2 * HOUR) % DAY) / HOUR
        if lh < 6.5 and self.r.random() < 0.8:
            t += (6.5 - lh) * HOUR + self.r.random() * 3 * HOUR
        return t

    def provider_delay(self, p, t):
        d = PROVIDERS[p]["delay"]
        if d[0] == "hourly":  # batches at the next full hour
            a = (math.floor(t / HOUR) + 1) * HOUR + self.r.uniform(0, 15 * 60)
        else:
            a = t + lognorm(self.r, d[0] * 60, d[1])
        b = self.backlog.get(p)
        if b and b[0] <= a < b[1]:
            a = b[1] + self.r.uniform(0, HOUR)
        if self.r.random() < 0.005:  # a re-scan or a stuck queue: days late
            a += self.r.uniform(1, 10) * DAY
        return a

    # ----- one complaint about one mail
    def complaint(self, ent, mail, sent, pop, providers=None, traps=0.0, people=0.04, click=None):
        """mail: dict with the original's headers (via, from, subject, msgid, list...)."""
        r = self.r
        if traps and r.random() < traps:
            p = "abusix"
            clicked = sent + r.uniform(5, 120)
        else:
            if r.random() < people:
                return self.person(ent, mail, sent, pop, click)
            p = weighted(r, [(k, v["share"]) for k, v in PROVIDERS.items()
                             if (providers is None or k in providers) and v["share"] > 0])
            clicked = sent + r.uniform(10, 300) + (click() if click else self.click_delay())
            clicked = self.waking(clicked)
        arrival = self.provider_delay(p, clicked)
        if arrival >= self.end + 10 * DAY:
            return None
        # DKIM broken in transit now and then: SPF of the provider's outbound
        # host still passes for most, not for a report relayed by a secondary host.
        auth = r.random() >= 0.015
        rep = dict(kind="arf", provider=p, arrival=arrival, sent=sent, mail=mail,
                   manual=r.random() < PROVIDERS[p]["manual"], auth=auth, entity=ent, pop=pop,
                   spf_only=auth and r.random() < 0.015)
        self.add(rep)
        return rep

    def person(self, ent, mail, sent, pop, click=None):
        r = self.r
        dom, signs, _ = weighted(r, [((d, s, w), w) for d, s, w in PEOPLE])
        clicked = self.waking(sent + (click() if click else self.click_delay(4, 1.3)))
        arrival = clicked + lognorm(r, 20 * 60, 1.0)
        rep = dict(kind="text", provider=dom, arrival=arrival, sent=sent, mail=mail, manual=True,
                   auth=dom in TRUSTED_SIGNERS, signs=signs, entity=ent, pop=pop,
                   person="%s.%s%d@%s" % (r.choice(FIRST), r.choice(LAST), r.randint(1, 999), dom))
        self.add(rep)
        return rep

    def add(self, rep):
        self.seq += 1
        rep["n"] = rep["base"] = self.seq
        self.reports.append(rep)
        # duplicates: a provider re-sending the same report later (new MX hop),
        # the same bytes stored twice, or a user pressing "spam" twice.
        x = self.r.random()
        if x < 0.01:
            self.reports.append(dict(rep, dup="bytes"))
        elif x < 0.03:
            self.seq += 1
            self.reports.append(dict(rep, dup="resend", n=self.seq,
                                     arrival=rep["arrival"] + lognorm(self.r, 40 * 60, 1.2)))
        elif x < 0.04 and rep["kind"] == "arf":
            self.seq += 1
            self.reports.append(dict(rep, dup="again", n=self.seq,
                                     arrival=rep["arrival"] + lognorm(self.r, 5 * 60, 1.0)))

    # ----- original mails
    def via_account(self, acct, client_ip, webmail=False):
        return dict(via="account", account=acct, client=client_ip, webmail=webmail)

    def via_script(self, c, script):
        return dict(via="script", uid=c["uid"], script=script, web=self.r.choice(WEB_HOSTS))

    def mailhdr(self, via, frm, subject, msgid, listmark=None):
        return dict(via, from_=frm, subject=subject, msgid=msgid, listmark=listmark)

    def msgid(self, dom):
        self.seq += 1
        return "<%x.%d@%s>" % (self.r.getrandbits(48), self.seq, dom)

    def subj(self, pool):
        s = self.r.choice(pool)
        return s % self.r.randint(100, 99999) if "%" in s.replace("%%", "") else s.replace("%%", "%")

    def office_ip(self):
        return "203.0.113.%d" % self.r.randint(1, 254) if self.r.random() < 0.5 else \
               "192.0.2.%d" % self.r.randint(1, 254)

    # ----- populations
    def build(self):
        r = self.r
        k = self.n_accounts / 10000.0
        for a, c in self.accounts.items():
            self.legit_account(a, c)
        for c in self.web_customers:
            if r.random() < 0.12:
                self.legit_shop(c)
        for c in self.customers:
            if c["business"] and r.random() < 0.035:
                self.newsletter(c)
        for a in r.sample(list(self.accounts), poisson(r, 30 * k)):
            self.mail_merge(a, self.accounts[a])
        for a in r.sample(list(self.accounts), poisson(r, 7 * k)):
            self.compromised(a, self.accounts[a])
        for c in r.sample(self.web_customers, min(len(self.web_customers), poisson(r, 4 * k))):
            self.abused_script(c)
        for a in r.sample(list(self.accounts), max(1, poisson(r, 3 * k))):
            self.forged_campaign(a, self.accounts[a])
        for c in r.sample(self.customers, max(1, poisson(r, 4 * k))):
            self.joe_job(c)
        for a in r.sample(list(self.accounts), self.freemail):
            self.forged_campaign(a, self.accounts[a], "freemail")
        self.reports.sort(key=lambda x: (x["arrival"], x["n"]))

    def legit_account(self, a, c):
        """Personal and business mail: now and then a recipient presses 'spam'
        on a reminder, an old contact, a forwarded joke. Business accounts send
        in working days, so their complaints cluster a little."""
        r = self.r
        if not c["business"]:
            lam = 0.025
        elif a.split("@")[0] in ROLES:
            lam = 0.12 if r.random() < 0.8 else 0.6
        else:
            lam = 0.06
        n = poisson(r, lam * self.days / 30)
        if not n:
            return
        e = self.entity(a, "legit")
        ip = self.office_ip()
        day = T0 + r.randrange(self.days) * DAY
        for _ in range(n):
            if r.random() < 0.5:
                day = T0 + r.randrange(self.days) * DAY
            sent = day + (7 + r.random() * 11 - 2) * HOUR
            via = self.via_account(a, ip if r.random() < 0.7 else self.office_ip())
            m = self.mailhdr(via, a, self.subj(LEGIT_SUBJECTS), self.msgid(c["domain"]))
            self.complaint(e, m, sent, "legit", people=0.08)

    def legit_shop(self, c):
        """A shop's order and password mails through PHP mail() (WordPress,
        WooCommerce: the script is class-phpmailer.php or index.php)."""
        r = self.r
        script = r.choice(["class-phpmailer.php", "index.php", "class-wp-mail.php"])
        key = "%d:%s" % (c["uid"], script)
        e = self.entity(key, "legit_shop", uid=c["uid"], script=script)
        for _ in range(poisson(r, 0.5 * self.days / 30)):
            sent = T0 + r.random() * self.days * DAY
            m = self.mailhdr(self.via_script(c, script), "shop@" + c["domain"],
                             "Ihre Bestellung %d" % r.randint(10000, 99999), self.msgid(c["domain"]))
            self.complaint(e, m, sent, "legit_shop", people=0.05)

    def newsletter(self, c):
        """Newsletters: a campaign of one subject to a list, sent in batches over
        minutes to hours; its recipients' clicks come in a burst in the first
        hours and a tail over days. Most carry List-Unsubscribe (since 2024 the
        big mailbox providers demand it), a few older self-made scripts only
        Precedence: bulk, and some nothing at all."""
        r = self.r
        mark = weighted(r, [("list", 0.78), ("precedence", 0.10), (None, 0.12)])
        if c["uid"] and r.random() < 0.4:
            script = r.choice(["class-phpmailer.php", "newsletter.php", "send.php"])
            key = "%d:%s" % (c["uid"], script)
            via = lambda: self.via_script(c, script)
            frm = "newsletter@" + c["domain"]
            e = self.entity(key, "newsletter", uid=c["uid"], script=script)
        else:
            acct = c["accounts"][0]
            ip = self.office_ip()
            via = lambda: self.via_account(acct, ip)
            frm = acct
            e = self.entity(acct, "newsletter")
        size = min(30000, max(80, lognorm(r, 700, 1.0)))
        rate = lognorm(r, 0.0012, 0.7)           # complaints per recipient, FBL coverage included
        throttle = r.choice([100, 200, 300, 600, 1000])  # mails per hour
        for ci in range(max(1, poisson(r, 2.5 * self.days / 30))):
            start = T0 + (r.randrange(self.days) + r.choice([0.38, 0.42, 0.75])) * DAY
            dur = size / throttle * HOUR
            subject = "Newsletter %s: %s" % (r.choice(["Oktober", "Herbst", "Angebote", "Neuigkeiten"]),
                                            r.choice(["-20% auf alles", "Unsere Termine", "Neu im Shop",
                                                      "Vereinsnachrichten"]))
            for _ in range(poisson(r, size * rate)):
                sent = start + r.random() * dur
                m = self.mailhdr(via(), frm, subject, self.msgid(c["domain"]), listmark=mark)
                click = (lambda: lognorm(r, 2.5 * HOUR, 1.0)) if r.random() < 0.85 else \
                        (lambda: r.uniform(1, 6) * DAY)
                self.complaint(e, m, sent, "newsletter", people=0.03, click=click)

    def mail_merge(self, a, c):
        """A customer's own mailing from the office: Outlook/Thunderbird mail
        merge, one subject, one message per recipient over an hour or two, no
        list headers. Mostly known contacts; one in five a bought address list."""
        r = self.r
        cold = r.random() < 0.2
        e = self.entity(a, "mailmerge_cold" if cold else "mailmerge")
        size = min(5000, max(50, lognorm(r, 350, 0.8)))
        rate = lognorm(r, 0.006 if cold else 0.0006, 0.6)
        start = T0 + (r.randrange(self.days) + r.uniform(0.3, 0.7)) * DAY
        dur = size / r.choice([150, 300, 600]) * HOUR
        ip = self.office_ip()
        subject = self.subj(["Einladung zu unserer Hausmesse", "Neue Preise ab %d",
                             "Wir sind umgezogen", "Ihr persönliches Angebot", "Kooperationsanfrage"])
        for _ in range(poisson(r, size * rate)):
            sent = start + r.random() * dur
            m = self.mailhdr(self.via_account(a, ip), a, subject, self.msgid(c["domain"]))
            self.complaint(e, m, sent, e["pops"][0], people=0.06, traps=0.05 if cold else 0)

    def spam_run(self, e, start, peak, ramp_h, dur_h, p_compl, mailfn, traps, pause=None):
        """Hourly send rate: a few test mails, then a ramp to the peak; the run
        stops when the spammer moves on or the customer changes the password."""
        r = self.r
        t = start
        h = 0
        while h < dur_h and t < self.end:
            x = min(1.0, ((h + 0.5) / ramp_h) ** 2) if ramp_h > 0 else 1.0
            rate = peak * x * r.uniform(0.7, 1.3)
            if pause and pause[0] <= h < pause[0] + pause[1]:
                rate = 0
            for _ in range(poisson(r, rate * p_compl)):
                sent = t + r.random() * HOUR
                self.complaint(e, mailfn(), sent, e["pops"][0], traps=traps, people=0.03)
            t += HOUR
            h += 1

    def compromised(self, a, c):
        r = self.r
        kind = weighted(r, [("botnet", 0.5), ("webmail", 0.25), ("vps", 0.15), ("slow", 0.10)])
        start = T0 + r.random() * (self.days - 1) * DAY
        lead = r.uniform(0, 6)   # hours of quiet testing before the run
        e = self.entity(a, "compromised_" + kind, compromised=True, start=start + lead * HOUR)
        pool = ["%d.%d.%d.%d" % (r.randint(1, 223), r.randint(0, 255), r.randint(0, 255),
                                 r.randint(1, 254)) for _ in range(r.randint(20, 400))]
        subjects = [self.subj(SPAM_SUBJECTS) for _ in range(r.randint(1, 10))]
        frm = a if r.random() < 0.8 else '"%s" <%s>' % (r.choice(["DHL", "PayPal", "Support"]), a)
        vps = pool[0]
        bcc_mid = [None, 0]

        def mail():
            if kind == "webmail":   # one message to 30-100 Bcc recipients
                if bcc_mid[0] is None or bcc_mid[1] <= 0:
                    bcc_mid[0] = (self.msgid(c["domain"]), r.choice(subjects[:2]))
                    bcc_mid[1] = r.randint(1, 4)
                bcc_mid[1] -= 1
                via = self.via_account(a, r.choice(pool), webmail=True)
                return self.mailhdr(via, frm, bcc_mid[0][1], bcc_mid[0][0])
            ip = vps if kind in ("vps", "slow") else r.choice(pool)
            return self.mailhdr(self.via_account(a, ip), frm, r.choice(subjects),
                                self.msgid(r.choice([c["domain"], "localhost.localdomain"])))
        if kind == "slow":
            peak, ramp, dur = lognorm(r, 25, 0.5), 0, lognorm(r, 120, 0.5)
        elif kind == "webmail":
            peak, ramp, dur = lognorm(r, 150, 0.7), r.uniform(0, 3), lognorm(r, 24, 0.8)
        else:
            peak, ramp, dur = lognorm(r, 400, 0.9), r.uniform(1, 8), lognorm(r, 36, 0.8)
        peak = min(peak, 5000)
        pause = (r.uniform(2, 12), r.uniform(6, 24)) if r.random() < 0.3 else None
        self.spam_run(e, start + lead * HOUR, peak, ramp, min(dur, 6 * 24),
                      lognorm(r, 0.0025, 0.8), mail, traps=0.08, pause=pause)

    def abused_script(self, c):
        """A contact form that mails a copy to any address (one subject, the
        spam in the message text), or a PHP mailer uploaded through an old
        plugin (many subjects, forged senders, high volume)."""
        r = self.r
        kind = weighted(r, [("form", 0.5), ("backdoor", 0.5)])
        start = T0 + r.random() * (self.days - 1) * DAY
        if kind == "form":
            script = r.choice(["contact.php", "kontakt.php", "class-phpmailer.php", "mail.php"])
            subjects = ["Ihre Anfrage bei %s" % c["name"]]
            frm = lambda: "wordpress@" + c["domain"]
            peak, ramp, dur = lognorm(r, 80, 0.8), r.uniform(0, 4), lognorm(r, 48, 0.8)
        else:
            script = r.choice(["wp-l0gin.php", "x.php", "about.php", "wp-conf1g.php", "cache.php"])
            subjects = [self.subj(SPAM_SUBJECTS) for _ in range(r.randint(2, 12))]
            frm = lambda: "%s%d@%s" % (r.choice(FIRST), r.randint(1, 99),
                                       r.choice([c["domain"], "mail.example.com", "outlook.com"]))
            peak, ramp, dur = lognorm(r, 600, 0.8), r.uniform(0, 3), lognorm(r, 30, 0.8)
        key = "%d:%s" % (c["uid"], script)
        e = self.entity(key, "script_" + kind, compromised=True, start=start, uid=c["uid"],
                        script=script)

        def mail():
            return self.mailhdr(self.via_script(c, script), frm(), r.choice(subjects),
                                self.msgid(c["domain"]))
        self.spam_run(e, start, min(peak, 5000), ramp, min(dur, 6 * 24), lognorm(r, 0.002, 0.8),
                      mail, traps=0.1)

    def forged_campaign(self, a, c, style=None):
        """Somebody wants this customer locked: fake feedback reports naming
        real providers, the 'reported' mails with made-up Received headers of
        our submission host and the victim as authenticated sender. Our MX
        finds no valid provider signature on them. With style 'freemail'
        (--freemail-forgery, not in the default month) the attacker sends them
        from free mailboxes at two or three consumer providers, so our MX does
        see a DKIM pass, for gmx.net, web.de or outlook.com."""
        r = self.r
        pop = "forged_freemail" if style else "forged_target"
        e = self.entity(a, pop)
        n = int(min(300, max(5, lognorm(r, 40, 0.8))))
        start = T0 + r.random() * (self.days - 1) * DAY
        dur = r.uniform(1, 12) * HOUR
        style = style or weighted(r, [("none", 0.6), ("fake_ar", 0.25), ("own_dkim", 0.15)])
        boxes = ["%s.%s%d@%s" % (r.choice(FIRST), r.choice(LAST), r.randint(1, 999), d)
                 for d in r.sample(["gmx.net", "web.de", "outlook.com"], r.randint(2, 3))]
        for _ in range(n):
            p = r.choice(["yahoo", "aol", "hotmail", "gmx", "webde", "comcast"])
            sent = start + r.random() * dur - r.uniform(600, 4 * HOUR)
            m = self.mailhdr(self.via_account(a, "%d.%d.%d.%d" % (r.randint(1, 223), r.randint(0, 255),
                                                                   r.randint(0, 255), r.randint(1, 254))),
                             a, self.subj(SPAM_SUBJECTS), self.msgid(c["domain"]))
            rep = dict(kind="arf", provider=p, arrival=start + r.random() * dur, sent=sent, mail=m,
                       manual=True, auth=False, forged=style, entity=e, pop=pop,
                       person=r.choice(boxes))
            self.add(rep)

    def joe_job(self, c):
        """Spam from a botnet with the customer's domain as sender. It never
        passed our hosts; complaints reach us because SpamCop and Abusix also
        report to the sender domain's hoster and people write to abuse@ of the
        domain's provider. One in seven carries a fake Received line claiming
        our submission host below the botnet's real hop."""
        r = self.r
        a = r.choice(c["accounts"])
        e = self.entity("joejob:" + c["domain"], "joejob", domain=c["domain"])
        start = T0 + r.random() * (self.days - 1) * DAY
        dur = r.uniform(6, 72) * HOUR
        subjects = [self.subj(SPAM_SUBJECTS) for _ in range(r.randint(1, 6))]
        for _ in range(int(min(200, max(3, lognorm(r, 25, 0.9))))):
            sent = start + r.random() * dur
            frm = a if r.random() < 0.5 else "%s@%s" % (r.choice(FIRST + ROLES), c["domain"])
            bot = "%d.%d.%d.%d" % (r.randint(1, 223), r.randint(0, 255), r.randint(0, 255),
                                   r.randint(1, 254))
            m = dict(via="botnet", bot=bot, fake_ours=r.random() < 0.15, account=a, from_=frm,
                     subject=r.choice(subjects), msgid=self.msgid(c["domain"]), listmark=None)
            x = r.random()
            if x < 0.4:
                self.person(e, m, sent, "joejob")
            else:
                p = "spamcop" if x < 0.7 else ("abusix" if x < 0.9 else "gmx")
                arrival = self.provider_delay(p, self.waking(sent + self.click_delay()))
                self.add(dict(kind="arf", provider=p, arrival=arrival, sent=sent, mail=m,
                              manual=p != "abusix", auth=r.random() >= 0.015, entity=e, pop="joejob"))

    # ----- writing mails
    def original(self, m, sent, rcpt):
        r = self.r
        h = []
        out = r.choice(OUT_HOSTS)
        rdom = rcpt.split("@")[1]
        qid = "%X" % r.getrandbits(40)
        if m["via"] == "botnet":
            h.append("Received: from [%s] (unknown [%s]) by mx.%s with ESMTP id %s for <%s>; %s"
                     % (m["bot"], m["bot"], rdom, qid, rcpt, fmt(sent + 2)))
            if m.get("fake_ours"):
                h.append("Received: from [10.%d.%d.%d] (Authenticated sender: %s) by "
                         "smtp.hoster.example (Postfix) with ESMTPSA id %X; %s"
                         % (r.randint(0, 255), r.randint(0, 255), r.randint(1, 254), m["account"],
                            r.getrandbits(40), fmt(sent)))
        else:
            h.append("Received: from %s (%s [%s]) by mx.%s with ESMTPS id %s for <%s>; %s"
                     % (out[0], out[0], out[1], rdom, qid, rcpt, fmt(sent + 3)))
            if m["via"] == "account":
                if m["webmail"]:
                    h.append("Received: from webmail.hoster.example (webmail.hoster.example "
                             "[198.51.100.5]) (Authenticated sender: %s) by smtp.hoster.example "
                             "(Postfix) with ESMTPSA id %X; %s"
                             % (m["account"], r.getrandbits(40), fmt(sent + 1)))
                    h.append("Received: from [%s] by webmail.hoster.example with HTTP "
                             "(HTTP/1.1 POST); %s" % (m["client"], fmt(sent)))
                else:
                    h.append("Received: from [%s] (%s [%s]) (Authenticated sender: %s) by "
                             "smtp.hoster.example (Postfix) with ESMTPSA id %X; %s"
                             % (m["client"], "dyn-" + m["client"].replace(".", "-") + ".isp.example",
                                m["client"], m["account"], r.getrandbits(40), fmt(sent)))
            else:
                web = m["web"]
                h.append("Received: from %s (%s [%s]) by %s (Postfix) with ESMTP id %X; %s"
                         % (web[0], web[0], web[1], out[0], r.getrandbits(40), fmt(sent + 1)))
                h.append("Received: by %s (Postfix, from userid %d) id %X; %s"
                         % (web[0], m["uid"], r.getrandbits(40), fmt(sent)))
        h += ["From: %s" % m["from_"], "To: %s" % rcpt, "Subject: %s" % m["subject"],
              "Date: %s" % fmt(sent), "Message-ID: %s" % m["msgid"], "MIME-Version: 1.0",
              "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
        if m["via"] == "script":
            h.append("X-PHP-Originating-Script: %d:%s" % (m["uid"], m["script"]))
        if m.get("listmark") == "list":
            lid = m["from_"].split("@")[1]
            h.append("List-Unsubscribe: <https://%s/nl/unsubscribe?u=%x>" % (lid, r.getrandbits(32)))
            h.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
            h.append("List-Id: Newsletter <news.%s>" % lid)
        elif m.get("listmark") == "precedence":
            h.append("Precedence: bulk")
        return h, "Guten Tag,\n\n%s\n\nMit freundlichen Gruessen\n" % m["subject"]

    def serialise(self, rep):
        r = random.Random("%d-%d" % (self.seed, rep.get("base", rep["n"])))
        self.r, saved = r, self.r
        try:
            return self._serialise(rep)
        finally:
            self.r = saved

    def _serialise(self, rep):
        r = self.r
        m = rep["mail"]
        arrival = rep["arrival"]
        p = rep["provider"]
        rcpt = "%s%d@%s" % (r.choice(FIRST), r.randint(1, 9999),
                            RCPT_DOMAINS.get(p, p if rep["kind"] == "text" else "example.net"))
        if rep["kind"] == "text":
            rcpt = rep["person"]
        orig, body = self.original(m, rep["sent"], rcpt)
        rid = "%x%06d" % (r.getrandbits(32), rep["n"] if rep.get("dup") == "again" else
                           rep.get("base", rep["n"]))
        head = []
        if rep["kind"] == "text":
            dom = p
            relay = ("mout.%s" % dom, "212.227.%d.%d" % (r.randint(0, 255), r.randint(1, 254)))
            frm = rep["person"]
        else:
            pv = PROVIDERS[p]
            dom = pv["signer"]
            relay = pv["relay"]
            frm = pv["from_"]
        forged = rep.get("forged")
        if forged:
            relay = ("mail%d.bulk-relay.example" % r.randint(1, 9),
                     "%d.%d.%d.%d" % (r.randint(1, 223), r.randint(0, 255), r.randint(0, 255),
                                      r.randint(1, 254)))
            if forged == "freemail":
                dom = rep["person"].split("@")[1]
                relay = ("mout.%s" % dom, "212.227.17.%d" % r.randint(1, 254))
                frm = '"Abuse Feedback" <%s>' % rep["person"]
                head.append("Authentication-Results: %s; dkim=pass header.d=%s header.s=s2025; "
                            "spf=pass smtp.mailfrom=%s" % (MX, dom, dom))
            elif forged == "own_dkim":
                head.append("Authentication-Results: %s; dkim=pass header.d=arf-feedback-mail.example "
                            "header.s=k1; spf=fail smtp.mailfrom=%s" % (MX, frm.split("@")[1]))
            else:
                head.append("Authentication-Results: %s; dkim=none; spf=softfail smtp.mailfrom=%s"
                            % (MX, frm.split("@")[1]))
        elif rep["kind"] == "text":
            head.append("Authentication-Results: %s; %s; spf=pass smtp.mailfrom=%s"
                        % (MX, "dkim=pass header.d=%s header.s=s2025" % dom if rep["signs"]
                           else "dkim=none", dom))
        elif rep["auth"] and not rep.get("spf_only"):
            head.append("Authentication-Results: %s; dkim=pass header.d=%s header.s=fbl2025; "
                        "spf=pass smtp.mailfrom=%s" % (MX, dom, dom))
        else:
            head.append("Authentication-Results: %s; dkim=fail (body hash did not verify) "
                        "header.d=%s; spf=%s smtp.mailfrom=%s"
                        % (MX, dom, "pass" if rep["auth"] else "neutral", dom))
        mxid = "%X" % r.getrandbits(44)
        head.append("Received: from %s (%s [%s]) by %s (Postfix) with ESMTPS id %s for "
                    "<abuse@hoster.example>; %s" % (relay[0], relay[0], relay[1], MX, mxid, fmt(arrival)))
        if rep.get("dup") == "bytes":
            pass
        if forged == "fake_ar":
            head.append("Authentication-Results: %s; dkim=pass header.d=%s header.s=fbl; spf=pass"
                        % (MX, PROVIDERS[p]["signer"]))
        if not forged and (rep["kind"] == "arf" or rep["signs"]):
            head.append("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=fbl2025; "
                        "h=from:to:subject:date:message-id; bh=%s=; b=%s=" %
                        (dom, hashlib.sha256(rid.encode()).hexdigest()[:43],
                         hashlib.sha256((rid + "b").encode()).hexdigest()))
        sent_rep = arrival - r.uniform(1, 20)
        bnd = "----=_fbl_%s" % rid
        if rep["kind"] == "text":
            head += ["From: %s" % frm, "To: abuse@hoster.example",
                     "Subject: %s" % r.choice(["Spam von Ihrem Kunden", "Fwd: " + m["subject"],
                                               "Beschwerde: unerwünschte Werbung", "SPAM!!!"]),
                     "Date: %s" % fmt(sent_rep), "Message-ID: <%s@%s>" % (rid, dom),
                     "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="%s"' % bnd]
            parts = ["--" + bnd, "Content-Type: text/plain; charset=utf-8", "",
                     r.choice(["Hallo,\n\nich bekomme von einem Ihrer Kunden ständig Spam. "
                               "Bitte stellen Sie das ab! Die Mail hängt an.\n\nGruß",
                               "Please stop this spam from your network. Original attached."]),
                     "", "--" + bnd, "Content-Type: message/rfc822",
                     'Content-Disposition: attachment; filename="spam.eml"', ""]
            parts += orig + ["", body, "--%s--" % bnd, ""]
            return "\n".join(head + [""] + parts).encode("utf-8")
        pv = PROVIDERS[p]
        head += ["From: %s" % frm, "To: abuse@hoster.example",
                 "Subject: %s" % ("Abuse report for %s" % m["subject"] if p != "hotmail"
                                  else "complaint about message from %s" % OUT_HOSTS[0][1]),
                 "Date: %s" % fmt(sent_rep), "Message-ID: <%s@%s>" % (rid, dom),
                 "MIME-Version: 1.0",
                 'Content-Type: multipart/report; report-type=feedback-report; boundary="%s"' % bnd]
        if forged:  # a copied layout, not the provider's
            head[-3] = "Message-ID: <%s@%s>" % (rid, "fbl-reports.example")
        src = m.get("bot") if m["via"] == "botnet" else r.choice(OUT_HOSTS)[1]
        ua = pv["ua"]
        fr = ["Feedback-Type: abuse", "User-Agent: %s" % ua, "Version: 1"]
        if not rep["manual"]:
            fr[1] = "User-Agent: %s" % (ua if p == "abusix" else "UI-SpamFilter/2.0 (automatic)")
        ret = m["from_"].split("<")[-1].rstrip(">")
        fr.append("Original-Mail-From: <%s>" % ret)
        if not pv["redact"]:
            fr.append("Original-Rcpt-To: <%s>" % rcpt)
        fr += ["Arrival-Date: %s" % fmt(rep["sent"] + 3), "Source-IP: %s" % src,
               "Reported-Domain: %s" % ret.split("@")[-1]]
        ctype = "text/rfc822-headers" if pv["headers_only"] else "message/rfc822"
        parts = ["--" + bnd, "Content-Type: text/plain; charset=us-ascii", "",
                 "This is an email abuse report for an email message received from IP %s on %s.\n"
                 "For more information about this format please see "
                 "http://www.mipassoc.org/arf/." % (src, fmt(rep["sent"] + 3)),
                 "", "--" + bnd, "Content-Type: message/feedback-report", ""] + fr + \
                ["", "--" + bnd, "Content-Type: %s" % ctype, "Content-Disposition: inline", ""] + orig
        if not pv["headers_only"]:
            parts += ["", body]
        parts += ["--%s--" % bnd, ""]
        return "\n".join(head + [""] + parts).encode("utf-8")

    def write_maildir(self, d):
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        last = {}
        for rep in self.reports:
            if rep.get("dup") == "bytes":
                data = last[id(rep["mail"]), rep["n"]]
            else:
                data = self.serialise(rep)
                last[id(rep["mail"]), rep["n"]] = data
            name = "%d.R%d_%s.%s" % (int(rep["arrival"]), rep["n"],
                                      "b" if rep.get("dup") == "bytes" else "a", "gen")
            with open(os.path.join(d, "new", name), "wb") as f:
                f.write(data)

    # ----- ground truth of what the desk could see
    def finish_truth(self):
        for rep in self.reports:
            e = rep["entity"]
            m = rep["mail"]
            through_us = m["via"] in ("account", "script")
            signer = PROVIDERS[rep["provider"]]["signer"] if rep["kind"] == "arf" \
                else rep["provider"]
            trusted = rep["auth"] and not rep.get("forged") and signer in TRUSTED_SIGNERS
            e["complaints"].append(dict(at=rep["arrival"], auth=trusted, us=through_us,
                                        bulk=bool(m.get("listmark")), dup=rep.get("dup"),
                                        prov=rep["provider"], subject=m["subject"]))


# ----- configuration
def make_config(src, path, work):
    text = open(src, encoding="utf-8").read().split("\n")
    set_ = {("store", "path"): os.path.join(work, "desk.db"),
            ("intake", "spool_dir"): os.path.join(work, "spool"),
            ("intake", "quarantine_dir"): os.path.join(work, "quarantine"),
            ("intake", "authserv_id"): MX,
            ("intake", "verify_dkim"): "false",
            ("network", "our_hosts"): "*.hoster.example;hoster.example",
            ("network", "our_ips"): "198.51.100.0/24",
            ("notify", "templates_dir"): os.path.join(os.path.dirname(src), "templates"),
            ("policy", "state_file"): os.path.join(work, "policy.state"),
            ("outbound", "key_file"): os.path.join(work, "outbound.key")}
    out, group = [], None
    for line in text:
        s = line.strip()
        if s.startswith("[") and s.endswith("]"):
            group = s[1:-1]
        elif "=" in s and not s.startswith("#"):
            k = s.split("=", 1)[0].strip()
            if (group, k) in set_:
                line = "%s = %s" % (k, set_[(group, k)])
        out.append(line)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


def run(binary, conf, *args, check=True):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run([binary, "-c", conf] + list(args), capture_output=True, text=True)
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if check and p.returncode not in (0,):
        sys.exit("abusedesk %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr[-2000:]))
    return wall, cpu, p


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    i = min(len(xs) - 1, max(0, int(math.ceil(q * len(xs))) - 1))
    return xs[i]


def mins(x):
    return "-" if x is None else "%.1f min" % (x / 60.0)


def measure(month, db, accounts):
    con = sqlite3.connect(db)
    locks = con.execute("SELECT l.id, l.subject_kind, l.subject, l.locked_at, l.incident_id, "
                        "l.reason, l.locked_by FROM locks l ORDER BY l.locked_at").fetchall()
    alerts = con.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'team'").fetchone()[0]
    truth = month.truth

    def match(kind, subject):
        if subject in truth:
            return [truth[subject]]
        if ":" in subject and subject.split(":", 1)[0].isdigit():
            uid, path = subject.split(":", 1)
            base = path.rsplit("/", 1)[-1]
            return [e for e in truth.values() if str(e.get("uid")) == uid and
                    (not base or e.get("script") == base)]
        return []
    res = dict(false=[], locked={}, late=[], missed=[], missed_quiet=[], delays=[], all=[])
    for lid, kind, subj, at, inc, reason, by in locks:
        es = match(kind, subj)
        comp = [e for e in es if e["compromised"] and e["start"] is not None and at >= e["start"] - 600]
        if not comp:
            res["false"].append(dict(lock=lid, subject=subj, kind=kind, at=at, incident=inc,
                                     reason=reason, pops=sorted({p for e in es for p in e["pops"]})))
        for e in comp:
            res["locked"].setdefault(e["key"], at)
    for e in truth.values():
        if not e["compromised"]:
            continue
        cs = sorted((c for c in e["complaints"] if c["at"] >= e["start"] - 600 and c["dup"] is None),
                    key=lambda c: c["at"])
        good = [c for c in cs if c["auth"] and c["us"] and not c["bulk"]]
        third = good[2]["at"] if len(good) >= 3 else None
        at = res["locked"].get(e["key"])
        info = dict(key=e["key"], pops=e["pops"], complaints=len(cs), auth=len(good),
                    first=cs[0]["at"] if cs else None, third=third, locked=at,
                    providers=sorted({c["prov"] for c in good[:10]}))
        res["all"].append(info)
        if at is None:
            (res["missed"] if cs else res["missed_quiet"]).append(info)
            if third is not None:
                res["late"].append(info)
            continue
        if cs:
            res["delays"].append(at - cs[0]["at"])
        if third is not None and at - third > 900:
            res["late"].append(info)
    res["alerts"] = alerts
    res["alerts_per_day_10k"] = alerts / month.days / (accounts / 10000.0)
    res["n_locks"] = len(locks)
    res["n_compromised"] = sum(1 for e in truth.values() if e["compromised"])
    con.close()
    return res


def cases(db, res, path, truth):
    con = sqlite3.connect(db)
    with open(path, "w", encoding="utf-8") as f:
        for x in sorted(res["all"], key=lambda x: x["first"] or 0):
            t = lambda v: "-" if v is None else time.strftime("%m-%d %H:%M", time.gmtime(v))
            f.write("COMPROMISED %-45s %-20s complaints %3d auth %3d first %s third %s lock %s "
                    "first->lock %s\n" % (x["key"], ",".join(x["pops"]), x["complaints"], x["auth"],
                                           t(x["first"]), t(x["third"]), t(x["locked"]),
                                           mins(x["locked"] - x["first"]) if x["locked"] and x["first"]
                                           else "-"))
        for title, rows in (("FALSE LOCK", res["false"]), ("LATE OR MISSED", res["late"]),
                            ("MISSED", res["missed"])):
            for x in rows:
                f.write("=== %s %s\n" % (title, json.dumps(x, default=str)))
                e = truth.get(x.get("key") or x.get("subject"))
                for c in sorted(e["complaints"] if e else [], key=lambda c: c["at"]):
                    f.write("  truth %s %-18s auth=%d us=%d bulk=%d dup=%s %s\n"
                            % (time.strftime("%m-%d %H:%M:%S", time.gmtime(c["at"])), c["prov"],
                               c["auth"], c["us"], c["bulk"], c["dup"], c["subject"]))
                inc = x.get("incident")
                if inc is None:
                    row = con.execute("SELECT id FROM incidents WHERE subject = ? ORDER BY id",
                                      (x["key"],)).fetchall()
                    incs = [r[0] for r in row]
                else:
                    incs = [inc]
                for i in incs:
                    for a in con.execute("SELECT at, actor, action, detail FROM audit WHERE "
                                         "incident_id = ? ORDER BY id", (i,)):
                        f.write("  [%d] %s %s %s: %s\n" % (i, time.strftime("%m-%d %H:%M:%S",
                                time.gmtime(a[0])), a[1], a[2], a[3]))
    con.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--bin", default=os.path.join(here, "..", "build", "abusedesk"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--accounts", type=int, default=10000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--work")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--cases")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--freemail-forgery", type=int, default=0, metavar="N",
                    help="add N forged campaigns sent from free mailboxes (not in the default month)")
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    work = a.work or tempfile.mkdtemp(prefix="decisions_alt.")
    os.makedirs(work, exist_ok=True)
    t0 = time.monotonic()
    month = Month(a.seed, a.accounts, a.days)
    month.freemail = a.freemail_forgery
    month.build()
    month.finish_truth()
    maildir = os.path.join(work, "maildir")
    if os.path.exists(maildir):
        shutil.rmtree(maildir)
    month.write_maildir(maildir)
    csv = os.path.join(work, "directory.csv")
    month.directory_csv(csv)
    conf = os.path.join(work, "abusedesk.conf")
    if os.path.exists(os.path.join(work, "desk.db")):
        os.unlink(os.path.join(work, "desk.db"))
    make_config(os.path.join(here, "..", "etc", "abusedesk.conf"), conf, work)
    gen = time.monotonic() - t0
    run(binary, conf, "init")
    _, _, p = run(binary, conf, "directory", "import", csv)
    iw, ic, _ = run(binary, conf, "ingest", "-q", "--replay", "--maildir", maildir)
    pw, pc, _ = run(binary, conf, "process")
    res = measure(month, os.path.join(work, "desk.db"), a.accounts)
    if a.cases:
        cases(os.path.join(work, "desk.db"), res, a.cases, month.truth)
    pops = {}
    for rep in month.reports:
        pops[rep["pop"]] = pops.get(rep["pop"], 0) + 1
    n = len(month.reports)
    delays = res["delays"]
    print("decisions_alt: seed %d, %d accounts, %d customers, %d days, %d reports (%s)"
          % (a.seed, a.accounts, len(month.customers), a.days, n,
             ", ".join("%s %d" % kv for kv in sorted(pops.items()))))
    print("  compromised mailboxes and scripts        %d" % res["n_compromised"])
    print("  locks                                    %d" % res["n_locks"])
    byp = {}
    for x in res["false"]:
        k = ",".join(p for p in x["pops"] if p != "legit") or ",".join(x["pops"]) or "not in truth"
        byp[k] = byp.get(k, 0) + 1
    print("  false locks (never compromised)          %d (%s)" % (
        len(res["false"]), ", ".join("%s %d" % kv for kv in sorted(byp.items())) or "-"))
    for x in res["false"][:20]:
        print("      %s (%s)" % (x["subject"], ",".join(x["pops"]) or "not in truth"))
    print("  compromised never locked                 %d with complaints, %d without any"
          % (len(res["missed"]), len(res["missed_quiet"])))
    for x in res["missed"][:20]:
        print("      %s (%s): %d complaints, %d authenticated through us" %
              (x["key"], ",".join(x["pops"]), x["complaints"], x["auth"]))
    print("  first complaint -> lock                  median %s, p95 %s (n=%d)"
          % (mins(pct(delays, 0.5)), mins(pct(delays, 0.95)), len(delays)))
    print("  locked > 15 min after 3rd auth complaint %d (never locked ones included)" % len(res["late"]))
    for x in res["late"][:20]:
        print("      %s (%s): third %s, lock %s" % (x["key"], ",".join(x["pops"]),
              time.strftime("%m-%d %H:%M", time.gmtime(x["third"])),
              "never" if x["locked"] is None else "+" + mins(x["locked"] - x["third"])))
    print("  team alerts                              %d, %.2f per day per 10,000 accounts"
          % (res["alerts"], res["alerts_per_day_10k"]))
    print("  replay: generate %.1f s; ingest %.1f s wall %.1f s CPU; process %.1f s wall %.1f s CPU;"
          " %.0f reports/s" % (gen, iw, ic, pw, pc, n / max(0.001, iw + pw)))
    if a.json:
        print(json.dumps(dict(seed=a.seed, accounts=a.accounts, reports=n,
                              false_locks=len(res["false"]), missed=len(res["missed"]),
                              missed_quiet=len(res["missed_quiet"]), late=len(res["late"]),
                              median_s=pct(delays, 0.5), p95_s=pct(delays, 0.95),
                              alerts_per_day_10k=res["alerts_per_day_10k"],
                              ingest_wall=iw, process_wall=pw, ingest_cpu=ic, process_cpu=pc)))
    if not a.keep and not a.work:
        shutil.rmtree(work)
    else:
        print("  kept in %s" % work)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""bench/decisions.py: a provider's month of complaints, generated, replayed
through abusedesk (ingest --replay, process), and the desk's decisions
measured against the generator's ground truth. Python 3 standard library only.

  decisions.py [--seed N] [--accounts N] [--bin PATH] [--work DIR] [--conf FILE]
               [--sweep] [--keep] [--generate-only DIR]

Prints: false locks (accounts or scripts locked that were never compromised),
compromised senders never locked, time from the first complaint to the lock
(median, p95), locks later than 15 minutes after the third authenticated
complaint, alerts per day (per 10,000 accounts) the team reads, and the
replay's speed. --sweep repeats the replay with other lock_score/alert_score
values (on a smaller month) and prints how each figure moves. The
assumptions are in bench/decisions.md; the same seed gives the same month.
"""
import argparse
import email.utils
import json
import math
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
MONTH_START = 1790812800  # 2026-10-01T00:00:00Z
DAY = 86400
AUTHSERV = "mx.hoster.example"

# Providers: (report From domain, signer our MX verifies or None, share of
# complaints, mean delay in seconds, feedback user agent). Only the signers
# of the shipped [providers] (yahoo, aol, senderscore) authenticate.
PROVIDERS = [
    ("yahoo.com", "arf.mail.yahoo.com", 0.33, 240, "Yahoo!-Mail-Feedback/2.0"),
    ("aol.com", "aol.net", 0.17, 1200, "AOL SComp"),
    ("senderscore.net", "senderscore.net", 0.15, 3600, "ReturnPathFBL/2.0"),
    ("hotmail.com", None, 0.20, 600, "Microsoft JMRP"),
    ("gmx.net", None, 0.10, 7200, "GMX FBL"),
    ("abusix.com", None, 0.05, 1800, "Abusix/1.0"),
]
SPAM_SUBJECTS = ["Cheap pills", "Your parcel is waiting", "Invoice overdue", "You won!",
                 "Verify your account", "Hot singles", "Crypto returns 300%"]
NEWS_SUBJECTS = ["Our autumn offers", "Newsletter October", "New in the shop",
                 "Weekend sale", "Event invitation"]
LEGIT_SUBJECTS = ["Re: meeting", "Invoice 2026-10", "Angebot", "Photos", "Fwd: contract"]


# First octets of public IPv4 ranges where bots sit (never contacted: the
# addresses only go into generated Received headers).
BOT_NETS = [5, 24, 31, 37, 41, 46, 62, 77, 78, 81, 86, 89, 91, 95, 101, 110, 112, 116, 122, 125,
            151, 176, 177, 181, 186, 187, 189, 190, 196, 197, 200, 201, 212, 213, 217, 220]


def botnet_ip(n):
    """The address of the bot that sent mail number n: all over the internet."""
    return "%d.%d.%d.%d" % (BOT_NETS[n % len(BOT_NETS)], (n * 37) % 256, (n * 101) % 256,
                            1 + n % 254)


def fmt_date(t):
    return email.utils.formatdate(t, usegmt=True)


class Month:
    """The generated month: directory, reports (time, bytes) and ground truth."""

    def __init__(self, seed, n_accounts, days=30):
        self.rng = random.Random(seed)
        self.days = days
        self.end = MONTH_START + days * DAY
        self.n_accounts = n_accounts
        self.reports = []       # (arrival, seq, bytes)
        self.truth = {}         # subject -> {"kind", "compromised", "auth_times", "first"}
        self.seq = 0
        self.accounts = ["u%05d@c%05d.example" % (i, i // 2) for i in range(n_accounts)]
        n_scripts = max(1, n_accounts // 5)
        self.scripts = [(str(10000 + j), "/var/www/w%d" % j) for j in range(n_scripts)]

    # -- the directory ------------------------------------------------------
    def directory_csv(self):
        rows = ["customer_id,customer_name,contact_email,language,account,domain,uid,webroot"]
        for i, a in enumerate(self.accounts):
            c = i // 2
            dom = a.split("@")[1]
            rows.append("C%05d,Customer %d,owner%d@contact.example,en,%s,%s,," %
                        (c, c, c, a, dom if i % 2 == 0 else ""))
        for j, (uid, root) in enumerate(self.scripts):
            c = j % (self.n_accounts // 2)
            rows.append("C%05d,Customer %d,owner%d@contact.example,en,,,%s,%s" %
                        (c, c, c, uid, root))
        return "\n".join(rows) + "\n"

    # -- one report ----------------------------------------------------------
    def provider(self):
        r = self.rng.random()
        for p in PROVIDERS:
            r -= p[2]
            if r <= 0:
                return p
        return PROVIDERS[0]

    def delay(self, p):
        d = self.rng.expovariate(1.0 / p[3])
        if self.rng.random() < 0.03:          # late reports: days behind
            d += self.rng.uniform(1, 5) * DAY
        return int(d) + 5

    def add(self, subject, sent, kind, subj_line, forged=False, joejob=False, p=None,
            opened=0, extra=(), client=None):
        """One complaint about a mail sent at `sent` by `subject`, which its
        recipient opened (and reported) `opened` seconds later; `extra`:
        more header lines of the mail; `client`: the submission client's
        address (None: a bot's, another one for each mail)."""
        p = p or self.provider()
        arrival = sent + opened + self.delay(p)
        if arrival >= self.end:
            return
        self.seq += 1
        n = self.seq
        rcpt = "r%d@%s" % (n, p[0])
        msgid = "<m%d.%d@%s>" % (n, sent, "out.hoster.example")
        auth = p[1] is not None and not forged
        raw = self.render(subject, sent, arrival, kind, subj_line, p, rcpt, msgid, auth, joejob, n,
                          extra, client)
        self.reports.append((arrival, n, raw))
        t = self.truth.setdefault(subject, {"kind": kind, "compromised": False, "auth": [],
                                            "all": []})
        t["all"].append(arrival)
        if auth and not joejob:
            t["auth"].append(arrival)
        # duplicates: the provider sends the same complaint again (another
        # report about the same mail and recipient), or the same bytes twice
        r = self.rng.random()
        if r < 0.02:
            self.seq += 1
            raw2 = self.render(subject, sent, arrival + 60, kind, subj_line, p, rcpt, msgid, auth,
                               joejob, self.seq, extra, client)
            if arrival + 60 < self.end:
                self.reports.append((arrival + 60, self.seq, raw2))
        elif r < 0.03:
            self.reports.append((arrival, n, raw))

    def render(self, subject, sent, arrival, kind, subj_line, p, rcpt, msgid, auth, joejob, n,
               extra=(), client=None):
        dom, signer, _, _, ua = p
        lines = []
        if auth:
            lines.append("Authentication-Results: %s; dkim=pass header.d=%s; spf=pass "
                         "smtp.mailfrom=%s" % (AUTHSERV, signer, signer))
        lines.append("Received: from fbl.%s (fbl.%s [192.0.2.%d]) by %s (Postfix) with ESMTPS "
                     "id Q%d for <abuse@hoster.example>; %s" %
                     (dom, dom, 10 + n % 200, AUTHSERV, n, fmt_date(arrival)))
        if not auth:
            # what a forger (or a provider without a signer we know) shows
            lines.insert(0, "X-Note: unauthenticated")
        b = "b%d" % n
        if kind == "script":
            uid, path = subject.split(":", 1)
            orig_from = "www-data@w%s.example" % uid
            hops = ["Received: from web1.hoster.example (web1.hoster.example [198.51.100.80]) by "
                    "mx.%s with ESMTPS id R%d; %s" % (dom, n, fmt_date(sent + 2)),
                    "Received: by web1.hoster.example (Postfix, from userid %s) id W%d; %s" %
                    (uid, n, fmt_date(sent)),
                    "X-PHP-Originating-Script: %s:%s" % (uid, path)]
        elif joejob:
            orig_from = subject
            hops = ["Received: from bot%d.example.net (bot%d.example.net [203.0.113.%d]) by "
                    "mx.%s with SMTP id J%d; %s" % (n % 97, n % 97, n % 250, dom, n,
                                                    fmt_date(sent))]
        else:
            orig_from = subject
            ip = client or botnet_ip(n)
            hops = ["Received: from smtp.hoster.example (smtp.hoster.example [198.51.100.25]) by "
                    "mx.%s with ESMTPS id R%d; %s" % (dom, n, fmt_date(sent + 2)),
                    "Received: from [%s] (client.example.test [%s]) "
                    "(Authenticated sender: %s) by smtp.hoster.example (Postfix) with ESMTPSA "
                    "id S%d; %s" % (ip, ip, subject, n, fmt_date(sent))]
        lines += [
            "From: Feedback Loop <fbl@%s>" % dom,
            "To: abuse@hoster.example",
            "Subject: Abuse report %d" % n,
            "Date: %s" % fmt_date(arrival - 5),
            "Message-ID: <fbl%d.%d@%s>" % (n, arrival, dom),
            "MIME-Version: 1.0",
            'Content-Type: multipart/report; report-type=feedback-report; boundary="%s"' % b,
            "",
            "--" + b,
            "Content-Type: text/plain; charset=us-ascii",
            "",
            "This is an abuse report.",
            "",
            "--" + b,
            "Content-Type: message/feedback-report",
            "",
            "Feedback-Type: abuse",
            "User-Agent: " + ua,
            "Version: 1",
            "Original-Mail-From: <%s>" % orig_from,
            "Original-Rcpt-To: <%s>" % rcpt,
            "Arrival-Date: %s" % fmt_date(sent + 3),
            "Source-IP: %s" % ("203.0.113.%d" % (n % 250) if joejob else "198.51.100.25"),
            "",
            "--" + b,
            "Content-Type: message/rfc822",
            "",
        ] + hops + [
            "From: <%s>" % orig_from,
            "To: <%s>" % rcpt,
            "Subject: %s" % subj_line,
            "Date: %s" % fmt_date(sent),
            "Message-ID: %s" % msgid,
        ] + list(extra) + [
            "",
            "Spam body %d." % n,
            "",
            "--%s--" % b,
            "",
        ]
        return "\n".join(lines).encode()

    # -- populations ----------------------------------------------------------
    def rising_run(self, subject, kind, start):
        """A spam run: complaints start at `start` and rise (compromised
        mailbox or abused script) for 2 to 24 hours. Half the runs keep one
        subject line, half change it from mail to mail; the mail comes from
        a botnet's addresses (a new one per mail)."""
        t = self.truth.setdefault(subject, {"kind": kind, "compromised": True, "auth": [],
                                            "all": []})
        t["compromised"] = True
        t["start"] = start
        length = self.rng.uniform(2, 24) * 3600
        r0 = self.rng.uniform(1, 4) / 3600.0
        r1 = self.rng.uniform(20, 90) / 3600.0
        one = self.rng.choice(SPAM_SUBJECTS) if self.rng.random() < 0.5 else None
        s = start
        while True:
            frac = (s - start) / length
            rate = r0 + (r1 - r0) * min(1.0, frac)
            s += self.rng.expovariate(rate)
            if s > start + length:
                break
            self.add(subject, int(s), kind, one or self.rng.choice(SPAM_SUBJECTS))

    def client_of(self, account):
        """The address an account's owner submits from (home or office)."""
        i = int(account[1:6])
        return "100.64.%d.%d" % (i // 256 % 256, i % 256)

    def generate(self):
        rng = self.rng
        start, end = MONTH_START, self.end
        accounts = list(self.accounts)
        rng.shuffle(accounts)
        n = len(accounts)
        n_comp = max(2, int(n * 0.005))
        n_news = int(n * 0.03)
        compromised = accounts[:n_comp]
        newsletters = accounts[n_comp:n_comp + n_news]
        others = accounts[n_comp + n_news:]
        for a in compromised:
            self.rising_run(a, "account", rng.uniform(start, end - 2 * DAY))
        scripts = list(self.scripts)
        rng.shuffle(scripts)
        for uid, root in scripts[:max(1, len(scripts) // 100)]:
            self.rising_run("%s:%s/htdocs/contact.php" % (uid, root), "script",
                            rng.uniform(start, end - 2 * DAY))
        # legitimate senders: now and then one complaint (0.4 a month on average)
        for a in accounts[n_comp:]:
            k = self.poisson(0.4)
            for _ in range(k):
                self.add(a, int(rng.uniform(start, end)), "account", rng.choice(LEGIT_SUBJECTS),
                         client=self.client_of(a))
        # newsletters: four sends a month, each one mail (one subject, list
        # headers as Gmail and Yahoo require of bulk senders since 2024) sent
        # to the list within 20 minutes, and a burst of clicks on "spam" as
        # the recipients open it over the day (Poisson, mean 1 to 5: a
        # complaint rate of 0.1 % on lists of 1,000 to 5,000)
        for a in newsletters:
            size = rng.choice([1, 2, 3, 5])
            dom = a.split("@")[1]
            extra = ("List-Unsubscribe: <https://news.%s/u>, <mailto:unsubscribe@%s>" % (dom, dom),
                     "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                     "List-Id: News <news.%s>" % dom)
            for _ in range(4):
                sent = rng.uniform(start, end - DAY)
                line = rng.choice(NEWS_SUBJECTS)
                for _ in range(self.poisson(size)):
                    self.add(a, int(sent + rng.uniform(0, 1200)), "account", line,
                             opened=int(rng.expovariate(1 / 21600.0)), extra=extra,
                             client=self.client_of(a))
        # forged campaigns: unauthenticated complaints naming a legitimate
        # account, 30 to 300 within a few hours
        for _ in range(max(1, n // 1000)):
            victim = rng.choice(others)
            t0 = rng.uniform(start, end - DAY)
            for _ in range(rng.randint(30, 300)):
                self.add(victim, int(t0 + rng.uniform(0, 6 * 3600)), "account",
                         rng.choice(SPAM_SUBJECTS), forged=True)
        # joe jobs: spam with a customer's address, sent by a botnet
        # (authenticated complaints, Received chain outside our hosts)
        for _ in range(max(1, n // 2000)):
            victim = rng.choice(others)
            t0 = rng.uniform(start, end - DAY)
            for _ in range(rng.randint(20, 150)):
                self.add(victim, int(t0 + rng.uniform(0, 12 * 3600)), "account",
                         rng.choice(SPAM_SUBJECTS), joejob=True)
        self.reports.sort(key=lambda r: (r[0], r[1]))

    def poisson(self, lam):
        l, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= l:
                return k
            k += 1

    def write(self, out):
        """A Maildir whose file names do NOT follow arrival order (the replay
        sorts), the directory CSV and the ground truth."""
        os.makedirs(os.path.join(out, "maildir", "new"), exist_ok=True)
        os.makedirs(os.path.join(out, "maildir", "cur"), exist_ok=True)
        os.makedirs(os.path.join(out, "maildir", "tmp"), exist_ok=True)
        for i, (arr, seq, raw) in enumerate(self.reports):
            name = "%08d.%d.gen" % ((seq * 7919) % 100000000, i)
            with open(os.path.join(out, "maildir", "new", name), "wb") as f:
                f.write(raw)
        with open(os.path.join(out, "dir.csv"), "w") as f:
            f.write(self.directory_csv())
        truth = {k: {"kind": v["kind"], "compromised": v["compromised"],
                     "auth": sorted(v["auth"]), "all": sorted(v["all"])}
                 for k, v in self.truth.items()}
        with open(os.path.join(out, "truth.json"), "w") as f:
            json.dump({"accounts": self.n_accounts, "days": self.days, "start": MONTH_START,
                       "subjects": truth}, f)


def make_conf(work, conf_src, overrides):
    """The shipped configuration with this run's paths, our MX's authserv-id
    (which must be set for any report to be trusted) and overrides
    {(section, key): value}."""
    want = {("store", "path"): os.path.join(work, "desk.db"),
            ("intake", "spool_dir"): os.path.join(work, "spool"),
            ("intake", "quarantine_dir"): os.path.join(work, "quarantine"),
            ("intake", "authserv_id"): AUTHSERV,
            ("intake", "verify_dkim"): "false",
            ("log", "level"): "error",
            ("notify", "templates_dir"): os.path.join(TOP, "etc", "templates"),
            ("policy", "state_file"): os.path.join(work, "policy.state")}
    want.update(overrides)
    out, section = [], None
    for line in open(conf_src):
        s = line.strip()
        if s.startswith("[") and s.endswith("]"):
            section = s[1:-1]
        elif s and not s.startswith("#") and "=" in s:
            k = s.split("=", 1)[0].strip()
            if (section, k) in want:
                line = "%s = %s\n" % (k, want.pop((section, k)))
        out.append(line)
    for (sec, k), v in want.items():
        out.append("[%s]\n%s = %s\n" % (sec, k, v))
    path = os.path.join(work, "desk.conf")
    with open(path, "w") as f:
        f.writelines(out)
    return path


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if p.returncode != 0:
        sys.stderr.write("command failed (%d): %s\n%s" % (p.returncode, " ".join(cmd),
                                                          p.stderr.decode()[-2000:]))
        sys.exit(1)
    return p


def replay(binary, gen_dir, work, conf_src, overrides):
    os.makedirs(work, exist_ok=True)
    conf = make_conf(work, conf_src, overrides)
    run([binary, "-c", conf, "init"])
    run([binary, "-c", conf, "directory", "import", os.path.join(gen_dir, "dir.csv")])
    md = os.path.join(work, "maildir")
    if os.path.exists(md):
        shutil.rmtree(md)
    shutil.copytree(os.path.join(gen_dir, "maildir"), md)
    t0, c0 = time.time(), cpu()
    run([binary, "-c", conf, "ingest", "-q", "--replay", "--maildir", md])
    t1, c1 = time.time(), cpu()
    run([binary, "-c", conf, "process"])
    t2, c2 = time.time(), cpu()
    return conf, (t1 - t0, c1 - c0), (t2 - t1, c2 - c1)


def cpu():
    """CPU seconds (user + system) of the finished child processes: the wall
    clock of a loaded machine says little about the desk's own cost."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(gen_dir, work):
    truth = json.load(open(os.path.join(gen_dir, "truth.json")))
    subj = truth["subjects"]
    db = sqlite3.connect(os.path.join(work, "desk.db"))
    locks = {}
    for s, at in db.execute("SELECT subject, MIN(locked_at) FROM locks GROUP BY subject"):
        locks[s] = at
    n_reports = db.execute("SELECT COUNT(*) FROM reports").fetchone()[0]
    team = db.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'team'").fetchone()[0]
    sent = db.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL").fetchone()[0]
    db.close()

    def truth_of(s):
        if s in subj:
            return subj[s]
        # a script lock names "uid:path"; the generator's key is the same
        return None

    false_locks = sorted(s for s in locks if not (truth_of(s) or {}).get("compromised"))
    comp = {s: v for s, v in subj.items() if v["compromised"]}
    never = sorted(s for s in comp if s not in locks)
    # of those: ones that drew no complaint at all (the run was over before
    # anybody complained), and ones without three authenticated complaints
    # (nothing the desk may lock on by itself)
    never_silent = sum(1 for s in never if not comp[s]["all"])
    never_few = sum(1 for s in never if comp[s]["all"] and len(comp[s]["auth"]) < 3)
    to_lock, late = [], []
    for s, v in comp.items():
        if s not in locks or not v["all"]:
            continue
        to_lock.append(locks[s] - v["all"][0])
        if len(v["auth"]) >= 3 and locks[s] - v["auth"][2] > 900:
            late.append((s, locks[s] - v["auth"][2]))
    days = truth["days"]
    alerts_day = team / days
    per10k = alerts_day * 10000 / truth["accounts"]

    def pct(xs, q):
        if not xs:
            return float("nan")
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(math.ceil(q * len(xs))) - 1)]
    return {
        "reports": n_reports, "false_locks": len(false_locks), "false_lock_subjects":
        false_locks[:10], "compromised": len(comp), "never_locked": len(never),
        "never_locked_subjects": never[:10], "never_silent": never_silent,
        "never_few_auth": never_few,
        "median_to_lock_min": statistics.median(to_lock) / 60 if to_lock else float("nan"),
        "p95_to_lock_min": pct(to_lock, 0.95) / 60 if to_lock else float("nan"),
        "late_after_third_auth": len(late), "late_subjects": late[:10],
        "alerts_per_day": alerts_day, "alerts_per_day_per_10k": per10k, "mails_sent": sent,
    }


def show(label, m, t_ingest=None, t_process=None):
    print("%s:" % label)
    print("  reports stored            %d" % m["reports"])
    print("  false locks               %d %s" % (m["false_locks"],
                                                 " ".join(m["false_lock_subjects"])))
    print("  compromised never locked  %d of %d %s" % (m["never_locked"], m["compromised"],
                                                       " ".join(m["never_locked_subjects"])))
    if m["never_locked"]:
        print("    of them without any complaint: %d; with fewer than 3 authenticated "
              "complaints: %d" % (m["never_silent"], m["never_few_auth"]))
    print("  first complaint -> lock   median %.1f min, p95 %.1f min" %
          (m["median_to_lock_min"], m["p95_to_lock_min"]))
    print("  locked > 15 min after the third authenticated complaint: %d %s" %
          (m["late_after_third_auth"],
           " ".join("%s(+%dm)" % (s, d // 60) for s, d in m["late_subjects"])))
    print("  alerts per day            %.1f (%.1f per 10,000 accounts)" %
          (m["alerts_per_day"], m["alerts_per_day_per_10k"]))
    print("  mails sent by the replay  %d" % m["mails_sent"])
    if t_ingest is not None:
        total = t_ingest[0] + t_process[0]
        ctotal = t_ingest[1] + t_process[1]
        print("  replay time               %.1f s wall (ingest --replay %.1f s, process %.1f s; "
              "%.0f reports/s)" % (total, t_ingest[0], t_process[0],
                                   m["reports"] / max(total, 1e-9)))
        print("  replay CPU time           %.1f s (ingest --replay %.1f s, process %.1f s; "
              "%.0f reports per CPU second)" % (ctotal, t_ingest[1], t_process[1],
                                                m["reports"] / max(ctotal, 1e-9)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--accounts", type=int, default=28000)
    ap.add_argument("--bin", default=os.path.join(TOP, "build", "abusedesk"))
    ap.add_argument("--conf", default=os.path.join(TOP, "etc", "abusedesk.conf"))
    ap.add_argument("--work")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--sweep-accounts", type=int, default=3000)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--generate-only")
    ap.add_argument("--gen", help="replay this generated month (--generate-only) instead")
    ap.add_argument("--set", action="append", default=[],
                    help="SECTION.KEY=VALUE over the configuration (to try a setting)")
    a = ap.parse_args()
    overrides = {}
    for kv in a.set:
        k, v = kv.split("=", 1)
        sec, key = k.split(".", 1)
        overrides[(sec, key)] = v

    if a.generate_only:
        m = Month(a.seed, a.accounts)
        m.generate()
        m.write(a.generate_only)
        print("%d reports in %s" % (len(m.reports), a.generate_only))
        return
    work = a.work or tempfile.mkdtemp(prefix="ad-decisions-")
    try:
        gen = a.gen or os.path.join(work, "gen")
        if not a.gen:
            t0 = time.time()
            m = Month(a.seed, a.accounts)
            m.generate()
            m.write(gen)
            print("generated %d reports about %d accounts, %d scripts (seed %d) in %.1f s" %
                  (len(m.reports), a.accounts, len(m.scripts), a.seed, time.time() - t0))
        conf, ti, tp = replay(a.bin, gen, os.path.join(work, "default"), a.conf, overrides)
        res = measure(gen, os.path.join(work, "default"))
        show("shipped default configuration" if not overrides else
             "configuration with " + " ".join(a.set), res, ti, tp)
        ok = (res["false_locks"] == 0 and res["late_after_third_auth"] == 0
              and res["never_locked"] == res["never_silent"]
              and res["alerts_per_day_per_10k"] < 20)
        print("targets (0 false locks, all locked within 15 min of the 3rd authenticated "
              "complaint, < 20 alerts/day per 10,000): %s" % ("met" if ok else "NOT met"))
        print("speed target (100,000 reports < 60 s): %.1f s wall, %.1f s CPU for %d reports "
              "(load average %.1f)" % (ti[0] + tp[0], ti[1] + tp[1], res["reports"],
                                       os.getloadavg()[0]))
        if a.sweep:
            sgen = os.path.join(work, "sgen")
            sm = Month(a.seed, a.sweep_accounts)
            sm.generate()
            sm.write(sgen)
            print("\nsweep on a month of %d accounts (%d reports):" %
                  (a.sweep_accounts, len(sm.reports)))
            print("  %-36s %6s %6s %8s %8s %6s %10s" % ("setting", "false", "never", "med min",
                                                        "p95 min", "late", "alerts/10k"))
            lk = ("incidents", "lock_score")
            lc = ("incidents", "lock_complaints")
            al = ("incidents", "alert_score")
            rl = ("incidents", "run_lock_complaints")
            variants = [("default", {}),
                        ("run_lock_complaints 0 (sums only)", {rl: "0"}),
                        ("run_lock_complaints 2", {rl: "2"}),
                        ("run_lock_complaints 4", {rl: "4"}),
                        ("run_min_clients 2", {("incidents", "run_min_clients"): "2"}),
                        ("run_min_clients 4", {("incidents", "run_min_clients"): "4"}),
                        ("run_window 12h", {("incidents", "run_window"): "12h"}),
                        ("auto_lock_min_providers 1", {("incidents", "auto_lock_min_providers"): "1"}),
                        ("bulk_factor 1.0", {("scoring", "bulk_factor"): "1.0"}),
                        ("lock 30;80;150 / 3;8;15 complaints", {lk: "30;80;150", lc: "3;8;15"}),
                        ("lock_score 120;240;500", {lk: "120;240;500"}),
                        ("alert_score 12;20;40", {al: "12;20;40"}),
                        ("alert_score 50;80;160", {al: "50;80;160"})]
            for i, (name, ov) in enumerate(variants):
                w = os.path.join(work, "sweep%d" % i)
                replay(a.bin, sgen, w, a.conf, ov)
                r = measure(sgen, w)
                print("  %-36s %6d %6d %8.1f %8.1f %6d %10.1f" %
                      (name, r["false_locks"], r["never_locked"] - r["never_silent"],
                       r["median_to_lock_min"],
                       r["p95_to_lock_min"], r["late_after_third_auth"],
                       r["alerts_per_day_per_10k"]))
    finally:
        if a.keep or a.work:
            print("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

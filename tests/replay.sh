#!/usr/bin/env bash
# tests/replay.sh: `abusedesk ingest --replay` files a small archive of
# authenticated complaints (as our MX took them in: its Authentication-Results
# and Received header on top) at the archive's own times, and the desk worker
# decides by that clock:
#   1. times follow the archive: received_at, complaint times, the lock's time
#      and the audit log are the archive's, not today's
#   2. windows apply: bob's three complaints on three days never lock him in
#      the replay; ingested the ordinary way (all at once, today) they do
#   3. no mail leaves without --notify (a real smtp-sink counts none; the rows
#      are held), with --notify the notices arrive
#   4. a Maildir whose file names are not in arrival order is filed in order;
#      stdin in order is accepted, a report older than the newest is refused
#      (exit 65, a clear message), so is replaying into a desk that holds
#      newer reports; a report without our Received header is filed at its Date
#   5. replaying the archive twice changes nothing (every report a duplicate)
#      and a fresh desk decides the same: replay-report prints the same
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/lib/sql.sh"
. "$top/tests/lib/smtp_sink.sh"
bin=${AD_BINARY:-$top/build/abusedesk}
work=$(mktemp -d)
fails=0
cleanup() {
  smtp_sink_stop
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
check() { # name got want
  if [ "$2" != "$3" ]; then echo "FAIL $1: got '$2', want '$3'"; fails=$((fails + 1)); else echo "ok   $1"; fi
}
has() { # name text pattern
  if grep -q -- "$3" <<<"$2"; then echo "ok   $1"; else echo "FAIL $1: no '$3'"; fails=$((fails + 1)); fi
}
command -v sqlite3 >/dev/null || { echo "FAIL: sqlite3 is missing (make deps)"; exit 1; }
[ -f "$top/bench/decisions.py" ] || { echo "FAIL: bench/decisions.py is missing"; exit 1; }
smtp_sink_start "$work/mail" || { echo "FAIL smtp-sink"; exit 1; }

conf() { # NAME: a desk of its own (own database, spool, on PostgreSQL its own database)
  mkdir -p "$work/$1"
  cat > "$work/$1/desk.conf" <<EOF
[store]
path = $work/$1/desk.db
[intake]
spool_dir = $work/$1/spool
quarantine_dir = $work/$1/quarantine
authserv_id = mx.hoster.example
verify_dkim = false
[log]
level = warning
[network]
our_hosts = *.hoster.example
our_ips = 198.51.100.0/24
[providers]
yahoo.com = 1.0 manual signed_by=arf.mail.yahoo.com
aol.com = 1.2 manual signed_by=aol.net
[incidents]
windows = 1h;24h
observe_score = 5;5
alert_score = 1000;1000
lock_score = 1000;1000
alert_complaints = 2;2
lock_complaints = 3;4
auto_lock_min_providers = 2
[act]
retry_min = 1s
[notify]
smarthost = smtp://127.0.0.1:$SMTP_SINK_PORT
from = abuse@hoster.example
abuse_team = team@hoster.example
templates_dir = $top/etc/templates
team_language = en
[directory]
default_language = en
EOF
  db_select "$work/$1/desk.db"
  "$bin" -c "$work/$1/desk.conf" init >/dev/null 2>&1 || { echo "FAIL init $1"; exit 1; }
  printf '%s\n' 'customer_id,customer_name,contact_email,language,account,domain' \
    'C1,Alice Ltd,owner@alice-home.example,en,alice@customer.example,customer.example' \
    'C2,Bob Ltd,owner@bob-home.example,en,bob@bob.example,bob.example' \
    'C3,Carol Ltd,owner@carol-home.example,en,carol@carol.example,carol.example' > "$work/dir.csv"
  "$bin" -c "$work/$1/desk.conf" directory import "$work/dir.csv" >/dev/null 2>&1 \
    || { echo "FAIL directory import $1"; exit 1; }
}
ad() { local d=$1; shift; db_select "$work/$d/desk.db"; "$bin" -c "$work/$d/desk.conf" "$@"; }
sql() { dbq "$work/$1/desk.db" "$2"; }
sinkmails() { ls "$work/mail" 2>/dev/null | grep -c '^msg\.' || true; }

# The archive, written by the benchmark's own renderer (one complaint per
# file): T is 2026-10-01T10:00:00Z.
T=1790848800
python3 - "$work/archive" "$T" "$top/bench" <<'EOF'
import os, sys
sys.path.insert(0, sys.argv[3])
import decisions as d
out, T = sys.argv[1], int(sys.argv[2])
m = d.Month(1, 10)
yahoo = [p for p in d.PROVIDERS if p[0] == "yahoo.com"][0]
aol = [p for p in d.PROVIDERS if p[0] == "aol.com"][0]
items = [  # name, subject, mail sent, arrival, provider
    ("a1", "alice@customer.example", T - 300, T, yahoo),
    ("a2", "alice@customer.example", T, T + 300, aol),
    ("a3", "alice@customer.example", T + 300, T + 600, yahoo),
    ("a4", "alice@customer.example", T + 600, T + 900, aol),
    ("b1", "bob@bob.example", T - 60, T + 3600, yahoo),
    ("b2", "bob@bob.example", T + 86400 - 60, T + 86400 + 3600, aol),
    ("b3", "bob@bob.example", T + 2 * 86400 - 60, T + 2 * 86400 + 3600, yahoo),
]
os.makedirs(out + "/maildir/new", exist_ok=True)
os.makedirs(out + "/maildir/cur", exist_ok=True)
os.makedirs(out + "/single", exist_ok=True)
for k, (name, who, sent, arr, p) in enumerate(items):
    # bob writes from his own line (a bot's addresses all over the internet
    # on three days would be a slow spam run for the spam-run rule)
    raw = m.render(who, sent, arr, "account", "Spam %s" % name, p, "r%d@%s" % (k, p[0]),
                   "<m%d@out.hoster.example>" % k, True, False, 100 + k,
                   client="100.64.0.2" if who.startswith("bob@") else None)
    # file names in reverse arrival order: the replay must sort
    open("%s/maildir/new/%02d.%s" % (out, 20 - k, name), "wb").write(raw)
    open("%s/single/%s.eml" % (out, name), "wb").write(raw)
# carol: one complaint before everything (for the out-of-order refusal), and
# one without our MX's Received header (filed at its Date, after everything)
raw = m.render("carol@carol.example", T - 7200, T - 3600, "account", "Early", yahoo,
               "rc@yahoo.com", "<c1@out.hoster.example>", True, False, 200)
open(out + "/single/early.eml", "wb").write(raw)
raw = m.render("carol@carol.example", T + 3 * 86400, T + 3 * 86400 + 600, "account", "Dated",
               yahoo, "rd@yahoo.com", "<c2@out.hoster.example>", True, False, 201)
lines = [l for l in raw.split(b"\n") if not l.startswith(b"Received: from fbl.")]
open(out + "/single/dated.eml", "wb").write(b"\n".join(lines))
EOF
[ -f "$work/archive/single/a1.eml" ] || { echo "FAIL: the archive was not written"; exit 1; }
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

# ---- 1. replay a Maildir (names out of order), then the desk worker ---------
conf r1
cp -r "$work/archive/maildir" "$work/r1/md"
ad r1 ingest -q --replay --maildir "$work/r1/md"
check "replay: maildir exit status" "$?" 0
ad r1 process >/dev/null
ad r1 outbox --flush >/dev/null 2>&1
check "replay: 7 reports stored" "$(sql r1 'SELECT COUNT(*) FROM reports')" 7
check "replay: reports filed in arrival order (ids follow received_at)" \
  "$(sql r1 'SELECT COUNT(*) FROM reports a JOIN reports b ON b.id > a.id AND b.received_at < a.received_at')" 0
check "replay: first report filed at our MX's Received time" \
  "$(sql r1 'SELECT received_at FROM reports ORDER BY id LIMIT 1')" "$(iso $T)"
check "replay: complaint times are the archive's" \
  "$(sql r1 "SELECT MIN(at) || ' ' || MAX(at) FROM complaints")" "$T $((T + 2 * 86400 + 3600))"
check "replay: alice locked at her third complaint's arrival" \
  "$(sql r1 "SELECT locked_at FROM locks WHERE subject = 'alice@customer.example'")" "$((T + 600))"
check "windows apply: bob (one complaint a day) not locked" \
  "$(sql r1 "SELECT COUNT(*) FROM locks WHERE subject = 'bob@bob.example'")" 0
check "replay: the audit log follows the archive's clock" \
  "$(sql r1 "SELECT COUNT(*) FROM audit WHERE at < $T OR at > $((T + 3 * 86400))")" 0
check "replay: incident times are the archive's" \
  "$(sql r1 "SELECT COUNT(*) FROM incidents WHERE opened_at < $T OR updated_at > $((T + 3 * 86400))")" 0
check "no --notify: no mail reached the smarthost" "$(sinkmails)" 0
check "no --notify: notices and alerts queued but held" \
  "$(sql r1 "SELECT COUNT(*) FROM outbox WHERE failed = 1 AND last_error LIKE 'held:%' AND sent_at IS NULL")" \
  "$(sql r1 'SELECT COUNT(*) FROM outbox')"
check "no --notify: some were queued (a notice for alice)" \
  "$(sql r1 "SELECT COUNT(*) FROM outbox WHERE kind = 'customer'")" 1
check "replay: the reports are marked as replayed" \
  "$(sql r1 'SELECT COUNT(*) FROM reports WHERE replay = 1')" 7
rep1=$(ad r1 replay-report)
has "replay-report: the lock with its time" "$rep1" "^$(iso $((T + 600)))  .* lock .*alice@customer.example"
has "replay-report: the notice, held" "$rep1" "notice .*alice@customer.example .*held"
has "replay-report: a summary" "$rep1" "decision(s): alert"
js=$(ad r1 replay-report --json)
check "replay-report --json: one lock" "$(grep -c '"kind":"lock"' <<<"$js")" 1

# ---- 2. the same archive ingested the ordinary way: one window, bob locked ---
conf live
for f in "$work"/archive/single/[ab]*.eml; do ad live ingest -q < "$f" || echo "FAIL live ingest $f"; done
ad live process >/dev/null
check "without --replay: bob's complaints share today's window and lock him" \
  "$(sql live "SELECT COUNT(*) FROM locks WHERE subject = 'bob@bob.example'")" 1
out=$(ad live ingest --replay < "$work/archive/single/early.eml" 2>&1)
check "replay into a desk holding newer reports: refused (65)" "$?" 65
has "replay into a newer desk: the message says why" "$out" "earlier than the newest report the desk holds"

# ---- 3. replay twice: nothing changes ----------------------------------------
before=$(sql r1 "SELECT COUNT(*) || '/' || (SELECT COUNT(*) FROM audit) || '/' || (SELECT COUNT(*) FROM outbox) FROM reports")
cp -r "$work/archive/maildir" "$work/r1/md2"
ad r1 ingest -q --replay --maildir "$work/r1/md2"
check "replay twice: exit status" "$?" 0
ad r1 process >/dev/null
check "replay twice: no new report, audit row or mail" \
  "$(sql r1 "SELECT COUNT(*) || '/' || (SELECT COUNT(*) FROM audit) || '/' || (SELECT COUNT(*) FROM outbox) FROM reports")" "$before"
check "replay twice: the same decisions" "$(ad r1 replay-report)" "$rep1"

# ---- 4. stdin, in order, into a fresh desk: the same decisions --------------
conf r2
for n in a1 a2 a3 a4 b1 b2 b3; do
  ad r2 ingest -q --replay < "$work/archive/single/$n.eml" || echo "FAIL stdin replay $n"
done
ad r2 process >/dev/null
check "a fresh desk, fed on stdin: the same decisions" "$(ad r2 replay-report)" "$rep1"
out=$(ad r2 ingest --replay < "$work/archive/single/early.eml" 2>&1)
check "stdin: a report older than the newest is refused (65)" "$?" 65
has "stdin: out-of-order message" "$out" "refused: it reached us at $(iso $((T - 3600)))"
check "stdin: the refused report is not stored" "$(sql r2 'SELECT COUNT(*) FROM reports')" 7
ad r2 ingest -q --replay < "$work/archive/single/a2.eml"
check "stdin: an older report already stored is a duplicate, not refused" "$?" 0
ad r2 ingest -q --replay < "$work/archive/single/dated.eml"
check "stdin: a report without our Received header is accepted" "$?" 0
check "stdin: ... and filed at its Date" \
  "$(sql r2 'SELECT received_at FROM reports ORDER BY id DESC LIMIT 1')" "$(iso $((T + 3 * 86400 + 595)))"
ad r2 outbox --flush >/dev/null 2>&1
check "still no mail at the smarthost" "$(sinkmails)" 0

# ---- 5. --notify: the mails go out -----------------------------------------
conf r3
cp -r "$work/archive/maildir" "$work/r3/md"
ad r3 ingest -q --replay --notify --maildir "$work/r3/md"
check "--notify: exit status" "$?" 0
ad r3 process >/dev/null
ad r3 outbox --flush >/dev/null 2>&1
check "--notify: nothing held" "$(sql r3 "SELECT COUNT(*) FROM outbox WHERE last_error LIKE 'held:%'")" 0
sent=$(sinkmails)
check "--notify: the notice and the alerts reached the smarthost" \
  "$sent" "$(sql r3 'SELECT COUNT(*) FROM outbox')"
has "--notify: the customer's notice among them" "$(cat "$work"/mail/msg.* 2>/dev/null)" "owner@alice-home.example"
out=$(ad r3 ingest --notify < "$work/archive/single/a1.eml" 2>&1)
check "--notify without --replay: usage error" "$?" 64

echo "replay: $fails failure(s)"
[ "$fails" -eq 0 ]

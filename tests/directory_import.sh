#!/usr/bin/env bash
# tests/directory_import.sh: `abusedesk directory import` as a provisioning
# export meets it: files separated by ';' (with quoted fields holding ';' and
# ','), extra columns ignored with one warning naming them, malformed files and
# rows; --sync removes what the file no longer lists (with counts), keeps a
# customer with open incidents unless --force and says why, and removes nothing
# when a row was refused; per-customer limit columns reach a running policy
# server (abusedesk serve), also when a later import changes them.
# Each check prints "got X, want Y" on failure.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
work=$(mktemp -d)
spid=
cleanup() {
  [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
. "$top/tests/lib/sql.sh"
. "$top/tests/lib/check.sh"  # check, has, lacks, check_done
pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user=
[ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && user=nobody
chmod 755 "$work" # the policy server runs as nobody
mkdir -p "$work/db"
cat > "$work/d.conf" <<CONF
[store]
path = $work/db/d.db
[intake]
spool_dir = $work/db/spool
quarantine_dir = $work/db/quarantine
[log]
level = warning
[network]
our_hosts = *.hoster.example
our_ips = 198.51.100.0/24
[policy]
listen = inet:127.0.0.1:$pport
user = $user
msgs_per_hour = 100
rcpts_per_hour = 100
hard_factor = 2
state_file = $work/db/policy.state
[notify]
templates_dir = $top/etc/templates
from = abuse@hoster.example
abuse_team = team@hoster.example
CONF
ad() { "$bin" -c "$work/d.conf" "$@"; }
ad init >/dev/null 2>&1 || { echo "FAIL init"; exit 1; }
q() { dbq "$work/db/d.db" "$@"; }

# 1. A ';' file from a spreadsheet: quoted fields with ';', ',' and a doubled
# quote; extra columns (phone, notes, an unnamed one) ignored, named once.
printf '%s\r\n' \
  'customer_id;customer_name;contact_email;language;account;domain;phone;limit_hour;notes;' \
  'C1;"Weber; Krause, ""Partner""";office@weber-private.example;de;a@c1.example;c1.example;+49 30 1;2;"free; text";' \
  'C1;"Weber; Krause, ""Partner""";office@weber-private.example;de;a2@c1.example;;;2;he said "hi";' \
  'C2;Two;owner@two-private.example;en;b@c2.example;c2.example;;;;' \
  'C3;Three;owner@three-private.example;en;c@c3.example;;;;;' > "$work/semi.csv"
out=$(ad directory import "$work/semi.csv" 2>&1); rc=$?
check "';' file: exit 0" "$rc" 0
has "';' file: summary" "$out" "directory: 4 rows, 3 customers, 4 accounts, 2 domains, 0 uids, 0 bad rows refused"
check "one warning for the unknown columns" "$(grep -c 'ignoring unknown columns' <<<"$out")" 1
has "warning names them" "$out" "ignoring unknown columns 'phone', 'notes', column 10 (no name)"
check "quoted name with ';' and '\"\"'" "$(q "SELECT name FROM customers WHERE id = 'C1'")" 'Weber; Krause, "Partner"'
check "accounts of C1" "$(q "SELECT name FROM accounts WHERE customer_id = 'C1' ORDER BY name" | tr '\n' ' ')" "a2@c1.example a@c1.example "
check "limit_hour stored as msgs_per_hour" "$(q "SELECT COALESCE(CAST(limit_msgs_hour AS TEXT), 'null') FROM customers ORDER BY id" | tr '\n' ' ')" "2 null null "

# 2. Malformed files: nothing stored, exit 65, a message naming the line.
bad_file() { # name want-in-stderr content...
  local name=$1 want=$2; shift 2
  printf '%s\n' "$@" > "$work/bad.csv"
  local before; before=$(q "SELECT COUNT(*) FROM customers")
  local o; o=$(ad directory import "$work/bad.csv" 2>&1); local r=$?
  check "$name: exit 65" "$r" 65
  has "$name: message" "$o" "$want"
  check "$name: nothing stored" "$(q "SELECT COUNT(*) FROM customers")" "$before"
}
bad_file "unclosed quote in a ';' file" "line 2, column customer_name: quoted field is not closed" \
  'customer_id;customer_name;contact_email;language;account;domain' 'C9;"Nine;n@nine.example;en;n@nine.example;'
bad_file "misspelt column" "missing column 'customer_name' (expected customer_id" \
  'customer_id;name;contact_email;language;account;domain'
bad_file "duplicate column" "column 'account' appears twice" \
  'customer_id,customer_name,contact_email,language,account,domain,ACCOUNT'
bad_file "empty file" "no header line" ''
bad_file "column alias twice" "column 'msgs_per_hour' appears twice" \
  'customer_id,customer_name,contact_email,language,account,domain,msgs_per_hour,limit_hour'
# Malformed rows: refused one by one (65), the good ones kept.
printf '%s\n' 'customer_id;customer_name;contact_email;language;account;domain;limit_day;extra' \
  'C4;Four;f@four.example;en;d@c4.example;c4.example;10;anything "goes" here' \
  'C5;Five;f@five.example;en;e@c5.example;;ten;' \
  'C6;Six,with comma;f@six.example;en;g@c6.example;' \
  'C7;"Seven" GmbH;f@seven.example;en;h@c7.example;;;' \
  'C8;Eight;f@eight.example;en;i@c8.example;;100000001;' \
  'C9,Nine,f@nine.example,en,j@c9.example,,,' > "$work/rows.csv"
out=$(ad directory import "$work/rows.csv" 2>&1); rc=$?
check "bad rows: exit 65" "$rc" 65
has "bad limit refused" "$out" "line 3, column rcpts_per_day: 'ten' is not a limit"
has "short row refused" "$out" "line 4: 6 fields, want 8 as in the header"
has "quote inside a field refused" "$out" "line 5, column customer_name: text after the closing quote"
has "limit too large refused" "$out" "line 6, column rcpts_per_day: '100000001' is not a limit"
has "',' row in a ';' file refused" "$out" "line 7: 1 field, want 8 as in the header"
has "bad rows: summary" "$out" "6 rows, 1 customer, 1 account, 1 domain, 0 uids, 5 bad rows refused"
check "good row kept, limit_day stored" "$(q "SELECT limit_rcpts_day FROM customers WHERE id = 'C4'")" 10
# A NUL byte and invalid UTF-8 in a known column refuse the row, never crash.
printf 'customer_id,customer_name,contact_email,language,account,domain\nC10,T\000n,t@ten.example,en,k@c10.example,\nC11,\xff\xfe,t@eleven.example,en,l@c11.example,\n' > "$work/nul.csv"
out=$(ad directory import "$work/nul.csv" 2>&1); rc=$?
check "NUL and bad UTF-8: exit 65" "$rc" 65
has "NUL named" "$out" "NUL byte in the field"
has "UTF-8 named" "$out" "not valid UTF-8"

# 3. Limits reach the policy server: C1's accounts have 2 messages an hour
# (soft: HOLD above 2, hard: REJECT above 4), C2's the configured 100.
[ -n "$user" ] && chown -R "$user" "$work/db"
"$bin" -c "$work/d.conf" serve 2>"$work/serve.log" &
spid=$!
for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$pport") 2>/dev/null && break; sleep 0.05; done
cat > "$work/ask.py" <<'PY'
import socket, sys
def rd(f):
    out = []
    while True:
        l = f.readline()
        if l in (b"\n", b""): return b"".join(out).decode().strip()
        out.append(l)
port, n, acct, tag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode(), sys.argv[4].encode()
s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rwb")
res = []
for i in range(n):
    f.write(b"request=smtpd_access_policy\nprotocol_state=RCPT\nsasl_username=%s\nsender=%s\n"
            b"recipient=r%d@example.org\nclient_address=192.0.2.1\ninstance=%s%d\n\n" % (acct, acct, i, tag, i))
    f.flush()
    res.append(rd(f).replace("action=", "").split(" ")[0])
print(" ".join(res))
PY
ask() { python3 "$work/ask.py" "$pport" "$@"; }
check "directory limit: a@c1.example held above 2, rejected above 4" "$(ask 6 a@c1.example t1)" "DUNNO DUNNO HOLD HOLD REJECT REJECT"
check "no directory limit: b@c2.example the configured 100" "$(ask 6 b@c2.example t2)" "DUNNO DUNNO DUNNO DUNNO DUNNO DUNNO"
# A new import gives C2 a limit of 1: the running server reads it (b's 7th
# message this hour is over the hard limit 2).
printf '%s\n' 'customer_id,customer_name,contact_email,language,account,domain,msgs_per_hour' \
  'C2,Two,owner@two-private.example,en,b@c2.example,c2.example,1' > "$work/c2.csv"
ad directory import "$work/c2.csv" >/dev/null 2>&1 || check "limit update import" "$?" 0
sleep 0.6
check "changed limit reaches the running server" "$(ask 1 b@c2.example t3)" "REJECT"
# An empty value gives the configured limit back; a file without the column keeps it.
printf '%s\n' 'customer_id,customer_name,contact_email,language,account,domain' \
  'C2,Two,owner@two-private.example,en,b@c2.example,c2.example' > "$work/c2b.csv"
ad directory import "$work/c2b.csv" >/dev/null 2>&1
check "no limit column: limit kept" "$(q "SELECT limit_msgs_hour FROM customers WHERE id = 'C2'")" 1
printf '%s\n' 'customer_id,customer_name,contact_email,language,account,domain,limit_hour' \
  'C2,Two,owner@two-private.example,en,b@c2.example,c2.example,' > "$work/c2c.csv"
ad directory import "$work/c2c.csv" >/dev/null 2>&1
check "empty limit: cleared" "$(q "SELECT COALESCE(CAST(limit_msgs_hour AS TEXT), 'null') FROM customers WHERE id = 'C2'")" null
kill "$spid"; wait "$spid" 2>/dev/null; spid=

# 4. --sync. The store has C1..C4 (and C9 from nowhere: no). C3's account is
# locked (an open incident); the new file lists C1 (one account less, a new
# domain) and C2.
ad account lock c@c3.example --reason "test" >/dev/null 2>&1 || check "lock c@c3" "$?" 0
inc3=$(q "SELECT id FROM incidents WHERE customer_id = 'C3'")
st3=$(q "SELECT state FROM incidents WHERE id = $inc3")
check "C3 has an open incident" "$(case $st3 in resolved|dismissed|merged|'') echo closed;; *) echo open;; esac)" open
printf '%s\n' 'customer_id,customer_name,contact_email,language,account,domain' \
  'C1,Weber,office@weber-private.example,de,a@c1.example,c1.example' \
  'C2,Two,owner@two-private.example,en,b@c2.example,two.example' > "$work/sync.csv"
before=$(q "SELECT COUNT(*) FROM customers")
out=$(ad directory import --sync --dry-run "$work/sync.csv" 2>&1); rc=$?
check "sync dry run: exit 3 (C3 kept)" "$rc" 3
has "sync dry run: counts" "$out" "sync (dry run, nothing removed): removed 1 customer, 2 accounts, 2 domains, 0 uids; 1 customer kept for open incidents"
check "sync dry run: nothing removed" "$(q "SELECT COUNT(*) FROM customers")" "$before"
out=$(ad directory import --sync "$work/sync.csv" 2>&1); rc=$?
check "sync: exit 3 (a customer kept)" "$rc" 3
has "sync: counts" "$out" "sync: removed 1 customer, 2 accounts, 2 domains, 0 uids; 1 customer kept for open incidents"
has "sync: says why C3 stays" "$out" "customer C3 not removed: it has 1 open incident (incident $inc3, $st3)"
check "sync: customers left" "$(q "SELECT id FROM customers ORDER BY id" | tr '\n' ' ')" "C1 C2 C3 "
check "sync: accounts left" "$(q "SELECT name FROM accounts ORDER BY name" | tr '\n' ' ')" "a@c1.example b@c2.example c@c3.example "
check "sync: domains left" "$(q "SELECT domain FROM domains ORDER BY domain" | tr '\n' ' ')" "c1.example two.example "
# A refused row: --sync removes nothing (the row would look removed).
printf '%s\n' 'customer_id,customer_name,contact_email,language,account,domain' \
  'C1,Weber,office@weber-private.example,de,a@c1.example,c1.example' \
  'C2,Two,not-an-address,en,b@c2.example,two.example' > "$work/syncbad.csv"
out=$(ad directory import --sync --force "$work/syncbad.csv" 2>&1); rc=$?
check "sync with a bad row: exit 65" "$rc" 65
has "sync with a bad row: says so" "$out" "--sync removed nothing: 1 row was refused"
check "sync with a bad row: C2 and C3 still there" "$(q "SELECT id FROM customers ORDER BY id" | tr '\n' ' ')" "C1 C2 C3 "
# --force removes C3 with its account; the incident keeps the customer id.
out=$(ad directory import --sync --force "$work/sync.csv" 2>&1); rc=$?
check "sync --force: exit 0" "$rc" 0
has "sync --force: counts" "$out" "sync: removed 1 customer, 1 account, 0 domains, 0 uids; 0 customers kept"
has "sync --force: warns" "$out" "customer C3 removed with 1 open incident (--force"
check "sync --force: C3 gone" "$(q "SELECT COUNT(*) FROM customers WHERE id = 'C3'") $(q "SELECT COUNT(*) FROM accounts WHERE customer_id = 'C3'")" "0 0"
check "sync --force: incident keeps the id" "$(q "SELECT customer_id FROM incidents WHERE id = $inc3")" C3
ad directory import --force "$work/sync.csv" >/dev/null 2>&1; check "--force without --sync: usage" "$?" 64
# A plain import still never removes anything.
printf '%s\n' 'customer_id,customer_name,contact_email,language,account,domain' \
  'C5,Five,f@five.example,en,e@c5.example,' > "$work/add.csv"
ad directory import "$work/add.csv" >/dev/null 2>&1
check "import without --sync adds only" "$(q "SELECT id FROM customers ORDER BY id" | tr '\n' ' ')" "C1 C2 C5 "

check_done "directory import"

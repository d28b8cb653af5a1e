#!/usr/bin/env bash
# tests/logging_secrets.sh: no secret in logs, last_error or the audit log, and
# the key=value log form. A webhook URL with credentials and a token in its
# query (https://hookuser:HookPassw0rd@127.0.0.1:PORT/hook?token=...) answered
# with HTTP 500 by a real receiver, and a smarthost URL with a login and a
# configured [notify] password pointing at a closed port: after the delivery
# worker tried both, neither the password, nor the token, nor the login's
# password appears in its log (text and key=value form), in outbox/hook_jobs
# last_error or in the audit log, while the errors themselves are there (the
# URL with "***"). A log line for machines is key=value with the message
# quoted, also when the message carries a line break from a mail.
# Each check prints "got X, want Y" on failure.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
work=$(mktemp -d)
whpid=
cleanup() {
  [ -n "$whpid" ] && kill "$whpid" 2>/dev/null && wait "$whpid" 2>/dev/null
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
. "$top/tests/lib/sql.sh"
. "$top/tests/lib/check.sh"  # check, has, lacks, check_done

python3 "$top/tests/lib/webhook_receiver.py" "$work/wh.port" "$work/wh.log" --status 500 &
whpid=$!
for i in $(seq 1 100); do [ -s "$work/wh.port" ] && break; sleep 0.05; done
[ -s "$work/wh.port" ] || { echo "FAIL webhook receiver did not start"; exit 1; }
whport=$(cat "$work/wh.port")
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
hookpw=HookPassw0rd
token=T0kenValue42
smtppw=SmtpSecretPw9
urlpw=UrlLoginPw77

cat > "$work/s.conf" <<CONF
[store]
path = $work/s.db
[intake]
spool_dir = $work/spool
quarantine_dir = $work/quarantine
[log]
level = info
[network]
our_hosts = *.hoster.example
our_ips = 198.51.100.0/24
[act]
webhook_url = https://hookuser:$hookpw@127.0.0.1:$whport/hook?event=x&token=$token
retry_min = 1s
retry_max = 2s
[notify]
smarthost = smtp://mailer:$urlpw@127.0.0.1:$closed
username = desk
password = $smtppw
from = abuse@hoster.example
abuse_team = team@hoster.example
templates_dir = $top/etc/templates
CONF
ad() { "$bin" -c "$work/s.conf" "$@"; }
q() { dbq "$work/s.db" "$@"; }
ad init >/dev/null 2>&1 || { echo "FAIL init"; exit 1; }
printf '%s\n' 'customer_id,customer_name,contact_email,language,account,domain' \
  'C1,One,owner@one-private.example,en,alice@customer.example,customer.example' > "$work/dir.csv"
ad directory import "$work/dir.csv" >/dev/null || { echo "FAIL directory import"; exit 1; }
ad account lock alice@customer.example --reason "test" >/dev/null 2>&1 || check "account lock" "$?" 0

# The webhook goes over https to a plain HTTP receiver: the TLS handshake
# fails. Point it at http instead, keeping the credentials and the token.
sed -i "s|^webhook_url = https://|webhook_url = http://|" "$work/s.conf"
# The lock's own delivery attempt made them wait retry_min (1s): due again after it.
sleep 1.2
# Logs go to standard error (the journal, under systemd); stdout is the summary.
log_text=$(ad outbox --flush 2>&1 >/dev/null)
# Under systemd, JOURNAL_STREAM names the device and inode of the journal's
# stream; here standard error is a file, and JOURNAL_STREAM names it.
journal() { # ARGS...: abusedesk with standard error to $work/journal, printed
  : > "$work/journal"
  JOURNAL_STREAM=$(stat -c '%d:%i' "$work/journal") ad "$@" 2>>"$work/journal" >/dev/null
  cat "$work/journal"
}
log_kv=$(journal outbox --flush; sleep 2.2; journal outbox --flush)
check "JOURNAL_STREAM naming another stream: text form" "$(JOURNAL_STREAM=1:2 ad outbox --flush 2>&1 >/dev/null | grep -c '^level=')" 0
errors=$(q "SELECT COALESCE(last_error, '') FROM outbox UNION ALL SELECT COALESCE(last_error, '') FROM hook_jobs")
audit=$(q "SELECT action || ' ' || COALESCE(detail, '') FROM audit ORDER BY id")
received=$(cat "$work/wh.log" 2>/dev/null)

has "the receiver got the hook" "$received" '"path": "/hook?event=x&token='
has "hook error logged" "$log_text" "http://***@127.0.0.1:$whport/hook?event=x&token=***: HTTP 500"
has "mail error logged" "$log_text" "smtp://***@127.0.0.1:$closed"
has "hook error in last_error" "$errors" "http://***@127.0.0.1:$whport/hook?event=x&token=***: HTTP 500"
has "mail error in last_error" "$errors" "smtp://***@127.0.0.1:$closed"
has "hook failure in the audit log" "$audit" "hook (locked"
for secret in "$hookpw" "hookuser" "$token" "$smtppw" "$urlpw" "mailer:"; do
  lacks "logs (text) without $secret" "$log_text" "$secret"
  lacks "logs (key=value) without $secret" "$log_kv" "$secret"
  lacks "last_error without $secret" "$errors" "$secret"
  lacks "audit log without $secret" "$audit" "$secret"
done
# A note by a person with a URL with credentials is kept without them.
inc=$(q "SELECT id FROM incidents LIMIT 1")
ad incident note "$inc" --reason "ticket at https://agent:NotePassw0rd@tickets.example/t/1?api_key=K3yK3yK3y" --by tester >/dev/null
note=$(q "SELECT detail FROM audit WHERE action = 'note'")
has "note keeps the URL" "$note" "https://***@tickets.example/t/1?api_key=***"
lacks "note without the password" "$note" "NotePassw0rd"
lacks "note without the key" "$note" "K3yK3yK3y"

# key=value form: every line of the journal form is level=... component=... msg="...".
bad=$(grep -v '^level=\(debug\|info\|warning\|error\) component=[a-z0-9_-]* msg=".*"$' <<<"$log_kv" | grep -c .)
check "every journal line is key=value" "$bad" 0
has "component and quoted message" "$log_kv" 'level=warning component=outbox msg="'
check "text form unchanged for people" "$(grep -c '^abusedesk: warning: outbox: ' <<<"$log_text")" "$(grep -c . <<<"$log_text")"
# A value from a mail with a quote and a line break stays on one quoted line.
printf 'From: x@y.example\nSubject: test\n\n' > "$work/m.eml"
kv=$(journal ingest --source $'evil"\nlevel=error injected' < "$work/m.eml")
check "one line for a value with a line break" "$(grep -c . <<<"$kv")" "$(grep -c '^level=' <<<"$kv")"
check "no injected line" "$(grep -c '^level=error injected' <<<"$kv")" 0

check_done "logging and secrets"

# tests/adversarial/lib.sh: shared setup for the adversarial checks (sourced).
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
. "$top/tests/lib/sql.sh"  # dbq: the store on SQLite or PostgreSQL
bin=${AD_BINARY:-$top/build-h-adv/abusedesk}
corpus="$(bash "$top/tools/shared-dir.sh")/corpus/arf"
mkraw="python3 $top/tests/desk/mkcomplaint.py"
. "$top/tests/lib/smtp_sink.sh"
work=$(mktemp -d)
fails=0
cleanup() { smtp_sink_stop; if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
export PATH="$PATH:/usr/sbin"
ok()   { echo "ok   $1"; }
bad()  { echo "FAIL $1"; fails=$((fails + 1)); }
expect() { if [ "$2" == "$3" ]; then ok "$1"; else bad "$1 (got '$2', want '$3')"; fi; }

smtp_sink_start "$work/mail" || { echo "FAIL smtp-sink"; exit 1; }
cat > "$work/hook.sh" <<'EOF'
#!/bin/sh
printf '%s\n' "$*" >> "$(dirname "$0")/hook.log"
EOF
chmod +x "$work/hook.sh"
write_conf() { # extra lines for [intake]
cat > "$work/desk.conf" <<EOF
[store]
path = $work/desk.db
[intake]
spool_dir = $work/spool
quarantine_dir = $work/quarantine
authserv_id = mx.hoster.example
verify_dkim = ${VERIFY_DKIM:-false}
resolver = ${RESOLVER:-127.0.0.1:9}
dns_timeout = ${DNS_TIMEOUT:-2s}
[log]
level = warning
[network]
our_hosts = *.hoster.example
our_ips = 198.51.100.0/24
[providers]
yahoo.com = 1.0 manual signed_by=arf.mail.yahoo.com
aol.com = 1.2 manual signed_by=aol.net
senderscore.net = 0.8 signed_by=senderscore.net
[incidents]
lock_score = 30;60;120
${INCIDENTS_EXTRA:-}
[act]
lock_command = $work/hook.sh lock
unlock_command = $work/hook.sh unlock
retry_min = 1s
[notify]
smarthost = smtp://127.0.0.1:$SMTP_SINK_PORT
from = abuse@hoster.example
abuse_team = team@hoster.example
templates_dir = $top/etc/templates
desk_name = Abuse-Team Example Hosting
team_language = en
timezone = Europe/Berlin
team_interval = 1h
[directory]
default_language = en
EOF
}
write_conf
. "$top/tests/lib/services.sh"
ad() { ad_services "$bin" "$work/desk.conf" "$@"; }
sql() { dbq "$work/desk.db" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }
cat > "$work/dir.csv" <<'EOF'
customer_id,customer_name,contact_email,language,account,domain,uid
C1001,Baeckerei Mueller,inhaber@mueller-privat.example,en,alice@customer.example,customer.example,
C1001,Baeckerei Mueller,inhaber@mueller-privat.example,en,bob@customer.example,,
C2002,Fjord Travel Ltd.,it@fjord-travel.example,en,bookings@fjord-travel.example,fjord-travel.example,
EOF
ad directory import "$work/dir.csv" >/dev/null 2>&1 || { echo "FAIL directory import"; exit 1; }
now() { date -R; }
ours() { # account: the spam's Received chain through our submission host
  printf '%s\n' --received \
    "from mx2.out.hoster.example (mx2.out.hoster.example [198.51.100.25]) by mx.recipient.test with ESMTPS id R$RANDOM; $(now)" \
    --received \
    "from [203.0.113.7] (dsl.example.test [203.0.113.7]) (Authenticated sender: $1) by smtp.hoster.example (Postfix) with ESMTPSA id S$RANDOM; $(now)"
}
report() { # template report-from account subject [extra mkcomplaint args...]
  local t=$1 rf=$2 acct=$3 subj=$4; shift 4
  mapfile -t rcv < <(ours "$acct")
  $mkraw "$corpus/$t.eml" --report-from "$rf" --arrival now-20m --date now-25m \
    --source-ip 198.51.100.25 --from "$acct" --subject "$subj" "${rcv[@]}" "$@"
}
incident_of() { sql "SELECT id FROM incidents WHERE subject = '$1' ORDER BY id DESC LIMIT 1"; }
json_field() { ad incident show --json "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }

#!/usr/bin/env bash
# tests/feeds.sh: the health of the providers' report feeds (abusedesk feeds,
# and the reputation monitor's round: rbl check --loop). Reports are put into
# the store with their times (received_at) so that a feed's history of days
# is there at once:
#   aol.com: 100 reports an hour apart, the last 2 days ago: silent (more than
#     feed_silence_factor x its usual interval: 14d / 100 reports, longer than
#     the 1h between them); one alert, once per episode; a new report ends the
#     episode (closed by the monitor's round)
#   bursty.example: 50 reports within an hour, 10 hours ago: its usual interval is
#     14d / 50 (a burst is no pace, its 1 minute gaps would make it silent), ok
#   yahoo.com: 10 reports an hour apart up to an hour ago: ok; then 3 that do
#     not parse: parse-failing, alerted
#   comcast.net: 6 parsed reports, none authenticated: auth-failing
#   gmx.net: nothing: never (no alert)
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
. "$top/tests/lib/sql.sh"
work=$(mktemp -d)
fails=0
cleanup() { if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
. "$top/tests/lib/check.sh" # check, has, hasnt
command -v jq >/dev/null || { echo "FAIL: jq is missing"; exit 1; }

db="$work/var/abusedesk.db"
db_select "$db"
mkdir -p "$work/var"
cat >"$work/abusedesk.conf" <<EOF
[store]
path = $db
[log]
level = info
[network]
our_hosts = *.hoster.example
[policy]
user =
[providers]
aol.com = 1.0 manual
yahoo.com = 1.0 manual
comcast.net = 1.0
gmx.net = 1.0
bursty.example = 1.0
[notify]
templates_dir = $top/etc/templates
abuse_team = abuse-team@hoster.example
from = abuse@hoster.example
team_language = de
[reputation]
feed_silence_factor = 4
feed_baseline = 14d
EOF
ad() { "$bin" -c "$work/abusedesk.conf" "$@"; }
q() { dbq "$db" "$@"; }
ad init >/dev/null || { echo "FAIL init"; exit 1; }
now=$(date +%s)
id=0
report() { # FROM SECONDS-AGO KIND [AUTHENTICATED]: appended to $work/ins.sql
  id=$((id + 1))
  local at
  at=$(date -u -d "@$((now - $2))" +%Y-%m-%dT%H:%M:%SZ)
  echo "INSERT INTO reports (id, sha256, received_at, size, kind, from_addr, parsed, status, processed) VALUES ($id, 'h$id', '$at', 10, '$3', '$1', '{}', 'parsed', 1);" >>"$work/ins.sql"
  if [ -n "${4:-}" ]; then
    echo "INSERT INTO scores (report_id, total, counted, at, terms, authenticated) VALUES ($id, 1, 1, $((now - $2)), '[]', $4);" >>"$work/ins.sql"
  fi
}
flush() { q <"$work/ins.sql" && rm -f "$work/ins.sql"; }
for i in $(seq 0 99); do report "Feedback Loop <scomplaints@aol.com>" $((172800 + i * 3600)) arf 1; done
for i in $(seq 0 9); do report "abuse@yahoo.com" $((3600 + i * 3600)) arf 1; done
for i in $(seq 0 5); do report "fbl@comcast.net" $((600 + i * 600)) arf 0; done
for i in $(seq 0 49); do report "fbl@bursty.example" $((36000 + i * 60)) arf 1; done
flush || { echo "FAIL insert"; exit 1; }

out=$(ad feeds --json)
check "feeds: exit 1 (a feed in trouble)" "$?" 1
st() { jq -r --arg p "$1" "select(.provider == \$p) | .state" <<<"$out"; }
check "aol.com silent" "$(st aol.com)" silent
check "aol.com usual interval 14d/100" "$(jq -r 'select(.provider=="aol.com") | .usual_interval' <<<"$out")" 12096
check "aol.com reports in the baseline" "$(jq -r 'select(.provider=="aol.com") | .reports' <<<"$out")" 100
check "bursty.example: a burst is no pace" "$(st bursty.example):$(jq -r 'select(.provider=="bursty.example") | .usual_interval' <<<"$out")" "ok:24192"
check "yahoo.com ok" "$(st yahoo.com)" ok
check "comcast.net auth-failing" "$(st comcast.net)" auth-failing
check "gmx.net never" "$(st gmx.net)" never
has_re "table" "$(ad feeds)" "aol.com *silent"

ad feeds --alert >/dev/null 2>"$work/alert.log"
check "alerts: aol silent, comcast auth" "$(q "SELECT kind || ':' || subject FROM reputation_alerts WHERE closed_at IS NULL ORDER BY kind" | tr '\n' ' ')" "feed_auth:comcast.net feed_silent:aol.com "
check "team mails: two" "$(q "SELECT COUNT(*) FROM outbox WHERE template='team_feed'")" 2
has_re "team mail (de): silent" "$(q "SELECT subject FROM outbox WHERE template='team_feed'")" "Meldungs-Feed von aol.com: silent"
has_re "log: silence" "$(cat "$work/alert.log")" "feed aol.com: no report for 2.0 days"
ad feeds --alert >/dev/null 2>&1
check "once per episode" "$(q "SELECT COUNT(*) FROM outbox WHERE template='team_feed'")" 2

# aol.com sends again: the monitor's round closes the episode.
report "scomplaints@aol.com" 10 arf 1
flush
ad rbl check --loop 1s --rounds 1 2>"$work/loop.log"
check "monitor round: exit 0" "$?" 0
has_re "monitor: no DNSBL zones, feeds all the same" "$(cat "$work/loop.log")" "only the early warning and the feeds"
check "aol episode closed" "$(q "SELECT CASE WHEN closed_at IS NULL THEN 'open' ELSE 'closed' END FROM reputation_alerts WHERE subject='aol.com'")" closed
check "aol.com ok again" "$(ad feeds --json | jq -r 'select(.provider=="aol.com") | .state')" ok
check "no new mail" "$(q "SELECT COUNT(*) FROM outbox WHERE template='team_feed'")" 2

# yahoo.com's reports stop parsing.
for i in 1 2 3; do report "abuse@yahoo.com" $((30 - i)) unknown; done
flush
check "yahoo.com parse-failing" "$(ad feeds --json | jq -r 'select(.provider=="yahoo.com") | .state')" parse-failing
ad rbl check --loop 1s --rounds 1 2>/dev/null
check "alert: yahoo parse" "$(q "SELECT COUNT(*) FROM reputation_alerts WHERE kind='feed_parse' AND subject='yahoo.com' AND closed_at IS NULL")" 1
check "team mails: three" "$(q "SELECT COUNT(*) FROM outbox WHERE template='team_feed'")" 3

if [ "$fails" -gt 0 ]; then
  echo "feeds: $fails failed"
  exit 1
fi
echo "feeds: all passed"

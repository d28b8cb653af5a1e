#!/usr/bin/env bash
# tests/config_check.sh: `abusedesk config check` refuses each mistake an admin
# makes (found by trying): a missing templates_dir, an empty our_hosts,
# alert_score above lock_score, a negative factor, a From that is no address,
# an empty abuse_team, an unknown [policy] user, a duration without a unit, a
# listen value serve would refuse, a misspelt key (with a suggestion); each
# message names the file's line and the key.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
good() { # a valid base: the example with this checkout's templates and no service user
  sed -e "s#^templates_dir = .*#templates_dir = $top/etc/templates#" -e "s#^user = abusedesk#user =#" \
      -e "s#/var/lib/abusedesk#$work/var#g" "$top/etc/abusedesk.conf"
}
refused() { # name sed-expression want-in-message
  good | sed -e "$2" > "$work/c.conf"
  out=$("$bin" -c "$work/c.conf" config check 2>&1); rc=$?
  if [ "$rc" != 78 ]; then echo "FAIL $1: exit $rc, want 78 ($out)"; fails=$((fails + 1)); return; fi
  if ! grep -q -- "$3" <<<"$out"; then echo "FAIL $1: no '$3' in: $out"; fails=$((fails + 1)); return; fi
  echo "ok   $1"
}
good > "$work/c.conf"
"$bin" -c "$work/c.conf" config check >/dev/null 2>&1
[ $? = 0 ] && echo "ok   the base configuration passes" || { echo "FAIL the base configuration is refused"; fails=$((fails + 1)); }
refused "missing templates_dir" 's#^templates_dir = .*#templates_dir = /nonexistent/templates#' \
  'c.conf:[0-9]*: \[notify\] templates_dir: folder /nonexistent/templates does not exist'
mkdir -p "$work/tpl/de" "$work/tpl/en"; cp "$top"/etc/templates/en/*.txt "$work/tpl/en/"; rm "$work/tpl/en/dismissed.txt"
refused "a template missing in every language" "s#^templates_dir = .*#templates_dir = $work/tpl#" \
  'missing template .*dismissed.txt'
refused "empty our_hosts and our_ips" 's#^our_hosts = .*#our_hosts =#;s#^our_ips = .*#our_ips =#' \
  'c.conf:[0-9]*: \[network\] our_hosts: our_hosts and our_ips are both empty'
refused "alert_score above lock_score" 's#^alert_score = .*#alert_score = 90;40;80#' \
  'c.conf:[0-9]*: \[incidents\] alert_score: 90 is not below lock_score 60'
refused "manual_factor = -1" 's#^manual_factor = .*#manual_factor = -1#' \
  'c.conf:[0-9]*: \[scoring\] manual_factor: -1 is negative'
refused "from = abuse team" 's#^from = .*#from = abuse team#' \
  "c.conf:[0-9]*: \[notify\] from: 'abuse team' is not a mail address"
refused "empty abuse_team" 's#^abuse_team = .*#abuse_team =#' \
  'c.conf:[0-9]*: \[notify\] abuse_team: empty'
refused "unknown [policy] user" 's#^user =.*#user = nosuchuser4711#' \
  "c.conf:[0-9]*: \[policy\] user: no such user 'nosuchuser4711'"
refused "half_life = 72" 's#^half_life = .*#half_life = 72#' \
  "c.conf:[0-9]*: \[scoring\] half_life: '72' needs a unit"
refused "a listen value serve refuses" 's#^listen = .*#listen = inet:127.0.0.1#' \
  "c.conf:[0-9]*: \[policy\] listen: 'inet:127.0.0.1'"
refused "a misspelt key" 's#^manual_factor = #manuel_factor = #' \
  'c.conf:[0-9]*: \[scoring\] manuel_factor: unknown key (did you mean manual_factor?)'
refused "a misspelt group" 's#^\[scoring\]#[scorng]#' \
  'unknown group \[scorng\] (did you mean \[scoring\]?)'
refused "an unknown time zone" 's#^timezone = .*#timezone = Mars/Olympus#' \
  "\[notify\] timezone: 'Mars/Olympus' is not a known time zone"
refused "[milter] enabled = maybe" '/^\[milter\]/,/^\[/s#^enabled = .*#enabled = maybe#' \
  "\[milter\] enabled: expected true or false, got 'maybe'"
refused "[milter] enabled with an unknown user" '/^\[milter\]/,/^\[/{s#^enabled = .*#enabled = true#;s@^#user = .*@user = nosuchuser4712@}' \
  "c.conf:[0-9]*: \[milter\] user: no such user 'nosuchuser4712' on this machine (\[milter\] enabled"
echo "config_check: $fails failed"
[ "$fails" -eq 0 ]

#!/usr/bin/env bash
# tests/web_browser.sh: the dashboard in a real browser: Debian's Chromium
# driven by playwright-core from npm (installed once into a node_modules of
# the build directory). Logs in, works an incident from the queue to resolved
# (lock with the customer's notice, a refused unlock, a forced unlock),
# checks that a forged CSRF token and a viewer's action are refused, that
# nothing loads from elsewhere and the pages fit a phone, and keeps
# screenshots of the queue and an incident page in the build directory
# (web-screenshots/), and with AD_UPDATE_SCREENSHOTS=1 in doc/screenshots/ for
# the README (a run never changes the checkout by itself). SQLite, or
# PostgreSQL as web_browser_pg.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
build=$(cd "$(dirname "$bin")" && pwd)
work=$(mktemp -d)
fails=0
web_pid=
cleanup() {
  web_stop "$web_pid"
  rm -rf "$work"
}
trap cleanup EXIT
for need in node npm /usr/bin/chromium /usr/bin/python3 curl; do
  command -v "$need" >/dev/null || { echo "FAIL $need is missing (make deps)"; exit 1; }
done
pw=$build/web-test
if [ ! -f "$pw/node_modules/playwright-core/package.json" ]; then
  mkdir -p "$pw"
  (cd "$pw" && npm install --no-audit --no-fund --silent playwright-core@1.65.1) \
    || { echo "FAIL npm install playwright-core"; exit 1; }
fi
. "$top/tests/web/setup.sh"
web_start "$conf" "$port" || exit 1
alice=$(inc_of alice@customer.example)
fjord=$(inc_of bookings@fjord-travel.example)
shots=$build/web-screenshots
mkdir -p "$shots"
rm -f "$shots"/*.png
BASE=$base SHOTS=$shots INCIDENT=$alice OTHER_INCIDENT=$fjord PW_AGENT=$pw_agent PW_ADMIN=$pw_admin \
  PW_VIEWER=$pw_viewer PW_MODULE=$pw/node_modules/playwright-core \
  timeout 300 node "$top/tests/web/browser.js"
rc=$?
[ $rc = 0 ] || fails=$((fails + 1))
. "$top/tests/lib/check.sh" # check, has, hasnt
state=$("$bin" -c "$conf" incident show --json "$alice" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
check "after the browser: incident show says resolved" "$state" resolved
check "after the browser: the lock and the forced unlock audited under the agent" \
  "$(dbq "$work/desk.db" "SELECT action FROM audit WHERE incident_id = $alice AND actor = 'agent.smith' AND action IN ('locked', 'note', 'unlocked-forced') ORDER BY id" | tr '\n' ' ')" \
  "locked note unlocked-forced "
check "the forged form and the viewer changed nothing" \
  "$(dbq "$work/desk.db" "SELECT COUNT(*) FROM audit WHERE (actor = 'vera' AND action <> 'web_login') OR detail LIKE '%forged lock%' OR detail LIKE '%viewer tries%'")" 0
for f in queue.png incident.png; do
  if [ -s "$shots/$f" ] && [ "$(head -c 8 "$shots/$f" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
    echo "ok   screenshot $f kept in $shots"
    if [ "${AD_UPDATE_SCREENSHOTS:-0}" = 1 ]; then
      mkdir -p "$top/doc/screenshots" && cp "$shots/$f" "$top/doc/screenshots/$f"
    fi
  else
    echo "FAIL screenshot $f"; fails=$((fails + 1))
  fi
done
echo "web_browser: $([ $fails = 0 ] && echo passed || echo "$fails failed")"
[ $fails = 0 ]

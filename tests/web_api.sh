#!/usr/bin/env bash
# tests/web_api.sh: `abusedesk web`'s REST API, metrics and login with curl
# against the real server on 127.0.0.1 (SQLite, or PostgreSQL as web_api_pg):
# every route and every role; 401 without a valid token, 403 when the role
# does not allow it, 404/405/409/413/422 with a JSON error; an agent's lock
# shows in `incident show` with the agent's name in the audit log and queues
# (does not send) the customer's notice; /metrics parsed by a real Prometheus
# text parser (python3-prometheus-client) and holding every figure; metrics
# from an address outside [web] metrics_allow need a token; the login form's
# CSRF check and rate limit; the secrets of the delivery worker are not in
# the web process's memory.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${AD_BINARY:-$top/build/abusedesk}
work=$(mktemp -d)
fails=0
web_pid= web2_pid= web3_pid=
cleanup() {
  web_stop "$web_pid"
  web_stop "$web2_pid"
  web_stop "$web3_pid"
  rm -rf "$work"
}
trap cleanup EXIT
. "$top/tests/lib/check.sh" # check, has, hasnt
for need in curl /usr/bin/python3; do
  command -v "$need" >/dev/null || { echo "FAIL $need is missing"; exit 1; }
done
/usr/bin/python3 -c 'import prometheus_client.parser' 2>/dev/null \
  || { echo "FAIL python3-prometheus-client is missing (make deps)"; exit 1; }
. "$top/tests/web/setup.sh"
web_start "$conf" "$port" || exit 1

# api METHOD PATH TOKEN [BODY]: sets code and body (the JSON answer).
api() {
  local auth=()
  [ -n "$3" ] && auth=(-H "Authorization: Bearer $3")
  if [ $# -ge 4 ]; then
    code=$(curl -s -o "$work/body" -w '%{http_code}' -X "$1" "${auth[@]}" \
      -H 'Content-Type: application/json' --data-binary "$4" "$base$2")
  else
    code=$(curl -s -o "$work/body" -w '%{http_code}' -X "$1" "${auth[@]}" "$base$2")
  fi
  body=$(cat "$work/body")
}
jq_() { /usr/bin/python3 -c "import json,sys; d=json.loads(sys.stdin.read()); r=($1); print(r)" <<<"$body"; }

alice=$(inc_of alice@customer.example)
carol=$(inc_of carol@cats.example)
fjord=$(inc_of bookings@fjord-travel.example)
check "setup: three incidents" "$([ -n "$alice" ] && [ -n "$carol" ] && [ -n "$fjord" ] && echo yes)" yes

# --- health and the description ---
api GET /healthz ""
check "healthz" "$code $(jq_ "d['status']")" "200 ok"
api GET /api/v1/openapi.json ""
check "openapi: 3.x with every route" "$code $(jq_ "d['openapi'][:2], sorted(d['paths'])")" \
  "200 ('3.', ['/config', '/customers/{customer}', '/domains', '/incidents', '/incidents/{id}', '/incidents/{id}/dismiss', '/incidents/{id}/lock', '/incidents/{id}/note', '/incidents/{id}/notify', '/incidents/{id}/resolve', '/incidents/{id}/unlock', '/locks', '/me', '/rbl', '/reports/{id}', '/users', '/users/{name}/delete'])"

# --- 401 without a valid token, on every route ---
for p in /incidents "/incidents/$alice" /reports/1 /locks /customers/C1001 /rbl /domains /users /me; do
  api GET "/api/v1$p" ""
  check "no token: GET $p 401" "$code $(jq_ "d['status']")" "401 401"
done
api POST "/api/v1/incidents/$alice/lock" "" '{"reason":"x"}'
check "no token: POST lock 401" "$code" 401
api GET /api/v1/incidents "adt_$(printf '0%.0s' $(seq 64))"
check "unknown token: 401" "$code" 401
api GET /api/v1/incidents "garbage"
check "malformed token: 401" "$code" 401
hdr=$(curl -s -D - -o /dev/null "$base/api/v1/incidents" | tr -d '\r' | grep -i '^WWW-Authenticate:')
check "401 names the Bearer scheme" "$hdr" 'WWW-Authenticate: Bearer realm="abusedesk"'

# --- reading: the same as the CLI ---
api GET /api/v1/incidents "$tok_viewer"
cli=$("$bin" -c "$conf" incidents --json | /usr/bin/python3 -c "
import json,sys; print(json.dumps([json.loads(l) for l in sys.stdin], sort_keys=True))")
check "viewer: GET /incidents 200" "$code" 200
check "GET /incidents: the CLI's incidents --json, same keys and values" \
  "$(jq_ "json.dumps(d, sort_keys=True)")" "$cli"
api GET "/api/v1/incidents?kind=account&customer=C1001" "$tok_viewer"
check "filter customer: alice only" "$code $(jq_ "[x['id'] for x in d]")" "200 [$alice]"
api GET "/api/v1/incidents?sort=score&limit=1" "$tok_viewer"
check "sort=score limit=1: the highest" "$(jq_ "[x['id'] for x in d]")" "[$alice]"
api GET "/api/v1/incidents?state=resolved" "$tok_viewer"
check "state=resolved: none yet" "$code $body" "200 []"
api GET "/api/v1/incidents?state=bogus" "$tok_viewer"
check "bad filter value: 422" "$code $(jq_ "'state' in d['error']")" "422 True"
api GET "/api/v1/incidents?colour=red" "$tok_viewer"
check "unknown filter: 422" "$code $(jq_ "'unknown parameter colour' in d['error']")" "422 True"
api GET "/api/v1/incidents?state=%zz" "$tok_viewer"
check "malformed query string: 400" "$code" 400
api GET "/api/v1/incidents/$alice" "$tok_viewer"
check "GET /incidents/ID: the incident show --json object" \
  "$code $(jq_ "d['id'], d['subject'], d['state'], len(d['audit']) > 0")" \
  "200 ($alice, 'alice@customer.example', 'alerted', True)"
check "GET /incidents/ID: equal to incident show --json" \
  "$(jq_ "sorted(d)")" "$("$bin" -c "$conf" incident show --json "$alice" | /usr/bin/python3 -c 'import json,sys; print(sorted(json.load(sys.stdin)))')"
api GET /api/v1/incidents/99999 "$tok_viewer"
check "unknown incident: 404 JSON" "$code $(jq_ "d['status']")" "404 404"
api GET /api/v1/incidents/abc "$tok_viewer"
check "non-numeric id: 404" "$code" 404
rid=$(dbq "$work/desk.db" "SELECT MIN(report_id) FROM incident_reports WHERE incident_id = $alice")
api GET "/api/v1/reports/$rid" "$tok_viewer"
check "GET /reports/ID: explain with terms" \
  "$code $(jq_ "d['report_id'], d['attribution']['subject'], len(d['score']['terms']) > 1, all('key' in t for t in d['score']['terms']), $alice in d['incidents']")" \
  "200 ($rid, 'alice@customer.example', True, True, True)"
check "GET /reports/ID: the CLI's explain --json" "$(jq_ "json.dumps(d['score'], sort_keys=True)")" \
  "$("$bin" -c "$conf" explain --json "$rid" | /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["score"], sort_keys=True))')"
api GET /api/v1/reports/99999 "$tok_viewer"
check "unknown report: 404" "$code" 404
api GET /api/v1/customers/C3003 "$tok_viewer"
check "GET /customers/ID" "$code $(jq_ "d['name'], d['owns']['accounts'], [i['id'] for i in d['incidents']]")" \
  "200 ('Carol <Cats>', ['carol@cats.example'], [$carol])"
api GET /api/v1/customers/C9999 "$tok_viewer"
check "unknown customer: 404" "$code" 404
api GET /api/v1/locks "$tok_viewer"
check "GET /locks: none yet" "$code $body" "200 []"
api GET /api/v1/domains "$tok_viewer"
check "GET /domains: the directory's domains, not audited yet" \
  "$code $(jq_ "[(x['domain'], x['customer_id'], x['audit'], x['dmarc_30d']['reports']) for x in d['domains'] if x['customer_id'] == 'C3003']")" \
  "200 [('cats.example', 'C3003', None, 0)]"
api GET /api/v1/me "$tok_agent"
check "GET /me" "$code $(jq_ "d['name'], d['role']")" "200 ('agent.smith', 'agent')"
api GET /api/v1/users "$tok_viewer"
check "viewer: GET /users 403" "$code" 403
api GET /api/v1/users "$tok_agent"
check "agent: GET /users 403" "$code" 403
api GET /api/v1/users "$tok_admin"
check "admin: GET /users" "$code $(jq_ "sorted((u['name'], u['role']) for u in d)")" \
  "200 [('agent.smith', 'agent'), ('root-admin', 'admin'), ('vera', 'viewer')]"
api GET /api/v1/nothing "$tok_admin"
check "unknown route: 404 JSON" "$code $(jq_ "d['status']")" "404 404"
api GET "/api/v1/incidents/$alice/lock" "$tok_agent"
check "GET on an action: 405" "$code" 405

# --- acting: roles, errors, the audit under the user's name ---
api POST "/api/v1/incidents/$alice/lock" "$tok_viewer" '{"reason":"viewer tries"}'
check "viewer: POST lock 403" "$code $(jq_ "'viewer' in d['error']")" "403 True"
for a in notify note unlock dismiss resolve; do
  api POST "/api/v1/incidents/$alice/$a" "$tok_viewer" '{"reason":"viewer tries"}'
  check "viewer: POST $a 403" "$code" 403
done
check "viewer: nothing changed" "$(dbq "$work/desk.db" "SELECT COUNT(*) FROM audit WHERE actor = 'vera'")" 0
api POST "/api/v1/incidents/$alice/lock" "$tok_agent" '{"reason": '
check "bad JSON: 422" "$code $(jq_ "'JSON' in d['error']")" "422 True"
api POST "/api/v1/incidents/$alice/lock" "$tok_agent" '["reason"]'
check "JSON not an object: 422" "$code" 422
api POST "/api/v1/incidents/$alice/lock" "$tok_agent" '{"reason": 5}'
check "reason not a string: 422" "$code" 422
api POST "/api/v1/incidents/$alice/lock" "$tok_agent" '{"reason":"a","reason":"b"}'
check "duplicate keys: 422" "$code" 422
api POST "/api/v1/incidents/99999/lock" "$tok_agent" '{"reason":"x"}'
check "lock unknown incident: 404" "$code" 404
big=$(head -c 70000 /dev/zero | tr '\0' a)
api POST "/api/v1/incidents/$alice/note" "$tok_agent" "{\"reason\":\"$big\"}"
check "body over max_body: 413" "$code" 413
api POST "/api/v1/incidents/$alice/lock" "$tok_agent" '{"reason":"trojan, per the abuse desk API"}'
check "agent: POST lock 200" "$code $(jq_ "d['by'], d['incident']['state']")" \
  "200 ('agent.smith', 'customer_notified')"
show=$("$bin" -c "$conf" incident show "$alice")
check "incident show: the agent's lock in the audit" \
  "$(grep -cE 'agent\.smith +locked +.*trojan, per the abuse desk API' <<<"$show")" 1
check "locks row: locked by the agent" \
  "$(dbq "$work/desk.db" "SELECT locked_by FROM locks WHERE subject = 'alice@customer.example' AND unlocked_at IS NULL")" agent.smith
check "the customer's notice is queued for the delivery worker, not sent" \
  "$(dbq "$work/desk.db" "SELECT COUNT(*) FROM outbox WHERE incident_id = $alice AND kind = 'customer' AND sent_at IS NULL AND attempts = 0")" 1
api GET /api/v1/locks "$tok_viewer"
check "GET /locks: alice, by the agent" "$(jq_ "[(l['subject'], l['locked_by'], l['incident_id']) for l in d]")" \
  "[('alice@customer.example', 'agent.smith', $alice)]"
api GET "/api/v1/locks?account=nobody@x.example" "$tok_viewer"
check "GET /locks?account= filters" "$body" "[]"
api POST "/api/v1/incidents/$alice/lock" "$tok_agent" '{"reason":"again"}'
check "lock twice: 409" "$code $(jq_ "d['status']")" "409 409"
api POST "/api/v1/incidents/$alice/note" "$tok_agent" '{}'
check "note without text: 422" "$code" 422
api POST "/api/v1/incidents/$alice/note" "$tok_agent" '{"reason":"called the customer: <b>no answer</b>"}'
check "note: 200" "$code" 200
api POST "/api/v1/incidents/$alice/notify" "$tok_agent" '{}'
check "notify again: 200" "$code $(jq_ "d['incident']['state']")" "200 customer_notified"
api POST "/api/v1/incidents/$alice/unlock" "$tok_agent" '{"reason":"no"}'
check "unlock before a new password: 409" "$code $(jq_ "'password' in d['error']")" "409 True"
api POST "/api/v1/incidents/$alice/unlock" "$tok_agent" '{"force": true, "reason":"customer scanned and changed it by phone"}'
check "unlock --force: 200, resolved" "$code $(jq_ "d['incident']['state']")" "200 resolved"
api POST "/api/v1/incidents/$carol/resolve" "$tok_admin" '{"reason":"handled by phone"}'
check "admin: resolve 200" "$code $(jq_ "d['incident']['state']")" "200 resolved"
api POST "/api/v1/incidents/$carol/lock" "$tok_agent" '{"reason":"late"}'
check "lock a resolved incident: 409" "$code" 409
api POST "/api/v1/incidents/$fjord/dismiss" "$tok_agent" '{}'
check "dismiss without a reason: 422" "$code" 422
api POST "/api/v1/incidents/$fjord/dismiss" "$tok_agent" '{"reason":"newsletter, opted in"}'
check "dismiss: 200" "$code $(jq_ "d['incident']['state']")" "200 dismissed"
check "audit: every action under the user's name" \
  "$(dbq "$work/desk.db" "SELECT actor || ':' || action FROM audit WHERE actor IN ('agent.smith', 'root-admin') AND incident_id > 0 ORDER BY id" | tr '\n' ' ')" \
  "agent.smith:locked agent.smith:notify-queued agent.smith:notified agent.smith:note agent.smith:notify-queued agent.smith:notified agent.smith:unlocked-forced agent.smith:notify-queued root-admin:resolve agent.smith:dismissed "
api GET "/api/v1/incidents?state=all&sort=id" "$tok_viewer"
check "GET /incidents?state=all: the states now" "$(jq_ "sorted((x['id'], x['state']) for x in d)")" \
  "[($alice, 'resolved'), ($carol, 'resolved'), ($fjord, 'dismissed')]"

# --- metrics ---
# A policy server on the same store answers a few requests; its figures
# (answers by action, decision times) reach the store within ~5 s.
pport=$(free_port)
puser=
if [ "$(id -u)" = 0 ]; then # serve drops its privileges: to nobody, who must write the store
  puser="user = nobody"
  chown nobody "$work" "$work"/desk.db* 2>/dev/null
fi
{ cat "$work/desk.conf"; printf '[policy]\nlisten = inet:127.0.0.1:%s\nstate_file = %s\n%s\n' "$pport" "$work/policy.state" "$puser"; } \
  > "$work/policy.conf"
"$bin" -c "$work/policy.conf" serve 2>"$work/serve.log" &
serve_pid=$!
/usr/bin/python3 - "$pport" <<'EOF_PY'
import socket, sys, time
for t in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5); break
    except OSError:
        time.sleep(0.05)
for i in range(7):
    s.sendall(("request=smtpd_access_policy\nprotocol_state=RCPT\nsasl_username=m%d@customer.example\n"
               "recipient=r@example.org\ninstance=i%d\n\n" % (i, i)).encode())
    buf = b""
    while not buf.endswith(b"\n\n"):
        buf += s.recv(4096)
EOF_PY
for i in $(seq 1 100); do
  [ "$(dbq "$work/desk.db" "SELECT COUNT(*) FROM policy_stats WHERE stats LIKE '%\"requests\":7%'")" = 1 ] && break
  sleep 0.1
done
kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null
dbq "$work/desk.db" "INSERT INTO rbl_listings (address, zone, codes, listed_at, last_seen) VALUES ('198.51.100.25', 'zen.spamhaus.org', '127.0.0.2', 1700000000, 1700000000)" >/dev/null
dbq "$work/desk.db" "INSERT INTO policy_events (at, account, stage, reason, decided_by) VALUES (1700000000, 'x@customer.example', 'lock', 'volume', 'abusedesk policy')" >/dev/null
code=$(curl -s -o "$work/metrics" -w '%{http_code}' "$base/metrics")
check "metrics from 127.0.0.1 without a token: 200" "$code" 200
ctype=$(curl -s -D - -o /dev/null "$base/metrics" | tr -d '\r' | grep -i '^Content-Type:')
check "metrics: the text format's content type" "$ctype" "Content-Type: text/plain; version=0.0.4; charset=utf-8"
parsed=$(/usr/bin/python3 - "$work/metrics" <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
fams = {}
for f in text_string_to_metric_families(text):
    fams[f.name] = f
def val(name, **labels):
    for s in fams[name].samples:
        if all(s.labels.get(k) == v for k, v in labels.items()):
            return int(s.value)
    return None
need = ["abusedesk_reports", "abusedesk_incidents", "abusedesk_locks", "abusedesk_locks_active",
        "abusedesk_outbox_mails", "abusedesk_outbox_queue_length", "abusedesk_outbox_failures",
        "abusedesk_hook_jobs", "abusedesk_policy_findings", "abusedesk_rbl_listings",
        "abusedesk_rbl_listed", "abusedesk_web_requests", "abusedesk_web_login_failures",
        "abusedesk_up", "abusedesk_policy_answers", "abusedesk_policy_decision_seconds",
        "abusedesk_policy_servers"]
missing = [n for n in need if n not in fams]
print("missing", missing)
print("reports", sum(int(s.value) for s in fams["abusedesk_reports"].samples),
      sum(int(s.value) for s in fams["abusedesk_reports"].samples if s.labels["authenticated"] == "true"),
      sorted({s.labels["authenticated"] for s in fams["abusedesk_reports"].samples} - {"true", "false"}))
print("incidents", val("abusedesk_incidents", state="resolved"), val("abusedesk_incidents", state="dismissed"),
      val("abusedesk_incidents", state="alerted"))
print("locks", val("abusedesk_locks"))
print("outbox", val("abusedesk_outbox_queue_length"), val("abusedesk_outbox_failures"))
print("policy", val("abusedesk_policy_findings", stage="lock", decided_by="abusedesk policy"))
print("rbl", val("abusedesk_rbl_listings", zone="zen.spamhaus.org"), val("abusedesk_rbl_listed"))
print("help", all(f.documentation for f in fams.values()))
h = {s.labels.get("le"): s.value for s in fams["abusedesk_policy_decision_seconds"].samples if s.name.endswith("_bucket")}
cnt = [s.value for s in fams["abusedesk_policy_decision_seconds"].samples if s.name.endswith("_count")]
print("answers", val("abusedesk_policy_answers", action="dunno"), val("abusedesk_policy_answers", action="reject"),
      int(h.get("+Inf", -1)), int(cnt[0]) if cnt else -1, fams["abusedesk_policy_decision_seconds"].type,
      val("abusedesk_policy_servers"))
EOF
)
echo "$parsed" | sed 's/^/     /'
check "metrics: a real parser reads every family" "$(sed -n 1p <<<"$parsed")" "missing []"
check "metrics: reports by kind, authenticated or not" "$(sed -n 2p <<<"$parsed")" \
  "reports $(dbq "$work/desk.db" "SELECT COUNT(*) FROM reports") $(dbq "$work/desk.db" "SELECT COUNT(*) FROM scores WHERE authenticated = 1") []"
check "metrics: incidents by state" "$(sed -n 3p <<<"$parsed")" "incidents 2 1 0"
check "metrics: locks (alice unlocked)" "$(sed -n 4p <<<"$parsed")" "locks 0"
check "metrics: outbox queue length and failures" "$(sed -n 5p <<<"$parsed")" \
  "outbox $(dbq "$work/desk.db" "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed = 0") 0"
check "metrics: policy findings" "$(sed -n 6p <<<"$parsed")" "policy 1"
check "metrics: DNSBL listings" "$(sed -n 7p <<<"$parsed")" "rbl 1 1"
check "metrics: every family documented" "$(sed -n 8p <<<"$parsed")" "help True"
check "metrics: policy answers by action and the decision-time histogram" "$(sed -n 9p <<<"$parsed")" \
  "answers 7 0 7 7 histogram 1"
# A second server that allows /metrics only from elsewhere.
port2=$(free_port)
web_conf "$work/desk2.conf" "$port2" "metrics_allow = 192.0.2.0/24"
web_start "$work/desk2.conf" "$port2" && web2_pid=$web_pid
web_pid=$(pgrep -f -- "-c $conf web" | head -1)
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port2/metrics")
check "metrics outside metrics_allow without a token: 401" "$code" 401
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok_viewer" "http://127.0.0.1:$port2/metrics")
check "metrics outside metrics_allow with a token: 200" "$code" 200

# A third server with TLS of its own ([web] tls_cert, tls_key).
port3=$(free_port)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/tls.key" -out "$work/tls.crt" -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 \
  || { echo "FAIL openssl"; fails=$((fails + 1)); }
web_conf "$work/desk3.conf" "$port3" "tls_cert = $work/tls.crt
tls_key = $work/tls.key"
"$bin" -c "$work/desk3.conf" web > "$work/web3.log" 2>&1 &
web3_pid=$!
for _ in $(seq 1 100); do
  curl -fs --cacert "$work/tls.crt" "https://127.0.0.1:$port3/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/tls.crt" -H "Authorization: Bearer $tok_viewer" "https://127.0.0.1:$port3/api/v1/incidents")
check "TLS: the API over HTTPS with our certificate" "$code" 200
h=$(curl -s -D - -o /dev/null --cacert "$work/tls.crt" "https://127.0.0.1:$port3/login" | tr -d '\r')
check "TLS: cookies Secure, HSTS" \
  "$(grep -ciE '^Set-Cookie: ad_login=.*; HttpOnly; Secure$' <<<"$h") $(grep -ci '^Strict-Transport-Security: max-age=' <<<"$h")" "1 1"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port3/healthz")
check "TLS: no plain HTTP on the TLS port" "$code" 000
web_stop "$web3_pid"

# --- security headers, the login form ---
h=$(curl -s -D - -o /dev/null "$base/login" | tr -d '\r')
check "CSP: nothing but our own style sheet" "$(grep -i '^Content-Security-Policy:' <<<"$h")" \
  "Content-Security-Policy: default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
check "nosniff, DENY, no-store" "$(grep -ciE '^(X-Content-Type-Options: nosniff|X-Frame-Options: DENY|Cache-Control: no-store)$' <<<"$h")" 3
check "login cookie: HttpOnly, SameSite=Strict" "$(grep -ciE '^Set-Cookie: ad_login=[0-9a-f]{64}; Path=/; SameSite=Strict; Max-Age=3600; HttpOnly$' <<<"$h")" 1
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/")
check "pages need a login: redirect" "$code" 303
jar=$work/jar
login() { # USER PASSWORD [CSRF override] -> code
  local page csrf
  page=$(curl -s -c "$jar" -b "$jar" "$base/login")
  csrf=$(grep -o 'name="csrf" value="[0-9a-f]*"' <<<"$page" | head -1 | sed 's/.*value="//; s/"//')
  [ $# -ge 3 ] && csrf=$3
  curl -s -o "$work/login.html" -w '%{http_code}' -c "$jar" -b "$jar" \
    --data-urlencode "csrf=$csrf" --data-urlencode "user=$1" --data-urlencode "password=$2" "$base/login"
}
check "login without the form's CSRF token: 403" "$(login agent.smith "$pw_agent" deadbeef)" 403
check "login with the right password: 303" "$(login agent.smith "$pw_agent")" 303
sc=$(grep -c 'ad_session' "$jar")
check "session cookie set" "$sc" 1
check "session cookie HttpOnly in the jar" "$(grep -c '^#HttpOnly_127.0.0.1.*ad_session' "$jar")" 1
page=$(curl -s -b "$jar" "$base/incidents/$alice")
check "incident page: escaped subject, no raw markup" \
  "$(grep -c '&lt;script&gt;alert(1)&lt;/script&gt;' <<<"$page") $(grep -c '<script>' <<<"$page")" "1 0"
check "incident page: the agent's audit entries" "$(grep -o '<td>agent.smith</td><td>[a-z-]*</td>' <<<"$page" | head -2 | tr '\n' ' ')" \
  "<td>agent.smith</td><td>locked</td> <td>agent.smith</td><td>notify-queued</td> "
code=$(curl -s -o /dev/null -w '%{http_code}' -b "$jar" --data-urlencode "reason=x" "$base/incidents/$fjord/note")
check "UI form without CSRF token: 403" "$code" 403
csrf=$(grep -o 'name="csrf" value="[0-9a-f]*"' <<<"$page" | head -1 | sed 's/.*value="//; s/"//')
code=$(curl -s -o /dev/null -w '%{http_code}' -b "$jar" --data-urlencode "csrf=$csrf" --data-urlencode "reason=from the page" "$base/incidents/$fjord/note")
check "UI form with the session's CSRF token: 303" "$code" 303
check "UI note audited under the user" \
  "$(dbq "$work/desk.db" "SELECT actor FROM audit WHERE action = 'note' AND detail LIKE '%from the page%'")" agent.smith
check "web_login audited" "$(dbq "$work/desk.db" "SELECT COUNT(*) FROM audit WHERE action = 'web_login' AND actor = 'agent.smith'")" 1
page=$(curl -s -b "$jar" "$base/charts")
check "charts page: the policy server's live figures (7 requests, 7 DUNNO)" \
  "$(grep -o "inet:127.0.0.1:$pport</td><td class=\"num\">[0-9]*s</td><td class=\"num\">7</td><td class=\"num\">7</td>" <<<"$page" | wc -l)" 1

# --- users and tokens on the command line ---
u() { "$bin" -c "$conf" user "$@"; }
printf 'x\n' | u add vera --role viewer >/dev/null 2>&1
check "user add: a taken name exits 3" "$?" 3
printf 'x\n' | u add bad/name --role viewer >/dev/null 2>&1
check "user add: a bad name exits 64" "$?" 64
printf 'x\n' | u add newbie --role boss >/dev/null 2>&1
check "user add: an unknown role exits 64" "$?" 64
printf '\n' | u add newbie --role viewer >/dev/null 2>&1
check "user add: an empty password exits 64" "$?" 64
check "user list --json" "$(u list --json | /usr/bin/python3 -c 'import json,sys; print(sorted((d["name"], d["role"], d["tokens"]) for d in map(json.loads, sys.stdin)))')" \
  "[('agent.smith', 'agent', 1), ('root-admin', 'admin', 1), ('vera', 'viewer', 1)]"
check "passwords stored as argon2id hashes only" \
  "$(dbq "$work/desk.db" "SELECT COUNT(*) FROM web_users WHERE pwhash LIKE '\$argon2id\$%' AND pwhash NOT LIKE '%pass-1234%'")" 3
check "tokens stored as digests only" \
  "$(dbq "$work/desk.db" "SELECT COUNT(*) FROM web_tokens WHERE digest = '$tok_agent' OR length(digest) <> 64")" 0
code=$(curl -s -o /dev/null -w '%{http_code}' -b "$work/jar" "$base/")
check "the agent's session works" "$code" 200
printf 'new-agent-pass\n' | u passwd agent.smith >/dev/null
check "user passwd: exit 0" "$?" 0
code=$(curl -s -o /dev/null -w '%{http_code}' -b "$work/jar" "$base/")
check "user passwd: ends the user's sessions" "$code" 303
jar=$work/jar3
check "user passwd: the new password logs in" "$(login agent.smith new-agent-pass)" 303
u del vera >/dev/null
check "user del: exit 0" "$?" 0
api GET /api/v1/incidents "$tok_viewer"
check "user del: its token no longer works" "$code" 401
u del vera >/dev/null 2>&1
check "user del: unknown user exits 66" "$?" 66
"$bin" -c "$conf" token add nobody >/dev/null 2>&1
check "token add: unknown user exits 66" "$?" 66
check "user changes audited" "$(dbq "$work/desk.db" "SELECT action || ':' || detail FROM audit WHERE action LIKE 'user_%' OR action = 'token_add' ORDER BY id" | tr '\n' ' ')" \
  "user_add:root-admin user_add:agent.smith user_add:vera token_add:root-admin token_add:agent.smith token_add:vera user_passwd:agent.smith user_del:vera "

# --- pages: escaping, new since the last visit ---
page=$(curl -s -b "$work/jar3" "$base/customers/C3003")
check "customer page: the name escaped" "$(grep -c 'Carol &lt;Cats&gt;' <<<"$page") $(grep -c '<Cats>' <<<"$page")" "1 0"
rm -f "$work/jar4"
cp "$work/jar3" "$work/jar4"
curl -s -c "$work/jar4" -b "$work/jar4" "$base/?state=all" >/dev/null
check "queue: nothing new right after a visit" "$(curl -s -b "$work/jar4" "$base/?state=all" | grep -c 'badge new')" 0
for t in arf-02 arf-22 arf-25; do complain other@cats.example "New one" "$t"; done
"$bin" -c "$conf" process >/dev/null 2>&1
check "queue: a new incident marked new" "$(curl -s -b "$work/jar4" "$base/?state=all" | grep -c 'badge new')" 1

# --- admin: users and the configuration over the API and the pages ---
api POST /api/v1/users "$tok_agent" '{"name":"zed","role":"viewer","password":"zed-password-1"}'
check "agent: POST /users 403" "$code" 403
api POST /api/v1/users "$tok_admin" '{"name":"zed","role":"boss","password":"zed-password-1"}'
check "admin: POST /users with a bad role 422" "$code" 422
api POST /api/v1/users "$tok_admin" '{"name":"zed","role":"viewer","password":"short"}'
check "admin: POST /users with a short password 422" "$code" 422
api POST /api/v1/users "$tok_admin" '{"name":"zed","role":"viewer","password":"zed-password-1"}'
check "admin: POST /users 201" "$code $(jq_ "d['name'], d['role']")" "201 ('zed', 'viewer')"
api POST /api/v1/users "$tok_admin" '{"name":"zed","role":"viewer","password":"zed-password-1"}'
check "admin: POST /users for a taken name 409" "$code" 409
api POST /api/v1/users/root-admin/delete "$tok_admin"
check "admin: deleting oneself 409" "$code" 409
api POST /api/v1/users/zed/delete "$tok_admin"
check "admin: POST /users/NAME/delete 200" "$code" 200
api POST /api/v1/users/zed/delete "$tok_admin"
check "admin: deleting an unknown user 404" "$code" 404
check "admin's user changes audited under the admin" \
  "$(dbq "$work/desk.db" "SELECT actor || ':' || action || ':' || detail FROM audit WHERE actor = 'root-admin' AND action LIKE 'user_%' ORDER BY id" | tr '\n' ' ')" \
  "root-admin:user_add:zed (viewer) root-admin:user_del:zed "
api GET /api/v1/config "$tok_agent"
check "agent: GET /config 403" "$code" 403
api GET /api/v1/config "$tok_admin"
check "admin: GET /config, secrets hidden (the web process wiped its copies)" \
  "$code $(jq_ "{(v['group'], v['key']): v['value'] for v in d['values']}[('notify', 'password')], {(v['group'], v['key']): v['value'] for v in d['values']}[('act', 'webhook_secret')], {(v['group'], v['key']): v['value'] for v in d['values']}[('web', 'listen')], 'SECRET' in json.dumps(d)")" \
  "200 ('', '', '127.0.0.1:$port', False)"
code=$(curl -s -o /dev/null -w '%{http_code}' -b "$work/jar3" "$base/users")
check "agent's session: the users page 403" "$code" 403

# --- config check refuses a bad [web] ---
web_conf "$work/bad.conf" 70000 "tls_cert = $work/nothing.pem
metrics_allow = 10.0.0.0/33"
bad=$("$bin" -c "$work/bad.conf" config check 2>&1)
check "config check: web listen port" "$(grep -c 'web.*listen' <<<"$bad")" 1
check "config check: tls_cert without tls_key, missing file" "$(grep -cE 'tls_(cert|key)' <<<"$bad")" 2
check "config check: metrics_allow range" "$(grep -c 'metrics_allow' <<<"$bad")" 1

# --- the login rate limit (last: it bars 127.0.0.1 for 15 minutes) ---
jar=$work/jar2
for i in 1 2 3; do login root-admin wrong-password >/dev/null; done
check "login rate limit: the 4th try from one address gets 429" "$(login root-admin "$pw_admin")" 429

# --- the web process holds no secret of the delivery worker ---
pid=$(pgrep -f -- "-c $conf web" | head -1)
if [ -n "$pid" ] && [ -r "/proc/$pid/mem" ]; then
  found=$(/usr/bin/python3 - "$pid" <<'EOF'
import re, sys
pid = sys.argv[1]
hits = 0
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
        if not m or "r" not in m.group(3):
            continue
        a, b = int(m.group(1), 16), int(m.group(2), 16)
        if b - a > 1 << 30:
            continue
        try:
            mem.seek(a)
            chunk = mem.read(b - a)
        except (OSError, ValueError, OverflowError):
            continue
        hits += chunk.count(b"SMTP-SECRET-NOT-FOR-THE-WEB") + chunk.count(b"WEBHOOK-SECRET-NOT-FOR-THE-WEB")
print(hits)
EOF
)
  check "web process memory: no SMTP password, no webhook secret" "$found" 0
else
  echo "FAIL cannot read the web process's memory"; fails=$((fails + 1))
fi

echo "web_api: $([ $fails = 0 ] && echo passed || echo "$fails failed")"
[ $fails = 0 ]

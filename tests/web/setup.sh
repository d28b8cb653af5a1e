# tests/web/setup.sh: sourceable. The common ground of tests/web_api.sh and
# tests/web_browser.sh: a desk with a customer directory, complaints that
# raise incidents at the alert stage (auto_lock off, so that a person acts),
# dashboard users of every role with API tokens, and the functions to start
# `abusedesk web` on a free port of 127.0.0.1. Needs: top, bin, work set by
# the caller. Sets: conf, port, base, tok_admin, tok_agent, tok_viewer,
# pw_admin, pw_agent, pw_viewer, and the functions ad, web_conf, web_start
# (sets web_pid), web_stop, free_port, inc_of.
. "$top/tests/lib/sql.sh"
. "$top/tests/lib/services.sh"
corpus="$(bash "$top/tools/shared-dir.sh")/corpus/arf"
mk="python3 $top/tests/desk/mkcomplaint.py --mx-auth auto"
ad() { ad_services "$bin" "$conf" "$@"; }

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

web_conf() { # FILE PORT [extra [web] lines]
  cat > "$1" <<EOF
[store]
path = $work/desk.db
[intake]
authserv_id = mx.hoster.example
spool_dir = $work/spool
quarantine_dir = $work/quarantine
[log]
level = warning
[network]
our_hosts = *.hoster.example
our_ips = 198.51.100.0/24
[providers]
yahoo.com = 1.0 manual
hotmail.com = 1.0 manual signed_by=hotmail.com
[incidents]
auto_lock = false
# the incidents stay at the alert stage (the spam-run rule would take
# alice's two subjects from two providers to the lock stage)
run_lock_complaints = 0
[act]
password_key_file = $work/pw.key
webhook_url = http://127.0.0.1:9/hook
webhook_secret = WEBHOOK-SECRET-NOT-FOR-THE-WEB
[notify]
smarthost = smtp://127.0.0.1:9
password = SMTP-SECRET-NOT-FOR-THE-WEB
from = abuse@hoster.example
abuse_team = team@hoster.example
templates_dir = $top/etc/templates
team_language = en
[web]
listen = 127.0.0.1:$2
login_attempts = 3
${3:-}
EOF
}

web_start() { # CONF PORT -> web_pid
  "$bin" -c "$1" web > "$work/web-$2.log" 2>&1 &
  web_pid=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$2/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "FAIL web did not start on $2:"; cat "$work/web-$2.log"
  return 1
}

web_stop() { # PID
  [ -n "${1:-}" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null
  return 0
}

port=$(free_port)
base="http://127.0.0.1:$port"
conf="$work/desk.conf"
web_conf "$conf" "$port"
ad init >/dev/null 2>&1 || { echo "FAIL init"; exit 1; }
cat > "$work/dir.csv" <<'EOF'
customer_id,customer_name,contact_email,language,account,domain,uid
C1001,Bäckerei Müller,inhaber@mueller-privat.example,de,alice@customer.example,customer.example,
C2002,Fjord Travel Ltd.,it@fjord-travel.example,en,bookings@fjord-travel.example,fjord-travel.example,10057
C3003,Carol <Cats>,carol@home.example,en,carol@cats.example,cats.example,
EOF
ad directory import "$work/dir.csv" >/dev/null || { echo "FAIL directory import"; exit 1; }

complain() { # account subject template
  local rcv=(--received "from mx2.out.hoster.example (mx2.out.hoster.example [198.51.100.25]) by mx.recipient.test with ESMTPS id R$RANDOM; $(date -R)"
             --received "from [203.0.113.7] (dsl.example.test [203.0.113.7]) (Authenticated sender: $1) by smtp.hoster.example (Postfix) with ESMTPSA id S$RANDOM; $(date -R)")
  $mk "$corpus/$3.eml" --arrival now-20m --date now-25m --source-ip 198.51.100.25 --from "$1" \
    --subject "$2" "${rcv[@]}" | "$bin" -c "$conf" ingest -q --source test
}
for s in "Cheap pills" "<script>alert(1)</script> pills" "Cheap pills"; do
  for t in arf-02 arf-22; do complain alice@customer.example "$s" "$t"; done
done
for t in arf-02 arf-22 arf-25; do complain carol@cats.example "Kittens & more" "$t"; done
for t in arf-02 arf-22 arf-25; do complain bookings@fjord-travel.example "Fjord offer" "$t"; done
"$bin" -c "$conf" process >/dev/null 2>&1

inc_of() { # account -> incident id
  "$bin" -c "$conf" incidents --all --json | /usr/bin/python3 -c "
import json,sys
for l in sys.stdin:
    d=json.loads(l)
    if d['subject']=='$1': print(d['id']); break"
}

pw_admin=admin-pass-1234 pw_agent=agent-pass-1234 pw_viewer=viewer-pass-1234
printf '%s\n' "$pw_admin" | "$bin" -c "$conf" user add root-admin --role admin >/dev/null || echo "FAIL user add admin"
printf '%s\n' "$pw_agent" | "$bin" -c "$conf" user add agent.smith --role agent >/dev/null || echo "FAIL user add agent"
printf '%s\n' "$pw_viewer" | "$bin" -c "$conf" user add vera --role viewer >/dev/null || echo "FAIL user add viewer"
tok_admin=$("$bin" -c "$conf" token add root-admin)
tok_agent=$("$bin" -c "$conf" token add agent.smith)
tok_viewer=$("$bin" -c "$conf" token add vera)

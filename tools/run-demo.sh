#!/usr/bin/env bash
# tools/run-demo.sh: what `make run` starts. Runs abusedesk's main job (intake) on
# the embedded SQLite store with the example configuration, pointed at ./var instead
# of /var/lib/abusedesk: the sample corpus is delivered as a Maildir and ingested,
# one message is piped in as Postfix pipe(8) would, then the result is shown.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${AD_BINARY:-$top/build/abusedesk}
var="$top/var"
corpus="$(bash "$top/tools/shared-dir.sh")/corpus"
mkdir -p "$var"
# A local smarthost for the notifications: Postfix's smtp-sink, dumping every
# mail it receives into var/mail (make deps installs postfix).
# var/mail is kept across runs: a second run sends nothing new (every report
# is a duplicate) and still shows what the first one delivered.
. "$top/tests/lib/smtp_sink.sh"
runpid=
webpid=
stop_all() {
  [ -n "$runpid" ] && kill "$runpid" 2>/dev/null && wait "$runpid" 2>/dev/null
  [ -n "$webpid" ] && kill "$webpid" 2>/dev/null && wait "$webpid" 2>/dev/null
  smtp_sink_stop 2>/dev/null
}
if smtp_sink_start "$var/mail" 2>/dev/null; then
  trap 'rc=$?; set +e; stop_all; exit $rc' EXIT
  smarthost="smtp://127.0.0.1:$SMTP_SINK_PORT"
else
  smarthost="smtp://127.0.0.1:25"
fi
# The dashboard (abusedesk web): 8025, or the next free port.
webport=$(python3 -c '
import socket
for p in range(8025, 8125):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()')
sed -e "s#/var/lib/abusedesk#$var#g" -e "s#^templates_dir = .*#templates_dir = $top/etc/templates#" \
    -e "s#^smarthost = .*#smarthost = $smarthost#" \
    -e "s#^authserv_id =.*#authserv_id = mx.hoster.example#" \
    -e "s#^verify_dkim = .*#verify_dkim = false#" \
    -e "s#^listen = .*#listen = inet:127.0.0.1:10040;unix:$var/policy.sock#" \
    -e "s#^user = abusedesk#user =#" \
    -e "s|^#listen = 127.0.0.1:8025|listen = 127.0.0.1:$webport|" \
    "$top/etc/abusedesk.conf" > "$var/abusedesk.conf"
conf="$var/abusedesk.conf"

echo "== abusedesk: configuration $conf (the example config, paths under ./var)"
"$bin" -c "$conf" config check
"$bin" -c "$conf" init

# The services of one machine: desk worker, delivery worker, policy server.
# (The demo's reports are vouched for by our MX's Authentication-Results, and
# this sandbox has no DNS: verify_dkim is off here.)
# `ingest` (below, as Postfix's pipe(8) runs it) only stores; they do the rest.
echo "== abusedesk run (desk worker, delivery worker, policy server) in the background"
"$bin" -c "$conf" run 2>"$var/run.log" &
runpid=$!
trap 'rc=$?; set +e; stop_all; exit $rc' EXIT
# The dashboard, with a first admin (a new password on every run: it is shown
# only here).
if "$bin" -c "$conf" user list --json | grep -q '"name":"admin"'; then
  login=$("$bin" -c "$conf" user passwd admin --generate-password)
else
  login=$("$bin" -c "$conf" user add admin --role admin --generate-password)
fi
adminpw=${login##*password: }
adminpw=${adminpw%% *}
echo "== abusedesk web (the dashboard, REST API and metrics) on http://127.0.0.1:$webport/"
"$bin" -c "$conf" web >/dev/null 2>"$var/web.log" &
webpid=$!
# Waits until the desk worker has filed every report and the delivery worker
# has sent what could be sent.
settle() {
  for _ in $(seq 1 600); do
    pending=$(sqlite3 "$var/abusedesk.db" "SELECT (SELECT COUNT(*) FROM reports WHERE processed = 0)
      + (SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed = 0 AND attempts = 0)")
    [ "$pending" = 0 ] && return 0
    sleep 0.2
  done
  echo "(the workers are still busy: $pending items left; what follows is the state so far)"
}

maildir="$var/demo-maildir"
rm -rf "$maildir"
mkdir -p "$maildir/new" "$maildir/cur" "$maildir/tmp"
if [ -d "$corpus" ]; then
  n=0
  while IFS= read -r f; do
    n=$((n + 1))
    cp "$f" "$maildir/new/$(date +%s).$n.demo"
  done < <(find "$corpus" -name '*.eml' | sort)
  echo "== delivered $n sample mails from shared/corpus into the Maildir $maildir"
else
  echo "== shared/corpus not found beside the checkout; using tests/golden samples"
  cp "$top"/tests/golden/*.eml "$maildir/new/"
fi

echo "== abusedesk ingest --maildir (the intake job: parse and store each message once)"
"$bin" -c "$conf" ingest --maildir "$maildir" 2>&1 | grep -E "ingest:|quarantined|error" || true
echo "== the same Maildir again: nothing is stored twice"
"$bin" -c "$conf" ingest --maildir "$maildir" 2>&1 | grep -E "ingest:|error" || true

echo "== a complaint piped in as Postfix pipe(8) delivers it (exit status $(
  "$bin" -c "$conf" ingest -q --source postfix-pipe < "$top/tests/golden/arf-compromised.eml"; echo $?))"

echo
echo "== customer directory (etc/directory.example.csv; format in doc/directory.md)"
"$bin" -c "$conf" directory import "$top/etc/directory.example.csv" || true

# Real feedback-loop reports rewritten (tests/desk/mkcomplaint.py) as if the
# reported mails had gone through our hosts (etc/abusedesk.conf [network]).
if [ -d "$corpus/arf" ]; then
  # Reports our MX (mx.hoster.example, [intake] authserv_id) received and
  # vouched for with its Authentication-Results; `mkf` makes forged ones that
  # nobody vouches for.
  mk() { python3 "$top/tests/desk/mkcomplaint.py" --mx-auth auto "$@"; }
  mkf() { python3 "$top/tests/desk/mkcomplaint.py" "$@"; }
  now() { date -R; }
  auth() { printf '%s\n' --received \
    "from mx$2.out.hoster.example (mx$2.out.hoster.example [198.51.100.2$2]) by mx.recipient.test with ESMTPS id D$RANDOM; $(now)" \
    --received \
    "from [203.0.113.77] (dsl-77.example.test [203.0.113.77]) (Authenticated sender: $1) by smtp.hoster.example (Postfix) with ESMTPSA id S$RANDOM; $(now)"; }
  n=0
  # A compromised mailbox: a burst from three providers within the hour.
  for s in "Cheap pills" "Ihr Paket wartet" "Cheap pills" "Rechnung 2026-1187" "Cheap pills" "Ihr Paket wartet" "Cheap pills"; do
    for t in arf-02 arf-22 arf-25; do
      mapfile -t rcv < <(auth info@baeckerei-mueller.example 1)
      mk "$corpus/arf/$t.eml" --arrival now-25m --date now-30m --source-ip 198.51.100.21 \
        --from info@baeckerei-mueller.example --subject "$s" "${rcv[@]}" \
        | "$bin" -c "$conf" ingest -q --source demo && n=$((n + 1))
    done
  done
  # A contact form script on a web host.
  for i in 1 2 3 4; do
    mk "$corpus/arf/arf-02.eml" --arrival now-50m --date now-55m --source-ip 198.51.100.40 \
      --from "wordpress@fjord-travel.example" --subject "Booking confirmation #$i" \
      --received "from web3.hoster.example (web3.hoster.example [198.51.100.40]) by mx.recipient.test with ESMTP id W$i; $(now)" \
      --received "by web3.hoster.example (Postfix, from userid 10057) id X$i; $(now)" \
      --header "X-PHP-Originating-Script: 10057:wp-content/plugins/old-contact-form/send.php" \
      | "$bin" -c "$conf" ingest -q --source demo && n=$((n + 1))
  done
  # One complaint about a mail two months old, and a forged sender (joe job).
  mapfile -t rcv < <(auth verkauf@autohaus-schmidt.example 2)
  mk "$corpus/arf/arf-25.eml" --arrival now-60d --date now-60d --source-ip 198.51.100.22 \
    --from verkauf@autohaus-schmidt.example --subject "Angebot" "${rcv[@]}" \
    | "$bin" -c "$conf" ingest -q --source demo && n=$((n + 1))
  mk "$corpus/arf/arf-02.eml" --arrival now-10m --source-ip 192.0.2.99 \
    --from kanzlei@weber-krause.example --subject "Mahnung" \
    --received "from bot.example.test (unknown [192.0.2.99]) by mx.recipient.test with SMTP id J1; $(now)" \
    | "$bin" -c "$conf" ingest -q --source demo && n=$((n + 1))
  # A forged campaign: complaints "from" Yahoo and AOL that nobody vouches for,
  # with a Received chain that claims our hosts. They can raise an alert, but
  # never lock anyone or mail the customer.
  for i in 1 2 3 4 5 6 7 8; do
    t=arf-02; rf="feedback@arf.mail.yahoo.com"
    [ $((i % 2)) = 0 ] && rf="scomp@aol.net"
    mapfile -t rcv < <(auth kanzlei@weber-krause.example 3)
    mkf "$corpus/arf/$t.eml" --report-from "$rf" --arrival now-20m --date now-21m \
      --source-ip 198.51.100.23 --from kanzlei@weber-krause.example --subject "Forged $i" \
      "${rcv[@]}" | "$bin" -c "$conf" ingest -q --source demo && n=$((n + 1))
  done
  echo "== $n complaints about our customers piped in (abusedesk ingest)"
fi

settle
echo
echo "== the abuse team's queue (abusedesk incidents)"
"$bin" -c "$conf" incidents
first=$("$bin" -c "$conf" incidents --json | head -1 | python3 -c "import json,sys; print(json.loads(sys.stdin.read() or 'null')['id'])" 2>/dev/null || true)
if [ -n "$first" ] && [ "$first" != None ]; then
  echo
  echo "== one incident (abusedesk incident show $first)"
  "$bin" -c "$conf" incident show "$first"
  rep=$(sqlite3 "$var/abusedesk.db" "SELECT report_id FROM incident_reports WHERE incident_id = $first ORDER BY report_id DESC LIMIT 1")
  echo
  echo "== how one complaint was attributed and scored (abusedesk explain $rep)"
  "$bin" -c "$conf" explain "$rep"
fi
forged=$(sqlite3 "$var/abusedesk.db" "SELECT report_id FROM scores WHERE authenticated = 0 AND reporter_how LIKE 'not authenticated%' AND total > 0 ORDER BY report_id DESC LIMIT 1")
if [ -n "$forged" ]; then
  echo
  echo "== side by side: a complaint nobody vouches for (abusedesk explain $forged)"
  "$bin" -c "$conf" explain "$forged"
fi
echo
echo "== what went out (abusedesk outbox --all): notifications to the customers' contact"
echo "   addresses and alerts to the abuse team, through the smarthost $smarthost"
"$bin" -c "$conf" outbox --all
first_mail=$(grep -l "^X-Rcpt-Args: <hans.mueller@mueller-privat.example>" "$var"/mail/msg.* 2>/dev/null | head -1 || true)
if [ -n "$first_mail" ]; then
  echo
  echo "== the notification the bakery received (as delivered to the smarthost, decoded)"
  python3 - "$first_mail" <<'PY'
import email, sys
from email import policy
raw = open(sys.argv[1], "rb").read().split(b"\n")
n = 0
for i, l in enumerate(raw):  # skip smtp-sink's own lines
    if l.startswith(b"\t"):
        n += 1
        if n == 2:
            raw = raw[i + 1:]
            break
m = email.message_from_bytes(b"\n".join(raw), policy=policy.default)
for h in ("From", "To", "Reply-To", "Subject", "Auto-Submitted"):
    print("%s: %s" % (h, m[h]))
print()
print(m.get_body(("plain",)).get_content())
PY
fi
joe=$(sqlite3 "$var/abusedesk.db" "SELECT report_id FROM attributions WHERE reason LIKE '%forged%' AND evidence LIKE '%joe job%' ORDER BY report_id DESC LIMIT 1")
if [ -n "$joe" ]; then
  echo
  echo "== a forged sender is not blamed on the customer (abusedesk explain $joe)"
  "$bin" -c "$conf" explain "$joe" | sed -n '1,12p'
fi

echo
echo "== stored reports by kind"
sqlite3 "$var/abusedesk.db" "SELECT kind, COUNT(*) FROM reports GROUP BY kind ORDER BY 2 DESC;" \
  | column -t -s'|'
echo
echo "== newest feedback-loop complaints (abusedesk reports --kind arf)"
"$bin" -c "$conf" reports --kind arf --limit 8
echo
echo "== reputation-relevant bounces (our hosts refused: blocked, spam, reputation, auth)"
sqlite3 "$var/abusedesk.db" "SELECT json_extract(r.value,'\$.reason') AS reason, COUNT(*)
  FROM reports, json_each(json_extract(parsed,'\$.recipients')) AS r
  WHERE json_extract(r.value,'\$.reason') IN
    ('blocked','spamdetected','badreputation','policyviolation','authfailure','requireptr')
  GROUP BY 1 ORDER BY 2 DESC;" | column -t -s'|'
echo
echo "Database: $var/abusedesk.db   (sqlite3 $var/abusedesk.db)"
echo "Look at one report:  $bin -c $conf report show 1"
echo "The incident queue:  $bin -c $conf incidents     (incident show ID, explain REPORT_ID)"
echo "Lifecycle:           $bin -c $conf incident unlock ID | account password-changed ACCOUNT | outbox"
echo "Parse any mail:      $bin parse FILE.eml"
echo "The services:        $bin -c $conf run        (desk worker, delivery worker, policy server)"
echo
echo "== the dashboard: http://127.0.0.1:$webport/   first admin login: admin / $adminpw"
echo "   API: $bin -c $conf token add admin, then curl -H 'Authorization: Bearer TOKEN' http://127.0.0.1:$webport/api/v1/incidents"
echo "   metrics: curl http://127.0.0.1:$webport/metrics"
# At a terminal the dashboard and the services keep running until Ctrl-C
# (AD_DEMO_KEEP=0: stop at once; AD_DEMO_KEEP=1: keep running without one).
if [ "${AD_DEMO_KEEP:-$([ -t 0 ] && [ -t 1 ] && echo 1 || echo 0)}" = 1 ]; then
  echo "   The dashboard and the services keep running; Ctrl-C stops them."
  wait "$webpid"
else
  echo "   (stopped now: run make run at a terminal to keep them running)"
fi

#!/usr/bin/env bash
# tools/run-demo.sh: what `make run` starts. Runs abusedesk's main job (intake) on
# the embedded SQLite store with the example configuration, pointed at ./var instead
# of /var/lib/abusedesk: the sample corpus is delivered as a Maildir and ingested,
# one message is piped in as Postfix pipe(8) would, then the result is shown.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin="$top/build/abusedesk"
var="$top/var"
corpus="$top/../shared/corpus"
mkdir -p "$var"
sed "s#/var/lib/abusedesk#$var#g" "$top/etc/abusedesk.conf" > "$var/abusedesk.conf"
conf="$var/abusedesk.conf"

echo "== abusedesk: configuration $conf (the example config, paths under ./var)"
"$bin" -c "$conf" config check
"$bin" -c "$conf" init

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
echo "Parse any mail:      $bin parse FILE.eml"

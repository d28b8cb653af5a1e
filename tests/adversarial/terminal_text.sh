#!/usr/bin/env bash
# Attacker-chosen text (subject, From, feedback type, reporter, recipient, excerpt)
# with ESC/CSI/OSC sequences, C1 controls, bidi overrides, CR/LF and template
# placeholders: no raw ESC/C1 may reach any CLI listing; no {{...}} may be expanded
# a second time; no injected header line in a notice.
. "$(dirname "$0")/lib.sh"
ESC=$'\x1b'
evil_subj="${ESC}]8;;https://evil.test${ESC}\\click${ESC}]8;;${ESC}\\ ${ESC}[2J${ESC}[31mRED $(printf '\xc2\x9b')31m C1 {{ticket}} {{contact_email}} $(printf '\xe2\x80\xae')gnp.exe"
enc=$(printf '%s' "$evil_subj" | base64 -w0)
# a genuine (MX-authenticated) complaint about alice, with the evil subject, escalated to lock
for k in 1 2 3 4 5 6; do
  mapfile -t rcv < <(ours alice@customer.example)
  p=$((k % 2)); tpl=(arf-02 arf-25); dom=(arf.mail.yahoo.com senderscore.net); rf=(feedback@arf.mail.yahoo.com feedbackloop@comcastfbl.senderscore.net)
  $mkraw --mx-auth "${dom[$p]}" "$corpus/${tpl[$p]}.eml" --report-from "${rf[$p]}" --arrival now-10m --date now-12m --source-ip 198.51.100.25 \
    --from alice@customer.example --subject "=?UTF-8?B?$enc?=" "${rcv[@]}" \
    | sed "s/^To: someone@recipient.test/To: v$k@recipient.test/" | ad ingest -q --source evil
done
# an anonymous reply with escapes in From display name, subject and body
al=$(incident_of alice@customer.example)
printf 'From: =?UTF-8?B?%s?= <x@attacker.test>\nTo: abuse@hoster.example\nSubject: =?UTF-8?B?%s?= [abusedesk #%s]\nMessage-ID: <e1@attacker.test>\nDate: %s\n\n%s\n' \
  "$enc" "$enc" "$al" "$(now)" "$evil_subj" \
  | { echo "Received: from relay.attacker.test (relay.attacker.test [192.0.2.66]) by mx.hoster.example (Postfix) with ESMTP id M1; $(now)"; cat; } \
  | ad ingest -q --source evil-reply
rid=$(sql "SELECT MIN(id) FROM reports")
for cmd in "incidents" "incidents --all" "incident show $al" "explain $rid" "reports" "report show $rid" "outbox" "directory show C1001"; do
  out=$(ad $cmd 2>&1)
  if printf '%s' "$out" | LC_ALL=C grep -q $'\x1b\|\xc2\x9b'; then bad "raw ESC/C1 in: abusedesk $cmd"; else ok "no raw ESC/C1 in: abusedesk $cmd"; fi
  if printf '%s' "$out" | grep -q $'\xe2\x80\xae'; then bad "raw bidi override in: abusedesk $cmd"; else ok "no raw bidi override in: abusedesk $cmd"; fi
done
ad outbox --flush >/dev/null 2>&1
for f in "$work"/mail/msg.*; do
  [ -f "$f" ] || continue
  if LC_ALL=C grep -q $'\x1b' "$f"; then bad "raw ESC in sent mail $(basename "$f")"; fi
  if grep -q "inhaber@mueller-privat.example C1\|\[abusedesk #$al\] {{" "$f"; then bad "placeholder re-expanded in $(basename "$f")"; fi
done
python3 - "$work"/mail/msg.* <<'EOF'
import sys, email
from email import policy
bad = 0
for p in sys.argv[1:]:
    m = email.message_from_binary_file(open(p, 'rb'), policy=policy.default)
    body = m.get_body(('plain',))
    text = (str(m['Subject']) + '\n' + (body.get_content() if body else ''))
    for ch in ('\x1b', '\u202e', '\u009b'):
        if ch in text:
            print('FAIL decoded mail %s contains %r' % (p.rsplit('/',1)[-1], ch)); bad += 1
    if 'inhaber@mueller-privat.example C1' in text:
        print('FAIL placeholder re-expanded in', p); bad += 1
    if 'https://evil' in text:
        print('FAIL clickable link in', p, m['To']); bad += 1
print('decoded mails checked:', len(sys.argv) - 1)
sys.exit(1 if bad else 0)
EOF
[ $? -eq 0 ] || fails=$((fails + 1))
echo "terminal_text: $fails failed"
[ "$fails" -eq 0 ]

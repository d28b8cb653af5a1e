# tests/lib/postfix.sh: sourceable bash helper that runs a PRIVATE Postfix
# instance on 127.0.0.1 for end-to-end tests of the policy server.
#
# Verified: by hand on Debian 12 (Postfix 3.7.11, swaks 20201014.0, as root),
# not part of the test suite. Shortened transcript:
#   . tests/lib/smtp_sink.sh; . tests/lib/postfix.sh
#   work=$(mktemp -d); chmod 755 "$work"
#   smtp_sink_start "$work/sink"                              # port 54875
#   tests/lib/policy_echo.py "$work/policy.port" "$work/policy.log" &   # 34125
#   postfix_start "$work/postfix" inet:127.0.0.1:34125 54875
#     -> rc 0 in 0.8-1.3 s (7 runs), POSTFIX_PORT=38965; ss -ltnp shows
#        only 127.0.0.1:38965 (master/smtpd), :54875 (smtp-sink), :34125
#   swaks --server 127.0.0.1 --port 38965 --xclient "LOGIN=alice@customer.example" \
#         --from alice@customer.example --to bob@example.org --h-Subject test --body hi
#     -> XCLIENT LOGIN=alice@customer.example / 220 / EHLO again / ...
#        <- 250 2.0.0 Ok: queued as F37D5A729EB          (swaks rc 0)
#     policy.log: {"_conn": 1, "_n": 1, ..., "client_address": "127.0.0.1",
#        "client_name": "unknown", "protocol_state": "RCPT",
#        "recipient": "bob@example.org", "request": "smtpd_access_policy",
#        "sasl_method": "XCLIENT", "sasl_username": "alice@customer.example",
#        "sender": "alice@customer.example", ...}
#     $work/sink/msg.*: X-Rcpt-Args: <bob@example.org> ORCPT=rfc822;bob@example.org
#        Received: from vm (unknown [127.0.0.1]) by test.localdomain (Postfix)
#        with ESMTPA id F37D5A729EB ...   Subject: test ... hi
#     maillog: postfix/smtpd[..]: F37D5A729EB: client=unknown[127.0.0.1],
#        sasl_method=XCLIENT, sasl_username=alice@customer.example
#        postfix/smtp[..]: F37D5A729EB: to=<bob@example.org>,
#        relay=127.0.0.1[127.0.0.1]:54875, ... status=sent (250 2.0.0 Ok)
#   policy_echo.py restarted on the same port with --action "REJECT locked [abusedesk #7]":
#     same swaks -> <** 554 5.7.1 <bob@example.org>: Recipient address rejected:
#        locked [abusedesk #7]                             (swaks rc 24)
#   ... with --action HOLD: same swaks -> 250 2.0.0 Ok: queued as A4A05A724C3
#     maillog: NOQUEUE: hold: RCPT from unknown[127.0.0.1]: <bob@example.org>:
#        Recipient address triggers HOLD action; ...
#     postfix_queue_ids -> A4A05A724C3   (postqueue -j: "queue_name": "hold")
#     nothing new in $work/sink
#   postfix_stop -> rc 0 in 0.06-1.1 s; no process of the instance left.
# Also checked: policy server down -> every RCPT gets "451 4.3.5 <...>:
# Recipient address rejected: Server configuration problem" after 2 tries;
# two recipients and a second session (without XCLIENT: sasl_username "") go
# over ONE policy connection (_conn 1, _n 1..3), so the policy server must
# serve many requests per connection; two instances side by side, stopping one
# leaves the other running; a port taken between picking and binding ->
# "fatal: bind 127.0.0.1 port N: Address already in use" in the log, retried
# on another port (about 4 s); a SIGSTOPped master -> postfix_stop still done
# in 6.4 s; "mail_owner = nosuchuser" -> rc 1 and "postfix: fatal: file
# .../main.cf: parameter mail_owner: unknown user name value: nosuchuser";
# a 0700 parent -> rc 1 with a hint; a reused DIR -> rc 2.
#
#   . "$top/tests/lib/postfix.sh"
#   postfix_start DIR POLICY_ADDR RELAY_PORT [main.cf lines...]
#   swaks --server 127.0.0.1 --port "$POSTFIX_PORT" \
#         --xclient "LOGIN=alice@customer.example" ...
#   postfix_queue_ids      # queue ids in the hold queue, one a line
#   postfix_log            # the instance's log
#   postfix_stop
#
# postfix_start DIR POLICY_ADDR RELAY_PORT [main.cf lines...]
#   DIR: a fresh (empty or missing) absolute or relative directory; made
#     absolute. Holds etc/ (main.cf, master.cf: config_directory), spool/
#     (queue_directory), data/ (data_directory), maillog (the log) and
#     postfix.out (output of postfix(1)). DIR is chmod'ed to 0755 because
#     the master opens DIR/data/master.lock as user postfix; every parent of DIR
#     must be searchable by "postfix" too: /tmp is, a mktemp -d directory (0700)
#     is not, so do  work=$(mktemp -d); chmod 755 "$work"  first.
#   POLICY_ADDR: e.g. inet:127.0.0.1:10040 (or unix:/abs/path). Postfix asks it
#     for EVERY recipient, also from 127.0.0.1:
#       smtpd_recipient_restrictions = check_policy_service POLICY_ADDR,
#                                      permit_mynetworks, reject_unauth_destination
#     (smtpd_relay_restrictions, evaluated first, permit 127.0.0.0/8 but a
#     permit there does not skip smtpd_recipient_restrictions.) All other
#     restriction lists are empty, so the policy sees protocol_state=RCPT.
#     smtpd_policy_service_timeout = 5s; smtpd_policy_service_default_action
#     keeps Postfix's default: when the policy server is down/slow/garbled the
#     client gets "451 4.3.5 Server configuration problem" (after
#     smtpd_policy_service_try_limit = 2 tries, 1s apart).
#   RELAY_PORT: all mail goes to relayhost = [127.0.0.1]:RELAY_PORT (e.g. the
#     smtp-sink of tests/lib/smtp_sink.sh); smtp_dns_support_level = disabled,
#     smtpd_peername_lookup = no (so client_name=unknown in policy requests),
#     mydestination, alias_maps, local_recipient_maps empty: nothing is
#     delivered locally, every domain is relayed.
#   main.cf lines: "name = value" strings applied last with postconf -e, so
#     they override the settings above (e.g. "smtpd_policy_service_timeout =
#     20s", "smtpd_policy_service_default_action = DUNNO").
#   XCLIENT: smtpd_authorized_xclient_hosts = 127.0.0.0/8, so
#     swaks --xclient "LOGIN=alice@customer.example" makes the session
#     SASL-authenticated: the policy request carries
#     sasl_username=alice@customer.example and sasl_method=XCLIENT
#     (smtpd_sasl_auth_enable stays "no"; no SASL backend is needed).
#   smtpd listens on a free port on 127.0.0.1 only (master.cf service
#   "127.0.0.1:PORT inet"; no other inet service; inet_interfaces = 127.0.0.1,
#   inet_protocols = ipv4). Exports POSTFIX_PORT and POSTFIX_DIR; returns 0 once
#   the port accepts connections. On failure it prints why and the tail of the
#   log to stderr, stops whatever was started and returns non-zero. Takes about
#   0.8-1.3 s (mostly the integrity checks of "postfix check" and "start").
#   The readiness probe shows in the log as one "lost connection after
#   CONNECT" session.
#   Runs as root (postfix(1) needs it). /etc/postfix is only read (postfix-files,
#   dynamicmaps.cf); the system Postfix is neither configured nor started.
#
# postfix_stop: "postfix -c DIR/etc stop" (bounded), "abort" if the master still
#   runs, then SIGKILL for any leftover process of THIS instance only (found by
#   MAIL_CONFIG=DIR/etc in /proc/PID/environ, which every Postfix program of the
#   instance inherits, and an executable under /usr/lib/postfix or /usr/sbin).
#   Keeps DIR (remove it yourself). Safe to call twice or after a failed start.
#
# postfix_queue_ids: prints the queue ids of the messages in the hold queue, one
#   a line (postqueue -c DIR/etc -j, queue_name "hold"); nothing when empty.
#   postfix_queue_ids QUEUE lists another queue (incoming, active, deferred).
#   A message held by a policy HOLD action is there as soon as the client got
#   its "250 2.0.0 Ok: queued" answer.
#
# postfix_log: prints DIR/maillog. The log is written by postlogd(8)
#   (maillog_file = DIR/maillog needs maillog_file_prefixes to allow DIR and
#   the "postlog unix-dgram" service in master.cf); lines look like
#   "Mon DD HH:MM:SS test postfix/smtpd[PID]: NOQUEUE: reject: RCPT from ...".
#   postlogd writes asynchronously: poll for a line, do not read once.
#
# Pitfalls found on Debian 12 (Postfix 3.7.11), all handled here:
#   - maillog_file must start with one of maillog_file_prefixes (default
#     "/var, /dev/stdout"): "postfix: fatal: maillog_file value '...' does not
#     match any prefix in maillog_file_prefixes". So maillog_file_prefixes = DIR.
#   - maillog_file needs the postlog service in master.cf, else "postfix check"
#     fails ("missing 'postlog' service in master.cf"). Before postlogd runs,
#     postfix(1) itself appends to the file, so start-up errors are logged too.
#   - A 0700 parent (mktemp -d): "master: fatal: open lock file
#     DIR/data/master.lock: cannot open file: Permission denied"; checked
#     beforehand with runuser -u postfix.
#   - postfix(1) chdirs to queue_directory first: DIR/spool must exist
#     (root 0755). "postfix check" then creates the rest with the right owners
#     (post-install create-missing, from /etc/postfix/postfix-files), no
#     set-permissions needed (that would also chown shared system files).
#   - Postfix re-reads main.cf/master.cf every 300 ms until their mtime is in
#     the past: a just-written main.cf made check + start take 2.9 s instead of
#     0.8 s. Both files get an mtime one minute back.
#   - postfix(1) writes errors to stderr only when it is a terminal, and
#     errors in main.cf come before it knows where to log: a failed "postfix
#     check" printed nothing anywhere. It is re-run on a pty to show why.
#   - On failure "postfix stop" (kill -9 of the process group after 5 s) did
#     not end a SIGSTOPped master here; the leftover sweep does.
#   - chroot is off for every service (a chroot would need copies of
#     /etc/services, resolv.conf etc. under the queue directory).
#   - One instance per shell at a time through POSTFIX_DIR/POSTFIX_PORT; for
#     two, save them after each postfix_start and set POSTFIX_DIR again before
#     postfix_stop/postfix_log/postfix_queue_ids.

_postfix_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# PIDs of processes that belong to the instance with config directory $1:
# Postfix programs (under /usr/lib/postfix or /usr/sbin) with MAIL_CONFIG=$1 in
# their environment (postfix -c sets it; the master passes it on to every
# daemon, see import_environment).
_postfix_pids() {
  local conf=$1 f p exe
  # shellcheck disable=SC2013 # /proc/N/environ: no blanks
  for f in $(grep -lzxF "MAIL_CONFIG=$conf" /proc/[0-9]*/environ 2>/dev/null); do
    p=${f#/proc/}
    p=${p%/environ}
    [ "$p" = "$$" ] && continue
    [ "$p" = "${BASHPID:-}" ] && continue
    exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
    case $exe in
      /usr/lib/postfix/*|/usr/sbin/*) echo "$p" ;;
    esac
  done
}

_postfix_fail() { # message
  echo "postfix_start: $1" >&2
  if [ -n "${POSTFIX_DIR:-}" ]; then
    if [ -s "$POSTFIX_DIR/maillog" ]; then
      echo "postfix_start: last lines of $POSTFIX_DIR/maillog:" >&2
      tail -n 20 "$POSTFIX_DIR/maillog" | sed 's/^/  /' >&2
    fi
    if [ -s "$POSTFIX_DIR/postfix.out" ]; then
      echo "postfix_start: output of postfix(1) ($POSTFIX_DIR/postfix.out):" >&2
      tail -n 20 "$POSTFIX_DIR/postfix.out" | sed 's/^/  /' >&2
    fi
  fi
}

_postfix_master_cf() { # port
  # Columns: service type private unpriv chroot wakeup maxproc command.
  # chroot is "n" everywhere; only the one inet service, on 127.0.0.1.
  cat <<EOF
127.0.0.1:$1 inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

_postfix_main_cf() { # dir policy_addr relay_port
  cat <<EOF
# Written by tests/lib/postfix.sh: a private test instance, 127.0.0.1 only.
compatibility_level = 3.6
queue_directory = $1/spool
data_directory = $1/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $1/maillog
maillog_file_prefixes = $1
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = test.localdomain
mydomain = localdomain
myorigin = \$myhostname
mydestination =
mynetworks = 127.0.0.0/8
local_recipient_maps =
local_transport = error:5.1.1 local delivery is disabled in this test instance
alias_maps =
alias_database =
relayhost = [127.0.0.1]:$3
default_transport = smtp
relay_transport = relay
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtp_connect_timeout = 5s
biff = no
append_dot_mydomain = no
smtpd_authorized_xclient_hosts = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = check_policy_service $2, permit_mynetworks, reject_unauth_destination
smtpd_policy_service_timeout = 5s
# smtpd_policy_service_default_action: Postfix's default (451 4.3.5 ...)
EOF
}

postfix_start() {
  local dir=$1 policy=$2 relay=$3 conf port try i rc
  if [ $# -lt 3 ] || [ -z "$dir" ] || [ -z "$policy" ] || [ -z "$relay" ]; then
    echo "postfix_start: usage: postfix_start DIR POLICY_ADDR RELAY_PORT [main.cf lines...]" >&2
    return 2
  fi
  shift 3
  if [ "$(id -u)" != 0 ]; then
    echo "postfix_start: must run as root" >&2
    return 2
  fi
  case $relay in
    *[!0-9]*) echo "postfix_start: RELAY_PORT must be a number: $relay" >&2; return 2 ;;
  esac
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd -P) || return 1
  if [ -e "$dir/etc" ] || [ -e "$dir/spool" ]; then
    echo "postfix_start: $dir is not fresh (has etc/ or spool/)" >&2
    return 2
  fi
  conf=$dir/etc
  export POSTFIX_DIR=$dir
  chmod 0755 "$dir" || return 1
  # The master opens DIR/data/master.lock as user postfix; it cannot when a
  # parent of DIR is not searchable (mktemp -d makes 0700 directories).
  if ! runuser -u postfix -- test -x "$dir"; then
    _postfix_fail "user postfix cannot reach $dir: a parent directory is not searchable by others (for work=\$(mktemp -d) do chmod 755 \"\$work\")"
    return 1
  fi
  # postfix(1) chdirs to queue_directory before anything else, so it must
  # exist (root:root 0755 as in postfix-files); "postfix check" creates the rest.
  mkdir -p "$conf" || return 1
  mkdir -m 0755 "$dir/spool" || return 1
  _postfix_main_cf "$dir" "$policy" "$relay" >"$conf/main.cf" || return 1
  if [ $# -gt 0 ]; then
    touch -d '-1 minute' "$conf/main.cf" || return 1 # see below
    if ! postconf -c "$conf" -e "$@" >>"$dir/postfix.out" 2>&1; then
      _postfix_fail "bad main.cf lines: $*"
      return 2
    fi
  fi
  : >"$dir/maillog"

  for try in 1 2 3 4 5; do
    port=$(_postfix_free_port) || return 1
    _postfix_master_cf "$port" >"$conf/master.cf" || return 1
    # Postfix re-reads a config file (sleeping 300 ms each time) until its
    # mtime lies in the past, to avoid reading a file that is being edited;
    # a just-written main.cf cost >1 s per postfix/postconf call.
    touch -d '-1 minute' "$conf/main.cf" "$conf/master.cf" || return 1
    if [ "$try" = 1 ]; then
      # Also creates the queue directories (post-install create-missing).
      if ! timeout 60 postfix -c "$conf" check >>"$dir/postfix.out" 2>&1; then
        # postfix(1) prints to stderr only when that is a terminal, and an
        # error in main.cf is found before it knows where to log: run it
        # again on a pseudo terminal to show why.
        timeout 60 python3 -c 'import pty, sys; pty.spawn(sys.argv[1:])' </dev/null \
          postfix -c "$conf" check 2>&1 | tr -d '\r' | awk 1 >>"$dir/postfix.out"
        _postfix_fail "postfix -c $conf check failed"
        return 1
      fi
    fi
    timeout 60 postfix -c "$conf" start >>"$dir/postfix.out" 2>&1
    rc=$?
    if [ "$rc" = 0 ]; then
      # master -w returns once the master has opened its listeners; wait
      # until the port really answers anyway.
      for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
          export POSTFIX_PORT=$port
          return 0
        fi
        sleep 0.05
      done
    fi
    postfix_stop >/dev/null 2>&1
    export POSTFIX_DIR=$dir
    # Retry with another port only when someone else took this one in the
    # meantime (our master is gone now, so a listener there is not ours).
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
  done
  _postfix_fail "Postfix did not start (postfix start exit $rc, port $port)"
  unset POSTFIX_PORT
  return 1
}

postfix_stop() {
  local dir=${POSTFIX_DIR:-} conf pids i
  [ -n "$dir" ] || return 0
  conf=$dir/etc
  if [ -f "$conf/main.cf" ] && [ -s "$dir/spool/pid/master.pid" ]; then
    # "stop" waits up to 5 s for the master, then kills its process group.
    if timeout 15 /usr/lib/postfix/sbin/master -c "$conf" -t 2>/dev/null; then
      : # not running
    else
      timeout 15 postfix -c "$conf" stop >/dev/null 2>&1
      if ! timeout 15 /usr/lib/postfix/sbin/master -c "$conf" -t 2>/dev/null; then
        timeout 15 postfix -c "$conf" abort >/dev/null 2>&1
      fi
    fi
  fi
  for i in $(seq 1 50); do
    pids=$(_postfix_pids "$conf")
    [ -z "$pids" ] && break
    if [ "$i" -ge 10 ]; then
      # shellcheck disable=SC2086
      kill -9 $pids 2>/dev/null
    fi
    sleep 0.1
  done
  if [ -n "$pids" ]; then
    echo "postfix_stop: processes of $conf still running: $pids" >&2
    unset POSTFIX_PORT
    return 1
  fi
  unset POSTFIX_PORT
  return 0
}

postfix_queue_ids() {
  local queue=${1:-hold}
  if [ -z "${POSTFIX_DIR:-}" ]; then
    echo "postfix_queue_ids: no instance (POSTFIX_DIR unset)" >&2
    return 2
  fi
  local out
  out=$(timeout 30 postqueue -c "$POSTFIX_DIR/etc" -j) || return 1
  printf '%s\n' "$out" | python3 -c '
import json, sys
for line in sys.stdin:
    line = line.strip()
    if line:
        m = json.loads(line)
        if m.get("queue_name") == sys.argv[1]:
            print(m["queue_id"])
' "$queue"
}

postfix_log() {
  if [ -z "${POSTFIX_DIR:-}" ]; then
    echo "postfix_log: no instance (POSTFIX_DIR unset)" >&2
    return 2
  fi
  cat "$POSTFIX_DIR/maillog"
}

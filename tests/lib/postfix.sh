# tests/lib/postfix.sh: sourceable bash helper that runs a PRIVATE Postfix
# instance on 127.0.0.1 for end-to-end tests of the policy server.
#
# Verified: (see the block at the end of this comment)
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
#     (queue_directory), data/ (data_directory) and maillog (the log). DIR is
#     chmod'ed to 0755 (mktemp -d makes 0700) because the Postfix daemons run as
#     user postfix and must reach DIR/spool; every parent of DIR must be
#     searchable by "postfix" too (/tmp is).
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
#   a second (most of it "postfix check"/"postfix start" integrity checks).
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
#     "/var, /dev/stdout"), else postlogd refuses it and nothing is logged.
#   - maillog_file needs the postlog service in master.cf, else "postfix check"
#     fails ("missing 'postlog' service in master.cf").
#   - mktemp -d gives 0700; the daemons (user postfix) then cannot chdir to the
#     queue and the master dies at start.
#   - "postfix start" itself creates the queue directories with the right
#     owners (post-install create-missing from /etc/postfix/postfix-files); no
#     set-permissions is needed (it would also chown shared system files).
#   - chroot is off for every service (a chroot would need copies of
#     /etc/services, resolv.conf etc. under the queue directory).
#
# Verified: see the end of this comment block (filled in after the manual run).

_postfix_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# PIDs of processes that belong to the instance with config directory $1.
_postfix_pids() {
  local conf=$1 p exe
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = "$$" ] && continue
    [ "$p" = "${BASHPID:-}" ] && continue
    exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
    case $exe in
      /usr/lib/postfix/*|/usr/sbin/*) ;;
      *) continue ;;
    esac
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
        grep -qxF "MAIL_CONFIG=$conf"; then
      echo "$p"
    fi
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
  local dir=$1 policy=$2 relay=$3 conf port try i line rc
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
  if ! runuser -u postfix -- test -x "$dir"; then
    _postfix_fail "user postfix cannot reach $dir (a parent directory is not searchable)"
    return 1
  fi
  # postfix(1) chdirs to queue_directory before anything else, so it must
  # exist (root:root 0755 as in postfix-files); "postfix check" creates the rest.
  mkdir -p "$conf" || return 1
  mkdir -m 0755 "$dir/spool" || return 1
  _postfix_main_cf "$dir" "$policy" "$relay" >"$conf/main.cf" || return 1
  for line in "$@"; do
    if ! postconf -c "$conf" -e "$line" >>"$dir/postfix.out" 2>&1; then
      _postfix_fail "bad main.cf line: $line"
      return 2
    fi
  done
  : >"$dir/maillog"

  for try in 1 2 3 4 5; do
    port=$(_postfix_free_port) || return 1
    _postfix_master_cf "$port" >"$conf/master.cf" || return 1
    if [ "$try" = 1 ]; then
      # Also creates the queue directories (post-install create-missing).
      if ! timeout 60 postfix -c "$conf" check >>"$dir/postfix.out" 2>&1; then
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
    # Port taken by someone else in the meantime, or a real failure: clean up
    # and retry with another port; the last failure is reported below.
    postfix_stop >/dev/null 2>&1
    export POSTFIX_DIR=$dir
  done
  _postfix_fail "Postfix did not start (postfix start exit $rc)"
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
    if [ "$i" -ge 20 ]; then
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
  timeout 30 postqueue -c "$POSTFIX_DIR/etc" -j | python3 -c '
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

# tests/lib/smtp_sink.sh: sourceable bash helper that runs Postfix's smtp-sink(1)
# on 127.0.0.1 as a smarthost for tests.
#
#   . "$top/tests/lib/smtp_sink.sh"
#   smtp_sink_start DIR [smtp-sink options...]   # e.g. -f RCPT (5xx), -r RCPT (4xx)
#   ... send to smtp://127.0.0.1:$SMTP_SINK_PORT ...
#   smtp_sink_stop
#
# smtp_sink_start picks a free port (asks the kernel for one, retries when
# another process took it first), starts smtp-sink in the background, waits
# until it accepts connections and exports SMTP_SINK_PORT, SMTP_SINK_PID and
# SMTP_SINK_DIR; it returns non-zero when smtp-sink would not start. Its own
# messages go to DIR/smtp-sink.log. smtp_sink_stop sends SIGTERM and waits for
# the process. Extra options are passed to smtp-sink unchanged; see "man
# smtp-sink": -f CMDS answers CMDS with 500 5.3.0, -r CMDS with 450 4.3.0, -Q
# CMDS with 421 and a disconnect (CMDS: CONNECT, EHLO, MAIL, RCPT, DATA, "." ...).
#
# Dumps: one file per message, DIR/msg.<hex id>, complete before smtp-sink
# answers the final "." (so a client that got 250 can read it at once). A file
# for a transaction that did not reach "." may exist or vanish; ignore it. Lines
# end in LF. The file is:
#   X-Client-Addr: 127.0.0.1
#   X-Client-Proto: ESMTP
#   X-Helo-Args: <the EHLO argument>
#   X-Mail-Args: <sender@example>          the MAIL FROM argument, with <>
#   X-Rcpt-Args: <rcpt@example>            one line per RCPT TO, in order
#   Received: from <helo> ([127.0.0.1])
#   <TAB>by smtp-sink (smtp-sink) with ESMTP id <hex id>;
#   <TAB><date>
#   <the message's header and body as sent, dot stuffing undone>
#   <one empty line>
# so the message starts after the second line that begins with a TAB. smtp-sink
# drops every CR byte of the DATA stream, so a dump cannot show whether the
# client sent CRLF; check that on the wire if it matters. The envelope
# recipient: grep '^X-Rcpt-Args: ' FILE | sed 's/^X-Rcpt-Args: <\(.*\)>.*/\1/'
# (the argument may carry ESMTP parameters after the >, e.g. NOTIFY=...).

smtp_sink_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

smtp_sink_start() {
  local dir=$1 port pid try i
  shift
  if [ -z "$dir" ]; then
    echo "smtp_sink_start: usage: smtp_sink_start DIR [options]" >&2
    return 2
  fi
  mkdir -p "$dir" || return 1
  # As root smtp-sink insists on -u; stay root so that it can write into DIR.
  local user=()
  [ "$(id -u)" = 0 ] && user=(-u root)
  for try in 1 2 3 4 5; do
    port=$(smtp_sink_free_port) || return 1
    /usr/sbin/smtp-sink "${user[@]}" "$@" -d "$dir/msg." "127.0.0.1:$port" 64 \
      </dev/null >>"$dir/smtp-sink.log" 2>&1 &
    pid=$!
    for i in $(seq 1 100); do
      if ! kill -0 "$pid" 2>/dev/null; then
        break # exited: port taken or bad option; see the log
      fi
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        export SMTP_SINK_PORT=$port SMTP_SINK_PID=$pid SMTP_SINK_DIR=$dir
        return 0
      fi
      sleep 0.05
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  echo "smtp_sink_start: smtp-sink did not start, see $dir/smtp-sink.log" >&2
  return 1
}

smtp_sink_stop() {
  if [ -n "${SMTP_SINK_PID:-}" ]; then
    kill "$SMTP_SINK_PID" 2>/dev/null
    # wait only works for our own children; otherwise poll until it is gone.
    wait "$SMTP_SINK_PID" 2>/dev/null
    local i
    for i in $(seq 1 50); do
      kill -0 "$SMTP_SINK_PID" 2>/dev/null || break
      sleep 0.05
    done
  fi
  unset SMTP_SINK_PORT SMTP_SINK_PID
}

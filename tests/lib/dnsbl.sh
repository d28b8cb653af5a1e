# tests/lib/dnsbl.sh: sourceable bash helper that serves DNS blocklists
# (DNSBLs) from a real DNS server, rbldnsd(8) with its ip4set (IPv4) and
# ip6trie (IPv6) datasets, on 127.0.0.1 at a random free UDP port; and a
# "black hole" resolver in front of it that forwards every query except those
# for the zones it is told to drop (a list that does not answer).
#
#   . "$top/tests/lib/dns.sh"      # dns_query (used to wait for reloads)
#   . "$top/tests/lib/dnsbl.sh"
#   dnsbl_list zen.spamhaus.org 127.0.0.2 127.0.0.2 "SBL test point"
#   dnsbl_list zen.spamhaus.org 192.0.2.10 127.0.0.2 "Listed: see https://..."
#   dnsbl_list zen.spamhaus.org 2001:db8::25 127.0.0.3
#   dnsbl_zone empty.example               # a zone with no entries
#   dnsbl_start DIR                        # exports DNSBL_PORT, DNSBL_PID
#   dnsbl_unlist zen.spamhaus.org 192.0.2.10 && dnsbl_reload
#   dnsbl_blackhole_start dead.example     # exports DNSBL_PROXY_PORT
#   dnsbl_stop
#
# dnsbl_list ZONE ADDRESS CODE [TEXT] lists ADDRESS (IPv4, IPv6 or a CIDR
# range) on ZONE with the A answer CODE (127.x.y.z, or anything: a test may
# want a wrong answer) and the TXT answer TEXT (none when empty; no '$', which
# rbldnsd replaces with the address, no ':' at the start, one line). Listing
# an address again with another CODE gives several A answers. dnsbl_unlist
# ZONE ADDRESS removes every entry of ADDRESS. Both only record the data:
# after dnsbl_start, call dnsbl_reload for the server to see it.
#
# dnsbl_start DIR writes DIR/ZONE.ip4, ZONE.ip6 and ZONE.gen (a serial
# number, serial.ZONE TXT, that dnsbl_reload waits for) for every zone, starts
# rbldnsd in the foreground (-n, no automatic reloads: -c 0) in the background
# of this shell on a random port (retrying when it is taken), waits until it
# answers, and exports DNSBL_PORT, DNSBL_PID, DNSBL_DIR. As root it runs as
# DNS_USER (default rbldns, else nobody) chrooted into DIR (-r), which must be
# a directory of its own; DIR and the files are made world-readable. rbldnsd's
# messages go to DIR/rbldnsd.log. dnsbl_stop is chained before the EXIT trap.
#
# dnsbl_reload rewrites the files with a new serial, sends SIGHUP and waits
# until every zone serves the new serial.
#
# dnsbl_blackhole_start ZONE... starts a small UDP forwarder (python3) on a
# random port of 127.0.0.1 that relays queries to the rbldnsd of dnsbl_start
# and its answers back, but never answers queries for names under the given
# zones; exports DNSBL_PROXY_PORT and DNSBL_PROXY_PID (stopped by dnsbl_stop).
#
# All functions return non-zero, saying why on stderr, when something is
# missing or will not start.

DNSBL_RBLDNSD=${DNSBL_RBLDNSD:-/usr/sbin/rbldnsd}
DNSBL_ENTRIES=()   # "ZONE<TAB>ADDRESS<TAB>CODE<TAB>TEXT"
DNSBL_ZONES=()
DNSBL_SERIAL=0

_dnsbl_add_zone() {
  local z=${1,,} have
  for have in "${DNSBL_ZONES[@]}"; do
    [ "$have" = "$z" ] && return 0
  done
  DNSBL_ZONES+=("$z")
}

dnsbl_zone() {
  local z
  for z in "$@"; do
    if ! [[ ${z%.} =~ ^[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})+$ ]]; then
      echo "dnsbl_zone: bad zone '$z'" >&2
      return 2
    fi
    _dnsbl_add_zone "${z%.}"
  done
}

dnsbl_list() {
  if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    echo "dnsbl_list: usage: dnsbl_list ZONE ADDRESS CODE [TEXT]" >&2
    return 2
  fi
  local zone=${1%.} addr=$2 code=$3 text=${4:-}
  dnsbl_zone "$zone" || return 2
  case $text in
    *'$'* | *$'\n'* | *$'\t'*)
      echo "dnsbl_list: TEXT must be one line without '\$' or tabs" >&2
      return 2
      ;;
  esac
  if ! [[ $addr =~ ^[0-9A-Fa-f.:]+(/[0-9]{1,3})?$ ]] || ! [[ $code =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]]; then
    echo "dnsbl_list: bad address or code '$addr' '$code'" >&2
    return 2
  fi
  DNSBL_ENTRIES+=("${zone,,}"$'\t'"$addr"$'\t'"$code"$'\t'"$text")
}

dnsbl_unlist() {
  local zone=${1%.} addr=$2 e z a keep=()
  zone=${zone,,}
  for e in "${DNSBL_ENTRIES[@]}"; do
    IFS=$'\t' read -r z a _ <<<"$e"
    if [ "$z" = "$zone" ] && [ "$a" = "$addr" ]; then
      continue
    fi
    keep+=("$e")
  done
  DNSBL_ENTRIES=("${keep[@]}")
}

# Writes the zone files of every zone (atomically, each with a new mtime).
_dnsbl_write() {
  local dir=$1 z e ez addr code text f
  DNSBL_SERIAL=$((DNSBL_SERIAL + 1))
  for z in "${DNSBL_ZONES[@]}"; do
    {
      echo "# tests/lib/dnsbl.sh: IPv4 entries of $z"
      for e in "${DNSBL_ENTRIES[@]}"; do
        IFS=$'\t' read -r ez addr code text <<<"$e"
        [ "$ez" = "$z" ] && [[ $addr != *:* ]] || continue
        printf '%s :%s:%s\n' "$addr" "$code" "$text"
      done
    } >"$dir/.$z.ip4.tmp" || return 1
    {
      echo "# tests/lib/dnsbl.sh: IPv6 entries of $z"
      for e in "${DNSBL_ENTRIES[@]}"; do
        IFS=$'\t' read -r ez addr code text <<<"$e"
        [ "$ez" = "$z" ] && [[ $addr == *:* ]] || continue
        [[ $addr == */* ]] || addr="$addr/128"
        printf '%s :%s:%s\n' "$addr" "$code" "$text"
      done
    } >"$dir/.$z.ip6.tmp" || return 1
    printf 'serial TXT "s%s"\n' "$DNSBL_SERIAL" >"$dir/.$z.gen.tmp" || return 1
    for f in ip4 ip6 gen; do
      chmod 0644 "$dir/.$z.$f.tmp" || return 1
      touch -d "@$((1000000000 + DNSBL_SERIAL))" "$dir/.$z.$f.tmp" || return 1
      mv -f "$dir/.$z.$f.tmp" "$dir/$z.$f" || return 1
    done
  done
}

# True when every zone serves the current serial.
_dnsbl_serves_serial() {
  local z want
  want=$(printf 's%s' "$DNSBL_SERIAL" | od -An -v -tx1 | tr -d ' \n')
  for z in "${DNSBL_ZONES[@]}"; do
    DNS_PORT=$DNSBL_PORT DNS_DIR=$DNSBL_DIR dns_query "serial.$z" TXT >/dev/null 2>&1 || return 1
    [[ $DNS_REPLY_HEX == *"$want"* ]] || return 1
  done
}

dnsbl_start() {
  local dir=$1
  if [ -z "$dir" ] || [ ${#DNSBL_ZONES[@]} -eq 0 ]; then
    echo "dnsbl_start: usage: dnsbl_start DIR (after dnsbl_list or dnsbl_zone)" >&2
    return 2
  fi
  if ! declare -F dns_query >/dev/null; then
    echo "dnsbl_start: source tests/lib/dns.sh first (dns_query)" >&2
    return 2
  fi
  if [ ! -x "$DNSBL_RBLDNSD" ]; then
    echo "dnsbl_start: $DNSBL_RBLDNSD not found (apt-get install rbldnsd)" >&2
    return 1
  fi
  mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
  DNSBL_DIR=$dir
  _dnsbl_write "$dir" || return 1
  local opts=() prefix=$dir/ user z
  if [ "$(id -u)" = 0 ]; then
    user=${DNS_USER:-}
    if [ -z "$user" ]; then
      if getent passwd rbldns >/dev/null 2>&1; then user=rbldns; else user=nobody; fi
    fi
    chmod 0755 "$dir" || return 1
    opts=(-u "$user" -r "$dir")
    prefix=
  fi
  local specs=()
  for z in "${DNSBL_ZONES[@]}"; do
    specs+=("$z:ip4set:$prefix$z.ip4" "$z:ip6trie:$prefix$z.ip6" "$z:generic:$prefix$z.gen")
  done
  local port pid attempt _
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + RANDOM % 12000))
    "$DNSBL_RBLDNSD" -n -c 0 "${opts[@]}" -b "127.0.0.1/$port" "${specs[@]}" \
      </dev/null >>"$dir/rbldnsd.log" 2>&1 &
    pid=$!
    export DNSBL_PORT=$port DNSBL_DIR=$dir
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      if _dnsbl_serves_serial; then
        export DNSBL_PID=$pid
        local prev
        prev=$(trap -p EXIT)
        if [ -n "$prev" ]; then
          eval "set -- $prev"
          # shellcheck disable=SC2064 # the earlier trap's text, now
          trap "dnsbl_stop; $3" EXIT
        else
          trap dnsbl_stop EXIT
        fi
        return 0
      fi
      sleep 0.05
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    grep -q -i -e 'address already in use' -e 'unable to bind' "$dir/rbldnsd.log" || break
  done
  unset DNSBL_PORT
  echo "dnsbl_start: rbldnsd did not start ($attempt attempts), see $dir/rbldnsd.log:" >&2
  tail -n 5 "$dir/rbldnsd.log" >&2
  return 1
}

dnsbl_reload() {
  if [ -z "${DNSBL_PID:-}" ]; then
    echo "dnsbl_reload: no server" >&2
    return 2
  fi
  _dnsbl_write "$DNSBL_DIR" || return 1
  kill -HUP "$DNSBL_PID" 2>/dev/null || {
    echo "dnsbl_reload: rbldnsd (pid $DNSBL_PID) is gone, see $DNSBL_DIR/rbldnsd.log" >&2
    return 1
  }
  local _
  for _ in $(seq 1 100); do
    _dnsbl_serves_serial && return 0
    sleep 0.05
  done
  echo "dnsbl_reload: rbldnsd did not serve the new data, see $DNSBL_DIR/rbldnsd.log" >&2
  return 1
}

dnsbl_blackhole_start() {
  if [ -z "${DNSBL_PORT:-}" ]; then
    echo "dnsbl_blackhole_start: call dnsbl_start first" >&2
    return 2
  fi
  local portfile="$DNSBL_DIR/.proxy-port" _
  rm -f "$portfile"
  python3 - "$DNSBL_PORT" "$portfile" "$@" >>"$DNSBL_DIR/proxy.log" 2>&1 <<'PY' &
import os, select, socket, sys

upstream = int(sys.argv[1])
portfile = sys.argv[2]
drop = [z.lower().rstrip('.') for z in sys.argv[3:]]

def qname(pkt):
    """The question name of a DNS message, lower case, or None."""
    labels, i = [], 12
    while i < len(pkt):
        n = pkt[i]
        if n == 0:
            return '.'.join(labels).lower(), pkt[12:i + 1]
        if n & 0xc0:
            return None, None
        labels.append(pkt[i + 1:i + 1 + n].decode('ascii', 'replace'))
        i += 1 + n
    return None, None

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', 0))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.connect(('127.0.0.1', upstream))
with open(portfile + '.tmp', 'w') as f:
    f.write(str(s.getsockname()[1]))
os.rename(portfile + '.tmp', portfile)
pending = {}
while True:
    r, _, _ = select.select([s, u], [], [])
    if s in r:
        pkt, addr = s.recvfrom(65535)
        name, raw = qname(pkt)
        if name is None or any(name == z or name.endswith('.' + z) for z in drop):
            continue
        pending[(pkt[:2], raw)] = addr
        u.send(pkt)
    if u in r:
        try:
            pkt = u.recv(65535)
        except OSError:
            continue
        _, raw = qname(pkt)
        addr = pending.pop((pkt[:2], raw), None)
        if addr:
            s.sendto(pkt, addr)
PY
  DNSBL_PROXY_PID=$!
  export DNSBL_PROXY_PID
  for _ in $(seq 1 100); do
    if [ -s "$portfile" ]; then
      DNSBL_PROXY_PORT=$(cat "$portfile")
      export DNSBL_PROXY_PORT
      return 0
    fi
    kill -0 "$DNSBL_PROXY_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "dnsbl_blackhole_start: the forwarder did not start, see $DNSBL_DIR/proxy.log" >&2
  return 1
}

dnsbl_stop() {
  local pid=${DNSBL_PROXY_PID:-}
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  pid=${DNSBL_PID:-}
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = rbldnsd ]; then
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    local _
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  unset DNSBL_PORT DNSBL_PID DNSBL_PROXY_PORT DNSBL_PROXY_PID
}

# tests/lib/dns.sh: sourceable bash helper that serves TXT (and A) records from
# a real DNS server, rbldnsd(8) with "generic" datasets, on 127.0.0.1 at a
# random free UDP port, for tests that need real DNS answers (DKIM keys, ...).
#
#   . "$top/tests/lib/dns.sh"
#   dns_add_txt sel1._domainkey.example.org "v=DKIM1; k=rsa; p=MIGf..."
#   dns_add_a   host.example.org 192.0.2.1
#   dns_start DIR example.org [example.net ...]   # one zone per argument
#   ... query 127.0.0.1:$DNS_PORT ...
#   dns_query sel1._domainkey.example.org          # prints "NOERROR 1"
#   dns_add_txt late._domainkey.example.org "..."  # after start: reloads
#   dns_stop
#
# dns_add_txt NAME TEXT / dns_add_a NAME IPV4 record a fully qualified NAME
# (no trailing dot) inside one of the zones given to dns_start later. Several
# records for one name give several RRs. TEXT is served as ONE character-string
# exactly as given (rbldnsd's generic dataset does no escape processing and
# cannot split a TXT record into several strings), so it must not contain a
# newline and must be at most 255 bytes: a 1024-bit DKIM key record
# ("v=DKIM1; k=rsa; p=" + 216 base64 bytes) fits, a 2048-bit one does not.
# Called after dns_start, they rewrite the zone files and reload the server
# (see dns_reload). They return non-zero on a bad argument.
#
# dns_start DIR ZONE... writes DIR/ZONE.zone for every ZONE, picks a random
# UDP port (retrying when rbldnsd cannot bind it), starts rbldnsd in the
# foreground (-n) in the background of this shell, waits until it answers, and
# exports DNS_PORT, DNS_PID and DNS_DIR. rbldnsd's own messages go to
# DIR/rbldnsd.log. It registers dns_stop on EXIT (chained before any EXIT trap
# already set) unless DNS_NO_TRAP=1, for callers that leave the server running
# beyond the shell (a C test that reaps it by DNS_PID). Only one server per
# shell. With DNS_WATCH_PID=PID, a background watchdog also stops rbldnsd
# once process PID is gone (a test process that crashed before its teardown).
# Returns non-zero (and says why on stderr) when rbldnsd is missing or will
# not start.
#   rbldnsd refuses to run as root: as root it is started with -u $DNS_USER
#   (default: rbldns if that user exists, else nobody) and -r DIR (chroot), so
#   DIR is made world-readable (0755, zone files 0644) and must be a directory
#   of its own; its parents may stay private. As another user it runs as is.
#   Automatic reloads are off (-c 0): the zone changes only through
#   dns_reload. No -f: reloads are synchronous, so DNS_PID is the only process.
#
# dns_reload rewrites the zone files (atomically, with a fresh mtime each time,
# since rbldnsd reloads only files whose mtime changed), sends SIGHUP and waits
# until the last added record is served.
#
# dns_query NAME [TYPE] sends one query (TYPE: TXT (default) or A) to
# 127.0.0.1:$DNS_PORT using bash's /dev/udp and prints "RCODE ANCOUNT" (e.g.
# "NOERROR 1", "NXDOMAIN 0", "REFUSED 0"); the raw reply, as lower-case hex
# without spaces, is left in DNS_REPLY_HEX. Returns non-zero when no reply
# arrives within 1 s. Needs only bash and coreutils (od, dd, timeout).
#
# dns_stop sends SIGTERM to DNS_PID (only when that process is rbldnsd), waits
# for it (SIGKILL after 5 s), and unsets DNS_PORT and DNS_PID.

DNS_RBLDNSD=${DNS_RBLDNSD:-/usr/sbin/rbldnsd}
DNS_RECORDS=()

_dns_name_ok() {
  local name=$1
  [ ${#name} -ge 1 ] && [ ${#name} -le 253 ] || return 1
  [[ $name =~ ^[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})*$ ]]
}

_dns_add() {
  local name=$1 type=$2 value=$3
  DNS_RECORDS+=("$name"$'\t'"$type"$'\t'"$value")
  if [ -n "${DNS_PID:-}" ]; then
    dns_reload
  fi
}

dns_add_txt() {
  if [ $# -ne 2 ]; then
    echo "dns_add_txt: usage: dns_add_txt NAME TEXT" >&2
    return 2
  fi
  local name=${1%.} text=$2
  if ! _dns_name_ok "$name"; then
    echo "dns_add_txt: bad name '$1'" >&2
    return 2
  fi
  case $text in
    *$'\n'* | *$'\r'*)
      echo "dns_add_txt: $name: TEXT must be one line" >&2
      return 2
      ;;
  esac
  local bytes
  bytes=$(LC_ALL=C; printf '%s' "$text" | wc -c)
  if [ "$bytes" -gt 255 ]; then
    echo "dns_add_txt: $name: TEXT has $bytes bytes, rbldnsd serves at most 255" >&2
    return 2
  fi
  _dns_add "$name" TXT "$text"
}

dns_add_a() {
  if [ $# -ne 2 ]; then
    echo "dns_add_a: usage: dns_add_a NAME IPV4" >&2
    return 2
  fi
  local name=${1%.} ip=$2
  if ! _dns_name_ok "$name" || ! [[ $ip =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]]; then
    echo "dns_add_a: bad name or address '$1' '$2'" >&2
    return 2
  fi
  _dns_add "$name" A "$ip"
}

# dns_add_mx NAME PRIORITY HOST: an MX record (HOST fully qualified, no trailing dot).
dns_add_mx() {
  if [ $# -ne 3 ] || ! _dns_name_ok "${1%.}" || ! [[ $2 =~ ^[0-9]{1,5}$ ]] || ! _dns_name_ok "${3%.}"; then
    echo "dns_add_mx: usage: dns_add_mx NAME PRIORITY HOST" >&2
    return 2
  fi
  _dns_add "${1%.}" MX "$2 ${3%.}"
}

# The zone among DNS_ZONES that holds NAME (the longest suffix), or nothing.
_dns_zone_of() {
  local name=${1,,} zone best=
  for zone in "${DNS_ZONES[@]}"; do
    zone=${zone,,}
    if [ "$name" = "$zone" ] || [ "${name%".$zone"}" != "$name" ]; then
      [ ${#zone} -gt ${#best} ] && best=$zone
    fi
  done
  printf '%s' "$best"
}

# Writes DIR/ZONE.zone for every zone; each file is replaced atomically and
# gets an mtime that no earlier version had (see dns_reload).
_dns_write_zones() {
  local dir=$1 zone rec name type value rel z
  DNS_SERIAL=$(( ${DNS_SERIAL:-0} + 1 ))
  for zone in "${DNS_ZONES[@]}"; do
    z=${zone,,}
    {
      echo "# written by tests/lib/dns.sh for zone $z"
      for rec in "${DNS_RECORDS[@]}"; do
        IFS=$'\t' read -r name type value <<<"$rec"
        [ "$(_dns_zone_of "$name")" = "$z" ] || continue
        name=${name,,}
        if [ "$name" = "$z" ]; then
          rel=@
        else
          rel=${name%".$z"}
        fi
        if [ "$type" = TXT ]; then
          printf '%s TXT "%s"\n' "$rel" "$value"
        elif [ "$type" = MX ]; then
          printf '%s MX %s\n' "$rel" "$value"
        else
          printf '%s A %s\n' "$rel" "$value"
        fi
      done
    } >"$dir/.$z.zone.tmp" || return 1
    chmod 0644 "$dir/.$z.zone.tmp" || return 1
    # 2001-09-09 plus the serial: always a new mtime, even within a second.
    touch -d "@$((1000000000 + DNS_SERIAL))" "$dir/.$z.zone.tmp" || return 1
    mv -f "$dir/.$z.zone.tmp" "$dir/$z.zone" || return 1
  done
}

dns_query() {
  local name=${1%.} type=${2:-TXT} qtype label labels fmt
  if [ -z "${DNS_PORT:-}" ] || [ -z "${DNS_DIR:-}" ]; then
    echo "dns_query: no server (call dns_start first)" >&2
    return 2
  fi
  if ! _dns_name_ok "$name"; then
    echo "dns_query: bad name '$1'" >&2
    return 2
  fi
  case ${type^^} in
    TXT) qtype='\x00\x10' ;;
    A) qtype='\x00\x01' ;;
    *)
      echo "dns_query: unsupported type $type" >&2
      return 2
      ;;
  esac
  # Header: id "AB", RD, one question.
  fmt='\x41\x42\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00'
  IFS=. read -ra labels <<<"$name"
  for label in "${labels[@]}"; do
    fmt+=$(printf '\\x%02x' ${#label})$label
  done
  fmt+="\\x00$qtype\\x00\\x01"
  # Through a file: printf to a socket may write a line at a time, and every
  # write is a datagram of its own.
  # shellcheck disable=SC2059 # fmt is the packet, written as \xHH escapes
  printf "$fmt" >"$DNS_DIR/.query" || return 1
  DNS_REPLY_HEX=$(
    exec 3<>"/dev/udp/127.0.0.1/$DNS_PORT" || exit 1
    cat "$DNS_DIR/.query" >&3
    timeout 1 dd bs=65536 count=1 status=none <&3 | od -An -v -tx1 | tr -d ' \n'
  )
  [ ${#DNS_REPLY_HEX} -ge 24 ] || return 1
  local rcode=$((16#${DNS_REPLY_HEX:7:1})) ancount=$((16#${DNS_REPLY_HEX:12:4})) rname
  case $rcode in
    0) rname=NOERROR ;;
    1) rname=FORMERR ;;
    2) rname=SERVFAIL ;;
    3) rname=NXDOMAIN ;;
    4) rname=NOTIMP ;;
    5) rname=REFUSED ;;
    *) rname=RCODE$rcode ;;
  esac
  echo "$rname $ancount"
}

# True when a query for the last record added returns its value.
_dns_serves_last() {
  local n=${#DNS_RECORDS[@]} name type value want
  [ "$n" -gt 0 ] || return 0
  IFS=$'\t' read -r name type value <<<"${DNS_RECORDS[n - 1]}"
  dns_query "$name" "$type" >/dev/null || return 1
  if [ "$type" = TXT ]; then
    want=$(printf '%s' "$value" | od -An -v -tx1 | tr -d ' \n')
  else
    # shellcheck disable=SC2086 # one argument per octet
    want=$(printf '%02x' ${value//./ })
  fi
  [[ $DNS_REPLY_HEX == *"$want"* ]]
}

dns_reload() {
  if [ -z "${DNS_PID:-}" ]; then
    echo "dns_reload: no server" >&2
    return 2
  fi
  _dns_write_zones "$DNS_DIR" || return 1
  kill -HUP "$DNS_PID" 2>/dev/null || {
    echo "dns_reload: rbldnsd (pid $DNS_PID) is gone, see $DNS_DIR/rbldnsd.log" >&2
    return 1
  }
  local _
  for _ in $(seq 1 100); do
    _dns_serves_last && return 0
    sleep 0.05
  done
  echo "dns_reload: rbldnsd did not serve the new data, see $DNS_DIR/rbldnsd.log" >&2
  return 1
}

# A background watchdog: stops rbldnsd (pid $2) once process $1 is gone, and
# ends by itself once rbldnsd is. Detached from our stdio, so that a caller
# reading our output to its end does not wait for it.
_dns_watch() {
  local owner=$1 pid=$2
  (
    while kill -0 "$owner" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do
      sleep 0.5
    done
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = rbldnsd ]; then
      kill "$pid" 2>/dev/null
    fi
  ) </dev/null >/dev/null 2>&1 &
}

dns_start() {
  local dir=$1
  shift || true
  if [ -z "$dir" ] || [ $# -lt 1 ]; then
    echo "dns_start: usage: dns_start DIR ZONE..." >&2
    return 2
  fi
  if [ -n "${DNS_PID:-}" ]; then
    echo "dns_start: a server is already running (pid $DNS_PID)" >&2
    return 2
  fi
  if [ ! -x "$DNS_RBLDNSD" ]; then
    echo "dns_start: $DNS_RBLDNSD not found (apt-get install rbldnsd)" >&2
    return 1
  fi
  local zone rec name type value
  DNS_ZONES=()
  for zone in "$@"; do
    zone=${zone%.}
    if ! _dns_name_ok "$zone"; then
      echo "dns_start: bad zone '$zone'" >&2
      return 2
    fi
    DNS_ZONES+=("$zone")
  done
  for rec in "${DNS_RECORDS[@]}"; do
    IFS=$'\t' read -r name type value <<<"$rec"
    if [ -z "$(_dns_zone_of "$name")" ]; then
      echo "dns_start: $name is in none of the zones $*" >&2
      return 2
    fi
  done
  mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
  DNS_DIR=$dir
  _dns_write_zones "$dir" || return 1

  # As root: chroot into DIR and drop to an unprivileged user, who must be
  # able to read the zone files there (also on reload).
  local opts=() prefix=$dir/ user
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
  for zone in "${DNS_ZONES[@]}"; do
    specs+=("${zone,,}:generic:$prefix${zone,,}.zone")
  done

  local port pid attempt _
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    # Below Linux's ephemeral range (32768-60999), so that client sockets
    # rarely hold it; rbldnsd exits when the port is taken and we try again.
    port=$((20000 + RANDOM % 12000))
    "$DNS_RBLDNSD" -n -c 0 "${opts[@]}" -b "127.0.0.1/$port" "${specs[@]}" \
      </dev/null >>"$dir/rbldnsd.log" 2>&1 &
    pid=$!
    export DNS_PORT=$port DNS_DIR=$dir
    for _ in $(seq 1 100); do
      if ! kill -0 "$pid" 2>/dev/null; then
        break # exited: port taken or bad data; see the log
      fi
      if dns_query "${DNS_ZONES[0]}" TXT >/dev/null 2>&1; then
        export DNS_PID=$pid
        if [ -n "${DNS_WATCH_PID:-}" ]; then
          _dns_watch "$DNS_WATCH_PID" "$pid"
        fi
        if [ "${DNS_NO_TRAP:-}" != 1 ]; then
          local prev
          prev=$(trap -p EXIT)
          if [ -n "$prev" ]; then
            eval "set -- $prev"
            # shellcheck disable=SC2064 # the earlier trap's text, now
            trap "dns_stop; $3" EXIT
          else
            trap dns_stop EXIT
          fi
        fi
        return 0
      fi
      sleep 0.05
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if ! grep -q -i -e 'address already in use' -e 'unable to bind' "$dir/rbldnsd.log"; then
      break # not a port clash: trying other ports will not help
    fi
  done
  unset DNS_PORT
  echo "dns_start: rbldnsd did not start ($attempt attempts), see $dir/rbldnsd.log:" >&2
  tail -n 5 "$dir/rbldnsd.log" >&2
  return 1
}

dns_stop() {
  local pid=${DNS_PID:-}
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = rbldnsd ]; then
    kill "$pid" 2>/dev/null
    # wait only works for our own children; otherwise poll until it is gone.
    wait "$pid" 2>/dev/null
    local _
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    fi
  fi
  unset DNS_PORT DNS_PID
}

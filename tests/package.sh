#!/usr/bin/env bash
# The Debian package and `make install` on the real machine (root; CI runs on a
# throwaway one): `make deb` builds the package from debian/ (dpkg-buildpackage,
# nothing of the suite run inside), `dpkg -i` installs it, then: the abusedesk
# system user, /var/lib/abusedesk 0750 abusedesk:abusedesk, the conffile
# /etc/abusedesk/abusedesk.conf 0640 root:abusedesk that `abusedesk config check`
# accepts as root and as abusedesk, the templates under
# /usr/share/abusedesk/templates, every systemd unit accepted by
# `systemd-analyze verify` and none enabled; each unit's ExecStart started as
# the abusedesk user (the policy server on the packaged port, 10040); a private
# Postfix with the master.cf snippet (etc/postfix/master.cf.abusedesk) and the
# policy service delivers a complaint through pipe(8) into the package's
# database; the policy server started as root drops to [policy] user. Then
# `dpkg --purge` leaves no file of the package, no user, no data. Finally
# `make install` / `make uninstall` into a DESTDIR and for real
# (PREFIX=/usr/local). The machine is restored whatever happens (trap): the
# package purged, the user and the folders of the real install removed, a
# /var/lib/abusedesk that was there before put back.
#
# Nothing is skipped: a missing tool or not being root fails the test with
# the reason. The suite's other tests use $AD_BINARY and never the installed
# program. Two runs (package, package_pg) take turns on a lock.
set -uo pipefail
src=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
# Under tests/lib/with_pg.sh the store would be PostgreSQL whatever the file
# says: the package is checked with its own configuration (SQLite).
unset ABUSEDESK_STORE_BACKEND ABUSEDESK_STORE_CONNINFO
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
pass=0 fail=0
check() { # check NAME WANT GOT
  if [ "$2" = "$3" ]; then pass=$((pass + 1)); else echo "FAIL $1: got '$3', want '$2'"; fail=$((fail + 1)); fi
}
contains() { # contains NAME NEEDLE HAYSTACK
  case "$3" in *"$2"*) pass=$((pass + 1)) ;; *) echo "FAIL $1: '$2' not in: $3"; fail=$((fail + 1)) ;; esac
}
lacks() { # lacks NAME NEEDLE HAYSTACK
  case "$3" in *"$2"*) echo "FAIL $1: '$2' in: $3"; fail=$((fail + 1)) ;; *) pass=$((pass + 1)) ;; esac
}
die() { echo "package: FAIL: $*"; echo "package: $pass passed, $((fail + 1)) failed"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root: it installs the package with dpkg -i and purges it (CI runs as root)"
missing=
for t in make cmake dpkg-buildpackage dpkg-parsechangelog dh dpkg-deb dpkg-query systemd-analyze systemd-tmpfiles \
         systemd-sysusers systemctl adduser deluser runuser flock postfix postconf swaks python3 \
         setpriv timeout cmp stat getent; do
  command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
[ -z "$missing" ] || die "missing tools:$missing (make deps installs debhelper, systemd, postfix, swaks)"

# One run at a time (package and package_pg under ctest -j).
mkdir -p /run/lock
exec 9>/run/lock/abusedesk-package-test.lock
flock -w 900 9 || die "another package test held /run/lock/abusedesk-package-test.lock for 15 minutes"

# Never destroy a real installation.
present() { dpkg-query -W -f='${Status}' abusedesk 2>/dev/null | grep -Eq ' (installed|config-files|half-.*|unpacked|triggers-.*)$'; }
present &&
  die "the abusedesk package is installed here; this test installs and purges it: dpkg --purge abusedesk first"
getent passwd abusedesk >/dev/null && die "a user abusedesk exists; this test creates and removes it: remove it first (deluser --system abusedesk)"
getent group abusedesk >/dev/null && die "a group abusedesk exists; this test creates and removes it: remove it first (delgroup abusedesk)"
for p in /etc/abusedesk /usr/bin/abusedesk /usr/local/bin/abusedesk /usr/local/share/abusedesk /run/abusedesk; do
  [ -e "$p" ] && die "$p exists; this test installs and removes it: remove it first"
done

work=$(mktemp -d)
chmod 755 "$work" # Postfix (user postfix) must reach its instance below it
varlib_saved=
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  [ -n "${POSTFIX_DIR:-}" ] && postfix_stop >/dev/null 2>&1
  if present; then
    dpkg --purge --force-remove-reinstreq abusedesk >>"$work/cleanup.log" 2>&1 || echo "package: cleanup: dpkg --purge abusedesk failed"
  fi
  # The real `make install`.
  if [ -e /usr/local/bin/abusedesk ] || [ -e /usr/local/share/abusedesk ]; then
    make -C "$src" uninstall PREFIX=/usr/local >>"$work/cleanup.log" 2>&1
  fi
  rm -rf /etc/abusedesk /run/abusedesk /var/lib/abusedesk
  getent passwd abusedesk >/dev/null && userdel abusedesk 2>/dev/null
  getent group abusedesk >/dev/null && groupdel abusedesk 2>/dev/null
  [ -n "$varlib_saved" ] && mv "$varlib_saved" /var/lib/abusedesk
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# A /var/lib/abusedesk without package or user (a run of the program as root
# with its built-in defaults) would be taken over and purged: kept aside.
if [ -e /var/lib/abusedesk ]; then
  varlib_saved=/var/lib/abusedesk.before-package-test.$$
  mv /var/lib/abusedesk "$varlib_saved" || die "cannot move /var/lib/abusedesk aside"
fi

version=$(sed -n 's/^project(abusedesk VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || die "no project(abusedesk VERSION ...) in CMakeLists.txt"

# ---- debian/ is in step with the build --------------------------------------------
# The changelog's version is the CMake project's, and every -dev package `make
# deps` installs is a Build-Depends (except those only tests and fuzzing need).
debver=$(cd "$src" && dpkg-parsechangelog -S Version)
check "debian/changelog version = CMake project version" "$version" "${debver%%-*}"
deps=$(printf 'ad-print-deps:\n\t@echo $(DEB_PACKAGES)\n' | make -s -C "$src" -f Makefile -f - ad-print-deps)
[ -n "$deps" ] || die "cannot read DEB_PACKAGES from the Makefile"
bdeps=$(sed -n '/^Build-Depends:/,/^[A-Z][A-Za-z-]*:/p' "$src/debian/control" | sed '$d')
for p in $deps; do
  case $p in
    libcmocka-dev | libclang-rt-*-dev) continue ;; # unit tests, fuzzing
    *-dev | cmake | pkg-config) contains "Build-Depends has $p (Makefile DEB_PACKAGES)" "$p" "$bdeps" ;;
  esac
done

# ---- make deb ------------------------------------------------------------------------
start=$SECONDS
if ! make -C "$src" deb DIST="$work/dist" DEB_BUILD_DIR="$work/debbuild" JOBS=2 >"$work/make-deb.log" 2>&1; then
  tail -n 40 "$work/make-deb.log"
  die "make deb failed"
fi
echo "package: make deb took $((SECONDS - start)) s"
deb=$work/dist/abusedesk_${debver}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || die "make deb made no $deb: $(ls "$work/dist")"
contains "package build ran no tests" "nocheck" "$(grep -i 'dh_auto_test\|nocheck' "$work/debbuild/dpkg-buildpackage.log")"
lacks "package build ran no ctest" "Test project" "$(cat "$work/debbuild/dpkg-buildpackage.log")"
files=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
for f in /usr/bin/abusedesk /etc/abusedesk/abusedesk.conf /usr/share/man/man1/abusedesk.1.gz \
         /usr/share/doc/abusedesk/copyright /usr/share/doc/abusedesk/examples/master.cf.abusedesk \
         /usr/lib/sysusers.d/abusedesk.conf /usr/lib/tmpfiles.d/abusedesk.conf; do
  contains "package has $f" "$f" "$files"
done
lacks "package has nothing under /usr/local" "/usr/local" "$files"
check "conffiles" "/etc/abusedesk/abusedesk.conf" "$(dpkg-deb -I "$deb" conffiles)"
contains "Depends from shlibs" "libsqlite3" "$(dpkg-deb -f "$deb" Depends)"
units="abusedesk.target abusedesk-policy.service abusedesk-desk.service abusedesk-delivery.service abusedesk-maintenance.service abusedesk-maintenance.timer abusedesk-purge.service abusedesk-purge.timer"
units="$units abusedesk-reputation.service abusedesk-web.service abusedesk-milter.service"

# ---- dpkg -i ------------------------------------------------------------------------------
dpkg -i "$deb" >"$work/dpkg-i.log" 2>&1
rc=$?
check "dpkg -i exit" 0 "$rc"
[ "$rc" = 0 ] || { cat "$work/dpkg-i.log"; die "dpkg -i failed"; }
check "installed" "install ok installed" "$(dpkg-query -W -f='${Status}' abusedesk)"
check "abusedesk --version" "abusedesk $version" "$(/usr/bin/abusedesk --version 2>&1 | head -1)"

pw=$(getent passwd abusedesk)
check "user abusedesk exists" "abusedesk" "${pw%%:*}"
IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
[ "${uid:-99999}" -lt 1000 ] && sys=yes || sys=no
check "abusedesk is a system user" yes "$sys"
check "its home" /var/lib/abusedesk "$home"
check "its shell" /usr/sbin/nologin "$shell"
check "its group" abusedesk "$(getent group "$gid" | cut -d: -f1)"
check "/var/lib/abusedesk" "750 abusedesk abusedesk" "$(stat -c '%a %U %G' /var/lib/abusedesk)"
check "/run/abusedesk (tmpfiles.d)" "750 abusedesk abusedesk" "$(stat -c '%a %U %G' /run/abusedesk)"
conf=/etc/abusedesk/abusedesk.conf
check "conffile mode and owner" "640 root abusedesk" "$(stat -c '%a %U %G' "$conf")"
contains "dpkg knows the conffile" "$conf" "$(dpkg-query -W -f='${Conffiles}' abusedesk)"
check "templates_dir in the packaged configuration" 1 "$(grep -c '^templates_dir = /usr/share/abusedesk/templates$' "$conf")"
check "policy listens on TCP only" 1 "$(grep -c '^listen = inet:127.0.0.1:10040$' "$conf")"
check "[policy] user is the units' user" 1 "$(grep -c '^user = abusedesk$' "$conf")"
for f in "$src"/etc/templates/*/*; do
  rel=${f#"$src"/etc/templates/}
  cmp -s "$f" "/usr/share/abusedesk/templates/$rel"
  check "template $rel installed" 0 $?
done
check "template languages" "de en" "$(cd /usr/share/abusedesk/templates && echo *)"
out=$(cd / && abusedesk config check 2>&1); rc=$?
check "config check as root" 0 "$rc"; contains "config check as root says OK" "$conf: OK" "$out"
out=$(cd / && runuser -u abusedesk -- abusedesk config check 2>&1); rc=$?
check "config check as abusedesk" 0 "$rc"; contains "config check as abusedesk says OK" "$conf: OK" "$out"

for u in $units; do
  f=/lib/systemd/system/$u
  [ -f "$f" ]; check "unit $u installed" 0 $?
  out=$(cd / && systemd-analyze verify "$f" 2>&1); rc=$?
  check "systemd-analyze verify $u" 0 "$rc"
  lacks "systemd-analyze verify $u: no complaint about it" "abusedesk" "$out"
  case $u in
    abusedesk-maintenance.service|abusedesk-purge.service) want=static ;; # started by its timer only
    *) want=disabled ;;
  esac
  check "$u not enabled" "$want" "$(systemctl is-enabled "$u" 2>&1)"
done
check "no unit symlinked anywhere" "" "$(find /etc/systemd -name 'abusedesk*' 2>/dev/null)"
for u in abusedesk-policy abusedesk-desk abusedesk-delivery abusedesk-maintenance abusedesk-purge; do
  f=/lib/systemd/system/$u.service
  for k in "User=abusedesk" "ProtectSystem=strict" "ReadWritePaths=/var/lib/abusedesk /run/abusedesk" \
           "NoNewPrivileges=yes" "PrivateTmp=yes" "ProtectHome=yes" "CapabilityBoundingSet=" \
           "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" "SystemCallFilter=@system-service" \
           "UMask=0027"; do
    check "$u: $k" 1 "$(grep -cx "$k" "$f")"
  done
  case $u in abusedesk-maintenance|abusedesk-purge) ;; *) false ;; esac || check "$u: Restart=on-failure" 1 "$(grep -cx "Restart=on-failure" "$f")"
  contains "$u runs /usr/bin/abusedesk" "ExecStart=/usr/bin/abusedesk -c /etc/abusedesk/abusedesk.conf " "$(grep ^ExecStart= "$f")"
done
contains "the target wants the reputation monitor" "Wants=abusedesk-reputation.service" \
  "$(cat /lib/systemd/system/abusedesk.target)"
for k in "User=abusedesk" "ProtectSystem=strict" "NoNewPrivileges=yes" "Restart=on-failure" \
         "ExecStart=/usr/bin/abusedesk -c /etc/abusedesk/abusedesk.conf rbl check --loop"; do
  check "abusedesk-reputation: $k" 1 "$(grep -cx "$k" /lib/systemd/system/abusedesk-reputation.service)"
done
contains "the target wants every service and the timer" \
  "Wants=abusedesk-policy.service abusedesk-desk.service abusedesk-delivery.service abusedesk-maintenance.timer" \
  "$(cat /lib/systemd/system/abusedesk.target)"

# README step 2: the database made by the service user.
out=$(cd / && runuser -u abusedesk -- abusedesk init 2>&1)
check "abusedesk init as abusedesk" 0 $?
check "database made by init" "abusedesk" "$(stat -c %U /var/lib/abusedesk/abusedesk.db 2>&1)"

# ---- the units' commands as the abusedesk user ----------------------------------------------
# Each long-running ExecStart must still run after 3 s (a bad option, an
# unreadable configuration or an unwritable data folder end it at once).
execstart() { sed -n 's/^ExecStart=//p' "/lib/systemd/system/$1.service"; }
for u in abusedesk-desk abusedesk-delivery abusedesk-reputation abusedesk-web abusedesk-milter; do
  read -r -a cmd <<<"$(execstart "$u")"
  (cd / && timeout -s TERM 3 runuser -u abusedesk -- "${cmd[@]}") >"$work/$u.log" 2>&1
  check "$u ExecStart runs as abusedesk until stopped" 124 $?
  lacks "$u log has no error" "error" "$(cat "$work/$u.log")"
done
read -r -a cmd <<<"$(execstart abusedesk-maintenance)"
(cd / && runuser -u abusedesk -- "${cmd[@]}") >"$work/maintenance.log" 2>&1
check "abusedesk-maintenance ExecStart exit" 0 $?

# The policy server exactly as its unit starts it (port 10040 of the package).
(exec 3<>/dev/tcp/127.0.0.1/10040) 2>/dev/null &&
  die "127.0.0.1:10040 is taken by another program; the packaged policy server needs it for this test"
read -r -a cmd <<<"$(execstart abusedesk-policy)"
(cd / && exec setpriv --reuid=abusedesk --regid=abusedesk --init-groups -- "${cmd[@]}") >"$work/policy.log" 2>&1 &
pids+=($!)
up=no
for _ in $(seq 1 100); do
  if (exec 3<>/dev/tcp/127.0.0.1/10040) 2>/dev/null; then up=yes; break; fi
  sleep 0.1
done
check "policy server (unit's ExecStart, as abusedesk) listens on 10040" yes "$up"
[ "$up" = yes ] || { cat "$work/policy.log"; die "the policy server did not start"; }
ask_policy() { # ask_policy PORT|UNIX_PATH SASL_USER: the action line
  python3 - "$1" "$2" <<'PY'
import socket, sys
if sys.argv[1].startswith("/"):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sys.argv[1])
else:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
           "client_address=192.0.2.7\nsasl_username=%s\nsender=%s\n"
           "recipient=someone@example.org\ninstance=1.2.3\n\n" % (sys.argv[2], sys.argv[2])).encode())
buf = b""
while not buf.endswith(b"\n\n"):
    d = s.recv(4096)
    if not d:
        break
    buf += d
print(buf.decode().strip())
PY
}
contains "policy answer" "action=" "$(ask_policy 10040 alice@customer.example)"

# Started as root, it drops to [policy] user (abusedesk) after binding.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
conf2=$work/root-start.conf
sed "s/^listen = .*/listen = inet:127.0.0.1:$port/; s|^state_file = .*|state_file = /var/lib/abusedesk/root-start.state|" "$conf" >"$conf2"
chgrp abusedesk "$conf2"; chmod 0640 "$conf2"
(cd / && exec /usr/bin/abusedesk -c "$conf2" serve) >"$work/policy-root.log" 2>&1 &
rootpid=$!
pids+=($rootpid)
up=no
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=yes; break; fi
  sleep 0.1
done
check "policy server started as root listens" yes "$up"
check "policy server started as root runs as abusedesk" "$uid" "$(awk '/^Uid:/ {print $2}' "/proc/$rootpid/status" 2>/dev/null)"
contains "policy answer (root start)" "action=" "$(ask_policy "$port" bob@customer.example)"
kill "$rootpid" 2>/dev/null; wait "$rootpid" 2>/dev/null

# The UNIX socket of doc/postfix.md: the server as abusedesk with the
# supplementary group postfix (SupplementaryGroups=postfix) gives its socket
# to that group, and Postfix's user can ask it there.
sockdir=$work/sock
install -d -o abusedesk -g postfix -m 0750 "$sockdir"
conf3=$work/unix.conf
sed "s|^listen = .*|listen = unix:$sockdir/policy.sock\nsocket_group = postfix|; s|^state_file = .*|state_file = /var/lib/abusedesk/unix.state|" "$conf" >"$conf3"
chgrp abusedesk "$conf3"; chmod 0640 "$conf3"
(cd / && exec setpriv --reuid=abusedesk --regid=abusedesk --groups=postfix -- \
   /usr/bin/abusedesk -c "$conf3" serve) >"$work/policy-unix.log" 2>&1 &
unixpid=$!
pids+=($unixpid)
for _ in $(seq 1 100); do [ -S "$sockdir/policy.sock" ] && break; sleep 0.1; done
sleep 0.3 # bound first, then chmod and chown
check "UNIX socket mode and group" "660 abusedesk postfix" "$(stat -c '%a %U %G' "$sockdir/policy.sock" 2>&1)"
contains "policy answer over the UNIX socket, as user postfix" "action=" \
  "$(runuser -u postfix -- bash -c "$(declare -f ask_policy); ask_policy $sockdir/policy.sock carol@customer.example" 2>&1)"
kill "$unixpid" 2>/dev/null; wait "$unixpid" 2>/dev/null

# ---- Postfix: the master.cf snippet and the policy service -------------------------------------
# A private instance (tests/lib/postfix.sh) asks the packaged policy server
# (check_policy_service inet:127.0.0.1:10040, as in main.cf.abusedesk) and
# hands mail for the abuse address to the pipe service of master.cf.abusedesk.
. "$src/tests/lib/postfix.sh"
if ! postfix_start "$work/postfix" inet:127.0.0.1:10040 9 \
     "transport_maps = inline:{abuse@desk.example=abusedesk:}" >"$work/postfix-start.log" 2>&1; then
  cat "$work/postfix-start.log"
  die "the private Postfix instance did not start"
fi
grep -v '^#' "$src/etc/postfix/master.cf.abusedesk" | grep -v '^[[:space:]]*$' >>"$POSTFIX_DIR/etc/master.cf"
touch -d '-1 minute' "$POSTFIX_DIR/etc/master.cf"
check "postconf reads the snippet" \
  "abusedesk unix - n n - - pipe flags=Rq user=abusedesk argv=/usr/bin/abusedesk ingest -q --source postfix" \
  "$(postconf -c "$POSTFIX_DIR/etc" -M abusedesk/unix 2>&1 | tr -s ' \t' '  ')"
postfix -c "$POSTFIX_DIR/etc" reload >/dev/null 2>&1
check "postfix reload" 0 $?
sleep 1
mail=$src/tests/golden/arf-compromised.eml
out=$(swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --from fbl@provider.example \
             --to abuse@desk.example --data "$mail" 2>&1)
check "swaks: the complaint accepted (the policy server answered)" 0 $?
stored=no
for _ in $(seq 1 150); do
  n=$(cd / && runuser -u abusedesk -- abusedesk reports --json 2>/dev/null | grep -c '"kind"')
  [ "${n:-0}" -ge 1 ] && { stored=yes; break; }
  sleep 0.2
done
check "pipe(8) as abusedesk stored the complaint in the package's database" yes "$stored"
if [ "$stored" != yes ]; then
  echo "--- swaks"; echo "$out" | tail -5; echo "--- maillog"; postfix_log | tail -15
fi
contains "the delivery went through the abusedesk transport" "relay=abusedesk" "$(postfix_log)"
check "database owned by abusedesk" "abusedesk" "$(stat -c %U /var/lib/abusedesk/abusedesk.db 2>&1)"
postfix_stop >/dev/null 2>&1
unset POSTFIX_DIR
# The desk worker files it, as its unit would (one pass).
out=$(cd / && runuser -u abusedesk -- abusedesk process 2>&1)
check "desk worker pass as abusedesk" 0 $?
contains "desk worker processed the complaint" "1 reports processed" "$out"

for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
pids=()
lacks "policy server log has no error" "error" "$(cat "$work/policy.log")"

# ---- dpkg --purge -----------------------------------------------------------------------------
dpkg --purge abusedesk >"$work/purge.log" 2>&1
check "dpkg --purge exit" 0 $?
check "package gone" "" "$(dpkg-query -W -f='${Status}' abusedesk 2>/dev/null | grep -v not-installed)"
left=
for f in $files; do
  case $f in */) continue ;; esac
  [ -e "$f" ] && [ ! -d "$f" ] && left="$left $f"
done
check "no file of the package left" "" "$left"
for p in /usr/bin/abusedesk /etc/abusedesk /var/lib/abusedesk /run/abusedesk /usr/share/abusedesk \
         /usr/share/doc/abusedesk; do
  [ -e "$p" ]; check "$p removed by purge" 1 $?
done
check "user abusedesk removed by purge" "" "$(getent passwd abusedesk)"
check "group abusedesk removed by purge" "" "$(getent group abusedesk)"
check "no unit state left" "" "$(find /etc/systemd /var/lib/systemd/deb-systemd-helper-enabled -name '*abusedesk*' 2>/dev/null)"

# ---- make install / uninstall into a DESTDIR --------------------------------------------------------
ib=$work/install-build
stage=$work/stage
mk() { make -C "$src" INSTALL_BUILD_DIR="$ib" JOBS=2 "$@"; }
mk install DESTDIR="$stage" >"$work/make-install.log" 2>&1
check "make install DESTDIR exit" 0 $?
for f in usr/local/bin/abusedesk usr/local/share/man/man1/abusedesk.1 etc/abusedesk/abusedesk.conf \
         usr/local/share/abusedesk/templates/en/compromised.txt usr/local/share/doc/abusedesk/README.md \
         usr/local/lib/systemd/system/abusedesk-policy.service usr/local/lib/systemd/system/abusedesk.target \
         usr/local/lib/sysusers.d/abusedesk.conf usr/local/lib/tmpfiles.d/abusedesk.conf; do
  [ -f "$stage/$f" ]; check "DESTDIR has $f" 0 $?
done
check "DESTDIR config names the /usr/local templates" 1 \
  "$(grep -c '^templates_dir = /usr/local/share/abusedesk/templates$' "$stage/etc/abusedesk/abusedesk.conf")"
contains "DESTDIR unit runs /usr/local/bin/abusedesk" "ExecStart=/usr/local/bin/abusedesk " \
  "$(cat "$stage/usr/local/lib/systemd/system/abusedesk-desk.service")"
echo "# changed" >>"$stage/etc/abusedesk/abusedesk.conf"
mk install DESTDIR="$stage" >>"$work/make-install.log" 2>&1
check "into a DESTDIR the configuration is always written" 0 "$(grep -c '^# changed' "$stage/etc/abusedesk/abusedesk.conf")"
mk uninstall DESTDIR="$stage" >"$work/make-uninstall.log" 2>&1
check "make uninstall DESTDIR exit" 0 $?
check "make uninstall leaves only the configuration" "$stage/etc/abusedesk/abusedesk.conf" \
  "$(find "$stage" -type f -o -type l)"

# ---- make install for real (PREFIX=/usr/local) ---------------------------------------------------------
mk install >"$work/make-install-real.log" 2>&1
check "make install exit" 0 $?
check "make install: user abusedesk (sysusers.d)" abusedesk "$(getent passwd abusedesk | cut -d: -f1)"
check "make install: /var/lib/abusedesk" "750 abusedesk abusedesk" "$(stat -c '%a %U %G' /var/lib/abusedesk 2>&1)"
check "make install: configuration" "640 root abusedesk" "$(stat -c '%a %U %G' "$conf" 2>&1)"
out=$(cd / && runuser -u abusedesk -- /usr/local/bin/abusedesk config check 2>&1)
check "make install: config check as abusedesk" 0 $?
out=$(cd / && systemd-analyze verify /usr/local/lib/systemd/system/abusedesk-policy.service 2>&1)
check "make install: systemd-analyze verify" 0 $?
lacks "make install: verify has no complaint" "abusedesk" "$out"
echo "# mine" >>"$conf"
mk install >>"$work/make-install-real.log" 2>&1
check "make install keeps an existing configuration" 1 "$(grep -c '^# mine' "$conf")"
mk uninstall >"$work/make-uninstall-real.log" 2>&1
check "make uninstall exit" 0 $?
for p in /usr/local/bin/abusedesk /usr/local/share/abusedesk /usr/local/share/doc/abusedesk \
         /usr/local/share/man/man1/abusedesk.1 /usr/local/lib/systemd/system/abusedesk.target \
         /usr/local/lib/sysusers.d/abusedesk.conf /usr/local/lib/tmpfiles.d/abusedesk.conf; do
  [ -e "$p" ]; check "make uninstall removed $p" 1 $?
done
[ -f "$conf" ]; check "make uninstall keeps the configuration" 0 $?

echo "package: $pass passed, $fail failed"
[ "$fail" = 0 ]

# abusedesk: the commands a newcomer needs. See README.md.
#   make run    install what is missing, build, start the main job on SQLite
#   make test   install what is missing, build with sanitizers, run every test
#   make bench  parser throughput against Sisimai and Python's email package,
#               the whole intake pipeline (bench/ingest.sh), and the policy
#               server against noop-policyd, policyd-rate-limit, postfwd2
#               and DMARC report reading against dmarc-cat (bench/dmarc.sh)
#   make deps   install the Debian packages (as root) or print the command
#   make install / make uninstall / make deb   see "Installing" below

SHELL      := /bin/bash
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 30
CMAKE_FLAGS ?=

DEB_PACKAGES := build-essential debhelper systemd cmake pkg-config clang libclang-rt-14-dev \
	libglib2.0-dev libgmime-3.0-dev libsqlite3-dev sqlite3 libjansson-dev \
	libcmocka-dev zlib1g-dev libsisimai-perl python3 time \
	libcurl4-openssl-dev libsodium-dev libevent-dev postfix swaks \
	libopendkim-dev libc-ares-dev opendkim-tools rbldnsd python3-dkim openssl libpq-dev postgresql libhiredis-dev redis-server \
	libmicrohttpd-dev chromium python3-prometheus-client \
	libexpat1-dev libminizip-dev libssl-dev dmarc-cat libmilter-dev

.PHONY: all deps build asan test unit fuzz-build fuzz fuzz-smoke run bench corpus-report clean install uninstall deb

all: build

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	echo "deps: missing: $$missing"; \
	if [ "$$(id -u)" = 0 ]; then \
		export DEBIAN_FRONTEND=noninteractive; \
		echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	else \
		echo "deps: run as root: apt-get install -y $$missing"; exit 1; \
	fi

build: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build build -j$(JOBS)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer, -Werror.
asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAD_SANITIZE=ON -DAD_WERROR=ON >/dev/null
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j$(JOBS)

fuzz-build: deps
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAD_FUZZ=ON >/dev/null
	cmake --build build-fuzz -j$(JOBS)

# Bounded fuzz runs (FUZZ_SECONDS each), seeded from shared/corpus and fuzz/seeds.
fuzz-smoke: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh build-fuzz

fuzz: FUZZ_SECONDS = 1800
fuzz: fuzz-smoke

# Sanitizer suite (unit, golden, CLI, corpus, crash safety, malformed input), then
# the release build's memory bound on malformed input, then bounded fuzzing.
test: asan build fuzz-smoke
	AD_BINARY=$(CURDIR)/build/abusedesk AD_CHECK_RSS_MB=64 bash tests/malformed.sh > build/malformed-rss.log \
		|| { cat build/malformed-rss.log; exit 1; }
	@tail -1 build/malformed-rss.log
	@n=$$(cd build-asan && ctest -N | sed -n 's/^Total Tests: //p'); \
		f=$$(ls fuzz/fuzz_*.c | wc -l); \
		echo "make test: sanitizer suite ($$n tests), release memory bound and $$f fuzz targets all passed"; \
		echo "summary: $$((n + 1 + f)) passed, 0 failed"

corpus-report: build
	./build/corpus_report "$$(bash tools/shared-dir.sh)/corpus"

bench: build
	bash bench/parse.sh
	bash bench/ingest.sh
	bash bench/policy.sh
	bash bench/shared_counters.sh
	python3 bench/decisions.py --bin build/abusedesk --sweep
	python3 bench/decisions_alt.py --bin build/abusedesk --seed 1
	bash bench/dmarc.sh
	AD_BINARY=build/abusedesk bash bench/milter.sh

run: build
	bash tools/run-demo.sh

clean:
	rm -rf build build-asan build-fuzz var

# ---- Installing (README "Installing for real", doc/postfix.md) -------------------
# make install [PREFIX=/usr/local] [DESTDIR=DIR]: the binary, man page, templates
#   ($PREFIX/share/abusedesk/templates), docs, systemd units, sysusers.d and
#   tmpfiles.d snippets (CMakeLists.txt install rules), and
#   /etc/abusedesk/abusedesk.conf unless it exists (always into a DESTDIR). As
#   root without DESTDIR also the abusedesk user and its folders. Enables nothing.
# make uninstall [PREFIX=...] [DESTDIR=...]: removes those again, except the
#   configuration, the data (/var/lib/abusedesk) and the user.
# make deb: the Debian package (debian/, dpkg-buildpackage -us -uc -b in a copy of
#   the tree under build-deb/, no tests run) into dist/.
PREFIX      ?= /usr/local
DESTDIR     ?=
INSTALL_BUILD_DIR ?= build
SYSTEMD_UNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
AD_UNITS    := abusedesk.target abusedesk-policy.service abusedesk-desk.service \
	abusedesk-delivery.service abusedesk-maintenance.service abusedesk-maintenance.timer \
	abusedesk-purge.service abusedesk-purge.timer
# listing: the reputation monitor (rbl check --loop)
AD_UNITS    += abusedesk-reputation.service abusedesk-web.service abusedesk-milter.service
AD_DESTDIR   = $(if $(DESTDIR),$(abspath $(DESTDIR)))
DIST        ?= dist
DEB_BUILD_DIR ?= build-deb
# The tree as it is, without builds, packages and the demo's data.
DEB_EXCLUDE := --exclude=./.git --exclude=./build --exclude='./build-*' --exclude=./dist --exclude=./var \
	--exclude='./obj-*'

install:
	cmake -S . -B $(INSTALL_BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_INSTALL_PREFIX=$(PREFIX) -DAD_SYSTEMD_UNITDIR=$(SYSTEMD_UNITDIR) \
		-DAD_SYSUSERSDIR=$(SYSUSERSDIR) -DAD_TMPFILESDIR=$(TMPFILESDIR) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(INSTALL_BUILD_DIR) -j$(JOBS) --target abusedesk abusedesk-dmarc
	DESTDIR="$(AD_DESTDIR)" cmake --install $(INSTALL_BUILD_DIR)
	@if [ -z "$(AD_DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
		set -e; \
		if command -v systemd-sysusers >/dev/null; then systemd-sysusers $(SYSUSERSDIR)/abusedesk.conf; \
		elif ! getent passwd abusedesk >/dev/null; then \
			adduser --system --group --home /var/lib/abusedesk --no-create-home abusedesk; fi; \
		if command -v systemd-tmpfiles >/dev/null; then systemd-tmpfiles --create $(TMPFILESDIR)/abusedesk.conf; \
		else install -d -m 0750 -o abusedesk -g abusedesk /var/lib/abusedesk /run/abusedesk; fi; \
		if [ "$$(stat -c %G /etc/abusedesk/abusedesk.conf)" = root ]; then \
			chgrp abusedesk /etc/abusedesk/abusedesk.conf; chmod 0640 /etc/abusedesk/abusedesk.conf; fi; \
		if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
		echo "install: user abusedesk, /var/lib/abusedesk; nothing enabled: edit /etc/abusedesk/abusedesk.conf, then systemctl enable --now abusedesk.target"; \
	fi

uninstall:
	@if [ -z "$(AD_DESTDIR)" ] && command -v systemctl >/dev/null; then \
		if [ -d /run/systemd/system ]; then systemctl disable --now --quiet $(AD_UNITS) 2>/dev/null || true; \
		else systemctl disable --quiet $(AD_UNITS) 2>/dev/null || true; fi; \
	fi
	rm -f $(AD_DESTDIR)$(PREFIX)/bin/abusedesk $(AD_DESTDIR)$(PREFIX)/bin/abusedesk-dmarc \
		$(addprefix $(AD_DESTDIR)$(PREFIX)/share/man/man1/,$(notdir $(wildcard doc/*.1))) \
		$(addprefix $(AD_DESTDIR)$(SYSTEMD_UNITDIR)/,$(AD_UNITS)) \
		$(AD_DESTDIR)$(SYSUSERSDIR)/abusedesk.conf $(AD_DESTDIR)$(TMPFILESDIR)/abusedesk.conf
	rm -rf $(AD_DESTDIR)$(PREFIX)/share/abusedesk $(AD_DESTDIR)$(PREFIX)/share/doc/abusedesk
	@if [ -z "$(AD_DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "uninstall: kept /etc/abusedesk (configuration), /var/lib/abusedesk (data) and the user abusedesk"

deb:
	@for t in dpkg-buildpackage dh; do command -v $$t >/dev/null || \
		{ echo "deb: $$t is missing: make deps (or apt-get install dpkg-dev debhelper)"; exit 1; }; done
	@test -n "$(DEB_BUILD_DIR)" && test "$(DEB_BUILD_DIR)" != . && rm -rf "$(DEB_BUILD_DIR)"
	mkdir -p $(DEB_BUILD_DIR)/abusedesk $(DIST)
	tar -cf - $(DEB_EXCLUDE) . | tar -xf - -C $(DEB_BUILD_DIR)/abusedesk
	cd $(DEB_BUILD_DIR)/abusedesk && DEB_BUILD_OPTIONS="nocheck parallel=$(JOBS)" \
		dpkg-buildpackage -us -uc -b > ../dpkg-buildpackage.log 2>&1 || \
		{ tail -n 40 ../dpkg-buildpackage.log; echo "deb: failed; log: $(DEB_BUILD_DIR)/dpkg-buildpackage.log"; exit 1; }
	@for f in $(DEB_BUILD_DIR)/*.deb; do mv "$$f" $(DIST)/ && echo "deb: $(DIST)/$${f##*/}"; done

# abusedesk: the commands a newcomer needs. See README.md.
#   make run    install what is missing, build, start the main job on SQLite
#   make test   install what is missing, build with sanitizers, run every test
#   make bench  parser throughput against Sisimai and Python's email package,
#               the whole intake pipeline (bench/ingest.sh), and the policy
#               server against noop-policyd, policyd-rate-limit, postfwd2
#   make deps   install the Debian packages (as root) or print the command

SHELL      := /bin/bash
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 30
CMAKE_FLAGS ?=

DEB_PACKAGES := build-essential cmake pkg-config clang libclang-rt-14-dev \
	libglib2.0-dev libgmime-3.0-dev libsqlite3-dev sqlite3 libjansson-dev \
	libcmocka-dev zlib1g-dev libsisimai-perl python3 time \
	libcurl4-openssl-dev libsodium-dev libevent-dev postfix swaks \
	libopendkim-dev libc-ares-dev opendkim-tools rbldnsd python3-dkim openssl libpq-dev postgresql libhiredis-dev redis-server

.PHONY: all deps build asan test unit fuzz-build fuzz fuzz-smoke run bench corpus-report clean

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

run: build
	bash tools/run-demo.sh

clean:
	rm -rf build build-asan build-fuzz var

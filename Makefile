# The commands that matter (README.md):
#   make run    install what is missing, build, and start lappsd (ws://127.0.0.1:5083/echo)
#   make test   install what is missing, build, and run the whole test suite: unit and
#               build tests, the same under AddressSanitizer + UBSan, the fuzz targets
#               for FUZZ_SECONDS each, and the format check
#   make bench  build and run the benchmarks
# Everything goes through Meson; build directories are build/, build-asan/, build-fuzz/.
MESON_SETUP = meson setup --wrap-mode=nofallback
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = client frame handshake nljson proto
SOURCES = $(shell git ls-files '*.c' '*.h' '*.cpp' 2>/dev/null)

.PHONY: all deps build run test test-unit test-asan test-fuzz check-format format bench clean

all: build

deps:
	@.ci/install-deps

build/build.ninja:
	$(MESON_SETUP) build

build: deps build/build.ninja
	ninja -C build

test-unit: build
	meson test -C build --print-errorlogs

build-asan/build.ninja:
	$(MESON_SETUP) build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false

test-asan: deps build-asan/build.ninja
	ninja -C build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C build-asan --print-errorlogs

build-fuzz/build.ninja:
	CC=clang $(MESON_SETUP) build-fuzz -Dfuzz=true -Dtests=true -Dbench=false -Dexamples=false \
		-Db_sanitize=address,undefined -Db_lundef=false

# Runs each fuzz target over its seed corpus (meson test --suite fuzz), then fuzzes it
# for FUZZ_SECONDS from a scratch copy of the corpus; any crash, leak or timeout fails.
test-fuzz: deps build-fuzz/build.ninja
	ninja -C build-fuzz
	meson test -C build-fuzz --suite fuzz --print-errorlogs
	@set -e; for t in $(FUZZ_TARGETS); do \
		rm -rf build-fuzz/corpus-$$t && cp -r test/fuzz/corpus/$$t build-fuzz/corpus-$$t; \
		echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
		build-fuzz/test/fuzz/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=build-fuzz/$$t- \
			build-fuzz/corpus-$$t 2>build-fuzz/fuzz-$$t.log \
			|| { tail -50 build-fuzz/fuzz-$$t.log; exit 1; }; \
		grep -E 'stat::number_of_executed_units|Done' build-fuzz/fuzz-$$t.log | tr '\n' ' '; echo; \
	done

check-format:
	@clang-format --dry-run --Werror $(SOURCES) && echo "format: ok"

format:
	clang-format -i $(SOURCES)

test: test-unit test-asan test-fuzz check-format
	@.ci/test-summary build build-asan build-fuzz

# The demo services are the Lua examples (examples/lua: ws.json, lapps.json, apps/).
LAPPSD_ARGS ?= -c examples/lua
run: build
	LAPPS_HOME=$(CURDIR)/examples/lua build/cmd/lappsd/lappsd $(LAPPSD_ARGS)

bench: build
	build/bench/bench-frame

clean:
	rm -rf build build-asan build-fuzz

# Thin wrapper around CMake. `make run` and `make test` work on a fresh
# Debian 12 machine as root: missing packages are installed first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
PREFIX     ?= /usr/local
CMAKE_FLAGS ?=

.PHONY: all deps build asan run test unit bench install clean format fuzz fuzz-smoke image

all: build

deps:
	@scripts/install-deps.sh test

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DRF_ASAN_UNIT=$(abspath $(ASAN_BUILD))/rf_unit $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DRF_SANITIZE=ON -DRF_UNIT_ONLY=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS) --target rf_unit

# An OCI image FROM scratch: the static ringfence and busybox-static
# (deploy/image/Containerfile), tagged localhost/ringfence:VERSION. Offline.
image: build
	@scripts/build-image.sh $(BUILD)/ringfence

run: build
	@scripts/demo.sh $(BUILD)/ringfence

# The fuzz smoke runs (each libFuzzer target ~20 s) come first, so ctest's
# summary is the last thing `make test` prints.
test: build asan fuzz-smoke
	@cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 600

fuzz: deps
	@scripts/fuzz.sh

fuzz-smoke: deps
	@FUZZ_SECONDS=20 scripts/fuzz.sh

unit: build
	@cd $(BUILD) && ctest --output-on-failure -L unit

bench: build
	@scripts/install-deps.sh bench
	@bench/run.sh $(BUILD)

install: build
	install -D -m 0755 $(BUILD)/ringfence $(DESTDIR)$(PREFIX)/bin/ringfence

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h' '*.c')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz

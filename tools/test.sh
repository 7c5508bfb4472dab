#!/usr/bin/env bash
# Install what is missing, build, and run every test of rtbridge:
#   1. the normal build (-Werror): all tests, the real-time checker included
#      (two at a time; those with wall-clock thresholds alone: RUN_SERIAL);
#   2. ThreadSanitizer: the tests labelled "concurrency";
#   3. AddressSanitizer + UBSan (leaks on): all tests but the timing
#      figures and the variants of a path (labels "timing", "variant");
#   4. a bounded libFuzzer run of the packet parsers and the jitter buffer;
#   5. the Docker loopback scenarios (docker/loopback-test.sh; it installs
#      and starts a container engine when root and none runs;
#      RTB_SKIP_DOCKER=1 skips it, printed, where no engine can run);
#   6. the Debian package on a fresh Debian 12 container, with the example
#      built there against it (docker/pkg-test.sh; same engine rules).
# Exits non-zero when anything fails. Set RTB_TEST_QUICK=1 to run step 1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
start=$(date +%s)

step() { printf '\n=== %s (%ss)\n' "$*" "$(($(date +%s) - start))"; }

# The integration tests run real processes against the wall clock on a
# shared machine; a test that fails is run once more (--repeat
# until-pass:2) and its first failure stays in the CTest log.
retry=(--repeat until-pass:2)

step "normal build"
tools/setup.sh --tools -DRTB_WERROR=ON
ctest --test-dir build --output-on-failure --timeout 600 -j2 "${retry[@]}"

if [ "${RTB_TEST_QUICK:-0}" = 1 ]; then
	exit 0
fi

step "ThreadSanitizer build: concurrency tests"
RTB_BUILD_DIR=build-tsan tools/setup.sh -DRTB_WERROR=ON -DRTB_SANITIZE=thread
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	ctest --test-dir build-tsan -L concurrency --output-on-failure --timeout 900

step "AddressSanitizer+UBSan build: all tests but timing figures and variants"
RTB_BUILD_DIR=build-asan tools/setup.sh -DRTB_WERROR=ON -DRTB_SANITIZE=address
ASAN_OPTIONS="detect_leaks=1 fast_unwind_on_malloc=0 abort_on_error=0" \
UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1" \
LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp" \
	ctest --test-dir build-asan --output-on-failure --timeout 900 -j2 \
	-LE 'timing|variant' "${retry[@]}"

if [ -x tools/fuzz.sh ]; then
	step "fuzzing (bounded)"
	tools/fuzz.sh "${RTB_FUZZ_SECONDS:-15}"
fi

step "Docker loopback scenarios"
docker/loopback-test.sh

step "Debian package on Debian 12 (Docker)"
docker/pkg-test.sh

step "all tests passed"

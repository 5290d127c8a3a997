#!/usr/bin/env bash
# Installs the Debian packages, builds, makes sure a Docker Engine answers, and runs every test
# through ctest (unit, integration and end-to-end). Extra arguments go to ctest, e.g.
#   ./test.sh -L unit          only the unit tests
#   ./test.sh -R e2e_exec      one test by name
# The exit code is ctest's.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

# Each phase's wall time is printed as it ends, so a slow run shows where the time went
# (docs/testing.md, "Build and test time").
phase_start=$SECONDS
phase_done() {
  echo "test: $1 took $((SECONDS - phase_start)) s" >&2
  phase_start=$SECONDS
}

scripts/install-deps.sh
phase_done "installing packages"
# A second tree built with AddressSanitizer + UndefinedBehaviorSanitizer: its unit tests and
# its server run as ctest tests of the main tree (label "asan"), so one ctest run reports all.
CSSH_BUILD_DIR="$ROOT/build-asan" scripts/build.sh -DCSSH_SANITIZE=ON
phase_done "building the sanitizer tree (build-asan)"
# A third, small tree: the libFuzzer targets (tests/fuzz) with clang. It compiles only the parsers
# they exercise (about 25 files, no CAF, no libssh), so it adds little to the build; the main tree's
# ctest runs each fuzzer briefly (label "fuzz") and for ten minutes under "fuzz_full".
CC=clang CXX=clang++ CSSH_BUILD_DIR="$ROOT/build-fuzz" scripts/build.sh -DCSSH_FUZZ=ON
phase_done "building the fuzz tree (build-fuzz)"
scripts/build.sh -DCSSH_SANITIZED_BUILD_DIR="$ROOT/build-asan" -DCSSH_FUZZ_BUILD_DIR="$ROOT/build-fuzz"
phase_done "building the main tree (build)"

if ! scripts/ensure-dockerd.sh; then
  if [[ $EUID -ne 0 ]]; then
    echo "test: no Docker Engine answers and starting dockerd needs root: run ./test.sh as root." >&2
  fi
  echo "test: continuing; the integration and e2e tests will fail without a Docker Engine." >&2
fi
phase_done "making sure a Docker Engine answers"

# With no arguments: everything except the long runs (labels ending in _full, e.g. e2e_full),
# which have their own labels and are run before the issue that owns them is resolved.
if [[ $# -eq 0 ]]; then
  set -- -LE '_full$'
fi
status=0
ctest --test-dir "$ROOT/build" --output-on-failure -j2 "$@" || status=$?
phase_done "running the tests"
echo "test: $SECONDS s in all" >&2
exit "$status"

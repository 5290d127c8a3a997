#!/usr/bin/env bash
# Installs the Debian packages, builds, makes sure a Docker Engine answers, and runs every test
# through ctest (unit, integration and end-to-end). Extra arguments go to ctest, e.g.
#   ./test.sh -L unit          only the unit tests
#   ./test.sh -R e2e_exec      one test by name
# The exit code is ctest's.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

scripts/install-deps.sh
scripts/build.sh

if ! scripts/ensure-dockerd.sh; then
  if [[ $EUID -ne 0 ]]; then
    echo "test: no Docker Engine answers and starting dockerd needs root: run ./test.sh as root." >&2
  fi
  echo "test: continuing; the integration and e2e tests will fail without a Docker Engine." >&2
fi

exec ctest --test-dir "$ROOT/build" --output-on-failure -j2 "$@"

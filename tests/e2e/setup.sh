#!/usr/bin/env bash
# ctest fixture (e2e_setup): a Docker Engine that answers, and the guest images the integration
# and end-to-end tests use (containerssh-guest:latest, also tagged cssh-test:latest).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GUEST_TAG=containerssh-guest:latest
TEST_TAG=cssh-test:latest

fail() {
  echo "e2e setup FAILED: $*" >&2
  exit 1
}

missing=()
for tool in docker curl ssh sshpass /usr/bin/python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
((${#missing[@]} == 0)) || fail "missing tools: ${missing[*]} (run scripts/install-deps.sh as root)"

"$ROOT/scripts/ensure-dockerd.sh" ||
  fail "no Docker Engine answers on /var/run/docker.sock and none could be started (starting dockerd needs root)"

"$ROOT/scripts/build-guest-image.sh" "$GUEST_TAG" ||
  fail "could not build the guest image $GUEST_TAG"

docker tag "$GUEST_TAG" "$TEST_TAG" ||
  fail "could not tag $GUEST_TAG as $TEST_TAG"

echo "e2e setup: Docker Engine $(docker version -f '{{.Server.Version}}' 2>/dev/null || echo '?'), images $GUEST_TAG and $TEST_TAG ready"

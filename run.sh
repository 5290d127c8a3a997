#!/usr/bin/env bash
# Runs a demo server on 127.0.0.1:2222: installs the Debian packages, builds, makes sure a Docker
# Engine answers, builds the guest image, starts a demo auth webhook and then the server.
#
# Usage: ./run.sh [CONFIG.yaml]
#   Without an argument, writes build/demo-config.yaml and uses it (demo logins alice/secret and
#   demo/demo through the demo webhook on 127.0.0.1:8080).
#   With a config file, uses that file; the demo webhook starts only if CSSH_DEMO_WEBHOOK=1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

CONFIG=${1:-}
IMAGE=containerssh-guest:latest
WEBHOOK_HOST=127.0.0.1
WEBHOOK_PORT=8080
DEMO_USERS=alice:secret,demo:demo

if [[ -n "$CONFIG" && ! -f "$CONFIG" ]]; then
  echo "run: config file $CONFIG not found" >&2
  exit 1
fi

scripts/install-deps.sh
scripts/build.sh
scripts/ensure-dockerd.sh
scripts/build-guest-image.sh "$IMAGE"

BINARY=$ROOT/build/containerssh
if [[ ! -x "$BINARY" ]]; then
  echo "run: $BINARY was not built" >&2
  exit 1
fi

start_webhook=0
if [[ -z "$CONFIG" ]]; then
  start_webhook=1
  CONFIG=$ROOT/build/demo-config.yaml
  cat >"$CONFIG" <<YAML
# Demo configuration written by run.sh (regenerated on every run; pass your own file instead).
ssh:
  listen: 127.0.0.1:2222
  hostkeys:
    - $ROOT/build/demo-hostkey
auth:
  password:
    method: webhook
    webhook:
      url: http://$WEBHOOK_HOST:$WEBHOOK_PORT
backend: docker
docker:
  connection:
    host: unix:///var/run/docker.sock
  execution:
    mode: session
    container:
      image: $IMAGE
    imagePullPolicy: IfNotPresent
log:
  level: info
YAML
elif [[ "${CSSH_DEMO_WEBHOOK:-0}" == 1 ]]; then
  start_webhook=1
fi

if [[ $start_webhook -eq 1 ]]; then
  WEBHOOK_OUT=$ROOT/build/demo-webhook.out
  WEBHOOK_LOG=$ROOT/build/demo-webhook.log
  : >"$WEBHOOK_OUT"
  # `exec` below replaces this shell with the server, so no EXIT trap would run then:
  # the webhook watches this process id instead and stops when the server (same pid) exits.
  /usr/bin/python3 "$ROOT/tests/e2e/auth_webhook.py" --host "$WEBHOOK_HOST" --port "$WEBHOOK_PORT" \
    --users "$DEMO_USERS" --watch-pid $$ >"$WEBHOOK_OUT" 2>"$WEBHOOK_LOG" &
  WEBHOOK_PID=$!
  trap 'kill "$WEBHOOK_PID" 2>/dev/null || true' EXIT  # until the exec below
  for ((i = 0; i < 50; i++)); do
    if grep -q '^LISTENING ' "$WEBHOOK_OUT" || ! kill -0 "$WEBHOOK_PID" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  if ! grep -q '^LISTENING ' "$WEBHOOK_OUT"; then
    echo "run: the demo auth webhook did not start on $WEBHOOK_HOST:$WEBHOOK_PORT:" >&2
    cat "$WEBHOOK_LOG" >&2
    exit 1
  fi
fi

cat <<BANNER

==============================================================================
 ContainerSSH-compatible server (C++) — config: $CONFIG
BANNER
if [[ $start_webhook -eq 1 ]]; then
  cat <<BANNER
 Demo auth webhook on http://$WEBHOOK_HOST:$WEBHOOK_PORT (log: build/demo-webhook.log)
 Demo logins: alice / secret   and   demo / demo

 In another terminal, type:
     ssh -p 2222 alice@127.0.0.1            (password: secret)
     ssh -p 2222 alice@127.0.0.1 'echo hello; uname -a'
BANNER
fi
cat <<BANNER
 Each SSH session runs in a fresh container; Ctrl-C stops the server.
==============================================================================

BANNER

trap - EXIT
exec "$BINARY" --config "$CONFIG"

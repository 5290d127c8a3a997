#!/usr/bin/env bash
# Runs a demo server on 127.0.0.1:2222: installs the Debian packages, builds, makes sure a Docker
# Engine answers, builds the guest image, writes a demo configuration and starts the server.
#
# Usage: ./run.sh [CONFIG.yaml]
#   Without an argument, writes build/demo-config.yaml and uses it. Logins come from the built-in
#   users file build/demo-users.yaml: user `demo` with a random password (made once, kept in
#   build/demo-password, printed at start), plus your ~/.ssh/*.pub keys for `demo` if you have any.
#   CSSH_DEMO_AUTH=webhook ./run.sh uses the demo auth webhook on 127.0.0.1:8080 instead
#   (logins alice/secret and demo/demo), to try ContainerSSH's webhook protocol.
#   With a config file, uses that file; the demo webhook starts only if CSSH_DEMO_WEBHOOK=1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

CONFIG=${1:-}
IMAGE=containerssh-guest:latest
WEBHOOK_HOST=127.0.0.1
WEBHOOK_PORT=8080
WEBHOOK_USERS=alice:secret,demo:demo
DEMO_AUTH=${CSSH_DEMO_AUTH:-file}

if [[ -n "$CONFIG" && ! -f "$CONFIG" ]]; then
  echo "run: config file $CONFIG not found" >&2
  exit 1
fi
if [[ "$DEMO_AUTH" != file && "$DEMO_AUTH" != webhook ]]; then
  echo "run: CSSH_DEMO_AUTH must be \"file\" or \"webhook\", got \"$DEMO_AUTH\"" >&2
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

# The demo users file: `demo` with a random password (sha512-crypt, made by openssl) and the
# invoking user's public keys. The password is made once and kept, so it stays what you noted.
write_demo_users() {
  local password_file=$ROOT/build/demo-password users=$ROOT/build/demo-users.yaml key
  if [[ ! -s "$password_file" ]]; then
    (umask 077 && openssl rand -base64 12 | tr -d '/+=\n' >"$password_file")
  fi
  DEMO_PASSWORD=$(cat "$password_file")
  DEMO_KEYS=()
  for key in "$HOME"/.ssh/id_*.pub; do
    [[ -f "$key" ]] && DEMO_KEYS+=("$key")
  done
  {
    echo "# Demo users written by run.sh (regenerated on every run). Passwords are crypt(3) hashes:"
    echo "# make one with \`openssl passwd -6\` or \`mkpasswd -m yescrypt\`."
    echo "users:"
    echo "  demo:"
    echo "    password: \"$(openssl passwd -6 "$DEMO_PASSWORD")\""
    if ((${#DEMO_KEYS[@]} > 0)); then
      echo "    authorizedKeys:"
      for key in "${DEMO_KEYS[@]}"; do
        echo "      - \"$(cut -d' ' -f1,2 "$key")\""
      done
    fi
  } >"$users"
  (umask 077 && chmod 600 "$users")
}

start_webhook=0
if [[ -z "$CONFIG" ]]; then
  CONFIG=$ROOT/build/demo-config.yaml
  if [[ "$DEMO_AUTH" == file ]]; then
    write_demo_users
    AUTH_BLOCK="auth:
  password:
    method: file
    file:
      path: $ROOT/build/demo-users.yaml
  publicKey:
    method: file
    file:
      path: $ROOT/build/demo-users.yaml"
  else
    start_webhook=1
    AUTH_BLOCK="auth:
  password:
    method: webhook
    webhook:
      url: http://$WEBHOOK_HOST:$WEBHOOK_PORT"
  fi
  cat >"$CONFIG" <<YAML
# Demo configuration written by run.sh (regenerated on every run; pass your own file instead).
ssh:
  listen: 127.0.0.1:2222
  hostkeys:
    - $ROOT/build/demo-hostkey
$AUTH_BLOCK
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
    --users "$WEBHOOK_USERS" --watch-pid $$ >"$WEBHOOK_OUT" 2>"$WEBHOOK_LOG" &
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
if [[ -n "${DEMO_PASSWORD:-}" ]]; then
  cat <<BANNER
 Built-in users file: build/demo-users.yaml
 Demo login: demo / $DEMO_PASSWORD   (kept in build/demo-password)
BANNER
  if ((${#DEMO_KEYS[@]} > 0)); then
    echo " Your public keys log in as demo too: ${DEMO_KEYS[*]}"
  fi
  cat <<BANNER

 In another terminal, type:
     ssh -p 2222 demo@127.0.0.1            (password: $DEMO_PASSWORD)
     ssh -p 2222 demo@127.0.0.1 'echo hello; uname -a'
BANNER
elif [[ $start_webhook -eq 1 ]]; then
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

# shellcheck shell=bash
# shellcheck disable=SC2317  # functions run from traps
# Helpers shared by the Engine-connection end-to-end tests (engine_tls_test.sh,
# registry_pull_test.sh): checks, processes, the test webhook, servers with their own
# configuration, a second dockerd, certificates, and cleanup. Source it after setting
# BINARY and TMP; it sets no traps itself.

PYTHON=/usr/bin/python3
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GUEST_IMAGE=containerssh-guest:latest
MANAGED_LABEL=containerssh_cpp
CONN_LABEL=containerssh_connection_id
CHECKS=0
FAILED=0
WEBHOOK_PID=""
WEBHOOK_PORT=""
SERVER_PIDS=()

now_ms() { date +%s%3N; }
pass() {
  CHECKS=$((CHECKS + 1))
  echo "PASS: $*"
}
fail() {
  CHECKS=$((CHECKS + 1))
  FAILED=$((FAILED + 1))
  echo "FAIL: $*"
}
info() { echo "INFO: $*"; }
show() { head -c 600 "$1" | cat -v; }

# alive PID: the process exists and has not exited (a zombie has exited).
alive() {
  local stat
  [[ -n "$1" ]] && stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ "${stat%% *}" != Z ]]
}

stop_pid() {  # stop_pid PID: SIGTERM, up to 5 s grace, then SIGKILL
  local pid=$1 i
  [[ -n "$pid" ]] || return 0
  alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_listening() {  # port_listening PORT
  [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]
}

# need_tools TOOL...: fails the test when one is missing.
need_tools() {
  local tool
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "FAIL: $tool is not installed (run scripts/install-deps.sh)"
      exit 1
    fi
  done
}

# --- the auth webhook (alice / secret) -------------------------------------------------------
start_webhook() {
  : >"$TMP/webhook.out"
  : >"$TMP/webhook.log"
  "$PYTHON" "$E2E_DIR/auth_webhook.py" --port 0 --users alice:secret >"$TMP/webhook.out" 2>"$TMP/webhook.log" &
  WEBHOOK_PID=$!
  local i
  for ((i = 0; i < 100; i++)); do
    WEBHOOK_PORT=$(awk '$1 == "LISTENING" { print $2; exit }' "$TMP/webhook.out")
    if [[ -n "$WEBHOOK_PORT" ]] || ! alive "$WEBHOOK_PID"; then break; fi
    sleep 0.1
  done
  if [[ -z "$WEBHOOK_PORT" ]]; then
    fail "auth webhook did not start"
    cat "$TMP/webhook.log"
    exit 1
  fi
}

# Connection ids the webhook has seen: one per SSH connection of this test.
connection_ids() {
  grep -o '"connectionId": "[^"]*"' "$TMP/webhook.log" 2>/dev/null | sed 's/^.*: "//; s/"$//' | sort -u
}

# our_containers [DOCKER ARGS...]: ids of containers this test's connections created there.
# shellcheck disable=SC2120  # the arguments are optional
our_containers() {
  local ids cid conn
  ids=$(connection_ids)
  [[ -n "$ids" ]] || return 0
  docker "$@" ps -a --filter "label=$MANAGED_LABEL" --format "{{.ID}} {{.Label \"$CONN_LABEL\"}}" 2>/dev/null |
    while read -r cid conn; do
      if [[ -n "$conn" ]] && grep -qxF -- "$conn" <<<"$ids"; then
        echo "$cid"
      fi
    done
}

# --- servers ------------------------------------------------------------------------------------
# server_config NAME: writes $TMP/NAME.yaml's common part (ssh, auth, log) on stdout; the caller
# appends its docker: block.
server_config_head() {
  local port=$1
  cat <<EOF
ssh:
  listen: 127.0.0.1:$port
  hostkeys:
    - $TMP/host_ed25519
auth:
  password:
    method: webhook
    webhook:
      url: http://127.0.0.1:$WEBHOOK_PORT
log:
  level: info
EOF
}

# start_server NAME: runs the server with $TMP/NAME.yaml, logging to $TMP/NAME.log; sets
# SERVER_PID and SSH_PORT (read from the config). Fails the test if it does not listen.
start_server() {
  local name=$1 start
  SSH_PORT=$(awk '/listen: 127.0.0.1:/ { sub(/.*:/, ""); print; exit }' "$TMP/$name.yaml")
  "$BINARY" --config "$TMP/$name.yaml" >"$TMP/$name.log" 2>&1 &
  SERVER_PID=$!
  SERVER_PIDS+=("$SERVER_PID")
  start=$(now_ms)
  until port_listening "$SSH_PORT"; do
    if ! alive "$SERVER_PID"; then
      fail "$name: server exited before listening (see $TMP/$name.log)"
      tail -n 20 "$TMP/$name.log"
      return 1
    fi
    if (($(now_ms) - start > 30000)); then
      fail "$name: server does not listen on 127.0.0.1:$SSH_PORT after 30 s"
      return 1
    fi
    sleep 0.05
  done
}

SSH_OPTS_BASE=(-F /dev/null -T
  -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
  -o PreferredAuthentications=password -o PubkeyAuthentication=no
  -o NumberOfPasswordPrompts=1 -o ConnectTimeout=10)

# cssh PORT COMMAND...: one session as alice (limit: $SSH_TIMEOUT s, default 30).
cssh() {
  local port=$1
  shift
  timeout "${SSH_TIMEOUT:-30}" sshpass -p secret ssh "${SSH_OPTS_BASE[@]}" -p "$port" alice@127.0.0.1 "$@"
}

stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do stop_pid "$pid"; done
  SERVER_PIDS=()
}

# --- a second dockerd -----------------------------------------------------------------------------
# start_second_dockerd DIR [EXTRA ARGS...]: a private daemon with everything under DIR (which
# must be short: unix socket paths are limited), listening on unix://DIR/docker.sock plus
# whatever EXTRA ARGS add. Loads the guest image into it. Sets DOCKERD2_PID.
DOCKERD2_PID=""
DOCKERD2_DIR=""
start_second_dockerd() {
  local dir=$1 i
  shift
  DOCKERD2_DIR=$dir
  mkdir -p "$dir"
  dockerd --data-root "$dir/root" --exec-root "$dir/exec" --pidfile "$dir/docker.pid" \
    -H "unix://$dir/docker.sock" --bridge=none --iptables=false --ip-masq=false --log-level warn \
    "$@" >"$dir/dockerd.log" 2>&1 &
  DOCKERD2_PID=$!
  for ((i = 0; i < 300; i++)); do
    docker -H "unix://$dir/docker.sock" version >/dev/null 2>&1 && break
    if ! alive "$DOCKERD2_PID"; then
      fail "the second dockerd exited at start (see $dir/dockerd.log)"
      tail -n 20 "$dir/dockerd.log"
      return 1
    fi
    sleep 0.1
  done
  if ! docker save "$GUEST_IMAGE" | docker -H "unix://$dir/docker.sock" load >/dev/null; then
    fail "could not load $GUEST_IMAGE into the second dockerd"
    return 1
  fi
}

# Removes every container of the second dockerd, stops it and deletes its directory.
stop_second_dockerd() {
  [[ -n "$DOCKERD2_DIR" ]] || return 0
  if [[ -n "$DOCKERD2_PID" ]] && alive "$DOCKERD2_PID"; then
    kill -CONT "$DOCKERD2_PID" 2>/dev/null
    docker -H "unix://$DOCKERD2_DIR/docker.sock" ps -aq 2>/dev/null |
      xargs -r docker -H "unix://$DOCKERD2_DIR/docker.sock" rm -f >/dev/null 2>&1
    kill -TERM "$DOCKERD2_PID" 2>/dev/null
    local i
    for ((i = 0; i < 150; i++)); do
      alive "$DOCKERD2_PID" || break
      sleep 0.1
    done
    kill -KILL "$DOCKERD2_PID" 2>/dev/null
    wait "$DOCKERD2_PID" 2>/dev/null
  fi
  # A daemon killed hard may leave mounts behind; never delete through a mount.
  grep -F " $DOCKERD2_DIR/" /proc/mounts | awk '{ print $2 }' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$DOCKERD2_DIR"
  DOCKERD2_DIR=""
}

# --- certificates (openssl) ---------------------------------------------------------------------------
# make_ca DIR NAME: DIR/NAME.pem and DIR/NAME-key.pem, a self-signed CA.
make_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -keyout "$1/$2-key.pem" -out "$1/$2.pem" -subj "/CN=cssh e2e $2" 2>/dev/null
}
# make_cert DIR NAME CA EXTENSIONS: DIR/NAME.pem signed by DIR/CA.pem with the given extensions.
make_cert() {
  local dir=$1 name=$2 ca=$3 ext=$4
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/$name-key.pem" \
    -out "$dir/$name.csr" -subj "/CN=cssh e2e $name" 2>/dev/null &&
    printf '%b\n' "$ext" >"$dir/$name.ext" &&
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$ca.pem" -CAkey "$dir/$ca-key.pem" -CAcreateserial \
      -days 1 -out "$dir/$name.pem" -extfile "$dir/$name.ext" 2>/dev/null
}

# indent N FILE: FILE's lines indented by N spaces (inline PEM in YAML block scalars).
indent() { sed "s/^/$(printf '%*s' "$1" '')/" "$2"; }

# report_and_exit NAME: the summary line and the exit code.
report_and_exit() {
  if ((FAILED > 0)); then
    echo "$1: $FAILED of $CHECKS checks FAILED"
    exit 1
  fi
  echo "$1: all $CHECKS checks passed"
  exit 0
}

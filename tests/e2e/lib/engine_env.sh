# shellcheck shell=bash
# shellcheck disable=SC2317  # functions run from traps
# Helpers shared by the shell end-to-end tests (exec_test.sh, docker_options_test.sh,
# auth_config_test.sh, engine_tls_test.sh, registry_pull_test.sh): the preamble (binary, tools,
# guest image, TMP, the cleanup trap), checks, processes, the test webhook, servers with their own
# configuration, a second dockerd, certificates, and cleanup. Source it first, then call e2e_start.

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
  if command -v ss >/dev/null 2>&1; then
    [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
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

# --- the preamble and the cleanup trap --------------------------------------------------------
# e2e_start BINARY TMP_TEMPLATE TOOL...: refuses a missing binary (usage, exit 2), a missing tool
# or guest image (FAIL, exit 1); makes TMP (mktemp -d TMP_TEMPLATE), sets BINARY and T0 and
# installs e2e_cleanup as the EXIT trap.
e2e_start() {
  BINARY=$1
  local template=$2
  shift 2
  if [[ -z "$BINARY" || ! -x "$BINARY" ]]; then
    echo "usage: $0 path/to/containerssh (got '${BINARY}')" >&2
    exit 2
  fi
  need_tools "$@"
  if ! docker image inspect "$GUEST_IMAGE" >/dev/null 2>&1; then
    echo "FAIL: $GUEST_IMAGE is missing (tests/e2e/setup.sh)"
    exit 1
  fi
  TMP=$(mktemp -d "$template")
  # shellcheck disable=SC2034  # the scripts time themselves from T0
  T0=$(now_ms)
  trap e2e_cleanup EXIT
  trap 'exit 130' INT TERM
}

# The EXIT trap. A script may define before_cleanup (clients, paused daemons, its own helper
# processes) and after_cleanup (volumes, image tags, a second dockerd); between them every server
# and the webhook are stopped and this test's containers (our_containers) removed. On failure
# the last LOG_TAIL lines of each $TMP/*.log are shown and TMP is kept; otherwise TMP is removed
# unless KEEP_TMP is set.
LOG_TAIL=30
e2e_cleanup() {
  local rc=$? left log
  # Cleanup goes on whatever fails, even a hook reading a variable the script had not set yet.
  set +eu
  if declare -F before_cleanup >/dev/null; then before_cleanup; fi
  stop_servers
  stop_pid "$WEBHOOK_PID"
  left=$(our_containers | sort -u)
  if [[ -n "$left" ]]; then
    echo "cleanup: removing containers left behind: $(echo "$left" | tr '\n' ' ')"
    echo "$left" | xargs -r docker rm -f >/dev/null 2>&1
  fi
  if declare -F after_cleanup >/dev/null; then after_cleanup; fi
  if ((FAILED > 0 || rc != 0)); then
    for log in "$TMP"/*.log; do
      [[ -f "$log" ]] || continue
      echo "---- $log (last $LOG_TAIL lines) ----"
      tail -n "$LOG_TAIL" "$log" | cut -c1-400
    done
    echo "---- logs kept in $TMP ----"
  else
    [[ -n "${KEEP_TMP:-}" ]] || rm -rf "$TMP"
  fi
  exit "$rc"
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
# server_config_head PORT [LOG_LEVEL]: a server configuration's common part (ssh, auth, log;
# level info unless given) on stdout; the caller appends its docker: block.
server_config_head() {
  local port=$1 level=${2:-info}
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
  level: $level
EOF
}

# write_server_config NAME [LOG_LEVEL]: $TMP/NAME.yaml, the common part on a fresh port (set in
# SSH_PORT) followed by stdin (the docker part).
write_server_config() {
  local name=$1 level=${2:-info}
  SSH_PORT=$(free_port)
  {
    server_config_head "$SSH_PORT" "$level"
    cat
  } >"$TMP/$name.yaml"
}

# docker_session_block [IMAGE [PULL_POLICY]]: the docker: section most servers use: the local
# Engine's socket, session mode, IMAGE (default the guest image) with imagePullPolicy PULL_POLICY
# (default Never; an empty one leaves the line out, for the caller to append execution keys).
# shellcheck disable=SC2120  # both arguments are optional
docker_session_block() {
  cat <<EOF
docker:
  connection:
    host: unix:///var/run/docker.sock
  execution:
    mode: session
    container:
      image: ${1:-$GUEST_IMAGE}
EOF
  local policy=${2-Never}
  [[ -z "$policy" ]] || echo "    imagePullPolicy: $policy"
}

# start_server NAME: runs the server with $TMP/NAME.yaml, logging to $TMP/NAME.log; sets
# SERVER_PID and SSH_PORT (read from the config). A failed check and status 1 if it does not
# listen (at the top level of a `set -e` script, that ends the test).
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

# ssh_as PORT USER PASSWORD COMMAND...: one password session (limit: $SSH_TIMEOUT s, default 30).
ssh_as() {
  local port=$1 user=$2 password=$3
  shift 3
  timeout "${SSH_TIMEOUT:-30}" sshpass -p "$password" ssh "${SSH_OPTS_BASE[@]}" -p "$port" "$user@127.0.0.1" "$@"
}

# cssh PORT COMMAND...: one session as alice.
cssh() {
  local port=$1
  shift
  ssh_as "$port" alice secret "$@"
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

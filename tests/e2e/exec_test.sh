#!/usr/bin/env bash
# shellcheck disable=SC2317  # the cleanup hook runs from the EXIT trap
# End-to-end test of the walking skeleton: the real server binary, a real dockerd, the OpenSSH
# client (through sshpass) and the test auth webhook, all on 127.0.0.1.
#
# Usage: tests/e2e/exec_test.sh path/to/containerssh
# Needs: a Docker Engine on /var/run/docker.sock and the image containerssh-guest:latest
# (tests/e2e/setup.sh provides both).
#
# Containers are attributed to this test through the label containerssh_connection_id, whose
# value is the connectionId the server sent to this test's webhook (our_containers in
# lib/engine_env.sh); other servers' containers (e.g. a concurrently running integration test)
# are ignored.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/lib/engine_env.sh
source "$HERE/lib/engine_env.sh"
e2e_start "${1:-}" /tmp/cssh-e2e.XXXXXX docker sshpass ssh "$PYTHON" timeout
CLIENT_PID=""
LOG_TAIL=80

before_cleanup() {
  if [[ -n "$CLIENT_PID" ]]; then
    pkill -KILL -P "$CLIENT_PID" 2>/dev/null
    kill -KILL "$CLIENT_PID" 2>/dev/null
  fi
}

# Every container carrying the managed label, with its labels (diagnostics).
describe_managed_containers() {
  docker ps -a --filter "label=$MANAGED_LABEL" --format '{{.ID}} {{.Status}} {{.Labels}}' | sed 's/^/  /'
}

start_webhook

# --- server -------------------------------------------------------------------
# (Not a pipe: write_server_config sets SSH_PORT in this shell.)
write_server_config server debug < <(
  echo "backend: docker"
  docker_session_block
)
start=$(now_ms)
start_server server
info "server listening on 127.0.0.1:$SSH_PORT after $(($(now_ms) - start)) ms; webhook on 127.0.0.1:$WEBHOOK_PORT"

# --- helpers for the checks ----------------------------------------------------
# cssh_pw PASSWORD COMMAND: one SSH session as alice (timeout: $SSH_TIMEOUT seconds, default 60).
cssh_pw() {
  local password=$1
  shift
  SSH_TIMEOUT=${SSH_TIMEOUT:-60} ssh_as "$SSH_PORT" alice "$password" "$@"
}

# check_gone WHAT LIMIT_MS: polls every 100 ms until no container of this test is left.
check_gone() {
  local what=$1 limit=$2 start elapsed left
  start=$(now_ms)
  while :; do
    left=$(our_containers)
    elapsed=$(($(now_ms) - start))
    if [[ -z "$left" ]]; then
      pass "$what: no container left ($elapsed ms after the session ended, limit $limit ms)"
      return 0
    fi
    if ((elapsed >= limit)); then
      fail "$what: container(s) still present $elapsed ms after the session ended: $(echo "$left" | tr '\n' ' ')"
      describe_managed_containers
      return 0
    fi
    sleep 0.1
  done
}

webhook_rejections() {
  grep -c '"method": "password".*"success": false.*"username": "alice"' "$TMP/webhook.log" || true
}

# --- 1. exec: stdout, stderr, exit code ---------------------------------------------
rc=0
cssh_pw secret 'echo hello; echo oops >&2; exit 3' >"$TMP/c1.out" 2>"$TMP/c1.err" || rc=$?
if printf 'hello\n' | cmp -s - "$TMP/c1.out"; then
  pass "exec: stdout is exactly 'hello'"
else
  fail "exec: stdout should be exactly 'hello', got: '$(show "$TMP/c1.out")'"
fi
if grep -q oops "$TMP/c1.err" && ! grep -q hello "$TMP/c1.err"; then
  pass "exec: stderr has 'oops' (and not 'hello')"
else
  fail "exec: stderr should contain 'oops' and not 'hello', got: '$(show "$TMP/c1.err")'"
fi
if [[ $rc -eq 3 ]]; then
  pass "exec: exit code 3"
else
  fail "exec: exit code should be 3, got $rc"
fi
if [[ -n "$(connection_ids)" ]]; then
  pass "exec: the webhook saw the login (connection $(connection_ids | tail -n 1))"
else
  fail "exec: the webhook saw no login request"
fi
check_gone "exec" 2000

# --- 2. wrong password --------------------------------------------------------------
before=$(webhook_rejections)
rc=0
cssh_pw wrong 'echo should-not-run' >"$TMP/c2.out" 2>"$TMP/c2.err" || rc=$?
if [[ $rc -eq 255 ]] && grep -q 'Permission denied' "$TMP/c2.err"; then
  pass "wrong password: rejected (exit 255, 'Permission denied')"
else
  fail "wrong password: expected exit 255 and 'Permission denied', got exit $rc, stderr '$(show "$TMP/c2.err")'"
fi
if [[ -s "$TMP/c2.out" ]]; then
  fail "wrong password: the command produced output: '$(show "$TMP/c2.out")'"
fi
after=$(webhook_rejections)
if ((after > before)); then
  pass "wrong password: the webhook saw the attempt and refused it"
else
  fail "wrong password: the webhook saw no refused attempt for alice"
fi
check_gone "wrong password" 2000

# --- 3. stdin and half-close ---------------------------------------------------------
rc=0
printf 'abc\n' | SSH_TIMEOUT=20 cssh_pw secret cat >"$TMP/c3.out" 2>"$TMP/c3.err" || rc=$?
if [[ $rc -eq 0 ]] && printf 'abc\n' | cmp -s - "$TMP/c3.out"; then
  pass "stdin: 'cat' echoed 'abc' and exited 0 after EOF"
else
  fail "stdin: 'cat' should echo 'abc' and exit 0 (rc 124 = hung), got exit $rc, stdout '$(show "$TMP/c3.out")', stderr '$(show "$TMP/c3.err")'"
fi
check_gone "stdin" 2000

# --- 4. client killed mid-command ------------------------------------------------------
sshpass -p secret ssh "${SSH_OPTS_BASE[@]}" -p "$SSH_PORT" alice@127.0.0.1 'sleep 30' >"$TMP/c4.out" 2>"$TMP/c4.err" &
CLIENT_PID=$!
start=$(now_ms)
seen=""
while (($(now_ms) - start < 10000)); do
  seen=$(our_containers)
  [[ -z "$seen" ]] || break
  alive "$CLIENT_PID" || break
  sleep 0.1
done
if [[ -n "$seen" ]]; then
  pass "killed client: a container labelled with the session's connection id runs the command ($(($(now_ms) - start)) ms after connecting)"
else
  fail "killed client: no container labelled $MANAGED_LABEL + $CONN_LABEL=<webhook connectionId> appeared within 10 s"
  describe_managed_containers
fi
elapsed=$(($(now_ms) - start))
if ((elapsed < 2000)); then
  sleep "$(awk -v ms=$((2000 - elapsed)) 'BEGIN { printf "%.3f", ms / 1000 }')"
fi
ssh_pid=$(pgrep -P "$CLIENT_PID" -x ssh || true)
if [[ -n "$ssh_pid" ]]; then
  kill -KILL "$ssh_pid" 2>/dev/null || true
fi
kill -KILL "$CLIENT_PID" 2>/dev/null || true
wait "$CLIENT_PID" 2>/dev/null || true
CLIENT_PID=""
check_gone "killed client" 5000

# --- 5. timing (informational) ---------------------------------------------------------
median_of_3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
ssh_times=()
for _ in 1 2 3; do
  t0=$(now_ms)
  SSH_TIMEOUT=30 cssh_pw secret true >/dev/null 2>&1 || true
  ssh_times+=($(($(now_ms) - t0)))
done
docker_times=()
for _ in 1 2 3; do
  t0=$(now_ms)
  docker run --rm --network none "$GUEST_IMAGE" true >/dev/null 2>&1 || true
  docker_times+=($(($(now_ms) - t0)))
done
info "wall time 'ssh ... true': median $(median_of_3 "${ssh_times[@]}") ms (runs: ${ssh_times[*]} ms)"
info "wall time 'docker run --rm --network none $GUEST_IMAGE true': median $(median_of_3 "${docker_times[@]}") ms (runs: ${docker_times[*]} ms)"
check_gone "timing sessions" 2000

ours=$(our_containers | wc -l)
others=$(($(docker ps -aq --filter "label=$MANAGED_LABEL" | wc -l) - ours))
if ((others > 0)); then
  info "$others container(s) labelled $MANAGED_LABEL exist that do not belong to this test's connections"
fi

# --- graceful stop -------------------------------------------------------------------------
# SIGTERM ends the server cleanly (exit 0). Under the sanitizer build a leak or memory error
# found at exit makes the exit code non-zero, so this check also catches those.
if ! alive "$SERVER_PID"; then
  fail "the server process died during the test"
else
  kill -TERM "$SERVER_PID"
  server_rc=0
  for ((i = 0; i < 100; i++)); do
    alive "$SERVER_PID" || break
    sleep 0.1
  done
  if alive "$SERVER_PID"; then
    fail "graceful stop: the server did not exit within 10 s of SIGTERM"
  else
    wait "$SERVER_PID" || server_rc=$?
    SERVER_PID=""
    if ((server_rc == 0)) && grep -q SERVER_STOPPED "$TMP/server.log"; then
      pass "graceful stop: the server exited 0 after SIGTERM and logged SERVER_STOPPED"
    else
      fail "graceful stop: exit code $server_rc after SIGTERM (see the server log for sanitizer reports)"
    fi
  fi
fi

# --- result ------------------------------------------------------------------------------
report_and_exit e2e_exec

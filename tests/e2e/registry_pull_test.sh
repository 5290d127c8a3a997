#!/usr/bin/env bash
# shellcheck disable=SC2317  # the cleanup hooks run from the EXIT trap
# End-to-end test of image pulls: the real server and OpenSSH client, the main dockerd, and two
# local registries (Debian's docker-registry on 127.0.0.1; dockerd treats 127.0.0.0/8 registries
# as insecure, so plain HTTP works) sharing one storage: one open, one behind htpasswd. The guest
# image is pushed there under a new name. It shows, per imagePullPolicy:
#   - Never with the image absent: a clear error to the SSH user and the log, nothing pulled;
#   - IfNotPresent (the default, in both config layouts) pulls an absent image, and never pulls
#     one that is present, tagged or untagged (proved with the registry stopped);
#   - Always pulls even a present image (fails clearly with the registry stopped);
#   - credentials from execution.auth (username/password, or auth) reach the registry; wrong or
#     missing ones fail clearly.
# Usage: tests/e2e/registry_pull_test.sh path/to/containerssh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/lib/engine_env.sh
source "$HERE/lib/engine_env.sh"
e2e_start "${1:-}" /tmp/cssh-reg.XXXXXX docker docker-registry htpasswd sshpass ssh timeout ss base64 "$PYTHON"
REPO="cssh-e2e-$$/guest"
OPEN_PORT=$(free_port)
AUTH_PORT=$(free_port)
while [[ "$AUTH_PORT" == "$OPEN_PORT" ]]; do AUTH_PORT=$(free_port); done
OPEN_IMAGE="127.0.0.1:$OPEN_PORT/$REPO:v1"
AUTH_IMAGE="127.0.0.1:$AUTH_PORT/$REPO:v1"
UNTAGGED_IMAGE="127.0.0.1:$OPEN_PORT/$REPO"  # means :latest
REG_USER=puller
REG_PASS='pull-Secret_1'
OPEN_PID=""
AUTH_PID=""

# Every tag this test made or pulled (the image itself is the guest image and stays).
our_tags() {
  docker images --format '{{.Repository}}:{{.Tag}}' |
    grep -E "^127\.0\.0\.1:($OPEN_PORT|$AUTH_PORT)/$REPO:" || true
}

LOG_TAIL=15
after_cleanup() {
  stop_pid "$OPEN_PID"
  stop_pid "$AUTH_PID"
  our_tags | xargs -r docker rmi >/dev/null 2>&1
}

ssh-keygen -q -t ed25519 -N '' -f "$TMP/host_ed25519" >/dev/null

# --- registries -------------------------------------------------------------------------------------
htpasswd -Bbn "$REG_USER" "$REG_PASS" >"$TMP/htpasswd"
registry_config() {  # registry_config PORT [auth]
  cat <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $TMP/registry-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$1
  secret: cssh-e2e-secret
EOF
  if [[ "${2:-}" == auth ]]; then
    cat <<EOF
auth:
  htpasswd:
    realm: cssh-e2e
    path: $TMP/htpasswd
EOF
  fi
}
start_registry() {  # start_registry NAME PORT [auth]; prints the pid
  registry_config "$2" "${3:-}" >"$TMP/$1.yml"
  docker-registry serve "$TMP/$1.yml" >>"$TMP/$1.log" 2>&1 &
  local pid=$! i
  for ((i = 0; i < 100; i++)); do
    port_listening "$2" && break
    sleep 0.05
  done
  port_listening "$2" || { fail "registry $1 does not listen on 127.0.0.1:$2"; exit 1; }
  echo "$pid"
}
# manifest_gets NAME: how many manifest fetches that registry has served (pulls, not pushes).
manifest_gets() { grep -cE '"(GET|HEAD) /v2/[^ ]*/manifests/' "$TMP/$1.log" || true; }

OPEN_PID=$(start_registry open "$OPEN_PORT")
AUTH_PID=$(start_registry auth "$AUTH_PORT" auth)
docker tag "$GUEST_IMAGE" "$OPEN_IMAGE"
if docker push "$OPEN_IMAGE" >"$TMP/push.out" 2>&1 && docker rmi "$OPEN_IMAGE" >/dev/null; then
  info "pushed $GUEST_IMAGE as $OPEN_IMAGE (served by both registries) in $(($(now_ms) - T0)) ms"
else
  fail "could not push to the local registry: $(tail -n 3 "$TMP/push.out")"
  exit 1
fi

start_webhook

# write_config NAME IMAGE DOCKER_EXTRA [legacy]: a server whose execution pulls IMAGE;
# DOCKER_EXTRA is YAML placed in execution (indented 4), e.g. imagePullPolicy and auth.
write_config() {
  local name=$1 image=$2 extra=$3 layout=${4:-current} port
  port=$(free_port)
  {
    server_config_head "$port"
    if [[ "$layout" == legacy ]]; then
      # The legacy layout: backend dockerrun, one `timeout`, always session mode.
      cat <<EOF
backend: dockerrun
dockerrun:
  host: unix:///var/run/docker.sock
  config:
    container:
      image: $image
    timeout: 30s
EOF
      [[ -z "$extra" ]] || printf '%s\n' "$extra"
    else
      docker_session_block "$image" ""
      [[ -z "$extra" ]] || printf '%s\n' "$extra"
    fi
  } >"$TMP/$name.yaml"
}

# run_case NAME COMMAND: starts server NAME, runs one session, stops the server; leaves
# $TMP/NAME.out, .err and RC.
run_case() {
  local name=$1 cmd=$2
  start_server "$name" || return 1
  RC=0
  cssh "$SSH_PORT" "$cmd" >"$TMP/$name.out" 2>"$TMP/$name.err" || RC=$?
  stop_servers
}

present() { docker image inspect "$1" >/dev/null 2>&1; }

# --- 1. Never, image absent ----------------------------------------------------------------------
before=$(manifest_gets open)
write_config never "$OPEN_IMAGE" "    imagePullPolicy: Never"
run_case never 'echo should-not-run'
if ((RC != 0)) && [[ ! -s "$TMP/never.out" ]] &&
  grep -q "image $OPEN_IMAGE is not present on the Docker Engine, and docker.execution.imagePullPolicy is Never" "$TMP/never.err"; then
  pass "Never, absent: refused; the user read: $(head -c 200 "$TMP/never.err")"
else
  fail "Never, absent: exit $RC, stdout '$(show "$TMP/never.out")', stderr '$(show "$TMP/never.err")'"
fi
if grep -q "DOCKER_PROGRAM_FAILED.*is not present on the Docker Engine" "$TMP/never.log" && (($(manifest_gets open) == before)) &&
  ! present "$OPEN_IMAGE"; then
  pass "Never, absent: logged, and nothing was pulled"
else
  fail "Never, absent: log or registry shows otherwise ($(manifest_gets open) manifest fetches, were $before)"
fi

# --- 2. the default (IfNotPresent), image absent: pulled ---------------------------------------------
before=$(manifest_gets open)
write_config default "$OPEN_IMAGE" ""
run_case default 'echo pulled-and-ran'
if ((RC == 0)) && printf 'pulled-and-ran\n' | cmp -s - "$TMP/default.out" && present "$OPEN_IMAGE" &&
  (($(manifest_gets open) > before)); then
  pass "default policy, absent: pulled from the registry and ran"
else
  fail "default policy, absent: exit $RC, stdout '$(show "$TMP/default.out")', stderr '$(show "$TMP/default.err")'"
fi
if grep -q "DOCKER_IMAGE_PULL\b.*pulling image $OPEN_IMAGE" "$TMP/default.log" &&
  grep -q "DOCKER_IMAGE_PULLED.*pulled image $OPEN_IMAGE in [0-9]* ms" "$TMP/default.log"; then
  pass "default policy, absent: the pull is logged ($(grep -o 'pulled image [^"]*' "$TMP/default.log" | head -n 1 | cut -c1-120))"
else
  fail "default policy: no DOCKER_IMAGE_PULL / DOCKER_IMAGE_PULLED lines: $(grep DOCKER_ "$TMP/default.log" | head -n 3)"
fi

# --- 3. IfNotPresent never pulls a present image: shown with the registry stopped -------------------
stop_pid "$OPEN_PID"
OPEN_PID=""
write_config legacy "$OPEN_IMAGE" "" legacy
run_case legacy 'echo local-only'
if ((RC == 0)) && printf 'local-only\n' | cmp -s - "$TMP/legacy.out" && ! grep -q DOCKER_IMAGE_PULL "$TMP/legacy.log"; then
  pass "legacy dockerrun layout, default policy, present: ran without pulling (registry down)"
else
  fail "legacy layout, present: exit $RC, stdout '$(show "$TMP/legacy.out")', stderr '$(show "$TMP/legacy.err")'"
fi
docker tag "$GUEST_IMAGE" "$UNTAGGED_IMAGE:latest"
write_config untagged "$UNTAGGED_IMAGE" "    imagePullPolicy: IfNotPresent"
run_case untagged 'echo untagged-local'
if ((RC == 0)) && printf 'untagged-local\n' | cmp -s - "$TMP/untagged.out" && ! grep -q DOCKER_IMAGE_PULL "$TMP/untagged.log"; then
  pass "IfNotPresent, untagged name present as :latest: ran without pulling (registry down)"
else
  fail "IfNotPresent, untagged: exit $RC, stdout '$(show "$TMP/untagged.out")', stderr '$(show "$TMP/untagged.err")'"
fi

# --- 4. Always pulls even a present image: with the registry down it fails, clearly -------------------
write_config always_down "$OPEN_IMAGE" "    imagePullPolicy: Always"
run_case always_down 'echo should-not-run'
if ((RC != 0)) && [[ ! -s "$TMP/always_down.out" ]] && grep -q "pull image $OPEN_IMAGE: " "$TMP/always_down.err" &&
  grep -qi "connection refused" "$TMP/always_down.err"; then
  pass "Always, present, registry down: a pull was attempted and failed clearly: $(head -c 160 "$TMP/always_down.err")..."
else
  fail "Always, registry down: exit $RC, stdout '$(show "$TMP/always_down.out")', stderr '$(show "$TMP/always_down.err")'"
fi

# --- 5. credentials (the htpasswd registry) -----------------------------------------------------------------
write_config nocreds "$AUTH_IMAGE" "    imagePullPolicy: Always"
run_case nocreds 'echo should-not-run'
if ((RC != 0)) && [[ ! -s "$TMP/nocreds.out" ]] && grep -q "pull image $AUTH_IMAGE: " "$TMP/nocreds.err" &&
  grep -qiE "no basic auth credentials|unauthorized" "$TMP/nocreds.err"; then
  pass "Always, no credentials: refused by the registry: $(head -c 200 "$TMP/nocreds.err")"
else
  fail "no credentials: exit $RC, stderr '$(show "$TMP/nocreds.err")'"
fi

write_config wrongcreds "$AUTH_IMAGE" "    imagePullPolicy: Always
    auth:
      username: $REG_USER
      password: not-the-password"
run_case wrongcreds 'echo should-not-run'
if ((RC != 0)) && [[ ! -s "$TMP/wrongcreds.out" ]] && grep -q "pull image $AUTH_IMAGE: " "$TMP/wrongcreds.err" &&
  grep -qiE "unauthorized|authentication required|incorrect username or password" "$TMP/wrongcreds.err"; then
  pass "Always, wrong password: refused: $(head -c 200 "$TMP/wrongcreds.err")"
else
  fail "wrong password: exit $RC, stderr '$(show "$TMP/wrongcreds.err")'"
fi
if grep -q "DOCKER_PROGRAM_FAILED.*pull image $AUTH_IMAGE" "$TMP/wrongcreds.log" &&
  grep -q "pulling image $AUTH_IMAGE with registry credentials" "$TMP/wrongcreds.log"; then
  pass "Always, wrong password: the failed pull with credentials is logged"
else
  fail "wrong password: log lacks the pull or its failure"
fi

before=$(manifest_gets auth)
write_config rightcreds "$AUTH_IMAGE" "    imagePullPolicy: Always
    auth:
      username: $REG_USER
      password: '$REG_PASS'
      serveraddress: 127.0.0.1:$AUTH_PORT"
run_case rightcreds 'echo authenticated'
if ((RC == 0)) && printf 'authenticated\n' | cmp -s - "$TMP/rightcreds.out" && present "$AUTH_IMAGE" &&
  (($(manifest_gets auth) > before)); then
  pass "Always, right username/password: pulled through the htpasswd registry and ran"
else
  fail "right credentials: exit $RC, stdout '$(show "$TMP/rightcreds.out")', stderr '$(show "$TMP/rightcreds.err")'"
fi

before=$(manifest_gets auth)
write_config authfield "$AUTH_IMAGE" "    imagePullPolicy: Always
    auth:
      auth: $(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64 -w 0)"
run_case authfield 'echo auth-field'
if ((RC == 0)) && printf 'auth-field\n' | cmp -s - "$TMP/authfield.out" && (($(manifest_gets auth) > before)); then
  pass "Always, present, credentials as 'auth' (base64 user:password): pulled again and ran"
else
  fail "auth field: exit $RC, stdout '$(show "$TMP/authfield.out")', stderr '$(show "$TMP/authfield.err")'"
fi

# --- nothing left -------------------------------------------------------------------------------------------
left=""
for ((i = 0; i < 30; i++)); do
  left=$(our_containers)
  [[ -n "$left" ]] || break
  sleep 0.1
done
if [[ -z "$left" ]]; then
  pass "no container of this test is left"
else
  fail "containers left: $left"
fi
info "total time $(($(now_ms) - T0)) ms"
report_and_exit e2e_registry_pull

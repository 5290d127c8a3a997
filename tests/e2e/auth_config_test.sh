#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2016  # the cleanup hook runs from the EXIT trap; remote commands are quoted on purpose
# End-to-end test of authentication, authorization and the config server: the real server, the
# real dockerd and the OpenSSH client (sshpass for passwords, ssh-keygen keys for public keys)
# against tests/e2e/authconfig_server.py, which checks every field of every request. It shows:
#   - webhook logins by password and by key; a wrong password and an unknown key are refused;
#   - the answers' environment and files land in the container (files mode 0600, before start),
#     metadata travels to authz and the config server, sensitive values never reach the log;
#   - authz can refuse; authenticatedUsername becomes the container's user name;
#   - the config server gives one user another image and environment; a config server that
#     fails (500) or answers an invalid configuration ends that login, with a log line;
#   - failures: server down, server hanging past the timeout, 500 then success on retry,
#     garbage JSON (not retried), a redirect (not followed, as ContainerSSH by default);
#   - HTTPS with the legacy 0.4 `auth: {url, ...}` block: right CA and client certificate work,
#     a wrong CA or no client certificate is refused;
#   - the built-in users file: right and wrong password for yescrypt, sha512-crypt and bcrypt,
#     keyboard-interactive, a listed and an unlisted key, the per-user image and environment,
#     and a users file with a plain-text password stops the server at start.
# Usage: tests/e2e/auth_config_test.sh path/to/containerssh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/lib/engine_env.sh
source "$HERE/lib/engine_env.sh"
e2e_start "${1:-}" /tmp/cssh-authcfg.XXXXXX docker openssl sshpass ssh ssh-keygen timeout ss "$PYTHON"
ALT_IMAGE=cssh-auth-alt:latest
PASSWORD=open-sesame-42
AC_PIDS=()

# Containers are found by the instance label each server logs at start.
instance_ids() { grep -ho '"instanceId":"[0-9a-f]*"' "$TMP"/*.log 2>/dev/null | sed 's/.*:"//; s/"$//' | sort -u; }
our_containers() {
  local id
  for id in $(instance_ids); do docker ps -aq --filter "label=containerssh_instance=$id"; done
}

# The test auth/config servers (the containerssh servers and their containers go first).
after_cleanup() {
  local pid
  for pid in "${AC_PIDS[@]}"; do stop_pid "$pid"; done
}

ssh-keygen -q -t ed25519 -N '' -f "$TMP/host_ed25519" >/dev/null
ssh-keygen -q -t ed25519 -N '' -C alice-key -f "$TMP/alice_key" >/dev/null
ssh-keygen -q -t ed25519 -N '' -C stranger -f "$TMP/stranger_key" >/dev/null

# A second image for the "another image" cases: the guest image plus a marker file.
if ! docker image inspect "$ALT_IMAGE" >/dev/null 2>&1; then
  maker=cssh-auth-alt-maker-$$
  docker run --name "$maker" --network none "$GUEST_IMAGE" /bin/sh -c 'echo alt image > /alt-marker' >/dev/null &&
    docker commit --change 'CMD ["/bin/sh"]' "$maker" "$ALT_IMAGE" >/dev/null
  docker rm -f "$maker" >/dev/null 2>&1 || true
fi
docker image inspect "$ALT_IMAGE" >/dev/null 2>&1 || { fail "could not build $ALT_IMAGE"; exit 1; }

# start_authconfig NAME [ARGS...]: the test server; sets AC_PORT.
start_authconfig() {
  local name=$1 i
  shift
  "$PYTHON" "$HERE/authconfig_server.py" --port 0 --alice-key "$TMP/alice_key.pub" --alt-image "$ALT_IMAGE" "$@" \
    >"$TMP/$name.out" 2>"$TMP/$name.log" &
  AC_PIDS+=($!)
  AC_PORT=""
  for ((i = 0; i < 100; i++)); do
    # The output file appears only once the shell has started python: not an error before that.
    AC_PORT=$(awk '$1 == "LISTENING" { print $2; exit }' "$TMP/$name.out" 2>/dev/null || true)
    [[ -n "$AC_PORT" ]] && break
    sleep 0.05
  done
  [[ -n "$AC_PORT" ]] || { fail "$name: the test auth/config server did not start"; exit 1; }
}

# stats PORT [--https]: the test server's counters and violations (JSON).
stats() {
  if [[ "${2:-}" == --https ]]; then
    curl -sk --cert "$TMP/client.pem" --key "$TMP/client-key.pem" "https://127.0.0.1:$1/stats"
  else
    curl -s "http://127.0.0.1:$1/stats"
  fi
}
# count PORT KEY: how many requests "<endpoint> <user>" the server saw.
count() { stats "$1" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["requests"].get(sys.argv[1], 0))' "$2"; }

docker_block() {
  docker_session_block
  printf 'log:\n  level: debug\n'
}

SSH_COMMON=(-F /dev/null -T -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
  -o ConnectTimeout=10)
# pw PORT USER PASSWORD COMMAND...: a password login (stdout/stderr to $OUT/$ERR, exit code in RC).
pw() {
  local port=$1 user=$2 password=$3
  shift 3
  RC=0
  timeout "${SSH_TIMEOUT:-30}" sshpass -p "$password" ssh "${SSH_COMMON[@]}" -p "$port" \
    -o PreferredAuthentications=password -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 \
    "$user@127.0.0.1" "$@" >"$TMP/out" 2>"$TMP/err" || RC=$?
}
# kbd PORT USER PASSWORD COMMAND...: the same through keyboard-interactive.
kbd() {
  local port=$1 user=$2 password=$3
  shift 3
  RC=0
  timeout "${SSH_TIMEOUT:-30}" sshpass -p "$password" ssh "${SSH_COMMON[@]}" -p "$port" \
    -o PreferredAuthentications=keyboard-interactive -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 \
    "$user@127.0.0.1" "$@" >"$TMP/out" 2>"$TMP/err" || RC=$?
}
# key PORT USER KEYFILE COMMAND...: a public key login.
key() {
  local port=$1 user=$2 keyfile=$3
  shift 3
  RC=0
  timeout "${SSH_TIMEOUT:-30}" ssh "${SSH_COMMON[@]}" -p "$port" -o BatchMode=yes -o IdentitiesOnly=yes \
    -o PreferredAuthentications=publickey -i "$keyfile" "$user@127.0.0.1" "$@" >"$TMP/out" 2>"$TMP/err" || RC=$?
}
out() { cat "$TMP/out"; }
refused() {  # refused WHAT: the last login was refused by the server
  # With LogLevel=ERROR a login ended by the server's disconnect (config server failures) leaves
  # stderr empty; what the user sees then is checked separately at LogLevel=INFO.
  if [[ $RC -eq 255 ]] && { grep -q 'Permission denied\|Connection closed\|disconnect' "$TMP/err" || [[ ! -s "$TMP/err" ]]; } &&
    [[ ! -s "$TMP/out" ]]; then
    pass "$1: refused (exit 255: $(head -n 1 "$TMP/err" | cut -c1-90))"
  else
    fail "$1: should be refused, got exit $RC, stdout '$(show "$TMP/out")', stderr '$(show "$TMP/err")'"
  fi
}
logged() {  # logged LOG PATTERN WHAT
  if grep -q -- "$2" "$TMP/$1.log"; then pass "$3"; else fail "$3: no line matching '$2' in $1.log"; fi
}

# === 1. webhooks over HTTP: auth, authz, config server ========================================
start_authconfig ac
AC_HTTP=$AC_PORT
MAIN_PORT=$(free_port)
cat >"$TMP/main.yaml" <<EOF
ssh:
  listen: 127.0.0.1:$MAIN_PORT
  hostkeys: [$TMP/host_ed25519]
auth:
  password:
    method: webhook
    webhook: {url: http://127.0.0.1:$AC_HTTP/auth, timeout: 800ms}
  publicKey:
    method: webhook
    webhook: {url: http://127.0.0.1:$AC_HTTP/auth, timeout: 800ms}
  authz:
    method: webhook
    webhook: {url: http://127.0.0.1:$AC_HTTP/auth}
  authTimeout: 3s
configserver:
  url: http://127.0.0.1:$AC_HTTP/config
  timeout: 800ms
$(docker_block)
EOF
start_server main || exit 1
info "test server on $AC_HTTP, containerssh on $MAIN_PORT, ready after $(($(now_ms) - T0)) ms"

pw "$MAIN_PORT" alice "$PASSWORD" 'echo "$AUTH_ENV|$SECRET_ENV|$CONFIG_ENV"; cat /etc/cssh-test/greeting; stat -c "%a %u" /etc/cssh-test/greeting'
if [[ $RC -eq 0 ]] && [[ "$(out)" == $'from-auth|hush-hush|alice-config\nhello file\n600 0' ]]; then
  pass "password login: the answers' environment (auth + config server) and the file (mode 600) are in the container"
else
  fail "password login: expected env, file and mode, got exit $RC, stdout '$(show "$TMP/out")', stderr '$(show "$TMP/err")'"
fi
if [[ $(count "$AC_HTTP" "authz alice") -ge 1 && $(count "$AC_HTTP" "config alice") -ge 1 ]]; then
  pass "alice's login went through /password, /authz and the config server"
else
  fail "alice's login did not reach /authz and /config: $(stats "$AC_HTTP")"
fi

pw "$MAIN_PORT" alice wrong-password 'echo should-not-run'
refused "wrong password"

key "$MAIN_PORT" alice "$TMP/alice_key" 'echo key-ok $AUTH_ENV'
if [[ $RC -eq 0 && "$(out)" == "key-ok from-auth" ]]; then
  pass "public key login: alice's key admitted by the webhook (/pubkey), environment applied"
else
  fail "public key login: got exit $RC, stdout '$(show "$TMP/out")', stderr '$(show "$TMP/err")'"
fi
key "$MAIN_PORT" alice "$TMP/stranger_key" 'echo should-not-run'
refused "unknown key"

pw "$MAIN_PORT" mallory "$PASSWORD" 'echo should-not-run'
refused "authz denial"
logged main 'AUTHZ_DENIED' "authz denial is logged (AUTHZ_DENIED)"

pw "$MAIN_PORT" renamed "$PASSWORD" 'echo "$USER"'
if [[ $RC -eq 0 && "$(out)" == renamed-user ]]; then
  pass "authenticatedUsername from the answer is the container's USER"
else
  fail "authenticatedUsername: expected USER=renamed-user, got exit $RC, '$(show "$TMP/out")'"
fi

pw "$MAIN_PORT" carol "$PASSWORD" 'cat /alt-marker; echo "$CONFIG_ENV"'
if [[ $RC -eq 0 && "$(out)" == $'alt image\nfrom-config' ]]; then
  pass "config server: carol runs in $ALT_IMAGE with CONFIG_ENV=from-config"
else
  fail "config server: carol should get $ALT_IMAGE and CONFIG_ENV, got exit $RC, '$(show "$TMP/out")', '$(show "$TMP/err")'"
fi
pw "$MAIN_PORT" alice "$PASSWORD" 'test -e /alt-marker && echo alt || echo guest'
if [[ "$(out)" == guest ]]; then pass "config server: the other image is carol's only"; else fail "alice got carol's image: '$(show "$TMP/out")'"; fi

pw "$MAIN_PORT" flaky "$PASSWORD" 'echo flaky-ok'
if [[ $RC -eq 0 && "$(out)" == flaky-ok && $(count "$AC_HTTP" "password flaky") -eq 2 ]]; then
  pass "500 then success: retried once, then admitted"
else
  fail "500 then success: exit $RC, '$(show "$TMP/out")', /password calls $(count "$AC_HTTP" "password flaky")"
fi
logged main 'AUTH_WEBHOOK_ATTEMPT_FAILED.*answered HTTP 500; retrying in 250 ms' "the 500 is logged with its reason and the retry"

start=$(now_ms)
pw "$MAIN_PORT" slowpoke "$PASSWORD" 'echo should-not-run'
took=$(($(now_ms) - start))
refused "server hanging past the timeout"
if ((took >= 2500 && took < 6500)); then
  pass "hanging server: the login ended after $took ms (authTimeout 3s, per-call timeout 800ms)"
else
  fail "hanging server: the login took $took ms, expected about 3 s"
fi
logged main 'no complete answer within 800 ms' "the per-call timeout is logged"

pw "$MAIN_PORT" garbage "$PASSWORD" 'echo should-not-run'
refused "garbage JSON"
if [[ $(count "$AC_HTTP" "password garbage") -eq 1 ]]; then pass "garbage JSON is not retried"; else fail "garbage JSON was asked $(count "$AC_HTTP" "password garbage") times"; fi
logged main 'AUTH_WEBHOOK_BAD_RESPONSE.*not valid JSON' "garbage JSON is logged"

pw "$MAIN_PORT" redirect "$PASSWORD" 'echo should-not-run'
refused "redirect"
if [[ $(count "$AC_HTTP" "password redirect") -eq 1 && $(count "$AC_HTTP" "elsewhere redirect") -eq 0 ]]; then
  pass "redirect: not followed (allowRedirects is off by default, as in ContainerSSH), not retried"
else
  fail "redirect: /password $(count "$AC_HTTP" "password redirect"), /elsewhere $(count "$AC_HTTP" "elsewhere redirect")"
fi
logged main 'redirects are not followed' "the refused redirect is logged"

pw "$MAIN_PORT" cfgfail "$PASSWORD" 'echo should-not-run'
refused "config server answering 500"
# What a user sees (default LogLevel INFO shows banners): the reason, not just "Permission denied".
timeout "${SSH_TIMEOUT:-30}" sshpass -p "$PASSWORD" ssh -F /dev/null -T -o StrictHostKeyChecking=no \
  -o UserKnownHostsFile=/dev/null -o LogLevel=INFO -o PreferredAuthentications=password \
  -o NumberOfPasswordPrompts=1 -p "$MAIN_PORT" cfgfail@127.0.0.1 true >"$TMP/out" 2>"$TMP/err" || true
if grep -q 'login refused: the configuration server could not be used' "$TMP/err"; then
  pass "config server failure: the client is told why"
else
  fail "config server failure: the client should see the reason, stderr '$(show "$TMP/err")'"
fi
logged main 'CONFIG_SERVER_FAILED.*login refused: the configuration server failed.*answered HTTP 500' \
  "the failing config server is logged"
pw "$MAIN_PORT" cfgbad "$PASSWORD" 'echo should-not-run'
refused "config server answering an invalid configuration"
logged main 'CONFIG_SERVER_FAILED.*docker.execution.imagePullPolicy: expected one of' \
  "the invalid configuration is logged with its key"
if alive "$SERVER_PID"; then pass "the daemon survived every failure"; else fail "the daemon died"; fi

# HTTP keep-alive: the webhook and config server calls share connections (the test server speaks
# HTTP/1.1 and keeps them; each GET /stats of this script is a connection of its own).
read -r requests connections < <(stats "$AC_HTTP" | "$PYTHON" -c '
import json, sys
s = json.load(sys.stdin)
print(sum(s["requests"].values()), s["connections"])')
if ((connections < requests)); then
  pass "keep-alive: $requests webhook calls went over $connections connections"
else
  fail "keep-alive: $requests webhook calls needed $connections connections (no reuse)"
fi

violations=$(stats "$AC_HTTP" | "$PYTHON" -c 'import json,sys; v=json.load(sys.stdin)["violations"]; print(len(v)); [print(x, file=sys.stderr) for x in v]')
if [[ "$violations" == 0 ]]; then
  pass "every request carried exactly ContainerSSH's fields, with the right shapes and values"
else
  fail "$violations request(s) broke the protocol (see above)"
fi
if grep -q -e 's3cr3t-token' -e 'hush-hush' -e "$PASSWORD" "$TMP/main.log"; then
  fail "a sensitive value or a password reached the server log"
else
  pass "no sensitive value and no password in the (debug level) server log"
fi
logged main '"metadata":{"team":"blue","token":"<sensitive>"}' "metadata is logged, the sensitive value masked"

# === 2. a webhook that is down ==================================================================
DOWN_PORT=$(free_port)
DEAD_PORT=$(free_port)
cat >"$TMP/down.yaml" <<EOF
ssh:
  listen: 127.0.0.1:$DOWN_PORT
  hostkeys: [$TMP/host_ed25519]
auth:
  password:
    method: webhook
    webhook: {url: http://127.0.0.1:$DEAD_PORT, timeout: 500ms}
  authTimeout: 1500ms
$(docker_block)
EOF
start_server down || exit 1
start=$(now_ms)
pw "$DOWN_PORT" alice "$PASSWORD" 'echo should-not-run'
took=$(($(now_ms) - start))
refused "auth server down"
if ((took < 5000)); then pass "server down: refused after $took ms (authTimeout 1.5s)"; else fail "server down: took $took ms"; fi
logged down "AUTH_WEBHOOK_FAILED.*127.0.0.1:$DEAD_PORT.*connect" "the unreachable server is named in the log"

# === 3. HTTPS, in the legacy 0.4 layout ============================================================
if ! { make_ca "$TMP" ca && make_ca "$TMP" wrongca &&
  make_cert "$TMP" server ca 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth' &&
  make_cert "$TMP" client ca 'extendedKeyUsage=clientAuth'; }; then
  fail "openssl could not make the certificates"
  exit 1
fi
start_authconfig tls --tls-cert "$TMP/server.pem" --tls-key "$TMP/server-key.pem" --tls-client-ca "$TMP/ca.pem"
AC_TLS=$AC_PORT
tls_server() {  # tls_server NAME CACERT [CLIENT CERT LINES]
  local port
  port=$(free_port)
  cat >"$TMP/$1.yaml" <<EOF
ssh:
  listen: 127.0.0.1:$port
  hostkeys: [$TMP/host_ed25519]
auth:
  url: https://127.0.0.1:$AC_TLS/auth
  cacert: $2
  password: true
  pubkey: false
  timeout: 1s
  authTimeout: 1500ms
$3
$(docker_block)
EOF
  start_server "$1"
}
tls_server tls_ok "$TMP/ca.pem" "  cert: $TMP/client.pem
  key: $TMP/client-key.pem" || exit 1
pw "$SSH_PORT" alice "$PASSWORD" 'echo tls-ok'
if [[ $RC -eq 0 && "$(out)" == tls-ok ]]; then
  pass "HTTPS webhook (legacy auth: {url, cacert, cert, key}): the right CA and client certificate work"
else
  fail "HTTPS webhook: exit $RC, '$(show "$TMP/out")', '$(show "$TMP/err")'"
fi
tls_server tls_wrongca "$TMP/wrongca.pem" "  cert: $TMP/client.pem
  key: $TMP/client-key.pem" || exit 1
pw "$SSH_PORT" alice "$PASSWORD" 'echo should-not-run'
refused "HTTPS with a wrong CA"
logged tls_wrongca 'HTTP_TLS_FAILED\|certificate verify failed' "the wrong CA is logged as a TLS failure"
tls_server tls_nocert "$TMP/ca.pem" "" || exit 1
pw "$SSH_PORT" alice "$PASSWORD" 'echo should-not-run'
refused "HTTPS without the client certificate the server requires"
if [[ $(stats "$AC_TLS" --https | "$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)["violations"]))') == 0 ]]; then
  pass "HTTPS requests carried the right fields too"
else
  fail "HTTPS requests broke the protocol: $(stats "$AC_TLS" --https)"
fi

# === 4. the built-in users file ====================================================================
crypt_hash() {  # crypt_hash PREFIX COST PASSWORD: a hash made by libcrypt itself
  "$PYTHON" - "$@" <<'PY'
import ctypes, sys
lib = ctypes.CDLL("libcrypt.so.1")
lib.crypt_gensalt.restype = ctypes.c_char_p
lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
lib.crypt.restype = ctypes.c_char_p
lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
setting = lib.crypt_gensalt(sys.argv[1].encode(), int(sys.argv[2]), None, 0)
print(lib.crypt(sys.argv[3].encode(), setting).decode())
PY
}
mkdir -p "$TMP/keys"
cp "$TMP/alice_key.pub" "$TMP/keys/kim.pub"
cat >"$TMP/users.yaml" <<EOF
users:
  yuki:
    password: "$(crypt_hash '$y$' 0 yuki-pw)"
  shiro:
    password: "$(openssl passwd -6 shiro-pw)"
  bea:
    password: "$(crypt_hash '$2b$' 8 bea-pw)"
    image: $ALT_IMAGE
    environment:
      BEA_ENV: from-users-file
  kim:
    authorizedKeysFile: keys/kim.pub
EOF
FILE_PORT=$(free_port)
cat >"$TMP/file.yaml" <<EOF
ssh:
  listen: 127.0.0.1:$FILE_PORT
  hostkeys: [$TMP/host_ed25519]
auth:
  password:
    method: file
    file: {path: $TMP/users.yaml}
  publicKey:
    method: file
    file: {path: $TMP/users.yaml}
$(docker_block)
EOF
start_server file || exit 1
FILE_PID=$SERVER_PID
for u in yuki:yuki-pw:yescrypt shiro:shiro-pw:sha512-crypt bea:bea-pw:bcrypt; do
  IFS=: read -r name password method <<<"$u"
  pw "$FILE_PORT" "$name" "$password" 'echo "$USER ok"'
  if [[ $RC -eq 0 && "$(out)" == "$name ok" ]]; then
    pass "users file, $method: the right password logs $name in"
  else
    fail "users file, $method: $name's right password: exit $RC, '$(show "$TMP/out")', '$(show "$TMP/err")'"
  fi
  pw "$FILE_PORT" "$name" "$password-wrong" 'echo should-not-run'
  refused "users file, $method: a wrong password"
done
kbd "$FILE_PORT" yuki yuki-pw 'echo kbd-ok'
if [[ $RC -eq 0 && "$(out)" == kbd-ok ]]; then pass "users file: keyboard-interactive uses the password backend"; else fail "keyboard-interactive: exit $RC, '$(show "$TMP/err")'"; fi
pw "$FILE_PORT" bea bea-pw 'cat /alt-marker; echo "$BEA_ENV"'
if [[ $RC -eq 0 && "$(out)" == $'alt image\nfrom-users-file' ]]; then
  pass "users file: bea's own image and environment"
else
  fail "users file overrides: exit $RC, '$(show "$TMP/out")'"
fi
key "$FILE_PORT" kim "$TMP/alice_key" 'echo kim-key-ok'
if [[ $RC -eq 0 && "$(out)" == kim-key-ok ]]; then pass "users file: a key listed in authorizedKeysFile logs in"; else fail "listed key: exit $RC, '$(show "$TMP/err")'"; fi
key "$FILE_PORT" kim "$TMP/stranger_key" 'echo should-not-run'
refused "users file: a key that is not listed"
if grep -q -e yuki-pw -e shiro-pw -e bea-pw "$TMP/file.log"; then fail "a password reached the log"; else pass "no password in the users-file server's log"; fi

# The users-file workers are threads of their own: they must not hold up a graceful stop.
start=$(now_ms)
kill -TERM "$FILE_PID"
stop_rc=0
for ((i = 0; i < 100; i++)); do alive "$FILE_PID" || break; sleep 0.05; done
if alive "$FILE_PID"; then
  fail "graceful stop: the users-file server still runs 5 s after SIGTERM"
else
  wait "$FILE_PID" || stop_rc=$?
  if ((stop_rc == 0)) && grep -q SERVER_STOPPED "$TMP/file.log"; then
    pass "graceful stop: the users-file server exited 0 after SIGTERM in $(($(now_ms) - start)) ms"
  else
    fail "graceful stop: exit code $stop_rc"
  fi
fi

printf 'users:\n  eve:\n    password: plain-text\n' >"$TMP/plain.yaml"
sed "s#$TMP/users.yaml#$TMP/plain.yaml#g; s#127.0.0.1:$FILE_PORT#127.0.0.1:$(free_port)#" "$TMP/file.yaml" >"$TMP/plain_cfg.yaml"
rc=0
timeout 20 "$BINARY" --config "$TMP/plain_cfg.yaml" >"$TMP/plain.log" 2>&1 || rc=$?
if [[ $rc -ne 0 ]] && grep -q 'users.eve.password is plain text or a legacy hash' "$TMP/plain.log"; then
  pass "a users file with a plain-text password stops the server at start (exit $rc) and says why"
else
  fail "plain-text users file: exit $rc, log '$(show "$TMP/plain.log")'"
fi

# === the end: every container gone once the servers stopped ====================================
stop_servers
left=$(our_containers)
if [[ -z "$left" ]]; then pass "no container left behind"; else fail "containers left behind: $(echo "$left" | tr '\n' ' ')"; fi
info "total $(($(now_ms) - T0)) ms"
report_and_exit e2e_auth_config

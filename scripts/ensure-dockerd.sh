#!/usr/bin/env bash
# Makes sure a Docker Engine answers on /var/run/docker.sock.
# If none answers and we are root, starts dockerd in the background (no systemd needed) with the
# networking options this environment needs, logging to $CSSH_DOCKERD_LOG (default
# /var/log/cssh-dockerd.log), and waits up to 60 s. CSSH_DOCKER_SOCK overrides the socket path.
set -euo pipefail

SOCK=${CSSH_DOCKER_SOCK:-/var/run/docker.sock}
LOG=${CSSH_DOCKERD_LOG:-/var/log/cssh-dockerd.log}
WAIT_SECONDS=60

docker_answers() {
  if command -v curl >/dev/null 2>&1; then
    [[ "$(curl -s --max-time 3 --unix-socket "$SOCK" http://localhost/_ping 2>/dev/null)" == OK ]]
  else
    timeout 5 docker -H "unix://$SOCK" info >/dev/null 2>&1
  fi
}

if docker_answers; then
  echo "ensure-dockerd: Docker Engine answers on $SOCK"
  exit 0
fi

if [[ $EUID -ne 0 ]]; then
  echo "ensure-dockerd: no Docker Engine answers on $SOCK, and starting dockerd needs root." >&2
  echo "ensure-dockerd: run this as root (or start dockerd yourself and make $SOCK accessible)." >&2
  exit 1
fi

if pgrep -x dockerd >/dev/null 2>&1; then
  echo "ensure-dockerd: a dockerd process exists but does not answer yet; waiting for it"
else
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "ensure-dockerd: dockerd not found; install docker.io (scripts/install-deps.sh)" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$LOG")"
  echo "ensure-dockerd: starting dockerd (log: $LOG)"
  # setsid + full redirection: dockerd must outlive this script and must not hold our stdout
  # (ctest waits for every writer of a test's output pipe to go away).
  args=(--bridge=none --iptables=false --ip-masq=false)
  if [[ "$SOCK" != /var/run/docker.sock ]]; then args+=(--host "unix://$SOCK"); fi
  setsid dockerd "${args[@]}" </dev/null >>"$LOG" 2>&1 &
fi

for ((i = 0; i < WAIT_SECONDS * 4; i++)); do
  if docker_answers; then
    echo "ensure-dockerd: Docker Engine answers on $SOCK (after $((i / 4)) s)"
    exit 0
  fi
  sleep 0.25
done

echo "ensure-dockerd: no answer on $SOCK after ${WAIT_SECONDS} s; last lines of $LOG:" >&2
tail -n 30 "$LOG" >&2 2>/dev/null || true
exit 1

#!/usr/bin/env bash
# Installs the Debian 12 packages needed to build, run and test the server.
# Idempotent: when every package is already installed it returns at once without touching apt.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build ccache pkg-config
  # libraries
  libcaf-dev libssh-dev libboost-dev libboost-system-dev nlohmann-json3-dev libyaml-cpp-dev
  libssl-dev doctest-dev
  # crypt(3) for the built-in users file (yescrypt, bcrypt, sha512-crypt)
  libcrypt-dev
  # clang and its libFuzzer/sanitizer runtimes for the fuzz tree (tests/fuzz, build-fuzz)
  clang-14 libclang-rt-14-dev
  # Docker Engine and the guest image's contents (x11-utils: xdpyinfo, the X client of the X11 test)
  docker.io busybox-static openssh-sftp-server socat x11-utils
  # end-to-end tests and tools used by the scripts
  sshpass openssh-client python3-paramiko python3-asyncssh iproute2 procps curl
  # the X11 forwarding test's X server on the client side, and xauth, which ssh -X/-Y runs for its cookie
  xvfb xauth
  # the Engine-connection tests: certificates, a local registry with htpasswd credentials
  openssl docker-registry apache2-utils
  # SSH clients and auditors the connection-layer tests drive
  putty-tools ssh-audit
  # a real load balancer in front of two instances (PROXY protocol v2, health checks); the tests
  # run their own haproxy processes, the packaged service is not used
  haproxy
  # the benchmark's reference peer: OpenSSH sshd started by bench/run.py itself on a free port
  openssh-server
  # promtool, which checks /metrics in the observability tests. Debian ships it in prometheus
  # (about 100 MB). In a container (policy-rc.d) no service starts; on a systemd host the package
  # also enables a Prometheus server on :9090 (`systemctl disable --now prometheus` if unwanted).
  prometheus
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != installed ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=()
if [[ $EUID -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "install-deps: missing packages (${missing[*]}) and not root; run as root or install sudo" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-deps: done"

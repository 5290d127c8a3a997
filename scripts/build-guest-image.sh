#!/usr/bin/env bash
# Builds the small guest image the server starts for each session, without any registry:
# a root filesystem assembled from this machine's busybox-static and OpenSSH sftp-server,
# turned into an image with `docker import`.
#
# Usage: scripts/build-guest-image.sh [--force] [TAG]     (default TAG: containerssh-guest:latest)
# Skips the build when TAG already exists, unless --force is given.
set -euo pipefail

usage() { echo "usage: $0 [--force] [TAG]" >&2; exit 2; }

FORCE=0
TAG=""
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) usage ;;
    -*) echo "build-guest-image: unknown option $arg" >&2; usage ;;
    *) [[ -z "$TAG" ]] || usage; TAG=$arg ;;
  esac
done
TAG=${TAG:-containerssh-guest:latest}

BUSYBOX=/bin/busybox
SFTP_SERVER=/usr/lib/openssh/sftp-server
# ssh-add: the forwarding tests list the client's forwarded agent keys from inside (ssh -A);
# socat: their servers inside the container (busybox nc -ll resets connections under load);
# xdpyinfo (Debian's x11-utils): the X11 forwarding test's X client inside (ssh -X / -Y).
SSH_ADD=/usr/bin/ssh-add
SOCAT=/usr/bin/socat
XDPYINFO=/usr/bin/xdpyinfo
# Bump when the image's contents change: an older image under TAG is then rebuilt.
GUEST_VERSION=3

if ! docker version >/dev/null 2>&1; then
  echo "build-guest-image: the Docker Engine does not answer (run scripts/ensure-dockerd.sh)" >&2
  exit 1
fi

if [[ $FORCE -eq 0 ]] &&
  [[ "$(docker image inspect -f '{{index .Config.Labels "containerssh.guest.version"}}' "$TAG" 2>/dev/null)" == "$GUEST_VERSION" ]]; then
  echo "build-guest-image: $TAG exists (use --force to rebuild)"
  exit 0
fi

for f in "$BUSYBOX" "$SFTP_SERVER" "$SSH_ADD" "$SOCAT" "$XDPYINFO"; do
  if [[ ! -x "$f" ]]; then
    echo "build-guest-image: $f is missing (run scripts/install-deps.sh: busybox-static, openssh-sftp-server," \
      "openssh-client, socat, x11-utils)" >&2
    exit 1
  fi
done
if ldd "$BUSYBOX" >/dev/null 2>&1; then
  echo "build-guest-image: $BUSYBOX is dynamically linked; install busybox-static" >&2
  exit 1
fi

ROOTFS=$(mktemp -d /tmp/cssh-guest-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT

# Copies a host file to the same path inside the root filesystem, following symlinks.
copy_in() {
  local src=$1
  mkdir -p "$ROOTFS$(dirname "$src")"
  cp -L "$src" "$ROOTFS$src"
}

# --- directory skeleton -----------------------------------------------------
mkdir -p "$ROOTFS"/{bin,etc,dev,proc,sys,root,home/user,tmp,var/tmp,usr/lib,usr/local/bin,run}
chmod 1777 "$ROOTFS/tmp" "$ROOTFS/var/tmp"
chmod 0700 "$ROOTFS/root"
chown 1000:1000 "$ROOTFS/home/user"
# Everything lives in /bin; the usual other locations point there (so /usr/bin/env works).
ln -s bin "$ROOTFS/sbin"
ln -s ../bin "$ROOTFS/usr/bin"
ln -s ../bin "$ROOTFS/usr/sbin"

# --- busybox and its applets ------------------------------------------------
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
chmod 0755 "$ROOTFS/bin/busybox"
applets=0
while read -r applet; do
  [[ -n "$applet" && "$applet" != busybox && "$applet" != */* ]] || continue
  ln -sf busybox "$ROOTFS/bin/$applet"
  applets=$((applets + 1))
done < <("$BUSYBOX" --list)

# --- sftp-server, ssh-add, socat and xdpyinfo with their shared libraries and the dynamic loader
copy_in "$SFTP_SERVER"
copy_in "$SSH_ADD"
copy_in "$SOCAT"
copy_in "$XDPYINFO"
# ldd lines look like "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
# "/lib64/ld-linux-x86-64.so.2 (0x...)"; linux-vdso has no file.
libs=0
while read -r lib; do
  copy_in "$lib"
  libs=$((libs + 1))
done < <(ldd "$SFTP_SERVER" "$SSH_ADD" "$SOCAT" "$XDPYINFO" | awk '
  $1 ~ /:$/ { next }
  $2 == "=>" && $3 ~ /^\// { print $3; next }
  $1 ~ /^\// { print $1 }' | sort -u)
if [[ $libs -eq 0 ]]; then
  echo "build-guest-image: ldd found no libraries for $SFTP_SERVER" >&2
  exit 1
fi

# --- users and groups -------------------------------------------------------
cat >"$ROOTFS/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$ROOTFS/etc/group" <<'GROUP'
root:x:0:
user:x:1000:
nogroup:x:65534:
GROUP
cat >"$ROOTFS/etc/nsswitch.conf" <<'NSS'
passwd: files
group: files
hosts: files
NSS
chmod 0644 "$ROOTFS/etc/passwd" "$ROOTFS/etc/group" "$ROOTFS/etc/nsswitch.conf"

# --- import -----------------------------------------------------------------
echo "build-guest-image: importing $TAG ($applets busybox applets, sftp-server, ssh-add, socat, xdpyinfo + $libs libraries)"
tar --numeric-owner -C "$ROOTFS" -cf - . |
  docker import \
    --change 'CMD ["/bin/sh"]' \
    --change 'ENV PATH=/usr/local/bin:/bin' \
    --change "LABEL containerssh.guest.version=$GUEST_VERSION" \
    --message "containerssh-cpp guest image (busybox, sftp-server, ssh-add, socat, xdpyinfo)" \
    - "$TAG" >/dev/null

# --- smoke test -------------------------------------------------------------
if ! out=$(docker run --rm --network none "$TAG" /bin/sh -c \
  'echo guest-ok; /usr/lib/openssh/sftp-server -h 2>&1 | grep -q usage && echo sftp-ok; ssh-add -l >/dev/null 2>&1; [ $? = 2 ] && echo ssh-add-ok; socat -V >/dev/null && echo socat-ok; xdpyinfo -version | grep -q "^xdpyinfo " && echo xdpyinfo-ok' 2>&1) ||
  [[ "$out" != $'guest-ok\nsftp-ok\nssh-add-ok\nsocat-ok\nxdpyinfo-ok' ]]; then
  echo "build-guest-image: smoke test of $TAG failed:" >&2
  echo "$out" >&2
  docker image rm "$TAG" >/dev/null 2>&1 || true
  exit 1
fi
echo "build-guest-image: built $TAG ($(docker image inspect -f '{{.Size}}' "$TAG") bytes)"

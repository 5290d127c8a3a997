#!/usr/bin/env bash
# Stages a registry-free image build for deploy/Dockerfile.prebuilt:
#   OUTDIR/rootfs.tar   a minimal root filesystem for `docker import`: the binary's shared libraries
#                       (as `ldd` finds them) and the dynamic loader, /etc/passwd and /etc/group with
#                       the containerssh user (uid/gid 10000), /etc/hosts, /tmp, and
#                       /var/lib/containerssh owned by that user;
#   OUTDIR/context/     the build context: the binary, stripped of debug information.
# Usage: deploy/stage-prebuilt.sh BINARY OUTDIR
set -euo pipefail

binary=${1:?usage: stage-prebuilt.sh BINARY OUTDIR}
out=${2:?usage: stage-prebuilt.sh BINARY OUTDIR}
[[ -x "$binary" ]] || { echo "stage-prebuilt: $binary is not an executable" >&2; exit 1; }

root="$out/rootfs"
rm -rf "$root" "$out/context" "$out/rootfs.tar"
mkdir -p "$root"/{etc,tmp,usr/local/bin,var/lib/containerssh,etc/containerssh} "$out/context"
chmod 1777 "$root/tmp"

# Every library the binary loads, at the path the loader looks for it (and the loader itself).
libraries=$(ldd "$binary" | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}')
[[ -n "$libraries" ]] || { echo "stage-prebuilt: ldd found no libraries for $binary" >&2; exit 1; }
for lib in $libraries; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
# Debian's merged /usr: /lib64 and /lib are where ldd names them; keep those paths.

cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/usr/sbin/nologin
containerssh:x:10000:10000:containerssh:/var/lib/containerssh:/usr/sbin/nologin
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
containerssh:x:10000:
GROUP
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"

tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$out/rootfs.tar" \
  --exclude=./var/lib/containerssh .
# The state directory belongs to the unprivileged user.
tar --numeric-owner --owner=10000 --group=10000 -C "$root" -rf "$out/rootfs.tar" ./var/lib/containerssh
rm -rf "$root"

objcopy --strip-debug "$binary" "$out/context/containerssh"
echo "stage-prebuilt: $out/rootfs.tar ($(du -h "$out/rootfs.tar" | cut -f1)), $out/context/containerssh"

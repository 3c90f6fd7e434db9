#!/usr/bin/env bash
# Builds localhost/ringfence:VERSION (deploy/image/Containerfile) offline:
# the static ringfence binary plus busybox-static's applets, an /etc/passwd
# and /etc/group with the nobody account, and empty /tmp and /work.
# Usage: scripts/build-image.sh RINGFENCE_BINARY [TAG]   (TAG: localhost/ringfence:VERSION)
set -euo pipefail
bin=${1:?usage: $0 RINGFENCE_BINARY [TAG]}
here=$(cd "$(dirname "$0")/.." && pwd)
version=$("$bin" version | awk '{print $2}')
if grep -q ld-linux <(head -c 65536 "$bin"); then
  echo "$bin is linked dynamically: configure with RF_STATIC_DEPS=ON" >&2
  exit 1
fi
ctx=$(mktemp -d /tmp/rf-image.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
root="$ctx/rootfs"
mkdir -p "$root"/{bin,etc,tmp,work,proc,dev,sys,usr/local/bin,etc/ringfence}
chmod 1777 "$root/tmp" "$root/work"
install -m 0755 /bin/busybox "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
install -s -m 0755 "$bin" "$root/usr/local/bin/ringfence"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
cp "$here/deploy/image/Containerfile" "$ctx/Containerfile"
tag=${2:-localhost/ringfence:$version}
podman build --quiet --pull=never -t "$tag" "$ctx" >/dev/null
echo "$tag"

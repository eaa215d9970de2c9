#!/bin/sh
# Prepares what vcanvm needs in DIR: Debian's kernel (as an uncompressed
# vmlinux), its four CAN modules, and the host tools (qemu, static busybox,
# xz, can-utils). Idempotent: does nothing when DIR is complete.
set -eu
dir=$1
vcanvm=$2
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
if [ -f "$dir/vmlinux" ] && [ -f "$dir/modules/can-raw.ko" ]; then exit 0; fi

missing=""
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing="$missing qemu-system-x86"
[ -x /bin/busybox ] || missing="$missing busybox-static"
command -v xz >/dev/null 2>&1 || missing="$missing xz-utils"
command -v cansend >/dev/null 2>&1 || missing="$missing can-utils"
if [ -n "$missing" ]; then
	echo "installing:$missing"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi

mkdir -p "$dir/modules"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The kernel package itself, not installed: installing drags in systemd and
# builds an initrd nobody needs.
pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$pkg" ] || { echo "cannot find the kernel package behind linux-image-amd64" >&2; exit 1; }
(cd "$work" && apt-get download "$pkg" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
dpkg-deb -x "$work"/linux-image-*.deb "$work/root"
"$vcanvm" vmlinux "$work"/root/boot/vmlinuz-* "$dir/vmlinux"
for m in can.ko can-raw.ko can-dev.ko vcan.ko; do
	f=$(find "$work/root/lib/modules" -name "$m" | head -1)
	[ -n "$f" ] || { echo "module $m not in $pkg" >&2; exit 1; }
	cp "$f" "$dir/modules/"
done
echo "vcanvm: $pkg ready in $dir"

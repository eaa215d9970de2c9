#!/bin/sh
# Prepares the system VM of `make test-system` in DIR, all of it from
# Debian's packages:
#   DIR/rootfs.img  a minimal Debian (systemd as PID 1, Mosquitto,
#                   can-utils), built with mmdebstrap, as an ext4 image
#   DIR/vmlinux     Debian's kernel, uncompressed (boots faster)
#   DIR/modules/    the modules the VM loads from its initramfs: the virtio
#                   disk and ext4 (to mount the root), CAN and vcan,
#                   configfs, and gpio-sim built out of tree (below)
# Idempotent: does nothing when DIR was prepared by this same script. The
# kernel (with its gpio-sim) and the image are cached apart: a change to
# this script rebuilds both, a missing one is rebuilt alone.
#
# gpio-sim: Debian's kernels do not build it, and do not build the
# interrupt simulator it needs either (CONFIG_IRQ_SIM is off). Both are
# built here as one out-of-tree module from the kernel's own version of
# linux-source: drivers/gpio/gpio-sim.c, its private header
# drivers/gpio/gpiolib.h, and kernel/irq/irq_sim.c, against Debian's
# headers package. One line of irq_sim.c is changed: it calls
# irq_to_desc(), which the kernel does not export to modules; the
# exported generic_handle_domain_irq() does the same (resolve the
# mapping, run the handler irq_sim installed).
set -eu
dir=$1
vcanvm=$2
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
recipe=$(sha256sum "$0" | cut -c1-16)
mkdir -p "$dir"
if [ -f "$dir/ready" ] && [ "$(cat "$dir/ready")" = "$recipe" ] &&
	[ -f "$dir/rootfs.img" ] && [ -f "$dir/vmlinux" ] && [ -f "$dir/modules/gpio-sim.ko" ]; then
	exit 0
fi
rm -f "$dir/ready"

missing=""
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing="$missing qemu-system-x86"
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q static || missing="$missing busybox-static"
command -v xz >/dev/null 2>&1 || missing="$missing xz-utils"
command -v mmdebstrap >/dev/null 2>&1 || missing="$missing mmdebstrap"
command -v mke2fs >/dev/null 2>&1 || missing="$missing e2fsprogs"
command -v make >/dev/null 2>&1 || missing="$missing make"
command -v file >/dev/null 2>&1 || missing="$missing file"
[ -e /usr/lib/x86_64-linux-gnu/libelf.so.1 ] || missing="$missing libelf1"
if [ -n "$missing" ]; then
	echo "installing:$missing"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi

work=$(mktemp -d "$dir/work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- the kernel, its modules and gpio-sim ---------------------------------
kernel() {
if [ "$(cat "$dir/kernel.ready" 2>/dev/null)" != "$recipe" ] || [ ! -f "$dir/modules/gpio-sim.ko" ]; then
	rm -rf "$dir/modules" "$dir/vmlinux" "$dir/kernel.ready"
	img=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[ -n "$img" ] || { echo "cannot find the kernel package behind linux-image-amd64" >&2; exit 1; }
	abi=${img#linux-image-}                 # 6.1.0-57-amd64
	ver=$(apt-cache show --no-all-versions "$img" | awk '/^Version:/ {print $2; exit}')   # 6.1.192-3
	mm=$(echo "$ver" | cut -d. -f1-2)        # 6.1
	common=linux-headers-${abi%-amd64}-common
	# The compiler the kernel was built with (CONFIG_CC_VERSION_TEXT: gcc-12).
	cc=$(apt-cache depends "linux-headers-$abi" | awk '/Depends: gcc-[0-9]/ {print $2; exit}')
	[ -n "$cc" ] || cc=gcc
	command -v "$cc" >/dev/null 2>&1 || {
		echo "installing: $cc libc6-dev"
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$cc" libc6-dev
	}
	echo "system vm: $img $ver, headers and linux-source-$mm"
	(cd "$work" && apt-get download "$img=$ver" "linux-headers-$abi=$ver" "$common=$ver" \
		"linux-kbuild-$mm=$ver" "linux-source-$mm=$ver" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
	for p in "$img" "linux-headers-$abi" "$common" "linux-kbuild-$mm"; do
		dpkg-deb -x "$work/${p}_"*.deb "$work/root"
	done
	mkdir -p "$dir/modules"
	"$vcanvm" vmlinux "$work/root/boot/vmlinuz-$abi" "$dir/vmlinux.tmp"
	for m in virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk \
		crc16 mbcache jbd2 crc32c_generic ext4 can-dev can can-raw vcan configfs; do
		f=$(find "$work/root/lib/modules/$abi" -name "$m.ko" | head -1)
		[ -n "$f" ] || { echo "module $m not in $img" >&2; exit 1; }
		cp "$f" "$dir/modules/"
	done

	# gpio-sim and irq_sim, from the same version's source.
	src=linux-source-$mm
	dpkg-deb --fsys-tarfile "$work/${src}_"*.deb | tar -x -C "$work" "./usr/src/$src.tar.xz"
	tar -xJf "$work/usr/src/$src.tar.xz" -C "$work" \
		"$src/drivers/gpio/gpio-sim.c" "$src/drivers/gpio/gpiolib.h" "$src/kernel/irq/irq_sim.c"
	rm -f "$work/usr/src/$src.tar.xz"
	mod=$work/gpio-sim
	mkdir -p "$mod"
	cp "$work/$src/drivers/gpio/gpio-sim.c" "$mod/gpio-sim-drv.c"
	cp "$work/$src/drivers/gpio/gpiolib.h" "$work/$src/kernel/irq/irq_sim.c" "$mod/"
	sed -i -e '/irqnum = irq_find_mapping(work_ctx->domain, offset);/d' \
		-e 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_domain_irq(work_ctx->domain, offset);/' \
		-e '/^\tint irqnum;$/d' "$mod/irq_sim.c"
	grep -q 'generic_handle_domain_irq(work_ctx->domain, offset);' "$mod/irq_sim.c" &&
		! grep -q irq_to_desc "$mod/irq_sim.c" ||
		{ echo "irq_sim.c of $src is not as expected: cannot patch out irq_to_desc" >&2; exit 1; }
	printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio-sim-drv.o irq_sim.o\n' >"$mod/Kbuild"
	# The headers' Makefile includes the common one by its absolute path
	# under /usr/src; name the common one directly instead.
	make -s -C "$work/root/usr/src/linux-headers-$abi" -f "$work/root/usr/src/$common/Makefile" \
		CC="$cc" M="$mod" modules
	cp "$mod/gpio-sim.ko" "$dir/modules/"
	mv "$dir/vmlinux.tmp" "$dir/vmlinux"
	echo "$recipe" >"$dir/kernel.ready"
	rm -rf "$work/root" "$work/$src" "$work"/*.deb
fi

}

# --- the root file system -------------------------------------------------
rootfs() {
if [ "$(cat "$dir/rootfs.ready" 2>/dev/null)" != "$recipe" ] || [ ! -f "$dir/rootfs.img" ]; then
	rm -f "$dir/rootfs.img" "$dir/rootfs.ready"
	echo "system vm: building the root file system with mmdebstrap"
	root=$work/rootfs
	# essential + systemd as init + what the tests use; no recommends, no
	# documentation, no apt (packages come in with dpkg -i).
	mmdebstrap --quiet --variant=essential --mode=root \
		--aptopt='APT::Install-Recommends "false"' \
		--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
		--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--include=systemd,systemd-sysv,mosquitto,can-utils,iproute2,kmod,procps \
		bookworm "$root"
	echo quietzone-vm >"$root/etc/hostname"
	: >"$root/etc/machine-id" # systemd makes one at boot
	# The test runs as a service once the system is up: it unpacks the
	# archive vcanvm puts on the second disk and runs it (see
	# cmd/vcanvm/system.go). Mosquitto is not started at boot: the tests
	# start it.
	cat >"$root/usr/local/sbin/vcanvm-test" <<'EOF'
#!/bin/sh
tar -xf /dev/vdb -C / && exec /w/run
echo "vcanvm: no test archive on /dev/vdb" >/dev/ttyS1
printf '\375' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
EOF
	chmod 755 "$root/usr/local/sbin/vcanvm-test"
	cat >"$root/etc/systemd/system/vcanvm-test.service" <<'EOF'
[Unit]
Description=vcanvm: the test archive on /dev/vdb
After=basic.target

[Service]
Type=exec
ExecStart=/usr/local/sbin/vcanvm-test
StandardOutput=journal+console
EOF
	ln -sf /etc/systemd/system/vcanvm-test.service "$root/etc/systemd/system/multi-user.target.wants/vcanvm-test.service"
	rm -f "$root/etc/systemd/system/multi-user.target.wants/mosquitto.service"
	for u in getty@.service serial-getty@.service getty-static.service systemd-timesyncd.service; do
		ln -sf /dev/null "$root/etc/systemd/system/$u"
	done
	mke2fs -q -t ext4 -L root -d "$root" "$dir/rootfs.img.tmp" 1G
	mv "$dir/rootfs.img.tmp" "$dir/rootfs.img"
	echo "$recipe" >"$dir/rootfs.ready"
fi
}

# Both at once: one downloads and compiles, the other mostly unpacks.
kernel >"$work/kernel.log" 2>&1 &
kpid=$!
rootfs
if ! wait $kpid; then
	cat "$work/kernel.log" >&2
	echo "system vm: preparing the kernel failed" >&2
	exit 1
fi
cat "$work/kernel.log"
echo "$recipe" >"$dir/ready"
echo "system vm ready in $dir"

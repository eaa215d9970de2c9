package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The system VM (VCANVM_IMAGE set) boots a whole Debian system: systemd
// as PID 1 on a root file system image that prepare-system.sh built with
// mmdebstrap. The image is opened with snapshot=on, so every run starts
// from the same pristine system and nothing a test does is kept.
//
// The initramfs only mounts the root: busybox loads every module in
// VCANVM_MODULES (the virtio disk and ext4 drivers, and whatever the test
// needs: CAN, configfs, gpio-sim), in the order their .modinfo depends=
// fields give, mounts /dev/vda and hands over to systemd. The image has no
// /lib/modules of its own, so the kernel and the image can be cached and
// replaced apart.
//
// The test comes on a second disk, /dev/vdb, holding a tar archive (no
// file system): the test binary, its package's directory, ../shared/data,
// the files VCANVM_FILES names (under /w/files) and /w/run, which runs
// the binary and reports its status. The image's vcanvm-test.service
// unpacks the archive once the system is up and execs /w/run.

// systemVM builds the initramfs and the test archive for the system VM.
func systemVM(tmp, image, kernel, modDir, busybox string, t testRun) (vmSpec, error) {
	order, err := moduleOrder(modDir)
	if err != nil {
		return vmSpec{}, err
	}
	a := newArchive()
	a.dir("/bin", "/dev", "/proc", "/sys", "/newroot", "/lib/modules")
	if err := a.file("/bin/busybox", busybox, 0o755); err != nil {
		return vmSpec{}, err
	}
	for _, m := range order {
		if err := a.file("/lib/modules/"+filepath.Base(m), m, 0o644); err != nil {
			return vmSpec{}, err
		}
	}
	a.data("/init", []byte(systemInit(order)), 0o755)
	initrd := filepath.Join(tmp, "initramfs.cpio")
	if err := os.WriteFile(initrd, a.bytes(), 0o644); err != nil {
		return vmSpec{}, err
	}

	payload, err := testArchive(t)
	if err != nil {
		return vmSpec{}, err
	}
	disk := filepath.Join(tmp, "test.tar")
	if err := os.WriteFile(disk, payload, 0o644); err != nil {
		return vmSpec{}, err
	}
	return vmSpec{
		initrd: initrd,
		memory: "1G",
		// systemd's own status lines go to the console log too.
		cmdline: " systemd.show_status=auto",
		qemu: []string{
			"-drive", "file=" + image + ",format=raw,if=virtio,snapshot=on",
			"-drive", "file=" + disk + ",format=raw,if=virtio,readonly=on",
		},
	}, nil
}

// systemInit is the initramfs's /init: load the modules, mount the root,
// start systemd on it.
func systemInit(order []string) string {
	var names []string
	for _, m := range order {
		names = append(names, filepath.Base(m))
	}
	return `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
fail() {
	echo "vcanvm: $*" >/dev/ttyS1
	printf '\375' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
	poweroff -f
}
for m in ` + strings.Join(names, " ") + `; do
	insmod /lib/modules/$m || fail "insmod $m failed"
done
i=0
while [ ! -b /dev/vda ]; do
	i=$((i+1)); [ $i -gt 100 ] && fail "no root disk /dev/vda"
	sleep 0.1
done
mount -t ext4 -o rw /dev/vda /newroot || fail "cannot mount the root file system"
[ -x /newroot/lib/systemd/systemd ] || fail "no systemd on the root file system"
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /lib/systemd/systemd
`
}

// testArchive is the tar archive of the second disk.
func testArchive(t testRun) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	var mkdir func(string) error
	mkdir = func(d string) error {
		if d == "/" || d == "." || dirs[d] {
			return nil
		}
		if err := mkdir(filepath.Dir(d)); err != nil {
			return err
		}
		dirs[d] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755})
	}
	add := func(path string, data []byte, mode int64) error {
		if err := mkdir(filepath.Dir(path)); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(path, "/"), Mode: mode, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	addFile := func(path, src string) error {
		st, err := os.Stat(src)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		return add(path, b, int64(st.Mode().Perm()))
	}
	addTree := func(path, src string, skip func(string, fs.DirEntry) bool) error {
		return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if skip != nil && skip(p, d) {
				return nil
			}
			rel, _ := filepath.Rel(src, p)
			dst := filepath.ToSlash(filepath.Join(path, rel))
			switch {
			case d.IsDir():
				return mkdir(dst)
			case d.Type().IsRegular():
				return addFile(dst, p)
			}
			return nil
		})
	}
	if err := addFile("/w/test.bin", t.bin); err != nil {
		return nil, err
	}
	if err := addTree(t.guestPkg, t.pkgDir, skipGo); err != nil {
		return nil, err
	}
	if t.shared != "" {
		if err := addTree("/w/shared/data", t.shared, nil); err != nil {
			return nil, err
		}
	}
	env := passEnv()
	if files := strings.Fields(os.Getenv("VCANVM_FILES")); len(files) > 0 {
		for _, f := range files {
			if err := addFile("/w/files/"+filepath.Base(f), f); err != nil {
				return nil, fmt.Errorf("VCANVM_FILES: %w", err)
			}
		}
		env = append(env, "VCANVM_FILES=/w/files")
	}
	if err := add("/w/run", []byte(systemRun(t.guestPkg, t.args, env)), 0o755); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// systemRun is /w/run: the test binary as root, in its package's
// directory, its output raw on the second serial port, its exit status
// through isa-debug-exit.
func systemRun(dir string, args, env []string) string {
	var b strings.Builder
	b.WriteString(`#!/bin/sh
report() {
	printf "\\$(printf %03o "$1")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
	systemctl poweroff --force --force
}
stty -F /dev/ttyS1 raw -echo
`)
	runTest(&b, dir, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp", "/w/test.bin", env, args)
	return b.String()
}

// moduleOrder returns the modules (*.ko) in dir so that each comes after
// the ones its .modinfo says it depends on. A dependency that is not in
// dir is an error: the kernel would refuse the module.
func moduleOrder(dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.ko"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	byName := map[string]string{}
	for _, p := range paths {
		byName[modName(p)] = p
	}
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name, from string) error
	visit = func(name, from string) error {
		p, ok := byName[name]
		if !ok {
			return fmt.Errorf("module %s needs %s, which is not in %s", from, name, dir)
		}
		switch state[name] {
		case 1:
			return fmt.Errorf("module %s: circular dependency", name)
		case 2:
			return nil
		}
		state[name] = 1
		deps, err := modDepends(p)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, p)
		return nil
	}
	for _, p := range paths {
		if err := visit(modName(p), ""); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// modName is the kernel's name of a module file: "can-raw.ko" is can_raw.
func modName(path string) string {
	return strings.ReplaceAll(strings.TrimSuffix(filepath.Base(path), ".ko"), "-", "_")
}

// modDepends reads the depends= field of a module's .modinfo section.
func modDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", path, err)
	}
	defer f.Close()
	s := f.Section(".modinfo")
	if s == nil {
		return nil, fmt.Errorf("module %s: no .modinfo section", path)
	}
	data, err := s.Data()
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", path, err)
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				if d != "" {
					deps = append(deps, strings.ReplaceAll(d, "-", "_"))
				}
			}
			return deps, nil
		}
	}
	return nil, nil
}

// Command vcanvm runs a Go test binary inside a throwaway QEMU virtual
// machine whose Linux kernel has SocketCAN and a vcan0 interface. It is a
// `go test -exec` wrapper:
//
//	CGO_ENABLED=0 go test -exec vcanvm ./can/...
//
// For each test binary it builds an initramfs (newc cpio) holding a static
// busybox, the kernel's CAN modules, the test binary, the package's
// directory tree (for testdata) and ../shared/data when it exists, plus any
// extra host programs (can-utils' cansend and candump, with the shared
// libraries they need). The guest's init loads can-dev, vcan, can and
// can-raw, brings up lo and vcan0, runs the binary in the package's
// directory with its output on the second serial port, and reports the exit
// status through QEMU's isa-debug-exit device: QEMU then exits with
// status<<1|1. An even QEMU status means the guest never reported (a
// kernel panic, a hang until the timeout), and vcanvm fails.
//
// Configuration comes from the environment, so that `go test` passes it
// through untouched:
//
//	VCANVM_KERNEL   kernel image: an uncompressed vmlinux (PVH, boots in ~3 s) or a bzImage
//	VCANVM_MODULES  directory holding can-dev.ko, vcan.ko, can.ko, can-raw.ko
//	VCANVM_BUSYBOX  a static busybox (default /bin/busybox)
//	VCANVM_EXTRA    space-separated host programs to copy in, with their libraries
//	VCANVM_ENV      space-separated names of environment variables to pass to the test
//	VCANVM_KVM      1 to use KVM instead of software emulation
//	VCANVM_TIMEOUT  how long the VM may run (default 10m)
//	VCANVM_ROOT     the module root to mirror (default: found from go.mod upwards)
//
// `make test-vcan` downloads Debian's kernel package, extracts what is
// needed and sets these.
//
// With VCANVM_IMAGE set, vcanvm boots a whole system instead: systemd as
// PID 1 on that root file system image (`make test-system`; system.go):
//
//	VCANVM_IMAGE    an ext4 image of a Debian system (prepare-system.sh builds it)
//	VCANVM_MODULES  every module (*.ko) there is loaded, dependencies first
//	VCANVM_FILES    space-separated host files for the test, in the guest's /w/files
//	                (named to the test by VCANVM_FILES=/w/files)
package main

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"

	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	code, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "vcanvm:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// modules are loaded in this order (dependencies first).
var modules = []string{"can-dev.ko", "vcan.ko", "can.ko", "can-raw.ko"}

func run(args []string) (int, error) {
	if len(args) == 0 {
		return 2, errors.New("usage: vcanvm TEST-BINARY [ARGS...] (as go test -exec), or vcanvm vmlinux BZIMAGE OUT")
	}
	if args[0] == "vmlinux" {
		if len(args) != 3 {
			return 2, errors.New("usage: vcanvm vmlinux BZIMAGE OUT")
		}
		return 0, extractVmlinux(args[1], args[2])
	}
	kernel := os.Getenv("VCANVM_KERNEL")
	modDir := os.Getenv("VCANVM_MODULES")
	if kernel == "" || modDir == "" {
		return 2, errors.New("VCANVM_KERNEL and VCANVM_MODULES must be set (make test-vcan sets them)")
	}
	busybox := envOr("VCANVM_BUSYBOX", "/bin/busybox")
	timeout, err := time.ParseDuration(envOr("VCANVM_TIMEOUT", "10m"))
	if err != nil {
		return 2, fmt.Errorf("VCANVM_TIMEOUT: %w", err)
	}
	bin, err := filepath.Abs(args[0])
	if err != nil {
		return 1, err
	}
	if err := mustBeStatic(bin); err != nil {
		return 1, err
	}
	pkgDir, err := os.Getwd()
	if err != nil {
		return 1, err
	}
	root := os.Getenv("VCANVM_ROOT")
	if root == "" {
		if root, err = moduleRoot(pkgDir); err != nil {
			return 1, err
		}
	}
	rel, err := filepath.Rel(root, pkgDir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return 1, fmt.Errorf("package directory %s is not under the module root %s", pkgDir, root)
	}

	tmp, err := os.MkdirTemp("", "vcanvm-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(tmp)

	// The guest mirrors the host layout under /w: the module root at
	// /w/main and the shared reference data at /w/shared/data, so that
	// relative paths such as ../../shared/data work unchanged.
	const guestRoot = "/w/main"
	guestPkg := filepath.ToSlash(filepath.Join(guestRoot, rel))
	shared := filepath.Join(filepath.Dir(root), "shared", "data")
	if st, err := os.Stat(shared); err != nil || !st.IsDir() {
		shared = ""
	}
	t := testRun{bin: bin, pkgDir: pkgDir, guestPkg: guestPkg, shared: shared, args: args[1:]}
	var vm vmSpec
	if image := os.Getenv("VCANVM_IMAGE"); image != "" {
		vm, err = systemVM(tmp, image, kernel, modDir, busybox, t)
	} else {
		vm, err = initramfsVM(tmp, kernel, modDir, busybox, t)
	}
	if err != nil {
		return 1, err
	}

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	console := filepath.Join(tmp, "console.log")
	qargs := []string{
		"-m", vm.memory, "-smp", "1", "-no-reboot", "-display", "none", "-monitor", "none",
		"-kernel", kernel, "-initrd", vm.initrd,
		"-append", "console=ttyS0 panic=-1 quiet loglevel=3" + vm.cmdline,
		"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
		"-serial", "file:" + console, // ttyS0: the kernel's console
		"-serial", "stdio", // ttyS1: the test's output, raw
		"-nic", "none",
	}
	qargs = append(qargs, vm.qemu...)
	if os.Getenv("VCANVM_KVM") == "1" {
		qargs = append(qargs, "-accel", "kvm", "-cpu", "host")
	} else {
		qargs = append(qargs, "-accel", "tcg", "-cpu", "max")
	}
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", qargs...)
	cmd.Stdin = nil
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	err = cmd.Run()
	status := cmd.ProcessState.ExitCode()
	if ctx.Err() != nil {
		dumpConsole(console)
		return 1, fmt.Errorf("the VM did not finish within %v", timeout)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 1, fmt.Errorf("start qemu: %w", err)
	}
	if status%2 == 0 {
		dumpConsole(console)
		return 1, fmt.Errorf("the guest never reported an exit status (qemu exited %d): see the console above", status)
	}
	return status >> 1, nil
}

// testRun is the test binary to run and where its package is.
type testRun struct {
	bin      string   // the static test binary
	pkgDir   string   // its package's directory on the host
	guestPkg string   // the same directory in the guest
	shared   string   // ../shared/data on the host, or ""
	args     []string // the test binary's arguments
}

// vmSpec is what differs between the two kinds of VM.
type vmSpec struct {
	initrd  string   // the initramfs
	memory  string   // QEMU's -m
	cmdline string   // appended to the kernel's command line
	qemu    []string // further QEMU arguments (disks)
}

// initramfsVM is the small VM: everything, the test included, in an
// initramfs, busybox as init, vcan0 up.
func initramfsVM(tmp, kernel, modDir, busybox string, t testRun) (vmSpec, error) {
	a := newArchive()
	a.dir("/bin", "/dev", "/proc", "/sys", "/tmp", "/lib/modules", "/w")
	if err := a.file("/bin/busybox", busybox, 0o755); err != nil {
		return vmSpec{}, err
	}
	for _, m := range modules {
		if err := a.file("/lib/modules/"+m, filepath.Join(modDir, m), 0o644); err != nil {
			return vmSpec{}, err
		}
	}
	if err := a.file("/test.bin", t.bin, 0o755); err != nil {
		return vmSpec{}, err
	}
	if err := a.tree(t.guestPkg, t.pkgDir, skipGo); err != nil {
		return vmSpec{}, err
	}
	if t.shared != "" {
		if err := a.tree("/w/shared/data", t.shared, nil); err != nil {
			return vmSpec{}, err
		}
	}
	for _, prog := range strings.Fields(os.Getenv("VCANVM_EXTRA")) {
		if err := a.program(prog); err != nil {
			return vmSpec{}, err
		}
	}
	a.data("/init", []byte(initScript(t.guestPkg, t.args, passEnv())), 0o755)
	initrd := filepath.Join(tmp, "initramfs.cpio")
	if err := os.WriteFile(initrd, a.bytes(), 0o644); err != nil {
		return vmSpec{}, err
	}
	return vmSpec{initrd: initrd, memory: "512M"}, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func skipGo(path string, d fs.DirEntry) bool {
	return !d.IsDir() && strings.HasSuffix(path, ".go")
}

// passEnv returns the variables named by VCANVM_ENV, plus the ones the Go
// test framework itself relies on.
func passEnv() []string {
	names := append([]string{"GOTRACEBACK", "GODEBUG"}, strings.Fields(os.Getenv("VCANVM_ENV"))...)
	var out []string
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok {
			out = append(out, n+"="+v)
		}
	}
	return out
}

// initScript is the guest's /init, run by the kernel as PID 1.
func initScript(dir string, args, env []string) string {
	var b strings.Builder
	b.WriteString(`#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/sbin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
report() {
	# isa-debug-exit: QEMU exits with (status << 1) | 1.
	printf "\\$(printf %03o "$1")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
	poweroff -f
}
for m in ` + strings.Join(modules, " ") + `; do
	insmod /lib/modules/$m || { echo "vcanvm: insmod $m failed" >/dev/ttyS1; report 125; }
done
ip link set lo up
ip link add dev vcan0 type vcan && ip link set vcan0 mtu 72 && ip link set vcan0 up || { echo "vcanvm: cannot create vcan0" >/dev/ttyS1; report 125; }
stty -F /dev/ttyS1 raw -echo
`)
	runTest(&b, dir, "PATH=/bin:/usr/bin HOME=/tmp TMPDIR=/tmp", "/test.bin", env, args)
	return b.String()
}

// runTest writes the lines of an init script that run the test binary bin
// in dir with only baseEnv and env, its output to the host's second
// serial port, and report its exit status.
func runTest(b *strings.Builder, dir, baseEnv, bin string, env, args []string) {
	fmt.Fprintf(b, "cd %s || report 125\n", shellQuote(dir))
	b.WriteString("env -i " + baseEnv)
	for _, e := range env {
		b.WriteString(" " + shellQuote(e))
	}
	b.WriteString(" " + bin)
	for _, a := range args {
		b.WriteString(" " + shellQuote(a))
	}
	b.WriteString(" >/dev/ttyS1 2>&1\nreport $?\n")
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func dumpConsole(path string) {
	if b, err := os.ReadFile(path); err == nil {
		fmt.Fprintf(os.Stderr, "--- VM console ---\n%s\n--- end of console ---\n", b)
	}
}

// mustBeStatic refuses a dynamically linked binary: the guest has no C
// library for it (build tests with CGO_ENABLED=0).
func mustBeStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; build the tests with CGO_ENABLED=0", path)
		}
	}
	return nil
}

func moduleRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

// libraries lists the shared libraries a dynamic host program loads,
// from ldd's output.
func libraries(prog string) ([]string, error) {
	out, err := exec.Command("ldd", prog).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", prog, err)
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/") {
				libs = append(libs, f)
			}
		}
	}
	return libs, nil
}

// archive builds a newc cpio archive in memory.
type archive struct {
	buf   bytes.Buffer
	ino   int
	dirs  map[string]bool
	files map[string]bool
}

func newArchive() *archive {
	return &archive{ino: 1, dirs: map[string]bool{"/": true}, files: map[string]bool{}}
}

func (a *archive) header(name string, mode uint32, size int) {
	a.ino++
	fmt.Fprintf(&a.buf, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		a.ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name)+1, 0)
	a.buf.WriteString(name)
	a.buf.WriteByte(0)
	a.pad()
}

func (a *archive) pad() {
	for a.buf.Len()%4 != 0 {
		a.buf.WriteByte(0)
	}
}

func (a *archive) dir(paths ...string) {
	for _, p := range paths {
		p = filepath.Clean(p)
		if a.dirs[p] {
			continue
		}
		a.dir(filepath.Dir(p))
		a.dirs[p] = true
		a.header(strings.TrimPrefix(p, "/"), 0o040755, 0)
	}
}

func (a *archive) data(path string, content []byte, perm uint32) {
	if a.files[path] {
		return
	}
	a.files[path] = true
	a.dir(filepath.Dir(path))
	a.header(strings.TrimPrefix(path, "/"), 0o100000|perm, len(content))
	a.buf.Write(content)
	a.pad()
}

func (a *archive) file(path, src string, perm uint32) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	a.data(path, b, perm)
	return nil
}

// tree copies a host directory to path, skipping what skip says.
func (a *archive) tree(path, src string, skip func(string, fs.DirEntry) bool) error {
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
			a.dir(dst)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return a.file(dst, p, uint32(info.Mode().Perm()))
		}
		return nil
	})
}

// program copies a host program and the libraries it needs to the same
// paths in the guest.
func (a *archive) program(name string) error {
	path, err := exec.LookPath(name)
	if err != nil {
		return fmt.Errorf("extra program %s: %w", name, err)
	}
	if err := a.file("/usr/bin/"+filepath.Base(path), path, 0o755); err != nil {
		return err
	}
	if mustBeStatic(path) == nil {
		return nil
	}
	libs, err := libraries(path)
	if err != nil {
		return err
	}
	for _, l := range libs {
		real, err := filepath.EvalSymlinks(l)
		if err != nil {
			return err
		}
		if err := a.file(l, real, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// bytes closes the archive with its trailer.
func (a *archive) bytes() []byte {
	a.header("TRAILER!!!", 0, 0)
	for a.buf.Len()%512 != 0 {
		a.buf.WriteByte(0)
	}
	return a.buf.Bytes()
}

// extractVmlinux writes the uncompressed kernel inside a bzImage, which
// boots in about half the time under software emulation. It finds the
// compressed payload by its magic and decompresses it with the host's xz,
// gzip or zstd (Debian kernels use xz with the x86 BCJ filter, which the Go
// xz packages do not support).
func extractVmlinux(bzImage, out string) error {
	data, err := os.ReadFile(bzImage)
	if err != nil {
		return err
	}
	for _, c := range []struct {
		magic string
		tool  []string
	}{
		{"\xfd7zXZ\x00", []string{"xz", "-dc"}},
		{"\x28\xb5\x2f\xfd", []string{"zstd", "-dc"}},
		{"\x1f\x8b\x08\x00", []string{"gzip", "-dc"}},
	} {
		for off := 0; ; {
			i := bytes.Index(data[off:], []byte(c.magic))
			if i < 0 {
				break
			}
			off += i
			var buf bytes.Buffer
			cmd := exec.Command(c.tool[0], c.tool[1:]...)
			cmd.Stdin = bytes.NewReader(data[off:])
			cmd.Stdout = &buf
			_ = cmd.Run() // trailing data after the stream makes the tools complain
			if f, err := elf.NewFile(bytes.NewReader(buf.Bytes())); err == nil {
				f.Close()
				return os.WriteFile(out, buf.Bytes(), 0o644)
			}
			off++
		}
	}
	return fmt.Errorf("%s: no compressed ELF kernel found inside", bzImage)
}

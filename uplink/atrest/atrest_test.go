package atrest_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"quietzone/uplink/atrest"
)

func TestWriteFileReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	for _, content := range []string{"first", "second, longer", ""} {
		if err := atrest.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
		if _, err := os.Stat(p + atrest.TmpSuffix); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("temporary file left behind: %v", err)
		}
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
	if err := atrest.WriteFile(filepath.Join(dir, "missing", "f"), nil, 0o600); err == nil {
		t.Error("a file in a missing directory was written")
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	raw := bytes.Repeat([]byte{0x5a}, atrest.KeyLen)
	hexKey := strings.Repeat("5a", atrest.KeyLen)
	for _, tc := range []struct {
		name, data string
		mode       os.FileMode
		wantErr    string
	}{
		{"raw", string(raw), 0o600, ""},
		{"hex", hexKey, 0o400, ""},
		{"hex and CRLF", hexKey + "\r\n", 0o600, ""},
		{"group-readable", hexKey, 0o640, "chmod 600"},
		{"world-writable", hexKey, 0o602, "chmod 600"},
		{"short", "5a", 0o600, "hexadecimal"},
		{"odd hex", strings.Repeat("5g", atrest.KeyLen), 0o600, "hexadecimal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			key, err := atrest.LoadKey(p, "test key")
			if tc.wantErr == "" {
				if err != nil || !bytes.Equal(key, raw) {
					t.Errorf("key %x, %v", key, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "test key") {
				t.Errorf("error %v, want one starting with the key's name and saying %q", err, tc.wantErr)
			}
		})
	}
	if _, err := atrest.OpenSecret(dir, "test key"); err == nil {
		t.Error("a directory opened as a secret")
	}
}

func TestSealer(t *testing.T) {
	key := bytes.Repeat([]byte{1}, atrest.KeyLen)
	s, err := atrest.NewSealer(key, "label one")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := atrest.NewSealer(bytes.Repeat([]byte{2}, atrest.KeyLen), "label one")
	relabelled, _ := atrest.NewSealer(key, "label two")
	if s.Check() == other.Check() || s.Check() == relabelled.Check() {
		t.Error("key checks of different keys or labels are equal")
	}
	plain, ad := []byte("the zone list"), []byte("header")
	sealed, err := s.Seal([]byte("prefix"), plain, ad)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(sealed, []byte("prefix")) || len(sealed) != len("prefix")+len(plain)+atrest.Overhead {
		t.Fatalf("sealed %d bytes", len(sealed))
	}
	sealed = sealed[len("prefix"):]
	if bytes.Contains(sealed, plain) {
		t.Error("plaintext visible in the sealed data")
	}
	got, err := s.Open(nil, sealed, ad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %q, %v", got, err)
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)/2] ^= 1
	for name, try := range map[string]func() ([]byte, error){
		"wrong key":        func() ([]byte, error) { return other.Open(nil, sealed, ad) },
		"other ad":         func() ([]byte, error) { return s.Open(nil, sealed, []byte("other")) },
		"a flipped bit":    func() ([]byte, error) { return s.Open(nil, flipped, ad) },
		"shorter than tag": func() ([]byte, error) { return s.Open(nil, sealed[:10], ad) },
	} {
		if _, err := try(); !errors.Is(err, atrest.ErrOpen) {
			t.Errorf("%s: %v, want ErrOpen", name, err)
		}
	}
	if _, err := atrest.NewSealer(key[:16], "x"); err == nil {
		t.Error("a 16-byte key accepted")
	}
}

func TestLock(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	l, err := atrest.Lock(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := atrest.Lock(p); err == nil {
		t.Error("a second lock was granted")
	}
	l.Close()
	l2, err := atrest.Lock(p)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Close()
}

// readWithin runs Read with a deadline: no file may hang it.
func readWithin(t *testing.T, path string, k atrest.Kind) ([]byte, error) {
	t.Helper()
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		d, err := atrest.Read(path, k)
		done <- result{d, err}
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("Read(%s) did not return in 10s", path)
		return nil, nil
	}
}

// Read refuses anything but a regular file, without blocking on a FIFO
// that no one writes or reading a device for ever, and a file larger
// than its kind; a secret must be its owner's alone.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs: %v", err)
	}
	small := atrest.Config.Bounded(16)
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path string
		kind       atrest.Kind
		want       string // "" for success
	}{
		{"a file", write("ok", "hello", 0o644), small, ""},
		{"a file at the bound", write("full", strings.Repeat("x", 16), 0o644), small, ""},
		{"a FIFO", fifo, small, "configuration " + fifo + ": not a regular file (a named pipe)"},
		{"a secret FIFO", fifo, atrest.Secret, "not a regular file (a named pipe)"},
		{"/dev/zero", "/dev/zero", small, "configuration /dev/zero: not a regular file (a character device)"},
		{"a directory", dir, small, "not a regular file (a directory)"},
		{"too large", write("big", strings.Repeat("x", 17), 0o644), small, "17 bytes, more than a configuration may be (16 bytes)"},
		{"missing", filepath.Join(dir, "nope"), small, "configuration: open " + filepath.Join(dir, "nope") + ": no such file"},
		{"a secret", write("s", "k", 0o600), atrest.Secret, ""},
		{"a read-only secret", write("ro", "k", 0o400), atrest.Secret, ""},
		{"a world-readable secret", write("s644", "k", 0o644), atrest.Secret, "mode 0644 lets others read or write it; chmod 600 it"},
		{"a world-writable secret", write("s666", "k", 0o666), atrest.Secret, "mode 0666"},
		{"a group-readable secret", write("s640", "k", 0o640), atrest.Secret, "mode 0640"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(tc.path); tc.path == "/dev/zero" && err != nil {
				t.Skip("no /dev/zero")
			}
			data, err := readWithin(t, tc.path, tc.kind)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("read %d bytes, error %v; want %q", len(data), err, tc.want)
			}
		})
	}
}

// A FIFO with a writer that never stops is refused just the same: the
// reader never starts reading it.
func TestReadFIFOWithWriter(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs: %v", err)
	}
	w, err := os.OpenFile(fifo, os.O_RDWR, 0) // does not wait for a reader
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		buf := bytes.Repeat([]byte("x"), 4096)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	}()
	if _, err := readWithin(t, fifo, atrest.Config); err == nil || !strings.Contains(err.Error(), "named pipe") {
		t.Fatalf("a FIFO being written: %v", err)
	}
}

// A key file holding a signing key is refused as one, by name.
func TestLoadKeyRefusesSigningKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fleet.key")
	pemKey := "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\n-----END PRIVATE KEY-----\n"
	if err := os.WriteFile(p, []byte(pemKey), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := atrest.LoadKey(p, "queue key")
	if !errors.Is(err, atrest.ErrSigningKey) || !strings.HasPrefix(err.Error(), "queue key "+p+": ") {
		t.Fatalf("a PEM private key as a queue key: %v", err)
	}
}

// DeriveKey gives one key per label, stable, and none equal to the
// secret or to another label's.
func TestDeriveKey(t *testing.T) {
	root := bytes.Repeat([]byte{9}, atrest.KeyLen)
	a, b := atrest.DeriveKey(root, "quietzone/v1 a"), atrest.DeriveKey(root, "quietzone/v1 b")
	if len(a) != atrest.KeyLen || bytes.Equal(a, b) || bytes.Equal(a, root) {
		t.Errorf("derived %x and %x from %x", a, b, root)
	}
	if again := atrest.DeriveKey(root, "quietzone/v1 a"); !bytes.Equal(a, again) {
		t.Error("not stable")
	}
	if other := atrest.DeriveKey(bytes.Repeat([]byte{8}, atrest.KeyLen), "quietzone/v1 a"); bytes.Equal(a, other) {
		t.Error("two secrets give the same key")
	}
}

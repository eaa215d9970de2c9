package atrest_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

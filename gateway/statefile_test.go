package gateway_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"quietzone/gateway"
)

func TestStateFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	f := gateway.NewStateFile(filepath.Join(dir, "sub", gateway.StateFileName))
	if _, err := f.Load(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("load before any save: %v, want fs.ErrNotExist", err)
	}
	for _, s := range []gateway.Saved{
		{State: gateway.Inside, NeedClear: 6, Held: true},
		{State: gateway.Manual, Manual: true, NeedClear: 3},
		{State: gateway.Clear, NeedClear: 1},
	} {
		if err := f.Save(s); err != nil {
			t.Fatal(err)
		}
		got, err := f.Load()
		if err != nil || got != s {
			t.Errorf("load after saving %+v: %+v, %v", s, got, err)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(f.Path()))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("state directory holds %d files, want the state file only (no temporary file left)", len(entries))
	}
	data, _ := os.ReadFile(f.Path())
	for _, leak := range []string{`"lat`, `"lon`, `"zone`, `"vin`} {
		if strings.Contains(string(data), leak) {
			t.Errorf("state file %s mentions %q", data, leak)
		}
	}
}

// TestStateFileRefusesDamage: a file that is not exactly what Save wrote
// is an error, never a permissive state, and never fs.ErrNotExist (which
// would make it a first start).
func TestStateFileRefusesDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), gateway.StateFileName)
	f := gateway.NewStateFile(path)
	if err := f.Save(gateway.Saved{State: gateway.Inside, NeedClear: 3, Held: true}); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"empty":          "",
		"torn":           string(good[:len(good)/2]),
		"flipped held":   strings.Replace(string(good), `"held":true`, `"held":false`, 1),
		"bad checksum":   strings.Replace(string(good), `"crc32c":"`, `"crc32c":"0`, 1),
		"unknown field":  strings.Replace(string(good), `{`, `{"x":1,`, 1),
		"other format":   strings.Replace(string(good), `quietzone.suppression`, `quietzone.other`, 1),
		"not json":       "held: true\n",
		"need_clear out": `{"format":"quietzone.suppression","version":1,"state":"inside","manual":false,"need_clear":0,"held":true,"crc32c":"00000000"}`,
	} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err := f.Load(); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: loaded %+v, %v; want an error other than not-exist", name, s, err)
		}
	}
}

func TestStateFileSaveError(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f := gateway.NewStateFile(filepath.Join(blocker, gateway.StateFileName)) // a directory that is a file
	if err := f.Save(gateway.Saved{State: gateway.Inside, NeedClear: 3}); err == nil || !strings.HasPrefix(err.Error(), "save suppression state: ") {
		t.Errorf("save below a file: %v", err)
	}
}

func FuzzStateFile(f *testing.F) {
	dir := f.TempDir()
	seed := gateway.NewStateFile(filepath.Join(dir, "seed.json"))
	if err := seed.Save(gateway.Saved{State: gateway.Near, NeedClear: 4, Held: true}); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(seed.Path())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":"quietzone.suppression","version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		sf := gateway.NewStateFile(path)
		s, err := sf.Load()
		if err != nil {
			return
		}
		if s.NeedClear < 1 || s.NeedClear > 1000 {
			t.Fatalf("loaded need_clear %d", s.NeedClear)
		}
		if err := sf.Save(s); err != nil {
			t.Fatal(err)
		}
		again, err := sf.Load()
		if err != nil || again != s {
			t.Fatalf("round trip of %+v: %+v, %v", s, again, err)
		}
	})
}

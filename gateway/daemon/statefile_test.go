package daemon_test

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
	"strings"
	"testing"
	"time"

	"quietzone/gateway"
	"quietzone/uplink/atrest"
)

func TestStateFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	f := daemon.NewStateFile(filepath.Join(dir, "sub", config.StateFileName))
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
	path := filepath.Join(t.TempDir(), config.StateFileName)
	f := daemon.NewStateFile(path)
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

// TestStateFileAnchor: with a key the anchor is kept, sealed (neither
// its position nor its time readable in the file); without one, or
// under another key, it is not: a keyless file saves none, and a sealed
// anchor that does not open is an error (the gateway starts held and
// distrusted), never a silent loss.
func TestStateFileAnchor(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, config.StateFileName)
	f, err := daemon.NewSealedStateFile(path, bytes.Repeat([]byte{1}, atrest.KeyLen))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 25, 14, 3, 27, 123456789, time.UTC)
	want := gateway.Saved{State: gateway.Inside, NeedClear: 3, Held: true, Distrusted: true, DebtM: 1420.5,
		Anchor: gateway.Anchor{Lat: 52.123456, Lon: 10.654321, AccM: 4.2, At: at}}
	if err := f.Save(want); err != nil {
		t.Fatal(err)
	}
	got, err := f.Load()
	if err != nil || got != want {
		t.Fatalf("sealed round trip: %+v, %v; want %+v", got, err, want)
	}
	data, _ := os.ReadFile(path)
	for _, leak := range []string{"52.1", "10.6", "123456", "654321", "2026", `"lat`, `"lon`} {
		if strings.Contains(string(data), leak) {
			t.Errorf("state file %s mentions %q", data, leak)
		}
	}

	other, _ := daemon.NewSealedStateFile(path, bytes.Repeat([]byte{2}, atrest.KeyLen))
	if s, err := other.Load(); !errors.Is(err, atrest.ErrOpen) {
		t.Errorf("load under another key: %+v, %v; want atrest.ErrOpen", s, err)
	}
	if s, err := daemon.NewStateFile(path).Load(); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("load of a sealed anchor without a key: %+v, %v; want an error", s, err)
	}
	if _, err := daemon.NewSealedStateFile(path, []byte("short")); err == nil {
		t.Error("a short key accepted")
	}

	keyless := daemon.NewStateFile(filepath.Join(dir, "keyless.json"))
	if err := keyless.Save(want); err != nil {
		t.Fatal(err)
	}
	got, err = keyless.Load()
	noAnchor := want
	noAnchor.Anchor = gateway.Anchor{}
	if err != nil || got != noAnchor {
		t.Errorf("keyless round trip: %+v, %v; want %+v (no anchor)", got, err, noAnchor)
	}
}

// TestStateFileVersion1: a file of version 1 (before the trust in GNSS
// was kept) still loads, as trusted GNSS with no anchor; one of a
// version after this build's is refused.
func TestStateFileVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), config.StateFileName)
	f := daemon.NewStateFile(path)
	for doc, ok := range map[string]bool{
		`{"format":"quietzone.suppression","version":1,"state":"inside","manual":false,"need_clear":3,"held":true,"crc32c":"8c38accd"}`:                   true,
		`{"format":"quietzone.suppression","version":1,"state":"inside","manual":false,"need_clear":3,"held":true,"distrusted":true,"crc32c":"00000000"}`: false,
		`{"format":"quietzone.suppression","version":3,"state":"inside","manual":false,"need_clear":3,"held":true,"crc32c":"00000000"}`:                   false,
	} {
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := f.Load()
		if want := (gateway.Saved{State: gateway.Inside, NeedClear: 3, Held: true}); ok && (err != nil || s != want) {
			t.Errorf("%s: %+v, %v; want %+v", doc, s, err, want)
		}
		if !ok && err == nil {
			t.Errorf("%s: loaded %+v, want an error", doc, s)
		}
	}
}

func TestStateFileSaveError(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f := daemon.NewStateFile(filepath.Join(blocker, config.StateFileName)) // a directory that is a file
	if err := f.Save(gateway.Saved{State: gateway.Inside, NeedClear: 3}); err == nil || !strings.HasPrefix(err.Error(), "save suppression state: ") {
		t.Errorf("save below a file: %v", err)
	}
}

func FuzzStateFile(f *testing.F) {
	dir := f.TempDir()
	key := bytes.Repeat([]byte{3}, atrest.KeyLen)
	seed, err := daemon.NewSealedStateFile(filepath.Join(dir, "seed.json"), key)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []gateway.Saved{
		{State: gateway.Near, NeedClear: 4, Held: true},
		{State: gateway.Unknown, NeedClear: 3, Distrusted: true, DebtM: 250,
			Anchor: gateway.Anchor{Lat: 52, Lon: 10, AccM: 4, At: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}},
	} {
		if err := seed.Save(s); err != nil {
			f.Fatal(err)
		}
		good, err := os.ReadFile(seed.Path())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(good)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":"quietzone.suppression","version":1}`))
	f.Add([]byte(`{"format":"quietzone.suppression","version":2,"distrusted":true,"debt_m":1e308,"anchor":"AAAA"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		sf, err := daemon.NewSealedStateFile(path, key)
		if err != nil {
			t.Fatal(err)
		}
		s, err := sf.Load()
		if err != nil {
			return
		}
		if s.NeedClear < 1 || s.NeedClear > 1000 {
			t.Fatalf("loaded need_clear %d", s.NeedClear)
		}
		if !(s.DebtM >= 0) || s.DebtM > 1e308 {
			t.Fatalf("loaded debt_m %v", s.DebtM)
		}
		if a := s.Anchor; !a.At.IsZero() && (a.Lat < -90 || a.Lat > 90 || a.Lon < -180 || a.Lon > 180 || !(a.AccM >= 0)) {
			t.Fatalf("loaded anchor %+v", a)
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

// v2Doc is a version 2 state file with a correct CRC: what anyone who can
// write the file can make, since the format is documented.
func v2Doc(fields string) string {
	doc := `{"format":"quietzone.suppression","version":2,` + fields + `,"crc32c":""}`
	sum := crc32.Checksum([]byte(doc), crc32.MakeTable(crc32.Castagnoli))
	return strings.Replace(doc, `"crc32c":""`, fmt.Sprintf(`"crc32c":"%08x"`, sum), 1)
}

// With a key the whole state file is authenticated, not only the anchor:
// a file rewritten to say "not held, GNSS trusted" with its CRC
// recomputed, or a field of the keyed file flipped, does not load (the
// gateway then starts held and distrusted). What such a file says can
// only make the start stricter: its manual mode is kept.
func TestSealedStateFileAuthenticated(t *testing.T) {
	path := filepath.Join(t.TempDir(), config.StateFileName)
	f, err := daemon.NewSealedStateFile(path, bytes.Repeat([]byte{1}, atrest.KeyLen))
	if err != nil {
		t.Fatal(err)
	}
	saved := gateway.Saved{State: gateway.Inside, NeedClear: 6, Held: true, Distrusted: true, DebtM: 300,
		Anchor: gateway.Anchor{Lat: 52, Lon: 10, AccM: 4, At: time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)}}
	if err := f.Save(saved); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	for _, tc := range []struct {
		name, data string
		manual     bool
	}{
		{"rewritten with a CRC: not held, trusted", v2Doc(`"state":"clear","manual":false,"need_clear":3,"held":false`), false},
		{"a field flipped", strings.Replace(string(good), `"held":true`, `"held":false`, 1), false},
		{"not held, but manual", v2Doc(`"state":"manual","manual":true,"need_clear":3,"held":false`), true},
		{"manual flipped on", strings.Replace(string(good), `"manual":false`, `"manual":true`, 1), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := f.Load()
			if err == nil || errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("loaded %+v, %v; want it refused", s, err)
			}
			if s.Manual != tc.manual || s.Held || s.State != 0 || s.Anchor != (gateway.Anchor{}) {
				t.Errorf("refused file gives %+v; want only manual %v", s, tc.manual)
			}
		})
	}
}

// BenchmarkStateFileSave is the state writer's cost of one change (off
// the decision loop): encoding, the anchor sealed and the file
// authenticated with a key, and the atomic replace with its fsyncs.
func BenchmarkStateFileSave(b *testing.B) {
	s := gateway.Saved{State: gateway.Near, NeedClear: 4, Held: true, Distrusted: true, DebtM: 120,
		Anchor: gateway.Anchor{Lat: 52, Lon: 10, AccM: 4, At: time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)}}
	for _, tc := range []struct {
		name string
		key  []byte
	}{{"keyless", nil}, {"keyed", bytes.Repeat([]byte{1}, atrest.KeyLen)}} {
		b.Run(tc.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), config.StateFileName)
			var f gateway.StateStore = daemon.NewStateFile(path)
			if tc.key != nil {
				sf, err := daemon.NewSealedStateFile(path, tc.key)
				if err != nil {
					b.Fatal(err)
				}
				f = sf
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := f.Save(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

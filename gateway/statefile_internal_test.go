package gateway

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"
)

// TestOpenEnforcementSealsTheAnchor: the daemon's state file seals the
// anchor with the vehicle's state key (derived from its root secret), not
// with the root nor another purpose's key, and keeps none without keys.
func TestOpenEnforcementSealsTheAnchor(t *testing.T) {
	keys := DeriveKeys(bytes.Repeat([]byte{1}, 32))
	anchored := Saved{State: Unknown, NeedClear: 3, Distrusted: true,
		Anchor: Anchor{Lat: 52, Lon: 10, AccM: 4, At: time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)}}
	for _, tc := range []struct {
		name      string
		keys      Keys
		opensWith []byte // nil: no anchor kept
	}{
		{"keys", keys, keys.State},
		{"no key", Keys{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := &Config{Enforcement: EnforcementConfig{StateFile: filepath.Join(dir, StateFileName)}}
			s := &Setup{Config: cfg, Profile: &Profile{}, Keys: tc.keys}
			e, _, err := openEnforcement(s, Hardware{})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.State.Save(anchored); err != nil {
				t.Fatal(err)
			}
			f := NewStateFile(cfg.StateFilePath())
			if tc.opensWith != nil {
				if f, err = NewSealedStateFile(cfg.StateFilePath(), tc.opensWith); err != nil {
					t.Fatal(err)
				}
			}
			got, err := f.Load()
			if want := tc.opensWith != nil; err != nil || got.Anchor.At.IsZero() == want {
				t.Errorf("loaded %+v, %v; want an anchor %v", got, err, want)
			}
		})
	}
}

// BenchmarkPersistTrustedFix is the state writer's share of every frame
// while GNSS is trusted: the anchor moves with each fix, and nothing is
// handed to the writer.
func BenchmarkPersistTrustedFix(b *testing.B) {
	g := &Gateway{}
	g.e.save = make(chan Saved, 1)
	g.z.needClear = 3
	t := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	g.tr.reset(ref{lat: 52, lon: 10, acc: 4, t: t})
	g.persist()
	<-g.e.save
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		g.tr.refs[0].t = t.Add(time.Duration(i) * 100 * time.Millisecond)
		g.tr.refs[0].lat += 1e-6
		g.persist()
	}
	if len(g.e.save) != 0 {
		b.Fatal("a moving trusted anchor was handed to the writer")
	}
}

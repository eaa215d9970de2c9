package gateway

import (
	"bytes"
	"math"
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
	g.tr.reset(newRef(fix{lat: 52, lon: 10, acc: 4, t: t}, 0))
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

// TestArcM: the trust check's distance agrees with the great-circle one
// to within millimetres out to 30 km, and is never less by more.
func TestArcM(t *testing.T) {
	for _, tc := range []struct{ lat1, lon1, lat2, lon2 float64 }{
		{52, 10, 52.0001, 10}, {52, 10, 52.27, 10.2}, {0, 179.9, 0.1, -179.95}, {-89.9, 0, -89.9, 180}, {60, 5, 60, 5},
	} {
		a, b := unitVec(tc.lat1, tc.lon1), unitVec(tc.lat2, tc.lon2)
		got, want := arcM(&a, &b), distanceM(tc.lat1, tc.lon1, tc.lat2, tc.lon2)
		if math.Abs(got-want) > 0.005 {
			t.Errorf("%v: arcM %.4f m, great circle %.4f m", tc, got, want)
		}
	}
}

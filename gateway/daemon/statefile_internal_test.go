package daemon

import (
	"bytes"
	"path/filepath"
	"quietzone/gateway"
	"quietzone/gateway/config"
	"testing"
	"time"
)

// TestOpenEnforcementSealsTheAnchor: the daemon's state file seals the
// anchor with the vehicle's state key (derived from its root secret), not
// with the root nor another purpose's key, and keeps none without keys.
func TestOpenEnforcementSealsTheAnchor(t *testing.T) {
	keys := config.DeriveKeys(bytes.Repeat([]byte{1}, 32))
	anchored := gateway.Saved{State: gateway.Unknown, NeedClear: 3, Distrusted: true,
		Anchor: gateway.Anchor{Lat: 52, Lon: 10, AccM: 4, At: time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)}}
	for _, tc := range []struct {
		name      string
		keys      config.Keys
		opensWith []byte // nil: no anchor kept
	}{
		{"keys", keys, keys.State},
		{"no key", config.Keys{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := &config.Config{Enforcement: config.EnforcementConfig{StateFile: filepath.Join(dir, config.StateFileName)}}
			s := &config.Setup{Config: cfg, Profile: &config.Profile{}, Keys: tc.keys}
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

package daemon

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"quietzone/gateway/bundle"
	"quietzone/geofence"
	"quietzone/uplink"
)

const testCovers = `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"radius_m":3000},"geometry":{"type":"Point","coordinates":[10.01,52.01]}},
{"type":"Feature","properties":{"radius_m":2900},"geometry":{"type":"Point","coordinates":[10.2,52.1]}}]}`

// Zones and covers travel sealed: a vehicle with the fleet's bundle key
// applies both; one without it, or with another fleet's, refuses the
// bundle with a clear cause; an old bundle with its zones in the clear
// still loads, without covers.
func TestFleetSealedBundle(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	key, _ := bundle.NewBodyKey(bytes.Repeat([]byte{1}, 32))
	other, _ := bundle.NewBodyKey(bytes.Repeat([]byte{2}, 32))
	files := fleetFiles(t)
	body, err := key.Seal(map[string][]byte{bundleZones: files[bundleZones], bundleCovers: []byte(testCovers)})
	if err != nil {
		t.Fatal(err)
	}
	sealed := signBundle(t, priv, 2, time.Now().Add(time.Hour), map[string][]byte{bundlePolicy: files[bundlePolicy], bundle.SealedName: body})
	if bytes.Contains(sealed, files[bundleZones][:40]) || bytes.Contains(sealed, []byte("radius_m")) {
		t.Fatal("the zones or covers are readable in the bundle")
	}
	badCovers, _ := key.Seal(map[string][]byte{bundleZones: files[bundleZones], bundleCovers: files[bundleZones]})
	for _, tc := range []struct {
		name   string
		key    *bundle.BodyKey
		data   []byte
		err    error
		covers int // -1: none carried
	}{
		{"sealed, the key", key, sealed, nil, 2},
		{"sealed, no key", nil, sealed, bundle.ErrNoBodyKey, 0},
		{"sealed, another fleet's key", other, sealed, bundle.ErrSealedBody, 0},
		{"old, unsealed", key, signBundle(t, priv, 2, time.Now().Add(time.Hour), files), nil, -1},
		{"covers that are not circles", key, signBundle(t, priv, 2, time.Now().Add(time.Hour),
			map[string][]byte{bundlePolicy: files[bundlePolicy], bundle.SealedName: badCovers}), ErrContents, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *geofence.Index
			f, err := NewFleet(FleetOptions{
				Keys: []bundle.PublicKey{bundle.NewPublicKey(priv.Public().(ed25519.PublicKey))}, Profile: "quietzone-reference",
				Dir: t.TempDir(), StoreKey: bytes.Repeat([]byte{7}, 32), BodyKey: tc.key,
				ZoneOptions: func(*uplink.Policy) geofence.Options { return geofence.Options{} },
				Apply:       func(_ context.Context, ix *geofence.Index, _ *uplink.Policy) error { got = ix; return nil },
			})
			if err != nil {
				t.Fatal(err)
			}
			err = f.Offer(context.Background(), tc.data, SourceMQTT)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("offer: %v, want %v", err, tc.err)
			}
			if err != nil {
				if got != nil {
					t.Error("applied a bundle it refused")
				}
				if f.Stats().Refused.Cause == "unreadable" {
					t.Errorf("cause %q: say why", f.Stats().Refused.Cause)
				}
				return
			}
			switch c := got.Covers(); {
			case tc.covers < 0 && c != nil:
				t.Error("covers from a bundle that has none")
			case tc.covers >= 0 && (c == nil || c.Len() != tc.covers):
				t.Errorf("covers %v, want %d", c, tc.covers)
			}
		})
	}
}

package daemon

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"quietzone/gateway/bundle"
	"quietzone/geofence"
	"quietzone/uplink"
)

// FuzzFleetOffer: a bundle is applied only as it was signed, to the byte;
// any other input is refused without a panic and changes nothing.
func FuzzFleetOffer(f *testing.F) {
	seed := bytes.Repeat([]byte{3}, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	files := map[string][]byte{
		bundleZones:  []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"z"},"geometry":{"type":"Point","coordinates":[10,52]}}]}`),
		bundlePolicy: []byte("signals: {vehicle.speed: {}}\n"),
	}
	files[bundleZones] = bytes.Replace(files[bundleZones], []byte(`"id":"z"`), []byte(`"id":"z","radius_m":100`), 1)
	good, err := bundle.Sign(priv, bundle.Manifest{Version: 5, Issued: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Expires: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)}, files)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(append(bytes.Clone(good), '\n'))
	f.Add([]byte(bundle.Magic + "\n"))
	keys := []bundle.PublicKey{bundle.NewPublicKey(priv.Public().(ed25519.PublicKey))}
	f.Fuzz(func(t *testing.T, data []byte) {
		applied := 0
		fl, err := NewFleet(FleetOptions{
			Keys: keys, Profile: "p", Dir: t.TempDir(), StoreKey: bytes.Repeat([]byte{1}, 32),
			ZoneOptions: func(*uplink.Policy) geofence.Options { return geofence.Options{} },
			Apply:       func(context.Context, *geofence.Index, *uplink.Policy) error { applied++; return nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		err = fl.Offer(context.Background(), data, SourceMQTT)
		if same := bytes.Equal(data, good); (err == nil) != same || applied != map[bool]int{true: 1}[same] {
			t.Fatalf("same as signed: %v; Offer: %v, applied %d times", same, err, applied)
		}
	})
}

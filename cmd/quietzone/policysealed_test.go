package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `policy sign --bundle-key` seals the zones with their covers and decoys:
// the bundle shows neither; `policy verify` opens it with the key and
// refuses it without.
func TestPolicySignSealed(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "fleet")
	if out, err := runQZ("policy", "keygen", "--out", prefix); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	key := filepath.Join(dir, "bundle.key")
	if err := os.WriteFile(key, bytes.Repeat([]byte{3}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.key")
	os.WriteFile(other, bytes.Repeat([]byte{4}, 32), 0o600)
	roads := filepath.Join(dir, "roads.geojson")
	os.WriteFile(roads, []byte(`{"type": "FeatureCollection", "features": [
{"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[9.5, 52.0], [10.5, 52.0]]}},
{"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[10.0, 51.5], [10.0, 52.5], "x"]}}]}`), 0o644)
	badTracks := filepath.Join(dir, "bad-tracks.geojson")
	os.WriteFile(badTracks, []byte(`{"type": "FeatureCollection", "features": [
{"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[9.5, 52.0], [10.5, 52.0]]}},
{"type": "Feature", "geometry": {"type": "Point", "coordinates": [10.0, 51.5]}}]}`), 0o644)
	// The fleet's past: trips that end at the demo's two zones and at a
	// place 20 km east, through them and along a road in between.
	var tb strings.Builder
	tb.WriteString(`{"type": "FeatureCollection", "features": [`)
	for i := range 120 {
		if i > 0 {
			tb.WriteString(",")
		}
		lon := []float64{10.0910, 10.0250, 10.35}[i%3]
		lat := []float64{52.0155, 51.9920, 52.0}[i%3]
		fmt.Fprintf(&tb, `{"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[%.4f, %.4f], [%.4f, %.4f]]}}`,
			lon+0.1*math.Cos(float64(i)), lat+0.06*math.Sin(float64(i)), lon, lat)
	}
	tb.WriteString(`]}`)
	tracks := filepath.Join(dir, "tracks.geojson")
	os.WriteFile(tracks, []byte(tb.String()), 0o644)
	zones := filepath.Join(goodDir, "zones.geojson")
	sign := func(out string, extra ...string) (string, error) {
		args := append([]string{"policy", "sign", "--key", prefix + ".key", "--zones", zones,
			"--policy", filepath.Join(goodDir, "policy.yaml"), "--version", "3", "--out", filepath.Join(dir, out)}, extra...)
		return runQZ(args...)
	}
	for _, tc := range []struct {
		name  string
		extra []string
		want  string
	}{
		{"decoys without the key", []string{"--decoys", "2", "--region", "51.5,9.5,52.5,10.5"}, "need --bundle-key"},
		{"decoys nowhere", []string{"--bundle-key", key}, "--tracks FILE"},
		{"tracks without the key", []string{"--tracks", tracks}, "need --bundle-key"},
		{"tracks and roads", []string{"--bundle-key", key, "--tracks", tracks, "--roads", roads}, "one of --tracks, --roads or --region"},
		{"bad tracks", []string{"--bundle-key", key, "--tracks", badTracks}, badTracks + ":3: feature 1: geometry \"Point\""},
		{"no tracks file", []string{"--bundle-key", key, "--tracks", tracks + ".none"}, "load tracks"},
		{"bad roads", []string{"--bundle-key", key, "--roads", roads}, roads + ":3: feature 1: LineString coordinates"},
		{"bad region", []string{"--bundle-key", key, "--region", "52,10,51,11"}, "--region"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := sign("bad.qzb", tc.extra...)
			if err == nil || !strings.Contains(out+err.Error(), tc.want) {
				t.Errorf("err %v, out %s; want %q", err, out, tc.want)
			}
		})
	}
	out, err := sign("s.qzb", "--bundle-key", key, "--region", "51.5,9.5,52.5,10.5", "--decoys", "3")
	if err != nil {
		t.Fatalf("sign: %v\n%s", err, out)
	}
	if out, err := sign("t.qzb", "--bundle-key", key, "--tracks", tracks, "--decoys", "1"); err != nil || !strings.Contains(out, "4 covers") {
		t.Fatalf("sign with tracks: %v\n%s", err, out)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "s.qzb"))
	zdata, _ := os.ReadFile(zones)
	if bytes.Contains(data, []byte("coordinates")) || bytes.Contains(data, []byte("Depot")) || bytes.Contains(data, zdata[:30]) {
		t.Fatal("the signed bundle shows the zones")
	}
	out, err = runQZ("policy", "verify", "--pub", prefix+".pub", "--bundle-key", key, filepath.Join(dir, "s.qzb"))
	if err != nil || !strings.Contains(out, "covers sealed") || !strings.HasSuffix(out, "ok\n") {
		t.Fatalf("verify with the key: %v\n%s", err, out)
	}
	for _, k := range [][]string{nil, {"--bundle-key", other}} {
		args := append(append([]string{"policy", "verify", "--pub", prefix + ".pub"}, k...), filepath.Join(dir, "s.qzb"))
		if out, err := runQZ(args...); err == nil || !strings.Contains(err.Error(), "sealed") {
			t.Errorf("verify %v: %v\n%s", k, err, out)
		}
	}
}

package scenario

import (
	"path/filepath"
	"reflect"
	"testing"

	"quietzone/can/profiles"
	"quietzone/gateway/config"
)

// TestWriteScenarioRoundTrip: a random trip written by Write reads
// back as the same drive, so that a failing seed can be kept as a file
// whatever later becomes of Random.
func TestWriteScenarioRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for seed := uint64(0); seed < 60; seed++ {
		want := Random(seed)
		path, err := Write(dir, "trip", want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Load(path)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if got.ZonesName != filepath.Join(dir, "trip.geojson") {
			t.Errorf("seed %d: zones read from %s", seed, got.ZonesName)
		}
		got.ZonesName = want.ZonesName
		if want.Profile == "" {
			want.Profile = config.BuiltinPrefix + profiles.Default // what an empty one means
		}
		gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
		for i := range gv.NumField() {
			if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
				t.Errorf("seed %d: %s read back as %v, want %v", seed, gv.Type().Field(i).Name, gv.Field(i), wv.Field(i))
			}
		}
	}
}

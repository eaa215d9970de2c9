package main

import (
	"strings"
	"testing"
)

// The map draws covers (and decoys) dashed beside the zones, and nothing
// names which is a decoy.
func TestDrawZonesWithCovers(t *testing.T) {
	zones := []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"Depot","radius_m":300},"geometry":{"type":"Point","coordinates":[10.0,52.0]}}]}`)
	covers := []byte(`{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"radius_m":3000},"geometry":{"type":"Point","coordinates":[10.01,52.01]}},
{"type":"Feature","properties":{"radius_m":3000},"geometry":{"type":"Point","coordinates":[10.3,52.2]}}]}`)
	for _, tc := range []struct {
		name          string
		covers        []byte
		zones, dashed int
	}{
		{"without covers", nil, 1, 0},
		{"with covers", covers, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := drawZones(zones, tc.covers)
			if err != nil {
				t.Fatal(err)
			}
			svg := string(d.SVG)
			if n := strings.Count(svg, `class="zone `); n != tc.zones {
				t.Errorf("%d zones drawn, want %d", n, tc.zones)
			}
			if n := strings.Count(svg, `class="cover"`); n != tc.dashed {
				t.Errorf("%d covers drawn, want %d", n, tc.dashed)
			}
		})
	}
}

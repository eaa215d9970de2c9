package testbench

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"quietzone/geofence"
	"testing"
	"time"
)

func TestSignedDistance(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "map-zones.geojson"))
	if err != nil {
		t.Fatal(err)
	}
	zones, err := parseZoneShapes(data)
	if err != nil {
		t.Fatal(err)
	}
	pl := newPlane(52.0, 10.03)
	depot, radar, pipe := zones[0], zones[1], zones[2]
	at := func(lat, lon float64) xy { return pl.xy(lat, lon) }
	m := geofence.EarthRadiusM * math.Pi / 180 // metres per degree of latitude
	for _, tc := range []struct {
		name string
		z    zoneShape
		q    xy
		want float64
	}{
		{"depot, 0.001° north of its north edge", depot, at(52.011, 10.026), 0.001 * m},
		{"depot, inside near its south edge", depot, at(52.0025, 10.022), -0.0005 * m},
		{"depot, in its hole", depot, at(52.0055, 10.026), 0.002 * m * math.Cos(52*math.Pi/180)}, // to its east and west edges
		{"radar centre", radar, at(51.996, 10.05), -300},
		{"radar, 1 km north of its centre", radar, at(51.996+1000/m, 10.05), 700},
		{"pipeline vertex", pipe, at(51.988, 10.008), -30},
	} {
		got := tc.z.signedDistance(pl, tc.q)
		if math.Abs(got-tc.want) > 1 {
			t.Errorf("%s: %.1f m, want %.1f", tc.name, got, tc.want)
		}
	}
}

func TestParseZoneShapesRefuses(t *testing.T) {
	for _, doc := range []string{
		`{"features":[]}`,
		`{"features":[{"geometry":{"type":"Polygon","coordinates":[]}}]}`,
		`{"features":[{"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}}]}`,
		`{"features":[{"geometry":{"type":"LineString","coordinates":[[0,0]]}}]}`,
		`{"features":[{"geometry":{"type":"Point","coordinates":[0,99]}}]}`,
		`{"features":[{"properties":{"buffer_m":-1},"geometry":{"type":"Point","coordinates":[0,0]}}]}`,
		`{"features":[{"geometry":{"type":"GeometryCollection"}}]}`,
		`not json`,
	} {
		if _, err := parseZoneShapes([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", doc)
		}
	}
}

// Whatever zone file a report carries, the map is written or refused
// with an error, never a panic.
func FuzzWriteSVGZones(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "map-zones.geojson")); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"features":[{"properties":{"radius_m":1e308},"geometry":{"type":"Point","coordinates":[0,0]}}]}`))
	f.Add([]byte(`{"features":[{"geometry":{"type":"MultiPolygon","coordinates":[[]]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &Report{Scenario: "fuzz", zoneFile: data, Simulated: time.Minute,
			Track: []TrackPoint{{At: time.Second, Lat: 1, Lon: 1}, {At: 2 * time.Second, Lat: 1.001, Lon: 1}}}
		var out bytes.Buffer
		_ = r.WriteSVG(&out)
	})
}

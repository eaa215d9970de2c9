package zonemap

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"quietzone/geofence"
)

func TestSignedDistance(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "report", "testdata", "map-zones.geojson")) // the report's map test's zones
	if err != nil {
		t.Fatal(err)
	}
	zones, err := ParseShapes(data)
	if err != nil {
		t.Fatal(err)
	}
	pl := NewPlane(52.0, 10.03)
	depot, radar, pipe := zones[0], zones[1], zones[2]
	at := func(lat, lon float64) XY { return pl.XY(lat, lon) }
	m := geofence.EarthRadiusM * math.Pi / 180 // metres per degree of latitude
	for _, tc := range []struct {
		name string
		z    Shape
		q    XY
		want float64
	}{
		{"depot, 0.001° north of its north edge", depot, at(52.011, 10.026), 0.001 * m},
		{"depot, inside near its south edge", depot, at(52.0025, 10.022), -0.0005 * m},
		{"depot, in its hole", depot, at(52.0055, 10.026), 0.002 * m * math.Cos(52*math.Pi/180)}, // to its east and west edges
		{"radar centre", radar, at(51.996, 10.05), -300},
		{"radar, 1 km north of its centre", radar, at(51.996+1000/m, 10.05), 700},
		{"pipeline vertex", pipe, at(51.988, 10.008), -30},
	} {
		got := tc.z.SignedDistance(pl, tc.q)
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
		if _, err := ParseShapes([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", doc)
		}
	}
}

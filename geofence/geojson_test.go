package geofence_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"quietzone/geofence"
)

// Every bad file names its zone "Secret ..." and uses coordinates with
// decimals, so that a leak of either into an error is easy to spot.
var (
	secretName = regexp.MustCompile(`Secret [A-Za-z ]+`)
	decimal    = regexp.MustCompile(`-?[0-9]+\.[0-9]+`)
)

func TestParseRejectsBadFiles(t *testing.T) {
	const outOfRange = "position out of range (GeoJSON order is longitude, latitude)"
	cases := []struct {
		file    string
		feature int // FeatureError.Feature; -1 for the whole file
		want    string
	}{
		{"not-collection", -1, `top-level type "Feature", want FeatureCollection`},
		{"empty-features", -1, "no features: an empty zone list is refused, so that a truncated file cannot disable the gateway"},
		{"features-not-array", -1, "line 3: features is not an array"},
		{"features-wrong-case", -1, `line 7: member "Features": GeoJSON names are case-sensitive (want "features")`},
		{"features-twice", -1, `line 7: "features" appears twice in the FeatureCollection`},
		{"not-object", -1, "line 1: the file is not a JSON object (want a GeoJSON FeatureCollection)"},
		{"collection-type-not-string", -1, "line 2: the FeatureCollection's type is not a string"},
		{"properties-not-object", 1, "line 7: json: cannot unmarshal array into Go struct field feature.properties of type map[string]interface {}"},
		{"not-feature", 1, `type "Polygon", want Feature`},
		{"no-geometry", 0, "no geometry"},
		{"corridor-no-width", 0, "a LineString zone (a corridor) needs a positive width_m"},
		{"ring-not-closed", 0, "ring 0 is not closed (its last position must equal its first)"},
		{"ring-too-short", 0, "ring 0 has 3 positions, a closed ring needs at least 4"},
		{"ring-degenerate", 0, "ring 0 has fewer than 3 distinct vertices"},
		{"position-out-of-range", 0, "ring 0 position 2: " + outOfRange},
		{"position-one-number", 0, "ring 0 position 1: position has 1 numbers, want longitude and latitude"},
		{"lat-lon-swapped", 0, outOfRange},
		{"lat-lon-swapped-polygon", 1, "ring 0 position 0: " + outOfRange},
		{"coordinates-not-numbers", 0, "polygon coordinates: json: cannot unmarshal string into Go value of type float64"},
		{"buffer-negative", 0, "buffer_m is negative"},
		{"buffer-not-number", 0, "buffer_m is not a number"},
		{"point-no-radius", 0, "a Point zone needs a positive radius_m"},
		{"point-radius-negative", 0, "a Point zone needs a positive radius_m"},
		{"bow-tie", 0, "ring 0 crosses itself at edge 0"},
		{"multipolygon-empty", 0, "multipolygon has no polygons"},
		{"multipolygon-bad-part", 0, "polygon 1: ring 0 is not closed (its last position must equal its first)"},
		{"hole-not-closed", 0, "ring 1 is not closed (its last position must equal its first)"},
		{"hole-outside-outer", 0, "ring 1 is not inside ring 0 (a polygon's first ring is its outer boundary, the others are holes)"},
		{"hole-crosses-outer", 0, "ring 1 is not inside ring 0 (a polygon's first ring is its outer boundary, the others are holes)"},
		{"rings-swapped", 0, "ring 1 is not inside ring 0 (a polygon's first ring is its outer boundary, the others are holes)"},
		{"malformed", -1, "line 5: invalid character '[' after array element"},
		{"truncated", -1, "line 5: unexpected end of JSON input"},
		{"empty-file", -1, "line 1: unexpected end of JSON input"},
		{"trailing-data", -1, "line 8: data after the FeatureCollection (two files run together?)"},
		{"geometry-collection", 0, `geometry type "GeometryCollection" is not a zone (want Polygon, MultiPolygon, Point or LineString)`},
		{"corridor-one-position", 0, "linestring has fewer than 2 distinct positions"},
		{"corridor-width-negative", 0, "a LineString zone (a corridor) needs a positive width_m"},
		{"corridor-out-of-range", 0, "position 1: " + outOfRange},
		{"radius-on-polygon", 0, "radius_m is for Point zones only"},
		{"width-on-point", 0, "width_m is for LineString zones only"},
		{"valid-from-not-rfc3339", 0, "valid_from is not an RFC 3339 time (such as 2026-06-01T08:00:00Z)"},
		{"valid-until-number", 0, "valid_until is not a string (want an RFC 3339 time such as 2026-06-01T08:00:00Z)"},
		{"valid-until-before-from", 0, "valid_until is before valid_from"},
		{"valid-from-year-out-of-range", 0, "valid_from is not between the years 1900 and 2200"},
		{"policy-not-object", 0, "policy is not an object"},
		{"policy-unknown-key", 0, `policy: unknown key "lookahead" (want lookahead_s, clear_fixes or withhold_m)`},
		{"policy-clear-fixes-fraction", 0, "policy.clear_fixes must be a whole number from 1 to 1000"},
		{"policy-lookahead-negative", 0, "policy.lookahead_s must be from 0 to 600 seconds"},
		{"policy-withhold-not-number", 0, "policy.withhold_m is not a number"},
		{"buffer-too-large", 0, "buffer_m is larger than 100 km"},
		{"circle-too-large", 0, "the zone reaches more than 1000 km from its centre: split it"},
		{"polygon-too-large", 0, "the zone reaches more than 1000 km from its centre: split it"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", tc.file+".geojson")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ix, err := geofence.Parse(path, data, geofence.Options{DefaultBufferM: 100})
			if err == nil {
				t.Fatalf("accepted, %d zones", ix.Len())
			}
			if ix != nil {
				t.Error("an Index came back with the error")
			}
			want := "load zones: " + path + ": "
			if tc.feature >= 0 {
				want += "feature " + strconv.Itoa(tc.feature) + ": "
			}
			want += tc.want
			if err.Error() != want {
				t.Errorf("error\n  %s\nwant\n  %s", err, want)
			}
			var fe *geofence.FeatureError
			if !errors.As(err, &fe) {
				t.Fatalf("%v is not a *FeatureError", err)
			}
			if fe.File != path || fe.Feature != tc.feature {
				t.Errorf("FeatureError{File: %q, Feature: %d}, want {%q, %d}", fe.File, fe.Feature, path, tc.feature)
			}
			assertNoLeak(t, err, data)
		})
	}
	// Every fixture in testdata/bad is in the table.
	files, err := filepath.Glob("testdata/bad/*.geojson")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, tc := range cases {
		listed[tc.file] = true
	}
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".geojson"); !listed[name] {
			t.Errorf("%s has no case in the table", f)
		}
	}
}

// assertNoLeak checks that an error names neither a zone nor a coordinate
// of the file it is about: errors end up in logs.
func assertNoLeak(t *testing.T, err error, data []byte) {
	t.Helper()
	msg := err.Error()
	for _, name := range secretName.FindAllString(string(data), -1) {
		if strings.Contains(msg, strings.TrimSpace(name)) {
			t.Errorf("error %q contains the zone name %q", msg, name)
		}
	}
	for _, num := range decimal.FindAllString(string(data), -1) {
		if strings.Contains(msg, num) {
			t.Errorf("error %q contains the coordinate %s", msg, num)
		}
	}
}

func TestParseRejectsBadDefaultBuffer(t *testing.T) {
	data, err := os.ReadFile("testdata/good/zones.geojson")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []float64{-1, math.NaN(), math.Inf(1)} {
		_, err := geofence.Parse("z.geojson", data, geofence.Options{DefaultBufferM: b})
		const want = "load zones: z.geojson: default buffer must be a non-negative finite number"
		if err == nil || err.Error() != want {
			t.Errorf("DefaultBufferM %v: error %v, want %q", b, err, want)
		}
	}
}

func TestParseRejectsBadReach(t *testing.T) {
	data, err := os.ReadFile("testdata/good/zones.geojson")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []float64{-1, math.NaN(), math.Inf(1), 6e6} {
		_, err := geofence.Parse("z.geojson", data, geofence.Options{ReachM: r})
		const want = "load zones: z.geojson: reach must be a positive number of metres up to 5000 km"
		if err == nil || err.Error() != want {
			t.Errorf("ReachM %v: error %v, want %q", r, err, want)
		}
	}
	ix, err := geofence.Parse("z.geojson", data, geofence.Options{})
	if err != nil || ix.ReachM() != geofence.DefaultReachM {
		t.Errorf("no ReachM: %v, reach %v, want the default %v", err, ix.ReachM(), geofence.DefaultReachM)
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := geofence.LoadFile(filepath.Join(t.TempDir(), "nope.geojson"), geofence.Options{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v, want one that wraps os.ErrNotExist", err)
	}
}

func mustLoad(t testing.TB, path string, opts geofence.Options) *geofence.Index {
	t.Helper()
	ix, err := geofence.LoadFile(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestParseGoodFileProperties(t *testing.T) {
	ix := mustLoad(t, "testdata/good/zones.geojson", geofence.Options{DefaultBufferM: 75})
	want := []geofence.Zone{
		{ID: "holed", Name: "Depot With Courtyard", Class: "military", BufferM: 50},
		{ID: "twin", Name: "Twin Sites", Class: "radar", BufferM: 75}, // id from the Feature, default buffer
		{ID: "42", Name: "Radar Mast", BufferM: 0, RadiusM: 500},      // numeric Feature id, explicit 0 buffer
	}
	if ix.Len() != len(want) {
		t.Fatalf("%d zones, want %d", ix.Len(), len(want))
	}
	for i, w := range want {
		z := ix.Zone(i)
		if z.ID != w.ID || z.Name != w.Name || z.Class != w.Class || z.BufferM != w.BufferM || z.RadiusM != w.RadiusM {
			t.Errorf("zone %d: {ID %q Name %q Class %q BufferM %v RadiusM %v}, want {%q %q %q %v %v}",
				i, z.ID, z.Name, z.Class, z.BufferM, z.RadiusM, w.ID, w.Name, w.Class, w.BufferM, w.RadiusM)
		}
	}
	// Every geometry of the file answers for its zone.
	for _, tc := range []struct {
		name     string
		lat, lon float64
		zone     int
	}{
		{"polygon ring", 0.01, 20.01, 0},
		{"multipolygon part 0", 1.005, 21.005, 1},
		{"multipolygon part 1", 1.005, 21.055, 1},
		{"circle", 2.001, 22.001, 2},
	} {
		r := ix.Query(tc.lat, tc.lon, 0)
		if !r.Inside || r.Zone != tc.zone || r.DistanceM != 0 {
			t.Errorf("%s: %+v, want inside zone %d", tc.name, r, tc.zone)
		}
	}
	// Between the parts of the MultiPolygon is outside it.
	if r := ix.Query(1.005, 21.03, 0); r.Inside {
		t.Errorf("between the parts of a MultiPolygon: %+v", r)
	}
}

func TestParseHole(t *testing.T) {
	ix := mustLoad(t, "testdata/good/zones.geojson", geofence.Options{})
	for _, tc := range []struct {
		name     string
		lat, lon float64
		inside   bool
	}{
		{"in the ring, south-west", 0.01, 20.01, true},
		{"in the ring, north-east", 0.09, 20.09, true},
		{"in the ring, between hole and east edge", 0.05, 20.085, true},
		{"centre of the hole", 0.05, 20.05, false},
		{"in the hole near its edge", 0.05, 20.0305, false},
		{"outside", 0.05, 19.99, false},
	} {
		if r := ix.Query(tc.lat, tc.lon, 0); r.Inside != tc.inside {
			t.Errorf("%s: %+v, want Inside %v", tc.name, r, tc.inside)
		}
	}
}

// A hole may touch the outer ring at a shared vertex (OGC simple features
// allow it, and OSM multipolygons do it).
func TestParseHoleTouchingOuterRing(t *testing.T) {
	ix := mustLoad(t, "testdata/good/hole-touching.geojson", geofence.Options{})
	for _, tc := range []struct {
		name     string
		lat, lon float64
		inside   bool
	}{
		{"in the hole by the shared vertex", 0.05, 20.005, false},
		{"in the hole", 0.05, 20.04, false},
		{"in the ring north of the hole", 0.09, 20.02, true},
		{"in the ring south of the hole", 0.01, 20.02, true},
		{"in the ring east of the hole", 0.05, 20.08, true},
	} {
		if r := ix.Query(tc.lat, tc.lon, 0); r.Inside != tc.inside {
			t.Errorf("%s: %+v, want Inside %v", tc.name, r, tc.inside)
		}
	}
}

// TestRingOrientation: RFC 7946 asks for counter-clockwise outer rings,
// but real files are wound both ways; both must give the same small zone.
func TestRingOrientation(t *testing.T) {
	ccw := mustLoad(t, "testdata/good/square-ccw.geojson", geofence.Options{})
	cw := mustLoad(t, "testdata/good/square-cw.geojson", geofence.Options{})
	for lat := 51.99; lat <= 52.02; lat += 0.0025 {
		for lon := 9.99; lon <= 10.03; lon += 0.0025 {
			a, b := ccw.Query(lat, lon, 5000), cw.Query(lat, lon, 5000)
			if a.Inside != b.Inside || math.Abs(a.DistanceM-b.DistanceM) > 1e-6 || math.Abs(a.MarginM-b.MarginM) > 1e-6 {
				t.Errorf("(%.4f, %.4f): counter-clockwise %+v, clockwise %+v", lat, lon, a, b)
			}
		}
	}
	for name, ix := range map[string]*geofence.Index{"ccw": ccw, "cw": cw} {
		if r := ix.Query(52.005, 10.01, 0); !r.Inside {
			t.Errorf("%s: centre not inside: %+v", name, r)
		}
		// The complement of the square (the rest of the Earth) is not the zone.
		if r := ix.Query(-52.005, -170, 0); r.Inside {
			t.Errorf("%s: antipode inside: %+v", name, r)
		}
	}
}

func TestParseAntimeridianAndPole(t *testing.T) {
	for _, tc := range []struct {
		file  string
		zones int
	}{
		{"testdata/good/antimeridian.geojson", 1},
		{"testdata/good/polar.geojson", 2},
	} {
		ix := mustLoad(t, tc.file, geofence.Options{})
		if ix.Len() != tc.zones {
			t.Errorf("%s: %d zones, want %d", tc.file, ix.Len(), tc.zones)
		}
	}
}

func TestLoadOSM(t *testing.T) {
	ix := loadOSM(t)
	if ix.Len() != 84 {
		t.Fatalf("%d zones, want 84", ix.Len())
	}
	names := 0
	for i := range ix.Len() {
		z := ix.Zone(i)
		if !strings.HasPrefix(z.ID, "way/") && !strings.HasPrefix(z.ID, "relation/") {
			t.Errorf("zone %d: id %q", i, z.ID)
		}
		if z.BufferM != 100 || z.RadiusM != 0 {
			t.Errorf("zone %d: buffer %v radius %v, want the default buffer 100 and no radius", i, z.BufferM, z.RadiusM)
		}
		if z.Name != "" {
			names++
		}
	}
	if names != 43 {
		t.Errorf("%d named zones, want 43", names)
	}
}

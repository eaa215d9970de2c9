package geofence_test

import (
	"math"
	"os"
	"sync"
	"testing"

	"quietzone/geofence"
)

// metresPerDegree is one degree of a great circle on the package's sphere.
const metresPerDegree = geofence.EarthRadiusM * math.Pi / 180

func parse(t testing.TB, src string) *geofence.Index {
	t.Helper()
	ix, err := geofence.Parse("inline.geojson", []byte(src), geofence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func within(got, want, rel float64) bool { return math.Abs(got-want) <= rel*math.Abs(want) }

// TestQueryDistanceFromSquare: points due north, south, east and west of
// a square zone, at distances known from the spherical formulae.
func TestQueryDistanceFromSquare(t *testing.T) {
	ix := mustLoad(t, "testdata/good/square-ccw.geojson", geofence.Options{}) // 52.00–52.01 N, 10.00–10.02 E, buffer 150
	cases := []struct {
		name     string
		lat, lon float64
		// nearest point of the boundary: the distance is the great circle
		// to it (edges along meridians are great circles; the parallels'
		// geodesics bow by < 5 cm over 0.02° of longitude).
		blat, blon float64
	}{
		{"100 m north", 52.01 + 100/metresPerDegree, 10.01, 52.01, 10.01},
		{"500 m north", 52.01 + 500/metresPerDegree, 10.01, 52.01, 10.01},
		{"0.01° north", 52.02, 10.01, 52.01, 10.01},
		{"5 km north", 52.01 + 5000/metresPerDegree, 10.005, 52.01, 10.005},
		{"2 km south", 52.00 - 2000/metresPerDegree, 10.015, 52.00, 10.015},
		{"0.01° east", 52.005, 10.03, 52.005, 10.02},
		{"0.005° west", 52.005, 9.995, 52.005, 10.00},
	}
	for _, tc := range cases {
		want := haversine(tc.lat, tc.lon, tc.blat, tc.blon)
		r := ix.Query(tc.lat, tc.lon, 10000)
		if r.Inside || r.Zone != 0 || !within(r.DistanceM, want, 0.005) {
			t.Errorf("%s: %+v, want zone 0 outside at %.2f m (±0.5 %%)", tc.name, r, want)
		}
		if math.Abs(r.MarginM-(r.DistanceM-150)) > 1e-9 {
			t.Errorf("%s: MarginM %v, want DistanceM − buffer = %v", tc.name, r.MarginM, r.DistanceM-150)
		}
		if r.InBuffer() != (want < 150) {
			t.Errorf("%s: InBuffer %v at %.1f m from a zone with a 150 m buffer", tc.name, r.InBuffer(), want)
		}
	}
	if r := ix.Query(52.005, 10.01, 0); !r.Inside || r.DistanceM != 0 || r.MarginM != -150 || !r.InBuffer() {
		t.Errorf("centre: %+v, want inside, distance 0, margin −150", r)
	}
}

// TestQueryCircle: a Point zone is a circle; the distance to it is the
// distance to its centre less its radius.
func TestQueryCircle(t *testing.T) {
	ix := mustLoad(t, "testdata/good/zones.geojson", geofence.Options{}) // zone 2: 2.00 N 22.00 E, radius 500, buffer 0
	for _, tc := range []struct {
		centreM, bearing float64
	}{
		{0, 0}, {250, 1}, {499, 2}, {501, 3}, {600, 4}, {1000, 5}, {3000, 0.5}, {20000, 6},
	} {
		lat, lon := destination(2, 22, tc.bearing, tc.centreM)
		dc := haversine(lat, lon, 2, 22)
		r := ix.Query(lat, lon, 50000)
		want := math.Max(0, dc-500)
		if r.Zone != 2 || r.Inside != (dc <= 500) || math.Abs(r.DistanceM-want) > 1e-3 || math.Abs(r.MarginM-want) > 1e-3 {
			t.Errorf("%.0f m from the centre: %+v, want zone 2, inside %v, distance and margin %.3f", tc.centreM, r, dc <= 500, want)
		}
	}
}

func TestQueryHoleIsNotInside(t *testing.T) {
	ix := mustLoad(t, "testdata/good/zones.geojson", geofence.Options{}) // zone 0: 20.00–20.10 E, 0.00–0.10 N, hole 20.03–20.07, 0.03–0.07; buffer 50
	r := ix.Query(0.05, 20.05, 10000)
	want := haversine(0.05, 20.05, 0.05, 20.03) // to the hole's west side, a meridian
	if r.Inside || r.Zone != 0 || !within(r.DistanceM, want, 0.005) || r.InBuffer() {
		t.Errorf("centre of the hole: %+v, want zone 0 outside at %.1f m, not in its buffer", r, want)
	}
	// 30 m inside the hole's west side is within the 50 m buffer.
	r = ix.Query(0.05, 20.03+30/metresPerDegree, 100)
	if r.Inside || !within(r.DistanceM, 30, 0.005) || !within(r.MarginM, -20, 0.01) || !r.InBuffer() {
		t.Errorf("30 m into the hole: %+v, want outside at 30 m, margin −20", r)
	}
}

// TestQueryPerZoneBuffers: the zone reported is the one whose buffer is
// nearest, not the nearest zone.
func TestQueryPerZoneBuffers(t *testing.T) {
	// Zone 0: circle at 0 N 30 E, radius 100, buffer 50.
	// Zone 1: square 30.02–30.03 E, 0.01 S–0.01 N, buffer 800.
	// Along the equator both distances are great-circle arcs of the equator.
	ix := mustLoad(t, "testdata/good/buffers.geojson", geofence.Options{})
	for _, tc := range []struct {
		name     string
		lon      float64
		zone     int
		inBuffer bool
	}{
		{"near the circle", 30.0012, 0, true},         // 33 m from the circle: in its buffer
		{"circle's margin smaller", 30.006, 0, false}, // margins 517 and 757
		{"square wins though farther", 30.009, 1, false},
		{"square's buffer", 30.0135, 1, true},
		{"inside the square", 30.025, 1, true},
	} {
		dA := (tc.lon-30)*metresPerDegree - 100
		dB := math.Max(0, (30.02-tc.lon)*metresPerDegree)
		wantDist, wantMargin := math.Min(dA, dB), math.Min(dA-50, dB-800)
		r := ix.Query(0, tc.lon, 5000)
		if r.Zone != tc.zone || r.InBuffer() != tc.inBuffer || !within(r.DistanceM, wantDist, 0.005) || math.Abs(r.MarginM-wantMargin) > math.Max(0.5, 0.005*math.Abs(wantMargin)) {
			t.Errorf("%s (lon %v): %+v, want zone %d, in buffer %v, distance %.1f, margin %.1f", tc.name, tc.lon, r, tc.zone, tc.inBuffer, wantDist, wantMargin)
		}
	}
	// At 30.009 E the circle is the nearer zone (901 m against 1223 m), but
	// the square's buffer is nearer: DistanceM is the circle's, Zone the square.
	r := ix.Query(0, 30.009, 5000)
	if want := 0.009*metresPerDegree - 100; !within(r.DistanceM, want, 0.005) || r.Zone != 1 {
		t.Errorf("%+v: want DistanceM %.1f (the circle) and Zone 1 (the square)", r, want)
	}
}

// TestQueryReach: zones whose buffer is farther than reachM are not
// reported.
func TestQueryReach(t *testing.T) {
	ix := parse(t, `{"type":"FeatureCollection","features":[{"type":"Feature",
		"properties":{"radius_m":100,"buffer_m":50},"geometry":{"type":"Point","coordinates":[30,0]}}]}`)
	for _, tc := range []struct {
		centreM, reachM float64
		found           bool
	}{
		{140, 0, true},    // margin −10: in the buffer
		{160, 0, false},   // margin 10 > 0
		{340, 200, true},  // margin 190
		{360, 200, false}, // margin 210
		{1000, 900, true},
		{1100, 900, false},
		{40, 0, true}, // inside
	} {
		lat, lon := destination(0, 30, 1, tc.centreM)
		r := ix.Query(lat, lon, tc.reachM)
		wantMargin := math.Max(0, tc.centreM-100) - 50
		if tc.found {
			if r.Zone != 0 || math.Abs(r.MarginM-wantMargin) > 1e-3 || math.Abs(r.DistanceM-math.Max(0, tc.centreM-100)) > 1e-3 {
				t.Errorf("%v m from the centre, reach %v: %+v, want zone 0 with margin %.0f", tc.centreM, tc.reachM, r, wantMargin)
			}
		} else if r.Zone != -1 || !math.IsInf(r.MarginM, 1) || !math.IsInf(r.DistanceM, 1) || r.Inside || r.InBuffer() {
			t.Errorf("%v m from the centre, reach %v: %+v, want nothing: zone −1, +Inf", tc.centreM, tc.reachM, r)
		}
	}
}

// TestQueryReachSeveralZones: with no zone within reach the result is
// empty, DistanceM included, however large the buffers of other zones
// (they widen the search, not the answer).
func TestQueryReachSeveralZones(t *testing.T) {
	ix := mustLoad(t, "testdata/good/buffers.geojson", geofence.Options{}) // circle at 0 N 30 E r 100 b 50; square 2 km east, b 800
	lon := 30 - 600/metresPerDegree                                        // 500 m west of the circle: margin 450
	if r := ix.Query(0, lon, 100); r.Zone != -1 || !math.IsInf(r.MarginM, 1) || !math.IsInf(r.DistanceM, 1) || r.Inside {
		t.Errorf("reach 100: %+v, want zone −1 and +Inf", r)
	}
	if r := ix.Query(0, lon, 500); r.Zone != 0 || math.Abs(r.DistanceM-500) > 0.01 || math.Abs(r.MarginM-450) > 0.01 {
		t.Errorf("reach 500: %+v, want zone 0 at 500 m, margin 450", r)
	}
}

// TestQueryNonsenseReach: a negative or NaN reach counts as 0; it never
// hides the zone the point is in.
func TestQueryNonsenseReach(t *testing.T) {
	ix := mustLoad(t, "testdata/good/buffers.geojson", geofence.Options{})
	for _, reach := range []float64{-1, math.Inf(-1), math.NaN()} {
		if r := ix.Query(0, 30.0002, reach); !r.Inside || r.Zone != 0 || r.DistanceM != 0 || r.MarginM != -50 || !r.InBuffer() {
			t.Errorf("inside the circle, reach %v: %+v, want inside zone 0 with margin −50", reach, r)
		}
		if r := ix.Query(0, 30.0012, reach); r.Inside || r.Zone != 0 || !r.InBuffer() {
			t.Errorf("in the circle's buffer, reach %v: %+v, want zone 0, in its buffer", reach, r)
		}
		if r := ix.Query(0, 30.01, reach); r.Zone != -1 || !math.IsInf(r.DistanceM, 1) {
			t.Errorf("outside every buffer, reach %v: %+v, want nothing", reach, r)
		}
	}
}

// TestQueryAntimeridian: a zone from 179.9 E to 179.9 W is 0.2° wide, not
// 359.8°, and answers the same from either side of the date line.
func TestQueryAntimeridian(t *testing.T) {
	ix := mustLoad(t, "testdata/good/antimeridian.geojson", geofence.Options{}) // 0.1 S–0.1 N, buffer 0
	for _, tc := range []struct {
		name     string
		lat, lon float64
		inside   bool
		distM    float64
	}{
		{"east half", 0, 179.95, true, 0},
		{"west half", 0, -179.95, true, 0},
		{"on the line, +180", 0, 180, true, 0},
		{"on the line, −180", 0.05, -180, true, 0},
		{"north-east corner area", 0.09, 179.91, true, 0},
		{"south-west corner area", -0.09, -179.91, true, 0},
		{"0.1° west of it", 0, 179.8, false, 0.1 * metresPerDegree},
		{"0.1° east of it", 0, -179.8, false, 0.1 * metresPerDegree},
		{"1° east of it", 0, -178.9, false, 1 * metresPerDegree},
		{"0.1° north, on the line", 0.2, 180, false, 0.1 * metresPerDegree},
		{"0.1° south, on the line", -0.2, -180, false, 0.1 * metresPerDegree},
		{"Greenwich", 0, 0, false, math.Inf(1)},
		{"between, the long way round", 0, 90, false, math.Inf(1)},
	} {
		r := ix.Query(tc.lat, tc.lon, 200000)
		ok := r.Inside == tc.inside
		if math.IsInf(tc.distM, 1) {
			ok = ok && math.IsInf(r.DistanceM, 1) && r.Zone == -1
		} else {
			ok = ok && within(r.DistanceM, tc.distM, 0.005) && r.Zone == 0
		}
		if !ok {
			t.Errorf("%s (%v, %v): %+v, want inside %v at %.1f m", tc.name, tc.lat, tc.lon, r, tc.inside, tc.distM)
		}
	}
}

// TestQueryPoles: caps whose rings run along 89.9° N and S through four
// meridians. Their edges are great circles, so between vertices the cap
// reaches only to colatitude 0.1°·cos 45°.
func TestQueryPoles(t *testing.T) {
	ix := mustLoad(t, "testdata/good/polar.geojson", geofence.Options{})
	// Distance from a point on the 45° meridian to the edge between the
	// vertices on 0° and 90°: the angle between the point and the edge's
	// great circle.
	edgeDist := func(lat float64) float64 {
		n := normalize(cross(toVec(89.9, 0), toVec(89.9, 90)))
		return math.Abs(math.Asin(dot(toVec(lat, 45), n))) * geofence.EarthRadiusM
	}
	vertexDist := 0.05 * metresPerDegree // from 89.85° to the vertex at 89.9° on the same meridian
	for _, tc := range []struct {
		name     string
		lat, lon float64
		zone     int
		inside   bool
		distM    float64
	}{
		{"north pole", 90, 0, 0, true, 0},
		{"near the north pole, lon 0", 89.95, 0, 0, true, 0},
		{"near the north pole, lon 180", 89.95, 180, 0, true, 0},
		{"near the north pole, lon −90", 89.95, -90, 0, true, 0},
		{"just inside the edge at 45°", 89.93, 45, 0, true, 0},
		{"outside the edge at 45°", 89.92, 45, 0, false, edgeDist(89.92)},
		{"beyond the vertex on 0°", 89.85, 0, 0, false, vertexDist},
		{"beyond the vertex on 180°", 89.85, 180, 0, false, vertexDist},
		{"beyond the vertex on −90°", 89.85, -90, 0, false, vertexDist},
		{"south pole", -90, 0, 1, true, 0},
		{"near the south pole, lon 180", -89.95, 180, 1, true, 0},
		{"near the south pole, lon 90", -89.95, 90, 1, true, 0},
		{"beyond the south vertex on 180°", -89.85, 180, 1, false, vertexDist},
		{"beyond the south vertex on 0°", -89.85, 0, 1, false, vertexDist},
	} {
		r := ix.Query(tc.lat, tc.lon, 20000)
		if r.Inside != tc.inside || r.Zone != tc.zone || math.Abs(r.DistanceM-tc.distM) > math.Max(0.01, 0.005*tc.distM) {
			t.Errorf("%s (%v, %v): %+v, want zone %d inside %v at %.2f m", tc.name, tc.lat, tc.lon, r, tc.zone, tc.inside, tc.distM)
		}
	}
	if d := edgeDist(89.92); d < 1000 || d > 1100 {
		t.Fatalf("edge distance at 89.92° N is %.1f m, expected about 1033 m", d)
	}
}

// TestQueryAntimeridianAndPolesMatchReference sweeps the awkward zones on
// a grid and compares with the reference.
func TestQueryAntimeridianAndPolesMatchReference(t *testing.T) {
	for _, tc := range []struct {
		file                         string
		lat0, lat1, lon0, lon1, step float64
	}{
		{"testdata/good/antimeridian.geojson", -0.3, 0.3, 179.7, 180.3, 0.0037}, // longitudes past 180 wrap to the west
		{"testdata/good/polar.geojson", 89.7, 90, -180, 180, 3.7},
		{"testdata/good/polar.geojson", -90, -89.7, -180, 180, 3.7},
	} {
		data, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		ix := mustLoad(t, tc.file, geofence.Options{})
		ref, err := refZones(data, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked, inside := 0, 0
		for lat := tc.lat0; lat <= tc.lat1+1e-9; lat += (tc.lat1 - tc.lat0) / 60 {
			for l := tc.lon0; l <= tc.lon1+1e-9; l += tc.step {
				lon := l
				if lon > 180 {
					lon -= 360
				}
				got, want := ix.Query(lat, lon, 30000), refQuery(ref, lat, lon, 30000, false)
				if (want.boundaryM > 0.5 && got.Inside != want.inside) ||
					(want.distM <= 30000 && math.Abs(got.DistanceM-want.distM) > tolerance(want.distM)) {
					t.Errorf("%s (%.4f, %.4f): %+v, reference inside %v at %.2f m", tc.file, lat, lon, got, want.inside, want.distM)
				}
				checked++
				if want.inside {
					inside++
				}
			}
		}
		if checked < 1000 || inside < checked/20 {
			t.Errorf("%s: %d points checked, %d inside: the grid misses the zone", tc.file, checked, inside)
		}
	}
}

func TestQueryEmptyIndex(t *testing.T) {
	r := geofence.NewIndex(nil).Query(52, 10, 1000)
	if r.Zone != -1 || r.Inside || !math.IsInf(r.DistanceM, 1) || !math.IsInf(r.MarginM, 1) || r.InBuffer() {
		t.Errorf("empty index: %+v", r)
	}
}

// TestQueryConcurrent: an Index is safe for concurrent use (run with -race).
func TestQueryConcurrent(t *testing.T) {
	ix := loadOSM(t)
	type q struct{ lat, lon float64 }
	var pts []q
	for i := range ix.Len() {
		// Points along a line through South Sudan's zones.
		pts = append(pts, q{4 + 8*float64(i)/float64(ix.Len()), 25 + 11*float64(i)/float64(ix.Len())})
	}
	want := make([]geofence.Result, len(pts))
	for i, p := range pts {
		want[i] = ix.Query(p.lat, p.lon, 50000)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for k := range pts {
				i := (k + g*11) % len(pts)
				if got := ix.Query(pts[i].lat, pts[i].lon, 50000); got != want[i] {
					t.Errorf("goroutine %d, point %d: %+v, serially %+v", g, i, got, want[i])
				}
			}
		})
	}
	wg.Wait()
}

// TestQueryFailsClosedOnNonPositions: a NaN or out-of-range position must
// not come back as "no zone near".
func TestQueryFailsClosedOnNonPositions(t *testing.T) {
	ix, err := geofence.Parse("z.geojson", []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"radius_m":100},"geometry":{"type":"Point","coordinates":[10,52]}}]}`), geofence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]float64{{math.NaN(), 10}, {52, math.NaN()}, {95, 10}, {52, 190}, {-91, 0}} {
		r := ix.Query(p[0], p[1], 100)
		if !r.Inside || !r.InBuffer() {
			t.Errorf("Query(%v, %v) = %+v: want inside (fail closed)", p[0], p[1], r)
		}
	}
}

func TestDistanceM(t *testing.T) {
	for _, tc := range []struct {
		lat1, lon1, lat2, lon2, want, tol float64
	}{
		{0, 0, 0, 0, 0, 0},
		{0, 0, 0, 1, 111195.08, 0.01},        // a degree of the equator on the mean sphere
		{52, 10, 52, 10.05, 3422.93, 0.01},   // 0.05° of a parallel: cos 52° of the equator's
		{89.9, 0, 89.9, 180, 22239.02, 0.01}, // over the pole: 0.2° of a meridian
		{0, 0, 0, 180, math.Pi * geofence.EarthRadiusM, 1e-6},
	} {
		if got := geofence.DistanceM(tc.lat1, tc.lon1, tc.lat2, tc.lon2); math.Abs(got-tc.want) > tc.tol {
			t.Errorf("DistanceM(%v,%v,%v,%v) = %.2f, want %.2f", tc.lat1, tc.lon1, tc.lat2, tc.lon2, got, tc.want)
		}
		if got, want := geofence.DistanceM(tc.lat1, tc.lon1, tc.lat2, tc.lon2), haversine(tc.lat1, tc.lon1, tc.lat2, tc.lon2); math.Abs(got-want) > 1e-6*max(1, want) {
			t.Errorf("DistanceM and the reference haversine differ: %.6f vs %.6f", got, want)
		}
	}
}

package geofence_test

import (
	"math"
	"testing"
	"time"

	"quietzone/geofence"
)

// kin is the gateway's default look-ahead model, written out: 3 s horizon,
// 400 km/h cap, 3 m/s² forward, 6 m/s² lateral, 10° heading error.
var kin = geofence.Kinematics{
	Horizon:            3 * time.Second,
	MaxSpeedMps:        400 / 3.6,
	MaxAccelMps2:       3,
	MaxLateralMps2:     6,
	HeadingSigmaDeg:    10,
	MinHeadingSpeedMps: 5 / 3.6,
}

// reachM is the look-ahead distance the model gives (below the cap).
func reachM(kmh, horizonS float64) float64 {
	v := kmh / 3.6
	return v*horizonS + kin.MaxAccelMps2*horizonS*horizonS/2
}

// halfAngleDeg is the look-ahead's half-angle the model gives.
func halfAngleDeg(kmh, horizonS float64) float64 {
	return kin.HeadingSigmaDeg + kin.MaxLateralMps2*horizonS/(kmh/3.6)*180/math.Pi
}

func TestParseShapesProperties(t *testing.T) {
	ix := mustLoad(t, "testdata/good/shapes.geojson", geofence.Options{})
	day := func(h, m int) time.Time { return time.Date(2026, 6, 1, h, m, 0, 0, time.UTC) }
	for i, w := range []geofence.Zone{
		{ID: "road", Name: "Range Road", Class: "firing-range", Geometry: "LineString", BufferM: 50, WidthM: 200},
		{ID: "exercise", Name: "Exercise Area", Class: "exercise", Geometry: "Polygon", BufferM: 100, ValidFrom: day(6, 0), ValidUntil: day(16, 0)},
		{ID: "strict", Name: "Strict Site", Class: "military", Geometry: "Polygon", BufferM: 100,
			Policy: geofence.Policy{LookAhead: 20 * time.Second, ClearFixes: 12, WithholdM: 2000}},
		{ID: "mast", Name: "Mast", Geometry: "Point", RadiusM: 300, ValidUntil: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)},
	} {
		z := ix.Zone(i)
		if z.ID != w.ID || z.Name != w.Name || z.Class != w.Class || z.Geometry != w.Geometry || z.BufferM != w.BufferM ||
			z.WidthM != w.WidthM || z.RadiusM != w.RadiusM || !z.ValidFrom.Equal(w.ValidFrom) || !z.ValidUntil.Equal(w.ValidUntil) || z.Policy != w.Policy {
			t.Errorf("zone %d: %+v\nwant %+v", i, z, w)
		}
	}
	if n := ix.Zone(0).Vertices(); n != 3 {
		t.Errorf("corridor has %d vertices, want 3", n)
	}
	if n := ix.Zone(1).Vertices(); n != 4 {
		t.Errorf("square has %d vertices, want 4", n)
	}
}

// TestQueryCorridor: a corridor is everything within half its width of its
// centre line, ends rounded.
func TestQueryCorridor(t *testing.T) {
	ix := mustLoad(t, "testdata/good/shapes.geojson", geofence.Options{}) // road: 40.00→40.02 E on the equator, then north to 0.02 N; 200 m wide, buffer 50
	for _, tc := range []struct {
		name     string
		lat, lon float64
		lineM    float64 // distance to the centre line
	}{
		{"on the line", 0, 40.01, 0},
		{"55 m north of it", 0.0005, 40.01, 0.0005 * metresPerDegree},
		{"99 m south", -99 / metresPerDegree, 40.005, 99},
		{"101 m south", -101 / metresPerDegree, 40.005, 101},
		{"500 m north", 500 / metresPerDegree, 40.01, 500},
		{"west of the start", 0, 39.99, 0.01 * metresPerDegree},
		{"east of the bend", 0.01, 40.03, 0.01 * metresPerDegree},
		{"past the far end", 0.03, 40.02, 0.01 * metresPerDegree},
		{"inside the bend", 0.001, 40.019, 0.001 * metresPerDegree},
	} {
		want := math.Max(0, tc.lineM-100)
		r := ix.Query(tc.lat, tc.lon, 5000)
		if r.Zone != 0 || r.Inside != (tc.lineM <= 100) || math.Abs(r.DistanceM-want) > math.Max(0.01, 0.005*want) || math.Abs(r.MarginM-(r.DistanceM-50)) > 1e-9 {
			t.Errorf("%s: %+v, want zone 0, inside %v, distance %.2f", tc.name, r, tc.lineM <= 100, want)
		}
	}
}

func TestAssessValidityWindows(t *testing.T) {
	ix := mustLoad(t, "testdata/good/shapes.geojson", geofence.Options{})
	exercise := [2]float64{0.005, 41.005} // valid 2026-06-01 06:00–16:00 UTC
	mast := [2]float64{0, 43}             // valid until 2026-05-01
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tc := range []struct {
		name   string
		pos    [2]float64
		at     time.Time
		skew   time.Duration
		counts bool
	}{
		{"before the window", exercise, at("2026-06-01T05:59:59Z"), 0, false},
		{"at its start", exercise, at("2026-06-01T06:00:00Z"), 0, true},
		{"during it", exercise, at("2026-06-01T12:00:00Z"), 0, true},
		{"at its end", exercise, at("2026-06-01T16:00:00Z"), 0, true},
		{"after it", exercise, at("2026-06-01T16:00:01Z"), 0, false},
		{"before, within the skew", exercise, at("2026-06-01T05:55:00Z"), 10 * time.Minute, true},
		{"after, within the skew", exercise, at("2026-06-01T16:09:59Z"), 10 * time.Minute, true},
		{"after the skew", exercise, at("2026-06-01T16:10:01Z"), 10 * time.Minute, false},
		{"untrusted clock", exercise, time.Time{}, 0, true},
		{"a clock far off", exercise, at("9999-01-01T00:00:00Z"), 0, true},
		{"expired mast", mast, at("2026-06-01T12:00:00Z"), 0, false},
		{"mast while valid", mast, at("2026-04-30T23:59:00Z"), 0, true},
		{"mast, untrusted clock", mast, time.Time{}, 0, true},
	} {
		f := geofence.Fix{Lat: tc.pos[0], Lon: tc.pos[1], At: tc.at, Skew: tc.skew}
		a := ix.Assess(&f, nil)
		if a.Inside != tc.counts || a.Clear == tc.counts || a.Ahead != tc.counts {
			t.Errorf("%s: %+v, want the zone to count: %v", tc.name, a, tc.counts)
		}
		f.Lat, f.Lon = tc.pos[0]+0.0001, tc.pos[1]+0.0001 // a path through the zone
		if _, crossed := ix.Crossed(&geofence.Fix{Lat: tc.pos[0] - 0.1, Lon: tc.pos[1]}, &f); crossed != tc.counts {
			t.Errorf("%s: path through the zone crossed %v, want %v", tc.name, crossed, tc.counts)
		}
	}
	// Query has no time: every zone counts.
	if r := ix.Query(mast[0], mast[1], 0); !r.Inside {
		t.Errorf("Query in the expired mast: %+v: Query counts every zone", r)
	}
}

// square-ccw.geojson: 52.00–52.01 N, 10.00–10.02 E, buffer 150.
func southOfSquare(m float64) (lat, lon float64) { return 52.0 - m/metresPerDegree, 10.01 }

func TestAssessLookAheadDirectional(t *testing.T) {
	ix := mustLoad(t, "testdata/good/square-ccw.geojson", geofence.Options{})
	const acc = 4
	d100 := reachM(100, 3)       // 96.8 m at 100 km/h
	a100 := halfAngleDeg(100, 3) // 47°
	if math.Abs(d100-96.83) > 0.01 || math.Abs(a100-47.1) > 0.1 {
		t.Fatalf("model: %.2f m, %.1f°", d100, a100)
	}
	for _, tc := range []struct {
		name       string
		marginM    float64 // from the buffer, due south of it
		kmh, hdg   float64
		ahead      bool
		insideDisc bool // within the omnidirectional disc
	}{
		{"heading for it", 90, 100, 0, true, true},
		{"heading away", 90, 100, 180, false, true},
		{"parallel, sector edge short of it", 90, 100, 90, false, true}, // reaches north by D·cos(90°−47°) = 70.8 m
		{"angled, sector edge reaches it", 90, 100, 60, true, true},     // D·cos(13°) = 94.3 m ≥ 90 − acc
		{"angled the other way", 90, 100, 300, true, true},
		{"heading unknown", 90, 100, math.NaN(), true, true},
		{"speed unknown", 150, math.NaN(), 180, true, true}, // the cap, every direction
		{"beyond the disc", 150, 100, 0, false, false},
		{"slow: every direction", 15, 10, 180, true, true}, // 21.8 m
		{"slow, beyond the disc", 30, 10, 0, false, false},
		{"within accuracy, heading away", 3, 100, 180, true, true},
		{"in the buffer", -20, 100, 180, true, true},
	} {
		lat, lon := southOfSquare(150 + tc.marginM)
		f := geofence.Fix{Lat: lat, Lon: lon, AccuracyM: acc, SpeedMps: tc.kmh / 3.6, HeadingDeg: tc.hdg}
		a := ix.Assess(&f, &kin)
		if a.Ahead != tc.ahead || a.Clear == tc.ahead || (a.AheadZone == 0) != tc.ahead {
			t.Errorf("%s: %+v, want ahead %v", tc.name, a, tc.ahead)
		}
		// Without look-ahead only the accuracy counts.
		if b := ix.Assess(&f, nil); b.Ahead != (tc.marginM <= acc) {
			t.Errorf("%s without look-ahead: %+v", tc.name, b)
		}
	}
}

// TestAssessLookAheadExact puts the vehicle just outside and just inside
// the reach of its look-ahead, heading straight for the zone.
func TestAssessLookAheadExact(t *testing.T) {
	ix := mustLoad(t, "testdata/good/square-ccw.geojson", geofence.Options{})
	for _, kmh := range []float64{0, 30, 50, 100, 130, 250, 400, 500} {
		d := math.Min(reachM(kmh, 3), kin.MaxSpeedMps*3)
		if kmh/3.6 > kin.MaxSpeedMps {
			d = kin.MaxSpeedMps * 3
		}
		for _, tc := range []struct {
			off   float64
			ahead bool
		}{{-0.5, true}, {0.5, false}} {
			lat, lon := southOfSquare(150 + 2 + d + tc.off)
			f := geofence.Fix{Lat: lat, Lon: lon, AccuracyM: 2, SpeedMps: kmh / 3.6, HeadingDeg: 0}
			if a := ix.Assess(&f, &kin); a.Ahead != tc.ahead {
				t.Errorf("%v km/h, %.1f m from the buffer (reach %.1f + 2): ahead %v, want %v", kmh, 2+d+tc.off, d, a.Ahead, tc.ahead)
			}
		}
	}
}

func TestAssessExitMarginAndWithhold(t *testing.T) {
	ix := mustLoad(t, "testdata/good/square-ccw.geojson", geofence.Options{})
	for _, tc := range []struct {
		marginM              float64
		clear, positionClear bool
	}{
		{3, false, false}, // within accuracy: ahead
		{30, false, false},
		{53, false, false}, // exit margin 50 + accuracy 4
		{55, true, false},
		{303, true, false}, // withhold 300 + accuracy 4
		{305, true, true},
	} {
		lat, lon := southOfSquare(150 + tc.marginM)
		f := geofence.Fix{Lat: lat, Lon: lon, AccuracyM: 4, HeadingDeg: math.NaN(), ExitMarginM: 50, WithholdM: 300}
		a := ix.Assess(&f, nil)
		if a.Clear != tc.clear || a.PositionClear != tc.positionClear {
			t.Errorf("%v m from the buffer: clear %v, position clear %v; want %v, %v", tc.marginM, a.Clear, a.PositionClear, tc.clear, tc.positionClear)
		}
		// Result reaches ReachM only: the answers above reach farther.
		if a.Zone != -1 {
			t.Errorf("%v m from the buffer, ReachM 0: %+v, want nothing in Result", tc.marginM, a.Result)
		}
		// The southern edge is a geodesic: it bows 5 cm north of 52° N.
		f.ReachM = 1000
		if b := ix.Assess(&f, nil); b.Zone != 0 || math.Abs(b.MarginM-tc.marginM-0.047) > 0.01 || b.Clear != a.Clear || b.PositionClear != a.PositionClear {
			t.Errorf("%v m from the buffer, ReachM 1000: %+v, want zone 0 with that margin", tc.marginM, b)
		}
	}
}

func TestAssessPolicyOverrides(t *testing.T) {
	ix := mustLoad(t, "testdata/good/shapes.geojson", geofence.Options{})
	// Strict Site: 42.00–42.01 E, 0–0.01 N, buffer 100; lookahead_s 20,
	// clear_fixes 12, withhold_m 2000. Exercise Area: the same without a
	// policy, 41.00–41.01 E (its window is ignored: At is zero).
	south := func(lon0, m float64) (float64, float64) { return -m / metresPerDegree, lon0 + 0.005 }
	for _, tc := range []struct {
		name                        string
		lon0, marginM, kmh          float64
		ahead, clear, positionClear bool
		clearFixes                  int
	}{
		{"plain zone, in its buffer", 41, -10, 50, true, false, false, 0},
		{"strict zone, in its buffer", 42, -10, 50, true, false, false, 12},
		{"plain zone at 1 km", 41, 1000, 50, false, true, true, 0},
		{"strict zone at 1 km: 23 s of look-ahead", 42, 1000, 50, true, false, false, 12},
		{"strict zone at 1.5 km: withheld only", 42, 1500, 50, false, true, false, 0},
		{"strict zone at 2.5 km", 42, 2500, 50, false, true, true, 0},
	} {
		lat, lon := south(tc.lon0, 100+tc.marginM)
		f := geofence.Fix{Lat: lat, Lon: lon, AccuracyM: 4, SpeedMps: tc.kmh / 3.6, HeadingDeg: 0, ExitMarginM: 50, WithholdM: 300}
		a := ix.Assess(&f, &kin)
		if a.Ahead != tc.ahead || a.Clear != tc.clear || a.PositionClear != tc.positionClear || a.ClearFixes != tc.clearFixes {
			t.Errorf("%s: %+v; want ahead %v, clear %v, position clear %v, clear fixes %d", tc.name, a, tc.ahead, tc.clear, tc.positionClear, tc.clearFixes)
		}
	}
	if d := reachM(50, 23); d < 1000 || d > 1200 {
		t.Fatalf("23 s at 50 km/h reach %.0f m: the cases above assume 1000–1200", d)
	}
}

func TestCrossed(t *testing.T) {
	sq := mustLoad(t, "testdata/good/square-ccw.geojson", geofence.Options{}) // 52.00–52.01 N, 10.00–10.02 E, buffer 150
	holed := mustLoad(t, "testdata/good/zones.geojson", geofence.Options{})   // zone 0: 20.00–20.10 E, 0–0.10 N, hole 20.03–20.07 × 0.03–0.07, buffer 50
	anti := mustLoad(t, "testdata/good/antimeridian.geojson", geofence.Options{})
	fix := func(lat, lon, acc float64) *geofence.Fix { return &geofence.Fix{Lat: lat, Lon: lon, AccuracyM: acc} }
	east := func(lat, lon, m float64) float64 { return lon + m/(metresPerDegree*math.Cos(lat*math.Pi/180)) }
	for _, tc := range []struct {
		name     string
		ix       *geofence.Index
		from, to *geofence.Fix
		zone     int
		crossed  bool
	}{
		{"through it, 4 km between fixes", sq, fix(51.98, 10.01, 2), fix(52.03, 10.01, 2), 0, true},
		{"parallel, 2 km away", sq, fix(51.98, 10.01, 2), fix(51.98, 10.05, 2), -1, false},
		{"past the corner within the buffer", sq, fix(51.99, east(52, 10.02, 140), 2), fix(52.02, east(52, 10.02, 140), 2), 0, true},
		{"past the corner outside the buffer", sq, fix(51.99, east(52, 10.02, 160), 2), fix(52.02, east(52, 10.02, 160), 2), -1, false},
		{"outside the buffer but not the accuracy", sq, fix(51.99, east(52, 10.02, 160), 15), fix(52.02, east(52, 10.02, 160), 2), 0, true},
		{"ending inside", sq, fix(51.98, 10.01, 2), fix(52.005, 10.01, 2), 0, true},
		{"inside, not moving", sq, fix(52.005, 10.01, 2), fix(52.005, 10.01, 2), 0, true},
		{"standing still outside", sq, fix(51.98, 10.01, 2), fix(51.98, 10.01, 2), -1, false},
		{"a jump of 1000 km over it", sq, fix(47.5, 10.01, 2), fix(56.5, 10.01, 2), 0, true},
		{"a jump of 1000 km beside it", sq, fix(47.5, 11, 2), fix(56.5, 11, 2), -1, false},
		{"within the hole", holed, fix(0.04, 20.04, 2), fix(0.06, 20.06, 2), -1, false},
		{"out of the hole", holed, fix(0.05, 20.05, 2), fix(0.05, 20.15, 2), 0, true},
		{"over the ring", holed, fix(0.05, 19.9, 2), fix(0.05, 20.05, 2), 0, true},
		{"over the antimeridian", anti, fix(0, 179.5, 2), fix(0, -179.5, 2), 0, true},
		{"beside it, over the antimeridian", anti, fix(0.5, 179.5, 2), fix(0.5, -179.5, 2), -1, false},
		{"not a position", sq, fix(math.NaN(), 10, 2), fix(52, 10, 2), -1, true},
		{"unknown accuracy", sq, fix(51, 10, math.NaN()), fix(51.1, 10, 2), -1, true},
		{"half the Earth", sq, fix(0, 0, 2), fix(0, 170, 2), -1, true},
	} {
		zone, crossed := tc.ix.Crossed(tc.from, tc.to)
		if zone != tc.zone || crossed != tc.crossed {
			t.Errorf("%s: zone %d, crossed %v; want %d, %v", tc.name, zone, crossed, tc.zone, tc.crossed)
		}
		if zone2, crossed2 := tc.ix.Crossed(tc.to, tc.from); crossed2 != crossed || zone2 != zone {
			t.Errorf("%s, backwards: zone %d, crossed %v", tc.name, zone2, crossed2)
		}
	}
}

func TestAssessFailsClosed(t *testing.T) {
	ix := mustLoad(t, "testdata/good/square-ccw.geojson", geofence.Options{})
	for _, f := range []geofence.Fix{
		{Lat: math.NaN(), Lon: 10},
		{Lat: 52, Lon: 200},
		{Lat: 40, Lon: 10, AccuracyM: math.NaN()},
		{Lat: 40, Lon: 10, AccuracyM: math.Inf(1)},
		{Lat: 40, Lon: 10, AccuracyM: -1},
	} {
		a := ix.Assess(&f, &kin)
		if !a.Inside || !a.Ahead || a.Clear || a.PositionClear || !a.InBuffer() {
			t.Errorf("%+v: %+v, want everything suppressed", f, a)
		}
	}
	// Nonsense accuracy or thresholds never make a fix clearer.
	lat, lon := southOfSquare(150 + 2000)
	for _, f := range []geofence.Fix{
		{Lat: lat, Lon: lon, AccuracyM: -5},
		{Lat: lat, Lon: lon, ExitMarginM: math.NaN()},
		{Lat: lat, Lon: lon, WithholdM: -1},
	} {
		if a := ix.Assess(&f, nil); !a.Ahead || a.Clear || a.PositionClear {
			t.Errorf("2 km from the buffer, %+v: %+v, want everything suppressed", f, a)
		}
	}
}

// TestCirclesAndCorridorsOverTheAntimeridianAndPoles: the awkward places
// work for circles and corridors as they do for polygons.
func TestCirclesAndCorridorsOverTheAntimeridianAndPoles(t *testing.T) {
	ix := parse(t, `{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"id":"dateline-road","width_m":2000},"geometry":{"type":"LineString","coordinates":[[179.9,10],[-179.9,10]]}},
 {"type":"Feature","properties":{"id":"pole-mast","radius_m":5000},"geometry":{"type":"Point","coordinates":[0,90]}},
 {"type":"Feature","properties":{"id":"polar-road","width_m":1000},"geometry":{"type":"LineString","coordinates":[[0,89.9],[180,89.9]]}},
 {"type":"Feature","properties":{"id":"south-mast","radius_m":1000},"geometry":{"type":"Point","coordinates":[180,-89.99]}}]}`)
	for _, tc := range []struct {
		name     string
		lat, lon float64
		zone     int
		distM    float64 // 0: inside
	}{
		{"on the date line", 10, 180, 0, 0},
		{"on the date line, west", 10.005, -180, 0, 0},
		{"east of it", 10, -179.95, 0, 0},
		{"north of the road", 10.05, 180, 0, 0.05*metresPerDegree - 1000},
		{"the north pole", 90, 123, 1, 0},
		{"4 km from the pole", 90 - 4000/metresPerDegree, -77, 1, 0},
		{"6 km from the pole", 90 - 6000/metresPerDegree, 45, 1, 1000},
		{"beside the polar road", 89.9 + 0.05/111.195, 0, 1, 0}, // over the pole the road's geodesic is the 0/180 meridian
		{"the south mast", -89.99, 0, 3, 2*0.01*metresPerDegree - 1000},
		{"in the south mast", -89.995, 180, 3, 0},
	} {
		r := ix.Query(tc.lat, tc.lon, 20000)
		if r.Zone < 0 || (tc.distM == 0) != r.Inside || math.Abs(r.DistanceM-tc.distM) > math.Max(0.5, 0.005*tc.distM) {
			t.Errorf("%s (%v, %v): %+v, want zone %d at %.1f m", tc.name, tc.lat, tc.lon, r, tc.zone, tc.distM)
		}
		if tc.distM > 0 && r.Zone != tc.zone { // inside, several zones may hold the point
			t.Errorf("%s: nearest zone %d, want %d", tc.name, r.Zone, tc.zone)
		}
	}
}

package geofence_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"quietzone/geofence"
)

// fuzzPoints are queried on every zone file the fuzzer manages to load:
// ordinary places, the poles, the antimeridian, and the zones of the seeds.
var fuzzPoints = [][2]float64{
	{0, 0}, {52.005, 10.01}, {0.05, 20.05}, {2, 22}, {0, 30.01},
	{90, 0}, {-90, 180}, {0, 180}, {0, -180}, {89.95, 45}, {4.2464, 33.99},
}

// FuzzParse: whatever the bytes, Parse neither panics nor returns an
// error other than a *FeatureError, and an Index it returns answers
// queries with consistent results. The seed corpus is in
// testdata/fuzz/FuzzParse; the fixtures of testdata/good and testdata/bad
// are added to it.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/good", "testdata/bad"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.geojson"))
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.geojson"
		ix, err := geofence.Parse(name, data, geofence.Options{DefaultBufferM: 25})
		if err != nil {
			if ix != nil {
				t.Error("an Index came back with the error")
			}
			var fe *geofence.FeatureError
			if !errors.As(err, &fe) {
				t.Fatalf("error %q (%T) is not and does not wrap a *FeatureError", err, err)
			}
			if fe.File != name || fe.Feature < -1 || fe.Reason == "" {
				t.Fatalf("FeatureError %+v", *fe)
			}
			return
		}
		if ix.Len() == 0 {
			t.Fatal("an Index with no zones was accepted")
		}
		// Every feature is a zone: none was left out.
		var top map[string]json.RawMessage
		var features []json.RawMessage
		if err := json.Unmarshal(data, &top); err != nil {
			t.Fatalf("accepted, but encoding/json refuses it: %v", err)
		}
		if err := json.Unmarshal(top["features"], &features); err != nil || len(features) != ix.Len() {
			t.Fatalf("%d zones from %d features (%v)", ix.Len(), len(features), err)
		}
		for i := range ix.Len() {
			if z := ix.Zone(i); !(z.BufferM >= 0) || !(z.RadiusM >= 0) {
				t.Fatalf("zone %d: buffer %v, radius %v", i, z.BufferM, z.RadiusM)
			}
		}
		for _, p := range fuzzPoints {
			for _, reach := range []float64{0, 100, 1e4, -1, math.NaN()} {
				checkResult(t, ix, p[0], p[1], reach)
			}
			checkAssessment(t, ix, p[0], p[1])
		}
		for i, a := range fuzzPoints {
			b := fuzzPoints[(i+1)%len(fuzzPoints)]
			from, to := geofence.Fix{Lat: a[0], Lon: a[1], AccuracyM: 5}, geofence.Fix{Lat: b[0], Lon: b[1], AccuracyM: 5}
			zone, crossed := ix.Crossed(&from, &to)
			if zone < -1 || zone >= ix.Len() || (zone >= 0 && !crossed) {
				t.Fatalf("Crossed(%v, %v) = %d, %v", a, b, zone, crossed)
			}
		}
	})
}

// checkAssessment checks the invariants of an Assessment that hold for
// any zones: what is inside or in a buffer is never clear, and the
// look-ahead only adds to the plain position.
func checkAssessment(t *testing.T, ix *geofence.Index, lat, lon float64) {
	t.Helper()
	k := geofence.Kinematics{Horizon: 3e9, MaxSpeedMps: 100, MaxAccelMps2: 3, MaxLateralMps2: 6, HeadingSigmaDeg: 10, MinHeadingSpeedMps: 1}
	for _, f := range []geofence.Fix{
		{Lat: lat, Lon: lon, AccuracyM: 5, SpeedMps: 30, HeadingDeg: 45, ExitMarginM: 50, WithholdM: 200},
		{Lat: lat, Lon: lon, SpeedMps: math.NaN(), HeadingDeg: math.NaN(), At: time.Date(2026, 6, 1, 8, 30, 0, 0, time.UTC), Skew: time.Minute},
	} {
		a := ix.Assess(&f, &k)
		plain := ix.Assess(&f, nil)
		bad := func(why string) { t.Fatalf("Assess(%+v) = %+v: %s", f, a, why) }
		switch {
		case a.Inside && (a.Clear || !a.Ahead || a.PositionClear):
			bad("inside but clear, not ahead, or showing the position")
		case a.InBuffer() && (a.Clear || !a.Ahead):
			bad("in a buffer but clear or not ahead")
		case a.Ahead && a.Clear:
			bad("ahead and clear")
		case a.Ahead != (a.AheadZone >= 0) && !a.Inside:
			bad("Ahead and AheadZone disagree")
		case a.AheadZone >= ix.Len() || a.ClearFixes < 0:
			bad("out of range")
		case plain.Ahead && !a.Ahead, !plain.Clear && a.Clear:
			bad("the look-ahead cleared what the position alone did not")
		}
	}
}

// checkResult checks the invariants of a Result that hold for any zones.
func checkResult(t *testing.T, ix *geofence.Index, lat, lon, reach float64) {
	t.Helper()
	r := ix.Query(lat, lon, reach)
	bad := func(why string) { t.Fatalf("Query(%v, %v, %v) = %+v: %s", lat, lon, reach, r, why) }
	switch {
	case math.IsNaN(r.DistanceM) || math.IsNaN(r.MarginM):
		bad("NaN")
	case r.DistanceM < 0:
		bad("negative distance")
	case r.Inside != (r.DistanceM == 0):
		bad("Inside and DistanceM == 0 disagree")
	case r.Zone < -1 || r.Zone >= ix.Len():
		bad("zone out of range")
	case (r.Zone == -1) != math.IsInf(r.MarginM, 1) || (r.Zone == -1) != math.IsInf(r.DistanceM, 1):
		bad("Zone −1, MarginM +Inf and DistanceM +Inf disagree")
	case r.InBuffer() != (r.MarginM <= 0):
		bad("InBuffer and MarginM disagree")
	case r.Inside && !r.InBuffer():
		bad("inside a zone but not in a buffer")
	}
	if !(reach >= 0) {
		reach = 0 // what Query makes of a negative or NaN reach
	}
	if r.Zone >= 0 {
		b := ix.Zone(r.Zone).BufferM
		if r.MarginM > reach || r.MarginM < r.DistanceM-b-1e-6*math.Max(1, math.Abs(b)) {
			bad("MarginM beyond reach or below DistanceM − buffer")
		}
	}
}

package geofence_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"quietzone/geofence"
)

// Margins agrees with Query: its smallest margin is Query's, each zone's
// margin is what Query finds with that zone alone, and no zone beyond the
// reach is listed.
func TestMarginsAgreesWithQuery(t *testing.T) {
	const src = `{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"id":"a","buffer_m":200},"geometry":{"type":"Polygon","coordinates":[[[9.99,51.99],[10.01,51.99],[10.01,52.01],[9.99,52.01],[9.99,51.99]]]}},
 {"type":"Feature","properties":{"id":"b","buffer_m":50,"radius_m":300},"geometry":{"type":"Point","coordinates":[10.03,52.0]}},
 {"type":"Feature","properties":{"id":"c","buffer_m":500},"geometry":{"type":"MultiPolygon","coordinates":[[[[9.95,52.02],[9.96,52.02],[9.96,52.03],[9.95,52.02]]],[[[9.97,51.97],[9.98,51.97],[9.98,51.98],[9.97,51.97]]]]}}]}`
	ix := parse(t, src)
	alone := make([]*geofence.Index, ix.Len())
	for i := range alone {
		alone[i] = geofence.NewIndex([]geofence.Zone{ix.Zone(i)})
	}
	rng := rand.New(rand.NewPCG(4, 4))
	var buf []geofence.ZoneMargin
	for i := 0; i < 3000; i++ {
		lat, lon := 51.95+0.1*rng.Float64(), 9.92+0.14*rng.Float64()
		reach := []float64{0, 100, 1000, 5000}[rng.IntN(4)]
		buf = ix.Margins(lat, lon, reach, buf[:0])
		q := ix.Query(lat, lon, reach)
		smallest := math.Inf(1)
		seen := map[int]bool{}
		for _, zm := range buf {
			if seen[zm.Zone] {
				t.Fatalf("(%v, %v): zone %d listed twice", lat, lon, zm.Zone)
			}
			seen[zm.Zone] = true
			smallest = math.Min(smallest, zm.MarginM)
			if zm.MarginM > reach {
				t.Fatalf("(%v, %v): zone %d at margin %v beyond reach %v", lat, lon, zm.Zone, zm.MarginM, reach)
			}
			if want := alone[zm.Zone].Query(lat, lon, reach).MarginM; math.Abs(zm.MarginM-want) > 1e-6 {
				t.Fatalf("(%v, %v): zone %d margin %v, alone %v", lat, lon, zm.Zone, zm.MarginM, want)
			}
		}
		for z := range alone {
			if r := alone[z].Query(lat, lon, reach); r.MarginM <= reach && !seen[z] {
				t.Fatalf("(%v, %v): zone %d at margin %v not listed (reach %v)", lat, lon, z, r.MarginM, reach)
			}
		}
		if math.Abs(smallest-q.MarginM) > 1e-6 && !(math.IsInf(smallest, 1) && math.IsInf(q.MarginM, 1)) {
			t.Fatalf("(%v, %v) reach %v: smallest margin %v, Query %v", lat, lon, reach, smallest, q.MarginM)
		}
	}
}

func TestMarginsOfANonPosition(t *testing.T) {
	ix := mustLoad(t, "testdata/good/square-ccw.geojson", geofence.Options{})
	for _, ll := range [][2]float64{{math.NaN(), 10}, {91, 10}, {52, 181}} {
		got := ix.Margins(ll[0], ll[1], 0, nil)
		if len(got) != ix.Len() || !math.IsInf(got[0].MarginM, -1) {
			t.Errorf("%v: %+v, want every zone at -Inf", ll, got)
		}
	}
}

package geofence_test

import (
	"math"
	"testing"

	"quietzone/geofence"
)

// Cap holds the zone; Circle makes a cover; WithCovers carries covers
// beside the zones without changing them.
func TestCapCircleCovers(t *testing.T) {
	ix, err := geofence.Parse("z", []byte(`{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"buffer_m":100},"geometry":{"type":"Polygon","coordinates":[[[10.0,52.0],[10.02,52.0],[10.02,52.01],[10.0,52.01],[10.0,52.0]]]}},
{"type":"Feature","properties":{"radius_m":300},"geometry":{"type":"Point","coordinates":[11.0,53.0]}},
{"type":"Feature","properties":{"width_m":40},"geometry":{"type":"LineString","coordinates":[[12.0,50.0],[12.05,50.0]]}}]}`), geofence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct{ maxR float64 }{{900}, {301}, {1820}} {
		lat, lon, r := ix.Zone(i).Cap()
		if r > tc.maxR || math.IsNaN(lat) || math.IsNaN(lon) {
			t.Errorf("zone %d: cap radius %.0f m, want at most %.0f", i, r, tc.maxR)
		}
		// Every point the zone holds is within the cap: probe a grid.
		for dy := -0.02; dy <= 0.03; dy += 0.0005 {
			for dx := -0.06; dx <= 0.08; dx += 0.0005 {
				plat, plon := lat+dy, lon+dx
				if q := ix.Query(plat, plon, 0); q.Inside && q.Zone == i && geofence.DistanceM(lat, lon, plat, plon) > r+0.5 {
					t.Fatalf("zone %d: a point inside it %.0f m from the cap's centre, radius %.0f", i, geofence.DistanceM(lat, lon, plat, plon), r)
				}
			}
		}
	}
	c, err := geofence.Circle(52.0, 10.0, 2500)
	if err != nil {
		t.Fatal(err)
	}
	cov := geofence.NewIndex([]geofence.Zone{c})
	if q := cov.Query(52.02, 10.0, 0); !q.Inside {
		t.Error("a point 2.2 km from the cover's centre is not in it")
	}
	if q := cov.Query(52.03, 10.0, 0); q.Inside {
		t.Error("a point 3.3 km from the cover's centre is in it")
	}
	with := ix.WithCovers(cov)
	if with.Covers() != cov || ix.Covers() != nil || with.Len() != ix.Len() {
		t.Error("WithCovers changed the zones or lost the covers")
	}
	for _, bad := range []struct{ lat, lon, r float64 }{{91, 0, 1}, {0, 0, 0}, {0, 0, math.NaN()}, {0, 0, 2e6}} {
		if _, err := geofence.Circle(bad.lat, bad.lon, bad.r); err == nil {
			t.Errorf("Circle(%v) made a zone", bad)
		}
	}
}

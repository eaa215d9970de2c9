package gateway

import (
	"math"
	"quietzone/geofence"
	"testing"
	"time"
)

// BenchmarkPersistTrustedFix is the state writer's share of every frame
// while GNSS is trusted: the anchor moves with each fix, and nothing is
// handed to the writer.
func BenchmarkPersistTrustedFix(b *testing.B) {
	g := &Gateway{}
	g.e.save = make(chan Saved, 1)
	g.z.needClear = 3
	t := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	g.tr.reset(newRef(fix{lat: 52, lon: 10, acc: 4, t: t}, 0))
	g.persist()
	<-g.e.save
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		g.tr.refs[0].t = t.Add(time.Duration(i) * 100 * time.Millisecond)
		g.tr.refs[0].lat += 1e-6
		g.persist()
	}
	if len(g.e.save) != 0 {
		b.Fatal("a moving trusted anchor was handed to the writer")
	}
}

// TestArcM: the trust check's distance agrees with the great-circle one
// to within millimetres out to 30 km, and is never less by more.
func TestArcM(t *testing.T) {
	for _, tc := range []struct{ lat1, lon1, lat2, lon2 float64 }{
		{52, 10, 52.0001, 10}, {52, 10, 52.27, 10.2}, {0, 179.9, 0.1, -179.95}, {-89.9, 0, -89.9, 180}, {60, 5, 60, 5},
	} {
		a, b := unitVec(tc.lat1, tc.lon1), unitVec(tc.lat2, tc.lon2)
		got, want := arcM(&a, &b), geofence.DistanceM(tc.lat1, tc.lon1, tc.lat2, tc.lon2)
		if math.Abs(got-want) > 0.005 {
			t.Errorf("%v: arcM %.4f m, great circle %.4f m", tc, got, want)
		}
	}
}

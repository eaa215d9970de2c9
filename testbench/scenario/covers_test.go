package scenario

import (
	"bytes"
	"math"
	"slices"
	"testing"

	"quietzone/gateway/config"
	"quietzone/geofence"
)

// A population's covers are one bundle's: drawn from its seed (the same
// seed, the same covers), a cover holding each zone, decoys beside them,
// on the population's roads when they have room, and every trip given
// the same.
func TestPopulationCovers(t *testing.T) {
	zones, err := geofence.Parse("demo", BuiltIn().Zones, geofence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		trips    int
		wantNote bool
	}{
		{"fleet", 12, false},
		{"car", 12, true}, // three short roads near both zones: no room 2·cover_offset_m apart
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Generate(tc.name, 7, tc.trips)
			if err != nil {
				t.Fatal(err)
			}
			if (p.CoversNote != "") != tc.wantNote {
				t.Errorf("note %q", p.CoversNote)
			}
			q, err := Generate(tc.name, 7, tc.trips)
			if err != nil {
				t.Fatal(err)
			}
			other, err := Generate(tc.name, 8, tc.trips)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p.Trips[0].Covers, q.Trips[0].Covers) || bytes.Equal(p.Trips[0].Covers, other.Trips[0].Covers) {
				t.Error("covers are not drawn from the seed alone")
			}
			for _, tr := range p.Trips {
				if !bytes.Equal(tr.Covers, p.Trips[0].Covers) {
					t.Fatalf("%s: covers of its own", tr.Name)
				}
			}
			cov, err := config.ParseCovers("covers", p.Trips[0].Covers)
			if err != nil {
				t.Fatal(err)
			}
			pol, _ := config.ParsePolicy("demo", BuiltIn().Policy)
			if want := zones.Len() * (1 + pol.NearZones.Decoys); cov.Len() != want {
				t.Errorf("%d covers, want %d", cov.Len(), want)
			}
			for i := range zones.Len() {
				zLat, zLon, zr := zones.Zone(i).Cap()
				held := false
				for j := range cov.Len() {
					lat, lon, r := cov.Zone(j).Cap()
					if geofence.DistanceM(lat, lon, zLat, zLon)+zr <= r {
						held = true
					}
				}
				if !held {
					t.Errorf("zone %d in no cover", i)
				}
			}
		})
	}
}

// The fleet's traffic converges on places, the zones two of them and no
// busier nor quieter than the towns; its country is the same whatever the
// seed, its past (Past, which its decoys are placed by) is not the trips
// it drives; and its decoys are as busy in that past as the real covers:
// on the old fleet, the zones were the only places traffic converged and
// decoys went anywhere on the roads, and an observer picked the real zone
// by its traffic (issue 14 (e)).
func TestFleetPlacesAndDecoys(t *testing.T) {
	places, _, roads := FleetMap()
	p2, _, roads2 := FleetMap()
	if len(places) < 8 || !slices.Equal(places, p2) || len(roads) != len(roads2) {
		t.Fatalf("%d places; the map is not the same each time", len(places))
	}
	p, err := Generate("fleet", 5, 600)
	if err != nil {
		t.Fatal(err)
	}
	if p.CoversNote != "" || len(p.Past) != pastTrips {
		t.Fatalf("note %q, %d past tracks", p.CoversNote, len(p.Past))
	}
	if slices.EqualFunc(p.Past[:len(p.Trips)], p.Trips, func(w []Waypoint, sc Scenario) bool { return slices.Equal(w, sc.Route) }) {
		t.Fatal("the past is the trips driven")
	}
	// Trips passing within 300 m of each place.
	near := make([]float64, len(places))
	for _, sc := range p.Trips {
		for i, pl := range places {
			if polyDist(sc.Route, pl.Waypoint) < 300 {
				near[i]++
			}
		}
	}
	t.Logf("trips within 300 m of each place: %v", near)
	towns := slices.Clone(near[2:])
	slices.Sort(towns)
	lo, hi := towns[0], towns[len(towns)-1]
	for i, z := range near[:2] {
		if z < 0.8*lo || z > 1.2*hi || z > 1.5*towns[len(towns)/2] {
			t.Errorf("%s: %.0f trips within 300 m, the towns %.0f–%.0f (median %.0f)", places[i].Name, z, lo, hi, towns[len(towns)/2])
		}
	}
	// In the past the decoys were placed by, each decoy is crossed by as
	// many tracks as the real covers are, within a third.
	cov, err := config.ParseCovers("covers", p.Trips[0].Covers)
	if err != nil {
		t.Fatal(err)
	}
	zones, _ := geofence.Parse("demo", BuiltIn().Zones, geofence.Options{})
	var realN, decoyN []float64
	for i := range cov.Len() {
		lat, lon, r := cov.Zone(i).Cap()
		n := 0.0
		for _, tr := range p.Past {
			if polyDist(tr, Waypoint{Lat: lat, Lon: lon}) < r {
				n++
			}
		}
		isReal := false
		for j := range zones.Len() {
			zl, zo, zr := zones.Zone(j).Cap()
			if geofence.DistanceM(lat, lon, zl, zo)+zr <= r {
				isReal = true
			}
		}
		if isReal {
			realN = append(realN, n)
		} else {
			decoyN = append(decoyN, n)
		}
	}
	if len(realN) != 2 || len(decoyN) != 6 {
		t.Fatalf("%d real covers, %d decoys", len(realN), len(decoyN))
	}
	mean := (realN[0] + realN[1]) / 2
	for _, n := range decoyN {
		if n < 0.67*mean || n > 1.33*mean {
			t.Errorf("a decoy crossed by %.0f past tracks, the real covers by %v", n, realN)
		}
	}
}

// polyDist is the least distance from w to the polyline, in metres (on
// the local plane).
func polyDist(line []Waypoint, w Waypoint) float64 {
	const mPerDeg = 111_195.0
	kx := mPerDeg * math.Cos(w.Lat*math.Pi/180)
	best := math.Inf(1)
	for i := 1; i < len(line); i++ {
		ax, ay := (line[i-1].Lon-w.Lon)*kx, (line[i-1].Lat-w.Lat)*mPerDeg
		bx, by := (line[i].Lon-w.Lon)*kx, (line[i].Lat-w.Lat)*mPerDeg
		dx, dy := bx-ax, by-ay
		f := 0.0
		if l := dx*dx + dy*dy; l > 0 {
			f = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l))
		}
		best = math.Min(best, math.Hypot(ax+f*dx, ay+f*dy))
	}
	return best
}

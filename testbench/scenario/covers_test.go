package scenario

import (
	"bytes"
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

package testbench

import (
	"context"
	"path/filepath"
	"testing"

	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
	"quietzone/geofence"
	"quietzone/testbench/scenario"
)

// The car's trips run one after another on one state directory keep the
// vehicle's trip ends and end covers: its state file is sealed with the
// key the enrolled vehicle holds (without a key none would be kept), so
// that where its trips end (home) is withheld from the third trip on.
func TestCarKeepsEndCoversAcrossTrips(t *testing.T) {
	if testing.Short() {
		t.Skip("drives four trips")
	}
	p, err := scenario.Generate("car", 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, sc := range p.Trips {
		rep, err := Run(context.Background(), sc, Options{StateDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Fatalf("%s broke an invariant", sc.Name)
		}
	}
	id, err := demoIdentity(p.Trips[0].VIN)
	if err != nil {
		t.Fatal(err)
	}
	sf, err := daemon.NewSealedStateFile(filepath.Join(dir, config.StateFileName), id.Keys().State)
	if err != nil {
		t.Fatal(err)
	}
	saved, err := sf.Load()
	if err != nil {
		t.Fatal(err)
	}
	if saved.Ends == nil || len(saved.Ends.Recent) < 4 || len(saved.Ends.Covers) == 0 {
		t.Fatalf("ends kept: %+v, want four trip ends and an end cover (two trips ended at home)", saved.Ends)
	}
	home := p.Homes[p.Trips[0].VIN]
	held := false
	for _, c := range saved.Ends.Covers {
		if geofence.DistanceM(c.Lat, c.Lon, home[0], home[1]) <= c.RadiusM {
			held = true
		}
	}
	if !held {
		t.Errorf("no end cover holds the car's home: %+v", saved.Ends.Covers)
	}
}

package testbench

import (
	"bytes"
	"context"
	"testing"

	"quietzone/testbench/scenario"
)

// The demo's vehicle holds its zones with a cover each and three decoys
// a zone, out of the sealed bundle; the truth carries them, saying which
// are decoys and which zone each real one covers; the same seed draws the
// same covers.
func TestDemoRunsOnSealedCovers(t *testing.T) {
	sc := scenario.BuiltIn()
	b, err := OpenScenarioBundle(sc)
	if err != nil {
		t.Fatal(err)
	}
	if b.Zones.Len() != 2 || b.Zones.Covers().Len() != 8 {
		t.Fatalf("%d zones, %d covers; want 2 and 8", b.Zones.Len(), b.Zones.Covers().Len())
	}
	again, err := OpenScenarioBundle(sc)
	if err != nil || !bytes.Equal(again.Covers, b.Covers) {
		t.Errorf("covers drawn twice from one seed differ (%v)", err)
	}
	rep, err := Run(context.Background(), sc, Options{Truth: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Covers != 8 || rep.Truth == nil {
		t.Fatalf("the drive ran on %d covers", rep.Covers)
	}
	real := map[string]int{}
	decoys := 0
	for _, c := range rep.Truth.Covers {
		if c.Decoy {
			decoys++
		} else {
			real[c.Zone]++
		}
	}
	if decoys != 6 || real["demo-a"] != 1 || real["demo-b"] != 1 {
		t.Errorf("truth: %d decoys, real covers %v; want 6, one for each zone", decoys, real)
	}
}

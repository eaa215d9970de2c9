package attack

import (
	"bytes"
	"context"
	"testing"

	"quietzone/testbench/internal/svgtest"
	"quietzone/testbench/scenario"
)

// Many trips past the depot, each with its own gateway and trip jitter:
// an attacker who fits the depot's outline from where the published
// tracks stop and start again stays at least the buffer away from it.
func TestBoundaryInferenceAttack(t *testing.T) {
	trips := 30
	if testing.Short() {
		trips = 12
	}
	res, err := Run(context.Background(), scenario.BuiltIn(), Options{Trips: trips, Seed: 7, Zone: "demo-a"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res.WriteText(&out)
	t.Logf("\n%s", out.String())
	if res.Violations != 0 {
		t.Errorf("%d trips broke an invariant", res.Violations)
	}
	if res.TripsWithGap < trips/2 || res.Samples < trips {
		t.Errorf("only %d trips with a gap, %d samples: the trips miss the zone, the attack tests nothing", res.TripsWithGap, res.Samples)
	}
	if res.SampleDistanceM < res.BufferM {
		t.Errorf("a published position %.0f m from the zone, inside its %.0f m buffer", res.SampleDistanceM, res.BufferM)
	}
	// The attack works: its best outline is near the buffer plus the
	// withholding margins, not somewhere arbitrary.
	if res.ErrorM > res.BufferM+res.JitterM+500 {
		t.Errorf("attacker's error %.0f m: the fits do not trace the zone at all, the attack is broken", res.ErrorM)
	}
	for _, f := range res.Fits {
		if f.ErrorM < res.BufferM {
			t.Errorf("fit %s: attacker's error %.0f m, below the %.0f m buffer", f.Method, f.ErrorM, res.BufferM)
		}
	}
	var doc bytes.Buffer
	if err := res.WriteSVG(&doc); err != nil {
		t.Fatal(err)
	}
	samples := 0
	for _, e := range svgtest.Parse(t, doc.Bytes()) {
		if e.Name == "circle" && e.In("samples") {
			samples++
		}
	}
	if samples != res.Samples {
		t.Errorf("%d samples drawn, want %d", samples, res.Samples)
	}
	if len(res.Fits) != 4 {
		t.Errorf("%d fits, want hull, circle, envelope and envelope-policy", len(res.Fits))
	}
}

package testbench_test

import (
	"bytes"
	"context"
	"testing"

	"quietzone/testbench"
	"quietzone/testbench/report"
	"quietzone/testbench/scenario"
)

// TestUnlistedCamerasChecked: the bench models the profile's cameras the
// scenario does not list and holds them to the invariants like the
// others: the unlisted-cameras drive goes through the depot with the
// rear and cabin cameras told deny throughout.
func TestUnlistedCamerasChecked(t *testing.T) {
	sc, err := scenario.Load("unlisted-cameras")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := testbench.Run(context.Background(), sc, testbench.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	report.WriteText(&out, rep)
	if !rep.OK() || rep.TimeInZones == 0 {
		t.Fatalf("invariants violated, or the drive never entered the depot:\n%s", out.String())
	}
	unlisted := map[string]bool{}
	for _, c := range rep.Cameras {
		if c.Class == "unlisted" {
			unlisted[c.Name] = true
		}
	}
	if len(unlisted) != 2 || !unlisted["rear"] || !unlisted["cabin"] {
		t.Fatalf("cameras %+v: want rear and cabin modelled as unlisted", rep.Cameras)
	}
	for _, tl := range rep.Timeline {
		if !unlisted[tl.Name] {
			continue
		}
		denied := false
		for _, e := range tl.Events {
			switch e.Command {
			case "deny":
				denied = true
			case "":
			default:
				t.Errorf("%s told %s at %v", tl.Name, e.Command, e.At)
			}
		}
		if !denied {
			t.Errorf("%s never told deny: %+v", tl.Name, tl.Events)
		}
	}
}

package testbench

import (
	"context"
	"testing"
	"time"

	"quietzone/camera"
	"quietzone/testbench/scenario"
)

func TestTimelineMergesChanges(t *testing.T) {
	start := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	tl := newTimeline(start, camera.DefaultCodes, []string{"front"})
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	tl.command(0, at(0), camera.DefaultCodes.Deny, 0)
	tl.powerLine(0, at(100), false, 0)
	tl.command(0, at(1000), camera.DefaultCodes.Deny, 0.1) // a resend: no change
	tl.command(0, at(1500), camera.DefaultCodes.Allow, 0.2)
	tl.powerLine(0, at(1500), true, 0.2)
	tl.command(0, at(9000), camera.DefaultCodes.Purge, 1.5)
	tl.powerLine(0, at(9000), false, 1.5)
	tl.command(0, at(10000), camera.DefaultCodes.Deny, 1.6)
	want := []TimelineEvent{
		{At: 0, Command: "deny"},
		{At: 100 * time.Millisecond, Power: "off"},
		{At: 1500 * time.Millisecond, Km: 0.2, Command: "allow", Power: "on"},
		{At: 9 * time.Second, Km: 1.5, Command: "purge", Power: "off"},
		{At: 10 * time.Second, Km: 1.6, Command: "deny"},
	}
	got := tl.cams[0].Events
	if len(got) != len(want) {
		t.Fatalf("events %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestBuiltInScenarioTimeline: in the demo drive every command that
// stops an exterior camera is followed by its power line going off within
// a step, the cameras are on again only with an allow, and the cabin
// camera is never allowed.
func TestBuiltInScenarioTimeline(t *testing.T) {
	sc := scenario.BuiltIn()
	rep, err := Run(context.Background(), sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Timeline) != len(sc.Cameras) {
		t.Fatalf("%d timelines for %d cameras", len(rep.Timeline), len(sc.Cameras))
	}
	for i, c := range rep.Timeline {
		class := sc.Cameras[i].Class
		var offs, ons int
		for j, e := range c.Events {
			switch {
			case class == "cabin" && (e.Command == "allow" || e.Power == "on"):
				t.Errorf("cabin camera %s: %+v", c.Name, e)
			case e.Command == "deny" || e.Command == "purge":
				if e.Power != "off" && (j+1 >= len(c.Events) || c.Events[j+1].Power != "off" || c.Events[j+1].At-e.At > sc.Step) {
					t.Errorf("%s: %s at %v, power not off within a step", c.Name, e.Command, e.At)
				}
			case e.Power == "on" && e.Command != "allow":
				t.Errorf("%s: power on at %v without an allow", c.Name, e.At)
			}
			if e.Power == "off" {
				offs++
			}
			if e.Command == "allow" {
				ons++
			}
		}
		if class == "exterior" && (offs < 2 || ons < 2) {
			t.Errorf("%s: %d power cuts, %d allows over a drive through a zone; want at least 2 each (start-up and the zone)", c.Name, offs, ons)
		}
	}
}

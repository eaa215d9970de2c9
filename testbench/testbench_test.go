package testbench

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestBuiltInScenarioHoldsInvariants(t *testing.T) {
	rep, err := Run(context.Background(), BuiltIn(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.WriteText(&out)
	if !rep.OK() {
		t.Fatalf("invariants violated:\n%s", out.String())
	}
	f := rep.Findings
	switch {
	case rep.TimeInZones == 0:
		t.Error("the drive never entered a zone: the scenario tests nothing")
	case rep.Uplink.PositionsWithheld == 0:
		t.Error("no position was withheld")
	case f.PositionsSeen == 0 || f.Received == 0:
		t.Errorf("nothing useful arrived: %+v", f)
	case rep.Uplink.ForbiddenDenied == 0:
		t.Error("the phone's contacts never reached the uplink's deny list: the scenario does not exercise it")
	case rep.TriggersDropped == 0:
		t.Error("no trigger arrived while suppressed")
	case rep.FramesBad != 0 || rep.FramesDecoded != rep.FramesSent:
		t.Errorf("frames sent %d, decoded %d, bad %d", rep.FramesSent, rep.FramesDecoded, rep.FramesBad)
	}
	for _, c := range rep.Cameras {
		if c.Class == "exterior" && c.On == 0 {
			t.Errorf("camera %s never on: the gateway over-suppresses", c.Name)
		}
		if c.Class == "cabin" && c.On != 0 {
			t.Errorf("cabin camera on for %v though not enabled", c.On)
		}
	}
	if !strings.Contains(out.String(), "All invariants hold.") {
		t.Errorf("report does not say so:\n%s", out.String())
	}
}

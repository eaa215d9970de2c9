package testbench_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"quietzone/gateway/config"
	"quietzone/geofence"
	"quietzone/testbench"
	"quietzone/testbench/report"
	"quietzone/testbench/scenario"
	"quietzone/uplink/uplinktest"
)

func TestBuiltInScenarioHoldsInvariants(t *testing.T) {
	rep, err := testbench.Run(context.Background(), scenario.BuiltIn(), testbench.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	report.WriteText(&out, rep)
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

// The demo drive against a real Mosquitto instead of the embedded broker:
// the checker holds everything a subscriber got against the zones, the
// policy, the VIN, the zone names and the contacts, and every accepted
// record must have arrived.
func TestBuiltInScenarioOnMosquitto(t *testing.T) {
	m := uplinktest.StartMosquitto(t)
	rep, err := testbench.Run(context.Background(), scenario.BuiltIn(), testbench.Options{BrokerURL: m.URL(), DeliveryTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	report.WriteText(&out, rep)
	if !rep.OK() || rep.Findings.Received == 0 || rep.Findings.PositionsSeen == 0 {
		t.Fatalf("on Mosquitto:\n%s", out.String())
	}
}

// A trip that ends 450 m from a zone's buffer, ignition off: its last
// stretch never leaves the vehicle. From the moment the vehicle came within
// the policy's trip-end distance for good, not even a record of that time
// quantum arrives; the uplink counts what it dropped.
func TestTripEndNearZoneEndToEnd(t *testing.T) {
	sc := scenario.BuiltIn()
	sc.Name = "trip ending near the depot"
	sc.Route = append(sc.Route[:3:3], scenario.Waypoint{Lat: 52.015, Lon: 10.075, SpeedKmh: 50})
	sc.IgnitionOff = true
	rep, err := testbench.Run(context.Background(), sc, testbench.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	report.WriteText(&out, rep)
	if !rep.OK() {
		t.Fatalf("invariants:\n%s", out.String())
	}
	zones, err := geofence.Parse(sc.ZonesName, sc.Zones, geofence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := config.ParsePolicy(sc.PolicyName, sc.Policy)
	if err != nil {
		t.Fatal(err)
	}
	// Replay the vehicle's true track: when was it last farther than the
	// trip-end distance from every buffer?
	v := scenario.NewMotion(sc.Route)
	var lastFar time.Time
	now := sc.Start
	for !v.Done {
		v.Step(sc.Step.Seconds())
		now = now.Add(sc.Step)
		if zones.Query(v.Lat, v.Lon, 5000).MarginM > pol.NearZones.TripEndM {
			lastFar = now
		}
	}
	q := int64(pol.NearZones.TimeQuantum / time.Second)
	cut := lastFar.Unix() / q * q
	if rep.Uplink.HeldDropped == 0 {
		t.Errorf("nothing held back and dropped:\n%s", out.String())
	}
	for _, r := range rep.Records {
		if r.Time >= cut {
			t.Errorf("record %d at %v arrived; the vehicle was within %.0f m of a buffer for good from %v",
				r.Seq, time.Unix(r.Time, 0).UTC(), pol.NearZones.TripEndM, lastFar.UTC())
		}
	}
	if len(rep.Records) == 0 {
		t.Fatal("no record arrived at all")
	}
	t.Logf("%d records arrived, the last at %v; within the trip-end distance for good from %v; %d dropped",
		len(rep.Records), time.Unix(rep.Records[len(rep.Records)-1].Time, 0).UTC(), lastFar.UTC(), rep.Uplink.HeldDropped)
}

package testbench_test

import (
	"bytes"
	"context"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"quietzone/gateway/config"
	"quietzone/geofence"
	"quietzone/testbench"
	"quietzone/testbench/report"
	"quietzone/testbench/scenario"
	"quietzone/uplink"
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
	case f.Received == 0:
		t.Errorf("nothing arrived: %+v", f)
	case f.PositionsSeen == 0 && rep.Utility.OutsideCoversSeconds > 300:
		// The demo's covers (seed 1) hold all of its route: no position
		// leaves, and rightly so; one that spends minutes outside every
		// cover publishes some.
		t.Errorf("no position arrived though %d s were outside every cover: %+v", rep.Utility.OutsideCoversSeconds, f)
	case rep.Covers == 0:
		t.Error("the vehicle ran without covers")
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
	if !rep.OK() || rep.Findings.Received == 0 {
		t.Fatalf("on Mosquitto:\n%s", out.String())
	}
}

// A trip that ends 450 m from a zone's buffer, ignition off: no position
// published lies within the trip-end distance of where it ended (the
// release trails the vehicle by at least trip_end_m), and its last
// stretch still arrives, merged, without position: nothing is dropped.
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
	pol, err := config.ParsePolicy(sc.PolicyName, sc.Policy)
	if err != nil {
		t.Fatal(err)
	}
	// Replay the vehicle's true track to where it ended.
	v := scenario.NewMotion(sc.Route)
	now := sc.Start
	for !v.Done {
		v.Step(sc.Step.Seconds())
		now = now.Add(sc.Step)
	}
	endLat, endLon := v.Lat, v.Lon
	grid := 0.0
	if pol.Position != nil {
		grid = pol.Position.PrecisionM * math.Sqrt2 / 2
	}
	// The trip's end is not dropped: it leaves merged, without position
	// and without motion, as a parked car would say.
	if rep.Uplink.Merged == 0 {
		t.Errorf("no merged record at the trip's end:\n%s", out.String())
	}
	var last uplink.Record
	for _, r := range rep.Records {
		if r.Time >= last.Time {
			last = r
		}
		if len(r.Pos) == 2 {
			if d := geofence.DistanceM(r.Pos[0], r.Pos[1], endLat, endLon); d < pol.NearZones.TripEndM-grid {
				t.Errorf("record %d at %v: a position %.0f m from where the trip ended, within %.0f m",
					r.Seq, time.Unix(r.Time, 0).UTC(), d, pol.NearZones.TripEndM)
			}
		}
	}
	if len(rep.Records) == 0 {
		t.Fatal("no record arrived at all")
	}
	if last.Pos != nil || slices.ContainsFunc(slices.Collect(maps.Keys(last.Signals)), uplink.MotionRole) {
		t.Errorf("the last record, at %v, carries a position or motion (%v)", time.Unix(last.Time, 0).UTC(), last.Signals)
	}
	t.Logf("%d records arrived, the last at %v without position", len(rep.Records), time.Unix(last.Time, 0).UTC())
}

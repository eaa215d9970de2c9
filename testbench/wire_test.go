package testbench_test

import (
	"context"
	"math"
	"os"
	"testing"
	"time"

	"quietzone/testbench"
	"quietzone/testbench/scenario"
	"quietzone/uplink"
)

// The observer's transcript holds every batch the vehicle's uplink
// published, as the broker received it, stamped with the drive's clock;
// the status words and the audit summary are there too; the truth holds
// the track once a second and how near it came to each zone.
func TestWireTranscriptAndTruth(t *testing.T) {
	sc := scenario.BuiltIn()
	rep, err := testbench.Run(context.Background(), sc, testbench.Options{Wire: true, Truth: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatal("invariants violated")
	}
	start, end := float64(sc.Start.Unix()), float64(sc.Start.Add(rep.Simulated).Unix())+30
	bySeq := map[uint64]bool{}
	kinds := map[string]int{}
	events := map[string]int{}
	last := 0.0
	for _, m := range rep.Wire {
		events[m.Event]++
		if m.Trip != sc.Name || !uplink.ValidPseudonym(m.Vehicle) {
			t.Fatalf("message of trip %q vehicle %q", m.Trip, m.Vehicle)
		}
		if m.T < start || m.T > end || m.T < last {
			t.Errorf("%s at %.3f: outside the drive [%.0f, %.0f] or before the one before (%.3f)", m.Topic, m.T, start, end, last)
		}
		last = m.T
		if m.Event != "publish" && m.Event != "will" {
			continue
		}
		_, kind, ok := uplink.SplitTopic(m.Topic)
		if !ok {
			t.Errorf("topic %q is not the vehicle's", m.Topic)
		}
		kinds[kind]++
		if m.Bytes == 0 || m.Error != "" {
			t.Errorf("%s: %d bytes, error %q", m.Topic, m.Bytes, m.Error)
		}
		for _, r := range m.Records {
			bySeq[r.Seq] = true
		}
	}
	for _, r := range rep.Records {
		if !bySeq[r.Seq] {
			t.Errorf("record %d reached the collector but is not in the transcript", r.Seq)
		}
	}
	// The audit summary goes up every audit.summary_every of running (6 h),
	// not in a drive of minutes: none is on this wire, and none may be.
	if kinds[uplink.KindNameTelemetry] == 0 || kinds[uplink.KindNameStatus] < 2 || kinds[uplink.KindNameAudit] != 0 {
		t.Errorf("topics on the wire: %v; want telemetry, status online and offline, no audit summary within 6 h", kinds)
	}
	if events["connect"] != 1 || events["disconnect"] != 1 {
		t.Errorf("connections on the wire: %v, want one connect and one disconnect", events)
	}
	// The vehicle connects when it starts, in the drive's time.
	if c := rep.Wire[0]; c.Event != "connect" || c.T > start+1 {
		t.Errorf("first on the wire: %s at %.3f, want the connection at the start %.0f", c.Event, c.T, start)
	}
	tr := rep.Truth
	if tr == nil || tr.Vehicle != rep.Wire[0].Vehicle {
		t.Fatalf("truth %+v", tr)
	}
	if n, want := len(tr.Track), int(rep.Simulated/time.Second); n < want-1 || n > want+1 {
		t.Errorf("%d track points, want one a second (%d)", n, want)
	}
	for _, z := range tr.Zones {
		// The demo drives through demo-a and past demo-b.
		if z.ID == "demo-a" && z.NearestM >= 0 || z.ID == "demo-b" && (z.NearestM <= 0 || z.NearestM > 1000) {
			t.Errorf("zone %s: nearest %.0f m", z.ID, z.NearestM)
		}
		if z.RadiusM < 300 || z.RadiusM > 1000 || math.IsNaN(z.Lat) {
			t.Errorf("zone %s: radius %.0f m at %.4f %.4f", z.ID, z.RadiusM, z.Lat, z.Lon)
		}
	}
}

// Trips driven one after another on one state directory are one
// vehicle's: its records go on numbering from the last trip's, and no
// record of the later trip is counted lost for it (the check took the
// first trip's numbers for the second's before).
func TestTripsOnOneStateDirectory(t *testing.T) {
	dir := t.TempDir()
	var lastSeq uint64
	for i, start := range []time.Time{time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 17, 0, 0, 0, time.UTC)} {
		sc := scenario.BuiltIn()
		sc.Start = start
		sc.Route = []scenario.Waypoint{{Lat: 52.1, Lon: 10.0, SpeedKmh: 50}, {Lat: 52.1, Lon: 10.03, SpeedKmh: 70}} // 2 km, 10 km from the zones
		rep, err := testbench.Run(context.Background(), sc, testbench.Options{StateDir: dir, Wire: true})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Findings.LostRecords != 0 {
			t.Fatalf("trip %d: invariants violated, %d records lost", i+1, rep.Findings.LostRecords)
		}
		if len(rep.Records) == 0 {
			t.Fatalf("trip %d: nothing arrived", i+1)
		}
		if first := rep.Records[0].Seq; first <= lastSeq {
			t.Errorf("trip %d starts at record %d, not after the last trip's %d", i+1, first, lastSeq)
		}
		lastSeq = rep.Records[len(rep.Records)-1].Seq
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) == 0 {
		t.Errorf("state directory: %v, %d entries: not kept", err, len(entries))
	}
}

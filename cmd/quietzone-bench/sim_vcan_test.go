package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"testing"
	"time"

	"quietzone/testbench"
	"quietzone/testbench/report"
	"quietzone/testbench/scenario"
)

// TestSimVCAN plays a short drive into the demo's depot on vcan0 in real
// time: the gateway reads a real SocketCAN socket on the wall clock, and
// the checker holds it to the same invariants as on the virtual bus.
func TestSimVCAN(t *testing.T) {
	if _, err := net.InterfaceByName("vcan0"); err != nil {
		if os.Getenv("QUIETZONE_REQUIRE_VCAN") == "1" {
			t.Fatalf("vcan0 required (QUIETZONE_REQUIRE_VCAN=1) but not present: %v", err)
		}
		t.Skip("vcan0 not present: run `make test-vcan` to run SocketCAN tests in a VM with vcan")
	}
	sc := scenario.BuiltIn()
	sc.Name = "into the depot on vcan0"
	sc.Route = []scenario.Waypoint{{Lat: 52.016, Lon: 10.0790, SpeedKmh: 60}, {Lat: 52.016, Lon: 10.0865, SpeedKmh: 60}}
	sc.ParkedAfter = 2 * time.Second
	sc.Contacts = nil
	rep, err := testbench.Run(context.Background(), sc, testbench.Options{Iface: "vcan0"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	report.WriteText(&out, rep)
	if !rep.OK() || rep.TimeInZones == 0 || rep.FramesDecoded == 0 || rep.Fixes == 0 {
		t.Fatalf("on vcan0:\n%s", out.String())
	}
	t.Logf("\n%s", out.String())
}

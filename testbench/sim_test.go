package testbench

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"testing"

	"quietzone/can"
	"quietzone/gateway/config"
	"quietzone/geofence"
	"quietzone/testbench/scenario"
)

// The simulator encodes each role in the profile's DBC units: what the
// gateway decodes is what the simulator meant, on the reference vehicle
// and on the Tesla (speed in mph, coordinates in micro-degrees).
func TestSimEncodesInProfileUnits(t *testing.T) {
	for _, ref := range []string{config.BuiltinPrefix + "quietzone", "../can/profiles/tesla/model-s.yaml"} {
		t.Run(ref, func(t *testing.T) {
			if _, err := os.Stat("../../shared/data/dbc/tesla_can.dbc"); errors.Is(err, os.ErrNotExist) && ref != config.BuiltinPrefix+"quietzone" {
				t.Skip("reference data ../shared/data is absent")
			}
			prof, err := config.LoadProfile(ref)
			if err != nil {
				t.Fatal(err)
			}
			sc := scenario.BuiltIn()
			sc.Cameras = profileCameras(prof)
			sc.GNSSNoiseM = 0
			zones, err := geofence.Parse(sc.ZonesName, sc.Zones, geofence.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s, err := newSim(sc, prof, zones, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			s.rec = can.NewLogWriter(&log, "vcan0", false)
			s.rig = &rig{} // no gateway: the frames go only to the recording
			now := sc.Start
			for range 200 { // 20 s: up to speed
				now = now.Add(sc.Step)
				s.veh.step(sc.Step.Seconds())
				if err := s.sendFrames(now); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.rec.Flush(); err != nil {
				t.Fatal(err)
			}
			dec, err := prof.NewDecoder()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			vals := make([]can.Value, dec.MaxValuesPerFrame())
			src := can.NewLogReader(&log, "")
			var f can.Frame
			for {
				if err := src.ReadFrame(&f); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatal(err)
				}
				n, err := dec.Decode(&f, vals)
				if err != nil {
					t.Fatalf("frame %x: %v", f.ID, err)
				}
				for _, v := range vals[:n] {
					got[dec.Roles()[v.Role]] = v.Phys
				}
			}
			for role, want := range map[string]struct{ v, tol float64 }{
				"vehicle.speed":      {s.veh.Speed * 3.6, 0.2},
				"position.latitude":  {s.veh.Lat, 2e-6},
				"position.longitude": {s.veh.Lon, 2e-6},
			} {
				g, ok := got[role]
				if !ok {
					t.Errorf("%s never sent", role)
					continue
				}
				if math.Abs(g-want.v) > want.tol {
					t.Errorf("%s decoded %v, the simulator meant %v", role, g, want.v)
				}
			}
		})
	}
}

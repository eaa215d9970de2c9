package testbench_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"quietzone/testbench"
	"quietzone/testbench/report"
	"quietzone/testbench/scenario"
	"quietzone/uplink/uplinktest"
)

// needSharedData skips a scenario that reads ../shared/data when it is
// absent.
func needSharedData(t *testing.T, name string) {
	t.Helper()
	if name != "tesla-osm" {
		return
	}
	if _, err := os.Stat("../../shared/data/zones/osm-military-south-sudan.geojson"); errors.Is(err, os.ErrNotExist) {
		t.Skip("reference data ../shared/data is absent: the Tesla scenario needs it beside the repository")
	}
}

// Every shipped scenario holds every leak invariant, exercises what it is
// named for, and injects each of its faults.
func TestShippedScenarios(t *testing.T) {
	names := scenario.Shipped()
	if len(names) < 5 {
		t.Fatalf("%d shipped scenarios, want at least five", len(names))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			needSharedData(t, name)
			sc, err := scenario.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := testbench.Run(context.Background(), sc, testbench.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			report.WriteText(&out, rep)
			if !rep.OK() {
				t.Fatalf("invariants violated:\n%s", out.String())
			}
			if rep.TimeInBuffers == 0 && name != "spoof" { // spoof's zone is only where the spoofer says
				t.Errorf("the drive never came within a buffer: it tests nothing\n%s", out.String())
			}
			if len(rep.Faults) != len(sc.Faults) {
				t.Errorf("%d faults injected, the scenario has %d", len(rep.Faults), len(sc.Faults))
			}
			// Telemetry must arrive from a drive that spends minutes outside
			// every cover; one that stays in covers (tesla-osm: 168 covers
			// of 84 real zones and their decoys) leaves only merged
			// records, and none without a parked role in its policy.
			if (rep.Findings.Received == 0 || rep.Utility.DeliveredSeconds == 0) && rep.Utility.OutsideCoversSeconds > 300 {
				t.Errorf("no telemetry arrived though %d s were outside every cover: the drive shows no utility\n%s", rep.Utility.OutsideCoversSeconds, out.String())
			}
			t.Logf("%s: %.1f km, %v simulated in %v; delivered %.0f%%, over-suppressed %v",
				name, rep.DistanceKm, rep.Simulated, rep.Wall.Round(time.Millisecond), 100*rep.Utility.Delivered(), rep.OverSuppressed)
		})
	}
}

// What the named scenarios are for: they fail if the drive no longer
// exercises it.
func TestScenarioPurposes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(t *testing.T, sc scenario.Scenario, r *testbench.Report)
	}{
		{"highway", func(t *testing.T, sc scenario.Scenario, r *testbench.Report) {
			if sc.GPSRateHz != 1 || sc.Route[0].SpeedKmh != 130 {
				t.Errorf("not a 130 km/h drive with 1 Hz GNSS: %v Hz, %v km/h", sc.GPSRateHz, sc.Route[0].SpeedKmh)
			}
			if r.TimeInZones == 0 {
				t.Error("the highway does not cross the zone")
			}
		}},
		{"gps-loss", func(t *testing.T, sc scenario.Scenario, r *testbench.Report) {
			if r.TimeInZones == 0 {
				t.Error("the vehicle never entered the zone while GNSS was lost")
			}
		}},
		{"spoof", func(t *testing.T, sc scenario.Scenario, r *testbench.Report) {
			if r.BadFixes < 2 {
				t.Errorf("%d fixes refused: the spoofed jumps were not seen as jumps", r.BadFixes)
			}
			if r.TimeInBuffers != 0 {
				t.Errorf("the true track came within a buffer (%v): the scenario should only spoof", r.TimeInBuffers)
			}
		}},
		{"clock-back", func(t *testing.T, sc scenario.Scenario, r *testbench.Report) {
			if len(sc.Faults) != 1 || sc.Faults[0].Kind != scenario.ClockStep || sc.Faults[0].By > -30*time.Second {
				t.Errorf("not a long step of the clock back: %+v", sc.Faults)
			}
			if r.TimeInZones == 0 {
				t.Error("the vehicle never entered the zone after the clock stepped back")
			}
		}},
		{"spoof-out", func(t *testing.T, sc scenario.Scenario, r *testbench.Report) {
			if r.TimeInZones == 0 {
				t.Error("the vehicle never entered the zone: nothing to spoof it out of")
			}
			// A minute of spoofed fixes at 5 Hz, all refused.
			if r.BadFixes < 250 {
				t.Errorf("%d fixes refused: the sustained spoof was believed", r.BadFixes)
			}
		}},
		{"outage-restart", func(t *testing.T, sc scenario.Scenario, r *testbench.Report) {
			if r.GatewayStarts != 2 {
				t.Errorf("%d gateway starts, want 2", r.GatewayStarts)
			}
			if r.Published.Failures == 0 && r.Published.Dials < 3 {
				t.Errorf("the outage went unnoticed by the publisher: %+v", r.Published)
			}
		}},
		{"faults", func(t *testing.T, sc scenario.Scenario, r *testbench.Report) {
			if r.FramesBad == 0 || r.FramesUnmapped == 0 || r.FramesInjected == 0 {
				t.Errorf("bad %d, unmapped %d, injected %d: the frame faults did not reach the gateway", r.FramesBad, r.FramesUnmapped, r.FramesInjected)
			}
			// The stale fixes and the bus off each suppress, clear of
			// every buffer, for about as long as they last.
			var long int
			for _, iv := range r.Intervals {
				if iv.InBuffer == 0 && iv.To.Sub(iv.From) >= 10*time.Second {
					long++
				}
			}
			if long < 2 {
				t.Errorf("%d long suppressions clear of every buffer, want 2 (stale fixes, bus off): %+v", long, r.Intervals)
			}
		}},
		{"drag-yaw", func(t *testing.T, sc scenario.Scenario, r *testbench.Report) {
			// Reversed for 90 s: 2.5 km off by its end, through the depot.
			if r.TimeInZones == 0 || r.DragMaxM < 2000 {
				t.Errorf("inside zones %v, the drag %.0f m off: the vehicle did not drive into the depot under a long drag", r.TimeInZones, r.DragMaxM)
			}
			if r.GNSSDistrusts == 0 || r.CourseFixes < 1000 {
				t.Errorf("distrusted %d times, course held on %d fixes: the drag was not caught by the course", r.GNSSDistrusts, r.CourseFixes)
			}
		}},
		{"drag-no-yaw", func(t *testing.T, sc scenario.Scenario, r *testbench.Report) {
			// What the documented bound says: in the time the vehicle
			// covers the exit margin a drag carries the fix up to
			// (1 + 1.05) × 50 m off, and no farther (the GNSS noise aside).
			if r.CourseFixes != 0 || len(sc.DropRoles) != 2 {
				t.Errorf("course held on %d fixes, roles dropped %v: the vehicle has a sense of turning", r.CourseFixes, sc.DropRoles)
			}
			if r.DragMaxM < 95 || r.DragMaxM > 102.5+1 {
				t.Errorf("the drag carried the fix %.1f m off, want the bound's 102.5 m", r.DragMaxM)
			}
			if r.TimeInZones == 0 {
				t.Error("the vehicle never entered the depot after the drag")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sc, err := scenario.Load(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := testbench.Run(context.Background(), sc, testbench.Options{})
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, sc, rep)
		})
	}
}

// TestDragWithoutYawRate shows the limit drag-no-yaw stays within: the
// same drag at wheel speed lasting 20 s, from inside the depot's buffer,
// takes the fix beyond the exit margin while the vehicle drives into the
// depot. Without a yaw rate the gateway believes it and the cameras
// record inside (a known limit, gateway/course.go); with the yaw rate
// the course check catches it.
func TestDragWithoutYawRate(t *testing.T) {
	sc, err := scenario.Load("drag-no-yaw")
	if err != nil {
		t.Fatal(err)
	}
	sc.Faults[0].For = 20 * time.Second
	without, err := testbench.Run(context.Background(), sc, testbench.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if without.OK() || without.CameraOnInside == 0 {
		t.Errorf("a 20 s drag without a yaw rate: camera on inside %v; the gateway should not be able to tell (if it now can, drag-no-yaw and the docs of the bound are out of date)", without.CameraOnInside)
	}
	sc.DropRoles = nil
	with, err := testbench.Run(context.Background(), sc, testbench.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !with.OK() || with.GNSSDistrusts == 0 {
		var out bytes.Buffer
		report.WriteText(&out, with)
		t.Errorf("the same drag with a yaw rate was not caught:\n%s", out.String())
	}
}

// TestDragSteering: drag-yaw's vehicle without its yaw rate has its
// steering angle: the course is held against the bicycle model, the drag
// caught all the same, and no honest stretch of the drive is refused.
func TestDragSteering(t *testing.T) {
	sc, err := scenario.Load("drag-yaw")
	if err != nil {
		t.Fatal(err)
	}
	sc.DropRoles = []string{"vehicle.yaw_rate"}
	rep, err := testbench.Run(context.Background(), sc, testbench.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.GNSSDistrusts != 1 || rep.CourseFixes < 1000 {
		var out bytes.Buffer
		report.WriteText(&out, rep)
		t.Errorf("drag-yaw on the steering angle: want the invariants, one distrust, the course held\n%s", out.String())
	}
	sc.Faults = nil
	rep, err = testbench.Run(context.Background(), sc, testbench.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.GNSSDistrusts != 0 || rep.CourseFixes < 2000 {
		t.Errorf("the drive without the drag, on the steering angle: OK %v, %d distrusts, course held on %d fixes", rep.OK(), rep.GNSSDistrusts, rep.CourseFixes)
	}
}

// The spoof scenario without the gps_jump faults never comes near a
// zone: what it suppresses with them is the spoofing's doing.
func TestSpoofSuppresses(t *testing.T) {
	sc, err := scenario.Load("spoof")
	if err != nil {
		t.Fatal(err)
	}
	with, err := testbench.Run(context.Background(), sc, testbench.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Faults = nil
	without, err := testbench.Run(context.Background(), sc, testbench.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if with.Suppressed <= without.Suppressed+30*time.Second {
		t.Errorf("suppressed %v with the spoofing, %v without: the jump into the zone did not suppress", with.Suppressed, without.Suppressed)
	}
}

// A randomized soak: a few random trips (routes, zones, faults) hold every
// invariant. The seed comes from the time unless QUIETZONE_SOAK_SEED sets
// it; a failure prints it, and `quietzone-bench sim --random --seed S --trips 1`
// drives that trip again.
func TestRandomTrips(t *testing.T) {
	seed := uint64(time.Now().UnixNano()) % 1_000_000_000
	if s := os.Getenv("QUIETZONE_SOAK_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("QUIETZONE_SOAK_SEED=%q: %v", s, err)
		}
		seed = v
	}
	trips := 4
	if testing.Short() {
		trips = 1
	}
	t.Logf("seeds %d to %d", seed, seed+uint64(trips)-1)
	for i := range trips {
		s := seed + uint64(i)
		sc := scenario.Random(s)
		rep, err := testbench.Run(context.Background(), sc, testbench.Options{})
		if err != nil {
			t.Fatalf("seed %d: %v (rerun: quietzone-bench sim --random --seed %d --trips 1)", s, err, s)
		}
		if !rep.OK() {
			var out bytes.Buffer
			report.WriteText(&out, rep)
			t.Errorf("seed %d broke an invariant (rerun: quietzone-bench sim --random --seed %d --trips 1):\n%s", s, s, out.String())
		}
	}
}

// TestRegressionTrips: random trips that once broke an invariant, kept as
// scenario files (quietzone-bench sim --random --seed S --trips 1 --save
// testbench/testdata/regress), so that no later change to scenario.Random
// alters them. Each failed on the main of its day: 20261246 (front and
// rear on inside a zone for 10 s after a second spoof, believed with
// the first spoof's debt forgiven twice), 881521 (25 s on inside a zone
// after two spoofs), 880075 (exact times from within a buffer after a
// spoof and a clock step the bench played as time passing on a silent
// bus).
func TestRegressionTrips(t *testing.T) {
	files, err := filepath.Glob("testdata/regress/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no regression trips: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			sc, err := scenario.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := testbench.Run(context.Background(), sc, testbench.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				var out bytes.Buffer
				report.WriteText(&out, rep)
				t.Errorf("an invariant broke:\n%s", out.String())
			}
		})
	}
}

// TestSpoofOverRestart: random trip 50050 spoofs GNSS for long and
// restarts the gateway while it does; the new gateway held the spoof
// to be a first fix until the trust in GNSS was kept across restarts.
func TestSpoofOverRestart(t *testing.T) {
	sc := scenario.Random(50050)
	spoofs := slices.ContainsFunc(sc.Faults, func(f scenario.Fault) bool { return f.Kind == scenario.GPSJump && f.For > 0 })
	if !spoofs || !slices.ContainsFunc(sc.Faults, func(f scenario.Fault) bool { return f.Kind == scenario.GatewayRestart }) {
		t.Fatalf("faults %+v: want a lasting spoof and a restart", sc.Faults)
	}
	rep, err := testbench.Run(context.Background(), sc, testbench.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		var out bytes.Buffer
		report.WriteText(&out, rep)
		t.Errorf("an invariant broke:\n%s", out.String())
	}
}

// A fleet of three on one broker: each vehicle's collector keeps only its
// own records, every vehicle holds every invariant, and all hold the
// fleet's one bundle (the same covers).
func TestFleet(t *testing.T) {
	sc, err := scenario.Load("spoof")
	if err != nil {
		t.Fatal(err)
	}
	reps, err := testbench.RunFleet(context.Background(), sc, 3, testbench.Options{Truth: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range reps {
		if r.Truth == nil || len(r.Truth.Covers) == 0 || !slices.Equal(r.Truth.Covers, reps[0].Truth.Covers) {
			t.Errorf("vehicle %d holds covers of its own", i+1)
		}
		if !r.OK() || r.Findings.Received == 0 || r.Findings.Duplicates != 0 {
			var out bytes.Buffer
			report.WriteText(&out, r)
			t.Errorf("vehicle %d:\n%s", i+1, out.String())
		}
	}
}

// Cancelling a drive stops it and still reports the drive so far.
func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	o := testbench.Options{Progress: func(done float64) {
		if done > 0.3 {
			cancel()
		}
	}}
	rep, err := testbench.Run(ctx, scenario.BuiltIn(), o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if rep == nil || !rep.Interrupted || rep.DistanceKm < 2 || rep.DistanceKm > 8 {
		t.Fatalf("report of the drive so far: %+v", rep)
	}
	var out bytes.Buffer
	report.WriteText(&out, rep)
	if !strings.Contains(out.String(), "INTERRUPTED") {
		t.Errorf("report does not say it was interrupted:\n%s", out.String())
	}
}

// BenchmarkScenario drives the highway scenario (130 km/h, 1 Hz GNSS, a
// zone crossed) end to end, broker included; sim-s/s is how many times
// faster than real time the bench runs.
func BenchmarkScenario(b *testing.B) {
	sc, err := scenario.Load("highway")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var simulated time.Duration
	var frames uint64
	for b.Loop() {
		rep, err := testbench.Run(context.Background(), sc, testbench.Options{})
		if err != nil || !rep.OK() {
			b.Fatalf("%v, ok %v", err, rep != nil && rep.OK())
		}
		simulated += rep.Simulated
		frames += rep.FramesSent
	}
	b.ReportMetric(simulated.Seconds()/b.Elapsed().Seconds(), "sim-s/s")
	b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
}

// The outage and restart against a real Mosquitto: the relay cuts the
// vehicle off a broker that is not ours, and every record still arrives.
func TestOutageRestartOnMosquitto(t *testing.T) {
	m := uplinktest.StartMosquitto(t)
	sc, err := scenario.Load("outage-restart")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := testbench.Run(context.Background(), sc, testbench.Options{BrokerURL: m.URL(), DeliveryTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	report.WriteText(&out, rep)
	if !rep.OK() || rep.Findings.Received == 0 || rep.GatewayStarts < 2 {
		t.Fatalf("on Mosquitto:\n%s", out.String())
	}
}

// A jump of no duration spoofs exactly the next fix, even at 1 Hz where
// most steps send none: the gateway refuses it, and only it: the true fix
// after it (a jump back from the spoofed one) is consistent with the last
// trusted fix and the wheel speed, and taken (gateway/trust.go).
func TestSingleJumpAtOneHz(t *testing.T) {
	sc, err := scenario.Load("highway")
	if err != nil {
		t.Fatal(err)
	}
	base, err := testbench.Run(context.Background(), sc, testbench.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Faults = []scenario.Fault{{Kind: scenario.GPSJump, At: 30*time.Second + 50*time.Millisecond, NorthM: 3000}}
	rep, err := testbench.Run(context.Background(), sc, testbench.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.BadFixes - base.BadFixes; got != 1 {
		t.Errorf("%d more fixes refused with the jump, want 1 (the spoofed one)", got)
	}
	if !rep.OK() {
		t.Error("invariant violated")
	}
}

package gateway_test

import (
	"context"
	"os"
	"path/filepath"
	"quietzone/gateway/config"
	"strings"
	"testing"
	"time"

	"quietzone/gateway"
	"quietzone/geofence"
)

// fixHeading sends a good 3D fix with a speed (km/h) and heading.
func (r *rig) fixHeading(lat, lon, kmh, heading float64) {
	r.t.Helper()
	r.fixSigma(lat, lon, kmh, heading, 2)
}

// fixSigma sends a 3D fix whose receiver reports an accuracy of sigma m.
func (r *rig) fixSigma(lat, lon, kmh, heading, sigma float64) {
	r.t.Helper()
	r.send(map[string]float64{"position.fix": 3, "position.accuracy": sigma, "position.heading": heading, "position.speed": kmh})
	r.send(map[string]float64{"position.latitude": lat, "position.longitude": lon})
	r.send(map[string]float64{"vehicle.speed": kmh})
}

func parseZones(t *testing.T, src string) *geofence.Index {
	t.Helper()
	ix, err := geofence.Parse("test.geojson", []byte(src), geofence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// TestExitMarginStopsFlapping: a vehicle standing by a buffer's edge,
// its fixes wandering in and out of the look-ahead, goes near once and
// stays near until it is clear of the buffer by the exit margin.
func TestExitMarginStopsFlapping(t *testing.T) {
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 3 })
	// A receiver reporting σ = 10 m: fixes of a standing vehicle may
	// wander 20 + 20 + 10 m apart and still be consistent (trust.go).
	step := func(d time.Duration, m float64) {
		r.clock.Advance(d)
		lat, lon := south(m)
		r.fixSigma(lat, lon, 0, 0, 10)
	}
	for range 3 {
		step(time.Second, 5000)
	}
	if r.state() != gateway.Clear {
		t.Fatal("not clear far from the zone")
	}
	before := r.stats().Transitions
	// Standing still the look-ahead is ½·3 m/s²·(3 s)² = 13.5 m, plus 20 m
	// of accuracy: 33.5 m. The fixes wander 25–40 m from the buffer.
	step(2*time.Minute, 200+25)
	for i := range 20 {
		m := 40.0
		if i%7 == 6 {
			m = 25
		}
		step(time.Second, 200+m)
		if s := r.state(); s != gateway.Near {
			t.Fatalf("fix %d, %v m from the buffer: state %v, want near", i, m, s)
		}
	}
	if n := r.stats().Transitions - before; n != 2 { // clear → unknown (the 2 min without fixes) → near
		t.Errorf("%d transitions by the buffer, want 2: it flapped", n)
	}
	// Clear of the buffer by the exit margin (50 m + 20 m): three fixes.
	for i := range 3 {
		step(time.Second, 200+72)
		if want := i == 2; (r.state() == gateway.Clear) != want {
			t.Fatalf("clear fix %d: state %v", i, r.state())
		}
	}
}

// TestLookAheadIsDirectional: at 100 km/h, 80 m from the buffer, a
// vehicle heading for the zone is suppressed and one heading away is not;
// without a heading the look-ahead covers every direction.
func TestLookAheadIsDirectional(t *testing.T) {
	lat, lon := south(200 + 80)
	for _, tc := range []struct {
		name       string
		heading    float64
		noHeading  bool
		suppressed bool
	}{
		{"towards the zone", 0, false, true},
		{"away from it", 180, false, false},
		{"along it", 90, false, false},
		{"no heading", 0, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 1 })
			if tc.noHeading { // the heading is older than a fix may be
				r.send(map[string]float64{"position.heading": tc.heading})
				r.clock.Advance(5 * time.Second)
				r.send(map[string]float64{"position.fix": 3, "position.accuracy": 2, "position.speed": 100})
				r.send(map[string]float64{"position.latitude": lat, "position.longitude": lon})
				r.send(map[string]float64{"vehicle.speed": 100})
			} else {
				r.clock.Advance(100 * time.Millisecond)
				r.fixHeading(lat, lon, 100, tc.heading)
			}
			if got := !r.powered("front"); got != tc.suppressed {
				t.Errorf("suppressed %v, want %v (state %v)", got, tc.suppressed, r.state())
			}
		})
	}
}

// A corridor 10 m wide along 51.9° N, no buffer.
const corridorZones = `{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"id":"c","name":"Test Road","width_m":10,"buffer_m":0},
  "geometry":{"type":"LineString","coordinates":[[9.9,51.9],[10.1,51.9]]}}]}`

// TestPathCrossingSuppresses: fixes on either side of a narrow zone, its
// look-ahead too short to see it: the path between them crossed it, and
// the gateway suppresses until clear fixes come again.
func TestPathCrossingSuppresses(t *testing.T) {
	// A look-ahead of 0.1 s: the road is seen only on the path.
	r := newRig(t, parseZones(t, corridorZones), func(d *gateway.Decision) {
		d.ClearFixes = 2
		d.ReactionTime, d.CameraStopTime = 0, 100*time.Millisecond
	})
	at := func(m float64) (float64, float64) { return 51.9 + m/111195, 10.0 } // m metres north of the road's centre line
	const kmh = 300                                                           // 140 m in 1.5 s is within what the wheels allow
	lat, lon := at(-3000)
	r.step(time.Second, lat, lon, kmh)
	r.step(time.Second, lat, lon, kmh)
	if !r.powered("front") {
		t.Fatal("not clear far from the road")
	}
	// The look-ahead is 8 m. 70 m south, then 70 m north of 51.9°, 1.5 s
	// apart: 60 m or more from the zone (the geodesic bows 5 m north),
	// clear of it by the exit margin (50 + 4 m).
	lat, lon = at(-70)
	r.step(2*time.Minute, lat, lon, kmh)
	r.step(time.Second, lat, lon, kmh)
	r.step(time.Second, lat, lon, kmh)
	if !r.powered("front") {
		t.Fatalf("suppressed 70 m from the road: %v", r.state())
	}
	lat, lon = at(70)
	r.step(1500*time.Millisecond, lat, lon, kmh)
	if r.powered("front") {
		t.Error("the path crossed the road, cameras still on")
	}
	if st := r.stats(); st.State != gateway.Near || st.PathsCrossed != 1 || st.GNSSDistrusts != 0 {
		t.Errorf("state %v, %d paths crossed, %d distrusts; want near, 1, 0", st.State, st.PathsCrossed, st.GNSSDistrusts)
	}
	r.step(time.Second, lat, lon, kmh)
	r.step(time.Second, lat, lon, kmh)
	if !r.powered("front") {
		t.Errorf("not clear after two clear fixes past the road: %v", r.state())
	}
}

// A zone around the test area, valid from t0+10 s to t0+20 s.
const windowZones = `{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"id":"w","name":"Exercise","buffer_m":0,
   "valid_from":"2026-06-01T08:00:10Z","valid_until":"2026-06-01T08:00:20Z"},
  "geometry":{"type":"Polygon","coordinates":[[[9.9,51.9],[10.1,51.9],[10.1,52.1],[9.9,52.1],[9.9,51.9]]]}}]}`

// TestValidityWindowOnTheGatewaysClock: a temporary zone counts from 1 s
// (the skew) before its window to 1 s after, on the gateway's clock; on a
// clock that is not synchronised it counts all the time. Each time is
// judged by a gateway started then, which no zone holds.
func TestValidityWindowOnTheGatewaysClock(t *testing.T) {
	for _, synced := range []bool{true, false} {
		for _, tc := range []struct {
			at     time.Duration // since t0
			inside bool
		}{
			{1 * time.Second, false},
			{8 * time.Second, false},
			{9 * time.Second, true}, // the window, widened by the skew
			{15 * time.Second, true},
			{21 * time.Second, true},
			{22 * time.Second, false},
		} {
			r := newRigCams(t, parseZones(t, windowZones), func(d *gateway.Decision) { d.ClearFixes = 1; d.ZoneClockSkew = time.Second },
				rigCams{start: t0.Add(tc.at)})
			r.clock.SetSynced(synced)
			r.fix(52, 10, 0)
			want := tc.inside || !synced
			if got := r.state() == gateway.Inside; got != want {
				t.Errorf("synced %v, t0+%v: inside %v, want %v", synced, tc.at, got, want)
			}
			if got := r.powered("front"); got == want {
				t.Errorf("synced %v, t0+%v: front powered %v", synced, tc.at, got)
			}
			r.shutdown()
		}
	}
}

// TestHeldZoneOutlastsItsWindow: a zone that holds the vehicle stays in
// force after its window ends, until the hysteresis releases the vehicle:
// a vehicle standing inside it when the window closes stays suppressed.
func TestHeldZoneOutlastsItsWindow(t *testing.T) {
	r := newRig(t, parseZones(t, windowZones), func(d *gateway.Decision) { d.ClearFixes = 1; d.ZoneClockSkew = time.Second })
	for _, at := range []time.Duration{15 * time.Second, 22 * time.Second, 2 * time.Minute} {
		r.clock.Set(t0.Add(at))
		r.fix(52, 10, 0)
		if s := r.state(); s != gateway.Inside || r.powered("front") {
			t.Fatalf("t0+%v, the window over, still on the spot: state %v, powered %v; want inside, off", at, s, r.powered("front"))
		}
	}
}

// TestZonesReplacedWhileRunning: new zones take effect between two
// decisions; a bad file changes nothing.
func TestZonesReplacedWhileRunning(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.geojson")
	good := filepath.Join(dir, "good.geojson")
	if err := os.WriteFile(bad, []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[10,52]}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte(corridorZones), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 2 })
	lat, lon := 51.9+2/111195.0, 10.0 // on the road of corridorZones, 7 km from the square
	r.step(time.Second, lat, lon, 0)
	r.step(time.Second, lat, lon, 0)
	if !r.powered("front") {
		t.Fatal("not clear far from the square")
	}
	err := reloadZones(ctx, r.gw, bad)
	if err == nil || !strings.Contains(err.Error(), "feature 0: a Point zone needs a positive radius_m") {
		t.Fatalf("bad file: %v", err)
	}
	if err := r.gw.SetZones(ctx, nil); err == nil {
		t.Error("a nil zone list was taken")
	}
	r.step(time.Second, lat, lon, 0)
	if !r.powered("front") || r.stats().ZonesReplaced != 0 {
		t.Fatal("a bad zone file changed the decision")
	}
	// The road: suppressed at once, without a new fix.
	if err := reloadZones(ctx, r.gw, good); err != nil {
		t.Fatal(err)
	}
	r.waitFor(func() bool { return !r.powered("front") })
	if st := r.stats(); st.State != gateway.Inside || st.ZonesReplaced != 1 {
		t.Errorf("after the reload: state %v, %d replacements", st.State, st.ZonesReplaced)
	}
	// Back to the square: two clear fixes needed again.
	if err := r.gw.SetZones(ctx, mustZones(t)); err != nil {
		t.Fatal(err)
	}
	r.step(time.Second, lat, lon, 0)
	if r.powered("front") {
		t.Error("released by the first fix after the zones changed")
	}
	r.step(time.Second, lat, lon, 0)
	if !r.powered("front") {
		t.Errorf("not clear after two clear fixes: %v", r.state())
	}

	// Without zones the gateway stays suppressed until a good list comes.
	r = newRig(t, nil, func(d *gateway.Decision) { d.ClearFixes = 1 })
	r.step(time.Second, lat, lon, 0)
	if err := reloadZones(ctx, r.gw, bad); err == nil {
		t.Fatal("bad file accepted")
	}
	r.step(time.Second, lat, lon, 0)
	if r.powered("front") || r.state() != gateway.Unknown {
		t.Fatal("released without zones")
	}
	if err := r.gw.SetZones(ctx, mustZones(t)); err != nil {
		t.Fatal(err)
	}
	r.step(time.Second, lat, lon, 0)
	if !r.powered("front") {
		t.Errorf("not clear with zones: %v", r.state())
	}

	// SetZones on a gateway that is not running gives up with ctx.
	r.shutdown()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := r.gw.SetZones(cctx, mustZones(t)); err == nil {
		t.Error("SetZones returned nil with no loop to take the zones")
	}
}

// Zones with and without a policy, 10 km apart.
const policyZones = `{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"id":"p","name":"Plain","buffer_m":100},
  "geometry":{"type":"Polygon","coordinates":[[[10.0,52.0],[10.01,52.0],[10.01,52.01],[10.0,52.01],[10.0,52.0]]]}},
 {"type":"Feature","properties":{"id":"s","name":"Strict","buffer_m":100,"policy":{"clear_fixes":6,"withhold_m":3000}},
  "geometry":{"type":"Polygon","coordinates":[[[10.2,52.0],[10.21,52.0],[10.21,52.01],[10.2,52.01],[10.2,52.0]]]}}]}`

// TestZonePolicy: a zone's clear_fixes and withhold_m apply near it only.
func TestZonePolicy(t *testing.T) {
	for _, tc := range []struct {
		name       string
		lon        float64
		clearFixes int
	}{
		{"plain", 10.005, 2},
		{"strict", 10.205, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, parseZones(t, policyZones), func(d *gateway.Decision) { d.ClearFixes = 2; d.WithholdMarginM = 100 })
			in := [2]float64{52.005, tc.lon}
			out := [2]float64{52.0 - 1000/111195.0, tc.lon} // 900 m from the buffer
			r.step(time.Second, in[0], in[1], 0)
			if r.state() != gateway.Inside {
				t.Fatal("not inside")
			}
			r.step(time.Minute, out[0], out[1], 0)
			for i := 1; i < tc.clearFixes; i++ {
				r.step(time.Second, out[0], out[1], 0)
				if r.powered("front") {
					t.Fatalf("released after %d clear fixes, want %d", i+1, tc.clearFixes)
				}
			}
			r.step(time.Second, out[0], out[1], 0)
			if !r.powered("front") {
				t.Fatalf("not released after %d clear fixes", tc.clearFixes)
			}
			// withhold_m 3000: 900 m from the strict zone the position stays in.
			// (Near the plain zone, withholding ends after clear_fixes clear
			// snapshots once the cameras are released: privacy.go's latch.)
			r.advance(2 * time.Second)
			if s := r.tel.last(); s.Withhold != (tc.name == "strict") {
				t.Errorf("withhold %v 900 m from the %s zone", s.Withhold, tc.name)
			}
		})
	}
}

// TestSystemClockSynced only asks: the answer depends on the machine.
func TestSystemClockSynced(t *testing.T) {
	t.Logf("system clock synchronised: %v", gateway.SystemClock{}.Synced())
}

// reloadZones reads a zone file and, only if it is good, hands it to the
// decision loop, as the daemon does on SIGHUP.
func reloadZones(ctx context.Context, g *gateway.Gateway, path string) error {
	ix, err := config.LoadZoneFile(path, geofence.Options{})
	if err != nil {
		return err
	}
	return g.SetZones(ctx, ix)
}

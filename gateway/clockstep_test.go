package gateway_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"quietzone/gateway"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
	"quietzone/geofence"
)

// A circle of 1.5 km radius (3 km across) around (52.0, 10.0), no buffer,
// in force from 08:00 to 09:00 on t0's day.
const windowedCircle = `{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"id":"ex","name":"Exercise Area","radius_m":1500,"buffer_m":0,
   "valid_from":"2026-06-01T08:00:00Z","valid_until":"2026-06-01T09:00:00Z"},
  "geometry":{"type":"Point","coordinates":[10.0,52.0]}}]}`

// north is a point m metres north of the circle's centre.
func north(m float64) (lat, lon float64) { return 52.0 + m/111195, 10.0 }

func newWindowRig(t *testing.T, start time.Time, log *auditLog) *rig {
	t.Helper()
	ix, err := geofence.Parse("window.geojson", []byte(windowedCircle), geofence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return newRigCams(t, ix, func(d *gateway.Decision) { d.ClearFixes = 3 }, rigCams{start: start},
		func(o *gateway.Options) { o.Audit = log })
}

// crawl sends n fixes 100 ms apart, the vehicle crawling north at 10 km/h
// from m metres north of the centre; it returns where it got to and
// whether the front camera was powered at any of them.
func (r *rig) crawl(m float64, n int) (float64, bool) {
	r.t.Helper()
	on := false
	for range n {
		m += 10 / 3.6 * 0.1
		lat, lon := north(m)
		r.step(100*time.Millisecond, lat, lon, 10)
		on = on || r.powered("front")
	}
	return m, on
}

// TestClockStepForwardKeepsWindowedZone: the vehicle is 120 m from the
// centre of a 3 km zone in force until 09:00; at 08:05 the wall clock
// steps forward by 15 min, past the end of the window and its skew.
// Before, the step made the last fix stale, the next fixes were judged at
// 08:20 and the vehicle was released inside the zone. A forward step is a
// discontinuity (audited, counted) and the zone holds the vehicle: the
// cameras stay off.
func TestClockStepForwardKeepsWindowedZone(t *testing.T) {
	log := &auditLog{}
	r := newWindowRig(t, time.Date(2026, 6, 1, 8, 5, 0, 0, time.UTC), log)
	m, _ := r.crawl(100, 10)
	if r.state() != gateway.Inside {
		t.Fatalf("state %v 120 m from the centre, want inside", r.state())
	}
	r.clock.Step(65 * time.Minute) // to 09:10, past the window's end and its 10 min skew
	if _, on := r.crawl(m, 100); on {
		t.Fatal("front camera powered inside the zone after the clock stepped forward past its window")
	}
	if s := r.stats(); s.ClockSteps != 1 || s.State == gateway.Clear {
		t.Errorf("clock steps %d, state %v; want 1, suppressed", s.ClockSteps, s.State)
	}
	if !slices.Contains(log.kinds(), gateway.AuditClockStep) {
		t.Errorf("audit events %v, want %s", log.kinds(), gateway.AuditClockStep)
	}
}

// TestClockStepBackKeepsWindowedZone: at 08:30, inside the zone, the wall
// clock steps back an hour, before the window opens (and its skew).
// Before, the zone was "not yet valid" and the cameras powered up after
// three fixes (audit: clock.step gnss.distrusted gnss.trusted
// suppression.off). The window is judged on a clock the step does not
// move too: the cameras stay off.
func TestClockStepBackKeepsWindowedZone(t *testing.T) {
	log := &auditLog{}
	r := newWindowRig(t, time.Date(2026, 6, 1, 8, 30, 0, 0, time.UTC), log)
	m, _ := r.crawl(100, 10)
	if r.state() != gateway.Inside {
		t.Fatalf("state %v 120 m from the centre, want inside", r.state())
	}
	r.clock.Step(-time.Hour)
	if _, on := r.crawl(m, 100); on {
		t.Fatal("front camera powered inside the zone after the clock stepped back before its window")
	}
	if slices.Contains(log.kinds(), gateway.AuditSuppressionOff) {
		t.Errorf("audit events %v: suppression went off", log.kinds())
	}
}

// TestClockStepBackBeforeEntering: clear of the zone at 08:30, the wall
// clock steps back an hour, and the vehicle then drives in. No zone holds
// it; the window is judged on the steady clock (08:30) as well as on the
// wall (07:30): the zone counts.
func TestClockStepBackBeforeEntering(t *testing.T) {
	r := newWindowRig(t, time.Date(2026, 6, 1, 8, 30, 0, 0, time.UTC), &auditLog{})
	m := -1800.0 // south of the centre, 300 m outside the circle
	step := 50 / 3.6 * 0.1
	for range 40 {
		m += step
		lat, lon := north(m)
		r.step(100*time.Millisecond, lat, lon, 50)
	}
	if !r.powered("front") {
		t.Fatalf("not clear 260 m outside the zone: %v", r.state())
	}
	r.clock.Step(-time.Hour)
	for ; m < -1000; m += step {
		lat, lon := north(m)
		r.step(100*time.Millisecond, lat, lon, 50)
		if m > -1500 && r.powered("front") {
			t.Fatalf("front powered %.0f m inside the zone after the clock stepped back before its window", -1500-m)
		}
	}
}

// TestClockStepWhileDown: clear of a zone in force from 08:00 to 09:00,
// the gateway stops at 08:31; while it is down the wall clock steps 51 min
// forward, and the new gateway (the same boot: the monotonic time goes on)
// sees the vehicle drive in. Before, the steady clock started again from
// the stepped wall clock, both said 09:22, and the zone no longer counted
// (random trip 3909: cameras on inside a zone for a minute). The steady
// clock's base is kept in the state file and goes on over a restart.
func TestClockStepWhileDown(t *testing.T) {
	path := filepath.Join(t.TempDir(), config.StateFileName)
	withState := func(o *gateway.Options) { o.Enforcement.State = daemon.NewStateFile(path) }
	ix, err := geofence.Parse("window.geojson", []byte(windowedCircle), geofence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clearFixes := func(d *gateway.Decision) { d.ClearFixes = 3 }
	r := newRigCams(t, ix, clearFixes, rigCams{start: time.Date(2026, 6, 1, 8, 30, 0, 0, time.UTC)}, withState)
	m := -2500.0 // south of the centre, 1 km outside the circle
	step := 50 / 3.6 * 0.1
	for range 40 {
		m += step
		lat, lon := north(m)
		r.step(100*time.Millisecond, lat, lon, 50)
	}
	if !r.powered("front") {
		t.Fatalf("not clear 1 km outside the zone: %v", r.state())
	}
	if err := r.shutdown(); err != nil {
		t.Fatal(err)
	}
	r.clock.Step(51 * time.Minute)
	r = newRigCams(t, ix, clearFixes, rigCams{clock: r.clock}, withState)
	for ; m < -1000; m += step {
		lat, lon := north(m)
		r.step(100*time.Millisecond, lat, lon, 50)
		if m > -1500 && r.powered("front") {
			t.Fatalf("front powered %.0f m inside the zone, the clock stepped past its window while the gateway was down", -1500-m)
		}
	}
}

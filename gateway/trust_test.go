package gateway_test

import (
	"slices"
	"testing"
	"time"

	"quietzone/gateway"
)

// TestTimelineClockStepBack: the clock steps back a minute while the
// vehicle is clear. Every frame after the step is stamped before the last
// fix, and the last fix has a negative age: the gateway must not stay
// clear on it. It suppresses at the first fix after the step, restarts
// its fix history (ClearFixes fresh fixes before release), audits the
// step and counts it; driving on into the zone, the cameras are off
// inside it.
func TestTimelineClockStepBack(t *testing.T) {
	log := &auditLog{}
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 3 }, func(o *gateway.Options) { o.Audit = log })
	r.drive(1500, 1400, 50)
	if !r.powered("front") {
		t.Fatalf("not clear 1400 m from the zone: %v", r.state())
	}
	r.clock.Set(r.clock.Now().Add(-time.Minute)) // no ticks until the clock is back where it was
	step := 50 / 3.6 * 0.1
	d := 1400 - step
	for i := range 3 {
		lat, lon := south(d)
		r.step(100*time.Millisecond, lat, lon, 50)
		d -= step
		if want := i == 2; r.powered("front") != want {
			t.Fatalf("fix %d after the step back: front powered %v, want %v", i+1, !want, want)
		}
	}
	if !slices.Contains(log.kinds(), gateway.AuditClockStep) {
		t.Errorf("audit events %v, want %s", log.kinds(), gateway.AuditClockStep)
	}
	// On into the zone, still before the clock is back where it was.
	for ; d > -100; d -= step {
		lat, lon := south(d)
		r.step(100*time.Millisecond, lat, lon, 50)
	}
	if r.powered("front") {
		t.Fatal("front camera powered inside the zone after the clock stepped back")
	}
	r.advance(time.Minute)
	if s := r.stats(); s.ClockSteps != 1 || s.GNSSDistrusted || s.GNSSMarginM != 0 {
		t.Errorf("ClockSteps %d, distrusted %v, margin %v m; want 1, trusted at once, no margin", s.ClockSteps, s.GNSSDistrusted, s.GNSSMarginM)
	}
}

// TestTimelineClockStepForward: after the clock steps forward the last
// fix is stale: suppressed at the next tick, released only after
// ClearFixes fresh fixes.
func TestTimelineClockStepForward(t *testing.T) {
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 3 })
	lat, lon := south(5000)
	for range 3 {
		r.step(100*time.Millisecond, lat, lon, 0)
	}
	if !r.powered("front") {
		t.Fatal("not clear far from the zone")
	}
	r.advance(time.Minute)
	if r.powered("front") {
		t.Fatal("front powered on a fix a minute old")
	}
	for i := range 3 {
		r.step(100*time.Millisecond, lat, lon, 0)
		if want := i == 2; r.powered("front") != want {
			t.Fatalf("fix %d after the step forward: front powered %v, want %v", i+1, !want, want)
		}
	}
}

// TestTimelineSustainedSpoof: inside the zone, the receiver is spoofed
// 2 km south, fix after fix, while the vehicle drives on through the zone
// at 50 km/h. The first spoofed fix is a jump; the ones after it are
// consistent with each other but not with the last trusted fix and the
// distance the wheels say the vehicle covered: the cameras stay off. When
// the real position comes back, consistent with the wheels, it is
// trusted again and the vehicle leaves the zone as usual.
func TestTimelineSustainedSpoof(t *testing.T) {
	log := &auditLog{}
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 3 }, func(o *gateway.Options) { o.Audit = log })
	r.drive(-100, -110, 50)
	if r.state() != gateway.Inside {
		t.Fatalf("state %v, want inside", r.state())
	}
	step := 50 / 3.6 * 0.1
	d := -110.0
	for ; d > -800; d -= step {
		lat, lon := south(d + 2000) // reported 2 km south of the truth
		r.step(100*time.Millisecond, lat, lon, 50)
		if r.powered("front") {
			t.Fatalf("front powered %.0f m inside the zone under a spoof", -d)
		}
	}
	s := r.stats()
	if s.State == gateway.Clear || !s.GNSSDistrusted {
		t.Errorf("under the spoof: state %v, distrusted %v; want suppressed and distrusted", s.State, s.GNSSDistrusted)
	}
	if !slices.Contains(log.kinds(), gateway.AuditGNSSDistrusted) {
		t.Errorf("audit events %v, want %s", log.kinds(), gateway.AuditGNSSDistrusted)
	}
	// The real position again: trusted, inside, then out of the zone's
	// northern side (52.005, 1112 m north of its southern edge). Trusted
	// again 50 s after the last trusted fix, a fix may be off by what
	// the spoofer could hide in that time: its distance from the last
	// trusted fix (690 m) plus the reach (725 m) and the margin (4 m),
	// 1.4 km more margin from then on. Released only that far beyond
	// the buffer and the exit margin.
	for ; d > -3200; d -= step {
		lat, lon := south(d)
		r.step(100*time.Millisecond, lat, lon, 50)
		if d > -1112-250-1400 && r.powered("front") {
			t.Fatalf("front powered %.0f m north of the zone's southern edge, within the buffer, the exit margin and the debt", -d)
		}
	}
	s = r.stats()
	if s.GNSSDistrusted || !r.powered("front") {
		t.Errorf("clear of the zone on real fixes: distrusted %v, state %v, want trusted and clear", s.GNSSDistrusted, s.State)
	}
	if s.GNSSMarginM < 1400 || s.GNSSMarginM > 1500 {
		t.Errorf("GNSSMarginM %.0f m, want about 1420 m", s.GNSSMarginM)
	}
}

// TestSingleJumpCostsOneFix: a single spoofed fix is refused, and the
// next real one, consistent with the wheels, is trusted at once.
func TestSingleJumpCostsOneFix(t *testing.T) {
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 1 })
	r.drive(5000, 4900, 50)
	if !r.powered("front") {
		t.Fatal("not clear")
	}
	lat, lon := south(3000)
	r.step(100*time.Millisecond, lat, lon, 50)
	if r.powered("front") {
		t.Fatal("front powered on a jump")
	}
	lat, lon = south(4900 - 50/3.6*0.2)
	r.step(100*time.Millisecond, lat, lon, 50)
	if s := r.stats(); !r.powered("front") || s.GNSSDistrusted || s.GNSSDistrusts != 1 {
		t.Errorf("after the jump: powered %v, distrusted %v, distrusts %d; want clear, trusted, 1", r.powered("front"), s.GNSSDistrusted, s.GNSSDistrusts)
	}
}

// TestSpoofAfterDropout: after 10 s without fixes at 50 km/h, a fix 800 m
// from where the vehicle was is within the fastest plausible speed
// (1.1 km) but not within what the wheels say (140 m): distrusted.
func TestSpoofAfterDropout(t *testing.T) {
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 1 })
	r.drive(5000, 4900, 50)
	for range 100 { // the wheels go on, no fix
		r.clock.Advance(100 * time.Millisecond)
		r.send(map[string]float64{"vehicle.speed": 50})
	}
	lat, lon := south(4900 - 140 + 800)
	r.step(100*time.Millisecond, lat, lon, 50)
	if s := r.stats(); r.powered("front") || !s.GNSSDistrusted {
		t.Errorf("a fix 800 m off after a dropout: powered %v, distrusted %v; want suppressed, distrusted", r.powered("front"), s.GNSSDistrusted)
	}
}

package gateway_test

import (
	"testing"
	"time"

	"quietzone/gateway"
)

// TestLateTickIsNoClockStep: a head unit busy for longer than a tick (a
// bundle parsed on every core, a loaded or slow CPU) reads the decision
// loop's tick late, stamped with when it fell due, after frames stamped
// since. Found by make test-system under software emulation: the tick's
// time was before the last fix, the gateway took it for a step of the
// clock back, distrusted GNSS and suppressed — again at every late tick,
// so that a vehicle leaving a zone was held for the rest of the drive. A
// late tick is handled at the clock's time: no step, GNSS trusted, clear.
func TestLateTickIsNoClockStep(t *testing.T) {
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 3 })
	m := 5000.0
	for range 5 {
		m += 50 / 3.6 * 0.1
		lat, lon := south(m)
		r.step(100*time.Millisecond, lat, lon, 50)
	}
	if s := r.state(); s != gateway.Clear {
		t.Fatalf("state %v before the late tick, want clear", s)
	}
	for range 3 {
		r.clock.Hold() // the loop is busy: the next tick waits
		r.clock.Advance(600 * time.Millisecond)
		m += 50 / 3.6 * 0.6
		lat, lon := south(m)
		r.fix(lat, lon, 50) // a fix of now, handled before the tick
		n := r.gw.Ticks()
		if r.clock.Release() != 1 {
			t.Fatal("no late tick handed over")
		}
		r.waitFor(func() bool { return r.gw.Ticks() > n })
	}
	st := r.stats()
	if st.ClockSteps != 0 || st.GNSSDistrusted || st.State != gateway.Clear {
		t.Errorf("after late ticks: %d clock steps, GNSS distrusted %v, state %v; want 0, false, clear", st.ClockSteps, st.GNSSDistrusted, st.State)
	}
	if !r.powered("front") {
		t.Error("the front camera was cut by a late tick")
	}
}

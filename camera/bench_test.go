package camera_test

import (
	"testing"
	"time"

	"quietzone/camera"
	"quietzone/camera/cameratest"
)

// threeSpecs is the reference wiring with fake power lines, one active low.
func threeSpecs(tb testing.TB) []camera.Spec {
	return []camera.Spec{
		{Name: "front", Class: camera.Exterior, Power: cameratest.NewPin("p1"), Command: refCmd(tb, frontCmd)},
		{Name: "rear", Class: camera.Exterior, Power: cameratest.NewPin("p2"), PowerActiveLow: true, Command: refCmd(tb, rearCmd)},
		{Name: "cabin", Class: camera.Cabin, Power: cameratest.NewPin("p3"), Command: refCmd(tb, cabinCmd)},
	}
}

// BenchmarkApply toggles suppress and allow on the reference wiring: three
// cameras with fake power lines sharing one command message.
func BenchmarkApply(b *testing.B) {
	c := newController(b, threeSpecs(b), discard{}, camera.Options{})
	now := t0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(time.Millisecond)
		if err := c.Apply(now, i&1 == 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTick is the steady state: a resend on every call.
func BenchmarkTick(b *testing.B) {
	c := newController(b, threeSpecs(b), discard{}, camera.Options{Resend: time.Millisecond})
	now := t0
	if err := c.Apply(now, true); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Millisecond)
		if err := c.Tick(now); err != nil {
			b.Fatal(err)
		}
	}
}

// TestApplyDoesNotAllocate guards the decision loop: deciding and resending
// must not allocate when nothing fails.
func TestApplyDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	specs := threeSpecs(t)
	specs[0].PurgeOnEntry, specs[0].HasStatus = true, true
	c := newController(t, specs, discard{}, camera.Options{Resend: time.Millisecond, Grace: 5 * time.Millisecond})
	now := t0
	suppress := false
	esc := make([]camera.Escalation, 0, len(specs))
	if n := testing.AllocsPerRun(100, func() {
		now = now.Add(time.Millisecond)
		suppress = !suppress
		_ = c.Apply(now, suppress)
		for i := 0; i < 4; i++ { // long enough recording while suppressed to escalate
			now = now.Add(2 * time.Millisecond)
			_ = c.Tick(now)
			c.ObserveStatus(0, camera.DefaultCodes.Recording, now)
		}
		c.ObserveTrigger(1, suppress, now)
		esc = c.Escalations(esc[:0])
	}); n != 0 {
		t.Errorf("Apply+Tick+Observe+Escalations allocate %v times per run, want 0", n)
	}
	if c.Stats().Escalations == 0 || c.Stats().Purges == 0 {
		t.Errorf("the run never escalated or purged: %+v", c.Stats())
	}
}

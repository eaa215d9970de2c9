package gateway_test

import (
	"bytes"
	"os"
	"path/filepath"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
	"slices"
	"strings"
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

// stateKey seals the anchor in the tests' state files.
var stateKey = bytes.Repeat([]byte{0x5a}, 32)

// TestSpoofAcrossRestart: inside the zone the receiver is spoofed 2 km
// south, and the gateway restarts 2 s later while the spoof goes on; it
// never ends while the vehicle drives through the zone. With the anchor
// sealed in the state file, the new gateway holds the spoofed fixes
// against it (the 7 s since at MaxPlausibleKmh); without a key it keeps
// no anchor and trusts GNSS again only after trustWindow, with the debt
// of a lost anchor. Either way the cameras stay off inside the zone,
// where a gateway that saved nothing turns them on.
func TestSpoofAcrossRestart(t *testing.T) {
	sealed := func(t *testing.T, path string) gateway.StateStore {
		sf, err := daemon.NewSealedStateFile(path, stateKey)
		if err != nil {
			t.Fatal(err)
		}
		return sf
	}
	keyless := func(t *testing.T, path string) gateway.StateStore { return daemon.NewStateFile(path) }
	for _, tc := range []struct {
		name  string
		store func(t *testing.T, path string) gateway.StateStore
		// distrusted: GNSS is still distrusted at the first fix after the
		// restart; minDebtM: the margin once the spoof is believed.
		minDebtM float64
	}{
		{"sealed anchor", sealed, 0},
		{"no key", keyless, 400 / 3.6 * 120},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), config.StateFileName)
			withState := func(o *gateway.Options) { o.Enforcement.State = tc.store(t, path) }
			clearFixes := func(d *gateway.Decision) { d.ClearFixes = 3 }
			r := newRigCams(t, mustZones(t), clearFixes, rigCams{}, withState)
			r.drive(-100, -110, 50)
			if r.state() != gateway.Inside {
				t.Fatalf("state %v, want inside", r.state())
			}
			step := 50 / 3.6 * 0.1
			d := -110.0
			spoof := func(r *rig, until float64) {
				t.Helper()
				for ; d > until; d -= step {
					lat, lon := south(d + 2000)
					r.step(100*time.Millisecond, lat, lon, 50)
					if r.powered("front") {
						t.Fatalf("front powered %.0f m inside the zone under a spoof", -d)
					}
				}
			}
			spoof(r, -110-5*14) // 5 s
			if err := r.shutdown(); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, leak := range []string{`"lat`, `"lon`, "51.9", "10.0"} {
				if strings.Contains(string(data), leak) {
					t.Errorf("state file %s mentions %q", data, leak)
				}
			}
			saved, err := tc.store(t, path).Load()
			if err != nil || !saved.Distrusted || (tc.minDebtM == 0) == saved.Anchor.At.IsZero() {
				t.Fatalf("saved %+v, %v; want distrusted, an anchor only with a key", saved, err)
			}

			down := 2 * time.Second
			d -= down.Seconds() * 50 / 3.6
			restarted := r.clock.Now().Add(down)
			fresh := newRigCams(t, mustZones(t), clearFixes, rigCams{start: restarted})
			for range 3 {
				lat, lon := south(d + 2000)
				fresh.step(100*time.Millisecond, lat, lon, 50)
			}
			if !fresh.powered("front") {
				t.Fatal("a gateway without a saved state does not believe the spoof: the test shows nothing")
			}

			r = newRigCams(t, mustZones(t), clearFixes, rigCams{start: restarted}, withState)
			spoof(r, -800)
			s := r.stats()
			if s.State == gateway.Clear || s.GNSSMarginM < tc.minDebtM {
				t.Errorf("under the spoof after the restart: state %v, margin %.0f m; want suppressed, at least %.0f m", s.State, s.GNSSMarginM, tc.minDebtM)
			}
			// The real position again, on through the zone.
			for ; d > -1112; d -= step {
				lat, lon := south(d)
				r.step(100*time.Millisecond, lat, lon, 50)
				if r.powered("front") {
					t.Fatalf("front powered %.0f m inside the zone after the spoof", -d)
				}
			}
		})
	}
}

// TestRestartTrustedGNSS: a restart with GNSS trusted, and the vehicle
// where the wheels allow, behaves as before: ClearFixes fixes release
// it, with no distrust and no margin; the sealed anchor is no reason to
// hold it.
func TestRestartTrustedGNSS(t *testing.T) {
	path := filepath.Join(t.TempDir(), config.StateFileName)
	withState := func(o *gateway.Options) {
		sf, err := daemon.NewSealedStateFile(path, stateKey)
		if err != nil {
			t.Fatal(err)
		}
		o.Enforcement.State = sf
	}
	clearFixes := func(d *gateway.Decision) { d.ClearFixes = 3 }
	r := newRigCams(t, mustZones(t), clearFixes, rigCams{}, withState)
	r.drive(5000, 4900, 50)
	if !r.powered("front") {
		t.Fatal("not clear")
	}
	if err := r.shutdown(); err != nil {
		t.Fatal(err)
	}
	r = newRigCams(t, mustZones(t), clearFixes, rigCams{start: r.clock.Now().Add(5 * time.Second)}, withState)
	d := 4900 - 5*50/3.6
	for i := range 3 {
		lat, lon := south(d)
		r.step(100*time.Millisecond, lat, lon, 50)
		d -= 50 / 3.6 * 0.1
		if r.powered("front") != (i == 2) {
			t.Fatalf("clear fix %d after the restart: powered %v", i+1, r.powered("front"))
		}
	}
	if s := r.stats(); s.GNSSDistrusted || s.GNSSDistrusts != 0 || s.GNSSMarginM != 0 || s.ClockSteps != 0 {
		t.Errorf("after the restart: %+v; want trusted, no margin, no clock step", s)
	}
}

// TestRestartClockBack: the clock is a minute before the sealed anchor
// when the gateway starts again: the clock went back over the restart,
// a clock step. The time since the anchor is unknown, so the anchor is
// lost: GNSS distrusted until fixes are consistent for trustWindow, then
// trusted at the debt of a lost anchor.
func TestRestartClockBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), config.StateFileName)
	log := &auditLog{}
	opts := func(o *gateway.Options) {
		sf, err := daemon.NewSealedStateFile(path, stateKey)
		if err != nil {
			t.Fatal(err)
		}
		o.Enforcement.State, o.Audit = sf, log
	}
	clearFixes := func(d *gateway.Decision) { d.ClearFixes = 1 }
	r := newRigCams(t, mustZones(t), clearFixes, rigCams{}, opts)
	r.drive(20000, 19900, 50)
	if err := r.shutdown(); err != nil {
		t.Fatal(err)
	}
	r = newRigCams(t, mustZones(t), clearFixes, rigCams{start: r.clock.Now().Add(-time.Minute)}, opts)
	lat, lon := south(19900)
	for range 39 { // 3.9 s: less than trustWindow
		r.step(100*time.Millisecond, lat, lon, 0)
		if r.powered("front") {
			t.Fatal("powered on GNSS distrusted over a restart")
		}
	}
	if s := r.stats(); s.ClockSteps != 1 || !s.GNSSDistrusted || !slices.Contains(log.kinds(), gateway.AuditClockStep) {
		t.Errorf("stats %+v, audit %v; want a clock step, distrusted", s, log.kinds())
	}
	for range 2 {
		r.step(100*time.Millisecond, lat, lon, 0)
	}
	if s := r.stats(); s.GNSSDistrusted || s.GNSSMarginM < 400/3.6*120 {
		t.Errorf("after trustWindow: distrusted %v, margin %.0f m; want trusted at the debt of a lost anchor", s.GNSSDistrusted, s.GNSSMarginM)
	}
}

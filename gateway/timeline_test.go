package gateway_test

import (
	"os"
	"path/filepath"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"quietzone/camera"
	"quietzone/camera/cameratest"
	"quietzone/can"
	"quietzone/gateway"
	"quietzone/uplink"
)

// The timeline tests drive the gateway on the manual clock and assert
// when, to the tick, each camera's command and power line change.

// command is a camera's command as a frame on the bus carried it.
type command struct {
	at   time.Time
	code int64
}

// commands drains the bus and returns the commands sent to camera name
// since the last drain (frames for other cameras are kept for them).
func (r *rig) commands(name string) []command {
	r.t.Helper()
	var f can.Frame
	for r.ecu.TryReadFrame(&f) {
		r.busLog = append(r.busLog, f)
	}
	sig := r.prof.Commands[name]
	var out []command
	for _, f := range r.busLog[r.seen[name]:] {
		if f.ID == sig.Message.ID {
			out = append(out, command{at: f.Time, code: sig.Raw(&f.Data)})
		}
	}
	if r.seen == nil {
		r.seen = map[string]int{}
	}
	r.seen[name] = len(r.busLog)
	return out
}

// alarms records the alarms the gateway raises.
type alarms struct {
	mu sync.Mutex
	a  []uplink.Alarm
}

func (r *alarms) Alarm(a uplink.Alarm) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.a = append(r.a, a)
	return nil
}

func (r *alarms) all() []uplink.Alarm {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.a)
}

// waitInputs waits until the gateway has handled n GPIO input changes.
func (r *rig) waitInputs(n uint64) {
	r.t.Helper()
	r.waitFor(func() bool { return r.gw.Inputs() >= n })
}

// TestTimelineEntry: the fix that brings the zone into the look-ahead
// turns every camera off in its own decision: the command frame (purge
// for a camera that purges on entry, deny for the others) carries that
// fix's time and the power lines are low before the next frame is read,
// with no tick in between.
func TestTimelineEntry(t *testing.T) {
	r := newRigCams(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 3 },
		rigCams{specs: func(s []camera.Spec) { s[0].PurgeOnEntry = true }})
	r.drive(400, 390, 50)
	if r.state() != gateway.Clear || !r.powered("front") {
		t.Fatal("not clear 400 m from the buffer")
	}
	purges := r.cams.Stats().Purges // one: the start is an entry too
	var at time.Time
	var dist float64
	for d := 390 - 50/3.6*0.1; d > 150; d -= 50 / 3.6 * 0.1 {
		lat, lon := south(d)
		r.advance(100 * time.Millisecond)
		ticks := r.gw.Ticks()
		at = r.clock.Now()
		r.fix(lat, lon, 50)
		if !r.powered("front") {
			if r.gw.Ticks() != ticks {
				t.Fatal("a tick ran between the fix and the check")
			}
			dist = d
			break
		}
	}
	// The look-ahead at 50 km/h: (1 s + 2 s) · 13.9 m/s, ½ · 3 m/s² ·
	// (3 s)² of speeding up and 4 m of accuracy, ≈ 60 m beyond the 200 m
	// buffer.
	if dist < 200 || dist > 260 {
		t.Fatalf("suppressed %.1f m from the zone's edge, want within the look-ahead (200–260 m)", dist)
	}
	for _, name := range []string{"front", "rear", "cabin"} {
		if r.powered(name) {
			t.Errorf("%s powered after the entering fix", name)
		}
	}
	want := map[string]int64{"front": r.prof.Codes.Purge, "rear": r.prof.Codes.Deny}
	for name, code := range want {
		cmds := r.commands(name)
		if i := slices.IndexFunc(cmds, func(c command) bool { return !c.at.Before(at) }); i >= 0 {
			cmds = cmds[i:]
		}
		if len(cmds) == 0 || !cmds[0].at.Equal(at) || cmds[0].code != code {
			t.Errorf("%s: commands %v after the entering fix at %v, want first %d at the fix's time", name, cmds, at.Format(time.StampMicro), code)
		}
	}
	// The purge goes once; the resends deny.
	r.advance(1500 * time.Millisecond)
	cmds := r.commands("front")
	if len(cmds) == 0 || slices.ContainsFunc(cmds, func(c command) bool { return c.code != r.prof.Codes.Deny }) {
		t.Errorf("front commands after the entry: %v, want resent denies only", cmds)
	}
	if n := r.cams.Stats().Purges - purges; n != 1 {
		t.Errorf("%d purges on the entry, want 1", n)
	}
}

// TestTimelineExit: leaving a zone releases the cameras only at the
// ClearFixes-th consecutive fix clear of the buffer by the exit margin,
// by that fix's own decision.
func TestTimelineExit(t *testing.T) {
	const clearFixes = 3
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = clearFixes })
	r.drive(-100, -90, 50) // inside
	if r.state() != gateway.Inside {
		t.Fatalf("state %v, want inside", r.state())
	}
	r.commands("front")
	step := 50 / 3.6 * 0.1
	var released float64
	var at time.Time
	for d := -90.0; d < 400; d += step {
		lat, lon := south(d)
		r.clock.Advance(100 * time.Millisecond)
		at = r.clock.Now()
		r.fix(lat, lon, 50)
		if r.powered("front") {
			released = d
			break
		}
	}
	// Clear of the buffer (200 m) by the exit margin (50 m) and the
	// accuracy (2σ, 4 m): then clearFixes fixes.
	if min := 200 + 50 + 4.0 + float64(clearFixes-1)*step; released < min {
		t.Errorf("released %.1f m from the zone's edge, want at least %.1f m", released, min)
	}
	cmds := r.commands("front")
	if len(cmds) == 0 || !cmds[len(cmds)-1].at.Equal(at) || cmds[len(cmds)-1].code != r.prof.Codes.Allow {
		t.Errorf("front commands %v, want the allow at the releasing fix's time %v", cmds, at.Format(time.StampMicro))
	}
	for _, c := range cmds[:max(len(cmds)-1, 0)] {
		if c.code != r.prof.Codes.Deny {
			t.Errorf("front command %d at %v before the release", c.code, c.at.Format(time.StampMicro))
		}
	}
	if r.powered("cabin") {
		t.Error("cabin camera powered: cabin cameras stay off unless enabled")
	}
}

// TestTimelineFlapping: fixes wandering across the edge of the
// look-ahead suppress once and stay suppressed: no allow command, no
// power, until the vehicle is clear of the exit margin.
func TestTimelineFlapping(t *testing.T) {
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
	if !r.powered("front") {
		t.Fatal("not clear far from the zone")
	}
	// Standing, the look-ahead is 33.5 m: 240 m from the zone is outside
	// it but within the exit margin, 223 m inside it.
	step(2*time.Minute, 272) // clear of the exit margin (270 m)
	step(time.Second, 272)
	step(time.Second, 272)
	step(time.Second, 240)
	if !r.powered("front") {
		t.Fatal("a clear vehicle within the exit margin was suppressed: entering needs the look-ahead")
	}
	before := r.stats().Transitions
	r.commands("front")
	flapFrom := r.clock.Now().Add(time.Second) // the first flapping fix
	var onAt []int
	for i := range 30 {
		m := 240.0
		if i%2 == 0 {
			m = 223
		}
		step(time.Second, m)
		if r.powered("front") {
			onAt = append(onAt, i)
		}
	}
	if len(onAt) != 0 {
		t.Errorf("front powered at flapping fixes %v", onAt)
	}
	for _, c := range r.commands("front") {
		if !c.at.Before(flapFrom) && c.code != r.prof.Codes.Deny {
			t.Errorf("command %d at %v while flapping", c.code, c.at.Format(time.StampMicro))
		}
	}
	if n := r.stats().Transitions - before; n != 1 {
		t.Errorf("%d transitions while flapping, want 1 (clear → near)", n)
	}
	for i := range 3 {
		step(time.Second, 272)
		if r.powered("front") != (i == 2) {
			t.Fatalf("clear fix %d beyond the exit margin: powered %v", i, r.powered("front"))
		}
	}
}

// TestTimelineGPSLoss: a vehicle clear near a zone whose fixes stop is
// suppressed on the first tick after MaxFixAge, stays so without fixes,
// uplinks no position, and needs ClearFixes fresh fixes to release.
func TestTimelineGPSLoss(t *testing.T) {
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 3 })
	maxAge := gateway.DefaultDecision().MaxFixAge
	lat, lon := south(200 + 120) // clear, 120 m from the buffer, standing
	for range 3 {
		r.step(time.Second, lat, lon, 0)
	}
	if !r.powered("front") {
		t.Fatal("not clear 120 m from the buffer")
	}
	last := r.clock.Now()
	r.commands("front")
	for r.clock.Now().Sub(last) < maxAge {
		r.advance(100 * time.Millisecond)
		if !r.powered("front") {
			t.Fatalf("suppressed %v after the last fix, before MaxFixAge %v", r.clock.Now().Sub(last), maxAge)
		}
	}
	r.advance(100 * time.Millisecond)
	if r.powered("front") || r.state() != gateway.Unknown {
		t.Fatalf("%v after the last fix: powered %v, state %v; want suppressed, unknown", r.clock.Now().Sub(last), r.powered("front"), r.state())
	}
	cmds := r.commands("front")
	deny := slices.IndexFunc(cmds, func(c command) bool { return c.code == r.prof.Codes.Deny })
	if deny < 0 || cmds[deny].at.Sub(last) > maxAge+100*time.Millisecond {
		t.Errorf("commands after the loss %v, want a deny within a tick of MaxFixAge", cmds)
	}
	r.advance(10 * time.Second)
	if s := r.tel.last(); !s.Withhold || r.powered("front") {
		t.Errorf("10 s without a fix: withhold %v, powered %v", s.Withhold, r.powered("front"))
	}
	for i := range 3 {
		r.step(time.Second, lat, lon, 0)
		if r.powered("front") != (i == 2) {
			t.Fatalf("fix %d after the loss: powered %v", i, r.powered("front"))
		}
	}
}

// TestTimelineDisobedientCamera: a camera that goes on recording while
// suppressed is escalated once its grace period is over: its power is cut
// again, the command resent, an alarm without a position goes to the
// uplink and an audit event to the trail. Its triggers are dropped.
func TestTimelineDisobedientCamera(t *testing.T) {
	const grace = 2 * time.Second
	al, audit := &alarms{}, &auditLog{}
	r := newRigCams(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 1 },
		rigCams{specs: func(s []camera.Spec) { s[0].HasStatus = true }, opts: camera.Options{Grace: grace}},
		func(o *gateway.Options) { o.Enforcement.Alarms = al; o.Audit = audit })
	r.step(time.Second, 52, 10, 0) // inside
	if r.state() != gateway.Inside {
		t.Fatal("not inside")
	}
	// The camera says it records, every half second as cameras report,
	// and its motion sensor fires.
	r.send(map[string]float64{"camera.front.status": 1, "camera.front.trigger": 1})
	since := r.clock.Now()
	r.send(map[string]float64{"camera.front.trigger": 0})
	r.commands("front")
	var escalatedAt time.Time
	for r.clock.Now().Sub(since) < 3*grace {
		for range 5 {
			r.advance(100 * time.Millisecond)
			if escalatedAt.IsZero() && len(al.all()) > 0 {
				escalatedAt = r.clock.Now()
			}
		}
		r.send(map[string]float64{"camera.front.status": 1})
	}
	if escalatedAt.IsZero() {
		t.Fatal("a camera recording while suppressed was never escalated")
	}
	if d := escalatedAt.Sub(since); d <= grace || d > grace+100*time.Millisecond {
		t.Errorf("escalated %v after it began recording, want the first tick after the grace period %v", d, grace)
	}
	got := al.all()
	if len(got) != 1 {
		t.Fatalf("%d alarms for one breach, want 1", len(got))
	}
	if a := got[0]; a.Type != gateway.AlarmCameraDisobeyed || len(a.Values) != 1 || a.Values["camera.index"] != 0 {
		t.Errorf("alarm %+v, want %s with the camera's index only", a, gateway.AlarmCameraDisobeyed)
	}
	var ev []gateway.AuditEvent
	audit.mu.Lock()
	for _, e := range audit.events {
		if e.Kind == gateway.AuditCameraDisobey {
			ev = append(ev, e)
		}
	}
	audit.mu.Unlock()
	if len(ev) != 1 || !strings.Contains(ev[0].Reason, "front") || strings.ContainsAny(ev[0].Reason, "0123456789") {
		t.Errorf("audit events %+v, want one %s naming the camera and no number", ev, gateway.AuditCameraDisobey)
	}
	// The escalation resent the command at its tick, and the line is cut.
	found := false
	for _, c := range r.commands("front") {
		if c.at.Equal(escalatedAt) && c.code == r.prof.Codes.Deny {
			found = true
		}
	}
	if !found {
		t.Errorf("no deny resent at the escalation (%v)", escalatedAt.Format(time.StampMicro))
	}
	if r.powered("front") {
		t.Error("front powered after the escalation")
	}
	st := r.stats()
	cs := r.cams.Stats()
	if st.Enforcement.Escalations != 1 || st.Enforcement.AlarmsQueued != 1 || cs.Escalations != 1 || cs.DisobedientStatus < 5 {
		t.Errorf("enforcement %+v, camera %+v", st.Enforcement, cs)
	}
	if cs.TriggersDropped != 1 || cs.TriggersAllowed != 0 {
		t.Errorf("triggers: %d dropped, %d allowed; want the one while suppressed dropped", cs.TriggersDropped, cs.TriggersAllowed)
	}
}

// gpioRig is a rig with a GPIO privacy switch, an indicator, a GPIO
// trigger for the front camera and a state file.
type gpioRig struct {
	*rig
	sw, trig, ind *gpiotest.Pin
	inputs        uint64 // GPIO changes sent, including each line's first level
}

func newGPIORig(t *testing.T, state string, switchAt gpio.Level) *gpioRig {
	t.Helper()
	g := &gpioRig{sw: cameratest.NewInput("privacy", switchAt), trig: cameratest.NewInput("front-motion", gpio.Low), ind: cameratest.NewPin("indicator")}
	g.rig = newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 3 }, func(o *gateway.Options) {
		o.Enforcement = gateway.Enforcement{
			Switch:    &gateway.Input{Pin: g.sw},
			Indicator: g.ind,
			Triggers:  map[string]gateway.Input{"front": {Pin: g.trig}},
			State:     daemon.NewStateFile(state),
			Poll:      20 * time.Millisecond,
		}
	})
	g.inputs = 2 // the first level of each line
	g.waitInputs(g.inputs)
	return g
}

func (g *gpioRig) edge(p *gpiotest.Pin, l gpio.Level) {
	g.t.Helper()
	cameratest.Edge(p, l)
	g.inputs++
	g.waitInputs(g.inputs)
}

func (g *gpioRig) lit() bool { return cameratest.Level(g.ind) == gpio.High }

// TestTimelineManualSwitch: the GPIO privacy switch turns every camera
// off and withholds the position at once, lights the indicator, holds
// across a restart even with the switch found off, and releases only
// when switched off, after ClearFixes clear fixes.
func TestTimelineManualSwitch(t *testing.T) {
	before := goleak.IgnoreCurrent()
	state := filepath.Join(t.TempDir(), config.StateFileName)
	g := newGPIORig(t, state, gpio.Low)
	if !g.lit() {
		t.Error("indicator dark at start: the gateway starts suppressed")
	}
	lat, lon := south(5000)
	for range 3 {
		g.step(time.Second, lat, lon, 50)
	}
	if !g.powered("front") || g.lit() {
		t.Fatalf("clear: powered %v, indicator %v", g.powered("front"), g.lit())
	}
	// A trigger while recording is allowed.
	g.edge(g.trig, gpio.High)
	g.edge(g.trig, gpio.Low)
	g.commands("front")
	at := g.clock.Now()
	g.edge(g.sw, gpio.High)
	if g.powered("front") || g.powered("rear") || !g.lit() {
		t.Fatalf("switch on: front %v, rear %v powered, indicator %v", g.powered("front"), g.powered("rear"), g.lit())
	}
	if cmds := g.commands("front"); len(cmds) == 0 || cmds[0].code != g.prof.Codes.Deny || !cmds[0].at.Equal(at) {
		t.Errorf("commands after the switch %v, want a deny at once", cmds)
	}
	// A trigger while the switch is on is dropped.
	g.edge(g.trig, gpio.High)
	g.edge(g.trig, gpio.Low)
	for range 3 {
		g.step(time.Second, lat, lon, 50)
	}
	g.advance(time.Second)
	if s := g.tel.last(); !s.Withhold || g.state() != gateway.Manual || g.powered("front") {
		t.Errorf("switch on, clear fixes: withhold %v, state %v, powered %v", s.Withhold, g.state(), g.powered("front"))
	}
	if cs := g.cams.Stats(); cs.TriggersAllowed != 1 || cs.TriggersDropped != 1 {
		t.Errorf("triggers: %d allowed, %d dropped; want 1 and 1", cs.TriggersAllowed, cs.TriggersDropped)
	}

	// Restart with the switch found off (turned off while the power was
	// gone): the manual mode holds before and after the first fix.
	if err := g.shutdown(); err != nil {
		t.Fatal(err)
	}
	g = newGPIORig(t, state, gpio.Low)
	if s := g.state(); s != gateway.Manual || !g.lit() || g.powered("front") {
		t.Fatalf("after the restart, before a fix: state %v, indicator %v, powered %v", s, g.lit(), g.powered("front"))
	}
	for range 3 {
		g.step(time.Second, lat, lon, 50)
	}
	if g.state() != gateway.Manual || g.powered("front") {
		t.Fatalf("restored manual mode released by fixes: %v", g.state())
	}
	// On and off again releases it, after ClearFixes clear fixes.
	g.edge(g.sw, gpio.High)
	g.edge(g.sw, gpio.Low)
	for i := range 3 {
		g.step(time.Second, lat, lon, 50)
		if g.powered("front") != (i == 2) || g.lit() != (i != 2) {
			t.Fatalf("clear fix %d after the release: powered %v, indicator %v", i, g.powered("front"), g.lit())
		}
	}
	// The restored manual mode was on already: the release is the change.
	if st := g.stats().Enforcement; st.SwitchChanges != 1 || st.StateErrors != 0 {
		t.Errorf("enforcement stats %+v", st)
	}
	// The writer saves off the loop: it gets there.
	g.waitFor(func() bool {
		s, err := daemon.NewStateFile(state).Load()
		return err == nil && s.State == gateway.Clear && !s.Manual
	})
	// Run stops the input readers and the writer it started.
	if err := g.shutdown(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, before)
}

// TestTimelineRestartInsideZone: a vehicle parked in a zone, ignition
// off, restarts: the saved state holds it before the first fix, and the
// drifting fixes of the parked car (clear of the zone) do not release it
// until it drives. The same fixes release a gateway that saved nothing.
func TestTimelineRestartInsideZone(t *testing.T) {
	state := filepath.Join(t.TempDir(), config.StateFileName)
	withState := func(o *gateway.Options) { o.Enforcement.State = daemon.NewStateFile(state) }
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 3 }, withState)
	r.vals["vehicle.ignition"] = 0
	r.step(time.Second, 52, 10, 0)
	if r.state() != gateway.Inside {
		t.Fatal("not inside")
	}
	if err := r.shutdown(); err != nil {
		t.Fatal(err)
	}
	saved, err := daemon.NewStateFile(state).Load()
	if err != nil || saved.State != gateway.Inside || !saved.Held || saved.Manual {
		t.Fatalf("saved %+v, %v; want inside, held", saved, err)
	}

	drift := func(r *rig) {
		r.vals["vehicle.ignition"] = 0
		lat, lon := south(200 + 300) // 300 m of drift: clear of the buffer
		for range 5 {
			r.step(time.Second, lat, lon, 0)
		}
	}
	fresh := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 3 })
	drift(fresh)
	if !fresh.powered("front") {
		t.Fatal("the drifting fixes do not release even a gateway without a saved state: the test shows nothing")
	}

	r = newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 3 }, withState)
	if r.powered("front") || r.powered("rear") {
		t.Fatal("powered after the restart")
	}
	if cmds := r.commands("front"); len(cmds) == 0 || cmds[0].code != r.prof.Codes.Deny {
		t.Errorf("first commands after the restart %v, want deny", cmds)
	}
	drift(r)
	if r.powered("front") {
		t.Fatal("a parked vehicle restarted in a zone released by drifting fixes")
	}
	if st := r.stats().Enforcement; st.ParkedFixes != 5 {
		t.Errorf("%d parked fixes, want 5", st.ParkedFixes)
	}
	// It drives off: the ignition on, the wheels turning.
	r.send(map[string]float64{"vehicle.ignition": 1, "vehicle.speed": 5})
	lat, lon := south(200 + 300)
	for i := range 3 {
		r.step(100*time.Millisecond, lat, lon, 5)
		if r.powered("front") != (i == 2) {
			t.Fatalf("driving fix %d: powered %v", i, r.powered("front"))
		}
	}
}

// TestDamagedStateFileStartsHeld: a state file that cannot be read is
// counted and the gateway starts as if a zone held it, with GNSS
// distrusted and no anchor (trust.go): the fixes of the first
// trustWindow (4 s) count as none, then the parked car's are held.
func TestDamagedStateFileStartsHeld(t *testing.T) {
	state := filepath.Join(t.TempDir(), config.StateFileName)
	if err := daemon.NewStateFile(state).Save(gateway.Saved{State: gateway.Clear, NeedClear: 3}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, []byte(strings.Replace(string(data), `"held":false`, `"held":true `, 1)[:len(data)-5]), 0o600); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 3 },
		func(o *gateway.Options) { o.Enforcement.State = daemon.NewStateFile(state) })
	r.vals["vehicle.ignition"] = 0
	lat, lon := south(20000) // beyond the debt of the lost anchor (13 km)
	for range 8 {
		r.step(time.Second, lat, lon, 0)
	}
	st := r.stats()
	if r.powered("front") || st.Enforcement.StateErrors != 1 || st.Enforcement.ParkedFixes != 4 || st.GNSSDistrusts != 1 {
		t.Errorf("powered %v, enforcement %+v, %d distrusts; want held, one state error, 4 parked fixes after the 4 distrusted ones, one distrust",
			r.powered("front"), st.Enforcement, st.GNSSDistrusts)
	}
}

// TestToggleSwitch: a push button toggles the manual mode on each press;
// a bounce within the debounce time is no second press, and a button
// held at start is no press.
func TestToggleSwitch(t *testing.T) {
	btn := cameratest.NewInput("button", gpio.High) // held at start
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 1 }, func(o *gateway.Options) {
		o.Enforcement = gateway.Enforcement{Switch: &gateway.Input{Pin: btn}, SwitchMode: gateway.SwitchToggle, Poll: 20 * time.Millisecond}
	})
	inputs := uint64(1)
	press := func(levels ...gpio.Level) {
		t.Helper()
		for _, l := range levels {
			cameratest.Edge(btn, l)
			inputs++
			r.waitInputs(inputs)
		}
	}
	lat, lon := south(5000)
	r.step(time.Second, lat, lon, 50)
	if r.state() != gateway.Clear {
		t.Fatalf("a button held at start engaged the manual mode: %v", r.state())
	}
	press(gpio.Low, gpio.High, gpio.Low) // release, press, release
	if r.powered("front") {
		t.Fatal("powered after a press")
	}
	press(gpio.High, gpio.Low) // a bounce at the same instant
	if r.state() != gateway.Manual || r.powered("front") {
		t.Fatalf("after a press and a bounce: %v, powered %v", r.state(), r.powered("front"))
	}
	r.advance(time.Second)
	press(gpio.High, gpio.Low)
	r.step(time.Second, lat, lon, 50)
	if r.state() != gateway.Clear || !r.powered("front") {
		t.Errorf("after a second press and a clear fix: %v, powered %v", r.state(), r.powered("front"))
	}
	if n := r.stats().Enforcement.SwitchChanges; n != 2 {
		t.Errorf("%d switch changes, want 2", n)
	}
}

// TestRestartKeepsOwedHysteresis: a zone's stricter clear_fixes, owed
// when the gateway stopped, is still owed after the restart.
func TestRestartKeepsOwedHysteresis(t *testing.T) {
	state := filepath.Join(t.TempDir(), config.StateFileName)
	if err := daemon.NewStateFile(state).Save(gateway.Saved{State: gateway.Near, NeedClear: 6}); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 2 },
		func(o *gateway.Options) { o.Enforcement.State = daemon.NewStateFile(state) })
	lat, lon := south(5000)
	for i := range 6 {
		r.step(100*time.Millisecond, lat, lon, 50)
		if r.powered("front") != (i == 5) {
			t.Fatalf("clear fix %d after the restart: powered %v, want the 6th to release", i+1, r.powered("front"))
		}
	}
}

// TestTimelineSilentCamera: a camera whose power cannot be cut (it has
// none) and whose status falls silent while suppressed is unverified:
// escalated after the status timeout and the grace period, with its own
// alarm and audit kind.
func TestTimelineSilentCamera(t *testing.T) {
	al, audit := &alarms{}, &auditLog{}
	r := newRigCams(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 1 },
		rigCams{
			specs: func(s []camera.Spec) { s[1].Power, s[1].HasStatus = nil, true }, // rear: command only
			opts:  camera.Options{Grace: time.Second, StatusTimeout: time.Second},
		},
		func(o *gateway.Options) { o.Enforcement.Alarms = al; o.Audit = audit })
	r.send(map[string]float64{"camera.rear.status": 0}) // heard from the start
	r.fix(52, 10, 0)                                    // inside
	// Idle every half second for 3 s (obedient for longer than the
	// grace), then nothing: unknown after the 1 s timeout, escalated
	// after the 1 s grace.
	for range 6 {
		r.send(map[string]float64{"camera.rear.status": 0})
		r.advance(500 * time.Millisecond)
	}
	r.send(map[string]float64{"camera.rear.status": 0})
	silent := r.clock.Now()
	if n := len(al.all()); n != 0 {
		t.Fatalf("%d alarms while the camera reported", n)
	}
	for range 25 {
		r.advance(100 * time.Millisecond)
	}
	got := al.all()
	if len(got) != 1 || got[0].Type != gateway.AlarmCameraUnverified || got[0].Values["camera.index"] != 1 {
		t.Fatalf("alarms %+v, want one %s for camera 1", got, gateway.AlarmCameraUnverified)
	}
	if d := got[0].Time.Sub(silent); d <= 2*time.Second || d > 2*time.Second+200*time.Millisecond {
		t.Errorf("escalated %v after the last status, want just past the status timeout and the grace (2 s)", d)
	}
	if !slices.Contains(audit.kinds(), gateway.AuditCameraUnverified) {
		t.Errorf("audit %v, want %s", audit.kinds(), gateway.AuditCameraUnverified)
	}
	if cs := r.cams.Stats(); cs.StatusLost != 1 {
		t.Errorf("%d statuses lost, want 1", cs.StatusLost)
	}
}

package gateway

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"periph.io/x/conn/v3/gpio"

	"quietzone/camera"
	"quietzone/uplink"
)

// Camera enforcement around the camera controller: the privacy switch,
// the indicator, GPIO inputs, escalations and the suppression state that
// outlives a restart. The decision loop owns all of it; GPIO inputs are
// read by goroutines of Run that hand changes to the loop.

// SwitchMode says how the privacy switch is read. It applies to the GPIO
// line and to the CAN role privacy.switch alike.
type SwitchMode uint8

const (
	// SwitchLevel: the switch's position is the request (a rocker
	// switch, or a signal that holds its value). On engages the manual
	// mode; it is released when a switch seen on goes off and no other
	// is on. A switch first seen off releases nothing, so that a manual
	// mode restored after a restart holds until someone switches it off:
	// a switch found off at start (turned off while the power was gone,
	// or a bus that says 0 before it knows) must be switched on and off
	// again.
	SwitchLevel SwitchMode = iota
	// SwitchToggle: each press toggles the manual mode (a push button).
	// A press is a change from released to pressed, seen as such; presses
	// closer together than the debounce time count once. A button held
	// at start is no press.
	SwitchToggle
)

// ParseSwitchMode reads "level" (or "") and "toggle".
func ParseSwitchMode(s string) (SwitchMode, error) {
	switch s {
	case "", "level":
		return SwitchLevel, nil
	case "toggle":
		return SwitchToggle, nil
	}
	return 0, fmt.Errorf("switch mode %q: want level or toggle", s)
}

// Input is a GPIO line the gateway reads: a camera's trigger or the
// privacy switch. periph's host drivers (the GPIO character device) and
// cameratest.NewInput provide them.
type Input struct {
	Pin gpio.PinIn
	// ActiveLow: the input is active (pressed, triggered) when Low.
	ActiveLow bool
}

// Alarmer takes an alarm for the uplink without waiting; the daemon's
// uplink pipe implements it (Daemon.Alarm).
type Alarmer interface {
	Alarm(a uplink.Alarm) error
}

// Enforcement wires the parts of camera enforcement that are not cameras.
// Every field is optional.
type Enforcement struct {
	// Indicator is lit while any suppression holds (every state but
	// Clear: zones, no fix, the switch, starting and stopping), so that
	// people outside the car can see it. It is written on every change
	// and every tick, like the power lines.
	Indicator          gpio.PinOut
	IndicatorActiveLow bool
	// Switch is the privacy switch's GPIO input; the CAN role
	// privacy.switch works with or without it.
	Switch     *Input
	SwitchMode SwitchMode
	// Debounce: presses of a toggle switch closer than this count once;
	// default 50 ms.
	Debounce time.Duration
	// Triggers are GPIO trigger inputs, by camera name, besides the CAN
	// roles camera.NAME.trigger.
	Triggers map[string]Input
	// State keeps the suppression state across restarts (StateFile). Nil
	// keeps nothing: every start is a first start.
	State StateStore
	// Alarms receives an alarm for every escalated camera.
	Alarms Alarmer
	// Poll bounds each wait for an edge on a GPIO input, and so how long
	// a stop waits for the readers; a level is read after every wait, so
	// a lost edge costs at most this long. Default 200 ms.
	Poll time.Duration
}

// EnforcementStats count what enforcement did. They carry no positions.
type EnforcementStats struct {
	// Escalations: cameras escalated (alarm and audit event raised).
	Escalations uint64
	// AlarmsQueued: alarms the uplink took; AlarmRetries: attempts it
	// refused (the alarm stays pending and is tried every tick);
	// AlarmsDropped: pending alarms given up because too many piled up.
	AlarmsQueued, AlarmRetries, AlarmsDropped uint64
	// IndicatorErrors: indicator writes that failed.
	IndicatorErrors uint64
	// SwitchChanges: times the privacy switch turned the manual mode on
	// or off.
	SwitchChanges uint64
	// ParkedFixes: clear fixes not counted towards leaving suppression
	// because a zone held the vehicle and it was parked.
	ParkedFixes uint64
	// Inputs: GPIO input changes handled.
	Inputs uint64
	// StateSaves: suppression states written; StateErrors: writes that
	// failed and saved states that could not be read.
	StateSaves, StateErrors uint64
}

// Alarm types raised for escalated cameras.
const (
	AlarmCameraDisobeyed  = "camera.disobeyed"
	AlarmCameraUnverified = "camera.unverified"
)

const (
	defaultPoll     = 200 * time.Millisecond
	defaultDebounce = 50 * time.Millisecond
	// maxPendingAlarms bounds the alarms kept while the uplink refuses
	// them; each is also in the log and the audit trail.
	maxPendingAlarms = 64
	// stationaryKmh: at a lower wheel speed the vehicle is parked.
	stationaryKmh = 1.0
)

// Switch sources.
const (
	switchCAN = iota
	switchGPIO
	numSwitches
)

// enforcement is the decision loop's enforcement state.
type enforcement struct {
	inputs  []input
	events  chan inputEvent
	handled atomic.Uint64

	escBuf []camera.Escalation
	alarms []uplink.Alarm // raised, not yet taken by the uplink

	sw        [numSwitches]struct{ on, known bool }
	lastPress time.Time

	// held: a zone held the vehicle since it was last clear (or the
	// saved state says nothing else). While held, clear fixes of a
	// parked vehicle do not count: it cannot have left, so they are
	// GNSS drift.
	held     bool
	ignition int // role index of vehicle.ignition, or -1

	indicatorFailing bool

	saved      Saved      // the state last handed to the writer
	save       chan Saved // to the writer; nil without a store
	saves      atomic.Uint64
	saveErrors atomic.Uint64
}

func (g *Gateway) initEnforcement() error {
	o := &g.opts.Enforcement
	e := &g.e
	if o.Poll <= 0 {
		o.Poll = defaultPoll
	}
	switch {
	case o.Debounce < 0:
		return errors.New("enforcement: debounce must not be negative")
	case o.Debounce == 0:
		o.Debounce = defaultDebounce
	}
	if o.SwitchMode > SwitchToggle {
		return fmt.Errorf("enforcement: switch mode %d", o.SwitchMode)
	}
	e.ignition = -1
	for i, name := range g.dec.Roles() {
		if name == RoleIgnition {
			e.ignition = i
		}
	}
	if o.Switch != nil {
		if o.Switch.Pin == nil {
			return errors.New("enforcement: privacy switch without a pin")
		}
		e.inputs = append(e.inputs, input{Input: *o.Switch, kind: inSwitch, pulses: o.SwitchMode == SwitchToggle})
	}
	for _, name := range slices.Sorted(maps.Keys(o.Triggers)) {
		in := o.Triggers[name]
		idx, ok := g.opts.Cameras.Lookup(name)
		if !ok || in.Pin == nil {
			return fmt.Errorf("enforcement: trigger input for camera %s: no such camera, or no pin", name)
		}
		e.inputs = append(e.inputs, input{Input: in, kind: inTrigger, cam: idx, pulses: true})
	}
	e.events = make(chan inputEvent, 64)
	if o.State != nil {
		e.save = make(chan Saved, 1)
	}
	return nil
}

// Inputs returns how many GPIO input changes the decision loop has
// finished with. Tests wait on it, as on Processed.
func (g *Gateway) Inputs() uint64 { return g.e.handled.Load() }

// restore takes the saved state before the first fix: the manual mode,
// the hysteresis the release still takes, and whether a zone holds the
// vehicle. Nothing saved is a first start: the usual hysteresis applies.
// A saved state that cannot be read starts held (fail closed): a parked
// vehicle does not leave suppression until it moves, since it may be
// parked in a zone.
func (g *Gateway) restore(now time.Time) {
	s := Saved{}
	g.e.saved = Saved{NeedClear: -1} // nothing known on disk: the first change is written
	lost := false
	if st := g.opts.Enforcement.State; st != nil {
		got, err := st.Load()
		switch {
		case err == nil:
			s, g.e.saved = got, got
			g.log.Info("suppression state restored", "state", got.State, "manual", got.Manual, "held", got.Held,
				"gnss_distrusted", got.Distrusted, "anchor", !got.Anchor.At.IsZero())
		case errors.Is(err, fs.ErrNotExist):
			g.log.Info("no saved suppression state: a first start")
		default:
			// What a file that does not load says may still make the
			// start stricter: its manual mode (StateFile.Load).
			s.Held, s.Manual, lost = true, got.Manual, true
			g.e.saveErrors.Add(1)
			g.log.Error("saved suppression state unreadable: starting held, GNSS distrusted", "err", err)
		}
	}
	g.restoreTrust(now, s, lost)
	g.e.held = s.Held
	if s.Held {
		g.z.heldSince = s.HeldSince
	}
	if !s.SteadyWall.IsZero() && g.clock.Monotonic() >= s.SteadyMono {
		g.z.steadyWall, g.z.steadyMono = s.SteadyWall, s.SteadyMono // the same boot: go on from it
	}
	g.z.needClear = max(g.d.ClearFixes, min(s.NeedClear, MaxNeedClear))
	if s.Manual {
		g.manual, g.state = true, Manual
		g.audit(now, AuditManualOn, "privacy switch on before the restart")
	}
}

// startEnforcement starts the GPIO input readers and the state writer in
// eg; they stop when ctx is done.
func (g *Gateway) startEnforcement(ctx context.Context, eg *errgroup.Group) {
	for i := range g.e.inputs {
		eg.Go(func() error { return g.watch(ctx, i) })
	}
	if g.e.save != nil {
		eg.Go(func() error { g.writeStates(ctx); return nil })
	}
}

// noteState follows the zone hold through a state change.
func (g *Gateway) noteState(now time.Time, s State) {
	switch s {
	case Near, Inside:
		if !g.e.held {
			g.z.heldSince = g.steadyNow(now)
		}
		g.e.held = true
	case Clear:
		g.e.held, g.z.heldSince = false, time.Time{}
	}
}

// parkedHold reports whether a clear fix must not count towards leaving
// suppression: a zone holds the vehicle and it may be parked. A position
// that moves while the car is parked is GNSS drift, and sentry mode must
// not wake up inside a zone because of it.
//
// The ignition decides when it is known, however old its last value (a
// parked car's bus falls silent, and its last word was "off"): off holds,
// on lets the usual hysteresis apply (a queue at a light). Without an
// ignition value, a fresh wheel speed decides: below stationaryKmh holds.
// With neither, the vehicle is held if the profile maps either signal
// (they have not arrived yet, as after a restart) and not otherwise: a
// vehicle that cannot say whether it is parked gets the usual hysteresis.
// The GNSS speed is not asked: it comes from the receiver that drifts.
func (g *Gateway) parkedHold(now time.Time) bool {
	if !g.e.held {
		return false
	}
	if i := g.e.ignition; i >= 0 {
		if v := g.latest[i]; !v.Time.IsZero() {
			return v.Phys == 0
		}
	}
	if g.speed >= 0 {
		if v := g.latest[g.speed]; !v.Time.IsZero() && now.Sub(v.Time) <= g.d.MaxFixAge {
			return v.Phys < stationaryKmh
		}
	}
	return g.e.ignition >= 0 || g.speed >= 0
}

// onSwitch takes the privacy switch's level from one source.
func (g *Gateway) onSwitch(now time.Time, src int, on bool) {
	e := &g.e
	prev := e.sw[src]
	e.sw[src].on, e.sw[src].known = on, true
	if prev.known && prev.on == on {
		return
	}
	if g.opts.Enforcement.SwitchMode == SwitchToggle {
		if !on || !prev.known {
			return
		}
		if !e.lastPress.IsZero() && !now.Before(e.lastPress) && now.Sub(e.lastPress) < g.opts.Enforcement.Debounce {
			return // a bounce of the last press
		}
		e.lastPress = now
		g.setManual(now, !g.manual)
		return
	}
	if on {
		g.setManual(now, true)
		return
	}
	if !prev.known {
		return // first seen off: a restored manual mode holds
	}
	for _, s := range e.sw {
		if s.known && s.on {
			return
		}
	}
	g.setManual(now, false)
}

func (g *Gateway) setManual(now time.Time, on bool) {
	if on == g.manual {
		return
	}
	g.manual = on
	g.stats.Enforcement.SwitchChanges++
	g.evaluate(now, false)
}

// onInput handles a GPIO input change.
func (g *Gateway) onInput(now time.Time, ev inputEvent) {
	in := &g.e.inputs[ev.idx]
	switch in.kind {
	case inSwitch:
		g.onSwitch(now, switchGPIO, ev.active)
	case inTrigger:
		g.opts.Cameras.ObserveTrigger(in.cam, ev.active, now)
	}
	g.stats.Enforcement.Inputs++
}

// showIndicator lights the indicator while suppressed.
func (g *Gateway) showIndicator(lit bool) {
	o := &g.opts.Enforcement
	if o.Indicator == nil {
		return
	}
	l := gpio.Level(lit != o.IndicatorActiveLow)
	if err := o.Indicator.Out(l); err != nil {
		g.stats.Enforcement.IndicatorErrors++
		if !g.e.indicatorFailing {
			g.log.Error("privacy indicator write failed", "err", err)
		}
		g.e.indicatorFailing = true
		return
	}
	g.e.indicatorFailing = false
}

// enforceTick rewrites the indicator and raises the cameras' escalations.
func (g *Gateway) enforceTick(now time.Time) {
	g.showIndicator(g.state.Suppressed())
	{
		g.e.escBuf = g.opts.Cameras.Escalations(g.e.escBuf[:0])
		for _, x := range g.e.escBuf {
			g.escalate(x)
		}
	}
	g.flushAlarms()
}

// escalate raises an escalated camera: the log, the audit trail and an
// alarm for the fleet, which carries the camera's index and nothing of
// where the vehicle is (the uplink coarsens its time). The controller has
// already cut the power line again and resends the command.
func (g *Gateway) escalate(x camera.Escalation) {
	g.stats.Enforcement.Escalations++
	kind, alarm, what := AuditCameraDisobey, AlarmCameraDisobeyed, "recording while not allowed to, beyond the grace period; power cut again"
	if x.Breach == camera.Unverified {
		kind, alarm, what = AuditCameraUnverified, AlarmCameraUnverified, "silent while not allowed to record, and its power could not be cut"
	}
	g.log.Warn("camera escalated", "camera", x.Name, "breach", x.Breach.String())
	g.audit(x.At, kind, "camera "+x.Name+": "+what)
	if g.opts.Enforcement.Alarms == nil {
		return
	}
	if len(g.e.alarms) >= maxPendingAlarms {
		g.e.alarms = g.e.alarms[1:]
		g.stats.Enforcement.AlarmsDropped++
	}
	g.e.alarms = append(g.e.alarms, uplink.Alarm{Time: x.At, Type: alarm, Values: map[string]float64{"camera.index": float64(x.Camera)}})
}

// flushAlarms hands the pending alarms to the uplink, oldest first; what
// it refuses is tried again next tick.
func (g *Gateway) flushAlarms() {
	n := 0
	for _, a := range g.e.alarms {
		if err := g.opts.Enforcement.Alarms.Alarm(a); err != nil {
			g.stats.Enforcement.AlarmRetries++
			g.log.Error("alarm not taken by the uplink; retrying", "err", err)
			break
		}
		g.stats.Enforcement.AlarmsQueued++
		n++
	}
	g.e.alarms = append(g.e.alarms[:0], g.e.alarms[n:]...)
}

// enforcementStats returns the counters, with those of the state writer.
func (g *Gateway) enforcementStats() EnforcementStats {
	s := g.stats.Enforcement
	s.StateSaves = g.e.saves.Load()
	s.StateErrors = g.e.saveErrors.Load()
	return s
}

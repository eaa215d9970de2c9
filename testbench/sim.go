package testbench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"quietzone/camera/cameratest"
	"quietzone/can"
	"quietzone/can/profiles"
	"quietzone/gateway"
	"quietzone/gateway/gatewaytest"
	"quietzone/geofence"
	"quietzone/uplink"
)

// Options change how a scenario is run.
type Options struct {
	// Logger receives the gateway's log; nil discards it.
	Logger *slog.Logger
	// BrokerURL, when set, is used instead of an embedded broker.
	BrokerURL string
	// DeliveryTimeout bounds the wait for the broker to hand every
	// acknowledged batch to the collector at the end.
	DeliveryTimeout time.Duration
	// Record, when set, receives every frame the vehicle sends, as a
	// candump log that `quietzone replay` plays back.
	Record *can.LogWriter
}

// demoFleetKey keys the demo vehicle's pseudonym. Real fleets keep theirs
// in a file only the daemon can read.
var demoFleetKey = []byte("quietzone-demo-fleet-key-not-secret")

// Run plays a scenario against a gateway wired exactly as the daemon wires
// it, on a virtual bus with fake power lines, and checks the result.
func Run(ctx context.Context, sc Scenario, o Options) (*Report, error) {
	wallStart := time.Now()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DeliveryTimeout <= 0 {
		o.DeliveryTimeout = 15 * time.Second
	}
	if len(sc.Route) < 2 || sc.Step <= 0 {
		return nil, errors.New("run scenario: a route of two waypoints or more and a positive step are required")
	}
	zones, err := geofence.Parse(sc.ZonesName, sc.Zones, geofence.Options{})
	if err != nil {
		return nil, fmt.Errorf("run scenario: %w", err)
	}
	policy, err := gateway.ParsePolicy(sc.PolicyName, sc.Policy)
	if err != nil {
		return nil, fmt.Errorf("run scenario: %w", err)
	}
	prof, err := gateway.LoadProfile(gateway.BuiltinPrefix + profiles.Default)
	if err != nil {
		return nil, fmt.Errorf("run scenario: %w", err)
	}

	brokerURL := o.BrokerURL
	if brokerURL == "" {
		b, err := StartBroker()
		if err != nil {
			return nil, fmt.Errorf("run scenario: %w", err)
		}
		defer b.Close()
		brokerURL = b.URL
	}
	coll, err := Collect(brokerURL)
	if err != nil {
		return nil, fmt.Errorf("run scenario: %w", err)
	}
	defer coll.Close()

	clock := gatewaytest.NewClock(sc.Start)
	bus := can.NewBus(clock.Now)
	port := bus.Open() // the vehicle's ECUs and cameras
	defer port.Close()
	pins := map[string]*gpiotest.Pin{}
	hw := gateway.Hardware{
		OpenBus: func(string, []can.Filter) (gateway.Bus, error) { return bus.Open(), nil },
		OpenPin: func(name string) (gpio.PinOut, error) {
			p := cameratest.NewPin(name)
			pins[name] = p
			return p, nil
		},
	}
	// The durable queue, as on a vehicle, in a directory of its own.
	stateDir, err := os.MkdirTemp("", "quietzone-bench-")
	if err != nil {
		return nil, fmt.Errorf("run scenario: %w", err)
	}
	defer os.RemoveAll(stateDir)
	cfg := &gateway.Config{
		Vehicle:  gateway.VehicleConfig{Profile: gateway.BuiltinPrefix + profiles.Default, Interfaces: []string{"vbus0"}},
		Cameras:  sc.Cameras,
		Decision: gateway.DefaultDecision(),
		Uplink:   gateway.UplinkConfig{Broker: brokerURL, StateDir: stateDir},
	}
	setup := &gateway.Setup{Config: cfg, Profile: prof, Zones: zones, Policy: policy, VIN: sc.VIN, FleetKey: demoFleetKey}
	d, err := gateway.NewDaemon(setup, hw, gateway.DaemonOptions{Clock: clock, Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("run scenario: %w", err)
	}
	defer d.Close()

	s, err := newSim(sc, prof, zones, port, pins)
	if err != nil {
		return nil, fmt.Errorf("run scenario: %w", err)
	}
	s.rec = o.Record

	gctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- d.Gateway.Run(gctx) }()
	if err := waitFor(done, func() bool { return clock.Tickers() > 0 }); err != nil {
		return nil, fmt.Errorf("run scenario: gateway did not start: %w", err)
	}

	var sent uint64
	dt := sc.Step.Seconds()
	for parked := time.Duration(0); parked < sc.ParkedAfter; {
		if ctx.Err() != nil {
			break
		}
		clock.Advance(sc.Step)
		now := clock.Now()
		s.veh.step(dt)
		if s.veh.done {
			parked += sc.Step
		}
		n, err := s.sendFrames(now)
		sent += n
		if err != nil {
			return nil, fmt.Errorf("run scenario: %w", err)
		}
		if err := waitFor(done, func() bool { return d.Gateway.Processed() >= sent }); err != nil {
			return nil, fmt.Errorf("run scenario: gateway stopped during the drive: %w", err)
		}
		s.receiveCommands()
		s.observe(now, sc.Step)
	}
	s.finish(clock.Now())
	stop()
	runErr := <-done

	published := d.Publisher.Stats().Published
	deadline := time.Now().Add(o.DeliveryTimeout)
	for uint64(coll.Telemetry()) < published && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	rep := s.report(sc, d, coll.Messages(), policy, time.Since(wallStart))
	if runErr != nil {
		return rep, fmt.Errorf("run scenario: gateway: %w", runErr)
	}
	return rep, nil
}

// waitFor spins until cond holds, giving the gateway's goroutines the CPU;
// it fails if the gateway returned meanwhile.
func waitFor(done <-chan error, cond func() bool) error {
	for spins := 0; !cond(); spins++ {
		select {
		case err := <-done:
			if err == nil {
				err = errors.New("returned early")
			}
			return err
		default:
		}
		if spins < 1000 {
			runtime.Gosched()
		} else {
			time.Sleep(50 * time.Microsecond)
		}
		if spins > 2_000_000 {
			return errors.New("timed out")
		}
	}
	return nil
}

// value is what the simulator puts into one signal this step.
type value struct {
	phys  float64
	raw   uint64
	isRaw bool
}

type simMsg struct {
	msg   *can.Message
	roles []string
	sigs  []*can.Signal
}

// simCamera models a camera that obeys its power line and command.
type simCamera struct {
	name     string
	pin      *gpiotest.Pin
	cmdSig   *can.Signal
	allowed  bool // the last command received; a camera powers up allowing
	powered  bool
	motion   bool
	motionTo time.Time
	nextAt   time.Time
	recTo    time.Time // recording until (post-roll after motion)

	triggers   int
	recordings int
	onTime     time.Duration
	onInside   time.Duration
}

func (c *simCamera) recording(now time.Time) bool {
	return c.powered && c.allowed && now.Before(c.recTo)
}

// interval is a stretch of suppression as seen on the power lines.
type interval struct {
	from, to         time.Time
	fromKm, toKm     float64
	insideTruth      time.Duration
	inBufferTruth    time.Duration
	outsideAnyBuffer time.Duration
}

type sim struct {
	sc    Scenario
	prof  *gateway.Profile
	zones *geofence.Index
	port  *can.Port
	veh   *vehicle
	rec   *can.LogWriter
	rng   *rand.Rand
	msgs  []simMsg
	vals  map[string]value
	cams  []*simCamera

	noiseN, noiseE float64 // GNSS error, metres

	steps         int
	framesSent    uint64
	timeInside    time.Duration
	timeInBuffer  time.Duration
	suppressed    time.Duration
	overSuppress  time.Duration
	intervals     []interval
	open          *interval
	contactFrames int
	// nearSec holds the seconds (Unix time) in which the vehicle was
	// within a buffer at some step: what the timing check needs.
	nearSec map[int64]bool
	trace   trace    // the exact track and camera states, for the map
	tl      timeline // command and power changes, timeline.go
}

func newSim(sc Scenario, prof *gateway.Profile, zones *geofence.Index, port *can.Port, pins map[string]*gpiotest.Pin) (*sim, error) {
	s := &sim{
		sc: sc, prof: prof, zones: zones, port: port,
		veh:  newVehicle(sc.Route),
		rng:  rand.New(rand.NewPCG(sc.Seed, sc.Seed^0x9e3779b97f4a7c15)),
		vals: map[string]value{},

		nearSec: map[int64]bool{},
	}
	byMsg := map[*can.Message]*simMsg{}
	for _, m := range prof.Mappings {
		msg := prof.DB.Message(m.Message)
		sm := byMsg[msg]
		if sm == nil {
			sm = &simMsg{msg: msg}
			byMsg[msg] = sm
		}
		sm.roles = append(sm.roles, m.Role)
		sm.sigs = append(sm.sigs, msg.Signal(m.Signal))
	}
	for _, sm := range byMsg {
		s.msgs = append(s.msgs, *sm)
	}
	sort.Slice(s.msgs, func(i, j int) bool { return s.msgs[i].msg.ID < s.msgs[j].msg.ID })
	var names []string
	for _, cc := range sc.Cameras {
		c := &simCamera{name: cc.Name, pin: pins[cc.PowerLine], cmdSig: prof.Commands[cc.Name], allowed: true}
		c.nextAt = sc.Start.Add(time.Duration(5+s.rng.IntN(20)) * time.Second)
		s.cams = append(s.cams, c)
		names = append(names, cc.Name)
	}
	s.tl = newTimeline(sc.Start, prof.Codes, names)
	return s, nil
}

// sendFrames writes this step's frames: every message whose mapped roles
// all have a value.
func (s *sim) sendFrames(now time.Time) (uint64, error) {
	clear(s.vals)
	v := s.veh
	set := func(role string, x float64) { s.vals[role] = value{phys: x} }
	set("vehicle.speed", v.speed*3.6)
	set("vehicle.ignition", b2f(!(s.sc.IgnitionOff && v.done)))
	set("vehicle.odometer", v.odometerM/1000)
	set("privacy.switch", 0)
	// GNSS error drifts slowly, as it does on a real receiver: a
	// first-order Gauss-Markov process with a 5 s time constant.
	a := math.Exp(-s.sc.Step.Seconds() / 5)
	w := math.Sqrt(1-a*a) * s.sc.GNSSNoiseM
	s.noiseN = a*s.noiseN + w*s.rng.NormFloat64()
	s.noiseE = a*s.noiseE + w*s.rng.NormFloat64()
	lat, lon := offset(v.lat, v.lon, s.noiseN, s.noiseE)
	set("position.latitude", lat)
	set("position.longitude", lon)
	set("position.fix", 3)
	set("position.accuracy", math.Max(s.sc.GNSSNoiseM, 0.5))
	set("position.heading", math.Mod(v.heading, 360))
	set("position.speed", v.speed*3.6)
	for _, c := range s.cams {
		s.stepTrigger(c, now)
		status := s.prof.Codes.Idle
		switch {
		case !c.powered:
			status = s.prof.Codes.Off
		case c.recording(now):
			status = s.prof.Codes.Recording
		}
		set("camera."+c.name+".status", float64(status))
		set("camera."+c.name+".trigger", b2f(c.motion))
	}
	if i := s.steps; i < 10*len(s.sc.Contacts) && i%10 == 0 {
		name := s.sc.Contacts[i/10]
		var raw uint64
		for k := 0; k < len(name) && k < 7; k++ {
			raw |= uint64(name[k]) << (8 * k)
		}
		set("phone.contact.index", float64(i/10))
		s.vals["phone.contact.chars"] = value{raw: raw, isRaw: true}
		s.contactFrames++
	}
	s.steps++

	var n uint64
	for _, sm := range s.msgs {
		f := sm.msg.NewFrame()
		f.Time = now
		complete := true
		for i, role := range sm.roles {
			x, ok := s.vals[role]
			if !ok {
				complete = false
				break
			}
			if x.isRaw {
				sm.sigs[i].SetRaw(&f.Data, x.raw)
			} else if err := sm.sigs[i].Encode(&f.Data, x.phys); err != nil {
				return n, fmt.Errorf("encode %s: %w", role, err)
			}
		}
		if !complete {
			continue
		}
		if err := s.port.WriteFrame(&f); err != nil {
			return n, err
		}
		if s.rec != nil {
			if err := s.rec.WriteFrame(&f); err != nil {
				return n, err
			}
		}
		n++
	}
	s.framesSent += n
	return n, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// stepTrigger runs a camera's motion sensor: bursts of 2–6 s every 10–40 s.
func (s *sim) stepTrigger(c *simCamera, now time.Time) {
	if c.motion && !now.Before(c.motionTo) {
		c.motion = false
	}
	if !c.motion && !now.Before(c.nextAt) {
		c.motion = true
		c.triggers++
		c.motionTo = now.Add(time.Duration(2000+s.rng.IntN(4000)) * time.Millisecond)
		c.nextAt = c.motionTo.Add(time.Duration(10+s.rng.IntN(30)) * time.Second)
	}
	if c.motion && c.powered && c.allowed {
		if !now.Before(c.recTo) {
			c.recordings++
		}
		c.recTo = c.motionTo.Add(5 * time.Second)
	}
}

// receiveCommands reads the command frames the gateway sent.
func (s *sim) receiveCommands() {
	var f can.Frame
	for s.port.TryReadFrame(&f) {
		for i, c := range s.cams {
			if c.cmdSig == nil || f.ID != c.cmdSig.Message.ID || f.IsExtended() != c.cmdSig.Message.Extended {
				continue
			}
			c.allowed = c.cmdSig.Raw(&f.Data) == s.prof.Codes.Allow
			s.tl.command(i, f.Time, c.cmdSig.Raw(&f.Data), s.veh.odometerM/1000)
		}
	}
}

// observe reads the power lines and accounts one step against the truth.
func (s *sim) observe(now time.Time, dt time.Duration) {
	truth := s.zones.Query(s.veh.lat, s.veh.lon, 0)
	inBuffer := truth.InBuffer()
	if truth.Inside {
		s.timeInside += dt
	}
	if inBuffer {
		s.timeInBuffer += dt
		s.nearSec[now.Add(-dt).Unix()] = true // the step from now-dt to now
		s.nearSec[now.Unix()] = true
	}
	anyExteriorOn := false
	for i, c := range s.cams {
		c.powered = c.pin == nil || cameratest.Level(c.pin) == gpio.High
		s.tl.powerLine(i, now, c.powered, s.veh.odometerM/1000)
		if !c.powered {
			c.recTo = time.Time{} // power cut: the recording ends
		}
		on := c.powered || c.recording(now)
		if on {
			c.onTime += dt
			if truth.Inside {
				c.onInside += dt
			}
		}
		if on && s.sc.Cameras[i].Class == "exterior" {
			anyExteriorOn = true
		}
	}
	s.trace.observe(now, s.sc.Start, dt, s.veh, truth, !anyExteriorOn, s.cams)
	km := s.veh.odometerM / 1000
	if !anyExteriorOn {
		s.suppressed += dt
		if !inBuffer {
			s.overSuppress += dt
		}
		if s.open == nil {
			s.open = &interval{from: now.Add(-dt), fromKm: km}
		}
		s.open.to, s.open.toKm = now, km
		if truth.Inside {
			s.open.insideTruth += dt
		}
		if inBuffer {
			s.open.inBufferTruth += dt
		} else {
			s.open.outsideAnyBuffer += dt
		}
	} else if s.open != nil {
		s.intervals = append(s.intervals, *s.open)
		s.open = nil
	}
}

func (s *sim) finish(time.Time) {
	if s.open != nil {
		s.intervals = append(s.intervals, *s.open)
		s.open = nil
	}
}

// report gathers the figures and runs the checker.
func (s *sim) report(sc Scenario, d *gateway.Daemon, msgs []Message, pol *uplink.Policy, wall time.Duration) *Report {
	gs := d.Gateway.Stats()
	us := d.Uplink.Stats()
	cs := d.Cameras.Stats()
	r := &Report{
		Scenario:        sc.Name,
		DistanceKm:      s.veh.odometerM / 1000,
		Simulated:       time.Duration(s.steps) * sc.Step,
		Wall:            wall,
		FramesSent:      s.framesSent,
		FramesDecoded:   gs.Decode.Decoded,
		FramesBad:       gs.Decode.Bad(),
		Fixes:           gs.Fixes,
		BadFixes:        gs.BadFixes,
		TimeInZones:     s.timeInside,
		TimeInBuffers:   s.timeInBuffer,
		Suppressed:      s.suppressed,
		OverSuppressed:  s.overSuppress,
		Intervals:       s.intervals,
		TriggersDropped: cs.TriggersDropped,
		Timeline:        s.tl.cams,
		Uplink:          us,
		Published:       d.Publisher.Stats(),
		ContactFrames:   s.contactFrames,
		Quantum:         pol.NearZones.TimeQuantum,
		start:           sc.Start,
	}
	if d.Queue != nil {
		r.Queue = d.Queue.Stats()
	}
	s.trace.fill(r, sc, pol)
	for i, c := range s.cams {
		r.Cameras = append(r.Cameras, CameraReport{
			Name: c.name, Class: sc.Cameras[i].Class, On: c.onTime, OnInside: c.onInside,
			Triggers: c.triggers, Recordings: c.recordings,
		})
		r.CameraOnInside += c.onInside
	}
	var zoneWords []string
	for i := 0; i < s.zones.Len(); i++ {
		z := s.zones.Zone(i)
		zoneWords = append(zoneWords, z.ID, z.Name)
	}
	secrets := append([]string{sc.VIN}, zoneWords...)
	secrets = append(secrets, sc.Contacts...)
	r.Findings = check(msgs, s.zones, pol, secrets, us.Records+us.Alarms, func(sec int64) bool { return s.nearSec[sec] })
	seen := map[uint64]bool{}
	for _, m := range msgs {
		for _, rec := range m.Records {
			if !seen[rec.Seq] {
				seen[rec.Seq] = true
				r.records = append(r.records, rec)
			}
		}
	}
	sort.Slice(r.records, func(i, j int) bool { return r.records[i].Seq < r.records[j].Seq })
	return r
}

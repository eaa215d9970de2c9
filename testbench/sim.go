package testbench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"quietzone/camera/cameratest"
	"quietzone/can"
	"quietzone/can/profiles"
	"quietzone/gateway"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
	"quietzone/gateway/gatewaytest"
	"quietzone/geofence"
	"quietzone/testbench/scenario"
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
	// Iface, when set, plays the drive on that SocketCAN interface (vcan0)
	// in real time instead of on the virtual bus (vcan.go).
	Iface string
	// Progress, when set, is called now and then with the share of the
	// route driven (0 to 1), from the goroutine that called Run.
	Progress func(done float64)
	// Wire keeps what the embedded broker received from the vehicle in
	// Report.Wire (the observer's transcript); Truth the true track in
	// Report.Truth. Wire needs the embedded broker.
	Wire, Truth bool
	// StateDir, when set, is the vehicle's state directory (its queue and
	// state file), kept after the drive: scenarios run one after another
	// on it are one vehicle's trips. Empty: a fresh one, removed after.
	StateDir string
}

// Run plays a scenario against a gateway wired exactly as the daemon wires
// it, on a virtual bus with fake power lines, and checks the result. When
// ctx is cancelled the drive stops where it is and the report covers the
// drive so far (with an error saying so).
func Run(ctx context.Context, sc scenario.Scenario, o Options) (*Report, error) {
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
	for _, f := range sc.Faults {
		if err := f.Validate(); err != nil {
			return nil, fmt.Errorf("run scenario: %w", err)
		}
	}
	// The zones, their covers and the policy, as the vehicle holds them:
	// from the fleet's signed bundle, its zones and covers sealed.
	if _, err := config.ParsePolicy(sc.PolicyName, sc.Policy); err != nil {
		return nil, fmt.Errorf("run scenario: %w", err) // named as the scenario names it
	}
	if _, err := geofence.Parse(sc.ZonesName, sc.Zones, geofence.Options{DefaultBufferM: sc.DefaultBufferM}); err != nil {
		return nil, fmt.Errorf("run scenario: %w", err)
	}
	bnd, err := OpenScenarioBundle(sc)
	if err != nil {
		return nil, fmt.Errorf("run scenario: %w", err)
	}
	zones, policy := bnd.Zones, bnd.Policy
	if sc.Profile == "" {
		sc.Profile = config.BuiltinPrefix + profiles.Default
	}
	prof, err := config.LoadProfile(sc.Profile)
	if err != nil {
		return nil, fmt.Errorf("run scenario: %w", err)
	}
	if err := dropRoles(prof, sc.DropRoles); err != nil {
		return nil, fmt.Errorf("run scenario: %w", err)
	}
	if len(sc.Cameras) == 0 {
		sc.Cameras = profileCameras(prof)
		if sc.Profile == config.BuiltinPrefix+profiles.Default {
			sc.Cameras = scenario.BuiltIn().Cameras
		}
	}

	brokerURL := o.BrokerURL
	var b *broker
	if brokerURL == "" {
		if b, err = startBroker(); err != nil {
			return nil, fmt.Errorf("run scenario: %w", err)
		}
		defer b.Close()
		brokerURL = b.URL
	} else if o.Wire {
		return nil, errors.New("run scenario: the observer's transcript needs the embedded broker, not --broker")
	}
	// The vehicle reaches the broker through a link the bench can cut.
	lnk, err := startLink(brokerURL)
	if err != nil {
		return nil, fmt.Errorf("run scenario: %w", err)
	}
	defer lnk.Close()
	// On the virtual bus the gateway and the simulator share a manual
	// clock and run in lock step; on vcan0 both run on the wall clock.
	var (
		clock  driveClock
		vclock *gatewaytest.Clock
		port   vehicleBus
		rg     = &rig{log: o.Logger, rand: rand.NewChaCha8(seedBytes(sc.Seed))}
	)
	if o.Iface == "" {
		vclock = gatewaytest.NewClock(sc.Start)
		clock = vclock
		bus := can.NewBus(vclock.Now)
		port = bus.Open() // the vehicle's ECUs and cameras
		rg.openBus = func(string, []can.Filter) (daemon.Bus, error) { return bus.Open(), nil }
	} else {
		clock = &wallClock{}
		sc.Start = time.Now()
		vp, err := dialVehicle(o.Iface)
		if err != nil {
			return nil, fmt.Errorf("run scenario: %w", err)
		}
		port = vp
		rg.openBus = openSocketCAN(o.Iface)
	}
	defer port.Close()
	id, err := demoIdentity(sc.VIN) // enrolled: its keys seal the queue and the state file's anchor
	if err != nil {
		return nil, fmt.Errorf("run scenario: %w", err)
	}
	var tap *wireTap
	if o.Wire {
		tap = newWireTap(clock.Now, sc.Name, id.Pseudonym)
		if err := b.srv.AddHook(tap, nil); err != nil {
			return nil, fmt.Errorf("run scenario: %w", err)
		}
	}
	coll, err := collect(brokerURL, collectOptions{Now: clock.Now, Pseudonym: id.Pseudonym})
	if err != nil {
		return nil, fmt.Errorf("run scenario: %w", err)
	}
	defer coll.Close()

	// The durable queue, as on a vehicle, in a directory of its own.
	stateDir := o.StateDir
	if stateDir == "" {
		if stateDir, err = os.MkdirTemp("", "quietzone-bench-"); err != nil {
			return nil, fmt.Errorf("run scenario: %w", err)
		}
		defer os.RemoveAll(stateDir)
	}
	cfg := &config.Config{
		Vehicle:  config.VehicleConfig{Profile: sc.Profile, Interfaces: []string{"vbus0"}},
		Cameras:  sc.Cameras,
		Decision: gateway.DefaultDecision(),
		// The vehicle reaches the bench's broker through a link on
		// 127.0.0.1: plain TCP on the loopback, asked for explicitly.
		Uplink: config.UplinkConfig{Broker: lnk.URL, InsecurePlaintext: true, StateDir: stateDir},
	}
	rg.setup = &config.Setup{Config: cfg, Profile: prof, Zones: zones, Policy: policy, VIN: sc.VIN, Pseudonym: id.Pseudonym, Keys: id.Keys()}
	rg.clock, rg.linkUp = vclock, lnk.up
	if b != nil && vclock != nil {
		clientID := "quietzone-" + id.Pseudonym
		rg.connected = func() bool {
			cl, ok := b.srv.Clients.Get(clientID)
			return ok && !cl.Closed()
		}
	}
	if o.Iface != "" {
		cfg.Vehicle.Interfaces = []string{o.Iface}
	}
	if err := rg.start(ctx); err != nil {
		return nil, fmt.Errorf("run scenario: %w", err)
	}
	defer rg.halt()

	s, err := newSim(sc, prof, zones, port, rg.pins)
	if err != nil {
		return nil, fmt.Errorf("run scenario: %w", err)
	}
	s.rec = o.Record
	s.rig = rg
	routeM := scenario.RouteLength(sc.Route)

	step := func(d time.Duration) error {
		if err := s.applyFaults(ctx, lnk); err != nil {
			return err
		}
		clock.Advance(d)
		now := clock.Now()
		s.veh.step(d.Seconds())
		if o.Truth && (len(s.track) == 0 || now.Unix() != int64(s.track[len(s.track)-1][0])) {
			s.track = append(s.track, [4]float64{float64(now.Unix()), s.veh.Lat, s.veh.Lon, s.veh.Speed * 3.6})
		}
		if err := s.sendFrames(now); err != nil {
			return err
		}
		if err := rg.settle(); err != nil {
			return err
		}
		s.receiveCommands()
		s.observe(now, d)
		if o.Progress != nil && s.steps%50 == 0 {
			o.Progress(min(1, s.veh.OdometerM/routeM))
		}
		return nil
	}
	var stopped error
	for parked := time.Duration(0); parked < sc.ParkedAfter; {
		if ctx.Err() != nil {
			stopped = ctx.Err()
			break
		}
		if err := step(sc.Step); err != nil {
			return nil, fmt.Errorf("run scenario: %w", err)
		}
		if s.veh.Done {
			parked += sc.Step
		}
	}
	// With the ignition off, the unit stays up for as long as the gateway
	// holds its power (the policy's end_linger_s, drawn each trip), the
	// vehicle parked: a second a step (nothing moves), on whole seconds.
	for held := time.Duration(0); sc.IgnitionOff && stopped == nil && rg.running() && rg.d.Gateway().PowerHold(); held += time.Second {
		if ctx.Err() != nil || held > uplink.MaxEndLinger+gateway.StartHold {
			stopped = ctx.Err()
			break
		}
		// To whole seconds, where the cadence's slot ticks are: the clock
		// must not step over one, or its publish reaches the broker late.
		d := time.Second - time.Duration(clock.Now().UnixNano()%int64(time.Second))
		if err := step(d); err != nil {
			return nil, fmt.Errorf("run scenario: %w", err)
		}
	}
	s.finish(clock.Now())
	// A drive that ends while the link or the gateway is down ends with
	// both back, so that what the vehicle queued can still arrive.
	lnk.setDown(false)
	if !rg.running() {
		if err := rg.start(context.WithoutCancel(ctx)); err != nil {
			return nil, fmt.Errorf("run scenario: %w", err)
		}
		s.refreshPins()
	}
	rg.halt()
	// What a gateway could not deliver in its drain time (a publisher
	// still backing off after an outage) stays in the durable queue; the
	// vehicle's next start sends it. Start that gateway, parked, until
	// the queue is empty: only what is then missing was lost.
	if rg.lastDisk.Batches > 0 {
		if err := rg.start(context.WithoutCancel(ctx)); err != nil {
			return nil, fmt.Errorf("run scenario: %w", err)
		}
		// The publisher backs off on the drive's clock: time passes while
		// the vehicle stands.
		for deadline := time.Now().Add(o.DeliveryTimeout); rg.d.Queue().Stats().Batches > 0 && time.Now().Before(deadline); {
			if vclock != nil {
				vclock.Advance(sc.Step)
			}
			time.Sleep(time.Millisecond)
		}
		rg.halt()
	}
	if o.Progress != nil {
		o.Progress(1)
	}

	deadline := time.Now().Add(o.DeliveryTimeout)
	for uint64(coll.Telemetry()) < rg.pub.Published && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	rep := s.report(sc, rg, coll.Messages(), policy, time.Since(wallStart))
	rep.Covers, rep.CoversNote = zones.Covers().Len(), bnd.CoversNote
	if tap != nil {
		rep.Wire = tap.Messages()
	}
	if o.Truth && len(s.track) > 0 {
		first, last := s.track[0], s.track[len(s.track)-1]
		rep.Truth = &Truth{
			Trip: sc.Name, Vehicle: id.Pseudonym, Start: first[0], End: last[0],
			From: [2]float64{first[1], first[2]}, To: [2]float64{last[1], last[2]},
			Zones: truthZones(sc.Zones, s.track), Track: s.track,
		}
		rep.Truth.Covers = truthCovers(bnd.Covers, rep.Truth.Zones)
	}
	if err := errors.Join(rg.runErrs...); err != nil {
		return rep, fmt.Errorf("run scenario: gateway: %w", err)
	}
	if stopped != nil {
		rep.Interrupted = true
		return rep, fmt.Errorf("run scenario: stopped after %v simulated: %w", rep.Simulated.Round(time.Second), stopped)
	}
	return rep, nil
}

// profileCameras wires every camera the profile reports a status for, as
// an exterior camera with a power line: what a scenario gets that names
// no cameras.
func profileCameras(p *config.Profile) []config.CameraConfig {
	var out []config.CameraConfig
	seen := map[string]bool{}
	for _, m := range p.Mappings {
		name, ok := strings.CutPrefix(m.Role, "camera.")
		if !ok {
			continue
		}
		i := strings.LastIndexByte(name, '.')
		if i <= 0 || seen[name[:i]] {
			continue
		}
		name = name[:i]
		seen[name] = true
		cls := "exterior"
		if name == "cabin" {
			cls = "cabin"
		}
		out = append(out, config.CameraConfig{Name: name, Class: cls, PowerLine: "CAM_" + strings.ToUpper(name) + "_PWR"})
	}
	return out
}

// withDefaults fills the zero motion pattern with the demo's.
func withDefaults(t scenario.Triggers) scenario.Triggers {
	if t.Burst == ([2]time.Duration{}) {
		t.Burst = [2]time.Duration{2 * time.Second, 6 * time.Second}
	}
	if t.Gap == ([2]time.Duration{}) {
		t.Gap = [2]time.Duration{10 * time.Second, 40 * time.Second}
	}
	return t
}

// seedBytes makes a ChaCha8 seed of a scenario's seed.
func seedBytes(seed uint64) (b [32]byte) {
	binary.LittleEndian.PutUint64(b[:], seed)
	copy(b[8:], "quietzone privacy margins")
	return b
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
	convs []can.Conversion // from the role's unit to the DBC signal's
	gnss  bool             // carries position.* roles: the GNSS receiver's
}

// simCamera models a camera that obeys its power line and command. An
// unlisted one is in the profile (it has a command) but not among the
// scenario's cameras: the gateway does not drive it, and it is on while
// its command allows it (it has no motion sensor of its own here).
type simCamera struct {
	name     string
	class    string
	line     string // its power line; "" for none
	unlisted bool
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

type sim struct {
	sc    scenario.Scenario
	prof  *config.Profile
	zones *geofence.Index
	port  vehicleBus
	veh   *vehicle
	rec   *can.LogWriter
	rng   *rand.Rand
	msgs  []simMsg
	vals  map[string]value
	cams  []*simCamera

	noiseN, noiseE float64 // GNSS error, metres
	creep          float64 // how far a creeping spoof has got, 0 to 1
	fixAt          geofence.Fix
	drag           drag // a dragged track's offset (fault.go)

	steps         int
	framesSent    uint64
	timeInside    time.Duration
	timeInBuffer  time.Duration
	suppressed    time.Duration
	overSuppress  time.Duration
	intervals     []Interval
	open          *Interval
	contactFrames int
	// nearSec holds the seconds (Unix time) in which the vehicle was
	// within a buffer at some step: what the timing check needs; farSec
	// those it spent outside every buffer at some step. Each holds a bit
	// per clock epoch (a clock stepping back starts a new one and visits
	// seconds again).
	nearSec map[int64]uint64
	farSec  map[int64]uint64
	epoch   uint
	// covers are the covers' discs (latitude, longitude, radius);
	// inCover and outCover the seconds spent within one and outside
	// every one at some step.
	covers            [][3]float64
	inCover, outCover map[int64]uint64

	rig       *rig
	faults    *faultState
	trig      scenario.Triggers
	nextGPS   time.Duration // drive time the next GNSS messages are due
	unknownID uint32        // an identifier the DBC does not define
	malformed int           // frames sent malformed or unknown

	track [][4]float64 // the true track once a second, for Options.Truth
	trace trace        // the exact track and camera states, for the map
	tl    timeline     // command and power changes, timeline.go
}

func newSim(sc scenario.Scenario, prof *config.Profile, zones *geofence.Index, port vehicleBus, pins map[string]*gpiotest.Pin) (*sim, error) {
	s := &sim{
		sc: sc, prof: prof, zones: zones, port: port,
		veh:  newVehicle(sc.Route),
		rng:  rand.New(rand.NewPCG(sc.Seed, sc.Seed^0x9e3779b97f4a7c15)),
		vals: map[string]value{},

		nearSec: map[int64]uint64{},
		farSec:  map[int64]uint64{},
		inCover: map[int64]uint64{}, outCover: map[int64]uint64{},
		faults: newFaultState(sc.Faults),
		trig:   withDefaults(sc.Triggers),
	}
	if c := zones.Covers(); c != nil {
		for i := range c.Len() {
			lat, lon, r := c.Zone(i).Cap()
			s.covers = append(s.covers, [3]float64{lat, lon, r})
		}
	}
	for id := uint32(0x7ff); id > 0; id-- {
		if prof.DB.MessageByID(id, false) == nil {
			s.unknownID = id
			break
		}
	}
	byMsg := map[*can.Message]*simMsg{}
	for _, m := range prof.Mappings {
		msg := prof.DB.Message(m.Message)
		sm := byMsg[msg]
		if sm == nil {
			sm = &simMsg{msg: msg}
			byMsg[msg] = sm
		}
		sig := msg.Signal(m.Signal)
		conv := can.Identity
		if m.Unit != "" {
			c, err := can.Convert(m.Unit, sig.Unit)
			if err != nil {
				return nil, fmt.Errorf("role %s: %w", m.Role, err)
			}
			conv = c
		}
		sm.roles = append(sm.roles, m.Role)
		sm.sigs = append(sm.sigs, sig)
		sm.convs = append(sm.convs, conv)
		sm.gnss = sm.gnss || strings.HasPrefix(m.Role, "position.")
	}
	for _, sm := range byMsg {
		s.msgs = append(s.msgs, *sm)
	}
	sort.Slice(s.msgs, func(i, j int) bool { return s.msgs[i].msg.ID < s.msgs[j].msg.ID })
	var names []string
	for _, cc := range sc.Cameras {
		c := &simCamera{name: cc.Name, class: cc.Class, line: cc.PowerLine, pin: pins[cc.PowerLine], cmdSig: prof.Commands[cc.Name], allowed: true}
		g := s.trig.Gap
		c.nextAt = sc.Start.Add(s.draw(g[0]/2, (g[1]-g[0])*2/3)) // the demo's 5-25 s
		if s.trig.Continuous {
			c.nextAt = sc.Start
		}
		s.cams = append(s.cams, c)
		names = append(names, cc.Name)
	}
	for _, name := range s.prof.Unlisted(sc.Cameras) {
		s.cams = append(s.cams, &simCamera{name: name, class: "unlisted", unlisted: true, cmdSig: prof.Commands[name], allowed: true})
		names = append(names, name)
	}
	s.tl = newTimeline(sc.Start, prof.Codes, names)
	return s, nil
}

// sendFrames writes this step's frames: every message whose mapped roles
// all have a value, the GNSS receiver's at its rate, as the faults in
// force let them through.
func (s *sim) sendFrames(now time.Time) error {
	clear(s.vals)
	v := s.veh
	elapsed := s.elapsed()
	set := func(role string, x float64) { s.vals[role] = value{phys: x} }
	set("vehicle.speed", v.Speed*3.6)
	set("vehicle.ignition", b2f(!(s.sc.IgnitionOff && v.Done)))
	set("vehicle.odometer", v.OdometerM/1000)
	set("privacy.switch", 0)
	// GNSS error drifts slowly, as it does on a real receiver: a
	// first-order Gauss-Markov process with a 5 s time constant.
	a := math.Exp(-s.sc.Step.Seconds() / 5)
	w := math.Sqrt(1-a*a) * s.sc.GNSSNoiseM
	s.noiseN = a*s.noiseN + w*s.rng.NormFloat64()
	s.noiseE = a*s.noiseE + w*s.rng.NormFloat64()
	n, e := s.noiseN, s.noiseE
	if j, ok := s.faults.active(scenario.GPSJump, elapsed); ok {
		n, e = n+j.NorthM, e+j.EastM
	}
	accuracy := math.Max(s.sc.GNSSNoiseM, 0.5)
	if c, ok := s.faults.active(scenario.GPSCreep, elapsed); ok {
		n, e = n+s.creep*c.NorthM, e+s.creep*c.EastM
		accuracy = c.SigmaM
	} else {
		s.creep = 0
	}
	d, dragging := s.faults.active(scenario.GPSDrag, elapsed)
	s.drag.step(d, dragging, elapsed, v.Speed, v.Heading, s.sc.Step.Seconds())
	n, e = n+s.drag.n, e+s.drag.e
	s.setTurning(set)
	lat, lon := scenario.Offset(v.Lat, v.Lon, n, e)
	set("position.latitude", lat)
	set("position.longitude", lon)
	set("position.fix", 3)
	set("position.accuracy", accuracy)
	set("position.heading", math.Mod(v.Heading, 360))
	set("position.speed", v.Speed*3.6)
	s.drag.course(set, v.Speed)
	set("position.hdop", 1)
	for _, c := range s.cams {
		if !c.unlisted {
			s.stepTrigger(c, now)
		}
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

	gpsDue := s.sc.GPSRateHz <= 0 || elapsed >= s.nextGPS
	if gpsDue && s.sc.GPSRateHz > 0 {
		s.nextGPS += time.Duration(float64(time.Second) / s.sc.GPSRateHz)
	}
	_, dropout := s.faults.active(scenario.GPSDropout, elapsed)
	stale, isStale := s.faults.active(scenario.StaleFix, elapsed)
	_, busOff := s.faults.active(scenario.BusOff, elapsed)
	silent := busOff || !s.rig.running()

	if gpsDue && !dropout {
		s.faults.consume(scenario.GPSJump)                            // a single spoofed fix goes out now
		if c, ok := s.faults.active(scenario.GPSCreep, elapsed); ok { // the next fix creeps on
			s.creep = math.Min(1, s.creep+c.StepM/math.Hypot(c.NorthM, c.EastM))
		}
	}
	for _, sm := range s.msgs {
		if sm.gnss && (!gpsDue || dropout) {
			continue
		}
		f := sm.msg.NewFrame()
		f.Time = now
		if sm.gnss && isStale {
			f.Time = now.Add(-stale.Age)
		}
		complete := true
		for i, role := range sm.roles {
			x, ok := s.vals[role]
			if !ok {
				complete = false
				break
			}
			if x.isRaw {
				sm.sigs[i].SetRaw(&f.Data, x.raw)
			} else if err := sm.sigs[i].Encode(&f.Data, sm.convs[i].Apply(x.phys)); err != nil {
				// A status signal too narrow for "off" (Tesla's one
				// bit) reports an unpowered camera as idle.
				if !strings.HasSuffix(role, ".status") || sm.sigs[i].Encode(&f.Data, float64(s.prof.Codes.Idle)) != nil {
					return fmt.Errorf("encode %s: %w", role, err)
				}
			}
		}
		if !complete {
			continue
		}
		if err := s.write(&f, silent); err != nil {
			return err
		}
	}
	// Frames of no use to anyone: too short for their message, or of an
	// identifier the DBC does not know.
	if _, ok := s.faults.active(scenario.MalformedFrames, elapsed); ok && len(s.msgs) > 0 {
		sm := s.msgs[s.steps%len(s.msgs)]
		f := sm.msg.NewFrame()
		f.Time = now
		f.Len = uint8(s.rng.IntN(int(f.Len)))
		for i := range f.Len {
			f.Data[i] = byte(s.rng.Uint32())
		}
		s.malformed++
		if err := s.write(&f, silent); err != nil {
			return err
		}
	}
	if _, ok := s.faults.active(scenario.UnknownFrames, elapsed); ok && s.unknownID != 0 {
		f := can.Frame{ID: s.unknownID, Len: 8, Time: now}
		for i := range f.Len {
			f.Data[i] = byte(s.rng.Uint32())
		}
		s.malformed++
		if err := s.write(&f, silent); err != nil {
			return err
		}
	}
	return nil
}

// write puts a frame on the bus, unless nothing crosses it (bus off, or
// no gateway listening); the recording has what the ECUs sent.
func (s *sim) write(f *can.Frame, silent bool) error {
	if s.rec != nil {
		if err := s.rec.WriteFrame(f); err != nil {
			return err
		}
	}
	if silent {
		return nil
	}
	if err := s.rig.write(s.port, f); err != nil {
		return err
	}
	s.framesSent++
	return nil
}

// elapsed is the drive's time so far, whatever the clock says.
func (s *sim) elapsed() time.Duration { return time.Duration(s.steps) * s.sc.Step }

// applyFaults starts the faults due now and ends those that are over.
func (s *sim) applyFaults(ctx context.Context, lnk *link) error {
	el := s.elapsed()
	for _, f := range s.faults.begin(el, s.veh.OdometerM/1000, s.veh.Lat, s.veh.Lon) {
		if f.Kind == scenario.ClockStep && s.rig.clock != nil { // the wall clock of a vcan0 drive cannot be stepped
			s.rig.clock.Step(f.By) // the wall clock alone: no time passes
			if f.By < 0 {
				s.epoch++
			}
		}
	}
	_, outage := s.faults.active(scenario.BrokerOutage, el)
	lnk.setDown(outage)
	_, down := s.faults.active(scenario.GatewayRestart, el)
	switch {
	case down && s.rig.running():
		s.rig.halt()
		s.refreshPins()
	case !down && !s.rig.running():
		if err := s.rig.start(ctx); err != nil {
			return fmt.Errorf("restart gateway: %w", err)
		}
		s.refreshPins()
	}
	return nil
}

// refreshPins points the cameras at the power lines of the gateway now
// running; with none running, the lines keep the level it left them at.
func (s *sim) refreshPins() {
	if !s.rig.running() {
		return
	}
	for _, c := range s.cams {
		c.pin = s.rig.pins[c.line]
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// draw returns lo plus a random part of span, in whole seconds when both
// are (so that the demo's drive stays the same), else in milliseconds.
func (s *sim) draw(lo, span time.Duration) time.Duration {
	unit := time.Millisecond
	if lo%time.Second == 0 && span%time.Second == 0 {
		unit = time.Second
	}
	return s.drawIn(unit, lo, span)
}

func (s *sim) drawIn(unit, lo, span time.Duration) time.Duration {
	if span < unit {
		return lo
	}
	return lo + unit*time.Duration(s.rng.IntN(int(span/unit)))
}

// stepTrigger runs a camera's motion sensor: bursts of Burst after gaps
// of Gap (the demo's: 2-6 s every 10-40 s).
func (s *sim) stepTrigger(c *simCamera, now time.Time) {
	if s.trig.Off {
		return
	}
	if c.motion && !now.Before(c.motionTo) && !s.trig.Continuous {
		c.motion = false
	}
	if !c.motion && !now.Before(c.nextAt) {
		c.motion = true
		c.triggers++
		b, g := s.trig.Burst, s.trig.Gap
		c.motionTo = now.Add(s.drawIn(time.Millisecond, b[0], b[1]-b[0]))
		c.nextAt = c.motionTo.Add(s.draw(g[0], g[1]-g[0]))
	}
	if s.trig.Continuous {
		c.motionTo = now.Add(s.sc.Step)
	}
	if c.motion && c.powered && c.allowed {
		if !now.Before(c.recTo) {
			c.recordings++
		}
		c.recTo = c.motionTo.Add(5 * time.Second)
	}
}

// receiveCommands reads the command frames the gateway sent; on a bus
// that is off they are lost.
func (s *sim) receiveCommands() {
	var f can.Frame
	_, busOff := s.faults.active(scenario.BusOff, s.elapsed())
	for s.port.TryReadFrame(&f) {
		if busOff {
			continue
		}
		for i, c := range s.cams {
			if c.cmdSig == nil || f.ID != c.cmdSig.Message.ID || f.IsExtended() != c.cmdSig.Message.Extended {
				continue
			}
			c.allowed = c.cmdSig.Raw(&f.Data) == s.prof.Codes.Allow
			s.tl.command(i, f.Time, c.cmdSig.Raw(&f.Data), s.veh.OdometerM/1000)
		}
	}
}

// observe reads the power lines and accounts one step against the truth.
func (s *sim) observe(now time.Time, dt time.Duration) {
	truth := s.zones.Query(s.veh.Lat, s.veh.Lon, 0)
	inBuffer := truth.InBuffer()
	// Inside a zone in force: at the drive's true time, which no clock
	// step moves, and within the zone's window exactly (the gateway widens
	// windows by its skew: suppressing a little longer is its choice).
	s.fixAt = geofence.Fix{Lat: s.veh.Lat, Lon: s.veh.Lon, At: s.sc.Start.Add(s.elapsed())}
	inside := s.zones.Assess(&s.fixAt, nil).Inside
	if inside {
		s.timeInside += dt
	}
	if inBuffer {
		s.timeInBuffer += dt
		s.nearSec[now.Add(-dt).Unix()] |= s.epochBit() // the step from now-dt to now
		s.nearSec[now.Unix()] |= s.epochBit()
	} else {
		s.farSec[now.Unix()] |= s.epochBit()
	}
	inCover := false
	for _, c := range s.covers {
		if geofence.DistanceM(c[0], c[1], s.veh.Lat, s.veh.Lon) <= c[2] {
			inCover = true
			break
		}
	}
	if inCover {
		s.inCover[now.Add(-dt).Unix()] |= s.epochBit()
		s.inCover[now.Unix()] |= s.epochBit()
	} else {
		s.outCover[now.Unix()] |= s.epochBit()
	}
	anyExteriorOn := false
	for i, c := range s.cams {
		c.powered = c.pin == nil || cameratest.Level(c.pin) == gpio.High
		s.tl.powerLine(i, now, c.powered, s.veh.OdometerM/1000)
		if !c.powered {
			c.recTo = time.Time{} // power cut: the recording ends
		}
		on := c.powered || c.recording(now)
		if c.unlisted {
			on = c.allowed || c.recording(now) // the car powers it; only its command stops it
		}
		if on {
			c.onTime += dt
			if inside {
				c.onInside += dt
			}
		}
		if on && c.class == "exterior" {
			anyExteriorOn = true
		}
	}
	s.trace.observe(now, s.sc.Start, dt, s.veh, truth, !anyExteriorOn, s.cams)
	km := s.veh.OdometerM / 1000
	if !anyExteriorOn {
		s.suppressed += dt
		if !inBuffer {
			s.overSuppress += dt
		}
		if s.open == nil {
			s.open = &Interval{From: now.Add(-dt), FromKm: km}
		}
		s.open.To, s.open.ToKm = now, km
		if inside {
			s.open.Inside += dt
		}
		if inBuffer {
			s.open.InBuffer += dt
		} else {
			s.open.OutsideBuffers += dt
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
func (s *sim) report(sc scenario.Scenario, rg *rig, msgs []message, pol *uplink.Policy, wall time.Duration) *Report {
	gs, us := rg.gw, rg.up
	r := &Report{
		Scenario:        sc.Name,
		DistanceKm:      s.veh.OdometerM / 1000,
		Simulated:       time.Duration(s.steps) * sc.Step,
		Wall:            wall,
		FramesSent:      s.framesSent,
		FramesDecoded:   gs.Decode.Decoded,
		FramesBad:       gs.Decode.Bad(),
		FramesUnmapped:  gs.Decode.Unmapped,
		FramesInjected:  s.malformed,
		Fixes:           gs.Fixes,
		BadFixes:        gs.BadFixes,
		GNSSDistrusts:   gs.GNSSDistrusts,
		CourseFixes:     gs.CourseFixes,
		DragMaxM:        s.drag.max,
		TimeInZones:     s.timeInside,
		TimeInBuffers:   s.timeInBuffer,
		Suppressed:      s.suppressed,
		OverSuppressed:  s.overSuppress,
		Intervals:       s.intervals,
		TriggersDropped: rg.dropped,
		Timeline:        s.tl.cams,
		Uplink:          us,
		Published:       rg.pub,
		Queue:           rg.lastDisk,
		ContactFrames:   s.contactFrames,
		Quantum:         pol.NearZones.TimeQuantum,
		GatewayStarts:   rg.starts,
		Faults:          s.faults.marks,
		Start:           sc.Start,
	}
	s.trace.fill(r, sc, pol)
	for _, c := range s.cams {
		r.Cameras = append(r.Cameras, CameraReport{
			Name: c.name, Class: c.class, On: c.onTime, OnInside: c.onInside,
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
	r.Findings = check(msgs, s.zones, pol, s.prof, secrets, rg.firstSeq, us.Records+us.Alarms, s.nearOnly)
	seen := map[uint64]bool{}
	var delays []time.Duration
	for _, m := range msgs {
		for _, rec := range m.Records {
			if !seen[rec.Seq] {
				seen[rec.Seq] = true
				r.Records = append(r.Records, rec)
				delays = append(delays, m.Arrived.Sub(time.Unix(rec.Time, 0)))
			}
		}
	}
	sort.Slice(r.Records, func(i, j int) bool { return r.Records[i].Seq < r.Records[j].Seq })
	r.Utility = utility(s.farSec, s.nearSec, r.Records, delays)
	if len(s.covers) > 0 {
		u := utility(s.outCover, s.inCover, r.Records, nil)
		r.Utility.OutsideCoversSeconds, r.Utility.DeliveredOutsideCovers = u.AllowedSeconds, u.DeliveredSeconds
	}
	return r
}

func (s *sim) epochBit() uint64 { return 1 << min(s.epoch, 63) }

// nearOnly reports whether the vehicle was within a buffer in a second,
// for the timing check. A second the clock came back to after stepping
// back, seen far from every buffer once and near one another time, is
// ambiguous: a record of it may be of the far visit, and is not held
// against the gateway.
func (s *sim) nearOnly(sec int64) bool {
	near, far := s.nearSec[sec], s.farSec[sec]
	return near != 0 && (far == 0 || bits.OnesCount64(near|far) == 1)
}

// utility measures what the privacy costs: of the seconds the vehicle
// spent wholly outside every buffer, the share a received record stands
// for; and how long records took from their time to the collector.
func utility(far, near map[int64]uint64, recs []uplink.Record, delays []time.Duration) Utility {
	var u Utility
	got := map[int64]bool{}
	for _, r := range recs {
		got[r.Time] = true
	}
	for sec := range far {
		if near[sec] != 0 {
			continue
		}
		u.AllowedSeconds++
		if got[sec] {
			u.DeliveredSeconds++
		}
	}
	if len(delays) > 0 {
		slices.Sort(delays)
		var sum time.Duration
		for _, d := range delays {
			sum += d
		}
		u.DelayMean = sum / time.Duration(len(delays))
		u.DelayP95 = delays[(len(delays)*95)/100]
		u.DelayMax = delays[len(delays)-1]
	}
	return u
}

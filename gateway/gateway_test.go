package gateway_test

import (
	"context"
	"errors"
	"math"
	"quietzone/can/cantest"
	"quietzone/gateway/config"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"quietzone/camera"
	"quietzone/camera/cameratest"
	"quietzone/can"
	"quietzone/gateway"
	"quietzone/gateway/gatewaytest"
	"quietzone/geofence"
	"quietzone/uplink"
)

// A square zone of about 1.1 km around (52.0, 10.0) with a 200 m buffer.
const testZones = `{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"id":"z1","name":"Test Base","buffer_m":200},
  "geometry":{"type":"Polygon","coordinates":[[[9.992,51.995],[10.008,51.995],[10.008,52.005],[9.992,52.005],[9.992,51.995]]]}}]}`

// Points at known distances south of the zone's southern edge (51.995).
func south(m float64) (lat, lon float64) { return 51.995 - m/111195, 10.0 }

var t0 = gatewaytest.T0

// rig is a gateway on a virtual bus with fake camera power lines, a manual
// clock and a telemetry recorder.
type rig struct {
	t     *testing.T
	clock *gatewaytest.Clock
	ecu   *can.Port
	gw    *gateway.Gateway
	cams  *camera.Controller
	pins  map[string]*gpiotest.Pin
	prof  *config.Profile
	tel   *telemetry
	sent  uint64
	vals  map[string]float64 // what the vehicle's ECUs currently send
	done  chan error
	stop  context.CancelFunc
	// busLog and seen keep the frames read from the bus for commands.
	busLog []can.Frame
	seen   map[string]int
}

type telemetry struct {
	mu    sync.Mutex
	snaps []uplink.Snapshot
}

func (r *telemetry) Offer(s uplink.Snapshot) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s.Samples = append([]uplink.Sample(nil), s.Samples...)
	r.snaps = append(r.snaps, s)
	return nil
}

func (r *telemetry) Flush(time.Time) error { return nil }

func (r *telemetry) SetPolicy(*uplink.Policy) {}

func (r *telemetry) last() uplink.Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snaps[len(r.snaps)-1]
}

func newRig(t *testing.T, zones *geofence.Index, mod func(*gateway.Decision), opts ...func(*gateway.Options)) *rig {
	t.Helper()
	return newRigMaps(t, zones, mod, nil, opts...)
}

// newRigMaps is newRig with a changed signal map (units, max ages).
func newRigMaps(t *testing.T, zones *geofence.Index, mod func(*gateway.Decision), edit func(maps []can.Mapping), opts ...func(*gateway.Options)) *rig {
	t.Helper()
	return newRigCams(t, zones, mod, rigCams{maps: edit}, opts...)
}

// rigCams changes a rig's signal map and its cameras' wiring and options.
type rigCams struct {
	maps  func([]can.Mapping)
	specs func([]camera.Spec)
	opts  camera.Options
	// start is the clock's time when the gateway starts; default t0.
	start time.Time
	// clock, when set, is the clock to run on instead of a new one at
	// start: a restart in the same boot keeps the monotonic time.
	clock *gatewaytest.Clock
}

// newRigCams is newRig with changed cameras.
func newRigCams(t *testing.T, zones *geofence.Index, mod func(*gateway.Decision), rc rigCams, opts ...func(*gateway.Options)) *rig {
	t.Helper()
	prof, err := config.LoadProfile("builtin:quietzone")
	if err != nil {
		t.Fatal(err)
	}
	if rc.maps != nil {
		rc.maps(prof.Mappings)
	}
	dec, err := prof.NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	if rc.start.IsZero() {
		rc.start = t0
	}
	if rc.clock == nil {
		rc.clock = gatewaytest.NewClock(rc.start)
	}
	r := &rig{t: t, clock: rc.clock, prof: prof, tel: &telemetry{}, pins: map[string]*gpiotest.Pin{},
		vals: map[string]float64{"vehicle.ignition": 1}}
	bus := can.NewBus(r.clock.Now)
	gwPort := bus.Open()
	r.ecu = bus.Open()
	t.Cleanup(func() { r.ecu.Close() })
	var specs []camera.Spec
	for _, name := range []string{"front", "rear", "cabin"} {
		pin := cameratest.NewPin(name)
		pin.L = gpio.High // as if powered before the gateway started
		r.pins[name] = pin
		class := camera.Exterior
		if name == "cabin" {
			class = camera.Cabin
		}
		specs = append(specs, camera.Spec{Name: name, Class: class, Power: pin, Command: prof.Commands[name]})
	}
	if rc.specs != nil {
		rc.specs(specs)
	}
	r.cams, err = camera.NewController(specs, []camera.FrameWriter{gwPort}, prof.CameraOptions(specs, rc.opts))
	if err != nil {
		t.Fatal(err)
	}
	d := gateway.DefaultDecision()
	if mod != nil {
		mod(&d)
	}
	o := gateway.Options{
		Decoder: dec, Sources: []can.Source{gwPort}, Zones: zones, Cameras: r.cams,
		Telemetry: r.tel, Clock: r.clock, Decision: d, Turning: prof.Turning,
	}
	for _, f := range opts {
		f(&o)
	}
	r.gw, err = gateway.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	r.done = make(chan error, 1)
	go func() { r.done <- r.gw.Run(ctx) }()
	t.Cleanup(func() { r.shutdown() })
	r.waitFor(func() bool { return r.clock.Tickers() > 0 })
	return r
}

func (r *rig) shutdown() error {
	if r.stop == nil {
		return nil
	}
	r.stop()
	r.stop = nil
	return <-r.done
}

func (r *rig) waitFor(cond func() bool) {
	r.t.Helper()
	cantest.WaitFor(r.t, 10*time.Second, "the gateway to get there", cond)
}

// send updates the roles' values and sends every message carrying one of
// them, complete with the current values of its other signals, then waits
// until the gateway has handled every frame.
func (r *rig) send(vals map[string]float64) {
	r.t.Helper()
	var order []*can.Message
	for role, v := range vals {
		sig := r.prof.Signal(role)
		if sig == nil {
			r.t.Fatalf("no signal for role %s", role)
		}
		r.vals[role] = v
		if !slices.Contains(order, sig.Message) {
			order = append(order, sig.Message)
		}
	}
	frames := map[*can.Message]*can.Frame{}
	for _, m := range order {
		f := m.NewFrame()
		f.Time = r.clock.Now()
		for role, v := range r.vals {
			if sig := r.prof.Signal(role); sig.Message == m {
				if err := sig.Encode(&f.Data, v); err != nil {
					r.t.Fatal(err)
				}
			}
		}
		frames[m] = &f
	}
	for _, m := range order {
		if err := r.ecu.WriteFrame(frames[m]); err != nil {
			r.t.Fatal(err)
		}
		r.sent++
	}
	r.waitFor(func() bool { return r.gw.Processed() >= r.sent })
}

// fix sends a good 3D fix at (lat, lon) with speed in km/h.
func (r *rig) fix(lat, lon, kmh float64) {
	r.t.Helper()
	r.send(map[string]float64{"position.fix": 3, "position.accuracy": 2, "position.heading": 0, "position.speed": kmh})
	r.send(map[string]float64{"position.latitude": lat, "position.longitude": lon})
	r.send(map[string]float64{"vehicle.speed": kmh})
}

// step advances time by d (delivering ticks) and then sends a fix.
func (r *rig) step(d time.Duration, lat, lon, kmh float64) {
	r.t.Helper()
	r.clock.Advance(d)
	r.fix(lat, lon, kmh)
}

// powered reports whether camera name's power line is on.
func (r *rig) powered(name string) bool { return cameratest.Level(r.pins[name]) == gpio.High }

// lastCommand decodes the newest CAM_Command frame on the bus for a camera.
func (r *rig) lastCommand(name string) (int64, bool) {
	var f can.Frame
	var got bool
	var raw int64
	sig := r.prof.Commands[name]
	for r.ecu.TryReadFrame(&f) {
		if f.ID == sig.Message.ID {
			got, raw = true, sig.Raw(&f.Data)
		}
	}
	return raw, got
}

// advance moves the clock by d and waits until the loop has handled every
// tick that delivered, so that what the ticks produced (stats, snapshots)
// can be read.
func (r *rig) advance(d time.Duration) {
	r.t.Helper()
	n := r.gw.Ticks()
	want := n + uint64(r.clock.Advance(d))
	r.waitFor(func() bool { return r.gw.Ticks() >= want })
}

// stats ticks once, which publishes the counters, and returns them.
func (r *rig) stats() gateway.Stats {
	r.advance(100 * time.Millisecond)
	return r.gw.Stats()
}

func (r *rig) state() gateway.State { return r.stats().State }

func mustZones(t *testing.T) *geofence.Index {
	t.Helper()
	ix, err := geofence.Parse("test.geojson", []byte(testZones), geofence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestStartsSuppressed(t *testing.T) {
	r := newRig(t, mustZones(t), nil)
	for name := range r.pins {
		if r.powered(name) {
			t.Errorf("camera %s powered before any fix", name)
		}
	}
	if cmd, ok := r.lastCommand("front"); !ok || cmd != r.prof.Codes.Deny {
		t.Errorf("first command = %d (sent %v), want deny %d", cmd, ok, r.prof.Codes.Deny)
	}
	if s := r.state(); s != gateway.Unknown {
		t.Errorf("state = %v, want unknown", s)
	}
}

func TestClearNeedsConsecutiveClearFixes(t *testing.T) {
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 3 })
	lat, lon := south(5000)
	for i := 1; i <= 3; i++ {
		r.step(100*time.Millisecond, lat, lon, 50)
		if want := i == 3; r.powered("front") != want {
			t.Fatalf("after %d clear fixes front powered = %v, want %v", i, !want, want)
		}
	}
	if cmd, _ := r.lastCommand("front"); cmd != r.prof.Codes.Allow {
		t.Errorf("front command = %d, want allow", cmd)
	}
	if r.powered("cabin") {
		t.Error("cabin camera powered: cabin cameras stay off unless enabled")
	}
	if s := r.state(); s != gateway.Clear {
		t.Errorf("state = %v, want clear", s)
	}
}

// drive moves the vehicle along the meridian from fromM to toM metres south
// of the zone at kmh, with a fix every 100 ms.
func (r *rig) drive(fromM, toM, kmh float64) {
	r.t.Helper()
	step := kmh / 3.6 * 0.1
	if toM < fromM {
		step = -step
	}
	for d := fromM; (step > 0 && d <= toM) || (step < 0 && d >= toM); d += step {
		lat, lon := south(d)
		r.step(100*time.Millisecond, lat, lon, kmh)
	}
}

// TestTimeline drives towards the zone, through it and back out, checking
// the decision where it must change.
func TestTimeline(t *testing.T) {
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 3 })
	// At 50 km/h the look-ahead is (1 s + 2 s) * 13.9 m/s + 2*2 m ≈ 46 m
	// beyond the 200 m buffer.
	legs := []struct {
		from, to float64 // metres south of the zone's edge
		powered  bool
		state    gateway.State
	}{
		{400, 398.5, false, gateway.Unknown}, // two clear fixes (400, 398.6 m): not yet
		{398, 398, true, gateway.Clear},      // the third releases the cameras
		{398, 260, true, gateway.Clear},      // 60 m from the buffer
		{260, 240, false, gateway.Near},      // within the look-ahead: suppressed before entry
		{240, 150, false, gateway.Near},      // within the buffer
		{150, -100, false, gateway.Inside},   // inside the zone
		{-100, 150, false, gateway.Near},     // leaving
		{150, 246, false, gateway.Near},      // not clear yet
		{246, 300, true, gateway.Clear},      // clear fixes again
	}
	for i, l := range legs {
		r.drive(l.from, l.to, 50)
		if got := r.powered("front"); got != l.powered {
			t.Errorf("leg %d (%.0f→%.0f m): front powered = %v, want %v", i, l.from, l.to, got, l.powered)
		}
		if got := r.state(); got != l.state {
			t.Errorf("leg %d (%.0f→%.0f m): state = %v, want %v", i, l.from, l.to, got, l.state)
		}
	}
	st := r.stats()
	if st.BadFixes != 0 {
		t.Errorf("%d fixes refused on a smooth drive", st.BadFixes)
	}
}

func TestLookAheadGrowsWithSpeed(t *testing.T) {
	lat, lon := south(200 + 150) // 150 m outside the buffer
	for _, tc := range []struct {
		kmh        float64
		suppressed bool
	}{
		{30, false},  // 25 m + 4 m look-ahead
		{130, false}, // 108 m + 4 m
		{200, true},  // 167 m + 4 m
	} {
		r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 1 })
		r.step(100*time.Millisecond, lat, lon, tc.kmh)
		if got := !r.powered("front"); got != tc.suppressed {
			t.Errorf("%v km/h at 150 m from the buffer: suppressed = %v, want %v", tc.kmh, got, tc.suppressed)
		}
	}
}

func TestFailClosedOnBadFixes(t *testing.T) {
	lat, lon := south(5000)
	cases := []struct {
		name string
		bad  func(r *rig)
	}{
		{"stale fix", func(r *rig) {
			for i := 0; i < 25; i++ { // 2.5 s without a fix, only ticks
				r.clock.Advance(100 * time.Millisecond)
			}
		}},
		{"no fix", func(r *rig) {
			r.clock.Advance(100 * time.Millisecond)
			r.send(map[string]float64{"position.fix": 0, "position.accuracy": 2, "position.heading": 0, "position.speed": 50})
			r.send(map[string]float64{"position.latitude": lat, "position.longitude": lon})
		}},
		{"poor accuracy", func(r *rig) {
			r.clock.Advance(100 * time.Millisecond)
			r.send(map[string]float64{"position.fix": 3, "position.accuracy": 80, "position.heading": 0, "position.speed": 50})
			r.send(map[string]float64{"position.latitude": lat, "position.longitude": lon})
		}},
		{"implausible jump", func(r *rig) {
			jlat, jlon := south(20000) // 15 km in 100 ms
			r.step(100*time.Millisecond, jlat, jlon, 50)
		}},
		{"out of range", func(r *rig) {
			r.step(100*time.Millisecond, 0, 190, 50)
		}},
		{"null island", func(r *rig) { // what a receiver without a fix may send
			r.step(100*time.Millisecond, 0, 0, 50)
		}},
		{"zero accuracy", func(r *rig) {
			r.clock.Advance(100 * time.Millisecond)
			r.send(map[string]float64{"position.fix": 3, "position.accuracy": 0, "position.heading": 0, "position.speed": 50})
			r.send(map[string]float64{"position.latitude": lat, "position.longitude": lon})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 2 })
			r.step(100*time.Millisecond, lat, lon, 50)
			r.step(100*time.Millisecond, lat, lon, 50)
			if !r.powered("front") {
				t.Fatal("not clear after two clear fixes")
			}
			tc.bad(r)
			if r.powered("front") {
				t.Fatal("camera still powered after a bad fix")
			}
			if s := r.state(); s != gateway.Unknown {
				t.Errorf("state = %v, want unknown", s)
			}
			// One good fix is not enough to release again.
			r.step(100*time.Millisecond, lat, lon, 50)
			if tc.name != "implausible jump" && r.powered("front") {
				t.Error("released after a single good fix")
			}
		})
	}
}

func TestNoZonesStaysSuppressed(t *testing.T) {
	r := newRig(t, nil, func(d *gateway.Decision) { d.ClearFixes = 1 })
	lat, lon := south(5000)
	for i := 0; i < 10; i++ {
		r.step(100*time.Millisecond, lat, lon, 50)
	}
	if r.powered("front") {
		t.Error("camera powered without a zone list")
	}
}

func TestPrivacySwitch(t *testing.T) {
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 2 })
	lat, lon := south(5000)
	r.step(100*time.Millisecond, lat, lon, 50)
	r.step(100*time.Millisecond, lat, lon, 50)
	if !r.powered("front") {
		t.Fatal("not clear")
	}
	r.send(map[string]float64{"privacy.switch": 1})
	if r.powered("front") {
		t.Error("privacy switch on, camera still powered")
	}
	for i := 0; i < 5; i++ {
		r.step(100*time.Millisecond, lat, lon, 50)
	}
	if s := r.state(); s != gateway.Manual || r.powered("front") {
		t.Errorf("with the switch on: state %v, powered %v", s, r.powered("front"))
	}
	r.send(map[string]float64{"privacy.switch": 0})
	r.step(100*time.Millisecond, lat, lon, 50)
	if r.powered("front") {
		t.Error("released by the first fix after the switch went off")
	}
	r.step(100*time.Millisecond, lat, lon, 50)
	r.step(100*time.Millisecond, lat, lon, 50)
	if !r.powered("front") {
		t.Error("not released after clear fixes")
	}
}

func TestTelemetrySnapshots(t *testing.T) {
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 1; d.WithholdMarginM = 300 })
	lat, lon := south(5000)
	r.step(time.Second, lat, lon, 50)
	r.advance(time.Second)
	s := r.tel.last()
	if s.Withhold || !s.HavePosition || math.Abs(s.Lat-lat) > 1e-6 {
		t.Errorf("far from the zone: withhold %v, have %v, lat %v", s.Withhold, s.HavePosition, s.Lat)
	}
	roles := map[string]bool{}
	for _, smp := range s.Samples {
		roles[smp.Role] = true
	}
	if !roles["vehicle.speed"] || roles["position.latitude"] || roles["position.longitude"] {
		t.Errorf("samples %v: want vehicle.speed and no raw latitude/longitude", roles)
	}
	// 250 m from the buffer: cameras may run, but the position would be
	// within the withhold margin. (Get there slowly enough to be plausible.)
	lat, lon = south(200 + 250)
	r.step(2*time.Minute, lat, lon, 50)
	r.advance(time.Second)
	if s := r.tel.last(); !s.Withhold {
		t.Error("position not withheld within the withhold margin")
	}
	if !r.powered("front") {
		t.Error("cameras suppressed outside the look-ahead")
	}
}

func TestBadFramesAreCountedNotFatal(t *testing.T) {
	r := newRig(t, mustZones(t), nil)
	bad := []can.Frame{
		{ID: 0x1A0, Len: 3, Time: t0},                    // GNSS_Position, too short
		{ID: 0x1A0, Len: 0, Flags: can.Remote, Time: t0}, // remote request
		{ID: 0x7FF, Len: 8, Time: t0},                    // unknown identifier
	}
	for i := range bad {
		if err := r.ecu.WriteFrame(&bad[i]); err != nil {
			t.Fatal(err)
		}
		r.sent++
	}
	r.waitFor(func() bool { return r.gw.Processed() >= r.sent })
	st := r.stats()
	if st.Decode.WrongLength != 1 || st.Decode.Remote != 1 || st.Decode.Unmapped != 1 {
		t.Errorf("decode stats %+v", st.Decode)
	}
}

func TestStopSuppresses(t *testing.T) {
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 1 })
	lat, lon := south(5000)
	r.step(100*time.Millisecond, lat, lon, 50)
	if !r.powered("front") {
		t.Fatal("not clear")
	}
	if err := r.shutdown(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if r.powered("front") || r.powered("rear") {
		t.Error("cameras left powered after the gateway stopped")
	}
	if cmd, ok := r.lastCommand("front"); !ok || cmd != r.prof.Codes.Deny {
		t.Errorf("last command = %d (%v), want deny", cmd, ok)
	}
}

func TestNewRejectsAMapWithoutPosition(t *testing.T) {
	db, err := can.LoadDBC("x.dbc", []byte("VERSION \"\"\n\nBO_ 1 M: 8 X\n SG_ S : 0|8@1+ (1,0) [0|0] \"\" X\n"))
	if err != nil {
		t.Fatal(err)
	}
	dec, err := can.NewDecoder(db, []can.Mapping{{Role: "vehicle.speed", Message: "M", Signal: "S"}})
	if err != nil {
		t.Fatal(err)
	}
	cams, err := camera.NewController([]camera.Spec{{Name: "f", Class: camera.Exterior, Power: cameratest.NewPin("p")}}, nil, camera.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gateway.New(gateway.Options{Decoder: dec, Cameras: cams}); err == nil {
		t.Error("a gateway that can never see a position was accepted")
	}
}

func setMaxAge(role string, d time.Duration) func([]can.Mapping) {
	return func(maps []can.Mapping) {
		for i := range maps {
			if maps[i].Role == role {
				maps[i].MaxAge = d
			}
		}
	}
}

// TestRoleMaxAge: a role's max_age makes its values stale sooner than the
// gateway's defaults; on the coordinates it shortens the life of a fix.
func TestRoleMaxAge(t *testing.T) {
	lat, lon := south(5000)
	t.Run("fix", func(t *testing.T) {
		r := newRigMaps(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 1 },
			setMaxAge("position.latitude", 500*time.Millisecond))
		r.step(100*time.Millisecond, lat, lon, 50)
		if r.clock.Advance(400 * time.Millisecond); r.state() != gateway.Clear {
			t.Fatalf("400 ms after a clear fix: %v", r.state())
		}
		if r.clock.Advance(200 * time.Millisecond); r.state() != gateway.Unknown {
			t.Errorf("600 ms after the fix, latitude max_age 500ms: %v, want unknown (MaxFixAge is %v)", r.state(), gateway.DefaultDecision().MaxFixAge)
		}
	})
	t.Run("uplinked sample", func(t *testing.T) {
		r := newRigMaps(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 1 },
			setMaxAge("vehicle.speed", 300*time.Millisecond))
		r.step(100*time.Millisecond, lat, lon, 50)
		r.advance(time.Second)
		roles := map[string]bool{}
		for _, smp := range r.tel.last().Samples {
			roles[smp.Role] = true
		}
		if roles["vehicle.speed"] || !roles["position.speed"] {
			t.Errorf("a second after the last frame: samples %v, want position.speed but not vehicle.speed (max_age 300ms)", roles)
		}
	})
}

type auditLog struct {
	mu     sync.Mutex
	events []gateway.AuditEvent
}

func (a *auditLog) Audit(e gateway.AuditEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
}

func (a *auditLog) kinds() []gateway.AuditKind {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ks []gateway.AuditKind
	for _, e := range a.events {
		ks = append(ks, e.Kind)
	}
	return ks
}

// TestAuditEvents: suppression and the privacy switch leave audit events
// without positions.
func TestAuditEvents(t *testing.T) {
	log := &auditLog{}
	r := newRig(t, mustZones(t), func(d *gateway.Decision) { d.ClearFixes = 1 }, func(o *gateway.Options) { o.Audit = log })
	lat, lon := south(5000)
	r.step(100*time.Millisecond, lat, lon, 50)
	r.send(map[string]float64{"privacy.switch": 1})
	r.send(map[string]float64{"privacy.switch": 0})
	r.step(100*time.Millisecond, lat, lon, 50)
	want := []gateway.AuditKind{gateway.AuditSuppressionOff, gateway.AuditSuppressionOn, gateway.AuditManualOn,
		gateway.AuditManualOff, gateway.AuditSuppressionOff}
	if got := log.kinds(); !slices.Equal(got, want) {
		t.Errorf("audit events %v, want %v", got, want)
	}
	for _, e := range log.events {
		if strings.ContainsAny(e.Reason, "0123456789") {
			t.Errorf("audit reason %q carries digits: positions never go into the audit trail", e.Reason)
		}
	}
}

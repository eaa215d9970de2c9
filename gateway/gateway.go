package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"quietzone/camera"
	"quietzone/can"
	"quietzone/geofence"
	"quietzone/uplink"
)

// Well-known signal roles of the vehicle profile.
const (
	RoleSpeed         = "vehicle.speed"      // km/h
	RoleLatitude      = "position.latitude"  // degrees
	RoleLongitude     = "position.longitude" // degrees
	RoleFixType       = "position.fix"       // 0 none, 1 dead reckoning, 2 2D, 3 3D, ...
	RoleAccuracy      = "position.accuracy"  // metres
	RoleHeading       = "position.heading"   // degrees
	RoleGPSSpeed      = "position.speed"     // km/h
	RolePrivacySwitch = "privacy.switch"     // non-zero: on
	// RoleYawRate is in deg/s, positive turning left (counter-clockwise
	// seen from above, ISO 8855); RoleSteeringAngle in degrees at the
	// steering wheel, positive left. A profile whose DBC counts them the
	// other way says so (Turning).
	RoleYawRate       = "vehicle.yaw_rate"
	RoleSteeringAngle = "vehicle.steering_angle"
	CameraRolePrefix  = "camera." // camera.NAME.trigger, camera.NAME.status
)

// Cameras is what the gateway needs of the camera controller;
// *camera.Controller implements it.
type Cameras interface {
	Lookup(name string) (int, bool)
	Apply(now time.Time, suppress bool) error
	ObserveStatus(i int, raw int64, now time.Time)
	ObserveTrigger(i int, active bool, now time.Time)
	Tick(now time.Time) error
	// Escalations appends to dst the cameras that disobeyed beyond the
	// grace period (or are silent and cannot be cut), once each.
	Escalations(dst []camera.Escalation) []camera.Escalation
	// States returns a copy of every camera's state, and Stats the
	// controller's counters, for the status.
	States() []camera.State
	Stats() camera.Stats
	// AllowCabin turns the cabin cameras on or off by the policy.
	AllowCabin(allowed bool)
}

var _ Cameras = (*camera.Controller)(nil)

// Telemetry receives snapshots; the daemon's pipe to the uplink
// implements it.
type Telemetry interface {
	// Offer takes a snapshot; it must not keep s.Samples.
	Offer(s uplink.Snapshot) error
	// SetPolicy switches the uplink to a new policy between two
	// snapshots (SetBundle).
	SetPolicy(p *uplink.Policy)
	// Flush queues whatever is pending, at shutdown.
	Flush(now time.Time) error
}

// Publisher delivers queued telemetry; *uplink.Publisher implements it.
type Publisher interface {
	Run(ctx context.Context) error
	Drain(ctx context.Context) error
}

// Decision holds the thresholds of the decision loop.
type Decision struct {
	// Tick is how often state is re-checked without a new fix.
	Tick time.Duration `yaml:"tick"`
	// MaxFixAge: an older fix counts as no fix.
	MaxFixAge time.Duration `yaml:"max_fix_age"`
	// MinFixType is the lowest position.fix value accepted.
	MinFixType int64 `yaml:"min_fix_type"`
	// MaxAccuracyM: a fix reporting a worse accuracy counts as no fix.
	MaxAccuracyM float64 `yaml:"max_accuracy_m"`
	// ClearFixes consecutive clear fixes are needed to leave suppression.
	ClearFixes int `yaml:"clear_fixes"`
	// ReactionTime and CameraStopTime make the look-ahead horizon: at the
	// current speed, how far the vehicle gets before a camera is off.
	ReactionTime   time.Duration `yaml:"reaction_time"`
	CameraStopTime time.Duration `yaml:"camera_stop_time"`
	// AssumedSpeedKmh is used for the look-ahead when no speed is known.
	AssumedSpeedKmh float64 `yaml:"assumed_speed_kmh"`
	// MaxPlausibleKmh: a fix implying a faster move since the last one
	// counts as no fix (a jump or a spoof).
	MaxPlausibleKmh float64 `yaml:"max_plausible_kmh"`
	// SignalMaxAge: signal values older than this are not uplinked.
	SignalMaxAge time.Duration `yaml:"signal_max_age"`
	// TelemetryPeriod is how often a snapshot goes to the uplink.
	TelemetryPeriod time.Duration `yaml:"-"`
	// WithholdMarginM widens every buffer for the uplinked position: the
	// policy's snapping error, so that no snapped point lands in a buffer.
	WithholdMarginM float64 `yaml:"-"`
	// ExitMarginM: a fix counts towards leaving suppression only when it
	// is this much farther than a buffer (plus its accuracy) from every
	// zone, so that a vehicle driving along a buffer's edge does not flap.
	ExitMarginM float64 `yaml:"exit_margin_m"`
	// The look-ahead's model of the vehicle (geofence.Kinematics): how
	// fast it may speed up and turn, and how far to trust its heading.
	MaxAccelMps2       float64 `yaml:"max_accel_mps2"`
	MaxLateralMps2     float64 `yaml:"max_lateral_accel_mps2"`
	HeadingSigmaDeg    float64 `yaml:"heading_sigma_deg"`
	MinHeadingSpeedKmh float64 `yaml:"min_heading_speed_kmh"`
	// ZoneClockSkew widens every zone's validity window on both sides for
	// the clock's error; on a clock that is not synchronised windows are
	// ignored and every zone counts.
	ZoneClockSkew time.Duration `yaml:"zone_clock_skew"`
	// What an honest vehicle's sense of turning may get wrong, against
	// which the course of the fixes is held (course.go): the yaw rate's
	// bias (deg/s) and scale error (a share of every degree turned), the
	// steering angle's bias (degrees at the steering wheel) and scale
	// error (understeer included), and the angle between the track and
	// the heading per m/s² of lateral acceleration (tyre slip); and the
	// fastest the vehicle reverses (below it, a wheel speed without a
	// sign may be backwards). Larger values refuse fewer honest drives
	// and let a spoofer rotate the track further.
	YawBiasDps         float64 `yaml:"yaw_bias_dps"`
	YawScaleError      float64 `yaml:"yaw_scale_error"`
	SteeringBiasDeg    float64 `yaml:"steering_bias_deg"`
	SteeringScaleError float64 `yaml:"steering_scale_error"`
	SlipDegPerMps2     float64 `yaml:"slip_deg_per_mps2"`
	ReverseMaxKmh      float64 `yaml:"reverse_max_kmh"`
}

// DefaultDecision returns conservative defaults.
func DefaultDecision() Decision {
	return Decision{
		Tick:            100 * time.Millisecond,
		MaxFixAge:       2 * time.Second,
		MinFixType:      2,
		MaxAccuracyM:    50,
		ClearFixes:      3,
		ReactionTime:    time.Second,
		CameraStopTime:  2 * time.Second,
		AssumedSpeedKmh: 250,
		MaxPlausibleKmh: 400,
		SignalMaxAge:    5 * time.Second,
		TelemetryPeriod: time.Second,

		ExitMarginM:        50,
		MaxAccelMps2:       3,
		MaxLateralMps2:     6,
		HeadingSigmaDeg:    10,
		MinHeadingSpeedKmh: 5,
		ZoneClockSkew:      10 * time.Minute,

		YawBiasDps:         0.5,
		YawScaleError:      0.05,
		SteeringBiasDeg:    3,
		SteeringScaleError: 0.3,
		SlipDegPerMps2:     0.5,
		ReverseMaxKmh:      10,
	}
}

func (d *Decision) Validate() error {
	switch {
	case d.Tick <= 0, d.MaxFixAge <= 0, d.TelemetryPeriod <= 0, d.SignalMaxAge <= 0:
		return errors.New("tick, max_fix_age, signal_max_age and telemetry period must be positive")
	case d.ClearFixes < 1:
		return errors.New("clear_fixes must be at least 1")
	case d.ReactionTime < 0, d.CameraStopTime < 0:
		return errors.New("reaction_time and camera_stop_time must not be negative")
	case !(d.MaxAccuracyM > 0), !(d.AssumedSpeedKmh > 0), !(d.MaxPlausibleKmh > 0), d.WithholdMarginM < 0 || math.IsNaN(d.WithholdMarginM):
		return errors.New("max_accuracy_m, assumed_speed_kmh and max_plausible_kmh must be positive, withhold margin not negative")
	}
	if err := d.validateLookAhead(); err != nil {
		return err
	}
	return d.validateCourse()
}

// Options are what a Gateway is built from.
type Options struct {
	Decoder *can.Decoder
	Sources []can.Source
	// Zones may be nil: the gateway then stays Unknown (fail closed)
	// until SetZones hands it a list.
	Zones     *geofence.Index
	Cameras   Cameras
	Telemetry Telemetry // optional
	Publisher Publisher // optional; run and drained by Run
	// DrainTimeout bounds how long Run waits at shutdown for the queue to
	// empty; what is left stays queued.
	DrainTimeout time.Duration
	Clock        Clock
	Logger       *slog.Logger
	Decision     Decision
	// Privacy hides where the vehicle was near zones (privacy.go).
	Privacy Privacy
	// Audit, when set, receives audit events (audit.go).
	Audit Auditor
	// Enforcement wires the privacy switch, the indicator, GPIO inputs,
	// alarms and the saved suppression state (enforce.go).
	Enforcement Enforcement
	// Turning is the profile's (Profile.Turning): how the vehicle
	// reports its yaw rate and steering angle (course.go).
	Turning Turning
}

type roleKind uint8

const (
	kindOther roleKind = iota
	kindLat
	kindLon
	kindFixType
	kindAccuracy
	kindSpeed
	kindGPSSpeed
	kindPrivacy
	kindCamStatus
	kindCamTrigger
	kindYawRate
	kindSteering
)

type role struct {
	kind  roleKind
	cam   int
	class uplink.Class // what its values are, for the uplink (roles.go)
}

// expiry is a role whose values are forgotten once older than maxAge (the
// signal map's max_age), so that every consumer sees them as missing.
type expiry struct {
	role   int
	maxAge time.Duration
}

type fix struct {
	lat, lon float64
	acc      float64 // accuracyMargin when taken: 2σ, as the receiver reported it
	// margin is how far the truth may be from an accepted fix, which the
	// zone decisions take: acc, the trust debt and what a spoofer could
	// hide within the consistency checks (trust.go).
	margin float64
	t      time.Time
	valid  bool
}

// Stats are the gateway's counters. They carry no positions.
type Stats struct {
	State       State
	Frames      uint64
	Decode      can.DecodeStats
	Fixes       uint64 // fixes accepted
	BadFixes    uint64 // fixes refused: quality, accuracy, range, implausible jump
	Transitions uint64
	// TimeIn is the time spent in each state.
	TimeIn [numStates]time.Duration
	// CameraErrors counts failed camera commands or power writes.
	CameraErrors uint64
	// TelemetryErrors counts snapshots the uplink could not take.
	TelemetryErrors uint64
	// ZonesReplaced counts zone lists swapped in while running;
	// PathsCrossed the paths between fixes that passed through a buffer.
	ZonesReplaced uint64
	PathsCrossed  uint64
	// ClockSteps counts steps of the clock back (trust.go).
	ClockSteps uint64
	// GNSSDistrusts counts the times GNSS lost the gateway's trust (an
	// implausible jump, a clock step); GNSSDistrusted is whether it has
	// not regained it (trust.go).
	GNSSDistrusts  uint64
	GNSSDistrusted bool
	// GNSSMarginM is how much every fix's accuracy is widened since GNSS
	// was trusted again late after a jump (trust.go): a distance, no
	// position.
	GNSSMarginM float64
	// CourseFixes counts the fixes whose course was held against the
	// yaw rate or the steering angle (course.go).
	CourseFixes uint64
	Enforcement EnforcementStats
	// PoliciesApplied counts policies switched to while running; LastFix
	// is when the last accepted fix was taken; Cameras the cameras'
	// states and CameraCounts their controller's counters (status.go).
	PoliciesApplied uint64
	LastFix         time.Time
	Cameras         []camera.State
	CameraCounts    camera.Stats
}

// Suppressed returns the total time spent suppressed.
func (s Stats) Suppressed() time.Duration {
	var d time.Duration
	for st, t := range s.TimeIn {
		if State(st).Suppressed() {
			d += t
		}
	}
	return d
}

// Gateway is the decision loop. Build it with New, start it with Run.
type Gateway struct {
	opts  Options
	dec   *can.Decoder
	clock Clock
	log   *slog.Logger
	d     Decision

	roles    []role
	latest   []can.Value
	expiring []expiry // roles with their own max_age
	vals     []can.Value
	lat, lon can.RoleID
	hasPos   bool
	fixType  int // role index or -1
	accuracy int
	speed    int
	gpsSpeed int

	z  zoneState   // zones.go
	e  enforcement // enforce.go
	tr trust       // trust.go
	cr course      // course.go

	fix        fix
	lastFixAt  time.Time // when the last fix was received, good or not
	state      State
	since      time.Time
	clearCount int
	manual     bool
	withhold   bool
	lastSnap   time.Time
	samples    []uplink.Sample
	priv       privacy
	// holdUntil is the monotonic time (ns) until which the unit should
	// stay powered (PowerHold).
	holdUntil atomic.Int64

	stats     Stats
	processed atomic.Uint64
	ticks     atomic.Uint64
	statsMu   sync.Mutex
	published Stats
}

// New checks the options and resolves the signal roles.
func New(o Options) (*Gateway, error) {
	if o.Decoder == nil || o.Cameras == nil {
		return nil, errors.New("new gateway: a decoder and cameras are required")
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Decision == (Decision{}) {
		o.Decision = DefaultDecision()
	}
	if err := o.Decision.Validate(); err != nil {
		return nil, fmt.Errorf("new gateway: decision: %w", err)
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 10 * time.Second
	}
	g := &Gateway{
		opts: o, dec: o.Decoder, clock: o.Clock, log: o.Logger, d: o.Decision,
		fixType: -1, accuracy: -1, speed: -1, gpsSpeed: -1,
	}
	// A unit started with the ignition off holds its power long enough
	// to read the bus (PowerHold).
	g.holdUntil.Store(int64(o.Clock.Monotonic() + StartHold))
	names := o.Decoder.Roles()
	g.roles = make([]role, len(names))
	classes, problems := ClassifyRoles(o.Decoder.Database(), o.Decoder.Mappings())
	for _, p := range problems {
		g.log.Warn("a signal role's values will never leave the vehicle", "err", p)
	}
	g.latest = make([]can.Value, len(names))
	g.vals = make([]can.Value, max(o.Decoder.MaxValuesPerFrame(), 1))
	var haveLat, haveLon bool
	yaw, steering := -1, -1
	for i, name := range names {
		r := &g.roles[i]
		r.class = classes[i]
		switch name {
		case RoleLatitude:
			r.kind, g.lat, haveLat = kindLat, can.RoleID(i), true
		case RoleLongitude:
			r.kind, g.lon, haveLon = kindLon, can.RoleID(i), true
		case RoleFixType:
			r.kind, g.fixType = kindFixType, i
		case RoleAccuracy:
			r.kind, g.accuracy = kindAccuracy, i
		case RoleSpeed:
			r.kind, g.speed = kindSpeed, i
		case RoleGPSSpeed:
			r.kind, g.gpsSpeed = kindGPSSpeed, i
		case RolePrivacySwitch:
			r.kind = kindPrivacy
		case RoleYawRate:
			r.kind, yaw = kindYawRate, i
		case RoleSteeringAngle:
			r.kind, steering = kindSteering, i
		default:
			cam, what, ok := cameraRole(name)
			if !ok {
				continue
			}
			idx, found := o.Cameras.Lookup(cam)
			if !found {
				continue // a camera the vehicle has but this installation does not drive
			}
			r.cam = idx
			if what == "status" {
				r.kind = kindCamStatus
			} else {
				r.kind = kindCamTrigger
			}
		}
	}
	for i, m := range o.Decoder.Mappings() {
		if m.MaxAge <= 0 {
			continue
		}
		g.expiring = append(g.expiring, expiry{role: i, maxAge: m.MaxAge})
		if k := g.roles[i].kind; (k == kindLat || k == kindLon) && m.MaxAge < g.d.MaxFixAge {
			g.d.MaxFixAge = m.MaxAge // a fix is no fresher than its coordinates
		}
	}
	if !haveLat || !haveLon {
		return nil, fmt.Errorf("new gateway: the signal map has no %s and %s: the gateway could never leave suppression", RoleLatitude, RoleLongitude)
	}
	g.hasPos = true
	if err := g.initCourse(o.Turning, yaw >= 0, steering >= 0); err != nil {
		return nil, fmt.Errorf("new gateway: %w", err)
	}
	if yaw >= 0 && steering >= 0 {
		g.roles[steering].kind = kindOther // the yaw rate is what the course is held against
	}
	g.initZones()
	if err := g.initEnforcement(); err != nil {
		return nil, fmt.Errorf("new gateway: %w", err)
	}
	return g, nil
}

// cameraRole splits "camera.NAME.status" or "camera.NAME.trigger".
func cameraRole(role string) (name, what string, ok bool) {
	rest, found := strings.CutPrefix(role, CameraRolePrefix)
	if !found {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '.')
	if i <= 0 {
		return "", "", false
	}
	name, what = rest[:i], rest[i+1:]
	return name, what, what == "status" || what == "trigger"
}

// Processed returns how many frames the decision loop has finished with.
// The simulator waits on it to keep the gateway in lock step.
func (g *Gateway) Processed() uint64 { return g.processed.Load() }

// Ticks returns how many ticks the decision loop has finished with.
func (g *Gateway) Ticks() uint64 { return g.ticks.Load() }

// Stats returns the counters as of the last tick (or the end of Run).
func (g *Gateway) Stats() Stats {
	g.statsMu.Lock()
	defer g.statsMu.Unlock()
	return g.published
}

// Run restores the saved suppression state, suppresses every camera, then
// reads the sources and inputs and decides until ctx is done or a source
// fails. On the way out it suppresses again, saves the state, flushes
// telemetry and gives the publisher DrainTimeout to deliver it.
func (g *Gateway) Run(ctx context.Context) error {
	now := g.clock.Now()
	g.state, g.since = Unknown, now
	g.watchClock(now) // the clocks' first readings: steps are told from them
	g.restore(now)
	g.log.Info("gateway starting suppressed", "state", g.state)
	g.applyCameras(now, true)

	var pubErr chan error
	pubCtx, cancelPub := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPub()
	if g.opts.Publisher != nil {
		pubErr = make(chan error, 1)
		go func() { pubErr <- g.opts.Publisher.Run(pubCtx) }()
	}

	eg, loopCtx := errgroup.WithContext(ctx)
	frames := make(chan can.Frame, 1024)
	for _, src := range g.opts.Sources {
		eg.Go(func() error { return read(loopCtx, src, frames) })
	}
	closeSources := make(chan struct{})
	eg.Go(func() error {
		<-closeSources
		for _, src := range g.opts.Sources {
			src.Close()
		}
		return nil
	})
	g.startEnforcement(loopCtx, eg)

	g.loop(loopCtx, frames)
	end := g.clock.Now()
	g.applyCameras(end, true) // fail closed when the gateway stops, while the buses are still open
	close(closeSources)
	srcErr := eg.Wait()
	g.offerTripEnd(end)
	g.saveFinal()
	g.account(end)
	g.publishStats()
	var errs []error
	if srcErr != nil {
		errs = append(errs, srcErr)
	}
	if g.opts.Telemetry != nil {
		if err := g.opts.Telemetry.Flush(end); err != nil {
			errs = append(errs, fmt.Errorf("flush telemetry: %w", err))
		}
	}
	if g.opts.Publisher != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.opts.DrainTimeout)
		if err := g.opts.Publisher.Drain(dctx); err != nil {
			g.log.Warn("uplink not drained at shutdown; the rest stays queued", "err", err)
		}
		cancel()
		cancelPub()
		if err := <-pubErr; err != nil {
			errs = append(errs, err)
		}
	}
	g.log.Info("gateway stopped", "frames", g.stats.Frames)
	return errors.Join(errs...)
}

// read pumps one source into the loop until it ends or ctx is done.
func read(ctx context.Context, src can.Source, out chan<- can.Frame) error {
	var f can.Frame
	for {
		if err := src.ReadFrame(&f); err != nil {
			if errors.Is(err, can.ErrClosed) || errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read frames: %w", err)
		}
		select {
		case out <- f:
		case <-ctx.Done():
			return nil
		}
	}
}

func (g *Gateway) loop(ctx context.Context, frames <-chan can.Frame) {
	ticker := g.clock.NewTicker(g.d.Tick)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-frames:
			g.onFrame(&f)
			g.processed.Add(1)
		case t := <-ticker.C():
			if stallHook != nil {
				stallHook() // a test build's fault switch (stall.go); nil in the vehicle's
			}
			now := g.clock.Now()
			g.watchClock(now) // read together with the monotonic clock
			if t.Before(now.Add(-g.d.Tick)) {
				// A tick read late (the loop was busy longer than a tick:
				// a slow or loaded head unit) carries the time it fell
				// due. Judged then, the fixes handled since would be from
				// the future: a false step of the clock back, a stale fix.
				t = now
			}
			g.onTick(t) // else the tick's own time: a manual clock may already be further on
			g.ticks.Add(1)
		case ix := <-g.z.replace:
			g.onZones(g.clock.Now(), ix)
		case ev := <-g.e.events:
			g.onInput(g.clock.Now(), ev)
			g.e.handled.Add(1)
		}
		g.persist()
	}
}

func (g *Gateway) onFrame(f *can.Frame) {
	g.stats.Frames++
	n, err := g.dec.Decode(f, g.vals)
	if err != nil {
		return // counted by the decoder
	}
	now := g.clock.Now()
	for _, v := range g.vals[:n] {
		g.latest[v.Role] = v
		r := g.roles[v.Role]
		switch r.kind {
		case kindLat, kindLon:
			if g.steppedBack(v.Time) {
				g.stepBackTo(now, v.Time, "a coordinate stamped before the last fix")
			}
		case kindSpeed:
			g.onWheelSpeed(v.Phys, v.Time)
			g.courseSpeed(v)
		case kindYawRate, kindSteering:
			g.courseInput(v)
		case kindCamStatus:
			g.opts.Cameras.ObserveStatus(r.cam, v.Raw, v.Time)
		case kindCamTrigger:
			g.opts.Cameras.ObserveTrigger(r.cam, v.Raw != 0, v.Time)
		case kindPrivacy:
			g.onSwitch(now, switchCAN, v.Raw != 0)
		}
	}
	lat, lon := &g.latest[g.lat], &g.latest[g.lon]
	if lat.Time.After(g.lastFixAt) && lon.Time.After(g.lastFixAt) && absDur(lat.Time.Sub(lon.Time)) <= g.d.Tick {
		// A fix is judged with fresh values only; a coordinate that
		// expired just now (max_age) makes no fix.
		if g.expire(now); lat.Time.IsZero() || lon.Time.IsZero() {
			return
		}
		t := lat.Time
		if lon.Time.After(t) {
			t = lon.Time
		}
		g.onFix(now, t)
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// expire forgets values older than their role's max_age.
func (g *Gateway) expire(now time.Time) {
	for _, e := range g.expiring {
		if v := &g.latest[e.role]; !v.Time.IsZero() && now.Sub(v.Time) > e.maxAge {
			*v = can.Value{Role: v.Role}
		}
	}
}

func (g *Gateway) onTick(now time.Time) {
	g.expire(now)
	g.evaluate(now, false)
	if err := g.opts.Cameras.Tick(now); err != nil {
		g.stats.CameraErrors++
		g.log.Error("camera refresh failed", "err", err)
	}
	g.enforceTick(now)
	if g.opts.Telemetry != nil && now.Sub(g.lastSnap) >= g.d.TelemetryPeriod {
		g.lastSnap = now
		if err := g.opts.Telemetry.Offer(g.snapshot(now)); err != nil {
			g.stats.TelemetryErrors++
			g.log.Error("telemetry snapshot refused", "err", err)
		}
	}
	g.account(now)
	g.publishStats()
}

// snapshot collects the fresh values for the uplink. Latitude and longitude
// go as the position, and only from an accepted fix.
func (g *Gateway) snapshot(now time.Time) uplink.Snapshot {
	s := uplink.Snapshot{
		Time:     now,
		Withhold: g.state.Suppressed() || g.withhold,
	}
	if g.fix.valid && g.fresh(now, g.fix.t) {
		s.HavePosition, s.Lat, s.Lon = true, g.fix.lat, g.fix.lon
	}
	g.samples = g.samples[:0]
	names := g.dec.Roles()
	for i, v := range g.latest {
		k := g.roles[i].kind
		if k == kindLat || k == kindLon || v.Time.IsZero() || now.Sub(v.Time) > g.d.SignalMaxAge {
			continue
		}
		g.samples = append(g.samples, uplink.Sample{Role: names[i], Value: v.Phys, Class: g.roles[i].class})
	}
	s.Samples = g.samples
	g.applyPrivacy(now, &s)
	return s
}

func (g *Gateway) publishStats() {
	g.stats.State = g.state
	g.stats.Decode = g.dec.Stats()
	g.stats.Enforcement = g.enforcementStats()
	g.stats.GNSSDistrusted, g.stats.GNSSMarginM = g.tr.distrusted, g.tr.debtM
	g.stats.CourseFixes = g.cr.observed
	g.statusExtras()
	g.statsMu.Lock()
	g.published = g.stats
	g.statsMu.Unlock()
}

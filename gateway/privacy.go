package gateway

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"math"
	"time"

	"quietzone/geofence"
	"quietzone/uplink"
)

// RoleIgnition is the ignition's signal role: non-zero means on.
const RoleIgnition = "vehicle.ignition"

// Privacy is the zone-aware part of the uplink policy (near_zones), which
// the gateway applies because it alone knows where zones and covers are.
// The uplink gets the outcome in each snapshot: Withhold, ReleaseBefore
// and TripEnd.
//
// A trip is an ignition cycle: it starts when the gateway starts (unless
// vehicle.ignition says off) and whenever vehicle.ignition goes from off
// to on, and ends when it goes from on to off or the gateway stops.
// Without a vehicle.ignition role, a trip is a run of the gateway.
//
// Covers, not zones, decide withholding (covers.go): the secret discs a
// bundle carries with its zones (each larger than a zone with its buffer
// and offset from it at random, the same for every vehicle; decoys among
// them), and the vehicle's own end covers. Without covers (a bundle
// signed before them, or local files) the zones with their buffers are
// the covers. Each trip draws, for each cover, a random extra margin in
// [0, JitterM) with crypto/rand, and withholding is latched: once
// started, it ends only after ClearFixes consecutive snapshots clear of
// every widened cover. Cameras follow the true zones, never the covers.
//
// Trip ends, near a zone or not: each trip draws D_start and D_end in
// [TripEndM, TripEndM+TripEndSpreadM). From the start of a trip location
// is withheld until the vehicle is D_start from its first fix. Records
// are released (ReleaseBefore) only once the vehicle is D_end from where
// they were taken, in a straight line; at the trip's end (TripEnd) what
// still waits leaves without position. Where trips end again and again
// (two ends within EndClusterM), the vehicle makes an end cover of its
// own: offset at random by up to EndCoverOffsetM, kept in its state.
type Privacy struct {
	JitterM        float64
	TripEndM       float64
	TripEndSpreadM float64
	// EndCoverOffsetM is the radius of the disc an end cover's offset is
	// drawn from (near_zones.cover_offset_m: the ring from half of it to
	// all of it, CoverOffset); 0: no end covers.
	EndCoverOffsetM float64
	// EndLinger: after the ignition goes off, the unit stays powered for
	// a random time in [0, EndLinger) (PowerHold), publishing as while
	// driving, so that when it goes offline does not say when the trip
	// ended. 0: it may power down at once.
	EndLinger time.Duration
	// Rand is the source of the random draws; nil means crypto/rand.
	// Tests pass a fixed one. A source that fails gives the widest
	// margins.
	Rand io.Reader
}

// trailCap bounds the trail of where the records waiting were taken:
// beyond it, the newest entry grows to hold more (never releasing
// earlier).
const trailCap = 256

// trailStepM: a fix within this of the trail's newest entry joins it.
const trailStepM = 25

// trailPoint is where the records from t on (until the next entry) were
// taken: within r metres of (lat, lon).
type trailPoint struct {
	t           time.Time
	lat, lon, r float64
}

// privacy is the trip state; the decision loop owns it.
type privacy struct {
	started  bool
	inTrip   bool
	ignition int // role index of vehicle.ignition, or -1
	zones    *geofence.Index
	covers   *geofence.Index // the index withholding is decided against
	jitter   []float64       // per cover, widening of withholding, this trip
	latched  bool
	clearRun int
	margins  []geofence.ZoneMargin

	// The trip's start: withheld until dStart from the first fix.
	starting        bool
	startCovered    bool // the trip's first fix was in a cover
	haveFirst       bool
	firstLat, first float64
	dStart, dEnd    float64

	// The trail: a ring of trailCap entries, oldest at head.
	trail     [trailCap]trailPoint
	head, n   int
	release   time.Time // ReleaseBefore, moved back only when the clock steps back
	last      time.Time // the last snapshot's time
	ends      Ends      // end covers (endcovers.go)
	endsSaved *Ends     // a copy of ends as of its last change, for the state file
}

// applyPrivacy adds the zone-aware decisions to a snapshot.
func (g *Gateway) applyPrivacy(now time.Time, s *uplink.Snapshot) {
	p := &g.priv
	if !p.started {
		p.started = true
		p.ignition = -1
		for i, name := range g.dec.Roles() {
			if name == RoleIgnition {
				p.ignition = i
			}
		}
		if on, known := g.ignitionOn(now); on || !known {
			g.startTrip()
		}
	}
	if g.z.ix != p.zones { // a new zone list: its covers, new margins for them
		g.drawMargins()
	}
	if p.inTrip && s.Time.Before(p.last) {
		// The clock stepped back: records to come are stamped before ones
		// waiting, and ReleaseBefore would let them out wherever they are
		// taken. The trip ends here (what waits leaves without position)
		// and a new one starts, withheld from its start.
		g.endTrip(s, false)
		p.release = s.Time // before every record to come; nothing older waits
		s.ReleaseBefore = p.release
		g.startTrip()
		p.last = s.Time
		return
	}
	p.last = s.Time
	on, known := g.ignitionOn(now)
	if on || p.ignition < 0 {
		// Driving, or a vehicle without the ignition's role: held. A
		// value gone stale (the bus asleep) changes nothing.
		g.holdUntil.Store(math.MaxInt64)
	}
	switch {
	case p.inTrip && known && !on:
		g.endTrip(s, true)
		// The unit lingers: PowerHold for a random time from here.
		linger := time.Duration(g.uniform() * float64(g.opts.Privacy.EndLinger))
		g.holdUntil.Store(int64(g.clock.Monotonic() + linger))
		return
	case !p.inTrip && known && on:
		g.startTrip()
	}
	if !p.inTrip {
		// Parked: nothing of where it is leaves; what its records say
		// leaves without position.
		s.Withhold = true
		p.release = later(p.release, s.Time)
		s.ReleaseBefore = p.release
		return
	}

	covered := true // without a fix or zones: fail closed
	if s.HavePosition && g.z.ix != nil {
		covered = g.covered(s.Lat, s.Lon)
	}
	if s.HavePosition && p.starting {
		if !p.haveFirst {
			p.haveFirst, p.firstLat, p.first = true, s.Lat, s.Lon
			// A trip that starts in a cover is hidden by the cover: a
			// D_start ring around where it started would show over many
			// trips (the rings' centre is the place), the cover's edge
			// shows only the cover.
			p.startCovered = covered
		}
		if p.startCovered || geofence.DistanceM(p.firstLat, p.first, s.Lat, s.Lon) >= p.dStart {
			p.starting = false
		}
	}
	if s.Withhold || covered {
		p.latched, p.clearRun = true, 0
	} else if p.latched {
		if p.clearRun++; p.clearRun >= g.d.ClearFixes {
			p.latched = false
		}
	}
	s.Withhold = s.Withhold || p.latched || p.starting
	g.followTrail(s, p.latched)
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// followTrail moves ReleaseBefore as the vehicle gets D_end from where
// records were taken. Without a fix it does not move, nor while the
// vehicle is in a cover (held): a trip that ends in a cover would
// otherwise release what waited up to D_end from where it ended, and
// over many visits the last published points ring the place the trips
// end at, inside the cover; held there, they ring where the vehicle went
// into the cover, on its edge.
func (g *Gateway) followTrail(s *uplink.Snapshot, held bool) {
	p := &g.priv
	if s.HavePosition {
		if p.n == 0 {
			g.pushTrail(s)
		} else {
			back := &p.trail[(p.head+p.n-1)%trailCap]
			d := geofence.DistanceM(back.lat, back.lon, s.Lat, s.Lon)
			if d <= trailStepM || p.n == trailCap {
				back.r = math.Max(back.r, d)
			} else {
				g.pushTrail(s)
			}
		}
		for p.n > 1 && !held {
			front := &p.trail[p.head]
			if geofence.DistanceM(front.lat, front.lon, s.Lat, s.Lon)-front.r < p.dEnd {
				break
			}
			p.head, p.n = (p.head+1)%trailCap, p.n-1
		}
		p.release = later(p.release, p.trail[p.head].t)
	}
	s.ReleaseBefore = p.release
}

func (g *Gateway) pushTrail(s *uplink.Snapshot) {
	p := &g.priv
	p.trail[(p.head+p.n)%trailCap] = trailPoint{t: s.Time, lat: s.Lat, lon: s.Lon}
	p.n++
}

// endTrip marks the snapshot as the trip's end: what waits leaves
// without position, nothing more is released by distance; the end place
// counts towards the vehicle's end covers.
func (g *Gateway) endTrip(s *uplink.Snapshot, atPlace bool) {
	p := &g.priv
	p.inTrip = false
	s.TripEnd, s.Withhold = true, true
	if p.n > 0 && atPlace {
		back := p.trail[(p.head+p.n-1)%trailCap]
		g.noteEnd(back.lat, back.lon)
	}
	p.n, p.head = 0, 0
	p.release = later(p.release, s.Time)
	s.ReleaseBefore = p.release
}

// StartHold is how long a unit holds its power after it starts before
// it has seen the ignition on (PowerHold).
const StartHold = 2 * time.Minute

// PowerHold reports whether the unit should stay powered: while the
// ignition is on (always, for a vehicle without the role), after it went
// off for the trip's random linger (Privacy.EndLinger), and for
// StartHold after the start. A unit whose power the daemon holds
// (vehicle.power_hold_line) powers down once it is false; a bench cuts
// the simulated unit's power then. Safe from any goroutine.
func (g *Gateway) PowerHold() bool {
	return int64(g.clock.Monotonic()) < g.holdUntil.Load()
}

// ignitionOn reads vehicle.ignition; known is false without the role or
// a fresh value.
func (g *Gateway) ignitionOn(now time.Time) (on, known bool) {
	i := g.priv.ignition
	if i < 0 {
		return false, false
	}
	v := g.latest[i]
	if v.Time.IsZero() || now.Sub(v.Time) > g.d.SignalMaxAge || math.IsNaN(v.Phys) {
		return false, false
	}
	return v.Phys != 0, true
}

func (g *Gateway) startTrip() {
	p := &g.priv
	p.inTrip, p.starting, p.haveFirst, p.latched, p.clearRun = true, true, false, true, 0
	p.n, p.head = 0, 0
	o := g.opts.Privacy
	p.dStart = o.TripEndM + o.TripEndSpreadM*g.uniform()
	p.dEnd = o.TripEndM + o.TripEndSpreadM*g.uniform()
	g.drawMargins()
}

// drawMargins draws this trip's random extra margins, one per cover.
func (g *Gateway) drawMargins() {
	p := &g.priv
	p.zones = g.z.ix
	p.covers = g.z.ix.Covers()
	if p.covers == nil {
		p.covers = p.zones // no covers: the zones with their buffers
	}
	n := 0
	if p.covers != nil {
		n = p.covers.Len()
	}
	p.jitter = append(p.jitter[:0], make([]float64, n)...)
	for i := 0; i < n; i++ {
		p.jitter[i] = g.opts.Privacy.JitterM * g.uniform()
	}
}

// uniform returns a random number in [0, 1), or 1 (the widest margin:
// fail closed) if the source fails.
func (g *Gateway) uniform() float64 {
	src := g.opts.Privacy.Rand
	if src == nil {
		src = rand.Reader
	}
	var b [8]byte
	if _, err := io.ReadFull(src, b[:]); err != nil {
		g.log.Error("no random numbers for the privacy margins; using the widest", "err", err)
		return 1
	}
	return float64(binary.LittleEndian.Uint64(b[:])>>11) / (1 << 53)
}

// covered says whether a position is within some cover widened by this
// trip's margin, or within one of the vehicle's end covers.
func (g *Gateway) covered(lat, lon float64) bool {
	p := &g.priv
	base := g.d.WithholdMarginM + g.accuracyMargin()
	if p.covers != nil {
		p.margins = p.covers.Margins(lat, lon, base+g.opts.Privacy.JitterM, p.margins[:0])
		for _, zm := range p.margins {
			if zm.MarginM <= base+p.jitter[zm.Zone] {
				return true
			}
		}
	}
	const mPerDegLat = geofence.EarthRadiusM * math.Pi / 180
	for _, c := range p.ends.Covers {
		if math.Abs(c.Lat-lat)*mPerDegLat > c.RadiusM+base {
			continue // the difference in latitude alone puts it out of reach
		}
		if geofence.DistanceM(c.Lat, c.Lon, lat, lon) <= c.RadiusM+base {
			return true
		}
	}
	return false
}

// offerTripEnd ends a trip still going when the gateway stops: what
// waits leaves without position (TripEnd).
func (g *Gateway) offerTripEnd(now time.Time) {
	if g.opts.Telemetry == nil {
		return
	}
	s := g.snapshot(now)
	if g.priv.inTrip {
		g.endTrip(&s, true)
	}
	if !s.TripEnd {
		return // parked: nothing waits for a position
	}
	if err := g.opts.Telemetry.Offer(s); err != nil {
		g.stats.TelemetryErrors++
		g.log.Error("telemetry snapshot refused", "err", err)
	}
}

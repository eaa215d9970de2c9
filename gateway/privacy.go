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
// the gateway applies because it alone knows where zones are. The uplink
// gets the outcome in each snapshot: Withhold, Hold and Drop.
//
// A trip is an ignition cycle: it starts when the gateway starts (unless
// vehicle.ignition says off) and whenever vehicle.ignition goes from off
// to on, and ends when it goes from on to off or the gateway stops.
// Without a vehicle.ignition role, a trip is a run of the gateway.
//
// Each trip draws, for each zone, two random extra margins in [0, JitterM)
// with crypto/rand: one widens the zone's withholding (which starts at
// WithholdMarginM plus the fix's accuracy beyond the buffer), one the
// trip-end distance TripEndM. Where withholding starts and ends thus
// differs from trip to trip, and it is latched: once started, it ends only
// after ClearFixes consecutive snapshots with the vehicle clear of every
// widened zone, so the whole stretch is withheld, not the bits of it that
// happen to be inside the margins.
//
// Trip ends: from the start of a trip until the vehicle is first beyond
// every zone's trip-end distance, location is withheld. Whenever it is
// within that distance (or has no fresh fix), records are held in the
// vehicle (Hold), and released when it moves on beyond it; when the trip
// ends there, they are dropped (Drop). While parked within it between
// trips, nothing leaves.
type Privacy struct {
	JitterM  float64
	TripEndM float64
	// Rand is the source of the random margins; nil means crypto/rand.
	// Tests pass a fixed one.
	Rand io.Reader
}

// privacy is the trip state; the decision loop owns it.
type privacy struct {
	started   bool
	inTrip    bool
	ignition  int // role index of vehicle.ignition, or -1
	zones     *geofence.Index
	jitter    []float64 // per zone, widening of withholding, this trip
	endJitter []float64 // per zone, widening of the trip-end distance
	first     bool      // withholding the trip's first stretch
	latched   bool
	clearRun  int
	margins   []geofence.ZoneMargin
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
	if g.z.ix != p.zones { // a new zone list: new margins for it
		g.drawMargins()
	}
	on, known := g.ignitionOn(now)
	switch {
	case p.inTrip && known && !on:
		p.inTrip = false // the trip ends here; held records go below
	case !p.inTrip && known && on:
		g.startTrip()
	}

	withheld, nearEnd := true, true // without a fix or zones: fail closed
	if s.HavePosition && g.z.ix != nil {
		withheld, nearEnd = g.zoneMargins(s.Lat, s.Lon)
	}
	if !p.inTrip {
		// Parked: nothing leaves from near a zone, and whatever was held
		// when the trip ended there is dropped.
		s.Withhold = s.Withhold || withheld
		releaseUnlessNear(now, s, nearEnd)
		s.TripEnd = nearEnd
		return
	}
	if p.first && !nearEnd {
		p.first = false
	}
	if s.Withhold || withheld {
		p.latched, p.clearRun = true, 0
	} else if p.latched {
		if p.clearRun++; p.clearRun >= g.d.ClearFixes {
			p.latched = false
		}
	}
	s.Withhold = s.Withhold || p.latched || p.first
	releaseUnlessNear(now, s, nearEnd)
}

// releaseUnlessNear lets the records taken so far leave unless the
// vehicle is within the trip-end distance of a zone (the old hold-back,
// until covers replace it: issue 14).
func releaseUnlessNear(now time.Time, s *uplink.Snapshot, nearEnd bool) {
	if !nearEnd {
		s.ReleaseBefore = now.Add(time.Second)
	}
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
	p.inTrip, p.first, p.latched, p.clearRun = true, true, true, 0
	g.drawMargins()
}

// drawMargins draws this trip's random extra margins, one pair per zone.
func (g *Gateway) drawMargins() {
	p := &g.priv
	p.zones = g.z.ix
	n := 0
	if p.zones != nil {
		n = p.zones.Len()
	}
	p.jitter = append(p.jitter[:0], make([]float64, n)...)
	p.endJitter = append(p.endJitter[:0], make([]float64, n)...)
	for i := 0; i < n; i++ {
		p.jitter[i] = g.opts.Privacy.JitterM * g.uniform()
		p.endJitter[i] = g.opts.Privacy.JitterM * g.uniform()
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
		g.log.Error("no random numbers for the zone margins; using the widest", "err", err)
		return 1
	}
	return float64(binary.LittleEndian.Uint64(b[:])>>11) / (1 << 53)
}

// zoneMargins says whether a position is within some zone's widened
// withholding margin, and within some zone's trip-end distance.
func (g *Gateway) zoneMargins(lat, lon float64) (withheld, nearEnd bool) {
	p := &g.priv
	base := g.d.WithholdMarginM + g.accuracyMargin()
	reach := base + g.opts.Privacy.TripEndM + g.opts.Privacy.JitterM
	p.margins = g.z.ix.Margins(lat, lon, reach, p.margins[:0])
	for _, zm := range p.margins {
		if zm.MarginM <= base+p.jitter[zm.Zone] {
			withheld = true
		}
		if zm.MarginM <= base+g.opts.Privacy.TripEndM+p.endJitter[zm.Zone] {
			nearEnd = true
		}
	}
	return withheld, nearEnd
}

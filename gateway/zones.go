package gateway

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"quietzone/geofence"
)

// zoneState is the decision loop's hold on the zones.
type zoneState struct {
	// ix is the zone list in force; nil keeps the gateway Unknown.
	ix *geofence.Index
	// replace hands a new list to the loop (SetZones).
	replace chan *geofence.Index
	// switchMu guards pending, the policy that goes with the list being
	// handed over (SetBundle).
	switchMu sync.Mutex
	pending  *policySwitch
	kin      geofence.Kinematics
	heading  int // role index of position.heading, or -1
	// prev is the fix before the current one, for the path check.
	prev fix
	// needClear is how many consecutive clear fixes leaving suppression
	// takes now: ClearFixes, or more if a zone that held the vehicle since
	// it was last clear asks for more.
	needClear int
	// cur and last are the fixes handed to the index, kept here so that
	// the decision path does not allocate them.
	cur, last geofence.Fix
	// steadyWall and steadyMono are the wall and monotonic clocks' readings
	// when the clock was first seen synchronised: the steady time, the
	// wall time then plus the monotonic time since, cannot be stepped.
	steadyWall time.Time
	steadyMono time.Duration
	// heldSince is the steady time (the wall time before the clock was
	// synchronised) at which a zone began to hold the vehicle; zero when
	// none holds it, or it is not known (every zone then counts).
	heldSince time.Time
}

func (g *Gateway) initZones() {
	g.z = zoneState{
		ix:        g.opts.Zones,
		replace:   make(chan *geofence.Index),
		kin:       g.d.Kinematics(),
		heading:   -1,
		needClear: g.d.ClearFixes,
	}
	for i, name := range g.dec.Roles() {
		if name == RoleHeading {
			g.z.heading = i
		}
	}
}

// Kinematics is the look-ahead's model of the vehicle.
func (d *Decision) Kinematics() geofence.Kinematics {
	return geofence.Kinematics{
		Horizon:            d.ReactionTime + d.CameraStopTime,
		MaxSpeedMps:        d.MaxPlausibleKmh / 3.6,
		MaxAccelMps2:       d.MaxAccelMps2,
		MaxLateralMps2:     d.MaxLateralMps2,
		HeadingSigmaDeg:    d.HeadingSigmaDeg,
		MinHeadingSpeedMps: d.MinHeadingSpeedKmh / 3.6,
	}
}

func (d *Decision) validateLookAhead() error {
	nonNegative := func(x float64) bool { return x >= 0 && !math.IsInf(x, 1) }
	switch {
	case !nonNegative(d.ExitMarginM):
		return errors.New("exit_margin_m must not be negative")
	case !nonNegative(d.MaxAccelMps2), !nonNegative(d.MaxLateralMps2), !nonNegative(d.MinHeadingSpeedKmh):
		return errors.New("max_accel_mps2, max_lateral_accel_mps2 and min_heading_speed_kmh must not be negative")
	case !(d.HeadingSigmaDeg >= 0 && d.HeadingSigmaDeg <= 90):
		return errors.New("heading_sigma_deg must be from 0 to 90")
	case d.ZoneClockSkew < 0:
		return errors.New("zone_clock_skew must not be negative")
	}
	return nil
}

// ZoneReachM is how far past a zone's buffer the decisions of a gateway
// with these thresholds can look: the worst accuracy allowed plus the
// largest of the exit margin, the withhold distance and the look-ahead at
// the highest plausible speed. Load builds the zone index with it, so
// that every decision is answered from the index's table.
func (d *Decision) ZoneReachM(withholdM float64) float64 {
	k := d.Kinematics()
	reach := k.MaxSpeedMps * k.Horizon.Seconds() // the speed cap bounds any acceleration
	return 2*d.MaxAccuracyM + math.Max(reach, math.Max(d.ExitMarginM, withholdM))
}

// SetZones hands a new zone list to the decision loop, which switches to
// it between two decisions and re-decides on the current fix at once. It
// returns when the loop has taken the list, or with ctx's error. A nil
// list is refused: a running gateway keeps the zones it has. Later work
// (a reload on SIGHUP, signed bundles) goes through here.
func (g *Gateway) SetZones(ctx context.Context, ix *geofence.Index) error {
	if ix == nil {
		return errors.New("set zones: no zone list: the gateway keeps the zones it has")
	}
	select {
	case g.z.replace <- ix:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("set zones: %w", ctx.Err())
	}
}

// onZones switches to a new zone list. Hysteresis starts again: the clear
// fixes counted so far were clear of the old zones.
func (g *Gateway) onZones(now time.Time, ix *geofence.Index) {
	g.z.switchMu.Lock()
	ps := g.z.pending
	g.z.pending = nil
	g.z.switchMu.Unlock()
	if ps != nil && ps.ix == ix {
		g.switchPolicy(ps.p)
	}
	g.z.ix = ix
	g.stats.ZonesReplaced++
	g.clearCount = 0
	g.log.Info("zones replaced", "zones", ix.Len())
	if g.manual || g.tr.distrusted || !g.fix.valid || !g.fresh(now, g.fix.t) {
		g.evaluate(now, false)
		return
	}
	// Re-decide on the current fix, without counting it again.
	a := g.z.ix.Assess(g.geoFix(&g.z.cur, now, g.fix), &g.z.kin)
	g.withhold = !a.PositionClear
	switch {
	case a.Inside:
		g.hold(a.ClearFixes)
		g.setState(now, Inside, "inside a zone")
	case a.Ahead || !a.Clear:
		g.hold(a.ClearFixes)
		if a.Ahead || g.state != Clear {
			g.setState(now, Near, "within a buffer or the look-ahead")
		}
	}
}

// hold notes that a zone keeps the vehicle from being clear.
func (g *Gateway) hold(clearFixes int) {
	g.clearCount = 0
	g.z.needClear = max(g.z.needClear, clearFixes)
}

// geoFix fills dst with a fix as the zone index takes it and returns it.
func (g *Gateway) geoFix(dst *geofence.Fix, now time.Time, f fix) *geofence.Fix {
	v, known := g.speedMps(now)
	heading := math.NaN()
	if i := g.z.heading; known && i >= 0 {
		h := g.latest[i]
		if !h.Time.IsZero() && absDur(f.t.Sub(h.Time)) <= g.d.MaxFixAge && !math.IsNaN(h.Phys) && !math.IsInf(h.Phys, 0) {
			heading = h.Phys
		}
	}
	if !known {
		v = math.NaN() // the index takes the worst speed and every direction
	}
	gf := dst
	*gf = geofence.Fix{
		Lat: f.lat, Lon: f.lon,
		AccuracyM:   f.margin,
		SpeedMps:    v,
		HeadingDeg:  heading,
		ExitMarginM: g.d.ExitMarginM,
		WithholdM:   g.d.WithholdMarginM,
		Skew:        g.d.ZoneClockSkew,
	}
	gf.At, gf.Through = g.windowSpan(now)
	return gf
}

// windowSpan is the span of time zone validity windows are judged on: a
// zone counts if its window meets it. Zero (every zone counts) on a clock
// that is not synchronised. Else it runs from the earliest to the latest
// of the wall time, the steady time (which a step of the wall clock does
// not move: a forward step cannot end a window early, a step back cannot
// start it late) and, while a zone holds the vehicle, the time it began
// to: a zone that holds the vehicle stays in force until the hysteresis
// releases it, whatever its window says meanwhile.
func (g *Gateway) windowSpan(now time.Time) (from, through time.Time) {
	if !g.clockSynced() {
		return time.Time{}, time.Time{}
	}
	z := &g.z
	if z.steadyWall.IsZero() {
		z.steadyWall, z.steadyMono = now, g.tr.mono
	}
	steady := z.steadyWall.Add(g.tr.mono - z.steadyMono)
	from, through = now, steady
	if steady.Before(now) {
		from, through = steady, now
	}
	if g.e.held {
		if z.heldSince.IsZero() {
			return time.Time{}, time.Time{} // held since a time not known: every zone
		}
		if z.heldSince.Before(from) {
			from = z.heldSince
		}
	}
	return from, through
}

// steadyNow is the steady time if the clock was seen synchronised, else
// the wall time.
func (g *Gateway) steadyNow(now time.Time) time.Time {
	if z := &g.z; !z.steadyWall.IsZero() {
		return z.steadyWall.Add(g.tr.mono - z.steadyMono)
	}
	return now
}

// crossed reports whether the path from the previous fix to this one
// passed within a buffer: a gap between fixes or a jump must not let the
// vehicle slip through a zone unseen.
func (g *Gateway) crossed(now time.Time) bool {
	prev := g.z.prev
	if prev.t.IsZero() {
		return false
	}
	if g.state == Clear && g.fix.t.Sub(prev.t) > g.d.MaxFixAge {
		return true // clear all along a gap no tick noticed: where it went is unknown
	}
	_, crossed := g.z.ix.Crossed(g.geoFix(&g.z.last, now, prev), g.geoFix(&g.z.cur, now, g.fix))
	return crossed
}

// clockSynced reports whether zone validity windows may be trusted: only
// on a clock that says it is synchronised.
func (g *Gateway) clockSynced() bool {
	return g.clock.Synced()
}

package gateway

import (
	"math"
	"time"

	"quietzone/can"
	"quietzone/geofence"
)

// Trust in GNSS and in the clock.
//
// # Every fix against the trusted ones before it
//
// A receiver can be spoofed, and a spoofer can also report the accuracy
// it likes. So no fix is judged against the one before it alone, whose
// accuracy would be forgiven again at every step (a fix moved by 4σ every
// 100 ms passes a step-by-step check: 6,800 km/h at σ = 49 m). The
// gateway keeps the trusted fixes of the last minutes at spaced ages, the
// references: the newest (the anchor), and one each of about 0.25 s,
// 0.5 s, 1 s, … 256 s ago (refSpan0 << level). A fix is consistent when,
// against every reference r,
//
//	distance(r, fix) ≤ reach(r → fix) + margin(r) + margin(fix) + trustAllowanceM
//
// where the margins are the accuracies (2σ) the receiver reported, and
// the reach is how far the vehicle can have gone since r: the wheel speed
// (vehicle.speed) integrated over time, each interval at the higher of its
// two ends and trustSpeedSlack above it, and never more than
// MaxPlausibleKmh for the time since r. An interval longer than MaxFixAge
// (the wheels fell silent) counts as if the vehicle sped up all along it
// at MaxAccelMps2; a speed that is no number, the time a restarted
// gateway was down, and everything on a profile without vehicle.speed
// count at MaxPlausibleKmh. The accuracies are thus
// forgiven once per reference, not once per step: whatever the rate of
// fixes, an accepted fix is off the truth by at most 2·margin(r) +
// margin(fix) + trustAllowanceM beyond what the wheels allow, for every r
// it was held against. The zone decisions widen every fix's margin by the
// part of that the exit margin does not cover (spoofMarginM).
//
// A fix that is not consistent is a jump: it counts as no fix, and GNSS
// is distrusted (every fix counts as no fix, Unknown, suppressed) until a
// fix is consistent again with the references, which do not move while
// distrusted.
//
// # What a spoofer can still do
//
// The reach bounds a distance, not a direction. A spoofer who moves the
// fix at no more than the wheel speed, never jumping, is consistent: a
// "drag". The worst is the track reversed at wheel speed, which parts
// from the truth at up to (1 + trustSpeedSlack) = 2.05 times the wheel
// speed: in the time the vehicle covers the exit margin (ExitMarginM,
// 50 m by default), a drag carries the fix up to 102.5 m from the truth.
// Where the profile maps a yaw rate or a steering angle, the course of
// the fixes is held against it (course.go): a reversal, a turn the
// vehicle did not make or a fix that lags is a jump within seconds; what
// is left is a rotation of the track by some 36° at once (σ = 2 m,
// 30 km/h) and then as fast as the yaw sensor's bias allows (0.5°/s).
// Without one, nothing in the vehicle tells a drag from the truth: a
// drag that starts clear of every zone can take the fix away from a
// zone the vehicle drives into.
//
// A spoof that starts while no fix comes (a dropout, a tunnel) and lands
// within the reach when fixes come back is consistent, and believed
// without a debt: the wheels bound it (a tunnel of 60 s at 50 km/h lets
// it land within 875 m), a debt there would widen the buffers for good
// after every tunnel. While the whole bus is silent the reach grows as
// the vehicle could speed up (from 50 km/h, 290 m in 10 s).
//
// A jump that comes back: consistent again is not the truth. A spoofer
// holding an offset D is consistent once the reach has grown to |D|. So a
// fix trusted again more than trustWindow after the anchor may be off the
// truth by up to its distance from the anchor plus the reach plus the
// anchor's margin: that is the debt, added to the margin of every fix
// from then on, across restarts too (nothing pays it back: a spoofer may
// hold its offset for as long as it likes). The debt widens the zone
// decisions only: it is not a tolerance of the consistency check, where a
// spoofer could use it (twice: once for the reference, once for the fix)
// to jump again unnoticed. A brief anomaly (the fix back within
// trustWindow) costs no debt: a spoofer could drag the position as far in
// that time without any jump.
//
// # The clock
//
// The fix history is judged on the frames' times, which follow the wall
// clock. A step of it, forward or back (NTP, a GNSS time correction, an
// attacker), is a discontinuity: the gateway reads a monotonic clock
// beside the wall clock (Clock.Monotonic) and a difference of more than
// stepTolerance between how far each moved since the last look is a step.
// Also a coordinate stamped more than a tick before the last fix, or a
// wall time more than a tick before it, is a step back (a clock without
// a monotonic reading, a replayed log). On a step the gateway goes
// Unknown, forgets its fix history (release takes ClearFixes fresh fixes
// again), distrusts GNSS until a fix is consistent with the references
// (whose times are moved by the step, so that the reach grows only with
// the time that passed), audits clock.step and counts it. Zone validity
// windows are judged on the wall clock and on a clock that cannot be
// stepped (zones.go).
//
// # Across a restart
//
// The distrust, the debt and the anchor are kept in the suppression state
// file (statefile.go), the anchor (a position and a time) sealed. They
// are written with every change of the saved state, not on every fix:
// the anchor of trusted GNSS goes along with the next change (and the
// final save on a stop; after a crash, the last one written), the anchor
// of distrusted GNSS does not move. The new gateway holds its first fixes
// against the anchor, as after a dropout: the time since it counts at
// MaxPlausibleKmh up to the first wheel speed (none came while it was
// down), so a spoof that goes on over a restart stays distrusted, or is
// trusted again with the debt it may hide. A clock before the anchor at
// the start went back over the restart: a clock step, audited and
// counted, and the anchor is lost (the time since it is unknown).
//
// Lost too is an anchor the state file cannot keep (no key: no position
// is ever written in the clear), and everything in a state file that
// cannot be read. Fail closed: a gateway that was distrusted, or cannot
// tell, starts distrusted without an anchor. It takes the first fix as
// a provisional anchor (not trusted: the cameras stay off) and trusts
// GNSS again only once the fixes have been consistent with it and the
// wheels for trustWindow, at a debt of lostAnchorFor at MaxPlausibleKmh
// (13 km at 400 km/h): over-suppression near any zone for the rest of
// the run. A spoof holding a larger offset over a restart without a key
// is believed; configure a key. A gateway saved with GNSS trusted but
// without a key starts as before, trusting its first fix: a spoof that
// starts while it is down, like one that starts during a dropout within
// the reach, is believed without a debt; with a key it is held against
// the anchor.

const (
	// trustAllowanceM is added to the reach from a reference for what the
	// accuracies do not cover (the antenna's lever arm, rounding).
	trustAllowanceM = 10
	// trustSpeedSlack is how much faster than the wheels say the vehicle
	// may go (tyre wear, wheel slip).
	trustSpeedSlack = 1.05
	// refLevels is how many references the gateway keeps besides the
	// anchor; level i holds a trusted fix about refSpan0 << (i-1) old.
	refLevels = 11
	refSpan0  = 250 * time.Millisecond
	// stepTolerance is how far the wall clock may move apart from the
	// monotonic clock between two looks before it counts as a step: NTP
	// slews by at most 0.5 ms/s, a manual clock read in between two of
	// its moves is off by a tick.
	stepTolerance = time.Second
)

// ref is a trusted fix kept to hold later fixes against.
type ref struct {
	lat, lon float64
	acc      float64 // the fix's accuracy margin (2σ), no debt
	t        time.Time
	ns       int64      // t in Unix nanoseconds: cheaper to compare
	odo      float64    // trust.odo when it was taken
	v        [3]float64 // the point on the unit sphere, for arcM
}

// newRef is a reference of a fix taken when the wheels' odometer said odo.
func newRef(f fix, odo float64) ref {
	return ref{lat: f.lat, lon: f.lon, acc: f.acc, t: f.t, ns: f.t.UnixNano(), odo: odo, v: unitVec(f.lat, f.lon)}
}

// unitVec is the point (lat, lon) in degrees on the unit sphere.
func unitVec(lat, lon float64) [3]float64 {
	const rad = math.Pi / 180
	sinLat, cosLat := math.Sincos(lat * rad)
	sinLon, cosLon := math.Sincos(lon * rad)
	return [3]float64{cosLat * cosLon, cosLat * sinLon, sinLat}
}

// arcM is the great-circle distance in metres between two points on the
// unit sphere, from their chord c: the arc is 2·asin(c/2), which is
// c·(1 + c²/24) to within c⁵ (3 mm at 30 km, the farthest the references
// reach at the fastest plausible speed): the trust check compares up to a
// dozen distances on every fix without a trigonometric function each.
func arcM(a, b *[3]float64) float64 {
	dx, dy, dz := a[0]-b[0], a[1]-b[1], a[2]-b[2]
	c2 := dx*dx + dy*dy + dz*dz
	return geofence.EarthRadiusM * math.Sqrt(c2) * (1 + c2/24)
}

// trust is the decision loop's trust in GNSS.
type trust struct {
	// distrusted: fixes count as no fix until one is consistent with the
	// references.
	distrusted bool
	// refs are the references, refs[0] the anchor (the last trusted
	// fix); n of them are set.
	refs [refLevels + 1]ref
	n    int
	// odo is the distance the vehicle can have covered since the start
	// (an upper bound), integrated from the wheel speed; speedAt and
	// speedMps are the last wheel speed taken into it.
	odo      float64
	speedAt  time.Time
	speedMps float64
	// restored: speedAt is the saved anchor's time, not a wheel speed,
	// and the stretch up to the first one is a restart's.
	restored bool
	// debtM is how far an accepted fix may be off the truth beyond its
	// accuracy, after GNSS was trusted again late: added to every fix's
	// margin, kept across restarts.
	debtM float64
	// provisional: the anchor was lost over a restart (no key to seal
	// it, an unreadable state file, a clock that went back); refs[0] is
	// then the first of the fixes consistent with each other since, not
	// a trusted one, and trusting GNSS again costs lostDebtM.
	provisional bool
	lostDebtM   float64
	// wall and mono are the clocks' readings at the last look for a step.
	wall time.Time
	mono time.Duration
}

// anchor returns the last trusted fix, if any.
func (tr *trust) anchor() (ref, bool) {
	if tr.n == 0 {
		return ref{}, false
	}
	return tr.refs[0], true
}

// push makes r the anchor and moves older references up the levels: a
// level is replaced by the one below it once older than its span.
func (tr *trust) push(r ref) {
	for i := refLevels; i >= 1; i-- {
		if i > tr.n {
			continue
		}
		if i == tr.n || r.ns-tr.refs[i].ns > int64(refSpan0<<(i-1)) {
			tr.refs[i] = tr.refs[i-1]
		}
	}
	tr.refs[0] = r
	tr.n = min(tr.n+1, len(tr.refs))
}

// reset keeps r alone as the anchor.
func (tr *trust) reset(r ref) {
	tr.refs[0], tr.n = r, 1
}

// shift moves the references' times and the last wheel speed's by d: the
// wall clock they were taken on stepped by d.
func (tr *trust) shift(d time.Duration) {
	for i := range tr.n {
		r := &tr.refs[i]
		r.t = r.t.Add(d)
		r.ns = r.t.UnixNano()
	}
	if !tr.speedAt.IsZero() {
		tr.speedAt = tr.speedAt.Add(d)
	}
}

// lostAnchorFor is how long a vehicle is taken to have driven at
// MaxPlausibleKmh when the anchor was lost over a restart: the debt of
// trusting GNSS again without one.
const lostAnchorFor = 2 * time.Minute

// restoreTrust takes the trust in GNSS saved before a restart. With an
// anchor, the time since it counts at MaxPlausibleKmh (no wheel speed
// came while the gateway was down), and a clock now before the anchor
// went back over the restart: a clock step, and the anchor is lost.
// Distrusted without an anchor, or a state that could not be read
// (lost), distrusts GNSS without one.
func (g *Gateway) restoreTrust(now time.Time, s Saved, lost bool) {
	tr := &g.tr
	tr.debtM = s.DebtM
	a := s.Anchor
	switch {
	case lost:
		g.loseAnchor(now, "the saved state is unreadable")
	case !a.At.IsZero() && (!isPosition(a.Lat, a.Lon) || !(a.AccM >= 0) || math.IsInf(a.AccM, 1)):
		g.loseAnchor(now, "the saved anchor is not a fix")
	case !a.At.IsZero() && now.Before(a.At.Add(-g.d.Tick)):
		g.stats.ClockSteps++
		g.audit(now, AuditClockStep, "the clock went back over a restart")
		g.log.Warn("clock went back over a restart: the last trusted fix is lost")
		g.loseAnchor(now, "the clock went back over a restart")
	case !a.At.IsZero():
		tr.odo = 0
		tr.reset(newRef(fix{lat: a.Lat, lon: a.Lon, acc: a.AccM, t: a.At}, 0))
		tr.speedAt, tr.speedMps, tr.restored = a.At, g.d.MaxPlausibleKmh/3.6, true
		if s.Distrusted {
			g.distrust(now, "distrusted before the restart")
		}
	case s.Distrusted:
		g.loseAnchor(now, "distrusted before the restart, and no key kept the last trusted fix")
	}
}

// loseAnchor distrusts GNSS with no anchor to hold fixes against: it is
// trusted again once fixes have been consistent with each other and the
// wheels for trustWindow, at a debt of lostAnchorFor at MaxPlausibleKmh.
func (g *Gateway) loseAnchor(now time.Time, reason string) {
	tr := &g.tr
	tr.n, tr.provisional = 0, true
	tr.lostDebtM = g.d.MaxPlausibleKmh / 3.6 * lostAnchorFor.Seconds()
	g.distrust(now, reason)
}

// settled reports whether f, while the anchor is provisional, follows
// fixes consistent with each other for trustWindow. A fix that is not
// consistent with the provisional anchor becomes the new one.
func (g *Gateway) settled(f fix) bool {
	tr := &g.tr
	if tr.n == 0 || !g.consistent(f) {
		tr.reset(newRef(f, tr.odo))
		return false
	}
	return f.t.Sub(tr.refs[0].t) >= g.trustWindow()
}

// onWheelSpeed integrates a wheel speed (km/h) taken at t into odo.
func (g *Gateway) onWheelSpeed(kmh float64, t time.Time) {
	tr := &g.tr
	v := kmh / 3.6
	if !(v >= 0) || math.IsInf(v, 1) {
		v = g.d.MaxPlausibleKmh / 3.6
	}
	if !tr.speedAt.IsZero() {
		if dt := t.Sub(tr.speedAt); dt > 0 { // back: a clock step, the interval is lost in the allowance
			if tr.restored {
				tr.odo += g.d.MaxPlausibleKmh / 3.6 * dt.Seconds() // the vehicle's, while the gateway was down
			} else {
				tr.odo += g.reachMps(max(v, tr.speedMps), dt) * dt.Seconds()
			}
		}
	}
	tr.speedAt, tr.speedMps, tr.restored = t, v, false
}

// reachMps is the speed an interval of length dt, which began at a wheel
// speed of v (or ended at it, whichever is higher), counts at: v and a
// slack for wheel slip on a short interval; on one longer than MaxFixAge,
// when the wheels fell silent, as fast as the vehicle could have sped up
// from v (MaxAccelMps2). Never more than MaxPlausibleKmh.
func (g *Gateway) reachMps(v float64, dt time.Duration) float64 {
	vmax := g.d.MaxPlausibleKmh / 3.6
	if dt > g.d.MaxFixAge {
		return math.Min(v*trustSpeedSlack+g.d.MaxAccelMps2*dt.Seconds()/2, vmax)
	}
	return math.Min(v*trustSpeedSlack, vmax)
}

// reachFrom is how far from reference r the vehicle can be at t: what
// the wheels allow, and never more than MaxPlausibleKmh allows.
func (g *Gateway) reachFrom(r *ref, t time.Time) float64 {
	tr := &g.tr
	limit := g.d.MaxPlausibleKmh / 3.6 * math.Max(0, t.Sub(r.t).Seconds())
	if g.speed < 0 || tr.speedAt.IsZero() {
		return limit
	}
	d := tr.odo - r.odo
	if dt := t.Sub(tr.speedAt); dt > 0 {
		if tr.restored {
			d += limit // since the anchor, and the gateway was down
		} else {
			d += g.reachMps(tr.speedMps, dt) * dt.Seconds()
		}
	}
	return math.Min(d, limit)
}

// consistent reports whether f (its accuracy margin set) can be where the
// vehicle is, given every reference and the distance covered since it.
func (g *Gateway) consistent(f fix) bool {
	tr := &g.tr
	if tr.n == 0 {
		return true
	}
	v := unitVec(f.lat, f.lon)
	// reachFrom for every reference at once: the odometer's bound at f.t
	// is the same for all of them.
	vmax := g.d.MaxPlausibleKmh / 3.6
	wheels := g.speed >= 0 && !tr.speedAt.IsZero() && !tr.restored
	odoAt := tr.odo
	if dt := f.t.Sub(tr.speedAt); wheels && dt > 0 {
		odoAt += g.reachMps(tr.speedMps, dt) * dt.Seconds()
	}
	ns := f.t.UnixNano()
	for i := range tr.n {
		r := &tr.refs[i]
		reach := vmax * max(0, float64(ns-r.ns)/1e9)
		if wheels {
			reach = min(reach, odoAt-r.odo)
		}
		if arcM(&r.v, &v) > reach+r.acc+f.acc+trustAllowanceM {
			return false
		}
	}
	return true
}

// spoofMarginM is how much a consistent fix may be off the truth beyond
// its own margin and the exit margin, however a spoofer places it: the
// references' accuracies, forgiven once (twice the largest: the
// reference's own error and the check's tolerance for it) and the
// allowance. Zero for receivers of a few metres.
func (g *Gateway) spoofMarginM() float64 {
	tr := &g.tr
	worst := 0.0
	for i := range tr.n {
		worst = max(worst, tr.refs[i].acc)
	}
	return max(0, 2*worst+trustAllowanceM-g.d.ExitMarginM)
}

// trusted notes an accepted fix f as the anchor. Trusted again after
// more than trustWindow, f may be off the truth by up to its distance from
// the anchor plus the reach plus the anchor's margin: that is added to
// the debt.
func (g *Gateway) trusted(now time.Time, f *fix) {
	tr := &g.tr
	if tr.distrusted {
		a, ok := tr.anchor()
		switch {
		case tr.provisional:
			tr.provisional = false
			tr.debtM += tr.lostDebtM
		case ok && f.t.Sub(a.t) > g.trustWindow():
			tr.debtM += geofence.DistanceM(a.lat, a.lon, f.lat, f.lon) + g.reachFrom(&a, f.t) + a.acc
		}
		tr.distrusted = false
		g.audit(now, AuditGNSSTrusted, "a fix consistent with the wheels")
		g.log.Info("GNSS trusted again: a fix consistent with the trusted ones and the wheel speed")
	}
	tr.push(newRef(*f, tr.odo))
}

// trustWindow is how long after the last trusted fix GNSS may be trusted
// again without a debt: a spoofer could have dragged the position as far
// in that time without a jump.
func (g *Gateway) trustWindow() time.Duration { return 2 * g.d.MaxFixAge }

// distrust stops trusting GNSS until a fix is consistent with the
// references.
func (g *Gateway) distrust(now time.Time, reason string) {
	if g.tr.distrusted {
		return
	}
	g.tr.distrusted = true
	g.stats.GNSSDistrusts++
	g.audit(now, AuditGNSSDistrusted, reason)
	g.log.Warn("GNSS distrusted until a fix is consistent with the trusted ones and the wheel speed", "reason", reason)
}

// watchClock compares how far the wall clock and the monotonic clock
// moved since the last look; a difference beyond stepTolerance is a step
// of the wall clock, handled as clockStep. The loop looks on every tick:
// reading CLOCK_BOOTTIME is a system call, too dear for every frame, and
// a step back is seen at once in the frames' times anyway.
func (g *Gateway) watchClock(now time.Time) {
	tr := &g.tr
	mono := g.clock.Monotonic()
	if !tr.wall.IsZero() {
		if step := now.Sub(tr.wall) - (mono - tr.mono); step > stepTolerance || step < -stepTolerance {
			g.clockStep(now, step, "the wall clock moved apart from the monotonic clock")
		}
	}
	tr.wall, tr.mono = now, mono
}

// clockStep handles a step of the wall clock by step (back: negative):
// suppress, restart the fix history and distrust GNSS until a fix is
// consistent with the references again (a spoofer may step the clock of
// a receiver it controls). The references' times and the last wheel
// speed's are moved by the step, so that the time since them, and the
// reach, go on growing from where they were.
func (g *Gateway) clockStep(now time.Time, step time.Duration, reason string) {
	g.stats.ClockSteps++
	g.audit(now, AuditClockStep, reason)
	g.log.Warn("clock stepped: fix history restarted", "step", step.Round(time.Millisecond), "reason", reason)
	tr := &g.tr
	tr.shift(step)
	g.fix, g.z.prev, g.lastFixAt = fix{}, fix{}, time.Time{}
	// The coordinates taken before the step are not half of a fix after it.
	g.latest[g.lat] = can.Value{Role: g.lat}
	g.latest[g.lon] = can.Value{Role: g.lon}
	if tr.n > 0 {
		g.distrust(now, "clock stepped")
	}
	g.clearCount = 0
	g.setState(now, Unknown, "the clock stepped")
}

// steppedBack reports whether t is well before the last fix: more than a
// tick, the tolerance between the times of one fix's coordinates.
func (g *Gateway) steppedBack(t time.Time) bool {
	return !g.lastFixAt.IsZero() && t.Before(g.lastFixAt.Add(-g.d.Tick))
}

// stepBackTo handles a step back seen in the times of the frames: t, a
// coordinate's time or the wall time, is before the last fix.
func (g *Gateway) stepBackTo(now, t time.Time, reason string) {
	g.clockStep(now, t.Sub(g.lastFixAt), reason)
}

package gateway

import (
	"math"
	"time"
)

// Trust in GNSS and in the clock.
//
// The fix history (the last fix, the last position, the fix before) is
// judged on the frames' times. Two things break it:
//
// A step of the clock back (NTP, a GNSS time correction): every frame
// after it is stamped before the last fix, and the last fix has a
// negative age. A coordinate stamped more than a tick before the last fix,
// or a time more than a tick before the last fix, is a discontinuity:
// the gateway goes Unknown, forgets its fix history (release takes
// ClearFixes fresh fixes again), audits clock.step and counts it. A step
// forward needs nothing of its own: the last fix is then older than
// MaxFixAge, stale.
//
// A jump (a fix implying more than MaxPlausibleKmh since the last
// position): spoofing starts with one, and the spoofed fixes after it are
// consistent with each other. So after a jump, and after a clock step,
// GNSS is distrusted: every fix counts as no fix (Unknown, suppressed)
// until one is consistent with the last trusted fix, the anchor: its
// distance from the anchor must be within the distance the vehicle can
// have covered since, plus both fixes' accuracy (2σ) and
// trustAllowanceM. That distance is the wheel speed (vehicle.speed)
// integrated over time, each interval at the higher of its two ends and
// trustSpeedSlack above it; an interval longer than MaxFixAge, or a
// speed that is no number, counts at MaxPlausibleKmh, and so does all of
// it on a profile without vehicle.speed.
//
// What a spoofer can still do: the bound is a distance, not a direction.
// A position within the path length the vehicle has driven since the
// anchor (plus the accuracies and the allowance) is believed. A spoofer
// holding a constant offset D from the truth is believed once the length
// driven since the anchor exceeds |displacement + D|, the displacement
// being the vehicle's true one from the anchor: never on a straight road
// (the path length is then the displacement), but eventually on a
// winding or circling route, e.g. some 2 km of driving around inside a
// large site against a 1 km offset. Closing that needs a direction not
// taken from GNSS (a yaw rate or steering angle), which the profiles do
// not map. Without vehicle.speed the bound grows at MaxPlausibleKmh and a
// 2 km spoof is believed after some 18 s. A step of the clock forward
// while distrusted counts as time driven at MaxPlausibleKmh. The anchor
// is not kept across a restart: the first fix after a start is trusted.
// Once believed, a fix is judged as any other: release still takes
// ClearFixes clear fixes.
const (
	// trustAllowanceM is added to the reach from the anchor for what the
	// accuracies do not cover (the antenna's lever arm, rounding).
	trustAllowanceM = 10
	// trustSpeedSlack is how much faster than the wheels say the vehicle
	// may go (tyre wear, wheel slip).
	trustSpeedSlack = 1.05
)

// trust is the decision loop's trust in GNSS.
type trust struct {
	// distrusted: fixes count as no fix until one is consistent with
	// anchor.
	distrusted bool
	// anchor is the last trusted fix, anchorOdo odo when it was taken.
	anchor    fix
	anchorOdo float64
	// odo is the distance the vehicle can have covered since the start
	// (an upper bound), integrated from the wheel speed; speedAt and
	// speedMps are the last wheel speed taken into it.
	odo      float64
	speedAt  time.Time
	speedMps float64
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
			tr.odo += g.reachMps(max(v, tr.speedMps), dt) * dt.Seconds()
		}
	}
	tr.speedAt, tr.speedMps = t, v
}

// reachMps is the speed an interval of length dt counts at.
func (g *Gateway) reachMps(v float64, dt time.Duration) float64 {
	if dt > g.d.MaxFixAge {
		return g.d.MaxPlausibleKmh / 3.6
	}
	return math.Min(v*trustSpeedSlack, g.d.MaxPlausibleKmh/3.6)
}

// reachM is how far from the anchor the vehicle can be at t.
func (g *Gateway) reachM(t time.Time) float64 {
	tr := &g.tr
	if g.speed < 0 || tr.speedAt.IsZero() {
		return g.d.MaxPlausibleKmh / 3.6 * math.Max(0, t.Sub(tr.anchor.t).Seconds())
	}
	d := tr.odo - tr.anchorOdo
	if dt := t.Sub(tr.speedAt); dt > 0 {
		d += g.reachMps(tr.speedMps, dt) * dt.Seconds()
	}
	return d
}

// consistent reports whether f (with its accuracy margin set) can be
// where the vehicle is, given the anchor and the distance covered since.
func (g *Gateway) consistent(f fix) bool {
	a := g.tr.anchor
	if a.t.IsZero() {
		return true // no fix trusted yet: nothing to hold it against
	}
	return distanceM(a.lat, a.lon, f.lat, f.lon) <= g.reachM(f.t)+a.acc+f.acc+trustAllowanceM
}

// trusted notes an accepted fix as the anchor.
func (g *Gateway) trusted(now time.Time, f fix) {
	if g.tr.distrusted {
		g.tr.distrusted = false
		g.audit(now, AuditGNSSTrusted, "a fix consistent with the wheels")
		g.log.Info("GNSS trusted again: a fix consistent with the last trusted one and the wheel speed")
	}
	g.tr.anchor, g.tr.anchorOdo = f, g.tr.odo
}

// distrust stops trusting GNSS until a fix is consistent with the anchor.
func (g *Gateway) distrust(now time.Time, reason string) {
	if g.tr.distrusted {
		return
	}
	g.tr.distrusted = true
	g.stats.GNSSDistrusts++
	g.audit(now, AuditGNSSDistrusted, reason)
	g.log.Warn("GNSS distrusted until a fix is consistent with the last trusted one and the wheel speed", "reason", reason)
}

// clockStep handles a step of the clock back: suppress, restart the fix
// history and distrust GNSS until a fix is consistent with the anchor
// again (a spoofer may step the clock of a receiver it controls).
func (g *Gateway) clockStep(now time.Time, reason string) {
	g.stats.ClockSteps++
	g.audit(now, AuditClockStep, reason)
	g.log.Warn("clock stepped back: fix history restarted", "reason", reason)
	g.fix, g.lastPos, g.z.prev, g.lastFixAt = fix{}, fix{}, fix{}, time.Time{}
	g.tr.speedAt = time.Time{} // integrated again from the next wheel speed
	if !g.tr.anchor.t.IsZero() {
		g.distrust(now, "clock stepped back")
		// The time before the step is lost: the reach grows from now,
		// less than the vehicle may have covered (more suppression, not
		// less).
		g.tr.anchor.t = now
	}
	g.clearCount = 0
	g.setState(now, Unknown, "the clock stepped back")
}

// steppedBack reports whether t is well before the last fix: more than a
// tick, the tolerance between the times of one fix's coordinates.
func (g *Gateway) steppedBack(t time.Time) bool {
	return !g.lastFixAt.IsZero() && t.Before(g.lastFixAt.Add(-g.d.Tick))
}

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
// distance from the anchor must be within the reach, the distance the
// vehicle can have covered since, plus both fixes' margins (accuracy, 2σ)
// and trustAllowanceM. The reach is the wheel speed (vehicle.speed)
// integrated over time, each interval at the higher of its two ends and
// trustSpeedSlack above it; an interval longer than MaxFixAge, or a speed
// that is no number, counts at MaxPlausibleKmh, and so does all of it on
// a profile without vehicle.speed.
//
// Consistent is not the truth: the reach bounds a distance, not a
// direction, and a spoofer holding an offset D from the truth is
// consistent once the reach has grown to |D| (at once when D points back
// towards the anchor). So a fix trusted again more than trustWindow
// after the anchor may be off the truth by up to its distance from the
// anchor plus the reach plus the anchor's margin: that is the debt, added
// to the margin of every fix from then on, across restarts too (nothing
// pays it back: a spoofer may hold its offset for as long as it likes). The zones are judged with it (suppressed within the debt of a
// buffer, the path checks and the withheld position too), so that a
// spoofer who keeps its offset cannot take the cameras into a zone. A
// brief anomaly (the fix back within trustWindow) costs no debt: a
// spoofer could drag the position as far in that time without any jump.
//
// A fix more than trustWindow after the anchor (after a dropout) is held
// against it too: a jump by the wheels is a jump.
//
// What is left: a spoof that starts during a dropout, within the reach
// of the anchor when fixes come back, is believed without a debt (a debt
// there would widen the buffers for good after every tunnel). A spoofer
// who never jumps, dragging the position away at
// a plausible speed, is not detected (the exit margin absorbs a drag of
// up to ExitMarginM); the debt only grows, and a long spoof widens every
// buffer for good (over-suppression, never a leak). A step of the clock
// forward while distrusted counts as time driven at MaxPlausibleKmh.
//
// Across a restart: the distrust, the debt and the anchor are kept in the
// suppression state file (statefile.go), the anchor (a position and a
// time) sealed with the key that seals the stored bundle, else the
// queue's. They are written with every change of the saved state, not
// on every fix: the anchor of trusted GNSS goes along with the next
// change (and the final save on a stop; after a crash, the last one
// written), the anchor of distrusted GNSS does not move. The new gateway holds its first fixes against the
// anchor, as after a dropout: the time since it counts at
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
	// debtM is how far an accepted fix may be off the truth beyond its
	// accuracy, after GNSS was trusted again late: added to every fix's
	// margin, kept across restarts.
	debtM float64
	// provisional: the anchor was lost over a restart (no key to seal
	// it, an unreadable state file, a clock that went back); anchor is
	// then the first of the fixes consistent with each other since, not
	// a trusted one, and trusting GNSS again costs lostDebtM.
	provisional bool
	lostDebtM   float64
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
	case !a.At.IsZero() && now.Before(a.At.Add(-g.d.Tick)):
		g.stats.ClockSteps++
		g.audit(now, AuditClockStep, "the clock went back over a restart")
		g.log.Warn("clock went back over a restart: the last trusted fix is lost")
		g.loseAnchor(now, "the clock went back over a restart")
	case !a.At.IsZero():
		tr.anchor = fix{lat: a.Lat, lon: a.Lon, acc: a.AccM, t: a.At, valid: true}
		tr.anchorOdo, tr.odo = 0, 0
		tr.speedAt, tr.speedMps = a.At, g.d.MaxPlausibleKmh/3.6
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
	tr.anchor, tr.provisional = fix{}, true
	tr.lostDebtM = g.d.MaxPlausibleKmh / 3.6 * lostAnchorFor.Seconds()
	g.distrust(now, reason)
}

// settled reports whether f, while the anchor is provisional, follows
// fixes consistent with each other for trustWindow. A fix that is not
// consistent with the provisional anchor becomes the new one.
func (g *Gateway) settled(f fix) bool {
	tr := &g.tr
	if tr.anchor.t.IsZero() || !g.consistent(f) {
		tr.anchor, tr.anchorOdo = f, tr.odo
		return false
	}
	return f.t.Sub(tr.anchor.t) >= g.trustWindow()
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

// trusted notes an accepted fix f as the anchor. Trusted again after
// more than trustWindow, f may be off the truth by up to its distance from
// the anchor plus the reach plus the anchor's margin: that is added to
// the debt, and to f's margin.
func (g *Gateway) trusted(now time.Time, f *fix) {
	tr := &g.tr
	if tr.distrusted {
		tr.distrusted = false
		if tr.provisional {
			tr.provisional = false
			tr.debtM += tr.lostDebtM
			f.acc = g.accuracyMargin() + tr.debtM
		} else if a := tr.anchor; !a.t.IsZero() && f.t.Sub(a.t) > g.trustWindow() {
			tr.debtM += distanceM(a.lat, a.lon, f.lat, f.lon) + g.reachM(f.t) + a.acc
			f.acc = g.accuracyMargin() + tr.debtM
		}
		g.audit(now, AuditGNSSTrusted, "a fix consistent with the wheels")
		g.log.Info("GNSS trusted again: a fix consistent with the last trusted one and the wheel speed")
	}
	tr.anchor, tr.anchorOdo = *f, tr.odo
}

// trustWindow is how long after the last trusted fix GNSS may be trusted
// again without a debt: a spoofer could have dragged the position as far
// in that time without a jump.
func (g *Gateway) trustWindow() time.Duration { return 2 * g.d.MaxFixAge }

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
//
// t is the time after the step: the times of the anchor and the last
// wheel speed still before the step are moved back by as much, so that
// the time since them, and the reach, go on growing from where they were.
func (g *Gateway) clockStep(now, t time.Time, reason string) {
	g.stats.ClockSteps++
	g.audit(now, AuditClockStep, reason)
	g.log.Warn("clock stepped back: fix history restarted", "reason", reason)
	back := g.lastFixAt.Sub(t)
	tr := &g.tr
	if tr.speedAt.After(t) {
		tr.speedAt = tr.speedAt.Add(-back)
	}
	if tr.anchor.t.After(t) {
		tr.anchor.t = tr.anchor.t.Add(-back)
	}
	g.fix, g.lastPos, g.z.prev, g.lastFixAt = fix{}, fix{}, fix{}, time.Time{}
	if !tr.anchor.t.IsZero() {
		g.distrust(now, "clock stepped back")
	}
	g.clearCount = 0
	g.setState(now, Unknown, "the clock stepped back")
}

// steppedBack reports whether t is well before the last fix: more than a
// tick, the tolerance between the times of one fix's coordinates.
func (g *Gateway) steppedBack(t time.Time) bool {
	return !g.lastFixAt.IsZero() && t.Before(g.lastFixAt.Add(-g.d.Tick))
}

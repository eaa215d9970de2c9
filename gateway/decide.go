package gateway

import (
	"context"
	"log/slog"
	"math"
	"time"
)

// onFix judges a new position and re-decides.
func (g *Gateway) onFix(now, t time.Time) {
	f := fix{lat: g.latest[g.lat].Phys, lon: g.latest[g.lon].Phys, t: t, acc: g.accuracyMargin()}
	v := verdictNoPosition
	if isPosition(f.lat, f.lon) {
		v = g.quality(f)
	}
	g.lastFixAt = t
	switch {
	case v != verdictOK:
	case g.tr.provisional:
		if !g.settled(f) {
			v = verdictUntrusted
		}
	case !g.consistent(f):
		// Farther from a trusted fix than the wheels, the fastest
		// plausible speed and the accuracies allow (trust.go).
		if g.tr.distrusted {
			v = verdictUntrusted
		} else {
			v = verdictJump
			g.distrust(now, "a fix the wheels and the fastest plausible speed cannot explain")
		}
	case !g.courseConsistent(f):
		// A turn the yaw rate or the steering did not make (course.go).
		v = verdictJump
		g.distrust(now, "a course the yaw rate cannot explain")
	}
	if v != verdictOK {
		g.stats.BadFixes++
		g.fix.valid = false
		g.evaluate(now, false)
		return
	}
	f.valid = true
	extra := g.spoofMarginM() // of the references f was held against
	g.trusted(now, &f)
	f.margin = f.acc + g.tr.debtM + extra
	g.z.prev = g.fix // the last good fix, even if bad ones came since
	g.fix = f
	g.stats.Fixes++
	g.evaluate(now, true)
}

// verdict is what the checks make of a fix.
type verdict uint8

const (
	verdictOK verdict = iota
	verdictNoPosition
	verdictQuality   // fix type or accuracy missing, stale or too poor
	verdictJump      // not consistent with the trusted fixes: a jump
	verdictUntrusted // GNSS distrusted and the fix not consistent with the references
)

// isPosition reports whether a coordinate pair can be a position at all.
// Exactly (0, 0) is what receivers without a fix send (Tesla's MCU does,
// and its DBC has no fix-quality signal): never a position.
func isPosition(lat, lon float64) bool {
	return !math.IsNaN(lat) && !math.IsNaN(lon) && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180 &&
		(lat != 0 || lon != 0)
}

// quality checks a position's fix type and accuracy. Where it is against
// the trusted fixes before it is trust.go's.
func (g *Gateway) quality(f fix) verdict {
	if g.fixType >= 0 {
		q := g.latest[g.fixType]
		if q.Time.IsZero() || absDur(f.t.Sub(q.Time)) > g.d.MaxFixAge || q.Raw < g.d.MinFixType {
			return verdictQuality
		}
	}
	if g.accuracy >= 0 {
		a := g.latest[g.accuracy]
		// An accuracy of exactly 0 is no estimate at all, not a perfect one.
		if a.Time.IsZero() || absDur(f.t.Sub(a.Time)) > g.d.MaxFixAge || !(a.Phys > 0 && a.Phys <= g.d.MaxAccuracyM) {
			return verdictQuality
		}
	}
	if a, ok := g.tr.anchor(); ok && !f.t.After(a.t) {
		return verdictQuality // not after the last trusted fix
	}
	return verdictOK
}

// fresh reports whether a value taken at t is fresh at now: at most
// MaxFixAge old, and not from the future (by more than a tick): a
// negative age is a clock that stepped back, not a fresh value.
func (g *Gateway) fresh(now, t time.Time) bool {
	age := now.Sub(t)
	return !t.IsZero() && age <= g.d.MaxFixAge && age >= -g.d.Tick
}

// accuracyMargin is how far the true position may be from the fix.
func (g *Gateway) accuracyMargin() float64 {
	if g.accuracy < 0 {
		return g.d.MaxAccuracyM * 2
	}
	return 2 * g.latest[g.accuracy].Phys // two sigma
}

// speedMps returns the freshest known speed; known is false when there is
// none, and the speed is then the assumed one.
func (g *Gateway) speedMps(now time.Time) (v float64, known bool) {
	for _, i := range [...]int{g.speed, g.gpsSpeed} {
		if i < 0 {
			continue
		}
		v := g.latest[i]
		if g.fresh(now, v.Time) && v.Phys >= 0 && !math.IsNaN(v.Phys) {
			return v.Phys / 3.6, true
		}
	}
	return g.d.AssumedSpeedKmh / 3.6, false
}

// evaluate re-decides the state; zone relations change only on a new fix.
//
// A fix in a zone's buffer (widened by its accuracy), or whose look-ahead
// reaches one, or whose path from the previous fix passed through one,
// suppresses at once. Leaving suppression takes ClearFixes consecutive
// clear fixes (more if a zone's policy asks): each outside every buffer
// by ExitMarginM beyond its accuracy, with nothing ahead and a clear path
// since the one before. A fix between the buffer and the exit margin
// keeps a suppressed gateway suppressed and leaves a clear one clear.
func (g *Gateway) evaluate(now time.Time, newFix bool) {
	switch {
	case g.manual:
		g.clearCount = 0
		g.setState(now, Manual, "privacy switch")
		return
	case g.z.ix == nil:
		g.setState(now, Unknown, "no zones")
		return
	case g.fix.valid && g.steppedBack(now):
		g.stepBackTo(now, now, "the time before the last fix")
		return
	case g.tr.distrusted:
		g.clearCount = 0
		g.setState(now, Unknown, "GNSS distrusted after a jump or a clock step")
		return
	case !g.fix.valid || !g.fresh(now, g.fix.t):
		g.clearCount = 0
		g.setState(now, Unknown, "no fresh plausible fix")
		return
	case !newFix:
		if g.state == Manual { // switch released: wait for clear fixes
			g.setState(now, Unknown, "privacy switch released")
		}
		return
	}
	a := g.z.ix.Assess(g.geoFix(&g.z.cur, now, g.fix), &g.z.kin)
	g.withhold = !a.PositionClear
	crossed := g.crossed(now)
	if crossed {
		g.stats.PathsCrossed++
	}
	switch {
	case a.Inside:
		g.hold(a.ClearFixes)
		g.setState(now, Inside, "inside a zone")
	case a.Ahead:
		g.hold(a.ClearFixes)
		g.setState(now, Near, "within a buffer or the look-ahead")
	case crossed:
		g.hold(a.ClearFixes)
		g.setState(now, Near, "the path since the last fix crossed a buffer")
	case !a.Clear:
		g.hold(a.ClearFixes)
		if g.state != Clear {
			g.setState(now, Near, "within the exit margin")
		}
	default:
		if g.state != Clear && g.parkedHold(now) {
			g.clearCount = 0 // a parked vehicle held by a zone cannot have left it
			g.stats.Enforcement.ParkedFixes++
			return
		}
		g.clearCount++
		switch {
		case g.state == Clear:
		case g.clearCount >= g.z.needClear:
			g.z.needClear = g.d.ClearFixes
			g.setState(now, Clear, "consecutive clear fixes")
		case g.state == Inside:
			g.setState(now, Near, "leaving a zone")
		}
	}
}

func (g *Gateway) setState(now time.Time, s State, reason string) {
	if s == g.state {
		return
	}
	g.account(now)
	from := g.state
	g.state = s
	g.noteState(now, s)
	g.stats.Transitions++
	// Guarded, so that a change does not allocate when nobody listens.
	if g.log.Enabled(context.Background(), slog.LevelInfo) {
		g.log.Info("state changed", "from", from, "to", s, "reason", reason)
	}
	if from.Suppressed() != s.Suppressed() {
		g.applyCameras(now, s.Suppressed())
		if s.Suppressed() && g.opts.Audit != nil {
			g.audit(now, AuditSuppressionOn, s.String()+": "+reason)
		} else if !s.Suppressed() {
			g.audit(now, AuditSuppressionOff, reason)
		}
	}
	switch {
	case s == Manual:
		g.audit(now, AuditManualOn, reason)
	case from == Manual:
		g.audit(now, AuditManualOff, reason)
	}
}

// account adds the time since the last change to the current state.
func (g *Gateway) account(now time.Time) {
	if now.After(g.since) {
		g.stats.TimeIn[g.state] += now.Sub(g.since)
	}
	g.since = now
}

func (g *Gateway) applyCameras(now time.Time, suppress bool) {
	if err := g.opts.Cameras.Apply(now, suppress); err != nil {
		g.stats.CameraErrors++
		g.log.Error("camera command failed", "suppress", suppress, "err", err)
	}
	g.showIndicator(suppress)
}

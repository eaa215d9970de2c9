package gateway

import (
	"math"
	"quietzone/geofence"
	"time"
)

// onFix judges a new position and re-decides.
func (g *Gateway) onFix(now, t time.Time) {
	f := fix{lat: g.latest[g.lat].Phys, lon: g.latest[g.lon].Phys, t: t}
	ok := g.plausible(f)
	g.lastRaw = f
	if !ok {
		g.stats.BadFixes++
		g.fix.valid = false
		g.evaluate(now, false)
		return
	}
	f.valid = true
	g.fix = f
	g.stats.Fixes++
	g.evaluate(now, true)
}

// plausible checks a raw fix against range, quality, accuracy and the
// speed it implies since the previous one.
func (g *Gateway) plausible(f fix) bool {
	if math.IsNaN(f.lat) || math.IsNaN(f.lon) || f.lat < -90 || f.lat > 90 || f.lon < -180 || f.lon > 180 {
		return false
	}
	if g.fixType >= 0 {
		q := g.latest[g.fixType]
		if q.Time.IsZero() || absDur(f.t.Sub(q.Time)) > g.d.MaxFixAge || q.Raw < g.d.MinFixType {
			return false
		}
	}
	if g.accuracy >= 0 {
		a := g.latest[g.accuracy]
		if a.Time.IsZero() || absDur(f.t.Sub(a.Time)) > g.d.MaxFixAge || !(a.Phys <= g.d.MaxAccuracyM) {
			return false
		}
	}
	if p := g.lastRaw; !p.t.IsZero() {
		dt := f.t.Sub(p.t).Seconds()
		if dt <= 0 {
			return false
		}
		// Two fixes each off by up to two sigma may differ by 4 sigma
		// without the vehicle moving: only the rest counts as motion.
		moved := math.Max(0, distanceM(p.lat, p.lon, f.lat, f.lon)-2*g.accuracyMargin())
		if moved/dt > g.d.MaxPlausibleKmh/3.6 {
			return false
		}
	}
	return true
}

// accuracyMargin is how far the true position may be from the fix.
func (g *Gateway) accuracyMargin() float64 {
	if g.accuracy < 0 {
		return g.d.MaxAccuracyM * 2
	}
	return 2 * g.latest[g.accuracy].Phys // two sigma
}

// speedMps returns the freshest known speed, or the assumed one.
func (g *Gateway) speedMps(now time.Time) float64 {
	for _, i := range [...]int{g.speed, g.gpsSpeed} {
		if i < 0 {
			continue
		}
		v := g.latest[i]
		if !v.Time.IsZero() && now.Sub(v.Time) <= g.d.MaxFixAge && v.Phys >= 0 && !math.IsNaN(v.Phys) {
			return v.Phys / 3.6
		}
	}
	return g.d.AssumedSpeedKmh / 3.6
}

// evaluate re-decides the state; zone relations change only on a new fix.
func (g *Gateway) evaluate(now time.Time, newFix bool) {
	switch {
	case g.manual:
		g.clearCount = 0
		g.setState(now, Manual, "privacy switch")
		return
	case g.opts.Zones == nil:
		g.setState(now, Unknown, "no zones")
		return
	case !g.fix.valid || now.Sub(g.fix.t) > g.d.MaxFixAge:
		g.clearCount = 0
		g.setState(now, Unknown, "no fresh plausible fix")
		return
	case !newFix:
		if g.state == Manual { // switch released: wait for clear fixes
			g.setState(now, Unknown, "privacy switch released")
		}
		return
	}
	acc := g.accuracyMargin()
	look := g.speedMps(now)*(g.d.ReactionTime+g.d.CameraStopTime).Seconds() + acc
	withhold := g.d.WithholdMarginM + acc
	r := g.opts.Zones.Query(g.fix.lat, g.fix.lon, math.Max(look, withhold))
	g.withhold = r.MarginM <= withhold
	switch {
	case r.Inside:
		g.clearCount = 0
		g.setState(now, Inside, "inside a zone")
	case r.MarginM <= look:
		g.clearCount = 0
		g.setState(now, Near, "within a buffer or the look-ahead")
	default:
		g.clearCount++
		switch {
		case g.state == Clear:
		case g.clearCount >= g.d.ClearFixes:
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
	g.stats.Transitions++
	g.log.Info("state changed", "from", from, "to", s, "reason", reason)
	if from.Suppressed() != s.Suppressed() {
		g.applyCameras(now, s.Suppressed())
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
}

// distanceM is the great-circle distance between two points in metres.
func distanceM(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * geofence.EarthRadiusM * math.Asin(math.Min(1, math.Sqrt(a)))
}

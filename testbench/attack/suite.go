package attack

import (
	"math"
	"slices"
	"sort"
	"strings"

	"quietzone/testbench/internal/zonemap"
)

// The attacks below read only the observer's view (Observer, Trip) and
// the policy's public parameters; score.go holds them against the truth.

// Gap is a stretch of a trip with no published position between two that
// were: where the vehicle withheld its location.
type Gap struct {
	Trip   *Trip
	T0, T1 float64 // the record times of the positions before and after
	P0, P1 zonemap.XY
}

// minGap is the least time between two published positions that the
// observer takes for a gap: three position periods, and 20 s.
func (o *Observer) minGap() float64 {
	return math.Max(20, 3*o.Public.PositionPeriod.Seconds())
}

// Gaps returns a trip's gaps.
func (o *Observer) Gaps(t *Trip) []Gap {
	var out []Gap
	for i := 1; i < len(t.Positions); i++ {
		a, b := t.Positions[i-1], t.Positions[i]
		if b.T-a.T > o.minGap() {
			out = append(out, Gap{Trip: t, T0: a.T, T1: b.T, P0: a.P, P1: b.P})
		}
	}
	return out
}

// Mid is the chord's middle.
func (g Gap) Mid() zonemap.XY { return zonemap.XY{X: (g.P0.X + g.P1.X) / 2, Y: (g.P0.Y + g.P1.Y) / 2} }

// speedAt is the observer's best value of the vehicle's speed (m/s) at
// t: the published samples interpolated, a merged record's value taken
// for the end of its quantum (it is the latest of it). ok is false when
// the trip published no speed at all.
func (o *Observer) speedAt(tr *Trip, t float64) (float64, bool) {
	if len(tr.Speeds) == 0 {
		return 0, false
	}
	q := o.Public.Quantum.Seconds()
	at := func(i int) float64 {
		s := tr.Speeds[i]
		if s.Merged {
			return s.T + q
		}
		return s.T
	}
	// The samples are sorted by record time; merged ones shift by at most
	// a quantum: a linear scan near t is enough.
	i := sort.Search(len(tr.Speeds), func(i int) bool { return tr.Speeds[i].T >= t-q })
	bestBefore, bestAfter := -1, -1
	for j := max(0, i-2); j < len(tr.Speeds) && tr.Speeds[j].T <= t+2*q; j++ {
		x := at(j)
		if x <= t && (bestBefore < 0 || x > at(bestBefore)) {
			bestBefore = j
		}
		if x >= t && (bestAfter < 0 || x < at(bestAfter)) {
			bestAfter = j
		}
	}
	switch {
	case bestBefore >= 0 && bestAfter >= 0:
		a, b := at(bestBefore), at(bestAfter)
		va, vb := tr.Speeds[bestBefore].V, tr.Speeds[bestAfter].V
		if b == a {
			return va / 3.6, true
		}
		return (va + (vb-va)*(t-a)/(b-a)) / 3.6, true
	case bestBefore >= 0:
		return tr.Speeds[bestBefore].V / 3.6, true
	case bestAfter >= 0:
		return tr.Speeds[bestAfter].V / 3.6, true
	}
	// Nothing near: the nearest sample in time.
	j := min(i, len(tr.Speeds)-1)
	return tr.Speeds[j].V / 3.6, true
}

// travelled integrates the speed from t0 to t1 a second at a time (not
// over more than a day: no drive is that long).
func (o *Observer) travelled(tr *Trip, t0, t1 float64) (float64, bool) {
	if !(t1-t0 < 86400) || !(math.Abs(t0) < 1e12) {
		return 0, false
	}
	d := 0.0
	for t := t0; t < t1; t++ {
		v, ok := o.speedAt(tr, t+0.5)
		if !ok {
			return 0, false
		}
		d += v * math.Min(1, t1-t)
	}
	return d, true
}

// DeadReckon places the vehicle at time s inside a gap: along the chord
// (the road as the published positions fit it), as far as the speeds
// published for the gap say it had come. Without a speed inside the gap,
// at constant speed: the baseline (the speeds at its ends are the
// baseline's knowledge too, not the gap's).
func (o *Observer) DeadReckon(g Gap, s float64) zonemap.XY {
	inside := false
	for _, x := range g.Trip.Speeds {
		inside = inside || x.T > g.T0 && x.T < g.T1
	}
	if !inside {
		return EndsOnly(g, s)
	}
	total, ok := o.travelled(g.Trip, g.T0, g.T1)
	if !ok || total <= 0 {
		return EndsOnly(g, s)
	}
	d, _ := o.travelled(g.Trip, g.T0, s)
	f := math.Min(1, d/total)
	return zonemap.XY{X: g.P0.X + f*(g.P1.X-g.P0.X), Y: g.P0.Y + f*(g.P1.Y-g.P0.Y)}
}

// TrendReckon is dead reckoning on the speed trend: the last speed
// published before the gap (v0) and the first after it (v1), however far
// from it, and one change of speed inside it, placed so that the distance
// driven is the chord's: v0 for t1 seconds, then v1. A vehicle whose
// speed changed once across the gap (a speed limit) is placed exactly;
// when no such change fits, or v0 = v1, the speeds scale to the chord.
func (o *Observer) TrendReckon(g Gap, s float64) zonemap.XY {
	v0, v1 := math.NaN(), math.NaN()
	for _, x := range g.Trip.Speeds {
		if x.Merged {
			continue
		}
		if x.T <= g.T0 {
			v0 = x.V / 3.6
		} else if x.T >= g.T1 && math.IsNaN(v1) {
			v1 = x.V / 3.6
		}
	}
	T, L := g.T1-g.T0, dist(g.P0, g.P1)
	if math.IsNaN(v0) || math.IsNaN(v1) || T <= 0 || L <= 0 {
		return EndsOnly(g, s)
	}
	at := s - g.T0
	var d float64
	if t1 := (L - v1*T) / (v0 - v1); v0 != v1 && t1 >= 0 && t1 <= T {
		d = v0 * math.Min(at, t1)
		if at > t1 {
			d += v1 * (at - t1)
		}
	} else {
		// No single change fits: the speed moving linearly from v0 to v1,
		// scaled to the chord.
		full := (v0 + v1) / 2 * T
		d = (v0*at + (v1-v0)*at*at/(2*T)) * L / full
	}
	f := math.Max(0, math.Min(1, d/L))
	return zonemap.XY{X: g.P0.X + f*(g.P1.X-g.P0.X), Y: g.P0.Y + f*(g.P1.Y-g.P0.Y)}
}

// EndsOnly is the baseline: knowing only the gap's ends and duration,
// the vehicle at constant speed along the chord.
func EndsOnly(g Gap, s float64) zonemap.XY {
	f := (s - g.T0) / (g.T1 - g.T0)
	return zonemap.XY{X: g.P0.X + f*(g.P1.X-g.P0.X), Y: g.P0.Y + f*(g.P1.Y-g.P0.Y)}
}

// PositionAt is where the observer puts the vehicle at time t from the
// trip's published positions (dead reckoning inside gaps); ok is false
// outside them.
func (o *Observer) PositionAt(tr *Trip, t float64) (zonemap.XY, bool) {
	ps := tr.Positions
	if len(ps) == 0 || t < ps[0].T-o.minGap() || t > ps[len(ps)-1].T+o.minGap() {
		return zonemap.XY{}, false
	}
	i := sort.Search(len(ps), func(i int) bool { return ps[i].T >= t })
	switch {
	case i == 0:
		return ps[0].P, true
	case i == len(ps):
		return ps[len(ps)-1].P, true
	}
	g := Gap{Trip: tr, T0: ps[i-1].T, T1: ps[i].T, P0: ps[i-1].P, P1: ps[i].P}
	if g.T1-g.T0 > o.minGap() {
		return o.DeadReckon(g, t), true
	}
	return EndsOnly(g, t), true
}

// Estimate is a place an attack points at, with how many items (gaps,
// events, trips) support it.
type Estimate struct {
	P       zonemap.XY
	RadiusM float64 // a fitted circle's radius, 0 if none
	Support int
}

// Centre methods, in the order reported.
var CentreMethods = []string{"gap-ends circle", "chord bisectors", "slowest point (dead reckoning)", "timing signatures", "alarms (dead reckoning)", "hidden trip ends (rings)", "hidden trip ends (multilateration)"}

// clusterRadius groups gaps and events into places: they belong to one
// place when within this of its mode.
// (at least 2 km; more when the gaps' chords are longer: a place as wide
// as what it hides).
const clusterRadius = 2000.0

// placeRadius is the radius gaps are grouped by: the larger of
// clusterRadius and the median chord.
func placeRadius(gaps []Gap) float64 {
	var ls []float64
	for _, g := range gaps {
		ls = append(ls, dist(g.P0, g.P1))
	}
	if len(ls) == 0 {
		return clusterRadius
	}
	return math.Max(clusterRadius, median(ls))
}

// place is a cluster of gaps that point at one place: the gaps and
// their ends.
type place struct {
	gaps []Gap
	ends []zonemap.XY
}

// places gathers the trips' gaps and clusters them by their middles
// (mean shift with radius h, placeRadius), keeping the clusters of at
// least two gaps and one in a hundred trips.
func (o *Observer) places(trips []*Trip) (gaps []Gap, places []place, h float64) {
	for _, t := range trips {
		gaps = append(gaps, o.Gaps(t)...)
	}
	mids := make([]zonemap.XY, len(gaps))
	for i, g := range gaps {
		mids[i] = g.Mid()
	}
	minSupport := max(2, len(trips)/100)
	h = placeRadius(gaps)
	for _, cl := range meanShift(mids, h) {
		if len(cl) < minSupport {
			continue
		}
		var pl place
		for _, i := range cl {
			pl.ends = append(pl.ends, gaps[i].P0, gaps[i].P1)
			pl.gaps = append(pl.gaps, gaps[i])
		}
		places = append(places, pl)
	}
	return gaps, places, h
}

// Centres fits where the zones are from the trips' gaps and publish
// timing, every method on its own.
func (o *Observer) Centres(trips []*Trip) map[string][]Estimate {
	out := map[string][]Estimate{}
	gaps, places, h := o.places(trips)
	for _, pl := range places {
		n := len(pl.gaps)
		if c, r, ok := kasa(pl.ends); ok && r < 4*h {
			out["gap-ends circle"] = append(out["gap-ends circle"], Estimate{P: c, RadiusM: r, Support: n})
		} else {
			out["gap-ends circle"] = append(out["gap-ends circle"], Estimate{P: centroid(pl.ends), Support: n})
		}
		out["chord bisectors"] = append(out["chord bisectors"], Estimate{P: bisectors(pl.gaps), Support: n})
	}
	// Timing signatures: where the vehicle was when the publishes broke
	// their rhythm.
	var ev []zonemap.XY
	for _, t := range trips {
		for _, at := range o.Signatures(t) {
			if p, ok := o.PositionAt(t, at); ok {
				ev = append(ev, p)
			}
		}
	}
	out["timing signatures"] = rings(ev, max(5, len(ev)/30))
	// Where a vehicle slowed down inside a gap (below half its trip's
	// median speed, by the speeds published for it), placed by dead
	// reckoning: a visit stops inside the zone, not in its cover.
	var slow []zonemap.XY
	for _, g := range gaps {
		var vs []float64
		for _, x := range g.Trip.Speeds {
			if !x.Merged {
				vs = append(vs, x.V)
			}
		}
		ref := median(vs)
		best, at := math.Inf(1), 0.0
		for _, x := range g.Trip.Speeds {
			if x.T > g.T0 && x.T < g.T1 && x.V < best {
				best, at = x.V, x.T
				if x.Merged {
					at += o.Public.Quantum.Seconds() / 2
				}
			}
		}
		if !math.IsInf(best, 1) && best < ref/2 {
			slow = append(slow, o.DeadReckon(g, math.Min(at, g.T1)))
		}
	}
	for _, cl := range meanShift(slow, clusterRadius) {
		if len(cl) < 2 {
			continue
		}
		pts := make([]zonemap.XY, len(cl))
		for k, i := range cl {
			pts[k] = slow[i]
		}
		out["slowest point (dead reckoning)"] = append(out["slowest point (dead reckoning)"], Estimate{P: centroid(pts), Support: len(cl)})
	}
	// Trips whose start or end was hidden: their published ends ring what
	// hides them, and how far the vehicle went unseen places where it
	// stopped (a visit parks inside the zone).
	hidden := o.hiddenEnds(trips)
	hp := make([]zonemap.XY, len(hidden))
	for i, a := range hidden {
		hp[i] = a.P
	}
	out["hidden trip ends (rings)"] = rings(hp, max(5, len(hp)/30))
	// Each ring's anchors, multilaterated from its centre.
	for _, r := range out["hidden trip ends (rings)"] {
		var as []Anchor
		for i, a := range hidden {
			if math.Abs(dist(hp[i], r.P)-r.RadiusM) < 1000 {
				as = append(as, a)
			}
		}
		if len(as) >= 3 {
			p := multilaterate(as, r.P, func(a Anchor) float64 { return a.Dist })
			out["hidden trip ends (multilateration)"] = append(out["hidden trip ends (multilateration)"], Estimate{P: p, Support: len(as)})
		}
	}
	// Alarms raised inside a gap, placed by dead reckoning.
	var al []zonemap.XY
	for _, g := range gaps {
		for _, at := range g.Trip.AlarmTimes {
			if at > g.T0 && at < g.T1 {
				al = append(al, o.DeadReckon(g, at))
			}
		}
	}
	for _, cl := range meanShift(al, clusterRadius) {
		pts := make([]zonemap.XY, len(cl))
		for k, i := range cl {
			pts[k] = al[i]
		}
		out["alarms (dead reckoning)"] = append(out["alarms (dead reckoning)"], Estimate{P: centroid(pts), Support: len(cl)})
	}
	return out
}

// hiddenEnds are the anchors of trips whose start or end the vehicle
// hid: more than 300 m went unseen.
func (o *Observer) hiddenEnds(trips []*Trip) []Anchor {
	tail := parkedTail(trips)
	var hidden []Anchor
	for _, t := range trips {
		s, e := o.Anchors(t, tail)
		for _, a := range []*Anchor{s, e} {
			if a != nil && a.DistT > 300 {
				hidden = append(hidden, *a)
			}
		}
	}
	return hidden
}

// bisectors is the point nearest, in least squares, to the perpendicular
// bisectors of the gaps' chords: the centre of a disc every chord
// crosses. Chords all along one road fix only that road's coordinate:
// the other is their middles'. (Dead reckoning cannot better a chord's
// middle here: a disc's chord is symmetric in distance, and the middle in
// distance along a straight chord is its middle whatever the speeds.)
func bisectors(gs []Gap) zonemap.XY {
	var a, b, c, bx, by float64
	var mid zonemap.XY
	for _, g := range gs {
		m := g.Mid()
		ux, uy := g.P1.X-g.P0.X, g.P1.Y-g.P0.Y
		l := math.Hypot(ux, uy)
		if l < 1 {
			continue
		}
		ux, uy = ux/l, uy/l
		a, b, c = a+ux*ux, b+ux*uy, c+uy*uy
		d := m.X*ux + m.Y*uy
		bx, by = bx+ux*d, by+uy*d
		mid.X, mid.Y = mid.X+m.X, mid.Y+m.Y
	}
	n := float64(len(gs))
	if n == 0 {
		return mid
	}
	mid.X, mid.Y = mid.X/n, mid.Y/n
	// A little ridge towards the middles: a direction no chord
	// constrains takes theirs.
	lam := 1e-3 * (a + c)
	a, c = a+lam, c+lam
	bx, by = bx+lam*mid.X, by+lam*mid.Y
	det := a*c - b*b
	if math.Abs(det) < 1e-12 {
		return mid
	}
	return zonemap.XY{X: (c*bx - b*by) / det, Y: (a*by - b*bx) / det}
}

// rings finds the centres of circles many of pts lie on (a circular
// Hough transform): on a 200 m grid, for radii of 300 m to 3.5 km in 150
// m rings, the count of points in a ring less the mean of the rings on
// either side; peaks at least 3 km apart, each with at least min points
// of excess. Where a vehicle's publishes break their rhythm at a fixed
// distance from a zone, the ring is that distance around it.
func rings(pts []zonemap.XY, min int) []Estimate {
	if len(pts) < 3 {
		return nil
	}
	const cell, width, rMax = 200.0, 250.0, 3500.0
	lo, hi := pts[0], pts[0]
	for _, p := range pts {
		lo.X, lo.Y = math.Min(lo.X, p.X), math.Min(lo.Y, p.Y)
		hi.X, hi.Y = math.Max(hi.X, p.X), math.Max(hi.Y, p.Y)
	}
	if !(hi.X-lo.X < 100_000 && hi.Y-lo.Y < 100_000) { // spread over more than 100 × 100 km: no rings
		return nil
	}
	nx, ny := int((hi.X-lo.X)/cell)+1, int((hi.Y-lo.Y)/cell)+1
	if nx*ny*len(pts) > 2e9 { // too many points for the grid: no rings
		return nil
	}
	nb := int(math.Ceil(rMax/width)) + 2
	type peak struct {
		c      zonemap.XY
		r      float64
		excess float64
	}
	var peaks []peak
	hist := make([]float64, nb)
	for i := range nx {
		for j := range ny {
			c := zonemap.XY{X: lo.X + float64(i)*cell, Y: lo.Y + float64(j)*cell}
			clear(hist)
			for _, p := range pts {
				if b := int(dist(p, c) / width); b < nb {
					hist[b]++
				}
			}
			best := peak{c: c}
			// A ring two bins wide against the two bins on either side.
			for b := 2; b+3 < nb; b++ {
				ring := hist[b] + hist[b+1]
				if e := ring - (hist[b-2]+hist[b-1]+hist[b+2]+hist[b+3])/2; e > best.excess {
					best.excess, best.r = e, (float64(b)+1)*width
				}
			}
			if best.excess >= float64(min) {
				peaks = append(peaks, best)
			}
		}
	}
	sort.Slice(peaks, func(i, j int) bool { return peaks[i].excess > peaks[j].excess })
	var out []Estimate
	for _, p := range peaks {
		if len(out) > 0 && p.excess < peaks[0].excess/3 {
			break // noise beside the rings found
		}
		far := true
		for _, e := range out {
			if dist(e.P, p.c) < 3000 {
				far = false
				break
			}
		}
		if far {
			out = append(out, Estimate{P: p.c, RadiusM: p.r, Support: int(p.excess)})
		}
	}
	return out
}

// Cadence is the observer's estimate of the vehicle's publish period: the
// most common interval between telemetry publishes, to the second.
func (o *Observer) Cadence(trips []*Trip) float64 {
	counts := map[int]int{}
	for _, t := range trips {
		for i := 1; i < len(t.Telemetry); i++ {
			if d := int(math.Round(t.Telemetry[i].T - t.Telemetry[i-1].T)); d >= 2 {
				counts[d]++
			}
		}
	}
	best, n := 30, 0
	for d, c := range counts {
		if c > n || c == n && d < best {
			best, n = d, c
		}
	}
	return float64(best)
}

// Signatures are the times a trip's publishes broke their rhythm the way
// a release does: a silence longer than two cadences ended by several
// publishes at once (what was held, let go when the vehicle got far
// enough). Off-phase publishes and bursts alone happen everywhere (start
// up, batches filling early) and only blur the rings.
func (o *Observer) Signatures(t *Trip) []float64 {
	cad := o.cadence
	if cad <= 0 {
		cad = 30
	}
	var out []float64
	ps := t.Telemetry
	for i := 1; i+1 < len(ps); i++ {
		if ps[i].T-ps[i-1].T > 2*cad && ps[i+1].T-ps[i].T < 1.5 {
			out = append(out, ps[i].T)
		}
	}
	return out
}

// modePhase is the most common phase of the publishes against the
// cadence, to the second.
func modePhase(ps []Publish, cad float64) float64 {
	counts := map[int]int{}
	best, n := 0, 0
	for _, p := range ps {
		k := int(math.Round(math.Mod(p.T, cad)))
		counts[k]++
		if counts[k] > n {
			best, n = k, counts[k]
		}
	}
	return float64(best)
}

// PassFeatures are what a passive observer takes from a trip's publish
// times and sizes alone (no payload): each larger the more the trip looks
// like one that passed a zone.
var PassFeatures = []string{"longest silence", "publishes within 1.5 s", "off-phase publishes", "smallest publish", "size spread", "interval spread", "alarm and status publishes", "bytes per second dip", "silences ended by a burst", "smallest inner publish", "smallest publish but the last"}

// Features computes PassFeatures for a trip.
func (o *Observer) Features(t *Trip) []float64 {
	f := make([]float64, len(PassFeatures))
	ps := t.Telemetry
	cad := o.cadence
	if cad <= 0 {
		cad = 30
	}
	begin, end := t.Begin(), t.End()
	if len(ps) == 0 {
		f[0] = end - begin
		return f
	}
	// Longest silence, from the trip's start to its end.
	prev := begin
	if math.IsNaN(prev) {
		prev = ps[0].T
	}
	for _, p := range ps {
		f[0] = math.Max(f[0], p.T-prev)
		prev = p.T
	}
	if !math.IsNaN(end) {
		f[0] = math.Max(f[0], end-prev)
	}
	phase := modePhase(ps, cad)
	var sizes, ivals []float64
	for i, p := range ps {
		if i > 0 {
			if p.T-ps[i-1].T < 1.5 {
				f[1]++
			}
			ivals = append(ivals, p.T-ps[i-1].T)
		}
		if math.Abs(math.Remainder(p.T-phase, cad)) > 2 {
			f[2]++
		}
		sizes = append(sizes, float64(p.Bytes))
	}
	med := median(sizes)
	// The smallest publish but the first and the last (a trip's start and
	// its final flush are small anywhere).
	inner := sizes
	if len(sizes) > 2 {
		inner = sizes[1 : len(sizes)-1]
	}
	f[3] = -minOf(sizes) / math.Max(med, 1)
	f[9] = -minOf(inner) / math.Max(med, 1)
	f[10] = -minOf(sizes[:max(1, len(sizes)-1)]) / math.Max(med, 1)
	f[4] = stddev(sizes) / math.Max(med, 1)
	if len(ivals) > 1 {
		f[5] = stddev(ivals) / math.Max(median(ivals), 1)
	}
	f[6] = float64(len(t.Alarms) + len(t.Statuses))
	// The least bytes in any two-cadence window against the trip's rate.
	if dur := ps[len(ps)-1].T - ps[0].T; dur > 4*cad && dur < 86400 && math.Abs(ps[0].T) < 1e12 {
		rate := 0.0
		for _, p := range ps {
			rate += float64(p.Bytes)
		}
		rate /= dur
		lo := math.Inf(1)
		for w := ps[0].T; w+2*cad <= ps[len(ps)-1].T; w += cad / 2 {
			b := 0.0
			for _, p := range ps {
				if p.T >= w && p.T < w+2*cad {
					b += float64(p.Bytes)
				}
			}
			lo = math.Min(lo, b/(2*cad))
		}
		f[7] = 1 - lo/math.Max(rate, 1e-9)
	}
	f[8] = float64(len(o.Signatures(t)))
	return f
}

// Anchor is where a trip's published track begins or ends, and how far
// the vehicle went between it and the trip's start or end, by the
// published speeds (Dist) or by time at the trip's median speed (DistT).
type Anchor struct {
	P           zonemap.XY
	Dist, DistT float64
	Start       bool
	// Speeds: Dist is from published speeds, not from time alone.
	Speeds bool
	// Back is the direction, away from the published track, in which the
	// road leaves it at P (unit; zero if the track is too short).
	Back zonemap.XY
}

// backFrom is the unit direction from the first published position at
// least 400 m from p towards p: the road's, extended past p.
func backFrom(p zonemap.XY, ps []Point) zonemap.XY {
	for _, q := range ps {
		if d := dist(p, q.P); d >= 400 {
			return zonemap.XY{X: (p.X - q.P.X) / d, Y: (p.Y - q.P.Y) / d}
		}
	}
	return zonemap.XY{}
}

// parkedTail is how long a vehicle stays online after it stopped, as its
// trips whose ends were published show (the median of the time from the
// last record at speed 0 after moving to the offline word); 0 if none do.
func parkedTail(trips []*Trip) float64 {
	var tails []float64
	for _, t := range trips {
		if math.IsNaN(t.Offline) || len(t.Speeds) == 0 || len(t.Positions) == 0 {
			continue
		}
		last := t.Speeds[len(t.Speeds)-1]
		// Published to the end: the last record is not long before the
		// offline word, and the vehicle stood at its end.
		if last.V != 0 || t.Offline-last.T > 5 {
			continue
		}
		stop := math.NaN()
		for i := len(t.Speeds) - 1; i >= 0 && t.Speeds[i].V == 0; i-- {
			stop = t.Speeds[i].T
		}
		if !math.IsNaN(stop) {
			tails = append(tails, t.Offline-stop)
		}
	}
	if len(tails) == 0 {
		return 0
	}
	return median(tails)
}

// Anchors are a trip's two ends as the observer sees them; tail is the
// vehicle's parkedTail.
func (o *Observer) Anchors(t *Trip, tail float64) (start, end *Anchor) {
	if len(t.Positions) == 0 {
		return nil, nil
	}
	var vs []float64
	for _, s := range t.Speeds {
		if !s.Merged && s.V > 5 {
			vs = append(vs, s.V/3.6)
		}
	}
	vmed := 50 / 3.6
	if len(vs) > 0 {
		vmed = median(vs)
	}
	first, last := t.Positions[0], t.Positions[len(t.Positions)-1]
	if begin := t.Begin(); !math.IsNaN(begin) {
		a := &Anchor{P: first.P, Start: true, DistT: math.Max(0, first.T-begin) * vmed, Back: backFrom(first.P, t.Positions)}
		a.Dist = a.DistT
		if d, ok := o.travelled(t, begin, first.T); ok && hasSpeedIn(t, begin, first.T) {
			a.Dist, a.Speeds = d, true
		}
		start = a
	}
	stop := t.Last
	if !math.IsNaN(t.Offline) {
		if tail == 0 {
			// No end was published to learn the tail from: the unit
			// lingers a random time up to the policy's end_linger_s.
			tail = o.Public.EndLinger.Seconds() / 2
		}
		stop = math.Max(t.Offline-tail, last.T)
	}
	if !math.IsNaN(stop) {
		rev := slices.Clone(t.Positions)
		slices.Reverse(rev)
		a := &Anchor{P: last.P, DistT: math.Max(0, stop-last.T) * vmed, Back: backFrom(last.P, rev)}
		a.Dist = a.DistT
		// Speeds published after the last position (merged, or records
		// without one) say how far it went; past them, time does.
		if d, ok := o.travelled(t, last.T, math.Min(stop, t.Last)); ok && t.Last > last.T+o.minGap() {
			a.Dist = d + math.Max(0, stop-t.Last)*vmed
			a.Speeds = stop-t.Last < o.minGap()
		}
		end = a
	}
	return start, end
}

// Home methods, in the order reported.
var HomeMethods = []string{"published ends", "circle through the ends", "multilateration (speeds)", "multilateration (time)", "back along the road (speeds)"}

// Homes estimates where one vehicle parks overnight from its trips, in
// the order driven: each stop is the end of a trip and the start of the
// next; the overnight stops are grouped by place, the largest group is
// home, and the published ends of its stops place it — their middle,
// then the point whose distances to them best match how far the vehicle
// went unseen.
func (o *Observer) Homes(trips []*Trip) map[string]zonemap.XY {
	trips = slices.Clone(trips)
	sort.SliceStable(trips, func(i, j int) bool { return trips[i].Begin() < trips[j].Begin() })
	tail := parkedTail(trips)
	type stop struct {
		as         []Anchor
		mid        zonemap.XY
		end, dwell float64
	}
	var stops []stop
	for i := 0; i+1 < len(trips); i++ {
		_, e := o.Anchors(trips[i], tail)
		s, _ := o.Anchors(trips[i+1], tail)
		if e == nil || s == nil {
			continue
		}
		stops = append(stops, stop{as: []Anchor{*e, *s}, mid: zonemap.XY{X: (e.P.X + s.P.X) / 2, Y: (e.P.Y + s.P.Y) / 2},
			end: trips[i].End(), dwell: trips[i+1].Begin() - trips[i].End()})
	}
	if len(stops) == 0 {
		return nil
	}
	// Overnight stops (the vehicle stood at 03:00 UTC): home, as the
	// literature on location privacy has it; all of them when none is.
	var night []int
	for i, s := range stops {
		if s.dwell >= 3600 && (math.Floor((s.end+s.dwell-3*3600)/86400) > math.Floor((s.end-3*3600)/86400)) {
			night = append(night, i)
		}
	}
	if len(night) == 0 {
		for i := range stops {
			night = append(night, i)
		}
	}
	mids := make([]zonemap.XY, len(night))
	for k, i := range night {
		mids[k] = stops[i].mid
	}
	var best []int
	for _, c := range meanShift(mids, 5000) {
		if len(c) > len(best) {
			best = c
		}
	}
	for k := range best {
		best[k] = night[best[k]]
	}
	var near []Anchor
	var np []zonemap.XY
	for _, i := range best {
		near = append(near, stops[i].as...)
		for _, a := range stops[i].as {
			np = append(np, a.P)
		}
	}
	out := map[string]zonemap.XY{"published ends": geoMedian(np)}
	// Where a vehicle hides its trips' ends to a distance, the published
	// ends lie around what it hides.
	if c, r, ok := kasa(np); ok && r < 5000 {
		out["circle through the ends"] = c
	}
	// By speeds: the anchors placed by speeds alone, when three are.
	var sped []Anchor
	for _, a := range near {
		if a.Speeds {
			sped = append(sped, a)
		}
	}
	if len(sped) < 3 {
		sped = near
	}
	out["multilateration (speeds)"] = multilaterate(sped, out["published ends"], func(a Anchor) float64 { return a.Dist })
	// Each anchor placed by speeds, followed back along its road.
	var back []zonemap.XY
	for _, a := range sped {
		if a.Back != (zonemap.XY{}) {
			back = append(back, zonemap.XY{X: a.P.X + a.Back.X*a.Dist, Y: a.P.Y + a.Back.Y*a.Dist})
		}
	}
	if len(back) > 0 {
		out["back along the road (speeds)"] = geoMedian(back)
	}
	out["multilateration (time)"] = multilaterate(near, out["published ends"], func(a Anchor) float64 { return a.DistT })
	return out
}

// hasSpeedIn reports whether a trip published a speed between t0 and t1.
func hasSpeedIn(t *Trip, t0, t1 float64) bool {
	for _, s := range t.Speeds {
		if s.T >= t0-1 && s.T <= t1 {
			return true
		}
	}
	return false
}

// multilaterate finds h minimising Σ (|h − P| − d)² by a coarse grid
// around start, then finer ones.
func multilaterate(as []Anchor, start zonemap.XY, d func(Anchor) float64) zonemap.XY {
	cost := func(h zonemap.XY) float64 {
		s := 0.0
		for _, a := range as {
			e := dist(h, a.P) - d(a)
			s += e * e
		}
		return s
	}
	best := start
	for _, step := range []float64{200, 50, 10, 2} {
		c := best
		bc := cost(c)
		for i := -15; i <= 15; i++ {
			for j := -15; j <= 15; j++ {
				p := zonemap.XY{X: c.X + float64(i)*step, Y: c.Y + float64(j)*step}
				if v := cost(p); v < bc {
					best, bc = p, v
				}
			}
		}
	}
	return best
}

// Candidate is a place where trips withheld their location: a zone, or a
// decoy made to look like one. Features are what might tell them apart,
// each larger the more it looks like a real zone (DecoyFeatures).
type Candidate struct {
	Estimate
	Gaps     int
	Features []float64
}

// DecoyFeatures name Candidate.Features.
var DecoyFeatures = []string{"gaps", "seconds per metre of chord", "slowness (1/merged speed)", "alarms per gap", "status publishes per gap", "suppressions counted around a gap", "hidden trip ends near it", "radius", "publishes per minute in gaps", "bytes per minute in gaps", "share of passing trips with a gap", "audit events counted around a gap"}

// Candidates are the places the gaps point at, each with its features.
func (o *Observer) Candidates(trips []*Trip) []Candidate {
	var out []Candidate
	hidden := o.hiddenEnds(trips)
	_, places, h := o.places(trips)
	for _, pl := range places {
		cg := pl.gaps
		c := Candidate{Gaps: len(cg), Features: make([]float64, len(DecoyFeatures))}
		c.P, c.Support = bisectors(cg), len(cg)
		if _, r, ok := kasa(pl.ends); ok && r < 4*h {
			c.RadiusM = r
		}
		var spm, slow, alarms, status, audits, auditAll float64
		nslow := 0
		for _, g := range cg {
			l := dist(g.P0, g.P1)
			spm += (g.T1 - g.T0) / math.Max(l, 50)
			for _, s := range g.Trip.Speeds {
				if s.Merged && s.T >= g.T0 && s.T < g.T1 {
					slow += 1 / math.Max(s.V, 1)
					nslow++
				}
			}
			for _, a := range g.Trip.Alarms {
				if a > g.T0 && a < g.T1+o.Public.Quantum.Seconds()*2 {
					alarms++
				}
			}
			for _, a := range g.Trip.Statuses {
				if a > g.T0 && a < g.T1+o.Public.Quantum.Seconds()*2 {
					status++
				}
			}
			audits += o.auditDelta(g.Trip.Vehicle, (g.T0+g.T1)/2, "suppress")
			auditAll += o.auditDelta(g.Trip.Vehicle, (g.T0+g.T1)/2, "")
		}
		n := float64(len(cg))
		c.Features[0] = n
		c.Features[1] = spm / n
		if nslow > 0 {
			c.Features[2] = slow / float64(nslow)
		}
		c.Features[3] = alarms / n
		c.Features[4] = status / n
		c.Features[5] = audits / n
		c.Features[11] = auditAll / n
		// Trips whose start or end was hidden near it: a visit's is, a
		// decoy's only by chance.
		r := math.Max(c.RadiusM, 1000)
		for _, a := range hidden {
			if dist(a.P, c.P) < r+2000 {
				c.Features[6]++
			}
		}
		c.Features[7] = c.RadiusM
		// What the wire carried while the vehicle was in it.
		var pubs, bytes, secs float64
		for _, g := range cg {
			secs += g.T1 - g.T0
			for _, p := range g.Trip.Telemetry {
				if p.T > g.T0 && p.T <= g.T1 {
					pubs++
					bytes += float64(p.Bytes)
				}
			}
		}
		if secs > 0 {
			c.Features[8] = 60 * pubs / secs
			c.Features[9] = 60 * bytes / secs
		}
		// Of the trips whose published track passes within its radius,
		// the share that withheld there.
		passing, withGap := 0, 0
		for _, t := range trips {
			near := false
			for _, p := range t.Positions {
				if dist(p.P, c.P) < r+500 {
					near = true
					break
				}
			}
			if !near {
				continue
			}
			passing++
			for _, g := range cg {
				if g.Trip == t {
					withGap++
					break
				}
			}
		}
		if passing > 0 {
			c.Features[10] = float64(withGap) / float64(passing)
		}
		out = append(out, c)
	}
	return out
}

// auditDelta is how much a vehicle's audit counts whose names hold word
// ("" for all) went up between the last summary it published before t and
// the first after: what happened while it was there, to within the
// summaries' schedule.
func (o *Observer) auditDelta(vehicle string, t float64, word string) float64 {
	as := o.audits[vehicle]
	i := sort.Search(len(as), func(i int) bool { return as[i].T > t })
	if i == len(as) {
		return 0
	}
	var prev map[string]float64
	if i > 0 {
		prev = as[i-1].Counts
	}
	d := 0.0
	for k, v := range as[i].Counts {
		if strings.Contains(k, word) && v > prev[k] {
			d += v - prev[k]
		}
	}
	return d
}

// meanShift groups points around the modes of their density (a flat
// kernel of radius h), largest group first.
func meanShift(pts []zonemap.XY, h float64) [][]int {
	if len(pts) == 0 {
		return nil
	}
	// Seeds on a grid of h/2 cells, not every point: the modes are the
	// same and the cost is the cells'.
	type cell struct{ x, y int }
	seeds := map[cell]zonemap.XY{}
	for _, p := range pts {
		k := cell{int(math.Floor(p.X / (h / 2))), int(math.Floor(p.Y / (h / 2)))}
		if _, ok := seeds[k]; !ok {
			seeds[k] = p
		}
	}
	var modes []zonemap.XY
	for _, s := range seeds {
		m := s
		for range 50 {
			var c zonemap.XY
			n := 0
			for _, p := range pts {
				if dist(p, m) <= h {
					c.X, c.Y, n = c.X+p.X, c.Y+p.Y, n+1
				}
			}
			if n == 0 {
				break
			}
			c.X, c.Y = c.X/float64(n), c.Y/float64(n)
			moved := dist(c, m)
			m = c
			if moved < 1 {
				break
			}
		}
		dup := false
		for _, q := range modes {
			if dist(q, m) < h/2 {
				dup = true
				break
			}
		}
		if !dup {
			modes = append(modes, m)
		}
	}
	groups := make([][]int, len(modes))
	for i, p := range pts {
		best := 0
		for k := range modes {
			if dist(p, modes[k]) < dist(p, modes[best]) {
				best = k
			}
		}
		groups[best] = append(groups[best], i)
	}
	var out [][]int
	for _, g := range groups {
		if len(g) > 0 {
			out = append(out, g)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// kasa fits a circle to pts by least squares (Kåsa).
func kasa(pts []zonemap.XY) (zonemap.XY, float64, bool) {
	if len(pts) < 3 {
		return zonemap.XY{}, 0, false
	}
	// Centred on the points' mean, for conditioning.
	m := centroid(pts)
	var sxx, sxy, syy, sx, sy, sxz, syz, sz, n float64
	for _, q := range pts {
		p := zonemap.XY{X: q.X - m.X, Y: q.Y - m.Y}
		z := p.X*p.X + p.Y*p.Y
		sxx, sxy, syy = sxx+p.X*p.X, sxy+p.X*p.Y, syy+p.Y*p.Y
		sx, sy, n = sx+p.X, sy+p.Y, n+1
		sxz, syz, sz = sxz+p.X*z, syz+p.Y*z, sz+z
	}
	a := [3][4]float64{{sxx, sxy, sx, -sxz}, {sxy, syy, sy, -syz}, {sx, sy, n, -sz}}
	for c := range 3 {
		piv := c
		for r := c + 1; r < 3; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[piv][c]) {
				piv = r
			}
		}
		a[c], a[piv] = a[piv], a[c]
		if math.Abs(a[c][c]) < 1e-9*math.Max(1, sxx+syy) {
			return zonemap.XY{}, 0, false
		}
		for r := range 3 {
			if r != c {
				k := a[r][c] / a[c][c]
				for j := c; j < 4; j++ {
					a[r][j] -= k * a[c][j]
				}
			}
		}
	}
	d, e, f := a[0][3]/a[0][0], a[1][3]/a[1][1], a[2][3]/a[2][2]
	cx, cy := -d/2, -e/2
	r2 := cx*cx + cy*cy - f
	if !(r2 > 0) {
		return zonemap.XY{}, 0, false
	}
	return zonemap.XY{X: cx + m.X, Y: cy + m.Y}, math.Sqrt(r2), true
}

func centroid(pts []zonemap.XY) zonemap.XY {
	var c zonemap.XY
	for _, p := range pts {
		c.X, c.Y = c.X+p.X, c.Y+p.Y
	}
	if len(pts) > 0 {
		c.X, c.Y = c.X/float64(len(pts)), c.Y/float64(len(pts))
	}
	return c
}

// geoMedian is the point of least summed distance to pts (Weiszfeld).
func geoMedian(pts []zonemap.XY) zonemap.XY {
	m := centroid(pts)
	for range 100 {
		var num zonemap.XY
		den := 0.0
		for _, p := range pts {
			d := math.Max(dist(p, m), 1e-3)
			num.X, num.Y, den = num.X+p.X/d, num.Y+p.Y/d, den+1/d
		}
		next := zonemap.XY{X: num.X / den, Y: num.Y / den}
		if dist(next, m) < 0.01 {
			return next
		}
		m = next
	}
	return m
}

func dist(a, b zonemap.XY) float64 { return math.Hypot(a.X-b.X, a.Y-b.Y) }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minOf(xs []float64) float64 {
	m := math.Inf(1)
	for _, x := range xs {
		m = math.Min(m, x)
	}
	return m
}

func stddev(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	var s, ss float64
	for _, x := range xs {
		s += x
	}
	mean := s / float64(len(xs))
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss / float64(len(xs)-1))
}

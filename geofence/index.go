package geofence

import (
	"math"
	"time"

	"github.com/golang/geo/s2"
)

// EarthRadiusM is the mean Earth radius used to turn angles into metres.
const EarthRadiusM = 6371008.8

// DistanceM is the great-circle distance in metres between two positions
// in degrees (S2's haversine on the mean sphere). It is the module's one
// distance between positions; the geofence's own queries work on unit
// vectors instead.
func DistanceM(lat1, lon1, lat2, lon2 float64) float64 {
	return float64(s2.LatLngFromDegrees(lat1, lon1).Distance(s2.LatLngFromDegrees(lat2, lon2))) * EarthRadiusM
}

// DefaultReachM is the table's reach when Options.ReachM is 0: queries
// that look no farther than this past a buffer are answered from the
// table, farther ones by a scan of every zone.
const DefaultReachM = 1000

// MaxReachM caps how far any query looks.
const MaxReachM = 5000e3

// Policy holds a zone's overrides of the gateway's rules. Every override
// can only make the gateway stricter near the zone; none can relax it.
type Policy struct {
	// LookAhead is added to the look-ahead horizon for this zone: the
	// cameras go off this much earlier on the way towards it.
	LookAhead time.Duration
	// ClearFixes: after this zone held the gateway, at least this many
	// consecutive clear fixes are needed to leave suppression (the
	// gateway's own number applies when it is larger).
	ClearFixes int
	// WithholdM widens, for this zone, the distance from its buffer
	// within which the vehicle's position is kept in the vehicle.
	WithholdM float64
}

// Zone is one sensitive area.
type Zone struct {
	ID    string
	Name  string
	Class string
	// Geometry is the GeoJSON geometry type the zone was drawn with.
	Geometry string
	// BufferM is the margin around the zone that counts as near it.
	BufferM float64
	// RadiusM is the radius of a circular zone (a Point feature), else 0.
	RadiusM float64
	// WidthM is the width of a corridor (a LineString feature), else 0.
	WidthM float64
	// ValidFrom and ValidUntil bound when the zone counts; a zero time
	// leaves that side open. See Fix.At for how they are applied.
	ValidFrom, ValidUntil time.Time
	Policy                Policy

	shapes []*shape
}

// Vertices returns how many distinct vertices the zone's geometry has.
func (z Zone) Vertices() int {
	n := 0
	for _, s := range z.shapes {
		n += s.vertices
	}
	return n
}

// LongestEdgeM returns the length of the zone's longest edge in metres
// (0 for a circle), for checks: long edges follow great circles, which
// can be far from the line a drawing tool shows between two vertices.
func (z Zone) LongestEdgeM() float64 {
	longest := 0.0
	for _, s := range z.shapes {
		for _, c := range s.chunks {
			for i := range c.n - 1 {
				a, b := s.unproject(c.pts[i]), s.unproject(c.pts[i+1])
				longest = math.Max(longest, angleBetween(a, b)*EarthRadiusM)
			}
		}
	}
	return longest
}

// rule is what a query needs of a zone.
type rule struct {
	bufferM, withholdM, lookS float64
	// from and until are Unix nanoseconds; an open side is the extreme.
	from, until int64
	clearFixes  int
}

// Index answers queries against a fixed set of zones. It is immutable once
// built and safe for concurrent use; a new zone list means a new Index.
type Index struct {
	zones    []Zone
	rules    []rule
	parts    []part
	reachM   float64
	maxLookS float64
	level    int

	// The table (build.go): cells sorted by id, with their entries; top
	// holds the last RangeMax of every block of cells, for find; refs the
	// chunks that entries list.
	cells   []cell
	top     []s2.CellID
	entries []entry
	refs    []uint32
}

// cell is a cell of the table and where its entries are.
type cell struct {
	id       s2.CellID
	first, n uint32
}

// cellBlock cells (two cache lines) are searched one after the other.
const cellBlock = 8

// part is a shape as the index keeps it, in 128 bytes (two cache lines):
// the first holds what projecting a point and rejecting the part take.
type part struct {
	frame
	cosBound float64
	// outerM is boundM + bufferM + inflateM: nothing of the zone and its
	// buffer is farther from the centre (in the plane).
	outerM float64

	boundM, inflateM, bufferM float64
	chunks                    []chunk // the shape's
	zone                      int32
	clearFixes                int32 // the zone's policy's
	kind                      shapeKind
	flags                     uint8 // partWindowed, partOverrides
	_                         [6]byte
}

const (
	partWindowed  = 1 << iota // the zone has a validity window
	partOverrides             // the zone's policy widens look-ahead or withholding
)

// scale is the factor that turns planar distances near a point whose
// centre cosine is t into lower bounds of distances on the sphere.
func (p *part) scale(t float64) float64 {
	k := math.Min(t, p.cosBound)
	return k * k
}

// NewIndex builds the spatial index over zones, with DefaultReachM.
func NewIndex(zones []Zone) *Index { return newIndex(zones, DefaultReachM) }

func newIndex(zones []Zone, reachM float64) *Index {
	ix := &Index{zones: make([]Zone, len(zones)), reachM: reachM, rules: make([]rule, len(zones))}
	np, nc := 0, 0
	for i := range zones {
		np += len(zones[i].shapes)
		for _, s := range zones[i].shapes {
			nc += len(s.chunks)
		}
	}
	ix.parts = make([]part, 0, np)
	// Every part's chunks in one arena, in the order of the parts: the
	// zones' shapes are re-pointed at it, so nothing is held twice.
	arena := make([]chunk, 0, nc)
	for i := range zones {
		z := zones[i]
		r := rule{
			bufferM:    z.BufferM,
			withholdM:  z.Policy.WithholdM,
			lookS:      z.Policy.LookAhead.Seconds(),
			clearFixes: z.Policy.ClearFixes,
			from:       math.MinInt64,
			until:      math.MaxInt64,
		}
		var flags uint8
		if !z.ValidFrom.IsZero() {
			r.from, flags = z.ValidFrom.UnixNano(), partWindowed
		}
		if !z.ValidUntil.IsZero() {
			r.until, flags = z.ValidUntil.UnixNano(), partWindowed
		}
		if r.withholdM > 0 || r.lookS > 0 {
			flags |= partOverrides
		}
		ix.rules[i] = r
		ix.maxLookS = math.Max(ix.maxLookS, r.lookS)
		shapes := make([]*shape, len(z.shapes))
		for j, s := range z.shapes {
			start := len(arena)
			arena = append(arena, s.chunks...)
			c := *s
			c.chunks = arena[start:len(arena):len(arena)]
			shapes[j] = &c
			ix.parts = append(ix.parts, part{
				frame: s.frame, cosBound: s.cosBound, outerM: s.boundM + z.BufferM + s.inflateM,
				boundM: s.boundM, inflateM: s.inflateM, bufferM: z.BufferM,
				chunks: c.chunks, zone: int32(i), clearFixes: int32(r.clearFixes), kind: s.kind, flags: flags,
			})
		}
		z.shapes = shapes
		ix.zones[i] = z
	}
	ix.build()
	return ix
}

// Len returns the number of zones.
func (ix *Index) Len() int {
	if ix == nil {
		return 0 // no zone list (yet): a gateway without one stays suppressed
	}
	return len(ix.zones)
}

// Zone returns zone i. Use it for configuration checks, never for output
// that leaves the vehicle.
func (ix *Index) Zone(i int) Zone { return ix.zones[i] }

// ReachM returns how far past a buffer the table answers from; queries
// that need more are answered by a slower scan of every zone.
func (ix *Index) ReachM() float64 { return ix.reachM }

// Cells returns the number of cells and entries in the table, for
// reports on the index's size.
func (ix *Index) Cells() (cells, entries int) { return len(ix.cells), len(ix.entries) }

// Result describes a position relative to the zones.
type Result struct {
	// Zone is the index of the zone whose buffer is nearest, or -1 when no
	// zone is within the searched reach.
	Zone int
	// Inside: the position is inside a zone.
	Inside bool
	// DistanceM is the distance in metres to the nearest zone among those
	// within reach (0 inside one); +Inf when no zone is within reach.
	DistanceM float64
	// MarginM is how far the position is outside the nearest buffer:
	// distance to a zone minus that zone's buffer, minimised over zones.
	// Zero or less means within a buffer; +Inf when it exceeds the reach.
	MarginM float64
}

// InBuffer reports whether the position is inside a zone or its buffer.
func (r Result) InBuffer() bool { return r.MarginM <= 0 }

// Fix is a position with what the gateway knows of the vehicle's motion,
// to be assessed against the zones.
type Fix struct {
	Lat, Lon float64
	// AccuracyM: the vehicle is within this distance of the fix.
	AccuracyM float64
	// SpeedMps is the vehicle's speed; NaN when unknown (taken as the
	// Kinematics' maximum).
	SpeedMps float64
	// HeadingDeg is the course over ground in degrees clockwise from
	// north; NaN when unknown (the look-ahead then covers every
	// direction).
	HeadingDeg float64
	// At is the time of the fix on the gateway's clock. A zone counts when
	// its validity window, both ends included, widened by Skew on either
	// side, meets the span from At to Through (Through zero: At alone).
	// The zero At means the clock is not trusted: every zone counts,
	// whatever its window. A span lets the caller judge a window on more
	// than one clock, or hold a zone in force since a time it was in
	// force at.
	At      time.Time
	Through time.Time
	Skew    time.Duration
	// ReachM: Result covers the zones whose margin is at most this; a
	// negative or NaN ReachM counts as 0 (zones whose buffer holds the
	// fix). The other answers reach as far as they need whatever it is.
	ReachM float64
	// ExitMarginM: a clear fix is farther than buffer + ExitMarginM +
	// AccuracyM from every zone.
	ExitMarginM float64
	// WithholdM: the position may leave the vehicle when it is farther
	// than buffer + WithholdM + AccuracyM (+ the zone's withhold_m) from
	// every zone.
	WithholdM float64
}

// Assessment is what the gateway needs to know about a fix.
type Assessment struct {
	// Result locates the fix itself, without accuracy or look-ahead.
	Result
	// Ahead: a zone's buffer is within AccuracyM of the fix, or within
	// reach of the look-ahead (the zone's own horizon, if it has one).
	// The gateway suppresses on it.
	Ahead bool
	// AheadZone is the zone Ahead is about with the smallest margin, or -1.
	AheadZone int
	// Clear: the fix is not Ahead and farther than buffer + ExitMarginM +
	// AccuracyM from every zone; the gateway counts it towards leaving
	// suppression.
	Clear bool
	// PositionClear: the position is far enough from every zone to leave
	// the vehicle (see Fix.WithholdM).
	PositionClear bool
	// ClearFixes is the largest policy clear_fixes among the zones that
	// keep the fix from being clear (0 when none has one).
	ClearFixes int
}

// failClosed answers a question about a position that is not one.
func failClosed() Assessment {
	return Assessment{
		Result:    Result{Zone: -1, Inside: true, DistanceM: 0, MarginM: math.Inf(-1)},
		Ahead:     true,
		AheadZone: -1,
	}
}

func badPosition(lat, lon float64) bool {
	return !(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180)
}

// Query locates the point (lat, lon in degrees) relative to every zone
// whose buffer is within reachM metres; farther zones are not reported.
// Every zone counts, whatever its validity window. A point that is not a
// position (NaN, out of range) is reported as inside a zone: the answer
// to a question that cannot be asked is "suppress". A negative or NaN
// reach counts as 0: it never hides the zone the point is in.
func (ix *Index) Query(lat, lon, reachM float64) Result {
	f := Fix{Lat: lat, Lon: lon, ReachM: reachM}
	return ix.Assess(&f, nil).Result
}

// probe is a query being answered.
type probe struct {
	p                              vec
	sinLat, cosLat, sinLon, cosLon float64
	timed                          bool
	at, through, skew              int64
	// thresholds on a zone's margin (distance − buffer)
	reach, hold, withhold, acc float64
	need                       float64 // the largest of them for zones without overrides
	kin                        *Kinematics
	speed                      float64
	heading                    float64 // radians; NaN when unknown
	horizon                    float64 // seconds
	base                       look
	aheadM                     float64
	// margins, when set, collects every zone's margin within reach
	// (Margins); start is where this query's entries begin.
	margins *[]ZoneMargin
	start   int
}

func clampDist(x float64) float64 {
	if !(x >= 0) {
		return 0
	}
	return math.Min(x, MaxReachM)
}

// Assess locates a fix with its accuracy and, when k is not nil, the
// look-ahead. It never allocates. A fix that is not a position, or whose
// accuracy, exit margin or withhold distance is negative or NaN, is
// answered as inside a zone: suppress everything.
func (ix *Index) Assess(f *Fix, k *Kinematics) Assessment { return ix.assess(f, k, false) }

// assess answers Assess from the table, or, with scanAll, by visiting
// every part (AssessScan, the benchmarks' baseline).
func (ix *Index) assess(f *Fix, k *Kinematics, scanAll bool) Assessment {
	a := Assessment{
		Result:        Result{Zone: -1, DistanceM: inf, MarginM: inf},
		AheadZone:     -1,
		Clear:         true,
		PositionClear: true,
	}
	var q probe
	if !ix.newProbe(&q, f, k, &a) {
		return a
	}
	if scanAll {
		ix.scan(&q, &a)
	} else {
		ix.search(&q, k, &a)
	}
	return a
}

// search visits the parts that can matter to q: from the table, or every
// part when q looks beyond the table's reach.
func (ix *Index) search(q *probe, k *Kinematics, a *Assessment) {
	if q.need <= ix.reachM && (ix.maxLookS == 0 || k == nil || k.MaxSpeedMps <= lookAheadSpeedMps) {
		ix.fromTable(q, a)
	} else {
		ix.scan(q, a) // beyond the table's reach
	}
}

var inf = math.Inf(1)

// newProbe prepares a query in q; false when a (set to the answer) needs
// no search.
func (ix *Index) newProbe(q *probe, f *Fix, k *Kinematics, a *Assessment) bool {
	if badPosition(f.Lat, f.Lon) || !(f.AccuracyM >= 0) || math.IsInf(f.AccuracyM, 1) || !(f.ExitMarginM >= 0) || !(f.WithholdM >= 0) {
		*a = failClosed()
		return false
	}
	if len(ix.zones) == 0 {
		return false
	}
	q.p, q.sinLat, q.cosLat, q.sinLon, q.cosLon = unitVec(f.Lat, f.Lon)
	q.setTime(f)
	q.acc = clampDist(f.AccuracyM)
	q.hold = q.acc + clampDist(f.ExitMarginM)
	q.withhold = q.acc + clampDist(f.WithholdM)
	q.reach = clampDist(f.ReachM)
	q.heading = f.HeadingDeg * (math.Pi / 180)
	q.aheadM = inf
	if k != nil {
		q.kin, q.speed, q.horizon = k, f.SpeedMps, k.Horizon.Seconds()
		if math.IsNaN(q.speed) {
			// Unknown: as fast as it gets, and turning as sharply as a slow
			// vehicle can.
			q.speed, q.heading = k.MaxSpeedMps, math.NaN()
		}
		q.base = q.lookFor(q.horizon)
	} else {
		q.base = look{omni: true}
	}
	q.need = max(q.reach, q.hold, q.withhold, q.base.radiusM+q.acc)
	return true
}

// scan visits every part: the answer beyond the table's reach.
func (ix *Index) scan(q *probe, a *Assessment) {
	w := at{how: containRay}
	for i := range ix.parts {
		ix.visit(q, a, &ix.parts[i], &w)
	}
}

// lookFor is the look-ahead for a horizon in seconds.
func (q *probe) lookFor(horizon float64) look {
	k := q.kin
	l := look{radiusM: k.reach(q.speed, horizon)}
	l.alpha = k.halfAngle(q.speed, horizon, !math.IsNaN(q.heading))
	l.omni = l.alpha >= math.Pi/2
	return l
}

// sides returns the sector's edges as tangents at the fix, computed the
// first time they are needed.
func (q *probe) sides(l *look) (left, right vec) {
	if !l.sided {
		north := vec{-q.sinLat * q.cosLon, -q.sinLat * q.sinLon, q.cosLat}
		east := vec{-q.sinLon, q.cosLon, 0}
		dir := func(b float64) vec {
			s, c := math.Sincos(b)
			return vec{c*north[0] + s*east[0], c*north[1] + s*east[1], c*north[2] + s*east[2]}
		}
		l.left, l.right, l.sided = dir(q.heading-l.alpha), dir(q.heading+l.alpha), true
	}
	return l.left, l.right
}

// find returns the table cell holding leaf, or nil: a binary search of
// the blocks' last RangeMax, small enough to stay in the cache, then of
// the block's cells in turn.
func (ix *Index) find(leaf s2.CellID) *cell {
	lo, hi := 0, len(ix.top)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ix.top[m] < leaf {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(ix.top) {
		return nil
	}
	block := ix.cells[lo*cellBlock : min(lo*cellBlock+cellBlock, len(ix.cells))]
	for i := range block {
		if c := &block[i]; c.id.RangeMax() >= leaf {
			if c.id.RangeMin() <= leaf {
				return c
			}
			return nil
		}
	}
	return nil
}

// containment says how a point's place in a polygon is decided.
type containment uint8

const (
	containOut    containment = iota // the whole cell is outside
	containIn                        // the whole cell is inside
	containCentre                    // the cell centre's, flipped per edge crossed
	containRay                       // a ray over every edge of the part
)

// at is a table entry made ready for visiting.
type at struct {
	refs     []uint32 // nil: every chunk of the part
	how      containment
	centre   xy // in the part's plane
	centreIn bool
}

// entryAt prepares a table entry.
func (ix *Index) entryAt(e *entry) at {
	var w at
	if e.flags&flagAll == 0 {
		w.refs = ix.refs[e.refs : e.refs+uint32(e.nrefs)]
	}
	switch {
	case e.flags&flagSlow != 0:
		w.how, w.refs = containRay, nil
	case e.flags&flagBoundary != 0:
		w.how, w.centreIn = containCentre, e.flags&flagCentreIn != 0
		w.centre = xy{float64(e.centre[0]), float64(e.centre[1])}
	case e.flags&flagCentreIn != 0:
		w.how = containIn
	}
	return w
}

func (ix *Index) fromTable(q *probe, a *Assessment) {
	c := ix.find(searchLeaf(q.p))
	if c == nil {
		return // nothing within the table's reach
	}
	for ei := c.first; ei < c.first+c.n; ei++ {
		e := &ix.entries[ei]
		if e.flags&flagOverrides == 0 && float64(e.lbMargin) > q.need {
			continue // nowhere in the cell is this zone near enough to matter
		}
		w := ix.entryAt(e)
		ix.visit(q, a, &ix.parts[e.part], &w)
	}
}

// chunkAt is the j-th chunk a visit looks at.
func (ix *Index) chunkAt(p *part, refs []uint32, j int) *chunk {
	if refs == nil {
		return &p.chunks[j]
	}
	return &p.chunks[refs[j]]
}

func nchunks(p *part, refs []uint32) int {
	if refs == nil {
		return len(p.chunks)
	}
	return len(refs)
}

// active reports whether the part's zone counts at the probe's time.
func (ix *Index) active(q *probe, p *part) bool {
	if !q.timed || p.flags&partWindowed == 0 {
		return true
	}
	r := &ix.rules[p.zone]
	return q.through+q.skew >= r.from && q.at-q.skew <= r.until
}

// inside decides whether pp, in p's plane, is inside the polygon p.
func (ix *Index) inside(p *part, w *at, pp xy) bool {
	switch w.how {
	case containIn:
		return true
	case containRay:
		return pp.x*pp.x+pp.y*pp.y <= p.boundM*p.boundM && ix.rayParity(p, pp)
	case containCentre:
		in := w.centreIn
		cp := w.centre
		lo := xy{min(cp.x, pp.x), min(cp.y, pp.y)}
		hi := xy{max(cp.x, pp.x), max(cp.y, pp.y)}
		for j := range nchunks(p, w.refs) {
			ch := ix.chunkAt(p, w.refs, j)
			if !boxesMeet(lo, hi, ch.min, ch.max) {
				continue
			}
			for i := range ch.n - 1 {
				if crosses(cp, pp, ch.pts[i], ch.pts[i+1]) {
					in = !in
				}
			}
		}
		return in
	}
	return false
}

// rayParity is the classic point-in-polygon test over every edge of the
// part: the parity of crossings of a ray from q towards +x.
func (ix *Index) rayParity(p *part, q xy) bool {
	in := false
	for j := range p.chunks {
		c := &p.chunks[j]
		if c.max.x < q.x || c.min.y > q.y || c.max.y < q.y {
			continue
		}
		for i := range c.n - 1 {
			a, b := c.pts[i], c.pts[i+1]
			if (a.y > q.y) != (b.y > q.y) && q.x < a.x+(q.y-a.y)*(b.x-a.x)/(b.y-a.y) {
				in = !in
			}
		}
	}
	return in
}

// visit assesses one part.
func (ix *Index) visit(q *probe, a *Assessment, p *part, w *at) {
	if !ix.active(q, p) {
		return
	}
	pp, t := p.project(q.p)
	if t < 0.5 {
		return // over 60° away: beyond any reach
	}
	k := p.scale(t)
	need := q.need
	lk := &q.base
	var own look
	var r *rule
	if p.flags&partOverrides != 0 {
		r = &ix.rules[p.zone]
		if r.lookS > 0 && q.kin != nil {
			own = q.lookFor(q.horizon + r.lookS)
			lk = &own
			need = math.Max(need, own.radiusM+q.acc)
		}
		need = math.Max(need, q.withhold+r.withholdM)
	}
	// Every point of the zone and its buffer is within outerM of the
	// centre in the plane, and planar distances times k are lower bounds.
	if far := need + p.outerM; (pp.x*pp.x+pp.y*pp.y)*k*k > far*far {
		return
	}
	limit := (need + p.bufferM + p.inflateM) / k // planar: farther edges do not matter
	// A cell wholly inside the zone (of any kind) lists no edges.
	inside := w.how == containIn || (p.kind == kindPolygon && ix.inside(p, w, pp))
	d := 0.0
	var nearest [2]xy // the edge nearest pp
	if !inside {
		best2 := limit * limit
		found := false
		for j := range nchunks(p, w.refs) {
			ch := ix.chunkAt(p, w.refs, j)
			if boxDist2(pp, ch.min, ch.max) > best2 {
				continue
			}
			for i := range ch.n - 1 {
				if d2 := segDist2(pp, ch.pts[i], ch.pts[i+1]); d2 <= best2 {
					best2, found, nearest = d2, true, [2]xy{ch.pts[i], ch.pts[i+1]}
				}
			}
		}
		if !found {
			return
		}
		if p.kind == kindCircle {
			d = angleBetween(q.p, p.c)*EarthRadiusM - p.inflateM
		} else {
			d = math.Sqrt(best2)*k - p.inflateM
		}
		if d <= onBoundaryM { // on the boundary: inside, to fail closed
			d, inside = 0, true
		}
	}
	m := d - p.bufferM
	if m > need {
		return
	}
	zi := int(p.zone)
	if q.margins != nil && m <= q.reach {
		q.addMargin(zi, m)
	}
	if m <= q.reach {
		a.DistanceM = math.Min(a.DistanceM, d)
		if m < a.MarginM || (m == a.MarginM && zi < a.Zone) {
			a.MarginM, a.Zone = m, zi
		}
		a.Inside = a.Inside || inside
	}
	hold := inside || m <= q.hold
	withholdM := 0.0
	if r != nil {
		withholdM = r.withholdM
	}
	if m-withholdM <= q.withhold {
		a.PositionClear = false
	}
	if m <= lk.radiusM+q.acc {
		// The look-ahead's disc reaches the buffer; within accuracy, or
		// with no direction to go by, that is enough.
		if inside || m <= q.acc || lk.omni || ix.sectorReaches(q, p, w.refs, pp, t, lk, q.acc+p.bufferM+p.inflateM, nearest) {
			a.Ahead, hold = true, true
			if m < q.aheadM || (m == q.aheadM && zi < a.AheadZone) {
				q.aheadM, a.AheadZone = m, zi
			}
		}
	}
	if hold {
		a.Clear = false
		a.ClearFixes = max(a.ClearFixes, int(p.clearFixes))
	}
}

// onBoundaryM: a point this close to a zone's edge counts as inside it.
const onBoundaryM = 1e-6

// sectorReaches reports whether the look-ahead's sector comes within thrM
// metres of the part's skeleton; the skeleton's point nearest pp, on edge
// nearest, is within the look-ahead's disc (and thrM) already.
func (ix *Index) sectorReaches(q *probe, p *part, refs []uint32, pp xy, t float64, lk *look, thrM float64, nearest [2]xy) bool {
	// Points of the sector and of the edges near it are at most this far
	// (as a cosine) from the part's centre.
	c := math.Min(t-(lk.radiusM+thrM)/EarthRadiusM, p.cosBound)
	if c < 0.5 {
		return true // cannot be bounded: fail closed
	}
	k := c * c
	left, right := q.sides(lk)
	sec := sector{p: pp, radius: lk.radiusM / k, l: p.direction(q.p, left), r: p.direction(q.p, right)}
	// The wedge is the exact image of the sector's: if the nearest point
	// lies in it, so does the way there.
	if f := closest(pp, nearest[0], nearest[1]); sec.inWedge(xy{f.x - pp.x, f.y - pp.y}) {
		return true
	}
	thr := thrM / k
	far := (sec.radius + thr) * (sec.radius + thr)
	for j := range nchunks(p, refs) {
		ch := ix.chunkAt(p, refs, j)
		if boxDist2(pp, ch.min, ch.max) > far {
			continue
		}
		for i := range ch.n - 1 {
			a, b := ch.pts[i], ch.pts[i+1]
			// An edge wholly beyond one side of the wedge, by more than
			// thr, is out of reach: a cheap test before the exact one.
			if sec.beyondSide(a, b, thr) {
				continue
			}
			if sec.segDist(a, b) <= thr {
				return true
			}
		}
	}
	return false
}

// Crossed reports whether the straight path between two fixes (the
// geodesic from one to the other) passes within a zone's buffer, widened
// by the larger of their accuracies, and returns such a zone. Zones count
// as at the later fix, to.At. A path from or to something that is not a
// position, or between positions more than a quarter of the Earth apart,
// counts as crossing, with zone -1: the vehicle could have been anywhere.
func (ix *Index) Crossed(from, to *Fix) (zone int, crossed bool) {
	if badPosition(from.Lat, from.Lon) || badPosition(to.Lat, to.Lon) ||
		math.IsNaN(from.AccuracyM) || math.IsInf(from.AccuracyM, 1) || math.IsNaN(to.AccuracyM) || math.IsInf(to.AccuracyM, 1) {
		return -1, true
	}
	if len(ix.zones) == 0 {
		return -1, false
	}
	var q probe
	q.setTime(to)
	a, _, _, _, _ := unitVec(from.Lat, from.Lon)
	b, _, _, _, _ := unitVec(to.Lat, to.Lon)
	if a.dot(b) < 0 {
		return -1, true
	}
	widen := clampDist(math.Max(from.AccuracyM, to.AccuracyM))
	omega := angleBetween(a, b)
	// The table answers for pieces short enough that everything within
	// widen of them is within its reach of the piece's middle.
	pieceM, fast := ix.reachM/2, widen <= ix.reachM/2
	if !fast {
		pieceM = 500e3
	}
	n := max(1, int(math.Ceil(omega*EarthRadiusM/pieceM)))
	for i := range n {
		pa, pb := slerp(a, b, omega, float64(i)/float64(n)), slerp(a, b, omega, float64(i+1)/float64(n))
		mid := slerp(a, b, omega, (float64(i)+0.5)/float64(n))
		if !fast {
			for pi := range ix.parts {
				p := &ix.parts[pi]
				if ix.pathHits(&q, p, &at{how: containRay}, pa, pb, mid, widen) {
					return int(p.zone), true
				}
			}
			continue
		}
		c := ix.find(searchLeaf(mid))
		if c == nil {
			continue
		}
		h := angleBetween(pa, pb) * EarthRadiusM / 2 // every point of the piece is this close to mid
		for ei := c.first; ei < c.first+c.n; ei++ {
			e := &ix.entries[ei]
			if float64(e.lbMargin)-h > widen {
				continue
			}
			w := ix.entryAt(e)
			if p := &ix.parts[e.part]; ix.pathHits(&q, p, &w, pa, pb, mid, widen) {
				return int(p.zone), true
			}
		}
	}
	return -1, false
}

func (q *probe) setTime(f *Fix) {
	if f.At != (time.Time{}) { // cheaper than IsZero, and the same for a zero time
		if y := f.At.Year(); y > 1700 && y < 2250 { // UnixNano's range; else untrusted
			q.timed, q.at, q.skew = true, f.At.UnixNano(), int64(max(0, f.Skew))
			q.through = q.at
			if f.Through != (time.Time{}) {
				if y := f.Through.Year(); y <= 1700 || y >= 2250 {
					q.timed = false // out of range: untrusted, every zone counts
				} else if th := f.Through.UnixNano(); th > q.at {
					q.through = th
				}
			}
		}
	}
}

// slerp is the point a fraction f of the way along the geodesic from a to
// b, omega apart.
func slerp(a, b vec, omega, f float64) vec {
	if omega < 1e-12 {
		return a
	}
	s := math.Sin(omega)
	wa, wb := math.Sin((1-f)*omega)/s, math.Sin(f*omega)/s
	return vec{wa*a[0] + wb*b[0], wa*a[1] + wb*b[1], wa*a[2] + wb*b[2]}
}

// pathHits reports whether the geodesic a→b comes within widen of the
// part's zone's buffer; mid is a point of it in the entry's cell.
func (ix *Index) pathHits(q *probe, p *part, w *at, a, b, mid vec, widen float64) bool {
	if !ix.active(q, p) {
		return false
	}
	ap, ta := p.project(a)
	bp, tb := p.project(b)
	if ta < 0.5 || tb < 0.5 {
		return false // over 60° away
	}
	k := math.Min(math.Min(ta, tb), p.cosBound)
	k *= k
	thr := (widen + p.bufferM + p.inflateM) / k
	if math.Sqrt(segDist2(xy{}, ap, bp))-p.boundM > thr {
		return false
	}
	if w.how == containIn {
		return true // mid is in a cell wholly inside the zone
	}
	if p.kind == kindPolygon {
		mp, _ := p.project(mid)
		if ix.inside(p, w, mp) {
			return true
		}
	}
	lo := xy{math.Min(ap.x, bp.x) - thr, math.Min(ap.y, bp.y) - thr}
	hi := xy{math.Max(ap.x, bp.x) + thr, math.Max(ap.y, bp.y) + thr}
	for j := range nchunks(p, w.refs) {
		ch := ix.chunkAt(p, w.refs, j)
		if !boxesMeet(lo, hi, ch.min, ch.max) {
			continue
		}
		for i := range ch.n - 1 {
			if segSegDist(ap, bp, ch.pts[i], ch.pts[i+1]) <= thr {
				return true
			}
		}
	}
	return false
}

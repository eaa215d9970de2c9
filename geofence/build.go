package geofence

import (
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// The table: a partition of the Earth into S2 cells, sorted by cell id.
// Each cell lists the shapes whose zone matters anywhere in it, each with
// the chunks of edges that can matter there (those within the shape's
// reach of the cell) and whether the cell's centre is inside the shape. A
// query finds its cell by binary search and looks at those chunks only;
// containment is the centre's, flipped by every edge crossed on the way
// from the centre to the point, which can only be an edge in the cell.
//
// A shape's reach from its skeleton is its inflation (a circle's radius,
// half a corridor's width) plus the zone's buffer and withhold_m, plus
// ReachM, plus lookahead_s at lookAheadSpeedMps. Cells where the shape's
// edges are within reach are at the table's level, about ReachM across;
// where only the inside of a large zone is, cells are as large as fits.

// lookAheadSpeedMps is the speed up to which a zone's lookahead_s is
// covered by the table; faster queries take the slow path.
const lookAheadSpeedMps = 400 / 3.6

// entry flags
const (
	flagCentreIn  = 1 << iota // the centre of the entry's cell is inside the part
	flagBoundary              // an edge of the part may cross the cell
	flagSlow                  // no usable centre: test containment against every edge
	flagAll                   // every chunk of the part: no refs
	flagOverrides             // the zone's policy widens its reach: lbMargin does not apply
)

// entry is one part in one cell of the table, 24 bytes.
type entry struct {
	part  uint32
	refs  uint32 // first chunk index in Index.refs
	nrefs uint16
	flags uint8
	_     uint8
	// lbMargin is a lower bound of the zone's margin (distance − buffer)
	// anywhere in the cell.
	lbMargin float32
	// centre is the reference point of flagCentreIn, in the part's plane:
	// the centre of the cell the entry was made for (the table's cell may
	// be a descendant of it), rounded to float32.
	centre [2]float32
}

// item is an entry with its cell, before the cells are merged.
type item struct {
	id       s2.CellID
	part     int32
	flags    uint8
	lbMargin float32
	centre   [2]float32
	refs     []uint32
}

// tableLevel is the level of the cells near edges for a table reach.
func tableLevel(reachM float64) int {
	return min(s2.MinWidthMetric.MaxLevel(reachM/EarthRadiusM), 20)
}

// partReachM is how far from its skeleton a part matters to the table.
func (ix *Index) partReachM(p *part) float64 {
	r := &ix.rules[p.zone]
	return p.inflateM + r.bufferM + r.withholdM + ix.reachM + r.lookS*lookAheadSpeedMps
}

// build fills the table from ix.parts.
func (ix *Index) build() {
	ix.level = tableLevel(ix.reachM)
	workers := min(runtime.GOMAXPROCS(0), max(1, len(ix.parts)/64))
	out := make([][]item, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			b := partBuilder{ix: ix}
			for i := w; i < len(ix.parts); i += workers {
				b.cover(int32(i))
			}
			out[w] = b.items
		})
	}
	wg.Wait()
	var items []item
	for _, o := range out {
		items = append(items, o...)
	}
	out = nil
	slices.SortFunc(items, func(a, b item) int {
		if c := cmpID(a.id.RangeMin(), b.id.RangeMin()); c != 0 {
			return c
		}
		return a.id.Level() - b.id.Level()
	})
	var m merger
	m.ix = ix
	for face := range 6 {
		f := s2.CellIDFromFace(face)
		lo, hi := span(items, f)
		m.partition(f, nil, items[lo:hi])
	}
	// Copies of exactly the right size: append's spare capacity would
	// stay allocated for the life of the index.
	ix.cells = slices.Clone(ix.cells)
	ix.entries = slices.Clone(ix.entries)
	ix.refs = slices.Clone(ix.refs)
	for b := 0; b < len(ix.cells); b += cellBlock {
		ix.top = append(ix.top, ix.cells[min(b+cellBlock, len(ix.cells))-1].id.RangeMax())
	}
}

func cmpID(a, b s2.CellID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// span returns the items inside cell id (items sorted by RangeMin).
func span(items []item, id s2.CellID) (lo, hi int) {
	lo, _ = slices.BinarySearchFunc(items, id.RangeMin(), func(it item, t s2.CellID) int { return cmpID(it.id.RangeMin(), t) })
	hi = lo
	for hi < len(items) && items[hi].id.RangeMin() <= id.RangeMax() {
		hi++
	}
	return lo, hi
}

// merger lays the shapes' cells over each other into one partition.
type merger struct {
	ix *Index
}

// partition emits cell id, or its descendants if items lie inside it.
// cover holds the items whose cells contain id; inner, sorted, those
// strictly inside it.
func (m *merger) partition(id s2.CellID, cover, inner []item) {
	if len(inner) == 0 {
		if len(cover) > 0 {
			m.emit(id, cover)
		}
		return
	}
	for _, c := range id.Children() {
		lo, hi := span(inner, c)
		sub := inner[lo:hi]
		next := cover
		k := 0
		for k < len(sub) && sub[k].id == c { // sorted: c itself comes first
			k++
		}
		if k > 0 {
			next = append(slices.Clip(cover), sub[:k]...)
		}
		if len(next) > 0 || k < len(sub) {
			m.partition(c, next, sub[k:])
		}
	}
}

func (m *merger) emit(id s2.CellID, cover []item) {
	ix := m.ix
	ix.cells = append(ix.cells, cell{id: id, first: uint32(len(ix.entries)), n: uint32(len(cover))})
	for _, it := range cover {
		e := entry{
			part:     uint32(it.part),
			refs:     uint32(len(ix.refs)),
			flags:    it.flags,
			lbMargin: it.lbMargin,
			centre:   it.centre,
		}
		p := &ix.parts[it.part]
		if p.flags&partOverrides != 0 {
			e.flags |= flagOverrides
		}
		if len(it.refs) == len(p.chunks) || len(it.refs) > math.MaxUint16 {
			e.flags |= flagAll // every chunk, in order
		} else {
			e.nrefs = uint16(len(it.refs))
			ix.refs = append(ix.refs, it.refs...)
		}
		ix.entries = append(ix.entries, e)
	}
}

// partBuilder covers parts with cells, one worker's share.
type partBuilder struct {
	ix    *Index
	items []item
	p     *part
	pi    int32
	reach float64
	all   []uint32
}

// node is what a cell passes on to its children.
type node struct {
	cp         xy
	in         bool
	degenerate bool
}

func (b *partBuilder) cover(pi int32) {
	p := &b.ix.parts[pi]
	b.p, b.pi = p, pi
	b.reach = b.ix.partReachM(p)
	b.all = b.all[:0]
	for i := range p.chunks {
		b.all = append(b.all, uint32(i))
	}
	capAngle := math.Acos(math.Min(1, p.cosBound)) + b.reach/EarthRadiusM + 1e-9
	level := min(b.ix.level, s2.MinWidthMetric.MaxLevel(capAngle))
	centre := s2.Point{Vector: vecR3(p.c)}
	for _, id := range s2.SimpleRegionCovering(s2.CapFromCenterAngle(centre, s1.Angle(capAngle)), centre, level) {
		b.visit(id, b.all, nil)
	}
}

// maxExtraLevels bounds how far below the table level a cell is split
// to find a centre that is not on an edge.
const maxExtraLevels = 8

// degenerateM: a centre this close to an edge is not used for parity.
const degenerateM = 1e-3

// roundDown converts x to a float32 no larger than x.
func roundDown(x float64) float32 {
	f := float32(x)
	if float64(f) > x {
		f = math.Nextafter32(f, float32(math.Inf(-1)))
	}
	return f
}

func (b *partBuilder) visit(id s2.CellID, cand []uint32, parent *node) {
	ix, p := b.ix, b.p
	cell := s2.CellFromCellID(id)
	cp, tmin := p.project(fromS2(id.Point()))
	// The reference point is the centre as the entry stores it: a point
	// of the cell, and the one whose containment the build decides.
	centre := [2]float32{float32(cp.x), float32(cp.y)}
	cp = xy{float64(centre[0]), float64(centre[1])}
	rho := 0.0
	for k := range 4 {
		v, t := p.project(fromS2(cell.Vertex(k)))
		tmin = math.Min(tmin, t)
		rho = math.Max(rho, math.Hypot(v.x-cp.x, v.y-cp.y))
	}
	if tmin < 0.5 {
		// Far outside the part's projection: it cannot be within reach
		// (parts and reaches are limited to well under 60°).
		return
	}
	k := math.Min(tmin, p.cosBound)
	k *= k
	thr := b.reach/k + rho
	thr2 := thr * thr
	kept := make([]uint32, 0, len(cand))
	minEdge2 := math.Inf(1)
	for _, ci := range cand {
		ch := &p.chunks[ci]
		if boxDist2(cp, ch.min, ch.max) > thr2 {
			continue
		}
		keep := false
		for i := range ch.n - 1 {
			d2 := segDist2(cp, ch.pts[i], ch.pts[i+1])
			minEdge2 = math.Min(minEdge2, d2)
			keep = keep || d2 <= thr2
		}
		if keep {
			kept = append(kept, ci)
		}
	}
	minEdge := math.Sqrt(minEdge2)
	here := node{cp: cp, degenerate: p.kind == kindPolygon && minEdge < degenerateM}
	var flags uint8
	if minEdge <= rho {
		flags |= flagBoundary
	}
	switch {
	case p.kind != kindPolygon:
		// Circles and corridors are inside within inflateM of the skeleton
		// (planar distances are never shorter than true ones).
		if len(kept) > 0 && minEdge+rho <= p.inflateM {
			b.items = append(b.items, item{id: id, part: b.pi, flags: flagCentreIn, lbMargin: roundDown(-p.bufferM)})
			return
		}
	case parent == nil || parent.degenerate:
		here.in = ix.rayParity(p, cp)
	default:
		here.in = parent.in
		lo := xy{math.Min(cp.x, parent.cp.x), math.Min(cp.y, parent.cp.y)}
		hi := xy{math.Max(cp.x, parent.cp.x), math.Max(cp.y, parent.cp.y)}
		for _, ci := range cand {
			ch := &p.chunks[ci]
			if !boxesMeet(lo, hi, ch.min, ch.max) {
				continue
			}
			for i := range ch.n - 1 {
				if crosses(parent.cp, cp, ch.pts[i], ch.pts[i+1]) {
					here.in = !here.in
				}
			}
		}
	}
	if here.in {
		flags |= flagCentreIn
	}
	// The zone's margin anywhere in the cell is at least this: the cell
	// lies within rho of its centre, and a cell that may hold a point of
	// the zone gets distance 0.
	lb := 0.0
	if !here.in && flags&flagBoundary == 0 {
		lb = math.Max(0, (minEdge-rho)*k-p.inflateM)
	}
	lbMargin := roundDown(lb - p.bufferM)
	level := id.Level()
	switch {
	case len(kept) == 0:
		if here.in {
			b.items = append(b.items, item{id: id, part: b.pi, flags: flagCentreIn, lbMargin: roundDown(-p.bufferM)})
		}
		return
	case level >= ix.level && !here.degenerate:
	case level >= min(ix.level+maxExtraLevels, maxCellLevel):
		flags = flagSlow | flagBoundary
		lbMargin = roundDown(-p.bufferM)
	default:
		for _, c := range id.Children() {
			b.visit(c, kept, &here)
		}
		return
	}
	b.items = append(b.items, item{id: id, part: b.pi, flags: flags, lbMargin: lbMargin, centre: centre, refs: kept})
}

package geofence

import (
	"errors"
	"fmt"
	"math"

	"github.com/golang/geo/r3"
	"github.com/golang/geo/s2"
)

// The geometry the index works on. S2 validates a zone and defines its
// edges (geodesics between the vertices); the index then keeps each part
// of a zone (a shape) in its own gnomonic projection, centred on the shape.
// The gnomonic projection maps every great circle to a straight line, so a
// polygon with geodesic edges stays a straight-edged polygon in the plane:
// containment there is exact. Planar lengths are never shorter than the
// lengths on the sphere they stand for, and longer by a factor of at most
// 1/cos²θ, θ the angle from the projection's centre; the index multiplies
// planar distances by cos²θ, so the distances it reports are never longer
// than the true ones, and shorter by a relative θ² at most (2.5·10⁻⁷ at
// 3 km from a shape's centre, 2.5·10⁻⁴ at 100 km).

// Limits on a zone, so that every shape fits its projection with little
// distortion. A zone larger than this is better split.
const (
	// MaxShapeRadiusM bounds how far a shape's vertices (and a circle's
	// or corridor's edge) may be from its centre.
	MaxShapeRadiusM = 1000e3
	// MaxBufferM bounds buffer_m and the policy's withhold_m.
	MaxBufferM = 100e3
	// MaxLookAheadS bounds the policy's lookahead_s.
	MaxLookAheadS = 600
)

type vec [3]float64

func (a vec) dot(b vec) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

func (a vec) cross(b vec) vec {
	return vec{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

func (a vec) norm() float64 { return math.Sqrt(a.dot(a)) }

func (a vec) unit() vec {
	n := a.norm()
	return vec{a[0] / n, a[1] / n, a[2] / n}
}

func fromS2(p s2.Point) vec { return vec{p.X, p.Y, p.Z} }

func vecR3(v vec) r3.Vector { return r3.Vector{X: v[0], Y: v[1], Z: v[2]} }

// unitVec is the point at (lat, lon) degrees, with the sines and cosines
// the look-ahead needs for the local north and east.
func unitVec(lat, lon float64) (p vec, sinLat, cosLat, sinLon, cosLon float64) {
	sinLat, cosLat = math.Sincos(lat * (math.Pi / 180))
	sinLon, cosLon = math.Sincos(lon * (math.Pi / 180))
	return vec{cosLat * cosLon, cosLat * sinLon, sinLat}, sinLat, cosLat, sinLon, cosLon
}

// angleBetween is the angle between two unit vectors, accurate at every
// size.
func angleBetween(a, b vec) float64 { return math.Atan2(a.cross(b).norm(), a.dot(b)) }

type xy struct{ x, y float64 }

// frame is a gnomonic projection: points on the sphere to metres in the
// plane tangent at c, x along e (east at c) and y along c × e (north). The
// third axis is computed, not stored, to keep a part's first cache line
// for what rejecting it takes.
type frame struct{ c, e vec }

func newFrame(c vec) frame {
	axis := vec{0, 0, 1}
	if math.Abs(c[2]) > 0.9 {
		axis = vec{1, 0, 0} // near a pole "east" is any direction
	}
	return frame{c: c, e: axis.cross(c).unit()}
}

// n is the plane's y axis, north at c.
func (f *frame) n() vec { return f.c.cross(f.e) }

// project maps p into the plane; t is the cosine of its angle from the
// centre and must be positive.
func (f *frame) project(p vec) (q xy, t float64) {
	c, e := &f.c, &f.e
	t = p[0]*c[0] + p[1]*c[1] + p[2]*c[2]
	s := EarthRadiusM / t
	// p·(c × e), the triple product
	pn := p[0]*(c[1]*e[2]-c[2]*e[1]) + p[1]*(c[2]*e[0]-c[0]*e[2]) + p[2]*(c[0]*e[1]-c[1]*e[0])
	return xy{s * (p[0]*e[0] + p[1]*e[1] + p[2]*e[2]), s * pn}, t
}

// unproject is the inverse of project.
func (f *frame) unproject(q xy) vec {
	x, y := q.x/EarthRadiusM, q.y/EarthRadiusM
	n := f.n()
	return vec{f.c[0] + x*f.e[0] + y*n[0], f.c[1] + x*f.e[1] + y*n[1], f.c[2] + x*f.e[2] + y*n[2]}.unit()
}

// direction maps a direction u tangent to the sphere at p to the direction
// of its image at p's image: the great circle through p along u is a
// straight line in the plane.
func (f *frame) direction(p, u vec) xy {
	n := f.n()
	t, dt := p.dot(f.c), u.dot(f.c)
	d := xy{u.dot(f.e)*t - p.dot(f.e)*dt, u.dot(n)*t - p.dot(n)*dt}
	l := math.Hypot(d.x, d.y)
	return xy{d.x / l, d.y / l}
}

type shapeKind uint8

const (
	// kindPolygon: rings with holes; inside by crossing parity.
	kindPolygon shapeKind = iota
	// kindCircle: within inflateM of the centre; distances on the sphere.
	kindCircle
	// kindCorridor: within inflateM of a polyline.
	kindCorridor
)

// chunkEdges is how many consecutive edges share a bounding box.
const chunkEdges = 8

// chunk is a run of up to chunkEdges consecutive edges of one chain,
// pts[i]→pts[i+1] for i < n−1, with their bounding box in the shape's
// plane. It holds its points, so that a query reads a chunk from one
// place in memory.
type chunk struct {
	min, max xy
	n        int32
	pts      [chunkEdges + 1]xy
}

// shape is one part of a zone in its own projection: a polygon with its
// holes, a circle, or a corridor's centre line. A Zone keeps its shapes,
// so that an index can be rebuilt from zones; the index keeps a compact
// copy of each (part) that shares the shape's chunks.
type shape struct {
	frame
	// cosBound is the cosine of the largest angle from the centre to a
	// vertex; boundM is the largest planar distance of one.
	cosBound float64
	boundM   float64
	// inflateM: the zone is everything within this distance of the
	// skeleton (a circle's radius, half a corridor's width); 0 for polygons.
	inflateM float64
	kind     shapeKind
	// chunks hold every chain of the skeleton: rings closed (the first
	// vertex repeated at the end), polylines open, a circle's centre twice
	// (one edge of length zero).
	chunks   []chunk
	vertices int // distinct ones
}

// newShape projects chains of unit vectors (rings or polylines, without
// repeated closing vertices; closed says which) around their centre.
func newShape(kind shapeKind, chains [][]vec, closed bool, inflateM float64) (*shape, error) {
	var sum vec
	for _, v := range chains[0] { // the outer ring, or the line
		sum = vec{sum[0] + v[0], sum[1] + v[1], sum[2] + v[2]}
	}
	if sum.norm() < 1e-9 {
		return nil, errors.New("the shape has no centre (its vertices spread around the Earth)")
	}
	s := &shape{frame: newFrame(sum.unit()), inflateM: inflateM, kind: kind, cosBound: 1}
	maxAngle := MaxShapeRadiusM / EarthRadiusM
	n := 0
	for _, ch := range chains {
		n += (len(ch) + chunkEdges - 1) / chunkEdges // edges: len(ch) closed, len(ch)−1 open
	}
	s.chunks = make([]chunk, 0, max(n, 1))
	var pts []xy
	for _, ch := range chains {
		pts = pts[:0]
		for _, v := range ch {
			if angleBetween(v, s.c)+inflateM/EarthRadiusM > maxAngle {
				return nil, fmt.Errorf("the zone reaches more than %.0f km from its centre: split it", MaxShapeRadiusM/1000)
			}
			s.cosBound = math.Min(s.cosBound, v.dot(s.c))
			q, _ := s.project(v)
			pts = append(pts, q)
			s.boundM = math.Max(s.boundM, math.Hypot(q.x, q.y))
		}
		s.vertices += len(pts)
		if closed || len(ch) == 1 {
			pts = append(pts, pts[0])
		}
		s.chunks = appendChunks(s.chunks, pts)
	}
	return s, nil
}

// appendChunks cuts a chain of points into chunks.
func appendChunks(out []chunk, pts []xy) []chunk {
	for lo := 0; lo < len(pts)-1; lo += chunkEdges {
		hi := min(lo+chunkEdges, len(pts)-1)
		c := chunk{min: pts[lo], max: pts[lo], n: int32(hi - lo + 1)}
		copy(c.pts[:], pts[lo:hi+1])
		for _, q := range pts[lo+1 : hi+1] {
			c.min = xy{math.Min(c.min.x, q.x), math.Min(c.min.y, q.y)}
			c.max = xy{math.Max(c.max.x, q.x), math.Max(c.max.y, q.y)}
		}
		out = append(out, c)
	}
	return out
}

// segDist2 is the squared distance from p to the segment ab.
func segDist2(p, a, b xy) float64 {
	dx, dy := b.x-a.x, b.y-a.y
	qx, qy := p.x-a.x, p.y-a.y
	t := qx*dx + qy*dy
	if t <= 0 {
		return qx*qx + qy*qy
	}
	l2 := dx*dx + dy*dy
	if t >= l2 {
		ex, ey := p.x-b.x, p.y-b.y
		return ex*ex + ey*ey
	}
	c := qx*dy - qy*dx
	return c * c / l2
}

// orient is positive when c lies to the left of the line a→b.
func orient(a, b, c xy) float64 { return (b.x-a.x)*(c.y-a.y) - (b.y-a.y)*(c.x-a.x) }

// crosses reports whether the segment r→p crosses the edge ab, counting a
// vertex on the line r→p as lying on its right: a boundary that passes
// through a vertex counts once, one that touches it zero or two times.
func crosses(r, p, a, b xy) bool {
	if (orient(r, p, a) > 0) == (orient(r, p, b) > 0) {
		return false
	}
	return (orient(a, b, r) > 0) != (orient(a, b, p) > 0)
}

// segmentsIntersect reports whether the closed segments ab and cd meet.
func segmentsIntersect(a, b, c, d xy) bool {
	o1, o2 := orient(a, b, c), orient(a, b, d)
	o3, o4 := orient(c, d, a), orient(c, d, b)
	if ((o1 > 0 && o2 < 0) || (o1 < 0 && o2 > 0)) && ((o3 > 0 && o4 < 0) || (o3 < 0 && o4 > 0)) {
		return true
	}
	on := func(o float64, p, q, r xy) bool { // r on the segment pq, given collinear
		return o == 0 && math.Min(p.x, q.x) <= r.x && r.x <= math.Max(p.x, q.x) && math.Min(p.y, q.y) <= r.y && r.y <= math.Max(p.y, q.y)
	}
	return on(o1, a, b, c) || on(o2, a, b, d) || on(o3, c, d, a) || on(o4, c, d, b)
}

// segSegDist is the distance between the segments ab and cd.
func segSegDist(a, b, c, d xy) float64 {
	if segmentsIntersect(a, b, c, d) {
		return 0
	}
	return math.Sqrt(min(segDist2(a, c, d), segDist2(b, c, d), segDist2(c, a, b), segDist2(d, a, b)))
}

// boxDist2 is the squared distance from p to the box [lo, hi].
func boxDist2(p, lo, hi xy) float64 {
	dx, dy := 0.0, 0.0
	if p.x < lo.x {
		dx = lo.x - p.x
	} else if p.x > hi.x {
		dx = p.x - hi.x
	}
	if p.y < lo.y {
		dy = lo.y - p.y
	} else if p.y > hi.y {
		dy = p.y - hi.y
	}
	return dx*dx + dy*dy
}

// boxesMeet reports whether two boxes overlap.
func boxesMeet(alo, ahi, blo, bhi xy) bool {
	return alo.x <= bhi.x && blo.x <= ahi.x && alo.y <= bhi.y && blo.y <= ahi.y
}

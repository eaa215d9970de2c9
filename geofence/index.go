package geofence

import (
	"math"

	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// EarthRadiusM is the mean Earth radius used to turn angles into metres.
const EarthRadiusM = 6371008.8

// Zone is one sensitive area.
type Zone struct {
	ID    string
	Name  string
	Class string
	// BufferM is the margin around the zone that counts as near it.
	BufferM float64
	// RadiusM is the radius of a circular zone (a Point feature), else 0.
	RadiusM float64

	polygons []*s2.Polygon
	center   s2.Point
}

// Index answers queries against a fixed set of zones. It is immutable once
// built and safe for concurrent use; a new zone list means a new Index.
type Index struct {
	zones     []Zone
	shapes    *s2.ShapeIndex
	shapeZone []int // shape id → zone index
	// reachM is the largest distance from a zone's shape at which a point
	// can still be inside it or its buffer: radius + buffer.
	reachM float64
}

// NewIndex builds the spatial index over zones.
func NewIndex(zones []Zone) *Index {
	ix := &Index{zones: zones, shapes: s2.NewShapeIndex()}
	for i := range zones {
		z := &zones[i]
		if z.RadiusM > 0 {
			pv := s2.PointVector{z.center}
			ix.add(&pv, i)
		}
		for _, p := range z.polygons {
			ix.add(p, i)
		}
		ix.reachM = math.Max(ix.reachM, z.RadiusM+z.BufferM)
	}
	ix.shapes.Build()
	return ix
}

func (ix *Index) add(s s2.Shape, zone int) {
	id := ix.shapes.Add(s)
	for int(id) >= len(ix.shapeZone) {
		ix.shapeZone = append(ix.shapeZone, -1)
	}
	ix.shapeZone[id] = zone
}

// Len returns the number of zones.
func (ix *Index) Len() int { return len(ix.zones) }

// Zone returns zone i. Use it for configuration checks, never for output
// that leaves the vehicle.
func (ix *Index) Zone(i int) Zone { return ix.zones[i] }

// Result describes a position relative to the zones.
type Result struct {
	// Zone is the index of the zone whose buffer is nearest, or -1 when no
	// zone is within the searched reach.
	Zone int
	// Inside: the position is inside a zone.
	Inside bool
	// DistanceM is the distance to the nearest zone in metres (0 inside
	// one); +Inf when no zone is within reach.
	DistanceM float64
	// MarginM is how far the position is outside the nearest buffer:
	// distance to a zone minus that zone's buffer, minimised over zones.
	// Zero or less means within a buffer; +Inf when it exceeds the reach.
	MarginM float64
}

// InBuffer reports whether the position is inside a zone or its buffer.
func (r Result) InBuffer() bool { return r.MarginM <= 0 }

// angle converts metres on the Earth's surface to an S2 chord angle.
func angle(m float64) s1.ChordAngle {
	return s1.ChordAngleFromAngle(s1.Angle(m / EarthRadiusM))
}

func metres(c s1.ChordAngle) float64 { return float64(c.Angle()) * EarthRadiusM }

// Query locates the point (lat, lon in degrees) relative to every zone
// whose buffer is within reachM metres; farther zones are not searched.
// A point that is not a position (NaN, out of range) is reported as inside
// a zone: the answer to a question that cannot be asked is "suppress".
// The gateway passes its look-ahead distance as reachM.
func (ix *Index) Query(lat, lon, reachM float64) Result {
	res := Result{Zone: -1, DistanceM: math.Inf(1), MarginM: math.Inf(1)}
	if len(ix.zones) == 0 {
		return res
	}
	if math.IsNaN(lat) || math.IsNaN(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		// Not a position: fail closed, as if inside a zone.
		return Result{Zone: -1, Inside: true, DistanceM: 0, MarginM: math.Inf(-1)}
	}
	if !(reachM >= 0) {
		reachM = 0 // a negative or NaN reach would cut off even the zone the point is in
	}
	p := s2.PointFromLatLng(s2.LatLngFromDegrees(lat, lon))
	opts := s2.NewClosestEdgeQueryOptions().
		IncludeInteriors(true).
		DistanceLimit(angle(ix.reachM + reachM).Successor())
	q := s2.NewClosestEdgeQuery(ix.shapes, opts)
	for _, r := range q.FindEdges(s2.NewMinDistanceToPointTarget(p)) {
		zi := ix.shapeZone[r.ShapeID()]
		z := &ix.zones[zi]
		d := metres(r.Distance()) - z.RadiusM
		if d <= 0 {
			d = 0
			res.Inside = true
		}
		res.DistanceM = math.Min(res.DistanceM, d)
		if m := d - z.BufferM; m < res.MarginM {
			res.MarginM = m
			res.Zone = zi
		}
	}
	if res.MarginM > reachM {
		// Only zones with a margin up to reachM are certain to be found.
		// Every zone found is then farther than reachM: whether it was
		// found at all depends on the other zones' buffers.
		res.Zone, res.MarginM, res.DistanceM = -1, math.Inf(1), math.Inf(1)
	}
	return res
}

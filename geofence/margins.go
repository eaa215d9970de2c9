package geofence

import (
	"math"

	"github.com/golang/geo/s2"
)

// ZoneMargin is how far a position is outside one zone's buffer.
type ZoneMargin struct {
	Zone int
	// MarginM is the distance to the zone minus its buffer: zero or less
	// within the buffer, -BufferM inside the zone.
	MarginM float64
}

// Margins appends to dst, for every zone whose margin at (lat, lon) is at
// most reachM, that margin, once per zone, and returns dst. Query gives
// the nearest only; the gateway needs each zone's, because each trip widens
// each zone by its own random extra margin. A point that is not a position
// (NaN, out of range) is within every zone: margin -Inf for all.
func (ix *Index) Margins(lat, lon, reachM float64, dst []ZoneMargin) []ZoneMargin {
	if math.IsNaN(lat) || math.IsNaN(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		for i := range ix.zones {
			dst = append(dst, ZoneMargin{Zone: i, MarginM: math.Inf(-1)})
		}
		return dst
	}
	if len(ix.zones) == 0 {
		return dst
	}
	if !(reachM >= 0) {
		reachM = 0
	}
	p := s2.PointFromLatLng(s2.LatLngFromDegrees(lat, lon))
	opts := s2.NewClosestEdgeQueryOptions().
		IncludeInteriors(true).
		DistanceLimit(angle(ix.reachM + reachM).Successor())
	q := s2.NewClosestEdgeQuery(ix.shapes, opts)
	start := len(dst)
	for _, r := range q.FindEdges(s2.NewMinDistanceToPointTarget(p)) {
		zi := ix.shapeZone[r.ShapeID()]
		z := &ix.zones[zi]
		m := math.Max(metres(r.Distance())-z.RadiusM, 0) - z.BufferM
		found := false
		for k := start; k < len(dst); k++ {
			if dst[k].Zone == zi {
				dst[k].MarginM = math.Min(dst[k].MarginM, m)
				found = true
				break
			}
		}
		if !found {
			dst = append(dst, ZoneMargin{Zone: zi, MarginM: m})
		}
	}
	// Only zones with a margin up to reachM are certain to be found.
	keep := dst[:start]
	for _, zm := range dst[start:] {
		if zm.MarginM <= reachM {
			keep = append(keep, zm)
		}
	}
	return keep
}

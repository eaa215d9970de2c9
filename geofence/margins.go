package geofence

import "math"

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
// each zone by its own random extra margin. Every zone counts, whatever its
// validity window. A point that is not a position (NaN, out of range) is
// within every zone: margin -Inf for all. It does not allocate when dst
// has room.
func (ix *Index) Margins(lat, lon, reachM float64, dst []ZoneMargin) []ZoneMargin {
	if badPosition(lat, lon) {
		for i := range ix.zones {
			dst = append(dst, ZoneMargin{Zone: i, MarginM: math.Inf(-1)})
		}
		return dst
	}
	f := Fix{Lat: lat, Lon: lon, ReachM: reachM}
	var a Assessment
	var q probe
	if !ix.newProbe(&q, &f, nil, &a) {
		return dst
	}
	q.margins, q.start = &dst, len(dst)
	ix.search(&q, nil, &a)
	return dst
}

// addMargin records zone zi's margin m, keeping the smallest per zone (a
// zone of several parts is visited once per part).
func (q *probe) addMargin(zi int, m float64) {
	dst := *q.margins
	for k := q.start; k < len(dst); k++ {
		if dst[k].Zone == zi {
			dst[k].MarginM = math.Min(dst[k].MarginM, m)
			return
		}
	}
	*q.margins = append(dst, ZoneMargin{Zone: zi, MarginM: m})
}

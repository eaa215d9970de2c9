package geofence

import (
	"errors"
	"math"

	"github.com/golang/geo/s2"
)

// Circle returns a circular zone (a Point feature with radius_m) of
// radiusM metres around (lat, lon), without buffer: what a cover is.
func Circle(lat, lon, radiusM float64) (Zone, error) {
	z := Zone{Geometry: "Point", RadiusM: radiusM}
	if badPosition(lat, lon) {
		return z, errors.New("circle: not a position")
	}
	if !(radiusM > 0) || radiusM > MaxShapeRadiusM {
		return z, errors.New("circle: the radius must be positive and at most 1000 km")
	}
	s, err := newShape(kindCircle, [][]vec{{fromS2(s2.PointFromLatLng(s2.LatLngFromDegrees(lat, lon)))}}, false, radiusM)
	if err != nil {
		return z, err
	}
	z.shapes = []*shape{s}
	return z, nil
}

// Cap returns a disc on the sphere that holds the zone (its buffer not
// included): its centre in degrees and its radius in metres. It is not the
// smallest such disc, only one: the centre of the zone's parts, and the
// farthest any of them reaches from it.
func (z Zone) Cap() (lat, lon, radiusM float64) {
	var sum vec
	for _, s := range z.shapes {
		sum = vec{sum[0] + s.c[0], sum[1] + s.c[1], sum[2] + s.c[2]}
	}
	if len(z.shapes) == 0 || sum.norm() < 1e-12 {
		return math.NaN(), math.NaN(), math.Inf(1)
	}
	c := sum.unit()
	for _, s := range z.shapes {
		reach := math.Acos(math.Max(-1, math.Min(1, s.cosBound))) * EarthRadiusM
		radiusM = math.Max(radiusM, angleBetween(c, s.c)*EarthRadiusM+reach+s.inflateM)
	}
	ll := s2.LatLngFromPoint(s2.Point{Vector: vecR3(c)})
	return ll.Lat.Degrees(), ll.Lng.Degrees(), radiusM
}

// WithCovers returns a copy of the index that carries covers: the secret
// discs (Circle zones) that decide where the vehicle's position is
// withheld, chosen with the zones and travelling with them. The copy
// shares the zones' table; both are immutable.
func (ix *Index) WithCovers(covers *Index) *Index {
	c := *ix
	c.covers = covers
	return &c
}

// Covers returns the covers the index carries (WithCovers), or nil.
func (ix *Index) Covers() *Index {
	if ix == nil {
		return nil
	}
	return ix.covers
}

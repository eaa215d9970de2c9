package zonemap

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"quietzone/geofence"
)

// The map and the attack work in a local plane: metres east and north of
// a reference point, on an equirectangular projection. Over the few
// kilometres of a drive past a zone this is within a fraction of a metre
// of the geofence's geodesic distances, which is plenty for drawing and
// for an attacker's error of hundreds of metres.

// XY is a point in the local plane, metres east (X) and north (Y).
type XY struct{ X, Y float64 }

// Plane projects latitude and longitude onto the local plane.
type Plane struct{ lat0, lon0, cos0 float64 }

// NewPlane returns the plane around lat0, lon0.
func NewPlane(lat0, lon0 float64) Plane {
	return Plane{lat0: lat0, lon0: lon0, cos0: math.Cos(lat0 * math.Pi / 180)}
}

// XY projects a position onto the plane.
func (p Plane) XY(lat, lon float64) XY {
	const m = geofence.EarthRadiusM * math.Pi / 180
	return XY{X: (lon - p.lon0) * m * p.cos0, Y: (lat - p.lat0) * m}
}

// LatLon returns the position of a point of the plane.
func (p Plane) LatLon(q XY) (lat, lon float64) {
	const m = geofence.EarthRadiusM * math.Pi / 180
	return p.lat0 + q.Y/m, p.lon0 + q.X/(m*p.cos0)
}

// Shape is the drawable geometry of one zone: polygons (rings of
// longitude, latitude as in GeoJSON, the first outer, the rest holes), a
// circle, or a corridor.
type Shape struct {
	ID      string
	Kind    string           // "polygon", "circle" or "corridor"
	Parts   [][][][2]float64 // polygon: per part, per ring, positions
	Center  [2]float64       // circle: longitude, latitude
	RadiusM float64
	Line    [][2]float64 // corridor centre line
	WidthM  float64
	BufferM float64
}

// ParseShapes reads the geometry of every zone in a GeoJSON zones
// file. The file has passed geofence.Parse, which validated it; this only
// extracts what the map and the attack draw and measure.
func ParseShapes(data []byte) ([]Shape, error) {
	var fc struct {
		Features []struct {
			ID         json.RawMessage `json:"id"`
			Properties map[string]any  `json:"properties"`
			Geometry   struct {
				Type        string          `json:"type"`
				Coordinates json.RawMessage `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(data, &fc); err != nil {
		return nil, fmt.Errorf("zone shapes: %w", err)
	}
	num := func(props map[string]any, k string) float64 {
		if f, ok := props[k].(float64); ok {
			return f
		}
		return 0
	}
	var out []Shape
	for i, f := range fc.Features {
		z := Shape{BufferM: num(f.Properties, "buffer_m")}
		if s, ok := f.Properties["id"].(string); ok {
			z.ID = s
		} else {
			z.ID = fmt.Sprintf("zone %d", i+1)
		}
		var err error
		switch f.Geometry.Type {
		case "Polygon":
			var rings [][][2]float64
			err = json.Unmarshal(f.Geometry.Coordinates, &rings)
			z.Kind, z.Parts = "polygon", [][][][2]float64{rings}
		case "MultiPolygon":
			err = json.Unmarshal(f.Geometry.Coordinates, &z.Parts)
			z.Kind = "polygon"
		case "Point":
			err = json.Unmarshal(f.Geometry.Coordinates, &z.Center)
			z.Kind, z.RadiusM = "circle", num(f.Properties, "radius_m")
		case "LineString":
			err = json.Unmarshal(f.Geometry.Coordinates, &z.Line)
			z.Kind, z.WidthM = "corridor", num(f.Properties, "width_m")
		default:
			err = fmt.Errorf("geometry %q", f.Geometry.Type)
		}
		if err == nil {
			err = z.check()
		}
		if err != nil {
			return nil, fmt.Errorf("zone shapes: feature %d: %w", i+1, err)
		}
		out = append(out, z)
	}
	if len(out) == 0 {
		return nil, errors.New("zone shapes: no zones")
	}
	return out, nil
}

// check refuses what the drawing and the measuring cannot take. Zone
// files have passed geofence.Parse before they get here; this keeps a
// hand-made Report from panicking the writer.
func (z Shape) check() error {
	finite := func(xs ...float64) bool {
		for _, x := range xs {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return false
			}
		}
		return true
	}
	pos := func(c [2]float64) bool { return finite(c[0], c[1]) && math.Abs(c[0]) <= 180 && math.Abs(c[1]) <= 90 }
	if !finite(z.BufferM, z.RadiusM, z.WidthM) || z.BufferM < 0 || z.RadiusM < 0 || z.WidthM < 0 {
		return errors.New("buffer, radius or width out of range")
	}
	switch z.Kind {
	case "polygon":
		if len(z.Parts) == 0 {
			return errors.New("no polygon")
		}
		for _, rings := range z.Parts {
			if len(rings) == 0 {
				return errors.New("polygon without rings")
			}
			for _, ring := range rings {
				if len(ring) < 4 {
					return errors.New("ring of fewer than 4 positions")
				}
				for _, c := range ring {
					if !pos(c) {
						return errors.New("position out of range")
					}
				}
			}
		}
	case "circle":
		if !pos(z.Center) {
			return errors.New("position out of range")
		}
	case "corridor":
		if len(z.Line) < 2 {
			return errors.New("corridor of fewer than 2 positions")
		}
		for _, c := range z.Line {
			if !pos(c) {
				return errors.New("position out of range")
			}
		}
	}
	return nil
}

// bounds returns the zone's extent in the Plane, its buffer included.
func (z Shape) Bounds(p Plane) (lo, hi XY) {
	lo, hi = XY{math.Inf(1), math.Inf(1)}, XY{math.Inf(-1), math.Inf(-1)}
	grow := func(q XY, r float64) {
		lo.X, lo.Y = math.Min(lo.X, q.X-r), math.Min(lo.Y, q.Y-r)
		hi.X, hi.Y = math.Max(hi.X, q.X+r), math.Max(hi.Y, q.Y+r)
	}
	switch z.Kind {
	case "polygon":
		for _, rings := range z.Parts {
			for _, ring := range rings {
				for _, c := range ring {
					grow(p.XY(c[1], c[0]), z.BufferM)
				}
			}
		}
	case "circle":
		grow(p.XY(z.Center[1], z.Center[0]), z.RadiusM+z.BufferM)
	case "corridor":
		for _, c := range z.Line {
			grow(p.XY(c[1], c[0]), z.WidthM/2+z.BufferM)
		}
	}
	return lo, hi
}

// signedDistance returns how far q is from the zone's edge, in metres:
// positive outside the zone, negative inside.
func (z Shape) SignedDistance(p Plane, q XY) float64 {
	switch z.Kind {
	case "circle":
		c := p.XY(z.Center[1], z.Center[0])
		return math.Hypot(q.X-c.X, q.Y-c.Y) - z.RadiusM
	case "corridor":
		d := math.Inf(1)
		for i := 1; i < len(z.Line); i++ {
			a, b := p.XY(z.Line[i-1][1], z.Line[i-1][0]), p.XY(z.Line[i][1], z.Line[i][0])
			d = math.Min(d, math.Sqrt(segDist2(q, a, b)))
		}
		return d - z.WidthM/2
	}
	best := math.Inf(1)
	for _, rings := range z.Parts {
		d, inside := math.Inf(1), false
		for _, ring := range rings {
			for i := 1; i < len(ring); i++ {
				a, b := p.XY(ring[i-1][1], ring[i-1][0]), p.XY(ring[i][1], ring[i][0])
				d = math.Min(d, math.Sqrt(segDist2(q, a, b)))
				if (a.Y > q.Y) != (b.Y > q.Y) && q.X < a.X+(q.Y-a.Y)*(b.X-a.X)/(b.Y-a.Y) {
					inside = !inside
				}
			}
		}
		if inside {
			d = -d
		}
		best = math.Min(best, d)
	}
	return best
}

// centroid returns the mean of the zone's outer vertices (or its centre).
func (z Shape) Centroid(p Plane) XY {
	var sum XY
	n := 0.0
	add := func(c [2]float64) {
		q := p.XY(c[1], c[0])
		sum.X, sum.Y, n = sum.X+q.X, sum.Y+q.Y, n+1
	}
	switch z.Kind {
	case "circle":
		add(z.Center)
	case "corridor":
		for _, c := range z.Line {
			add(c)
		}
	default:
		for _, rings := range z.Parts {
			ring := rings[0]
			for _, c := range ring[:len(ring)-1] {
				add(c)
			}
		}
	}
	return XY{sum.X / n, sum.Y / n}
}

func segDist2(q, a, b XY) float64 {
	dx, dy := b.X-a.X, b.Y-a.Y
	t := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		t = math.Max(0, math.Min(1, ((q.X-a.X)*dx+(q.Y-a.Y)*dy)/l))
	}
	ex, ey := a.X+t*dx-q.X, a.Y+t*dy-q.Y
	return ex*ex + ey*ey
}

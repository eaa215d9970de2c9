package geofence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/golang/geo/s2"
)

// Options control how a zone file is read.
type Options struct {
	// DefaultBufferM is the buffer of zones that have no "buffer_m".
	DefaultBufferM float64
}

// FeatureError is a problem with one feature of a zone file. Feature is the
// 0-based index in the FeatureCollection; coordinates and names are left
// out on purpose, since errors end up in logs.
type FeatureError struct {
	File    string
	Feature int
	Reason  string
}

func (e *FeatureError) Error() string {
	if e.Feature < 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Reason)
	}
	return fmt.Sprintf("%s: feature %d: %s", e.File, e.Feature, e.Reason)
}

// LoadFile reads and validates a zone file.
func LoadFile(path string, opts Options) (*Index, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load zones: %w", err)
	}
	return Parse(path, data, opts)
}

type featureCollection struct {
	Type     string    `json:"type"`
	Features []feature `json:"features"`
}

type feature struct {
	Type       string          `json:"type"`
	ID         json.RawMessage `json:"id"`
	Geometry   *geometry       `json:"geometry"`
	Properties map[string]any  `json:"properties"`
}

type geometry struct {
	Type        string          `json:"type"`
	Coordinates json.RawMessage `json:"coordinates"`
}

// Parse reads a GeoJSON FeatureCollection of zones. The whole file is
// rejected at the first invalid feature: a partial zone list would leave
// zones unprotected.
func Parse(name string, data []byte, opts Options) (*Index, error) {
	if !(opts.DefaultBufferM >= 0) || math.IsInf(opts.DefaultBufferM, 0) {
		return nil, fmt.Errorf("load zones: %w", &FeatureError{File: name, Feature: -1, Reason: "default buffer must be a non-negative finite number"})
	}
	var fc featureCollection
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&fc); err != nil {
		return nil, fmt.Errorf("load zones: %w", &FeatureError{File: name, Feature: -1, Reason: jsonReason(data, err)})
	}
	// A second document after the first is refused: with two zone files
	// run together, the zones of the second would be silently left out.
	if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		reason := fmt.Sprintf("line %d: data after the FeatureCollection (two files run together?)", lineAt(data, int64(len(data)-len(rest))))
		return nil, fmt.Errorf("load zones: %w", &FeatureError{File: name, Feature: -1, Reason: reason})
	}
	if fc.Type != "FeatureCollection" {
		return nil, fmt.Errorf("load zones: %w", &FeatureError{File: name, Feature: -1, Reason: fmt.Sprintf("top-level type %q, want FeatureCollection", fc.Type)})
	}
	if len(fc.Features) == 0 {
		return nil, fmt.Errorf("load zones: %w", &FeatureError{File: name, Feature: -1, Reason: "no features: an empty zone list is refused, so that a truncated file cannot disable the gateway"})
	}
	var zones []Zone
	for i, f := range fc.Features {
		z, err := parseFeature(f, opts)
		if err != nil {
			return nil, fmt.Errorf("load zones: %w", &FeatureError{File: name, Feature: i, Reason: err.Error()})
		}
		zones = append(zones, z)
	}
	return NewIndex(zones), nil
}

// jsonReason describes a JSON syntax error with its line.
func jsonReason(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var off int64
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// An empty or truncated file.
		return fmt.Sprintf("line %d: unexpected end of JSON input", lineAt(data, int64(len(data))))
	default:
		return err.Error()
	}
	return fmt.Sprintf("line %d: %v", lineAt(data, off), err)
}

// lineAt is the 1-based line of byte offset off in data.
func lineAt(data []byte, off int64) int {
	return 1 + bytes.Count(data[:max(0, min(off, int64(len(data))))], []byte("\n"))
}

func parseFeature(f feature, opts Options) (Zone, error) {
	var z Zone
	if f.Type != "Feature" {
		return z, fmt.Errorf("type %q, want Feature", f.Type)
	}
	if f.Geometry == nil {
		return z, errors.New("no geometry")
	}
	z.ID = stringProp(f.Properties, "id")
	if z.ID == "" && len(f.ID) > 0 {
		var s string
		if json.Unmarshal(f.ID, &s) == nil {
			z.ID = s
		} else {
			z.ID = string(f.ID)
		}
	}
	z.Name = stringProp(f.Properties, "name")
	z.Class = stringProp(f.Properties, "class")
	var err error
	if z.BufferM, err = numberProp(f.Properties, "buffer_m", opts.DefaultBufferM); err != nil {
		return z, err
	}
	if z.BufferM < 0 {
		return z, errors.New("buffer_m is negative")
	}
	switch f.Geometry.Type {
	case "Polygon":
		var rings [][][]float64
		if err := json.Unmarshal(f.Geometry.Coordinates, &rings); err != nil {
			return z, fmt.Errorf("polygon coordinates: %v", err)
		}
		p, err := polygon(rings)
		if err != nil {
			return z, err
		}
		z.polygons = append(z.polygons, p)
	case "MultiPolygon":
		var polys [][][][]float64
		if err := json.Unmarshal(f.Geometry.Coordinates, &polys); err != nil {
			return z, fmt.Errorf("multipolygon coordinates: %v", err)
		}
		if len(polys) == 0 {
			return z, errors.New("multipolygon has no polygons")
		}
		for j, rings := range polys {
			p, err := polygon(rings)
			if err != nil {
				return z, fmt.Errorf("polygon %d: %w", j, err)
			}
			z.polygons = append(z.polygons, p)
		}
	case "Point":
		var pos []float64
		if err := json.Unmarshal(f.Geometry.Coordinates, &pos); err != nil {
			return z, fmt.Errorf("point coordinates: %v", err)
		}
		ll, err := latLng(pos)
		if err != nil {
			return z, err
		}
		if z.RadiusM, err = numberProp(f.Properties, "radius_m", -1); err != nil {
			return z, err
		}
		if !(z.RadiusM > 0) {
			return z, errors.New("a Point zone needs a positive radius_m")
		}
		z.center = s2.PointFromLatLng(ll)
	default:
		return z, fmt.Errorf("geometry type %q is not a zone (want Polygon, MultiPolygon or Point)", f.Geometry.Type)
	}
	return z, nil
}

func stringProp(props map[string]any, k string) string {
	if s, ok := props[k].(string); ok {
		return s
	}
	return ""
}

func numberProp(props map[string]any, k string, def float64) (float64, error) {
	v, ok := props[k]
	if !ok || v == nil {
		return def, nil
	}
	x, ok := v.(float64)
	if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("%s is not a number", k)
	}
	return x, nil
}

func latLng(pos []float64) (s2.LatLng, error) {
	if len(pos) < 2 {
		return s2.LatLng{}, fmt.Errorf("position has %d numbers, want longitude and latitude", len(pos))
	}
	lon, lat := pos[0], pos[1]
	if math.IsNaN(lon) || math.IsNaN(lat) || lon < -180 || lon > 180 || lat < -90 || lat > 90 {
		return s2.LatLng{}, errors.New("position out of range (GeoJSON order is longitude, latitude)")
	}
	return s2.LatLngFromDegrees(lat, lon), nil
}

// polygon builds an S2 polygon from GeoJSON rings: the first is the outer
// boundary, the others are holes. Rings may be wound either way; each is
// normalised to enclose the smaller area, as no zone spans a hemisphere.
func polygon(rings [][][]float64) (*s2.Polygon, error) {
	if len(rings) == 0 {
		return nil, errors.New("polygon has no rings")
	}
	loops := make([]*s2.Loop, 0, len(rings))
	for r, ring := range rings {
		if len(ring) < 4 {
			return nil, fmt.Errorf("ring %d has %d positions, a closed ring needs at least 4", r, len(ring))
		}
		first, last := ring[0], ring[len(ring)-1]
		if len(first) < 2 || len(last) < 2 || first[0] != last[0] || first[1] != last[1] {
			return nil, fmt.Errorf("ring %d is not closed (its last position must equal its first)", r)
		}
		pts := make([]s2.Point, 0, len(ring)-1)
		for k, pos := range ring[:len(ring)-1] {
			ll, err := latLng(pos)
			if err != nil {
				return nil, fmt.Errorf("ring %d position %d: %w", r, k, err)
			}
			p := s2.PointFromLatLng(ll)
			if len(pts) > 0 && pts[len(pts)-1] == p {
				continue // a repeated vertex adds nothing
			}
			pts = append(pts, p)
		}
		if len(pts) > 1 && pts[0] == pts[len(pts)-1] {
			pts = pts[:len(pts)-1]
		}
		if len(pts) < 3 {
			return nil, fmt.Errorf("ring %d has fewer than 3 distinct vertices", r)
		}
		loop := s2.LoopFromPoints(pts)
		if err := loop.Validate(); err != nil {
			return nil, fmt.Errorf("ring %d: %v", r, err)
		}
		if e, ok := selfIntersection(pts); ok {
			return nil, fmt.Errorf("ring %d crosses itself at edge %d", r, e)
		}
		loop.Normalize()
		// S2 nests loops by containment whatever their order, so a "hole"
		// that is not inside the outer ring would turn into a second shell,
		// or, if it encloses the outer ring, make the zone itself a hole.
		if r > 0 && !loops[0].Contains(loop) {
			return nil, fmt.Errorf("ring %d is not inside ring 0 (a polygon's first ring is its outer boundary, the others are holes)", r)
		}
		loops = append(loops, loop)
	}
	p := s2.PolygonFromLoops(loops)
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// selfIntersection reports the first edge of a ring that crosses a
// non-adjacent edge. S2's Go port does not check this yet.
func selfIntersection(pts []s2.Point) (int, bool) {
	n := len(pts)
	for i := 0; i < n; i++ {
		a, b := pts[i], pts[(i+1)%n]
		c := s2.NewChainEdgeCrosser(a, b, pts[(i+2)%n])
		for j := i + 2; j < n; j++ {
			if i == 0 && j == n-1 {
				break // adjacent through the closing edge
			}
			if c.ChainCrossingSign(pts[(j+1)%n]) != s2.DoNotCross {
				return i, true
			}
		}
	}
	return 0, false
}

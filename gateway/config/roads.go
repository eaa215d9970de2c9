package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"quietzone/geofence"
	"quietzone/uplink/atrest"
)

// Roads are where a fleet drives: polylines (GeoJSON LineString and
// MultiLineString features, roads or recorded tracks), for placing decoys
// where real zones could be (MakeCovers).
type Roads struct {
	lines [][][2]float64 // [lat, lon]
	// feat is the feature each line came from: a track is a feature
	// (one trip), a MultiLineString track one trip with breaks in it.
	feat []int
	// cum is the cumulative length in metres at the end of each segment,
	// over every line in order; segs the segments it indexes.
	cum  []float64
	segs []seg
}

type seg struct{ line, i int }

// MaxRoadPoints bounds a roads file.
const MaxRoadPoints = 5_000_000

// LoadRoads reads a roads file (ParseRoads).
func LoadRoads(path string) (*Roads, error) {
	data, err := atrest.Read(path, atrest.Zones.Named("roads"))
	if err != nil {
		return nil, fmt.Errorf("load roads: %w", err)
	}
	return ParseRoads(path, data)
}

// LoadTracks reads a tracks file: the fleet's own past trips, one
// LineString (or MultiLineString, a trip with breaks) feature each, in the
// roads' format (ParseRoads). As secret as the zones: it says where the
// fleet's people went.
func LoadTracks(path string) (*Roads, error) {
	data, err := atrest.Read(path, atrest.Zones.Named("tracks"))
	if err != nil {
		return nil, fmt.Errorf("load tracks: %w", err)
	}
	return ParseRoads(path, data)
}

// ParseRoads reads a GeoJSON FeatureCollection of LineString and
// MultiLineString features. Anything else, or a line with fewer than two
// positions or a position that is not one, is an error "name:line: reason"
// naming the feature's index; a file without any length is refused.
func ParseRoads(name string, data []byte) (*Roads, error) {
	fail := func(off int64, format string, args ...any) (*Roads, error) {
		return nil, &ConfigError{File: name, Line: 1 + bytes.Count(data[:max(0, min(off, int64(len(data))))], []byte("\n")), Reason: fmt.Sprintf(format, args...)}
	}
	jsonFail := func(off int64, err error) (*Roads, error) {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			off = se.Offset
		case errors.As(err, &te):
			off = te.Offset
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			off = int64(len(data))
			return fail(off, "the file ends early")
		}
		return fail(off, "not GeoJSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil {
		return jsonFail(0, err)
	} else if t != json.Delim('{') {
		return fail(0, "want a GeoJSON FeatureCollection (an object)")
	}
	r := &Roads{}
	var typ string
	sawFeatures := false
	points := 0
	for dec.More() {
		off := dec.InputOffset()
		t, err := dec.Token()
		if err != nil {
			return jsonFail(off, err)
		}
		key, _ := t.(string)
		switch key {
		case "type":
			if err := dec.Decode(&typ); err != nil {
				return jsonFail(off, err)
			}
			if typ != "FeatureCollection" {
				return fail(off, "type %q, want FeatureCollection", typ)
			}
		case "features":
			if sawFeatures {
				return fail(off, "features given twice")
			}
			sawFeatures = true
			if t, err := dec.Token(); err != nil {
				return jsonFail(off, err)
			} else if t != json.Delim('[') {
				return fail(off, "features: want an array")
			}
			for n := 0; dec.More(); n++ {
				foff := dec.InputOffset()
				var f struct {
					Type     string `json:"type"`
					Geometry *struct {
						Type        string          `json:"type"`
						Coordinates json.RawMessage `json:"coordinates"`
					} `json:"geometry"`
				}
				if err := dec.Decode(&f); err != nil {
					return jsonFail(foff, err)
				}
				for foff < int64(len(data)) && bytes.IndexByte([]byte(", \t\r\n"), data[foff]) >= 0 {
					foff++ // past the separator, at the feature
				}
				if f.Type != "Feature" || f.Geometry == nil {
					return fail(foff, "feature %d: want a Feature with a geometry", n)
				}
				var lines [][][]float64
				switch f.Geometry.Type {
				case "LineString":
					var l [][]float64
					if err := json.Unmarshal(f.Geometry.Coordinates, &l); err != nil {
						return fail(foff, "feature %d: LineString coordinates: want an array of positions", n)
					}
					lines = [][][]float64{l}
				case "MultiLineString":
					if err := json.Unmarshal(f.Geometry.Coordinates, &lines); err != nil {
						return fail(foff, "feature %d: MultiLineString coordinates: want arrays of positions", n)
					}
				default:
					return fail(foff, "feature %d: geometry %q, want LineString or MultiLineString (roads or tracks)", n, f.Geometry.Type)
				}
				for _, l := range lines {
					if len(l) < 2 {
						return fail(foff, "feature %d: a line needs at least two positions", n)
					}
					line := make([][2]float64, len(l))
					for i, p := range l {
						if len(p) < 2 || !(p[0] >= -180 && p[0] <= 180 && p[1] >= -90 && p[1] <= 90) {
							return fail(foff, "feature %d: position %d: want [longitude, latitude] in degrees", n, i)
						}
						line[i] = [2]float64{p[1], p[0]}
					}
					if points += len(line); points > MaxRoadPoints {
						return fail(foff, "more than %d positions", MaxRoadPoints)
					}
					r.lines = append(r.lines, line)
					r.feat = append(r.feat, n)
				}
			}
			if _, err := dec.Token(); err != nil { // ]
				return jsonFail(dec.InputOffset(), err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return jsonFail(off, err)
			}
		}
	}
	if _, err := dec.Token(); err != nil { // }
		return jsonFail(dec.InputOffset(), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail(dec.InputOffset(), "data after the FeatureCollection")
	}
	if typ != "FeatureCollection" {
		return fail(0, "want \"type\": \"FeatureCollection\"")
	}
	total := 0.0
	for li, l := range r.lines {
		for i := 1; i < len(l); i++ {
			d := geofence.DistanceM(l[i-1][0], l[i-1][1], l[i][0], l[i][1])
			if d == 0 {
				continue
			}
			total += d
			r.cum = append(r.cum, total)
			r.segs = append(r.segs, seg{li, i})
		}
	}
	if !(total > 0) {
		return fail(0, "the roads have no length")
	}
	return r, nil
}

// LengthM returns the roads' total length.
func (r *Roads) LengthM() float64 { return r.cum[len(r.cum)-1] }

// at returns the point at a share u in [0, 1) of the roads' length.
func (r *Roads) at(u float64) (lat, lon float64) {
	x := u * r.LengthM()
	k := min(sort.SearchFloat64s(r.cum, x), len(r.cum)-1)
	s := r.segs[k]
	a, b := r.lines[s.line][s.i-1], r.lines[s.line][s.i]
	start := 0.0
	if k > 0 {
		start = r.cum[k-1]
	}
	f := math.Max(0, math.Min(1, (x-start)/(r.cum[k]-start)))
	return a[0] + f*(b[0]-a[0]), a[1] + f*(b[1]-a[1])
}

// trackEnd is a track's first or last position.
type trackEnd struct {
	lat, lon float64
}

// traffic counts a fleet's past tracks at discs (MakeCovers): how many
// distinct tracks cross a disc, and how many of their ends lie in it.
// Segments are indexed in cells of gridDeg degrees, by points along them
// at most half a cell apart, so that a query looks at the cells around
// the disc, one cell wider, and nothing else.
type traffic struct {
	r    *Roads
	segs map[[2]int32][]int32 // cell → indices into r.segs
	ends map[[2]int32][]trackEnd
	// first and last are each track's ends, by feature (through).
	first, last []trackEnd
	seen        []uint32 // by track: the query that last counted it
	query       uint32
}

const (
	gridDeg = 0.01
	// maxGridEntries bounds the index: tracks as long as a few hundred
	// thousand km are refused rather than indexed without end.
	maxGridEntries = 20_000_000
)

func cellOf(lat, lon float64) [2]int32 {
	return [2]int32{int32(math.Floor(lat / gridDeg)), int32(math.Floor(lon / gridDeg))}
}

// newTraffic indexes r's lines as tracks, one per feature.
func newTraffic(r *Roads) (*traffic, error) {
	t := &traffic{r: r, segs: map[[2]int32][]int32{}, ends: map[[2]int32][]trackEnd{}}
	tracks := 0
	if len(r.feat) > 0 {
		tracks = r.feat[len(r.feat)-1] + 1
	}
	t.seen = make([]uint32, tracks)
	t.first, t.last = make([]trackEnd, tracks), make([]trackEnd, tracks)
	entries := 0
	for k, s := range r.segs {
		a, b := r.lines[s.line][s.i-1], r.lines[s.line][s.i]
		steps := int(math.Ceil(math.Max(math.Abs(b[0]-a[0]), math.Abs(b[1]-a[1])) / (gridDeg / 2)))
		if entries += steps + 1; entries > maxGridEntries {
			return nil, errors.New("the tracks are too long to index: give fewer or shorter ones")
		}
		last := [2]int32{math.MaxInt32, math.MaxInt32}
		for j := 0; j <= steps; j++ {
			f := float64(j) / float64(max(steps, 1))
			c := cellOf(a[0]+f*(b[0]-a[0]), a[1]+f*(b[1]-a[1]))
			if c != last {
				t.segs[c] = append(t.segs[c], int32(k))
				last = c
			}
		}
	}
	for li, l := range r.lines {
		first := li == 0 || r.feat[li-1] != r.feat[li]
		lastLine := li == len(r.lines)-1 || r.feat[li+1] != r.feat[li]
		if first {
			c := cellOf(l[0][0], l[0][1])
			t.ends[c] = append(t.ends[c], trackEnd{l[0][0], l[0][1]})
			t.first[r.feat[li]] = trackEnd{l[0][0], l[0][1]}
		}
		if lastLine {
			p := l[len(l)-1]
			c := cellOf(p[0], p[1])
			t.ends[c] = append(t.ends[c], trackEnd{p[0], p[1]})
			t.last[r.feat[li]] = trackEnd{p[0], p[1]}
		}
	}
	return t, nil
}

// throughMarginM: a track that crosses a disc and starts and ends this
// far outside it passes through: a trip that could show a gap there, its
// ends being hidden up to trip_end_m + trip_end_spread_m (2 km by default).
const throughMarginM = 2000

// at counts the tracks that come within rM metres of (lat, lon), the
// tracks' ends (starts and ends) within it, and the crossing tracks that
// pass through (throughMarginM): a real cover's gaps come from those.
func (t *traffic) at(lat, lon, rM float64) (crossing, ends, through int) {
	const mPerDeg = geofence.EarthRadiusM * math.Pi / 180
	kx := mPerDeg * math.Max(math.Cos(lat*math.Pi/180), 1e-6)
	dLat, dLon := math.Min(rM/mPerDeg+gridDeg, 180), math.Min(rM/kx+gridDeg, 360)
	lo, hi := cellOf(lat-dLat, lon-dLon), cellOf(lat+dLat, lon+dLon)
	t.query++
	xy := func(p [2]float64) (float64, float64) { return (p[1] - lon) * kx, (p[0] - lat) * mPerDeg }
	cell := func(i, j int32) {
		for _, k := range t.segs[[2]int32{i, j}] {
			s := t.r.segs[k]
			f := t.r.feat[s.line]
			if t.seen[f] == t.query {
				continue
			}
			ax, ay := xy(t.r.lines[s.line][s.i-1])
			bx, by := xy(t.r.lines[s.line][s.i])
			if segDist(ax, ay, bx, by) <= rM {
				t.seen[f] = t.query
				crossing++
				a, b := t.first[f], t.last[f]
				if geofence.DistanceM(lat, lon, a.lat, a.lon) > rM+throughMarginM && geofence.DistanceM(lat, lon, b.lat, b.lon) > rM+throughMarginM {
					through++
				}
			}
		}
		for _, e := range t.ends[[2]int32{i, j}] {
			if geofence.DistanceM(lat, lon, e.lat, e.lon) <= rM {
				ends++
			}
		}
	}
	if span := (int64(hi[0]) - int64(lo[0]) + 1) * (int64(hi[1]) - int64(lo[1]) + 1); span <= int64(len(t.segs)+len(t.ends)) {
		for i := lo[0]; i <= hi[0]; i++ {
			for j := lo[1]; j <= hi[1]; j++ {
				cell(i, j)
			}
		}
		return crossing, ends, through
	}
	// Near a pole a disc spans more cells than the index holds: look at
	// the cells it holds instead.
	for c := range t.segs {
		if c[0] >= lo[0] && c[0] <= hi[0] && c[1] >= lo[1] && c[1] <= hi[1] {
			cell(c[0], c[1])
		}
	}
	for c := range t.ends {
		if _, ok := t.segs[c]; !ok && c[0] >= lo[0] && c[0] <= hi[0] && c[1] >= lo[1] && c[1] <= hi[1] {
			cell(c[0], c[1])
		}
	}
	return crossing, ends, through
}

// segDist is the distance from the origin to the segment from a to b.
func segDist(ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	f := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		f = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l))
	}
	return math.Hypot(ax+f*dx, ay+f*dy)
}

package geofence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang/geo/s2"
)

// Options control how a zone file is read.
type Options struct {
	// DefaultBufferM is the buffer of zones that have no "buffer_m".
	DefaultBufferM float64
	// ReachM is how far past a buffer the index answers from its table
	// (DefaultReachM when 0); see Index.ReachM.
	ReachM float64
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
	fail := func(feature int, reason string) error {
		return fmt.Errorf("load zones: %w", &FeatureError{File: name, Feature: feature, Reason: reason})
	}
	if !(opts.DefaultBufferM >= 0) || math.IsInf(opts.DefaultBufferM, 0) {
		return nil, fail(-1, "default buffer must be a non-negative finite number")
	}
	reach := opts.ReachM
	if reach == 0 {
		reach = DefaultReachM
	}
	if !(reach > 0) || reach > MaxReachM {
		return nil, fail(-1, "reach must be a positive number of metres up to 5000 km")
	}
	zones, i, err := parseCollection(data, opts)
	if err != nil {
		return nil, fail(i, err.Error())
	}
	return newIndex(zones, reach), nil
}

// parseCollection reads the FeatureCollection one feature at a time and
// parses the features on every CPU while it reads on: the file's features
// are never all decoded at once, which would take several times the file's
// size. Problems come in the order a reader would meet them: a syntax
// error anywhere first, then the collection's own, then the first invalid
// feature in file order (the error's int is its index; -1 for the file).
func parseCollection(data []byte, opts Options) ([]Zone, int, error) {
	p := startParsers(data, opts)
	n, err := readCollection(data, p.add)
	zones, bad, ferr := p.wait()
	switch {
	case err != nil:
		return nil, -1, err
	case n == 0:
		return nil, -1, errors.New("no features: an empty zone list is refused, so that a truncated file cannot disable the gateway")
	case ferr != nil:
		return nil, bad, ferr
	}
	return zones, -1, nil
}

// readCollection walks the top-level object, handing every element of
// "features" to add (its offset in data and its bytes) and skipping other
// members (GeoJSON allows foreign ones). It returns the number of
// features.
func readCollection(data []byte, add func(off int64, raw []byte)) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	syntax := func(err error) error { return errors.New(jsonReason(data, err)) }
	at := func(format string, args ...any) error {
		return fmt.Errorf("line %d: "+format, append([]any{lineAt(data, dec.InputOffset())}, args...)...)
	}
	if tok, err := dec.Token(); err != nil {
		return 0, syntax(err)
	} else if tok != json.Delim('{') {
		return 0, at("the file is not a JSON object (want a GeoJSON FeatureCollection)")
	}
	var typ *string
	n, features := 0, false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return 0, syntax(err)
		}
		key, _ := tok.(string) // a key is always a string
		if (key == "type" && typ != nil) || (key == "features" && features) {
			return 0, at("%q appears twice in the FeatureCollection", key)
		}
		// Foreign members are allowed, but not one a reader could take for
		// the features: its zones would be left out without a word.
		if (strings.EqualFold(key, "type") && key != "type") || (strings.EqualFold(key, "features") && key != "features") {
			return 0, at("member %q: GeoJSON names are case-sensitive (want %q)", key, strings.ToLower(key))
		}
		switch key {
		case "type":
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return 0, syntax(err)
			}
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return 0, at("the FeatureCollection's type is not a string")
			}
			typ = &s
		case "features":
			features = true
			if tok, err := dec.Token(); err != nil {
				return 0, syntax(err)
			} else if tok != json.Delim('[') {
				return 0, at("features is not an array")
			}
			for dec.More() {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return 0, syntax(err)
				}
				end := dec.InputOffset()
				add(end-int64(len(raw)), data[end-int64(len(raw)):end])
				n++
			}
			if _, err := dec.Token(); err != nil { // ]
				return 0, syntax(err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return 0, syntax(err)
			}
		}
	}
	if _, err := dec.Token(); err != nil { // }
		return 0, syntax(err)
	}
	// A second document after the first is refused: with two zone files
	// run together, the zones of the second would be silently left out.
	if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return 0, fmt.Errorf("line %d: data after the FeatureCollection (two files run together?)", lineAt(data, int64(len(data)-len(rest))))
	}
	if typ == nil || *typ != "FeatureCollection" {
		t := ""
		if typ != nil {
			t = *typ
		}
		return 0, fmt.Errorf("top-level type %q, want FeatureCollection", t)
	}
	return n, nil
}

// parsers parse batches of features on every CPU. The first invalid
// feature in file order wins, whichever worker met it; batches after it
// are skipped.
type parsers struct {
	data     []byte
	opts     Options
	todo     chan *featureBatch
	wg       sync.WaitGroup
	mu       sync.Mutex
	done     []*featureBatch
	firstBad atomic.Int64
	cur      *featureBatch
	next     int
}

// featureBatch is a run of consecutive features: their offsets in the
// file and their bytes, then their zones or the first invalid one.
type featureBatch struct {
	first int
	offs  []int64
	raws  [][]byte
	zones []Zone
	bad   int // index in the file of the invalid feature, or -1
	err   error
}

const featureBatchSize = 64

func startParsers(data []byte, opts Options) *parsers {
	workers := runtime.GOMAXPROCS(0)
	p := &parsers{data: data, opts: opts, todo: make(chan *featureBatch, workers)}
	p.firstBad.Store(math.MaxInt64)
	for range workers {
		p.wg.Go(p.work)
	}
	return p
}

// add queues a feature (called by the reader, in file order).
func (p *parsers) add(off int64, raw []byte) {
	if p.cur == nil {
		p.cur = &featureBatch{first: p.next, bad: -1}
	}
	p.cur.offs = append(p.cur.offs, off)
	p.cur.raws = append(p.cur.raws, raw)
	p.next++
	if len(p.cur.raws) == featureBatchSize {
		p.todo <- p.cur
		p.cur = nil
	}
}

func (p *parsers) work() {
	for b := range p.todo {
		if int64(b.first) <= p.firstBad.Load() {
			b.parse(p)
		}
		b.offs, b.raws = nil, nil
		p.mu.Lock()
		p.done = append(p.done, b)
		p.mu.Unlock()
	}
}

func (b *featureBatch) parse(p *parsers) {
	b.zones = make([]Zone, len(b.raws))
	for k, raw := range b.raws {
		var f feature
		err := json.Unmarshal(raw, &f)
		if err != nil {
			err = p.decodeError(b.offs[k], err)
		} else {
			b.zones[k], err = parseFeature(f, p.opts)
		}
		if err != nil {
			b.bad, b.err = b.first+k, err
			for {
				cur := p.firstBad.Load()
				if int64(b.bad) >= cur || p.firstBad.CompareAndSwap(cur, int64(b.bad)) {
					break
				}
			}
			b.zones = b.zones[:k]
			return
		}
	}
}

// decodeError gives a feature's decoding error the line it is on: its
// offset counts from the feature's first byte, at off in the file.
func (p *parsers) decodeError(off int64, err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Errorf("line %d: %w", lineAt(p.data, off+te.Offset), err)
	case errors.As(err, &se): // the reader has scanned the feature: not expected
		return fmt.Errorf("line %d: %w", lineAt(p.data, off+se.Offset), err)
	}
	return err
}

// wait parses what is left, stops the workers and returns the zones in
// file order, or the first invalid feature and its error.
func (p *parsers) wait() ([]Zone, int, error) {
	if p.cur != nil {
		p.todo <- p.cur
		p.cur = nil
	}
	close(p.todo)
	p.wg.Wait()
	slices.SortFunc(p.done, func(a, b *featureBatch) int { return a.first - b.first })
	for _, b := range p.done {
		if b.err != nil {
			return nil, b.bad, b.err
		}
	}
	zones := make([]Zone, 0, p.next)
	for _, b := range p.done {
		zones = append(zones, b.zones...)
	}
	return zones, -1, nil
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
	z.Geometry = f.Geometry.Type
	var err error
	if z.BufferM, err = numberProp(f.Properties, "buffer_m", opts.DefaultBufferM); err != nil {
		return z, err
	}
	if z.BufferM < 0 {
		return z, errors.New("buffer_m is negative")
	}
	if z.BufferM > MaxBufferM {
		return z, fmt.Errorf("buffer_m is larger than %.0f km", MaxBufferM/1000)
	}
	if z.ValidFrom, z.ValidUntil, err = window(f.Properties); err != nil {
		return z, err
	}
	if z.Policy, err = policy(f.Properties["policy"]); err != nil {
		return z, err
	}
	if z.RadiusM, err = numberProp(f.Properties, "radius_m", 0); err != nil {
		return z, err
	}
	if z.WidthM, err = numberProp(f.Properties, "width_m", 0); err != nil {
		return z, err
	}
	if _, ok := f.Properties["radius_m"]; ok && f.Geometry.Type != "Point" {
		return z, errors.New("radius_m is for Point zones only")
	}
	if _, ok := f.Properties["width_m"]; ok && f.Geometry.Type != "LineString" {
		return z, errors.New("width_m is for LineString zones only")
	}
	switch f.Geometry.Type {
	case "Polygon":
		var rings [][][]float64
		if err := json.Unmarshal(f.Geometry.Coordinates, &rings); err != nil {
			return z, fmt.Errorf("polygon coordinates: %v", err)
		}
		s, err := polygon(rings)
		if err != nil {
			return z, err
		}
		z.shapes = append(z.shapes, s)
	case "MultiPolygon":
		var polys [][][][]float64
		if err := json.Unmarshal(f.Geometry.Coordinates, &polys); err != nil {
			return z, fmt.Errorf("multipolygon coordinates: %v", err)
		}
		if len(polys) == 0 {
			return z, errors.New("multipolygon has no polygons")
		}
		// Each polygon is a shape of its own: the zone is their union,
		// even where they overlap.
		for j, rings := range polys {
			s, err := polygon(rings)
			if err != nil {
				return z, fmt.Errorf("polygon %d: %w", j, err)
			}
			z.shapes = append(z.shapes, s)
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
		if !(z.RadiusM > 0) {
			return z, errors.New("a Point zone needs a positive radius_m")
		}
		s, err := newShape(kindCircle, [][]vec{{fromS2(s2.PointFromLatLng(ll))}}, false, z.RadiusM)
		if err != nil {
			return z, err
		}
		z.shapes = append(z.shapes, s)
	case "LineString":
		var line [][]float64
		if err := json.Unmarshal(f.Geometry.Coordinates, &line); err != nil {
			return z, fmt.Errorf("linestring coordinates: %v", err)
		}
		if !(z.WidthM > 0) {
			return z, errors.New("a LineString zone (a corridor) needs a positive width_m")
		}
		s, err := corridor(line, z.WidthM)
		if err != nil {
			return z, err
		}
		z.shapes = append(z.shapes, s)
	default:
		return z, fmt.Errorf("geometry type %q is not a zone (want Polygon, MultiPolygon, Point or LineString)", f.Geometry.Type)
	}
	return z, nil
}

// window reads valid_from and valid_until.
func window(props map[string]any) (from, until time.Time, err error) {
	for _, k := range [...]string{"valid_from", "valid_until"} {
		v, ok := props[k]
		if !ok || v == nil {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return from, until, fmt.Errorf("%s is not a string (want an RFC 3339 time such as 2026-06-01T08:00:00Z)", k)
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return from, until, fmt.Errorf("%s is not an RFC 3339 time (such as 2026-06-01T08:00:00Z)", k)
		}
		if y := t.Year(); y < 1900 || y > 2200 {
			return from, until, fmt.Errorf("%s is not between the years 1900 and 2200", k)
		}
		if k == "valid_from" {
			from = t
		} else {
			until = t
		}
	}
	if !from.IsZero() && !until.IsZero() && until.Before(from) {
		return from, until, errors.New("valid_until is before valid_from")
	}
	return from, until, nil
}

// policy reads a zone's "policy" object. Unknown keys are refused: a
// misspelt override would otherwise silently not apply.
func policy(v any) (Policy, error) {
	var p Policy
	if v == nil {
		return p, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return p, errors.New("policy is not an object")
	}
	for k := range m {
		switch k {
		case "lookahead_s", "clear_fixes", "withhold_m":
		default:
			return p, fmt.Errorf("policy: unknown key %q (want lookahead_s, clear_fixes or withhold_m)", k)
		}
	}
	la, err := numberProp(m, "lookahead_s", 0)
	if err != nil {
		return p, fmt.Errorf("policy.%w", err)
	}
	if la < 0 || la > MaxLookAheadS {
		return p, fmt.Errorf("policy.lookahead_s must be from 0 to %d seconds", MaxLookAheadS)
	}
	p.LookAhead = time.Duration(la * float64(time.Second))
	cf, err := numberProp(m, "clear_fixes", 0)
	if err != nil {
		return p, fmt.Errorf("policy.%w", err)
	}
	if _, ok := m["clear_fixes"]; ok && (cf < 1 || cf > 1000 || cf != math.Trunc(cf)) {
		return p, errors.New("policy.clear_fixes must be a whole number from 1 to 1000")
	}
	p.ClearFixes = int(cf)
	if p.WithholdM, err = numberProp(m, "withhold_m", 0); err != nil {
		return p, fmt.Errorf("policy.%w", err)
	}
	if p.WithholdM < 0 || p.WithholdM > MaxBufferM {
		return p, fmt.Errorf("policy.withhold_m must be from 0 to %.0f km", MaxBufferM/1000)
	}
	return p, nil
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

// corridor builds the centre line of a LineString zone.
func corridor(line [][]float64, widthM float64) (*shape, error) {
	if len(line) < 2 {
		return nil, fmt.Errorf("linestring has %d positions, a corridor needs at least 2", len(line))
	}
	pts := make([]vec, 0, len(line))
	for k, pos := range line {
		ll, err := latLng(pos)
		if err != nil {
			return nil, fmt.Errorf("position %d: %w", k, err)
		}
		p := fromS2(s2.PointFromLatLng(ll))
		if len(pts) > 0 && pts[len(pts)-1] == p {
			continue
		}
		if len(pts) > 0 && pts[len(pts)-1].dot(p) < 0 {
			return nil, fmt.Errorf("positions %d and %d are more than a quarter of the Earth apart", k-1, k)
		}
		pts = append(pts, p)
	}
	if len(pts) < 2 {
		return nil, errors.New("linestring has fewer than 2 distinct positions")
	}
	return newShape(kindCorridor, [][]vec{pts}, false, widthM/2)
}

// polygon validates GeoJSON rings with S2 and builds a shape from them:
// the first ring is the outer boundary, the others are holes. Rings may be
// wound either way; each is normalised to enclose the smaller area, as no
// zone spans a hemisphere.
func polygon(rings [][][]float64) (*shape, error) {
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
		if e, ok := selfIntersection(pts, loop); ok {
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
	if err := s2.PolygonFromLoops(loops).Validate(); err != nil {
		return nil, err
	}
	chains := make([][]vec, len(loops))
	for i, l := range loops {
		for _, v := range l.Vertices() {
			chains[i] = append(chains[i], fromS2(v))
		}
	}
	return newShape(kindPolygon, chains, true, 0)
}

// selfIntersection reports the first edge of a ring (edge i runs from
// pts[i] to the next vertex) that crosses or touches an edge not next to
// it. S2's Go port does not check this yet. Rings of more than
// pairScanMax vertices are checked through an S2 index of their edges
// (loop is the ring as an S2 loop): pair by pair, a ring of 50,000
// vertices would take half a minute.
func selfIntersection(pts []s2.Point, loop *s2.Loop) (int, bool) {
	if len(pts) <= pairScanMax {
		return selfIntersectionPairs(pts)
	}
	return selfIntersectionIndexed(pts, loop)
}

const pairScanMax = 64

// selfIntersectionPairs tests every pair of edges.
func selfIntersectionPairs(pts []s2.Point) (int, bool) {
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

// selfIntersectionIndexed asks an S2 crossing query, edge by edge, for the
// edges that cross or touch it; the first edge with one that is not its
// neighbour is the answer selfIntersectionPairs gives (crossing is
// symmetric, so the lower edge of the first pair is met first).
func selfIntersectionIndexed(pts []s2.Point, loop *s2.Loop) (int, bool) {
	n := len(pts)
	index := s2.NewShapeIndex()
	index.Add(loop)
	q := s2.NewCrossingEdgeQuery(index)
	for i := range n {
		for _, j := range q.Crossings(pts[i], pts[(i+1)%n], loop, s2.CrossingTypeAll) {
			if j != i && j != (i+1)%n && j != (i+n-1)%n {
				return i, true
			}
		}
	}
	return 0, false
}

package geofence_test

// An independent reference for Index.Query: plain vector maths and a
// gnomonic projection per zone, no S2 and nothing from the package but the
// Earth radius. The gnomonic projection maps great circles to straight
// lines, so a polygon with geodesic edges stays a straight-edged polygon in
// the plane: ray casting is exact there, and planar distances are within a
// few parts per million of great-circle ones for zones a few kilometres
// across.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"quietzone/geofence"
)

// osmPath is the real-world zone file, relative to this package.
const osmPath = "../../shared/data/zones/osm-military-south-sudan.geojson"

// readOSM returns the OpenStreetMap file, or skips the test without it.
func readOSM(tb testing.TB) []byte {
	tb.Helper()
	data, err := os.ReadFile(osmPath)
	if errors.Is(err, os.ErrNotExist) {
		tb.Skipf("reference data %s is absent: run the tests with ../shared/data beside the repository", osmPath)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// loadOSM returns the OpenStreetMap zones with a 100 m default buffer.
func loadOSM(tb testing.TB) *geofence.Index {
	tb.Helper()
	ix, err := geofence.Parse(osmPath, readOSM(tb), geofence.Options{DefaultBufferM: 100})
	if err != nil {
		tb.Fatal(err)
	}
	return ix
}

type vec [3]float64

func toVec(lat, lon float64) vec {
	φ, λ := lat*math.Pi/180, lon*math.Pi/180
	return vec{math.Cos(φ) * math.Cos(λ), math.Cos(φ) * math.Sin(λ), math.Sin(φ)}
}

func dot(a, b vec) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

func cross(a, b vec) vec {
	return vec{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

func normalize(a vec) vec {
	n := math.Sqrt(dot(a, a))
	return vec{a[0] / n, a[1] / n, a[2] / n}
}

// gcDist is the great-circle distance in metres between two unit vectors.
func gcDist(a, b vec) float64 {
	c := cross(a, b)
	return math.Atan2(math.Sqrt(dot(c, c)), dot(a, b)) * geofence.EarthRadiusM
}

// haversine is the great-circle distance in metres between two positions.
func haversine(lat1, lon1, lat2, lon2 float64) float64 {
	φ1, φ2 := lat1*math.Pi/180, lat2*math.Pi/180
	dφ, dλ := φ2-φ1, (lon2-lon1)*math.Pi/180
	a := math.Sin(dφ/2)*math.Sin(dφ/2) + math.Cos(φ1)*math.Cos(φ2)*math.Sin(dλ/2)*math.Sin(dλ/2)
	return 2 * geofence.EarthRadiusM * math.Asin(math.Min(1, math.Sqrt(a)))
}

// destination moves distM metres from (lat, lon) on the initial bearing
// brg (radians clockwise from north).
func destination(lat, lon, brg, distM float64) (float64, float64) {
	φ1, λ1 := lat*math.Pi/180, lon*math.Pi/180
	δ := distM / geofence.EarthRadiusM
	φ2 := math.Asin(math.Sin(φ1)*math.Cos(δ) + math.Cos(φ1)*math.Sin(δ)*math.Cos(brg))
	λ2 := λ1 + math.Atan2(math.Sin(brg)*math.Sin(δ)*math.Cos(φ1), math.Cos(δ)-math.Sin(φ1)*math.Sin(φ2))
	lon2 := math.Mod(λ2*180/math.Pi+540, 360) - 180
	return φ2 * 180 / math.Pi, lon2
}

type xy struct{ x, y float64 }

// refZone is one zone for the reference: a circle, a corridor's centre
// line or polygons, projected onto the plane tangent at centre.
type refZone struct {
	bufferM, radiusM float64
	halfWidthM       float64 // corridors
	centre           vec
	east, north      vec
	polys            [][][]xy // polygon → ring → vertices (not repeated at the end)
	line             []xy
	raw              [][][][2]float64
	rawLine          [][2]float64
	lat, lon         float64 // circles
	boundM           float64 // no point of the zone is farther than this from centre
}

func (z *refZone) project(p vec) (xy, bool) {
	t := dot(p, z.centre)
	if t < 0.5 { // more than 60° away: nowhere near a zone a few km across
		return xy{}, false
	}
	return xy{geofence.EarthRadiusM * dot(p, z.east) / t, geofence.EarthRadiusM * dot(p, z.north) / t}, true
}

// locate returns whether p is inside the zone and its distance to the
// zone's boundary in metres (+Inf if it is very far).
func (z *refZone) locate(p vec) (inside bool, boundaryM float64) {
	if z.radiusM > 0 {
		d := gcDist(p, z.centre) - z.radiusM
		return d <= 0, math.Abs(d)
	}
	q, ok := z.project(p)
	if !ok {
		return false, math.Inf(1)
	}
	if z.line != nil {
		d := math.Inf(1)
		for i := range len(z.line) - 1 {
			d = math.Min(d, segDist(q, z.line[i], z.line[i+1]))
		}
		return d <= z.halfWidthM, math.Abs(d - z.halfWidthM)
	}
	boundaryM = math.Inf(1)
	for _, rings := range z.polys {
		crossings := 0
		for _, ring := range rings {
			for i := range ring {
				a, b := ring[i], ring[(i+1)%len(ring)]
				boundaryM = math.Min(boundaryM, segDist(q, a, b))
				if (a.y > q.y) != (b.y > q.y) && q.x < a.x+(q.y-a.y)*(b.x-a.x)/(b.y-a.y) {
					crossings++
				}
			}
		}
		if crossings%2 == 1 {
			inside = true
		}
	}
	return inside, boundaryM
}

func segDist(p, a, b xy) float64 {
	dx, dy := b.x-a.x, b.y-a.y
	t := 0.0
	if l2 := dx*dx + dy*dy; l2 > 0 {
		t = math.Max(0, math.Min(1, ((p.x-a.x)*dx+(p.y-a.y)*dy)/l2))
	}
	return math.Hypot(p.x-(a.x+t*dx), p.y-(a.y+t*dy))
}

// distance is the reference distance from p to the zone: 0 inside.
func (z *refZone) distance(p vec) (d, boundaryM float64) {
	in, b := z.locate(p)
	if in {
		return 0, b
	}
	return b, b
}

// refZones reads a zone file on its own: the reference shares no parsing
// with the package either.
func refZones(data []byte, defaultBufferM float64) ([]refZone, error) {
	var fc struct {
		Features []struct {
			Properties map[string]any `json:"properties"`
			Geometry   struct {
				Type        string          `json:"type"`
				Coordinates json.RawMessage `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(data, &fc); err != nil {
		return nil, err
	}
	zones := make([]refZone, 0, len(fc.Features))
	for i, f := range fc.Features {
		z := refZone{bufferM: defaultBufferM}
		if b, ok := f.Properties["buffer_m"].(float64); ok {
			z.bufferM = b
		}
		switch f.Geometry.Type {
		case "Point":
			var pos [2]float64
			if err := json.Unmarshal(f.Geometry.Coordinates, &pos); err != nil {
				return nil, err
			}
			z.radiusM, _ = f.Properties["radius_m"].(float64)
			z.centre = toVec(pos[1], pos[0])
			z.lat, z.lon = pos[1], pos[0]
			z.boundM = z.radiusM
			zones = append(zones, z)
			continue
		case "LineString":
			if err := json.Unmarshal(f.Geometry.Coordinates, &z.rawLine); err != nil {
				return nil, err
			}
			w, _ := f.Properties["width_m"].(float64)
			z.halfWidthM = w / 2
			var sum vec
			for _, pos := range z.rawLine {
				v := toVec(pos[1], pos[0])
				sum = vec{sum[0] + v[0], sum[1] + v[1], sum[2] + v[2]}
			}
			z.setCentre(normalize(sum))
			for _, pos := range z.rawLine {
				q, ok := z.project(toVec(pos[1], pos[0]))
				if !ok {
					return nil, fmt.Errorf("feature %d is too large for the reference", i)
				}
				z.line = append(z.line, q)
				z.boundM = math.Max(z.boundM, math.Hypot(q.x, q.y)+z.halfWidthM)
			}
			zones = append(zones, z)
			continue
		case "Polygon":
			var rings [][][2]float64
			if err := json.Unmarshal(f.Geometry.Coordinates, &rings); err != nil {
				return nil, err
			}
			z.raw = [][][][2]float64{rings}
		case "MultiPolygon":
			if err := json.Unmarshal(f.Geometry.Coordinates, &z.raw); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("feature %d: reference knows no %s", i, f.Geometry.Type)
		}
		var sum vec
		for _, rings := range z.raw {
			for _, pos := range rings[0][:len(rings[0])-1] {
				v := toVec(pos[1], pos[0])
				sum = vec{sum[0] + v[0], sum[1] + v[1], sum[2] + v[2]}
			}
		}
		z.setCentre(normalize(sum))
		for _, rings := range z.raw {
			var poly [][]xy
			for _, ring := range rings {
				pts := make([]xy, 0, len(ring)-1)
				for _, pos := range ring[:len(ring)-1] {
					q, ok := z.project(toVec(pos[1], pos[0]))
					if !ok {
						return nil, fmt.Errorf("feature %d is too large for the reference", i)
					}
					pts = append(pts, q)
					z.boundM = math.Max(z.boundM, math.Hypot(q.x, q.y))
				}
				poly = append(poly, pts)
			}
			z.polys = append(z.polys, poly)
		}
		zones = append(zones, z)
	}
	return zones, nil
}

// setCentre sets the centre of the zone's tangent plane.
func (z *refZone) setCentre(c vec) {
	z.centre = c
	axis := vec{0, 0, 1}
	if math.Abs(c[2]) > 0.9 {
		axis = vec{1, 0, 0}
	}
	z.east = normalize(cross(axis, c))
	z.north = cross(c, z.east)
}

// refResult is what the reference says about a position.
type refResult struct {
	inside    bool
	distM     float64 // to the nearest zone, 0 inside one
	marginM   float64 // min over zones of distance − buffer
	zone      int     // a zone with that margin
	boundaryM float64 // to the nearest zone boundary, inside or out
	margins   []float64
}

// refQuery scans every zone. Zones whose bounding circle is beyond
// reachM of their buffer are skipped, as they cannot matter.
func refQuery(zones []refZone, lat, lon, reachM float64, keepMargins bool) refResult {
	p := toVec(lat, lon)
	r := refResult{zone: -1, distM: math.Inf(1), marginM: math.Inf(1), boundaryM: math.Inf(1)}
	if keepMargins {
		r.margins = make([]float64, len(zones))
	}
	for i := range zones {
		z := &zones[i]
		if keepMargins {
			r.margins[i] = math.Inf(1)
		}
		if gcDist(p, z.centre)-z.boundM-z.bufferM > reachM+1 {
			continue
		}
		d, b := z.distance(p)
		r.boundaryM = math.Min(r.boundaryM, b)
		if d == 0 {
			r.inside = true
		}
		r.distM = math.Min(r.distM, d)
		m := d - z.bufferM
		if keepMargins {
			r.margins[i] = m
		}
		if m < r.marginM {
			r.marginM, r.zone = m, i
		}
	}
	return r
}

// nearEdge returns a point near the edge of a random zone, moved by
// 0–500 m in a random direction: for a polygon, a vertex or edge midpoint
// of an outer ring; for a corridor, one of its centre line; for a circle,
// its centre, moved by up to 500 m more than its radius.
func nearEdge(zones []refZone, rng *rand.Rand) (lat, lon float64) {
	z := &zones[rng.IntN(len(zones))]
	var ring [][2]float64
	switch {
	case z.raw != nil:
		ring = z.raw[rng.IntN(len(z.raw))][0]
	case z.rawLine != nil:
		ring = z.rawLine
	default: // anywhere from the centre to 500 m outside
		return destination(z.lat, z.lon, rng.Float64()*2*math.Pi, rng.Float64()*(z.radiusM+500))
	}
	k := rng.IntN(len(ring) - 1)
	lat, lon = ring[k][1], ring[k][0]
	if rng.IntN(2) == 0 {
		lat, lon = (lat+ring[k+1][1])/2, (lon+ring[k+1][0])/2
	}
	return destination(lat, lon, rng.Float64()*2*math.Pi, rng.Float64()*500)
}

// mixedOSM is the OSM file with corridors and circles added: every third
// polygon's outer ring, shifted 0.2° north, becomes a corridor 20–260 m
// wide; every fourth polygon gets a circle of 50–1650 m, shifted 0.2°
// south, on its first vertex. Buffers vary from 0 to 200 m.
func mixedOSM(tb testing.TB) []byte {
	tb.Helper()
	type feature struct {
		Type       string         `json:"type"`
		Properties map[string]any `json:"properties"`
		Geometry   map[string]any `json:"geometry"`
	}
	var features []feature
	for i, p := range osmPolygons(tb) {
		buffer := float64(i%5) * 50
		features = append(features, feature{"Feature", map[string]any{"id": p.id, "buffer_m": buffer},
			map[string]any{"type": "Polygon", "coordinates": p.rings}})
		if i%3 == 0 {
			ring := p.rings[0]
			line := make([][2]float64, 0, len(ring)-1)
			for _, pos := range ring[:len(ring)-1] {
				line = append(line, [2]float64{pos[0], pos[1] + 0.2})
			}
			features = append(features, feature{"Feature", map[string]any{"id": p.id + "/road", "buffer_m": 200 - buffer, "width_m": 20 + float64(i%7)*40},
				map[string]any{"type": "LineString", "coordinates": line}})
		}
		if i%4 == 1 {
			pos := p.rings[0][0]
			features = append(features, feature{"Feature", map[string]any{"id": p.id + "/mast", "buffer_m": buffer, "radius_m": 50 + float64(i%9)*200},
				map[string]any{"type": "Point", "coordinates": [2]float64{pos[0], pos[1] - 0.2}}})
		}
	}
	data, err := json.Marshal(map[string]any{"type": "FeatureCollection", "features": features})
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// tolerance for distances: 1 % or 1 m, whichever is larger.
func tolerance(d float64) float64 { return math.Max(1, 0.01*math.Abs(d)) }

// TestQueryMatchesReference queries random points near the edges of the
// real OSM polygons and compares Index.Query with the brute-force
// reference.
func TestQueryMatchesReference(t *testing.T) {
	t.Run("osm", func(t *testing.T) { queryMatchesReference(t, readOSM(t), 100) })
	t.Run("osm+corridors+circles", func(t *testing.T) { queryMatchesReference(t, mixedOSM(t), 0) })
}

func queryMatchesReference(t *testing.T, data []byte, defaultBufferM float64) {
	ix, err := geofence.Parse("reference.geojson", data, geofence.Options{DefaultBufferM: defaultBufferM})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := refZones(data, defaultBufferM)
	if err != nil {
		t.Fatal(err)
	}
	if len(ref) != ix.Len() {
		t.Fatalf("reference has %d zones, index %d", len(ref), ix.Len())
	}
	seed := uint64(20251125) // GEOFENCE_SEED=n tries another sample
	if s := os.Getenv("GEOFENCE_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("GEOFENCE_SEED: %v", err)
		}
	}
	n := 20000
	if testing.Short() {
		n = 3000
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	reaches := []float64{1000, 200, 50}
	failures, nearBoundary, insideSeen, cut := 0, 0, 0, 0
	maxErr, maxRel := 0.0, 0.0 // largest DistanceM disagreement
	fail := func(format string, args ...any) {
		t.Helper()
		failures++
		if failures <= 20 {
			t.Errorf("seed %d: "+format, append([]any{seed}, args...)...)
		}
	}
	for i := range n {
		lat, lon := nearEdge(ref, rng)
		for _, reach := range reaches {
			got := ix.Query(lat, lon, reach)
			want := refQuery(ref, lat, lon, reach, true)
			where := fmt.Sprintf("sample %d (%.7f, %.7f) reach %v: got %+v, reference inside %v dist %.3f margin %.3f boundary %.3f",
				i, lat, lon, reach, got, want.inside, want.distM, want.marginM, want.boundaryM)
			if want.boundaryM > 0.5 {
				if got.Inside != want.inside {
					fail("%s: Inside disagrees", where)
				}
			} else {
				nearBoundary++
			}
			if want.inside {
				insideSeen++
			}
			if want.distM <= reach {
				e := math.Abs(got.DistanceM - want.distM)
				if e > tolerance(want.distM) {
					fail("%s: DistanceM off by %.3f m", where, got.DistanceM-want.distM)
				}
				maxErr = math.Max(maxErr, e)
				if want.distM > 10 {
					maxRel = math.Max(maxRel, e/want.distM)
				}
			}
			switch {
			case want.marginM <= reach-tolerance(want.marginM):
				if math.Abs(got.MarginM-want.marginM) > tolerance(want.marginM) {
					fail("%s: MarginM off by %.3f m", where, got.MarginM-want.marginM)
				}
				if got.Zone < 0 || math.Abs(want.margins[got.Zone]-want.marginM) > tolerance(want.marginM) {
					fail("%s: zone %d is not one with the smallest margin", where, got.Zone)
				}
				if math.Abs(want.marginM) > tolerance(want.marginM) && got.InBuffer() != (want.marginM < 0) {
					fail("%s: InBuffer %v", where, got.InBuffer())
				}
			case want.marginM > reach+tolerance(want.marginM):
				cut++
				if got.Zone != -1 || !math.IsInf(got.MarginM, 1) || !math.IsInf(got.DistanceM, 1) {
					fail("%s: beyond reach, want zone -1 and +Inf", where)
				}
			}
		}
	}
	if failures > 0 {
		t.Fatalf("seed %d: %d of %d comparisons failed", seed, failures, len(reaches)*n)
	}
	// The sample must exercise every branch, or it proves little.
	if insideSeen < n/20 || cut < n/20 {
		t.Errorf("seed %d: weak sample: %d inside, %d beyond reach of %d", seed, insideSeen, cut, len(reaches)*n)
	}
	t.Logf("seed %d: %d points, %d comparisons inside a zone, %d beyond reach, %d within 0.5 m of a boundary (Inside not compared); DistanceM differs by at most %.3g m, %.2g relative beyond 10 m",
		seed, n, insideSeen, cut, nearBoundary, maxErr, maxRel)
}

// refMarginAt is the smallest margin (distance − buffer) of the zones in
// cand at a point.
func refMarginAt(zones []refZone, cand []int, lat, lon float64) float64 {
	p := toVec(lat, lon)
	m := math.Inf(1)
	for _, i := range cand {
		d, _ := zones[i].distance(p)
		m = math.Min(m, d-zones[i].bufferM)
	}
	return m
}

// near lists the zones whose margin at (lat, lon) is at most reachM.
func near(zones []refZone, lat, lon, reachM float64) []int {
	r := refQuery(zones, lat, lon, reachM, true)
	var out []int
	for i, m := range r.margins {
		if m <= reachM {
			out = append(out, i)
		}
	}
	return out
}

// refLookAhead samples the look-ahead sector of the model (written out
// again from its documentation, assess_test.go) and returns the smallest
// margin of a zone at a sample, and how far a point of the sector can be
// from the nearest sample.
func refLookAhead(zones []refZone, lat, lon, kmh, heading float64) (minMargin, stepM float64) {
	v := kmh / 3.6
	known := !math.IsNaN(heading) && !math.IsNaN(v) && v >= kin.MinHeadingSpeedMps
	if math.IsNaN(v) {
		v = kin.MaxSpeedMps
	}
	d := math.Min(reachM(math.Min(v, kin.MaxSpeedMps)*3.6, 3), kin.MaxSpeedMps*3)
	from, to := 0.0, 360.0
	if alpha := halfAngleDeg(v*3.6, 3); known && alpha < 90 {
		from, to = heading-alpha, heading+alpha
	}
	cand := near(zones, lat, lon, d+50)
	minMargin = math.Inf(1)
	const nr, na = 40, 90
	for i := 0; i <= nr; i++ {
		for j := 0; j <= na; j++ {
			brg := (from + (to-from)*float64(j)/na) * math.Pi / 180
			slat, slon := destination(lat, lon, brg, d*float64(i)/nr)
			minMargin = math.Min(minMargin, refMarginAt(zones, cand, slat, slon))
		}
	}
	return minMargin, math.Hypot(d/nr/2, d*(to-from)*math.Pi/180/na/2)
}

// TestAssessMatchesReference holds Assess and Crossed against the
// reference on random fixes near the edges of the OSM polygons, corridors
// and circles, with random speeds, headings and accuracies: the
// look-ahead and the paths between fixes are sampled densely. A sampled
// minimum is an upper bound of the true one; so where the reference finds
// a zone within reach, the index must too (no false all-clear), and where
// the index does, the reference must come within its sampling step.
func TestAssessMatchesReference(t *testing.T) {
	data := mixedOSM(t)
	// The default table, and one with a short reach: more of its cells are
	// small, wholly inside or outside zones, and more fixes need a scan.
	var indexes []*geofence.Index
	for _, reach := range []float64{0, 300} {
		ix, err := geofence.Parse("mixed.geojson", data, geofence.Options{ReachM: reach})
		if err != nil {
			t.Fatal(err)
		}
		indexes = append(indexes, ix)
	}
	ref, err := refZones(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 600
	if testing.Short() || raceEnabled {
		n = 150
	}
	rng := rand.New(rand.NewPCG(7, 8))
	const tol = 0.05 // metres: the planar reference against the sphere
	aheadSeen, notAhead, crossedSeen, notCrossed := 0, 0, 0, 0
	for i := range n {
		lat, lon := nearEdge(ref, rng)
		kmh := []float64{0, 5, 20, 50, 80, 130, 200, 450, math.NaN()}[rng.IntN(9)]
		heading := rng.Float64() * 360
		if rng.IntN(8) == 0 {
			heading = math.NaN()
		}
		f := geofence.Fix{Lat: lat, Lon: lon, AccuracyM: rng.Float64() * 20, SpeedMps: kmh / 3.6, HeadingDeg: heading, ExitMarginM: 50, WithholdM: 200}
		a := indexes[0].Assess(&f, &kin)
		if b := indexes[1].Assess(&f, &kin); b != a {
			t.Errorf("fix %d: %+v with the default table, %+v with a short one", i, a, b)
		}
		where := fmt.Sprintf("fix %d (%.7f, %.7f) %v km/h heading %.1f accuracy %.1f: %+v", i, lat, lon, kmh, heading, f.AccuracyM, a)

		m := refQuery(ref, lat, lon, 2000, false).marginM
		if m < f.AccuracyM+f.ExitMarginM-tol && a.Clear {
			t.Errorf("%s: clear, but a zone's margin is %.3f", where, m)
		}
		if m > f.AccuracyM+f.ExitMarginM+tol && !a.Ahead && !a.Clear {
			t.Errorf("%s: not clear, though the nearest margin is %.3f and nothing is ahead", where, m)
		}
		if (m < f.AccuracyM+f.WithholdM-tol && a.PositionClear) || (m > f.AccuracyM+f.WithholdM+tol && !a.PositionClear) {
			t.Errorf("%s: position clear %v with a margin of %.3f", where, a.PositionClear, m)
		}
		la, step := refLookAhead(ref, lat, lon, kmh, heading)
		if la < f.AccuracyM-tol && !a.Ahead {
			t.Errorf("%s: not ahead, but the sampled look-ahead comes within %.3f m of a buffer", where, la)
		}
		if a.Ahead && la > f.AccuracyM+step+tol {
			t.Errorf("%s: ahead, but the sampled look-ahead stays %.3f m from every buffer (step %.2f)", where, la, step)
		}
		if a.Ahead {
			aheadSeen++
		} else {
			notAhead++
		}

		// A path to a second fix 0–800 m away, sometimes 5–30 km.
		dist := rng.Float64() * 800
		if rng.IntN(10) == 0 {
			dist = 5000 + rng.Float64()*25000
		}
		lat2, lon2 := destination(lat, lon, rng.Float64()*2*math.Pi, dist)
		to := geofence.Fix{Lat: lat2, Lon: lon2, AccuracyM: rng.Float64() * 20}
		_, crossed := indexes[0].Crossed(&f, &to)
		if _, c := indexes[1].Crossed(&f, &to); c != crossed {
			t.Errorf("fix %d: path crossed %v with the default table, %v with a short one", i, crossed, c)
		}
		widen := math.Max(f.AccuracyM, to.AccuracyM)
		cand := near(ref, lat, lon, dist+widen+50)
		pathMin := math.Inf(1)
		samples := int(math.Max(2, math.Min(20000, dist/0.5)))
		for k := 0; k <= samples; k++ {
			slat, slon := destination(lat, lon, initialBearing(lat, lon, lat2, lon2), dist*float64(k)/float64(samples))
			pathMin = math.Min(pathMin, refMarginAt(ref, cand, slat, slon))
		}
		pathStep := dist / float64(samples) / 2
		if pathMin < widen-tol && !crossed {
			t.Errorf("%s: path of %.0f m to (%.7f, %.7f) not crossed, but a sample comes within %.3f m of a buffer", where, dist, lat2, lon2, pathMin)
		}
		if crossed && pathMin > widen+pathStep+tol {
			t.Errorf("%s: path of %.0f m to (%.7f, %.7f) crossed, but every sample is %.3f m from the buffers (step %.2f)", where, dist, lat2, lon2, pathMin, pathStep)
		}
		if crossed {
			crossedSeen++
		} else {
			notCrossed++
		}
	}
	if aheadSeen < n/10 || notAhead < n/10 || crossedSeen < n/10 || notCrossed < n/10 {
		t.Errorf("weak sample: %d ahead, %d not; %d paths crossed, %d not", aheadSeen, notAhead, crossedSeen, notCrossed)
	}
	t.Logf("%d fixes: %d ahead, %d not; %d paths crossed, %d not", n, aheadSeen, notAhead, crossedSeen, notCrossed)
}

// initialBearing is the bearing (radians) of the great circle from 1 to 2.
func initialBearing(lat1, lon1, lat2, lon2 float64) float64 {
	φ1, φ2, dλ := lat1*math.Pi/180, lat2*math.Pi/180, (lon2-lon1)*math.Pi/180
	return math.Atan2(math.Sin(dλ)*math.Cos(φ2), math.Cos(φ1)*math.Sin(φ2)-math.Sin(φ1)*math.Cos(φ2)*math.Cos(dλ))
}

// TestTableMatchesScan: answers from the table and from a scan of every
// zone (which the index falls back on beyond the table's reach) are the
// same, bit for bit.
func TestTableMatchesScan(t *testing.T) {
	data := mixedOSM(t)
	ref, err := refZones(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	load := func(reachM float64) *geofence.Index {
		ix, err := geofence.Parse("mixed.geojson", data, geofence.Options{ReachM: reachM})
		if err != nil {
			t.Fatal(err)
		}
		return ix
	}
	small, large := load(300), load(3000) // fixes needing 300–3000 m: a scan in small, the table in large
	n := 3000
	if testing.Short() {
		n = 500
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for i := range n {
		lat, lon := nearEdge(ref, rng)
		f := geofence.Fix{Lat: lat, Lon: lon, AccuracyM: rng.Float64() * 20, SpeedMps: rng.Float64() * 60, HeadingDeg: rng.Float64() * 360,
			ExitMarginM: 50, WithholdM: 300 + rng.Float64()*2000, ReachM: rng.Float64() * 2500}
		a, b := small.Assess(&f, &kin), large.Assess(&f, &kin)
		if a != b {
			t.Fatalf("fix %d %+v:\nscan  %+v\ntable %+v", i, f, a, b)
		}
		f.WithholdM, f.ReachM = 100, 0 // within the small table's reach
		a, b = small.Assess(&f, &kin), large.Assess(&f, &kin)
		if a != b {
			t.Fatalf("fix %d %+v:\nsmall table %+v\nlarge table %+v", i, f, a, b)
		}
		lat2, lon2 := destination(lat, lon, rng.Float64()*2*math.Pi, rng.Float64()*2000)
		to := geofence.Fix{Lat: lat2, Lon: lon2, AccuracyM: rng.Float64() * 200}
		za, ca := small.Crossed(&f, &to)
		zb, cb := large.Crossed(&f, &to)
		if ca != cb { // which zone is found first may differ
			t.Fatalf("fix %d: path to (%v, %v): crossed %v (zone %d) with one table, %v (zone %d) with the other", i, lat2, lon2, ca, za, cb, zb)
		}
	}
}

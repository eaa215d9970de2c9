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

// refZone is one zone for the reference: a circle, or polygons projected
// onto the plane tangent at centre.
type refZone struct {
	bufferM, radiusM float64
	centre           vec
	east, north      vec
	polys            [][][]xy // polygon → ring → vertices (not repeated at the end)
	raw              [][][][2]float64
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
			z.boundM = z.radiusM
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
		z.centre = normalize(sum)
		axis := vec{0, 0, 1}
		if math.Abs(z.centre[2]) > 0.9 {
			axis = vec{1, 0, 0}
		}
		z.east = normalize(cross(axis, z.centre))
		z.north = cross(z.centre, z.east)
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

// nearEdge returns a random vertex or edge midpoint of the outer ring of
// a random polygon zone, moved by 0–500 m in a random direction.
func nearEdge(zones []refZone, rng *rand.Rand) (lat, lon float64) {
	z := &zones[rng.IntN(len(zones))]
	for z.raw == nil {
		z = &zones[rng.IntN(len(zones))]
	}
	ring := z.raw[rng.IntN(len(z.raw))][0]
	k := rng.IntN(len(ring) - 1)
	lat, lon = ring[k][1], ring[k][0]
	if rng.IntN(2) == 0 {
		lat, lon = (lat+ring[k+1][1])/2, (lon+ring[k+1][0])/2
	}
	return destination(lat, lon, rng.Float64()*2*math.Pi, rng.Float64()*500)
}

// tolerance for distances: 1 % or 1 m, whichever is larger.
func tolerance(d float64) float64 { return math.Max(1, 0.01*math.Abs(d)) }

// TestQueryMatchesReference queries random points near the edges of the
// real OSM polygons and compares Index.Query with the brute-force
// reference.
func TestQueryMatchesReference(t *testing.T) {
	data := readOSM(t)
	ix := loadOSM(t)
	ref, err := refZones(data, 100)
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
		for _, reach := range []float64{1000, 200} {
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
		t.Fatalf("seed %d: %d of %d comparisons failed", seed, failures, 2*n)
	}
	// The sample must exercise every branch, or it proves little.
	if insideSeen < n/20 || cut < n/20 {
		t.Errorf("seed %d: weak sample: %d inside, %d beyond reach of %d", seed, insideSeen, cut, 2*n)
	}
	t.Logf("seed %d: %d points, %d comparisons inside a zone, %d beyond reach, %d within 0.5 m of a boundary (Inside not compared); DistanceM differs by at most %.3g m, %.2g relative beyond 10 m",
		seed, n, insideSeen, cut, nearBoundary, maxErr, maxRel)
}

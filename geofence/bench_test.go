package geofence_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"quietzone/geofence"
)

// The benchmarks measure; they assert nothing about speed. Run them with
//
//	go test -run '^$' -bench . -benchmem ./geofence/
//
// BenchmarkBruteForce* scan every zone with the test reference (a
// bounding-circle check per zone, then the exact test for the few that
// pass) as a baseline for the S2 index.

const benchReachM = 100

var sinkResult geofence.Result

type osmPolygon struct {
	id    string
	rings [][][2]float64
}

// osmPolygons reads the OSM file's polygons on their own.
func osmPolygons(tb testing.TB) []osmPolygon {
	tb.Helper()
	var fc struct {
		Features []struct {
			Properties struct {
				ID string `json:"id"`
			} `json:"properties"`
			Geometry struct {
				Type        string         `json:"type"`
				Coordinates [][][2]float64 `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(readOSM(tb), &fc); err != nil {
		tb.Fatal(err)
	}
	polys := make([]osmPolygon, 0, len(fc.Features))
	for _, f := range fc.Features {
		if f.Geometry.Type != "Polygon" {
			tb.Fatalf("OSM file has a %s", f.Geometry.Type)
		}
		polys = append(polys, osmPolygon{f.Properties.ID, f.Geometry.Coordinates})
	}
	return polys
}

type zoneSet struct {
	data   []byte // the zone file
	ix     *geofence.Index
	ref    []refZone
	points [][2]float64 // random positions in the zones' bounding box
}

// newZoneSet replicates the OSM polygons: copy k is shifted by
// (k/11)·0.05° of latitude and (k%11)·0.05° of longitude, so the copies of
// one polygon never overlap and n zones fill the OSM bounding box (grown by
// 0.5°) n/84 times as densely as the real ones.
func newZoneSet(tb testing.TB, n int) *zoneSet {
	tb.Helper()
	polys := osmPolygons(tb)
	type feature struct {
		Type       string         `json:"type"`
		Properties map[string]any `json:"properties"`
		Geometry   map[string]any `json:"geometry"`
	}
	fc := struct {
		Type     string    `json:"type"`
		Features []feature `json:"features"`
	}{Type: "FeatureCollection"}
	minLat, maxLat, minLon, maxLon := 90.0, -90.0, 180.0, -180.0
	for k := 0; len(fc.Features) < n; k++ {
		dLat, dLon := float64(k/11)*0.05, float64(k%11)*0.05
		for _, p := range polys {
			if len(fc.Features) == n {
				break
			}
			rings := make([][][2]float64, len(p.rings))
			for r, ring := range p.rings {
				rings[r] = make([][2]float64, len(ring))
				for v, pos := range ring {
					lon, lat := pos[0]+dLon, pos[1]+dLat
					rings[r][v] = [2]float64{lon, lat}
					minLat, maxLat = math.Min(minLat, lat), math.Max(maxLat, lat)
					minLon, maxLon = math.Min(minLon, lon), math.Max(maxLon, lon)
				}
			}
			fc.Features = append(fc.Features, feature{
				Type:       "Feature",
				Properties: map[string]any{"id": p.id + "+" + strconv.Itoa(k)},
				Geometry:   map[string]any{"type": "Polygon", "coordinates": rings},
			})
		}
	}
	data, err := json.Marshal(fc)
	if err != nil {
		tb.Fatal(err)
	}
	ix, err := geofence.Parse("bench.geojson", data, geofence.Options{DefaultBufferM: 100})
	if err != nil {
		tb.Fatal(err)
	}
	if ix.Len() != n {
		tb.Fatalf("%d zones, want %d", ix.Len(), n)
	}
	ref, err := refZones(data, 100)
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pts := make([][2]float64, 4096)
	for i := range pts {
		pts[i] = [2]float64{minLat + rng.Float64()*(maxLat-minLat), minLon + rng.Float64()*(maxLon-minLon)}
	}
	return &zoneSet{data: data, ix: ix, ref: ref, points: pts}
}

var (
	setsMu sync.Mutex
	sets   = map[int]*zoneSet{}
)

func zoneSetOf(tb testing.TB, n int) *zoneSet {
	tb.Helper()
	setsMu.Lock()
	defer setsMu.Unlock()
	if s := sets[n]; s != nil {
		return s
	}
	s := newZoneSet(tb, n)
	sets[n] = s
	return s
}

// nearEdgePoints are positions near the edges of the zones of s: where a
// vehicle near a zone queries.
func (s *zoneSet) nearEdgePoints() [][2]float64 {
	rng := rand.New(rand.NewPCG(3, 4))
	pts := make([][2]float64, 4096)
	for i := range pts {
		pts[i][0], pts[i][1] = nearEdge(s.ref, rng)
	}
	return pts
}

func benchQuery(b *testing.B, ix *geofence.Index, pts [][2]float64) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := pts[i%len(pts)]
		sinkResult = ix.Query(p[0], p[1], benchReachM)
	}
}

func benchBruteForce(b *testing.B, ref []refZone, pts [][2]float64) {
	b.ReportAllocs()
	var sink refResult
	for i := 0; b.Loop(); i++ {
		p := pts[i%len(pts)]
		sink = refQuery(ref, p[0], p[1], benchReachM, false)
	}
	_ = sink
}

// BenchmarkQueryOSM: the 84 OSM zones, random points in their bounding box.
func BenchmarkQueryOSM(b *testing.B) {
	s := zoneSetOf(b, 84)
	benchQuery(b, s.ix, s.points)
}

// BenchmarkQueryOSMNearEdges: the 84 OSM zones, points near their edges.
func BenchmarkQueryOSMNearEdges(b *testing.B) {
	s := zoneSetOf(b, 84)
	benchQuery(b, s.ix, s.nearEdgePoints())
}

// BenchmarkQuery10k: 10,000 zones, random points in their bounding box.
func BenchmarkQuery10k(b *testing.B) {
	s := zoneSetOf(b, 10000)
	benchQuery(b, s.ix, s.points)
}

// BenchmarkQuery10kNearEdges: 10,000 zones, points near their edges.
func BenchmarkQuery10kNearEdges(b *testing.B) {
	s := zoneSetOf(b, 10000)
	benchQuery(b, s.ix, s.nearEdgePoints())
}

// BenchmarkBuild10k: NewIndex over 10,000 parsed zones.
func BenchmarkBuild10k(b *testing.B) {
	s := zoneSetOf(b, 10000)
	zones := make([]geofence.Zone, s.ix.Len())
	for i := range zones {
		zones[i] = s.ix.Zone(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ix := geofence.NewIndex(zones); ix.Len() != len(zones) {
			b.Fatal(ix.Len())
		}
	}
}

// BenchmarkParse10k: Parse (JSON, validation and NewIndex) of a file of
// 10,000 zones.
func BenchmarkParse10k(b *testing.B) {
	s := zoneSetOf(b, 10000)
	b.SetBytes(int64(len(s.data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := geofence.Parse("bench.geojson", s.data, geofence.Options{DefaultBufferM: 100}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBruteForceOSM(b *testing.B) {
	s := zoneSetOf(b, 84)
	benchBruteForce(b, s.ref, s.points)
}

func BenchmarkBruteForceOSMNearEdges(b *testing.B) {
	s := zoneSetOf(b, 84)
	benchBruteForce(b, s.ref, s.nearEdgePoints())
}

func BenchmarkBruteForce10k(b *testing.B) {
	s := zoneSetOf(b, 10000)
	benchBruteForce(b, s.ref, s.points)
}

func BenchmarkBruteForce10kNearEdges(b *testing.B) {
	s := zoneSetOf(b, 10000)
	benchBruteForce(b, s.ref, s.nearEdgePoints())
}

// TestReplicatedZonesMatchReference checks the 10k benchmark's zone set
// against the reference, so that the baseline answers the same question.
func TestReplicatedZonesMatchReference(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	s := newZoneSet(t, n)
	pts := append(s.nearEdgePoints()[:1000], s.points[:200]...)
	inside := 0
	for i, p := range pts {
		got, want := s.ix.Query(p[0], p[1], benchReachM), refQuery(s.ref, p[0], p[1], benchReachM, false)
		if (want.boundaryM > 0.5 && got.Inside != want.inside) ||
			(want.marginM < benchReachM-1 && math.Abs(got.MarginM-want.marginM) > tolerance(want.marginM)) ||
			(want.marginM > benchReachM+1 && got.Zone != -1) {
			t.Errorf("point %d (%v, %v): %+v, reference inside %v margin %.2f", i, p[0], p[1], got, want.inside, want.marginM)
		}
		if want.inside {
			inside++
		}
	}
	if inside < len(pts)/10 {
		t.Errorf("only %d of %d points inside a zone", inside, len(pts))
	}
}

package geofence_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"quietzone/geofence"
)

// The benchmarks measure; they assert nothing about speed. Run them with
//
//	go test -run '^$' -bench . -benchmem ./geofence/
//
// The zone sets are the 84 OSM polygons and copies of them shifted by
// multiples of 0.05° (newZoneSet): 10,000 and 100,000 zones.
//
// BenchmarkAssess is the gateway's evaluation of a fix: inside, buffer,
// exit margin, withhold distance and the directional look-ahead, with the
// gateway's default thresholds (its index reach, 457 m, included). Points
// are far from every zone, within 500 m outside a zone's edge, inside a
// zone, or a mix of the three in equal parts, in random order; speeds,
// headings and accuracies vary. BenchmarkAssessLatency times every call
// on its own and reports the median and the tail, for the mix and for
// simulated drives (fixes in a vehicle's order, so a cache stays warm as
// it does in a vehicle).
// BenchmarkAssessScan answers the same fixes by scanning every zone (the
// index's own path beyond its table's reach), and BenchmarkBruteForce
// asks the test reference (a bounding-circle check per zone, then the
// exact planar test; no look-ahead): both are baselines for the table.
// BenchmarkMemoryLatency measures the machine, not the index: what one
// cache miss into memory as large as the index costs, to read the
// random-order latencies against.

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
	box    [4]float64   // min lat, max lat, min lon, max lon

	gateway  *geofence.Index // with the gateway's default reach
	fixes    map[string][]geofence.Fix
	fixesErr error
	fixesMu  sync.Mutex
}

// newZoneSet replicates the OSM polygons: copy k is shifted by
// (k/11)·0.05° of latitude and (k%11)·0.05° of longitude, so the copies of
// one polygon never overlap and n zones fill the OSM bounding box (grown by
// 0.5° of longitude, and as much latitude as it takes).
func newZoneSet(tb testing.TB, n int) *zoneSet {
	tb.Helper()
	data, box := replicatedOSM(tb, n)
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
		pts[i] = [2]float64{box[0] + rng.Float64()*(box[1]-box[0]), box[2] + rng.Float64()*(box[3]-box[2])}
	}
	return &zoneSet{data: data, ix: ix, ref: ref, points: pts, box: box}
}

// replicatedOSM writes the zone file of n replicated OSM polygons and
// returns it with its bounding box.
func replicatedOSM(tb testing.TB, n int) ([]byte, [4]float64) {
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
	return data, [4]float64{minLat, maxLat, minLon, maxLon}
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
	if testing.Short() || raceEnabled {
		n = 2000
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

// gatewayReachM is the index reach gateway.Load gives the default
// Decision and a 500 m position grid: 2 × 50 m accuracy + 400 km/h × 3 s.
const gatewayReachM = 2*50 + 400/3.6*3

// gatewayKin and the exit and withhold distances are the gateway's
// defaults (gateway.DefaultDecision, a 500 m position grid).
var gatewayKin = kin

const (
	gatewayExitM     = 50
	gatewayWithholdM = 500 * math.Sqrt2 / 2 * 1.01
)

// benchFixes returns the fixes of a kind ("far", "near", "inside" or
// "mix", 4096 of each but the mix's 12,288, or "drives") for the zone
// set, and the index to ask.
func (s *zoneSet) benchFixes(tb testing.TB, kind string) (*geofence.Index, []geofence.Fix) {
	tb.Helper()
	s.fixesMu.Lock()
	defer s.fixesMu.Unlock()
	if s.fixes == nil && s.fixesErr == nil {
		s.gateway, s.fixesErr = geofence.Parse("bench.geojson", s.data, geofence.Options{DefaultBufferM: 100, ReachM: gatewayReachM})
		if s.fixesErr == nil {
			s.fixes = s.makeFixes()
		}
	}
	if s.fixesErr != nil {
		tb.Fatal(s.fixesErr)
	}
	return s.gateway, s.fixes[kind]
}

// makeFixes sorts random positions into far (no zone within 1 km), near
// (0–500 m outside a zone) and inside, and gives each a motion.
func (s *zoneSet) makeFixes() map[string][]geofence.Fix {
	const n = 4096
	rng := rand.New(rand.NewPCG(5, 6))
	fix := func(lat, lon float64) geofence.Fix {
		heading := rng.Float64() * 360
		if rng.IntN(8) == 0 {
			heading = math.NaN()
		}
		return geofence.Fix{
			Lat: lat, Lon: lon,
			AccuracyM:   2 + rng.Float64()*8,
			SpeedMps:    []float64{0, 30, 50, 80, 100, 130}[rng.IntN(6)] / 3.6,
			HeadingDeg:  heading,
			ExitMarginM: gatewayExitM,
			WithholdM:   gatewayWithholdM,
		}
	}
	out := map[string][]geofence.Fix{}
	for len(out["far"]) < n || len(out["near"]) < n || len(out["inside"]) < n {
		var lat, lon float64
		if rng.IntN(2) == 0 {
			lat, lon = s.box[0]+rng.Float64()*(s.box[1]-s.box[0]), s.box[2]+rng.Float64()*(s.box[3]-s.box[2])
		} else {
			lat, lon = nearEdge(s.ref, rng)
		}
		r := s.ix.Query(lat, lon, 1000)
		kind := ""
		switch {
		case r.Inside:
			kind = "inside"
		case r.DistanceM <= 500:
			kind = "near"
		case r.Zone < 0 || r.MarginM > 1000:
			kind = "far"
		}
		if kind != "" && len(out[kind]) < n {
			out[kind] = append(out[kind], fix(lat, lon))
		}
	}
	mix := make([]geofence.Fix, 0, 3*n)
	for _, k := range []string{"far", "near", "inside"} {
		mix = append(mix, out[k]...)
	}
	rng.Shuffle(len(mix), func(i, j int) { mix[i], mix[j] = mix[j], mix[i] })
	out["mix"] = mix
	out["drives"] = s.drives()
	return out
}

var (
	sinkAssessment geofence.Assessment
	kinds          = []string{"far", "near", "inside", "mix"}
	sizes          = []struct {
		name string
		n    int
	}{{"osm", 84}, {"10k", 10000}, {"100k", 100000}}
)

func BenchmarkAssess(b *testing.B) {
	for _, size := range sizes {
		for _, kind := range kinds {
			b.Run(size.name+"/"+kind, func(b *testing.B) {
				ix, fixes := zoneSetOf(b, size.n).benchFixes(b, kind)
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					sinkAssessment = ix.Assess(&fixes[i%len(fixes)], &gatewayKin)
				}
			})
		}
	}
}

// BenchmarkAssessLatency times each call and reports the median, 90th
// and 99th percentiles, less the cost of reading the clock: for the mix,
// in random order (every fix somewhere else: the cache is cold), and for
// drives, fixes in the order a vehicle sends them.
func BenchmarkAssessLatency(b *testing.B) {
	for _, size := range sizes {
		for _, kind := range []string{"mix", "drives"} {
			b.Run(size.name+"/"+kind, func(b *testing.B) {
				ix, fixes := zoneSetOf(b, size.n).benchFixes(b, kind)
				latency(b, func(i int) { sinkAssessment = ix.Assess(&fixes[i%len(fixes)], &gatewayKin) })
			})
		}
	}
}

// latency runs call in a benchmark loop, timing each call.
func latency(b *testing.B, call func(i int)) {
	var hist [4096]int // nanoseconds, the last bucket open
	clock := time.Duration(math.MaxInt64)
	for range 1000 {
		t0 := time.Now()
		clock = min(clock, time.Since(t0))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		call(i)
		hist[min(len(hist)-1, max(0, int(time.Since(t0)-clock)))]++
	}
	total := 0
	for _, c := range hist {
		total += c
	}
	for _, p := range []float64{50, 90, 99} {
		seen, want := 0, int(math.Ceil(p/100*float64(total)))
		for ns, c := range hist {
			if seen += c; seen >= want {
				b.ReportMetric(float64(ns), fmt.Sprintf("p%g-ns", p))
				break
			}
		}
	}
}

// BenchmarkMemoryLatency is what one cache miss costs on this machine
// when nothing can overlap it: a chase of pointers, one per 64-byte line,
// in random order through a buffer as large as the memory a query reads
// from (table-MB: the table, the parts and their chunks of the index
// BenchmarkAssessLatency asks). A fix in random order reads a few dozen
// lines of that memory, some only once others have arrived, so its
// latency there is bound by this figure (ns/op per miss), not by the
// query's own work; the drives show the same queries with the cache warm.
func BenchmarkMemoryLatency(b *testing.B) {
	for _, size := range sizes {
		b.Run(size.name, func(b *testing.B) {
			ix, _ := zoneSetOf(b, size.n).benchFixes(b, "mix")
			const stride = 64 / 4
			lines := ix.TableBytes() / 64
			next := make([]int32, lines*stride)
			perm := rand.New(rand.NewPCG(9, 10)).Perm(lines)
			for i, l := range perm {
				next[l*stride] = int32(perm[(i+1)%lines] * stride)
			}
			p := int32(0)
			for b.Loop() {
				p = next[p]
			}
			sinkLine = p
			b.ReportMetric(float64(ix.TableBytes())/1e6, "table-MB")
		})
	}
}

var sinkLine int32

// drives are 64 vehicles, one after the other, each driving a straight
// line at 30–130 km/h, sending a fix every 100 ms, from 3 km before a
// random zone's vertex, at it, to 1 km past it: through the zone or along
// its edge. Headings are the line's, ±2°; accuracy 2–6 m.
func (s *zoneSet) drives() []geofence.Fix {
	rng := rand.New(rand.NewPCG(7, 8))
	var out []geofence.Fix
	for range 64 {
		z := &s.ref[rng.IntN(len(s.ref))]
		ring := z.raw[0][0]
		v := ring[rng.IntN(len(ring)-1)]
		brg := rng.Float64() * 2 * math.Pi
		lat0, lon0 := destination(v[1], v[0], brg+math.Pi, 3000)
		kmh := []float64{30, 50, 80, 100, 130}[rng.IntN(5)]
		step := kmh / 3.6 * 0.1
		for d := 0.0; d <= 4000; d += step {
			lat, lon := destination(lat0, lon0, brg, d)
			out = append(out, geofence.Fix{
				Lat: lat, Lon: lon,
				AccuracyM:   2 + rng.Float64()*4,
				SpeedMps:    kmh / 3.6,
				HeadingDeg:  brg*180/math.Pi + rng.NormFloat64()*2,
				ExitMarginM: gatewayExitM,
				WithholdM:   gatewayWithholdM,
			})
		}
	}
	return out
}

// BenchmarkAssessScan: the same fixes, answered by scanning every zone.
func BenchmarkAssessScan(b *testing.B) {
	for _, size := range sizes {
		b.Run(size.name+"/mix", func(b *testing.B) {
			ix, fixes := zoneSetOf(b, size.n).benchFixes(b, "mix")
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				sinkAssessment = ix.AssessScan(&fixes[i%len(fixes)], &gatewayKin)
			}
		})
	}
}

// BenchmarkBruteForce: the test reference on the same positions, with
// the reach of the gateway's decisions (no look-ahead).
func BenchmarkBruteForce(b *testing.B) {
	for _, size := range sizes {
		b.Run(size.name+"/mix", func(b *testing.B) {
			s := zoneSetOf(b, size.n)
			_, fixes := s.benchFixes(b, "mix")
			b.ReportAllocs()
			var sink refResult
			for i := 0; b.Loop(); i++ {
				f := &fixes[i%len(fixes)]
				sink = refQuery(s.ref, f.Lat, f.Lon, gatewayReachM, false)
			}
			_ = sink
		})
	}
}

// BenchmarkBuild100k: NewIndex over 100,000 parsed zones, with the heap
// the index holds once built (MB, after a collection).
func BenchmarkBuild100k(b *testing.B) {
	s := zoneSetOf(b, 100000)
	zones := make([]geofence.Zone, s.ix.Len())
	for i := range zones {
		zones[i] = s.ix.Zone(i)
	}
	b.ReportAllocs()
	var ix *geofence.Index
	for b.Loop() {
		ix = geofence.NewIndex(zones)
	}
	b.StopTimer()
	cells, entries := ix.Cells()
	b.ReportMetric(float64(cells), "cells")
	b.ReportMetric(float64(entries), "entries")
}

// BenchmarkLoad100k: Parse of a file of 100,000 zones (JSON, validation,
// index). heap-MB is what the loaded index holds: the live heap after a
// collection, with the index and nothing new besides, less the live heap
// before the file was made.
func BenchmarkLoad100k(b *testing.B) {
	before := liveHeapMB()
	data, _ := replicatedOSM(b, 100000)
	b.SetBytes(int64(len(data)))
	var ix *geofence.Index
	for b.Loop() {
		var err error
		if ix, err = geofence.Parse("bench.geojson", data, geofence.Options{DefaultBufferM: 100, ReachM: gatewayReachM}); err != nil {
			b.Fatal(err)
		}
	}
	data = nil
	b.ReportMetric(liveHeapMB()-before, "heap-MB")
	runtime.KeepAlive(ix)
}

// liveHeapMB is the live heap in MB after a collection.
func liveHeapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / 1e6
}

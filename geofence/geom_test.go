package geofence

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/golang/geo/s2"
)

// TestLeafCellMatchesS2: our copy of S2's point-to-cell mapping gives the
// library's answer everywhere, faces, edges and poles included.
func TestLeafCellMatchesS2(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pts := []vec{{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}, vec{1, 1, 1}.unit(), vec{-1, 1, -1}.unit()}
	for range 20000 {
		lat, lon := math.Asin(2*rng.Float64()-1)*180/math.Pi, rng.Float64()*360-180
		p, _, _, _, _ := unitVec(lat, lon)
		pts = append(pts, p)
	}
	for _, p := range pts {
		want := s2.CellFromPoint(s2.Point{Vector: vecR3(p)}).ID()
		if got := leafCell(p); got != want {
			t.Fatalf("leafCell(%v) = %v, S2 says %v", p, got, want)
		}
		if got, want := searchLeaf(p), want.Parent(maxCellLevel).RangeMin(); got != want {
			t.Fatalf("searchLeaf(%v) = %v, want the first leaf of its level-%d cell, %v", p, got, maxCellLevel, want)
		}
	}
}

// TestSectorSegDist holds the sector's distance to a segment against
// dense sampling of both.
func TestSectorSegDist(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 3000 {
		heading := rng.Float64() * 2 * math.Pi
		alpha := rng.Float64() * math.Pi / 2 * 0.98
		dir := func(b float64) xy { return xy{math.Sin(b), math.Cos(b)} } // bearing: clockwise from +y
		s := sector{
			p:      xy{rng.NormFloat64() * 20, rng.NormFloat64() * 20},
			radius: rng.Float64() * 200,
			l:      dir(heading - alpha),
			r:      dir(heading + alpha),
			omni:   n%10 == 0,
		}
		a := xy{rng.NormFloat64() * 300, rng.NormFloat64() * 300}
		b := xy{a.x + rng.NormFloat64()*200, a.y + rng.NormFloat64()*200}
		got := s.segDist(a, b)
		// Sample the segment for a point inside the sector; else the
		// distance between two disjoint convex sets is reached on the
		// sector's boundary, which is sampled, each sample measured exactly
		// to the segment. The sampled minimum is an upper bound within the
		// sampling step of the true one.
		want := math.Inf(1)
		const ns, nb = 2000, 2000
		for i := 0; i <= ns; i++ {
			if s.contains(xy{a.x + (b.x-a.x)*float64(i)/ns, a.y + (b.y-a.y)*float64(i)/ns}) {
				want = 0
				break
			}
		}
		for i := 0; i <= nb && want > 0; i++ {
			f := float64(i) / nb
			arc := heading - alpha + 2*alpha*f
			if s.omni {
				arc = 2 * math.Pi * f
			}
			d := dir(arc)
			boundary := []xy{{s.p.x + s.radius*d.x, s.p.y + s.radius*d.y}}
			if !s.omni {
				boundary = append(boundary,
					xy{s.p.x + f*s.radius*s.l.x, s.p.y + f*s.radius*s.l.y},
					xy{s.p.x + f*s.radius*s.r.x, s.p.y + f*s.radius*s.r.y})
			}
			for _, q := range boundary {
				want = math.Min(want, pointSegment(q, a, b))
			}
		}
		step := math.Hypot(b.x-a.x, b.y-a.y)/ns + s.radius*2*math.Pi/nb
		if got > want+1e-9 || got < want-step {
			t.Fatalf("case %d: sector %+v, segment %v–%v: distance %.4f, sampled %.4f (step %.3f)", n, s, a, b, got, want, step)
		}
	}
}

// pointSegment is the distance from q to the segment ab, written out
// again here so that the test does not lean on the code it tests.
func pointSegment(q, a, b xy) float64 {
	dx, dy := b.x-a.x, b.y-a.y
	t := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		t = math.Max(0, math.Min(1, ((q.x-a.x)*dx+(q.y-a.y)*dy)/l))
	}
	return math.Hypot(q.x-a.x-t*dx, q.y-a.y-t*dy)
}

// TestKinematics: the reach and half-angle of the look-ahead.
func TestKinematics(t *testing.T) {
	k := Kinematics{MaxSpeedMps: 40, MaxAccelMps2: 2, MaxLateralMps2: 5, HeadingSigmaDeg: 10, MinHeadingSpeedMps: 2}
	for _, tc := range []struct {
		v, horizon, want float64
	}{
		{0, 3, 9},            // ½·2·9
		{10, 3, 39},          // 30 + 9
		{39, 3, 40*3 - 0.25}, // the cap reached after 0.5 s: 19.75 + 40·2.5
		{40, 3, 120},
		{100, 3, 120}, // faster than the cap: the cap
		{math.NaN(), 3, 120},
		{-5, 3, 9}, // nonsense: standing
	} {
		if got := k.reach(tc.v, tc.horizon); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("reach(%v, %v) = %v, want %v", tc.v, tc.horizon, got, tc.want)
		}
	}
	for _, tc := range []struct {
		v     float64
		known bool
		want  float64
	}{
		{20, true, 10*math.Pi/180 + 5*3/20.0},
		{20, false, math.Pi},
		{1, true, math.Pi}, // below MinHeadingSpeedMps
		{0, true, math.Pi},
		{math.NaN(), true, math.Pi},
	} {
		if got := k.halfAngle(tc.v, 3, tc.known); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("halfAngle(%v, known %v) = %v, want %v", tc.v, tc.known, got, tc.want)
		}
	}
	var none Kinematics
	if got := none.reach(10, 3); got != 0 {
		t.Errorf("no speed allowed: reach %v", got)
	}
}

// TestProjectionBounds: planar distances are never shorter than distances
// on the sphere, and scaled by the part's factor never longer.
func TestProjectionBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 5000 {
		c, _, _, _, _ := unitVec(rng.Float64()*178-89, rng.Float64()*360-180)
		f := newFrame(c)
		near := func(maxM float64) vec {
			return f.unproject(xy{rng.NormFloat64() * maxM, rng.NormFloat64() * maxM})
		}
		a, b := near(300e3), near(300e3)
		pa, ta := f.project(a)
		pb, tb := f.project(b)
		planar := math.Hypot(pa.x-pb.x, pa.y-pb.y)
		sphere := angleBetween(a, b) * EarthRadiusM
		k := math.Min(ta, tb)
		if planar < sphere*(1-1e-12) || planar*k*k > sphere*(1+1e-12) {
			t.Fatalf("planar %.3f m, sphere %.3f m, scaled %.3f m", planar, sphere, planar*k*k)
		}
		if back := f.unproject(pa); angleBetween(back, a) > 1e-12 {
			t.Fatalf("unproject(project(a)) is %g rad from a", angleBetween(back, a))
		}
	}
}

// TestSelfIntersectionIndexed: the indexed check finds the edge the pair
// by pair one does, on random rings that often cross themselves, touch
// themselves at a vertex, or do neither.
func TestSelfIntersectionIndexed(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	crossing := 0
	for trial := range 600 {
		n := 4 + rng.IntN(200)
		pts := make([]s2.Point, 0, n)
		for k := range n {
			// A star-shaped ring: simple unless the radius jumps back and
			// forth far enough in angle (then some rings cross).
			ang := 2 * math.Pi * float64(k) / float64(n)
			if trial%3 == 0 {
				ang += rng.NormFloat64() * 4 / float64(n)
			}
			r := 0.01 * (0.5 + rng.Float64())
			pts = append(pts, s2.PointFromLatLng(s2.LatLngFromDegrees(10+r*math.Sin(ang)*57, 20+r*math.Cos(ang)*57)))
		}
		if trial%5 == 1 {
			pts[n/2] = pts[0] // the ring touches itself at a vertex
		}
		wantEdge, want := selfIntersectionPairs(pts)
		gotEdge, got := selfIntersectionIndexed(pts, s2.LoopFromPoints(pts))
		if got != want || gotEdge != wantEdge {
			t.Fatalf("trial %d (%d vertices): indexed %v at edge %d, pair by pair %v at edge %d", trial, n, got, gotEdge, want, wantEdge)
		}
		if want {
			crossing++
		}
	}
	if crossing < 100 || crossing > 500 {
		t.Errorf("%d of 600 rings cross themselves: the test needs both kinds", crossing)
	}
}

// BenchmarkSelfIntersection: a simple ring of 20,000 vertices, checked
// through the index (pair by pair it takes about a second).
func BenchmarkSelfIntersection(b *testing.B) {
	const n = 20000
	pts := make([]s2.Point, n)
	for k := range pts {
		ang := 2 * math.Pi * float64(k) / n
		pts[k] = s2.PointFromLatLng(s2.LatLngFromDegrees(4.8+0.2*math.Sin(ang), 31.5+0.2*math.Cos(ang)))
	}
	loop := s2.LoopFromPoints(pts)
	b.ReportAllocs()
	for b.Loop() {
		if _, bad := selfIntersection(pts, loop); bad {
			b.Fatal("a simple ring crosses itself")
		}
	}
}

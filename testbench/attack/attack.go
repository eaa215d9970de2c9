package attack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"

	"quietzone/gateway/config"
	"quietzone/testbench"
	"quietzone/testbench/internal/zonemap"
	"quietzone/testbench/scenario"
)

// Options set up the trips.
type Options struct {
	// Trips is how many trips drive past the zone; 30 when zero.
	Trips int
	// Seed draws the trips' directions, offsets and speeds, and seeds each
	// trip's simulator.
	Seed uint64
	// Zone is the id of the zone attacked; the scenario's first when empty.
	// Only that zone is loaded, so every gap is its doing.
	Zone string
	// Workers is how many trips run at once; GOMAXPROCS when zero.
	Workers int
	// Progress, when set, is called after each trip.
	Progress func(done, total int)
}

// Fit is one way of fitting the zone's outline and how far off it is.
type Fit struct {
	// Method: "hull" (the convex hull of the samples), "circle" (a
	// least-squares circle through them), "envelope" (per 22.5° sector
	// around their centre, the innermost sample: per-trip jitter only ever
	// pushes samples outwards, so the innermost of many trips is the
	// attacker's best guess) or "envelope-policy" (the envelope pulled in
	// by the policy's grid margin, which a fleet's policy makes known).
	Method string
	// ErrorM is the attacker's error: the mean distance, in metres, from
	// points along the fitted outline (every 5 m) to the zone's true edge.
	ErrorM float64
	// ClosestM is the least signed distance from the outline to the zone
	// (negative: the outline enters the zone).
	ClosestM float64
	// IntoBufferM is how far into the buffer the outline reaches at its
	// closest: max(0, buffer − ClosestM).
	IntoBufferM float64
	// InBufferShare is the share of the outline within the buffer.
	InBufferShare float64
	outline       []zonemap.XY
}

// Result is the attack's outcome.
type Result struct {
	Zone    string
	BufferM float64
	// JitterM is the policy's per-trip jitter of where withholding starts.
	JitterM float64
	Trips   int
	// TripsWithGap counts trips whose published track had a gap; Samples
	// the boundary samples they gave (two per gap).
	TripsWithGap int
	Samples      int
	// Violations counts trips that broke a leak invariant.
	Violations int
	// SampleDistanceM is the least distance from a sample to the zone.
	SampleDistanceM float64
	Fits            []Fit
	// ErrorM is the attacker's error: the best fit's.
	ErrorM float64

	pl      zonemap.Plane
	zone    zonemap.Shape
	samples []zonemap.XY
}

// Run drives opts.Trips straight trips past one zone of sc (each
// through its own gateway, broker and trip jitter), collects the published
// tracks, and fits the zone's outline from their gaps.
func Run(ctx context.Context, sc scenario.Scenario, opts Options) (*Result, error) {
	if opts.Trips <= 0 {
		opts.Trips = 30
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	zoneFile, zone, err := onlyZone(sc.Zones, opts.Zone)
	if err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	pol, err := config.ParsePolicy(sc.PolicyName, sc.Policy)
	if err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	pl := zonemap.NewPlane(0, 0)
	c := zone.Centroid(pl)
	lat0, lon0 := pl.LatLon(c)
	pl = zonemap.NewPlane(lat0, lon0)
	lo, hi := zone.Bounds(pl)
	radius := math.Max(hi.X-lo.X, hi.Y-lo.Y)/2 - zone.BufferM
	nz := pol.NearZones
	half := radius + zone.BufferM + nz.JitterM + nz.TripEndM + 1500

	rng := rand.New(rand.NewPCG(opts.Seed, 0x5eed))
	trips := make([]scenario.Scenario, opts.Trips) // straight drives past the zone
	for i := range trips {
		// Directions spread evenly with a random turn; offsets across the
		// zone and its buffer, so that some trips only graze it.
		theta := 2 * math.Pi * (float64(i) + rng.Float64()) / float64(opts.Trips)
		off := (2*rng.Float64() - 1) * 0.9 * (radius + zone.BufferM)
		speed := 50 + 50*rng.Float64()
		dx, dy := math.Sin(theta), math.Cos(theta) // heading theta from north
		px, py := dy, -dx
		aLat, aLon := pl.LatLon(zonemap.XY{X: -half*dx + off*px, Y: -half*dy + off*py})
		bLat, bLon := pl.LatLon(zonemap.XY{X: half*dx + off*px, Y: half*dy + off*py})
		t := sc
		t.Name = fmt.Sprintf("attack trip %d of %d", i+1, opts.Trips)
		t.Route = []scenario.Waypoint{{Lat: aLat, Lon: aLon, SpeedKmh: speed}, {Lat: bLat, Lon: bLon, SpeedKmh: speed}}
		t.Seed = opts.Seed*100003 + uint64(i) + 1
		t.ParkedAfter = 2 * sc.Step
		t.IgnitionOff = false
		t.Zones = zoneFile
		t.ZonesName = sc.ZonesName + " (" + zone.ID + " only)"
		trips[i] = t
	}

	res := &Result{Zone: zone.ID, BufferM: zone.BufferM, JitterM: nz.JitterM, Trips: opts.Trips, pl: pl, zone: zone}
	type outcome struct {
		gaps []testbench.Gap
		ok   bool
		err  error
	}
	outs := make([]outcome, len(trips))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
		next = make(chan int)
	)
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				rep, err := testbench.Run(ctx, trips[i], testbench.Options{})
				o := outcome{err: err}
				if rep != nil {
					o.ok = rep.OK()
					o.gaps = testbench.Gaps(rep.PublishedPositions(), rep.PositionPeriod) // what an observer sees: both ends published
				}
				outs[i] = o
				mu.Lock()
				done++
				if opts.Progress != nil {
					opts.Progress(done, len(trips))
				}
				mu.Unlock()
			}
		}()
	}
	for i := range trips {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	for i, o := range outs {
		if o.err != nil {
			return nil, fmt.Errorf("attack: trip %d: %w", i+1, o.err)
		}
		if !o.ok {
			res.Violations++
		}
		if len(o.gaps) > 0 {
			res.TripsWithGap++
		}
		for _, g := range o.gaps {
			res.samples = append(res.samples, pl.XY(g.From.Lat, g.From.Lon), pl.XY(g.To.Lat, g.To.Lon))
		}
	}
	res.Samples = len(res.samples)
	res.SampleDistanceM = math.Inf(1)
	for _, q := range res.samples {
		res.SampleDistanceM = math.Min(res.SampleDistanceM, zone.SignedDistance(pl, q))
	}
	if res.Samples < 3 {
		return res, errors.New("attack: fewer than 3 boundary samples: the trips missed the zone")
	}
	for _, f := range []struct {
		method  string
		outline []zonemap.XY
	}{
		{"hull", convexHull(res.samples)},
		{"circle", fitCircle(res.samples)},
		{"envelope", envelope(res.samples, 16)},
		// An attacker who knows the fleet's policy knows that positions
		// are withheld within the grid's margin of a buffer, and pulls
		// the envelope in by that much. (The buffer itself is not on the
		// wire: it is what this attacker cannot subtract.)
		{"envelope-policy", shrink(envelope(res.samples, 16), pol.PositionMarginM())},
	} {
		if len(f.outline) < 3 {
			continue
		}
		res.Fits = append(res.Fits, res.measure(f.method, f.outline))
	}
	if len(res.Fits) == 0 {
		return res, errors.New("attack: no outline could be fitted")
	}
	res.ErrorM = math.Inf(1)
	for _, f := range res.Fits {
		res.ErrorM = math.Min(res.ErrorM, f.ErrorM)
	}
	return res, nil
}

// onlyZone returns a zones file holding only the zone with the given id
// (the first zone when id is empty), and that zone's shape.
func onlyZone(data []byte, id string) ([]byte, zonemap.Shape, error) {
	shapes, err := zonemap.ParseShapes(data)
	if err != nil {
		return nil, zonemap.Shape{}, err
	}
	var fc map[string]json.RawMessage
	var features []json.RawMessage
	if err := json.Unmarshal(data, &fc); err != nil {
		return nil, zonemap.Shape{}, err
	}
	if err := json.Unmarshal(fc["features"], &features); err != nil {
		return nil, zonemap.Shape{}, err
	}
	for i, z := range shapes {
		if id == "" || z.ID == id {
			raw, err := json.Marshal(map[string]any{"type": "FeatureCollection", "features": []json.RawMessage{features[i]}})
			return raw, z, err
		}
	}
	return nil, zonemap.Shape{}, fmt.Errorf("no zone %q", id)
}

// measure holds an outline against the zone's true edge.
func (a *Result) measure(method string, outline []zonemap.XY) Fit {
	f := Fit{Method: method, ClosestM: math.Inf(1), outline: outline}
	var sum float64
	n, inBuf := 0, 0
	for i := range outline {
		p, q := outline[i], outline[(i+1)%len(outline)]
		l := math.Hypot(q.X-p.X, q.Y-p.Y)
		steps := max(1, int(math.Ceil(l/5)))
		for k := range steps {
			t := float64(k) / float64(steps)
			d := a.zone.SignedDistance(a.pl, zonemap.XY{X: p.X + t*(q.X-p.X), Y: p.Y + t*(q.Y-p.Y)})
			sum += math.Abs(d)
			f.ClosestM = math.Min(f.ClosestM, d)
			if d < a.BufferM {
				inBuf++
			}
			n++
		}
	}
	f.ErrorM = sum / float64(n)
	f.IntoBufferM = math.Max(0, a.BufferM-f.ClosestM)
	f.InBufferShare = float64(inBuf) / float64(n)
	return f
}

// convexHull returns the hull of pts, counter-clockwise (monotone chain).
func convexHull(pts []zonemap.XY) []zonemap.XY {
	p := append([]zonemap.XY(nil), pts...)
	sort.Slice(p, func(i, j int) bool { return p[i].X < p[j].X || p[i].X == p[j].X && p[i].Y < p[j].Y })
	cross := func(o, a, b zonemap.XY) float64 { return (a.X-o.X)*(b.Y-o.Y) - (a.Y-o.Y)*(b.X-o.X) }
	var h []zonemap.XY
	for pass := 0; pass < 2; pass++ {
		start := len(h)
		for _, q := range p {
			for len(h) >= start+2 && cross(h[len(h)-2], h[len(h)-1], q) <= 0 {
				h = h[:len(h)-1]
			}
			h = append(h, q)
		}
		h = h[:len(h)-1]
		for i, j := 0, len(p)-1; i < j; i, j = i+1, j-1 {
			p[i], p[j] = p[j], p[i]
		}
	}
	return h
}

// fitCircle fits a circle to pts by least squares (Kåsa) and returns it
// as a 360-gon.
func fitCircle(pts []zonemap.XY) []zonemap.XY {
	// Minimise Σ (x² + y² + D x + E y + F)²: linear in D, E, F.
	var sxx, sxy, syy, sx, sy, sxz, syz, sz, n float64
	for _, p := range pts {
		z := p.X*p.X + p.Y*p.Y
		sxx, sxy, syy = sxx+p.X*p.X, sxy+p.X*p.Y, syy+p.Y*p.Y
		sx, sy, n = sx+p.X, sy+p.Y, n+1
		sxz, syz, sz = sxz+p.X*z, syz+p.Y*z, sz+z
	}
	m := [3][4]float64{{sxx, sxy, sx, -sxz}, {sxy, syy, sy, -syz}, {sx, sy, n, -sz}}
	for c := range 3 { // Gauss-Jordan with partial pivoting
		piv := c
		for r := c + 1; r < 3; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[piv][c]) {
				piv = r
			}
		}
		m[c], m[piv] = m[piv], m[c]
		if math.Abs(m[c][c]) < 1e-12 {
			return nil
		}
		for r := range 3 {
			if r != c {
				k := m[r][c] / m[c][c]
				for j := c; j < 4; j++ {
					m[r][j] -= k * m[c][j]
				}
			}
		}
	}
	d, e, f := m[0][3]/m[0][0], m[1][3]/m[1][1], m[2][3]/m[2][2]
	cx, cy := -d/2, -e/2
	r2 := cx*cx + cy*cy - f
	if !(r2 > 0) {
		return nil
	}
	r := math.Sqrt(r2)
	out := make([]zonemap.XY, 360)
	for i := range out {
		a := 2 * math.Pi * float64(i) / 360
		out[i] = zonemap.XY{X: cx + r*math.Cos(a), Y: cy + r*math.Sin(a)}
	}
	return out
}

// envelope returns, for each of n sectors around the samples' centre, the
// sample nearest to it, in angular order.
func envelope(pts []zonemap.XY, n int) []zonemap.XY {
	var c zonemap.XY
	for _, p := range pts {
		c.X, c.Y = c.X+p.X, c.Y+p.Y
	}
	c.X, c.Y = c.X/float64(len(pts)), c.Y/float64(len(pts))
	best := make([]int, n)
	for i := range best {
		best[i] = -1
	}
	for i, p := range pts {
		a := math.Atan2(p.Y-c.Y, p.X-c.X)
		s := int(math.Floor((a + math.Pi) / (2 * math.Pi) * float64(n)))
		s = min(max(s, 0), n-1)
		if b := best[s]; b < 0 || math.Hypot(p.X-c.X, p.Y-c.Y) < math.Hypot(pts[b].X-c.X, pts[b].Y-c.Y) {
			best[s] = i
		}
	}
	var out []zonemap.XY
	for _, b := range best {
		if b >= 0 {
			out = append(out, pts[b])
		}
	}
	return out
}

// shrink pulls each vertex of an outline towards the outline's centre by m
// metres.
func shrink(outline []zonemap.XY, m float64) []zonemap.XY {
	if len(outline) == 0 {
		return nil
	}
	var c zonemap.XY
	for _, p := range outline {
		c.X, c.Y = c.X+p.X, c.Y+p.Y
	}
	c.X, c.Y = c.X/float64(len(outline)), c.Y/float64(len(outline))
	out := make([]zonemap.XY, len(outline))
	for i, p := range outline {
		d := math.Hypot(p.X-c.X, p.Y-c.Y)
		k := math.Max(0, d-m) / d
		out[i] = zonemap.XY{X: c.X + (p.X-c.X)*k, Y: c.Y + (p.Y-c.Y)*k}
	}
	return out
}

// WriteText prints the attack's outcome.
func (a *Result) WriteText(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("Boundary-inference attack on zone %s (buffer %.0f m, per-trip jitter up to %.0f m)\n", a.Zone, a.BufferM, a.JitterM)
	p("  %d trips, %d with a redaction gap, %d boundary samples; %d trips broke an invariant\n",
		a.Trips, a.TripsWithGap, a.Samples, a.Violations)
	p("  nearest sample to the zone: %.0f m\n", a.SampleDistanceM)
	p("  %-15s %10s %10s %14s %10s\n", "fit", "error m", "closest m", "into buffer m", "in buffer")
	for _, f := range a.Fits {
		p("  %-15s %10.0f %10.0f %14.0f %9.0f%%\n", f.Method, f.ErrorM, f.ClosestM, f.IntoBufferM, 100*f.InBufferShare)
	}
	verdict := "ok: at or above the buffer"
	if a.ErrorM < a.BufferM {
		verdict = "FAIL: below the buffer"
	}
	p("  attacker's error (best fit, mean distance to the zone's edge): %.0f m — %s\n", a.ErrorM, verdict)
}

// WriteSVG draws the attack: the zone and its buffer, the boundary
// samples (where published tracks stopped and started again) and the
// outlines the attacker fitted to them.
func (a *Result) WriteSVG(w io.Writer) error {
	colours := map[string]string{"hull": "#1f77b4", "circle": "#ff7f0e", "envelope": "#2ca02c", "envelope-policy": "#6a3d9a"}
	lo, hi := a.zone.Bounds(a.pl)
	grow := func(q zonemap.XY) {
		lo.X, lo.Y = math.Min(lo.X, q.X), math.Min(lo.Y, q.Y)
		hi.X, hi.Y = math.Max(hi.X, q.X), math.Max(hi.Y, q.Y)
	}
	for _, q := range a.samples {
		grow(q)
	}
	for _, f := range a.Fits {
		for _, q := range f.outline {
			grow(q)
		}
	}
	const size, pad, top = 640.0, 20.0, 60.0
	scale := (size - 2*pad) / math.Max(hi.X-lo.X, hi.Y-lo.Y)
	v := zonemap.View{Plane: a.pl, Lo: lo, Scale: scale, X0: pad, Y0: top + size - 2*pad, W: size - 2*pad, H: size - 2*pad, Zones: []zonemap.Shape{a.zone}}
	px := func(q zonemap.XY) (float64, float64) { return v.X0 + (q.X-lo.X)*scale, v.Y0 - (q.Y-lo.Y)*scale }
	height := top + size + 20*float64(len(a.Fits)+2)
	s := zonemap.NewSVG(w)
	s.Printf(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	s.Printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="11">`+"\n",
		zonemap.Num(size), zonemap.Num(height), zonemap.Num(size), zonemap.Num(height))
	s.Printf(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	s.Printf(`<text x="%s" y="22" font-size="15" font-weight="bold">Boundary-inference attack: %d trips, %d samples</text>`+"\n", zonemap.Num(pad), a.Trips, a.Samples)
	s.Printf(`<text x="%s" y="40">attacker's error %.0f m (buffer %.0f m)</text>`+"\n", zonemap.Num(pad), a.ErrorM, a.BufferM)
	v.DrawZones(s)
	for _, f := range a.Fits {
		var pts bytes.Buffer
		for i, q := range f.outline {
			if i > 0 {
				pts.WriteByte(' ')
			}
			x, y := px(q)
			pts.WriteString(zonemap.Num(x) + "," + zonemap.Num(y))
		}
		s.Printf(`<polygon class="fit-%s" points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", f.Method, pts.Bytes(), colours[f.Method])
	}
	s.Printf(`<g id="samples" fill="%s">`+"\n", zonemap.ColPublished)
	for _, q := range a.samples {
		x, y := px(q)
		s.Printf(`<circle cx="%s" cy="%s" r="2.5"/>`+"\n", zonemap.Num(x), zonemap.Num(y))
	}
	s.Printf("</g>\n")
	y := top + size
	s.Printf(`<circle cx="%s" cy="%s" r="2.5" fill="%s"/><text x="%s" y="%s">boundary sample (last published position before a gap, first after)</text>`+"\n",
		zonemap.Num(pad+7), zonemap.Num(y-4), zonemap.ColPublished, zonemap.Num(pad+20), zonemap.Num(y))
	for i, f := range a.Fits {
		y := top + size + 20*float64(i+1)
		s.Printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"/><text x="%s" y="%s">%s: error %.0f m, closest %.0f m to the zone</text>`+"\n",
			zonemap.Num(pad), zonemap.Num(y-4), zonemap.Num(pad+14), zonemap.Num(y-4), colours[f.Method], zonemap.Num(pad+20), zonemap.Num(y), f.Method, f.ErrorM, f.ClosestM)
	}
	s.Printf("</svg>\n")
	if err := s.Flush(); err != nil {
		return fmt.Errorf("write attack svg: %w", err)
	}
	return nil
}

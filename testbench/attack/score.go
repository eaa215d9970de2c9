package attack

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"quietzone/testbench"
	"quietzone/testbench/internal/zonemap"
)

// SuiteOptions set how the attacks are scored.
type SuiteOptions struct {
	// Counts are the numbers of trips the centre attacks get; the
	// default 20, 100, 300 and all. Repeats is how many random draws of
	// that many trips each is scored on (the median is reported); 15 when
	// zero. HomeTrips is how many trips the homes attack gets (30).
	Counts    []int
	Repeats   int
	HomeTrips int
	// DecoyTrips is how many trips the decoy attack gets a draw of (half
	// of them when zero); it is scored on three times Repeats draws.
	DecoyTrips int
	Seed       uint64
}

// Suite is every attack's figures on one transcript.
type Suite struct {
	Trips    int      `json:"trips"`
	Vehicles int      `json:"vehicles"`
	Zones    []string `json:"zones"`
	// Centre: per method, trip count and zone, the median distance from
	// the zone's centre to the nearest place the attack points at.
	Centre []CentreFigure `json:"centre"`
	Pass   PassFigure     `json:"pass"`
	Gaps   GapFigure      `json:"gaps"`
	Homes  []HomeFigure   `json:"homes"`
	Decoys DecoyFigure    `json:"decoys"`
	Cost   CostFigure     `json:"cost"`
}

// CentreFigure is one centre attack's error.
type CentreFigure struct {
	Method string `json:"method"` // or "best" (the least of all methods, draw by draw)
	Trips  int    `json:"trips"`
	Zone   string `json:"zone"`
	// MedianM is the median error over the draws; Found the share of
	// draws in which the method pointed anywhere at all (an error is
	// infinite when it did not, and counts as such in the median).
	MedianM Num     `json:"median_m"`
	Found   float64 `json:"found"`
}

// PassFigure is the passive pass detector's: trips that came within
// 1,500 m of a zone against trips more than 3 km from every zone, from
// publish times and sizes alone, thresholds learnt on one half of the
// trips and applied to the other (two folds).
type PassFigure struct {
	Positives int          `json:"positives"`
	Negatives int          `json:"negatives"`
	Features  []PassResult `json:"features"`
	// Bands are the combined detector's flag rate by distance.
	Bands []Band `json:"bands"`
}

// PassResult is one detector's rates.
type PassResult struct {
	Feature string `json:"feature"`
	TPR     Num    `json:"tpr"`
	FPR     Num    `json:"fpr"`
	Youden  Num    `json:"tpr_minus_fpr"`
}

// Band is a distance band's flag rate.
type Band struct {
	FromM   Num     `json:"from_m"`
	ToM     Num     `json:"to_m"`
	Trips   int     `json:"trips"`
	Flagged float64 `json:"flagged"`
}

// GapFigure compares dead reckoning in gaps with the ends-and-duration
// baseline: median over gaps of the mean error per second.
type GapFigure struct {
	Gaps       int     `json:"gaps"`
	Seconds    int     `json:"seconds"`
	DeadReckM  Num     `json:"dead_reckoning_m"`
	BaselineM  Num     `json:"baseline_m"`
	BetterRate float64 `json:"dead_reckoning_better"` // share of gaps
	// TrendM is dead reckoning on the speed trend: the speeds published
	// nearest the gap's ends, interpolated across it (TrendReckon).
	TrendM          Num     `json:"speed_trend_m"`
	TrendBetterRate float64 `json:"speed_trend_better"`
}

// HomeFigure is one homes attack's median error.
type HomeFigure struct {
	Method  string `json:"method"`
	Trips   int    `json:"trips"`
	MedianM Num    `json:"median_m"`
	// HomeM is how far the home is from the nearest zone.
	HomeM float64 `json:"home_to_zone_m"`
}

// DecoyFigure is how often the attack picks a real zone among the
// candidates.
type DecoyFigure struct {
	Candidates float64 `json:"candidates"` // mean per draw
	Real       float64 `json:"real"`
	Chance     float64 `json:"chance"`
	Draws      int     `json:"draws"`
	// Covers and Decoys are how many covers the truth holds, decoys
	// among them (none: a transcript without covers, each candidate held
	// against the zones' centres); Matched is how many candidates per
	// draw lie in a cover (the rest point at trip ends or nothing), and
	// DecoysSeen how many decoys any candidate of any draw lay in.
	Covers     int     `json:"covers"`
	Decoys     int     `json:"decoys"`
	Matched    float64 `json:"matched"`
	DecoysSeen int     `json:"decoys_seen"`
	// Picks: per feature (and "combined"), the share of draws in which
	// the candidate it ranks first holds a real zone.
	Picks []Pick `json:"picks"`
}

// Pick is one feature's success rate.
type Pick struct {
	Feature string  `json:"feature"`
	Rate    float64 `json:"rate"`
}

// CostFigure is what the privacy costs, on the wire.
type CostFigure struct {
	// Delivered is the share of seconds the vehicle spent outside every
	// zone's buffer for which a record arrived; DeliveredOutsideCovers
	// the share of those outside every cover (decoys too: where the
	// covers let location leave), OutsideCovers the share of the driven
	// seconds that were (none without covers in the truth).
	Delivered              float64 `json:"delivered"`
	DeliveredOutsideCovers float64 `json:"delivered_outside_covers"`
	OutsideCovers          float64 `json:"outside_covers"`
	BytesPerHour           float64 `json:"bytes_per_vehicle_hour"`
	MeanDelayS             float64 `json:"mean_delay_s"`
	MessagesPerTrip        float64 `json:"messages_per_trip"`
	SimulatedSeconds       float64 `json:"simulated_s"`
}

// Score plays every attack on a transcript and holds each against the
// truth. The attacks see the Observer alone; the truth only scores.
func Score(msgs []testbench.WireMessage, truth []testbench.Truth, pub Public, opts SuiteOptions) (*Suite, error) {
	if opts.Repeats <= 0 {
		opts.Repeats = 15
	}
	if opts.HomeTrips <= 0 {
		opts.HomeTrips = 30
	}
	o := Observe(msgs, pub)
	byKey := map[string]*testbench.Truth{}
	for i := range truth {
		byKey[truth[i].Vehicle+"\x00"+truth[i].Trip] = &truth[i]
	}
	var trips []*Trip
	var truths []*testbench.Truth
	for _, t := range o.Trips {
		if tr := byKey[t.Vehicle+"\x00"+t.Name]; tr != nil {
			trips = append(trips, t)
			truths = append(truths, tr)
		}
	}
	if len(trips) == 0 {
		return nil, fmt.Errorf("attack: no trip of the transcript is in the truth")
	}
	s := &Suite{Trips: len(trips)}
	zones := map[string]zonemap.XY{}
	vehicles := map[string]bool{}
	for _, tr := range truths {
		vehicles[tr.Vehicle] = true
		for _, z := range tr.Zones {
			if _, ok := zones[z.ID]; !ok {
				zones[z.ID] = o.Plane.XY(z.Lat, z.Lon)
				s.Zones = append(s.Zones, z.ID)
			}
		}
	}
	sort.Strings(s.Zones)
	s.Vehicles = len(vehicles)
	rng := rand.New(rand.NewPCG(opts.Seed, 0xa77ac))
	draw := func(n int, from []int) []int {
		if n >= len(from) {
			return from
		}
		p := slices.Clone(from)
		rng.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
		p = p[:n]
		sort.Ints(p)
		return p
	}
	all := make([]int, len(trips))
	for i := range all {
		all[i] = i
	}
	pick := func(idx []int) []*Trip {
		out := make([]*Trip, len(idx))
		for k, i := range idx {
			out[k] = trips[i]
		}
		return out
	}

	// (a) The zones' centres.
	counts := opts.Counts
	if len(counts) == 0 {
		counts = []int{20, 100, 300, len(trips)}
	}
	done := map[int]bool{}
	for _, n := range counts {
		if n > len(trips) || n <= 0 || done[n] {
			continue
		}
		done[n] = true
		reps := opts.Repeats
		if n == len(trips) {
			reps = 1
		}
		errs := map[string]map[string][]float64{} // method → zone → per draw
		for range reps {
			est := o.Centres(pick(draw(n, all)))
			for _, z := range s.Zones {
				best := math.Inf(1)
				for _, m := range CentreMethods {
					e := math.Inf(1)
					for _, x := range est[m] {
						e = math.Min(e, dist(x.P, zones[z]))
					}
					best = math.Min(best, e)
					add(errs, m, z, e)
				}
				add(errs, "best", z, best)
			}
		}
		for _, m := range append(slices.Clone(CentreMethods), "best") {
			for _, z := range s.Zones {
				e := errs[m][z]
				found := 0
				for _, x := range e {
					if !math.IsInf(x, 1) {
						found++
					}
				}
				s.Centre = append(s.Centre, CentreFigure{Method: m, Trips: n, Zone: z, MedianM: Num(math.Round(median(e))), Found: float64(found) / float64(len(e))})
			}
		}
	}

	// (b) Passes, from publish times and sizes.
	s.Pass = scorePasses(o, trips, truths)

	// (c) Dead reckoning in gaps.
	s.Gaps = scoreGaps(o, trips, truths)

	// (d) Homes.
	homeVehicles := map[string][]int{}
	homeOf := map[string][2]float64{}
	for i, tr := range truths {
		if tr.Home != nil {
			homeVehicles[tr.Vehicle] = append(homeVehicles[tr.Vehicle], i)
			homeOf[tr.Vehicle] = *tr.Home
		}
	}
	var vs []string
	for v := range homeVehicles {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	for _, v := range vs {
		idx := homeVehicles[v]
		h := o.Plane.XY(homeOf[v][0], homeOf[v][1])
		near := math.Inf(1)
		for _, z := range s.Zones {
			near = math.Min(near, dist(h, zones[z]))
		}
		for _, n := range []int{opts.HomeTrips, len(idx)} {
			if n > len(idx) {
				continue
			}
			reps := opts.Repeats
			if n == len(idx) {
				reps = 1
			}
			errs := map[string][]float64{}
			for range reps {
				// n trips in a row: the vehicle watched for a while.
				from := rng.IntN(len(idx) - n + 1)
				est := o.Homes(pick(idx[from : from+n]))
				for _, m := range HomeMethods {
					e := math.Inf(1)
					if p, ok := est[m]; ok {
						e = dist(p, h)
					}
					errs[m] = append(errs[m], e)
				}
			}
			for _, m := range HomeMethods {
				s.Homes = append(s.Homes, HomeFigure{Method: m, Trips: n, MedianM: Num(math.Round(median(errs[m]))), HomeM: math.Round(near)})
			}
			if n == len(idx) {
				break
			}
		}
	}

	// (e) Which candidate holds a real zone.
	s.Decoys = scoreDecoys(o, trips, zones, truthCovers(o, truths), opts, draw, all, pick)

	s.Cost = scoreCost(o, trips, truths)
	return s, nil
}

func add(m map[string]map[string][]float64, a, b string, v float64) {
	if m[a] == nil {
		m[a] = map[string][]float64{}
	}
	m[a][b] = append(m[a][b], v)
}

// nearest is how near a trip came to any zone.
func nearest(tr *testbench.Truth) float64 {
	d := math.Inf(1)
	for _, z := range tr.Zones {
		d = math.Min(d, z.NearestM)
	}
	return d
}

// Pass labels: a pass came within passM of a zone; a far trip stayed
// farther than farM from every one.
const (
	passM = 1500.0
	farM  = 3000.0
)

func scorePasses(o *Observer, trips []*Trip, truths []*testbench.Truth) PassFigure {
	var pf PassFigure
	feats := make([][]float64, len(trips))
	label := make([]int, len(trips)) // 1 pass, -1 far, 0 neither
	for i, t := range trips {
		feats[i] = o.Features(t)
		switch d := nearest(truths[i]); {
		case d <= passM:
			label[i] = 1
			pf.Positives++
		case d > farM:
			label[i] = -1
			pf.Negatives++
		}
	}
	nf := len(PassFeatures)
	// Detectors: each feature; Fisher's sum of −log p over the features
	// (p: the share of far training trips at or above the trip's value);
	// the most extreme feature's −log p (any feature far out); and the
	// combined one, whichever of those did best on the training half.
	names := append(slices.Clone(PassFeatures), "Fisher's sum", "most extreme feature", "combined")
	nd := len(names) - 1
	flagged := make([][]bool, nd+1) // per detector, per trip (as tested)
	for k := range flagged {
		flagged[k] = make([]bool, len(trips))
	}
	// Two folds: learn on the even trips, test on the odd, and back.
	for fold := range 2 {
		var train, test []int
		for i := range trips {
			if i%2 == fold {
				train = append(train, i)
			} else {
				test = append(test, i)
			}
		}
		var negs [][]float64
		for _, i := range train {
			if label[i] == -1 {
				negs = append(negs, feats[i])
			}
		}
		logp := func(f []float64, j int) float64 {
			ge := 0
			for _, n := range negs {
				if n[j] >= f[j] {
					ge++
				}
			}
			return -math.Log((float64(ge) + 1) / (float64(len(negs)) + 1))
		}
		cache := map[[2]int]float64{}
		score := func(k, i int) float64 {
			if k < nf {
				return feats[i][k]
			}
			if v, ok := cache[[2]int{k, i}]; ok {
				return v
			}
			v := 0.0
			for j := range nf {
				if k == nf {
					v += logp(feats[i], j)
				} else {
					v = math.Max(v, logp(feats[i], j))
				}
			}
			cache[[2]int{k, i}] = v
			return v
		}
		bestK, bestY := 0, math.Inf(-1)
		ths := make([]float64, nd)
		for k := range nd {
			ths[k] = bestThreshold(train, label, func(i int) float64 { return score(k, i) })
			if y := youden(train, label, func(i int) bool { return score(k, i) >= ths[k] }); y > bestY {
				bestK, bestY = k, y
			}
		}
		for _, i := range test {
			for k := range nd {
				flagged[k][i] = score(k, i) >= ths[k]
			}
			flagged[nd][i] = flagged[bestK][i]
		}
	}
	for k := 0; k <= nd; k++ {
		var tp, fp int
		for i := range trips {
			if flagged[k][i] && label[i] == 1 {
				tp++
			}
			if flagged[k][i] && label[i] == -1 {
				fp++
			}
		}
		r := PassResult{Feature: names[k], TPR: Num(math.NaN()), FPR: Num(math.NaN()), Youden: Num(math.NaN())}
		if pf.Positives > 0 {
			r.TPR = Num(float64(tp) / float64(pf.Positives))
		}
		if pf.Negatives > 0 {
			r.FPR = Num(float64(fp) / float64(pf.Negatives))
		}
		r.Youden = r.TPR - r.FPR
		pf.Features = append(pf.Features, r)
	}
	edges := []float64{math.Inf(-1), 0, 500, 1000, 1500, 3000, math.Inf(1)}
	for b := 1; b < len(edges); b++ {
		band := Band{FromM: Num(edges[b-1]), ToM: Num(edges[b])}
		n, f := 0, 0
		for i := range trips {
			if d := nearest(truths[i]); d > float64(band.FromM) && d <= float64(band.ToM) {
				n++
				if flagged[nd][i] {
					f++
				}
			}
		}
		band.Trips = n
		if n > 0 {
			band.Flagged = float64(f) / float64(n)
		}
		pf.Bands = append(pf.Bands, band)
	}
	return pf
}

// youden is TPR − FPR of flag on the trips idx.
func youden(idx, label []int, flag func(int) bool) float64 {
	var tp, fp, pos, neg float64
	for _, i := range idx {
		switch label[i] {
		case 1:
			pos++
			if flag(i) {
				tp++
			}
		case -1:
			neg++
			if flag(i) {
				fp++
			}
		}
	}
	if pos == 0 || neg == 0 {
		return math.Inf(-1)
	}
	return tp/pos - fp/neg
}

// bestThreshold is the threshold on score that maximises TPR − FPR on the
// trips idx (+Inf when they hold no passes or no far trips).
func bestThreshold(idx, label []int, score func(int) float64) float64 {
	var pos, neg int
	type sv struct {
		s float64
		l int
	}
	var v []sv
	for _, i := range idx {
		if label[i] == 0 {
			continue
		}
		v = append(v, sv{score(i), label[i]})
		if label[i] == 1 {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return math.Inf(1)
	}
	sort.Slice(v, func(i, j int) bool { return v[i].s > v[j].s })
	best, th := 0.0, math.Inf(1)
	tp, fp := 0, 0
	for k := 0; k < len(v); k++ {
		if v[k].l == 1 {
			tp++
		} else {
			fp++
		}
		if k+1 < len(v) && v[k+1].s == v[k].s {
			continue
		}
		if y := float64(tp)/float64(pos) - float64(fp)/float64(neg); y > best {
			best, th = y, v[k].s
		}
	}
	return th
}

func scoreGaps(o *Observer, trips []*Trip, truths []*testbench.Truth) GapFigure {
	var gf GapFigure
	var dr, base, trend []float64
	better, trendBetter := 0, 0
	for i, t := range trips {
		track := truths[i].Track
		if len(track) == 0 {
			continue
		}
		t0 := track[0][0]
		for _, g := range o.Gaps(t) {
			if !(g.T1-g.T0 < 86400) || !(math.Abs(g.T0) < 1e12) {
				continue
			}
			var sd, sb, st float64
			n := 0
			for sec := math.Floor(g.T0) + 1; sec < g.T1; sec++ {
				k := int(sec - t0)
				if k < 0 || k >= len(track) {
					continue
				}
				p := o.Plane.XY(track[k][1], track[k][2])
				sd += dist(o.DeadReckon(g, sec), p)
				sb += dist(EndsOnly(g, sec), p)
				st += dist(o.TrendReckon(g, sec), p)
				n++
			}
			if n == 0 {
				continue
			}
			gf.Gaps++
			gf.Seconds += n
			dr = append(dr, sd/float64(n))
			base = append(base, sb/float64(n))
			if sd < sb {
				better++
			}
			trend = append(trend, st/float64(n))
			if st < sb {
				trendBetter++
			}
		}
	}
	gf.DeadReckM, gf.BaselineM = Num(math.Round(median(dr))), Num(math.Round(median(base)))
	gf.TrendM = Num(math.Round(median(trend)))
	if gf.Gaps > 0 {
		gf.BetterRate = float64(better) / float64(gf.Gaps)
		gf.TrendBetterRate = float64(trendBetter) / float64(gf.Gaps)
	}
	return gf
}

// cover is a truth cover on the observer's plane.
type cover struct {
	P     zonemap.XY
	R     float64
	Decoy bool
}

// truthCovers are the covers the trips were driven with (the truth's: the
// bundle's secret), each once.
func truthCovers(o *Observer, truths []*testbench.Truth) []cover {
	seen := map[[2]float64]bool{}
	var out []cover
	for _, tr := range truths {
		for _, c := range tr.Covers {
			if k := [2]float64{c.Lat, c.Lon}; !seen[k] {
				seen[k] = true
				out = append(out, cover{P: o.Plane.XY(c.Lat, c.Lon), R: c.RadiusM, Decoy: c.Decoy})
			}
		}
	}
	return out
}

// scoreDecoys ranks the candidates the gaps point at by each feature and
// scores the top one against the truth: with covers in the truth, a
// candidate is the cover it lies in (the nearest centre among those it
// lies in), real if that cover is a zone's; a candidate in no cover
// (trip ends, end covers) is not real. Without covers, a candidate is real
// if it lies within max(its radius, 1,500 m) of a zone's centre.
func scoreDecoys(o *Observer, trips []*Trip, zones map[string]zonemap.XY, covers []cover, opts SuiteOptions, draw func(int, []int) []int, all []int, pick func([]int) []*Trip) DecoyFigure {
	var df DecoyFigure
	df.Covers = len(covers)
	for _, c := range covers {
		if c.Decoy {
			df.Decoys++
		}
	}
	decoysSeen := map[int]bool{}
	n := opts.DecoyTrips
	if n <= 0 || n > len(trips) {
		n = max(1, len(trips)/2)
	}
	reps := 3 * opts.Repeats
	if n == len(trips) {
		reps = 1
	}
	nf := len(DecoyFeatures)
	hits := make([]int, nf+1)
	for range reps {
		cs := o.Candidates(pick(draw(n, all)))
		if len(cs) == 0 {
			continue
		}
		df.Draws++
		real := make([]bool, len(cs))
		for k, c := range cs {
			if len(covers) > 0 {
				in, best := -1, math.Inf(1)
				for j, cv := range covers {
					if d := dist(c.P, cv.P); d <= cv.R && d < best {
						in, best = j, d
					}
				}
				if in >= 0 {
					df.Matched++
					real[k] = !covers[in].Decoy
					if covers[in].Decoy {
						decoysSeen[in] = true
					}
				}
			} else {
				r := math.Max(c.RadiusM, 1500)
				for _, z := range zones {
					if dist(c.P, z) <= r {
						real[k] = true
					}
				}
			}
			if real[k] {
				df.Real++
			}
		}
		df.Candidates += float64(len(cs))
		// Each feature ranks the candidates; the combined one by the sum
		// of their standard scores.
		z := make([]float64, len(cs))
		for j := range nf {
			var col []float64
			for _, c := range cs {
				col = append(col, c.Features[j])
			}
			mean, sd := 0.0, stddev(col)
			for _, x := range col {
				mean += x
			}
			mean /= float64(len(col))
			best := 0
			for k := range cs {
				if col[k] > col[best] {
					best = k
				}
				if sd > 0 {
					z[k] += (col[k] - mean) / sd
				}
			}
			if real[best] {
				hits[j]++
			}
		}
		best := 0
		for k := range cs {
			if z[k] > z[best] {
				best = k
			}
		}
		if real[best] {
			hits[nf]++
		}
	}
	if df.Draws == 0 {
		return df
	}
	d := float64(df.Draws)
	df.Chance = df.Real / df.Candidates
	df.Candidates /= d
	df.Real /= d
	df.Matched /= d
	df.DecoysSeen = len(decoysSeen)
	for j := 0; j <= nf; j++ {
		name := "combined"
		if j < nf {
			name = DecoyFeatures[j]
		}
		df.Picks = append(df.Picks, Pick{Feature: name, Rate: float64(hits[j]) / d})
	}
	return df
}

func scoreCost(o *Observer, trips []*Trip, truths []*testbench.Truth) CostFigure {
	var cf CostFigure
	var far, got, drove, outCov, gotOut int
	covers := truthCovers(o, truths)
	var delay float64
	var delays, msgs int
	var bytes float64
	for i, t := range trips {
		tr := truths[i]
		rec := map[int64]bool{}
		for _, s := range t.Speeds {
			rec[int64(s.T)] = true
		}
		for _, p := range t.Positions {
			rec[int64(p.T)] = true
		}
		for _, p := range tr.Track {
			xy := o.Plane.XY(p[1], p[2])
			drove++
			if len(covers) > 0 {
				in := false
				for _, c := range covers {
					if dist(xy, c.P) <= c.R {
						in = true
						break
					}
				}
				if !in {
					outCov++
					if rec[int64(p[0])] {
						gotOut++
					}
				}
			}
			outside := true
			for _, z := range tr.Zones {
				zp := o.Plane.XY(z.Lat, z.Lon)
				if dist(o.Plane.XY(p[1], p[2]), zp) <= z.RadiusM+z.BufferM {
					outside = false
				}
			}
			if outside {
				far++
				if rec[int64(p[0])] {
					got++
				}
			}
		}
		for _, d := range t.Delays {
			delay += d
			delays++
		}
		msgs += len(t.Telemetry) + len(t.Alarms) + len(t.Statuses) + len(t.Audits)
		bytes += float64(t.Bytes)
		cf.SimulatedSeconds += tr.End - tr.Start
	}
	if far > 0 {
		cf.Delivered = float64(got) / float64(far)
	}
	if outCov > 0 {
		cf.DeliveredOutsideCovers = float64(gotOut) / float64(outCov)
	}
	if len(covers) > 0 && drove > 0 {
		cf.OutsideCovers = float64(outCov) / float64(drove)
	}
	if cf.SimulatedSeconds > 0 {
		cf.BytesPerHour = math.Round(bytes / (cf.SimulatedSeconds / 3600))
	}
	if delays > 0 {
		cf.MeanDelayS = math.Round(delay/float64(delays)*10) / 10
	}
	cf.MessagesPerTrip = math.Round(float64(msgs)/float64(len(trips))*10) / 10
	return cf
}

// WriteJSON writes the figures as JSON.
func (s *Suite) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(s)
}

// Num is a figure that may be infinite (the attack pointed nowhere) or
// undefined (nothing to score): JSON null then.
type Num float64

// MarshalJSON writes null for what JSON cannot hold.
func (n Num) MarshalJSON() ([]byte, error) {
	if math.IsInf(float64(n), 0) || math.IsNaN(float64(n)) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(n))
}

// WriteText prints the figures.
func (s *Suite) WriteText(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("Observer's attacks — %d trips of %d vehicles, zones %v (each figure against the simulator's truth)\n\n", s.Trips, s.Vehicles, s.Zones)
	p("(a) Zone centre: median distance from the true centre to the nearest place each attack points at\n")
	p("  %-36s %-8s", "method", "zone")
	var ns []int
	for _, c := range s.Centre {
		if !slices.Contains(ns, c.Trips) {
			ns = append(ns, c.Trips)
		}
	}
	for _, n := range ns {
		p(" %9s", fmt.Sprintf("%d trips", n))
	}
	p("\n")
	for _, m := range append(slices.Clone(CentreMethods), "best") {
		for _, z := range s.Zones {
			p("  %-36s %-8s", m, z)
			for _, n := range ns {
				for _, c := range s.Centre {
					if c.Method == m && c.Zone == z && c.Trips == n {
						p(" %9s", metres(c.MedianM))
					}
				}
			}
			p("\n")
		}
	}
	p("\n(b) Passes from publish times and sizes: %d trips within %.0f m of a zone, %d farther than %.0f m from all\n", s.Pass.Positives, passM, s.Pass.Negatives, farM)
	p("  %-32s %6s %6s %9s\n", "detector", "TPR", "FPR", "TPR-FPR")
	for _, f := range s.Pass.Features {
		p("  %-32s %6s %6s %9s\n", f.Feature, pct(f.TPR), pct(f.FPR), pct(f.Youden))
	}
	p("  combined detector's flag rate by nearest distance to a zone:")
	for _, b := range s.Pass.Bands {
		if b.Trips > 0 {
			p("  %s: %s of %d", bandName(b), pct(b.Flagged), b.Trips)
		}
	}
	p("\n\n(c) Dead reckoning inside %d gaps (%d s): median error %s, ends-and-duration baseline %s; better in %s of gaps\n",
		s.Gaps.Gaps, s.Gaps.Seconds, metres(s.Gaps.DeadReckM), metres(s.Gaps.BaselineM), pct(s.Gaps.BetterRate))
	p("    on the speed trend (the last speed before the gap, the first after it, one change of speed between): median error %s; better in %s of gaps\n",
		metres(s.Gaps.TrendM), pct(s.Gaps.TrendBetterRate))
	p("\n(d) Homes:")
	if len(s.Homes) == 0 {
		p(" no vehicle with a home in the truth\n")
	} else {
		p(" median distance from the true home (%s from a zone's centre)\n", metres(s.Homes[0].HomeM))
		for _, h := range s.Homes {
			p("  %-32s %4d trips %9s\n", h.Method, h.Trips, metres(h.MedianM))
		}
	}
	d := s.Decoys
	p("\n(e) Decoys: %.1f candidates, %.1f holding a real zone (chance %s), %d draws", d.Candidates, d.Real, pct(d.Chance), d.Draws)
	if d.Covers > 0 {
		p("; truth: %d covers, %d of them decoys; %.1f candidates a draw in a cover, %d decoys ever among them", d.Covers, d.Decoys, d.Matched, d.DecoysSeen)
	}
	p("; share of draws the top-ranked candidate is real:\n")
	for _, k := range d.Picks {
		p("  %-36s %6s\n", k.Feature, pct(k.Rate))
	}
	c := s.Cost
	p("\nCost: allowed telemetry delivered %s of seconds outside every buffer", pct(c.Delivered))
	if s.Decoys.Covers > 0 {
		p(", %s of seconds outside every cover (%s of the driven seconds were)", pct(c.DeliveredOutsideCovers), pct(c.OutsideCovers))
	}
	p("; %.0f bytes per vehicle-hour; mean delay %.1f s; %.1f messages per trip\n", c.BytesPerHour, c.MeanDelayS, c.MessagesPerTrip)
}

func metres[T Num | float64](x T) string {
	m := float64(x)
	if math.IsInf(m, 1) || math.IsNaN(m) {
		return "none"
	}
	return fmt.Sprintf("%.0f m", m)
}

func pct[T Num | float64](v T) string {
	x := float64(v)
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", 100*x)
}

func bandName(b Band) string {
	switch {
	case math.IsInf(float64(b.FromM), -1):
		return "inside"
	case math.IsInf(float64(b.ToM), 1):
		return fmt.Sprintf(">%.0f m", b.FromM)
	}
	return fmt.Sprintf("%.0f-%.0f m", b.FromM, b.ToM)
}

// Targets are issue 14's privacy targets; Targets returns each one the
// figures miss (none: all met). Figures that could not be measured (no
// far trips, no gaps, no home) are not held against the defences.
func Targets(s *Suite) []string {
	var miss []string
	for _, c := range s.Centre {
		if c.Method != "best" && float64(c.MedianM) < 1000 {
			miss = append(miss, fmt.Sprintf("centre of %s by %s after %d trips: %s, want ≥ 1,000 m", c.Zone, c.Method, c.Trips, metres(c.MedianM)))
		}
	}
	// Rates are measured on finitely many trips: a detector misses the
	// target when it is above it by more than twice its standard error.
	for _, f := range s.Pass.Features {
		y, tp, fp := float64(f.Youden), float64(f.TPR), float64(f.FPR)
		se := math.Sqrt(tp*(1-tp)/float64(max(1, s.Pass.Positives)) + fp*(1-fp)/float64(max(1, s.Pass.Negatives)))
		if !math.IsNaN(y) && y-2*se > 0.05 {
			miss = append(miss, fmt.Sprintf("pass detector %q: TPR − FPR %s (± %s), want ≤ 5%%", f.Feature, pct(y), pct(se)))
		}
	}
	// Dead reckoning is better than the baseline when it places the
	// vehicle closer in most gaps, or its median error is lower by more
	// than 2 % (a few metres either way over some fifty gaps is noise).
	better := func(m Num, rate float64) bool {
		return rate > 0.5 || float64(m) < 0.98*float64(s.Gaps.BaselineM)
	}
	if s.Gaps.Gaps > 0 && better(s.Gaps.DeadReckM, s.Gaps.BetterRate) {
		miss = append(miss, fmt.Sprintf("dead reckoning in gaps: %s against the baseline's %s, better in %s of gaps; want no better", metres(s.Gaps.DeadReckM), metres(s.Gaps.BaselineM), pct(s.Gaps.BetterRate)))
	}
	if s.Gaps.Gaps > 0 && better(s.Gaps.TrendM, s.Gaps.TrendBetterRate) {
		miss = append(miss, fmt.Sprintf("dead reckoning on the speed trend: %s against the baseline's %s, better in %s of gaps; want no better", metres(s.Gaps.TrendM), metres(s.Gaps.BaselineM), pct(s.Gaps.TrendBetterRate)))
	}
	for _, h := range s.Homes {
		if h.Trips <= 30 && float64(h.MedianM) < 1000 {
			miss = append(miss, fmt.Sprintf("home by %s after %d trips: %s, want ≥ 1,000 m", h.Method, h.Trips, metres(h.MedianM)))
		}
	}
	for _, p := range s.Decoys.Picks {
		se := math.Sqrt(0.3 * 0.7 / float64(max(1, s.Decoys.Draws)))
		if s.Decoys.Candidates > s.Decoys.Real && p.Rate-2*se > 0.30 {
			miss = append(miss, fmt.Sprintf("decoys: %q picks a real zone %s of the time (± %s), want ≤ 30%%", p.Feature, pct(p.Rate), pct(se)))
		}
	}
	if s.Decoys.Draws > 0 && s.Decoys.Candidates <= s.Decoys.Real {
		miss = append(miss, fmt.Sprintf("decoys: %.1f candidates, all real: no decoy on the wire", s.Decoys.Candidates))
	}
	return miss
}

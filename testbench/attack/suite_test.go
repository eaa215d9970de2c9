package attack

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"quietzone/gateway/config"
	"quietzone/testbench"
	"quietzone/testbench/internal/zonemap"
	"quietzone/testbench/scenario"
)

// The attacks' geometry on made-up data whose answer is known: each
// finds what it is built to find, so that a figure that says "the zone
// cannot be found" means the defence, not a broken attack.
func TestKasaAndBisectorsFindACircle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	c := zonemap.XY{X: 1234, Y: -567}
	var pts []zonemap.XY
	var gaps []Gap
	for range 40 {
		a, b := rng.Float64()*2*math.Pi, rng.Float64()*2*math.Pi
		p0 := zonemap.XY{X: c.X + 900*math.Cos(a) + rng.NormFloat64()*20, Y: c.Y + 900*math.Sin(a) + rng.NormFloat64()*20}
		p1 := zonemap.XY{X: c.X + 900*math.Cos(b) + rng.NormFloat64()*20, Y: c.Y + 900*math.Sin(b) + rng.NormFloat64()*20}
		pts = append(pts, p0, p1)
		gaps = append(gaps, Gap{T0: 0, T1: 60, P0: p0, P1: p1})
	}
	got, r, ok := kasa(pts)
	if !ok || dist(got, c) > 30 || math.Abs(r-900) > 30 {
		t.Errorf("kasa: centre %v radius %.0f ok %v, want %v 900", got, r, ok, c)
	}
	if got := bisectors(gaps); dist(got, c) > 50 {
		t.Errorf("bisectors: %v, want %v", got, c)
	}
	// Chords all along one road fix the centre across it only.
	one := []Gap{{P0: zonemap.XY{X: -500, Y: 10}, P1: zonemap.XY{X: 700, Y: 10}}, {P0: zonemap.XY{X: -450, Y: 10}, P1: zonemap.XY{X: 650, Y: 10}}}
	if got := bisectors(one); math.Abs(got.X-100) > 1 || math.Abs(got.Y-10) > 1 {
		t.Errorf("bisectors on one road: %v, want the chords' middle (100, 10)", got)
	}
}

func TestMeanShiftSeparatesPlaces(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var pts []zonemap.XY
	for range 30 {
		pts = append(pts, zonemap.XY{X: rng.NormFloat64() * 300, Y: rng.NormFloat64() * 300})
	}
	for range 20 {
		pts = append(pts, zonemap.XY{X: 8000 + rng.NormFloat64()*300, Y: rng.NormFloat64() * 300})
	}
	cl := meanShift(pts, 2000)
	if len(cl) != 2 || len(cl[0]) != 30 || len(cl[1]) != 20 {
		t.Fatalf("%d groups, want 30 and 20 points", len(cl))
	}
}

func TestMultilaterationFindsHome(t *testing.T) {
	home := zonemap.XY{X: 300, Y: 400}
	var as []Anchor
	for i, a := range []float64{0.3, 2.0, 4.1, 5.0} {
		d := 1000 + 300*float64(i)
		as = append(as, Anchor{P: zonemap.XY{X: home.X + d*math.Cos(a), Y: home.Y + d*math.Sin(a)}, Dist: d})
	}
	if got := multilaterate(as, zonemap.XY{}, func(a Anchor) float64 { return a.Dist }); dist(got, home) > 5 {
		t.Errorf("multilateration: %v, want %v", got, home)
	}
}

// Dead reckoning follows the published speeds; the baseline the clock.
func TestDeadReckoningUsesSpeeds(t *testing.T) {
	o := &Observer{Public: Public{PositionPeriod: 5 * time.Second, Quantum: time.Second}}
	tr := &Trip{}
	// 10 s at 36 km/h (100 m), then 10 s at 108 km/h (300 m).
	for s := 0; s <= 20; s++ {
		v := 36.0
		if s >= 10 {
			v = 108
		}
		tr.Speeds = append(tr.Speeds, Sample{T: float64(s), V: v})
	}
	g := Gap{Trip: tr, T0: 0, T1: 20, P0: zonemap.XY{}, P1: zonemap.XY{X: 400}}
	if got := o.DeadReckon(g, 10); math.Abs(got.X-100) > 25 {
		t.Errorf("dead reckoning at 10 s: %.0f m, want about 100", got.X)
	}
	if got := EndsOnly(g, 10); got.X != 200 {
		t.Errorf("baseline at 10 s: %.0f m, want 200", got.X)
	}
}

func TestBestThreshold(t *testing.T) {
	label := []int{1, 1, 1, -1, -1, -1, 0}
	score := []float64{5, 6, 7, 1, 2, 6, 100}
	th := bestThreshold([]int{0, 1, 2, 3, 4, 5, 6}, label, func(i int) float64 { return score[i] })
	if th != 5 {
		t.Errorf("threshold %v, want 5 (TPR 1, FPR 1/3)", th)
	}
}

// population drives a population and reads its transcript and truth back
// as the attack command does.
func population(t *testing.T, name string, n int) ([]testbench.WireMessage, []testbench.Truth) {
	t.Helper()
	p, err := scenario.Generate(name, 1, n)
	if err != nil {
		t.Fatal(err)
	}
	var wire, truth bytes.Buffer
	res, err := testbench.RunPopulation(context.Background(), p, testbench.PopulationOptions{Wire: &wire, Truth: &truth})
	if err != nil {
		t.Fatal(err)
	}
	if res.Violations != 0 || res.Trips != n {
		t.Fatalf("%d of %d trips driven, %d broke an invariant", res.Trips, n, res.Violations)
	}
	msgs, err := ReadTranscript(name+".jsonl", &wire)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ReadTruth(name+"-truth.jsonl", &truth)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr) != n {
		t.Fatalf("%d truths, want %d", len(tr), n)
	}
	return msgs, tr
}

func demoPublic(t *testing.T) Public {
	t.Helper()
	pol, err := config.ParsePolicy("demo", scenario.BuiltIn().Policy)
	if err != nil {
		t.Fatal(err)
	}
	return PublicOf(pol)
}

// The suite runs end to end on short populations and scores every trip.
func TestSuiteOnShortPopulations(t *testing.T) {
	n := map[string]int{"car": 16, "fleet": 24}
	if testing.Short() {
		n = map[string]int{"car": 8, "fleet": 8}
	}
	for _, name := range scenario.Populations {
		t.Run(name, func(t *testing.T) {
			msgs, truth := population(t, name, n[name])
			s, err := Score(msgs, truth, demoPublic(t), SuiteOptions{Repeats: 3, Counts: []int{n[name]}, HomeTrips: n[name]})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			s.WriteText(&out)
			t.Logf("\n%s", out.String())
			if s.Trips != n[name] {
				t.Errorf("%d trips scored, want %d", s.Trips, n[name])
			}
			if name == "car" && len(s.Homes) == 0 {
				t.Error("the car's home was not attacked")
			}
			var js bytes.Buffer
			if err := s.WriteJSON(&js); err != nil || !strings.Contains(js.String(), `"centre"`) {
				t.Errorf("JSON: %v\n%s", err, js.String())
			}
		})
	}
}

// Targets are issue 14's, on both populations; they hold once the
// defences are in (covers, decoys, constant cadence, nothing about motion
// in withheld stretches, hidden trip ends). Until then this test only
// prints the figures: QUIETZONE_PRIVACY_TARGETS=1 asserts them (make
// test-privacy PRIVACY_TARGETS=1). QUIETZONE_PRIVACY_TRIPS=fleet,car sets
// the population sizes (default 300 and 90: make test-privacy stays
// within 10 minutes on two cores).
func TestPrivacyTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("drives hundreds of trips")
	}
	enforce := os.Getenv("QUIETZONE_PRIVACY_TARGETS") == "1"
	if !enforce && os.Getenv("QUIETZONE_PRIVACY_FIGURES") != "1" {
		t.Skip("QUIETZONE_PRIVACY_FIGURES=1 prints the figures, QUIETZONE_PRIVACY_TARGETS=1 asserts the targets (make test-privacy)")
	}
	sizes := map[string]int{"fleet": 300, "car": 90}
	if s := os.Getenv("QUIETZONE_PRIVACY_TRIPS"); s != "" {
		var f, c int
		if _, err := fmt.Sscanf(s, "%d,%d", &f, &c); err != nil {
			t.Fatalf("QUIETZONE_PRIVACY_TRIPS=%q: want FLEET,CAR", s)
		}
		sizes["fleet"], sizes["car"] = f, c
	}
	for _, name := range scenario.Populations {
		t.Run(name, func(t *testing.T) {
			msgs, truth := population(t, name, sizes[name])
			s, err := Score(msgs, truth, demoPublic(t), SuiteOptions{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			s.WriteText(&out)
			t.Logf("\n%s", out.String())
			if !enforce {
				return
			}
			for _, f := range Targets(s) {
				t.Error(f)
			}
		})
	}
}

// The audit counts that went up around a moment: between the summary
// before it and the one after, whichever trip carried them.
func TestAuditDelta(t *testing.T) {
	o := &Observer{audits: map[string][]Audit{"v": {
		{T: 100, Counts: map[string]float64{"suppression.on": 1, "audit.keyed": 1}},
		{T: 200, Counts: map[string]float64{"suppression.on": 3, "audit.keyed": 2}},
	}}}
	for _, tc := range []struct {
		t    float64
		word string
		want float64
	}{
		{50, "suppress", 1}, {150, "suppress", 2}, {150, "", 3}, {250, "suppress", 0},
	} {
		if got := o.auditDelta("v", tc.t, tc.word); got != tc.want {
			t.Errorf("at %v, %q: %v, want %v", tc.t, tc.word, got, tc.want)
		}
	}
}

// A transcript is read from a file: whatever it holds, reading it and
// playing every attack on it ends, without a panic.
func FuzzTranscript(f *testing.F) {
	f.Add([]byte(`{"trip":"a","vehicle":"v","event":"connect","t":100}
{"trip":"a","vehicle":"v","event":"publish","topic":"quietzone/v1/abcdefghijklmnop/telemetry","t":130.5,"bytes":200,"records":[{"seq":1,"t":100,"pos":[52,10],"s":{"vehicle.speed":50}},{"seq":2,"t":160,"pos":[52.01,10]},{"seq":3,"t":190,"s":{"vehicle.speed":0}}]}
{"trip":"a","vehicle":"v","event":"publish","topic":"quietzone/v1/abcdefghijklmnop/status","t":300,"bytes":7,"retained":true,"text":"offline"}
{"trip":"a","vehicle":"v","event":"publish","topic":"quietzone/v1/abcdefghijklmnop/audit","t":301,"bytes":7,"text":"{\"counts\":{\"suppression.on\":2}}"}`))
	f.Add([]byte("{}\n\n{\"t\":1e300,\"records\":[{\"t\":9223372036854775807,\"pos\":[1e300,-1e300]}]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs, err := ReadTranscript("fuzz", bytes.NewReader(data))
		if err != nil {
			return
		}
		o := Observe(msgs, Public{PositionPeriod: 5 * time.Second, GridM: 200, Quantum: 30 * time.Second})
		o.Centres(o.Trips)
		o.Homes(o.Trips)
		o.Candidates(o.Trips)
		for _, tr := range o.Trips {
			o.Features(tr)
			for _, g := range o.Gaps(tr) {
				o.DeadReckon(g, (g.T0+g.T1)/2)
			}
		}
	})
}

// Times so large that a second more is no different end every loop.
func TestHugeTimesEnd(t *testing.T) {
	data := `{"trip":"a","vehicle":"v","event":"connect","t":9e18}
{"trip":"a","vehicle":"v","event":"publish","topic":"quietzone/v1/abcdefghijklmnop/telemetry","t":9e18,"bytes":9,"records":[{"seq":1,"t":9000000000000000000,"pos":[52,10],"s":{"vehicle.speed":50}},{"seq":2,"t":9000000000000000100,"pos":[52.01,10],"s":{"vehicle.speed":50}},{"seq":3,"t":9000000000000000200,"s":{"vehicle.speed":5}}]}
{"trip":"a","vehicle":"v","event":"publish","topic":"quietzone/v1/abcdefghijklmnop/telemetry","t":9.0000000000001e18,"bytes":9}
{"trip":"a","vehicle":"v","event":"publish","topic":"quietzone/v1/abcdefghijklmnop/telemetry","t":9.0000000000002e18,"bytes":9}
{"trip":"a","vehicle":"v","event":"publish","topic":"quietzone/v1/abcdefghijklmnop/telemetry","t":9.0000000000003e18,"bytes":9}
{"trip":"a","vehicle":"v","event":"publish","topic":"quietzone/v1/abcdefghijklmnop/status","t":9.0000000000004e18,"bytes":7,"text":"offline"}`
	msgs, err := ReadTranscript("huge", strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	truth := []testbench.Truth{{Trip: "a", Vehicle: "v", Track: [][4]float64{{9e18, 52, 10, 50}}}}
	if _, err := Score(msgs, truth, demoPublic(t), SuiteOptions{Repeats: 1}); err != nil {
		t.Fatal(err)
	}
}

// The decoy attack is scored by the covers the truth holds: a candidate
// is the cover it lies in, real if that cover is a zone's. A real cover's
// candidate lies where the cover's gaps are, up to cover_offset_m from its
// zone (counted as no zone when held against the zone's centre), a decoy's
// is not real, and one in no cover (a trip end) is not real either.
func TestDecoysScoredByTruthCovers(t *testing.T) {
	o := &Observer{Public: Public{PositionPeriod: 5 * time.Second, Quantum: 30 * time.Second}}
	zone := zonemap.XY{X: 1800, Y: 0} // covered by the cover at the origin
	covers := []cover{
		{P: zonemap.XY{}, R: 3300},
		{P: zonemap.XY{X: 20000}, R: 3300, Decoy: true},
	}
	var trips []*Trip
	for _, place := range []zonemap.XY{{}, {X: 20000}, {X: 0, Y: 40000}} {
		for k := range 3 {
			a := float64(k) * math.Pi / 3
			tr := &Trip{Name: fmt.Sprint(place, k), Vehicle: "v"}
			for s := -60.0; s <= 60; s += 5 {
				if math.Abs(s) < 30 {
					continue // the gap: a minute around the place
				}
				tr.Positions = append(tr.Positions, Point{T: 1000 + s, P: zonemap.XY{X: place.X + 30*s*math.Cos(a), Y: place.Y + 30*s*math.Sin(a)}})
			}
			trips = append(trips, tr)
		}
	}
	all := make([]int, len(trips))
	for i := range all {
		all[i] = i
	}
	pick := func(idx []int) []*Trip {
		var out []*Trip
		for _, i := range idx {
			out = append(out, trips[i])
		}
		return out
	}
	draw := func(n int, from []int) []int { return from }
	df := scoreDecoys(o, trips, map[string]zonemap.XY{"z": zone}, covers, SuiteOptions{Repeats: 1, DecoyTrips: len(trips)}, draw, all, pick)
	if df.Draws != 1 || df.Candidates != 3 || df.Real != 1 || df.Matched != 2 || df.DecoysSeen != 1 || df.Covers != 2 || df.Decoys != 1 {
		t.Errorf("%+v, want 1 draw: 3 candidates, 2 in a cover, 1 real, 1 decoy seen, of 2 covers 1 a decoy", df)
	}
}

// The cost counts the seconds outside every cover (decoys too) apart:
// where the covers let location leave, and how much of it arrived.
func TestCostOutsideCovers(t *testing.T) {
	o := &Observer{Plane: zonemap.NewPlane(52, 10)}
	tr := &testbench.Truth{Trip: "a", Vehicle: "v", Start: 0, End: 9,
		Covers: []testbench.TruthCover{{Lat: 52, Lon: 10, RadiusM: 450}, {Lat: 52.1, Lon: 10, RadiusM: 100, Decoy: true}}}
	for s := range 10 {
		lat, lon := o.Plane.LatLon(zonemap.XY{X: 100 * float64(s)})
		tr.Track = append(tr.Track, [4]float64{float64(s), lat, lon, 360})
	}
	trip := &Trip{Name: "a", Vehicle: "v", Speeds: []Sample{{T: 1}, {T: 6}}}
	cf := scoreCost(o, []*Trip{trip}, []*testbench.Truth{tr})
	if cf.OutsideCovers != 0.5 || cf.DeliveredOutsideCovers != 0.2 {
		t.Errorf("outside covers %v, delivered there %v; want 0.5 and 0.2", cf.OutsideCovers, cf.DeliveredOutsideCovers)
	}
}

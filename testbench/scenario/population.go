package scenario

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Population is many trips for the privacy attacks (testbench/attack): the
// observer's transcript of all of them is what an attacker gets.
type Population struct {
	Name  string
	Trips []Scenario
	// Chains are the trips one vehicle drives one after another on one
	// state directory, as indices into Trips, each in order. Chains run
	// in parallel; every trip is in exactly one.
	Chains [][]int
	// Homes are the vehicles' homes by VIN (latitude, longitude), for the
	// truth: the trips that start or end there.
	Homes map[string][2]float64
	// Roads are where the population drives: its fleet's bundle places
	// the decoys on them (DrawCovers). CoversNote says where they went
	// when the roads had no room.
	Roads      [][]Waypoint
	CoversNote string
	// Past are tracks of the fleet's past (its trips on another seed, one
	// track each), that its bundle's decoys are placed by, where their
	// traffic is the real covers' (DrawCovers); none for the car.
	Past [][]Waypoint
}

// Populations lists the populations Generate knows.
var Populations = []string{"fleet", "car"}

// Generate makes the population name from seed with n trips (its default
// when n ≤ 0: 1,000 for the fleet, 300 for the car).
// Every trip of it runs on the zones with one bundle's covers and decoys,
// drawn from seed, the fleet's decoys where its past trips' traffic
// matches the zones' covers' (WithCovers).
func Generate(name string, seed uint64, n int) (Population, error) {
	var p Population
	switch name {
	case "fleet":
		if n <= 0 {
			n = 1000
		}
		p = Fleet(seed, n)
		for _, t := range Fleet(pastSeed(seed), pastTrips).Trips {
			p.Past = append(p.Past, t.Route)
		}
	case "car":
		if n <= 0 {
			n = 300
		}
		p = Car(seed, n)
	default:
		return Population{}, fmt.Errorf("no population %q (want fleet or car)", name)
	}
	return p.WithCovers(seed)
}

// pastTrips is how many trips of a fleet's past its decoys are placed by;
// pastSeed the seed they are drawn from, never a population's own.
const pastTrips = 1000

func pastSeed(seed uint64) uint64 { return seed ^ 0x9a57_0f_f1ee7_0000 }

// WithCovers gives every trip of p the covers of one bundle (DrawCovers
// on its first trip's zones and policy, the decoys by p.Past, or on
// p.Roads, from seed): a fleet's vehicles all hold the same bundle.
func (p Population) WithCovers(seed uint64) (Population, error) {
	if len(p.Trips) == 0 {
		return p, nil
	}
	covers, note, err := drawCovers(p.Trips[0], p.Roads, p.Past, seed)
	if err != nil {
		return p, fmt.Errorf("population %s: %w", p.Name, err)
	}
	p.CoversNote = note
	for i := range p.Trips {
		p.Trips[i].Covers = covers
	}
	return p, nil
}

// popBase is a population trip: the demo's zones, policy and cameras, no
// faults, the ignition off at the end.
func popBase(name string, seed uint64, start time.Time, route []Waypoint, vin string) Scenario {
	sc := BuiltIn()
	sc.Name, sc.Seed, sc.Start, sc.Route, sc.VIN = name, seed, start, route, vin
	sc.Contacts = nil
	sc.IgnitionOff = true
	sc.ParkedAfter = 30 * time.Second
	return sc
}

// FleetCentre is the middle of the fleet's area, between the demo's zones.
var FleetCentre = Waypoint{Lat: 52.005, Lon: 10.06}

// Place is where a fleet's traffic converges: a town, a depot, a yard, a
// hospital, or one of the demo's zones, which is a place like the others.
type Place struct {
	Name string
	Waypoint
}

// FleetMap is the fleet's country, the same whatever the population's
// seed (a fleet's past drives on the roads its present does): the demo's
// two zones and seven other places around them within 15 km of the
// centre, each at least 7 km from the others, and the roads: one from
// each place to each of its three nearest, and two out of each place to
// its hinterland, 12 km long. Every road bends.
func FleetMap() (places []Place, links [][2]int, roads [][]Waypoint) {
	rng := rand.New(rand.NewPCG(0x9e0, 0xf1ee7))
	uni := func(lo, hi float64) float64 { return lo + rng.Float64()*(hi-lo) }
	places = []Place{
		{"demo-a", Waypoint{Lat: 52.0155, Lon: 10.0910}}, // the demo's zones
		{"demo-b", Waypoint{Lat: 51.9920, Lon: 10.0250}},
	}
	for _, name := range []string{"town north", "town south", "town west", "town east", "market town", "village", "depot", "logistics yard", "hospital", "quarry", "airfield", "port"} {
		for sep := 5000.0; ; sep -= 100 {
			var w Waypoint
			ok := false
			for try := 0; try < 500 && !ok; try++ {
				w.Lat, w.Lon = Offset(FleetCentre.Lat, FleetCentre.Lon, uni(-16000, 16000), uni(-16000, 16000))
				ok = true
				for _, q := range places {
					if distM(w, q.Waypoint) < sep {
						ok = false
					}
				}
			}
			if ok {
				places = append(places, Place{name, w})
				break
			}
		}
	}
	bend := func(a, b Waypoint) []Waypoint {
		l := distM(a, b)
		out := []Waypoint{a}
		for _, f := range []float64{1.0 / 3, 2.0 / 3} {
			w := Waypoint{Lat: a.Lat + f*(b.Lat-a.Lat), Lon: a.Lon + f*(b.Lon-a.Lon)}
			side := uni(-0.1, 0.1) * l
			h := math.Atan2((b.Lon-a.Lon)*math.Cos(a.Lat*math.Pi/180), b.Lat-a.Lat) + math.Pi/2
			w.Lat, w.Lon = Offset(w.Lat, w.Lon, side*math.Cos(h), side*math.Sin(h))
			out = append(out, w)
		}
		return append(out, b)
	}
	linked := map[[2]int]bool{}
	for i, a := range places {
		order := make([]int, 0, len(places)-1)
		for j := range places {
			if j != i {
				order = append(order, j)
			}
		}
		slices.SortFunc(order, func(x, y int) int {
			return cmp.Compare(distM(a.Waypoint, places[x].Waypoint), distM(a.Waypoint, places[y].Waypoint))
		})
		for _, j := range order[:3] {
			k := [2]int{min(i, j), max(i, j)}
			if !linked[k] {
				linked[k] = true
				links = append(links, k)
				roads = append(roads, bend(places[k[0]].Waypoint, places[k[1]].Waypoint))
			}
		}
	}
	for _, a := range places {
		for range 2 {
			h := uni(0, 2*math.Pi)
			var far Waypoint
			far.Lat, far.Lon = Offset(a.Lat, a.Lon, 12000*math.Cos(h), 12000*math.Sin(h))
			roads = append(roads, bend(a.Waypoint, far))
		}
	}
	return places, links, roads
}

// Fleet is n trips of 100 vehicles in the fleet's country (FleetMap),
// where traffic converges on places, the demo's zones two of them: a
// place is chosen alike for every trip, the zones as often as a town.
// Nine trips in twenty pass through the place, from 6–12 km out on one of
// its roads to as far on another; six come to it from 4 to 10 km out on
// one of its roads (or, half of them, leave it there): the people who
// use a site, or a town; three go from it to a neighbour, on the road
// between; the others drive 4 to 14 km of any road, either way. A trip
// to, from or through a place passes within 300 m of it.
// Speeds of 50 to 90 km/h, on a day of 30; each trip is its own chain.
func Fleet(seed uint64, n int) Population {
	rng := rand.New(rand.NewPCG(seed, 0xf1ee7))
	uni := func(lo, hi float64) float64 { return lo + rng.Float64()*(hi-lo) }
	places, links, roads := FleetMap()
	p := Population{Name: fmt.Sprintf("fleet of 100 vehicles, %d trips between %d places (seed %d)", n, len(places), seed), Roads: roads}
	spot := func(w Waypoint) Waypoint {
		d, b := uni(0, 300), uni(0, 2*math.Pi)
		w.Lat, w.Lon = Offset(w.Lat, w.Lon, d*math.Cos(b), d*math.Sin(b))
		return w
	}
	hinterland := len(links) // roads[hinterland+2·i+k] is place i's k-th road out
	// out is one of place a's roads, from a, to d metres (or its end, or
	// 2 km short of the neighbour it leads to).
	out := func(a int, d float64) []Waypoint {
		var ks []int
		for k, l := range links {
			if l[0] == a || l[1] == a {
				ks = append(ks, k)
			}
		}
		ks = append(ks, hinterland+2*a, hinterland+2*a+1)
		k := ks[rng.IntN(len(ks))]
		road := slices.Clone(roads[k])
		end := RouteLength(road)
		if k < hinterland { // stop short of the neighbour: every place as busy
			end -= 2000
			if links[k][1] == a {
				slices.Reverse(road)
			}
		}
		return subRoute(road, 0, math.Min(d, end))
	}
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		var route []Waypoint
		name := fmt.Sprintf("fleet trip %d", i+1)
		a := rng.IntN(len(places))
		switch kind := rng.IntN(20); {
		case kind < 9: // through a, on two of its roads
			in, on := out(a, uni(6000, 12000)), out(a, uni(6000, 12000))
			slices.Reverse(in)
			in[len(in)-1] = spot(in[len(in)-1])
			route = append(in, on[1:]...)
			name += ": through a place"
		case kind < 15: // to a from 4–10 km out, or from a
			route = out(a, uni(4000, 10000))
			route[0] = spot(route[0])
			slices.Reverse(route)
			name += ": a visit"
			if rng.IntN(2) == 0 {
				slices.Reverse(route)
				name = fmt.Sprintf("fleet trip %d: leaving a place", i+1)
			}
		case kind < 18: // from a to a neighbour
			var ks []int
			for k, l := range links {
				if l[0] == a || l[1] == a {
					ks = append(ks, k)
				}
			}
			k := ks[rng.IntN(len(ks))]
			route = slices.Clone(roads[k])
			if links[k][1] == a {
				slices.Reverse(route)
			}
			route[0], route[len(route)-1] = spot(route[0]), spot(route[len(route)-1])
			name += ": between places"
		default: // 4 to 14 km of any road
			road := roads[rng.IntN(len(roads))]
			l := math.Min(uni(4000, 14000), RouteLength(road))
			s0 := uni(0, RouteLength(road)-l)
			route = subRoute(road, s0, s0+l)
			if rng.IntN(2) == 0 {
				slices.Reverse(route)
			}
		}
		for k := range route {
			route[k].SpeedKmh = []float64{50, 70, 90}[rng.IntN(3)]
		}
		start := base.Add(time.Duration(rng.IntN(30*24*3600)) * time.Second)
		vin := fmt.Sprintf("QZFLEET%010d", rng.IntN(100))
		sc := popBase(name, seed*1_000_003+uint64(i)+1, start, route, vin)
		p.Trips = append(p.Trips, sc)
		p.Chains = append(p.Chains, []int{i})
	}
	return p
}

// subRoute is the part of route from s0 to s1 metres along it.
func subRoute(route []Waypoint, s0, s1 float64) []Waypoint {
	var out []Waypoint
	at := func(i int, f float64) Waypoint {
		a, b := route[i], route[i+1]
		return Waypoint{Lat: a.Lat + f*(b.Lat-a.Lat), Lon: a.Lon + f*(b.Lon-a.Lon)}
	}
	s := 0.0
	for i := 0; i+1 < len(route); i++ {
		l := distM(route[i], route[i+1])
		if s+l >= s0 && len(out) == 0 {
			out = append(out, at(i, (s0-s)/l))
		}
		if s+l >= s1 {
			return append(out, at(i, (s1-s)/l))
		}
		if len(out) > 0 {
			out = append(out, route[i+1])
		}
		s += l
	}
	return out
}

func distM(a, b Waypoint) float64 { return RouteLength([]Waypoint{a, b}) }

// CarHome is the car's home: 600 m north of the demo's depot (demo-a).
var CarHome = Waypoint{Lat: 52.0264, Lon: 10.0910}

// carRoads are the car's three roads from home: east to a workplace,
// west then south-west past the radar site to a town, and south through
// the depot to a shop.
var carRoads = [][]Waypoint{
	{CarHome, {Lat: 52.0300, Lon: 10.1000}, {Lat: 52.0350, Lon: 10.1400}, {Lat: 52.0300, Lon: 10.2000}},
	{CarHome, {Lat: 52.0270, Lon: 10.0600}, {Lat: 52.0050, Lon: 10.0350}, {Lat: 51.9800, Lon: 10.0000}},
	{CarHome, {Lat: 52.0150, Lon: 10.0915}, {Lat: 51.9950, Lon: 10.0950}, {Lat: 51.9700, Lon: 10.1100}},
}

// Car is n trips of one car (one VIN) on three fixed roads from its home,
// 600 m from a zone: out in the morning to the end of one road, back in
// the evening, a day per pair; parked within 15 m of its spot. Chains of
// ten trips share a state directory (the car's weeks, in parallel).
func Car(seed uint64, n int) Population {
	rng := rand.New(rand.NewPCG(seed, 0xca7))
	uni := func(lo, hi float64) float64 { return lo + rng.Float64()*(hi-lo) }
	const vin = "QZCAR000000000001"
	p := Population{
		Name:  fmt.Sprintf("one car, %d trips on three roads from its home near a zone (seed %d)", n, seed),
		Homes: map[string][2]float64{vin: {CarHome.Lat, CarHome.Lon}},
		Roads: carRoads,
	}
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	k := 0
	for i := range n {
		if i%2 == 0 {
			k = rng.IntN(len(carRoads))
		}
		route := append([]Waypoint(nil), carRoads[k]...)
		route[0].Lat, route[0].Lon = Offset(CarHome.Lat, CarHome.Lon, uni(-15, 15), uni(-15, 15))
		start := base.Add(time.Duration(i/2)*24*time.Hour + time.Duration(uni(7, 9)*3600)*time.Second)
		name := fmt.Sprintf("car trip %d: out on road %d", i+1, k+1)
		if i%2 == 1 {
			for a, b := 0, len(route)-1; a < b; a, b = a+1, b-1 {
				route[a], route[b] = route[b], route[a]
			}
			start = base.Add(time.Duration(i/2)*24*time.Hour + time.Duration(uni(17, 19)*3600)*time.Second)
			name = fmt.Sprintf("car trip %d: home on road %d", i+1, k+1)
		}
		for j := range route {
			route[j].SpeedKmh = []float64{50, 70, 80}[rng.IntN(3)]
		}
		p.Trips = append(p.Trips, popBase(name, seed*1_000_003+uint64(i)+1, start, route, vin))
		if i%10 == 0 {
			p.Chains = append(p.Chains, nil)
		}
		p.Chains[len(p.Chains)-1] = append(p.Chains[len(p.Chains)-1], i)
	}
	return p
}

package scenario

import (
	"fmt"
	"math"
	"math/rand/v2"
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
}

// Populations lists the populations Generate knows.
var Populations = []string{"fleet", "car"}

// Generate makes the population name from seed with n trips (its default
// when n ≤ 0: 1,000 for the fleet, 300 for the car).
// Every trip of it runs on the zones with one bundle's covers and decoys,
// drawn from seed with the decoys on the population's roads (WithCovers).
func Generate(name string, seed uint64, n int) (Population, error) {
	var p Population
	switch name {
	case "fleet":
		if n <= 0 {
			n = 1000
		}
		p = Fleet(seed, n)
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

// WithCovers gives every trip of p the covers of one bundle (DrawCovers
// on its first trip's zones and policy, the decoys on p.Roads, from
// seed): a fleet's vehicles all hold the same bundle.
func (p Population) WithCovers(seed uint64) (Population, error) {
	if len(p.Trips) == 0 {
		return p, nil
	}
	covers, note, err := DrawCovers(p.Trips[0], p.Roads, seed)
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

// Fleet is n trips of 100 vehicles on 40 random roads through a 20 × 20
// km area around the demo's two zones: half the roads pass within 2.5 km
// of a zone, half anywhere. Each trip is 4 to 14 km of one road, either
// way, at 50 to 90 km/h, on a day of 30; each trip is its own chain. One
// trip in ten is a visit instead: from 4 to 10 km away straight to a
// spot within 300 m of a zone's centre, where it parks (or, one in
// twenty, from there away): the people who use a site.
func Fleet(seed uint64, n int) Population {
	rng := rand.New(rand.NewPCG(seed, 0xf1ee7))
	uni := func(lo, hi float64) float64 { return lo + rng.Float64()*(hi-lo) }
	zones := []Waypoint{{Lat: 52.0155, Lon: 10.0910}, {Lat: 51.9920, Lon: 10.0250}} // the demo's
	roads := make([][]Waypoint, 40)
	for i := range roads {
		var a Waypoint
		if i%2 == 0 {
			z := zones[rng.IntN(len(zones))]
			d, b := uni(0, 2500), uni(0, 2*math.Pi)
			a.Lat, a.Lon = Offset(z.Lat, z.Lon, d*math.Cos(b), d*math.Sin(b))
		} else {
			a.Lat, a.Lon = Offset(FleetCentre.Lat, FleetCentre.Lon, uni(-10000, 10000), uni(-10000, 10000))
		}
		roads[i] = randomRoad(rng, a, 12000)
	}
	p := Population{Name: fmt.Sprintf("fleet of 100 vehicles, %d trips on 40 random roads (seed %d)", n, seed), Roads: roads}
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		road := roads[rng.IntN(len(roads))]
		total := RouteLength(road)
		l := uni(4000, 14000)
		s0 := uni(0, total-l)
		route := subRoute(road, s0, s0+l)
		visit := rng.IntN(20)
		if visit < 3 {
			z := zones[rng.IntN(len(zones))]
			d, b := uni(0, 300), uni(0, 2*math.Pi)
			var in, from Waypoint
			in.Lat, in.Lon = Offset(z.Lat, z.Lon, d*math.Cos(b), d*math.Sin(b))
			d, b = uni(4000, 10000), uni(0, 2*math.Pi)
			from.Lat, from.Lon = Offset(in.Lat, in.Lon, d*math.Cos(b), d*math.Sin(b))
			route = []Waypoint{from, in}
			if visit == 2 {
				route = []Waypoint{in, from}
			}
		}
		if rng.IntN(2) == 0 && visit >= 3 {
			for a, b := 0, len(route)-1; a < b; a, b = a+1, b-1 {
				route[a], route[b] = route[b], route[a]
			}
		}
		for k := range route {
			route[k].SpeedKmh = []float64{50, 70, 90}[rng.IntN(3)]
		}
		start := base.Add(time.Duration(rng.IntN(30*24*3600)) * time.Second)
		vin := fmt.Sprintf("QZFLEET%010d", rng.IntN(100))
		name := fmt.Sprintf("fleet trip %d", i+1)
		switch visit {
		case 0, 1:
			name += ": a visit"
		case 2:
			name += ": leaving a site"
		}
		sc := popBase(name, seed*1_000_003+uint64(i)+1, start, route, vin)
		p.Trips = append(p.Trips, sc)
		p.Chains = append(p.Chains, []int{i})
	}
	return p
}

// randomRoad is a road through a, about 2·half long, bending up to 20°
// every 2 km.
func randomRoad(rng *rand.Rand, a Waypoint, half float64) []Waypoint {
	h := rng.Float64() * 360
	walk := func(h float64) []Waypoint {
		var out []Waypoint
		lat, lon := a.Lat, a.Lon
		for d := 0.0; d < half; d += 2000 {
			h += (rng.Float64()*2 - 1) * 20
			r := h * math.Pi / 180
			lat, lon = Offset(lat, lon, 2000*math.Cos(r), 2000*math.Sin(r))
			out = append(out, Waypoint{Lat: lat, Lon: lon})
		}
		return out
	}
	back := walk(h + 180)
	fwd := walk(h)
	var road []Waypoint
	for i := len(back) - 1; i >= 0; i-- {
		road = append(road, back[i])
	}
	road = append(road, a)
	return append(road, fwd...)
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

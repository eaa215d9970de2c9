package scenario

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Random makes up a trip from seed: two to four zones (polygons
// and circles, with buffers) along a random route of 3 to 20 km at
// town to highway speeds, a GNSS receiver of random rate and noise, and
// up to three faults of random kinds at random moments. The same seed
// always gives the same trip.
func Random(seed uint64) Scenario {
	rng := rand.New(rand.NewPCG(seed, seed^0x5ca1ab1e))
	uni := func(lo, hi float64) float64 { return lo + rng.Float64()*(hi-lo) }
	sc := BuiltIn()
	sc.Name = fmt.Sprintf("random trip, seed %d", seed)
	sc.Seed = seed
	sc.Contacts = sc.Contacts[:rng.IntN(3)]

	// The route: a random walk, each leg 1-3 km, turning up to 60°.
	lat, lon := uni(40, 60), uni(-5, 25)
	heading := uni(0, 360)
	sc.Route = []Waypoint{{Lat: lat, Lon: lon}}
	legs := 3 + rng.IntN(4)
	for range legs {
		heading += uni(-60, 60)
		d := uni(1000, 3000)
		r := heading * math.Pi / 180
		lat, lon = Offset(lat, lon, d*math.Cos(r), d*math.Sin(r))
		sc.Route = append(sc.Route, Waypoint{Lat: lat, Lon: lon})
	}
	speeds := []float64{30, 50, 70, 100, 130}
	for i := range sc.Route {
		sc.Route[i].SpeedKmh = speeds[rng.IntN(len(speeds))]
	}
	total := RouteLength(sc.Route)

	// Zones beside or across the middle of the route, so that its ends
	// are far enough from them for telemetry to leave.
	var fc struct {
		Type     string    `json:"type"`
		Features []feature `json:"features"`
	}
	fc.Type = "FeatureCollection"
	nz := 2 + rng.IntN(3)
	for i := range nz {
		v := NewMotion(sc.Route)
		for at := uni(0.3, 0.7) * total; v.OdometerM < at && !v.Done; {
			v.Speed = 30
			v.Step(1)
		}
		side := uni(-700, 700)
		r := (v.Heading + 90) * math.Pi / 180
		cLat, cLon := Offset(v.Lat, v.Lon, side*math.Cos(r), side*math.Sin(r))
		props := map[string]any{
			"id":       fmt.Sprintf("rnd-%d-%d", seed, i),
			"name":     fmt.Sprintf("Random Site %c%d", 'A'+i, seed%1000),
			"buffer_m": math.Round(uni(100, 400)),
		}
		var geom map[string]any
		if rng.IntN(2) == 0 {
			props["radius_m"] = math.Round(uni(100, 600))
			geom = map[string]any{"type": "Point", "coordinates": []float64{cLon, cLat}}
		} else {
			var ring [][]float64
			n := 5 + rng.IntN(5)
			for k := range n {
				a := 2 * math.Pi * float64(k) / float64(n)
				rad := uni(150, 600)
				pLat, pLon := Offset(cLat, cLon, rad*math.Cos(a), rad*math.Sin(a))
				ring = append(ring, []float64{pLon, pLat})
			}
			// GeoJSON rings are counter-clockwise: the angles above go
			// clockwise on the map (north, then east), so reverse them.
			for l, r := 0, len(ring)-1; l < r; l, r = l+1, r-1 {
				ring[l], ring[r] = ring[r], ring[l]
			}
			ring = append(ring, ring[0])
			geom = map[string]any{"type": "Polygon", "coordinates": [][][]float64{ring}}
		}
		fc.Features = append(fc.Features, feature{Type: "Feature", Properties: props, Geometry: geom})
	}

	rates := []float64{1, 2, 5, 10}
	sc.GPSRateHz = rates[rng.IntN(len(rates))]
	sc.GNSSNoiseM = math.Round(uni(0.5, 8)*10) / 10
	sc.ParkedAfter = 10 * time.Second
	sc.IgnitionOff = rng.IntN(4) == 0

	dur := func(lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)))/time.Second*time.Second
	}
	for range rng.IntN(4) {
		f := Fault{Kind: firstKinds[rng.IntN(len(firstKinds))], AtKm: math.Round(uni(0, total/1000)*100) / 100}
		switch f.Kind {
		case GPSDropout:
			f.For = dur(5*time.Second, 60*time.Second)
		case GPSJump:
			// A single spoofed fix, or a spoof that goes on (to 2 min),
			// from wherever the vehicle is to a few km away.
			f.NorthM, f.EastM = math.Round(uni(-3000, 3000)), math.Round(uni(-3000, 3000))
			if rng.IntN(2) == 0 {
				f.For = dur(5*time.Second, 2*time.Minute)
			}
		case StaleFix:
			f.For, f.Age = dur(5*time.Second, 30*time.Second), dur(3*time.Second, 10*time.Second)
		case MalformedFrames, UnknownFrames:
			f.For = dur(5*time.Second, 30*time.Second)
		case BusOff:
			f.For = dur(2*time.Second, 20*time.Second)
		case BrokerOutage:
			f.For = dur(10*time.Second, 3*time.Minute)
		case GatewayRestart:
			f.For = dur(time.Second, 20*time.Second)
		case ClockStep:
			// Forward or back, by up to 2 min.
			f.By = dur(time.Second, 2*time.Minute)
			if rng.IntN(2) == 0 {
				f.By = -f.By
			}
		}
		sc.Faults = append(sc.Faults, f)
	}
	// A known limit of the gateway (gateway/trust.go): a fix after a
	// dropout is held only against the distance the wheels allow, so a
	// spoof that starts during a dropout within that distance is believed
	// (seed 123686 before this rule). A trip with a dropout spoofs single
	// fixes only. A spoof that goes on over a restart is held against the
	// anchor kept in the state file (seed 50050 before it was).
	if slices.ContainsFunc(sc.Faults, func(f Fault) bool { return f.Kind == GPSDropout }) {
		for i := range sc.Faults {
			if sc.Faults[i].Kind == GPSJump {
				sc.Faults[i].For = 0
			}
		}
	}
	// A trip in four wires only some of the cameras: the others are still
	// in the command message, and must be told deny (drawn after the rest,
	// so that every seed keeps its route and faults).
	if rng.IntN(4) == 0 {
		wired := 1 + rng.IntN(1<<len(sc.Cameras)-2) // a proper, non-empty subset
		sc.Cameras = slices.Clone(sc.Cameras)
		for i := len(sc.Cameras) - 1; i >= 0; i-- {
			if wired&(1<<i) == 0 {
				sc.Cameras = slices.Delete(sc.Cameras, i, i+1)
			}
		}
	}
	moreFaults(seed, &sc, total, fc.Features)

	zones, err := json.Marshal(fc)
	if err != nil {
		panic(err) // maps of numbers and strings: cannot fail
	}
	sc.ZonesName, sc.Zones = fmt.Sprintf("random-%d.geojson", seed), zones
	return sc
}

// feature is a GeoJSON feature as Random writes it.
type feature struct {
	Type       string         `json:"type"`
	Properties map[string]any `json:"properties"`
	Geometry   map[string]any `json:"geometry"`
}

// firstKinds are the faults Random draws from first, in the order
// they were drawn when seeds were first published: a seed keeps its trip.
var firstKinds = []FaultKind{GPSDropout, GPSJump, StaleFix, MalformedFrames, UnknownFrames, BusOff, BrokerOutage, GatewayRestart, ClockStep}

// moreFaults adds the faults of issue 12 to some trips, drawn from a
// stream of their own so that every seed keeps what it drew before:
// a spoof that creeps within the accuracy the receiver claims, long
// steps of the wall clock forward and back, and zones in force only for
// a window of time around the drive.
//
// A spoof that is in force when the gateway, or its dead reckoning, starts
// again (after a restart, or a bus off that silences the wheels and the
// yaw rate) is learned with it: gateway/trust.go and course.go say so. A
// trip with either spoofs no creep and no drag.
func moreFaults(seed uint64, sc *Scenario, total float64, zones []feature) {
	rng := rand.New(rand.NewPCG(seed, seed^0x12c10c4))
	uni := func(lo, hi float64) float64 { return lo + rng.Float64()*(hi-lo) }
	at := func() float64 { return math.Round(uni(0.1, 0.9)*total/10) / 100 }
	restarts := slices.ContainsFunc(sc.Faults, func(f Fault) bool { return f.Kind == GatewayRestart || f.Kind == BusOff })
	if rng.IntN(5) == 0 && !restarts {
		// σ from poor to the worst accepted (max_accuracy_m 50); each step
		// a little less than the two margins a check against the
		// previous fix alone would forgive (4σ), to 0.5-3 km away.
		sigma := []float64{10, 25, 49}[rng.IntN(3)]
		d, dir := uni(500, 3000), uni(0, 2*math.Pi)
		sc.Faults = append(sc.Faults, Fault{Kind: GPSCreep, AtKm: at(),
			For:    time.Duration(10+rng.IntN(80)) * time.Second,
			NorthM: math.Round(d * math.Cos(dir)), EastM: math.Round(d * math.Sin(dir)),
			StepM: math.Round(uni(0.5, 0.97) * 4 * sigma), SigmaM: sigma})
	}
	if rng.IntN(5) == 0 {
		// An hour back, or forward past a window's end and its skew.
		by := -time.Hour
		if rng.IntN(2) == 0 {
			by = time.Duration(15+rng.IntN(50)) * time.Minute
		}
		sc.Faults = append(sc.Faults, Fault{Kind: ClockStep, AtKm: at(), By: by})
	}
	if rng.IntN(4) == 0 {
		// A zone in force from some time before the start to some time
		// during or after the drive, or from some time during it.
		z := zones[rng.IntN(len(zones))]
		from := sc.Start.Add(time.Duration(uni(-30, 15)) * time.Minute)
		until := from.Add(time.Duration(uni(5, 40)) * time.Minute)
		z.Properties["valid_from"] = from.UTC().Format(time.RFC3339)
		z.Properties["valid_until"] = until.UTC().Format(time.RFC3339)
	}
	if rng.IntN(4) == 0 && !restarts {
		// A drag at wheel speed, no jump, from 30 s into the drive. With
		// the yaw rate: the track reversed or turned 90-270°, caught by
		// the course check. Without one (half the drags): reversed, no
		// longer than the exit margin covers, 50 m of it at the trip's
		// top speed (gateway/course.go).
		f := Fault{Kind: GPSDrag, At: 30 * time.Second, AtKm: at(), SpeedRatio: math.Round(uni(0.8, 1.05)*100) / 100}
		if rng.IntN(2) == 0 {
			f.TurnDeg = math.Round(uni(90, 270))
			if rng.IntN(2) == 0 {
				f.TurnDeg = -f.TurnDeg
			}
			f.For = time.Duration(10+rng.IntN(110)) * time.Second
		} else {
			top := 0.0
			for _, w := range sc.Route {
				top = max(top, w.SpeedKmh/3.6)
			}
			f.TurnDeg = 180
			f.For = time.Duration(50 / (2.05 * top) * float64(time.Second)).Truncate(100 * time.Millisecond)
			sc.DropRoles = []string{"vehicle.yaw_rate", "vehicle.steering_angle"}
			// Without a yaw rate a creep whose steps, with the vehicle's
			// own motion, stay within the wheel speed is such a drag too,
			// and as long as it likes (seed 3463): none is drawn.
			sc.Faults = slices.DeleteFunc(sc.Faults, func(f Fault) bool { return f.Kind == GPSCreep })
		}
		sc.Faults = append(sc.Faults, f)
	}
}

package uplink_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"quietzone/uplink"
)

var t0 = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)

// Classes, short.
const (
	veh = uplink.ClassVehicle
	loc = uplink.ClassLocation
	per = uplink.ClassPersonal
)

// everyRole is a snapshot's worth of samples, one per kind of role the
// gateway may offer, each with its class.
var everyRole = []uplink.Sample{
	{Role: "vehicle.speed", Value: 52.4, Class: veh},
	{Role: "vehicle.ignition", Value: 1, Class: veh},
	{Role: "vehicle.rpm", Value: 2100, Class: veh},
	{Role: "vehicle.odometer", Value: 123456.7, Class: loc},
	{Role: "position.heading", Value: 93, Class: loc},
	{Role: "position.speed", Value: 51, Class: loc},
	{Role: "position.fix", Value: 3, Class: loc},
	{Role: "position.accuracy", Value: 4, Class: loc},
	{Role: "position.latitude", Value: 52.1234567, Class: loc},
	{Role: "position.longitude", Value: 10.1234567, Class: loc},
	{Role: "privacy.switch", Value: 0, Class: per},
	{Role: "camera.front.trigger", Value: 1, Class: loc},
	{Role: "phone.contact.name", Value: 42, Class: per},
	{Role: "phone.call.number", Value: 4915112345678, Class: per},
	{Role: "phone.sms.count", Value: 3, Class: per},
}

// personalInEveryRole counts everyRole's personal samples.
const personalInEveryRole = 4

func TestRedactDefaultDeny(t *testing.T) {
	p := &uplink.Policy{
		TelemetryPeriod: time.Second,
		Signals:         map[string]uplink.Rule{"vehicle.speed": {}},
		Batch:           uplink.BatchRule{MaxRecords: 1, MaxAge: time.Second},
		NearZones:       uplink.NearZoneRule{TimeQuantum: time.Second},
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	r := uplink.NewRedactor(p)
	rec, out, ok := r.Redact(uplink.Snapshot{Time: t0, HavePosition: true, Lat: 52, Lon: 10, Samples: everyRole})
	if !ok {
		t.Fatal("Redact: ok = false, want the speed")
	}
	if want := map[string]float64{"vehicle.speed": 52.4}; !mapsEqual(rec.Signals, want) {
		t.Errorf("Signals = %v, want only %v", rec.Signals, want)
	}
	if rec.Pos != nil {
		t.Errorf("Pos = %v without a position rule", rec.Pos)
	}
	if want := (uplink.Outcome{SignalsDenied: len(everyRole) - 1, ForbiddenDenied: personalInEveryRole}); out != want {
		t.Errorf("Outcome = %+v, want %+v", out, want)
	}

	// Random role names and classes, allowed or not: only the allowed
	// vehicle ones ever appear.
	rng := rand.New(rand.NewPCG(1, 2))
	p.Signals = map[string]uplink.Rule{}
	var allowed []string
	for i := 0; i < 20; i++ {
		role := fmt.Sprintf("vehicle.allowed%d", i)
		p.Signals[role] = uplink.Rule{}
		allowed = append(allowed, role)
	}
	r = uplink.NewRedactor(p)
	for i := 0; i < 500; i++ {
		var samples []uplink.Sample
		wantDenied := 0
		for j := 0; j < 10; j++ {
			var role string
			class := uplink.Class(rng.IntN(5)) // unknown, the three, and one that is none of them
			if rng.IntN(3) == 0 {
				role = allowed[rng.IntN(len(allowed))]
				if class != veh {
					wantDenied++
				}
			} else {
				role = fmt.Sprintf("%s.sig%d", []string{"vehicle", "body", "phone", "position", "x"}[rng.IntN(5)], rng.IntN(1000))
				wantDenied++
			}
			samples = append(samples, uplink.Sample{Role: role, Value: rng.Float64(), Class: class})
		}
		rec, out, _ := r.Redact(uplink.Snapshot{Time: t0.Add(time.Duration(i) * time.Second), Samples: samples})
		for role := range rec.Signals {
			if _, ok := p.Signals[role]; !ok {
				t.Fatalf("snapshot %d: record has %q, which the policy does not list", i, role)
			}
		}
		if out.SignalsDenied != wantDenied {
			t.Fatalf("snapshot %d: SignalsDenied = %d, want %d", i, out.SignalsDenied, wantDenied)
		}
	}
}

// Phone data never leaves, even from a policy that lists it and was never
// validated (Validate would refuse it): its samples are personal.
func TestRedactForbiddenEvenIfListed(t *testing.T) {
	p := &uplink.Policy{
		TelemetryPeriod: time.Second,
		Signals: map[string]uplink.Rule{
			"phone.contact.name": {},
			"phone.call.number":  {},
			"phone.sms.count":    {Quantum: 1},
			"vehicle.speed":      {},
		},
		Batch: uplink.BatchRule{MaxRecords: 1, MaxAge: time.Second},
	}
	r := uplink.NewRedactor(p)
	for i, withhold := range []bool{false, true} {
		rec, out, ok := r.Redact(uplink.Snapshot{Time: t0.Add(time.Duration(i) * time.Second), Withhold: withhold, Samples: everyRole})
		if !ok {
			t.Fatalf("withhold=%v: ok = false, want the speed", withhold)
		}
		for role := range rec.Signals {
			if strings.HasPrefix(role, "phone.") {
				t.Errorf("withhold=%v: record has forbidden %q", withhold, role)
			}
		}
		if _, ok := rec.Signals["vehicle.speed"]; !ok {
			t.Errorf("withhold=%v: the speed is missing: %v", withhold, rec.Signals)
		}
		if out.ForbiddenDenied != personalInEveryRole {
			t.Errorf("withhold=%v: ForbiddenDenied = %d, want %d", withhold, out.ForbiddenDenied, personalInEveryRole)
		}
		line, _ := json.Marshal(rec)
		if strings.Contains(string(line), "phone") || strings.Contains(string(line), "4915112345678") {
			t.Errorf("withhold=%v: record on the wire mentions phone data: %s", withhold, line)
		}
	}

	// A policy of nothing but phone roles sends nothing at all.
	p.Signals = map[string]uplink.Rule{"phone.contact.name": {}, "phone.call.number": {}}
	_, out, ok := uplink.NewRedactor(p).Redact(uplink.Snapshot{Time: t0, Samples: everyRole})
	if ok {
		t.Error("phone-only policy: ok = true, want nothing to send")
	}
	if out.ForbiddenDenied != personalInEveryRole || out.SignalsDenied != len(everyRole) {
		t.Errorf("phone-only policy: Outcome = %+v, want %d forbidden of %d denied", out, personalInEveryRole, len(everyRole))
	}
}

func TestRedactQuantum(t *testing.T) {
	tests := []struct {
		quantum, in, want float64
	}{
		{0, 52.345, 52.345},
		{5, 52.4, 50},
		{5, 52.5, 55}, // halves round away from zero
		{5, 47.5, 50},
		{5, 0, 0},
		{5, 2.4, 0},
		{5, -2.4, 0},
		{5, -2.5, -5},
		{5, -7.6, -10},
		{5, 1e6 + 2.6, 1e6 + 5},
		{45, 22.4, 0},
		{45, 22.5, 45},
		{45, 93, 90},
		{45, 359, 360},
		{0.1, 0.123, 0.1},
		{0.1, 12.36, 12.4},
		{1, 0.5, 1},
		{1, 1, 1},
		{100, 123456.7, 123500},
		{1000, 499.99, 0},
	}
	for _, tt := range tests {
		p := &uplink.Policy{
			TelemetryPeriod: time.Second,
			Signals:         map[string]uplink.Rule{"vehicle.x": {Quantum: tt.quantum}},
			Batch:           uplink.BatchRule{MaxRecords: 1, MaxAge: time.Second},
		}
		rec, _, ok := uplink.NewRedactor(p).Redact(uplink.Snapshot{Time: t0, Samples: []uplink.Sample{{Role: "vehicle.x", Value: tt.in, Class: veh}}})
		if !ok {
			t.Fatalf("quantum %v, %v: nothing sent", tt.quantum, tt.in)
		}
		got := rec.Signals["vehicle.x"]
		if math.Abs(got-tt.want) > 1e-9*math.Max(1, math.Abs(tt.want)) {
			t.Errorf("quantum %v: %v → %v, want %v", tt.quantum, tt.in, got, tt.want)
		}
	}

	// Every quantised value is a multiple of the quantum.
	rng := rand.New(rand.NewPCG(3, 4))
	for _, q := range []float64{0.5, 5, 45, 0.01} {
		p := &uplink.Policy{TelemetryPeriod: time.Second, Signals: map[string]uplink.Rule{"vehicle.x": {Quantum: q}}}
		r := uplink.NewRedactor(p)
		for i := 0; i < 1000; i++ {
			in := (rng.Float64() - 0.5) * 1000
			rec, _, _ := r.Redact(uplink.Snapshot{Time: t0.Add(time.Duration(i) * time.Second), Samples: []uplink.Sample{{Role: "vehicle.x", Value: in, Class: veh}}})
			got := rec.Signals["vehicle.x"]
			if k := got / q; math.Abs(k-math.Round(k)) > 1e-6 || math.Abs(got-in) > q/2*(1+1e-9) {
				t.Fatalf("quantum %v: %v → %v, not the nearest multiple", q, in, got)
			}
		}
	}
}

func TestRedactDropsNonFinite(t *testing.T) {
	p := demoPolicy()
	r := uplink.NewRedactor(p)
	for i, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		rec, out, ok := r.Redact(uplink.Snapshot{
			Time: t0.Add(time.Duration(i) * time.Second),
			Samples: []uplink.Sample{
				{Role: "vehicle.speed", Value: v, Class: veh},
				{Role: "vehicle.ignition", Value: 1, Class: veh},
			},
		})
		if !ok {
			t.Fatalf("%v: ok = false, want the ignition", v)
		}
		if _, has := rec.Signals["vehicle.speed"]; has {
			t.Errorf("%v: record has vehicle.speed = %v", v, rec.Signals["vehicle.speed"])
		}
		if out.SignalsDenied != 1 || out.ForbiddenDenied != 0 {
			t.Errorf("%v: Outcome = %+v, want 1 denied", v, out)
		}
		if _, err := json.Marshal(rec); err != nil {
			t.Errorf("%v: record does not encode: %v", v, err)
		}
	}
	// A NaN speed does not use up the speed's rate budget.
	rec, _, _ := r.Redact(uplink.Snapshot{Time: t0.Add(3 * time.Second), Samples: []uplink.Sample{{Role: "vehicle.speed", Value: 30, Class: veh}}})
	if rec.Signals["vehicle.speed"] != 30 {
		t.Errorf("first finite speed after NaNs: record %v, want vehicle.speed 30", rec.Signals)
	}
}

// TestRedactRate runs a minute of snapshots every 100 ms through the demo
// policy: the speed goes once a second, the gear and position every 5 s,
// the ignition (no limit) every time, the heading never.
func TestRedactRate(t *testing.T) {
	r := uplink.NewRedactor(demoPolicy())
	sent := map[string][]int{}
	for i := 0; i < 600; i++ {
		rec, _, ok := r.Redact(uplink.Snapshot{
			Time:         t0.Add(time.Duration(i) * 100 * time.Millisecond),
			HavePosition: true, Lat: 52, Lon: 10 + float64(i)*1e-4,
			Samples: []uplink.Sample{
				{Role: "vehicle.speed", Value: 50, Class: veh},
				{Role: "vehicle.ignition", Value: 1, Class: veh},
				{Role: "vehicle.gear", Value: 4, Class: veh},
				{Role: "position.heading", Value: 90, Class: loc},
			},
		})
		if !ok {
			t.Fatalf("snapshot %d: nothing sent; the ignition has no limit", i)
		}
		for role := range rec.Signals {
			sent[role] = append(sent[role], i)
		}
		if rec.Pos != nil {
			sent["pos"] = append(sent["pos"], i)
		}
	}
	every := func(step int) []int {
		var out []int
		for i := 0; i < 600; i += step {
			out = append(out, i)
		}
		return out
	}
	for role, want := range map[string][]int{
		"vehicle.speed":    every(10),
		"vehicle.gear":     every(50),
		"pos":              every(50),
		"vehicle.ignition": every(1),
		"position.heading": nil,
	} {
		if !slices.Equal(sent[role], want) {
			t.Errorf("%s sent at snapshots %v,\nwant %v", role, sent[role], want)
		}
	}
}

// With snapshots at irregular times, a rate-limited role is sent exactly
// when at least 1/max_rate_hz has passed since it was last sent: never more
// often, and never held back longer.
func TestRedactRateIrregular(t *testing.T) {
	rates := map[string]float64{"a": 1, "b": 0.2, "c": 3, "d": 0.7, uplink.PositionKey: 0.5}
	p := &uplink.Policy{TelemetryPeriod: time.Second, Signals: map[string]uplink.Rule{}, Position: &uplink.PositionRule{MaxRateHz: rates[uplink.PositionKey], PrecisionM: 100}}
	var samples []uplink.Sample
	for role, hz := range rates {
		if role != uplink.PositionKey {
			p.Signals[role] = uplink.Rule{MaxRateHz: hz}
			samples = append(samples, uplink.Sample{Role: role, Value: 1, Class: veh})
		}
	}
	r := uplink.NewRedactor(p)
	rng := rand.New(rand.NewPCG(5, 6))
	last := map[string]time.Time{}
	now := t0
	count := map[string]int{}
	for i := 0; i < 3000; i++ {
		now = now.Add(time.Duration(rng.IntN(700)) * time.Millisecond)
		rec, _, _ := r.Redact(uplink.Snapshot{Time: now, HavePosition: true, Lat: 48, Lon: 11, Samples: samples})
		for role, hz := range rates {
			var got bool
			if role == uplink.PositionKey {
				got = rec.Pos != nil
			} else {
				_, got = rec.Signals[role]
			}
			l, ever := last[role]
			want := !ever || now.Sub(l) >= time.Duration(float64(time.Second)/hz)
			if got != want {
				t.Fatalf("snapshot %d at +%v: %s sent = %v, want %v (last sent +%v, %v Hz)", i, now.Sub(t0), role, got, want, l.Sub(t0), hz)
			}
			if got {
				last[role] = now
				count[role]++
			}
		}
	}
	// Over the whole run, no role beat its rate.
	span := now.Sub(t0).Seconds()
	for role, hz := range rates {
		if max := span*hz + 1; float64(count[role]) > max {
			t.Errorf("%s sent %d times in %.0f s, more than %v Hz allows", role, count[role], span, hz)
		}
	}
}

// Earth models for checking snapped positions.
const (
	meanRadiusM = 6371008.8   // IUGG mean radius, for the haversine distance
	wgs84A      = 6378137.0   // WGS84 semi-major axis
	wgs84E2     = 6.694380e-3 // WGS84 first eccentricity squared
)

func haversineM(lat1, lon1, lat2, lon2 float64) float64 {
	rad := math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	a := math.Pow(math.Sin(dLat/2), 2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Pow(math.Sin(dLon/2), 2)
	return 2 * meanRadiusM * math.Asin(math.Min(1, math.Sqrt(a)))
}

// wgs84LocalM is the distance between two close points on the WGS84
// ellipsoid, from the radii of curvature at their mean latitude: the shape
// the GNSS fixes are given on.
func wgs84LocalM(lat1, lon1, lat2, lon2 float64) float64 {
	rad := math.Pi / 180
	phi := (lat1 + lat2) / 2 * rad
	w := 1 - wgs84E2*math.Pow(math.Sin(phi), 2)
	meridional := wgs84A * (1 - wgs84E2) / math.Pow(w, 1.5)
	primeVertical := wgs84A / math.Sqrt(w)
	dLon := math.Remainder(lon2-lon1, 360) // across the antimeridian too
	dy := (lat2 - lat1) * rad * meridional
	dx := dLon * rad * primeVertical * math.Cos(phi)
	return math.Hypot(dx, dy)
}

// TestRedactPositionSnapped checks, for many random points at several
// latitudes (near ±80° and across the antimeridian too) and grid sizes,
// that the snapped position is within PositionMarginM of the true one, on
// a sphere and on the WGS84 ellipsoid.
func TestRedactPositionSnapped(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	type region struct {
		name                           string
		latMin, latMax, lonMin, lonMax float64
	}
	regions := []region{
		{"anywhere to ±80°", -80, 80, -180, 180},
		{"equator", -0.5, 0.5, -180, 180},
		{"demo area", 51.9, 52.1, 9.9, 10.2},
		{"near +80°", 79, 80, -180, 180},
		{"near -80°", -80, -79, -180, 180},
		{"west of the antimeridian", -80, 80, 179.9, 180},
		{"east of the antimeridian", -80, 80, -180, -179.9},
		{"antimeridian at +80°", 79.5, 80, 179.95, 180},
		{"antimeridian at -80°", -80, -79.5, -180, -179.95},
		{"prime meridian", -60, 60, -0.01, 0.01},
	}
	for _, precision := range []float64{1, 10, 200, 1000, 5000} {
		p := demoPolicy()
		p.Position = &uplink.PositionRule{PrecisionM: precision} // no rate limit
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		margin := p.PositionMarginM()
		r := uplink.NewRedactor(p)
		for _, reg := range regions {
			var worst float64
			for i := 0; i < 3000; i++ {
				lat := reg.latMin + rng.Float64()*(reg.latMax-reg.latMin)
				lon := reg.lonMin + rng.Float64()*(reg.lonMax-reg.lonMin)
				if lon >= 180 {
					lon = math.Nextafter(180, 0)
				}
				rec, out, ok := r.Redact(uplink.Snapshot{Time: t0.Add(time.Duration(i) * time.Second), HavePosition: true, Lat: lat, Lon: lon})
				if !ok || len(rec.Pos) != 2 || out.PositionWithheld {
					t.Fatalf("%v m, %s: (%v, %v): no position sent (ok %v, pos %v, %+v)", precision, reg.name, lat, lon, ok, rec.Pos, out)
				}
				sLat, sLon := rec.Pos[0], rec.Pos[1]
				if !(sLat >= -90 && sLat <= 90 && sLon >= -180 && sLon < 180) {
					t.Fatalf("%v m, %s: (%v, %v) snapped to (%v, %v), out of range", precision, reg.name, lat, lon, sLat, sLon)
				}
				for _, d := range []struct {
					model string
					m     float64
				}{
					{"sphere", haversineM(lat, lon, sLat, sLon)},
					{"WGS84", wgs84LocalM(lat, lon, sLat, sLon)},
				} {
					if d.m > margin {
						t.Fatalf("%v m, %s: (%v, %v) snapped to (%v, %v), %.3f m away on the %s, more than PositionMarginM %.3f m",
							precision, reg.name, lat, lon, sLat, sLon, d.m, d.model, margin)
					}
					worst = math.Max(worst, d.m)
				}
			}
			t.Logf("%5v m grid, %-26s worst %.1f%% of the margin", precision, reg.name+":", 100*worst/margin)
		}
	}
}

// Snapping is to a grid: the same point always gives the same result, and
// the points of an area give only as many positions as the grid has cells
// there, whatever their number.
func TestRedactPositionIsAGrid(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, c := range []struct{ lat, lon float64 }{{52, 10}, {-33.9, 151.2}, {79.9, 179.99}, {0, 0}} {
		p := demoPolicy()
		p.Position = &uplink.PositionRule{PrecisionM: 200}
		r := uplink.NewRedactor(p)
		seen := map[[2]float64]bool{}
		const sideM, points = 1000.0, 3000
		dLat := sideM / 111320
		dLon := dLat / math.Cos(c.lat*math.Pi/180)
		for i := 0; i < points; i++ {
			lat := c.lat + (rng.Float64()-0.5)*dLat
			lon := c.lon + (rng.Float64()-0.5)*dLon
			lon = math.Remainder(lon, 360)
			if lon == 180 {
				lon = -180
			}
			s := uplink.Snapshot{Time: t0.Add(time.Duration(i) * time.Second), HavePosition: true, Lat: lat, Lon: lon}
			a, _, _ := r.Redact(s)
			s.Time = s.Time.Add(time.Millisecond)
			b, _, _ := r.Redact(s)
			if !slices.Equal(a.Pos, b.Pos) {
				t.Fatalf("near (%v, %v): (%v, %v) snapped to %v, then to %v", c.lat, c.lon, lat, lon, a.Pos, b.Pos)
			}
			seen[[2]float64{a.Pos[0], a.Pos[1]}] = true
		}
		// A 1 km square covers at most 7 × 7 cells of 200 m (two partial
		// ones per row and column).
		if cells := (sideM/200 + 2) * (sideM/200 + 2); float64(len(seen)) > cells {
			t.Errorf("near (%v, %v): %d points gave %d positions, more than the %v cells of the area", c.lat, c.lon, points, len(seen), cells)
		}
	}
}

// TestRedactWithhold: near a zone the position is withheld and vehicle
// data goes on; location data never leaves, near a zone or not, even from
// a policy that lists it (and was never validated).
func TestRedactWithhold(t *testing.T) {
	p := demoPolicy()
	p.Signals["vehicle.odometer"] = uplink.Rule{Quantum: 1}
	p.Signals["position.heading"] = uplink.Rule{}
	r := uplink.NewRedactor(p)
	s := uplink.Snapshot{
		Time: t0, Withhold: true, HavePosition: true, Lat: 52.01, Lon: 10.05,
		Samples: []uplink.Sample{
			{Role: "vehicle.speed", Value: 61, Class: veh},
			{Role: "vehicle.ignition", Value: 1, Class: veh},
			{Role: "vehicle.odometer", Value: 12345.6, Class: loc},
			{Role: "position.heading", Value: 93, Class: loc},
			{Role: "position.speed", Value: 60, Class: loc},
			{Role: "phone.contact.name", Value: 1, Class: per},
		},
	}
	rec, out, ok := r.Redact(s)
	if !ok {
		t.Fatal("ok = false, want speed and ignition")
	}
	if rec.Pos != nil {
		t.Errorf("Pos = %v while withheld", rec.Pos)
	}
	if want := map[string]float64{"vehicle.speed": 60, "vehicle.ignition": 1}; !mapsEqual(rec.Signals, want) {
		t.Errorf("Signals = %v, want %v", rec.Signals, want)
	}
	if want := (uplink.Outcome{PositionWithheld: true, SignalsDenied: 4, ForbiddenDenied: 1}); out != want {
		t.Errorf("Outcome = %+v, want %+v", out, want)
	}

	// Out of the zone one second later, the position goes at once:
	// withholding did not use up its rate budget. The odometer and the
	// heading do not.
	s.Time, s.Withhold = t0.Add(time.Second), false
	rec, out, _ = r.Redact(s)
	if want := map[string]float64{"vehicle.speed": 60, "vehicle.ignition": 1}; rec.Pos == nil || !mapsEqual(rec.Signals, want) {
		t.Errorf("after the zone: record %+v, want position, speed and ignition", rec)
	}
	if out.PositionWithheld || out.SignalsDenied != 4 {
		t.Errorf("after the zone: Outcome = %+v, want 4 denied", out)
	}

	// Withheld with only location data: nothing to send.
	s.Time, s.Withhold = t0.Add(10*time.Second), true
	s.Samples = []uplink.Sample{{Role: "position.heading", Value: 1, Class: loc}, {Role: "vehicle.odometer", Value: 1, Class: loc}}
	if rec, out, ok := r.Redact(s); ok {
		t.Errorf("withheld, location data only: ok = true, record %+v (%+v)", rec, out)
	}
}

// TestRedactByClass: a policy that lists a role lets its values out only
// when the gateway says they are vehicle data; the name decides nothing.
func TestRedactByClass(t *testing.T) {
	p := &uplink.Policy{TelemetryPeriod: time.Second, Signals: map[string]uplink.Rule{}}
	for _, role := range []string{"vehicle.speed", "gnss.lat", "hu.contact_chars", "Phone.contact.chars", "*", "Position.Latitude", "ph\u043ene.contact.chars"} {
		p.Signals[role] = uplink.Rule{} // never validated
	}
	r := uplink.NewRedactor(p)
	for i, class := range []uplink.Class{uplink.ClassUnknown, veh, loc, per, uplink.Class(200)} {
		for role := range p.Signals {
			for j, withhold := range []bool{false, true} {
				s := uplink.Snapshot{Time: t0.Add(time.Duration(i)*time.Hour + time.Duration(j)*time.Minute), Withhold: withhold,
					Samples: []uplink.Sample{{Role: role, Value: 52.5, Class: class}}}
				rec, out, ok := r.Redact(s)
				if sent := ok && rec.Signals[role] == 52.5; sent != (class == veh) {
					t.Errorf("%s of class %v (withhold %v): sent %v, record %+v", role, class, withhold, sent, rec)
				}
				if class != veh && (out.SignalsDenied != 1 || (out.ForbiddenDenied == 1) != (class == per)) {
					t.Errorf("%s of class %v: Outcome %+v", role, class, out)
				}
			}
		}
	}
}

func TestRedactOutcome(t *testing.T) {
	tests := []struct {
		name   string
		s      uplink.Snapshot
		wantOK bool
		want   uplink.Outcome
	}{
		{name: "empty snapshot", s: uplink.Snapshot{}},
		{name: "position only", s: uplink.Snapshot{HavePosition: true, Lat: 1, Lon: 2}, wantOK: true},
		{name: "position withheld", s: uplink.Snapshot{Withhold: true, HavePosition: true, Lat: 1, Lon: 2},
			want: uplink.Outcome{PositionWithheld: true}},
		{name: "withhold without a fix", s: uplink.Snapshot{Withhold: true, Lat: 1, Lon: 2}},
		{name: "no fix, coordinates ignored", s: uplink.Snapshot{Lat: 1, Lon: 2}},
		{name: "every role", s: uplink.Snapshot{Samples: everyRole}, wantOK: true,
			want: uplink.Outcome{SignalsDenied: 13, ForbiddenDenied: personalInEveryRole}},
		{name: "every role, withheld", s: uplink.Snapshot{Withhold: true, HavePosition: true, Samples: everyRole}, wantOK: true,
			want: uplink.Outcome{PositionWithheld: true, SignalsDenied: 13, ForbiddenDenied: personalInEveryRole}},
		{name: "NaN position heading, withheld", s: uplink.Snapshot{Withhold: true, Samples: []uplink.Sample{{Role: "position.heading", Value: math.NaN(), Class: loc}}},
			want: uplink.Outcome{SignalsDenied: 1}},
		{name: "forbidden NaN", s: uplink.Snapshot{Samples: []uplink.Sample{{Role: "phone.x", Value: math.NaN(), Class: per}}},
			want: uplink.Outcome{SignalsDenied: 1, ForbiddenDenied: 1}},
		{name: "allowed NaN", s: uplink.Snapshot{Samples: []uplink.Sample{{Role: "vehicle.speed", Value: math.NaN(), Class: veh}}},
			want: uplink.Outcome{SignalsDenied: 1}},
		{name: "allowed, unclassified", s: uplink.Snapshot{Samples: []uplink.Sample{{Role: "vehicle.speed", Value: 50}}},
			want: uplink.Outcome{SignalsDenied: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.s.Time = t0
			rec, out, ok := uplink.NewRedactor(demoPolicy()).Redact(tt.s)
			if ok != tt.wantOK {
				t.Errorf("ok = %v, want %v (record %+v)", ok, tt.wantOK, rec)
			}
			if out != tt.want {
				t.Errorf("Outcome = %+v, want %+v", out, tt.want)
			}
			if rec.Time != t0.Unix() {
				t.Errorf("Time = %d, want %d", rec.Time, t0.Unix())
			}
			if ok != (rec.Pos != nil || len(rec.Signals) > 0) {
				t.Errorf("ok = %v for record %+v", ok, rec)
			}
		})
	}
}

// The Redactor keeps nothing that refers to the snapshot's samples: the
// gateway reuses the slice.
func TestRedactKeepsNoSamples(t *testing.T) {
	samples := []uplink.Sample{{Role: "vehicle.speed", Value: 50, Class: veh}, {Role: "vehicle.ignition", Value: 1, Class: veh}}
	rec, _, _ := uplink.NewRedactor(demoPolicy()).Redact(uplink.Snapshot{Time: t0, Samples: samples})
	samples[0] = uplink.Sample{Role: "phone.contact.name", Value: 7, Class: per}
	samples[1].Value = 0
	if want := map[string]float64{"vehicle.speed": 50, "vehicle.ignition": 1}; !mapsEqual(rec.Signals, want) {
		t.Errorf("record changed with the samples: %v, want %v", rec.Signals, want)
	}
}

func mapsEqual(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestRedactDropsANonPosition: a snapshot claiming a position that is not
// one (NaN, out of range) sends no position and still a record.
func TestRedactDropsANonPosition(t *testing.T) {
	p := &uplink.Policy{TelemetryPeriod: time.Second, Position: &uplink.PositionRule{PrecisionM: 100},
		Signals: map[string]uplink.Rule{"vehicle.speed": {}}, Batch: uplink.BatchRule{MaxRecords: 1, MaxAge: time.Second}}
	for _, ll := range [][2]float64{{math.NaN(), 10}, {52, math.NaN()}, {91, 10}, {52, -181}} {
		r := uplink.NewRedactor(p)
		rec, _, ok := r.Redact(uplink.Snapshot{Time: time.Unix(100, 0), HavePosition: true, Lat: ll[0], Lon: ll[1],
			Samples: []uplink.Sample{{Role: "vehicle.speed", Value: 50, Class: veh}}})
		if !ok || rec.Pos != nil {
			t.Errorf("position %v: record %+v ok %v, want speed only", ll, rec, ok)
		}
	}
}

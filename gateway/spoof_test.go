package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"quietzone/can"
	"quietzone/gateway"
	"quietzone/geofence"
)

// A circle of 500 m radius around (52.0, 10.0), no buffer.
const circleZone = `{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"id":"c","name":"Circle Site","radius_m":500,"buffer_m":0},
  "geometry":{"type":"Point","coordinates":[10.0,52.0]}}]}`

// TestSpoofWithinAccuracy: the vehicle really drives at 10 km/h, 70 m
// from the centre of a 500 m circle, its wheel speed true. From 10 s the
// receiver reports a poor accuracy and moves the fix north by a little
// less than the accuracies it reports would forgive between two fixes,
// every 100 ms. Before, the implied speed was judged against the previous
// fix alone, forgiving two accuracy margins on every step: every fix was
// accepted and the cameras released inside the zone within a second (σ
// 49 m and 190 m a fix is 6,800 km/h; σ 10 m and 39 m, 1,400 km/h;
// without an accuracy signal the gateway assumes 2·max_accuracy_m, and
// 200 m a fix passed). Now each fix is held against the trusted fixes of
// the last minutes and the wheels: suppressed throughout.
func TestSpoofWithinAccuracy(t *testing.T) {
	noAccuracy := func(maps []can.Mapping) {
		for i := range maps {
			if maps[i].Role == "position.accuracy" {
				maps[i].Role = "position.accuracy_unused"
			}
		}
	}
	for _, tc := range []struct {
		sigma, stepM float64
		edit         func([]can.Mapping)
	}{
		{49, 190, nil},
		{10, 39, nil},
		{0, 200, noAccuracy}, // no position.accuracy in the profile
	} {
		t.Run(fmt.Sprintf("sigma %v, %v m a fix", tc.sigma, tc.stepM), func(t *testing.T) {
			ix, err := geofence.Parse("circle.geojson", []byte(circleZone), geofence.Options{})
			if err != nil {
				t.Fatal(err)
			}
			r := newRigMaps(t, ix, func(d *gateway.Decision) { d.ClearFixes = 3 }, tc.edit)
			send := func(lat, lon, sigma float64) {
				r.clock.Advance(100 * time.Millisecond)
				vals := map[string]float64{"position.fix": 3, "position.heading": 90, "position.speed": 10}
				if tc.edit == nil {
					vals["position.accuracy"] = sigma
				}
				r.send(vals)
				r.send(map[string]float64{"position.latitude": lat, "position.longitude": lon})
				r.send(map[string]float64{"vehicle.speed": 10})
			}
			// Driving east at 10 km/h, 70 m north of the centre.
			east := -200.0
			truth := func() (float64, float64) { return 52.0 + 70/111195.0, 10.0 + east/(111195*0.6157) }
			for range 100 { // 10 s, honest, σ 2 m
				east += 10 / 3.6 * 0.1
				lat, lon := truth()
				send(lat, lon, 2)
			}
			if s := r.state(); s != gateway.Inside {
				t.Fatalf("state %v 70 m from the centre, want inside", s)
			}
			off := 0.0
			for i := range 200 {
				east += 10 / 3.6 * 0.1
				off += tc.stepM
				lat, lon := truth()
				send(lat+off/111195, lon, tc.sigma)
				if r.powered("front") {
					t.Fatalf("front powered %d fixes into the spoof, %.0f m north of the truth, inside the zone", i+1, off)
				}
			}
			if s := r.stats(); s.GNSSDistrusts == 0 {
				t.Errorf("%d distrusts: the spoof went unnoticed", s.GNSSDistrusts)
			}
		})
	}
}

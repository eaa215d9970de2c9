package gateway

import (
	"testing"
	"time"

	"quietzone/camera"
	"quietzone/can"
	"quietzone/uplink"
)

// BenchmarkPrivacySnapshot is the per-snapshot cost of the privacy
// decisions (covers lookup, the trail): a vehicle driving past the bench
// zones, a snapshot a second.
func BenchmarkPrivacySnapshot(b *testing.B) {
	prof, dec, zones, specs := BenchRig(b)
	clock := &testClock{t: time.Unix(1780000000, 0)}
	bus := can.NewBus(clock.Now)
	port := bus.Open()
	defer port.Close()
	cams, err := camera.NewController(specs, []camera.FrameWriter{port}, prof.CameraOptions(specs, camera.Options{}))
	if err != nil {
		b.Fatal(err)
	}
	g, err := New(Options{Decoder: dec, Zones: zones, Cameras: cams, Clock: clock,
		Privacy: Privacy{JitterM: 300, TripEndM: 1000}})
	if err != nil {
		b.Fatal(err)
	}
	lat0, lon0 := 52.0, 9.98
	s := uplink.Snapshot{HavePosition: true}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		clock.t = clock.t.Add(time.Second)
		x := float64(i % 4000) // 20 m a second along a 80 km line, then again
		s = uplink.Snapshot{Time: clock.t, HavePosition: true, Lat: lat0 + x*20/111195, Lon: lon0}
		g.applyPrivacy(clock.t, &s)
		i++
	}
}

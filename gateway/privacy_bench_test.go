package gateway

import (
	"testing"
	"time"

	"quietzone/camera"
	"quietzone/can"
	"quietzone/geofence"
	"quietzone/uplink"
)

// BenchmarkPrivacySnapshot is the per-snapshot cost of the privacy
// decisions (covers lookup, the trail): a vehicle driving past the bench
// zones, a snapshot a second.
func BenchmarkPrivacySnapshot(b *testing.B) {
	_, _, zones, _ := BenchRig(b)
	benchPrivacy(b, zones)
}

// BenchmarkPrivacySnapshotCovers is the same with 4 covers (one real, 3
// decoys) and 8 end covers deciding withholding.
func BenchmarkPrivacySnapshotCovers(b *testing.B) {
	_, _, zones, _ := BenchRig(b)
	var cs []geofence.Zone
	for i := range 4 {
		c, err := geofence.Circle(52.0+0.05*float64(i), 10.0, 3000)
		if err != nil {
			b.Fatal(err)
		}
		cs = append(cs, c)
	}
	benchPrivacy(b, zones.WithCovers(geofence.NewIndex(cs)), func(g *Gateway) {
		for i := range MaxEndCovers {
			g.priv.ends.Covers = append(g.priv.ends.Covers, EndCover{Lat: 51.0 + 0.01*float64(i), Lon: 9.0, RadiusM: 5000})
		}
	})
}

func benchPrivacy(b *testing.B, zones *geofence.Index, setup ...func(*Gateway)) {
	prof, dec, _, specs := BenchRig(b)
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
	for _, f := range setup {
		f(g)
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

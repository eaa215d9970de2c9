package gateway

import (
	"testing"
	"time"

	"quietzone/camera"
	"quietzone/can"
)

// nopCameras is a camera controller that does nothing.
type nopCameras struct{}

func (nopCameras) Lookup(string) (int, bool)                               { return 0, true }
func (nopCameras) Apply(time.Time, bool) error                             { return nil }
func (nopCameras) ObserveStatus(int, int64, time.Time)                     {}
func (nopCameras) ObserveTrigger(int, bool, time.Time)                     {}
func (nopCameras) Tick(time.Time) error                                    { return nil }
func (nopCameras) Escalations(dst []camera.Escalation) []camera.Escalation { return dst }
func (nopCameras) States() []camera.State                                  { return nil }
func (nopCameras) Stats() camera.Stats                                     { return camera.Stats{} }
func (nopCameras) AllowCabin(bool)                                         {}

// benchGateway is a gateway of the built-in profile, not running: the
// benchmarks call its frame handler directly, as the loop does.
func benchGateway(b *testing.B, edit func([]can.Mapping)) (*Gateway, *Profile) {
	b.Helper()
	prof := loadBuiltin(b)
	if edit != nil {
		edit(prof.Mappings)
	}
	dec, err := prof.NewDecoder()
	if err != nil {
		b.Fatal(err)
	}
	g, err := New(Options{Decoder: dec, Cameras: nopCameras{}, Clock: &testClock{t: time.Unix(1700000000, 0)}})
	if err != nil {
		b.Fatal(err)
	}
	return g, prof
}

func benchFrame(b *testing.B, g *Gateway, f can.Frame) {
	b.Helper()
	f.Time = time.Unix(1700000000, 0)
	b.ReportAllocs()
	for b.Loop() {
		g.onFrame(&f)
	}
}

// BenchmarkOnFrame is a frame through the gateway's frame path: decoded
// into the gateway's per-role values, camera observations and the fix
// check, as the decision loop handles it.
func BenchmarkOnFrame(b *testing.B) {
	// GNSS_Status: fix type, accuracy and speed (3 signals, and the
	// heading: 4 mapped), values into g.latest.
	b.Run("mapped_GNSS_Status", func(b *testing.B) {
		g, prof := benchGateway(b, nil)
		m := prof.DB.Message("GNSS_Status")
		f := m.NewFrame()
		for sig, v := range map[string]float64{"GNSS_FixType": 3, "GNSS_HAccuracy": 2.5, "GNSS_Speed": 88} {
			if err := m.Signal(sig).Encode(&f.Data, v); err != nil {
				b.Fatal(err)
			}
		}
		benchFrame(b, g, f)
	})
	// VCU_Speed with a unit conversion and max_age on every role: the
	// expiry walk and the conversion are on the path.
	b.Run("mapped_VCU_Speed_units_max_age", func(b *testing.B) {
		g, prof := benchGateway(b, func(maps []can.Mapping) {
			for i := range maps {
				maps[i].MaxAge = time.Second
				if maps[i].Role == RoleSpeed {
					maps[i].Unit = "m/s"
				}
			}
		})
		f := prof.DB.Message("VCU_Speed").NewFrame()
		benchFrame(b, g, f)
	})
	b.Run("unmapped", func(b *testing.B) {
		g, _ := benchGateway(b, nil)
		benchFrame(b, g, can.Frame{ID: 0x123, Len: 8})
	})
}

// BenchmarkCourse is the dead reckoning and the course check on the
// frame path (course.go): a vehicle driving north at 50 km/h, its frames
// 100 ms apart. dynamics is the wheel speed and the yaw rate (VCU_Speed,
// VCU_Dynamics) integrated into the dead reckoning; step is a whole step
// of the drive, those and a fix (GNSS_Status, GNSS_Position) whose
// course is held against the eight bases a long drive keeps;
// step_without_course the same without the yaw rate, for comparison.
func BenchmarkCourse(b *testing.B) {
	prof := loadBuiltin(b)
	enc := func(msg string, vals map[string]float64) can.Frame {
		m := prof.DB.Message(msg)
		f := m.NewFrame()
		for sig, v := range vals {
			if err := m.Signal(sig).Encode(&f.Data, v); err != nil {
				b.Fatal(err)
			}
		}
		return f
	}
	lat := prof.DB.Message("GNSS_Position").Signal("GNSS_Latitude")
	const lat0, latStep = 400_000_000, 125 // 40°, 1.39 m (50 km/h for 100 ms) in 1e-7°
	// drive is a gateway and its vehicle's frames; step drives a step,
	// handing the gateway the frames it names: 0 the wheel speed, 1 the
	// fix status, 2 the position, 3 the yaw rate.
	drive := func(b *testing.B) (*Gateway, func(which ...int)) {
		dec, err := prof.NewDecoder()
		if err != nil {
			b.Fatal(err)
		}
		clock := &testClock{t: time.Unix(1780000000, 0)}
		g, err := New(Options{Decoder: dec, Cameras: nopCameras{}, Clock: clock, Turning: prof.Turning})
		if err != nil {
			b.Fatal(err)
		}
		// The clocks' first readings, as Run takes them: the dead
		// reckoning runs on the steady axis they set up.
		g.watchClock(clock.Now())
		fs := [4]can.Frame{
			enc("VCU_Speed", map[string]float64{"VCU_VehicleSpeed": 50, "VCU_Ignition": 1}),
			enc("GNSS_Status", map[string]float64{"GNSS_FixType": 3, "GNSS_HAccuracy": 2}),
			enc("GNSS_Position", map[string]float64{"GNSS_Longitude": 10}),
			enc("VCU_Dynamics", map[string]float64{"VCU_YawRate": 0}), // straight north, as the fixes go
		}
		i := uint64(0)
		return g, func(which ...int) {
			clock.t = clock.t.Add(100 * time.Millisecond)
			lat.SetRaw(&fs[2].Data, lat0+i*latStep)
			i++
			for _, k := range which {
				fs[k].Time = clock.t
				g.onFrame(&fs[k])
			}
		}
	}
	dynamics, whole, noYaw := []int{0, 3}, []int{0, 1, 2, 3}, []int{0, 1, 2}
	b.Run("dynamics", func(b *testing.B) {
		g, step := drive(b)
		step(dynamics...)
		if !g.cr.running {
			b.Fatal("the dead reckoning does not run")
		}
		b.ReportAllocs()
		for b.Loop() {
			step(dynamics...)
		}
	})
	b.Run("step", func(b *testing.B) {
		g, step := drive(b)
		for range 6000 { // 8 km: every base level filled
			step(whole...)
		}
		held := g.cr.observed
		if g.cr.n != len(g.cr.bases) || held == 0 || g.tr.distrusted {
			b.Fatalf("after the warm-up: %d bases, %d fixes held, distrusted %v", g.cr.n, held, g.tr.distrusted)
		}
		n := 0
		b.ReportAllocs()
		for b.Loop() {
			step(whole...)
			n++
		}
		if g.tr.distrusted || g.cr.observed != held+uint64(n) {
			b.Fatalf("distrusted %v, held %d of %d fixes", g.tr.distrusted, g.cr.observed-held, n)
		}
	})
	b.Run("step_without_course", func(b *testing.B) {
		g, step := drive(b)
		for range 6000 {
			step(noYaw...)
		}
		b.ReportAllocs()
		for b.Loop() {
			step(noYaw...)
		}
		if g.tr.distrusted || g.cr.observed != 0 || g.stats.Fixes == 0 {
			b.Fatalf("distrusted %v, course held %d, fixes %d", g.tr.distrusted, g.cr.observed, g.stats.Fixes)
		}
	})
}

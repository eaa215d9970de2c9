package gateway

import (
	"slices"
	"testing"
	"time"

	"quietzone/camera"
	"quietzone/camera/cameratest"
	"quietzone/can"
	"quietzone/geofence"
)

// BenchLatencies keeps the last 65536 latencies of a benchmark, without
// allocating, and reports their median and 99th percentile. The external
// benchmarks (package gateway_test) use it too.
type BenchLatencies struct {
	buf [1 << 16]time.Duration
	n   int
}

// Add records one latency.
func (l *BenchLatencies) Add(d time.Duration) {
	l.buf[l.n%len(l.buf)] = d
	l.n++
}

// Report sorts the latencies and reports p50-ns and p99-ns.
func (l *BenchLatencies) Report(b *testing.B) { l.ReportAs(b, "") }

// ReportAs is Report with a prefix to the metrics' units.
func (l *BenchLatencies) ReportAs(b *testing.B, prefix string) {
	s := l.buf[:min(l.n, len(l.buf))]
	if len(s) == 0 {
		return
	}
	slices.Sort(s)
	b.ReportMetric(float64(s[len(s)/2]), prefix+"p50-ns")
	b.ReportMetric(float64(s[len(s)*99/100]), prefix+"p99-ns")
}

// BenchZones is the test square of about 1.1 km around (52.0, 10.0) with a
// 200 m buffer.
const BenchZones = `{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"id":"z1","name":"Test Base","buffer_m":200},
  "geometry":{"type":"Polygon","coordinates":[[[9.992,51.995],[10.008,51.995],[10.008,52.005],[9.992,52.005],[9.992,51.995]]]}}]}`

// BenchRig is what both fix-to-command benchmarks drive: the reference
// profile, its decoder, BenchZones, and the profile's three cameras on
// fake power pins, each with a command and a status.
func BenchRig(tb testing.TB) (*Profile, *can.Decoder, *geofence.Index, []camera.Spec) {
	tb.Helper()
	prof := loadBuiltin(tb)
	dec, err := prof.NewDecoder()
	if err != nil {
		tb.Fatal(err)
	}
	zones, err := geofence.Parse("bench.geojson", []byte(BenchZones), geofence.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	var specs []camera.Spec
	for _, name := range []string{"front", "rear", "cabin"} {
		class := camera.Exterior
		if name == "cabin" {
			class = camera.Cabin
		}
		specs = append(specs, camera.Spec{Name: name, Class: class, Power: cameratest.NewPin(name), Command: prof.Commands[name], HasStatus: true})
	}
	return prof, dec, zones, specs
}

// BenchFixes returns the frames of a vehicle that moves, every
// BenchFixStep, between a point 10 m outside the zone's buffer (within
// its look-ahead: suppressed) and one 60 m outside it (clear of the exit
// margin: released with ClearFixes 1), so that every fix changes the
// decision and sends a command, and no path between them crosses the
// buffer. Each fix is a GNSS_Status frame (3D fix, 2 m, standing, heading
// for the zone) and a GNSS_Position frame; the drive starts with a
// VCU_Speed frame (ignition on: not parked).
func BenchFixes(prof *Profile) (start, status, near, clear can.Frame, err error) {
	enc := func(msg string, vals map[string]float64) (can.Frame, error) {
		m := prof.DB.Message(msg)
		f := m.NewFrame()
		for sig, v := range vals {
			if err := m.Signal(sig).Encode(&f.Data, v); err != nil {
				return f, err
			}
		}
		return f, nil
	}
	if start, err = enc("VCU_Speed", map[string]float64{"VCU_Ignition": 1}); err != nil {
		return
	}
	if status, err = enc("GNSS_Status", map[string]float64{"GNSS_FixType": 3, "GNSS_HAccuracy": 2}); err != nil {
		return
	}
	south := func(m float64) map[string]float64 {
		return map[string]float64{"GNSS_Latitude": 51.995 - m/111195, "GNSS_Longitude": 10}
	}
	if near, err = enc("GNSS_Position", south(210)); err != nil {
		return
	}
	clear, err = enc("GNSS_Position", south(260))
	return
}

// BenchFixStep is the time between two fixes of BenchFixes.
const BenchFixStep = time.Second

// BenchmarkFixToCommand measures, in the decision loop's frame handler,
// the time from a fix's frame to its command frame being on the virtual
// bus and the power lines set: the decoder, the fix checks, the zone
// assessment, the decision and the camera controller (three cameras,
// one command message, cameratest lines). Every fix changes the
// decision (BenchFixes). p99-ns is the 99th percentile of single fixes;
// ns/op includes the GNSS_Status frame before each fix and draining the
// bus.
func BenchmarkFixToCommand(b *testing.B) {
	prof, dec, zones, specs := BenchRig(b)
	clock := &testClock{t: time.Unix(1780000000, 0)}
	bus := can.NewBus(clock.Now)
	gwPort, ecu := bus.Open(), bus.Open()
	defer gwPort.Close()
	defer ecu.Close()
	cams, err := camera.NewController(specs, []camera.FrameWriter{gwPort}, prof.CameraOptions(specs, camera.Options{}))
	if err != nil {
		b.Fatal(err)
	}
	d := DefaultDecision()
	d.ClearFixes = 1
	g, err := New(Options{Decoder: dec, Zones: zones, Cameras: cams, Clock: clock, Decision: d})
	if err != nil {
		b.Fatal(err)
	}
	g.restore(clock.t)
	g.applyCameras(clock.t, true)
	start, status, near, clear, err := BenchFixes(prof)
	if err != nil {
		b.Fatal(err)
	}
	start.Time = clock.t
	g.onFrame(&start)
	clock.t = clock.t.Add(BenchFixStep)
	status.Time, clear.Time = clock.t, clock.t
	g.onFrame(&status)
	g.onFrame(&clear) // unknown → clear: from here every fix changes the decision
	var lat BenchLatencies
	var f can.Frame
	before := cams.Stats().Commands
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		clock.t = clock.t.Add(BenchFixStep)
		status.Time = clock.t
		g.onFrame(&status)
		pos := &clear
		if n%2 == 0 {
			pos = &near
		}
		pos.Time = clock.t
		t0 := time.Now()
		g.onFrame(pos)
		lat.Add(time.Since(t0))
		for ecu.TryReadFrame(&f) {
		}
		n++
	}
	b.StopTimer()
	if sent := cams.Stats().Commands - before; sent < uint64(n) {
		b.Fatalf("%d commands for %d fixes: not every fix changed the decision", sent, n)
	}
	lat.Report(b)
}

package gateway_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"quietzone/camera"
	"quietzone/can"
	"quietzone/gateway"
	"quietzone/gateway/gatewaytest"
)

// stampWriter notes when the gateway writes a command frame.
type stampWriter struct {
	w    camera.FrameWriter
	base time.Time
	at   atomic.Int64 // since base
}

func (s *stampWriter) WriteFrame(f *can.Frame) error {
	s.at.Store(int64(time.Since(s.base)))
	return s.w.WriteFrame(f)
}

// BenchmarkFixToCommandLoop measures fix-to-command latency through the
// running decision loop on the virtual bus: from an ECU writing a fix's
// GNSS_Position frame to the gateway writing the command frame the fix
// caused onto the bus (p50-ns, p99-ns), and to that frame arriving back at
// the ECU (rt-p50-ns, rt-p99-ns). It adds to BenchmarkFixToCommand the
// bus, the source reader and the goroutine hand-offs. Every fix changes
// the decision (gateway.BenchFixes).
func BenchmarkFixToCommandLoop(b *testing.B) {
	prof, dec, zones, specs := gateway.BenchRig(b)
	clock := gatewaytest.NewClock(time.Unix(1780000000, 0))
	bus := can.NewBus(clock.Now)
	gwPort, ecu := bus.Open(), bus.Open()
	defer ecu.Close()
	base := time.Now()
	stamp := &stampWriter{w: gwPort, base: base}
	cams, err := camera.NewController(specs, []camera.FrameWriter{stamp}, prof.CameraOptions(specs, camera.Options{Resend: time.Hour}))
	if err != nil {
		b.Fatal(err)
	}
	d := gateway.DefaultDecision()
	d.ClearFixes = 1
	d.Tick = time.Hour // no ticks: every command on the bus is a fix's
	g, err := gateway.New(gateway.Options{Decoder: dec, Sources: []can.Source{gwPort}, Zones: zones, Cameras: cams, Clock: clock, Decision: d})
	if err != nil {
		b.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { stop(); <-done }()

	start, status, near, clear, err := gateway.BenchFixes(prof)
	if err != nil {
		b.Fatal(err)
	}
	cmdID := prof.Commands["front"].Message.ID
	var f can.Frame
	// await reads until a command frame comes; the ECU sees only those.
	await := func() {
		for {
			if err := ecu.ReadFrame(&f); err != nil {
				b.Fatal(err)
			}
			if f.ID == cmdID {
				return
			}
		}
	}
	await() // the start's suppression
	send := func(fr *can.Frame) {
		fr.Time = clock.Now()
		if err := ecu.WriteFrame(fr); err != nil {
			b.Fatal(err)
		}
	}
	send(&start)
	clock.Set(clock.Now().Add(gateway.BenchFixStep))
	send(&status)
	send(&clear)
	await() // unknown → clear
	var lat, rt gateway.BenchLatencies
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		clock.Set(clock.Now().Add(gateway.BenchFixStep))
		send(&status)
		pos := &clear
		if n%2 == 0 {
			pos = &near
		}
		t0 := time.Since(base)
		send(pos)
		await()
		rt.Add(time.Since(base) - t0)
		lat.Add(time.Duration(stamp.at.Load()) - t0)
		n++
	}
	b.StopTimer()
	lat.Report(b)
	rt.ReportAs(b, "rt-")
}

package testbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"periph.io/x/conn/v3/gpio"

	"quietzone/camera/cameratest"
	"quietzone/can"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
)

// busFramesPerSecond is about the most a CAN bus at 1 Mbit/s carries
// (short classic frames back to back); a head unit may watch six buses.
const busFramesPerSecond = 9000

// BenchResult is the throughput of the whole pipeline on one workload.
type BenchResult struct {
	Workload string
	Frames   uint64
	Wall     time.Duration
}

// PerSecond returns the frames handled per second of wall time.
func (r BenchResult) PerSecond() float64 { return float64(r.Frames) / r.Wall.Seconds() }

// Bench measures frames per second through the whole gateway pipeline
// (virtual bus, decoder, decision loop with fixes and zone queries,
// cameras, uplink policy; no broker) on the real clock, for workloads from
// all-position frames to a bus where few frames are mapped. frames is the
// number of frames per workload.
func Bench(ctx context.Context, frames int) ([]BenchResult, error) {
	setup, err := DefaultSetup()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	db := setup.Profile.DB
	// A plausible fix far from the demo's zones, and frames nobody maps.
	pos := db.Message("GNSS_Position").NewFrame()
	status := db.Message("GNSS_Status").NewFrame()
	for _, set := range []struct {
		f        *can.Frame
		msg, sig string
		v        float64
	}{
		{&pos, "GNSS_Position", "GNSS_Latitude", 51.9}, {&pos, "GNSS_Position", "GNSS_Longitude", 9.9},
		{&status, "GNSS_Status", "GNSS_FixType", 3}, {&status, "GNSS_Status", "GNSS_HAccuracy", 2},
		{&status, "GNSS_Status", "GNSS_Speed", 50},
	} {
		if err := db.Message(set.msg).Signal(set.sig).Encode(&set.f.Data, set.v); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	unmapped := can.Frame{ID: 0x7f0, Len: 8, Data: [64]byte{1, 2, 3, 4, 5, 6, 7, 8}}
	workloads := []struct {
		name string
		at   func(i int) *can.Frame
	}{
		{"every frame a position or GNSS status (fix, zone query)", func(i int) *can.Frame {
			if i%2 == 0 {
				return &status
			}
			return &pos
		}},
		{"1 in 10 frames mapped (a real bus)", func(i int) *can.Frame {
			switch i % 20 {
			case 0:
				return &status
			case 10:
				return &pos
			}
			return &unmapped
		}},
		{"no frame mapped", func(int) *can.Frame { return &unmapped }},
	}
	var out []BenchResult
	for _, w := range workloads {
		r, err := benchOne(ctx, setup, frames, w.at)
		if err != nil {
			return out, fmt.Errorf("bench %s: %w", w.name, err)
		}
		r.Workload = w.name
		out = append(out, r)
	}
	return out, nil
}

func benchOne(ctx context.Context, setup *config.Setup, frames int, at func(int) *can.Frame) (BenchResult, error) {
	bus := can.NewBus(nil)
	port := bus.Open()
	defer port.Close()
	hw := daemon.Hardware{
		OpenBus: func(string, []can.Filter) (daemon.Bus, error) { return bus.Open(), nil },
		OpenPin: func(name string) (gpio.PinOut, error) { return cameratest.NewPin(name), nil },
	}
	d, err := daemon.New(setup, hw, daemon.Options{})
	if err != nil {
		return BenchResult{}, err
	}
	gctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- d.Run(gctx) }()
	// The gateway's command frames come back to this port: read them so
	// that its queue never holds the gateway up.
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		var f can.Frame
		for port.ReadFrame(&f) == nil {
		}
	}()
	start := time.Now()
	t0 := start
	for i := 0; i < frames && ctx.Err() == nil; i++ {
		f := *at(i)
		f.Time = t0.Add(time.Duration(i) * 100 * time.Microsecond)
		if err := port.WriteFrame(&f); err != nil {
			return BenchResult{}, err
		}
	}
	if err := daemon.WaitFor(done, func() bool { return d.Gateway().Processed() >= uint64(frames) || ctx.Err() != nil }); err != nil {
		return BenchResult{}, err
	}
	wall := time.Since(start)
	stop()
	err = <-done
	port.Close()
	<-drained
	if err != nil && !errors.Is(err, context.Canceled) {
		return BenchResult{}, err
	}
	return BenchResult{Frames: d.Gateway().Processed(), Wall: wall}, ctx.Err()
}

// WriteBench prints bench results against what six saturated buses carry.
func WriteBench(w io.Writer, rs []BenchResult) {
	need := 6 * busFramesPerSecond
	fmt.Fprintf(w, "quietzone bench — frames through the whole pipeline on the virtual bus\n")
	fmt.Fprintf(w, "(a 1 Mbit/s CAN bus carries at most ~%d frames/s; six of them %d)\n\n", busFramesPerSecond, need)
	for _, r := range rs {
		fmt.Fprintf(w, "  %-58s %9.0f frames/s  (%d frames in %s; %.1fx six buses)\n",
			r.Workload, r.PerSecond(), r.Frames, r.Wall.Round(time.Millisecond), r.PerSecond()/float64(need))
	}
}

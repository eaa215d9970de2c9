package testbench

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"quietzone/can"
	"quietzone/gateway/config"
	"quietzone/gateway/daemon"
)

// jumpLog is a candump log of the reference vehicle standing still, with
// fixes, whose stamps jump: from start, +jumps[0], then +jumps[1], … each
// stretch n frames of 100 ms.
func jumpLog(t *testing.T, start time.Time, n int, jumps ...time.Duration) *bytes.Buffer {
	t.Helper()
	prof, err := config.LoadProfile("builtin:quietzone")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := can.NewLogWriter(&buf, "can0", false)
	enc := func(at time.Time, msg string, vals map[string]float64) {
		m := prof.DB.Message(msg)
		f := m.NewFrame()
		f.Time = at
		for sig, v := range vals {
			if err := m.Signal(sig).Encode(&f.Data, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteFrame(&f); err != nil {
			t.Fatal(err)
		}
	}
	at := start
	for s := 0; s <= len(jumps); s++ {
		if s > 0 {
			at = at.Add(jumps[s-1])
		}
		for range n {
			at = at.Add(100 * time.Millisecond)
			enc(at, "VCU_Speed", map[string]float64{"VCU_Ignition": 1})
			enc(at, "GNSS_Status", map[string]float64{"GNSS_FixType": 3, "GNSS_HAccuracy": 2})
			enc(at, "GNSS_Position", map[string]float64{"GNSS_Latitude": 51.9, "GNSS_Longitude": 10})
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

// TestReplayOfAJumpingLog: a log stamped years ahead (or back) of its
// first frames replays in a time bounded by its length: the clock steps
// over the jump instead of ticking through years at 10 Hz, and the report
// says where. It used to tick until the far stamp, never ending; a
// deadline stops it here, and a replay that ends for it fails.
func TestReplayOfAJumpingLog(t *testing.T) {
	year := 365 * 24 * time.Hour
	start := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	log := jumpLog(t, start, 20, 5*year, -10*year, 3*time.Minute)
	setup, err := DefaultSetup()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type result struct {
		rep *daemon.ReplayReport
		err error
	}
	done := make(chan result, 1)
	go func() {
		src := can.NewLogReader(log, "")
		defer src.Close()
		rep, err := daemon.Replay(ctx, src, setup, daemon.ReplayOptions{Name: "jump.log"})
		done <- result{rep, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(3 * time.Minute): // the deadline was ignored
		t.Fatal("replay of a log stamped years ahead did not end")
	}
	if res.err != nil || ctx.Err() != nil {
		t.Fatalf("replay: %v (context: %v)", res.err, ctx.Err())
	}
	rep := res.rep
	if rep.Frames != 4*20*3 {
		t.Errorf("%d frames replayed, want %d", rep.Frames, 4*20*3)
	}
	// The 3-minute gap is ticked through; the jumps of years are steps.
	// A step is from the last frame's time to the next one's: the jump
	// and the 100 ms between frames.
	if len(rep.Steps) != 2 || rep.Steps[0].By != 5*year+100*time.Millisecond || rep.Steps[1].By != -10*year+100*time.Millisecond {
		t.Fatalf("steps %+v, want +5y and -10y", rep.Steps)
	}
	if st := rep.Steps[0]; st.Frame != 60 || st.Line != 61 {
		t.Errorf("first step %+v: want it before frame 61, line 61", st)
	}
	if want := start.Add(-5*year + 80*100*time.Millisecond + 3*time.Minute); !rep.Last.Equal(want) {
		t.Errorf("last frame at %v, want %v", rep.Last, want)
	}
	var out bytes.Buffer
	rep.WriteText(&out)
	for _, want := range []string{"Clock steps  2 jumps", fmt.Sprintf("+%v before frame 61, line 61", rep.Steps[0].By), fmt.Sprintf(" %v before frame 121, line 121", rep.Steps[1].By)} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// A cancelled replay ends even in the middle of a long gap it ticks
// through (here a thousand hours: 36 million ticks).
func TestReplayCancelledInAGap(t *testing.T) {
	log := jumpLog(t, time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC), 5, 1000*time.Hour)
	setup, err := DefaultSetup()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan *daemon.ReplayReport, 1)
	go func() {
		src := can.NewLogReader(log, "")
		defer src.Close()
		rep, _ := daemon.Replay(ctx, src, setup, daemon.ReplayOptions{MaxGap: 2000 * time.Hour}) // stopped: an error or not
		done <- rep
	}()
	select {
	case rep := <-done:
		if rep != nil && rep.Frames >= 30 {
			t.Errorf("%d frames: the replay went through the gap of a thousand hours", rep.Frames)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("a cancelled replay went on ticking through the gap")
	}
}

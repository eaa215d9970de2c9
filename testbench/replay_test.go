package testbench

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"quietzone/can"
	"quietzone/gateway"
	"quietzone/gateway/daemon"
	"quietzone/testbench/scenario"
)

// stateLog records the states a gateway logs it changed to.
type stateLog struct {
	mu     sync.Mutex
	states []gateway.State
}

func (s *stateLog) Enabled(context.Context, slog.Level) bool { return true }
func (s *stateLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "state changed" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "to" {
				s.mu.Lock()
				s.states = append(s.states, a.Value.Any().(gateway.State))
				s.mu.Unlock()
			}
			return true
		})
	}
	return nil
}
func (s *stateLog) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *stateLog) WithGroup(string) slog.Handler      { return s }

// TestReplayOfTheDemoDrive records the demo drive as a candump log, replays
// it, and gets the decisions the live gateway made.
func TestReplayOfTheDemoDrive(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the demo twice")
	}
	var logBuf bytes.Buffer
	w := can.NewLogWriter(&logBuf, "vcan0", false)
	live := &stateLog{}
	rep, err := Run(context.Background(), scenario.BuiltIn(), Options{Record: w, Logger: slog.New(live)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	setup, err := DefaultSetup()
	if err != nil {
		t.Fatal(err)
	}
	replay := func() *daemon.ReplayReport {
		t.Helper()
		r, err := daemon.Replay(context.Background(), can.NewLogReader(bytes.NewReader(logBuf.Bytes()), ""), setup, daemon.ReplayOptions{Name: "demo.log"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := replay()
	if r.Frames != rep.FramesSent || r.Gateway.Decode.Decoded != rep.FramesSent || r.Log.Bad() != 0 {
		t.Errorf("replayed %d frames, decoded %d, %d bad lines; the drive sent %d", r.Frames, r.Gateway.Decode.Decoded, r.Log.Bad(), rep.FramesSent)
	}
	var replayed []gateway.State
	for _, tr := range r.Transitions {
		replayed = append(replayed, tr.To)
	}
	if !slices.Equal(replayed, live.states) {
		t.Errorf("replay decided %v, the live gateway %v", replayed, live.states)
	}
	if !slices.Contains(replayed, gateway.Inside) || !slices.Contains(replayed, gateway.Clear) {
		t.Errorf("replay never went clear and inside: %v", replayed)
	}
	for i := 1; i < len(r.Transitions); i++ {
		if r.Transitions[i].At < r.Transitions[i-1].At {
			t.Errorf("transitions out of order: %+v", r.Transitions)
		}
	}
	if r2 := replay(); !slices.Equal(r2.Transitions, r.Transitions) {
		t.Errorf("a second replay decided differently:\n%+v\n%+v", r2.Transitions, r.Transitions)
	}
	var out strings.Builder
	r.WriteText(&out)
	for _, want := range []string{"quietzone replay — demo.log", "consecutive clear fixes", "inside a zone", "Decoded      "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	// No coordinates, zone names or the VIN in the report.
	if m := regexp.MustCompile(`\b(52|10)\.\d{4}`).FindString(out.String()); m != "" {
		t.Errorf("report contains a coordinate %q:\n%s", m, out.String())
	}
	zones := setup.Zones
	secrets := []string{scenario.BuiltIn().VIN}
	for i := 0; i < zones.Len(); i++ {
		secrets = append(secrets, zones.Zone(i).ID, zones.Zone(i).Name)
	}
	for _, secret := range secrets {
		if strings.Contains(out.String(), secret) {
			t.Errorf("report contains %q:\n%s", secret, out.String())
		}
	}
}

func TestReplayOfBadInput(t *testing.T) {
	setup, err := DefaultSetup()
	if err != nil {
		t.Fatal(err)
	}
	in := "garbage\n(1.000000) vcan0 1A0#00\n(1.100000) vcan0 7FF#0011\n(1.200000) vcan0 1A0#R\n(0.500000) vcan0 1A1#0000000000000000\n(2.0) vcan0 12\n"
	r, err := daemon.Replay(context.Background(), can.NewLogReader(strings.NewReader(in), ""), setup, daemon.ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds := r.Gateway.Decode
	if r.Frames != 4 || ds.WrongLength != 1 || ds.Unmapped != 1 || ds.Remote != 1 || ds.Decoded != 1 || r.Log.Bad() != 2 {
		t.Errorf("frames %d, decode %+v, log %+v", r.Frames, ds, *r.Log)
	}
	if len(r.Transitions) != 0 || r.Gateway.State != gateway.Unknown {
		t.Errorf("garbage moved the gateway: %+v, state %v", r.Transitions, r.Gateway.State)
	}
	if _, err := daemon.Replay(context.Background(), can.NewLogReader(strings.NewReader("nothing\n"), ""), setup, daemon.ReplayOptions{}); err == nil {
		t.Error("a log without frames replayed")
	}
}

func TestBench(t *testing.T) {
	rs, err := Bench(context.Background(), 2000)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("results %+v", rs)
	}
	for _, r := range rs {
		if r.Frames != 2000 || r.Wall <= 0 {
			t.Errorf("%s: %d frames in %v", r.Workload, r.Frames, r.Wall)
		}
	}
	var out strings.Builder
	WriteBench(&out, rs)
	if !strings.Contains(out.String(), "frames/s") {
		t.Errorf("output %q", out.String())
	}
}

// A replay with the vehicle's configuration leaves its state directory
// alone: that is the live queue the daemon publishes from.
func TestReplayLeavesTheQueueAlone(t *testing.T) {
	setup, err := DefaultSetup()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := *setup.Config
	cfg.Uplink.StateDir = dir
	setup.Config = &cfg
	// A minute of frames: enough for the uplink to queue a batch.
	var in strings.Builder
	for i := range 600 {
		fmt.Fprintf(&in, "(%d.%06d) vcan0 7FF#00\n", 1000+i/10, (i%10)*100000)
	}
	if _, err := daemon.Replay(context.Background(), can.NewLogReader(strings.NewReader(in.String()), ""), setup, daemon.ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Errorf("the replay wrote into the state directory: %v, %v", ents, err)
	}
}

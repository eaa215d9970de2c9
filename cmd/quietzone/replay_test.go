package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"quietzone/can"
)

// TestReplayOfALogStampedYearsAhead: the replay steps over a jump of
// years in a log's stamps (a logger whose clock was set meanwhile) and
// says so; it used to tick through them at 10 Hz and never end.
func TestReplayOfALogStampedYearsAhead(t *testing.T) {
	var log strings.Builder
	for i, sec := range []int64{1780000000, 1780000000, 1780000001, 1938000000, 1938000000, 1938000001} {
		fmt.Fprintf(&log, "(%d.%06d) can0 0F0#0000080000000000\n", sec, 100000*i)
	}
	path := filepath.Join(t.TempDir(), "ahead.log")
	if err := os.WriteFile(path, []byte(log.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	good := filepath.Join(goodDir, "quietzone.yaml")
	if err := run(ctx, []string{"replay", path, "--config", good}, &out, &errOut); err != nil || ctx.Err() != nil {
		t.Fatalf("replay: %v (context %v)\n%s", err, ctx.Err(), errOut.String())
	}
	if !strings.Contains(out.String(), "Clock steps  1 jumps in the log's time") || !strings.Contains(out.String(), "before frame 4, line 4") {
		t.Errorf("output:\n%s", out.String())
	}
	if err := run(ctx, []string{"replay", path, "--config", good, "--max-gap", "0s"}, &out, &errOut); exitCode(err) != 2 {
		t.Errorf("--max-gap 0s: %v, want a usage error", err)
	}
}

func TestReplayUsage(t *testing.T) {
	// The vehicle replays with its own configuration: --config is required.
	for _, args := range [][]string{{"replay"}, {"replay", "a.log", "b.log"}, {"replay", "--frobnicate", "a.log"}, {"replay", "a.log"}, {"record"}, {"record", "--iface", "vcan0"}} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &out, &errOut)
		if code := exitCode(err); err == nil || code != 2 {
			t.Errorf("%q: err %v, exit code %d, want a usage error (2)", args, err, code)
		}
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"replay", filepath.Join(t.TempDir(), "missing.log"), "--config", filepath.Join(goodDir, "quietzone.yaml")}, &out, &errOut)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "missing.log") {
		t.Errorf("replay of a missing file: %v", err)
	}
}

func TestRecordNoInterface(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"record", "--iface", "qz-no-such0", "--out", filepath.Join(t.TempDir(), "x.log")}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "qz-no-such0") {
		t.Errorf("record of a missing interface: %v", err)
	}
}

// TestVCANRecordAndReplay: `quietzone record` writes what crosses vcan0
// into a log that `quietzone replay` reads.
func TestVCANRecordAndReplay(t *testing.T) {
	if _, err := net.InterfaceByName("vcan0"); err != nil {
		if os.Getenv("QUIETZONE_REQUIRE_VCAN") == "1" {
			t.Fatalf("vcan0 required (QUIETZONE_REQUIRE_VCAN=1) but not present: %v", err)
		}
		t.Skip("vcan0 not present: run `make test-vcan` to run SocketCAN tests in a VM with vcan")
	}
	path := filepath.Join(t.TempDir(), "vcan.log")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var out, errOut bytes.Buffer
	go func() { done <- run(ctx, []string{"record", "--iface", "vcan0", "--out", path}, &out, &errOut) }()
	tx, err := can.DialSocketCAN("vcan0", can.SocketCANOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	// Send until the recorder has demonstrably started (its file has a
	// line), then a known batch. The wait is a deadlock guard.
	probe := can.Frame{ID: 0x7aa}
	for deadline := time.Now().Add(time.Minute); ; {
		if err := tx.WriteFrame(&probe); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(path); err == nil && st.Size() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the recorder never wrote a frame")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 20 {
		f := can.Frame{ID: 0x1A0, Len: 3, Data: [64]byte{byte(i)}} // GNSS_Position, too short: counted
		if err := tx.WriteFrame(&f); err != nil {
			t.Fatal(err)
		}
	}
	fd := can.Frame{ID: 0x555, Flags: can.FD, Len: 12} // unmapped, FD
	if err := tx.WriteFrame(&fd); err != nil {
		t.Fatal(err)
	}
	end := can.Frame{ID: 0x7ab}
	for {
		if err := tx.WriteFrame(&end); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		if bytes.Contains(data, []byte(" 7AB#")) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("record: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "frames from vcan0") {
		t.Errorf("record printed %q", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"replay", path, "--config", filepath.Join(goodDir, "quietzone.yaml")}, &out, &errOut); err != nil {
		t.Fatalf("replay: %v", err)
	}
	if !strings.Contains(out.String(), "wrong length 20") || !strings.Contains(out.String(), "dropped: 0") {
		t.Errorf("replay of the recording:\n%s", out.String())
	}
}

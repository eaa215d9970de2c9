package can_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"quietzone/can"
)

var _ can.Source = (*can.SocketCAN)(nil)

const vcanName = "vcan0"

// needVCAN skips unless vcan0 exists; under `make test-vcan`
// (QUIETZONE_REQUIRE_VCAN=1) its absence is a failure.
func needVCAN(t *testing.T) {
	t.Helper()
	if _, err := net.InterfaceByName(vcanName); err != nil {
		if os.Getenv("QUIETZONE_REQUIRE_VCAN") == "1" {
			t.Fatalf("%s required (QUIETZONE_REQUIRE_VCAN=1) but not present: %v", vcanName, err)
		}
		t.Skip("vcan0 not present: run `make test-vcan` to run SocketCAN tests in a VM with vcan")
	}
}

func dialVCAN(t *testing.T) *can.SocketCAN {
	t.Helper()
	s, err := can.DialSocketCAN(vcanName)
	if err != nil {
		t.Fatalf("DialSocketCAN(%s): %v", vcanName, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// readWatched reads one frame whose identifier is in ids, skipping any
// other traffic on the interface. A frame on vcan arrives at once; if none
// comes within a minute the socket is closed so that the test fails
// instead of hanging (a deadlock guard, not a timing assertion).
func readWatched(t *testing.T, s *can.SocketCAN, ids map[uint32]bool) can.Frame {
	t.Helper()
	guard := time.AfterFunc(time.Minute, func() { s.Close() })
	defer guard.Stop()
	for {
		var f can.Frame
		if err := s.ReadFrame(&f); err != nil {
			t.Fatalf("ReadFrame: %v", err)
		}
		if ids[f.ID] {
			return f
		}
	}
}

func TestVCANRoundTrip(t *testing.T) {
	needVCAN(t)
	tx, rx := dialVCAN(t), dialVCAN(t)
	tests := []can.Frame{
		frame(0x123, 0, 0xde, 0xad, 0xbe, 0xef),
		frame(0x7ff, 0, seq(8)...),
		frame(0x124, 0),
		frame(0x1abcdef0, can.Extended, 0x01, 0x02, 0x03),
		frame(0x125, can.Remote),
		{ID: 0x126, Flags: can.Remote, Len: 4}, // a request for 4 bytes
	}
	ids := map[uint32]bool{}
	for _, f := range tests {
		ids[f.ID] = true
	}
	for _, want := range tests {
		before := time.Now()
		if err := tx.WriteFrame(&want); err != nil {
			t.Fatalf("WriteFrame(%v): %v", want, err)
		}
		got := readWatched(t, rx, ids)
		if got.ID != want.ID || got.Len != want.Len || got.Flags != want.Flags ||
			(!want.IsRemote() && string(got.Payload()) != string(want.Payload())) {
			t.Errorf("sent %v, received %v (flags %v, len %d)", want, got, got.Flags, got.Len)
		}
		if got.Time.Before(before) {
			t.Errorf("%v stamped %v, before it was sent (%v)", got, got.Time, before)
		}
	}
	if tx.ErrorFrames() != 0 || rx.ErrorFrames() != 0 {
		t.Errorf("error frames on vcan: %d, %d", tx.ErrorFrames(), rx.ErrorFrames())
	}
}

func TestVCANWriteErrors(t *testing.T) {
	needVCAN(t)
	s := dialVCAN(t)
	fd := frame(0x123, can.FD, seq(12)...)
	if err := s.WriteFrame(&fd); !errors.Is(err, can.ErrBadLength) {
		t.Errorf("FD frame on a classic socket: %v, want ErrBadLength", err)
	}
	bad := frame(0x800, 0)
	if err := s.WriteFrame(&bad); !errors.Is(err, can.ErrBadID) {
		t.Errorf("standard ID 0x800: %v, want ErrBadID", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ok := frame(0x123, 0, 1)
	if err := s.WriteFrame(&ok); !errors.Is(err, can.ErrClosed) {
		t.Errorf("WriteFrame after Close: %v, want ErrClosed", err)
	}
	var f can.Frame
	if err := s.ReadFrame(&f); !errors.Is(err, can.ErrClosed) {
		t.Errorf("ReadFrame after Close: %v, want ErrClosed", err)
	}
}

func TestVCANCloseUnblocksRead(t *testing.T) {
	needVCAN(t)
	s := dialVCAN(t)
	done := make(chan error)
	go func() {
		var f can.Frame
		for {
			// Other traffic on the interface is read and dropped.
			if err := s.ReadFrame(&f); err != nil {
				done <- err
				return
			}
		}
	}()
	waitBlocked(t, "quietzone/can.(*SocketCAN).ReadFrame")
	s.Close()
	if err := <-done; !errors.Is(err, can.ErrClosed) {
		t.Fatalf("blocked ReadFrame returned %v after Close, want ErrClosed", err)
	}
}

// TestVCANCanUtils checks Frame.String against can-utils itself: a frame
// sent with cansend arrives with the same text, and candump prints frames
// we send the way String does.
func TestVCANCanUtils(t *testing.T) {
	needVCAN(t)
	cansend, err1 := exec.LookPath("cansend")
	candump, err2 := exec.LookPath("candump")
	if err1 != nil || err2 != nil {
		t.Skip("can-utils (cansend, candump) not installed")
	}
	rx := dialVCAN(t)
	for _, text := range []string{"321#DEADBEEF", "1ABCDEF0#0011", "322#R", "323#"} {
		out, err := exec.Command(cansend, vcanName, text).CombinedOutput()
		if err != nil {
			t.Fatalf("cansend %s: %v: %s", text, err, out)
		}
		got := readWatched(t, rx, map[uint32]bool{0x321: true, 0x1abcdef0: true, 0x322: true, 0x323: true})
		if got.String() != text {
			t.Errorf("cansend %s arrived as %s", text, got)
		}
	}

	tx := dialVCAN(t)
	want := frame(0x324, 0, 0xca, 0xfe)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // deadlock guard
	defer cancel()
	// -L: log format "(time) vcan0 324#CAFE"; filter on our identifier.
	dump := exec.CommandContext(ctx, candump, "-n", "1", "-L", vcanName+",324:7FF")
	var out strings.Builder
	dump.Stdout = &out
	if err := dump.Start(); err != nil {
		t.Fatalf("candump: %v", err)
	}
	// candump binds asynchronously: keep sending until it has seen one.
	exited := make(chan error, 1)
	go func() { exited <- dump.Wait() }()
	var err error
	for waiting := true; waiting; {
		if err := tx.WriteFrame(&want); err != nil {
			t.Fatalf("WriteFrame: %v", err)
		}
		select {
		case err = <-exited:
			waiting = false
		case <-time.After(10 * time.Millisecond): // poll, not a deadline
		}
	}
	if err != nil {
		t.Fatalf("candump: %v (output %q)", err, out.String())
	}
	fields := strings.Fields(out.String())
	if len(fields) != 3 || fields[1] != vcanName || fields[2] != want.String() {
		t.Errorf("candump printed %q, want a line ending in %s %s", out.String(), vcanName, want)
	}
}

func TestDialSocketCANNoInterface(t *testing.T) {
	s, err := can.DialSocketCAN("qz-no-such0")
	if err == nil {
		s.Close()
		t.Fatal("DialSocketCAN of a missing interface succeeded")
	}
	if !strings.Contains(err.Error(), "qz-no-such0") {
		t.Errorf("error %q does not name the interface", err)
	}
}

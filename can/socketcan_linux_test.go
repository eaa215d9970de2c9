package can_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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
	return dialVCANWith(t, can.SocketCANOptions{})
}

func dialVCANWith(t *testing.T, o can.SocketCANOptions) *can.SocketCAN {
	t.Helper()
	s, err := can.DialSocketCAN(vcanName, o)
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
	fd := frame(0x123, can.FD, seq(13)...)
	if err := s.WriteFrame(&fd); !errors.Is(err, can.ErrBadLength) {
		t.Errorf("FD frame of 13 bytes: %v, want ErrBadLength", err)
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
	s, err := can.DialSocketCAN("qz-no-such0", can.SocketCANOptions{})
	if err == nil {
		s.Close()
		t.Fatal("DialSocketCAN of a missing interface succeeded")
	}
	if !strings.Contains(err.Error(), "qz-no-such0") {
		t.Errorf("error %q does not name the interface", err)
	}
}

// ipLink runs busybox's or iproute2's ip with the given arguments.
func ipLink(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"link"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip link %v: %v: %s", args, err, out)
	}
}

// TestVCANFD: CAN FD frames of every length travel through vcan.
func TestVCANFD(t *testing.T) {
	needVCAN(t)
	tx, rx := dialVCAN(t), dialVCAN(t)
	if !tx.FD() || !rx.FD() {
		t.Fatal("the vcan socket does not carry CAN FD frames")
	}
	ids := map[uint32]bool{0x130: true, 0x18fef130: true}
	for _, n := range []int{0, 8, 12, 64} {
		for _, want := range []can.Frame{
			frame(0x130, can.FD|can.BRS, seq(n)...),
			frame(0x18fef130, can.FD|can.Extended|can.ESI, seq(n)...),
		} {
			if err := tx.WriteFrame(&want); err != nil {
				t.Fatalf("WriteFrame(%v): %v", want, err)
			}
			got := readWatched(t, rx, ids)
			got.Time = time.Time{}
			if got != want {
				t.Errorf("sent %v (flags %v), received %v (flags %v)", want, want.Flags, got, got.Flags)
			}
		}
	}
}

// TestVCANKernelFilters: a socket dialled with the decoder's filters gets
// exactly those identifiers from the kernel; error frames still come.
func TestVCANKernelFilters(t *testing.T) {
	needVCAN(t)
	tx := dialVCAN(t)
	rx := dialVCANWith(t, can.SocketCANOptions{Filters: []can.Filter{{ID: 0x3d8}, {ID: 0x18fef100, Extended: true}}})
	send := func(f can.Frame) {
		t.Helper()
		if err := tx.WriteFrame(&f); err != nil {
			t.Fatalf("WriteFrame(%v): %v", f, err)
		}
	}
	// Frames the filter must stop, each before one it must pass: vcan keeps
	// order, so a leak would be read first.
	send(frame(0x3d9, 0, 1))
	send(frame(0x3d8, can.Extended, 2)) // same number, extended
	send(frame(0x3d8, can.Remote))      // a remote request for it
	send(frame(0x3d8, 0, 3))
	send(frame(0x18fef101, can.Extended, 4))
	send(frame(0x100, 0, 5))
	send(frame(0x18fef100, can.Extended, 6))
	send(frame(0x3d8, can.FD, seq(12)...))
	guard := time.AfterFunc(time.Minute, func() { rx.Close() })
	defer guard.Stop()
	for _, want := range []can.Frame{frame(0x3d8, 0, 3), frame(0x18fef100, can.Extended, 6), frame(0x3d8, can.FD, seq(12)...)} {
		var got can.Frame
		if err := rx.ReadFrame(&got); err != nil {
			t.Fatal(err)
		}
		got.Time = time.Time{}
		if got != want {
			t.Errorf("received %v (flags %v), want %v: the kernel filter let another frame through", got, got.Flags, want)
		}
	}
}

// TestVCANKernelTimestamps: frames carry the kernel's receive time, which
// lies between the send and the read.
func TestVCANKernelTimestamps(t *testing.T) {
	needVCAN(t)
	tx, rx := dialVCAN(t), dialVCAN(t)
	f := frame(0x140, 0, 1)
	before := time.Now()
	if err := tx.WriteFrame(&f); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the frame waits in the queue; its stamp must not move
	got := readWatched(t, rx, map[uint32]bool{0x140: true})
	read := time.Now()
	if got.Time.Before(before) || !got.Time.Before(read.Add(-10*time.Millisecond)) {
		t.Errorf("stamped %v: want the kernel's receive time, after %v and well before the read at %v", got.Time, before, read)
	}
}

// sendRaw writes bytes on a raw CAN socket of our own: error frames, which
// WriteFrame refuses, as a controller would report them.
func sendRaw(t *testing.T, b []byte) {
	t.Helper()
	ifi, err := net.InterfaceByName(vcanName)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_CAN, unix.SOCK_RAW, unix.CAN_RAW)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrCAN{Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(fd, b); err != nil {
		t.Fatalf("send raw: %v", err)
	}
}

// TestVCANErrorFrames: error frames are counted by class, not delivered; a
// bus-off makes the socket reconnect, and frames flow again.
func TestVCANErrorFrames(t *testing.T) {
	needVCAN(t)
	rx := dialVCANWith(t, can.SocketCANOptions{Filters: []can.Filter{{ID: 0x150}}, MinBackoff: time.Millisecond})
	tx := dialVCAN(t)
	errFrame := func(class uint32) []byte {
		b := make([]byte, 16)
		binary.NativeEndian.PutUint32(b, unix.CAN_ERR_FLAG|class)
		b[4] = 8
		return b
	}
	sendRaw(t, errFrame(0x04|0x20)) // controller problem, no ACK
	sendRaw(t, errFrame(0x40))      // bus-off
	f := frame(0x150, 0, 1)
	// The reader reopens its socket after the bus-off; a frame sent before
	// the new socket is bound is lost, as on a real bus: send until one
	// arrives.
	got := make(chan can.Frame, 1)
	go func() {
		var fr can.Frame
		if rx.ReadFrame(&fr) == nil {
			got <- fr
		}
		close(got)
	}()
	deadline := time.After(time.Minute) // deadlock guard
	for received := false; !received; {
		if err := tx.WriteFrame(&f); err != nil {
			t.Fatal(err)
		}
		select {
		case fr, ok := <-got:
			if !ok || fr.ID != 0x150 {
				t.Fatalf("read %v, %v", fr, ok)
			}
			received = true
		case <-time.After(5 * time.Millisecond):
		case <-deadline:
			t.Fatal("no frame after the bus-off")
		}
	}
	st := rx.Stats()
	if st.ErrorFrames != 2 || st.ErrorClasses[2] != 1 || st.ErrorClasses[5] != 1 || st.ErrorClasses[6] != 1 || st.Reconnects != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestVCANInterfaceDownAndGone: the reader survives the interface going
// down and being deleted and recreated, and reads again afterwards.
func TestVCANInterfaceDownAndGone(t *testing.T) {
	needVCAN(t)
	rx := dialVCANWith(t, can.SocketCANOptions{MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	got := make(chan error, 1)
	var fr can.Frame
	go func() {
		for {
			if err := rx.ReadFrame(&fr); err != nil || fr.ID == 0x160 {
				got <- err
				return
			}
		}
	}()
	waitBlocked(t, "quietzone/can.(*SocketCAN).ReadFrame")
	ipLink(t, "set", vcanName, "down")
	for !rx.Stats().Down {
		time.Sleep(time.Millisecond)
	}
	ipLink(t, "del", vcanName)
	time.Sleep(50 * time.Millisecond) // a few failed attempts
	ipLink(t, "add", "dev", vcanName, "type", "vcan")
	ipLink(t, "set", vcanName, "mtu", "72")
	ipLink(t, "set", vcanName, "up")
	tx := dialVCAN(t)
	f := frame(0x160, 0, 9)
	deadline := time.After(time.Minute) // deadlock guard
	for done := false; !done; {
		if err := tx.WriteFrame(&f); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("ReadFrame: %v", err)
			}
			done = true
		case <-time.After(5 * time.Millisecond):
		case <-deadline:
			t.Fatal("no frame after the interface came back")
		}
	}
	if st := rx.Stats(); st.Reconnects < 1 || st.Down {
		t.Errorf("stats %+v", st)
	}
}

// startCandump runs `candump -L` (log format on stdout) and returns its
// lines once it demonstrably receives: it sends sync frames (7AA#) until
// one is printed. More sync lines may follow; readers skip them.
func startCandump(t *testing.T, tx *can.SocketCAN) (<-chan string, func()) {
	t.Helper()
	candump, err := exec.LookPath("candump")
	if err != nil {
		t.Skip("can-utils (candump) not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // deadlock guard
	cmd := exec.CommandContext(ctx, candump, "-L", vcanName)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	sync := frame(0x7aa, 0)
	for ready := false; !ready; {
		if err := tx.WriteFrame(&sync); err != nil {
			t.Fatal(err)
		}
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("candump ended")
			}
			ready = strings.HasSuffix(l, " 7AA#")
		case <-time.After(10 * time.Millisecond):
		}
	}
	return lines, func() { cancel(); cmd.Wait() }
}

// TestVCANCandumpInterop: frames sent with cansend and logged by candump -L
// read back through our LogReader, and a log written by our LogWriter
// plays onto the bus with canplayer.
func TestVCANCandumpInterop(t *testing.T) {
	needVCAN(t)
	cansend, err := exec.LookPath("cansend")
	if err != nil {
		t.Skip("can-utils (cansend) not installed")
	}
	tx := dialVCAN(t)
	lines, stop := startCandump(t, tx)
	// candump writes the FD flags nibble with CANFD_FDF (4) set: "##5" for
	// a frame sent as "##1"; we read both.
	texts := []string{"321#DEADBEEF", "1ABCDEF0#0011", "322#R", "322#R3", "323#", "324##1AABBCCDDEEFF001122334455", "18FEF100##3" + strings.Repeat("5A", 64), "325#0011223344556677"}
	for _, text := range texts {
		if out, err := exec.Command(cansend, vcanName, text).CombinedOutput(); err != nil {
			t.Fatalf("cansend %s: %v: %s", text, err, out)
		}
	}
	var log strings.Builder
	for n := 0; n < len(texts); {
		select {
		case l := <-lines:
			if strings.HasSuffix(l, " 7AA#") {
				continue // a sync frame candump printed late
			}
			log.WriteString(l + "\n")
			n++
		case <-time.After(time.Minute):
			t.Fatalf("candump printed only:\n%s", log.String())
		}
	}
	stop()
	r := can.NewLogReader(strings.NewReader(log.String()), vcanName)
	for i, text := range texts {
		var f can.Frame
		if err := r.ReadFrame(&f); err != nil {
			t.Fatalf("frame %d (%s) of the candump log:\n%s\n%v", i, text, log.String(), err)
		}
		if f.String() != text {
			t.Errorf("cansend %s: candump logged it, we read %s; the log:\n%s", text, f, log.String())
		}
		if f.Time.IsZero() {
			t.Errorf("%s: no time", text)
		}
	}
	if s := r.Stats(); s.Bad() != 0 {
		t.Errorf("log stats %+v:\n%s", s, log.String())
	}

	// The other way round: our log, played by canplayer, read by our socket.
	canplayer, err := exec.LookPath("canplayer")
	if err != nil {
		t.Skip("can-utils (canplayer) not installed")
	}
	path := filepath.Join(t.TempDir(), "ours.log")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := can.NewLogWriter(file, vcanName, false)
	want := []can.Frame{
		frame(0x331, 0, 0xca, 0xfe),
		frame(0x1abcdef1, can.Extended, seq(8)...),
		{ID: 0x332, Flags: can.Remote, Len: 2},
		frame(0x333, can.FD|can.BRS, seq(48)...),
	}
	base := time.Unix(1700000000, 0)
	for i := range want {
		want[i].Time = base.Add(time.Duration(i) * time.Millisecond)
		if err := w.WriteFrame(&want[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rx := dialVCANWith(t, can.SocketCANOptions{Filters: []can.Filter{{ID: 0x331}, {ID: 0x1abcdef1, Extended: true}, {ID: 0x333}}})
	// Remote frames do not pass our data-frame filters; a second socket
	// sees the request.
	rxAll := dialVCAN(t)
	if out, err := exec.Command(canplayer, "-I", path).CombinedOutput(); err != nil {
		t.Fatalf("canplayer: %v: %s", err, out)
	}
	for _, w := range []can.Frame{want[0], want[1], want[3]} {
		got := readWatched(t, rx, map[uint32]bool{0x331: true, 0x1abcdef1: true, 0x333: true})
		if got.String() != w.String() || got.Flags != w.Flags {
			t.Errorf("canplayer sent %v (flags %v), want %v (flags %v)", got, got.Flags, w, w.Flags)
		}
	}
	if got := readWatched(t, rxAll, map[uint32]bool{0x332: true}); got.String() != "332#R2" {
		t.Errorf("remote frame arrived as %s, want 332#R2", got)
	}
}

// TestVCANReceiveDoesNotAllocate: the receive path on a real CAN socket,
// kernel timestamps and filters included, does not allocate.
func TestVCANReceiveDoesNotAllocate(t *testing.T) {
	needVCAN(t)
	tx := dialVCAN(t)
	rx := dialVCANWith(t, can.SocketCANOptions{Filters: []can.Filter{{ID: 0x3d8}, {ID: 0x3d9}}})
	for _, f := range []can.Frame{frame(0x3d8, 0, seq(8)...), frame(0x3d9, can.FD|can.BRS, seq(64)...)} {
		var got can.Frame
		if allocs := testing.AllocsPerRun(500, func() {
			if err := tx.WriteFrame(&f); err != nil {
				t.Fatal(err)
			}
			if err := rx.ReadFrame(&got); err != nil {
				t.Fatal(err)
			}
		}); allocs != 0 {
			t.Errorf("%v: %v allocations per frame written and read", f, allocs)
		}
	}
}

// BenchmarkVCANReceive writes a frame to vcan and reads it back through a
// filtered socket: both syscalls, the kernel's work and our parse. Run it
// in the VM: go test -exec vcanvm -run '^$' -bench VCAN ./can
func BenchmarkVCANReceive(b *testing.B) {
	if _, err := net.InterfaceByName(vcanName); err != nil {
		b.Skip("vcan0 not present")
	}
	for _, tc := range []struct {
		name string
		f    can.Frame
	}{
		{"classic", frame(0x3d8, 0, seq(8)...)},
		{"fd64", frame(0x3d9, can.FD|can.BRS, seq(64)...)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			tx, err := can.DialSocketCAN(vcanName, can.SocketCANOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer tx.Close()
			rx, err := can.DialSocketCAN(vcanName, can.SocketCANOptions{Filters: []can.Filter{{ID: tc.f.ID}}})
			if err != nil {
				b.Fatal(err)
			}
			defer rx.Close()
			var got can.Frame
			b.ReportAllocs()
			for b.Loop() {
				if err := tx.WriteFrame(&tc.f); err != nil {
					b.Fatal(err)
				}
				if err := rx.ReadFrame(&got); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

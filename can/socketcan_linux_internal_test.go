//go:build linux

package can

import (
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The receive path is tested here on a Unix socketpair that carries the
// kernel's frame structures; the vcan tests (socketcan_linux_test.go) run
// the same code on a real CAN socket in a VM.

// pair is one socketpair: our end wrapped as a rawConn, the peer a raw fd.
type pair struct {
	conn *rawConn
	peer int
}

func newPair(tb testing.TB) pair {
	tb.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	if err := unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		if errors.Is(err, unix.ENOPROTOOPT) {
			// Linux has SO_TIMESTAMPNS on every socket; qemu-user (make
			// test-arm64) does not translate it. make test runs this natively.
			tb.Skipf("SO_TIMESTAMPNS: %v: an emulator that does not pass socket timestamps; run natively with make test", err)
		}
		tb.Fatal(err)
	}
	c, err := newRawConn(fds[0], true)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { unix.Close(fds[1]) })
	return pair{conn: c, peer: fds[1]}
}

// pairDialer hands out the given pairs' conns in order, failing `fails`
// times before each.
type pairDialer struct {
	mu    sync.Mutex
	pairs []pair
	fails int
	calls int
}

func (d *pairDialer) dial() (*rawConn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.fails > 0 {
		d.fails--
		return nil, errors.New("no such device")
	}
	if len(d.pairs) == 0 {
		return nil, errors.New("no more pairs")
	}
	c := d.pairs[0].conn
	d.pairs = d.pairs[1:]
	return c, nil
}

func testSocket(tb testing.TB, d *pairDialer) *SocketCAN {
	tb.Helper()
	s := newSocketCAN("test0", SocketCANOptions{MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}, d.dial)
	c, err := s.dial()
	if err != nil {
		tb.Fatal(err)
	}
	s.conn.Store(c)
	tb.Cleanup(func() { s.Close() })
	return s
}

func send(tb testing.TB, fd int, b []byte) {
	tb.Helper()
	if _, err := unix.Write(fd, b); err != nil {
		tb.Fatal(err)
	}
}

func rawFrame(f Frame) []byte {
	var b [canfdMTU]byte
	return append([]byte(nil), b[:marshalFrame(&b, &f)]...)
}

func errorFrame(class uint32) []byte {
	b := make([]byte, canMTU)
	binary.NativeEndian.PutUint32(b, unix.CAN_ERR_FLAG|class)
	b[4] = 8
	return b
}

func TestSocketReceive(t *testing.T) {
	p := newPair(t)
	s := testSocket(t, &pairDialer{pairs: []pair{p}})
	frames := []Frame{
		{ID: 0x123, Len: 4, Data: [64]byte{0xde, 0xad, 0xbe, 0xef}},
		{ID: 0x1abcdef0, Flags: Extended, Len: 8, Data: [64]byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{ID: 0x124, Flags: Remote, Len: 3},
		{ID: 0x125, Flags: FD | BRS, Len: 64, Data: [64]byte{63: 0x42}},
		{ID: 0x18fef100, Flags: FD | Extended | ESI, Len: 12, Data: [64]byte{11: 0x11}},
	}
	before := time.Now()
	send(t, p.peer, errorFrame(0x40|0x04)) // bus-off and controller: the socket is reopened
	send(t, p.peer, []byte{1, 2, 3})       // neither size: malformed
	p2 := newPair(t)
	s.dial = (&pairDialer{pairs: []pair{p2}}).dial
	for _, f := range frames {
		send(t, p2.peer, rawFrame(f))
	}
	send(t, p2.peer, errorFrame(0x01)) // TX timeout: counted and skipped
	send(t, p2.peer, rawFrame(frames[0]))
	for i, want := range append(frames, frames[0]) {
		var got Frame
		if err := s.ReadFrame(&got); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if got.Time.Before(before) || got.Time.After(time.Now()) {
			t.Errorf("frame %d stamped %v, not between %v and now", i, got.Time, before)
		}
		got.Time = time.Time{}
		if got != want {
			t.Errorf("frame %d = %v %+v, want %v", i, got, got, want)
		}
	}
	st := s.Stats()
	if st.Frames != 6 || st.ErrorFrames != 2 || st.Reconnects != 1 || st.Down {
		t.Errorf("stats %+v", st)
	}
	// The bus-off frame was counted before the socket was dropped (the
	// malformed datagram went with the old socket), then the TX timeout.
	if st.ErrorClasses != [numErrorClasses]uint64{0: 1, 2: 1, 6: 1} {
		t.Errorf("error classes %v", st.ErrorClasses)
	}
	if ErrorClassName(6) != "BusOff" || ErrorClassName(0) != "TxTimeout" || ErrorClassName(9) != "ErrorCounters" {
		t.Errorf("class names %q %q %q", ErrorClassName(6), ErrorClassName(0), ErrorClassName(9))
	}
}

func TestSocketCountsMalformedAndClasses(t *testing.T) {
	p := newPair(t)
	s := testSocket(t, &pairDialer{pairs: []pair{p}})
	send(t, p.peer, []byte{1, 2, 3})
	send(t, p.peer, make([]byte, 40))
	send(t, p.peer, errorFrame(0x01|0x08|0x100))
	send(t, p.peer, rawFrame(Frame{ID: 1}))
	var f Frame
	if err := s.ReadFrame(&f); err != nil || f.ID != 1 {
		t.Fatalf("ReadFrame = %v, %v", f, err)
	}
	st := s.Stats()
	if st.Malformed != 2 || st.ErrorFrames != 1 || st.ErrorClasses[0] != 1 || st.ErrorClasses[3] != 1 || st.ErrorClasses[8] != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestSocketReconnects: when the socket dies the reader reopens it with
// backoff, failing attempts included, and carries on.
func TestSocketReconnects(t *testing.T) {
	p1, p2 := newPair(t), newPair(t)
	d := &pairDialer{pairs: []pair{p1, p2}}
	s := testSocket(t, d)
	send(t, p1.peer, rawFrame(Frame{ID: 1}))
	var f Frame
	if err := s.ReadFrame(&f); err != nil || f.ID != 1 {
		t.Fatalf("ReadFrame = %v, %v", f, err)
	}
	d.mu.Lock()
	d.fails = 3
	d.mu.Unlock()
	unix.Close(p1.peer) // the interface goes away: the read sees the end
	send(t, p2.peer, rawFrame(Frame{ID: 2}))
	if err := s.ReadFrame(&f); err != nil || f.ID != 2 {
		t.Fatalf("ReadFrame after reconnecting = %v, %v", f, err)
	}
	if st := s.Stats(); st.Reconnects != 1 || st.Down {
		t.Errorf("stats %+v", st)
	}
	d.mu.Lock()
	calls := d.calls
	d.mu.Unlock()
	if calls != 5 { // the first dial, three failures, one success
		t.Errorf("dialled %d times, want 5", calls)
	}
	// Writes while down are refused with ErrBusDown, not blocked.
	s.lost(s.conn.Load(), errors.New("test"))
	if err := s.WriteFrame(&Frame{ID: 3}); !errors.Is(err, ErrBusDown) {
		t.Errorf("WriteFrame while down = %v, want ErrBusDown", err)
	}
}

// TestSocketCloseDuringBackoff: Close ends a reader that is waiting to
// reconnect to an interface that does not come back.
func TestSocketCloseDuringBackoff(t *testing.T) {
	p := newPair(t)
	d := &pairDialer{pairs: []pair{p}, fails: 0}
	s := testSocket(t, d)
	unix.Close(p.peer)
	done := make(chan error)
	go func() {
		var f Frame
		done <- s.ReadFrame(&f)
	}()
	for !s.Stats().Down { // wait until the reader saw the loss
		time.Sleep(time.Millisecond)
	}
	s.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("ReadFrame = %v, want ErrClosed", err)
	}
}

func TestSocketCloseUnblocksRead(t *testing.T) {
	p := newPair(t)
	s := testSocket(t, &pairDialer{pairs: []pair{p}})
	done := make(chan error)
	go func() {
		var f Frame
		done <- s.ReadFrame(&f)
	}()
	time.Sleep(10 * time.Millisecond) // let it block; the result is the same either way
	s.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("ReadFrame = %v, want ErrClosed", err)
	}
	if err := s.WriteFrame(&Frame{ID: 1}); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteFrame after Close = %v", err)
	}
}

func TestSocketWrite(t *testing.T) {
	p := newPair(t)
	s := testSocket(t, &pairDialer{pairs: []pair{p}})
	tests := []struct {
		f    Frame
		size int
		id   uint32
		len  byte
		fl   byte
	}{
		{Frame{ID: 0x123, Len: 2, Data: [64]byte{0xca, 0xfe}}, canMTU, 0x123, 2, 0},
		{Frame{ID: 0x1abcdef0, Flags: Extended | Remote, Len: 4}, canMTU, 0x1abcdef0 | unix.CAN_EFF_FLAG | unix.CAN_RTR_FLAG, 4, 0},
		{Frame{ID: 0x125, Flags: FD | BRS | ESI, Len: 12, Data: [64]byte{11: 7}}, canfdMTU, 0x125, 12, canfdFDF | canfdBRS | canfdESI},
	}
	for _, tt := range tests {
		if err := s.WriteFrame(&tt.f); err != nil {
			t.Fatalf("WriteFrame(%v): %v", tt.f, err)
		}
		b := make([]byte, 100)
		n, err := unix.Read(p.peer, b)
		if err != nil || n != tt.size {
			t.Fatalf("peer read %d, %v; want %d bytes", n, err, tt.size)
		}
		if id := binary.NativeEndian.Uint32(b); id != tt.id || b[4] != tt.len || b[5] != tt.fl {
			t.Errorf("%v: id %#x len %d flags %#x, want %#x %d %#x", tt.f, id, b[4], b[5], tt.id, tt.len, tt.fl)
		}
		if !tt.f.IsRemote() && string(b[8:8+tt.len]) != string(tt.f.Data[:tt.len]) {
			t.Errorf("%v: data % x", tt.f, b[8:8+tt.len])
		}
	}
	if err := s.WriteFrame(&Frame{ID: 0x800}); !errors.Is(err, ErrBadID) {
		t.Errorf("invalid frame: %v", err)
	}
	s.conn.Load().isFD = false
	if err := s.WriteFrame(&Frame{ID: 1, Flags: FD, Len: 12}); !errors.Is(err, ErrBadLength) {
		t.Errorf("FD frame on a classic socket: %v", err)
	}
}

func TestKernelFilters(t *testing.T) {
	got := kernelFilters([]Filter{{ID: 0x3d8}, {ID: 0x18fef100, Extended: true}})
	want := []unix.CanFilter{
		{Id: 0x3d8, Mask: 0x7ff | unix.CAN_EFF_FLAG | unix.CAN_RTR_FLAG},
		{Id: 0x18fef100 | unix.CAN_EFF_FLAG, Mask: 0x1fffffff | unix.CAN_EFF_FLAG | unix.CAN_RTR_FLAG},
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("kernelFilters = %+v, want %+v", got, want)
	}
}

// TestSocketReceiveDoesNotAllocate: the whole receive path (poller,
// recvmsg, timestamp, parse) is allocation-free.
func TestSocketReceiveDoesNotAllocate(t *testing.T) {
	p := newPair(t)
	s := testSocket(t, &pairDialer{pairs: []pair{p}})
	classic := rawFrame(Frame{ID: 0x3d8, Len: 8, Data: [64]byte{1, 2, 3, 4, 5, 6, 7, 8}})
	fd := rawFrame(Frame{ID: 0x3d9, Flags: FD | BRS, Len: 64})
	var f Frame
	for _, raw := range [][]byte{classic, fd} {
		if allocs := testing.AllocsPerRun(200, func() {
			send(t, p.peer, raw)
			if err := s.ReadFrame(&f); err != nil {
				t.Fatal(err)
			}
		}); allocs != 0 {
			t.Errorf("%d-byte frame: %v allocations per read", len(raw), allocs)
		}
	}
}

// BenchmarkSocketReceive measures a frame through the receive path: the
// peer's write, recvmsg with its timestamp, and the parse.
func BenchmarkSocketReceive(b *testing.B) {
	for _, tc := range []struct {
		name string
		f    Frame
	}{
		{"classic", Frame{ID: 0x3d8, Len: 8, Data: [64]byte{1, 2, 3, 4, 5, 6, 7, 8}}},
		{"fd64", Frame{ID: 0x3d9, Flags: FD | BRS, Len: 64}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := newPair(b)
			s := testSocket(b, &pairDialer{pairs: []pair{p}})
			raw := rawFrame(tc.f)
			var f Frame
			b.ReportAllocs()
			for b.Loop() {
				if _, err := unix.Write(p.peer, raw); err != nil {
					b.Fatal(err)
				}
				if err := s.ReadFrame(&f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

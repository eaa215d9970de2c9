//go:build linux

package can

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sizes of the kernel's struct can_frame and struct canfd_frame.
const (
	canMTU   = 16
	canfdMTU = 72
)

// canfd_frame.flags.
const (
	canfdBRS = 0x01
	canfdESI = 0x02
	canfdFDF = 0x04
)

// SocketCAN is a Source and frame writer on a Linux CAN interface such as
// can0 or vcan0. It owns its raw socket (golang.org/x/sys/unix) so that it
// can set what go.einride.tech/can's Dial does not expose: CAN FD frames
// (CAN_RAW_FD_FRAMES), kernel receive filters (CAN_RAW_FILTER), error
// frames (CAN_RAW_ERR_FILTER), kernel receive timestamps (SO_TIMESTAMPNS,
// read with recvmsg) and the kernel's drop counter (SO_RXQ_OVFL).
//
// When the interface goes down, ReadFrame waits for it on the same socket;
// when it disappears or reports bus-off, ReadFrame reopens the socket with
// jittered exponential backoff. Either way it blocks instead of failing,
// so the gateway sees no frames, its fix goes stale and it stays
// suppressed (fail closed) until the bus is back. Reopening the socket
// does not restart a bus-off controller: that is the kernel's job
// (ip link set can0 type can restart-ms 100).
//
// One goroutine may read while others write. The receive path does not
// allocate.
type SocketCAN struct {
	iface  string
	opts   SocketCANOptions
	dial   func() (*rawConn, error)
	conn   atomic.Pointer[rawConn]
	closed atomic.Bool
	done   chan struct{}
	log    *slog.Logger

	// Reader state: one goroutine.
	rbuf   [canfdMTU]byte
	oob    [128]byte
	iov    unix.Iovec
	msg    unix.Msghdr
	recvN  int
	recvEn syscall.Errno
	recvFn func(fd uintptr) bool
	rng    *rand.Rand
	// failures counts socket losses since the last frame delivered.
	failures int

	wmu  sync.Mutex
	wbuf [canfdMTU]byte

	frames, errorFrames, malformed, reconnects, dropped atomic.Uint64
	classes                                             [numErrorClasses]atomic.Uint64
	down                                                atomic.Bool
}

// rawConn is one open socket. The runtime poller waits on it, and closing
// the file wakes a blocked reader.
type rawConn struct {
	f    *os.File
	rc   syscall.RawConn
	isFD bool // the kernel accepted CAN_RAW_FD_FRAMES
}

var _ Source = (*SocketCAN)(nil)

// DialSocketCAN opens a raw CAN socket bound to iface. The interface must
// exist; later disappearances are survived (see SocketCAN).
func DialSocketCAN(iface string, o SocketCANOptions) (*SocketCAN, error) {
	o.defaults()
	s := newSocketCAN(iface, o, func() (*rawConn, error) { return openSocket(iface, o.Filters) })
	c, err := s.dial()
	if err != nil {
		return nil, fmt.Errorf("open socketcan %s: %w", iface, err)
	}
	s.conn.Store(c)
	return s, nil
}

func newSocketCAN(iface string, o SocketCANOptions, dial func() (*rawConn, error)) *SocketCAN {
	o.defaults()
	s := &SocketCAN{iface: iface, opts: o, dial: dial, done: make(chan struct{}), log: o.Logger,
		rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	s.iov.Base = &s.rbuf[0]
	s.iov.SetLen(len(s.rbuf))
	s.msg.Iov = &s.iov
	s.msg.Iovlen = 1
	s.msg.Control = &s.oob[0]
	s.recvFn = s.recv // bound once: a method value made per read would allocate
	return s
}

// openSocket opens and configures a raw CAN socket on iface.
func openSocket(iface string, filters []Filter) (_ *rawConn, err error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_CAN, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.CAN_RAW)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
		}
	}()
	// A kernel without CAN FD refuses the option; the socket then
	// carries classic frames only and FD writes are refused.
	isFD := unix.SetsockoptInt(fd, unix.SOL_CAN_RAW, unix.CAN_RAW_FD_FRAMES, 1) == nil
	if filters != nil {
		if err := unix.SetsockoptCanRawFilter(fd, unix.SOL_CAN_RAW, unix.CAN_RAW_FILTER, kernelFilters(filters)); err != nil {
			return nil, fmt.Errorf("set receive filter: %w", err)
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_CAN_RAW, unix.CAN_RAW_ERR_FILTER, unix.CAN_ERR_MASK); err != nil {
		return nil, fmt.Errorf("set error filter: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return nil, fmt.Errorf("enable timestamps: %w", err)
	}
	// The drop counter is a diagnostic; older kernels may lack it.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
	if err := unix.Bind(fd, &unix.SockaddrCAN{Ifindex: ifi.Index}); err != nil {
		return nil, fmt.Errorf("bind: %w", err)
	}
	return newRawConn(fd, isFD)
}

func newRawConn(fd int, isFD bool) (*rawConn, error) {
	f := os.NewFile(uintptr(fd), "socketcan")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &rawConn{f: f, rc: rc, isFD: isFD}, nil
}

// kernelFilters turns identifiers into exact-match kernel filters for data
// frames (remote requests carry nothing to decode).
func kernelFilters(fs []Filter) []unix.CanFilter {
	out := make([]unix.CanFilter, 0, len(fs))
	for _, f := range fs {
		if f.Extended {
			out = append(out, unix.CanFilter{Id: f.ID | unix.CAN_EFF_FLAG, Mask: unix.CAN_EFF_MASK | unix.CAN_EFF_FLAG | unix.CAN_RTR_FLAG})
		} else {
			out = append(out, unix.CanFilter{Id: f.ID, Mask: unix.CAN_SFF_MASK | unix.CAN_EFF_FLAG | unix.CAN_RTR_FLAG})
		}
	}
	return out
}

// recv is the RawConn read callback: one recvmsg into the reader's buffers.
// It reports false to wait for readiness when nothing is queued.
func (s *SocketCAN) recv(fd uintptr) bool {
	var n uintptr
	var en syscall.Errno
	for {
		s.msg.SetControllen(len(s.oob))
		s.msg.Flags = 0
		n, _, en = unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&s.msg)), 0)
		if en != unix.EINTR {
			break
		}
	}
	if en == unix.EAGAIN {
		return false // the poller waits for the next frame
	}
	s.recvN, s.recvEn = int(n), en
	return true
}

// errBusOff makes the reader reopen the socket after a bus-off.
var errBusOff = errors.New("bus-off")

// ReadFrame implements Source. Frames are stamped with the kernel's receive
// time. Error frames are counted by class and skipped. While the interface
// is down ReadFrame blocks, reconnecting; only Close ends it.
func (s *SocketCAN) ReadFrame(f *Frame) error {
	for {
		if s.closed.Load() {
			return fmt.Errorf("read %s: %w", s.iface, ErrClosed)
		}
		c := s.conn.Load()
		if c == nil {
			if err := s.reconnect(); err != nil {
				return err
			}
			continue
		}
		err := c.rc.Read(s.recvFn)
		if err == nil && s.recvEn != 0 {
			err = s.recvEn
		}
		if err == nil && s.recvN == 0 {
			err = errors.New("socket returned no data") // not a CAN socket any more
		}
		if err != nil {
			if s.closed.Load() || errors.Is(err, os.ErrClosed) {
				return fmt.Errorf("read %s: %w", s.iface, ErrClosed)
			}
			if errors.Is(err, unix.ENETDOWN) {
				// The socket stays bound: it delivers again once the
				// interface is up. Reopening it would only earn
				// another ENETDOWN from bind.
				if !s.down.Swap(true) {
					s.log.Warn("CAN interface down; waiting for it", "iface", s.iface)
				}
				continue
			}
			s.lost(c, err)
			continue
		}
		switch s.parse(f) {
		case parsedFrame:
			s.frames.Add(1)
			s.failures = 0
			if s.down.Load() {
				s.down.Store(false)
				s.log.Info("CAN interface up again", "iface", s.iface)
			}
			return nil
		case parsedBusOff:
			s.lost(c, errBusOff)
		}
	}
}

type parseResult uint8

const (
	parsedSkip parseResult = iota
	parsedFrame
	parsedBusOff
)

// parse turns the datagram in rbuf into f, counting what is not a frame.
func (s *SocketCAN) parse(f *Frame) parseResult {
	n := s.recvN
	if (n != canMTU && n != canfdMTU) || s.msg.Flags&unix.MSG_TRUNC != 0 {
		s.malformed.Add(1)
		return parsedSkip
	}
	id := binary.NativeEndian.Uint32(s.rbuf[0:4])
	if id&unix.CAN_ERR_FLAG != 0 {
		s.errorFrames.Add(1)
		class := id & unix.CAN_ERR_MASK
		for i := range s.classes {
			if class&(1<<i) != 0 {
				s.classes[i].Add(1)
			}
		}
		if class&errClassBusOff != 0 {
			return parsedBusOff
		}
		return parsedSkip
	}
	*f = Frame{Time: s.stamp()}
	if id&unix.CAN_EFF_FLAG != 0 {
		f.ID = id & unix.CAN_EFF_MASK
		f.Flags |= Extended
	} else {
		f.ID = id & unix.CAN_SFF_MASK
	}
	l := s.rbuf[4]
	if n == canfdMTU {
		f.Flags |= FD
		fl := s.rbuf[5]
		if fl&canfdBRS != 0 {
			f.Flags |= BRS
		}
		if fl&canfdESI != 0 {
			f.Flags |= ESI
		}
		f.Len = min(l, MaxDataLen)
	} else {
		f.Len = min(l, MaxClassicLen)
		if id&unix.CAN_RTR_FLAG != 0 {
			f.Flags |= Remote
			return parsedFrame
		}
	}
	copy(f.Data[:f.Len], s.rbuf[8:8+int(f.Len)])
	return parsedFrame
}

// stamp reads the kernel's receive time from the control messages, and
// the kernel's drop counter on the way; it falls back to the clock.
func (s *SocketCAN) stamp() time.Time {
	oob := s.oob[:min(int(s.msg.Controllen), len(s.oob))]
	var t time.Time
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if h.Len < unix.SizeofCmsghdr || int(h.Len) > len(oob) {
			break
		}
		data := oob[unix.CmsgLen(0):h.Len]
		switch {
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(unix.Timespec{})):
			// struct timespec, whose field size follows the platform.
			ts := (*unix.Timespec)(unsafe.Pointer(&data[0]))
			t = time.Unix(int64(ts.Sec), int64(ts.Nsec))
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && len(data) >= 4:
			s.dropped.Store(uint64(binary.NativeEndian.Uint32(data)))
		}
		next := unix.CmsgSpace(int(h.Len) - unix.CmsgLen(0))
		if next > len(oob) {
			break
		}
		oob = oob[next:]
	}
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// lost drops a socket that failed; the next read reconnects.
func (s *SocketCAN) lost(c *rawConn, cause error) {
	if s.conn.CompareAndSwap(c, nil) {
		c.f.Close()
		s.down.Store(true)
		s.log.Warn("CAN interface lost; reconnecting", "iface", s.iface, "cause", cause)
	}
}

// reconnect reopens the socket, waiting between attempts with exponential
// backoff and jitter, until it succeeds or Close is called. The backoff
// counts every loss since the last frame delivered, so that a socket that
// opens but fails at once (a bus-off storm) is not reopened in a busy loop.
func (s *SocketCAN) reconnect() error {
	for attempt := 1; ; attempt++ {
		if s.failures > 0 {
			delay := s.opts.MinBackoff << min(s.failures-1, 20)
			if delay <= 0 || delay > s.opts.MaxBackoff {
				delay = s.opts.MaxBackoff
			}
			// Equal jitter: half the delay, plus up to the other half at
			// random, so that buses (and vehicles) do not retry in step.
			wait := delay/2 + time.Duration(s.rng.Int64N(int64(delay/2)+1))
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-s.done:
				t.Stop()
				return fmt.Errorf("read %s: %w", s.iface, ErrClosed)
			}
		}
		s.failures++
		c, err := s.dial()
		if err == nil {
			s.conn.Store(c)
			if s.closed.Load() { // Close ran meanwhile and saw no socket
				if s.conn.CompareAndSwap(c, nil) {
					c.f.Close()
				}
				return fmt.Errorf("read %s: %w", s.iface, ErrClosed)
			}
			s.reconnects.Add(1)
			s.down.Store(false)
			s.log.Info("CAN interface back", "iface", s.iface, "attempts", attempt)
			return nil
		}
		if attempt == 1 || attempt%10 == 0 {
			s.log.Warn("CAN interface still unavailable", "iface", s.iface, "attempts", attempt, "err", err)
		}
	}
}

// ErrBusDown is returned by writes while the interface is being reconnected.
var ErrBusDown = errors.New("can: interface down, reconnecting")

// WriteFrame sends a frame: an FD frame needs a kernel and interface with
// CAN FD.
func (s *SocketCAN) WriteFrame(f *Frame) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("write %s: %w", s.iface, err)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	c := s.conn.Load()
	switch {
	case s.closed.Load():
		return fmt.Errorf("write %s: %w", s.iface, ErrClosed)
	case c == nil:
		return fmt.Errorf("write %s: %w", s.iface, ErrBusDown)
	case f.IsFD() && !c.isFD:
		return fmt.Errorf("write %s: FD frame on a socket without CAN FD: %w", s.iface, ErrBadLength)
	}
	n := marshalFrame(&s.wbuf, f)
	if _, err := c.f.Write(s.wbuf[:n]); err != nil {
		if s.closed.Load() || errors.Is(err, os.ErrClosed) {
			return fmt.Errorf("write %s: %w", s.iface, ErrClosed)
		}
		return fmt.Errorf("write %s: %w", s.iface, err)
	}
	return nil
}

// marshalFrame writes f as a struct can_frame or canfd_frame into b and
// returns its size.
func marshalFrame(b *[canfdMTU]byte, f *Frame) int {
	*b = [canfdMTU]byte{}
	id := f.ID
	if f.IsExtended() {
		id |= unix.CAN_EFF_FLAG
	}
	if f.IsRemote() {
		id |= unix.CAN_RTR_FLAG
	}
	binary.NativeEndian.PutUint32(b[0:4], id)
	b[4] = f.Len
	if !f.IsFD() {
		copy(b[8:16], f.Data[:min(f.Len, MaxClassicLen)])
		return canMTU
	}
	fl := byte(canfdFDF)
	if f.Flags&BRS != 0 {
		fl |= canfdBRS
	}
	if f.Flags&ESI != 0 {
		fl |= canfdESI
	}
	b[5] = fl
	copy(b[8:], f.Data[:min(f.Len, MaxDataLen)])
	return canfdMTU
}

// Stats returns the socket's counters.
func (s *SocketCAN) Stats() SocketStats {
	st := SocketStats{
		Frames:      s.frames.Load(),
		ErrorFrames: s.errorFrames.Load(),
		Malformed:   s.malformed.Load(),
		Reconnects:  s.reconnects.Load(),
		KernelDrops: s.dropped.Load(),
		Down:        s.down.Load(),
	}
	for i := range s.classes {
		st.ErrorClasses[i] = s.classes[i].Load()
	}
	return st
}

// ErrorFrames returns how many error frames the interface reported.
func (s *SocketCAN) ErrorFrames() uint64 { return s.errorFrames.Load() }

// FD reports whether the socket carries CAN FD frames.
func (s *SocketCAN) FD() bool {
	c := s.conn.Load()
	return c != nil && c.isFD
}

// Close implements Source: a blocked ReadFrame returns ErrClosed, a
// reconnection in progress stops.
func (s *SocketCAN) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.done)
	if c := s.conn.Swap(nil); c != nil {
		return c.f.Close()
	}
	return nil
}

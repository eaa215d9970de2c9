package can

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Bus is an in-process virtual CAN bus: every frame written by one port is
// delivered to every other open port, in the order it was written.
//
// Unlike a kernel socket, a port whose queue is full does not drop frames:
// the writer waits. The test bench relies on this to play a drive faster
// than real time without losing anything. Every port must therefore be read
// by its own goroutine (or closed) for writers to make progress.
type Bus struct {
	now   func() time.Time
	mu    sync.Mutex // serialises Open/Close against the copy-on-write list
	ports atomic.Pointer[[]*Port]
}

// DefaultPortQueue is how many frames a port buffers before writers wait.
const DefaultPortQueue = 256

// NewBus returns an empty bus. now stamps frames written with a zero Time;
// nil means time.Now.
func NewBus(now func() time.Time) *Bus {
	if now == nil {
		now = time.Now
	}
	b := &Bus{now: now}
	b.ports.Store(&[]*Port{})
	return b
}

// Open attaches a new port to the bus.
func (b *Bus) Open() *Port {
	p := &Port{bus: b, queue: make(chan Frame, DefaultPortQueue), done: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	old := *b.ports.Load()
	ports := make([]*Port, len(old), len(old)+1)
	copy(ports, old)
	ports = append(ports, p)
	b.ports.Store(&ports)
	return p
}

func (b *Bus) detach(p *Port) {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := *b.ports.Load()
	ports := make([]*Port, 0, len(old))
	for _, q := range old {
		if q != p {
			ports = append(ports, q)
		}
	}
	b.ports.Store(&ports)
}

// Port is one node's connection to a Bus. It implements Source. A port does
// not receive the frames it writes itself, as with a SocketCAN socket that
// has CAN_RAW_RECV_OWN_MSGS off.
type Port struct {
	bus       *Bus
	queue     chan Frame
	done      chan struct{}
	closeOnce sync.Once
}

var _ Source = (*Port)(nil)

// WriteFrame validates f and delivers a copy to every other open port,
// waiting while a port's queue is full.
func (p *Port) WriteFrame(f *Frame) error {
	select {
	case <-p.done:
		return fmt.Errorf("write frame: %w", ErrClosed)
	default:
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	fr := *f
	if fr.Time.IsZero() {
		fr.Time = p.bus.now()
	}
	for _, q := range *p.bus.ports.Load() {
		if q == p {
			continue
		}
		select {
		case q.queue <- fr:
		case <-q.done:
		case <-p.done:
			return fmt.Errorf("write frame: %w", ErrClosed)
		}
	}
	return nil
}

// ReadFrame implements Source.
func (p *Port) ReadFrame(f *Frame) error {
	// Once Close was called, report ErrClosed even if frames are still
	// queued: a select with both cases ready would pick one at random.
	select {
	case <-p.done:
		return fmt.Errorf("read frame: %w", ErrClosed)
	default:
	}
	select {
	case *f = <-p.queue:
		return nil
	case <-p.done:
		return fmt.Errorf("read frame: %w", ErrClosed)
	}
}

// TryReadFrame copies the next queued frame into f without waiting; it
// reports whether there was one.
func (p *Port) TryReadFrame(f *Frame) bool {
	select {
	case <-p.done:
		return false // as ReadFrame: nothing is read from a closed port
	default:
	}
	select {
	case *f = <-p.queue:
		return true
	default:
		return false
	}
}

// Close detaches the port; blocked reads and writes return ErrClosed.
func (p *Port) Close() error {
	p.closeOnce.Do(func() {
		close(p.done)
		p.bus.detach(p)
	})
	return nil
}

package testbench

import (
	"errors"
	"sync"
	"time"

	"quietzone/can"
	"quietzone/gateway/daemon"
)

// vehicleBus is the vehicle's side of the bus: the virtual bus's port, or
// a SocketCAN socket on vcan0.
type vehicleBus interface {
	WriteFrame(f *can.Frame) error
	// TryReadFrame reads a frame the gateway sent, if one is waiting.
	TryReadFrame(f *can.Frame) bool
	Close() error
}

// driveClock is the simulator's time: the manual clock the gateway shares
// on the virtual bus, or the wall on vcan0.
type driveClock interface {
	Now() time.Time
	// Advance moves time on by d; the wall clock sleeps until then.
	Advance(d time.Duration) int
}

// wallClock paces a real-time drive: Advance sleeps until the next step
// is due, so that late steps catch up instead of drifting.
type wallClock struct{ next time.Time }

func (c *wallClock) Now() time.Time { return time.Now() }

func (c *wallClock) Advance(d time.Duration) int {
	if c.next.IsZero() {
		c.next = time.Now()
	}
	c.next = c.next.Add(d)
	time.Sleep(time.Until(c.next))
	return 0
}

// socketBus is a SocketCAN socket as the vehicle's side of vcan0: a
// goroutine reads what the gateway sends, so that the simulator can poll.
type socketBus struct {
	s    *can.SocketCAN
	mu   sync.Mutex
	got  []can.Frame
	done chan struct{}
}

func dialVehicle(iface string) (*socketBus, error) {
	s, err := can.DialSocketCAN(iface, can.SocketCANOptions{})
	if err != nil {
		return nil, err
	}
	b := &socketBus{s: s, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		var f can.Frame
		for {
			if err := s.ReadFrame(&f); err != nil {
				if errors.Is(err, can.ErrClosed) {
					return
				}
				continue
			}
			b.mu.Lock()
			if len(b.got) < 4096 { // frames of other ECUs on a busy vcan0
				b.got = append(b.got, f)
			}
			b.mu.Unlock()
		}
	}()
	return b, nil
}

func (b *socketBus) WriteFrame(f *can.Frame) error { return b.s.WriteFrame(f) }

func (b *socketBus) TryReadFrame(f *can.Frame) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.got) == 0 {
		return false
	}
	*f = b.got[0]
	b.got = b.got[1:]
	return true
}

func (b *socketBus) Close() error {
	err := b.s.Close()
	<-b.done
	return err
}

// openSocketCAN opens the gateway's side of vcan0, as the daemon does.
func openSocketCAN(iface string) func(string, []can.Filter) (daemon.Bus, error) {
	return func(_ string, filters []can.Filter) (daemon.Bus, error) {
		return can.DialSocketCAN(iface, can.SocketCANOptions{Filters: filters})
	}
}

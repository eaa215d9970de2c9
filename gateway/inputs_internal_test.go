package gateway

import (
	"context"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// queuedPin is a GPIO input as the kernel's character device presents
// it: a level read at any time, and a queue of edge events, one per edge,
// which a reader busy elsewhere takes later, when the line may have moved
// on. (gpiotest.Pin moves the level when its edge is taken: it cannot be
// late.) idle is offered how many edges were taken for as long as the
// reader waits with none queued.
type queuedPin struct {
	gpiotest.Pin
	mu    sync.Mutex
	level gpio.Level
	taken int
	edges chan struct{}
	idle  chan int
	stop  chan struct{}
}

func newQueuedPin() *queuedPin {
	return &queuedPin{Pin: gpiotest.Pin{N: "queued"}, edges: make(chan struct{}, 16), idle: make(chan int), stop: make(chan struct{})}
}

func (p *queuedPin) In(gpio.Pull, gpio.Edge) error { return nil }

func (p *queuedPin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level
}

// move sets the level and queues n edges.
func (p *queuedPin) move(l gpio.Level, n int) {
	p.mu.Lock()
	p.level = l
	p.mu.Unlock()
	for range n {
		p.edges <- struct{}{}
	}
}

func (p *queuedPin) take() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.taken++
	return true
}

func (p *queuedPin) WaitForEdge(timeout time.Duration) bool {
	select {
	case <-p.edges:
		return p.take()
	default:
	}
	p.mu.Lock()
	taken := p.taken
	p.mu.Unlock()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case <-p.edges:
			return p.take()
		case <-p.stop:
			return false
		case <-timer.C:
			return false
		case p.idle <- taken: // offered for as long as it waits
		}
	}
}

// TestWatchEdgesReadLate: the reader of a trigger (or a push button) is
// late (a loaded head unit; under software emulation in make
// test-system, 150 ms late) and finds a whole pulse queued, its two
// edges, with the line back where it was. Found by make test-system: each
// of the two edges was taken for a pulse of its own, one trigger counted
// twice (a push button pressed once would toggle twice: no press). One
// pulse is one pulse, however late its edges are read.
func TestWatchEdgesReadLate(t *testing.T) {
	type step struct {
		level gpio.Level
		edges int
	}
	for _, tc := range []struct {
		name  string
		steps []step
		want  []bool // after the first level
	}{
		{"a pulse read in time", []step{{gpio.High, 1}, {gpio.Low, 1}}, []bool{true, false}},
		{"a pulse read late: both edges queued", []step{{gpio.Low, 2}}, []bool{true, false}},
		{"a pulse whose second edge comes after the read", []step{{gpio.Low, 1}, {gpio.Low, 1}}, []bool{true, false}},
		{"two pulses, each read late", []step{{gpio.Low, 2}, {gpio.Low, 2}}, []bool{true, false, true, false}},
		{"a rise, a fall and a rise read late, then a fall", []step{{gpio.High, 3}, {gpio.Low, 1}}, []bool{true, false, true, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newQueuedPin()
			g := &Gateway{}
			g.opts.Enforcement.Poll = time.Hour // no read but after an edge
			g.e.inputs = []input{{Input: Input{Pin: p}, kind: inTrigger, pulses: true}}
			g.e.events = make(chan inputEvent, 64)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- g.watch(ctx, 0) }()
			defer func() {
				cancel()
				close(p.stop)
				if err := <-done; err != nil {
					t.Error(err)
				}
			}()
			var got []bool
			sent := 0
			for i, s := range append([]step{{gpio.Low, 0}}, tc.steps...) {
				p.move(s.level, s.edges)
				sent += s.edges
				for taken := <-p.idle; taken < sent; taken = <-p.idle {
				}
				for len(g.e.events) > 0 {
					ev := <-g.e.events
					if i > 0 {
						got = append(got, ev.active)
					}
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("reported %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("reported %v, want %v", got, tc.want)
				}
			}
		})
	}
}

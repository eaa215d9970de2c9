package gateway

import (
	"slices"
	"sync"
	"time"
)

// ManualClock is a Clock that moves only when told: replays follow a
// log's time with it, and the test bench drives the daemon in lock step.
// Time moves only when Advance, Set or Step is called. It keeps two axes, as a system does: the monotonic
// time, which Advance moves and tickers follow, and the wall time (Now),
// which moves with it and which Step (or Set backwards) moves on its own,
// as NTP or a GNSS time correction steps a wall clock.
//
// Advance hands each tick to the ticker's reader and waits until it was
// taken (or the ticker stopped), so that a tick is always seen before
// anything the caller does after Advance returns. A tick carries the wall
// time at its monotonic time. While a reader handles a tick the clock may
// already have moved on: readers use the tick's time.
type ManualClock struct {
	mu       sync.Mutex
	now      time.Time     // wall
	mono     time.Duration // monotonic
	tickers  []*ticker
	timers   []*timer
	unsynced bool
	// held: ticks are not handed over but kept, one per ticker, as a
	// time.Ticker keeps the first tick its busy reader has not taken
	// (Hold, Release).
	held    bool
	pending []heldTick
}

type heldTick struct {
	t    *ticker
	wall time.Time
}

var _ Clock = (*ManualClock)(nil)

// NewManualClock returns a clock set to start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start} }

// Now implements Clock.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Monotonic implements Clock: the time advanced since NewClock.
func (c *ManualClock) Monotonic() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}

// Synced reports whether the clock counts as synchronised to a trusted
// time; it does unless SetSynced(false) was called.
func (c *ManualClock) Synced() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.unsynced
}

// SetSynced makes the clock synchronised or not, as a daemon's clock is
// before and after NTP or GNSS disciplines it.
func (c *ManualClock) SetSynced(synced bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unsynced = !synced
}

// NewTicker implements Clock.
func (c *ManualClock) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("manual clock: non-positive ticker period")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &ticker{c: make(chan time.Time), stop: make(chan struct{}), period: d, next: c.mono + d}
	c.tickers = append(c.tickers, t)
	return t
}

// Advance moves the clock forward by d, firing tickers and timers on the
// way, in the order they are due. It returns how many ticks it handed
// over. A timer's function runs on the caller's goroutine; a timer's
// channel takes its time without waiting for a reader (a time.Timer's is
// buffered likewise).
func (c *ManualClock) Advance(d time.Duration) int {
	if d < 0 {
		panic("manual clock: Advance by a negative duration; use Step")
	}
	c.mu.Lock()
	target := c.mono + d
	c.mu.Unlock()
	n := 0
	for {
		c.mu.Lock()
		var due *ticker
		for _, tk := range c.tickers {
			if !tk.stopped() && tk.next <= target && (due == nil || tk.next < due.next) {
				due = tk
			}
		}
		var tm *timer
		for _, x := range c.timers {
			if x.live && x.at <= target && (tm == nil || x.at < tm.at) && (due == nil || x.at < due.next) {
				tm = x
			}
		}
		if due == nil && tm == nil {
			c.now = c.now.Add(target - c.mono)
			c.mono = target
			c.timers = slices.DeleteFunc(c.timers, func(x *timer) bool { return !x.live })
			c.mu.Unlock()
			return n
		}
		at := target
		if tm != nil {
			at = tm.at
		} else {
			at = due.next
		}
		if at > c.mono {
			c.now = c.now.Add(at - c.mono)
			c.mono = at
		}
		wall := c.now
		if tm != nil {
			tm.live = false
			c.mu.Unlock()
			if tm.f != nil {
				tm.f()
			} else {
				select {
				case tm.c <- wall:
				default:
				}
			}
			continue
		}
		due.next = at + due.period
		if c.held {
			if !slices.ContainsFunc(c.pending, func(h heldTick) bool { return h.t == due }) {
				c.pending = append(c.pending, heldTick{t: due, wall: wall})
			} // later ticks are dropped, as a time.Ticker drops them
			c.mu.Unlock()
			continue
		}
		c.mu.Unlock()
		select {
		case due.c <- wall:
			n++
		case <-due.stop:
		}
	}
}

// Hold makes the tickers' reader busy: from now on Advance moves the
// clock without handing ticks over; each ticker keeps the first tick that
// fell due, stamped with when it fell due, and drops the rest, as a
// time.Ticker does for a reader that is late. Release hands them over.
func (c *ManualClock) Hold() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = true
}

// Release ends Hold: the kept ticks are handed over, late, with the times
// they fell due at. It returns how many it handed over.
func (c *ManualClock) Release() int {
	c.mu.Lock()
	c.held = false
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	n := 0
	for _, h := range pending {
		select {
		case h.t.c <- h.wall:
			n++
		case <-h.t.stop:
		}
	}
	return n
}

// NewTimer implements Clock: a timer on the monotonic axis.
func (c *ManualClock) NewTimer(d time.Duration) Timer {
	return c.newTimer(d, nil)
}

// AfterFunc implements Clock: f runs on the goroutine that
// advances the clock past the timer.
func (c *ManualClock) AfterFunc(d time.Duration, f func()) Timer {
	return c.newTimer(d, f)
}

func (c *ManualClock) newTimer(d time.Duration, f func()) *timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{clock: c, f: f, at: c.mono + d, live: true}
	if f == nil {
		t.c = make(chan time.Time, 1)
	}
	c.timers = append(c.timers, t)
	return t
}

type timer struct {
	clock *ManualClock
	c     chan time.Time
	f     func()
	at    time.Duration // monotonic
	live  bool
}

func (t *timer) C() <-chan time.Time { return t.c }

// Stop stops the timer; it reports whether it was running.
func (t *timer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := t.live
	t.live = false
	return was
}

// Reset makes the timer fire d from now; it reports whether it was
// running.
func (t *timer) Reset(d time.Duration) bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	was := t.live
	t.at, t.live = c.mono+d, true
	if !slices.Contains(c.timers, t) {
		c.timers = append(c.timers, t)
	}
	return was
}

// Set moves the wall clock to t: forward, time passes (Advance); back,
// the wall clock steps (Step). It returns how many ticks it handed over.
func (c *ManualClock) Set(t time.Time) int {
	c.mu.Lock()
	d := t.Sub(c.now)
	c.mu.Unlock()
	if d < 0 {
		c.Step(d)
		return 0
	}
	return c.Advance(d)
}

// Step moves the wall clock by d, forward or back, without time passing,
// as a wall clock set by NTP or from GNSS time is stepped: the monotonic
// time stays and no ticker fires (a time.Ticker runs on the monotonic
// clock: its next tick comes a period after the last one, stamped with
// the stepped time).
func (c *ManualClock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type ticker struct {
	c      chan time.Time
	stop   chan struct{}
	once   sync.Once
	period time.Duration
	next   time.Duration // monotonic
}

func (t *ticker) C() <-chan time.Time { return t.c }

func (t *ticker) Stop() { t.once.Do(func() { close(t.stop) }) }

func (t *ticker) stopped() bool {
	select {
	case <-t.stop:
		return true
	default:
		return false
	}
}

// Tickers returns how many tickers are running: a test can wait for the
// gateway's loop to start before it advances time.
func (c *ManualClock) Tickers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.tickers {
		if !t.stopped() {
			n++
		}
	}
	return n
}

package gateway

import "time"

// Clock is the gateway's source of time. Tests and the simulator use a
// manual clock (gatewaytest.Clock) to replay exact timelines.
//
// Now is the wall clock, which NTP, a GNSS time correction or an attacker
// can step; Monotonic is a clock that only runs forward at the rate time
// passes and is never stepped (CLOCK_MONOTONIC). The gateway reads both:
// a difference between how far each moved is a step of the wall clock
// (trust.go), and zone validity windows are judged on both (zones.go).
type Clock interface {
	Now() time.Time
	// Monotonic is the time elapsed since an origin of the clock's own.
	Monotonic() time.Duration
	NewTicker(d time.Duration) Ticker
	NewTimer(d time.Duration) Timer
	// AfterFunc calls f once d has passed; its Timer has no channel.
	AfterFunc(d time.Duration, f func()) Timer
	// Synced reports whether the wall clock is synchronised to a trusted
	// time (NTP, GNSS): zone validity windows are trusted only then.
	Synced() bool
}

// Ticker delivers ticks like time.Ticker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Timer fires once, like time.Timer.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTicker returns a time.Ticker.
func (SystemClock) NewTicker(d time.Duration) Ticker { return systemTicker{time.NewTicker(d)} }

// NewTimer returns a time.Timer.
func (SystemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

// AfterFunc returns time.AfterFunc's timer.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer {
	return systemTimer{time.AfterFunc(d, f)}
}

type systemTimer struct{ t *time.Timer }

func (s systemTimer) C() <-chan time.Time        { return s.t.C }
func (s systemTimer) Stop() bool                 { return s.t.Stop() }
func (s systemTimer) Reset(d time.Duration) bool { return s.t.Reset(d) }

type systemTicker struct{ t *time.Ticker }

func (s systemTicker) C() <-chan time.Time { return s.t.C }
func (s systemTicker) Stop()               { s.t.Stop() }

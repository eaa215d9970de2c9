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
}

// Ticker delivers ticks like time.Ticker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTicker returns a time.Ticker.
func (SystemClock) NewTicker(d time.Duration) Ticker { return systemTicker{time.NewTicker(d)} }

type systemTicker struct{ t *time.Ticker }

func (s systemTicker) C() <-chan time.Time { return s.t.C }
func (s systemTicker) Stop()               { s.t.Stop() }

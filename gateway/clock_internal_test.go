package gateway

import "time"

// testClock is the clock of the loop's own tests and benchmarks, which
// call its handlers directly: it tells the time it is set to and runs no
// tickers or timers.
type testClock struct{ t time.Time }

func (c *testClock) Now() time.Time                        { return c.t }
func (c *testClock) Monotonic() time.Duration              { return time.Duration(c.t.UnixNano()) }
func (c *testClock) Synced() bool                          { return true }
func (c *testClock) NewTicker(time.Duration) Ticker        { panic("no tickers in this test") }
func (c *testClock) NewTimer(time.Duration) Timer          { panic("no timers in this test") }
func (c *testClock) AfterFunc(time.Duration, func()) Timer { panic("no timers in this test") }

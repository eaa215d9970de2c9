//go:build !linux

package gateway

import (
	"errors"
	"time"
)

// Synced reports false: off Linux the gateway has no way to tell whether
// the clock is synchronised, so zone validity windows are not trusted.
func (SystemClock) Synced() bool { return false }

// ClockStateError reports that off Linux the clock's state cannot be read.
func ClockStateError() error {
	return errors.New("the clock's synchronisation state is known on Linux only")
}

// processStart is the origin of Monotonic: Go keeps a monotonic reading
// in it, and time.Since uses that, not the wall clock.
var processStart = time.Now()

// Monotonic returns the time since the process started, on Go's
// monotonic clock.
func (SystemClock) Monotonic() time.Duration { return time.Since(processStart) }

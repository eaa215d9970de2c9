//go:build !linux

package gateway

import "errors"

// Synced reports false: off Linux the gateway has no way to tell whether
// the clock is synchronised, so zone validity windows are not trusted.
func (SystemClock) Synced() bool { return false }

// ClockStateError reports that off Linux the clock's state cannot be read.
func ClockStateError() error {
	return errors.New("the clock's synchronisation state is known on Linux only")
}

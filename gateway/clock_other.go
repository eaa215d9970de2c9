//go:build !linux

package gateway

// Synced reports false: off Linux the gateway has no way to tell whether
// the clock is synchronised, so zone validity windows are not trusted.
func (SystemClock) Synced() bool { return false }

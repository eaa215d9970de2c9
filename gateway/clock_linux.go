package gateway

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Synced reports whether the kernel's clock is synchronised (an NTP or
// GNSS daemon disciplines it): adjtimex does not report TIME_ERROR or
// STA_UNSYNC. An error answers false.
func (SystemClock) Synced() bool {
	var tx unix.Timex // Modes 0: read only
	state, err := unix.Adjtimex(&tx)
	return err == nil && state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0
}

// ClockStateError reports why the kernel's clock state cannot be read, or
// nil: a seccomp filter that denies adjtimex (systemd's ProtectClock=)
// leaves zone validity windows untrusted, every zone counting all the
// time. The daemon warns of it at start.
func ClockStateError() error {
	var tx unix.Timex
	if _, err := unix.Adjtimex(&tx); err != nil {
		return fmt.Errorf("read the clock's synchronisation state (adjtimex): %w", err)
	}
	return nil
}

// Monotonic returns CLOCK_BOOTTIME: it is never stepped and, unlike Go's
// monotonic clock (CLOCK_MONOTONIC), it runs on while the system is
// suspended, so that a vehicle computer waking from sleep shows no step
// of the wall clock and the steady clock of zone windows keeps time.
func (SystemClock) Monotonic() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return time.Since(processStart) // not on this kernel: Go's own monotonic clock
	}
	return time.Duration(ts.Nano())
}

// processStart is the origin of the fallback monotonic time: Go keeps a
// monotonic reading in it, and time.Since uses that, not the wall clock.
var processStart = time.Now()

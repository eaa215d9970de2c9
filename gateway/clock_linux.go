package gateway

import "golang.org/x/sys/unix"

// Synced reports whether the kernel's clock is synchronised (an NTP or
// GNSS daemon disciplines it): adjtimex does not report TIME_ERROR or
// STA_UNSYNC. An error answers false.
func (SystemClock) Synced() bool {
	var tx unix.Timex // Modes 0: read only
	state, err := unix.Adjtimex(&tx)
	return err == nil && state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0
}

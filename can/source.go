package can

import (
	"errors"
)

// Source delivers frames from one bus. The real bus (SocketCAN), the virtual
// bus and a log replay all implement it, so the same gateway code runs on each.
type Source interface {
	// ReadFrame blocks until the next frame arrives and copies it into f.
	// It returns an error wrapping ErrClosed once Close was called, and
	// io.EOF at the end of a finite source such as a log file.
	ReadFrame(f *Frame) error
	// Close stops the source; a ReadFrame blocked in another goroutine
	// returns. Cancellation is by Close, as with net.Conn.
	Close() error
}

// ErrClosed is returned by reads and writes on a closed source or port.
var ErrClosed = errors.New("can: closed")

// ErrNotSupported is returned where the operating system has no SocketCAN.
var ErrNotSupported = errors.New("can: SocketCAN is not supported on this system")

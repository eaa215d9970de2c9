//go:build !linux

package can

import "fmt"

// SocketCAN is only available on Linux; elsewhere DialSocketCAN returns an
// error wrapping ErrNotSupported so that everything else builds and tests.
type SocketCAN struct{}

var _ Source = (*SocketCAN)(nil)

// DialSocketCAN returns an error wrapping ErrNotSupported.
func DialSocketCAN(iface string, _ SocketCANOptions) (*SocketCAN, error) {
	return nil, fmt.Errorf("open socketcan %s: %w", iface, ErrNotSupported)
}

// ReadFrame returns ErrNotSupported.
func (s *SocketCAN) ReadFrame(*Frame) error { return ErrNotSupported }

// WriteFrame returns ErrNotSupported.
func (s *SocketCAN) WriteFrame(*Frame) error { return ErrNotSupported }

// ErrorFrames returns 0.
func (s *SocketCAN) ErrorFrames() uint64 { return 0 }

// Stats returns zero counters.
func (s *SocketCAN) Stats() SocketStats { return SocketStats{} }

// FD returns false.
func (s *SocketCAN) FD() bool { return false }

// Close does nothing.
func (s *SocketCAN) Close() error { return nil }

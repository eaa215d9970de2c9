//go:build linux

package can

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"

	einride "go.einride.tech/can"
	"go.einride.tech/can/pkg/socketcan"
)

// SocketCAN is a Source and frame writer on a Linux CAN interface such as
// can0 or vcan0, built on go.einride.tech/can/pkg/socketcan. It carries
// classic frames; error frames are counted and skipped.
type SocketCAN struct {
	iface       string
	conn        net.Conn
	closed      atomic.Bool
	errorFrames atomic.Uint64
	rbuf, wbuf  [16]byte
}

var _ Source = (*SocketCAN)(nil)

// DialSocketCAN opens a raw CAN socket bound to iface.
func DialSocketCAN(iface string) (*SocketCAN, error) {
	conn, err := socketcan.Dial("can", iface)
	if err != nil {
		return nil, fmt.Errorf("open socketcan %s: %w", iface, err)
	}
	return &SocketCAN{iface: iface, conn: conn}, nil
}

// ReadFrame implements Source. Frames are stamped with the time they were
// read (kernel timestamps follow with the receive-path work).
func (s *SocketCAN) ReadFrame(f *Frame) error {
	for {
		if _, err := s.conn.Read(s.rbuf[:]); err != nil {
			if s.closed.Load() || errors.Is(err, os.ErrClosed) || errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("read %s: %w", s.iface, ErrClosed)
			}
			return fmt.Errorf("read %s: %w", s.iface, err)
		}
		var sf socketcan.Frame
		sf.UnmarshalBinary(s.rbuf[:])
		if sf.IsError() {
			s.errorFrames.Add(1)
			continue
		}
		cf := sf.DecodeFrame()
		*f = Frame{Time: time.Now(), ID: cf.ID, Len: cf.Length}
		if cf.IsExtended {
			f.Flags |= Extended
		}
		if cf.IsRemote {
			f.Flags |= Remote
		}
		if f.Len > MaxClassicLen {
			f.Len = MaxClassicLen
		}
		copy(f.Data[:], cf.Data[:f.Len])
		return nil
	}
}

// WriteFrame sends a classic frame.
func (s *SocketCAN) WriteFrame(f *Frame) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("write %s: %w", s.iface, err)
	}
	if f.IsFD() {
		return fmt.Errorf("write %s: FD frame on a classic socket: %w", s.iface, ErrBadLength)
	}
	var sf socketcan.Frame
	var data [8]byte
	copy(data[:], f.Data[:f.Len])
	sf.EncodeFrame(einride.Frame{ID: f.ID, Length: f.Len, Data: data, IsExtended: f.IsExtended(), IsRemote: f.IsRemote()})
	sf.MarshalBinary(s.wbuf[:])
	if _, err := s.conn.Write(s.wbuf[:]); err != nil {
		if s.closed.Load() || errors.Is(err, os.ErrClosed) || errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("write %s: %w", s.iface, ErrClosed)
		}
		return fmt.Errorf("write %s: %w", s.iface, err)
	}
	return nil
}

// ErrorFrames returns how many error frames the interface reported.
func (s *SocketCAN) ErrorFrames() uint64 { return s.errorFrames.Load() }

// Close implements Source.
func (s *SocketCAN) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.conn.Close()
}

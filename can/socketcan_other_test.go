//go:build !linux

package can_test

import (
	"errors"
	"testing"

	"quietzone/can"
)

// TestDialSocketCANNotSupported: without SocketCAN, dialling fails with
// ErrNotSupported and the stub methods say the same.
func TestDialSocketCANNotSupported(t *testing.T) {
	s, err := can.DialSocketCAN("vcan0", can.SocketCANOptions{})
	if !errors.Is(err, can.ErrNotSupported) {
		t.Fatalf("DialSocketCAN = %v, %v; want an error wrapping ErrNotSupported", s, err)
	}
	if s != nil {
		t.Errorf("DialSocketCAN returned a socket with its error: %v", s)
	}
	var stub can.SocketCAN
	var f can.Frame
	if err := stub.ReadFrame(&f); !errors.Is(err, can.ErrNotSupported) {
		t.Errorf("ReadFrame = %v", err)
	}
	if err := stub.WriteFrame(&f); !errors.Is(err, can.ErrNotSupported) {
		t.Errorf("WriteFrame = %v", err)
	}
	if stub.ErrorFrames() != 0 || stub.Close() != nil {
		t.Error("ErrorFrames or Close of the stub")
	}
}

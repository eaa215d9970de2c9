package can

import (
	"errors"
	"fmt"
	"time"
)

// MaxDataLen is the largest payload of any frame: 64 bytes for CAN FD.
// Classic CAN frames carry at most 8.
const MaxDataLen = 64

// MaxClassicLen is the largest payload of a classic CAN frame.
const MaxClassicLen = 8

// Largest identifiers for standard (11-bit) and extended (29-bit) frames.
const (
	MaxStandardID = 0x7ff
	MaxExtendedID = 0x1fffffff
)

// Flags describe how a frame was sent.
type Flags uint8

const (
	// Extended marks a 29-bit identifier.
	Extended Flags = 1 << iota
	// Remote marks a remote transmission request (classic CAN only).
	Remote
	// FD marks a CAN FD frame.
	FD
	// BRS marks a CAN FD frame sent with bit-rate switching.
	BRS
	// ESI marks a CAN FD frame whose sender was error passive.
	ESI
)

// Frame is one CAN or CAN FD frame. It is a plain value of fixed size so that
// it can be passed through channels and copied without allocating.
type Frame struct {
	// Time is when the frame was received (the kernel's timestamp on
	// SocketCAN, the bus clock on the virtual bus, the log's time on replay).
	Time time.Time
	// ID is the 11- or 29-bit identifier, without flag bits.
	ID uint32
	// Len is the number of valid bytes in Data.
	Len uint8
	// Flags say whether the frame is extended, remote or FD.
	Flags Flags
	// Data holds the payload; bytes past Len are zero.
	Data [MaxDataLen]byte
}

// Payload returns the valid part of Data.
// A Len beyond MaxDataLen (an invalid frame) is cut at MaxDataLen.
func (f *Frame) Payload() []byte { return f.Data[:min(int(f.Len), MaxDataLen)] }

// IsExtended reports whether f has a 29-bit identifier.
func (f *Frame) IsExtended() bool { return f.Flags&Extended != 0 }

// IsFD reports whether f is a CAN FD frame.
func (f *Frame) IsFD() bool { return f.Flags&FD != 0 }

// IsRemote reports whether f is a remote transmission request.
func (f *Frame) IsRemote() bool { return f.Flags&Remote != 0 }

// Errors returned by Validate.
var (
	ErrBadID     = errors.New("identifier out of range")
	ErrBadLength = errors.New("invalid data length")
)

// fdLengths are the only payload sizes a CAN FD frame can have.
var fdLengths = [...]uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64}

// FDLen returns the smallest CAN FD payload size that holds n bytes, or 0 and
// false when n exceeds 64.
func FDLen(n int) (uint8, bool) {
	for _, l := range fdLengths {
		if int(l) >= n {
			return l, true
		}
	}
	return 0, false
}

// Validate reports whether f is a frame a CAN controller could send.
func (f *Frame) Validate() error {
	switch {
	case f.IsExtended() && f.ID > MaxExtendedID, !f.IsExtended() && f.ID > MaxStandardID:
		return fmt.Errorf("frame %#x: %w", f.ID, ErrBadID)
	case f.IsFD():
		if l, ok := FDLen(int(f.Len)); !ok || l != f.Len {
			return fmt.Errorf("frame %#x: FD length %d: %w", f.ID, f.Len, ErrBadLength)
		}
		if f.IsRemote() {
			return fmt.Errorf("frame %#x: FD frames cannot be remote: %w", f.ID, ErrBadLength)
		}
	case f.Len > MaxClassicLen:
		return fmt.Errorf("frame %#x: classic length %d: %w", f.ID, f.Len, ErrBadLength)
	}
	return nil
}

// String formats f the way can-utils' cansend and candump write frames:
// "123#DEADBEEF", "1ABCDEF0#00", "123#R", "123##1AABB" (FD with flags).
func (f Frame) String() string {
	return string(f.AppendText(make([]byte, 0, 16+2*min(int(f.Len), MaxDataLen))))
}

// AppendText appends f in the notation of String to b.
func (f *Frame) AppendText(b []byte) []byte {
	// Clamp so that it never panics, even on a frame Validate rejects.
	n := min(int(f.Len), MaxDataLen)
	if f.IsExtended() {
		b = appendHexID(b, f.ID, 8)
	} else {
		b = appendHexID(b, f.ID, 3)
	}
	b = append(b, '#')
	switch {
	case f.IsRemote():
		b = append(b, 'R')
		if f.Len != 0 {
			b = append(b, upperHex[min(f.Len, MaxClassicLen)])
		}
		return b
	case f.IsFD():
		var fl byte
		if f.Flags&BRS != 0 {
			fl |= 1
		}
		if f.Flags&ESI != 0 {
			fl |= 2
		}
		b = append(b, '#')
		b = append(b, upperHex[fl])
	}
	for _, x := range f.Data[:n] {
		b = append(b, upperHex[x>>4], upperHex[x&15])
	}
	return b
}

const upperHex = "0123456789ABCDEF"

func appendHexID(b []byte, id uint32, width int) []byte {
	for shift := 4 * (width - 1); shift >= 0; shift -= 4 {
		b = append(b, upperHex[(id>>shift)&15])
	}
	return b
}

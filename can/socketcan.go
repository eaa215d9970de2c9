package can

import (
	"fmt"
	"log/slog"
	"time"
)

// SocketCANOptions configure a SocketCAN connection.
type SocketCANOptions struct {
	// Filters are the identifiers the kernel delivers (CAN_RAW_FILTER),
	// normally Decoder.Filters(): every other frame is dropped in the
	// kernel, before it costs a wake-up. nil receives every frame; an
	// empty, non-nil list receives none. Error frames always come through.
	Filters []Filter
	// MinBackoff and MaxBackoff bound the jittered, doubling wait between
	// attempts to reopen a lost interface (defaults 100 ms and 5 s).
	MinBackoff, MaxBackoff time.Duration
	// Logger receives reconnection events; nil discards them.
	Logger *slog.Logger
}

func (o *SocketCANOptions) defaults() {
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(5*time.Second, o.MinBackoff)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Error frame classes, the bits of an error frame's identifier
// (linux/can/error.h); ErrorClassName names them.
const (
	numErrorClasses = 10
	errClassBusOff  = 0x40
)

// errorClassNames are the error classes of linux/can/error.h, by bit, as
// go.einride.tech/can's socketcan.ErrorClass spells them. That package is
// not imported for them: it pulls golang.org/x/net/nettest, and with it
// the testing package, into the vehicle's binary.
var errorClassNames = [numErrorClasses]string{"TxTimeout", "LostArbitration", "Controller", "ProtocolViolation",
	"Transceiver", "NoAck", "BusOff", "BusError", "Restarted", "ErrorCounters"}

// ErrorClassName names error class bit i (0 = TX timeout ... 6 = bus-off,
// 8 = restarted, 9 = error counters).
func ErrorClassName(i int) string {
	if i < 0 || i >= numErrorClasses {
		return fmt.Sprintf("ErrorClass(%#x)", uint64(1)<<(i&63))
	}
	return errorClassNames[i]
}

// SocketStats are the counters of a SocketCAN connection.
type SocketStats struct {
	Frames      uint64 // data and remote frames delivered
	ErrorFrames uint64 // error frames received
	// ErrorClasses counts error frames by class bit (ErrorClassName); one
	// error frame may carry several classes.
	ErrorClasses [numErrorClasses]uint64
	Malformed    uint64 // datagrams of neither CAN nor CAN FD size
	Reconnects   uint64 // times the socket was reopened after a loss
	KernelDrops  uint64 // frames the kernel dropped for a full receive queue
	Down         bool   // the interface is lost and being reconnected
}

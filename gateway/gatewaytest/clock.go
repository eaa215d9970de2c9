// Package gatewaytest holds what the tests of the gateway and its daemon
// share: the manual clock, and a good configuration to start from.
package gatewaytest

import (
	"time"

	"quietzone/gateway"
)

// Clock is the gateway's manual clock (gateway.ManualClock).
type Clock = gateway.ManualClock

// NewClock returns a manual clock set to start.
func NewClock(start time.Time) *Clock { return gateway.NewManualClock(start) }

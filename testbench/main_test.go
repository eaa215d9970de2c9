package testbench

import (
	"testing"

	"go.uber.org/goleak"
)

// Every drive stops what it started: gateways, publishers, relays,
// collectors, brokers.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

package report

import (
	"testing"

	"go.uber.org/goleak"
)

// The drives these tests run stop what they started: gateways,
// publishers, relays, collectors, brokers.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

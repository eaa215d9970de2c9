package can_test

import (
	"testing"

	"go.einride.tech/can/pkg/socketcan"

	"quietzone/can"
)

// TestErrorClassNames: the names are einride's, bit for bit (its package
// is kept out of the vehicle's binary, not out of the tests).
func TestErrorClassNames(t *testing.T) {
	for i := 0; i < 9; i++ {
		if got, want := can.ErrorClassName(i), socketcan.ErrorClass(1<<i).String(); got != want {
			t.Errorf("bit %d: %q, einride says %q", i, got, want)
		}
	}
	if got := can.ErrorClassName(9); got != "ErrorCounters" {
		t.Errorf("bit 9: %q", got)
	}
}

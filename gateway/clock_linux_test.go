package gateway

import (
	"testing"
	"time"
)

// TestSystemMonotonic: the system clock's monotonic time runs with time.
func TestSystemMonotonic(t *testing.T) {
	c := SystemClock{}
	a := c.Monotonic()
	time.Sleep(20 * time.Millisecond)
	if d := c.Monotonic() - a; d < 15*time.Millisecond || d > 5*time.Second {
		t.Fatalf("20 ms of sleep took %v on the monotonic clock", d)
	}
}

// BenchmarkMonotonic is the cost of a look at the monotonic clock, which
// the decision loop takes on every tick.
func BenchmarkMonotonic(b *testing.B) {
	c := SystemClock{}
	for b.Loop() {
		_ = c.Monotonic()
	}
}

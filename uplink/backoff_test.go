package uplink

import (
	"testing"
	"time"
)

// The connection backoff doubles from its base to its cap, each wait drawn
// from the upper half of its step: never shorter than half, never longer
// than the step, and not the same every time.
func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		base, max time.Duration
		steps     []float64 // the step for attempts 0, 1, 2, …, in seconds
	}{
		{time.Second, 30 * time.Second, []float64{1, 2, 4, 8, 16, 30, 30, 30}},
		{time.Second, time.Second, []float64{1, 1, 1}},
		{time.Second, 3 * time.Second, []float64{1, 2, 3, 3}},
		{time.Second, 500 * time.Millisecond, []float64{0.5, 0.5}},
	} {
		for n, step := range tc.steps {
			want := time.Duration(step * float64(time.Second))
			seen := map[time.Duration]bool{}
			for i := 0; i < 200; i++ {
				d := backoff(int64(n), tc.base, tc.max)
				if d < want/2 || d > want {
					t.Fatalf("base %v, cap %v, attempt %d: wait %v, want %v to %v", tc.base, tc.max, n, d, want/2, want)
				}
				seen[d] = true
			}
			if len(seen) < 100 {
				t.Errorf("base %v, cap %v, attempt %d: %d different waits in 200: no jitter", tc.base, tc.max, n, len(seen))
			}
		}
	}
	if d := backoff(1<<40, time.Second, time.Minute); d > time.Minute {
		t.Errorf("attempt 2^40: %v", d)
	}
}

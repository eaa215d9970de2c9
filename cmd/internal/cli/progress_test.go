package cli

import (
	"bytes"
	"testing"
	"time"
)

func TestProgressBar(t *testing.T) {
	for _, tc := range []struct {
		done, total float64
		elapsed     time.Duration
		want        string
	}{
		{0, 10, 0, "[>                             ]   0%  0.00 trips/s  --:-- left"},
		{5, 10, 10 * time.Second, "[===============>              ]  50%  0.50 trips/s  0:10 left"},
		{10, 10, 20 * time.Second, "[==============================] 100%  0.50 trips/s  0:00 left"},
		{1, 4000, time.Second, "[>                             ]   0%  1.00 trips/s  1:06:39 left"},
	} {
		if got := bar(tc.done, tc.total, tc.elapsed, "trips"); got != tc.want {
			t.Errorf("bar(%v, %v, %v)\n got %q\nwant %q", tc.done, tc.total, tc.elapsed, got, tc.want)
		}
	}
	// Not a terminal: nothing drawn.
	var w bytes.Buffer
	p := NewProgress(&w, &w, 10, "trips")
	p.Set(3)
	p.Clear()
	if w.Len() != 0 {
		t.Errorf("progress drawn on a non-terminal: %q", w.String())
	}
}

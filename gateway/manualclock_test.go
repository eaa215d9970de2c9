package gateway

import (
	"testing"
	"time"
)

func TestClockTicksInOrder(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewManualClock(start)
	tk := c.NewTicker(100 * time.Millisecond)
	got := make(chan time.Time, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 3; i++ {
			got <- <-tk.C()
		}
	}()
	c.Advance(350 * time.Millisecond)
	<-done
	for i := 1; i <= 3; i++ {
		if at := <-got; !at.Equal(start.Add(time.Duration(i) * 100 * time.Millisecond)) {
			t.Errorf("tick %d at %v", i, at)
		}
	}
	if now := c.Now(); !now.Equal(start.Add(350 * time.Millisecond)) {
		t.Errorf("Now() = %v after Advance", now)
	}
	if c.Tickers() != 1 {
		t.Errorf("Tickers() = %d", c.Tickers())
	}
	tk.Stop()
	c.Advance(time.Second) // a stopped ticker must not block Advance
	if c.Tickers() != 0 {
		t.Errorf("Tickers() = %d after Stop", c.Tickers())
	}
}

func TestStopUnblocksAdvance(t *testing.T) {
	c := NewManualClock(time.Unix(0, 0))
	tk := c.NewTicker(time.Second)
	done := make(chan struct{})
	go func() {
		c.Advance(5 * time.Second) // nobody reads the ticks
		close(done)
	}()
	tk.Stop()
	<-done
}

// Step moves the clock and the tickers' schedules, forward or back,
// without the ticks in between.
func TestClockStep(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewManualClock(start)
	tk := c.NewTicker(100 * time.Millisecond)
	got := make(chan time.Time, 10)
	go func() {
		for range 3 {
			got <- <-tk.C()
		}
	}()
	c.Advance(150 * time.Millisecond) // a tick at +100ms
	year := 365 * 24 * time.Hour
	c.Step(5 * year)
	if n := c.Advance(100 * time.Millisecond); n != 1 {
		t.Fatalf("%d ticks in the period after a step of five years, want 1", n)
	}
	c.Step(-10 * year)
	if n := c.Advance(100 * time.Millisecond); n != 1 {
		t.Fatalf("%d ticks in the period after a step back, want 1", n)
	}
	for i, want := range []time.Time{start.Add(100 * time.Millisecond), start.Add(5*year + 200*time.Millisecond), start.Add(-5*year + 300*time.Millisecond)} {
		if at := <-got; !at.Equal(want) {
			t.Errorf("tick %d at %v, want %v", i, at, want)
		}
	}
	if want := start.Add(-5*year + 350*time.Millisecond); !c.Now().Equal(want) {
		t.Errorf("Now %v, want %v", c.Now(), want)
	}
}

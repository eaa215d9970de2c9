package gatewaytest

import (
	"testing"
	"time"
)

func TestClockTicksInOrder(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewClock(start)
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
	c := NewClock(time.Unix(0, 0))
	tk := c.NewTicker(time.Second)
	done := make(chan struct{})
	go func() {
		c.Advance(5 * time.Second) // nobody reads the ticks
		close(done)
	}()
	tk.Stop()
	<-done
}

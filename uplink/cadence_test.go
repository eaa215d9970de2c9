package uplink_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"quietzone/uplink"
	"quietzone/uplink/uplinktest"
)

// manualClock is the publisher's clock in a test: Now and After, moved by
// advance alone.
type manualClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []manualWaiter
}

type manualWaiter struct {
	at time.Time
	c  chan time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, manualWaiter{at: c.now.Add(d), c: ch})
	return ch
}

// waiting reports how many waits are pending.
func (c *manualClock) waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// advance moves the clock to t and fires the waits due.
func (c *manualClock) advance(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.c <- t
			continue
		}
		keep = append(keep, w)
	}
	c.waiters = keep
}

// The publisher keeps the cadence: at every slot's tick exactly one
// telemetry publish (the oldest batch, or padding when none waits), all
// of one size; between ticks only a backlog goes, at fixed fractions of
// the slot. Before issue 14 every batch left the moment it was queued.
func TestPublisherCadence(t *testing.T) {
	noLeaks(t)
	m := uplinktest.StartMosquitto(t)
	const size = 512
	rule := uplink.CadenceRule{Every: 8 * time.Second, PayloadBytes: size}
	// Three batches waiting: a backlog, as after a time offline.
	q := uplink.NewMemQueue()
	b := newBatcher(t, uplink.BatchRule{MaxRecords: 30, MaxAge: time.Minute})
	for i := range 3 {
		var recs []uplink.Record
		for j := range 10 {
			recs = append(recs, demoRecord(uint64(10*i+j+1)))
		}
		if bt, n := b.Fill(recs, size); n != len(recs) {
			t.Fatalf("%d of 10 records fit", n)
		} else if err := q.Put(bt); err != nil {
			t.Fatal(err)
		}
	}
	const backlog = 3

	p, clk, sub, tick := runCadence(t, m, q, rule)

	sent := func() uint64 { st := p.Stats(); return st.Published + st.Padding + st.Failures }
	sub4 := rule.Every / 4
	var got []uint64
	for i := range 16 {
		waitFor(t, func() bool { return clk.waiting() > 0 }) // the publisher waits for its tick
		before := sent()
		clk.advance(tick.Add(time.Duration(i) * sub4))
		waitFor(t, func() bool { return clk.waiting() > 0 && p.WaitingFor().After(clk.Now()) }) // and waits for the next
		got = append(got, sent()-before)
	}
	// Slot ticks at 0, 4, 8, 12; the backlog (more than one waiting) at
	// the ticks between until one is left.
	want := []uint64{1, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("publishes per tick %v, want %v", got, want)
		}
	}
	if st := p.Stats(); st.Failures != 0 || st.Published != uint64(backlog) || st.Padding != 2 {
		t.Errorf("Stats %+v: want %d batches and 2 paddings, no failure", st, backlog)
	}
	waitFor(t, func() bool { return len(onTopic(sub.messages(), "/telemetry")) == backlog+2 })
	for _, msg := range onTopic(sub.messages(), "/telemetry") {
		if len(msg.payload) != size {
			t.Errorf("a telemetry payload of %d bytes, want %d", len(msg.payload), size)
		}
		if _, err := uplink.DecodeBatch(msg.payload); err != nil {
			t.Errorf("payload: %v", err)
		}
	}
}

// runCadence runs a publisher of q with the cadence rule on a manual
// clock a second before a slot's tick (returned), until the test ends,
// connected (its "online" seen by sub) before it returns.
func runCadence(t *testing.T, m *uplinktest.Mosquitto, q uplink.Queue, rule uplink.CadenceRule) (*uplink.Publisher, *manualClock, *subscriber, time.Time) {
	t.Helper()
	sub := subscribe(t, m.URL(), uplink.Topic(testPseudonym, "#"), nil)
	slot := time.Unix(1_800_000_000, 0).Add(uplink.SlotPhase(testPseudonym, rule.Every)) // a slot begins
	tick := slot.Add(rule.Every / 2)                                                     // its tick: half a slot later
	clk := &manualClock{now: tick.Add(-time.Second)}
	cfg := testConfig(m.URL(), testPseudonym)
	cfg.Now, cfg.After = clk.Now, clk.After
	p, err := uplink.NewPublisher(cfg, q, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	p.SetCadence(rule)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	// Connected before the first tick, so that every tick can publish.
	waitFor(t, func() bool { return len(sub.messages()) > 0 }) // "online"
	return p, clk, sub, tick
}

// waitFor polls cond for up to deliverWait: a bound, never a speed.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(deliverWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestPublisherDrainEnds: a run ends (Drain) with edgeTicks publishes,
// one at each tick, a batch or padding, whatever was queued: how many
// publishes end a run, and how fast, said how much the trip's end queued
// (batches at the quarter ticks until one was left). What does not fit
// stays queued for the next run.
func TestPublisherDrainEnds(t *testing.T) {
	noLeaks(t)
	m := uplinktest.StartMosquitto(t)
	const size = 512
	rule := uplink.CadenceRule{Every: 8 * time.Second, PayloadBytes: size}
	for _, backlog := range []int{0, 1, 2, 3, 6} {
		t.Run(fmt.Sprintf("%d queued", backlog), func(t *testing.T) {
			q := uplink.NewMemQueue()
			b := newBatcher(t, uplink.BatchRule{MaxRecords: 30, MaxAge: time.Minute})
			for i := range backlog {
				bt, _ := b.Fill([]uplink.Record{demoRecord(uint64(i + 1))}, size)
				if err := q.Put(bt); err != nil {
					t.Fatal(err)
				}
			}
			p, clk, sub, _ := runCadence(t, m, q, rule)
			waitFor(t, func() bool { return clk.waiting() > 0 })
			drained := make(chan error, 1)
			go func() { drained <- p.Drain(context.Background()) }()
			waitFor(t, func() bool { return p.EdgeTicks() > 0 })
			for steps := 0; p.EdgeTicks() > 0; steps++ {
				if steps > 20 {
					t.Fatal("the last ticks did not end")
				}
				waitFor(t, func() bool { return clk.waiting() > 0 && p.WaitingFor().After(clk.Now()) })
				clk.advance(p.WaitingFor())
				waitFor(t, func() bool { return clk.waiting() > 0 && p.WaitingFor().After(clk.Now()) }) // handled
			}
			derr := <-drained
			left := max(0, backlog-4)
			if q.Len() != left || (derr == nil) != (left == 0) {
				t.Errorf("%d batches left, Drain: %v; want %d left", q.Len(), derr, left)
			}
			st := p.Stats()
			if st.Published+st.Padding != 4 || st.Failures != 0 {
				t.Errorf("Stats %+v: want 4 publishes (batches and padding), no failure", st)
			}
			waitFor(t, func() bool { return len(onTopic(sub.messages(), "/telemetry")) == 4 })
			for _, msg := range onTopic(sub.messages(), "/telemetry") {
				if len(msg.payload) != size {
					t.Errorf("a telemetry payload of %d bytes, want %d", len(msg.payload), size)
				}
			}
		})
	}
}

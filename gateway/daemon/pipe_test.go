package daemon

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"quietzone/uplink"
)

// stuckQueue is a queue whose Put waits until the test lets it go: a disk
// that stalls.
type stuckQueue struct {
	*uplink.MemQueue
	gate    chan struct{}
	waiting chan struct{} // gets a value when a Put starts waiting
}

func (q *stuckQueue) Put(b uplink.Batch) error {
	select {
	case q.waiting <- struct{}{}:
	default:
	}
	<-q.gate
	return q.MemQueue.Put(b)
}

func pipePolicy() *uplink.Policy {
	return &uplink.Policy{
		TelemetryPeriod: time.Second,
		Signals:         map[string]uplink.Rule{"vehicle.speed": {}},
		Batch:           uplink.BatchRule{MaxRecords: 1, MaxAge: time.Hour},
		NearZones:       uplink.NearZoneRule{TimeQuantum: time.Second},
	}
}

// While the uplink waits for a stalled disk, the decision loop's Offer
// still returns at once; when the pipe is full, snapshots are refused and
// counted, and a refused Drop is carried to the next snapshot accepted.
// When the disk is back, Flush waits until everything accepted is queued.
func TestPipeNeverWaitsForTheDisk(t *testing.T) {
	q := &stuckQueue{MemQueue: uplink.NewMemQueue(), gate: make(chan struct{}), waiting: make(chan struct{}, 1)}
	up, err := uplink.New(pipePolicy(), q, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := newPipe(up, nil, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()

	t0 := time.Unix(1_800_000_000, 0)
	snap := func(i int) uplink.Snapshot {
		return uplink.Snapshot{Time: t0.Add(time.Duration(i) * time.Second), Samples: []uplink.Sample{{Role: "vehicle.speed", Value: float64(i), Class: uplink.ClassVehicle}}}
	}
	// The second snapshot releases the first's record: its Put stalls.
	for i := 0; i < 2; i++ {
		if err := p.Offer(snap(i)); err != nil {
			t.Fatal(err)
		}
	}
	<-q.waiting
	start := time.Now()
	accepted, refused := 2, 0
	for i := 2; i < 3*pipeDepth; i++ {
		s := snap(i)
		s.Hold = i >= 1000        // the last of those the pipe takes are held
		s.Drop = i == 2*pipeDepth // refused: the pipe is full by then
		switch err := p.Offer(s); {
		case err == nil:
			accepted++
		case errors.Is(err, errPipeFull):
			refused++
		default:
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("%d offers took %v with the disk stalled", 3*pipeDepth, d)
	}
	if refused < pipeDepth || p.refused.Load() != uint64(refused) {
		t.Fatalf("%d accepted, %d refused (counted %d) with the disk stalled", accepted, refused, p.refused.Load())
	}
	if !p.dropPending.Load() {
		t.Fatalf("a refused Drop was forgotten (%d accepted, %d refused)", accepted, refused)
	}
	close(q.gate) // the disk is back
	for p.dropPending.Load() {
		if p.Offer(snap(3*pipeDepth)) == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if p.dropPending.Load() {
		t.Error("the Drop was not carried to the next accepted snapshot")
	}
	if err := p.Flush(t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if st := up.Stats(); st.Snapshots != uint64(accepted+1) || st.HeldDropped < uint64(accepted-1000) {
		t.Errorf("the uplink took %d snapshots, %d were accepted; %d held records dropped, want the %d held",
			st.Snapshots, accepted+1, st.HeldDropped, accepted-1000)
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Errorf("Run: %v", err)
	}
	if err := p.Flush(t0); err == nil {
		t.Error("Flush after Run returned: no error")
	}
}

// Alarms go through the pipe like snapshots, without waiting.
func TestPipeAlarm(t *testing.T) {
	q := uplink.NewMemQueue()
	up, err := uplink.New(pipePolicy(), q, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := newPipe(up, nil, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	now := time.Unix(1_800_000_000, 0)
	if err := p.Alarm(uplink.Alarm{Time: now, Type: "camera.disobeyed"}); err != nil {
		t.Fatal(err)
	}
	if err := p.Alarm(uplink.Alarm{Time: now, Type: "Not An Alarm"}); err != nil {
		t.Fatal(err) // refused by the uplink, counted, not by the pipe
	}
	if err := p.Flush(now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if st := up.Stats(); st.Alarms != 1 || q.Len() != 1 || p.failed.Load() != 1 {
		t.Errorf("%d alarms queued, %d batches, %d failed; want 1, 1, 1", st.Alarms, q.Len(), p.failed.Load())
	}
}

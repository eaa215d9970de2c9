package uplink_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"quietzone/uplink"
)

// mark is a batch recognisable by its sequence numbers.
func mark(seq uint64) uplink.Batch {
	return uplink.Batch{FirstSeq: seq, LastSeq: seq, Records: 1, Payload: []byte{byte(seq)}}
}

func next(t *testing.T, q uplink.Queue) uplink.Batch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := q.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return b
}

// queueKinds are the Queue implementations every queue test runs against.
var queueKinds = []struct {
	name string
	open func(t *testing.T) uplink.Queue
}{
	{"mem", func(*testing.T) uplink.Queue { return uplink.NewMemQueue() }},
	{"disk", func(t *testing.T) uplink.Queue { return openDisk(t, t.TempDir(), uplink.DiskOptions{}) }},
	{"disk-encrypted", func(t *testing.T) uplink.Queue {
		return openDisk(t, t.TempDir(), uplink.DiskOptions{Key: testKey})
	}},
	{"disk-sync-interval", func(t *testing.T) uplink.Queue {
		return openDisk(t, t.TempDir(), uplink.DiskOptions{SyncEvery: 5 * time.Millisecond, QuotaBytes: 1 << 20, SegmentBytes: 8 << 10})
	}},
}

func forEachQueue(t *testing.T, test func(t *testing.T, q uplink.Queue)) {
	for _, k := range queueKinds {
		t.Run(k.name, func(t *testing.T) { test(t, k.open(t)) })
	}
}

func TestQueueOrder(t *testing.T) { forEachQueue(t, testQueueOrder) }

func testQueueOrder(t *testing.T, q uplink.Queue) {
	if q.Len() != 0 {
		t.Fatalf("new queue: Len = %d", q.Len())
	}
	for seq := uint64(1); seq <= 5; seq++ {
		if err := q.Put(mark(seq)); err != nil {
			t.Fatal(err)
		}
	}
	if q.Len() != 5 {
		t.Fatalf("Len = %d, want 5", q.Len())
	}
	var ids []uint64
	for seq := uint64(1); seq <= 5; seq++ {
		b := next(t, q)
		if b.FirstSeq != seq {
			t.Fatalf("Next = batch %d, want %d", b.FirstSeq, seq)
		}
		// Until acknowledged, the same batch comes again.
		if again := next(t, q); again.ID != b.ID || again.FirstSeq != seq {
			t.Fatalf("Next again = batch %d (ID %d), want %d (ID %d)", again.FirstSeq, again.ID, seq, b.ID)
		}
		ids = append(ids, b.ID)
		if err := q.Ack(b.ID); err != nil {
			t.Fatalf("Ack(%d): %v", b.ID, err)
		}
		if want := int(5 - seq); q.Len() != want {
			t.Fatalf("after Ack: Len = %d, want %d", q.Len(), want)
		}
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Errorf("IDs %v not increasing", ids)
		}
	}
	if ids[0] == 0 {
		t.Error("an ID is 0")
	}
	// IDs are never reused.
	q.Put(mark(6))
	if b := next(t, q); b.ID <= ids[len(ids)-1] {
		t.Errorf("ID after emptying the queue = %d, want > %d", b.ID, ids[len(ids)-1])
	}
}

func TestQueueAckMustBeOldest(t *testing.T) { forEachQueue(t, testQueueAckMustBeOldest) }

func testQueueAckMustBeOldest(t *testing.T, q uplink.Queue) {
	if err := q.Ack(1); err == nil {
		t.Error("Ack on an empty queue: no error")
	}
	q.Put(mark(1))
	q.Put(mark(2))
	first := next(t, q)
	if err := q.Ack(first.ID + 1); err == nil {
		t.Error("Ack of the second batch: no error")
	}
	if err := q.Ack(first.ID + 100); err == nil {
		t.Error("Ack of an unknown ID: no error")
	}
	if q.Len() != 2 {
		t.Fatalf("after refused Acks: Len = %d, want 2", q.Len())
	}
	if err := q.Ack(first.ID); err != nil {
		t.Fatal(err)
	}
	if err := q.Ack(first.ID); err == nil {
		t.Error("second Ack of the same batch: no error")
	}
	if b := next(t, q); b.FirstSeq != 2 || q.Len() != 1 {
		t.Errorf("after Ack: Next = batch %d, Len %d; want batch 2, Len 1", b.FirstSeq, q.Len())
	}
}

func TestQueueNextWaitsForPut(t *testing.T) { forEachQueue(t, testQueueNextWaitsForPut) }

func testQueueNextWaitsForPut(t *testing.T, q uplink.Queue) {
	got := make(chan uplink.Batch, 1)
	go func() {
		b, err := q.Next(context.Background())
		if err != nil {
			t.Errorf("Next: %v", err)
		}
		got <- b
	}()
	select {
	case b := <-got:
		t.Fatalf("Next returned batch %+v from an empty queue", b)
	case <-time.After(50 * time.Millisecond):
	}
	q.Put(mark(9))
	select {
	case b := <-got:
		if b.FirstSeq != 9 {
			t.Errorf("Next = batch %d, want 9", b.FirstSeq)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next did not return after Put")
	}
}

func TestQueueNextHonoursContext(t *testing.T) { forEachQueue(t, testQueueNextHonoursContext) }

func testQueueNextHonoursContext(t *testing.T, q uplink.Queue) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := q.Next(ctx)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it wait; the result is the same if it has not yet
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Next after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next did not return after its context was cancelled")
	}

	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer dcancel()
	if _, err := q.Next(dctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Next with a deadline = %v, want context.DeadlineExceeded", err)
	}
	// Cancelling a Next loses nothing.
	q.Put(mark(1))
	if b := next(t, q); b.FirstSeq != 1 || q.Len() != 1 {
		t.Errorf("after cancelled Nexts: batch %d, Len %d", b.FirstSeq, q.Len())
	}
}

// One producer and one consumer at once, as in the daemon: every batch
// comes out once acknowledged, in order (run with -race).
func TestQueueConcurrent(t *testing.T) { forEachQueue(t, testQueueConcurrent) }

func testQueueConcurrent(t *testing.T, q uplink.Queue) {
	n := uint64(2000)
	if _, mem := q.(*uplink.MemQueue); !mem {
		n = 300 // each Put waits for an fsync
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for seq := uint64(1); seq <= n; seq++ {
			if err := q.Put(mark(seq)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for seq := uint64(1); seq <= n; seq++ {
		b, err := q.Next(ctx)
		if err != nil {
			t.Fatalf("Next for batch %d: %v", seq, err)
		}
		if b.FirstSeq != seq {
			t.Fatalf("Next = batch %d, want %d", b.FirstSeq, seq)
		}
		if err := q.Ack(b.ID); err != nil {
			t.Fatal(err)
		}
		_ = q.Len()
	}
	wg.Wait()
	if q.Len() != 0 {
		t.Errorf("Len = %d at the end", q.Len())
	}
}

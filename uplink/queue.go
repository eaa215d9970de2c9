package uplink

import (
	"context"
	"fmt"
	"sync"
)

// Queue holds batches until the broker acknowledged them. Put is called by
// the producer; Next and Ack by the one publisher.
type Queue interface {
	// Put appends a batch and assigns its ID.
	Put(b Batch) error
	// Next returns the oldest batch not yet acknowledged, waiting for one.
	// It returns the same batch again until Ack removes it.
	Next(ctx context.Context) (Batch, error)
	// Ack removes the batch with the given ID, which must be the oldest.
	Ack(id uint64) error
	// Len returns the number of batches waiting.
	Len() int
	// NextSeq is the sequence number the vehicle's next record takes: a
	// durable queue goes on from where it stopped, a restart never reuses
	// one.
	NextSeq() uint64
	// Drops counts what the queue dropped by its rules (the quota) and
	// damage it skipped; the publisher reports them on the status topic.
	Drops() Drops
}

var (
	_ Queue = (*MemQueue)(nil)
	_ Queue = (*DiskQueue)(nil)
)

// MemQueue is a Queue in memory. It does not survive a restart; the
// durable on-disk queue replaces it in the daemon.
type MemQueue struct {
	mu      sync.Mutex
	batches []Batch
	nextID  uint64
	ready   chan struct{} // closed and replaced when a batch arrives
}

var _ Queue = (*MemQueue)(nil)

// NewMemQueue returns an empty queue.
func NewMemQueue() *MemQueue {
	return &MemQueue{nextID: 1, ready: make(chan struct{})}
}

// Put implements Queue.
func (q *MemQueue) Put(b Batch) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	b.ID = q.nextID
	q.nextID++
	q.batches = append(q.batches, b)
	close(q.ready)
	q.ready = make(chan struct{})
	return nil
}

// Next implements Queue.
func (q *MemQueue) Next(ctx context.Context) (Batch, error) {
	for {
		q.mu.Lock()
		if len(q.batches) > 0 {
			b := q.batches[0]
			q.mu.Unlock()
			return b, nil
		}
		ready := q.ready
		q.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return Batch{}, ctx.Err()
		}
	}
}

// Ack implements Queue.
func (q *MemQueue) Ack(id uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.batches) == 0 || q.batches[0].ID != id {
		return fmt.Errorf("ack batch %d: not the oldest in the queue", id)
	}
	q.batches[0] = Batch{}
	q.batches = q.batches[1:]
	return nil
}

// Len implements Queue.
func (q *MemQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.batches)
}

// NextSeq is 1: a queue in memory keeps no sequence over a restart (a
// daemon with a broker keeps its queue on disk).
func (q *MemQueue) NextSeq() uint64 { return 1 }

// Drops is zero: a queue in memory drops nothing.
func (q *MemQueue) Drops() Drops { return Drops{} }

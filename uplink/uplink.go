package uplink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Stats count what the uplink did. They hold no values, positions or names.
type Stats struct {
	Snapshots         uint64 // snapshots offered
	Records           uint64 // records accepted into batches
	PositionsSent     uint64
	PositionsWithheld uint64
	SignalsWithheld   uint64 // allowed signals withheld near zones
	SignalsDenied     uint64 // signal values the policy does not allow
	ForbiddenDenied   uint64 // of those, phone and contact values, which never leave
	Batches           uint64 // batches queued
	RawBytes          uint64 // JSON bytes before compression
	CompressedBytes   uint64
}

// Uplink turns snapshots into queued batches under a Policy. Offer and
// Flush are called by one goroutine; Stats may be called from any.
type Uplink struct {
	red *Redactor
	bat *Batcher
	q   Queue
	seq uint64

	mu    sync.Mutex
	stats Stats
}

// New returns an Uplink for a policy, queueing into q. firstSeq is the
// sequence number of the next record (1 for a new vehicle).
func New(p *Policy, q Queue, firstSeq uint64) (*Uplink, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("new uplink: policy: %w", err)
	}
	b, err := NewBatcher(p.Batch)
	if err != nil {
		return nil, fmt.Errorf("new uplink: %w", err)
	}
	return &Uplink{red: NewRedactor(p), bat: b, q: q, seq: max(firstSeq, 1)}, nil
}

// Offer redacts a snapshot and adds the result, if any, to the open batch.
func (u *Uplink) Offer(s Snapshot) error {
	rec, out, ok := u.red.Redact(s)
	u.mu.Lock()
	u.stats.Snapshots++
	if out.PositionWithheld {
		u.stats.PositionsWithheld++
	}
	u.stats.SignalsWithheld += uint64(out.SignalsWithheld)
	u.stats.SignalsDenied += uint64(out.SignalsDenied)
	u.stats.ForbiddenDenied += uint64(out.ForbiddenDenied)
	u.mu.Unlock()
	if ok {
		rec.Seq = u.seq
		u.seq++
		b, full, err := u.bat.Add(rec, s.Time)
		if err != nil {
			return err
		}
		u.mu.Lock()
		u.stats.Records++
		if rec.Pos != nil {
			u.stats.PositionsSent++
		}
		u.mu.Unlock()
		if full {
			if err := u.put(b); err != nil {
				return err
			}
		}
	}
	if b, due := u.bat.Due(s.Time); due {
		return u.put(b)
	}
	return nil
}

// Flush queues the open batch whatever its age (at shutdown).
func (u *Uplink) Flush(time.Time) error {
	if b, ok := u.bat.Close(); ok {
		return u.put(b)
	}
	return nil
}

func (u *Uplink) put(b Batch) error {
	if err := u.q.Put(b); err != nil {
		return fmt.Errorf("queue batch: %w", err)
	}
	u.mu.Lock()
	u.stats.Batches++
	u.stats.RawBytes += uint64(b.RawBytes)
	u.stats.CompressedBytes += uint64(len(b.Payload))
	u.mu.Unlock()
	return nil
}

// Stats returns a copy of the counters.
func (u *Uplink) Stats() Stats {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.stats
}

// Pseudonym derives the vehicle's name on the wire from its VIN and the
// fleet's secret key: HMAC-SHA256, truncated to 80 bits, in base32. The
// fleet can map it back; nobody without the key can.
func Pseudonym(vin string, fleetKey []byte) string {
	m := hmac.New(sha256.New, fleetKey)
	m.Write([]byte(strings.ToUpper(strings.TrimSpace(vin))))
	sum := m.Sum(nil)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:10]))
}

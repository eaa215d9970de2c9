package uplink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Kind says what a batch holds, and so the topic it is published on.
type Kind uint8

// Kinds of batch. The zero Kind is telemetry.
const (
	// KindTelemetry batches hold the records of snapshots.
	KindTelemetry Kind = iota
	// KindAlarm batches hold alarm records.
	KindAlarm
	maxKind = KindAlarm
)

// String returns the kind's topic suffix.
func (k Kind) String() string {
	switch k {
	case KindTelemetry:
		return "telemetry"
	case KindAlarm:
		return "alarm"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Batch is a group of records, compressed, as it is queued and published.
type Batch struct {
	// ID is assigned by the queue.
	ID   uint64
	Kind Kind
	// FirstSeq and LastSeq are the sequence numbers of its first and last record.
	FirstSeq, LastSeq uint64
	Records           int
	// RawBytes is the size of the JSON before compression.
	RawBytes int
	// Payload is a zstd frame holding one JSON record per line (dict.go
	// says which format).
	Payload []byte
}

// Batcher collects records and closes a batch when it is full or old.
type Batcher struct {
	rule    BatchRule
	enc     *zstd.Encoder
	buf     []byte
	n       int
	first   uint64
	last    uint64
	started time.Time
}

// NewBatcher returns a Batcher for rule.
func NewBatcher(rule BatchRule) (*Batcher, error) {
	enc, err := newEncoder()
	if err != nil {
		return nil, fmt.Errorf("new batcher: %w", err)
	}
	return &Batcher{rule: rule, enc: enc}, nil
}

// Add appends rec; it returns a closed batch when rec filled one.
func (b *Batcher) Add(rec Record, now time.Time) (Batch, bool, error) {
	line, err := json.Marshal(rec)
	if err != nil {
		return Batch{}, false, fmt.Errorf("encode record %d: %w", rec.Seq, err)
	}
	if b.n == 0 {
		b.first = rec.Seq
		b.started = now
	}
	b.buf = append(append(b.buf, line...), '\n')
	b.n++
	b.last = rec.Seq
	if b.n >= b.rule.MaxRecords {
		return b.close(), true, nil
	}
	return Batch{}, false, nil
}

// Due returns the open batch when it has waited MaxAge.
func (b *Batcher) Due(now time.Time) (Batch, bool) {
	if b.n == 0 || now.Sub(b.started) < b.rule.MaxAge {
		return Batch{}, false
	}
	return b.close(), true
}

// Close returns the open batch, if any, whatever its age.
func (b *Batcher) Close() (Batch, bool) {
	if b.n == 0 {
		return Batch{}, false
	}
	return b.close(), true
}

func (b *Batcher) close() Batch {
	out := Batch{
		FirstSeq: b.first,
		LastSeq:  b.last,
		Records:  b.n,
		RawBytes: len(b.buf),
		Payload:  b.enc.EncodeAll(b.buf, nil),
	}
	b.buf = b.buf[:0]
	b.n = 0
	return out
}

// Decompress returns the JSON lines of a batch payload.
func Decompress(payload []byte) ([]byte, error) {
	dec, err := newDecoder()
	if err != nil {
		return nil, fmt.Errorf("decompress batch: %w", err)
	}
	defer dec.Close()
	raw, err := dec.DecodeAll(payload, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress batch: %w", err)
	}
	return raw, nil
}

// DecodeBatch decompresses a payload into its records; receivers and tests
// use it.
func DecodeBatch(payload []byte) ([]Record, error) {
	raw, err := Decompress(payload)
	if err != nil {
		return nil, err
	}
	var recs []Record
	d := json.NewDecoder(bytes.NewReader(raw))
	for d.More() {
		var r Record
		if err := d.Decode(&r); err != nil {
			return nil, fmt.Errorf("decode batch record %d: %w", len(recs), err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

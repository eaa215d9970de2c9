package uplink_test

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"quietzone/uplink"
)

// zstdMagic starts every zstd frame (RFC 8878, section 3.1.1).
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

func newBatcher(t testing.TB, rule uplink.BatchRule) *uplink.Batcher {
	t.Helper()
	b, err := uplink.NewBatcher(rule)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// demoRecord is record seq of a drive like the demo's: the speed every
// second, heading and position every fifth.
func demoRecord(seq uint64) uplink.Record {
	i := float64(seq)
	rec := uplink.Record{
		Seq:  seq,
		Time: t0.Unix() + int64(seq),
		Signals: map[string]float64{
			"vehicle.speed":    5 * math.Round((60+20*math.Sin(i/40))/5),
			"vehicle.ignition": 1,
		},
	}
	if seq%5 == 0 {
		rec.Pos = []float64{52.0008983 + 0.0017966*math.Floor(i/50), 10.0029178 + 0.0029178*math.Floor(i/15)}
		rec.Signals["position.heading"] = 45 * math.Round(math.Mod(90+i, 360)/45)
	}
	return rec
}

func TestBatcherRoundTrip(t *testing.T) {
	b := newBatcher(t, uplink.BatchRule{MaxRecords: 30, MaxAge: time.Hour})
	var want []uplink.Record
	var raw bytes.Buffer
	for seq := uint64(101); seq <= 130; seq++ {
		rec := demoRecord(seq)
		if seq == 117 {
			rec.Signals = nil // a position-only record
		}
		want = append(want, rec)
		line, _ := json.Marshal(rec)
		raw.Write(append(line, '\n'))
		batch, full, err := b.Add(rec, t0.Add(time.Duration(seq)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if full != (seq == 130) {
			t.Fatalf("record %d: full = %v", seq, full)
		}
		if !full {
			continue
		}
		if batch.FirstSeq != 101 || batch.LastSeq != 130 || batch.Records != 30 {
			t.Errorf("batch seq %d–%d, %d records; want 101–130, 30", batch.FirstSeq, batch.LastSeq, batch.Records)
		}
		if batch.RawBytes != raw.Len() {
			t.Errorf("RawBytes = %d, want %d, the JSON lines' length", batch.RawBytes, raw.Len())
		}
		if !bytes.HasPrefix(batch.Payload, zstdMagic) {
			t.Errorf("payload starts % x, not a zstd frame", batch.Payload[:min(4, len(batch.Payload))])
		}
		if len(batch.Payload) >= batch.RawBytes {
			t.Errorf("payload %d bytes, not smaller than the %d raw bytes", len(batch.Payload), batch.RawBytes)
		}
		if batch.ID != 0 {
			t.Errorf("ID = %d; the queue assigns it", batch.ID)
		}
		lines, err := uplink.Decompress(batch.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(lines, raw.Bytes()) {
			t.Errorf("Decompress:\n%s\nwant\n%s", lines, raw.Bytes())
		}
		got, err := uplink.DecodeBatch(batch.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("DecodeBatch:\n%+v\nwant\n%+v", got, want)
		}
	}
	if _, ok := b.Close(); ok {
		t.Error("Close after a full batch returned another batch")
	}
}

func TestBatcherMaxRecords(t *testing.T) {
	for _, max := range []int{1, 2, 7, 30} {
		b := newBatcher(t, uplink.BatchRule{MaxRecords: max, MaxAge: time.Hour})
		var batches []uplink.Batch
		const n = 100
		for seq := uint64(1); seq <= n; seq++ {
			batch, full, err := b.Add(demoRecord(seq), t0)
			if err != nil {
				t.Fatal(err)
			}
			if full {
				batches = append(batches, batch)
			}
		}
		if last, ok := b.Close(); ok {
			batches = append(batches, last)
		}
		if want := (n + max - 1) / max; len(batches) != want {
			t.Fatalf("max %d: %d batches, want %d", max, len(batches), want)
		}
		next := uint64(1)
		for i, batch := range batches {
			wantN := min(max, n-i*max)
			if batch.Records != wantN || batch.FirstSeq != next || batch.LastSeq != next+uint64(wantN)-1 {
				t.Errorf("max %d, batch %d: seq %d–%d, %d records; want %d–%d, %d",
					max, i, batch.FirstSeq, batch.LastSeq, batch.Records, next, next+uint64(wantN)-1, wantN)
			}
			recs, err := uplink.DecodeBatch(batch.Payload)
			if err != nil {
				t.Fatal(err)
			}
			for j, r := range recs {
				if r.Seq != next+uint64(j) {
					t.Errorf("max %d, batch %d, record %d: seq %d, want %d", max, i, j, r.Seq, next+uint64(j))
				}
			}
			next += uint64(wantN)
		}
	}
}

func TestBatcherMaxAge(t *testing.T) {
	b := newBatcher(t, uplink.BatchRule{MaxRecords: 1000, MaxAge: 30 * time.Second})
	if _, ok := b.Due(t0.Add(time.Hour)); ok {
		t.Fatal("Due on an empty batcher returned a batch")
	}
	start := t0.Add(5 * time.Second) // the batch's age counts from its first record
	for i := 0; i < 10; i++ {
		if _, full, err := b.Add(demoRecord(uint64(i+1)), start.Add(time.Duration(i)*time.Second)); err != nil || full {
			t.Fatalf("Add: full %v, err %v", full, err)
		}
	}
	if _, ok := b.Due(start.Add(30*time.Second - time.Nanosecond)); ok {
		t.Fatal("Due before MaxAge returned a batch")
	}
	batch, ok := b.Due(start.Add(30 * time.Second))
	if !ok {
		t.Fatal("Due at MaxAge returned no batch")
	}
	if batch.Records != 10 || batch.FirstSeq != 1 || batch.LastSeq != 10 {
		t.Errorf("batch seq %d–%d, %d records; want 1–10, 10", batch.FirstSeq, batch.LastSeq, batch.Records)
	}
	if _, ok := b.Due(start.Add(time.Hour)); ok {
		t.Error("Due right after closing returned another batch")
	}
	// The next batch's age starts with its own first record.
	later := start.Add(time.Minute)
	b.Add(demoRecord(11), later)
	if _, ok := b.Due(later.Add(29 * time.Second)); ok {
		t.Error("the second batch is due 29 s after its first record")
	}
	if batch, ok := b.Due(later.Add(31 * time.Second)); !ok || batch.FirstSeq != 11 || batch.Records != 1 {
		t.Errorf("second batch: %+v, %v; want record 11 alone", batch, ok)
	}
}

func TestBatcherClose(t *testing.T) {
	b := newBatcher(t, uplink.BatchRule{MaxRecords: 30, MaxAge: time.Minute})
	if _, ok := b.Close(); ok {
		t.Fatal("Close on an empty batcher returned a batch")
	}
	for seq := uint64(7); seq < 10; seq++ {
		b.Add(demoRecord(seq), t0)
	}
	batch, ok := b.Close()
	if !ok || batch.FirstSeq != 7 || batch.LastSeq != 9 || batch.Records != 3 {
		t.Fatalf("Close: %+v, %v; want records 7–9", batch, ok)
	}
	recs, err := uplink.DecodeBatch(batch.Payload)
	if err != nil || len(recs) != 3 {
		t.Fatalf("DecodeBatch: %d records, %v", len(recs), err)
	}
	if _, ok := b.Close(); ok {
		t.Error("second Close returned a batch")
	}
	// The batcher goes on after Close.
	b.Add(demoRecord(10), t0)
	if batch, ok := b.Close(); !ok || batch.FirstSeq != 10 || batch.LastSeq != 10 {
		t.Errorf("after Close: %+v, %v; want record 10", batch, ok)
	}
}

// Each batch is a frame of its own: an earlier batch's payload is not
// changed by the batcher reusing its buffer.
func TestBatcherPayloadsIndependent(t *testing.T) {
	b := newBatcher(t, uplink.BatchRule{MaxRecords: 3, MaxAge: time.Minute})
	var batches []uplink.Batch
	for seq := uint64(1); seq <= 12; seq++ {
		if batch, full, _ := b.Add(demoRecord(seq), t0); full {
			batches = append(batches, batch)
		}
	}
	for i, batch := range batches {
		recs, err := uplink.DecodeBatch(batch.Payload)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if len(recs) != 3 || recs[0].Seq != uint64(3*i+1) {
			t.Errorf("batch %d: %d records from seq %d, want 3 from %d", i, len(recs), recs[0].Seq, 3*i+1)
		}
	}
}

func TestBatcherAddRejectsUnencodable(t *testing.T) {
	b := newBatcher(t, uplink.BatchRule{MaxRecords: 2, MaxAge: time.Minute})
	b.Add(demoRecord(1), t0)
	if _, _, err := b.Add(uplink.Record{Seq: 2, Signals: map[string]float64{"x": math.NaN()}}, t0); err == nil {
		t.Fatal("Add of a NaN value: no error")
	}
	// The failed record left the open batch as it was.
	batch, full, err := b.Add(demoRecord(3), t0)
	if err != nil || !full || batch.FirstSeq != 1 || batch.LastSeq != 3 || batch.Records != 2 {
		t.Fatalf("after a failed Add: %+v, full %v, err %v; want records 1 and 3", batch, full, err)
	}
}

func TestDecodeBatchErrors(t *testing.T) {
	if _, err := uplink.DecodeBatch([]byte("not zstd at all")); err == nil {
		t.Error("DecodeBatch of garbage: no error")
	}
	b := newBatcher(t, uplink.BatchRule{MaxRecords: 30, MaxAge: time.Minute})
	for seq := uint64(1); seq <= 5; seq++ {
		b.Add(demoRecord(seq), t0)
	}
	batch, _ := b.Close()
	if _, err := uplink.DecodeBatch(batch.Payload[:len(batch.Payload)/2]); err == nil {
		t.Error("DecodeBatch of a truncated payload: no error")
	}
	// Valid zstd holding something other than JSON records.
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	for _, body := range []string{"{\"seq\":1}\nnot json\n", "[1,2,3]\n", "{\"seq\":\"one\"}\n"} {
		if recs, err := uplink.DecodeBatch(enc.EncodeAll([]byte(body), nil)); err == nil {
			t.Errorf("DecodeBatch of %q = %+v, want an error", body, recs)
		}
	}
	if recs, err := uplink.DecodeBatch(nil); err != nil || len(recs) != 0 {
		t.Errorf("DecodeBatch(nil) = %v, %v; want no records", recs, err)
	}
}

// A receiver decodes payloads from vehicles: one that would expand past
// 64 MiB is refused, not allocated.
func TestDecompressRefusesBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 65 MiB")
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	bomb := enc.EncodeAll(make([]byte, 65<<20), nil)
	if len(bomb) > 1<<20 {
		t.Fatalf("the bomb is %d bytes compressed", len(bomb))
	}
	_, err = uplink.Decompress(bomb)
	if err == nil {
		t.Fatal("Decompress of a frame expanding to 65 MiB: no error")
	}
	t.Logf("Decompress: %v", err)
	if _, err := uplink.DecodeBatch(bomb); err == nil {
		t.Error("DecodeBatch of a frame expanding to 65 MiB: no error")
	}
	// Well under the limit is fine.
	if raw, err := uplink.Decompress(enc.EncodeAll(make([]byte, 1<<20), nil)); err != nil || len(raw) != 1<<20 {
		t.Errorf("Decompress of 1 MiB: %d bytes, %v", len(raw), err)
	}
}

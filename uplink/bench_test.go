package uplink_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"quietzone/uplink"
)

// benchSnapshots is n seconds of the demo drive: what the gateway offers,
// including roles the policy denies and phone data.
func benchSnapshots(n int) []uplink.Snapshot {
	snaps := drive(n, n/3, n/3+n/10)
	for i := range snaps {
		snaps[i].Samples = append(snaps[i].Samples,
			uplink.Sample{Role: "vehicle.rpm", Value: 2100, Class: uplink.ClassVehicle},
			uplink.Sample{Role: "position.speed", Value: 61, Class: uplink.ClassLocation},
			uplink.Sample{Role: "position.fix", Value: 3, Class: uplink.ClassLocation},
			uplink.Sample{Role: "privacy.switch", Value: 0, Class: uplink.ClassPersonal},
			uplink.Sample{Role: "camera.front.trigger", Value: 0, Class: uplink.ClassLocation},
		)
	}
	return snaps
}

func BenchmarkRedact(b *testing.B) {
	snaps := benchSnapshots(3600)
	r := uplink.NewRedactor(demoPolicy())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s := snaps[i%len(snaps)]
		s.Time = t0.Add(time.Duration(i) * time.Second) // always forward
		r.Redact(s)
		i++
	}
}

func BenchmarkBatcherAdd(b *testing.B) {
	bat := newBatcher(b, uplink.BatchRule{MaxRecords: 30, MaxAge: time.Hour})
	recs := make([]uplink.Record, 300)
	for i := range recs {
		recs[i] = demoRecord(uint64(i + 1))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := bat.Add(recs[i%len(recs)], t0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkUplinkOffer is the whole path a snapshot takes before the
// queue: redaction, JSON, and every 30th a zstd frame.
func BenchmarkUplinkOffer(b *testing.B) {
	snaps := benchSnapshots(3600)
	q := uplink.NewMemQueue()
	u, err := uplink.New(demoPolicy(), q, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s := snaps[i%len(snaps)]
		s.Time = t0.Add(time.Duration(i) * time.Second)
		if err := u.Offer(s); err != nil {
			b.Fatal(err)
		}
		for q.Len() > 0 { // keep the queue from growing
			bt, _ := q.Next(b.Context())
			q.Ack(bt.ID)
		}
		i++
	}
}

// demoBatches returns the batches of 20 minutes of the demo drive under the
// demo policy, as the Uplink makes them: per records each, with seq, t,
// speed and ignition every second, and a snapped position and heading
// every fifth.
func demoBatches(b *testing.B, per int) []uplink.Batch {
	b.Helper()
	q := uplink.NewMemQueue()
	p := demoPolicy()
	p.Batch.MaxRecords = per
	u, err := uplink.New(p, q, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range drive(1200, 0, 0) {
		if err := u.Offer(s); err != nil {
			b.Fatal(err)
		}
	}
	var out []uplink.Batch
	for q.Len() > 0 {
		bt, _ := q.Next(b.Context())
		q.Ack(bt.ID)
		if bt.Records != per {
			b.Fatalf("batch of %d records", bt.Records)
		}
		out = append(out, bt)
	}
	return out
}

// BenchmarkCompression compares, on the same realistic batches of 1 to 30
// records, the bytes sent with the Batcher's zstd and its dictionary
// (payload format 1) against zstd without it (format 0), raw JSON lines
// and gzip. ns/op is the time to compress one batch; B/batch the payload
// bytes on the wire; ratio is compressed/raw.
func BenchmarkCompression(b *testing.B) {
	for _, per := range []int{1, 5, 10, 30} {
		batches := demoBatches(b, per)
		raws := make([][]byte, len(batches))
		var rawTotal, dictTotal float64
		for i, bt := range batches {
			raw, err := uplink.Decompress(bt.Payload)
			if err != nil {
				b.Fatal(err)
			}
			raws[i] = raw
			rawTotal += float64(len(raw))
			dictTotal += float64(len(bt.Payload)) // what the Batcher itself sent
		}
		n := float64(len(batches))
		report := func(b *testing.B, total float64) {
			b.ReportMetric(total/n, "B/batch")
			b.ReportMetric(rawTotal/n, "raw-B/batch")
			b.ReportMetric(total/rawTotal, "ratio")
		}
		zstdRun := func(name string, total float64, opts ...zstd.EOption) {
			b.Run(fmt.Sprintf("records=%d/%s", per, name), func(b *testing.B) {
				enc, err := zstd.NewWriter(nil, append([]zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1)}, opts...)...)
				if err != nil {
					b.Fatal(err)
				}
				defer enc.Close()
				if total == 0 {
					for _, raw := range raws {
						total += float64(len(enc.EncodeAll(raw, nil)))
					}
				}
				var dst []byte
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					dst = enc.EncodeAll(raws[i%len(raws)], dst[:0])
					i++
				}
				report(b, total)
			})
		}

		b.Run(fmt.Sprintf("records=%d/raw-json", per), func(b *testing.B) {
			for b.Loop() {
			}
			report(b, rawTotal)
		})
		zstdRun("zstd-dict", dictTotal, zstd.WithEncoderDict(dictionary(b)))
		zstdRun("zstd", 0)
		for _, gz := range []struct {
			name  string
			level int
		}{{"gzip-default", gzip.DefaultCompression}, {"gzip-best", gzip.BestCompression}} {
			b.Run(fmt.Sprintf("records=%d/%s", per, gz.name), func(b *testing.B) {
				var total float64
				var buf bytes.Buffer
				w, _ := gzip.NewWriterLevel(&buf, gz.level)
				for _, raw := range raws {
					buf.Reset()
					w.Reset(&buf)
					w.Write(raw)
					w.Close()
					total += float64(buf.Len())
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					buf.Reset()
					w.Reset(&buf)
					w.Write(raws[i%len(raws)])
					w.Close()
					i++
				}
				report(b, total)
			})
		}
	}
}

func dictionary(b *testing.B) []byte {
	d, err := os.ReadFile("dict-1.zstd")
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkDiskQueuePut puts demo batches of 30 records into a DiskQueue
// on the test's temporary directory (a real file system: set TMPDIR to
// measure another disk). ns/op is per batch; records/s is what the queue
// takes. The publisher acknowledges as it goes, so the queue stays small.
func BenchmarkDiskQueuePut(b *testing.B) {
	batches := demoBatches(b, 30)
	for _, bc := range []struct {
		name string
		o    uplink.DiskOptions
	}{
		{"fsync-every-batch", uplink.DiskOptions{}},
		{"fsync-every-batch-encrypted", uplink.DiskOptions{Key: bytes.Repeat([]byte{1}, uplink.QueueKeyLen)}},
		{"fsync-every-200ms", uplink.DiskOptions{SyncEvery: 200 * time.Millisecond}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q, err := uplink.OpenDiskQueue(b.TempDir(), bc.o)
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := q.Put(batches[i%len(batches)]); err != nil {
					b.Fatal(err)
				}
				if i%100 == 99 {
					for q.Len() > 0 {
						bt, _ := q.Next(b.Context())
						q.Ack(bt.ID)
					}
				}
				i++
			}
			b.ReportMetric(float64(30*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

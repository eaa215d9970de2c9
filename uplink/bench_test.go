package uplink_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
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

// demoRecords returns the records of 20 minutes of the demo drive under
// the demo policy, as the Uplink makes them: seq, t, speed and ignition
// every second, a snapped position and the gear every fifth.
func demoRecords(b *testing.B) []uplink.Record {
	b.Helper()
	q := uplink.NewMemQueue()
	p := demoPolicy()
	p.Cadence.PayloadBytes = uplink.MaxPayloadBytes // every slot's records in its payload
	u, err := uplink.New(p, q, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range drive(1200, 0, 0) {
		if err := u.Offer(s); err != nil {
			b.Fatal(err)
		}
	}
	var out []uplink.Record
	for q.Len() > 0 {
		bt, _ := q.Next(b.Context())
		q.Ack(bt.ID)
		recs, err := uplink.DecodeBatch(bt.Payload)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, recs...)
	}
	return out
}

// demoBatches returns the demo drive's records in batches of per
// records, as the Batcher made them before the cadence (format 1: JSON
// lines, zstd with dictionary 1).
func demoBatches(b *testing.B, per int) []uplink.Batch {
	b.Helper()
	bat := newBatcher(b, uplink.BatchRule{MaxRecords: per, MaxAge: time.Hour})
	var out []uplink.Batch
	for _, r := range demoRecords(b) {
		bt, full, err := bat.Add(r, t0)
		if err != nil {
			b.Fatal(err)
		}
		if full {
			out = append(out, bt)
		}
	}
	return out
}

// BenchmarkCompression compares, on the same realistic batches of 1 to 30
// records, the bytes sent with the Batcher's zstd and its dictionary
// (payload format 1) against zstd without it (format 0), raw JSON lines,
// gzip, and the slots' columns with dictionary 2 (format 3, Fill, less
// its padding). ns/op is the time to compress one batch; B/batch the
// payload bytes on the wire; ratio is compressed/raw JSON lines.
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
		b.Run(fmt.Sprintf("records=%d/columns-dict2", per), func(b *testing.B) {
			bat := newBatcher(b, uplink.BatchRule{MaxRecords: per})
			bat.SetGridM(demoPolicy().Position.PrecisionM)
			slots := make([][]uplink.Record, len(batches))
			var total float64
			for i, bt := range batches {
				recs, err := uplink.DecodeBatch(bt.Payload)
				if err != nil {
					b.Fatal(err)
				}
				slots[i] = recs
				fill, k := bat.Fill(recs, 4096)
				if k != len(recs) {
					b.Fatalf("%d of %d records in 4096 bytes", k, len(recs))
				}
				total += float64(len(fill.Payload) - 8 - int(binary.LittleEndian.Uint32(fill.Payload[4:])))
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				bat.Fill(slots[i%len(slots)], 4096)
				i++
			}
			report(b, total)
		})
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

// BenchmarkBatcherFill is the slot encoder: a slot's worth (30 records of
// the demo drive, positions on the policy's grid, as the Uplink makes
// them) into one padded payload of the default size.
func BenchmarkBatcherFill(b *testing.B) {
	bat := newBatcher(b, uplink.BatchRule{MaxRecords: 30, MaxAge: time.Hour})
	bat.SetGridM(demoPolicy().Position.PrecisionM)
	recs := demoRecords(b)[:600]
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		off := (i * 30) % len(recs)
		if _, n := bat.Fill(recs[off:off+30], uplink.DefaultPayloadBytes); n == 0 {
			b.Fatal("nothing fits")
		}
		i++
	}
}

// BenchmarkVehicleHour drives an hour of the demo drive (a withheld
// stretch of six minutes in it) through the Uplink under the demo policy
// and reports what the broker gets: payload bytes per vehicle-hour (one
// payload of the default size per 30 s slot, padding included: what the
// publisher sends whether or not a slot holds records), and the mean
// delay of a record from its time to its publish (its quantum, its slot,
// and the publisher's half slot). ReleaseBefore is the snapshot's time:
// far from covers; a trailing release (part C) adds its own wait.
func BenchmarkVehicleHour(b *testing.B) {
	snaps := benchSnapshots(3600)
	for i := range snaps {
		snaps[i].ReleaseBefore = snaps[i].Time.Add(time.Second)
	}
	var bytesPerHour, delay float64
	phase := 0
	for b.Loop() {
		q := &putTimes{MemQueue: uplink.NewMemQueue()}
		p := demoPolicy()
		u, err := uplink.New(p, q, 1)
		if err != nil {
			b.Fatal(err)
		}
		u.SetPhase(time.Duration(phase%30) * time.Second) // vehicles' phases are spread over the slot
		phase += 7
		for _, s := range snaps {
			q.now = s.Time
			if err := u.Offer(s); err != nil {
				b.Fatal(err)
			}
		}
		slot := p.Cadence.Slot()
		slots := float64(time.Hour / slot)
		bytesPerHour = slots * float64(p.Cadence.Size())
		var sum, n float64
		for i := 0; q.Len() > 0; i++ {
			bt, _ := q.Next(b.Context())
			q.Ack(bt.ID)
			recs, err := uplink.DecodeBatch(bt.Payload)
			if err != nil {
				b.Fatal(err)
			}
			sent := q.times[i].Add(slot / 2)
			for _, r := range recs {
				sum += sent.Sub(time.Unix(r.Time, 0)).Seconds()
				n++
			}
		}
		delay += sum / n
	}
	delay /= float64(b.N)
	b.ReportMetric(bytesPerHour, "B/vehicle-hour")
	b.ReportMetric(delay, "s-mean-delay")
}

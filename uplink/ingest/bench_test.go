package ingest_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"quietzone/uplink"
	"quietzone/uplink/store"
)

// BenchmarkDecodeBatch: opening and decoding one sealed batch of 30
// records, as the ingest does for every message.
func BenchmarkDecodeBatch(b *testing.B) {
	for _, sealed := range []bool{false, true} {
		b.Run(fmt.Sprintf("sealed=%v", sealed), func(b *testing.B) {
			payloads, topics := loadBatches(b, 64)
			k, err := uplink.GenerateSealKey()
			if err != nil {
				b.Fatal(err)
			}
			if sealed {
				for i := range payloads {
					payloads[i], _ = k.Public().Seal(topics[i], payloads[i])
				}
			}
			o := uplink.NewOpener(k)
			d, err := uplink.NewBatchDecoder(0)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			var recs []uplink.Record
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				j := i % len(payloads)
				plain, _, err := o.Open(topics[j], payloads[j])
				if err != nil {
					b.Fatal(err)
				}
				if recs, err = d.Decode(plain, recs[:0]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*loadPerBatch)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkStoreSQLite: one transaction of 100 batches of 30 records
// into SQLite (fsync per commit).
func BenchmarkStoreSQLite(b *testing.B) {
	db, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "fleet.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	d, _ := uplink.NewBatchDecoder(0)
	defer d.Close()
	payloads, topics := loadBatches(b, 3000)
	b.ReportAllocs()
	n := 0
	for i := 0; b.Loop(); i++ {
		w := &store.Write{Ingest: "bench", Received: time.Now()}
		for j := 0; j < 100; j++ {
			k := (i*100 + j) % len(payloads)
			recs, err := d.Decode(payloads[k], nil)
			if err != nil {
				b.Fatal(err)
			}
			p, _, _ := uplink.SplitTopic(topics[k])
			w.Batches = append(w.Batches, store.Batch{Vehicle: p, Records: recs})
		}
		res, err := db.WriteBatch(context.Background(), w)
		if err != nil {
			b.Fatal(err)
		}
		n += res.Records + res.Repeats
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

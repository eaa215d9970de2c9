package uplink_test

import (
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"quietzone/uplink"
)

// FuzzDecodeBatch: no payload makes DecodeBatch panic or read past its
// 64 MB bound, and a payload it accepts decodes the same way twice. Seeds
// are real batches (format 1, with the dictionary), a format 0 frame and
// torn and damaged ones.
func FuzzDecodeBatch(f *testing.F) {
	b := newBatcher(f, uplink.BatchRule{MaxRecords: 5, MaxAge: time.Hour})
	for seq := uint64(1); seq <= 5; seq++ {
		batch, full, err := b.Add(demoRecord(seq), t0)
		if err != nil {
			f.Fatal(err)
		}
		if full {
			f.Add(batch.Payload)
			f.Add(batch.Payload[:len(batch.Payload)/2])
			damaged := append([]byte(nil), batch.Payload...)
			damaged[len(damaged)-3] ^= 0x40
			f.Add(damaged)
		}
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc.EncodeAll([]byte(`{"seq":1,"t":1767225600,"s":{"vehicle.speed":50}}`+"\n"+`{"seq":2}`), nil))
	f.Add(enc.EncodeAll([]byte(`{"seq":-1,"pos":"here"}`), nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, payload []byte) {
		recs, err := uplink.DecodeBatch(payload)
		if err != nil {
			if recs != nil {
				t.Error("records came back with the error")
			}
			return
		}
		again, err := uplink.DecodeBatch(payload)
		if err != nil || len(again) != len(recs) {
			t.Fatalf("decoded %d records, then %d (%v)", len(recs), len(again), err)
		}
	})
}

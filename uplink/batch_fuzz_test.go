package uplink_test

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"quietzone/uplink"
)

// FuzzDecodeBatch: no payload makes DecodeBatch panic or read past its
// 64 MB bound, and a payload it accepts decodes the same way twice. Seeds
// are real batches (format 1, with the dictionary; a slot of format 3), a
// format 0 frame and torn and damaged ones.
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
	var slot []uplink.Record // format 3
	for seq := uint64(1); seq <= 30; seq++ {
		slot = append(slot, demoRecord(seq))
	}
	if bt, n := b.Fill(slot, uplink.DefaultPayloadBytes); n > 0 {
		f.Add(bt.Payload)
		f.Add(bt.Payload[:len(bt.Payload)-7])
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

// FuzzFill: the slot encoder (payload format 3, or 2 for a position out
// of range) round-trips whatever records the fuzzer makes — any number of
// signals, times, positions and values — into a payload of exactly the
// slot's size (or a whole multiple for a record larger than one), which
// DecodeBatch reads back as the prefix Fill said it took, equal to the
// records as encoding/json would write them but for positions in range,
// which format 3 rounds to the millionth of a degree (0.11 m). Bytes after a padded
// payload's header are garbage-tolerant: a damaged one errors, never
// panics.
func FuzzFill(f *testing.F) {
	f.Add(uint16(512), uint8(30), int64(1780300000), 52.5, 10.25, 61.0, "vehicle.speed", "camera.disobeyed", []byte{1})
	f.Add(uint16(128), uint8(200), int64(-5), -1e-9, 1e22, -0.0, "a", "", []byte{0, 0xff})
	f.Add(uint16(4096), uint8(1), int64(0), 90.0, -180.0, 3.0, "vehicle.speed.x_1", "b.c", []byte{})
	f.Fuzz(func(t *testing.T, size uint16, n uint8, t0 int64, lat, lon, v float64, role, alarm string, damage []byte) {
		sz := max(int(size), uplink.MinPayloadBytes)
		if n == 0 || !uplink.ValidRole(role) || (alarm != "" && !uplink.ValidRole(alarm)) ||
			math.IsNaN(lat+lon+v) || math.IsInf(lat+lon+v, 0) {
			return
		}
		b := newBatcher(t, uplink.BatchRule{MaxRecords: 1, MaxAge: time.Hour})
		var recs []uplink.Record
		for i := range int(n) {
			r := uplink.Record{Seq: uint64(i + 1), Time: t0 + int64(i)}
			if i%3 == 0 {
				r.Pos = []float64{lat, lon}
			}
			if i%2 == 0 {
				r.Signals = map[string]float64{role: v * float64(i), "vehicle.ignition": 1}
			}
			if i%5 == 4 {
				r.Alarm = alarm
			}
			recs = append(recs, r)
		}
		bt, k := b.Fill(recs, sz)
		if k < 1 || k > len(recs) || bt.Records != k || len(bt.Payload)%sz != 0 || (k > 1 && len(bt.Payload) != sz) || !uplink.Padded(bt.Payload) {
			t.Fatalf("Fill took %d of %d into %d bytes (size %d)", k, len(recs), len(bt.Payload), sz)
		}
		got, err := uplink.DecodeBatch(bt.Payload)
		if err != nil || len(got) != k {
			t.Fatalf("decoded %d of %d: %v", len(got), k, err)
		}
		for i := range got {
			// Positions in range (format 3) to the millionth of a
			// degree, the rest exact.
			w, g := recs[i], got[i]
			if (w.Pos == nil) != (g.Pos == nil) {
				t.Fatalf("record %d: position %v, want %v", i, g.Pos, w.Pos)
			}
			for j := range w.Pos {
				if d := math.Abs(g.Pos[j] - w.Pos[j]); !(d <= 0.5e-6+1e-12) {
					t.Fatalf("record %d: position %v, want %v", i, g.Pos, w.Pos)
				}
			}
			w.Pos, g.Pos = nil, nil
			want, _ := json.Marshal(w)
			have, _ := json.Marshal(g)
			if !bytes.Equal(want, have) {
				t.Fatalf("record %d: %s, want %s", i, have, want)
			}
		}
		damaged := bytes.Clone(bt.Payload)
		for i, x := range damage {
			damaged[(i*7919)%len(damaged)] ^= x
		}
		uplink.DecodeBatch(damaged) // must not panic
	})
}

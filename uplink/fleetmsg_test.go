package uplink

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSplitTopic(t *testing.T) {
	for topic, want := range map[string]string{
		"quietzone/v1/abcdefghijklmnop/telemetry":   "abcdefghijklmnop telemetry",
		"quietzone/v1/abcdefghijklmnop/audit":       "abcdefghijklmnop audit",
		"quietzone/v1/abcdefghijklmnop/other":       "",
		"quietzone/v1/ABCDEFGHIJKLMNOP/telemetry":   "",
		"quietzone/v1/abcdefghijklmnop/telemetry/x": "",
		"quietzone/v1/abcdefgh/telemetry":           "",
		"quietzone/v2/abcdefghijklmnop/telemetry":   "",
		"quietzone/v1/+/telemetry":                  "",
	} {
		p, k, ok := SplitTopic(topic)
		got := ""
		if ok {
			got = p + " " + k
		}
		if got != want {
			t.Errorf("%s: %q, want %q", topic, got, want)
		}
	}
}

func TestBatchDecoderRefusesWhatNoVehicleWrites(t *testing.T) {
	d, err := NewBatchDecoder(1 << 10)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	enc, _ := newEncoder(dict1, true)
	for name, raw := range map[string]string{
		"no seq":        `{"t":1}`,
		"bad position":  `{"seq":1,"t":1,"pos":[91,0]}`,
		"short pos":     `{"seq":1,"t":1,"pos":[1]}`,
		"bad signal":    `{"seq":1,"t":1,"s":{"Vehicle.Speed":1}}`,
		"bad alarm":     `{"seq":1,"t":1,"alarm":"Camera!"}`,
		"seq skips":     `{"seq":1,"t":1}` + "\n" + `{"seq":3,"t":1}`,
		"empty":         "\n",
		"not json":      "hello",
		"too large raw": strings.Repeat(`{"seq":1,"t":1}`+"\n", 200),
	} {
		if _, err := d.Decode(enc.EncodeAll([]byte(raw), nil), nil); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	good := enc.EncodeAll([]byte(`{"seq":7,"t":1,"pos":[52,13],"s":{"vehicle.speed":3}}`+"\n"+`{"seq":8,"t":2}`+"\n"), nil)
	recs, err := d.Decode(good, nil)
	if err != nil || len(recs) != 2 || recs[1].Seq != 8 {
		t.Fatalf("good batch: %+v %v", recs, err)
	}
}

func FuzzBatchDecoder(f *testing.F) {
	f.Add(testBatchPayload(f, 1, 3))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd})
	f.Add([]byte("hello"))
	f.Add(PaddingPayload(512))
	b, err := NewBatcher(BatchRule{MaxRecords: 1, MaxAge: time.Second})
	if err != nil {
		f.Fatal(err)
	}
	bt, _ := b.Fill([]Record{{Seq: 4, Time: 1, Signals: map[string]float64{"vehicle.speed": 3}}, {Seq: 5, Alarm: "camera.disobeyed"}}, 256)
	f.Add(bt.Payload)
	d, err := NewBatchDecoder(64 << 10)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		recs, err := d.Decode(payload, nil)
		if err != nil {
			return
		}
		for i, r := range recs {
			if r.Seq == 0 || (i > 0 && r.Seq != recs[i-1].Seq+1) || (r.Pos != nil && len(r.Pos) != 2) {
				t.Fatalf("accepted a record no vehicle writes: %+v", r)
			}
		}
	})
}

func FuzzParseFleetMessages(f *testing.F) {
	good, _ := json.Marshal(AuditSummary{V: 1, Intact: true, Counts: map[string]uint64{"policy.applied": 2},
		Head: "3:" + strings.Repeat("a", 64), Tail: []string{"2:" + strings.Repeat("b", 16), "3:" + strings.Repeat("a", 16)},
		Policy: 4, Refused: &Refusal{Version: 5, Cause: "rollback"}})
	f.Add(good)
	f.Add([]byte(`{"v":1,"dropped_batches":2}`))
	f.Add([]byte(`{"v":1,"tail":["1:x"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if s, err := ParseAuditSummary(data); err == nil {
			if s.V != 1 || len(s.Tail) > maxTail {
				t.Fatalf("accepted %+v", s)
			}
			again, _ := json.Marshal(s)
			if _, err := ParseAuditSummary(again); err != nil {
				t.Fatalf("an accepted summary does not read back: %v", err)
			}
		}
		if s, err := ParseStatusRecord(data); err == nil && s.V != 1 {
			t.Fatalf("accepted %+v", s)
		}
		_, _, _ = SplitTopic(string(bytes.TrimSpace(data)))
	})
}

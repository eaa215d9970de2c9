package uplink_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/klauspost/compress/dict"
	"github.com/klauspost/compress/zstd"

	"quietzone/uplink"
)

// The builder is not deterministic: a rebuild gives another dictionary,
// as good, and payloads that need it. Rebuild only for a new ID.
var updateDict = flag.Bool("update-dict", false, "rebuild uplink/dict-1.zstd from the training drives (changes the payload format: give it a new ID instead)")

// trainingBatches are the raw JSON batches the dictionary is trained on:
// synthetic trips through their own region with their own speeds, under
// several policies, cut into batches of 1 to 60 records. They share
// nothing with the drives the benchmarks measure but the record format.
func trainingBatches(t testing.TB) [][]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(2026, 6))
	policies := []*uplink.Policy{
		{Signals: map[string]uplink.Rule{"vehicle.speed": {MaxRateHz: 1, Quantum: 5}, "vehicle.ignition": {}, "position.heading": {MaxRateHz: 0.2, Quantum: 45}},
			Position: &uplink.PositionRule{MaxRateHz: 0.2, PrecisionM: 200}},
		{Signals: map[string]uplink.Rule{"vehicle.speed": {Quantum: 1}, "vehicle.ignition": {}, "vehicle.odometer": {MaxRateHz: 0.1, Quantum: 1}},
			Position: &uplink.PositionRule{MaxRateHz: 1, PrecisionM: 100}},
		{Signals: map[string]uplink.Rule{"vehicle.speed": {MaxRateHz: 0.5, Quantum: 10}, "vehicle.ignition": {}, "position.speed": {Quantum: 5}},
			Position: &uplink.PositionRule{MaxRateHz: 0.1, PrecisionM: 500}},
	}
	var out [][]byte
	start := time.Date(2025, 3, 3, 6, 0, 0, 0, time.UTC)
	for trip := 0; trip < 60; trip++ {
		p := policies[trip%len(policies)]
		p.TelemetryPeriod = time.Second
		red := uplink.NewRedactor(p)
		lat, lon := 45+10*rng.Float64(), 5+10*rng.Float64()
		heading, speed, odo := 360*rng.Float64(), 0.0, 20000+80000*rng.Float64()
		cruise := []float64{30, 50, 80, 120}[rng.IntN(4)]
		per := []int{1, 5, 10, 30, 30, 60}[rng.IntN(6)]
		now := start.Add(time.Duration(rng.IntN(1e6)) * time.Second)
		var lines []byte
		n := 0
		seq := uint64(rng.IntN(1e6))
		for s := 0; s < 300+rng.IntN(900); s++ {
			speed += math.Max(-3, math.Min(2, (cruise-speed)/10+rng.NormFloat64()))
			speed = math.Max(0, speed)
			heading = math.Mod(heading+rng.NormFloat64()*3+360, 360)
			d := speed / 3.6
			lat += d * math.Cos(heading*math.Pi/180) / 111320
			lon += d * math.Sin(heading*math.Pi/180) / (111320 * math.Cos(lat*math.Pi/180))
			odo += d / 1000
			withhold := s%400 > 340
			rec, _, ok := red.Redact(uplink.Snapshot{
				Time: now, Withhold: withhold, HavePosition: true, Lat: lat, Lon: lon,
				// Dictionary 1 was trained on the records of its time, when
				// heading and odometer could leave: every sample counts as
				// vehicle data here, so that a rebuild sees the same set.
				Samples: []uplink.Sample{
					{Role: "vehicle.speed", Value: speed, Class: uplink.ClassVehicle}, {Role: "vehicle.ignition", Value: 1, Class: uplink.ClassVehicle},
					{Role: "position.heading", Value: heading, Class: uplink.ClassVehicle}, {Role: "vehicle.odometer", Value: odo, Class: uplink.ClassVehicle},
					{Role: "position.speed", Value: speed + rng.NormFloat64(), Class: uplink.ClassVehicle},
				},
			})
			now = now.Add(time.Second)
			if !ok {
				continue
			}
			rec.Seq = seq
			seq++
			line, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(append(lines, line...), '\n')
			if n++; n == per {
				out = append(out, lines)
				lines, n = nil, 0
			}
		}
		if n > 0 {
			out = append(out, lines)
		}
	}
	return out
}

// dictionaryFile checks that the file at path is a zstd dictionary with
// the ID opts names, after rebuilding it from the samples with opts when
// update is set.
func dictionaryFile(t *testing.T, path string, update bool, samples func(testing.TB) [][]byte, opts dict.Options) {
	t.Helper()
	if update {
		d, err := dict.BuildZstdDict(samples(t), opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, d, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s: %d bytes", path, len(d))
	}
	d, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) < 8 || binary.LittleEndian.Uint32(d[:4]) != 0xEC30A437 || binary.LittleEndian.Uint32(d[4:8]) != opts.ZstdDictID {
		t.Fatalf("%s is not a zstd dictionary with ID %#x", path, opts.ZstdDictID)
	}
}

// The dictionary in the binary is format 1's, and it pays on batches it
// was not trained on. With -update-dict, rebuild it from the training
// drives (only ever for a new dictionary ID: receivers know a dictionary
// by its ID).
func TestDictionary(t *testing.T) {
	dictionaryFile(t, "dict-1.zstd", *updateDict, trainingBatches, dict.Options{
		MaxDictSize: 8 << 10, HashBytes: 6, ZstdDictID: uplink.DictID1, ZstdLevel: zstd.SpeedBetterCompression,
	})

	// Every batch names the dictionary in its frame header, and decodes.
	b := newBatcher(t, uplink.BatchRule{MaxRecords: 30, MaxAge: time.Hour})
	var batches []uplink.Batch
	for seq := uint64(1); len(batches) < 20; seq++ {
		if bt, full, err := b.Add(demoRecord(seq), t0); err != nil {
			t.Fatal(err)
		} else if full {
			batches = append(batches, bt)
		}
	}
	var withDict, without int
	plain, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for _, bt := range batches {
		var h zstd.Header
		if err := h.Decode(bt.Payload); err != nil || h.DictionaryID != uplink.DictID1 {
			t.Fatalf("frame header %+v, %v: want dictionary %#x", h, err, uplink.DictID1)
		}
		raw, err := uplink.Decompress(bt.Payload)
		if err != nil {
			t.Fatal(err)
		}
		withDict += len(bt.Payload)
		without += len(plain.EncodeAll(raw, nil))
	}
	if float64(withDict) > 0.85*float64(without) {
		t.Errorf("with the dictionary %d bytes, without %d: it does not pay", withDict, without)
	}
	t.Logf("20 batches of 30 records: %d bytes with the dictionary, %d without", withDict, without)
}

// Format 0 payloads (no dictionary), as vehicles sent before format 1,
// still decode.
func TestDecodeFormat0(t *testing.T) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	line, _ := json.Marshal(demoRecord(7))
	recs, err := uplink.DecodeBatch(enc.EncodeAll(append(line, '\n'), nil))
	if err != nil || len(recs) != 1 || recs[0].Seq != 7 {
		t.Fatalf("format 0: %+v, %v", recs, err)
	}
	// A frame naming a dictionary nobody has fails with a clear error.
	other, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderDictRaw(0x7fff0001, bytes.Repeat(line, 4)))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := uplink.DecodeBatch(other.EncodeAll(line, nil)); err == nil {
		t.Error("a payload with an unknown dictionary decoded")
	}
}

var updateDict2 = flag.Bool("update-dict2", false, "rebuild uplink/dict-2.zstd from the training drives (changes payload format 3: give it a new ID instead)")

// trainingSlots are the format 3 objects dictionary 2 is trained on:
// synthetic trips through their own region with their own speeds, under
// several policies of vehicle data, with withheld stretches (one merged
// record each), the odd alarm, cut into slots of 1 to 80 records as Fill
// would. They share nothing with the drives the benchmarks measure but
// the format.
func trainingSlots(t testing.TB) [][]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(2026, 14))
	policies := []*uplink.Policy{
		{Signals: map[string]uplink.Rule{"vehicle.speed": {MaxRateHz: 1, Quantum: 5}, "vehicle.ignition": {}},
			Position: &uplink.PositionRule{MaxRateHz: 0.2, PrecisionM: 200}},
		{Signals: map[string]uplink.Rule{"vehicle.speed": {Quantum: 1}, "vehicle.ignition": {}, "vehicle.gear": {MaxRateHz: 0.2}},
			Position: &uplink.PositionRule{MaxRateHz: 1, PrecisionM: 100}},
		{Signals: map[string]uplink.Rule{"vehicle.speed": {MaxRateHz: 0.5, Quantum: 10}, "vehicle.ignition": {}, "vehicle.rpm": {MaxRateHz: 0.1, Quantum: 100}},
			Position: &uplink.PositionRule{MaxRateHz: 0.1, PrecisionM: 500}},
		{Signals: map[string]uplink.Rule{"vehicle.speed": {MaxRateHz: 1, Quantum: 5}, "vehicle.ignition": {}},
			Position: &uplink.PositionRule{MaxRateHz: 0.2, PrecisionM: 1000}},
	}
	var out [][]byte
	var names []string
	start := time.Date(2025, 9, 1, 6, 0, 0, 0, time.UTC)
	for trip := 0; trip < 80; trip++ {
		p := policies[trip%len(policies)]
		p.TelemetryPeriod = time.Second
		red := uplink.NewRedactor(p)
		lat, lon := -40+100*rng.Float64(), -120+240*rng.Float64()
		heading, speed := 360*rng.Float64(), 0.0
		cruise := []float64{30, 50, 80, 120}[rng.IntN(4)]
		now := start.Add(time.Duration(rng.IntN(1e7)) * time.Second)
		seq := uint64(1 + rng.IntN(1e6))
		var recs []uplink.Record
		var held *uplink.Record
		for s := 0; s < 300+rng.IntN(1500); s++ {
			speed += math.Max(-3, math.Min(2, (cruise-speed)/10+rng.NormFloat64()))
			speed = math.Max(0, speed)
			heading = math.Mod(heading+rng.NormFloat64()*3+360, 360)
			d := speed / 3.6
			lat += d * math.Cos(heading*math.Pi/180) / 111320
			lon += d * math.Sin(heading*math.Pi/180) / (111320 * math.Cos(lat*math.Pi/180))
			withhold := s%500 > 380
			rec, _, ok := red.Redact(uplink.Snapshot{
				Time: now, Withhold: withhold, HavePosition: true, Lat: lat, Lon: lon,
				Samples: []uplink.Sample{
					{Role: "vehicle.speed", Value: speed, Class: uplink.ClassVehicle}, {Role: "vehicle.ignition", Value: 1, Class: uplink.ClassVehicle},
					{Role: "vehicle.gear", Value: float64(1 + int(speed/25)), Class: uplink.ClassVehicle},
					{Role: "vehicle.rpm", Value: 800 + 30*speed, Class: uplink.ClassVehicle},
				},
			})
			now = now.Add(time.Second)
			switch {
			case !ok:
			case withhold: // the stretch's one merged record: what a parked car says
				held = &uplink.Record{Time: now.Unix() / 30 * 30, Signals: map[string]float64{"vehicle.ignition": 1}}
			default:
				if held != nil {
					recs = append(recs, *held)
					held = nil
				}
				recs = append(recs, rec)
			}
			if rng.IntN(2000) == 0 {
				recs = append(recs, uplink.Record{Time: now.Unix() / 1800 * 1800, Alarm: "camera.disobeyed", Signals: map[string]float64{"camera.index": float64(rng.IntN(3))}})
			}
		}
		for i := range recs {
			recs[i].Seq = seq + uint64(i)
		}
		for len(recs) > 0 {
			n := min(len(recs), []int{1, 5, 15, 30, 30, 30, 45, 60, 80}[rng.IntN(9)])
			var obj []byte
			obj, names = uplink.AppendColumns(nil, recs[:n], p.Position.PrecisionM, names)
			out = append(out, obj)
			recs = recs[n:]
		}
	}
	return out
}

// Dictionary 2 is format 3's, and it pays on slots it was not trained
// on. With -update-dict2, rebuild it from the training drives (only ever
// for a new dictionary ID).
func TestDictionary2(t *testing.T) {
	dictionaryFile(t, "dict-2.zstd", *updateDict2, trainingSlots, dict.Options{
		MaxDictSize: 4 << 10, HashBytes: 8, ZstdDictID: uplink.DictID2, ZstdLevel: zstd.SpeedBetterCompression,
	})
	// Every slot names the dictionary in its frame header (after the
	// padding), and decodes.
	b := newBatcher(t, uplink.BatchRule{MaxRecords: 30, MaxAge: time.Hour})
	plain, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	var withDict, without int
	for s := range 20 {
		recs := make([]uplink.Record, 30)
		for i := range recs {
			recs[i] = demoRecord(uint64(30*s + i + 1))
		}
		bt, n := b.Fill(recs, 4096)
		if n != 30 {
			t.Fatalf("%d of 30 records in 4096 bytes", n)
		}
		frame := bt.Payload[8+binary.LittleEndian.Uint32(bt.Payload[4:]):]
		var h zstd.Header
		if err := h.Decode(frame); err != nil || h.DictionaryID != uplink.DictID2 {
			t.Fatalf("frame header %+v, %v: want dictionary %#x", h, err, uplink.DictID2)
		}
		raw, err := uplink.Decompress(bt.Payload)
		if err != nil {
			t.Fatal(err)
		}
		withDict += len(frame)
		without += len(plain.EncodeAll(raw, nil))
	}
	if float64(withDict) > 0.85*float64(without) {
		t.Errorf("with the dictionary %d bytes, without %d: it does not pay", withDict, without)
	}
	t.Logf("20 slots of 30 records: %d bytes with the dictionary, %d without", withDict, without)
}

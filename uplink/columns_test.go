package uplink

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// sameRecords reports where got differs from want: everything exact but
// positions, which format 3 carries to the millionth of a degree.
func sameRecords(got, want []Record) string {
	if len(got) != len(want) {
		return "count"
	}
	for i := range want {
		g, w := got[i], want[i]
		if (g.Pos == nil) != (w.Pos == nil) {
			return "position presence"
		}
		for j := range w.Pos {
			if math.Abs(g.Pos[j]-w.Pos[j]) > 0.5/microDegree+1e-12 {
				return "position"
			}
		}
		g.Pos, w.Pos = nil, nil
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		if !bytes.Equal(gj, wj) {
			return string(gj) + " want " + string(wj)
		}
	}
	return ""
}

// Format 3 gives back the records, positions to within a millionth of a
// degree (0.11 m): a snapped position stays on its grid point.
func TestColumnsRoundTrip(t *testing.T) {
	speed := func(v float64) map[string]float64 {
		return map[string]float64{"vehicle.speed": v, "vehicle.ignition": 1}
	}
	for _, tc := range []struct {
		name string
		recs []Record
	}{
		{"one record", []Record{{Seq: 1, Time: 5}}},
		{"a slot", []Record{
			{Seq: 41, Time: 1800000000, Signals: speed(55)},
			{Seq: 42, Time: 1800000001, Pos: []float64{51.94394538268056, 10.142634628411315}, Signals: speed(60)},
			{Seq: 43, Time: 1800000002, Signals: map[string]float64{"vehicle.ignition": 1}},
			{Seq: 44, Time: 1800000030, Pos: []float64{51.94574200000001, 10.139716}, Signals: speed(0.5)},
		}},
		{"alarms, times going back, no signals", []Record{
			{Seq: 7, Time: 1800000000, Signals: speed(5)},
			{Seq: 8, Time: 1799998200, Alarm: "camera.disobeyed", Signals: map[string]float64{"camera.index": 2}},
			{Seq: 9, Time: 1800000001},
			{Seq: 10, Time: 1800000002, Pos: []float64{0, 0}},
		}},
		{"extremes", []Record{
			{Seq: math.MaxUint64 - 1, Time: math.MaxInt64, Pos: []float64{90, 180}, Signals: map[string]float64{"x": -0.0, "y": 1e300, "z": -1e-300}},
			{Seq: math.MaxUint64, Time: math.MinInt64, Pos: []float64{-90, -180}, Signals: map[string]float64{"x": 3}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj, _ := appendColumns(nil, tc.recs, 0, nil)
			got, err := decodeColumns(obj, nil)
			if err != nil {
				t.Fatalf("%s: %v", obj, err)
			}
			if d := sameRecords(got, tc.recs); d != "" {
				t.Fatalf("%s\ndecoded %+v\nwant %+v: %s", obj, got, tc.recs, d)
			}
		})
	}
}

// The decoder holds a format 3 object to its shape, whatever the
// payload: no record it could not have been given, no panic.
func TestDecodeColumnsRefuses(t *testing.T) {
	for name, obj := range map[string]string{
		"not json":           `hello`,
		"no n":               `{"seq":1,"t":1}`,
		"n without dt":       `{"n":2,"seq":1,"t":1}`,
		"dt too long":        `{"n":1,"seq":1,"t":1,"dt":[1]}`,
		"seq 0":              `{"n":1,"seq":0,"t":1}`,
		"seq overflows":      `{"n":2,"seq":18446744073709551615,"t":1,"dt":[1]}`,
		"unknown key":        `{"n":1,"seq":1,"t":1,"speed":3}`,
		"two objects":        `{"n":1,"seq":1,"t":1}{"n":1,"seq":2,"t":1}`,
		"pos not triples":    `{"n":1,"seq":1,"t":1,"pos":[0,1]}`,
		"pos index past n":   `{"n":2,"seq":1,"t":1,"dt":[1],"pos":[2,1,1]}`,
		"pos index repeats":  `{"n":2,"seq":1,"t":1,"dt":[1],"pos":[0,1,1,0,1,1]}`,
		"pos index negative": `{"n":2,"seq":1,"t":1,"dt":[1],"pos":[-1,1,1]}`,
		"latitude past 90":   `{"n":1,"seq":1,"t":1,"pos":[0,90000001,0]}`,
		"longitude summed":   `{"n":2,"seq":1,"t":1,"dt":[1],"pos":[0,0,180000000,1,0,1]}`,
		"huge delta":         `{"n":2,"seq":1,"t":1,"dt":[1],"pos":[0,0,0,1,9223372036854775807,0]}`,
		"short column":       `{"n":2,"seq":1,"t":1,"dt":[1],"s":{"vehicle.speed":[1]}}`,
		"string value":       `{"n":1,"seq":1,"t":1,"s":{"vehicle.speed":["1"]}}`,
		"value out of range": `{"n":1,"seq":1,"t":1,"s":{"vehicle.speed":[1e999]}}`,
		"null column":        `{"n":1,"seq":1,"t":1,"s":{"vehicle.speed":null}}`,
		"short alarms":       `{"n":2,"seq":1,"t":1,"dt":[1],"alarm":["x"]}`,
		"too many records":   `{"n":16385,"seq":1,"t":1,"dt":[` + strings.Repeat("0,", 16383) + `0]}`,
	} {
		if recs, err := decodeColumns([]byte(obj), nil); err == nil {
			t.Errorf("%s: decoded %+v", name, recs)
		}
	}
}

// The fleet's decoder reads format 3 as it reads the others: the same
// checks of what a record may hold.
func TestBatchDecoderFormat3(t *testing.T) {
	d, err := NewBatchDecoder(0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b, err := NewBatcher(BatchRule{MaxRecords: 1})
	if err != nil {
		t.Fatal(err)
	}
	recs := []Record{
		{Seq: 5, Time: 10, Pos: []float64{52.5, 13.25}, Signals: map[string]float64{"vehicle.speed": 50}},
		{Seq: 6, Time: 11, Alarm: "camera.disobeyed"},
	}
	bt, n := b.Fill(recs, 256)
	if n != 2 || payloadDict(bt.Payload) != DictID2 || !Padded(bt.Payload) {
		t.Fatalf("Fill: %d records, dictionary %#x, padded %v", n, payloadDict(bt.Payload), Padded(bt.Payload))
	}
	got, err := d.Decode(bt.Payload, []Record{{Seq: 1}})
	if err != nil || len(got) != 3 || sameRecords(got[1:], recs) != "" {
		t.Fatalf("Decode: %+v, %v", got, err)
	}
	enc, err := newEncoder(dict2, false)
	if err != nil {
		t.Fatal(err)
	}
	for name, obj := range map[string]string{
		"bad signal": `{"n":1,"seq":1,"t":1,"s":{"Vehicle.Speed":[1]}}`,
		"bad alarm":  `{"n":1,"seq":1,"t":1,"alarm":["Camera!"]}`,
		"lines":      `{"seq":1,"t":1}`,
	} {
		if recs, err := d.Decode(enc.EncodeAll([]byte(obj), nil), nil); err == nil {
			t.Errorf("%s: decoded %+v", name, recs)
		}
	}
}

// Fill puts consecutive records in one payload: a sequence number that
// does not follow starts the next. A position format 3 cannot carry
// (none the Redactor makes) goes in format 2, exact.
func TestFillCutsAndFallsBack(t *testing.T) {
	b, err := NewBatcher(BatchRule{MaxRecords: 1})
	if err != nil {
		t.Fatal(err)
	}
	recs := []Record{{Seq: 1, Time: 1}, {Seq: 2, Time: 2}, {Seq: 4, Time: 3}}
	if bt, n := b.Fill(recs, 256); n != 2 || bt.LastSeq != 2 {
		t.Errorf("Fill across a seq gap: %d records to %d, want 2", n, bt.LastSeq)
	}
	odd := []Record{{Seq: 1, Time: 1}, {Seq: 2, Time: 2, Pos: []float64{1e22, 5}}, {Seq: 3, Time: 3}}
	bt, n := b.Fill(odd, 256)
	if n != 1 || payloadDict(bt.Payload) != DictID2 {
		t.Fatalf("Fill before an odd position: %d records, dictionary %#x; want 1 in format 3", n, payloadDict(bt.Payload))
	}
	bt, n = b.Fill(odd[1:], 256)
	if n != 2 || payloadDict(bt.Payload) != DictID1 || binaryMagic(bt.Payload) != padMagic2 || len(bt.Payload) != 256 {
		t.Fatalf("Fill from an odd position: %d records, dictionary %#x, magic %#x, %d bytes; want 2 in format 2",
			n, payloadDict(bt.Payload), binaryMagic(bt.Payload), len(bt.Payload))
	}
	got, err := DecodeBatch(bt.Payload)
	if err != nil || len(got) != 2 || got[0].Pos[0] != 1e22 {
		t.Errorf("format 2 fallback: %+v, %v", got, err)
	}
}

func binaryMagic(p []byte) uint32 {
	return uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | uint32(p[3])<<24
}

// FuzzDecodeColumns: no object makes the format 3 decoder panic or give
// back records out of its bounds, and what it accepts encodes again to
// the same records.
func FuzzDecodeColumns(f *testing.F) {
	recs := []Record{
		{Seq: 41, Time: 1800000000, Signals: map[string]float64{"vehicle.speed": 55, "vehicle.ignition": 1}},
		{Seq: 42, Time: 1800000001, Pos: []float64{51.943945, 10.142635}, Signals: map[string]float64{"vehicle.ignition": 1}},
		{Seq: 43, Time: 1799998200, Alarm: "camera.disobeyed"},
	}
	obj, _ := appendColumns(nil, recs, 0, nil)
	f.Add(obj)
	f.Add([]byte(`{"n":2,"seq":1,"t":1,"dt":[1],"pos":[0,0,180000000,1,0,-360000000]}`))
	f.Add([]byte(`{"n":1,"seq":1,"t":1,"s":{"a":[null]},"alarm":[""]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, obj []byte) {
		got, err := decodeColumns(obj, nil)
		if err != nil {
			if len(got) != 0 {
				t.Fatal("records came back with the error")
			}
			return
		}
		if len(got) == 0 || len(got) > maxColumnsRecords {
			t.Fatalf("%d records accepted", len(got))
		}
		for i, r := range got {
			if r.Seq == 0 || (i > 0 && r.Seq != got[i-1].Seq+1) {
				t.Fatalf("record %d: seq %d", i, r.Seq)
			}
			if r.Pos != nil && (len(r.Pos) != 2 || !columnsEncodable(&r)) {
				t.Fatalf("record %d: position %v", i, r.Pos)
			}
		}
		again, _ := appendColumns(nil, got, 0, nil)
		back, err := decodeColumns(again, nil)
		if err != nil {
			t.Fatalf("%s encodes again to %s, which does not decode: %v", obj, again, err)
		}
		if d := sameRecords(back, got); d != "" {
			t.Fatalf("%s: encoded again and decoded: %s", obj, d)
		}
	})
}

// Every point the Redactor's snap makes away from the poles and the
// antimeridian is a grid point format 3 writes as indices and reads back
// to the very same float64s.
func TestGridMatchesSnap(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 3))
	for _, grid := range []float64{1, 7.5, 50, 100, 200, 333.3, 1000, 5000} {
		for range 2000 {
			lat, lon := snap(-85+170*rng.Float64(), -179+358*rng.Float64(), grid)
			i, j, ok := gridIndex(grid, lat, lon)
			if !ok {
				t.Fatalf("grid %v: (%v, %v) is not a grid point", grid, lat, lon)
			}
			if la, lo := gridPoint(grid, i, j); la != lat || lo != lon {
				t.Fatalf("grid %v: (%v, %v) back as (%v, %v)", grid, lat, lon, la, lo)
			}
		}
	}
	if _, _, ok := gridIndex(200, 52.0000001, 10); ok {
		t.Error("a point off the grid taken for a grid point")
	}
}

// With the policy's grid, positions leave as grid indices and decode to
// exactly what was snapped; a position of another grid (a policy changed
// with records waiting) makes the payload fall back to millionths.
func TestColumnsGrid(t *testing.T) {
	var recs []Record
	for k := range 30 {
		r := Record{Seq: uint64(100 + k), Time: int64(1800000000 + k), Signals: map[string]float64{"vehicle.speed": 50}}
		if k%5 == 4 {
			lat, lon := snap(51.9+float64(k)*1e-3, 10.1+float64(k)*1.3e-3, 200)
			r.Pos = []float64{lat, lon}
		}
		recs = append(recs, r)
	}
	obj, _ := appendColumns(nil, recs, 200, nil)
	if !bytes.Contains(obj, []byte(`"grid":200`)) {
		t.Fatalf("no grid in %s", obj)
	}
	got, err := decodeColumns(obj, nil)
	if err != nil || !reflect.DeepEqual(got, recs) {
		t.Fatalf("%s\ndecoded %+v, %v\nwant %+v", obj, got, err, recs)
	}
	micro, _ := appendColumns(nil, recs, 0, nil)
	if len(obj) >= len(micro) {
		t.Errorf("grid indices %d bytes, millionths %d", len(obj), len(micro))
	}
	lat, lon := snap(52.3, 10.4, 70)
	recs[12].Pos = []float64{lat, lon}
	obj, _ = appendColumns(nil, recs, 200, nil)
	got, err = decodeColumns(obj, nil)
	if bytes.Contains(obj, []byte(`"grid"`)) || err != nil || sameRecords(got, recs) != "" {
		t.Fatalf("another grid's point: %s\n%+v, %v", obj, got, err)
	}
}

// FuzzColumnsGrid: a snapped position, whatever the point and the grid,
// comes back from format 3 exactly when the object names the grid, and to
// the millionth of a degree when it does not.
func FuzzColumnsGrid(f *testing.F) {
	f.Add(51.94394538268056, 10.142634628411315, 200.0)
	f.Add(89.99, 179.999, 1.0)
	f.Add(-0.0001, -180.0, 5000.0)
	f.Fuzz(func(t *testing.T, lat, lon, grid float64) {
		if !(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180 && grid >= 1 && grid <= 1e5) {
			return
		}
		sLat, sLon := snap(lat, lon, grid)
		recs := []Record{{Seq: 1, Time: 1, Pos: []float64{sLat, sLon}}, {Seq: 2, Time: 2, Pos: []float64{sLat, sLon}}}
		obj, _ := appendColumns(nil, recs, grid, nil)
		got, err := decodeColumns(obj, nil)
		if err != nil {
			t.Fatalf("%s: %v", obj, err)
		}
		if bytes.Contains(obj, []byte(`"grid"`)) {
			if !reflect.DeepEqual(got, recs) {
				t.Fatalf("%s: %v, want %v", obj, got[0].Pos, recs[0].Pos)
			}
		} else if d := sameRecords(got, recs); d != "" {
			t.Fatalf("%s: %s", obj, d)
		}
	})
}
